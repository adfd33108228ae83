"""symcourse.depth: deep plain ReLU networks and rescale moves (chapter 8)."""
import pytest
import torch

from symcourse import depth as dp
from symcourse.data import ClassificationTask


def _task():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 5, generator=gen)
    return ClassificationTask(X=X, labels=(X[:, 0] > 0).long(), n_classes=2, seed=0)


def _loss(model, task):
    return torch.nn.functional.cross_entropy(model(task.X), task.labels)


@pytest.mark.parametrize("what", ["norms", "gradients"])
def test_rebalance_keeps_the_function_and_balances(what):
    task = _task()
    model = dp.plain_mlp(6, 8, 5, 2, seed=1).double()
    task = ClassificationTask(task.X.double(), task.labels, 2, 0)
    with torch.no_grad():  # unbalance the first hidden layer
        model[0].weight.mul_(5.0)
        model[0].bias.add_(0.1)
        model[2].weight.div_(5.0)
    before = model(task.X).detach()
    _loss(model, task).backward()
    left = dp.rebalance(model, what, sweeps=60)
    assert torch.allclose(model(task.X), before, atol=1e-10)
    assert left < 1e-3


def test_gradient_balance_lowers_the_gradient_norm_without_new_gradients():
    task = _task()
    model = dp.plain_mlp(5, 8, 5, 2, seed=2).double()
    task = ClassificationTask(task.X.double(), task.labels, 2, 0)
    with torch.no_grad():
        model[2].weight.mul_(10.0)
        model[4].weight.div_(10.0)
    _loss(model, task).backward()
    norm = lambda: sum(p.grad.pow(2).sum() for p in model.parameters()).item()
    before = norm()
    dp.rebalance(model, "gradients", sweeps=20)
    moved = norm()
    model.zero_grad()
    _loss(model, task).backward()
    assert moved < before and moved == pytest.approx(norm(), rel=1e-8)


def test_train_deep_records_and_stops_at_the_target():
    run = dp.train_deep(_task(), 3, "none", 0.5, steps=200, target=0.6, width=8, batch_size=20)
    assert run.steps_to_target is not None and run.losses[-1] < 0.6 and not run.diverged
    assert dp.cost(run, 200) == run.steps_to_target
    never = dp.train_deep(_task(), 3, "none", 1e-6, steps=20, target=0.01, width=8, batch_size=20)
    assert never.steps_to_target is None and dp.cost(never, 20) == 40


def test_layer_norm_network_and_summary():
    model = dp.plain_mlp(3, 4, 5, 2, layer_norm=True)
    assert any(isinstance(m, torch.nn.LayerNorm) for m in model)
    with pytest.raises(ValueError, match="plain"):
        dp.rebalance(model)
    study = {"cells": [{"depth": 3, "method": "none", "lr": 0.1,
                        "runs": [{"steps": 10, "diverged": False, "seconds": 0.1},
                                 {"steps": None, "diverged": True, "seconds": 0.2}]}]}
    rows = dp.summarise(study)
    assert rows[0]["reached"] == 1 and rows[0]["diverged"] == 1 and rows[0]["steps"][1] == 10
    assert "depth" in dp.format_depth_table(rows)


@pytest.mark.parametrize("call, match", [
    (lambda: dp.plain_mlp(1), "depth"),
    (lambda: dp.plain_mlp(3, width=0), "width"),
    (lambda: dp.rebalance(dp.plain_mlp(3), "weights"), "what"),
    (lambda: dp.rebalance(dp.plain_mlp(3), "gradients"), "backward"),
    (lambda: dp.train_deep(_task(), 3, "adam", 0.1), "method"),
    (lambda: dp.train_deep(_task(), 3, "none", -0.1), "lr"),
    (lambda: dp.summarise([]), "results"),
])
def test_bad_inputs_are_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_reached_flags_in_seed_order_and_refusals():
    study = {"cells": [{"depth": 3, "method": "none", "lr": 0.1,
                        "runs": [{"steps": 10, "diverged": False, "seconds": 0.1},
                                 {"steps": None, "diverged": True, "seconds": 0.2}]}]}
    assert dp.reached_flags(study, 3, "none").tolist() == [True, False]
    with pytest.raises(ValueError, match="no single cell"):
        dp.reached_flags(study, 5, "none")
    with pytest.raises(ValueError, match="method"):
        dp.reached_flags(study, 3, "sgd")


def test_the_stored_study_ships_with_the_package():
    study = dp.stored_study()
    assert {c["depth"] for c in study["cells"]} == {10, 50, 100}
    assert all(len(c["runs"]) == len(study["seeds"]) for c in study["cells"])
