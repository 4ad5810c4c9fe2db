"""SLO configuration: ``perfslo.toml`` or ``[tool.perfslo]`` in ``pyproject.toml``.

Discovery walks from the current directory upward and stops at the repository
root (the first folder holding ``.git``); outside a git repository only the
current directory is considered, so a config file in some parent folder
outside the project is never picked up. In one folder ``perfslo.toml`` wins
over ``pyproject.toml``: a dedicated file is the more explicit statement.

Example::

    [tool.perfslo]
    artifacts_dir = "artifacts"
    bench_command = "python -m mybench --slo {slo}"
    trend_days = 30
    confirm_runs = 3
    baseline_max_age_days = 30     # warn when the baseline is older
    baseline_max_commits = 200     # ... or this many commits behind

    [tool.perfslo.slos.transpile-simple]
    budget = 0.85          # ms
    target = 0.7           # ms: a goal under the budget (target_instructions, target_mb)
    tolerance = 0.05       # ±5 %
    description = "Single var declaration"

In ``perfslo.toml`` the same keys sit at the top level (no ``[tool.perfslo]``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfslo_tui.verdict.rules import DEFAULT_TOLERANCE

DEDICATED_FILE = "perfslo.toml"
PYPROJECT_FILE = "pyproject.toml"

_GLOBAL_KEYS = {
    "artifacts_dir",
    "bench_command",
    "bench_setup",
    "trend_days",
    "confirm_runs",
    "keep_runs",
    "history_runs",
    "instructions_timeout",
    "baseline_max_age_days",
    "baseline_max_commits",
    "profile_command",
    "slos",
    "rename",
    "history_url",
}
_SLO_KEYS = {
    "budget",
    "tolerance",
    "description",
    "command",
    "warmup",
    "runs",
    "metric",
    "budget_instructions",
    "tolerance_instructions",
    "budget_mb",
    "tolerance_memory",
    "target",
    "target_instructions",
    "target_mb",
    "profile_command",
}
# Each metric's budget and target keys in an SLO's table (``budget`` is time in ms).
BUDGET_KEYS = {"time": "budget", "instructions": "budget_instructions", "peak_memory": "budget_mb"}
TARGET_KEYS = {"time": "target", "instructions": "target_instructions", "peak_memory": "target_mb"}
# What an SLO can measure, and the unit of each metric's samples and budget.
METRIC_UNITS = {"time": "ms", "instructions": "instructions", "peak_memory": "MB"}
# Instruction counts repeat to ~0.01 % on the same code, but a process's
# allocation history moves them by 0.2–0.7 % (docs/instructions.md): a
# regression is past twice this.
DEFAULT_INSTRUCTIONS_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class MetricBudget:
    """One metric an SLO measures, with its budget and tolerance.

    Attributes:
        metric: ``time``, ``instructions`` or ``peak_memory``.
        budget: The budget in the metric's unit (ms, instructions per call,
            MB), or None when the metric is measured without a budget.
        tolerance: The tolerance as a fraction.
        target: A goal under the budget in the same unit (``target``,
            ``target_instructions``, ``target_mb``), or None.
    """

    metric: str
    budget: float | None
    tolerance: float
    target: float | None = None

    @property
    def unit(self) -> str:
        """The unit of the metric's samples and budget."""
        return METRIC_UNITS[self.metric]


