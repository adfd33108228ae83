"""Modified dynamics: gradient descent with weight decay and heavy-ball momentum, the modified
losses whose gradient flow follows the discrete steps more closely (modified equation analysis),
measured error orders, and the gradient noise of mini-batches seen from a symmetry.

Mathematics and engines layer: imports torch, :mod:`symcourse.conservation` and
:mod:`symcourse._checks` only. Everything works on flat float64 parameter vectors and loss
closures, like :mod:`symcourse.conservation`. Introduced in chapter 5.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import _checks
from .conservation import FlowResult, _flat_theta, _loss_and_grad, gradient_flow, split


def _callable(name: str, fn) -> Callable:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def _momentum(momentum) -> float:
    return _checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)


# --------------------------------------------------------------------------------------------
# discrete optimisers
# --------------------------------------------------------------------------------------------


def heavy_ball(loss_fn: Callable, theta0: torch.Tensor, lr: float, steps: int, *,
               momentum: float = 0.0, weight_decay: float = 0.0,
               velocity0: torch.Tensor | None = None) -> FlowResult:
    """Gradient descent with optional weight decay and heavy-ball momentum, in float64.

    Each step is ``v ← β·v − lr·(∇L(θ) + λ·θ)`` then ``θ ← θ + v``, with ``β = momentum`` and
    ``λ = weight_decay``; ``v`` starts at ``velocity0`` (default zero). With ``β = λ = 0`` this is
    plain gradient descent. Every step is recorded; time is ``step × lr`` so the result can be
    compared with :func:`symcourse.conservation.gradient_flow`. The recorded loss is ``L(θ)``,
    without the decay term. Introduced in chapter 5.
    """
    _callable("loss_fn", loss_fn)
    y = _flat_theta(theta0)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    beta = _momentum(momentum)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    if velocity0 is None:
        v = torch.zeros_like(y)
    else:
        v = _checks.tensor("velocity0", velocity0, shape=(y.numel(),)).detach().to(torch.float64)
    states, losses = [], []
    for s in range(steps + 1):
        loss, g = _loss_and_grad(loss_fn, y)
        states.append(y.clone())
        losses.append(loss)
        if s < steps:
            v = beta * v - lr * (g + weight_decay * y)
            y = y + v
            if not torch.isfinite(y).all():
                raise FloatingPointError(f"heavy_ball: the parameters diverged at step {s + 1}; "
                                         f"lower lr={lr}")
    times = torch.arange(steps + 1, dtype=torch.float64) * lr
    return FlowResult(times=times, theta=torch.stack(states),
                      loss=torch.tensor(losses, dtype=torch.float64), steps=steps, rejected=0,
                      evaluations=steps + 1)


# --------------------------------------------------------------------------------------------
# modified losses (modified equation analysis)
# --------------------------------------------------------------------------------------------


def correction_coefficient(lr: float, momentum: float = 0.0) -> float:
    """The coefficient ``c = lr·(1 + β) / (4·(1 − β)²)`` of ``|∇L|²`` in the modified loss of
    heavy-ball momentum; ``lr/4`` for plain gradient descent (``β = 0``). Introduced in chapter 5."""
    _checks.positive("lr", lr)
    beta = _momentum(momentum)
    return lr * (1 + beta) / (4 * (1 - beta) ** 2)


def flow_loss(loss_fn: Callable, momentum: float = 0.0) -> Callable:
    """The loss ``L/(1 − β)`` whose gradient flow is the leading-order (first-order in the learning
    rate) model of heavy-ball momentum with time ``step × lr``. Introduced in chapter 5."""
    _callable("loss_fn", loss_fn)
    beta = _momentum(momentum)
    return lambda theta: loss_fn(theta) / (1 - beta)


def modified_loss(loss_fn: Callable, lr: float, momentum: float = 0.0) -> Callable:
    """The modified loss ``(L + c·|∇L|²)/(1 − β)`` with ``c`` from :func:`correction_coefficient`.

    Its gradient flow follows gradient descent (``β = 0``: ``L + (lr/4)|∇L|²``, implicit gradient
    regularisation) or heavy-ball momentum to second order in the learning rate. The returned
    closure builds ``∇L`` with ``create_graph=True``, so autograd differentiates it once more
    (double backward) when its gradient is taken. Introduced in chapter 5.
    """
    _callable("loss_fn", loss_fn)
    c = correction_coefficient(lr, momentum)
    beta = float(momentum)

    def modified(theta: torch.Tensor) -> torch.Tensor:
        x = theta if theta.requires_grad else theta.detach().requires_grad_(True)
        value = loss_fn(x)
        (g,) = torch.autograd.grad(value.reshape(()), x, create_graph=True)
        return (value + c * (g * g).sum()) / (1 - beta)

    return modified


def modified_gradient(loss_fn: Callable, theta: torch.Tensor, lr: float,
                      momentum: float = 0.0) -> torch.Tensor:
    """The gradient of :func:`modified_loss` at ``theta``: ``(∇L + 2c·H∇L)/(1 − β)``, computed
    by double backward (``H`` is the Hessian, never formed). Introduced in chapter 5."""
    _checks.positive("lr", lr)
    return _loss_and_grad(modified_loss(loss_fn, lr, momentum), _flat_theta(theta))[1]


def consistent_velocity(loss_fn: Callable, theta0: torch.Tensor, lr: float,
                        momentum: float = 0.0) -> torch.Tensor:
    """A starting velocity for :func:`heavy_ball` that matches the modified flow: ``−lr`` times
    the gradient of :func:`modified_loss`. Starting from rest instead shifts the whole momentum
    trajectory by a term of first order in ``lr``. Introduced in chapter 5."""
    _checks.positive("lr", lr)
    return -lr * modified_gradient(loss_fn, theta0, lr, momentum)


@dataclass(frozen=True)
class FlowComparison:
    """Heavy-ball iterates next to the two continuous models, at the same times. Chapter 5."""

    times: torch.Tensor  # (T,)
    discrete: torch.Tensor  # (T, P) the iterates
    flow: torch.Tensor  # (T, P) gradient flow of L_λ/(1 − β)
    modified: torch.Tensor  # (T, P) the modified flow
    dev_flow: float  # largest distance of the iterates to ``flow``
    dev_modified: float  # largest distance of the iterates to ``modified``


def compare_with_flows(loss_fn: Callable, theta0: torch.Tensor, lr: float, steps: int, *,
                       momentum: float = 0.0, weight_decay: float = 0.0) -> FlowComparison:
    """Run heavy ball with weight decay from a consistent start and integrate, at the same times,
    gradient flow and the modified flow of ``L_λ = L + (λ/2)|θ|²``. Introduced in chapter 5
    (its explorer draws the result)."""
    _callable("loss_fn", loss_fn)
    _checks.positive("lr", lr)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    decayed = lambda theta: loss_fn(theta) + 0.5 * weight_decay * (theta * theta).sum()  # noqa: E731
    start = _flat_theta(theta0)
    velocity = consistent_velocity(decayed, start, lr, momentum)
    run = heavy_ball(decayed, start, lr, steps, momentum=momentum, velocity0=velocity)
    flow = gradient_flow(flow_loss(decayed, momentum), start, run.times).theta
    modified = gradient_flow(modified_loss(decayed, lr, momentum), start, run.times).theta
    return FlowComparison(times=run.times, discrete=run.theta, flow=flow, modified=modified,
                          dev_flow=(run.theta - flow).norm(dim=1).max().item(),
                          dev_modified=(run.theta - modified).norm(dim=1).max().item())


# --------------------------------------------------------------------------------------------
# measured error orders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorOrders:
    """Errors of discrete steps at time ``T`` against two flows, and their log-log slopes.
    Introduced in chapter 5."""

    lrs: torch.Tensor  # (K,)
    error_flow: torch.Tensor  # (K,) distance to the gradient flow of L/(1 − β)
    error_modified: torch.Tensor  # (K,) distance to the modified flow
    slope_flow: float
    slope_modified: float


def fit_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the measured order of an error.
    Introduced in chapter 5."""
    x, y = _floats("x", x), _floats("y", y)
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"x and y need the same number (>= 2) of entries, got {x.numel()} and {y.numel()}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()) or (x <= 0).any() or (y <= 0).any():
        raise ValueError("x and y must be finite and > 0 to take logarithms")
    lx, ly = x.log(), y.log()
    lx0 = lx - lx.mean()
    if float((lx0 ** 2).sum()) == 0:
        raise ValueError("x must contain at least two different values")
    return float((lx0 * (ly - ly.mean())).sum() / (lx0 ** 2).sum())


