"""Unit tests for chapter 6's convnet on real digits: data.mnist_digits, models.vgg_digits,
symmetry.conv_groups and recording.watch_parameters (smaller settings than the notebook's)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import symmetry as sym, theory
from symcourse.data import mnist_digits
from symcourse.models import vgg_digits
from symcourse.recording import train_recorded, watch_parameters

f64 = torch.float64


@pytest.fixture(scope="module")
def digits():
    return mnist_digits(n_samples=120, size=14, seed=3)


def test_mnist_digits_are_real_standardised_and_deterministic(digits):
    assert digits.X.shape == (120, 1, 14, 14) and digits.X.dtype == f64
    assert abs(digits.X.mean().item()) < 1e-12 and digits.X.std().item() == pytest.approx(1.0)
    assert set(digits.labels.tolist()) <= set(range(10)) and len(set(digits.labels.tolist())) > 5
    again = mnist_digits(n_samples=120, size=14, seed=3)
    assert torch.equal(again.X, digits.X) and torch.equal(again.labels, digits.labels)
    assert mnist_digits(n_samples=10, size=7, seed=0).X.shape == (10, 1, 7, 7)


def flat_input(net):
    """The same network reading flattened images, so that symmetry.loss_function accepts it."""
    return nn.Sequential(nn.Unflatten(1, (1, 14, 14)), *net)


def test_conv_groups_are_exact_symmetries(digits):
    net = flat_input(vgg_digits(channels=(3, 4), seed=1))
    groups = sym.conv_groups(net)
    assert {k: len(v) for k, v in groups.items()} == {"translation": 37, "scale": 3, "rescale": 4}
    params = sym.parameters(net)
    loss = sym.loss_function(net, digits.X.flatten(1), digits.labels)
    for kind, found in groups.items():
        for g in found[:4]:
            moved = sym.act(params, g, 1.6)
            assert sym.loss_change(loss, params, moved).relative < 1e-12, (kind, g.label)
            assert sym.gradient_constraint(g, loss, params).residual < 1e-12, (kind, g.label)


def test_convnet_recursions_and_watched_weights(digits):
    net = vgg_digits(channels=(3, 4), seed=2)
    with watch_parameters(net, "0.weight", count=4) as trace:
        run = train_recorded(net, digits, 0.05, 12, weight_decay=0.01, momentum=0.8,
                             batch_size=30, groups=sym.conv_groups(net))
    weights = torch.stack(trace)
    assert weights.shape == (13, 4)
    assert torch.equal(weights[-1], net[0].weight.detach().reshape(-1)[:4])
    first = run["scale"].value[:, 0]  # squared norm of filter 0 = sum of its squared weights
    assert first[-1].item() == pytest.approx(net[0].weight.detach()[0].pow(2).sum().item())
    for kind in ("translation", "scale", "rescale"):
        p = theory.predictions(run, kind)
        assert theory.relative_error(p["exact"], p["measured"]) < 1e-10, kind


def test_default_eps_breaks_the_scale_symmetry(digits):
    net = flat_input(vgg_digits(channels=(3, 4), seed=1, eps=1e-5))
    g = sym.conv_groups(net)["scale"][0]
    params = sym.parameters(net)
    loss = sym.loss_function(net, digits.X.flatten(1), digits.labels)
    tiny = sym.scale(params, g, 1e-3)  # eps now dominates the filter's variance
    assert sym.loss_change(loss, params, tiny).relative > 1e-4


def test_convnet_bad_inputs():
    with pytest.raises(ValueError, match="n_samples"):
        mnist_digits(n_samples=5)
    with pytest.raises(ValueError, match="divide 28"):
        mnist_digits(n_samples=20, size=10)
    with pytest.raises(ValueError, match="channels"):
        vgg_digits(channels=(3,))
    with pytest.raises(ValueError, match="eps"):
        vgg_digits(eps=0.0)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        sym.conv_groups(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2, 2)))
    net = vgg_digits(channels=(2, 2))
    with pytest.raises(ValueError, match="parameter name"):
        with watch_parameters(net, "nope"):
            pass
    with pytest.raises(ValueError, match="count"):
        with watch_parameters(net, "0.weight", count=1000):
            pass
