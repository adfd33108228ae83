"""Tests for the top layer: symcourse.plots, symcourse.session, symcourse.widgets, symcourse.exercises.

Figures are drawn with the Agg backend and closed after each test. Right answers to the
exercises are computed here from PyTorch and symcourse's lower layers, never copied from output.
"""
from __future__ import annotations

import math
import random
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

import symcourse  # noqa: E402
from symcourse import data, exercises, models, plots, session, stall, stats, sweeps, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    with matplotlib.rc_context():
        yield
    plt.close("all")


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------


def test_loss_curves_draws_one_line_per_seed_on_a_log_scale():
    steps = torch.arange(0, 50, 10)
    loss = torch.rand(5, 4, generator=torch.Generator().manual_seed(0)) + 0.01
    ax = plots.loss_curves(steps, loss)
    assert isinstance(ax, Axes)
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 4
    for s, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), steps.numpy())
        np.testing.assert_allclose(line.get_ydata(), loss[:, s].numpy())
    assert ax.get_xlabel() and ax.get_ylabel()


def test_loss_curves_colours_stalled_runs_and_limits_curves():
    steps = torch.arange(3)
    loss = torch.tensor([[1.0, 1.0, 1.0], [0.5, 0.1, 0.02], [0.0, 0.02, 0.02]])
    stalled = torch.tensor([False, True, True])
    fig, ax = plt.subplots()
    out = plots.loss_curves(steps, loss, stalled, ax=ax, max_curves=2, title="t")
    assert out is ax
    curves = [line for line in ax.get_lines() if len(line.get_xdata())]
    assert len(curves) == 2
    assert to_hex(curves[0].get_color()) == to_hex(plots.SOLVED)
    assert to_hex(curves[1].get_color()) == to_hex(plots.STALLED)
    assert curves[0].get_ydata().min() > 0  # a zero loss is clamped, not dropped, on a log axis
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["stalled", "solved"]
    assert ax.get_title() == "t"


def test_loss_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="loss"):
        plots.loss_curves(torch.arange(3), torch.rand(3))
    with pytest.raises(TypeError, match="loss"):
        plots.loss_curves(torch.arange(3), [[0.1], [0.2], [0.3]])
    with pytest.raises(ValueError):
        plots.loss_curves(torch.arange(5), torch.rand(3, 2))


def test_win_regions_orientation_and_points():
    task = data.stall_task(n_points=200, seed=1)
    # unit 0 outputs x, unit 1 the constant 0.5: unit 0 wins exactly where x > 0.5
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    ax = plots.win_regions(theta, task, resolution=10, show_points=150, title="regions")
    assert isinstance(ax, Axes)
    image = np.asarray(ax.images[0].get_array())
    assert image.shape == (10, 10)
    g = np.linspace(0, 1, 10)
    expected = np.where(g[None, :] > 0.5, 0, 1).repeat(10, axis=0)  # rows are y, columns x
    np.testing.assert_array_equal(image, expected)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    X = task.X[:150]
    counts = sorted(len(c.get_offsets()) for c in scatters)
    by_hand = sorted([int((X[:, 0] > 0.5).sum()), int((X[:, 0] <= 0.5).sum())])
    assert counts == by_hand
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("unit 0 wins") and labels[1].startswith("unit 1 wins")
    assert ax.get_title() == "regions"
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] >= 1.0  # room for the labels right of the bars and ax.get_ylim() == (0.0, 1.0)


def test_win_regions_three_units_and_given_axes():
    task = data.stall_task(n_points=100)
    theta = models.init_theta([2], units=3)[0]
    fig, ax = plt.subplots()
    assert plots.win_regions(theta, task, ax=ax, resolution=20) is ax
    image = np.asarray(ax.images[0].get_array())
    assert set(np.unique(image)) <= {0, 1, 2}


