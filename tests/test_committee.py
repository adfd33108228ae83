"""Tests for symcourse.committee (chapter 2): closed-form erf averages against Monte Carlo,
the order-parameter ODEs against simulation, the plateau law, natural gradient, bad inputs."""
import math

import pytest
import torch

from symcourse import committee as cm


def _cov(seed=0, P=4):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g, dtype=torch.float64)
    return A @ A.T / P + 0.2 * torch.eye(P, dtype=torch.float64)


def test_erf_averages_match_monte_carlo():
    C = _cov()
    g = torch.Generator().manual_seed(1)
    u = torch.randn(400_000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(C).T
    f = torch.erf(u / math.sqrt(2))
    df = math.sqrt(2 / math.pi) * torch.exp(-u * u / 2)
    assert torch.allclose(cm.erf_i2(C), (f[:, :, None] * f[:, None, :]).mean(0), atol=3e-3)
    i3 = torch.einsum("na,nb,nc->abc", df, u, f) / u.shape[0]
    assert torch.allclose(cm.erf_i3(C), i3, atol=6e-3)
    i4 = torch.einsum("na,nb,nc,nd->abcd", df, df, f, f) / u.shape[0]
    assert torch.allclose(cm.erf_i4(C), i4, atol=3e-3)
    assert torch.equal(cm.erf_i3(C, 2), cm.erf_i3(C)[:2])
    assert torch.equal(cm.erf_i4(C, 2), cm.erf_i4(C)[:2, :2])


def test_perfect_student_has_zero_error_and_is_fixed():
    I = torch.eye(2, dtype=torch.float64)[None]
    assert cm.generalisation_error(I.clone(), I.clone(), I.clone()).abs().max() < 1e-14
    dR, dQ = cm.ode_rhs(I.clone(), I.clone(), I.clone(), 0.5)
    assert dR.abs().max() < 1e-14 and dQ.abs().max() < 1e-14


def test_ode_matches_simulation_early_and_improves_with_n():
    errors = []
    for N in (50, 400):
        J0 = cm.init_student(range(4), 2, N)
        sim = cm.simulate_online(J0, 2, 1.5, 6.0)
        ode = cm.integrate_odes(*cm.overlaps(J0, 2), 1.5, 6.0, dalpha=0.25)
        assert torch.equal(sim.alpha, ode.alpha)
        errors.append((sim.R - ode.R).abs().max().item())
    assert errors[1] < errors[0] and errors[1] < 0.06


def test_plateau_law_slope_matches_escape_rate():
    R, Q = cm.symmetric_fixed_point(2, 2, 1.5)
    lam, _ = cm.escape_rate(R, Q, 1.5)
    assert lam > 0
    delta = torch.tensor([1e-2, 1e-4], dtype=torch.float64)
    traj = cm.integrate_odes(*cm.symmetric_start(delta, 2, 2, seeds=[0]), 1.5, 150.0, dalpha=0.5)
    times = cm.exit_time(traj.alpha, cm.specialisation(traj.R), 0.2).reshape(1, 2)
    _, b = cm.fit_log_law(delta, times)
    assert abs(b.item() * lam - 1) < 0.02


def test_exit_time_and_steps_to():
    alpha = torch.arange(5, dtype=torch.float64)
    m = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [0.5, 0.0], [0.7, 0.0]], dtype=torch.float64)
    t = cm.exit_time(alpha, m, 0.2)
    assert t[0].item() == pytest.approx(1.5) and math.isnan(t[1].item())
    loss = torch.tensor([[1.0, 1.0], [0.1, 1.0]], dtype=torch.float64)
    s = cm.steps_to(torch.tensor([0, 10]), loss, 0.5)
    assert s[0] == 10 and math.isinf(s[1])


def test_natural_gradient_and_gd_reduce_the_loss():
    X, y = cm.teacher_sample(200, 3, 2, seed=0)
    J0 = cm.init_student([0, 1], 2, 3, norm2=0.3)
    for method, lr in (("gd", 1.0), ("natural", 0.5)):
        out = cm.train_batch(J0, X, y, method=method, lr=lr, steps=60)
        assert (out["loss"][-1] < out["loss"][0]).all()
    _, _, F = cm.batch_loss_grad(J0, X, y, fisher=True)
    assert F.shape == (2, 6, 6) and torch.allclose(F, F.transpose(1, 2))


