"""Permutation symmetry of hidden units: group actions, loss barriers, matching and merging.

A ReLU network's hidden units can be reordered without changing the function it computes.
This module trains small MLPs in batch over seeds, walks the straight line between two of them,
measures the loss barrier on that line, and undoes the reordering by *weight matching* or
*activation matching* (Ainsworth et al., 2023) before averaging. Mathematics and engines layer:
imports data and checks only. Introduced in chapter 10.

A network is a tuple ``(W1, b1, W2, b2, ..., WL, bL)`` with ``W`` of shape ``(d_in, d_out)``
(inputs multiply from the left, ``x @ W + b``) and ReLU between layers. Batched networks carry
one more leading dimension (one entry per seed or pair) on every tensor.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from . import _checks
from .data import ClassificationTask
from .stats import mean_interval  # noqa: F401  (part of this module's interface)

Params = tuple  # (W1, b1, ..., WL, bL)


def _params(name: str, params, *, batched: bool | None = None) -> Params:
    """Check that ``params`` is a network: pairs of (weight, bias) whose shapes chain."""
    if not isinstance(params, (tuple, list)) or len(params) < 4 or len(params) % 2:
        raise TypeError(f"{name} must be a tuple (W1, b1, ..., WL, bL) with at least two layers, "
                        f"got {type(params).__name__} of length "
                        f"{len(params) if isinstance(params, (tuple, list)) else '-'}")
    extra = params[0].ndim - 2 if isinstance(params[0], torch.Tensor) else 0
    if extra not in (0, 1) or (batched is not None and extra != int(batched)):
        want = {None: "2 or 3", True: "3", False: "2"}[batched]
        raise ValueError(f"{name}: weights must have {want} dimensions, got "
                         f"{getattr(params[0], 'ndim', '?')}")
    lead = tuple(params[0].shape[:extra])
    previous = None
    for k in range(0, len(params), 2):
        W = _checks.tensor(f"{name}[{k}] (weight)", params[k], ndim=2 + extra)
        b = _checks.tensor(f"{name}[{k + 1}] (bias)", params[k + 1], shape=(*lead, W.shape[-1]))
        if tuple(W.shape[:extra]) != lead or (previous is not None and W.shape[-2] != previous):
            raise ValueError(f"{name}: layer {k // 2 + 1} has weight shape {tuple(W.shape)}, "
                             f"which does not chain with the previous layer ({previous} outputs)")
        if b.dtype != W.dtype:
            raise TypeError(f"{name}: weights and biases must share a dtype, got {W.dtype} and {b.dtype}")
        previous = W.shape[-1]
    return tuple(params)


def hidden_widths(params) -> list[int]:
    """The widths of the hidden layers of a (batched or single) network. Chapter 10."""
    params = _params("params", params)
    return [int(params[k].shape[-1]) for k in range(0, len(params) - 2, 2)]


def forward(params, X: torch.Tensor, *, hidden: bool = False):
    """Logits of a ReLU MLP on inputs ``X`` (N, D): shape (N, C), or (S, N, C) for a batch of S
    networks. With ``hidden=True`` also returns the list of post-ReLU hidden activations.
    Chapter 10."""
    params = _params("params", params)
    X = _checks.tensor("X", X, ndim=2)
    if X.shape[1] != params[0].shape[-2] or X.dtype != params[0].dtype:
        raise ValueError(f"X must have {params[0].shape[-2]} columns and dtype {params[0].dtype}, "
                         f"got shape {tuple(X.shape)} and dtype {X.dtype}")
    h, acts = X, []
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1].unsqueeze(-2)
        if k < len(params) - 2:
            h = torch.relu(h)
            acts.append(h)
    return (h, acts) if hidden else h


def _task(name: str, task) -> ClassificationTask:
    if not isinstance(task, ClassificationTask):
        raise TypeError(f"{name} must be a ClassificationTask, got {type(task).__name__}")
    return task


def loss_and_accuracy(params, task: ClassificationTask) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy of one network (scalars) or a batch (one value per
    network). Chapter 10."""
    task = _task("task", task)
    logits = forward(params, task.X)
    if logits.ndim == 2:
        logits = logits.unsqueeze(0)
    S, N, C = logits.shape
    loss = torch.nn.functional.cross_entropy(logits.reshape(S * N, C), task.labels.repeat(S),
                                             reduction="none").reshape(S, N).mean(1)
    accuracy = (logits.argmax(-1) == task.labels).to(logits.dtype).mean(1)
    if params[0].ndim == 2:
        return loss[0], accuracy[0]
    return loss, accuracy


