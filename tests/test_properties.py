"""Property-based tests (hypothesis) over the public entry points listed in ``_cases.py``.

1. Every valid call in the table runs (so a refusal below is caused by the one bad argument).
2. One argument replaced by a random bad value of its kind: the call raises ValueError or
   TypeError whose message names that argument, within ``TIME_BOUND`` seconds, and leaves
   every argument (tensors, models, tasks, parameter dictionaries) exactly as it was.
3. Valid random numbers never give NaN where a function promises a number.

The number of examples comes from the hypothesis profile (``tests/conftest.py``): ``fast`` by
default, ``thorough`` with ``SYMCOURSE_HYPOTHESIS=thorough``.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time

import matplotlib
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

matplotlib.use("Agg")

from _cases import CASES, F64, affine_task, class_task, quad, relu_net  # noqa: E402

from symcourse import (conservation, detect, dynamics, models, remedies, stats, symmetry,  # noqa: E402
                       teleport, theory)

#: A refusal must come this fast (seconds), even on a busy shared machine.
TIME_BOUND = 5.0

NAN, INF = float("nan"), float("inf")
junk = st.sampled_from([None, "1", [1], {"a": 1}, object()])
not_finite = st.sampled_from([NAN, INF, -INF])


def _below(x):
    return st.floats(max_value=x, allow_nan=False, allow_infinity=False)


# bad values by kind; a callable receives the valid value and returns a strategy
BAD = {
    "pos_int": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.just(True), junk),
    "pos_int_or_none": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.just(True),
                                 st.sampled_from(["1", [1]])),  # None means the default here
    "nonneg_int": st.one_of(st.integers(max_value=-1), st.floats(0.5, 3.5), st.just(False), junk),
    "pos_float": st.one_of(_below(0.0), not_finite, st.just(True), junk),
    "nonneg_float": st.one_of(_below(-1e-300), not_finite, junk),
    "unit_open": st.one_of(st.floats(min_value=1.0, allow_nan=False), _below(-1e-12), not_finite, junk),
    "unit_open_pos": st.one_of(st.floats(min_value=1.0, allow_nan=False), _below(0.0), not_finite, junk),
    "prob": st.one_of(st.floats(min_value=1.0 + 1e-9, allow_nan=False), _below(-1e-12), not_finite, junk),
    "finite": st.one_of(not_finite, junk, st.just(True)),
    "seed": st.one_of(st.integers(max_value=-1), st.floats(0.5, 9.5), st.just(True), junk),
    "seeds": st.one_of(st.integers(max_value=0), st.just([]), st.lists(st.integers(max_value=-1), min_size=1, max_size=3),
                       st.just([0.5]), st.just("3"), st.just(None)),
    "dtype": st.sampled_from([torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.bool,
                              torch.complex64, "float32", None, float]),
    "flag": st.sampled_from([0, 1, "yes", None, 1.0]),
    "choice": st.one_of(st.text(min_size=0, max_size=5).filter(lambda s: s not in {
        "adam", "sgd", "scale", "rescale", "translation", "balance", "teleport", "normal", "uniform"}),
        st.just(None), st.just(3)),
    "callable": st.sampled_from([None, 3, "loss", torch.zeros(2)]),
    "betas": st.one_of(st.tuples(st.floats(min_value=1.0, allow_nan=False), st.just(0.999)),
                       st.tuples(st.just(0.9), st.floats(min_value=1.0, allow_nan=False)),
                       st.tuples(_below(-1e-9), st.just(0.999)), st.tuples(st.just(0.9), not_finite),
                       st.just((0.9,)), st.just(0.9), st.just("ab")),
    "index": st.one_of(st.integers(min_value=50), st.integers(max_value=-1), st.just(0.0), st.just("0"), st.just(None)),
    "object": junk | st.just(torch.zeros(3)),
    "not_none": st.sampled_from(["x", 3, [1], torch.zeros(3)]),
    "remedies": st.sampled_from([{}, {"a": 3}, [1], None]),
    "times": st.sampled_from([[], [-1.0], [0.2, 0.1], [NAN], "t", None]),
    "positives": st.sampled_from([[], [-0.1], [0.0], [NAN], "x", None, [INF]]),
    "alphas": st.sampled_from([[], [-1.0], [0.0], [NAN], "x", None]),
    "shape": st.sampled_from([(), (0, 3), (-1, 2), "x", None, (2.5,)]),
    "shapes": st.sampled_from([[], [(0, 3)], [(2, 2)], "x", None]),
    "widths": st.sampled_from([[], [2], [2, 0], [2, -1], "x", None]),
    "units": st.sampled_from([[], [0, 0], [0.0, 1.0], [-1, 0], [0, 99], "x", None, torch.tensor([0.0, 1.0])]),
    "perm": st.sampled_from([[0, 0, 1, 2], [0, 1], [0, 1, 2, 9], [0.0, 1.0, 2.0, 3.0], "x", None]),
    "groups": st.sampled_from([[], None, [3], "x"]),
    "int_answer": st.sampled_from([None, "three", 2.5, [3], NAN, INF]),
    "float_answer": st.sampled_from([None, "three", [3.0], NAN, INF]),
    "flags": st.sampled_from([[], [0.5], ["a"], None, torch.tensor([0.5])]),
    "bools": st.sampled_from([torch.tensor([1, 0]), torch.tensor([0.5, 1.0]), torch.tensor([True]), [True, False], None]),
}


def _tensor_bad(value, ndim=True, finite=True, shape=True, dtype=True):
    """Bad versions of a valid tensor: not a tensor, integer or half dtype, NaN/inf, extra dims, empty."""
    options = [value.tolist(), None, "tensor"]
    if value.is_floating_point() and dtype:
        options += [value.round().to(torch.int64), value.to(torch.float16), value.to(torch.complex64)]
        if finite and value.numel():
            for bad in (NAN, INF):
                v = value.detach().clone()
                v.view(-1)[0] = bad
                options.append(v)
    if ndim:
        options.append(value[None, None])
    if shape:
        options.append(value.reshape(-1)[:0])
    return st.sampled_from(options)


def _labels_bad(value):
    return st.sampled_from([value + 100, value - 100, value.to(F64), value[:-1], value.tolist()])


def _module_bad(value):
    broken = copy.deepcopy(value)
    with torch.no_grad():
        next(broken.parameters()).view(-1)[0] = NAN
    return st.sampled_from([torch.zeros(3), "net", None, broken])


def _params_bad(value, shapes=True):
    key = next(iter(value))
    nan = {k: v.clone() for k, v in value.items()}
    nan[key].view(-1)[0] = NAN
    wrong = {k: v.clone() for k, v in value.items()}
    wrong[key] = wrong[key].reshape(-1)[:1]
    options = [{}, None, [1], nan, {k: v.to(torch.int64) for k, v in value.items()}]
    return st.sampled_from(options + ([wrong] if shapes else []))


def _task_bad(value):
    X = value.X.clone()
    X[0, 0] = NAN
    options = [value.X, None, dataclasses.replace(value, X=X), dataclasses.replace(value, X=value.X[:0]),
               dataclasses.replace(value, X=value.X.to(torch.int64))]
    if hasattr(value, "labels"):
        options += [dataclasses.replace(value, labels=value.labels + value.n_classes),
                    dataclasses.replace(value, labels=value.labels.to(F64)),
                    dataclasses.replace(value, n_classes=1)]
    else:
        y = value.y.clone()
        y[0] = INF
        options += [dataclasses.replace(value, y=y), dataclasses.replace(value, y=value.y[:-1])]
    return st.sampled_from(options)


def _mix_bad(value):
    k = value.shape[0]
    return st.sampled_from([-torch.eye(k, dtype=F64), torch.full((k, k), NAN, dtype=F64), torch.zeros(k + 1, k + 1),
                            value.to(torch.int64), "mix", None])


TENSOR_BAD = {
    "tensor": lambda v: _tensor_bad(v),
    "tensor_any": lambda v: _tensor_bad(v, ndim=False),
    "tensor_shape": lambda v: _tensor_bad(v, finite=False),
    "tensor_loose": lambda v: _tensor_bad(v, finite=False, shape=False, dtype=False),
    "labels": _labels_bad,
    "module": _module_bad,
    "params": _params_bad,
    "params_any": lambda v: _params_bad(v, shapes=False),
    "affine_task": _task_bad,
    "class_task": _task_bad,
    "mix": _mix_bad,
}


def _bad_strategy(kind, value):
    return TENSOR_BAD[kind](value) if kind in TENSOR_BAD else BAD[kind]


def _snapshot(value):
    """A deep copy to compare with after a call (models by their state, tasks by their fields)."""
    return copy.deepcopy(value)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and \
            bool(torch.equal(a.isnan(), b.isnan()) if a.is_floating_point() else True) and \
            bool(torch.equal(a.nan_to_num(), b.nan_to_num()) if a.is_floating_point() else torch.equal(a, b))
    if isinstance(a, nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(_same(sa[k], sb[k]) for k in sa)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return True  # numbers, strings, functions: immutable or not ours to compare


ARGUMENTS = [(case, name) for case in CASES for name in case.kinds]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_valid_call_runs(case):
    """The table's valid call works (else the refusals below would prove nothing)."""
    if case.heavy and settings.default.max_examples < 50:
        pytest.skip("a valid call of seconds: run with SYMCOURSE_HYPOTHESIS=thorough")
    case.func(**case.make())


