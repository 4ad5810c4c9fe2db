"""Steady-state detection (runs/steady.py): a real Node.js JIT sequence, and hand-built cases."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from perfslo_tui.runs.steady import MIN_TESTED, SteadyClass, detect_steady

# A tokenizer and emitter: V8 runs it interpreted, then compiles it in tiers.
NODE_SEQUENCE = """\
'use strict';
const src = 'local x = a + b * (c - 42) / foo(bar, "str", 3.5) ; if x then y = x end\\n'.repeat(20);
function tokenize(s) {
  const out = []; let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10) { i++; continue; }
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) {
      let j = i; while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      out.push({ t: 'id', v: s.slice(i, j) }); i = j; continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i; while (j < s.length && /[0-9.]/.test(s[j])) j++;
      out.push({ t: 'num', v: parseFloat(s.slice(i, j)) }); i = j; continue;
    }
    if (c === 34) {
      let j = i + 1; while (s[j] !== '"') j++;
      out.push({ t: 'str', v: s.slice(i + 1, j) }); i = j + 1; continue;
    }
    out.push({ t: 'op', v: s[i] }); i++;
  }
  return out;
}
const work = () => tokenize(src).map((t) => String(t.v)).join(' ');
for (let i = 0; i < 10; i++) work();  // a fixed 10-call warm-up, as the Node example had
const samples = [];
for (let s = 0; s < 200; s++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 16; i++) work();
  samples.push(Number(process.hrtime.bigint() - t0) / 16e6);
}
console.log(JSON.stringify(samples));
"""


def record_node(tmp_path: Path) -> list[float]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the live Node.js sequences need node >= 18 on PATH")
    script = tmp_path / "sequence.js"
    script.write_text(NODE_SEQUENCE)
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=120, check=True)
    samples: list[float] = json.loads(done.stdout)
    return samples


def test_real_node_jit_warm_up_is_found_and_left_out(tmp_path: Path) -> None:
    samples = record_node(tmp_path)
    state = detect_steady(samples)
    # Found either way: cut off (warm-up), or, when the JIT was still at work past the
    # first half of the run, reported as no steady state. Never taken as flat.
    assert state.kind in (SteadyClass.WARMUP, SteadyClass.NO_STEADY_STATE), state.message
    if state.kind is SteadyClass.NO_STEADY_STATE:
        assert state.change < 0 and "still falling" in state.message
        return
    assert state.steady_from >= 5
    assert state.message.startswith(f"steady after {state.steady_from} of 200 samples")
    assert state.change > 0.05  # the left-out head was materially slower
    assert len(state.samples) == 200 - state.steady_from
    # The steady level is below the warm-up's: the plain median of the run would be biased up.
    assert float(np.median(state.samples)) < float(np.median(samples[: state.steady_from]))


def noise(n: int, seed: int = 3, sd: float = 0.02) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, sd, n))


def test_flat_noise_is_flat() -> None:
    state = detect_steady(noise(200))
    assert state.kind is SteadyClass.FLAT and state.steady_from == 0
    assert state.message == "steady from the first of 200 samples"
    assert len(state.samples) == 200


def test_a_step_down_after_40_samples_is_warm_up_cut_at_40() -> None:
    samples = noise(200) * np.r_[np.full(40, 1.5), np.ones(160)]
    state = detect_steady(samples)
    assert state.kind is SteadyClass.WARMUP
    assert state.steady_from == 40
    assert state.change == pytest.approx(0.5, abs=0.05)
    assert state.message.startswith("steady after 40 of 200 samples (warm-up: first 40 ")
    assert state.message.endswith("% slower)")


def test_tiered_warm_up_is_peeled_off_in_steps() -> None:
    # 4x for 10 samples, then 1.3x for 40 (a first tier), then steady.
    samples = noise(200) * np.r_[np.full(10, 4.0), np.full(40, 1.3), np.ones(150)]
    state = detect_steady(samples)
    assert state.kind is SteadyClass.WARMUP
    assert state.steady_from == 50


def test_a_faster_start_is_a_slowdown() -> None:
    samples = noise(200) * np.r_[np.full(30, 0.7), np.ones(170)]
    state = detect_steady(samples)
    assert state.kind is SteadyClass.SLOWDOWN and state.steady_from == 30
    assert "faster" in state.message


def test_a_trend_to_the_end_is_no_steady_state() -> None:
    falling = noise(200) * np.linspace(2.0, 1.0, 200)
    state = detect_steady(falling)
    assert state.kind is SteadyClass.NO_STEADY_STATE and not state.steady
    assert state.samples == () and state.steady_from == 200
    assert state.change < 0 and "still falling" in state.message
    rising = detect_steady(noise(200) * np.linspace(1.0, 1.5, 200))
    assert rising.kind is SteadyClass.NO_STEADY_STATE and "still rising" in rising.message


def test_ordinary_noise_is_not_warm_up() -> None:
    # Garbage-collector spikes every few samples, and a machine at two speeds sample by sample.
    spikes = noise(200) * np.where(np.arange(200) % 7 == 0, 3.0, 1.0)
    assert detect_steady(spikes).kind is SteadyClass.FLAT
    two_speeds = noise(200) * np.where(np.random.default_rng(5).random(200) < 0.3, 0.7, 1.0)
    assert detect_steady(two_speeds).kind is SteadyClass.FLAT
    small_drift = noise(200) * np.linspace(1.02, 1.0, 200)  # 2 % over the run: below the margin
    assert detect_steady(small_drift).kind is SteadyClass.FLAT


def test_too_few_samples_are_not_tested() -> None:
    state = detect_steady([3.0, 2.0, 1.0])
    assert not state.tested and state.kind is SteadyClass.FLAT and state.samples == (3.0, 2.0, 1.0)
    assert f"need {MIN_TESTED}" in state.message


def test_bad_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="positive finite"):
        detect_steady([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="positive finite"):
        detect_steady([1.0, float("nan")])
