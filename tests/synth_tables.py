"""Synthetic canonical tables that pass validation: for the warehouse tests and ``bench/validate.py``.

Test data, not shipped with the ``warehouse`` package: tests import it as ``synth_tables`` (``tests/`` is on
``sys.path`` under pytest) and ``bench/validate.py`` puts ``tests/`` on ``sys.path`` itself.

Not a sample district (that is :mod:`gridhub.sample`, which goes through the whole pipeline): these are the
*output* tables of a resolve run, built directly and vectorised (numpy / Arrow), so a million-person table
takes seconds. Every ID number carries a correct GB 11643 check digit, every credit code a correct GB 32100
check character, every reference resolves, every grid code has the configured width. Free-text columns carry
what real ones do: 繁体 and full-width characters, raw ID numbers and phones in quarantined rows, ID numbers
used as a department's record ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.checkchars import (
    CREDIT_CHARSET_BYTES,
    CREDIT_VALUE,
    credit_code_check_chars,
    resident_id_check_chars,
)
from warehouse.schema import TABLES, arrow_schema, street_codes

DISTRICT = "440106"  # 广州市天河区


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return rng.integers(0, 10, size=(n, width), dtype=np.uint8) + 48


def _strings(matrix: np.ndarray) -> pa.Array:
    """(n, w) uint8 matrix → Arrow string array of n fixed-width ASCII strings, without a Python loop."""
    n, w = matrix.shape
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * w).tobytes())
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(np.ascontiguousarray(matrix).tobytes()))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _numbered(prefix: str, n: int, width: int, start: int = 0) -> pa.Array:
    nums = pa.array(np.arange(start, start + n, dtype=np.int64)).cast(pa.string())
    return _join(prefix, pc.utf8_lpad(nums, width, "0"))


def resident_ids(rng: np.random.Generator, n: int, area: str = DISTRICT) -> pa.Array:
    """``n`` distinct valid 18-character resident IDs: area + birth date 1940–2014 + sequence + check char.

    (birth day, sequence) pairs are spread over the 27 million possible ones by a multiplicative step
    coprime with their count, so the numbers never repeat (up to 27 million of them).
    """
    total_days = 75 * 365
    total = total_days * 1000
    if n > total:
        raise ValueError(f"at most {total} distinct resident IDs per area")
    pairs = (np.arange(n, dtype=np.int64) * 7919 + int(rng.integers(0, total))) % total
    days, seq = np.divmod(pairs, 1000)
    m = np.empty((n, 18), dtype=np.uint8)
    m[:, :6] = np.frombuffer(area.encode(), dtype=np.uint8)
    births = (np.datetime64("1940-01-01") + days.astype("timedelta64[D]")).astype("datetime64[D]")
    ymd = births.astype(str).astype("S10").view(np.uint8).reshape(n, 10) if n else np.zeros((0, 10), np.uint8)
    m[:, 6:10] = ymd[:, 0:4]
    m[:, 10:12] = ymd[:, 5:7]
    m[:, 12:14] = ymd[:, 8:10]
    m[:, 14] = seq // 100 + 48
    m[:, 15] = seq // 10 % 10 + 48
    m[:, 16] = seq % 10 + 48
    m[:, 17] = resident_id_check_chars(m)
    return _strings(m)


def credit_codes(rng: np.random.Generator, n: int, area: str = DISTRICT) -> pa.Array:
    """``n`` valid unified social credit codes of enterprises (``91``) registered in ``area``."""
    m = np.empty((n, 18), dtype=np.uint8)
    m[:, 0:2] = np.frombuffer(b"91", dtype=np.uint8)
    m[:, 2:8] = np.frombuffer(area.encode(), dtype=np.uint8)
    m[:, 8:17] = CREDIT_CHARSET_BYTES[rng.integers(0, len(CREDIT_CHARSET_BYTES), size=(n, 9))]
    m[:, 17] = credit_code_check_chars(CREDIT_VALUE[m[:, :17]])
    return _strings(m)


def mobiles(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` 11-digit mainland mobile numbers (1[3-9]xxxxxxxxx)."""
    m = _digits(rng, n, 11)
    m[:, 0] = ord("1")
    m[:, 1] = rng.integers(ord("3"), ord("9") + 1, size=n)
    return _strings(m)


