"""Whether a standard address library can bind at all: columns whose values don't look like their element.

A library written in forms no rule reads (a house number column of ``甲``, rooms ``A-501``, the whole address in
the road column) loads without error and binds almost nothing. :func:`library_problems` says so, one sentence
per problem, so that the application can refuse the library with a clear message instead of binding nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from matching.address.rules import ELEMENT_MARKERS, ELEMENT_VALUE

if TYPE_CHECKING:
    from matching.address.library import AddressLibrary

#: Share of a column's non-empty values that may fail to look like their element before it is a problem.
MAX_BAD_SHARE = 0.2
#: Name columns that must carry no number (a number there is a house number or building in the wrong column).
NAME_COLUMNS = ("road", "estate")
_EXAMPLES = 3


def _examples(values: pd.Series) -> str:
    uniq = sorted(pd.unique(values.astype(str)))[:_EXAMPLES]
    return ", ".join(repr(v) for v in uniq)


def _bad_share(column: str, given: pd.Series, bad: pd.Series, what: str, max_share: float) -> list[str]:
    n, n_bad = len(given), int(bad.sum())
    if n == 0 or n_bad / n <= max_share:
        return []
    return [
        f"{column}: {n_bad:,} of {n:,} values ({n_bad / n:.1%}) {what} after normalisation "
        f"(e.g. {_examples(given[bad])})"
    ]


def library_problems(library: AddressLibrary, max_bad_share: float = MAX_BAD_SHARE) -> list[str]:
    """Problems that make ``library`` bind little or nothing, one sentence each, in a fixed order; ``[]`` when
    the library looks usable.

    Checked after the library's own normalisation (:func:`~matching.address.canonical.library_element`, the
    parser's rules): a numbered element column (house_number, building, unit, floor, room, villager_group) more
    than ``max_bad_share`` of whose non-empty values are no number; a road or estate column more than
    ``max_bad_share`` of whose values carry a number; community codes that are not 12 digits; no road, estate
    or villager group anywhere; nothing finer than a road anywhere; no address at all.
    """
    lib = library.addresses
    if lib.empty:
        return ["the standard address library has no addresses"]
    out: list[str] = []
    code = lib["division_code"]
    out += _bad_share(
        "division_code", code, ~code.str.fullmatch(r"\d{12}"), "are no 12-digit community code", max_bad_share
    )
    for column in ELEMENT_MARKERS:
        given = lib.loc[lib[column] != "", column]
        bad = ~given.str.fullmatch(ELEMENT_VALUE[column])
        out += _bad_share(column, given, bad, "have no number", max_bad_share)
    for column in NAME_COLUMNS:
        given = lib.loc[lib[column] != "", column]
        out += _bad_share(column, given, given.str.contains(r"\d"), "carry a number", max_bad_share)
    if not (lib[["road", "estate", "villager_group"]] != "").any(axis=None):
        out.append(
            "no address names a road, estate or villager group: nothing can be bound below a community"
        )
    if not (lib[["house_number", "building", "room", "villager_group"]] != "").any(axis=None):
        out.append(
            "no address has a house number, building, room or villager group: nothing can be bound below a road"
        )
    return out


__all__ = ["MAX_BAD_SHARE", "library_problems"]
