"""Chinese address parsing and matching to the standard address library (标准地址库).

Department addresses are free text that rarely matches the library letter for letter: upper levels missing
(no 省/市/区), community abbreviations (湖滨 for 湖滨社区), Chinese numerals (十八号, 三栋), 栋/幢/号楼/座,
rooms written ``501``, ``5楼501``, ``2-501``, ``2单元501``, villager groups as 组 / 三组 / 第三村民小组,
full-width digits, 繁体, and addresses outside the district altogether (a migrant's 户籍 in another
province), which must come out *unmatched*, never bound.

How an address is read (:func:`parse_addresses`)
    1. *Canonical text* (vectorised, Arrow): :func:`~matching.text.normalize_text`, spaces and punctuation
       dropped, Chinese numerals converted where they count (before 号/栋/单元/室/楼/组), marker words unified
       (幢/号楼/座/# → 栋, 村民小组/小组/队 → 组, 层 → 楼, 房/户 → 室), dash forms spelled out
       (``3-2-501`` → 3栋2单元501室, ``2-501`` → 2单元501室).
    2. *Detail* (vectorised, one RE2 pattern): everything before the first digit is the *place*; then
       villager group, house number (号), estate text, building (栋), unit (单元), floor (楼), room (室).
    3. *Place* (per distinct place string, which feeds repeat a lot): segmented against the library's
       vocabulary — division names, their aliases and short forms, road and estate names — by dynamic
       programming (most characters covered, fewest tokens). Text the library does not know is classified:
       a division word (…省, …市, …县, …镇, …村) means the address lies elsewhere; a road word (…路, …街) is
       looked up by pinyin and by rapidfuzz within the communities the rest of the address allows.

How an address is matched (:func:`match_addresses`)
    The place yields candidate *blocks* — (community, road), (community, estate), (village, villager group) or
    a whole community — consistent with every division the text names. The detail is joined to the library
    within those blocks on the elements the text gives (hash joins on pre-aggregated library tables, grouped
    by which elements are present; an estate named beside a road narrows the road). Where nothing fits, the
    finest element is dropped and the join retried (room, unit, estate, building, house number), at a cost in
    score. The result is bound to an address when one library row remains, to a building when one building
    remains, to a grid when all remaining rows share it.

Statuses: ``matched`` = bound to one building (or finer) with score ≥ :data:`MATCH_THRESHOLD` and no
contradiction; ``ambiguous`` = candidates exist but not one building, or the evidence is weak (fuzzy road,
contradicting divisions, elements dropped, a villager group or community with nothing more); ``unmatched`` =
nothing in the library fits, or the text names a division outside it. Only matched rows carry an address /
building code; ambiguous and unmatched rows carry up to :data:`MAX_CANDIDATES` candidates for review.
See ``docs/addresses.md`` for thresholds and measured accuracy and speed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.text import arrow_to_series, as_string_array, map_distinct, normalize_text, to_simplified
from warehouse.errors import UserError

log = logging.getLogger(__name__)

#: Matching levels, finest first.
LEVELS = ("room", "unit", "building", "house_number", "road", "community", "none")
STATUSES = ("matched", "ambiguous", "unmatched")
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

#: Lowest score a binding may have to count as ``matched``.
MATCH_THRESHOLD = 0.8
#: Score lost for each detail element the library could not confirm and the matcher had to drop.
DROP_PENALTY = {"room": 0.15, "unit": 0.1, "estate": 0.1, "building": 0.3, "house_number": 0.3}
#: Score lost per stretch of text in the place the library does not know (e.g. "住址:" or a shop sign).
UNKNOWN_TEXT_PENALTY = 0.05
#: Factor applied when the divisions named contradict the road/estate and had to be ignored.
CONFLICT_FACTOR = 0.6
#: Block scores of a road found by same pinyin (宾江路 → 滨江路) and the rapidfuzz cut-off for other roads.
PINYIN_ROAD_SCORE = 0.85
FUZZY_ROAD_CUTOFF = 75.0
MAX_CANDIDATES = 5
#: Block score of a villager group found without any village or town in the text, and of a whole community
#: when the text names neither road, estate nor group (never enough to match).
WEAK_GROUP_SCORE = 0.7
#: Block score of an estate or community when the text also names a road the library does not have.
UNKNOWN_ROAD_FACTOR = 0.7

# ----------------------------------------------------------------------------------------------------------
# Vocabulary that does not come from the library
# ----------------------------------------------------------------------------------------------------------
PROVINCES = (
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "内蒙古自治区",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "上海市",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "广西壮族自治区",
    "海南省",
    "重庆市",
    "四川省",
    "贵州省",
    "云南省",
    "西藏自治区",
    "陕西省",
    "甘肃省",
    "青海省",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "台湾省",
    "香港特别行政区",
    "澳门特别行政区",
)
_PROVINCE_SHORT = tuple(
    sorted(
        {re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", p) for p in PROVINCES},
        key=len,
        reverse=True,
    )
)
#: Text ending like this names a division; unknown to the library, it puts the address elsewhere.
_DIVISION_WORD = re.compile(
    r"(?:省|自治区|特别行政区|市|自治州|州|地区|盟|县|自治县|旗|区|镇|乡|街道|街道办事处|办事处|社区|居委会|村委会|"
    r"村|嘎查)$"
)
#: ... except for these, which are estates or parts of a place rather than divisions.
_NOT_DIVISION = re.compile(r"(?:小区|园区|校区|景区|新村|花园|广场|商业区|工业区|市场|超市)$")
_ROAD_WORD = re.compile(r"(?:大道|大街|路|街|巷|弄|胡同|道|里|段)$")
_LEVEL_RANK = {"province": 0, "city": 1, "district": 2, "street": 3, "community": 4}
_DIVISION_SUFFIXES = (
    "街道办事处",
    "街道",
    "社区居委会",
    "居委会",
    "村委会",
    "社区",
    "自治县",
    "省",
    "市",
    "区",
    "县",
    "镇",
    "乡",
    "村",
)
_ESTATE_SUFFIXES = ("小区",)
#: Leading words that are labels rather than address ("住址:", "地址").
_LABELS = re.compile(r"^(?:中华人民共和国|中国|住址|地址|现住址|户籍地址|住所|居住地址|家庭住址)+")

# ----------------------------------------------------------------------------------------------------------
# Canonical text (vectorised)
# ----------------------------------------------------------------------------------------------------------
_NUMERAL = "零〇○一二两三四五六七八九十百千"
_CANON_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"[\s,，。、;；:：\"'“”‘’《》<>〈〉【】\[\]{}()（）]", ""),
    # Chinese numerals where they count (a Python pass over the values that need it is done first)
    (r"(\d+)(?:号楼|栋楼|幢楼|幢|座|#楼|#|栋)", r"\1栋"),
    (r"第?(\d+)(?:村民小组|村民组|小组|组|队|社)", r"\1组"),
    (r"(\d+)(?:层|F|f)", r"\1楼"),
    (r"(\d+)(?:房间|房|户|号房)$", r"\1室"),
    # dash forms at the end: 3-2-501 → building-unit-room; 2-501 (after a building or house number) → unit-room
    (r"(\d+)[-—－~](\d+)[-—－~](\d+)室?$", r"\1栋\2单元\3室"),
    (r"栋(\d+)[-—－~](\d+)室?$", r"栋\1单元\2室"),
    (r"号(\d+)[-—－~](\d+)室?$", r"号\1单元\2室"),
    (r"^([^\d]+)(\d+)[-—－~](\d+)室?$", r"\1\2单元\3室"),
)
_NUMERAL_BEFORE = re.compile(
    f"([{_NUMERAL}]+)(?=号(?![路街巷道])|栋|幢|座|号楼|单元|室|楼|层|组|村民小组|村民组|小组|队)"
)
_DETAIL_PATTERN = (
    r"^(?P<place>[^\d]*)"
    r"(?:(?P<villager_group>\d+)组)?"
    r"(?:(?P<house_number>\d+)号)?"
    r"(?P<estate_text>(?:[^\d楼][^\d]*)?)"
    r"(?:(?P<building>\d+)栋)?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:(?P<floor>\d+)楼)?"
    r"(?:(?P<room>\d+)室?)?"
    r"(?P<rest>.*)$"
)
_DETAIL_FIELDS = (
    "place",
    "villager_group",
    "house_number",
    "estate_text",
    "building",
    "unit",
    "floor",
    "room",
    "rest",
)


def _convert_numerals(arr: pa.Array) -> pa.Array:
    from matching.text import NumeralError, chinese_to_int

    has = pc.match_substring_regex(arr, f"[{_NUMERAL}]").to_numpy(zero_copy_only=False)
    if not has.any():
        return arr

    def sub(m: re.Match[str]) -> str:
        try:
            return str(chinese_to_int(m.group(1)))
        except NumeralError:
            return m.group(1)

    values = arr.to_numpy(zero_copy_only=False).astype(object)
    idx = np.flatnonzero(has)
    values[idx] = [_NUMERAL_BEFORE.sub(sub, v) for v in values[idx]]
    return pa.array(values, type=pa.string())


def _canonical_array(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = to_simplified(arr)
    arr = pc.replace_substring_regex(arr, _CANON_REPLACEMENTS[0][0], _CANON_REPLACEMENTS[0][1])
    arr = _convert_numerals(arr)
    for pattern, repl in _CANON_REPLACEMENTS[1:]:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    return pc.replace_substring_regex(arr, _LABELS.pattern, "")


def canonical_address_text(texts: pd.Series) -> pd.Series:
    """The canonical form the parser reads: half-width, simplified, no spaces, numerals and markers unified.

    >>> canonical_address_text(pd.Series(["濱江路十八號 三幢二單元５０１"])).iloc[0]
    '滨江路18号3栋2单元501'
    """
    return map_distinct(texts, _canonical_array)


def _strip_zeros(s: pd.Series) -> pd.Series:
    """'05' → '5', '' → NA."""
    out = s.str.replace(r"^0+(?=\d)", "", regex=True)
    return out.mask(out.str.len() == 0)


def _extract_detail(canonical: pd.Series) -> pd.DataFrame:
    arr = as_string_array(canonical.fillna(""))
    st = pc.extract_regex(arr, _DETAIL_PATTERN)
    out = {}
    for name in _DETAIL_FIELDS:
        col = arrow_to_series(st.field(name), canonical.index)
        out[name] = col.fillna("") if name in ("place", "estate_text", "rest") else _strip_zeros(col)
    return pd.DataFrame(out, index=canonical.index)


def _distinct_places(detail: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Each :func:`_extract_detail` row's (place, estate text) as a code into the distinct pairs, and those pairs.

    Places repeat a lot: callers read a place once per distinct pair.
    """
    codes, uniques = pd.factorize(detail["place"] + "\x1f" + detail["estate_text"])
    return codes, [tuple(str(key).split("\x1f")) for key in uniques]


