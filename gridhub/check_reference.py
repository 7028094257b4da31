"""``gridhub check`` on the reference data: each configured file, then the files against each other.

Every finding names the file, the column, the lines (1 = the header), what is wrong and what to do, in Chinese
then English. Errors are what would make a run fail or bind nothing; warnings are worth a look.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridhub.check_findings import Finding, error, warning
from gridhub.reference import (
    GRID_TYPES,
    KINDS,
    LEVEL_WORDS,
    LEVELS,
    TITLE,
    ReferenceDataError,
    complete,
    read_reference,
)
from gridhub.workspace import Workspace
from matching.address import canonical_address_text
from warehouse.expectations import grid_code_regex
from warehouse.schema import DIVISION_CODE_PATTERN

#: Numbered element columns of the library that must read as numbers for it to bind below the road.
NUMBERED = ("house_number", "building", "room")
#: Share of library rows with no number in any of :data:`NUMBERED` above which the library is refused.
MAX_NUMBERLESS_ROWS = 0.5
#: Share of a numbered column's non-empty values with no number above which it is a warning.
MAX_NUMBERLESS_VALUES = 0.2


def _lines(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    """The file lines (header = 1) of the rows where ``mask`` holds."""
    return tuple(int(i) + 2 for i in np.flatnonzero(np.asarray(mask, dtype=bool)))


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in sorted(pd.unique(values.astype(str)))[:n])


def reference_findings(ws: Workspace, *, with_matcher: bool = False) -> list[Finding]:
    """Every reference file checked on its own, then the addresses' grids against the grids file.

    ``with_matcher`` also builds the address matcher's library to ask it what it finds wrong
    (:func:`matcher_findings`): ``gridhub check`` does; a run does not, since its binding step builds that library
    anyway and logs the same problems then."""
    out: list[Finding] = []
    frames: dict[str, pd.DataFrame] = {}
    for kind in KINDS:
        found, frame = _file_findings(ws, kind)
        out += found
        if frame is not None:
            frames[kind] = frame
    if "addresses" in frames:
        out += address_findings(str(ws.reference_file("addresses")), frames["addresses"])
        if with_matcher:
            out += matcher_findings(str(ws.reference_file("addresses")), frames["addresses"])
    if "grids" in frames:
        width = ws.config.reference.grid_code_width
        out += grid_findings(str(ws.reference_file("grids")), frames["grids"], width)
    if "divisions" in frames:
        out += division_findings(str(ws.reference_file("divisions")), frames["divisions"])
    if "addresses" in frames:
        out += _district(ws, frames["addresses"])
        out += _upper_names(str(ws.reference_file("addresses")), frames["addresses"], frames.get("divisions"))
    if "addresses" in frames and "grids" in frames:
        out += _address_grids(str(ws.reference_file("addresses")), frames["addresses"], frames["grids"])
    return out


def _district(ws: Workspace, addresses: pd.DataFrame) -> list[Finding]:
    """The library lies in the configured district: some division codes begin with ``district_code``."""
    code = ws.config.district_code
    if addresses.empty or addresses["division_code"].str.startswith(code).any():
        return []
    found = _examples(addresses["division_code"].str.slice(0, 6))
    return [
        warning(
            str(ws.config_file),
            f"标准地址库中没有一个 division_code 以 district_code {code} 开头（库中为 {found}）",
            f"no division_code of the address library begins with district_code {code} (the library has {found})",
            "改正 gridhub.yaml 的 district_code，或检查地址库是否属于本区",
            "correct district_code in gridhub.yaml, or check that the library is this district's",
            column="district_code",
        )
    ]


def _upper_names(path: str, addresses: pd.DataFrame, divisions: pd.DataFrame | None) -> list[Finding]:
    """The district's and city's names are known (library columns or divisions file): the matcher takes a text
    naming a city or district it does not know (明州市江澜区长乐路…) for an address outside the library."""
    named = any(addresses[c].astype(str).str.strip().ne("").any() for c in ("city", "district"))
    if divisions is not None and not divisions.empty:
        levels = divisions["level"].astype(str).str.strip().map(lambda v: LEVEL_WORDS.get(v, v))
        named = named or levels.isin(("city", "district")).any()
    if named or addresses.empty:
        return []
    return [
        warning(
            path,
            "标准地址库没有 city / district 名称，也没有含区县、市的区划文件：写有市、区前缀的地址（某某市某某区长乐路…）"
            "将被当作库外地址，不予匹配",
            "the address library has no city / district names and no divisions file gives them: an address written"
            " with its city or district (…市…区长乐路…) is taken for one outside the library and binds nothing",
            "在地址库中加上 province/city/district 列（或映射已有的列），或提供含市、区县两级的区划文件",
            "add province/city/district columns to the library (or map the ones it has), or a divisions file with"
            " the city and district",
            column="city, district",
        )
    ]


def _file_findings(ws: Workspace, kind: str) -> tuple[list[Finding], pd.DataFrame | None]:
    path = str(ws.reference_file(kind))
    zh, en = TITLE[kind]
    try:
        table = read_reference(ws, kind)
    except ReferenceDataError as e:
        return [error(path, str(e), "", "", "")], None
    if table is None:
        return [
            warning(
                path,
                f"没有{zh}：区划名称将取自标准地址库的省/市/区/街道/社区列",
                f"no {en}: division names are taken from the address library's name columns",
                f"如有区划表（含别名），放在此处或设置 reference.{kind}",
                f"if you have a division list (with aliases), put it here or set reference.{kind}",
            )
        ], None
    out = [
        error(
            path,
            f"gridhub.yaml 的 reference.{kind}.columns 列出了文件中没有的表头 {header!r}",
            f"reference.{kind}.columns in gridhub.yaml names the header {header!r}, which the file lacks",
            f"文件中的表头为 {table.headers}；改正映射中的表头",
            f"the file's headers are {table.headers}; correct the header in the mapping",
            column=header,
        )
        for header in table.unknown_mapping
    ]
    if table.missing:
        out.append(
            error(
                path,
                f"{zh}缺少必需列 {table.missing}；文件中的表头为 {table.headers}",
                f"the {en} lacks the required columns {table.missing}; its headers are {table.headers}",
                f"在 gridhub.yaml 的 reference.{kind} 下映射表头，例如 {table.mapping_hint('<你的表头>')}",
                f"map your headers under reference.{kind} in gridhub.yaml, e.g. {table.mapping_hint()}",
                column=", ".join(table.missing),
            )
        )
        return out, None
    return out, complete(kind, table.frame)


def _duplicates(path: str, frame: pd.DataFrame, column: str, what: tuple[str, str]) -> list[Finding]:
    given = frame[column] != ""
    dup = frame[column].duplicated(keep=False) & given
    out = []
    if dup.any():
        out.append(
            error(
                path,
                f"{what[0]}重复：{_examples(frame.loc[dup, column])}",
                f"{what[1]} repeats: {_examples(frame.loc[dup, column])}",
                "每个编码只能出现一次；删除或合并重复的行",
                "each code may appear once only; remove or merge the repeated rows",
                column=column,
                lines=_lines(dup),
            )
        )
    if (~given).any():
        out.append(
            error(
                path,
                f"{what[0]}为空",
                f"{what[1]} is empty",
                "每行都需要编码；补上或删除这些行",
                "every row needs its code; fill it in or remove the rows",
                column=column,
                lines=_lines(~given),
            )
        )
    return out


def _pattern(path: str, frame: pd.DataFrame, column: str, regex: str, zh: str, en: str) -> list[Finding]:
    values = frame[column]
    bad = (values != "") & ~values.str.fullmatch(regex.strip("^$")).fillna(False)
    if not bad.any():
        return []
    return [
        error(
            path,
            f"{column} 不是{zh}：{_examples(values[bad])}",
            f"{column} is not {en}: {_examples(values[bad])}",
            "改为正确的编码（或检查 columns 映射是否把别的列映射到了这里）",
            "write the right code (or check that `columns:` maps the right header to it)",
            column=column,
            lines=_lines(bad),
        )
    ]


def numberless_findings(path: str, frame: pd.DataFrame) -> list[Finding]:
    """The library would bind nothing below the road: rows whose house_number, building and room carry no
    number after normalisation (an error above :data:`MAX_NUMBERLESS_ROWS`), and columns with many such values."""
    out: list[Finding] = []
    has_number = pd.Series(False, index=frame.index)
    for column in NUMBERED:
        text = canonical_address_text(frame[column].astype("string")).fillna("")
        numbered = text.str.contains(r"\d", regex=True)
        if column == "building":  # a letter building (A座, 甲栋) binds as well
            numbered |= text.str.fullmatch(r"[A-Za-z甲乙丙丁戊己庚辛]栋?").fillna(False)
        has_number |= numbered
        given = frame[column] != ""
        bad = given & ~numbered
        if given.sum() and bad.sum() / given.sum() > MAX_NUMBERLESS_VALUES:
            out.append(
                warning(
                    path,
                    f"{column} 有 {int(bad.sum()):,}/{int(given.sum()):,} 个值规范化后不含数字"
                    f"（如 {_examples(frame.loc[bad, column])}），这些地址无法匹配到此层级",
                    f"{int(bad.sum()):,} of {int(given.sum()):,} {column} values carry no number after "
                    f"normalisation (e.g. {_examples(frame.loc[bad, column])}); they cannot be matched at this level",
                    "写成 7、7号、1栋、501室 这样的形式，见 docs/reference-data.md",
                    "write them as 7, 7号, 1栋, 501室; see docs/reference-data.md",
                    column=column,
                    lines=_lines(bad),
                )
            )
    share = float((~has_number).mean()) if len(frame) else 1.0
    if share > MAX_NUMBERLESS_ROWS:
        out.append(
            error(
                path,
                f"{share:.0%} 的地址（{int((~has_number).sum()):,}/{len(frame):,}）门牌号、楼栋、户室都不含数字："
                "此地址库几乎无法绑定任何地址",
                f"{share:.0%} of the addresses ({int((~has_number).sum()):,} of {len(frame):,}) have no number "
                "in house_number, building or room: this library would bind almost nothing",
                "检查 columns 映射（门牌号、楼栋、户室是否映射到了正确的列），并按 docs/reference-data.md 的格式填写",
                "check the `columns:` mapping (house number, building, room to the right headers) and the forms in "
                "docs/reference-data.md",
                column=", ".join(NUMBERED),
                lines=_lines(~has_number),
            )
        )
    return out


def matcher_findings(path: str, frame: pd.DataFrame) -> list[Finding]:
    """What the address matcher itself finds wrong with the library once it has normalised it
    (:func:`matching.address.library_problems`): element columns that do not look like their element, codes
    that are not community codes, nothing to bind below a community. Warnings: the errors that stop a run are
    the checks above."""
    from matching.address import AddressLibrary, library_problems

    if frame.empty or (frame["division_code"] == "").any():
        return []  # reported above; the matcher cannot even read such a library
    problems = library_problems(AddressLibrary.from_frames(frame))
    return [
        warning(
            path,
            f"地址匹配器发现：{p}",
            f"the address matcher finds: {p}",
            "按 docs/reference-data.md 的格式填写此列，或检查 columns 映射",
            "write the column in the forms of docs/reference-data.md, or check the `columns:` mapping",
        )
        for p in problems
    ]


def address_findings(path: str, frame: pd.DataFrame) -> list[Finding]:
    """The library on its own: codes, division codes, numbers, coordinates."""
    out = _duplicates(path, frame, "address_code", ("地址编码", "address_code"))
    out += _pattern(
        path, frame, "division_code", DIVISION_CODE_PATTERN, "12 位社区/村代码", "a 12-digit community code"
    )
    empty_div = frame["division_code"] == ""
    if empty_div.any():
        out.append(
            error(
                path,
                "division_code（社区/村代码）为空",
                "division_code (the community / village code) is empty",
                "填写地址所在社区/村的 12 位代码（没有此列时取自 grid_code 的前 12 位，需 grid_code 至少 15 位）",
                "fill in the 12-digit code of the address's community or village (without the column it is taken "
                "from the first 12 digits of a grid_code of 15 digits or more)",
                column="division_code",
                lines=_lines(empty_div),
            )
        )
    out += numberless_findings(path, frame)
    for c in ("lon", "lat"):
        given = frame[c] != ""
        bad = given & pd.to_numeric(frame[c], errors="coerce").isna()
        if bad.any():
            out.append(
                warning(
                    path,
                    f"{c} 不是数字：{_examples(frame.loc[bad, c])}",
                    f"{c} is not a number: {_examples(frame.loc[bad, c])}",
                    "写成十进制度数（如 112.0445），或留空",
                    "write decimal degrees (e.g. 112.0445), or leave it empty",
                    column=c,
                    lines=_lines(bad),
                )
            )
    return out


def _address_grids(path: str, addresses: pd.DataFrame, grids: pd.DataFrame) -> list[Finding]:
    out = []
    no_grid = addresses["grid_code"] == ""
    if no_grid.any():
        out.append(
            warning(
                path,
                "地址没有 grid_code：绑定到这些地址的记录不会入格",
                "addresses without a grid_code: records bound to them get no grid",
                "填写地址所在的网格编码",
                "fill in the grid the address lies in",
                column="grid_code",
                lines=_lines(no_grid),
            )
        )
    unknown = ~no_grid & ~addresses["grid_code"].isin(grids["grid_code"])
    if unknown.any():
        out.append(
            error(
                path,
                f"grid_code 在网格文件中不存在：{_examples(addresses.loc[unknown, 'grid_code'])}",
                f"grid_code not in the grids file: {_examples(addresses.loc[unknown, 'grid_code'])}",
                "把这些网格加入网格文件，或改正地址的网格编码",
                "add these grids to the grids file, or correct the addresses' grid codes",
                column="grid_code",
                lines=_lines(unknown),
            )
        )
    return out


def grid_findings(path: str, frame: pd.DataFrame, width: int) -> list[Finding]:
    """The grids on their own: codes and their width, names, types, polygons, parents."""
    out = _duplicates(path, frame, "grid_code", ("网格编码", "grid_code"))
    codes = frame["grid_code"]
    bad_width = (codes != "") & ~codes.str.fullmatch(grid_code_regex(width).strip("^$")).fillna(False)
    if bad_width.any():
        common = codes[codes != ""].str.len().value_counts().sort_index().idxmax()
        out.append(
            error(
                path,
                f"网格编码不是 {width} 位（微网格 {width + 3} 位）数字：{_examples(codes[bad_width])}",
                f"grid codes are not {width} digits ({width + 3} for micro grids): {_examples(codes[bad_width])}",
                f"如果你的网格编码是 {common} 位，在 gridhub.yaml 中设置 reference.grid_code_width: {common}",
                f"if your grid codes have {common} digits, set reference.grid_code_width: {common} in gridhub.yaml",
                column="grid_code",
                lines=_lines(bad_width),
            )
        )
    no_name = frame["name"] == ""
    if no_name.any():
        out.append(
            error(
                path,
                "网格名称为空",
                "the grid name is empty",
                "填写网格名称",
                "fill in the grid's name",
                column="name",
                lines=_lines(no_name),
            )
        )
    bad_type = ~frame["grid_type"].isin(GRID_TYPES)
    if bad_type.any():
        out.append(
            error(
                path,
                f"grid_type 不是 {list(GRID_TYPES)} 之一：{_examples(frame.loc[bad_type, 'grid_type'])}",
                f"grid_type is not one of {list(GRID_TYPES)}: {_examples(frame.loc[bad_type, 'grid_type'])}",
                "改写为 基础网格 / 微网格 / 专属网格（也接受 基础 / 微 / 专属 / basic / micro）",
                "write 基础网格 / 微网格 / 专属网格 (基础 / 微 / 专属 / basic / micro are accepted too)",
                column="grid_type",
                lines=_lines(bad_type),
            )
        )
    out += _polygons(path, frame)
    out += _pattern(
        path, frame, "community_code", DIVISION_CODE_PATTERN, "12 位社区/村代码", "a 12-digit community code"
    )
    parent = frame["parent_grid_code"]
    orphan = (parent != "") & ~parent.isin(codes)
    if orphan.any():
        out.append(
            error(
                path,
                f"parent_grid_code 不是本文件中的网格：{_examples(parent[orphan])}",
                f"parent_grid_code is no grid of this file: {_examples(parent[orphan])}",
                "微网格的上级必须是本文件中的基础网格",
                "a micro grid's parent must be a basic grid of this file",
                column="parent_grid_code",
                lines=_lines(orphan),
            )
        )
    return out


def _polygons(path: str, frame: pd.DataFrame) -> list[Finding]:
    geoms = shapely.from_wkt(frame["wkt"].replace("", None).to_numpy(dtype=object), on_invalid="ignore")
    types = shapely.get_type_id(geoms)
    polygon = np.isin(types, (3, 6)) & ~shapely.is_empty(geoms)
    bad = ~polygon
    if not bad.any():
        return []
    return [
        error(
            path,
            "wkt 不是有效的多边形（POLYGON / MULTIPOLYGON，WKT 格式，经纬度）",
            "wkt is not a valid polygon (POLYGON / MULTIPOLYGON in WKT, lon/lat)",
            "导出网格边界为 WKT，例如 POLYGON ((112.04 22.91, 112.05 22.91, 112.05 22.92, 112.04 22.91))",
            "export the grid boundary as WKT, e.g. POLYGON ((112.04 22.91, 112.05 22.91, 112.05 22.92, 112.04 22.91))",
            column="wkt",
            lines=_lines(bad),
        )
    ]


def division_findings(path: str, frame: pd.DataFrame) -> list[Finding]:
    """The divisions on their own: unique codes, known levels."""
    out = _duplicates(path, frame, "code", ("区划代码", "division code"))
    bad = ~frame["level"].isin(LEVELS)
    if bad.any():
        out.append(
            error(
                path,
                f"level 不是 {list(LEVELS)} 之一：{_examples(frame.loc[bad, 'level'])}",
                f"level is not one of {list(LEVELS)}: {_examples(frame.loc[bad, 'level'])}",
                "改写为 province/city/district/street/community（也接受 省/市/区/县/街道/镇/乡/社区/村）",
                "write province/city/district/street/community (省/市/区/县/街道/镇/乡/社区/村 are accepted too)",
                column="level",
                lines=_lines(bad),
            )
        )
    return out


__all__ = [
    "MAX_NUMBERLESS_ROWS",
    "MAX_NUMBERLESS_VALUES",
    "address_findings",
    "division_findings",
    "grid_findings",
    "matcher_findings",
    "numberless_findings",
    "reference_findings",
]
