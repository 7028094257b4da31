"""A workspace's reference data (四标), read with its ``gridhub.yaml`` column mapping and completed.

``reference.addresses / grids / divisions`` in ``gridhub.yaml`` name each file and, where a district's headers
differ from the canonical columns of :mod:`matching.reference`, how they map (``columns:``) and the encoding.
:func:`read_reference` reads one file with that mapping (every cell text, stripped, ``""`` when empty);
:func:`complete` fills the optional columns a file lacks (documented in docs/reference-data.md). The pipeline
builds its :class:`~matching.address.AddressLibrary`, :class:`~matching.grids.GridIndex` and the warehouse's
address and grid tables from these frames, and ``gridhub check`` reports on them.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from gridhub.config import REFERENCE_COLUMNS, ReferenceFile
from gridhub.workspace import Workspace
from warehouse.errors import UserError

if TYPE_CHECKING:
    from matching.address import AddressLibrary
    from matching.grids import GridIndex

KINDS = ("addresses", "grids", "divisions")
#: What each kind of file is called in messages (Chinese, English).
TITLE = {
    "addresses": ("标准地址库", "standard address library"),
    "grids": ("网格文件", "grids file"),
    "divisions": ("行政区划文件", "divisions file"),
}
#: Columns a file must have (after the mapping); every other canonical column is optional and filled.
REQUIRED: dict[str, tuple[str, ...]] = {
    "addresses": ("address_code", "house_number", "grid_code"),
    "grids": ("grid_code", "name", "grid_type", "wkt"),
    "divisions": ("code", "name", "level"),
}
#: Of each group, a file must have at least one column (after the mapping).
ONE_OF: dict[str, tuple[tuple[str, ...], ...]] = {"addresses": (("road", "villager_group"),)}
#: The divisions file may be absent (the divisions are then taken from the library's name columns).
OPTIONAL_FILES = ("divisions",)
#: Division levels, and the Chinese words accepted for them.
LEVELS = ("province", "city", "district", "street", "community")
LEVEL_WORDS = {
    "省": "province",
    "市": "city",
    "区": "district",
    "县": "district",
    "区县": "district",
    "街道": "street",
    "镇": "street",
    "乡": "street",
    "乡镇": "street",
    "社区": "community",
    "村": "community",
    "村居": "community",
}
GRID_TYPES = ("基础网格", "微网格", "专属网格")
GRID_TYPE_WORDS = {
    "基础": "基础网格",
    "微": "微网格",
    "专属": "专属网格",
    "basic": "基础网格",
    "micro": "微网格",
}
#: Headers districts commonly use for a canonical column (used only to suggest a ``columns:`` mapping).
SYNONYMS = {
    "address_code": ("地址编码", "地址代码", "标准地址编码", "addr_code", "code"),
    "division_code": ("区划代码", "社区编码", "社区代码", "村居编码", "community_code"),
    "house_number": ("门牌号", "门牌", "门牌号码", "house_no", "door_number"),
    "road": ("街路巷", "道路", "街巷", "路名", "road_name"),
    "villager_group": ("村民小组", "组", "group"),
    "building": ("楼栋", "栋", "楼栋号", "building_no"),
    "room": ("户室", "室", "房号", "room_no"),
    "grid_code": ("网格编码", "网格代码", "所属网格", "grid_id", "grid"),
    "name": ("网格名称", "名称", "grid_name", "division_name"),
    "grid_type": ("网格类型", "网格级别", "level", "type"),
    "wkt": ("边界", "范围", "geometry", "geom", "shape", "polygon"),
    "code": ("区划代码", "代码", "division_code"),
    "level": ("级别", "层级", "type"),
}


log = logging.getLogger(__name__)


class ReferenceDataError(UserError, ValueError):
    """Reference data that cannot be used (missing, unreadable, required columns missing, or failing
    ``gridhub check``); the message names the file, the column, what is wrong and what to do."""


@dataclass
class ReferenceTable:
    """One reference file as read: the frame under canonical names, the headers as found, what is missing."""

    kind: str
    path: Path
    frame: pd.DataFrame
    headers: list[str]
    encoding: str
    missing: list[str] = field(default_factory=list)
    unknown_mapping: list[str] = field(default_factory=list)

    def suggestion(self) -> dict[str, str]:
        """A ``columns:`` mapping for the missing required columns from the file's own headers (a guess)."""
        free = [h for h in self.headers if h not in REFERENCE_COLUMNS[self.kind]]
        out: dict[str, str] = {}
        for missing in self.missing:
            for col in missing.split(" / "):
                words = SYNONYMS.get(col, ())
                hit = [h for h in free if (h in words or h.lower() in words) and h not in out]
                if not hit:
                    hit = difflib.get_close_matches(col, [h for h in free if h not in out], n=1, cutoff=0.6)
                if hit:
                    out[hit[0]] = col
                    break
        return out

    def mapping_hint(self, your_header: str = "<your header>") -> str:
        """The ``columns:`` line to add: the guessed mapping, else a placeholder for the first missing column."""
        guess = self.suggestion()
        pairs = [f"{h}: {c}" for h, c in guess.items()] or [
            f"{your_header}: {self.missing[0].split(' / ')[0]}"
        ]
        return "columns: {" + ", ".join(pairs) + "}"

    def missing_message(self) -> str:
        """What is missing, the headers found and the mapping to add (Chinese, then English)."""
        zh, en = TITLE[self.kind]
        return (
            f"{self.path}：{zh}缺少必需列 {self.missing}；文件中的表头为 {self.headers}。"
            f"请在 gridhub.yaml 的 reference.{self.kind} 下把表头映射到这些列"
            f"（例如 {self.mapping_hint('<你的表头>')}），见 docs/reference-data.md。"
            f" / {self.path}: the {en} lacks the required columns {self.missing}; its headers are {self.headers}. "
            f"Map your headers to them under reference.{self.kind} in gridhub.yaml "
            f"(e.g. {self.mapping_hint()}); see docs/reference-data.md."
        )


