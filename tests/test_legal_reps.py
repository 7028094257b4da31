"""法定代表人 as a person–organisation relation (issue 12, cause 6): by ID, else by name with evidence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

ORG = "O000000000001"


def rid(body: str) -> str:
    """A valid 18-character resident ID for a 17-digit body (GB 11643 check character)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


ID_A, ID_B, ID_C = rid("44539919800101001"), rid("44539919850505002"), rid("44539919900909003")


def persons(*rows: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Person mentions (one per row, each its own person unless ``person`` says otherwise) and assignments."""
    cols = ["name", "id_number", "address_code", "building_code", "hukou_address_code", "hukou_building_code"]
    cols += ["grid_code", "birth_date", "sex", "phone"]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols).astype("string")
    df.insert(0, "record_key", [f"gongan:{i}" for i in range(len(rows))])
    assignments = pd.DataFrame(
        {"record_key": df["record_key"], "entity_id": [r.get("person", f"P{i}") for i, r in enumerate(rows)]}
    )
    return df, assignments


def organisation(**values) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One 市场监管 organisation mention, its assignment and its golden record."""
    cols = ["legal_rep", "legal_rep_id", "legal_rep_id_invalid", "address_code", "building_code", "grid_code"]
    cols += ["org_phone"]
    m = pd.DataFrame([{c: values.get(c) for c in cols}], columns=cols).astype("string")
    m.insert(0, "record_key", "shichang:S1")
    m["feed"], m["priority"], m["record_date"] = "shichang", 50, pd.Timestamp("2024-01-01")
    golden = pd.DataFrame({"org_id": [ORG], "legal_rep": [values.get("legal_rep")]})
    return m, pd.DataFrame({"record_key": ["shichang:S1"], "entity_id": [ORG]}), golden


def employed(person_key: str) -> pd.DataFrame:
    """A 人社 就业 link from a person mention to the organisation mention (as matching.mentions writes it)."""
    return pd.DataFrame(
        {
            "from_key": [person_key],
            "to_key": ["shichang:S1"],
            "kind": ["person_organisation"],
            "relation": ["就业"],
        }
    )


NO_LINKS = pd.DataFrame(columns=["from_key", "to_key", "kind", "relation"])


def link(people, org, links=NO_LINKS, rules=None) -> dict:
    """The one organisation's outcome (``rules``: :class:`matching.roles.LegalRepRules`, None for defaults)."""
    from matching.roles import link_legal_representatives

    (p, pa), (o, oa, g) = people, org
    out = link_legal_representatives(
        persons=p,
        person_assignments=pa,
        organisations=o,
        organisation_assignments=oa,
        organisation_golden=g,
        links=links,
        **({} if rules is None else {"rules": rules}),
    )
    assert list(out["org_id"]) == [ORG]  # every organisation gets exactly one outcome
    row = out.iloc[0]
    return {
        "person": None if pd.isna(row["legal_rep_person_id"]) else row["legal_rep_person_id"],
        "link": row["legal_rep_link"],
    }


def test_a_valid_id_links_the_person_with_that_id_whatever_the_name():
    people = persons({"name": "王伟", "id_number": ID_A}, {"name": "王玮", "id_number": ID_B})
    assert link(people, organisation(legal_rep="王伟", legal_rep_id=ID_B)) == {"person": "P1", "link": "id"}


def test_a_valid_id_nobody_has_rules_out_namesakes_with_other_ids():
    people = persons({"name": "王伟", "id_number": ID_A, "address_code": "A1"})
    org = organisation(legal_rep="王伟", legal_rep_id=ID_C, address_code="A1")
    assert link(people, org) == {"person": None, "link": "no_person_with_id"}


def test_name_and_the_registered_address_pick_one_of_the_namesakes():
    people = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A9"},
        {"name": "王伟", "id_number": ID_B, "address_code": "A1", "building_code": "B1"},
        {"name": "王伟", "address_code": "A7"},
    )
    org = organisation(legal_rep="王伟", address_code="A1", building_code="B1")
    assert link(people, org) == {"person": "P1", "link": "name_and_address"}


