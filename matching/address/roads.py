"""Roads the library has that a road name of the text the library lacks may stand for (typos).

Departments key road names through a pinyin input method, so the usual slip is a homophone (和田路 for
禾田路, 欣围路 for 新围路) or one wrong character (新国路 for 新围路). :class:`RoadIndex` finds them among the roads
of the communities the text allows, and says how sure it is:

* one road sounds the same, and no other road in scope is one character away → ``pinyin_road``,
  :data:`~matching.address.scores.PINYIN_ROAD_SCORE`;
* no road sounds the same, one road is one character away (same length, same road word, the character not
  written as a direction or numeral: 滨江中路 is not a typo of 滨江东路, 东湖三路 not of 东湖二路) and the text
  names a division → ``typo_road``, :data:`~matching.address.scores.TYPO_ROAD_SCORE`;
* several roads as close → each at :data:`~matching.address.scores.AMBIGUOUS_ROAD_SCORE` (never matched);
* else rapidfuzz ratio ≥ :data:`~matching.address.scores.FUZZY_ROAD_CUTOFF` → ``fuzzy_road``, 0.7 × ratio.
"""

from __future__ import annotations

from functools import lru_cache

from matching.address.rules import NUMERAL, ROAD_DISTINCT, ROAD_WORD
from matching.address.scores import (
    AMBIGUOUS_ROAD_SCORE,
    FUZZY_ROAD_CUTOFF,
    PINYIN_ROAD_SCORE,
    TYPO_ROAD_SCORE,
)

#: A road read from a typo: (library road, block score, method).
RoadGuess = tuple[str, float, str]
#: Methods of a road found from a typo that may still be matched (when nothing else had to be dropped).
TYPO_METHODS = ("pinyin_road", "typo_road")
#: Shortest road name (without 路 / 街 / 大道 …) a one-character typo is looked for in.
MIN_TYPO_BASE = 2


def _split(road: str) -> tuple[str, str]:
    m = ROAD_WORD.search(road)
    return (road[: m.start()], m.group(0)) if m else (road, "")


@lru_cache(maxsize=65536)
def _readings(ch: str) -> frozenset[str]:
    """Every tone-less reading of a character (重 → zhong, chong; a non-Chinese character → itself)."""
    from pypinyin import Style, pinyin

    return frozenset(pinyin(ch, heteronym=True, style=Style.NORMAL)[0])


def sounds_like(text: str, road: str) -> bool:
    """Whether ``text`` reads like ``road`` character by character (和田路 / 禾田路; 重山路 / 中山路: a
    polyphone counts in any of its readings)."""
    if len(text) != len(road) or text == road:
        return False
    return all(a == b or _readings(a) & _readings(b) for a, b in zip(text, road, strict=True))


def one_substitution(text: str, road: str) -> bool:
    """Whether ``text`` is ``road`` with one character of its name replaced: not in its road word, not by a
    direction (滨江中路 for 滨江东路 names another road), and not a numeral on either side (东湖X路 for 东湖二路
    could be any road of the series)."""
    if len(text) != len(road) or text == road:
        return False
    base, word = _split(road)
    t_base, t_word = _split(text)
    if word != t_word or len(base) != len(t_base) or len(base) < MIN_TYPO_BASE:
        return False
    diff = [(a, b) for a, b in zip(t_base, base, strict=True) if a != b]
    return (
        len(diff) == 1
        and diff[0][0] not in ROAD_DISTINCT
        and diff[0][0] not in NUMERAL
        and diff[0][1] not in NUMERAL
    )


class RoadIndex:
    """The library's roads and the communities they run through."""

    def __init__(self, road_communities: dict[str, frozenset[str]]):
        self.road_communities = road_communities
        self._roads = sorted(road_communities)

    def in_scope(self, comms: frozenset[str] | None) -> list[str]:
        if comms is None:
            return self._roads
        return [r for r in self._roads if self.road_communities[r] & comms]

    def similar(self, text: str, comms: frozenset[str] | None) -> list[RoadGuess]:
        """Library roads ``text`` may be a typo of, within the communities ``comms`` (None: anywhere)."""
        allowed = self.in_scope(comms)
        same_sound = [r for r in allowed if sounds_like(text, r)]
        one_char = [r for r in allowed if one_substitution(text, r)]
        close = sorted(set(same_sound) | set(one_char))
        if same_sound or one_char:
            if len(same_sound) == 1 and set(one_char) <= set(same_sound):
                return [(same_sound[0], PINYIN_ROAD_SCORE, "pinyin_road")]
            if not same_sound and len(one_char) == 1 and comms is not None:
                return [(one_char[0], TYPO_ROAD_SCORE, "typo_road")]
            return [
                (r, AMBIGUOUS_ROAD_SCORE, "pinyin_road" if r in same_sound else "typo_road") for r in close
            ]
        from rapidfuzz import fuzz, process

        hits = process.extract(text, allowed, scorer=fuzz.ratio, score_cutoff=FUZZY_ROAD_CUTOFF, limit=3)
        return [(r, 0.7 * s / 100, "fuzzy_road") for r, s, _ in hits]


__all__ = ["TYPO_METHODS", "RoadGuess", "RoadIndex", "one_substitution", "sounds_like"]
