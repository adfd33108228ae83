"""Tests for symcourse.remedies (chapter 6): every remedy through the batched engine must be the
same remedy written as a plain per-seed PyTorch loop (autograd + ``torch.optim.Adam``), and every
reader-facing piece must do what its docstring says. Also chapter 6's plots, explorer and
self-checks.
"""
from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from symcourse import data, exercises, models, plots, remedies, stall  # noqa: E402
from symcourse.remedies import Remedy  # noqa: E402

F64 = torch.float64


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def task():
    return data.stall_task(n_points=128, seed=3, dtype=F64)


@pytest.fixture(scope="module")
def task3():
    """A three-piece target in three dimensions."""
    return data.max_affine_task([[3, 1, 1], [1, 3, 1], [1, 1, 3]], [0, 0, 0], n_points=150, seed=2,
                                dtype=F64)


# --------------------------------------------------------------------------------------------
# remedy descriptions
# --------------------------------------------------------------------------------------------


def test_extended_remedies_cover_every_kind():
    line_up = remedies.extended_remedies()
    assert sorted(r.kind for r in line_up.values()) == sorted(remedies.KINDS)
    assert list(line_up)[0] == "baseline" and line_up["baseline"] == Remedy()
    assert not line_up["no bias"].bias and line_up["more units (×2)"].units_factor == 2
    assert line_up["smooth max"].soft and line_up["load balancing"].soft and not line_up["revival"].soft
    assert line_up["partition init"].init == "partition"


