"""Nothing personal in the shared layer (issue 14, problem 4): the input's ID and phone numbers, in any
written form, appear nowhere in ``shared``.

The scanner here is independent of the scrubber: it takes the numbers from the *input* (every cell of every
landed file whose characters, once NFKC-folded and stripped of spaces, dashes, dots and slashes, are an ID
number with a valid check digit or a mobile), then looks for their digits in every cell and file of
``shared`` after the same folding. A masked number (``131 **** 8394``) no longer holds them.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_tables import synthetic_tables

from warehouse import publish
from warehouse.privacy import scrub_text
from warehouse.settings import WarehouseSettings

KEY = b"scan-test-key-with-enough-entropy"
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.\u00b7\u30fb/_]")
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9X])[\s\-\u2010-\u2015\u2212.\u00b7\u30fb/_](?=[0-9X+])")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).upper()


def id_valid(s: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", s):
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(s[:17], _WEIGHTS, strict=True)) % 11] == s[17]


def with_check_digit(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def numbers_in_cell(cell: str) -> set[str]:
    """The ID number or mobile a cell holds, however it is written (empty when it holds none)."""
    s = _SEPARATORS.sub("", _fold(cell)).removeprefix("+")
    s = s[2:] if re.fullmatch(r"861[3-9]\d{9}", s) else s
    if id_valid(s) or re.fullmatch(r"1[3-9]\d{9}", s):
        return {s}
    return set()


def input_numbers(files: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in files:
        raw = path.read_bytes()
        for codec in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(codec)
                break
            except UnicodeDecodeError:
                continue
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                found |= numbers_in_cell(cell)
    return found


def _texts(path: Path) -> list[str]:
    if path.suffix != ".parquet":
        return [path.read_bytes().decode("utf-8", "replace")]
    out = []
    for col in pq.read_table(path).columns:
        if pa.types.is_floating(col.type):
            continue
        for v in col.to_pylist():
            if isinstance(v, list):
                out.extend(str(x) for x in v if x is not None)
            elif v is not None:
                out.append(str(v))
    return out


def scan(folder: Path, numbers: set[str]) -> list[tuple[str, str]]:
    """(file, number) for every input number found in ``folder`` in any written form."""
    assert numbers
    pattern = re.compile("|".join(sorted(map(re.escape, numbers), key=len, reverse=True)))
    hits = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        for text in _texts(path):
            folded = _BETWEEN_DIGITS.sub("", _fold(text))
            hits += [(str(path.relative_to(folder)), m.group(0)) for m in pattern.finditer(folded)]
    return hits


# ---- the written forms ------------------------------------------------------------------------------------
ID = with_check_digit("44030519900101123")
PHONE = "13109278394"
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
FORMS = [
    PHONE,
    "131 0927 8394",
    "131-0927-8394",
    PHONE.translate(FULL),
    "１３１　０９２７　８３９４",
    "+86 131 0927 8394",
    "131.0927.8394",
    f"{ID[:4]} {ID[4:8]} {ID[8:12]} {ID[12:16]} {ID[16:]}",
    f"{ID[:6]}-{ID[6:14]}-{ID[14:]}",
    ID.translate(FULL),
]


@pytest.mark.parametrize("form", FORMS)
def test_the_scrubber_masks_every_written_form(form):
    assert numbers_in_cell(form) in ({PHONE}, {ID})
    for text in (form, f"电话：{form}。", f"李四,{form},南山区"):
        masked = scrub_text(text)
        assert masked != text and not scan_text(masked), (text, masked)


def scan_text(text: str) -> list[str]:
    folded = _BETWEEN_DIGITS.sub("", _fold(text))
    return [n for n in (PHONE, ID) if n in folded]


# ---- a published warehouse with quarantined rows and field issues ---------------------------------------
def test_original_texts_stay_in_restricted(tmp_path):
    t = synthetic_tables(200, seed=3)
    forms = FORMS * 3
    k = len(forms)
    t["quarantine"] = pa.table(
        {
            "feed": ["police"] * k,
            "raw_sha256": ["a" * 64] * k,
            "file_name": ["名单.csv"] * k,
            "line": list(range(2, k + 2)),
            "column": ["联系电话"] * k,
            "reason_code": ["missing_required"] * k,
            "message": ["必填字段为空 / a required field is empty"] * k,
            "original_text": [f"R{i},,{f},南山区" for i, f in enumerate(forms)],
        }
    )
    t["field_issue"] = pa.table(
        {
            "feed": ["police"] * k,
            "source_record_id": [f"R{i}" for i in range(k)],
            "field": ["birth_date"] * k,
            "reason_code": ["invalid_date"] * k,
            "original_value": forms,
        }
    )
    wh = tmp_path / "warehouse"
    publish(wh, t, run_id="s1", lineage={}, settings=WarehouseSettings(), grid_code_width=15, hmac_key=KEY)
    assert scan(wh / "shared", {PHONE, ID}) == []
    restricted = scan(wh / "restricted", {PHONE, ID})
    assert {"quarantine", "field_issue"} <= {
        Path(f).parts[2] for f, _ in restricted
    }  # snapshots/<run>/<table>
    shared_q = pq.read_table(next((wh / "shared").rglob("quarantine/*.parquet")))
    assert shared_q.column("original_text").null_count == k and shared_q.column("reason_code")[0].as_py()


# ---- the demo: the sample district through the whole pipeline, plus a hostile file ------------------------
HOSTILE_HEADER = "救助编号,姓名,性别,身份证号,出生日期,救助类别,联系电话,家庭住址,所属社区,登记日期"


def _hostile_rows() -> list[str]:
    other = with_check_digit("44030519850615234")
    return [
        f"HX001,林一,男,{FORMS[7]},1990-01-01,低保,{FORMS[1]},青石区建设路7号,湖东社区,2024-04-13",
        f"HX002,林二,女,{other},{FORMS[2]},低保,{FORMS[3]},青石区建设路8号 电话{FORMS[6]},湖东社区,{FORMS[8]}",
        f"HX003,,男,{FORMS[9]},1990-01-01,低保,{FORMS[5]},青石区建设路9号,湖东社区,2024-04-13",  # no name
        f",林四,男,{FORMS[8]},1990-01-01,低保,{FORMS[4]},青石区,湖东社区,2024-04-13",  # no record id
        f"HX005,林五 {FORMS[1]},男,{ID},1990-01-01,低保,{PHONE},{FORMS[0]},湖东社区,2024-04-13",
    ]


def test_the_demo_shared_layer_scans_clean(workspace_copy):
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    landing = ws.landing_dir("minzheng_assistance")
    (landing / "补报名单.csv").write_text(
        HOSTILE_HEADER + "\n" + "\n".join(_hostile_rows()) + "\n", encoding="utf-8-sig"
    )
    files = sorted(p for p in (workspace_copy / "landing").rglob("*.csv"))
    numbers = input_numbers(files)
    assert {PHONE, ID} <= numbers and len(numbers) > 300  # the sample's own numbers, and the hostile ones
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    pipeline.run_all(ws)
    assert scan(ws.warehouse / "shared", numbers) == []
    assert len({n for _, n in scan(ws.warehouse / "restricted", numbers)}) > 300  # the scanner does see them
