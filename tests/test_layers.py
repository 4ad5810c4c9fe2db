"""The folders are the stages of the flow, and imports only run with it.

runs → verdict → report / tui, with collect, actions and commands beside them.
Read from the source (every import statement, also those inside functions),
so an import that only happens on some path is caught too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "perfslo_tui"
VIEWS_AND_ACTIONS = ("report", "tui", "actions", "commands", "collect")
# What each stage may not import (perfslo_tui.<stage>), beyond third-party UI libraries.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "runs": ("verdict", *VIEWS_AND_ACTIONS),
    "verdict": VIEWS_AND_ACTIONS,
    "collect": ("verdict.engine", "verdict.model", "report", "tui", "commands"),
    "actions": ("tui", "commands"),
    "report": ("tui", "commands", "actions"),
}
LEAVES = ("config.py", "text.py", "atomic.py")
UI_LIBRARIES = ("textual", "textual_plotext", "plotext", "rich")


def imported_modules(path: Path) -> list[str]:
    """Every module a source file imports, resolved to absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def stage_files(stage: str) -> list[Path]:
    return sorted((PACKAGE / stage).rglob("*.py"))


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_a_stage_never_imports_a_later_one(stage: str) -> None:
    files = stage_files(stage)
    assert files, f"no modules in perfslo_tui/{stage}"
    bad: list[str] = []
    for path in files:
        for name in imported_modules(path):
            for other in FORBIDDEN[stage]:
                target = f"perfslo_tui.{other}"
                if name == target or name.startswith(target + "."):
                    bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert bad == []


@pytest.mark.parametrize("stage", ["runs", "verdict", "collect", "actions"])
def test_the_core_never_imports_a_ui_library(stage: str) -> None:
    bad = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in stage_files(stage)
        for name in imported_modules(path)
        if name.split(".")[0] in UI_LIBRARIES
    ]
    assert bad == []


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaf_modules_import_nothing_of_perfslo_but_leaves(leaf: str) -> None:
    allowed = {f"perfslo_tui.{name.removesuffix('.py')}" for name in LEAVES} | {"perfslo_tui.verdict.rules"}
    names = [n for n in imported_modules(PACKAGE / leaf) if n.startswith("perfslo_tui")]
    assert [n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)] == []


def test_the_package_top_level_holds_only_shared_leaves_and_public_names() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == sorted(["__init__.py", "__main__.py", *LEAVES, "measure.py", "pytest_plugin.py"])


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rule above can fail: a function-level import of a view is found."""
    fake = PACKAGE / "runs" / "_layer_probe.py"
    fake.write_text("def f():\n    from perfslo_tui.report.text import render_text\n    return render_text\n")
    try:
        assert "perfslo_tui.report.text" in imported_modules(fake)
        with pytest.raises(AssertionError):
            test_a_stage_never_imports_a_later_one("runs")
    finally:
        fake.unlink()


def test_no_benchmark_script_shadows_a_standard_module() -> None:
    # `python benchmarks/x.py` puts benchmarks/ first on sys.path: a script named like a standard
    # module (bisect.py, statistics.py ...) breaks every other script that imports that module.
    names = {p.stem for p in (PACKAGE.parent / "benchmarks").glob("*.py")}
    assert not names & set(sys.stdlib_module_names), names & set(sys.stdlib_module_names)
