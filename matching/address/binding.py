"""The address fields of the mention frames bound to the standard address library (进网入格, addresses).

:func:`bind_address_fields` matches every address text of the mentions once (:func:`match_addresses` over the
distinct texts), writes the bound columns beside each text column and builds the ``address_bindings`` rows
(one per mention address field with text) that the review and the quality report read.
"""

from __future__ import annotations

import pandas as pd

from matching.address.aliases import apply_aliases
from matching.address.library import AddressLibrary
from matching.address.match import match_addresses

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


def _bound_column(prefix: str, column: str) -> str:
    """Name on the mentions of a :data:`BOUND_COLUMNS` column bound from the text column with ``prefix``."""
    return f"{prefix}{'bind_' if column in ('level', 'score', 'method', 'status') else ''}{column}"


def bind_address_fields(
    frames: dict[str, pd.DataFrame], library: AddressLibrary, aliases: pd.DataFrame | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Bind every address field of the mentions (``frames``: mention type → frame) to the library.

    Returns the frames with the bound columns added (new frames; ``frames`` is left as it is) and the
    bindings: feed, source_record_id, address_text, field, entity_type, :data:`BOUND_COLUMNS` and candidates,
    one row per address field with text (houses derived from persons' addresses are not counted twice).
    A text column the frames do not have (mentions written before the field existed) is skipped.
    ``aliases`` (:mod:`matching.address.aliases`): reviewed decisions, applied over the matcher's result.
    """
    out = {t: df.copy() for t, df in frames.items()}
    fields = {key: v for key, v in ADDRESS_FIELD_OF.items() if key[1] in out[key[0]].columns}
    texts = pd.concat([out[t][col] for (t, col) in fields], ignore_index=True).dropna()
    unique = pd.Series(texts.unique(), dtype="string")
    matched = apply_aliases(match_addresses(library, unique), unique, aliases, library)
    matched.index = unique.to_numpy()
    bindings = []
    for (t, col), (field, prefix) in fields.items():
        df = out[t]
        hit = matched.reindex(df[col].to_numpy())
        for c in BOUND_COLUMNS:
            df[_bound_column(prefix, c)] = hit[c].to_numpy()
        has_text = df[col].notna()
        if t == "house":
            has_text &= ~df["derived"].astype(bool)
        b = df.loc[has_text, ["feed", "source_record_id", col]].rename(columns={col: "address_text"})
        b["field"] = field
        b["entity_type"] = t
        for c in BOUND_COLUMNS:
            b[c] = hit[c].to_numpy()[has_text.to_numpy()]
        b["candidates"] = hit["candidates"].to_numpy()[has_text.to_numpy()]
        bindings.append(b)
    return out, pd.concat(bindings, ignore_index=True)
