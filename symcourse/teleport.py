"""Using symmetry: move a network along the orbit of its rescale (or scale) symmetries without
changing its function, to a balanced point or to a point with a larger gradient.

The product of all rescale groups acts on the flattened parameters as ``θ ↦ θ ⊙ exp(Sᵀ t)``,
where row ``n`` of ``S`` holds group ``n``'s signs and ``t`` its log-scale. The gradient
transforms exactly as ``g ↦ g ⊙ exp(−Sᵀ t)``, so the gradient anywhere on the orbit is known from
one gradient evaluation. Every move is checked: :func:`check_invariance` raises
:class:`NotASymmetry` when the loss changes by more than a tolerance (1e-10 relative by default).

Moves layer: imports the mathematics (:mod:`symcourse.symmetry`) and the bottom modules.
Introduced in chapter 8.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .data import ClassificationTask
from .symmetry import Symmetry, rescale_groups


class NotASymmetry(ValueError):
    """A move that was meant to be a symmetry changed the loss. Chapter 8."""


def deep_relu_mlp(in_dim: int = 40, width: int = 24, depth: int = 12, classes: int = 10, *,
                  seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """``depth`` Linear layers with ReLU between them, He-initialised (normal weights with
    variance ``2 / fan_in``, zero biases) so that the signal neither dies nor explodes with depth.
    Introduced in chapter 8."""
    for name, value in (("in_dim", in_dim), ("width", width), ("classes", classes)):
        _checks.positive(name, value, integer=True)
    _checks.positive("depth", depth, integer=True)
    if depth < 2:
        raise ValueError(f"depth must be at least 2 (one hidden layer), got {depth}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _checks.dtype("dtype", dtype)
    torch.manual_seed(seed)
    sizes = [in_dim] + [width] * (depth - 1) + [classes]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(a, b)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear] if i == depth - 1 else [linear, nn.ReLU()]
    return nn.Sequential(*layers).to(dtype)


def _model_and_task(model, task) -> None:
    _checks.module("model", model)
    _checks.classification_task("task", task)


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """All parameters of ``model`` as one detached vector. Chapter 8."""
    _checks.module("model", model)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def load_flat(model: nn.Module, theta: torch.Tensor) -> nn.Module:
    """Write the vector ``theta`` into ``model``'s parameters (in place); returns the model."""
    _checks.instance("model", model, nn.Module, "torch.nn.Module")
    total = sum(p.numel() for p in model.parameters())
    _checks.tensor("theta", theta, shape=(total,))
    start = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(theta[start:start + p.numel()].view_as(p))
            start += p.numel()
    return model


def sign_matrix(model: nn.Module, groups: list[Symmetry]) -> torch.Tensor:
    """Dense ``(groups, parameters)`` matrix of the groups' signs, in parameter order.
    Only multiplicative groups (scale, rescale) can be stacked this way. Chapter 8."""
    _checks.module("model", model)
    if not isinstance(groups, (list, tuple)) or not groups:
        raise ValueError("groups must not be empty")
    rows = []
    for sym in groups:
        if not isinstance(sym, Symmetry):
            raise TypeError(f"groups must hold Symmetry objects, got {type(sym).__name__}")
        if sym.kind == "translation":
            raise ValueError("translation groups act by addition, not by scaling; use scale or "
                             "rescale groups")
        rows.append(sym.flat_signs(model))
    return torch.stack(rows)


def move(theta: torch.Tensor, signs: torch.Tensor, log_scales: torch.Tensor) -> torch.Tensor:
    """``θ ⊙ exp(Sᵀ t)``: the group element with log-scales ``t`` applied to ``θ``. Chapter 8."""
    signs = _checks.tensor("signs", signs, ndim=2)
    _checks.tensor("theta", theta, shape=(signs.shape[1],))
    _checks.tensor("log_scales", log_scales, shape=(signs.shape[0],))
    return theta * torch.exp(signs.T @ log_scales)


