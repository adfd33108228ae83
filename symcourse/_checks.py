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
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
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
