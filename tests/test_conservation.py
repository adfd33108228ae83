"""Unit tests for symcourse.conservation (chapter 3), its plots and its exercise self-checks."""
from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from symcourse import conservation as cons, exercises, plots  # noqa: E402
from symcourse.exercises import conservation as ex  # noqa: E402

f64 = torch.float64


def hyperbola_loss(th):
    return 0.5 * (th[0] * th[1] - 1) ** 2


def quadratic():
    A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.4]], dtype=f64)
    return A, (lambda th: 0.5 * th @ A @ th)


# ------------------------------------------------------------------ integrator


@pytest.mark.parametrize("rtol", [1e-6, 1e-10])
def test_gradient_flow_matches_the_closed_form_of_a_quadratic(rtol):
    A, loss = quadratic()
    theta0 = torch.tensor([1.0, -2.0, 0.5], dtype=f64)
    times = [0.0, 0.5, 2.0, 10.0]
    run = cons.gradient_flow(loss, theta0, times, rtol=rtol, atol=rtol * 1e-2)
    exact = torch.stack([torch.linalg.matrix_exp(-t * A) @ theta0 for t in times])
    assert torch.equal(run.theta[0], theta0)
    assert (run.theta - exact).abs().max() < 100 * rtol * theta0.abs().max()
    assert torch.allclose(run.loss, torch.stack([loss(th) for th in exact]), rtol=1e-4)
    assert run.steps > 0 and run.evaluations >= 6 * run.steps
    assert run.times.tolist() == times


def test_gradient_flow_tighter_tolerance_takes_more_steps_and_is_more_accurate():
    A, loss = quadratic()
    theta0 = torch.tensor([1.0, 1.0, 1.0], dtype=f64)
    exact = torch.linalg.matrix_exp(-3.0 * A) @ theta0
    loose = cons.gradient_flow(loss, theta0, [3.0], rtol=1e-4, atol=1e-6)
    tight = cons.gradient_flow(loss, theta0, [3.0], rtol=1e-11, atol=1e-13)
    assert tight.steps > loose.steps
    assert (tight.theta[-1] - exact).abs().max() < (loose.theta[-1] - exact).abs().max()


def test_gradient_flow_repeated_and_zero_times_and_restores_threads():
    threads = torch.get_num_threads()
    run = cons.gradient_flow(hyperbola_loss, torch.tensor([0.5, 0.3], dtype=f64), [0.0, 0.0, 1.0, 1.0])
    assert torch.equal(run.theta[0], run.theta[1]) and torch.equal(run.theta[2], run.theta[3])
    assert torch.get_num_threads() == threads


def test_gradient_flow_runs_out_of_steps_loudly():
    with pytest.raises(RuntimeError, match="max_steps"):
        cons.gradient_flow(hyperbola_loss, torch.tensor([0.5, 0.3], dtype=f64), [100.0], max_steps=3)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(times=[1.0, 0.5]), ValueError, "non-decreasing"),
    (dict(times=[-1.0]), ValueError, ">= 0"),
    (dict(times=[float("nan")]), ValueError, "finite"),
    (dict(times=[]), ValueError, "at least one"),
    (dict(times="soon"), TypeError, "times"),
    (dict(rtol=0.0), ValueError, "rtol"),
    (dict(rtol=0.5), ValueError, "rtol"),
    (dict(atol=-1.0), ValueError, "atol"),
    (dict(max_steps=0), ValueError, "max_steps"),
    (dict(theta0=torch.ones(2, 2, dtype=f64)), ValueError, "theta0"),
    (dict(theta0=[1.0, 2.0]), TypeError, "theta0"),
    (dict(loss_fn=3), TypeError, "loss_fn"),
    (dict(loss_fn=lambda th: th), TypeError, "one-element"),
])
def test_gradient_flow_rejects_bad_input(kwargs, exc, pattern):
    args = dict(loss_fn=hyperbola_loss, theta0=torch.tensor([0.5, 0.3], dtype=f64), times=[1.0])
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        cons.gradient_flow(args.pop("loss_fn"), args.pop("theta0"), args.pop("times"), **args)


def test_gradient_descent_matches_a_hand_written_loop():
    theta = torch.tensor([1.5, 0.2], dtype=f64)
    run = cons.gradient_descent(hyperbola_loss, theta, 0.1, 10, record_every=5)
    manual = theta.clone()
    for _ in range(10):
        u, v = manual
        manual = manual - 0.1 * (u * v - 1) * torch.stack([v, u])
    assert torch.allclose(run.theta[-1], manual, rtol=1e-14)
    assert run.times.tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert run.theta.shape == (3, 2)


