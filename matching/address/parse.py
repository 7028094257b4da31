"""Reading an address: the place resolved against the library (:func:`read_place`), and the elements
(:func:`parse_addresses`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matching.address.canonical import canonical_address_text, distinct_places, extract_detail
from matching.address.roads import TYPO_METHODS
from matching.address.rules import (
    DIVISION_SUFFIX_ONLY,
    DIVISION_WORD,
    ESTATE_BARE,
    GENERIC_LEVELS,
    LABELS,
    LEVEL_RANK,
    NOT_DIVISION,
    PROVINCE_SHORT,
    ROAD_WORD,
)

if TYPE_CHECKING:
    from matching.address.library import AddressLibrary, Meaning, Piece

#: Elements :func:`parse_addresses` returns, coarse to fine.
ELEMENTS = (
    "province",
    "city",
    "district",
    "street",
    "community",
    "villager_group",
    "road",
    "house_number",
    "estate",
    "building",
    "unit",
    "floor",
    "room",
)


@dataclass
class PlaceReading:
    """What the place part of one address says, resolved against the library."""

    communities: frozenset[str] | None = None  # None = no constraint
    roads: list[tuple[str, float, str]] = field(default_factory=list)  # (road, block score, method)
    estates: list[str] = field(default_factory=list)
    outside: bool = False
    conflict: bool = False
    unknown: int = 0  # stretches of text the library does not know
    unknown_road: str | None = None  # a road the text names that the library does not have
    last_communities: frozenset[str] | None = None  # community readings of the last division named
    named: dict[str, str] = field(default_factory=dict)  # level → library name found in the text


def read_place(library: AddressLibrary, place: str, estate_text: str = "") -> PlaceReading:
    """Resolve the place part (everything before the first number) and the estate text after 号."""
    r = PlaceReading()
    tokens, unknown, e_unknown = _tokens(library, LABELS.sub("", place), estate_text)
    r.unknown = len([u for u in unknown if u not in ("第",)]) + len(e_unknown)
    r.outside, unknown_roads = _classify_unknown(unknown)
    if r.outside:
        return r

    comms = _named_divisions(library, tokens, r)
    road_tokens = [m for _, ms in tokens for m in ms if m.kind == "road"]
    estate_tokens = [m for _, ms in tokens for m in ms if m.kind == "estate"]
    road_tokens = [
        m
        for m in road_tokens
        if not any(m.value in other.value and m.value != other.value for other in road_tokens)
    ]
    if comms is not None and not comms:
        # the divisions contradict each other: trust the finer evidence (road / estate) at a cost
        r.conflict = True
        comms = None
    place_comms = comms
    comms = _roads_and_estates(r, road_tokens, estate_tokens, place_comms)
    if not road_tokens and unknown_roads:
        r.unknown_road = unknown_roads[-1]
        r.roads.extend(library.similar_roads(unknown_roads[-1], place_comms))
        if len(r.roads) == 1 and r.roads[0][2] in TYPO_METHODS:
            r.unknown -= 1  # the road was read after all (its lower block score says how)
        if r.roads:
            comms = frozenset().union(*(library.road_communities[x] for x, _, _ in r.roads))
            if place_comms is not None:
                comms = comms & place_comms or comms
    r.communities = comms
    return r


def _tokens(
    library: AddressLibrary, place: str, estate_text: str
) -> tuple[list[tuple[str, tuple[Meaning, ...]]], list[str], list[str]]:
    """The known tokens of the place and the estates of the estate text; the unknown stretches of each."""
    pieces: list[Piece] = []
    for text, meanings in library.segment(place):
        if meanings is None and pieces and _is_suffix_of(pieces[-1], text):
            continue  # 湖滨社区 + 居委会: the division's suffix written once more, not a division of its own
        # an unknown road whose name starts like a bare division or estate name (滨江 + 中路 = 滨江中路, no such
        # road): the name is part of the road name, not a division of the address
        if (
            meanings is None
            and ROAD_WORD.search(text)
            and len(text) <= 3
            and pieces
            and _bare(pieces[-1])
            and not _typo_of_a_road(library, text)
        ):
            text = pieces.pop()[0] + text
        pieces.append((text, meanings))
    e_pieces = library.segment(estate_text) if estate_text else []
    e_tokens = [(t, m) for t, m in e_pieces if m is not None and any(x.kind == "estate" for x in m)]
    pieces = _division_before_road(pieces, bool(e_tokens))
    tokens = [(t, m) for t, m in pieces if m is not None] + e_tokens
    unknown = [t for t, m in pieces if m is None]
    e_unknown = [t for t, m in e_pieces if m is None]
    return tokens, unknown, e_unknown


def _division_before_road(pieces: list[Piece], estate_after: bool) -> list[Piece]:
    """A name that is both a division and an estate (桂园 = 桂园社区, 桂园小区; 滨江 = 滨江社区, 滨江花园) is the
    division where divisions are written: before a road, known or not (桂园新围路7号, 桂园欣围路7号), or before
    another estate (滨江富园, or ``estate_after`` the number). Alone (桂园3栋) it may still be the estate."""
    anchors = [
        i
        for i, (tok, meanings) in enumerate(pieces)
        if (meanings is None and ROAD_WORD.search(tok))
        or any(m.kind in ("road", "estate") for m in meanings or ())
    ]
    out: list[Piece] = []
    for i, (tok, meanings) in enumerate(pieces):
        kinds = {m.kind for m in meanings or ()}
        later = estate_after or (bool(anchors) and i < anchors[-1])
        if meanings and later and "estate" in kinds and kinds - {"estate", "road"}:
            meanings = tuple(m for m in meanings if m.kind != "estate")
        out.append((tok, meanings))
    return out


def _is_suffix_of(previous: Piece, text: str) -> bool:
    """Whether unknown ``text`` is only a division suffix (居委会, 村委会 …) right after a division."""
    meanings = previous[1]
    return (
        meanings is not None
        and any(m.kind not in ("road", "estate") for m in meanings)
        and DIVISION_SUFFIX_ONLY.match(text) is not None
    )


def _bare(previous: Piece) -> bool:
    """Whether a known token is a bare name (东湖, 阳光) that can begin a road name, not a road, nor a name
    with its suffix (东湖社区, 阳光花园: a road never carries those inside)."""
    tok, meanings = previous
    return (
        meanings is not None
        and all(m.kind != "road" for m in meanings)
        and not DIVISION_WORD.search(tok)
        and not NOT_DIVISION.search(tok)
        and not ESTATE_BARE.search(tok)
    )


def _typo_of_a_road(library: AddressLibrary, text: str) -> bool:
    """Whether ``text`` on its own reads as a typo of a library road (湖滨 + 湖摈路: the road is 湖滨路)."""
    return any(method in TYPO_METHODS for _, _, method in library.similar_roads(text, None))


def _classify_unknown(unknown: list[str]) -> tuple[bool, list[str]]:
    """Whether unknown text names a division (the address lies elsewhere), and the unknown road names."""
    outside = False
    unknown_roads: list[str] = []
    for u in unknown:
        if DIVISION_WORD.search(u) and not NOT_DIVISION.search(u) or any(p in u for p in PROVINCE_SHORT):
            outside = True
        elif ROAD_WORD.search(u) and len(u) >= 2:
            unknown_roads.append(u)
    return outside, unknown_roads


def _named_divisions(
    library: AddressLibrary, tokens: list[tuple[str, tuple[Meaning, ...]]], r: PlaceReading
) -> frozenset[str] | None:
    """The communities the divisions named allow (None: no division named); fills ``r.named`` and
    ``r.last_communities``. Each division narrows the communities; a token with several meanings allows
    their union."""
    comms: frozenset[str] | None = None
    division_sets: list[frozenset[str]] = []
    deepest = -1
    for tok, meanings in tokens:
        div = [m for m in meanings if m.kind not in ("road", "estate")]
        if not div:
            continue
        if len(div) > 1:
            # a name shared by levels (石岭镇 / 石岭村 both "石岭"): after a coarser division has been
            # named, it stands for the finer one (石岭镇石岭3组 = 石岭镇 石岭村 3组)
            deeper = [m for m in div if LEVEL_RANK.get(m.kind, 9) > deepest]
            div = deeper or div
        deepest = max(deepest, min(LEVEL_RANK.get(m.kind, 9) for m in div))
        allowed = frozenset().union(*(m.communities for m in div))
        division_sets.append(allowed)
        village = [m for m in div if m.kind == "community"]
        r.last_communities = frozenset().union(*(m.communities for m in village)) if village else None
        if len(div) == 1:
            r.named[div[0].kind] = library.division_name(div[0].value, tok)
    for s in division_sets:
        comms = s if comms is None else comms & s
    return comms


def _roads_and_estates(
    r: PlaceReading,
    road_tokens: list[Meaning],
    estate_tokens: list[Meaning],
    place_comms: frozenset[str] | None,
) -> frozenset[str] | None:
    """Record the roads and estates named in ``r``; the communities they allow within ``place_comms``
    (those of the divisions named), or anywhere when the divisions contradict them."""
    comms = place_comms
    for kind, items in (("road", road_tokens), ("estate", estate_tokens)):
        for m in items:
            allowed = m.communities if place_comms is None else m.communities & place_comms
            if not allowed:
                r.conflict = True
                allowed = m.communities
            comms = allowed if comms is None or comms is place_comms else comms | allowed
            if kind == "road":
                r.roads.append((m.value, 1.0, "road"))
                r.named["road"] = m.value
            else:
                r.estates.append(m.value)
                r.named["estate"] = m.value
    return comms


def _generic_place(place: str) -> dict[str, str]:
    """Split a place without a library, by division and road suffixes (a best effort)."""
    out: dict[str, str] = {}
    pos = 0
    for level, pattern in GENERIC_LEVELS:
        m = pattern.match(place, pos)
        if m:
            out[level] = m.group(0)
            pos = m.end()
    if pos < len(place):
        out["estate"] = place[pos:]
    return out


def parse_addresses(texts: pd.Series, library: AddressLibrary | None = None) -> pd.DataFrame:
    """Split free-text addresses into elements (:data:`ELEMENTS`), aligned to ``texts``.

    Numbers come out as plain digits (``十八号`` → ``house_number='18'``; ``3幢`` → ``building='3'``;
    ``2-501`` → ``unit='2', room='501'``; ``第三村民小组`` → ``villager_group='3'``). With a ``library`` the
    divisions, roads and estates are read against its vocabulary (abbreviations such as 湖滨 come out as the
    full name 湖滨社区); without one, by their suffixes. ``rest`` holds text after the room that no element
    took, ``canonical`` the canonical text parsed, ``outside`` whether the text names a division the library
    does not have (only with a library).
    """
    canonical = canonical_address_text(texts.astype("string"))
    codes, uniques = pd.factorize(canonical, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="string")
    detail = extract_detail(u)
    p_codes, places = distinct_places(detail)
    rows = []
    for place, estate_text in places:
        parts: dict[str, str | bool | None]
        if library is None:
            parts = {**_generic_place(place)}
            if estate_text:
                parts["estate"] = estate_text
            parts["outside"] = None
        else:
            r = read_place(library, place, estate_text)
            parts = dict(r.named)
            if r.estates:
                parts["estate"] = r.estates[0]
            parts["outside"] = r.outside
        rows.append(parts)
    place_frame = pd.DataFrame(
        rows, columns=["province", "city", "district", "street", "community", "road", "estate", "outside"]
    )
    per_unique = place_frame.iloc[p_codes].reset_index(drop=True)
    out = pd.DataFrame(index=u.index)
    for el in ELEMENTS:
        if el in detail.columns:
            out[el] = detail[el]
        elif el in per_unique.columns:
            out[el] = per_unique[el].astype("string")
    out["rest"] = detail["rest"].mask(detail["rest"] == "")
    out["canonical"] = u
    out["outside"] = per_unique["outside"].astype("boolean")
    out = out[[*ELEMENTS, "rest", "canonical", "outside"]]
    # map back onto the input rows
    take = np.where(codes < 0, 0, codes)
    res = (
        out.iloc[take].set_axis(texts.index)
        if len(out)
        else pd.DataFrame(columns=out.columns, index=texts.index)
    )
    res.loc[codes < 0, :] = pd.NA
    for c in res.columns:
        res[c] = res[c].astype("boolean" if c == "outside" else "string")
    return res