@pytest.mark.parametrize("case,name", ARGUMENTS, ids=[f"{c.label}-{n}" for c, n in ARGUMENTS])
@given(data=st.data())
def test_bad_argument_is_refused_clearly(case, name, data):
    """A bad value of one argument raises ValueError/TypeError naming it, fast, changing nothing."""
    kwargs = case.make()
    value = kwargs.get(name)
    if value is None and case.kinds[name] in TENSOR_BAD:
        pytest.skip("no valid value to spoil")
    bad = data.draw(_bad_strategy(case.kinds[name], value), label=name)
    kwargs[name] = bad
    before = {k: _snapshot(v) for k, v in kwargs.items()}
    start = time.perf_counter()
    with pytest.raises((ValueError, TypeError)) as info:
        case.func(**kwargs)
    seconds = time.perf_counter() - start
    message = str(info.value)
    assert name in message, f"{case.label}({name}={bad!r}) raised {message!r}, which does not name {name!r}"
    assert seconds < TIME_BOUND, f"{case.label}({name}=...) took {seconds:.1f} s to refuse (bound {TIME_BOUND} s)"
    for key, copied in before.items():
        assert _same(copied, kwargs[key]), f"{case.label} changed argument {key!r} although it raised"


# --------------------------------------------------------------------------------------------
# valid random inputs give numbers, never NaN
# --------------------------------------------------------------------------------------------

