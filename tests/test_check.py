"""`gridhub check`: what it reports on gridhub.yaml, the reference data and landed files; `gridhub run` refusing."""

from __future__ import annotations

import pytest

from gridhub import pipeline
from gridhub.check import check_workspace, require_usable_reference
from gridhub.cli import main
from gridhub.reference import ReferenceDataError
from gridhub.workspace import Workspace
from matching.reference import read_reference_csv


def rewrite(path, change):
    change(read_reference_csv(path)).to_csv(path, index=False)


def findings(root, **kw):
    report = check_workspace(Workspace(root), **kw)
    return report, [f.message for f in report.errors], [f.message for f in report.warnings]


def test_sample_district_checks_clean(workspace_copy, capsys):
    report, errors, _ = findings(workspace_copy)
    assert errors == [] and report.ok
    assert main(["--workspace", str(workspace_copy), "check"]) == 0
    out = capsys.readouterr().out
    assert "通过 / passed: 0 个错误 / errors" in out
    assert "landing/gongan_population" in out  # the landed files were parsed too


def numberless(f):
    f["house_number"] = "甲"
    f["building"] = ""
    f["room"] = ""
    return f


def test_library_with_no_numbers_is_an_error_and_the_run_refuses(workspace_copy, capsys):
    rewrite(workspace_copy / "reference/standard_addresses.csv", numberless)
    report, errors, _ = findings(workspace_copy, feeds=False)
    assert any("would bind almost nothing" in e and "100%" in e for e in errors)
    numberless_finding = next(f for f in report.errors if "bind almost nothing" in f.en)
    assert numberless_finding.lines[:2] == (2, 3) and "house_number" in numberless_finding.column
    assert main(["--workspace", str(workspace_copy), "check", "--no-feeds"]) == 1
    with pytest.raises(ReferenceDataError, match="would bind almost nothing"):
        pipeline.prepare_mentions(Workspace(workspace_copy), "run-x")
    assert main(["--workspace", str(workspace_copy), "run"]) == 2
    err = capsys.readouterr().err
    assert "would bind almost nothing" in err and "Traceback" not in err


def test_unmapped_grid_headers_are_reported_and_the_run_refuses(workspace_copy, capsys):
    rewrite(
        workspace_copy / "reference/grids.csv",
        lambda f: f.rename(columns={"name": "grid_name", "grid_type": "level"}),
    )
    report, errors, _ = findings(workspace_copy, feeds=False)
    missing = next(f for f in report.errors if "required columns" in f.en)
    assert "['name', 'grid_type']" in missing.en and "grid_name" in missing.en and "level" in missing.en
    assert "columns: {grid_name: name, level: grid_type}" in missing.fix_en
    assert main(["--workspace", str(workspace_copy), "run"]) == 2
    err = capsys.readouterr().err
    assert "reference.grids" in err and "grid_name: name" in err and "Traceback" not in err


def test_library_lacking_only_optional_columns_checks_clean(workspace_copy):
    rewrite(
        workspace_copy / "reference/standard_addresses.csv",
        lambda f: f.drop(
            columns=["division_code", "villager_group", "estate", "floor", "standard_text", "building_code"]
        ),
    )
    _, errors, _ = findings(workspace_copy, feeds=False)
    assert errors == []
    require_usable_reference(Workspace(workspace_copy))


def _dup_address(f):
    f.loc[5, "address_code"] = f.loc[4, "address_code"]
    return f


def _bad_wkt(f):
    f.loc[1, "wkt"] = "POINT (112 22)"
    f.loc[2, "wkt"] = "POLYGON ((112 22, 113"
    return f


def _unknown_grid(f):
    f.loc[0, "grid_code"] = "445399999999001"
    return f


