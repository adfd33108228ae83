"""Remedies for the stall of chapter 1, as reusable pieces and as one batched engine.

A max-of-affine network stalls when a unit wins no training point: its gradient is then
exactly zero (chapter 1). Each remedy here changes one thing so that such a unit gets a
signal or a second chance:

* :func:`no_bias` and :func:`more_units` change the network;
* :func:`smooth_max` replaces the max by a soft maximum whose temperature is annealed to zero,
  so every unit receives some gradient while it matters (:func:`soft_max_output`);
* :func:`dead_unit_revival` re-seats units that win no point where the fit is worst and zeroes
  their optimiser state, as k-means does with empty clusters (:func:`reseat_dead_units`,
  :func:`revive_dead_units`);
* :func:`load_balancing` adds the auxiliary loss of mixture-of-experts routing
  (:func:`load_balancing_loss`);
* :func:`partition_init` starts from a least-squares partition fit of the data
  (:func:`least_squares_partition`);
* :func:`noise_injection` perturbs the parameters with annealed Gaussian noise
  (:func:`parameter_noise`), and :func:`restarts` re-draws the whole network when a unit is dead.

:func:`train_remedy` trains many seeds with any :class:`Remedy` at once, with hand-derived
gradients and the batched Adam of :mod:`symcourse.sweeps`; the unit tests check it against a
plain per-seed PyTorch loop built from the reader-facing functions above. Computation only:
imports data, models, sweeps and stall, never plots or widgets. Introduced in chapter 7.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from functools import partial

import torch

from . import _checks
from .data import MaxAffineTask, max_affine_task
from .models import augment, init_theta, mse
from .parallel import run_jobs
from .stall import STALL_THRESHOLD, dead_units, is_stalled
from .stats import paired_comparison, rate_summary
from .sweeps import SweepResult, _make_optimizer, _recorded_steps, _validate_more, winner_mask

KINDS = ("baseline", "no bias", "more units", "smooth max", "revival", "load balancing",
         "partition init", "noise", "restarts", "leaky max", "bias nudging", "recycling", "dropout after")

#: Default share of the step budget after which every intervention stops (temperature at 0,
#: auxiliary loss and noise off, no more re-seating or restarts), so that the last quarter of
#: every run is plain training of the plain network.
UNTIL = 0.75


# --------------------------------------------------------------------------------------------
# Remedy descriptions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remedy:
    """What to change in the question's training, as data. Build one with the functions below.

    ``units_factor`` multiplies the number of units; ``bias`` switches the biases;
    ``temperature`` is the soft maximum's starting temperature (0: the hard max);
    ``aux_weight`` and ``aux_temperature`` set the load-balancing loss; ``revive_every`` and
    ``restart_every`` are the check periods (0: never); ``noise`` is the starting standard
    deviation of parameter noise; ``init`` is ``"default"`` (PyTorch's) or ``"partition"``
    (:func:`least_squares_partition` with ``init_iterations`` rounds); ``neighbours`` is the size
    of the local fits used to re-seat units; every schedule ends at ``until`` (a share of the
    step budget). Chapter 7.
    """

    kind: str = "baseline"
    units_factor: int = 1
    bias: bool = True
    temperature: float = 0.0
    aux_weight: float = 0.0
    aux_temperature: float = 1.0
    revive_every: int = 0
    restart_every: int = 0
    noise: float = 0.0
    init: str = "default"
    init_iterations: int = 0
    neighbours: int = 50
    until: float = UNTIL
    leak: float = 0.0
    nudge: float = 0.0
    nudge_floor: float = 0.02
    recycle_every: int = 0
    dropout_after: float = 0.0

    def __post_init__(self):
        _checks.choice("kind", self.kind, KINDS)
        _checks.positive("units_factor", self.units_factor, integer=True)
        if not isinstance(self.bias, bool):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")
        _checks.positive("temperature", self.temperature, allow_zero=True)
        _checks.positive("aux_weight", self.aux_weight, allow_zero=True)
        _checks.positive("aux_temperature", self.aux_temperature)
        _checks.positive("revive_every", self.revive_every, integer=True, allow_zero=True)
        _checks.positive("restart_every", self.restart_every, integer=True, allow_zero=True)
        _checks.positive("noise", self.noise, allow_zero=True)
        _checks.choice("init", self.init, ("default", "partition"))
        _checks.positive("init_iterations", self.init_iterations, integer=True, allow_zero=True)
        _checks.positive("neighbours", self.neighbours, integer=True)
        _checks.in_range("until", self.until, 0.0, 1.0)
        if self.temperature > 0 and self.aux_weight > 0:
            raise ValueError("choose a soft maximum (temperature) or a load-balancing loss (aux_weight), not both")
        if self.init == "partition" and not self.bias:
            raise ValueError("init='partition' fits affine pieces and needs bias=True")
        _checks.in_range("leak", self.leak, 0.0, 1.0, high_open=True)
        _checks.positive("nudge", self.nudge, allow_zero=True)
        _checks.in_range("nudge_floor", self.nudge_floor, 0.0, 1.0)
        _checks.positive("recycle_every", self.recycle_every, integer=True, allow_zero=True)
        _checks.in_range("dropout_after", self.dropout_after, 0.0, 1.0, high_open=True)
        if self.leak > 0 and self.soft:
            raise ValueError("a leaky max replaces the hard max's gradient; it cannot join a soft max or auxiliary loss")
        if self.nudge > 0 and not self.bias:
            raise ValueError("bias nudging moves the units' biases and needs bias=True")
        if self.dropout_after > 0 and (self.soft or self.leak or self.nudge or self.noise or self.revive_every
                                       or self.restart_every or self.recycle_every or self.init != "default"):
            raise ValueError("dropout_after combines with no other intervention")

    @property
    def soft(self) -> bool:
        """Whether the forward pass uses a soft maximum or an auxiliary loss at all."""
        return self.temperature > 0 or self.aux_weight > 0


def baseline() -> Remedy:
    """The question's set-up, unchanged. Chapter 7."""
    return Remedy("baseline")


def no_bias() -> Remedy:
    """Units without biases (the question's own experiment). Chapter 7."""
    return Remedy("no bias", bias=False)


def more_units(factor: int = 2) -> Remedy:
    """Over-parameterisation: ``factor`` times as many units in the max. Chapter 7."""
    _checks.positive("factor", factor, integer=True)
    if factor < 2:
        raise ValueError(f"factor must be at least 2 to add units, got {factor}")
    return Remedy("more units", units_factor=factor)


def smooth_max(temperature: float = 0.5, until: float = UNTIL) -> Remedy:
    """Train through ``τ·logsumexp(z/τ)`` with ``τ`` falling linearly from ``temperature`` to 0
    at ``until`` of the budget; the hard max from then on. Chapter 7."""
    _checks.positive("temperature", temperature)
    return Remedy("smooth max", temperature=temperature, until=until)


def dead_unit_revival(every: int = 100, until: float = UNTIL, neighbours: int = 50) -> Remedy:
    """Every ``every`` steps, re-seat units that win no point where the fit is worst
    (:func:`reseat_dead_units`) and zero their Adam moments. Chapter 7."""
    _checks.positive("every", every, integer=True)
    return Remedy("revival", revive_every=every, until=until, neighbours=neighbours)


def load_balancing(weight: float = 0.1, temperature: float = 0.5, until: float = UNTIL) -> Remedy:
    """Add ``weight ×`` :func:`load_balancing_loss` (router temperature ``temperature``) to the MSE,
    switched off at ``until`` of the budget. Chapter 7."""
    _checks.positive("weight", weight)
    return Remedy("load balancing", aux_weight=weight, aux_temperature=temperature, until=until)


def partition_init(iterations: int = 10, neighbours: int = 50) -> Remedy:
    """Start from :func:`least_squares_partition` (``iterations`` rounds) instead of PyTorch's
    random initialisation. Chapter 7."""
    _checks.positive("iterations", iterations, integer=True)
    return Remedy("partition init", init="partition", init_iterations=iterations, neighbours=neighbours)


def noise_injection(scale: float = 0.05, until: float = UNTIL) -> Remedy:
    """After every step add Gaussian noise of standard deviation ``scale``, falling linearly to 0
    at ``until`` of the budget, to every parameter (:func:`parameter_noise`). Chapter 7."""
    _checks.positive("scale", scale)
    return Remedy("noise", noise=scale, until=until)


def restarts(every: int = 100, until: float = UNTIL) -> Remedy:
    """Every ``every`` steps, re-draw the whole network of every seed that has a unit winning no
    point (a fresh PyTorch initialisation) and zero its Adam moments. Chapter 7."""
    _checks.positive("every", every, integer=True)
    return Remedy("restarts", restart_every=every, until=until)


def leaky_max(leak: float = 0.1, until: float = UNTIL) -> Remedy:
    """A straight-through max: the forward pass is the hard max, but in the backward pass every
    losing unit receives the share ``leak`` of each point's gradient (the winner the full one),
    the analogue of a leaky ReLU; switched off at ``until`` of the budget. Chapter 7."""
    _checks.in_range("leak", leak, 0.0, 1.0, high_open=True)
    if leak == 0:
        raise ValueError("leak must be above 0")
    return Remedy("leaky max", leak=leak, until=until)


def bias_nudging(step: float = 0.01, floor: float = 0.02, until: float = UNTIL) -> Remedy:
    """Load balancing without an auxiliary loss: after every update, raise by ``step`` the bias of
    every unit that wins less than the share ``floor`` of the points, until ``until`` of the
    budget. In a max network a unit's output is its own routing score, so this is the
    bias-adjustment balancing of mixture-of-experts routers (Wang et al., 2024) applied to the
    units themselves. Chapter 7."""
    _checks.positive("step", step)
    _checks.in_range("floor", floor, 0.0, 1.0)
    if floor == 0:
        raise ValueError("floor must be above 0: a unit with share 0 must count as under-loaded")
    return Remedy("bias nudging", nudge=step, nudge_floor=floor, until=until)


def dormant_recycling(every: int = 100, until: float = UNTIL) -> Remedy:
    """ReDo-style recycling (Sokar et al., 2023; Dohare et al., 2024 in continual learning):
    every ``every`` steps, re-draw each unit that wins no point from the default initialisation
    (a fresh draw, not a data-driven seat) and zero its Adam moments. Chapter 7; the
    general-network form is :func:`symcourse.dormant.recycle_dormant`."""
    _checks.positive("every", every, integer=True)
    return Remedy("recycling", recycle_every=every, until=until)


def dropout_revival(p: float = 0.05, until: float = UNTIL) -> Remedy:
    """Dropout with probability ``p`` after the linear layer for the first ``until`` of the
    budget, then plain training from the weights reached (a fresh Adam): chapter 1's
    stochastic dead-unit revival. Chapter 7."""
    _checks.in_range("p", p, 0.0, 1.0, high_open=True)
    if p == 0:
        raise ValueError("p must be above 0")
    return Remedy("dropout after", dropout_after=p, until=until)


def standard_remedies(neighbours: int = 50) -> dict[str, Remedy]:
    """The chapter's line-up, one remedy per kind, with the knobs chosen on the stall problem
    (seeds 1000-1199, ``benchmarks/remedy_knobs.py``); ``neighbours`` sizes the local fits of
    revival and the partition start. Chapter 7."""
    return {"baseline": baseline(), "no bias": no_bias(), "more units (×2)": more_units(2),
            "smooth max": smooth_max(4.0), "revival": dead_unit_revival(250, neighbours=neighbours),
            "load balancing": load_balancing(0.1, 0.5), "partition init": partition_init(10, neighbours),
            "noise": noise_injection(0.05), "restarts": restarts(50)}


def extended_remedies(neighbours: int = 50) -> dict[str, Remedy]:
    """:func:`standard_remedies` and the systematic remedies chapter 7 adds to them: a leaky
    (straight-through) max, bias nudging, ReDo-style recycling and dropout after the layer,
    with the knobs chosen on seeds 1000-1199 (``benchmarks/remedy_knobs.py``). Chapter 7."""
    line_up = standard_remedies(neighbours)
    line_up.update({"leaky max": leaky_max(LEAK), "bias nudging": bias_nudging(NUDGE),
                    "recycling": dormant_recycling(RECYCLE_EVERY),
                    "dropout after": dropout_revival(DROPOUT_P)})
    return line_up


#: Knobs of the added remedies, chosen on seeds 1000-1199 (``benchmarks/remedy_knobs.py``).
LEAK, NUDGE, RECYCLE_EVERY, DROPOUT_P = 0.3, 0.001, 50, 0.05

#: The knob each kind of remedy exposes to :func:`remedy_from_knobs` (None: it has none).
STRENGTH_KNOB = {"smooth max": "temperature", "load balancing": "weight", "noise": "scale",
                 "more units": "factor", "revival": None, "restarts": None, "baseline": None,
                 "no bias": None, "partition init": None, "leaky max": "leak", "bias nudging": "step",
                 "recycling": None, "dropout after": "p"}


def remedy_from_knobs(kind: str, strength: float | None = None, every: int | None = None,
                      neighbours: int = 50) -> Remedy:
    """A remedy of the given kind with the chapter's knobs, except ``strength`` (the starting
    temperature, the auxiliary weight, the noise scale or the unit factor, see
    :data:`STRENGTH_KNOB`) and ``every`` (the check period of revival and restarts) when given.
    Chapter 7's explorer uses it."""
    _checks.choice("kind", kind, KINDS)
    standard = {r.kind: r for r in extended_remedies(neighbours).values()}[kind]
    changes = {}
    if strength is not None and STRENGTH_KNOB[kind] is not None:
        _checks.positive("strength", strength)
        field_name = {"temperature": "temperature", "weight": "aux_weight", "scale": "noise",
                      "factor": "units_factor", "leak": "leak", "step": "nudge",
                      "p": "dropout_after"}[STRENGTH_KNOB[kind]]
        if kind == "more units":
            changes[field_name] = max(2, round(strength))
        elif kind in ("leaky max", "dropout after"):  # probabilities and shares stay below 1
            changes[field_name] = min(float(strength), 0.5)
        else:
            changes[field_name] = float(strength)
    if every is not None and kind in ("revival", "restarts", "recycling"):
        _checks.positive("every", every, integer=True)
        changes[{"revival": "revive_every", "restarts": "restart_every",
                 "recycling": "recycle_every"}[kind]] = every
    return replace(standard, **changes)


#: Chapter 7's larger network: four pieces in three dimensions (rows are the pieces' weights).
LARGER_WEIGHTS = ((3.0, 1.0, 1.0), (1.0, 3.0, 1.0), (1.0, 1.0, 3.0), (0.0, 0.0, 0.0))
LARGER_BIASES = (0.0, 0.0, 0.0, 2.2)


def larger_task(n_points: int = 200, seed: int = 1, dtype: torch.dtype = torch.float32) -> MaxAffineTask:
    """Four affine pieces in three dimensions, each the largest on a sizeable part of the unit
    cube: a max network with four units can fit it exactly. Chapter 7."""
    return max_affine_task(LARGER_WEIGHTS, LARGER_BIASES, n_points=n_points, seed=seed, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Reader-facing pieces: each works on one network (or a batch) in plain PyTorch
# --------------------------------------------------------------------------------------------


def annealed(start: float, step: int, steps: int, until: float = UNTIL) -> float:
    """``start`` falling linearly to 0 at step ``until · steps`` and 0 afterwards. Chapter 7."""
    _checks.positive("start", start, allow_zero=True)
    _checks.positive("steps", steps, integer=True)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    _checks.in_range("until", until, 0.0, 1.0)
    end = until * steps
    return start * (1.0 - step / end) if step < end else 0.0


def soft_max_output(z: torch.Tensor, temperature: float, dim: int = -1) -> torch.Tensor:
    """The soft maximum ``τ·logsumexp(z/τ)`` over ``dim``; ``temperature`` 0 gives the hard max.

    It lies above the max by at most ``τ·log K`` and passes every unit the share
    ``softmax(z/τ)`` of the gradient, so no unit's gradient is exactly zero. Chapter 7.
    """
    _checks.nonempty("z", _checks.tensor("z", z))
    _checks.positive("temperature", temperature, allow_zero=True)
    if temperature == 0:  # the gradient goes to the first largest unit, as in MaxPool1d
        return z.max(dim=dim).values
    out = temperature * torch.logsumexp(z / temperature, dim=dim)
    if not torch.isfinite(out).all():  # z is finite, so z / temperature overflowed
        raise ValueError(f"temperature {temperature!r} is too small for outputs of size "
                         f"{float(z.abs().max()):.1e}: z / temperature overflows; use 0 for the "
                         f"hard max or a temperature above 1e-300")
    return out


def load_balancing_loss(z: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Switch-Transformer load-balancing loss for the units of a max, from their outputs ``z`` (N, K).

    ``K · Σ_k f_k · P_k``, where ``f_k`` is the share of points unit ``k`` wins (no gradient)
    and ``P_k`` the mean of ``softmax(z/τ)_k`` over the points (the "router probability").
    It is 1 when the units share the points equally and K when one unit wins everything; its
    gradient raises the soft share of units that win little. Chapter 7.
    """
    _checks.nonempty("z", _checks.tensor("z", z, ndim=2))
    _checks.positive("temperature", temperature)
    K = z.shape[1]
    wins = z.detach().argmax(dim=1)
    f = torch.bincount(wins, minlength=K).to(z.dtype) / z.shape[0]
    P = torch.softmax(z / temperature, dim=1).mean(dim=0)
    out = K * (f * P).sum()
    if not torch.isfinite(out):  # z is finite, so z / temperature overflowed
        raise ValueError(f"temperature {temperature!r} is too small for these outputs: "
                         f"z / temperature overflows; use a temperature above 1e-300")
    return out


def parameter_noise(seed: int, steps: int, shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise for one seed's run: (steps, *shape), from its own generator.

    Noise is a function of the seed alone, so a seed's run does not depend on which other
    seeds share the batch. Chapter 7.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _checks.positive("steps", steps, integer=True)
    _checks.dtype("dtype", dtype)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (tuple, list, torch.Size)) or not shape:
        raise TypeError(f"shape must be a non-empty tuple of sizes, got {shape!r}")
    for size in shape:
        _checks.positive("shape entry", size, integer=True)
    generator = torch.Generator().manual_seed(7_919 * seed + 104_729)
    return torch.randn(steps, *shape, generator=generator, dtype=torch.float64).to(dtype)


def local_fits(X: torch.Tensor, y: torch.Tensor, neighbours: int = 50) -> torch.Tensor:
    """For every point, the least-squares affine fit to the targets of its ``neighbours`` nearest
    points (itself included): (N, D+1), computed in float64. A unit set to the fit at a point
    where the network is too low wins that point and its surroundings. Chapter 7.
    """
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    _checks.positive("neighbours", neighbours, integer=True)
    N, D = X.shape
    if not D + 1 <= neighbours <= N:
        raise ValueError(f"neighbours must lie between D + 1 = {D + 1} and N = {N}, got {neighbours}")
    X64, y64 = X.to(torch.float64), y.to(torch.float64)
    nearest = torch.cdist(X64, X64).topk(neighbours, dim=1, largest=False).indices  # (N, m)
    Xa = augment(X64, True)[nearest]  # (N, m, D+1)
    gram = Xa.transpose(1, 2) @ Xa + 1e-10 * torch.eye(D + 1, dtype=torch.float64)
    return torch.linalg.solve(gram, Xa.transpose(1, 2) @ y64[nearest].unsqueeze(-1)).squeeze(-1)


def reseat_dead_units(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, fits: torch.Tensor):
    """Move every unit that wins no point of ``X`` to where the network is most below the target.

    ``theta`` is (S, K, D+1) (or one network (K, D+1)); ``fits`` is :func:`local_fits` of the
    same data. Dead units are handled one at a time per network: each takes the local fit at
    the point with the largest shortfall ``y - f(x)`` of the network as re-seated so far.
    Returns ``(new theta, revived)`` with ``revived`` a bool mask (S, K) (or (K,)). This is
    k-means' treatment of an empty cluster (re-seed it at the worst-fitted point), carried over
    to a max of affine units. Chapter 7.
    """
    _checks.tensor("theta", theta)
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    single = theta.ndim == 2
    th = theta.unsqueeze(0) if single else theta
    if th.ndim != 3 or th.shape[-1] != X.shape[1] + 1:
        raise ValueError(f"theta must be (K, D+1) or (S, K, D+1) with D = {X.shape[1]} and biases, "
                         f"got shape {tuple(theta.shape)}")
    _checks.tensor("fits", fits, shape=(X.shape[0], X.shape[1] + 1))
    th = th.clone()
    dead = dead_units(th, X)
    revived = torch.zeros_like(dead)
    Xa = augment(X.to(th.dtype), True)
    y = y.to(th.dtype)
    fits = fits.to(th.dtype)
    taken = torch.zeros(th.shape[0], X.shape[0], dtype=torch.bool)  # points a re-seated unit already won
    for _ in range(th.shape[1]):  # one dead unit per network per round
        todo = (dead & ~revived).any(dim=1)
        if not todo.any():
            break
        rows = torch.nonzero(todo)[:, 0]
        shortfall = y - (th[rows] @ Xa.T).amax(dim=1)  # (R, N)
        worst = shortfall.masked_fill(taken[rows], -math.inf).argmax(dim=1)
        unit = (dead & ~revived)[rows].to(torch.int8).argmax(dim=1)
        th[rows, unit] = fits[worst]
        revived[rows, unit] = True
        z = th[rows] @ Xa.T
        won = z[torch.arange(len(rows)), unit] >= z.amax(dim=1)
        won[torch.arange(len(rows)), worst] = True
        taken[rows] |= won
    return (th[0], revived[0]) if single else (th, revived)


def revive_dead_units(linear: torch.nn.Linear, X: torch.Tensor, y: torch.Tensor,
                      optimizer: torch.optim.Optimizer | None = None, neighbours: int = 50,
                      fits: torch.Tensor | None = None) -> torch.Tensor:
    """Dead-unit revival for your own ``nn.Linear`` followed by a max over its outputs.

    Re-seats the rows of ``linear`` whose unit wins no point of ``X`` (:func:`reseat_dead_units`)
    and zeroes those rows of the optimiser's moment estimates (``exp_avg``, ``exp_avg_sq`` and
    ``momentum_buffer``, whichever it keeps). Call it every few hundred steps. Returns the bool
    mask (K,) of re-seated units. Chapter 7.
    """
    if not isinstance(linear, torch.nn.Linear) or linear.bias is None:
        raise TypeError("linear must be a torch.nn.Linear with bias=True")
    fits = local_fits(X, y, neighbours) if fits is None else fits
    with torch.no_grad():
        theta = torch.cat([linear.weight, linear.bias[:, None]], dim=1)
        new, revived = reseat_dead_units(theta, X, y, fits)
        if revived.any():
            linear.weight.copy_(new[:, :-1])
            linear.bias.copy_(new[:, -1])
            if optimizer is not None:
                zero_optimizer_rows(optimizer, [linear.weight, linear.bias], revived)
    return revived


def zero_optimizer_rows(optimizer: torch.optim.Optimizer, params, rows: torch.Tensor) -> None:
    """Zero the per-parameter state tensors of ``optimizer`` (moments, momentum buffers) in the
    given ``rows`` (a bool mask over the first dimension) of each of ``params``. The step count
    is left alone, as for a state that was never filled. Chapter 7."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    for p in params:
        for value in optimizer.state.get(p, {}).values():
            if isinstance(value, torch.Tensor) and value.shape[:1] == p.shape[:1] and value.ndim == p.ndim:
                value[rows] = 0


def least_squares_partition(X: torch.Tensor, y: torch.Tensor, units: int, seeds, iterations: int = 10,
                            neighbours: int = 50, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Data-driven start: the least-squares partition algorithm for max-affine fitting.

    For each seed: pick ``units`` distinct data points at random (the seed's own generator),
    split the inputs into their nearest-point (Voronoi) cells as k-means would, then repeat
    ``iterations`` times: fit an affine function to each cell by least squares and re-assign
    every point to the fit that is largest there. A cell that empties is re-seeded at the
    worst-fitted point (:func:`reseat_dead_units`). This is the heuristic of Magnani & Boyd
    (2009). Returns (S, K, D+1). Chapter 7.
    """
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    _checks.positive("units", units, integer=True)
    _checks.positive("iterations", iterations, integer=True)
    _checks.dtype("dtype", dtype)
    seeds = _checks.seeds(seeds)
    N, D = X.shape
    if units > N:
        raise ValueError(f"units must be at most the number of points ({N}), got {units}")
    X64, y64 = X.to(torch.float64), y.to(torch.float64)
    Xa = augment(X64, True)
    fits = local_fits(X64, y64, neighbours)
    XX = (Xa.unsqueeze(2) * Xa.unsqueeze(1)).reshape(N, -1)  # x̃ x̃ᵀ per point, flattened
    Xy = Xa * y64.unsqueeze(1)
    centres = torch.stack([torch.randperm(N, generator=torch.Generator().manual_seed(s))[:units] for s in seeds])
    cells = torch.cdist(X64.unsqueeze(0).expand(len(seeds), N, D), X64[centres]).argmin(dim=2)  # (S, N)
    ridge = 1e-9 * torch.eye(D + 1, dtype=torch.float64)
    unused = torch.zeros(D + 1, dtype=torch.float64)
    unused[-1] = -1e6  # a piece below every point: re-seated at once
    for _ in range(iterations):
        member = torch.nn.functional.one_hot(cells, units).transpose(1, 2).to(torch.float64)  # (S, K, N)
        gram = (member @ XX).view(len(seeds), units, D + 1, D + 1) + ridge
        rhs = member @ Xy
        theta = torch.linalg.solve(gram, rhs.unsqueeze(-1)).squeeze(-1)
        too_few = member.sum(dim=2) < D + 1  # cannot fit a piece to fewer than D + 1 points
        theta = torch.where(too_few.unsqueeze(-1), unused, theta)
        theta, _ = reseat_dead_units(theta, X64, y64, fits)
        cells = (Xa @ theta.transpose(1, 2)).argmax(dim=2)  # (S, N): the largest piece
    return theta.to(dtype)


# --------------------------------------------------------------------------------------------
# The batched engine
# --------------------------------------------------------------------------------------------


@dataclass
class RemedyResult(SweepResult):
    """A :class:`~symcourse.sweeps.SweepResult` with what a remedy did and cost (chapter 7).

    ``loss`` is always the training MSE of the hard-max network (whatever the remedy trains on),
    ``events`` counts per seed the units re-seated or the networks restarted, and
    ``unit_evaluations`` the affine unit evaluations one run needed (forward passes of
    training, start-up and checks), a cost measure that does not depend on the machine.
    """

    remedy: Remedy = field(default_factory=Remedy)
    events: torch.Tensor | None = None
    unit_evaluations: int = 0

    @property
    def solved(self) -> torch.Tensor:
        """Runs whose final training MSE is at or below :data:`symcourse.stall.STALL_THRESHOLD`."""
        return ~is_stalled(self.final_loss)

    @property
    def seconds_per_run(self) -> float:
        return self.seconds / len(self.seeds)


def _restart_seed(seed: int, attempt: int) -> int:
    """The PyTorch seed of a seed's ``attempt``-th fresh draw (attempt 0 is the seed itself)."""
    return seed if attempt == 0 else 1_000_003 * attempt + seed


def restart_theta(seed: int, attempt: int, in_dim: int, units: int, bias: bool = True,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``attempt``-th fresh PyTorch initialisation of a seed's network, (K, D[+1]): what
    :func:`restarts` draws when it re-starts that seed for the ``attempt``-th time. Chapter 7."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be a non-negative integer, got {attempt!r}")
    _checks.seed("seed", seed)
    return init_theta([_restart_seed(seed, attempt)], in_dim, units, bias, dtype=dtype)[0]


class _Batch:
    """Buffers and gradient of one chunk of seeds: hard or soft max, optional auxiliary loss.

    Two units, the common case, have a path of their own with fewer passes over the data: the
    network is ``z0 + relu(z1 - z0)``, so one product gives ``z0 - y`` (the targets ride along
    as an extra input column), another the difference ``z1 - z0``, and the softmax of two
    outputs is a sigmoid of that difference.
    """

    def __init__(self, S, K, Xa, y):
        N, A = Xa.shape
        self.N, self.K = N, K
        self.Xa, self.XaT = Xa, Xa.T.contiguous()
        self.y = y
        self.grad = torch.empty(S, K, A, dtype=Xa.dtype)
        if K == 2:
            self.XyT = torch.cat([Xa, y[:, None]], dim=1).T.contiguous()  # (A+1, N)
            self.th0 = torch.full((S, A + 1), -1.0, dtype=Xa.dtype)  # [θ0, -1]: z0 - y in one product
            self.dth = torch.empty(S, A, dtype=Xa.dtype)
            self.e = torch.empty(S, N, dtype=Xa.dtype)
            self.d = torch.empty(S, N, dtype=Xa.dtype)
            self.p = torch.empty(S, N, dtype=Xa.dtype)
        else:
            self.Z = torch.empty(S, K, N, dtype=Xa.dtype)
            self.W = torch.empty(S, K, N, dtype=Xa.dtype)
            self.out = torch.empty(S, N, dtype=Xa.dtype)

    def gradient(self, theta, temperature, aux_weight, aux_temperature, leak=0.0):
        """Gradient of the MSE (hard max, or soft max when ``temperature`` > 0) plus
        ``aux_weight`` × load-balancing loss (hard max only); with ``leak`` > 0 (hard max only)
        every losing unit gets that share of each point's gradient (straight-through max)."""
        if self.K == 2:
            grad = self._two(theta, temperature, aux_weight, aux_temperature)
            if leak:  # winner share 1, loser share leak: g_k ← leak·total + (1 − leak)·g_k
                total = self.grad.sum(dim=1, keepdim=True)
                grad.mul_(1.0 - leak).add_(total, alpha=leak)
            return grad
        return self._many(theta, temperature, aux_weight, aux_temperature, leak)

    def _two(self, theta, temperature, aux_weight, aux_temperature):
        scale = 2.0 / self.N
        self.th0[:, :-1] = theta[:, 0]
        torch.mm(self.th0, self.XyT, out=self.e)  # z0 - y
        torch.sub(theta[:, 1], theta[:, 0], out=self.dth)
        d = torch.mm(self.dth, self.XaT, out=self.d)  # z1 - z0
        if temperature > 0:  # τ·logsumexp(z/τ) - y = (z0 - y) + τ·softplus((z1 - z0)/τ)
            d.mul_(1.0 / temperature)
            torch.sigmoid(d, out=self.p)  # unit 1's share of every point
            residual = self.e.add_(torch.nn.functional.softplus(d), alpha=temperature)
            unit1 = self.p.mul_(residual)
        else:
            if aux_weight > 0:
                share = torch.sigmoid(d * (1.0 / aux_temperature), out=self.p)
            residual = self.e.add_(d.clamp_min_(0.0))  # z0 + relu(z1 - z0) - y
            wins1 = d.sign_()  # 1 where unit 1 wins strictly, 0 where unit 0 wins (ties too)
            if aux_weight > 0:
                f1 = wins1.sum(dim=1, keepdim=True).div_(self.N)
            unit1 = wins1.mul_(residual)
        total = (self.XaT @ residual.T).T  # (A, S) products: far faster than (S, N) @ (N, A)
        g1 = (self.XaT @ unit1.T).T
        torch.mul(g1, scale, out=self.grad[:, 1])
        torch.sub(total, g1, out=self.grad[:, 0]).mul_(scale)
        if temperature == 0 and aux_weight > 0:
            # d/dz1 of weight·2·(f0 P0 + f1 P1) is c·p1·p0·(f1 - f0) per point, d/dz0 the opposite
            factor = 2 * aux_weight / (self.N * aux_temperature)
            share.sub_(share * share)  # p1·p0
            aux = (self.XaT @ share.T).T.mul_((2 * f1 - 1) * factor)
            self.grad[:, 1].add_(aux)
            self.grad[:, 0].sub_(aux)
        return self.grad

    def _many(self, theta, temperature, aux_weight, aux_temperature, leak=0.0):
        scale = 2.0 / self.N
        Z = torch.matmul(theta, self.XaT, out=self.Z)
        if temperature > 0:
            top, total = self._softmax(Z, temperature, self.W)
            torch.add(top, total.log_(), out=self.out)
            residual = self.out.mul_(temperature).sub_(self.y)
            self.W.mul_(residual.unsqueeze(1))
        else:
            torch.amax(Z, dim=1, out=self.out)
            winners = torch.eq(Z, self.out.unsqueeze(1), out=self.W)  # 1.0 where a unit wins
            # a tie: the lowest unit wins (0/1 sums are exact in float32 up to 2**24)
            if float(winners.sum()) != winners.shape[0] * winners.shape[2]:
                first = winners.bool()
                winners.copy_(first & (first.cumsum(dim=1) == 1))
            residual = self.out.sub_(self.y)
            if aux_weight > 0:
                share = winners.sum(dim=2, keepdim=True).div_(self.N)  # f_k, (S, K, 1)
            if leak:
                winners.mul_(1.0 - leak).add_(leak)
            winners.mul_(residual.unsqueeze(1))
            if aux_weight > 0:
                self._add_aux(share, aux_weight / scale, aux_temperature)
        S, K, N = self.W.shape
        product = self.XaT @ self.W.view(S * K, N).T  # (A, S·K): far faster than (S·K, N) @ (N, A)
        return torch.mul(product.T.view(S, K, -1), scale, out=self.grad)

    @staticmethod
    def _softmax(Z, temperature, dest):
        """softmax(Z/τ) over the units into ``dest``; overwrites ``Z``. Returns the per-point
        maximum of Z/τ and the sum of exp(Z/τ − max), both (S, N)."""
        Z.mul_(1.0 / temperature)
        top = Z.amax(dim=1)
        torch.exp(Z.sub_(top.unsqueeze(1)), out=dest)
        total = dest.sum(dim=1)
        dest.div_(total.unsqueeze(1))
        return top, total

    def _add_aux(self, share, weight, temperature):
        """d/dz of weight·K·Σ_k f_k P_k: (weight·K/(Nτ))·p_k·(f_k − Σ_j f_j p_j) per point."""
        S, K, N = self.Z.shape
        p = self.Z  # the outputs are not needed any more: their softmax takes their place
        self._softmax(self.Z, temperature, p)
        mixed = (p * share).sum(dim=1, keepdim=True)  # Σ_j f_j p_j per point
        self.W.add_(p.mul_(share - mixed).mul_(weight * K / (N * temperature)))


def train_remedy(task: MaxAffineTask, seeds=200, remedy: Remedy | None = None, *, units: int = 2,
                 steps: int = 4000, lr: float = 0.02, betas=(0.9, 0.999), eps: float = 1e-8,
                 record_every: int = 100, record_params: bool = False, chunk_size: int = 256,
                 dtype: torch.dtype = torch.float32, threads: int = 1,
                 theta0: torch.Tensor | None = None) -> RemedyResult:
    """Train every seed's max network on ``task`` with ``remedy`` (default: none), all seeds at once.

    Seed ``s`` starts from ``torch.manual_seed(s); nn.Linear(D, K)`` (``K = units ×
    remedy.units_factor``) unless the remedy starts from the data or ``theta0`` (S, K, D[+1])
    is given (e.g. to continue earlier runs; Adam starts afresh). Full-batch Adam, as in
    :func:`symcourse.sweeps.train_sweep`, for ``steps`` steps: the same budget whatever the
    remedy. Per step, in this order: the gradient of the MSE through the hard max (or the soft
    max at the current temperature) plus the load-balancing term, the Adam update, the
    parameter noise; then, at every check step before ``remedy.until`` of the budget, dead units
    are re-seated or dead networks re-drawn, with their Adam moments zeroed. The recorded loss
    is the hard-max training MSE before each step's update, and after the last. Runs on
    ``threads`` CPU threads (restored afterwards): for these sizes one thread is about as fast as
    two, and is not slowed down when other programs share the CPU. Chapter 7.
    """
    remedy = baseline() if remedy is None else remedy
    if not isinstance(remedy, Remedy):
        raise TypeError(f"remedy must be a Remedy (see symcourse.remedies.standard_remedies), got "
                        f"{type(remedy).__name__}")
    if not isinstance(task, MaxAffineTask):
        raise TypeError(f"task must be a MaxAffineTask (see symcourse.data), got {type(task).__name__}")
    _validate_more(task, units, remedy.bias, betas, eps, dtype, record_params=record_params)
    _checks.positive("units", units, integer=True)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    _checks.positive("record_every", record_every, integer=True)
    _checks.positive("chunk_size", chunk_size, integer=True)
    _checks.positive("threads", threads, integer=True)
    seeds = _checks.seeds(seeds)
    if theta0 is not None:
        if remedy.init == "partition":
            raise ValueError("give theta0 or a remedy that starts from the data, not both")
        width = task.in_dim + int(remedy.bias)
        _checks.tensor("theta0", theta0, shape=(len(seeds), units * remedy.units_factor, width))
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if remedy.dropout_after:
            return _train_dropout(task, seeds, remedy, units, steps, lr, betas, eps, record_every,
                                  record_params, chunk_size, dtype, theta0)
        return _train(task, seeds, remedy, units, steps, lr, betas, eps, record_every, record_params,
                      chunk_size, dtype, theta0)
    finally:
        torch.set_num_threads(previous_threads)


def _train(task, seeds, remedy, units, steps, lr, betas, eps, record_every, record_params, chunk_size, dtype,
           theta0):
    D, N = task.in_dim, task.n_points
    K = units * remedy.units_factor
    bias = remedy.bias
    X = task.X.to(dtype)
    Xa = augment(X, bias)
    y = task.y.to(dtype)
    needs_fits = remedy.revive_every > 0 or remedy.init == "partition"
    fits = local_fits(task.X, task.y, remedy.neighbours) if needs_fits else None
    end = remedy.until * steps
    recorded = _recorded_steps(steps, record_every)
    loss = torch.empty(len(recorded), len(seeds), dtype=dtype)
    history = torch.empty(len(recorded), len(seeds), K, Xa.shape[1], dtype=dtype) if record_params else None
    events = torch.zeros(len(seeds), dtype=torch.int64)
    start = time.perf_counter()
    if theta0 is not None:
        theta0 = theta0.to(dtype)
    elif remedy.init == "partition":
        theta0 = least_squares_partition(task.X, task.y, K, seeds, remedy.init_iterations,
                                         remedy.neighbours, dtype=dtype)
    else:
        theta0 = init_theta(seeds, D, K, bias, dtype=dtype)
    theta = theta0.clone()
    checks = sorted({t for every in (remedy.revive_every, remedy.restart_every, remedy.recycle_every) if every
                     for t in range(every, steps, every) if t < end})
    with torch.inference_mode():
        for lo in range(0, len(seeds), chunk_size):
            part = slice(lo, lo + chunk_size)
            th = theta[part]
            S = th.shape[0]
            batch = _Batch(S, K, Xa, y)
            opt = _make_optimizer("adam", th, lr, betas, eps, 0.0, 0.0)
            noise = (torch.stack([parameter_noise(s, steps, (K, Xa.shape[1]), dtype) for s in seeds[part]], dim=1)
                     if remedy.noise else None)
            attempts = [0] * S
            row = 0
            for t in range(steps + 1):
                if t == recorded[row]:
                    loss[row, part] = mse(th, X, y, bias=bias)
                    if record_params:
                        history[row, part] = th
                    row += 1
                if t == steps:
                    break
                temperature = annealed(remedy.temperature, t, steps, remedy.until) if remedy.temperature else 0.0
                aux = remedy.aux_weight if t < end else 0.0
                grad = batch.gradient(th, temperature, aux, remedy.aux_temperature,
                                      remedy.leak if t < end else 0.0)
                opt.step(th, grad)
                if remedy.nudge and t < end:
                    _nudge(th, Xa, remedy.nudge, remedy.nudge_floor)
                if noise is not None and t < end:
                    th.add_(noise[t], alpha=annealed(remedy.noise, t, steps, remedy.until))
                if checks and t + 1 in checks:
                    _check_step(t + 1, th, opt, remedy, X, y, fits, seeds[part], attempts,
                                events[part], D, K, bias)
    seconds = time.perf_counter() - start
    config = dict(units=K, bias=bias, steps=steps, optimizer="adam", lr=lr, betas=tuple(betas), eps=eps,
                  record_every=record_every, task_seed=task.seed, n_points=N, remedy=remedy.kind)
    evaluations = _unit_evaluations(remedy, steps, N, K, len(checks))
    return RemedyResult(seeds=seeds, theta0=theta0, theta=theta, steps=torch.tensor(recorded), loss=loss,
                        history=history, config=config, seconds=seconds, remedy=remedy, events=events,
                        unit_evaluations=evaluations)


def _check_step(t, th, opt, remedy, X, y, fits, seeds, attempts, events, D, K, bias):
    """A check step: re-seat dead units (revival) or re-draw dead networks (restarts)."""
    if remedy.revive_every and t % remedy.revive_every == 0:
        new, revived = reseat_dead_units(th, X, y, fits)
        if revived.any():
            th.copy_(new)
            opt.exp_avg[revived] = 0
            opt.exp_avg_sq[revived] = 0
            events += revived.sum(dim=1)
    if remedy.recycle_every and t % remedy.recycle_every == 0:
        dead = dead_units(th, X, bias=bias)
        for i, k in torch.nonzero(dead).tolist():
            attempts[i] += 1
            th[i, k] = restart_theta(seeds[i], attempts[i], D, K, bias, dtype=th.dtype)[k]
            opt.exp_avg[i, k] = 0
            opt.exp_avg_sq[i, k] = 0
        events += dead.sum(dim=1)
    if remedy.restart_every and t % remedy.restart_every == 0:
        dead = dead_units(th, X, bias=bias).any(dim=1)
        for i in torch.nonzero(dead)[:, 0].tolist():
            attempts[i] += 1
            th[i] = restart_theta(seeds[i], attempts[i], D, K, bias, dtype=th.dtype)
            opt.exp_avg[i] = 0
            opt.exp_avg_sq[i] = 0
        events += dead.to(torch.int64)


def nudge_biases(theta: torch.Tensor, Xa: torch.Tensor, step: float, floor: float) -> torch.Tensor:
    """Bias nudging in place: raise by ``step`` the bias (last column) of every unit of ``theta``
    (S, K, A) that wins less than the share ``floor`` of the points ``Xa`` (N, A, ones column
    last). Returns the bool mask (S, K) of nudged units. Chapter 7."""
    _checks.tensor("theta", theta, ndim=3)
    _checks.tensor("Xa", Xa, shape=(None, theta.shape[-1]))
    _checks.positive("step", step)
    _checks.in_range("floor", floor, 0.0, 1.0)
    return _nudge(theta, Xa, step, floor)


def _nudge(theta, Xa, step, floor):
    """:func:`nudge_biases` without the checks: the training loop calls it every step."""
    # count the wins as integers, then divide: the same shares as a float mean, in a third of the time
    share = winner_mask(theta @ Xa.T).sum(dim=2).to(theta.dtype) / Xa.shape[0]
    low = share < floor
    theta[..., -1] += step * low.to(theta.dtype)
    return low


def _train_dropout(task, seeds, remedy, units, steps, lr, betas, eps, record_every, record_params, chunk_size,
                   dtype, theta0):
    """Dropout after the layer until ``remedy.until`` of the budget (the Gram engine of
    :func:`symcourse.sweeps.train_sweep`, same masks as the point-by-point one),
    then the plain remainder with a fresh Adam. The recorded loss is the hard-max training MSE."""
    from .sweeps import train_sweep

    K = units * remedy.units_factor
    first_steps = max(1, min(steps - 1, int(remedy.until * steps))) if steps > 1 else 1
    start = time.perf_counter()
    first = train_sweep(task, seeds, units=K, bias=remedy.bias, steps=first_steps, lr=lr, betas=betas, eps=eps,
                        dropout_after=remedy.dropout_after, record_every=record_every, record_params=True,
                        theta0=theta0, chunk_size=chunk_size, dtype=dtype, engine="gram")
    X, y = task.X.to(dtype), task.y.to(dtype)
    losses = [mse(h, X, y, bias=remedy.bias) for h in first.history]
    steps_seen = first.steps.tolist()
    history = [first.history] if record_params else None
    if steps > first_steps:
        rest = _train(task, seeds, baseline(), K, steps - first_steps, lr, betas, eps, record_every, record_params,
                      chunk_size, dtype, first.theta)
        losses += list(rest.loss[1:])
        steps_seen += [first_steps + s for s in rest.steps.tolist()[1:]]
        if record_params:
            history.append(rest.history[1:])
        theta = rest.theta
    else:
        theta = first.theta
    config = dict(units=K, bias=remedy.bias, steps=steps, optimizer="adam", lr=lr, betas=tuple(betas), eps=eps,
                  record_every=record_every, task_seed=task.seed, n_points=task.n_points, remedy=remedy.kind)
    return RemedyResult(seeds=list(seeds), theta0=first.theta0, theta=theta, steps=torch.tensor(steps_seen),
                        loss=torch.stack(losses), history=torch.cat(history) if record_params else None,
                        config=config, seconds=time.perf_counter() - start, remedy=remedy,
                        events=torch.zeros(len(seeds), dtype=torch.int64),
                        unit_evaluations=_unit_evaluations(remedy, steps, task.n_points, K, 0))


def _unit_evaluations(remedy, steps, N, K, n_checks):
    """Affine unit evaluations of one run: K·N per training step, per check and per start-up round."""
    rounds = steps + n_checks + (remedy.init_iterations if remedy.init == "partition" else 0)
    if remedy.nudge:  # one extra forward pass per nudged step
        rounds += int(remedy.until * steps)
    return rounds * K * N


# --------------------------------------------------------------------------------------------
# Comparing remedies
# --------------------------------------------------------------------------------------------


def compare_remedies(task: MaxAffineTask, remedies: dict, seeds=200, *, workers: int | None = None,
                     **options) -> dict:
    """Run each of ``remedies`` (label -> :class:`Remedy`) with :func:`train_remedy` on the same
    seeds and budget; returns label -> :class:`RemedyResult`. The runs are independent, so
    ``workers`` threads (default :data:`symcourse.parallel.WORKERS`) train them side by side
    (:func:`symcourse.parallel.run_jobs`); the results do not depend on it. Chapter 7."""
    if not isinstance(remedies, dict) or not remedies:
        raise ValueError("remedies must be a non-empty dict of label -> Remedy")
    for label, remedy in remedies.items():
        _checks.instance(f"remedies[{label!r}]", remedy, Remedy, "Remedy (see standard_remedies)")
    _checks.max_affine_task("task", task)
    if options.get("threads", 1) != 1:
        raise ValueError(f"compare_remedies trains each run on one thread; got threads="
                         f"{options['threads']!r} (use workers= for more cores)")
    # the costliest runs first, so that no long run is left alone at the end (results keep
    # the order of ``remedies``)
    slowest_first = sorted(remedies, key=lambda label: -_relative_cost(remedies[label]))
    jobs = {label: partial(train_remedy, task, seeds, remedies[label], **options)
            for label in slowest_first}
    done = run_jobs(jobs, workers)
    return {label: done[label] for label in remedies}


def _relative_cost(remedy: Remedy) -> float:
    """A rough guess of a remedy's training time relative to the baseline's (for scheduling)."""
    extra = 4.0 if remedy.dropout_after else 2.0 if (remedy.soft or remedy.nudge
                                                     or remedy.recycle_every) else 1.0
    return remedy.units_factor ** 1.5 * extra


def summarise(results: dict, reference: str | None = None, task: MaxAffineTask | None = None) -> dict:
    """One row per remedy: solved count, success rate and 95% Wilson interval, final-loss
    quantiles, unit evaluations and seconds per run, and both relative to ``reference``
    (default: the first entry); with the ``task`` the runs were trained on, also the share of
    runs that end with a unit winning no point (``dead``). Chapter 7."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of label -> RemedyResult")
    reference = next(iter(results)) if reference is None else reference
    if task is not None:
        _checks.max_affine_task("task", task)
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of the results: {', '.join(results)}")
    base = results[reference]
    rows = {}
    for label, run in results.items():
        if not isinstance(run, RemedyResult):
            raise TypeError(f"results[{label!r}] must be a RemedyResult, got {type(run).__name__}")
        final = run.final_loss.to(torch.float64)
        levels = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
        q10, median, q90 = final.quantile(levels).tolist()
        rows[label] = dict(rate_summary(run.solved), median=median, q10=q10, q90=q90,
                           evaluations=run.unit_evaluations,
                           relative_evaluations=run.unit_evaluations / base.unit_evaluations,
                           seconds=run.seconds_per_run,
                           relative_seconds=run.seconds_per_run / base.seconds_per_run,
                           events=float(run.events.to(torch.float64).mean()))
        if task is not None:
            dead = dead_units(run.theta, task.X, bias=run.config["bias"]).any(dim=1)
            rows[label]["dead"] = float(dead.to(torch.float64).mean())
    return rows


def verdict(row: dict, reference: dict) -> str:
    """``"helps"`` when the 95% interval of ``row`` lies entirely above that of ``reference``,
    ``"hurts"`` when entirely below, else ``"no clear effect"`` (both are rate summaries, e.g.
    rows of :func:`summarise`). Chapter 7."""
    if not overlaps(row, reference):
        return "helps" if row["low"] > reference["high"] else "hurts"
    return "no clear effect"


def paired_counts(solved: torch.Tensor, reference: torch.Tensor) -> tuple[int, int]:
    """For two runs on the same seeds: how many seeds ``solved`` solves that ``reference`` does
    not, and how many ``reference`` solves that ``solved`` does not. Chapter 7."""
    _checks.tensor("solved", solved, ndim=1, floating=False)
    _checks.tensor("reference", reference, ndim=1, floating=False)
    if solved.shape != reference.shape:
        raise ValueError(f"solved and reference must have one flag per seed each, got shapes "
                         f"{tuple(solved.shape)} and {tuple(reference.shape)}")
    if solved.dtype != torch.bool or reference.dtype != torch.bool:
        raise TypeError("solved and reference must be bool tensors, one flag per seed")
    return int((solved & ~reference).sum()), int((reference & ~solved).sum())


def first_revival(history: torch.Tensor, X: torch.Tensor) -> int:
    """The first recorded row of one run's parameter ``history`` (T, K, D+1) at which a unit that
    won no point in the row before wins points again. Raises if that never happens. Chapter 7."""
    _checks.tensor("history", history, ndim=3)
    dead = dead_units(history, X).any(dim=1)
    back = torch.nonzero(dead[:-1] & ~dead[1:])
    if not len(back):
        raise ValueError("no unit comes back to life in this history")
    return int(back[0, 0]) + 1


def fisher_blocks(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The Fisher information (Gauss-Newton matrix) of the MSE of a max network, per unit:
    (S, K, A, A) for ``theta`` (S, K, A) with A = D + 1. The network's derivative at a point is
    ``x̃`` for the winning unit and 0 for the others, so the matrix is block diagonal by unit,
    with block ``(1/N) Σ_{n won by k} x̃_n x̃_nᵀ``: exactly zero for a unit that wins no point.
    Chapter 7."""
    _checks.tensor("theta", theta, ndim=3)
    _checks.tensor("X", X, ndim=2)
    if theta.shape[-1] != X.shape[1] + 1:
        raise ValueError(f"theta must be (S, K, D+1) with D = {X.shape[1]} and biases, got {tuple(theta.shape)}")
    Xa = augment(X.to(theta.dtype), True)
    wins = winner_mask(theta @ Xa.T).to(theta.dtype)  # (S, K, N)
    S, K, N = wins.shape
    A = Xa.shape[1]
    outer = (Xa.unsqueeze(-1) * Xa.unsqueeze(1)).reshape(N, A * A)  # x̃_n x̃_nᵀ, flattened
    return (wins.reshape(S * K, N) @ outer).reshape(S, K, A, A) / N  # one product for all blocks


def train_natural_gradient(task: MaxAffineTask, seeds=200, *, steps: int = 200, lr: float = 0.5,
                           damping: float = 1e-4, theta0: torch.Tensor | None = None) -> RemedyResult:
    """Damped natural-gradient descent (Amari, 1998) on the max network, all seeds at once:
    ``θ_k ← θ_k − lr · (F_k + damping · I)⁻¹ g_k`` per unit, with ``F_k`` from
    :func:`fisher_blocks` and ``g_k`` the MSE gradient, in float64. A unit that wins no point has
    ``F_k = 0`` and ``g_k = 0``, so its step is exactly zero whatever the damping. Chapter 7.
    """
    if not isinstance(task, MaxAffineTask):
        raise TypeError(f"task must be a MaxAffineTask (see symcourse.data), got {type(task).__name__}")
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    _checks.positive("damping", damping)
    seeds = _checks.seeds(seeds)
    from .sweeps import loss_and_grad

    th = (init_theta(seeds, task.in_dim, 2, True, dtype=torch.float64) if theta0 is None
          else theta0.to(torch.float64).clone())
    _checks.tensor("theta0", th, shape=(len(seeds), None, task.in_dim + 1))
    start = th.clone()
    X, y = task.X.to(torch.float64), task.y.to(torch.float64)
    Xa = augment(X, True)
    eye = torch.eye(Xa.shape[1], dtype=torch.float64)
    began = time.perf_counter()
    losses = [mse(th, X, y)]
    for _ in range(steps):
        _, grad = loss_and_grad(th, Xa, y, need_loss=False)
        step = torch.linalg.solve(fisher_blocks(th, X) + damping * eye, grad.unsqueeze(-1)).squeeze(-1)
        th = th - lr * step
        losses.append(mse(th, X, y))
    config = dict(units=th.shape[1], bias=True, steps=steps, optimizer="natural gradient", lr=lr,
                  damping=damping, task_seed=task.seed, n_points=task.n_points, remedy="natural gradient")
    return RemedyResult(seeds=seeds, theta0=start, theta=th, steps=torch.arange(steps + 1),
                        loss=torch.stack(losses), history=None, config=config,
                        seconds=time.perf_counter() - began, remedy=baseline(),
                        events=torch.zeros(len(seeds), dtype=torch.int64),
                        unit_evaluations=_unit_evaluations(baseline(), steps, task.n_points, th.shape[1], 0))


def paired_rows(results: dict, reference: str | None = None) -> dict:
    """For each entry of ``results`` (label -> :class:`RemedyResult` on the same seeds), the
    :func:`symcourse.stats.paired_comparison` of its solved runs with those of ``reference``
    (default: the first entry): gained and lost seeds and the exact McNemar p-value. Chapter 7."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of label -> RemedyResult")
    reference = next(iter(results)) if reference is None else reference
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of the results: {', '.join(results)}")
    base = results[reference].solved
    out = {}
    for label, run in results.items():
        if run.solved.shape != base.shape or list(run.seeds) != list(results[reference].seeds):
            raise ValueError(f"results[{label!r}] was not run on the same seeds as {reference!r}")
        out[label] = paired_comparison(run.solved, base)
    return out


def paired_verdict(comparison: dict, alpha: float = 0.05) -> str:
    """``"helps"`` when the exact McNemar test of a :func:`symcourse.stats.paired_comparison`
    rejects "no difference" at level ``alpha`` and more seeds were gained than lost, ``"hurts"``
    when it rejects and more were lost, else ``"no clear effect"``. Chapter 7."""
    if not isinstance(comparison, dict) or not {"gained", "lost", "p_value"} <= set(comparison):
        raise TypeError("comparison must be the dict symcourse.stats.paired_comparison returns")
    _checks.in_range("alpha", alpha, 0.0, 1.0)
    if comparison["p_value"] >= alpha:
        return "no clear effect"
    return "helps" if comparison["gained"] > comparison["lost"] else "hurts"


def format_paired_table(rows: dict, paired: dict) -> str:
    """A plain-text table: per remedy, solved runs with the 95% interval, the paired counts
    against the reference (gained / lost), the exact McNemar p-value and the median final MSE.
    ``rows`` from :func:`summarise`, ``paired`` from :func:`paired_rows`. Chapter 7."""
    if not isinstance(rows, dict) or not isinstance(paired, dict) or set(rows) != set(paired):
        raise ValueError("rows and paired must be dicts with the same labels")
    width = max(len(k) for k in rows)
    lines = [f"{'remedy':<{width}}  solved  [95% interval]   gained lost  p-value   median MSE"]
    for label, row in rows.items():
        p = paired[label]
        lines.append(f"{label:<{width}}  {row['count']:3d}/{row['trials']}  [{row['low']:5.1%}, "
                     f"{row['high']:5.1%}]  {p['gained']:4d} {p['lost']:4d}  {p['p_value']:8.1e}  "
                     f"{row['median']:.1e}")
    return "\n".join(lines)


def failure_kinds(result: RemedyResult, task: MaxAffineTask, slow_factor: float = 10.0) -> dict:
    """Why the unsolved runs of ``result`` failed, as counts: ``dead`` (a unit wins no training
    point at the end), ``slow`` (every unit alive and the final MSE within ``slow_factor`` times
    the stall threshold: still converging), ``stuck`` (every unit alive, the MSE higher: another
    local minimum or plateau), and ``failed`` (all unsolved runs). Chapter 7."""
    if not isinstance(result, RemedyResult):
        raise TypeError(f"result must be a RemedyResult, got {type(result).__name__}")
    if not isinstance(task, MaxAffineTask):
        raise TypeError(f"task must be a MaxAffineTask, got {type(task).__name__}")
    _checks.positive("slow_factor", slow_factor)
    if slow_factor <= 1:
        raise ValueError(f"slow_factor must be above 1, got {slow_factor}")
    failed = ~result.solved
    dead = dead_units(result.theta, task.X, bias=result.config["bias"]).any(dim=1) & failed
    near = result.final_loss <= slow_factor * STALL_THRESHOLD
    return {"failed": int(failed.sum()), "dead": int(dead.sum()), "slow": int((failed & ~dead & near).sum()),
            "stuck": int((failed & ~dead & ~near).sum())}


def overlaps(a: dict, b: dict) -> bool:
    """Whether two :func:`symcourse.stats.rate_summary` intervals overlap. Chapter 7."""
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, dict) or not {"low", "high"} <= set(s):
            raise TypeError(f"{name} must be a rate summary with 'low' and 'high'")
    return a["low"] <= b["high"] and b["low"] <= a["high"]


__all__ = ["KINDS", "UNTIL", "Remedy", "RemedyResult", "baseline", "no_bias", "more_units", "smooth_max",
           "dead_unit_revival", "load_balancing", "partition_init", "noise_injection", "restarts",
           "standard_remedies", "extended_remedies", "leaky_max", "bias_nudging",
           "dormant_recycling", "dropout_revival", "nudge_biases", "LEAK", "NUDGE", "RECYCLE_EVERY", "DROPOUT_P",
           "STRENGTH_KNOB", "remedy_from_knobs", "LARGER_WEIGHTS", "LARGER_BIASES", "larger_task", "annealed", "soft_max_output", "load_balancing_loss", "parameter_noise",
           "local_fits", "reseat_dead_units", "revive_dead_units", "zero_optimizer_rows",
           "least_squares_partition", "restart_theta", "train_remedy", "compare_remedies", "summarise",
           "overlaps", "verdict", "paired_counts", "fisher_blocks", "train_natural_gradient", "paired_rows",
           "paired_verdict", "format_paired_table", "failure_kinds", "first_revival", "STALL_THRESHOLD"]
