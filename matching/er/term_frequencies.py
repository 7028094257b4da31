"""Term-frequency adjustments (词频调整) of exact comparison levels: a common value is weaker evidence.

On the exact level of a comparison with ``tf: true`` a pair's weight uses the value's own frequency instead of
the level's average: two records that are both 张伟 are weaker evidence than two 欧阳雪芬. Three ways, by what
the entity type's settings say about its records:

- **plain** (persons, houses, facilities): the value's share of all records, relative to the exact-level u
  measured on random pairs (``Model.tf_base``);
- **distinct records** (``correct_u_for_duplicates``, organisations): records identical in every compared
  column (same :func:`~matching.er.mentions.record_hashes`) count once, relative to the chance that two such
  distinct records agree. An employer named on 300 insured persons' rows is one organisation, not a name 300
  organisations share;
- **by identity** (with ``correct_u_for_duplicates`` and an exclusive identifier in ``identity``,
  organisations: ``credit_code``): for a value that records with an identity carry, u is the share of the value's records that belong to *another* identity: ``u_v = f_v ×
  (1 − Σᵢ pᵥᵢ²)``, where ``f_v`` is the value's share of all records and ``pᵥᵢ`` the share of its identified
  records that carry identity ``i``. A name carried by one credit code in the whole district is all but
  proof for a record that has only the name (u floored at half a record, ``0.5 / N``); a name two credit
  codes carry is not. Values no identified record carries fall back to the distinct-record frequency.

  **The side with an identity** (``compared_identities``): a pair of a record without identity and one of
  identity ``i`` is weighed by ``u_vi = f_v × (1 − pᵥᵢ)``, the chance that a record writing the value belongs to
  another identity than ``i`` (``1 − Σᵢ pᵥᵢ²`` above is its average over the identities, right for a pair of
  two records without one). 恒通贸易有限公司 written on 90 of the 100 coded records that carry it, the other 10
  being its namesake's rows written with the legal form swapped, is mostly the first one's name: a mention
  with only that name weighs more towards the first than the average says, less towards the namesake, and
  goes with the side it matches best (it waited between the two, tied). A name two credit codes carry
  equally weighs the same towards both, and still joins neither. Each record's adjustment is that of its own
  identity; a pair reads the adjustment of its side that has one
  (:func:`matching.er.stages_prepare.tf_side`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er.scoring import Model


def tf_adjustments(
    compared: dict[tuple[int, int], np.ndarray],
    population: dict[tuple[int, int], np.ndarray],
    model: Model,
    rows: np.ndarray | None = None,
    identities: np.ndarray | None = None,
    compared_identities: np.ndarray | None = None,
) -> dict[tuple[int, int], np.ndarray]:
    """Term-frequency adjustment (bits) per compared record, per (tf comparison, level it counts), added to
    that level's weight when a pair agrees there (level 0, exact, for most kinds; ``org_name`` counts its
    first two levels, each by its own values). ``compared`` / ``population``: per (comparison, level), the
    64-bit value hashes of the compared records and of every record of the entity type (0 = no value).
    ``rows`` (record hashes) and ``identities`` (hashes of the identity column, 0 = none) are aligned with
    the population and switch on the distinct-record and identity ways (module docstring);
    ``compared_identities`` (aligned with the compared records) weighs a record with an identity by that
    identity's own share of its value."""
    out: dict[tuple[int, int], np.ndarray] = {}
    for (k, level), mine in compared.items():
        if not model.tf[k]:
            continue
        pop = population[(k, level)]
        u_level = float(model.u[k][level])
        if rows is None:
            out[(k, level)] = _plain(mine, pop, model.tf_base(k) if level == 0 else max(u_level, 1e-300))
            continue
        adjustment = _distinct(mine, pop, rows)
        if adjustment is None:
            continue
        if identities is not None:
            by_identity = _by_identity(mine, pop, identities, u_level, compared_identities)
            adjustment = np.where(np.isnan(by_identity), adjustment, by_identity)
        out[(k, level)] = adjustment + _up_to(model, k, level) * (mine != 0)
    return out


