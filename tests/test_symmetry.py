"""Tests for symcourse.symmetry (chapter 2), symcourse.data.spiral_task and plots.symmetry_field.

Constraints are checked in float64 on small random networks, and each check is also shown to
fail when the symmetry is broken on purpose.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from symcourse import plots, symmetry as S  # noqa: E402
from symcourse.data import spiral_task  # noqa: E402

TOL = 1e-12


def mlp(activation=nn.ReLU, widths=(2, 5, 4, 3), seed=0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers).double()


def normed(norm="layer", eps=0.0, seed=0):
    torch.manual_seed(seed)
    n = nn.LayerNorm(6, elementwise_affine=False, eps=eps) if norm == "layer" else \
        nn.BatchNorm1d(6, affine=False, eps=eps or 1e-300)  # torch needs eps > 0
    return nn.Sequential(nn.Linear(2, 6), n, nn.ReLU(), nn.Linear(6, 3)).double()


@pytest.fixture(scope="module")
def task():
    return spiral_task(n_points=60, dtype=torch.float64)


def setup_for(model, task, **kw):
    return S.parameters(model), S.loss_function(model, task.X, task.labels, **kw)


# --- data -------------------------------------------------------------------------------------

def test_spiral_task_shapes_and_determinism():
    a, b = spiral_task(n_points=30, n_classes=3), spiral_task(n_points=30, n_classes=3)
    assert a.X.shape == (30, 2) and a.labels.shape == (30,) and a.X.dtype == torch.float32
    assert torch.equal(a.X, b.X) and torch.equal(a.labels.bincount(), torch.tensor([10, 10, 10]))
    assert not torch.equal(a.X, spiral_task(n_points=30, seed=1).X)


@pytest.mark.parametrize("kwargs", [dict(n_points=0), dict(n_classes=1), dict(noise=-1.0),
                                    dict(seed=-1), dict(n_points=2, n_classes=3), dict(seed=True)])
def test_spiral_task_bad_inputs(kwargs):
    with pytest.raises((ValueError, TypeError)):
        spiral_task(**kwargs)


# --- groups -----------------------------------------------------------------------------------

def test_rescale_groups_one_per_hidden_neuron():
    model = mlp()
    groups = S.rescale_groups(model)
    assert len(groups) == 5 + 4 and all(g.kind == "rescale" for g in groups)
    first = groups[0].signs
    assert first["0.weight"][0].eq(1).all() and first["0.bias"][0] == 1
    assert first["2.weight"][:, 0].eq(-1).all()
    assert groups[0].size() == 2 + 1 + 4
    assert all(g.size() == 5 + 1 + 3 for g in groups[5:])  # layer 2: 5 in, 3 out


@pytest.mark.parametrize("activation", [nn.LeakyReLU, nn.Identity])
def test_rescale_groups_accept_homogeneous_activations(activation):
    assert len(S.rescale_groups(mlp(activation))) == 9


@pytest.mark.parametrize("activation", [nn.Tanh, nn.Sigmoid])
def test_rescale_groups_name_the_unsupported_layer(activation):
    with pytest.raises(ValueError, match=activation.__name__):
        S.rescale_groups(mlp(activation))


def test_rescale_groups_bad_inputs():
    with pytest.raises(TypeError, match="Sequential"):
        S.rescale_groups(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="fewer than two"):
        S.rescale_groups(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="LayerNorm"):
        S.rescale_groups(normed())


def test_translation_groups():
    groups = S.translation_groups(mlp())
    assert len(groups) == 4 + 1 and groups[-1].signs["4.bias"].eq(1).all()
    assert groups[0].signs["4.weight"][:, 0].eq(1).all() and groups[0].size() == 3
    with pytest.raises(ValueError, match="last layer"):
        S.translation_groups(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    with pytest.raises(ValueError, match="nothing"):
        S.translation_groups(nn.Sequential())
    with pytest.raises(TypeError):
        S.translation_groups("model")


def test_scale_groups():
    assert len(S.scale_groups(normed("layer"))) == 1
    batch = S.scale_groups(normed("batch"))
    assert len(batch) == 6 and batch[2].size() == 2 + 1
    with pytest.raises(ValueError, match="no nn.Linear"):
        S.scale_groups(mlp())
    bad = nn.Sequential(nn.Linear(2, 6), nn.LayerNorm(3))
    with pytest.raises(ValueError, match="normalises shape"):
        S.scale_groups(bad)


# --- actions and generators ---------------------------------------------------------------------

def test_actions_leave_the_loss_unchanged_and_copy(task):
    cases = [(mlp(), S.rescale_groups, S.rescale, 2.5), (mlp(), S.translation_groups, S.translate, -1.3),
             (normed(), S.scale_groups, S.scale, 3.0), (normed("batch"), S.scale_groups, S.scale, 0.2)]
    for model, groups, act, alpha in cases:
        params, loss = setup_for(model, task)
        for sym in groups(model):
            moved = act(params, sym, alpha)
            assert S.loss_change(loss, params, moved).relative < TOL
            assert S.norm({k: moved[k] - params[k] for k in params}) > 1e-3
    before = {k: v.clone() for k, v in params.items()}
    S.scale(params, S.scale_groups(model)[0], 2.0)
    assert all(torch.equal(before[k], params[k]) for k in params)  # inputs untouched


def test_rescale_by_alpha_then_one_over_alpha_is_identity():
    model = mlp()
    params, sym = S.parameters(model), S.rescale_groups(model)[3]
    back = S.rescale(S.rescale(params, sym, 7.0), sym, 1 / 7.0)
    assert all(torch.allclose(back[k], params[k], atol=1e-15) for k in params)


def test_broken_symmetry_changes_the_loss(task):
    model = mlp(nn.Tanh)
    params, loss = setup_for(model, task)
    fake = S.rescale_groups(mlp())[0]  # same parameter names and shapes, but tanh is not homogeneous
    assert S.loss_change(loss, params, S.rescale(params, fake, 2.0)).relative > 1e-6


def test_action_bad_inputs():
    model = mlp()
    params = S.parameters(model)
    r, t = S.rescale_groups(model)[0], S.translation_groups(model)[0]
    with pytest.raises(ValueError, match="alpha"):
        S.rescale(params, r, 0.0)
    with pytest.raises(ValueError, match="rescale symmetry"):
        S.rescale(params, S.scale_groups(normed())[0], 2.0)
    with pytest.raises(ValueError, match="scale symmetry"):
        S.scale(params, r, 2.0)
    with pytest.raises(ValueError, match="translation"):
        S.translate(params, r, 1.0)
    with pytest.raises(TypeError, match="alpha"):
        S.translate(params, t, "1")
    with pytest.raises(TypeError, match="Symmetry"):
        S.rescale(params, "neuron 0", 2.0)
    with pytest.raises(TypeError, match="dict"):
        S.translate([1.0], t, 1.0)
    with pytest.raises(ValueError, match="acts on parameter"):
        S.rescale(S.parameters(normed()), r, 2.0)


def test_generator_is_the_derivative_of_the_action():
    model = normed()
    params = S.parameters(model)
    for sym, act, at in [(S.scale_groups(model)[0], S.scale, 1.0),
                         (S.rescale_groups(mlp())[1], S.rescale, 1.0),
                         (S.translation_groups(model)[0], S.translate, 0.0)]:
        p = params if sym.signs.keys() == params.keys() else S.parameters(mlp())
        h = 1e-6
        plus, minus = act(p, sym, at + h), act(p, sym, at - h)
        xi = S.generator(sym, p)
        for k in p:
            assert torch.allclose((plus[k] - minus[k]) / (2 * h), xi[k], atol=1e-8)
    with pytest.raises(TypeError):
        S.generator(None, params)


def test_permute(task):
    model = mlp()
    params, loss = setup_for(model, task)
    perm = [2, 0, 1, 4, 3]
    moved = S.permute(params, model, 0, perm)
    assert torch.equal(moved["0.weight"], params["0.weight"][perm])
    assert torch.equal(moved["2.weight"], params["2.weight"][:, perm])
    assert S.loss_change(loss, params, moved).relative < TOL
    assert S.permute(S.parameters(mlp(nn.Tanh)), mlp(nn.Tanh), 2, [3, 2, 1, 0])  # tanh is fine
    for bad in [[0, 1, 2, 3], [0, 0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0, 4.0]]:
        with pytest.raises(ValueError, match="permutation"):
            S.permute(params, model, 0, bad)
    with pytest.raises(ValueError, match="choose one of"):
        S.permute(params, model, 4, [0, 1, 2])
    with pytest.raises(ValueError, match="LayerNorm"):
        S.permute(S.parameters(normed()), normed(), 0, list(range(6)))


# --- gradients and Hessians -------------------------------------------------------------------

def test_gradient_and_hvp_match_finite_differences(task):
    model = mlp(nn.Tanh)  # smooth, so finite differences are accurate
    params, loss = setup_for(model, task)
    torch.manual_seed(1)
    v = {k: torch.randn_like(p) for k, p in params.items()}
    h = 1e-6
    shifted = lambda s: {k: params[k] + s * v[k] for k in params}  # noqa: E731
    fd = (loss(shifted(h)) - loss(shifted(-h))).item() / (2 * h)
    assert abs(fd - S.dot(S.gradient(loss, params), v)) < 1e-7
    g_plus, g_minus = S.gradient(loss, shifted(h)), S.gradient(loss, shifted(-h))
    hv = S.hvp(loss, params, v)
    for k in params:
        assert torch.allclose((g_plus[k] - g_minus[k]) / (2 * h), hv[k], atol=1e-6)


def test_gradient_hvp_dot_bad_inputs(task):
    model = mlp()
    params, loss = setup_for(model, task)
    with pytest.raises(TypeError, match="callable"):
        S.gradient(3, params)
    with pytest.raises(TypeError, match="callable"):
        S.hvp(None, params, params)
    with pytest.raises(ValueError, match="same parameter names"):
        S.hvp(loss, params, {"0.weight": params["0.weight"]})
    with pytest.raises(ValueError, match="same parameter names"):
        S.dot(params, {"x": torch.zeros(1)})
    with pytest.raises(ValueError, match="NaN"):
        S.norm({"x": torch.tensor([float("nan")])})
    assert S.dot({"x": torch.tensor([3.0])}, {"x": torch.tensor([2.0])}) == 6.0
    assert S.norm({"x": torch.tensor([3.0, 4.0])}) == 5.0


def test_loss_function_and_parameters(task):
    model = mlp()
    params, loss = setup_for(model, task)
    direct = nn.functional.cross_entropy(model(task.X), task.labels)
    assert torch.allclose(loss(params), direct)
    decayed = S.loss_function(model, task.X, task.labels, weight_decay=0.1)
    total = sum((p ** 2).sum() for p in params.values())
    assert torch.allclose(decayed(params), direct + 0.05 * total)
    assert params["0.weight"].requires_grad is False
    mse = S.loss_function(model, task.X, torch.zeros(60, 3, dtype=torch.float64),
                          criterion=nn.functional.mse_loss)
    assert mse(params) > 0
    with pytest.raises(TypeError):
        S.parameters([1, 2])
    with pytest.raises(TypeError):
        S.loss_function("model", task.X, task.labels)
    with pytest.raises(ValueError, match="one entry per row"):
        S.loss_function(model, task.X, task.labels[:5])
    with pytest.raises(TypeError, match="callable"):
        S.loss_function(model, task.X, task.labels, criterion="ce")
    with pytest.raises(ValueError, match="weight_decay"):
        S.loss_function(model, task.X, task.labels, weight_decay=-1.0)


# --- the constraints --------------------------------------------------------------------------

CONSTRAINED = [("rescale", lambda: mlp(), S.rescale_groups),
               ("rescale-leaky", lambda: mlp(nn.LeakyReLU), S.rescale_groups),
               ("translation", lambda: mlp(), S.translation_groups),
               ("scale-layer", lambda: normed(), S.scale_groups),
               ("scale-batch", lambda: normed("batch"), S.scale_groups)]


@pytest.mark.parametrize("name,make,groups", CONSTRAINED, ids=[c[0] for c in CONSTRAINED])
def test_constraints_hold_to_float64_precision(task, name, make, groups):
    model = make()
    params, loss = setup_for(model, task)
    live = 0
    for sym in groups(model):
        grad = S.gradient_constraint(sym, loss, params)
        hess = S.hessian_constraint(sym, loss, params)
        live += grad.size > 1e-6 and hess.size > 1e-6  # a dead ReLU neuron gives 0 = 0
        assert grad.relative < TOL, (sym.label, grad)
        assert hess.relative < TOL, (sym.label, hess)
    assert live >= len(groups(model)) / 2  # the check is not vacuous


def test_constraints_fail_when_the_symmetry_is_broken(task):
    model = mlp(nn.Tanh)
    params, loss = setup_for(model, task)
    fake = S.rescale_groups(mlp())  # tanh is not positively homogeneous
    assert max(S.gradient_constraint(s, loss, params).relative for s in fake) > 1e-3
    assert max(S.hessian_constraint(s, loss, params).relative for s in fake) > 1e-3
    model = normed(eps=1e-2)
    params, loss = setup_for(model, task)
    sym = S.scale_groups(model)[0]
    assert S.gradient_constraint(sym, loss, params).relative > 1e-4
    assert S.hessian_constraint(sym, loss, params).relative > 1e-4
    mse = S.loss_function(mlp(), task.X, torch.eye(3, dtype=torch.float64)[task.labels],
                          criterion=nn.functional.mse_loss)  # no softmax: no translation symmetry
    trans = S.translation_groups(mlp())
    assert max(S.gradient_constraint(s, mse, S.parameters(mlp())).relative for s in trans) > 1e-3


def test_weight_decay_breaks_the_constraint_exactly_as_predicted(task):
    for model, groups in [(mlp(), S.rescale_groups), (mlp(), S.translation_groups),
                          (normed(), S.scale_groups)]:
        params, loss = setup_for(model, task, weight_decay=0.01)
        for sym in groups(model)[:3]:
            got = S.gradient_constraint(sym, loss, params).residual
            want = S.weight_decay_prediction(sym, params, 0.01)
            assert abs(want) > 1e-6 and abs(got - want) < 1e-12 * max(1.0, abs(want))
    with pytest.raises(ValueError):
        S.weight_decay_prediction(sym, params, -0.1)


def test_permutation_constraint(task):
    model = mlp()
    params, loss = setup_for(model, task)
    assert S.permutation_constraint(loss, params, model, 2, [1, 0, 3, 2]).relative < TOL
    # a "permutation" that forgets the outgoing weights is not a symmetry
    broken = S.permute(params, model, 0, [1, 0, 2, 3, 4])
    broken["2.weight"] = params["2.weight"].clone()
    g_wrong = S.gradient(loss, broken)
    assert S.norm({k: g_wrong[k] - S.gradient(loss, params)[k] for k in params}) > 1e-6
    with pytest.raises(ValueError):
        S.permutation_constraint(loss, params, model, 1, [0])


def test_constraint_and_symmetry_objects():
    assert S.Constraint(1e-3, 0.0).relative == 1e-3 and S.Constraint(-2.0, 4.0).relative == 0.5
    with pytest.raises(ValueError, match="symmetry kind"):
        S.generator(S.Symmetry("shear", "x", {}), {"a": torch.zeros(1)})
    with pytest.raises(TypeError):
        S.loss_change(None, {}, {})


@pytest.mark.parametrize("kind", S.KINDS)
def test_toy_losses_are_invariant_and_the_field_is_orthogonal(kind):
    loss = S.toy_loss(kind)
    a = torch.tensor([0.7, 1.3, 0.4], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.5, 0.9, 1.8], dtype=torch.float64, requires_grad=True)
    act = {"translation": lambda a, b: (a + 0.8, b + 0.8), "scale": lambda a, b: (2.5 * a, 2.5 * b),
           "rescale": lambda a, b: (2.5 * a, b / 2.5)}[kind]
    assert torch.allclose(loss(*act(a, b)), loss(a, b), atol=1e-14)
    ga, gb = torch.autograd.grad(loss(a, b).sum(), (a, b))
    xi = {"translation": (1.0, 1.0), "scale": (a, b), "rescale": (a, -b)}[kind]
    assert (ga * xi[0] + gb * xi[1]).abs().max() < 1e-14
    assert (ga.abs() + gb.abs()).min() > 1e-3


def test_toy_loss_bad_kind():
    with pytest.raises(ValueError, match="choose one of"):
        S.toy_loss("rotation")


@pytest.mark.parametrize("kind", S.KINDS)
def test_symmetry_field(kind):
    ax = plots.symmetry_field(kind, arrows=6)
    assert ax.get_title() == kind and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.collections) >= 1
    plt.close("all")
    with pytest.raises(ValueError):
        plots.symmetry_field("shear")
    with pytest.raises(ValueError):
        plots.symmetry_field(kind, extent=-1.0)


# --- moving along an orbit: act, predicted_gradient, orbit_scan, chapter 2's explorer ----------

def _cases():
    relu, norm = mlp(), normed()
    return [(relu, S.rescale_groups(relu)[1], S.rescale, 2.5),
            (relu, S.translation_groups(relu)[-1], S.translate, -1.3),
            (norm, S.scale_groups(norm)[0], S.scale, 0.4)]


def test_act_is_the_action_of_the_symmetry_s_kind():
    for model, sym, action, alpha in _cases():
        params = S.parameters(model)
        moved, expected = S.act(params, sym, alpha), action(params, sym, alpha)
        assert all(torch.equal(moved[k], expected[k]) for k in params)
    with pytest.raises(TypeError, match="Symmetry"):
        S.act(params, "neuron 1", 2.0)
    with pytest.raises(ValueError, match="alpha"):
        S.act(params, sym, -1.0)


def test_predicted_gradient_is_the_gradient_at_the_moved_point(task):
    for model, sym, _, alpha in _cases():
        params, loss = setup_for(model, task)
        want = S.predicted_gradient(sym, S.gradient(loss, params), alpha)
        got = S.gradient(loss, S.act(params, sym, alpha))
        assert S.norm({k: got[k] - want[k] for k in got}) < 1e-10 * S.norm(got)
    relu, rescale = _cases()[0][:2]
    g = S.gradient(setup_for(relu, task)[1], S.parameters(relu))
    moved = S.predicted_gradient(rescale, g, 4.0)  # neuron 1 after layer 0
    assert torch.allclose(moved["0.weight"][1], g["0.weight"][1] / 4, rtol=1e-15, atol=0)
    assert moved["0.bias"][1].item() == pytest.approx(g["0.bias"][1].item() / 4, rel=1e-15)
    assert torch.allclose(moved["2.weight"][:, 1], g["2.weight"][:, 1] * 4, rtol=1e-15, atol=0)
    assert torch.equal(moved["0.weight"][0], g["0.weight"][0])
    assert torch.equal(moved["4.weight"], g["4.weight"])


def test_predicted_gradient_bad_inputs(task):
    relu, rescale = _cases()[0][:2]
    g = S.gradient(setup_for(relu, task)[1], S.parameters(relu))
    with pytest.raises(ValueError, match="alpha"):
        S.predicted_gradient(rescale, g, 0.0)
    with pytest.raises(TypeError, match="alpha"):
        S.predicted_gradient(S.translation_groups(relu)[0], g, "1")
    with pytest.raises(TypeError, match="dict"):
        S.predicted_gradient(rescale, [g], 2.0)
    with pytest.raises(ValueError, match="acts on parameter"):
        S.predicted_gradient(rescale, S.parameters(normed()), 2.0)


def test_orbit_scan_is_flat_for_a_symmetry_and_tilted_by_weight_decay(task):
    model = mlp()
    params, loss = setup_for(model, task)
    sym = S.rescale_groups(model)[1]
    scan = S.orbit_scan(sym, loss, params, [0.5, 1.0, 2.0])
    assert scan.alphas.tolist() == [0.5, 1.0, 2.0] and set(scan.gradient_norm) == {1, 0, -1}
    assert (scan.loss - scan.loss[1]).abs().max() < TOL * scan.loss[1]
    assert scan.deviation.max() < 1e-10
    g_in, g_out = scan.gradient_norm[1].tolist(), scan.gradient_norm[-1].tolist()
    assert g_in[2] == pytest.approx(g_in[1] / 2, rel=1e-10)  # incoming gradient / alpha
    assert g_out[0] == pytest.approx(g_out[1] / 2, rel=1e-10)  # outgoing gradient * alpha
    assert torch.allclose(scan.gradient_norm[0], scan.gradient_norm[0][1].expand(3), rtol=1e-12)
    for sign in (1, -1, 0):
        assert torch.allclose(scan.gradient_norm[sign], scan.predicted_norm[sign], rtol=1e-10)

    decayed = S.orbit_scan(sym, setup_for(model, task, weight_decay=0.01)[1], params, [1.0, 2.0])
    in2 = sum((params[k] ** 2 * (sym.signs[k] > 0)).sum() for k in params).item()
    out2 = sum((params[k] ** 2 * (sym.signs[k] < 0)).sum() for k in params).item()
    penalty = 0.005 * ((4 - 1) * in2 + (1 / 4 - 1) * out2)  # the data loss itself is flat
    assert (decayed.loss[1] - decayed.loss[0]).item() == pytest.approx(penalty, rel=1e-9)
    assert decayed.deviation[0] < TOL and decayed.deviation[1] > 1e-3


def test_orbit_scan_bad_inputs(task):
    model = mlp()
    params, loss = setup_for(model, task)
    sym = S.rescale_groups(model)[0]
    with pytest.raises(ValueError, match="non-empty"):
        S.orbit_scan(sym, loss, params, [])
    with pytest.raises(ValueError, match="alpha"):
        S.orbit_scan(sym, loss, params, [1.0, 0.0])
    with pytest.raises(TypeError, match="callable"):
        S.orbit_scan(sym, "loss", params, [1.0])
    with pytest.raises(TypeError, match="Symmetry"):
        S.orbit_scan(None, loss, params, [1.0])
    assert S.orbit_scan(sym, loss, params, torch.tensor([1.0, 3.0])).loss.shape == (2,)


def test_orbit_panels_draw_and_check_their_input(task):
    model = mlp()
    params, loss = setup_for(model, task)
    sym = S.rescale_groups(model)[0]
    scan = S.orbit_scan(sym, loss, params, [0.5, 1.0, 2.0])
    s_values = torch.log(scan.alphas)
    left, right = plots.orbit_panels(s_values, scan, {1: "in", -1: "out"}, at=0.0,
                                     at_loss=scan.loss[1].item(), data_loss=scan.loss, title="t")
    assert left.get_title() == "t" and left.get_xlabel() and right.get_yscale() == "log"
    assert len(right.get_lines()) >= 4  # measured and predicted for each part
    plt.close("all")
    with pytest.raises(TypeError, match="OrbitScan"):
        plots.orbit_panels(s_values, {}, {1: "in"}, at=0.0, at_loss=0.0)
    with pytest.raises(ValueError, match="parts"):
        plots.orbit_panels(s_values, scan, {5: "?"}, at=0.0, at_loss=0.0)
    with pytest.raises(ValueError, match="s_values"):
        plots.orbit_panels(s_values[:2], scan, {1: "in"}, at=0.0, at_loss=0.0)
    plt.close("all")


def _restricted(grad, sym, sign):
    return S.norm({k: grad[k] * (sym.signs[k] == sign) for k in grad})


def test_symmetry_explorer_follows_its_controls(task):
    import math

    from symcourse import widgets

    relu, norm = mlp(), normed()
    X, labels = task.X, task.labels
    explorer = widgets.SymmetryExplorer(relu, norm, X, labels)
    assert set(explorer.controls) == {"kind", "s", "weight_decay"}
    before = dict(explorer.info)
    assert before["kind"] == "rescale" and before["loss_change"] < TOL
    assert before["gradient_error"] < 1e-10 and before["s_min"] is None

    explorer.controls["s"].value = -1.0
    info = explorer.info
    assert info != before and info["alpha"] == pytest.approx(math.exp(-1.0))
    # the same ratios, computed here by hand: incoming x 1/alpha, outgoing x alpha, rest x 1
    sym, model, params = widgets.symmetry_explorer_group("rescale", relu, norm, X, labels)
    assert model is relu and info["group"] == sym.label
    loss = S.loss_function(relu, X, labels)
    g0, g1 = S.gradient(loss, params), S.gradient(loss, S.rescale(params, sym, math.exp(-1.0)))
    for sign, factor in ((1, math.e), (-1, 1 / math.e), (0, 1.0)):
        by_hand = _restricted(g1, sym, sign) / _restricted(g0, sym, sign)
        assert info["ratio"][sign] == pytest.approx(by_hand, rel=1e-12)
        assert info["ratio"][sign] == pytest.approx(factor, rel=1e-10)
        assert info["predicted_ratio"][sign] == pytest.approx(factor, rel=1e-12)

    explorer.controls["weight_decay"].value = 0.005  # breaks the symmetry
    info = explorer.info
    assert info["loss_change"] > 1e-4 and info["gradient_error"] > 1e-3
    # along the orbit only the penalty varies: least where alpha^4 = |out|^2 / |in|^2
    in2 = sum((params[k] ** 2 * (sym.signs[k] > 0)).sum() for k in params).item()
    out2 = sum((params[k] ** 2 * (sym.signs[k] < 0)).sum() for k in params).item()
    balanced = math.log(out2 / in2) / 4
    low, high = widgets.SYMMETRY_S_RANGE
    step = (high - low) / (widgets.SYMMETRY_GRID - 1)
    assert low < balanced < high and abs(info["s_min"] - balanced) <= step / 2 + 1e-12

    explorer.controls["weight_decay"].value = 0.0
    explorer.controls["kind"].value = "scale"
    info = explorer.info
    assert "LayerNorm" in info["group"] and info["loss_change"] < TOL
    assert info["ratio"][1] == pytest.approx(math.e, rel=1e-10) and -1 not in info["ratio"]
    explorer.controls["kind"].value = "translation"
    info = explorer.info
    assert info["alpha"] == -1.0 and "bias" in info["group"] and info["loss_change"] < TOL
    assert info["ratio"] == pytest.approx({1: 1.0, 0: 1.0}, rel=1e-10)
    assert not plt.get_fignums()  # every redraw closed its figure


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(kind="permutation"), ValueError, "kind"),
    (dict(s=2.0), ValueError, "s"),
    (dict(s="1"), TypeError, "s"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
])
def test_symmetry_explorer_figure_rejects_bad_input(task, kwargs, exc, name):
    from symcourse import widgets

    with pytest.raises(exc, match=name):
        widgets.symmetry_explorer_figure(mlp(), normed(), task.X, task.labels, **kwargs)
