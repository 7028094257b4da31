"""docs/configuration.md is generated from the configuration models; a change to one without the other fails."""

from __future__ import annotations

import yaml

from gridhub.config import WorkspaceConfig
from gridhub.config_docs import DOC_PATH, EXAMPLES, main, render_markdown, sections, undocumented


def test_docs_are_up_to_date():
    assert DOC_PATH.exists(), "run `python -m gridhub.config_docs`"
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md differs from the models: run `python -m gridhub.config_docs`"
    )


def test_every_key_is_documented_with_its_section():
    text = render_markdown()
    paths = [p for p, _ in sections()]
    for top in ("name", "district_code", "feeds", "reference", "warehouse", "matching", "quality", "portal"):
        assert f"| `{top}` |" in text
    for p in (
        "feeds[]",
        "feeds[].source (kind: file)",
        "feeds[].source (kind: sql)",
        "reference",
        "warehouse.privacy",
        "quality",
        "portal",
        "portal.departments.<name>",
    ):
        assert p in paths
    assert "reference-data.md" in text


def test_gridhub_config_models_describe_every_field():
    assert [u for u in undocumented() if u.startswith("gridhub.")] == []


def test_check_mode_detects_drift(tmp_path):
    out = tmp_path / "configuration.md"
    assert main(["--out", str(out)]) == 0
    assert main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("district_code", "district"), encoding="utf-8")
    assert main(["--check", "--out", str(out)]) == 1


def test_examples_are_valid_configuration():
    top = ("", "feeds[]", "reference", "warehouse", "matching", "quality", "portal")
    raw: dict = {}
    for key in top:
        raw.update(yaml.safe_load(EXAMPLES[key]))
    cfg = WorkspaceConfig.model_validate(raw)
    assert cfg.reference.grids.columns["grid_name"] == "name"
    assert cfg.reference.addresses.path == "reference/standard_addresses.csv"
    source = yaml.safe_load(EXAMPLES["feeds[].source (kind: sql)"])["source"]
    assert (
        WorkspaceConfig.model_validate(
            {**raw, "portal": None, "feeds": [{**raw["feeds"][0], "source": source}]}
        )
        .feeds[0]
        .source.kind
        == "sql"
    )


def test_every_staging_field_a_feed_can_map_to_is_documented():
    """A city writes `columns:` from the docs alone: every canonical field is on the page, with its kind."""
    from warehouse.staging import STAGING_FIELDS

    page = render_markdown()
    section = page.split("## `feeds[].columns`: the staging fields", 1)[1].split("\n## ", 1)[0]
    for name, field in STAGING_FIELDS.items():
        assert f"| `{name}` | {field.kind.value} |" in section, name