def _seed_list(value) -> list[int]:
    return _checks.seeds(value)


def init_mlps(sizes, seeds, dtype: torch.dtype = torch.float64) -> Params:
    """A batch of ReLU MLPs with layer sizes ``sizes`` (input, hidden..., output), one per seed,
    initialised as PyTorch's ``nn.Linear`` does (uniform in ±1/√fan_in). Chapter 10."""
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 3:
        raise ValueError(f"sizes must list input, at least one hidden and output size, got {sizes!r}")
    for s in sizes:
        _checks.positive("each size", s, integer=True)
    seeds = _seed_list(seeds)
    per_seed = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        layers = []
        for d_in, d_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(d_in)
            layers += [(2 * torch.rand(d_in, d_out, generator=gen, dtype=dtype) - 1) * bound,
                       (2 * torch.rand(d_out, generator=gen, dtype=dtype) - 1) * bound]
        per_seed.append(layers)
    return tuple(torch.stack([p[k] for p in per_seed]) for k in range(len(per_seed[0])))


def train_mlps(task: ClassificationTask, sizes, seeds, *, steps: int = 400, lr: float = 0.01,
               batch: int | None = 200, data_seed: int = 0) -> Params:
    """Train one ReLU MLP per seed with Adam, all seeds at once (batched matrix products).

    Each seed has its own initialisation; all seeds see the same mini-batches of ``batch``
    points (``None``: full batch) drawn with ``data_seed``. The loss summed over seeds gives each
    network exactly the gradient it would get alone, and Adam acts elementwise, so the batch is
    ``len(seeds)`` independent trainings. Returns the trained batched network. Chapter 10.
    """
    task = _task("task", task)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("lr", lr)
    if batch is not None:
        _checks.positive("batch", batch, integer=True)
    if sizes[0] != task.X.shape[1] or sizes[-1] != task.n_classes:
        raise ValueError(f"sizes must start with {task.X.shape[1]} inputs and end with "
                         f"{task.n_classes} classes, got {sizes!r}")
    params = [p.requires_grad_() for p in init_mlps(sizes, seeds, task.X.dtype)]
    optimiser = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(data_seed)
    N = len(task.labels)
    for _ in range(steps):
        rows = torch.randint(N, (batch,), generator=gen) if batch else slice(None)
        logits = forward(params, task.X[rows])
        S, n, C = logits.shape
        loss = torch.nn.functional.cross_entropy(logits.reshape(S * n, C),
                                                 task.labels[rows].repeat(S)) * S
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return tuple(p.detach() for p in params)


def select(params, index: int) -> Params:
    """Network ``index`` of a batch, as a single network. Chapter 10."""
    params = _params("params", params, batched=True)
    S = params[0].shape[0]
    if isinstance(index, bool) or not isinstance(index, int) or not -S <= index < S:
        raise ValueError(f"index must be an integer in [-{S}, {S}), got {index!r}")
    return tuple(p[index] for p in params)


def stack(networks) -> Params:
    """Stack single networks of equal shapes into a batch. Chapter 10."""
    if not isinstance(networks, (list, tuple)) or not networks:
        raise ValueError("networks must be a non-empty list of networks")
    nets = [_params(f"networks[{i}]", n, batched=False) for i, n in enumerate(networks)]
    return tuple(torch.stack([n[k] for n in nets]) for k in range(len(nets[0])))


def _perms(name: str, perms, widths: list[int]) -> list[torch.Tensor]:
    if not isinstance(perms, (list, tuple)) or len(perms) != len(widths):
        raise ValueError(f"{name} must be a list of {len(widths)} permutations (one per hidden "
                         f"layer), got {perms!r}")
    out = []
    for layer, (p, n) in enumerate(zip(perms, widths)):
        p = torch.as_tensor(p)
        if p.dtype not in (torch.int64, torch.int32) or p.shape != (n,) or \
                not torch.equal(torch.sort(p).values, torch.arange(n, dtype=p.dtype)):
            raise ValueError(f"{name}[{layer}] must be a permutation of range({n}), got {p.tolist()}")
        out.append(p.long())
    return out


