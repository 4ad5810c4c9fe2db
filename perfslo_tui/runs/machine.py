"""Which machine a run was measured on: a short key made from the host facts it records.

Runs of different machines are never compared unless the user asks
(``--machine all``, the monitor's ``M`` key), so every run carries a machine
key. It is made from what ``metadata.host`` records about the hardware and
the operating system, never from the host name: CI runners get a new name
per job while being the same kind of machine. ``PERFSLO_MACHINE`` (recorded
as ``host.label``) names a machine explicitly and wins over the facts, for
two machines the facts cannot tell apart.

The kernel release is left out on purpose: a kernel update would otherwise
start a new machine with no baseline every few weeks on CI runners and
laptops alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

UNKNOWN = "unknown"
# The host facts that identify a kind of machine (see the module docstring). A CPU model
# would tell more, but runs do not record one yet; adding it later starts new keys.
KEY_FACTS = ("cpu", "cpu_count", "system")
_LABEL_RE = re.compile(r"[^0-9A-Za-z._-]+")


class MachineError(ValueError):
    """A machine choice (``--machine``) that names no machine of the history."""


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """One machine of a history.

    Attributes:
        key: Its machine key.
        description: What it is (:func:`describe_host`).
        runs: How many runs it has, when counted.
        last_ts_ms: When its newest run was measured.
    """

    key: str
    description: str
    runs: int | None
    last_ts_ms: int


def _host(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    host = metadata.get("host")
    return host if isinstance(host, Mapping) else {}


def _facts(host: Mapping[str, Any]) -> dict[str, Any]:
    os_name = host.get("os")
    facts: dict[str, Any] = {
        "cpu_model": host.get("cpu_model"),
        "cpu": host.get("cpu"),
        "cpu_count": host.get("cpu_count"),
        # "Linux 6.8.0-1017-azure" -> "Linux": the system, not the kernel release.
        "system": os_name.split()[0] if isinstance(os_name, str) and os_name.split() else None,
    }
    return {key: value for key, value in facts.items() if isinstance(value, str | int) and value != ""}


def machine_label(metadata: Mapping[str, Any]) -> str | None:
    """The explicit machine name a run records (``PERFSLO_MACHINE``), made safe, or None."""
    label = _host(metadata).get("label")
    if not isinstance(label, str):
        return None
    clean = _LABEL_RE.sub("-", label.strip())[:40].strip("-")
    return clean or None


def _key_facts(host: Mapping[str, Any]) -> dict[str, Any]:
    facts = _facts(host)
    return {key: facts[key] for key in KEY_FACTS if key in facts}


def machine_key(metadata: Mapping[str, Any]) -> str:
    """The machine key of a run's metadata.

    Returns:
        The explicit label when the run records one, else the first 12 hex
        digits of the SHA-256 of the host facts, else ``unknown`` (a run
        that records no host, such as one written by another tool).
    """
    label = machine_label(metadata)
    if label is not None:
        return label
    facts = _key_facts(_host(metadata))
    if not facts:
        return UNKNOWN
    return hashlib.sha256(orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def describe_host(host: Mapping[str, Any]) -> str:
    """What a machine is, in a few words: ``x86_64 ×2 · Linux`` (for lists and status lines)."""
    facts = _facts(host)
    parts = []
    cpu = facts.get("cpu_model") or facts.get("cpu")
    if cpu:
        parts.append(str(cpu) + (f" ×{facts['cpu_count']}" if "cpu_count" in facts else ""))
    elif "cpu_count" in facts:
        parts.append(f"{facts['cpu_count']} CPUs")
    if "system" in facts:
        parts.append(str(facts["system"]))
    return " · ".join(parts) if parts else "no host facts recorded"


def this_machine() -> str:
    """The machine key of this host, as a run measured here now would record it."""
    from perfslo_tui.runs.metadata import host_info

    return machine_key({"host": host_info()})
