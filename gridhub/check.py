"""``gridhub check``: is this workspace ready to run? ``gridhub.yaml``, the reference data, the landed files.

Checked, in this order:

1. ``gridhub.yaml`` loads and validates (the model of :mod:`gridhub.config`); nothing else is checked if not.
2. Each reference file (:mod:`gridhub.check_reference`): exists, reads as CSV, has the required columns after
   the ``columns:`` mapping (naming the missing ones and the headers found, with a mapping to add), unique
   address and grid codes, grid polygons that parse, grid codes of ``reference.grid_code_width`` digits, every
   address's grid in the grids file, and a library that would bind (house numbers, buildings, rooms that read
   as numbers).
3. A sample of each file feed's landing files, parsed as ingest would without writing anything
   (:func:`connectors.preview_file`): headers against the feed's ``columns``, rows that would be quarantined.

:func:`require_usable_reference` runs 1 and 2 at the start of every run, so ``gridhub run`` and the Airflow
task refuse bad reference data with the same message, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

from connectors.feeds import Feed, FileSource
from gridhub.check_findings import CheckReport, Finding, error, warning
from gridhub.check_reference import reference_findings
from gridhub.config import ConfigError
from gridhub.reference import KINDS, ReferenceDataError
from gridhub.workspace import Workspace
from warehouse.files import atomic_write_text

log = logging.getLogger(__name__)

#: Landing files per feed that ``gridhub check`` parses (the newest by name).
FILES_PER_FEED = 2
#: Quarantine reasons listed per file, and lines per reason.
SHOWN_REASONS = 5


def config_findings(ws: Workspace) -> list[Finding]:
    """``gridhub.yaml`` loads and validates; one error carrying the loader's message when it does not."""
    try:
        ws.config  # noqa: B018 - loading is the check
    except ConfigError as e:
        return [
            error(
                str(ws.config_file),
                "gridhub.yaml 无效，其余检查未进行",
                f"{e}",
                "按上面列出的键改正 gridhub.yaml，见 docs/configuration.md",
                "correct the keys listed above; see docs/configuration.md",
            )
        ]
    return []


def _landed(ws: Workspace, feed: Feed) -> list[Path]:
    from connectors.file_feed import is_data_file

    assert isinstance(feed.source, FileSource)
    root = ws.landing_dir(feed.name)
    if not root.is_dir():
        return []
    files = [
        p
        for p in sorted(root.glob(feed.source.glob))
        if p.is_file()
        and is_data_file(p)
        and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts[:-1])
    ]
    return files[-FILES_PER_FEED:]


def feed_findings(ws: Workspace, report: CheckReport) -> list[Finding]:
    """Dry-run ingest of the newest landing files of each file feed: whole-file problems and quarantined rows."""
    from connectors import ConnectorError, preview_file

    out: list[Finding] = []
    for feed in ws.config.feeds:
        if not isinstance(feed.source, FileSource):
            continue
        files = _landed(ws, feed)
        if not files:
            report.checked.append(f"数据源 / feed {feed.name}: 落地区没有文件 / no landed files")
            continue
        for path in files:
            report.checked.append(f"数据源 / feed {feed.name}: {path}")
            try:
                preview = preview_file(ws, feed.name, path)
            except (ConnectorError, OSError) as e:
                out.append(error(str(path), f"无法读取：{e}", f"cannot be read: {e}"))
                continue
            if preview.problem is not None:
                out.append(
                    error(
                        str(path),
                        preview.problem.message,
                        "",
                        f"改正文件或 gridhub.yaml 中数据源 {feed.name} 的 columns（表头 → 字段）",
                        f"correct the file, or the `columns` (header → field) of feed '{feed.name}' in gridhub.yaml",
                    )
                )
                continue
            out += _quarantine_findings(str(path), feed, preview)
    return out


def _quarantine_findings(path: str, feed: Feed, preview) -> list[Finding]:
    result = preview.result
    out = [
        warning(path, w, "", "", "", column="")
        for w in result.warnings  # headers of `columns` the file lacks (staged as empty)
    ]
    if result.rows_quarantined:
        lines = preview.lines_by_reason()
        reasons = sorted(result.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:SHOWN_REASONS]
        detail = "; ".join(
            f"{code} ×{n} (行 / lines {', '.join(map(str, lines.get(code, [])[:5]))})" for code, n in reasons
        )
        out.append(
            warning(
                path,
                f"{result.rows_read:,} 行中有 {result.rows_quarantined:,} 行会被隔离：{detail}",
                f"{result.rows_quarantined:,} of {result.rows_read:,} rows would be quarantined: {detail}",
                "这些行导入时进入隔离区；让部门改正后重新上报，或调整数据源的 value_maps / date_formats",
                f"they go to quarantine at ingest; have the department correct them, or adjust feed "
                f"'{feed.name}' value_maps / date_formats",
            )
        )
    return out


def check_workspace(ws: Workspace, *, feeds: bool = True) -> CheckReport:
    """Every check of ``gridhub check`` on ``ws``; never raises for a problem a person can fix."""
    report = CheckReport(checked=[str(ws.config_file)])
    report.findings += config_findings(ws)
    if report.findings:
        return report
    report.checked += [str(ws.reference_file(kind)) for kind in KINDS]
    report.findings += reference_findings(ws, with_matcher=True)
    if feeds:
        report.findings += feed_findings(ws, report)
    return report


#: The findings of the last run's check of the configuration and reference data, under their key.
CHECKED_FILE = "reference_check.json"


def _checked_key(ws: Workspace) -> str:
    """What the check's findings depend on: gridhub's code, the configuration and the reference files."""
    from gridhub.runid import code_digest
    from warehouse.files import sha256_file

    h = hashlib.sha256(code_digest().encode())
    h.update(ws.config_file.read_bytes())
    for kind in KINDS:
        p = ws.reference_file(kind)
        h.update(sha256_file(p).encode() if p.is_file() else b"-")
    return h.hexdigest()


def _run_findings(ws: Workspace) -> list[Finding]:
    """The findings of checks 1 and 2, taken from the last run's when the files and code are the same (a daily
    run reads a city's reference files once, not every day)."""
    findings = config_findings(ws)
    if findings:
        return findings
    key, path = _checked_key(ws), ws.state / CHECKED_FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept["key"] == key:
            return [Finding(**{**f, "lines": tuple(f["lines"])}) for f in kept["findings"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    findings = reference_findings(ws)
    text = json.dumps({"key": key, "findings": [asdict(f) for f in findings]}, ensure_ascii=False)
    atomic_write_text(path, text + "\n")
    return findings


def require_usable_reference(ws: Workspace) -> None:
    """Raise :class:`ReferenceDataError` listing every error ``gridhub check`` finds in the configuration and
    reference data (warnings are logged): what a run calls before it does any work."""
    findings = _run_findings(ws)
    for f in findings:
        if f.severity == "warning":
            log.warning("%s: %s", f.file, f.message)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        listed = "\n".join(f.format() for f in errors)
        raise ReferenceDataError(
            f"参考数据或配置有 {len(errors)} 个错误，运行已停止（`gridhub check` 给出完整报告）。 / "
            f"the configuration or reference data has {len(errors)} error(s); the run stopped "
            f"(`gridhub check` gives the full report):\n{listed}"
        )


__all__ = [
    "FILES_PER_FEED",
    "CheckReport",
    "Finding",
    "check_workspace",
    "config_findings",
    "feed_findings",
    "require_usable_reference",
]
