"""Reference files as configured in gridhub.yaml: paths, column mapping, encoding, optional columns filled."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from gridhub import pipeline
from gridhub.reference import (
    ReferenceDataError,
    address_frame,
    address_library,
    grid_frame,
    grid_index,
)
from gridhub.workspace import Workspace
from matching.reference import ADDRESS_LIBRARY_COLUMNS, GRID_COLUMNS, read_reference_csv

OPTIONAL_DROPPED = [  # issue 13: a library lacking division_code, villager_group, estate, floor, standard_text
    "division_code",
    "province",
    "city",
    "district",
    "street",
    "community",
    "villager_group",
    "estate",
    "floor",
    "standard_text",
    "building_code",
    "lon",
    "lat",
]


def set_reference(root, kind, value):
    path = root / "gridhub.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["reference"][kind] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")


def rewrite(path, change, encoding="utf-8"):
    frame = change(read_reference_csv(path))
    frame.to_csv(path, index=False, encoding=encoding)


def test_library_lacking_optional_columns_loads_with_them_filled(workspace_copy):
    rewrite(workspace_copy / "reference/standard_addresses.csv", lambda f: f.drop(columns=OPTIONAL_DROPPED))
    ws = Workspace(workspace_copy)
    frame = address_frame(ws)
    assert list(frame.columns) == list(ADDRESS_LIBRARY_COLUMNS)
    assert (frame["standard_text"] != "").all()
    assert (frame["division_code"] == frame["grid_code"].str[:12]).all()
    town = frame[frame["room"] != ""].iloc[0]
    assert town["standard_text"].startswith(town["road"] + town["house_number"] + "号")
    assert town["standard_text"].endswith(town["room"] + "室")
    assert (frame["building_code"] != "").all()
    same_building = frame.groupby(["division_code", "road", "house_number", "building"])["building_code"]
    assert (same_building.nunique() == 1).all()
    assert len(address_library(ws)) == len(frame)


def test_library_lacking_a_required_column_names_it_and_the_headers_found(workspace_copy):
    rewrite(
        workspace_copy / "reference/standard_addresses.csv",
        lambda f: f.rename(columns={"house_number": "门牌号"}),
    )
    with pytest.raises(ReferenceDataError) as e:
        address_frame(Workspace(workspace_copy))
    text = str(e.value)
    assert "['house_number']" in text and "门牌号" in text and "reference.addresses" in text
    assert "门牌号: house_number" in text  # the suggested mapping


def test_grids_with_their_own_headers_bind_once_mapped(workspace_copy):
    rewrite(
        workspace_copy / "reference/grids.csv",
        lambda f: f.rename(columns={"name": "grid_name", "grid_type": "level"}),
    )
    ws = Workspace(workspace_copy)
    with pytest.raises(ReferenceDataError, match="grid_name: name, level: grid_type"):
        grid_frame(ws)
    set_reference(
        workspace_copy,
        "grids",
        {"path": "reference/grids.csv", "columns": {"grid_name": "name", "level": "grid_type"}},
    )
    ws = Workspace(workspace_copy)
    frame = grid_frame(ws)
    assert list(frame.columns) == list(GRID_COLUMNS) and (frame["name"] != "").all()
    assert len(grid_index(ws).grids) == len(frame)


def test_grid_and_division_codes_are_derived_when_absent(workspace_copy):
    rewrite(
        workspace_copy / "reference/grids.csv",
        lambda f: f.drop(columns=["community_code", "street_code", "district_code", "parent_grid_code"]),
    )
    frame = grid_frame(Workspace(workspace_copy))
    assert (frame["community_code"] == frame["grid_code"].str[:12]).all()
    assert (frame["district_code"] == frame["grid_code"].str[:6]).all()


def test_gb18030_reference_file_is_read(workspace_copy):
    path = workspace_copy / "reference/grids.csv"
    rewrite(path, lambda f: f, encoding="gb18030")
    assert "基础网格" in set(grid_frame(Workspace(workspace_copy))["grid_type"])
    set_reference(workspace_copy, "grids", {"path": "reference/grids.csv", "encoding": "utf-8"})
    with pytest.raises(ReferenceDataError, match="encoding"):
        grid_frame(Workspace(workspace_copy))


def test_configured_reference_paths_are_what_the_run_reads(workspace_copy, monkeypatch):
    """Files outside reference/, under other names, with the district's own grid headers: the run binds with
    them and builds the grid table from them, and the run id follows their content."""
    from connectors import ingest_feed

    root = workspace_copy
    own = root.parent / "district-data"
    own.mkdir()
    (root / "reference/standard_addresses.csv").rename(own / "标准地址.csv")
    grids = read_reference_csv(root / "reference/grids.csv").rename(
        columns={"name": "grid_name", "grid_type": "level"}
    )
    grids.to_csv(own / "网格.csv", index=False, encoding="gb18030")
    (root / "reference/grids.csv").unlink()
    (root / "reference/divisions.csv").rename(own / "区划.csv")
    set_reference(root, "addresses", str(own / "标准地址.csv"))
    set_reference(
        root, "grids", {"path": str(own / "网格.csv"), "columns": {"grid_name": "name", "level": "grid_type"}}
    )
    set_reference(root, "divisions", {"path": "../district-data/区划.csv"})
    ws = Workspace(root)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    monkeypatch.setenv("GRIDHUB_HMAC_KEY", "test-key")
    result = pipeline.run_all(ws)
    assert result["bind_addresses"]["rate"] > 0.85
    tables = ws.work_dir(result["run_id"]) / "tables"
    grid = pq.read_table(tables / "grid.parquet").to_pandas()
    assert sorted(grid["name"]) == sorted(grids["grid_name"])
    before = pipeline.new_run_id(ws)
    library = read_reference_csv(own / "标准地址.csv")
    library.iloc[:-1].to_csv(own / "标准地址.csv", index=False)
    assert pipeline.new_run_id(Workspace(root)) != before


CITY_HEADERS = {  # a city's own headers for the standard address library → the canonical columns
    "地址编码": "address_code",
    "社区代码": "division_code",
    "省": "province",
    "市": "city",
    "区县": "district",
    "街道乡镇": "street",
    "社区村": "community",
    "街路巷": "road",
    "村民小组": "villager_group",
    "门牌号": "house_number",
    "小区": "estate",
    "楼栋": "building",
    "单元": "unit",
    "楼层": "floor",
    "户室": "room",
    "标准地址": "standard_text",
    "建筑物编码": "building_code",
    "网格编码": "grid_code",
    "经度": "lon",
    "纬度": "lat",
}


def _city_forms(frame):
    """The library as a city writes it: 7号, 1栋, 2单元, 5层, 501室, communities without 社区, GB18030."""
    f = frame.copy()
    for column, suffix in (("house_number", "号"), ("building", "栋"), ("unit", "单元"), ("floor", "层")):
        given = f[column] != ""
        f.loc[given, column] = f.loc[given, column] + suffix
    given = f["room"] != ""
    f.loc[given, "room"] = f.loc[given, "room"] + "室"
    f["community"] = f["community"].str.replace(r"社区$", "", regex=True)
    return f.rename(columns={v: k for k, v in CITY_HEADERS.items()})


def _cells(path) -> pd.Series:
    """Every cell of a sample feed's CSV (UTF-8 or GB18030; ragged rows skipped)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="skip")
    return frame.stack()