def test_name_and_employment_pick_one_of_the_namesakes():
    people = persons({"name": "李娜", "address_code": "A2"}, {"name": "李娜", "address_code": "A3"})
    org = organisation(legal_rep="李娜", address_code="A1")
    assert link(people, org, employed("gongan:1")) == {"person": "P1", "link": "name_and_employment"}


def test_namesakes_with_equal_support_are_not_linked():
    people = persons(
        {"name": "张伟", "building_code": "B1", "address_code": "A2"},
        {"name": "张伟", "building_code": "B1", "address_code": "A3"},
    )
    org = organisation(legal_rep="张伟", address_code="A1", building_code="B1")
    # the same building supports only a name nobody else has: two 张伟 in it are no evidence at all
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}
    # the same address and working there: equal support, still two candidates
    people = persons({"name": "张伟", "address_code": "A1"}, {"name": "张伟", "address_code": "A5"})
    assert link(people, org, employed("gongan:1")) == {"person": None, "link": "ambiguous_name"}


def test_a_name_alone_links_no_one():
    people = persons({"name": "陈静", "address_code": "A2"})
    assert link(people, organisation(legal_rep="陈静", address_code="A1")) == {
        "person": None,
        "link": "no_supporting_evidence",
    }
    assert link(people, organisation(legal_rep="赵敏", address_code="A1")) == {
        "person": None,
        "link": "name_not_found",
    }
    assert link(people, organisation()) == {"person": None, "link": "no_legal_rep"}


def test_an_invalid_id_one_typo_from_a_namesakes_id_is_the_strongest_evidence():
    swapped = ID_B[:8] + ID_B[9] + ID_B[8] + ID_B[10:]  # two neighbouring digits swapped: check digit fails
    people = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A1"},
        {"name": "王伟", "id_number": ID_B, "address_code": "A5"},
    )
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=swapped, address_code="A1")
    assert link(people, org) == {"person": "P1", "link": "name_and_id_typo"}


def test_a_homophone_of_the_name_with_evidence_links_when_nobody_has_the_name_as_written():
    people = persons({"name": "张伟", "address_code": "A1"}, {"name": "章伟", "address_code": "A1"})
    assert link(people, organisation(legal_rep="张玮", address_code="A1")) == {
        "person": "P0",
        "link": "homophone_and_address",
    }
    # a name that only sounds the same needs more than the same building
    people = persons({"name": "张伟", "address_code": "A2", "building_code": "B1"})
    assert link(people, organisation(legal_rep="张玮", address_code="A1", building_code="B1")) == {
        "person": None,
        "link": "no_supporting_evidence",
    }


def test_an_id_nobody_carries_links_the_namesake_born_on_its_birth_date():
    # ID_B encodes 1985-05-05 and a woman (sequence 002); neither namesake's records carry an ID
    people = persons(
        {"name": "王芳", "birth_date": "1980-01-01", "sex": "F"},
        {"name": "王芳", "birth_date": "1985-05-05", "sex": "F"},
    )
    assert link(people, organisation(legal_rep="王芳", legal_rep_id=ID_B)) == {
        "person": "P1",
        "link": "name_and_id_birth",
    }
    # an invalid ID two edits from anything still gives its birth date, and the sex must agree
    garbled = ID_B[:14] + "97" + ID_B[16:]  # sequence 972: still a woman
    assert link(people, organisation(legal_rep="王芳", legal_rep_id_invalid=garbled)) == {
        "person": "P1",
        "link": "name_and_id_birth",
    }
    man = persons({"name": "王芳", "birth_date": "1985-05-05", "sex": "M"})
    assert link(man, organisation(legal_rep="王芳", legal_rep_id_invalid=garbled))["person"] is None


