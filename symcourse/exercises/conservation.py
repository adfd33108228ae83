"""Self-checks for chapter 4 (conservation laws under gradient flow)."""
from __future__ import annotations

import torch

from ..conservation import gradient_descent
from . import Wrong, as_float, as_int, as_tensor, judge, self_check

#: Exercise data, shared with the notebook and the tests.
NEURON_IN = (3.0, -1.0, 2.0)  # incoming weights and bias of one ReLU neuron
NEURON_OUT = (2.0, 1.0)  # its outgoing weights (two outputs)
GD_START, GD_LR, GD_STEPS = (1.5, 0.2), 0.1, 100


def rescale_value() -> float:
    """The conserved ``|θ_in|² − |θ_out|²`` of the exercise's neuron."""
    return sum(w * w for w in NEURON_IN) - sum(w * w for w in NEURON_OUT)


def gd_imbalance_change() -> float:
    """Change of ``u² − v²`` after gradient descent on ``½(uv − 1)²`` from :data:`GD_START`."""
    run = gradient_descent(lambda th: 0.5 * (th[0] * th[1] - 1) ** 2,
                           torch.tensor(GD_START, dtype=torch.float64), GD_LR, GD_STEPS)
    q = run.theta[:, 0] ** 2 - run.theta[:, 1] ** 2
    return float(q[-1] - q[0])


@self_check("conservation-rescale-value")
def _rescale_value(answer):
    value = as_float(answer, "the conserved value of the neuron")
    target = rescale_value()
    total = sum(w * w for w in NEURON_IN) + sum(w * w for w in NEURON_OUT)
    judge(value, target, "use squared Euclidean norms, and count the bias among the incoming "
          "weights", rel_tol=1e-9, abs_tol=1e-12, mistakes=(
              (total, "the two squared norms are subtracted, not added"),
              (-target, "check the sign: incoming minus outgoing")))
    return f"{value:g}: it stays at this value for the whole of gradient flow."


@self_check("conservation-linear-count")
def _linear_count(answer):
    answer = as_int(answer, "the number of independent balance quantities")
    judge(answer, 30, "count the entries on and above the diagonal of each symmetric balance "
          "matrix, add over the pairs of neighbouring layers, and compare with the rank of the "
          "Jacobian of all fifty quantities", mistakes=(
              (50, "each balance matrix is symmetric: an entry below the diagonal is the same "
               "function as its mirror image above it"),
              ((25, 15, 10), "there is one balance matrix per pair of neighbouring layers; count "
               "the distinct entries of each and add them up")))
    return ("30 = 15 + 15: the distinct entries of the two symmetric 5 × 5 balance matrices, "
            "and they do not constrain each other.")


@self_check("conservation-gd-drift")
def _gd_drift(answer):
    value = as_float(answer, "the change of u² − v²")
    target = gd_imbalance_change()
    judge(value, target, f"run {GD_STEPS} steps of plain gradient descent with learning rate "
          f"{GD_LR} from (u, v) = {GD_START} on ½(uv − 1)², in float64", rel_tol=1e-6, mistakes=(
              (0, "gradient *descent* takes finite steps; run it and measure the change", 0.0),
              (-target, "check the sign: final value minus initial value")))
    return f"u² − v² moved by {value:.6f}: finite steps break the conservation law."


@self_check("conservation-narrow-count")
def _narrow_count(answer):
    answer = as_int(answer, "the number of conservation laws")
    judge(answer, 5, "every gradient field is a multiple of one field: find the dimension of the "
          "Lie algebra they generate and subtract it from the number of parameters", mistakes=(
              (6, "that is r(r+1)/2, the number of entries of the symmetric matrix UᵀU − VᵀV; "
               "here that matrix has low rank, so its entries are not independent"),
              (3, "one law per hidden neuron is the count for ReLU; a linear network keeps more "
               "symmetries")))
    return ("5 = 6 − 1: the fields span one direction, and uuᵀ − vvᵀ has rank two, so its "
            "vanishing determinant ties its six entries together.")


def _selection_problem():
    """The three points and sparse teacher of chapter 4's section on selection (same seed)."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    y = X @ torch.tensor([1.0, 0, 0, -0.5, 0, 0], dtype=torch.float64)
    return X, y


def mixed_start() -> tuple[torch.Tensor, torch.Tensor]:
    """The exercise's start: w(0) = 0.01 everywhere, small imbalance on coordinates 0-2 and large
    on 3-5."""
    u = torch.tensor([0.12] * 3 + [1.0] * 3, dtype=torch.float64)
    return u, 0.01 / u


@self_check("conservation-mixed-select")
def _mixed_select(answer):
    from ..conservation import diagonal_interpolant

    w = as_tensor(answer, (6,), "the learned weights w = u ⊙ v")
    X, y = _selection_problem()
    u, v = mixed_start()
    target = diagonal_interpolant(u, v, X, y)
    for value in (0.12, 1.0):
        uniform = torch.full((6,), value, dtype=torch.float64)
        if torch.allclose(w, diagonal_interpolant(uniform, 0.01 / uniform, X, y), atol=1e-6):
            raise Wrong("that is the interpolant of a start with one imbalance everywhere; give "
                        "each coordinate its own δ_i")
    if not torch.allclose(X @ w, y, atol=1e-6):
        raise Wrong("your w does not fit the three points: the limit of the flow interpolates")
    if not torch.allclose(w, target, atol=1e-6):
        raise Wrong("solve X w = y for λ with w_i = (|δ_i|/2) sinh(2φ_i(w_i(0)) + 2(Xᵀλ)_i), "
                    "each coordinate with its own δ_i")
    return (f"ℓ1 norm {w.abs().sum():.3f}: the small-δ coordinates grow rich-like, the large-δ "
            f"ones lazily, and the data decide how the load is shared.")
