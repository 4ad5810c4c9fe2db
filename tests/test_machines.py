"""Machines kept apart in the artifacts folder: keys from host facts, --machine, baselines, the M key.

(``m`` stays the monitor's metric key.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.commands.cli import main
from perfslo_tui.config import ConfigError, load_config
from perfslo_tui.runs.machine import MachineError, describe_host, machine_key, this_machine
from perfslo_tui.runs.metadata import host_info
from perfslo_tui.runs.selection import FolderLoader, resolve_machine
from perfslo_tui.runs.store import RunStore
from perfslo_tui.tui.shared import SharedBar
from tests.conftest import SEED_MOCK_TIMINGS, RunWriter
from tests.tui.tuihelpers import BASE_MS, HOUR_MS, anyio_backend, loaded, make_app, wait_for

__all__ = ["anyio_backend"]
CI = {
    "hostname": "runner-17",
    "cpu": "x86_64",
    "cpu_count": 4,
    "os": "Linux 6.8.0-1017-azure",
    "python": "3.12",
}


def test_the_key_comes_from_hardware_and_system_not_the_host_name_nor_the_kernel() -> None:
    key = machine_key({"host": CI})
    assert len(key) == 12 and key != "unknown"
    assert machine_key({"host": {**CI, "hostname": "runner-18", "python": "3.11"}}) == key
    assert machine_key({"host": {**CI, "os": "Linux 6.9.1"}}) == key  # a kernel update is the same machine
    assert machine_key({"host": {**CI, "cpu_count": 2}}) != key
    assert machine_key({"host": {**CI, "os": "Darwin 23.1"}}) != key
    assert (
        machine_key({})
        == machine_key({"host": "HOST"})
        == machine_key({"host": {"k": {"k": 1}}})
        == "unknown"
    )
    assert machine_key({"host": {**CI, "label": "ci large/2"}}) == "ci-large-2"
    assert describe_host(CI) == "x86_64 ×4 · Linux"
    assert describe_host({}) == "no host facts recorded"


def test_perfslo_machine_labels_this_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "label" not in host_info()
    monkeypatch.setenv("PERFSLO_MACHINE", "bench-box")
    assert host_info()["label"] == "bench-box" and this_machine() == "bench-box"


def _two_machines(project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Three runs of this host, then two of a labelled CI machine (pulled into the folder), newest last."""
    for i in range(3):
        write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + i * HOUR_MS, commit=f"{i + 1:x}" * 40)
    monkeypatch.setenv("PERFSLO_MACHINE", "ci")
    slow = {name: value * 1.5 for name, value in SEED_MOCK_TIMINGS.items()}
    for i in range(3, 5):
        write(slow, ts_ms=BASE_MS + i * HOUR_MS, commit=f"{i + 1:x}" * 40)
    monkeypatch.delenv("PERFSLO_MACHINE")
    return this_machine(), "ci"


def test_the_gate_judges_the_latest_run_among_its_machines_runs_only(
    project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, ci = _two_machines(project, write, monkeypatch)
    assert main(["check", "--format", "json"]) == 1  # CI's runs are 1.5x slower: over budget
    out, err = capsys.readouterr()
    assert json.loads(out)["run_count"] == 2
    assert err.startswith("perfslo: note: machine ci (") and err.count("\n") == 1
    assert err.endswith(
        "; 1 other machine left out (--machine KEY shows another, --machine all mixes them)\n"
    )
    assert main(["check", "--format", "json", "--machine", mine[:5]]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["run_count"] == 3
    assert main(["check", "--format", "json", "--machine", "this"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["run_count"] == 3
    assert main(["check", "--format", "json", "--machine", "all"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["run_count"] == 5
    # --run picks the run's own machine.
    first = sorted((project / "artifacts").glob("perf-*.json"))[0]
    assert main(["check", "--format", "json", "--run", str(first)]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["run_count"] == 3
    assert main(["check", "--machine", "nope"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("perfslo: no machine 'nope' in the history; its machines: ci (")
        and "--machine all" in err
    )


def test_a_baseline_of_another_machine_is_not_compared_and_says_so(
    project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _mine, _ci = _two_machines(project, write, monkeypatch)
    config = load_config(start=project)
    first = sorted(config.artifacts_dir.glob("perf-*.json"))[0]
    establish_baseline(config, first)  # this host's run
    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["baseline"] is None
    reasons = {e["path"]: e["reason"] for e in report["errors"]}
    assert "measured on another machine" in reasons[str(config.baseline_path)]
    assert main(["check", "--format", "json", "--machine", "this"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["baseline"]["source_run"] == first.name


def test_resolve_names_prefixes_and_refuses_ambiguity() -> None:
    from perfslo_tui.runs.machine import MachineInfo

    machines = {k: MachineInfo(k, "x", 1, 0) for k in ("abc123", "abd456", "ci")}
    assert resolve_machine("latest", machines, "ci") == "ci"
    assert resolve_machine("all", machines, "ci") is None
    assert resolve_machine("abc", machines, "ci") == "abc123"
    with pytest.raises(MachineError, match="matches 2 machines"):
        resolve_machine("ab", machines, "ci")


def test_a_one_machine_folder_is_loaded_as_before(project: Path, write: RunWriter) -> None:
    for i in range(3):
        write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + i * HOUR_MS)
    store = RunStore(project / "artifacts")
    loader = FolderLoader(store)
    history = loader.refresh()
    assert history.machine == this_machine() and history.table is store.table  # nothing copied


def test_history_url_in_the_config_is_checked(tmp_path: Path) -> None:
    def load(line: str) -> object:
        (tmp_path / "perfslo.toml").write_text(line + "\n")
        return load_config(tmp_path / "perfslo.toml")

    config = load('history_url = "postgresql://ci@db.example:5432/perf"')
    assert config.history_url == "postgresql://ci@db.example:5432/perf"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="history_url: holds a password"):
        load('history_url = "postgresql://ci:hunter2@db.example/perf"')
    with pytest.raises(ConfigError, match="history_url: holds a password"):
        load('history_url = "postgresql://ci@db.example/perf?password=hunter2"')
    with pytest.raises(ConfigError, match="history_url: must be a postgresql:// URL"):
        load('history_url = "mysql://db/perf"')
    try:
        load('history_url = "postgresql://ci:hunter2@db.example/perf"')
    except ConfigError as exc:
        assert "hunter2" not in str(exc)


@pytest.mark.anyio
async def test_the_monitor_shows_the_machine_and_shift_m_switches(
    project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, ci = _two_machines(project, write, monkeypatch)
    app = make_app(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        bar = app.query_one(SharedBar)
        assert app.history is not None and app.history.machine == ci and bar.display
        assert str(bar.render()).startswith("machine ci (x86_64 ×")
        assert app.evaluation is not None and app.evaluation.run_count == 2
        # m is the metric shown (only time here): it leaves the machine alone.
        await pilot.press("m")
        await pilot.pause()
        assert app.metric == "time" and app.history.machine == ci
        await pilot.press("M")
        await wait_for(pilot, lambda: app.history is not None and app.history.machine == mine)
        assert app.evaluation is not None and app.evaluation.run_count == 3
        await pilot.press("M")
        await wait_for(pilot, lambda: app.history is not None and app.history.machine is None)
        assert app.evaluation is not None and app.evaluation.run_count == 5
