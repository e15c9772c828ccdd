"""Verdicts with the uncertainty the seeds allow (ortho_suite/report/verdicts.py): the Student t
interval against scipy.stats and a printed t table, holds / fails / inconclusive on hand-built
seed sets with known intervals, and claims paired by seed (ortho_suite/report/matching.py)."""
from __future__ import annotations

import math
import random

import pytest

from ortho_suite import runs
from ortho_suite.report import verdicts
from ortho_suite.report.matching import RunRecord, paired_differences

stats = pytest.importorskip("scipy.stats")

# Two-sided 95% critical values of Student's t as printed in every statistics table
# (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), 3 decimals: df -> t(0.975, df).
PRINTED_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228,
                30: 2.042, 100: 1.984}


@pytest.mark.parametrize("df", [*range(1, 31), 40, 60, 100, 1000])
def test_t_quantile_is_scipys(df):
    assert verdicts.t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-10)
    assert verdicts.t_quantile(0.995, df) == pytest.approx(stats.t.ppf(0.995, df), rel=1e-10)


@pytest.mark.parametrize("df,printed", PRINTED_T975.items())
def test_t_quantile_matches_the_printed_table(df, printed):
    assert round(verdicts.t_quantile(0.975, df), 3) == printed


@pytest.mark.parametrize("values", [[70.0, 71.0, 72.0], [1.0, 2.0, 4.0, 8.0], [55.5, 55.5, 56.0],
                                    [3.0, -1.0, 0.5, 2.25, 1.0, 0.0, 4.0]])
def test_interval_is_scipys_t_interval(values):
    ci = verdicts.interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                                 scale=stats.sem(values))
    assert (ci["low"], ci["high"]) == pytest.approx((low, high), rel=1e-10)
    assert ci["std"] == pytest.approx(stats.tstd(values)) and ci["n"] == len(values)


def test_interval_by_hand():
    """70, 71, 72: mean 71, sample std 1, half width 4.303 / sqrt(3) = 2.484."""
    ci = verdicts.interval([70.0, 71.0, 72.0])
    assert ci["mean"] == 71.0 and ci["std"] == 1.0
    assert ci["high"] - 71.0 == pytest.approx(4.3027 / math.sqrt(3), abs=1e-4)
    assert verdicts.interval([70.0]) == {"mean": 70.0, "std": 0.0, "n": 1, "low": None,
                                         "high": None}


# ---------------------------------------------------------------------------- cells

SEEDS3 = [70.0, 71.0, 72.0]  # interval [68.516, 73.484] (half width 2.4841)
HALF3 = stats.t.ppf(0.975, 2) / math.sqrt(3)


@pytest.mark.parametrize("published,expected", [
    (71.0, verdicts.WITHIN),                             # the mean itself
    (71.0 + HALF3 + 1.0 - 1e-9, verdicts.WITHIN),        # at the widened upper edge
    (71.0 + HALF3 + 1.0 + 1e-6, verdicts.OUTSIDE),       # just beyond it
    (71.0 - HALF3 - 1.0 + 1e-9, verdicts.WITHIN),
    (71.0 - HALF3 - 1.0 - 1e-6, verdicts.OUTSIDE),
    (80.0, verdicts.OUTSIDE),
])
def test_cell_within_when_the_widened_interval_holds_the_published_value(published, expected):
    assert verdicts.cell_verdict(SEEDS3, published, 1.0) == expected


def test_cell_without_spread_is_the_tolerance_alone():
    assert verdicts.cell_verdict([70.0] * 3, 71.0, 1.0) == verdicts.WITHIN
    assert verdicts.cell_verdict([70.0] * 3, 71.01, 1.0) == verdicts.OUTSIDE


@pytest.mark.parametrize("values", [[70.0], [70.0, 70.0], [10.0, 90.0]])
@pytest.mark.parametrize("published", [70.0, 0.0, 100.0])
def test_fewer_than_three_seeds_never_conclude(values, published):
    n = len(values)
    assert verdicts.MIN_SEEDS == 3
    assert verdicts.cell_verdict(values, published, 1.0) == (
        "inconclusive (1 seed)" if n == 1 else f"inconclusive ({n} seeds)")


@pytest.mark.parametrize("values,published,tolerance,diverged,expected", [
    ([], 71.0, 1.0, False, verdicts.NOT_RUN),
    ([70.0], None, 1.0, False, verdicts.UNAVAILABLE),
    ([70.0], 71.0, None, False, verdicts.NOT_COMPARED),
    (SEEDS3, 71.0, 1.0, True, verdicts.DIVERGED),        # a diverged seed outranks everything
    ([], None, 1.0, True, verdicts.DIVERGED),
])
def test_cell_precedence(values, published, tolerance, diverged, expected):
    assert verdicts.cell_verdict(values, published, tolerance, diverged) == expected


# ---------------------------------------------------------------------------- claims


def _ci(diffs):
    n = len(diffs)
    return stats.t.interval(0.95, n - 1, loc=sum(diffs) / n, scale=stats.sem(diffs))