def test_a_namesake_born_on_another_day_than_the_valid_id_says_is_ruled_out():
    """The outsider case with an ID: a namesake at the organisation's address is not the representative when
    the representative's valid ID gives another birth date (or sex) than the namesake's records."""
    people = persons({"name": "刘洋", "birth_date": "1970-03-03", "address_code": "A1", "sex": "F"})
    org = organisation(legal_rep="刘洋", legal_rep_id=ID_B, address_code="A1")
    assert link(people, org) == {"person": None, "link": "no_person_with_id"}
    man = persons({"name": "刘洋", "birth_date": "1985-05-05", "address_code": "A1", "sex": "M"})
    assert link(man, org) == {"person": None, "link": "no_person_with_id"}
    same = persons({"name": "刘洋", "birth_date": "1985-05-05", "address_code": "A1", "sex": "F"})
    assert link(same, org)["person"] == "P0"


def test_the_same_building_or_grid_supports_only_a_name_no_other_person_has():
    org = organisation(legal_rep="欧阳霁川", address_code="A1", building_code="B1", grid_code="G1")
    people = persons({"name": "欧阳霁川", "address_code": "A7", "grid_code": "G1"}, {"name": "王伟"})
    assert link(people, org) == {"person": "P0", "link": "name_and_grid"}
    people = persons({"name": "欧阳霁川", "address_code": "A7", "building_code": "B1", "grid_code": "G1"})
    assert link(people, org) == {"person": "P0", "link": "name_and_building"}
    # a namesake in the building and another elsewhere: the building is no evidence
    people = persons(
        {"name": "欧阳霁川", "address_code": "A7", "building_code": "B1"},
        {"name": "欧阳霁川", "address_code": "A9", "building_code": "B9"},
    )
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}
    # two persons of that name: living in the organisation's grid is no evidence for either
    people = persons(
        {"name": "欧阳霁川", "address_code": "A7", "grid_code": "G1"},
        {"name": "欧阳霁川", "address_code": "A8", "grid_code": "G2"},
    )
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}
    # nor for a name that only sounds the same
    people = persons({"name": "欧阳济川", "address_code": "A7", "grid_code": "G1"})
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}


def test_a_representative_in_no_person_feed_is_not_linked_to_a_namesake_on_weak_evidence():
    """A representative living outside the district is in no person feed; a namesake of the district in the
    organisation's grid (a common name) or somewhere else (a rare one) is not linked."""
    org = organisation(legal_rep="张伟", address_code="A1", building_code="B1", grid_code="G1")
    people = persons(
        {"name": "张伟", "address_code": "A5", "building_code": "B5", "grid_code": "G1"},
        {"name": "张伟", "address_code": "A6", "building_code": "B6", "grid_code": "G2"},
    )
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}
    rare = organisation(legal_rep="欧阳霁川", address_code="A1", grid_code="G1")
    people = persons({"name": "欧阳霁川", "address_code": "A5", "grid_code": "G9"})
    assert link(people, rare) == {"person": None, "link": "no_supporting_evidence"}


def test_the_organisations_contact_phone_on_a_namesakes_records_links_that_namesake():
    people = persons(
        {"name": "刘洋", "address_code": "A2", "phone": "13800000001"},
        {"name": "刘洋", "address_code": "A3", "phone": "13900000002"},
        # the second record of the first 刘洋 (another feed) carries the mobile the shop registered
        {"name": "刘洋", "address_code": "A2", "phone": "13700000003", "person": "P0"},
    )
    org = organisation(legal_rep="刘洋", address_code="A1", org_phone="13700000003")
    assert link(people, org) == {"person": "P0", "link": "name_and_phone"}


def test_a_phone_two_namesakes_share_links_neither():
    # two 刘洋 (father and son) whose records both carry the household's number
    people = persons(
        {"name": "刘洋", "address_code": "A2", "phone": "07595551234"},
        {"name": "刘洋", "address_code": "A2", "phone": "07595551234"},
    )
    org = organisation(legal_rep="刘洋", address_code="A1", org_phone="07595551234")
    assert link(people, org) == {"person": None, "link": "ambiguous_name"}


