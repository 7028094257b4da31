"""The six department feeds of the sample district, their ``gridhub.yaml`` entries and the truth behind them.

Each feed is built as a list of records (source columns in the department's own format) together with the
truth rows it implies: which true entity each record describes (``truth/records.csv``), which standard
address each address field means (``truth/addresses.csv``) and which noise was applied (``truth/noise.csv``).
A few malformed rows per feed (a ragged row, an impossible date, an empty record id) are written too; they
are listed in ``truth/quarantine_expected.csv`` with the reason code the ingest must give them, and nowhere
else in the truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from gridhub.sample import noise
from gridhub.sample.codes import ID_CHECK
from gridhub.sample.district import District
from gridhub.sample.draws import Draws
from gridhub.sample.noise import Profile
from gridhub.sample.population import AS_OF, Population, frame_rows
from warehouse.reasons import ReasonCode

ASSISTANCE_KINDS = ("低保", "特困供养", "高龄津贴", "残疾人两项补贴", "临时救助")
ELDERLY_SHARE_IN_MINZHENG = 0.45
ASSISTANCE_SHARE = 0.03
POLICE_MISSING_LOCAL, POLICE_MISSING_MIGRANT = 0.01, 0.08
POLICE_DUPLICATE = 0.01
RENSHE_SHARE = 0.85
ZHUJIAN_SHARE = 0.92
MOVED_SHARE, MIN_MOVED_ROWS = 0.04, 2  # 民政 / 人社 rows with a moved person's previous address
FACILITY_NO_ADDRESS, FACILITY_NO_COORDS = 0.15, 0.10
FACILITY_JITTER_DEG = 0.00005  # about 5 m
MALFORMED_PER_ROWS = 2000  # one malformed row of each planned kind per this many rows, at least one


@dataclass
class FeedSpec:
    """How one feed is written and described in gridhub.yaml."""

    name: str
    department: str
    description: str
    file_name: str
    encoding: str  # how the file is written
    config_encoding: str  # what gridhub.yaml declares (``auto`` for one feed)
    newline: str
    headers: tuple[str, ...]
    columns: dict[str, str]  # source header → staging field
    record_id: str
    entities: tuple[str, ...]
    date_formats: tuple[str, ...]
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    address_relation: str | None = None
    priority: int = 50
    required: tuple[str, ...] = ()
    malformed: tuple[ReasonCode, ...] = ()

    def config(self) -> dict:
        """The feed's entry in gridhub.yaml (loads as :class:`gridhub.config.Feed`)."""
        entry: dict = {
            "name": self.name,
            "department": self.department,
            "description": self.description,
            "source": {"kind": "file", "glob": "*.csv", "format": "csv", "encoding": self.config_encoding},
            "entities": list(self.entities),
            "record_id": self.record_id,
            "columns": dict(self.columns),
        }
        if self.value_maps:
            entry["value_maps"] = self.value_maps
        entry["date_formats"] = list(self.date_formats)
        if self.required:
            entry["required"] = list(self.required)
        if self.address_relation:
            entry["address_relation"] = self.address_relation
        entry["priority"] = self.priority
        return entry


SEX_ZH = {"M": "男", "F": "女"}
SEX_NUM = {"M": "1", "F": "2"}

