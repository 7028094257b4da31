"""A sample workspace whose feeds also give what issue 13 added to the staging contract, published once.

The sample district's feeds do not map these fields yet, so the fixture adds them by hand to a copy: 市场监管
gets an operating address column (经营场所 → ``org_business_address``) on every other row, an address of the
library in another place than the registered one; 住建 gets its own house code (房屋代码 → ``house_code``);
民政's 救助类别 is mapped to ``assistance_type``. Then every feed is ingested and the whole run published.

Tests import :func:`published_workspace` (``tests/`` is on ``sys.path``); the run happens once per session.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gridhub import pipeline
from gridhub.workspace import Workspace
from matching.reference import ADDRESSES_FILE, read_reference_csv

OPERATING = "经营场所"
HOUSE_CODE = "房屋代码"


@dataclass
class DepartmentFields:
    """The published workspace and what was written into its feeds."""

    ws: Workspace
    #: 市场监管 record id → address code of the operating address written for it
    operating: dict[str, str] = field(default_factory=dict)
    #: 住建 record id → the house code written for it
    house_codes: dict[str, str] = field(default_factory=dict)


def _rewrite(path: Path, encoding: str, add: str, value_of) -> None:
    """Append column ``add`` to a CSV file: ``value_of(row index, row)`` for every data row."""
    with path.open(encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))
    newline = "\r\n" if b"\r\n" in path.read_bytes()[:4096] else "\n"
    out = [rows[0] + [add]] + [row + [value_of(i, row)] for i, row in enumerate(rows[1:])]
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, lineterminator=newline).writerows(out)


def _map(config: dict, feed: str, header: str, target: str) -> None:
    """Map ``header`` to ``target``; a column the sample itself maps to ``target`` is left unmapped (the
    test's own column, whose values it knows, is the one read)."""
    spec = next(f for f in config["feeds"] if f["name"] == feed)
    for other in [h for h, t in spec["columns"].items() if t == target and h != header]:
        del spec["columns"][other]
    spec["columns"][header] = target


def _add_fields(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Write the columns and their mappings; the operating address codes and house codes written."""
    library = read_reference_csv(root / "reference" / ADDRESSES_FILE)
    library = library[library["grid_code"] != ""].reset_index(drop=True)
    written: dict[str, str] = {}
    codes: dict[str, str] = {}

    def operating(i: int, row: list[str]) -> str:
        if i % 2 or not row or not row[0]:
            return ""
        address = library.iloc[(i * 37 + 5) % len(library)]
        written[row[0]] = address["address_code"]
        return address["standard_text"]

    def house_code(i: int, row: list[str]) -> str:
        code = f"QS-FW-{i:05d}"
        if row and row[0]:
            codes[row[0]] = code
        return code

    _rewrite(next((root / "landing" / "shichang_orgs").glob("*.csv")), "utf-8", OPERATING, operating)
    _rewrite(next((root / "landing" / "zhujian_houses").glob("*.csv")), "gb18030", HOUSE_CODE, house_code)
    config_file = root / "gridhub.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    _map(config, "shichang_orgs", OPERATING, "org_business_address")
    _map(config, "zhujian_houses", HOUSE_CODE, "house_code")
    _map(config, "minzheng_assistance", "救助类别", "assistance_type")
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return written, codes


_PUBLISHED: dict[Path, DepartmentFields] = {}


def published_workspace(sample_workspace: Path, tmp_path_factory) -> DepartmentFields:
    """The sample workspace with the department fields added, ingested and published (once per session)."""
    if sample_workspace not in _PUBLISHED:
        from connectors import ingest_feed

        root = tmp_path_factory.mktemp("department-fields") / "ws"
        shutil.copytree(sample_workspace, root)
        operating, house_codes = _add_fields(root)
        fields = DepartmentFields(Workspace(root), operating, house_codes)
        for feed in fields.ws.config.feeds:
            ingest_feed(fields.ws, feed.name).check_accounting()
        pipeline.run_all(fields.ws)
        _PUBLISHED[sample_workspace] = fields
    return _PUBLISHED[sample_workspace]