# ----------------------------------------------------------------------------------------------------------
# The library
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Meaning:
    """What a token of the vocabulary can stand for: a division (by level and code), a road or an estate."""

    kind: str  # province / city / district / street / community / road / estate
    value: str  # division code, or the road / estate name
    communities: frozenset[str]  # community codes it is consistent with


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


class LibraryError(UserError, ValueError):
    """The standard address library is missing or malformed; the message names the file and column."""


ADDRESS_LIBRARY_COLUMNS = (
    "address_code",
    "division_code",
    "province",
    "city",
    "district",
    "street",
    "community",
    "road",
    "villager_group",
    "house_number",
    "estate",
    "building",
    "unit",
    "floor",
    "room",
    "standard_text",
    "building_code",
    "grid_code",
    "lon",
    "lat",
)


class AddressLibrary:
    """The standard address library of a workspace, indexed for matching.

    Build with :meth:`load` (``reference/standard_addresses.csv`` and ``divisions.csv``) or
    :meth:`from_frames`. Holds the addresses (one row per finest address), the division tree and the
    vocabulary of division, road and estate names used to read free-text places.
    """

    def __init__(self, addresses: pd.DataFrame, divisions: pd.DataFrame | None = None):
        missing = [
            c for c in ADDRESS_LIBRARY_COLUMNS if c not in addresses.columns and c not in ("lon", "lat")
        ]
        if missing:
            raise LibraryError(f"standard address library lacks columns {missing}")
        lib = addresses.copy()
        for c in ADDRESS_LIBRARY_COLUMNS:
            if c in ("lon", "lat"):
                continue
            lib[c] = lib[c].astype("string").fillna("")
        for c in ("road", "estate", "villager_group", "province", "city", "district", "street", "community"):
            lib[c] = normalize_text(lib[c]).str.replace(" ", "", regex=False).fillna("")
        for c in ("villager_group", "house_number", "building", "unit", "floor", "room"):
            lib[c] = _strip_zeros(canonical_address_text(lib[c])).fillna("")
        self.addresses = lib.reset_index(drop=True)
        self.divisions = self._division_frame(divisions)
        self._build_index()

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        reference_dir: Path | str,
        addresses: str = "standard_addresses.csv",
        divisions: str = "divisions.csv",
    ) -> AddressLibrary:
        """Read the library from a workspace's ``reference/`` folder (UTF-8 CSV, all text but lon/lat)."""
        reference_dir = Path(reference_dir)
        path = reference_dir / addresses
        if not path.exists():
            raise LibraryError(f"{path}: no standard address library here (the workspace's reference data)")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        for c in ("lon", "lat"):
            if c in frame.columns:
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
        div_path = reference_dir / divisions
        div = pd.read_csv(div_path, dtype=str, keep_default_na=False) if div_path.exists() else None
        log.info("address library: %d addresses from %s", len(frame), path)
        return cls(frame, div)

    @classmethod
    def from_frames(cls, addresses: pd.DataFrame, divisions: pd.DataFrame | None = None) -> AddressLibrary:
        return cls(addresses, divisions)

    def _division_frame(self, divisions: pd.DataFrame | None) -> pd.DataFrame:
        """Divisions from ``divisions.csv``, completed from the library's own name columns."""
        lib = self.addresses
        rows = []
        code = lib["division_code"]
        derived = {
            "province": code.str.slice(0, 2) + "0000",
            "city": code.str.slice(0, 4) + "00",
            "district": code.str.slice(0, 6),
            "street": code.str.slice(0, 9),
            "community": code,
        }
        parent = {
            "province": None,
            "city": "province",
            "district": "city",
            "street": "district",
            "community": "street",
        }
        for level, codes in derived.items():
            f = pd.DataFrame(
                {
                    "code": codes,
                    "name": lib[level],
                    "parent_code": derived[parent[level]] if parent[level] else "",
                }
            )
            f = f[f["name"] != ""].drop_duplicates("code")
            f["level"] = level
            f["aliases"] = ""
            rows.append(f)
        own = pd.concat(rows, ignore_index=True)
        if divisions is None or divisions.empty:
            return own
        d = divisions.copy()
        for c in ("code", "name", "level", "parent_code", "aliases"):
            d[c] = d[c].astype("string").fillna("") if c in d.columns else ""
        d["name"] = normalize_text(d["name"]).str.replace(" ", "", regex=False)
        d["aliases"] = normalize_text(d["aliases"]).str.replace(" ", "", regex=False)
        return pd.concat([d, own[~own["code"].isin(d["code"])]], ignore_index=True)

    def _build_index(self) -> None:
        lib = self.addresses
        div = self.divisions
        self.all_communities = frozenset(lib["division_code"].unique())
        children: dict[str, list[str]] = {}
        for c, p in zip(div["code"], div["parent_code"], strict=True):
            if p:
                children.setdefault(p, []).append(c)

        def communities_under(code: str) -> frozenset[str]:
            out, stack = set(), [code]
            while stack:
                x = stack.pop()
                if x in self.all_communities:
                    out.add(x)
                stack.extend(children.get(x, ()))
            return frozenset(out)

        vocab: dict[str, set[Meaning]] = {}

        def add(token: str, meaning: Meaning) -> None:
            if len(token) >= 2:
                vocab.setdefault(token, set()).add(meaning)

        self._division_level = dict(zip(div["code"], div["level"], strict=True))
        self._division_name = dict(zip(div["code"], div["name"], strict=True))
        for code, name, level, aliases in zip(
            div["code"], div["name"], div["level"], div["aliases"], strict=True
        ):
            comms = communities_under(code)
            if not comms:
                continue  # a division with no address in the library (other districts of the city)
            m = Meaning(level, code, comms)
            names = {name, *[a for a in aliases.split("|") if a]}
            for n in list(names):
                for suffix in _DIVISION_SUFFIXES:
                    if n.endswith(suffix) and len(n) - len(suffix) >= 2:
                        names.add(n[: -len(suffix)])
                        break
            for n in names:
                add(n, m)
        road_comms = lib[lib["road"] != ""].groupby("road")["division_code"].agg(frozenset)
        for road, comms in road_comms.items():
            add(road, Meaning("road", road, comms))
        estate_comms = lib[lib["estate"] != ""].groupby("estate")["division_code"].agg(frozenset)
        for estate, comms in estate_comms.items():
            add(estate, Meaning("estate", estate, comms))
            for suffix in _ESTATE_SUFFIXES:
                if estate.endswith(suffix) and len(estate) - len(suffix) >= 2:
                    add(estate[: -len(suffix)], Meaning("estate", estate, comms))
        self.vocab = {k: tuple(sorted(v, key=lambda m: (m.kind, m.value))) for k, v in vocab.items()}
        self._max_token = max((len(k) for k in self.vocab), default=1)
        self._roads_by_comm = (
            lib[lib["road"] != ""].groupby("division_code")["road"].agg(lambda x: sorted(set(x)))
        )
        self._road_pinyin: dict[str, list[str]] = {}
        from matching.normalize import name_pinyin

        roads = pd.Series(sorted(road_comms.index), dtype="string")
        for road, key in zip(roads, name_pinyin(roads), strict=True):
            self._road_pinyin.setdefault(str(key), []).append(str(road))
        self._road_comms = road_comms.to_dict()

        # block ids: (community, road), (community, estate), (community, villager group), community
        lib["_road_b"] = _block_ids(lib["division_code"], lib["road"])
        lib["_estate_b"] = _block_ids(lib["division_code"], lib["estate"])
        lib["_group_b"] = _block_ids(lib["division_code"], lib["villager_group"])
        lib["_comm_b"] = _block_ids(lib["division_code"], pd.Series("*", index=lib.index))
        self._block_of: dict[tuple[str, str, str], int] = {}
        for kind, col, name_col in (
            ("road", "_road_b", "road"),
            ("estate", "_estate_b", "estate"),
            ("group", "_group_b", "villager_group"),
        ):
            sel = lib[lib[name_col] != ""]
            for comm, name, b in zip(sel["division_code"], sel[name_col], sel[col], strict=True):
                self._block_of[(kind, comm, name)] = int(b)
        for comm, b in zip(lib["division_code"], lib["_comm_b"], strict=True):
            self._block_of[("comm", comm, "*")] = int(b)
        self._agg_cache: dict[tuple[str, ...], pd.DataFrame] = {}

    # ---- reading places ----------------------------------------------------------------------------------
    def _segment(self, text: str) -> list[tuple[str, tuple[Meaning, ...] | None]]:
        """Best cover of ``text`` by vocabulary tokens, in order: (text, meanings), or (text, None) for
        stretches the vocabulary does not know. Best = most characters covered, then fewest tokens."""
        n, vocab, longest = len(text), self.vocab, self._max_token
        best: list[tuple[int, int, int, bool]] = [(0, 0, n, False)] * (
            n + 1
        )  # covered, -tokens, next, is_tok
        for i in range(n - 1, -1, -1):
            cov, neg, _, _ = best[i + 1]
            choice = (cov, neg, i + 1, False)
            for j in range(min(n, i + longest), i + 1, -1):
                if text[i:j] in vocab:
                    c2, n2, _, _ = best[j]
                    cand = (c2 + j - i, n2 - 1, j, True)
                    if cand[:2] > choice[:2]:
                        choice = cand
            best[i] = choice
        pieces: list[tuple[str, tuple[Meaning, ...] | None]] = []
        i, run = 0, ""
        while i < n:
            _, _, j, is_tok = best[i]
            if is_tok:
                if run:
                    pieces.append((run, None))
                    run = ""
                pieces.append((text[i:j], vocab[text[i:j]]))
            else:
                run += text[i:j]
            i = j
        if run:
            pieces.append((run, None))
        return pieces

    def read_place(self, place: str, estate_text: str = "") -> PlaceReading:
        """Resolve the place part (everything before the first number) and the estate text after 号."""
        r = PlaceReading()
        place = _LABELS.sub("", place)
        pieces: list[tuple[str, tuple[Meaning, ...] | None]] = []
        for text, meanings in self._segment(place):
            # an unknown road whose name starts like a division (滨江 + 中路 = 滨江中路, no such road): the
            # division name is part of the road name, not a division of the address
            if (
                meanings is None
                and _ROAD_WORD.search(text)
                and len(text) <= 3
                and pieces
                and pieces[-1][1] is not None
                and all(m.kind not in ("road", "estate") for m in pieces[-1][1])
            ):
                text = pieces.pop()[0] + text
            pieces.append((text, meanings))
        tokens = [(t, m) for t, m in pieces if m is not None]
        unknown = [t for t, m in pieces if m is None]
        e_pieces = self._segment(estate_text) if estate_text else []
        tokens += [(t, m) for t, m in e_pieces if m is not None and any(x.kind == "estate" for x in m)]
        e_unknown = [t for t, m in e_pieces if m is None]
        r.unknown = len([u for u in unknown if u not in ("第",)]) + len(e_unknown)

        unknown_roads: list[str] = []
        for u in unknown:
            if (
                _DIVISION_WORD.search(u)
                and not _NOT_DIVISION.search(u)
                or any(p in u for p in _PROVINCE_SHORT)
            ):
                r.outside = True
            elif _ROAD_WORD.search(u) and len(u) >= 2:
                unknown_roads.append(u)
        if r.outside:
            return r

        # divisions named: each narrows the communities; a token with several meanings allows their union
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
                deeper = [m for m in div if _LEVEL_RANK.get(m.kind, 9) > deepest]
                div = deeper or div
            deepest = max(deepest, min(_LEVEL_RANK.get(m.kind, 9) for m in div))
            allowed = frozenset().union(*(m.communities for m in div))
            division_sets.append(allowed)
            village = [m for m in div if m.kind == "community"]
            r.last_communities = frozenset().union(*(m.communities for m in village)) if village else None
            if len(div) == 1:
                r.named[div[0].kind] = self._division_name.get(div[0].value, tok)
        for s in division_sets:
            comms = s if comms is None else comms & s
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
        if not road_tokens and unknown_roads:
            r.unknown_road = unknown_roads[-1]
            r.roads.extend(self._similar_roads(unknown_roads[-1], place_comms))
            if r.roads:
                comms = frozenset().union(*(self._road_comms[x] for x, _, _ in r.roads))
                if place_comms is not None:
                    comms = comms & place_comms or comms
        r.communities = comms
        return r

    def _similar_roads(self, text: str, comms: frozenset[str] | None) -> list[tuple[str, float, str]]:
        """Library roads that sound the same as ``text`` (pinyin) or are close to it (rapidfuzz)."""
        from rapidfuzz import fuzz, process

        from matching.normalize import name_pinyin

        key = str(name_pinyin(pd.Series([text], dtype="string")).iloc[0])
        allowed = (
            self._road_comms if comms is None else {r: c for r, c in self._road_comms.items() if c & comms}
        )
        same_sound = [r for r in self._road_pinyin.get(key, []) if r in allowed]
        if same_sound:
            return [(r, PINYIN_ROAD_SCORE, "pinyin_road") for r in same_sound]
        choices = list(allowed)
        hits = process.extract(text, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_ROAD_CUTOFF, limit=3)
        return [(r, 0.7 * s / 100, "fuzzy_road") for r, s, _ in hits]

    # ---- aggregated lookup tables --------------------------------------------------------------------------
    def _aggregate(self, keys: tuple[str, ...]) -> pd.DataFrame:
        """Library rows grouped by ``keys``: row count, distinct buildings / grids, and one representative."""
        if keys not in self._agg_cache:
            lib = self.addresses
            g = lib.groupby(list(keys), sort=False, observed=True)
            agg = g.agg(
                n=("address_code", "size"),
                address_code=("address_code", "first"),
                n_building=("building_code", "nunique"),
                building_code=("building_code", "first"),
                n_grid=("grid_code", "nunique"),
                grid_code=("grid_code", "first"),
                standard_text=("standard_text", "first"),
            ).reset_index()
            self._agg_cache[keys] = agg
        return self._agg_cache[keys]

    def block_id(self, kind: str, community: str, name: str) -> int | None:
        return self._block_of.get((kind, community, name))

    def __len__(self) -> int:
        return len(self.addresses)

    @cached_property
    def building_texts(self) -> pd.Series:
        """Standard text of each building (up to 栋 / 号), for candidate lists."""
        lib = self.addresses
        first = lib.drop_duplicates("building_code").set_index("building_code")
        text = first["standard_text"].str.replace(r"(\d+单元)?(\d+室)?$", "", regex=True)
        return text


