"""Two feed settings that bound what a feed accepts: ``value_rules`` (what a typed value must be to make sense)
and a file source's ``limits`` (how big an xlsx workbook may be once inflated).

Both have defaults that suit every department feed seen so far; a feed overrides only what it needs::

    value_rules:
      house_area: {max: 500000}         # a feed of industrial parks: larger premises
      birth_date: {min: 1890-01-01}
    source:
      kind: file
      glob: "*.xlsx"
      limits: {max_rows: 200000}

The defaults of ``value_rules`` are the staging contract's (:class:`warehouse.staging.ValueRule` of each
:data:`warehouse.staging.STAGING_FIELDS` entry); the xlsx limits are :class:`XlsxLimits`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warehouse.staging import STAGING_FIELDS, TODAY, FieldKind, ValueRule


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueRuleSpec(_Strict):
    """A feed's override of a field's sanity rule; a key left out keeps the default, ``null`` turns it off."""

    min: dt.date | float | None = Field(None, description="Smallest allowed value (a date or a number).")
    max: dt.date | Literal["today"] | float | None = Field(
        None, description="Largest allowed value (a date, `today`, or a number)."
    )
    above: float | None = Field(None, description="Numbers only: the value must be greater than this.")

    @model_validator(mode="after")
    def _order(self) -> ValueRuleSpec:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None and hi != TODAY and type(lo) is type(hi) and lo > hi:  # type: ignore[operator]
            raise ValueError(f"min {lo} is greater than max {hi}")
        return self


def check_value_rules(rules: dict[str, ValueRuleSpec], mapped: list[str]) -> None:
    """Raise ``ValueError`` (a config error naming the field) for a rule the feed cannot apply."""
    for name, spec in rules.items():
        if name not in mapped:
            raise ValueError(f"value_rules names field {name!r}, which no column maps to")
        kind = STAGING_FIELDS[name].kind
        given = {k: getattr(spec, k) for k in spec.model_fields_set if getattr(spec, k) is not None}
        if kind is FieldKind.DATE:
            if "above" in given:
                raise ValueError(f"value_rules.{name}: 'above' is for numbers; {name} is a date")
            bad = [k for k, v in given.items() if not isinstance(v, dt.date) and v != TODAY]
            if bad:
                raise ValueError(
                    f"value_rules.{name}: {', '.join(bad)} must be dates (YYYY-MM-DD) or 'today'"
                )
        elif kind is FieldKind.FLOAT:
            bad = [k for k, v in given.items() if isinstance(v, dt.date | str)]
            if bad:
                raise ValueError(f"value_rules.{name}: {', '.join(bad)} must be numbers; {name} is a number")
        else:
            raise ValueError(f"value_rules.{name}: only date and number fields have value rules")


def effective_rule(name: str, spec: ValueRuleSpec | None) -> ValueRule | None:
    """The contract's default rule of field ``name`` with a feed's override applied (key by key)."""
    base = STAGING_FIELDS[name].rule or ValueRule()
    if spec is not None:
        base = dataclasses.replace(base, **{k: getattr(spec, k) for k in spec.model_fields_set})
    if base.min is None and base.max is None and base.above is None:
        return None
    return base


class XlsxLimits(_Strict):
    """Bounds on an xlsx workbook, checked while it is streamed, before a cell of it is staged.

    A workbook is a zip of XML parts: a 1 MB file can inflate to gigabytes (a zip bomb), hold millions of empty
    rows, or one cell of a billion spaces. Every bound is checked on the inflated bytes as they stream; the file
    is refused (``workbook_too_large``) the moment one is passed, so memory stays bounded whatever is sent.
    The defaults are Excel's own limits where it has one (1,048,576 rows, 16,384 columns, 32,767 characters in
    a cell) and, for sizes, ten times the largest real department extract seen.
    """

    max_part_bytes: int = Field(
        1 << 30,
        ge=1 << 20,
        description="Largest inflated size of the sheet or the shared-strings part (bytes; 1 GiB).",
    )
    max_inflate_ratio: int = Field(
        200,
        ge=10,
        description="Largest ratio of a part's inflated to its compressed size, for parts inflating past "
        "16 MiB (real sheets compress 5–50 times; a zip bomb 1000 times, as in Apache POI's check).",
    )
    max_other_part_bytes: int = Field(
        32 << 20,
        ge=1 << 20,
        description="Largest inflated size of any other part of the workbook (styles, workbook.xml …; "
        "these are parsed whole).",
    )
    max_other_part_elements: int = Field(
        500_000,
        ge=1_000,
        description="Most XML elements in any of those other parts (a styles part of a million formats).",
    )
    max_rows: int = Field(1_048_576, ge=1, description="Largest row number in the sheet (Excel's limit).")
    max_columns: int = Field(16_384, ge=1, description="Largest column in the sheet (Excel's limit, XFD).")
    max_shared_strings: int = Field(
        2_000_000, ge=1, description="Most distinct strings the workbook may share between its cells."
    )
    max_shared_string_chars: int = Field(
        64_000_000, ge=1, description="Most characters in all shared strings together."
    )
    max_cell_chars: int = Field(32_767, ge=1, description="Most characters in one cell (Excel's limit).")


__all__ = ["ValueRuleSpec", "XlsxLimits", "check_value_rules", "effective_rule"]
