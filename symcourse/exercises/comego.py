"""Self-checks for chapter 9 (symmetries that come and go)."""
from __future__ import annotations

import torch

from ..detect import coinciding_kinks
from . import Wrong, as_float, as_int, judge, self_check

#: The dead unit of the design exercise: incoming weights, bias and number of outgoing weights.
DEAD_W = torch.tensor([1.0, -1.0, 2.0, 0.5], dtype=torch.float64)
DEAD_B = -1.0
DEAD_OUT = 2
DEAD_FLAT = 4          # the count of directions flat over whole lines the design must give
DEAD_MIN_POINTS = 6    # the data set must have at least this many points
BYPASSED = 3           # bypassed units in the GL(k) exercise
WIDTH = 16             # units of their layer (section 9.2's network, no output bias)
#: The one-input layer of the kink exercise: units 1 and 4 bend at x = 0.5 facing the same
#: way, unit 2 bends there too but faces the other way.
KINK_W = torch.tensor([1.0, 2.0, -1.0, 0.5, 4.0], dtype=torch.float64)
KINK_B = torch.tensor([0.3, -1.0, 0.5, 0.1, -2.0], dtype=torch.float64)


def _points(answer) -> torch.Tensor:
    try:
        X = torch.as_tensor(answer, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise Wrong(f"expected a data set: numbers of shape (n, {len(DEAD_W)}), got "
                    f"{type(answer).__name__}") from None
    if X.ndim != 2 or X.shape[1] != len(DEAD_W) or X.shape[0] < DEAD_MIN_POINTS:
        raise Wrong(f"expected at least {DEAD_MIN_POINTS} points of {len(DEAD_W)} inputs, "
                    f"shape (n, {len(DEAD_W)}); got shape {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise Wrong("every coordinate must be a finite number")
    return X


@self_check("comego-dead")
def _dead(answer):
    X = _points(answer)
    firing = (X @ DEAD_W + DEAD_B >= 0).nonzero().flatten().tolist()
    if firing:
        raise Wrong(f"the unit is not dead: its pre-activation is >= 0 on point(s) {firing}; "
                    "keep every point on the side where w·x + b < 0")
    rank = int(torch.linalg.matrix_rank(torch.cat([X, torch.ones(len(X), 1,
                                                                  dtype=X.dtype)], 1)))
    flat = DEAD_OUT + len(DEAD_W) + 1 - rank
    if flat == DEAD_OUT:
        raise Wrong("with points in general position only the outgoing weights are flat over "
                    "whole lines: which moves of (w, b) leave every point's w·x + b unchanged?")
    if flat > DEAD_FLAT:
        raise Wrong("too many whole flat lines: your points span too little; spread them out "
                    "in one more direction")
    if flat != DEAD_FLAT:
        raise Wrong("too few whole flat lines: a move (v, c) of (w, b) is flat for every size "
                    "when v·x + c = 0 on every point; how many such moves does your data allow?")
    return (f"{flat} directions flat over whole lines: the {DEAD_OUT} outgoing weights and "
            f"{flat - DEAD_OUT} moves of (w, b) orthogonal to every (x, 1); the other {rank} "
            "incoming directions are flat only until the unit fires somewhere.")


@self_check("comego-gl")
def _gl(answer):
    answer = as_int(answer, "the number of directions")
    k, others = BYPASSED, WIDTH - BYPASSED
    judge(answer, k * k + others, "count the mixings of the bypassed units and the symmetries "
          "of the other units, each direction once", mistakes=(
              (k * k + WIDTH, "the rescalings of the bypassed units are already inside GL(k): "
               "count them once"),
              ((k * k, k * k - k), "the other units of the layer are ReLU units too: what "
               "symmetry does each of them keep?"),
              ((WIDTH, others, others + k * k - k - 1), "the bypassed units allow more than "
               "their rescalings: which k × k matrices can be inserted between the two layers?")))
    return (f"{answer}: GL({k}) gives {k * k} (its diagonal holds the bypassed units' own "
            f"rescalings) and each of the other {others} units its rescaling.")


@self_check("comego-kinks")
def _kinks(answer):
    try:
        pairs = sorted(tuple(sorted((int(i), int(j)))) for i, j in answer)
    except (TypeError, ValueError):
        raise Wrong("expected a list of index pairs such as [(0, 3)]") from None
    target = coinciding_kinks(KINK_W, KINK_B)
    if (1, 2) in pairs or (2, 4) in pairs:
        raise Wrong("unit 2 bends at the same place but faces the other way: relu(−x) and "
                    "relu(x) cannot trade slopes")
    if pairs != target:
        raise Wrong("compute every kink position x = −b/w and compare, then keep the pairs "
                    "whose w has the same sign")
    return f"{pairs}: one flat direction in the outgoing weights for each pair."


@self_check("comego-kurtosis")
def _kurtosis(answer):
    value = as_float(answer, "the kurtosis")
    if 1.7 < value < 1.9:
        raise Wrong("that is one uniform weight; here four of them are added")
    if 2.9 < value < 3.1:
        raise Wrong("that is the Gaussian limit of many terms; four terms are not yet there")
    if 2.35 < value < 2.45:
        raise Wrong("that would be two terms; count the non-zero coordinates of x")
    if not 2.65 < value < 2.75:
        raise Wrong("the excess kurtosis (kurtosis − 3) of a sum of k equal independent terms is "
                    "that of one term divided by k")
    return f"{value:.2f}: 3 − 6/(5k) with k = 4 equal terms."
