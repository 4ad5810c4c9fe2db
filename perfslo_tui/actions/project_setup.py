"""``perfslo init``: look at a project, propose SLOs and a bench command, write the config.

What is detected (nothing is run but the commands being measured):

- ``pyproject.toml``: the project's import package (``src/`` or flat layout)
  and its console scripts; ``package.json``: its entry file, ``bin`` and
  ``bench``-like scripts;
- benchmark results already there: pytest-benchmark (``.benchmarks/``), asv
  (``.asv/results/``), hyperfine exports (``*.json`` near the top), a
  LUASCRIPT-format ``.perf-baseline.json``, perfslo runs in ``artifacts/``.

From that, one harness is chosen: pytest-benchmark when its results are
there (``pytest --benchmark-json`` then ``perfslo import``), otherwise
command SLOs timed by ``perfslo run`` (the package's import, a CLI's
``--help``, ``npm run bench``, the commands of hyperfine exports). Each
command SLO is measured a few times so its budget is 1.5x what this machine
takes (rounded up); a command that fails is left out and said so.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfslo_tui.atomic import atomic_write_bytes
from perfslo_tui.config import DEDICATED_FILE, PYPROJECT_FILE, find_config_file

# The headroom a measured budget gets over this machine's median.
BUDGET_FACTOR = 1.5
MEASURE_RUNS = 3
MEASURE_TIMEOUT_S = 60.0
SCAN_DEPTH = 2
SCAN_MAX_BYTES = 8 * 1024 * 1024
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    "dist",
    "build",
    "site-packages",
}
BENCH_SCRIPTS = ("bench", "benchmark", "benchmarks", "perf")
PYTEST_BENCHMARK_JSON = ".pytest-benchmark.json"
GITIGNORE_HEADER = "# perfslo (written by `perfslo init`)"


class InitError(Exception):
    """``perfslo init`` cannot go on (a config exists, a file cannot be written)."""


@dataclass(frozen=True, slots=True)
class SLOProposal:
    """One SLO ``perfslo init`` proposes.

    Attributes:
        name: The SLO's name.
        budget_ms: Its budget (1.5x the measured or recorded median, rounded up).
        description: What it measures.
        command: The command ``perfslo run`` times, if it is a command SLO.
        runs: Timed runs for a command SLO (fewer for slow commands).
        note: Where the budget came from (a comment in the config).
    """

    name: str
    budget_ms: float
    description: str
    command: str | None = None
    runs: int | None = None
    note: str = ""


@dataclass(slots=True)
class Detected:
    """What the project has."""

    root: Path
    git: bool = False
    python_name: str | None = None
    python_package: str | None = None
    python_src: bool = False
    python_scripts: list[str] = field(default_factory=list)
    node_name: str | None = None
    node_entry: str | None = None
    node_esm: bool = False
    node_bins: list[str] = field(default_factory=list)
    node_bench_scripts: list[str] = field(default_factory=list)
    pytest_benchmark: list[Path] = field(default_factory=list)
    asv: list[Path] = field(default_factory=list)
    hyperfine: list[Path] = field(default_factory=list)
    luascript_baseline: Path | None = None
    perfslo_runs: list[Path] = field(default_factory=list)

    def found(self) -> list[str]:
        """One line per thing found, for the user."""
        lines: list[str] = []
        if self.python_name is not None:
            package = f", package {self.python_package}" if self.python_package else ", no importable package"
            lines.append(f"pyproject.toml: project {self.python_name}{package}")
        if self.node_name is not None:
            lines.append(
                f"package.json: {self.node_name}" + (f", entry {self.node_entry}" if self.node_entry else "")
            )
        for label, files in (
            ("pytest-benchmark results", self.pytest_benchmark),
            ("asv results", self.asv),
            ("hyperfine exports", self.hyperfine),
            ("perfslo runs", self.perfslo_runs),
        ):
            if files:
                lines.append(f"{label}: {len(files)} file(s), latest {_rel(files[-1], self.root)}")
        if self.luascript_baseline is not None:
            lines.append(f"a LUASCRIPT-format baseline: {_rel(self.luascript_baseline, self.root)}")
        return lines


@dataclass(slots=True)
class InitPlan:
    """The config ``perfslo init`` writes, and what it says about it."""

    detected: Detected
    slos: list[SLOProposal] = field(default_factory=list)
    bench_command: str | None = None
    bench_note: str = ""
    rename: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


# ----------------------------------------------------------------- detect


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > SCAN_MAX_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _json_files(root: Path, depth: int = SCAN_DEPTH) -> Iterator[Path]:
    """``*.json`` files up to ``depth`` folders down, skipping environments and VCS folders."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            if depth > 0 and entry.name not in SKIP_DIRS:
                yield from _json_files(entry, depth - 1)
        elif entry.suffix == ".json" and entry.is_file():
            yield entry


