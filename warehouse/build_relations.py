"""Builders of the relation tables (``person_house``, ``organisation_house``, ``person_organisation``,
``organisation_address``), each run on a chunk of its row query's rows at a time (:mod:`warehouse.build_keyed`:
the record keys already joined to their entity ids, in the order of the table's first key, a chunk never
splitting one owner's rows). Registered with :func:`warehouse.build.builds` when imported (:mod:`warehouse.build`
imports this module)."""

from __future__ import annotations

import pandas as pd

from warehouse.build import Assembly, _sources_of, builds
from warehouse.build_keyed import (
    house_relation_rows_query,
    organisation_address_rows_query,
    person_organisation_rows_query,
)
from warehouse.house_relations import house_relations
from warehouse.schema import ENTITY_ID_COLUMN, TABLES


@builds("person_house", rows=lambda inputs: house_relation_rows_query(inputs, "person", "person_id"))
def build_person_house(a: Assembly) -> pd.DataFrame:
    """Person–house relations over every feed that states them. A person has one current residence (居住): the
    one stated by the most authoritative, most recent source; the others get ``valid_to``."""
    return _house_relations(a, "person")


@builds("organisation_house", rows=lambda inputs: house_relation_rows_query(inputs, "organisation", "org_id"))
def build_organisation_house(a: Assembly) -> pd.DataFrame:
    """Houses organisations own (产权), from owner columns that name companies; built like ``person_house``."""
    return _house_relations(a, "organisation")


def _house_relations(a: Assembly, owner_type: str) -> pd.DataFrame:
    table = f"{owner_type}_house"
    rows = a.chunk(table)
    if rows is None:
        return pd.DataFrame(columns=TABLES[table].column_names)
    known = rows[rows["_house_known"].astype(bool)]
    return house_relations(
        rows.drop(columns=["_street", "_house_known"]),
        priority=a.priority,
        owner_id=ENTITY_ID_COLUMN[owner_type],
        columns=TABLES[table].column_names,
        house_street=dict(zip(known["house_id"].tolist(), known["_street"].tolist(), strict=True)),
    )


@builds("person_organisation", rows=lambda inputs: person_organisation_rows_query())
def build_person_organisation(a: Assembly) -> pd.DataFrame:
    """就业 from the mention links (人社), and 法定代表人 for every organisation whose legal representative was
    linked to a person (``legal_reps``), with the feed that named the representative as its source."""
    rows = a.chunk("person_organisation")
    if rows is None:
        return pd.DataFrame(columns=TABLES["person_organisation"].column_names)
    return _sources_of(rows, ["person_id", "org_id", "relation"])


@builds("organisation_address", rows=organisation_address_rows_query)
def build_organisation_address(a: Assembly) -> pd.DataFrame:
    """Every bound address of every organisation mention: ``address_code`` as 注册, ``business_address_code``
    as 经营 (an address that is both gives two rows)."""
    rows = a.chunk("organisation_address")
    if rows is None:
        return pd.DataFrame(columns=TABLES["organisation_address"].column_names)
    return _sources_of(rows, ["org_id", "address_code", "relation"])
