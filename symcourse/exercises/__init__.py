"""Self-checks for the exercises. Each says right or wrong and, when wrong, gives a hint — never
the answer. ``check(exercise_id, answer)`` is the one entry point; an answer left as ``...``
(what a student notebook starts with) is reported as not yet solved. Top layer.

This module holds the machinery; each chapter's checks live in a submodule named for its idea
(``stall`` for chapter 1), registered with :func:`self_check` and imported at the end of this file.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch



@dataclass(frozen=True)
class Feedback:
    """The verdict of a self-check."""

    exercise: str
    status: str  # "correct", "incorrect" or "unsolved"
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        mark = {"correct": "✓ correct", "incorrect": "✗ not yet", "unsolved": "… not yet solved"}[self.status]
        return f"[{self.exercise}] {mark}: {self.message}"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


_CHECKS: dict[str, Callable] = {}


def self_check(exercise_id: str):
    """Register a function ``fn(answer) -> message`` as the check of ``exercise_id``; it raises
    :class:`Wrong` with a hint when the answer is wrong."""
    def register(fn):
        if exercise_id in _CHECKS:
            raise ValueError(f"exercise {exercise_id!r} already has a self-check")
        _CHECKS[exercise_id] = fn
        return fn
    return register


def exercise_ids() -> list[str]:
    """All exercises that have a self-check."""
    return sorted(_CHECKS)


class Wrong(Exception):
    """Raised inside a check to report a wrong answer with a hint."""


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id``. Introduced in chapter 1."""
    if exercise_id not in _CHECKS:
        raise ValueError(f"unknown exercise_id {exercise_id!r}; known: {', '.join(exercise_ids())}")
    if answer is ... or answer is None:
        return Feedback(exercise_id, "unsolved", "replace the `...` with your answer and run the cell again")
    try:
        message = _CHECKS[exercise_id](answer)
    except Wrong as wrong:
        return Feedback(exercise_id, "incorrect", str(wrong))
    return Feedback(exercise_id, "correct", message)


def scalar(answer):
    """One-element tensors and NumPy scalars as plain Python numbers; anything else unchanged."""
    if (isinstance(answer, torch.Tensor) and answer.numel() == 1) or isinstance(answer, np.generic):
        return answer.item()
    return answer


def as_int(answer, what: str) -> int:
    """``answer`` as a whole number (a one-element tensor or NumPy integer is accepted)."""
    answer = scalar(answer)
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong(f"expected {what} as a whole number, got {type(answer).__name__} {answer!r}")
    return answer


def as_float(answer, what: str) -> float:
    answer = scalar(answer)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise Wrong(f"expected {what} as one finite number, got {type(answer).__name__} {answer!r}")
    return float(answer)


def as_function(answer, what: str):
    """``answer`` itself when it can be called; otherwise :class:`Wrong` saying
    ``expected <what>`` (the checks of chapters 6, 8 and 10 take functions)."""
    if not callable(answer):
        raise Wrong(f"expected {what}")
    return answer


def _same(value, target, rel_tol: float, abs_tol: float = 0.0) -> bool:
    if isinstance(target, tuple):  # alternatives
        return any(_same(value, t, rel_tol, abs_tol) for t in target)
    if rel_tol == 0 and abs_tol == 0:
        return value == target
    return math.isclose(value, target, rel_tol=rel_tol, abs_tol=abs_tol)


def judge(value, expected, hint: str, *, mistakes=(), rel_tol: float = 0.0,
          abs_tol: float = 0.0):
    """The common ending of a check: raise :class:`Wrong` with the message of the first known
    mistake that ``value`` matches, then ``Wrong(hint)`` unless it matches ``expected``.

    ``mistakes`` holds ``(wrong, message)`` or ``(wrong, message, tolerance)`` entries; ``wrong``
    (and ``expected``) is one value or a tuple of alternatives. Numbers match within the relative
    tolerance (the entry's own, else ``rel_tol``; exact equality at 0, which also serves words);
    ``abs_tol`` applies to ``expected`` only. Returns ``value``. Used by the checks of chapters
    2 to 10."""
    for wrong, message, *tolerance in mistakes:
        if _same(value, wrong, tolerance[0] if tolerance else rel_tol):
            raise Wrong(message)
    if not _same(value, expected, rel_tol, abs_tol):
        raise Wrong(hint)
    return value


def as_tensor(answer, shape: tuple, what: str) -> torch.Tensor:
    try:
        value = torch.as_tensor(answer, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise Wrong(f"expected {what}: numbers of shape {shape}, got {type(answer).__name__}") from None
    if tuple(value.shape) != shape:
        raise Wrong(f"expected {what} of shape {shape}, got shape {tuple(value.shape)}")
    return value


from . import stall  # noqa: E402,F401  (registers chapter 1's checks)
from . import symmetry  # noqa: E402,F401  (registers chapter 3's checks)
from . import conservation  # noqa: E402,F401  (registers chapter 4's checks)
from . import dynamics  # noqa: E402,F401  (registers chapter 5's checks)
from . import broken  # noqa: E402,F401  (registers chapter 6's checks)
from . import remedies  # noqa: E402,F401  (registers chapter 7's checks)
from . import using  # noqa: E402,F401  (registers chapter 8's checks)
from . import comego  # noqa: E402,F401  (registers chapter 9's checks)
from . import permutations  # noqa: E402,F401  (registers chapter 10's checks)
from . import plateau  # noqa: E402,F401  (registers chapter 2's checks)
