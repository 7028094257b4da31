"""The embedded sample district (云江市青石区示例): a complete, deterministic workspace with ground truth.

``generate_workspace(out, persons=3000, seed=7)`` writes the reference data (divisions, standard addresses,
grids), six department feeds with realistic noise, and ``truth/`` for measuring ingest, address binding and
entity resolution. See ``docs/sample-district.md``.
"""

from __future__ import annotations

from gridhub.sample.generate import SampleError, SampleSummary, generate_workspace, main, workspace_config

__all__ = ["SampleError", "SampleSummary", "generate_workspace", "main", "workspace_config"]
