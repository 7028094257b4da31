"""Reviewed address aliases (地址别名): a person's decision that an address text is a standard address (or is
not in the library), applied on top of the matcher so the same text binds the same way in every later run.

An alias is keyed by the text's canonical form (:func:`canonical_address_text`: full-width, 繁体, Chinese
numerals and spacing do not matter), so "滨江路３号" decided once also binds "滨江路3号". The aliases are a
frame with :data:`ALIAS_COLUMNS`; ``decision`` is ``standard`` (bind to ``building_code``, and to
``address_code`` when given) or ``not_in_library`` (leave it unbound, marked as reviewed). The latest
decision for a canonical text wins; an alias naming a building the library no longer has is not applied (the
text is matched as usual) and is reported by :func:`stale_aliases`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.address.canonical import canonical_address_text
from matching.address.library import AddressLibrary

ALIAS_COLUMNS = ("address_text", "decision", "building_code", "address_code")
ALIAS_DECISIONS = ("standard", "not_in_library")
#: ``method`` of a binding an alias made
REVIEWED = "reviewed"
REVIEWED_NOT_IN_LIBRARY = "reviewed_not_in_library"


def _latest(aliases: pd.DataFrame) -> pd.DataFrame:
    """One alias per canonical text (the last row), with ``canonical``; rows of unknown decisions dropped."""
    a = aliases[list(ALIAS_COLUMNS)].astype("string")
    a = a[a["decision"].isin(ALIAS_DECISIONS) & a["address_text"].notna()]
    a = a.assign(canonical=canonical_address_text(a["address_text"]).to_numpy())
    return a.drop_duplicates("canonical", keep="last").reset_index(drop=True)


def _library_rows(library: AddressLibrary, aliases: pd.DataFrame) -> pd.DataFrame:
    """For each ``standard`` alias: its building's grid, and the address row (the given address_code, else the
    building's own row without unit or room when the library has one)."""
    lib = library.addresses
    std = aliases[aliases["decision"] == "standard"]
    buildings = lib.drop_duplicates("building_code").set_index("building_code")
    known = std["building_code"].isin(buildings.index).fillna(False).to_numpy()
    std = std[known]
    whole = lib[(lib["unit"] == "") & (lib["room"] == "")].drop_duplicates("building_code")
    own = whole.set_index("building_code")["address_code"]
    code_ok = std["address_code"].isin(
        lib.loc[lib["building_code"].isin(std["building_code"]), "address_code"]
    )
    address = np.where(code_ok.fillna(False), std["address_code"], std["building_code"].map(own))
    text = lib.set_index("address_code")["standard_text"]
    out = pd.DataFrame(
        {
            "canonical": std["canonical"].to_numpy(),
            "address_code": pd.array(address, dtype="string"),
            "building_code": std["building_code"].to_numpy(),
            "grid_code": std["building_code"].map(buildings["grid_code"]).to_numpy(),
            "level": "building",
        }
    )
    out["standard_text"] = (
        out["address_code"].map(text).fillna(out["building_code"].map(library.building_texts))
    )
    return out


def apply_aliases(
    matched: pd.DataFrame, texts: pd.Series, aliases: pd.DataFrame | None, library: AddressLibrary
) -> pd.DataFrame:
    """``matched`` (:func:`~matching.address.match.match_addresses` of ``texts``, aligned to it) with every
    text an alias names bound as reviewed: ``standard`` → that building (score 1, method ``reviewed``,
    status matched); ``not_in_library`` → unmatched, method ``reviewed_not_in_library``. A new frame."""
    out = matched.copy()
    if aliases is None or not len(aliases) or not len(out):
        return out
    latest = _latest(aliases)
    canonical = pd.Series(canonical_address_text(texts.astype("string")).to_numpy(), index=out.index)
    bound = _library_rows(library, latest).set_index("canonical")
    hit = canonical.isin(bound.index).fillna(False).to_numpy()
    if hit.any():
        rows = bound.reindex(canonical[hit].to_numpy())
        for c in ("address_code", "building_code", "grid_code", "level", "standard_text"):
            out.loc[hit, c] = rows[c].to_numpy()
        out.loc[hit, ["score", "method", "status", "candidates"]] = (1.0, REVIEWED, "matched", "[]")
    absent = latest.loc[latest["decision"] == "not_in_library", "canonical"]
    gone = canonical.isin(absent).fillna(False).to_numpy()
    if gone.any():
        out.loc[gone, ["address_code", "building_code", "grid_code", "standard_text"]] = pd.NA
        out.loc[gone, ["level", "score", "method", "status"]] = (
            "none",
            0.0,
            REVIEWED_NOT_IN_LIBRARY,
            "unmatched",
        )
    return out


def stale_aliases(aliases: pd.DataFrame | None, library: AddressLibrary) -> pd.DataFrame:
    """The ``standard`` aliases (latest per text) whose building the library no longer has: not applied."""
    if aliases is None or not len(aliases):
        return pd.DataFrame(columns=list(ALIAS_COLUMNS))
    latest = _latest(aliases)
    std = latest[latest["decision"] == "standard"]
    known = std["building_code"].isin(library.addresses["building_code"]).fillna(False)
    return std.loc[~known, list(ALIAS_COLUMNS)].reset_index(drop=True)


__all__ = [
    "ALIAS_COLUMNS",
    "ALIAS_DECISIONS",
    "REVIEWED",
    "REVIEWED_NOT_IN_LIBRARY",
    "apply_aliases",
    "stale_aliases",
]
