"""Self-checks for chapter 10 (where symmetry leads)."""
from __future__ import annotations

import itertools
import math

import torch

from ..attractor import correlation_spectrum, whitened_regression
from ..permutation import hidden_widths, init_mlps, permute, select, weight_matching
from . import Wrong, as_float, as_function, as_int, judge, self_check

#: The network of the counting exercise (2 inputs, hidden widths 3 and 4, 2 outputs): first-layer
#: units 0 and 1 share incoming weights and bias but not outgoing weights; second-layer units 0
#: and 1 mirror each other across them, units 2 and 3 are exact copies.
TIED = tuple(torch.tensor(t, dtype=torch.float64) for t in (
    [[1.0, 1.0, -0.5], [0.5, 0.5, 2.0]], [0.1, 0.1, -0.3],
    [[0.7, -0.4, 0.3, 0.3], [-0.4, 0.7, 0.3, 0.3], [0.2, 0.2, -0.6, -0.6]],
    [0.05, 0.05, -0.1, -0.1],
    [[1.0, -0.5], [1.0, -0.5], [0.4, 0.8], [0.4, 0.8]], [0.0, 0.0]))
#: The data moments of the derivation exercise: mean(x²) and mean(xy).
DERIVE_M, DERIVE_C = 3.0, 0.8
#: The data of the low-rank exercise (whitened inputs, teacher strengths 1.5, 0.9, 0.3).
RANK_DATA = {"n": 300, "d": 5, "k": 3, "strengths": (1.5, 0.9, 0.3), "noise": 0.05, "seed": 7}


def _distinct_copies(params) -> int:
    """The number of distinct parameter points among all reorderings of the hidden units."""
    points = set()
    for perms in itertools.product(*(itertools.permutations(range(n))
                                     for n in hidden_widths(params))):
        copy = permute(params, [torch.tensor(p) for p in perms])
        points.add(tuple(torch.cat([t.flatten() for t in copy]).tolist()))
    return len(points)


@self_check("perm-copies")
def _copies(answer):
    answer = as_int(answer, "the number of distinct copies")
    orderings = math.prod(math.factorial(n) for n in hidden_widths(TIED))
    judge(answer, _distinct_copies(TIED), "the distinct copies are the orderings divided by the "
          "number of orderings that leave every weight in place; enumerate them with "
          "itertools.permutations and pm.permute to see", mistakes=(
              (orderings, "that counts orderings; some of them give back the very same "
               "parameter point: which units are exact copies of each other?"),
              (orderings // 2, "second-layer units 2 and 3 are not the only coincidence: a swap "
               "in the first layer can be undone by a swap in the second"),
              (orderings // 8, "first-layer units 0 and 1 share incoming weights but not "
               "outgoing ones: swapping them alone moves the point")))
    return (f"{answer} distinct parameter points: {orderings} orderings, each point reached by "
            f"{orderings // answer} of them.")


@self_check("perm-threshold")
def _threshold(answer):
    value = as_float(answer, "the threshold λ*")
    judge(value, DERIVE_C / 2, "expand the loss to second order around u = w = 0 and find when "
          "the Hessian is positive definite", rel_tol=1e-6, mistakes=(
              (DERIVE_C, "that is the threshold with (λ/2)(u² + w²); here the decay has no ½, so "
               "its Hessian at the origin is twice as large"),
              ((DERIVE_C / DERIVE_M, DERIVE_C / (2 * DERIVE_M)), "mean(x²) multiplies (uw)², a "
               "fourth-order term: it cannot enter the Hessian at the origin")))
    return f"λ* = {value:g}: the origin attracts once 2λ exceeds |mean(xy)|."


@self_check("perm-match")
def _match(answer):
    as_function(answer, "a function match(a, b) returning a permutation tensor")
    nets = init_mlps([5, 7, 3], [11, 12])
    a, b = select(nets, 0), select(nets, 1)
    hidden = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    shuffled = permute(a, [hidden])
    try:
        found = torch.as_tensor(answer(a, shuffled))
    except Exception as error:  # a learner's function may fail in any way
        raise Wrong(f"your function raised {type(error).__name__}: {error}") from None
    if found.shape != (7,) or sorted(found.tolist()) != list(range(7)):
        raise Wrong("return a permutation of range(width): new unit j is old unit perm[j]")
    if any(not torch.equal(p, q) for p, q in zip(permute(shuffled, [found.long()]), a)):
        raise Wrong("aligning a reordered copy of A to A must give A back exactly; score "
                    "incoming weights, bias and outgoing weights together, and maximise")
    expected = weight_matching(a, b)[0][0]
    if not torch.equal(torch.as_tensor(answer(a, b)).long(), expected):
        raise Wrong("a shuffled copy is recovered, but two different networks are matched "
                    "differently from weight matching: check the scores you assign")
    return "your matching recovers shuffled copies and agrees with weight matching."


@self_check("perm-rank")
def _rank(answer):
    value = as_float(answer, "the smallest weight decay")
    X, Y = whitened_regression(**RANK_DATA)
    spectrum = correlation_spectrum(X, Y)
    target = spectrum[1].item()
    if abs(value - spectrum[0].item()) < 0.05 * target:
        raise Wrong("that is where the rank drops to zero; the question asks for rank at most 1")
    if abs(value - spectrum[2].item()) < 0.05 * target:
        raise Wrong("that is where the rank drops from 3 to 2")
    if abs(value - target) > 0.05 * target:
        raise Wrong("sweep λ finely near the step and look at the learned map's singular values "
                    "(numerical_rank), or compute the prediction from the data's correlation")
    return f"{value:.3f}: the second singular value of mean(y xᵀ) is {target:.3f}."
