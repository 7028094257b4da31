"""Benchmark: parsing + matching free-text addresses against the standard address library.

Builds a sample-district library (``gridhub.sample.district.build_district``), writes ``--distinct`` noisy
address texts the way departments key them (``gridhub.sample.noise.address``: dropped upper levels,
abbreviations, Chinese numerals, 幢/号楼/座, room forms, 繁体, full-width, spaces) plus migrants' 户籍
addresses outside the district, and draws ``--addresses`` rows from them (feeds repeat addresses: a household
shares one, departments share residents). Then it times, in this process:

- ``parse_addresses`` alone (the vectorised parse, no library);
- ``match_addresses`` (canonical text, parse, place reading, block joins, candidates) — the figure that counts;
- for comparison, a naive matcher on a small slice: one ``rapidfuzz.process.extractOne`` per row over all
  standard texts, as one would write it first.

and prints a table with addresses/second, peak RSS, the tracemalloc peak of a 100,000-row match, and the
share matched. Run: ``.venv/bin/python bench/address.py [--addresses 1000000]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridhub.sample import names as N  # noqa: E402
from gridhub.sample import noise  # noqa: E402
from gridhub.sample.district import build_district  # noqa: E402
from matching.address import AddressLibrary, match_addresses, parse_addresses  # noqa: E402
from matching.reference import ADDRESS_LIBRARY_COLUMNS  # noqa: E402


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def noisy_texts(addresses: pd.DataFrame, n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` address texts as departments key them, with the true address code ('' for outside ones)."""
    rng = np.random.default_rng(seed)
    d = noise.Draws(rng)
    rows = addresses.to_dict("records")
    pick = rng.integers(0, len(rows), size=n)
    profiles = (noise.POLICE, noise.DEPARTMENT, noise.MARKET)
    texts, codes = [], []
    for i in pick:
        a = rows[int(i)]
        if d.hit(0.04):  # a migrant's 户籍: outside the library
            code, province, city, county, towns = N.HOMETOWNS[d.integer(0, len(N.HOMETOWNS))]
            village = d.pick(N.HOMETOWN_VILLAGE_PARTS) + d.pick(N.HOMETOWN_VILLAGE_PARTS) + "村"
            text = f"{province}{city}{county}{d.pick(towns)}{village}{d.integer(1, 12)}组{d.integer(1, 80)}号"
            if d.hit(0.3):
                text = text.removeprefix(province)
            texts.append(text)
            codes.append("")
            continue
        text, _ = noise.address(d, a, d.pick(profiles))
        texts.append(text)
        codes.append(a["address_code"])
    return texts, codes


def naive_match(standard: pd.Series, codes: pd.Series, texts: list[str]) -> list[str | None]:
    """The first thing one writes: best fuzzy match of each text over every standard text, row by row."""
    from rapidfuzz import fuzz, process

    choices = standard.tolist()
    out = []
    for t in texts:
        hit = process.extractOne(t, choices, scorer=fuzz.WRatio, score_cutoff=90)
        out.append(codes.iloc[hit[2]] if hit else None)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addresses", type=int, default=1_000_000, help="rows to parse and match")
    ap.add_argument("--distinct", type=int, default=300_000, help="distinct noisy texts they are drawn from")
    ap.add_argument("--homes", type=int, default=150_000, help="homes in the library (rooms + rural houses)")
    ap.add_argument("--naive", type=int, default=100, help="rows for the naive per-row rapidfuzz peer")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    district = build_district(
        np.random.default_rng(args.seed), homes=args.homes, organisations=args.homes // 40
    )
    lib_frame = district.addresses
    texts, truth = noisy_texts(lib_frame, args.distinct, args.seed + 1)
    rng = np.random.default_rng(args.seed + 2)
    draw = rng.integers(0, len(texts), size=args.addresses)
    series = pd.Series(np.asarray(texts, dtype=object)[draw], dtype="string")
    true_codes = pd.Series(np.asarray(truth, dtype=object)[draw])
    setup = time.perf_counter() - t0
    print(
        f"setup {setup:.1f}s: library {len(lib_frame):,} addresses, {args.distinct:,} distinct texts, "
        f"{args.addresses:,} rows, {series.nunique():,} distinct in the rows"
    )

    t = time.perf_counter()
    library = AddressLibrary.from_frames(
        lib_frame[list(ADDRESS_LIBRARY_COLUMNS)],
        district.divisions,
    )
    load_s = time.perf_counter() - t
    gc.collect()
    rss_before = rss_mb()

    t = time.perf_counter()
    parse_addresses(series)
    parse_s = time.perf_counter() - t

    t = time.perf_counter()
    result = match_addresses(library, series)
    match_s = time.perf_counter() - t
    rss_peak = rss_mb()

    inside = true_codes != ""
    building_of = dict(zip(lib_frame["address_code"], lib_frame["building_code"], strict=True))
    matched = (result["status"] == "matched").to_numpy()
    inside = inside.to_numpy()
    got = result["building_code"].fillna("").to_numpy(dtype=object)
    right = matched & inside & (got == true_codes.map(building_of).fillna("-").to_numpy(dtype=object))
    wrong = matched & ~right

    small = series.iloc[:100_000]
    tracemalloc.start()
    match_addresses(library, small)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    naive_rows = [str(x) for x in series.iloc[: args.naive]]
    t = time.perf_counter()
    naive = naive_match(lib_frame["standard_text"], lib_frame["address_code"], naive_rows)
    naive_s = time.perf_counter() - t
    naive_right = sum(
        1
        for g, want in zip(naive, true_codes.iloc[: args.naive], strict=True)
        if g is not None and want and building_of.get(g) == building_of.get(want)
    )

    n = args.addresses
    rate = n / match_s
    rows = [
        ("library index (once)", f"{len(lib_frame):,} rows", f"{load_s:.2f}", "", ""),
        ("parse_addresses (peer: parse only)", f"{n:,}", f"{parse_s:.2f}", f"{n / parse_s:,.0f}", ""),
        ("match_addresses (parse + match)", f"{n:,}", f"{match_s:.2f}", f"{rate:,.0f}", "1.0"),
        (
            "naive rapidfuzz extractOne per row",
            f"{args.naive:,}",
            f"{naive_s:.2f}",
            f"{args.naive / naive_s:,.1f}",
            f"{(args.naive / naive_s) / rate:.5f}",
        ),
    ]
    print()
    print(f"{'step':<38}{'rows':>14}{'seconds':>10}{'rows/s':>12}{'vs match':>10}")
    for r in rows:
        print(f"{r[0]:<38}{r[1]:>14}{r[2]:>10}{r[3]:>12}{r[4]:>10}")
    print()
    print(
        f"peak RSS {rss_peak:,.0f} MB (before matching {rss_before:,.0f} MB); "
        f"tracemalloc peak of a 100,000-row match {traced_peak / 2**20:,.0f} MB (Python objects only)"
    )
    print(
        f"matched {matched.mean():.2%}; right building among inside rows {right.sum() / inside.sum():.2%}; "
        f"wrong confident {wrong.sum() / n:.3%}; outside rows bound {(matched & ~inside).sum():,}; "
        f"naive right {naive_right / max(1, int((true_codes.iloc[: args.naive] != '').sum())):.1%}"
    )
    print(f"goal 20,000 addresses/s: {'met' if rate >= 20_000 else 'NOT met'} ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
