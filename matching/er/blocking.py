"""Blocking (分块): which record pairs are worth comparing at all.

Each rule names keys; two records become a candidate pair when every key is equal and not null. Rules are
evaluated separately and their pairs unioned; the report counts, per rule, the pairs it produced, the pairs
no earlier rule had produced, its largest block and the blocks it skipped for being larger than
``max_block_size`` (a rule that explodes, e.g. a surname key on a city of 张s, is reported, not run).

Keys are column names or key functions, nestable::

    surname(name)            姓 (复姓 aware)
    prefix(col,n)            first n characters
    suffix(col,n)            last n characters
    year(col)                year of a date
    digits(col)              digits of a text in order ('3栋2单元501' → '3-2-501')
    address_numbers(col)     numbered elements of an address read the parser's way (七号5楼501 = 7号501室)
    address_place(col)       sound of an address's last two characters before its first number (road)
    org_core(col)            organisation name without legal form and branch
    geocell(lon,lat,m)       square cell of m metres;  geocell_shifted(lon,lat,m): the same, offset by m/2
    lower(col)               lower-case, no spaces

Pairs are generated with numpy from records sorted by key code: no Python loop over records or blocks.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.er import address_text, text
from matching.er.settings import BlockingRule, SettingsError
from warehouse.errors import UserError

log = logging.getLogger(__name__)

_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")


class BlockingError(UserError, ValueError):
    """A blocking key cannot be evaluated on the given mentions."""


def _split_args(inner: str) -> list[str]:
    """The top-level comma-separated arguments of a key expression's call (nested calls kept whole)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in inner:
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def key_columns(expr: str) -> set[str]:
    """The mention columns a key expression reads (used to keep training honest)."""
    m = _CALL.match(expr)
    if not m:
        return {expr.strip()}
    cols: set[str] = set()
    for a in _split_args(m.group(2)):
        if not re.fullmatch(r"-?\d+(\.\d+)?", a):
            cols |= key_columns(a)
    return cols


def _geocell(df: pd.DataFrame, lon: str, lat: str, meters: float, shift: float) -> pd.Series:
    x = pd.to_numeric(df[lon], errors="coerce").astype("float64")
    y = pd.to_numeric(df[lat], errors="coerce").astype("float64")
    deg_lat = meters / 111_320.0
    deg_lon = deg_lat / np.cos(np.radians(np.clip(y.fillna(30.0), -80, 80)))
    cx = np.floor(x / deg_lon + shift)
    cy = np.floor(y / deg_lat + shift)
    key = cx.astype("Int64").astype("string") + "," + cy.astype("Int64").astype("string")
    return key.where(x.notna() & y.notna())


def evaluate_key(df: pd.DataFrame, expr: str, regions: tuple[tuple[str, ...], ...] = ()) -> pd.Series:
    """Evaluate one key expression over the mentions, as a nullable string column; ``regions``: the city's
    divisions, which ``org_core`` sets aside (``EntitySettings.regions``)."""
    m = _CALL.match(expr)
    if not m:
        col = expr.strip()
        if col not in df.columns:
            return pd.Series(pd.NA, index=df.index, dtype="string")
        s = df[col]
        if not (isinstance(s.dtype, pd.StringDtype) or s.dtype == object):
            s = s.astype("string")
        return text.as_string(s)
    fn, args = m.group(1), _split_args(m.group(2))
    try:
        if fn == "surname":
            return text.surname(evaluate_key(df, args[0], regions))
        if fn == "prefix":
            return text.as_string(evaluate_key(df, args[0], regions).str.slice(0, int(args[1])))
        if fn == "suffix":
            return text.as_string(evaluate_key(df, args[0], regions).str.slice(-int(args[1])))
        if fn == "year":
            col = args[0]
            v = df[col] if col in df.columns else pd.Series(pd.NA, index=df.index)
            return pd.to_datetime(v, errors="coerce").dt.year.astype("Int64").astype("string")
        if fn == "digits":
            return text.digits(evaluate_key(df, args[0], regions))
        if fn == "address_numbers":
            return address_text.number_key(evaluate_key(df, args[0], regions))
        if fn == "address_place":
            return address_text.place_key(evaluate_key(df, args[0], regions))
        if fn == "org_core":
            return text.org_core(evaluate_key(df, args[0], regions), regions)
        if fn == "lower":
            return text.squash(evaluate_key(df, args[0], regions))
        if fn in ("geocell", "geocell_shifted"):
            if args[0] not in df.columns or args[1] not in df.columns:
                return pd.Series(pd.NA, index=df.index, dtype="string")
            return _geocell(df, args[0], args[1], float(args[2]), 0.5 if fn == "geocell_shifted" else 0.0)
    except (IndexError, ValueError) as e:
        raise BlockingError(f"blocking key {expr!r}: {e}") from None
    raise SettingsError(f"blocking key {expr!r}: unknown function {fn!r}")


