"""The project's bench command: building it and running it to completion.

The only command perfslo ever runs is the one in the project's own config
(``bench_command``), optionally narrowed to one SLO through a ``{slo}``
placeholder. The SLO name is shell-quoted when substituted, so a name read
from a run file can never inject shell syntax.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from perfslo_tui.config import Config

SLO_PLACEHOLDER = "{slo}"


class BenchCommandError(Exception):
    """The bench command is missing, or failed."""


def supports_single_slo(config: Config) -> bool:
    """True when the bench command can run one SLO (has ``{slo}``)."""
    return bool(config.bench_command and SLO_PLACEHOLDER in config.bench_command)


def build_command(config: Config, slo: str | None = None) -> str:
    """The shell command to run: all SLOs, or only ``slo`` when supported.

    Without ``slo`` a ``{slo}`` placeholder is removed along with the option
    word right before it when that word starts with ``-`` (``--slo {slo}``).

    Raises:
        BenchCommandError: When no bench command is configured.
    """
    command = config.bench_command
    if not command:
        where = config.path or "the config"
        raise BenchCommandError(f"{where}: no bench_command configured")
    if SLO_PLACEHOLDER not in command:
        return command
    if slo is not None:
        return command.replace(SLO_PLACEHOLDER, shlex.quote(slo))
    words = shlex.split(command)
    kept: list[str] = []
    for word in words:
        if word == SLO_PLACEHOLDER:
            if kept and kept[-1].startswith("-"):
                kept.pop()
            continue
        kept.append(word.replace(SLO_PLACEHOLDER, ""))
    return shlex.join(kept)


def command_env(config: Config) -> dict[str, str]:
    """Environment for the bench command: ours plus where to write runs."""
    env = dict(os.environ)
    env["PERFSLO_ARTIFACTS"] = str(config.artifacts_dir)
    if config.path is not None:
        env["PERFSLO_CONFIG"] = str(config.path)
    return env


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a bench command ended."""

    command: str
    returncode: int
    output_tail: str


def run_to_completion(config: Config, slo: str | None = None, timeout: float | None = None) -> CommandResult:
    """Run the bench command, wait for it, and keep the tail of its output.

    Raises:
        BenchCommandError: When no command is configured, it cannot start,
            it times out, or it exits non-zero.
    """
    command = build_command(config, slo)
    try:
        completed = subprocess.run(
            command,
            shell=True,
            cwd=config.root,
            env=command_env(config),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchCommandError(f"bench command timed out after {timeout:.0f}s: {command}") from None
    except OSError as exc:
        raise BenchCommandError(f"cannot start bench command {command!r}: {exc.strerror}") from None
    tail = completed.stdout.decode(errors="replace")[-2000:]
    result = CommandResult(command, completed.returncode, tail)
    if completed.returncode != 0:
        last = tail.strip().splitlines()[-1:] or [""]
        raise BenchCommandError(f"bench command exited {completed.returncode}: {command}: {last[0][:200]}")
    return result


def artifacts_from_env(default: Path) -> Path:
    """``PERFSLO_ARTIFACTS`` when set (perfslo sets it for its bench command)."""
    value = os.environ.get("PERFSLO_ARTIFACTS")
    return Path(value) if value else default
