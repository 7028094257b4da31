"""The true 四实 of the sample district: persons in households, houses and owners, organisations, facilities.

This is the ground truth the department feeds are later written from (with noise). Persons live in
households of one to six; a household occupies one home of the address library. Locals (户籍人口) carry IDs
with the district's area code (older ones with the retired county code 445321); migrants (流动人口) carry
their home county's code and a household registration outside the district. Some adults moved within the
district (their old address survives in slower departments' files, see :mod:`gridhub.sample.feeds`), some are registered at another address
than where they live (人户分离). Hard negatives are planted on purpose: different persons with the same name
and birth date, and twins (same surname, birth date and address, different given names and IDs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridhub.sample import names as N
from gridhub.sample.codes import CREDIT_CHARSET, make_credit_code, make_resident_id
from gridhub.sample.draws import Draws
from gridhub.sample.errors import SampleError

#: The day the sample district is "as of": ages and statuses are computed for it.
AS_OF = dt.date(2025, 6, 30)
HOUSEHOLD_SIZE_TABLE = ((1, 0.18), (2, 0.30), (3, 0.25), (4, 0.17), (5, 0.07), (6, 0.03))
MIGRANT_HOUSEHOLD_SHARE = 0.25
SEPARATED_SHARE = 0.10  # locals registered at another address of the district (人户分离)
SAME_NAME_BIRTH_SHARE = 0.006  # hard negatives: another person gets someone's name and birth date
TWIN_SHARE = 0.25  # of households with two or more children
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


@dataclass
class Population:
    """True entities; frames are written to truth/ (columns without a leading ``_``)."""

    persons: pd.DataFrame
    organisations: pd.DataFrame
    facilities: pd.DataFrame
    houses: pd.DataFrame  # one row per home or shop: address_code, owner_key, use, area, rented
    hard_negatives: pd.DataFrame  # person_key_a, person_key_b, kind


def frame_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as plain dicts of Python values (much faster than ``to_dict`` on Arrow strings)."""
    columns = list(frame.columns)
    return [
        dict(zip(columns, values, strict=True))
        for values in zip(*(frame[c].tolist() for c in columns), strict=True)
    ]


