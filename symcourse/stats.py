"""Small statistics helpers: confidence intervals for rates and means, exact paired tests. Bottom
layer."""
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


def mean_interval(values, confidence: float = 0.95) -> dict:
    """Mean of a 1-D sample with a Student-t confidence interval. Chapter 10."""
    from scipy.stats import t as student

    values = _checks.tensor("values", torch.as_tensor(values, dtype=torch.float64), ndim=1)
    _checks.in_range("confidence", confidence, 0.0, 1.0, high_open=True)
    if len(values) < 2:
        raise ValueError(f"need at least two values for an interval, got {len(values)}")
    mean, sd = values.mean().item(), values.std().item()
    half = float(student.ppf(0.5 + confidence / 2, len(values) - 1)) * sd / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar test for a paired yes/no comparison on the same seeds.

    ``gained`` counts the seeds only the new method gets right and ``lost`` those only the
    reference gets right; seeds both get right or both get wrong carry no information about the
    difference. Under the null hypothesis of no difference each discordant seed is a fair coin,
    so the p-value is twice the smaller binomial tail of Bin(gained + lost, 1/2), capped at 1
    (McNemar, 1947, in its exact binomial form). No discordant seeds gives 1. Introduced in
    chapter 1 (the follow-up experiments).
    """
    b, c = _count("gained", gained), _count("lost", lost)
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2.0 * tail / 2.0 ** n)


def paired_comparison(flags, reference, confidence: float = 0.95) -> dict:
    """Compare two runs on the same seeds, seed by seed: ``flags`` and ``reference`` are 1-D bool
    tensors (one success flag per seed, in the same order).

    Returns both rate summaries (``rate`` for ``flags``, ``reference_rate`` for ``reference``),
    the paired counts ``gained`` (only ``flags`` succeeds), ``lost`` (only ``reference``),
    ``both`` and ``neither``, and the exact McNemar ``p_value``. Chapter 1.
    """
    for name, value in (("flags", flags), ("reference", reference)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a 1-D bool tensor, got {type(value).__name__}")
        _checks.tensor(name, value, ndim=1, floating=False)
        if value.dtype != torch.bool:
            raise TypeError(f"{name} must be a bool tensor, one flag per seed, got dtype {value.dtype}")
    if flags.shape != reference.shape:
        raise ValueError(f"flags and reference must hold one flag per seed for the same seeds, got "
                         f"shapes {tuple(flags.shape)} and {tuple(reference.shape)}")
    gained = int((flags & ~reference).sum())
    lost = int((reference & ~flags).sum())
    return {"rate": rate_summary(flags, confidence), "reference_rate": rate_summary(reference, confidence),
            "gained": gained, "lost": lost, "both": int((flags & reference).sum()),
            "neither": int((~flags & ~reference).sum()), "p_value": mcnemar_exact(gained, lost)}


def count_text(count: int, trials: int) -> str:
    """A rate as words a reader can trust at any size: "1 of 200" below 1% or above 99%, where a
    rounded percentage would read 0% or 100%, else "12.5% (25 of 200)". Chapter 1."""
    _checks.positive("trials", trials, integer=True)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= trials:
        raise ValueError(f"count must be an integer in [0, trials={trials}], got {count!r}")
    rate = count / trials
    if 0 < rate < 0.01 or 0.99 < rate < 1:
        return f"{count} of {trials}"
    return f"{rate:.1%} ({count} of {trials})"


def paired_text(comparison: dict) -> str:
    """One line for a :func:`paired_comparison`: the success count with its 95% interval and the
    paired counts with the exact McNemar p-value, e.g. ``123/200 [54.6%, 68.1%]; gained 99,
    lost 0, p = 3.2e-30``. Chapter 1."""
    if not isinstance(comparison, dict) or not {"rate", "gained", "lost", "p_value"} <= set(comparison):
        raise TypeError("comparison must be the dict paired_comparison returns")
    r = comparison["rate"]
    return (f"{r['count']:3d}/{r['trials']} [{r['low']:5.1%}, {r['high']:5.1%}]; gained "
            f"{comparison['gained']:3d}, lost {comparison['lost']:3d}, p = {comparison['p_value']:.1e}")


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test (binomial, p = 1/2) for paired comparisons: ``wins`` pairs in
    which one method did better, ``losses`` in which the other did (ties left out). Returns the
    p-value. Chapter 2."""
    for name, value in (("wins", wins), ("losses", losses)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def rounded(value, digits: int = 6):
    """``value`` rounded to ``digits`` significant digits, for ``glue``: the book's text then
    does not change with the last digits of a float, which can differ from run to run. Ints
    (and bools) come back unchanged; a one-element tensor is read as its number. Chapter 1."""
    _checks.integer("digits", digits, low=1, high=17)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"value must be a number or a one-element tensor, got shape "
                             f"{tuple(value.shape)}")
        value = value.item()
    if isinstance(value, (bool, int)):
        return value
    _checks.finite("value", value)
    return float(f"{value:.{digits - 1}e}")
