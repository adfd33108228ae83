"""Detectors for symmetries that exist only in part of parameter space: dead units (never
active on the data), bypassed units (always active: the layer is linear there), and coinciding
kinks of a one-dimensional ReLU layer; and the moves along the flat directions they open.

Mathematics layer: imports torch and the bottom modules. Introduced in chapter 9.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks

ACTIVATIONS = (nn.ReLU,)


def _hidden_linears(model) -> list[int]:
    """Positions of the nn.Linear layers followed by a ReLU in a Sequential."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential, got {type(model).__name__}")
    _checks.module("model", model)
    found = [i for i, m in enumerate(model[:-1])
             if isinstance(m, nn.Linear) and isinstance(model[i + 1], ACTIVATIONS)]
    if not found:
        raise ValueError("the model has no nn.Linear layer followed by nn.ReLU")
    return found


def pre_activations(model: nn.Sequential, X: torch.Tensor) -> dict[int, torch.Tensor]:
    """The input of every ReLU on the data ``X``, keyed by the position of the Linear layer
    that produces it; each is (N, units). Chapter 9."""
    hidden = _hidden_linears(model)
    _checks.tensor("X", X, ndim=2)
    out, h = {}, X
    with torch.no_grad():
        for i, module in enumerate(model):
            h = module(h)
            if i in hidden:
                out[i] = h.clone()
    return out


@dataclass(frozen=True)
class Census:
    """Per ReLU layer (keyed by the position of its Linear layer): which units are dead (not
    active on any point) and which are bypassed (active on every point)."""

    dead: dict[int, torch.Tensor]
    bypassed: dict[int, torch.Tensor]

    def counts(self) -> dict[int, tuple[int, int]]:
        """``{layer: (dead, bypassed)}`` unit counts."""
        return {i: (int(self.dead[i].sum()), int(self.bypassed[i].sum())) for i in self.dead}


def census(model: nn.Sequential, X: torch.Tensor) -> Census:
    """Dead and bypassed units of every ReLU layer of ``model`` on the data ``X``. A dead unit
    has zero gradient and frees its outgoing weights; ``k`` bypassed units of one layer act
    linearly and open a GL(k) symmetry. Introduced in chapter 9."""
    pre = pre_activations(model, X)
    return Census(dead={i: ~(z > 0).any(dim=0) for i, z in pre.items()},
                  bypassed={i: (z > 0).all(dim=0) for i, z in pre.items()})


def gl_move(model: nn.Sequential, layer: int, units, mix: torch.Tensor) -> nn.Sequential:
    """Apply ``A = I + mix`` (k × k) to the bypassed ``units`` of the Linear layer at position
    ``layer``, in place: incoming rows and biases become ``A W``, ``A b`` and the next Linear
    layer's columns ``W' A⁻¹``. While every unit stays active on the data the network's output is
    unchanged. Returns the model. Introduced in chapter 9."""
    hidden = _hidden_linears(model)
    if isinstance(layer, bool) or not isinstance(layer, int) or layer not in hidden:
        raise ValueError(f"layer must be the position of a Linear layer followed by ReLU, one of "
                         f"{hidden}; got {layer!r}")
    nxt = next(j for j in range(layer + 1, len(model)) if isinstance(model[j], nn.Linear))
    units = _unit_indices(units, model[layer].out_features)
    k = units.numel()
    _checks.tensor("mix", mix, shape=(k, k))
    A = torch.eye(k, dtype=mix.dtype) + mix
    cond = float(torch.linalg.cond(A.double()))
    if not cond < 1e10:  # everything is checked before the model is touched
        raise ValueError(f"mix: I + mix must be invertible (condition number below 1e10), got "
                         f"condition number {cond:.1e}; use a smaller mix")
    with torch.no_grad():
        W, b, V = model[layer].weight, model[layer].bias, model[nxt].weight
        new_W = A.to(W.dtype) @ W[units]
        new_b = A.to(b.dtype) @ b[units] if b is not None else None
        new_V = V[:, units] @ torch.linalg.inv(A).to(V.dtype)
        if not all(torch.isfinite(t).all() for t in (new_W, new_V) + ((new_b,) if b is not None else ())):
            raise ValueError("mix: the moved weights would not be finite; use a smaller mix")
        W[units] = new_W
        if b is not None:
            b[units] = new_b
        V[:, units] = new_V
    return model


