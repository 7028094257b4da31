"""Levels, statuses, scores and thresholds of an address binding: the numbers to tune."""

from __future__ import annotations

#: Matching levels, finest first.
LEVELS = ("room", "unit", "building", "house_number", "road", "community", "none")
STATUSES = ("matched", "ambiguous", "unmatched")

#: Lowest score a binding may have to count as ``matched``.
MATCH_THRESHOLD = 0.8
#: Score lost for each detail element the library could not confirm and the matcher had to drop.
DROP_PENALTY = {"room": 0.15, "unit": 0.1, "estate": 0.1, "building": 0.3, "house_number": 0.3}
#: Score lost per stretch of text in the place the library does not know (e.g. "住址:" or a shop sign).
UNKNOWN_TEXT_PENALTY = 0.05
#: Factor applied when the divisions named contradict the road/estate and had to be ignored.
CONFLICT_FACTOR = 0.6
#: Block scores of a road the library lacks read as a typo of one it has (:mod:`matching.address.roads`): the
#: one road in scope that sounds the same (宾江路 → 滨江路), the one road in scope one character away (新国路 →
#: 新围路, only when a division is named), several roads as close (never matched); and the rapidfuzz cut-off
#: for other roads (0.7 × ratio, never matched). A typo'd road is matched only when every detail element the
#: text gives exists under it (no element dropped).
PINYIN_ROAD_SCORE = 0.9
TYPO_ROAD_SCORE = 0.85
AMBIGUOUS_ROAD_SCORE = 0.7
FUZZY_ROAD_CUTOFF = 75.0
MAX_CANDIDATES = 5
#: Block score of a villager group found without any village or town in the text, and of a whole community
#: when the text names neither road, estate nor group (never enough to match).
WEAK_GROUP_SCORE = 0.7
#: Block score of an estate or community when the text also names a road the library does not have.
UNKNOWN_ROAD_FACTOR = 0.7
