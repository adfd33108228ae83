"""Self-checks for chapter 8 (using symmetry: balancing and teleportation)."""
from __future__ import annotations

import math

import torch

from ..data import spiral_task
from ..teleport import NotASymmetry, check_invariance, deep_relu_mlp, flat_parameters
from . import Wrong, as_float, as_function, as_int, judge, self_check

DEPTH, WIDTH = 12, 24                 # the chapter's network
GRAD_IN, GRAD_OUT = 3.0, 1.0          # gradient norms of one neuron in the ratio exercise


@self_check("using-count")
def _count(answer):
    answer = as_int(answer, "the number of groups")
    target = (DEPTH - 1) * WIDTH
    judge(answer, target, "one group per hidden neuron; count the hidden layers between the "
          "first and the last Linear layer", mistakes=(
              (DEPTH * WIDTH, "the output layer's units feed the softmax, not another layer: "
               "they have no outgoing weights to compensate"),))
    return f"{answer} rescale groups, one per hidden neuron."


@self_check("using-min-ratio")
def _min_ratio(answer):
    value = as_float(answer, "the scale α of the incoming weights")
    target = math.sqrt(GRAD_IN / GRAD_OUT)
    judge(value, target, "after the move the neuron's squared gradient norm is |g_in|²/α² + "
          "α²|g_out|²; set its derivative in α to zero", rel_tol=1e-6, mistakes=(
              (1 / target, "inverted: the incoming gradient shrinks as 1/α when the incoming "
               "weights grow by α"),
              (GRAD_IN / GRAD_OUT, "close: the gradients enter squared, minimise |g_in|²/α² + "
               "α²|g_out|²")))
    return f"α = {value:.4f}: the two parts of the gradient then have equal norms."


@self_check("using-rescale-neuron")
def _rescale_neuron(answer):
    as_function(answer, "a function rescale_neuron(model, layer, k, alpha)")
    task = spiral_task(n_points=60, dtype=torch.float64)
    model = deep_relu_mlp(in_dim=2, width=5, depth=3, classes=3, seed=3)
    with torch.no_grad():  # He initialisation leaves biases at zero: forgetting them would pass
        model[2].bias.copy_(torch.linspace(-0.5, 0.5, 5, dtype=torch.float64))
    before = flat_parameters(model)
    try:
        answer(model, 2, 1, 2.5)  # neuron 1 of the Linear layer at index 2
    except Exception as error:  # report the student's error as a hint, not a crash
        raise Wrong(f"calling your function failed with {type(error).__name__}: {error}")
    after = flat_parameters(model)
    if torch.equal(before, after):
        raise Wrong("the parameters did not change: modify the model in place under "
                    "torch.no_grad()")
    if (after != before).sum() != 5 + 1 + 3:
        raise Wrong("a rescale touches the neuron's incoming weights (a row), its bias and its "
                    "outgoing weights (a column of the next layer), nothing else")
    try:
        check_invariance(model, task, before, after)
    except NotASymmetry:
        raise Wrong("the loss changed: did you scale the bias with the incoming weights, and "
                    "divide the outgoing weights by the same α?") from None
    return "your move leaves the loss unchanged to 1e-10."


@self_check("using-min-norm")
def _min_norm(answer):
    value = as_float(answer, "the smallest ratio |θ(t)|² / |θ_balanced|²")
    if value < 1 - 1e-9:
        raise Wrong("a ratio below 1 means a point of the orbit with a smaller norm than the "
                    "balanced one: check that you moved along the orbit (θ ⊙ exp(Sᵀt))")
    if value > 2:
        raise Wrong("perturb the balanced log-scales only a little (say by 0.1) so that the "
                    "ratio shows the minimum, not a far-away point")
    return f"{value:.6f} ≥ 1: the balanced point has the smallest norm on its orbit."
