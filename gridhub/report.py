"""The run summary a data engineer reads after ``make demo`` (and the resolve DAG's last task logs).

It is computed from what the run left on disk — the raw manifest, staging, quarantine, the published
snapshot and the ground truth where there is one — never from counters kept in memory, so it tells the truth
about the workspace whichever process ran the steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from connectors.text import display_width
from gridhub.pipeline import bindings_path
from gridhub.quality import (
    accuracy_of,
    address_accuracy_by,
    address_outcomes,
    code_conflicts,
    entity_scores,
    legal_rep_links,
    merged_pairs,
    optional_field_quarantine,
    read_truth,
    read_truth_file,
)
from gridhub.workspace import Workspace
from warehouse.files import atomic_write_text
from warehouse.reasons import describe
from warehouse.schema import ENTITY_TYPES  # each entity type's warehouse table is named after it


def _feed_rows(ws: Workspace) -> pd.DataFrame:
    from connectors import load_quarantine, raw_manifest

    manifest = raw_manifest(ws)
    quarantine = load_quarantine(ws)
    rows = []
    for feed in ws.config.feeds:
        read = staged = 0
        if manifest is not None and len(manifest):
            m = manifest[(manifest["feed"] == feed.name)]
            read = int(
                pd.to_numeric(m.get("rows_read", pd.Series(dtype=int)), errors="coerce").fillna(0).sum()
            )
            staged = int(
                pd.to_numeric(m.get("rows_staged", pd.Series(dtype=int)), errors="coerce").fillna(0).sum()
            )
        q = quarantine[quarantine["feed"] == feed.name] if len(quarantine) else quarantine
        reasons = q["reason_code"].value_counts().to_dict() if len(q) else {}
        rows.append(
            {
                "feed": feed.name,
                "department": feed.department,
                "rows_read": read,
                "rows_staged": staged,
                "rows_quarantined": int(q[["raw_sha256", "line"]].drop_duplicates().shape[0])
                if len(q)
                else 0,
                "quarantine_reasons": reasons,
            }
        )
    return pd.DataFrame(rows)


def build_summary(ws: Workspace) -> dict:
    """Everything the demo prints, as a JSON-able dict."""
    from warehouse import current_manifest, read_table
    from warehouse.read import snapshot_path

    wh = ws.warehouse
    manifest = current_manifest(wh)
    summary: dict = {
        "workspace": str(ws.root),
        "warehouse": str(wh),
        "feeds": _feed_rows(ws).to_dict("records"),
    }
    if manifest is None:
        summary["published"] = False
        return summary
    summary["published"] = True
    summary["snapshot"] = manifest.get("run_id")
    summary["snapshot_path"] = manifest.get("path") or str(snapshot_path(wh, str(manifest.get("run_id"))))
    summary["data_docs"] = manifest.get("data_docs")
    summary["validation"] = manifest.get("validation", {"success": True})
    summary["row_counts"] = manifest.get("row_counts", {})
    summary["entities"] = {t: summary["row_counts"].get(t) for t in ENTITY_TYPES}

    layer = "restricted"
    xref = read_table(wh, "source_xref", layer=layer).to_pandas()
    bindings = read_table(wh, "address_review", layer=layer).to_pandas()
    work_bindings = bindings_path(ws, str(manifest.get("run_id")))
    if work_bindings.exists():
        bindings = pq.read_table(work_bindings).to_pandas()
        n = len(bindings)
        summary["address_binding_rate"] = float((bindings["status"] == "matched").mean()) if n else None
    entities_with_grid = {}
    for t in ENTITY_TYPES:
        df = read_table(wh, t, layer=layer).to_pandas()
        entities_with_grid[t] = float(df["grid_code"].notna().mean()) if len(df) else None
    summary["grid_binding_rate"] = entities_with_grid

    truth_dir = ws.truth
    if truth_dir and truth_dir.exists():
        # the truth covers every feed of the sample district; a feed that has not been ingested yet has lost
        # nothing, so only the records of feeds that have been read are compared
        ingested = {f["feed"] for f in summary["feeds"] if f["rows_read"]}
        records, addresses = read_truth(truth_dir)
        if records is not None:
            records = records[records["feed"].isin(ingested)]
            summary["quality"] = entity_quality(xref, records)
            relations = read_table(wh, "person_organisation", layer=layer).to_pandas()
            summary["resolution_checks"] = resolution_checks(ws, truth_dir, xref, records, relations)
        if addresses is not None and work_bindings.exists():
            addresses = addresses[addresses["feed"].isin(ingested)]
            library = read_table(wh, "address", layer=layer).to_pandas()
            summary.update(_address_accuracy(bindings, addresses, library))
    return summary


def resolution_checks(
    ws: Workspace, truth_dir: Path, xref: pd.DataFrame, records: pd.DataFrame, relations: pd.DataFrame
) -> dict:
    """Issue #12's checks against the truth: look-alike pairs merged, one valid identifier per entity, legal
    representatives linked, rows quarantined for an optional field (see :mod:`gridhub.quality`)."""
    from connectors import load_quarantine

    out: dict = {"truth": str(truth_dir)}
    pairs = read_truth_file(truth_dir, "hard_negatives")
    if pairs is not None:
        out["look_alike_pairs"] = merged_pairs(xref, records, pairs)
    codes = read_truth_file(truth_dir, "codes")
    if codes is not None:
        out["person_ids"] = code_conflicts(xref, codes, "person")
        out["organisation_credit_codes"] = code_conflicts(xref, codes, "organisation")
    orgs = read_truth_file(truth_dir, "organisations")
    if orgs is not None and "legal_rep_key" in orgs.columns:
        # only organisations a feed names a legal representative for (市场监管: not 机关 / 事业单位)
        with_rep = {f.name for f in ws.config.feeds if "legal_rep" in f.columns.values()}
        named = records.loc[records["feed"].isin(with_rep) & (records["entity_type"] == "organisation")]
        orgs = orgs[orgs["org_key"].isin(named["entity_key"])]
        out["legal_representatives"] = legal_rep_links(xref, records, orgs, relations)
    allowed = {
        f.name: {f.record_id, *f.required, *(h for h, c in f.columns.items() if c in f.required)}
        for f in ws.config.feeds
    }
    out["optional_field_quarantine"] = optional_field_quarantine(load_quarantine(ws), allowed)
    return out


#: The written forms the summary prints a line for when the truth records them (all are in the JSON).
PRINTED_FORMS = {
    "community_committee": "居委会 / 村委会 form (湖滨居委会, 石岭村民委员会 …)",
    "community_short": "community by name only (湖滨)",
    "community_omitted": "community left out (东湖街道滨江路…)",
    "road_typo": "homophone typo in the road (宾江路 for 滨江路)",
    "estate_inserted": "estate the library does not name (…11号桂园小区3栋…)",
}


def _address_accuracy(bindings: pd.DataFrame, truth: pd.DataFrame, library: pd.DataFrame) -> dict:
    """Address accuracy against the truth: overall, per address field and per written form."""
    outcomes = address_outcomes(bindings, truth, library)
    by_field = address_accuracy_by(outcomes, "field")
    by_form = address_accuracy_by(outcomes, "forms")
    overall = accuracy_of(outcomes)
    return {
        "address_accuracy": overall.as_dict(),
        "address_accuracy_by_field": {k: v.as_dict() for k, v in by_field.items()},
        "address_accuracy_by_form": {k: v.as_dict() for k, v in by_form.items()},
    }


def _accuracy_rows(label: str, acc: dict) -> list:
    return [
        label,
        acc["fields"],
        _pct(acc["correct_rate"]),
        _pct(acc["unmatched_rate"]),
        _pct(acc["wrong_rate"]),
    ]


def _accuracy_tables(s: dict) -> list[str]:
    """Per address field and per planted written form: correct / unmatched / wrong shares."""
    parts = []
    headers = ["fields", "correct (building or finer)", "unmatched", "confidently wrong"]
    by_field = s.get("address_accuracy_by_field") or {}
    if by_field:
        rows = [_accuracy_rows(k, v) for k, v in by_field.items()]
        parts += ["", "Address accuracy per field", _table(rows, ["field", *headers])]
    by_form = s.get("address_accuracy_by_form") or {}
    printed = [k for k in PRINTED_FORMS if k in by_form]
    if printed:
        rows = [_accuracy_rows(f"{k}: {PRINTED_FORMS[k]}", by_form[k]) for k in printed]
        parts += [
            "",
            "Address accuracy per written form (fields written in that form; every form is in the summary JSON)",
            _table(rows, ["form", *headers]),
        ]
    return parts


def entity_quality(xref: pd.DataFrame, records: pd.DataFrame) -> dict[str, dict]:
    """Pairwise scores per entity type of ``source_xref`` against the truth's ``records``.

    An entity type without mentions in ``source_xref`` (its feeds have not arrived, or all its rows were
    quarantined) has no clustering to score: scoring one would give a precision of 1 and a recall of 0 that
    say nothing. It gets ``mentions: 0``, the number of truth records it has, and no precision / recall / F1.
    """
    mentions = xref["entity_type"].value_counts()
    scores = entity_scores(xref, records)
    out: dict[str, dict] = {}
    for t in ENTITY_TYPES:
        n = int(mentions.get(t, 0))
        if n == 0:
            out[t] = {
                "entity_type": t,
                "records": int((records["entity_type"] == t).sum()),
                "mentions": 0,
                "precision": None,
                "recall": None,
                "f1": None,
            }
        elif t in scores:
            out[t] = {**scores[t].as_dict(), "mentions": n}
    return out


def _f1(q: dict, t: str) -> str:
    v = (q.get(t) or {}).get("f1")
    return "-" if v is None else f"{v:.4f}"


def checks_rows(s: dict) -> list[list]:
    """The rows of the resolution-checks table: what, measured value, target."""
    c = s.get("resolution_checks") or {}
    q = s.get("quality") or {}
    rows: list[list] = [["person F1 (all person mentions)", _f1(q, "person"), ">= 0.995"]]
    names = {
        "twins": "twin pairs merged into one person",
        "same_name_birth": "namesake pairs (同名同生日) merged",
    }
    for kind, v in (c.get("look_alike_pairs") or {}).items():
        rows.append([names.get(kind, f"{kind} pairs merged"), f"{v['merged']} of {v['pairs']}", "0"])
    ids = c.get("person_ids")
    if ids:
        rows.append(
            [
                "persons holding two different valid IDs",
                f"{ids['entities_with_several_codes']} ({ids['record_pairs_with_different_codes']} record pairs)",
                "0",
            ]
        )
    rows.append(["organisation F1", _f1(q, "organisation"), ">= 0.99"])
    cc = c.get("organisation_credit_codes")
    if cc:
        rows.append(
            ["credit codes found in more than one organisation", cc["codes_in_several_entities"], "0"]
        )
        rows.append(
            ["organisations holding more than one credit code", cc["entities_with_several_codes"], "0"]
        )
    rows.append(["house F1 (all house mentions, derived included)", _f1(q, "house"), ">= 0.99"])
    lr = c.get("legal_representatives")
    if lr:
        rows.append(
            [
                "legal representatives linked to the right person",
                f"{_pct(lr['rate'])} ({lr['linked_right']} of {lr['organisations']}"
                + (" in a person feed)" if "not_in_person_feeds" in lr else ")"),
                ">= 95%",
            ]
        )
        if "not_in_person_feeds" in lr:  # representatives no person feed lists (living outside)
            rows.append(
                [
                    "legal representatives in no person feed, linked to someone",
                    f"{lr['not_in_person_feeds_linked']} of {lr['not_in_person_feeds']}",
                    "0",
                ]
            )
        if lr.get("precision") is not None:  # every link, right or not: how far a link can be trusted
            wrong = lr["linked_wrong_only"] + lr.get("not_in_person_feeds_linked", 0)
            rows.append(
                [
                    "legal representative links to a wrong person",
                    f"{wrong} of {lr['linked_right'] + wrong} (precision {lr['precision']:.4f})",
                    "0",
                ]
            )
    oq = c.get("optional_field_quarantine")
    if oq is not None:
        rows.append(["rows quarantined for an optional field", oq["rows"], "0"])
    return rows


def _checks_table(s: dict) -> list[str]:
    c = s.get("resolution_checks")
    if not c:
        return []
    return [
        "",
        f"Resolution checks (issue #12) against the ground truth in {c['truth']} (records, hard_negatives, "
        "codes, organisations) and the quarantine table",
        _table(checks_rows(s), ["check", "value", "target"]),
    ]


def _table(rows: list[list], headers: list[str]) -> str:
    """A plain-text table whose columns line up in a terminal, whatever mix of Chinese and ASCII it holds."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(headers))]
    line = "-+-".join("-" * w for w in widths)  # "+" under each " | " of the rows
    out = []
    for i, r in enumerate(cells):
        out.append(" | ".join(c + " " * (widths[j] - display_width(c)) for j, c in enumerate(r)))
        if i == 0:
            out.append(line)
    return "\n".join(out)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def resolution_row(t: str, v: dict) -> list:
    """One row of the entity-resolution table; a type without mentions says so instead of scores."""
    if v.get("mentions") == 0:
        why = (
            f"no mentions: none of its {v['records']} records in the ingested feeds reached the warehouse"
            if v["records"]
            else "no mentions: no feed carrying it has been ingested yet"
        )
        return [t, v["records"], "-", "-", "-", why]
    note = ""
    if v.get("true_pairs") == 0:
        # every record is its own entity in the truth: there is no recall to speak of, and precision over a
        # handful of predicted pairs says "how many false pairs", which is what the note gives
        fp = v.get("predicted_pairs", 0) - v.get("true_positive_pairs", 0)
        if fp:
            note = f"no duplicates in the truth: {fp} false pair{'s' if fp != 1 else ''}"
    return [t, v["records"], f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", note]


def format_summary(s: dict) -> str:
    """The summary as plain-text tables."""
    parts = [f"gridhub summary — workspace {s['workspace']}", ""]
    feed_rows = [
        [
            f["feed"],
            f["department"],
            f["rows_read"],
            f["rows_staged"],
            f["rows_quarantined"],
            ", ".join(f"{describe(k)}({k}) {v}" for k, v in sorted(f["quarantine_reasons"].items())) or "-",
        ]
        for f in s["feeds"]
    ]
    parts.append("Feeds in")
    parts.append(
        _table(feed_rows, ["feed", "部门", "rows read", "staged", "quarantined", "quarantine reasons"])
    )
    parts.append("")
    if not s.get("published"):
        parts.append("Nothing published yet.")
        return "\n".join(parts)
    ent = s.get("entities", {})
    grid = s.get("grid_binding_rate", {})
    parts.append("Entities out")
    parts.append(
        _table(
            [[t, ent.get(t), _pct(grid.get(t))] for t in ENTITY_TYPES],
            ["entity", "count", "grid binding rate"],
        )
    )
    parts.append("")
    parts.append(
        f"Address binding rate (address fields bound to the standard library): {_pct(s.get('address_binding_rate'))}"
    )
    acc = s.get("address_accuracy")
    if acc:
        parts.append(
            f"Address accuracy vs truth: correct at building level or finer {_pct(acc['correct_rate'])}, "
            f"unmatched {_pct(acc['unmatched_rate'])}, confidently wrong {_pct(acc['wrong_rate'])} "
            f"({acc['fields']} fields; {acc['outside_library']} outside the library, {acc['outside_bound']} of them bound)"
        )
        parts += _accuracy_tables(s)
    q = s.get("quality")
    if q:
        parts.append("")
        parts.append("Entity resolution vs ground truth (pairwise)")
        rows = [resolution_row(t, v) for t, v in sorted(q.items())]
        headers = ["entity", "records", "precision", "recall", "F1", "note"]
        if not any(r[-1] for r in rows):
            rows, headers = [r[:-1] for r in rows], headers[:-1]
        parts.append(_table(rows, headers))
        parts += _checks_table(s)
    v = s.get("validation") or {}
    parts.append("")
    parts.append(
        f"Validation (Great Expectations): {'PASSED' if v.get('success', True) else 'FAILED'}"
        + (f" — {v.get('expectations', '')} expectations" if v.get("expectations") else "")
    )
    parts.append(f"Warehouse snapshot: {s.get('snapshot')} at {s.get('snapshot_path')}")
    parts.append(f"Current warehouse: {s['warehouse']}")
    if s.get("data_docs"):
        parts.append(f"Data Docs: {s['data_docs']}")
    return "\n".join(parts)


def write_summary(ws: Workspace, path: Path | None = None) -> tuple[dict, Path]:
    s = build_summary(ws)
    path = path or ws.summary_file
    atomic_write_text(path, json.dumps(s, ensure_ascii=False, indent=2, default=str))
    return s, path
