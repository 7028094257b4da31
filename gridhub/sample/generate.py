"""Write the embedded sample district (云江市青石区示例) as a complete gridhub workspace.

``generate_workspace(out, persons=3000, seed=7)`` writes ``gridhub.yaml``, the 四标 reference data, six
department feeds under ``landing/`` and the ground truth under ``truth/``. Everything is drawn from numpy
Generators seeded from ``seed`` (one independent stream per part, via :class:`numpy.random.SeedSequence`),
never from the clock or ``hash()``: the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gridhub import env
from gridhub.layout import REFERENCE_DIR, TRUTH_DIR, WAREHOUSE_DIR
from gridhub.sample import names as N
from gridhub.sample.contacts import assign_contact_phones
from gridhub.sample.departments import build_feeds
from gridhub.sample.district import District, build_district
from gridhub.sample.errors import SampleError
from gridhub.sample.feed_specs import SPECS
from gridhub.sample.feeds import FeedBuilder, write_feed, write_truth_files
from gridhub.sample.persons import make_persons
from gridhub.sample.population import (
    Population,
    assign_employers,
    make_facilities,
    make_houses,
    make_organisations,
    make_outside_representatives,
    rep_kind,
)
from gridhub.sample.spool import release_memory
from gridhub.workspace import Workspace
from matching.reference import (
    ADDRESS_LIBRARY_COLUMNS,
    ADDRESSES_FILE,
    DIVISIONS_FILE,
    GRID_COLUMNS,
    GRIDS_FILE,
)
from warehouse.progress import progress

log = logging.getLogger(__name__)

WORKSPACE_NAME = "云江市青石区示例"
PERSONS_PER_HOME = 2.4  # with about 2.6 persons per household this leaves some homes empty
PERSONS_PER_ORGANISATION = 25
PERSONS_PER_FACILITY = 15
MIN_ORGANISATIONS = 16
MIN_FACILITIES = 8


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`generate_workspace` wrote: entity counts, rows per feed and where the files are."""

    root: Path
    seed: int
    persons: int
    households: int
    houses: int  # homes, shops and office rooms (实有房屋), the house entities of the truth
    organisations: int
    facilities: int
    addresses: int  # rows of the standard address library
    grids: int  # basic + micro grids
    feed_rows: dict[str, int] = field(default_factory=dict)  # data rows per feed file, malformed included
    quarantine_expected: int = 0
    paths: dict[str, Path] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary as short human-readable lines (for the CLI)."""
        out = [
            f"sample district {WORKSPACE_NAME} (seed {self.seed}) written to {self.root}",
            f"  persons {self.persons}, households {self.households}, houses {self.houses}, "
            f"organisations {self.organisations}, facilities {self.facilities}",
            f"  reference: {self.addresses} standard addresses, {self.grids} grids",
        ]
        out += [f"  feed {name}: {rows} rows" for name, rows in self.feed_rows.items()]
        out.append(f"  {self.quarantine_expected} malformed rows the ingest must quarantine")
        return out


def _write_csv(frame: pd.DataFrame, path: Path, columns: Sequence[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(
        path, index=False, columns=list(columns) if columns else None, encoding="utf-8", lineterminator="\n"
    )
    return path


def workspace_config() -> dict:
    """The sample's gridhub.yaml as a mapping (loads with :func:`gridhub.config.load_config`)."""
    return {
        "name": WORKSPACE_NAME,
        "district_code": N.DISTRICT[0],
        "reference": {
            "addresses": f"{REFERENCE_DIR}/{ADDRESSES_FILE}",
            "grids": f"{REFERENCE_DIR}/{GRIDS_FILE}",
            "divisions": f"{REFERENCE_DIR}/{DIVISIONS_FILE}",
            "crs": "WGS-84",
            "grid_code_width": 15,
        },
        "warehouse": {
            "path": WAREHOUSE_DIR,
            "keep_snapshots": 5,
            "row_count_drift": 0.5,
            "privacy": {"hmac_key_env": env.HMAC_KEY},
        },
        "quality": {"truth": TRUTH_DIR},
        "feeds": [spec.config() for spec in SPECS.values()],
        "portal": {
            "departments": {dept: {"password_hash": h} for dept, (_, h) in DEMO_PORTAL_LOGINS.items()},
            "max_upload_bytes": 52_428_800,
        },
    }


