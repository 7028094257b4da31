"""A house's address text as the address parser reads it (:mod:`matching.address`): blocking keys, comparisons.

Departments write one flat many ways: 七号 / 7号 / ７号, 5楼501 / 501室, 1-1-101 / 1栋1单元101室, 1座 / 1幢 /
1号楼. The raw digits of those texts disagree; the parser's canonical reading does not. Nothing here parses
addresses itself: :func:`~matching.address.canonical_address_text` and the parser's detail pattern give the
numbered elements, :func:`~matching.address.parse_addresses` (without a library) the road, estate and village,
and :mod:`matching.address.roads` tells a typo'd road from another road.

* :func:`number_key` — the numbered elements as one key (``组|号|栋|单元|室``; the floor only where no room is
  given, since ``5楼501`` and ``501室`` are one room), for blocking and for comparing.
* :func:`place_key` — the sound of the last two characters before the first number (the road, else the
  estate or village the numbers count in), for blocking.
* :func:`place_parts` — the road, estate and village a text names, for comparing.
* :func:`places_agree` — per pair: how many place elements agree, or that one contradicts.
* :func:`local_text` — the canonical text from the road on (the division names written in front set aside),
  and the district, street and community it names, so that a prefix one side leaves out does not decide how
  alike two texts look.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from matching.address.canonical import extract_detail
from matching.address.parse import parse_addresses
from matching.address.roads import one_substitution, sounds_like
from matching.address.rules import COMMUNITY_BARE, ESTATE_BARE, VILLAGE_BARE

#: The numbered elements a house is told apart by, coarse to fine; ``unplaced``: the digits the parser could
#: place in no element (a form it does not read, 287弄8号502 before lanes were read), so two such texts are
#: not taken for one flat because the elements they share agree.
NUMBER_ELEMENTS = ("villager_group", "house_number", "building", "unit", "room", "unplaced")
#: Places: compare the road, then the estate, then the village / community (the first both texts name decides
#: nothing alone: every one both name must agree).
PLACE_ELEMENTS = ("road", "estate", "community")
#: The divisions a text may name in front of its road, as the parser reads them, outermost first.
DIVISION_ELEMENTS = ("province", "city", "district", "street", "community")
#: Of them, those two texts must not name differently for their local texts to be compared.
PREFIX_ELEMENTS = ("district", "street", "community")
#: A road or estate name shorter than this is never taken as the tail of a longer one (东路 is no road).
_MIN_TAIL = 3

#: Readings of the distinct texts last read, by (reader, fingerprint of the texts): blocking keys and the two
#: comparisons read the same texts several times in one run, and reading is what costs.
_READ: dict[tuple[str, str], pd.DataFrame] = {}
_READ_KEEP = 2


def _distinct(texts: pd.Series, fn, columns: list[str] | None = None) -> pd.DataFrame:
    """``fn`` over the distinct non-missing texts, mapped back onto ``texts`` (feeds repeat addresses); only
    ``columns`` of it when given (issue #19: a key reads one of the dozen, mapped onto every record)."""
    s = texts.astype("string")
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)
    fingerprint = hashlib.sha1(pd.util.hash_array(values, categorize=False).tobytes()).hexdigest()
    key = (fn.__name__, fingerprint)
    u = _READ.get(key)
    if u is None:
        u = fn(pd.Series(values, dtype="string")).reset_index(drop=True)
        while len(_READ) >= _READ_KEEP:
            _READ.pop(next(iter(_READ)))
        _READ[key] = u
    if columns is not None:
        u = u[columns]
    take = np.where(codes < 0, 0, codes)
    out = (
        u.iloc[take].reset_index(drop=True)
        if len(u)
        else pd.DataFrame(columns=u.columns, index=range(len(s)))
    )
    out.index = texts.index
    out.loc[codes < 0] = pd.NA
    return out


def _number_columns(detail: pd.DataFrame) -> pd.DataFrame:
    """:data:`NUMBER_ELEMENTS` from the parser's elements (the floor stands for a room not given)."""
    room = detail["room"].fillna("")
    floor = detail["floor"].fillna("")
    # 5楼501 and 501室 are one room: the floor counts only where no room is given (a shop on 5楼)
    finest = room.where(room != "", ("F" + floor).where(floor != "", ""))
    parts = {c: detail[c].fillna("") for c in NUMBER_ELEMENTS[:-2]}
    parts["room"] = finest
    rest = detail["rest"] if "rest" in detail else pd.Series("", index=detail.index)
    parts["unplaced"] = rest.astype("string").fillna("").str.replace(r"\D+", "-", regex=True).str.strip("-")
    out = pd.DataFrame({c: v.mask(v == "").astype("string") for c, v in parts.items()})
    key = parts["villager_group"].str.cat([parts[c] for c in NUMBER_ELEMENTS[1:-1]], sep="|")
    key = key + ("|" + parts["unplaced"]).where(parts["unplaced"] != "", "")
    out["numbers"] = key.mask(key.str.replace("|", "", regex=False) == "").astype("string")
    return out


def _sound(tails: pd.Series) -> pd.Series:
    """Tails as they sound (湖彬路 / 湖滨路 / 湖宾路 → binlu): departments key road names through a pinyin input
    method, so a typo'd road still meets its road in a block. Over the distinct tails, which are few."""
    from pypinyin import Style, lazy_pinyin

    codes, uniques = pd.factorize(tails, use_na_sentinel=True)
    sounds = np.array(
        ["".join(lazy_pinyin(str(t), style=Style.NORMAL)) for t in uniques] + [""], dtype=object
    )
    out = pd.Series(sounds[np.where(codes < 0, len(uniques), codes)], index=tails.index, dtype="string")
    return out.mask(codes < 0)


