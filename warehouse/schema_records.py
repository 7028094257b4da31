"""The declarations of the tables about input records rather than entities: ``quarantine``, ``address_review``,
``address_binding`` and ``field_issue``.

They live beside :mod:`warehouse.schema`, which lists them in ``TABLES`` like every other table, because that
module would otherwise pass the project's 500-line limit; import them from there.
"""

from __future__ import annotations

import pyarrow as pa

from warehouse.schema_base import Column, F, I, S, Table


def column(name: str, type_: pa.DataType, doc: str, **kw) -> Column:
    """A column declaration, positional as the tables read best (also used by :mod:`warehouse.schema`)."""
    return Column(name=name, type=type_, doc=doc, **kw)


_c = column


#: Entity types of the warehouse (also the ``entity_type`` values of source_xref, address_binding, id_history).
ENTITY_TYPES = ("person", "organisation", "house", "facility")
BINDING_STATUSES = ("matched", "ambiguous", "unmatched")


QUARANTINE = Table(
    name="quarantine",
    chinese="隔离区",
    doc="Input rows that could not be staged, or failed a row rule, with the reason.",
    key=("feed", "raw_sha256", "line", "column", "reason_code"),
    columns=(
        _c("feed", S, "Feed name.", nullable=False),
        _c("raw_sha256", S, "SHA-256 of the raw file.", nullable=False),
        _c("file_name", S, "File name as received."),
        _c("line", I, "Line number in the source (1 = header line).", nullable=False),
        _c("column", S, "Source column, where one is to blame."),
        _c("reason_code", S, "Reason code (see warehouse.reasons.ReasonCode).", nullable=False),
        _c("message", S, "What is wrong, in words."),
        _c(
            "original_text",
            S,
            "The original row or value, as text: whatever the department typed (numbers in any form), so "
            "restricted layer only: null in shared.",
            restricted_only=True,
        ),
    ),
)

ADDRESS_REVIEW = Table(
    name="address_review",
    chinese="地址待核",
    doc="Addresses that could not be bound confidently, with their best candidates, for a person to review.",
    key=("feed", "source_record_id", "field"),
    columns=(
        _c("feed", S, "Feed name.", nullable=False),
        _c("source_record_id", S, "Record id.", nullable=False),
        _c("field", S, "Which address field of the record.", nullable=False),
        _c("address_text", S, "The address as given."),
        _c("status", S, "unmatched / ambiguous.", values=("unmatched", "ambiguous")),
        _c("candidates", S, "JSON list of the best candidates with scores."),
    ),
)

ADDRESS_BINDING = Table(
    name="address_binding",
    chinese="地址绑定",
    doc="Every address field of every source record bound to the standard address library and grids: a "
    "department gets its own records back with standard address and grid codes (数据回流), keyed by its "
    "feed and record id. The address text is the department's own and personal: it is published in "
    "`restricted` only (null in `shared`). Join `source_xref` on (feed, source_record_id, entity_type) for "
    "the entity each record was resolved to.",
    key=("feed", "source_record_id", "entity_type", "field"),
    columns=(
        _c("feed", S, "Feed name from gridhub.yaml.", nullable=False),
        _c("source_record_id", S, "The record's id in its source.", nullable=False),
        _c(
            "entity_type",
            S,
            "The mention the address belongs to: person / organisation / house / facility.",
            nullable=False,
            values=ENTITY_TYPES,
        ),
        _c(
            "field",
            S,
            "Staging field of the address: address, hukou_address, org_address (注册), "
            "org_business_address (经营).",
            nullable=False,
        ),
        _c(
            "address_text",
            S,
            "The address as the department gave it (normalised). Restricted layer only: null in shared.",
            restricted_only=True,
        ),
        _c("address_code", S, "Standard address bound (matched only).", references="address.address_code"),
        _c("building_code", S, "Standard building bound (matched only)."),
        _c(
            "grid_code",
            S,
            "Grid of the bound place, where one grid holds it.",
            references="grid.grid_code",
        ),
        _c(
            "level",
            S,
            "Finest address level confirmed (room / unit / building / house_number / ... / none).",
        ),
        _c("score", F, "Binding score, 0–1."),
        _c("method", S, "How the place was read (road, estate, villager_group, ...; +backoff)."),
        _c(
            "status",
            S,
            "matched / ambiguous / unmatched (the latter two also wait in `address_review`).",
            nullable=False,
            values=BINDING_STATUSES,
        ),
    ),
)

FIELD_ISSUE = Table(
    name="field_issue",
    chinese="字段问题",
    doc="Staged records whose value failed a field rule (e.g. an ID with a bad check digit): the record is "
    "kept and resolved without that value, and the value is flagged here with a reason.",
    key=("feed", "source_record_id", "field", "reason_code"),
    columns=(
        _c("feed", S, "Feed name.", nullable=False),
        _c("source_record_id", S, "Record id.", nullable=False),
        _c("field", S, "Canonical staging field.", nullable=False),
        _c("reason_code", S, "Reason code (see warehouse.reasons.ReasonCode).", nullable=False),
        _c(
            "original_value",
            S,
            "The value as the department gave it: restricted layer only, null in shared (it may be a "
            "mistyped ID number or phone in any form).",
            restricted_only=True,
        ),
    ),
)