# Upload-portal sign-ins of the sample district: department → (demo password, its salted scrypt hash).
# Demo only: a real workspace makes its own with `gridhub portal-passwd`. The passwords are in docs/portal.md.
DEMO_PORTAL_LOGINS = {
    "公安": (
        "gongan-demo-2026",
        "scrypt$16384$8$1$o5OlhDwIs0Fy7Ol8IgGPCQ$8_6vZSPf6k9pV4YIibTzQi7RqYDKfD67NSLaXss_GdM",
    ),
    "民政": (
        "minzheng-demo-2026",
        "scrypt$16384$8$1$rI7ZlP6r_j0YMca4fhgY2Q$FaGYakcosZk942TIB8SUe4WtsshCSMlxoxTdWxfs9ig",
    ),
    "人社": (
        "renshe-demo-2026",
        "scrypt$16384$8$1$FaqU1YhlNufbRVjZU4q4CQ$c9Lu0XemUvLzdcDk7YsAcZIvFo5xD-D-W_qabYyxTCk",
    ),
    "市场监管": (
        "shichang-demo-2026",
        "scrypt$16384$8$1$oF4JlnFSkzB1Of76NfK8jw$nT9Q7UQW2fANSAEsz2A1Nxg84rMGe6yVSrEdEs1Om04",
    ),
    "住建": (
        "zhujian-demo-2026",
        "scrypt$16384$8$1$nlDiXWZNax657lAFozMW8Q$KojLEo1o8ZUa0YkxP78SCqkH_WJRCp_-94QVe1wAzvY",
    ),
    "应急管理": (
        "yingji-demo-2026",
        "scrypt$16384$8$1$FDhEZ47XISUHX-Ol760vCA$l0fD9SZSieePaz4Gp1hrnCsY-gV-4EmwVnhDyHoabcM",
    ),
}


def _config_text() -> str:
    header = (
        "# 云江市青石区示例: the embedded sample district of gridhub (fictional district code 445399).\n"
        "# Written by `gridhub sample`; feeds are described here, never in code (see docs/sample-district.md).\n"
    )
    return header + yaml.safe_dump(workspace_config(), allow_unicode=True, sort_keys=False, width=120)


def _true_district(streams: list[np.random.Generator], persons: int) -> tuple[District, Population]:
    """The reference data and the true population, each part from its own stream."""
    r_district, r_persons, r_orgs, r_jobs, r_houses, r_facilities, r_phones = streams
    n_orgs = max(MIN_ORGANISATIONS, round(persons / PERSONS_PER_ORGANISATION))
    district = build_district(r_district, homes=math.ceil(persons / PERSONS_PER_HOME), organisations=n_orgs)
    addresses = district.addresses
    homes = addresses[addresses["kind"] == "home"]
    people, negatives = make_persons(r_persons, persons, homes)
    orgs = make_organisations(r_orgs, n_orgs, people, addresses)
    outside = make_outside_representatives(r_orgs, orgs)
    assign_employers(r_jobs, people, orgs)
    assign_contact_phones(r_phones, orgs, people, rep_kind(orgs))
    houses = make_houses(r_houses, people, addresses, orgs)
    facilities = make_facilities(
        r_facilities, max(MIN_FACILITIES, round(persons / PERSONS_PER_FACILITY)), addresses
    )
    grid_of = addresses.set_index("address_code")["grid_code"]
    people["grid_code"] = people["residence_address_code"].map(grid_of)
    orgs["grid_code"] = orgs["address_code"].map(grid_of).fillna("")
    houses["grid_code"] = houses["address_code"].map(grid_of)
    pop = Population(
        persons=people,
        organisations=orgs,
        facilities=facilities,
        houses=houses,
        hard_negatives=negatives,
        outside_representatives=outside,
    )
    return district, pop


