"""Entity resolution for gridhub (实体解析): persons, organisations, houses, facilities, or any table.

Public API (see docs/entity-resolution.md)::

    settings = EntitySettings.from_config("person", workspace.config.matching)
    result = resolve(mentions, settings, state=ResolutionState.load(folder), decisions=reviewed, run_id=run)
    result.state.save(folder)
    golden = golden_records(mentions, result.assignments, settings)
    # only today's new and changed rows, against the saved state (work in proportion to the change):
    daily = resolve_delta(todays_rows, settings, state=result.state, removed=deleted_keys, run_id=next_run)
"""

from __future__ import annotations

from matching.er.engine import Resolution, resolve, resolve_delta
from matching.er.evaluate import evaluate_resolution, pairwise_scores
from matching.er.explain import explain_entity, explain_pair, format_entity, format_pair
from matching.er.golden import golden_records, source_xref
from matching.er.ids import ResolutionState, StateError, new_entity_id
from matching.er.mentions import MentionsError, normalise_decisions
from matching.er.scoring import Model, TrainingError
from matching.er.settings import DEFAULTS, BlockingRule, ComparisonSpec, EntitySettings, SettingsError

__all__ = [
    "DEFAULTS",
    "BlockingRule",
    "ComparisonSpec",
    "EntitySettings",
    "MentionsError",
    "Model",
    "Resolution",
    "ResolutionState",
    "SettingsError",
    "StateError",
    "TrainingError",
    "evaluate_resolution",
    "explain_entity",
    "explain_pair",
    "format_entity",
    "format_pair",
    "golden_records",
    "new_entity_id",
    "normalise_decisions",
    "pairwise_scores",
    "resolve",
    "resolve_delta",
    "source_xref",
]
