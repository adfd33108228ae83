"""Tests for symcourse.stats (Wilson intervals) and symcourse.stall (stall diagnostics).

Expected values come from the Wilson formula evaluated here with an independently computed
normal quantile, from hand-built networks whose winners are obvious, and from autograd.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from symcourse import data, models, stall, stats


# --------------------------------------------------------------------------------------------
# stats
# --------------------------------------------------------------------------------------------


def normal_quantile(q: float) -> float:
    """Inverse of the standard normal CDF by bisection on math.erf."""
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def wilson_by_hand(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval as the roots of (p - phat)^2 = z^2 p (1 - p) / n."""
    z = normal_quantile(0.5 + confidence / 2)
    phat = k / n
    # (1 + z^2/n) p^2 - (2 phat + z^2/n) p + phat^2 = 0
    a = 1 + z * z / n
    b = -(2 * phat + z * z / n)
    c = phat * phat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def test_normal_quantile_helper_is_right():
    # sanity check of the test's own helper against the textbook 1.96 and 2.576
    assert abs(normal_quantile(0.975) - 1.959964) < 1e-6
    assert abs(normal_quantile(0.995) - 2.575829) < 1e-6


def test_wilson_83_of_100_matches_the_formula():
    low, high = stats.wilson_interval(83, 100)
    ref_low, ref_high = wilson_by_hand(83, 100, 0.95)
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert low < 0.83 < high and high - low < 0.2


@pytest.mark.parametrize("k, n, confidence", [(0, 1, 0.95), (1, 3, 0.9), (7, 40, 0.99), (250, 1000, 0.95),
                                              (999, 1000, 0.5), (3, 10, 0.8)])
def test_wilson_matches_formula_for_various_inputs(k, n, confidence):
    low, high = stats.wilson_interval(k, n, confidence)
    ref_low, ref_high = wilson_by_hand(k, n, confidence)
    assert low == pytest.approx(max(0.0, ref_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, ref_high), abs=1e-12)


def test_wilson_no_successes_and_all_successes():
    z = normal_quantile(0.975)
    low, high = stats.wilson_interval(0, 10)
    assert high == pytest.approx(z * z / (10 + z * z), abs=1e-12)
    low, high = stats.wilson_interval(10, 10)
    assert low == pytest.approx(10 / (10 + z * z), abs=1e-12)


def test_wilson_ends_exactly_at_0_and_1_for_extreme_counts():
    # The interval for 0 of n is [0, ...] and for n of n is [..., 1]: the observed rate is an end.
    for n in (1, 5, 10, 20, 77, 1000):
        assert stats.wilson_interval(0, n)[0] == 0.0, n
        assert stats.wilson_interval(n, n)[1] == 1.0, n


@pytest.mark.parametrize("n", [2, 10, 11, 100])
def test_wilson_is_symmetric(n):
    for k in range(n + 1):
        low, high = stats.wilson_interval(k, n)
        mirror_low, mirror_high = stats.wilson_interval(n - k, n)
        assert low == pytest.approx(1 - mirror_high, abs=1e-12)
        assert high == pytest.approx(1 - mirror_low, abs=1e-12)
    low, high = stats.wilson_interval(5, 10)
    assert (low + high) / 2 == pytest.approx(0.5, abs=1e-12)


