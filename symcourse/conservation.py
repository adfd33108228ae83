"""Conservation laws of gradient flow: an accurate integrator, the conserved quantities of the
translation, scale and rescale symmetries and of deep linear networks, and a numerical count of
independent conservation laws (Marcotte, Gribonval & Peyré, NeurIPS 2023).

Mathematics and engines layer: imports torch and the bottom modules only. Everything works on
flat float64 parameter vectors and loss closures, so it does not depend on how a symmetry is
described elsewhere in the package. Introduced in chapter 4.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from . import _checks

# --------------------------------------------------------------------------------------------
# gradient flow, integrated with error control
# --------------------------------------------------------------------------------------------

# Dormand & Prince (1980) RK5(4)7M: nodes, stage matrix, 5th-order weights, 4th-order weights.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b5 - b4 for b5, b4 in zip(_B5, _B4))


@dataclass(frozen=True)
class FlowResult:
    """A gradient-flow trajectory: ``theta[k]`` is the state at ``times[k]``. Introduced in chapter 4."""

    times: torch.Tensor  # (T,)
    theta: torch.Tensor  # (T, P)
    loss: torch.Tensor  # (T,)
    steps: int  # accepted steps
    rejected: int  # rejected step attempts
    evaluations: int  # gradient evaluations


def _flat_theta(theta0) -> torch.Tensor:
    theta0 = _checks.tensor("theta0", theta0, ndim=1)
    if theta0.numel() == 0:
        raise ValueError("theta0 must have at least one entry")
    return theta0.detach().to(torch.float64).clone()


def _loss_and_grad(loss_fn: Callable, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = theta.detach().requires_grad_(True)
    value = loss_fn(x)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError("loss_fn must return a one-element tensor (the loss)")
    (g,) = torch.autograd.grad(value.reshape(()), x, allow_unused=True)
    if g is None:
        g = torch.zeros_like(x)
    return float(value.detach()), g.detach()


def gradient(loss_fn: Callable, theta: torch.Tensor) -> torch.Tensor:
    """The gradient of ``loss_fn`` at the flat parameter vector ``theta``, by autograd. Introduced in chapter 4."""
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    return _loss_and_grad(loss_fn, _flat_theta(theta))[1]


def gradient_flow(loss_fn: Callable, theta0: torch.Tensor, times, *, rtol: float = 1e-10,
                  atol: float = 1e-12, max_steps: int = 200_000,
                  max_seconds: float = 60.0) -> FlowResult:
    """Integrate gradient flow ``dθ/dt = -∇L(θ)`` from ``theta0`` and return it at ``times``.

    Adaptive explicit Runge–Kutta 5(4) of Dormand & Prince in float64, with the usual local error
    control: a step is accepted when the RMS of ``error / (atol + rtol·|θ|)`` is at most 1. Steps
    are shortened to land exactly on every requested time. ``times`` must be non-negative and
    non-decreasing; time 0 is the start. Introduced in chapter 4.

    It never runs away: it stops with a RuntimeError after ``max_steps`` step attempts or
    ``max_seconds`` of wall-clock time, and early (after a few hundred attempts) when the pace
    so far projects more than twice ``max_steps`` attempts to reach the last time, saying
    whether the step size collapsed on a non-smooth loss (a ReLU kink: use the smooth
    ``power=2`` variant) or the horizon is too long for the loss's stiffness (shorten it).
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    y = _flat_theta(theta0)
    try:
        t_out = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"times must be a sequence of numbers, got {type(times).__name__}") from None
    if t_out.numel() == 0:
        raise ValueError("times must contain at least one time")
    if not torch.isfinite(t_out).all() or (t_out < 0).any():
        raise ValueError("times must be finite and >= 0")
    if (t_out[1:] < t_out[:-1]).any():
        raise ValueError("times must be non-decreasing")
    _checks.in_range("rtol", rtol, 1e-14, 0.1)
    if rtol == 0:
        raise ValueError("rtol must be > 0")
    _checks.positive("atol", atol, allow_zero=True)
    _checks.positive("max_steps", max_steps, integer=True)
    _checks.positive("max_seconds", max_seconds)
    budget = _checks.Budget("gradient_flow", max_seconds=max_seconds,
                            advice="shorten the time horizon, loosen rtol/atol, or use a smooth loss")
    # Subnormal floats (e.g. exp of very negative logits) slow the CPU down by orders of
    # magnitude; flush them to zero while integrating, and restore PyTorch's default after.
    # Tiny tensors run fastest on one thread (several threads contend for a busy CPU).
    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    try:
        return _dormand_prince(loss_fn, y, t_out, rtol, atol, max_steps, budget)
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


