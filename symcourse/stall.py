"""Diagnosing the stall of chapter 1: who wins where, what gradient each parameter receives, and
what a stalled network is equal to.

Computation only (no plotting). Parameters are batched, (S, K, D[+1]); every function also takes
a single network's (K, D[+1]) and returns results without the seed dimension.
"""
from __future__ import annotations

import torch

from . import _checks
from .data import MaxAffineTask
from .models import augment, has_bias, unit_outputs
from .sweeps import loss_and_grad, winner_mask

#: Final training MSE above which a run counts as stalled. Runs that find the solution end
#: below 1e-6; stalled runs sit at the affine fit's error, about 1.8e-2 (chapter 1 measures both).
STALL_THRESHOLD = 1e-3


def _batched(theta: torch.Tensor) -> tuple[torch.Tensor, bool]:
    _checks.tensor("theta", theta)
    if theta.ndim == 2:
        return theta.unsqueeze(0), True
    if theta.ndim == 3:
        return theta, False
    raise ValueError(f"theta must be (K, D[+1]) or (S, K, D[+1]), got shape {tuple(theta.shape)}")


def winners(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Index of the unit that wins each point (ties to the lowest index): (S, N) or (N,). Chapter 1."""
    th, single = _batched(theta)
    idx = winner_mask(unit_outputs(th, X)).to(torch.int8).argmax(dim=1)
    return idx[0] if single else idx


def win_fractions(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Fraction of points each unit wins: (S, K) or (K,). Chapter 1."""
    th, single = _batched(theta)
    frac = winner_mask(unit_outputs(th, X)).to(th.dtype).mean(dim=2)
    return frac[0] if single else frac


def dead_units(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Units that win no point of ``X``, so receive exactly zero gradient: bool (S, K) or (K,). Chapter 1."""
    return win_fractions(theta, X) == 0


def is_stalled(final_loss: torch.Tensor, threshold: float = STALL_THRESHOLD) -> torch.Tensor:
    """Runs whose final training MSE is above ``threshold``. Chapter 1."""
    _checks.positive("threshold", threshold)
    _checks.nonempty("final_loss", _checks.tensor("final_loss", final_loss))
    return final_loss > threshold


def gradients(theta: torch.Tensor, task: MaxAffineTask) -> dict:
    """Full-batch and per-sample gradients of the MSE at ``theta``, for all seeds.

    Returns ``summed`` (S, K, A) — the gradient the optimiser sees — and ``per_sample`` (S, N, K, A),
    the contribution of each point (they add up to ``summed``). Chapter 1.
    """
    _checks.max_affine_task("task", task)
    th, single = _batched(theta)
    bias = has_bias(th, task.in_dim)
    Xa = augment(task.X.to(th.dtype), bias)
    y = task.y.to(th.dtype)
    _, summed = loss_and_grad(th, Xa, y, need_loss=False)
    z = th @ Xa.T
    wins = winner_mask(z)
    residual = torch.where(wins, z, 0.0).sum(dim=1) - y
    per_sample = (2.0 / y.shape[0]) * (residual.unsqueeze(-1) * wins.transpose(1, 2)).unsqueeze(-1) * Xa[None, :, None, :]
    if single:
        return {"summed": summed[0], "per_sample": per_sample[0]}
    return {"summed": summed, "per_sample": per_sample}


def gradient_report(theta: torch.Tensor, task: MaxAffineTask) -> dict:
    """Per unit: the norm of the full-batch gradient and the mean norm of the per-point gradients
    (rescaled by N, i.e. the gradient one point alone would give). A stall is where the first is
    tiny and the second is not. Returns tensors (S, K) or (K,). Chapter 1.
    """
    _checks.max_affine_task("task", task)
    g = gradients(theta, task)
    n = task.n_points
    summed = g["summed"].norm(dim=-1)
    per_point = (g["per_sample"] * n).norm(dim=-1)
    active = per_point > 0
    mean_active = per_point.sum(dim=-2) / active.sum(dim=-2).clamp(min=1)
    return {"summed_norm": summed, "per_point_norm": mean_active}


def affine_lstsq(X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Closed-form least-squares affine fit ``y ≈ w·x + b`` in float64, on the points in ``mask``.

    Returns ``[w..., b]`` (D+1,). Chapter 1 compares a stalled network's live unit with it.
    """
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    if mask is not None:
        if mask.shape != y.shape or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(y.shape)}")
        X, y = X[mask], y[mask]
    if X.shape[0] < X.shape[1] + 1:
        raise ValueError(f"need at least {X.shape[1] + 1} points for an affine fit, got {X.shape[0]}")
    Xa = augment(X.to(torch.float64), True)
    return torch.linalg.lstsq(Xa, y.to(torch.float64)[:, None]).solution[:, 0]


def live_unit(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """For stalled networks with exactly one unit alive, that unit's parameters: (S, D+1) or (D+1,).

    Raises if a network has more or fewer than one unit that wins points. Chapter 1.
    """
    th, single = _batched(theta)
    alive = ~dead_units(th, X)
    counts = alive.sum(dim=1)
    if (counts != 1).any():
        bad = torch.nonzero(counts != 1)[:, 0].tolist()
        raise ValueError(f"networks {bad[:10]} do not have exactly one live unit (live counts {counts[bad[:10]].tolist()})")
    picked = th[torch.arange(th.shape[0]), alive.to(torch.int8).argmax(dim=1)]
    return picked[0] if single else picked


def death_steps(history: torch.Tensor, steps: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """For each seed, the first recorded step from which some unit wins no point until the end.

    ``history`` is a sweep's recorded parameters (T, S, K, A) at ``steps`` (T,). Seeds in which every
    unit still wins points at the end get -1; a unit dead from the start gives 0. Chapter 1.
    """
    _checks.tensor("history", history, ndim=4)
    if steps.shape != (history.shape[0],):
        raise ValueError(f"steps must have shape ({history.shape[0]},), got {tuple(steps.shape)}")
    T, S, K, A = history.shape
    dead = dead_units(history.reshape(T * S, K, A), X).reshape(T, S, K)
    # a unit is "dead for good" at row t if it is dead at every row from t on
    for_good = dead.flip(0).cumprod(dim=0).flip(0).bool().any(dim=2)
    first = torch.where(for_good.any(dim=0), for_good.to(torch.int8).argmax(dim=0), -1)
    return torch.where(first >= 0, steps[first.clamp(min=0)], -1)


def affine_fit_errors(draws: int = 1000, n_points: int = 1000, first_seed: int = 1) -> dict:
    """Error of the least-squares affine fit to the stall target over many fresh data sets.

    The question drew new random data each run; this gives the spread of the fit's MSE and mean
    absolute error over ``draws`` data sets of ``n_points`` (seeds ``first_seed`` onwards).
    Returns float64 tensors ``mse`` and ``mae`` of shape (draws,). Chapter 1.
    """
    from .data import stall_task

    _checks.positive("draws", draws, integer=True)
    _checks.positive("n_points", n_points, integer=True)
    _checks.seed("first_seed", first_seed)
    tasks = [stall_task(n_points, first_seed + i, dtype=torch.float64) for i in range(draws)]
    X = torch.stack([augment(t.X, True) for t in tasks])
    y = torch.stack([t.y for t in tasks])
    coef = torch.linalg.lstsq(X, y.unsqueeze(-1)).solution
    residual = (X @ coef).squeeze(-1) - y
    return {"mse": residual.square().mean(dim=1), "mae": residual.abs().mean(dim=1)}