_MIX = np.uint64(0x100000001B3)  # FNV prime: mixes the parts of a combined key


def value_hashes(s: pd.Series) -> np.ndarray:
    """A stable 64-bit hash per value (0 = missing): pandas' SipHash over the distinct values only.

    Factorising first means each distinct name or number is hashed once, not once per record; numbers hash
    their text and dates their epoch seconds, so a value hashes the same whatever dtype it arrived in.
    """
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        # a moment hashes as its epoch seconds (whatever the unit it came in)
        codes, uniques = pd.factorize(s.astype("datetime64[s]"), use_na_sentinel=True)
        values = np.asarray(uniques.astype("int64"))
    else:
        codes, uniques = pd.factorize(s.astype("string"), use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
    if len(uniques) == 0:
        return np.zeros(len(s), dtype=np.uint64)
    uh = pd.util.hash_array(values, categorize=False)
    uh[uh == 0] = 1  # 0 is kept for "missing"
    return np.where(codes >= 0, uh[np.maximum(codes, 0)], np.uint64(0))


def combine_hashes(parts: list[np.ndarray]) -> np.ndarray:
    """One hash from several per-record hashes (order matters); 0 where any part is 0 (missing)."""
    out = parts[0].copy()
    missing = parts[0] == 0
    with np.errstate(over="ignore"):
        for h in parts[1:]:
            out = (out * _MIX) ^ h
            missing |= h == 0
    out[out == 0] = 1
    out[missing] = 0
    return out


def rule_keys(
    df: pd.DataFrame,
    rule: BlockingRule,
    parts: dict[str, np.ndarray] | None = None,
    regions: tuple[tuple[str, ...], ...] = (),
) -> np.ndarray:
    """One 64-bit hash per record of a rule's combined key; 0 where any key part is null.

    Hashes (not positional codes) so that keys computed in different runs can be compared: the state keeps
    them for every record, and a daily delta finds its candidates by looking its own keys up among them.
    ``parts`` (key expression → hashes) lets rules that share a part (``name_pinyin`` in three person rules)
    compute it once.
    """
    parts = {} if parts is None else parts
    for expr in rule.on:
        if expr not in parts:
            parts[expr] = value_hashes(evaluate_key(df, expr, regions))
    return combine_hashes([parts[expr] for expr in rule.on])


def all_rule_keys(
    df: pd.DataFrame,
    rules: tuple[BlockingRule, ...] | list[BlockingRule],
    regions: tuple[tuple[str, ...], ...] = (),
) -> list[np.ndarray]:
    """:func:`rule_keys` of every rule, each key part computed once."""
    parts: dict[str, np.ndarray] = {}
    return [rule_keys(df, rule, parts, regions) for rule in rules]


#: record positions and per-record codes (below the number of records): 4 bytes each, not 8 (issue #19)
POS_DTYPE = np.int32


def codes_of_keys(keys: np.ndarray) -> np.ndarray:
    """Dense codes (:data:`POS_DTYPE`) of key hashes, -1 where there is no key (0)."""
    codes, _ = pd.factorize(keys)
    return np.where(keys == 0, -1, codes).astype(POS_DTYPE)


@dataclass
class CandidatePairs:
    """Candidate pairs as record positions (``left < right``), the first rule that produced each, the report,
    and each rule's per-record codes (to tell which rules a pair satisfies) and key hashes."""

    left: np.ndarray
    right: np.ndarray
    rule: np.ndarray
    report: pd.DataFrame
    codes: list[np.ndarray]
    keys: list[np.ndarray]
    #: per rule: which records lack its ``unless_both`` column (None: the rule pairs every record)
    free: list[np.ndarray | None] | None = None

    def __len__(self) -> int:
        return len(self.left)

    def satisfies(self, rule_index: int) -> np.ndarray:
        """The pairs the rule produces: equal codes and, under ``unless_both``, a side without the column."""
        c = self.codes[rule_index]
        a, b = c[self.left], c[self.right]
        out = (a >= 0) & (a == b)
        free = self.free[rule_index] if self.free else None
        return out if free is None else out & (free[self.left] | free[self.right])


def _covered_blocks(
    order: np.ndarray, starts: np.ndarray, earlier: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Per block (``starts`` into ``order``): every member shares one code of an earlier rule whose block of
    that code was expanded, so the earlier rule produced all of this block's pairs already."""
    covered = np.zeros(len(starts), dtype=bool)
    for codes, expanded in earlier:
        c = codes[order]
        lo, hi = np.minimum.reduceat(c, starts), np.maximum.reduceat(c, starts)
        covered |= (lo == hi) & (lo >= 0) & expanded[np.maximum(lo, 0)]
    return covered


def _pairs_in_groups(
    codes: np.ndarray,
    max_block: int,
    active: np.ndarray | None,
    earlier: list[tuple[np.ndarray, np.ndarray]] | None = None,
    free: np.ndarray | None = None,
    source: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray]:
    """All pairs of records sharing a code (not -1), blocks of more pairs than one of ``max_block`` records
    skipped; also, per code, whether its block was expanded into pairs (what :func:`block` tells a later rule's
    pairs this rule made already by).

    With ``active`` given (incremental runs), only blocks holding an active record are expanded and only
    pairs with at least one active side are returned. ``earlier``: (codes, block expanded per code) of the
    rules before this one; a block whose members all share one expanded block of an earlier rule adds no
    pair and is not expanded (the same ID number's records under a later name + ID-digits rule). ``free``
    (a rule's ``unless_both``): only pairs with a free side are made, and only they count towards the limit;
    the free members of a block are sorted first, so each pairs with the members after it and the others
    with none (a block of 10,000 bound records and 3 unbound ones is 29,994 pairs, not 50 million).
    """
    idx = np.flatnonzero(codes >= 0).astype(POS_DTYPE)
    stats = {"largest_block": 0, "skipped_blocks": 0, "skipped_pairs": 0}
    empty = np.empty(0, dtype=POS_DTYPE)
    made = np.zeros(int(codes.max()) + 1 if len(codes) else 0, dtype=bool)
    if len(idx) < 2:
        return empty, empty, stats, made
    cross = source is not None and free is None  # link_only: make only the pairs of two sources
    if cross:  # by code, then by source: each member pairs with the members after its source's run
        assert source is not None
        order = idx[np.lexsort((idx, source[idx], codes[idx]))]
    elif free is None:
        order = idx[np.argsort(codes[idx], kind="stable")]
    else:  # by code, the free records first
        order = idx[np.lexsort((~free[idx], codes[idx]))]
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    sizes = np.diff(np.r_[starts, len(sc)])
    stats["largest_block"] = int(sizes.max())
    n_free = sizes if free is None else np.add.reduceat(free[order].astype(np.int64), starts)
    n_pairs = n_free * (sizes - 1) - n_free * (n_free - 1) // 2
    keep = n_pairs > 0
    big = n_pairs > max_block * (max_block - 1) // 2
    if big.any():
        stats["skipped_blocks"] = int(big.sum())
        stats["skipped_pairs"] = int(n_pairs[big].sum())
        keep &= ~big
    if active is not None:
        act_sorted = active[order].astype(np.int8)
        has_active = np.maximum.reduceat(act_sorted, starts) > 0
        keep &= has_active
    if earlier:
        keep &= ~_covered_blocks(order, starts, earlier)
    starts, sizes = starts[keep], sizes[keep]
    made[sc[starts]] = True
    if len(starts) == 0:
        return empty, empty, stats, made
    member_pos, first, n_after = _partners(order, sc, starts, sizes, free, source if cross else None)
    total = int(n_after.sum())
    # positions as int32 (pairs of one rule below 2^31: 17 GB of int64 pairs before that)
    at = POS_DTYPE if total + len(codes) < 2**31 else np.int64
    first_of = np.repeat(first.astype(at), n_after)
    first_of += np.arange(total, dtype=at)
    first_of -= np.repeat((np.cumsum(n_after) - n_after).astype(at), n_after)  # the partner's sorted position
    b = order[first_of]
    del first_of
    a = order[np.repeat(member_pos.astype(at), n_after)]
    left, right = np.minimum(a, b), np.maximum(a, b)
    del a, b
    if cross:  # the order of all pairs of a block by record position, as generated without the sources
        at_sorted = np.lexsort((right, left, codes[left]))
        left, right = left[at_sorted], right[at_sorted]
    if active is not None:
        sel = active[left] | active[right]
        left, right = left[sel], right[sel]
    return left, right, stats, made


def _partners(
    order: np.ndarray,
    sc: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    free: np.ndarray | None,
    source: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every member of the kept blocks (sorted positions): its position, the sorted position of its first
    partner and how many partners follow from there (all later members; none for a member that is not free;
    under ``source``, the members after its source's run)."""
    member_pos = np.repeat(starts, sizes) + (
        np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    )
    rank = member_pos - np.repeat(starts, sizes)
    n_after = np.repeat(sizes, sizes) - 1 - rank
    first = member_pos + 1
    if free is not None:  # a member that is not free pairs only with the free ones, sorted before it
        n_after = np.where(free[order[member_pos]], n_after, 0)
    if source is not None:  # the first partner is the first member of the next source in the block
        ss = source[order]
        run_start = np.r_[True, (sc[1:] != sc[:-1]) | (ss[1:] != ss[:-1])]
        run_end = np.r_[np.flatnonzero(run_start)[1:], len(sc)][np.cumsum(run_start) - 1]
        first = run_end[member_pos]
        n_after = np.repeat(starts + sizes, sizes) - first
    return member_pos, first, n_after


def _expanded_codes(codes: np.ndarray, max_block: int, free: np.ndarray | None = None) -> np.ndarray:
    """Per code: its block was expanded into all its pairs (two to ``max_block`` members; under
    ``unless_both`` only a block whose members are all free has all its pairs)."""
    sizes = np.bincount(codes[codes >= 0], minlength=1)
    out = (sizes >= 2) & (sizes <= max_block)
    if free is not None:
        out &= np.bincount(codes[(codes >= 0) & free], minlength=len(sizes)) == sizes
    return out


def block(
    df: pd.DataFrame,
    rules: tuple[BlockingRule, ...] | list[BlockingRule],
    *,
    max_block_size: int,
    source: np.ndarray | None = None,
    active: np.ndarray | None = None,
    keys: list[np.ndarray] | None = None,
    regions: tuple[tuple[str, ...], ...] = (),
) -> CandidatePairs:
    """Candidate pairs of ``df`` (positions) under ``rules``.

    ``source`` (one code per record) restricts pairs to records of different sources (link_only);
    ``active`` (bool per record) restricts them to pairs touching an active record (incremental runs);
    ``keys``: each rule's key hashes (:func:`rule_keys`) when the caller has them already; ``regions``: the
    city's divisions, for the keys that read them (:func:`evaluate_key`).
    """
    lefts, rights, rule_ids, rows, all_codes, all_keys = [], [], [], [], [], []
    keys = all_rule_keys(df, rules, regions) if keys is None else keys
    earlier: list[tuple[np.ndarray, np.ndarray]] = []
    made: list[np.ndarray] = []  # per rule before: per code, its block was expanded into pairs
    all_free = [free_records(df, rule) for rule in rules]
    for r_i, rule in enumerate(rules):
        rk, free = keys[r_i], all_free[r_i]
        codes = codes_of_keys(rk)
        all_keys.append(rk)
        all_codes.append(codes)
        left, right, stats, expanded = _pairs_in_groups(codes, max_block_size, active, earlier, free, source)
        earlier.append((codes, _expanded_codes(codes, max_block_size, free)))
        if source is not None and len(left):
            sel = source[left] != source[right]
            left, right = left[sel], right[sel]
        n_made = len(left)
        # a pair belongs to the first rule that made it: drop the ones an earlier rule made (its codes equal, its
        # block expanded, a free side under its ``unless_both``; sources and active sides hold for every rule)
        new = _not_made_before(left, right, all_codes[:r_i], made, all_free[:r_i])
        left, right = left[new], right[new]
        made.append(expanded)
        lefts.append(left)
        rights.append(right)
        rule_ids.append(np.full(len(left), r_i, dtype=np.int16))
        rows.append(
            {
                "rule": rule.name,
                "keys": "+".join(rule.on),
                "candidate_pairs": n_made,
                "new_pairs": len(left),
                **stats,
            }
        )
        if stats["skipped_blocks"]:
            log.warning(
                "blocking rule %s: %d blocks larger than %d skipped (%d pairs)",
                rule.name,
                stats["skipped_blocks"],
                max_block_size,
                stats["skipped_pairs"],
            )
    report = pd.DataFrame(
        rows,
        columns=[
            "rule",
            "keys",
            "candidate_pairs",
            "new_pairs",
            "largest_block",
            "skipped_blocks",
            "skipped_pairs",
        ],
    )
    return CandidatePairs(
        left=_concat(lefts, POS_DTYPE),
        right=_concat(rights, POS_DTYPE),
        rule=_concat(rule_ids, np.int16),
        report=report,
        codes=all_codes,
        keys=all_keys,
        free=all_free,
    )


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    """The parts end to end (each let go as it is copied), as ``dtype``."""
    out = np.empty(sum(len(p) for p in parts), dtype=dtype)
    at = 0
    while parts:
        p = parts.pop(0)
        out[at : at + len(p)] = p
        at += len(p)
    return out


def _not_made_before(
    left: np.ndarray,
    right: np.ndarray,
    codes: list[np.ndarray],
    made: list[np.ndarray],
    free: list[np.ndarray | None],
) -> np.ndarray:
    """Per pair: no earlier rule made it (for each earlier rule: the two codes differ or are missing, the block
    was not expanded, or under ``unless_both`` neither side is free)."""
    new = np.ones(len(left), dtype=bool)
    for c, m, f in zip(codes, made, free, strict=True):
        if not new.any():
            break
        a = c[left]
        dup = (a >= 0) & (a == c[right])
        dup[dup] = m[a[dup]]
        if f is not None:
            dup &= f[left] | f[right]
        new &= ~dup
    return new


def free_records(df: pd.DataFrame, rule: BlockingRule) -> np.ndarray | None:
    """Which records the rule may pair with any other: those without its ``unless_both`` column's value
    (None when the rule has no ``unless_both``; every record is free when the column is absent)."""
    if rule.unless_both is None:
        return None
    return evaluate_key(df, rule.unless_both).isna().to_numpy(dtype=bool)
