"""Snapshots: the gate blocks bad data, a killed publish never shows, the same inputs give the same bytes."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_tables import replace_column, synthetic_tables

from warehouse import (
    NoSnapshot,
    PrivacyKeyError,
    PublishBlocked,
    PublishError,
    connect,
    current_manifest,
    current_run_id,
    list_snapshots,
    publish,
    read_table,
    sql_views,
)
from warehouse.privacy import key_column
from warehouse.schema import TABLES, arrow_schema
from warehouse.settings import WarehouseSettings

ROOT = Path(__file__).resolve().parents[1]
KEY = b"gridhub-test-key-0123456789abcdef"
SETTINGS = WarehouseSettings(keep_snapshots=3, row_count_drift=0.5)
LINEAGE = {"feeds": ["gongan_hukou"], "raw_files": [{"file": "户籍人口2024.csv", "sha256": "ab" * 32}]}


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(300, seed=5)


def _publish(wh: Path, tables: dict[str, pa.Table], run_id: str, **kw):
    return publish(
        wh,
        tables,
        run_id=run_id,
        lineage=LINEAGE,
        settings=kw.pop("settings", SETTINGS),
        grid_code_width=15,
        hmac_key=kw.pop("hmac_key", KEY),
    )


@pytest.fixture(scope="module")
def published(tables, tmp_path_factory) -> Path:
    """A warehouse with one snapshot ``r1`` current (read-only for tests: copy to change)."""
    wh = tmp_path_factory.mktemp("wh") / "warehouse"
    _publish(wh, tables, "r1")
    return wh


def _sorted(t: pa.Table, name: str) -> pa.Table:
    return t.sort_by([(k, "ascending") for k in TABLES[name].key])


# ---- the happy path ----------------------------------------------------------------------------------------
def test_publish_writes_both_layers_and_a_manifest(published, tables):
    assert current_run_id(published) == "r1"
    m = current_manifest(published)
    assert m["run_id"] == "r1" and m["schema_hash"] and m["validation"]["success"]
    assert m["row_counts"] == {n: t.num_rows for n, t in tables.items()}
    assert m["lineage"]["raw_files"][0]["file"] == "户籍人口2024.csv"
    assert Path(m["data_docs"]).is_file()
    for layer in ("shared", "restricted"):
        for name in TABLES:
            entries = m["tables"][name]["files"][layer]  # one file, or one per street_code folder
            assert sum(e["rows"] for e in entries) == tables[name].num_rows
            for entry in entries:
                path = published / layer / "snapshots" / "r1" / entry["path"]
                import hashlib

                assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    # restricted holds the canonical table (sorted by key) plus the keyed hashes
    person = read_table(published, "person", layer="restricted")
    expected = _sorted(tables["person"], "person")
    assert person.drop_columns([key_column("id_number"), key_column("phone")]).equals(
        expected.cast(person.drop_columns([key_column("id_number"), key_column("phone")]).schema)
    )
    shared = read_table(published, "person")
    assert shared.column("person_id").equals(person.column("person_id"))
    assert shared.column("id_number_key").equals(person.column("id_number_key"))
    assert all(v[3:14] == "*" * 11 for v in shared.column("id_number").to_pylist())


def test_reading_is_one_line_with_pyarrow_duckdb_and_pandas(published, tables):
    n = tables["person"].num_rows
    assert pq.read_table(published / "shared" / "current" / "person").num_rows == n  # plain pyarrow
    con = connect(published)
    assert (
        con.execute("SELECT count(*) FROM person JOIN person_house USING (person_id)").fetchall()[0][0] == n
    )
    grids = con.execute(
        "SELECT count(DISTINCT grid_code) FROM person WHERE grid_code NOT IN (SELECT grid_code FROM grid)"
    ).fetchall()[0][0]
    assert grids == 0
    assert "CREATE OR REPLACE VIEW person" in sql_views(published)
    assert read_table(published, "grid").to_pandas()["name"].str.startswith("天河網格").all()


def test_nothing_published_yet(tmp_path):
    assert current_manifest(tmp_path) is None and current_run_id(tmp_path) is None
    with pytest.raises(NoSnapshot):
        read_table(tmp_path, "person")


def test_same_inputs_give_identical_files_and_ids(published, tables, tmp_path):
    wh = tmp_path / "warehouse"
    shuffled = {n: t.take(pa.array(list(reversed(range(t.num_rows))), pa.int64())) for n, t in tables.items()}
    a = _publish(wh, tables, "a")
    b = _publish(wh, shuffled, "b")  # row order of the input does not matter
    assert a.manifest["content_sha256"] == b.manifest["content_sha256"]
    for name in TABLES:
        for layer in ("shared", "restricted"):
            assert a.manifest["tables"][name]["files"][layer] == b.manifest["tables"][name]["files"][layer]
    # and the same as another warehouse published from the same tables
    assert a.manifest["content_sha256"] == current_manifest(published)["content_sha256"]
    again = _publish(wh, tables, "b")
    assert again.reused and current_run_id(wh) == "b"


def test_a_run_id_cannot_be_reused_for_other_content(tables, tmp_path):
    wh = tmp_path / "warehouse"
    _publish(wh, tables, "r1")
    other = dict(tables)
    other["facility"] = tables["facility"].slice(1)
    with pytest.raises(PublishError, match="different content"):
        _publish(wh, other, "r1")
    assert current_run_id(wh) == "r1"


def test_an_unpublished_snapshot_of_the_run_id_is_replaced(tables, tmp_path):
    """A publish killed after renaming its snapshot into place but before switching CURRENT leaves a snapshot
    nobody refers to; publishing that run id again (with other bytes) replaces it instead of refusing."""
    wh = tmp_path / "warehouse"
    other = dict(tables)
    other["facility"] = tables["facility"].slice(1)
    _publish(wh, tables, "r1")
    _publish(wh, tables, "r2")  # r1 is no longer current
    again = _publish(wh, other, "r1")
    assert current_run_id(wh) == "r1" and not again.reused
    assert again.manifest["row_counts"]["facility"] == tables["facility"].num_rows - 1
    assert not list((wh / "shared" / "snapshots").glob(".incoming-*"))


@pytest.mark.slow
def test_old_snapshots_are_pruned_but_never_the_current(tables, tmp_path):
    wh = tmp_path / "warehouse"
    for i in range(3):
        _publish(wh, tables, f"r{i}", settings=WarehouseSettings(keep_snapshots=2, keep_days=0))
    assert list_snapshots(wh) == ["r1", "r2"] == list_snapshots(wh, "restricted")
    assert current_run_id(wh) == "r2"
    _publish(
        wh, tables, "r1", settings=WarehouseSettings(keep_snapshots=1, keep_days=0)
    )  # an old id made current again
    assert list_snapshots(wh) == ["r1"] and current_run_id(wh) == "r1"


def test_publish_refuses_an_empty_key_and_unsafe_run_ids(tables, tmp_path):
    with pytest.raises(PrivacyKeyError):
        _publish(tmp_path, tables, "r1", hmac_key=b"")
    with pytest.raises(PublishError, match="path-safe"):
        _publish(tmp_path, tables, "manual__2024-05-01T00:00:00+00:00")
    with pytest.raises(PublishError):
        _publish(tmp_path, tables, "../escape")
    assert current_run_id(tmp_path) is None


# ---- the gate: one failing expectation per kind of table ---------------------------------------------------
def _duplicate_person_key(t):
    person = t["person"]
    ids = person.column("person_id").to_pylist()
    return {**t, "person": replace_column(person, "person_id", [ids[1], *ids[1:]])}


def _duplicate_relation(t):
    ph = t["person_house"]
    return {**t, "person_house": pa.concat_tables([ph, ph.slice(0, 1)])}


def _broken_reference(t):
    person = t["person"]
    houses = person.column("residence_house_id").to_pylist()
    return {**t, "person": replace_column(person, "residence_house_id", ["H999999999999", *houses[1:]])}


def _bad_grid_code(t):
    house = t["house"]
    grids = house.column("grid_code").to_pylist()
    return {
        **t,
        "house": replace_column(house, "grid_code", ["４４０１０６００１００１００１", *grids[1:]]),
    }  # full-width


def _unknown_grid(t):
    fac = t["facility"]
    grids = fac.column("grid_code").to_pylist()
    return {**t, "facility": replace_column(fac, "grid_code", ["440106999999999", *grids[1:]])}


def _bad_credit_code(t):
    org = t["organisation"]
    codes = org.column("credit_code").to_pylist()
    wrong = codes[0][:17] + ("0" if codes[0][17] != "0" else "1")
    return {**t, "organisation": replace_column(org, "credit_code", [wrong, *codes[1:]])}


def _row_count_collapse(t):
    return {**t, "facility": arrow_schema("facility").empty_table()}


FAULTS = [
    (_duplicate_person_key, "person", "expect_column_values_to_be_unique", "person_id"),
    (
        _duplicate_relation,
        "person_house",
        "expect_compound_columns_to_be_unique",
        "person_id, house_id, relation",
    ),
    (_broken_reference, "person", "expect_column_values_to_reference_keys", "residence_house_id"),
    (_bad_grid_code, "house", "expect_column_values_to_match_regex", "grid_code"),
    (_unknown_grid, "facility", "expect_column_values_to_reference_keys", "grid_code"),
    (_bad_credit_code, "organisation", "expect_column_values_to_be_valid_credit_code", "credit_code"),
    (_row_count_collapse, "facility", "expect_table_row_count_to_be_between", None),
]


@pytest.mark.parametrize(
    ("fault", "table", "expectation", "column"), FAULTS, ids=[f[0].__name__ for f in FAULTS]
)
def test_failed_validation_blocks_publish_and_keeps_current(
    published, tables, tmp_path, fault, table, expectation, column
):
    import shutil

    wh = tmp_path / "warehouse"
    shutil.copytree(published, wh, symlinks=True)
    before = current_manifest(wh)
    with pytest.raises(PublishBlocked) as err:
        _publish(wh, fault(tables), "bad")
    message = str(err.value)
    assert f"{table}: {expectation}" in message
    if column:
        assert f"column {column}" in message
    failed = [(r.table, r.expectation) for r in err.value.report.results if not r.success]
    assert (table, expectation) in failed
    assert current_run_id(wh) == "r1" and current_manifest(wh) == before
    assert list_snapshots(wh) == ["r1"] and not (wh / "shared" / "snapshots" / "bad").exists()
    docs = wh / "runs" / "bad" / "data_docs" / "index.html"
    assert docs.is_file() and expectation in docs.read_text(encoding="utf-8") and str(docs) in message


# ---- SIGKILL at every step: readers always see one complete snapshot ---------------------------------------
CRASH_POINTS = [
    "mid_write:shared/person",  # a table file half-written (no Parquet footer)
    "mid_write:restricted/source_xref",
    "data_written",  # all data files, no manifest yet
    "manifest_written",  # manifests written, nothing renamed into place
    "installed:shared",  # one layer renamed into place, the other not
    "before_switch",  # both layers in place, CURRENT not yet replaced
]


def _wait_for_kill(marker: str) -> None:
    Path(marker).write_text("reached", encoding="utf-8")
    while True:  # the test sends SIGKILL
        time.sleep(0.05)


def _is_incoming_file_of(where: object, layer: str, table: str) -> bool:
    """Whether ``where`` is a file of ``table`` in ``<layer>/snapshots/.incoming-*/``."""
    parts = Path(str(where)).parts
    return any(
        parts[i - 1 : i + 1] == (layer, "snapshots")
        and parts[i + 1].startswith(".incoming-")
        and parts[i + 2] == table
        for i in range(1, len(parts) - 2)
    )


def arm_crash(point: str, marker: str) -> None:
    """Make the publish this process runs next stop at ``point``: write ``marker``, then wait for SIGKILL.

    Run in the child process only (it changes ``warehouse.snapshot`` and pyarrow for good). The points are
    the publish stages of :mod:`warehouse.snapshot`: ``mid_write:<layer>/<table>`` (the first row group of that
    table's first file written, no Parquet footer yet), ``data_written`` (after ``write_layers``),
    ``manifest_written`` (after ``write_manifests``), ``installed:<layer>`` (after ``install_layer`` of that
    layer), ``before_switch`` and ``after_switch`` (around ``switch_current``).
    """
    from warehouse import snapshot

    stop = functools.partial(_wait_for_kill, marker)
    if point.startswith("mid_write:"):
        layer, table = point.removeprefix("mid_write:").split("/")

        class CrashingWriter(pq.ParquetWriter):
            def __init__(self, where, *args, **kwargs):
                super().__init__(where, *args, **kwargs)
                self.watched = _is_incoming_file_of(where, layer, table)

            def write_table(self, data, row_group_size=None):
                super().write_table(data, row_group_size=row_group_size)
                if self.watched and data.num_rows:
                    stop()

        pq.ParquetWriter = CrashingWriter  # warehouse.snapshot writes through pq.ParquetWriter
        return
    stage, before, layer = {
        "data_written": ("write_layers", False, None),
        "manifest_written": ("write_manifests", False, None),
        "before_switch": ("switch_current", True, None),
        "after_switch": ("switch_current", False, None),
    }.get(point) or ("install_layer", False, point.removeprefix("installed:"))
    real = getattr(snapshot, stage)

    def crashing(*args, **kwargs):
        if before:
            stop()
        result = real(*args, **kwargs)
        if layer is None or args[2] == layer:  # install_layer(warehouse_dir, run_id, layer, ...)
            stop()
        return result

    setattr(snapshot, stage, crashing)


def _child(wh: str, tables: dict, point: str, marker: str) -> None:
    arm_crash(point, marker)
    _publish(Path(wh), tables, "r2")
    os._exit(0)  # reaching here means the crash point was never hit


def _kill_at(jobs: list[tuple[Path, str]], tables: dict, tmp_path: Path) -> None:
    """Run one publish per (warehouse, point) in forked subprocesses (concurrently, each on its own copy),
    wait until each reaches its point, then SIGKILL it."""
    ctx = multiprocessing.get_context("fork")
    running = []
    for wh, point in jobs:
        marker = wh.parent / "reached"
        proc = ctx.Process(target=_child, args=(str(wh), tables, point, str(marker)))
        proc.start()
        running.append((proc, marker, point))
    deadline = time.monotonic() + 180
    for proc, marker, point in running:
        while not marker.exists():
            assert proc.is_alive(), f"publish ended (exit {proc.exitcode}) before reaching {point}"
            assert time.monotonic() < deadline, f"publish never reached {point}"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL, point


@pytest.fixture(scope="module")
def changed(tables) -> dict[str, pa.Table]:
    """Different (valid) content for the second publish: one facility fewer."""
    return {**tables, "facility": tables["facility"].slice(1)}


@pytest.mark.slow
def test_a_killed_publish_leaves_the_previous_snapshot_current(published, tables, changed, tmp_path):
    import shutil

    jobs = []
    for point in CRASH_POINTS:
        wh = tmp_path / point.replace("/", "_").replace(":", "_") / "warehouse"
        shutil.copytree(published, wh, symlinks=True)
        jobs.append((wh, point))
    before = current_manifest(published)
    _kill_at(jobs, changed, tmp_path)
    for wh, point in jobs:
        assert current_run_id(wh) == "r1", point
        assert current_manifest(wh) == before, point
        for name in ("person", "facility", "source_xref"):
            for layer in ("shared", "restricted"):
                got = read_table(wh, name, layer=layer)
                assert got.equals(read_table(published, name, layer=layer)), (point, name, layer)
        assert pq.read_table(wh / "shared" / "current" / "facility").num_rows == tables["facility"].num_rows
    # the next publish cleans up what the killed one left and succeeds
    for wh, point in (jobs[0], jobs[4]):
        assert any(p.name.startswith(".incoming-") for p in (wh / "restricted" / "snapshots").iterdir()), (
            point
        )
        snap = _publish(wh, changed, "r2")
        assert (
            current_run_id(wh) == "r2" and read_table(wh, "facility").num_rows == changed["facility"].num_rows
        )
        for layer in ("shared", "restricted"):
            assert not [p for p in (wh / layer / "snapshots").iterdir() if p.name.startswith(".")], point
        assert snap.manifest["row_counts"]["facility"] == changed["facility"].num_rows


@pytest.mark.slow
def test_killed_after_the_switch_the_new_snapshot_is_complete(published, changed, tmp_path):
    import shutil

    wh = tmp_path / "warehouse"
    shutil.copytree(published, wh, symlinks=True)
    _kill_at([(wh, "after_switch")], changed, tmp_path)
    assert current_run_id(wh) == "r2"
    assert read_table(wh, "facility").num_rows == changed["facility"].num_rows
    assert current_manifest(wh)["run_id"] == "r2"


@pytest.mark.slow
def test_sigkill_of_a_fresh_interpreter_mid_write(published, changed, tmp_path):
    """The same guarantee without fork: a separate ``python -c`` process killed while writing a table."""
    import shutil

    wh = tmp_path / "warehouse"
    shutil.copytree(published, wh, symlinks=True)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, t in changed.items():
        pq.write_table(t, inputs / f"{name}.parquet")
    marker = tmp_path / "reached"
    code = (
        "import sys, pyarrow.parquet as pq; from pathlib import Path; from warehouse.settings import WarehouseSettings;"
        "from warehouse import publish; from warehouse.schema import TABLES;"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r}); from test_warehouse_publish import arm_crash;"
        f"arm_crash('mid_write:restricted/person', {str(marker)!r});"
        f"t = {{n: pq.read_table(Path({str(inputs)!r}) / f'{{n}}.parquet') for n in TABLES}};"
        f"publish(Path({str(wh)!r}), t, run_id='r2', lineage={{}}, settings=WarehouseSettings(),"
        f" grid_code_width=15, hmac_key={KEY!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, f"publish ended with {proc.returncode} before the crash point"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        incoming = list((wh / "restricted" / "snapshots").glob(".incoming-r2-*/person/**/*.parquet"))
        assert incoming, "the table file is half-written at this point"
        with pytest.raises(pa.ArrowInvalid):
            pq.read_table(incoming[0])  # no footer yet
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert current_run_id(wh) == "r1"
    assert read_table(wh, "person", layer="restricted").equals(
        read_table(published, "person", layer="restricted")
    )
    assert (
        json.loads((wh / "restricted" / "snapshots" / "r1" / "manifest.json").read_text())["run_id"] == "r1"
    )