class ConfigError(Exception):
    """A configuration problem, rendered as one line naming file, key and problem."""

    def __init__(self, path: Path | None, key: str | None, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.path) if self.path else "<config>"
        if self.key:
            # TOML allows any character in a quoted key: keep the message on one line.
            key = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in self.key)
            return f"{where}: {key}: {self.problem}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class SLOConfig:
    """One SLO: a benchmark with a time budget (and optionally other metrics).

    Attributes:
        name: The SLO's name (the benchmark key in run files).
        budget_ms: The time budget in milliseconds (NaN when the SLO does
            not measure time).
        tolerance: The tolerance as a fraction (0.05 is ±5 %).
        description: Free text shown beside the name.
        command: Optional shell command timed as a whole (command benchmarks).
        warmup: Warm-up runs of ``command`` before timing.
        runs: Timed runs of ``command``.
        metrics: What it measures, the first being the one shown by
            default: ``time`` unless ``metric`` says otherwise.
        budget_instructions: The instruction budget (per call), if any.
        tolerance_instructions: The tolerance on instruction counts.
        budget_mb: The peak-memory budget in MB, if any.
        tolerance_memory: The tolerance on peak memory.
        target_ms: The time target (``target``) in ms, if any.
        target_instructions: The instruction target, if any.
        target_mb: The peak-memory target in MB, if any.
        profile_command: The command that profiles this SLO (wins over the
            config's ``profile_command``), with ``{output}``.
    """

    name: str
    budget_ms: float
    tolerance: float = DEFAULT_TOLERANCE
    description: str = ""
    command: str | None = None
    warmup: int = 1
    runs: int = 10
    metrics: tuple[str, ...] = ("time",)
    budget_instructions: float | None = None
    tolerance_instructions: float = DEFAULT_INSTRUCTIONS_TOLERANCE
    budget_mb: float | None = None
    tolerance_memory: float = DEFAULT_TOLERANCE
    target_ms: float | None = None
    target_instructions: float | None = None
    target_mb: float | None = None
    profile_command: str | None = None

    def metric_budgets(self) -> tuple[MetricBudget, ...]:
        """Each metric this SLO measures with its budget, the default one first."""
        time_budget = self.budget_ms if "time" in self.metrics else None
        instructions = self.budget_instructions
        budgets = {
            "time": MetricBudget("time", time_budget, self.tolerance, self.target_ms),
            "instructions": MetricBudget(
                "instructions", instructions, self.tolerance_instructions, self.target_instructions
            ),
            "peak_memory": MetricBudget("peak_memory", self.budget_mb, self.tolerance_memory, self.target_mb),
        }
        return tuple(budgets[m] for m in self.metrics)


@dataclass(frozen=True, slots=True)
class Config:
    """The project's perfslo configuration.

    Attributes:
        path: The file it was read from, or None for the built-in defaults.
        root: The folder relative paths are resolved against.
        slos: The SLOs by name, in file order.
        artifacts_dir: Where run files and the baseline live.
        bench_command: The shell command that (re)runs the benchmarks; may
            contain ``{slo}`` to run a single SLO.
        bench_setup: The shell command that prepares a git worktree of
            another commit for the bench command (``perfslo compare``), e.g.
            ``npm ci`` or a venv install; ``{worktree}`` is its quoted path.
        trend_days: The trend window in days.
        confirm_runs: Consecutive runs a violation or regression must be seen
            in before it blocks the gate.
        keep_runs: Latest runs ``perfslo prune`` always keeps.
        history_runs: Recent runs used to estimate run-to-run noise.
        rename: Source benchmark name -> SLO name, for importers.
        instructions_timeout: Seconds one instruction count may take under
            valgrind before it is refused or stopped.
        baseline_max_age_days: Warn when the baseline was established more
            than this many days before the evaluated run (None: never).
        baseline_max_commits: Warn when the evaluated run's commit is more
            than this many commits after the baseline's (None: never).
        profile_command: The shell command that profiles one SLO (``{slo}``)
            into a file (``{output}``), for benchmarks perfslo's harness does
            not run (``node --cpu-prof``, ``py-spy record``, ``perf record``).
        history_url: The shared history's ``postgresql://`` URL (never with
            a password), or None: the artifacts folder is the history.
            ``PERFSLO_DATABASE_URL`` in the environment wins over it.
    """

    path: Path | None
    root: Path
    slos: Mapping[str, SLOConfig] = field(default_factory=dict)
    artifacts_dir: Path = Path("artifacts")
    bench_command: str | None = None
    bench_setup: str | None = None
    trend_days: int = 30
    confirm_runs: int = 3
    keep_runs: int = 20
    history_runs: int = 20
    rename: Mapping[str, str] = field(default_factory=dict)
    instructions_timeout: float = 300.0
    baseline_max_age_days: float | None = None
    baseline_max_commits: int | None = None
    profile_command: str | None = None
    history_url: str | None = None

    @property
    def baseline_path(self) -> Path:
        """Where the baseline lives: ``<artifacts>/.perf-baseline.json``."""
        return self.artifacts_dir / ".perf-baseline.json"

    def with_artifacts_dir(self, artifacts_dir: Path) -> Config:
        """Return a copy that reads and writes another artifacts folder."""
        return dataclasses.replace(self, artifacts_dir=artifacts_dir)


