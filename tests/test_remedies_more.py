"""Tests for chapter 7's added remedies (leaky max, bias nudging, recycling, dropout revival),
natural gradient, paired tables, symcourse.dormant (ReDo for a general network) and
symcourse.hinges (the recipe's second network). Expected values come from autograd, from
hand-built cases and from the engines they must agree with."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import dormant, hinges, remedies, stall, stats
from symcourse.data import stall_task
from symcourse.models import augment, init_theta
from symcourse.remedies import _Batch


@pytest.fixture(scope="module")
def task():
    return stall_task(n_points=120, seed=2, dtype=torch.float64)


# ---------------------------------------------------------------- leaky (straight-through) max


@pytest.mark.parametrize("units", [2, 3])
def test_leaky_max_gradient_matches_autograd_of_the_straight_through_max(task, units):
    theta = init_theta(range(4), units=units, dtype=torch.float64)
    Xa = augment(task.X, True)
    leak = 0.2
    mine = _Batch(4, units, Xa, task.y).gradient(theta, 0.0, 0.0, 1.0, leak).clone()
    th = theta.clone().requires_grad_(True)
    z = th @ Xa.T  # (S, K, N)
    top = z.max(dim=1)
    losers = torch.ones_like(z).scatter_(1, top.indices.unsqueeze(1), 0.0)
    out = top.values + leak * ((z - z.detach()) * losers).sum(dim=1)
    ((out - task.y) ** 2).mean(dim=1).sum().backward()
    torch.testing.assert_close(mine, th.grad)


def test_leaky_max_at_a_stall_gives_the_dead_unit_only_the_vanishing_live_gradient(task):
    fit = stall.affine_lstsq(task.X, task.y)
    theta = torch.stack([fit, torch.tensor([0.0, 0.0, -5.0], dtype=torch.float64)])[None]
    grad = _Batch(1, 2, augment(task.X, True), task.y).gradient(theta, 0.0, 0.0, 1.0, 0.3)
    assert grad.abs().max() < 1e-10  # the residuals of the fit are orthogonal to every input


def test_new_remedy_constructors_and_bad_inputs():
    assert remedies.leaky_max(0.1).leak == 0.1
    assert remedies.bias_nudging(0.01, 0.05).nudge_floor == 0.05
    assert remedies.dormant_recycling(50).recycle_every == 50
    assert remedies.dropout_revival(0.1).dropout_after == 0.1
    for call, match in [(lambda: remedies.leaky_max(0.0), "leak"), (lambda: remedies.leaky_max(1.0), "leak"),
                        (lambda: remedies.bias_nudging(0.0), "step"),
                        (lambda: remedies.bias_nudging(0.01, 0.0), "floor"),
                        (lambda: remedies.dormant_recycling(0), "every"),
                        (lambda: remedies.dropout_revival(0.0), "p"), (lambda: remedies.dropout_revival(1.0), "p"),
                        (lambda: remedies.Remedy("leaky max", leak=0.1, temperature=1.0), "leaky"),
                        (lambda: remedies.Remedy("bias nudging", nudge=0.1, bias=False), "bias"),
                        (lambda: remedies.Remedy("dropout after", dropout_after=0.1, noise=0.1), "dropout_after"),
                        (lambda: remedies.Remedy("recycling", recycle_every=-1), "recycle_every")]:
        with pytest.raises(ValueError, match=match):
            call()


def test_remedy_from_knobs_knows_the_added_kinds():
    assert remedies.remedy_from_knobs("leaky max", 0.2).leak == 0.2
    assert remedies.remedy_from_knobs("leaky max", 5.0).leak == 0.5  # shares stay below 1
    assert remedies.remedy_from_knobs("bias nudging", 0.03).nudge == 0.03
    assert remedies.remedy_from_knobs("recycling", every=75).recycle_every == 75
    assert remedies.remedy_from_knobs("dropout after", 0.1).dropout_after == 0.1
    assert set(remedies.extended_remedies()) > set(remedies.standard_remedies())


# ---------------------------------------------------------------- bias nudging and recycling


def test_nudge_biases_raises_only_units_below_the_floor():
    Xa = torch.tensor([[0.0, 1.0], [1.0, 1.0]])  # one input and the ones column
    theta = torch.tensor([[[1.0, 0.0], [0.0, -3.0]]])  # unit 1 wins nothing
    low = remedies.nudge_biases(theta, Xa, 0.5, 0.1)
    assert low.tolist() == [[False, True]]
    assert theta[0, 1, 1] == -2.5 and theta[0, 0, 1] == 0.0
    with pytest.raises(ValueError, match="step"):
        remedies.nudge_biases(theta, Xa, 0.0, 0.1)
    with pytest.raises(ValueError, match="Xa"):
        remedies.nudge_biases(theta, torch.ones(2, 3), 0.1, 0.1)


def test_bias_nudging_revives_a_dead_unit_in_training(task):
    seed = int(torch.nonzero(stall.dead_units(init_theta(range(20)), task.X).any(1))[0])
    run = remedies.train_remedy(task, [seed], remedies.bias_nudging(0.05), steps=200, record_every=200,
                                dtype=torch.float64)
    assert not stall.dead_units(run.theta, task.X).all(dim=1).any()
    assert run.unit_evaluations > remedies.train_remedy(task, [seed], steps=200).unit_evaluations


def test_recycling_redraws_a_dead_unit_from_a_fresh_initialisation(task):
    start = init_theta(range(20), dtype=torch.float64)
    dead = stall.dead_units(start, task.X)
    seed, unit = torch.nonzero(dead)[0].tolist()
    run = remedies.train_remedy(task, [seed], remedies.dormant_recycling(1), steps=3, record_every=1,
                                record_params=True, dtype=torch.float64)
    assert run.events[0] >= 1
    fresh = remedies.restart_theta(seed, 1, 2, 2, dtype=torch.float64)[unit]
    torch.testing.assert_close(run.history[1, 0, unit], fresh)


def test_dropout_revival_is_dropout_then_plain_training(task):
    run = remedies.train_remedy(task, [0, 1], remedies.dropout_revival(0.2, until=0.5), steps=40,
                                record_every=10, dtype=torch.float64)
    first, second = stall.dropout_then_plain(task, [0, 1], dropout_after=0.2, dropout_steps=20,
                                             total_steps=40, record_every=10, dtype=torch.float64)
    torch.testing.assert_close(run.theta, second.theta)
    assert run.steps.tolist() == [0, 10, 20, 30, 40]
    torch.testing.assert_close(run.final_loss, second.final_loss)


# ---------------------------------------------------------------- natural gradient


def test_fisher_blocks_are_the_gauss_newton_matrix_and_zero_for_a_dead_unit(task):
    theta = init_theta(range(30), dtype=torch.float64)
    blocks = remedies.fisher_blocks(theta, task.X)
    s = 0
    th = theta[s].clone().requires_grad_(True)
    Xa = augment(task.X, True)
    rows = [torch.autograd.grad((th @ Xa[n]).max(), th)[0].reshape(-1) for n in range(task.n_points)]
    J = torch.stack(rows)
    full = J.T @ J / task.n_points
    for k in range(2):
        torch.testing.assert_close(blocks[s, k], full[3 * k:3 * k + 3, 3 * k:3 * k + 3])
    dead = stall.dead_units(theta, task.X)
    assert dead.any() and torch.count_nonzero(blocks[dead]) == 0
    with pytest.raises(ValueError, match="theta"):
        remedies.fisher_blocks(theta[..., :2], task.X)


def test_natural_gradient_never_moves_a_dead_unit(task):
    start = init_theta(range(30), dtype=torch.float64)
    dead = stall.dead_units(start, task.X)
    run = remedies.train_natural_gradient(task, range(30), steps=1, lr=0.3)
    assert dead.any() and torch.equal(run.theta[dead], start[dead])
    assert not torch.equal(run.theta[~dead], start[~dead])
    assert run.loss.shape == (2, 30)
    for kwargs, match in [({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"damping": -1.0}, "damping")]:
        with pytest.raises(ValueError, match=match):
            remedies.train_natural_gradient(task, [0], **kwargs)
    with pytest.raises(TypeError, match="task"):
        remedies.train_natural_gradient("task", [0])


# ---------------------------------------------------------------- paired tables


def test_paired_rows_verdicts_and_table(task):
    results = remedies.compare_remedies(task, {"baseline": remedies.baseline(),
                                               "revival": remedies.dead_unit_revival(20)},
                                        seeds=range(12), steps=80, record_every=80)
    paired = remedies.paired_rows(results)
    assert paired["baseline"]["gained"] == paired["baseline"]["lost"] == 0
    expected = stats.paired_comparison(results["revival"].solved, results["baseline"].solved)
    assert paired["revival"] == expected
    table = remedies.format_paired_table(remedies.summarise(results), paired)
    assert table.splitlines()[0].startswith("remedy") and len(table.splitlines()) == 3
    with pytest.raises(ValueError, match="reference"):
        remedies.paired_rows(results, reference="nope")
    with pytest.raises(ValueError, match="same labels"):
        remedies.format_paired_table(remedies.summarise(results), {"x": 1})


@pytest.mark.parametrize("gained, lost, p, word", [(10, 0, 0.002, "helps"), (0, 10, 0.002, "hurts"),
                                                   (3, 1, 0.6, "no clear effect")])
def test_paired_verdict(gained, lost, p, word):
    assert remedies.paired_verdict({"gained": gained, "lost": lost, "p_value": p}) == word


def test_paired_verdict_rejects_bad_input():
    with pytest.raises(TypeError, match="comparison"):
        remedies.paired_verdict({"gained": 1})
    with pytest.raises(ValueError, match="alpha"):
        remedies.paired_verdict({"gained": 1, "lost": 0, "p_value": 0.1}, alpha=2.0)


# ---------------------------------------------------------------- dormant units, general network


def test_dormant_scores_and_active_shares():
    h = torch.tensor([[0.0, 2.0, 1.0], [0.0, 2.0, 0.0]])
    torch.testing.assert_close(dormant.dormant_scores(h), torch.tensor([0.0, 2.0, 0.5]) / (2.5 / 3))
    torch.testing.assert_close(dormant.active_shares(h), torch.tensor([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match="activations"):
        dormant.dormant_scores(torch.ones(3))
    with pytest.raises(ValueError, match="activations"):
        dormant.active_shares(torch.ones(1, 1, 1, 1))


def test_recycle_dormant_on_a_small_mlp():
    torch.manual_seed(0)
    first, second = nn.Linear(2, 3), nn.Linear(3, 1)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.5], [-1.0, -1.0], [0.5, 1.0]]))
        first.bias.copy_(torch.tensor([0.1, -5.0, 0.2]))  # unit 1 is inactive on the square
    opt = torch.optim.Adam(list(first.parameters()) + list(second.parameters()), lr=0.1)
    X = torch.rand(50, 2)
    ((second(torch.relu(first(X))) - 1.0) ** 2).mean().backward()
    opt.step()
    h = torch.relu(first(X))
    kept = first.weight[[0, 2]].detach().clone()
    mask = dormant.recycle_dormant(first, second, h, optimizer=opt, generator=torch.Generator().manual_seed(1))
    assert mask.tolist() == [False, True, False]
    assert torch.equal(first.weight[[0, 2]], kept) and not torch.equal(first.weight[1], torch.tensor([-1.0, -1.0]))
    assert first.weight[1].abs().max() <= 1 / 2 ** 0.5 and second.weight[0, 1] == 0
    assert opt.state[first.weight]["exp_avg"][1].abs().sum() == 0
    assert opt.state[second.weight]["exp_avg_sq"][0, 1] == 0
    with pytest.raises(TypeError, match="layer_in"):
        dormant.recycle_dormant("x", second, h)
    with pytest.raises(ValueError, match="inputs"):
        dormant.recycle_dormant(first, nn.Linear(4, 1), h)
    with pytest.raises(ValueError, match="threshold"):
        dormant.recycle_dormant(first, second, h, threshold=-1.0)
    with pytest.raises(TypeError, match="optimizer"):
        dormant.recycle_dormant(first, second, h, optimizer="adam")


# ---------------------------------------------------------------- hinge network


def test_hinge_gradients_match_autograd():
    t = hinges.hinge_task(50, seed=3, dtype=torch.float64)
    params = hinges.hinge_init(range(5), dtype=torch.float64)
    for leak in (0.0, 0.2):
        mine = hinges._hinge_gradients(params, t.x, t.y, 2.0 / 50, leak)
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        pre = p["w"].unsqueeze(-1) * t.x + p["b"].unsqueeze(-1)
        below = torch.clamp(pre, max=0.0)
        h = torch.relu(pre) + leak * (below - below.detach())
        out = (p["v"].unsqueeze(-1) * h).sum(1) + p["c"].unsqueeze(-1)
        ((out - t.y) ** 2).mean(1).sum().backward()
        for k in p:
            torch.testing.assert_close(mine[k], p[k].grad)


def test_hinge_init_is_pytorchs_default_and_target_is_planted():
    params = hinges.hinge_init([4])
    torch.manual_seed(4)
    first, second = nn.Linear(1, 3), nn.Linear(3, 1)
    torch.testing.assert_close(params["w"][0], first.weight[:, 0].detach())
    torch.testing.assert_close(params["v"][0], second.weight[0].detach())
    x = torch.tensor([-1.0, 0.0, 1.0])
    torch.testing.assert_close(hinges.hinge_target(x), torch.tensor([0.5, 1.0, 5.5]))


def test_train_hinges_recycling_leaves_no_dead_unit_and_rejects_bad_input():
    t = hinges.hinge_task(60, seed=2)
    base = hinges.train_hinges(t, range(8), steps=120, every=20)
    recycled = hinges.train_hinges(t, range(8), "recycling", steps=120, every=20, until=0.9)
    assert base.dead_start.any() and torch.equal(base.dead_start, recycled.dead_start)
    assert recycled.events.sum() >= base.dead_start.sum()
    for kwargs, exc in [({"kind": "magic"}, ValueError), ({"kind": "leaky", "knob": 0.0}, ValueError),
                        ({"kind": "leaky", "knob": 1.0}, ValueError), ({"steps": 0}, ValueError),
                        ({"until": 2.0}, ValueError), ({"every": 0}, ValueError)]:
        with pytest.raises(exc):
            hinges.train_hinges(t, [0], **kwargs)
    with pytest.raises(TypeError, match="task"):
        hinges.train_hinges("t", [0])
    with pytest.raises(ValueError, match="seed"):
        hinges.hinge_task(10, seed=-1)


def test_failure_kinds_sorts_every_failed_run_once(task):
    run = remedies.train_remedy(task, range(16), steps=150, record_every=150)
    kinds = remedies.failure_kinds(run, task)
    assert kinds["failed"] == int((~run.solved).sum()) == kinds["dead"] + kinds["slow"] + kinds["stuck"]
    dead = stall.dead_units(run.theta, task.X).any(1)
    assert kinds["dead"] == int((dead & ~run.solved).sum())
    with pytest.raises(ValueError, match="slow_factor"):
        remedies.failure_kinds(run, task, slow_factor=1.0)
    with pytest.raises(TypeError, match="result"):
        remedies.failure_kinds("run", task)
