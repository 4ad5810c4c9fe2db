"""Property-based tests: the loader, the rules and the config parser under any input.

* Any byte string (and any JSON value, and any valid run with one part
  replaced by any JSON value) as a run file: the loader returns a run whose
  samples are all finite and positive, or raises ``ArtifactError``, which the
  store records in ``errors``. Nothing else ever escapes.
* Budget status and regression severity are monotonic in the value and
  agree with their thresholds.
* Any TOML table as a config: a ``Config`` or a ``ConfigError``, nothing else.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from perfslo_tui.config import ConfigError, load_config, parse_config
from perfslo_tui.runs.files import ArtifactError, RunFile, read_run
from perfslo_tui.runs.store import RunStore
from perfslo_tui.verdict.rules import (
    BudgetStatus,
    Severity,
    assess_regression,
    budget_status,
    violation_threshold,
)
from tests.hostile.hostile_cases import CASE_MS, good_document

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RUN_NAME = f"perf-fuzz-{CASE_MS}.json"


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder reused by every example (hypothesis forbids function-scoped tmp_path)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _load(folder: Path, data: bytes) -> RunFile | None:
    """Write ``data`` as a run file, load it both ways, and check the contract."""
    path = folder / RUN_NAME
    path.write_bytes(data)
    try:
        run = read_run(path)
    except ArtifactError as exc:
        assert exc.path == path and exc.problem
        run = None
    store = RunStore(folder)
    store.refresh()
    if run is None:
        assert set(store.errors) == {path} and store.table.height == 0
    else:
        assert store.errors == {} and set(store.table["run_id"].to_list()) == {RUN_NAME}
        for samples in run.samples.values():
            assert samples and all(math.isfinite(v) and v > 0 for v in samples)
    return run


@FAST
@given(data=st.binary(max_size=2048))
def test_any_bytes_load_or_fail_cleanly(scratch: Path, data: bytes) -> None:
    """Arbitrary bytes: an ArtifactError at worst."""
    _load(scratch, data)


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


def _dump(value: Any) -> bytes:
    # orjson refuses integers beyond 64 bits; the standard library writes them.
    import json

    return json.dumps(value).encode()


@FAST
@given(value=JSON_VALUES)
def test_any_json_value_loads_or_fails_cleanly(scratch: Path, value: Any) -> None:
    """Any JSON document at all."""
    _load(scratch, _dump(value))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc[:3]):
            found.extend(_paths(value, (*prefix, index)))
    return found


BASE_DOC = good_document(CASE_MS, {"transpile-simple": [0.5, 0.6, 0.7], "lua-emit": [1.0, 1.1]})
DOC_PATHS = _paths(BASE_DOC)


@FAST
@given(where=st.sampled_from(DOC_PATHS), value=JSON_VALUES, delete=st.booleans())
def test_a_valid_run_with_any_part_replaced(
    scratch: Path, where: tuple[Any, ...], value: Any, delete: bool
) -> None:
    """Every field of a real run file replaced by any JSON value (or removed)."""
    doc = copy.deepcopy(BASE_DOC)
    target = doc
    for key in where[:-1]:
        target = target[key]
    if delete:
        del target[where[-1]]
    else:
        target[where[-1]] = value
    run = _load(scratch, _dump(doc))
    if run is not None:
        assert run.timestamp_ms >= 0


@FAST
@given(cut=st.integers(min_value=0, max_value=len(orjson.dumps(BASE_DOC)) - 1))
def test_every_truncation_of_a_run_is_refused(scratch: Path, cut: int) -> None:
    """A killed writer can stop anywhere: no prefix of a run is half-loaded."""
    assert _load(scratch, orjson.dumps(BASE_DOC)[:cut]) is None


# ---------------------------------------------------------------- rules

VALUES = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
BUDGETS = st.floats(min_value=1e-4, max_value=1e6, allow_nan=False)
TOLERANCES = st.floats(min_value=0.001, max_value=0.49)
SEVERITY_ORDER = [Severity.IMPROVED, Severity.STABLE, Severity.WARNING, Severity.REGRESSION]
STATUS_ORDER = [BudgetStatus.PASS, BudgetStatus.DRIFT, BudgetStatus.VIOLATION]


@FAST
@given(a=VALUES, b=VALUES, budget=BUDGETS, tolerance=TOLERANCES)
def test_budget_status_is_monotonic_in_the_value(a: float, b: float, budget: float, tolerance: float) -> None:
    """A slower value is never in a better state."""
    low, high = sorted((a, b))
    first = budget_status(low, budget, tolerance)
    second = budget_status(high, budget, tolerance)
    assert STATUS_ORDER.index(first.status) <= STATUS_ORDER.index(second.status)
    assert first.percent_of_budget <= second.percent_of_budget


@FAST
@given(value=VALUES, budget=BUDGETS, tolerance=TOLERANCES)
def test_budget_status_agrees_with_its_thresholds(value: float, budget: float, tolerance: float) -> None:
    """PASS up to the budget, DRIFT up to budget x (1 + 2t), VIOLATION above (off the float-noise edge)."""
    check = budget_status(value, budget, tolerance)
    limit = violation_threshold(budget, tolerance)
    assume(abs(value - budget) > 1e-6 * budget and abs(value - limit) > 1e-6 * limit)
    if value < budget:
        expected = BudgetStatus.PASS
    elif value < limit:
        expected = BudgetStatus.DRIFT
    else:
        expected = BudgetStatus.VIOLATION
    assert check.status is expected
    assert check.percent_of_budget == pytest.approx(100 * value / budget)
    assert check.status.rank == STATUS_ORDER.index(check.status)


@FAST
@given(a=VALUES, b=VALUES, baseline=BUDGETS, tolerance=TOLERANCES)
def test_regression_severity_is_monotonic(a: float, b: float, baseline: float, tolerance: float) -> None:
    """A slower current value never gets a better severity against the same baseline."""
    low, high = sorted((a, b))
    first = assess_regression(baseline, low, tolerance)
    second = assess_regression(baseline, high, tolerance)
    assert SEVERITY_ORDER.index(first.severity) <= SEVERITY_ORDER.index(second.severity)
    assert first.change <= second.change


@FAST
@given(current=VALUES, baseline=BUDGETS, tolerance=TOLERANCES)
def test_regression_severity_agrees_with_its_thresholds(
    current: float, baseline: float, tolerance: float
) -> None:
    """IMPROVED at -t or better, STABLE inside ±t, WARNING up to 2t, REGRESSION beyond."""
    check = assess_regression(baseline, current, tolerance)
    change = (current - baseline) / baseline
    assert check.change == pytest.approx(change)
    assume(all(abs(change - edge) > 1e-6 for edge in (-tolerance, tolerance, 2 * tolerance)))
    if change < -tolerance:
        expected = Severity.IMPROVED
    elif change < tolerance:
        expected = Severity.STABLE
    elif change < 2 * tolerance:
        expected = Severity.WARNING
    else:
        expected = Severity.REGRESSION
    assert check.severity is expected


# ---------------------------------------------------------------- config

TOML_LEAVES = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 1, 1))
    | st.dates()
)
TOML_VALUES = st.recursive(
    TOML_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KNOWN = [
    "artifacts_dir", "bench_command", "trend_days", "confirm_runs", "keep_runs", "history_runs", "rename"
]
SLO_KEYS = ["budget", "tolerance", "description", "command", "warmup", "runs"]
SLO_TABLES = st.dictionaries(st.sampled_from(SLO_KEYS) | st.text(max_size=6), TOML_VALUES, max_size=6)
TABLES = st.fixed_dictionaries(
    {},
    optional={
        **{key: TOML_VALUES for key in KNOWN},
        "slos": st.dictionaries(st.text(max_size=12), SLO_TABLES | TOML_VALUES, max_size=4),
    },
) | st.dictionaries(st.text(max_size=12), TOML_VALUES, max_size=4)


@FAST
@given(table=TABLES)
@example(table={"artifacts_dir": "art\x00ifacts"})  # found by hand: pathlib raised ValueError
@example(table={"slos": {"": {"budget": 1}}})
@example(table={"slos": {"a": {"budget": float("nan")}}})
@example(table={"slos": {"a": {"budget": 1, "tolerance": float("inf")}}})
@example(table={"rename": {"a": 1}})
def test_any_config_table_parses_or_raises_config_error(table: dict[str, Any]) -> None:
    """Known keys with any values, unknown keys, odd SLO tables: a Config or a ConfigError."""
    path = Path("/nonexistent/proj/perfslo.toml")
    try:
        config = parse_config(table, path)
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith(str(path)) and "\n" not in text.strip()
        return
    for slo in config.slos.values():
        assert math.isfinite(slo.budget_ms) and slo.budget_ms > 0 and 0 < slo.tolerance < 1


@FAST
@given(text=st.text(max_size=300))
def test_any_text_as_perfslo_toml(scratch: Path, text: str) -> None:
    """Any file content: a Config or one ConfigError line."""
    path = scratch / "perfslo.toml"
    path.write_text(text)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        with pytest.raises(ConfigError, match="invalid TOML"):
            load_config(path)
        return
    try:
        load_config(path)
    except ConfigError:
        pass


EXTREME_CONFIG = """\
trend_days = 1000000000000000000
confirm_runs = 1000000000000000000
keep_runs = 1000000000000000000
history_runs = 1000000000000000000

[slos.tiny]
budget = 1e-300
tolerance = 0.999999

[slos.huge]
budget = 1e300
tolerance = 1e-9

[slos."[bold red]budgeted[/]"]
budget = 0.5
description = "\\u001b[31m<b>desc</b>"
"""


def test_extreme_but_valid_config_values_do_not_crash_check(tmp_path: Path) -> None:
    """Valid config at the edges (huge windows and streaks, tiny and huge budgets)."""
    import subprocess

    from tests.conftest import make_run, run_cli

    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(EXTREME_CONFIG)
    values = {"tiny": 0.5, "huge": 0.5, "[bold red]budgeted[/]": 0.4}
    for i in range(3):
        make_run(root / "artifacts", values, ts_ms=CASE_MS + i * 3_600_000, spread=0.01)
    for fmt in ("text", "markdown", "json"):
        result = run_cli("check", "--format", fmt, cwd=root)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 1), result.stderr
        assert "\x1b" not in result.stdout
    report = orjson.loads(result.stdout)
    assert {slo["name"] for slo in report["slos"]} == set(values)