def _parts(u: pd.Series) -> pd.DataFrame:
    """Everything this module reads of the distinct texts ``u``, in one pass of the parser."""
    parsed = parse_addresses(u)
    out = _number_columns(parsed)
    place = extract_detail(parsed["canonical"])["place"].astype("string")
    out["place_tail"] = _sound(place.str.slice(-2).mask(place.str.len() == 0))
    out["road"] = parsed["road"].astype("string")
    out["estate"] = _bare(parsed["estate"].astype("string"))
    out["community"] = _bare(parsed["community"].astype("string"))
    out["local"] = _without_divisions(parsed)
    out["district"] = parsed["district"].astype("string")
    out["street"] = parsed["street"].astype("string")
    return out


def _without_divisions(parsed: pd.DataFrame) -> pd.Series:
    """The canonical texts without the division names the parser read in front (长乐街道人民路5号 → 人民路5号)."""
    canonical = parsed["canonical"].astype("string").fillna("")
    parts = [parsed[c].astype("string").fillna("") for c in DIVISION_ELEMENTS]
    prefix = parts[0].str.cat(parts[1:], sep="")
    local = [
        c[len(p) :] if p and c.startswith(p) else c
        for c, p in zip(canonical.tolist(), prefix.tolist(), strict=True)
    ]
    out = pd.Series(local, index=parsed.index, dtype="string")
    return out.mask(out.str.len() == 0, canonical.mask(canonical.str.len() == 0))


def number_key(texts: pd.Series) -> pd.Series:
    """The numbered elements of each text as one key (NA when the text has none).

    >>> number_key(pd.Series(["滨江路七号5楼501", "滨江路7号501室", "湖滨路2号1-1-101", "湖滨路2号1栋1单元101室"])).tolist()
    ['|7|||501', '|7|||501', '|2|1|1|101', '|2|1|1|101']
    """
    return _distinct(texts, _parts, ["numbers"])["numbers"].astype("string")


def place_key(texts: pd.Series) -> pd.Series:
    """How the last two characters before the first number sound (湖滨路2号 and 湖彬路2号 → binlu, 翠湖苑1栋 →
    huyuan), NA if none: the road, else the estate or village the numbers count in."""
    return _distinct(texts, _parts, ["place_tail"])["place_tail"].astype("string")


def _bare(values: pd.Series) -> pd.Series:
    """Estate and community names without the suffix they are written with or without (阳光花园 = 阳光小区)."""
    s = values.astype("string")
    for pattern in (ESTATE_BARE, COMMUNITY_BARE, VILLAGE_BARE):
        s = s.str.replace(pattern.pattern, "", regex=True)
    return s.mask(s.str.len() == 0, values.astype("string"))


def place_parts(texts: pd.Series, columns: list[str] | None = None) -> pd.DataFrame:
    """Per text: the numbered elements (:data:`NUMBER_ELEMENTS`, the floor standing for the room where no room
    is given) and the road, estate and village or community it names (:data:`PLACE_ELEMENTS`); only
    ``columns`` of them when given."""
    return _distinct(texts, _parts, columns)


def local_text(texts: pd.Series) -> pd.DataFrame:
    """Per text: ``local``, the canonical text from the road on (七号 = 7号, 幢 = 栋; the province … community
    written in front set aside), and the ``district``, ``street`` and ``community`` it names (NA where none).

    >>> local_text(pd.Series(["长乐街道人民路五号3幢201室", "人民路5号3栋201室"]))["local"].tolist()
    ['人民路5号3栋201室', '人民路5号3栋201室']
    """
    return _distinct(texts, _parts)[["local", *PREFIX_ELEMENTS]]


def _same_name(a: str, b: str) -> bool:
    """One road / estate / village written two ways: equal, one the tail of the other (湖滨湖滨路 / 湖滨路, the
    community written without its 社区 in front), or a typo (same sound, one character; never a direction or
    a numeral: 滨江东路 is not 滨江路, 东湖二路 not 东湖三路)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= _MIN_TAIL and long_.endswith(short):
        return True
    return sounds_like(a, b) or one_substitution(a, b)


def places_agree(parts: dict[str, np.ndarray], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair: how many of the place elements (:data:`PLACE_ELEMENTS`) both texts name agree (0 = none named
    on both), or -1 where one both name differs."""
    agreeing = np.zeros(len(left), dtype=np.int8)
    differs = np.zeros(len(left), dtype=bool)
    for element in PLACE_ELEMENTS:
        a, b = parts[element][left], parts[element][right]
        both = np.flatnonzero(pd.notna(a) & pd.notna(b) & ~differs)
        if not len(both):
            continue
        # the distinct name pairs only: one check per pair of names, not per pair of records
        pairs = pd.DataFrame({"a": a[both], "b": b[both]})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
        same = np.array([_same_name(str(x), str(y)) for x, y in uniques], dtype=bool)[codes]
        agreeing[both[same]] += 1
        differs[both[~same]] = True
    return np.where(differs, -1, agreeing).astype(np.int8)


__all__ = ["NUMBER_ELEMENTS", "local_text", "number_key", "place_key", "place_parts", "places_agree"]
