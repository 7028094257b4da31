"""Data return (数据回流): a department's own records with the warehouse's codes, and where they disagree.

Two pure functions over one published snapshot (resolved once, so both read the same one):

- :func:`attach_codes` — the department's records (one row per ``feed`` + ``source_record_id``, its own
  values) with the entity each was resolved to (``person_id``, ``org_id``, ``house_id``, ``facility_id`` from
  ``source_xref``) and, for each address field of the record, the standard address code, the grid code and
  the binding status (``address_binding``): ``address_code``, ``address_grid_code``, ``address_status``;
  ``hukou_address_code`` ... for the field ``hukou_address``, and so on.
- :func:`golden_disagreements` — the record's values (normalised, in the entity table's columns) that differ
  from the published golden record its entity got by survivorship: one row per (record, field), with the
  department's value, the golden value *as the shared layer publishes it* (ID numbers and phones masked: a
  department holds its own raw values, not another department's) and the feed the golden value came from
  where the golden record says (``person.field_sources``).

Joins are made in the ``restricted`` layer (record ids made from ID numbers are scrubbed in ``shared``); what
is returned holds no value of another department beyond the shared layer. The records themselves come from
the caller: the warehouse does not read staging (``gridhub.datareturn`` loads the department's staged rows of
the snapshot's run and normalises them as the run did). See docs/warehouse.md, "Data return".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from warehouse.read import _resolve, read_table
from warehouse.schema import ENTITY_ID_COLUMN, ENTITY_TYPES, TABLES, Layer

#: The golden-record columns a department's values are compared with, per entity type.
COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "person": ("id_number", "name", "sex", "birth_date", "ethnicity", "phone"),
    "organisation": ("credit_code", "name", "legal_rep", "industry", "status", "established"),
    "house": ("use", "area", "rented"),
    "facility": ("facility_type", "name", "responsible", "status"),
}
#: Values that say "not known" rather than a value: never a disagreement.
UNKNOWN_VALUES = {"sex": "U"}
RECORD_KEY = ["feed", "source_record_id"]
DISAGREEMENT_COLUMNS = [
    "feed",
    "source_record_id",
    "entity_type",
    "entity_id",
    "field",
    "value",
    "golden_value",
    "golden_feed",
]
_BINDING_CODES = {"address_code": "code", "grid_code": "grid_code", "status": "status"}


@dataclass(frozen=True)
class DataReturn:
    """What a department gets back from one snapshot: its records with codes, and its disagreements."""

    run_id: str
    records: pd.DataFrame
    disagreements: pd.DataFrame


def _for_records(table: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` whose (feed, source_record_id) is one of ``records``."""
    wanted = records[RECORD_KEY].drop_duplicates().astype(str)
    return table.merge(wanted, on=RECORD_KEY, how="inner")


def attach_codes(
    warehouse_dir: str | Path, records: pd.DataFrame, *, snapshot: str | None = None
) -> pd.DataFrame:
    """``records`` (columns ``feed``, ``source_record_id`` and the department's own values) with their entity
    ids, and per address field its ``<field>_code``, ``<field>_grid_code`` and ``<field>_status``.

    Entity-id columns are added for the entity types the records were resolved to (``person_id``...); a
    record that was not resolved to one (no name, say) has null there. Row order and count are kept.
    """
    run_id = _resolve(warehouse_dir, snapshot)
    out = records.reset_index(drop=True)
    key = out[RECORD_KEY].astype(str)
    xref = read_table(warehouse_dir, "source_xref", Layer.RESTRICTED, run_id).to_pandas()
    xref = _for_records(xref[["feed", "source_record_id", "entity_type", "entity_id"]], key)
    for entity_type in ENTITY_TYPES:
        ids = xref.loc[xref["entity_type"] == entity_type, [*RECORD_KEY, "entity_id"]]
        if len(ids):
            ids = ids.rename(columns={"entity_id": ENTITY_ID_COLUMN[entity_type]})
            out[ENTITY_ID_COLUMN[entity_type]] = key.merge(ids, on=RECORD_KEY, how="left").iloc[:, -1].values
    columns = ["feed", "source_record_id", "entity_type", "field", *_BINDING_CODES]
    bindings = read_table(warehouse_dir, "address_binding", Layer.RESTRICTED, run_id, columns=columns)
    bound = _for_records(bindings.to_pandas(), key)
    # one binding per (record, field): the same text is bound alike for each mention type that carries it
    order = {t: i for i, t in enumerate(ENTITY_TYPES)}
    bound = bound.sort_values(by="entity_type", key=lambda s: s.map(order), kind="stable")
    bound = bound.drop_duplicates([*RECORD_KEY, "field"])
    for field in sorted(bound["field"].unique()):
        one = bound.loc[bound["field"] == field, [*RECORD_KEY, *_BINDING_CODES]]
        joined = key.merge(one, on=RECORD_KEY, how="left")
        for column, suffix in _BINDING_CODES.items():
            name = f"{field}_code" if suffix == "code" else f"{field}_{suffix}"
            out[name] = joined[column].astype("string").values
    return out


