"""Unit tests for symcourse.permutation and the digits data (chapter 10), on networks and data
the notebook does not use (random inputs, other widths and depths)."""
from __future__ import annotations

import math

import pytest
import torch

from symcourse import permutation as pm
from symcourse.data import ClassificationTask, digits_split
from symcourse.exercises import check

f64 = torch.float64


def toy_task(n=60, d=5, classes=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=f64)
    return ClassificationTask(X=X, labels=(X[:, 0] > 0).long() + (X[:, 1] > 0.5).long(),
                              n_classes=classes, seed=seed)


def net(seed=0, sizes=(5, 6, 4, 3)):
    return pm.select(pm.init_mlps(list(sizes), [seed]), 0)


def test_digits_split_is_the_scikit_learn_data_and_disjoint():
    from sklearn.datasets import load_digits

    train, test = digits_split(n_train=1000, seed=3)
    assert train.X.shape == (1000, 64) and test.X.shape == (797, 64)
    images, labels = load_digits(return_X_y=True)
    whole = torch.cat([train.X, test.X]) * 16
    assert sorted(map(tuple, whole.tolist())) == sorted(map(tuple, images.tolist()))
    assert sorted(torch.cat([train.labels, test.labels]).tolist()) == sorted(labels.tolist())
    assert float(train.X.max()) == 1.0 and float(train.X.min()) == 0.0


@pytest.mark.parametrize("kwargs, error", [({"n_train": 0}, ValueError), ({"n_train": 1790}, ValueError),
                                           ({"n_train": 2.5}, TypeError), ({"seed": -1}, ValueError)])
def test_digits_split_rejects_bad_inputs(kwargs, error):
    with pytest.raises(error):
        digits_split(**kwargs)


def test_permutation_leaves_the_function_unchanged_and_moves_the_weights():
    a = net(sizes=(5, 6, 4, 7, 3))
    X = toy_task().X
    for seed in range(5):
        moved = pm.permute(a, pm.random_permutations(a, seed=seed))
        assert (pm.forward(moved, X) - pm.forward(a, X)).abs().max() < 1e-13
    assert pm.distance(a, moved) > 0.1
    assert pm.hidden_widths(a) == [6, 4, 7]


def test_permute_matches_the_matrix_form():
    a = net()
    p0, p1 = torch.tensor([2, 0, 1, 5, 3, 4]), torch.tensor([3, 1, 0, 2])
    P0, P1 = torch.eye(6, dtype=f64)[:, p0], torch.eye(4, dtype=f64)[:, p1]
    moved = pm.permute(a, [p0, p1])
    assert torch.allclose(moved[0], a[0] @ P0) and torch.allclose(moved[1], a[1] @ P0)
    assert torch.allclose(moved[2], P0.T @ a[2] @ P1) and torch.allclose(moved[4], P1.T @ a[4])
    assert torch.equal(moved[5], a[5])


def test_n_copies_and_closest_units():
    assert pm.n_copies([3, 4]) == 144 and pm.n_copies([32, 32]) == math.factorial(32) ** 2
    a = net()
    assert min(pm.closest_units(a)) > 0
    twin = list(a)
    twin[0] = twin[0].clone(); twin[1] = twin[1].clone(); twin[2] = twin[2].clone()
    twin[0][:, 1], twin[1][1], twin[2][1] = twin[0][:, 0], twin[1][0], twin[2][0]
    assert pm.closest_units(tuple(twin))[0] == 0.0


def test_barrier_definition():
    t = torch.linspace(0, 1, 5, dtype=f64)
    line = 1.0 + 2.0 * t  # a straight line has no barrier
    assert abs(pm.barrier(t, line).item()) < 1e-15
    bump = line + torch.tensor([0.0, 0.5, 1.0, 0.2, 0.0], dtype=f64)
    assert pm.barrier(t, bump).item() == pytest.approx(1.0)
    both = pm.barrier(t, torch.stack([line, bump], dim=1))
    assert both.shape == (2,) and both[1].item() == pytest.approx(1.0)


