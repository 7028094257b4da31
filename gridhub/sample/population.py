"""The true 四实 of the sample district: persons, houses and owners, organisations, facilities.

This is the ground truth the department feeds are later written from (with noise). The persons, in their
households, are made by :mod:`gridhub.sample.persons`; here are the organisations at the district's shops and
office rooms, their employees, the houses with their owners and the facilities. Some adults moved within the
district (their old address survives in slower departments' files, see :mod:`gridhub.sample.feeds`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridhub.sample import names as N
from gridhub.sample.codes import CREDIT_CHARSET, make_credit_code
from gridhub.sample.errors import SampleError
from gridhub.sample.spool import frame_rows, group_lists

#: The day the sample district is "as of": ages and statuses are computed for it.
AS_OF = dt.date(2025, 6, 30)
#: Companies and sole traders registered at another address than where they operate (注册地址 ≠ 经营地址),
#: and of those the share registered at the legal representative's home (the rest at an office room).
REGISTERED_ELSEWHERE_SHARE, REGISTERED_AT_HOME_SHARE = 0.2, 0.6
#: Big employers (the hospital and the factories): each takes this share of the employed, up to a cap.
BIG_EMPLOYER_SHARE, BIG_EMPLOYER_MAX = 0.04, 800
ORGANISATIONS_PER_FACTORY = 1200  # one factory per this many organisations, at least one
#: Houses owned by organisations (产权人 a company): of shops and offices where an organisation operates, the
#: share it owns; of the other office rooms, the share a company owns (the tower's investor); of homes, the
#: share a company owns (staff flats, unsold stock).
ORG_OWNS_PREMISES, COMPANY_OWNS_OFFICE, COMPANY_OWNS_HOME = 0.3, 0.5, 0.005
#: Where an organisation's legal representative (法定代表人, a sole trader's 经营者, a branch's 负责人) lives,
#: by kind of organisation: (outside the district, in the premises' grid, elsewhere in the premises'
#: community); the rest live elsewhere in the district. See docs/sample-district.md for the reasons.
REP_HOME = {
    "个体工商户": (0.10, 0.40, 0.30),  # the operator runs the shop and mostly lives within walking distance
    "企业": (0.25, 0.10, 0.25),  # a small company's owner-manager: often the same street, often elsewhere
    "factory": (0.70, 0.0, 0.10),  # a big company's chairman rarely lives by the plant
    "分公司": (0.50, 0.0, 0.10),  # a branch manager sent by the parent company
    "institution": (0.50, 0.0, 0.10),  # heads of 机关 / 事业单位 are appointed city-wide
}
#: Share of representatives living in the district whom 人社 insures through the organisation (employer
#: = the organisation), when they are of working age (18–60).
REP_INSURED_THERE = {"个体工商户": 0.2, "企业": 0.5, "factory": 0.8, "分公司": 0.9, "institution": 0.95}
#: Area codes of representatives living outside the district: the other counties of 云江市 (fictional).
OUTSIDE_AREA_CODES = ("445302", "445303", "445381", "445322", "445323")


@dataclass
class Population:
    """True entities; frames are written to truth/ (columns without a leading ``_``)."""

    persons: pd.DataFrame
    organisations: pd.DataFrame
    facilities: pd.DataFrame
    houses: pd.DataFrame  # one row per home or shop: address_code, owner_key, use, area, rented, house_code
    hard_negatives: pd.DataFrame  # person_key_a, person_key_b, kind
    #: legal representatives living outside the district (in no person feed): person_key (TR…), name, sex,
    #: birth_date, id_number
    outside_representatives: pd.DataFrame = field(default_factory=pd.DataFrame)


def _weighted(rng: np.random.Generator, table: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    values = np.array([v for v, _ in table], dtype=object)
    p = np.array([w for _, w in table], dtype=float)
    return values[rng.choice(len(values), size=size, p=p / p.sum())]


def make_organisations(
    rng: np.random.Generator, n: int, persons: pd.DataFrame, addresses: pd.DataFrame
) -> pd.DataFrame:
    """``n`` organisations (at least the public institutions) at the district's shops and office rooms."""
    shops = addresses.loc[addresses["kind"] == "shop", "address_code"].to_numpy()
    offices = addresses.loc[addresses["kind"] == "office", "address_code"].to_numpy()
    maker = _OrgMaker(rng, shops=list(rng.permutation(shops)), offices=list(rng.permutation(offices)))
    rows = [maker.institution(prefix, name) for prefix, name in N.INSTITUTIONS]
    n_branches = min(len(N.PARENT_COMPANIES), max(2, n // 40))
    rows += [maker.branch(parent) for parent in N.PARENT_COMPANIES[:n_branches]]
    n_factories = min(len(N.FACTORIES), max(1, n // ORGANISATIONS_PER_FACTORY))
    rows += [maker.factory(name) for name in N.FACTORIES[:n_factories]]
    retries = 0  # draws in a row whose name was taken (the same draws as before; only the give-up changed)
    while len(rows) < n:
        row = maker.business()
        if row is None:  # the name was taken: draw again
            retries += 1
            if retries > 10_000:
                raise SampleError(f"cannot find {n} distinct organisation names; ask for fewer persons")
            continue
        retries = 0
        rows.append(row)
    orgs = pd.DataFrame(rows)
    orgs.insert(0, "org_key", [f"TO{i + 1:05d}" for i in range(len(orgs))])
    _choose_representatives(rng, orgs, persons, addresses)
    orgs["registered_address_code"] = _registered_addresses(rng, orgs, persons, offices)
    return orgs


def rep_kind(orgs: pd.DataFrame) -> pd.Series:
    """The key of :data:`REP_HOME` / :data:`REP_INSURED_THERE` for each organisation."""
    kind = orgs["org_type"].replace({"机关": "institution", "事业单位": "institution"})
    return kind.mask(orgs["name"].isin(N.FACTORIES), "factory")


def _choose_representatives(
    rng: np.random.Generator, orgs: pd.DataFrame, persons: pd.DataFrame, addresses: pd.DataFrame
) -> None:
    """Each organisation's 法定代表人 (in place): ``legal_rep_key``, ``legal_rep``, ``legal_rep_outside`` and
    ``_rep_insured``, by :data:`REP_HOME` and :data:`REP_INSURED_THERE`.

    A representative living in the district is an adult (22–70) drawn from those living in the same grid as
    the premises, the same community, or anywhere in the district; one living outside is a new person with
    a TR… key, a name, and an ID of another county (:func:`make_outside_representatives`)."""
    at = addresses.set_index("address_code")
    adults = persons.loc[(persons["_age"] >= 22) & (persons["_age"] <= 70)]
    home = adults["residence_address_code"]
    by_grid = group_lists(home.map(at["grid_code"]).to_numpy(), adults["person_key"])
    by_comm = group_lists(home.map(at["division_code"]).to_numpy(), adults["person_key"])
    everyone = adults["person_key"].tolist()
    kinds = rep_kind(orgs)
    u = rng.random(len(orgs))
    pick = rng.random(len(orgs))
    keys, outside = [], []
    for kind, premises, ui, pi in zip(kinds, orgs["address_code"], u, pick, strict=True):
        out_share, grid_share, comm_share = REP_HOME[kind]
        if ui < out_share:
            keys.append("")
            outside.append(True)
            continue
        pool: list[str] = []
        if premises and ui < out_share + grid_share:
            pool = by_grid.get(at.at[premises, "grid_code"], [])
        if premises and not pool and ui < out_share + grid_share + comm_share:
            pool = by_comm.get(at.at[premises, "division_code"], [])
        pool = pool or everyone
        keys.append(pool[int(pi * len(pool))])
        outside.append(False)
    orgs["legal_rep_outside"] = outside
    n_out = int(sum(outside))
    out_keys = [f"TR{i + 1:05d}" for i in range(n_out)]
    orgs["legal_rep_key"] = keys
    orgs.loc[orgs["legal_rep_outside"], "legal_rep_key"] = out_keys
    orgs["legal_rep"] = orgs["legal_rep_key"].map(persons.set_index("person_key")["name"])
    insured = rng.random(len(orgs)) < kinds.map(REP_INSURED_THERE).to_numpy(float)
    orgs["_rep_insured"] = insured & ~orgs["legal_rep_outside"].to_numpy()


def make_outside_representatives(rng: np.random.Generator, orgs: pd.DataFrame) -> pd.DataFrame:
    """The legal representatives living outside the district (in place: their names on ``orgs``): person_key
    (TR…), name, sex, birth_date and a valid ID of another county of 云江市 or a migrant's home county. They
    are in no person feed of the district; 市场监管 names them, with their ID on some rows."""
    from gridhub.sample.codes import make_resident_id
    from gridhub.sample.draws import Draws

    d = Draws(rng)
    rows = []
    for key in orgs.loc[orgs["legal_rep_outside"], "legal_rep_key"]:
        sex = "M" if d.hit(0.7) else "F"
        given = d.weighted(N.COMMON_GIVEN_MALE if sex == "M" else N.COMMON_GIVEN_FEMALE)
        if not d.hit(0.35):
            pool = N.GIVEN_CHARS_MALE if sex == "M" else N.GIVEN_CHARS_FEMALE
            given = d.pick(pool) if d.hit(0.2) else "".join(d.two(pool))
        age = d.integer(28, 66)
        born = dt.date(AS_OF.year - age, 1, 1) + dt.timedelta(days=d.integer(0, 365))
        area = d.pick(OUTSIDE_AREA_CODES) if d.hit(0.7) else d.pick(N.HOMETOWNS)[0]
        seq = d.integer(0, 500) * 2 + (1 if sex == "M" else 0)
        rows.append(
            {
                "person_key": key,
                "name": d.weighted(N.SURNAMES) + given,
                "sex": sex,
                "birth_date": born.isoformat(),
                "id_number": make_resident_id(area, born.strftime("%Y%m%d"), seq),
            }
        )
    out = pd.DataFrame(rows, columns=["person_key", "name", "sex", "birth_date", "id_number"])
    names = out.set_index("person_key")["name"]
    orgs["legal_rep"] = orgs["legal_rep"].fillna(orgs["legal_rep_key"].map(names))
    return out


def _registered_addresses(
    rng: np.random.Generator, orgs: pd.DataFrame, persons: pd.DataFrame, offices: np.ndarray
) -> np.ndarray:
    """注册地址 of each organisation: where it operates (``address_code``), except for a share of companies and
    sole traders, and everyone without premises, registered at the legal representative's home or an office room."""
    premises = orgs["address_code"].to_numpy()
    home = orgs["legal_rep_key"].map(persons.set_index("person_key")["residence_address_code"])
    rep_home = home.fillna("").to_numpy()  # a representative living outside: no home in the district
    office = rng.choice(offices, size=len(orgs)) if len(offices) else premises
    # a sole trader registers its 经营场所 at the operator's home; a company at home or at an office room
    at_home = (rng.random(len(orgs)) < REGISTERED_AT_HOME_SHARE) | (
        orgs["org_type"] == "个体工商户"
    ).to_numpy()
    elsewhere = np.where(at_home & (rep_home != ""), rep_home, office)
    elsewhere = np.where((elsewhere == premises) & (rep_home != ""), rep_home, elsewhere)
    business = orgs["org_type"].isin(["企业", "个体工商户"]).to_numpy()
    moved = business & (rng.random(len(orgs)) < REGISTERED_ELSEWHERE_SHARE)
    return np.where(moved | (premises == ""), elsewhere, premises)


@dataclass
class _OrgMaker:
    """Draws organisations' names, codes, premises and founding dates (premises are used up as they go)."""

    rng: np.random.Generator
    shops: list[str]
    offices: list[str]
    used_names: set[str] = field(default_factory=set)

    def premises(self, prefer_office: bool) -> str:
        pool = self.offices if (prefer_office and self.offices) or not self.shops else self.shops
        return pool.pop() if pool else ""

    def credit(self, prefix: str) -> str:
        body = "".join(CREDIT_CHARSET[i] for i in self.rng.integers(0, 10, 8))
        if prefix == "92":  # 个体工商户: the organisation-code part is often a letter-led serial
            body = "L" + "".join(CREDIT_CHARSET[i] for i in self.rng.integers(0, 31, 7))
        return make_credit_code(prefix, N.DISTRICT[0], body)

    def established(self, min_year: int = 1995) -> str:
        start = dt.date(min_year, 1, 1)
        return (start + dt.timedelta(days=int(self.rng.integers(0, (AS_OF - start).days)))).isoformat()

    def institution(self, prefix: str, name: str) -> dict:
        """A public institution (机关 / 事业单位); not in the market regulator's feed."""
        if prefix == "11":
            industry = "公共管理"
        else:
            industry = "卫生和社会工作" if "医" in name or "疾" in name else "教育"
        return {
            "name": name,
            "credit_code": self.credit(prefix),
            "org_type": "机关" if prefix == "11" else "事业单位",
            "industry": industry,
            "address_code": self.premises(True),
            "status": "存续",
            "established": self.established(1980),
            "parent_name": "",
            "in_market_feed": False,
        }

    def branch(self, parent: str) -> dict:
        """The district branch (分公司) of a company registered elsewhere."""
        return {
            "name": f"{parent}云江青石分公司",
            "credit_code": self.credit("91"),
            "org_type": "分公司",
            "industry": "道路运输业" if "运" in parent else "商务服务业",
            "address_code": self.premises(True),
            "status": "存续",
            "established": self.established(2010),
            "parent_name": parent,
            "in_market_feed": True,
        }

    def factory(self, name: str) -> dict:
        """A factory of the district (a big employer)."""
        self.used_names.add(name)
        return {
            "name": name,
            "credit_code": self.credit("91"),
            "org_type": "企业",
            "industry": "制造业",
            "address_code": self.premises(False),
            "status": "存续",
            "established": self.established(),
            "parent_name": "",
            "in_market_feed": True,
        }

    def business(self) -> dict | None:
        """A company or a sole trader (个体工商户) of a drawn industry; None when its name is already taken."""
        rng = self.rng
        ind = N.INDUSTRIES
        weights = np.array([s for _, _, s, _ in ind])
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
        if name in self.used_names:
            return None
        self.used_names.add(name)
        status = str(_weighted(rng, N.ORG_STATUSES, 1)[0])
        return {
            "name": name,
            "credit_code": self.credit(prefix),
            "org_type": org_type,
            "industry": industry,
            "address_code": self.premises(not sole and rng.random() < 0.6),
            "status": status,
            "established": self.established(),
            "parent_name": "",
            "in_market_feed": True,
        }


def assign_employers(rng: np.random.Generator, persons: pd.DataFrame, orgs: pd.DataFrame) -> None:
    """Working-age persons get an employer (in place): 60 % of locals, 75 % of migrants aged 18–60."""
    active = orgs.loc[orgs["status"].isin(["存续", "在业"]), "org_key"].to_numpy()
    size = np.where(orgs.set_index("org_key").loc[active, "org_type"].isin(["个体工商户"]), 1.0, 6.0)
    working = (persons["_age"] >= 18) & (persons["_age"] <= 60)
    share = np.where(persons["population_type"] == "流动", 0.75, 0.60)
    employed = working & (rng.random(len(persons)) < share)
    employer = rng.choice(active, size=len(persons), p=size / size.sum())
    # the hospital and the factories employ hundreds each
    big = orgs.loc[orgs["name"].isin([N.HOSPITAL, *N.FACTORIES]), "org_key"].to_numpy()
    big_share = min(BIG_EMPLOYER_SHARE, BIG_EMPLOYER_MAX / max(1, int(employed.sum())))
    pick = rng.random(len(persons))
    to_big = employed.to_numpy() & (pick < big_share * len(big))
    which = big[np.minimum((pick / big_share).astype(int), max(0, len(big) - 1))] if len(big) else employer
    employer = np.where(to_big, which, employer)
    persons["employer_org_key"] = np.where(employed, employer, "")
    # representatives insured through their organisation (a person representing several: the last one)
    reps = orgs.loc[
        orgs["_rep_insured"] & orgs["status"].isin(["存续", "在业"]), ["legal_rep_key", "org_key"]
    ]
    rep_of = reps.drop_duplicates("legal_rep_key", keep="last").set_index("legal_rep_key")["org_key"]
    own = persons["person_key"].map(rep_of)
    persons["employer_org_key"] = own.where(own.notna() & working, persons["employer_org_key"])


def make_houses(
    rng: np.random.Generator, persons: pd.DataFrame, addresses: pd.DataFrame, orgs: pd.DataFrame
) -> pd.DataFrame:
    """Every home, shop and office room with its owner (产权人: a person, or an organisation of the district),
    use, floor area, whether it is let (出租) and 住建's 房屋编号."""
    kinds = ["home", "shop", "office"]
    houses = addresses.loc[addresses["kind"].isin(kinds), ["address_code", "kind"]].reset_index(drop=True)
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
    org_owner = _organisation_owners(rng, houses, orgs)
    houses["owner_key"] = org_owner.where(org_owner != "", owner)
    houses["owner_kind"] = np.where(org_owner != "", "organisation", "person")
    is_home = houses["kind"] == "home"
    is_office = houses["kind"] == "office"
    houses["use"] = np.select([is_home, is_office], ["住宅", "办公"], "商业")
    n = len(houses)
    houses["area"] = np.select(
        [is_home, is_office],
        [rng.normal(92, 22, n).clip(38, 180), rng.normal(85, 40, n).clip(20, 400)],
        rng.normal(60, 25, n).clip(15, 200),
    ).round(1)
    lives_there = houses["address_code"].isin(occupied)
    # the owner is one of the persons living there: a person key whose home is the house
    owner_home = (
        houses["owner_key"].map(persons.set_index("person_key")["residence_address_code"])
        == houses["address_code"]
    ).to_numpy(dtype=bool, na_value=False)
    org_at = orgs.loc[orgs["address_code"] != ""].set_index("address_code")["org_key"]
    operator = houses["address_code"].map(org_at)
    houses["rented"] = np.where(
        is_home,
        lives_there & ~owner_home,
        operator.notna() & (operator != houses["owner_key"]),
    )
    # 住建's own code of the house (房屋编号), numbered in an order unrelated to the address codes
    houses["house_code"] = [f"FW{N.DISTRICT[0]}{i + 1:07d}" for i in rng.permutation(n)]
    return houses.rename(columns={"kind": "_kind"})


def _organisation_owners(rng: np.random.Generator, houses: pd.DataFrame, orgs: pd.DataFrame) -> pd.Series:
    """The organisation owning each house (its org_key), or '': some organisations own their premises, a
    company owns some other office rooms and a few flats. Sole traders (个体工商户) never own as such."""
    owners = orgs[orgs["org_type"] != "个体工商户"]
    at = owners.loc[owners["address_code"] != ""].set_index("address_code")["org_key"]
    companies = orgs.loc[
        (orgs["org_type"] == "企业") & orgs["status"].isin(["存续", "在业"]), "org_key"
    ].to_numpy()
    u = rng.random(len(houses))
    any_company = rng.choice(companies, size=len(houses)) if len(companies) else np.full(len(houses), "")
    operator = houses["address_code"].map(at).fillna("")
    kind = houses["kind"]
    out = np.where((operator != "") & (u < ORG_OWNS_PREMISES), operator, "")
    other_office = (kind == "office") & (out == "") & (rng.random(len(houses)) < COMPANY_OWNS_OFFICE)
    out = np.where(other_office, any_company, out)
    flat = (kind == "home") & (u < COMPANY_OWNS_HOME)
    return pd.Series(np.where(flat, any_company, out), index=houses.index)


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