def _dormand_prince(loss_fn, y, t_out, rtol, atol, max_steps, budget=None) -> FlowResult:
    loss, g = _loss_and_grad(loss_fn, y)
    evaluations = 1
    k_first = -g  # first stage (FSAL: the last stage of a step is the next step's first)
    states, losses = [], []
    t, steps, rejected = 0.0, 0, 0
    pace = (0, 0, 0.0)  # (attempts, rejected, t) at the last pace check
    scale0 = atol + rtol * y.abs()
    h = 0.01 * float(torch.sqrt(torch.mean((y / scale0) ** 2)) /
                     max(float(torch.sqrt(torch.mean((k_first / scale0) ** 2))), 1e-300))
    h = min(max(h, 1e-8), 1.0)
    for target in t_out.tolist():
        while t < target:
            if steps + rejected >= max_steps:
                raise RuntimeError(f"gradient_flow: more than max_steps={max_steps} step attempts "
                                   f"before t={target}; raise max_steps or loosen rtol/atol")
            if budget is not None:
                budget.spend()
                pace = _pace_check(pace, steps, rejected, t, h, float(t_out[-1]), max_steps)
            step = min(h, target - t)
            last_stretch = step == target - t
            k = [k_first]
            for i in range(1, 7):
                yi = y + step * sum(a * kj for a, kj in zip(_A[i], k))
                loss_i, gi = _loss_and_grad(loss_fn, yi)
                k.append(-gi)
            evaluations += 6
            y_new = y + step * sum(b * kj for b, kj in zip(_B5, k) if b)
            err = step * sum(e * kj for e, kj in zip(_E, k))
            tol = atol + rtol * torch.maximum(y.abs(), y_new.abs())
            err_norm = float(torch.sqrt(torch.mean((err / tol) ** 2)))
            if not math.isfinite(err_norm):
                raise FloatingPointError("gradient_flow: the state became non-finite")
            if err_norm <= 1.0:
                t = target if last_stretch else t + step
                y, loss, k_first = y_new, loss_i, k[6]
                steps += 1
                factor = 5.0 if err_norm == 0 else min(5.0, max(0.2, 0.9 * err_norm ** -0.2))
                if not last_stretch or factor < 1:
                    h = step * factor
            else:
                rejected += 1
                h = step * max(0.2, 0.9 * err_norm ** -0.2)
        states.append(y.clone())
        losses.append(loss)
    return FlowResult(times=t_out, theta=torch.stack(states), loss=torch.tensor(losses, dtype=torch.float64),
                      steps=steps, rejected=rejected, evaluations=evaluations)


def _pace_check(pace, steps, rejected, t, h, t_end, max_steps, every=100, first=300):
    """Fail early when the pace of the last ``every`` attempts cannot reach ``t_end`` in budget."""
    attempts = steps + rejected
    if attempts < first or attempts - pace[0] < every:
        return pace if attempts - pace[0] < every else (attempts, rejected, t)
    window, window_rejected = attempts - pace[0], rejected - pace[1]
    per_attempt = (t - pace[2]) / window
    needed = (t_end - t) / per_attempt if per_attempt > 0 else math.inf
    if attempts + needed > 2 * max_steps:
        share = window_rejected / window
        if share > 0.2 or h < 1e-9 * max(t_end, 1.0):
            why = (f"the step size collapsed to {h:.1e} with {share:.0%} of the last {window} steps "
                   f"rejected: the loss is probably not smooth (e.g. a ReLU kink the flow slides "
                   f"along); use a smooth variant (relu_loss power=2) or a shorter horizon")
        else:
            why = (f"at step size {h:.1e} the horizon t={t_end:g} is too long for this loss's "
                   f"stiffness; shorten the horizon or loosen rtol/atol")
        raise RuntimeError(f"gradient_flow stopped early at t={t:.4g} after {attempts} step attempts: "
                           f"reaching t={t_end:g} would take about {needed:.1e} more, more than "
                           f"max_steps={max_steps}; {why}")
    return (attempts, rejected, t)


