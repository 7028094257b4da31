"""Matching addresses to the library (:func:`match_addresses`): candidate blocks, detail joins, the choice."""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matching.address.canonical import canonical_address_text, distinct_places, extract_detail
from matching.address.library import BLOCK_COLUMN
from matching.address.parse import PlaceReading, read_place
from matching.address.review import review_candidates
from matching.address.roads import TYPO_METHODS
from matching.address.scores import (
    CONFLICT_FACTOR,
    DROP_PENALTY,
    MATCH_THRESHOLD,
    UNKNOWN_ROAD_FACTOR,
    UNKNOWN_TEXT_PENALTY,
    WEAK_GROUP_SCORE,
)

if TYPE_CHECKING:
    from matching.address.library import AddressLibrary

RESULT_COLUMNS = (
    "address_code",
    "building_code",
    "grid_code",
    "level",
    "score",
    "method",
    "status",
    "candidates",
    "standard_text",
)


_DETAILS_BY_BLOCK = {
    "road": ("house_number", "building", "unit", "room", "estate"),
    "estate": ("house_number", "building", "unit", "room"),
    "group": ("house_number",),
    "comm": ("house_number", "building", "unit", "room"),
}
_BLOCK_LEVEL = {"road": "road", "estate": "house_number", "group": "road", "comm": "community"}
_DETAIL_LEVEL = {
    "room": "room",
    "unit": "unit",
    "building": "building",
    "house_number": "house_number",
    "estate": "house_number",
}
#: Elements dropped, in this order, when the library has nothing for the elements given.
_DROP_ORDER = ("room", "unit", "estate", "building", "house_number")
_MASK_COLUMNS = ("house_number", "building", "unit", "room", "estate")


def prepare_library(library: AddressLibrary) -> int:
    """Build every lookup index :func:`match_addresses` can ask the library for (the detail joins' key sets
    and the review candidates'), so that matching processes forked afterwards share them. Returns their bytes."""
    from matching.address.review import GIVEN

    def subsets(columns: tuple[str, ...]) -> list[tuple[str, ...]]:
        return [c for r in range(len(columns) + 1) for c in combinations(columns, r)]

    joins = [
        (BLOCK_COLUMN[kind], *sub)
        for kind, details in _DETAILS_BY_BLOCK.items()
        for sub in subsets(tuple(c for c in _MASK_COLUMNS if c in details))
    ]
    review = [(BLOCK_COLUMN[kind], *sub) for kind in BLOCK_COLUMN for sub in subsets(GIVEN)]
    return library.prepare_lookups(joins, review)


def _candidate_blocks(
    library: AddressLibrary, reading: PlaceReading, group: str | None, has_detail: bool
) -> list[tuple[str, int, float, str]]:
    """(block kind, block id, block score, method) for one place reading.

    Communities are visited in code order, not in the order of the set holding them (which depends on
    ``PYTHONHASHSEED``): equally good blocks, and so the candidates of a tie, always come in the same order.
    """
    if reading.outside:
        return []
    comms = reading.communities if reading.communities is not None else library.all_communities
    out: list[tuple[str, int, float, str]] = []
    for road, score, method in reading.roads:
        for c in sorted(comms):
            b = library.block_id("road", c, road)
            if b is not None:
                out.append(("road", b, score, method))
    if not out:
        for estate in reading.estates:
            for c in sorted(comms):
                b = library.block_id("estate", c, estate)
                if b is not None:
                    out.append(("estate", b, UNKNOWN_ROAD_FACTOR if reading.unknown_road else 1.0, "estate"))
    if not out and group:
        # a villager group with no village or town named is weak evidence: several villages have a 3组
        score = 1.0 if reading.communities is not None else WEAK_GROUP_SCORE
        if reading.last_communities and comms & reading.last_communities:
            # a group belongs to a village: 石岭3组 is 石岭村 3组, not 石岭镇 (whose other villages have a 3组)
            comms = comms & reading.last_communities
        for c in sorted(comms):
            b = library.block_id("group", c, group)
            if b is not None:
                out.append(("group", b, score, "villager_group"))
    if not out and reading.communities is not None and len(comms) <= 3 and (has_detail or len(comms) == 1):
        for c in sorted(comms):
            b = library.block_id("comm", c, "*")
            if b is not None:
                # house and building numbers count along a road or within an estate or group, so a community
                # alone never pins one down with confidence: candidates for review at most
                out.append(("comm", b, WEAK_GROUP_SCORE, "community"))
    return out


