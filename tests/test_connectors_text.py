"""Encoding detection, value cleaning, safe names and the raw manifest, unit by unit."""

from __future__ import annotations

import codecs
import threading

import pyarrow as pa
import pytest
from ingest_helpers import make_workspace

from connectors import FeedFileError, ingest_feed
from connectors.errors import FileRejected
from connectors.raw import RawZone
from connectors.text import (
    any_contains,
    any_control,
    clean_text,
    detect_encoding,
    neutralise_formula,
    normalise_header,
    safe_file_name,
    sniff_format,
)

TEXT = "编号,姓名,地址\n1,張三,深圳市南山区桃源街道十二号楼三单元５０１\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (b"id,name\n" * 20000 + "1,张三\n".encode("gb18030"), "gb18030"),  # non-ASCII only far down the file
    ],
)
def test_detect_encoding(tmp_path, data, expected):
    p = tmp_path / "f.csv"
    p.write_bytes(data)
    assert detect_encoding(p) == expected


def test_detect_encoding_rejects_garbage_and_wrong_configured_encoding(tmp_path):
    p = tmp_path / "f.csv"
    p.write_bytes(b"a,b\n" + b"\x80\xff\x80\xff," * 200)
    with pytest.raises(FileRejected) as err:
        detect_encoding(p)
    assert err.value.code == "unreadable_encoding"
    p.write_bytes(TEXT.encode("gb18030") * 20)
    with pytest.raises(FileRejected):
        detect_encoding(p, "utf-8")


def test_sniff_format():
    assert sniff_format(b"PK\x03\x04rest")[0] == "xlsx"
    assert sniff_format(b"%PDF-1.7")[1] == "binary_content"
    assert sniff_format("编号,姓名".encode())[0] == "text"


def test_clean_text_trims_zero_width_nbsp_and_ideographic_space():
    arr = pa.array([" \u00a0张\u200b三\u3000", "\ufeff李四", "\u200b", "", None, "王　五", "=1+1"])
    assert clean_text(arr).to_pylist() == ["张三", "李四", None, None, None, "王　五", "=1+1"]


def test_byte_scans():
    assert any_contains(pa.array(["ab", "c\u200bd"]), ("\u200b".encode(),))
    assert not any_contains(pa.array(["ab", "cd"]), ("\u200b".encode(),))
    assert any_control(pa.array(["ok", "a\x00b"])) and any_control(pa.array(["\x85"]))
    assert not any_control(pa.array(["tab\there", "多行\r\n文本"]))


def test_headers_match_after_nfkc():
    assert normalise_header("\ufeff（身份证号） ") == "(身份证号)"
    assert normalise_header("ＸＭ") == "XM"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\市場主體.csv", "市場主體.csv"),
        ("C:\\Users\\民政局\\救助对象名册（２０２５）.csv", "救助对象名册（２０２５）.csv"),
        ("/abs/path/房屋信息.CSV", "房屋信息.CSV"),
        ("mixed/sep\\名单.csv", "名单.csv"),
        ("folder/名单.csv/", "名单.csv"),
        ("  ..  ", "unnamed"),
        ("", "unnamed"),
    ],
)
def test_safe_file_name_keeps_only_the_last_path_component(given: str, shown: str) -> None:
    assert safe_file_name(given) == shown


def test_safe_file_name_is_nfc() -> None:
    decomposed = "Cafe\u0301 名单.csv"  # e + combining acute, as macOS writes names
    assert safe_file_name(decomposed) == "Caf\u00e9 名单.csv"
    assert safe_file_name(decomposed) == safe_file_name("Caf\u00e9 名单.csv")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (".bashrc", "bashrc"),
        ("  ..名单.csv", "名单.csv"),
        (" . 名单.csv . ", "名单.csv"),
        ("\u3000名单.csv\u00a0", "名单.csv"),
    ],
)
def test_safe_file_name_drops_leading_and_trailing_dots_and_spaces(given: str, shown: str) -> None:
    assert safe_file_name(given) == shown


@pytest.mark.parametrize("ext", [".csv", ".xlsx", ".abcdefgh"])
def test_safe_file_name_caps_the_length_and_keeps_the_extension(ext: str) -> None:
    name = safe_file_name("人" * 400 + ext)
    assert len(name) == 200 and name.endswith(ext) and "…" in name
    longer = safe_file_name("人" * 400 + ext, limit=255)
    assert len(longer) == 255 and longer.endswith(ext)
    assert safe_file_name("人" * 200 + ".csv", limit=204) == "人" * 200 + ".csv"
    with pytest.raises(ValueError):
        safe_file_name("a.csv", limit=5)


@pytest.mark.parametrize("given", ["", "  ..  ", "...", "/", "a/..", "\\\\", " \u3000 "])
def test_safe_file_name_is_never_empty(given: str) -> None:
    assert safe_file_name(given) == "unnamed"


def test_safe_file_name_replaces_control_and_invisible_characters() -> None:
    assert safe_file_name("\x00\x1b.bashrc") == "_.bashrc"
    assert safe_file_name("a\x85b.csv") == "a_b.csv"  # C1 control (NEL)
    assert safe_file_name("名单\u200b.csv") == "名单_.csv"  # zero-width space
    assert safe_file_name("名单\u2028.csv") == "名单_.csv"  # line separator


def test_safe_file_name_and_formula_neutralising():
    assert safe_file_name("..\\..\\etc\\passwd.csv") == "passwd.csv"
    assert safe_file_name("名单\u202egnp.csv") == "名单_gnp.csv"
    assert safe_file_name("a\nb\x00.csv") == "a_b_.csv"
    assert len(safe_file_name("长" * 400 + ".csv")) <= 200
    assert [neutralise_formula(v) for v in ("=A1", "+1", "-1", "@x", "\tx", "正常", 5)] == [
        "'=A1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "正常",
        5,
    ]


def test_manifest_takes_concurrent_writers(tmp_path):
    zone = RawZone(tmp_path / "raw")
    files = []
    for i in range(8):
        p = tmp_path / f"f{i}.csv"
        p.write_text(f"编号\n{i}\n", encoding="utf-8")
        files.append(p)

    def receive(p):
        blob = zone.store_file(p)
        zone.record_received(f"feed{int(p.stem[1:]) % 2}", blob, p.name, str(p), "file")
        zone.record_outcome(
            f"feed{int(p.stem[1:]) % 2}", blob.sha256, status="staged", rows_read=1, rows_staged=1
        )

    threads = [threading.Thread(target=receive, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = zone.manifest()
    assert len(m) == 8 and set(m["status"]) == {"staged"}
    assert sorted(m[m["feed"] == "feed0"]["seq"]) == [1, 2, 3, 4]


def test_missing_file_is_reported_not_raised(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police", [tmp_path / "nowhere.csv"])
    assert "nowhere.csv" in str(err.value) and "kept in raw" not in str(err.value)
