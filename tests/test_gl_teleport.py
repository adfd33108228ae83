"""Unit tests for symcourse.gl_teleport (chapter 8: teleportation in Zhao et al.'s setting), on
networks of other sizes and seeds than the chapter's."""
from __future__ import annotations

import math

import pytest
import torch

from symcourse import gl_teleport as gt

f64 = torch.float64
DIMS = (3, 4, 5, 6, 2)  # 3 samples, widths 4-5-6, 2 outputs


def problem(seed=7):
    """Centred weights and inputs: with every entry positive (the chapter's start) every
    pre-activation is positive, the LeakyReLU acts as the identity and the action is the
    linear one; centring makes the nonlinearity matter."""
    weights, X, Y = gt.regression_problem(DIMS, seed=seed)
    return [w - 0.5 for w in weights], X - 0.5, Y


def random_elements(weights, seed=0, size=0.3):
    gen = torch.Generator().manual_seed(seed)
    return [torch.linalg.matrix_exp(size * torch.randn(w.shape[0], w.shape[0], generator=gen,
                                                       dtype=f64)) for w in weights[:-1]]


def test_problem_shapes_range_and_determinism():
    weights, X, Y = gt.regression_problem(DIMS, seed=7)
    assert [tuple(w.shape) for w in weights] == [(5, 4), (6, 5), (2, 6)]
    assert X.shape == (4, 3) and Y.shape == (2, 3)
    assert all(0 <= t.min() and t.max() < 1 for t in (*weights, X, Y))
    again = gt.regression_problem(DIMS, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(weights, again[0]))
    assert not torch.equal(X, gt.regression_problem(DIMS, seed=8)[1])


def test_the_action_keeps_the_loss_on_its_batch_to_float64_precision():
    weights, X, Y = problem()
    elements = random_elements(weights)
    moved = gt.gl_action(weights, X, elements)
    before = gt.regression_loss(weights, X, Y).item()
    after = gt.regression_loss(moved, X, Y).item()
    assert abs(after - before) / before < 1e-12
    assert max((a - b).abs().max().item() for a, b in zip(moved, weights)) > 0.1
    # the hidden activations are multiplied by the group elements
    for h_new, h_old, g in zip(gt.hidden(moved, X)[1:], gt.hidden(weights, X)[1:], elements):
        assert torch.allclose(h_new, g @ h_old, rtol=1e-10, atol=1e-12)


def test_the_identity_leaves_the_weights_and_a_linear_network_gets_the_linear_action():
    weights, X, Y = problem()
    same = gt.gl_action(weights, X, [torch.eye(w.shape[0], dtype=f64) for w in weights[:-1]])
    assert all(torch.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(same, weights))
    elements = random_elements(weights, seed=2)
    linear = gt.gl_action(weights, X, elements, slope=1.0)
    inverses = [torch.eye(4, dtype=f64)] + [torch.linalg.inv(g) for g in elements]
    expected = [g @ w @ gi for g, w, gi in zip(elements, weights, inverses)]
    expected.append(weights[-1] @ inverses[-1])
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-10) for a, b in zip(linear, expected))


def test_the_action_is_data_dependent():
    weights, X, Y = problem()
    moved = gt.gl_action(weights, X, random_elements(weights))
    other = torch.randn(X.shape, generator=torch.Generator().manual_seed(3), dtype=f64)
    assert (gt.hidden(weights, X)[1] < 0).any()  # the nonlinearity is in play
    before = gt.regression_loss(weights, other, Y).item()
    after = gt.regression_loss(moved, other, Y).item()
    assert abs(after - before) / before > 1e-3


def test_teleportation_raises_the_gradient_norm_and_keeps_the_loss():
    weights, X, Y = problem()
    loss = gt.regression_loss(weights, X, Y).item()
    norm = gt.gradient_norm(weights, X, Y)
    moved, norms = gt.teleport(weights, X, Y, lr=1e-6, steps=5)
    assert len(norms) == 6 and norms[0] == pytest.approx(norm, rel=1e-12)
    assert all(b > a for a, b in zip(norms, norms[1:]))
    assert gt.gradient_norm(moved, X, Y) == pytest.approx(norms[-1], rel=1e-12)
    assert abs(gt.regression_loss(moved, X, Y).item() - loss) / loss < 1e-9


def test_teleportation_refuses_a_step_that_breaks_the_loss():
    weights, X, Y = problem()
    loss = gt.regression_loss(weights, X, Y).item()
    moved, norms = gt.teleport(weights, X, Y, lr=10.0, steps=4)
    assert len(norms) < 5  # the ascent stopped early
    assert abs(gt.regression_loss(moved, X, Y).item() - loss) / loss < 1e-9


def test_train_records_every_step_and_teleports_when_told():
    weights, X, Y = problem()
    plain = gt.train(weights, X, Y, lr=1e-3, steps=30)
    assert len(plain.loss) == len(plain.seconds) == 31 and plain.teleports == []
    assert plain.loss[-1] < plain.loss[0]
    assert all(b >= a for a, b in zip(plain.seconds, plain.seconds[1:]))
    moved = gt.train(weights, X, Y, lr=1e-3, steps=30, teleport_at=(2, 4), teleport_lr=1e-6)
    assert len(moved.teleports) == 2 and moved.loss[:2] == plain.loss[:2]
    assert moved.teleports[0][-1] > moved.teleports[0][0]
    blown = gt.train(weights, X, Y, lr=10.0, steps=50)
    assert len(blown.loss) < 51 and not math.isfinite(blown.loss[-1])
    assert plain.steps_to(plain.loss[10]) <= 10 and plain.steps_to(-1.0) is None
    assert plain.seconds_to(-1.0) is None