@pytest.mark.parametrize("make, kwargs, exc, name", [
    (remedies.more_units, dict(factor=1), ValueError, "factor"),
    (remedies.more_units, dict(factor=2.0), TypeError, "factor"),
    (remedies.smooth_max, dict(temperature=0.0), ValueError, "temperature"),
    (remedies.smooth_max, dict(until=1.5), ValueError, "until"),
    (remedies.dead_unit_revival, dict(every=0), ValueError, "every"),
    (remedies.dead_unit_revival, dict(neighbours=0), ValueError, "neighbours"),
    (remedies.load_balancing, dict(weight=-1.0), ValueError, "weight"),
    (remedies.load_balancing, dict(temperature=0.0), ValueError, "aux_temperature"),
    (remedies.partition_init, dict(iterations=0), ValueError, "iterations"),
    (remedies.noise_injection, dict(scale=float("nan")), ValueError, "scale"),
    (remedies.restarts, dict(every=1.5), TypeError, "every"),
])
def test_remedy_constructors_reject_bad_knobs(make, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        make(**kwargs)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(kind="magic"), ValueError, "kind"),
    (dict(bias=1), TypeError, "bias"),
    (dict(init="kmeans"), ValueError, "init"),
    (dict(temperature=1.0, aux_weight=0.1), ValueError, "not both"),
    (dict(init="partition", bias=False), ValueError, "bias=True"),
    (dict(units_factor=0), ValueError, "units_factor"),
])
def test_remedy_rejects_bad_fields(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        Remedy(**kwargs)


# --------------------------------------------------------------------------------------------
# reader-facing pieces
# --------------------------------------------------------------------------------------------


def test_annealed_falls_linearly_to_zero_and_stays():
    assert remedies.annealed(2.0, 0, 100, 0.5) == 2.0
    assert remedies.annealed(2.0, 25, 100, 0.5) == pytest.approx(1.0)
    assert remedies.annealed(2.0, 50, 100, 0.5) == 0.0 == remedies.annealed(2.0, 99, 100, 0.5)
    assert remedies.annealed(0.0, 3, 100) == 0.0
    for bad, exc in [(dict(step=-1), ValueError), (dict(step=1.0), ValueError), (dict(steps=0), ValueError),
                     (dict(until=2.0), ValueError), (dict(start=-1.0), ValueError)]:
        kwargs = dict(start=1.0, step=1, steps=10, until=0.5) | bad
        with pytest.raises(exc, match=next(iter(bad))):
            remedies.annealed(**kwargs)


def test_soft_max_output_bounds_and_hard_limit():
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    hard = z.amax(dim=1)
    assert torch.equal(remedies.soft_max_output(z, 0.0, dim=1), hard)
    for tau in (0.01, 0.3, 2.0):
        soft = remedies.soft_max_output(z, tau, dim=1)
        assert (soft >= hard - 1e-12).all() and (soft <= hard + tau * math.log(3) + 1e-12).all()
    torch.testing.assert_close(remedies.soft_max_output(z, 1e-4, dim=1), hard, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        remedies.soft_max_output(z, -1.0)
    with pytest.raises(TypeError, match="z"):
        remedies.soft_max_output([1.0, 2.0], 1.0)


def test_soft_max_gives_a_dead_unit_a_gradient_the_hard_max_does_not():
    z = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=F64, requires_grad=True)
    remedies.soft_max_output(z, 0.0, dim=1).sum().backward()
    assert torch.equal(z.grad[:, 1], torch.zeros(2, dtype=F64))
    z.grad = None
    remedies.soft_max_output(z, 0.5, dim=1).sum().backward()
    torch.testing.assert_close(z.grad[:, 1], torch.sigmoid(torch.tensor([-4.0, -3.0], dtype=F64)))


def test_load_balancing_loss_values_and_gradient_sign():
    equal = torch.zeros(10, 2, dtype=F64)  # every point goes to unit 0, both soft shares 1/2
    assert remedies.load_balancing_loss(equal, 0.5).item() == pytest.approx(1.0)
    one_wins = torch.tensor([[5.0, 0.0]] * 10, dtype=F64, requires_grad=True)
    value = remedies.load_balancing_loss(one_wins, 0.5)
    assert value.item() == pytest.approx(2 * torch.sigmoid(torch.tensor(10.0)).item())
    value.backward()
    assert (one_wins.grad[:, 1] < 0).all() and (one_wins.grad[:, 0] > 0).all()  # descent lifts the loser
    with pytest.raises(ValueError, match="z"):
        remedies.load_balancing_loss(torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="temperature"):
        remedies.load_balancing_loss(equal, 0.0)


def test_parameter_noise_depends_on_the_seed_alone():
    a = remedies.parameter_noise(3, 20, (2, 3), F64)
    assert a.shape == (20, 2, 3) and a.dtype == F64
    assert torch.equal(a, remedies.parameter_noise(3, 20, (2, 3), F64))
    assert not torch.equal(a, remedies.parameter_noise(4, 20, (2, 3), F64))
    assert abs(a.mean().item()) < 0.3 and 0.7 < a.std().item() < 1.3
    with pytest.raises(ValueError, match="seed"):
        remedies.parameter_noise(-1, 20, (2, 3))
    with pytest.raises(ValueError, match="steps"):
        remedies.parameter_noise(0, 0, (2, 3))


def test_local_fits_are_exact_on_an_affine_target(task):
    y = task.X @ torch.tensor([0.5, -2.0], dtype=F64) + 0.25
    fits = remedies.local_fits(task.X, y, neighbours=10)
    assert fits.shape == (task.n_points, 3)
    torch.testing.assert_close(fits, torch.tensor([0.5, -2.0, 0.25], dtype=F64).expand_as(fits), atol=1e-6,
                               rtol=0)
    # on the kinked target, fits well inside a piece are that piece
    fits = remedies.local_fits(task.X, task.y, neighbours=10)
    corner = torch.argmin((task.X - torch.tensor([1.0, 0.0], dtype=F64)).norm(dim=1))
    torch.testing.assert_close(fits[corner], torch.tensor([3.0, 1.0, 0.0], dtype=F64), atol=1e-8, rtol=0)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(neighbours=2), ValueError, "neighbours"),
    (dict(neighbours=1000), ValueError, "neighbours"),
    (dict(y=torch.zeros(5, dtype=F64)), ValueError, "y"),
    (dict(X=torch.zeros(10)), ValueError, "X"),
])
def test_local_fits_rejects_bad_input(task, kwargs, exc, name):
    args = dict(X=task.X, y=task.y, neighbours=10) | kwargs
    with pytest.raises(exc, match=name):
        remedies.local_fits(**args)


def test_reseat_dead_units_revives_only_dead_units(task):
    fits = remedies.local_fits(task.X, task.y, 20)
    fit = stall.affine_lstsq(task.X, task.y)
    stalled = torch.stack([fit, fit - torch.tensor([0.0, 0.0, 5.0], dtype=F64)])  # unit 1 dead
    alive = models.perfect_theta()[0]
    theta = torch.stack([stalled, alive])
    new, revived = remedies.reseat_dead_units(theta, task.X, task.y, fits)
    assert revived.tolist() == [[False, True], [False, False]]
    assert torch.equal(new[1], alive) and torch.equal(new[0, 0], fit)
    assert not stall.dead_units(new, task.X).any()
    shortfall = task.y - models.predict(stalled[None], task.X)[0]
    assert torch.equal(new[0, 1], fits[shortfall.argmax()])  # seated at the worst-fitted point
    assert models.mse(new[:1], task.X, task.y) < models.mse(stalled[None], task.X, task.y)
    single, mask = remedies.reseat_dead_units(stalled, task.X, task.y, fits)  # one network
    assert torch.equal(single, new[0]) and mask.tolist() == [False, True]
    assert torch.equal(theta[0], stalled)  # the input is not changed


