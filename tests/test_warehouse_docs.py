"""docs/warehouse.md is generated from the schema; a change to one without the other fails here."""

from __future__ import annotations

import pyarrow as pa

from warehouse.docs import DOC_PATH, main, render_markdown
from warehouse.privacy import layer_schema
from warehouse.schema import TABLES, Layer, arrow_schema


def test_docs_are_up_to_date():
    assert DOC_PATH.exists(), "run `python -m warehouse.docs`"
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/warehouse.md differs from warehouse/schema.py: run `python -m warehouse.docs`"
    )


def test_every_table_and_column_is_documented_with_the_written_arrow_type():
    text = render_markdown()
    for t in TABLES.values():
        assert f"### `{t.name}` — {t.chinese}" in text
        section = text.split(f"### `{t.name}` — {t.chinese}", 1)[1].split("\n### ", 1)[0]
        for f in layer_schema(t, Layer.SHARED):
            assert f"| `{f.name}` | `{f.type}` |" in section, (t.name, f.name)
        for f in arrow_schema(t):
            assert layer_schema(t, Layer.RESTRICTED).field(f.name).type == f.type
        for c in t.columns:
            if c.references:
                assert f"`{c.references}`" in section
            if c.pii:
                assert f"`{c.name}_key`" in section and "**masked**" in section


def test_check_mode_detects_drift(tmp_path):
    out = tmp_path / "warehouse.md"
    assert main(["--out", str(out)]) == 0
    assert main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("实有人口", "人口"), encoding="utf-8")
    assert main(["--check", "--out", str(out)]) == 1


def test_layer_schemas_add_only_key_columns():
    for t in TABLES.values():
        extra = set(layer_schema(t).names) - set(arrow_schema(t).names)
        assert extra == {f"{c.name}_key" for c in t.columns if c.pii}
        assert all(layer_schema(t).field(n).type == pa.string() for n in extra)
