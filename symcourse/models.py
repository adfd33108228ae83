"""The max-of-affine-units model, in the question's PyTorch form and in a batched form for many seeds;
and chapter 6's classifier, built so that it has all three continuous symmetries.

Batched parameters are one tensor ``theta`` of shape (S, K, D+1) when the units have a bias (the last
column is the bias) and (S, K, D) without: S seeds, K units in the max, D inputs.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import _checks


def question_network(in_dim: int = 2, units: int = 2, bias: bool = True,
                     dropout_before: float = 0.0, dropout_after: float = 0.0) -> nn.Sequential:
    """The question's network: ``Linear(in_dim -> units)`` then a max over the units (``MaxPool1d``).

    Optional dropout before or after the linear layer reproduces the question's follow-ups.
    Introduced in chapter 1.
    """
    _checks.positive("in_dim", in_dim, integer=True)
    _checks.positive("units", units, integer=True)
    _checks.flag("bias", bias)
    _checks.in_range("dropout_before", dropout_before, 0.0, 1.0, high_open=True)
    _checks.in_range("dropout_after", dropout_after, 0.0, 1.0, high_open=True)
    layers: list[nn.Module] = []
    if dropout_before:
        layers.append(nn.Dropout(dropout_before))
    layers.append(nn.Linear(in_dim, units, bias=bias))
    if dropout_after:
        layers.append(nn.Dropout(dropout_after))
    layers.append(nn.MaxPool1d(units))
    return nn.Sequential(*layers)


def linear_layer(net: nn.Sequential) -> nn.Linear:
    """The ``nn.Linear`` inside a :func:`question_network`."""
    _checks.instance("net", _checks.module("net", net), nn.Sequential, "torch.nn.Sequential (see question_network)")
    if not any(isinstance(m, nn.Linear) for m in net):
        raise ValueError("net must contain an nn.Linear layer (see question_network)")
    return next(m for m in net if isinstance(m, nn.Linear))


def theta_from_network(net: nn.Sequential) -> torch.Tensor:
    """Pack a question network's linear layer into batched form (1, K, D[+1])."""
    lin = linear_layer(net)
    W = lin.weight.detach()
    cols = [W, lin.bias.detach()[:, None]] if lin.bias is not None else [W]
    return torch.cat(cols, dim=1).unsqueeze(0).clone()


def load_theta(net: nn.Sequential, theta: torch.Tensor) -> nn.Sequential:
    """Write one seed's parameters (K, D[+1]) into a question network (in place); returns it."""
    lin = linear_layer(net)
    K, D = lin.weight.shape
    has_bias = lin.bias is not None
    _checks.tensor("theta", theta, shape=(K, D + int(has_bias)))
    with torch.no_grad():
        lin.weight.copy_(theta[:, :D])
        if has_bias:
            lin.bias.copy_(theta[:, D])
    return net


