"""Very deep plain ReLU networks and the rescale moves that might make them trainable: balancing
parameter norms, balancing gradient norms (the claim quoted in chapter 8), or a normalisation
layer instead. One training loop for all of them, measured in steps and seconds to a target loss.

Engines layer: imports torch, ``_checks`` and ``data``. Introduced in chapter 8.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .data import ClassificationTask

METHODS = ("none", "balance norms", "balance gradients", "layer norm")


def plain_mlp(depth: int, width: int = 32, in_dim: int = 40, classes: int = 10, *,
              layer_norm: bool = False, seed: int = 0) -> nn.Sequential:
    """A ReLU MLP with ``depth`` Linear layers (``depth − 1`` hidden layers of ``width``), no
    residual connections, He-normal weights and zero biases, in float32; with ``layer_norm``
    each hidden Linear is followed by a LayerNorm without affine parameters. Chapter 8."""
    _checks.positive("depth", depth, integer=True)
    _checks.positive("width", width, integer=True)
    if depth < 2:
        raise ValueError(f"depth must be at least 2 (one hidden layer), got {depth}")
    torch.manual_seed(seed)
    sizes = [in_dim] + [width] * (depth - 1) + [classes]
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.normal_(linear.weight, std=math.sqrt(2.0 / fan_in))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if k < depth - 1:
            if layer_norm:
                layers.append(nn.LayerNorm(fan_out, elementwise_affine=False))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _linears(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


@torch.no_grad()
def rebalance(model: nn.Sequential, what: str = "norms", sweeps: int = 4) -> float:
    """Move ``model`` along its rescale orbit, in place, so that every hidden neuron's incoming
    and outgoing squared norms agree: of the parameters (``"norms"``, the balanced point of
    chapter 8) or of the current gradients (``"gradients"``, which minimises the total gradient
    norm on the orbit; the gradients stored in ``.grad`` are moved with the parameters by the
    orbit law ∇L ↦ ∇L ⊙ e^{−S t}). Neurons of one layer share no parameter, so each sweep
    solves every layer exactly in turn. Returns the largest remaining relative imbalance.
    Chapter 8."""
    _checks.choice("what", what, ("norms", "gradients"))
    _checks.positive("sweeps", sweeps, integer=True)
    linears = _linears(model)
    if any(not isinstance(m, (nn.Linear, nn.ReLU)) for m in model):
        raise ValueError("rebalance needs a plain Linear/ReLU network (no normalisation layers)")
    if what == "gradients" and any(p.grad is None for p in model.parameters()):
        raise ValueError("rebalance('gradients') needs gradients: call backward() first")
    for _ in range(sweeps):
        for inc, out in zip(linears[:-1], linears[1:]):
            scale = (_side(out, what, out_going=True) / _side(inc, what)).pow(0.25)
            if what == "gradients":
                scale = 1.0 / scale   # gradients move inversely to parameters
            _apply(inc, out, scale.clamp(1e-6, 1e6))
    return max(_imbalance(i, o, what) for i, o in zip(linears[:-1], linears[1:]))


def _side(layer, what, out_going=False):
    w = layer.weight.grad if what == "gradients" else layer.weight
    if out_going:
        return w.pow(2).sum(dim=0).clamp_min(1e-30)
    b = layer.bias.grad if what == "gradients" else layer.bias
    return (w.pow(2).sum(dim=1) + b.pow(2)).clamp_min(1e-30)


def _apply(inc, out, scale):
    inc.weight.mul_(scale[:, None])
    inc.bias.mul_(scale)
    out.weight.div_(scale[None, :])
    if inc.weight.grad is not None:
        inc.weight.grad.div_(scale[:, None])
        inc.bias.grad.div_(scale)
        out.weight.grad.mul_(scale[None, :])


def _imbalance(inc, out, what):
    a, b = _side(inc, what), _side(out, what, out_going=True)
    return float(((a - b).abs() / (a + b)).max())


@dataclass(frozen=True)
class DepthRun:
    """One training run: the step at which the full-data loss first fell below the target
    (``None`` if never), whether it diverged, the seconds it took, and the loss record."""

    steps_to_target: int | None
    diverged: bool
    seconds: float
    losses: list[float]


def train_deep(task: ClassificationTask, depth: int, method: str, lr: float, *, seed: int = 0,
               steps: int = 400, target: float = 1.5, every: int = 10, batch_size: int = 100,
               width: int = 32) -> DepthRun:
    """Train a :func:`plain_mlp` of ``depth`` on ``task`` by plain SGD (``lr``, mini-batches
    from ``seed``), with ``method`` one of :data:`METHODS`; the rebalancing methods move the
    network every ``every`` steps (the gradient method on the full-data gradient). Stops at the
    target loss (checked on the full data every ``every`` steps) or at a non-finite loss.
    Introduced in chapter 8."""
    _checks.choice("method", method, METHODS)
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("target", target)
    _checks.positive("every", every, integer=True)
    _checks.positive("batch_size", batch_size, integer=True)
    X, labels = task.X.float(), task.labels
    model = plain_mlp(depth, width, X.shape[1], task.n_classes,
                      layer_norm=method == "layer norm", seed=seed)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.functional.cross_entropy
    losses, start = [], time.perf_counter()
    for step in range(steps + 1):
        if step % every == 0:
            model.zero_grad()
            full = loss_fn(model(X), labels)
            losses.append(full.item())
            if not math.isfinite(losses[-1]):
                return DepthRun(None, True, time.perf_counter() - start, losses)
            if losses[-1] < target:
                return DepthRun(step, False, time.perf_counter() - start, losses)
            if step == steps:
                break
            if method == "balance gradients":
                full.backward()
                rebalance(model, "gradients")
            elif method == "balance norms":
                rebalance(model, "norms")
        idx = torch.randint(0, X.shape[0], (batch_size,), generator=generator)
        model.zero_grad()
        loss_fn(model(X[idx]), labels[idx]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return DepthRun(None, False, time.perf_counter() - start, losses)


def cost(run: DepthRun, budget: int) -> float:
    """Steps to the target, with a run that never reached it (or diverged) counted as twice
    the budget, so that medians rank runs sensibly. Chapter 8."""
    return float(run.steps_to_target) if run.steps_to_target is not None else 2.0 * budget


def summarise(results: dict) -> list[dict]:
    """One row per (depth, method) of a stored depth study (``benchmarks/depth_study.py``):
    the tuned learning rate, how many seeds reached the target and diverged, and the median
    and quartiles of steps and seconds to the target over the seeds that reached it. Chapter 8."""
    if not isinstance(results, dict) or "cells" not in results:
        raise ValueError("results must be the dict stored by benchmarks/depth_study.py")
    rows = []
    for cell in results["cells"]:
        hit = [r for r in cell["runs"] if r["steps"] is not None]
        steps = sorted(r["steps"] for r in hit)
        seconds = sorted(r["seconds"] for r in hit)
        rows.append({"depth": cell["depth"], "method": cell["method"], "lr": cell["lr"],
                     "reached": len(hit), "runs": len(cell["runs"]),
                     "diverged": sum(r["diverged"] for r in cell["runs"]),
                     "steps": _quartiles(steps), "seconds": _quartiles(seconds)})
    return rows


def _quartiles(values):
    if not values:
        return None
    q = torch.quantile(torch.tensor(values, dtype=torch.float64),
                       torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    return tuple(float(v) for v in q)


def format_depth_table(rows: list[dict]) -> str:
    """The rows of :func:`summarise` as a fixed-width text table. Chapter 8."""
    lines = [f"{'depth':>5} {'method':>17} {'lr':>5} {'reached':>8} {'diverged':>8} "
             f"{'steps: median [IQR]':>22} {'seconds: median':>16}"]
    for r in rows:
        steps = ("—" if r["steps"] is None else
                 f"{r['steps'][1]:.0f} [{r['steps'][0]:.0f}, {r['steps'][2]:.0f}]")
        secs = "—" if r["seconds"] is None else f"{r['seconds'][1]:.2f}"
        lines.append(f"{r['depth']:>5} {r['method']:>17} {r['lr']:>5} "
                     f"{r['reached']:>4}/{r['runs']:<3} {r['diverged']:>8} {steps:>22} "
                     f"{secs:>16}")
    return "\n".join(lines)


def reached_flags(results: dict, depth: int, method: str) -> torch.Tensor:
    """One flag per reported seed of a stored depth study: did ``method`` at ``depth`` reach the
    target? In seed order, so two methods can be compared seed by seed. Chapter 8."""
    _checks.choice("method", method, METHODS)
    cells = [c for c in results.get("cells", []) if c["depth"] == depth and c["method"] == method]
    if len(cells) != 1:
        raise ValueError(f"the study has no single cell for depth {depth!r} and {method!r}")
    return torch.tensor([r["steps"] is not None for r in cells[0]["runs"]])


def stored_study() -> dict:
    """The depth study that ``benchmarks/depth_study.py`` ran and stored with the package
    (``symcourse/stored/depth_study.json``). Chapter 8."""
    from importlib import resources

    return json.loads(resources.files("symcourse").joinpath("stored", "depth_study.json")
                      .read_text(encoding="utf-8"))