def test_reseat_handles_several_dead_units_one_after_another(task3):
    fits = remedies.local_fits(task3.X, task3.y, 20)
    theta = torch.zeros(1, 3, 4, dtype=F64)
    theta[0, 0, -1] = 10.0  # unit 0 wins everything; units 1 and 2 are dead
    new, revived = remedies.reseat_dead_units(theta, task3.X, task3.y, fits)
    assert revived.tolist() == [[False, True, True]]
    assert not torch.equal(new[0, 1], new[0, 2])


def test_reseat_dead_units_rejects_bad_input(task):
    fits = remedies.local_fits(task.X, task.y, 20)
    with pytest.raises(ValueError, match="theta"):
        remedies.reseat_dead_units(torch.zeros(2, 2, 2, dtype=F64), task.X, task.y, fits)
    with pytest.raises(ValueError, match="fits"):
        remedies.reseat_dead_units(torch.zeros(2, 2, 3, dtype=F64), task.X, task.y, fits[:5])


def test_revive_dead_units_on_a_torch_model_zeroes_adam_rows(task):
    torch.manual_seed(0)
    linear = nn.Linear(2, 2).double()
    fit = stall.affine_lstsq(task.X, task.y)
    models.load_theta(nn.Sequential(linear), torch.stack([fit - torch.tensor([0, 0, 9.0], dtype=F64), fit]))
    opt = torch.optim.Adam(linear.parameters(), lr=0.01)
    loss = ((linear(task.X).max(dim=1).values - task.y) ** 2).mean()
    loss.backward()
    opt.step()  # unit 0 is dead: its moments are zero already, so fill them by hand
    for p in linear.parameters():
        opt.state[p]["exp_avg"].fill_(1.0)
    revived = remedies.revive_dead_units(linear, task.X, task.y, opt, neighbours=20)
    assert revived.tolist() == [True, False]
    for p in linear.parameters():
        assert torch.count_nonzero(opt.state[p]["exp_avg"][0]) == 0
        assert (opt.state[p]["exp_avg"][1] == 1.0).all()
    assert not stall.dead_units(models.theta_from_network(nn.Sequential(linear)), task.X).any()
    assert remedies.revive_dead_units(linear, task.X, task.y, opt, neighbours=20).tolist() == [False, False]
    with pytest.raises(TypeError, match="bias=True"):
        remedies.revive_dead_units(nn.Linear(2, 2, bias=False), task.X, task.y)
    with pytest.raises(TypeError, match="optimizer"):
        remedies.zero_optimizer_rows("adam", list(linear.parameters()), revived)


def test_zero_optimizer_rows_clears_sgd_momentum():
    p = nn.Parameter(torch.ones(3, 2))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(3, 2)
    opt.step()
    remedies.zero_optimizer_rows(opt, [p], torch.tensor([False, True, False]))
    buf = opt.state[p]["momentum_buffer"]
    assert buf[1].abs().sum() == 0 and buf[0].abs().sum() > 0


def test_least_squares_partition_finds_the_pieces(task, task3):
    theta = remedies.least_squares_partition(task.X, task.y, 2, range(20), iterations=10, neighbours=20,
                                             dtype=F64)
    assert theta.shape == (20, 2, 3) and theta.dtype == F64
    assert (models.mse(theta, task.X, task.y) < 1e-16).float().mean() >= 0.9
    # a seed's start does not depend on the other seeds of the batch
    alone = remedies.least_squares_partition(task.X, task.y, 2, [7], iterations=10, neighbours=20, dtype=F64)
    torch.testing.assert_close(alone[0], theta[7], atol=1e-12, rtol=0)
    theta3 = remedies.least_squares_partition(task3.X, task3.y, 3, range(10), iterations=10, neighbours=20,
                                              dtype=F64)
    assert (models.mse(theta3, task3.X, task3.y) < 1e-16).float().mean() >= 0.8


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(units=0), ValueError, "units"),
    (dict(units=500), ValueError, "units"),
    (dict(iterations=0), ValueError, "iterations"),
    (dict(seeds=[]), ValueError, "seeds"),
])
def test_least_squares_partition_rejects_bad_input(task, kwargs, exc, name):
    args = dict(X=task.X, y=task.y, units=2, seeds=[0]) | kwargs
    with pytest.raises(exc, match=name):
        remedies.least_squares_partition(**args)


def test_restart_theta_is_a_fresh_pytorch_initialisation():
    assert torch.equal(remedies.restart_theta(5, 0, 2, 2), models.init_theta([5])[0])
    again = remedies.restart_theta(5, 1, 2, 2)
    assert not torch.equal(again, models.init_theta([5])[0])
    assert torch.equal(again, remedies.restart_theta(5, 1, 2, 2))
    with pytest.raises(ValueError, match="attempt"):
        remedies.restart_theta(5, -1, 2, 2)