def find_config_file(start: Path | None = None) -> Path | None:
    """Find the config file from ``start`` upward, stopping at the repo root.

    Args:
        start: The folder to start from (default: the current directory).

    Returns:
        The ``perfslo.toml`` or ``pyproject.toml`` (with a ``[tool.perfslo]``
        table) that applies, or None.
    """
    here = (start or Path.cwd()).resolve()
    folders = [here, *here.parents]
    if not any((folder / ".git").exists() for folder in folders):
        folders = [here]
    for folder in folders:
        dedicated = folder / DEDICATED_FILE
        if dedicated.is_file():
            return dedicated
        pyproject = folder / PYPROJECT_FILE
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
        if (folder / ".git").exists():
            break
    return None


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Load the configuration from ``path``, or discover it from ``start``.

    Args:
        path: An explicit config file (``--config``); wins over discovery.
        start: Where discovery starts (default: the current directory).

    Returns:
        The config. With no file found: no SLOs, defaults everywhere, and
        ``artifacts/`` under ``start``.

    Raises:
        ConfigError: On unreadable TOML or an invalid key or value.
    """
    if path is None:
        path = find_config_file(start)
        if path is None:
            root = (start or Path.cwd()).resolve()
            return Config(path=None, root=root, artifacts_dir=root / "artifacts")
    path = path.resolve()
    table = _read_table(path)
    return parse_config(table, path)


def parse_config(table: Mapping[str, Any], path: Path) -> Config:
    """Validate a config table (already unwrapped from ``[tool.perfslo]``).

    Args:
        table: The parsed TOML table.
        path: The file it came from; relative paths resolve against its folder.

    Returns:
        The validated config.

    Raises:
        ConfigError: Naming the file, the key and the problem.
    """
    prefix = "tool.perfslo." if path.name == PYPROJECT_FILE else ""
    tool = table.get("tool")
    if not prefix and isinstance(tool, dict) and "perfslo" in tool:
        # The pyproject.toml form pasted into a perfslo.toml: say so, not "unknown key".
        raise ConfigError(
            path,
            "tool.perfslo",
            f"{path.name} takes the keys at the top level: drop the `tool.perfslo` prefix "
            "([tool.perfslo] -> nothing, [tool.perfslo.slos.x] -> [slos.x]); that form is for pyproject.toml",
        )
    for key in table:
        if key not in _GLOBAL_KEYS:
            raise ConfigError(path, prefix + key, f"unknown key (known: {', '.join(sorted(_GLOBAL_KEYS))})")
    root = path.parent
    artifacts = _get(table, "artifacts_dir", str, "artifacts", path, prefix)
    if "\x00" in artifacts:  # no OS accepts it; pathlib would raise ValueError
        raise ConfigError(path, prefix + "artifacts_dir", "must not contain a NUL character")
    bench_command = _get(table, "bench_command", str, None, path, prefix)
    bench_setup = _get(table, "bench_setup", str, None, path, prefix)
    profile_command = _profile_command(table.get("profile_command"), path, prefix + "profile_command")
    trend_days = _get_int(table, "trend_days", 30, path, prefix, minimum=1)
    confirm_runs = _get_int(table, "confirm_runs", 3, path, prefix, minimum=1)
    keep_runs = _get_int(table, "keep_runs", 20, path, prefix, minimum=1)
    history_runs = _get_int(table, "history_runs", 20, path, prefix, minimum=2)
    timeout_key = prefix.rstrip(".")
    instructions_timeout = _positive(table, "instructions_timeout", path, timeout_key, "a number of seconds")
    max_age = _positive(table, "baseline_max_age_days", path, timeout_key, "a number of days")
    max_commits = _get_int(table, "baseline_max_commits", 0, path, prefix, minimum=1) or None
    rename_raw = _get(table, "rename", dict, {}, path, prefix)
    rename: dict[str, str] = {}
    for source, target in rename_raw.items():
        if not isinstance(target, str) or not target:
            raise ConfigError(path, f"{prefix}rename.{source}", "must be a non-empty string")
        rename[str(source)] = target
    slos_raw = _get(table, "slos", dict, {}, path, prefix)
    slos: dict[str, SLOConfig] = {}
    for name, body in slos_raw.items():
        slos[name] = _parse_slo(name, body, path, f"{prefix}slos.{name}")
    history_url = _history_url(table, path, prefix)
    return Config(
        path=path,
        root=root,
        slos=slos,
        artifacts_dir=(root / artifacts).resolve() if artifacts else root / "artifacts",
        bench_command=bench_command,
        bench_setup=bench_setup,
        profile_command=profile_command,
        trend_days=trend_days,
        confirm_runs=confirm_runs,
        keep_runs=keep_runs,
        history_runs=history_runs,
        instructions_timeout=instructions_timeout or 300.0,
        baseline_max_age_days=max_age,
        baseline_max_commits=max_commits,
        rename=rename,
        history_url=history_url,
    )


def _history_url(table: Mapping[str, Any], path: Path, prefix: str) -> str | None:
    """The shared history's URL: a ``postgresql://`` URL without a password (config files get committed)."""
    url: str | None = _get(table, "history_url", str, None, path, prefix)
    if url is None or not url.strip():
        return None
    key = prefix + "history_url"
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(path, key, "must be a postgresql:// URL")
    if re.match(r"^[a-z]+://[^/@?]*:[^/@?]*@", url) or re.search(r"[?&]password=", url):
        raise ConfigError(
            path, key, "holds a password: remove it; put it in PGPASSWORD, PERFSLO_DATABASE_URL or ~/.pgpass"
        )
    return url


