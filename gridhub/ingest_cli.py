"""``gridhub ingest --feed NAME [FILE ...]``: run one feed by hand and print what became of every file.

The same :func:`connectors.ingest_feed` the ingest DAGs call. A user's mistake (an unknown feed, a bad file, an
unreachable database) is printed as a message and an exit code, never as a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from connectors.errors import ConnectorError, FeedFileError
from connectors.ingest import ingest_feed
from connectors.results import AccountingError, FileResult, IngestResult
from gridhub.config import ConfigError, SqlSource
from gridhub.workspace import Workspace
from warehouse.reasons import describe

EXIT_OK = 0
EXIT_FILE_ERROR = 1  # a whole-file problem: the department must send a better file
EXIT_USAGE = 2  # configuration or arguments
EXIT_BUG = 3  # accounting does not balance: report it


def format_file(f: FileResult) -> list[str]:
    """The lines a person reads about one file."""
    head = f"  {f.file_name}" + (f"  [{f.sha256[:12]}]" if f.sha256 else "")
    if f.error:
        return [head, f"    失败 FAILED: {f.error}"]
    if f.skipped_duplicate:
        said = f.warnings or ["已接收过，未重复导入 / identical to a file already staged: nothing to do"]
        return [head, *(f"    {w}" for w in said)]
    lines = [
        head,
        f"    读取 read {f.rows_read}  入库 staged {f.rows_staged}  隔离 quarantined {f.rows_quarantined}"
        + (f"  空行 blank {f.rows_blank}" if f.rows_blank else "")
        + (f"  编码 encoding {f.encoding}" if f.encoding else ""),
    ]
    for code, n in sorted(f.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {n:>8}  {code}  {describe(code)} / {describe(code, 'en')}")
    if f.field_issues:
        lines.append(
            "    字段问题（值已置空或仅提示，记录照常入库） field issues (value nulled or noted, record staged):"
        )
        for code, n in sorted(f.field_issues.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"      {n:>8}  {code}  {describe(code)} / {describe(code, 'en')}")
    for w in f.warnings:
        lines.append(f"    注意 note: {w}")
    return lines


def format_result(result: IngestResult) -> str:
    t = result.totals()
    lines = [f"数据源 feed {result.feed}: {t['files']} file(s)"]
    for f in result.files:
        lines.extend(format_file(f))
    lines.append(
        f"合计 total: read {t['rows_read']} = staged {t['rows_staged']} + quarantined {t['rows_quarantined']}"
        f"  ({t['files_staged']} staged, {t['files_duplicate']} duplicate, {t['files_failed']} failed)"
    )
    return "\n".join(lines)


def ingest_command(
    workspace: Workspace, feed: str, files: list[Path] | None = None, out: TextIO | None = None
) -> int:
    """Run one feed by hand; print the per-file summary to ``out`` (stdout), a configuration or source error
    to stderr; return the exit code."""
    out = out or sys.stdout
    try:
        result = ingest_feed(workspace, feed, files)
    except FeedFileError as e:
        if isinstance(e.result, IngestResult):
            out.write(format_result(e.result) + "\n")
        else:
            out.write(str(e) + "\n")
        return EXIT_FILE_ERROR
    except AccountingError as e:
        out.write(f"BUG: {e}\n")
        return EXIT_BUG
    except (ConfigError, ConnectorError) as e:  # as every other command shows a user error: on stderr
        sys.stderr.write(f"gridhub: {e}\n")
        return EXIT_USAGE
    if not result.files:
        if isinstance(workspace.config.feed(feed).source, SqlSource):
            out.write(
                f"数据源 feed {feed}: 没有新增或变更的记录 / no new or changed rows since the last pull\n"
            )
        else:
            out.write(f"数据源 feed {feed}: 没有新文件 / no new files in {workspace.landing_dir(feed)}\n")
        return EXIT_OK
    out.write(format_result(result) + "\n")
    return EXIT_OK