def _by_mtime(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_mtime, str(p)))


def _python_package(root: Path, name: str) -> tuple[str | None, bool]:
    """The import name of the project's package and whether it lives under ``src/``."""
    wanted = re.sub(r"[-.]+", "_", name).lower()
    for base, src in ((root / "src", True), (root, False)):
        if (base / wanted / "__init__.py").is_file() or (base / f"{wanted}.py").is_file():
            return wanted, src
    for base, src in ((root / "src", True), (root, False)):
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name in SKIP_DIRS or entry.name.startswith((".", "test")):
                continue
            if (entry / "__init__.py").is_file():
                return entry.name, src
    return None, False


def detect(root: Path, artifacts_dir: Path | None = None) -> Detected:
    """Look at the project in ``root`` (nothing is run)."""
    root = root.resolve()
    found = Detected(root=root, git=(root / ".git").exists())
    pyproject = root / PYPROJECT_FILE
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        raw = data.get("project")
        project: dict[str, Any] = raw if isinstance(raw, dict) else {}
        raw_name = project.get("name")
        name = raw_name if isinstance(raw_name, str) else root.name
        found.python_name = name
        found.python_package, found.python_src = _python_package(root, name)
        scripts = project.get("scripts")
        if isinstance(scripts, dict):
            found.python_scripts = [str(s) for s in scripts][:2]
    package_json = root / "package.json"
    if package_json.is_file():
        data = _read_json(package_json)
        if isinstance(data, dict):
            found.node_name = str(data.get("name") or root.name)
            raw_main = data.get("main")
            main = raw_main if isinstance(raw_main, str) else "index.js"
            if (root / main).is_file():
                found.node_entry = main
            found.node_esm = data.get("type") == "module"
            bins = data.get("bin")
            if isinstance(bins, str):
                found.node_bins = [bins]
            elif isinstance(bins, dict):
                found.node_bins = [str(v) for v in bins.values()][:2]
            scripts = data.get("scripts")
            if isinstance(scripts, dict):
                found.node_bench_scripts = [s for s in BENCH_SCRIPTS if s in scripts]
    from perfslo_tui.collect.importers import asv, hyperfine, luascript, pytest_benchmark

    benchmarks_dir = root / ".benchmarks"
    if benchmarks_dir.is_dir():
        candidates = [p for p in benchmarks_dir.rglob("*.json") if p.is_file()]
        found.pytest_benchmark = _by_mtime(
            [p for p in candidates if isinstance(d := _read_json(p), dict) and pytest_benchmark.looks_like(d)]
        )
    asv_results = root / ".asv" / "results"
    if asv_results.is_dir():
        candidates = [
            p for p in asv_results.rglob("*.json") if p.name not in ("machine.json", "benchmarks.json")
        ]
        found.asv = _by_mtime(
            [p for p in candidates if isinstance(d := _read_json(p), dict) and asv.looks_like(d)]
        )
    hyperfine_files: list[Path] = []
    for path in _json_files(root):
        if (
            path.name in ("package.json", "package-lock.json", "tsconfig.json")
            or path.parent.name == ".benchmarks"
        ):
            continue
        document = _read_json(path)
        if not isinstance(document, dict):
            continue
        if hyperfine.looks_like(document) and document.get("results"):
            hyperfine_files.append(path)
        elif path.name == ".perf-baseline.json" and luascript.looks_like_baseline(document):
            found.luascript_baseline = path
    found.hyperfine = _by_mtime(hyperfine_files)
    artifacts = artifacts_dir or root / "artifacts"
    if artifacts.is_dir():
        found.perfslo_runs = _by_mtime(sorted(artifacts.glob("perf-*.json")))
    return found


# ------------------------------------------------------------------- plan


def round_budget(median_ms: float) -> float:
    """1.5x the median, rounded up to two significant digits (45.2 ms -> 68 ms)."""
    value = median_ms * BUDGET_FACTOR
    if value <= 0 or not math.isfinite(value):
        return 1.0
    digits = 2 - int(math.floor(math.log10(value))) - 1
    scale = 10.0**digits
    return math.ceil(value * scale - 1e-9) / scale


