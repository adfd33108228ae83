"""Issue 19: whether theta has a bias column is said, never guessed from the shapes. The course's
network has biases (the default); bias-free parameters pass bias=False."""
from __future__ import annotations

import pytest
import torch

from symcourse import data, models, plots, reducible, remedies, stall, sweeps


@pytest.fixture(scope="module")
def task():
    return data.stall_task(n_points=90, seed=6, dtype=torch.float64)


def test_a_biased_theta_with_three_input_columns_is_refused(task):
    theta = models.perfect_theta()  # (1, 2, 3): two inputs and a bias
    X3 = torch.rand(10, 3, dtype=torch.float64)  # three columns: a mistake, e.g. ones appended
    for call in (lambda: models.unit_outputs(theta, X3), lambda: models.predict(theta, X3),
                 lambda: models.mse(theta, X3, torch.zeros(10, dtype=torch.float64)),
                 lambda: models.mae(theta, X3, torch.zeros(10, dtype=torch.float64)),
                 lambda: stall.dead_units(theta, X3), lambda: stall.winners(theta, X3)):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "theta" in message and "X" in message and "bias=True" in message
        assert "bias=False" in message  # and it says how to ask for the other reading


def test_bias_free_parameters_must_say_so(task):
    free = torch.tensor([[[1.0, 2.0], [3.0, 1.0]]], dtype=torch.float64)
    with pytest.raises(ValueError, match="bias=False"):
        models.predict(free, task.X)
    out = models.predict(free, task.X, bias=False)
    torch.testing.assert_close(out[0], task.y, rtol=0, atol=1e-12)  # the exact solution
    assert models.mse(free, task.X, task.y, bias=False).item() < 1e-24
    assert models.mae(free, task.X, task.y, bias=False).item() < 1e-12
    assert not stall.dead_units(free, task.X, bias=False).any()
    with pytest.raises(TypeError, match="bias"):
        models.unit_outputs(free, task.X, bias="no")


def test_explicit_bias_gives_the_same_numbers_as_the_formula(task):
    theta = models.init_theta(range(4), dtype=torch.float64)
    z = models.unit_outputs(theta, task.X)
    manual = theta[..., :2] @ task.X.T + theta[..., 2:]
    torch.testing.assert_close(z, manual, rtol=0, atol=1e-14)
    free = theta[..., :2]
    torch.testing.assert_close(models.unit_outputs(free, task.X, bias=False),
                               free @ task.X.T, rtol=0, atol=1e-14)


def test_stall_helpers_take_the_flag(task):
    run = sweeps.train_sweep(task, 6, bias=False, steps=300, record_every=100,
                             record_params=True, dtype=torch.float64)
    theta = run.theta
    fractions = stall.win_fractions(theta, task.X, bias=False)
    torch.testing.assert_close(fractions.sum(dim=1), torch.ones(6, dtype=torch.float64))
    assert torch.equal(stall.dead_units(theta, task.X, bias=False), fractions == 0)
    g = stall.gradients(theta, task, bias=False)
    _, reference = sweeps.loss_and_grad(theta, task.X, task.y)
    torch.testing.assert_close(g["summed"], reference, rtol=1e-12, atol=1e-14)
    assert stall.gradient_report(theta, task, bias=False)["summed_norm"].shape == (6, 2)
    steps = stall.death_steps(run.history, run.steps, task.X, bias=False)
    assert steps.shape == (6,)
    errors = stall.training_mode_errors(theta, task, dropout_after=0.1, bias=False)
    assert errors["mse"].shape == (6,) and torch.isfinite(errors["mse"]).all()
    torch.testing.assert_close(sweeps.eval_mse(run, task), run.final_loss, rtol=1e-12, atol=1e-15)
    for call in (lambda: stall.gradients(theta, task), lambda: stall.death_steps(
            run.history, run.steps, task.X), lambda: stall.training_mode_errors(theta, task)):
        with pytest.raises(ValueError, match="bias"):
            call()


def test_diagnostics_and_summaries_of_bias_free_runs(task):
    run = sweeps.train_sweep(task, 4, bias=False, steps=200, record_every=50,
                             record_params=True, dtype=torch.float64)
    verdict = reducible.plateau_or_trap(run.history, run.steps, task, window=(100, 200),
                                        bias=False, probes=2)
    assert verdict["wins"].shape == (4, 2)
    with pytest.raises(ValueError, match="bias"):
        reducible.plateau_or_trap(run.history, run.steps, task, window=(100, 200), probes=2)
    F = reducible.max_net_fisher(run.theta, task.X, bias=False)
    assert F.shape == (4, 4, 4)
    results = remedies.compare_remedies(task, {"baseline": remedies.baseline(),
                                               "no bias": remedies.no_bias()},
                                        seeds=range(4), steps=100, workers=1)
    rows = remedies.summarise(results, task=task)
    assert 0.0 <= rows["no bias"]["dead"] <= 1.0
    kinds = remedies.failure_kinds(results["no bias"], task)
    assert kinds["failed"] == kinds["dead"] + kinds["slow"] + kinds["stuck"]


def test_win_regions_draws_bias_free_networks(task):
    import matplotlib
    matplotlib.use("Agg")
    free = torch.tensor([[1.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
    ax = plots.win_regions(free, task, bias=False, resolution=8, show_points=20)
    assert ax is not None
    with pytest.raises(ValueError, match="bias"):
        plots.win_regions(free, task, resolution=8)
