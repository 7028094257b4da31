"""Comparisons of where and how big: ``address`` (四标 address codes and text), ``numeric`` (建筑面积) and
``geo_distance`` (facilities by lon/lat)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

from matching.er import text
from matching.er.comparison_base import NULL, Comparison, column_or_missing, factorised_codes, pair_scores


class Address(Comparison):
    """Where a record is bound (四标): same address code (户室), same building, similar text, same grid, else.

    Columns, in order: address code, building code, grid code, address text (any may be absent). Codes are
    authoritative: the text only speaks when the two address codes are not both present.
    """

    levels = ("same_address", "same_building", "similar_text", "same_grid", "else")

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
            prep[key] = factorised_codes(s)
            if key == "text":
                prep["text_obj"] = text.to_object(s)
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
        similar = np.zeros(len(left), dtype=bool)
        cand = np.flatnonzero(text_speaks & ~text_eq)
        if len(cand):
            sim = pair_scores(
                JaroWinkler.normalized_similarity, prep["text_obj"][left[cand]], prep["text_obj"][right[cand]]
            )
            similar[cand[sim >= float(self.options.get("text_similarity", 0.92))]] = True
        out = np.select(
            [
                addr_eq | (text_speaks & text_eq),
                bldg_eq,
                similar,
                grid_eq,
                addr_both | bldg_both | grid_both | text_both,
            ],
            [0, 1, 2, 3, 4],
            default=-1,
        ).astype(np.int8)
        return out

    def display(self, df, position):
        vals = []
        for c in self.spec.columns:
            v = df[c].iloc[position] if c in df.columns else None
            if v is not None and not (not isinstance(v, str) and pd.isna(v)):
                vals.append(f"{c}={v}")
        return ", ".join(vals) or "∅"


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