def _block_ids(a: pd.Series, b: pd.Series) -> np.ndarray:
    key = a.astype(str) + "\x1f" + b.astype(str)
    codes, _ = pd.factorize(key)
    return np.where(b.astype(str).to_numpy() == "", -1, codes)


# ----------------------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------------------
_GENERIC_LEVELS = (
    ("province", re.compile("(?:" + "|".join(PROVINCES + _PROVINCE_SHORT) + ")")),
    ("city", re.compile(r"[^\d省区县]{2,8}?(?:市|自治州|地区|盟)")),
    ("district", re.compile(r"[^\d市]{1,8}?(?:自治县|区|县|旗|市)(?!场)")),
    ("street", re.compile(r"[^\d区县]{2,8}?(?:街道|镇|乡)")),
    ("community", re.compile(r"[^\d镇乡道]{2,8}?(?:社区|村委会|居委会|村)")),
    ("road", re.compile(r"[^\d村区]{1,10}?(?:大道|大街|路|街|巷|弄|胡同)")),
)


def _generic_place(place: str) -> dict[str, str]:
    """Split a place without a library, by division and road suffixes (a best effort)."""
    out: dict[str, str] = {}
    pos = 0
    for level, pattern in _GENERIC_LEVELS:
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
    detail = _extract_detail(u)
    p_codes, places = _distinct_places(detail)
    rows = []
    for place, estate_text in places:
        if library is None:
            parts = _generic_place(place)
            if estate_text:
                parts["estate"] = estate_text
            parts["outside"] = None
        else:
            r = library.read_place(place, estate_text)
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


