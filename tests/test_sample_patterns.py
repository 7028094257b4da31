"""Issue #12's real-world patterns in the sample district, each present at its documented rate (with a
tolerance) on 3,000 persons, and scorable from the truth: twins and namesakes, household phones, big
employers with old codes and name-only rows, 个人参保 rows, company owners in 住建, legal representatives with
IDs, area units, date typos, derived house records and the valid identifiers of codes.csv."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

import pandas as pd
import pytest

from gridhub.config import load_config
from gridhub.sample import generate_workspace
from gridhub.sample.names import FACTORIES, HOSPITAL
from matching.normalize import normalize_names

PERSONS = 3000


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory):
    return generate_workspace(tmp_path_factory.mktemp("patterns"), persons=PERSONS, seed=5)


@pytest.fixture(scope="module")
def truth(ws) -> dict[str, pd.DataFrame]:
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in (ws.root / "truth").glob("*.csv")
    }


@pytest.fixture(scope="module")
def feeds(ws) -> dict[str, pd.DataFrame]:
    """Each feed's data rows (malformed ones left out) as text frames."""
    cfg = load_config(ws.root / "gridhub.yaml")
    out = {}
    for feed in cfg.feeds:
        path = next((ws.root / "landing" / feed.name).glob("*.csv"))
        enc = "gb18030" if feed.source.encoding == "auto" else feed.source.encoding
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode(enc), newline="")))
        header = rows[0]
        good = [r for r in rows[1:] if len(r) == len(header) and r[header.index(feed.record_id)]]
        out[feed.name] = pd.DataFrame(good, columns=header)
    return out


def _kind(truth, feed: str, kind: str) -> set[str]:
    n = truth["noise"]
    return set(n.loc[(n["feed"] == feed) & (n["kind"] == kind), "source_record_id"])


def _persons(truth) -> pd.DataFrame:
    p = truth["persons"].set_index("person_key")
    return p.assign(age=2025 - p["birth_date"].str[:4].astype(int))


def _person_of(truth, feed: str) -> pd.Series:
    r = truth["records"]
    return r[(r["feed"] == feed) & (r["entity_type"] == "person")].set_index("source_record_id")["entity_key"]


def test_twins_share_birth_home_and_phone_and_often_all_but_one_character(truth, feeds) -> None:
    persons = _persons(truth)
    hn = truth["hard_negatives"]
    twins = hn[hn["kind"] == "twins"]
    children = persons[persons["role"] == "child"]
    twin_share = 2 * len(twins) / len(children)
    assert 0.01 <= twin_share <= 0.06, twin_share  # about 1 child in 40 is a twin
    similar = 0
    for a, b in zip(twins["person_key_a"], twins["person_key_b"], strict=True):
        na, nb = persons.at[a, "name"], persons.at[b, "name"]
        similar += len(na) == len(nb) == 3 and na[:2] == nb[:2] and na != nb
    assert similar / len(twins) >= 0.35  # 思雨 / 思琪
    # in 公安 both twins appear with their (different) valid IDs; in the departments some without
    keys = set(twins["person_key_a"]) | set(twins["person_key_b"])
    ga = feeds["gongan_population"].assign(
        key=lambda f: f["记录编号"].map(_person_of(truth, "gongan_population"))
    )
    assert ga.loc[ga["key"].isin(keys), "公民身份号码"].ne("").sum() >= len(twins)


def test_namesakes_are_planted_at_their_rate(truth) -> None:
    persons = _persons(truth)
    same = truth["hard_negatives"].query("kind == 'same_name_birth'")
    assert len(same) == max(2, round(0.002 * PERSONS))
    for a, b in zip(same["person_key_a"], same["person_key_b"], strict=True):
        assert persons.at[a, "household_key"] != persons.at[b, "household_key"]


def _digits(s: pd.Series) -> pd.Series:
    return s.map(lambda v: re.sub(r"\D", "", unicodedata.normalize("NFKC", v)))


