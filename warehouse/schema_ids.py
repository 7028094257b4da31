"""The declaration of ``id_history`` (实体编号变更), the table of merged, split and retired entity ids.

It lives beside :mod:`warehouse.schema` (which lists it in ``TABLES`` like every other table) because that
module is full; build it with :func:`id_history_table` from there, and nowhere else.
"""

from __future__ import annotations

from warehouse.schema_base import Column, I, S, Table

#: Why an entity id changed (see docs/entity-resolution.md, "Stable ids"): ``merge`` = the id was folded into
#: another entity's id; ``split`` = some of the id's records went to an entity with a new id; ``retired`` = no
#: record of the id is left (its records were withdrawn, or a full extract no longer holds them).
ID_CHANGE_REASONS = ("merge", "split", "retired")


def id_history_table(entity_types: tuple[str, ...]) -> Table:
    """The ``id_history`` table: every merge, split and retirement of an entity id, over all published runs."""
    return Table(
        name="id_history",
        chinese="实体编号变更",
        doc="Every change of an entity id since the warehouse's first snapshot: ids merged into another, split "
        "off into a new one, or retired. A system that keys its own data on gridhub ids reads the rows with a "
        "`run_seq` above the last one it saw and moves its data from `old_id` to `new_id`. The table "
        "accumulates: each snapshot holds the previous snapshot's rows plus those of its own run. Rows come "
        "in `run_seq` order.",
        key=("run_seq", "entity_type", "old_id", "reason", "new_id"),
        columns=(
            Column(
                "entity_type",
                S,
                "person / organisation / house / facility.",
                nullable=False,
                values=entity_types,
            ),
            Column(
                "old_id",
                S,
                "The id that changed (no longer names the entity, except in a split).",
                nullable=False,
            ),
            Column(
                "new_id",
                S,
                "merge: the id the entity now has; split: the new id of the part that left; retired: null.",
            ),
            Column("reason", S, "merge / split / retired.", nullable=False, values=ID_CHANGE_REASONS),
            Column(
                "records",
                I,
                "Records of `old_id` that went to `new_id` (0 for retired).",
                nullable=False,
            ),
            Column("run_id", S, "The run that made the change (its snapshot's run id).", nullable=False),
            Column(
                "run_seq",
                I,
                "When, as an order: 1 for the first run that changed any id, then one more for each later run "
                "that did. Rows of one run share it. The wall-clock time of a run is its snapshot manifest's "
                "`published_at` (the data files hold nothing time-dependent, so the same inputs give the same "
                "bytes).",
                nullable=False,
            ),
        ),
    )