def full_loss(model: nn.Module, task: ClassificationTask) -> float:
    """Cross-entropy of ``model`` on the whole task, in the model's precision (NaN for a model
    that diverged). Chapter 8."""
    _checks.instance("model", model, nn.Module, "torch.nn.Module")
    _checks.classification_task("task", task)
    with torch.no_grad():
        return nn.functional.cross_entropy(model(task.X), task.labels).item()


def check_invariance(model: nn.Module, task: ClassificationTask, before: torch.Tensor,
                     after: torch.Tensor, tol: float = 1e-10) -> float:
    """Evaluate the loss at the flat parameters ``before`` and ``after`` (the model is left at
    ``after``) and return the relative change; raise :class:`NotASymmetry` if it exceeds ``tol``.
    Needs float64: in float32 rounding alone exceeds 1e-10. Introduced in chapter 8."""
    _model_and_task(model, task)
    for name, value in (("before", before), ("after", after)):
        _checks.tensor(name, value, shape=(sum(p.numel() for p in model.parameters()),))
    if any(p.dtype != torch.float64 for p in model.parameters()):
        raise TypeError("check_invariance needs a float64 model: float32 rounding alone "
                        "changes a loss by about 1e-7")
    _checks.positive("tol", tol)
    start = full_loss(load_flat(model, before), task)
    end = full_loss(load_flat(model, after), task)
    change = abs(end - start) / max(abs(start), 1e-300)
    if not change <= tol:
        raise NotASymmetry(f"the move changed the loss from {start:.17g} to {end:.17g} "
                           f"(relative {change:.1e} > tol {tol:.0e}): it is not a symmetry of "
                           f"this model")
    return change