@pytest.mark.parametrize("kwargs, exc", [(dict(lr=0.0), ValueError), (dict(steps=1.5), TypeError),
                                         (dict(record_every=0), ValueError), (dict(loss_fn=None), TypeError)])
def test_gradient_descent_rejects_bad_input(kwargs, exc):
    args = dict(loss_fn=hyperbola_loss, theta0=torch.tensor([1.0, 0.5], dtype=f64), lr=0.1, steps=3)
    args.update(kwargs)
    with pytest.raises(exc):
        cons.gradient_descent(**args)


def test_gradient_is_autograd_and_checks_input():
    g = cons.gradient(hyperbola_loss, torch.tensor([2.0, 3.0], dtype=f64))
    assert torch.allclose(g, torch.tensor([15.0, 10.0], dtype=f64))
    with pytest.raises(TypeError):
        cons.gradient("loss", torch.ones(2))


# ------------------------------------------------------------------ quantities


def test_quantities_on_known_values():
    th = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.5, 0.0]], dtype=f64)
    assert cons.translation_quantity(th).tolist() == [2.0, 1.0]
    assert cons.scale_quantity(th).tolist() == [14.0, 0.5]
    w_in, w_out = torch.tensor([[3.0, 4.0], [1.0, 0.0]]), torch.tensor([[1.0, 2.0], [2.0, 0.0]])
    assert cons.rescale_quantity(w_in, w_out).tolist() == [20.0, -3.0]
    assert cons.rescale_quantity(w_in, w_out, degree=2).tolist() == [15.0, -7.0]
    W1, W2 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    (B,) = cons.layer_balance([W1, W2])
    assert torch.equal(B, W2.T @ W2 - W1 @ W1.T) and B.shape == (3, 3)


@pytest.mark.parametrize("call, exc", [
    (lambda: cons.translation_quantity(torch.tensor(1.0)), ValueError),
    (lambda: cons.translation_quantity([1.0, 2.0]), TypeError),
    (lambda: cons.scale_quantity(torch.tensor([1, 2])), TypeError),
    (lambda: cons.scale_quantity(torch.tensor(2.0)), ValueError),
    (lambda: cons.rescale_quantity(torch.ones(3, 2), torch.ones(1, 2)), ValueError),
    (lambda: cons.rescale_quantity(torch.ones(3), torch.ones(1, 3)), ValueError),
    (lambda: cons.rescale_quantity(torch.ones(3, 2), torch.ones(1, 3), degree=0), ValueError),
    (lambda: cons.layer_balance([torch.ones(2, 2)]), ValueError),
    (lambda: cons.layer_balance(torch.ones(2, 2, 2)), TypeError),
    (lambda: cons.layer_balance([torch.ones(3, 2), torch.ones(2, 2)]), ValueError),
    (lambda: cons.relative_drift(torch.zeros(3)), ValueError),
    (lambda: cons.relative_drift(torch.ones(3), scale=-1.0), ValueError),
    (lambda: cons.split(torch.ones(5), [(2, 2)]), ValueError),
    (lambda: cons.chain_shapes([3]), ValueError),
    (lambda: cons.chain_shapes([3, 0]), ValueError),
    (lambda: cons.relu_shapes(2, 0), ValueError),
    (lambda: cons.softmax_loss(torch.ones(9, dtype=f64), torch.ones(4, 2, dtype=f64),
                               torch.ones(4), 3), TypeError),
    (lambda: cons.relu_loss(torch.ones(8, dtype=f64), torch.ones(4, 2, dtype=f64),
                            torch.ones(3, 1, dtype=f64), 2), ValueError),
    (lambda: cons.relu_loss(torch.ones(8, dtype=f64), torch.ones(4, 2, dtype=f64),
                            torch.ones(4, 1, dtype=f64), 2, weights=torch.ones(3, dtype=f64)), ValueError),
])
def test_quantities_and_models_reject_bad_input(call, exc):
    with pytest.raises(exc):
        call()


def test_relative_drift():
    values = torch.tensor([[2.0, 4.0], [2.5, 4.0], [2.0, 3.0]], dtype=f64)
    assert cons.relative_drift(values) == pytest.approx(0.25)
    assert cons.relative_drift(values, scale=2.0) == pytest.approx(0.5)