def test_wilson_contains_the_rate_and_stays_in_unit_interval():
    for n in (1, 2, 5, 20, 77):
        for k in range(n + 1):
            low, high = stats.wilson_interval(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0, (k, n, low, high)
            assert low < high


def test_wilson_narrows_with_more_trials_and_widens_with_confidence():
    widths = []
    for n in (10, 100, 1000, 10000):
        low, high = stats.wilson_interval(3 * n // 10, n)
        widths.append(high - low)
    assert all(a > b for a, b in zip(widths, widths[1:]))
    # roughly the 1/sqrt(n) law at large n
    assert widths[2] / widths[3] == pytest.approx(math.sqrt(10), rel=0.02)
    w = [h - l for l, h in (stats.wilson_interval(30, 100, c) for c in (0.5, 0.9, 0.95, 0.99))]
    assert all(a < b for a, b in zip(w, w[1:]))


@pytest.mark.parametrize("args, exc, name", [
    ((1, 0), ValueError, "trials"),
    ((0, -3), ValueError, "trials"),
    ((1, 2.0), TypeError, "trials"),
    ((11, 10), ValueError, "successes"),
    ((-1, 10), ValueError, "successes"),
    ((1.5, 10), ValueError, "successes"),
    ((True, 10), ValueError, "successes"),
    ((3, 10, 1.0), ValueError, "confidence"),
    ((3, 10, 0.0), ValueError, "confidence"),
    ((3, 10, -0.5), ValueError, "confidence"),
    ((3, 10, "0.95"), TypeError, "confidence"),
])
def test_wilson_rejects_bad_input(args, exc, name):
    with pytest.raises(exc, match=name):
        stats.wilson_interval(*args)


@pytest.mark.parametrize("flags", [[True, False, True, True], torch.tensor([True, False, True, True]),
                                   (1, 0, 1, 1), torch.tensor([1, 0, 1, 1])])
def test_rate_summary(flags):
    summary = stats.rate_summary(flags)
    assert summary["count"] == 3 and summary["trials"] == 4 and summary["rate"] == 0.75
    low, high = wilson_by_hand(3, 4, 0.95)
    assert summary["low"] == pytest.approx(low, abs=1e-12)
    assert summary["high"] == pytest.approx(high, abs=1e-12)


def test_rate_summary_confidence_and_extremes():
    summary = stats.rate_summary([False] * 20, confidence=0.9)
    assert summary["count"] == 0 and summary["rate"] == 0.0
    assert summary["high"] == pytest.approx(wilson_by_hand(0, 20, 0.9)[1], abs=1e-12)
    assert stats.rate_summary(torch.ones(7, dtype=torch.bool))["rate"] == 1.0


def test_rate_summary_rejects_bad_input():
    with pytest.raises(ValueError, match="flags"):
        stats.rate_summary([])
    with pytest.raises(ValueError, match="flags"):
        stats.rate_summary(torch.tensor([], dtype=torch.bool))
    with pytest.raises(ValueError, match="confidence"):
        stats.rate_summary([True, False], confidence=1.5)


def test_rate_summary_rejects_a_tensor_that_is_not_one_dimensional():
    # Two runs, neither stalled, held as a (2, 1) column: today this reports "2 of 2 stalled".
    with pytest.raises(ValueError, match="flags"):
        stats.rate_summary(torch.tensor([[False], [False]]))


# --------------------------------------------------------------------------------------------
# stall: who wins where
# --------------------------------------------------------------------------------------------

# Unit 0 outputs x, unit 1 outputs y; with a bias of -100 a unit never wins on the unit square.
X_UNIT = torch.tensor([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5], [0.3, 0.6]])
THETA_XY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_winners_single_network():
    who = stall.winners(THETA_XY, X_UNIT)
    assert who.shape == (4,)
    assert who.tolist() == [1, 0, 0, 1]  # point 2 is a tie: the lowest index wins


def test_winners_batched():
    theta = torch.stack([THETA_XY, THETA_XY.flip(0), torch.tensor([[1.0, 2.0, 0.0], [3.0, 1.0, -100.0]])])
    who = stall.winners(theta, X_UNIT)
    assert who.shape == (3, 4)
    assert who.tolist() == [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0]]


def test_winners_match_question_network_maxpool():
    task = data.stall_task(n_points=300, seed=8)
    theta = models.init_theta(range(6), units=3)
    who = stall.winners(theta, task.X)
    for s in range(6):
        net = models.load_theta(models.question_network(units=3), theta[s])
        lin = models.linear_layer(net)
        with torch.no_grad():
            z = lin(task.X)  # (N, K)
            _, idx = nn.MaxPool1d(3, return_indices=True)(z[:, None, :])
        assert torch.equal(who[s], idx.reshape(-1))


