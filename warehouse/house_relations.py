"""Relations to houses (``person_house``, ``organisation_house``), from the links between mentions of one record.

A feed row that names a person (or, with ``owner_kind``, an organisation) and a house links the two mentions;
once both are resolved the links become one row per (owner, house, relation) with when it was first and last
seen and which feeds state it. :mod:`warehouse.build_relations` registers the builders of both tables on this
function, run on the links of a chunk of owners at a time (an owner's rows decide its rows alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from warehouse.columns import sorted_distinct
from warehouse.schema import UNKNOWN_STREET


def house_relations(
    links: pd.DataFrame,
    *,
    priority: Mapping[str, int],
    owner_id: str,
    columns: Sequence[str],
    house_street: Mapping[str, str],
) -> pd.DataFrame:
    """One row per (owner, house, relation) of ``links`` (one per link whose two records were resolved: the
    owner's entity id under ``owner_id`` — ``person_id``, ``org_id`` —, ``house_id``, ``relation``, ``feed``,
    ``record_date``).

    ``columns`` are the table's columns (for an empty result). ``valid_from`` and the last seen date come from
    the records' dates; an owner has one current 居住 (the one stated by the feed of highest ``priority``, then
    the most recent), every other relation stays current. ``street_code`` is the house's (``house_street``),
    ``unknown`` without one.
    """
    ph = links.dropna(subset=[owner_id, "house_id", "relation"])
    if ph.empty:
        rel = pd.DataFrame(columns=list(columns))
    else:
        ph = ph.copy()
        ph["priority"] = ph["feed"].map(priority).fillna(0)
        ph["record_date"] = pd.to_datetime(ph["record_date"], errors="coerce")
        keys = [owner_id, "house_id", "relation"]
        rel = ph.groupby(keys).agg(
            valid_from=("record_date", "min"),
            last_seen=("record_date", "max"),
            priority=("priority", "max"),
        )
        rel["sources"] = sorted_distinct(ph, keys, "feed")
        rel = rel.reset_index()
        rel["_rank_date"] = rel["last_seen"].fillna(pd.Timestamp.min)
        rel = rel.sort_values(
            [owner_id, "relation", "priority", "_rank_date"], ascending=[True, True, False, False]
        )
        first = ~rel.duplicated([owner_id, "relation"])
        rel["is_current"] = np.where(rel["relation"] == "居住", first, True)
        rel["valid_to"] = rel["last_seen"].where(~rel["is_current"])
        rel = rel.drop(columns=["last_seen", "_rank_date", "priority"])
    rel["street_code"] = rel["house_id"].map(house_street).fillna(UNKNOWN_STREET)
    return rel


__all__ = ["house_relations"]
