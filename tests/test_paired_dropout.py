"""Tests for the paired statistics of symcourse.stats (exact McNemar, paired comparison, count
text) and the dropout helpers of symcourse.stall (training-mode errors, dropout then plain
training, dead-unit fates). Expected values come from scipy's exact binomial test, from
PyTorch's own nn.Dropout in training mode, and from hand-built cases."""
from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from symcourse import data, models, stall, stats
from symcourse.sweeps import train_sweep


# --------------------------------------------------------------------------------------------
# stats: exact McNemar and paired comparisons
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gained, lost", [(0, 1), (1, 0), (5, 5), (10, 2), (2, 10), (99, 0),
                                          (30, 17), (0, 7), (123, 118)])
def test_mcnemar_matches_scipy_exact_binomial_test(gained, lost):
    expected = binomtest(gained, gained + lost, 0.5, alternative="two-sided").pvalue
    assert stats.mcnemar_exact(gained, lost) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_without_discordant_seeds_is_one_and_symmetric():
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(3, 9) == stats.mcnemar_exact(9, 3)
    assert stats.mcnemar_exact(6, 0) == pytest.approx(2 / 64)  # two tails of (1/2)^6


@pytest.mark.parametrize("args", [(-1, 2), (2, -1), (1.5, 2), (True, 2), (2, None)])
def test_mcnemar_rejects_bad_counts(args):
    with pytest.raises(ValueError, match="gained|lost"):
        stats.mcnemar_exact(*args)


def test_paired_comparison_counts_each_kind_of_seed():
    new = torch.tensor([True, True, False, False, True, True])
    ref = torch.tensor([True, False, True, False, False, False])
    out = stats.paired_comparison(new, ref)
    assert (out["gained"], out["lost"], out["both"], out["neither"]) == (3, 1, 1, 1)
    assert out["p_value"] == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert out["rate"]["count"] == 4 and out["reference_rate"]["count"] == 2
    assert out["rate"]["trials"] == 6


