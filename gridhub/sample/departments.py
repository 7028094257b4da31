"""How each department writes its feed of the sample district: who is in it, which columns, which noise.

One function per department builds its :class:`~gridhub.sample.feeds.FeedOutput` from the true population
with the shared :class:`~gridhub.sample.feeds.FeedBuilder`; :func:`build_feeds` runs them in a fixed order
(the draws of one feed follow those of the one before, so the order is part of the sample).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

import numpy as np
import pandas as pd

from gridhub.sample import names as N
from gridhub.sample import noise, rep_ids
from gridhub.sample.feed_specs import SEX_NUM, SEX_ZH, SPECS
from gridhub.sample.feeds import FeedBuilder, FeedOutput
from gridhub.sample.noise import Profile
from gridhub.sample.population import AS_OF
from gridhub.sample.spool import RowSource, frame_rows

ASSISTANCE_KINDS = ("低保", "特困供养", "高龄津贴", "残疾人两项补贴", "临时救助")
ELDERLY_SHARE_IN_MINZHENG = 0.45
ASSISTANCE_SHARE = 0.03
POLICE_MISSING_LOCAL, POLICE_MISSING_MIGRANT = 0.01, 0.08
POLICE_DUPLICATE = 0.01
RENSHE_SHARE = 0.85
RENSHE_NO_EMPLOYER_SHARE = 0.15  # of working-age persons without an employer: insured on their own
ZHUJIAN_SHARE = 0.92
FACILITY_NO_ADDRESS, FACILITY_NO_COORDS = 0.15, 0.10
FACILITY_JITTER_DEG = 0.00005  # about 5 m


#: The fields of a house 住建 writes (and the truth of its rows names).
HOUSE_FIELDS = ("address_code", "house_code", "use", "area", "rented", "owner_kind", "owner_key")


def build_feeds(b: FeedBuilder) -> list[FeedOutput]:
    """Every department's feed, in the order their draws are taken."""
    outputs = []
    for department in (gongan, minzheng, renshe, shichang, zhujian, yingji):
        outputs.append(department(b))
        outputs[-1].close()
    return outputs


