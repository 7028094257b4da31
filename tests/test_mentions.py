"""Staged rows → mentions per entity type, with links and field issues."""

from __future__ import annotations

import pandas as pd

from gridhub.config import WorkspaceConfig
from matching.mentions import build_mentions

CONFIG = WorkspaceConfig.model_validate(
    {
        "name": "t",
        "district_code": "445399",
        "feeds": [
            {
                "name": "renshe",
                "department": "人社",
                "source": {"kind": "file", "glob": "*.csv"},
                "entities": ["person", "organisation"],
                "record_id": "xh",
                "address_relation": "居住",
                "columns": {
                    "xh": "source_record_id",
                    "xm": "name",
                    "sfzh": "id_number",
                    "dwmc": "org_name",
                    "tyshxydm": "credit_code",
                    "jzdz": "address",
                    "lxdh": "phone",
                },
            },
            {
                "name": "zhujian",
                "department": "住建",
                "source": {"kind": "file", "glob": "*.csv"},
                "entities": ["house", "person"],
                "record_id": "fwbh",
                "address_relation": "产权",
                "columns": {
                    "fwbh": "source_record_id",
                    "zl": "address",
                    "cqr": "name",
                    "zjh": "id_number",
                    "yt": "house_use",
                },
            },
        ],
    }
)


def staged_renshe() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "_feed": "renshe",
            "_raw_sha256": "h",
            "_line": [2, 3, 4],
            "source_record_id": ["1", "2", "3"],
            "name": ["張　偉", "李娜", None],
            "id_number": ["11010519491231002x", "110105194912310021", None],  # valid (lower x); bad check
            "org_name": ["云江市青石建设有限公司", "云江市青石建设有限公司", "某某商行"],
            "credit_code": ["91350100M000100Y43", None, "91350100M000100Y44"],  # valid; none; bad check
            "address": ["东湖街道滨江路１８号3栋201", None, "滨江路2号"],
            "phone": ["+86 138-0013-8000", "123", None],
        }
    )


def test_person_and_employer_mentions_with_link():
    m = build_mentions({"renshe": staged_renshe()}, CONFIG.feeds)
    p = m.person.set_index("source_record_id")
    assert list(m.person["record_key"]) == ["renshe:1", "renshe:2"]  # row 3 names nobody
    assert p.loc["1", "name"] == "张伟"  # 繁→简, full-width space folded
    assert p.loc["1", "id_number"] == "11010519491231002X"
    assert pd.isna(p.loc["2", "id_number"])  # bad check digit: not an identity...
    assert p.loc["1", "birth_date"] == pd.Timestamp("1949-12-31") and p.loc["1", "sex"] == "F"
    assert p.loc["1", "phone"] == "13800138000"
    assert p.loc["1", "address_relation"] == "居住"
    o = m.organisation.set_index("source_record_id")
    assert o.loc["1", "credit_code"] == "91350100M000100Y43" and pd.isna(o.loc["3", "credit_code"])
    assert o.loc["1", "record_key"] == "renshe:1#org"
    emp = m.links[m.links["kind"] == "person_organisation"]
    assert set(zip(emp["from_key"], emp["to_key"], strict=True)) == {
        ("renshe:1", "renshe:1#org"),
        ("renshe:2", "renshe:2#org"),
    }
    # ...but flagged, never silently dropped
    issues = set(zip(m.issues["source_record_id"], m.issues["field"], m.issues["reason_code"], strict=True))
    assert ("2", "id_number", "invalid_id_number") in issues
    assert ("3", "credit_code", "invalid_credit_code") in issues
    assert ("2", "phone", "invalid_phone") in issues
    # a person's residence is also a (derived) house mention, linked 居住
    assert "renshe:1#house" in set(m.house["record_key"])
    lives = m.links[m.links["kind"] == "person_house"]
    assert list(lives["relation"]) == ["居住"]


def test_house_feed_owner_is_linked_by_property_relation():
    staged = pd.DataFrame(
        {
            "_feed": "zhujian",
            "_raw_sha256": "h",
            "_line": [2],
            "source_record_id": ["F1"],
            "address": ["滨江路18号3幢201室"],
            "name": ["王芳"],
            "id_number": ["11010519491231002X"],
            "house_use": ["住宅"],
        }
    )
    m = build_mentions({"zhujian": staged}, CONFIG.feeds)
    assert list(m.house["record_key"]) == ["zhujian:F1#house"]
    assert not m.house["derived"].any()
    link = m.links.iloc[0]
    assert (link["from_key"], link["to_key"], link["relation"]) == ("zhujian:F1", "zhujian:F1#house", "产权")


def test_organisation_mentions_carry_the_registered_and_the_operating_address():
    from connectors.feeds import Feed

    feed = Feed.model_validate(
        {
            "name": "shichang",
            "department": "市场监管",
            "source": {"kind": "file", "glob": "*.csv"},
            "entities": ["organisation"],
            "record_id": "id",
            "columns": {
                "id": "source_record_id",
                "mc": "org_name",
                "zs": "org_address",
                "jycs": "org_business_address",
            },
        }
    )
    staged = pd.DataFrame(
        {
            "_feed": "shichang",
            "_raw_sha256": "h",
            "_line": [2, 3],
            "source_record_id": ["S1", "S2"],
            "org_name": ["云江市青石建设有限公司", "青石区某某商行"],
            "org_address": ["东湖街道滨江路１８号", "滨江路2号"],
            "org_business_address": ["  湖东路８号  ", None],
        }
    )
    o = build_mentions({"shichang": staged}, [feed]).organisation.set_index("source_record_id")
    assert o.loc["S1", "address_text"] == "东湖街道滨江路18号"  # 注册地址 stays address_text
    assert o.loc["S1", "business_address_text"] == "湖东路8号"  # 经营地址 normalised like any address
    assert pd.isna(o.loc["S2", "business_address_text"])


