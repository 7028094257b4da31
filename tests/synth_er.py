"""Synthetic mentions with known truth, for the tests and benchmarks of the entity-resolution engine.

Not part of the shipped package: ``tests/test_er_*.py`` import it as ``synth_er`` (pytest puts ``tests/`` on
``sys.path``), ``bench/er_scale.py`` adds ``tests/`` to ``sys.path`` itself.

Persons are generated the way department feeds disagree in practice: households share an address and a
surname, twins share a birth date, common names (张伟, 王芳) repeat across the city, and each real person's
records differ by homophone typos (同音字, from pinyin input methods), missing ID numbers, day/month swaps,
changed phones and old addresses. Everything is vectorised with numpy, so a million records take seconds.
The ``true_id`` column is the ground truth; the engine never reads it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
SURNAME_WEIGHTS = np.linspace(3.0, 0.5, len(SURNAMES))
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文辉建国红梅志海燕林雪鹏飞宇浩然子轩欣怡晨阳佳琪"
)
# homophones (同音字) a pinyin input method confuses
HOMOPHONES = {
    "伟": "玮",
    "芳": "方",
    "娜": "那",
    "敏": "民",
    "静": "晶",
    "丽": "莉",
    "强": "墙",
    "磊": "雷",
    "军": "君",
    "洋": "阳",
    "勇": "永",
    "艳": "燕",
    "杰": "洁",
    "娟": "鹃",
    "涛": "滔",
    "明": "鸣",
    "超": "潮",
    "霞": "侠",
    "平": "萍",
    "刚": "钢",
    "华": "桦",
    "玉": "钰",
    "兰": "岚",
    "文": "雯",
    "辉": "晖",
    "红": "虹",
    "梅": "玫",
    "海": "亥",
    "林": "琳",
    "雪": "学",
    "鹏": "朋",
    "飞": "菲",
    "宇": "雨",
    "浩": "皓",
    "晨": "辰",
    "佳": "嘉",
    "琪": "琦",
    "欣": "馨",
    "怡": "仪",
    "张": "章",
    "王": "汪",
    "李": "理",
    "刘": "留",
    "陈": "晨",
    "杨": "阳",
}
FEEDS = ("gongan", "minzheng", "renshe", "zhujian", "weijian")
FEED_PRIORITY = {"gongan": 90, "minzheng": 60, "renshe": 70, "zhujian": 50, "weijian": 40}
_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


def resident_ids(area: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Valid 18-character resident ids (GB 11643) from area codes, birth dates and sequence numbers."""
    body = (
        pd.Series(area).astype(str)
        + pd.Series(birth).dt.strftime("%Y%m%d")
        + pd.Series(seq).astype(str).str.zfill(3)
    )
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    check = _CHECK[(digits * _W).sum(axis=1) % 11]
    return (body + check).to_numpy(dtype=object)


def _pinyin_table(chars: set[str]) -> dict[str, str]:
    from pypinyin import lazy_pinyin

    return {c: lazy_pinyin(c)[0] for c in chars}


