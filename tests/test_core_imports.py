"""The core stays UI-free: importing it never loads textual, plotext or the views."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    "perfslo_tui.config",
    "perfslo_tui.verdict.rules",
    "perfslo_tui.verdict.stats",
    "perfslo_tui.runs.files",
    "perfslo_tui.runs.store",
    "perfslo_tui.verdict.engine",
    "perfslo_tui.verdict.model",
    "perfslo_tui.runs.history",
    "perfslo_tui.collect.command_timing",
    "perfslo_tui.actions.process",
    "perfslo_tui.collect.measure",
    "perfslo_tui.actions.bench",
    "perfslo_tui.actions.baseline",
    "perfslo_tui.actions.confirm",
    "perfslo_tui.actions.worktree",
    "perfslo_tui.actions.same_code",
    "perfslo_tui.actions.compare",
    "perfslo_tui.runs.steady",
    "perfslo_tui.verdict.ab",
    "perfslo_tui.commands.cli",
    "perfslo_tui.commands.compare_cmd",
]
FORBIDDEN = ("textual", "textual_plotext", "plotext", "perfslo_tui.tui", "perfslo_tui.report")


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_ui(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    leaks = [name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert leaks == [], f"{module} pulls in {leaks}"


def test_the_gate_never_imports_the_ui(project: object) -> None:
    code = (
        "import json, sys\n"
        "from perfslo_tui.commands.cli import main\n"
        "code = main(['check', '--format', 'json'])\n"
        "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("MODULES=")][0]
    loaded = json.loads(line.removeprefix("MODULES="))
    assert not [name for name in loaded if name.startswith(("textual", "plotext", "perfslo_tui.tui"))]