def small_models():
    g = torch.Generator().manual_seed(3)
    X, Y = torch.randn(30, 2, generator=g, dtype=f64), torch.randn(30, 1, generator=g, dtype=f64)
    labels = torch.arange(3).repeat(10)
    Xl, Yl = torch.randn(20, 3, generator=g, dtype=f64), torch.randn(20, 2, generator=g, dtype=f64)
    widths = (3, 4, 2)
    return {
        "translation": (lambda th: cons.softmax_loss(th, X, labels, 3), torch.randn(9, generator=g, dtype=f64),
                        lambda th: cons.translation_quantity(cons.split(th, cons.softmax_shapes(2, 3))[0].T)),
        "scale": (lambda th: cons.normalised_loss(th, X, Y, 3), torch.randn(3 * 2 + 4, generator=g, dtype=f64),
                  lambda th: cons.scale_quantity(cons.split(th, cons.normalised_shapes(2, 3))[0])),
        "rescale": (lambda th: cons.relu_loss(th, X, Y, 3, power=2), 0.5 * torch.randn(12, generator=g, dtype=f64),
                    lambda th: cons.rescale_quantity(*cons.split(th, cons.relu_shapes(2, 3)), degree=2)),
        "balance": (lambda th: cons.linear_chain_loss(th, Xl, Yl, widths), torch.randn(20, generator=g, dtype=f64),
                    lambda th: cons.layer_balance(cons.split(th, cons.chain_shapes(widths)))[0].flatten()),
    }


@pytest.mark.parametrize("name", ["translation", "scale", "rescale", "balance"])
def test_quantities_are_conserved_by_gradient_flow(name):
    loss, theta0, Q = small_models()[name]
    run = cons.gradient_flow(loss, theta0, [0.0, 1.0, 3.0])
    values = torch.stack([Q(th) for th in run.theta])
    assert cons.relative_drift(values, (theta0 ** 2).sum()) < 1e-8
    assert run.loss[-1] < run.loss[0]


@pytest.mark.parametrize("name, lr", [("scale", 0.5), ("rescale", 0.1), ("balance", 0.05)])
def test_quantities_are_not_conserved_by_large_step_descent(name, lr):
    loss, theta0, Q = small_models()[name]
    run = cons.gradient_descent(loss, theta0, lr, 30)
    values = torch.stack([Q(th) for th in run.theta])
    assert cons.relative_drift(values, (theta0 ** 2).sum()) > 1e-4


def test_symmetries_leave_the_model_losses_unchanged():
    loss, theta0, _ = small_models()["rescale"]
    W_in, W_out = cons.split(theta0, cons.relu_shapes(2, 3))
    a = torch.tensor([2.0, 0.5, 3.0], dtype=f64)
    moved = torch.cat([(W_in * a[:, None]).flatten(), (W_out / a ** 2).flatten()])
    assert loss(moved).item() == pytest.approx(loss(theta0).item(), rel=1e-12)
    loss, theta0, _ = small_models()["scale"]
    W, W_out = cons.split(theta0, cons.normalised_shapes(2, 3))
    moved = torch.cat([(W * torch.tensor([[3.0], [0.2], [1.5]], dtype=f64)).flatten(), W_out.flatten()])
    assert loss(moved).item() == pytest.approx(loss(theta0).item(), rel=1e-12)


def test_weighted_losses_sum_per_sample_losses():
    loss, theta0, _ = small_models()["balance"]
    g = torch.Generator().manual_seed(0)
    Xl, Yl = torch.randn(5, 3, generator=g, dtype=f64), torch.randn(5, 2, generator=g, dtype=f64)
    w = torch.ones(5, dtype=f64) / 5
    assert cons.linear_chain_loss(theta0, Xl, Yl, (3, 4, 2), weights=w).item() == \
        pytest.approx(cons.linear_chain_loss(theta0, Xl, Yl, (3, 4, 2)).item(), rel=1e-12)


# ------------------------------------------------------------------ counting


def linear_count(r, seed=0):
    g = torch.Generator().manual_seed(seed)
    X, Y = torch.randn(30, r + 1, generator=g, dtype=f64), torch.randn(30, r + 1, generator=g, dtype=f64)
    theta = torch.randn(2 * r * (r + 1), generator=g, dtype=f64)
    return cons.count_conservation_laws(
        lambda th, w: cons.linear_chain_loss(th, X, Y, (r + 1, r, r + 1), weights=w), theta, 30)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_two_layer_linear_networks_have_r_r_plus_1_over_2_laws(r):
    count = linear_count(r)
    assert count.laws == r * (r + 1) // 2
    assert count.laws_from_gradients == r * r  # the gradients alone over-count
    assert count.gap > 1e6 and count.dimension == 2 * r * (r + 1)
    assert count.singular_values.shape[0] == count.dimension


