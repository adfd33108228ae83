"""Self-checks for chapter 5 (modified dynamics: weight decay, momentum, noise, discretisation)."""
from __future__ import annotations

import math

import torch

from ..conservation import softmax_loss
from ..dynamics import batch_gradients
from . import Wrong, as_float, as_tensor, judge, self_check

#: Exercise data, shared with the notebook and the tests.
COEF_LR, COEF_BETA = 0.1, 0.5  # learning rate and momentum of the coefficient exercise
DECAY_RATE, DECAY_START, DECAY_TIME = 0.01, 2.0, 100.0  # weight decay, q(0), time
NOISE_IN, NOISE_CLASSES = 2, 4  # softmax classifier of the noise exercise
NOISE_SAMPLES, NOISE_BATCH = 120, 10  # its data set size and batch size
ORDER_LOW, ORDER_HIGH = 1.7, 2.3  # accepted measured order against the modified flow


def coefficient() -> float:
    """``lr(1 + β)/(4(1 − β)²)`` for the exercise's learning rate and momentum."""
    return COEF_LR * (1 + COEF_BETA) / (4 * (1 - COEF_BETA) ** 2)


def decayed_sum() -> float:
    """``q(T) = q(0)·exp(−λT)`` for the exercise's numbers."""
    return DECAY_START * math.exp(-DECAY_RATE * DECAY_TIME)


@self_check("dynamics-coefficient")
def _coefficient(answer):
    value = as_float(answer, "the coefficient of |∇L|²")
    target = coefficient()
    judge(value, target, "expand both differences θ_{k+1} − θ_k and θ_k − θ_{k−1} to second "
          "order in the learning rate and use θ'' ≈ H∇L/(1 − β)²", rel_tol=1e-9, mistakes=(
              (COEF_LR / 4, "that is the coefficient without momentum; β enters the expansion "
               "twice"),
              ((target / (1 - COEF_BETA), target * (1 - COEF_BETA)),
               "close: count the factors of (1 − β) again — keep the overall 1/(1 − β) outside "
               "the bracket")))
    return f"{value:g}: the correction grows quickly as β approaches 1."


@self_check("dynamics-decay")
def _decay(answer):
    value = as_float(answer, "the quantity q at the final time")
    target = decayed_sum()
    judge(value, target, "write down dq/dt: the loss contributes nothing along a symmetry, so "
          "only the decay term remains; solve the linear equation", rel_tol=1e-6, mistakes=(
              (DECAY_START, "without weight decay q would be conserved, but the decay term acts "
               "on it", 1e-9),
              (DECAY_START * math.exp(-2 * DECAY_RATE * DECAY_TIME),
               "check the factor in the exponent: differentiate (λ/2)|θ|² carefully")))
    return f"{value:.4f}: an exponential decay that no data can stop."


@self_check("dynamics-modified-order")
def _modified_order(answer):
    value = as_float(answer, "the fitted log-log slope")
    if 0.8 < value < 1.2:
        raise Wrong("that is the order against plain gradient flow; measure against the modified flow")
    if value < 0:
        raise Wrong("the error should shrink as the learning rate shrinks; check the sign of log x")
    if not ORDER_LOW < value < ORDER_HIGH:
        raise Wrong("use several learning rates with T/η a whole number and small enough to be "
                    "in the asymptotic regime (β·η small), then fit log error against log η")
    return f"slope {value:.2f}: the modified flow is accurate to second order."


def _noise_labels() -> torch.Tensor:
    """The labels of the noise exercise: ``NOISE_SAMPLES`` points, equally many per class."""
    return torch.arange(NOISE_CLASSES).repeat_interleave(NOISE_SAMPLES // NOISE_CLASSES)


def _quiet_directions(X: torch.Tensor) -> int:
    """How many independent directions of the exercise's softmax classifier (``NOISE_IN``
    features, a bias, ``NOISE_CLASSES`` classes) the batch-gradient noise on inputs ``X``
    never enters, measured at a random parameter point over 60 batches."""
    X = as_tensor(X, (NOISE_SAMPLES, NOISE_IN), "the inputs X")
    if not torch.isfinite(X).all():
        raise Wrong("the inputs X must be finite numbers")
    labels, size = _noise_labels(), NOISE_CLASSES * (NOISE_IN + 1)
    loss = lambda th, idx: softmax_loss(th, X[idx], labels[idx], NOISE_CLASSES)  # noqa: E731
    theta = torch.randn(size, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    grads, full = batch_gradients(loss, theta, NOISE_SAMPLES, NOISE_BATCH, 60, seed=11)
    singular = torch.linalg.svdvals(grads - full)
    if singular[0] == 0:
        return size
    return size - int((singular > 1e-9 * singular[0]).sum())


@self_check("dynamics-noise-design")
def _noise_design(answer):
    quiet = _quiet_directions(answer)
    guaranteed = NOISE_IN + 1  # the translation symmetry's generators
    if quiet <= guaranteed:
        raise Wrong(f"the noise on these inputs avoids {quiet} directions, only what the "
                    "translation symmetry guarantees for any data; look for a change of W "
                    "that no input of yours can see")
    return (f"the noise avoids {quiet} directions, {quiet - guaranteed} more than the "
            "symmetry guarantees: your data hide part of W from every batch.")


def _law_name(answer) -> str:
    if not isinstance(answer, str):
        raise Wrong(f"answer with a string such as 'u - v', got {type(answer).__name__}")
    text = answer.replace(" ", "").replace("−", "-").replace("²", "^2").replace("**", "^")
    return text.lower()


@self_check("dynamics-adam-law")
def _adam_law(answer):
    name = _law_name(answer)
    judge(name, ("u+v", "v+u"), "with sign-like steps each coordinate moves by about η; which "
          "combination of u and v do two such steps leave unchanged?", mistakes=(
              (("u^2-v^2", "v^2-u^2"), "that is gradient flow's law; Adam's early steps are close "
               "to −η·sign(g)"),
              (("u-v", "v-u"), "that holds when g_u and g_v have the same sign; work out their "
               "signs at (2, −0.1), where the residual uv − 1 is negative")))
    return ("u + v: the two coordinates move in opposite directions until v changes sign; "
            "after that they move together and u − v is kept instead.")
