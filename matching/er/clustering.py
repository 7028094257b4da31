"""Clustering (聚类): from scored pairs to entities, with a guard against chaining and reviewed constraints.

Pairs at or above the match threshold are edges; entities are the connected components. Two things can make
a component wrong, and both are fixed only inside the components they touch:

* **chaining** — A~B, B~C, ... until a component is far larger than any real entity (a household's members
  joined through shared phones). A component larger than ``max_size`` is reported and rebuilt by adding its
  edges strongest first, refusing any edge that would make a part larger than ``max_size``: the weakest links
  are the ones left out.
* **cannot-link** — a reviewer said two records are different. A component holding both ends of such a pair
  is rebuilt the same way, refusing any edge that would join the two.

Must-link pairs (reviewed as the same) are edges that always come first. Nodes carry a size, so that an
existing entity can be one node of weight = its member count in incremental runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)


@dataclass
class Clusters:
    """Component label per node, and a report of the components the guard had to split."""

    labels: np.ndarray
    oversized: pd.DataFrame


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.empty(0, dtype=np.int64)
    g = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


class _UnionFind:
    def __init__(self, nodes: np.ndarray, sizes: np.ndarray):
        self.parent = {int(x): int(x) for x in nodes}
        self.size = {int(x): int(s) for x, s in zip(nodes, sizes, strict=True)}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]


_OVERSIZED_COLUMNS = [
    "component_size",
    "parts",
    "largest_part",
    "edges_cut",
    "strongest_cut_weight",
    "reason",
    "first_node",
]


@dataclass
class _GuardEdges:
    """The edges inside components the guard rebuilds, strongest first, with each edge's component."""

    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray
    component: np.ndarray


def _rebuild_component(
    c: int,
    labels: np.ndarray,
    node_size: np.ndarray,
    edges: _GuardEdges,
    cannot_link: list[tuple[int, int]],
    max_size: int,
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Rebuild component ``c`` by adding its edges strongest first, refusing an edge that would make a part
    larger than ``max_size`` or join the two ends of a cannot-link. Returns the component's nodes, the part of
    each, and the number and strongest weight of the edges cut."""
    nodes = np.flatnonzero(labels == c)
    uf = _UnionFind(nodes, node_size[nodes])
    sel = edges.component == c
    cuts, cut_weight_max = 0, -np.inf
    for a, b, w in zip(edges.u[sel], edges.v[sel], edges.weight[sel], strict=True):
        ra, rb = uf.find(int(a)), uf.find(int(b))
        if ra == rb:
            continue
        too_big = uf.size[ra] + uf.size[rb] > max_size and np.isfinite(w)
        conflict = any({uf.find(x), uf.find(y)} == {ra, rb} for x, y in cannot_link)
        if too_big or conflict:
            if conflict and not np.isfinite(w):
                log.warning("must-link %s–%s conflicts with a cannot-link; the cannot-link wins", a, b)
            cuts += 1
            cut_weight_max = max(cut_weight_max, float(w))
            continue
        uf.union(ra, rb)
    roots = np.array([uf.find(int(x)) for x in nodes])
    _, part = np.unique(roots, return_inverse=True)
    return nodes, part, cuts, cut_weight_max


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    *,
    max_size: int,
    node_size: np.ndarray | None = None,
    must_link: tuple[np.ndarray, np.ndarray] | None = None,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
) -> Clusters:
    """Cluster ``n`` nodes joined by edges (``left``, ``right``, ``weight``); see the module docstring."""
    node_size = np.ones(n, dtype=np.int64) if node_size is None else node_size.astype(np.int64)
    ml_l, ml_r = must_link if must_link is not None else (np.empty(0, np.int64), np.empty(0, np.int64))
    cl_l, cl_r = cannot_link if cannot_link is not None else (np.empty(0, np.int64), np.empty(0, np.int64))
    eu = np.r_[ml_l, left].astype(np.int64)
    ev = np.r_[ml_r, right].astype(np.int64)
    ew = np.r_[np.full(len(ml_l), np.inf), weight].astype(np.float64)
    labels = _components(n, eu, ev)
    comp_size = np.bincount(labels, weights=node_size, minlength=labels.max() + 1 if n else 0)
    bad = comp_size > max_size
    if len(cl_l):
        same = labels[cl_l] == labels[cl_r]
        bad[labels[cl_l[same]]] = True
    bad_ids = np.flatnonzero(bad)
    rows = []
    if len(bad_ids):
        edge_comp = labels[eu]
        in_bad = bad[edge_comp]
        order = np.lexsort((ev[in_bad], eu[in_bad], -ew[in_bad], edge_comp[in_bad]))
        edges = _GuardEdges(eu[in_bad][order], ev[in_bad][order], ew[in_bad][order], edge_comp[in_bad][order])
        next_label = labels.max() + 1
        # only constraints with both ends in one component can be broken (the other end may be anywhere)
        cl_comp = np.where(labels[cl_l] == labels[cl_r], labels[cl_l], -1) if len(cl_l) else labels[cl_l]
        for c in bad_ids:
            cons = [(int(a), int(b)) for a, b in zip(cl_l[cl_comp == c], cl_r[cl_comp == c], strict=True)]
            nodes, part, cuts, cut_weight_max = _rebuild_component(
                int(c), labels, node_size, edges, cons, max_size
            )
            # the part holding the component's first node keeps the old label; others get new ones
            uniq_parts = np.unique(part)
            mapping = {p: (c if p == part[0] else None) for p in uniq_parts}
            for p in uniq_parts:
                if mapping[p] is None:
                    mapping[p] = next_label
                    next_label += 1
            labels[nodes] = np.array([mapping[p] for p in part])
            rows.append(
                {
                    "component_size": int(comp_size[c]),
                    "parts": int(len(uniq_parts)),
                    "largest_part": int(np.bincount(part, weights=node_size[nodes]).max()),
                    "edges_cut": cuts,
                    "strongest_cut_weight": cut_weight_max if cuts else np.nan,
                    "reason": "oversized" if comp_size[c] > max_size else "cannot_link",
                    "first_node": int(nodes[0]),
                }
            )
        log.info("clustering: %d components split by the guard", len(rows))
    return Clusters(labels=labels, oversized=pd.DataFrame(rows, columns=_OVERSIZED_COLUMNS))
