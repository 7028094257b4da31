"""Comparisons of where and how big: ``address`` (四标 address codes and text), ``address_numbers`` and
``address_place`` (the numbered elements and the place of an address text, read the parser's way),
``numeric`` (建筑面积) and ``geo_distance`` (facilities by lon/lat)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

from matching.er import address_text, text
from matching.er.comparison_base import (
    CODE_DTYPE,
    NULL,
    Comparison,
    codes_and_objects,
    column_or_missing,
    factorised_codes,
    pair_scores,
)
from matching.er.settings import SettingsError


class Address(Comparison):
    """Where a record is bound (四标): same address code (户室), same building, similar text, same grid, else.

    Columns, in order: address code, building code, grid code, address text (any may be absent). Codes are
    authoritative: the text only speaks when the two address codes are not both present.

    ``options.distinct_codes: true`` (houses: one standard address is one house) adds the level
    ``different_address``: both records are bound and their address codes, or their building codes, differ —
    two places, whatever their texts say. Its m is fixed (``options.different_m``, default 1e-4, about −13
    bits) instead of learnt, like a check-digit conflict of ID numbers; with ``thresholds.cannot_link`` the
    pair is also kept apart in clustering.

    ``options.local_text: true`` (houses) compares the texts from the road on, read the parser's way
    (:func:`matching.er.address_text.local_text`: 七号 = 7号, the 省 … 社区 written in front set aside), and
    only where the district, street and community both texts name agree. A bound flat's text is one of the ways
    it is written: how alike an unbound text looks to it must not depend on the prefix each happens to carry,
    or an unbound 人民路5号3幢2单元201室, which names neither of two flats on a 人民路 running through two
    streets, would join the one written with the shorter prefix (长乐街道… rather than 清溪镇石门村…).
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.distinct = self.options.get("distinct_codes", False)
        self.local = self.options.get("local_text", False)
        if not isinstance(self.local, bool):
            raise SettingsError(f"comparison {self.name}: local_text is true or false, got {self.local!r}")
        different_m = self.options.get("different_m", 1e-4)
        if not isinstance(self.distinct, bool):
            raise SettingsError(
                f"comparison {self.name}: distinct_codes is true or false, got {self.distinct!r}"
            )
        if not isinstance(different_m, (int, float)) or not 0 < different_m < 1:
            raise SettingsError(
                f"comparison {self.name}: different_m is a probability in (0, 1), got {different_m!r}"
            )
        base = ("same_address", "same_building", "similar_text", "same_grid")
        self.levels = (*base, "different_address", "else") if self.distinct else (*base, "else")

    def fixed_m(self):
        fixed = super().fixed_m()
        if self.distinct:
            fixed.setdefault(
                self.levels.index("different_address"), float(self.options.get("different_m", 1e-4))
            )
        return fixed

    def prepare(self, df):
        cols = list(self.spec.columns) + [None] * (4 - len(self.spec.columns))
        prep = {}
        for key, col in zip(("addr", "bldg", "grid", "text"), cols[:4], strict=True):
            if not col:
                s = pd.Series(pd.NA, index=df.index, dtype="string")
            else:
                s = (
                    text.squash(column_or_missing(df, col))
                    if key == "text"
                    else text.as_string(column_or_missing(df, col))
                )
            if key == "text":
                prep[key], prep["text_obj"] = codes_and_objects(s)
            else:
                prep[key] = factorised_codes(s)
        if self.local and len(self.spec.columns) >= 4:
            local = address_text.local_text(column_or_missing(df, self.spec.columns[3]))
            prep["text"], prep["text_obj"] = codes_and_objects(text.squash(local["local"]))
            for c in address_text.PREFIX_ELEMENTS:
                prep[c] = factorised_codes(local[c])
        return prep

    def exact_codes(self, prep):
        return None

    def compare(self, prep, left, right):
        def eq(k):
            x, y = prep[k][left], prep[k][right]
            both = (x >= 0) & (y >= 0)
            return both, both & (x == y)

        addr_both, addr_eq = eq("addr")
        bldg_both, bldg_eq = eq("bldg")
        grid_both, grid_eq = eq("grid")
        text_both, text_eq = eq("text")
        text_speaks = ~addr_both & text_both
        for c in (c for c in address_text.PREFIX_ELEMENTS if c in prep):  # local texts: the prefixes agree
            x, y = prep[c][left], prep[c][right]
            text_speaks &= ~((x >= 0) & (y >= 0) & (x != y))
        similar = np.zeros(len(left), dtype=bool)
        cand = np.flatnonzero(text_speaks & ~text_eq)
        if len(cand):
            sim = pair_scores(
                JaroWinkler.normalized_similarity, prep["text_obj"][left[cand]], prep["text_obj"][right[cand]]
            )
            similar[cand[sim >= float(self.options.get("text_similarity", 0.92))]] = True
        conditions = [addr_eq | (text_speaks & text_eq), bldg_eq, similar, grid_eq]
        if self.distinct:
            # checked first: two bound addresses that differ are two places even where the texts agree
            different = (addr_both & ~addr_eq) | (bldg_both & ~bldg_eq)
            conditions = [different, *conditions]
            choices = [4, 0, 1, 2, 3]
        else:
            choices = [0, 1, 2, 3]
        conditions.append(addr_both | bldg_both | grid_both | text_both)
        choices.append(len(self.levels) - 1)
        return np.select(conditions, choices, default=-1).astype(np.int8)

    def display(self, df, position):
        vals = []
        for c in self.spec.columns:
            v = df[c].iloc[position] if c in df.columns else None
            if v is not None and not (not isinstance(v, str) and pd.isna(v)):
                vals.append(f"{c}={v}")
        return ", ".join(vals) or "∅"