def slo_name(text: str) -> str:
    """A readable SLO name from a command or benchmark name."""
    name = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-._").lower()
    return name[:60] or "benchmark"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _recorded_medians(fmt: str, path: Path) -> dict[str, float]:
    """Median (ms) per benchmark in another tool's result file, or nothing if it cannot be read."""
    from perfslo_tui.collect.importers.base import ImportedBaseline, load_document
    from perfslo_tui.collect.importers.registry import FORMATS
    from perfslo_tui.runs.files import ArtifactError

    spec = FORMATS[fmt]
    try:
        imported = spec.parse(path, load_document(path, spec.expected))
    except (ArtifactError, OSError):
        return {}
    if isinstance(imported, ImportedBaseline):
        return {name: float(body["median"]) for name, body in imported.slos.items()}
    return {name: _median(list(values)) for name, values in imported.samples.items() if values}


def _command_candidates(found: Detected) -> list[tuple[str, str, str]]:
    """(name, command, description) for the commands worth timing in this project."""
    out: list[tuple[str, str, str]] = []
    if found.python_package:
        code = f"import {found.python_package}"
        command = f'python -c "{code}"'
        if found.python_src:
            command = f"PYTHONPATH=src {command}"
        out.append((f"import-{slo_name(found.python_package)}", command, f"Import {found.python_package}"))
    for script in found.python_scripts:
        out.append((f"{slo_name(script)}-help", f"{shlex.quote(script)} --help", f"Start {script} (--help)"))
    if found.node_name is not None:
        if found.node_entry:
            entry = "./" + found.node_entry.removeprefix("./")
            if found.node_esm:
                command = f"node --input-type=module -e \"await import('{entry}')\""
            else:
                command = f"node -e \"require('{entry}')\""
            out.append((f"load-{slo_name(found.node_name)}", command, f"Load {found.node_entry}"))
        for bin_path in found.node_bins:
            out.append(
                (
                    f"{slo_name(Path(bin_path).stem)}-help",
                    f"node {shlex.quote(bin_path)} --help",
                    f"Start {bin_path} (--help)",
                )
            )
        for script in found.node_bench_scripts:
            out.append((f"npm-{script}", f"npm run --silent {script}", f"The project's `npm run {script}`"))
    return out


Measure = Callable[[str], float]


def measure_command(root: Path) -> Measure:
    """A function timing a command as ``perfslo run`` will (median ms of a few runs)."""
    from perfslo_tui.collect.command_timing import time_command

    env = dict(os.environ)
    # As for the bench command: perfslo's interpreter first, so `python` is this one.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.pop("PERFSLO_SLO", None)

    def measure(command: str) -> float:
        times = time_command(
            command, runs=MEASURE_RUNS, warmup=1, cwd=root, env=env, timeout=MEASURE_TIMEOUT_S
        )
        return _median(times.samples_ms)

    return measure