def test_win_regions_rejects_bad_input():
    task = data.stall_task(n_points=20)
    with pytest.raises(ValueError, match="theta"):
        plots.win_regions(torch.zeros(1, 2, 3), task)
    with pytest.raises(TypeError, match="theta"):
        plots.win_regions([[1.0, 0.0, 0.0]], task)
    task3 = data.max_affine_task([[1.0, 0.0, 0.0]], [0.0], n_points=20)
    with pytest.raises(ValueError, match="2-D"):
        plots.win_regions(torch.zeros(2, 4), task3)


def test_final_loss_histogram_counts():
    final = torch.tensor([1e-12, 3e-9, 2e-2, 1.8e-2, 5e-4, 0.0, 0.5])
    ax = plots.final_loss_histogram(final, title="h")
    assert isinstance(ax, Axes)
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == len(final)
    n_stalled = int((final > 1e-3).sum())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"solved ({len(final) - n_stalled})" in labels
    assert f"stalled ({n_stalled})" in labels
    # the threshold is marked
    assert any(np.allclose(line.get_xdata(), math.log10(stall.STALL_THRESHOLD)) for line in ax.get_lines())


def test_final_loss_histogram_rejects_bad_input():
    with pytest.raises(ValueError, match="final_loss"):
        plots.final_loss_histogram(torch.rand(3, 2))
    with pytest.raises(TypeError, match="final_loss"):
        plots.final_loss_histogram([0.1, 0.2])
    with pytest.raises(ValueError, match="final_loss"):
        plots.final_loss_histogram(torch.tensor([0.1, float("nan")]))


def test_final_loss_histogram_rejects_a_non_positive_threshold():
    # a stall threshold must be positive, as stall.is_stalled requires; log10 of it is drawn
    for threshold in (0.0, -1e-3):
        with pytest.raises(ValueError, match="threshold"):
            plots.final_loss_histogram(torch.tensor([1e-2, 1e-8]), threshold=threshold)


def test_gradient_bars():
    summed = torch.tensor([1e-9, 0.0, 0.3])
    per_point = torch.tensor([0.5, 0.0, 0.4])
    ax = plots.gradient_bars(summed, per_point, title="g")
    assert isinstance(ax, Axes)
    assert ax.get_yscale() == "log"
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 6
    np.testing.assert_allclose(heights[:3], np.maximum(per_point.numpy(), 1e-17))
    np.testing.assert_allclose(heights[3:], np.maximum(summed.numpy(), 1e-17))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["unit 0", "unit 1", "unit 2"]


def test_gradient_bars_rejects_bad_input():
    with pytest.raises(ValueError, match="per_point_norm"):
        plots.gradient_bars(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match="summed_norm"):
        plots.gradient_bars(torch.ones(2, 2), torch.ones(2))
    with pytest.raises(TypeError, match="per_point_norm"):
        plots.gradient_bars(torch.ones(2), [1.0, 1.0])


def test_rate_bars():
    summaries = {"with bias": stats.rate_summary([True] * 3 + [False] * 7),
                 "without bias": stats.rate_summary([True] * 9 + [False] * 1)}
    ax = plots.rate_bars(summaries, title="r")
    assert isinstance(ax, Axes)
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.3, 0.9])
    # each bar sits at the tick that carries its label; the first label is at the top
    label_at = {round(y): t.get_text() for y, t in zip(ax.get_yticks(), ax.get_yticklabels())}
    bar_labels = [label_at[round(p.get_y() + p.get_height() / 2)] for p in ax.patches]
    assert bar_labels == ["with bias", "without bias"]
    assert ax.patches[0].get_y() > ax.patches[1].get_y()
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] >= 1.0  # room for the labels right of the bars


def test_rate_bars_draws_rates_of_zero_and_one():
    # "0 of 20 stalled" is a common outcome; its bar must still be drawable
    summaries = {"never": stats.rate_summary([False] * 20), "always": stats.rate_summary([True] * 77),
                 "some": stats.rate_summary([True, False])}
    ax = plots.rate_bars(summaries)
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.0, 1.0, 0.5])