SPECS: dict[str, FeedSpec] = {
    s.name: s
    for s in (
        FeedSpec(
            name="gongan_population",
            department="公安",
            description="实有人口(户籍+流动), 派出所人口信息系统导出",
            file_name="实有人口_202506.csv",
            encoding="gb18030",
            config_encoding="gb18030",
            newline="\r\n",
            headers=(
                "记录编号",
                "姓名",
                "性别",
                "公民身份号码",
                "出生日期",
                "民族",
                "联系电话",
                "户籍地址",
                "现住址",
                "人口类型",
            ),
            columns={
                "记录编号": "source_record_id",
                "姓名": "name",
                "性别": "sex",
                "公民身份号码": "id_number",
                "出生日期": "birth_date",
                "民族": "ethnicity",
                "联系电话": "phone",
                "户籍地址": "hukou_address",
                "现住址": "address",
                "人口类型": "population_type",
            },
            record_id="记录编号",
            entities=("person",),
            date_formats=("%Y%m%d",),
            value_maps={"sex": {"男": "M", "女": "F"}},
            address_relation="居住",
            priority=90,
            required=("name", "id_number"),
            malformed=(ReasonCode.RAGGED_ROW, ReasonCode.INVALID_DATE),
        ),
        FeedSpec(
            name="minzheng_assistance",
            department="民政",
            description="救助对象与老年人名册",
            file_name="救助对象名册.csv",
            encoding="utf-8-sig",
            config_encoding="utf-8-sig",
            newline="\r\n",
            headers=(
                "救助编号",
                "姓名",
                "性别",
                "身份证号",
                "出生日期",
                "救助类别",
                "联系电话",
                "家庭住址",
                "所属社区",
                "登记日期",
            ),
            columns={
                "救助编号": "source_record_id",
                "姓名": "name",
                "性别": "sex",
                "身份证号": "id_number",
                "出生日期": "birth_date",
                "联系电话": "phone",
                "家庭住址": "address",
                "登记日期": "record_date",
            },
            record_id="救助编号",
            entities=("person",),
            date_formats=("%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", "%Y%m%d"),
            value_maps={"sex": {"男": "M", "女": "F", "1": "M", "2": "F"}},
            address_relation="居住",
            priority=50,
            required=("name",),
            malformed=(ReasonCode.MISSING_RECORD_ID, ReasonCode.INVALID_DATE),
        ),
        FeedSpec(
            name="renshe_insured",
            department="人社",
            description="参保人员及参保单位 (拼音首字母表头)",
            file_name="cbry_2025q2.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=("xh", "xm", "xb", "sfzh", "csrq", "lxdh", "dwmc", "tyshxydm", "jzdz"),
            columns={
                "xh": "source_record_id",
                "xm": "name",
                "xb": "sex",
                "sfzh": "id_number",
                "csrq": "birth_date",
                "lxdh": "phone",
                "dwmc": "org_name",
                "tyshxydm": "credit_code",
                "jzdz": "address",
            },
            record_id="xh",
            entities=("person", "organisation"),
            date_formats=("%Y/%m/%d", "%Y-%m-%d", "%Y%m%d"),
            value_maps={"sex": {"1": "M", "2": "F"}},
            address_relation="居住",
            priority=60,
            required=("name",),
            malformed=(ReasonCode.INVALID_DATE, ReasonCode.RAGGED_ROW),
        ),
        FeedSpec(
            name="shichang_orgs",
            department="市场监管",
            description="市场主体登记信息",
            file_name="市场主体_青石区.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=(
                "主体身份代码",
                "统一社会信用代码",
                "企业名称",
                "法定代表人",
                "住所",
                "成立日期",
                "登记状态",
                "行业",
            ),
            columns={
                "主体身份代码": "source_record_id",
                "统一社会信用代码": "credit_code",
                "企业名称": "org_name",
                "法定代表人": "legal_rep",
                "住所": "org_address",
                "成立日期": "established",
                "登记状态": "org_status",
                "行业": "industry",
            },
            record_id="主体身份代码",
            entities=("organisation",),
            date_formats=("%Y-%m-%d", "%Y年%m月%d日"),
            priority=80,
            required=("org_name",),
            malformed=(),
        ),
        FeedSpec(
            name="zhujian_houses",
            department="住建",
            description="房屋基础信息 (产权登记)",
            file_name="房屋信息.csv",
            encoding="gb18030",
            config_encoding="auto",
            newline="\r\n",
            headers=("房屋编号", "房屋坐落", "用途", "建筑面积", "是否出租", "产权人", "产权人证件号"),
            columns={
                "房屋编号": "source_record_id",
                "房屋坐落": "address",
                "用途": "house_use",
                "建筑面积": "house_area",
                "是否出租": "rented",
                "产权人": "name",
                "产权人证件号": "id_number",
            },
            record_id="房屋编号",
            entities=("house", "person"),
            date_formats=("%Y-%m-%d",),
            value_maps={"rented": {"是": "true", "否": "false"}},
            address_relation="产权",
            priority=70,
            malformed=(ReasonCode.MISSING_RECORD_ID,),
        ),
        FeedSpec(
            name="yingji_facilities",
            department="应急管理",
            description="消防栓、监控、避难场所等设施台账",
            file_name="设施台账.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=("设施编号", "设施类型", "设施名称", "地址", "经度", "纬度", "责任单位", "状态"),
            columns={
                "设施编号": "source_record_id",
                "设施类型": "facility_type",
                "设施名称": "facility_name",
                "地址": "address",
                "经度": "lon",
                "纬度": "lat",
                "责任单位": "responsible",
                "状态": "facility_status",
            },
            record_id="设施编号",
            entities=("facility",),
            date_formats=("%Y-%m-%d",),
            priority=60,
            required=("facility_type",),
            malformed=(),
        ),
    )
}