def test_weight_matching_recovers_a_shuffled_copy_and_activation_matching_too():
    a = net(sizes=(5, 8, 6, 3))
    perms = pm.random_permutations(a, seed=4)
    shuffled = pm.permute(a, perms)
    found, sweeps = pm.weight_matching(a, shuffled)
    assert all(torch.equal(p, q) for p, q in zip(pm.permute(shuffled, found), a)) and sweeps >= 1
    X = toy_task().X
    back = pm.permute(shuffled, pm.activation_matching(a, shuffled, X))
    assert pm.distance(back, a) < 1e-12
    for method in pm.METHODS:
        aligned = pm.align(a, net(seed=1, sizes=(5, 8, 6, 3)), method, X)
        assert (pm.forward(aligned, X) - pm.forward(net(seed=1, sizes=(5, 8, 6, 3)), X)).abs().max() < 1e-13


def test_weight_matching_never_increases_the_distance():
    a, b = net(seed=2, sizes=(5, 10, 10, 3)), net(seed=3, sizes=(5, 10, 10, 3))
    aligned = pm.align(a, b, "weights")
    assert pm.distance(a, aligned) < pm.distance(a, b)


def test_training_in_batch_equals_training_alone_and_lowers_the_loss():
    task = toy_task()
    both = pm.train_mlps(task, [5, 8, 3], [0, 1], steps=30, batch=20)
    alone = pm.train_mlps(task, [5, 8, 3], [1], steps=30, batch=20)
    assert all(torch.allclose(p[1], q[0], atol=1e-12) for p, q in zip(both, alone))
    start = pm.loss_and_accuracy(pm.init_mlps([5, 8, 3], [0]), task)[0]
    assert pm.loss_and_accuracy(both, task)[0][0] < start[0]


def test_loss_path_ends_are_the_networks():
    task = toy_task()
    nets = pm.init_mlps([5, 4, 3], [0, 1])
    t, loss, acc = pm.loss_path(pm.select(nets, 0), pm.select(nets, 1), task, n_points=5)
    ends = pm.loss_and_accuracy(nets, task)[0]
    assert loss.shape == (5,) and torch.allclose(loss[[0, -1]], ends)
    assert t[0] == 0 and t[-1] == 1 and acc.shape == (5,)


def test_barrier_study_small_and_record():
    task = toy_task(n=80)
    study = pm.barrier_study(task, toy_task(n=40, seed=1), 6, 2, steps=20, batch=20, n_points=5)
    assert set(study.barriers) == set(pm.METHODS)
    assert all(b.shape == (2,) and bool((b >= 0).all()) for b in study.barriers.values())
    record = pm.study_record(study)
    assert record["width"] == 6 and len(record["barriers"]["none"]) == 2
    assert set(study.summary()) == set(pm.METHODS)


def test_stored_width_study_has_the_settings_and_every_width():
    stored = pm.stored_width_study()
    assert stored["settings"] == pm.WIDTH_STUDY
    assert [r["width"] for r in stored["records"]] == pm.WIDTH_STUDY["widths"]
    assert all(len(r["barriers"][m]) == pm.WIDTH_STUDY["pairs"] for r in stored["records"]
               for m in pm.METHODS)


