"""What is missing before there is anything to show, and the one command that fixes it.

Every "nothing here" state (no config, no SLOs, no bench command, no runs)
is named by :func:`next_step`, in the order a newcomer meets them; the CLI
prints it as its one error line and the monitor shows it in place of the
cards. Each says what is missing and the one thing to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfslo_tui.config import Config
from perfslo_tui.runs.history import RunHistory


@dataclass(frozen=True, slots=True)
class NextStep:
    """A missing piece and its fix.

    Attributes:
        missing: What is missing, naming the file or folder.
        fix: The one command that fixes it (for the CLI).
        key: The same for the monitor (a key to press), when there is one.
    """

    missing: str
    fix: str
    key: str | None = None

    def line(self) -> str:
        """``<missing>: run `<fix>```, for the CLI."""
        return f"{self.missing}: run `{self.fix}`"

    def tui_line(self) -> str:
        """The same for the monitor, where a key can do it."""
        if self.key is not None:
            return f"{self.missing}: press {self.key}"
        return f"{self.missing}: run `{self.fix}` in a terminal (this monitor reloads the config)"


def _folder(config: Config) -> str:
    folder = config.artifacts_dir
    try:
        return str(folder.relative_to(config.root)) + "/"
    except ValueError:
        return str(folder) + "/"


def no_config(config: Config) -> NextStep:
    """No config file was found from the folder perfslo started in."""
    return NextStep(
        f"no perfslo config in {config.root} (perfslo.toml, or [tool.perfslo] in pyproject.toml)",
        "perfslo init",
    )


def next_step(config: Config, history: RunHistory | None) -> NextStep | None:
    """The first missing piece, or None when there are runs to show.

    Args:
        config: The loaded config.
        history: The loaded artifacts folder (None: not loaded yet, treated as empty).
    """
    runs = history.run_count if history is not None else 0
    if runs:
        return None
    if config.path is None:
        return no_config(config)
    if not config.slos:
        return NextStep(
            f"{config.path} declares no SLOs",
            "perfslo init --force" if config.path.name == "perfslo.toml" else f"$EDITOR {config.path}",
        )
    folder = _folder(config)
    if config.artifacts_dir.is_dir():
        what = f"no runs in {folder} yet"
    else:
        what = f"the artifacts folder {folder} does not exist yet"
    if not config.bench_command:
        if any(slo.command for slo in config.slos.values()):
            return NextStep(f"{what} (and no bench_command in {config.path.name})", "perfslo run")
        return NextStep(
            f"{what}, and {config.path.name} has no bench_command to make some",
            "perfslo init --force" if config.path.name == "perfslo.toml" else f"$EDITOR {config.path}",
        )
    return NextStep(what, "perfslo bench", key="r to run the bench command")


def require_bench_command(config: Config) -> None:
    """Raise the usage error that says how to get a bench command, when there is none.

    Raises:
        BenchCommandError: When no bench command is configured.
    """
    if config.bench_command:
        return
    from perfslo_tui.actions.bench import BenchCommandError

    if config.path is None:
        raise BenchCommandError(no_config(config).line())
    raise BenchCommandError(
        f"{config.path}: no bench_command configured: set one (`perfslo init` in a fresh folder proposes one)"
    )
