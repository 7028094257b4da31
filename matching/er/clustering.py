"""Clustering (聚类): from scored pairs to entities, with exclusive identities, a guard against chaining and
reviewed constraints.

Pairs at or above the match threshold are edges; entities are the connected components. Nodes may carry an
*identity* per identity column (the 64-bit hash of a valid ID number or credit code, 0 = none):

* **one identity, one entity** — all nodes holding one identity value are joined (exact joins, whatever the
  blocking produced and whatever their number);
* **never two identities** — a pair whose sides hold different values is never an edge, and a component that
  still holds two values (chained through records without one) is rebuilt.

Three more things make a component wrong, and all are fixed only inside the components they touch:

* **chaining** — A~B, B~C, ... until a component is far larger than any real entity (a household's members
  joined through shared phones). Size is counted in *identity units* (see :mod:`matching.er.guard`): records
  sharing an identity count once, and so do records with identical matching values, so a big employer with
  300 mentions of one credit code is not a chain. A component larger than ``max_size`` units is reported and
  rebuilt by adding its edges strongest first, refusing any match edge that would make a part larger than
  ``max_size``: the weakest links are the ones left out. Exact joins are exempt.
* **cannot-link** — a reviewer said two records are different. A component holding both ends of such a pair
  is rebuilt the same way, refusing any edge that would join the two.
* **two identities** — rebuilt the same way, refusing any union of two parts with different identities (one
  check per edge: each part knows its identity). A record without identity goes with the side it matches
  best; tied between two sides, it stays on its own and the tied pairs are reported (``CUT_TIE``).

Must-link pairs (reviewed as the same) and exact joins are edges of infinite weight that come first. Nodes
carry a size and units, so that an existing entity can be one node in incremental runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.er.guard import CUT_DIFFERENT, ComponentEdges, Parts, rebuild_component

log = logging.getLogger(__name__)


@dataclass
class Clusters:
    """Component label per node, a report of the components the guard had to split, why each match edge was
    cut (``matching.er.guard.CUT_*``, 0 = not cut) and how many identity-less parts a tie left on their own."""

    labels: np.ndarray
    oversized: pd.DataFrame
    cut_reason: np.ndarray
    ties: int = 0


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.empty(0, dtype=np.int64)
    g = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def exact_joins(identity: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Node pairs that share an identity value (each node joined to the first node of its value) and, per
    identity column, the first node of each distinct value."""
    us, vs, firsts = [], [], []
    for j in range(identity.shape[1]):
        held = np.flatnonzero(identity[:, j])
        codes, _ = pd.factorize(identity[held, j])  # numbered in order of first appearance: no sort
        first = codes > np.r_[-1, np.maximum.accumulate(codes)[:-1]]
        first_node = held[first]
        us.append(first_node[codes[~first]])
        vs.append(held[~first])
        firsts.append(first_node)
    empty = np.empty(0, dtype=np.int64)
    return (np.concatenate(us) if us else empty), (np.concatenate(vs) if vs else empty), firsts