def match_addresses(library: AddressLibrary, texts: pd.Series) -> pd.DataFrame:
    """Bind free-text addresses to the standard address library.

    Returns a frame aligned to ``texts`` with :data:`RESULT_COLUMNS`: ``address_code`` (one library row
    remains), ``building_code`` (one building remains), ``grid_code`` (all remaining rows share one grid),
    ``level`` (finest element confirmed: room / unit / building / house_number / road / community / none),
    ``score`` (0–1), ``method`` (how the place was read: road, estate, villager_group, community, pinyin_road,
    fuzzy_road; ``+backoff`` when elements had to be dropped), ``status`` (matched / ambiguous / unmatched),
    ``candidates`` (JSON list of the best candidates for the review table; ``[]`` for matched rows) and
    ``standard_text`` of what was bound. Input texts are deduplicated before any work.
    """
    texts = texts.astype("string")
    canonical = canonical_address_text(texts)
    codes, uniques = pd.factorize(canonical, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="string")
    result = _match_canonical(library, u)
    take = np.where(codes < 0, 0, codes)
    if len(result):
        out = result.iloc[take].set_axis(texts.index)
    else:
        out = pd.DataFrame(index=texts.index, columns=list(RESULT_COLUMNS))
    missing = codes < 0
    if missing.any():
        out.loc[missing, ["address_code", "building_code", "grid_code", "method", "standard_text"]] = pd.NA
        out.loc[missing, "level"] = "none"
        out.loc[missing, "status"] = "unmatched"
        out.loc[missing, "score"] = 0.0
        out.loc[missing, "candidates"] = "[]"
    for c in RESULT_COLUMNS:
        out[c] = out[c].astype("Float64" if c == "score" else "string")
    return out[list(RESULT_COLUMNS)]