def test_speedup_and_its_summary():
    ref = gt.GDRun([8.0, 4.0, 2.0, 1.0, 0.5], [0.0, 1.0, 2.0, 3.0, 4.0], [])
    fast = gt.GDRun([8.0, 1.0, 0.5, 0.2, 0.1], [0.0, 2.0, 3.0, 4.0, 5.0], [[1.0, 2.0]])
    never = gt.GDRun([8.0, 7.0, 6.0, 5.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0], [])
    s = gt.speedup(ref, fast, 3)
    assert (s["steps"], s["other_steps"], s["step_ratio"]) == (3, 1, 3.0)
    assert s["second_ratio"] == pytest.approx(1.5)
    assert gt.speedup(ref, never, 3)["step_ratio"] == 0.0
    summary = gt.summarise_speedups([2.0, 2.0, 0.5, 2.0])
    assert (summary["wins"], summary["losses"], summary["n"]) == (3, 1, 4)
    assert summary["geometric_mean"] == pytest.approx(2 ** 0.5)
    assert summary["low"] < summary["geometric_mean"] < summary["high"]
    assert summary["p_value"] == pytest.approx(0.625)
    assert math.isnan(gt.summarise_speedups([0.0, 2.0])["geometric_mean"])


def test_bad_inputs_are_refused_with_the_argument_named():
    weights, X, Y = problem()
    cases = [
        (lambda: gt.regression_problem((3, 4)), ValueError, "dims"),
        (lambda: gt.regression_problem(DIMS, seed=-1), ValueError, "seed"),
        (lambda: gt.regression_loss(weights[:1], X, Y), ValueError, "weights"),
        (lambda: gt.regression_loss(weights, X.T, Y), ValueError, "weights"),
        (lambda: gt.regression_loss(weights, X, Y[:1]), ValueError, "Y"),
        (lambda: gt.regression_loss([w.float() for w in weights], X, Y), TypeError, "dtype"),
        (lambda: gt.regression_loss(weights, X, Y, slope=0.0), ValueError, "slope"),
        (lambda: gt.regression_loss(weights, X, Y, slope=1.5), ValueError, "slope"),
        (lambda: gt.gl_action(weights, X, [torch.eye(5, dtype=f64)]), ValueError, "elements"),
        (lambda: gt.gl_action(weights, X, [torch.eye(4, dtype=f64), torch.eye(6, dtype=f64)]),
         ValueError, "elements"),
        (lambda: gt.gl_action(weights, X, [torch.zeros(5, 5, dtype=f64),
                                           torch.eye(6, dtype=f64)]), ValueError, "elements"),
        (lambda: gt.gl_action(weights, torch.cat([X[:, :2], X[:, :1]], 1),
                              random_elements(weights)), ValueError, "full column rank"),
        (lambda: gt.gl_action("W", X, []), ValueError, "weights"),
        (lambda: gt.teleport(weights, X, Y, lr=0.0), ValueError, "lr"),
        (lambda: gt.teleport(weights, X, Y, lr=1e-3, steps=0), ValueError, "steps"),
        (lambda: gt.train(weights, X, Y, lr=1e-3, steps=10, teleport_at=(10,)), ValueError,
         "teleport_at"),
        (lambda: gt.train(weights, X, Y, lr=-1.0, steps=10), ValueError, "lr"),
        (lambda: gt.speedup(weights, weights, 1), TypeError, "reference"),
        (lambda: gt.summarise_speedups([1.0]), ValueError, "ratios"),
        (lambda: gt.hidden(weights, X[:2]), ValueError, "weights"),
        (lambda: gt.GDRun([1.0], [0.0], []).steps_to(math.nan), ValueError, "target"),
        (lambda: gt.summarise_speedups([1.0, -2.0]), ValueError, "ratios"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    # more samples than the narrowest layer input: the action cannot be exact
    wide, Xw, Yw = gt.regression_problem((6, 4, 5, 6, 2), seed=1)
    with pytest.raises(ValueError, match="samples"):
        gt.regression_loss(wide, Xw, Yw)
    nan = X.clone()
    nan[0, 0] = math.nan
    with pytest.raises(ValueError, match="X"):
        gt.gradient_norm(weights, nan, Y)


def test_the_stored_study_has_both_comparisons_on_the_same_seeds():
    study = gt.stored_study()
    for part in ("reference", "tuned"):
        seeds = [s["seed"] for s in study[part]["seeds"]]
        assert seeds == list(study["seeds"]) and len(seeds) >= 10
        assert not set(seeds) & set(study["tuning_seeds"])


def test_the_study_figure_draws_four_curves_per_panel_and_refuses_other_dicts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symcourse import plots

    fig = plots.teleport_study_curves(gt.stored_study())
    left, right = fig.axes
    assert len(left.get_lines()) == 4 + len(gt.stored_study()["settings"]["schedule"])
    assert len(right.get_lines()) == 4 and left.get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="study"):
        plots.teleport_study_curves({"settings": {}})
