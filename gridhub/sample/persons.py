"""The true persons of the sample district, in households, with IDs, phones and household registrations.

Persons live in households of one to six; a household occupies one home of the address library. Locals
(户籍人口) carry IDs with the district's area code (older ones with the retired county code 445321); migrants
(流动人口) carry their home county's code and a household registration outside the district. Some locals are
registered at another address than where they live (人户分离). Hard negatives are planted on purpose:
different persons with the same name and birth date, and twins (same surname, birth date and address,
different given names and IDs).

Every draw comes from one seeded generator, in a fixed order: households, their members, look-alikes, IDs,
phones, registrations. Changing that order changes every file of the sample.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from gridhub.sample import names as N
from gridhub.sample.codes import make_resident_id
from gridhub.sample.draws import Draws
from gridhub.sample.errors import SampleError
from gridhub.sample.population import AS_OF

HOUSEHOLD_SIZE_TABLE = ((1, 0.18), (2, 0.30), (3, 0.25), (4, 0.17), (5, 0.07), (6, 0.03))
MIGRANT_HOUSEHOLD_SHARE = 0.25
SEPARATED_SHARE = 0.10  # locals registered at another address of the district (人户分离)
SAME_NAME_BIRTH_SHARE = 0.002  # namesakes (同名同生日): another person gets someone's name and birth date
TWIN_SHARE = 0.05  # of households with two or more children: about 1 in 40 children is a twin
TWIN_SIMILAR_GIVEN = 0.7  # twins' two-character given names share the first character (思雨 / 思琪)
#: Who a household's minors and elderly are reached through (their contact phone in some feeds): minors
#: through a parent, the elderly through an adult child, when the household has one.
ELDER_AGE = 70
MOBILE_PREFIXES = (
    "138",
    "139",
    "135",
    "136",
    "137",
    "150",
    "151",
    "152",
    "158",
    "159",
    "188",
    "187",
    "186",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "133",
    "153",
    "180",
    "181",
    "189",
    "177",
    "199",
)
LANDLINE_AREA = "0766"


class _Namer:
    """Draws names with realistic frequencies: surnames by share, given names common-or-composed."""

    def __init__(self, d: Draws):
        self.d = d

    def surname(self) -> str:
        return self.d.weighted(N.SURNAMES)

    def given(self, sex: str) -> str:
        d = self.d
        if d.hit(0.35):
            return d.weighted(N.COMMON_GIVEN_MALE if sex == "M" else N.COMMON_GIVEN_FEMALE)
        pool = N.GIVEN_CHARS_MALE if sex == "M" else N.GIVEN_CHARS_FEMALE
        if d.hit(0.2):
            return d.pick(pool)
        a, b = d.two(pool)
        return a + b

    def twin_given(self, sex: str, other: str) -> str:
        """A twin's given name: often the other twin's first character and another second one (思雨 / 思琪)."""
        if not self.d.hit(TWIN_SIMILAR_GIVEN):
            return self.given(sex)
        pool = N.GIVEN_CHARS_MALE if sex == "M" else N.GIVEN_CHARS_FEMALE
        second = self.d.pick(pool)
        return other[0] + (second if second != other[1] else self.d.pick(pool))

    def uyghur(self, sex: str, father_given: str | None) -> str:
        first = self.d.pick(N.UYGHUR_MALE if sex == "M" else N.UYGHUR_FEMALE)
        return f"{first}·{father_given or self.d.pick(N.UYGHUR_MALE)}"


def _birth(d: Draws, age: int) -> dt.date:
    year = AS_OF.year - age
    day = d.integer(0, 365)
    born = dt.date(year, 1, 1) + dt.timedelta(days=day)
    if born > AS_OF:
        born = born.replace(year=born.year - 1)
    return born


def _phone(d: Draws) -> str:
    return d.pick(MOBILE_PREFIXES) + f"{d.integer(0, 10**8):08d}"


#: The columns :func:`_add_household` fills, one list each (a list per column, not a dict per person: a
#: district of millions of persons would not fit in memory as dicts).
PERSON_COLUMNS = (
    "person_key",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "population_type",
    "household_key",
    "role",
    "residence_address_code",
    "_hometown",
)

PIECE_ROWS = 100_000  # persons made into a frame at a time

#: A planned household: (migrant, 民族, size).
Household = tuple[bool, str, int]
#: A member of a household: (role, age, sex).
Member = tuple[str, int, str]


def make_persons(rng: np.random.Generator, n: int, homes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` persons in households living in ``homes`` (address rows of kind home); and the hard negatives."""
    d = Draws(rng)
    plan = _household_plan(d, n)
    if len(plan) > len(homes):
        raise SampleError(f"{len(plan)} households do not fit in {len(homes)} homes")
    home_codes = homes["address_code"].to_numpy()
    occupied = rng.permutation(len(homes))[: len(plan)]
    namer = _Namer(d)
    cols: dict[str, list] = {c: [] for c in PERSON_COLUMNS}
    twins: list[tuple[int, int]] = []
    pieces, done = [], 0  # a frame per PIECE_ROWS persons: the Python objects of one piece at a time
    for h, household in enumerate(plan):
        twin = _add_household(d, namer, h, household, home_codes[occupied[h]], cols, first_twins=not twins)
        if twin is not None:
            twins.append((done + twin[0], done + twin[1]))
        if len(cols["name"]) >= PIECE_ROWS or h == len(plan) - 1:
            done += len(cols["name"])
            pieces.append(pd.DataFrame(cols))
            cols = {c: [] for c in PERSON_COLUMNS}
    del plan, cols
    persons = pd.concat(pieces, ignore_index=True)
    del pieces
    persons["person_key"] = [f"TP{i + 1:06d}" for i in range(len(persons))]
    negatives = [(persons.at[a, "person_key"], persons.at[b, "person_key"], "twins") for a, b in twins]
    negatives += _plant_look_alikes(rng, persons)
    persons["id_number"] = _resident_ids(d, persons)
    ages = AS_OF.year - persons["birth_date"].str[:4].astype(int)
    persons["phone"] = _phones(d, rng, ages)
    persons["contact_phone"] = _contact_phones(persons, ages)
    _add_registrations(d, rng, persons, home_codes)
    persons["previous_address_code"] = ""  # filled by the feeds: who moved shows in the slower departments
    persons["_age"] = ages
    hn = pd.DataFrame(negatives, columns=["person_key_a", "person_key_b", "kind"])
    return persons, hn