def _match_canonical(library: AddressLibrary, u: pd.Series) -> pd.DataFrame:
    """Match distinct canonical texts; one result row per input value (positional)."""
    n = len(u)
    detail = extract_detail(u)
    # ---- places: one reading per distinct (place, estate text) --------------------------------------------
    p_codes, places = distinct_places(detail)
    readings = [read_place(library, place, estate_text) for place, estate_text in places]
    # ---- candidate blocks per distinct (place, group, has detail) -----------------------------------------
    has_detail = detail[["house_number", "building", "room"]].notna().any(axis=1).to_numpy()
    group = detail["villager_group"].fillna("").to_numpy(dtype=object)
    bk = pd.DataFrame({"p": p_codes, "g": group, "d": has_detail})
    b_codes, b_uniques = pd.factorize(pd.MultiIndex.from_frame(bk))
    block_rows = []
    for bi, (p, g, d) in enumerate(b_uniques):
        for kind, b, score, method in _candidate_blocks(library, readings[p], g or None, bool(d)):
            block_rows.append((bi, kind, b, score, method))
    blocks = pd.DataFrame(block_rows, columns=["bkey", "kind", "block", "bscore", "method"])
    place_penalty = np.array([UNKNOWN_TEXT_PENALTY * min(r.unknown, 3) for r in readings])
    conflict = np.array([r.conflict for r in readings], dtype=bool)
    outside = np.array([r.outside for r in readings], dtype=bool)

    q = pd.DataFrame({"uid": np.arange(n), "bkey": b_codes})
    for c in ("house_number", "building", "unit", "room"):
        q[c] = detail[c].fillna("").to_numpy(dtype=object)
    # an estate named beside a road narrows the road's rows (滨江路阳光花园3栋, no house number)
    estate_of_place = np.array([r.estates[0] if r.estates else "" for r in readings] + [""], dtype=object)
    q["estate"] = estate_of_place[p_codes]
    q = q.merge(blocks, on="bkey", how="inner")
    q["estate"] = q["estate"].where(q["kind"] == "road", "")
    hits = _join_details(library, q)

    # ---- choose per input: fewest drops, best block score; ties between different buildings = ambiguous ----
    res = _choose(hits, n)
    base = 1.0 - place_penalty[p_codes]
    score = (res["bscore"].to_numpy(dtype=float) - res["penalty"].to_numpy(dtype=float)) * base
    is_conflict = conflict[p_codes]
    score = np.where(is_conflict, score * CONFLICT_FACTOR, score)
    score = np.clip(np.nan_to_num(score, nan=0.0), 0.0, 1.0)
    found = res["n"].fillna(0).to_numpy() > 0
    one_building = res["building_code"].notna().to_numpy()
    fine = res["level"].isin(["room", "unit", "building", "house_number"]).to_numpy()
    tie = res["tie"].fillna(False).to_numpy(dtype=bool)
    # a road read from a typo binds only when every detail element the text gives exists under it
    method = res["method"].fillna("").astype(str)
    typo_backoff = (method.str.startswith(TYPO_METHODS) & method.str.endswith("+backoff")).to_numpy()
    matched = found & one_building & fine & ~tie & ~is_conflict & ~typo_backoff & (score >= MATCH_THRESHOLD)
    status = np.where(matched, "matched", np.where(found, "ambiguous", "unmatched"))
    status = np.where(outside[p_codes], "unmatched", status)
    out = pd.DataFrame(
        {
            "address_code": res["address_code"].where(~tie),
            "building_code": res["building_code"].where(~tie),
            "grid_code": res["grid_code"],
            "level": res["level"].fillna("none").where(found, "none"),
            "score": np.round(np.where(found, score, 0.0), 4),
            "method": res["method"],
            "status": status,
            "standard_text": res["standard_text"].where(~tie),
        }
    )
    # only a matched row names an address or building; an ambiguous one keeps the grid its candidates share
    # when the place itself was read with confidence (the candidates are in the review list)
    out.loc[out["status"] != "matched", ["address_code", "building_code", "standard_text"]] = pd.NA
    weak = (out["status"] == "unmatched") | (out["score"] < MATCH_THRESHOLD)
    out.loc[weak, "grid_code"] = pd.NA
    out["candidates"] = "[]"
    review = np.flatnonzero(status != "matched")
    if len(review):
        out.loc[review, "candidates"] = review_candidates(library, q[q["uid"].isin(review)], n).iloc[review]
    return out


