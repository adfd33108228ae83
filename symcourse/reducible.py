"""Reducible networks and the critical sets they create (Fukumizu & Amari 2000), and telling a
plateau from a trap. Chapter 2 (plateaus, saddles and traps).

A smooth two-layer network f(x) = c + sum_i v_i tanh(w_i . x) with H hidden units has its
parameters in one flat float64 vector theta = (W.flatten(), v, c) of length H (D + 1) + 1, for
inputs x in R^D (append a column of ones to X for hidden-unit biases).
A network with H units that computes the same function as one with H - 1 units is *reducible*;
embedding a critical point of the smaller network into the larger one gives whole lines of
critical points. The last part applies the same ideas to chapter 1's max network, which is not
smooth. Computation only.
"""
from __future__ import annotations

import math

import torch

from . import _checks
from .data import MaxAffineTask
from .models import augment
from .stall import dead_units, gradients, win_fractions
from .sweeps import winner_mask


def _sizes(theta: torch.Tensor, D: int) -> int:
    _checks.tensor("theta", theta, ndim=1)
    _checks.positive("D", D, integer=True)
    H, rest = divmod(theta.numel() - 1, D + 1)
    if rest or H < 1:
        raise ValueError(f"theta must have H * (D + 1) + 1 entries for D = {D} and some H >= 1, "
                         f"got {theta.numel()}")
    return H


def unpack(theta: torch.Tensor, D: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W (H, D), v (H,), c ()) from a flat parameter vector. Chapter 2 (plateaus)."""
    H = _sizes(theta, D)
    W = theta[:H * D].reshape(H, D)
    return W, theta[H * D:H * (D + 1)], theta[-1]


def pack(W: torch.Tensor, v: torch.Tensor, c) -> torch.Tensor:
    """The flat parameter vector of (W (H, D), v (H,), c). Chapter 2 (plateaus)."""
    _checks.tensor("W", W, ndim=2)
    _checks.tensor("v", v, shape=(W.shape[0],))
    c = torch.as_tensor(c, dtype=W.dtype).reshape(1)
    return torch.cat([W.reshape(-1), v, c])


def tanh_net(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs (N,) of the smooth two-layer network at inputs X (N, D). Chapter 2 (plateaus)."""
    _checks.tensor("X", X, ndim=2)
    W, v, c = unpack(theta, X.shape[1])
    return c + torch.tanh(X @ W.T) @ v


def net_loss(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of :func:`tanh_net` on (X, y). Chapter 2 (plateaus)."""
    _checks.tensor("y", y, shape=(X.shape[0],))
    return ((tanh_net(theta, X) - y) ** 2).mean()


def net_gradient(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`net_loss` by autograd. Chapter 2 (plateaus)."""
    t = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net_loss(t, X, y), t)
    return g


