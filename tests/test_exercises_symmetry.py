"""Tests for chapter 2's self-checks; right answers are computed here independently."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from symcourse import exercises
from symcourse.exercises import symmetry as ex


def weight_decay_answer():
    """lambda (|theta_in|^2 - |theta_out|^2) for the exercise's neuron, straight from the network."""
    net, *_ = ex.decay_setup()
    k = ex.DECAY_NEURON
    inc = net[0].weight[k].pow(2).sum() + net[0].bias[k] ** 2
    out = net[2].weight[:, k].pow(2).sum()
    return ex.DECAY_LAMBDA * (inc - out).item()


def cases():
    wd = weight_decay_answer()
    # H of (ab-1)^2/2 at (2, 1) is [[1, 3], [3, 4]]; times (2, -1) gives (-1, 2)
    return {
        "symmetry-scale-factor": ([9.0, torch.tensor(9.0), np.float64(9)], [3.0, 1.0, 1 / 9, 1 / 3,
                                                                           -9.0, 6.0],
                                  ["nine", [9.0], float("nan")], [9.0]),
        "symmetry-rescale-hessian": ([[-1.0, 2.0], torch.tensor([-1.0, 2.0]), (-1, 2)],
                                     [[0, 0], [1.0, -2.0], [2.0, -1.0]],
                                     ["(-1, 2)", [-1.0], [[-1.0, 2.0]], {"a": 1}], [-1.0]),  # "2" occurs in the formula
        "symmetry-weight-decay": ([wd, torch.tensor(wd)], [0.0, -wd, 2 * wd],
                                  ["0.1", [wd], float("inf")], [wd]),
        "symmetry-eps-exponent": ([-2.0, -1.98, torch.tensor(-2.02)], [0.0, -1.0, 2.0, -3.0],
                                  ["minus two", [-2.0], float("nan")], [-2.0]),
        "symmetry-count-layernorm": ([24, torch.tensor(24), np.int64(24)], [32, 18, 31, 23, 5],
                                     ["24", 24.0, True, [24]], [24]),
    }


CASES = cases()


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]


def test_chapter_two_checks_are_registered():
    assert sorted(CASES) == [i for i in exercises.exercise_ids() if i.startswith("symmetry-")]


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_right_answers_are_accepted(exercise):
    for answer in CASES[exercise][0]:
        feedback = exercises.check(exercise, answer)
        assert feedback.ok, (answer, feedback)


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_wrong_answers_get_a_hint_without_the_answer(exercise):
    _, wrong, _, numbers = CASES[exercise]
    for answer in wrong:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect", (answer, feedback)
        shown = numbers_in(feedback.message)
        for n in numbers:
            assert not any(abs(s - n) < 1e-9 * max(1, abs(n)) for s in shown if s != 0 or n != 0), \
                (answer, feedback.message)


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_wrongly_typed_answers_say_what_was_expected(exercise):
    for answer in CASES[exercise][2]:
        feedback = exercises.check(exercise, answer)
        assert feedback.status == "incorrect" and "expected" in feedback.message, (answer, feedback)


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_unanswered(exercise):
    assert exercises.check(exercise, ...).status == "unsolved"


def test_decay_setup_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    ex.decay_setup()
    assert torch.equal(before, torch.random.get_rng_state())