def test_minors_and_elderly_are_recorded_with_a_household_phone(truth, feeds) -> None:
    persons = _persons(truth)
    for feed, col, rid, low, high in (
        ("gongan_population", "联系电话", "记录编号", 0.4, 0.6),
        ("minzheng_assistance", "联系电话", "救助编号", 0.35, 0.65),
    ):
        f = feeds[feed].assign(key=lambda x, feed=feed, rid=rid: x[rid].map(_person_of(truth, feed)))
        f = f.join(persons[["contact_phone", "phone", "age"]], on="key")
        eligible = f[f["contact_phone"] != ""]
        planted = eligible[eligible[rid].isin(_kind(truth, feed, "household_phone"))]
        assert low <= len(planted) / len(eligible) <= high, (feed, len(planted), len(eligible))
        written, contact = _digits(planted[col]), _digits(planted["contact_phone"])
        ends = [w.endswith(c) for w, c in zip(written, contact, strict=True)]
        assert all(e or w == "" for e, w in zip(ends, written, strict=True))
        assert (planted["contact_phone"] != planted["phone"]).all()
    # a minor's contact is a parent, an elder's an adult child: never the person themselves
    c = persons[persons["contact_phone"] != ""]
    assert ((c["age"] < 18) | (c["age"] >= 70)).all()


def test_big_employers_have_hundreds_of_rows_with_codes_old_codes_and_names_only(truth, feeds) -> None:
    orgs = truth["organisations"].set_index("org_key")
    big = orgs[orgs["name"].isin([HOSPITAL, *FACTORIES])]
    assert len(big) >= 2 and HOSPITAL in set(big["name"])
    staff = truth["persons"]["employer_org_key"].value_counts()
    employed = (truth["persons"]["employer_org_key"] != "").sum()
    for key in big.index:  # 4 % of the employed each (hundreds from about 20,000 persons on)
        assert 0.025 * employed <= staff[key] <= 0.08 * employed, (key, staff[key], employed)
    rs = feeds["renshe_insured"]
    r = truth["records"]
    org_of = r[(r["feed"] == "renshe_insured") & (r["entity_type"] == "organisation")].set_index(
        "source_record_id"
    )["entity_key"]
    rs = rs.assign(org=rs["xh"].map(org_of))
    with_org = rs[rs["org"].notna()]
    code = with_org["tyshxydm"]
    credit = with_org["org"].map(orgs["credit_code"])
    full, blank = code == credit, code == ""
    old = (code == credit.str[8:17]) | (code == credit.str[8:16] + "-" + credit.str[16])
    assert (full | blank | old).all()
    assert 0.05 <= blank.mean() <= 0.11 and 0.02 <= old.mean() <= 0.07, (blank.mean(), old.mean())
    assert code[old].str.contains("-").any() and (~code[old].str.contains("-")).any()
    big_rows = with_org[with_org["org"].isin(big.index)]
    assert (big_rows["tyshxydm"] == big_rows["org"].map(orgs["credit_code"])).mean() >= 0.8
    # insured on their own: 个人参保 / 灵活就业人员, no credit code and no organisation in the truth
    own = rs[rs["dwmc"].isin(["个人参保", "灵活就业人员"])]
    assert 0.05 <= len(own) / len(rs) <= 0.2 and set(own["dwmc"]) == {"个人参保", "灵活就业人员"}
    assert own["org"].isna().all() and (own["tyshxydm"] == "").all()


def test_company_owners_in_housing_are_organisation_records(ws, truth, feeds) -> None:
    cfg = load_config(ws.root / "gridhub.yaml")
    assert cfg.feed("zhujian_houses").owner_kind == "auto"
    zj = feeds["zhujian_houses"]
    r = truth["records"]
    owners = r[(r["feed"] == "zhujian_houses") & (r["entity_type"] == "organisation")]
    share = len(owners) / len(zj)
    assert 0.02 <= share <= 0.08, share  # shops and offices of companies, a few flats
    orgs = truth["organisations"].set_index("org_key")
    rows = zj.set_index("登记编号").loc[owners["source_record_id"]]
    credit = owners.set_index("source_record_id")["entity_key"].map(orgs["credit_code"])
    blank = rows["产权人证件号"] == ""
    assert ((rows["产权人证件号"] == credit) | blank).all()
    assert 0.05 <= blank.mean() <= 0.3
    assert rows["产权人"].str.contains("公司|医院|中学|小学|办事处|中心|局").all()
    houses = truth["houses"]
    org_houses = houses[houses["owner_kind"] == "organisation"]
    assert set(org_houses["use"]) == {"住宅", "商业", "办公"}
    assert org_houses["owner_key"].isin(orgs.index).all()


