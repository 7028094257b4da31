"""The malformed-file corpus: every kind of mess departments send, generated deterministically.

Each case is a file name, its bytes, and what must come of it: a whole-file error with one of the given
reason codes, or rows quarantined with (at least) the given reason codes, field issues (values of staged rows
nulled, see ``connectors.rules``) with the given reason codes, and the given number staged. The
corpus is generated rather than committed: binary files, NUL bytes and 1 MB fields do not belong in git.
"""

from __future__ import annotations

import codecs
import gzip
import io
import random
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from warehouse.reasons import ReasonCode

HEADER = "编号,姓名,身份证号,性别,出生日期,居住地址,面积,出租"
HOUSES_HEADER = "登记编号,房屋编号,房屋坐落,用途,建筑面积,是否出租,产权人,产权人证件号"
# The corpus workspace's second feed: the housing extract a clerk sends to the police feed by mistake.
HOUSES_FEED = {
    "name": "zhujian_houses",
    "department": "住建",
    "source": {"kind": "file", "glob": "*"},
    "entities": ["house", "person"],
    "record_id": "登记编号",
    "columns": {
        "登记编号": "source_record_id",
        "房屋编号": "house_code",
        "房屋坐落": "address",
        "用途": "house_use",
        "建筑面积": "house_area",
        "是否出租": "rented",
        "产权人": "name",
        "产权人证件号": "id_number",
    },
}


def row(
    rid: str,
    name: str = "张三",
    sex: str = "男",
    birth: str = "1990-01-01",
    address: str = "南山区",
    area: str = "50",
    rented: str = "是",
    idn: str = "440305199001011234",
) -> str:
    return ",".join([rid, name, idn, sex, birth, address, area, rented])


def good_rows(n: int, start: int = 1) -> str:
    return "".join(row(f"G{i}") + "\n" for i in range(start, start + n))


@dataclass
class Case:
    name: str
    data: bytes
    error: set[str] = field(default_factory=set)  # acceptable whole-file reason codes
    reasons: set[str] = field(default_factory=set)  # reason codes that must appear among quarantined rows
    issues: set[str] = field(default_factory=set)  # reason codes of the field issues of staged rows
    staged: int | None = None  # rows that must be staged
    warning: str = ""  # words that must be in the file's warnings (CLI) and the portal's report
    message: tuple[str, ...] = ()  # words the whole-file message must hold (Chinese first, then English)
    portal_warning: str = ""  # words the portal's report must hold as a warning
    # the portal types a file by content, not name: rows it stages of a file ingest refuses by its name
    portal_staged: int | None = None
    note: str = ""

    @property
    def expects_error(self) -> bool:
        return bool(self.error)


