"""Input validation shared by every module: errors say what was wrong and what is allowed."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def positive(name: str, value, *, integer: bool = False, allow_zero: bool = False):
    """Return ``value`` if it is a positive (or, with ``allow_zero``, non-negative) finite number."""
    kind = "integer" if integer else "number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise TypeError(f"{name} must be a {kind}, got {value!r} of type {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite {kind} {bound}, got {value!r}")
    return value


def in_range(name: str, value, low: float, high: float, *, high_open: bool = False):
    """Return ``value`` if ``low <= value <= high`` (or ``< high`` when ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (high_open and value == high):
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in [{low}, {high}{right}, got {value!r}")
    return value


def choice(name: str, value, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(map(repr, allowed))}")
    return value


def tensor(name: str, value, *, ndim: int | None = None, shape: Sequence[int | None] | None = None,
           floating: bool = True) -> torch.Tensor:
    """Return ``value`` if it is a tensor of the given rank/shape (``None`` in ``shape`` matches any size)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and value.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be a floating-point tensor (float32 or float64), got dtype {value.dtype}")
    want = len(shape) if shape is not None else ndim
    if want is not None and value.ndim != want:
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(value.shape)}")
    if shape is not None:
        for got, expected in zip(value.shape, shape):
            if expected is not None and got != expected:
                pretty = tuple("*" if s is None else s for s in shape)
                raise ValueError(f"{name} must have shape {pretty}, got {tuple(value.shape)}")
    if floating and not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return value


def seeds(value) -> list[int]:
    """Return a non-empty list of non-negative integer seeds (an int ``n`` means ``range(n)``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        positive("number of seeds", value, integer=True)
        return list(range(value))
    if isinstance(value, range) or isinstance(value, Sequence):
        out = list(value)
        if not out:
            raise ValueError("seeds must not be empty")
        for s in out:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be non-negative integers, got {s!r}")
        return out
    raise TypeError(f"seeds must be a positive int or a sequence of ints, got {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# numbers, names and objects
# --------------------------------------------------------------------------------------------

#: The floating types symcourse computes in. Half precision (float16, bfloat16) overflows or
#: loses the small differences the course measures; integer types would round every input.
FLOAT_DTYPES = (torch.float32, torch.float64)


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    return value


def finite(name: str, value):
    """Return ``value`` if it is a finite real number (any sign)."""
    _number(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def integer(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) with ``low <= value <= high`` (``None``: no bound)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def seed(name: str, value) -> int:
    """Return ``value`` if it is a non-negative integer random seed."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer (a random seed), got {value!r}")
    return value


def flag(name: str, value) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return value


def probability(name: str, value):
    """Return ``value`` if it is a probability in [0, 1]."""
    return in_range(name, value, 0.0, 1.0)


def betas(value, name: str = "betas") -> tuple[float, float]:
    """Return Adam's ``(beta1, beta2)`` if both are numbers in [0, 1)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (beta1, beta2) of numbers in [0, 1), got {value!r}")
    for i, b in enumerate(value):
        in_range(f"{name}[{i}]", b, 0.0, 1.0, high_open=True)
    return tuple(value)


def dtype(name: str, value) -> torch.dtype:
    """Return ``value`` if it is one of :data:`FLOAT_DTYPES` (torch.float32 or torch.float64)."""
    if not isinstance(value, torch.dtype) or value not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be torch.float32 or torch.float64 (half precision and integer "
                        f"types are not supported), got {value!r}")
    return value


def function(name: str, value, hint: str = ""):
    """Return ``value`` if it is callable."""
    if not callable(value):
        extra = f" ({hint})" if hint else ""
        raise TypeError(f"{name} must be callable{extra}, got {type(value).__name__}")
    return value


def instance(name: str, value, cls, what: str | None = None):
    """Return ``value`` if it is an instance of ``cls`` (a class or tuple of classes)."""
    if not isinstance(value, cls):
        kinds = cls if isinstance(cls, tuple) else (cls,)
        want = what or " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be a {want}, got {type(value).__name__}")
    return value


def module(name: str, value):
    """Return ``value`` if it is a torch.nn.Module whose parameters are finite floating tensors."""
    instance(name, value, torch.nn.Module, "torch.nn.Module")
    for key, p in value.named_parameters():
        if p.dtype not in FLOAT_DTYPES or not torch.isfinite(p).all():
            raise ValueError(f"{name} parameter {key!r} must be finite floating-point, got dtype "
                             f"{p.dtype} with {int((~torch.isfinite(p.detach().double())).sum())} non-finite entries")
    return value


def nonempty(name: str, value: torch.Tensor) -> torch.Tensor:
    """Return ``value`` if the tensor has at least one entry."""
    if value.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    return value


def labels(name: str, value, n: int, n_classes: int) -> torch.Tensor:
    """Return ``value`` if it is an integer tensor (n,) with entries in [0, n_classes)."""
    tensor(name, value, shape=(n,), floating=False)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {value.dtype}")
    if value.numel() and (int(value.min()) < 0 or int(value.max()) >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}] (n_classes={n_classes}), got values "
                         f"from {int(value.min())} to {int(value.max())}")
    return value


def _task_inputs(name: str, task, cls, what: str, *, images: bool = False) -> torch.Tensor:
    instance(name, task, cls, what)
    X = tensor(f"{name}.X", task.X, ndim=None if images else 2)
    if X.ndim < 2:  # images: (N, channels, height, width) and the like
        raise ValueError(f"{name}.X must have a sample axis and at least one feature axis, got "
                         f"shape {tuple(X.shape)}")
    nonempty(f"{name}.X", X)
    dtype(f"{name}.X.dtype", X.dtype)
    return X


def max_affine_task(name: str, task):
    """Return ``task`` if it is a consistent :class:`~symcourse.data.MaxAffineTask`."""
    from .data import MaxAffineTask  # imported on use: data imports this module

    X = _task_inputs(name, task, MaxAffineTask, "MaxAffineTask (e.g. from data.stall_task)")
    tensor(f"{name}.y", task.y, shape=(X.shape[0],))
    tensor(f"{name}.weights", task.weights, shape=(None, X.shape[1]))
    tensor(f"{name}.biases", task.biases, shape=(task.weights.shape[0],))
    return task


def classification_task(name: str, task):
    """Return ``task`` if it is a consistent :class:`~symcourse.data.ClassificationTask`."""
    from .data import ClassificationTask

    X = _task_inputs(name, task, ClassificationTask, "ClassificationTask (e.g. from data.spiral_task)",
                     images=True)
    integer(f"{name}.n_classes", task.n_classes, low=2)
    labels(f"{name}.labels", task.labels, X.shape[0], task.n_classes)
    return task


# --------------------------------------------------------------------------------------------
# budgets for integrators and iterative solvers
# --------------------------------------------------------------------------------------------


class Budget:
    """A wall-clock and work budget for an iterative computation.

    ``spend()`` once per unit of work raises a RuntimeError naming ``what``, the budget that ran
    out and ``advice`` when either limit is passed; nothing else changes, so a caller that works
    on copies leaves its arguments untouched.
    """

    def __init__(self, what: str, *, max_seconds: float, max_work: int | None = None, advice: str = ""):
        positive("max_seconds", max_seconds)
        if max_work is not None:
            positive("max_work", max_work, integer=True)
        self.what, self.max_seconds, self.max_work, self.advice = what, max_seconds, max_work, advice
        self.work = 0
        import time

        self._clock = time.perf_counter
        self._start = self._clock()

    @property
    def seconds(self) -> float:
        return self._clock() - self._start

    def spend(self, amount: int = 1) -> None:
        self.work += amount
        if self.max_work is not None and self.work > self.max_work:
            self.fail(f"more than {self.max_work} units of work")
        if self.seconds > self.max_seconds:
            self.fail(f"more than max_seconds={self.max_seconds:g} s of wall-clock time")

    def fail(self, reason: str):
        advice = f"; {self.advice}" if self.advice else ""
        raise RuntimeError(f"{self.what} stopped: {reason}{advice}")