def _weighted(rng: np.random.Generator, table: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    values = np.array([v for v, _ in table], dtype=object)
    p = np.array([w for _, w in table], dtype=float)
    return values[rng.choice(len(values), size=size, p=p / p.sum())]


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


def make_persons(rng: np.random.Generator, n: int, homes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` persons in households living in ``homes`` (address rows of kind home); and the hard negatives."""
    d = Draws(rng)
    namer = _Namer(d)
    # households first (migrant or not, 民族, size) so that the sizes add up to exactly n
    plan: list[tuple[bool, str, int]] = []
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
    if len(plan) > len(homes):
        raise SampleError(f"{len(plan)} households do not fit in {len(homes)} homes")
    home_codes = homes["address_code"].to_numpy()
    occupied = rng.permutation(len(homes))[: len(plan)]
    rows: list[dict] = []
    twins: list[tuple[int, int]] = []
    for h, (migrant, ethnic, size) in enumerate(plan):
        if migrant:
            hometown = (
                N.UYGHUR_HOMETOWN if ethnic == "维吾尔族" else N.HOMETOWNS[d.integer(0, len(N.HOMETOWNS))]
            )
        else:
            hometown = None
        home = home_codes[occupied[h]]
        head_sex = "M" if d.hit(0.62) else "F"
        head_age = d.integer(22, 46) if migrant else d.integer(24, 82)
        family_surname, spouse_surname = namer.surname(), namer.surname()
        members: list[tuple[str, int, str]] = [("head", head_age, head_sex)]  # role, age, sex
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
        father_sex_male = head_sex == "M"
        twin_of: int | None = None
        child_idx = [i for i, m in enumerate(members) if m[0] == "child"]
        if len(child_idx) >= 2 and (not twins or d.hit(TWIN_SHARE)):  # the first eligible family always
            twin_of = child_idx[0]
            members[child_idx[1]] = ("child", members[child_idx[0]][1], members[child_idx[1]][2])
        hh_key = f"TH{h + 1:06d}"
        start = len(rows)
        father_given = None
        for i, (role, age, sex) in enumerate(members):
            if role == "head":
                surname = family_surname if father_sex_male else spouse_surname
            elif role == "spouse":
                surname = spouse_surname if father_sex_male else family_surname
            elif role == "parent":
                surname = family_surname if father_sex_male else spouse_surname
            else:
                surname = family_surname
            if ethnic == "维吾尔族":
                name = namer.uyghur(sex, father_given if role == "child" else None)
                if role == "head" and sex == "M":
                    father_given = name.split("·")[0]
            else:
                given = namer.given(sex)
                while i > 0 and any(r["name"] == surname + given for r in rows[start:]):
                    given = namer.given(sex)
                name = surname + given
            born = _birth(d, age)
            if twin_of is not None and i == child_idx[1]:
                born = dt.date.fromisoformat(rows[start + twin_of]["birth_date"])
            rows.append(
                {
                    "person_key": "",
                    "name": name,
                    "sex": sex,
                    "birth_date": born.isoformat(),
                    "ethnicity": ethnic,
                    "population_type": "流动" if migrant else "户籍",
                    "household_key": hh_key,
                    "role": role,
                    "residence_address_code": home,
                    "_hometown": hometown,
                }
            )
        if twin_of is not None:
            twins.append((start + twin_of, start + child_idx[1]))
    persons = pd.DataFrame(rows)
    persons["person_key"] = [f"TP{i + 1:06d}" for i in range(len(persons))]
    negatives = [(persons.at[a, "person_key"], persons.at[b, "person_key"], "twins") for a, b in twins]

    # hard negatives: an adult of the same sex and nearly the same age (not of the same household) takes
    # someone's name and birth date — two real, different persons who look alike on name + birth date alone
    k = max(2, round(len(persons) * SAME_NAME_BIRTH_SHARE))
    pool = persons[(persons["ethnicity"] != "维吾尔族") & (persons["role"] != "child")]
    pool = pool.iloc[rng.permutation(len(pool))].sort_values(["sex", "birth_date"], kind="stable")
    starts = rng.permutation(max(0, len(pool) - 1))
    used: set[int] = set()
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
        persons.at[b, "name"] = persons.at[a, "name"]
        persons.at[b, "birth_date"] = persons.at[a, "birth_date"]
        negatives.append((persons.at[a, "person_key"], persons.at[b, "person_key"], "same_name_birth"))

    # resident IDs: area code + birth date + sequence of the right parity + check; unique
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
    persons["id_number"] = ids

    # phones: children under 14 none; some elderly a landline
    ages = AS_OF.year - persons["birth_date"].str[:4].astype(int)
    phones = [_phone(d) for _ in range(len(persons))]
    landline = rng.random(len(persons)) < 0.3
    for i in np.flatnonzero((ages >= 65).to_numpy() & landline):
        phones[i] = f"{LANDLINE_AREA}-{d.integer(2000000, 9000000)}"
    persons["phone"] = np.where(ages < 14, "", phones)

    # household registration (户籍): locals at home, or at another home of the district (人户分离);
    # migrants at their home county — outside the library
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
    for key, grp in persons[~local].groupby("household_key", sort=True):
        province, city, county, towns = grp["_hometown"].iloc[0][1:]
        town = towns[d.integer(0, len(towns))]
        if town.endswith("街道"):
            tail = f"{N.HOMETOWN_VILLAGE_PARTS[d.integer(0, len(N.HOMETOWN_VILLAGE_PARTS))]}华路{d.integer(1, 300)}号"
        else:
            village = "".join(d.two(N.HOMETOWN_VILLAGE_PARTS)) + "村"
            tail = f"{village}{d.integer(1, 12)}组{d.integer(1, 80)}号"
        hometown_text[key] = f"{province}{city}{county}{town}{tail}"
    persons["hukou_text"] = persons["household_key"].map(hometown_text).fillna("")

    persons["previous_address_code"] = ""  # filled by the feeds: who moved shows in the slower departments
    persons["_age"] = ages
    hn = pd.DataFrame(negatives, columns=["person_key_a", "person_key_b", "kind"])
    return persons, hn


def make_organisations(
    rng: np.random.Generator, n: int, persons: pd.DataFrame, addresses: pd.DataFrame
) -> pd.DataFrame:
    """``n`` organisations (at least the public institutions) at the district's shops and office rooms."""
    shops = addresses.loc[addresses["kind"] == "shop", "address_code"].to_numpy()
    offices = addresses.loc[addresses["kind"] == "office", "address_code"].to_numpy()
    shops, offices = list(rng.permutation(shops)), list(rng.permutation(offices))
    adults = persons.loc[(persons["_age"] >= 22) & (persons["_age"] <= 70), "person_key"].to_numpy()
    district = N.DISTRICT[0]
    used_names: set[str] = set()
    rows = []

    def premises(prefer_office: bool) -> str:
        pool = offices if (prefer_office and offices) or not shops else shops
        return pool.pop() if pool else ""

    def credit(prefix: str) -> str:
        body = "".join(CREDIT_CHARSET[i] for i in rng.integers(0, 10, 8))
        if prefix == "92":  # 个体工商户: the organisation-code part is often a letter-led serial
            body = "L" + "".join(CREDIT_CHARSET[i] for i in rng.integers(0, 31, 7))
        return make_credit_code(prefix, district, body)

    def established(min_year: int = 1995) -> str:
        return (
            dt.date(min_year, 1, 1)
            + dt.timedelta(days=int(rng.integers(0, (AS_OF - dt.date(min_year, 1, 1)).days)))
        ).isoformat()

    for prefix, name in N.INSTITUTIONS:
        rows.append(
            {
                "name": name,
                "credit_code": credit(prefix),
                "org_type": "机关" if prefix == "11" else "事业单位",
                "industry": "公共管理"
                if prefix == "11"
                else "卫生和社会工作"
                if "医" in name or "疾" in name
                else "教育",
                "address_code": premises(True),
                "status": "存续",
                "established": established(1980),
                "parent_name": "",
                "in_market_feed": False,
            }
        )
    n_branches = min(len(N.PARENT_COMPANIES), max(2, n // 40))
    for parent in N.PARENT_COMPANIES[:n_branches]:
        rows.append(
            {
                "name": f"{parent}云江青石分公司",
                "credit_code": credit("91"),
                "org_type": "分公司",
                "industry": "道路运输业" if "运" in parent else "商务服务业",
                "address_code": premises(True),
                "status": "存续",
                "established": established(2010),
                "parent_name": parent,
                "in_market_feed": True,
            }
        )
    ind = N.INDUSTRIES
    weights = np.array([s for _, _, s, _ in ind])
    retries = 0
    while len(rows) < n:
        industry, word, _, sole_share = ind[int(rng.choice(len(ind), p=weights / weights.sum()))]
        if rng.random() < 0.5:
            trade = N.TRADE_NAMES[int(rng.integers(len(N.TRADE_NAMES)))]
        else:
            a, b = rng.choice(len(N.TRADE_CHARS), size=2, replace=False)
            trade = N.TRADE_CHARS[a] + N.TRADE_CHARS[b]
        sole = rng.random() < sole_share
        if sole:
            suffix = N.SHOP_SUFFIXES.get(word, ("经营部",))
            name = f"青石区{trade}{suffix[int(rng.integers(len(suffix)))]}"
            org_type, prefix = "个体工商户", "92"
        else:
            form = "有限责任公司" if rng.random() < 0.3 else "有限公司"
            name = f"云江市{trade}{word}{form}"
            if rng.random() < 0.08:
                name = f"{trade}（云江）{word}{form}"
            org_type, prefix = "企业", "91"
        if name in used_names:
            retries += 1
            if retries > 10_000:
                raise SampleError(f"cannot find {n} distinct organisation names; ask for fewer persons")
            continue
        used_names.add(name)
        status = str(_weighted(rng, N.ORG_STATUSES, 1)[0])
        rows.append(
            {
                "name": name,
                "credit_code": credit(prefix),
                "org_type": org_type,
                "industry": industry,
                "address_code": premises(not sole and rng.random() < 0.6),
                "status": status,
                "established": established(),
                "parent_name": "",
                "in_market_feed": True,
            }
        )
    orgs = pd.DataFrame(rows)
    orgs.insert(0, "org_key", [f"TO{i + 1:05d}" for i in range(len(orgs))])
    orgs["legal_rep_key"] = rng.choice(adults, size=len(orgs), replace=True)
    orgs["legal_rep"] = orgs["legal_rep_key"].map(persons.set_index("person_key")["name"])
    return orgs


def assign_employers(rng: np.random.Generator, persons: pd.DataFrame, orgs: pd.DataFrame) -> None:
    """Working-age persons get an employer (in place): 60 % of locals, 75 % of migrants aged 18–60."""
    active = orgs.loc[orgs["status"].isin(["存续", "在业"]), "org_key"].to_numpy()
    size = np.where(orgs.set_index("org_key").loc[active, "org_type"].isin(["个体工商户"]), 1.0, 6.0)
    working = (persons["_age"] >= 18) & (persons["_age"] <= 60)
    share = np.where(persons["population_type"] == "流动", 0.75, 0.60)
    employed = working & (rng.random(len(persons)) < share)
    employer = rng.choice(active, size=len(persons), p=size / size.sum())
    persons["employer_org_key"] = np.where(employed, employer, "")


def make_houses(
    rng: np.random.Generator, persons: pd.DataFrame, addresses: pd.DataFrame, orgs: pd.DataFrame
) -> pd.DataFrame:
    """Every home and shop with its owner (产权人), use, floor area and whether it is let (出租)."""
    houses = addresses.loc[addresses["kind"].isin(["home", "shop"]), ["address_code", "kind"]].reset_index(
        drop=True
    )
    heads = persons[persons["role"].isin(["head", "spouse"])]
    local_heads = heads[heads["population_type"] == "户籍"]
    owner_of_home = local_heads.groupby("residence_address_code")["person_key"].first()
    landlords = persons.loc[
        (persons["population_type"] == "户籍") & (persons["_age"] >= 25), "person_key"
    ].to_numpy()
    occupied = set(persons["residence_address_code"])
    owner = houses["address_code"].map(owner_of_home)
    random_owner = pd.Series(rng.choice(landlords, size=len(houses)), index=houses.index)
    owner = owner.where(owner.notna() & (rng.random(len(houses)) < 0.92), random_owner)
    houses["owner_key"] = owner
    is_home = houses["kind"] == "home"
    houses["use"] = np.where(is_home, "住宅", "商业")
    houses["area"] = np.where(
        is_home, rng.normal(92, 22, len(houses)).clip(38, 180), rng.normal(60, 25, len(houses)).clip(15, 200)
    ).round(1)
    lives_there = houses["address_code"].isin(occupied)
    owner_lives_there = houses["address_code"].map(
        persons.groupby("residence_address_code")["person_key"].agg(set)
    )
    owner_home = [
        isinstance(s, set) and o in s for s, o in zip(owner_lives_there, houses["owner_key"], strict=True)
    ]
    org_at = set(orgs["address_code"])
    houses["rented"] = np.where(
        is_home, lives_there & ~np.array(owner_home, dtype=bool), houses["address_code"].isin(org_at)
    )
    return houses.rename(columns={"kind": "_kind"})


def make_facilities(rng: np.random.Generator, n: int, addresses: pd.DataFrame) -> pd.DataFrame:
    """``n`` facilities at 门牌-level addresses (street-front numbers and village houses)."""
    spots = frame_rows(addresses[addresses["kind"].isin(["shop"]) | addresses["rural"]])
    types = N.FACILITY_TYPES
    p = np.array([s for _, s, _, _ in types])
    picks = rng.choice(len(types), size=n, p=p / p.sum())
    at = rng.integers(0, len(spots), n)
    rows = []
    for i, (t, a) in enumerate(zip(picks, at, strict=True)):
        ftype, _, template, responsible = types[t]
        s = spots[int(a)]
        road = s["road"] or f"{s['community']}{s['villager_group']}组"
        community = s["community"]
        rows.append(
            {
                "facility_key": f"TF{i + 1:05d}",
                "facility_type": ftype,
                "name": template.format(road=road, n=s["house_number"], community=community),
                "address_code": s["address_code"],
                "lon": s["lon"],
                "lat": s["lat"],
                "grid_code": s["grid_code"],
                "responsible": responsible.format(community=community).replace(
                    "村居民委员会", "村村民委员会"
                ),
                "status": str(_weighted(rng, N.FACILITY_STATUSES, 1)[0]),
            }
        )
    return pd.DataFrame(rows)
