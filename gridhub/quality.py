"""Quality figures against ground truth (the sample district writes one beside its feeds).

- Pairwise precision / recall / F1 per entity type: over the records both the truth and the warehouse's
  ``source_xref`` know, a pair of records is a predicted match when they share an entity id and a true match
  when they share a true entity key (counted by the engine's :func:`matching.er.evaluate.pairwise_scores`).
- Address binding accuracy: for every address field the truth knows, whether it was bound to the right
  standard address at building level or finer, left unmatched, or bound confidently to a wrong address;
  overall, per address field and per written form (where the truth records the forms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from matching.er.evaluate import pairwise_scores as _engine_pairwise_scores

FINE_LEVELS = ("room", "unit", "building", "house_number")


@dataclass(frozen=True)
class PairwiseScore:
    """Pair counts and pairwise precision / recall / F1 of one entity type."""

    entity_type: str
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict:
        return asdict(self)


def pairwise_scores(predicted: pd.Series, truth: pd.Series, entity_type: str = "") -> PairwiseScore:
    """Pairwise scores of a clustering; both series are indexed by record and hold cluster labels.

    The series are aligned on their index; a record missing a label on either side is left out.
    """
    both = pd.DataFrame({"p": predicted, "t": truth}).dropna()
    scores = _engine_pairwise_scores(both["p"], both["t"])
    return PairwiseScore(
        entity_type=entity_type,
        records=len(both),
        true_pairs=int(scores["true_pairs"]),
        predicted_pairs=int(scores["predicted_pairs"]),
        true_positive_pairs=int(scores["true_positive_pairs"]),
        precision=scores["precision"],
        recall=scores["recall"],
        f1=scores["f1"],
    )


def entity_scores(xref: pd.DataFrame, truth_records: pd.DataFrame) -> dict[str, PairwiseScore]:
    """Per entity type, from ``source_xref`` and ``truth/records.csv``."""
    key = ["feed", "source_record_id", "entity_type"]
    m = truth_records.merge(xref[[*key, "entity_id"]], on=key, how="left")
    out = {}
    for t, g in m.groupby("entity_type"):
        idx = g["feed"] + ":" + g["source_record_id"]
        # a record the warehouse lost counts as its own singleton, so losses cost recall
        pred = g["entity_id"].fillna("missing:" + idx)
        out[t] = pairwise_scores(
            pd.Series(pred.to_numpy(), index=idx), pd.Series(g["entity_key"].to_numpy(), index=idx), t
        )
    return out


@dataclass(frozen=True)
class AddressAccuracy:
    fields: int
    correct: int
    unmatched: int
    wrong_confident: int
    outside_library: int
    outside_bound: int

    @property
    def correct_rate(self) -> float:
        return self.correct / self.fields if self.fields else 1.0

    @property
    def unmatched_rate(self) -> float:
        return self.unmatched / self.fields if self.fields else 0.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong_confident / (self.fields + self.outside_library) if self.fields else 0.0

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "correct_rate": self.correct_rate,
            "unmatched_rate": self.unmatched_rate,
            "wrong_rate": self.wrong_rate,
        }


def address_outcomes(bindings: pd.DataFrame, truth: pd.DataFrame, addresses: pd.DataFrame) -> pd.DataFrame:
    """One row per address field of ``truth`` with its outcome: booleans ``inside`` (the true address is in the
    library), ``matched``, ``correct`` and ``wrong`` (confidently bound to a wrong address), besides the
    truth's columns (``field``, and ``forms`` where the truth records them).

    ``bindings``: feed, source_record_id, field, address_code, building_code, level, status.
    ``addresses``: the standard address library (address_code → building_code).
    Correct = matched, at building level or finer, to the true building (and the true room where the level is
    room). A confident wrong binding = status ``matched`` to another building, or to anything when the true
    address lies outside the library.
    """
    key = ["feed", "source_record_id", "field"]
    b = bindings.drop_duplicates(key)
    m = truth.merge(
        b[[*key, "address_code", "building_code", "level", "status"]],
        on=key,
        how="left",
        suffixes=("_true", ""),
    )
    building_of = dict(
        zip(
            addresses["address_code"],
            addresses["building_code"].fillna(addresses["address_code"]),
            strict=True,
        )
    )
    true_code = m["address_code_true"].replace("", pd.NA)
    inside = true_code.notna()
    true_building = true_code.map(building_of)
    matched = m["status"] == "matched"
    fine = m["level"].isin(FINE_LEVELS)
    same_building = m["building_code"].fillna(m["address_code"].map(building_of)) == true_building
    exact_or_coarse = (m["address_code"] == true_code) | (m["level"] != "room")
    m["inside"] = inside
    m["matched"] = matched
    m["correct"] = inside & matched & fine & same_building & exact_or_coarse
    m["wrong"] = matched & ((inside & ~(same_building & exact_or_coarse)) | ~inside)
    return m


def accuracy_of(m: pd.DataFrame) -> AddressAccuracy:
    """The counts of :class:`AddressAccuracy` over outcome rows of :func:`address_outcomes`."""
    inside, matched = m["inside"], m["matched"]
    return AddressAccuracy(
        fields=int(inside.sum()),
        correct=int(m["correct"].sum()),
        unmatched=int((inside & ~matched).sum()),
        wrong_confident=int(m["wrong"].sum()),
        outside_library=int((~inside).sum()),
        outside_bound=int((~inside & matched).sum()),
    )


def address_accuracy(bindings: pd.DataFrame, truth: pd.DataFrame, addresses: pd.DataFrame) -> AddressAccuracy:
    """Accuracy of address binding against ``truth/addresses.csv`` (see :func:`address_outcomes`)."""
    return accuracy_of(address_outcomes(bindings, truth, addresses))


def address_accuracy_by(outcomes: pd.DataFrame, by: str) -> dict[str, AddressAccuracy]:
    """:func:`address_outcomes` broken down by the truth column ``by``, sorted by its values.

    ``by="field"``: per address field (address, hukou_address, org_address, org_business_address …).
    ``by="forms"``: per form the address was written in (the ``|``-separated noise kinds the sample district
    records: community_committee, road_typo, estate_inserted …); a field written in several forms counts
    under each, and an empty result when the truth does not record forms.
    """
    if by not in outcomes.columns:
        return {}
    if by == "forms":
        kinds = outcomes["forms"].fillna("").str.split("|").explode()
        kinds = kinds[kinds != ""]
        return {
            k: accuracy_of(outcomes.loc[kinds.index[kinds == k].unique()]) for k in sorted(kinds.unique())
        }
    return {str(v): accuracy_of(g) for v, g in outcomes.groupby(by, sort=True)}


def read_truth(truth_dir: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    rec = truth_dir / "records.csv"
    adr = truth_dir / "addresses.csv"
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False) if p.exists() else None  # noqa: E731
    return read(rec), read(adr)


# ---- issue #12's checks: look-alikes kept apart, one identifier one entity, legal reps, no lost rows ------------
#: Reasons that cost a row whatever its field: the reader could not make a row of it, or none of its text can
#: be trusted. Any other quarantine entry must be on the record id or on one of the feed's ``required`` fields.
ROW_REASONS = frozenset({"ragged_row", "unparseable_row", "encoding_error", "control_characters"})
ROW_FIELDS = frozenset({"source_record_id"})


def record_entities(xref: pd.DataFrame, records: pd.DataFrame, entity_type: str) -> pd.DataFrame:
    """The truth's records of ``entity_type`` with the entity the warehouse resolved each to: feed,
    source_record_id, entity_key (true), entity_id (resolved); records the warehouse lost are left out."""
    key = ["feed", "source_record_id", "entity_type"]
    t = records[records["entity_type"] == entity_type]
    return t.merge(xref[[*key, "entity_id"]], on=key, how="inner")


def merged_pairs(xref: pd.DataFrame, records: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per kind of look-alike pair (``truth/hard_negatives.csv``: person_key_a, person_key_b, kind): how many
    pairs the warehouse has records of on both sides, and how many of those it merged (a record of one and a
    record of the other resolved to the same person)."""
    ent = record_entities(xref, records, "person")[["entity_key", "entity_id"]].drop_duplicates()
    a = pairs.merge(ent.rename(columns={"entity_key": "person_key_a"}), on="person_key_a")
    b = ent.rename(columns={"entity_key": "person_key_b", "entity_id": "entity_id_b"})
    both = a.merge(b, on="person_key_b")
    pair = ["person_key_a", "person_key_b"]
    seen = both.drop_duplicates(pair).groupby("kind").size()
    merged = both[both["entity_id"] == both["entity_id_b"]].drop_duplicates(pair).groupby("kind").size()
    return {
        str(k): {"pairs": int(seen.get(k, 0)), "merged": int(merged.get(k, 0))}
        for k in sorted(pairs["kind"].unique())
    }