# --------------------------------------------------------------------------------------------
# the batched engine against plain per-seed PyTorch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K, D, soft, aux", [(2, 2, 0, 0), (2, 2, 0.4, 0), (2, 2, 0, 0.3), (3, 3, 0, 0),
                                             (4, 2, 0.7, 0), (4, 3, 0, 0.2)])
def test_batched_gradient_matches_autograd(K, D, soft, aux):
    X = torch.rand(90, D, generator=torch.Generator().manual_seed(K), dtype=F64)
    y = (X @ torch.arange(1.0, D + 1, dtype=F64)).sin()
    theta = models.init_theta(range(4), D, K, dtype=F64)
    Xa = models.augment(X, True)
    grad = remedies._Batch(4, K, Xa, y).gradient(theta, soft, aux, 0.6).clone()
    for s in range(4):
        th = theta[s].clone().requires_grad_(True)
        z = Xa @ th.T
        loss = ((remedies.soft_max_output(z, soft, dim=1) - y) ** 2).mean()
        if aux:
            loss = loss + aux * remedies.load_balancing_loss(z, 0.6)
        loss.backward()
        torch.testing.assert_close(grad[s], th.grad, atol=1e-12, rtol=0)


def test_batched_hard_max_sends_ties_to_the_lowest_unit():
    X = torch.rand(30, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    y = X.sum(dim=1) + 1.0
    twin = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, -5.0]], dtype=F64)
    for K in (2, 3):
        theta = twin[:K].unsqueeze(0)
        grad = remedies._Batch(1, K, models.augment(X, True), y).gradient(theta, 0.0, 0.0, 1.0)
        assert torch.count_nonzero(grad[0, 1:]) == 0 and torch.count_nonzero(grad[0, 0]) > 0


