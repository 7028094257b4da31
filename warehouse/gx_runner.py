"""Great Expectations, imported lazily: gridhub's custom expectations and running one suite per table.

Great Expectations is imported inside functions only (about 2.5 s, once per process, :func:`load_gx`); its
loggers and progress bars are silenced. Referential integrity is the custom ``ColumnMapExpectation``
``expect_column_values_to_reference_keys``, whose metric looks the referenced key set up by name
(``"house.house_id"``) in the sets :func:`reference_keys` registers for the duration of one validation; the
check itself is one vectorised ``isin``. The check digits are custom expectations too (:mod:`warehouse.codes`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.expectations import Check
from warehouse.schema import TABLES
from warehouse.tablefiles import table_column
from warehouse.validation_report import EXAMPLES, ExpectationOutcome, outcome_of

_REFERENCE_KEYS: dict[str, pa.Array] = {}
_REFERENCE_LOCK = threading.Lock()


@cache
def load_gx() -> SimpleNamespace:
    """Import GX once, silence it, and define gridhub's three custom expectations.

    Returns ``gx`` (the module) and ``classes`` (expectation name → expectation class).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.execution_engine import pandas_execution_engine

    _quiet_gx()
    # GX fingerprints every in-memory DataFrame under 1 GB (md5 over pandas' row hashes) for a batch marker
    # that nothing here reads: a quarter of the validation time at 10⁶ rows. A threshold of 0 skips it.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    custom, providers = _custom_expectations()
    builtin = {
        "expect_column_values_to_not_be_null": gxe.ExpectColumnValuesToNotBeNull,
        "expect_column_values_to_be_unique": gxe.ExpectColumnValuesToBeUnique,
        "expect_compound_columns_to_be_unique": gxe.ExpectCompoundColumnsToBeUnique,
        "expect_column_values_to_match_regex": gxe.ExpectColumnValuesToMatchRegex,
        "expect_column_values_to_be_in_set": gxe.ExpectColumnValuesToBeInSet,
        "expect_column_values_to_be_between": gxe.ExpectColumnValuesToBeBetween,
        "expect_table_row_count_to_be_between": gxe.ExpectTableRowCountToBeBetween,
    }
    return SimpleNamespace(gx=gx, classes={**builtin, **custom}, _keep=providers)


