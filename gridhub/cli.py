"""The ``gridhub`` command.

    gridhub sample  --out DIR [--persons N] [--seed S]   make the embedded sample district workspace
    gridhub ingest  --feed NAME [FILE ...]               ingest one feed by hand (what its DAG does)
    gridhub land    --feed NAME FILE [--name ORIGINAL]   hand a file in: landing folder + ready flag (starts its DAG)
    gridhub check   [--no-feeds]                         check gridhub.yaml, the reference data and landed files
    gridhub run     [--approve]                          resolve and publish in this process (no Airflow)
    gridhub summary                                      print the summary of the current warehouse
    gridhub snapshots                                    list the published snapshots (time, rows, inputs)
    gridhub report  [--open] [--run RUN_ID]              the run report (HTML, charts): its path; --open shows it
    gridhub explain person ID | pair FEED:REC FEED:REC   why records were joined
    gridhub evaluate [LABELS] [--per-stratum N]          blind labelling sample; with LABELS: precision/recall
    gridhub portal  [--host H] [--port N]                the department upload portal (see docs/portal.md)
    gridhub portal-passwd                                make a password hash for gridhub.yaml's portal section

The workspace comes from ``--workspace DIR`` or ``$GRIDHUB_WORKSPACE``. User errors print one clear message
and exit 2; no traceback reaches the user. Long work (ingest of a big file, each step of ``run``, ``sample``)
shows progress bars with counts and ETA on a terminal, and INFO lines with the same counts when stderr is not
a terminal (a pipe, a log file, CI). ``gridhub run`` logs what each step did in the readable lines of the Airflow
task logs (:mod:`gridhub.tasklog`), with or without ``-v``; the libraries' own developer lines stay out. ``gridhub run``
exits 3 when the publish gate holds the run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gridhub.errors import USER_ERRORS
from gridhub.workspace import Workspace
from warehouse.schema import ENTITY_TYPES


def _ws(args) -> Workspace:
    return Workspace.from_env(args.workspace)


def cmd_sample(args) -> int:
    from gridhub.sample import generate_workspace

    summary = generate_workspace(Path(args.out), persons=args.persons, seed=args.seed)
    print("\n".join(summary.lines()))
    return 0


def cmd_ingest(args) -> int:
    from gridhub.ingest_cli import ingest_command

    files = [Path(f) for f in args.files] or None
    return ingest_command(_ws(args), args.feed, files)


def cmd_land(args) -> int:
    from gridhub.landing import DuplicateContent, land_file

    src = Path(args.file)
    if not src.is_file():
        print(f"gridhub: 文件不存在 / no such file: {src}", file=sys.stderr)
        return 2
    name = args.name or src.name
    try:
        dest = land_file(_ws(args), args.feed, src, name)
    except DuplicateContent as e:
        print(f"数据源 feed {args.feed}: {e}")  # nothing is wrong and nothing was landed: exit 0
        return 0
    print(
        f"已提交 {name}，数据源 {args.feed}，存为 {dest}；Airflow 发现标志后开始导入 / "
        f"landed {name} for feed {args.feed} as {dest}; its ingest DAG starts when Airflow sees the flag"
    )
    return 0


def cmd_check(args) -> int:
    from gridhub.check import check_workspace

    report = check_workspace(_ws(args), feeds=not args.no_feeds)
    print(report.format())
    return 0 if report.ok else 1  # warnings do not fail a check


def cmd_run(args) -> int:
    from gridhub.pipeline import reused_message, run_all
    from gridhub.publish_gate import PublishHeld
    from gridhub.report import format_summary, write_summary
    from gridhub.runreport import write_run_report
    from gridhub.tasklog import quiet_libraries

    ws = _ws(args)
    try:
        with (
            quiet_libraries()
        ):  # each step's readable lines (as in the Airflow task log), not the libraries' dicts
            result = run_all(ws, approve=args.approve)
    except PublishHeld as e:  # not an error: the run waits for a person's decision (exit 3, not 2)
        print(f"gridhub: {e}", file=sys.stderr)
        return 3
    if result.get("reused"):
        print(reused_message(result["run_id"]))
    s, _ = write_summary(ws)
    print(format_summary(s))
    print(f"\n运行报告 / run report: {write_run_report(ws)}")
    return 0


def cmd_summary(args) -> int:
    from gridhub.report import format_summary, write_summary

    s, path = write_summary(_ws(args))
    print(format_summary(s))
    print(f"\nSummary written to {path}")
    return 0


def cmd_report(args) -> int:
    import webbrowser

    from gridhub.runreport import find_report

    path = find_report(_ws(args), args.run)
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return 0


def cmd_snapshots(args) -> int:
    from gridhub.snapshots_cli import snapshots_report

    print(snapshots_report(_ws(args).warehouse))
    return 0


def cmd_evaluate(args) -> int:
    from gridhub.evaluate import (
        draw_sample,
        evaluate_labels,
        format_estimates,
        labels_workspace,
        refresh_report,
    )

    if args.labels:
        labels = Path(args.labels)
        ws = labels_workspace(labels, args.workspace)
        print(format_estimates(evaluate_labels(labels, level=args.level, ws=ws)))
        report = refresh_report(ws, labels) if ws is not None else None
        if report is not None:
            print(f"run report: {report}")
        return 0
    out = Path(args.out) if args.out else None
    sample = draw_sample(_ws(args), out, per_stratum=args.per_stratum, seed=args.seed)
    print(
        f"已抽取 {sample.pairs} 对记录（运行 {sample.run_id}），请在 label 列填写 same / different / unsure，"
        f"然后运行 gridhub evaluate {sample.folder / 'labels.csv'} / drew {sample.pairs} record pairs of run "
        f"{sample.run_id} into {sample.folder / 'labels.csv'}: fill in the label column, then run "
        "`gridhub evaluate` with that file"
    )
    return 0


def cmd_explain(args) -> int:
    from matching.er.explain import explain_command

    ws = _ws(args)
    if args.reveal:  # noted before anything is shown: a reveal never goes unrecorded
        import getpass
        import socket

        from gridhub.portal.audit import append_audit

        append_audit(
            ws,
            "explain_reveal",
            user=getpass.getuser(),
            host=socket.gethostname(),
            what=args.what,
            ids=args.ids,
        )
    from gridhub.reference import division_names

    return explain_command(ws, args.what, args.ids, reveal=args.reveal, regions=division_names(ws))


def cmd_portal(args) -> int:
    import uvicorn

    from gridhub.portal import create_app

    app = create_app(_ws(args).root)
    print(f"gridhub portal: http://{args.host}:{args.port}/  (Ctrl-C to stop)")
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (its default
    # forwarded_allow_ips), and any local client could claim a fresh address per sign-in attempt. The portal
    # itself believes the header only from the proxies in `portal.trusted_proxies` (docs/portal.md).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=False,
        log_level="info" if args.verbose else "warning",
    )
    return 0


def cmd_portal_passwd(args) -> int:
    import getpass

    from gridhub.portal import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("新密码 / new password: ")
        if getpass.getpass("再输一次 / again: ") != password:
            print("gridhub: the two passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("gridhub: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gridhub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_global_options(p, default=None)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sample", help="generate the embedded sample district")
    s.add_argument("--out", required=True, help="folder to write the sample workspace to")
    s.add_argument("--persons", type=int, default=3000, help="number of residents (default: %(default)s)")
    s.add_argument(
        "--seed", type=int, default=7, help="random seed; same seed, same data (default: %(default)s)"
    )
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("ingest", help="ingest one feed by hand")
    s.add_argument("--feed", required=True, help="feed name from gridhub.yaml")
    s.add_argument("files", nargs="*", help="files to ingest (default: the feed's landed files)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("land", help="hand a file in for a feed (its ingest DAG starts on its own)")
    s.add_argument("--feed", required=True, help="feed name from gridhub.yaml")
    s.add_argument("--name", help="the name to record for the file (default: the file's own name)")
    s.add_argument("file", help="the file to hand in")
    s.set_defaults(func=cmd_land)

    s = sub.add_parser(
        "check", help="check gridhub.yaml, the reference data and landed files (exit 1 on errors)"
    )
    s.add_argument("--no-feeds", action="store_true", help="skip the landed files of the feeds")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("run", help="resolve and publish without Airflow")
    s.add_argument(
        "--approve",
        action="store_true",
        help="publish even when the publish gate holds the run (its figures are above publish_gate's thresholds)",
    )
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("summary", help="print the summary of the current warehouse")
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("report", help="print the path of the run report (HTML with charts); --open shows it")
    s.add_argument("--open", action="store_true", help="open the report in a web browser")
    s.add_argument("--run", help="a kept snapshot's run id (default: the current snapshot)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "snapshots", help="list the published snapshots: run id, time, current, row counts, input files"
    )
    s.set_defaults(func=cmd_snapshots)

    s = sub.add_parser("explain", help="explain an entity or a pair of records")
    s.add_argument("what", choices=[*ENTITY_TYPES, "pair"], help="an entity type, or `pair`")
    s.add_argument("ids", nargs="+", help="entity id, or two records as FEED:RECORD_ID FEED:RECORD_ID")
    s.add_argument(
        "--reveal",
        action="store_true",
        help="print ID and phone numbers unmasked (noted in the workspace's audit log)",
    )
    s.set_defaults(func=cmd_explain)

    _evaluate_parser(sub)

    s = sub.add_parser("portal", help="serve the department upload portal (FastAPI, uvicorn)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    s.add_argument("--port", type=int, default=8090, help="port to listen on (default: %(default)s)")
    s.set_defaults(func=cmd_portal)

    s = sub.add_parser("portal-passwd", help="print a salted password hash for gridhub.yaml's portal section")
    s.add_argument("--stdin", action="store_true", help="read the password from stdin (scripts)")
    s.set_defaults(func=cmd_portal_passwd)

    # The global options also after the subcommand (`gridhub run -w DIR`). SUPPRESS: a subcommand that was
    # not given them leaves the value parsed before the subcommand in place instead of resetting it.
    for subparser in sub.choices.values():
        _add_global_options(subparser, default=argparse.SUPPRESS)
    return p


def _evaluate_parser(sub) -> None:
    """``gridhub evaluate [LABELS]``: its options (kept apart so build_parser stays short)."""
    s = sub.add_parser(
        "evaluate", help="blind labelling sample of record pairs; with LABELS: precision and recall estimates"
    )
    s.add_argument("labels", nargs="?", help="a filled labels.csv: estimate precision and recall from it")
    s.add_argument("--out", help="folder for the sample (default: state/evaluation/<run_id>/)")
    s.add_argument(
        "--per-stratum", type=int, default=30, help="pairs drawn per stratum (default: %(default)s)"
    )
    s.add_argument("--seed", type=int, default=17, help="random seed of the sample (default: %(default)s)")
    s.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (default: %(default)s)"
    )
    s.set_defaults(func=cmd_evaluate)


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--workspace",
        "-w",
        default=default,
        help="workspace folder (default: $GRIDHUB_WORKSPACE); allowed before or after the subcommand",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=False if default is None else default,
        help="log at INFO level",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from gridhub.progress_display import install

    # progress bars on a terminal, INFO lines with counts and ETA elsewhere (warehouse.progress)
    install(sys.stderr, logging.INFO if args.verbose else logging.WARNING)
    try:
        return args.func(args)
    except USER_ERRORS as e:  # a user sees one sentence; anything else is a bug and keeps its traceback
        print(f"gridhub: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
