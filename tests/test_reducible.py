"""Tests for symcourse.reducible (chapter 2): embeddings keep the function and are critical,
the Hessian's sign follows Fukumizu & Amari's lam (1 - lam) B, the max network's dead block,
the plateau-or-trap diagnostic, bad inputs."""
import pytest
import torch

from symcourse import reducible as rd
from symcourse.data import stall_task
from symcourse.stall import affine_lstsq
from symcourse.sweeps import train_sweep


@pytest.fixture(scope="module")
def staircase():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    X, y = x[:, None], torch.tanh(3 * x - 2) + torch.tanh(3 * x + 2)
    return X, y, rd.fit_network(X, y, 1)


def test_pack_unpack_roundtrip():
    theta = torch.arange(7, dtype=torch.float64)
    W, v, c = rd.unpack(theta, 2)
    assert W.shape == (2, 2) and v.shape == (2,) and torch.equal(rd.pack(W, v, c), theta)


def test_duplication_line_is_critical_and_changes_sign(staircase):
    X, y, small = staircase
    B = rd.split_curvature(small, X, y).item()
    for lam in (-0.5, 0.5, 1.5):
        big = rd.duplicate_unit(small, 1, 0, lam)
        assert torch.allclose(rd.tanh_net(big, X), rd.tanh_net(small, X), atol=1e-14)
    scan = rd.scan_line([rd.duplicate_unit(small, 1, 0, lam) for lam in (-0.5, 0.5, 1.5)], X, y)
    assert scan["grad_norm"].max() < 1e-12
    lowest = scan["eigenvalues"][:, 0]
    outside_negative = B > 0
    assert (lowest[[0, 2]] < -1e-4).all() == outside_negative
    assert (lowest[1] > -1e-12) == outside_negative


def test_elimination_line_is_critical_with_bias_column():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    X, y = torch.stack([x, torch.ones_like(x)], 1), torch.tanh(3 * x - 2) + torch.tanh(3 * x + 2)
    small = rd.fit_network(X, y, 1)
    scan = rd.scan_line([rd.eliminate_unit(small, 2, torch.tensor([0.0, b], dtype=torch.float64))
                         for b in (-1.0, 0.0, 2.0)], X, y)
    assert scan["grad_norm"].max() < 1e-12


def test_escape_from_saddle_lowers_the_loss(staircase):
    X, y, small = staircase
    lam = 1.5 if rd.split_curvature(small, X, y).item() > 0 else 0.5
    out = rd.escape(rd.duplicate_unit(small, 1, 0, lam), X, y, steps=300, lr=0.5, size=0.05)
    assert out["lowest_eigenvalue"] < 0
    assert (out["loss"][:, -1] < 0.9 * rd.net_loss(small, X, y)).all()


def test_max_network_elimination_and_fisher():
    task = stall_task(dtype=torch.float64)
    fit = affine_lstsq(task.X, task.y)
    theta = rd.max_net_elimination(fit)
    F = rd.max_net_fisher(theta, task.X)
    assert F.shape == (6, 6) and torch.count_nonzero(F[3:]) == 0 and torch.count_nonzero(F[:, 3:]) == 0
    moved = rd.natural_gradient_max_net(task, theta[None], steps=5)
    assert torch.equal(moved[0, 1], theta[1])
    dirs = torch.zeros(2, 2, 3, dtype=torch.float64)
    dirs[0, 1, 2] = 1.0  # raise the dead unit's bias by a little: still dead, loss unchanged
    dirs[1, 1] = 1.0
    slopes = rd.max_net_slopes(theta, task, dirs)
    assert slopes[0] == 0


def test_plateau_or_trap_finds_dead_at_start():
    task = stall_task()
    run = train_sweep(task, 12, steps=300, record_every=50, record_params=True)
    out = rd.plateau_or_trap(run.history, run.steps, task, window=(0, 300))
    assert out["trap"].shape == (12, 2)
    assert (out["grad_max"][out["trap"]] == 0).all()
    assert len(out["verdict"]) == 12


def test_bad_inputs(staircase):
    X, y, small = staircase
    with pytest.raises(ValueError, match="entries"):
        rd.unpack(torch.zeros(5, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="unit"):
        rd.duplicate_unit(small, 1, 3, 0.5)
    with pytest.raises(TypeError, match="lam"):
        rd.duplicate_unit(small, 1, 0, float("nan"))
    with pytest.raises(ValueError, match="w_new"):
        rd.eliminate_unit(small, 1, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(TypeError, match="float64"):
        rd.fit_network(X.float(), y.float())
    with pytest.raises(ValueError, match="non-empty"):
        rd.scan_line([], X, y)
    with pytest.raises(ValueError, match="margin"):
        rd.max_net_elimination(torch.zeros(3, dtype=torch.float64), margin=-1.0)
    with pytest.raises(ValueError, match="window"):
        rd.plateau_or_trap(torch.zeros(2, 1, 2, 3), torch.tensor([0, 10]), stall_task(), window=(5, 1))
    with pytest.raises(ValueError, match="no recorded step"):
        rd.plateau_or_trap(torch.zeros(2, 1, 2, 3), torch.tensor([0, 10]), stall_task(), window=(20, 30))
    with pytest.raises(ValueError, match="shape"):
        rd.max_net_fisher(torch.zeros(2, 2, 3, 1), stall_task().X)


def test_counts_and_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symcourse import plots
    from symcourse.exercises import check

    assert [rd.count_embeddings(2, n) for n in (2, 3)] == [rd.stirling_count(2, n) for n in (2, 3)]
    assert rd.count_embeddings(1, 1) == 1
    with pytest.raises(ValueError, match="at most 10"):
        rd.count_embeddings(2, 11)
    with pytest.raises(ValueError, match="r must be"):
        rd.stirling_count(0, 3)
    assert check("plateau-fisher-nonzero", 9).ok
    assert not check("plateau-fisher-nonzero", 36).ok
    lams = torch.linspace(-1, 2, 4, dtype=torch.float64)
    plots.embedded_line(lams, torch.full((4,), 1e-16, dtype=torch.float64),
                        torch.tensor([-1.0, 0.0, 0.0, -1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="lowest"):
        plots.embedded_line(lams, lams, lams[:2])
    plt.close("all")


def test_more_reducible_bad_inputs(staircase):
    X, y, small = staircase
    with pytest.raises(ValueError, match="v must have shape"):
        rd.pack(torch.zeros(2, 1, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        rd.net_loss(small, X, y[:-1])
    with pytest.raises(ValueError, match="unit"):
        rd.split_curvature(small, X, y, unit=2)
    with pytest.raises(ValueError, match="size"):
        rd.escape(small, X, y, size=0.0)
    task = stall_task(dtype=torch.float64)
    theta = rd.max_net_elimination(affine_lstsq(task.X, task.y))
    with pytest.raises(ValueError, match="directions"):
        rd.max_net_slopes(theta, task, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="damping"):
        rd.natural_gradient_max_net(task, theta[None], damping=0.0)
    with pytest.raises(ValueError, match="n must be"):
        rd.count_embeddings(2, 0)