def gradient_descent(loss_fn: Callable, theta0: torch.Tensor, lr: float, steps: int,
                     record_every: int = 1) -> FlowResult:
    """Plain gradient descent ``θ ← θ - lr·∇L(θ)`` in float64, recorded every ``record_every`` steps
    (time = step × lr, so it is comparable with :func:`gradient_flow`). Introduced in chapter 4.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    y = _flat_theta(theta0)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("record_every", record_every, integer=True)
    states, losses, times = [], [], []
    for s in range(steps + 1):
        loss, g = _loss_and_grad(loss_fn, y)
        if s % record_every == 0 or s == steps:
            states.append(y.clone())
            losses.append(loss)
            times.append(s * lr)
        if s < steps:
            y = y - lr * g
    return FlowResult(times=torch.tensor(times, dtype=torch.float64), theta=torch.stack(states),
                      loss=torch.tensor(losses, dtype=torch.float64), steps=steps, rejected=0,
                      evaluations=steps + 1)


# --------------------------------------------------------------------------------------------
# conserved quantities
# --------------------------------------------------------------------------------------------


def translation_quantity(theta: torch.Tensor) -> torch.Tensor:
    """Sum of the entries of ``theta`` along its last dimension: conserved when the loss is
    unchanged by adding the same constant to all of them (e.g. all logits). Introduced in chapter 4."""
    _checks.nonempty("theta", _checks.tensor("theta", theta, ndim=None))
    if theta.ndim == 0:
        raise ValueError("theta must have at least one dimension")
    return theta.sum(dim=-1)


def scale_quantity(theta: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean norm along the last dimension: conserved when the loss is unchanged by
    multiplying these entries by a positive constant (e.g. weights before a normalisation). Introduced in chapter 4."""
    _checks.nonempty("theta", _checks.tensor("theta", theta, ndim=None))
    if theta.ndim == 0:
        raise ValueError("theta must have at least one dimension")
    return (theta ** 2).sum(dim=-1)


def rescale_quantity(w_in: torch.Tensor, w_out: torch.Tensor, degree: int = 1) -> torch.Tensor:
    """Per hidden neuron ``|θ_in|² − degree·|θ_out|²`` of a two-layer network ``W_out σ(W_in x)``
    whose activation is positively homogeneous, ``σ(az) = a^degree σ(z)`` for ``a > 0`` (ReLU:
    degree 1). ``w_in`` is (hidden, in) — include the bias as a column — and ``w_out`` is
    (out, hidden). Returns (hidden,). Introduced in chapter 4."""
    _checks.tensor("w_in", w_in, ndim=2)
    _checks.tensor("w_out", w_out, shape=(None, w_in.shape[0]))
    _checks.positive("degree", degree, integer=True)
    return (w_in ** 2).sum(dim=1) - degree * (w_out ** 2).sum(dim=0)