def test_legal_representatives_live_where_their_kind_of_organisation_makes_them_live(truth) -> None:
    """Sole traders' operators mostly near the shop, owner-managers often insured through their company,
    and a share of representatives outside the district: in no person feed, with a TR… key and an ID."""
    persons = _persons(truth)
    orgs = truth["organisations"]
    outside = truth["outside_representatives"].set_index("person_key")
    away = orgs["legal_rep_outside"] == "True"
    assert orgs.loc[~away, "legal_rep_key"].isin(persons.index).all()
    assert orgs.loc[away, "legal_rep_key"].isin(outside.index).all()
    assert not outside.index.isin(persons.index).any()
    assert (orgs.loc[away, "legal_rep"] == orgs.loc[away, "legal_rep_key"].map(outside["name"])).all()
    listed = orgs["in_market_feed"] == "True"
    assert 0.1 <= away[listed].mean() <= 0.3, away[listed].mean()  # 10 % of sole traders, 25 % of companies
    r = truth["records"]
    assert not orgs.loc[away, "legal_rep_key"].isin(r.loc[r["entity_type"] == "person", "entity_key"]).any()
    local = orgs[~away & listed]
    rep = persons.loc[local["legal_rep_key"]]
    sole = (local["org_type"] == "个体工商户").to_numpy()
    near = rep["grid_code"].to_numpy() == local["grid_code"].to_numpy()
    assert near[sole].mean() >= 0.3, near[sole].mean()  # 40 % drawn from the shop's grid
    insured = rep["employer_org_key"].to_numpy() == local["org_key"].to_numpy()
    working = (rep["age"] <= 60).to_numpy()
    company = ~sole & working
    assert 0.3 <= insured[company].mean() <= 0.7, insured[company].mean()  # 50 % of owner-managers
    assert insured[sole & working].mean() <= 0.4, insured[sole & working].mean()  # 20 % of operators
    # a sole trader registered away from its premises is registered at its operator's home
    moved = sole & (local["registered_address_code"] != local["address_code"]).to_numpy()
    assert moved.any()
    assert (
        local.loc[moved, "registered_address_code"].to_numpy()
        == rep.loc[moved, "residence_address_code"].to_numpy()
    ).all()


def test_legal_representatives_ids_are_given_in_full_masked_or_as_a_pass_number(truth, feeds) -> None:
    """市场监管's 法定代表人证件号码 (gridhub/sample/rep_ids.py): the ID in full on most rows, masked (脱敏) on
    about a third, in the shapes real extracts use, showing the true ID's characters; absent on a few; a
    通行证 or passport number only for representatives living outside the district."""
    from gridhub.sample.rep_ids import MASKS

    persons = _persons(truth)
    outside = truth["outside_representatives"].set_index("person_key")
    orgs = truth["organisations"]
    listed = orgs[orgs["in_market_feed"] == "True"]
    sc = feeds["shichang_orgs"].merge(listed, left_on="统一社会信用代码", right_on="credit_code")
    assert len(sc) == len(feeds["shichang_orgs"])
    true_id = sc["legal_rep_key"].map(pd.concat([persons["id_number"], outside["id_number"]]))
    assert true_id.notna().all()
    value = sc["法定代表人证件号码"].map(lambda v: unicodedata.normalize("NFKC", v).upper())
    noise = truth["noise"]
    kinds = noise[(noise["feed"] == "shichang_orgs") & (noise["column"] == "法定代表人证件号码")]
    kind = sc["主体身份代码"].map(kinds.groupby("source_record_id")["kind"].first()).fillna("")
    masked = kind.str.startswith("legal_rep_id_masked")
    foreign = kind.str.contains("pass|passport", regex=True)
    blank = value == ""
    assert 0.30 <= masked.mean() <= 0.45, masked.mean()
    assert 0.50 <= (~masked & ~foreign & ~blank).mean() <= 0.70
    assert 0.01 <= blank.mean() <= 0.10, blank.mean()  # absent, and 市场监管's own id_missing on full rows
    assert (sc.loc[foreign, "legal_rep_outside"] == "True").all()  # 8 % of those: rare on 3,000 persons
    assert not value[foreign].str.fullmatch(r"\d{17}[\dX]").any()
    # a mask shows the true ID's characters where it shows any, with the shown head and tail at the two ends
    shapes = {
        f"legal_rep_id_masked_{h}_{t}" + ("" if n is None else f"_{n}_stars"): (h, t)
        for (h, t, n), _ in MASKS
    }
    assert set(kind[masked]) <= set(shapes) and len(set(kind[masked])) >= 3
    for k, (head, tail) in shapes.items():
        rows = kind == k
        assert (value[rows].str[:head] == true_id[rows].str[:head]).all()
        assert (value[rows].str[-tail:] == true_id[rows].str[-tail:]).all()
        assert value[rows].str[head:-tail].str.fullmatch(r"\*+").all()
    full = ~masked & ~foreign & ~blank
    noted = sc["主体身份代码"].isin(
        _kind(truth, "shichang_orgs", "id_typo") | _kind(truth, "shichang_orgs", "id_bad_check")
    )
    assert (value[full & ~noted] == true_id[full & ~noted]).all()
    assert (value[full & noted] != true_id[full & noted]).all()
    codes = truth["codes"]
    reps = codes[(codes["feed"] == "shichang_orgs") & (codes["entity_type"] == "legal_rep")]
    assert len(reps) == (full & ~noted).sum()  # only an ID in full is a valid identifier of the person


