"""Self-checks for chapter 9 (symmetries that come and go)."""
from __future__ import annotations

import torch

from ..detect import coinciding_kinks
from . import Wrong, as_float, as_int, self_check

OUTGOING = 10          # outgoing weights of the dead unit in the first exercise
FAN_IN = 64            # its incoming weights (the bias comes on top)
BYPASSED = 3           # bypassed units in the GL(k) exercise
WIDTH = 16             # units of their layer (section 9.2's network, no output bias)
#: The one-input layer of the kink exercise: units 1 and 4 bend at x = 0.5 facing the same
#: way, unit 2 bends there too but faces the other way.
KINK_W = torch.tensor([1.0, 2.0, -1.0, 0.5, 4.0], dtype=torch.float64)
KINK_B = torch.tensor([0.3, -1.0, 0.5, 0.1, -2.0], dtype=torch.float64)


@self_check("comego-dead")
def _dead(answer):
    try:
        whole_lines, nearby = (as_int(a, "each count") for a in answer)
    except TypeError:
        raise Wrong("expected two whole numbers (a, b)") from None
    except ValueError:
        raise Wrong("expected exactly two whole numbers (a, b)") from None
    if whole_lines != OUTGOING:
        raise Wrong("(a): which weights multiply an output that is zero on every point, "
                    "however large they get?")
    if nearby == FAN_IN:
        raise Wrong("(b): the unit also has a bias, and it gets exactly zero gradient too")
    if nearby == 0:
        raise Wrong("(b): does a small move of the incoming weights change any point's side "
                    "of zero?")
    if nearby != FAN_IN + 1:
        raise Wrong("(b): count the parameters that feed the unit's pre-activation")
    return (f"({whole_lines}, {nearby}): the outgoing weights are flat globally, the incoming "
            "weights and bias only until the unit fires somewhere.")


@self_check("comego-gl")
def _gl(answer):
    answer = as_int(answer, "the number of directions")
    k, others = BYPASSED, WIDTH - BYPASSED
    if answer == k * k + WIDTH:
        raise Wrong("the rescalings of the bypassed units are already inside GL(k): count them "
                    "once")
    if answer in (k * k, k * k - k):
        raise Wrong("the other units of the layer are ReLU units too: what symmetry does each "
                    "of them keep?")
    if answer in (WIDTH, others, others + k * k - k - 1):
        raise Wrong("the bypassed units allow more than their rescalings: which k × k matrices "
                    "can be inserted between the two layers?")
    if answer != k * k + others:
        raise Wrong("count the mixings of the bypassed units and the symmetries of the other "
                    "units, each direction once")
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