def test_rate_bars_rejects_empty_input():
    with pytest.raises(ValueError, match="summaries"):
        plots.rate_bars({})


def test_use_style():
    with matplotlib.rc_context():
        plots.use_style()
        assert matplotlib.rcParams["svg.hashsalt"] == "symcourse"
        assert matplotlib.rcParams["axes.spines.top"] is False


# --------------------------------------------------------------------------------------------
# session
# --------------------------------------------------------------------------------------------


@pytest.fixture
def restore_session_state():
    threads = torch.get_num_threads()
    np_options = np.get_printoptions()
    torch_state = torch.random.get_rng_state()
    with matplotlib.rc_context():
        yield
    torch.set_num_threads(threads)
    np.set_printoptions(**np_options)
    torch.set_printoptions(profile="default")
    torch.random.set_rng_state(torch_state)


def test_setup_sets_threads_seeds_and_style(restore_session_state):
    record = symcourse.setup(seed=7, threads=2, precision=3)
    assert torch.get_num_threads() == 2
    assert record["seed"] == 7 and record["threads"] == 2 and record["precision"] == 3
    assert record["torch"] == torch.__version__.split("+")[0]
    assert matplotlib.rcParams["svg.hashsalt"] == "symcourse"
    assert np.get_printoptions()["precision"] == 3
    first = (torch.rand(4), np.random.rand(3), random.random())
    session.setup(seed=7, threads=1)
    assert torch.get_num_threads() == 1
    second = (torch.rand(4), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]
    torch.manual_seed(7)
    assert torch.equal(torch.rand(4), first[0])
    session.setup(seed=8, threads=1)
    assert not torch.equal(torch.rand(4), first[0])


def test_setup_without_style_leaves_matplotlib_alone(restore_session_state):
    matplotlib.rcParams["svg.hashsalt"] = None
    session.setup(threads=1, style=False)
    assert matplotlib.rcParams["svg.hashsalt"] is None


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="0"), ValueError, "seed"),
    (dict(seed=1.0), ValueError, "seed"),
    (dict(threads=0), ValueError, "threads"),
    (dict(threads=1.5), TypeError, "threads"),
    (dict(precision=0), ValueError, "precision"),
    (dict(precision="4"), TypeError, "precision"),
])
def test_setup_rejects_bad_input(restore_session_state, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        session.setup(**kwargs)


# --------------------------------------------------------------------------------------------
# widgets
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_run():
    """Seed 3 trained as the explorer trains it, with every recorded parameter kept."""
    task = data.stall_task()
    run = sweeps.train_sweep(task, [3], steps=widgets.EXPLORER_STEPS, record_every=widgets.EXPLORER_RECORD_EVERY,
                             record_params=True)
    return task, run


def check_info(info, reference, seed, step, lr=0.02, bias=True):
    task, run = reference
    row = run.steps.tolist().index(step)
    assert info["seed"] == seed and info["step"] == step and info["lr"] == lr and info["bias"] is bias
    assert info["loss"] == pytest.approx(run.loss[row, 0].item(), rel=1e-6)
    theta = run.history[row, 0].double()
    # the loss at a step is the MSE of the parameters at that step, before its update
    assert info["loss"] == pytest.approx(models.mse(theta[None], task.X, task.y).item(), rel=1e-5)
    z = models.augment(task.X.double(), True) @ theta.T
    second = float((z[:, 1] > z[:, 0]).double().mean())
    assert info["win_fractions"] == pytest.approx([1 - second, second], abs=1e-6)
    assert info["stalled"] is bool(run.final_loss[0] > stall.STALL_THRESHOLD)


@pytest.mark.parametrize("step", [0, 50, 1000, widgets.EXPLORER_STEPS])
def test_stall_explorer_figure_matches_the_sweep(reference_run, step):
    fig, info = widgets.stall_explorer_figure(seed=3, step=step)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 2
    check_info(info, reference_run, seed=3, step=step)


def test_stall_explorer_figure_rounds_step_to_a_recorded_one(reference_run):
    _, info = widgets.stall_explorer_figure(seed=3, step=1010)
    check_info(info, reference_run, seed=3, step=1000)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(step=-1), ValueError, "step"),
    (dict(step=widgets.EXPLORER_STEPS + 1), ValueError, "step"),
    (dict(step="100"), TypeError, "step"),
    (dict(seed=-2), ValueError, "seed"),
    (dict(seed=1.0), ValueError, "seed"),
    (dict(lr=0.0), ValueError, "lr"),
])
def test_stall_explorer_figure_rejects_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        widgets.stall_explorer_figure(**kwargs)