@pytest.mark.parametrize("diffs,delta,sign,expected", [
    # claimed +3 with tolerance 1: holds when lo >= 2, fails when hi < 2
    ([3.0, 3.2, 2.8], 3.0, 1, verdicts.CLAIM_HOLDS),      # [2.50, 3.50]
    ([0.5, 0.7, 0.3], 3.0, 1, verdicts.CLAIM_FAILS),      # [0.00, 1.00]
    ([1.0, 3.0, 2.5], 3.0, 1, "inconclusive (interval spans +2.00)"),  # [-0.42, 4.75]
    ([9.0, 9.5, 8.5], 3.0, 1, verdicts.CLAIM_HOLDS),      # more than claimed: at least +2
    # claimed -2 (a loss) with tolerance 1: holds when the interval lies at or below -1
    ([-2.0, -2.2, -1.8], -2.0, -1, verdicts.CLAIM_HOLDS),
    ([0.1, 0.3, -0.1], -2.0, -1, verdicts.CLAIM_FAILS),
    # sign only: holds when lo > 0, fails when hi <= 0
    ([0.4, 0.5, 0.6], None, 1, verdicts.CLAIM_HOLDS),     # [0.25, 0.75]
    ([-0.4, -0.5, -0.6], None, 1, verdicts.CLAIM_FAILS),
    ([0.0, 0.0, 0.0], None, 1, verdicts.CLAIM_FAILS),     # no change is not an improvement
    ([0.5, -0.2, 0.3], None, 1, "inconclusive (interval spans +0.00)"),
    ([-0.4, -0.5, -0.6], None, -1, verdicts.CLAIM_HOLDS),  # "lowers": a negative difference
])
def test_claim_verdict_on_known_intervals(diffs, delta, sign, expected):
    low, high = _ci(diffs) if any(d != diffs[0] for d in diffs) else (diffs[0], diffs[0])
    lo, hi = (low, high) if sign > 0 else (-high, -low)
    threshold = 0.0 if delta is None else abs(delta) - 1.0
    if expected == verdicts.CLAIM_HOLDS:  # the hand rule agrees with scipy's interval
        assert lo >= threshold and (delta is not None or lo > 0)
    elif expected == verdicts.CLAIM_FAILS:
        assert hi < threshold or (delta is None and hi <= 0)
    else:
        assert lo < threshold <= hi or (delta is None and lo <= 0 < hi)
    assert verdicts.claim_verdict(diffs, delta, sign, 1.0) == expected


@pytest.mark.parametrize("diffs", [[], [5.0], [5.0, 5.1]])
def test_a_claim_with_fewer_than_three_pairs_is_inconclusive(diffs):
    n = len(diffs)
    expected = f"inconclusive ({n} seed{'s' if n != 1 else ''})"
    assert verdicts.claim_verdict(diffs, None, 1, 1.0) == expected
    assert verdicts.claim_verdict(diffs, 3.0, 1, 1.0) == expected


def test_claim_precedence():
    assert verdicts.claim_verdict([1.0] * 3, None, 1, 1.0, diverged=True) == verdicts.DIVERGED
    assert verdicts.claim_verdict([], None, 1, 1.0, runs_missing=True) == verdicts.NOT_RUN


# ---------------------------------------------------------------------------- pairing by seed


def _record(run_id: str, seed: int, top1: float | None, status: str = runs.EVALUATED):
    metrics = {} if top1 is None else {"status": "evaluated", "linear_probe": {"top1": top1}}
    return RunRecord(run_id, {}, seed, status, metrics, {})


def test_claims_pair_runs_by_seed_not_by_order():
    """Seeds differ by 5 points from each other, the treatment adds 1 at every seed: paired,
    the difference is exactly +1 (a conclusive gain); unpaired, the seeds' spread hides it."""
    base = [_record(f"b{s}", s, 70.0 + 5 * s) for s in range(4)]
    treat = [_record(f"t{s}", s, 71.0 + 5 * s) for s in range(4)]
    random.Random(0).shuffle(treat)
    paired = paired_differences(base, treat, "linear_top1")
    assert paired["seeds"] == [0, 1, 2, 3] and paired["differences"] == [1.0] * 4
    assert paired["unpaired"] == []
    assert verdicts.claim_verdict(paired["differences"], None, 1, 1.0) == verdicts.CLAIM_HOLDS
    # the unpaired (Welch) interval of the difference of means contains 0
    welch = stats.ttest_ind([71.0 + 5 * s for s in range(4)], [70.0 + 5 * s for s in range(4)],
                            equal_var=False).confidence_interval(0.95)
    assert welch.low < 0 < welch.high


def test_runs_without_a_seed_partner_are_left_out_and_named():
    base = [_record("b0", 0, 70.0), _record("b1", 1, 71.0), _record("b2", 2, 72.0),
            _record("b7", 7, 99.0)]
    treat = [_record("t2", 2, 74.0), _record("t0", 0, 72.5), _record("t1", 1, 72.0),
             _record("t5", 5, 10.0), _record("t9", 9, None, status="missing")]
    paired = paired_differences(base, treat, "linear_top1")
    assert paired["seeds"] == [0, 1, 2]
    assert paired["differences"] == [2.5, 1.0, 2.0]
    assert paired["unpaired"] == ["b7", "t5"]  # a run not evaluated is no partner either
