"""Chinese address parsing and matching to the standard address library (标准地址库).

Department addresses are free text that rarely matches the library letter for letter: upper levels missing
(no 省/市/区), community abbreviations (湖滨 for 湖滨社区), Chinese numerals (十八号, 三栋), 栋/幢/号楼/座,
rooms written ``501``, ``5楼501``, ``2-501``, ``2单元501``, villager groups as 组 / 三组 / 第三村民小组,
full-width digits, 繁体, and addresses outside the district altogether (a migrant's 户籍 in another
province), which must come out *unmatched*, never bound.

How an address is read (:func:`parse_addresses`)
    1. *Canonical text* (vectorised, Arrow): :func:`~matching.text.normalize_text`, spaces and punctuation
       dropped, Chinese numerals converted where they count (before 号/栋/单元/室/楼/组), marker words unified
       (幢/号楼/座/# → 栋, 村民小组/小组/队 → 组, 层 → 楼, 房/户 → 室), dash forms spelled out
       (``3-2-501`` → 3栋2单元501室, ``2-501`` → 2单元501室).
    2. *Detail* (vectorised, one RE2 pattern): everything before the first digit is the *place*; then
       villager group, house number (号), estate text, building (栋), unit (单元), floor (楼), room (室).
    3. *Place* (per distinct place string, which feeds repeat a lot): segmented against the library's
       vocabulary — division names, their aliases and short forms, road and estate names — by dynamic
       programming (most characters covered, fewest tokens). Text the library does not know is classified:
       a division word (…省, …市, …县, …镇, …村) means the address lies elsewhere; a road word (…路, …街) is
       read as a typo of a library road (same sound, one character; :mod:`~matching.address.roads`) or
       looked up by rapidfuzz, within the communities the rest of the address allows. Divisions and estates
       are known in every form of their kind (:mod:`~matching.address.variants`: 湖滨社区 = 湖滨居委会 = 湖滨).

How an address is matched (:func:`match_addresses`)
    The place yields candidate *blocks* — (community, road), (community, estate), (village, villager group) or
    a whole community — consistent with every division the text names. The detail is joined to the library
    within those blocks on the elements the text gives (hash joins on pre-aggregated library tables, grouped
    by which elements are present; an estate named beside a road narrows the road). Where nothing fits, the
    finest element is dropped and the join retried (room, unit, estate, building, house number), at a cost in
    score. The result is bound to an address when one library row remains, to a building when one building
    remains, to a grid when all remaining rows share it.

Statuses: ``matched`` = bound to one building (or finer) with score ≥ :data:`MATCH_THRESHOLD` and no
contradiction; ``ambiguous`` = candidates exist but not one building, or the evidence is weak (fuzzy road,
contradicting divisions, elements dropped, a villager group or community with nothing more); ``unmatched`` =
nothing in the library fits, or the text names a division outside it. Only matched rows carry an address /
building code; ambiguous and unmatched rows carry up to :data:`MAX_CANDIDATES` candidates for review.
See ``docs/addresses.md`` for thresholds and measured accuracy and speed.

The library's element columns are read with the parser's rules (7号, 1栋, 501室 → digits);
:func:`library_problems` says when a library would bind little or nothing.

Modules: :mod:`~matching.address.rules` (the normalisation rules and vocabulary), :mod:`~.canonical` (canonical
text and detail), :mod:`~.library` (:class:`AddressLibrary`), :mod:`~.parse` (place reading, elements),
:mod:`~.match` (blocks, joins, scores), :mod:`~.variants` (name forms), :mod:`~.roads` (typo'd roads),
:mod:`~.checks` (:func:`library_problems`), :mod:`~.review` (candidates), :mod:`~.binding` (the mention frames'
address fields bound), :mod:`~.scores` (thresholds).
"""

from matching.address.aliases import ALIAS_COLUMNS, ALIAS_DECISIONS, apply_aliases, stale_aliases
from matching.address.binding import (
    ADDRESS_FIELD_OF,
    BOUND_COLUMNS,
    TEXTS_PER_PARTITION,
    TextPartition,
    address_fields,
    bind_address_fields,
    bind_frame,
    concat_bindings,
    match_distinct,
)
from matching.address.canonical import canonical_address_text
from matching.address.checks import library_problems
from matching.address.library import AddressLibrary, LibraryError, Meaning
from matching.address.match import RESULT_COLUMNS, match_addresses
from matching.address.parse import ELEMENTS, PlaceReading, parse_addresses, read_place
from matching.address.review import review_table
from matching.address.scores import (
    AMBIGUOUS_ROAD_SCORE,
    CONFLICT_FACTOR,
    DROP_PENALTY,
    FUZZY_ROAD_CUTOFF,
    LEVELS,
    MATCH_THRESHOLD,
    MAX_CANDIDATES,
    PINYIN_ROAD_SCORE,
    STATUSES,
    TYPO_ROAD_SCORE,
    UNKNOWN_ROAD_FACTOR,
    UNKNOWN_TEXT_PENALTY,
    WEAK_GROUP_SCORE,
)

__all__ = [
    "ADDRESS_FIELD_OF",
    "ALIAS_COLUMNS",
    "ALIAS_DECISIONS",
    "AMBIGUOUS_ROAD_SCORE",
    "BOUND_COLUMNS",
    "CONFLICT_FACTOR",
    "DROP_PENALTY",
    "ELEMENTS",
    "FUZZY_ROAD_CUTOFF",
    "LEVELS",
    "MATCH_THRESHOLD",
    "MAX_CANDIDATES",
    "PINYIN_ROAD_SCORE",
    "RESULT_COLUMNS",
    "STATUSES",
    "TEXTS_PER_PARTITION",
    "TYPO_ROAD_SCORE",
    "UNKNOWN_ROAD_FACTOR",
    "UNKNOWN_TEXT_PENALTY",
    "WEAK_GROUP_SCORE",
    "AddressLibrary",
    "LibraryError",
    "Meaning",
    "PlaceReading",
    "TextPartition",
    "address_fields",
    "apply_aliases",
    "bind_address_fields",
    "bind_frame",
    "concat_bindings",
    "canonical_address_text",
    "library_problems",
    "match_addresses",
    "match_distinct",
    "parse_addresses",
    "read_place",
    "review_table",
    "stale_aliases",
]