def test_representatives_from_outside_the_mainland_give_a_pass_or_passport_number() -> None:
    """The forms of 法定代表人证件号码 at their rates, drawn many times (the 3,000-person sample has few
    representatives from Hong Kong, Macao, Taiwan or abroad)."""
    import numpy as np

    from gridhub.sample import noise
    from gridhub.sample.draws import Draws
    from gridhub.sample.rep_ids import FOREIGN_SHARE_OF_OUTSIDE, REP_ID_FORM, written

    d = Draws(np.random.default_rng(1))
    person = {"id_number": "445399198505050021", "birth_date": "1985-05-05"}
    away = [written(d, person, True, noise.MARKET) for _ in range(20000)]
    foreign = [t for t, k, _ in away if k and "pass" in k[0]]
    assert abs(len(foreign) / len(away) - FOREIGN_SHARE_OF_OUTSIDE) < 0.01
    assert all(re.fullmatch(r"[HM]\d{10}|\d{8}|[A-Z]\d{8}", t) for t in foreign)
    home = [written(d, person, False, noise.MARKET) for _ in range(20000)]
    assert not any("pass" in k[0] for _, k, _ in home if k)
    masked = sum(1 for _, k, _ in home if k and k[0].startswith("legal_rep_id_masked"))
    assert abs(masked / len(home) - dict(REP_ID_FORM)["masked"]) < 0.01


def test_sole_traders_register_the_operators_own_phone(truth, feeds) -> None:
    """市场监管's 联系电话: mostly the operator's own mobile for sole traders, the office or a clerk for big
    organisations, never a representative's number on the row of an organisation they do not represent."""
    persons = _persons(truth)
    orgs = truth["organisations"]
    sc = feeds["shichang_orgs"].merge(orgs, left_on="统一社会信用代码", right_on="credit_code")
    digits = sc["联系电话"].str.replace(r"\D", "", regex=True)
    true = sc["contact_phone"].str.replace("-", "")
    missing = sc["主体身份代码"].isin(_kind(truth, "shichang_orgs", "phone_missing")) | (true == "")
    assert (digits[missing] == "").all()
    assert (digits[~missing].str[-8:] == true[~missing].str[-8:]).all()  # as keyed: +86, spaces, dashes
    own = sc["contact_phone_of"] == "representative"
    sole = sc["org_type"] == "个体工商户"
    assert 0.65 <= own[sole].mean() <= 0.95, own[sole].mean()  # 80 %
    big = sc["org_type"].isin(["分公司"]) | sc["name"].isin(FACTORIES)
    assert not own[big].any()
    local = own & (sc["legal_rep_outside"] != "True")
    assert (sc.loc[local, "contact_phone"] == sc.loc[local, "legal_rep_key"].map(persons["phone"])).all()


