"""The address fields of the mention frames bound to the standard address library (进网入格, addresses).

Every distinct address text of the mentions is matched once (:func:`match_distinct`), in *partitions* of at
most :data:`TEXTS_PER_PARTITION` distinct texts taken in code-point order, so the matcher's memory (its
candidate joins grow with the texts of one call) is bounded whatever the size of the district; a text's
result does not depend on the other texts of its partition. :func:`bind_frame` then writes the bound columns
beside each text column of one mention frame and builds its ``address_bindings`` rows (one per mention
address field with text) that the review and the quality report read. :func:`bind_address_fields` does both
for frames held together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from matching.address.aliases import apply_aliases
from matching.address.library import AddressLibrary
from matching.address.match import match_addresses
from warehouse.progress import Progress

log = logging.getLogger(__name__)

#: (mention type, text column) → (field name in the bindings, prefix of the bound columns on the mentions).
ADDRESS_FIELD_OF = {
    ("person", "address_text"): ("address", ""),
    ("person", "hukou_address_text"): ("hukou_address", "hukou_"),
    ("organisation", "address_text"): ("org_address", ""),  # 注册地址, or the only address a feed gives
    ("organisation", "business_address_text"): ("org_business_address", "business_"),  # 经营地址
    ("house", "address_text"): ("address", ""),
    ("facility", "address_text"): ("address", ""),
}
#: Match result columns written onto the mentions (level, score, method and status as ``bind_<name>``) and
#: into the bindings.
BOUND_COLUMNS = ("address_code", "building_code", "grid_code", "level", "score", "method", "status")
#: Distinct address texts matched in one call of :func:`match_addresses` (one partition of the binding).
TEXTS_PER_PARTITION = 20_000


@dataclass(frozen=True)
class TextPartition:
    """One partition of the binding: the distinct texts from ``first`` to ``last`` (code-point order)."""

    index: int
    first: str
    last: str
    texts: int


def _bound_column(prefix: str, column: str) -> str:
    """Name on the mentions of a :data:`BOUND_COLUMNS` column bound from the text column with ``prefix``."""
    return f"{prefix}{'bind_' if column in ('level', 'score', 'method', 'status') else ''}{column}"


def address_fields(columns: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """The (mention type, text column) pairs of :data:`ADDRESS_FIELD_OF` that the frames have, in its order.

    ``columns`` maps a mention type to its frame's columns; a text column a frame does not have (mentions
    written before the field existed) is left out."""
    have = {t: set(cols) for t, cols in columns.items()}
    return [(t, col) for (t, col) in ADDRESS_FIELD_OF if col in have.get(t, set())]


def match_distinct(
    library: AddressLibrary,
    texts: pd.Series,
    *,
    per_partition: int | None = None,
    aliases: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[TextPartition]]:
    """Match every distinct non-null text of ``texts`` once, partition by partition.

    Returns the results of :func:`match_addresses` indexed by the distinct texts, and the partitions (their
    boundaries) in the order they were matched. Logs one progress line per partition (or every few seconds).
    ``per_partition``: :data:`TEXTS_PER_PARTITION` distinct texts unless given. ``aliases``
    (:mod:`matching.address.aliases`): reviewed decisions, applied over the matcher's result.
    """
    per_partition = max(per_partition or TEXTS_PER_PARTITION, 1)
    unique = pd.Series(texts.dropna().unique(), dtype="string").sort_values(ignore_index=True)
    starts = range(0, len(unique), per_partition)
    progress = Progress("bind_addresses", len(starts), total_rows=len(unique))
    results, partitions = [], []
    for i, start in enumerate(starts):
        chunk = unique.iloc[start : start + per_partition].reset_index(drop=True)
        matched = apply_aliases(match_addresses(library, chunk), chunk, aliases, library)
        matched.index = chunk.to_numpy()
        results.append(matched)
        partitions.append(TextPartition(i, str(chunk.iloc[0]), str(chunk.iloc[-1]), len(chunk)))
        n_matched = int((matched["status"] == "matched").sum())
        progress.advance(f"texts {partitions[-1].first!r}…{partitions[-1].last!r}", len(chunk), n_matched)
    if not results:
        empty = apply_aliases(match_addresses(library, unique), unique, aliases, library)
        return empty.set_axis(unique.to_numpy()), []
    return pd.concat(results), partitions


def bind_frame(
    entity_type: str, df: pd.DataFrame, matched: pd.DataFrame
) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]:
    """One mention frame with the bound columns of each of its address fields added (a new frame), and the
    bindings rows of each field (``(type, text column)`` → rows). ``matched`` is :func:`match_distinct`'s."""
    out = df.copy()
    bindings = {}
    for t, col in address_fields({entity_type: out.columns}):
        field, prefix = ADDRESS_FIELD_OF[(t, col)]
        hit = matched.reindex(out[col].to_numpy())
        for c in BOUND_COLUMNS:
            out[_bound_column(prefix, c)] = hit[c].to_numpy()
        has_text = out[col].notna()
        if t == "house":
            has_text &= ~out["derived"].astype(bool)
        b = out.loc[has_text, ["feed", "source_record_id", col]].rename(columns={col: "address_text"})
        b["field"] = field
        b["entity_type"] = t
        for c in BOUND_COLUMNS:
            b[c] = hit[c].to_numpy()[has_text.to_numpy()]
        b["candidates"] = hit["candidates"].to_numpy()[has_text.to_numpy()]
        bindings[(t, col)] = b
    return out, bindings


def concat_bindings(bindings: Mapping[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Every field's bindings rows in one frame, fields in :data:`ADDRESS_FIELD_OF` order."""
    return pd.concat([bindings[k] for k in ADDRESS_FIELD_OF if k in bindings], ignore_index=True)


def bind_address_fields(
    frames: dict[str, pd.DataFrame],
    library: AddressLibrary,
    aliases: pd.DataFrame | None = None,
    *,
    per_partition: int | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Bind every address field of the mentions (``frames``: mention type → frame) to the library.

    Returns the frames with the bound columns added (new frames; ``frames`` is left as it is) and the
    bindings: feed, source_record_id, address_text, field, entity_type, :data:`BOUND_COLUMNS` and candidates,
    one row per address field with text (houses derived from persons' addresses are not counted twice).
    A text column the frames do not have (mentions written before the field existed) is skipped.
    ``aliases`` (:mod:`matching.address.aliases`): reviewed decisions, applied over the matcher's result.
    """
    fields = address_fields({t: df.columns for t, df in frames.items()})
    texts = pd.concat([frames[t][col] for (t, col) in fields], ignore_index=True)
    matched, _ = match_distinct(library, texts, per_partition=per_partition, aliases=aliases)
    out, bindings = {}, {}
    for t, df in frames.items():
        out[t], b = bind_frame(t, df, matched)
        bindings.update(b)
    return out, concat_bindings(bindings)