def _parse_slo(name: str, body: Any, path: Path, key: str) -> SLOConfig:
    if not isinstance(body, dict):
        raise ConfigError(path, key, "must be a table with at least `budget`")
    for sub in body:
        if sub not in _SLO_KEYS:
            raise ConfigError(path, f"{key}.{sub}", f"unknown key (known: {', '.join(sorted(_SLO_KEYS))})")
    if not name.strip():
        raise ConfigError(path, key, "SLO name must not be empty")
    metrics = _parse_metrics(body.get("metric", "time"), path, f"{key}.metric")
    if "time" in metrics and "budget" not in body:
        raise ConfigError(path, f"{key}.budget", "missing (the budget in ms is required)")
    # NaN for an SLO that does not measure time: never compared, never shown.
    budget = _positive(body, "budget", path, key, "a number of ms") or math.nan
    tolerance = _tolerance(body, "tolerance", DEFAULT_TOLERANCE, path, key)
    budget_instructions = _positive(body, "budget_instructions", path, key, "a number of instructions")
    budget_mb = _positive(body, "budget_mb", path, key, "a number of MB")
    for extra, metric in (("budget_instructions", "instructions"), ("budget_mb", "peak_memory")):
        if extra in body and metric not in metrics:
            raise ConfigError(
                path, f"{key}.{extra}", f"set, but the SLO does not measure {metric} (add it to `metric`)"
            )
    targets = _parse_targets(body, path, key, metrics, budget, budget_instructions, budget_mb)
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(path, f"{key}.description", "must be a string")
    command = body.get("command")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise ConfigError(path, f"{key}.command", "must be a non-empty string")
    profile_command = _profile_command(body.get("profile_command"), path, f"{key}.profile_command")
    warmup = _get_int(body, "warmup", 1, path, key + ".", minimum=0)
    runs = _get_int(body, "runs", 10, path, key + ".", minimum=1)
    return SLOConfig(
        name=name,
        budget_ms=float(budget),
        tolerance=tolerance,
        description=description,
        command=command,
        warmup=warmup,
        runs=runs,
        metrics=metrics,
        budget_instructions=budget_instructions,
        tolerance_instructions=_tolerance(
            body, "tolerance_instructions", DEFAULT_INSTRUCTIONS_TOLERANCE, path, key
        ),
        budget_mb=budget_mb,
        tolerance_memory=_tolerance(body, "tolerance_memory", DEFAULT_TOLERANCE, path, key),
        target_ms=targets["time"],
        target_instructions=targets["instructions"],
        target_mb=targets["peak_memory"],
        profile_command=profile_command,
    )