def permute(params, perms) -> Params:
    """Reorder the hidden units: unit ``j`` of hidden layer ``l`` becomes old unit
    ``perms[l][j]``. Its incoming weights and bias move with it, and so do the matching rows of
    the next layer's weights, so the network computes the same function. Works on single
    networks. Chapter 10."""
    params = _params("params", params, batched=False)
    perms = _perms("perms", perms, hidden_widths(params))
    out = list(params)
    for layer, p in enumerate(perms):
        k = 2 * layer
        out[k], out[k + 1] = out[k][:, p], out[k + 1][p]
        out[k + 2] = out[k + 2][p, :]
    return tuple(out)


def random_permutations(params, seed: int = 0) -> list[torch.Tensor]:
    """One uniformly random permutation per hidden layer of ``params``. Chapter 10."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    gen = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=gen) for n in hidden_widths(params)]


def n_copies(widths) -> int:
    """How many parameter points compute the same function by reordering hidden units alone:
    the product of the factorials of the hidden widths (an upper bound on the *distinct* copies,
    reached when no two units of a layer are identical). Chapter 10."""
    if not isinstance(widths, (list, tuple)) or not widths:
        raise ValueError(f"widths must be a non-empty list of hidden widths, got {widths!r}")
    total = 1
    for n in widths:
        total *= math.factorial(_checks.positive("each width", n, integer=True))
    return total


def interpolate(params_a, params_b, t: float) -> Params:
    """The point ``(1 − t)·θ_A + t·θ_B`` on the straight line between two networks (single or
    batched, of equal shapes). Chapter 10."""
    params_a, params_b = _params("params_a", params_a), _params("params_b", params_b)
    _checks.in_range("t", t, 0.0, 1.0)
    if [p.shape for p in params_a] != [p.shape for p in params_b]:
        raise ValueError("params_a and params_b must have the same shapes")
    return tuple((1 - t) * a + t * b for a, b in zip(params_a, params_b))


def loss_path(params_a, params_b, task: ClassificationTask, n_points: int = 21):
    """Loss and accuracy at ``n_points`` equally spaced points of the straight line from A to B.

    Returns ``(t, loss, accuracy)`` with ``loss`` and ``accuracy`` of shape ``(n_points,)`` for
    single networks or ``(n_points, S)`` for batches. Chapter 10."""
    _checks.positive("n_points", n_points, integer=True)
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    t = torch.linspace(0.0, 1.0, n_points, dtype=torch.float64)
    rows = [loss_and_accuracy(interpolate(params_a, params_b, float(s)), task) for s in t]
    return t, torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])


def barrier(t: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """The loss barrier of a path (Entezari et al., 2022; Ainsworth et al., 2023): the largest
    excess of the loss over the straight line joining its two ends,
    ``max_t [L(t) − ((1 − t) L(0) + t L(1))]``. ``values`` has shape ``(T,)`` or ``(T, S)`` (one
    barrier per column); ``t`` runs from 0 to 1. Chapter 10."""
    t = _checks.tensor("t", t, ndim=1)
    values = _checks.tensor("values", values)
    if values.ndim not in (1, 2) or values.shape[0] != t.shape[0] or len(t) < 2:
        raise ValueError(f"values must have shape ({len(t)},) or ({len(t)}, S) to match t, "
                         f"got {tuple(values.shape)}")
    if t[0] != 0 or t[-1] != 1 or not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t must increase from 0 to 1")
    tt = t.to(values.dtype).reshape(-1, *([1] * (values.ndim - 1)))
    line = (1 - tt) * values[0] + tt * values[-1]
    return (values - line).max(dim=0).values


def weight_matching(params_a, params_b, *, max_iter: int = 100, seed: int = 0):
    """Permutations of B's hidden units that bring its weights closest to A's.

    Ainsworth et al. (2023, "weight matching"): maximise ``Σ_l ⟨W_l^A, P_l W_l^B P_{l−1}ᵀ⟩``
    (biases included) by coordinate ascent, solving one layer's linear assignment problem at a
    time with the others fixed, in a random order, until a full sweep changes nothing. Returns
    ``(perms, sweeps)``; apply with :func:`permute` to B. Single networks. Chapter 10.
    """
    from scipy.optimize import linear_sum_assignment

    params_a = _params("params_a", params_a, batched=False)
    params_b = _params("params_b", params_b, batched=False)
    if [p.shape for p in params_a] != [p.shape for p in params_b]:
        raise ValueError("params_a and params_b must have the same shapes")
    _checks.positive("max_iter", max_iter, integer=True)
    widths = hidden_widths(params_a)
    perms = [torch.arange(n) for n in widths]
    gen = torch.Generator().manual_seed(seed)
    for sweep in range(1, max_iter + 1):
        changed = False
        for layer in torch.randperm(len(widths), generator=gen).tolist():
            k = 2 * layer
            w_in = params_b[k] if layer == 0 else params_b[k][perms[layer - 1], :]
            w_out = params_b[k + 2] if layer == len(widths) - 1 else params_b[k + 2][:, perms[layer + 1]]
            score = (params_a[k].T @ w_in + torch.outer(params_a[k + 1], params_b[k + 1])
                     + params_a[k + 2] @ w_out.T)
            _, cols = linear_sum_assignment(score.numpy(), maximize=True)
            new = torch.as_tensor(cols, dtype=torch.long)
            changed |= not torch.equal(new, perms[layer])
            perms[layer] = new
        if not changed:
            return perms, sweep
    return perms, max_iter


def activation_matching(params_a, params_b, X: torch.Tensor) -> list[torch.Tensor]:
    """Permutations of B's hidden units that bring its activations on ``X`` closest to A's
    (least squares, layer by layer: Ainsworth et al., 2023, "activation matching"). A unit's
    activations do not depend on how earlier layers are ordered, so each layer is one linear
    assignment problem. Single networks. Chapter 10."""
    from scipy.optimize import linear_sum_assignment

    _, acts_a = forward(_params("params_a", params_a, batched=False), X, hidden=True)
    _, acts_b = forward(_params("params_b", params_b, batched=False), X, hidden=True)
    perms = []
    for a, b in zip(acts_a, acts_b):
        if a.shape != b.shape:
            raise ValueError("params_a and params_b must have the same hidden widths")
        _, cols = linear_sum_assignment((a.T @ b).numpy(), maximize=True)
        perms.append(torch.as_tensor(cols, dtype=torch.long))
    return perms


METHODS = ("none", "weights", "activations")


def align(params_a, params_b, method: str, X: torch.Tensor | None = None) -> Params:
    """B with its hidden units reordered to match A by ``method`` (``"none"``, ``"weights"`` or
    ``"activations"``, which needs inputs ``X``). Single networks. Chapter 10."""
    _checks.choice("method", method, METHODS)
    if method == "none":
        return _params("params_b", params_b, batched=False)
    if method == "weights":
        return permute(params_b, weight_matching(params_a, params_b)[0])
    if X is None:
        raise ValueError("activation matching needs the inputs X")
    return permute(params_b, activation_matching(params_a, params_b, X))


@dataclass(frozen=True)
class BarrierStudy:
    """What :func:`barrier_study` measured at one width: per alignment method (``"none"``,
    ``"weights"``, ``"activations"``) the training-loss barrier of each pair, the training loss
    and test accuracy along each pair's line (``t`` by pair), and the test accuracy of each
    pair's average; the trained batch ``networks`` and the time taken. Chapter 10."""

    width: int
    t: torch.Tensor
    barriers: dict
    loss_paths: dict
    accuracy_paths: dict
    merged_accuracy: dict
    networks: tuple
    seconds: float

    def summary(self) -> dict:
        """Mean barrier and 95% interval over pairs, per method."""
        return {m: mean_interval(b) for m, b in self.barriers.items()}


