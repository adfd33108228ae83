"""Predictions for the quantities that symmetry conserves under gradient flow, once SGD breaks
them with weight decay ``λ``, a finite learning rate ``η``, mini-batches and momentum ``β``.

For one group with signs ``s`` (chapter 3) the quantity is ``q = <s, θ>`` (translation) or
``q = <s, θ²>`` (scale: a squared norm; rescale: incoming minus outgoing squared norm). Because
every batch gradient satisfies the symmetry's constraint, ``q`` obeys a closed recursion:

* exact per-step recursions (:func:`exact_recursion`), driven by the recorded ``<s, g²>``
  (without momentum) or ``<s, d²>`` (the update direction, with momentum);
* continuous-time models (:func:`continuous_solution`): a first-order linear ODE without
  momentum, a damped, driven oscillator with it (:func:`oscillator`, :func:`damping_regime`).

Mathematics layer: imports torch, :mod:`symcourse._checks` and, for the one convenience
:func:`predictions`, the recording it reads. Introduced in chapter 6.
"""
from __future__ import annotations

import math

import torch

from . import _checks
from .recording import Recording
from .symmetry import KINDS

REGIMES = ("underdamped", "critically damped", "overdamped")


def _settings(kind, lr, weight_decay, momentum) -> tuple[str, float, float, float]:
    _checks.choice("symmetry kind", kind, KINDS)
    _checks.positive("lr", lr)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    _checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    return kind, float(lr), float(weight_decay), float(momentum)


def stiffness(kind: str, weight_decay: float) -> float:
    """How fast weight decay pulls the quantity to zero in the continuous model: ``λ`` for the
    linear translation quantity, ``2λ`` for the quadratic scale and rescale ones. Chapter 6."""
    _checks.choice("symmetry kind", kind, KINDS)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    return weight_decay if kind == "translation" else 2.0 * weight_decay


def _inputs(initial, drive, kind):
    initial = _checks.nonempty("initial", _checks.tensor("initial", initial, ndim=1)).to(torch.float64)
    if drive is None:
        if kind != "translation":
            raise ValueError(f"the {kind} quantity needs a drive (the recorded <s, g²> or <s, d²>)")
        return initial, None
    drive = _checks.tensor("drive", drive, shape=(None, initial.numel())).to(torch.float64)
    return initial, drive


def exact_recursion(kind: str, initial: torch.Tensor, drive: torch.Tensor | None, steps: int,
                    lr: float, weight_decay: float = 0.0, momentum: float = 0.0) -> torch.Tensor:
    """The quantities after every step, ``(steps + 1, groups)``, from the exact recursions.

    Without momentum (``θ ← θ − η(g + λθ)``, and ``<s, g> = 0`` or ``<s·θ, g> = 0``):
    translation ``q ← (1 − ηλ) q``; scale and rescale ``q ← (1 − ηλ)² q + η² <s, g²>``, with
    ``drive[k] = <s, g_k²>``. With momentum (``d ← β d + g + λθ``, ``θ ← θ − η d``), a second
    variable carries the memory: translation ``u ← β u + λ q``, ``q ← q − η u``; scale and
    rescale ``a = β c + λ q``, ``q ← q − 2η a + η² <s, d²>``, ``c ← a − η <s, d²>`` with
    ``c = <s·θ, d>``, ``drive[k] = <s, d_k²>`` (the new direction) and ``u = c = 0`` at the
    start (``torch.optim.SGD``'s first buffer is the first gradient). Introduced in chapter 6.
    """
    kind, lr, weight_decay, momentum = _settings(kind, lr, weight_decay, momentum)
    _checks.positive("steps", steps, integer=True)
    q, drive = _inputs(initial, drive, kind)
    if drive is not None and drive.shape[0] < steps:
        raise ValueError(f"drive has {drive.shape[0]} rows, fewer than the {steps} steps")
    memory = torch.zeros_like(q)
    out = [q]
    for k in range(steps):
        if momentum == 0.0:
            if kind == "translation":
                q = (1.0 - lr * weight_decay) * q
            else:
                q = (1.0 - lr * weight_decay) ** 2 * q + lr ** 2 * drive[k]
        elif kind == "translation":
            memory = momentum * memory + weight_decay * q
            q = q - lr * memory
        else:
            a = momentum * memory + weight_decay * q
            q = q - 2.0 * lr * a + lr ** 2 * drive[k]
            memory = a - lr * drive[k]
        out.append(q)
    return torch.stack(out)