def net_hessian(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Hessian of :func:`net_loss` by autograd (symmetrised). Chapter 2 (plateaus)."""
    net_loss(theta, X, y)  # validates
    Hm = torch.autograd.functional.hessian(lambda t: net_loss(t, X, y), theta.detach())
    return 0.5 * (Hm + Hm.T)


def fit_network(X: torch.Tensor, y: torch.Tensor, H: int = 1, *, seed: int = 0, newton_steps: int = 30,
                tol: float = 1e-13) -> torch.Tensor:
    """A critical point of :func:`net_loss` with H units, in float64: L-BFGS from a seeded start,
    then Newton steps until the gradient norm is below ``tol``. Raises if it does not get there.
    Chapter 2 (plateaus)."""
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    _checks.positive("H", H, integer=True)
    _checks.positive("tol", tol)
    if X.dtype != torch.float64:
        raise TypeError(f"X must be float64 for a critical point to 1e-13, got {X.dtype}")
    D = X.shape[1]
    gen = torch.Generator().manual_seed(seed)
    theta = (0.5 * torch.randn(H * (D + 1) + 1, generator=gen, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = net_loss(theta, X, y)
        loss.backward()
        return loss

    opt.step(closure)
    theta = theta.detach()
    for _ in range(newton_steps):
        g = net_gradient(theta, X, y)
        if g.norm() < tol:
            return theta
        theta = theta - torch.linalg.lstsq(net_hessian(theta, X, y), g).solution
    g = net_gradient(theta, X, y)
    if g.norm() >= tol:
        raise RuntimeError(f"no critical point to {tol:g}: gradient norm {g.norm():.1e}")
    return theta


def duplicate_unit(theta: torch.Tensor, D: int, unit: int, lam: float) -> torch.Tensor:
    """Embed a network with H units into H + 1 by *unit duplication*: a copy of ``unit`` is
    appended and the outgoing weight v is split into lam v and (1 - lam) v. The function is
    unchanged for every real lam. Chapter 2 (plateaus)."""
    W, v, c = unpack(theta, D)
    if isinstance(unit, bool) or not isinstance(unit, int) or not 0 <= unit < W.shape[0]:
        raise ValueError(f"unit must be an integer in [0, {W.shape[0]}), got {unit!r}")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam):
        raise TypeError(f"lam must be a finite real number, got {lam!r}")
    v_new = v.clone()
    v_new[unit] = lam * v[unit]
    return pack(torch.cat([W, W[unit:unit + 1]]), torch.cat([v_new, (1 - lam) * v[unit:unit + 1]]), c)


def eliminate_unit(theta: torch.Tensor, D: int, w_new: torch.Tensor) -> torch.Tensor:
    """Embed a network with H units into H + 1 by *unit elimination*: the new unit has input
    weights ``w_new`` (D,) and zero outgoing weight, so it contributes nothing. The result is a
    critical point when sum_n r_n tanh(w_new . x_n) = 0, e.g. for w_new = (0, ..., 0, b) when the
    last input is a constant 1 and the network has an output bias. Chapter 2 (plateaus)."""
    W, v, c = unpack(theta, D)
    _checks.tensor("w_new", w_new, shape=(D,))
    return pack(torch.cat([W, w_new.to(W.dtype)[None]]), torch.cat([v, torch.zeros(1, dtype=v.dtype)]), c)


def split_curvature(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, unit: int = 0) -> torch.Tensor:
    """Fukumizu & Amari's matrix for duplicating ``unit`` of a critical point theta (H units):
    B = v (2/N) sum_n r_n tanh''(w . x_n) x_n x_n^T, (D, D). Along the duplication line the
    Hessian in the direction that separates the two copies is lam (1 - lam) B, so the sign of
    lam (1 - lam) times B's definiteness decides saddle or not. Chapter 2 (plateaus)."""
    W, v, _ = unpack(theta, X.shape[1])
    if isinstance(unit, bool) or not isinstance(unit, int) or not 0 <= unit < W.shape[0]:
        raise ValueError(f"unit must be an integer in [0, {W.shape[0]}), got {unit!r}")
    r = tanh_net(theta, X) - y
    t = torch.tanh(X @ W[unit])
    second = -2.0 * t * (1 - t ** 2)  # tanh''
    return v[unit] * (2.0 / X.shape[0]) * torch.einsum("n,n,na,nb->ab", r, second, X, X)


def scan_line(thetas: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> dict:
    """Loss, gradient norm and Hessian eigenvalues at each point of a list of parameter vectors
    (e.g. an embedded line). Returns tensors ``loss``, ``grad_norm`` (L,) and ``eigenvalues``
    (L, P), ascending. Chapter 2 (plateaus)."""
    if not isinstance(thetas, (list, tuple)) or not thetas:
        raise ValueError("thetas must be a non-empty list of parameter vectors")
    loss = torch.stack([net_loss(t, X, y) for t in thetas]).detach()
    grad = torch.stack([net_gradient(t, X, y).norm() for t in thetas])
    eig = torch.stack([torch.linalg.eigvalsh(net_hessian(t, X, y)) for t in thetas])
    return {"loss": loss, "grad_norm": grad, "eigenvalues": eig}


def escape(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *, size: float = 1e-2, steps: int = 2000,
           lr: float = 0.05) -> dict:
    """Leave a saddle along its most negative curvature direction: gradient descent (step
    ``lr``) from theta + size * e_min, with e_min the Hessian's lowest eigenvector, and from
    theta - size * e_min; returns both loss curves (2, steps + 1) and the lowest eigenvalue.
    Chapter 2 (plateaus)."""
    _checks.positive("size", size)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    eigval, eigvec = torch.linalg.eigh(net_hessian(theta, X, y))
    curves = []
    for sign in (1.0, -1.0):
        t = theta + sign * size * eigvec[:, 0]
        losses = []
        for _ in range(steps):
            losses.append(net_loss(t, X, y).item())
            t = t - lr * net_gradient(t, X, y)
        losses.append(net_loss(t, X, y).item())
        curves.append(losses)
    return {"loss": torch.tensor(curves, dtype=torch.float64), "lowest_eigenvalue": eigval[0].item()}


# --- chapter 1's max network -------------------------------------------------------------

def max_net_elimination(fit: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Chapter 1's stall as an embedding: unit 0 is the affine fit (w_x, w_y, b); unit 1 is the
    same unit lowered by ``margin`` so that it wins no point of the unit square. (2, 3).
    Chapter 2 (plateaus)."""
    _checks.tensor("fit", fit, shape=(3,))
    _checks.positive("margin", margin)
    return torch.stack([fit, fit - torch.tensor([0.0, 0.0, margin], dtype=fit.dtype)])


def max_net_slopes(theta: torch.Tensor, task: MaxAffineTask, directions: torch.Tensor,
                   step: float = 1e-6) -> torch.Tensor:
    """One-sided slopes (L(theta + step d) - L(theta)) / step of chapter 1's loss along each of
    the unit directions ``directions`` (R, 2, 3). A negative slope means a descent direction
    exists (not a local minimum), even where the max makes the loss non-differentiable.
    Chapter 2 (plateaus)."""
    from .models import mse

    _checks.tensor("theta", theta, shape=(2, 3))
    _checks.tensor("directions", directions, shape=(None, 2, 3))
    _checks.positive("step", step)
    base = mse(theta[None], task.X.to(theta.dtype), task.y.to(theta.dtype))
    moved = mse(theta[None] + step * directions, task.X.to(theta.dtype), task.y.to(theta.dtype))
    return (moved - base) / step


def max_net_fisher(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Fisher (Gauss-Newton) matrix (1/N) sum_n grad f_n grad f_n^T of chapter 1's max network,
    (S, K*A, K*A) or (K*A, K*A): point n's gradient is (x_n, 1) in the block of the unit that wins
    it and zero elsewhere, so a dead unit's block is exactly zero. ``bias``: whether ``theta``
    has a bias column (never guessed from the shapes). Chapter 2 (plateaus)."""
    _checks.tensor("theta", theta)
    single = theta.ndim == 2
    th = theta.unsqueeze(0) if single else theta
    if th.ndim != 3:
        raise ValueError(f"theta must be (K, A) or (S, K, A), got shape {tuple(theta.shape)}")
    _checks.flag("bias", bias)
    _checks.tensor("X", X, shape=(None, th.shape[2] - int(bias)))
    Xa = augment(X.to(th.dtype), bias)
    wins = winner_mask(th @ Xa.T).to(th.dtype)               # (S, K, N)
    jac = (wins[..., None] * Xa[None, None]).permute(0, 2, 1, 3).reshape(th.shape[0], Xa.shape[0], -1)
    F = jac.transpose(1, 2) @ jac / Xa.shape[0]
    return F[0] if single else F


def natural_gradient_max_net(task: MaxAffineTask, theta0: torch.Tensor, *, steps: int = 500, lr: float = 0.1,
                             damping: float = 1e-3) -> torch.Tensor:
    """Damped natural-gradient descent on chapter 1's max network, all seeds at once: each step
    solves (F + damping I) d = grad with F from :func:`max_net_fisher`. Returns the final
    parameters (S, K, A). Chapter 2 (plateaus)."""
    _checks.tensor("theta0", theta0, ndim=3)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    _checks.positive("damping", damping)
    theta = theta0.clone()
    S, K, A = theta.shape
    eye = torch.eye(K * A, dtype=theta.dtype)
    for _ in range(steps):
        grad = gradients(theta, task)["summed"].reshape(S, -1, 1)
        F = max_net_fisher(theta, task.X)
        theta = theta - lr * torch.linalg.solve(F + damping * eye, grad).reshape(S, K, A)
    return theta


def plateau_or_trap(history: torch.Tensor, steps: torch.Tensor, task: MaxAffineTask, *, window: tuple,
                    flat: float = 1e-3, radius: float = 1e-2, probes: int = 16, seed: int = 0,
                    bias: bool = True) -> dict:
    """A practitioner's diagnostic for each unit of each run over a window of recorded steps
    [start, end] of a chapter-1 sweep (``history`` (R, S, K, A) as recorded by ``train_sweep``):

    * ``grad_max``: largest gradient norm of the unit over the window;
    * ``wins``: fewest points the unit wins over the window;
    * ``robust``: the unit still wins no point after each of ``probes`` random perturbations of
      the whole network of size ``radius`` (so the zero gradient holds on an open set);
    * ``stuck``: exactly zero gradient and no point won over the whole window;
    * ``verdict``: 'trap' (stuck and robust: deep inside the flat region), 'edge' (stuck, but a
      perturbation of size ``radius`` can make the unit win a point again), 'plateau'
      (gradient below ``flat`` but not zero: a plateau, or convergence, which the loss level tells
      apart) or 'moving'.

    ``bias``: whether the recorded parameters have a bias column (``False`` for a sweep trained
    with ``bias=False``; never guessed from the shapes). Chapter 2 (plateaus).
    """
    _checks.tensor("history", history, ndim=4)
    if steps.shape != (history.shape[0],):
        raise ValueError(f"steps must have shape ({history.shape[0]},), got {tuple(steps.shape)}")
    if not (isinstance(window, tuple) and len(window) == 2 and window[0] <= window[1]):
        raise ValueError(f"window must be a (start, end) tuple with start <= end, got {window!r}")
    _checks.positive("flat", flat)
    _checks.positive("radius", radius)
    _checks.positive("probes", probes, integer=True)
    rows = torch.nonzero((steps >= window[0]) & (steps <= window[1])).flatten()
    if rows.numel() == 0:
        raise ValueError(f"no recorded step lies in the window {window}")
    grad_max = torch.stack([gradients(history[r].double(), task, bias=bias)["summed"].norm(dim=2)
                            for r in rows]).amax(0)
    n = task.n_points
    wins = torch.stack([(win_fractions(history[r], task.X, bias=bias) * n).round()
                        for r in rows]).amin(0)
    last = history[rows[-1]].double()
    gen = torch.Generator().manual_seed(seed)
    robust = torch.ones(last.shape[:2], dtype=torch.bool)
    for _ in range(probes):
        noise = torch.randn(last.shape, generator=gen, dtype=last.dtype)
        noise = radius * noise / noise.norm(dim=(1, 2), keepdim=True)
        robust &= dead_units(last + noise, task.X.double(), bias=bias)
    stuck = (grad_max == 0) & (wins == 0)
    trap, edge = stuck & robust, stuck & ~robust
    plateau = (grad_max > 0) & (grad_max < flat)
    verdict = [["trap" if trap[s, k] else "edge" if edge[s, k] else "plateau" if plateau[s, k] else "moving"
                for k in range(last.shape[1])] for s in range(last.shape[0])]
    return {"grad_max": grad_max, "wins": wins, "robust": robust, "stuck": stuck, "trap": trap, "edge": edge,
            "plateau": plateau, "verdict": verdict}


def count_embeddings(r: int, n: int) -> int:
    """How many labelled ways a width-r network embeds into width n by duplication and
    elimination: each of the n units either copies one of the r units or has zero outgoing
    weight, and every one of the r units is used. Counted by enumeration; equals
    sum_j C(n, j) r! S(j, r) with S Stirling numbers of the second kind. Chapter 2 (plateaus)."""
    import itertools

    _checks.positive("r", r, integer=True)
    _checks.positive("n", n, integer=True)
    if n > 10:
        raise ValueError(f"n must be at most 10 for an enumeration, got {n}")
    roles = range(r + 1)  # 0..r-1: copy that unit; r: eliminated
    return sum(1 for a in itertools.product(roles, repeat=n) if set(range(r)) <= set(a))


def stirling_count(r: int, n: int) -> int:
    """The closed form sum_{j=r}^{n} C(n, j) r! S(j, r) of :func:`count_embeddings`.
    Chapter 2 (plateaus)."""
    _checks.positive("r", r, integer=True)
    _checks.positive("n", n, integer=True)

    def stirling2(j, k):
        return sum((-1) ** i * math.comb(k, i) * (k - i) ** j for i in range(k + 1)) // math.factorial(k)

    return sum(math.comb(n, j) * math.factorial(r) * stirling2(j, r) for j in range(r, n + 1))
