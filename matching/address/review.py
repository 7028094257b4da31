"""What a person reviews: the candidates of an address that did not match, and the review table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matching.address.library import BLOCK_COLUMN
from matching.address.scores import MAX_CANDIDATES

if TYPE_CHECKING:
    from matching.address.library import AddressLibrary


#: Library rows joined to the texts' candidate blocks at a time: a text's candidates are every row of its
#: blocks (a community's block holds all its rooms), so the texts are taken a group at a time.
REVIEW_JOIN_ROWS = 2_000_000


def _uid_groups(library: AddressLibrary, q: pd.DataFrame) -> list[np.ndarray]:
    """The uids of ``q`` in groups whose blocks hold at most :data:`REVIEW_JOIN_ROWS` library rows (a uid
    whose blocks hold more is a group of its own)."""
    rows = np.zeros(len(q), dtype=np.int64)
    for kind in q["kind"].unique():
        col = BLOCK_COLUMN[kind]
        sizes = library.addresses.groupby(col).size()
        sel = (q["kind"] == kind).to_numpy()
        rows[sel] = q.loc[sel, "block"].map(sizes).fillna(0).to_numpy(dtype=np.int64)
    per_uid = pd.Series(rows).groupby(q["uid"].to_numpy(), sort=False).sum()
    group = (per_uid.cumsum().to_numpy() - 1) // REVIEW_JOIN_ROWS
    return [per_uid.index.to_numpy()[group == g] for g in np.unique(group)]


def review_candidates(library: AddressLibrary, q: pd.DataFrame, n: int) -> pd.Series:
    """JSON candidate lists for the review table: the buildings (or rooms) the given elements point to.

    A text's list depends on its own rows of ``q`` alone (each text's blocks are of one kind), so the texts
    are joined to the library a group at a time (:data:`REVIEW_JOIN_ROWS`): the same lists, bounded memory."""
    out = pd.Series("[]", index=range(n), dtype=object)
    if q.empty:
        return out
    for uids in _uid_groups(library, q):
        _review_group(library, q[q["uid"].isin(uids)], out)
    return out


def _review_group(library: AddressLibrary, q: pd.DataFrame, out: pd.Series) -> None:
    """Write the candidate lists of the texts of ``q`` into ``out``."""
    lib = library.addresses
    rows = []
    given_cols = ("house_number", "building", "unit", "room")
    for kind, grp in q.groupby("kind", sort=False):
        col = BLOCK_COLUMN[kind]
        g = grp[["uid", "block", "bscore", *given_cols]].rename(columns={"block": col})
        lib_cols = {c: f"{c}_lib" for c in given_cols}
        m = g.merge(
            lib[[col, *given_cols, "address_code", "building_code", "grid_code", "standard_text"]].rename(
                columns=lib_cols
            ),
            on=col,
            how="inner",
        )
        # how many of the elements the text gives each library row agrees with
        given = np.zeros(len(m), dtype=int)
        agree = np.zeros(len(m), dtype=int)
        for c in given_cols:
            has = (m[c] != "").to_numpy()
            given += has
            agree += has & (m[c] == m[lib_cols[c]]).to_numpy()
        m["agree"] = agree
        m["share"] = np.where(given > 0, agree / np.maximum(given, 1), 0.0)
        rows.append(
            m[
                [
                    "uid",
                    "bscore",
                    "agree",
                    "share",
                    "address_code",
                    "building_code",
                    "grid_code",
                    "standard_text",
                ]
            ]
        )
    if not rows:
        return
    c = pd.concat(rows, ignore_index=True)
    # the candidates are the buildings that agree with the most of what the text says
    c = c[c["agree"] == c.groupby("uid")["agree"].transform("max")]
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


def review_table(bindings: pd.DataFrame) -> pd.DataFrame:
    """Rows for ``address_review``: the ambiguous and unmatched bindings with their candidates.

    ``bindings`` needs feed, source_record_id, field, address_text, status and candidates (as produced by
    :func:`match_addresses` joined to the records).
    """
    sel = bindings[bindings["status"].isin(["ambiguous", "unmatched"])]
    return sel[["feed", "source_record_id", "field", "address_text", "status", "candidates"]].reset_index(
        drop=True
    )