def oscillator(times: torch.Tensor, mass: float, damping: float, stiffness: float,
               x0: torch.Tensor | float, v0: torch.Tensor | float) -> torch.Tensor:
    """Closed-form solution of ``m x'' + γ x' + k x = 0`` with ``x(0) = x0``, ``x'(0) = v0``, in
    each of the three regimes (sign of ``γ² − 4mk``). ``x0``/``v0`` may be vectors (one column
    each); returns ``(len(times), ...)``. Introduced in chapter 6.
    """
    times = _checks.nonempty("times", _checks.tensor("times", times, ndim=1)).to(torch.float64)
    _checks.positive("mass", mass)
    _checks.positive("damping", damping, allow_zero=True)
    _checks.positive("stiffness", stiffness, allow_zero=True)
    for name, value in (("x0", x0), ("v0", v0)):
        (_checks.tensor if isinstance(value, torch.Tensor) else _checks.finite)(name, value)
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    v0 = torch.as_tensor(v0, dtype=torch.float64)
    t = times.reshape(-1, *[1] * x0.ndim)
    a = damping / (2.0 * mass)                 # decay rate of the envelope
    disc = a * a - stiffness / mass             # > 0 overdamped, < 0 underdamped
    scale = max(a * a, stiffness / mass, 1e-300)
    if abs(disc) <= 1e-12 * scale:
        return torch.exp(-a * t) * (x0 + (v0 + a * x0) * t)
    if disc > 0:
        root = math.sqrt(disc)
        r1, r2 = -a + root, -a - root
        c1 = (v0 - r2 * x0) / (r1 - r2)
        return c1 * torch.exp(r1 * t) + (x0 - c1) * torch.exp(r2 * t)
    omega = math.sqrt(-disc)
    return torch.exp(-a * t) * (x0 * torch.cos(omega * t)
                                + (v0 + a * x0) / omega * torch.sin(omega * t))


def free_decay(kind: str, times: torch.Tensor, lr: float, weight_decay: float,
               momentum: float = 0.0) -> torch.Tensor:
    """``q(t)/q(0)`` of the continuous model without a drive (every translation quantity):
    ``e^{−κt}`` without momentum, the :func:`oscillator` with ``q'(0) = −κ q(0)`` with it.
    Introduced in chapter 6."""
    kind, lr, weight_decay, momentum = _settings(kind, lr, weight_decay, momentum)
    times = _checks.nonempty("times", _checks.tensor("times", times, ndim=1)).to(torch.float64)
    k = stiffness(kind, weight_decay)
    if momentum == 0.0:
        return torch.exp(-k * times)
    return oscillator(times, lr * (1.0 + momentum) / 2.0, 1.0 - momentum, k, 1.0, -k)


def damping_regime(kind: str, lr: float, weight_decay: float, momentum: float) -> str:
    """Which regime the continuous momentum model ``m q'' + (1 − β) q' + κ q = …`` is in, with
    mass ``m = η(1 + β)/2`` and stiffness ``κ`` (:func:`stiffness`). Chapter 6."""
    kind, lr, weight_decay, momentum = _settings(kind, lr, weight_decay, momentum)
    mass, damping = lr * (1.0 + momentum) / 2.0, 1.0 - momentum
    disc = damping ** 2 - 4.0 * mass * stiffness(kind, weight_decay)
    if abs(disc) <= 1e-9 * damping ** 2:
        return "critically damped"
    return "overdamped" if disc > 0 else "underdamped"


