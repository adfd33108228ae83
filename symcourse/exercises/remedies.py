"""Self-checks for chapter 7 (remedies for symmetry-induced stalls)."""
from __future__ import annotations

import math
from functools import lru_cache

from ..remedies import UNTIL, larger_task, smooth_max, train_remedy
from ..stall import STALL_THRESHOLD
from . import Wrong, as_float, self_check

#: Exercise data, shared with the notebook and the tests.
SHARE_GAP, SHARE_TEMPERATURE = 1.0, 0.25  # the dead unit's gap below the max, and τ
BALANCE_GAP, BALANCE_TEMPERATURE = 1.0, 0.5  # the load-balancing exercise's gap and router τ
NOISE_SCALE, NOISE_STEPS = 0.05, 2000  # the noise exercise: σ0 and the budget (noise ends at UNTIL)
TEMPERATURE_SEEDS, TEMPERATURE_TARGET = 60, 30  # seeds 0-59 of the larger network; solved needed
BUDGET = 2000


def soft_share() -> float:
    """Gradient share of a unit ``SHARE_GAP`` below the other of two, at ``SHARE_TEMPERATURE``."""
    return 1.0 / (1.0 + math.exp(SHARE_GAP / SHARE_TEMPERATURE))


def balance_value() -> float:
    """Load-balancing loss of two units, one winning every point and ``BALANCE_GAP`` above the other."""
    return 2.0 / (1.0 + math.exp(-BALANCE_GAP / BALANCE_TEMPERATURE))


def noise_spread() -> float:
    """Standard deviation of the summed noise on one parameter of a dead unit."""
    end = int(UNTIL * NOISE_STEPS)
    return NOISE_SCALE * math.sqrt(sum((1 - t / end) ** 2 for t in range(end)))


@self_check("remedies-soft-share")
def _soft_share(answer):
    value = as_float(answer, "the dead unit's share of the gradient, a number between 0 and 1")
    target = soft_share()
    if math.isclose(value, math.exp(-SHARE_GAP / SHARE_TEMPERATURE), rel_tol=1e-6):
        raise Wrong("close, but that leaves out the normalisation: the two shares must add up to 1")
    if math.isclose(value, 0.5, rel_tol=1e-6):
        raise Wrong("one half is the share of two units with equal outputs; this one is below the other")
    if not math.isclose(value, target, rel_tol=1e-4):
        raise Wrong("differentiate τ·log(exp(z0/τ) + exp(z1/τ)) with respect to z1 and put in the gap")
    return f"{value:.4f}: a unit a few temperatures below the max hears almost nothing."


@self_check("remedies-balance-value")
def _balance_value(answer):
    value = as_float(answer, "the value of the load-balancing loss")
    target = balance_value()
    if math.isclose(value, 1.0, rel_tol=1e-6):
        raise Wrong("1 is the value when both units share the points equally; here one wins them all")
    if math.isclose(value, 2.0, rel_tol=1e-6):
        raise Wrong("2 would need the router probability of the winner to be exactly 1; use the softmax")
    if math.isclose(value, target / 2, rel_tol=1e-6):
        raise Wrong("remember the factor K in front of the sum")
    if not math.isclose(value, target, rel_tol=1e-4):
        raise Wrong("f is (1, 0); P is the softmax of the two outputs divided by the router temperature")
    return f"{value:.4f}, between 1 (balanced) and 2 (one unit takes everything)."


@self_check("remedies-noise-walk")
def _noise_walk(answer):
    value = as_float(answer, "a standard deviation")
    target = noise_spread()
    end = int(UNTIL * NOISE_STEPS)
    if math.isclose(value, NOISE_SCALE * math.sqrt(end), rel_tol=1e-3):
        raise Wrong("that treats the noise as constant; it falls linearly to zero")
    if math.isclose(value, NOISE_SCALE * sum(1 - t / end for t in range(end)), rel_tol=1e-3):
        raise Wrong("independent steps add their variances, not their standard deviations")
    if not math.isclose(value, target, rel_tol=1e-3):
        raise Wrong("a dead unit gets no gradient, so its parameter is a sum of independent Gaussian "
                    "steps; add the variances of all steps before the noise stops")
    return f"{value:.3f}: large next to the gaps, but spent in every direction alike."


@self_check("remedies-own-revival")
def _own_revival(answer):
    value = as_float(answer, "the final training MSE of your run")
    if value < 0:
        raise Wrong("a mean squared error cannot be negative")
    if value > STALL_THRESHOLD:
        raise Wrong("the run still stalls: check that you revive before the last quarter of the budget, "
                    "that you pass the optimiser so its moments are zeroed, and that you train "
                    f"{BUDGET} steps in total")
    return f"final MSE {value:.1e}: the re-seated unit found the second piece."


@lru_cache(maxsize=32)
def _temperature_solved(temperature: float) -> int:
    task = larger_task()
    run = train_remedy(task, TEMPERATURE_SEEDS, smooth_max(temperature), units=4, steps=BUDGET,
                       record_every=BUDGET)
    return int(run.solved.sum())


@self_check("remedies-larger-temperature")
def _larger_temperature(answer):
    value = as_float(answer, "a starting temperature")
    if not 0 < value <= 100:
        raise Wrong(f"a starting temperature is a positive number of the order of the outputs, got {value}")
    solved = _temperature_solved(value)
    if solved < TEMPERATURE_TARGET:
        raise Wrong(f"with that temperature {solved} of the {TEMPERATURE_SEEDS} seeds are solved; "
                    "compare the temperature with the gaps between the units' outputs and try others")
    return f"temperature {value:g} solves {solved} of {TEMPERATURE_SEEDS} seeds of the larger network."