def _floats(name: str, values) -> torch.Tensor:
    try:
        return torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from None


def error_orders(loss_fn: Callable, theta0: torch.Tensor, lrs: Sequence[float], T: float, *,
                 momentum: float = 0.0, rtol: float = 1e-12) -> ErrorOrders:
    """Run :func:`heavy_ball` to time ``T`` (``T/lr`` steps, which must be whole numbers) for each
    learning rate and measure the Euclidean distance of its endpoint to gradient flow of
    :func:`flow_loss` and of :func:`modified_loss` at time ``T``. With momentum the run starts
    from :func:`consistent_velocity`. Fits the slopes with :func:`fit_slope`. Introduced in chapter 5.
    """
    _callable("loss_fn", loss_fn)
    theta0 = _flat_theta(theta0)
    _checks.positive("T", T)
    _checks.positive("rtol", rtol)
    beta = _momentum(momentum)
    if isinstance(lrs, (str, bytes)) or not isinstance(lrs, Sequence) or len(lrs) < 2:
        raise ValueError("lrs must be a list of at least two learning rates")
    steps = []
    for lr in lrs:
        _checks.positive("lrs entry", lr)
        n = round(T / lr)
        if n < 1 or abs(n * lr - T) > 1e-9 * T:
            raise ValueError(f"T/lr must be a whole number of steps; T={T}, lr={lr}")
        steps.append(n)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest on a busy CPU
    try:
        exact = gradient_flow(flow_loss(loss_fn, beta), theta0, [T], rtol=rtol,
                              atol=rtol * 1e-2).theta[-1]
        e_flow, e_mod = [], []
        for lr, n in zip(lrs, steps):
            v0 = consistent_velocity(loss_fn, theta0, lr, beta) if beta > 0 else None
            end = heavy_ball(loss_fn, theta0, lr, n, momentum=beta, velocity0=v0).theta[-1]
            target = gradient_flow(modified_loss(loss_fn, lr, beta), theta0, [T], rtol=rtol,
                                   atol=rtol * 1e-2).theta[-1]
            e_flow.append(float((end - exact).norm()))
            e_mod.append(float((end - target).norm()))
    finally:
        torch.set_num_threads(threads)
    lrs_t = torch.tensor([float(lr) for lr in lrs], dtype=torch.float64)
    e_flow_t = torch.tensor(e_flow, dtype=torch.float64)
    e_mod_t = torch.tensor(e_mod, dtype=torch.float64)
    return ErrorOrders(lrs_t, e_flow_t, e_mod_t, fit_slope(lrs_t, e_flow_t), fit_slope(lrs_t, e_mod_t))