def _household_plan(d: Draws, n: int) -> list[Household]:
    """Households first (migrant or not, 民族, size), so that the sizes add up to exactly ``n``."""
    plan: list[Household] = []
    total = 0
    while total < n:
        migrant = d.hit(MIGRANT_HOUSEHOLD_SHARE)
        ethnic = d.weighted(N.ETHNICITIES)
        migrant = migrant or ethnic == "维吾尔族"
        size = int(d.weighted(HOUSEHOLD_SIZE_TABLE))
        if migrant and d.hit(0.7):
            size = min(size, 3)
        size = min(size, n - total)
        plan.append((migrant, ethnic, size))
        total += size
    return plan


def _members(d: Draws, namer: _Namer, migrant: bool, size: int) -> tuple[list[Member], str, str]:
    """Head, maybe a spouse, an adult child of old parents, children and maybe a parent of the head; and the
    family's two surnames (drawn right after the head's sex and age)."""
    head_sex = "M" if d.hit(0.62) else "F"
    head_age = d.integer(22, 46) if migrant else d.integer(24, 82)
    family_surname, spouse_surname = namer.surname(), namer.surname()
    members: list[Member] = [("head", head_age, head_sex)]
    left = size - 1
    if left and d.hit(0.85):
        members.append(("spouse", max(20, head_age + d.integer(-4, 5)), "F" if head_sex == "M" else "M"))
        left -= 1
    if left and head_age > 55 and d.hit(0.3):
        left -= 1  # an adult child living with old parents
        members.append(("child", head_age - d.integer(24, 33), "M" if d.hit(0.5) else "F"))
    n_parents = 1 if left >= 2 and head_age < 50 and d.hit(0.3) else 0
    for _ in range(left - n_parents):
        members.append(("child", max(0, head_age - d.integer(22, 38)), "M" if d.hit(0.51) else "F"))
    for _ in range(n_parents):
        members.append(("parent", min(95, head_age + d.integer(24, 32)), "M" if d.hit(0.4) else "F"))
    return members, family_surname, spouse_surname


def _surname(role: str, father_is_head: bool, family: str, spouse: str) -> str:
    """Children take the family's (the father's) surname; the head and spouse keep their own."""
    if role in ("head", "parent"):
        return family if father_is_head else spouse
    if role == "spouse":
        return spouse if father_is_head else family
    return family


