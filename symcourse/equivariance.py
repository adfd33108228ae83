"""Rotation equivariance of the whole training map: with an initialisation whose distribution is
unchanged by rotations of the input space (i.i.d. Gaussian) and an optimiser whose update
commutes with rotations (SGD), training on rotated data gives exactly the rotated network
(Ng 2004; Li, Zhang & Arora 2021). Adam's coordinate-wise step and PyTorch's uniform
initialisation each break it. Also the width-wise O(m) symmetry of hidden pre-activations at
initialisation.

Mathematics and engines layer: imports torch and ``_checks`` only. Introduced in chapter 9.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _checks

INITS = ("normal", "uniform")
OPTIMIZERS = ("sgd", "adam")


def random_rotation(d: int, seed: int = 0) -> torch.Tensor:
    """A Haar-random ``d × d`` orthogonal matrix (float64), from the QR factorisation of a
    Gaussian matrix with the signs of ``R``'s diagonal moved into ``Q``. Chapter 9."""
    _checks.positive("d", d, integer=True)
    _checks.positive("seed", seed, integer=True, allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


@dataclass(frozen=True)
class MLP:
    """A batch of one-hidden-layer ReLU networks ``f(x) = a · relu(W x + b) + c``, one per seed:
    ``W`` (S, m, d), ``b`` (S, m), ``a`` (S, m), ``c`` (S,)."""

    W: torch.Tensor
    b: torch.Tensor
    a: torch.Tensor
    c: torch.Tensor

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs (S, N) on inputs ``X`` of shape (N, d) (shared) or (S, N, d) (per seed)."""
        if X.ndim == 2:
            X = X.expand(self.W.shape[0], *X.shape)
        h = torch.relu(torch.einsum("smd,snd->snm", self.W, X) + self.b[:, None, :])
        return torch.einsum("snm,sm->sn", h, self.a) + self.c[:, None]

    def rotated(self, Q: torch.Tensor) -> "MLP":
        """The networks that compute on ``x Qᵀ`` what these compute on ``x``: ``W ↦ W Qᵀ``."""
        Q = _checks.tensor("Q", Q, shape=(self.W.shape[2], self.W.shape[2]))
        return MLP(self.W @ Q.T.to(self.W.dtype), self.b, self.a, self.c)


def init_mlp(seeds, d: int, width: int, init: str = "normal") -> MLP:
    """Initial networks, one per seed, in float64. Weights i.i.d. with variance ``1/fan_in``:
    Gaussian (``"normal"``, rotation-invariant in distribution) or uniform on ``±√(3/fan_in)``
    (``"uniform"``, the shape of PyTorch's default, which only permutations and sign flips of
    the coordinates leave unchanged). Biases start at zero. Chapter 9."""
    seeds = _checks.seeds(seeds)
    _checks.positive("d", d, integer=True)
    _checks.positive("width", width, integer=True)
    _checks.choice("init", init, INITS)
    draws = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        draws.append([_draw((width, d), init, generator), _draw((width,), init, generator, width)])
    W = torch.stack([w for w, _ in draws])
    a = torch.stack([v for _, v in draws])
    zeros = torch.zeros(len(seeds), width, dtype=torch.float64)
    return MLP(W, zeros, a, torch.zeros(len(seeds), dtype=torch.float64))


def _draw(shape, init, generator, fan_in=None):
    fan_in = fan_in or shape[-1]
    if init == "normal":
        return torch.randn(shape, generator=generator, dtype=torch.float64) / fan_in ** 0.5
    u = 2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1
    return u * (3 / fan_in) ** 0.5


def train_mlp(net: MLP, X: torch.Tensor, y: torch.Tensor, *, optimizer: str = "sgd",
              lr: float = 0.05, steps: int = 300, batch_size: int = 10,
              batch_seed: int = 0) -> MLP:
    """Train every network of the batch on its own data by mini-batch ``optimizer`` on the mean
    squared error, for ``steps`` steps. ``X`` is (S, N, d), ``y`` (S, N). The mini-batches are
    drawn from ``batch_seed`` and are the same for every seed and for a rotated copy of the data,
    so two runs differ only by what the data and initialisation make them differ by.
    Returns new networks; ``net`` is not changed. Chapter 9."""
    S, m, d = net.W.shape
    X = _checks.tensor("X", X, shape=(S, None, d))
    y = _checks.tensor("y", y, shape=(S, X.shape[1]))
    _checks.choice("optimizer", optimizer, OPTIMIZERS)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("batch_size", batch_size, integer=True)
    if batch_size > X.shape[1]:
        raise ValueError(f"batch_size must be at most the {X.shape[1]} points, got {batch_size}")
    params = [t.detach().clone().requires_grad_(True) for t in (net.W, net.b, net.a, net.c)]
    opt = (torch.optim.SGD(params, lr=lr) if optimizer == "sgd"
           else torch.optim.Adam(params, lr=lr))
    generator = torch.Generator().manual_seed(batch_seed)
    for _ in range(steps):
        idx = torch.randperm(X.shape[1], generator=generator)[:batch_size]
        opt.zero_grad()
        residual = MLP(*params)(X[:, idx]) - y[:, idx]
        # summed over seeds: each seed's parameters get exactly its own mean-loss gradient
        (0.5 * residual.pow(2).mean(dim=1)).sum().backward()
        opt.step()
    return MLP(*(p.detach() for p in params))


@dataclass(frozen=True)
class EquivarianceRun:
    """Networks trained on data and on rotated data from rotated initialisations."""

    original: MLP
    rotated: MLP
    weight_gap: torch.Tensor   # per seed: max |W_rot − W Qᵀ| / max |W|
    output_gap: torch.Tensor   # per seed: max |f_rot(x Qᵀ) − f(x)| on test points


def coupled_runs(X: torch.Tensor, y: torch.Tensor, X_test: torch.Tensor, Q: torch.Tensor, *,
                 width: int = 32, init: str = "normal", seeds=20, **training) -> EquivarianceRun:
    """Train each seed's network on ``(X, y)`` and, from the rotated initialisation ``W₀ Qᵀ``,
    on the rotated inputs ``X Qᵀ`` with the same mini-batches. If the training map is
    equivariant the second run ends at the rotation of the first: the gaps are rounding error.
    ``X`` (S, N, d), ``y`` (S, N), ``X_test`` (S, T, d). Introduced in chapter 9."""
    seeds = _checks.seeds(seeds)
    S = len(seeds)
    X = _checks.tensor("X", X, shape=(S, None, None))
    d = X.shape[2]
    X_test = _checks.tensor("X_test", X_test, shape=(S, None, d))
    Q = _checks.tensor("Q", Q, shape=(d, d))
    if not torch.allclose(Q @ Q.T, torch.eye(d, dtype=Q.dtype), atol=1e-10):
        raise ValueError("Q must be orthogonal (Q Qᵀ = I to 1e-10)")
    start = init_mlp(seeds, d, width, init)
    original = train_mlp(start, X, y, **training)
    rotated = train_mlp(start.rotated(Q), X @ Q.T, y, **training)
    weight_gap = ((rotated.W - original.W @ Q.T).abs().amax(dim=(1, 2))
                  / original.W.abs().amax(dim=(1, 2)))
    output_gap = (rotated(X_test @ Q.T) - original(X_test)).abs().amax(dim=1)
    return EquivarianceRun(original, rotated, weight_gap, output_gap)


def teacher_task(seeds, n: int, d: int, direction: torch.Tensor, n_test: int = 500):
    """Gaussian inputs and a single-direction teacher ``y = relu(u · x) − relu(−u · x)/2`` per
    seed: ``(X, y, X_test, y_test)`` with ``X`` (S, n, d). Chapter 9."""
    seeds = _checks.seeds(seeds)
    _checks.positive("n", n, integer=True)
    _checks.positive("n_test", n_test, integer=True)
    direction = _checks.tensor("direction", direction, shape=(d,)).to(torch.float64)
    if direction.norm() == 0:
        raise ValueError("direction must not be zero")
    u = direction / direction.norm()
    generator = torch.Generator().manual_seed(10_007 * seeds[0] + len(seeds))
    X = torch.randn(len(seeds), n + n_test, d, generator=generator, dtype=torch.float64)
    z = X @ u
    y = torch.relu(z) - 0.5 * torch.relu(-z)
    return X[:, :n], y[:, :n], X[:, n:], y[:, n:]


def held_out_error(net: MLP, X_test: torch.Tensor, y_test: torch.Tensor) -> torch.Tensor:
    """Per-seed mean squared error on held-out points. Chapter 9."""
    y_test = _checks.tensor("y_test", y_test, ndim=2)
    X_test = _checks.tensor("X_test", X_test, shape=(y_test.shape[0], y_test.shape[1], None))
    return (net(X_test) - y_test).pow(2).mean(dim=1)


def width_preactivations(x: torch.Tensor, width: int, init: str, draws: int,
                         seed: int = 0) -> torch.Tensor:
    """Second-layer pre-activations ``z = V relu(W x)`` of a two-layer network at initialisation,
    for ``draws`` independent networks of hidden width ``width`` (weights with variance
    ``1/fan_in``, Gaussian or uniform): a (draws, width) tensor. With Gaussian ``V`` the law of
    ``z`` is unchanged by any rotation of its ``width`` coordinates. Chapter 9."""
    x = _checks.tensor("x", x, ndim=1).to(torch.float64)
    _checks.positive("width", width, integer=True)
    _checks.choice("init", init, INITS)
    _checks.positive("draws", draws, integer=True)
    generator = torch.Generator().manual_seed(seed)
    W = _draw((draws, width, x.numel()), init, generator)
    V = _draw((draws, width, width), init, generator)
    return torch.einsum("kij,kj->ki", V, torch.relu(W @ x))
