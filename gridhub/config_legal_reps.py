"""The ``legal_representatives:`` section of ``gridhub.yaml``: the rules of :mod:`matching.roles`."""

from __future__ import annotations

from pydantic import Field

from gridhub.config_base import Strict as _Strict


class LegalRepresentatives(_Strict):
    """How 市场监管's 法定代表人 are linked to resolved persons (`matching.roles`, docs/entity-resolution.md)."""

    min_age: int = Field(
        16,
        ge=0,
        le=30,
        description="A person younger than this on the data's as-of date (the newest birth, 成立日期 or record "
        "date the inputs carry), by every birth date known for them, is never taken for a legal representative "
        "and does not make an adult's name common. 16 is the law's floor (full civil capacity: 民法典 art. 17-18); "
        "0 turns the rule off.",
    )
    homophone_fallback: bool = Field(
        True,
        description="When every person with the representative's name as written lacks evidence, or the "
        "representative's ID (in full or masked) rules every one of them out, persons whose name sounds the same (same surname character, same tone-less pinyin) are candidates too, with the "
        "stronger evidence a homophone always needs (not the building, grid or a shared phone).",
    )