@pytest.mark.parametrize("hidden", [1, 2, 3])
def test_relu_networks_have_one_law_per_neuron(hidden):
    g = torch.Generator().manual_seed(hidden)
    X, Y, W = (torch.randn(30, 2, generator=g, dtype=f64), torch.randn(30, 1, generator=g, dtype=f64),
               torch.randn(hidden, 2, generator=g, dtype=f64))
    b = -(X @ W.T).median(dim=0).values
    theta = torch.cat([torch.cat([W, b[:, None]], 1).flatten(), torch.randn(hidden, generator=g, dtype=f64)])
    count = cons.count_conservation_laws(lambda th, w: cons.relu_loss(th, X, Y, hidden, weights=w), theta, 30)
    assert count.laws == hidden and count.gap > 1e6


def test_counting_without_brackets_over_counts():
    count = linear_count(2)
    shallow = cons.count_conservation_laws(lambda th, w: 0.0 * th.sum(), torch.ones(3, dtype=f64), 2)
    assert shallow.laws == 3 and shallow.algebra_rank == 0  # a constant loss conserves everything
    assert count.ranks_by_depth[0] < count.ranks_by_depth[1]


@pytest.mark.parametrize("kwargs, exc", [
    (dict(loss="f"), TypeError), (dict(n_terms=0), ValueError), (dict(max_depth=0), ValueError),
    (dict(rank_rtol=0.0), ValueError), (dict(rank_rtol=0.5), ValueError), (dict(samples=0), ValueError),
    (dict(theta=torch.ones(2, 2)), ValueError),
])
def test_count_conservation_laws_rejects_bad_input(kwargs, exc):
    args = dict(loss=lambda th, w: (th ** 2).sum() * w.sum(), theta=torch.ones(3, dtype=f64), n_terms=2)
    args.update(kwargs)
    with pytest.raises(exc):
        cons.count_conservation_laws(args.pop("loss"), args.pop("theta"), args.pop("n_terms"), **args)


# ------------------------------------------------------------------ plots


def test_flow_portrait_draws_one_line_per_trajectory():
    trajs = [torch.tensor([[0.0, 1.0], [0.5, 0.5]], dtype=f64), torch.tensor([[1.0, 1.0], [1.2, 1.1]], dtype=f64)]
    ax = plots.flow_portrait(trajs, lambda p: p[..., 0] + p[..., 1], solutions=lambda p: p[..., 0] - 1,
                             title="t")
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2]) == 2
    assert ax.get_title() == "t"
    plt.close("all")


@pytest.mark.parametrize("kwargs, exc", [(dict(trajectories=[]), ValueError),
                                         (dict(quantity=3), TypeError),
                                         (dict(trajectories=[torch.ones(3, 3)]), ValueError),
                                         (dict(extent=(1, 0, 0, 1)), ValueError)])
def test_flow_portrait_rejects_bad_input(kwargs, exc):
    args = dict(trajectories=[torch.ones(3, 2, dtype=f64)], quantity=lambda p: p[..., 0])
    args.update(kwargs)
    with pytest.raises(exc):
        plots.flow_portrait(args.pop("trajectories"), args.pop("quantity"), **args)
    plt.close("all")


def test_drift_and_loss():
    t = torch.linspace(0, 1, 5, dtype=f64)
    axes = plots.drift_and_loss(t, torch.exp(-t), {"a": t * 0, "b": t})
    assert axes[0].get_yscale() == "log" and len(axes[1].get_lines()) == 2
    with pytest.raises(ValueError):
        plots.drift_and_loss(t, torch.exp(-t), {})
    with pytest.raises(ValueError):
        plots.drift_and_loss(t, torch.exp(-t), {"a": torch.ones(3, dtype=f64)})
    plt.close("all")


# ------------------------------------------------------------------ exercises


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]


