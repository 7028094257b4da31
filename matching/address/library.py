"""The standard address library (标准地址库), indexed for matching: loading, vocabulary, blocks, lookups."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from matching.address.canonical import group_in_road, library_element
from matching.address.lookups import Aggregate, KeyCoder, KeyCodes, RowGroups
from matching.address.roads import RoadGuess, RoadIndex
from matching.address.rules import ELEMENT_MARKERS
from matching.address.scores import MAX_CANDIDATES
from matching.address.variants import division_forms, estate_forms
from matching.reference import (
    ADDRESS_LIBRARY_COLUMNS,
    ADDRESSES_FILE,
    DIVISION_COLUMNS,
    DIVISIONS_FILE,
    read_reference_csv,
)
from matching.text import normalize_text
from warehouse.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Meaning:
    """What a token of the vocabulary can stand for: a division (by level and code), a road or an estate."""

    kind: str  # province / city / district / street / community / road / estate
    value: str  # division code, or the road / estate name
    communities: frozenset[str]  # community codes it is consistent with


#: Block kind → the library column holding each row's block id of that kind.
BLOCK_COLUMN = {"road": "_road_b", "estate": "_estate_b", "group": "_group_b", "comm": "_comm_b"}
#: A stretch of place text and what it can mean (None: the vocabulary does not know it).
Piece = tuple[str, tuple[Meaning, ...] | None]


class LibraryError(UserError, ValueError):
    """The standard address library is missing or malformed; the message names the file and column."""


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
        # a villager group written in the road column (石岭村3组, 第三村民小组) is the group, not a road
        in_road = group_in_road(lib["road"]).where(lib["villager_group"] == "")
        lib["villager_group"] = in_road.fillna(lib["villager_group"])
        lib.loc[in_road.notna().to_numpy(), "road"] = ""
        for c in ELEMENT_MARKERS:
            lib[c] = library_element(lib[c], c).fillna("")
        self.addresses = lib.reset_index(drop=True)
        self.divisions = self._division_frame(divisions)
        self._build_vocabulary()
        self._build_blocks()

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        reference_dir: Path | str,
        addresses: str = ADDRESSES_FILE,
        divisions: str = DIVISIONS_FILE,
    ) -> AddressLibrary:
        """Read the library from a workspace's ``reference/`` folder (UTF-8 CSV, all text but lon/lat)."""
        reference_dir = Path(reference_dir)
        path = reference_dir / addresses
        if not path.exists():
            raise LibraryError(f"{path}: no standard address library here (the workspace's reference data)")
        frame = read_reference_csv(path)
        for c in ("lon", "lat"):
            if c in frame.columns:
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
        div_path = reference_dir / divisions
        div = read_reference_csv(div_path) if div_path.exists() else None
        log.info("address library: %d addresses from %s", len(frame), path)
        library = cls(frame, div)
        from matching.address.checks import library_problems

        for problem in library_problems(library):
            log.warning("address library %s: %s", path, problem)
        return library

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
        parent: dict[str, str | None] = {
            "province": None,
            "city": "province",
            "district": "city",
            "street": "district",
            "community": "street",
        }
        for level, codes in derived.items():
            up = parent[level]
            f = pd.DataFrame(
                {
                    "code": codes,
                    "name": lib[level],
                    "parent_code": derived[up] if up else "",
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
        for c in DIVISION_COLUMNS:
            d[c] = d[c].astype("string").fillna("") if c in d.columns else ""
        d["name"] = normalize_text(d["name"]).str.replace(" ", "", regex=False)
        d["aliases"] = normalize_text(d["aliases"]).str.replace(" ", "", regex=False)
        return pd.concat([d, own[~own["code"].isin(d["code"])]], ignore_index=True)

    def _communities_under(self) -> dict[str, frozenset[str]]:
        """Each division code → the library's communities at or below it."""
        children: dict[str, list[str]] = {}
        for c, p in zip(self.divisions["code"], self.divisions["parent_code"], strict=True):
            if p:
                children.setdefault(p, []).append(c)

        def under(code: str) -> frozenset[str]:
            out, seen, stack = set(), {code}, [code]
            while stack:  # ``seen``: a malformed division file may hold a cycle (a code its own parent)
                x = stack.pop()
                if x in self.all_communities:
                    out.add(x)
                for child in children.get(x, ()):
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
            return frozenset(out)

        return {code: under(code) for code in self.divisions["code"]}

    def _build_vocabulary(self) -> None:
        """Division names (with aliases and their forms), roads and estates (with their forms) → meanings.

        A token that is the exact name (or a listed alias) of something of one kind — a division level, road,
        estate — means only that among its kind: a form derived from another name of the same kind (碧水花园 as a
        form of 碧水小区) is dropped there, so two different estates or communities are never read as one.
        """
        lib = self.addresses
        div = self.divisions
        self.all_communities = frozenset(lib["division_code"].unique())
        communities_under = self._communities_under()
        exact: dict[str, set[tuple[str, Meaning]]] = {}
        derived: dict[str, set[tuple[str, Meaning]]] = {}

        def add(token: str, meaning: Meaning, is_exact: bool) -> None:
            if len(token) >= 2:
                group = meaning.kind
                (exact if is_exact else derived).setdefault(token, set()).add((group, meaning))

        self._division_name = dict(zip(div["code"], div["name"], strict=True))
        for code, name, level, aliases in zip(
            div["code"], div["name"], div["level"], div["aliases"], strict=True
        ):
            comms = communities_under[code]
            if not comms:
                continue  # a division with no address in the library (other districts of the city)
            m = Meaning(level, code, comms)
            listed = {name, *[a for a in aliases.split("|") if a]}
            for n in division_forms(code, level, name, aliases):
                add(n, m, n in listed)
        road_comms = lib[lib["road"] != ""].groupby("road")["division_code"].agg(frozenset)
        for road, comms in road_comms.items():
            add(road, Meaning("road", road, comms), True)
        estate_comms = lib[lib["estate"] != ""].groupby("estate")["division_code"].agg(frozenset)
        for estate, comms in estate_comms.items():
            for n in estate_forms(estate):
                add(n, Meaning("estate", estate, comms), n == estate)
        vocab: dict[str, set[Meaning]] = {}
        for token in sorted(exact.keys() | derived.keys()):
            have = exact.get(token, set())
            exact_groups = {g for g, _ in have}
            keep = {m for _, m in have} | {m for g, m in derived.get(token, ()) if g not in exact_groups}
            vocab[token] = keep
        self.vocab = {k: tuple(sorted(v, key=lambda m: (m.kind, m.value))) for k, v in vocab.items()}
        self._max_token = max((len(k) for k in self.vocab), default=1)
        self.road_communities: dict[str, frozenset[str]] = road_comms.to_dict()
        self.roads = RoadIndex(self.road_communities)

    def _build_blocks(self) -> None:
        """Block ids: (community, road), (community, estate), (community, villager group), community."""
        lib = self.addresses
        lib[BLOCK_COLUMN["road"]] = _block_ids(lib["division_code"], lib["road"])
        lib[BLOCK_COLUMN["estate"]] = _block_ids(lib["division_code"], lib["estate"])
        lib[BLOCK_COLUMN["group"]] = _block_ids(lib["division_code"], lib["villager_group"])
        lib[BLOCK_COLUMN["comm"]] = _block_ids(lib["division_code"], pd.Series("*", index=lib.index))
        self._block_of: dict[tuple[str, str, str], int] = {}
        for kind, name_col in (("road", "road"), ("estate", "estate"), ("group", "villager_group")):
            sel = lib[lib[name_col] != ""]
            for comm, name, b in zip(
                sel["division_code"], sel[name_col], sel[BLOCK_COLUMN[kind]], strict=True
            ):
                self._block_of[(kind, comm, name)] = int(b)
        for comm, b in zip(lib["division_code"], lib[BLOCK_COLUMN["comm"]], strict=True):
            self._block_of[("comm", comm, "*")] = int(b)
        self._coder = KeyCoder(lib)
        self._aggregates: dict[tuple[str, ...], Aggregate] = {}
        self._first_buildings: dict[tuple[str, ...], RowGroups] = {}

    # ---- the vocabulary ----------------------------------------------------------------------------------
    def segment(self, text: str) -> list[Piece]:
        """Best cover of ``text`` by vocabulary tokens, in order: (text, meanings), or (text, None) for
        stretches the vocabulary does not know. Best = most characters covered, then fewest tokens, then the
        earliest token."""
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
                    # equal covers: the token starting first wins (湖东 + 湖侗路, not 湖 + 东湖 + 侗路)
                    if cand[:2] > choice[:2] or (cand[:2] == choice[:2] and not choice[3]):
                        choice = cand
            best[i] = choice
        pieces: list[Piece] = []
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

    def division_name(self, code: str, default: str) -> str:
        """The library's name of a division (``default`` when it has none)."""
        return self._division_name.get(code, default)

    def similar_roads(self, text: str, comms: frozenset[str] | None) -> list[RoadGuess]:
        """Library roads ``text`` (a road the library lacks) may be a typo of (:meth:`RoadIndex.similar`)."""
        return self.roads.similar(text, comms)

    # ---- lookup indexes (:mod:`matching.address.lookups`) -----------------------------------------------------
    def _aggregate(self, keys: tuple[str, ...]) -> Aggregate:
        found = self._aggregates.get(keys)
        if found is None:
            buildings, _ = self._coder.library("building_code")
            grids, _ = self._coder.library("grid_code")
            found = Aggregate(KeyCodes(self._coder, keys), buildings, grids)
            self._aggregates[keys] = found
        return found

    def lookup(self, keys: tuple[str, ...], values: pd.DataFrame) -> np.ndarray:
        """Each row of ``values`` (columns ``keys``) → its group of library rows with that key (for
        :meth:`aggregate_rows`), -1 when the library has no such row: what a left merge on ``keys`` with the
        library grouped by them finds, at a cost in ``values`` alone (the index is built once per ``keys``)."""
        if values.empty:
            return np.empty(0, dtype=np.intp)
        return self._aggregate(keys).find(values[list(keys)])

    def aggregate_rows(self, keys: tuple[str, ...], groups: np.ndarray) -> pd.DataFrame:
        """The library rows of ``groups`` (found by :meth:`lookup` under ``keys``), one row per group: row count
        ``n``, distinct buildings ``n_building`` and grids ``n_grid``, and the first row's address_code,
        building_code, grid_code and standard_text."""
        agg, lib = self._aggregate(keys), self.addresses
        first = agg.first[groups]

        def column(c: str) -> pd.Series:
            return lib[c].iloc[first].reset_index(drop=True)

        return pd.DataFrame(
            {
                "n": pd.array(
                    agg.n[groups], dtype="Int64"
                ),  # as a pandas named ``size`` aggregation types it
                "address_code": column("address_code"),
                "n_building": agg.n_building[groups].astype(np.int64),
                "building_code": column("building_code"),
                "n_grid": agg.n_grid[groups].astype(np.int64),
                "grid_code": column("grid_code"),
                "standard_text": column("standard_text"),
            }
        )

    def first_buildings(self, keys: tuple[str, ...]) -> RowGroups:
        """Library rows grouped by ``keys``; per key, the first row of each of its first
        :data:`~matching.address.scores.MAX_CANDIDATES` buildings, in library order. Built once per ``keys``."""
        groups = self._first_buildings.get(keys)
        if groups is None:
            buildings, _ = self._coder.library("building_code")
            groups = RowGroups.first_buildings(KeyCodes(self._coder, keys), buildings, MAX_CANDIDATES)
            self._first_buildings[keys] = groups
        return groups

    def prepare_lookups(
        self, aggregates: list[tuple[str, ...]], first_buildings: list[tuple[str, ...]]
    ) -> int:
        """Build the given lookup indexes and the building texts now (in a process that then forks matchers,
        which share them instead of each building its own). Returns their size in bytes."""
        for keys in aggregates:
            self._aggregate(keys)
        for keys in first_buildings:
            self.first_buildings(keys)
        self._coder.prepare()
        size = sum(a.nbytes() for a in self._aggregates.values())
        size += sum(g.nbytes() for g in self._first_buildings.values())
        return size + int(self.building_texts.memory_usage(deep=True))

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