def _finite(x) -> bool:
    if isinstance(x, torch.Tensor):
        return bool(torch.isfinite(x).all())
    if isinstance(x, (tuple, list)):
        return all(_finite(v) for v in x)
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values() if isinstance(v, (int, float, torch.Tensor)))
    return math.isfinite(x)


small = st.floats(-3.0, 3.0, allow_nan=False)
positive = st.floats(1e-3, 3.0)
unit = st.floats(0.0, 0.99)
seeds = st.integers(0, 2 ** 16)


@given(trials=st.integers(1, 10 ** 6), share=st.floats(0, 1), confidence=st.floats(0.01, 0.999))
def test_wilson_interval_is_a_finite_interval(trials, share, confidence):
    k = round(share * trials)
    low, high = stats.wilson_interval(k, trials, confidence)
    assert 0.0 <= low <= k / trials <= high <= 1.0, (k, trials, low, high)


@given(flags=st.lists(st.booleans(), min_size=1, max_size=50))
def test_rate_summary_finite(flags):
    assert _finite(stats.rate_summary(flags))


@given(seed=seeds, n=st.integers(1, 40), scale=positive)
def test_model_losses_finite(seed, n, scale):
    g = torch.Generator().manual_seed(seed)
    theta = scale * torch.randn(2, 3, 3, generator=g, dtype=F64)
    X = torch.rand(n, 2, generator=g, dtype=F64)
    y = torch.randn(n, generator=g, dtype=F64)
    assert _finite(models.mse(theta, X, y)) and _finite(models.mae(theta, X, y))