@pytest.mark.parametrize(
    "file, change, expected, lines",
    [
        ("standard_addresses.csv", _dup_address, "address_code repeats", (6, 7)),
        ("grids.csv", _bad_wkt, "wkt is not a valid polygon", (3, 4)),
        ("standard_addresses.csv", _unknown_grid, "grid_code not in the grids file", (2,)),
        (
            "grids.csv",
            lambda f: f.assign(grid_code=f["grid_code"] + "0"),
            "grid codes are not 15 digits",
            None,
        ),
        ("grids.csv", lambda f: f.assign(grid_type="网格"), "grid_type is not one of", None),
        (
            "standard_addresses.csv",
            lambda f: f.assign(division_code="4453"),
            "not a 12-digit community code",
            None,
        ),
    ],
)
def test_reference_problems_name_file_column_and_lines(workspace_copy, file, change, expected, lines):
    rewrite(workspace_copy / "reference" / file, change)
    report = check_workspace(Workspace(workspace_copy), feeds=False)
    hit = [f for f in report.errors if expected in f.en]
    assert hit, [f.en for f in report.errors]
    assert hit[0].file.endswith(file) and hit[0].column and hit[0].fix_en
    if lines:
        assert hit[0].lines[: len(lines)] == lines


def test_grid_width_finding_suggests_the_width_of_the_codes(workspace_copy):
    rewrite(workspace_copy / "reference/grids.csv", lambda f: f.assign(grid_code=f["grid_code"].str[:12]))
    report = check_workspace(Workspace(workspace_copy), feeds=False)
    width = next(f for f in report.errors if "grid codes are not" in f.en)
    assert "reference.grid_code_width: 12" in width.fix_en


def test_missing_library_file_and_wrong_mapping_header_are_reported(workspace_copy):
    (workspace_copy / "reference/standard_addresses.csv").unlink()
    (workspace_copy / "gridhub.yaml").write_text(
        (workspace_copy / "gridhub.yaml")
        .read_text(encoding="utf-8")
        .replace("grids: reference/grids.csv", "grids: {path: reference/grids.csv, columns: {网格名: name}}"),
        encoding="utf-8",
    )
    _, errors, _ = findings(workspace_copy, feeds=False)
    assert any("no standard address library here" in e for e in errors)
    assert any("names the header '网格名', which the file lacks" in e for e in errors)


def test_invalid_config_is_one_error_and_stops_the_check(workspace_copy, capsys):
    path = workspace_copy / "gridhub.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("district_code:", "district_cod:"), encoding="utf-8"
    )
    report, errors, _ = findings(workspace_copy)
    assert len(errors) == 1 and "district_code" in errors[0]
    assert main(["--workspace", str(workspace_copy), "check"]) == 1


def test_landed_file_with_a_missing_header_is_an_error(workspace_copy):
    ws = Workspace(workspace_copy)
    landed = sorted(ws.landing_dir("shichang_orgs").glob("*.csv"))[0]
    feed = ws.config.feed("shichang_orgs")
    raw = landed.read_bytes()
    header = feed.record_id
    for enc in ("utf-8", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    landed.write_bytes(text.replace(header, "编号X", 1).encode(enc))
    report = check_workspace(ws)
    hit = [f for f in report.errors if f.file == str(landed)]
    assert hit and header in hit[0].zh


def test_district_code_outside_the_library_is_a_warning(workspace_copy):
    path = workspace_copy / "gridhub.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("district_code: '445399'", "district_code: '110101'"), encoding="utf-8")
    report, errors, warnings = findings(workspace_copy, feeds=False)
    assert report.ok and any("no division_code of the address library begins with" in w for w in warnings)


def test_library_without_city_and_district_names_is_a_warning(workspace_copy):
    """Without them a department's 云江市青石区滨江路… reads as outside the library: say so before a run."""
    library = workspace_copy / "reference" / "standard_addresses.csv"

    def drop_names(f):
        return f.drop(columns=[c for c in ("province", "city", "district") if c in f.columns])

    rewrite(library, drop_names)
    report, _, warnings = findings(workspace_copy, feeds=False)
    assert not any("no city / district names" in w for w in warnings)  # the divisions file names them
    (workspace_copy / "reference" / "divisions.csv").unlink()
    report, errors, warnings = findings(workspace_copy, feeds=False)
    assert report.ok and any("no city / district names" in w for w in warnings)