def plan_init(found: Detected, measure: Measure | None) -> InitPlan:
    """Choose the SLOs and the bench command for what was found.

    Args:
        found: What :func:`detect` found.
        measure: Times a command (median ms); None leaves budgets to be set
            by hand (1000 ms, marked in the config).
    """
    from perfslo_tui.collect.command_timing import CommandTimingError

    plan = InitPlan(detected=found)
    taken: set[str] = set()

    def add(proposal: SLOProposal) -> None:
        if proposal.name not in taken:
            taken.add(proposal.name)
            plan.slos.append(proposal)

    if found.pytest_benchmark:
        latest = found.pytest_benchmark[-1]
        medians = _recorded_medians("pytest-benchmark", latest)
        for name, median in medians.items():
            note = f"{median:.4g} ms in {_rel(latest, found.root)}"
            add(SLOProposal(name, round_budget(median), f"pytest-benchmark {name}", note=note))
        out = f"artifacts/{PYTEST_BENCHMARK_JSON}"
        plan.bench_command = (
            f'python -m pytest --benchmark-only --benchmark-json={out} -q ${{PERFSLO_SLO:+-k "$PERFSLO_SLO"}}'
            f" && perfslo import pytest-benchmark {out}"
        )
        plan.bench_note = "your pytest-benchmark tests, imported as one perfslo run"
    else:
        commands: list[tuple[str, str, str]] = []
        hyperfine_names: dict[str, str] = {}
        for path in found.hyperfine[-1:]:
            for command in _recorded_medians("hyperfine", path):
                name = slo_name(command)
                hyperfine_names[name] = command
                commands.append((name, command, f"hyperfine: {command}"))
        commands += _command_candidates(found)
        for name, command, description in commands:
            if name in taken:
                continue
            if measure is None:
                add(
                    SLOProposal(
                        name, 1000.0, description, command, note="set by hand: not measured (--no-measure)"
                    )
                )
                continue
            try:
                median = measure(command)
            except (CommandTimingError, ValueError) as exc:
                plan.dropped.append(f"{name}: `{command}` failed here ({str(exc).splitlines()[0][:160]})")
                continue
            runs = 10 if median < 1000 else 3
            note = f"measured {median:.3g} ms here by perfslo init"
            add(SLOProposal(name, round_budget(median), description, command, runs, note))
            if hyperfine_names.get(name, name) != name:
                # hyperfine's results name the command: map it, so old exports import.
                plan.rename[hyperfine_names[name]] = name
        if plan.slos:
            plan.bench_command = "perfslo run"
            plan.bench_note = "times each SLO's `command` (warm-up, then `runs` runs) and writes one run"
    if found.luascript_baseline is not None:
        medians = _recorded_medians("luascript-baseline", found.luascript_baseline)
        where = _rel(found.luascript_baseline, found.root)
        for name, median in medians.items():
            add(
                SLOProposal(
                    name, round_budget(median), f"from {where}", note=f"baseline median {median:.4g} ms"
                )
            )
        plan.notes.append(
            f"{where}: {len(medians)} SLOs declared from this LUASCRIPT baseline; make it perfslo's "
            f"baseline with `perfslo import luascript-baseline {where}`, and have your benchmark write "
            "perfslo runs (examples/node/write-run.js shows how) to measure them"
        )
    if found.asv:
        latest = found.asv[-1]
        medians = _recorded_medians("asv", latest)
        for name, median in medians.items():
            add(
                SLOProposal(name, round_budget(median), f"asv {name}", note=f"{median:.4g} ms in asv results")
            )
        plan.notes.append(
            f"asv results: import them as history with `perfslo import asv {_rel(latest, found.root)}` "
            "(asv's own runner writes them; bench_command below does not run asv)"
        )
    if found.perfslo_runs and not plan.slos:
        from perfslo_tui.runs.files import ArtifactError, is_reference_name, read_run

        try:
            run = read_run(found.perfslo_runs[-1])
        except ArtifactError:
            run = None
        if run is not None:
            for name, values in run.samples.items():
                if values and not is_reference_name(name):
                    median = _median(list(values))
                    add(
                        SLOProposal(name, round_budget(median), name, note=f"{median:.4g} ms in {run.run_id}")
                    )
    if found.hyperfine:
        export = _rel(found.hyperfine[-1], found.root)
        plan.notes.append(
            f"hyperfine: the commands of {export} became command SLOs; its results import as "
            f"history with `perfslo import hyperfine {export}`"
        )
    if plan.bench_command is None:
        plan.next_steps.append(
            "no command to measure was found: add an SLO with a `command` (or your own harness as "
            "bench_command) to perfslo.toml"
        )
    else:
        plan.next_steps += [
            "perfslo-tui          the monitor; press r to run the benchmarks (the first card appears)",
            "perfslo bench        or run them here, then `perfslo check` (the CI gate)",
            "perfslo baseline --establish   once a run looks right: compare everything with it",
        ]
    return plan


# ----------------------------------------------------------------- render


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_string(name)


def render_config(plan: InitPlan, today: str) -> str:
    """The commented ``perfslo.toml``."""
    lines = [
        f"# perfslo config, written by `perfslo init` on {today}. Edit freely: every key is",
        "# described in perfslo's README (Configuration). `perfslo check` reads it, and so does",
        "# the running `perfslo-tui` (it reloads this file when you save it).",
        "",
        "# Where run files and the baseline live (relative to this file).",
        'artifacts_dir = "artifacts"',
        "",
    ]
    if plan.bench_command is not None:
        lines += [
            f"# The command that runs every benchmark and writes one run: {plan.bench_note}.",
            "# perfslo runs it as written, in a shell, from this folder, with PERFSLO_ARTIFACTS set.",
            "# To re-run one SLO it sets PERFSLO_SLO=<name> (honoured by `perfslo run` and the",
            "# pytest `perf` fixture), and puts the name in a {slo} placeholder if you write one.",
            f"bench_command = {_toml_string(plan.bench_command)}",
        ]
    else:
        lines += [
            "# The command that runs every benchmark and writes one run (perfslo sets",
            "# PERFSLO_ARTIFACTS and, to re-run one SLO, PERFSLO_SLO). Nothing to run was found:",
            '# bench_command = "perfslo run"',
        ]
    lines += [
        "",
        "# A violation or regression fails `perfslo check` only once seen in this many runs in a row.",
        "confirm_runs = 3",
        "",
    ]
    if plan.rename:
        lines += ["# Names in other tools' results -> SLO names (for `perfslo import`).", "[rename]"]
        lines += [f"{_toml_string(src)} = {_toml_string(dst)}" for src, dst in plan.rename.items()]
        lines.append("")
    if plan.slos:
        lines += [
            "# One table per SLO: budget in ms (required), tolerance (default 0.05, i.e. ±5 %),",
            "# description; a `command` SLO is timed as a whole by `perfslo run` (`runs`, `warmup`).",
            "# Budgets below are 1.5x what this machine took: tighten them to what you promise.",
        ]
    else:
        lines += [
            "# One table per SLO: budget in ms (required), tolerance (default 0.05), description,",
            "# and for `perfslo run` a command to time as a whole, e.g.:",
            "# [slos.startup]",
            "# budget = 50.0",
            '# command = "python -c \\"import mypackage\\""',
        ]
    for slo in plan.slos:
        lines += ["", f"[slos.{_toml_key(slo.name)}]"]
        lines.append(f"budget = {slo.budget_ms!r}" + (f"    # {slo.note}" if slo.note else ""))
        lines.append(f"description = {_toml_string(slo.description)}")
        if slo.command is not None:
            lines.append(f"command = {_toml_string(slo.command)}")
        if slo.runs is not None and slo.runs != 10:
            lines.append(f"runs = {slo.runs}")
    for dropped in plan.dropped:
        lines += ["", f"# Left out, {dropped}"]
    return "\n".join(lines) + "\n"