@dataclass
class FeedOutput:
    """The rows of one feed and the truth they imply."""

    spec: FeedSpec
    rows: list[list[str]] = field(default_factory=list)
    records: list[tuple[str, str, str]] = field(default_factory=list)  # record id, entity type, entity key
    addresses: list[tuple[str, str, str]] = field(default_factory=list)  # record id, field, address code
    noise: list[tuple[str, str, str]] = field(default_factory=list)  # record id, field, kind
    malformed: list[tuple[int, list[str] | str, str, ReasonCode]] = field(default_factory=list)
    # (position among rows, row or raw line, record id, reason)

    def log(self, rid: str, column: str, kinds: list[str]) -> None:
        for k in kinds:
            self.noise.append((rid, column, k))


#: Builds one row of a feed from one true item: ``row_for(item, record_id, target, moved)``; noise and address
#: truth go to ``target``; ``moved``: the row carries a moved person's previous address (民政, 人社 only).
RowFor = Callable[[dict, str, FeedOutput, bool], list[str]]
#: What a row describes: (entity type, the item's column holding that entity's true key).
Truth = tuple[tuple[str, str], ...]


class FeedBuilder:
    """Writes every feed's records from the true population, with noise."""

    def __init__(self, rng: np.random.Generator, district: District, pop: Population):
        self.rng = rng
        self.d = Draws(rng)
        self.district = district
        self.pop = pop
        self.addr = {a["address_code"]: a for a in frame_rows(district.addresses)}
        self.person_rows = frame_rows(pop.persons)
        self.persons = {p["person_key"]: p for p in self.person_rows}
        self.homes = district.addresses.loc[district.addresses["kind"] == "home", "address_code"].tolist()
        self.previous: dict[str, str] = {}  # person key → previous home, for persons who moved

    # ---- helpers ------------------------------------------------------------------------------------------
    def _address(self, out: FeedOutput, rid: str, column: str, field_name: str, code: str, p: Profile) -> str:
        text, kinds = noise.address(self.d, self.addr[code], p)
        out.addresses.append((rid, field_name, code))
        out.log(rid, column, kinds)
        return text

    def _person_cols(
        self,
        out: FeedOutput,
        rid: str,
        person: dict,
        p: Profile,
        cols: dict[str, str],
        date_base: str,
        date_variants: tuple[str, ...],
    ) -> dict[str, str]:
        """Name, ID, birth date and phone of a person as this feed keys them (``cols``: field → header)."""
        values = {}
        values["name"], kinds = noise.name(self.d, person["name"], p)
        out.log(rid, cols["name"], kinds)
        if "id_number" in cols:
            values["id_number"], kinds = noise.resident_id(
                self.d, person["id_number"], person["birth_date"], p
            )
            out.log(rid, cols["id_number"], kinds)
        if "birth_date" in cols:
            values["birth_date"], kinds = noise.date(
                self.d, person["birth_date"], date_base, date_variants, p
            )
            out.log(rid, cols["birth_date"], kinds)
        if "phone" in cols:
            values["phone"], kinds = noise.phone(self.d, person["phone"], p)
            out.log(rid, cols["phone"], kinds)
        return values

    def _residence(self, person: dict, moved: bool) -> str:
        """The address code a department has for a person: for a moved person, the previous home.

        A person who moved keeps one previous home across feeds (``self.previous``, written to the truth).
        """
        if not moved:
            return person["residence_address_code"]
        key = person["person_key"]
        if key not in self.previous:
            prev = person["residence_address_code"]
            while prev == person["residence_address_code"]:
                prev = self.d.pick(self.homes)
            self.previous[key] = prev
        return self.previous[key]

    def _moved_rows(self, n_rows: int) -> set[int]:
        """Which of a feed's rows (by position) carry a moved person's previous address: a fixed quota."""
        size = min(n_rows, max(MIN_MOVED_ROWS, round(MOVED_SHARE * n_rows)))
        return set(self.rng.choice(n_rows, size=size, replace=False).tolist()) if n_rows else set()

    def _write_rows(
        self,
        out: FeedOutput,
        items: Sequence[dict],
        order: Sequence[int],
        rid_of: Callable[[int], str],
        row_for: RowFor,
        truth: Truth,
        moved_rows: set[int] | frozenset[int] = frozenset(),
    ) -> None:
        """One row per item in ``order`` (record ids ``rid_of(1)``, ``rid_of(2)`` ...) and the truth records it
        implies; the rows at the positions ``moved_rows`` carry a moved person's previous address."""
        for i, idx in enumerate(order, start=1):
            item = items[int(idx)]
            rid = rid_of(i)
            out.rows.append(row_for(item, rid, out, i - 1 in moved_rows))
            out.records += [(rid, entity_type, item[key]) for entity_type, key in truth]

    def _malformed(
        self,
        out: FeedOutput,
        items: Sequence[dict],
        pool: Sequence[int],
        rid_of: Callable[[int], str],
        row_for: RowFor,
    ) -> None:
        """Plan the feed's malformed rows (copies of real records with one defect each).

        Each copies an item drawn from ``pool`` (positions in ``items``) under the next record id after the rows;
        its noise and addresses stay out of the truth.
        """
        n_rows = len(out.rows)
        count = max(1, n_rows // MALFORMED_PER_ROWS)
        numbers = itertools.count(n_rows + 1)
        for reason in out.spec.malformed:
            for _ in range(count):
                pos = self.d.integer(0, n_rows + 1)
                rid = rid_of(next(numbers))
                row = row_for(
                    items[int(pool[self.d.integer(0, len(pool))])], rid, FeedOutput(out.spec), False
                )
                headers = out.spec.headers
                if reason is ReasonCode.RAGGED_ROW:
                    # an unquoted comma inside an address splits it into one field too many
                    col = next(i for i, h in enumerate(headers) if out.spec.columns.get(h) == "address")
                    text = row[col] or "滨江路18号"
                    cut = max(1, len(text) // 2)
                    row[col] = text[:cut] + "," + text[cut:]
                    out.malformed.append((pos, ",".join(row), rid, reason))
                elif reason is ReasonCode.INVALID_DATE:
                    col = next(i for i, h in enumerate(headers) if out.spec.columns.get(h) == "birth_date")
                    base = out.spec.date_formats[0]
                    row[col] = base.replace("%Y", "2023").replace("%m", "02").replace("%d", "30")
                    out.malformed.append((pos, row, rid, reason))
                elif reason is ReasonCode.MISSING_RECORD_ID:
                    row[headers.index(out.spec.record_id)] = ""
                    out.malformed.append((pos, row, "", reason))

    def _ensure_bad_check(self, out: FeedOutput) -> None:
        """Make sure a person feed has at least one ID with a wrong check digit (a kind tests rely on)."""
        column = next(h for h in out.spec.headers if out.spec.columns.get(h) == "id_number")
        if any(kind == "id_bad_check" for _, c, kind in out.noise if c == column):
            return
        col = out.spec.headers.index(column)
        noisy = {rid for rid, c, _ in out.noise if c == column}
        for pos in self.rng.permutation(len(out.rows)):
            row = out.rows[int(pos)]
            if len(row[col]) == 18 and row[col].isascii() and row[col][-1] != "x" and row[0] not in noisy:
                wrong = [c for c in ID_CHECK if c != row[col][-1]]
                row[col] = row[col][:-1] + self.d.pick(wrong)
                out.log(row[0], column, ["id_bad_check"])
                return

    def _rid(self, prefix: str, i: int, width: int = 8) -> str:
        return f"{prefix}{i:0{width}d}"

    # ---- 公安 ----------------------------------------------------------------------------------------------
    def gongan(self) -> FeedOutput:
        spec = SPECS["gongan_population"]
        out = FeedOutput(spec)
        p = noise.POLICE
        persons = self.pop.persons
        u = self.rng.random(len(persons))
        missing = np.where(persons["population_type"] == "流动", POLICE_MISSING_MIGRANT, POLICE_MISSING_LOCAL)
        keep = persons.index[u >= missing].to_numpy()
        dup = keep[self.rng.random(len(keep)) < POLICE_DUPLICATE]
        order = self.rng.permutation(np.concatenate([keep, dup]))
        cols = {"name": "姓名", "id_number": "公民身份号码", "birth_date": "出生日期", "phone": "联系电话"}
        recs = self.person_rows

        def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            v = self._person_cols(target, rid, person, p, cols, "%Y%m%d", ())
            if person["hukou_address_code"]:
                hukou = self._address(
                    target, rid, "户籍地址", "hukou_address", person["hukou_address_code"], p
                )
            else:
                hukou = person["hukou_text"]
                target.addresses.append((rid, "hukou_address", ""))
            current = self._address(target, rid, "现住址", "address", person["residence_address_code"], p)
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

        rid_of = partial(self._rid, "GA4453990", width=7)
        self._write_rows(out, recs, order, rid_of, row_for, (("person", "person_key"),))
        self._malformed(out, recs, range(len(recs)), rid_of, row_for)
        return out

    # ---- 民政 ----------------------------------------------------------------------------------------------
    def minzheng(self) -> FeedOutput:
        spec = SPECS["minzheng_assistance"]
        out = FeedOutput(spec)
        p = noise.DEPARTMENT
        persons = self.pop.persons
        u = self.rng.random(len(persons))
        chosen = ((persons["_age"] >= 60) & (u < ELDERLY_SHARE_IN_MINZHENG)) | (
            (persons["_age"] < 60) & (persons["population_type"] == "户籍") & (u < ASSISTANCE_SHARE)
        )
        order = self.rng.permutation(persons.index[chosen].to_numpy())
        cols = {"name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "phone": "联系电话"}
        variants = spec.date_formats[1:]
        recs = self.person_rows

        def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            v = self._person_cols(target, rid, person, p, cols, "%Y-%m-%d", variants)
            code = self._residence(person, moved)
            if moved:
                target.log(rid, "家庭住址", ["moved_previous_address"])
            addr = self._address(target, rid, "家庭住址", "address", code, p)
            kind = "高龄津贴" if person["_age"] >= 80 and self.d.hit(0.7) else self.d.pick(ASSISTANCE_KINDS)
            sex = SEX_ZH[person["sex"]] if self.d.hit(0.9) else SEX_NUM[person["sex"]]
            # registered within the last eight years; a moved person's record predates the move (≥ 2 years old)
            days_ago = self.d.integer(730 if moved else 0, 8 * 365)
            registered = (AS_OF - dt.timedelta(days=days_ago)).isoformat()
            registered, kinds = noise.date(self.d, registered, "%Y-%m-%d", variants, p)
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
                self.addr[code]["community"],
                registered,
            ]

        rid_of = partial(self._rid, "MZ2025", width=6)
        self._write_rows(
            out,
            recs,
            order,
            rid_of,
            row_for,
            (("person", "person_key"),),
            moved_rows=self._moved_rows(len(order)),
        )
        elderly = persons.index[persons["_age"] >= 60].to_numpy()
        pool = elderly if len(elderly) else persons.index.to_numpy()
        self._ensure_bad_check(out)
        self._malformed(out, recs, pool, rid_of, row_for)
        return out

    # ---- 人社 ----------------------------------------------------------------------------------------------
    def renshe(self) -> FeedOutput:
        spec = SPECS["renshe_insured"]
        out = FeedOutput(spec)
        p = noise.DEPARTMENT
        persons = self.pop.persons
        orgs = {o["org_key"]: o for o in frame_rows(self.pop.organisations)}
        employed = persons.index[
            (persons["employer_org_key"] != "") & (self.rng.random(len(persons)) < RENSHE_SHARE)
        ]
        order = self.rng.permutation(employed.to_numpy())
        cols = {"name": "xm", "id_number": "sfzh", "birth_date": "csrq", "phone": "lxdh"}
        variants = spec.date_formats[1:]
        recs = self.person_rows

        def row_for(person: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            v = self._person_cols(target, rid, person, p, cols, "%Y/%m/%d", variants)
            org = orgs[person["employer_org_key"]]
            org_name, kinds = noise.org_name(self.d, org["name"], p)
            target.log(rid, "dwmc", kinds)
            credit = org["credit_code"]
            if self.d.hit(0.08):
                credit = ""
                target.log(rid, "tyshxydm", ["credit_missing"])
            code = self._residence(person, moved)
            if moved:
                target.log(rid, "jzdz", ["moved_previous_address"])
            addr = self._address(target, rid, "jzdz", "address", code, p)
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

        self._write_rows(
            out,
            recs,
            order,
            rid_of,
            row_for,
            (("person", "person_key"), ("organisation", "employer_org_key")),
            moved_rows=self._moved_rows(len(order)),
        )
        pool = (
            employed.to_numpy()
            if len(employed)
            else persons.index[persons["employer_org_key"] != ""].to_numpy()
        )
        self._ensure_bad_check(out)
        if len(pool):
            self._malformed(out, recs, pool, rid_of, row_for)
        return out

    # ---- 市场监管 -------------------------------------------------------------------------------------------
    def shichang(self) -> FeedOutput:
        spec = SPECS["shichang_orgs"]
        out = FeedOutput(spec)
        p = noise.MARKET
        orgs = self.pop.organisations
        listed = frame_rows(orgs[orgs["in_market_feed"]])

        def row_for(org: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            name, kinds = noise.org_name(self.d, org["name"], p)
            target.log(rid, "企业名称", kinds)
            addr = ""
            if org["address_code"]:
                addr = self._address(target, rid, "住所", "org_address", org["address_code"], p)
            established, kinds = noise.date(self.d, org["established"], "%Y-%m-%d", spec.date_formats[1:], p)
            target.log(rid, "成立日期", kinds)
            rep, kinds = noise.name(self.d, org["legal_rep"], p)
            target.log(rid, "法定代表人", kinds)
            return [rid, org["credit_code"], name, rep, addr, established, org["status"], org["industry"]]

        self._write_rows(
            out,
            listed,
            self.rng.permutation(len(listed)),
            partial(self._rid, "4453990000", width=6),
            row_for,
            (("organisation", "org_key"),),
        )
        return out

    # ---- 住建 ----------------------------------------------------------------------------------------------
    def zhujian(self) -> FeedOutput:
        spec = SPECS["zhujian_houses"]
        out = FeedOutput(spec)
        p = Profile(building_word=0.5)  # 住建 writes 幢 for half the buildings
        houses = self.pop.houses
        chosen = houses.index[self.rng.random(len(houses)) < ZHUJIAN_SHARE].to_numpy()
        order = self.rng.permutation(chosen)
        persons = self.persons
        recs = frame_rows(houses)
        cols = {"name": "产权人", "id_number": "产权人证件号"}

        def row_for(house: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            owner = persons[house["owner_key"]]
            v = self._person_cols(target, rid, owner, p, cols, "%Y-%m-%d", ())
            addr = self._address(target, rid, "房屋坐落", "address", house["address_code"], p)
            return [
                rid,
                addr,
                house["use"],
                f"{house['area']:.1f}",
                "是" if house["rented"] else "否",
                v["name"],
                v["id_number"],
            ]

        rid_of = partial(self._rid, "FW445399", width=7)
        self._write_rows(
            out, recs, order, rid_of, row_for, (("house", "address_code"), ("person", "owner_key"))
        )
        self._ensure_bad_check(out)
        self._malformed(out, recs, range(len(recs)), rid_of, row_for)
        return out

    # ---- 应急管理 -------------------------------------------------------------------------------------------
    def yingji(self) -> FeedOutput:
        spec = SPECS["yingji_facilities"]
        out = FeedOutput(spec)
        p = noise.DEPARTMENT
        fac = frame_rows(self.pop.facilities)

        def row_for(f: dict, rid: str, target: FeedOutput, moved: bool) -> list[str]:
            no_addr = self.d.hit(FACILITY_NO_ADDRESS)
            no_coords = (not no_addr) and self.d.hit(FACILITY_NO_COORDS / (1 - FACILITY_NO_ADDRESS))
            addr = ""
            if no_addr:
                target.log(rid, "地址", ["facility_no_address"])
            else:
                addr = self._address(target, rid, "地址", "address", f["address_code"], p)
            lon = lat = ""
            if no_coords:
                target.log(rid, "经度", ["facility_no_coords"])
            else:
                jitter = (
                    (self.d.u() * 2 - 1) * FACILITY_JITTER_DEG,
                    (self.d.u() * 2 - 1) * FACILITY_JITTER_DEG,
                )
                lon, lat = f"{f['lon'] + jitter[0]:.6f}", f"{f['lat'] + jitter[1]:.6f}"
            return [rid, f["facility_type"], f["name"], addr, lon, lat, f["responsible"], f["status"]]

        self._write_rows(
            out,
            fac,
            self.rng.permutation(len(fac)),
            partial(self._rid, "YJSS", width=6),
            row_for,
            (("facility", "facility_key"),),
        )
        return out

    def build_all(self) -> list[FeedOutput]:
        return [self.gongan(), self.minzheng(), self.renshe(), self.shichang(), self.zhujian(), self.yingji()]


def render_feed(out: FeedOutput) -> tuple[bytes, list[tuple[str, int, ReasonCode]]]:
    """The feed file's bytes, and (record id, line, reason) of its malformed rows (line 1 = header)."""
    spec = out.spec
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=spec.newline)
    writer.writerow(spec.headers)
    planned = sorted(out.malformed, key=lambda m: m[0])
    expected = []
    line = 1
    k = 0
    for pos in range(len(out.rows) + 1):
        while k < len(planned) and planned[k][0] == pos:
            _, row, rid, reason = planned[k]
            line += 1
            if isinstance(row, str):
                buf.write(row + spec.newline)
            else:
                writer.writerow(row)
            expected.append((rid, line, reason))
            k += 1
        if pos < len(out.rows):
            writer.writerow(out.rows[pos])
            line += 1
    return buf.getvalue().encode(spec.encoding), expected


def write_feed(folder: Path, out: FeedOutput) -> tuple[Path, list[tuple[str, int, ReasonCode]]]:
    """Write the feed's file into ``folder`` (its landing folder); return its path and expected quarantine rows."""
    data, expected = render_feed(out)
    path = folder / out.spec.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, expected


def truth_frames(
    outputs: list[FeedOutput], expected: dict[str, list[tuple[str, int, ReasonCode]]]
) -> dict[str, pd.DataFrame]:
    """records.csv, addresses.csv, noise.csv and quarantine_expected.csv as frames."""
    records, addresses, noise_rows, quarantine = [], [], [], []
    for out in outputs:
        feed = out.spec.name
        records += [(feed, r, t, k) for r, t, k in out.records]
        addresses += [(feed, r, f, c) for r, f, c in out.addresses]
        noise_rows += [(feed, r, c, k) for r, c, k in out.noise]
        quarantine += [(feed, r, line, str(reason)) for r, line, reason in expected.get(feed, [])]
    return {
        "records": pd.DataFrame(records, columns=["feed", "source_record_id", "entity_type", "entity_key"]),
        "addresses": pd.DataFrame(addresses, columns=["feed", "source_record_id", "field", "address_code"]),
        "noise": pd.DataFrame(noise_rows, columns=["feed", "source_record_id", "column", "kind"]),
        "quarantine_expected": pd.DataFrame(
            quarantine, columns=["feed", "source_record_id", "line", "reason_code"]
        ),
    }
