"""Diagnosing the stall of chapter 1: who wins where, what gradient each parameter receives, and
what a stalled network is equal to.

Computation only (no plotting). Parameters are batched, (S, K, D[+1]); every function also takes
a single network's (K, D[+1]) and returns results without the seed dimension.
"""
from __future__ import annotations

import torch

from . import _checks
from .data import MaxAffineTask
from .models import augment, unit_outputs
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


def winners(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Index of the unit that wins each point (ties to the lowest index): (S, N) or (N,).
    ``bias``: whether ``theta`` has a bias column (never guessed, see
    :func:`symcourse.models.unit_outputs`). Chapter 1."""
    th, single = _batched(theta)
    idx = winner_mask(unit_outputs(th, X, bias=bias)).to(torch.int8).argmax(dim=1)
    return idx[0] if single else idx


def win_fractions(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Fraction of points each unit wins: (S, K) or (K,); ``bias`` as in :func:`winners`.
    Chapter 1."""
    th, single = _batched(theta)
    frac = winner_mask(unit_outputs(th, X, bias=bias)).to(th.dtype).mean(dim=2)
    return frac[0] if single else frac


def dead_units(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Units that win no point of ``X``, so receive exactly zero gradient: bool (S, K) or (K,);
    ``bias`` as in :func:`winners`. Chapter 1."""
    return win_fractions(theta, X, bias=bias) == 0


def is_stalled(final_loss: torch.Tensor, threshold: float = STALL_THRESHOLD) -> torch.Tensor:
    """Runs whose final training MSE is above ``threshold``. Chapter 1."""
    _checks.positive("threshold", threshold)
    _checks.nonempty("final_loss", _checks.tensor("final_loss", final_loss))
    return final_loss > threshold


def gradients(theta: torch.Tensor, task: MaxAffineTask, *, bias: bool = True) -> dict:
    """Full-batch and per-sample gradients of the MSE at ``theta``, for all seeds.

    Returns ``summed`` (S, K, A) — the gradient the optimiser sees — and ``per_sample`` (S, N, K, A),
    the contribution of each point (they add up to ``summed``); ``bias`` as in
    :func:`winners`. Chapter 1.
    """
    _checks.max_affine_task("task", task)
    th, single = _batched(theta)
    unit_outputs(th, task.X, bias=bias)  # checks the shapes against ``bias``
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


def gradient_report(theta: torch.Tensor, task: MaxAffineTask, *, bias: bool = True) -> dict:
    """Per unit: the norm of the full-batch gradient and the mean norm of the per-point gradients
    (rescaled by N, i.e. the gradient one point alone would give). A stall is where the first is
    tiny and the second is not. Returns tensors (S, K) or (K,); ``bias`` as in :func:`winners`.
    Chapter 1.
    """
    _checks.max_affine_task("task", task)
    g = gradients(theta, task, bias=bias)
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


def live_unit(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """For stalled networks with exactly one unit alive, that unit's parameters: (S, D+1) or (D+1,).

    Raises if a network has more or fewer than one unit that wins points; ``bias`` as in
    :func:`winners`. Chapter 1.
    """
    th, single = _batched(theta)
    alive = ~dead_units(th, X, bias=bias)
    counts = alive.sum(dim=1)
    if (counts != 1).any():
        bad = torch.nonzero(counts != 1)[:, 0].tolist()
        raise ValueError(f"networks {bad[:10]} do not have exactly one live unit (live counts {counts[bad[:10]].tolist()})")
    picked = th[torch.arange(th.shape[0]), alive.to(torch.int8).argmax(dim=1)]
    return picked[0] if single else picked


def death_steps(history: torch.Tensor, steps: torch.Tensor, X: torch.Tensor, *,
                bias: bool = True) -> torch.Tensor:
    """For each seed, the first recorded step from which some unit wins no point until the end.

    ``history`` is a sweep's recorded parameters (T, S, K, A) at ``steps`` (T,). Seeds in which every
    unit still wins points at the end get -1; a unit dead from the start gives 0; ``bias`` as
    in :func:`winners`. Chapter 1.
    """
    _checks.tensor("history", history, ndim=4)
    if steps.shape != (history.shape[0],):
        raise ValueError(f"steps must have shape ({history.shape[0]},), got {tuple(steps.shape)}")
    T, S, K, A = history.shape
    dead = dead_units(history.reshape(T * S, K, A), X, bias=bias).reshape(T, S, K)
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


def training_mode_errors(theta: torch.Tensor, task: MaxAffineTask, *, dropout_before: float = 0.0,
                         dropout_after: float = 0.0, draws: int = 20, seed: int = 0,
                         bias: bool = True) -> dict:
    """The errors a training loop logs while dropout is switched on (PyTorch's training mode).

    ``theta`` (S, K, D[+1]) or (K, D[+1]); inverted dropout with probability ``dropout_before`` on
    the inputs (not the bias) and ``dropout_after`` on the units' outputs, fresh masks for every
    point, as ``nn.Dropout`` draws them. Returns float64 ``mae`` and ``mse`` per network, averaged
    over ``draws`` independent masks (generator seeded with ``seed``). With both probabilities 0
    they are the ordinary errors; ``bias`` as in :func:`winners`. Chapter 1 compares them with
    the question's dropout figures.
    """
    th, single = _batched(theta)
    if not isinstance(task, MaxAffineTask):
        raise TypeError(f"task must be a MaxAffineTask (see symcourse.data), got {type(task).__name__}")
    _checks.in_range("dropout_before", dropout_before, 0.0, 1.0, high_open=True)
    _checks.in_range("dropout_after", dropout_after, 0.0, 1.0, high_open=True)
    _checks.positive("draws", draws, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    th = th.to(torch.float64)
    S, K, A = th.shape
    D = task.in_dim
    unit_outputs(th, task.X, bias=bias)  # checks the shapes against ``bias``
    X, y = task.X.to(torch.float64), task.y.to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    mae_sum = torch.zeros(S, dtype=torch.float64)
    mse_sum = torch.zeros(S, dtype=torch.float64)
    for _ in range(draws):
        keep = (torch.rand(S, X.shape[0], D, generator=generator) >= dropout_before).to(torch.float64)
        inputs = X * keep / (1.0 - dropout_before)  # (S, N, D)
        z = torch.einsum("skd,snd->skn", th[..., :D], inputs)
        if bias:
            z = z + th[..., D:]
        keep = (torch.rand(z.shape, generator=generator) >= dropout_after).to(torch.float64)
        residual = (z * keep / (1.0 - dropout_after)).amax(dim=1) - y
        mae_sum += residual.abs().mean(dim=1)
        mse_sum += residual.square().mean(dim=1)
    out = {"mae": mae_sum / draws, "mse": mse_sum / draws}
    return {k: v[0] for k, v in out.items()} if single else out


def dropout_then_plain(task: MaxAffineTask, seeds=200, *, dropout_before: float = 0.0,
                       dropout_after: float = 0.0, dropout_steps: int = 1000, total_steps: int = 4000,
                       record_every: int = 100, **options) -> tuple:
    """Train with dropout for ``dropout_steps``, then switch it off and continue plain training
    from the weights reached (a fresh Adam) until ``total_steps`` in all, so the result can be
    compared seed by seed with plain training for the same total. Returns the two
    :class:`symcourse.sweeps.SweepResult`\\ s ``(with_dropout, continued)``; ``options`` go to
    :func:`symcourse.sweeps.train_sweep` for both phases. Chapter 1.
    """
    from .sweeps import train_sweep

    _checks.positive("dropout_steps", dropout_steps, integer=True)
    _checks.positive("total_steps", total_steps, integer=True)
    if dropout_steps >= total_steps:
        raise ValueError(f"dropout_steps must be less than total_steps={total_steps}, got {dropout_steps}")
    if not dropout_before and not dropout_after:
        raise ValueError("give dropout_before or dropout_after (a probability above 0)")
    first = train_sweep(task, seeds, steps=dropout_steps, dropout_before=dropout_before,
                        dropout_after=dropout_after, record_every=record_every, **options)
    rest = total_steps - dropout_steps
    second = train_sweep(task, seeds, steps=rest, theta0=first.theta, record_every=min(record_every, rest),
                         **options)
    return first, second


def dead_unit_fates(dead_at_start: torch.Tensor, dead_reference: torch.Tensor,
                    dead_treated: torch.Tensor) -> dict:
    """Count what a treatment does to dead units, seed by seed (1-D bool tensors, same seeds).

    ``dead_at_start``: a unit wins no point at initialisation; ``dead_reference`` and
    ``dead_treated``: a unit wins no point at the end of plain training and of the treated
    training. Returns counts: ``revived`` (dead at start, alive at the end of the treatment),
    ``revived_reference`` (the same without treatment), ``prevented`` (alive at start, dead
    after plain training, alive after the treatment), ``caused`` (alive after plain training,
    dead after the treatment), and ``dead_at_start``. Chapter 1.
    """
    flags = {"dead_at_start": dead_at_start, "dead_reference": dead_reference, "dead_treated": dead_treated}
    for name, value in flags.items():
        if not isinstance(value, torch.Tensor) or value.dtype != torch.bool or value.ndim != 1:
            raise TypeError(f"{name} must be a 1-D bool tensor, one flag per seed")
        if value.shape != dead_at_start.shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {tuple(dead_at_start.shape)}")
    start, ref, treated = dead_at_start, dead_reference, dead_treated
    return {"dead_at_start": int(start.sum()), "revived": int((start & ~treated).sum()),
            "revived_reference": int((start & ~ref).sum()),
            "prevented": int((~start & ref & ~treated).sum()), "caused": int((~ref & treated).sum())}
