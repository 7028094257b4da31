"""Identity evidence (``requires_any``): what a match needs beyond a high sum of weights.

Fellegi–Sunter adds the weights of the comparisons as if they were independent given the match status. Within
a household they are not: two members share a phone, an address and a surname, so agreements that are each
rare among random pairs add up (at 100,000 people +16.9 bits for the phone and +14.8 for the address against
−5.4 for a different name and −5.4 for a different birth date) and join two people. No weight can fix that —
the evidence is simply not independent — so the settings name the comparisons that carry a record's *own*
identity and the levels at which they agree::

    requires_any:
      - {id_number: [exact, one_char, transposition]}
      - {name: [exact, homophone, one_char]}
      - {name: [missing], birth_date: [exact, day_month_swap, one_digit]}

A candidate pair must satisfy one alternative (every comparison it names at one of its levels; ``missing``:
one side has no value). A pair that satisfies none is *held back*: its probability is capped halfway between
``thresholds.cannot_link`` and ``thresholds.review`` — not a match, not a review item, and not evidence against
either (it does not keep the two apart when other records join them). The weights themselves, EM and u are
unchanged: the rule is a gate after scoring, so explain still shows every comparison's weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matching.er.scoring import Model
from matching.er.settings import EntitySettings, RequiresAny, SettingsError, Thresholds

#: The level name ``requires_any`` uses for "one side has no value" (level -1 of every comparison).
MISSING_LEVEL = "missing"


def parse_requires_any(raw: Any, where: str) -> RequiresAny:
    """``requires_any`` from config: a mapping ``{comparison: [levels]}`` (each entry one alternative) or a list
    of such mappings (each mapping one alternative whose entries must all hold). Empty or absent: no rule."""
    if raw is None:
        return ()
    if isinstance(raw, dict):
        alternatives: list = [{k: v} for k, v in raw.items()]
    elif isinstance(raw, (list, tuple)):
        alternatives = list(raw)
    else:
        raise SettingsError(
            f"{where}: a mapping {{comparison: [levels]}} or a list of such mappings; got {raw!r}"
        )
    out = []
    for alt in alternatives:
        if not isinstance(alt, dict) or not alt:
            raise SettingsError(
                f"{where}: each alternative is a non-empty mapping {{comparison: [levels]}}; got {alt!r}"
            )
        conditions = []
        for comparison, levels in alt.items():
            levels = (levels,) if isinstance(levels, str) else levels
            if (
                not isinstance(levels, (list, tuple))
                or not levels
                or not all(isinstance(x, str) for x in levels)
            ):
                raise SettingsError(f"{where}.{comparison}: a non-empty list of level names; got {levels!r}")
            conditions.append((str(comparison), tuple(levels)))
        out.append(tuple(conditions))
    return tuple(out)


def validate_requires_any(settings: EntitySettings) -> None:
    """Raise :class:`SettingsError` when ``requires_any`` names a comparison or level the settings lack."""
    from matching.er.comparisons import COMPARISON_KINDS

    where = f"matching.{settings.entity_type}"
    named = {comparison for alternative in settings.requires_any for comparison, _ in alternative}
    levels = {
        c.name: COMPARISON_KINDS[c.kind](c).levels if c.name in named else () for c in settings.comparisons
    }
    for alternative in settings.requires_any:
        for comparison, accepted in alternative:
            if comparison not in levels:
                raise SettingsError(
                    f"{where}.requires_any: no comparison named {comparison!r} (comparisons: "
                    f"{sorted(levels)}); name another or set requires_any: [] to turn the rule off"
                )
            unknown = sorted(set(accepted) - {*levels[comparison], MISSING_LEVEL})
            if unknown:
                raise SettingsError(
                    f"{where}.requires_any.{comparison}: unknown levels {unknown}; its levels are "
                    f"{[*levels[comparison], MISSING_LEVEL]}"
                )


# ---- applying the rule to scored pairs -------------------------------------------------------------------
def requires_any_mask(
    levels: np.ndarray, comparisons: list[str], level_names: list[list[str]], requires_any: RequiresAny
) -> np.ndarray:
    """Per pair (row of ``levels``): some alternative of ``requires_any`` holds — each comparison it names is at
    one of the accepted levels (``missing``: one side has no value). All True when there is no rule."""
    if not requires_any:
        return np.ones(len(levels), dtype=bool)
    position = {name: k for k, name in enumerate(comparisons)}
    out = np.zeros(len(levels), dtype=bool)
    for alternative in requires_any:
        holds = np.ones(len(levels), dtype=bool)
        for comparison, accepted in alternative:
            k = position[comparison]
            names = level_names[k]
            codes = [names.index(x) for x in accepted if x in names]
            if MISSING_LEVEL in accepted:
                codes.append(-1)
            holds &= np.isin(levels[:, k], np.asarray(codes, dtype=np.int8))
        out |= holds
    return out


def held_back_probability(thresholds: Thresholds) -> float:
    """The probability a pair without identity evidence is capped at: halfway between ``cannot_link`` and
    ``review``, so it is neither a match, nor a review item, nor a cannot-link pair."""
    return (thresholds.cannot_link + thresholds.review) / 2


def hold_back(
    weight: np.ndarray,
    probability: np.ndarray,
    levels: np.ndarray,
    model: Model,
    settings: EntitySettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights and probabilities with the pairs that lack identity evidence (``settings.requires_any``) capped
    at :func:`held_back_probability`; also the mask of the pairs the cap lowered (the rule held them back)."""
    passed = requires_any_mask(levels, model.comparisons, model.levels, settings.requires_any)
    cap = held_back_probability(settings.thresholds)
    held = ~passed & (probability > cap)
    if held.any():
        weight = weight.copy()
        probability = probability.copy()
        probability[held] = cap
        weight[held] = np.log2(cap / (1 - cap))
    return weight, probability, held
