"""Legal representatives in a district of namesakes (issue #19): only the namesakes evidence or an ID can decide
are paired with an organisation, the others are counted; the links are those of pairing every namesake.

Pairing each organisation with every resident of its representative's name grows with the organisations times
the namesakes (王伟 has hundreds in a million residents). ``matching.roles_candidates.name_candidates`` pairs
only the namesakes that share a fact some evidence compares, or that the representative's ID cannot rule out.
"""

from __future__ import annotations

import random

import pandas as pd
from test_legal_reps import rid

from matching import roles_candidates
from matching.roles import link_legal_representatives
from matching.roles_candidates import Resolved, name_candidates
from matching.roles_evidence import column

NAMES = ["王伟", "王玮", "李娜", "张伟", "张玮", "陈静", "刘洋", "赵敏"]
#: names one person has (a name no other person has is the only one the same building or grid supports)
UNIQUE = ["钱" + c for c in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"] + [
    "孙" + c for c in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
]


def _district(seed: int, n_persons: int = 400, n_orgs: int = 160) -> dict[str, pd.DataFrame]:
    """Persons from a few (homophone) names with shared phones, addresses and buildings; organisations whose
    representatives come with a valid, mistyped, masked, foreign or no ID, or a name nobody has."""
    rnd = random.Random(seed)
    rows, ids = [], []
    for i in range(n_persons):
        body = f"4453{rnd.randint(10, 12)}{rnd.randint(1950, 2012)}{rnd.randint(1, 12):02d}{rnd.randint(1, 9):02d}"
        ids.append(rid(body + f"{i % 1000:03d}"))
        for _ in range(rnd.choice([1, 1, 2])):
            rows.append(
                {
                    "name": _name(rnd, i, rows),
                    "id_number": ids[-1] if rnd.random() < 0.85 and i % 10 != 3 else None,
                    "birth_date": f"{body[6:10]}-{body[10:12]}-{body[12:14]}" if rnd.random() < 0.7 else None,
                    "sex": rnd.choice(["FM"[int(ids[-1][16]) % 2], None]),
                    "phone": _phone(rnd, i),
                    "address_code": f"A{rnd.randint(0, 80)}" if rnd.random() < 0.9 else None,
                    "hukou_address_code": f"A{rnd.randint(0, 80)}" if rnd.random() < 0.5 else None,
                    "building_code": f"B{rnd.randint(0, 20)}",
                    "grid_code": f"G{rnd.randint(0, 4)}",
                    "person": f"P{i:04d}",
                }
            )
    for r in rows:  # each person keeps its first name on most mentions; some names are written once
        r["name"] = r["name"] if rnd.random() < 0.9 else rnd.choice(NAMES + ["孙悟"])
    people = pd.DataFrame(rows).drop(columns="person").astype("string")
    people.insert(0, "record_key", [f"gongan:{i}" for i in range(len(rows))])
    person_assignments = pd.DataFrame(
        {"record_key": people["record_key"], "entity_id": [r["person"] for r in rows]}
    )
    orgs: list[dict] = []
    works: list[tuple[str, str]] = []
    for j in range(n_orgs):
        who = rnd.randrange(n_persons)
        valid, invalid = None, None
        kind = rnd.choice(["valid", "nobody", "typo", "typo", "mask", "mask", "passport", "none", "none"])
        if kind == "valid":
            valid = ids[who]
        elif kind == "nobody":
            valid = rid(f"445312{rnd.randint(1950, 2000)}0101{rnd.randint(100, 999)}")
        elif kind == "typo":
            invalid = _typo(rnd, ids[who])
        elif kind == "mask":
            head, tail = rnd.choice([(6, 4), (10, 4), (3, 4), (4, 2)])
            invalid = ids[who][:head] + "*" * (18 - head - tail) + ids[who][18 - tail :]
        elif kind == "passport":
            invalid = f"E{rnd.randint(10**7, 10**8)}"
        own = [r for r in rows if r["person"] == f"P{who:04d}"]
        if rnd.random() < 0.15:  # insured with the organisation by 人社
            works.append((f"gongan:{rows.index(own[0])}", f"shichang:S{j}"))
        name = rnd.choice(own)["name"] if rnd.random() < 0.8 else rnd.choice([*NAMES, "周芷若"])
        phones = [r["phone"] for r in own if r["phone"]] + [_phone(rnd, rnd.randrange(n_persons)), None]
        orgs.append(
            {
                "record_key": f"shichang:S{j}",
                "legal_rep": name,
                "legal_rep_id": valid,
                "legal_rep_id_invalid": invalid,
                "address_code": rnd.choice([own[0]["address_code"] or "A0", f"A{rnd.randint(0, 80)}"]),
                "building_code": rnd.choice([own[0]["building_code"], f"B{rnd.randint(0, 20)}"]),
                "grid_code": f"G{rnd.randint(0, 4)}",
                "org_phone": rnd.choice(phones),
            }
        )
    organisations = pd.DataFrame(orgs).astype("string")
    organisations["feed"], organisations["priority"] = "shichang", 50
    organisations["record_date"] = pd.Timestamp("2024-01-01")
    org_ids = [f"O{j:04d}" for j in range(n_orgs)]
    org_assignments = pd.DataFrame({"record_key": organisations["record_key"], "entity_id": org_ids})
    works += [(f"gongan:{i}", f"shichang:S{rnd.randrange(n_orgs)}") for i in rnd.sample(range(len(rows)), 40)]
    links = pd.DataFrame(works, columns=["from_key", "to_key"]).assign(
        kind="person_organisation", relation="就业"
    )
    return {
        "persons": people,
        "person_assignments": person_assignments,
        "organisations": organisations,
        "organisation_assignments": org_assignments,
        "organisation_golden": pd.DataFrame({"org_id": org_ids, "legal_rep": organisations["legal_rep"]}),
        "links": links,
    }