def _unit_indices(units, width: int) -> torch.Tensor:
    """Distinct integer unit indices in [0, width) as a long tensor (floats are refused)."""
    if isinstance(units, torch.Tensor):
        ok = not (units.is_floating_point() or units.is_complex() or units.dtype == torch.bool)
        values = units.reshape(-1).tolist() if ok else None
    elif isinstance(units, (list, tuple, range)):
        values = list(units)
        ok = all(isinstance(u, int) and not isinstance(u, bool) for u in values)
    else:
        ok, values = False, None
    if not ok:
        raise TypeError(f"units must be a list or integer tensor of unit indices, got {units!r}")
    if not values or len(set(values)) != len(values) or min(values) < 0 or max(values) >= width:
        raise ValueError(f"units must be distinct indices in [0, {width - 1}], got {values!r}")
    return torch.as_tensor(values, dtype=torch.long)


def kink_positions(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Where each unit of a one-input ReLU layer ``relu(w x + b)`` bends: ``x = −b / w``.
    Chapter 9."""
    weight = _checks.nonempty("weight", _checks.tensor("weight", weight, ndim=1))
    bias = _checks.tensor("bias", bias, shape=(weight.numel(),))
    if (weight == 0).any():
        raise ValueError("a unit with w = 0 is constant and has no kink")
    return -bias / weight


def coinciding_kinks(weight: torch.Tensor, bias: torch.Tensor, tol: float = 1e-9
                     ) -> list[tuple[int, int]]:
    """Pairs of units of a one-input ReLU layer whose kinks coincide (within ``tol``) and face
    the same way (same sign of ``w``): their outgoing weights can trade contributions, a flat
    direction beyond the rescale symmetry. Introduced in chapter 9."""
    _checks.positive("tol", tol)
    x = kink_positions(weight, bias)
    pairs = []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if abs(float(x[i] - x[j])) <= tol and bool(torch.sign(weight[i]) == torch.sign(weight[j])):
                pairs.append((i, j))
    return pairs


def kink_slide(weight: torch.Tensor, out: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """The direction in outgoing weights that two coinciding, same-facing units ``i`` and ``j``
    can move along without changing the function: ``δout_i = |w_j|``, ``δout_j = −|w_i|`` (the
    combined slope ``out_i |w_i| + out_j |w_j|`` stays fixed). Chapter 9."""
    weight = _checks.nonempty("weight", _checks.tensor("weight", weight, ndim=1))
    out = _checks.tensor("out", out, shape=(weight.numel(),))
    _checks.integer("i", i, low=0, high=len(weight) - 1)
    _checks.integer("j", j, low=0, high=len(weight) - 1)
    if i == j:
        raise ValueError(f"i and j must be two different unit indices below {len(weight)}")
    direction = torch.zeros_like(out)
    direction[i], direction[j] = weight[j].abs(), -weight[i].abs()
    return direction


def census_during_training(model: nn.Sequential, X: torch.Tensor, labels: torch.Tensor, lr: float,
                           steps: int, *, every: int = 100, batch_size: int = 100,
                           seed: int = 0) -> dict[int, dict[int, tuple[int, int]]]:
    """Train ``model`` with Adam (``lr``, cross-entropy, mini-batches drawn with ``seed``) and
    take a :func:`census` on ``X`` every ``every`` steps: ``{step: {layer: (dead, bypassed)}}``.
    Introduced in chapter 9."""
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("every", every, integer=True)
    _checks.positive("batch_size", batch_size, integer=True)
    _checks.seed("seed", seed)
    _hidden_linears(_checks.module("model", model))
    _checks.nonempty("X", _checks.tensor("X", X, ndim=2))
    _checks.labels("labels", labels, X.shape[0], n_classes=_out_features(model))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    counts = {}
    for k in range(steps + 1):
        if k % every == 0 or k == steps:
            counts[k] = census(model, X).counts()
        if k == steps:
            break
        idx = torch.randint(0, X.shape[0], (batch_size,), generator=generator)
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(X[idx]), labels[idx]).backward()
        optimiser.step()
    return counts


def _out_features(model: nn.Sequential) -> int:
    last = [m for m in model if isinstance(m, nn.Linear)][-1]
    return last.out_features


INITS = ("normal", "uniform")


def init_preactivations(x: torch.Tensor, init: str = "normal", draws: int = 4000,
                        seed: int = 0) -> torch.Tensor:
    """``w · x`` for ``draws`` independent first-layer weight vectors ``w``: i.i.d. normal with
    variance ``1/d`` (``"normal"``), or uniform on ``±1/√d`` like PyTorch's default
    ``nn.Linear`` initialisation (``"uniform"``). Introduced in chapter 9."""
    x = _checks.tensor("x", x, ndim=1).to(torch.float64)
    _checks.choice("init", init, INITS)
    _checks.positive("draws", draws, integer=True)
    _checks.seed("seed", seed)
    _checks.nonempty("x", x)
    d = x.numel()
    generator = torch.Generator().manual_seed(seed)
    if init == "normal":
        w = torch.randn(draws, d, generator=generator, dtype=torch.float64) / d ** 0.5
    else:
        w = (2 * torch.rand(draws, d, generator=generator, dtype=torch.float64) - 1) / d ** 0.5
    return w @ x


def kurtosis(values: torch.Tensor) -> float:
    """``E[(z − μ)⁴] / Var(z)²``: 3 for a normal distribution, 1.8 for a uniform one.
    Chapter 9."""
    values = _checks.tensor("values", values, ndim=1)
    if values.numel() < 2 or bool((values == values[0]).all()):
        raise ValueError(f"values must hold at least two different numbers (kurtosis divides by "
                         f"the variance), got {values.numel()} values")
    centred = values - values.mean()
    return float((centred ** 4).mean() / (centred ** 2).mean() ** 2)


def near_kinks(layer: nn.Linear, interval: tuple[float, float], tol: float = 0.01) -> int:
    """How many pairs of units of a one-input ReLU layer bend within ``tol`` of each other, face
    the same way and bend inside ``interval``. Introduced in chapter 9."""
    if not isinstance(layer, nn.Linear) or layer.in_features != 1:
        raise ValueError("layer must be an nn.Linear with one input")
    if not isinstance(interval, (tuple, list)) or len(interval) != 2:
        raise TypeError(f"interval must be a pair (low, high), got {interval!r}")
    low, high = _checks.finite("interval[0]", interval[0]), _checks.finite("interval[1]", interval[1])
    if low >= high:
        raise ValueError(f"interval must have low < high, got {interval!r}")
    w, b = layer.weight.detach()[:, 0], layer.bias.detach()
    x = kink_positions(w, b)
    return sum(1 for i, j in coinciding_kinks(w, b, tol) if low < float(x[i]) < high)


def fit_1d(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> float:
    """Fit ``model`` to ``(x, y)`` by full-batch Adam on the mean squared error, in place;
    returns the final loss. Introduced in chapter 9."""
    _checks.module("model", model)
    _checks.nonempty("x", _checks.tensor("x", x, ndim=2))
    _checks.tensor("y", y, shape=(x.shape[0], None))
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimiser.step()
    return nn.functional.mse_loss(model(x), y).item()


def census_sweep(make_model, X: torch.Tensor, labels: torch.Tensor, lrs, seeds, steps: int, *,
                 every: int = 100) -> dict[tuple[float, int], dict[int, dict[int, tuple[int, int]]]]:
    """:func:`census_during_training` for every learning rate and seed, each run from
    ``torch.manual_seed(seed)`` then ``make_model()``: ``{(lr, seed): {step: {layer: (dead,
    bypassed)}}}``. Introduced in chapter 9."""
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError("make_model must be a function returning a fresh model")
    seeds = _checks.seeds(seeds)
    lrs = list(lrs) if isinstance(lrs, (list, tuple, range)) else lrs
    if not isinstance(lrs, list) or not lrs:
        raise TypeError(f"lrs must be a non-empty list of learning rates, got {lrs!r}")
    for lr in lrs:
        _checks.positive("lrs entry", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("every", every, integer=True)
    _checks.nonempty("X", _checks.tensor("X", X, ndim=2))
    _checks.tensor("labels", labels, shape=(X.shape[0],), floating=False)
    runs = {}
    for lr in lrs:
        for seed in seeds:
            torch.manual_seed(seed)
            runs[lr, seed] = census_during_training(make_model(), X, labels, lr, steps,
                                                    every=every, seed=seed)
    return runs


def near_kink_share(layer: nn.Linear, interval: tuple[float, float], tol: float = 0.01
                    ) -> tuple[int, int]:
    """``(near, possible)``: pairs of same-facing units of a one-input ReLU layer that bend
    within ``tol`` of each other inside ``interval``, and all same-facing pairs that bend inside
    it. Their ratio can be compared with :func:`chance_near_share`. Introduced in chapter 9."""
    if not isinstance(layer, nn.Linear) or layer.in_features != 1:
        raise ValueError("layer must be an nn.Linear with one input")
    low, high = _interval(interval)
    w, b = layer.weight.detach()[:, 0], layer.bias.detach()
    x = kink_positions(w, b)
    inside = [i for i in range(len(x)) if low < float(x[i]) < high]
    possible = sum(1 for k, i in enumerate(inside) for j in inside[k + 1:]
                   if bool(torch.sign(w[i]) == torch.sign(w[j])))
    return near_kinks(layer, (low, high), tol), possible


def chance_near_share(interval: tuple[float, float], tol: float = 0.01) -> float:
    """The probability that two kinks placed independently and uniformly in ``interval`` lie
    within ``tol`` of each other, ``2t/L − (t/L)²``: what :func:`near_kink_share` would give if
    training placed kinks without regard to each other. Chapter 9."""
    low, high = _interval(interval)
    _checks.positive("tol", tol)
    ratio = min(tol / (high - low), 1.0)
    return 2 * ratio - ratio ** 2


def _interval(interval) -> tuple[float, float]:
    if not isinstance(interval, (tuple, list)) or len(interval) != 2:
        raise ValueError(f"interval must be a pair (low, high), got {interval!r}")
    low = _checks.in_range("interval[0]", interval[0], -float("inf"), float("inf"))
    high = _checks.in_range("interval[1]", interval[1], -float("inf"), float("inf"))
    if not low < high:
        raise ValueError(f"interval must have low < high, got {interval!r}")
    return float(low), float(high)


def hidden_vertex_network(vertex: float) -> nn.Sequential:
    """A one-input network with two ReLU layers (float64) whose second layer bends at
    ``x = vertex`` with two units whose contributions cancel there. For every ``vertex < 1`` it
    computes the same function, ``−3 relu(x − 1)``: the vertex slides freely along the flat piece
    until it reaches the first layer's kink at ``x = 1``; past it the function changes. The
    local freedom of a redundant vertex described in the thread of chapter 9."""
    vertex = _checks.in_range("vertex", vertex, -1e6, 1e6)
    net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(),
                        nn.Linear(2, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, -1.0]))       # h = relu(x), relu(x − 1)
        net[2].weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 3.0]]))
        net[2].bias.fill_(-vertex)                         # both units switch on at z = vertex
        net[4].weight.copy_(torch.tensor([[1.0, -1.0]]))
        net[4].bias.zero_()
    return net