def test_win_fractions_and_dead_units():
    theta = torch.stack([THETA_XY, torch.tensor([[1.0, 2.0, 0.0], [3.0, 1.0, -100.0]])])
    frac = stall.win_fractions(theta, X_UNIT)
    assert frac.shape == (2, 2)
    assert frac.tolist() == [[0.5, 0.5], [1.0, 0.0]]
    dead = stall.dead_units(theta, X_UNIT)
    assert dead.dtype == torch.bool
    assert dead.tolist() == [[False, False], [False, True]]
    # single network in, no seed dimension out
    assert stall.win_fractions(theta[1], X_UNIT).tolist() == [1.0, 0.0]
    assert stall.dead_units(theta[1], X_UNIT).tolist() == [False, True]


def test_win_fractions_three_units_sum_to_one():
    task = data.stall_task(n_points=500, seed=2)
    theta = models.init_theta(range(20), units=3)
    frac = stall.win_fractions(theta, task.X)
    assert frac.shape == (20, 3)
    torch.testing.assert_close(frac.sum(dim=1), torch.ones(20))
    who = stall.winners(theta, task.X)
    counts = torch.stack([(who == k).sum(dim=1) for k in range(3)], dim=1)
    torch.testing.assert_close(frac, counts.float() / 500)
    assert torch.equal(stall.dead_units(theta, task.X), counts == 0)


def test_dead_units_on_a_whole_dead_network_batch():
    theta = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, -100.0], [1.0, 1.0, -100.0]]])
    assert stall.dead_units(theta, X_UNIT).tolist() == [[False, True, True]]


@pytest.mark.parametrize("fn", [stall.winners, stall.win_fractions, stall.dead_units, stall.live_unit])
def test_winner_functions_reject_bad_theta(fn):
    with pytest.raises(ValueError, match="theta"):
        fn(torch.zeros(1, 1, 2, 3), X_UNIT)
    with pytest.raises(ValueError, match="theta"):
        fn(torch.zeros(3), X_UNIT)
    with pytest.raises(TypeError, match="theta"):
        fn([[1.0, 0.0, 0.0]], X_UNIT)


# --------------------------------------------------------------------------------------------
# stall: gradients
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task64():
    return data.stall_task(n_points=200, seed=1, dtype=torch.float64)


def autograd_gradient(theta_one: torch.Tensor, task) -> torch.Tensor:
    """Gradient of the question network's MSE for one network (K, D+1), by autograd."""
    K = theta_one.shape[0]
    bias = theta_one.shape[1] == task.in_dim + 1
    net = models.load_theta(models.question_network(units=K, bias=bias).double(), theta_one)
    loss = ((task.y[:, None] - net(task.X)) ** 2).mean()
    loss.backward()
    lin = models.linear_layer(net)
    cols = [lin.weight.grad] + ([lin.bias.grad[:, None]] if bias else [])
    return torch.cat(cols, dim=1)


@pytest.mark.parametrize("units, bias", [(2, True), (3, True), (2, False)])
def test_gradients_summed_equals_autograd_and_per_sample_adds_up(task64, units, bias):
    theta = models.init_theta(range(5), units=units, bias=bias, dtype=torch.float64)
    g = stall.gradients(theta, task64, bias=bias)
    A = 2 + int(bias)
    assert g["summed"].shape == (5, units, A)
    assert g["per_sample"].shape == (5, task64.n_points, units, A)
    torch.testing.assert_close(g["per_sample"].sum(dim=1), g["summed"], rtol=1e-12, atol=1e-14)
    for s in range(5):
        torch.testing.assert_close(g["summed"][s], autograd_gradient(theta[s], task64), rtol=1e-12, atol=1e-14)


def test_per_sample_gradient_is_autograd_of_one_points_term(task64):
    theta = models.init_theta([3], dtype=torch.float64)
    per_sample = stall.gradients(theta, task64)["per_sample"][0]
    N = task64.n_points
    for i in (0, 17, 123):
        th = theta[0].clone().requires_grad_(True)
        xa = torch.cat([task64.X[i], torch.ones(1, dtype=torch.float64)])
        out = (th @ xa).max()
        ((out - task64.y[i]) ** 2 / N).backward()
        torch.testing.assert_close(per_sample[i], th.grad, rtol=1e-12, atol=1e-15)


