"""``perfslo run``: measure the SLOs that have a ``command``, write one run.

With ``bench_command = "perfslo run"`` in the config, a project in any
language gets the whole loop (check, confirm re-runs, TUI re-runs) without
writing Python: every SLO is a command perfslo times itself. Without
``--slo``, ``$PERFSLO_SLO`` (set by perfslo to re-run one SLO) picks the SLO.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "time the SLOs that have a `command` (warm-up + N runs each) and write one run file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo run``."""
    parser.add_argument(
        "--slo",
        action="append",
        metavar="NAME",
        help="measure only this SLO (repeatable; default: every SLO with a command)",
    )
    parser.add_argument("--runs", type=int, metavar="N", help="timed runs per SLO (default: its `runs`)")
    parser.add_argument(
        "--warmup", type=int, metavar="N", help="warm-up runs per SLO (default: its `warmup`)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="per run (default: 600)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each command's instructions under valgrind (the SLO's `metric` can ask for it too)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the run file written")


def run(args: argparse.Namespace) -> int:
    """Measure, write the run; exit 2 if any command failed (the others are still written)."""
    from perfslo_tui.actions.bench import artifacts_from_env
    from perfslo_tui.collect.command_timing import COMMAND_PROTOCOL, CommandTimingError, time_command
    from perfslo_tui.collect.instructions import COMMAND_PLACEHOLDER, InstructionCountError, count_command
    from perfslo_tui.collect.measure import reference_name
    from perfslo_tui.commands import UsageError, load_context
    from perfslo_tui.runs.files import build_run_document, is_reference_name, metric_series, write_run
    from perfslo_tui.runs.metadata import make_metadata, python_fingerprint
    from perfslo_tui.runs.summary import summarize
    from perfslo_tui.text import format_ms, format_value, printable

    if args.config is None and os.environ.get("PERFSLO_CONFIG"):
        # Started as perfslo's own bench command: use the config that started us.
        args.config = Path(os.environ["PERFSLO_CONFIG"])
    config = load_context(args)
    if args.runs is not None and args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if args.warmup is not None and args.warmup < 0:
        raise UsageError("--warmup must be at least 0")
    if args.timeout <= 0:
        raise UsageError("--timeout must be > 0")
    where = config.path or "the config"
    with_command = [slo for slo in config.slos.values() if slo.command]
    if args.slo:
        chosen = []
        for name in dict.fromkeys(args.slo):
            slo = config.slos.get(name)
            if slo is None:
                known = ", ".join(printable(n, 40) for n in config.slos) or "none"
                raise UsageError(f"{where}: no SLO named {printable(name, 80)!r} (known: {known})")
            if not slo.command:
                raise UsageError(f"{where}: slos.{printable(name, 80)} has no `command` to run")
            chosen.append(slo)
    elif os.environ.get("PERFSLO_SLO"):
        # perfslo re-runs one SLO: the name comes in the environment.
        wanted = os.environ["PERFSLO_SLO"]
        chosen = [slo for slo in with_command if slo.name == wanted]
        if not chosen:
            print(
                f"perfslo run: PERFSLO_SLO={printable(wanted, 80)} is not an SLO with a `command` "
                f"in {where}: nothing to measure"
            )
            return 0
    else:
        chosen = with_command
    if not chosen:
        raise UsageError(f'{where}: no SLO has a `command` (add command = "..." to an SLO)')
    artifacts = (
        config.artifacts_dir if args.artifacts is not None else artifacts_from_env(config.artifacts_dir)
    )

    samples: dict[str, list[float]] = {}
    failures: list[str] = []
    for slo in chosen:
        assert slo.command is not None
        runs = args.runs if args.runs is not None else slo.runs
        warmup = args.warmup if args.warmup is not None else slo.warmup
        timed = "time" in slo.metrics or "peak_memory" in slo.metrics
        try:
            if timed:
                # `{n}` (iterations, for instruction counts) is 1 when the whole process is timed.
                command = slo.command.replace(COMMAND_PLACEHOLDER, "1")
                result = time_command(
                    command,
                    runs=runs,
                    warmup=warmup,
                    cwd=config.root,
                    timeout=args.timeout,
                    reference="time" in slo.metrics,
                )
                if "time" in slo.metrics:
                    samples[slo.name] = result.samples_ms
                    samples[reference_name(slo.name)] = result.reference_ms
                if "peak_memory" in slo.metrics:
                    samples[metric_series(slo.name, "peak_memory")] = result.peak_mb
            if args.instructions or "instructions" in slo.metrics:
                limit = min(args.timeout, config.instructions_timeout)
                count = count_command(slo.command, cwd=config.root, timeout_s=limit)
                samples[metric_series(slo.name, "instructions")] = [float(v) for v in count.samples]
                if not args.quiet:
                    counted = format_value(summarize(count.samples).median, "instructions")
                    print(f"{printable(slo.name, 60)}: {counted} per run ({count.method})")
        except (CommandTimingError, InstructionCountError) as exc:
            failures.append(f"{printable(slo.name, 80)}: {printable(str(exc), 400)}")
            print(f"perfslo: {failures[-1]}", file=sys.stderr)
            continue
        if not timed:
            continue
        if not args.quiet:
            stats = summarize(result.samples_ms)
            via = " (via sh -c)" if result.shell else ""
            print(
                f"{printable(slo.name, 60)}: median {format_ms(stats.median)}ms "
                f"(min {format_ms(stats.min)}, max {format_ms(stats.max)}; "
                f"{runs} runs after {warmup} warm-up){via}"
            )
    if not samples:
        return 2
    # Whole processes timed from outside: the runtime inside is the command's business.
    has_reference = any(is_reference_name(name) for name in samples)
    fingerprint = python_fingerprint(
        producer="perfslo run", protocol=COMMAND_PROTOCOL, reference=has_reference
    )
    fingerprint.update(runtime="command", runtime_version="")
    meta = make_metadata(cwd=config.root, source="perfslo run", fingerprint=fingerprint)
    meta["commands"] = {slo.name: slo.command for slo in chosen if slo.command}
    path = write_run(artifacts, build_run_document(samples, meta))
    print(f"Run written: {path}")
    _push(path, config.history_url)
    return 2 if failures else 0


def _push(path: Path, history_url: str | None) -> None:
    """With a shared history configured, push the run there too (a failure only warns)."""
    from perfslo_tui.runs.pg import push_new_runs

    note = push_new_runs([path], history_url, os.environ)
    if note is not None:
        print(f"perfslo: {note}", file=sys.stderr if note.startswith("warning") else sys.stdout)