@given(seed=seeds, alpha=positive, shift=small)
def test_symmetry_actions_finite(seed, alpha, shift):
    torch.manual_seed(seed)
    net = relu_net()
    p = symmetry.parameters(net)
    moved = symmetry.rescale(p, symmetry.rescale_groups(net)[0], alpha)
    moved = symmetry.translate(moved, symmetry.translation_groups(net)[0], shift)
    assert _finite(symmetry.norm(moved)) and _finite(symmetry.dot(p, moved))


@given(lr=positive, momentum=unit)
def test_correction_coefficient_finite(lr, momentum):
    assert _finite(dynamics.correction_coefficient(lr, momentum))


@given(kind=st.sampled_from(["translation", "scale", "rescale"]), lr=st.floats(1e-4, 1.0),
       wd=st.floats(1e-5, 0.1), momentum=unit)
def test_theory_curves_finite(kind, lr, wd, momentum):
    times = torch.linspace(0, 50, 11, dtype=F64)
    assert _finite(theory.free_decay(kind, times, lr, wd, momentum))
    assert _finite(theory.critical_momentum(kind, lr, wd))
    assert theory.damping_regime(kind, lr, wd, momentum) in {"under", "critical", "over",
                                                             "underdamped", "critically damped", "overdamped"}


@given(start=st.floats(0, 5), step=st.integers(0, 100), steps=st.integers(1, 100), until=st.floats(0, 1))
def test_annealed_finite(start, step, steps, until):
    assert _finite(remedies.annealed(start, min(step, steps), steps, until))


@given(seed=seeds, temperature=st.floats(0.0, 5.0), scale=st.floats(0.0, 50.0))
def test_soft_max_and_balancing_finite(seed, temperature, scale):
    """A number, or (a temperature so small that z / temperature overflows) a clear refusal."""
    z = scale * torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(seed), dtype=F64)
    calls = [lambda: remedies.soft_max_output(z, temperature, dim=1)]
    if temperature > 0:
        calls.append(lambda: remedies.load_balancing_loss(z[0], temperature))
    for call in calls:
        try:
            assert _finite(call())
        except ValueError as error:
            assert "temperature" in str(error) and temperature < 1e-300, (temperature, error)


@given(seed=seeds, n=st.integers(2, 30))
def test_kurtosis_finite(seed, n):
    values = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=F64)
    assert _finite(detect.kurtosis(values))


@given(seed=seeds, T=st.floats(0.01, 2.0))
def test_gradient_flow_finite(seed, T):
    theta0 = torch.randn(3, generator=torch.Generator().manual_seed(seed), dtype=F64)
    run = conservation.gradient_flow(quad, theta0, [T / 2, T], max_seconds=TIME_BOUND)
    assert _finite(run.theta) and _finite(run.loss)
    assert _finite(conservation.relative_drift(conservation.scale_quantity(run.theta) + 1.0))


@given(seed=seeds, spread=st.floats(0.01, 2.0))
def test_rebalancing_finite(seed, spread):
    net = relu_net()
    teleport.unbalance(net, spread, seed=seed)
    signs = teleport.sign_matrix(net, symmetry.rescale_groups(net))
    theta = teleport.flat_parameters(net)
    assert _finite(teleport.imbalance(theta, signs))
    try:  # Newton's method to 1e-12 can stall at rounding level: it then says so, never NaN
        assert _finite(teleport.balancing_scales(theta, signs))
    except RuntimeError as error:
        assert "did not converge" in str(error)


@given(seed=seeds)
def test_task_losses_finite(seed):
    task = class_task()
    torch.manual_seed(seed)
    assert _finite(teleport.full_loss(relu_net(), task))
    assert _finite(models.mse(models.init_theta([seed], dtype=F64), affine_task().X, affine_task().y))