def test_house_code_and_assistance_type_reach_the_mentions():
    staged = pd.DataFrame(
        {
            "_feed": "zhujian",
            "_raw_sha256": "h",
            "_line": [2],
            "source_record_id": ["F1"],
            "address": ["滨江路18号3幢201室"],
            "house_code": [" ＦＷ-0001 "],
            "assistance_type": ["低保"],
            "name": ["王芳"],
        }
    )
    m = build_mentions({"zhujian": staged}, CONFIG.feeds)
    assert list(m.house["house_code"]) == ["FW-0001"]  # full-width folded, trimmed, case kept
    assert list(m.person["assistance_type"]) == ["低保"]
    renshe = build_mentions({"renshe": staged_renshe()}, CONFIG.feeds)
    derived = renshe.house[renshe.house["derived"]]
    assert derived["house_code"].isna().all()  # a person's residence names no department code


def test_an_invalid_id_number_stays_evidence_but_never_an_identity():
    from warehouse.checkchars import resident_id_check_char

    body = "44530519750621351"
    valid = body + resident_id_check_char(body)
    typo = valid[:15] + ("7" if valid[15] != "7" else "8") + valid[16:]  # one digit wrong
    swap = valid[:3] + valid[4] + valid[3] + valid[5:]  # two neighbours swapped
    staged = pd.DataFrame(
        {
            "_feed": "zhujian",
            "_raw_sha256": "h",
            "_line": [2, 3, 4, 5, 6],
            "source_record_id": ["F1", "F2", "F3", "F4", "F5"],
            "address": ["滨江路18号3幢201室"] * 5,
            "name": ["莫建华"] * 5,
            "id_number": [valid, typo, swap.lower(), "445305750621351", "不详"],
            "house_use": ["住宅"] * 5,
        }
    )
    m = build_mentions({"zhujian": staged}, CONFIG.feeds)
    p = m.person.set_index("source_record_id")
    # id_number: valid numbers only (golden records, the warehouse, one ID one person)
    assert p.loc["F1", "id_number"] == valid and p[["id_number"]].iloc[1:3].isna().all().all()
    # id_number_given: the number as given where it looks like one, for the ID comparison
    assert list(p["id_number_given"].iloc[:3]) == [valid, typo, swap]
    assert p.loc["F4", "id_number_given"] == p.loc["F4", "id_number"]  # 15 digits, upgraded to 18
    assert pd.isna(p.loc["F5", "id_number_given"])
    # the birth date and sex inside an invalid number are not used (a typo may sit in those digits)
    assert pd.isna(p.loc["F2", "birth_date"]) and p.loc["F2", "sex"] == "U"
    assert p.loc["F1", "birth_date"] == pd.Timestamp("1975-06-21")
    # the field issues are recorded as before
    bad = m.issues[(m.issues["field"] == "id_number")]
    assert set(bad["source_record_id"]) == {"F2", "F3", "F5"}
    assert set(bad["reason_code"]) == {"invalid_id_number"}


def test_a_masked_id_number_is_its_own_field_issue_kept_as_evidence():
    from warehouse.checkchars import resident_id_check_char

    body = "33021919850312123"
    valid = body + resident_id_check_char(body)
    typo = valid[:15] + ("7" if valid[15] != "7" else "8") + valid[16:]
    staged = pd.DataFrame(
        {
            "_feed": "zhujian",
            "_raw_sha256": "h",
            "_line": [2, 3, 4],
            "source_record_id": ["M1", "M2", "M3"],
            "address": ["滨江路18号3幢201室"] * 3,
            "name": ["莫建华", "莫建国", "莫建军"],
            "id_number": ["330219********1234", typo, "330219＊＊＊＊＊＊＊＊123X"],
            "house_use": ["住宅"] * 3,
        }
    )
    m = build_mentions({"zhujian": staged}, CONFIG.feeds)
    bad = m.issues[m.issues["field"] == "id_number"].set_index("source_record_id")
    # the department's masking policy apart from its real errors; the masked value stays as evidence
    assert bad["reason_code"].to_dict() == {
        "M1": "masked_id_number",
        "M2": "invalid_id_number",
        "M3": "masked_id_number",
    }
    assert bad.loc["M1", "original_value"] == "330219********1234"
    assert m.person["id_number"].isna().all()


def test_field_issues_have_the_same_column_types_whichever_rows_a_batch_holds():
    """A feed's rows are turned into mentions in batches and the pieces concatenated: a batch without any
    field issue must give an issue frame typed like one with issues, or the concatenated columns turn to
    object in one file and stay string in another."""
    from matching.mentions import feed_mentions

    feed = CONFIG.feeds[0]
    rows = staged_renshe()
    clean = feed_mentions(rows.iloc[[0]], feed)["issues", "person"]  # a valid ID, a valid phone: no issue
    dirty = feed_mentions(rows.iloc[[1]], feed)["issues", "person"]  # a bad check digit, a bad phone
    assert len(clean) == 0 and len(dirty) > 0
    assert dict(clean.dtypes) == dict(dirty.dtypes)
    both = pd.concat([clean, dirty], ignore_index=True)
    assert (both.dtypes == "string").all()