def critical_momentum(kind: str, lr: float, weight_decay: float) -> float:
    """The momentum ``β`` at which the continuous model is critically damped:
    ``(1 − β)² = 2ηκ(1 + β)``, i.e. ``1 − β = −ηκ + sqrt(η²κ² + 4ηκ)``. Chapter 6."""
    kind, lr, weight_decay, _ = _settings(kind, lr, weight_decay, 0.0)
    k = stiffness(kind, weight_decay)
    if k == 0.0:
        raise ValueError("without weight decay there is no restoring force, so no critical "
                         "momentum; give weight_decay > 0")
    x = -lr * k + math.sqrt((lr * k) ** 2 + 4.0 * lr * k)
    if x >= 1.0:
        raise ValueError(f"lr·weight_decay = {lr * weight_decay} is so large that every momentum "
                         f"in [0, 1) is underdamped")
    return 1.0 - x


def continuous_solution(kind: str, initial: torch.Tensor, drive: torch.Tensor | None, steps: int,
                        lr: float, weight_decay: float = 0.0,
                        momentum: float = 0.0) -> torch.Tensor:
    """The continuous-time model's quantities at times ``t_k = k·η``, ``(steps + 1, groups)``,
    with the recorded drive held constant on each step's interval ``[t_k, t_k + η)``.

    Without momentum: ``q' = −κ q + η f(t)`` with ``f = <s, g²>`` (zero for translation), i.e.
    ``q(t) = e^{−κt} q(0) + η ∫ e^{−κ(t−τ)} f(τ) dτ``. With momentum: ``m q'' + (1 − β) q' + κ q
    = 2m f(t)`` with ``m = η(1 + β)/2``, ``f = <s, d²>``, ``q'(0) = −κ q(0)``, solved exactly on
    each interval with a matrix exponential (:func:`oscillator` gives the same without drive).
    ``κ`` is :func:`stiffness`. Introduced in chapter 6.
    """
    kind, lr, weight_decay, momentum = _settings(kind, lr, weight_decay, momentum)
    _checks.positive("steps", steps, integer=True)
    q, drive = _inputs(initial, drive, kind)
    if drive is not None and drive.shape[0] < steps:
        raise ValueError(f"drive has {drive.shape[0]} rows, fewer than the {steps} steps")
    k = stiffness(kind, weight_decay)
    forcing = torch.zeros(steps, q.numel(), dtype=torch.float64) if drive is None else drive[:steps]
    if momentum == 0.0:
        decay = math.exp(-k * lr)
        gain = lr * (-math.expm1(-k * lr) / k if k > 0 else lr)  # η ∫_0^η e^{−κ(η−τ)} dτ
        out = [q]
        for f in forcing:
            q = decay * q + gain * f
            out.append(q)
        return torch.stack(out)
    mass = lr * (1.0 + momentum) / 2.0
    generator = torch.tensor([[0.0, 1.0, 0.0],
                              [-k / mass, -(1.0 - momentum) / mass, 1.0 / mass],
                              [0.0, 0.0, 0.0]], dtype=torch.float64)
    propagate = torch.linalg.matrix_exp(generator * lr)  # state (q, q', force) over one step
    state = torch.stack([q, -k * q, torch.zeros_like(q)])
    out = [q]
    for f in forcing:
        state[2] = 2.0 * mass * f
        state = propagate @ state
        out.append(state[0].clone())
    return torch.stack(out)


def relative_error(predicted: torch.Tensor, measured: torch.Tensor) -> float:
    """The worst group's ``max_k |predicted − measured| / max_k |measured|``: errors relative to
    the size each quantity reaches (pointwise ratios blow up where a quantity crosses zero).
    Introduced in chapter 6."""
    predicted = _checks.tensor("predicted", predicted, ndim=2)
    measured = _checks.tensor("measured", measured, shape=tuple(predicted.shape))
    size = measured.abs().max(dim=0).values
    error = (predicted - measured).abs().max(dim=0).values
    return float((error / torch.where(size > 0, size, torch.ones_like(size))).max())


