"""Unit tests for chapter 4's selection of the learned function by conserved values:
conservation.diagonal_loss and conservation.diagonal_interpolant (data and starts differ from
the notebook's)."""
from __future__ import annotations

import pytest
import torch

from symcourse import conservation as cons

f64 = torch.float64


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(7)
    X = torch.randn(2, 4, generator=gen, dtype=f64)
    y = torch.tensor([0.8, -0.3], dtype=f64)
    return X, y


def test_diagonal_loss_is_the_network_and_keeps_each_imbalance(problem):
    X, y = problem
    theta = torch.tensor([1.0, -0.5, 0.3, 2.0, 0.2, 0.4, -1.0, 0.1], dtype=f64)
    expected = 0.5 * ((X @ (theta[:4] * theta[4:]) - y) ** 2).mean()
    assert cons.diagonal_loss(theta, X, y) == pytest.approx(expected.item())
    g = cons.gradient(lambda th: cons.diagonal_loss(th, X, y), theta)
    # the rescale generator of coordinate i is (u_i e_i, −v_i e_i): orthogonal to the gradient
    assert torch.allclose(theta[:4] * g[:4] - theta[4:] * g[4:], torch.zeros(4, dtype=f64),
                          atol=1e-15)


def test_interpolant_matches_gradient_flow(problem):
    X, y = problem
    u = torch.tensor([0.9, 0.5, 0.7, 1.1], dtype=f64)
    v = torch.tensor([0.1, -0.2, 0.05, 0.3], dtype=f64)
    predicted = cons.diagonal_interpolant(u, v, X, y)
    assert torch.allclose(X @ predicted, y, atol=1e-12)
    end = cons.gradient_flow(lambda th: cons.diagonal_loss(th, X, y), torch.cat([u, v]), [200.0],
                             rtol=1e-10).theta[-1]
    assert torch.allclose(end[:4] * end[4:], predicted, atol=1e-6)


def test_negative_imbalance_is_allowed(problem):
    X, y = problem
    u = torch.tensor([0.1, 0.2, 0.1, 0.3], dtype=f64)
    v = torch.tensor([0.8, 0.9, -0.7, 1.0], dtype=f64)  # every δ_i < 0
    w = cons.diagonal_interpolant(u, v, X, y)
    end = cons.gradient_flow(lambda th: cons.diagonal_loss(th, X, y), torch.cat([u, v]), [200.0],
                             rtol=1e-10).theta[-1]
    assert torch.allclose(end[:4] * end[4:], w, atol=1e-6)


def test_selection_bad_inputs(problem):
    X, y = problem
    ones = torch.ones(4, dtype=f64)
    with pytest.raises(ValueError, match="non-zero"):
        cons.diagonal_interpolant(ones, ones, X, y)
    with pytest.raises(ValueError, match="full row rank"):
        cons.diagonal_interpolant(ones, 0.5 * ones, torch.cat([X[:1], X[:1]]), y)
    with pytest.raises(ValueError, match="shape"):
        cons.diagonal_interpolant(ones[:3], ones[:3], X, y)
    with pytest.raises(ValueError, match="shape"):
        cons.diagonal_loss(torch.ones(5, dtype=f64), X, y)
    with pytest.raises(ValueError, match="shape"):
        cons.diagonal_loss(torch.ones(8, dtype=f64), X, y[:1])
    with pytest.raises(TypeError, match="u0 must be a torch.Tensor"):
        cons.diagonal_interpolant([1.0] * 4, ones, X, y)


def test_mixed_select_self_check():
    from symcourse.exercises import check
    from symcourse.exercises.conservation import _selection_problem, mixed_start

    X, y = _selection_problem()
    u, v = mixed_start()
    right = cons.diagonal_interpolant(u, v, X, y)
    assert check("conservation-mixed-select", right).ok
    uniform = torch.full((6,), 1.0, dtype=f64)
    for wrong in (right + 0.1, cons.diagonal_interpolant(uniform, 0.01 / uniform, X, y),
                  [1.0, 2.0], "w"):
        assert not check("conservation-mixed-select", wrong).ok
