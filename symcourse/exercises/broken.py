"""Self-checks for chapter 6 (broken conservation laws, exactly)."""
from __future__ import annotations

import math

import torch

from ..theory import critical_momentum, damping_regime, exact_recursion
from . import Wrong, as_float, as_function, judge, self_check

#: Exercise data, shared with the notebook and the tests.
LR, DECAY = 0.1, 5e-3          # the chapter's learning rate and weight decay
SUM_START, SUM_STEPS = 0.8, 1000  # a column sum and a number of plain SGD steps
REGIME_LR, REGIME_DECAY, REGIME_MOMENTUM = 0.08, 5e-3, 0.95  # the regime question's setting
REGIME_KINDS = ("translation", "scale")  # the quantities whose regimes it asks for
SLOPE_LOW, SLOPE_HIGH = 0.8, 1.2


def column_sum_after() -> float:
    """The exact value of the column sum after ``SUM_STEPS`` plain SGD steps."""
    return SUM_START * (1 - LR * DECAY) ** SUM_STEPS


@self_check("broken-column-sum")
def _column_sum(answer):
    value = as_float(answer, "the column sum after the steps")
    continuous = SUM_START * math.exp(-DECAY * LR * SUM_STEPS)
    judge(value, column_sum_after(), "write one step θ ← θ − η(g + λθ), sum it over the column "
          "and use that the column's gradients sum to zero", rel_tol=1e-9, mistakes=(
              (SUM_START, "the gradient cannot move a column sum, but weight decay still does"),
              (continuous, "that is the continuous model's e^{−λt}; the question asks for the "
               "exact value after whole steps (they differ in the fourth digit)")))
    return f"{value:.6f}: the same for every column, whatever the data."


@self_check("broken-regime")
def _regime(answer):
    names = ("underdamped", "critically damped", "overdamped")
    if (not isinstance(answer, (tuple, list)) or len(answer) != len(REGIME_KINDS)
            or not all(isinstance(a, str) for a in answer)):
        raise Wrong(f"expected a pair of regimes (translation, scale), each one of {names}")
    given = tuple(" ".join(a.lower().split()) for a in answer)
    if any(a not in names for a in given):
        raise Wrong(f"each regime must be one of {names}")
    targets = [damping_regime(kind, REGIME_LR, REGIME_DECAY, REGIME_MOMENTUM)
               for kind in REGIME_KINDS]
    if given[0] != targets[0]:
        raise Wrong("the translation quantity is wrong: compare (1 − β)² with 4·m·κ, where "
                    "m = η(1 + β)/2 is the mass and κ = λ its stiffness")
    if given[1] != targets[1]:
        raise Wrong("the translation quantity is right, the scale quantity not: what is the "
                    "stiffness of a squared norm?")
    return (f"{targets[0]} and {targets[1]}: the same momentum can sit between the two "
            "critical values, because a squared norm feels the decay twice.")


@self_check("broken-critical-scale")
def _critical_scale(answer):
    value = as_float(answer, "the critical momentum")
    judge(value, critical_momentum("scale", LR, DECAY), "set the discriminant (1 − β)² − 4·m·κ "
          "to zero with m = η(1 + β)/2 and the scale quantity's stiffness κ, and solve the "
          "quadratic for 1 − β", rel_tol=1e-6, mistakes=(
              (critical_momentum("translation", LR, DECAY), "that is the translation "
               "quantity's; a squared norm feels weight decay twice"),))
    return f"β = {value:.4f}: squared norms start to oscillate at a lower momentum."


def _reference_cases():
    generator = torch.Generator().manual_seed(5)
    for beta in (0.0, 0.5, 0.9):
        q0 = torch.rand(3, generator=generator, dtype=torch.float64) - 0.5
        drive = torch.rand(40, 3, generator=generator, dtype=torch.float64) * 0.1
        yield q0, drive, 0.2, 0.03, beta


@self_check("broken-recursion")
def _recursion(answer):
    as_function(answer, "a function predict(q0, drive, lr, weight_decay, momentum), got "
                f"{type(answer).__name__}")
    for q0, drive, lr, decay, beta in _reference_cases():
        try:
            got = torch.as_tensor(answer(q0, drive, lr, decay, beta), dtype=torch.float64)
        except Exception as error:  # report the student's error as a hint, not a crash
            raise Wrong(f"calling your function failed with {type(error).__name__}: {error}")
        want = exact_recursion("rescale", q0, drive, len(drive), lr, decay, beta)
        if tuple(got.shape) != tuple(want.shape):
            raise Wrong(f"return the quantities before every step and after the last, shape "
                        f"{tuple(want.shape)}; got {tuple(got.shape)}")
        if not torch.allclose(got, want, rtol=1e-10, atol=1e-12):
            if beta == 0.0:
                raise Wrong("wrong already without momentum: expand |θ − η(g + λθ)|² and use "
                            "<θ, g> = 0 for the group")
            raise Wrong(f"right without momentum, wrong with β = {beta}: the cross term "
                        f"<θ, d> needs its own recursion (it starts at 0)")
    return "your recursion reproduces the exact one for β = 0, 0.5 and 0.9."


@self_check("broken-drift-slope")
def _drift_slope(answer):
    value = as_float(answer, "the fitted log-log slope")
    if 1.8 < value < 2.2:
        raise Wrong("that is the order of one step's change (η²); at a fixed time there are "
                    "T/η steps")
    if value < 0:
        raise Wrong("the drift should shrink with the learning rate; check what you regress on "
                    "what")
    if not SLOPE_LOW < value < SLOPE_HIGH:
        raise Wrong("use runs of the same duration T = steps × η, compare the quantity at T "
                    "with its start, and fit log drift against log η")
    return f"slope {value:.2f}: the scale quantities drift in proportion to η as well."