def test_dead_unit_gradient_is_exactly_zero(task64):
    theta = torch.tensor([[[1.0, 2.0, 0.3], [3.0, 1.0, -100.0]],
                          [[0.5, 0.5, -100.0], [1.0, -1.0, 0.1]]], dtype=torch.float64)
    dead = stall.dead_units(theta, task64.X)
    assert dead.tolist() == [[False, True], [True, False]]
    g = stall.gradients(theta, task64)
    assert torch.count_nonzero(g["summed"][0, 1]) == 0
    assert torch.count_nonzero(g["summed"][1, 0]) == 0
    assert torch.count_nonzero(g["per_sample"][0, :, 1]) == 0
    assert torch.count_nonzero(g["per_sample"][1, :, 0]) == 0
    assert torch.count_nonzero(g["summed"][0, 0]) > 0
    for s in range(2):
        torch.testing.assert_close(g["summed"][s], autograd_gradient(theta[s], task64), rtol=1e-12, atol=1e-14)


def test_gradients_single_network_has_no_seed_dimension(task64):
    theta = models.init_theta([4], dtype=torch.float64)
    single = stall.gradients(theta[0], task64)
    batched = stall.gradients(theta, task64)
    assert single["summed"].shape == (2, 3)
    assert single["per_sample"].shape == (task64.n_points, 2, 3)
    assert torch.equal(single["summed"], batched["summed"][0])
    assert torch.equal(single["per_sample"], batched["per_sample"][0])


def test_gradient_report(task64):
    theta = torch.tensor([[[1.0, 2.0, 0.3], [3.0, 1.0, -100.0]],
                          [[0.5, 2.5, -0.2], [2.0, 0.5, 0.1]]], dtype=torch.float64)
    report = stall.gradient_report(theta, task64)
    assert report["summed_norm"].shape == (2, 2) and report["per_point_norm"].shape == (2, 2)
    g = stall.gradients(theta, task64)
    torch.testing.assert_close(report["summed_norm"], g["summed"].norm(dim=-1), rtol=0, atol=0)
    # by hand: a point alone contributes 2 * residual * (x, y, 1) to the unit that wins it
    Xa = models.augment(task64.X, True)
    for s in range(2):
        z = Xa @ theta[s].T  # (N, K)
        out, who = z.max(dim=1)
        norms = 2 * (out - task64.y).abs() * Xa.norm(dim=1)
        for k in range(2):
            won = who == k
            expected = norms[won].mean() if won.any() else torch.tensor(0.0, dtype=torch.float64)
            torch.testing.assert_close(report["per_point_norm"][s, k], expected, rtol=1e-12, atol=1e-15)
    assert report["summed_norm"][0, 1] == 0 and report["per_point_norm"][0, 1] == 0
    single = stall.gradient_report(theta[1], task64)
    assert torch.equal(single["summed_norm"], report["summed_norm"][1])
    assert torch.equal(single["per_point_norm"], report["per_point_norm"][1])


def test_gradient_report_at_a_stall_point_point_gradients_are_large_but_sum_is_tiny(task64):
    fit = stall.affine_lstsq(task64.X, task64.y)
    theta = torch.stack([fit, fit - torch.tensor([0.0, 0.0, 100.0], dtype=torch.float64)])
    report = stall.gradient_report(theta, task64)
    assert report["summed_norm"][0] < 1e-12
    assert report["per_point_norm"][0] > 1e-2
    assert report["summed_norm"][1] == 0 and report["per_point_norm"][1] == 0


# --------------------------------------------------------------------------------------------
# stall: affine fit, live unit, stalled runs
# --------------------------------------------------------------------------------------------


def test_affine_lstsq_recovers_an_exact_affine_function():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(50, 3, generator=g, dtype=torch.float64)
    w, b = torch.tensor([0.5, -2.0, 1.25], dtype=torch.float64), 3.0
    fit = stall.affine_lstsq(X, X @ w + b)
    assert fit.shape == (4,) and fit.dtype == torch.float64
    torch.testing.assert_close(fit, torch.tensor([0.5, -2.0, 1.25, 3.0], dtype=torch.float64), rtol=0, atol=1e-12)
    # float32 input is fitted in float64 too
    fit32 = stall.affine_lstsq(X.float(), (X @ w + b).float())
    assert fit32.dtype == torch.float64
    torch.testing.assert_close(fit32, fit, rtol=0, atol=1e-5)