def _pick(rng: np.random.Generator, values: pa.Array, n: int, null_share: float = 0.0) -> pa.Array:
    idx = rng.integers(0, len(values), size=n)
    out = pc.take(values, pa.array(idx))
    if null_share:
        return pc.if_else(pa.array(rng.random(n) < null_share), pa.scalar(None, out.type), out)
    return out


def _choice(rng: np.random.Generator, options: tuple[str, ...] | list[str], n: int) -> pa.Array:
    return pc.take(pa.array(list(options), pa.string()), pa.array(rng.integers(0, len(options), size=n)))


def _list_of(value: str, n: int) -> pa.Array:
    return (
        pa.array([[value]] * n, pa.list_(pa.string()))
        if n < 1000
        else pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32)), pa.array([value] * n, pa.string())
        )
    )


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = arrow_schema(name)
    n = len(next(iter(columns.values())))
    arrays = [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class _Arrays:
    """What one synthetic warehouse is built around: its sizes, and the arrays several tables share."""

    persons: int
    n_grid: int
    n_addr: int
    n_org: int
    n_fac: int
    grid_code_width: int
    division: str = DISTRICT + "001001"
    grid_codes: pa.Array | None = None
    address_code: pa.Array | None = None
    addr_grid: pa.Array | None = None
    addr_street: pa.Array | None = None
    standard_text: pa.Array | None = None
    house_id: pa.Array | None = None
    org_id: pa.Array | None = None
    org_addr: pa.Array | None = None
    org_credit: pa.Array | None = None
    person_id: pa.Array | None = None
    id_number: pa.Array | None = None
    residence_idx: np.ndarray | None = None
    employer: pa.Array | None = None


def _grid(a: _Arrays) -> pa.Table:
    """Grids: district 6 + street/community digits + sequence; micro grids add 3 digits to their parent."""
    n_grid, n_micro = a.n_grid, a.n_grid * 2
    street_width = a.grid_code_width - len(DISTRICT)  # street 3 + community 3 + sequence (width - 12)
    basic = _join(DISTRICT, _numbered("", n_grid, street_width, start=1001))
    parent_idx = np.repeat(np.arange(n_grid), 2)
    micro_seq = pa.array(np.arange(n_micro, dtype=np.int64) % 2 + 1).cast(pa.string())  # 001, 002 per parent
    micro = _join(pc.take(basic, pa.array(parent_idx)), pc.utf8_lpad(micro_seq, 3, "0"))
    a.grid_codes = pa.concat_arrays([basic, micro])
    n_grids = n_grid + n_micro
    return _table(
        "grid",
        {
            "grid_code": a.grid_codes,
            "name": _join(_numbered("天河網格", n_grids, 4)),  # 繁体 on purpose: text is text
            "grid_type": pa.array(["基础网格"] * n_grid + ["微网格"] * n_micro),
            "parent_grid_code": pa.concat_arrays(
                [pa.nulls(n_grid, pa.string()), pc.take(basic, pa.array(parent_idx))]
            ),
            "community_code": _join(DISTRICT, _numbered("", n_grids, 6, start=1001)),
            "district_code": pa.array([DISTRICT] * n_grids),
        },
    )


def _address(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    n_addr = a.n_addr
    a.address_code = _numbered("A", n_addr, 10)
    a.addr_grid = _pick(rng, a.grid_codes, n_addr)
    rooms = pa.array(rng.integers(101, 2600, size=n_addr)).cast(pa.string())
    a.addr_street = street_codes(a.addr_grid, pa.array([a.division] * n_addr))
    address = _table(
        "address",
        {
            "address_code": a.address_code,
            "division_code": pa.array([a.division] * n_addr),
            "province": pa.array(["广东省"] * n_addr),
            "city": pa.array(["广州市"] * n_addr),
            "district": pa.array(["天河区"] * n_addr),
            "road": _choice(rng, ["天河路", "體育西路", "中山大道"], n_addr),
            "house_number": pa.array(rng.integers(1, 300, size=n_addr)).cast(pa.string()),
            "room": rooms,
            "standard_text": _join("广东省广州市天河区天河路", rooms, "房"),
            "grid_code": a.addr_grid,
            "street_code": a.addr_street,
            "lon": pa.array(113.3 + rng.random(n_addr) * 0.1),
            "lat": pa.array(23.1 + rng.random(n_addr) * 0.1),
        },
    )
    a.standard_text = address.column("standard_text")
    return address


def _house(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    n_house = a.n_addr
    a.house_id = _numbered("H", n_house, 12)
    return _table(
        "house",
        {
            "house_id": a.house_id,
            "address_code": a.address_code,
            "address_text": a.standard_text,
            "use": _choice(rng, ["住宅", "商业"], n_house),
            "area": pa.array(rng.uniform(30, 180, size=n_house)),
            "rented": pa.array(rng.random(n_house) < 0.3),
            "grid_code": a.addr_grid,
            "street_code": a.addr_street,
            "sources": _list_of("zhujian_house", n_house),
        },
    )


def _organisation(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    n_org = a.n_org
    a.org_id = _numbered("O", n_org, 12)
    a.org_addr = _pick(rng, a.address_code, n_org)
    a.org_credit = credit_codes(rng, n_org)
    org_grid = _pick(rng, a.grid_codes, n_org)
    return _table(
        "organisation",
        {
            "org_id": a.org_id,
            "credit_code": a.org_credit,
            "name": _numbered("广州天河科技有限公司", n_org, 5),
            "org_type": pa.array(["企业"] * n_org),
            "address_code": a.org_addr,
            "grid_code": org_grid,
            "street_code": street_codes(org_grid, pa.array([a.division] * n_org)),
            "sources": _list_of("shichang_org", n_org),
        },
    )


def _facility(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    n_fac = a.n_fac
    fac_type = _choice(rng, ["消防栓", "摄像头", "应急避难所"], n_fac)
    fac_address = _pick(rng, a.address_code, n_fac, null_share=0.2)
    fac_grid = _pick(rng, a.grid_codes, n_fac)
    return _table(
        "facility",
        {
            "facility_id": _numbered("F", n_fac, 12),
            "facility_type": fac_type,
            "address_code": fac_address,
            "grid_code": fac_grid,
            "grid_conflict": pa.array(np.zeros(n_fac, dtype=bool)),
            "street_code": street_codes(fac_grid),
        },
    )


def _person(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    persons = a.persons
    a.person_id = _numbered("P", persons, 12)
    a.id_number = resident_ids(rng, persons)
    a.residence_idx = rng.integers(0, a.n_addr, size=persons)
    a.employer = _pick(rng, a.org_id, persons, null_share=0.4)
    return _table(
        "person",
        {
            "person_id": a.person_id,
            "id_type": pa.array(["居民身份证"] * persons),
            "id_number": a.id_number,
            "name": _join(
                _choice(rng, ["张", "王", "李", "陳", "歐陽"], persons),
                _choice(rng, ["伟", "芳", "國強"], persons),
            ),
            "sex": _choice(rng, ["M", "F"], persons),
            "phone": pc.if_else(
                pa.array(rng.random(persons) < 0.8), mobiles(rng, persons), pa.scalar(None, pa.string())
            ),
            "hukou_address_code": _pick(rng, a.address_code, persons, null_share=0.1),
            "residence_house_id": pc.take(a.house_id, pa.array(a.residence_idx)),
            "population_type": _choice(rng, ["户籍", "流动"], persons),
            "separated": pa.array(rng.random(persons) < 0.1),
            "employer_org_id": a.employer,
            "grid_code": pc.take(a.addr_grid, pa.array(a.residence_idx)),
            "street_code": pc.take(a.addr_street, pa.array(a.residence_idx)),
            "sources": _list_of("gongan_hukou", persons),
        },
    )


def _relations(a: _Arrays) -> dict[str, pa.Table]:
    """person_house, person_organisation, organisation_address and source_xref of the entities above."""
    persons, n_org = a.persons, a.n_org
    employed = pc.is_valid(a.employer)
    return {
        "person_house": _table(
            "person_house",
            {
                "person_id": a.person_id,
                "house_id": pc.take(a.house_id, pa.array(a.residence_idx)),
                "relation": pa.array(["居住"] * persons),
                "is_current": pa.array(np.ones(persons, dtype=bool)),
                "street_code": pc.take(a.addr_street, pa.array(a.residence_idx)),
            },
        ),
        "person_organisation": _table(
            "person_organisation",
            {
                "person_id": a.person_id.filter(employed),
                "org_id": a.employer.filter(employed),
                "relation": pa.array(["就业"] * pc.sum(employed).as_py() if persons else [], pa.string()),
            },
        ),
        "organisation_address": _table(
            "organisation_address",
            {"org_id": a.org_id, "address_code": a.org_addr, "relation": pa.array(["注册"] * n_org)},
        ),
        "source_xref": _table(
            "source_xref",
            {
                # the police feed keys its records by ID number: the shared layer must scrub them
                "feed": pa.array(["gongan_hukou"] * persons + ["shichang_org"] * n_org),
                "source_record_id": pa.concat_arrays([a.id_number, a.org_credit.cast(pa.string())]),
                "entity_type": pa.array(["person"] * persons + ["organisation"] * n_org),
                "entity_id": pa.concat_arrays([a.person_id, a.org_id]),
                "score": pa.array(np.ones(persons + n_org)),
                "method": pa.array(["id_exact"] * (persons + n_org)),
                "line": pa.array(np.arange(persons + n_org, dtype=np.int64) + 2),
            },
        ),
    }


def _queues(rng: np.random.Generator, a: _Arrays) -> dict[str, pa.Table]:
    """quarantine, address_review and field_issue rows carrying raw ID numbers and phones in their text."""
    raw_ids = a.id_number.slice(0, 3).to_pylist() + ["44010619900101123X"] * 3
    raw_phones = mobiles(rng, 3).to_pylist() + ["13800138000"] * 3
    full_width = raw_ids[0].translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    quarantine = _table(
        "quarantine",
        {
            "feed": pa.array(["gongan_hukou"] * 3),
            "raw_sha256": pa.array(["9f" + "0" * 62] * 3),
            "file_name": pa.array(["户籍人口2024.csv"] * 3),
            "line": pa.array([7, 8, 9], pa.int64()),
            "column": pa.array(["csrq", None, "sfzh"]),
            "reason_code": pa.array(["invalid_date", "ragged_row", "invalid_id_number"]),
            "message": pa.array(
                [f"出生日期無效, 身份证 {raw_ids[0]}", "列數不一致", f"联系电话{raw_phones[0]}"]
            ),
            "original_text": pa.array(
                [
                    f"陳大文,{raw_ids[1]},{raw_phones[1]},二〇二三年十三月",
                    f"李小龍,{full_width},+86 {raw_phones[2]}",
                    f"王芳,{raw_ids[2][:17]}0,电话:{raw_phones[0]}",
                ]
            ),
        },
    )
    address_review = _table(
        "address_review",
        {
            "feed": pa.array(["minzheng_elderly", "minzheng_elderly"]),
            "source_record_id": pa.array(["MZ0001", "MZ0002"]),
            "field": pa.array(["address", "address"]),
            "address_text": pa.array([f"天河區某街3號 聯繫人電話{raw_phones[1]}", "体育西路１２号"]),
            "status": pa.array(["unmatched", "ambiguous"]),
        },
    )
    field_issue = _table(
        "field_issue",
        {
            "feed": pa.array(["renshe_insured"]),
            "source_record_id": pa.array(["RS-77"]),
            "field": pa.array(["id_number"]),
            "reason_code": pa.array(["invalid_id_number"]),
            "original_value": pa.array([raw_ids[1][:17] + ("1" if raw_ids[1][17] != "1" else "2")]),
        },
    )
    return {"quarantine": quarantine, "address_review": address_review, "field_issue": field_issue}


def _with(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), values.cast(table.schema.field(i).type))
    return table


def _department_fields(rng: np.random.Generator, a: _Arrays, tables: dict[str, pa.Table]) -> None:
    """What departments give beside the core fields (issue 13), drawn after everything else so that a seed
    gives the other tables unchanged: organisations' operating addresses (经营地址) and their 经营 relations,
    houses' department codes (房屋编号), persons' 救助类型."""
    business = _pick(rng, a.address_code, a.n_org, null_share=0.4)
    has = pc.is_valid(business)
    basis = pc.if_else(has, pa.scalar("经营"), pa.scalar("注册"))
    tables["organisation"] = _with(
        tables["organisation"], {"business_address_code": business, "grid_basis": basis}
    )
    relation = pc.if_else(has, pa.scalar("经营"), pa.scalar(None, pa.string())).filter(has)
    operating = {"org_id": a.org_id.filter(has), "address_code": business.filter(has), "relation": relation}
    tables["organisation_address"] = pa.concat_tables(
        [tables["organisation_address"], _table("organisation_address", operating)]
    )
    offsets = pa.array(np.arange(a.n_addr + 1, dtype=np.int32))
    codes = pa.ListArray.from_arrays(offsets, _numbered("QS-FW-", a.n_addr, 8))
    tables["house"] = _with(tables["house"], {"source_house_codes": codes})
    assistance = _pick(rng, pa.array(["低保", "特困供养", "临时救助"]), a.persons, null_share=0.9)
    tables["person"] = _with(tables["person"], {"assistance_type": assistance})


def _address_binding(rng: np.random.Generator, a: _Arrays) -> pa.Table:
    """Each person record's address as the police feed gave it (keyed by ID number, a phone written into some
    of the addresses) and each organisation's registered address, with what they were bound to."""
    n, home = a.persons, pa.array(a.residence_idx)
    texts = pc.take(a.standard_text, home)
    texts = pc.if_else(pa.array(rng.random(n) < 0.05), _join(texts, " 电话", mobiles(rng, n)), texts)
    unmatched = pa.array(rng.random(n) < 0.1)
    null = pa.scalar(None, pa.string())
    persons = {
        "feed": pa.array(["gongan_hukou"] * n),
        "source_record_id": a.id_number,
        "entity_type": pa.array(["person"] * n),
        "field": pa.array(["address"] * n),
        "address_text": texts,
        "address_code": pc.if_else(unmatched, null, pc.take(a.address_code, home)),
        "grid_code": pc.if_else(unmatched, null, pc.take(a.addr_grid, home)),
        "status": pc.if_else(unmatched, pa.scalar("unmatched"), pa.scalar("matched")),
    }
    orgs = {
        "feed": pa.array(["shichang_org"] * a.n_org),
        "source_record_id": a.org_credit,
        "entity_type": pa.array(["organisation"] * a.n_org),
        "field": pa.array(["org_address"] * a.n_org),
        "address_text": _join(_numbered("天河路", a.n_org, 3), "号"),
        "address_code": a.org_addr,
        "status": pa.array(["matched"] * a.n_org),
    }
    return pa.concat_tables([_table("address_binding", persons), _table("address_binding", orgs)])


def synthetic_tables(
    persons: int = 1_000, *, seed: int = 7, grid_code_width: int = 15
) -> dict[str, pa.Table]:
    """Every canonical table, consistent and valid, sized around ``persons`` residents.

    The tables are drawn in one fixed order from one generator, so a seed always gives the same tables.
    """
    rng = np.random.default_rng(seed)
    a = _Arrays(
        persons=persons,
        n_grid=max(2, persons // 1_200 + 1),
        n_addr=max(3, persons // 3),
        n_org=max(2, persons // 40),
        n_fac=max(2, persons // 200),
        grid_code_width=grid_code_width,
    )
    grid = _grid(a)
    address = _address(rng, a)
    house = _house(rng, a)
    organisation = _organisation(rng, a)
    facility = _facility(rng, a)
    person = _person(rng, a)
    tables = {
        "address": address,
        "grid": grid,
        "person": person,
        "house": house,
        "organisation": organisation,
        "facility": facility,
        **_relations(a),
        **_queues(rng, a),
    }
    _department_fields(rng, a, tables)
    tables["address_binding"] = _address_binding(rng, a)
    for name in TABLES:  # tables other engineers add to the schema later arrive empty
        tables.setdefault(name, arrow_schema(name).empty_table())
    return tables


#: The privacy key the synthetic snapshots are published with.
TEST_HMAC_KEY = b"gridhub-test-key-0123456789abcdef"


def publish_synthetic(wh, tables: dict[str, pa.Table], run_id: str = "r1") -> None:
    """Publish ``tables`` as snapshot ``run_id`` of warehouse ``wh`` with default settings and no lineage."""
    from warehouse import publish
    from warehouse.settings import WarehouseSettings

    publish(
        wh,
        tables,
        run_id=run_id,
        lineage={"feeds": [], "raw_files": []},
        settings=WarehouseSettings(),
        grid_code_width=15,
        hmac_key=TEST_HMAC_KEY,
    )


def replace_column(table: pa.Table, column: str, values: list) -> pa.Table:
    """``table`` with ``column``'s values replaced (same field, same type): a planted fault for a test."""
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