def predictions(recording: Recording, kind: str) -> dict[str, torch.Tensor]:
    """``{"measured", "exact", "continuous"}`` for one kind of a :class:`Recording`, each
    ``(steps + 1, groups)``, with the drive each prediction needs taken from the recording.
    Introduced in chapter 6."""
    if not isinstance(recording, Recording):
        raise TypeError(f"recording must be a Recording from train_recorded, got "
                        f"{type(recording).__name__}")
    record, c = recording[kind], recording.config
    drive = None if kind == "translation" else (record.step_sq if c["momentum"] else record.grad_sq)
    args = (kind, record.value[0], drive, c["steps"], c["lr"], c["weight_decay"], c["momentum"])
    return {"measured": record.value, "exact": exact_recursion(*args),
            "continuous": continuous_solution(*args)}


def equilibrium_angular_update(lr: float, weight_decay: float, momentum: float = 0.0) -> float:
    """The angle (radians) by which a scale-invariant weight turns per step once its norm has
    settled, predicted before training: ``sqrt(2ηλ / (1 + β))``.

    At equilibrium the growth of the squared norm by the (orthogonal) gradient step balances its
    shrinking by weight decay, ``η²|g|² = (1 − (1 − ηλ)²)|w|² ≈ 2ηλ|w|²``, so the angle
    ``η|g|/|w|`` is ``sqrt(2ηλ)`` whatever the data; with momentum ``β`` the mean squared angle is
    divided by ``1 + β`` (van Laarhoven 2017; Li & Arora 2020; Wan et al. 2021). First order in
    ``ηλ``. Introduced in chapter 6 (broken conservation).
    """
    _, lr, weight_decay, momentum = _settings("scale", lr, weight_decay, momentum)
    if weight_decay == 0.0:
        raise ValueError("without weight decay the norm grows for ever and there is no "
                         "equilibrium; give weight_decay > 0")
    return math.sqrt(2.0 * lr * weight_decay / (1.0 + momentum))


def angular_updates(recording: Recording, kind: str = "scale") -> torch.Tensor:
    """The angle (radians) each group's weight vector turns at each step, ``(steps, groups)``,
    from the recorded squared norms before and after the step and of the step itself:
    ``cos Δ_k = (q_k + q_{k+1} − η² D_k) / (2 sqrt(q_k q_{k+1}))`` with ``D_k = |d_k|²``.

    Exact for any optimiser recorded by :func:`symcourse.recording.train_recorded` (plain or
    momentum SGD, since ``θ_{k+1} − θ_k = −η d_k``); only the scale kind, whose quantity is a squared
    norm, has an angle. Introduced in chapter 6 (broken conservation).
    """
    if not isinstance(recording, Recording):
        raise TypeError(f"recording must be a Recording from train_recorded, got "
                        f"{type(recording).__name__}")
    if kind != "scale":
        raise ValueError(f"only the scale quantity is a squared norm with an angle; got {kind!r}")
    record, lr = recording[kind], recording.config["lr"]
    q = record.value
    cos = (q[:-1] + q[1:] - lr ** 2 * record.step_sq) / (2.0 * (q[:-1] * q[1:]).sqrt())
    return torch.acos(cos.clamp(-1.0, 1.0))


def discretisation_gap(steps: int, lr: float, weight_decay: float) -> float:
    """``max_k |(1 − ηλ)^k − e^{−ηλk}|`` for ``k ≤ steps``: how far the continuous model of the
    translation quantity (relative to its start) can be from the exact recursion, with nothing
    measured fed in. Introduced in chapter 6 (broken conservation)."""
    _, lr, weight_decay, _ = _settings("translation", lr, weight_decay, 0.0)
    _checks.positive("steps", steps, integer=True)
    k = torch.arange(steps + 1, dtype=torch.float64)
    return float(((1.0 - lr * weight_decay) ** k - torch.exp(-lr * weight_decay * k)).abs().max())