def test_stall_explorer_follows_its_controls(reference_run):
    explorer = widgets.StallExplorer(seed=0)
    assert set(explorer.controls) == {"seed", "lr", "bias", "step"}
    assert explorer.info["seed"] == 0 and explorer.info["step"] == widgets.EXPLORER_STEPS
    explorer.controls["seed"].value = 3
    check_info(explorer.info, reference_run, seed=3, step=widgets.EXPLORER_STEPS)
    explorer.controls["step"].value = 1500
    check_info(explorer.info, reference_run, seed=3, step=1500)
    explorer.controls["step"].value = 0
    check_info(explorer.info, reference_run, seed=3, step=0)
    assert explorer.widget is not None
    assert not plt.get_fignums()  # every redraw closed its figure


# --------------------------------------------------------------------------------------------
# exercises
# --------------------------------------------------------------------------------------------


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]


def plateau_answers(bias=False):
    """MSE, MAE and RMSE of the least-squares fit on stall_task(), by numpy: through the origin
    (the bias-free plateau, the exercise's answer) or affine (``bias=True``)."""
    task = data.stall_task(dtype=torch.float64)
    A = task.X.numpy()
    if bias:
        A = np.column_stack([A, np.ones(task.n_points)])
    coef, *_ = np.linalg.lstsq(A, task.y.numpy(), rcond=None)
    residual = A @ coef - task.y.numpy()
    mse = float(np.mean(residual ** 2))
    return mse, float(np.mean(np.abs(residual))), math.sqrt(mse)


def dead_at_init_fraction():
    """Fraction of seeds 0..999 whose default nn.Linear(2, 2) has a unit that wins no point."""
    X = data.stall_task().X
    dead = 0
    state = torch.random.get_rng_state()
    for s in range(1000):
        torch.manual_seed(s)
        with torch.no_grad():
            z = nn.Linear(2, 2)(X)
        second_wins = z[:, 1] > z[:, 0]  # ties go to unit 0
        dead += bool(second_wins.all() or not second_wins.any())
    torch.random.set_rng_state(state)
    return dead / 1000


def dead_unit_gradient():
    """Autograd gradient of the question network's loss for a unit that wins no point."""
    task = data.stall_task()
    net = models.question_network()
    models.load_theta(net, torch.tensor([[1.0, 2.0, 0.0], [3.0, 1.0, -100.0]]))
    ((task.y[:, None] - net(task.X)) ** 2).mean().backward()
    lin = models.linear_layer(net)
    return torch.cat([lin.weight.grad[1], lin.bias.grad[1:]])


@pytest.fixture(scope="module")
def bias_seeds():
    """Search seeds 0..30: one that stalls with biases but not without, and two wrong ones."""
    task = data.stall_task()
    with_bias = sweeps.train_sweep(task, range(31), bias=True).final_loss
    without = sweeps.train_sweep(task, range(31), bias=False).final_loss
    right = [s for s in range(31) if with_bias[s] > 1e-2 and without[s] < 1e-6]
    solves_with_bias = [s for s in range(31) if with_bias[s] < 1e-6]
    stalls_both = [s for s in range(31) if with_bias[s] > 1e-2 and without[s] > 1e-2]
    assert right and solves_with_bias and stalls_both
    return right[0], solves_with_bias[0], stalls_both[0]