CASES = {
    "conservation-rescale-value": ([9.0, 9, torch.tensor(9.0), np.float64(9.0)], [23.0, -9.0, 3.0],
                                   ["nine", [9.0], float("nan"), True], [9.0]),
    "conservation-linear-count": ([30, torch.tensor(30), np.int64(30)], [50, 25, 15, 10, 60],
                                  ["30", 30.0, [30], None.__class__], [30.0]),
    "conservation-narrow-count": ([5, torch.tensor(5), np.int64(5)], [6, 3, 4, 1],
                                  ["5", 5.0, [5], True], [5.0]),
    "conservation-gd-drift": ([ex.gd_imbalance_change()], [0.0, -ex.gd_imbalance_change(), 1.0],
                              ["small", [0.1], float("inf")], [ex.gd_imbalance_change()]),
}


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_conservation_checks(exercise):
    right, wrong, typed, answer = CASES[exercise]
    for value in right:
        assert exercises.check(exercise, value).ok, value
    for value in wrong:
        feedback = exercises.check(exercise, value)
        assert feedback.status == "incorrect", value
        for number in answer:  # the hint never gives the answer away
            assert all(not math.isclose(n, number, rel_tol=1e-3) for n in numbers_in(feedback.message))
    for value in typed:
        feedback = exercises.check(exercise, value)
        assert feedback.status == "incorrect" and "expected" in feedback.message, value
    assert exercises.check(exercise, ...).status == "unsolved"


# ------------------------------------------------------------------ worked examples


def test_toy_examples_conserve_their_quantities():
    for name, (loss, Q, starts) in cons.toy_examples().items():
        for s in starts:
            run = cons.gradient_flow(loss, torch.tensor(s, dtype=f64), [0.0, 2.0])
            assert abs(Q(run.theta[1]) - Q(run.theta[0])) < 1e-8 * max(1.0, abs(Q(run.theta[0]))), name
            assert run.loss[1] < run.loss[0], name


def test_network_examples_are_deterministic_and_consistent():
    a, b = cons.network_examples(0), cons.network_examples(0)
    assert list(a) == ["translation", "scale", "rescale", "layer balance"]
    for name in a:
        assert torch.equal(a[name].theta0, b[name].theta0)
        assert a[name].theta0.numel() == sum(math.prod(s) for s in a[name].shapes)
        assert torch.isfinite(a[name].loss(a[name].theta0)) and a[name].horizon > 0
        assert a[name].quantity(a[name].theta0).ndim == 1
    assert not torch.equal(cons.network_examples(1)["scale"].theta0, a["scale"].theta0)
    with pytest.raises(ValueError):
        cons.network_examples(-1)


def test_normalised_predict_is_standardised_and_shapes_are_checked():
    X = torch.randn(10, 3, dtype=f64)
    theta = torch.randn(2 * 3 + 3, dtype=f64)
    assert cons.normalised_predict(theta, X, hidden=2).shape == (10, 1)
    assert cons.normalised_shapes(3, 2) == [(2, 3), (1, 3)]
    assert cons.softmax_shapes(2, 3) == [(3, 2), (3,)]
    with pytest.raises(ValueError):
        cons.normalised_predict(torch.randn(5, dtype=f64), X, hidden=2)
    with pytest.raises(ValueError):
        cons.softmax_shapes(0, 3)


def test_hyperbola_start():
    uv = cons.hyperbola_start(0.1, 3.0)
    assert uv[0] * uv[1] == pytest.approx(0.1) and uv[0] ** 2 - uv[1] ** 2 == pytest.approx(3.0)
    assert cons.hyperbola_start(0.25, 0.0).tolist() == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError):
        cons.hyperbola_start(0.0, 1.0)
    with pytest.raises(TypeError):
        cons.hyperbola_start(0.1, "big")


def test_count_helpers():
    assert cons.count_linear_laws(2).laws == 3
    assert cons.count_relu_laws(2).laws == 2
    with pytest.raises(ValueError):
        cons.count_linear_laws(0)
    with pytest.raises(TypeError):
        cons.count_relu_laws(2, n_points=1.5)


# --- the chapter 3 explorer ---------------------------------------------------------------------

def test_conservation_explorer_follows_its_sliders_and_conserves_the_quantity():
    import matplotlib

    matplotlib.use("Agg")
    from symcourse.widgets import ConservationExplorer, conservation_explorer_figure

    explorer = ConservationExplorer()
    before = dict(explorer.info)
    explorer.controls["imbalance"].value = -2.0
    assert explorer.info != before and explorer.info["imbalance"] == -2.0
    _, expected = conservation_explorer_figure(imbalance=-2.0, product=explorer.info["product"])
    assert explorer.info["time_chosen"] == expected["time_chosen"]
    assert explorer.info["drift_chosen"] < 1e-8 and explorer.info["drift_balanced"] < 1e-8
    # an unbalanced start has the larger gradient and reaches the target sooner
    assert explorer.info["gradient_chosen"] > explorer.info["gradient_balanced"]
    assert explorer.info["time_chosen"] < explorer.info["time_balanced"]
    with pytest.raises(ValueError, match="product"):
        conservation_explorer_figure(product=0.0)