def reference_run(task, seed, remedy, steps, units=2, lr=0.02):
    """The remedy written as a plain loop for one seed: nn.Linear, autograd, torch.optim.Adam and
    the reader-facing functions of symcourse.remedies. Returns (final theta, final hard-max MSE)."""
    D, K = task.in_dim, units * remedy.units_factor
    X, y = task.X, task.y
    linear = nn.Linear(D, K, bias=remedy.bias).double()
    if remedy.init == "partition":
        start = remedies.least_squares_partition(X, y, K, [seed], remedy.init_iterations, remedy.neighbours,
                                                 dtype=F64)[0]
    else:
        start = models.init_theta([seed], D, K, remedy.bias, dtype=F64)[0]
    models.load_theta(nn.Sequential(linear), start)
    opt = torch.optim.Adam(linear.parameters(), lr=lr)
    fits = remedies.local_fits(X, y, remedy.neighbours) if remedy.revive_every else None
    noise = remedies.parameter_noise(seed, steps, (K, D + int(remedy.bias)), F64) if remedy.noise else None
    end, attempts = remedy.until * steps, 0
    for t in range(steps):
        z = linear(X)
        temperature = remedies.annealed(remedy.temperature, t, steps, remedy.until)
        loss = ((remedies.soft_max_output(z, temperature, dim=1) - y) ** 2).mean()
        if remedy.aux_weight and t < end:
            loss = loss + remedy.aux_weight * remedies.load_balancing_loss(z, remedy.aux_temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            if noise is not None and t < end:
                scale = remedies.annealed(remedy.noise, t, steps, remedy.until)
                linear.weight.add_(noise[t, :, :D], alpha=scale)
                if remedy.bias:
                    linear.bias.add_(noise[t, :, D], alpha=scale)
        if t + 1 < end and remedy.revive_every and (t + 1) % remedy.revive_every == 0:
            remedies.revive_dead_units(linear, X, y, opt, fits=fits)
        if t + 1 < end and remedy.restart_every and (t + 1) % remedy.restart_every == 0:
            theta = models.theta_from_network(nn.Sequential(linear))
            if stall.dead_units(theta, X).any():
                attempts += 1
                models.load_theta(nn.Sequential(linear), remedies.restart_theta(seed, attempts, D, K, dtype=F64))
                remedies.zero_optimizer_rows(opt, list(linear.parameters()), torch.ones(K, dtype=torch.bool))
    theta = models.theta_from_network(nn.Sequential(linear))
    return theta[0], models.mse(theta, X, y, bias=remedy.bias)[0]


ENGINE_CASES = {
    "baseline": remedies.baseline(),
    "no bias": remedies.no_bias(),
    "more units": remedies.more_units(2),
    "smooth max": remedies.smooth_max(1.0, until=0.6),
    "revival": remedies.dead_unit_revival(every=20, neighbours=20),
    "load balancing": remedies.load_balancing(0.2, 0.5, until=0.6),
    "partition init": remedies.partition_init(5, neighbours=20),
    "noise": remedies.noise_injection(0.05),
    "restarts": remedies.restarts(every=20),
}


@pytest.mark.parametrize("label", list(ENGINE_CASES))
def test_engine_equals_a_plain_per_seed_loop_float64(task, label):
    remedy = ENGINE_CASES[label]
    seeds, steps = [0, 1, 4], 240
    run = remedies.train_remedy(task, seeds, remedy, steps=steps, record_every=60, dtype=F64)
    for i, seed in enumerate(seeds):
        theta, final = reference_run(task, seed, remedy, steps)
        torch.testing.assert_close(run.theta[i], theta, atol=1e-9, rtol=0)
        assert run.final_loss[i].item() == pytest.approx(final.item(), abs=1e-12, rel=1e-8)
    if remedy.revive_every or remedy.restart_every:
        assert run.events.sum() > 0  # the hook really fired on these seeds


def test_engine_record_budget_and_cost(task):
    remedy = remedies.dead_unit_revival(every=50, neighbours=20)
    run = remedies.train_remedy(task, 6, remedy, steps=300, record_every=100, record_params=True, dtype=F64)
    assert run.steps.tolist() == [0, 100, 200, 300] and run.loss.shape == (4, 6)
    assert run.history.shape == (4, 6, 2, 3)
    torch.testing.assert_close(run.loss, models.mse(run.history.reshape(-1, 2, 3), task.X, task.y).view(4, 6))
    assert torch.equal(run.history[-1], run.theta) and torch.equal(run.history[0], run.theta0)
    # checks at 50, 100, 150 and 200 (before 0.75 · 300 = 225): 4 extra forward passes
    assert run.unit_evaluations == (300 + 4) * 2 * task.n_points
    assert run.config["steps"] == 300 and run.config["remedy"] == "revival" and run.remedy == remedy
    assert run.seconds > 0 and run.seconds_per_run == pytest.approx(run.seconds / 6)
    assert torch.equal(run.solved, run.final_loss <= stall.STALL_THRESHOLD)
    base = remedies.train_remedy(task, 6, steps=300, record_every=100, dtype=F64)
    assert base.unit_evaluations == 300 * 2 * task.n_points and base.remedy == remedies.baseline()
    assert torch.equal(base.events, torch.zeros(6, dtype=torch.int64))


def test_engine_results_do_not_depend_on_chunks_or_batch(task):
    remedy = remedies.noise_injection(0.1)
    whole = remedies.train_remedy(task, 5, remedy, steps=100, dtype=F64)
    chunks = remedies.train_remedy(task, 5, remedy, steps=100, chunk_size=2, dtype=F64)
    alone = remedies.train_remedy(task, [3], remedy, steps=100, dtype=F64)
    torch.testing.assert_close(whole.theta, chunks.theta, atol=1e-12, rtol=0)
    torch.testing.assert_close(whole.theta[3], alone.theta[0], atol=1e-12, rtol=0)


def test_engine_continues_from_theta0(task):
    first = remedies.train_remedy(task, 3, steps=50, dtype=F64)
    again = remedies.train_remedy(task, 3, steps=50, theta0=first.theta0, dtype=F64)
    torch.testing.assert_close(again.theta, first.theta, atol=0, rtol=0)
    more = remedies.train_remedy(task, 3, steps=30, theta0=first.theta.float(), dtype=F64)
    assert torch.equal(more.theta0, first.theta.float().double()) and more.theta0.dtype == F64
    with pytest.raises(ValueError, match="theta0"):
        remedies.train_remedy(task, 3, steps=10, theta0=torch.zeros(3, 3, 3, dtype=F64))
    with pytest.raises(ValueError, match="not both"):
        remedies.train_remedy(task, 3, remedies.partition_init(2, 20), steps=10, theta0=first.theta)


def test_engine_threads_do_not_change_results_and_are_restored(task):
    before = torch.get_num_threads()
    one = remedies.train_remedy(task, 3, remedies.smooth_max(1.0), steps=60, dtype=F64)
    two = remedies.train_remedy(task, 3, remedies.smooth_max(1.0), steps=60, dtype=F64, threads=2)
    assert torch.get_num_threads() == before
    torch.testing.assert_close(one.theta, two.theta, atol=1e-12, rtol=0)


def test_engine_float32_follows_float64(task):
    task32 = data.stall_task(n_points=128, seed=3)
    remedy = remedies.smooth_max(1.0)
    a = remedies.train_remedy(task32, 4, remedy, steps=200)
    b = remedies.train_remedy(task, 4, remedy, steps=200, dtype=F64)
    assert a.theta.dtype == torch.float32
    torch.testing.assert_close(a.theta.double(), b.theta, atol=1e-3, rtol=0)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(remedy="revival"), TypeError, "Remedy"),
    (dict(task="stall"), TypeError, "MaxAffineTask"),
    (dict(units=0), ValueError, "units"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(record_every=0), ValueError, "record_every"),
    (dict(chunk_size=0), ValueError, "chunk_size"),
    (dict(seeds=[-1]), ValueError, "seeds"),
    (dict(threads=0), ValueError, "threads"),
])
def test_train_remedy_rejects_bad_arguments(task, kwargs, exc, name):
    args = dict(task=task, seeds=2, steps=10) | kwargs
    with pytest.raises(exc, match=name):
        remedies.train_remedy(**args)


