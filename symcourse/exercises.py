"""Self-checks for the exercises. Each says right or wrong and, when wrong, gives a hint — never
the answer. ``check(exercise_id, answer)`` is the one entry point; an answer left as ``...``
(what a student notebook starts with) is reported as not yet solved. Top layer.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .data import stall_task
from .models import init_theta, mae, mse
from .stall import affine_lstsq, dead_units, is_stalled
from .sweeps import train_sweep


@dataclass(frozen=True)
class Feedback:
    """The verdict of a self-check."""

    exercise: str
    status: str  # "correct", "incorrect" or "unsolved"
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        mark = {"correct": "✓ correct", "incorrect": "✗ not yet", "unsolved": "… not yet solved"}[self.status]
        return f"[{self.exercise}] {mark}: {self.message}"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


_CHECKS: dict[str, Callable] = {}


def _self_check(exercise_id: str):
    def register(fn):
        _CHECKS[exercise_id] = fn
        return fn
    return register


def exercise_ids() -> list[str]:
    """All exercises that have a self-check."""
    return sorted(_CHECKS)


class _Wrong(Exception):
    """Raised inside a check to report a wrong answer with a hint."""


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id``. Introduced in chapter 1."""
    if exercise_id not in _CHECKS:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(exercise_ids())}")
    if answer is ... or answer is None:
        return Feedback(exercise_id, "unsolved", "replace the `...` with your answer and run the cell again")
    try:
        message = _CHECKS[exercise_id](answer)
    except _Wrong as wrong:
        return Feedback(exercise_id, "incorrect", str(wrong))
    return Feedback(exercise_id, "correct", message)


def _scalar(answer):
    """One-element tensors and NumPy scalars as plain Python numbers; anything else unchanged."""
    if (isinstance(answer, torch.Tensor) and answer.numel() == 1) or isinstance(answer, np.generic):
        return answer.item()
    return answer


def _as_float(answer, what: str) -> float:
    answer = _scalar(answer)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise _Wrong(f"expected {what} as one finite number, got {type(answer).__name__} {answer!r}")
    return float(answer)


def _as_tensor(answer, shape: tuple, what: str) -> torch.Tensor:
    try:
        value = torch.as_tensor(answer, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise _Wrong(f"expected {what}: numbers of shape {shape}, got {type(answer).__name__}") from None
    if tuple(value.shape) != shape:
        raise _Wrong(f"expected {what} of shape {shape}, got shape {tuple(value.shape)}")
    return value


@_self_check("stall-dead-gradient")
def _dead_gradient(answer):
    g = _as_tensor(answer, (3,), "the gradient with respect to the dead unit's (w_x, w_y, b)")
    if torch.count_nonzero(g):
        raise _Wrong("a unit that wins no point never appears in the network's output; "
                     "what does the loss change by when you nudge its weights a little?")
    return "exactly zero: the dead unit is invisible to the loss, so no optimiser can move it."


@_self_check("stall-plateau")
def _plateau(answer):
    value = _as_float(answer, "the plateau MSE")
    task = stall_task(dtype=torch.float64)
    fit = affine_lstsq(task.X, task.y)
    theta = torch.cat([fit, fit - torch.tensor([0.0, 0.0, 100.0], dtype=torch.float64)]).view(1, 2, 3)
    target_mse = mse(theta, task.X, task.y).item()
    if math.isclose(value, mae(theta, task.X, task.y).item(), rel_tol=1e-3):
        raise _Wrong("that is the mean *absolute* error of the fit; the question's loss is the mean squared error")
    if math.isclose(value, math.sqrt(target_mse), rel_tol=1e-3):
        raise _Wrong("that looks like a root-mean-square error; the MSE has no square root")
    if not math.isclose(value, target_mse, rel_tol=1e-4):
        raise _Wrong("solve the normal equations for an affine function of (x, y) on stall_task()'s "
                     "1000 points and average the squared residuals")
    return f"the stalled network's MSE is the best affine fit's residual, {value:.6f}."


@_self_check("stall-dead-at-init")
def _dead_at_init(answer):
    value = _as_float(answer, "a fraction between 0 and 1")
    if not 0 <= value <= 1:
        raise _Wrong(f"a fraction lies between 0 and 1, got {value}")
    task = stall_task()
    expected = dead_units(init_theta(range(1000)), task.X).any(dim=1).double().mean().item()
    if abs(value - expected) > 0.5e-3:
        raise _Wrong("use seeds 0..999, PyTorch's default nn.Linear(2, 2) initialisation for each "
                     "(symcourse.models.init_theta) and the points of stall_task(); count a seed when "
                     "either unit wins no point")
    return f"{value:.1%} of default initialisations start with a dead unit."


@_self_check("stall-bias-seed")
def _bias_seed(answer):
    answer = _scalar(answer)
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
        raise _Wrong(f"expected a non-negative integer seed, got {answer!r}")
    task = stall_task()
    with_bias = train_sweep(task, [answer], bias=True)
    without = train_sweep(task, [answer], bias=False)
    if not is_stalled(with_bias.final_loss)[0]:
        raise _Wrong(f"seed {answer} does not stall with biases (final MSE {with_bias.final_loss[0]:.2e})")
    if is_stalled(without.final_loss)[0]:
        raise _Wrong(f"seed {answer} stalls without biases too (final MSE {without.final_loss[0]:.2e})")
    return (f"seed {answer} stalls with biases (MSE {with_bias.final_loss[0]:.3f}) and solves the task "
            f"without them (MSE {without.final_loss[0]:.1e}).")
