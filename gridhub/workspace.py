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
from gridhub import env, layout
from gridhub.config import ConfigError, WorkspaceConfig, load_config

_SAFE_RUN_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Workspace:
        """The workspace at ``root``, else at ``$GRIDHUB_WORKSPACE``."""
        root = root or os.environ.get(env.WORKSPACE)
        if not root:
            raise ConfigError(f"no workspace given: pass --workspace DIR or set {env.WORKSPACE}")
        return cls(Path(root).expanduser().resolve())

    @property
    def config_file(self) -> Path:
        """``gridhub.yaml``."""
        return self.root / layout.CONFIG_FILE

    @cached_property
    def config(self) -> WorkspaceConfig:
        return load_config(self.config_file)

    def path(self, relative: str) -> Path:
        """A config-given path, relative to the workspace root unless absolute."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    # ---- zones ------------------------------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return self.root / layout.LANDING_DIR

    def landing_dir(self, feed: str) -> Path:
        return self.landing / feed

    @property
    def raw(self) -> Path:
        return self.root / layout.RAW_DIR

    @property
    def staging(self) -> Path:
        return self.root / layout.STAGING_DIR

    def staging_dir(self, feed: str) -> Path:
        return self.staging / feed

    @property
    def quarantine(self) -> Path:
        return self.root / layout.QUARANTINE_DIR

    def quarantine_dir(self, feed: str) -> Path:
        return self.quarantine / feed

    def field_issue_dir(self, feed: str) -> Path:
        """Where staging keeps a feed's field issues, one Parquet file per staged file (``<sha>.parquet``).
        Under ``staging/_field_issues/``: feed names start with a letter, so this never clashes with a feed."""
        return self.staging / layout.FIELD_ISSUES_DIR / feed

    @property
    def reference(self) -> Path:
        return self.root / layout.REFERENCE_DIR

    def reference_file(self, kind: str) -> Path:
        """The configured file of reference data ``kind`` (``addresses``, ``grids`` or ``divisions``)."""
        return self.path(getattr(self.config.reference, kind).path)

    @property
    def warehouse(self) -> Path:
        return self.path(self.config.warehouse.path)

    @property
    def state(self) -> Path:
        return self.root / layout.STATE_DIR

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

    @property
    def address_aliases(self) -> Path:
        """Reviewed address texts → standard addresses (or "not in the library"), applied by every binding."""
        return self.state / "address_aliases.csv"

    @property
    def review_not_sure(self) -> Path:
        """Reviewers' "not sure" answers: the case stays open, marked (no run reads this file)."""
        return self.state / "review_not_sure.csv"

    @property
    def portal_audit(self) -> Path:
        """The upload portal's append-only audit log (one JSON line per upload or sign-in attempt)."""
        return self.state / "portal_audit.jsonl"

    @property
    def portal_uploads(self) -> Path:
        """Where the upload portal streams a file while it is checked (removed after each request)."""
        return self.state / "portal_tmp"

    # ---- feeds (what connectors.feeds.Zones asks for) ----------------------------------------------------
    @property
    def feeds(self) -> list[Feed]:
        return list(self.config.feeds)

    def feed(self, name: str) -> Feed:
        return self.config.feed(name)

    def work_dir(self, run_id: str) -> Path:
        """Intermediates of one resolve-and-publish run."""
        return self.root / layout.WORK_DIR / safe_run_id(run_id)

    def step_dir(self, run_id: str, step: str) -> Path:
        """What one step of a run writes (``work/<run_id>/<step>/``), where the next step reads it."""
        return self.work_dir(run_id) / step

    @property
    def reports(self) -> Path:
        return self.root / layout.REPORTS_DIR

    @property
    def summary_file(self) -> Path:
        """The run summary (``reports/summary.json``)."""
        return self.reports / "summary.json"

    @property
    def truth(self) -> Path | None:
        t = self.config.quality.truth
        return self.path(t) if t else None

    @property
    def airflow_home(self) -> Path:
        return self.root / layout.AIRFLOW_DIR

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
