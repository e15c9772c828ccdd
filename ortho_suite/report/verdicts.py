"""Verdicts of a paper table's cells and claims, with the uncertainty the seeds allow.

A cell's reproduced value is the mean over its seeds with a two-sided Student t confidence
interval (``CONFIDENCE``, n - 1 degrees of freedom); a claimed difference is judged on the same
interval of the *paired* differences (treatment minus baseline of the runs that share a seed).
With fewer than ``MIN_SEEDS`` seeds (or pairs) nothing is concluded: the verdict is
``inconclusive (n seeds)``.

The rules (README "Profiles and paper tables", benchmarks/README.md "Verdicts"), for the interval
[lo, hi] and the table's tolerance tol (percentage points):

- cell with a published value p: ``within tolerance`` when lo - tol <= p <= hi + tol (the
  published value is consistent with the reproduced mean, widened by the tolerance), else
  ``outside tolerance`` (the whole widened interval lies on one side of p);
- claim of a gain delta (read in its direction: "-2" is a loss of 2): ``claim holds`` when
  lo >= |delta| - tol (the reproduced gain is at least the claimed one less the tolerance),
  ``claim fails`` when hi < |delta| - tol (the whole interval lies below it), otherwise
  ``inconclusive (interval spans ...)``;
- claim of a sign only ("SO improves BYOL"): ``claim holds`` when lo > 0, ``claim fails`` when
  hi <= 0, otherwise inconclusive (the interval contains 0).

Everything here is pure Python (the t quantile is A&S 26.7.3-4 inverted by bisection), so the
report stage needs no scipy; tests check it against scipy.stats.t.
"""
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
INCONCLUSIVE = "inconclusive"  # every inconclusive verdict starts with this word

# The fewest seeds (cells) or seed pairs (claims) a conclusive verdict needs, and the confidence
# of the interval it is drawn from.
MIN_SEEDS = 3
CONFIDENCE = 0.95
# The verdicts that conclude; the reproduction score counts only these.
CONCLUSIVE = (WITHIN, OUTSIDE, CLAIM_HOLDS, CLAIM_FAILS)
# The rules in words, as every table's header states them.
METHOD_TEXT = (f"mean over seeds with a two-sided {CONFIDENCE:.0%} Student t confidence interval "
               f"(n − 1 degrees of freedom); a claimed difference on the same interval of the "
               f"paired differences (treatment − baseline of the runs sharing a seed); fewer than "
               f"{MIN_SEEDS} seeds (pairs): inconclusive")


def tolerance_text(tol: float) -> str:
    """The cell and claim rules for tolerance ``tol``, in words."""
    unit = "percentage point" + ("" if tol == 1 else "s")
    return (f"tolerance {tol:g} {unit}; with [lo, hi] the interval, a cell is within "
            f"tolerance when the published value p satisfies lo − {tol:g} ≤ p ≤ hi + {tol:g}, "
            f"else outside; a claimed gain g holds when lo ≥ |g| − {tol:g} and fails when "
            f"hi < |g| − {tol:g}; a claimed sign (\"improves\") holds when lo > 0 and fails when "
            f"hi ≤ 0 (intervals read in the claim's direction); otherwise inconclusive")


def inconclusive_seeds(n: int) -> str:
    return f"{INCONCLUSIVE} ({n} seed{'s' if n != 1 else ''})"


def inconclusive_spans(threshold: float) -> str:
    return f"{INCONCLUSIVE} (interval spans {threshold:+.2f})"


def is_inconclusive(verdict: str) -> bool:
    return verdict.startswith(INCONCLUSIVE)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3 / 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        total, term = 0.0, 1.0
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + (s * math.cos(theta) * total if df > 1 else 0.0))
    total, term = 0.0, 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for k in range(1, df // 2 + 1):
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return s * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with integer ``df`` >= 1, by bisection."""
    if not 0.5 < p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    target, lo, hi = 2 * p - 1, 0.0, 1.0
    while _t_central(hi, df) < target:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_central(mid, df) < target else (lo, mid)
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2


def interval(values: list[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std, n and the two-sided Student t interval of the mean (n - 1 degrees of
    freedom); ``low``/``high`` are None with fewer than two values."""
    mean, std = mean_std(values)
    n = len(values)
    if n < 2:
        return {"mean": mean, "std": std, "n": n, "low": None, "high": None}
    half = t_quantile((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "n": n, "low": mean - half, "high": mean + half}


def cell_verdict(values: list[float], published: float | None, tolerance: float | None,
                 diverged: bool = False) -> str:
    """Verdict of one cell: reproduced ``values`` (one per seed) against ``published``."""
    if diverged:
        return DIVERGED
    if not values:
        return NOT_RUN
    if published is None:
        return UNAVAILABLE
    if tolerance is None:
        return NOT_COMPARED
    if len(values) < MIN_SEEDS:
        return inconclusive_seeds(len(values))
    ci = interval(values)
    return WITHIN if ci["low"] - tolerance <= published <= ci["high"] + tolerance else OUTSIDE


def claim_verdict(differences: list[float], delta: float | None, sign: int, tolerance: float,
                  diverged: bool = False, runs_missing: bool = False) -> str:
    """Verdict of a claimed difference from the paired ``differences`` (treatment - baseline,
    one per shared seed, in points). ``delta``: the claimed difference (None: only its
    ``sign``, +1 for "improves"); ``runs_missing``: a side has no run at all."""
    if diverged:
        return DIVERGED
    if runs_missing:
        return NOT_RUN
    if len(differences) < MIN_SEEDS:
        return inconclusive_seeds(len(differences))
    ci = interval(differences)
    # Read the interval in the claim's direction: a claimed loss is a gain of the opposite sign.
    lo, hi = (ci["low"], ci["high"]) if sign > 0 else (-ci["high"], -ci["low"])
    if delta is None:
        return CLAIM_HOLDS if lo > 0 else CLAIM_FAILS if hi <= 0 else inconclusive_spans(0.0)
    threshold = abs(delta) - tolerance
    if lo >= threshold:
        return CLAIM_HOLDS
    if hi < threshold:
        return CLAIM_FAILS
    return inconclusive_spans(threshold * sign)