def _read_csv(path: Path, encoding: str, usecols=None) -> tuple[pd.DataFrame, str]:
    tries = (
        ["utf-8-sig", "gb18030"] if encoding == "auto" else ["utf-8-sig" if encoding == "utf-8" else encoding]
    )
    for i, enc in enumerate(tries):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, usecols=usecols), enc
        except UnicodeDecodeError:
            if i == len(tries) - 1:
                raise
    raise AssertionError("unreachable")


def read_reference(ws: Workspace, kind: str) -> ReferenceTable | None:
    """Reference file ``kind`` read with its mapping: ``None`` when an optional file is absent.

    Raises :class:`ReferenceDataError` when a required file is absent or the file cannot be read as CSV.
    """
    spec: ReferenceFile = getattr(ws.config.reference, kind)
    path = ws.reference_file(kind)
    zh, en = TITLE[kind]
    if not path.is_file():
        if kind in OPTIONAL_FILES:
            return None
        raise ReferenceDataError(
            f"{path}：找不到{zh}。请把文件放在这里，或在 gridhub.yaml 的 reference.{kind}.path 中写明它的位置。"
            f" / {path}: no {en} here. Put the file there, or give its location as reference.{kind}.path "
            "in gridhub.yaml."
        )
    try:
        raw, used = _read_csv(path, spec.encoding)
    except UnicodeDecodeError as e:
        raise ReferenceDataError(
            f"{path}：无法按 {spec.encoding} 编码读取（{e.reason}，第 {e.start} 字节）。请把文件存为 UTF-8 或 GB18030，"
            f"或设置 reference.{kind}.encoding。 / {path}: cannot be read as {spec.encoding} ({e.reason} at byte "
            f"{e.start}). Save it as UTF-8 or GB18030, or set reference.{kind}.encoding."
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as e:
        raise ReferenceDataError(
            f"{path}：不是可读的 CSV 文件（{e}）。请导出为逗号分隔、首行为表头的 CSV。"
            f" / {path}: not a readable CSV file ({e}). Export it as comma-separated CSV with the header first."
        ) from None
    headers = [str(h).strip() for h in raw.columns]
    raw.columns = headers
    unknown_mapping = sorted(set(spec.columns) - set(headers))
    mapped = {h: c for h, c in spec.columns.items() if h in headers}
    # a mapped header wins over a header that already carries the canonical name
    shadowed = [h for h in headers if h in mapped.values() and h not in mapped]
    frame = raw.drop(columns=shadowed).rename(columns=mapped)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    for group in ONE_OF.get(kind, ()):
        if not any(c in frame.columns for c in group):
            missing.append(" / ".join(group))
    return ReferenceTable(kind, path, frame, headers, used, missing, unknown_mapping)


def load_reference(ws: Workspace, kind: str) -> pd.DataFrame | None:
    """Reference file ``kind`` with every canonical column, completed; ``None`` for an absent optional file.

    Raises :class:`ReferenceDataError` naming the missing required columns and the headers found.
    """
    table = read_reference(ws, kind)
    if table is None:
        return None
    if table.missing:
        raise ReferenceDataError(table.missing_message())
    return complete(kind, table.frame)


def complete(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Every canonical column of ``kind``, in canonical order, the optional ones filled (see the docs)."""
    f = frame.copy()
    for c in REFERENCE_COLUMNS[kind]:
        if c not in f.columns:
            f[c] = ""
    if kind == "addresses":
        f = _complete_addresses(f)
    elif kind == "grids":
        f = _complete_grids(f)
    else:
        f = _complete_divisions(f)
    extra = [c for c in f.columns if c not in REFERENCE_COLUMNS[kind]]
    return f[[*REFERENCE_COLUMNS[kind], *extra]].reset_index(drop=True)


def _suffixed(values: pd.Series, suffix: str) -> pd.Series:
    """``7`` → ``7号``; a value already ending in a non-digit (``7号``, ``1幢``) and ``""`` stay as they are."""
    digits_only = values.str.fullmatch(r"\d+").fillna(False)
    return values.where(~digits_only, values + suffix)


def _complete_addresses(f: pd.DataFrame) -> pd.DataFrame:
    # a grid code begins with its community's 12-digit code (county 6 + street 3 + community 3 + sequence)
    no_division = (f["division_code"] == "") & f["grid_code"].str.fullmatch(r"\d{15,}").fillna(False)
    f.loc[no_division, "division_code"] = f.loc[no_division, "grid_code"].str.slice(0, 12)
    empty_text = f["standard_text"] == ""
    if empty_text.any():
        parts = [f[c] for c in ("province", "city", "district", "street", "community", "road")]
        parts += [
            _suffixed(f["villager_group"], "组"),
            _suffixed(f["house_number"], "号"),
            f["estate"],
            _suffixed(f["building"], "栋"),
            _suffixed(f["unit"], "单元"),
            _suffixed(f["room"], "室"),
        ]
        composed = parts[0].str.cat(parts[1:], sep="")
        f["standard_text"] = f["standard_text"].where(~empty_text, composed)
    no_building = f["building_code"] == ""
    if no_building.any():
        keys = f[["division_code", "road", "villager_group", "house_number", "estate", "building"]]
        hashes = pd.util.hash_pandas_object(keys[no_building], index=False).to_numpy()
        f.loc[no_building, "building_code"] = "B" + pd.Series(
            hashes.astype(str), index=keys.index[no_building]
        )
    return f


def _complete_grids(f: pd.DataFrame) -> pd.DataFrame:
    f["grid_type"] = f["grid_type"].replace(GRID_TYPE_WORDS)
    numeric = f["grid_code"].str.fullmatch(r"\d{12,}").fillna(False)
    for col, width in (("community_code", 12), ("street_code", 9), ("district_code", 6)):
        fill = (f[col] == "") & numeric
        f.loc[fill, col] = f.loc[fill, "grid_code"].str.slice(0, width)
    return f


def _complete_divisions(f: pd.DataFrame) -> pd.DataFrame:
    f["level"] = f["level"].replace(LEVEL_WORDS)
    code = f["code"]
    parent = pd.Series("", index=f.index, dtype=object)
    parent = parent.mask(code.str.len() == 12, code.str.slice(0, 9))
    parent = parent.mask(code.str.len() == 9, code.str.slice(0, 6))
    six = code.str.fullmatch(r"\d{6}").fillna(False)
    parent = parent.mask(six & ~code.str.endswith("00"), code.str.slice(0, 4) + "00")
    parent = parent.mask(
        six & code.str.endswith("00") & ~code.str.endswith("0000"), code.str.slice(0, 2) + "0000"
    )
    f["parent_code"] = f["parent_code"].where(f["parent_code"] != "", parent)
    return f


#: The division levels organisation names are written with in front (明州市江澜区长乐街道…): not communities,
#: whose names are too often an ordinary word or a 字号 (长乐, 东园).
NAME_LEVELS = ("province", "city", "district", "street")


def division_names(ws: Workspace) -> tuple[tuple[str, ...], ...]:
    """The city's divisions down to its streets and towns (:data:`NAME_LEVELS`), each as its name and aliases
    (``江澜区``, ``("长乐街道", "长乐街")``), from the divisions file and the library's name columns (only those
    columns are read): what ``matching.er`` sets aside at the start of an organisation name, written with or
    without its suffix. Sorted, one entry per name."""
    aliases: dict[str, set[str]] = {}
    divisions = load_reference(ws, "divisions")
    if divisions is not None:
        named = divisions[divisions["level"].isin(NAME_LEVELS) & (divisions["name"] != "")]
        for name, more in zip(named["name"], named["aliases"], strict=True):
            aliases.setdefault(name, set()).update(a.strip() for a in str(more).split("|") if a.strip())
    spec: ReferenceFile = ws.config.reference.addresses
    header = {c: h for h, c in spec.columns.items() if c in NAME_LEVELS}
    wanted = {header.get(c, c) for c in NAME_LEVELS}
    path = ws.reference_file("addresses")
    if path.is_file():
        frame, _ = _read_csv(path, spec.encoding, usecols=lambda h: str(h).strip() in wanted)
        for c in frame.columns:
            for name in frame[c].str.strip().unique():
                if name:
                    aliases.setdefault(name, set())
    return tuple((name, *sorted(aliases[name] - {name})) for name in sorted(aliases))


def address_frame(ws: Workspace) -> pd.DataFrame:
    """The standard address library, every canonical column, text (what the warehouse's address table takes)."""
    frame = load_reference(ws, "addresses")
    assert frame is not None  # a required file: absent raises
    return frame


def grid_frame(ws: Workspace) -> pd.DataFrame:
    """The grids, every canonical column, text (what the warehouse's grid table and the grid index take)."""
    frame = load_reference(ws, "grids")
    assert frame is not None
    return frame


def address_library(ws: Workspace) -> AddressLibrary:
    """The workspace's :class:`~matching.address.AddressLibrary`, built from the configured files; what the
    matcher finds wrong with it (``gridhub check`` reports the same) is logged as warnings."""
    from matching.address import AddressLibrary, library_problems

    frame = address_frame(ws)
    for c in ("lon", "lat"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    library = AddressLibrary.from_frames(frame, load_reference(ws, "divisions"))
    for problem in library_problems(library):
        log.warning("%s: %s", ws.reference_file("addresses"), problem)
    return library


def grid_index(ws: Workspace) -> GridIndex:
    """The workspace's :class:`~matching.grids.GridIndex`, built from the configured files."""
    from matching.grids import GridIndex

    return GridIndex(grid_frame(ws), load_reference(ws, "divisions"))


__all__ = [
    "GRID_TYPES",
    "KINDS",
    "LEVELS",
    "ONE_OF",
    "OPTIONAL_FILES",
    "REQUIRED",
    "ReferenceDataError",
    "ReferenceTable",
    "address_frame",
    "address_library",
    "complete",
    "division_names",
    "grid_frame",
    "grid_index",
    "load_reference",
    "read_reference",
]