def persons(n_people: int, *, seed: int = 7, mean_records: float = 1.7) -> pd.DataFrame:
    """Person mentions of ``n_people`` real people across five feeds, with a ``true_id`` column."""
    rng = np.random.default_rng(seed)
    # households: 1–5 people at one address, mostly one surname
    hh_size = rng.choice([1, 2, 3, 4, 5], size=n_people, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    hh = np.repeat(np.arange(n_people), hh_size)[:n_people]
    n_hh = hh.max() + 1
    sp = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
    hh_surname = rng.choice(len(SURNAMES), size=n_hh, p=sp)
    surname = hh_surname[hh]
    other = rng.random(n_people) < 0.25  # spouses keep their own surname
    surname[other] = rng.choice(len(SURNAMES), size=other.sum(), p=sp)
    gp = 1.0 / np.arange(1, len(GIVEN) + 1) ** 0.9
    gp /= gp.sum()
    g1 = rng.choice(len(GIVEN), size=n_people, p=gp)
    g2 = rng.choice(len(GIVEN), size=n_people, p=gp)
    two = rng.random(n_people) < 0.55
    S, G = np.array(SURNAMES, dtype=object), np.array(GIVEN, dtype=object)
    name = S[surname] + G[g1] + np.where(two, G[g2], "")
    birth = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 70 * 365, size=n_people), unit="D")
    twin = (rng.random(n_people) < 0.02) & (np.r_[False, hh[1:] == hh[:-1]])
    birth = pd.Series(birth)
    birth[twin] = birth.shift(1)[twin]
    sex = np.where(rng.random(n_people) < 0.5, "M", "F")
    seq = rng.integers(0, 500, size=n_people) * 2 + (sex == "M")
    area = rng.choice(["440305", "440306", "440303", "110105", "350102"], size=n_people)
    idn = resident_ids(area, birth, seq)
    phone = (
        "1"
        + pd.Series(rng.integers(3, 10, size=n_people)).astype(str)
        + pd.Series(rng.integers(0, 10**9, size=n_people)).astype(str).str.zfill(9)
    ).to_numpy(dtype=object)
    # 440305 004 012 building / room codes: 12-digit community + 3 building + 4 room
    community = rng.integers(1, 40, size=n_hh)
    building = rng.integers(1, 60, size=n_hh)
    room = rng.integers(101, 3400, size=n_hh)
    comm_code = pd.Series(community[hh]).astype(str).str.zfill(3)
    bldg_code = "440305004" + comm_code + pd.Series(building[hh]).astype(str).str.zfill(3)
    addr_code = bldg_code + pd.Series(room[hh]).astype(str).str.zfill(4)
    grid_code = "440305004" + comm_code + pd.Series((building[hh] // 10) + 1).astype(str).str.zfill(3)

    # records: each person appears in 1.. feeds
    k = 1 + rng.poisson(mean_records - 1, size=n_people)
    k = np.minimum(k, len(FEEDS))
    pid = np.repeat(np.arange(n_people), k)
    m = len(pid)
    first = np.r_[True, pid[1:] != pid[:-1]]
    rank = np.arange(m) - np.repeat(np.cumsum(k) - k, k)
    feed_perm = np.argsort(rng.random((n_people, len(FEEDS))), axis=1)
    feed = np.array(FEEDS)[feed_perm[pid, rank]]
    rec = pd.DataFrame(
        {
            "true_id": pd.Series(pid).map(lambda x: f"T{x}").astype("string")
            if m < 50_000
            else ("T" + pd.Series(pid).astype(str)).astype("string"),
            "feed": pd.Series(feed, dtype="string"),
        }
    )
    rec["source_record_id"] = (pd.Series(rng.permutation(m) + 100000).astype(str)).astype("string")
    rec["record_key"] = (rec["feed"] + ":" + rec["source_record_id"]).astype("string")
    nm = pd.Series(name[pid], dtype=object)
    # corruptions, never on a person's first record so each person has one clean mention
    r = rng.random((m, 8))
    dirty = ~first
    homo = dirty & (r[:, 0] < 0.06)
    if homo.any():
        chars = nm[homo].str.split("")
        pos = rng.integers(1, 3, size=homo.sum())

        def swap(cs: list[str], p: int) -> str:
            cs = [c for c in cs if c]
            p = min(p, len(cs) - 1)
            cs[p] = HOMOPHONES.get(cs[p], cs[p])
            return "".join(cs)

        nm[homo] = [swap(c, p) for c, p in zip(chars, pos, strict=True)]
    typo = dirty & (r[:, 1] < 0.015)
    if typo.any():
        nm[typo] = nm[typo].str.slice(0, -1) + G[rng.integers(0, len(G), size=typo.sum())]
    rec["name"] = nm.astype("string")
    table = _pinyin_table(set("".join(rec["name"].dropna().unique())))
    rec["name_pinyin"] = (
        rec["name"].map(lambda s: "".join(table.get(c, c) for c in s)).astype("string")
        if m < 50_000
        else _fast_pinyin(rec["name"], table)
    )
    ids = pd.Series(idn[pid], dtype="string")
    ids[dirty & (r[:, 2] < 0.35)] = pd.NA
    ids[first & (r[:, 2] < 0.15)] = pd.NA
    rec["id_number"] = ids
    rec["id_number_given"] = ids  # like the mention builder: the number as given (all valid here)
    b = pd.Series(birth.to_numpy()[pid])
    swapb = dirty & (r[:, 3] < 0.02) & (b.dt.day <= 12)
    b_sw = pd.to_datetime(
        b.dt.year.astype(str) + "-" + b.dt.day.astype(str) + "-" + b.dt.month.astype(str),
        errors="coerce",
        format="%Y-%m-%d",
    )
    b = b.where(~swapb, b_sw)
    b[dirty & (r[:, 4] < 0.08)] = pd.NaT
    # like the mention builder: a valid ID number supplies a missing birth date
    from_id = pd.to_datetime(ids.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    b = b.where(b.notna(), from_id)
    rec["birth_date"] = b.dt.date.where(b.notna(), None)
    rec["sex"] = pd.Series(sex[pid], dtype="string")
    ph = pd.Series(phone[pid], dtype="string")
    ph[r[:, 5] < 0.35] = pd.NA
    newph = dirty & (r[:, 5] > 0.92)
    ph[newph] = (
        "1"
        + pd.Series(rng.integers(30, 99, size=newph.sum())).astype(str)
        + pd.Series(rng.integers(0, 10**8, size=newph.sum())).astype(str).str.zfill(8)
    ).to_numpy()
    rec["phone"] = ph
    ac = pd.Series(addr_code.to_numpy()[pid], dtype="string")
    bc = pd.Series(bldg_code.to_numpy()[pid], dtype="string")
    gc = pd.Series(grid_code.to_numpy()[pid], dtype="string")
    moved = dirty & (r[:, 6] < 0.08)  # an old address from before a move
    if moved.any():
        other_hh = rng.integers(0, n_hh, size=moved.sum())
        ac[moved] = (
            "440305004"
            + pd.Series(community[other_hh]).astype(str).str.zfill(3)
            + pd.Series(building[other_hh]).astype(str).str.zfill(3)
            + pd.Series(room[other_hh]).astype(str).str.zfill(4)
        ).to_numpy()
        bc[moved] = ac[moved].str.slice(0, 15)
        gc[moved] = pd.NA
    unbound = r[:, 7] < 0.15
    ac[unbound] = pd.NA
    bc[unbound] = pd.NA
    gc[unbound] = pd.NA
    rec["address_code"], rec["building_code"], rec["grid_code"] = ac, bc, gc
    rec["record_date"] = (
        pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, size=m), unit="D")
    ).date
    rec["priority"] = rec["feed"].map(FEED_PRIORITY).astype("int64")
    return rec.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _fast_pinyin(names: pd.Series, table: dict[str, str]) -> pd.Series:
    """Pinyin of many names via their unique values (names repeat a lot)."""
    codes, uniques = pd.factorize(names)
    py = np.array(["".join(table.get(c, c) for c in u) for u in uniques], dtype=object)
    out = pd.Series(py[codes], dtype="string")
    return out.mask(codes < 0)


ORG_WORDS = list("华兴宏达恒信鑫源博远锦程永盛德瑞金辉天成新泰万顺联创嘉禾启明安康")
INDUSTRY = ["科技", "贸易", "餐饮", "物流", "建筑", "电子", "医药", "文化传媒", "物业管理", "家政服务"]
CREDIT_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
_CW = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])


