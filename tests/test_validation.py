"""The behaviours of issue 19, one test each: the examples it lists are refused clearly, a failed
call changes nothing, integrators stop early with a reason, and law counts say whether they
converged. (test_properties.py checks the same rules over every public entry point.)
"""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from symcourse import _checks, conservation, data, detect, models, remedies, sweeps, symmetry

F64 = torch.float64


def _task():
    return data.stall_task(n_points=20, seed=0)


# -- 1. refused clearly: the examples --------------------------------------------------

@pytest.mark.parametrize("betas,eps", [((0.9, 1.0), 1e-8), ((1.0, 0.999), 1e-8), ((0.9, 0.999), -1.0)])
@pytest.mark.parametrize("trainer", [sweeps.train_sweep, remedies.train_remedy])
def test_adam_settings_are_checked_by_every_trainer(trainer, betas, eps):
    name = "eps" if eps < 0 else "betas"
    with pytest.raises((ValueError, TypeError), match=name):
        trainer(_task(), 2, steps=2, betas=betas, eps=eps)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.float16, torch.bfloat16])
def test_only_float32_and_float64_are_accepted(dtype):
    with pytest.raises(TypeError, match=r"dtype must be torch\.float32 or torch\.float64.*got"):
        data.stall_task(dtype=dtype)
    with pytest.raises(TypeError, match="dtype"):
        sweeps.train_sweep(_task(), 2, steps=2, dtype=dtype)


def test_translate_refuses_non_finite_shifts():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    params, sym = symmetry.parameters(net), symmetry.translation_groups(net)[0]
    for alpha in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"alpha must be a finite number, got (nan|inf)"):
            symmetry.translate(params, sym, alpha)


def test_dot_refuses_mismatched_shapes_instead_of_broadcasting():
    a, b = {"w": torch.ones(3)}, {"w": torch.ones(3, 1)}
    with pytest.raises(ValueError, match=r"a\['w'\] and b\['w'\] must have the same shape"):
        symmetry.dot(a, b)


def test_bias_is_stated_never_guessed():
    theta = torch.zeros(1, 2, 3)  # a biased 2-input network ...
    X = torch.rand(5, 3)  # ... given 3-column inputs was once read as bias-free
    with pytest.raises(ValueError, match="theta has 3 columns.*X has 3 columns.*bias=True"):
        models.unit_outputs(theta, X)  # the default is the course's network: biases
    assert models.unit_outputs(theta, X, bias=False).shape == (1, 2, 5)  # said explicitly


def test_task_objects_are_validated():
    task = _task()
    X = task.X.clone()
    X[0, 0] = float("nan")
    import dataclasses

    with pytest.raises(ValueError, match=r"task\.X contains NaN"):
        sweeps.train_sweep(dataclasses.replace(task, X=X), 2, steps=2)
    with pytest.raises(ValueError, match=r"task\.X must not be empty"):
        sweeps.train_sweep(dataclasses.replace(task, X=task.X[:0], y=task.y[:0]), 2, steps=2)
    spiral = data.spiral_task(n_points=12, dtype=F64)
    with pytest.raises(ValueError, match=r"task\.labels must lie in \[0, 2\]"):
        _checks.classification_task("task", dataclasses.replace(spiral, labels=spiral.labels + 1))


def test_eval_mse_names_the_misplaced_argument():
    with pytest.raises(TypeError, match="result must be a SweepResult"):
        sweeps.eval_mse(models.init_theta(2), _task())


# -- 2. no state changed when a call fails -----------------------------------------------------

def _bypassed_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    with torch.no_grad():
        net[0].bias[:2] = 10.0
    return net


@pytest.mark.parametrize("units,mix,error", [
    ([0, 1], -torch.eye(2, dtype=F64), "invertible"),  # I + mix singular
    ([0, 1], torch.tensor([[-1.0, 0.0], [0.0, 1e-14]], dtype=F64), "invertible"),  # nearly singular
    ([0.0, 1.0], 0.1 * torch.eye(2, dtype=F64), "units"),  # float indices used to be truncated
    ([0, 9], 0.1 * torch.eye(2, dtype=F64), "units"),
])
def test_gl_move_leaves_the_model_intact_when_it_refuses(units, mix, error):
    net = _bypassed_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises((ValueError, TypeError), match=error):
        detect.gl_move(net, 0, units, mix)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), f"gl_move changed {key} although it raised"