def test_a_phone_supports_a_name_but_never_links_on_its_own():
    people = persons({"name": "刘洋", "address_code": "A2", "phone": "13800000001"})
    org = organisation(legal_rep="赵敏", address_code="A1", org_phone="13800000001")
    assert link(people, org) == {"person": None, "link": "name_not_found"}
    # a number shared with another person counts, but less than the address of another namesake
    people = persons(
        {"name": "刘洋", "address_code": "A2", "phone": "13800000001"},
        {"name": "刘敏", "address_code": "A2", "phone": "13800000001"},
        {"name": "刘洋", "address_code": "A1"},
    )
    org = organisation(legal_rep="刘洋", address_code="A1", org_phone="13800000001")
    assert link(people, org) == {"person": "P2", "link": "name_and_address"}


def test_the_contact_phone_of_someone_living_with_a_namesake_supports_that_namesake():
    # a family shop registers the husband's mobile; the representative (the wife) has no phone of her own
    people = persons(
        {"name": "王芳", "address_code": "A2"},
        {"name": "李强", "address_code": "A2", "phone": "13900000009"},
        {"name": "王芳", "address_code": "A3"},
    )
    org = organisation(legal_rep="王芳", address_code="A1", org_phone="13900000009")
    assert link(people, org) == {"person": "P0", "link": "name_and_household_phone"}


def test_a_contact_phone_held_by_someone_living_elsewhere_supports_no_namesake():
    people = persons(
        {"name": "王芳", "address_code": "A2"},
        {"name": "李强", "address_code": "A4", "phone": "13900000009"},
        {"name": "王芳", "address_code": "A3"},
    )
    org = organisation(legal_rep="王芳", address_code="A1", org_phone="13900000009")
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}


def test_a_household_phone_does_not_support_a_name_that_only_sounds_the_same():
    people = persons(
        {"name": "王方", "address_code": "A2"},
        {"name": "李强", "address_code": "A2", "phone": "13900000009"},
    )
    org = organisation(legal_rep="王芳", address_code="A1", org_phone="13900000009")
    assert link(people, org)["person"] is None


def test_organisation_mentions_carry_a_valid_contact_phone_and_flag_an_invalid_one():
    from connectors.feeds import Feed
    from matching.mentions import build_mentions

    feed = Feed.model_validate(
        {
            "name": "shichang",
            "department": "市场监管",
            "source": {"kind": "file", "glob": "*.csv"},
            "entities": ["organisation"],
            "record_id": "id",
            "columns": {"id": "source_record_id", "mc": "org_name", "dh": "org_phone"},
        }
    )
    staged = pd.DataFrame(
        {
            "_feed": "shichang",
            "_raw_sha256": "h",
            "_line": [2, 3, 4],
            "source_record_id": ["S1", "S2", "S3"],
            "org_name": ["甲公司", "乙公司", "丙公司"],
            "org_phone": ["+86 138 0013 8000", "1380013", None],
        }
    )
    m = build_mentions({"shichang": staged}, [feed])
    o = m.organisation.set_index("source_record_id")
    assert o.loc["S1", "org_phone"] == "13800138000"
    assert pd.isna(o.loc["S2", "org_phone"]) and pd.isna(o.loc["S3", "org_phone"])
    issues = m.issues[m.issues["field"] == "org_phone"]
    assert list(issues["source_record_id"]) == ["S2"]
    assert list(issues["reason_code"]) == ["invalid_phone"]


def market_feed(**columns: str):
    """A 市场监管 feed mapping ``id`` and ``mc`` (name) and the given headers → staging fields."""
    from connectors.feeds import Feed

    return Feed.model_validate(
        {
            "name": "shichang",
            "department": "市场监管",
            "source": {"kind": "file", "glob": "*.csv"},
            "entities": ["organisation"],
            "record_id": "id",
            "columns": {"id": "source_record_id", "mc": "org_name", **columns},
        }
    )


