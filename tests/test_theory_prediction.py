"""Unit tests for chapter 6's prediction made without the recorded drive:
theory.equilibrium_angular_update, theory.angular_updates and theory.discretisation_gap.

Spiral data and a LayerNorm network (one scale group), not the chapter's MNIST-1D classifier.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from symcourse import theory
from symcourse.data import spiral_task
from symcourse.recording import train_recorded

f64 = torch.float64


def layernorm_net(seed=2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16),
                         nn.LayerNorm(16, elementwise_affine=False, eps=0.0), nn.ReLU(),
                         nn.Linear(16, 3)).double()


@pytest.fixture(scope="module")
def spirals():
    return spiral_task(n_points=240, dtype=f64, seed=3)


def test_angles_agree_with_the_orthogonal_step(spirals):
    lr, decay = 0.3, 0.02
    run = train_recorded(layernorm_net(), spirals, lr, 60, weight_decay=decay, batch_size=40)
    s = run["scale"]
    # without momentum the gradient is orthogonal to the weights: tan Δ = η|g| / ((1 − ηλ)|w|)
    expected = torch.atan(lr * s.grad_sq.sqrt() / ((1 - lr * decay) * s.value[:-1].sqrt()))
    got = theory.angular_updates(run)
    assert got.shape == (60, 1)
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("momentum", [0.0, 0.8])
def test_normalised_weights_settle_at_the_predicted_angle(spirals, momentum):
    lr, decay = 0.2, 0.05
    run = train_recorded(layernorm_net(), spirals, lr, 500, weight_decay=decay,
                         momentum=momentum, batch_size=20, seed=1)
    rms = theory.angular_updates(run)[-250:].pow(2).mean().sqrt().item()
    predicted = theory.equilibrium_angular_update(lr, decay, momentum)
    assert predicted == pytest.approx(math.sqrt(2 * lr * decay / (1 + momentum)))
    assert rms == pytest.approx(predicted, rel=0.1)


def test_discretisation_gap_is_the_translation_models_error():
    lr, decay, steps = 0.5, 0.04, 300
    q0 = torch.ones(1, dtype=f64)
    exact = theory.exact_recursion("translation", q0, None, steps, lr, decay)
    continuous = theory.continuous_solution("translation", q0, None, steps, lr, decay)
    gap = theory.discretisation_gap(steps, lr, decay)
    assert gap == pytest.approx((exact - continuous).abs().max().item(), rel=1e-12)
    # over a fixed time the gap is first order in the step: halve η, double the steps
    halved = theory.discretisation_gap(2 * steps, lr / 2, decay)
    assert halved / gap == pytest.approx(0.5, abs=0.03)


def test_prediction_bad_inputs(spirals):
    with pytest.raises(ValueError, match="no equilibrium"):
        theory.equilibrium_angular_update(0.1, 0.0)
    with pytest.raises(ValueError, match="momentum"):
        theory.equilibrium_angular_update(0.1, 0.01, 1.0)
    with pytest.raises(ValueError, match="lr"):
        theory.equilibrium_angular_update(-0.1, 0.01)
    with pytest.raises(TypeError, match="Recording"):
        theory.angular_updates({"scale": None})
    run = train_recorded(layernorm_net(), spirals, 0.1, 3, weight_decay=0.01)
    with pytest.raises(ValueError, match="only the scale"):
        theory.angular_updates(run, "rescale")
    with pytest.raises(ValueError, match="steps"):
        theory.discretisation_gap(0, 0.1, 0.01)
    with pytest.raises(ValueError, match="weight_decay"):
        theory.discretisation_gap(10, 0.1, -1.0)