# ---- 公安 ----------------------------------------------------------------------------------------------
def gongan(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["gongan_population"]
    out = b.output(spec)
    p = noise.POLICE
    persons = b.pop.persons
    u = b.rng.random(len(persons))
    missing = np.where(persons["population_type"] == "流动", POLICE_MISSING_MIGRANT, POLICE_MISSING_LOCAL)
    keep = persons.index[u >= missing].to_numpy()
    dup = keep[b.rng.random(len(keep)) < POLICE_DUPLICATE]
    order = b.rng.permutation(np.concatenate([keep, dup]))
    cols = {"name": "姓名", "id_number": "公民身份号码", "birth_date": "出生日期", "phone": "联系电话"}
    recs = b.person_rows

    def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        v = b.person_cols(target, rid, person, p, cols, "%Y%m%d", ())
        if person["hukou_address_code"]:
            hukou = b.address(target, rid, "户籍地址", "hukou_address", person["hukou_address_code"], p)
        else:
            hukou = person["hukou_text"]
            target.address(rid, "hukou_address", "", "")
        current = b.address(target, rid, "现住址", "address", person["residence_address_code"], p)
        return [
            rid,
            v["name"],
            SEX_ZH[person["sex"]],
            v["id_number"],
            v["birth_date"],
            person["ethnicity"],
            v["phone"],
            hukou,
            current,
            person["population_type"],
        ]

    rid_of = partial(b.rid, "GA4453990", width=7)
    b.write_rows(out, recs, order, rid_of, row_for, (("person", "person_key"),))
    b.malformed(out, recs, range(len(recs)), rid_of, row_for)
    return out


# ---- 民政 ----------------------------------------------------------------------------------------------
def minzheng(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["minzheng_assistance"]
    out = b.output(spec)
    p = noise.DEPARTMENT
    persons = b.pop.persons
    u = b.rng.random(len(persons))
    # assistance (低保, 临时救助 …) is granted to a household: its members under 60 are listed together
    households, uniques = pd.factorize(persons["household_key"])
    assisted = (b.rng.random(len(uniques)) < ASSISTANCE_SHARE)[households]
    chosen = ((persons["_age"] >= 60) & (u < ELDERLY_SHARE_IN_MINZHENG)) | (
        (persons["_age"] < 60) & (persons["population_type"] == "户籍") & assisted
    )
    order = b.rng.permutation(persons.index[chosen].to_numpy())
    cols = {"name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "phone": "联系电话"}
    variants = spec.date_formats[1:]
    recs = b.person_rows

    def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        v = b.person_cols(target, rid, person, p, cols, "%Y-%m-%d", variants)
        code = b.residence(person, moved)
        if moved:
            target.log(rid, "家庭住址", ["moved_previous_address"])
        addr = b.address(target, rid, "家庭住址", "address", code, p)
        kind = "高龄津贴" if person["_age"] >= 80 and b.d.hit(0.7) else b.d.pick(ASSISTANCE_KINDS)
        sex = SEX_ZH[person["sex"]] if b.d.hit(0.9) else SEX_NUM[person["sex"]]
        # registered within the last eight years; a moved person's record predates the move (≥ 2 years old)
        days_ago = b.d.integer(730 if moved else 0, 8 * 365)
        registered = (AS_OF - dt.timedelta(days=days_ago)).isoformat()
        registered, kinds = noise.date(b.d, registered, "%Y-%m-%d", variants, p)
        target.log(rid, "登记日期", kinds)
        return [
            rid,
            v["name"],
            sex,
            v["id_number"],
            v["birth_date"],
            kind,
            v["phone"],
            addr,
            b.addr[code]["community"],
            registered,
        ]

    rid_of = partial(b.rid, "MZ2025", width=6)
    b.write_rows(
        out,
        recs,
        order,
        rid_of,
        row_for,
        (("person", "person_key"),),
        moved_rows=b.moved_rows(len(order)),
    )
    elderly = persons.index[persons["_age"] >= 60].to_numpy()
    pool = elderly if len(elderly) else persons.index.to_numpy()
    b.ensure_bad_check(out)
    b.malformed(out, recs, pool, rid_of, row_for)
    return out


# ---- 人社 ----------------------------------------------------------------------------------------------
def renshe(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["renshe_insured"]
    out = b.output(spec)
    p = noise.DEPARTMENT
    persons = b.pop.persons
    orgs = {o["org_key"]: o for o in frame_rows(b.pop.organisations)}
    u = b.rng.random(len(persons))
    has_job = persons["employer_org_key"] != ""
    working = (persons["_age"] >= 18) & (persons["_age"] <= 60)
    employed = persons.index[has_job & (u < RENSHE_SHARE)]
    # 个人参保 / 灵活就业人员: insured persons whose row names no employer
    on_own = persons.index[~has_job & working & (u < RENSHE_NO_EMPLOYER_SHARE)]
    order = b.rng.permutation(employed.union(on_own).to_numpy())
    cols = {"name": "xm", "id_number": "sfzh", "birth_date": "csrq", "phone": "lxdh"}
    variants = spec.date_formats[1:]
    recs = b.person_rows

    def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        v = b.person_cols(target, rid, person, p, cols, "%Y/%m/%d", variants)
        if person["employer_org_key"]:
            org = orgs[person["employer_org_key"]]
            org_name, kinds = noise.org_name(b.d, org["name"], p, b.late)
            target.log(rid, "dwmc", kinds)
            credit, kinds = noise.employer_code(b.d, org["credit_code"], p)
            target.log(rid, "tyshxydm", kinds)
            target.code(rid, "organisation", org["credit_code"], kinds)
        else:
            org_name, credit = b.d.weighted(N.NO_EMPLOYER), ""
            target.log(rid, "dwmc", ["no_employer"])
        code = b.residence(person, moved)
        if moved:
            target.log(rid, "jzdz", ["moved_previous_address"])
        addr = b.address(target, rid, "jzdz", "address", code, p)
        return [
            rid,
            v["name"],
            SEX_NUM[person["sex"]],
            v["id_number"],
            v["birth_date"],
            v["phone"],
            org_name,
            credit,
            addr,
        ]

    def rid_of(i: int) -> str:
        return str(100000 + i)

    b.write_rows(
        out,
        recs,
        order,
        rid_of,
        row_for,
        (("person", "person_key"), ("organisation", "employer_org_key")),
        moved_rows=b.moved_rows(len(order)),
    )
    pool = (
        employed.to_numpy() if len(employed) else persons.index[persons["employer_org_key"] != ""].to_numpy()
    )
    b.ensure_bad_check(out)
    if len(pool):
        b.malformed(out, recs, pool, rid_of, row_for)
    return out


# ---- 市场监管 -------------------------------------------------------------------------------------------
def shichang(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["shichang_orgs"]
    out = b.output(spec)
    p = noise.MARKET
    orgs = b.pop.organisations
    listed = frame_rows(orgs[orgs["in_market_feed"]])
    # representatives living outside the district are in no person feed, but 市场监管 knows their ID
    outside = {r["person_key"]: r for r in frame_rows(b.pop.outside_representatives)}
    reps = b.persons_by_key(orgs.loc[orgs["in_market_feed"], "legal_rep_key"])

    def row_for(org: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        name, kinds = noise.org_name(b.d, org["name"], p, b.late)
        target.log(rid, "企业名称", kinds)
        registered = business = ""
        if org["registered_address_code"]:
            code = org["registered_address_code"]
            registered = b.address(target, rid, "注册地址", "org_address", code, p)
        if org["address_code"]:
            business = b.address(target, rid, "经营地址", "org_business_address", org["address_code"], p)
        established, kinds = noise.date(b.d, org["established"], "%Y-%m-%d", spec.date_formats[1:], p)
        target.log(rid, "成立日期", kinds)
        rep, kinds = noise.name(b.d, org["legal_rep"], p)
        target.log(rid, "法定代表人", kinds)
        away = org["legal_rep_key"] in outside
        person = outside[org["legal_rep_key"]] if away else reps[org["legal_rep_key"]]
        rep_id, kinds, full = rep_ids.written(b.d, person, away, p)
        target.log(rid, "法定代表人证件号码", kinds)
        if full:  # a masked ID, a passport or an empty cell is no valid identifier of the person
            target.code(rid, "legal_rep", person["id_number"], kinds)
        target.code(rid, "organisation", org["credit_code"], [])
        target.log(rid, "联系电话", org["_phone_noise"])  # keyed in gridhub.sample.contacts (its own stream)
        return [
            rid,
            org["credit_code"],
            name,
            rep,
            rep_id,
            registered,
            business,
            established,
            org["status"],
            org["industry"],
            org["_phone_written"],
        ]

    b.write_rows(
        out,
        listed,
        b.rng.permutation(len(listed)),
        partial(b.rid, "4453990000", width=6),
        row_for,
        (("organisation", "org_key"),),
    )
    return out


# ---- 住建 ----------------------------------------------------------------------------------------------
def zhujian(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["zhujian_houses"]
    out = b.output(spec)
    p = Profile(building_word=0.5)  # 住建 writes 幢 for half the buildings
    houses = b.pop.houses
    chosen = houses.index[b.rng.random(len(houses)) < ZHUJIAN_SHARE].to_numpy()
    order = b.rng.permutation(chosen)
    persons: dict[str, dict] = {}  # the owners of the houses of the block being written

    def owners(block: list[dict]) -> None:
        persons.clear()
        persons.update(b.persons_by_key(h["owner_key"] for h in block if h["owner_kind"] == "person"))

    recs = RowSource(houses, HOUSE_FIELDS)
    cols = {"name": "产权人", "id_number": "产权人证件号"}
    orgs = {o["org_key"]: o for o in frame_rows(b.pop.organisations)}

    def row_for(house: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        if house["owner_kind"] == "organisation":  # 产权人 a company: its name and credit code
            org = orgs[house["owner_key"]]
            owner, kinds = noise.org_name(b.d, org["name"], noise.DEPARTMENT, b.late)
            target.log(rid, "产权人", kinds)
            owner_id, kinds = org["credit_code"], []
            if b.d.hit(noise.DEPARTMENT.owner_code_missing):
                owner_id, kinds = "", ["owner_code_missing"]
            target.log(rid, "产权人证件号", kinds)
            target.code(rid, "organisation", org["credit_code"], kinds)
        else:
            v = b.person_cols(target, rid, persons[house["owner_key"]], p, cols, "%Y-%m-%d", ())
            owner, owner_id = v["name"], v["id_number"]
        addr = b.address(target, rid, "房屋坐落", "address", house["address_code"], p)
        area, kinds = noise.area(b.d, house["area"], p)
        target.log(rid, "建筑面积", kinds)
        return [
            rid,
            house["house_code"],
            addr,
            house["use"],
            area,
            "是" if house["rented"] else "否",
            owner,
            owner_id,
        ]

    rid_of = partial(b.rid, "DJ2025", width=7)
    truth = (("house", "address_code"), ("@owner_kind", "owner_key"))
    b.write_rows(out, recs, order, rid_of, row_for, truth, prepare=owners)
    b.ensure_bad_check(out)
    pool = range(len(recs))
    b.malformed(out, recs, pool, rid_of, row_for, prepare=owners)
    return out


# ---- 应急管理 -------------------------------------------------------------------------------------------
def yingji(b: FeedBuilder) -> FeedOutput:
    spec = SPECS["yingji_facilities"]
    out = b.output(spec)
    p = noise.DEPARTMENT
    fac = frame_rows(b.pop.facilities)

    def row_for(f: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
        no_addr = b.d.hit(FACILITY_NO_ADDRESS)
        no_coords = (not no_addr) and b.d.hit(FACILITY_NO_COORDS / (1 - FACILITY_NO_ADDRESS))
        addr = ""
        if no_addr:
            target.log(rid, "地址", ["facility_no_address"])
        else:
            addr = b.address(target, rid, "地址", "address", f["address_code"], p)
        lon = lat = ""
        if no_coords:
            target.log(rid, "经度", ["facility_no_coords"])
        else:
            jitter = (
                (b.d.u() * 2 - 1) * FACILITY_JITTER_DEG,
                (b.d.u() * 2 - 1) * FACILITY_JITTER_DEG,
            )
            lon, lat = f"{f['lon'] + jitter[0]:.6f}", f"{f['lat'] + jitter[1]:.6f}"
        return [rid, f["facility_type"], f["name"], addr, lon, lat, f["responsible"], f["status"]]

    b.write_rows(
        out,
        fac,
        b.rng.permutation(len(fac)),
        partial(b.rid, "YJSS", width=6),
        row_for,
        (("facility", "facility_key"),),
    )
    return out