def test_organisation_mentions_carry_the_legal_representatives_valid_id_and_flag_an_invalid_one():
    from matching.mentions import build_mentions

    feed = market_feed(fr="legal_rep", frzj="legal_rep_id")
    bad = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    staged = pd.DataFrame(
        {
            "_feed": "shichang",
            "_raw_sha256": "h",
            "_line": [2, 3, 4],
            "source_record_id": ["S1", "S2", "S3"],
            "org_name": ["甲公司", "乙公司", "丙公司"],
            "legal_rep": ["王偉", "李娜", "张伟"],
            "legal_rep_id": [ID_A.lower() if ID_A.endswith("X") else " " + ID_A, bad, None],
        }
    )
    m = build_mentions({"shichang": staged}, [feed])
    o = m.organisation.set_index("source_record_id")
    assert o.loc["S1", "legal_rep_id"] == ID_A
    assert o.loc["S1", "legal_rep"] == "王伟"  # names compare 繁→简, as persons' names do
    assert pd.isna(o.loc["S2", "legal_rep_id"]) and o.loc["S2", "legal_rep_id_invalid"] == bad
    assert pd.isna(o.loc["S3", "legal_rep_id"]) and pd.isna(o.loc["S3", "legal_rep_id_invalid"])
    issues = m.issues[m.issues["field"] == "legal_rep_id"]
    assert list(issues["source_record_id"]) == ["S2"]
    assert list(issues["reason_code"]) == ["invalid_id_number"]


REP_ID_HEADER = "法定代表人证件号码"


def _give_representatives_ids(root: Path) -> None:
    """The 市场监管 extract of a sample workspace names every other representative's ID (the true one), if
    the sample does not already give a 法定代表人证件号码 column, and gridhub.yaml maps it."""
    config = yaml.safe_load((root / "gridhub.yaml").read_text(encoding="utf-8"))
    feed = next(f for f in config["feeds"] if f["name"] == "shichang_orgs")
    if "legal_rep_id" in feed["columns"].values():
        return
    feed["columns"][REP_ID_HEADER] = "legal_rep_id"
    (root / "gridhub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    records = pd.read_csv(root / "truth" / "records.csv", dtype=str)
    org_key = records[records["feed"] == "shichang_orgs"].set_index("source_record_id")["entity_key"]
    rep_key = pd.read_csv(root / "truth" / "organisations.csv", dtype=str).set_index("org_key")[
        "legal_rep_key"
    ]
    id_of = pd.read_csv(root / "truth" / "persons.csv", dtype=str).set_index("person_key")["id_number"]
    for path in (root / "landing" / "shichang_orgs").glob("*.csv"):
        rows = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=feed["source"]["encoding"])
        true_id = rows[feed["record_id"]].map(org_key).map(rep_key).map(id_of).fillna("")
        rows[REP_ID_HEADER] = true_id.where(rows.index % 2 == 0, "")
        rows.to_csv(path, index=False, encoding=feed["source"]["encoding"])


@pytest.fixture
def published(workspace_copy):
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.workspace import Workspace

    _give_representatives_ids(workspace_copy)
    ws = Workspace(workspace_copy)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    return ws, pipeline.run_all(ws)


def test_the_warehouse_publishes_legal_representatives_as_relations(published):
    from warehouse import read_table

    ws, result = published
    org = read_table(ws.warehouse, "organisation", layer="restricted").to_pandas()
    po = read_table(ws.warehouse, "person_organisation", layer="restricted").to_pandas()
    person = read_table(ws.warehouse, "person", layer="restricted").to_pandas()
    assert org["legal_rep_link"].notna().all()  # every organisation says how (or why not)
    reps = po[po["relation"] == "法定代表人"]
    assert len(reps) > 0 and reps["person_id"].notna().all() and reps["org_id"].notna().all()
    linked = org.dropna(subset=["legal_rep_person_id"])
    assert set(zip(reps["org_id"], reps["person_id"], strict=True)) == set(
        zip(linked["org_id"], linked["legal_rep_person_id"], strict=True)
    )
    assert set(reps["person_id"]) <= set(person["person_id"])
    counts = result["resolve_entities"]["legal_representatives"]
    assert sum(counts.values()) == len(org) and counts.get("id", 0) > 0
    # the person linked is the one the sample made the representative (the sample's truth): resolved ids
    # map to the sample's keys by the records resolved into them
    records = pd.read_csv(ws.root / "truth" / "records.csv", dtype=str)
    xref = read_table(ws.warehouse, "source_xref", layer="restricted").to_pandas()
    keys = xref.merge(records, on=["feed", "source_record_id", "entity_type"])
    key_of = keys.groupby("entity_id")["entity_key"].agg(lambda s: s.mode().iloc[0])
    truth = pd.read_csv(ws.root / "truth" / "organisations.csv", dtype=str).set_index("org_key")
    right = reps["person_id"].map(key_of) == reps["org_id"].map(key_of).map(truth["legal_rep_key"])
    assert right.mean() >= 0.95, reps[~right]