def _phone(rnd: random.Random, i: int) -> str | None:
    """A person's own mobile, a household's shared one, or none."""
    return rnd.choice([f"139{i:08d}", f"139{i:08d}", f"1380000{i // 4:04d}", None])


def _typo(rnd: random.Random, id18: str) -> str:
    """``id18`` keyed wrong: a changed, swapped, missing or extra character anywhere, or two changed in the
    sequence number (two edits: then only the birth date it still encodes is evidence)."""
    at = rnd.randrange(17)
    other = str((int(id18[at]) + 1) % 10)
    return rnd.choice(
        [
            id18[:at] + other + id18[at + 1 :],
            id18[:at] + id18[at + 1] + id18[at] + id18[at + 2 :],
            id18[:at] + id18[at + 1 :],
            id18[:at] + other + id18[at:],
            id18[:14] + str((int(id18[14]) + 1) % 10) + str((int(id18[15]) + 1) % 10) + id18[16:],
        ]
    )


def _name(rnd: random.Random, i: int, rows: list[dict]) -> str:
    """A person's name: a unique one now and then, else one of a few (a second mention keeps the first's)."""
    if rows and rows[-1]["person"] == f"P{i:04d}":
        return rows[-1]["name"]
    return UNIQUE[i // 10] if i % 10 == 0 and i < 10 * len(UNIQUE) else rnd.choice(NAMES)


def test_the_links_are_those_of_pairing_every_namesake(monkeypatch):
    outcomes: set[str] = set()
    for seed in (1, 2, 3):
        district = _district(seed)
        with monkeypatch.context() as m:
            m.setattr(roles_candidates, "SMALL_GROUP", 10**9)  # every namesake paired, as before
            every = link_legal_representatives(**district)
        few = link_legal_representatives(**district)
        pd.testing.assert_frame_equal(few, every)
        with monkeypatch.context() as m:  # the shapes of masks past the first: every valid ID paired
            m.setattr(roles_candidates, "MAX_MASK_SHAPES", 1)
            pd.testing.assert_frame_equal(link_legal_representatives(**district), every)
        outcomes |= set(few["legal_rep_link"])
    # the districts reach the rules that depend on the namesakes
    assert {"no_supporting_evidence", "ambiguous_name", "name_not_found", "no_person_with_id"} <= outcomes
    assert {"name_and_id_masked", "name_and_address", "name_and_phone", "name_and_id_typo"} <= outcomes
    assert {"name_and_id_birth", "name_and_household_phone", "name_and_employment"} <= outcomes
    assert {"name_and_building", "homophone_and_address"} <= outcomes


def _resolved(people: pd.DataFrame, orgs: pd.DataFrame) -> Resolved:
    ids = pd.DataFrame({"id_number": column(people, "id_number"), "person_id": people["person_id"]})
    ids = ids.dropna().drop_duplicates()
    employment = pd.DataFrame({"person_id": pd.Series(dtype="string"), "org_id": pd.Series(dtype="string")})
    return Resolved(people=people, adults=people, orgs=orgs, person_ids=ids, employment=employment)


def test_namesakes_without_evidence_are_counted_not_paired():
    """500 陈静 and 40 organisations of a 陈静 without an ID: the one living at an organisation's address is
    paired with it, the others are not paired with any (each organisation only learns it has namesakes)."""
    people = pd.DataFrame(
        {
            "name": "陈静",
            "name_pinyin": "chen jing",
            "person_id": [f"P{i:03d}" for i in range(500)],
            "address_code": [f"H{i:03d}" for i in range(500)],
        }
    ).astype("string")
    orgs = pd.DataFrame({"org_id": [f"O{j:02d}" for j in range(40)], "address_code": "A0"}).astype("string")
    orgs.loc[7, "address_code"] = "H123"
    reps = pd.DataFrame(
        {"org_id": orgs["org_id"], "legal_rep": "陈静", "legal_rep_id": pd.NA, "legal_rep_id_invalid": pd.NA}
    ).astype("string")
    cands, unseen = name_candidates(reps, _resolved(people, orgs))
    assert cands[["org_id", "person_id", "match"]].values.tolist() == [["O07", "P123", "name"]]
    assert sorted(unseen) == list(orgs["org_id"])  # 40 organisations, not 20,000 pairs


def test_a_masked_id_pairs_only_the_namesakes_it_cannot_rule_out():
    """A masked ID rules out every namesake whose valid ID shows other characters: only the one whose ID shows
    through it, and those without a valid ID, are paired; nothing is left unseen."""
    ids = [rid(f"44539919800101{i:03d}") for i in range(300)]
    people = pd.DataFrame(
        {
            "name": "王伟",
            "name_pinyin": "wang wei",
            "person_id": [f"P{i:03d}" for i in range(301)],
            "id_number": [*ids, None],
        }
    ).astype("string")
    orgs = pd.DataFrame({"org_id": ["O1"], "address_code": "A0"}).astype("string")
    reps = pd.DataFrame(
        {
            "org_id": ["O1"],
            "legal_rep": "王伟",
            "legal_rep_id": pd.NA,
            "legal_rep_id_invalid": ids[42][:6] + "*" * 8 + ids[42][14:],
        }
    ).astype("string")
    cands, unseen = name_candidates(reps, _resolved(people, orgs))
    assert sorted(cands["person_id"]) == ["P042", "P300"]
    assert unseen.empty