def _parse_targets(
    body: Mapping[str, Any],
    path: Path,
    key: str,
    metrics: tuple[str, ...],
    budget: float | None,
    budget_instructions: float | None,
    budget_mb: float | None,
) -> dict[str, float | None]:
    """Each metric's target: positive, on a metric the SLO measures, never above its budget."""
    budgets = {"time": budget, "instructions": budget_instructions, "peak_memory": budget_mb}
    targets: dict[str, float | None] = {}
    for metric, name in TARGET_KEYS.items():
        unit = METRIC_UNITS[metric]
        target = _positive(body, name, path, key, f"a number of {unit}")
        targets[metric] = target
        if target is None:
            continue
        if metric not in metrics:
            raise ConfigError(
                path, f"{key}.{name}", f"set, but the SLO does not measure {metric} (add it to `metric`)"
            )
        limit = budgets[metric]
        if limit is not None and target > limit:
            raise ConfigError(
                path,
                f"{key}.{name}",
                f"{target:g} {unit} is above the budget {limit:g} {unit} "
                f"(`{BUDGET_KEYS[metric]}`): a target is a goal under the budget",
            )
    return targets


def _profile_command(value: Any, path: Path, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, key, "must be a non-empty string")
    if "{output}" not in value:
        raise ConfigError(path, key, "must contain {output}: the file (or folder) the profiler writes")
    return value


def _parse_metrics(value: Any, path: Path, key: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(path, key, f"must be a metric or a list of metrics, got {value!r}")
    unknown = [n for n in names if n not in METRIC_UNITS]
    if unknown:
        raise ConfigError(path, key, f"unknown metric {unknown[0]!r} (known: {', '.join(METRIC_UNITS)})")
    if len(set(names)) != len(names):
        raise ConfigError(path, key, "lists a metric twice")
    return tuple(names)


def _positive(body: Mapping[str, Any], name: str, path: Path, key: str, what: str) -> float | None:
    if name not in body:
        return None
    value = body[name]
    where = f"{key}.{name}" if key else name
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(path, where, f"must be {what}, got {value!r}")
    if value <= 0:
        raise ConfigError(path, where, f"must be > 0, got {value!r}")
    return float(value)


def _tolerance(body: Mapping[str, Any], name: str, default: float, path: Path, key: str) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, f"{key}.{name}", f"must be a number, got {value!r}")
    if not (0.0 < value < 1.0):
        raise ConfigError(path, f"{key}.{name}", f"must be in (0, 1) (0.05 is ±5%), got {value!r}")
    return float(value)


def _get(table: Mapping[str, Any], key: str, kind: type, default: Any, path: Path, prefix: str) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(path, prefix + key, f"must be a {kind.__name__}, got {value!r}")
    return value


def _get_int(table: Mapping[str, Any], key: str, default: int, path: Path, prefix: str, minimum: int) -> int:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, prefix + key, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(path, prefix + key, f"must be >= {minimum}, got {value}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "invalid TOML: not UTF-8") from None


def _read_table(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    if path.name == PYPROJECT_FILE:
        tool = data.get("tool", {})
        table = tool.get("perfslo") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(path, "tool.perfslo", "missing: no [tool.perfslo] table in this file")
        if not isinstance(table, dict):
            raise ConfigError(path, "tool.perfslo", "must be a table")
        return table
    return data


def _has_tool_table(pyproject: Path) -> bool:
    try:
        data = _read_toml(pyproject)
    except ConfigError:
        # A broken pyproject with no way to tell: report it rather than skip it.
        return "[tool.perfslo" in pyproject.read_text(errors="replace")
    tool = data.get("tool")
    return isinstance(tool, dict) and "perfslo" in tool
