"""Tests for the speed work: the fast sweep engine, setup()'s threading default and the
parallel test run's wiring (notebook groups, the suite's recorded wall time)."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from symcourse import data, progress, session, sweeps
from test_progress import terminal  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent
STEPS = 400


@pytest.fixture(scope="module")
def task64():
    return data.stall_task(n_points=150, seed=5, dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# the fast engine equals the loop in float64
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [
    dict(),
    dict(bias=False),
    dict(units=3),
    dict(units=4, bias=False),
    dict(weight_decay=0.01),
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_gram_engine_equals_the_loop_float64(task64, config):
    seeds = list(range(10))
    kwargs = dict(steps=STEPS, record_every=7, dtype=torch.float64, **config)
    loop = sweeps.train_loop(task64, seeds, **kwargs)
    fast = sweeps.train_sweep(task64, seeds, engine="gram", chunk_size=4, **kwargs)
    torch.testing.assert_close(fast.theta0, loop.theta0, rtol=0, atol=0)
    torch.testing.assert_close(fast.theta, loop.theta, rtol=0, atol=1e-10)
    torch.testing.assert_close(fast.loss, loop.loss, rtol=0, atol=1e-10)
    assert (fast.theta - fast.theta0).abs().amax() > 0.1  # the runs did train


def test_gram_engine_gives_a_dead_unit_exactly_zero_gradient(task64):
    # unit 1 far below unit 0 everywhere: it wins no point and must not move under Adam
    theta0 = torch.tensor([[[1.0, 2.0, 0.5], [0.1, 0.1, -50.0]]], dtype=torch.float64)
    run = sweeps.train_sweep(task64, [0], theta0=theta0, steps=200, engine="gram", dtype=torch.float64)
    assert torch.equal(run.theta[0, 1], theta0[0, 1])
    assert not torch.equal(run.theta[0, 0], theta0[0, 0])


def test_gram_engine_ties_go_to_the_lowest_unit(task64):
    # two identical units tie on every point: unit 0 takes all the gradient, as in the loop
    twins = torch.tensor([[[0.3, -0.2, 0.1], [0.3, -0.2, 0.1]]], dtype=torch.float64)
    kwargs = dict(theta0=twins, steps=50, record_every=1, dtype=torch.float64)
    fast = sweeps.train_sweep(task64, [0], engine="gram", **kwargs)
    loop = sweeps.train_loop(task64, [0], **kwargs)
    torch.testing.assert_close(fast.theta, loop.theta, rtol=0, atol=1e-12)
    assert torch.equal(fast.theta[0, 1], twins[0, 1])


def test_gram_engine_float32_close_to_exact_engine():
    task = data.stall_task(n_points=200, seed=2)
    exact = sweeps.train_sweep(task, 16, steps=STEPS, record_every=50)
    fast = sweeps.train_sweep(task, 16, steps=STEPS, record_every=50, engine="gram")
    torch.testing.assert_close(fast.loss, exact.loss, rtol=1e-4, atol=1e-5)


def test_progress_does_not_change_results():
    task = data.stall_task(n_points=100, seed=1)
    quiet = sweeps.train_sweep(task, 9, steps=120, chunk_size=4, progress=False)
    shown = sweeps.train_sweep(task, 9, steps=120, chunk_size=4, progress=True)
    assert torch.equal(quiet.loss, shown.loss) and torch.equal(quiet.theta, shown.theta)


def test_sweep_reports_progress_in_seed_steps(terminal):
    stream = terminal()
    task = data.stall_task(n_points=50, seed=1)
    sweeps.train_sweep(task, 3, steps=250, chunk_size=2)
    assert "train_sweep" in stream.getvalue() and "750" in stream.getvalue()


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(engine="fast"), ValueError, "engine"),
    (dict(engine="gram", dropout_after=1.0), ValueError, "dropout_after"),
    (dict(progress="yes"), TypeError, "progress"),
])
def test_sweep_rejects_bad_engine_options(kwargs, exc, name):
    task = data.stall_task(n_points=20)
    with pytest.raises(exc, match=name):
        sweeps.train_sweep(task, 2, steps=5, **kwargs)


# --------------------------------------------------------------------------------------------
# setup(): one thread by default, a warning when more threads would spin
# --------------------------------------------------------------------------------------------


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_defaults_to_one_thread(keep_threads):
    torch.set_num_threads(2)
    record = session.setup(style=False)
    assert record["threads"] == session.DEFAULT_THREADS == 1 == torch.get_num_threads()


@pytest.mark.parametrize("policy, warns", [(None, True), ("active", True), ("PASSIVE", False),
                                           (" passive ", False)])
def test_setup_warns_when_threads_would_spin(keep_threads, monkeypatch, policy, warns):
    monkeypatch.setattr(session, "_POLICY_AT_IMPORT", policy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.setup(threads=2, style=False)
        session.setup(threads=1, style=False)  # one thread never waits: never a warning
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == int(warns), messages
    if warns:
        assert "OMP_WAIT_POLICY=PASSIVE" in messages[0]


def test_the_test_run_and_tools_set_the_wait_policy():
    makefile = (ROOT / "Makefile").read_text()
    assert "export OMP_WAIT_POLICY := PASSIVE" in makefile
    assert "--env OMP_WAIT_POLICY PASSIVE" in makefile
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import execute_notebooks
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert execute_notebooks.KERNEL_ENV_DEFAULTS["OMP_WAIT_POLICY"] == "PASSIVE"
    assert execute_notebooks.KERNEL_ENV[progress.QUIET_ENV]


# --------------------------------------------------------------------------------------------
# the parallel test run (root conftest.py)
# --------------------------------------------------------------------------------------------


def _root_conftest():
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest_for_test", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_suite_record_only_for_a_full_passing_run(tmp_path, monkeypatch):
    conftest = _root_conftest()
    record = conftest.suite_record(312.44, 250, 2, "abc1234")
    assert record["seconds"] == 312.4 and record["tests"] == 250 and record["workers"] == 2
    full = SimpleNamespace(
        args_source=pytest.Config.ArgsSource.TESTPATHS,
        option=SimpleNamespace(keyword="", markexpr="", deselect=None, lf=False),
        getoption=lambda name, default=None: True)
    assert conftest.is_full_run(full)
    partial = SimpleNamespace(**{**vars(full), "args_source": pytest.Config.ArgsSource.ARGS})
    assert not conftest.is_full_run(partial)
    filtered = SimpleNamespace(**{**vars(full), "option": SimpleNamespace(
        keyword="stall", markexpr="", deselect=None, lf=False)})
    assert not conftest.is_full_run(filtered)
    worker = SimpleNamespace(**vars(full), workerinput={})
    assert not conftest.is_full_run(worker)
