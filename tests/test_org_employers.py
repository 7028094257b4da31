"""Organisations from employer columns (人社 单位名称 / 统一社会信用代码) and owner columns (住建 产权人):
"no organisation" values, old 9-character 组织机构代码, name-only employers, owners that are companies."""

from __future__ import annotations

import pandas as pd
import pytest
from org_employers import RENSHE, SHICHANG, registered, staged_feeds
from pydantic import ValidationError

from connectors.feeds import Feed
from matching.er import EntitySettings, resolve
from matching.mentions import build_mentions
from warehouse.checkchars import credit_code_check_char, organisation_code_check_char

OLD_BODY = "MA5T3K8Q"
OLD_CODE = OLD_BODY + organisation_code_check_char(OLD_BODY)
CREDIT = "91445399" + OLD_CODE + credit_code_check_char("91445399" + OLD_CODE)
WRONG_CHECK = OLD_BODY + ("1" if OLD_CODE[-1] != "1" else "2")


def _renshe(org_names: list[str | None], codes: list[str | None] | None = None) -> pd.DataFrame:
    n = len(org_names)
    return pd.DataFrame(
        {
            "_feed": "renshe",
            "_raw_sha256": "h",
            "_line": range(2, n + 2),
            "source_record_id": [str(i) for i in range(n)],
            "name": [f"职工{i}" for i in range(n)],
            "org_name": org_names,
            "credit_code": codes or [None] * n,
        }
    )


def _feed(**changes) -> Feed:
    return Feed.model_validate({**RENSHE, **changes})


NOBODY = ["个人参保", "（灵活就业人员）", "無單位", " 个 体 ", "退休"]


def test_no_organisation_values_keep_the_person_and_name_no_employer():
    staged = _renshe([*NOBODY, "云江市恒信科技有限公司"])
    m = build_mentions({"renshe": staged}, [_feed()])
    assert len(m.person) == 6  # every insured person is kept
    assert list(m.organisation["org_name"]) == ["云江市恒信科技有限公司"]
    employment = m.links[m.links["kind"] == "person_organisation"]
    assert list(employment["from_key"]) == ["renshe:5"]
    noted = m.issues[m.issues["reason_code"] == "no_organisation"]
    assert list(noted["source_record_id"]) == ["0", "1", "2", "3", "4"]
    assert set(noted["field"]) == {"org_name"} and list(noted["original_value"]) == NOBODY


def test_no_organisation_list_is_per_feed_and_can_be_turned_off():
    staged = _renshe(["个人参保", "待分配", "云江市恒信科技有限公司"])
    off = build_mentions({"renshe": staged}, [_feed(no_organisation=[])])
    assert len(off.organisation) == 3 and not len(off.issues)
    own = build_mentions({"renshe": staged}, [_feed(no_organisation=["待 分 配"])])
    assert list(own.organisation["org_name"]) == ["个人参保", "云江市恒信科技有限公司"]
    assert list(own.issues["original_value"]) == ["待分配"]


def test_no_organisation_values_compare_after_normalisation():
    from matching.organisations import no_organisation_key

    keys = no_organisation_key(pd.Series(["（個人參保）", "【无】", "Ｎ/Ａ", "个人参保人员"]))
    assert list(keys) == ["个人参保", "无", "n/a", "个人参保人员"]


def test_old_organisation_code_is_kept_checked_and_read_from_credit_codes():
    codes = [OLD_CODE[:8] + "-" + OLD_CODE[8], OLD_CODE.lower(), WRONG_CHECK, CREDIT, "91445399ABC"]
    m = build_mentions({"renshe": _renshe(["甲公司"] * 5, codes)}, [_feed()])
    o = m.organisation.set_index("source_record_id")
    assert list(o["org_code"].iloc[:2]) == [OLD_CODE, OLD_CODE]  # written with a hyphen, lower case
    assert o["credit_code"].iloc[:3].isna().all()
    assert pd.isna(o.loc["2", "org_code"])  # wrong check character
    assert o.loc["3", "credit_code"] == CREDIT and o.loc["3", "org_code"] == OLD_CODE
    issues = m.issues.set_index("source_record_id")["reason_code"].to_dict()
    assert issues == {"2": "invalid_org_code", "4": "invalid_credit_code"}


