"""Unit tests for chapter 5: symcourse.recording, symcourse.theory, mnist1d_task,
symmetric_classifier, symmetry.find_groups, the chapter's plots and explorer.

The simulations here use networks, data and settings the notebook does not use: spiral data,
LayerNorm and LeakyReLU, other learning rates, weight decays and momenta, full batches.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from symcourse import plots, theory  # noqa: E402
from symcourse.data import mnist1d_task, spiral_task  # noqa: E402
from symcourse.models import symmetric_classifier  # noqa: E402
from symcourse.recording import train_recorded  # noqa: E402
from symcourse.symmetry import find_groups, rescale_groups, scale_groups  # noqa: E402

f64 = torch.float64


def layernorm_net(seed=1):
    """Spiral classifier with a LayerNorm scale group and LeakyReLU rescale groups."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 12), nn.LeakyReLU(0.1), nn.Linear(12, 8),
                         nn.LayerNorm(8, elementwise_affine=False, eps=0.0), nn.ReLU(),
                         nn.Linear(8, 3)).double()


@pytest.fixture(scope="module")
def spirals():
    return spiral_task(n_points=240, dtype=f64)


# ------------------------------------------------------------------ data, model, groups


def test_mnist1d_task_is_generated_offline_and_deterministic():
    a, b = mnist1d_task(n_samples=200), mnist1d_task(n_samples=200)
    assert a.X.shape == (160, 40) and a.X.dtype == f64 and a.n_classes == 10
    assert torch.equal(a.X, b.X) and torch.equal(a.labels, b.labels)
    assert set(a.labels.tolist()) == set(range(10))
    assert not torch.equal(mnist1d_task(n_samples=200, seed=3).X, a.X)


@pytest.mark.parametrize("kwargs, match", [({"n_samples": 10}, "at least 50"),
                                           ({"n_samples": 2.5}, "n_samples"),
                                           ({"seed": -1}, "seed")])
