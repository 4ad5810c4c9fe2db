"""pytest plugin: a ``perf`` fixture that collects samples into one run artifact.

Collection is on with ``--perf-collect`` or ``PERF_COLLECT=true``; otherwise
the fixture still works (it times nothing and writes nothing; ``bench`` calls
the function once so the code is still exercised), so benchmark tests run as
ordinary tests at no cost. At session end the samples of all tests are
written as one run, atomically, and a status line per SLO is shown.

pytest-xdist: collection refuses to run with ``-n`` (in the controller, and
in any worker), with a one-line message: tests running in parallel on the
same cores disturb each other's timings, so a merged run would be noise.
Run the performance tests with ``-p no:xdist`` or ``-n 0``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_TRUE = {"1", "true", "yes", "on"}
_KEY = pytest.StashKey["PerfSession"]()


class PerfSession:
    """The session-wide collector behind the ``perf`` fixture."""

    def __init__(self, enabled: bool, artifacts: Path | None, config_path: Path | None) -> None:
        self.enabled = enabled
        self.artifacts = artifacts
        self.config_path = config_path
        self._measurement: Any = None
        self.written: Path | None = None
        self.error: str | None = None

    @property
    def measurement(self) -> Any:
        """The underlying :class:`~perfslo_tui.collect.measure.PerfMeasurement` (created lazily)."""
        if self._measurement is None:
            from perfslo_tui.collect.measure import PerfMeasurement
            from perfslo_tui.config import load_config

            config = load_config(self.config_path)
            self._measurement = PerfMeasurement(config, self.artifacts)
        return self._measurement


class PerfFixture:
    """What a test gets as ``perf``: LUASCRIPT's measure / time / bench calls."""

    def __init__(self, session: PerfSession, request: pytest.FixtureRequest | None = None) -> None:
        self._session = session
        self._request = request

    @property
    def enabled(self) -> bool:
        """True when samples are being collected."""
        return self._session.enabled

    def measure(self, slo: str, ms: float) -> None:
        """Record one sample (ms) for ``slo``."""
        if self.enabled:
            self._session.measurement.measure(slo, ms)

    def bench(self, slo: str, fn: Callable[[], Any], **options: Any) -> Any:
        """Time ``fn`` with warm-up and calibration; without collection, call it once.

        Returns:
            The :class:`~perfslo_tui.collect.measure.BenchResult`, or None when not collecting.
        """
        if not self.enabled:
            fn()
            return None
        measurement = self._session.measurement
        if self._request is not None:
            # Counting instructions re-runs this one test under valgrind.
            measurement.count_argv = [
                sys.executable,
                "-m",
                "pytest",
                self._request.node.nodeid,
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:xdist",
                "--perf-collect",
            ]
            measurement.count_cwd = self._request.config.rootpath
        return measurement.bench(slo, fn, **options)

    def loop(self, slo: str, **options: Any) -> Iterator[int]:
        """Time the body of a ``for`` loop (see ``PerfMeasurement.loop``); once without collection."""
        if not self.enabled:
            return iter((0,))
        return self._session.measurement.loop(slo, **options)  # type: ignore[no-any-return]

    def time(self, slo: str) -> Any:
        """Context manager timing its block as one sample."""
        import contextlib

        if not self.enabled:
            return contextlib.nullcontext()
        return self._session.measurement.time(slo)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--perf-collect`` and ``--perf-artifacts``."""
    group = parser.getgroup("perfslo", "performance SLO collection")
    group.addoption(
        "--perf-collect",
        action="store_true",
        default=False,
        help="collect `perf` fixture samples and write one run artifact (or PERF_COLLECT=true)",
    )
    group.addoption(
        "--perf-instructions",
        action="store_true",
        default=False,
        help="also count each benchmark's instructions under valgrind (slow; deterministic)",
    )
    group.addoption(
        "--perf-artifacts", default=None, help="artifacts folder for the run (default: $PERFSLO_ARTIFACTS)"
    )
    group.addoption("--perf-config", default=None, help="perfslo config file (default: $PERFSLO_CONFIG)")


def pytest_configure(config: pytest.Config) -> None:
    """Set up the session collector."""
    enabled = bool(config.getoption("--perf-collect")) or os.environ.get("PERF_COLLECT", "").lower() in _TRUE
    if config.getoption("--perf-instructions"):
        # Read by PerfMeasurement.bench, here and in the re-run under valgrind.
        os.environ["PERFSLO_INSTRUCTIONS"] = "1"
    artifacts = config.getoption("--perf-artifacts") or os.environ.get("PERFSLO_ARTIFACTS")
    # perfslo sets both variables for the bench command it runs (the gate's
    # --confirm re-runs, the monitor's r): the run must land where it reads.
    config_path = config.getoption("--perf-config") or os.environ.get("PERFSLO_CONFIG")
    workers = config.getoption("numprocesses", None) if enabled else None
    if enabled and (hasattr(config, "workerinput") or workers not in (None, 0, "0")):
        raise pytest.UsageError(
            "perfslo: --perf-collect does not run under pytest-xdist "
            "(parallel tests disturb each other's timings); run with -p no:xdist or -n 0"
        )
    session = PerfSession(
        enabled,
        Path(artifacts).resolve() if artifacts else None,
        Path(config_path).resolve() if config_path else None,
    )
    if enabled:
        from perfslo_tui.config import ConfigError

        # A bad config is a one-line usage error now, not a traceback in
        # every test that uses the fixture.
        try:
            _ = session.measurement
        except ConfigError as exc:
            raise pytest.UsageError(f"perfslo: {exc}") from None
    config.stash[_KEY] = session


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> PerfFixture:
    """Collect timing samples for SLOs (see the module docstring)."""
    return PerfFixture(request.config.stash[_KEY], request)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the collected samples as one run artifact."""
    perf_session = session.config.stash.get(_KEY, None)
    if perf_session is None or not perf_session.enabled or perf_session._measurement is None:
        return
    measurement = perf_session.measurement
    if measurement.profiling is not None:  # perfslo asked for a profile (PERFSLO_PROFILE): no run
        try:
            perf_session.written = measurement.profiling.write()
        except OSError as exc:
            perf_session.error = str(exc)
        return
    if not measurement.samples and not measurement.metric_samples:
        return
    try:
        perf_session.written = measurement.write(source="pytest")
    except (OSError, ValueError) as exc:
        perf_session.error = str(exc)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A status line per SLO and where the run was written."""
    perf_session = config.stash.get(_KEY, None)
    if perf_session is None or not perf_session.enabled:
        return
    terminalreporter.section("perfslo")
    if perf_session.error:
        terminalreporter.write_line(f"perfslo: could not write the run: {perf_session.error}")
        return
    measured = perf_session._measurement
    if measured is not None and measured.profiling is not None:
        profiler = measured.profiling
        slo = profiler.request.slo
        if perf_session.written is None:
            line = f"perfslo: nothing profiled: no test measured {slo!r} with the `perf` fixture"
        else:
            line = f"perfslo: profiled {slo} ({profiler.calls} calls) into {perf_session.written}"
        terminalreporter.write_line(line)
        return
    if measured is None or not (measured.samples or measured.metric_samples):
        # Say why: a collection error is not "no test used the fixture".
        errors = terminalreporter.stats.get("error", [])
        collect_errors = [r for r in errors if isinstance(r, pytest.CollectReport)]
        only = os.environ.get("PERFSLO_SLO")
        if collect_errors:
            count = len(collect_errors)
            terminalreporter.write_line(
                f"perfslo: no run written: pytest could not collect the tests ({count} collection "
                f"error{'s' if count != 1 else ''}, shown above)"
            )
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            terminalreporter.write_line("perfslo: no run written: the test session was interrupted")
        elif only:
            terminalreporter.write_line(f"perfslo: no samples for PERFSLO_SLO={only}: no test measured it")
        else:
            terminalreporter.write_line("perfslo: no samples collected (no test used the `perf` fixture)")
        return
    from perfslo_tui.runs.steady import steady_values
    from perfslo_tui.runs.summary import summarize
    from perfslo_tui.text import format_ms, format_percent, printable
    from perfslo_tui.verdict.rules import budget_status

    measurement = perf_session.measurement
    for name, samples in measurement.samples.items():
        median = summarize(steady_values(samples)).median
        slo = measurement.config.slos.get(name)
        if slo is None:
            status = f"❔ no budget  {format_ms(median)}ms"
        else:
            check = budget_status(median, slo.budget_ms, slo.tolerance)
            status = (
                f"{check.status.icon} {check.status.value:<9} {format_ms(median)}ms of "
                f"{format_ms(slo.budget_ms)}ms ({format_percent(check.percent_of_budget)})"
            )
        terminalreporter.write_line(f"{printable(name, 40):<32} {status}  n={len(samples)}")
    from perfslo_tui.runs.files import series_unit
    from perfslo_tui.text import format_value

    for name, samples in measurement.metric_samples.items():
        median = summarize(samples).median
        line = f"{printable(name, 40):<32} {format_value(median, series_unit(name))}  n={len(samples)}"
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"perfslo: wrote {perf_session.written}")
    if measurement.push_note is not None:
        terminalreporter.write_line(f"perfslo: {measurement.push_note}")