def _add_household(
    d: Draws,
    namer: _Namer,
    h: int,
    household: Household,
    home: str,
    cols: dict[str, list],
    first_twins: bool,
) -> tuple[int, int] | None:
    """Append the persons of household ``h`` to ``cols`` (:data:`PERSON_COLUMNS`); return the row positions
    of its twins, if any.

    The first household with two children always has twins (``first_twins``), later ones by chance.
    """
    migrant, ethnic, size = household
    if migrant:
        hometown = N.UYGHUR_HOMETOWN if ethnic == "维吾尔族" else N.HOMETOWNS[d.integer(0, len(N.HOMETOWNS))]
    else:
        hometown = None
    members, family_surname, spouse_surname = _members(d, namer, migrant, size)
    household_key = f"TH{h + 1:06d}"
    father_is_head = members[0][2] == "M"
    twin_of: int | None = None
    child_idx = [i for i, m in enumerate(members) if m[0] == "child"]
    if len(child_idx) >= 2 and (first_twins or d.hit(TWIN_SHARE)):
        twin_of = child_idx[0]
        members[child_idx[1]] = ("child", members[child_idx[0]][1], members[child_idx[1]][2])
    names = cols["name"]
    start = len(names)
    father_given = None
    for i, (role, age, sex) in enumerate(members):
        surname = _surname(role, father_is_head, family_surname, spouse_surname)
        if ethnic == "维吾尔族":
            name = namer.uyghur(sex, father_given if role == "child" else None)
            if role == "head" and sex == "M":
                father_given = name.split("·")[0]
        else:
            second_twin = twin_of is not None and i == child_idx[1]
            twin_given = names[start + child_idx[0]][len(surname) :] if second_twin else ""
            given = namer.twin_given(sex, twin_given) if len(twin_given) == 2 else namer.given(sex)
            while i > 0 and surname + given in names[start:]:
                given = namer.given(sex)
            name = surname + given
        born = _birth(d, age)
        if twin_of is not None and i == child_idx[1]:
            born = dt.date.fromisoformat(cols["birth_date"][start + twin_of])
        values = (
            "",
            name,
            sex,
            born.isoformat(),
            ethnic,
            "流动" if migrant else "户籍",
            household_key,
            role,
            home,
            hometown,
        )
        for column, value in zip(PERSON_COLUMNS, values, strict=True):
            cols[column].append(value)
    return (start + twin_of, start + child_idx[1]) if twin_of is not None else None