def test_mnist1d_task_bad_inputs(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mnist1d_task(**kwargs)


def test_symmetric_classifier_has_all_three_kinds():
    groups = find_groups(symmetric_classifier(in_dim=5, hidden=7, classes=3))
    assert {k: len(v) for k, v in groups.items()} == {"translation": 8, "scale": 7, "rescale": 7}


@pytest.mark.parametrize("kwargs, match", [({"classes": 1}, "classes"), ({"hidden": 0}, "hidden"),
                                           ({"seed": -2}, "seed"), ({"dtype": torch.int64}, "dtype")])
def test_symmetric_classifier_bad_inputs(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        symmetric_classifier(**kwargs)


def test_find_groups_skips_only_blocked_pairs():
    plain = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    found = find_groups(plain)
    assert len(found["translation"]) == 5 and found["scale"] == [] and len(found["rescale"]) == 4
    net = layernorm_net()
    assert len(rescale_groups(net, skip_blocked=True)) == 12  # the LayerNorm blocks layer 2's
    with pytest.raises(ValueError, match="LayerNorm"):
        rescale_groups(net)
    with pytest.raises(ValueError, match="no translation, scale or rescale"):
        find_groups(nn.Sequential(nn.Tanh()))


# ------------------------------------------------------------------ recording


def test_recording_matches_a_hand_computed_step(spirals):
    net = layernorm_net()
    start = {k: v.detach().clone() for k, v in net.named_parameters()}
    run = train_recorded(net, spirals, 0.3, 1, weight_decay=0.01, batch_size=None)
    w = start["5.weight"]
    assert torch.allclose(run["translation"].value[0, :8], w.sum(0), rtol=0, atol=1e-15)
    scale = start["2.weight"].pow(2).sum() + start["2.bias"].pow(2).sum()
    assert run["scale"].value[0, 0].item() == pytest.approx(scale.item(), rel=1e-14)
    end = dict(net.named_parameters())
    assert run["translation"].value[1, :8] == pytest.approx(end["5.weight"].detach().sum(0),
                                                             rel=1e-13)
    assert run.loss.shape == (1,) and run.times.tolist() == [0.0, 0.3]


def test_constraints_hold_on_every_batch(spirals):
    run = train_recorded(layernorm_net(), spirals, 0.2, 30, batch_size=16, momentum=0.5)
    for kind in ("translation", "scale", "rescale"):
        assert run[kind].constraint.abs().max() < 1e-12


def test_recording_bad_inputs(spirals):
    net = layernorm_net()
    with pytest.raises(TypeError, match="float64"):
        train_recorded(layernorm_net().float(), spirals, 0.1, 2)
    with pytest.raises(ValueError, match="batch_size"):
        train_recorded(net, spirals, 0.1, 2, batch_size=10_000)
    with pytest.raises(ValueError, match="momentum"):
        train_recorded(net, spirals, 0.1, 2, momentum=1.0)
    with pytest.raises(TypeError, match="ClassificationTask"):
        train_recorded(net, spirals.X, 0.1, 2)
    overlapping = {"scale": scale_groups(net) * 2}
    with pytest.raises(ValueError, match="overlaps"):
        train_recorded(net, spirals, 0.1, 2, groups=overlapping)
    with pytest.raises(ValueError, match="kind"):
        train_recorded(net, spirals, 0.1, 2)["permutation"]


# ------------------------------------------------------------------ theory against simulation


@pytest.mark.parametrize("momentum", [0.0, 0.7])
@pytest.mark.parametrize("batch_size", [None, 20])
def test_exact_recursions_match_simulation(spirals, momentum, batch_size):
    run = train_recorded(layernorm_net(), spirals, 0.15, 150, weight_decay=0.02,
                         momentum=momentum, batch_size=batch_size, seed=4)
    for kind in ("translation", "scale", "rescale"):
        p = theory.predictions(run, kind)
        assert theory.relative_error(p["exact"], p["measured"]) < 1e-10, kind


@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_continuous_model_converges_as_the_step_shrinks(spirals, momentum):
    errors = []
    for lr in (0.2, 0.05):
        run = train_recorded(layernorm_net(), spirals, lr, round(6 / lr), weight_decay=0.05,
                             momentum=momentum, batch_size=None)
        p = theory.predictions(run, "scale")
        errors.append(theory.relative_error(p["continuous"], p["measured"]))
    assert errors[1] < errors[0] / 2


def test_no_weight_decay_means_steps_of_eta_squared_times_gradient(spirals):
    run = train_recorded(layernorm_net(), spirals, 0.25, 40, batch_size=32)
    r = run["rescale"]
    assert torch.allclose(torch.diff(r.value, dim=0), 0.25 ** 2 * r.grad_sq, rtol=0, atol=1e-14)
    assert torch.allclose(run["translation"].value, run["translation"].value[:1].expand(41, -1),
                          rtol=0, atol=1e-13)


@pytest.mark.parametrize("momentum", [0.5, "critical", 0.995])
def test_oscillator_closed_form_matches_the_continuous_solution(momentum):
    lr, decay = 0.2, 0.02
    beta = theory.critical_momentum("translation", lr, decay) if momentum == "critical" else momentum
    q0 = torch.tensor([1.0, -0.4], dtype=f64)
    stepped = theory.continuous_solution("translation", q0, None, 400, lr, decay, beta)
    times = torch.arange(401, dtype=f64) * lr
    closed = theory.oscillator(times, lr * (1 + beta) / 2, 1 - beta, decay, q0, -decay * q0)
    assert torch.allclose(stepped, closed, rtol=0, atol=1e-11)


def test_oscillator_solves_its_equation():
    t = torch.linspace(0, 5, 5001, dtype=f64)
    for m, g, k in [(1.0, 3.0, 1.0), (1.0, 2.0, 1.0), (1.0, 0.3, 2.0)]:
        x = theory.oscillator(t, m, g, k, 0.7, -0.2)
        h = float(t[1] - t[0])
        acc = (x[2:] - 2 * x[1:-1] + x[:-2]) / h ** 2
        vel = (x[2:] - x[:-2]) / (2 * h)
        assert (m * acc + g * vel + k * x[1:-1]).abs().max() < 1e-5
        assert x[0].item() == pytest.approx(0.7)


def test_regimes_and_critical_momentum():
    for kind in ("translation", "scale"):
        beta = theory.critical_momentum(kind, 0.1, 5e-3)
        assert theory.damping_regime(kind, 0.1, 5e-3, beta) == "critically damped"
        assert theory.damping_regime(kind, 0.1, 5e-3, beta - 0.01) == "overdamped"
        assert theory.damping_regime(kind, 0.1, 5e-3, beta + 0.01) == "underdamped"
    assert theory.critical_momentum("scale", 0.1, 5e-3) < theory.critical_momentum(
        "translation", 0.1, 5e-3)
    with pytest.raises(ValueError, match="no critical"):
        theory.critical_momentum("scale", 0.1, 0.0)
    with pytest.raises(ValueError, match="underdamped"):
        theory.critical_momentum("translation", 10.0, 10.0)


def test_theory_bad_inputs():
    q0 = torch.ones(3, dtype=f64)
    with pytest.raises(ValueError, match="needs a drive"):
        theory.exact_recursion("scale", q0, None, 5, 0.1)
    with pytest.raises(ValueError, match="fewer than"):
        theory.continuous_solution("scale", q0, torch.zeros(2, 3, dtype=f64), 5, 0.1)
    with pytest.raises(ValueError, match="shape"):
        theory.exact_recursion("scale", q0, torch.zeros(5, 2, dtype=f64), 5, 0.1)
    with pytest.raises(ValueError, match="symmetry kind"):
        theory.exact_recursion("rotation", q0, None, 5, 0.1)
    with pytest.raises(ValueError, match="momentum"):
        theory.damping_regime("scale", 0.1, 0.01, 1.2)
    with pytest.raises(TypeError, match="Recording"):
        theory.predictions({"scale": None}, "scale")
    with pytest.raises(ValueError, match="shape"):
        theory.relative_error(torch.zeros(3, 2, dtype=f64), torch.zeros(3, 1, dtype=f64))


def test_relative_error_uses_each_groups_size():
    measured = torch.tensor([[1.0, 100.0], [2.0, 200.0]], dtype=f64)
    predicted = measured + torch.tensor([[0.0, 0.0], [0.1, 1.0]], dtype=f64)
    assert theory.relative_error(predicted, measured) == pytest.approx(0.05)


# ------------------------------------------------------------------ plots and explorer


def test_chapter5_plots_and_their_checks():
    t = torch.arange(5, dtype=f64)
    values = torch.rand(5, 3, dtype=f64)
    ax = plots.theory_vs_measurement(t, values, values, kind="rescale", show=2)
    assert len(ax.lines) == 4
    ax = plots.damping_regimes(t, {"a": values}, {"a": values[:, 0]})
    ax = plots.drift_versus_lr([0.1, 0.2], [1.0, 2.0], 1.0)
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="shape"):
        plots.theory_vs_measurement(t, values, values[:, :2])
    with pytest.raises(ValueError, match="same labels"):
        plots.damping_regimes(t, {"a": values}, {"b": values[:, 0]})
    with pytest.raises(ValueError, match="same length"):
        plots.drift_versus_lr([0.1], [1.0, 2.0], 1.0)
    plt.close("all")


def test_broken_conservation_explorer_follows_its_sliders():
    from symcourse.widgets import BrokenConservationExplorer

    explorer = BrokenConservationExplorer()
    before = explorer.info
    assert before["translation"]["regime"] == "overdamped"
    explorer.controls["momentum"].value = 0.99
    after = explorer.info
    assert after["momentum"] == 0.99 and after["translation"]["regime"] == "underdamped"
    for kind in ("translation", "scale", "rescale"):
        assert after[kind]["exact"] < 1e-10
        assert after[kind]["continuous"] != before[kind]["continuous"]
    plt.close("all")



def test_fixed_time_runs_share_the_duration(spirals):
    from symcourse.recording import fixed_time_runs

    runs = fixed_time_runs(layernorm_net, spirals, [0.2, 0.1], 2.0, batch_size=None)
    assert [r.config["steps"] for r in runs.values()] == [10, 20]
    assert all(r.times[-1].item() == pytest.approx(2.0) for r in runs.values())
    with pytest.raises(TypeError, match="make_model"):
        fixed_time_runs(layernorm_net(), spirals, [0.1], 1.0)
    with pytest.raises(ValueError, match="lr"):
        fixed_time_runs(layernorm_net, spirals, [0.1, -1.0], 1.0)


def test_chapter5_self_checks():
    from symcourse.exercises import broken, check

    assert check("broken-column-sum", broken.column_sum_after()).ok
    assert not check("broken-column-sum", broken.SUM_START * math.exp(-0.5)).ok
    right = ("overdamped", "underdamped")  # translation, scale at the exercise's setting
    assert check("broken-regime", right).ok and check("broken-regime", list(right)).ok
    assert "scale" in check("broken-regime", ("overdamped", "overdamped")).message
    assert "translation" in check("broken-regime", ("underdamped", "underdamped")).message
    for bad in ("overdamped", 0.9, ("overdamped",), ("over", "under")):
        assert check("broken-regime", bad).status == "incorrect"
    assert check("broken-critical-scale", theory.critical_momentum("scale", 0.1, 5e-3)).ok
    assert "translation" in check("broken-critical-scale",
                                  theory.critical_momentum("translation", 0.1, 5e-3)).message
    good = lambda q0, d, lr, wd, b: theory.exact_recursion("rescale", q0, d, len(d), lr, wd, b)  # noqa: E731
    assert check("broken-recursion", good).ok
    no_memory = lambda q0, d, lr, wd, b: good(q0, d, lr, wd, 0.0)  # noqa: E731
    assert "β = 0.5" in check("broken-recursion", no_memory).message
    assert check("broken-recursion", lambda *a: 1 / 0).status == "incorrect"
    assert check("broken-drift-slope", 1.02).ok and "η²" in check("broken-drift-slope", 2.0).message


def test_flat_signs_follow_the_parameter_order_and_check_shapes():
    model = symmetric_classifier(in_dim=3, hidden=4, classes=2)
    groups = find_groups(model)
    flat = groups["rescale"][1].flat_signs(model)
    assert flat.numel() == sum(p.numel() for p in model.parameters())
    # 0.weight (4, 3) then 0.bias (4) then 2.weight (4, 4): row 1, bias 1, column 1
    assert flat[3:6].tolist() == [1.0, 1.0, 1.0] and flat[13].item() == 1.0
    assert flat[16:32].reshape(4, 4)[:, 1].tolist() == [-1.0] * 4
    assert flat.abs().sum().item() == 3 + 1 + 4
    with pytest.raises(ValueError, match="shape"):
        groups["rescale"][0].flat_signs(symmetric_classifier(in_dim=5, hidden=4, classes=2))
