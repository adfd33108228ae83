"""The fast (Gram) sweep engine with dropout masks: equal to a plain per-seed autograd loop
that applies the same masks (float64, 1e-10), and to the point-by-point engine."""
from __future__ import annotations

import pytest
import torch

from symcourse import data, models, sweeps

STEPS = 150


@pytest.fixture(scope="module")
def task64():
    return data.stall_task(n_points=120, seed=4, dtype=torch.float64)


def masked_loop(task, seeds, *, units, bias, before, after, steps, dropout_seed=0, lr=0.02):
    """Seed by seed, ``torch.optim.Adam`` and autograd, with the masks the sweep draws.

    The sweep draws, at every step, inputs' masks (S, N, D) and then outputs' masks
    (S, K, N) for all seeds of its chunk from one generator; seed ``i`` uses its slice.
    """
    S, (N, D) = len(seeds), task.X.shape
    generator = torch.Generator().manual_seed(dropout_seed * 1_000_003 + seeds[0])
    masks = []
    for _ in range(steps + 1):
        m_in = m_out = None
        if before:
            m_in = sweeps.dropout_keep((S, N, D), before, generator).double() / (1 - before)
        if after:
            m_out = sweeps.dropout_keep((S, units, N), after, generator).double() / (1 - after)
        masks.append((m_in, m_out))
    theta0 = models.init_theta(seeds, D, units, bias, dtype=torch.float64)
    finals, losses = [], []
    for i in range(S):
        theta = theta0[i].clone().requires_grad_(True)
        opt = torch.optim.Adam([theta], lr=lr)
        trace = []
        for t in range(steps + 1):
            m_in, m_out = masks[t]
            X = task.X if m_in is None else task.X * m_in[i]
            z = X @ theta[:, :D].T + (theta[:, D] if bias else 0.0)
            if m_out is not None:
                z = z * m_out[i].T
            loss = (z.max(dim=1).values - task.y).square().mean()
            trace.append(loss.item())
            if t < steps:
                opt.zero_grad()
                loss.backward()
                opt.step()
        finals.append(theta.detach())
        losses.append(trace)
    return torch.stack(finals), torch.tensor(losses, dtype=torch.float64).T


@pytest.mark.parametrize("units, bias, before, after", [
    (2, True, 0.0, 0.05), (2, True, 0.05, 0.0), (2, True, 0.2, 0.3),
    (3, True, 0.0, 0.2), (2, False, 0.1, 0.0), (4, False, 0.15, 0.1),
])
def test_gram_dropout_equals_a_per_seed_loop_with_the_same_masks(task64, units, bias, before,
                                                                 after):
    seeds = [3, 8, 13, 21]
    theta, loss = masked_loop(task64, seeds, units=units, bias=bias, before=before,
                              after=after, steps=STEPS)
    fast = sweeps.train_sweep(task64, seeds, units=units, bias=bias, steps=STEPS,
                              record_every=1, dropout_before=before, dropout_after=after,
                              engine="gram", dtype=torch.float64)
    torch.testing.assert_close(fast.theta, theta, rtol=0, atol=1e-10)
    torch.testing.assert_close(fast.loss, loss, rtol=0, atol=1e-10)
    assert (fast.theta - fast.theta0).abs().amax() > 0.1  # the runs did train


@pytest.mark.parametrize("dropout", [dict(dropout_before=0.05), dict(dropout_after=0.05),
                                     dict(dropout_before=0.1, dropout_after=0.2)])
def test_gram_dropout_equals_the_point_by_point_engine(task64, dropout):
    kwargs = dict(steps=300, record_every=30, dtype=torch.float64, dropout_seed=2, **dropout)
    exact = sweeps.train_sweep(task64, 12, **kwargs)
    fast = sweeps.train_sweep(task64, 12, engine="gram", **kwargs)
    torch.testing.assert_close(fast.theta, exact.theta, rtol=0, atol=1e-10)
    torch.testing.assert_close(fast.loss, exact.loss, rtol=0, atol=1e-10)


def test_gram_dropout_masks_depend_on_the_dropout_seed(task64):
    kwargs = dict(steps=60, dropout_after=0.3, engine="gram", dtype=torch.float64)
    a = sweeps.train_sweep(task64, 3, dropout_seed=1, **kwargs)
    b = sweeps.train_sweep(task64, 3, dropout_seed=1, **kwargs)
    c = sweeps.train_sweep(task64, 3, dropout_seed=2, **kwargs)
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, c.theta)


