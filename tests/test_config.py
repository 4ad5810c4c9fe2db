"""Config discovery and validation: real files in real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from perfslo_tui.config import ConfigError, find_config_file, load_config
from tests.conftest import run_cli


def _repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.perfslo]\ntrend_days = 14\nbench_command = "make bench"\n'
        '[tool.perfslo.slos.fast]\nbudget = 2.5\ntolerance = 0.02\ndescription = "d"\n'
    )
    config = load_config(start=repo)
    assert config.path == (repo / "pyproject.toml").resolve()
    assert config.trend_days == 14
    assert config.bench_command == "make bench"
    assert config.artifacts_dir == (repo / "artifacts").resolve()
    slo = config.slos["fast"]
    assert (slo.budget_ms, slo.tolerance, slo.description) == (2.5, 0.02, "d")


def test_defaults(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "perfslo.toml").write_text("[slos.a]\nbudget = 1\n")
    config = load_config(start=repo)
    assert config.slos["a"].tolerance == 0.05
    assert config.trend_days == 30
    assert config.confirm_runs == 3
    assert config.bench_command is None


def test_perfslo_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "pyproject.toml").write_text("[tool.perfslo.slos.from-pyproject]\nbudget = 1\n")
    (repo / "perfslo.toml").write_text("[slos.from-dedicated]\nbudget = 1\n")
    assert list(load_config(start=repo).slos) == ["from-dedicated"]


def test_found_from_a_subfolder_up_to_the_repo_root(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "perfslo.toml").write_text("[slos.a]\nbudget = 1\n")
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_config_file(deep) == repo / "perfslo.toml"


def test_discovery_stops_at_the_repo_root(tmp_path: Path) -> None:
    (tmp_path / "perfslo.toml").write_text("[slos.outside]\nbudget = 1\n")
    repo = _repo(tmp_path / "r")
    assert find_config_file(repo) is None
    assert load_config(start=repo).slos == {}


def test_outside_a_repo_only_the_current_folder_counts(tmp_path: Path) -> None:
    (tmp_path / "perfslo.toml").write_text("[slos.parent]\nbudget = 1\n")
    child = tmp_path / "child"
    child.mkdir()
    assert find_config_file(child) is None


def test_pyproject_without_tool_table_is_skipped(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "perfslo.toml").write_text("[slos.root]\nbudget = 1\n")
    sub = repo / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    assert find_config_file(sub) == repo / "perfslo.toml"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[slos.a]\ndescription = 'x'\n", "slos.a.budget", "missing"),
        ("[slos.a]\nbudget = 0\n", "slos.a.budget", "must be > 0"),
        ("[slos.a]\nbudget = -1.5\n", "slos.a.budget", "must be > 0"),
        ("[slos.a]\nbudget = 'fast'\n", "slos.a.budget", "must be a number"),
        ("[slos.a]\nbudget = 1\ntolerance = 0\n", "slos.a.tolerance", "must be in (0, 1)"),
        ("[slos.a]\nbudget = 1\ntolerance = 1.0\n", "slos.a.tolerance", "must be in (0, 1)"),
        ("[slos.a]\nbudget = 1\ntolerence = 0.1\n", "slos.a.tolerence", "unknown key"),
        ("trend_dayz = 3\n", "trend_dayz", "unknown key"),
        ("trend_days = 0\n", "trend_days", "must be >= 1"),
        ("confirm_runs = 'x'\n", "confirm_runs", "whole number"),
        ("[slos.a\nbudget = 1\n", None, "invalid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_file_key_and_problem(
    tmp_path: Path, text: str, key: str | None, problem: str
) -> None:
    repo = _repo(tmp_path / "r")
    path = repo / "perfslo.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(start=repo)
    message = str(info.value)
    assert str(path) in message
    if key:
        assert f": {key}: " in message
    assert problem in message
    assert "\n" not in message

    result = run_cli("check", cwd=repo)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and problem in lines[0]


def test_pyproject_key_names_include_the_tool_prefix(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "pyproject.toml").write_text("[tool.perfslo.slos.a]\nbudget = -2\n")
    with pytest.raises(ConfigError, match=r"tool\.perfslo\.slos\.a\.budget: must be > 0"):
        load_config(start=repo)


def test_explicit_config_overrides_discovery(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "perfslo.toml").write_text("[slos.discovered]\nbudget = 1\n")
    other = tmp_path / "other.toml"
    other.write_text("artifacts_dir = 'out'\n[slos.explicit]\nbudget = 1\n")
    config = load_config(other, start=repo)
    assert list(config.slos) == ["explicit"]
    assert config.artifacts_dir == (tmp_path / "out").resolve()


def test_tool_perfslo_in_a_perfslo_toml_gets_a_hint_not_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "perfslo.toml").write_text(
        '[tool.perfslo]\nartifacts_dir = "artifacts"\n\n[tool.perfslo.slos.parse]\nbudget = 1.0\n'
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line == (
        f"perfslo: {tmp_path / 'perfslo.toml'}: tool.perfslo: perfslo.toml takes the keys at the top level: "
        "drop the `tool.perfslo` prefix ([tool.perfslo] -> nothing, [tool.perfslo.slos.x] -> [slos.x]); "
        "that form is for pyproject.toml"
    )
    assert "unknown key" not in line