def imbalance(theta: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """Per group, ``log(|θ_in|² / |θ_out|²) / 2``: zero for a balanced neuron. Chapter 8."""
    signs = _checks.tensor("signs", signs, ndim=2)
    _checks.tensor("theta", theta, shape=(signs.shape[1],))
    if not (signs < 0).any(dim=1).all():
        raise ValueError("every group needs outgoing (negative-sign) parameters to be balanced; "
                         "scale groups have none")
    squared = theta ** 2
    incoming = (signs > 0).to(theta.dtype) @ squared
    outgoing = (signs < 0).to(theta.dtype) @ squared
    return 0.5 * torch.log(incoming / outgoing)


def balancing_scales(theta: torch.Tensor, signs: torch.Tensor, *, tol: float = 1e-12,
                     max_steps: int = 100) -> torch.Tensor:
    """Log-scales ``t`` that make every group's incoming and outgoing squared norms equal at
    ``move(θ, S, t)``: the minimiser of the total squared norm ``F(t) = Σ θ_i² exp(2 (Sᵀt)_i)``
    over the orbit, whose gradient ``2 S (θ² e^{2Sᵀt})`` is twice the vector of
    incoming-minus-outgoing squared norms. ``F`` is convex, so Newton's method with a
    backtracking line search finds it in a few steps. Stops when every
    :func:`imbalance` is below ``tol``. Introduced in chapter 8."""
    signs = _checks.tensor("signs", signs, ndim=2)
    _checks.tensor("theta", theta, shape=(signs.shape[1],))
    _checks.positive("tol", tol)
    _checks.positive("max_steps", max_steps, integer=True)
    imbalance(theta, signs)  # raises for groups without outgoing parameters
    t = torch.zeros(signs.shape[0], dtype=theta.dtype)
    sparse = signs.to_sparse()  # each parameter is in at most two groups
    incoming, outgoing = (signs > 0).to(theta.dtype), (signs < 0).to(theta.dtype)
    total = lambda u: (theta ** 2 * torch.exp(2.0 * (signs.T @ u))).sum()  # noqa: E731
    for _ in range(max_steps):
        w = theta ** 2 * torch.exp(2.0 * (signs.T @ t))  # squared moved parameters
        if (0.5 * torch.log((incoming @ w) / (outgoing @ w))).abs().max() < tol:
            return t
        hessian = torch.sparse.mm(sparse, signs.T * w[:, None])
        step = -0.5 * torch.linalg.solve(hessian, signs @ w)
        size, current = 1.0, total(t)
        while total(t + size * step) > current and size > 1e-8:
            size /= 2
        t = t + size * step
    raise RuntimeError(f"balancing did not converge to {tol:g} in {max_steps} Newton steps")


def teleport_scales(gradient: torch.Tensor, signs: torch.Tensor, radius: float, *,
                    steps: int = 20) -> torch.Tensor:
    """Log-scales, each within ``±radius``, that increase ``|∇L|²`` along the orbit: projected
    gradient ascent on ``Σ g_i² exp(−2 (Sᵀt)_i)``, which the transformation law gives without
    new gradient evaluations. Introduced in chapter 8 (after Zhao et al., 2022)."""
    signs = _checks.tensor("signs", signs, ndim=2)
    _checks.tensor("gradient", gradient, shape=(signs.shape[1],))
    _checks.positive("radius", radius)
    _checks.positive("steps", steps, integer=True)
    t = torch.zeros(signs.shape[0], dtype=gradient.dtype, requires_grad=True)
    for _ in range(steps):
        norm = (gradient ** 2 * torch.exp(-2.0 * (signs.T @ t))).sum()
        (ascent,) = torch.autograd.grad(norm, t)
        with torch.no_grad():
            t += radius / 4 * ascent / ascent.abs().max().clamp_min(1e-300)
            t.clamp_(-radius, radius)
    return t.detach()


@dataclass
class OrbitMove:
    """What one checked move did: the relative loss change and the gradient norm (full batch)
    before and after, and the largest neuron imbalance before and after."""

    loss_change: float
    gradient_before: float
    gradient_after: float
    imbalance_before: float
    imbalance_after: float


def full_gradient(model: nn.Module, task: ClassificationTask) -> torch.Tensor:
    """The full-batch gradient of the cross-entropy, flattened. Chapter 8."""
    _model_and_task(model, task)
    model.zero_grad()
    nn.functional.cross_entropy(model(task.X), task.labels).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def orbit_move(model: nn.Module, task: ClassificationTask, how: str, *, radius: float = math.log(1.25),
               tol: float = 1e-10) -> OrbitMove:
    """Move ``model`` (in place) along its rescale orbit, ``how = "balance"`` (equal incoming
    and outgoing norms) or ``"teleport"`` (larger gradient norm within log-scales ``±radius``),
    and check that the loss did not change (:func:`check_invariance`). Chapter 8."""
    _checks.choice("how", how, ("balance", "teleport"))
    _model_and_task(model, task)
    _checks.positive("radius", radius)
    _checks.positive("tol", tol)
    signs = sign_matrix(model, rescale_groups(model))
    theta = flat_parameters(model)
    grad = full_gradient(model, task)
    if how == "balance":
        t = balancing_scales(theta, signs)
    else:
        t = teleport_scales(grad, signs, radius)
    moved = move(theta, signs, t)
    try:
        change = check_invariance(model, task, theta, moved, tol)
    except NotASymmetry:
        load_flat(model, theta)  # a refused move leaves the model where it was
        raise
    new_grad = full_gradient(model, task)
    return OrbitMove(loss_change=change, gradient_before=grad.norm().item(),
                     gradient_after=new_grad.norm().item(),
                     imbalance_before=imbalance(theta, signs).abs().max().item(),
                     imbalance_after=imbalance(moved, signs).abs().max().item())


@dataclass
class MovesRun:
    """A training run with periodic orbit moves: full-batch loss at ``steps``, the moves made
    (one :class:`OrbitMove` each) and the wall-clock seconds spent in moves and in all. A run
    whose loss stops being finite ends there (``diverged``)."""

    steps: list[int]
    loss: list[float]
    moves: list[OrbitMove]
    move_seconds: float
    seconds: float
    diverged_at: int | None = None  # the first step whose mini-batch loss was not finite

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.loss[-1])