class _AddressText(Comparison):
    """What ``address_numbers`` and ``address_place`` share: one text column and the ``bound_code`` option."""

    def __init__(self, spec):
        super().__init__(spec)
        self.bound_code = self.options.get("bound_code")
        if len(spec.columns) != 1:
            raise SettingsError(f"comparison {self.name}: one address text column, got {list(spec.columns)}")
        if self.bound_code is not None and not (isinstance(self.bound_code, str) and self.bound_code):
            raise SettingsError(
                f"comparison {self.name}: bound_code names the column of the bound address code "
                f"(e.g. address_code), got {self.bound_code!r}"
            )

    def _bound(self, df: pd.DataFrame) -> np.ndarray:
        """Codes of the bound standard address (``bound_code``); -1 where missing or the option is unset."""
        if self.bound_code is None:
            return np.full(len(df), -1, dtype=CODE_DTYPE)
        return factorised_codes(column_or_missing(df, self.bound_code))

    def exact_codes(self, prep):
        return None


class AddressNumbers(_AddressText):
    """The numbered elements of an address text (组, 门牌号, 栋, 单元, 室), read the address parser's way.

    七号 = 7号, 5楼501 = 501室, 1-1-101 = 1栋1单元101室, 1座 = 1幢 = 1号楼 (:mod:`matching.er.address_text`).
    Levels: ``same`` (the same elements, equal), ``same_room`` (the room is given on both sides and equal,
    none differs, a coarser element is left out on one side: 银湖苑1栋2单元1801 / 滨江东路9号银湖苑1栋2单元1801室),
    ``fewer`` (one text stops short of the other's room: a building is not a flat), ``else`` (a number
    differs). Missing when a text has no number.

    ``options.bound_code: <column>`` (houses: ``address_code``): where both records are bound to a standard
    address, the bound codes stand for the texts — equal codes are ``same``, different codes ``else`` — and
    the texts' digits are not read: they speak only where a side is unbound, or bound only to a building.
    """

    levels = ("same", "same_room", "fewer", "else")

    def prepare(self, df):
        texts = column_or_missing(df, self.spec.columns[0])
        parts = address_text.place_parts(texts, list(address_text.NUMBER_ELEMENTS))
        prep = {c: factorised_codes(parts[c]) for c in address_text.NUMBER_ELEMENTS}
        prep["bound"] = self._bound(df)
        return prep

    def compare(self, prep, left, right):
        differ = np.zeros(len(left), dtype=bool)
        one_sided = np.zeros(len(left), dtype=bool)
        any_l = np.zeros(len(left), dtype=bool)
        any_r = np.zeros(len(left), dtype=bool)
        for c in address_text.NUMBER_ELEMENTS:
            a, b = prep[c][left], prep[c][right]
            differ |= (a >= 0) & (b >= 0) & (a != b)
            one_sided |= (a >= 0) != (b >= 0)
            any_l |= a >= 0
            any_r |= b >= 0
        room_l, room_r = prep["room"][left], prep["room"][right]
        same_room = (room_l >= 0) & (room_l == room_r)
        out = np.select([differ, one_sided & same_room, one_sided], [3, 1, 2], default=0).astype(np.int8)
        out[~(any_l & any_r)] = NULL
        a, b = prep["bound"][left], prep["bound"][right]
        bound = (a >= 0) & (b >= 0)
        out[bound] = np.where(a[bound] == b[bound], 0, len(self.levels) - 1)
        return out


