"""Builders of the entity tables (``person``, ``house``, ``organisation``, ``facility``), run on one chunk of
golden records at a time (:meth:`~warehouse.build.Assembly.chunk`, in id order): an entity's row depends only
on its golden record, on the lists of its records' values (:meth:`~warehouse.build.Assembly.golden_records`)
and, for a person, on what its id looks up in tables built before (its home, that house, its employer), each
a stream in id order read alongside the golden records. Registered with :func:`warehouse.build.builds` when
imported (:mod:`warehouse.build` imports this module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from warehouse.build import Assembly, builds
from warehouse.build_keyed import ENTITY_KEY, person_lookups_query


@builds("house")
def build_house(a: Assembly) -> pd.DataFrame:
    """Golden houses; ``source_house_codes``: every department code (房屋编号) of their records, sorted."""
    house = a.golden_records("house", {"source_house_codes": "house_code"})
    house = house.rename(columns={"house_use": "use", "house_area": "area"})
    house["street_code"] = a.street_code_by_address(house)
    return house


@builds("facility")
def build_facility(a: Assembly) -> pd.DataFrame:
    fac = a.golden_records("facility").rename(columns={"facility_name": "name", "facility_status": "status"})
    fac["street_code"] = a.street_code_by_address(fac)
    return fac


@builds("organisation")
def build_organisation(a: Assembly) -> pd.DataFrame:
    """Golden organisations; ``former_names``: every other name their mentions carry; ``grid_code``,
    ``grid_basis`` and ``street_code`` from the operating or the registered address (``org_grid_from``)."""
    org = a.golden_records("organisation", {"_names": "org_name"})
    org = org.rename(columns={"org_name": "name", "org_status": "status"})
    all_names = org.pop("_names") if "_names" in org.columns else pd.Series(np.nan, index=org.index)
    org["former_names"] = [
        [n for n in (names if isinstance(names, list) else []) if n != cur]
        for names, cur in zip(all_names, org["name"], strict=True)
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


@builds("person")
def build_person(a: Assembly) -> pd.DataFrame:
    """Golden persons with their current residence (and its grid), 人户分离, population type, id type and
    current employer."""
    person = a.golden_records("person")
    home, house_addr, house_grid, employer = _person_lookups(a)
    person["residence_house_id"] = person["person_id"].map(home)
    residence_address = person["residence_house_id"].map(house_addr)
    person["grid_code"] = person["residence_house_id"].map(house_grid)
    if "hukou_address_code" not in person.columns:
        person["hukou_address_code"] = None
    res_street = residence_address.map(a.township_of)
    hukou_street = person["hukou_address_code"].map(a.township_of)
    both = res_street.notna() & hukou_street.notna()
    person["separated"] = (both & (res_street != hukou_street)).where(both)
    person["population_type"] = _population_type(person)
    person["id_type"] = np.where(person["id_number"].notna(), "居民身份证", "其他")
    person["employer_org_id"] = person["person_id"].map(employer)
    person["street_code"] = a.street_code(person, residence_address)
    return person


def _person_lookups(a: Assembly) -> tuple[dict, dict, dict, dict]:
    """For the persons of the chunk: person → current home (居住) house, house → address code, house → grid
    (houses of the ``house`` table), person → employer (就业, the first org id)."""
    found = a.keyed("person", "lookups", person_lookups_query())
    if not found:
        return {}, {}, {}, {}
    ids, homes, jobs = found[ENTITY_KEY], found["residence_house_id"], found["employer_org_id"]
    houses = [
        (h, address, grid)
        for h, address, grid, known in zip(
            homes, found["house_address_code"], found["house_grid_code"], found["_house_known"], strict=True
        )
        if h is not None and known
    ]
    return (
        {i: h for i, h in zip(ids, homes, strict=True) if h is not None},
        {h: address for h, address, _ in houses},
        {h: grid for h, _, grid in houses},
        {i: j for i, j in zip(ids, jobs, strict=True) if j is not None},
    )


def _population_type(person: pd.DataFrame) -> pd.Series:
    """The stated 户籍 / 流动 / 境外, else 户籍 with a bound hukou address, 流动 with an unbound one, else 未知."""
    given = person.get("population_type", pd.Series(None, index=person.index)).where(
        lambda s: s.isin(["户籍", "流动", "境外"])
    )
    hukou_text = person.get("hukou_address_text", pd.Series(None, index=person.index))
    derived = np.where(
        person["hukou_address_code"].notna(), "户籍", np.where(pd.notna(hukou_text), "流动", "未知")
    )
    return given.fillna(pd.Series(derived, index=person.index))