def test_gram_dropout_float32_gives_the_same_outcomes_as_the_exact_engine():
    task = data.stall_task(n_points=300, seed=0)
    kwargs = dict(steps=800, record_every=800, dropout_after=0.05)
    exact = sweeps.train_sweep(task, 40, **kwargs)
    fast = sweeps.train_sweep(task, 40, engine="gram", **kwargs)
    torch.testing.assert_close(fast.theta, exact.theta, rtol=1e-3, atol=1e-3)


# ---- the masks themselves (sweeps.dropout_keep) ----

@pytest.mark.parametrize("p", [0.05, 0.3, 0.9])
def test_dropout_keep_drops_each_entry_with_probability_p(p):
    generator = torch.Generator().manual_seed(5)
    keep = sweeps.dropout_keep((40, 3, 1000), p, generator)
    assert keep.shape == (40, 3, 1000) and keep.dtype == torch.bool
    n = keep.numel()
    dropped = int((~keep).sum())
    sd = (n * p * (1 - p)) ** 0.5
    assert abs(dropped - n * p) < 5 * sd, f"dropped {dropped} of {n}, expected {n * p:.0f} ± {sd:.0f}"
    # independence along the sequence: a dropped entry is followed by a dropped one with prob. p
    flat = ~keep.reshape(-1)
    after_drop = flat[1:][flat[:-1]].double().mean().item()
    assert abs(after_drop - p) < 5 * (p * (1 - p) / dropped) ** 0.5, (
        f"P(drop | previous dropped) = {after_drop:.4f}, expected {p}")
    # and no position of the array is favoured: both halves of the last axis alike
    halves = (~keep).double().view(40, 3, 2, 500).mean(dim=(0, 1, 3))
    assert (halves - p).abs().max() < 5 * (p * (1 - p) / (n / 2)) ** 0.5, f"halves {halves.tolist()}"


def test_dropout_keep_is_reproducible_and_advances_the_generator():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = sweeps.dropout_keep((7, 500), 0.2, g1), sweeps.dropout_keep((7, 500), 0.2, g2)
    assert torch.equal(a, b)
    assert not torch.equal(sweeps.dropout_keep((7, 500), 0.2, g1), a)  # the next step's masks differ


def test_dropout_keep_edge_cases():
    g = torch.Generator().manual_seed(0)
    assert sweeps.dropout_keep((4, 5), 0.0, g).all()
    assert sweeps.dropout_keep((0, 5), 0.5, g).shape == (0, 5)
    assert sweeps.dropout_keep((1,), 0.999, g).shape == (1,)


@pytest.mark.parametrize("args, error, match", [
    (((3, -1), 0.1), ValueError, "shape"),
    (((), 0.1), ValueError, "shape"),
    (((3, 2.0), 0.1), ValueError, "shape"),
    (((3,), 1.0), ValueError, "p"),
    (((3,), -0.1), ValueError, "p"),
    (((3,), float("nan")), (TypeError, ValueError), "p"),
])
def test_dropout_keep_rejects_bad_input(args, error, match):
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    with pytest.raises(error, match=match):
        sweeps.dropout_keep(*args, generator)
    assert torch.equal(generator.get_state(), state), "a refused call must not draw numbers"


def test_dropout_keep_needs_a_generator():
    with pytest.raises(TypeError, match="generator"):
        sweeps.dropout_keep((3,), 0.1, 0)


@pytest.mark.parametrize("before, after", [(0.1, 0.0), (0.0, 0.2), (0.15, 0.3)])
def test_gram_engine_masks_are_dropout_keeps_draws(task64, before, after):
    S, K = 5, 3
    Xa = models.augment(task64.X, True)
    engine = sweeps.GramEngine(S, K, Xa, task64.y, dropout_before=before, dropout_after=after,
                               in_dim=task64.X.shape[1])
    engine.draw(torch.Generator().manual_seed(9))
    reference = torch.Generator().manual_seed(9)
    N, D = task64.X.shape
    if before:
        keep_in = sweeps.dropout_keep((S, N, D), before, reference)
        assert torch.equal(engine.keep_in, keep_in.permute(2, 0, 1).double())
    if after:
        keep_out = sweeps.dropout_keep((S, K, N), after, reference)
        assert torch.equal(engine.keep_out, keep_out.transpose(0, 1).double())