def test_a_library_in_the_citys_own_forms_and_headers_binds_like_the_canonical_one(workspace_copy):
    """Issue 13: a library written 7号 / 1栋 / 2单元 / 501室 under the city's own headers, mapped in
    gridhub.yaml, binds every address text of the sample's feeds exactly as the canonical library does."""
    from matching.address import match_addresses

    ws = Workspace(workspace_copy)
    canonical = address_library(ws)
    texts = pd.concat(
        [_cells(f) for f in sorted((workspace_copy / "landing").glob("*/*.csv"))], ignore_index=True
    )
    texts = pd.Series(sorted({t for t in texts if ("路" in t or "组" in t) and "号" in t}), dtype="string")
    assert len(texts) > 500

    library_path = workspace_copy / "reference" / "standard_addresses.csv"
    city_path = workspace_copy / "city" / "地址库.csv"
    city_path.parent.mkdir()
    _city_forms(read_reference_csv(library_path)).to_csv(city_path, index=False, encoding="gb18030")
    library_path.unlink()
    set_reference(
        workspace_copy,
        "addresses",
        {"path": "city/地址库.csv", "columns": CITY_HEADERS, "encoding": "gb18030"},
    )
    city = address_library(Workspace(workspace_copy))

    want = match_addresses(canonical, texts)
    got = match_addresses(city, texts)
    assert (want["status"] == "matched").mean() > 0.5
    for column in ("address_code", "building_code", "grid_code", "level", "status"):
        assert got[column].fillna("").tolist() == want[column].fillna("").tolist(), column


@pytest.mark.parametrize(
    ("written", "read"), [("gbk", "gb18030"), ("GB2312", "gb18030"), ("utf-8-sig", "utf-8")]
)
def test_reference_encoding_takes_the_names_a_feed_takes(written, read):
    """A city writes `encoding: gbk` for its library as for its feeds; it was refused."""
    from gridhub.config import ReferenceFile

    assert ReferenceFile(path="x.csv", encoding=written).encoding == read
    with pytest.raises(ValueError, match="encoding"):
        ReferenceFile(path="x.csv", encoding="latin-1")
