"""Small statistics helpers: confidence intervals for rates. Bottom layer."""
from __future__ import annotations

import math
from statistics import NormalDist

import torch

from . import _checks


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson, 1927).

    Better behaved than the normal approximation near 0 and 1, which is where stall and
    success rates often sit. Introduced in chapter 1.
    """
    _checks.positive("trials", trials, integer=True)
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an integer in [0, trials={trials}], got {successes!r}")
    _checks.in_range("confidence", confidence, 0.0, 1.0, high_open=True)
    if confidence == 0:
        raise ValueError("confidence must be > 0")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # the exact formula gives 0 and 1 at the extremes; pin them so rounding never excludes the rate
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == trials else min(1.0, max(p, centre + half))
    return low, high


def rate_summary(flags, confidence: float = 0.95) -> dict:
    """Count, rate and Wilson interval of a boolean tensor or sequence of flags. Chapter 1."""
    if isinstance(flags, torch.Tensor):
        _checks.tensor("flags", flags, ndim=1, floating=False)
        flags = flags.tolist()
    if isinstance(flags, (str, bytes)) or not hasattr(flags, "__iter__"):
        raise TypeError(f"flags must be a 1-D bool tensor or a flat sequence of bools, got {flags!r}")
    values = list(flags)
    if any(not isinstance(f, (bool, int)) for f in values):
        raise TypeError("flags must be a 1-D bool tensor or a flat sequence of bools")
    values = [bool(f) for f in values]
    if not values:
        raise ValueError("flags must not be empty")
    k, n = sum(values), len(values)
    low, high = wilson_interval(k, n, confidence)
    return {"count": k, "trials": n, "rate": k / n, "low": low, "high": high}