def _join_details(library: AddressLibrary, q: pd.DataFrame) -> pd.DataFrame:
    """Join (input × candidate block) rows to the library on the elements given, dropping elements on misses."""
    pieces = []
    pending = q.assign(penalty=0.0, dropped=0)
    for _ in range(len(_DROP_ORDER) + 1):
        if pending.empty:
            break
        misses = []
        bits = 1 << np.arange(len(_MASK_COLUMNS))
        present = pending[list(_MASK_COLUMNS)].ne("").to_numpy()
        mask_key = (present * bits).sum(axis=1)
        for (kind, mk), grp in pending.groupby([pending["kind"], mask_key], sort=False):
            given = [c for c, bit in zip(_MASK_COLUMNS, bits, strict=True) if mk & bit]
            given = [c for c in given if c in _DETAILS_BY_BLOCK[kind]]
            keys = (BLOCK_COLUMN[kind], *given)
            left = grp.rename(columns={"block": BLOCK_COLUMN[kind]})
            # the library's row of each key, looked up in an index built once (a merge with the aggregate
            # would hash all of it for every group of every partition: quadratic in the district)
            pos = library.lookup(keys, left)
            ok = pos >= 0
            found = library.aggregate_rows(keys, pos[ok])
            hit = pd.concat([left[ok].reset_index(drop=True), found], axis=1)
            finest = next((c for c in _DROP_ORDER if c in given), None)
            hit["level"] = _levels(hit, given, kind)
            pieces.append(hit.rename(columns={BLOCK_COLUMN[kind]: "block"}))
            miss = grp[~ok]
            if len(miss) and finest is not None:
                miss = miss.copy()
                # drop the finest given element and try again
                miss[finest] = ""
                miss["penalty"] = miss["penalty"] + DROP_PENALTY[finest]
                miss["dropped"] = miss["dropped"] + 1
                misses.append(miss)
            # a miss with no element left: the block itself always exists, so this cannot happen
        pending = pd.concat(misses, ignore_index=True) if misses else pending.iloc[0:0]
    if not pieces:
        return pd.DataFrame(
            columns=[
                "uid",
                "kind",
                "block",
                "bscore",
                "method",
                "penalty",
                "dropped",
                "n",
                "address_code",
                "n_building",
                "building_code",
                "n_grid",
                "grid_code",
                "standard_text",
                "level",
            ]
        )
    hits = pd.concat(pieces, ignore_index=True)
    hits["method"] = hits["method"].where(hits["dropped"] == 0, hits["method"] + "+backoff")
    return hits


def _levels(hit: pd.DataFrame, given: list[str], kind: str) -> np.ndarray:
    """Finest level the joined rows pin down: the finest element given when one row remains; the unit or
    building when one building remains (a room in several units is not a room-level match); else the house
    number, or the block itself."""
    one_row = hit["n"].to_numpy() == 1
    one_building = hit["n_building"].to_numpy() == 1
    finest = next((_DETAIL_LEVEL[c] for c in _DROP_ORDER if c in given), _BLOCK_LEVEL[kind])
    building_level = next(
        (_DETAIL_LEVEL[c] for c in ("unit", "building", "house_number") if c in given), "building"
    )
    coarse = (
        "house_number"
        if "house_number" in given or "estate" in given or kind == "estate"
        else _BLOCK_LEVEL[kind]
    )
    return np.where(one_row, finest, np.where(one_building, building_level, coarse))


def _choose(hits: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per input, the best hit; ``tie`` when equally good hits point to different buildings."""
    cols = [
        "n",
        "address_code",
        "building_code",
        "grid_code",
        "level",
        "bscore",
        "penalty",
        "method",
        "standard_text",
        "tie",
    ]
    if hits.empty:
        return pd.DataFrame(index=range(n), columns=cols)
    h = hits.copy()
    h["rank"] = h["bscore"] - h["penalty"]
    h = h.sort_values(["uid", "rank"], ascending=[True, False], kind="stable")
    top = h.groupby("uid", sort=False)["rank"].transform("max")
    best = h[h["rank"] >= top - 1e-9]
    first = best.drop_duplicates("uid").set_index("uid")
    # several blocks equally good: a result only where they all point to the same single building / grid
    g = best.groupby("uid")
    blocks = g["block"].size()
    same_building = (g["building_code"].nunique() == 1) & (g["n_building"].max() == 1)
    same_grid = (g["grid_code"].nunique() == 1) & (g["n_grid"].max() == 1)
    first["tie"] = ((blocks > 1) & ~same_building).reindex(first.index)
    one_row = (first["n"] == 1) & (blocks.reindex(first.index) == 1)
    first["address_code"] = first["address_code"].where(one_row)
    first["standard_text"] = first["standard_text"].where(one_row)
    first["building_code"] = first["building_code"].where(same_building.reindex(first.index))
    first["grid_code"] = first["grid_code"].where(same_grid.reindex(first.index))
    out = first.reindex(range(n))[cols]
    return out
