"""The reference files of bench/other_district.py: its address library, divisions and grids in its own headers."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import yaml


def write_reference(
    ws: Path, addresses: list, grids: list[dict], streets: list, county: str, city: str, district: str
) -> None:
    """The library (GB18030, pinyin-initial headers, its own forms), the divisions and the grids."""
    ref = ws / "城市数据"
    ref.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    with open(ref / "标准地址库.csv", "w", encoding="gb18030", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "DZBM",
                "SQJCWHDM",
                "JDMC",
                "SQMC",
                "JLX",
                "MPH",
                "XQMC",
                "LH",
                "DYH",
                "SH",
                "CMXZ",
                "SSWG",
                "JD",
                "WD",
            ]
        )
        for a in addresses:
            w.writerow(
                [
                    a.code,
                    a.community_code,
                    a.street,
                    a.community,
                    *_elements(rng, a),
                    a.grid_code,
                    a.lon,
                    a.lat,
                ]
            )
    with open(ref / "区划.csv", "w", encoding="utf-8", newline="") as fh:  # after check warned: 明州市江澜区…
        w = csv.writer(fh)
        w.writerow(["QHDM", "QHMC", "JB"])
        w.writerow([county[:4] + "00", city, "市"])
        w.writerow([county, district, "区"])
        for s_code, s_name, communities in streets:
            w.writerow([county + s_code, s_name, s_name[-2:] if s_name.endswith("街道") else "镇"])
            for c_code, c_name, style in communities:
                w.writerow(
                    [
                        county + s_code + c_code,
                        c_name + ("村" if style == "village" else "社区"),
                        "村" if style == "village" else "社区",
                    ]
                )
    with open(ref / "网格.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["WGBM", "WGMC", "WGLX", "FW"])
        for g in grids:
            w.writerow([g["code"], g["name"], g["kind"], g["wkt"]])


def write_config(ws: Path) -> None:
    config = yaml.safe_load((Path(__file__).with_name("other_district.yaml")).read_text(encoding="utf-8"))
    (ws / "gridhub.yaml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def _elements(rng: random.Random, a) -> list[str]:
    """JLX, MPH, XQMC, LH, DYH, SH, CMXZ of one address, in the library's own forms."""
    if a.group:
        group = rng.choice([f"{a.group}组", f"第{'一二三四五六'[int(a.group) - 1]}村民小组", a.group])
        return ["", f"{a.lane}号", "", "", "", "", group]
    if a.estate:
        lh = rng.choice([f"{a.number}幢", f"{a.number}座", f"{a.number}号楼"])
        return [a.road, f"{a.lane}号", a.estate, lh, f"{a.unit}单元", f"{a.room}室", ""]
    if a.kind == "shop":
        return [a.road, f"{a.lane}号", "", "", "", "", ""]
    # 上海-style lane: 长乐路123弄4号502室 — 弄 in the 门牌, 号 as the building
    return [a.road, f"{a.lane}弄", "", f"{a.number}号", "", f"{a.room}室", ""]
