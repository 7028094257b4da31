"""The names of a workspace's folders and well-known files, in one place.

:class:`gridhub.workspace.Workspace` builds every path from these names; :mod:`gridhub.assets` uses them too
while Airflow parses the DAG files, which is why they live in this module that imports nothing (importing
``gridhub.workspace`` would load pydantic and the feed models).
"""

from __future__ import annotations

CONFIG_FILE = "gridhub.yaml"
LANDING_DIR = "landing"
READY_DIR = "_ready"
"""Flag folder under ``landing/``: one ``_READY``-style flag per feed, named after the feed (``landing/_ready/<feed>``).
Feed names start with a letter, so this folder can never clash with a feed's own landing folder."""
RAW_DIR = "raw"
FIELD_ISSUES_DIR = "_field_issues"
"""Under ``staging/``: the values staging nulled or noted, one folder per feed (feed names start with a letter,
so this never clashes with a feed's own staging folder)."""
STAGING_DIR = "staging"
QUARANTINE_DIR = "quarantine"
REFERENCE_DIR = "reference"
STATE_DIR = "state"
WORK_DIR = "work"
REPORTS_DIR = "reports"
AIRFLOW_DIR = "airflow"
WAREHOUSE_DIR = "warehouse"
"""The default ``warehouse.path`` (the sample district's too)."""
TRUTH_DIR = "truth"
"""Ground truth beside the sample district's feeds (``quality.truth``)."""