def _up_to(model: Model, k: int, level: int) -> float:
    """log2 of m up to ``level`` over m at it: a value counted on a coarser level (``org_name``'s name with
    region and legal form aside) says how rarely pairs agree *that far* by chance, so the m it goes with is the
    chance that a match agrees at least that far (this level or a finer one), not the share of matches that
    stop exactly there (most matches write the registered name, so ``exact`` alone holds about 1 % of them
    and a bare name that one organisation carries could not outweigh the prior)."""
    if level == 0:
        return 0.0
    m = np.maximum(np.asarray(model.m[k], dtype=np.float64), 1e-12)
    return float(np.log2(m[: level + 1].sum() / m[level]))


def _plain(mine: np.ndarray, pop: np.ndarray, u_exact: float) -> np.ndarray:
    pop = pop[pop != 0]
    wanted = (
        pop[pd.Series(pop).isin(np.unique(mine[mine != 0])).to_numpy()] if len(pop) > 4 * len(mine) else pop
    )
    freq = pd.Series(mine).map(pd.Series(wanted).value_counts()).to_numpy(dtype=np.float64) / max(len(pop), 1)
    return np.where(np.isnan(freq), 0.0, np.log2(u_exact) - np.log2(np.maximum(freq, 1e-10)))


def _distinct(mine: np.ndarray, pop: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    given = pop != 0
    distinct = pd.DataFrame({"value": pop[given], "row": rows[given]}).drop_duplicates()
    counts = distinct["value"].value_counts()
    n = float(len(distinct))
    c = counts.to_numpy(dtype=np.float64)
    u_exact = float((c * (c - 1)).sum() / (n * (n - 1))) if n > 1 else 0.0
    if u_exact <= 0:  # no two distinct records share a value: no frequency to compare with
        return None
    freq = pd.Series(mine).map(counts).to_numpy(dtype=np.float64) / n
    return np.where(np.isnan(freq), 0.0, np.log2(u_exact) - np.log2(np.maximum(freq, 1e-10)))


def _by_identity(
    mine: np.ndarray,
    pop: np.ndarray,
    identities: np.ndarray,
    u_level: float,
    mine_identities: np.ndarray | None = None,
) -> np.ndarray:
    """log2(u_level) − log2(u_v) per compared record; NaN where no identified record carries its value. With
    ``mine_identities``: a compared record of an identity that carries its value gets ``u_vi`` (module
    docstring)."""
    given = pop != 0
    n = float(given.sum())
    values = pd.Series(pop[given])
    share = values.value_counts() / max(n, 1.0)
    ident = pd.DataFrame({"value": pop[given], "identity": identities[given]})
    ident = ident[ident["identity"] != 0]
    per = ident.groupby(["value", "identity"]).size()
    p = per / per.groupby(level="value").transform("sum")
    other = 1.0 - (p**2).groupby(level="value").sum()  # chance a record of the value is another identity's
    floor = 0.5 / max(n, 1.0)
    u_v = (share.reindex(other.index) * other).clip(lower=floor)
    looked_up = pd.Series(mine).map(u_v).to_numpy(dtype=np.float64)
    if mine_identities is not None and len(p):
        # the chance that a record of the value is not of this identity
        own = share.reindex(p.index.get_level_values("value")).to_numpy() * (1.0 - p.to_numpy())
        u_own = pd.Series(np.maximum(own, floor), index=p.index)
        at = u_own.reindex(pd.MultiIndex.from_arrays([mine, mine_identities])).to_numpy(dtype=np.float64)
        looked_up = np.where(np.isnan(at), looked_up, at)
    return np.log2(max(u_level, 1e-300)) - np.log2(looked_up)


__all__ = ["tf_adjustments"]