def _xlsx(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _gb(text: str) -> bytes:
    return text.encode("gb18030")


def corpus() -> list[Case]:
    rnd = random.Random(20240301)
    header_xlsx = HEADER.split(",")
    cases = [
        # ---- whole-file problems ------------------------------------------------------------------------
        Case("empty.csv", b"", error={"empty_file"}),
        Case("blank_lines.csv", b"\r\n\n   \n\t\n", error={"empty_file"}),
        # a header alone: nothing to report this time, taken as empty with a warning (issue 14 point 8)
        Case("header_only.csv", _gb(HEADER + "\n"), staged=0, warning="文件只有表头"),
        Case(
            "header_then_blank_rows.csv",
            _gb(HEADER + "\n,,,,,,,\n\n , ,,,,,,\n"),
            staged=0,
            warning="文件只有表头",
        ),
        Case(
            "xlsx_named_csv.csv",
            _xlsx([header_xlsx, ["1", "张三"]]),
            error={"wrong_format"},
            portal_staged=1,  # the portal names a landed file by its content: a workbook lands as .xlsx
        ),
        Case("old_excel.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048), error={"wrong_format"}),
        Case("photo.csv", b"\x89PNG\r\n\x1a\n" + rnd.randbytes(3000), error={"binary_content"}),
        Case("random_bytes.csv", rnd.randbytes(8192), error={"binary_content", "unreadable_encoding"}),
        Case(
            "gzipped.csv",
            gzip.compress(_gb(HEADER + "\n" + good_rows(20)), mtime=0),
            error={"binary_content"},
        ),
        Case(
            "utf32.csv",
            (HEADER + "\n" + good_rows(3)).encode("utf-32"),
            error={"binary_content", "unreadable_encoding"},
        ),
        Case(
            "undecodable.csv",
            _gb(HEADER + "\n") + b"1,\x80\x80\xff\x80,\xff\xff\x80,\x80\n" * 40,
            error={"unreadable_encoding", "binary_content"},
        ),
        Case("missing_id_column.csv", _gb("姓名,性别\n张三,男\n"), error={"missing_columns"}),
        Case(
            "duplicate_header.csv", _gb("编号,姓名,姓名,性别\n1,张三,张三,男\n"), error={"duplicate_header"}
        ),
        Case(
            "tab_separated.csv",
            _gb(HEADER.replace(",", "\t") + "\n" + good_rows(2).replace(",", "\t")),
            error={"missing_columns"},
            note="the message suggests the delimiter",
        ),
        Case(
            "title_above_header.csv",
            _gb("南山区流动人口登记表\n" + HEADER + "\n" + good_rows(2)),
            error={"missing_columns"},
        ),
        Case("corrupt.xlsx", b"PK\x03\x04" + rnd.randbytes(500), error={"unreadable_file"}),
        Case("header_only.xlsx", _xlsx([header_xlsx]), staged=0, warning="文件只有表头"),
        Case("empty_sheet.xlsx", _xlsx([]), error={"empty_file"}),
        Case(
            "truncated.xlsx",
            _xlsx([header_xlsx] + [[f"T{i}", "张三"] for i in range(200)])[:1500],
            error={"unreadable_file"},
        ),
        # ---- row-level problems -------------------------------------------------------------------------
        Case(
            "ragged_rows.csv",
            _gb(HEADER + "\n" + good_rows(3) + "R1,张三,x\n" + row("R2") + ",多余,字段\n"),
            reasons={"ragged_row"},
            staged=3,
        ),
        Case(
            "very_wide_row.csv",
            _gb(HEADER + "\n" + good_rows(2) + ",".join(["x"] * 1000) + "\n"),
            reasons={"ragged_row"},
            staged=2,
        ),
        Case(
            "unbalanced_quote_middle.csv",
            _gb(
                HEADER + "\n" + good_rows(2) + row("Q1", address='"南山区,没有结束') + "\n" + good_rows(5, 10)
            ),
            reasons={"unparseable_row"},
            staged=7,
        ),
        Case(
            "unbalanced_quote_last_row.csv",
            _gb(HEADER + "\n" + good_rows(4) + row("Q2", name='"王五') + "\n"),
            reasons={"unparseable_row"},
            staged=4,
        ),
        Case(
            "text_after_closing_quote.csv",
            _gb(HEADER + "\n" + good_rows(2) + row("Q3", name='"王"五') + "\n"),
            reasons={"unparseable_row"},
            staged=2,
        ),
        Case(
            "embedded_newlines.csv",
            _gb(HEADER + "\r\n" + row("N1", address='"南山区\r\n桃源街道\n12号"') + "\r\n" + good_rows(3)),
            staged=4,
        ),
        Case(
            "nul_bytes.csv",
            _gb(HEADER + "\n" + good_rows(30) + row("Z1", name="张\x00三") + "\n"),
            reasons={"control_characters"},
            staged=30,
        ),
        Case(
            "escape_and_bell.csv",
            _gb(HEADER + "\n" + good_rows(2) + row("Z2", address="\x1b[31m红\x07") + "\n"),
            issues={"control_characters"},  # in an optional field: the value is dropped, the row staged
            staged=3,
        ),
        Case(
            "one_megabyte_field.csv",
            _gb(HEADER + "\n" + good_rows(2) + row("L1", address="长" * 1_000_000) + "\n"),
            issues={"field_too_long"},  # in an optional field: the value is dropped, the row staged
            staged=3,
        ),
        Case(
            "invalid_dates.csv",
            _gb(
                HEADER
                + "\n"
                + good_rows(1)
                + row("D1", birth="20230230")
                + "\n"
                + row("D2", birth="2023-13-01")
                + "\n"
                + row("D3", birth="2023年2月30日")
                + "\n"
                + row("D4", birth="2024-02-29")
                + "\n"
            ),
            issues={"invalid_date"},  # birth_date is optional: the dates are dropped, the rows staged
            staged=5,
        ),
        Case(
            "zero_width_and_nbsp.csv",
            _gb(
                HEADER
                + "\n"
                + row("\u200b\u00a0", name="李四")
                + "\n"
                + row("W1", name="\u00a0\u200b\u3000")
                + "\n"
                + row("\u00a0W2\u200b", name="\u200b王五\u00a0")
                + "\n"
            ),
            reasons={"missing_record_id", "missing_required"},
            staged=1,
        ),
        Case(
            "emoji.csv",
            _gb(HEADER + "\n" + row("E1", name="张三😀", address="🏠南山区") + "\n" + good_rows(1)),
            staged=2,
        ),
        Case(
            "stray_gbk_bytes_in_utf8.csv",
            (HEADER + "\n" + good_rows(60)).encode("utf-8")
            + row("B1", name="王五").encode("gb18030")
            + b"\n",
            reasons={"encoding_error"},
            staged=60,
        ),
        Case(
            "broken_bytes_in_gb18030.csv",
            _gb(HEADER + "\n" + good_rows(40)) + b"B2,\xff\x80,x,\xe7\x94\xb7,1990-01-01,x,1,1\n",
            reasons={"encoding_error"},
            staged=40,
        ),
        Case(
            "duplicate_ids.csv",
            _gb(HEADER + "\n" + good_rows(3) + good_rows(2)),
            reasons={"duplicate_record_id"},
            staged=3,
        ),
        Case(
            "formula_values.csv",
            _gb(
                HEADER
                + "\n"
                + row("F1", name="=cmd|' /C calc'!A0", address="@SUM(A1:A9)", idn="+8613800138000")
                + "\n"
                + row("F2", name="-2+3")
                + "\n"
            ),
            staged=2,
            note="formulas are data",
        ),
        Case("old_mac_line_endings.csv", _gb(HEADER + "\r" + good_rows(3).replace("\n", "\r")), staged=3),
        Case("trailing_delimiters.csv", _gb(HEADER + ",\n" + good_rows(3).replace("\n", ",\n")), staged=3),
        Case(
            "bad_values_mix.csv",
            _gb(
                HEADER
                + "\n"
                + row("V1", sex="未知")
                + "\n"
                + row("V2", area="五十平米")
                + "\n"
                + row("V3", rented="也许")
                + "\n"
                + good_rows(1)
            ),
            issues={"unmapped_value", "invalid_number", "invalid_bool"},  # optional fields: rows staged
            staged=4,
        ),
        Case(
            "ragged.xlsx",
            _xlsx(
                [
                    header_xlsx,
                    ["X1", "张三", "x", "男", "1990-01-01", "南山区", 50, "是"],
                    ["X2", "李四", "x", "女", "1990-01-01", "南山区", 50, "是", "多余"],
                ]
            ),
            reasons={"ragged_row"},
            staged=1,
        ),
        # ---- hostile file names (the data is fine) ----------------------------------------------------------
        Case("..\\..\\etc\\passwd.csv", _gb(HEADER + "\n" + good_rows(2)), staged=2),
        Case("-rf --no-preserve-root.csv", _gb(HEADER + "\n" + good_rows(2)), staged=2),
        Case("名单\u202egnp.csv", _gb(HEADER + "\n" + good_rows(2)), staged=2),
        Case("line\nbreak\rname.csv", _gb(HEADER + "\n" + good_rows(2)), staged=2),
        Case("长" * 80 + ".csv", _gb(HEADER + "\n" + good_rows(2)), staged=2),
    ]
    return cases + _portal_cases()


def _houses(n: int) -> str:
    rows = "".join(
        f"DJ{i:04d},FW{i:04d},南山区桃源街道{i}号,住宅,89.5,否,王{i},440305197001011234\n" for i in range(n)
    )
    return HOUSES_HEADER + "\n" + rows


def _sqlite_db() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.db"
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
        return path.read_bytes()


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _zip_of_texts() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("名单.csv", HEADER + "\n")
        z.writestr("说明.txt", "见附件")
    return buf.getvalue()


def _suspicious_issues() -> set[str]:
    """Field issues of the suspicious-names case: ``suspicious_text`` once staging notes such names."""
    return {"suspicious_text"} if hasattr(ReasonCode, "SUSPICIOUS_TEXT") else set()


def _portal_cases() -> list[Case]:
    """Issue 14 (messages, duplicates and empties, suspicious names): appended after the other cases."""
    good = HEADER + "\n" + good_rows(3)
    rnd = random.Random(20261130)
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00>\x00" + rnd.randbytes(4000)
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + rnd.randbytes(4000)
    mismatch = ("这些列属于另一个数据源", "住建 zhujian_houses", "these columns belong to another feed")
    not_table = ("不是文本表格", "not a text table")
    return [
        Case("houses_sent_to_police.csv", _gb(_houses(5)), error={"missing_columns"}, message=mismatch),
        Case(
            "houses_sent_to_police_utf8.csv",
            _houses(5).encode("utf-8"),
            error={"missing_columns"},
            message=mismatch,
        ),
        Case(
            "houses_header_only_to_police.csv",
            _gb(HOUSES_HEADER + "\n"),
            error={"missing_columns"},
            message=mismatch,
            note="the wrong feed is said before 'empty'",
        ),
        Case(
            "full_width_commas.csv",
            _gb(HEADER.replace(",", "，") + "\n" + good_rows(2).replace(",", "，")),
            error={"missing_columns"},
            message=("全角逗号", "full-width commas"),
        ),
        Case("linux_program.csv", elf, error={"binary_content"}, message=not_table),
        Case("windows_program.csv", exe, error={"binary_content"}, message=not_table),
        Case("shell_script.csv", b"#!/bin/sh\nrm -rf / --no-preserve-root\n", error={"binary_content"}),
        Case("sqlite_database.csv", _sqlite_db(), error={"binary_content"}, message=not_table),
        Case("word_document.csv", _docx(), error={"wrong_format"}),
        Case("utf16_le_bom.csv", codecs.BOM_UTF16_LE + good.encode("utf-16-le"), staged=3),
        Case("utf16_le_no_bom.csv", good.encode("utf-16-le"), staged=3),
        Case("utf16_be_bom.csv", codecs.BOM_UTF16_BE + good.encode("utf-16-be"), staged=3),
        Case("utf8_bom.csv", codecs.BOM_UTF8 + good.encode("utf-8"), staged=3),
        Case("utf8_plain.csv", good.encode("utf-8"), staged=3),
        Case(
            "header_only_utf8_bom_crlf.csv",
            codecs.BOM_UTF8 + (HEADER + "\r\n").encode("utf-8"),
            staged=0,
            warning="文件只有表头",
        ),
        Case(
            "header_only_utf16.csv",
            codecs.BOM_UTF16_LE + (HEADER + "\r\n").encode("utf-16-le"),
            staged=0,
            warning="文件只有表头",
        ),
        Case("zip_archive.csv", _zip_of_texts(), error={"wrong_format"}),
        Case(
            "macos_program.csv",
            b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(64) + rnd.randbytes(2000),
            error={"binary_content"},
            message=not_table,
        ),
        Case("pdf_named_xlsx.xlsx", b"%PDF-1.7\n" + rnd.randbytes(2000), error={"binary_content"}),
        Case(
            "html_page.csv",
            b"<!doctype html>\n<html><body><script>alert(1)</script></body></html>\n",
            error={"missing_columns"},
        ),
        Case(
            "houses_workbook.xlsx",
            _xlsx([HOUSES_HEADER.split(","), ["DJ1", "FW1", "南山区", "住宅", 80, "否", "王五", "x"]]),
            error={"missing_columns"},
        ),
        Case(
            "semicolon_separated.csv",
            _gb(HEADER.replace(",", ";") + "\n" + good_rows(2).replace(",", ";")),
            error={"missing_columns"},
            message=("分隔符可能不对", "the delimiter may be ';'"),
        ),
        Case(
            "pipe_separated.csv",
            _gb(HEADER.replace(",", "|") + "\n" + good_rows(2).replace(",", "|")),
            error={"missing_columns"},
            message=("分隔符可能不对", "the delimiter may be '|'"),
        ),
        Case(
            "houses_utf16_to_police.csv",
            codecs.BOM_UTF16_LE + _houses(3).encode("utf-16-le"),
            error={"missing_columns"},
            message=mismatch,
        ),
        Case(
            "full_width_commas_utf8.csv",
            (HEADER.replace(",", "，") + "\n" + good_rows(2).replace(",", "，")).encode("utf-8"),
            error={"missing_columns"},
            message=("全角逗号", "full-width commas"),
        ),
        Case(
            "suspicious_names.csv",
            _gb(
                HEADER
                + "\n"
                + row("S1", name='=HYPERLINK("http://x")')
                + "\n"
                + row("S2", name="<script>alert(1)</script>")
                + "\n"
                + row("S3", name="张三; DROP TABLE persons;--")
                + "\n"
                + row("S4", name="李四😀")
                + "\n"
                + row("S5", name="@SUM(A1)")
                + "\n"
                + good_rows(1)
            ),
            staged=6,
            issues=_suspicious_issues(),
            portal_warning="可疑",
            note="stored verbatim; the portal's report names them",
        ),
    ]