class AddressPlace(_AddressText):
    """The place an address text numbers its house in: the road, estate and village or community it names.

    Levels: ``same_places`` (two or more of them named on both sides, all the same: road and estate),
    ``same_place`` (one named on both, the same), ``other_place`` (one both name differs: 滨江路 is not
    滨江东路, 东湖二路 not 东湖三路). A name is the same in the forms it is written in and with a typo (湖滨湖滨路 =
    湖滨路, 宾江路 = 滨江路, 阳光小区 = 阳光花园). Missing when no place is named on both sides, and
    (``options.bound_code``) when both records are bound to a standard address: the bound address decides.
    Give ``other_place`` a fixed m (``options.fixed_m``): a match rarely names two places, and where no
    record is unbound there is nothing to learn it from.
    """

    levels = ("same_places", "same_place", "other_place")

    def prepare(self, df):
        parts = address_text.place_parts(
            column_or_missing(df, self.spec.columns[0]), list(address_text.PLACE_ELEMENTS)
        )
        # one Python string per distinct name, shared by the records naming it (issue #19: a string per record
        # and element was 170 bytes a house mention)
        prep = {c: codes_and_objects(parts[c])[1] for c in address_text.PLACE_ELEMENTS}
        prep["bound"] = self._bound(df)
        return prep

    def compare(self, prep, left, right):
        a, b = prep["bound"][left], prep["bound"][right]
        out = np.full(len(left), NULL, dtype=np.int8)
        speaks = np.flatnonzero((a < 0) | (b < 0))
        if len(speaks):
            place = address_text.places_agree(prep, left[speaks], right[speaks])
            out[speaks] = np.select([place >= 2, place == 1, place < 0], [0, 1, 2], default=NULL)
        return out


class Numeric(Comparison):
    """Numbers (建筑面积): equal, within relative / absolute thresholds, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.relative = tuple(float(x) for x in self.options.get("relative", []))
        self.absolute = tuple(float(x) for x in self.options.get("absolute", []))
        self.levels = (
            "exact",
            *[f"within_{r:g}" for r in self.relative],
            *[f"within_abs_{a:g}" for a in self.absolute],
            "else",
        )

    def prepare(self, df):
        v = (
            pd.to_numeric(column_or_missing(df, self.spec.columns[0]), errors="coerce")
            .astype("float64")
            .to_numpy()
        )
        return {"value": v}

    def exact_codes(self, prep):
        codes, _ = pd.factorize(prep["value"], use_na_sentinel=True)
        return codes.astype(np.int64)

    def compare(self, prep, left, right):
        x, y = prep["value"][left], prep["value"][right]
        last = len(self.levels) - 1
        out = np.full(len(left), last, dtype=np.int8)
        diff = np.abs(x - y)
        scale = np.maximum(np.abs(x), np.abs(y))
        level = 1
        for r in self.relative:
            out[(out == last) & (diff <= r * scale)] = level
            level += 1
        for a in self.absolute:
            out[(out == last) & (diff <= a)] = level
            level += 1
        out[diff == 0] = 0
        out[np.isnan(x) | np.isnan(y)] = NULL
        return out


class GeoDistance(Comparison):
    """Facilities (消防栓, 摄像头): great-circle distance within ``meters`` thresholds, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.meters = tuple(float(x) for x in self.options.get("meters", [10, 50, 200]))
        self.levels = (*[f"within_{m:g}m" for m in self.meters], "else")

    def prepare(self, df):
        lon = (
            pd.to_numeric(column_or_missing(df, self.spec.columns[0]), errors="coerce")
            .astype("float64")
            .to_numpy()
        )
        lat = (
            pd.to_numeric(column_or_missing(df, self.spec.columns[1]), errors="coerce")
            .astype("float64")
            .to_numpy()
        )
        return {"lon": np.radians(lon), "lat": np.radians(lat)}

    def exact_codes(self, prep):
        return None

    def compare(self, prep, left, right):
        lo1, la1, lo2, la2 = prep["lon"][left], prep["lat"][left], prep["lon"][right], prep["lat"][right]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        dist = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
        last = len(self.levels) - 1
        out = np.full(len(left), last, dtype=np.int8)
        for k in reversed(range(len(self.meters))):
            out[dist <= self.meters[k]] = k
        out[np.isnan(dist)] = NULL
        return out