def test_gl_move_still_moves_along_the_symmetry():
    net = _bypassed_net()
    X = torch.rand(16, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    out = net(X)
    detect.gl_move(net, 0, [0, 1], 0.3 * torch.tensor([[0.0, 1.0], [0.5, 0.0]], dtype=F64))
    assert torch.allclose(net(X), out, atol=1e-12), "the GL move changed the function"


# -- 3. no hangs: integrators stop early with a reason --------------------------------------------

def _relu_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 2, generator=g, dtype=F64)
    Y = torch.randn(20, 1, generator=g, dtype=F64)
    theta0 = torch.randn(13 - 1, generator=g, dtype=F64)
    return (lambda th: conservation.relu_loss(th, X, Y, 3)), theta0


def test_gradient_flow_detects_a_kink_early_and_says_what_to_do():
    loss, theta0 = _relu_problem()
    copy = theta0.clone()
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"step size collapsed.*not smooth.*power=2"):
        conservation.gradient_flow(loss, theta0, [50.0])
    seconds = time.perf_counter() - start
    assert seconds < 30, f"the kink was detected only after {seconds:.1f} s"
    assert torch.equal(theta0, copy), "gradient_flow changed theta0"


def test_gradient_flow_refuses_a_horizon_too_long_for_the_stiffness_early():
    A = torch.tensor([1000.0, 1.0, 0.001], dtype=F64)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"too long for this loss's stiffness.*shorten the horizon"):
        conservation.gradient_flow(lambda th: 0.5 * (A * th ** 2).sum(), torch.ones(3, dtype=F64), [1e5])
    seconds = time.perf_counter() - start
    assert seconds < 20, f"the long horizon was refused only after {seconds:.1f} s"


def test_gradient_flow_has_a_wall_clock_budget():
    def slow(th):
        time.sleep(0.01)
        return (th ** 2).sum()

    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"max_seconds=0\.2"):
        conservation.gradient_flow(slow, torch.ones(2, dtype=F64), [1.0, 2.0], max_seconds=0.2)
    assert time.perf_counter() - start < 5


def test_budget_names_what_ran_out():
    budget = _checks.Budget("solver", max_seconds=100.0, max_work=3, advice="do less")
    budget.spend(3)
    with pytest.raises(RuntimeError, match=r"solver stopped: more than 3 units of work; do less"):
        budget.spend()


# -- 4. results that can be wrong say so --------------------------------------------------------

def test_law_count_reports_convergence():
    count = conservation.count_linear_laws(2)
    assert count.converged and "settled" in count.convergence, count.convergence


def test_law_count_flags_and_strict_raises_when_ranks_still_grow():
    X = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    Y = torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    widths = [2, 2, 2]
    theta = torch.randn(8, generator=torch.Generator().manual_seed(2), dtype=F64)

    def loss(th, w):
        return conservation.linear_chain_loss(th, X, Y, widths, weights=w)

    count = conservation.count_conservation_laws(loss, theta, 6, max_depth=1)
    assert not count.converged and "max_depth" in count.convergence, count
    with pytest.raises(RuntimeError, match="did not converge.*raise max_depth"):
        conservation.count_conservation_laws(loss, theta, 6, max_depth=1, strict=True)


def test_law_count_flags_a_falling_rank():
    converged, why = conservation._converged([5, 4], 6, 4)
    assert not converged and "fell from 5 to 4" in why


def test_classification_tasks_may_hold_images_but_need_a_feature_axis():
    from symcourse import _checks
    from symcourse.data import ClassificationTask

    labels = torch.tensor([0, 1, 0, 1])
    images = ClassificationTask(X=torch.zeros(4, 1, 3, 3), labels=labels, n_classes=2, seed=0)
    assert _checks.classification_task("task", images) is images
    flat = ClassificationTask(X=torch.zeros(4), labels=labels, n_classes=2, seed=0)
    with pytest.raises(ValueError, match="feature axis"):
        _checks.classification_task("task", flat)
