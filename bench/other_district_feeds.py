"""The five department extracts of bench/other_district.py and the ground truth beside them.

公安 实有人口 (GB18030 CSV, 15-digit legacy IDs, dates 1985.03.12), 民政 (UTF-8 with BOM, pinyin initials,
masked IDs, household landlines, 繁体 names), 人社 (xlsx, employers with and without credit codes or old
组织机构代码, 个人参保), 市场监管 (tab-separated UTF-8, 年月日 dates, former names) and 住建 (GB18030, owners
people or companies, co-owners on their own rows, areas with units).
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import openpyxl

TRAD = str.maketrans(
    "长乐东园华兴丰阳桥龙门头竹林苑锦绣庭号楼单元室组村镇区街道路里新会伟丽强军杰娟涛刚国红兰志海波辉鹏凯晨婷雪琳涵轩诺俊晓",
    "長樂東園華興豐陽橋龍門頭竹林苑錦繡庭號樓單元室組村鎮區街道路裡新會偉麗強軍傑娟濤剛國紅蘭誌海波輝鵬凱晨婷雪琳涵軒諾俊曉",
)
FULL = str.maketrans("0123456789", "０１２３４５６７８９")
CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")


def render_address(rng: random.Random, a, noisy: bool = True) -> str:
    """How a clerk types the address: prefixes, spacing, full-width digits, Chinese numerals, 繁体."""
    place = rng.choice(["", "", a.street, a.community, f"明州市江澜区{a.street}", f"{a.street}{a.community}"])
    if a.group:
        village = a.community
        grp = rng.choice(
            [f"{a.group}组", f"{cn_number(int(a.group))}组", f"第{cn_number(int(a.group))}村民小组"]
        )
        town = rng.choice(["清溪镇", "", "江澜区清溪镇"])
        village = rng.choice([village, village, village.removesuffix("村"), village + "委会"])
        text = f"{town}{village}{grp}{a.lane}号"
    elif a.estate:
        building = rng.choice(
            [
                f"{a.number}幢",
                f"{a.number}座",
                f"{a.number}号楼",
                f"{cn_number(int(a.number))}幢",
                f"{a.number}#",
            ]
        )
        unit = rng.choice([f"{a.unit}单元", f"{cn_number(int(a.unit))}单元"])
        head = rng.choice([f"{a.road}{a.lane}号{a.estate}", a.estate, f"{a.estate}"])
        text = f"{place}{head}{building}{unit}{a.room}室"
    elif a.kind == "shop":
        text = f"{place}{a.road}{a.lane}号"
    else:
        room = rng.choice([f"{a.room}室", a.room, f"{a.room}室"])
        text = f"{place}{a.road}{a.lane}弄{a.number}号{room}"
        if rng.random() < 0.05:  # 长乐路123弄4-502
            text = f"{place}{a.road}{a.lane}弄{a.number}-{a.room}"
    if noisy:
        roll = rng.random()
        if roll < 0.06:
            text = text.translate(FULL)
        elif roll < 0.10:
            text = text.translate(TRAD)
        elif roll < 0.13:
            text = text.replace("路", "路 ", 1)
    return text


def fmt_date(d: date, style: str) -> str:
    return {
        "dot": f"{d:%Y.%m.%d}",
        "compact": f"{d:%Y%m%d}",
        "slash": f"{d.year}/{d.month}/{d.day}",
        "cn": f"{d.year}年{d.month:02d}月{d.day:02d}日",
        "iso": f"{d:%Y-%m-%d}",
    }[style]


def typo_name(rng: random.Random, name: str) -> str:
    homophones = {
        "伟": "玮",
        "芳": "方",
        "静": "靜",
        "丽": "莉",
        "明": "铭",
        "华": "化",
        "杰": "洁",
        "涛": "滔",
        "军": "君",
        "敏": "民",
        "婷": "亭",
        "俊": "骏",
        "欣": "馨",
    }
    chars = list(name)
    for i in range(len(chars) - 1, 0, -1):
        if chars[i] in homophones:
            chars[i] = homophones[chars[i]]
            return "".join(chars)
    return name


def typo_id(rng: random.Random, pid: str) -> str:
    i = rng.randrange(6, 17)
    return pid[:i] + str((int(pid[i]) + rng.randint(1, 9)) % 10) + pid[i + 1 :]


def legacy_id(pid: str) -> str:
    return pid[:6] + pid[8:17]


def mask_id(pid: str) -> str:
    return pid[:6] + "********" + pid[14:]


class Truth:
    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[str, str, str]]] = {"persons": [], "organisations": [], "houses": []}

    def add(self, kind: str, feed: str, record: str, key: str) -> None:
        self.rows[kind].append((feed, record, key))

    def write(self, ws: Path) -> None:
        (ws / "truth").mkdir(exist_ok=True)
        for kind, rows in self.rows.items():
            with open(ws / "truth" / f"{kind}.csv", "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["feed", "record", "key"])
                w.writerows(rows)


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str, delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)


def police(ws: Path, rng: random.Random, people, truth: Truth) -> int:
    rows = []
    for p in people:
        if rng.random() > 0.9:
            continue
        rec = f"GA{len(rows) + 1:07d}"
        pid = p.id18
        if p.birth.year < 1984 and rng.random() < 0.15:
            pid = pid[:6] + pid[8:17]  # legacy 15-digit
        elif rng.random() < 0.01:
            pid = pid[:-1] + ("X" if pid[-1] != "X" else "1")
        name = typo_name(rng, p.name) if rng.random() < 0.03 else p.name
        hukou = p.hukou_outside or render_address(rng, p.home, noisy=False)
        rows.append(
            [
                rec,
                name,
                "男" if p.sex == "M" else "女",
                pid,
                fmt_date(p.birth, "dot"),
                p.phone,
                render_address(rng, p.home),
                hukou,
                "户籍人口" if not p.hukou_outside else "流动人口",
            ]
        )
        truth.add("persons", "ga_syrk", rec, p.key)
        truth.add("houses", "ga_syrk", rec, p.home.code)
    write_csv(
        ws / "landing" / "ga_syrk" / "实有人口_2026Q2.csv",
        [
            "人员编号",
            "姓名",
            "性别",
            "公民身份号码",
            "出生日期",
            "联系电话",
            "现住地址",
            "户籍地址",
            "人口类别",
        ],
        rows,
        "gb18030",
    )
    return len(rows)


def civil(ws: Path, rng: random.Random, people, truth: Truth) -> int:
    rows = []
    ref = date(2026, 6, 30)
    for p in people:
        age = (ref - p.birth).days // 365
        child = age < 16 and (p.twin_of or rng.random() < 0.05)  # 困境儿童: twins on the list together
        if not (age >= 60 and rng.random() < 0.8) and not child and rng.random() > 0.06:
            continue
        rec = str(500000 + len(rows))
        roll = rng.random()
        pid = mask_id(p.id18) if roll < 0.4 else "" if roll < 0.55 else p.id18
        name = p.name.translate(rng.choice([{}, {}, {}, {}, {}, {}, {}, {}, {}, TRAD])) if True else p.name
        phone = p.household_phone if rng.random() < 0.6 else p.phone
        kind = "困境儿童" if child else rng.choice(["高龄补贴", "低保", "特困供养", "残疾人两项补贴"])
        rows.append(
            [
                rec,
                name,
                p.sex == "M" and "1" or "2",
                pid,
                fmt_date(p.birth, "compact"),
                phone,
                render_address(rng, p.home),
                kind,
            ]
        )
        truth.add("persons", "mz_jzdx", rec, p.key)
        truth.add("houses", "mz_jzdx", rec, p.home.code)
    write_csv(
        ws / "landing" / "mz_jzdx" / "救助对象.csv",
        ["BH", "XM", "XB", "SFZH", "CSRQ", "LXDH", "JZDZ", "JZLB"],
        rows,
        "utf-8-sig",
    )
    return len(rows)


def social(ws: Path, rng: random.Random, people, orgs_by_key, truth: Truth) -> int:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "参保人员"
    sheet.append(["xh", "xm", "xb", "sfzh", "csrq", "sjhm", "dwmc", "tyshxydm", "cbrq"])
    n = 0
    for p in people:
        if not p.employer and rng.random() > 0.05:
            continue
        if p.employer and rng.random() > 0.85:
            continue
        n += 1
        rec = str(n)
        org = orgs_by_key.get(p.employer)
        if org is None:
            org_name, code = rng.choice(["个人参保", "灵活就业人员"]), ""
        else:
            org_name, code = employer_as_written(rng, org)
            truth.add("organisations", "rs_cbry", rec, org.key)
        roll = rng.random()
        pid = typo_id(rng, p.id18) if roll < 0.02 else "" if roll < 0.05 else p.id18
        birth = p.birth if rng.random() < 0.7 else None
        sheet.append(
            [
                rec,
                p.name,
                "男" if p.sex == "M" else "女",
                pid,
                birth,
                p.phone,
                org_name,
                code,
                fmt_date(date(2015, 1, 1), "iso"),
            ]
        )
        truth.add("persons", "rs_cbry", rec, p.key)
    path = ws / "landing" / "rs_cbry" / "参保人员名单.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return n


def employer_as_written(rng: random.Random, org) -> tuple[str, str]:
    """人社's employer: the registered name or a variant; the credit code, the old 组织机构代码 or nothing."""
    name = org.name
    roll = rng.random()
    if roll < 0.08 and name.startswith(("明州市", "江澜")):
        name = name.removeprefix("明州市").removeprefix("明州").removeprefix("江澜区").removeprefix("江澜")
    elif roll < 0.13:
        name = name.replace("有限公司", "有限公司 ")
    elif roll < 0.16:
        name = name.translate(TRAD)
    elif roll < 0.19 and org.former_name:
        name = org.former_name
    code_roll = rng.random()
    if code_roll < 0.55:
        code = org.credit
    elif code_roll < 0.70:
        code = org.credit[8:16] + "-" + org.credit[16]
    else:
        code = ""
    return name, code