def train_with_moves(model: nn.Module, task: ClassificationTask, lr: float, steps: int, *,
                     how: str | None = None, every: int = 100, batch_size: int = 100,
                     seed: int = 0, record_every: int = 50) -> MovesRun:
    """Plain SGD (``torch.optim.SGD``) on mini-batches drawn with ``seed``, with an
    :func:`orbit_move` (``how`` = "balance" or "teleport") before steps 0, ``every``, 2·``every``…
    or none (``how=None``). The full-batch loss is recorded every ``record_every`` steps and at
    the end. Introduced in chapter 8."""
    if how is not None:
        _checks.choice("how", how, ("balance", "teleport"))
    _model_and_task(model, task)
    _checks.seed("seed", seed)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("every", every, integer=True)
    _checks.positive("batch_size", batch_size, integer=True)
    _checks.positive("record_every", record_every, integer=True)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    recorded, losses, moves, move_seconds = [], [], [], 0.0
    started = time.perf_counter()
    for k in range(steps + 1):
        if k % record_every == 0 or k == steps:
            recorded.append(k)
            losses.append(full_loss(model, task))
            if not math.isfinite(losses[-1]):  # diverged: nothing more to learn from this run
                break
        if k == steps:
            break
        if how is not None and k % every == 0:
            tick = time.perf_counter()
            moves.append(orbit_move(model, task, how))
            move_seconds += time.perf_counter() - tick
        idx = torch.randint(0, task.X.shape[0], (batch_size,), generator=generator)
        optimiser.zero_grad()
        batch_loss = nn.functional.cross_entropy(model(task.X[idx]), task.labels[idx])
        if not math.isfinite(batch_loss.item()):
            recorded.append(k)
            losses.append(math.nan)
            return MovesRun(steps=recorded, loss=losses, moves=moves, move_seconds=move_seconds,
                            seconds=time.perf_counter() - started, diverged_at=k)
        batch_loss.backward()
        optimiser.step()
    diverged_at = recorded[-1] if not math.isfinite(losses[-1]) else None
    return MovesRun(steps=recorded, loss=losses, moves=moves, move_seconds=move_seconds,
                    seconds=time.perf_counter() - started, diverged_at=diverged_at)


def unbalance(model: nn.Module, spread: float, seed: int = 0) -> torch.Tensor:
    """Move ``model`` (in place) to a badly balanced point of its rescale orbit: log-scales drawn
    uniformly from ``±spread`` for every hidden neuron. The function, and so the loss, is
    unchanged; returns the log-scales used. Introduced in chapter 8."""
    _checks.positive("spread", spread)
    _checks.module("model", model)
    _checks.seed("seed", seed)
    signs = sign_matrix(model, rescale_groups(model))
    generator = torch.Generator().manual_seed(seed)
    t = (2 * torch.rand(signs.shape[0], generator=generator, dtype=torch.float64) - 1) * spread
    load_flat(model, move(flat_parameters(model), signs, t.to(signs.dtype)))
    return t


#: The chapter's comparison: name -> (spread of the unbalanced start, orbit move or None).
VARIANTS = {"He start": (0.0, None), "unbalanced start": (math.log(8), None),
            "unbalanced, rebalanced": (math.log(8), "balance"),
            "He start, teleported": (0.0, "teleport")}


def compare_variants(task: ClassificationTask, seeds, variants: dict | None = None, *,
                     lr: float = 0.05, steps: int = 600, every: int = 200,
                     record_every: int = 50, **model_kwargs) -> dict[str, list[MovesRun]]:
    """Train :func:`deep_relu_mlp` (seed ``s``) once per seed and variant, with equal step
    budgets and the same batches: ``variants`` maps a name to ``(spread, how)``, the spread of
    :func:`unbalance` (0 for none) and the orbit move every ``every`` steps (None for none).
    Introduced in chapter 8."""
    seeds = _checks.seeds(seeds)
    _checks.classification_task("task", task)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("every", every, integer=True)
    _checks.positive("record_every", record_every, integer=True)
    variants = VARIANTS if variants is None else variants
    runs = {}
    for name, (spread, how) in variants.items():
        runs[name] = []
        for seed in seeds:
            model = deep_relu_mlp(seed=seed, **model_kwargs)
            if spread:
                unbalance(model, spread, seed=seed)
            runs[name].append(train_with_moves(model, task, lr, steps, how=how, every=every,
                                               seed=seed, record_every=record_every))
    return runs