# --------------------------------------------------------------------------------------------
# mini-batch gradient noise and symmetry
# --------------------------------------------------------------------------------------------


def batch_gradients(batch_loss: Callable, theta: torch.Tensor, n_samples: int, batch_size: int,
                    n_batches: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``batch_loss(theta, idx)`` on ``n_batches`` random mini-batches ``idx`` of
    ``batch_size`` distinct samples out of ``n_samples`` (generator seeded with ``seed``), and the
    full-batch gradient. Returns ``(batch_grads (n_batches, P), full_grad (P,))``.
    Introduced in chapter 5."""
    _callable("batch_loss", batch_loss)
    theta = _flat_theta(theta)
    _checks.positive("n_samples", n_samples, integer=True)
    _checks.positive("batch_size", batch_size, integer=True)
    _checks.positive("n_batches", n_batches, integer=True)
    _checks.positive("seed", seed, integer=True, allow_zero=True)
    if batch_size > n_samples:
        raise ValueError(f"batch_size must be at most n_samples={n_samples}, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    grads = [_loss_and_grad(lambda th: batch_loss(th, idx), theta)[1]
             for idx in (torch.randperm(n_samples, generator=gen)[:batch_size]
                         for _ in range(n_batches))]
    full = _loss_and_grad(lambda th: batch_loss(th, torch.arange(n_samples)), theta)[1]
    return torch.stack(grads), full


def noise_along(batch_grads: torch.Tensor, full_grad: torch.Tensor,
                directions: torch.Tensor) -> float:
    """Largest ``|⟨ξ, d⟩| / (|ξ|·|d|)`` over the batch-gradient noises ``ξ = g_batch − g_full``
    and the rows ``d`` of ``directions`` (K, P): the cosine between the noise and a direction.
    Zero to rounding for the generators of a symmetry of every per-sample loss.
    Introduced in chapter 5."""
    _checks.tensor("batch_grads", batch_grads, ndim=2)
    P = batch_grads.shape[1]
    _checks.tensor("full_grad", full_grad, shape=(P,))
    if isinstance(directions, torch.Tensor) and directions.ndim == 1:
        directions = directions[None]
    _checks.tensor("directions", directions, shape=(None, P))
    noise = batch_grads - full_grad
    norms = noise.norm(dim=1, keepdim=True) * directions.norm(dim=1)
    if (norms == 0).any():
        raise ValueError("every noise vector and every direction must be non-zero")
    return float(((noise @ directions.T).abs() / norms).max())


def translation_generators(in_dim: int, classes: int) -> torch.Tensor:
    """Generators (in_dim + 1, P) of the translation symmetry of
    :func:`symcourse.conservation.softmax_loss`: one per column of ``W`` (ones down that column)
    and one for ``b`` (all ones). Introduced in chapter 5."""
    _checks.positive("in_dim", in_dim, integer=True)
    _checks.positive("classes", classes, integer=True)
    P = classes * in_dim + classes
    gens = torch.zeros(in_dim + 1, P, dtype=torch.float64)
    for j in range(in_dim):
        W, _ = split(gens[j], [(classes, in_dim), (classes,)])
        W[:, j] = 1.0
    gens[in_dim, classes * in_dim:] = 1.0
    return gens


def rescale_generators(theta: torch.Tensor, in_dim: int, hidden: int,
                       out_dim: int = 1) -> torch.Tensor:
    """Generators (hidden, P) of the rescale symmetry of
    :func:`symcourse.conservation.relu_loss` at ``theta``: for neuron ``i``, its incoming weights
    (bias included) and minus its outgoing weights, zero elsewhere. Introduced in chapter 5."""
    theta = _flat_theta(theta)
    for name, v in (("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
        _checks.positive(name, v, integer=True)
    shapes = [(hidden, in_dim + 1), (out_dim, hidden)]
    W_in, W_out = split(theta, shapes)
    gens = torch.zeros(hidden, theta.numel(), dtype=torch.float64)
    for i in range(hidden):
        G_in, G_out = split(gens[i], shapes)
        G_in[i] = W_in[i]
        G_out[:, i] = -W_out[:, i]
    return gens


# --------------------------------------------------------------------------------------------
# beyond first order: mini-batch SGD, Adam and the heavy-ball flow on a symmetry's quantity
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGDRun:
    """What :func:`sgd_run` returns: the parameters before every step and after the last
    (``theta``, (steps + 1, P)), the batch gradient of every step (``grads``, (steps, P)) and the
    full-batch gradient at the same parameters (``full_grads``, (steps, P)). Chapter 5."""

    times: torch.Tensor
    theta: torch.Tensor
    grads: torch.Tensor
    full_grads: torch.Tensor


def sgd_run(batch_loss: Callable, theta0: torch.Tensor, n_samples: int, batch_size: int | None,
            lr: float, steps: int, seed: int = 0) -> SGDRun:
    """Plain SGD ``θ ← θ − η g_B`` on ``batch_loss(theta, idx)`` with batches of ``batch_size``
    distinct samples drawn afresh each step (generator seeded with ``seed``); ``None`` means full
    batches (gradient descent). Records parameters, batch and full gradients (:class:`SGDRun`).
    Introduced in chapter 5 (modified dynamics: noise beyond first order)."""
    _callable("batch_loss", batch_loss)
    y = _flat_theta(theta0)
    _checks.positive("n_samples", n_samples, integer=True)
    if batch_size is not None:
        _checks.positive("batch_size", batch_size, integer=True)
        if batch_size > n_samples:
            raise ValueError(f"batch_size must be at most n_samples={n_samples}, got {batch_size}")
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("seed", seed, integer=True, allow_zero=True)
    gen = torch.Generator().manual_seed(seed)
    everything = torch.arange(n_samples)
    states, grads, fulls = [y], [], []
    for _ in range(steps):
        full = _loss_and_grad(lambda th: batch_loss(th, everything), y)[1]
        if batch_size is None:
            g = full
        else:
            idx = torch.randperm(n_samples, generator=gen)[:batch_size]
            g = _loss_and_grad(lambda th: batch_loss(th, idx), y)[1]
        y = y - lr * g
        if not torch.isfinite(y).all():
            raise FloatingPointError(f"sgd_run diverged; lower lr={lr}")
        states.append(y)
        grads.append(g)
        fulls.append(full)
    times = torch.arange(steps + 1, dtype=torch.float64) * lr
    return SGDRun(times, torch.stack(states), torch.stack(grads), torch.stack(fulls))


def rescale_quantities(vectors: torch.Tensor, in_dim: int, hidden: int,
                       out_dim: int = 1) -> torch.Tensor:
    """``|in_i|² − |out_i|²`` per hidden neuron ``i`` for each row of ``vectors`` (T, P) laid out
    as :func:`symcourse.conservation.relu_shapes`: the rescale quantities of parameter vectors,
    or, applied to gradients, the ``|g_in|² − |g_out|²`` that drive them. Returns (T, hidden).
    Introduced in chapter 5."""
    vectors = _checks.tensor("vectors", vectors, ndim=2)
    for name, v in (("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
        _checks.positive(name, v, integer=True)
    n_in = hidden * (in_dim + 1)
    if vectors.shape[1] != n_in + out_dim * hidden:
        raise ValueError(f"vectors must have {n_in + out_dim * hidden} columns (hidden × "
                         f"(in_dim + 1) + out_dim × hidden), got {vectors.shape[1]}")
    W_in = vectors[:, :n_in].reshape(-1, hidden, in_dim + 1)
    W_out = vectors[:, n_in:].reshape(-1, out_dim, hidden)
    return W_in.pow(2).sum(dim=2) - W_out.pow(2).sum(dim=1)


def adam_run(loss_fn: Callable, theta0: torch.Tensor, lr: float, steps: int, *,
             betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> FlowResult:
    """``torch.optim.Adam`` on ``loss_fn`` from ``theta0`` for ``steps`` full-batch steps, every
    iterate recorded (time is ``step × lr``). Introduced in chapter 5 (Adam and the conserved
    quantities)."""
    _callable("loss_fn", loss_fn)
    y = _flat_theta(theta0).clone().requires_grad_(True)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    for name, b in zip(("betas[0]", "betas[1]"), betas):
        _checks.in_range(name, b, 0.0, 1.0, high_open=True)
    _checks.positive("eps", eps)
    opt = torch.optim.Adam([y], lr=lr, betas=betas, eps=eps)
    states, losses = [], []
    for s in range(steps + 1):
        opt.zero_grad()
        loss = loss_fn(y)
        states.append(y.detach().clone())
        losses.append(loss.item())
        if s < steps:
            loss.backward()
            opt.step()
    times = torch.arange(steps + 1, dtype=torch.float64) * lr
    return FlowResult(times=times, theta=torch.stack(states),
                      loss=torch.tensor(losses, dtype=torch.float64), steps=steps, rejected=0,
                      evaluations=steps + 1)


def heavy_ball_flow(loss_fn: Callable, theta0: torch.Tensor, lr: float, momentum: float,
                    T: float, substeps: int = 2000) -> FlowResult:
    """The second-order (heavy-ball) flow ``m θ'' + (1 − β) θ' = −∇L(θ)`` with mass
    ``m = η(1 + β)/2`` up to time ``T``, started with the first-order velocity
    ``θ'(0) = −∇L(θ₀)/(1 − β)``, integrated by classical Runge–Kutta with ``substeps`` equal steps
    (its error is of order ``(T/substeps)⁴``). Records ``substeps + 1`` states. Introduced in
    chapter 5 (momentum keeps the laws only to first order)."""
    _callable("loss_fn", loss_fn)
    y = _flat_theta(theta0)
    _checks.positive("lr", lr)
    beta = _momentum(momentum)
    _checks.positive("T", T)
    _checks.positive("substeps", substeps, integer=True)
    mass, damping = lr * (1.0 + beta) / 2.0, 1.0 - beta

    def field(state):
        th, vel = state
        return torch.stack([vel, (-_loss_and_grad(loss_fn, th)[1] - damping * vel) / mass])

    state = torch.stack([y, -_loss_and_grad(loss_fn, y)[1] / damping])
    h = T / substeps
    states = [state[0]]
    for _ in range(substeps):
        k1 = field(state)
        k2 = field(state + h / 2 * k1)
        k3 = field(state + h / 2 * k2)
        k4 = field(state + h * k3)
        state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(state[0])
    theta = torch.stack(states)
    with torch.no_grad():
        losses = torch.tensor([float(loss_fn(th)) for th in theta], dtype=torch.float64)
    return FlowResult(times=torch.linspace(0.0, T, substeps + 1, dtype=torch.float64),
                      theta=theta, loss=losses, steps=substeps, rejected=0,
                      evaluations=4 * substeps + 1)