def _plant_look_alikes(rng: np.random.Generator, persons: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Hard negatives: an adult of the same sex and nearly the same age (not of the same household) takes
    someone's name and birth date — two real, different persons who look alike on name + birth date alone.
    Changes ``persons`` in place; returns the pairs."""
    negatives = []
    k = max(2, round(len(persons) * SAME_NAME_BIRTH_SHARE))
    pool = persons[(persons["ethnicity"] != "维吾尔族") & (persons["role"] != "child")]
    pool = pool.iloc[rng.permutation(len(pool))].sort_values(["sex", "birth_date"], kind="stable")
    starts = rng.permutation(max(0, len(pool) - 1))
    used: set[int] = set()
    copies: list[tuple[int, int]] = []  # (from, to): written after the loop, in one go (an Arrow column
    # copies itself on every single-value write); pairs never share a row, so no read sees a pending write
    for s in starts:
        if len(used) >= 2 * k:
            break
        a, b = pool.index[s], pool.index[s + 1]
        if (
            a in used
            or b in used
            or persons.at[a, "sex"] != persons.at[b, "sex"]
            or persons.at[a, "household_key"] == persons.at[b, "household_key"]
            or persons.at[a, "birth_date"][:4] != persons.at[b, "birth_date"][:4]
        ):
            continue
        used.update((a, b))
        copies.append((a, b))
        negatives.append((persons.at[a, "person_key"], persons.at[b, "person_key"], "same_name_birth"))
    if copies:
        source, target = (list(side) for side in zip(*copies, strict=True))
        for column in ("name", "birth_date"):
            persons.loc[target, column] = persons.loc[source, column].to_numpy()
    return negatives


def _resident_ids(d: Draws, persons: pd.DataFrame) -> list[str]:
    """Unique resident IDs: area code + birth date + a sequence of the right parity + check character."""
    seen: set[str] = set()
    ids = []
    for born, sex, hometown in zip(persons["birth_date"], persons["sex"], persons["_hometown"], strict=True):
        if hometown is not None:
            area = hometown[0]
        else:
            area = N.RETIRED_AREA_CODE if born < "1983-01-01" and d.hit(0.6) else N.DISTRICT[0]
        while True:
            seq = d.integer(0, 500) * 2 + (1 if sex == "M" else 0)
            pid = make_resident_id(area, born.replace("-", ""), seq)
            if pid not in seen:
                break
        seen.add(pid)
        ids.append(pid)
    return ids


def _phones(d: Draws, rng: np.random.Generator, ages: pd.Series) -> np.ndarray:
    """Mobile numbers; children under 14 none; some elderly a landline."""
    phones = [_phone(d) for _ in range(len(ages))]
    landline = rng.random(len(ages)) < 0.3
    for i in np.flatnonzero((ages >= 65).to_numpy() & landline):
        phones[i] = f"{LANDLINE_AREA}-{d.integer(2000000, 9000000)}"
    return np.where(ages < 14, "", phones)


def _contact_phones(persons: pd.DataFrame, ages: pd.Series) -> np.ndarray:
    """The household phone a minor or an elderly person is recorded with in some feeds (a parent's for
    minors, an adult child's for the elderly); empty for everyone else and where the household has none."""
    hh = persons["household_key"]
    mobile = persons["phone"].str.startswith("1")
    adult = mobile & (ages >= 22) & (ages < ELDER_AGE)
    # a minor's parent: the head if the head has a mobile, else the spouse
    parents = persons[adult & persons["role"].isin(["head", "spouse"])]
    parent_phone = parents.sort_values("role", kind="stable").groupby("household_key")["phone"].first()
    # an elder's adult child: the youngest adult of another generation (the head, or an adult child)
    carers = persons[adult & persons["role"].isin(["head", "child"])]
    carer_phone = carers.sort_values("birth_date", kind="stable").groupby("household_key")["phone"].last()
    minor = (ages < 18).to_numpy()
    elder = ((ages >= ELDER_AGE) & (persons["role"] != "child")).to_numpy()
    out = np.where(minor, hh.map(parent_phone).fillna(""), "")
    return np.where(elder, hh.map(carer_phone).fillna(""), out)


def _add_registrations(
    d: Draws, rng: np.random.Generator, persons: pd.DataFrame, home_codes: np.ndarray
) -> None:
    """Household registration (户籍), in place: locals at home or at another home of the district (人户分离),
    migrants at their home county — outside the library, so written out as text."""
    local = persons["population_type"] == "户籍"
    hh_codes = persons.groupby("household_key")["residence_address_code"].first()
    separated_hh = set(hh_codes.index[rng.random(len(hh_codes)) < SEPARATED_SHARE])
    hukou_code = persons["residence_address_code"].copy()
    other_home = pd.Series(home_codes[rng.integers(0, len(home_codes), len(hh_codes))], index=hh_codes.index)
    sep = persons["household_key"].isin(separated_hh) & local
    hukou_code[sep] = persons.loc[sep, "household_key"].map(other_home)
    hukou_code[~local] = ""
    persons["hukou_address_code"] = hukou_code
    persons["separated"] = (hukou_code != persons["residence_address_code"]).to_numpy()
    hometown_text = {}
    migrants = persons.loc[~local, ["household_key", "_hometown"]].drop_duplicates("household_key")
    migrants = migrants.sort_values("household_key", kind="stable")  # as a sorted groupby: same draws
    for key, hometown in zip(migrants["household_key"].tolist(), migrants["_hometown"].tolist(), strict=True):
        province, city, county, towns = hometown[1:]
        town = towns[d.integer(0, len(towns))]
        if town.endswith("街道"):
            tail = f"{N.HOMETOWN_VILLAGE_PARTS[d.integer(0, len(N.HOMETOWN_VILLAGE_PARTS))]}华路{d.integer(1, 300)}号"
        else:
            village = "".join(d.two(N.HOMETOWN_VILLAGE_PARTS)) + "村"
            tail = f"{village}{d.integer(1, 12)}组{d.integer(1, 80)}号"
        hometown_text[key] = f"{province}{city}{county}{town}{tail}"
    persons["hukou_text"] = persons["household_key"].map(hometown_text).fillna("")
