"""Tests for symcourse.data (the tasks) and symcourse.models (the max-of-affine network).

Expected values come from closed forms, from ``torch.nn`` modules run on the same parameters, or
from PyTorch's own initialisation, never from numbers symcourse printed.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import data, models


def reference_stall_target(X: torch.Tensor) -> torch.Tensor:
    x, y = X[:, 0], X[:, 1]
    return torch.maximum(x + 2 * y, 3 * x + y)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_points", [1, 7, 1000])
def test_stall_task_shapes_and_properties(n_points):
    task = data.stall_task(n_points=n_points, seed=3)
    assert isinstance(task, data.MaxAffineTask)
    assert task.X.shape == (n_points, 2)
    assert task.y.shape == (n_points,)
    assert task.n_points == n_points
    assert task.in_dim == 2
    assert task.seed == 3
    assert task.weights.shape == (2, 2)
    assert task.biases.shape == (2,)


def test_stall_task_inputs_lie_in_unit_square():
    X = data.stall_task(n_points=5000, seed=1, dtype=torch.float64).X
    assert (X >= 0).all() and (X <= 1).all()
    # uniform on the square: both coordinates spread over it, not a constant or a narrow band
    assert X.min() < 0.01 and X.max() > 0.99
    assert abs(X.mean().item() - 0.5) < 0.02


def test_stall_task_values_are_the_max_of_the_two_planes():
    task = data.stall_task(n_points=500, seed=4, dtype=torch.float64)
    assert torch.equal(task.y, reference_stall_target(task.X))


def test_stall_task_float32_is_the_float64_task_rounded():
    t64 = data.stall_task(n_points=300, seed=2, dtype=torch.float64)
    t32 = data.stall_task(n_points=300, seed=2)
    assert t32.X.dtype == torch.float32 and t32.y.dtype == torch.float32
    assert t64.X.dtype == torch.float64 and t64.y.dtype == torch.float64
    assert torch.equal(t32.X, t64.X.to(torch.float32))
    assert torch.equal(t32.y, t64.y.to(torch.float32))
    torch.testing.assert_close(t32.y.double(), reference_stall_target(t32.X.double()), rtol=1e-6, atol=1e-6)


def test_stall_task_is_deterministic_per_seed_and_seeds_differ():
    a = data.stall_task(n_points=200, seed=11)
    b = data.stall_task(n_points=200, seed=11)
    c = data.stall_task(n_points=200, seed=12)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, c.X)
    assert (a.X != c.X).float().mean() > 0.99


def test_stall_task_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    data.stall_task(n_points=50, seed=7)
    assert torch.equal(torch.rand(5), expected)


def test_stall_task_is_max_affine_task_with_the_stall_planes():
    a = data.stall_task(n_points=100, seed=5)
    b = data.max_affine_task([[1.0, 2.0], [3.0, 1.0]], [0.0, 0.0], n_points=100, seed=5)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)


def test_max_affine_task_general_pieces_and_dimension():
    A = [[1.0, -1.0, 0.5], [0.0, 2.0, -1.0], [-1.0, 0.0, 1.0]]
    c = [0.1, -0.2, 0.3]
    task = data.max_affine_task(A, c, n_points=400, seed=9, dtype=torch.float64)
    assert task.X.shape == (400, 3) and task.in_dim == 3
    X = task.X
    pieces = torch.stack([
        X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 0.1,
        2 * X[:, 1] - X[:, 2] - 0.2,
        -X[:, 0] + X[:, 2] + 0.3,
    ], dim=1)
    torch.testing.assert_close(task.y, pieces.max(dim=1).values, rtol=0, atol=1e-15)
    torch.testing.assert_close(task.target(X), pieces.max(dim=1).values, rtol=0, atol=1e-15)
    assert torch.equal(task.target_piece(X), pieces.argmax(dim=1))


def test_target_and_target_piece_on_new_points():
    task = data.stall_task(n_points=10)
    X = torch.tensor([[0.1, 0.9], [0.9, 0.1], [0.5, 1.0], [0.0, 0.0], [0.2, 0.3]], dtype=torch.float64)
    torch.testing.assert_close(task.target(X), reference_stall_target(X), rtol=0, atol=0)
    # piece 0 is x + 2y, the larger where y > 2x; a tie (y == 2x) goes to the first piece
    assert task.target_piece(X).tolist() == [0, 1, 0, 0, 1]
    assert task.target(X).dtype == torch.float64
    X32 = X.float()
    assert task.target(X32).dtype == torch.float32


def test_target_on_training_points_reproduces_y():
    task = data.stall_task(n_points=300, seed=6, dtype=torch.float64)
    assert torch.equal(task.target(task.X), task.y)
    y, x = task.X[:, 1], task.X[:, 0]
    expected_piece = (3 * x + y > x + 2 * y).long()
    assert torch.equal(task.target_piece(task.X), expected_piece)


@pytest.mark.parametrize("bad, exc", [
    (torch.zeros(3, 3), ValueError),
    (torch.zeros(3), ValueError),
    (torch.zeros(3, 2, dtype=torch.long), TypeError),
    ([[0.1, 0.2]], TypeError),
])
def test_target_rejects_bad_inputs(bad, exc):
    task = data.stall_task(n_points=10)
    with pytest.raises(exc, match="X"):
        task.target(bad)
    with pytest.raises(exc, match="X"):
        task.target_piece(bad)


@pytest.mark.parametrize("n_points, exc", [(0, ValueError), (-5, ValueError), (2.0, TypeError),
                                           ("10", TypeError), (True, TypeError)])
def test_stall_task_rejects_bad_n_points(n_points, exc):
    with pytest.raises(exc, match="n_points"):
        data.stall_task(n_points=n_points)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True])
def test_stall_task_rejects_bad_seed(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        data.stall_task(seed=seed)


@pytest.mark.parametrize("weights, biases, name", [
    ([1.0, 2.0], [0.0], "weights"),                       # weights not 2-D
    ([[1.0, 2.0], [3.0, 1.0]], [0.0], "biases"),          # one bias for two pieces
    ([[1.0, 2.0], [3.0, 1.0]], [[0.0, 0.0]], "biases"),   # biases not 1-D
    ([[1.0, float("nan")]], [0.0], "weights"),            # not finite
])
def test_max_affine_task_rejects_bad_shapes(weights, biases, name):
    with pytest.raises(ValueError, match=name):
        data.max_affine_task(weights, biases)


def test_max_affine_task_rejects_bad_types_naming_the_argument():
    cases = [(None, [0.0], "weights"), ("abc", [0.0], "weights"),
             ([[1.0, 2.0]], None, "biases"), ([[1.0, 2.0]], "x", "biases")]
    for weights, biases, name in cases:
        with pytest.raises((TypeError, ValueError), match=name):
            data.max_affine_task(weights, biases)


# --------------------------------------------------------------------------------------------
# models: the question's network
# --------------------------------------------------------------------------------------------


def test_question_network_default_layers():
    net = models.question_network()
    assert isinstance(net, nn.Sequential)
    assert [type(m) for m in net] == [nn.Linear, nn.MaxPool1d]
    lin = net[0]
    assert (lin.in_features, lin.out_features) == (2, 2)
    assert lin.bias is not None
    assert net[1].kernel_size == 2
    assert models.linear_layer(net) is lin


def test_question_network_sizes_and_no_bias():
    net = models.question_network(in_dim=3, units=4, bias=False)
    lin = models.linear_layer(net)
    assert (lin.in_features, lin.out_features) == (3, 4)
    assert lin.bias is None
    assert net[-1].kernel_size == 4
    assert net(torch.rand(10, 3)).shape == (10, 1)


@pytest.mark.parametrize("before, after, kinds", [
    (0.3, 0.0, [nn.Dropout, nn.Linear, nn.MaxPool1d]),
    (0.0, 0.4, [nn.Linear, nn.Dropout, nn.MaxPool1d]),
    (0.1, 0.2, [nn.Dropout, nn.Linear, nn.Dropout, nn.MaxPool1d]),
    (0.0, 0.0, [nn.Linear, nn.MaxPool1d]),
])
def test_question_network_dropout_options(before, after, kinds):
    net = models.question_network(dropout_before=before, dropout_after=after)
    assert [type(m) for m in net] == kinds
    probabilities = [m.p for m in net if isinstance(m, nn.Dropout)]
    assert probabilities == [p for p in (before, after) if p]


def test_question_network_output_is_max_of_units():
    net = models.question_network(units=3).double()
    X = torch.rand(20, 2, dtype=torch.float64)
    lin = models.linear_layer(net)
    expected = (X @ lin.weight.T + lin.bias).max(dim=1).values
    torch.testing.assert_close(net(X)[:, 0], expected, rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(in_dim=0), ValueError, "in_dim"),
    (dict(in_dim=2.0), TypeError, "in_dim"),
    (dict(units=0), ValueError, "units"),
    (dict(units=-2), ValueError, "units"),
    (dict(units=1.5), TypeError, "units"),
    (dict(dropout_before=1.0), ValueError, "dropout_before"),
    (dict(dropout_before=-0.1), ValueError, "dropout_before"),
    (dict(dropout_before="0.5"), TypeError, "dropout_before"),
    (dict(dropout_after=1.0), ValueError, "dropout_after"),
    (dict(dropout_after=1.5), ValueError, "dropout_after"),
    (dict(dropout_after=float("nan")), TypeError, "dropout_after"),
])
def test_question_network_rejects_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        models.question_network(**kwargs)


# --------------------------------------------------------------------------------------------
# models: batched parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("units", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_init_theta_is_pytorch_default_linear_init(units, bias):
    seeds = [0, 1, 7, 42, 999]
    theta = models.init_theta(seeds, units=units, bias=bias)
    assert theta.shape == (len(seeds), units, 2 + int(bias))
    assert theta.dtype == torch.float32
    for i, s in enumerate(seeds):
        torch.manual_seed(s)
        lin = nn.Linear(2, units)
        assert torch.equal(theta[i, :, :2], lin.weight.detach())
        if bias:
            assert torch.equal(theta[i, :, 2], lin.bias.detach())


def test_init_theta_other_input_dimension_and_dtype():
    theta = models.init_theta([3, 5], in_dim=4, units=2, dtype=torch.float64)
    assert theta.shape == (2, 2, 5) and theta.dtype == torch.float64
    torch.manual_seed(5)
    lin = nn.Linear(4, 2)
    assert torch.equal(theta[1, :, :4], lin.weight.detach().double())
    assert torch.equal(theta[1, :, 4], lin.bias.detach().double())


def test_init_theta_count_means_range():
    assert torch.equal(models.init_theta(4), models.init_theta([0, 1, 2, 3]))
    assert torch.equal(models.init_theta(range(2, 5)), models.init_theta([2, 3, 4]))


def test_init_theta_restores_global_rng_state():
    torch.manual_seed(2024)
    torch.rand(3)
    state = torch.random.get_rng_state()
    expected = torch.rand(6)
    torch.random.set_rng_state(state)
    models.init_theta([0, 1, 2, 3], units=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(torch.rand(6), expected)


@pytest.mark.parametrize("seeds, exc", [
    ([-1], ValueError), ([0, -3], ValueError), (0, ValueError), (-2, ValueError), ([], ValueError),
    ([1.5], ValueError), (2.5, TypeError), (None, TypeError), ([True], ValueError),
])
def test_init_theta_rejects_bad_seeds(seeds, exc):
    with pytest.raises(exc, match="seeds"):
        models.init_theta(seeds)


@pytest.mark.parametrize("bias", [True, False])
def test_theta_round_trip_through_network(bias):
    net = models.question_network(units=3, bias=bias)
    theta = torch.randn(3, 2 + int(bias), generator=torch.Generator().manual_seed(0))
    assert models.load_theta(net, theta) is net
    lin = models.linear_layer(net)
    assert torch.equal(lin.weight.detach(), theta[:, :2])
    if bias:
        assert torch.equal(lin.bias.detach(), theta[:, 2])
    packed = models.theta_from_network(net)
    assert packed.shape == (1, 3, 2 + int(bias))
    assert torch.equal(packed[0], theta)
    packed += 1.0  # a copy: editing it leaves the network alone
    assert torch.equal(lin.weight.detach(), theta[:, :2])


@pytest.mark.parametrize("bad, exc", [
    (torch.zeros(2, 2), ValueError),
    (torch.zeros(3, 3), ValueError),
    (torch.zeros(1, 2, 3), ValueError),
    (torch.zeros(2, 3, dtype=torch.long), TypeError),
    ([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], TypeError),
])
def test_load_theta_rejects_bad_theta(bad, exc):
    net = models.question_network()
    with pytest.raises(exc, match="theta"):
        models.load_theta(net, bad)


def random_theta(S, K, A, seed, dtype=torch.float64):
    return torch.randn(S, K, A, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("units, bias", [(2, True), (3, True), (2, False), (4, False)])
def test_predict_mse_mae_agree_with_question_network(units, bias):
    task = data.stall_task(n_points=200, seed=1, dtype=torch.float64)
    theta = random_theta(5, units, 2 + int(bias), seed=units)
    pred = models.predict(theta, task.X, bias=bias)
    outs = models.unit_outputs(theta, task.X, bias=bias)
    assert pred.shape == (5, 200) and outs.shape == (5, units, 200)
    mse = models.mse(theta, task.X, task.y, bias=bias)
    mae = models.mae(theta, task.X, task.y, bias=bias)
    assert mse.shape == (5,) and mae.shape == (5,)
    for s in range(5):
        net = models.load_theta(models.question_network(units=units, bias=bias).double(), theta[s])
        with torch.no_grad():
            out = net(task.X)[:, 0]
            lin = models.linear_layer(net)(task.X)
            ref_mse = ((task.y[:, None] - net(task.X)) ** 2).mean()
            ref_mae = (task.y - out).abs().mean()
        torch.testing.assert_close(outs[s], lin.T, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(pred[s], out, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(mse[s], ref_mse, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(mae[s], ref_mae, rtol=1e-12, atol=1e-14)


def test_mse_in_float32_matches_network_in_float32():
    task = data.stall_task(n_points=100, seed=2)
    theta = models.init_theta([0, 1, 2])
    for s in range(3):
        net = models.load_theta(models.question_network(), theta[s])
        with torch.no_grad():
            ref = ((task.y[:, None] - net(task.X)) ** 2).mean()
        torch.testing.assert_close(models.mse(theta, task.X, task.y)[s], ref, rtol=1e-5, atol=1e-7)


def test_perfect_theta_solves_the_stall_task_exactly():
    theta = models.perfect_theta()
    assert theta.shape == (1, 2, 3) and theta.dtype == torch.float64
    task = data.stall_task(dtype=torch.float64)
    assert models.mse(theta, task.X, task.y).tolist() == [0.0]
    assert models.mae(theta, task.X, task.y).tolist() == [0.0]
    # it is the hand-set network of the question
    net = models.question_network().double()
    with torch.no_grad():
        models.linear_layer(net).weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 1.0]]))
        models.linear_layer(net).bias.zero_()
    assert torch.equal(models.theta_from_network(net), theta)
    assert models.perfect_theta(torch.float32).dtype == torch.float32


def test_augment():
    X = torch.tensor([[0.5, 0.25], [1.0, 2.0], [3.0, 4.0]])
    with_ones = models.augment(X, True)
    assert with_ones.shape == (3, 3) and with_ones.dtype == X.dtype
    assert torch.equal(with_ones[:, :2], X)
    assert torch.equal(with_ones[:, 2], torch.ones(3))
    assert torch.equal(models.augment(X, False), X)


@pytest.mark.parametrize("fn", [models.unit_outputs, models.predict])
def test_forward_functions_reject_bad_inputs(fn):
    theta = torch.zeros(2, 2, 3)
    X = torch.rand(5, 2)
    with pytest.raises(ValueError, match="X"):
        fn(theta, torch.rand(5))
    with pytest.raises(TypeError, match="X"):
        fn(theta, torch.ones(5, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="X"):
        fn(theta, [[0.1, 0.2]])
    with pytest.raises(ValueError, match="theta"):
        fn(torch.zeros(2, 3), X)
    with pytest.raises(TypeError, match="theta"):
        fn([[[0.0, 0.0, 0.0]]], X)
    with pytest.raises(ValueError, match="theta"):
        fn(torch.zeros(2, 2, 6), X)  # last size neither in_dim nor in_dim + 1


@pytest.mark.parametrize("fn", [models.mse, models.mae])
def test_losses_reject_bad_targets(fn):
    theta = torch.zeros(2, 2, 3)
    X = torch.rand(5, 2)
    with pytest.raises(ValueError, match="y"):
        fn(theta, X, torch.zeros(4))
    with pytest.raises(ValueError, match="y"):
        fn(theta, X, torch.zeros(5, 1))
    with pytest.raises(TypeError, match="y"):
        fn(theta, X, [0.0] * 5)
