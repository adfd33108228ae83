"""Unit tests for symcourse.attractor (chapter 10), its plots, explorer and self-check, on data
the notebook does not use."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from symcourse import attractor as at
from symcourse.exercises import check, permutations

f64 = torch.float64


def test_threshold_is_the_correlation_and_ignores_the_scale_of_x():
    x, y = at.scalar_data(n=200, slope=-0.8, noise=0.3, seed=5)
    c = (x * y).mean().item()
    assert at.collapse_threshold(x, y) == pytest.approx(abs(c))
    # rescaling x by 2 and y by 1/2 keeps mean(xy) but quadruples mean(x²)
    assert at.collapse_threshold(2 * x, y / 2) == pytest.approx(abs(c))


def test_product_training_collapses_exactly_above_the_threshold():
    x, y = at.scalar_data(n=300, slope=0.4, noise=0.2, seed=2)
    c, m = at.collapse_threshold(x, y), (x * x).mean().item()
    gammas = torch.tensor([0.5 * c, 0.9 * c, 1.1 * c, 2.0 * c], dtype=f64)
    run = at.train_product(x, y, gammas, steps=20000, lr=0.1)
    final = run.distance[-1]
    assert bool((final[:2] > 0.05).all()) and bool((final[2:] < 1e-3).all())
    # below the threshold the run ends at the balanced minimum uw = (c − λ)/m
    uw = (run.u[-1] * run.w[-1])[:2]
    assert torch.allclose(uw, (c - gammas[:2]) / m, rtol=1e-6)
    assert torch.allclose(run.u[-1, :2].abs(), run.w[-1, :2].abs(), rtol=1e-6)
    found = at.measured_threshold(gammas, final)
    assert found["below"] == pytest.approx(0.9 * c) and found["above"] == pytest.approx(1.1 * c)
    assert found["monotone"]


def test_measured_threshold_flags_a_non_monotone_sweep():
    found = at.measured_threshold([0.1, 0.2, 0.3], [1e-5, 0.5, 1e-6])
    assert not found["monotone"]


def test_linear_network_rank_follows_the_spectrum():
    X, Y = at.whitened_regression(n=200, d=4, k=3, strengths=(1.5, 0.6), noise=0.0, seed=1)
    assert torch.allclose(X.T @ X / 200, torch.eye(4, dtype=f64), atol=1e-12)
    spectrum = at.correlation_spectrum(X, Y)
    assert spectrum[:2].tolist() == pytest.approx([1.5, 0.6], rel=1e-9) and spectrum[2] < 1e-12
    gammas = torch.tensor([0.3, 1.0, 2.0], dtype=f64)
    maps = at.train_linear(X, Y, gammas, hidden=4, steps=3000)
    assert at.numerical_rank(maps).tolist() == [2, 1, 0]
    top = torch.linalg.svdvals(maps[0])[:2]  # shrunk by λ
    assert top.tolist() == pytest.approx([1.2, 0.3], rel=1e-4)


@pytest.mark.parametrize("call, error", [
    (lambda: at.scalar_data(n=0), ValueError),
    (lambda: at.scalar_data(noise=-1.0), ValueError),
    (lambda: at.scalar_data(seed=-2), ValueError),
    (lambda: at.collapse_threshold(torch.ones(3, dtype=f64), torch.ones(4, dtype=f64)), ValueError),
    (lambda: at.collapse_threshold(torch.ones(1, dtype=f64), torch.ones(1, dtype=f64)), ValueError),
    (lambda: at.train_product(*at.scalar_data(n=10), [-0.1]), ValueError),
    (lambda: at.train_product(*at.scalar_data(n=10), []), ValueError),
    (lambda: at.train_product(*at.scalar_data(n=10), [0.1], start=(1.0,)), ValueError),
    (lambda: at.train_product(*at.scalar_data(n=10), [0.1], start=(float("nan"), 0.1)), ValueError),
    (lambda: at.train_product(*at.scalar_data(n=10), [0.1], lr=0.0), ValueError),
    (lambda: at.measured_threshold([0.1, 0.2], [1.0, 1.0]), ValueError),
    (lambda: at.measured_threshold([0.1, 0.2], [1.0]), ValueError),
    (lambda: at.whitened_regression(d=2, k=2, strengths=(1.0, 0.5, 0.2)), ValueError),
    (lambda: at.train_linear(torch.ones(5, 2, dtype=f64), torch.ones(4, 1, dtype=f64), [0.1]), ValueError),
    (lambda: at.train_linear(*at.whitened_regression(), [0.1], hidden=0), ValueError),
    (lambda: at.numerical_rank(torch.ones(3, dtype=f64)), ValueError),
    (lambda: at.numerical_rank(torch.ones(2, 2, dtype=f64), tol=0.0), ValueError),
])
def test_bad_inputs_are_rejected(call, error):
    with pytest.raises(error):
        call()


def test_rank_self_check():
    X, Y = at.whitened_regression(**permutations.RANK_DATA)
    s = at.correlation_spectrum(X, Y)
    assert check("perm-rank", s[1].item()).ok and check("perm-rank", 1.02 * s[1].item()).ok
    assert not check("perm-rank", s[0].item()).ok and not check("perm-rank", s[2].item()).ok
    assert not check("perm-rank", 1.2 * s[1].item()).ok and not check("perm-rank", "x").ok


def test_plots_of_the_attractor():
    from symcourse import plots

    gammas = torch.linspace(0, 1, 5, dtype=f64)
    ax = plots.collapse_sweep(gammas, torch.tensor([1, 1, 1e-5, 1e-8, 0.0], dtype=f64), 0.5, 0.5)
    assert ax.get_yscale() == "log"
    ax = plots.rank_staircase(gammas, torch.tensor([2, 2, 1, 0, 0]), torch.tensor([0.7, 0.3], dtype=f64))
    assert ax.get_ylabel().startswith("rank")
    with pytest.raises(ValueError):
        plots.rank_staircase(gammas, torch.tensor([2, 1]), torch.tensor([0.5], dtype=f64))
    ax = plots.product_flow(torch.zeros(3, 2, dtype=f64), torch.ones(3, 2, dtype=f64), [(0.0, 0.0)])
    assert ax.get_xlabel() == "u"
    plt.close("all")


def test_explorer_follows_its_sliders():
    from symcourse.widgets import AttractorExplorer, attractor_explorer_figure

    explorer = AttractorExplorer(gamma=0.2)
    assert not explorer.info["above"] and explorer.info["final_distance"] > 0.1
    explorer.controls["gamma"].value = 1.0
    assert explorer.info["above"] and explorer.info["final_distance"] < 1e-3
    explorer.controls["slope"].value = -1.5
    assert explorer.info["threshold"] > 1.0 and not explorer.info["above"]
    with pytest.raises(ValueError):
        attractor_explorer_figure(gamma=-0.1)
    with pytest.raises(ValueError):
        attractor_explorer_figure(slope=3.0)
    assert math.isfinite(explorer.info["threshold"])
