"""Train a model with ``torch.optim.SGD`` and record, at every step, what the theory of broken
conservation laws needs: each symmetry group's quantity, the squared norms of its gradient and of
its update, and the symmetry constraint on the batch gradient.

Engines layer: imports torch, :mod:`symcourse.symmetry` (for the groups) and the bottom modules.
Introduced in chapter 6.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from . import _checks
from .data import ClassificationTask
from .symmetry import KINDS, Symmetry, find_groups


@dataclass
class KindRecord:
    """The record of one kind of symmetry; every tensor has one column per group.

    * ``value[k]``: the group's quantity at the parameters before step ``k`` (``K + 1`` rows, the last
      after the final step). Translation: the sum ``<s, θ>``; scale and rescale: ``<s, θ²>`` (a
      squared norm, or the difference of the incoming and outgoing squared norms).
    * ``grad_sq[k]``: ``<s, g_k²>`` with ``g_k`` the batch gradient of step ``k`` (without decay).
    * ``step_sq[k]``: ``<s, d_k²>`` with ``d_k`` the step direction: the update is ``θ ← θ − η d_k``
      (``d_k = g_k + λθ_k`` without momentum; the momentum buffer with it).
    * ``constraint[k]``: ``<ξ, g_k>``, the derivative of the batch loss along the group's generator
      ``ξ``; the symmetry makes it zero up to rounding.
    """

    groups: list[Symmetry]
    value: torch.Tensor
    grad_sq: torch.Tensor
    step_sq: torch.Tensor
    constraint: torch.Tensor

    def total_change(self) -> torch.Tensor:
        """Each group's change of quantity over the whole run, ``value[-1] − value[0]``."""
        return self.value[-1] - self.value[0]


@dataclass
class Recording:
    """What :func:`train_recorded` returns: one :class:`KindRecord` per kind the model has, the
    batch losses and the settings. ``times[k] = k·lr`` is step ``k`` in gradient-flow time."""

    kinds: dict[str, KindRecord]
    loss: torch.Tensor
    config: dict = field(default_factory=dict)

    @property
    def times(self) -> torch.Tensor:
        steps = self.config["steps"]
        return torch.arange(steps + 1, dtype=torch.float64) * self.config["lr"]

    def __getitem__(self, kind: str) -> KindRecord:
        _checks.choice("symmetry kind", kind, tuple(self.kinds))
        return self.kinds[kind]


class _GroupSums:
    """Signed sums over every group of every kind in one gather and one ``index_add_``:
    ``sums(M)[g] = Σ_i s_i M[i]`` over group ``g``'s parameters (flattened in parameter order).
    ``slices[kind]`` says which rows of the result belong to which kind. The groups of one kind
    must be disjoint (those of :func:`symcourse.symmetry.find_groups` are)."""

    def __init__(self, groups: dict[str, list[Symmetry]], model: nn.Module):
        params, signs, rows, self.slices = [], [], [], {}
        total = sum(p.numel() for p in model.parameters())
        for kind, members in groups.items():
            start = sum(len(m) for m in self.slices.values())
            taken = torch.zeros(total, dtype=torch.bool)
            for g, sym in enumerate(members):
                s = sym.flat_signs(model)
                where = torch.nonzero(s).reshape(-1)
                if taken[where].any():
                    raise ValueError(f"group {sym.label!r} overlaps an earlier {kind} group; the "
                                     f"groups of one kind must act on disjoint parameters")
                taken[where] = True
                params.append(where)
                signs.append(s[where])
                rows.append(torch.full_like(where, start + g))
            self.slices[kind] = range(start, start + len(members))
        self.param, self.sign = torch.cat(params), torch.cat(signs)[:, None]
        self.row, self.n_rows = torch.cat(rows), sum(len(m) for m in self.slices.values())

    def __call__(self, per_parameter: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.n_rows, per_parameter.shape[1], dtype=torch.float64)
        return out.index_add_(0, self.row, per_parameter[self.param] * self.sign)


def _batches(n: int, batch_size: int | None, steps: int, generator: torch.Generator):
    """Index tensors for ``steps`` batches: shuffled epochs without replacement, last partial
    batch of each epoch dropped; the whole data set every step when ``batch_size`` is None."""
    if batch_size is None:
        everything = torch.arange(n)
        return [everything] * steps
    per_epoch = n // batch_size
    out = []
    while len(out) < steps:
        order = torch.randperm(n, generator=generator)
        out += [order[i * batch_size:(i + 1) * batch_size] for i in range(per_epoch)]
    return out[:steps]


