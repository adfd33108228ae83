"""symcourse.stats.rounded: what chapters glue is rounded, so reruns give the same text."""
from __future__ import annotations

import math

import pytest
import torch

from symcourse import stats


@pytest.mark.parametrize("value, digits, expected", [
    (0.018161298707, 6, 0.0181613), (3.2414e-30, 3, 3.24e-30), (0.88, 6, 0.88),
    (-12345.678, 3, -12300.0), (0.0, 6, 0.0), (torch.tensor(0.123456789), 4, 0.1235),
])
def test_rounded_keeps_significant_digits(value, digits, expected):
    got = stats.rounded(value, digits)
    assert isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-12)


def test_rounded_leaves_integers_alone_and_absorbs_last_digit_noise():
    assert stats.rounded(176) == 176 and stats.rounded(True) is True
    assert stats.rounded(0.1 + 0.2) == stats.rounded(0.3) == 0.3


@pytest.mark.parametrize("value, digits, exc, name", [
    (float("nan"), 6, ValueError, "value"), ("0.5", 6, TypeError, "value"),
    (torch.zeros(2), 6, ValueError, "value"), (0.5, 0, ValueError, "digits"),
    (0.5, 2.0, TypeError, "digits"),
])
def test_rounded_rejects_bad_input(value, digits, exc, name):
    with pytest.raises(exc, match=name):
        stats.rounded(value, digits)
