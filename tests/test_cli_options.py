"""`gridhub` command line: global options after the subcommand, help text on every option."""

from __future__ import annotations

import argparse

import pytest

from gridhub import cli, demo, standalone
from gridhub.sample import generate


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize(
    "argv",
    [
        ["--workspace", "WS", "summary"],
        ["summary", "--workspace", "WS"],
        ["summary", "-w", "WS"],
        ["-w", "OTHER", "summary", "-w", "WS"],  # the later one wins
    ],
)
def test_workspace_before_or_after_subcommand(argv):
    args = cli.build_parser().parse_args(argv)
    assert args.workspace == "WS"


def test_global_option_not_reset_by_subcommand_default():
    args = cli.build_parser().parse_args(["-w", "WS", "-v", "run"])
    assert args.workspace == "WS" and args.verbose is True
    args = cli.build_parser().parse_args(["run", "-v"])
    assert args.workspace is None and args.verbose is True
    args = cli.build_parser().parse_args(["run"])
    assert args.workspace is None and args.verbose is False


def test_main_uses_workspace_given_after_subcommand(tmp_path, monkeypatch, capsys):
    """`gridhub check -w DIR` checks DIR, not $GRIDHUB_WORKSPACE (here: a folder without gridhub.yaml)."""
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(elsewhere))
    code = cli.main(["check", "--workspace", str(tmp_path / "given")])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{tmp_path / 'given' / 'gridhub.yaml'}: no workspace configuration here" in out
    assert str(elsewhere) not in out


def _walk(name: str, parser: argparse.ArgumentParser):
    """Every parser of the tree under ``parser``, subcommands of subcommands included, with its path."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _walk(f"{name} {sub_name}", sub)


def options_without_help(name: str, parser: argparse.ArgumentParser) -> list[str]:
    """The options and positionals anywhere in the tree of ``parser`` that have no help text."""
    return [
        f"{path}: {'/'.join(a.option_strings) or a.dest}"
        for path, p in _walk(name, parser)
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction) and not (a.help or "").strip()
    ]


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("gridhub", cli.build_parser),
        ("python -m gridhub.demo", demo.build_parser),
        ("python -m gridhub.standalone", standalone.build_parser),
        ("python -m gridhub.sample.generate", generate.build_parser),
    ],
)
def test_every_option_of_every_command_has_help(name, build):
    parser = build()
    assert len(list(_walk(name, parser))) >= 1
    assert options_without_help(name, parser) == []


def test_the_walk_finds_an_option_without_help_at_any_depth():
    parser = argparse.ArgumentParser(prog="x")
    inner = parser.add_subparsers(dest="a").add_parser("one", help="one")
    inner.add_subparsers(dest="b").add_parser("two", help="two").add_argument("--bare")
    assert options_without_help("x", parser) == ["x one two: --bare"]


def test_sample_prints_readable_lines_not_a_python_object(tmp_path, capsys):
    assert cli.main(["sample", "--out", str(tmp_path / "s"), "--persons", "200", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "SampleSummary(" not in out and "PosixPath(" not in out
    assert "written to" in out and "persons 200" in out and "feed gongan_population:" in out