def train_recorded(model: nn.Module, task: ClassificationTask, lr: float, steps: int, *,
                   weight_decay: float = 0.0, momentum: float = 0.0,
                   batch_size: int | None = 100, seed: int = 0,
                   groups: dict[str, list[Symmetry]] | None = None) -> Recording:
    """Train ``model`` (in place, float64) on ``task`` with cross-entropy and ``torch.optim.SGD``
    (``lr``, ``weight_decay``, ``momentum``; no dampening, no Nesterov) for ``steps`` mini-batch
    steps, recording every group's quantities (see :class:`KindRecord`).

    ``groups`` defaults to :func:`symcourse.symmetry.find_groups` of the model. ``batch_size=None``
    means full-batch gradient descent. Batches are drawn by shuffling with ``seed``. Introduced in
    chapter 6.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, ClassificationTask):
        raise TypeError(f"task must be a ClassificationTask, got {type(task).__name__}")
    _checks.module("model", model)
    _checks.classification_task("task", task)
    _checks.seed("seed", seed)
    params = dict(model.named_parameters())
    if any(p.dtype != torch.float64 for p in params.values()) or task.X.dtype != torch.float64:
        raise TypeError("train_recorded needs a float64 model and task (the exact recursions are "
                        "checked to 1e-10): call model.double() and build the task with "
                        "dtype=torch.float64")
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    _checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    n = task.X.shape[0]
    if batch_size is not None:
        _checks.positive("batch_size", batch_size, integer=True)
        if batch_size > n:
            raise ValueError(f"batch_size must be at most the {n} training points, got {batch_size}")
    groups = find_groups(model) if groups is None else groups
    if not isinstance(groups, dict) or not set(groups) <= set(KINDS):
        raise ValueError(f"groups must be a dict from kinds in {KINDS} to lists of Symmetry")

    groups = {kind: found for kind, found in groups.items() if found}
    sums = _GroupSums(groups, model)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                weight_decay=weight_decay)
    batches = _batches(n, batch_size, steps, torch.Generator().manual_seed(seed))
    rows, losses = [], []  # rows: per step, (all groups, 6) signed sums of _COLUMNS
    model.train()
    for idx in batches:
        theta = _flat(p.detach() for p in params.values())
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(task.X[idx]), task.labels[idx])
        loss.backward()
        losses.append(loss.item())
        grad = _flat(p.grad for p in params.values())
        optimiser.step()
        if momentum:
            direction = _flat(optimiser.state[p]["momentum_buffer"] for p in params.values())
        else:
            direction = grad + weight_decay * theta
        rows.append(sums(torch.stack([theta, theta ** 2, grad ** 2, direction ** 2,
                                      grad, theta * grad], dim=1)))
    theta = _flat(p.detach() for p in params.values())
    zero = torch.zeros_like(theta)  # the final parameters have no step: only the quantities
    table = torch.stack(rows + [sums(torch.stack([theta, theta ** 2] + [zero] * 4, dim=1))])
    kinds = {}
    for kind, where in sums.slices.items():
        part = table[:, where.start:where.stop]
        translation = kind == "translation"
        kinds[kind] = KindRecord(groups=groups[kind], value=part[:, :, 0 if translation else 1],
                                 grad_sq=part[:-1, :, 2], step_sq=part[:-1, :, 3],
                                 constraint=part[:-1, :, 4 if translation else 5])
    config = dict(lr=lr, steps=steps, weight_decay=weight_decay, momentum=momentum,
                  batch_size=batch_size, seed=seed, n_points=n)
    return Recording(kinds=kinds, loss=torch.tensor(losses, dtype=torch.float64), config=config)


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def fixed_time_runs(make_model, task: ClassificationTask, lrs, duration: float,
                    **train_kwargs) -> dict[float, Recording]:
    """One :func:`train_recorded` run per learning rate, each lasting the same gradient-flow time
    ``duration`` (``round(duration / lr)`` steps) from a fresh ``make_model()``; other keyword
    arguments go to :func:`train_recorded`. Introduced in chapter 6."""
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError(f"make_model must be a function returning a fresh model (every rate "
                        f"starts from the same initialisation), got {type(make_model).__name__}")
    _checks.positive("duration", duration)
    _checks.classification_task("task", task)
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__iter__"):
        raise TypeError(f"lrs must be a list of learning rates, got {lrs!r}")
    lrs = [_checks.positive("lrs entry", lr) for lr in lrs]
    if not lrs:
        raise ValueError("lrs must not be empty")
    return {lr: train_recorded(make_model(), task, lr, max(1, round(duration / lr)),
                               **train_kwargs) for lr in lrs}


@contextmanager
def watch_parameters(model: nn.Module, name: str, count: int = 6):
    """Record the first ``count`` entries of ``model``'s parameter ``name`` now and after every
    optimiser step taken inside the ``with`` block (any ``torch.optim`` optimiser, e.g. the one
    :func:`train_recorded` builds). Yields a list of 1-D tensors; ``torch.stack`` it afterwards.
    Introduced in chapter 6 (noisy parameters, smooth quantities)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params = dict(model.named_parameters())
    _checks.choice("parameter name", name, tuple(params))
    _checks.positive("count", count, integer=True)
    param = params[name]
    if count > param.numel():
        raise ValueError(f"count must be at most the {param.numel()} entries of {name!r}, "
                         f"got {count}")
    trace = [param.detach().reshape(-1)[:count].clone()]

    def record(optimiser, args, kwargs):
        trace.append(param.detach().reshape(-1)[:count].clone())

    handle = register_optimizer_step_post_hook(record)
    try:
        yield trace
    finally:
        handle.remove()