# ----------------------------------------------------------------------------------------------------------
# Matching
# ----------------------------------------------------------------------------------------------------------
_DETAILS_BY_BLOCK = {
    "road": ("house_number", "building", "unit", "room", "estate"),
    "estate": ("house_number", "building", "unit", "room"),
    "group": ("house_number",),
    "comm": ("house_number", "building", "unit", "room"),
}
_BLOCK_COLUMN = {"road": "_road_b", "estate": "_estate_b", "group": "_group_b", "comm": "_comm_b"}
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


def _candidate_blocks(
    library: AddressLibrary, reading: PlaceReading, group: str | None, has_detail: bool
) -> list[tuple[str, int, float, str]]:
    """(block kind, block id, block score, method) for one place reading."""
    if reading.outside:
        return []
    comms = reading.communities if reading.communities is not None else library.all_communities
    out: list[tuple[str, int, float, str]] = []
    for road, score, method in reading.roads:
        for c in comms:
            b = library.block_id("road", c, road)
            if b is not None:
                out.append(("road", b, score, method))
    if not out:
        for estate in reading.estates:
            for c in comms:
                b = library.block_id("estate", c, estate)
                if b is not None:
                    out.append(("estate", b, UNKNOWN_ROAD_FACTOR if reading.unknown_road else 1.0, "estate"))
    if not out and group:
        # a villager group with no village or town named is weak evidence: several villages have a 3组
        score = 1.0 if reading.communities is not None else WEAK_GROUP_SCORE
        if reading.last_communities and comms & reading.last_communities:
            # a group belongs to a village: 石岭3组 is 石岭村 3组, not 石岭镇 (whose other villages have a 3组)
            comms = comms & reading.last_communities
        for c in comms:
            b = library.block_id("group", c, group)
            if b is not None:
                out.append(("group", b, score, "villager_group"))
    if not out and reading.communities is not None and len(comms) <= 3 and (has_detail or len(comms) == 1):
        for c in comms:
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
    detail = _extract_detail(u)
    # ---- places: one reading per distinct (place, estate text) --------------------------------------------
    p_codes, places = _distinct_places(detail)
    readings = [library.read_place(place, estate_text) for place, estate_text in places]
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
    matched = found & one_building & fine & ~tie & ~is_conflict & (score >= MATCH_THRESHOLD)
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
        out.loc[review, "candidates"] = _candidates(library, q[q["uid"].isin(review)], n).iloc[review]
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
            keys = (_BLOCK_COLUMN[kind], *given)
            agg = library._aggregate(keys)
            left = grp.rename(columns={"block": _BLOCK_COLUMN[kind]})
            m = left.merge(agg, on=list(keys), how="left")
            ok = m["n"].notna()
            hit = m[ok].copy()
            finest = next((c for c in _DROP_ORDER if c in given), None)
            hit["level"] = _levels(hit, given, kind)
            pieces.append(hit.rename(columns={_BLOCK_COLUMN[kind]: "block"}))
            miss = grp[~ok.to_numpy()]
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