def _resolved_employers(big: tuple[int, ...], namesakes: int = 0) -> pd.DataFrame:
    """Each 人社 employer mention with the entity it was resolved to and the registered record's entity."""
    return _resolved(*staged_feeds(registered(150, namesakes=namesakes), big=big))


def _resolved(staged: dict[str, pd.DataFrame], truth: pd.DataFrame) -> pd.DataFrame:
    m = build_mentions(staged, [Feed.model_validate(SHICHANG), Feed.model_validate(RENSHE)])
    orgs = m.organisation.copy()
    # what address binding adds: offices in one building share the registered address's code
    orgs["address_code"] = "A" + orgs["address_text"].str.extract(r"(\d+)号")[0].astype("string")
    for column in ("building_code", "grid_code", "business_address_code"):
        orgs[column] = pd.Series(pd.NA, index=orgs.index, dtype="string")
    r = resolve(orgs, EntitySettings.from_config("organisation"), run_id="t")
    entity = dict(zip(r.assignments["record_key"], r.assignments["entity_id"], strict=True))
    return truth.assign(got=truth["record_key"].map(entity), want=truth["registered_key"].map(entity))


@pytest.fixture(scope="module")
def employers() -> pd.DataFrame:
    # big employers below the cluster-size guard: what is measured here is the evidence, not the guard
    return _resolved_employers(big=(55, 50, 45))


@pytest.mark.parametrize("written_as", ["old", "name", "credit"])
def test_employer_mentions_join_their_registered_organisation(employers, written_as):
    e = employers[employers["written_as"] == written_as]
    assert len(e) > 20
    wrong = e[e["got"] != e["want"]]
    assert wrong.empty, f"{len(wrong)} of {len(e)} employer mentions written as {written_as!r} stay apart"


def test_a_name_two_credit_codes_carry_links_no_name_only_mention():
    """The last ten organisations carry the names of the first ten (other credit codes): a mention with only
    such a name is evidence for neither and joins neither; the other name-only mentions still join."""
    orgs = registered(150, namesakes=10)
    names_of = {f"shichang:S{i:05d}": name for i, name in enumerate(orgs["org_name"])}
    shared = set(orgs["org_name"].iloc[-10:])
    e = _resolved_employers(big=(55,), namesakes=10)
    name_only = e[e["written_as"] == "name"]
    ambiguous = name_only["registered_key"].map(names_of).isin(shared)
    assert ambiguous.sum() > 5 and (name_only[ambiguous]["got"] != name_only[ambiguous]["want"]).all()
    assert (name_only[~ambiguous]["got"] == name_only[~ambiguous]["want"]).all()
    wrong = e[(e["got"] != e["want"]) & e["got"].isin(set(e["want"]))]
    assert wrong.empty, wrong  # no mention is in another registered organisation


def test_namesakes_of_another_legal_form_keep_their_name_only_mentions():
    """The last ten organisations share 字号 and 行业 with the first ten and differ in 组织形式 (云江市X科技有限公司 /
    云江市X科技有限责任公司: two registered names, two credit codes), as ever more organisations do as a district
    grows. A mention with only a registered name joins that organisation: the name as registered tells the
    two apart where the name legal form aside is carried by two credit codes (such mentions joined neither)."""
    orgs = registered(150, namesakes=10)
    orgs.loc[140:, "org_name"] = orgs["org_name"].iloc[140:].str.replace("有限公司", "有限责任公司")
    e = _resolved(*staged_feeds(orgs, big=(55,)))
    namesake = e["registered_key"].isin([f"shichang:S{i:05d}" for i in (*range(10), *range(140, 150))])
    written = e[(e["written_as"] == "name") & namesake]
    assert len(written) > 10
    wrong = written[written["got"] != written["want"]]
    assert wrong.empty, f"{len(wrong)} of {len(written)} name-only mentions of namesakes stay apart"
    assert (e["got"] == e["want"]).all()  # every mention, whatever it carries, is in its own organisation


