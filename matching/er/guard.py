"""The guard's rebuild of one component: its edges again, strongest first, refusing the unions that break a rule.

A component is rebuilt when it holds two different identities (two valid ID numbers, two credit codes), when it
is larger than ``max_size`` or when it holds both ends of a cannot-link. Its edges are added strongest first
(must-link and shared-identity joins, of infinite weight, before every match edge) into a union-find whose
parts know

* their **identity**: per identity column the 64-bit hash of the value the part holds (0 = none). A union of
  two parts holding different values is refused: one check per edge, whatever the number of identities.
* their **units**: the set of identity units they hold. A record holding an identity value counts once per
  value (300 人社 rows of one credit code are one unit), a record without one once per distinct record hash
  (300 rows naming 'XX医院' and nothing else are one unit too); a kept entity brings the units of its members.
  A match edge that would make a part hold more than ``max_size`` units is refused; infinite-weight joins are
  exact and exempt.

**Ties.** Edges of (nearly) equal weight are taken as one batch. A part without identity whose edges in the
batch lead to parts of two different identities is not given to either: it stays on its own ("frozen" for
the rest of the rebuild), and those edges are reported as ``CUT_TIE`` for a person to decide. Sides are judged
as they stand when the batch is reached (the stronger edges have formed them already).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# why an edge is not inside one entity (per match edge, see Clusters.cut_reason)
CUT_NONE = 0
CUT_GUARD = 1  # cut to keep a part within max_size, or to keep a cannot-link apart
CUT_IDENTITY = 2  # cut so that a part holds one identity
CUT_TIE = 3  # an identity-less part tied between two identities: left on its own
CUT_DIFFERENT = 4  # the two sides hold different identities: never an edge

_TIE = 1e-6  # match weights (bits) this close are a tie


@dataclass
class ComponentEdges:
    """The edges of one component, strongest first: node pairs, weight and the match edge's index (-1 for a
    must-link or shared-identity join)."""

    u: list[int]
    v: list[int]
    w: list[float]
    index: list[int]


@dataclass
class Rebuilt:
    """A rebuilt component: the part of each node, how many edges were cut and the strongest cut weight, and
    how many identity-less parts were left on their own by a tie."""

    part: np.ndarray
    cuts: int
    cut_weight_max: float
    ties: int


class Parts:
    """Union-find over a component's nodes; each root knows its part's identity and units."""

    def __init__(self, nodes: list[int], identity: list[tuple[int, ...]], units: list[set]):
        self.parent = {x: x for x in nodes}
        self.identity = dict(zip(nodes, identity, strict=True))
        self.units = dict(zip(nodes, units, strict=True))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def conflict(self, ra: int, rb: int) -> bool:
        """The two parts hold different values of an identity column."""
        return _different(self.identity[ra], self.identity[rb])

    def too_big(self, ra: int, rb: int, max_size: int) -> bool:
        """The union of the two parts would hold more than ``max_size`` units."""
        sa, sb = self.units[ra], self.units[rb]
        if len(sa) + len(sb) <= max_size:
            return False
        if len(sa) < len(sb):
            sa, sb = sb, sa
        return len(sa) + sum(1 for x in sb if x not in sa) > max_size

    def union(self, ra: int, rb: int) -> None:
        if len(self.units[ra]) < len(self.units[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.units[ra] |= self.units.pop(rb)
        self.identity[ra] = tuple(
            a or b for a, b in zip(self.identity[ra], self.identity.pop(rb), strict=True)
        )


def _different(ia: tuple[int, ...], ib: tuple[int, ...]) -> bool:
    return any(a and b and a != b for a, b in zip(ia, ib, strict=True))


def _freeze_ties(parts: Parts, edges: ComponentEdges, lo: int, hi: int, frozen: set, tied: set) -> None:
    """In the batch of equal-weight edges ``lo:hi``: freeze every identity-less part whose edges lead to parts
    of two different identities, and note those edges as tied."""
    seen: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    for e in range(lo, hi):
        ra, rb = parts.find(edges.u[e]), parts.find(edges.v[e])
        if ra == rb:
            continue
        for r, other in ((ra, rb), (rb, ra)):
            if r not in frozen and not any(parts.identity[r]) and any(parts.identity[other]):
                seen.setdefault(r, []).append((parts.identity[other], e))
    for r, sides in seen.items():
        if any(_different(a[0], b[0]) for i, a in enumerate(sides) for b in sides[i + 1 :]):
            frozen.add(r)
            tied.update(e for _, e in sides)


def rebuild_component(
    parts: Parts,
    nodes: list[int],
    edges: ComponentEdges,
    cannot_link: list[tuple[int, int]],
    max_size: int,
    cut_reason: np.ndarray,
) -> Rebuilt:
    """Add the component's edges strongest first, refusing a union of two identities, a match edge that would
    make a part larger than ``max_size`` units and a union across a cannot-link; see the module docstring.
    Writes the reason of each cut match edge into ``cut_reason`` (indexed by the edge's ``index``)."""
    frozen: set[int] = set()
    tied: set[int] = set()
    cuts, cut_weight_max = 0, -np.inf
    m, lo = len(edges.w), 0
    while lo < m:
        hi = lo + 1
        while hi < m and edges.w[hi] >= edges.w[lo] - _TIE:
            hi += 1
        if hi - lo > 1 and np.isfinite(edges.w[lo]):
            _freeze_ties(parts, edges, lo, hi, frozen, tied)
        for e in range(lo, hi):
            ra, rb = parts.find(edges.u[e]), parts.find(edges.v[e])
            if ra == rb:
                continue
            w = edges.w[e]
            if ra in frozen or rb in frozen:
                reason = CUT_TIE if e in tied else CUT_IDENTITY
            elif parts.conflict(ra, rb):
                reason = CUT_IDENTITY
            elif (np.isfinite(w) and parts.too_big(ra, rb, max_size)) or any(
                {parts.find(x), parts.find(y)} == {ra, rb} for x, y in cannot_link
            ):
                reason = CUT_GUARD
            else:
                parts.union(ra, rb)
                continue
            if not np.isfinite(w):
                log.warning(
                    "a must-link or shared-identity join %s–%s is refused: %s",
                    edges.u[e],
                    edges.v[e],
                    "two identities" if reason == CUT_IDENTITY else "a cannot-link",
                )
            cuts += 1
            cut_weight_max = max(cut_weight_max, w)
            if edges.index[e] >= 0:
                cut_reason[edges.index[e]] = reason
        lo = hi
    roots = np.array([parts.find(x) for x in nodes])
    _, part = np.unique(roots, return_inverse=True)
    return Rebuilt(part, cuts, cut_weight_max, len(frozen))