def _candidates(library: AddressLibrary, q: pd.DataFrame, n: int) -> pd.Series:
    """JSON candidate lists for the review table: the buildings (or rooms) the given elements point to."""
    out = pd.Series("[]", index=range(n), dtype=object)
    if q.empty:
        return out
    lib = library.addresses
    rows = []
    given_cols = ("house_number", "building", "unit", "room")
    for kind, grp in q.groupby("kind", sort=False):
        col = _BLOCK_COLUMN[kind]
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
        return out
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
    return out


def review_table(bindings: pd.DataFrame) -> pd.DataFrame:
    """Rows for ``address_review``: the ambiguous and unmatched bindings with their candidates.

    ``bindings`` needs feed, source_record_id, field, address_text, status and candidates (as produced by
    :func:`match_addresses` joined to the records).
    """
    sel = bindings[bindings["status"].isin(["ambiguous", "unmatched"])]
    return sel[["feed", "source_record_id", "field", "address_text", "status", "candidates"]].reset_index(
        drop=True
    )


__all__ = [
    "ELEMENTS",
    "LEVELS",
    "MATCH_THRESHOLD",
    "RESULT_COLUMNS",
    "STATUSES",
    "AddressLibrary",
    "LibraryError",
    "canonical_address_text",
    "match_addresses",
    "parse_addresses",
    "review_table",
]
