"""Whether two runs can be compared at all: their measurement fingerprints.

A run records how it was measured (``metadata.fingerprint``, see
:mod:`perfslo_tui.runs.metadata`). Two runs whose fingerprints differ in
what matters are **not comparable**: the change between them says more about
the setup than about the code, so no regression verdict is given and the
baseline line says how to re-establish.

What matters, and why (a field counts only when both runs record it, so
older runs without a fingerprint stay comparable with everything):

* **producer** and **protocol**: different harnesses take different samples
  (a whole process's wall time against a calibrated in-process loop; a fixed
  10-call warm-up against a warm-up until steady);
* **runtime** and its **release line** (Node.js: the major version, which
  fixes the V8 generation; every other runtime: major.minor, e.g. Python
  3.10 against 3.11, which CPython's release notes give as 1.25× faster on
  average over the pyperformance suite); a patch release (3.11.4 → 3.11.9,
  Node 20.10 → 20.18) does not matter;
* **CPU model** and **core count**: absolute times are only comparable on
  the same kind of machine (hosted CI runners land on different CPU models
  from one job to the next);
* **OS family** (Linux, Darwin, Windows): a kernel update within a family
  does not matter (CI images update it every few weeks).

What does **not** matter: the sample count and ``PERF_ITERATIONS`` (the
steady state is detected and the warm-up left out, so 30 and 200 samples
measure the same level: ``docs/verdicts.md`` has the measurement), the
inner-loop count (the calibration picks it from the code's own speed, so a
slower commit gets fewer calls per sample: it changes with the very thing
being measured), the producer's version (a release that changes how samples
are taken bumps the protocol instead), and whether a reference series was
timed (the comparison then uses raw medians and says so).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson

# Runtimes whose release line is the major version alone.
MAJOR_ONLY = frozenset({"node", "nodejs", "deno", "bun"})


@functools.lru_cache(maxsize=256)
def parse_fingerprint(text: str) -> Mapping[str, Any]:
    """A fingerprint from the table's canonical JSON (empty for none or garbage)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def release_line(runtime: str, version: str) -> str:
    """The part of a runtime version that matters: major (Node.js) or major.minor."""
    parts = version.strip().lstrip("v").split(".")
    keep = 1 if runtime.lower() in MAJOR_ONLY else 2
    return ".".join(parts[:keep])


def os_family(text: str) -> str:
    """``Linux 6.8.0-45-generic`` → ``Linux``."""
    return text.split()[0] if text.split() else ""


def _both(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> tuple[Any, Any] | None:
    if key in a and key in b:
        return a[key], b[key]
    return None


@functools.lru_cache(maxsize=1024)
def _differences(current: str, reference: str) -> tuple[tuple[str, str], ...]:
    """``(short name, phrase)`` per difference that matters (see :func:`differences`)."""
    if current == reference or not current or not reference:
        return ()
    cur, ref = parse_fingerprint(current), parse_fingerprint(reference)
    found: list[tuple[str, str]] = []
    for key in ("producer", "protocol"):
        pair = _both(ref, cur, key)
        if pair is not None and pair[0] != pair[1]:
            found.append((key, f"{key} {pair[0]} → {pair[1]}"))
    runtime = _both(ref, cur, "runtime")
    if runtime is not None and runtime[0] != runtime[1]:
        found.append(("runtime", f"runtime {runtime[0]} → {runtime[1]}"))
    elif runtime is not None:
        versions = _both(ref, cur, "runtime_version")
        if versions is not None:
            old, new = (release_line(str(runtime[0]), str(v)) for v in versions)
            if old != new:
                found.append((str(runtime[0]), f"{runtime[0]} {versions[0]} → {versions[1]}"))
    pair = _both(ref, cur, "cpu_model")
    if pair is not None and pair[0] != pair[1]:
        found.append(("CPU model", f"CPU model {pair[0]} → {pair[1]}"))
    pair = _both(ref, cur, "cpu_count")
    if pair is not None and pair[0] != pair[1]:
        found.append(("cores", f"{pair[0]} → {pair[1]} cores"))
    pair = _both(ref, cur, "os")
    if pair is not None and os_family(str(pair[0])) != os_family(str(pair[1])):
        found.append(("OS", f"OS {os_family(str(pair[0]))} → {os_family(str(pair[1]))}"))
    return tuple(found)


def differences(current: str, reference: str) -> tuple[str, ...]:
    """What differs, in what matters, between two runs' fingerprints (canonical JSON).

    Args:
        current: The judged run's fingerprint.
        reference: The reference run's (baseline, previous run).

    Returns:
        One short phrase per difference, reference first
        (``CPU model Intel Xeon 8370C → AMD EPYC 7763``); empty when
        comparable.
    """
    return tuple(phrase for _name, phrase in _differences(current, reference))


def differing_fields(current: str, reference: str) -> tuple[str, ...]:
    """What differs, as short names (``CPU model``, ``cores``, ``node``), for narrow places."""
    return tuple(name for name, _phrase in _differences(current, reference))


def comparable(current: str, reference: str) -> bool:
    """True when nothing that matters differs between the two fingerprints."""
    return not differences(current, reference)