def barrier_study(train: ClassificationTask, test: ClassificationTask, width: int, pairs: int, *,
                  depth: int = 2, steps: int = 600, lr: float = 0.01, batch: int = 200,
                  n_points: int = 21, first_seed: int = 0) -> BarrierStudy:
    """Train ``2·pairs`` MLPs of ``depth`` hidden layers of ``width`` units (seeds
    ``first_seed, first_seed + 1, ...``; pair ``k`` is seeds ``2k`` and ``2k + 1``, independent
    of every other pair), and measure the training-loss barrier between each pair as trained,
    after weight matching and after activation matching, with the test accuracy along each line
    (its middle is the merged network). Chapter 10."""
    _checks.positive("width", width, integer=True)
    _checks.positive("pairs", pairs, integer=True)
    _checks.positive("depth", depth, integer=True)
    if isinstance(first_seed, bool) or not isinstance(first_seed, int) or first_seed < 0:
        raise ValueError(f"first_seed must be a non-negative integer, got {first_seed!r}")
    _task("train", train), _task("test", test)
    start = time.perf_counter()
    sizes = [train.X.shape[1]] + [width] * depth + [train.n_classes]
    nets = train_mlps(train, sizes, range(first_seed, first_seed + 2 * pairs), steps=steps, lr=lr,
                      batch=batch)
    A = stack([select(nets, 2 * k) for k in range(pairs)])
    out = {"barriers": {}, "loss_paths": {}, "accuracy_paths": {}, "merged_accuracy": {}}
    for method in METHODS:
        B = stack([align(select(A, k), select(nets, 2 * k + 1), method, train.X)
                   for k in range(pairs)])
        t, loss, _ = loss_path(A, B, train, n_points)
        accuracy = loss_path(A, B, test, n_points)[2]
        out["barriers"][method] = barrier(t, loss)
        out["loss_paths"][method], out["accuracy_paths"][method] = loss, accuracy
        out["merged_accuracy"][method] = loss_and_accuracy(interpolate(A, B, 0.5), test)[1]
    return BarrierStudy(width=width, t=t, networks=nets, seconds=time.perf_counter() - start, **out)