def _pairs_of(sizes: pd.Series) -> int:
    n = sizes.to_numpy().astype("int64")
    return int((n * (n - 1) // 2).sum())


def code_conflicts(xref: pd.DataFrame, codes: pd.DataFrame, entity_type: str) -> dict[str, int]:
    """How one valid identifier per entity holds (``codes``: feed, source_record_id, entity_type, code — the
    valid ID number or credit code each record carries, as ``truth/codes.csv`` lists them).

    ``entities_with_several_codes``: resolved entities holding records with two or more different codes;
    ``record_pairs_with_different_codes``: pairs of records in one entity whose codes differ;
    ``codes_in_several_entities``: codes whose records were resolved to more than one entity.
    """
    key = ["feed", "source_record_id", "entity_type"]
    c = codes[codes["entity_type"] == entity_type].merge(xref[[*key, "entity_id"]], on=key, how="inner")
    per_entity = c.groupby("entity_id")["code"].nunique()
    different = _pairs_of(c.groupby("entity_id").size()) - _pairs_of(c.groupby(["entity_id", "code"]).size())
    return {
        "records_with_code": len(c),
        "codes": int(c["code"].nunique()),
        "entities_with_several_codes": int((per_entity > 1).sum()),
        "record_pairs_with_different_codes": different,
        "codes_in_several_entities": int((c.groupby("code")["entity_id"].nunique() > 1).sum()),
    }


def legal_rep_links(
    xref: pd.DataFrame, records: pd.DataFrame, organisations: pd.DataFrame, relations: pd.DataFrame
) -> dict[str, float | int | None]:
    """How the warehouse linked organisations' 法定代表人: right, wrong, and representatives no feed lists.

    ``organisations``: the truth's (org_key, legal_rep_key); only those with records in ``records`` and a
    legal representative count. ``relations``: the warehouse's ``person_organisation`` rows (person_id,
    org_id, relation). A link is right when its organisation holds a record of the true organisation and its
    person is the true representative (the true person most of the person's records belong to).

    The representatives are split by whether some person record of ``records`` is theirs. ``rate`` is over
    those that are (``organisations``: the denominator): linked to the right person. The others
    (``not_in_person_feeds``: living outside the district, or missing from every person feed) cannot be
    linked right; ``not_in_person_feeds_linked`` counts those linked to somebody anyway, which must be 0.
    ``precision`` is right links over all organisations with a link.
    """
    orgs = record_entities(xref, records, "organisation")[["entity_key", "entity_id"]].drop_duplicates()
    reps = organisations.loc[organisations["legal_rep_key"].fillna("") != "", ["org_key", "legal_rep_key"]]
    reps = reps[reps["org_key"].isin(orgs["entity_key"])]
    persons = record_entities(xref, records, "person")
    listed = reps["legal_rep_key"].isin(records.loc[records["entity_type"] == "person", "entity_key"])
    counts = persons.groupby(["entity_id", "entity_key"]).size().reset_index(name="n")
    counts = counts.sort_values(["entity_id", "n", "entity_key"], ascending=[True, False, True])
    who = counts.drop_duplicates("entity_id").set_index("entity_id")["entity_key"]
    rel = relations.loc[relations["relation"] == "法定代表人", ["person_id", "org_id"]]
    rel = rel.assign(rep_key=rel["person_id"].map(who))
    linked = reps.merge(orgs, left_on="org_key", right_on="entity_key").merge(
        rel, left_on="entity_id", right_on="org_id"
    )
    right = int(linked.loc[linked["rep_key"] == linked["legal_rep_key"], "org_key"].nunique())
    outside = linked["org_key"].isin(reps.loc[~listed, "org_key"])
    total, linked_listed = int(listed.sum()), int(linked.loc[~outside, "org_key"].nunique())
    linked_any = int(linked["org_key"].nunique())
    return {
        "organisations": total,
        "linked_right": right,
        "linked_wrong_only": linked_listed - right,
        "rate": right / total if total else None,
        "not_in_person_feeds": int((~listed).sum()),
        "not_in_person_feeds_linked": linked_any - linked_listed,
        "precision": right / linked_any if linked_any else None,
    }


def optional_field_quarantine(quarantine: pd.DataFrame, allowed: dict[str, set[str]]) -> dict:
    """Rows quarantined although neither their record id nor a required field had a problem.

    ``allowed``: feed → the columns whose problems may cost the row (its record id and ``required`` fields,
    by source header and by staging field). A row counts when none of its quarantine entries is on such a
    column or of a row-level reason (:data:`ROW_REASONS`); ``by_column`` counts those rows per column.
    """
    if quarantine.empty:
        return {"rows": 0, "by_column": {}}
    ok = pd.DataFrame(
        [(f, c) for f, cols in allowed.items() for c in cols | ROW_FIELDS], columns=["feed", "column"]
    ).drop_duplicates()
    q = quarantine.merge(ok.assign(ok_column=True), on=["feed", "column"], how="left")
    q["legit"] = q["ok_column"].notna() | q["reason_code"].isin(ROW_REASONS)
    row = ["feed", "raw_sha256", "line"]
    legit_rows = q.groupby(row)["legit"].transform("any")
    lost = q[~legit_rows]
    by_column = lost.drop_duplicates([*row, "column"])["column"].fillna("").value_counts()
    return {
        "rows": int(lost.drop_duplicates(row).shape[0]),
        "by_column": {str(k): int(v) for k, v in by_column.items()},
    }


def read_truth_file(truth_dir: Path, name: str) -> pd.DataFrame | None:
    """``truth/<name>.csv`` as text columns, or None when the truth has no such file."""
    path = truth_dir / f"{name}.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else None