def layer_balance(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """For a deep linear network ``W_L ⋯ W_1`` (``W_l`` of shape (n_l, n_{l-1})), the matrices
    ``W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ`` (each n_l × n_l), all conserved by gradient flow. Introduced in chapter 4."""
    if isinstance(weights, torch.Tensor) or not isinstance(weights, Sequence):
        raise TypeError("weights must be a list of matrices W_1, ..., W_L")
    if len(weights) < 2:
        raise ValueError(f"weights must hold at least two matrices, got {len(weights)}")
    for l, W in enumerate(weights):
        _checks.tensor(f"weights[{l}]", W, ndim=2)
    for l in range(len(weights) - 1):
        if weights[l + 1].shape[1] != weights[l].shape[0]:
            raise ValueError(f"weights[{l + 1}] has {weights[l + 1].shape[1]} columns but weights[{l}] "
                             f"has {weights[l].shape[0]} rows; consecutive layers must chain")
    return [weights[l + 1].T @ weights[l + 1] - weights[l] @ weights[l].T for l in range(len(weights) - 1)]


# --------------------------------------------------------------------------------------------
# small networks on flat parameter vectors
# --------------------------------------------------------------------------------------------


def split(theta: torch.Tensor, shapes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Cut a flat vector into views of the given shapes (their sizes must add up). Introduced in chapter 4."""
    _checks.tensor("theta", theta, ndim=1)
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Sequence) or not shapes:
        raise TypeError(f"shapes must be a non-empty list of shapes, got {shapes!r}")
    for i, s in enumerate(shapes):
        if isinstance(s, (str, bytes)) or not isinstance(s, Sequence):
            raise TypeError(f"shapes[{i}] must be a shape (a tuple of sizes), got {s!r}")
        for size in s:
            _checks.positive(f"shapes[{i}] entry", size, integer=True)
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != theta.numel():
        raise ValueError(f"shapes {list(map(tuple, shapes))} need {sum(sizes)} entries, theta has {theta.numel()}")
    return [part.reshape(tuple(s)) for part, s in zip(torch.split(theta, sizes), shapes)]


def relu_shapes(in_dim: int, hidden: int, out_dim: int = 1) -> list[tuple[int, int]]:
    """Shapes of ``(W_in, W_out)`` for :func:`relu_loss`: (hidden, in_dim + 1) with the bias as the
    last column, and (out_dim, hidden). Introduced in chapter 4."""
    for name, v in (("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
        _checks.positive(name, v, integer=True)
    return [(hidden, in_dim + 1), (out_dim, hidden)]


def _reduce(per_sample: torch.Tensor, weights) -> torch.Tensor:
    if weights is None:
        return per_sample.mean()
    _checks.tensor("weights", weights, shape=(per_sample.shape[0],))
    return per_sample @ weights


def relu_loss(theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, hidden: int,
              weights: torch.Tensor | None = None, power: int = 1) -> torch.Tensor:
    """Half mean squared error of ``W_out relu(W_in [x; 1])**power`` on inputs ``X`` (N, d) and
    targets ``Y`` (N, out); with ``weights`` (N,), the weighted sum of the per-sample losses
    instead. ``theta`` is flat, laid out as :func:`relu_shapes`. ``power`` 2 gives a smooth
    (continuously differentiable) activation that is positively homogeneous of degree 2.
    Introduced in chapter 4."""
    _checks.positive("power", power, integer=True)
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("Y", Y, shape=(X.shape[0], None))
    W_in, W_out = split(theta, relu_shapes(X.shape[1], hidden, Y.shape[1]))
    Xa = torch.cat([X, torch.ones_like(X[:, :1])], dim=1)
    hidden_out = torch.relu(Xa @ W_in.T) ** power
    return _reduce(0.5 * ((hidden_out @ W_out.T - Y) ** 2).sum(dim=1), weights)


def softmax_shapes(in_dim: int, classes: int) -> list[tuple[int, ...]]:
    """Shapes of ``(W, b)`` for :func:`softmax_loss`: (classes, in_dim) and (classes,). Introduced in chapter 4."""
    _checks.positive("in_dim", in_dim, integer=True)
    _checks.positive("classes", classes, integer=True)
    return [(classes, in_dim), (classes,)]


def softmax_loss(theta: torch.Tensor, X: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Mean cross-entropy of the linear softmax classifier ``softmax(W x + b)`` on inputs ``X``
    (N, d) and integer ``labels`` (N,). Adding one constant to a column of ``W`` (or to ``b``)
    shifts every logit equally and leaves the loss unchanged. Introduced in chapter 4."""
    _checks.tensor("X", X, ndim=2)
    if not isinstance(labels, torch.Tensor) or labels.shape != (X.shape[0],) or labels.is_floating_point():
        raise TypeError(f"labels must be an integer tensor of shape ({X.shape[0]},)")
    W, b = split(theta, softmax_shapes(X.shape[1], classes))
    return torch.nn.functional.cross_entropy(X @ W.T + b, labels)


def normalised_shapes(in_dim: int, hidden: int, out_dim: int = 1) -> list[tuple[int, int]]:
    """Shapes of ``(W_in, W_out)`` for :func:`normalised_loss`. Introduced in chapter 4."""
    for name, v in (("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
        _checks.positive(name, v, integer=True)
    return [(hidden, in_dim), (out_dim, hidden + 1)]


def normalised_predict(theta: torch.Tensor, X: torch.Tensor, hidden: int, out_dim: int = 1) -> torch.Tensor:
    """Outputs (N, out_dim) of ``W_out [tanh(BN(W_in x)); 1]``, where BN standardises each hidden
    pre-activation over the batch (no learned scale). Introduced in chapter 4."""
    _checks.tensor("X", X, ndim=2)
    W_in, W_out = split(theta, normalised_shapes(X.shape[1], hidden, out_dim))
    Z = X @ W_in.T
    Z = (Z - Z.mean(dim=0)) / Z.std(dim=0, unbiased=False)
    return torch.cat([torch.tanh(Z), torch.ones_like(Z[:, :1])], dim=1) @ W_out.T


def normalised_loss(theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, hidden: int) -> torch.Tensor:
    """Half mean squared error of :func:`normalised_predict`. Each row of ``W_in`` can be
    multiplied by a positive constant without changing the loss. Introduced in chapter 4."""
    _checks.tensor("Y", Y, shape=(X.shape[0], None))
    return 0.5 * ((normalised_predict(theta, X, hidden, Y.shape[1]) - Y) ** 2).sum(dim=1).mean()


def linear_chain_loss(theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                      widths: Sequence[int], weights: torch.Tensor | None = None) -> torch.Tensor:
    """Half mean squared error of the deep linear network ``W_L ⋯ W_1 x``; ``widths`` =
    (in, n_1, ..., out) and ``theta`` holds W_1, ..., W_L flattened in order. With ``weights``
    (N,), the weighted sum of the per-sample losses instead. Introduced in chapter 4."""
    shapes = chain_shapes(widths)
    _checks.tensor("X", X, shape=(None, widths[0]))
    _checks.tensor("Y", Y, shape=(X.shape[0], widths[-1]))
    out = X.T
    for W in split(theta, shapes):
        out = W @ out
    return _reduce(0.5 * ((out.T - Y) ** 2).sum(dim=1), weights)


def chain_shapes(widths: Sequence[int]) -> list[tuple[int, int]]:
    """Shapes (n_l, n_{l-1}) of the layers of a deep linear network with the given widths. Introduced in chapter 4."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise ValueError("widths must list at least two sizes: (in, ..., out)")
    for i, w in enumerate(widths):
        _checks.positive(f"widths[{i}]", w, integer=True)
    return [(widths[l + 1], widths[l]) for l in range(len(widths) - 1)]


def relative_drift(values: torch.Tensor, scale: torch.Tensor | float | None = None) -> float:
    """Largest change of a recorded quantity from its first value, ``max_t |Q(t) − Q(0)|``,
    divided by ``scale`` (default: the largest |Q(0)| entry). ``values`` is (T, ...). Introduced in chapter 4."""
    _checks.tensor("values", values, ndim=None)
    if values.ndim == 0 or values.shape[0] < 1:
        raise ValueError("values must have a leading time dimension with at least one entry")
    drift = (values - values[:1]).abs().max()
    if scale is None:
        scale = values[0].abs().max()
    scale = float(scale)
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    return float(drift) / scale


# --------------------------------------------------------------------------------------------
# counting conservation laws: the Lie algebra generated by the gradient fields
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LawCount:
    """The result of :func:`count_conservation_laws`. Introduced in chapter 4."""

    dimension: int  # number of parameters D
    gradient_rank: int  # rank of the gradient fields alone at theta
    algebra_rank: int  # dimension at theta of the Lie algebra they generate
    laws: int  # D - algebra_rank: independent conservation laws
    laws_from_gradients: int  # D - gradient_rank: the over-count without brackets
    ranks_by_depth: list  # rank after adding brackets of each depth (depth 1 = gradients)
    singular_values: torch.Tensor  # of the algebra's fields evaluated at theta
    gap: float  # ratio of the last kept to the first discarded singular value (inf if none)
    rank_rtol: float = field(default=1e-8)
    converged: bool = True  # ranks never fell as depths were added, and the last depth added none
    convergence: str = ""  # why the count is (or is not) converged, in words


def _rank(M: torch.Tensor, rtol: float) -> tuple[int, torch.Tensor]:
    s = torch.linalg.svdvals(M)
    if s.numel() == 0 or s[0] == 0:
        return 0, s
    return int((s > rtol * s[0]).sum()), s


def count_conservation_laws(loss: Callable, theta: torch.Tensor, n_terms: int, *, max_depth: int = 4,
                            rank_rtol: float = 1e-8, samples: int | None = None,
                            seed: int = 0, strict: bool = False) -> LawCount:
    """Count the independent conservation laws of gradient flow for a family of losses.

    The family is ``L_1, ..., L_n`` (e.g. one loss per training sample), given as one function
    ``loss(theta, w) = Σ_i w_i L_i(theta)`` of the flat parameter vector and a weight vector of
    length ``n_terms``. Their gradient fields ``V_i = ∇L_i`` generate a Lie algebra under the
    bracket ``[V, W](θ) = ∂W(θ)·V(θ) − ∂V(θ)·W(θ)`` (Jacobian–vector products by forward-mode
    autodiff). Right-nested brackets ``[V_a, [V_b, [..., V_c]]]`` of depth ``k`` span its depth-k
    part; as brackets are multilinear, ``samples`` (default D + 2) nested brackets of random
    combinations ``Σ_i w_i V_i = ∇ loss(·, w)`` span the same space at ``theta`` with
    probability one. Depths are added until the rank at ``theta`` stops growing (or
    ``max_depth``). The number of independent conservation laws is D minus that rank
    (Marcotte, Gribonval & Peyré, NeurIPS 2023). Ranks use the relative SVD threshold
    ``rank_rtol``; ``gap`` says how clear the cut was. Introduced in chapter 4.

    The count is *generic*: it is the number of laws near a point in general position (random
    ``theta``, random data). At special points (zero or dead neurons, coinciding data, a
    symmetric start) the fields span less and the count there comes out higher. It is a count
    only when the ranks converged: ``converged`` is False (and ``convergence`` says why) when a
    rank fell as brackets were added (a numerical cut that moved: change ``rank_rtol``) or still
    grew at ``max_depth`` (raise ``max_depth``); with ``strict=True`` that raises a RuntimeError.
    """
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(theta, weights), got {type(loss).__name__}")
    theta = _flat_theta(theta)
    _checks.positive("n_terms", n_terms, integer=True)
    _checks.positive("max_depth", max_depth, integer=True)
    _checks.in_range("rank_rtol", rank_rtol, 1e-15, 1e-2)
    if rank_rtol == 0:
        raise ValueError("rank_rtol must be > 0")
    D = theta.numel()
    if samples is None:
        samples = D + 2
    _checks.positive("samples", samples, integer=True)
    _checks.seed("seed", seed)
    _checks.flag("strict", strict)
    gen = torch.Generator().manual_seed(seed)

    def random_field():
        w = torch.randn(n_terms, generator=gen, dtype=torch.float64)
        return torch.func.grad(lambda x: loss(x, w))

    def bracket(V, W):
        def vw(x):
            return torch.func.jvp(W, (x,), (V(x),))[1] - torch.func.jvp(V, (x,), (W(x),))[1]
        return vw

    def nested(depth):
        field = random_field()
        for _ in range(depth - 1):
            field = bracket(random_field(), field)
        return field

    values = torch.stack([torch.func.grad(lambda x, i=i: loss(x, torch.eye(n_terms, dtype=torch.float64)[i]))(theta)
                          for i in range(n_terms)]) if n_terms <= samples else \
        torch.stack([nested(1)(theta) for _ in range(samples)])
    ranks = [_rank(values, rank_rtol)[0]]
    for depth in range(2, max_depth + 1):
        if ranks[-1] == D:
            break
        values = torch.cat([values, torch.stack([nested(depth)(theta) for _ in range(samples)])])
        ranks.append(_rank(values, rank_rtol)[0])
        if ranks[-1] == ranks[-2]:
            break
    rank, s = _rank(values, rank_rtol)
    gap = float(s[rank - 1] / s[rank]) if 0 < rank < s.numel() and s[rank] > 0 else math.inf
    converged, convergence = _converged(ranks, D, max_depth)
    if strict and not converged:
        raise RuntimeError(f"count_conservation_laws did not converge: {convergence}")
    return LawCount(dimension=D, gradient_rank=ranks[0], algebra_rank=rank, laws=D - rank,
                    laws_from_gradients=D - ranks[0], ranks_by_depth=ranks, singular_values=s, gap=gap,
                    rank_rtol=rank_rtol, converged=converged, convergence=convergence)


def _converged(ranks: list, D: int, max_depth: int) -> tuple[bool, str]:
    """Whether ranks by depth are monotone and settled, and why not."""
    for depth, (a, b) in enumerate(zip(ranks, ranks[1:]), start=2):
        if b < a:
            return False, (f"the rank fell from {a} to {b} at depth {depth} (ranks {ranks}): the "
                           f"numerical cut moved; try another rank_rtol")
    if ranks[-1] == D:
        return True, f"full rank {D} reached (ranks {ranks})"
    if len(ranks) >= 2 and ranks[-1] == ranks[-2]:
        return True, f"rank settled at {ranks[-1]} (ranks {ranks})"
    return False, (f"the rank was still growing at max_depth={max_depth} (ranks {ranks}); "
                   f"raise max_depth")


# --------------------------------------------------------------------------------------------
# the chapter's worked examples
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A model to run gradient flow on: a loss of the flat parameters, a start, its conserved
    quantities (a function of the flat parameters), the layer shapes and a time horizon. Introduced in chapter 4."""

    loss: Callable
    theta0: torch.Tensor
    quantity: Callable
    shapes: list
    horizon: float


def toy_examples() -> dict[str, tuple[Callable, Callable, list]]:
    """Two-parameter toys, one per symmetry: ``name -> (loss, quantity, starting points)``.
    ``quantity`` works on (..., 2) tensors. Translation: two softmax logits; scale: a vector
    before a normalisation; rescale: ``½(uv − 1)²``. Introduced in chapter 4."""
    return {
        "translation": (lambda p: torch.nn.functional.softplus(p[1] - p[0]),
                        lambda p: p[..., 0] + p[..., 1], [(-1.5, 1.0), (0.0, 1.5), (-1.0, -0.5)]),
        "scale": (lambda p: -(p[0] + 0.5 * p[1]) / p.norm(),
                  lambda p: (p ** 2).sum(-1), [(-1.0, -0.8), (-0.6, 1.2), (0.3, -1.6)]),
        "rescale": (lambda p: 0.5 * (p[0] * p[1] - 1) ** 2,
                    lambda p: p[..., 0] ** 2 - p[..., 1] ** 2, [(0.3, 0.2), (1.8, 0.1), (-0.2, -1.5)]),
    }


def network_examples(seed: int = 0) -> dict[str, Example]:
    """Four small networks on data generated from ``seed``, one per conservation law: a softmax
    classifier on three Gaussian clusters (translation), a tanh layer after batch
    standardisation (scale), a two-layer network with activation ``max(z, 0)²`` (rescale,
    degree 2) and a deep linear network of widths (4, 5, 5, 3) (layer balance). Regression
    targets come from teachers of the same architecture. Introduced in chapter 4."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, s=1.0):
        return s * torch.randn(*shape, generator=g, dtype=torch.float64)

    labels = torch.arange(3).repeat_interleave(20)
    centres = torch.tensor([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], dtype=torch.float64)
    X_cls = centres[labels] + randn(60, 2, s=0.6)
    X_bn = randn(64, 3)
    Y_bn = normalised_predict(randn(3 * 3 + 4), X_bn, hidden=3)
    X_sq = randn(64, 2)
    W_t = torch.tensor([[1.0, -1.0, 0.0], [0.5, 1.0, 0.0]], dtype=torch.float64)
    w_t = torch.tensor([[1.0, -0.7]], dtype=torch.float64)
    Y_sq = torch.relu(torch.cat([X_sq, torch.ones(64, 1, dtype=torch.float64)], 1) @ W_t.T) ** 2 @ w_t.T
    widths = (4, 5, 5, 3)
    X_lin = randn(50, 4)
    Y_lin = X_lin @ randn(3, 4).T
    sm, bn, sq, ch = softmax_shapes(2, 3), normalised_shapes(3, 6), relu_shapes(2, 6), chain_shapes(widths)
    return {
        "translation": Example(
            lambda th: softmax_loss(th, X_cls, labels, 3), randn(9, s=0.5),
            lambda th: torch.cat([translation_quantity(split(th, sm)[0].T),
                                  translation_quantity(split(th, sm)[1]).reshape(1)]), sm, 1000.0),
        "scale": Example(lambda th: normalised_loss(th, X_bn, Y_bn, 6), randn(6 * 3 + 7, s=0.5),
                         lambda th: scale_quantity(split(th, bn)[0]), bn, 100.0),
        "rescale": Example(lambda th: relu_loss(th, X_sq, Y_sq, 6, power=2), randn(6 * 3 + 6, s=0.5),
                           lambda th: rescale_quantity(*split(th, sq), degree=2), sq, 100.0),
        "layer balance": Example(
            lambda th: linear_chain_loss(th, X_lin, Y_lin, widths), randn(60, s=0.5),
            lambda th: torch.cat([B.flatten() for B in layer_balance(split(th, ch))]), ch, 30.0),
    }


def hyperbola_start(product: float, imbalance: float) -> torch.Tensor:
    """The point ``(u, v)`` with ``u, v > 0``, ``uv = product`` and ``u² − v² = imbalance``.
    Introduced in chapter 4."""
    _checks.positive("product", product)
    if isinstance(imbalance, bool) or not isinstance(imbalance, (int, float)) or not math.isfinite(imbalance):
        raise TypeError(f"imbalance must be a finite number, got {imbalance!r}")
    u2 = (imbalance + math.sqrt(imbalance ** 2 + 4 * product ** 2)) / 2
    return torch.tensor([math.sqrt(u2), product / math.sqrt(u2)], dtype=torch.float64)


def count_linear_laws(width: int, n_points: int = 40, seed: int = 0) -> LawCount:
    """:func:`count_conservation_laws` for a two-layer linear network ``UVᵀx`` of the given
    width, input and output dimension ``width + 1``, one loss per random data point, at a random
    point. Introduced in chapter 4."""
    _checks.positive("width", width, integer=True)
    _checks.positive("n_points", n_points, integer=True)
    _checks.seed("seed", seed)
    g = torch.Generator().manual_seed(seed)
    r = width
    X = torch.randn(n_points, r + 1, generator=g, dtype=torch.float64)
    Y = torch.randn(n_points, r + 1, generator=g, dtype=torch.float64)
    theta = torch.randn(2 * r * (r + 1), generator=g, dtype=torch.float64)
    return count_conservation_laws(
        lambda th, w: linear_chain_loss(th, X, Y, (r + 1, r, r + 1), weights=w), theta, n_points)


def count_relu_laws(hidden: int, n_points: int = 40, seed: int = 0) -> LawCount:
    """:func:`count_conservation_laws` for a one-hidden-layer ReLU network with biases, 2 inputs
    and 1 output, one loss per random data point, at a random point where each neuron's kink
    cuts the data in half (no neuron always on or always off). Introduced in chapter 4."""
    _checks.positive("hidden", hidden, integer=True)
    _checks.positive("n_points", n_points, integer=True)
    _checks.seed("seed", seed)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_points, 2, generator=g, dtype=torch.float64)
    Y = torch.randn(n_points, 1, generator=g, dtype=torch.float64)
    W = torch.randn(hidden, 2, generator=g, dtype=torch.float64)
    b = -(X @ W.T).median(dim=0).values
    theta = torch.cat([torch.cat([W, b[:, None]], 1).flatten(),
                       torch.randn(hidden, generator=g, dtype=torch.float64)])
    return count_conservation_laws(lambda th, w: relu_loss(th, X, Y, hidden, weights=w), theta, n_points)


# --------------------------------------------------------------------------------------------
# conserved values select the learned function: the diagonal linear network
# --------------------------------------------------------------------------------------------


def _regression(X, y) -> tuple[torch.Tensor, torch.Tensor]:
    X = _checks.tensor("X", X, ndim=2).to(torch.float64)
    y = _checks.tensor("y", y, shape=(X.shape[0],)).to(torch.float64)
    return X, y


def diagonal_loss(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half mean squared error of the diagonal linear network ``x ↦ ⟨u ⊙ v, x⟩`` on ``X`` (N, d)
    and ``y`` (N,); ``theta`` is ``(u, v)`` flat, length ``2d``. Each coordinate has its own
    rescale symmetry ``(α u_i, v_i / α)``, so gradient flow conserves every ``u_i² − v_i²``.
    Introduced in chapter 4 (conserved values select the learned function)."""
    X, y = _regression(X, y)
    _checks.tensor("theta", theta, shape=(2 * X.shape[1],))
    u, v = theta[: X.shape[1]], theta[X.shape[1]:]
    return 0.5 * ((X @ (u * v) - y) ** 2).mean()


def diagonal_interpolant(u0: torch.Tensor, v0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *,
                         tol: float = 1e-13, max_iter: int = 100) -> torch.Tensor:
    """The interpolant ``w = u ⊙ v`` (with ``X w = y``) that gradient flow on
    :func:`diagonal_loss` reaches from ``(u0, v0)``, predicted from the conserved values
    ``δ = u0² − v0²`` alone, without running the flow.

    Along the flow ``ẇ_i = −sqrt(δ_i² + 4w_i²) ∂L/∂w_i``, a mirror flow: ``½ asinh(2w_i/|δ_i|)``
    moves only inside the row space of ``X``. So the limit is ``w_i = (|δ_i|/2) sinh(2(c_i +
    (Xᵀλ)_i))`` with ``c_i = ½ asinh(2 w_i(0)/|δ_i|)`` and ``λ`` chosen (by Newton's method) so that
    ``X w = y`` (Woodworth et al. 2020; Azulay et al. 2021). Needs every ``δ_i ≠ 0`` and ``X`` of
    full row rank (fewer points than features). Introduced in chapter 4.
    """
    X, y = _regression(X, y)
    d = X.shape[1]
    u0 = _checks.tensor("u0", u0, shape=(d,)).to(torch.float64)
    v0 = _checks.tensor("v0", v0, shape=(d,)).to(torch.float64)
    _checks.positive("tol", tol)
    _checks.positive("max_iter", max_iter, integer=True)
    delta = (u0 ** 2 - v0 ** 2).abs()
    if (delta == 0).any():
        raise ValueError("every u0_i² − v0_i² must be non-zero (a balanced coordinate has no "
                         "finite mirror potential)")
    if torch.linalg.matrix_rank(X) < X.shape[0]:
        raise ValueError(f"X must have full row rank (independent points), got rank "
                         f"{int(torch.linalg.matrix_rank(X))} for {X.shape[0]} points")
    c = 0.5 * torch.asinh(2.0 * u0 * v0 / delta)
    lam = torch.zeros(X.shape[0], dtype=torch.float64)
    for _ in range(max_iter):
        z = c + X.T @ lam
        w = 0.5 * delta * torch.sinh(2.0 * z)
        residual = X @ w - y
        if residual.abs().max() <= tol * max(1.0, float(y.abs().max())):
            return w
        jacobian = (X * (delta * torch.cosh(2.0 * z))) @ X.T
        lam = lam - torch.linalg.solve(jacobian, residual)
    raise RuntimeError(f"Newton's method did not reach X w = y within {max_iter} iterations")