def test_a_registered_name_mostly_one_credit_codes_decides_for_it():
    """Namesakes of another legal form (云江市X有限公司 / 云江市X有限责任公司) whose 人社 rows now and then write the
    other's registered name (the legal form swapped, with their own credit code): the name is then carried by
    two credit codes, but nearly all of its coded records are one organisation's. A mention with only that
    name joins that organisation (it joined neither: the name counted as evidence for both alike)."""
    orgs = registered(150, namesakes=10)
    orgs.loc[140:, "org_name"] = orgs["org_name"].iloc[140:].str.replace("有限公司", "有限责任公司")
    staged, truth = staged_feeds(orgs, big=(55, 50, 45))
    renshe = staged["renshe"]
    for first in range(3):  # one coded row of each big employer's namesake writes the big employer's name
        of_namesake = truth["registered_key"].eq(f"shichang:S{first + 140:05d}") & truth["written_as"].eq(
            "credit"
        )
        renshe.loc[of_namesake[of_namesake].index[0], "org_name"] = orgs["org_name"].iloc[first]
    e = _resolved(staged, truth)
    big = e["registered_key"].isin([f"shichang:S{i:05d}" for i in range(3)])
    written = e[big & (e["written_as"] == "name")]
    assert len(written) > 10
    wrong = written[written["got"] != written["want"]]
    assert wrong.empty, f"{len(wrong)} of {len(written)} name-only mentions of the big namesakes stay apart"
    assert (e.loc[~big, "got"] == e.loc[~big, "want"]).mean() > 0.99


def test_each_registered_organisation_stays_one():
    e = _resolved_employers(big=())
    assert e.groupby("want")["registered_key"].nunique().max() == 1
    assert e["got"].nunique() == e["registered_key"].nunique()


# -- owner columns ----------------------------------------------------------------------------------------
ZHUJIAN = {
    "name": "zhujian",
    "department": "住建",
    "source": {"kind": "file", "glob": "*.csv"},
    "entities": ["house", "person"],
    "record_id": "djbh",
    "address_relation": "产权",
    "owner_kind": "auto",
    "columns": {"djbh": "source_record_id", "zl": "address", "cqr": "name", "zjh": "id_number"},
}
OWNERS = pd.DataFrame(
    {
        "_feed": "zhujian",
        "_raw_sha256": "z",
        "_line": [2, 3, 4, 5, 6],
        "source_record_id": ["1", "2", "3", "4", "5"],
        "address": ["滨江路1号101", "滨江路1号102", "滨江路1号103", "滨江路1号104", "滨江路1号105"],
        "name": ["张伟", "云江市恒信科技有限公司", "青石区东湖街道居民委员会", "红星厂", "李娜"],
        # a resident ID; a credit code; none (the name decides); an old code; an ID with a typo
        "id_number": [
            "11010519491231002X",
            CREDIT,
            None,
            OLD_CODE[:8] + "-" + OLD_CODE[8],
            "110105194912310021",
        ],
    }
)


def test_owner_kind_auto_makes_company_owners_organisations_linked_to_their_house():
    m = build_mentions({"zhujian": OWNERS}, [Feed.model_validate(ZHUJIAN)])
    assert list(m.person["source_record_id"]) == ["1", "5"]
    o = m.organisation.set_index("source_record_id")
    assert list(o.index) == ["2", "3", "4"]
    assert o.loc["2", "org_name"] == "云江市恒信科技有限公司" and o.loc["2", "credit_code"] == CREDIT
    assert o.loc["4", "org_code"] == OLD_CODE
    assert len(m.house) == 5  # every row's house, whoever owns it
    owned = m.links[m.links["kind"] == "organisation_house"]
    assert set(zip(owned["from_key"], owned["to_key"], owned["relation"], strict=True)) == {
        (f"zhujian:{i}#org", f"zhujian:{i}#house", "产权") for i in ("2", "3", "4")
    }
    persons = m.links[m.links["kind"] == "person_house"]
    assert list(persons["from_key"]) == ["zhujian:1", "zhujian:5"]
    assert list(m.issues["source_record_id"]) == ["5"]  # the typo; no ID issue for the companies


def test_owner_kind_person_and_organisation_decide_for_every_row():
    as_persons = build_mentions(
        {"zhujian": OWNERS}, [Feed.model_validate({**ZHUJIAN, "owner_kind": "person"})]
    )
    assert len(as_persons.person) == 5 and as_persons.organisation.empty
    as_orgs = build_mentions(
        {"zhujian": OWNERS}, [Feed.model_validate({**ZHUJIAN, "owner_kind": "organisation"})]
    )
    assert len(as_orgs.organisation) == 5 and as_orgs.person.empty


