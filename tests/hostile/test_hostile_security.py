"""Security: only the configured command runs; artifacts are data, never code or paths.

* SLO names substituted into ``{slo}`` are shell-quoted, whatever quotes the
  config puts around the placeholder.
* Strings in run files and baselines (names, commits, branches, sources) are
  never executed, never used as paths, and every CLI command treats the
  whole hostile corpus as data.
* A config in a parent folder outside the project is not picked up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from perfslo_tui.actions.bench import BenchCommandError, run_to_completion
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata
from perfslo_tui.runs.store import RunStore
from tests.conftest import BASE_MS, HOUR_MS, SEED_CONFIG, make_run, run_cli
from tests.hostile.hostile_cases import CASES, GOOD_VALUES, case_ms
from tests.hostile.test_hostile_corpus import RAW_ESCAPE

RECORDER = "import json, sys\nopen(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')\n"


def _recorded(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _project(root: Path, bench_command: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    head = f"bench_command = {json.dumps(bench_command)}\n" if bench_command else ""
    (root / "perfslo.toml").write_text(head + SEED_CONFIG)
    (root / "artifacts").mkdir(exist_ok=True)
    return root


def _injections(pwned: Path) -> list[str]:
    return [
        f"x; touch {pwned}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        f"x' ; touch {pwned}; '",
        f'x" ; touch {pwned}; "',
        f"a\nb; touch {pwned}",
        f"x && touch {pwned}",
        f"|touch {pwned}",
        f"\\'; touch {pwned} #",
        "-rf",
        "[bold red]x[/] \x1b[31m",
    ]


@pytest.mark.parametrize(
    "template",
    ["--slo {slo}", "--slo '{slo}'", '--slo "{slo}"', "--slo={slo}", '"--slo={slo}"', "--slo \\{slo}"],
)
def test_slo_names_are_shell_quoted_in_the_bench_command(template: str, tmp_path: Path) -> None:
    """Each hostile name reaches the bench command as one literal argument; nothing else runs."""
    pwned = tmp_path / "pwned"
    (tmp_path / "record.py").write_text(RECORDER)
    log = tmp_path / "argv.log"
    root = _project(tmp_path / "proj", f"{sys.executable} {tmp_path / 'record.py'} {log} {template}")
    config = load_config(start=root)
    names = _injections(pwned)
    for name in names:
        run_to_completion(config, slo=name)
    assert not pwned.exists()
    recorded = _recorded(log)
    assert len(recorded) == len(names)
    for name, argv in zip(names, recorded, strict=True):
        if template == "--slo \\{slo}":  # a backslash before the placeholder is the config's own business
            assert len(argv) >= 2
            continue
        joined = "".join(argv)
        assert name in joined and len(argv) <= 2, (template, name, argv)


def test_a_nul_in_an_slo_name_is_a_clean_error(tmp_path: Path) -> None:
    """A NUL (valid in a JSON key) cannot start a process: BenchCommandError, not ValueError."""
    root = _project(tmp_path / "proj", "echo {slo}")
    with pytest.raises(BenchCommandError, match="cannot start"):
        run_to_completion(load_config(start=root), slo="a\x00b")


def _poisoned_run(artifacts: Path, pwned: Path, ts_ms: int) -> Path:
    """A valid run whose every string is a shell injection or a path escape."""
    evil = f"$(touch {pwned}); touch {pwned} `touch {pwned}`"
    samples = {f"; touch {pwned}": [0.5, 0.51], "../../../../tmp/evil": [0.4], **{
        name: [v] for name, v in GOOD_VALUES.items()}}
    meta = make_metadata(timestamp_ms=ts_ms, git={"commit": "../../x", "branch": evil, "dirty": True})
    meta["source"] = evil
    meta["runner"] = evil
    doc = build_run_document(samples, meta, violations=[{"slo": evil, "message": evil}])
    return write_run(artifacts, doc)


@pytest.mark.slow
def test_nothing_from_an_artifact_is_executed_by_any_command(tmp_path: Path) -> None:
    """check (all formats, --confirm), baseline, trend, prune, dashboard over poisoned runs."""
    pwned = tmp_path / "pwned"
    (tmp_path / "record.py").write_text(RECORDER)
    log = tmp_path / "argv.log"
    root = _project(tmp_path / "proj", f"{sys.executable} {tmp_path / 'record.py'} {log} --all")
    artifacts = root / "artifacts"
    for i in range(3):
        values = {**GOOD_VALUES, "transpile-objects": 1.3 if i == 2 else 0.9}  # a violation to confirm
        make_run(artifacts, values, ts_ms=BASE_MS + i * HOUR_MS)
    poisoned = _poisoned_run(artifacts, pwned, BASE_MS + 3 * HOUR_MS)
    assert poisoned.parent == artifacts and poisoned.name.startswith("perf-.._.._x-")
    commands = [
        ("check",),
        ("check", "--format", "markdown"),
        ("check", "--format", "json"),
        ("check", "--confirm", "2"),
        ("baseline", "--establish"),
        ("baseline", "--show"),
        ("trend",),
        ("prune", "--dry-run"),
        ("dashboard",),
    ]
    for args in commands:
        result = run_cli(*args, cwd=root)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert not RAW_ESCAPE.search(result.stdout + result.stderr), args
        assert result.returncode in (0, 1, 2), args
    assert not pwned.exists()
    # The only command that ever ran is the configured one, with its own arguments.
    assert all(argv == ["--all"] for argv in _recorded(log))
    # Nothing was created outside the project.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name for name in ("argv.log", "proj", "record.py") if (tmp_path / name).exists()
    )
    assert not Path("/tmp/evil").exists()


def test_run_file_names_stay_in_the_artifacts_folder(tmp_path: Path) -> None:
    """Commits are made path-safe before they become a file name."""
    artifacts = tmp_path / "artifacts"
    for i, commit in enumerate(["../../escape", "/etc/passwd", "a/b\\c", "..", ".", "~root", "\x00nul", ""]):
        meta = make_metadata(timestamp_ms=BASE_MS + i, git={"commit": commit, "branch": "b", "dirty": False})
        path = write_run(artifacts, build_run_document({"a": [1.0]}, meta))
        assert path.parent == artifacts and "/" not in path.name and "\x00" not in path.name
    assert sorted(p.parent for p in tmp_path.rglob("perf-*.json")) == [artifacts] * 8


def test_check_run_outside_the_artifacts_folder_is_refused_unread(tmp_path: Path) -> None:
    """``--run`` must name a file in the artifacts folder; one elsewhere is not even read."""
    root = _project(tmp_path / "proj")
    make_run(root / "artifacts", GOOD_VALUES, ts_ms=BASE_MS)
    outside = tmp_path / "perf-x-1795000000000.json"
    outside.write_bytes(b"SECRET-TOKEN-123")
    result = run_cli("check", "--run", str(outside), cwd=root)
    assert result.returncode == 2
    assert "must name a file in the artifacts folder" in result.stderr
    assert "SECRET" not in result.stderr + result.stdout


def test_a_symlinked_run_never_leaks_its_target(tmp_path: Path) -> None:
    """A run file linking to a secret elsewhere: refused, and no byte of it is shown."""
    root = _project(tmp_path / "proj")
    make_run(root / "artifacts", GOOD_VALUES, ts_ms=BASE_MS)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-TOKEN-123 {not json")
    link = root / "artifacts" / f"perf-link-{BASE_MS + 1}.json"
    link.symlink_to(secret)
    store = RunStore(root / "artifacts")
    store.refresh()
    assert "SECRET" not in store.errors[link]
    result = run_cli("check", cwd=root)
    assert result.returncode == 0 and "SECRET" not in result.stderr + result.stdout


def test_prune_never_touches_unrelated_files_or_link_targets(tmp_path: Path) -> None:
    """Notes, other tools' JSON, folders and a linked run's target all survive ``perfslo prune``."""
    root = _project(tmp_path / "proj")
    short_window = "trend_days = 1\nkeep_runs = 1\nhistory_runs = 2\n"
    (root / "perfslo.toml").write_text(short_window + SEED_CONFIG.replace("confirm_runs = 1\n", ""))
    artifacts = root / "artifacts"
    target = tmp_path / "elsewhere.json"
    old = make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS - 100 * 24 * HOUR_MS)
    target.write_bytes(old.read_bytes())
    old.unlink()
    (artifacts / old.name).symlink_to(target)
    for i in range(4):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    unrelated = {"NOTES.md": b"# notes", "results-1.json": b"{}", "perf-notarun.json": b"[]",
                 ".perf-x-1.json.abc.tmp": b"{"}
    for name, data in unrelated.items():
        (artifacts / name).write_bytes(data)
    (artifacts / "sub").mkdir()
    (artifacts / "sub" / f"perf-a-{BASE_MS}.json").write_bytes(b"{}")
    result = run_cli("prune", cwd=root)
    assert result.returncode == 0, result.stderr
    assert not (artifacts / old.name).is_symlink()  # the old run (a link) was pruned...
    assert target.exists()  # ...its target was not
    for name, data in unrelated.items():
        assert (artifacts / name).read_bytes() == data
    assert (artifacts / "sub" / f"perf-a-{BASE_MS}.json").exists()


# ---------------------------------------------------------------- config discovery


def _trap(folder: Path, pwned: Path, pyproject: bool = False) -> None:
    body = f'bench_command = "touch {pwned}"\nartifacts_dir = "/"\n[slos.trap]\nbudget = 1\n'
    if pyproject:
        body = "[tool.perfslo]\n" + body.replace("[slos.", "[tool.perfslo.slos.")
        (folder / "pyproject.toml").write_text(body)
    else:
        (folder / "perfslo.toml").write_text(body)


@pytest.mark.parametrize("pyproject", [False, True], ids=["perfslo.toml", "pyproject.toml"])
def test_a_config_above_the_repo_root_is_ignored(tmp_path: Path, pyproject: bool) -> None:
    """Discovery stops at the repository root."""
    pwned = tmp_path / "pwned"
    _trap(tmp_path, pwned, pyproject)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    config = load_config(start=deep)
    assert config.path is None and "trap" not in config.slos and config.bench_command is None
    result = run_cli("check", "--confirm", "2", cwd=deep)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not pwned.exists()


@pytest.mark.parametrize("pyproject", [False, True], ids=["perfslo.toml", "pyproject.toml"])
def test_outside_a_repo_only_the_current_folder_counts(tmp_path: Path, pyproject: bool) -> None:
    """No git repository: a config in a parent folder is not used."""
    pwned = tmp_path / "pwned"
    _trap(tmp_path, pwned, pyproject)
    child = tmp_path / "child"
    child.mkdir()
    if any(parent.joinpath(".git").exists() for parent in tmp_path.parents):
        pytest.skip("the temp folder is inside a git repository")
    config = load_config(start=child)
    assert config.path is None and config.bench_command is None
    result = run_cli("check", "--confirm", "2", cwd=child, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not pwned.exists()
    assert os.listdir(child) == []
    # The same file in the current folder is the project's own config: it is used.
    assert load_config(start=tmp_path).bench_command == f"touch {pwned}"


@pytest.mark.slow
def test_every_command_over_the_whole_corpus(tmp_path: Path) -> None:
    """All hostile cases in one folder: every command stays up and prints only inert text."""
    root = _project(tmp_path / "proj")
    artifacts = root / "artifacts"
    for i in range(3):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    for case in CASES:
        if not case.heavy:
            case.build(artifacts, case_ms(CASES.index(case)))
    for args in [("baseline", "--establish"), ("baseline", "--show"), ("trend",), ("prune", "--dry-run"),
                 ("dashboard",), ("prune",), ("check",)]:
        result = run_cli(*args, cwd=root)
        assert "Traceback" not in result.stderr, (args, result.stderr[-2000:])
        assert not RAW_ESCAPE.search(result.stdout + result.stderr), (args, result.stderr[-2000:])
        assert result.returncode in (0, 1), (args, result.stderr[-2000:])
    html = next(artifacts.glob("*.html")).read_text()
    for raw in ("<script>alert(1)</script>", "<img src=x onerror", "\x1b["):
        assert raw not in html
    assert orjson.loads((artifacts / "perf-trend.json").read_bytes())


PWN_IMG = '<img src=x onerror="document.documentElement.dataset.pwned=1">'
PWN_SVG = '<svg onload="document.documentElement.dataset.pwned=2">'


def test_dashboard_over_the_whole_corpus_in_real_chromium(tmp_path: Path) -> None:
    """The HTML dashboard of a folder holding every case plus DOM-writing payloads: nothing runs."""
    import shutil

    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((found for name in names if (found := shutil.which(name))), None)
    if browser is None:
        pytest.skip("headless Chromium not installed (scripts/test.sh installs it)")
    root = _project(tmp_path / "proj")
    artifacts = root / "artifacts"
    for i in range(3):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    for case in CASES:
        if not case.heavy:
            case.build(artifacts, case_ms(CASES.index(case)))
    # The newest run: DOM-writing payloads as SLO names (configured, so the page shows them), commit, branch.
    with (root / "perfslo.toml").open("a") as config:
        for name in (PWN_IMG, PWN_SVG):
            config.write(f"\n[slos.{json.dumps(name)}]\nbudget = 1.0\ndescription = {json.dumps(name)}\n")
    make_run(artifacts, {PWN_IMG: 0.5, PWN_SVG: 0.6, **GOOD_VALUES}, ts_ms=BASE_MS + 1000 * HOUR_MS,
             commit=PWN_SVG[:60], branch=PWN_IMG)
    result = run_cli("dashboard", cwd=root)
    assert result.returncode == 0, result.stderr
    page = artifacts / "perf-dashboard.html"
    dumped = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout
    assert 'data-perfslo="ready"' in dumped  # the page's own script ran to the end
    assert "data-pwned" not in dumped  # no payload did
    assert dumped.count("<script") == 1 and "<img" not in dumped and "<svg onload" not in dumped
    assert "&lt;img src=x onerror=" in dumped  # the name is there, as text
