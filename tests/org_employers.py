"""A small district's organisations as two departments write them, for the employer-linking tests.

市场监管 registers every organisation once (name, credit code, legal representative, address); 人社 names the
employer on every insured person's row: mostly with the credit code, sometimes with the name only, sometimes
with the old 9-character 组织机构代码 (``12345678-9``), and sometimes with a value meaning "no employer". A few
employers are big (hundreds of insured staff), as in a real district. Imported by ``tests/test_org_employers.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from warehouse.checkchars import credit_code_check_char, organisation_code_check_char

BRANDS = list("华兴宏达恒信鑫源博远锦程永盛德瑞金辉天成新泰万顺联创嘉禾启明安康")
INDUSTRIES = ["科技", "贸易", "餐饮", "物流", "建筑工程", "电子", "医药", "文化传媒", "物业管理", "家政服务"]
ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

SHICHANG = {
    "name": "shichang",
    "department": "市场监管",
    "source": {"kind": "file", "glob": "*.csv"},
    "entities": ["organisation"],
    "record_id": "ztsfdm",
    "columns": {
        "ztsfdm": "source_record_id",
        "qymc": "org_name",
        "tyshxydm": "credit_code",
        "fddbr": "legal_rep",
        "zs": "org_address",
    },
}
RENSHE = {
    "name": "renshe",
    "department": "人社",
    "source": {"kind": "file", "glob": "*.csv"},
    "entities": ["person", "organisation"],
    "record_id": "xh",
    "columns": {"xh": "source_record_id", "xm": "name", "dwmc": "org_name", "tyshxydm": "credit_code"},
}


def registered(n: int, seed: int = 3, namesakes: int = 0) -> pd.DataFrame:
    """``n`` registered organisations with credit codes whose 组织机构代码 is valid; names are distinct but for
    the last ``namesakes``, which carry the name of an organisation before them (another credit code)."""
    rng = np.random.default_rng(seed)
    rows, names = [], set()
    while len(rows) < n:
        brand = "".join(rng.choice(BRANDS, 2 + int(rng.integers(0, 2))))
        name = f"云江市{brand}{rng.choice(INDUSTRIES)}有限公司"
        if len(rows) >= n - namesakes:
            name = rows[len(rows) - (n - namesakes)]["org_name"]
        elif name in names:
            continue
        names.add(name)
        body8 = "".join(rng.choice(list("0123456789"), 8))
        org_code = body8 + organisation_code_check_char(body8)
        body17 = "91445399" + org_code
        rows.append(
            {
                "org_name": name,
                "credit_code": body17 + credit_code_check_char(body17),
                "org_code": org_code,
                "legal_rep": "".join(rng.choice(list("王李张刘陈杨黄赵")))
                + "".join(rng.choice(list("伟芳娜敏静丽强磊"), 2)),
                "org_address": f"青石区滨江路{int(rng.integers(1, n // 3 + 2))}号",
            }
        )
    return pd.DataFrame(rows)


def staged_feeds(
    orgs: pd.DataFrame, big: tuple[int, ...] = (300, 180), seed: int = 5
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Staged rows of both feeds and, per 人社 row, the registered organisation it names (``truth``).

    Staff per employer: the first employers have ``big`` staff, the rest 1 + Poisson(6). Employer written as:
    credit code 80%, name only 12%, old organisation code 8% (with a hyphen before the check character).
    Several organisations share a registered address (a building of offices).
    """
    rng = np.random.default_rng(seed)
    shichang = pd.DataFrame(
        {
            "_feed": "shichang",
            "_raw_sha256": "s",
            "_line": np.arange(2, len(orgs) + 2),
            "source_record_id": [f"S{i:05d}" for i in range(len(orgs))],
            "org_name": orgs["org_name"],
            "credit_code": orgs["credit_code"],
            "legal_rep": orgs["legal_rep"],
            "org_address": orgs["org_address"],
        }
    )
    staff = 1 + rng.poisson(6, len(orgs))
    staff[: len(big)] = big
    employer = np.repeat(np.arange(len(orgs)), staff)
    how = rng.choice(["credit", "name", "old"], len(employer), p=[0.8, 0.12, 0.08])
    chosen = orgs.iloc[employer].reset_index(drop=True)
    old = chosen["org_code"].str.slice(0, 8) + "-" + chosen["org_code"].str.slice(8)
    code = np.where(how == "credit", chosen["credit_code"], np.where(how == "old", old, None))
    renshe = pd.DataFrame(
        {
            "_feed": "renshe",
            "_raw_sha256": "r",
            "_line": np.arange(2, len(employer) + 2),
            "source_record_id": [f"R{i:06d}" for i in range(len(employer))],
            "name": [f"职工{i}" for i in range(len(employer))],
            "org_name": chosen["org_name"],
            "credit_code": pd.Series(code, dtype="string"),
        }
    )
    truth = pd.DataFrame(
        {
            "record_key": "renshe:" + renshe["source_record_id"] + "#org",
            "registered_key": "shichang:" + shichang["source_record_id"].iloc[employer].to_numpy(),
            "written_as": how,
        }
    )
    return {"shichang": shichang, "renshe": renshe}, truth