def test_a_child_is_never_taken_for_the_representative():
    """Seen at 100,000 persons: a restaurant whose representative lives outside the district registered a
    waiter's mobile; the waiter's 12-year-old son has the representative's name, so the household phone
    linked the boy. A 法定代表人 needs full civil capacity (16 at the least)."""
    people = persons(
        {"name": "黄超", "birth_date": "2012-03-04", "address_code": "A2"},
        {"name": "李强", "birth_date": "1985-01-01", "address_code": "A2", "phone": "13900000009"},
    )
    # the organisation's mention is dated 2024-01-01: the boy is 11 on the newest date the data carry
    org = organisation(legal_rep="黄超", address_code="A1", org_phone="13900000009")
    # a child is no candidate: no person who could be the representative has the name
    assert link(people, org) == {"person": None, "link": "name_not_found"}
    # the rule is a setting: min_age 0 turns it off (and the phone of the household links the boy again)
    from matching.roles import LegalRepRules

    assert link(people, org, rules=LegalRepRules(min_age=0))["person"] == "P0"


def test_a_child_with_the_same_name_does_not_make_an_adults_name_common():
    org = organisation(legal_rep="欧阳霁川", address_code="A1", grid_code="G1")
    people = persons(
        {"name": "欧阳霁川", "birth_date": "1980-05-05", "address_code": "A7", "grid_code": "G1"},
        {"name": "欧阳霁川", "birth_date": "2019-08-08", "address_code": "A9", "grid_code": "G2"},
    )
    assert link(people, org) == {"person": "P0", "link": "name_and_grid"}
    # an adult namesake elsewhere still makes it common: the grid is no evidence
    people = persons(
        {"name": "欧阳霁川", "birth_date": "1980-05-05", "address_code": "A7", "grid_code": "G1"},
        {"name": "欧阳霁川", "birth_date": "1979-08-08", "address_code": "A9", "grid_code": "G2"},
    )
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}


def test_one_birth_date_keyed_wrong_does_not_make_an_adult_a_child():
    # the representative's 人社 record says 2015 (a slip), 公安 says 1985: the oldest date decides
    people = persons(
        {"name": "陈静", "birth_date": "2015-03-03", "address_code": "A1"},
        {"name": "陈静", "birth_date": "1985-03-03", "address_code": "A1", "person": "P0"},
    )
    assert link(people, organisation(legal_rep="陈静", address_code="A1")) == {
        "person": "P0",
        "link": "name_and_address",
    }


def test_a_homophone_with_evidence_links_when_the_namesakes_as_written_have_none():
    """市场监管 keyed 张铭 for 张明 (a sound-alike slip); a 张铭 lives elsewhere in the district with no tie
    to the organisation, while 张明 is insured there (人社)."""
    people = persons({"name": "张铭", "address_code": "A5"}, {"name": "张明", "address_code": "A6"})
    org = organisation(legal_rep="张铭", address_code="A1")
    assert link(people, org, employed("gongan:1")) == {"person": "P1", "link": "homophone_and_employment"}
    from matching.roles import LegalRepRules

    off = link(people, org, employed("gongan:1"), LegalRepRules(homophone_fallback=False))
    assert off == {"person": None, "link": "no_supporting_evidence"}


