"""Tests for symcourse.sweeps: the batched engine must be the plain PyTorch loop, seed by seed.

References are the per-seed ``train_loop`` (``torch.optim`` + autograd on the question's
``nn.Sequential``) and autograd through ``nn.MaxPool1d`` for single gradients.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import data, models, sweeps

STEPS = 500
SEEDS = list(range(12))
FEW_SEEDS = [0, 5, 11]


@pytest.fixture(scope="module")
def task():
    return data.stall_task(n_points=128, seed=3)


@pytest.fixture(scope="module")
def loop_every_step(task):
    """The reference run for the default configuration, every loss recorded (float64)."""
    return sweeps.train_loop(task, SEEDS, steps=STEPS, record_every=1, dtype=torch.float64)


def assert_same_run(sweep, loop, tol):
    assert sweep.seeds == loop.seeds
    assert torch.equal(sweep.steps, loop.steps)
    assert sweep.loss.shape == loop.loss.shape == (len(loop.steps), len(loop.seeds))
    assert sweep.theta.shape == loop.theta.shape
    torch.testing.assert_close(sweep.theta0, loop.theta0, rtol=0, atol=0)
    torch.testing.assert_close(sweep.loss, loop.loss, rtol=0, atol=tol)
    torch.testing.assert_close(sweep.theta, loop.theta, rtol=0, atol=tol)


# --------------------------------------------------------------------------------------------
# the core promise: train_sweep == train_loop
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("record_every", [1, 7, 10, STEPS])
def test_sweep_equals_loop_default_adam_float64(task, loop_every_step, record_every):
    sweep = sweeps.train_sweep(task, SEEDS, steps=STEPS, record_every=record_every, dtype=torch.float64)
    expected_steps = list(range(0, STEPS, record_every)) + [STEPS]
    assert sweep.steps.tolist() == expected_steps
    assert sweep.steps[-1] == STEPS and len(set(expected_steps)) == len(expected_steps)
    torch.testing.assert_close(sweep.theta0, loop_every_step.theta0, rtol=0, atol=0)
    torch.testing.assert_close(sweep.theta, loop_every_step.theta, rtol=0, atol=1e-10)
    torch.testing.assert_close(sweep.loss, loop_every_step.loss[sweep.steps], rtol=0, atol=1e-10)
    assert torch.equal(sweep.final_loss, sweep.loss[-1])
    # the run is not trivial: the parameters moved and the loss fell
    assert (sweep.theta - sweep.theta0).abs().amax() > 0.1
    assert (sweep.loss[-1] < sweep.loss[0]).all()


def test_loop_records_at_its_own_steps(task, loop_every_step):
    loop = sweeps.train_loop(task, FEW_SEEDS, steps=STEPS, record_every=7, dtype=torch.float64)
    assert loop.steps.tolist() == list(range(0, STEPS, 7)) + [STEPS]
    idx = [SEEDS.index(s) for s in FEW_SEEDS]
    torch.testing.assert_close(loop.loss, loop_every_step.loss[loop.steps][:, idx], rtol=0, atol=0)


@pytest.mark.parametrize("config", [
    dict(weight_decay=0.05),
    dict(optimizer="sgd", lr=0.05),
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
    dict(optimizer="sgd", lr=0.05, momentum=0.5, weight_decay=0.01),
    dict(optimizer="adam", lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(bias=False),
    dict(units=3),
    dict(units=4),
    dict(units=3, bias=False, optimizer="sgd", lr=0.1, momentum=0.9),
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_sweep_equals_loop_other_configurations_float64(task, config):
    kwargs = dict(steps=STEPS, record_every=1, dtype=torch.float64, **config)
    sweep = sweeps.train_sweep(task, FEW_SEEDS, **kwargs)
    loop = sweeps.train_loop(task, FEW_SEEDS, **kwargs)
    units = config.get("units", 2)
    assert sweep.theta.shape == (len(FEW_SEEDS), units, 2 + int(config.get("bias", True)))
    assert_same_run(sweep, loop, 1e-10)
    assert (sweep.theta - sweep.theta0).abs().amax() > 1e-2


def test_sweep_equals_loop_float32_losses(task):
    sweep = sweeps.train_sweep(task, SEEDS, steps=STEPS, record_every=5)
    loop = sweeps.train_loop(task, SEEDS, steps=STEPS, record_every=5)
    assert sweep.loss.dtype == loop.loss.dtype == sweep.theta.dtype == torch.float32
    torch.testing.assert_close(sweep.loss, loop.loss, rtol=0, atol=1e-5)
    torch.testing.assert_close(sweep.theta, loop.theta, rtol=0, atol=1e-3)


def test_sweep_config_and_seeds(task):
    run = sweeps.train_sweep(task, 3, steps=4, lr=0.01, optimizer="sgd", momentum=0.5, record_every=2)
    assert run.seeds == [0, 1, 2]
    assert run.config["steps"] == 4 and run.config["optimizer"] == "sgd"
    assert run.config["lr"] == 0.01 and run.config["momentum"] == 0.5
    assert run.config["units"] == 2 and run.config["bias"] is True
    assert run.config["n_points"] == task.n_points and run.config["task_seed"] == task.seed
    assert run.steps.tolist() == [0, 2, 4]
    assert run.history is None
    assert run.seconds >= 0


# --------------------------------------------------------------------------------------------
# loss_and_grad against autograd
# --------------------------------------------------------------------------------------------


def reference_loss_and_grad(theta, Xa, y, input_scale=None, unit_scale=None):
    """Autograd through the same (masked) computation, the max taken by nn.MaxPool1d."""
    S, K, A = theta.shape
    N = Xa.shape[0]
    th = theta.clone().requires_grad_(True)
    inputs = Xa.expand(S, N, A) if input_scale is None else Xa * input_scale
    z = torch.einsum("sna,ska->skn", inputs, th)  # (S, K, N)
    if unit_scale is not None:
        z = z * unit_scale
    pooled = nn.MaxPool1d(K)(z.permute(0, 2, 1).reshape(S * N, 1, K)).reshape(S, N)
    loss = ((pooled - y) ** 2).mean(dim=1)
    (grad,) = torch.autograd.grad(loss.sum(), th)
    return loss.detach(), grad


def random_problem(S, K, bias, seed):
    g = torch.Generator().manual_seed(seed)
    N = 64
    X = torch.rand(N, 2, generator=g, dtype=torch.float64)
    Xa = models.augment(X, bias)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    theta = torch.randn(S, K, Xa.shape[1], generator=g, dtype=torch.float64)
    return theta, Xa, y, g


@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("bias", [True, False])
def test_loss_and_grad_matches_autograd(K, bias):
    theta, Xa, y, _ = random_problem(6, K, bias, seed=10 * K + bias)
    loss, grad = sweeps.loss_and_grad(theta, Xa, y)
    ref_loss, ref_grad = reference_loss_and_grad(theta, Xa, y)
    assert loss.shape == (6,) and grad.shape == theta.shape
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("before, after", [(0.3, 0.0), (0.0, 0.4), (0.25, 0.5)])
def test_loss_and_grad_with_dropout_masks_matches_autograd(K, bias, before, after):
    S = 5
    theta, Xa, y, g = random_problem(S, K, bias, seed=K + 7 * bias)
    N, A = Xa.shape
    input_scale = unit_scale = None
    if before:
        input_scale = (torch.rand(S, N, 2, generator=g) >= before).double() / (1 - before)
        if bias:  # dropout never touches the bias input
            input_scale = torch.cat([input_scale, torch.ones(S, N, 1, dtype=torch.float64)], dim=2)
        assert input_scale.shape == (S, N, A)
    if after:
        unit_scale = (torch.rand(S, K, N, generator=g) >= after).double() / (1 - after)
    loss, grad = sweeps.loss_and_grad(theta, Xa, y, input_scale=input_scale, unit_scale=unit_scale)
    ref_loss, ref_grad = reference_loss_and_grad(theta, Xa, y, input_scale, unit_scale)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-14)
    # the masks matter: without them the answer is different
    _, plain = sweeps.loss_and_grad(theta, Xa, y)
    assert not torch.allclose(plain, grad)


def test_loss_and_grad_need_loss_false():
    theta, Xa, y, _ = random_problem(3, 2, True, seed=1)
    loss, grad = sweeps.loss_and_grad(theta, Xa, y, need_loss=False)
    assert loss is None
    torch.testing.assert_close(grad, reference_loss_and_grad(theta, Xa, y)[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("K, twins", [(2, (0, 1)), (3, (0, 1)), (3, (0, 2)), (4, (1, 3))])
def test_ties_send_the_gradient_to_the_lowest_unit(K, twins):
    low, high = twins
    theta, Xa, y, _ = random_problem(4, K, True, seed=3)
    theta[:, high] = theta[:, low]
    # make the twins the largest units everywhere, so every point is a tie between them
    theta[:, low, -1] += 100.0
    theta[:, high, -1] += 100.0
    _, grad = sweeps.loss_and_grad(theta, Xa, y)
    _, ref = reference_loss_and_grad(theta, Xa, y)
    # the reference itself follows MaxPool1d: ties to the first index
    assert torch.count_nonzero(ref[:, high]) == 0 and torch.count_nonzero(ref[:, low]) > 0
    assert torch.count_nonzero(grad[:, high]) == 0
    assert torch.count_nonzero(grad[:, [k for k in range(K) if k != low]]) == 0
    torch.testing.assert_close(grad, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_winner_mask_one_winner_per_point_ties_to_lowest(K):
    z = torch.tensor([[[1.0, 0.0, 2.0, 5.0]] * K], dtype=torch.float64)  # (1, K, 4): all tied
    z[0, K - 1, 1] = 3.0  # the last unit wins point 1 outright
    mask = sweeps.winner_mask(z)
    assert mask.dtype == torch.bool and mask.shape == (1, K, 4)
    assert torch.equal(mask.sum(dim=1), torch.ones(1, 4, dtype=torch.long))
    assert mask[0, 0].tolist() == [True, False, True, True]
    assert mask[0, K - 1].tolist() == [False, True, False, False]
    # against nn.MaxPool1d's choice
    _, idx = nn.MaxPool1d(K, return_indices=True)(z.permute(0, 2, 1).reshape(4, 1, K))
    assert torch.equal(mask[0].to(torch.long).argmax(dim=0), idx.reshape(4))


# --------------------------------------------------------------------------------------------
# other sweep features
# --------------------------------------------------------------------------------------------


def test_chunk_size_does_not_change_results(task):
    kwargs = dict(steps=200, record_every=3, dtype=torch.float64, record_params=True)
    small = sweeps.train_sweep(task, SEEDS, chunk_size=3, **kwargs)
    big = sweeps.train_sweep(task, SEEDS, chunk_size=256, **kwargs)
    odd = sweeps.train_sweep(task, SEEDS, chunk_size=5, **kwargs)  # a last chunk of 2 seeds
    for other in (small, odd):
        torch.testing.assert_close(other.theta, big.theta, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(other.loss, big.loss, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(other.history, big.history, rtol=1e-13, atol=1e-13)


def test_theta0_is_honoured(task):
    g = torch.Generator().manual_seed(99)
    theta0 = torch.randn(len(FEW_SEEDS), 3, 3, generator=g, dtype=torch.float64)
    kwargs = dict(units=3, steps=150, record_every=1, dtype=torch.float64, theta0=theta0)
    sweep = sweeps.train_sweep(task, FEW_SEEDS, **kwargs)
    loop = sweeps.train_loop(task, FEW_SEEDS, **kwargs)
    assert torch.equal(sweep.theta0, theta0)
    assert torch.equal(loop.theta0, theta0)
    assert_same_run(sweep, loop, 1e-10)
    # not the default start
    default = models.init_theta(FEW_SEEDS, units=3, dtype=torch.float64)
    assert not torch.allclose(sweep.theta0, default)
    # and the caller's tensor is left alone
    assert torch.equal(theta0, torch.randn(len(FEW_SEEDS), 3, 3, generator=torch.Generator().manual_seed(99),
                                           dtype=torch.float64))


def test_theta0_float32_is_converted(task):
    theta0 = models.init_theta([4, 8])
    run = sweeps.train_sweep(task, [0, 1], steps=3, theta0=theta0, dtype=torch.float64)
    assert run.theta0.dtype == torch.float64
    assert torch.equal(run.theta0, theta0.double())


@pytest.mark.parametrize("record_every", [1, 4, 30])
def test_record_params_history(task, record_every):
    steps = 60
    run = sweeps.train_sweep(task, FEW_SEEDS, steps=steps, record_every=record_every, record_params=True,
                             dtype=torch.float64)
    assert run.history.shape == (len(run.steps), len(FEW_SEEDS), 2, 3)
    assert torch.equal(run.history[0], run.theta0)
    assert torch.equal(run.history[-1], run.theta)
    # the loss at each recorded step is the loss of the parameters recorded there
    for row in range(len(run.steps)):
        torch.testing.assert_close(run.loss[row], models.mse(run.history[row], task.X, task.y),
                                   rtol=1e-12, atol=1e-15)


def test_record_params_history_matches_loop_parameters(task):
    run = sweeps.train_sweep(task, [2], steps=40, record_every=20, record_params=True, dtype=torch.float64)
    for row, t in enumerate(run.steps.tolist()):
        loop = sweeps.train_loop(task, [2], steps=t if t else 1, record_every=1, dtype=torch.float64)
        expected = loop.theta if t else loop.theta0
        torch.testing.assert_close(run.history[row], expected, rtol=0, atol=1e-12)


def test_eval_mse_is_the_networks_loss_in_eval_mode(task):
    run = sweeps.train_sweep(task, FEW_SEEDS, steps=50, dropout_before=0.2, dropout_after=0.3,
                             dtype=torch.float64)
    got = sweeps.eval_mse(run, task)
    assert got.shape == (len(FEW_SEEDS),)
    X, y = task.X.double(), task.y.double()[:, None]
    for i in range(len(FEW_SEEDS)):
        net = models.question_network(dropout_before=0.2, dropout_after=0.3).double()
        models.load_theta(net, run.theta[i])
        net.eval()
        with torch.no_grad():
            ref = ((y - net(X)) ** 2).mean()
        torch.testing.assert_close(got[i], ref, rtol=1e-12, atol=1e-15)


def test_eval_mse_without_dropout_is_the_final_training_loss(task):
    run = sweeps.train_sweep(task, FEW_SEEDS, steps=50, dtype=torch.float64)
    torch.testing.assert_close(sweeps.eval_mse(run, task), run.final_loss, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dropout", [dict(dropout_before=0.3), dict(dropout_after=0.3),
                                     dict(dropout_before=0.2, dropout_after=0.2)])
def test_dropout_runs_are_reproducible_per_dropout_seed(task, dropout):
    kwargs = dict(steps=60, record_every=1, **dropout)
    a = sweeps.train_sweep(task, FEW_SEEDS, dropout_seed=1, **kwargs)
    b = sweeps.train_sweep(task, FEW_SEEDS, dropout_seed=1, **kwargs)
    c = sweeps.train_sweep(task, FEW_SEEDS, dropout_seed=2, **kwargs)
    plain = sweeps.train_sweep(task, FEW_SEEDS, steps=60, record_every=1)
    assert torch.equal(a.theta, b.theta) and torch.equal(a.loss, b.loss)
    assert not torch.equal(a.theta, c.theta)
    assert not torch.equal(a.theta, plain.theta)
    assert torch.equal(a.theta0, plain.theta0)


def test_dropout_does_not_use_the_global_rng(task):
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    sweeps.train_sweep(task, [0, 1], steps=20, dropout_before=0.5)
    assert torch.equal(torch.rand(4), expected)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("train", [sweeps.train_sweep, sweeps.train_loop])
@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(optimizer="Adam"), ValueError, "optimizer"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr="0.1"), TypeError, "lr"),
    (dict(steps=0), ValueError, "steps"),
    (dict(steps=10.0), TypeError, "steps"),
    (dict(seeds=0), ValueError, "seeds"),
    (dict(seeds=[]), ValueError, "seeds"),
    (dict(seeds=[0, -1]), ValueError, "seeds"),
    (dict(seeds=1.5), TypeError, "seeds"),
    (dict(momentum=0.9), ValueError, "momentum"),
    (dict(optimizer="sgd", momentum=1.0), ValueError, "momentum"),
    (dict(dropout_before=1.0), ValueError, "dropout_before"),
    (dict(dropout_after=1.0), ValueError, "dropout_after"),
    (dict(dropout_after=-0.2), ValueError, "dropout_after"),
    (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
    (dict(record_every=0), ValueError, "record_every"),
])
def test_training_rejects_bad_arguments(task, train, kwargs, exc, name):
    kwargs = dict(dict(seeds=2, steps=5), **kwargs)
    with pytest.raises(exc, match=name):
        train(task, **kwargs)


@pytest.mark.parametrize("train", [sweeps.train_sweep, sweeps.train_loop])
def test_training_rejects_a_task_that_is_not_a_max_affine_task(task, train):
    with pytest.raises(TypeError, match="task"):
        train((task.X, task.y), 2, steps=5)
    with pytest.raises(TypeError, match="task"):
        train(None, 2, steps=5)


@pytest.mark.parametrize("theta0, exc", [
    (torch.zeros(3, 2, 3), ValueError),             # three starts for two seeds
    (torch.zeros(2, 2, 2), ValueError),             # no bias column although bias=True
    (torch.zeros(2, 3), ValueError),                # no seed dimension
    (torch.zeros(2, 2, 3, dtype=torch.long), TypeError),
    ([[[0.0] * 3] * 2] * 2, TypeError),
])
def test_train_sweep_rejects_bad_theta0(task, theta0, exc):
    with pytest.raises(exc, match="theta0"):
        sweeps.train_sweep(task, 2, steps=5, theta0=theta0)


def test_train_sweep_rejects_theta0_with_a_different_number_of_units(task):
    # three units given for a two-unit network: train_loop refuses (load_theta), so must the sweep
    theta0 = torch.zeros(2, 3, 3)
    with pytest.raises(ValueError, match="theta"):
        sweeps.train_loop(task, 2, units=2, steps=5, theta0=theta0)
    with pytest.raises(ValueError, match="theta0"):
        sweeps.train_sweep(task, 2, units=2, steps=5, theta0=theta0)


def test_train_sweep_rejects_bad_chunk_size(task):
    with pytest.raises(ValueError, match="chunk_size"):
        sweeps.train_sweep(task, 2, steps=5, chunk_size=0)
