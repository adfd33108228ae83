"""Self-checks for chapter 3 (symmetry and the geometry of the gradient)."""
from __future__ import annotations

import torch
from torch import nn

from .. import symmetry
from ..data import spiral_task
from . import Wrong, as_float, as_int, as_tensor, judge, self_check

#: Exercise ``symmetry-scale-factor``: the factor that multiplies the normalised first layer.
SCALE_ALPHA = 3.0
#: The set-up of exercise ``symmetry-weight-decay``: seed, widths, weight decay, neuron.
DECAY_SEED, DECAY_WIDTHS, DECAY_LAMBDA, DECAY_NEURON = 0, (2, 8, 3), 0.01, 3


def decay_setup():
    """The untrained network, parameters, loss (with weight decay) and rescale group of
    exercise ``symmetry-weight-decay``. Introduced in chapter 3."""
    with torch.random.fork_rng():
        torch.manual_seed(DECAY_SEED)
        net = nn.Sequential(nn.Linear(*DECAY_WIDTHS[:2]), nn.ReLU(),
                            nn.Linear(*DECAY_WIDTHS[1:])).double()
    task = spiral_task(dtype=torch.float64)
    loss = symmetry.loss_function(net, task.X, task.labels, weight_decay=DECAY_LAMBDA)
    return net, symmetry.parameters(net), loss, symmetry.rescale_groups(net)[DECAY_NEURON]


@self_check("symmetry-scale-factor")
def _scale_factor(answer):
    value = as_float(answer, "the factor for the scaled group's learning rate")
    alpha = SCALE_ALPHA
    if value <= 0:
        raise Wrong("a learning rate factor is positive")
    judge(value, alpha ** 2, "use grad L(alpha theta) = grad L(theta) / alpha on the group and "
          "ask when one step from alpha theta lands on alpha times the original step's end",
          rel_tol=1e-9, mistakes=(
              (1.0, "with the same learning rate the scaled weights take shorter steps: the "
               "gradient there is smaller, and the step must also be longer to keep pace"),
              (alpha, "that makes up for the larger weights, but the gradient at alpha theta is "
               "also smaller; write the step from alpha theta and compare its end point with "
               "alpha times the original step's end point"),
              ((1 / alpha, alpha ** -2), "the scaled weights need longer steps, not shorter ones")))
    return ("alpha squared: on a scale group the effective learning rate is eta / |theta|^2, "
            "so weights that grow slow down their own training.")


@self_check("symmetry-rescale-hessian")
def _rescale_hessian(answer):
    value = as_tensor(answer, (2,), "the vector H (a, -b)")
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    ga, gb = torch.autograd.grad(symmetry.toy_loss("rescale")(a, b), (a, b), create_graph=True)
    xi = (a.detach(), -b.detach())
    expected = torch.stack(torch.autograd.grad(ga * xi[0] + gb * xi[1], (a, b)))
    if torch.allclose(value, torch.zeros(2, dtype=torch.float64)):
        raise Wrong("the Hessian does not annihilate the rescale generator, because the generator "
                    "changes from point to point; differentiate the gradient constraint")
    if torch.allclose(value, -expected, atol=1e-9):
        raise Wrong("check the sign: differentiate <grad L(theta), xi(theta)> = 0 and move the "
                    "term with the derivative of xi to the other side")
    if not torch.allclose(value, expected, atol=1e-9):
        raise Wrong("write down the 2x2 Hessian of (ab - 1)^2 / 2 at (2, 1) and multiply it by "
                    "the generator (a, -b), or use the identity from the rescale proposition")
    return "H xi = -(dL/da, -dL/db): the Hessian sees the symmetry only through the gradient."


@self_check("symmetry-weight-decay")
def _weight_decay(answer):
    value = as_float(answer, "the inner product <grad L, xi>")
    _, params, loss, group = decay_setup()
    expected = symmetry.gradient_constraint(group, loss, params).residual
    if abs(value) < 1e-9 * abs(expected):
        raise Wrong("that would hold without weight decay; here the loss includes "
                    "(lambda/2)|theta|^2, whose gradient is not orthogonal to the generator")
    judge(value, expected, "use symcourse.exercises.symmetry.decay_setup() for the network, "
          "parameters, loss and group, and compute the inner product of the gradient with the "
          "generator", rel_tol=1e-6, mistakes=(
              (-expected, "check the sign: the outgoing weights enter the generator with a minus "
               "sign"),))
    return f"<grad L, xi> = {value:.6f}, exactly lambda (|theta_in|^2 - |theta_out|^2)."


@self_check("symmetry-eps-exponent")
def _eps_exponent(answer):
    value = as_float(answer, "the exponent q in <grad L, xi> ~ alpha^q")
    if abs(value) < 0.1:
        raise Wrong("the loss does not care about the size of the weights, but eps does: "
                    "compare eps with the variance of the scaled pre-activations")
    if value > 0:
        raise Wrong("larger weights make eps relatively smaller, so the break shrinks as "
                    "alpha grows")
    if abs(value + 1) < 0.1:
        raise Wrong("eps is added to the variance, not to the standard deviation: how does "
                    "the variance of alpha z scale?")
    if abs(value + 2) > 0.05:
        raise Wrong("measure the residual <grad L, xi> itself (not the cosine) at default eps "
                    "for several alpha and fit the slope of log|residual| against log alpha")
    return ("the layer sees eps / alpha^2 at alpha theta: growing weights hide eps, weights "
            "that shrink expose it.")


def layernorm_design() -> nn.Sequential:
    """The network of the counting exercise: a LayerNorm after the first layer, a ReLU hidden
    layer and a softmax head (widths 5, 8, 8, 4)."""
    with torch.random.fork_rng():  # leaves the global generator alone
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 8), nn.LayerNorm(8, elementwise_affine=False),
                             nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))


@self_check("symmetry-count-layernorm")
def _count_layernorm(answer):
    answer = as_int(answer, "the number of symmetry groups")
    net = layernorm_design()
    head = len(symmetry.translation_groups(net))
    centring = len(symmetry.centring_groups(net))
    scale = len(symmetry.scale_groups(net))
    rescale = len(symmetry.rescale_groups(net, skip_blocked=True))  # second layer only
    expected = head + centring + scale + rescale
    judge(answer, expected, "go layer by layer: the softmax head, the normalisation's centring "
          "and scale, and the hidden neurons between homogeneous layers", mistakes=(
              (expected + 8, "the first layer's neurons are not rescale groups: the "
               "normalisation mixes all of a sample's pre-activations, so scaling one neuron "
               "changes the others"),
              ((expected - centring, expected - centring + 8), "the LayerNorm also subtracts "
               "the mean: the layer before it has translation groups too"),
              (expected + 7, "LayerNorm over all 8 outputs gives one scale group for the whole "
               "layer, not one per row"),
              (expected - 1, "the normalisation also divides by the standard deviation: a scale "
               "group")))
    return (f"{expected}: {head} at the head, {centring} from the centring, {scale} scale "
            f"group and {rescale} rescale groups.")
