"""Hostile xlsx workbooks, built part by part with a streaming zip writer (a gigabyte inflated costs a few MB
here): the bombs of issue 14 and their relatives. Used by tests/test_xlsx_limits.py and the malformed corpus."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

HEADER = ["编号", "姓名", "身份证号", "性别", "出生日期", "居住地址", "面积", "出租"]

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName='
    '"/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'styles" Target="styles.xml"/></Relationships>'
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _styles(xfs: int = 1) -> Iterator[bytes]:
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {_NS}><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        f'<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="{xfs}">'
    ).encode()
    for _ in range(0, xfs, 1000):
        yield b"<xf/>" * 1000
    yield b"</cellXfs></styleSheet>"


def _header_row() -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(HEADER)
    )
    return f'<row r="1">{cells}</row>'


def sheet(rows: Iterable[str], dimension: str = "A1") -> Iterator[bytes]:
    """A worksheet part: the header row, then ``rows`` (each the XML of one ``<row>``), streamed."""
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}><dimension ref="{dimension}"/><sheetData>'
        + _header_row()
    ).encode()
    buf: list[str] = []
    size = 0
    for r in rows:
        buf.append(r)
        size += len(r)
        if size > 1 << 20:
            yield "".join(buf).encode()
            buf, size = [], 0
    yield ("".join(buf) + "</sheetData></worksheet>").encode()


def shared_strings(strings: Iterable[str], count: int) -> Iterator[bytes]:
    yield f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="{count}" uniqueCount="{count}">'.encode()
    buf: list[str] = []
    for s in strings:
        buf.append(f'<si><t xml:space="preserve">{s}</t></si>')
        if len(buf) >= 10_000:
            yield "".join(buf).encode()
            buf = []
    yield ("".join(buf) + "</sst>").encode()


def workbook(
    path: Path,
    sheet_part: Iterable[bytes],
    shared: Iterable[bytes] | None = None,
    styles: Iterable[bytes] | None = None,
) -> Path:
    """Write a workbook whose parts stream from the given chunks (deflated at level 6)."""
    parts: list[tuple[str, Iterable[bytes]]] = [
        ("[Content_Types].xml", [_CT.encode()]),
        ("_rels/.rels", [_RELS.encode()]),
        ("xl/workbook.xml", [_WB.encode()]),
        ("xl/_rels/workbook.xml.rels", [_WB_RELS.encode()]),
        ("xl/styles.xml", styles if styles is not None else _styles()),
        ("xl/sharedStrings.xml", shared if shared is not None else shared_strings([], 0)),
        ("xl/worksheets/sheet1.xml", sheet_part),
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, chunks in parts:
            with zf.open(name, "w", force_zip64=True) as fh:
                for chunk in chunks:
                    fh.write(chunk)
    return path


def as_bytes(build: Callable[..., Path], **kwargs) -> bytes:
    """The bytes of a workbook built by ``build`` (for the corpus, which holds files as bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        return build(Path(tmp) / "b.xlsx", **kwargs).read_bytes()


# ---- the bombs ------------------------------------------------------------------------------------------------
def good_row(r: int) -> str:
    values = [f"R{r}", "张三", "440305199001011234", "男", "1990-01-01", "南山区", "50", "是"]
    return (
        f'<row r="{r}">'
        + "".join(
            f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values)
        )
        + "</row>"
    )


def whitespace_bomb(path: Path, inflated: int = 400_000_000, cell: int = 4_000) -> Path:
    """Rows of whitespace cells (each well under Excel's 32,767 characters) inflating to ``inflated`` bytes."""
    spaces = " " * cell
    row_xml = "".join(
        f'<c r="{chr(65 + i)}{{r}}" t="inlineStr"><is><t xml:space="preserve">{spaces}</t></is></c>'
        for i in range(8)
    )
    per_row = len(row_xml) + 30
    rows = (
        f'<row r="{r}">' + row_xml.replace("{r}", str(r)) + "</row>"
        for r in range(2, 2 + inflated // per_row)
    )
    return workbook(path, sheet(rows))


def long_cell_bomb(path: Path, chars: int = 200_000_000) -> Path:
    """One cell of ``chars`` spaces."""
    chunk = " " * (1 << 20)

    def stream() -> Iterator[bytes]:
        head = b"".join(sheet([])).replace(b"</sheetData></worksheet>", b"")
        yield head + b'<row r="2"><c r="B2" t="inlineStr"><is><t xml:space="preserve">'
        for _ in range(max(1, chars // len(chunk))):
            yield chunk.encode()
        yield b"</t></is></c></row></sheetData></worksheet>"

    return workbook(path, stream())


def many_rows_bomb(path: Path, rows: int = 2_000_000) -> Path:
    """``rows`` rows of one short cell each (the issue's 1.1 MB file with 2 M rows)."""

    def rows_xml() -> Iterator[str]:
        for start in range(2, rows + 2, 100_000):
            stop = min(start + 100_000, rows + 2)
            yield "".join([f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(start, stop)])

    return workbook(path, sheet(rows_xml()), shared=shared_strings(["x"], 1))


def far_row_bomb(path: Path) -> Path:
    """One data row numbered beyond Excel's last row."""
    return workbook(path, sheet([good_row(2).replace('r="2"', 'r="2000000"')]))


def wide_row_bomb(path: Path, columns: int = 20_000) -> Path:
    """One row of ``columns`` empty cells without references (a row openpyxl would hold whole)."""
    return workbook(path, sheet(['<row r="2">' + "<c/>" * columns + "</row>"]))


def shared_strings_bomb(path: Path, count: int = 2_100_000) -> Path:
    """More distinct shared strings than the default limit, referenced by one row."""
    rows = ['<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    return workbook(path, sheet(rows), shared=shared_strings((f"s{i}" for i in range(count)), count))


def styles_bomb(path: Path, xfs: int = 600_000) -> Path:
    """A styles part of ``xfs`` cell formats (Excel allows 64,000)."""
    return workbook(path, sheet([good_row(2)]), styles=_styles(xfs))


def forged_dimension(path: Path, rows: int = 5, dimension: str = "A1:B2") -> Path:
    """A sound sheet whose declared dimension is wrong (too small here; XFD1048576 pads every row)."""
    return workbook(path, sheet((good_row(r) for r in range(2, rows + 2)), dimension=dimension))
