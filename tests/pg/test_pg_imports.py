"""The shared history costs nothing unless used: the file store never imports its driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.history import CONFIG
from tests.pg.pghelpers import REPO, env, write_runs

HEAVY = ("psycopg", "pyarrow", "adbc_driver_postgresql", "adbc_driver_manager")
PROBE = """
import json, sys
{code}
print("MODULES=" + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def _modules(code: str, cwd: Path = REPO, **extra: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)],
        env=env(**extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("MODULES=")]
    assert line, result.stderr
    return set(json.loads(line[0].removeprefix("MODULES=")))


def test_the_gate_on_the_artifacts_folder_loads_no_database_driver(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(CONFIG)
    write_runs(project / "artifacts", range(3))
    loaded = _modules(
        "from perfslo_tui.commands.cli import main\nmain(['check', '--format', 'json'])", cwd=project
    )
    assert not loaded & set(HEAVY)


def test_the_shared_store_loads_no_ui_and_no_arrow_before_a_table_is_read() -> None:
    loaded = _modules("import perfslo_tui.runs.pg.store, perfslo_tui.runs.pg.sync")
    assert "psycopg" in loaded
    assert not loaded & {"textual", "plotext", "textual_plotext", "pyarrow", "adbc_driver_postgresql"}
