"""``perfslo init``: set perfslo up in a project (config, bench command, ``.gitignore``)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "look at this project and write a commented perfslo.toml with SLOs and a working bench command"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo init``."""
    parser.add_argument("folder", nargs="?", type=Path, default=None, help="the project (default: here)")
    parser.add_argument(
        "--force", action="store_true", help="rewrite an existing perfslo.toml (the old one is kept as .bak)"
    )
    parser.add_argument(
        "--no-measure",
        action="store_true",
        help="do not time the proposed commands (budgets are left at 1000 ms to set by hand)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the config instead of writing it")


def run(args: argparse.Namespace) -> int:
    """Detect, plan, measure, write; say what was found and what to do next."""
    import datetime as dt

    from perfslo_tui.actions.project_setup import (
        InitError,
        check_no_config,
        detect,
        measure_command,
        plan_init,
        render_config,
        write_init,
    )
    from perfslo_tui.commands import UsageError
    from perfslo_tui.text import printable

    root = (args.folder or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    if not args.dry_run:
        try:
            check_no_config(root, args.force)
        except InitError as exc:
            raise UsageError(str(exc)) from None
    found = detect(root)
    print(f"perfslo init: looking at {root}")
    for line in found.found() or [
        "nothing perfslo knows (no pyproject.toml, package.json or benchmark results)"
    ]:
        print(f"  found {printable(line, 200)}")
    measure = None if args.no_measure else measure_command(root)
    if measure is not None:
        print("  timing the proposed commands (a few runs each)…", flush=True)
    plan = plan_init(found, measure)
    today = dt.date.today().isoformat()
    if args.dry_run:
        print(render_config(plan, today), end="")
        return 0
    try:
        written = write_init(plan, today, force=args.force)
    except InitError as exc:
        raise UsageError(str(exc)) from None
    for slo in plan.slos:
        what = f"`{slo.command}`" if slo.command else slo.description
        name = printable(slo.name, 60)
        print(f"  SLO {name}: budget {slo.budget_ms:g} ms ({slo.note}) {printable(what, 100)}")
    for dropped in plan.dropped:
        print(f"  left out {printable(dropped, 300)}")
    print(
        f"wrote {written.config}"
        + (f" (the old one kept as {written.replaced.name})" if written.replaced else "")
    )
    if plan.bench_command:
        print(f"  bench_command = {plan.bench_command}")
    if written.gitignore is not None and written.gitignore_added:
        print(f"added {written.gitignore_added} line(s) to {written.gitignore}")
    for note in plan.notes:
        print(f"note: {printable(note, 400)}")
    print("next:")
    for step in plan.next_steps:
        print(f"  {step}")
    return 0
