"""symcourse.parallel: independent jobs side by side, with results that do not depend on the
number of workers; and the thread-safe initialisations the jobs rely on."""
from __future__ import annotations

import math
import threading

import pytest
import torch

from symcourse import data, hinges, models, parallel, remedies, sweeps


def test_run_jobs_keeps_the_order_of_the_jobs_and_their_results():
    jobs = {f"job {i}": (lambda i=i: i * i) for i in range(5)}
    for workers in (1, 2, 3):
        out = parallel.run_jobs(jobs, workers=workers)
        assert list(out) == list(jobs) and list(out.values()) == [0, 1, 4, 9, 16]


def test_run_jobs_uses_several_threads_and_restores_torch_threads():
    before = torch.get_num_threads()
    seen, barrier = set(), threading.Barrier(2, timeout=10)

    def job():
        barrier.wait()  # both jobs must be running at once, or this times out
        seen.add(threading.get_ident())
        return torch.get_num_threads()

    out = parallel.run_jobs({"a": job, "b": job}, workers=2)
    assert len(seen) == 2 and set(out.values()) == {1}
    assert torch.get_num_threads() == before


def test_run_jobs_raises_the_first_error_of_a_job():
    def broken():
        raise RuntimeError("job failed on purpose")
    with pytest.raises(RuntimeError, match="on purpose"):
        parallel.run_jobs({"fine": lambda: 1, "broken": broken}, workers=2)


@pytest.mark.parametrize("jobs, workers, exc, name", [
    ({}, None, ValueError, "jobs"),
    ([lambda: 1], None, ValueError, "jobs"),
    ({"a": 3}, None, TypeError, r"jobs\['a'\]"),
    ({"a": lambda: 1}, 0, ValueError, "workers"),
    ({"a": lambda: 1}, 1.5, TypeError, "workers"),
])
def test_run_jobs_rejects_bad_input(jobs, workers, exc, name):
    with pytest.raises(exc, match=name):
        parallel.run_jobs(jobs, workers=workers)


def test_init_theta_is_the_default_linear_layer_and_thread_safe():
    for s in (0, 3, 99):
        torch.manual_seed(s)
        layer = torch.nn.Linear(3, 4)
        theta = models.init_theta([s], 3, 4)[0]
        assert torch.equal(theta[:, :3], layer.weight.detach())
        assert torch.equal(theta[:, 3], layer.bias.detach())
    alone = models.init_theta(range(300))
    together = parallel.run_jobs({i: (lambda: models.init_theta(range(300))) for i in range(4)},
                                 workers=4)
    assert all(torch.equal(alone, theta) for theta in together.values())


def test_linear_init_matches_nn_linear_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    weight, bias = models.linear_init(5, 2, torch.Generator().manual_seed(7))
    no_bias = models.linear_init(5, 2, torch.Generator().manual_seed(7), bias=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(7)
    layer = torch.nn.Linear(5, 2)
    assert torch.equal(weight, layer.weight.detach()) and torch.equal(bias, layer.bias.detach())
    assert no_bias[1] is None and torch.equal(no_bias[0], weight)
    assert weight.abs().max() <= 1 / math.sqrt(5)
    with pytest.raises(TypeError, match="generator"):
        models.linear_init(5, 2, 7)
    with pytest.raises(ValueError, match="out_dim"):
        models.linear_init(5, 0, torch.Generator())


def test_hinge_init_is_the_default_layers_of_each_seed():
    start = hinges.hinge_init([4, 9], units=3)
    for i, s in enumerate((4, 9)):
        torch.manual_seed(s)
        first, second = torch.nn.Linear(1, 3), torch.nn.Linear(3, 1)
        assert torch.equal(start["w"][i], first.weight.detach()[:, 0])
        assert torch.equal(start["b"][i], first.bias.detach())
        assert torch.equal(start["v"][i], second.weight.detach()[0])
        assert torch.equal(start["c"][i], second.bias.detach()[0])


def test_compare_remedies_gives_the_same_runs_with_any_number_of_workers():
    task = data.stall_task(n_points=100, seed=2)
    line_up = {k: remedies.extended_remedies()[k]
               for k in ("baseline", "restarts", "recycling", "dropout after")}
    kwargs = dict(seeds=range(6), steps=120, record_every=40)
    one = remedies.compare_remedies(task, line_up, workers=1, **kwargs)
    two = remedies.compare_remedies(task, line_up, workers=2, **kwargs)
    assert list(one) == list(two) == list(line_up)  # in the order asked, whatever ran first
    for label in line_up:
        assert torch.equal(one[label].theta, two[label].theta), label
        assert torch.equal(one[label].loss, two[label].loss), label
    with pytest.raises(ValueError, match="threads"):
        remedies.compare_remedies(task, line_up, threads=2, **kwargs)


def test_concurrent_sweeps_equal_sweeps_one_after_the_other():
    task = data.stall_task(n_points=80, seed=1)
    runs = {"plain": dict(), "dropout": dict(dropout_after=0.1, engine="gram")}
    alone = {k: sweeps.train_sweep(task, 5, steps=60, **o) for k, o in runs.items()}
    jobs = {k: (lambda o=o: sweeps.train_sweep(task, 5, steps=60, **o)) for k, o in runs.items()}
    together = parallel.run_jobs(jobs, workers=2)
    for k in runs:
        assert torch.equal(alone[k].theta, together[k].theta)
