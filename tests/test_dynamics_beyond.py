"""Unit tests for chapter 5 beyond first order: dynamics.sgd_run, rescale_quantities, adam_run,
heavy_ball_flow and the Adam self-check. Models and settings differ from the notebook's."""
from __future__ import annotations

import pytest
import torch

from symcourse import conservation as cons, dynamics as dyn
from symcourse.exercises import check

f64 = torch.float64


@pytest.fixture(scope="module")
def relu_data():
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(60, 3, generator=gen, dtype=f64)
    Y = torch.cos(X[:, :1])
    theta = 0.5 * torch.randn(4 * 4 + 4, generator=gen, dtype=f64)
    return X, Y, theta


def test_sgd_run_records_exact_steps_and_the_rescale_step_law(relu_data):
    X, Y, theta = relu_data
    batch = lambda th, idx: cons.relu_loss(th, X[idx], Y[idx], 4)
    run = dyn.sgd_run(batch, theta, 60, 10, 0.05, 30, seed=2)
    assert run.theta.shape == (31, 20) and run.grads.shape == (30, 20)
    assert torch.allclose(run.theta[1:], run.theta[:-1] - 0.05 * run.grads, atol=1e-15)
    q = dyn.rescale_quantities(run.theta, 3, 4)
    law = 0.05 ** 2 * dyn.rescale_quantities(run.grads, 3, 4)
    assert torch.allclose(q.diff(dim=0), law, rtol=0, atol=1e-14)
    gd = dyn.sgd_run(batch, theta, 60, None, 0.05, 5)
    assert torch.equal(gd.grads, gd.full_grads)


def test_rescale_quantities_match_conservation(relu_data):
    _, _, theta = relu_data
    W_in, W_out = cons.split(theta, cons.relu_shapes(3, 4))
    expected = cons.rescale_quantity(W_in, W_out)
    assert torch.allclose(dyn.rescale_quantities(theta[None], 3, 4)[0], expected)


def test_adam_run_is_torch_adam_and_breaks_the_rescale_law():
    uv = lambda th: 0.5 * (th[0] * th[1] - 2.0) ** 2
    start = torch.tensor([1.5, 0.3], dtype=f64)
    run = dyn.adam_run(uv, start, 0.02, 50)
    p = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.02)
    for _ in range(50):
        opt.zero_grad()
        uv(p).backward()
        opt.step()
    assert torch.allclose(run.theta[-1], p.detach())
    q = run.theta[:, 0] ** 2 - run.theta[:, 1] ** 2
    assert (q - q[0]).abs().max() > 0.1


def test_heavy_ball_flow_keeps_translation_and_breaks_rescale():
    # translation: L(a, b) = ½(a + b − 1)² is unchanged by (a + c, b − c); a − b is kept
    shift = lambda th: 0.5 * (th[0] + th[1] - 1.0) ** 2
    path = dyn.heavy_ball_flow(shift, torch.tensor([2.0, 0.5], dtype=f64), 0.1, 0.5, 1.0, 200)
    diff = path.theta[:, 0] - path.theta[:, 1]
    assert (diff - diff[0]).abs().max() < 1e-12
    assert path.theta.shape == (201, 2) and path.loss.shape == (201,)
    uv = lambda th: 0.5 * (th[0] * th[1] - 1.0) ** 2
    changes = []
    for lr in (0.08, 0.04):
        p = dyn.heavy_ball_flow(uv, torch.tensor([1.5, 0.2], dtype=f64), lr, 0.3, 1.0, 300).theta
        q = p[:, 0] ** 2 - p[:, 1] ** 2
        changes.append((q - q[0]).abs().max().item())
    assert changes[0] > 1e-3 and 1.5 < changes[0] / changes[1] < 3.0


def test_beyond_first_order_bad_inputs(relu_data):
    X, Y, theta = relu_data
    batch = lambda th, idx: cons.relu_loss(th, X[idx], Y[idx], 4)
    with pytest.raises(ValueError, match="batch_size"):
        dyn.sgd_run(batch, theta, 60, 61, 0.1, 2)
    with pytest.raises(ValueError, match="lr"):
        dyn.sgd_run(batch, theta, 60, 10, 0.0, 2)
    with pytest.raises(TypeError, match="batch_loss"):
        dyn.sgd_run(None, theta, 60, 10, 0.1, 2)
    with pytest.raises(ValueError, match="columns"):
        dyn.rescale_quantities(theta[None], 3, 5)
    with pytest.raises(ValueError, match="dimensions"):
        dyn.rescale_quantities(theta, 3, 4)
    f = lambda th: (th ** 2).sum()
    with pytest.raises(ValueError, match="betas"):
        dyn.adam_run(f, theta, 0.1, 3, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="eps"):
        dyn.adam_run(f, theta, 0.1, 3, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        dyn.heavy_ball_flow(f, theta, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="substeps"):
        dyn.heavy_ball_flow(f, theta, 0.1, 0.5, 1.0, substeps=0)


def test_adam_law_self_check():
    assert check("dynamics-adam-law", "u + v").ok
    assert check("dynamics-adam-law", "v+u").ok
    for wrong in ("u - v", "u² − v²", "uv", 3):
        assert not check("dynamics-adam-law", wrong).ok
