"""What a person reviews: the candidates of an address that did not match, and the review table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matching.address.library import BLOCK_COLUMN
from matching.address.lookups import RowGroups
from matching.address.scores import MAX_CANDIDATES

if TYPE_CHECKING:
    from matching.address.library import AddressLibrary


#: The elements a text gives that its candidates are compared on.
GIVEN = ("house_number", "building", "unit", "room")


def review_candidates(library: AddressLibrary, q: pd.DataFrame, n: int) -> pd.Series:
    """JSON candidate lists for the review table: the buildings (or rooms) the given elements point to.

    A text's candidates are the library rows of its blocks that agree with the most of the elements it gives
    (house number, building, unit, room), its first :data:`MAX_CANDIDATES` buildings, best block first. They
    are found by looking up each subset of the elements given (:meth:`AddressLibrary.first_buildings`), not by
    comparing the text with every row of its blocks: the cost grows with the texts, not with the blocks (a
    community's block holds all its rooms, and blocks grow with the district)."""
    out = pd.Series("[]", index=range(n), dtype=object)
    if q.empty:
        return out
    c = _candidate_rows(library, q.reset_index(drop=True))
    c = c.sort_values(["uid", "bscore"], ascending=[True, False], kind="stable")
    c = c.drop_duplicates(["uid", "building_code"])
    c = c.groupby("uid", sort=False).head(MAX_CANDIDATES)
    c["cscore"] = np.round(c["bscore"] * (0.5 + 0.5 * c["share"]), 3)
    building_text = library.building_texts
    c["text"] = c["building_code"].map(building_text).fillna(c["standard_text"])
    for uid, g in c.groupby("uid", sort=False):
        out.iloc[int(uid)] = json.dumps(
            [
                {"building_code": b, "grid_code": gr, "text": t, "score": float(s)}
                for b, gr, t, s in zip(
                    g["building_code"], g["grid_code"], g["text"], g["cscore"], strict=True
                )
            ],
            ensure_ascii=False,
        )
    return out


def _candidate_rows(library: AddressLibrary, q: pd.DataFrame) -> pd.DataFrame:
    """Per (text, candidate block) row of ``q``, in its order: the first rows of the first buildings of the
    block that agree with the most elements the text gives (``agree``: how many; ``share``: of those given).

    A library row agreeing with ``k`` of the elements agrees with exactly one subset of ``k`` of them, so the
    rows agreeing with the most are the rows found under the largest subsets found at all (per text, over its
    blocks); the first buildings of their union are among the first buildings found under each subset."""
    present = np.column_stack([(q[c] != "").to_numpy() for c in GIVEN])
    given = present.sum(axis=1)
    mask = present.astype(np.int64) @ (1 << np.arange(len(GIVEN)))
    best = np.full(len(q), -1, dtype=np.int64)
    found: list[tuple[np.ndarray, int, RowGroups, np.ndarray]] = []  # (q rows, subset size, groups, group)
    for (kind, mk), rows in q.groupby([q["kind"], mask], sort=False).indices.items():
        for subset in range(mk + 1):
            if subset & ~mk:
                continue
            elements = [c for i, c in enumerate(GIVEN) if subset >> i & 1]
            keys = (BLOCK_COLUMN[kind], *elements)
            groups = library.first_buildings(keys)
            values = q.iloc[rows][["block", *elements]].set_axis(list(keys), axis=1)
            group = groups.find(values)
            size = len(elements)
            best[rows] = np.maximum(best[rows], np.where(group >= 0, size, -1))
            found.append((rows, size, groups, group))
    most = pd.Series(best).groupby(q["uid"].to_numpy()).transform("max").to_numpy()
    q_rows, lib_rows = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    for rows, size, groups, group in found:
        take = (group >= 0) & (most[rows] == size)
        owner, lib_row = groups.expand(group[take])
        q_rows.append(rows[take][owner])
        lib_rows.append(lib_row)
    qi, li = np.concatenate(q_rows), np.concatenate(lib_rows)
    order = np.lexsort((li, qi))  # the text's blocks in their order, a block's rows in library order
    qi, li = qi[order], li[order]
    agree = most[qi]
    lib = library.addresses
    c = pd.DataFrame(
        {
            "uid": q["uid"].to_numpy()[qi],
            "bscore": q["bscore"].to_numpy()[qi],
            "agree": agree,
            "share": np.where(given[qi] > 0, agree / np.maximum(given[qi], 1), 0.0),
        }
    )
    for col in ("address_code", "building_code", "grid_code", "standard_text"):
        c[col] = lib[col].iloc[li].reset_index(drop=True)
    return c


def review_table(bindings: pd.DataFrame) -> pd.DataFrame:
    """Rows for ``address_review``: the ambiguous and unmatched bindings with their candidates.

    ``bindings`` needs feed, source_record_id, field, address_text, status and candidates (as produced by
    :func:`match_addresses` joined to the records).
    """
    sel = bindings[bindings["status"].isin(["ambiguous", "unmatched"])]
    return sel[["feed", "source_record_id", "field", "address_text", "status", "candidates"]].reset_index(
        drop=True
    )
