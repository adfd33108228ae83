"""A second structured network for chapter 7's recipe: a sum of ReLU hinges.

``f(x) = c + Σ_k v_k relu(w_k x + b_k)`` on ``x ∈ [-1, 1]`` is a free-knot linear spline, the
shape of many piecewise-linear laws a practitioner builds in by hand. It fits a planted target
with three hinges exactly, its units can be permuted freely, and a unit that is inactive on every
data point gets exactly zero gradient: the ReLU form of chapter 1's dead max unit. This module
trains many seeds at once (hand-written gradients of seed-batched parameters and the batched
Adam of :mod:`symcourse.sweeps`, which acts element by element, so each seed's run is its own) with the recipe's remedies: a leaky backward pass, bias nudging and
ReDo-style recycling. Computation only. Introduced in chapter 7.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from . import _checks
from .models import linear_init
from .sweeps import _Adam

#: The planted target: constant, then (knot, change of slope) per hinge.
HINGE_OFFSET = 0.5
HINGES = ((-0.5, 1.0), (0.0, 2.0), (0.5, 3.0))
HINGE_KINDS = ("baseline", "leaky", "nudging", "recycling", "data start")
#: Final training MSE at or below which a hinge run counts as solved (its plateaus sit above 1e-3).
HINGE_THRESHOLD = 1e-4


@dataclass
class HingeTask:
    """Inputs ``x`` (N,) uniform on [-1, 1] and targets ``y`` (N,) of the planted spline."""

    x: torch.Tensor
    y: torch.Tensor
    seed: int

    @property
    def n_points(self) -> int:
        return self.x.shape[0]


def hinge_target(x: torch.Tensor) -> torch.Tensor:
    """The planted spline at ``x``: 0.5 + relu(x + 1/2) + 2 relu(x) + 3 relu(x - 1/2), convex and increasing. Chapter 7."""
    _checks.tensor("x", x)
    return HINGE_OFFSET + sum(slope * torch.relu(x - knot) for knot, slope in HINGES)


def hinge_task(n_points: int = 200, seed: int = 1, dtype: torch.dtype = torch.float32) -> HingeTask:
    """``n_points`` uniform inputs on [-1, 1] (generator seeded with ``seed``) and the planted
    spline's values. Chapter 7."""
    _checks.positive("n_points", n_points, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    x = torch.rand(n_points, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
    return HingeTask(x.to(dtype), hinge_target(x).to(dtype), seed)


def hinge_init(seeds, units: int = 3, dtype: torch.dtype = torch.float32) -> dict:
    """Each seed's ``torch.manual_seed(s); nn.Linear(1, K); nn.Linear(K, 1)`` as batched tensors
    ``w, b, v`` (S, K) and ``c`` (S,). Chapter 7."""
    seeds = _checks.seeds(seeds)
    _checks.positive("units", units, integer=True)
    rows = {"w": [], "b": [], "v": [], "c": []}
    for s in seeds:  # a generator per seed: the global RNG is untouched (safe in threads)
        g = torch.Generator().manual_seed(s)
        (w, b), (v, c) = linear_init(1, units, g), linear_init(units, 1, g)
        for name, value in (("w", w[:, 0]), ("b", b), ("v", v[0]), ("c", c[0])):
            rows[name].append(value)
    return {name: torch.stack(values).to(dtype) for name, values in rows.items()}


def hinge_activations(params: dict, x: torch.Tensor) -> torch.Tensor:
    """Hidden activations relu(w x + b): (S, K, N). Chapter 7."""
    return torch.relu(params["w"].unsqueeze(-1) * x + params["b"].unsqueeze(-1))


def hinge_dead(params: dict, x: torch.Tensor) -> torch.Tensor:
    """Units inactive on every point of ``x``, which get exactly zero gradient: bool (S, K). Chapter 7."""
    return (hinge_activations(params, x) > 0).sum(dim=-1) == 0


@dataclass
class HingeResult:
    """What :func:`train_hinges` returns: parameters at the start and end, final training MSE,
    units dead at the start and at the end, how many units were recycled or nudged, seconds."""

    seeds: list
    start: dict
    params: dict
    final_loss: torch.Tensor
    dead_start: torch.Tensor
    dead_end: torch.Tensor
    events: torch.Tensor
    seconds: float

    @property
    def solved(self) -> torch.Tensor:
        return self.final_loss <= HINGE_THRESHOLD


def hinge_data_start(task: HingeTask, seeds, units: int = 3) -> dict:
    """A data-driven start for the hinge network, the analogue of chapter 7's partition start:
    each seed puts its ``units`` knots at distinct random data points (its own generator),
    ``w = 1`` and ``b = -knot``, and fits the outgoing weights and the constant by least squares
    (float64). Every unit is active on the points right of its knot. Chapter 7."""
    if not isinstance(task, HingeTask):
        raise TypeError(f"task must be a HingeTask (see hinge_task), got {type(task).__name__}")
    seeds = _checks.seeds(seeds)
    _checks.positive("units", units, integer=True)
    if units >= task.n_points:
        raise ValueError(f"units must be below the number of points ({task.n_points}), got {units}")
    x, y = task.x.to(torch.float64), task.y.to(torch.float64)
    low = x.min()
    knots = torch.stack([x[torch.randperm(task.n_points, generator=torch.Generator().manual_seed(s))[:units]]
                         for s in seeds]).clamp(max=x.max() - 1e-3).clamp(min=low)  # (S, K)
    w = torch.ones_like(knots)
    b = -knots
    features = torch.cat([torch.relu(x - knots.unsqueeze(-1)), torch.ones(len(seeds), 1, task.n_points,
                                                                          dtype=torch.float64)], dim=1)
    gram = features @ features.transpose(1, 2) + 1e-9 * torch.eye(units + 1, dtype=torch.float64)
    coef = torch.linalg.solve(gram, features @ y.unsqueeze(-1)).squeeze(-1)
    dtype = task.x.dtype
    return {"w": w.to(dtype), "b": b.to(dtype), "v": coef[:, :units].to(dtype), "c": coef[:, units].to(dtype)}


def _hinge_gradients(params, x, y, scale, leak):
    """Gradient of the MSE with respect to ``w, b, v, c``, written out; with ``leak`` > 0 an
    inactive unit passes back the share ``leak`` of its gradient (straight-through leaky ReLU)."""
    pre = params["w"].unsqueeze(-1) * x + params["b"].unsqueeze(-1)  # (S, K, N)
    active = torch.gt(pre, 0.0, out=torch.empty_like(pre))  # 0/1 floats directly: no bool copy
    hidden = pre * active
    residual = (params["v"].unsqueeze(-1) * hidden).sum(dim=1) + params["c"].unsqueeze(-1) - y
    r = residual.mul_(scale).unsqueeze(1)  # dL/d output, (S, 1, N)
    slope = active if not leak else active.mul(1.0 - leak).add_(leak)
    back = r * params["v"].unsqueeze(-1) * slope  # dL/d pre-activation
    return {"w": (back * x).sum(dim=-1), "b": back.sum(dim=-1), "v": (r * hidden).sum(dim=-1),
            "c": r[:, 0].sum(dim=-1)}


def train_hinges(task: HingeTask, seeds=200, kind: str = "baseline", knob: float = 0.0, *, units: int = 3,
                 steps: int = 2000, lr: float = 0.02, until: float = 0.75, every: int = 100) -> HingeResult:
    """Train the hinge network on ``task`` from every seed's default initialisation, all seeds at once,
    with full-batch Adam and one remedy until ``until`` of the budget:

    * ``"leaky"``: inactive units pass the share ``knob`` of the gradient back (forward unchanged);
    * ``"nudging"``: after every step, raise by ``knob`` the bias of every unit active on less than
      2% of the points;
    * ``"recycling"``: every ``every`` steps, ReDo: a unit inactive on every point gets fresh
      incoming weights (a new default draw), a zero outgoing weight and zeroed Adam state;
    * ``"data start"``: start from :func:`hinge_data_start` instead of PyTorch's initialisation.

    Chapter 7 runs its recipe with it.
    """
    if not isinstance(task, HingeTask):
        raise TypeError(f"task must be a HingeTask (see hinge_task), got {type(task).__name__}")
    _checks.choice("kind", kind, HINGE_KINDS)
    _checks.positive("knob", knob, allow_zero=True)
    if kind in ("leaky", "nudging") and knob <= 0:
        raise ValueError(f"kind={kind!r} needs a knob above 0, got {knob}")
    if kind == "leaky" and knob >= 1:
        raise ValueError(f"a leak must be below 1, got {knob}")
    _checks.positive("units", units, integer=True)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    _checks.in_range("until", until, 0.0, 1.0)
    _checks.positive("every", every, integer=True)
    seeds = _checks.seeds(seeds)
    x, y = task.x, task.y
    start = hinge_data_start(task, seeds, units) if kind == "data start" else hinge_init(seeds, units, x.dtype)
    params = {k: v.clone() for k, v in start.items()}
    opts = {k: _Adam(v, lr) for k, v in params.items()}
    events = torch.zeros(len(seeds), dtype=torch.int64)
    end = until * steps
    attempts = 0
    scale = 2.0 / task.n_points
    began = time.perf_counter()
    with torch.inference_mode():
        for t in range(steps):
            on = t < end
            grads = _hinge_gradients(params, x, y, scale, knob if kind == "leaky" and on else 0.0)
            for name, opt in opts.items():
                opt.step(params[name], grads[name])
            if kind == "nudging" and on:
                low = (hinge_activations(params, x) > 0).to(x.dtype).mean(dim=-1) < 0.02
                params["b"] += knob * low.to(x.dtype)
                events += low.sum(dim=1)
            if kind == "recycling" and on and (t + 1) % every == 0:
                dead = hinge_dead(params, x)
                if dead.any():
                    attempts += 1
                    fresh = hinge_init([1_000_003 * attempts + s for s in seeds], units, x.dtype)
                    for name in ("w", "b"):
                        params[name][dead] = fresh[name][dead]
                    params["v"][dead] = 0
                    for name in ("w", "b", "v"):
                        opts[name].exp_avg[dead] = 0
                        opts[name].exp_avg_sq[dead] = 0
                    events += dead.sum(dim=1)
    with torch.no_grad():
        final = {k: v.clone() for k, v in params.items()}
        out = (final["v"].unsqueeze(-1) * hinge_activations(final, x)).sum(dim=1) + final["c"].unsqueeze(-1)
        final_loss = (out - y).square().mean(dim=1)
    return HingeResult(seeds=seeds, start=start, params=final, final_loss=final_loss,
                       dead_start=hinge_dead(start, x), dead_end=hinge_dead(final, x), events=events,
                       seconds=time.perf_counter() - began)


__all__ = ["HINGE_OFFSET", "HINGES", "HINGE_KINDS", "HINGE_THRESHOLD", "HingeTask", "HingeResult",
           "hinge_target", "hinge_task", "hinge_init", "hinge_data_start", "hinge_activations", "hinge_dead", "train_hinges"]
