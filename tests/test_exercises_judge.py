"""Tests for the shared endings of the self-checks: ``judge`` and ``as_function``."""
from __future__ import annotations

import pytest

from symcourse.exercises import Wrong, as_function, judge


def test_judge_returns_a_matching_value():
    assert judge(5, 5, "hint") == 5
    assert judge(1.0 + 1e-10, 1.0, "hint", rel_tol=1e-9) == 1.0 + 1e-10
    assert judge(1e-13, 0.0, "hint", rel_tol=1e-9, abs_tol=1e-12) == 1e-13
    assert judge("v+u", ("u+v", "v+u"), "hint") == "v+u"


@pytest.mark.parametrize("value, message", [
    (6, "six"), (3, "three or four"), (4, "three or four"), (7, "hint"), (5.5, "hint")])
def test_judge_names_the_first_matching_mistake_else_the_hint(value, message):
    with pytest.raises(Wrong, match=message):
        judge(value, 5, "hint", mistakes=((6, "six"), ((3, 4), "three or four"), (6, "later")))


def test_zero_tolerance_means_exact_and_each_mistake_may_carry_its_own():
    with pytest.raises(Wrong, match="hint"):
        judge(5 + 1e-12, 5, "hint")
    mistakes = ((2.0, "loose", 1e-2), (3.0, "tight"))
    with pytest.raises(Wrong, match="loose"):
        judge(2.01, 1.0, "hint", mistakes=mistakes, rel_tol=1e-9)
    with pytest.raises(Wrong, match="hint"):  # 3.0's entry uses rel_tol, not 1e-2
        judge(3.01, 1.0, "hint", mistakes=mistakes, rel_tol=1e-9)
    with pytest.raises(Wrong, match="hint"):  # abs_tol applies to the expected value only
        judge(1e-13, 1.0, "hint", mistakes=((0.0, "zero"),), rel_tol=1e-9, abs_tol=1e-12)


def test_as_function():
    assert as_function(len, "a function") is len
    with pytest.raises(Wrong, match="expected a function f"):
        as_function(3, "a function f")