def comparable_text(values: pd.Series, arrow_type: pa.DataType) -> pd.Series:
    """Values as the text they are compared by: dates ``YYYY-MM-DD``, numbers to two decimals, booleans
    ``true`` / ``false``, text trimmed; empty text is null."""
    if pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type):
        text = pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m-%d")
    elif pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type):
        numbers = pd.to_numeric(values, errors="coerce").round(2)
        text = numbers.map(lambda x: None if pd.isna(x) else f"{x:.2f}")
    elif pa.types.is_boolean(arrow_type):
        flags = values.astype("boolean")
        text = flags.map({True: "true", False: "false"})
    else:
        text = values.astype("string").str.strip()
    text = text.astype("string")
    return text.where(text.notna() & (text != ""))


def _golden_feed(field_sources: pd.Series, field: str) -> pd.Series:
    """The feed each golden record's ``field`` came from (``field_sources`` JSON: ``{"name": "feed:id"}``)."""

    def feed_of(text: object) -> str | None:
        if not isinstance(text, str) or not text:
            return None
        source = json.loads(text).get(field)
        return str(source).split(":", 1)[0] if source else None

    return field_sources.map(feed_of).astype("string")


def golden_disagreements(
    warehouse_dir: str | Path, values: Mapping[str, pd.DataFrame], *, snapshot: str | None = None
) -> pd.DataFrame:
    """Where the records' values differ from their entity's golden record.

    ``values`` maps an entity type to a frame with ``feed``, ``source_record_id`` and any of that type's
    :data:`COMPARED_FIELDS` (named as the entity table's columns, normalised as the run normalises them).
    A value missing on either side is no disagreement. Returns :data:`DISAGREEMENT_COLUMNS`, sorted by feed,
    record id, entity type and field; ``golden_value`` is the shared layer's (ID numbers and phones masked).
    """
    run_id = _resolve(warehouse_dir, snapshot)
    xref = read_table(warehouse_dir, "source_xref", Layer.RESTRICTED, run_id).to_pandas()
    found = []
    for entity_type, frame in values.items():
        fields = [f for f in COMPARED_FIELDS[entity_type] if f in frame.columns]
        if frame.empty or not fields:
            continue
        id_column = ENTITY_ID_COLUMN[entity_type]
        ids = xref.loc[xref["entity_type"] == entity_type, [*RECORD_KEY, "entity_id"]]
        mine = (
            frame[[*RECORD_KEY, *fields]]
            .astype({"feed": str, "source_record_id": str})
            .merge(ids, on=RECORD_KEY)
        )
        has_sources = "field_sources" in TABLES[entity_type].column_names
        wanted = [id_column, *fields, *(["field_sources"] if has_sources else [])]
        full = read_table(warehouse_dir, entity_type, Layer.RESTRICTED, run_id, columns=wanted).to_pandas()
        shown = read_table(warehouse_dir, entity_type, Layer.SHARED, run_id, columns=[id_column, *fields])
        shown_df = shown.to_pandas().set_index(id_column)
        golden = mine[["entity_id"]].merge(full, left_on="entity_id", right_on=id_column, how="left")
        types = {f.name: f.type for f in shown.schema}
        for field in fields:
            ours = comparable_text(mine[field], types[field])
            theirs = comparable_text(golden[field], types[field])
            unknown = UNKNOWN_VALUES.get(field)
            if unknown is not None:
                ours, theirs = ours.where(ours != unknown), theirs.where(theirs != unknown)
            differ = (ours.notna() & theirs.notna() & (ours != theirs)).fillna(False).to_numpy(bool)
            if not differ.any():
                continue
            rows = mine.loc[differ, [*RECORD_KEY, "entity_id"]].copy()
            rows["entity_type"], rows["field"] = entity_type, field
            rows["value"] = ours[differ].to_numpy()
            shown_values = shown_df[field].reindex(rows["entity_id"])
            rows["golden_value"] = comparable_text(shown_values, types[field]).to_numpy()
            sources = (
                golden.loc[differ, "field_sources"] if has_sources else pd.Series(None, index=rows.index)
            )
            rows["golden_feed"] = _golden_feed(sources, field).to_numpy()
            found.append(rows[DISAGREEMENT_COLUMNS])
    if not found:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in DISAGREEMENT_COLUMNS})
    out = pd.concat(found, ignore_index=True).astype("string")
    order = {t: i for i, t in enumerate(ENTITY_TYPES)}
    out["_t"] = out["entity_type"].map(order)
    out = out.sort_values(["feed", "source_record_id", "_t", "field"], kind="stable")
    return out.drop(columns="_t").reset_index(drop=True)