def test_area_units_and_date_typos(truth, feeds) -> None:
    zj = feeds["zhujian_houses"]
    unit = zj["建筑面积"].str.contains("㎡|平方米|m²")
    assert 0.03 <= unit.mean() <= 0.07 and zj["建筑面积"].str.contains("平方米").any()
    rec = truth["records"].query("feed == 'zhujian_houses' and entity_type == 'house'")
    true_area = (
        zj["登记编号"]
        .map(rec.set_index("source_record_id")["entity_key"])
        .map(truth["houses"].set_index("address_code")["area"].astype(float))
    )
    number = zj["建筑面积"].str.replace(r"㎡|平方米|m²", "", regex=True).astype(float)
    assert ((number - true_area).abs() <= 0.051).all()
    # a birth date keyed with one slip: month and day swapped, or a 30th / 31st of February
    q = truth["quarantine_expected"].query("reason_code == 'invalid_date'")
    assert len(q) >= 3
    column = {"gongan_population": ("记录编号", "出生日期"), "minzheng_assistance": ("救助编号", "出生日期")}
    column["renshe_insured"] = ("xh", "csrq")
    for feed, rid in zip(q["feed"], q["source_record_id"], strict=True):
        key, col = column[feed]
        digits = re.sub(r"\D", "", feeds[feed].set_index(key).at[rid, col])
        month, day = int(digits[4:6]), int(digits[6:8])
        assert month > 12 or (month == 2 and day in (30, 31)), digits


def test_every_person_row_is_also_a_house_record_of_its_address(truth) -> None:
    r, a = truth["records"], truth["addresses"]
    for feed in ("gongan_population", "minzheng_assistance", "renshe_insured"):
        houses = r[(r["feed"] == feed) & (r["entity_type"] == "house")].set_index("source_record_id")
        persons = r[(r["feed"] == feed) & (r["entity_type"] == "person")]
        where = a[(a["feed"] == feed) & (a["field"] == "address")].set_index("source_record_id")[
            "address_code"
        ]
        assert len(houses) == len(persons)
        assert (houses["entity_key"] == where.loc[houses.index]).all()
    assert set(r.loc[r["entity_type"] == "house", "entity_key"]) <= set(truth["houses"]["address_code"])


def test_codes_are_the_valid_identifiers_rows_carry(truth) -> None:
    codes, r = truth["codes"], truth["records"]
    persons = truth["persons"].set_index("person_key")["id_number"]
    orgs = truth["organisations"].set_index("org_key")["credit_code"]
    for etype, true_code in (("person", persons), ("organisation", orgs)):
        c = codes[codes["entity_type"] == etype].merge(
            r[r["entity_type"] == etype], on=["feed", "source_record_id", "entity_type"]
        )
        assert len(c) == (codes["entity_type"] == etype).sum() > 0
        assert (c["code"] == c["entity_key"].map(true_code)).all()
    n = truth["noise"]
    person_columns = ["公民身份号码", "身份证号", "sfzh", "产权人证件号"]
    assert len(n[(n["kind"] == "id_typo") & n["column"].isin(person_columns)]) >= 5  # 0.1–0.5 % of rows
    bad = n[n["kind"].isin(["id_missing", "id_bad_check", "id_typo"])]
    person_codes = codes[codes["entity_type"] == "person"]
    clash = person_codes.merge(bad, on=["feed", "source_record_id"])
    assert clash[clash["column"].isin(["公民身份号码", "身份证号", "sfzh", "产权人证件号"])].empty


def test_organisation_names_without_the_region_suffix(truth, feeds) -> None:
    """人社 and 住建 write 云江恒通科技有限公司 for 云江市恒通科技有限公司 (and 青石…, 云江青石…) now and then; each such
    row is logged ``org_bare_region`` and names its organisation's registered name with the suffix dropped."""
    orgs = truth["organisations"].set_index("org_key")["name"]
    r = truth["records"].query("entity_type == 'organisation'").set_index(["feed", "source_record_id"])
    column = {"renshe_insured": ("xh", "dwmc"), "zhujian_houses": ("登记编号", "产权人")}
    seen = 0
    for feed, (key, col) in column.items():
        rows = feeds[feed].set_index(key)
        for rid in _kind(truth, feed, "org_bare_region"):
            written = normalize_names(pd.Series([rows.at[rid, col]])).iloc[0]  # 繁体 too, now and then
            true = orgs[r.at[(feed, rid), "entity_key"]]
            assert written.startswith(("云江", "青石")) and not written.startswith(("云江市", "青石区")), (
                written
            )
            assert true.startswith(("云江市", "青石区")), true
            seen += 1
    employer_rows = (feeds["renshe_insured"]["tyshxydm"] != "").sum()
    assert 0.01 * employer_rows <= seen <= 0.06 * employer_rows, (seen, employer_rows)