def test_the_name_as_written_with_evidence_beats_a_homophone_with_evidence():
    people = persons({"name": "张铭", "address_code": "A1"}, {"name": "张明", "address_code": "A6"})
    org = organisation(legal_rep="张铭", address_code="A1")
    assert link(people, org, employed("gongan:1")) == {"person": "P0", "link": "name_and_address"}


def test_a_homophone_is_not_linked_on_weak_evidence_when_namesakes_exist():
    # the same building (a unique name), a household's phone: too weak for a name that only sounds the same
    people = persons(
        {"name": "张铭", "address_code": "A5"},
        {"name": "张明", "address_code": "A6", "building_code": "B1", "grid_code": "G1"},
        {"name": "李红", "address_code": "A6", "phone": "13900000009"},
    )
    org = organisation(
        legal_rep="张铭", address_code="A1", building_code="B1", grid_code="G1", org_phone="13900000009"
    )
    assert link(people, org) == {"person": None, "link": "no_supporting_evidence"}


def test_the_legal_representative_rules_are_read_from_gridhub_yaml():
    from gridhub.config import ConfigError, WorkspaceConfig

    base = {"name": "青石区", "district_code": "445399", "feeds": []}
    assert WorkspaceConfig.model_validate(base).legal_representatives.min_age == 16
    cfg = WorkspaceConfig.model_validate({**base, "legal_representatives": {"min_age": 18}})
    assert cfg.legal_representatives.min_age == 18 and cfg.legal_representatives.homophone_fallback
    with pytest.raises((ConfigError, ValueError)):
        WorkspaceConfig.model_validate({**base, "legal_representatives": {"min_age": 18, "unique_name": 1}})


def test_a_masked_id_links_the_namesake_whose_id_shows_through_it():
    """Shared extracts often mask IDs (脱敏: area code and the last four shown). The characters shown link the
    namesake whose valid ID has them, and rule out one whose ID shows another: two IDs, two people."""
    masked = ID_B[:6] + "*" * 8 + ID_B[14:]
    people = persons(
        {"name": "王伟", "id_number": ID_A, "address_code": "A1"},  # at the address, but another ID
        {"name": "王伟", "id_number": ID_B, "address_code": "A5"},
    )
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=masked, address_code="A1")
    assert link(people, org) == {"person": "P1", "link": "name_and_id_masked"}
    # an outsider of the same name: the area code and the last four shown are not the namesake's
    outsider = ID_C[:6] + "*" * 8 + ID_C[14:]
    only_a = persons({"name": "王伟", "id_number": ID_A, "address_code": "A1"})
    org = organisation(legal_rep="王伟", legal_rep_id_invalid=outsider, address_code="A1")
    assert link(only_a, org) == {"person": None, "link": "no_person_with_id"}
    # too little shown to be evidence (test_legal_reps_masked), but a check character that differs rules out
    org = organisation(legal_rep="王伟", legal_rep_id_invalid="4" + "*" * 16 + ID_C[-1], address_code="A1")
    assert link(only_a, org) == {"person": None, "link": "no_person_with_id"}


def test_a_masked_id_reaches_the_linker_as_written_with_its_mask_folded():
    from matching.mentions import build_mentions

    feed = market_feed(fr="legal_rep", frzj="legal_rep_id")
    staged = pd.DataFrame(
        {
            "_feed": "shichang",
            "_raw_sha256": "h",
            "_line": [2],
            "source_record_id": ["S1"],
            "org_name": ["甲公司"],
            "legal_rep": ["王伟"],
            "legal_rep_id": ["445399＊＊＊＊＊＊＊＊123x"],  # full-width asterisks, a lower-case x
        }
    )
    o = build_mentions({"shichang": staged}, [feed]).organisation
    assert pd.isna(o.loc[0, "legal_rep_id"]) and o.loc[0, "legal_rep_id_invalid"] == "445399********123X"