# --------------------------------------------------------------------------------------------
# comparing remedies
# --------------------------------------------------------------------------------------------


def test_compare_and_summarise(task):
    line_up = {"baseline": remedies.baseline(), "revival": remedies.dead_unit_revival(50, neighbours=20)}
    results = remedies.compare_remedies(task, line_up, seeds=8, steps=200, dtype=F64)
    assert list(results) == list(line_up)
    rows = remedies.summarise(results)
    for label, row in rows.items():
        solved = results[label].solved
        assert row["count"] == int(solved.sum()) and row["trials"] == 8
        assert row["low"] <= row["rate"] <= row["high"]
        assert row["median"] == pytest.approx(results[label].final_loss.median().item(), rel=0.5)
        assert row["q10"] <= row["median"] <= row["q90"]
    assert rows["baseline"]["relative_evaluations"] == 1.0 == rows["baseline"]["relative_seconds"]
    assert rows["revival"]["relative_evaluations"] > 1.0
    assert rows["revival"]["events"] == pytest.approx(results["revival"].events.double().mean().item())
    again = remedies.summarise(results, reference="revival", task=task)
    assert again["revival"]["relative_evaluations"] == 1.0
    for label, row in again.items():
        dead = stall.dead_units(results[label].theta, task.X).any(dim=1)
        assert row["dead"] == pytest.approx(dead.double().mean().item())
    assert "dead" not in rows["baseline"]
    with pytest.raises(TypeError, match="task"):
        remedies.summarise(results, task="stall")
    with pytest.raises(ValueError, match="reference"):
        remedies.summarise(results, reference="nope")
    with pytest.raises(ValueError, match="results"):
        remedies.summarise({})
    with pytest.raises(TypeError, match="RemedyResult"):
        remedies.summarise({"x": 1})
    with pytest.raises(ValueError, match="remedies"):
        remedies.compare_remedies(task, {})


def test_overlaps():
    a, b, c = dict(low=0.1, high=0.3), dict(low=0.25, high=0.5), dict(low=0.6, high=0.9)
    assert remedies.overlaps(a, b) and remedies.overlaps(b, a) and not remedies.overlaps(a, c)
    with pytest.raises(TypeError, match="rate summary"):
        remedies.overlaps(a, {"low": 0.1})


# --------------------------------------------------------------------------------------------
# the larger task, knobs, plots, explorer and self-checks of chapter 6
# --------------------------------------------------------------------------------------------


def test_larger_task_every_piece_owns_points():
    task = remedies.larger_task()
    assert task.in_dim == 3 and task.n_points == 200 and task.weights.shape == (4, 3)
    shares = torch.bincount(task.target_piece(task.X), minlength=4)
    assert (shares > 20).all()
    torch.testing.assert_close(task.target(task.X), task.y)


def test_remedy_from_knobs():
    assert remedies.remedy_from_knobs("revival") == remedies.standard_remedies()["revival"]
    assert remedies.remedy_from_knobs("smooth max", 1.5).temperature == 1.5
    assert remedies.remedy_from_knobs("load balancing", 0.3).aux_weight == 0.3
    assert remedies.remedy_from_knobs("noise", 0.2).noise == 0.2
    assert remedies.remedy_from_knobs("more units", 3.4).units_factor == 3
    assert remedies.remedy_from_knobs("more units", 0.5).units_factor == 2
    assert remedies.remedy_from_knobs("restarts", every=75).restart_every == 75
    assert remedies.remedy_from_knobs("revival", 9.0, every=75).revive_every == 75  # strength ignored
    assert remedies.remedy_from_knobs("baseline", 3.0, 10) == remedies.baseline()
    with pytest.raises(ValueError, match="kind"):
        remedies.remedy_from_knobs("dropout")
    with pytest.raises(ValueError, match="strength"):
        remedies.remedy_from_knobs("noise", -1.0)
    with pytest.raises(ValueError, match="every"):
        remedies.remedy_from_knobs("restarts", every=0)


