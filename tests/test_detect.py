"""Unit tests for symcourse.detect (chapter 8) and chapter 8's self-checks, on networks the
notebook does not build."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import detect
from symcourse.exercises import check, comego

f64 = torch.float64


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(),
                         nn.Linear(4, 2)).double()


def data(n=50, seed=1):
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=f64)


def test_census_finds_dead_and_bypassed_units():
    model, X = mlp(), data()
    with torch.no_grad():
        model[0].bias[1] = -100.0   # dead: never active
        model[0].bias[3] = 100.0    # bypassed: always active
    counts = detect.census(model, X).counts()
    assert counts[0] == (1, 1)
    assert set(counts) == {0, 2}
    pre = detect.pre_activations(model, X)
    assert pre[0].shape == (50, 5) and pre[2].shape == (50, 4)


def test_gl_move_is_flat_inside_its_region_only():
    model, X = mlp(2), data()
    with torch.no_grad():
        model[0].bias[[0, 2, 4]] = 50.0
    before = model(X)
    mix = 0.1 * torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=f64)
    detect.gl_move(model, 0, [0, 2, 4], mix)
    assert torch.allclose(model(X), before, rtol=0, atol=1e-11)
    detect.gl_move(model, 0, [0, 2, 4], torch.tensor([[-60.0, 0, 0], [0, 0, 0], [0, 0, 0]],
                                                     dtype=f64))
    assert (model(X) - before).abs().max() > 1e-3  # unit 0 now inactive on some points


def test_kinks_and_their_slide():
    w = torch.tensor([2.0, 1.0, -1.0, 4.0], dtype=f64)
    b = torch.tensor([-2.0, -1.0, 1.0, 3.0], dtype=f64)
    assert torch.allclose(detect.kink_positions(w, b), torch.tensor([1.0, 1.0, 1.0, -0.75],
                                                                    dtype=f64))
    assert detect.coinciding_kinks(w, b) == [(0, 1)]
    out = torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=f64)
    x = torch.linspace(-3, 3, 101, dtype=f64)[:, None]
    f = lambda o: torch.relu(x * w + b) @ o  # noqa: E731
    slide = detect.kink_slide(w, out, 0, 1)
    assert torch.allclose(f(out + 0.7 * slide), f(out), rtol=0, atol=1e-12)
    other = detect.kink_slide(w, out, 0, 3)
    assert (f(out + 0.7 * other) - f(out)).abs().max() > 0.1


def test_detect_bad_inputs():
    with pytest.raises(TypeError, match="Sequential"):
        detect.census(nn.Linear(3, 2), data())
    with pytest.raises(ValueError, match="no nn.Linear layer followed by nn.ReLU"):
        detect.census(nn.Sequential(nn.Linear(3, 2)), data())
    with pytest.raises(ValueError, match="layer must be"):
        detect.gl_move(mlp(), 4, [0], torch.zeros(1, 1, dtype=f64))
    with pytest.raises(ValueError, match="distinct"):
        detect.gl_move(mlp(), 0, [1, 1], torch.zeros(2, 2, dtype=f64))
    with pytest.raises(ValueError, match="no kink"):
        detect.kink_positions(torch.zeros(2, dtype=f64), torch.zeros(2, dtype=f64))
    with pytest.raises(ValueError, match="different"):
        detect.kink_slide(torch.ones(2, dtype=f64), torch.ones(2, dtype=f64), 1, 1)


def test_chapter8_self_checks():
    plane = torch.tensor([[0.0, 0.0, s, t] for s in (-1.0, 0.0) for t in (-1.0, 0.0, 1.0)])
    assert check("comego-dead", plane).ok
    assert "general position" in check("comego-dead", plane + 0.01 * torch.randn(6, 4)).message
    assert "too many" in check("comego-dead", plane[:, [0, 1, 2, 2]] * 0 - 1).message
    solid = plane.clone()
    solid[:, 1] = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    assert "too few" in check("comego-dead", solid).message
    assert "not dead" in check("comego-dead", plane + 5).message
    assert "at least" in check("comego-dead", plane[:3]).message
    assert "shape" in check("comego-dead", "points").message
    assert "finite" in check("comego-dead", plane * float("nan")).message
    assert check("comego-gl", 22).ok and "once" in check("comego-gl", 25).message
    assert "ReLU" in check("comego-gl", 6).message and "matrices" in check("comego-gl", 16).message
    assert "each direction once" in check("comego-gl", 24).message
    assert check("comego-kinks", [(4, 1)]).ok
    assert "other way" in check("comego-kinks", [(1, 2)]).message
    assert check("comego-kurtosis", 2.7).ok and "Gaussian" in check("comego-kurtosis", 3.0).message
    assert "one uniform" in check("comego-kurtosis", 1.8).message
    assert comego.BYPASSED == 3


def test_census_during_training_and_init_statistics():
    X = data(80)
    labels = torch.arange(80) % 2
    counts = detect.census_during_training(mlp(3), X, labels, 0.01, 20, every=10, batch_size=16)
    assert list(counts) == [0, 10, 20] and set(counts[0]) == {0, 2}
    e1 = torch.zeros(30, dtype=f64)
    e1[0] = 1.0
    spread = torch.ones(30, dtype=f64) / 30 ** 0.5
    assert abs(detect.kurtosis(detect.init_preactivations(e1, "uniform", 20000)) - 1.8) < 0.05
    assert abs(detect.kurtosis(detect.init_preactivations(spread, "uniform", 20000)) - 3) < 0.15
    assert abs(detect.kurtosis(detect.init_preactivations(e1, "normal", 20000)) - 3) < 0.15
    with pytest.raises(ValueError, match="init"):
        detect.init_preactivations(e1, "orthogonal")


def test_synthesis_grid_checks_its_marks():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symcourse import plots

    ax = plots.synthesis_grid(["a", "b"], ["x"], [["yes"], ["no"]])
    assert len(ax.patches) == 2
    with pytest.raises(ValueError, match="mark"):
        plots.synthesis_grid(["a"], ["x"], [["maybe"]])
    with pytest.raises(ValueError, match="rows"):
        plots.synthesis_grid(["a", "b"], ["x"], [["yes"]])
    plt.close("all")


def test_near_kinks_and_fit_1d():
    layer = nn.Linear(1, 3).double()
    with torch.no_grad():
        layer.weight[:, 0] = torch.tensor([1.0, 2.0, -1.0], dtype=f64)
        layer.bias[:] = torch.tensor([-0.5, -1.004, 0.5], dtype=f64)  # kinks 0.5, 0.502, 0.5
    assert detect.near_kinks(layer, (0.0, 1.0), tol=0.01) == 1
    assert detect.near_kinks(layer, (0.6, 1.0), tol=0.01) == 0
    with pytest.raises(ValueError, match="one input"):
        detect.near_kinks(nn.Linear(2, 3), (0.0, 1.0))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    x = torch.linspace(-1, 1, 30, dtype=f64)[:, None]
    start = nn.functional.mse_loss(model(x), x.abs()).item()
    assert detect.fit_1d(model, x, x.abs(), 0.02, 200) < start / 10


def test_census_sweep_runs_every_rate_and_seed():
    X, labels = data(40), torch.arange(40) % 2
    runs = detect.census_sweep(lambda: mlp(0), X, labels, [0.01, 0.1], [0, 1], 10, every=5)
    assert set(runs) == {(0.01, 0), (0.01, 1), (0.1, 0), (0.1, 1)}
    assert list(runs[0.1, 1]) == [0, 5, 10]
    with pytest.raises(TypeError, match="make_model"):
        detect.census_sweep(mlp(0), X, labels, [0.01], [0], 5)