def init_theta(seeds, in_dim: int = 2, units: int = 2, bias: bool = True,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PyTorch's default ``nn.Linear`` initialisation for each seed, stacked: (S, K, D[+1]).

    Seed ``s`` gives exactly the weights of ``torch.manual_seed(s); nn.Linear(in_dim, units)``, so a
    sweep over seeds is the question's experiment repeated with different random starts.
    Introduced in chapter 1. Each seed draws from a generator of its own (the same numbers
    ``torch.manual_seed`` gives), so the global RNG is untouched and concurrent calls are safe.
    """
    seeds = _checks.seeds(seeds)
    _checks.positive("in_dim", in_dim, integer=True)
    _checks.positive("units", units, integer=True)
    _checks.flag("bias", bias)
    _checks.dtype("dtype", dtype)
    thetas = []
    for s in seeds:
        weight, b = linear_init(in_dim, units, torch.Generator().manual_seed(s), bias)
        thetas.append(torch.cat([weight, b[:, None]] if bias else [weight], dim=1))
    return torch.stack(thetas).to(dtype)


def linear_init(in_dim: int, out_dim: int, generator: torch.Generator, bias: bool = True):
    """``nn.Linear(in_dim, out_dim)``'s default weight (out_dim, in_dim) and bias (out_dim,)
    (None without), drawn from ``generator``: the same calls in the same order as
    ``nn.Linear.reset_parameters``, so a generator seeded with ``s`` gives what
    ``torch.manual_seed(s)`` would, without touching the global RNG (safe in threads).
    Chapter 1 (:func:`init_theta`)."""
    _checks.positive("in_dim", in_dim, integer=True)
    _checks.positive("out_dim", out_dim, integer=True)
    _checks.instance("generator", generator, torch.Generator)
    bound = 1 / math.sqrt(in_dim)
    weight = nn.init.kaiming_uniform_(torch.empty(out_dim, in_dim), a=math.sqrt(5),
                                      generator=generator)
    if not bias:
        return weight, None
    return weight, nn.init.uniform_(torch.empty(out_dim), -bound, bound, generator=generator)


def perfect_theta(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The question's hand-set solution: weights [[1, 2], [3, 1]], biases 0, as (1, 2, 3). Chapter 1."""
    _checks.dtype("dtype", dtype)
    return torch.tensor([[[1.0, 2.0, 0.0], [3.0, 1.0, 0.0]]], dtype=dtype)


def augment(X: torch.Tensor, bias: bool) -> torch.Tensor:
    """Append a column of ones to ``X`` when the units have biases."""
    _checks.tensor("X", X, ndim=2, floating=False)
    _checks.flag("bias", bias)
    return torch.cat([X, torch.ones_like(X[:, :1])], dim=1) if bias else X


def unit_outputs(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Every unit's affine output on every point: (S, K, N). Introduced in chapter 1.

    ``bias`` says whether ``theta``'s last column is a bias. It is never guessed from the
    shapes: the course's network has biases, so bias-free parameters must say ``bias=False``,
    and ``theta`` must have ``X.shape[1] + 1`` columns with a bias, ``X.shape[1]`` without.
    """
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("theta", theta, ndim=3)
    _checks.nonempty("X", X)
    _checks.nonempty("theta", theta)
    _checks.flag("bias", bias)
    width = X.shape[1] + int(bias)
    if theta.shape[-1] != width:
        other = "bias=False" if bias else "bias=True"
        raise ValueError(
            f"theta has {theta.shape[-1]} columns per unit, but X has {X.shape[1]} columns and "
            f"bias={bias} needs {width} (weights{' and a bias' if bias else ''}); for "
            f"{'bias-free' if bias else 'biased'} parameters pass {other}, or check that X "
            f"holds the inputs only (no column of ones)")
    return theta @ augment(X, bias).to(theta.dtype).T


def predict(theta: torch.Tensor, X: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """The network's output, max over units: (S, N); ``bias`` as in :func:`unit_outputs`.
    Introduced in chapter 1."""
    return unit_outputs(theta, X, bias=bias).amax(dim=1)


def mse(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Mean squared error per seed: (S,); ``bias`` as in :func:`unit_outputs`. Chapter 1."""
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    return (predict(theta, X, bias=bias) - y.to(theta.dtype)).square().mean(dim=1)


def mae(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
    """Mean absolute error per seed (the question's logged ``err``): (S,); ``bias`` as in
    :func:`unit_outputs`. Introduced in chapter 1."""
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, shape=(X.shape[0],))
    return (predict(theta, X, bias=bias) - y.to(theta.dtype)).abs().mean(dim=1)


def symmetric_classifier(in_dim: int = 40, hidden: int = 64, classes: int = 10, *,
                         seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A classifier with all three continuous symmetries of chapter 3, one block each.

    ``Linear(in_dim, hidden) → ReLU`` (a rescale group per hidden neuron), ``Linear(hidden,
    hidden, bias=False) → BatchNorm1d → ReLU`` (a scale group per row of that weight: batch
    normalisation divides out each row's scale) and ``Linear(hidden, classes)`` into the softmax of
    the cross-entropy loss (a translation group per column and one for the bias). The
    normalisation has no affine part and ``eps = 1e-300``: torch refuses ``eps = 0``, and in
    float64 adding 1e-300 to a variance above 1e-280 changes nothing, so the scale symmetry is
    exact. Initialised with ``torch.manual_seed(seed)``. Introduced in chapter 6.
    """
    for name, value in (("in_dim", in_dim), ("hidden", hidden), ("classes", classes)):
        _checks.positive(name, value, integer=True)
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden, bias=False),
        nn.BatchNorm1d(hidden, eps=1e-300, affine=False, track_running_stats=False), nn.ReLU(),
        nn.Linear(hidden, classes),
    ).to(dtype)


def vgg_digits(channels: tuple[int, int] = (8, 16), size: int = 14, classes: int = 10, *,
               seed: int = 0, eps: float = 1e-300,
               dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A small VGG-style convnet for ``size``×``size`` digit images with all three symmetries:
    ``Conv2d(1, c1, 3, no bias) → BatchNorm2d → ReLU → MaxPool2d(2)`` (each filter of the first
    convolution is a scale group), ``Conv2d(c1, c2, 3) → ReLU → MaxPool2d(2)`` (each channel of the
    second is a rescale group with its block of the classifier's columns: ReLU and max pooling
    are positively homogeneous) and ``Flatten → Linear`` into the softmax (translation groups).
    The normalisation has no affine part and ``eps`` (default 1e-300: exact scale symmetry in
    float64; PyTorch's default is 1e-5). Initialised with ``torch.manual_seed(seed)``.
    Introduced in chapter 6 (a convnet on real images).
    """
    if (not isinstance(channels, tuple) or len(channels) != 2):
        raise ValueError(f"channels must be a pair (c1, c2), got {channels!r}")
    for name, value in (("channels[0]", channels[0]), ("channels[1]", channels[1]),
                        ("size", size), ("classes", classes)):
        _checks.positive(name, value, integer=True)
    if size < 4:
        raise ValueError(f"size must be at least 4 (two 2×2 poolings), got {size}")
    _checks.positive("eps", eps)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    c1, c2 = channels
    side = (size // 2) // 2
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False),
        nn.BatchNorm2d(c1, eps=eps, affine=False, track_running_stats=False), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * side * side, classes),
    ).to(dtype)