def test_affine_lstsq_is_least_squares_on_noisy_data():
    task = data.stall_task(n_points=300, seed=5, dtype=torch.float64)
    fit = stall.affine_lstsq(task.X, task.y)
    Xa = models.augment(task.X, True)
    # normal equations: the residual is orthogonal to every column
    residual = Xa @ fit - task.y
    torch.testing.assert_close(Xa.T @ residual, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-10)


def test_affine_lstsq_honours_mask():
    g = torch.Generator().manual_seed(1)
    X = torch.rand(40, 2, generator=g, dtype=torch.float64)
    y = 2.0 * X[:, 0] - X[:, 1] + 0.5
    mask = X[:, 0] < 0.5
    y = torch.where(mask, y, torch.full_like(y, 1e3))  # garbage outside the mask
    fit = stall.affine_lstsq(X, y, mask)
    torch.testing.assert_close(fit, torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64), rtol=0, atol=1e-12)
    unmasked = stall.affine_lstsq(X, y)
    assert not torch.allclose(unmasked, fit)


def test_affine_lstsq_rejects_bad_input():
    X = torch.rand(10, 2)
    y = torch.rand(10)
    with pytest.raises(ValueError, match="points"):
        stall.affine_lstsq(X[:2], y[:2])
    with pytest.raises(ValueError, match="points"):
        stall.affine_lstsq(X, y, torch.arange(10) < 2)  # only two points selected
    with pytest.raises(ValueError, match="mask"):
        stall.affine_lstsq(X, y, torch.ones(10))  # not bool
    with pytest.raises(ValueError, match="mask"):
        stall.affine_lstsq(X, y, torch.ones(9, dtype=torch.bool))
    with pytest.raises(ValueError, match="y"):
        stall.affine_lstsq(X, torch.rand(9))
    with pytest.raises(ValueError, match="X"):
        stall.affine_lstsq(torch.rand(10), y)


def test_live_unit_picks_the_live_unit():
    theta = torch.tensor([[[1.0, 2.0, 0.3], [3.0, 1.0, -100.0]],
                          [[0.5, 0.5, -100.0], [1.0, -1.0, 0.1]]])
    live = stall.live_unit(theta, X_UNIT)
    assert live.shape == (2, 3)
    assert torch.equal(live, torch.stack([theta[0, 0], theta[1, 1]]))
    assert torch.equal(stall.live_unit(theta[1], X_UNIT), theta[1, 1])


def test_live_unit_three_units():
    theta = torch.tensor([[[0.0, 0.0, -50.0], [0.0, 0.0, -60.0], [1.0, 1.0, 1.0]]])
    assert torch.equal(stall.live_unit(theta, X_UNIT), theta[:, 2])


def test_live_unit_names_the_networks_with_two_live_units():
    dead_second = torch.tensor([[1.0, 2.0, 0.3], [3.0, 1.0, -100.0]])
    theta = torch.stack([dead_second, THETA_XY, dead_second, THETA_XY])
    with pytest.raises(ValueError, match=r"networks \[1, 3\]"):
        stall.live_unit(theta, X_UNIT)
    with pytest.raises(ValueError, match=r"networks \[0\]"):
        stall.live_unit(THETA_XY, X_UNIT)


def test_is_stalled():
    final = torch.tensor([1e-2, 1e-7, 2e-3, 5e-4])
    assert stall.is_stalled(final).tolist() == [True, False, True, False]
    assert stall.is_stalled(final, threshold=1e-8).tolist() == [True, True, True, True]
    assert stall.is_stalled(final, threshold=0.05).tolist() == [False, False, False, False]
    assert stall.STALL_THRESHOLD == 1e-3


def test_is_stalled_rejects_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        stall.is_stalled(torch.tensor([0.1]), threshold=0)
    with pytest.raises(ValueError, match="threshold"):
        stall.is_stalled(torch.tensor([0.1]), threshold=-1e-3)
    with pytest.raises(TypeError, match="threshold"):
        stall.is_stalled(torch.tensor([0.1]), threshold="1e-3")
    with pytest.raises(TypeError, match="final_loss"):
        stall.is_stalled([0.1, 0.2])
    with pytest.raises(ValueError, match="final_loss"):
        stall.is_stalled(torch.tensor([float("nan")]))
