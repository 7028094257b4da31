"""The privacy layer: nothing in ``shared`` is a raw ID number or mobile phone, yet keyed hashes still join."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from synth_tables import synthetic_tables

from warehouse import PrivacyKeyError, connect, layer_schema, publish, read_table
from warehouse.privacy import (
    is_code_column,
    keyed_hash,
    mask_values,
    scrub_text,
    scrub_values,
    to_layer,
)
from warehouse.schema import TABLES, PIIKind
from warehouse.settings import WarehouseSettings

KEY = b"privacy-test-key-with-enough-entropy"

# ---- an independent scanner (deliberately not the scrubber's regex) ----------------------------------------
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_TOKEN = re.compile(r"[0-9A-Za-z]+")


def _birth_date_ok(yyyymmdd: str) -> bool:
    try:
        return 1890 <= dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).year <= 2030
    except ValueError:
        return False


def _id18_valid(tok: str) -> bool:
    """GB 11643: 17 digits, a valid birth date and the right check character (what DLP scanners test)."""
    if not (len(tok) == 18 and tok[:17].isdigit() and (tok[17].isdigit() or tok[17] in "Xx")):
        return False
    check = "10X98765432"[sum(int(c) * w for c, w in zip(tok[:17], _WEIGHTS, strict=True)) % 11]
    return check == tok[17].upper() and _birth_date_ok(tok[6:14])


def _id15_plausible(tok: str) -> bool:
    if not (len(tok) == 15 and tok.isdigit()):
        return False
    return _birth_date_ok("19" + tok[6:12])


def _mobile(tok: str) -> bool:
    tok = tok[2:] if len(tok) == 13 and tok.startswith("86") else tok
    return len(tok) == 11 and tok.isdigit() and tok[0] == "1" and tok[1] in "3456789"


def find_identifiers(text: str, *, legacy: bool = True) -> list[str]:
    """ID numbers (18 with a valid check digit; 15 with a valid birth date) and mobiles in ``text``.

    A token is a run of ASCII letters and digits after NFKC (so full-width digits count); a digit run glued to
    letters (a SHA-256, ``P000000000123``) is a code, not a number."""
    found = []
    for m in _TOKEN.finditer(unicodedata.normalize("NFKC", text)):
        tok = m.group(0)
        if _id18_valid(tok) or _mobile(tok) or (legacy and _id15_plausible(tok)):
            found.append(tok)
    return found


def _cells(table: pa.Table, name: str | None) -> dict[str, list[str]]:
    """Text of every string, list-of-string and integer cell (floats are measurements, not identifiers)."""
    out = {}
    for col in table.column_names:
        if pa.types.is_floating(table.schema.field(col).type):
            continue
        values = table.column(col).to_pylist()
        flat = []
        for v in values:
            if isinstance(v, list):
                flat.extend(str(x) for x in v if x is not None)
            elif v is not None:
                flat.append(str(v))
        out[col] = flat
    return out


def scan_folder(folder: Path) -> list[tuple[str, str, str]]:
    """Every file under ``folder``: Parquet cell by cell (and its metadata), anything else as text."""
    hits = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, folder
    for path in files:
        if path.suffix == ".parquet":
            table_name = next((d.name for d in path.parents if d.name in TABLES), None)  # <table>/[street=]/
            pf = pq.ParquetFile(path)
            meta = json.dumps(
                {
                    k.decode(errors="replace"): v.decode(errors="replace")
                    for k, v in (pf.schema_arrow.metadata or {}).items()
                }
            )
            hits += [(str(path), "metadata", t) for t in find_identifiers(meta)]
            for col, cells in _cells(pf.read(), table_name).items():
                # 15-digit grid codes have the shape of a legacy ID number: code columns skip that one rule
                legacy = not (
                    table_name and col in TABLES[table_name].column_names and is_code_column(table_name, col)
                )
                for cell in cells:
                    hits += [(str(path), col, t) for t in find_identifiers(cell, legacy=legacy)]
        else:
            hits += [
                (str(path), "text", t) for t in find_identifiers(path.read_bytes().decode("utf-8", "replace"))
            ]
    return hits


# ---- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    t = synthetic_tables(800, seed=9)
    person = t["person"]
    phones = person.column("phone").to_pylist()
    for i in range(0, 200, 2):  # families share a phone
        phones[i + 1] = phones[i]
    i = person.schema.get_field_index("phone")
    t["person"] = person.set_column(i, person.schema.field(i), pa.array(phones, pa.string()))
    return t


@pytest.fixture(scope="module")
def warehouse_dir(tables, tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("priv") / "warehouse"
    lineage = {"raw_files": [{"file": "人社参保_13812345678.csv"}]}  # a phone in a file name, too
    publish(
        wh,
        tables,
        run_id="p1",
        lineage=lineage,
        settings=WarehouseSettings(),
        grid_code_width=15,
        hmac_key=KEY,
    )
    return wh


# ---- the scan ----------------------------------------------------------------------------------------------
def test_shared_layer_holds_no_raw_id_number_or_mobile(warehouse_dir):
    hits = scan_folder(warehouse_dir / "shared")
    assert hits == []


def test_the_scanner_does_find_them_in_restricted(warehouse_dir, tables):
    hits = scan_folder(warehouse_dir / "restricted")
    found = {t for _, _, t in hits}
    ids = set(tables["person"].column("id_number").to_pylist())
    assert ids <= found  # every person's ID number is there, in person and in source_xref
    assert {c for _, c, _ in hits} >= {"id_number", "phone", "source_record_id", "original_text", "message"}


def test_scanner_sees_through_full_width_and_country_codes():
    assert (
        find_identifiers("李小龍,４４０１０６１９９００１０１１２３Ｘ") == []
    )  # wrong check digit: not an ID
    assert find_identifiers("身份证11010519491231002x号") == ["11010519491231002x"]
    assert find_identifiers("电话:+86 138-0013-8000") == []  # split by dashes: not one token
    assert find_identifiers("电话+8613800138000") == ["8613800138000"]
    assert find_identifiers("sha " + "0" * 20 + "13800138000abc") == []


# ---- keyed hashes join like the raw values -----------------------------------------------------------------
def test_keyed_hash_joins_give_the_same_counts_as_raw_ids(warehouse_dir, tables, tmp_path):
    # a second snapshot from other inputs: a subset of the persons, in another warehouse
    person = tables["person"]
    subset = {**tables, "person": person.slice(100, 400)}
    subset["person_house"] = tables["person_house"].slice(100, 400)
    subset["person_organisation"] = tables["person_organisation"].filter(
        pc.is_in(
            tables["person_organisation"].column("person_id"), value_set=subset["person"].column("person_id")
        )
    )
    subset["source_xref"] = tables["source_xref"].filter(
        pc.invert(pc.equal(tables["source_xref"].column("entity_type"), "person"))
    )
    other = tmp_path / "other"
    publish(
        other, subset, run_id="q1", lineage={}, settings=WarehouseSettings(), grid_code_width=15, hmac_key=KEY
    )

    con = connect(warehouse_dir)
    con.register("a_restricted", read_table(warehouse_dir, "person", layer="restricted"))
    con.register("b_shared", read_table(other, "person"))
    con.register("b_restricted", read_table(other, "person", layer="restricted"))
    by_key = con.execute("SELECT count(*) FROM person a JOIN b_shared b USING (id_number_key)").fetchall()[0][
        0
    ]
    by_raw = con.execute(
        "SELECT count(*) FROM a_restricted a JOIN b_restricted b USING (id_number)"
    ).fetchall()[0][0]
    assert by_key == by_raw == 400
    phone_key = con.execute("SELECT count(*) FROM person a JOIN person b USING (phone_key)").fetchall()[0][0]
    phone_raw = con.execute(
        "SELECT count(*) FROM a_restricted a JOIN a_restricted b USING (phone)"
    ).fetchall()[0][0]
    assert phone_key == phone_raw > len(person) - person.column("phone").null_count  # shared phones pair up

    # a department holding raw numbers (as typed: full-width, lower-case x) computes the same keys
    raw = person.column("id_number").to_pylist()[:50]
    typed = [v.translate(str.maketrans("0123456789X", "０１２３４５６７８９ｘ")) for v in raw[:25]] + raw[25:]
    dept = pa.table({"id_number_key": keyed_hash(pa.array(typed), PIIKind.RESIDENT_ID, KEY)})
    con.register("dept", dept)
    assert con.execute("SELECT count(*) FROM dept JOIN person USING (id_number_key)").fetchall()[0][0] == 50


# ---- the pieces --------------------------------------------------------------------------------------------
def test_masks_keep_the_first_three_and_last_four():
    assert mask_values(
        pa.array(["44010619491231002X", "13812345678", "0571-88001234", "12345", None])
    ).to_pylist() == ["440***********002X", "138****5678", "057******1234", "*****", None]


def test_keys_depend_on_the_secret_and_ignore_typing_variants():
    a = keyed_hash(
        pa.array(
            ["11010519491231002X", "11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ", None, ""]
        ),
        PIIKind.RESIDENT_ID,
        KEY,
    ).to_pylist()
    assert a[0] == a[1] == a[2] and len(a[0]) == 64 and a[3] is None and a[4] is None
    assert keyed_hash(pa.array(["11010519491231002X"]), "resident_id", b"another key").to_pylist()[0] != a[0]
    p = keyed_hash(
        pa.array(["13812345678", "+86 138 1234 5678", "8613812345678"]), PIIKind.PHONE, KEY
    ).to_pylist()
    assert p[0] == p[1] == p[2]
    with pytest.raises(PrivacyKeyError):
        keyed_hash(pa.array(["1"]), PIIKind.PHONE, b"")


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("陳大文,44010619491231002X,13812345678", "陳大文,440***********002X,138****5678"),
        (
            "李小龍,４４０１０６１９９００１０１１２３Ｘ,電話：＋８６１３８１２３４５６７８",
            "李小龍,４４０***********１２３Ｘ,電話：＋８６*******５６７８",
        ),
        ("旧证号440106900101123", "旧证号440********1123"),  # legacy 15-digit number
        (
            "户主 P000000000123 文件 9f13812345678abc",
            "户主 P000000000123 文件 9f13812345678abc",
        ),  # codes, not numbers
        ("天河区体育西路１２号３栋", "天河区体育西路１２号３栋"),
    ],
)
def test_scrub_text(text, scrubbed):
    assert scrub_text(text) == scrubbed
    assert scrub_values(pa.array([text, None])).to_pylist() == [scrubbed, None]


def test_scrub_values_handles_lists():
    arr = pa.array([["gongan", "13812345678"], None, []], pa.list_(pa.string()))
    assert scrub_values(arr).to_pylist() == [["gongan", "138****5678"], None, []]


def test_layers_share_one_schema_and_codes_are_not_scrubbed(tables):
    for name in TABLES:
        assert layer_schema(name, "shared").names == layer_schema(name, "restricted").names
    assert layer_schema("person").names[2:4] == ["id_number", "id_number_key"]
    grid = tables["grid"]
    assert to_layer("grid", grid, "shared", KEY).column("grid_code").equals(grid.column("grid_code"))
    org = tables["organisation"]
    assert (
        to_layer("organisation", org, "shared", KEY).column("credit_code").equals(org.column("credit_code"))
    )
    assert is_code_column("address", "address_code") and not is_code_column("person", "id_number")


def test_a_column_of_repeated_values_is_scrubbed_per_distinct_value_with_the_same_result():
    import pyarrow as pa

    from warehouse.privacy import scrub_text, scrub_values

    texts = [
        "公安",
        "tel 131 0927 8394",
        None,
        "P000000123456",
        "44010619491231002X",
        "备注１３１０９２７８３９４",
    ]
    column = pa.array([texts[i % len(texts)] for i in range(5_000)], pa.string())
    want = [None if v is None else scrub_text(v) for v in column.to_pylist()]
    assert scrub_values(column).to_pylist() == want
    assert scrub_values(column.slice(0, 7)).to_pylist() == want[:7]  # short: scrubbed value by value
