"""What evidence a person match needs (issue #12, causes 1–3).

Household members share a phone, an address and a surname: summed as independent evidence, that joined them
(`requires_any`). Twins share a birth date too: a given name that differs by a character that does not sound
the same (思雨 / 思琪) keeps them apart, while a homophone or a 繁体 spelling of one person's name still joins.
An ID number with a typo (a digit wrong, two neighbours swapped) stays evidence (`id_number_given`), so a
住建 产权人 row with only a name, that ID and the house's address finds its owner.

The crafted records go through the real mention builder (`person_mentions`) and are resolved together with a
synthetic district (tests/synth_er.py) the model is trained on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import synth_er as synth

from connectors.feeds import Feed
from matching.er import EntitySettings, SettingsError, explain_pair, format_pair, resolve
from matching.mentions import person_mentions
from warehouse.checkchars import resident_id_check_char

SMALL = {"u_sample_pairs": 100_000}


def _feed(name: str, department: str, entities: list[str], relation: str) -> Feed:
    return Feed.model_validate(
        {
            "name": name,
            "department": department,
            "source": {"kind": "file", "glob": "*.csv"},
            "entities": entities,
            "record_id": "id",
            "address_relation": relation,
            "columns": {"id": "source_record_id", "xm": "name"},
        }
    )


FEEDS = {
    "gongan": _feed("gongan", "公安", ["person"], "居住"),
    "minzheng": _feed("minzheng", "民政", ["person"], "居住"),
    "renshe": _feed("renshe", "人社", ["person"], "居住"),
    "zhujian": _feed("zhujian", "住建", ["house", "person"], "产权"),
}


def rid(body: str) -> str:
    """A valid resident ID number from its 17-digit body."""
    return body + resident_id_check_char(body)


OWNER_ID = rid("44530519750621351")
# one digit wrong (the sequence digits), and two neighbours swapped (the area code): both break the check
OWNER_TYPO = OWNER_ID[:15] + ("7" if OWNER_ID[15] != "7" else "8") + OWNER_ID[16:]
OWNER_SWAP = OWNER_ID[:3] + OWNER_ID[4] + OWNER_ID[3] + OWNER_ID[5:]
TWIN_ID = rid("44530520010304262")
FATHER_ID = rid("44530519620308101")

# (feed, record id, name, id number, birth date, sex, phone, address code)
CRAFTED = [
    # a household: one phone, one flat, one surname; the father has an ID, the daughters none; the sisters
    # were born on the same day of the year, three years apart (a birth date one digit apart)
    ("gongan", "H1", "龚建国", FATHER_ID, "1962-03-08", "M", "13922001001", "445305001001001H01"),
    ("minzheng", "H2", "龚思雨", None, "1990-07-15", "F", "13922001001", "445305001001001H01"),
    ("renshe", "H3", "龚思琪", None, "1993-07-15", "F", "13922001001", "445305001001001H01"),
    # twins: same birth date, phone and flat; one has an ID; 鄺思語 is 邝思雨 in 繁体 with a homophone
    ("gongan", "T1", "邝思雨", TWIN_ID, "2001-03-04", "F", "13922002002", "445305001001001T01"),
    ("minzheng", "T2", "邝思琪", None, "2001-03-04", "F", "13922002002", "445305001001001T01"),
    ("renshe", "T3", "鄺思語", None, "2001-03-04", "F", "13922002002", "445305001001001T01"),
    # an owner seen by the police and 人社, and as 产权人 of two other flats with a mistyped ID only
    ("gongan", "O1", "莫建华", OWNER_ID, "1975-06-21", "M", "13922003003", "445305001001001O01"),
    ("renshe", "O2", "莫建华", OWNER_ID, None, None, "13922003003", "445305001001001O01"),
    ("zhujian", "O3", "莫建华", OWNER_TYPO, None, None, None, "445305001001002O02"),
    ("zhujian", "O4", "莫建华", OWNER_SWAP, None, None, None, "445305001001003O03"),
]


def crafted_mentions() -> pd.DataFrame:
    """The crafted rows as staged rows, through the mention builder, bound to their address codes."""
    frames = []
    for feed_name, feed in FEEDS.items():
        rows = [r for r in CRAFTED if r[0] == feed_name]
        staged = pd.DataFrame(
            {
                "_raw_sha256": "h",
                "_line": range(2, len(rows) + 2),
                "source_record_id": [r[1] for r in rows],
                "name": [r[2] for r in rows],
                "id_number": [r[3] for r in rows],
                "birth_date": [r[4] for r in rows],
                "sex": [r[5] for r in rows],
                "phone": [r[6] for r in rows],
                "address": [f"滨江路{r[7][-3:]}" for r in rows],
                "record_date": "2025-06-01",
            }
        )
        mentions, _ = person_mentions(staged, feed)
        code = pd.Series([r[7] for r in rows], index=staged.index)
        mentions["address_code"] = code.reindex(mentions.index)
        mentions["building_code"] = mentions["address_code"].str.slice(0, 15)
        frames.append(mentions)
    return pd.concat(frames, ignore_index=True)


def background(seed: int = 5) -> pd.DataFrame:
    """A synthetic district whose records carry ID typos (a digit wrong, two neighbours swapped) as hand-keyed
    feeds do: the model learns from it how much such an ID difference says."""
    df = synth.persons(1500, seed=seed).drop(columns=["true_id"])
    rng = np.random.default_rng(seed)
    ids = df["id_number"].astype("string")
    typo = (ids.notna() & (rng.random(len(df)) < 0.04)).to_numpy()
    given = ids.copy()
    pos = rng.integers(0, 16, size=int(typo.sum()))
    given[typo] = [
        v[:p] + str((int(v[p]) + 1) % 10) + v[p + 1 :]
        if p % 2 or v[p] == v[p + 1]
        else v[:p] + v[p + 1] + v[p] + v[p + 2 :]
        for v, p in zip(ids[typo], pos, strict=True)
    ]
    df["id_number_given"] = given
    df.loc[typo, "id_number"] = pd.NA
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df


@pytest.fixture(scope="module")
def settings() -> EntitySettings:
    return EntitySettings.from_config("person", {"person": SMALL})


@pytest.fixture(scope="module")
def mentions() -> pd.DataFrame:
    return pd.concat([background(), crafted_mentions()], ignore_index=True)


@pytest.fixture(scope="module")
def result(mentions, settings):
    return resolve(mentions, settings, run_id="run-household")


def entity(result, key: str) -> str:
    a = result.assignments.set_index("record_key")["entity_id"]
    return a[key]


def test_household_members_are_not_one_person(result):
    # same phone, flat and surname; different given name and birth date; the daughters without an ID
    ids = {entity(result, k) for k in ("gongan:H1", "minzheng:H2", "renshe:H3")}
    assert len(ids) == 3
    assert result.stats["held_back_pairs"] >= 1  # the rule held back what the sum of weights would join


def test_twins_stay_apart_and_a_homophone_spelling_joins(result):
    # 思雨 / 思琪: born the same day, same phone and flat, one without ID: two people
    assert entity(result, "gongan:T1") != entity(result, "minzheng:T2")
    # 鄺思語 (繁体, a homophone of 雨) with the same birth date and phone: the same person
    assert entity(result, "renshe:T3") == entity(result, "gongan:T1")


@pytest.mark.parametrize("row", ["zhujian:O3", "zhujian:O4"], ids=["one_digit", "transposition"])
def test_mistyped_id_finds_its_owner(result, row):
    # 产权人 rows: name, an ID with a typo and another flat's address; no birth date, no phone
    assert entity(result, row) == entity(result, "gongan:O1") == entity(result, "renshe:O2")


def test_explain_says_the_household_pair_was_held_back(mentions, settings, result):
    e = explain_pair(mentions, settings, result.state, "minzheng:H2", "renshe:H3")
    # the sum of the weights alone (phone, flat, a birth date one digit apart) would have joined the sisters
    assert e.held_back and e.match_probability < settings.thresholds.review
    assert "held back" in format_pair(e)


def test_requires_any_is_validated_and_fingerprinted():
    base = EntitySettings.from_config("person", {})
    assert (
        base.requires_any
        and base.fingerprint() != EntitySettings.from_config("person", {"requires_any": []}).fingerprint()
    )
    # a mapping is the short form: each entry one alternative
    short = EntitySettings.from_config("person", {"requires_any": {"id_number": ["exact"], "name": "exact"}})
    assert short.requires_any == ((("id_number", ("exact",)),), (("name", ("exact",)),))
    with pytest.raises(SettingsError, match="no comparison named 'passport'"):
        EntitySettings.from_config("person", {"requires_any": {"passport": ["exact"]}})
    with pytest.raises(SettingsError, match=r"unknown levels \['same'\]"):
        EntitySettings.from_config("person", {"requires_any": [{"name": ["same"]}]})
    with pytest.raises(SettingsError, match="non-empty"):
        EntitySettings.from_config("person", {"requires_any": [{"name": []}]})
    # dropping a comparison the default rule names asks for the rule to be restated
    with pytest.raises(SettingsError, match="requires_any"):
        EntitySettings.from_config("person", {"comparisons": [{"name": "birth_date", "drop": True}]})
