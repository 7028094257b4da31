"""Builders of the organisation table and of the relation tables (``person_house``, ``organisation_house``,
``person_organisation``, ``organisation_address``). Registered with :func:`warehouse.build.builds` when
imported (:mod:`warehouse.build` imports this module)."""

from __future__ import annotations

import pandas as pd

from warehouse.build import Assembly, _sources_of, builds
from warehouse.columns import sorted_distinct
from warehouse.house_relations import house_relations
from warehouse.schema import ENTITY_ID_COLUMN, TABLES


@builds("organisation")
def build_organisation(a: Assembly) -> pd.DataFrame:
    """Golden organisations; ``former_names``: every other name their mentions carry; ``grid_code``,
    ``grid_basis`` and ``street_code`` from the operating or the registered address (``org_grid_from``)."""
    org = a.golden_records("organisation").rename(columns={"org_name": "name", "org_status": "status"})
    names = a.mentions["organisation"][["record_key", "org_name"]].copy()
    names["org_id"] = names["record_key"].map(a.entity_of["organisation"])
    all_names = sorted_distinct(names, "org_id", "org_name")
    org["former_names"] = [
        [n for n in all_names.get(i, []) if n != cur]
        for i, cur in zip(org["org_id"], org["name"], strict=True)
    ]
    org["grid_code"], org["grid_basis"], place = _organisation_place(org, a.org_grid_from)
    org["street_code"] = a.street_code(org, place)
    reps = a.legal_rep_links.set_index("org_id")
    org["legal_rep_person_id"] = org["org_id"].map(reps["legal_rep_person_id"])
    org["legal_rep_link"] = org["org_id"].map(reps["legal_rep_link"])
    return org


def _organisation_place(org: pd.DataFrame, grid_from: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each organisation's grid, the relation of the address it comes from (经营 / 注册) and that address's
    code: the preferred address (``grid_from``) when it is bound (to an address or a grid), else the other."""
    none = pd.Series(None, index=org.index, dtype=object)
    addresses = {
        "注册": (org.get("address_code", none), org.get("grid_code", none)),
        "经营": (org.get("business_address_code", none), org.get("business_grid_code", none)),
    }
    first, second = ("经营", "注册") if grid_from == "operating" else ("注册", "经营")
    (code_1, grid_1), (code_2, grid_2) = addresses[first], addresses[second]
    use_1 = code_1.notna() | grid_1.notna()
    use_2 = ~use_1 & (code_2.notna() | grid_2.notna())

    def choose(one: pd.Series, two: pd.Series) -> pd.Series:
        chosen = one.astype(object).where(use_1, two.astype(object).where(use_2))
        return chosen.where(chosen.notna(), None)

    basis = pd.Series(None, index=org.index, dtype=object).mask(use_2, second).mask(use_1, first)
    return choose(grid_1, grid_2), basis, choose(code_1, code_2)


@builds("person_house")
def build_person_house(a: Assembly) -> pd.DataFrame:
    """Person–house relations over every feed that states them. A person has one current residence (居住): the
    one stated by the most authoritative, most recent source; the others get ``valid_to``."""
    return _house_relations(a, "person")


@builds("organisation_house")
def build_organisation_house(a: Assembly) -> pd.DataFrame:
    """Houses organisations own (产权), from owner columns that name companies; built like ``person_house``."""
    return _house_relations(a, "organisation")


def _house_relations(a: Assembly, owner_type: str) -> pd.DataFrame:
    table, house = f"{owner_type}_house", a.frame("house")
    return house_relations(
        a.links[a.links["kind"] == table],
        owner_of=a.entity_of[owner_type],
        house_of=a.entity_of["house"],
        priority=a.priority,
        owner_id=ENTITY_ID_COLUMN[owner_type],
        columns=TABLES[table].column_names,
        house_street=dict(zip(house["house_id"], house["street_code"], strict=True)),
    )


@builds("person_organisation")
def build_person_organisation(a: Assembly) -> pd.DataFrame:
    """就业 from the mention links (人社), and 法定代表人 for every organisation whose legal representative was
    linked to a person (``legal_reps``), with the feed that named the representative as its source."""
    po = a.links[a.links["kind"] == "person_organisation"].copy()
    po["person_id"] = po["from_key"].map(a.entity_of["person"])
    po["org_id"] = po["to_key"].map(a.entity_of["organisation"])
    reps = a.legal_rep_links.rename(columns={"legal_rep_person_id": "person_id"})
    reps = reps.dropna(subset=["person_id"]).assign(relation="法定代表人")
    both = pd.concat([po, reps[["person_id", "org_id", "relation", "feed"]]], ignore_index=True)
    return _sources_of(both.dropna(subset=["person_id", "org_id"]), ["person_id", "org_id", "relation"])


@builds("organisation_address")
def build_organisation_address(a: Assembly) -> pd.DataFrame:
    """Every bound address of every organisation mention: ``address_code`` as 注册, ``business_address_code``
    as 经营 (an address that is both gives two rows)."""
    om = a.mentions["organisation"]
    frames = [
        om[["record_key", "feed", column]].rename(columns={column: "address_code"}).assign(relation=relation)
        for column, relation in (("address_code", "注册"), ("business_address_code", "经营"))
        if column in om.columns
    ]
    if not frames:
        return pd.DataFrame(columns=TABLES["organisation_address"].column_names)
    rel = pd.concat(frames, ignore_index=True).dropna(subset=["address_code"])
    rel["org_id"] = rel["record_key"].map(a.entity_of["organisation"])
    return _sources_of(rel.dropna(subset=["org_id"]), ["org_id", "address_code", "relation"])
