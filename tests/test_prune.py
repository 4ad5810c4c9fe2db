"""`perfslo prune`: removes old runs and loses nothing it must keep (real files, real CLI)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import BASE_MS, SEED_CONFIG, make_run, run_cli

from perfslo_tui.config import load_config
from perfslo_tui.report.json_report import evaluation_to_dict
from perfslo_tui.report.trend_file import TREND_FILE, read_history
from perfslo_tui.runs.store import load_table
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.trends import DAY_MS

RETENTION = "keep_runs = 5\nhistory_runs = 3\n"
SLOS = {"transpile-simple": 0.8, "ir-parse-simple": 0.22, "lua-emit-simple": 0.3}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes.

    The store's own read cache (``.perfslo-cache``) is left out: any read
    of the folder may refresh it.
    """
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".perfslo-cache" not in p.relative_to(folder).parts
    }


def comparable(project: Path) -> dict[str, object]:
    """The latest run's evaluation, minus the run count (which prune changes by design)."""
    config = load_config(start=project)
    store = load_table(config.artifacts_dir)
    doc = evaluation_to_dict(evaluate(store.history(), config))
    doc.pop("run_count")
    return doc


def setup_history(project: Path) -> dict[str, Path]:
    """50 daily runs, a baseline from day 2, a rarely measured SLO, and non-run files."""
    (project / "perfslo.toml").write_text(RETENTION + SEED_CONFIG)
    art = project / "artifacts"
    runs: dict[str, Path] = {}
    for day in range(50):
        values = {name: v * (1 + 0.002 * (day % 5)) for name, v in SLOS.items()}
        if day == 5:
            values["rare-slo"] = 3.0  # measured once, long ago: still the SLO's latest data
        runs[f"day{day}"] = make_run(
            art, values, ts_ms=BASE_MS + day * DAY_MS, commit=f"{day:07x}" + "a" * 33, spread=0.01
        )
    result = run_cli("baseline", "--establish", "--run", str(runs["day2"]), cwd=project)
    assert result.returncode == 0, result.stderr
    # Things prune must never touch: an unreadable run-named file, files that are not runs,
    # a run file in a subfolder, and the baselines' history folder.
    (art / f"perf-deadbee-{BASE_MS - 90 * DAY_MS}.json").write_text('{"truncated": ')
    (art / "notes.txt").write_text("keep me")
    (art / "perf-dashboard.html").write_text("<html></html>")
    (art / "old").mkdir()
    make_run(art / "old", SLOS, ts_ms=BASE_MS - 100 * DAY_MS)
    (art / "baselines").mkdir(exist_ok=True)
    (art / "baselines" / "perf-baseline-1.json").write_text("{}")
    return runs


def expected_removed(runs: dict[str, Path]) -> set[str]:
    # Latest run is day 49; the window starts at day 19. Days 0..18 are old;
    # day 2 is the baseline's run and day 5 the latest (only) run of rare-slo.
    return {runs[f"day{d}"].name for d in range(19) if d not in (2, 5)}


def test_dry_run_lists_and_changes_nothing(project: Path) -> None:
    runs = setup_history(project)
    art = project / "artifacts"
    before = snapshot(art)
    result = run_cli("prune", "--dry-run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert snapshot(art) == before
    assert "Would remove 17 run(s) older than 30 days" in result.stdout
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  perf-")}
    assert expected_removed(runs) <= listed
    assert runs["day2"].name in result.stdout and "the baseline's source run" in result.stdout
    assert "among the latest 3 runs of rare-slo" in result.stdout
    assert "not touching unreadable" in result.stderr


def test_prune_removes_old_runs_and_keeps_everything_else(project: Path) -> None:
    runs = setup_history(project)
    art = project / "artifacts"
    before = snapshot(art)
    evaluation_before = comparable(project)
    config = load_config(start=project)
    table_before = load_table(config.artifacts_dir).table

    result = run_cli("prune", cwd=project)
    assert result.returncode == 0, result.stderr
    after = snapshot(art)
    removed = set(before) - set(after)
    assert removed == expected_removed(runs)
    # Everything else is byte-for-byte intact; only the trend file is new.
    assert set(after) - set(before) == {TREND_FILE}
    assert all(after[name] == digest for name, digest in before.items() if name not in removed)

    # The evaluation of the latest run is unchanged: nothing it reads was removed.
    assert comparable(project) == evaluation_before

    # The trend file keeps every removed run's median, per SLO.
    history = read_history(art / TREND_FILE)
    for row in table_before.filter(table_before["run_id"].is_in(sorted(removed))).iter_rows(named=True):
        points = {p["run_id"]: p for p in history[row["slo"]]}
        assert points[row["run_id"]]["median_ms"] == row["median"]
        assert points[row["run_id"]]["commit"] == row["commit"]
    assert sum(len(p) for p in history.values()) == len(removed) * len(SLOS)

    # A second prune finds nothing and keeps the history; regenerating the trend keeps it too.
    again = run_cli("prune", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "Nothing to prune" in again.stdout
    assert read_history(art / TREND_FILE) == history
    assert run_cli("trend", cwd=project).returncode == 0
    assert read_history(art / TREND_FILE) == history


def test_keep_runs_protects_the_latest_runs_even_when_old(project: Path) -> None:
    (project / "perfslo.toml").write_text(RETENTION + SEED_CONFIG)
    art = project / "artifacts"
    old = [make_run(art, SLOS, ts_ms=BASE_MS + d * DAY_MS, commit=f"{d:07x}" + "b" * 33) for d in range(10)]
    latest = make_run(art, SLOS, ts_ms=BASE_MS + 100 * DAY_MS)
    result = run_cli("prune", cwd=project)
    assert result.returncode == 0, result.stderr
    left = {p.name for p in art.glob("perf-*.json") if p.name != TREND_FILE}
    # The latest 5 runs (days 6..9 and day 100) stay although 4 of them are far outside the window.
    assert left == {p.name for p in old[6:]} | {latest.name}
    assert "one of the latest 5 runs" in result.stdout


def test_unreadable_trend_file_stops_prune_before_deleting(project: Path) -> None:
    setup_history(project)
    art = project / "artifacts"
    (art / TREND_FILE).write_text("not json at all")
    before = snapshot(art)
    result = run_cli("prune", cwd=project)
    assert result.returncode == 2
    assert f"{art / TREND_FILE}: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(art) == before