def market(ws: Path, rng: random.Random, orgs, truth: Truth) -> int:
    rows = []
    for org in orgs:
        if rng.random() > 0.95:
            continue
        rep = org.legal_rep
        addr = render_address(rng, org.address) if org.address else ""
        for name in ([org.former_name] if org.former_name and rng.random() < 0.5 else []) + [org.name]:
            rec = f"SC{len(rows) + 1:06d}"
            status = "存续" if name == org.name else "变更"
            rows.append(
                [
                    rec,
                    org.credit,
                    name,
                    rep.name if rep else "",
                    rep.id18 if rep else "",
                    addr,
                    fmt_date(org.established, "cn"),
                    status,
                ]
            )
            truth.add("organisations", "sc_qydj", rec, org.key)
    write_csv(
        ws / "landing" / "sc_qydj" / "企业登记.txt",
        [
            "注册号",
            "统一社会信用代码",
            "企业名称",
            "法定代表人",
            "法人证件号",
            "住所",
            "成立日期",
            "登记状态",
        ],
        rows,
        "utf-8",
        delimiter="\t",
    )
    return len(rows)


def housing(ws: Path, rng: random.Random, people, orgs, addresses, truth: Truth) -> int:
    residents_by_home: dict[str, list] = {}
    for p in people:
        residents_by_home.setdefault(p.home.code, []).append(p)
    org_by_shop = {o.address.code: o for o in orgs if o.address is not None}
    rows = []
    for a in addresses:
        if a.group or rng.random() > 0.85:
            continue
        owners: list[tuple[str, str, str]] = []  # (name, id, truth key)
        if a.kind == "shop" and a.code in org_by_shop and rng.random() < 0.7:
            o = org_by_shop[a.code]
            owners.append((o.name, o.credit if rng.random() < 0.7 else "", "org:" + o.key))
        elif a.code in residents_by_home:
            household = residents_by_home[a.code]
            for member in household[: 2 if len(household) > 1 and rng.random() < 0.15 else 1]:
                oid = (
                    member.id18
                    if rng.random() < 0.7
                    else legacy_id(member.id18)
                    if member.birth.year < 1984 and rng.random() < 0.3
                    else ""
                )
                owners.append((member.name, oid, "person:" + member.key))
        else:
            continue
        area = round(rng.uniform(38, 140), 2)
        text = render_address(rng, a)
        for name, oid, key in owners:
            rec = f"FW{len(rows) + 1:06d}"
            rows.append(
                [
                    rec,
                    f"JLFC{a.code[2:]}",
                    text,
                    rng.choice(["住宅", "住宅", "商业"]) if a.kind == "home" else "商业",
                    f"{area}㎡",
                    rng.choice(["是", "否"]),
                    name,
                    oid,
                    fmt_date(date(2019, 5, 3), "slash"),
                ]
            )
            truth.add("houses", "zj_fwxx", rec, a.code)
            kind, k = key.split(":", 1)
            truth.add("persons" if kind == "person" else "organisations", "zj_fwxx", rec, k)
    write_csv(
        ws / "landing" / "zj_fwxx" / "房屋登记.csv",
        [
            "登记编号",
            "房屋编号",
            "房屋坐落",
            "房屋用途",
            "建筑面积",
            "是否出租",
            "产权人",
            "产权人证件号",
            "登记日期",
        ],
        rows,
        "gb18030",
    )
    return len(rows)


def write_feeds(ws: Path, rng: random.Random, people, orgs, addresses) -> dict:
    truth = Truth()
    orgs_by_key = {o.key: o for o in orgs}
    counts = {
        "ga_syrk": police(ws, rng, people, truth),
        "mz_jzdx": civil(ws, rng, people, truth),
        "rs_cbry": social(ws, rng, people, orgs_by_key, truth),
        "sc_qydj": market(ws, rng, orgs, truth),
        "zj_fwxx": housing(ws, rng, people, orgs, addresses, truth),
    }
    truth.write(ws)
    return counts