def test_final_loss_strips_draws_every_run():
    losses = {"a": torch.tensor([1e-12, 1e-2, 0.0]), "b": torch.tensor([5e-2])}
    ax = plots.final_loss_strips(losses, title="t")
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == 4 and ax.get_xscale() == "log" and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="final_losses"):
        plots.final_loss_strips({})
    with pytest.raises(ValueError, match="threshold"):
        plots.final_loss_strips(losses, threshold=0.0)
    with pytest.raises(ValueError, match="final_losses"):
        plots.final_loss_strips({"a": torch.zeros(2, 2)})


def test_format_remedy_table(task):
    results = remedies.compare_remedies(task, {"baseline": remedies.baseline(), "noise": remedies.noise_injection()},
                                        seeds=3, steps=50, dtype=F64)
    text = plots.format_remedy_table(remedies.summarise(results))
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith("baseline") and lines[2].startswith("noise")
    assert all("time: " in line and " ms" in line for line in lines[1:])
    assert "/3" in lines[1] and "1.00×" in lines[1]
    assert max(len(line.split("time:")[0]) for line in lines) < 75  # fits the book's code column
    with pytest.raises(ValueError, match="rows"):
        plots.format_remedy_table({})


def test_remedy_explorer_figure_matches_the_engine():
    from symcourse import widgets

    fig, info = widgets.remedy_explorer_figure("smooth max", strength=2.0, seed=3)
    assert len(fig.axes) >= 2
    run = remedies.train_remedy(data.stall_task(), widgets.REMEDY_SEEDS, remedies.smooth_max(2.0),
                                steps=widgets.REMEDY_STEPS, record_every=widgets.REMEDY_STEPS)
    assert info["solved"] == int(run.solved.sum()) and info["trials"] == widgets.REMEDY_SEEDS
    assert info["final_mse"] == pytest.approx(run.final_loss[3].item(), rel=1e-6)
    assert info["knob"] == "temperature" and info["strength"] == 2.0 and info["every"] is None
    assert info["low"] <= info["solved"] / info["trials"] <= info["high"]
    _, info = widgets.remedy_explorer_figure("no bias", seed=0)  # units without biases are drawn too
    assert info["units"] == 2 and info["strength"] is None


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(remedy="dropout"), ValueError, "remedy"),
    (dict(strength=0.0), ValueError, "strength"),
    (dict(every=0), ValueError, "every"),
    (dict(seed=40), ValueError, "seed"),
    (dict(seed=True), ValueError, "seed"),
])
def test_remedy_explorer_figure_rejects_bad_input(kwargs, exc, name):
    from symcourse import widgets

    with pytest.raises(exc, match=name):
        widgets.remedy_explorer_figure(**kwargs)


def test_remedy_explorer_follows_its_controls():
    from symcourse import widgets

    explorer = widgets.RemedyExplorer()
    assert set(explorer.controls) == {"remedy", "strength", "every", "seed"}
    assert explorer.info["remedy"] == "revival" and explorer.info["every"] == 250
    explorer.controls["every"].value = 100
    assert explorer.info["every"] == 100
    reference = remedies.train_remedy(data.stall_task(), widgets.REMEDY_SEEDS, remedies.dead_unit_revival(100),
                                      steps=widgets.REMEDY_STEPS, record_every=widgets.REMEDY_STEPS)
    assert explorer.info["solved"] == int(reference.solved.sum())
    explorer.controls["remedy"].value = "noise"
    explorer.controls["strength"].value = 0.1
    assert explorer.info["remedy"] == "noise" and explorer.info["strength"] == pytest.approx(0.1)
    explorer.controls["seed"].value = 5
    assert explorer.info["seed"] == 5
    assert not plt.get_fignums()  # every redraw closed its figure


CHECKS = ["remedies-soft-share", "remedies-balance-value", "remedies-noise-walk", "remedies-own-revival",
          "remedies-larger-temperature"]


def test_chapter_6_checks_are_registered():
    assert sorted(CHECKS) == [i for i in exercises.exercise_ids() if i.startswith("remedies-")]