def gitignore_lines(artifacts: str = "artifacts") -> list[str]:
    """What perfslo writes that does not belong in git (the baseline does)."""
    return [
        GITIGNORE_HEADER,
        f"# Runs measured on this machine; keep {artifacts}/.perf-baseline.json in git for the CI gate.",
        f"{artifacts}/perf-*.json",
        f"{artifacts}/.*.tmp",
        f"{artifacts}/{PYTEST_BENCHMARK_JSON}",
        f"{artifacts}/perf-dashboard.html",
        f"{artifacts}/.perfslo-cache/",
    ]


@dataclass(frozen=True, slots=True)
class Written:
    """What ``perfslo init`` wrote."""

    config: Path
    replaced: Path | None
    gitignore: Path | None
    gitignore_added: int
    artifacts: Path


def check_no_config(root: Path, force: bool) -> Path | None:
    """Refuse to go on when a config exists (``force`` allows rewriting a ``perfslo.toml`` here).

    Returns:
        The ``perfslo.toml`` that ``force`` will replace, or None.

    Raises:
        InitError: When a config applies to ``root`` and cannot be rewritten.
    """
    existing = find_config_file(root)
    if existing is None:
        return None
    if existing.name == PYPROJECT_FILE:
        raise InitError(
            f"{existing}: already has a [tool.perfslo] table; edit it there (perfslo init never "
            "rewrites pyproject.toml)"
        )
    if existing != root / DEDICATED_FILE or not force:
        raise InitError(
            f"{existing}: a perfslo config exists; `perfslo init --force` rewrites it (kept as .bak)"
        )
    return existing


def write_init(plan: InitPlan, today: str, force: bool = False) -> Written:
    """Write ``perfslo.toml``, the ``.gitignore`` lines and the artifacts folder.

    Raises:
        InitError: When a config exists (``force`` rewrites a ``perfslo.toml``,
            keeping the old one as ``perfslo.toml.bak``; a ``[tool.perfslo]``
            in ``pyproject.toml`` is never touched).
    """
    root = plan.detected.root
    target = root / DEDICATED_FILE
    replaced: Path | None = None
    if check_no_config(root, force) is not None:
        replaced = target.with_name(DEDICATED_FILE + ".bak")
        atomic_write_bytes(replaced, target.read_bytes(), overwrite=True)
    atomic_write_bytes(target, render_config(plan, today).encode(), overwrite=True)
    artifacts = root / "artifacts"
    artifacts.mkdir(exist_ok=True)
    gitignore: Path | None = None
    added = 0
    if plan.detected.git or (root / ".gitignore").exists():
        gitignore = root / ".gitignore"
        current = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        present = {line.strip() for line in current.splitlines()}
        new = [line for line in gitignore_lines() if line.startswith("#") or line not in present]
        if any(not line.startswith("#") for line in new):
            added = sum(1 for line in new if not line.startswith("#"))
            prefix = current if not current or current.endswith("\n") else current + "\n"
            text = prefix + ("\n" if prefix else "") + "\n".join(new) + "\n"
            atomic_write_bytes(gitignore, text.encode(), overwrite=True)
    return Written(target, replaced, gitignore, added, artifacts)
