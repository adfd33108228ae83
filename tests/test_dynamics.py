"""Unit tests for symcourse.dynamics (chapter 4), its plots and its exercise self-checks."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from symcourse import conservation as cons, dynamics as dyn, exercises, plots  # noqa: E402
from symcourse.exercises import dynamics as ex  # noqa: E402

f64 = torch.float64


def bumpy(th):
    """A non-quadratic loss not used in the notebook."""
    return 0.5 * (th[0] * th[1] - 1) ** 2 + 0.1 * th[0] ** 4 + 0.05 * torch.sin(th[1])


def quadratic():
    A = torch.tensor([[2.0, 0.5], [0.5, 0.7]], dtype=f64)
    return A, (lambda th: 0.5 * th @ A @ th)


# ------------------------------------------------------------------ discrete optimisers


def test_heavy_ball_without_extras_is_gradient_descent():
    start = torch.tensor([1.5, 0.3], dtype=f64)
    a = dyn.heavy_ball(bumpy, start, 0.05, 30)
    b = cons.gradient_descent(bumpy, start, 0.05, 30)
    assert torch.allclose(a.theta, b.theta, rtol=0, atol=1e-14)
    assert torch.allclose(a.times, torch.arange(31, dtype=f64) * 0.05)
    assert a.theta.shape == (31, 2) and a.loss.shape == (31,)


def test_heavy_ball_momentum_and_weight_decay_by_hand():
    A, loss = quadratic()
    th = torch.tensor([1.0, -1.0], dtype=f64)
    v = torch.tensor([0.1, 0.2], dtype=f64)
    run = dyn.heavy_ball(loss, th, 0.1, 3, momentum=0.6, weight_decay=0.2, velocity0=v)
    for k in range(3):
        v = 0.6 * v - 0.1 * (A @ th + 0.2 * th)
        th = th + v
        assert torch.allclose(run.theta[k + 1], th, atol=1e-14)


def test_weight_decay_shrinks_translation_sums_geometrically():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(30, 3, generator=gen, dtype=f64)
    labels = torch.randint(0, 2, (30,), generator=gen)
    run = dyn.heavy_ball(lambda th: cons.softmax_loss(th, X, labels, 2),
                         torch.randn(8, generator=gen, dtype=f64), 0.2, 50, weight_decay=0.1)
    S = run.theta[:, 6:].sum(dim=1)  # bias sum
    assert torch.allclose(S, S[0] * 0.98 ** torch.arange(51, dtype=f64), atol=1e-13)


@pytest.mark.parametrize("kwargs, error", [
    (dict(lr=0.0), ValueError), (dict(lr="a"), TypeError), (dict(steps=0), ValueError),
    (dict(steps=2.5), TypeError), (dict(momentum=1.0), ValueError), (dict(momentum=-0.1), ValueError),
    (dict(weight_decay=-1.0), ValueError), (dict(velocity0=torch.zeros(3, dtype=f64)), ValueError),
])
def test_heavy_ball_bad_inputs(kwargs, error):
    args = dict(lr=0.1, steps=3) | kwargs
    lr, steps = args.pop("lr"), args.pop("steps")
    with pytest.raises(error):
        dyn.heavy_ball(bumpy, torch.tensor([1.0, 1.0], dtype=f64), lr, steps, **args)


def test_heavy_ball_rejects_non_callable_and_reports_divergence():
    with pytest.raises(TypeError, match="callable"):
        dyn.heavy_ball(3, torch.ones(2, dtype=f64), 0.1, 2)
    with pytest.raises(FloatingPointError, match="diverged"):
        dyn.heavy_ball(lambda th: 1e200 * (th ** 2).sum(), torch.ones(2, dtype=f64), 10.0, 50)


# ------------------------------------------------------------------ modified losses


def test_correction_coefficient_values_and_errors():
    assert dyn.correction_coefficient(0.2) == pytest.approx(0.05)
    assert dyn.correction_coefficient(0.1, 0.5) == pytest.approx(0.15)
    with pytest.raises(ValueError):
        dyn.correction_coefficient(-0.1)
    with pytest.raises(ValueError):
        dyn.correction_coefficient(0.1, 1.0)


def test_flow_loss_scales_and_checks():
    _, loss = quadratic()
    th = torch.tensor([1.0, 2.0], dtype=f64)
    assert dyn.flow_loss(loss, 0.75)(th).item() == pytest.approx(4 * loss(th).item())
    with pytest.raises(TypeError):
        dyn.flow_loss(None)
    with pytest.raises(ValueError):
        dyn.flow_loss(loss, 1.5)


def test_modified_loss_and_gradient_match_closed_form_on_a_quadratic():
    A, loss = quadratic()
    th = torch.tensor([0.3, -1.2], dtype=f64)
    lr, beta = 0.1, 0.4
    c = dyn.correction_coefficient(lr, beta)
    g = A @ th
    value = dyn.modified_loss(loss, lr, beta)(th).item()
    assert value == pytest.approx((loss(th).item() + c * (g @ g).item()) / (1 - beta), rel=1e-12)
    grad = dyn.modified_gradient(loss, th, lr, beta)
    assert torch.allclose(grad, (g + 2 * c * A @ g) / (1 - beta), atol=1e-13)


def test_modified_gradient_matches_finite_differences_on_a_nonquadratic_loss():
    th = torch.tensor([0.8, -0.4], dtype=f64)
    f = dyn.modified_loss(bumpy, 0.05)
    grad = dyn.modified_gradient(bumpy, th, 0.05)
    h = 1e-6
    fd = torch.stack([(f(th + h * e) - f(th - h * e)).detach() / (2 * h) for e in torch.eye(2, dtype=f64)])
    assert torch.allclose(grad, fd, atol=1e-7)


def test_modified_loss_bad_inputs():
    with pytest.raises(TypeError):
        dyn.modified_loss("L", 0.1)
    with pytest.raises(ValueError):
        dyn.modified_loss(bumpy, 0.0)
    with pytest.raises(TypeError):
        dyn.modified_gradient(bumpy, [1.0, 2.0], 0.1)


def test_consistent_velocity_is_minus_lr_times_modified_gradient():
    th = torch.tensor([1.0, 0.5], dtype=f64)
    v = dyn.consistent_velocity(bumpy, th, 0.02, 0.3)
    assert torch.allclose(v, -0.02 * dyn.modified_gradient(bumpy, th, 0.02, 0.3))


# ------------------------------------------------------------------ error orders


def test_fit_slope_recovers_a_power_law_and_checks_inputs():
    x = torch.tensor([0.1, 0.05, 0.025], dtype=f64)
    assert dyn.fit_slope(x, 3 * x ** 2) == pytest.approx(2.0)
    assert dyn.fit_slope([1.0, 2.0], [5.0, 5.0]) == pytest.approx(0.0)
    for bad in (([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([1.0, -2.0], [1.0, 1.0]), ([1.0, 1.0], [1.0, 2.0])):
        with pytest.raises(ValueError):
            dyn.fit_slope(*bad)


@pytest.mark.parametrize("momentum", [0.0, 0.4])
def test_error_orders_on_a_case_not_in_the_notebook(momentum):
    r = dyn.error_orders(bumpy, torch.tensor([1.2, 0.4], dtype=f64), [0.04, 0.02, 0.01, 0.005], 1.0,
                         momentum=momentum)
    assert 0.8 < r.slope_flow < 1.2
    assert 1.7 < r.slope_modified < 2.3
    assert (r.error_modified < r.error_flow).all()
    assert r.lrs.tolist() == [0.04, 0.02, 0.01, 0.005]


def test_error_orders_bad_inputs_and_restores_threads():
    threads = torch.get_num_threads()
    start = torch.tensor([1.0, 1.0], dtype=f64)
    with pytest.raises(ValueError, match="whole number"):
        dyn.error_orders(bumpy, start, [0.3, 0.1], 1.0)
    with pytest.raises(ValueError, match="at least two"):
        dyn.error_orders(bumpy, start, [0.1], 1.0)
    with pytest.raises(ValueError):
        dyn.error_orders(bumpy, start, [0.1, 0.05], -1.0)
    with pytest.raises(TypeError):
        dyn.error_orders(bumpy, start, [0.1, "x"], 1.0)
    assert torch.get_num_threads() == threads


# ------------------------------------------------------------------ batch noise


def softmax_problem():
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(40, 3, generator=gen, dtype=f64)
    labels = torch.randint(0, 4, (40,), generator=gen)
    theta = torch.randn(16, generator=gen, dtype=f64)
    return X, labels, theta, (lambda th, idx: cons.softmax_loss(th, X[idx], labels[idx], 4))


def test_batch_gradients_shapes_mean_and_seed():
    X, labels, theta, loss = softmax_problem()
    g, full = dyn.batch_gradients(loss, theta, 40, 40, 3)
    assert g.shape == (3, 16) and full.shape == (16,)
    assert torch.allclose(g, full.expand(3, -1), atol=1e-14)  # a full batch is the full gradient
    a, _ = dyn.batch_gradients(loss, theta, 40, 5, 4, seed=1)
    b, _ = dyn.batch_gradients(loss, theta, 40, 5, 4, seed=1)
    assert torch.equal(a, b)


@pytest.mark.parametrize("args, error", [
    ((40, 50, 3), ValueError), ((40, 0, 3), ValueError), ((40, 5, 0), ValueError), ((40.0, 5, 3), TypeError),
])
def test_batch_gradients_bad_inputs(args, error):
    _, _, theta, loss = softmax_problem()
    with pytest.raises(error):
        dyn.batch_gradients(loss, theta, *args)
    with pytest.raises(TypeError):
        dyn.batch_gradients(None, theta, 40, 5, 3)


def test_translation_noise_is_orthogonal_and_random_direction_is_not():
    _, _, theta, loss = softmax_problem()
    g, full = dyn.batch_gradients(loss, theta, 40, 4, 30, seed=2)
    gens = dyn.translation_generators(3, 4)
    assert gens.shape == (4, 16) and int(torch.linalg.matrix_rank(gens)) == 4
    assert dyn.noise_along(g, full, gens) < 1e-12
    other = torch.zeros(16, dtype=f64)
    other[0] = 1.0  # one weight of one class: not a symmetry
    assert dyn.noise_along(g, full, other) > 1e-3


def test_rescale_noise_is_orthogonal_on_a_relu_network():
    gen = torch.Generator().manual_seed(7)
    X = torch.randn(30, 2, generator=gen, dtype=f64)
    Y = torch.randn(30, 2, generator=gen, dtype=f64)
    theta = torch.randn(4 * 3 + 2 * 4, generator=gen, dtype=f64)
    loss = lambda th, idx: cons.relu_loss(th, X[idx], Y[idx], 4)
    g, full = dyn.batch_gradients(loss, theta, 30, 6, 20)
    gens = dyn.rescale_generators(theta, 2, 4, 2)
    assert gens.shape == (4, 20)
    assert dyn.noise_along(g, full, gens) < 1e-12
    swapped = gens.clone()
    swapped[:, 12:] *= -1  # incoming plus outgoing: not a symmetry
    assert dyn.noise_along(g, full, swapped) > 1e-3


def test_noise_and_generator_bad_inputs():
    g = torch.randn(3, 4, dtype=f64)
    with pytest.raises(ValueError):
        dyn.noise_along(g, torch.zeros(5, dtype=f64), torch.ones(4, dtype=f64))
    with pytest.raises(ValueError):
        dyn.noise_along(g, torch.zeros(4, dtype=f64), torch.ones(2, 5, dtype=f64))
    with pytest.raises(ValueError, match="non-zero"):
        dyn.noise_along(g, torch.zeros(4, dtype=f64), torch.zeros(4, dtype=f64))
    with pytest.raises(TypeError):
        dyn.noise_along([1.0], torch.zeros(4, dtype=f64), torch.ones(4, dtype=f64))
    with pytest.raises(ValueError):
        dyn.translation_generators(0, 3)
    with pytest.raises(TypeError):
        dyn.rescale_generators(torch.ones(9, dtype=f64), 2, 1.5)
    with pytest.raises(ValueError):
        dyn.rescale_generators(torch.ones(9, dtype=f64), 2, 3)


# ------------------------------------------------------------------ plots


def test_plots_draw_and_check_inputs():
    path = torch.rand(5, 2, dtype=f64)
    ax = plots.discrete_vs_flows(path, path, path, loss=lambda p: (p ** 2).sum(-1))
    assert len(ax.lines) == 3
    plt.close("all")
    with pytest.raises(ValueError):
        plots.discrete_vs_flows(torch.rand(5, 3, dtype=f64), path, path)
    r = dyn.ErrorOrders(torch.tensor([0.1, 0.05], dtype=f64), torch.tensor([0.1, 0.05], dtype=f64),
                        torch.tensor([0.01, 0.0025], dtype=f64), 1.0, 2.0)
    ax = plots.error_order_plot({"GD": r})
    assert len(ax.lines) == 2 and "slope 2.00" in ax.get_legend().get_texts()[1].get_text()
    plt.close("all")
    with pytest.raises(ValueError):
        plots.error_order_plot({})


# ------------------------------------------------------------------ self-checks


def test_checks_are_registered():
    for name in ("dynamics-coefficient", "dynamics-decay", "dynamics-modified-order",
                 "dynamics-noise-design"):
        assert name in exercises.exercise_ids()


@pytest.mark.parametrize("exercise, right, wrongs, bad_type", [
    ("dynamics-coefficient", ex.coefficient(), [ex.COEF_LR / 4, ex.coefficient() * 0.5, 1.0], "0.15"),
    ("dynamics-decay", ex.decayed_sum(), [ex.DECAY_START, ex.DECAY_START * math.exp(-2.0), 1.0], [1, 2]),
    ("dynamics-modified-order", 2.02, [1.0, -2.0, 3.5], "two"),
])
def test_self_checks_accept_reject_and_explain(exercise, right, wrongs, bad_type):
    assert exercises.check(exercise, right).ok
    assert exercises.check(exercise, torch.tensor(right, dtype=torch.float64 if isinstance(right, float) else None)).ok
    for wrong in wrongs:
        fb = exercises.check(exercise, wrong)
        assert fb.status == "incorrect" and fb.message
        assert f"{right:g}" not in fb.message and f"{right:.4f}" not in fb.message
    fb = exercises.check(exercise, bad_type)
    assert fb.status == "incorrect" and "expected" in fb.message
    assert exercises.check(exercise, ...).status == "unsolved"


def test_noise_design_check_wants_inputs_that_hide_part_of_w():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(ex.NOISE_SAMPLES, 1, generator=gen, dtype=torch.float64)
    for design in (torch.cat([x, x], 1), torch.cat([x, 0 * x], 1), torch.cat([x, 3 * x], 1)):
        assert exercises.check("dynamics-noise-design", design).ok
    generic = torch.randn(ex.NOISE_SAMPLES, ex.NOISE_IN, generator=gen, dtype=torch.float64)
    fb = exercises.check("dynamics-noise-design", generic)
    assert fb.status == "incorrect" and "change of W" in fb.message
    near_copy = torch.cat([x, x + 1e-3 * torch.randn_like(x)], 1)  # not an exact symmetry
    assert not exercises.check("dynamics-noise-design", near_copy).ok
    assert "shape" in exercises.check("dynamics-noise-design", torch.zeros(3, 2)).message
    assert "finite" in exercises.check("dynamics-noise-design",
                                       torch.full((ex.NOISE_SAMPLES, 2), math.nan)).message
    assert exercises.check("dynamics-noise-design", ...).status == "unsolved"


# --- the chapter 4 explorer and the comparison it draws -------------------------------------

def test_compare_with_flows_matches_its_parts_and_folds_in_weight_decay():
    A = torch.diag(torch.tensor([1.5, 0.3], dtype=torch.float64))
    quad = lambda th: 0.5 * th @ A @ th  # noqa: E731
    start = torch.tensor([0.5, -1.0], dtype=torch.float64)
    run = dyn.compare_with_flows(quad, start, 0.05, 20, momentum=0.2, weight_decay=0.1)
    decayed = lambda th: quad(th) + 0.05 * (th * th).sum()  # noqa: E731
    v0 = dyn.consistent_velocity(decayed, start, 0.05, 0.2)
    steps = dyn.heavy_ball(decayed, start, 0.05, 20, momentum=0.2, velocity0=v0)
    assert torch.allclose(run.discrete, steps.theta, rtol=0, atol=1e-14)
    assert run.discrete.shape == run.flow.shape == run.modified.shape == (21, 2)
    assert run.dev_modified < run.dev_flow  # the modified flow is the closer model
    with pytest.raises(ValueError, match="weight_decay"):
        dyn.compare_with_flows(quad, start, 0.05, 20, weight_decay=-1.0)


def test_dynamics_explorer_redraws_with_the_comparison_of_its_sliders():
    import matplotlib

    matplotlib.use("Agg")
    from symcourse.widgets import DynamicsExplorer, dynamics_explorer_figure

    explorer = DynamicsExplorer()
    before = dict(explorer.info)
    explorer.controls["momentum"].value = 0.0
    explorer.controls["weight_decay"].value = 0.2
    assert explorer.info != before
    assert explorer.info["momentum"] == 0.0 and explorer.info["weight_decay"] == pytest.approx(0.2)
    fig, expected = dynamics_explorer_figure(lr=explorer.info["lr"], weight_decay=0.2, momentum=0.0)
    assert explorer.info["dev_modified"] == pytest.approx(expected["dev_modified"], rel=1e-12)
    assert fig.axes and explorer.info["dev_modified"] < explorer.info["dev_flow"]
    with pytest.raises(ValueError, match="lr"):
        dynamics_explorer_figure(lr=0.0)
