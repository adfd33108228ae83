"""Self-checks for chapter 9 (symmetries that come and go)."""
from __future__ import annotations

import torch

from ..detect import coinciding_kinks
from . import Wrong, as_float, as_int, self_check

OUTGOING = 10          # outgoing weights of the dead unit in the first exercise
BYPASSED = 3           # bypassed units in the GL(k) exercise
#: The one-input layer of the kink exercise: units 1 and 4 bend at x = 0.5 facing the same
#: way, unit 2 bends there too but faces the other way.
KINK_W = torch.tensor([1.0, 2.0, -1.0, 0.5, 4.0], dtype=torch.float64)
KINK_B = torch.tensor([0.3, -1.0, 0.5, 0.1, -2.0], dtype=torch.float64)


@self_check("comego-dead")
def _dead(answer):
    answer = as_int(answer, "the number of directions")
    if answer == OUTGOING + 1 or answer == 2 * OUTGOING:
        raise Wrong("the incoming weights get zero gradient too, but moving them can revive the "
                    "unit: they are flat only while it stays dead, and not in every direction")
    if answer != OUTGOING:
        raise Wrong("a dead unit outputs zero on every point; which weights does it multiply?")
    return f"{answer}: every outgoing weight of a dead unit is a flat direction."


@self_check("comego-gl")
def _gl(answer):
    answer = as_int(answer, "the number of directions")
    k = BYPASSED
    if answer == k * k:
        raise Wrong("GL(k) has k² dimensions, but k of them are the rescalings of chapter 3, "
                    "which every ReLU unit has anyway")
    if answer != k * k - k:
        raise Wrong("count the dimensions of the group of invertible k × k matrices, then remove "
                    "those already present without the bypass")
    return f"{answer} new flat directions: the off-diagonal entries of A."


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
    if 2.8 < value < 3.2:
        raise Wrong("that is the Gaussian value: with x = e₁ the pre-activation is one uniform "
                    "weight, not a sum of many")
    if not 1.7 < value < 1.9:
        raise Wrong("kurtosis is E[(z − μ)⁴] / Var(z)²; sample enough initialisations "
                    "(thousands) for a stable estimate")
    return f"{value:.2f}, the kurtosis of a uniform distribution (9/5)."
