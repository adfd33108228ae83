"""Self-checks for chapter 1 (the stall)."""
from __future__ import annotations

import math

import torch

from ..data import stall_task
from ..models import augment, init_theta
from ..stall import affine_lstsq, dead_units, is_stalled
from ..sweeps import train_sweep
from . import Wrong, as_float, as_tensor, scalar, self_check


@self_check("stall-dead-gradient")
def _dead_gradient(answer):
    g = as_tensor(answer, (3,), "the gradient with respect to the dead unit's (w_x, w_y, b)")
    if torch.count_nonzero(g):
        raise Wrong("a unit that wins no point never appears in the network's output; "
                     "what does the loss change by when you nudge its weights a little?")
    return "exactly zero: the dead unit is invisible to the loss, so no optimiser can move it."


@self_check("stall-plateau")
def _plateau(answer):
    value = as_float(answer, "the predicted plateau MSE of the bias-free network")
    task = stall_task(dtype=torch.float64)
    X, y = task.X, task.y
    through_origin = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
    residual = X @ through_origin - y
    target_mse = residual.square().mean().item()
    affine = augment(X, True) @ affine_lstsq(X, y) - y
    if math.isclose(value, affine.square().mean().item(), rel_tol=1e-3):
        raise Wrong("that is where the network *with* biases stalls; without biases the live unit "
                    "is w·x, which must pass through the origin: which normal equations hold then?")
    if math.isclose(value, residual.abs().mean().item(), rel_tol=1e-3):
        raise Wrong("that is a mean *absolute* error; the question's loss is the mean squared error")
    if math.isclose(value, math.sqrt(target_mse), rel_tol=1e-3):
        raise Wrong("that looks like a root-mean-square error; the MSE has no square root")
    if not math.isclose(value, target_mse, rel_tol=1e-4):
        raise Wrong("write the live unit's gradient without the column of ones, set it to zero, "
                    "solve for w on stall_task()'s 1000 points and average the squared residuals")
    return (f"the bias-free network stalls at the least-squares fit through the origin, MSE "
            f"{value:.6f}, above the affine fit's: it has one parameter fewer.")


@self_check("stall-dead-at-init")
def _dead_at_init(answer):
    value = as_float(answer, "a fraction between 0 and 1")
    if not 0 <= value <= 1:
        raise Wrong(f"a fraction lies between 0 and 1, got {value}")
    task = stall_task()
    expected = dead_units(init_theta(range(1000)), task.X).any(dim=1).double().mean().item()
    if abs(value - expected) > 0.5e-3:
        raise Wrong("use seeds 0..999, PyTorch's default nn.Linear(2, 2) initialisation for each "
                     "(symcourse.models.init_theta) and the points of stall_task(); count a seed when "
                     "either unit wins no point")
    return f"{value:.1%} of default initialisations start with a dead unit."


@self_check("stall-bias-seed")
def _bias_seed(answer):
    answer = scalar(answer)
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
        raise Wrong(f"expected a non-negative integer seed, got {answer!r}")
    task = stall_task()
    with_bias = train_sweep(task, [answer], bias=True)
    without = train_sweep(task, [answer], bias=False)
    if not is_stalled(with_bias.final_loss)[0]:
        raise Wrong(f"seed {answer} does not stall with biases (final MSE {with_bias.final_loss[0]:.2e})")
    if is_stalled(without.final_loss)[0]:
        raise Wrong(f"seed {answer} stalls without biases too (final MSE {without.final_loss[0]:.2e})")
    return (f"seed {answer} stalls with biases (MSE {with_bias.final_loss[0]:.3f}) and solves the task "
            f"without them (MSE {without.final_loss[0]:.1e}).")
