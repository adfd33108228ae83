"""Unit tests for symcourse.teleport (chapter 7) and its self-checks, on networks and data the
notebook does not use (spiral data, other widths and depths)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from symcourse import teleport as tp
from symcourse.data import spiral_task
from symcourse.exercises import check, using
from symcourse.symmetry import rescale_groups

f64 = torch.float64


@pytest.fixture(scope="module")
def task():
    return spiral_task(n_points=120, dtype=f64)


def net(seed=0, depth=4):
    """A small deep MLP with nonzero biases (He initialisation leaves them at zero, which
    would hide a move that forgets them)."""
    model = tp.deep_relu_mlp(in_dim=2, width=6, depth=depth, classes=3, seed=seed)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.bias.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(seed))
    return model


def test_deep_relu_mlp_shapes_and_init():
    model = tp.deep_relu_mlp(in_dim=5, width=7, depth=4, classes=2, seed=1)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [m.weight.shape for m in linears] == [(7, 5), (7, 7), (7, 7), (2, 7)]
    assert all(float(m.bias.detach().abs().max()) == 0 for m in linears)
    assert len(rescale_groups(model)) == 3 * 7
    for kwargs, match in [({"depth": 1}, "depth"), ({"width": 0}, "width"), ({"seed": -1}, "seed")]:
        with pytest.raises((ValueError, TypeError), match=match):
            tp.deep_relu_mlp(**kwargs)


def test_random_orbit_moves_keep_the_loss_and_transform_the_gradient(task):
    model = net()
    signs = tp.sign_matrix(model, rescale_groups(model))
    theta = tp.flat_parameters(model)
    grad = tp.full_gradient(model, task)
    t = torch.linspace(-1.5, 1.5, signs.shape[0], dtype=f64)
    moved = tp.move(theta, signs, t)
    assert tp.check_invariance(model, task, theta, moved) < 1e-12
    predicted = grad * torch.exp(-(signs.T @ t))
    assert torch.allclose(tp.full_gradient(model, task), predicted, rtol=1e-9, atol=1e-13)


def test_the_invariance_check_fails_loudly_for_moves_that_are_not_symmetries(task):
    model = net()
    theta = tp.flat_parameters(model)
    signs = tp.sign_matrix(model, rescale_groups(model))
    no_bias = signs.clone()
    no_bias[:, 12:18] = 0  # forget the first layer's biases (weights 0..11, biases 12..17)
    with pytest.raises(tp.NotASymmetry, match="not a symmetry"):
        tp.check_invariance(model, task, theta, tp.move(theta, no_bias, torch.ones(18, dtype=f64)))
    tanh = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    with pytest.raises(ValueError, match="Tanh"):
        rescale_groups(tanh)
    with pytest.raises(TypeError, match="float64"):
        tp.check_invariance(net().float(), task, theta.float(), theta.float())


def test_balancing_is_exact_and_its_point_unique(task):
    a, b = net(seed=4), net(seed=4)
    tp.unbalance(b, math.log(10), seed=7)
    signs = tp.sign_matrix(a, rescale_groups(a))
    assert tp.imbalance(tp.flat_parameters(b), signs).abs().max() > 1
    for model in (a, b):
        theta = tp.flat_parameters(model)
        moved = tp.move(theta, signs, tp.balancing_scales(theta, signs))
        tp.check_invariance(model, task, tp.flat_parameters(model), moved)
        assert tp.imbalance(moved, signs).abs().max() < 1e-10
    assert torch.allclose(tp.flat_parameters(a), tp.flat_parameters(b), rtol=1e-8, atol=1e-12)


def test_teleport_raises_the_gradient_norm_within_the_radius(task):
    model = net(seed=2)
    result = tp.orbit_move(model, task, "teleport", radius=math.log(2))
    assert result.loss_change < 1e-10 and result.gradient_after > result.gradient_before
    signs = tp.sign_matrix(model, rescale_groups(model))
    t = tp.teleport_scales(torch.ones(signs.shape[1], dtype=f64), signs, 0.3, steps=5)
    assert t.abs().max() <= 0.3 + 1e-15


def test_train_with_moves_records_and_stops_on_divergence(task):
    run = tp.train_with_moves(net(), task, 0.1, 30, how="balance", every=10, batch_size=20,
                              record_every=10)
    assert run.steps == [0, 10, 20, 30] and len(run.moves) == 3 and not run.diverged
    assert all(m.imbalance_after < 1e-10 and m.loss_change < 1e-10 for m in run.moves)
    wild = tp.train_with_moves(net(), task, 1e200, 30, batch_size=20, record_every=1)
    assert wild.diverged and len(wild.loss) < 31


def test_teleport_bad_inputs(task):
    model = net()
    with pytest.raises(ValueError, match="how"):
        tp.orbit_move(model, task, "rotate")
    with pytest.raises(ValueError, match="translation"):
        from symcourse.symmetry import translation_groups
        tp.sign_matrix(model, translation_groups(model))
    with pytest.raises(ValueError, match="shape"):
        tp.load_flat(model, torch.zeros(3, dtype=f64))
    with pytest.raises(ValueError, match="spread"):
        tp.unbalance(model, 0.0)
    normed = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.ReLU(), nn.Linear(3, 2)).double()
    from symcourse.symmetry import scale_groups
    signs = tp.sign_matrix(normed, scale_groups(normed))
    with pytest.raises(ValueError, match="outgoing"):
        tp.balancing_scales(tp.flat_parameters(normed), signs)


def test_chapter7_self_checks():
    assert check("using-count", 264).ok and "output layer" in check("using-count", 288).message
    assert check("using-min-ratio", math.sqrt(3)).ok
    assert "inverted" in check("using-min-ratio", 1 / math.sqrt(3)).message
    assert check("using-min-norm", 1.0003).ok and not check("using-min-norm", 0.9).ok

    def good(model, layer, k, alpha):
        with torch.no_grad():
            model[layer].weight[k] *= alpha
            model[layer].bias[k] *= alpha
            model[layer + 2].weight[:, k] /= alpha

    def forgot_bias(model, layer, k, alpha):
        with torch.no_grad():
            model[layer].weight[k] *= alpha
            model[layer + 2].weight[:, k] /= alpha

    assert check("using-rescale-neuron", good).ok
    assert check("using-rescale-neuron", forgot_bias).status == "incorrect"
    assert using.DEPTH == 12


def test_compare_variants_and_its_plot(task):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symcourse import plots

    variants = {"plain": (0.0, None), "wild": (math.log(30), None), "fixed": (math.log(30), "balance")}
    runs = tp.compare_variants(task, [1, 2], variants, lr=0.5, steps=40, every=20, record_every=10,
                               in_dim=2, width=6, depth=5, classes=3)
    assert set(runs) == set(variants) and all(len(r) == 2 for r in runs.values())
    assert [len(r.moves) for r in runs["fixed"]] == [2, 2]
    ax = plots.variant_curves(runs)
    assert ax.get_xlabel() == "SGD step"
    with pytest.raises(ValueError, match="non-empty"):
        plots.variant_curves({})
    plt.close("all")


def test_using_symmetry_explorer_follows_its_sliders():
    import matplotlib.pyplot as plt

    from symcourse.widgets import UsingSymmetryExplorer

    explorer = UsingSymmetryExplorer(spread=0.25)
    calm = explorer.info
    assert math.isfinite(calm["unbalanced start"])
    explorer.controls["spread"].value = 3.0
    wild = explorer.info
    assert wild["spread"] == 3.0 and math.isnan(wild["unbalanced start"])
    assert wild["unbalanced, rebalanced"] == pytest.approx(calm["unbalanced, rebalanced"], rel=1e-6)
    plt.close("all")