def different_identity(identity: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per node pair: the two nodes hold different values of an identity column."""
    out = np.zeros(len(u), dtype=bool)
    for j in range(identity.shape[1]):
        a, b = identity[u, j], identity[v, j]
        out |= (a != 0) & (b != 0) & (a != b)
    return out


def _unit_counts(labels: np.ndarray, units: tuple[np.ndarray, np.ndarray], wanted: np.ndarray) -> np.ndarray:
    """Distinct units per component, for the components flagged in ``wanted`` (0 elsewhere)."""
    unit_node, unit = units
    comp = labels[unit_node]
    sel = wanted[comp]
    pairs = pd.DataFrame({"c": comp[sel], "u": unit[sel]}).drop_duplicates()
    return np.bincount(pairs["c"].to_numpy(), minlength=len(wanted))


def _unit_sets(wanted: np.ndarray, units: tuple[np.ndarray, np.ndarray]) -> dict[int, set]:
    """The units of each node flagged in ``wanted`` as Python sets."""
    unit_node, unit = units
    sel = wanted[unit_node]
    out: dict[int, set] = {int(x): set() for x in np.flatnonzero(wanted)}
    for x, u in zip(unit_node[sel].tolist(), unit[sel].tolist(), strict=True):
        out[x].add(u)
    return out


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
class _Graph:
    """Every edge: must-link pairs and exact joins (infinite weight), then match edges; ``index`` is the match
    edge's position in the caller's arrays (-1 for the others)."""

    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    index: np.ndarray


def _rebuild(
    labels: np.ndarray,
    bad: np.ndarray,
    graph: _Graph,
    identity: np.ndarray,
    units: tuple[np.ndarray, np.ndarray],
    cannot_link: tuple[np.ndarray, np.ndarray],
    max_size: int,
    cut_reason: np.ndarray,
) -> list[tuple[int, np.ndarray, np.ndarray, int, float, int]]:
    """Rebuild the ``bad`` components (see :func:`matching.er.guard.rebuild_component`), relabelling their
    nodes in place: the part holding a component's first node keeps its label, the others get new ones.
    Returns per component: its label, its nodes and their parts, the edges cut, the strongest cut weight, the ties."""
    bad_ids = np.flatnonzero(bad)
    edge_comp = labels[graph.u]
    in_bad = np.flatnonzero(bad[edge_comp])
    in_bad = in_bad[np.lexsort((graph.v[in_bad], graph.u[in_bad], -graph.w[in_bad], edge_comp[in_bad]))]
    comp_of_edge = edge_comp[in_bad]
    e_lo, e_hi = np.searchsorted(comp_of_edge, bad_ids), np.searchsorted(comp_of_edge, bad_ids, side="right")
    nodes_all = np.flatnonzero(bad[labels])
    nodes_all = nodes_all[np.argsort(labels[nodes_all], kind="stable")]
    comp_of_node = labels[nodes_all]
    n_lo, n_hi = np.searchsorted(comp_of_node, bad_ids), np.searchsorted(comp_of_node, bad_ids, side="right")
    unit_sets = _unit_sets(bad[labels], units)
    ident_rows = [tuple(r) for r in identity[nodes_all].tolist()]
    # only constraints with both ends in one component can be broken (the other end may be anywhere)
    cl_l, cl_r = cannot_link
    cl_comp = np.where(labels[cl_l] == labels[cl_r], labels[cl_l], -1)
    cl_order = np.argsort(cl_comp, kind="stable")
    cl_sorted = cl_comp[cl_order]
    c_lo, c_hi = np.searchsorted(cl_sorted, bad_ids), np.searchsorted(cl_sorted, bad_ids, side="right")
    eu, ev, ew, ei = (x[in_bad].tolist() for x in (graph.u, graph.v, graph.w, graph.index))
    next_label = int(labels.max()) + 1
    out = []
    for i, c in enumerate(bad_ids.tolist()):
        nodes = nodes_all[n_lo[i] : n_hi[i]]
        node_list = nodes.tolist()
        parts = Parts(node_list, ident_rows[n_lo[i] : n_hi[i]], [unit_sets.pop(x) for x in node_list])
        lo, hi = e_lo[i], e_hi[i]
        edges = ComponentEdges(eu[lo:hi], ev[lo:hi], ew[lo:hi], ei[lo:hi])
        at = cl_order[c_lo[i] : c_hi[i]]
        cons = list(zip(cl_l[at].tolist(), cl_r[at].tolist(), strict=True))
        res = rebuild_component(parts, node_list, edges, cons, max_size, cut_reason)
        part, first = res.part, res.part[0]
        labels[nodes] = np.where(part == first, c, next_label + part - (part > first))
        next_label += int(part.max())
        out.append((c, nodes, part, res.cuts, res.cut_weight_max, res.ties))
    return out


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
    identity: np.ndarray | None = None,
    units: tuple[np.ndarray, np.ndarray] | None = None,
) -> Clusters:
    """Cluster ``n`` nodes joined by match edges (``left``, ``right``, ``weight``); see the module docstring.

    ``node_size``: records per node (1 by default). ``identity``: (n × identity columns) uint64 hashes of the
    identity values each node holds (0 = none). ``units``: (node, unit) pairs, the identity units each node
    holds (by default each record of a node is a unit of its own)."""
    node_size = np.ones(n, dtype=np.int64) if node_size is None else node_size.astype(np.int64)
    identity = np.zeros((n, 0), dtype=np.uint64) if identity is None else identity
    if units is None:
        units = (np.repeat(np.arange(n), node_size), np.arange(int(node_size.sum()), dtype=np.uint64))
    none = (np.empty(0, np.int64), np.empty(0, np.int64))
    ml_l, ml_r = must_link if must_link is not None else none
    cl_l, cl_r = (np.asarray(x, dtype=np.int64) for x in (cannot_link if cannot_link is not None else none))
    cut_reason = np.zeros(len(left), dtype=np.int8)
    different = different_identity(identity, left, right)
    cut_reason[different] = CUT_DIFFERENT
    keep = np.flatnonzero(~different)
    xu, xv, firsts = exact_joins(identity)
    n_inf = len(ml_l) + len(xu)
    graph = _Graph(
        np.r_[ml_l, xu, left[keep]].astype(np.int64),
        np.r_[ml_r, xv, right[keep]].astype(np.int64),
        np.r_[np.full(n_inf, np.inf), weight[keep]].astype(np.float64),
        np.r_[np.full(n_inf, -1), keep].astype(np.int64),
    )
    labels = _components(n, graph.u, graph.v)
    n_comp = int(labels.max()) + 1 if n else 0
    two_ids = np.zeros(n_comp, dtype=bool)
    for first in firsts:  # each value lies in one component: two values there = two identities
        two_ids |= np.bincount(labels[first], minlength=n_comp) > 1
    comp_size = np.bincount(labels, weights=node_size, minlength=n_comp)
    oversized = comp_size > max_size  # records ≥ units: count units only where records exceed the limit
    if oversized.any():
        oversized &= _unit_counts(labels, units, oversized) > max_size
    bad = two_ids | oversized
    same = labels[cl_l] == labels[cl_r]
    bad[labels[cl_l[same]]] = True
    rows, ties = [], 0
    if bad.any():
        for c, nodes, part, cuts, cut_weight_max, n_ties in _rebuild(
            labels, bad, graph, identity, units, (cl_l, cl_r), max_size, cut_reason
        ):
            rows.append(
                {
                    "component_size": int(comp_size[c]),
                    "parts": int(part.max()) + 1,
                    "largest_part": int(np.bincount(part, weights=node_size[nodes]).max()),
                    "edges_cut": cuts,
                    "strongest_cut_weight": cut_weight_max if cuts else np.nan,
                    "reason": "identity_conflict"
                    if two_ids[c]
                    else ("oversized" if oversized[c] else "cannot_link"),
                    "first_node": int(nodes[0]),
                }
            )
            ties += n_ties
        log.info("clustering: %d components split by the guard", len(rows))
    return Clusters(labels, pd.DataFrame(rows, columns=_OVERSIZED_COLUMNS), cut_reason, ties)