def test_paired_comparison_rejects_bad_input():
    good = torch.tensor([True, False])
    with pytest.raises(TypeError, match="flags"):
        stats.paired_comparison([True, False], good)
    with pytest.raises(TypeError, match="reference"):
        stats.paired_comparison(good, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_comparison(good, torch.tensor([True, False, True]))
    with pytest.raises(ValueError, match="flags"):
        stats.paired_comparison(torch.ones(2, 2, dtype=torch.bool), good)


def test_count_text_uses_counts_where_a_percentage_would_round_to_0_or_100():
    assert stats.count_text(1, 200) == "1 of 200"
    assert stats.count_text(199, 200) == "199 of 200"
    assert stats.count_text(0, 200) == "0.0% (0 of 200)"
    assert stats.count_text(25, 200) == "12.5% (25 of 200)"


@pytest.mark.parametrize("args", [(3, 2), (-1, 5), (1.0, 5), (1, 0)])
def test_count_text_rejects_bad_input(args):
    with pytest.raises(ValueError):
        stats.count_text(*args)


# --------------------------------------------------------------------------------------------
# stall: errors with dropout switched on
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task():
    return data.stall_task(n_points=100, seed=3)


def test_training_mode_errors_without_dropout_are_the_ordinary_errors(task):
    theta = models.init_theta(range(4)).double()
    out = stall.training_mode_errors(theta, task, draws=2)
    X, y = task.X.double(), task.y.double()
    torch.testing.assert_close(out["mae"], models.mae(theta, X, y))
    torch.testing.assert_close(out["mse"], models.mse(theta, X, y))
    single = stall.training_mode_errors(theta[1], task, draws=1)
    assert single["mae"].shape == () and single["mae"] == pytest.approx(out["mae"][1].item())


@pytest.mark.parametrize("before, after", [(0.3, 0.0), (0.0, 0.3)])
def test_training_mode_errors_match_pytorch_dropout_on_average(task, before, after):
    theta = models.perfect_theta().reshape(1, 2, 3)  # an exact fit, which dropout visibly spoils
    mine = stall.training_mode_errors(theta, task, dropout_before=before, dropout_after=after,
                                      draws=400, seed=1)["mae"][0].item()
    torch.manual_seed(0)
    net = models.load_theta(models.question_network(dropout_before=before,
                                                     dropout_after=after).double(), theta[0])
    net.train()
    X, y = task.X.double(), task.y.double()[:, None]
    with torch.no_grad():
        theirs = sum((net(X) - y).abs().mean().item() for _ in range(400)) / 400
    plain = models.mae(theta, X, y.squeeze(1))[0].item()
    assert abs(mine - theirs) < 0.02 * theirs  # same quantity up to Monte Carlo noise
    assert abs(mine - plain) > 5 * abs(mine - theirs)  # and dropout really changes it


def test_training_mode_errors_reject_bad_input(task):
    theta = models.init_theta(range(2))
    with pytest.raises(ValueError, match="dropout_before"):
        stall.training_mode_errors(theta, task, dropout_before=1.0)
    with pytest.raises(ValueError, match="dropout_after"):
        stall.training_mode_errors(theta, task, dropout_after=-0.1)
    with pytest.raises(ValueError, match="draws"):
        stall.training_mode_errors(theta, task, draws=0)
    with pytest.raises(ValueError, match="seed"):
        stall.training_mode_errors(theta, task, seed=-1)
    with pytest.raises(TypeError, match="task"):
        stall.training_mode_errors(theta, "task")
    with pytest.raises(ValueError, match="theta has 5 columns"):
        stall.training_mode_errors(torch.zeros(2, 2, 5), task)
    with pytest.raises(ValueError, match="theta"):
        stall.training_mode_errors(torch.zeros(3), task)


# --------------------------------------------------------------------------------------------
# stall: dropout, then plain training
# --------------------------------------------------------------------------------------------


def test_dropout_then_plain_continues_from_the_dropout_weights(task):
    first, second = stall.dropout_then_plain(task, [0, 1, 2], dropout_after=0.1, dropout_steps=30,
                                             total_steps=50, record_every=10)
    assert first.config["steps"] == 30 and first.config["dropout_after"] == 0.1
    assert second.config["steps"] == 20 and second.config["dropout_after"] == 0.0
    torch.testing.assert_close(second.theta0, first.theta)
    again = train_sweep(task, [0, 1, 2], steps=20, theta0=first.theta, record_every=10)
    torch.testing.assert_close(second.theta, again.theta)


def test_dropout_then_plain_rejects_bad_input(task):
    with pytest.raises(ValueError, match="dropout_steps"):
        stall.dropout_then_plain(task, [0], dropout_after=0.1, dropout_steps=50, total_steps=50)
    with pytest.raises(ValueError, match="dropout_before or dropout_after"):
        stall.dropout_then_plain(task, [0], dropout_steps=10, total_steps=50)
    with pytest.raises(ValueError, match="total_steps"):
        stall.dropout_then_plain(task, [0], dropout_after=0.1, dropout_steps=10, total_steps=0)
    with pytest.raises(ValueError, match="dropout_steps"):
        stall.dropout_then_plain(task, [0], dropout_after=0.1, dropout_steps=0)


def test_dead_unit_fates_counts_each_case():
    t, f = True, False
    start = torch.tensor([t, t, t, f, f, f])
    ref = torch.tensor([t, t, f, t, t, f])
    treated = torch.tensor([f, t, f, f, t, t])
    out = stall.dead_unit_fates(start, ref, treated)
    assert out == {"dead_at_start": 3, "revived": 2, "revived_reference": 1, "prevented": 1,
                   "caused": 1}


def test_dead_unit_fates_rejects_bad_input():
    good = torch.tensor([True, False])
    with pytest.raises(TypeError, match="dead_reference"):
        stall.dead_unit_fates(good, torch.tensor([1, 0]), good)
    with pytest.raises(ValueError, match="dead_treated"):
        stall.dead_unit_fates(good, good, torch.tensor([True]))


def test_paired_text_shows_counts_interval_and_p_value():
    new = torch.tensor([True] * 6 + [False] * 4)
    ref = torch.tensor([False] * 10)
    line = stats.paired_text(stats.paired_comparison(new, ref))
    assert line.startswith("  6/10 [")
    assert "gained   6, lost   0, p = 3.1e-02" in line
    with pytest.raises(TypeError, match="comparison"):
        stats.paired_text({"rate": 1})
