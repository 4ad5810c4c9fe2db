"""The interleaved A/B decision rule: same / regressed / improved / unknown, on constructed pairs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from perfslo_tui.verdict.ab import (
    MAX_SUGGESTED_PAIRS,
    ABVerdict,
    SequentialAB,
    decide,
    pairs_to_settle,
    run_level,
)


def pairs(change: float, sd: float, n: int, seed: int = 1) -> list[float]:
    """``n`` pair differences around ``log(1 + change)``: a normal spread, as measured pairs are."""
    rng = np.random.default_rng(seed)
    return list(math.log1p(change) + rng.normal(0.0, sd, n))


def test_a_clear_slowdown_is_regressed_with_an_interval_above_zero() -> None:
    decision = decide(pairs(0.15, 0.03, 8), tolerance=0.05)
    assert decision.verdict is ABVerdict.REGRESSED
    assert 0 < decision.ci_low < 0.15 < decision.ci_high
    assert decision.settled and decision.action is None
    assert decision.message.startswith("regressed +")


def test_a_clear_speed_up_is_improved() -> None:
    decision = decide(pairs(-0.15, 0.03, 8), tolerance=0.05)
    assert decision.verdict is ABVerdict.IMPROVED
    assert decision.ci_high < 0


def test_unchanged_code_is_same_once_the_interval_fits_in_the_tolerance() -> None:
    decision = decide(pairs(0.0, 0.02, 16), tolerance=0.05)
    assert decision.verdict is ABVerdict.SAME
    assert -0.05 < decision.ci_low and decision.ci_high < 0.05
    assert "within ±5%" in decision.message


def test_a_small_real_change_inside_the_tolerance_is_same_not_regressed() -> None:
    # +1.5 % measured precisely: significant, but inside ±5 %: the equivalence test wins.
    decision = decide(pairs(0.015, 0.005, 12), tolerance=0.05)
    assert decision.ci_low > 0
    assert decision.verdict is ABVerdict.SAME


def test_few_or_noisy_pairs_are_unknown_and_not_settled() -> None:
    assert decide([], tolerance=0.05).verdict is ABVerdict.UNKNOWN
    early = decide(pairs(0.15, 0.03, 3), tolerance=0.05)  # before the first look (4 pairs)
    assert early.verdict is ABVerdict.UNKNOWN and not early.settled
    noisy = decide(pairs(0.0, 0.2, 8), tolerance=0.05, max_pairs=20)
    assert noisy.verdict is ABVerdict.UNKNOWN and not noisy.settled
    assert noisy.message.startswith("measuring:")


def test_looks_happen_only_after_whole_abba_blocks() -> None:
    data = pairs(0.3, 0.01, 5)
    assert decide(data[:5], tolerance=0.05).verdict is ABVerdict.UNKNOWN  # odd: mid-block
    assert decide(data[:4], tolerance=0.05).verdict is ABVerdict.REGRESSED


def test_the_budget_cap_settles_an_unknown_with_the_pairs_that_would_decide() -> None:
    data = pairs(0.04, 0.04, 12, seed=3)  # close to the tolerance, noisy
    decision = decide(data, tolerance=0.05, max_pairs=12)
    assert decision.verdict is ABVerdict.UNKNOWN and decision.settled
    if decision.pairs_needed is not None:
        assert decision.pairs_needed > 12
        assert decision.action == f"raise the pair budget to {decision.pairs_needed}"
        assert f"about {decision.pairs_needed} pairs would settle it" in decision.message
    else:
        assert "pairs would be needed" in decision.message


def test_sequential_procedure_stops_at_the_budget() -> None:
    procedure = SequentialAB(tolerance=0.05, max_pairs=10)
    decision = None
    wild = [0.3 * (-1) ** i * (1 + 0.1 * (i % 3)) for i in range(30)]  # ±30 %: never decides
    for d in wild:
        decision = procedure.add_difference(d)
        if decision.settled:
            break
    assert decision is not None
    assert decision.pairs == 10 and decision.settled and decision.verdict is ABVerdict.UNKNOWN


def test_monotone_in_the_measured_change() -> None:
    # Shifting every pair up moves the estimate and interval up, and the verdict only
    # from improved, through same/unknown, to regressed: never back.
    base = pairs(0.0, 0.02, 12, seed=7)
    rank = {ABVerdict.IMPROVED: 0, ABVerdict.SAME: 1, ABVerdict.UNKNOWN: 1, ABVerdict.REGRESSED: 2}
    decisions = [decide([d + shift for d in base], tolerance=0.05) for shift in np.linspace(-0.3, 0.3, 31)]
    ranks = [rank[d.verdict] for d in decisions]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0 and ranks[-1] == 2 and 1 in ranks
    lows = [d.ci_low for d in decisions]
    assert lows == sorted(lows)


def test_more_noise_never_gives_a_narrower_interval() -> None:
    widths = []
    for sd in (0.01, 0.02, 0.04, 0.08):
        d = decide(pairs(0.0, sd, 12, seed=5), tolerance=0.05)
        widths.append(d.ci_high - d.ci_low)
    assert widths == sorted(widths)


def test_a_few_wild_pairs_do_not_decide_or_blow_up_the_interval() -> None:
    # 16 pairs at +15 % with two hit by a burst of load (one each way).
    data = pairs(0.15, 0.02, 16, seed=11)
    data[3] += 0.9
    data[9] -= 0.9
    decision = decide(data, tolerance=0.05)
    assert decision.verdict is ABVerdict.REGRESSED
    assert 0.10 < decision.change < 0.20


def test_pairs_to_settle_grows_with_noise_and_vanishes_past_the_cap() -> None:
    small = pairs_to_settle(0.02, 0.0, 0.05)
    large = pairs_to_settle(0.06, 0.0, 0.05)
    assert small is not None and large is not None and small < large
    # A change at the tolerance can still be shown to be a change.
    assert pairs_to_settle(0.05, 0.05, 0.05) is not None
    # A null change under 30 % noise cannot be shown within ±5 % in a sensible number of pairs.
    assert pairs_to_settle(0.3, 0.0, 0.05) is None
    assert (pairs_to_settle(0.0001, 0.0, 0.05) or 0) <= MAX_SUGGESTED_PAIRS


def test_steady_states_are_applied_and_unsettled_runs_left_out() -> None:
    procedure = SequentialAB(tolerance=0.05, max_pairs=20)
    flat = [1.0 + 0.01 * ((i * 7) % 5) for i in range(60)]
    warm = [3.0] * 20 + flat[:40]  # warm-up: 20 slow samples, then the flat level
    rising = [1.0 + 0.02 * i for i in range(60)]  # no steady state
    procedure.add_pair(flat, warm)
    assert procedure.differences == [pytest.approx(0.0, abs=0.02)]  # warm-up left out of the level
    assert procedure.last_states is not None and procedure.last_states[1].steady_from == 20
    procedure.add_pair(flat, rising)
    assert procedure.skipped == 1 and len(procedure.differences) == 1


def test_run_level_is_the_fastest_sample_over_the_reference_fastest() -> None:
    samples = [2.5, 2.0, 2.2, 9.0]  # one preempted sample; the fastest is the code's cost
    assert run_level(samples) == pytest.approx(math.log(2.0))
    # The same code in a process where the machine ran twice as slow: the reference cancels it.
    slow_machine = [2 * v for v in samples]
    reference, slow_reference = [1.0, 1.1, 1.0, 1.2], [2.0, 2.2, 2.0, 2.4]
    assert run_level(slow_machine, slow_reference) == pytest.approx(run_level(samples, reference))
    assert run_level(samples, [1.0, 1.0]) == run_level(samples)  # not paired: ignored


def test_references_are_used_only_when_both_sides_have_them() -> None:
    flat = [1.0 + 0.01 * ((i * 7) % 5) for i in range(40)]
    twice = [2 * v for v in flat]
    with_refs = SequentialAB()
    with_refs.add_pair(flat, twice, [1.0] * 40, [2.0] * 40)  # the machine was twice as slow for HEAD
    assert with_refs.differences == [pytest.approx(0.0)]
    one_sided = SequentialAB()
    one_sided.add_pair(flat, twice, [1.0] * 40, None)
    assert one_sided.differences == [pytest.approx(math.log(2.0))]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        decide([0.1], tolerance=0.0)
    with pytest.raises(ValueError, match="min_pairs"):
        decide([0.1], max_pairs=2, min_pairs=4)
    with pytest.raises(ValueError, match="finite"):
        decide([float("nan")])
    with pytest.raises(ValueError):
        run_level([])


@pytest.mark.parametrize("module", ["perfslo_tui.verdict.ab", "perfslo_tui.runs.steady"])
def test_verdict_modules_import_no_ui_no_actions_and_no_scipy_stats(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    forbidden = (
        "textual",
        "plotext",
        "perfslo_tui.tui",
        "perfslo_tui.report",
        "perfslo_tui.actions",
        "perfslo_tui.commands",
        "scipy.stats",  # ~1.9 s at start-up: imported inside the functions that need it
    )
    leaks = [name for name in loaded if any(name == f or name.startswith(f + ".") for f in forbidden)]
    assert leaks == []


def test_an_unknown_from_unsettled_runs_says_so_and_what_to_do() -> None:
    procedure = SequentialAB(tolerance=0.05, max_pairs=4)
    flat = [1.0 + 0.01 * ((i * 7) % 5) for i in range(60)]
    rising = [1.0 + 0.02 * i for i in range(60)]
    decision = None
    for _ in range(4):
        decision = procedure.add_pair(flat, rising)
    assert decision is not None and decision.settled and decision.verdict is ABVerdict.UNKNOWN
    assert decision.unsteady and "4 pairs left out because a run had no steady state" in decision.message
    assert decision.action is not None and "PERF_ITERATIONS" in decision.action
