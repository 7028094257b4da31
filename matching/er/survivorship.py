"""Survivorship (存活规则) settings: which value of each field an entity's golden record keeps.

Part of an entity type's settings (:class:`matching.er.settings.EntitySettings`, ``survivorship:`` in
``gridhub.yaml``); applied by :func:`matching.er.golden.golden_records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Survivorship:
    """Per-field survivorship for golden records.

    Rules are applied in order until one value is left: ``priority`` (feed priority, high wins), ``recent``
    (latest ``record_date``), ``complete`` (longest value), ``frequent`` (most records agree). Ties end on
    the smallest record_key, so the result is deterministic.
    """

    default: tuple[str, ...] = ("priority", "recent", "complete")
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    include: tuple[str, ...] | None = None  # fields that survive; None = every non-meta mention column
    rename: dict[str, str] = field(default_factory=dict)  # mention column → golden column
    collect: dict[str, str] = field(
        default_factory=dict
    )  # golden list column → mention column (other values)
    null_values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # values that count as missing
    # evidence for matching only, never in golden records (id_number_given: a person's ID number, valid or not)
    exclude: tuple[str, ...] = ()

    def rules_for(self, column: str) -> tuple[str, ...]:
        """The survivorship rules of golden column ``column``, in order."""
        return tuple(self.fields.get(column, self.default))

    @classmethod
    def from_config(cls, raw: dict) -> Survivorship:
        """From the ``survivorship:`` mapping of an entity type's config (defaults merged in already)."""
        return cls(
            default=tuple(raw.get("default", cls.default)),
            fields={k: tuple(v) for k, v in raw.get("fields", {}).items()},
            include=tuple(raw["include"]) if raw.get("include") else None,
            rename=dict(raw.get("rename", {})),
            collect=dict(raw.get("collect", {})),
            null_values={k: tuple(v) for k, v in raw.get("null_values", {}).items()},
            exclude=tuple(raw.get("exclude", ())),
        )
