"""Where things live in a workspace. Every path any step reads or writes comes from here.

The workspace folder is taken from the ``GRIDHUB_WORKSPACE`` environment variable (or passed explicitly);
nothing in code bakes in a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from connectors.feeds import Feed
from gridhub.config import CONFIG_FILE, ConfigError, WorkspaceConfig, load_config

ENV_VAR = "GRIDHUB_WORKSPACE"
_SAFE_RUN_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Workspace:
        """The workspace at ``root``, else at ``$GRIDHUB_WORKSPACE``."""
        root = root or os.environ.get(ENV_VAR)
        if not root:
            raise ConfigError(f"no workspace given: pass --workspace DIR or set {ENV_VAR}")
        return cls(Path(root).expanduser().resolve())

    @cached_property
    def config(self) -> WorkspaceConfig:
        return load_config(self.root / CONFIG_FILE)

    def path(self, relative: str) -> Path:
        """A config-given path, relative to the workspace root unless absolute."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    # ---- zones ------------------------------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def landing_dir(self, feed: str) -> Path:
        return self.landing / feed

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    def staging_dir(self, feed: str) -> Path:
        return self.staging / feed

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def quarantine_dir(self, feed: str) -> Path:
        return self.quarantine / feed

    @property
    def reference(self) -> Path:
        return self.root / "reference"

    @property
    def warehouse(self) -> Path:
        return self.path(self.config.warehouse.path)

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def locks(self) -> Path:
        """Per-feed ingest locks."""
        return self.state / "locks"

    @property
    def watermarks(self) -> Path:
        """SQL feeds' watermarks, one JSON file per feed."""
        return self.state / "watermarks"

    @property
    def review_decisions(self) -> Path:
        """Reviewed pairs (must-link / cannot-link) that every resolution run honours."""
        return self.state / "review_decisions.csv"

    # ---- feeds (what connectors.feeds.Zones asks for) ----------------------------------------------------
    @property
    def feeds(self) -> list[Feed]:
        return list(self.config.feeds)

    def feed(self, name: str) -> Feed:
        return self.config.feed(name)

    def work_dir(self, run_id: str) -> Path:
        """Intermediates of one resolve-and-publish run."""
        return self.root / "work" / safe_run_id(run_id)

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def truth(self) -> Path | None:
        t = self.config.quality.truth
        return self.path(t) if t else None

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def ensure(self) -> Workspace:
        """Create the zone folders (idempotent)."""
        for d in (
            self.landing,
            self.raw,
            self.staging,
            self.quarantine,
            self.reference,
            self.state,
            self.reports,
        ):
            d.mkdir(parents=True, exist_ok=True)
        for feed in self.config.feeds:
            self.landing_dir(feed.name).mkdir(parents=True, exist_ok=True)
        return self


def safe_run_id(run_id: str) -> str:
    """Airflow run ids carry ':' and '+'; keep a path-safe, readable form."""
    return _SAFE_RUN_ID.sub("_", run_id).strip("._") or "run"
