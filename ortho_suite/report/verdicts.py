"""Verdicts of a paper table's cells and claims: a reproduced value (mean over seeds) against the
published one, within a tolerance widened by the spread over seeds."""
from __future__ import annotations

import math

from ..runs import DIVERGED as _DIVERGED_RUN

# Verdicts (the order of checks in :func:`cell_verdict` is the order of precedence).
DIVERGED = _DIVERGED_RUN  # a cell with a diverged run reads as its run's status
NOT_RUN = "not run in this profile"
UNAVAILABLE = "published value unavailable"
NOT_COMPARED = "not compared"
WITHIN = "within tolerance"
OUTSIDE = "outside tolerance"
CLAIM_HOLDS = "claim holds"
CLAIM_FAILS = "claim fails"

# How many standard deviations over seeds widen the tolerance (0 with a single seed).
STD_FACTOR = 2.0


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def cell_verdict(values: list[float], published: float | None, tolerance: float | None,
                 diverged: bool = False) -> str:
    """Verdict of one cell: reproduced ``values`` (one per seed) against ``published``.

    Within tolerance when |mean - published| <= tolerance + STD_FACTOR x std over seeds.
    """
    if diverged:
        return DIVERGED
    if not values:
        return NOT_RUN
    if published is None:
        return UNAVAILABLE
    if tolerance is None:
        return NOT_COMPARED
    mean, std = mean_std(values)
    return WITHIN if abs(mean - published) <= tolerance + STD_FACTOR * std else OUTSIDE


def claim_verdict(baseline: list[float], treatment: list[float], delta: float | None, sign: int,
                  tolerance: float, diverged: bool = False) -> str:
    """Verdict of a claimed difference (treatment minus baseline, in points).

    With a claimed ``delta``: within tolerance when |reproduced - delta| <= tolerance +
    STD_FACTOR x the standard deviation of the difference of the two means. Without one, the
    claim is only its ``sign`` ("improves": +1) and holds when the reproduced difference has it.
    """
    if diverged:
        return DIVERGED
    if not baseline or not treatment:
        return NOT_RUN
    (mb, sb), (mt, st) = mean_std(baseline), mean_std(treatment)
    reproduced = mt - mb
    if delta is None:
        return CLAIM_HOLDS if reproduced * sign > 0 else CLAIM_FAILS
    spread = math.sqrt(sb ** 2 + st ** 2)
    return WITHIN if abs(reproduced - delta) <= tolerance + STD_FACTOR * spread else OUTSIDE