#: The width study of chapter 10, as run by ``benchmarks/permutation_widths.py``.
WIDTH_STUDY = {"widths": [8, 16, 32, 64, 128, 256], "pairs": 6, "depth": 2, "steps": 600,
               "lr": 0.01, "batch": 200, "n_points": 21}
STORED_WIDTHS = "stored/permutation_widths.json"


def study_record(study: BarrierStudy) -> dict:
    """The numbers of a :class:`BarrierStudy` as plain lists (what the width study stores).
    Chapter 10."""
    if not isinstance(study, BarrierStudy):
        raise TypeError(f"study must be a BarrierStudy, got {type(study).__name__}")
    return {"width": study.width,
            "barriers": {m: b.tolist() for m, b in study.barriers.items()},
            "merged_accuracy": {m: a.tolist() for m, a in study.merged_accuracy.items()},
            "end_accuracy": study.accuracy_paths["none"][[0, -1]].T.reshape(-1).tolist(),
            "seconds": round(study.seconds, 1)}


def stored_width_study() -> dict:
    """The stored width study (settings and one :func:`study_record` per width), read from the
    package. Chapter 10."""
    import json
    from importlib.resources import files

    return json.loads(files("symcourse").joinpath(STORED_WIDTHS).read_text())


def width_trend(widths, barriers, confidence: float = 0.95) -> dict:
    """Least-squares slope of log barrier against log width over every pair of every width,
    with its Student-t interval: a negative slope whose interval excludes zero means the barrier
    shrinks with width (as a power law, ``barrier ∝ width^slope``). Barriers below 1e-8 count as
    1e-8. Chapter 10."""
    from scipy.stats import linregress
    from scipy.stats import t as student

    if not isinstance(widths, (list, tuple)) or not isinstance(barriers, (list, tuple)) or \
            len(widths) != len(barriers) or len(widths) < 2:
        raise ValueError("widths and barriers must be lists of equal length >= 2 (one list of "
                         "barriers per width)")
    _checks.in_range("confidence", confidence, 0.0, 1.0, high_open=True)
    x, y = [], []
    for w, values in zip(widths, barriers):
        _checks.positive("each width", w, integer=True)
        values = _checks.tensor("barriers", torch.as_tensor(values, dtype=torch.float64), ndim=1)
        x += [math.log(w)] * len(values)
        y += torch.log(values.clamp(min=1e-8)).tolist()
    fit = linregress(x, y)
    slope = float(fit.slope)
    half = float(student.ppf(0.5 + confidence / 2, len(x) - 2) * fit.stderr)
    return {"slope": slope, "low": slope - half, "high": slope + half, "n": len(x)}


def distance(params_a, params_b) -> float:
    """Euclidean distance between two networks' parameter vectors. Chapter 10."""
    params_a, params_b = _params("params_a", params_a), _params("params_b", params_b)
    if [p.shape for p in params_a] != [p.shape for p in params_b]:
        raise ValueError("params_a and params_b must have the same shapes")
    return math.sqrt(sum((a - b).pow(2).sum().item() for a, b in zip(params_a, params_b)))


def closest_units(params) -> list[float]:
    """For each hidden layer, the smallest distance between two of its units' parameters
    (incoming weights, bias and outgoing weights together). All positive means every
    permutation of the layer gives a different parameter point. Single networks. Chapter 10."""
    params = _params("params", params, batched=False)
    gaps = []
    for layer in range(len(params) // 2 - 1):
        k = 2 * layer
        units = torch.cat([params[k].T, params[k + 1][:, None], params[k + 2]], dim=1)
        d = torch.cdist(units, units)
        gaps.append(d[~torch.eye(len(units), dtype=torch.bool)].min().item())
    return gaps