def test_bad_inputs():
    C = _cov()
    with pytest.raises(ValueError, match="covariance"):
        cm.erf_i2(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="non-negative diagonal"):
        cm.erf_i3(-C)
    with pytest.raises(TypeError, match="floating"):
        cm.erf_i4(torch.eye(3, dtype=torch.int64))
    R = torch.zeros(1, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="Q must have shape"):
        cm.ode_rhs(R, torch.zeros(1, 3, 3, dtype=torch.float64), R, 1.0)
    with pytest.raises(ValueError, match="eta"):
        cm.ode_rhs(R, R, R, -1.0)
    with pytest.raises(ValueError, match="dalpha"):
        cm.integrate_odes(R, R, R, 1.0, 1.0, dalpha=2.0, record_every=1.0)
    with pytest.raises(ValueError, match="must not exceed"):
        cm.overlaps(torch.zeros(1, 2, 3, dtype=torch.float64), 4)
    with pytest.raises(ValueError, match="delta must be positive"):
        cm.symmetric_start(torch.tensor([0.0], dtype=torch.float64), 2, 2)
    with pytest.raises(ValueError, match="columns"):
        cm.fit_log_law(torch.ones(3, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="method"):
        cm.train_batch(torch.zeros(1, 2, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64),
                       torch.zeros(4, dtype=torch.float64), method="adam")
    with pytest.raises(ValueError, match="X must be"):
        cm.batch_loss_grad(torch.zeros(1, 2, 3, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64),
                           torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="seeds"):
        cm.init_student([], 2, 3)
    with pytest.raises(ValueError, match="rows"):
        cm.exit_time(torch.arange(3.0), torch.zeros(2, 1), 0.1)


def test_integrate_odes_takes_one_learning_rate_per_start():
    R, Q, T = cm.symmetric_start(torch.tensor([1e-3], dtype=torch.float64), 2, 2, seeds=[0])
    etas = torch.tensor([0.75, 1.5], dtype=torch.float64)
    batched = cm.integrate_odes(*(x.expand(2, -1, -1).clone() for x in (R, Q, T)), etas, 20.0,
                                dalpha=0.5)
    for k, eta in enumerate(etas.tolist()):
        single = cm.integrate_odes(R, Q, T, eta, 20.0, dalpha=0.5)
        assert torch.allclose(batched.R[:, k], single.R[:, 0], rtol=0, atol=1e-12)
        assert torch.allclose(batched.eps[:, k], single.eps[:, 0], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="eta"):
        cm.integrate_odes(R, Q, T, etas, 1.0)  # two rates for one start
    with pytest.raises(ValueError, match="eta"):
        cm.integrate_odes(R, Q, T, torch.tensor([-1.0], dtype=torch.float64), 1.0)


def test_sign_test():
    from symcourse.stats import sign_test

    assert sign_test(0, 0) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 2 ** 10)
    assert sign_test(3, 3) == 1.0
    with pytest.raises(ValueError, match="wins"):
        sign_test(-1, 2)


def test_plots_and_explorer():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symcourse import plots
    from symcourse.widgets import PlateauExplorer, plateau_explorer_figure

    fig, info = plateau_explorer_figure(eta=1.5, log_delta=-3.0)
    assert math.isfinite(info["exit_alpha"]) and info["final_eps"] < 0.01
    plt.close(fig)
    explorer = PlateauExplorer()
    first = explorer.info["exit_alpha"]
    explorer.controls["log_delta"].value = -6.0  # a more symmetric start: a longer plateau
    assert explorer.info["exit_alpha"] > first
    positions, frames = explorer.static_frames()
    assert positions == {"eta": [0.5, 1.0, 1.5, 2.0]} and len(frames) == 4
    with pytest.raises(ValueError, match="eta"):
        plateau_explorer_figure(eta=5.0)
    with pytest.raises(ValueError, match="seed"):
        plateau_explorer_figure(seed=-1)
    delta = torch.tensor([1e-2, 1e-3], dtype=torch.float64)
    plots.plateau_law(delta, torch.tensor([[10.0, 20.0]], dtype=torch.float64), 0.0, 4.0, 4.0)
    alpha = torch.arange(3, dtype=torch.float64)
    R = torch.zeros(3, 2, 2, dtype=torch.float64)
    eps = torch.ones(3, dtype=torch.float64)
    plots.order_parameters(alpha, R, R, eps, eps)
    with pytest.raises(ValueError, match="R_ode"):
        plots.order_parameters(alpha, R, R[:2], eps, eps)
    with pytest.raises(ValueError, match="curves"):
        plots.loss_traces({})
    plt.close("all")


def test_self_checks():
    from symcourse.exercises import check

    R, Q = cm.symmetric_fixed_point(2, 2, 1.0)
    lam, _ = cm.escape_rate(R, Q, 1.0)
    assert check("plateau-escape-rate", lam).ok
    assert not check("plateau-escape-rate", 1 / lam).ok
    assert not check("plateau-escape-rate", ...).ok
    assert check("plateau-count-sets", 50).ok
    assert "duplications only" in check("plateau-count-sets", 14).message


def test_more_bad_inputs():
    with pytest.raises(ValueError, match="delta"):
        cm.near_symmetric_student([0], 2, 3, 0.0)
    J = cm.near_symmetric_student([0, 1], 2, 3, 1e-3)
    assert J.shape == (2, 2, 3) and (J[:, 0] - J[:, 1]).norm(dim=1).max() < 3e-3
    with pytest.raises(ValueError, match="must not exceed"):
        cm.teacher_sample(10, 2, 3)
    with pytest.raises(ValueError, match="at least 2"):
        cm.specialisation(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="steps must have shape"):
        cm.steps_to(torch.arange(3), torch.zeros(2, 1, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="K"):
        cm.symmetric_fixed_point(0, 2, 1.0)
    with pytest.raises(ValueError, match="must have 2 dimensions"):
        cm.escape_rate(torch.zeros(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64), 1.0)
    with pytest.raises(ValueError, match="record_every"):
        cm.simulate_online(torch.zeros(1, 2, 3, dtype=torch.float64), 2, 1.0, 1.0, record_every=-1.0)
