"""Symmetry as an attractor: weight decay pulls training into a symmetric subspace.

Ziyin (2024) shows that when a loss has a mirror symmetry, ``L(θ) = L((I − 2Π)θ)`` for a
projection ``Π``, weight decay larger than a threshold makes the symmetric subspace ``Πθ = 0``
attractive. The two smallest cases, trained here from their data moments:

* the product model ``f(x) = u·w·x`` with ``½·mean((uwx − y)²) + (λ/2)(u² + w²)``: its sign flip
  ``(u, w) → (−u, −w)`` is a mirror whose subspace is the origin, and the origin attracts when
  ``λ > |mean(xy)|``;
* the two-layer linear network ``f(x) = U W x`` on whitened inputs: the learned map keeps only
  the singular values of the input-output correlation above ``λ`` (a low-rank solution).

Mathematics and engines layer: imports checks only. Introduced in chapter 10.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _checks


def _seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    return value


def _gammas(gammas) -> torch.Tensor:
    gammas = _checks.tensor("gammas", torch.as_tensor(gammas, dtype=torch.float64), ndim=1)
    if len(gammas) == 0 or bool((gammas < 0).any()):
        raise ValueError("gammas must be a non-empty list of weight decays >= 0")
    return gammas


def scalar_data(n: int = 500, slope: float = 0.6, noise: float = 0.5, seed: int = 0):
    """Inputs ``x ~ N(0, 1)`` and targets ``y = slope·x + noise·ε`` (float64, shape (n,)) for the
    product model. Chapter 10."""
    _checks.positive("n", n, integer=True)
    _checks.tensor("slope", torch.tensor(float(slope)))
    _checks.positive("noise", noise, allow_zero=True)
    gen = torch.Generator().manual_seed(_seed(seed))
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    return x, slope * x + noise * torch.randn(n, generator=gen, dtype=torch.float64)


def _xy(x, y):
    x = _checks.tensor("x", x, ndim=1)
    y = _checks.tensor("y", y, shape=(len(x),))
    if len(x) < 2:
        raise ValueError("x and y need at least two points")
    return x, y


def collapse_threshold(x, y) -> float:
    """The weight decay above which the product model's only minimum is the origin:
    ``|mean(x·y)|`` (the loss near the origin is ``½(λ − c)s² + ½(λ + c)d²`` in the coordinates
    ``s, d = (u ± w)/√2``, with ``c = mean(xy)``). Chapter 10."""
    x, y = _xy(x, y)
    return abs((x * y).mean().item())


@dataclass(frozen=True)
class ProductRun:
    """Gradient descent on the product model, one run per weight decay: the weight decays,
    the recorded steps and the recorded ``u`` and ``w`` (steps by runs). Chapter 10."""

    gammas: torch.Tensor
    steps: torch.Tensor
    u: torch.Tensor
    w: torch.Tensor

    @property
    def distance(self) -> torch.Tensor:
        """Distance to the symmetric subspace (the origin), ``√(u² + w²)``, at every record."""
        return torch.sqrt(self.u ** 2 + self.w ** 2)


def train_product(x, y, gammas, *, steps: int = 20000, lr: float = 0.1, start=(0.5, 0.3),
                  record_every: int = 100) -> ProductRun:
    """Full-batch gradient descent on ``½·mean((uwx − y)²) + (λ/2)(u² + w²)`` for every weight
    decay in ``gammas`` at once, from ``start = (u, w)`` (off both mirror planes; two numbers,
    or two sequences with one start per run).

    Uses the exact gradient from the moments ``m = mean(x²)``, ``c = mean(xy)``:
    ``∂u = w(uwm − c) + λu``, ``∂w = u(uwm − c) + λw``. Chapter 10.
    """
    x, y = _xy(x, y)
    gammas = _gammas(gammas)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    _checks.positive("record_every", record_every, integer=True)
    if not isinstance(start, (tuple, list)) or len(start) != 2:
        raise ValueError(f"start must be a pair (u, w), got {start!r}")
    m, c = (x * x).mean(), (x * y).mean()
    try:
        u, w = (torch.as_tensor(s, dtype=torch.float64).expand(len(gammas)).clone() for s in start)
    except RuntimeError:
        raise ValueError(f"start must hold two numbers or two sequences of {len(gammas)} "
                         f"numbers (one per weight decay), got {start!r}") from None
    _checks.tensor("start", torch.stack([u, w]))
    records, us, ws = [0], [u.clone()], [w.clone()]
    for step in range(1, steps + 1):
        residual = u * w * m - c
        u, w = u - lr * (w * residual + gammas * u), w - lr * (u * residual + gammas * w)
        if step % record_every == 0 or step == steps:
            records.append(step)
            us.append(u.clone())
            ws.append(w.clone())
    return ProductRun(gammas, torch.tensor(records), torch.stack(us), torch.stack(ws))


def measured_threshold(gammas, distances, tol: float = 1e-3) -> dict:
    """Where a sweep over weight decay starts collapsing: the runs whose final ``distances`` to
    the symmetric subspace are below ``tol`` are collapsed. Returns the largest ``λ`` that did not
    collapse, the smallest that did, their midpoint (the measured threshold) and whether the
    sweep is monotone (no collapsed run below a surviving one). Chapter 10."""
    gammas = _gammas(gammas)
    distances = _checks.tensor("distances", torch.as_tensor(distances, dtype=torch.float64),
                               shape=(len(gammas),))
    _checks.positive("tol", tol)
    collapsed = distances < tol
    if not bool(collapsed.any()) or bool(collapsed.all()):
        raise ValueError("the sweep must contain both collapsed and surviving runs to bracket "
                         "the threshold")
    below, above = gammas[~collapsed].max().item(), gammas[collapsed].min().item()
    return {"below": below, "above": above, "threshold": (below + above) / 2,
            "monotone": above > below}


def whitened_regression(n: int = 400, d: int = 6, k: int = 4, strengths=(2.0, 1.0, 0.5, 0.25),
                        noise: float = 0.1, seed: int = 0):
    """Inputs ``X`` (n, d) whitened exactly (``XᵀX/n = I``) and targets ``Y = X Tᵀ + noise``
    (n, k) from a teacher ``T`` whose singular values are ``strengths``. Chapter 10."""
    for name, v in (("n", n), ("d", d), ("k", k)):
        _checks.positive(name, v, integer=True)
    _checks.positive("noise", noise, allow_zero=True)
    s = _checks.tensor("strengths", torch.as_tensor(strengths, dtype=torch.float64), ndim=1)
    if len(s) > min(d, k) or n < d:
        raise ValueError(f"need len(strengths) <= min(d, k) = {min(d, k)} and n >= d, got "
                         f"{len(s)} strengths, n = {n}, d = {d}")
    gen = torch.Generator().manual_seed(_seed(seed))
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    X = X - X.mean(0)
    evals, evecs = torch.linalg.eigh(X.T @ X / n)
    X = X @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    left = torch.linalg.qr(torch.randn(k, len(s), generator=gen, dtype=torch.float64))[0]
    right = torch.linalg.qr(torch.randn(d, len(s), generator=gen, dtype=torch.float64))[0]
    T = left @ torch.diag(s) @ right.T
    return X, X @ T.T + noise * torch.randn(n, k, generator=gen, dtype=torch.float64)


def correlation_spectrum(X, Y) -> torch.Tensor:
    """Singular values of the input-output correlation ``YᵀX/n``: for a two-layer linear network
    on whitened inputs, the weight decays at which its modes collapse. Chapter 10."""
    X = _checks.tensor("X", X, ndim=2)
    Y = _checks.tensor("Y", Y, shape=(X.shape[0], None))
    return torch.linalg.svdvals(Y.T @ X / X.shape[0])


def train_linear(X, Y, gammas, *, hidden: int = 6, steps: int = 4000, lr: float = 0.1,
                 init_scale: float = 0.1, seed: int = 0) -> torch.Tensor:
    """Gradient descent on ``½·mean|U W x − y|² + (λ/2)(|U|² + |W|²)`` for every weight decay in
    ``gammas`` at once (same small random start); returns the learned maps ``U W``, shape
    (len(gammas), k, d). Chapter 10."""
    X = _checks.tensor("X", X, ndim=2)
    Y = _checks.tensor("Y", Y, shape=(X.shape[0], None))
    gammas = _gammas(gammas)
    for name, v in (("hidden", hidden), ("steps", steps)):
        _checks.positive(name, v, integer=True)
    _checks.positive("lr", lr)
    _checks.positive("init_scale", init_scale)
    n, d, k = X.shape[0], X.shape[1], Y.shape[1]
    sxx, syx = X.T @ X / n, Y.T @ X / n
    gen = torch.Generator().manual_seed(_seed(seed))
    U = init_scale * torch.randn(k, hidden, generator=gen, dtype=torch.float64).expand(len(gammas), k, hidden)
    W = init_scale * torch.randn(hidden, d, generator=gen, dtype=torch.float64).expand(len(gammas), hidden, d)
    g = gammas[:, None, None]
    for _ in range(steps):
        residual = U @ W @ sxx - syx
        U, W = U - lr * (residual @ W.transpose(1, 2) + g * U), W - lr * (U.transpose(1, 2) @ residual + g * W)
    return U @ W


def numerical_rank(maps, tol: float = 1e-3) -> torch.Tensor:
    """Number of singular values above ``tol`` of each matrix in a batch (…, k, d). Chapter 10."""
    maps = _checks.tensor("maps", maps)
    if maps.ndim < 2:
        raise ValueError(f"maps must have at least 2 dimensions, got shape {tuple(maps.shape)}")
    _checks.positive("tol", tol)
    return (torch.linalg.svdvals(maps) > tol).sum(-1)