def test_owner_of_a_feed_without_houses_still_reaches_its_house():
    feed = {**ZHUJIAN, "entities": ["person"]}
    m = build_mentions({"zhujian": OWNERS}, [Feed.model_validate(feed)])
    owned = m.links[m.links["kind"] == "organisation_house"]
    assert set(owned["to_key"]) <= set(m.house["record_key"]) and len(owned) == 3
    assert m.house.set_index("record_key").loc["zhujian:2#house", "derived"]


def test_organisation_shaped_names():
    from matching.organisations import organisation_shaped

    names = pd.Series(["云江市恒信科技有限公司", "红星厂", "王中心", "张伟", "某某银行云江支行（筹）", None])
    assert list(organisation_shaped(names)) == [True, True, False, False, True, False]
    # 个体工商户 and care homes a 住建 产权人 column names (江澜区赵记面馆 was taken for a person)
    shops = pd.Series(["江澜区赵记面馆", "老街网吧", "城东敬老院", "李记照相馆", "王面馆"])
    assert list(organisation_shaped(shops)) == [True, True, True, True, False]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"owner_kind": "auto", "entities": ["house"]}, "add 'person' to entities"),
        (
            {"owner_kind": "organisation", "entities": ["person", "organisation", "house"]},
            "two organisations",
        ),
        ({"owner_kind": "auto", "columns": {"djbh": "source_record_id", "zl": "address"}}, "map the owner"),
        ({"no_organisation": ["个人参保"]}, "no column maps to org_name"),
        ({"owner_kind": "owner"}, "owner_kind"),
    ],
)
def test_owner_and_employer_keys_are_validated(change, message):
    with pytest.raises(ValidationError, match=message):
        Feed.model_validate({**ZHUJIAN, **change})


def test_blank_no_organisation_value_is_refused():
    with pytest.raises(ValidationError, match="empty values"):
        Feed.model_validate({**RENSHE, "no_organisation": ["个人参保", " "]})


def test_company_owners_are_published_in_organisation_house():
    from warehouse.build import assemble_tables
    from warehouse.schema import ENTITY_TYPES, arrow_schema

    m = build_mentions({"zhujian": OWNERS}, [Feed.model_validate(ZHUJIAN)])
    mentions = {t: m.by_type()[t].assign(address_code=None) for t in ENTITY_TYPES}
    # every record its own entity: what is published is the wiring, not the resolution
    assignments = {
        t: pd.DataFrame(
            {
                "record_key": f["record_key"],
                "entity_id": f["record_key"].str.replace(r"\W", "_", regex=True),
                "score": 1.0,
                "method": "singleton",
            }
        )
        for t, f in mentions.items()
    }
    golden = {
        t: pd.DataFrame(
            {
                "entity_id": a["entity_id"],
                "name": "x",
                "id_number": None,
                "address_code": None,
                "grid_code": None,
            }
        )
        for t, a in assignments.items()
    }
    tables = assemble_tables(
        addresses=pd.DataFrame(columns=["address_code", "division_code", "grid_code", "lon", "lat"]),
        grids=pd.DataFrame(columns=["grid_code"]),
        priority={"zhujian": 70},
        mentions=mentions,
        assignments=assignments,
        golden=golden,
        links=m.links,
        issues=m.issues,
        bindings=pd.DataFrame(columns=["feed", "source_record_id", "field", "status"]),
        quarantine=pd.DataFrame(columns=arrow_schema("quarantine").names),
    )
    owned = tables["organisation_house"].to_pydict()
    assert owned["org_id"] == ["zhujian_2_org", "zhujian_3_org", "zhujian_4_org"]
    assert owned["house_id"] == ["zhujian_2_house", "zhujian_3_house", "zhujian_4_house"]
    assert set(owned["relation"]) == {"产权"} and owned["sources"] == [["zhujian"]] * 3
    assert all(owned["is_current"])
    assert sorted(tables["person_house"].to_pydict()["person_id"]) == ["zhujian_1", "zhujian_5"]
