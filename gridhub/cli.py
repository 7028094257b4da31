"""The ``gridhub`` command.

    gridhub sample  --out DIR [--persons N] [--seed S]   make the embedded sample district workspace
    gridhub ingest  --feed NAME [FILE ...]               ingest one feed by hand (what its DAG does)
    gridhub run                                          resolve and publish in this process (no Airflow)
    gridhub summary                                      print the summary of the current warehouse
    gridhub explain person ID | pair FEED:REC FEED:REC   why records were joined

The workspace comes from ``--workspace DIR`` or ``$GRIDHUB_WORKSPACE``. User errors print one clear message
and exit 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gridhub.config import ConfigError
from gridhub.workspace import Workspace


def _ws(args) -> Workspace:
    return Workspace.from_env(args.workspace)


def cmd_sample(args) -> int:
    from gridhub.sample import generate_workspace

    summary = generate_workspace(Path(args.out), persons=args.persons, seed=args.seed)
    print(f"sample district written to {Path(args.out).resolve()}")
    print(summary)
    return 0


def cmd_ingest(args) -> int:
    from connectors.cli import ingest_command

    files = [Path(f) for f in args.files] or None
    return ingest_command(_ws(args), args.feed, files)


def cmd_run(args) -> int:
    from gridhub.pipeline import run_all
    from gridhub.report import format_summary, write_summary

    ws = _ws(args)
    run_all(ws)
    s, _ = write_summary(ws)
    print(format_summary(s))
    return 0


def cmd_summary(args) -> int:
    from gridhub.report import format_summary, write_summary

    s, path = write_summary(_ws(args))
    print(format_summary(s))
    print(f"\nSummary written to {path}")
    return 0


def cmd_explain(args) -> int:
    from matching.er.explain import explain_command

    return explain_command(_ws(args), args.what, args.ids)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridhub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workspace", "-w", help="workspace folder (default: $GRIDHUB_WORKSPACE)")
    p.add_argument("--verbose", "-v", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sample", help="generate the embedded sample district")
    s.add_argument("--out", required=True)
    s.add_argument("--persons", type=int, default=3000)
    s.add_argument("--seed", type=int, default=7)
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("ingest", help="ingest one feed by hand")
    s.add_argument("--feed", required=True)
    s.add_argument("files", nargs="*")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("run", help="resolve and publish without Airflow")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("summary", help="print the summary of the current warehouse")
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("explain", help="explain an entity or a pair of records")
    s.add_argument("what", choices=["person", "organisation", "house", "facility", "pair"])
    s.add_argument("ids", nargs="+")
    s.set_defaults(func=cmd_explain)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"gridhub: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the last line of defence: a user sees one sentence, the log has the trace
        from gridhub.errors import is_user_error

        if is_user_error(e):
            print(f"gridhub: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
