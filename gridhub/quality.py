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
