"""Symmetry teleportation with GL(n) actions in a LeakyReLU regression network.

The setting of Zhao, Dehmamy, Walters & Yu (NeurIPS 2022): weights ``W_1 … W_L`` without
biases, ``h_0 = X`` (features × samples), ``h_m = σ(W_m h_{m-1})`` with an invertible
LeakyReLU ``σ``, output ``W_L h_{L-1}`` and loss ``½‖Y − W_L h_{L-1}‖²``. For invertible
``g_m`` (one per hidden layer, ``g_0 = I``) the weights

    W'_m = g_m W_m g_{m-1}⁻¹ + (σ⁻¹(g_m h_m) − g_m W_m h_{m-1}) (g_{m-1} h_{m-1})⁺   (m < L)
    W'_L = W_L g_{L-1}⁻¹

give hidden activations ``g_m h_m`` and the same output on the batch ``X``, as long as every
``g_{m-1} h_{m-1}`` has full column rank (no more samples than the narrowest layer input): the
symmetry is *data-dependent*, a symmetry of the loss on that batch, not of the function. The
first term is the GL(n) action of a linear network; the second corrects for the nonlinearity
inside the span of the data, so ``g = I`` leaves the weights alone. (The authors' form,
``σ⁻¹(g_m h_m) (g_{m-1} h_{m-1})⁺``, agrees on the data but drops the part of each weight
matrix the data do not see, so in it even ``g = I`` moves the weights.) Teleportation climbs
``|∇L|²`` over the group elements by gradient ascent (``g = exp(T)``, ``T`` a step from zero
along ``∂|∇L|²/∂T``), then gradient descent carries on from there.

Moves layer (like :mod:`symcourse.teleport`); imports only the bottom modules.
Introduced in chapter 8 (teleportation in Zhao et al.'s own setting).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import torch

from . import _checks
from .stats import mean_interval, sign_test

#: The network of the reference experiment: 4 samples of 5 features, hidden widths 6 and 7,
#: 8 outputs (three weight matrices).
DIMS = (4, 5, 6, 7, 8)
SLOPE = 0.1


def _leaky(x: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(x >= 0, x, slope * x)


def _leaky_inverse(x: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(x >= 0, x, x / slope)


def _check_problem(weights, X, Y, slope):
    if not isinstance(weights, (list, tuple)) or len(weights) < 2:
        raise ValueError("weights must be a list of at least two weight matrices "
                         f"(one hidden layer), got {type(weights).__name__}"
                         + (f" of length {len(weights)}" if hasattr(weights, "__len__") else ""))
    X = _checks.tensor("X", X, ndim=2)
    previous = X.shape[0]
    for m, w in enumerate(weights):
        _checks.tensor(f"weights[{m}]", w, shape=(None, previous))
        if w.dtype != X.dtype:
            raise TypeError(f"weights[{m}] has dtype {w.dtype} but X has {X.dtype}; use one")
        previous = w.shape[0]
    if Y is not None:
        _checks.tensor("Y", Y, shape=(previous, X.shape[1]))
    narrowest = min(w.shape[1] for w in weights)
    if X.shape[1] > narrowest:
        raise ValueError(f"X has {X.shape[1]} samples but a layer input has only {narrowest} "
                         "features: the GL(n) action needs no more samples than the narrowest "
                         "layer input (each layer input must have full column rank)")
    _checks.in_range("slope", slope, 0.0, 1.0)
    if slope == 0:
        raise ValueError("slope must be > 0: the action needs an invertible LeakyReLU")


def regression_problem(dims=DIMS, seed: int = 0, dtype: torch.dtype = torch.float64):
    """Weights, inputs and targets of the reference experiment: ``dims = (samples, n_0, …,
    n_L)``, every entry of ``X`` (``n_0 × samples``), ``Y`` (``n_L × samples``) and of each
    weight ``W_m`` (``n_m × n_{m-1}``) uniform on [0, 1), drawn with ``seed``. Returns
    ``(weights, X, Y)``. Introduced in chapter 8."""
    if not isinstance(dims, (list, tuple)) or len(dims) < 4:
        raise ValueError(f"dims must list samples, inputs, at least one hidden width and "
                         f"outputs, got {dims!r}")
    for k, d in enumerate(dims):
        _checks.positive(f"dims[{k}]", d, integer=True)
    _checks.seed("seed", seed)
    _checks.dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(seed)
    draw = lambda *shape: torch.rand(*shape, generator=gen, dtype=dtype)  # noqa: E731
    weights = [draw(b, a) for a, b in zip(dims[1:-1], dims[2:])]
    return weights, draw(dims[1], dims[0]), draw(dims[-1], dims[0])


def hidden(weights, X, slope: float = SLOPE) -> list[torch.Tensor]:
    """The layer inputs ``[h_0 = X, h_1, …, h_{L-1}]``. Chapter 8."""
    _check_problem(weights, X, None, slope)
    return _hidden(weights, X, slope)


def _hidden(weights, X, slope):
    hs = [X]
    for w in weights[:-1]:
        hs.append(_leaky(w @ hs[-1], slope))
    return hs


def regression_loss(weights, X, Y, slope: float = SLOPE) -> torch.Tensor:
    """``½‖Y − W_L h_{L-1}‖²`` (a tensor, differentiable in the weights). Introduced in
    chapter 8."""
    _check_problem(weights, X, Y, slope)
    return _loss(weights, X, Y, slope)


def _loss(weights, X, Y, slope):
    return 0.5 * ((Y - weights[-1] @ _hidden(weights, X, slope)[-1]) ** 2).sum()


def _gradient(weights, X, Y, slope, *, create_graph=False):
    leaves = [w if w.requires_grad else w.detach().requires_grad_(True) for w in weights]
    loss = _loss(leaves, X, Y, slope)
    return loss, torch.autograd.grad(loss, leaves, create_graph=create_graph)


def gradient_norm(weights, X, Y, slope: float = SLOPE) -> float:
    """``|∇L|`` over all weights. Chapter 8."""
    _check_problem(weights, X, Y, slope)
    _, grads = _gradient(weights, X, Y, slope)
    return math.sqrt(sum((g ** 2).sum().item() for g in grads))


def gl_action(weights, X, elements, slope: float = SLOPE) -> list[torch.Tensor]:
    """The weights moved by invertible matrices ``elements = [g_1, …, g_{L-1}]`` (``g_m`` is
    ``n_m × n_m``), by the data-dependent GL(n) action of the module docstring; the loss on
    ``X`` is unchanged. Differentiable in the elements. Introduced in chapter 8."""
    _check_problem(weights, X, None, slope)
    if not isinstance(elements, (list, tuple)) or len(elements) != len(weights) - 1:
        raise ValueError(f"elements must hold one matrix per hidden layer "
                         f"({len(weights) - 1}), got {elements!r:.60}")
    for m, (g, w) in enumerate(zip(elements, weights)):
        _checks.tensor(f"elements[{m}]", g, shape=(w.shape[0], w.shape[0]))
        if g.dtype != X.dtype or not torch.linalg.cond(g) < 1e12:
            raise ValueError(f"elements[{m}] must be an invertible {X.dtype} matrix "
                             f"(condition number below 1e12)")
    if torch.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("X must have full column rank (linearly independent samples): "
                         "otherwise no weights reproduce the moved activations exactly")
    return _act(weights, X, elements, slope)


def _act(weights, X, elements, slope):
    hs = _hidden([w.detach() for w in weights], X, slope)
    moved, previous = [], None  # previous: g_{m-1}, None for the identity
    for m, g in enumerate(elements):
        w = weights[m].detach()
        if previous is None:
            base, seen = g @ w, hs[m]
        else:
            base, seen = g @ w @ torch.linalg.inv(previous), previous @ hs[m]
        gap = _leaky_inverse(g @ hs[m + 1], slope) - g @ (w @ hs[m])
        moved.append(base + gap @ torch.linalg.pinv(seen))
        previous = g
    moved.append(weights[-1].detach() @ torch.linalg.inv(previous))
    return moved


def teleport(weights, X, Y, *, lr: float, steps: int = 8, slope: float = SLOPE,
             tol: float = 1e-9):
    """Gradient ascent on ``|∇L|²`` over the group: ``steps`` times, take ``g_m = exp(lr ·
    ∂|∇L|²/∂T_m)`` at ``T = 0`` and move the weights by :func:`gl_action`. An ascent step
    that would change the loss by more than ``tol`` (relative), which happens when a layer
    input becomes too ill-conditioned for the action to be exact in floating point, is
    refused and the ascent stops there. Returns ``(weights, norms)``: the moved weights and
    ``|∇L|`` before the first and after each accepted step. Introduced in chapter 8 (after
    Zhao et al., 2022)."""
    _check_problem(weights, X, Y, slope)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("tol", tol)
    weights = [w.detach() for w in weights]
    start = _loss(weights, X, Y, slope).item()
    norms = []
    for k in range(steps + 1):
        T = [torch.zeros(w.shape[0], w.shape[0], dtype=X.dtype, requires_grad=True)
             for w in weights[:-1]]
        moved = _act(weights, X, [torch.linalg.matrix_exp(t) for t in T], slope)
        _, grads = _gradient(moved, X, Y, slope, create_graph=True)
        squared = sum((g ** 2).sum() for g in grads)
        norms.append(math.sqrt(squared.item()))
        if k == steps:
            break
        ascent = torch.autograd.grad(squared, T)
        with torch.no_grad():
            elements = [torch.linalg.matrix_exp(lr * a) for a in ascent]
            try:
                candidate = _act(weights, X, elements, slope)
            except torch.linalg.LinAlgError:
                break
            loss = _loss(candidate, X, Y, slope).item()
        if not abs(loss - start) <= tol * abs(start):  # also refuses NaN
            break
        weights = candidate
    return weights, norms


@dataclass
class GDRun:
    """Full-batch gradient descent: the loss before each step (and after the last), the
    wall-clock seconds elapsed at each of those points (teleports included), and the gradient
    norms of each teleport (one list per teleport)."""

    loss: list[float]
    seconds: list[float]
    teleports: list[list[float]]

    def steps_to(self, target: float) -> int | None:
        """The first step whose loss is at or below ``target`` (``None`` if never)."""
        _checks.finite("target", target)
        return next((k for k, v in enumerate(self.loss) if v <= target), None)

    def seconds_to(self, target: float) -> float | None:
        """Wall-clock seconds until the loss first got to ``target`` or below."""
        k = self.steps_to(target)
        return None if k is None else self.seconds[k]


def train(weights, X, Y, *, lr: float, steps: int, teleport_at=(), teleport_lr: float = 1e-7,
          teleport_steps: int = 8, slope: float = SLOPE) -> GDRun:
    """Full-batch gradient descent on :func:`regression_loss` from ``weights`` (not changed),
    teleporting (:func:`teleport`) before each step listed in ``teleport_at``. A run whose loss
    stops being finite ends there. Introduced in chapter 8."""
    _check_problem(weights, X, Y, slope)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    if not isinstance(teleport_at, (list, tuple)) or any(
            isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < steps
            for k in teleport_at):
        raise ValueError(f"teleport_at must list steps in [0, {steps}), got {teleport_at!r}")
    _checks.positive("teleport_lr", teleport_lr)
    _checks.positive("teleport_steps", teleport_steps, integer=True)
    weights = [w.detach().clone() for w in weights]
    losses, seconds, teleports = [], [], []
    start = time.perf_counter()
    for k in range(steps + 1):
        if k in teleport_at:
            weights, norms = teleport(weights, X, Y, lr=teleport_lr, steps=teleport_steps,
                                      slope=slope)
            teleports.append(norms)
        loss, grads = _gradient(weights, X, Y, slope)
        losses.append(loss.item())
        seconds.append(time.perf_counter() - start)
        if not math.isfinite(losses[-1]) or k == steps:
            break
        weights = [w.detach() - lr * g for w, g in zip(weights, grads)]
    return GDRun(losses, seconds, teleports)


def speedup(reference: GDRun, other: GDRun, at: int) -> dict:
    """How much faster ``other`` reaches the loss ``reference`` has at step ``at``: the steps
    and seconds each needs to get to that loss (the first time at or below it) and their
    ratios, reference over other (above 1: ``other`` is faster). ``other`` never getting
    there gives ``None`` for its steps and seconds and ratios of 0. Chapter 8."""
    for name, run in (("reference", reference), ("other", other)):
        _checks.instance(name, run, GDRun)
    _checks.integer("at", at, low=1, high=len(reference.loss) - 1)
    target = reference.loss[at]
    k_ref, k_other = reference.steps_to(target), other.steps_to(target)
    s_ref, s_other = reference.seconds[k_ref], other.seconds_to(target)
    return {"target": target, "steps": k_ref, "other_steps": k_other, "seconds": s_ref,
            "other_seconds": s_other,
            "step_ratio": 0.0 if k_other is None else k_ref / max(k_other, 1),
            "second_ratio": 0.0 if s_other is None else s_ref / max(s_other, 1e-9)}


def summarise_speedups(ratios, confidence: float = 0.95) -> dict:
    """Paired summary of per-seed speed-up ratios (same seeds, one ratio each): the geometric
    mean with a Student-t interval on the mean log ratio, the median, the smallest and
    largest, the seeds faster (``wins``, ratio > 1) and slower (``losses``, ratio < 1), and
    the exact two-sided sign-test p-value. A ratio of 0 (never reached the target) counts as a
    loss and leaves the interval undefined (NaN). Introduced in chapter 8."""
    values = _checks.tensor("ratios", torch.as_tensor(ratios, dtype=torch.float64), ndim=1)
    if len(values) < 2 or (values < 0).any():
        raise ValueError(f"ratios must hold at least two non-negative ratios, got {ratios!r}")
    wins, losses = int((values > 1).sum()), int((values < 1).sum())
    out = {"n": len(values), "median": values.median().item(), "min": values.min().item(),
           "max": values.max().item(), "wins": wins, "losses": losses,
           "p_value": sign_test(wins, losses)}
    if (values > 0).all():
        logs = mean_interval(values.log(), confidence)
        out.update(geometric_mean=math.exp(logs["mean"]), low=math.exp(logs["low"]),
                   high=math.exp(logs["high"]))
    else:
        out.update(geometric_mean=math.nan, low=math.nan, high=math.nan)
    return out


def stored_study() -> dict:
    """The teleportation study that ``benchmarks/teleport_study.py`` ran and stored with the
    package (``symcourse/stored/teleport_study.json``). Chapter 8."""
    from importlib import resources

    text = resources.files("symcourse").joinpath("stored", "teleport_study.json")
    return json.loads(text.read_text(encoding="utf-8"))