def credit_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid unified social credit codes (GB 32100), check character computed."""
    body = np.c_[
        np.full(n, 9), np.full(n, 1), rng.integers(0, 10, size=(n, 6)), rng.integers(0, 31, size=(n, 9))
    ]
    check = (31 - (body * _CW).sum(axis=1) % 31) % 31
    full = np.c_[body, check]
    return np.array(["".join(CREDIT_CHARS[row]) for row in full], dtype=object)


def organisations(n_orgs: int, *, seed: int = 11) -> pd.DataFrame:
    """Organisation mentions with legal-form variants, branches, missing credit codes; ``true_id`` is truth."""
    rng = np.random.default_rng(seed)
    W = np.array(ORG_WORDS, dtype=object)
    brand = (
        W[rng.integers(0, len(W), n_orgs)]
        + W[rng.integers(0, len(W), n_orgs)]
        + np.where(rng.random(n_orgs) < 0.5, W[rng.integers(0, len(W), n_orgs)], "")
    )
    industry = np.array(INDUSTRY, dtype=object)[rng.integers(0, len(INDUSTRY), n_orgs)]
    region = np.where(rng.random(n_orgs) < 0.6, "深圳市", "")
    form = np.array(["有限公司", "有限责任公司", "股份有限公司"], dtype=object)[
        rng.choice(3, n_orgs, p=[0.6, 0.3, 0.1])
    ]
    # a fifth of the organisations are branches of the organisation before them
    branch = np.where(
        rng.random(n_orgs) < 0.2,
        np.array(["南山", "福田", "宝安", "龙岗"], dtype=object)[rng.integers(0, 4, n_orgs)] + "分公司",
        "",
    )
    parent = np.arange(n_orgs) - 1
    is_branch = (branch != "") & (parent >= 0)
    brand[is_branch] = brand[parent[is_branch]]
    industry[is_branch] = industry[parent[is_branch]]
    region[is_branch] = region[parent[is_branch]]
    form[is_branch] = form[parent[is_branch]]
    branch[~is_branch] = ""
    credit = credit_codes(rng, n_orgs)
    rep = (
        np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n_orgs)]
        + np.array(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n_orgs)]
        + np.array(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n_orgs)]
    )
    addr = (
        "440305004"
        + pd.Series(rng.integers(1, 40, n_orgs)).astype(str).str.zfill(3)
        + pd.Series(rng.integers(1, 60, n_orgs)).astype(str).str.zfill(3)
        + pd.Series(rng.integers(101, 3400, n_orgs)).astype(str).str.zfill(4)
    )
    k = np.minimum(1 + rng.poisson(0.9, n_orgs), 4)
    oid = np.repeat(np.arange(n_orgs), k)
    m = len(oid)
    first = np.r_[True, oid[1:] != oid[:-1]]
    r = rng.random((m, 6))
    f = form[oid].copy()
    alt = ~first & (r[:, 0] < 0.3)
    f[alt] = np.where(f[alt] == "有限公司", "有限责任公司", "有限公司")
    reg = region[oid].copy()
    bracket = ~first & (r[:, 1] < 0.2) & (reg == "深圳市")
    name = (
        np.where(bracket, brand[oid] + industry[oid] + "(深圳)", reg + brand[oid] + industry[oid])
        + f
        + branch[oid]
    )
    feeds = np.array(["shichang", "renshe", "shuiwu", "zhujian"], dtype=object)
    rank = np.arange(m) - np.repeat(np.cumsum(k) - k, k)
    cc = pd.Series(credit[oid], dtype="string")
    cc[~first & (r[:, 2] < 0.4)] = pd.NA
    rp = pd.Series(rep[oid], dtype="string")
    rp[r[:, 3] < 0.3] = pd.NA
    ad = pd.Series(addr.to_numpy()[oid], dtype="string")
    ad[r[:, 4] < 0.3] = pd.NA
    feed = pd.Series(feeds[rank], dtype="string")
    src = pd.Series(rng.permutation(m) + 5000).astype(str).astype("string")
    out = pd.DataFrame(
        {
            "true_id": ("O" + pd.Series(oid).astype(str)).astype("string"),
            "record_key": (feed + ":" + src).astype("string"),
            "feed": feed,
            "source_record_id": src,
            "org_name": pd.Series(name, dtype="string"),
            "credit_code": cc,
            "legal_rep": rp,
            "address_code": ad,
            "building_code": ad.str.slice(0, 15),
            "record_date": (
                pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, m), unit="D")
            ).date,
            "priority": pd.Series(np.where(rank == 0, 80, 50)).astype("int64"),
        }
    )
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def houses(n_houses: int, *, seed: int = 13) -> pd.DataFrame:
    """House mentions: housing-feed records bound to room codes, and addresses persons gave (some unbound,
    written 栋/幢/号楼, 室 or not)."""
    rng = np.random.default_rng(seed)
    road = np.array(["幸福路", "建设大道", "人民北路", "桃园路", "学府路"], dtype=object)[
        rng.integers(0, 5, n_houses)
    ]
    num = rng.integers(1, 300, n_houses)
    bldg = rng.integers(1, 30, n_houses)
    unit = rng.integers(1, 4, n_houses)
    floor = rng.integers(1, 33, n_houses)
    room = floor * 100 + rng.integers(1, 5, n_houses)
    code = (
        "440305004001"
        + pd.Series(num).astype(str).str.zfill(3)
        + pd.Series(bldg).astype(str).str.zfill(2)
        + pd.Series(unit).astype(str)
        + pd.Series(room).astype(str).str.zfill(4)
    )
    key = code.to_numpy()
    _, first_idx = np.unique(key, return_index=True)
    keep = np.zeros(n_houses, dtype=bool)
    keep[first_idx] = True
    road, num, bldg, unit, room, code = (
        road[keep],
        num[keep],
        bldg[keep],
        unit[keep],
        room[keep],
        code[keep].reset_index(drop=True),
    )
    n = len(code)
    k = np.minimum(1 + rng.poisson(1.2, n), 6)
    hid = np.repeat(np.arange(n), k)
    m = len(hid)
    first = np.r_[True, hid[1:] != hid[:-1]]
    r = rng.random((m, 4))
    bword = np.array(["栋", "幢", "号楼"], dtype=object)[rng.integers(0, 3, m)]
    rword = np.where(r[:, 0] < 0.5, "室", "")
    text = (
        road[hid]
        + pd.Series(num[hid]).astype(str).to_numpy(dtype=object)
        + "号"
        + pd.Series(bldg[hid]).astype(str).to_numpy(dtype=object)
        + bword
        + pd.Series(unit[hid]).astype(str).to_numpy(dtype=object)
        + "单元"
        + pd.Series(room[hid]).astype(str).to_numpy(dtype=object)
        + rword
    )
    ac = pd.Series(code.to_numpy()[hid], dtype="string")
    ac[~first & (r[:, 1] < 0.25)] = pd.NA
    feed = pd.Series(
        np.where(first, "zhujian", np.where(r[:, 2] < 0.5, "gongan", "minzheng")), dtype="string"
    )
    src = pd.Series(rng.permutation(m) + 9000).astype(str).astype("string")
    use = pd.Series(np.where(first, "住宅", None), dtype="string")
    area = pd.Series(np.where(first, np.round(rng.uniform(40, 160, m), 1), np.nan)).astype("Float64")
    out = pd.DataFrame(
        {
            "true_id": ("H" + pd.Series(hid).astype(str)).astype("string"),
            "record_key": (feed + ":" + src + "#house").astype("string"),
            "feed": feed,
            "source_record_id": src,
            "address_code": ac,
            "building_code": ac.str.slice(0, 17),
            "address_text": pd.Series(text, dtype="string"),
            "house_use": use,
            "house_area": area,
            "record_date": (
                pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, m), unit="D")
            ).date,
            "priority": pd.Series(np.where(first, 80, 50)).astype("int64"),
        }
    )
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