@pytest.fixture(scope="module")
def cases(bias_seeds):
    """For each exercise: (right answers, wrong answers, wrongly typed answers, the answer's numbers)."""
    mse, mae, rmse = plateau_answers()
    dead_fraction = dead_at_init_fraction()
    gradient = dead_unit_gradient()
    right_seed, solves, stalls_both = bias_seeds
    return {
        "stall-plateau": ([mse, torch.tensor(mse), np.float64(mse)],
                          [mae, rmse, 2 * mse, 0.0, plateau_answers(bias=True)[0]],
                          ["0.018", [mse], float("nan"), True, {}], [mse]),
        "stall-dead-at-init": ([dead_fraction, torch.tensor(dead_fraction, dtype=torch.float64)],
                               [dead_fraction + 0.05, dead_fraction / 2, 1.5, -0.1],
                               ["a tenth", [dead_fraction], float("inf"), 3 + 0j], [dead_fraction]),
        "stall-dead-gradient": ([gradient, gradient.tolist(), (0, 0, 0), np.zeros(3)],
                                [[0.1, 0.0, 0.0], [0.0, 0.0, -1e-3], [float("nan"), 0, 0]],
                                ["zero", [0, 0], 0.0, {"w": 0}, [[0, 0, 0]], [None, 0, 0]], [0.0]),
        "stall-bias-seed": ([right_seed], [solves, stalls_both],
                            [str(right_seed), float(right_seed), -1, True, [right_seed]], [right_seed]),
    }


# chapter 1's exercises; other chapters test their own checks next to their modules
STALL_IDS = [e for e in exercises.exercise_ids() if e.startswith("stall-")]


def test_every_exercise_is_covered(cases):
    assert STALL_IDS and sorted(cases) == STALL_IDS


@pytest.mark.parametrize("exercise", STALL_IDS)
def test_unanswered_exercise_is_unsolved(exercise):
    feedback = exercises.check(exercise, ...)
    assert feedback.status == "unsolved" and not feedback.ok
    assert feedback.exercise == exercise
    assert exercise in str(feedback)


@pytest.mark.parametrize("exercise", STALL_IDS)
def test_right_answers_are_accepted(cases, exercise):
    right, _, _, _ = cases[exercise]
    for answer in right:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "correct", (answer, feedback.message)
        assert feedback.ok


@pytest.mark.parametrize("exercise", STALL_IDS)
def test_wrong_answers_get_a_hint_without_the_answer(cases, exercise):
    _, wrong, _, answer_numbers = cases[exercise]
    for answer in wrong:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect", (answer, feedback.message)
        assert not feedback.ok
        assert feedback.message
        for value in numbers_in(feedback.message):
            for secret in answer_numbers:
                assert not math.isclose(value, secret, rel_tol=1e-2, abs_tol=1e-12), (feedback.message, secret)


@pytest.mark.parametrize("exercise", STALL_IDS)
def test_wrongly_typed_answers_say_what_was_expected(cases, exercise):
    _, _, wrong_type, _ = cases[exercise]
    for answer in wrong_type:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect", (answer, feedback.message)
        assert feedback.message.startswith("expected"), feedback.message


def test_plateau_hints_name_the_common_mistakes():
    mse, mae, rmse = plateau_answers()
    assert "absolute" in exercises.check("stall-plateau", mae).message
    assert "root-mean-square" in exercises.check("stall-plateau", rmse).message
    with_bias = plateau_answers(bias=True)[0]  # the plateau section 1.4 prints
    assert "with* biases" in exercises.check("stall-plateau", with_bias).message


def test_unknown_exercise_is_an_error():
    with pytest.raises(ValueError, match="no-such-exercise"):
        exercises.check("no-such-exercise", 1.0)
    with pytest.raises(ValueError, match="no-such-exercise"):
        exercises.check("no-such-exercise", ...)
