"""Helpers of the publish-gate tests: turn the gate on, and make a run's quarantine share jump."""

from __future__ import annotations

from pathlib import Path

import yaml


def enable_gate(ws: Path, **thresholds: float) -> None:
    """Turn ``publish_gate`` on in the workspace's gridhub.yaml, with ``thresholds`` (its keys)."""
    config = ws / "gridhub.yaml"
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["publish_gate"] = {"enabled": True, **thresholds}
    config.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def land_nameless_rows(ws: Path, feed: str, n: int) -> None:
    """Hand in ``n`` rows without a name (a required field) for ``feed``, a file feed of the sample district
    already ingested once (its header is read from the ingested file): every one goes to quarantine."""
    from gridhub.landing import land_file
    from gridhub.workspace import Workspace

    done = next((ws / "landing" / feed / "_done").glob("*.csv"))
    header = done.read_text(encoding="utf-8-sig").splitlines()[0]
    rows = [f"BAD{n}-{i:05d}" + "," * header.count(",") for i in range(n)]  # ids unique per batch size
    body = "\ufeff" + "\n".join([header, *rows]) + "\n"
    land_file(Workspace(ws), feed, body.encode("utf-8"), "补报名册.csv")