def test_mean_interval_and_width_trend():
    s = pm.mean_interval([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["low"] < 2.0 < s["high"] and s["n"] == 3
    assert all(type(s[k]) is float for k in ("mean", "low", "high"))
    widths = [4, 8, 16]
    trend = pm.width_trend(widths, [[1.0, 1.1], [0.5, 0.55], [0.25, 0.27]])
    assert trend["slope"] == pytest.approx(-1.0, abs=0.05) and trend["high"] < 0
    assert all(type(trend[k]) is float for k in ("slope", "low", "high"))


@pytest.mark.parametrize("call, error", [
    (lambda: pm.forward((torch.ones(2, 3),), torch.ones(1, 2)), TypeError),
    (lambda: pm.forward(net(), torch.ones(4, 3, dtype=f64)), ValueError),
    (lambda: pm.forward(net(), torch.ones(4, 5)), ValueError),
    (lambda: pm.permute(net(), [torch.arange(6)]), ValueError),
    (lambda: pm.permute(net(), [torch.tensor([0, 0, 1, 2, 3, 4]), torch.arange(4)]), ValueError),
    (lambda: pm.n_copies([]), ValueError),
    (lambda: pm.n_copies([3, 0]), ValueError),
    (lambda: pm.interpolate(net(), net(sizes=(5, 7, 4, 3)), 0.5), ValueError),
    (lambda: pm.interpolate(net(), net(), 1.5), ValueError),
    (lambda: pm.barrier(torch.linspace(0, 1, 3, dtype=f64), torch.ones(4, dtype=f64)), ValueError),
    (lambda: pm.barrier(torch.tensor([0.0, 0.7, 0.5, 1.0]), torch.ones(4)), ValueError),
    (lambda: pm.barrier(torch.linspace(0, 1, 3), torch.tensor([0.0, float("nan"), 0.0])), ValueError),
    (lambda: pm.align(net(), net(1), "neurons"), ValueError),
    (lambda: pm.align(net(), net(1), "activations"), ValueError),
    (lambda: pm.weight_matching(net(), net(sizes=(5, 6, 5, 3))), ValueError),
    (lambda: pm.select(pm.init_mlps([5, 4, 3], [0]), 3), ValueError),
    (lambda: pm.select(net(), 0), ValueError),
    (lambda: pm.init_mlps([5, 3], [0]), ValueError),
    (lambda: pm.init_mlps([5, 0, 3], [0]), ValueError),
    (lambda: pm.train_mlps(toy_task(), [4, 6, 3], [0]), ValueError),
    (lambda: pm.train_mlps(toy_task(), [5, 6, 3], [0], lr=0.0), ValueError),
    (lambda: pm.loss_and_accuracy(net(), "data"), TypeError),
    (lambda: pm.loss_path(net(), net(1), toy_task(), n_points=1), ValueError),
    (lambda: pm.mean_interval([1.0]), ValueError),
    (lambda: pm.width_trend([8], [[1.0]]), ValueError),
    (lambda: pm.stack([]), ValueError),
    (lambda: pm.study_record({}), TypeError),
    (lambda: pm.barrier_study(toy_task(), toy_task(), 0, 2), ValueError),
])
def test_bad_inputs_are_rejected(call, error):
    with pytest.raises(error):
        call()


def test_self_checks_of_the_chapter():
    assert check("perm-copies", 36).ok and "orderings" in check("perm-copies", 144).message
    assert "undone" in check("perm-copies", 72).message
    assert "alone" in check("perm-copies", 18).message
    assert "stabil" not in check("perm-copies", 30).message and not check("perm-copies", 30).ok
    assert check("perm-copies", ...).status == "unsolved"
    assert check("perm-threshold", 0.4).ok and not check("perm-threshold", 0.8).ok
    assert not check("perm-threshold", 0.8 / 3).ok and not check("perm-threshold", 1.0).ok
    assert check("perm-match", lambda a, b: pm.weight_matching(a, b)[0][0]).ok
    assert not check("perm-match", lambda a, b: torch.arange(7)).ok
    assert not check("perm-match", lambda a, b: [0, 0, 1, 2, 3, 4, 5]).ok
    assert not check("perm-match", "not a function").ok
    assert not check("perm-match", lambda a, b: 1 / 0).ok


def test_plots_of_the_chapter():
    import matplotlib.pyplot as plt

    from symcourse import plots

    t = torch.linspace(0, 1, 5, dtype=f64)
    paths = {m: torch.rand(5, 3, dtype=f64) + 0.1 for m in pm.METHODS}
    axes = plots.interpolation_paths(t, paths, paths)
    assert axes[0].get_yscale() == "log" and len(axes[0].lines) == 9
    rows = [{"mean": 1.0, "low": 0.5, "high": 1.5}] * 2
    ax = plots.barrier_widths([8, 16], {m: rows for m in pm.METHODS})
    assert ax.get_xlabel().startswith("hidden width")
    with pytest.raises(ValueError):
        plots.barrier_widths([8, 16], {"bogus": rows})
    with pytest.raises(ValueError):
        plots.barrier_widths([8], {"none": rows})
    plt.close("all")
