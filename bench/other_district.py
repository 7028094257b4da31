"""Another city's district, written from gridhub's docs alone, to score entity resolution on data we did not shape.

The generator of ``gridhub sample`` and this one share no code: this one was written as a city would set
gridhub up, reading docs/reference-data.md, docs/feeds.md, docs/addresses.md and docs/configuration.md. It
writes a workspace with its own address library (上海-style 弄/号/室, 幢/座/单元 estates, rural 村/组), its own
grid file, five department extracts in their own formats, a ``gridhub.yaml`` and a ground truth per entity
type; then (``--run``) it runs ``gridhub check``, ``ingest`` and ``run`` and scores persons, organisations and
houses pairwise against the truth from the warehouse's ``source_xref``.

    GRIDHUB_HMAC_KEY=... .venv/bin/python bench/other_district.py --out /tmp/jl --residents 6000 --seed 5 --run

It is still our own data: a hint, not a proof (docs/other-district.md says what it plants).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from other_district_feeds import write_feeds  # noqa: E402
from other_district_reference import write_config, write_reference  # noqa: E402
from other_district_score import run_pipeline, score  # noqa: E402

COUNTY = "330219"  # 江澜区, a fictional county code
CITY_NAME = "明州市"
DISTRICT_NAME = "江澜区"

# street / town → communities (name, lane roads or estate roads or village groups)
STREETS = [
    ("001", "长乐街道", [("001", "长乐", "lane"), ("002", "兴华", "lane"), ("003", "东园", "estate")]),
    ("002", "望湖街道", [("001", "望湖", "estate"), ("002", "龙桥", "lane"), ("003", "丰阳", "estate")]),
    ("101", "清溪镇", [("201", "竹林", "village"), ("202", "石门", "village"), ("203", "桥头", "village")]),
]
LANE_ROADS = ["长乐路", "兴华路", "复兴东路", "龙桥路", "华山路", "东园一路"]
ESTATE_NAMES = ["金桂苑", "丰阳新村", "望湖花园", "锦绣华庭", "东园小区", "阳光里"]
ESTATE_ROADS = ["望湖大道", "丰阳路", "东园二路", "学院路"]

CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORGCODE_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(area: str, birth: date, seq: int) -> str:
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, CHECK_WEIGHTS, strict=True)) % 11]


def legacy_id(id18: str) -> str:
    """The 15-digit form of a pre-1999 ID: area 6 + YYMMDD + sequence 3."""
    return id18[:6] + id18[8:17]


def org_code(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(8))
    check = 11 - sum(int(c) * w for c, w in zip(body, ORGCODE_WEIGHTS, strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, kind: str = "91") -> str:
    body = kind + COUNTY + org_code(rng)
    total = sum(CREDIT_CHARS.index(c) * w for c, w in zip(body, CREDIT_WEIGHTS, strict=True))
    return body + CREDIT_CHARS[(31 - total % 31) % 31]


@dataclass
class Address:
    code: str
    community_code: str
    grid_code: str
    road: str = ""
    lane: str = ""  # 弄 (lane number on the road) for lane addresses; the house number otherwise
    number: str = ""  # 号 inside a lane, or the building (幢) of an estate
    estate: str = ""
    unit: str = ""
    room: str = ""
    group: str = ""
    village: str = ""
    street: str = ""
    community: str = ""
    kind: str = "home"  # home / shop
    lon: float = 0.0
    lat: float = 0.0


@dataclass
class Person:
    key: str
    name: str
    sex: str
    birth: date
    id18: str
    home: Address
    phone: str = ""
    household_phone: str = ""
    hukou_outside: str = ""  # 户籍 address outside the district (migrants)
    employer: str = ""  # org key
    twin_of: str = ""


@dataclass
class Org:
    key: str
    name: str
    credit: str
    legal_rep: Person | None
    address: Address | None
    established: date
    former_name: str = ""
    aliases: list[str] = field(default_factory=list)


def build_library(rng: random.Random, scale: int = 1) -> tuple[list[Address], list[dict]]:
    """Addresses (rooms / rural houses / shops) and grids: each community is cut into two basic grids."""
    addresses: list[Address] = []
    grids: list[dict] = []
    x0 = 121.50
    for s_i, (s_code, s_name, communities) in enumerate(STREETS):
        for c_i, (c_code, c_name, style) in enumerate(communities):
            community_code = f"{COUNTY}{s_code}{c_code}"
            suffix = "村" if style == "village" else "社区"
            cx, cy = x0 + 0.02 * c_i, 29.80 + 0.02 * s_i
            community_grids = []
            for g in (1, 2):
                code = f"{community_code}{g:03d}"
                gx = cx + 0.01 * (g - 1)
                wkt = f"POLYGON(({gx} {cy}, {gx + 0.01} {cy}, {gx + 0.01} {cy + 0.02}, {gx} {cy + 0.02}, {gx} {cy}))"
                grids.append({"code": code, "name": f"{c_name}{suffix}第{g}网格", "kind": "基础", "wkt": wkt})
                community_grids.append((code, gx, cy))
            base = dict(community_code=community_code, street=s_name, community=c_name + suffix)
            made = _community_addresses(rng, style, c_name + suffix, base, s_i * 3 + c_i, scale)
            for n, a in enumerate(made):
                grid_code, gx, gy = community_grids[0 if n < len(made) // 2 else 1]
                a.grid_code = grid_code
                a.lon, a.lat = (
                    round(gx + 0.001 + rng.random() * 0.008, 6),
                    round(gy + 0.001 + rng.random() * 0.018, 6),
                )
                a.code = f"JL{community_code[6:]}{n:05d}"
                addresses.append(a)
    return addresses, grids


def _room(base: dict, road: str, lane: str, number: str, room: str, **more: str) -> Address:
    return Address(code="", grid_code="", road=road, lane=lane, number=number, room=room, **base, **more)


def _community_addresses(
    rng: random.Random, style: str, name: str, base: dict, index: int, scale: int
) -> list[Address]:
    out: list[Address] = []
    if style == "village":
        for group in range(1, 7):
            for number in range(1, rng.randint(18, 30) * scale):
                out.append(
                    Address(code="", grid_code="", group=str(group), lane=str(number), village=name, **base)
                )
        return out
    if style == "lane":
        for road in (LANE_ROADS[index % len(LANE_ROADS)], LANE_ROADS[(index + 3) % len(LANE_ROADS)]):
            # one road runs through several communities: each has its own stretch of lane and shop numbers
            base_no = 10 + 1000 * scale * index
            for lane in rng.sample(range(base_no, base_no + 400 * scale), 4 * scale):
                for number in range(1, rng.randint(5, 9)):
                    for floor in range(1, 7):
                        for r in (1, 2):
                            room = f"{floor}0{r}"
                            out.append(_room(base, road, str(lane), str(number), room))
            for shop in rng.sample(range(base_no + 400 * scale, base_no + 400 * scale + 500), 6):
                out.append(Address(code="", grid_code="", road=road, lane=str(shop), kind="shop", **base))
        return out
    estate = ESTATE_NAMES[index % len(ESTATE_NAMES)]
    road = ESTATE_ROADS[index % len(ESTATE_ROADS)]
    gate = str(rng.randint(20, 300))
    for building in range(1, rng.randint(8, 12) * scale):
        for unit in (1, 2):
            for floor in range(1, 12):
                for r in (1, 2):
                    room = f"{floor}0{r}"
                    out.append(_room(base, road, gate, str(building), room, estate=estate, unit=str(unit)))
    for shop in rng.sample(range(301, 700), 8):
        out.append(Address(code="", grid_code="", road=road, lane=str(shop), kind="shop", **base))
    return out


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文红玉兰志新海波辉鹏斌宇浩凯晨欣怡婷雪琳佳子涵梓轩浩然一诺思雨嘉俊晓东"
OTHER_AREAS = ["410102", "510104", "342101", "430524", "360121", "330102", "330281", "522401"]


def person_name(rng: random.Random, surname: str | None = None) -> str:
    surname = surname or rng.choice(SURNAMES[:60] if rng.random() < 0.8 else SURNAMES)
    k = 1 if rng.random() < 0.35 else 2
    return surname + "".join(rng.choice(GIVEN) for _ in range(k))


def mobile(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17", "19"]) + "".join(rng.choice("0123456789") for _ in range(9))


def build_people(rng: random.Random, homes: list[Address], residents: int) -> list[Person]:
    """Households in homes: a couple, children (twins in some), sometimes a grandparent."""
    people: list[Person] = []
    taken: dict[tuple[str, date], set[int]] = defaultdict(set)
    ref = date(2026, 6, 30)

    def make(name: str, sex: str, birth: date, home: Address, area: str) -> Person:
        seq = rng.randint(1, 450) * 2 + (1 if sex == "M" else 0)
        while seq in taken[(area, birth)]:  # one ID, one person (twins too)
            seq = rng.randint(1, 450) * 2 + (1 if sex == "M" else 0)
        taken[(area, birth)].add(seq)
        pid = resident_id(area, birth, seq)
        p = Person(key=f"T{len(people):06d}", name=name, sex=sex, birth=birth, id18=pid, home=home)
        p.phone = mobile(rng) if (ref - birth).days // 365 >= 16 and rng.random() < 0.85 else ""
        people.append(p)
        return p

    free = rng.sample(homes, len(homes))
    while len(people) < residents and free:
        home = free.pop()
        area = COUNTY if rng.random() < 0.7 else rng.choice(OTHER_AREAS)
        hukou_outside = "" if area == COUNTY else _outside_address(rng)
        landline = f"0574-8{rng.randint(1000000, 9999999)}"
        surname = rng.choice(SURNAMES[:60])
        head_birth = ref - timedelta(days=rng.randint(24 * 365, 70 * 365))
        members = [make(person_name(rng, surname), "M", head_birth, home, area)]
        if rng.random() < 0.8:
            wife_birth = head_birth + timedelta(days=rng.randint(-1500, 1500))
            members.append(make(person_name(rng), "F", wife_birth, home, area))
        if (ref - head_birth).days > 30 * 365 and rng.random() < 0.6:
            kid_birth = head_birth + timedelta(days=rng.randint(24 * 365, 32 * 365))
            if kid_birth < ref:
                kid = make(person_name(rng, surname), rng.choice("MF"), kid_birth, home, area)
                members.append(kid)
                if rng.random() < 0.06:  # twins: same surname, birth, address, household
                    twin = make(person_name(rng, surname), rng.choice("MF"), kid_birth, home, area)
                    twin.twin_of, kid.twin_of = kid.key, twin.key
                    members.append(twin)
        if rng.random() < 0.15:
            old = ref - timedelta(days=rng.randint(72 * 365, 92 * 365))
            members.append(make(person_name(rng, surname), rng.choice("MF"), old, home, area))
        for m in members:
            m.household_phone = landline
            m.hukou_outside = hukou_outside
    return people


def _outside_address(rng: random.Random) -> str:
    place = rng.choice(
        [
            "河南省郑州市中原区建设路",
            "四川省成都市锦江区春熙路",
            "安徽省六安市金安区皋城路",
            "湖南省邵阳市新宁县金石镇",
        ]
    )
    return f"{place}{rng.randint(1, 300)}号"


ORG_WORDS = [
    "明达",
    "恒通",
    "华鑫",
    "永盛",
    "金瑞",
    "宏远",
    "博雅",
    "新锐",
    "顺丰源",
    "德润",
    "天成",
    "佳和",
    "瑞丰",
    "鼎盛",
    "嘉禾",
    "汇通",
    "安泰",
    "聚福",
    "兴业",
    "正阳",
]
ORG_TRADES = [
    "机械",
    "电子",
    "贸易",
    "餐饮管理",
    "建筑工程",
    "物流",
    "信息技术",
    "服装",
    "文化传媒",
    "物业管理",
]


def build_orgs(rng: random.Random, people: list[Person], shops: list[Address], count: int) -> list[Org]:
    orgs: list[Org] = []
    adults = [p for p in people if (date(2026, 6, 30) - p.birth).days > 25 * 365]
    names: set[str] = set()
    while len(orgs) < count:
        word, trade = rng.choice(ORG_WORDS), rng.choice(ORG_TRADES)
        prefix = rng.choice(["江澜", "明州", "明州市", ""])
        if rng.random() < 0.15:
            name = f"江澜区{rng.choice(SURNAMES)}{rng.choice('记家氏')}{rng.choice(['面馆', '便利店', '五金店', '理发店'])}"
            kind = "92"
        else:
            name = f"{prefix}{word}{trade}有限公司"
            kind = "91"
        if name in names:
            if kind == "92":
                continue
            name = f"{prefix}{word}{trade}有限公司{rng.choice(['城东', '清溪', '望湖'])}分公司"
            if name in names:
                continue
        names.add(name)
        rep = rng.choice(adults)
        org = Org(
            key=f"U{len(orgs):05d}",
            name=name,
            credit=credit_code(rng, kind),
            legal_rep=rep,
            address=rng.choice(shops) if shops else None,
            established=date(1998, 1, 1) + timedelta(days=rng.randint(0, 9800)),
        )
        if kind == "91" and rng.random() < 0.05:
            org.former_name = name.replace(trade, rng.choice(ORG_TRADES), 1)
        orgs.append(org)
    return orgs


def assign_employers(rng: random.Random, people: list[Person], orgs: list[Org]) -> None:
    weights = [rng.paretovariate(1.2) for _ in orgs]
    ref = date(2026, 6, 30)
    for p in people:
        age = (ref - p.birth).days // 365
        if 18 <= age <= 60 and rng.random() < 0.7:
            p.employer = rng.choices(orgs, weights)[0].key


def generate(out: Path, residents: int, seed: int) -> dict:
    rng = random.Random(seed)
    addresses, grids = build_library(rng, scale=max(1, -(-residents // 6000)))
    homes = [a for a in addresses if a.kind == "home"]
    shops = [a for a in addresses if a.kind == "shop"]
    people = build_people(rng, homes, residents)
    orgs = build_orgs(rng, people, shops, max(20, residents // 25))
    assign_employers(rng, people, orgs)
    out.mkdir(parents=True, exist_ok=True)
    write_reference(out, addresses, grids, STREETS, COUNTY, CITY_NAME, DISTRICT_NAME)
    write_config(out)
    counts = write_feeds(out, rng, people, orgs, addresses)
    return {
        "addresses": len(addresses),
        "grids": len(grids),
        "residents": len(people),
        "orgs": len(orgs),
        **counts,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--residents", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--run", action="store_true", help="run check, ingest, run and score the result")
    ap.add_argument("--score-only", action="store_true", help="score the workspace's current warehouse")
    args = ap.parse_args(argv)
    if not args.score_only:
        print(json.dumps(generate(args.out, args.residents, args.seed), ensure_ascii=False))
    if args.run:
        print(json.dumps(run_pipeline(args.out), ensure_ascii=False))
    if args.run or args.score_only:
        print(json.dumps(score(args.out), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