def _custom_expectations() -> tuple[dict[str, Any], tuple[Any, ...]]:
    """gridhub's expectations (check digits, referential integrity) and the metric providers behind them."""
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnMapMetricProvider,
        column_condition_partial,
    )

    from warehouse.codes import credit_code_valid, resident_id_valid

    def _mask_of(fn, column: pd.Series) -> pd.Series:
        ok = fn(pa.array(column, type=pa.large_string(), from_pandas=True))
        return pd.Series(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), index=column.index)

    class ColumnValuesValidResidentId(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_valid_resident_id"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return _mask_of(resident_id_valid, column)

    class ColumnValuesValidCreditCode(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_valid_credit_code"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return _mask_of(credit_code_valid, column)

    class ColumnValuesReferenceKeys(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_reference_keys"
        condition_value_keys = ("reference",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, reference, **kwargs):
            keys = _REFERENCE_KEYS.get(reference)
            if keys is None:
                raise KeyError(f"no key set registered for {reference}")
            # pc.is_in directly: pandas' ArrowStringArray.isin builds its value set one scalar at a time
            values = pa.array(column, type=pa.large_string(), from_pandas=True)
            found = pc.is_in(values, value_set=keys)
            return pd.Series(pc.fill_null(found, True).to_numpy(zero_copy_only=False), index=column.index)

    class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
        """Values are 18-character resident ID numbers whose GB 11643 check digit is right."""

        map_metric = "column_values.gridhub_valid_resident_id"
        success_keys = ("mostly",)

    class ExpectColumnValuesToBeValidCreditCode(ColumnMapExpectation):
        """Values are unified social credit codes whose GB 32100 check character is right."""

        map_metric = "column_values.gridhub_valid_credit_code"
        success_keys = ("mostly",)

    class ExpectColumnValuesToReferenceKeys(ColumnMapExpectation):
        """Every non-null value exists as a key of the referenced ``table.column``."""

        reference: str
        map_metric = "column_values.gridhub_reference_keys"
        success_keys = ("reference", "mostly")

    custom = {
        "expect_column_values_to_be_valid_resident_id": ExpectColumnValuesToBeValidResidentId,
        "expect_column_values_to_be_valid_credit_code": ExpectColumnValuesToBeValidCreditCode,
        "expect_column_values_to_reference_keys": ExpectColumnValuesToReferenceKeys,
    }
    providers = (ColumnValuesValidResidentId, ColumnValuesValidCreditCode, ColumnValuesReferenceKeys)
    return custom, providers


def _quiet_gx() -> None:
    """GX logs at INFO from many modules and sets some of their levels itself: raise them all to ERROR."""
    for name in list(logging.root.manager.loggerDict):
        if name == "great_expectations" or name.startswith("great_expectations."):
            logging.getLogger(name).setLevel(logging.ERROR)


def _context(gx: Any) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def reference_keysets(tables: Mapping[str, pa.Table]) -> dict[str, pa.Array]:
    """The distinct non-null keys of every ``table.column`` some column ``references``, as large strings."""
    keysets: dict[str, pa.Array] = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.references and c.references not in keysets:
                ref_table, ref_col = c.references.split(".")
                keys = pc.unique(table_column(tables, ref_table, ref_col).drop_null())
                keysets[c.references] = (
                    keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
                ).cast(pa.large_string())
    return keysets


@contextmanager
def reference_keys(keysets: dict[str, pa.Array]) -> Iterator[None]:
    """Make ``keysets`` the key sets ``expect_column_values_to_reference_keys`` looks up, inside the block (one
    validation at a time per process)."""
    with _REFERENCE_LOCK:
        _REFERENCE_KEYS.clear()
        _REFERENCE_KEYS.update(keysets)
        try:
            yield
        finally:
            _REFERENCE_KEYS.clear()


def pandas_source(ns: SimpleNamespace) -> tuple[Any, Any]:
    """A fresh ephemeral GX context and the batch definition of its one pandas data asset, which every suite's
    frames go through (a frame is a batch parameter). One asset per suite cost time that grew with the number
    of suites: GX copies the data source's whole configuration for each asset added."""
    ctx = _context(ns.gx)
    asset = ctx.data_sources.add_pandas("gridhub_warehouse").add_dataframe_asset(name="frames")
    return ctx, asset.add_batch_definition_whole_dataframe("whole")


def run_suite(
    ns: SimpleNamespace,
    ctx: Any,
    source: Any,
    name: str,
    frames: Iterable[pd.DataFrame],
    checks: list[Check],
) -> list[list[ExpectationOutcome]]:
    """Validate each of ``frames`` with the suite ``gridhub.<name>`` made of ``checks``, one Great Expectations
    run per frame (``source``: the batch definition of :func:`pandas_source`); per check, its outcome in every
    frame (in frame order)."""
    suite = ns.gx.ExpectationSuite(name=f"gridhub.{name}")
    for i, check in enumerate(checks):
        cls = ns.classes[check.expectation]
        suite.add_expectation(cls(**check.kwargs, meta={"check": i}))
    suite = ctx.suites.add(suite)
    outcomes: list[list[ExpectationOutcome]] = [[] for _ in checks]
    for frame in frames:
        res = source.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite,
            result_format={"result_format": "BASIC", "partial_unexpected_count": EXAMPLES * 4},
        )
        by_check = {r.expectation_config.meta["check"]: r for r in res.results}
        for i, check in enumerate(checks):
            outcomes[i].append(outcome_of(check, by_check[i]))
    return outcomes


def used_columns(checks: list[Check], key: tuple[str, ...]) -> list[str]:
    """The columns some check reads, the key first (only these go to pandas: lists and floats stay out)."""
    used: list[str] = list(key)
    for c in checks:
        for name in c.kwargs.get("column_list", [c.kwargs.get("column")]):
            if name and name not in used:
                used.append(name)
    return used