def own_revival_mse():
    """Exercise 4 done independently: question network, seed 1, Adam, revival every 250 steps."""
    task = data.stall_task()
    torch.manual_seed(1)
    net = models.question_network()
    linear = models.linear_layer(net)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for step in range(1, 2001):
        loss = ((task.y[:, None] - net(task.X)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 and step < 1500:
            remedies.revive_dead_units(linear, task.X, task.y, opt)
    with torch.no_grad():
        return ((task.y[:, None] - net(task.X)) ** 2).mean().item()


@pytest.mark.parametrize("exercise, right, wrongs, bad_type", [
    ("remedies-soft-share", [1 / (1 + math.exp(4.0)), torch.tensor(1 / (1 + math.exp(4.0)))],
     [math.exp(-4.0), 0.5, 0.1], ["small", [0.018]]),
    ("remedies-balance-value", [2 / (1 + math.exp(-2.0))], [1.0, 2.0, 1 / (1 + math.exp(-2.0)), 1.5],
     ["one", [1.76]]),
    ("remedies-noise-walk", [0.05 * math.sqrt(sum((1 - t / 1500) ** 2 for t in range(1500)))],
     [0.05 * math.sqrt(1500), 0.05 * sum(1 - t / 1500 for t in range(1500)), 0.5], ["far", [1.0]]),
    ("remedies-larger-temperature", [2.0], [1.0, 0.0, -1.0, 1000.0], ["hot", [2.0]]),
])
def test_chapter_6_checks_accept_reject_and_explain(exercise, right, wrongs, bad_type):
    for answer in right:
        feedback = exercises.check(exercise, answer)
        assert feedback.ok, (answer, feedback.message)
    secrets = [float(exercises.scalar(right[0]))]
    for answer in wrongs:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect", (answer, feedback.message)
        for number in [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", feedback.message)]:
            for secret in secrets:
                if exercise != "remedies-larger-temperature":
                    assert not math.isclose(number, secret, rel_tol=1e-2), feedback.message
    for answer in bad_type:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect" and feedback.message.startswith("expected"), feedback.message
    assert exercises.check(exercise, ...).status == "unsolved"


def test_own_revival_check():
    value = own_revival_mse()
    assert exercises.check("remedies-own-revival", value).ok
    stalled = exercises.check("remedies-own-revival", 0.0182)
    assert stalled.status == "incorrect" and "stalls" in stalled.message
    assert exercises.check("remedies-own-revival", -1.0).status == "incorrect"
    assert exercises.check("remedies-own-revival", "small").message.startswith("expected")


def test_verdict_and_paired_counts():
    base = dict(low=0.1, high=0.2)
    assert remedies.verdict(dict(low=0.25, high=0.4), base) == "helps"
    assert remedies.verdict(dict(low=0.0, high=0.05), base) == "hurts"
    assert remedies.verdict(dict(low=0.15, high=0.3), base) == "no clear effect"
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    assert remedies.paired_counts(a, b) == (1, 1) and remedies.paired_counts(a, a) == (0, 0)
    with pytest.raises(ValueError, match="reference"):
        remedies.paired_counts(a, b[:3])
    with pytest.raises(TypeError, match="bool"):
        remedies.paired_counts(a.int(), b.int())


def test_first_revival(task):
    fit = stall.affine_lstsq(task.X, task.y)
    dead = torch.stack([fit, fit - torch.tensor([0.0, 0.0, 5.0], dtype=F64)])
    alive = models.perfect_theta()[0]
    assert remedies.first_revival(torch.stack([alive, dead, dead, alive, dead, alive]), task.X) == 3
    with pytest.raises(ValueError, match="no unit"):
        remedies.first_revival(torch.stack([dead, dead]), task.X)
    with pytest.raises(ValueError, match="history"):
        remedies.first_revival(dead, task.X)


def test_remedy_outcomes_and_revival_story(task):
    rows = {"a": dict(rate=0.5, low=0.3, high=0.7, trials=10), "b": dict(rate=1.0, low=0.7, high=1.0, trials=10)}
    fig = plots.remedy_outcomes(rows, {"a": torch.rand(10), "b": torch.rand(10)}, title="t")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "t"
    with pytest.raises(ValueError, match="same labels"):
        plots.remedy_outcomes(rows, {"a": torch.rand(10)})
    run = remedies.train_remedy(task, [0], remedies.dead_unit_revival(20, neighbours=20), steps=100,
                                record_every=20, record_params=True, dtype=F64)
    fig = plots.revival_story(run.history[:, 0], run.steps, 2, {"revival": run.loss[:, 0]}, task, title="s")
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "s"
    assert len(fig.axes[2].get_lines()) == 1
    with pytest.raises(ValueError, match="row"):
        plots.revival_story(run.history[:, 0], run.steps, 0, {}, task)
    with pytest.raises(ValueError, match="losses"):
        plots.revival_story(run.history[:, 0], run.steps, 1, {"x": torch.zeros(2, dtype=F64)}, task)
