"""Messages from the TUI's workers to its widgets: small dataclasses.

Workers never touch widgets; they post one of these and the app applies it
on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from perfslo_tui.actions.compare import CompareProgress, CompareResult
from perfslo_tui.config import Config
from perfslo_tui.profiles.model import Profile
from perfslo_tui.profiles.store import KeptComparison, ProfileRecord
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.tui.runner import RunOutcome
from perfslo_tui.verdict.model import Evaluation


@dataclass(eq=False)
class StoreUpdated(Message):
    """The store was refreshed and the latest run evaluated.

    Every instance carries the complete state, so a newer one replaces an
    older one still waiting in the queue (a burst of files is coalesced).
    """

    history: RunHistory
    evaluation: Evaluation
    seq: int

    def can_replace(self, message: Message) -> bool:
        """A newer full state makes an older one pointless."""
        return isinstance(message, StoreUpdated)


@dataclass(eq=False)
class CommandOutput(Message):
    """A batch of lines from the running bench command."""

    lines: list[str]


@dataclass(eq=False)
class CommandFinished(Message):
    """The bench command ended (by itself, failing, or cancelled)."""

    outcome: RunOutcome


@dataclass(eq=False)
class WatchState(Message):
    """The watcher is watching the folder (True) or waiting for it (False)."""

    watching: bool

    def can_replace(self, message: Message) -> bool:
        """Only the latest state matters."""
        return isinstance(message, WatchState)


@dataclass(eq=False)
class BaselineDone(Message):
    """Establishing a baseline ended: a one-line result for the status line."""

    text: str
    ok: bool


@dataclass(eq=False)
class CompareProgressed(Message):
    """The drill-down's compare moved on: a stage, a run, or a pair with new estimates."""

    progress: CompareProgress

    def can_replace(self, message: Message) -> bool:
        """Only the latest progress matters."""
        return isinstance(message, CompareProgressed)


@dataclass(eq=False)
class CompareFinished(Message):
    """The drill-down's compare ended: its result, or a one-line error, or cancelled."""

    result: CompareResult | None
    error: str | None = None
    cancelled: bool = False


@dataclass(eq=False)
class ConfigReloaded(Message):
    """The config file changed and was read again: the new config, or why it cannot be used."""

    config: Config | None
    error: str

    def can_replace(self, message: Message) -> bool:
        """Only the latest reading matters."""
        return isinstance(message, ConfigReloaded)


@dataclass(eq=False)
class ProfileProgress(Message):
    """The profile screen's worker moved on (checking out, profiling ...)."""

    text: str

    def can_replace(self, message: Message) -> bool:
        """Only the latest step matters."""
        return isinstance(message, ProfileProgress)


@dataclass(eq=False)
class ProfileFinished(Message):
    """A profile, a baseline profile or a diff is ready, or failed (one line), or was cancelled.

    ``kind`` is ``profile`` (the checkout), ``baseline`` (the baseline's
    commit, in a worktree) or ``diff``.
    """

    kind: str
    record: ProfileRecord | None
    error: str | None
    cancelled: bool
    profile: Profile | None = None
    comparison: KeptComparison | None = None


@dataclass(eq=False)
class SharedStatus(Message):
    """The shared history's listener: connected (``ok``), lost and reconnecting, or back."""

    text: str
    ok: bool

    def can_replace(self, message: Message) -> bool:
        """Only the latest state matters."""
        return isinstance(message, SharedStatus)


@dataclass(eq=False)
class SharedRun(Message):
    """Something arrived in the shared history: a run of ``machine``, or a baseline (``machine`` None)."""

    machine: str | None
    run_id: str | None
