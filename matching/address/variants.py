"""The forms a library name is also written in: 湖滨社区 = 湖滨居委会 = 湖滨 …, 阳光花园 = 阳光花园小区 = 阳光小区.

The variants are derived from the library's own names and the suffix rules of :mod:`matching.address.rules`
(never from a list of place names); the division file's ``aliases`` add more. An exact name always beats a
variant of another name (:class:`Vocabulary`).
"""

from __future__ import annotations

import re

from matching.address.rules import (
    COMMUNITY_BARE,
    COMMUNITY_FORMS,
    DIVISION_SUFFIXES,
    ESTATE_BARE,
    ESTATE_FORMS,
    STREET_BARE,
    STREET_FORMS,
    VILLAGE_BARE,
    VILLAGE_CODE,
    VILLAGE_FORMS,
)

_URBAN_CODE = re.compile(r"^\d{9}[01]\d{2}$")
#: Shortest bare name known on its own (湖滨 yes, 湖 no).
MIN_BARE = 2


def _community_forms(code: str, name: str) -> set[str]:
    """A community's or village's name in every form of its kind, and bare (湖滨社区 → 湖滨, 湖滨居委会 …)."""
    forms: tuple[str, ...]
    if COMMUNITY_BARE.search(name):
        bare, forms = COMMUNITY_BARE.sub("", name), COMMUNITY_FORMS
    elif VILLAGE_BARE.search(name) and not _URBAN_CODE.match(code):
        bare, forms = VILLAGE_BARE.sub("", name), VILLAGE_FORMS
    else:  # no suffix: the statistical code says which kind it is
        bare, forms = name, VILLAGE_FORMS if VILLAGE_CODE.match(code) else COMMUNITY_FORMS
    if not bare:
        return {name}
    out = {name, *(bare + f for f in forms)}
    if len(bare) >= MIN_BARE:
        out.add(bare)
    return out


def _street_forms(name: str) -> set[str]:
    if STREET_BARE.search(name):
        bare = STREET_BARE.sub("", name)
        out = {name, *(bare + f for f in STREET_FORMS)} if bare else {name}
        return out | ({bare} if len(bare) >= MIN_BARE else set())
    return _short_form(name)


def _short_form(name: str) -> set[str]:
    """The name and the name without its division suffix (东湖街道 → 东湖, 石岭镇 → 石岭)."""
    for suffix in DIVISION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= MIN_BARE:
            return {name, name[: -len(suffix)]}
    return {name}


def division_forms(code: str, level: str, name: str, aliases: str) -> list[str]:
    """Every form a division is written in: its name and aliases (``|``-separated), each with the forms of its
    level (community / village suffixes, 街道 / 街道办事处 / 街道办, the bare name), sorted."""
    names = {name, *[a for a in aliases.split("|") if a]}
    out: set[str] = set()
    for n in names:
        if level == "community":
            out |= _community_forms(code, n)
        elif level == "street":
            out |= _street_forms(n)
        else:
            out |= _short_form(n)
    return sorted(out)


def estate_forms(estate: str) -> list[str]:
    """An estate's name and its 小区 / 花园 variants (阳光花园 → 阳光, 阳光小区, 阳光花园小区), sorted."""
    bare = ESTATE_BARE.sub("", estate) or estate
    out = {estate, *(bare + f for f in ESTATE_FORMS)}
    if len(bare) >= MIN_BARE:
        out.add(bare)
    return sorted(out)


__all__ = ["division_forms", "estate_forms"]
