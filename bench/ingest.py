"""Ingest throughput and memory: gridhub's CSV connector against a plain ``pandas.read_csv``.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--out bench/out]

Generates (once, deterministically) a GB18030 CSV of ``--rows`` person records shaped like a police export
(Chinese headers and values, 1% of rows with a problem the rules quarantine), then runs, each in its own
subprocess so peak memory (``ru_maxrss``) is that run's alone:

- ``gridhub ingest``: :func:`connectors.ingest_feed` on a fresh workspace: raw copy + SHA-256, encoding
  detection, streaming parse with line numbers, all row rules, staging + quarantine Parquet;
- ``pandas.read_csv``: ``pandas.read_csv(path, encoding="gb18030", dtype=str)``: parse only, whole file in memory,
  no rules, no output.

Prints rows/s and peak memory with the ratios, as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEADER = [
    "记录编号",
    "姓名",
    "性别",
    "公民身份号码",
    "出生日期",
    "民族",
    "联系电话",
    "现住址",
    "建筑面积",
    "是否出租",
    "登记单位",
    "备注",
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐許鄧馮")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬")
ROADS = ["桃源街道", "沙河街道", "粤海街道", "南头街道", "西丽街道", "招商街道", "蛇口街道"]
ETHNIC = ["汉族", "汉族", "汉族", "壮族", "回族", "满族", "苗族"]

FEED_YAML = """
name: bench
district_code: "440305"
feeds:
  - name: bench_population
    department: 公安
    source: {kind: file, glob: "*.csv", encoding: auto}
    entities: [person]
    record_id: 记录编号
    columns: {记录编号: source_record_id, 姓名: name, 性别: sex, 公民身份号码: id_number, 出生日期: birth_date,
              民族: ethnicity, 联系电话: phone, 现住址: address, 建筑面积: house_area, 是否出租: rented}
    value_maps: {sex: {男: M, 女: F}}
    date_formats: ["%Y%m%d", "%Y-%m-%d"]
    required: [name, id_number]
"""


def generate(path: Path, rows: int, seed: int = 20240301) -> Path:
    """Write the benchmark CSV (GB18030) in blocks of 100,000 rows; same bytes for the same rows and seed."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write((",".join(HEADER) + "\r\n").encode("gb18030"))
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            ids = np.char.add("GA", np.char.zfill((np.arange(start, start + n) + 1).astype(str), 10))
            name = np.char.add(
                np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)],
                np.char.add(
                    np.array(GIVEN)[rng.integers(0, len(GIVEN), n)],
                    np.array(GIVEN + [""] * 10)[rng.integers(0, len(GIVEN) + 10, n)],
                ),
            )
            sex = np.where(rng.random(n) < 0.5, "男", "女")
            days = rng.integers(0, 365 * 80, n)
            birth = (np.datetime64("1940-01-01") + days.astype("timedelta64[D]")).astype(str)
            birth_compact = np.char.replace(birth, "-", "")
            idn = np.char.add(
                np.char.add("440305", birth_compact), np.char.zfill(rng.integers(0, 10_000, n).astype(str), 4)
            )
            phone = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))
            addr = np.char.add(
                np.char.add("深圳市南山区", np.array(ROADS)[rng.integers(0, len(ROADS), n)]),
                np.char.add(rng.integers(1, 300, n).astype(str), "号"),
            )
            area = np.round(rng.uniform(20, 200, n), 1).astype(str)
            rented = np.where(rng.random(n) < 0.3, "是", "否")
            unit = np.full(n, "南山分局桃源派出所")
            note = np.where(rng.random(n) < 0.05, '"多行\n备注"', "")
            bad = rng.random(n) < 0.01
            birth_compact = np.where(bad & (rng.random(n) < 0.5), "20230230", birth_compact)
            sex = np.where(bad & (rng.random(n) >= 0.5), "未知", sex)
            cols = [
                ids,
                name,
                sex,
                idn,
                birth_compact,
                np.array(ETHNIC)[rng.integers(0, len(ETHNIC), n)],
                phone,
                addr,
                area,
                rented,
                unit,
                note,
            ]
            lines = cols[0]
            for c in cols[1:]:
                lines = np.char.add(np.char.add(lines, ","), c)
            f.write(("\r\n".join(lines.tolist()) + "\r\n").encode("gb18030"))
    tmp.replace(path)
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu() -> float:
    """CPU seconds of this process so far (steadier than wall time on a shared machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_gridhub(csv_path: Path) -> dict:
    from gridhub.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="gridhub-bench-") as d:
        root = Path(d)
        (root / "gridhub.yaml").write_text(FEED_YAML, encoding="utf-8")
        ws = Workspace.from_env(root).ensure()
        from connectors import ingest_feed

        t, c = time.perf_counter(), _cpu()
        result = ingest_feed(ws, "bench_population", [csv_path])
        seconds, cpu = time.perf_counter() - t, _cpu() - c
        result.check_accounting()
        [f] = result.files
        return {
            "rows": f.rows_read,
            "staged": f.rows_staged,
            "quarantined": f.rows_quarantined,
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": _peak_mb(),
        }


def run_pandas(csv_path: Path) -> dict:
    import pandas as pd

    t, c = time.perf_counter(), _cpu()
    df = pd.read_csv(csv_path, encoding="gb18030", dtype=str)
    seconds, cpu = time.perf_counter() - t, _cpu() - c
    return {"rows": len(df), "seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb()}


def _child(which: str, csv_path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--csv", str(csv_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--child", choices=["gridhub", "pandas"])
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    if args.child:
        res = run_gridhub(args.csv) if args.child == "gridhub" else run_pandas(args.csv)
        sys.stdout.write(json.dumps(res) + "\n")
        return

    csv_path = args.out / f"population_{args.rows}.gb18030.csv"
    if not csv_path.exists():
        t = time.perf_counter()
        generate(csv_path, args.rows)
        sys.stdout.write(f"generated {csv_path} in {time.perf_counter() - t:.1f}s\n")
    size_mb = csv_path.stat().st_size / 2**20
    g = _child("gridhub", csv_path)
    p = _child("pandas", csv_path)
    g_rate, p_rate = g["rows"] / g["seconds"], p["rows"] / p["seconds"]
    lines = [
        f"file: {csv_path.name}, {size_mb:.0f} MiB, {g['rows']:,} rows "
        f"({g['staged']:,} staged, {g['quarantined']:,} quarantined)",
        "",
        "| run | wall s | CPU s | rows/s (wall) | peak memory (MiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| gridhub ingest (raw + rules + staging + quarantine) | {g['seconds']:.1f} | {g['cpu']:.1f} | "
        f"{g_rate:,.0f} | {g['peak_mb']:,.0f} |",
        f"| pandas.read_csv(encoding='gb18030', dtype=str) | {p['seconds']:.1f} | {p['cpu']:.1f} | "
        f"{p_rate:,.0f} | {p['peak_mb']:,.0f} |",
        f"| ratio gridhub / pandas | {g['seconds'] / p['seconds']:.2f}x | {g['cpu'] / p['cpu']:.2f}x | "
        f"{g_rate / p_rate:.2f}x | {g['peak_mb'] / p['peak_mb']:.2f}x |",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