def _write_truth(truth: Path, pop: Population) -> dict[str, Path]:
    """The true entities of the answer key under ``truth/`` (what the feeds hold is written from them)."""
    paths = {}
    people, orgs, houses = pop.persons, pop.organisations, pop.houses
    public = [c for c in people.columns if not c.startswith("_")]
    paths["truth_persons"] = _write_csv(people, truth / "persons.csv", public)
    public_orgs = [c for c in orgs.columns if not c.startswith("_")]
    paths["truth_organisations"] = _write_csv(orgs, truth / "organisations.csv", public_orgs)
    paths["truth_outside_representatives"] = _write_csv(
        pop.outside_representatives, truth / "outside_representatives.csv"
    )
    paths["truth_houses"] = _write_csv(
        houses, truth / "houses.csv", [c for c in houses.columns if c[0] != "_"]
    )
    paths["truth_facilities"] = _write_csv(pop.facilities, truth / "facilities.csv")
    paths["truth_hard_negatives"] = _write_csv(pop.hard_negatives, truth / "hard_negatives.csv")
    return paths


def generate_workspace(out: Path, persons: int = 3000, seed: int = 7) -> SampleSummary:
    """Write the sample district workspace for ``persons`` persons into ``out``; deterministic for ``seed``.

    Existing files of the same names are overwritten; nothing else in ``out`` is touched.
    """
    if persons < 10:
        raise SampleError(f"the sample district needs at least 10 persons, got {persons}")
    if seed < 0:
        raise SampleError(f"seed must be a non-negative integer, got {seed}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root)  # only its paths (the config is written last), spelt under ``out`` as given:

    def at(path: Path) -> Path:
        return root / path.relative_to(ws.root)

    # spawned children do not depend on how many are spawned: the 8th (contact phones) and the 9th (the feeds'
    # late noise kinds), each added last, left the ones before, and so every other value of the sample, as they were
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]
    with (
        progress(f"sample {persons} persons → {root}", total=4, unit="steps") as task,
        tempfile.TemporaryDirectory(prefix=".sample-spool-", dir=root) as spool,
    ):
        district, pop = _true_district([*streams[:6], streams[7]], persons)
        addresses, people = district.addresses, pop.persons
        orgs, houses, facilities = pop.organisations, pop.houses, pop.facilities
        task.update(advance=1, persons=len(people), addresses=len(addresses))
        release_memory()
        builder = FeedBuilder(streams[6], district, pop, Path(spool), late=streams[8])
        outputs = build_feeds(builder)
        people["previous_address_code"] = people["person_key"].map(builder.previous).fillna("")
        del builder
        release_memory()
        task.update(advance=1, **{"feed rows": sum(len(o.rows) + len(o.malformed) for o in outputs)})
        paths: dict[str, Path] = {"config": at(ws.config_file)}
        expected = {}
        for feed_out in outputs:
            path, expected[feed_out.spec.name] = write_feed(at(ws.landing_dir(feed_out.spec.name)), feed_out)
            paths[feed_out.spec.name] = path
        ref = at(ws.reference)
        paths["divisions"] = _write_csv(district.divisions, ref / DIVISIONS_FILE)
        paths["standard_addresses"] = _write_csv(addresses, ref / ADDRESSES_FILE, ADDRESS_LIBRARY_COLUMNS)
        paths["grids"] = _write_csv(district.grids, ref / GRIDS_FILE, GRID_COLUMNS)
        task.update(advance=1, files=len(paths) - 1)
        paths.update(write_truth_files(at(ws.path(TRUTH_DIR)), outputs, expected))
        paths.update(_write_truth(at(ws.path(TRUTH_DIR)), pop))
        task.update(advance=1)

    at(ws.config_file).write_text(_config_text(), encoding="utf-8")
    summary = SampleSummary(
        root=root,
        seed=seed,
        persons=len(people),
        households=int(people["household_key"].nunique()),
        houses=len(houses),
        organisations=len(orgs),
        facilities=len(facilities),
        addresses=len(addresses),
        grids=len(district.grids),
        feed_rows={o.spec.name: len(o.rows) + len(o.malformed) for o in outputs},
        quarantine_expected=sum(len(rows) for rows in expected.values()),
        paths=paths,
    )
    for line in summary.lines():
        log.info(line)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridhub sample", description="Write the embedded sample district.")
    parser.add_argument("--out", required=True, type=Path, help="workspace folder to write")
    parser.add_argument("--persons", type=int, default=3000, help="number of true persons (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; same seed, same files (default 7)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``gridhub sample --out DIR --persons N --seed S``: write the sample district workspace."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        generate_workspace(args.out, persons=args.persons, seed=args.seed)
    except SampleError as e:
        parser.error(str(e))
    return 0