def data_return(
    warehouse_dir: str | Path,
    records: pd.DataFrame,
    values: Mapping[str, pd.DataFrame],
    *,
    snapshot: str | None = None,
) -> DataReturn:
    """:func:`attach_codes` and :func:`golden_disagreements` over one snapshot (the current one, or
    ``snapshot``), resolved once so both read the same."""
    run_id = _resolve(warehouse_dir, snapshot)
    return DataReturn(
        run_id=run_id,
        records=attach_codes(warehouse_dir, records, snapshot=run_id),
        disagreements=golden_disagreements(warehouse_dir, values, snapshot=run_id),
    )


def markdown_section() -> list[str]:
    """The "Data return" section of docs/warehouse.md (rendered by :mod:`warehouse.docs`)."""
    compared = "; ".join(f"{t}: " + ", ".join(f"`{f}`" for f in fs) for t, fs in COMPARED_FIELDS.items())
    return [
        "## Data return (数据回流)",
        "",
        "A department gets its own records back with the standard address code, grid code and entity id "
        "attached, plus the list of its values that disagree with the published golden records. In the portal: "
        "**数据回流** (docs/portal.md). In code:",
        "",
        "```python",
        "from gridhub.datareturn import department_return, feed_return",
        'r = department_return(ws, "民政")            # or feed_return(ws, ["minzheng_assistance"])',
        "r.run_id          # the snapshot both frames come from (the current one, or snapshot=<run_id>)",
        "r.records         # the feed's current staged rows as that run read them + person_id, org_id, house_id,",
        "                  #   facility_id, <field>_code, <field>_grid_code, <field>_status per address field",
        "r.disagreements   # " + ", ".join(DISAGREEMENT_COLUMNS),
        "```",
        "",
        "The warehouse part works on any records handed to it (the warehouse does not read staging): "
        "`warehouse.data_return(wh, records, values, snapshot=None)` → `DataReturn(run_id, records, "
        "disagreements)`, made of `warehouse.datareturn.attach_codes(wh, records)` (records: `feed`, "
        "`source_record_id` and anything else; ids from `source_xref`, codes from `address_binding`) and "
        "`golden_disagreements(wh, {entity_type: values})` (values named as the entity table's columns). "
        "`gridhub.datareturn` supplies the records: exactly the staged rows the snapshot's run read (its pinned "
        "inputs), and their values normalised as the run normalised them, so a value that differs only in "
        "form (繁体, full-width, a 15-digit ID) is no disagreement.",
        "",
        f"- Compared fields, and only those the record's feed maps itself: {compared}. A value missing on either "
        "side, or sex `U`, is no disagreement. Dates compare as `YYYY-MM-DD`, numbers to two decimals.",
        "- Privacy: joins are made in `restricted` (record ids built from ID numbers are scrubbed in `shared`). "
        "The records are the department's own values, as it sent them; `golden_value` is the golden record's "
        "value *as `shared` publishes it* (another department's ID number or phone masked, `139****1111`), and "
        "`golden_feed` names the feed it came from where the golden record says (`person.field_sources`).",
        "",
    ]


__all__ = [
    "COMPARED_FIELDS",
    "DISAGREEMENT_COLUMNS",
    "DataReturn",
    "attach_codes",
    "comparable_text",
    "data_return",
    "golden_disagreements",
    "markdown_section",
]
