"""Figures for the course, in one style: labelled axes, colour-blind-safe colours (Okabe & Ito).

Presentation layer: imports computation, never the other way round.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import _checks
from .data import MaxAffineTask
from .stall import STALL_THRESHOLD, winners

#: Okabe-Ito palette, safe for the common forms of colour blindness.
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#D55E00",
           "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
UNIT_COLOURS = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["sky"]]
STALLED, SOLVED = PALETTE["red"], PALETTE["blue"]

STYLE = {
    # 144 dpi: sharp on high-density screens; 7 in wide fits the book's 1280 px column
    "figure.dpi": 144, "savefig.dpi": 144, "figure.figsize": (7.0, 3.2),
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.4,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE.values())), "image.cmap": "cividis",
    "svg.hashsalt": "symcourse",
}


def use_style() -> None:
    """Apply the course's figure style (called by :func:`symcourse.setup`). Chapter 1."""
    mpl.rcParams.update(STYLE)


def _axes(ax, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize or (4.2, 3.2), layout="constrained")
    return ax


def loss_curves(steps: torch.Tensor, loss: torch.Tensor, stalled: torch.Tensor | None = None, *, ax=None,
                max_curves: int = 40, ylabel: str = "training MSE", title: str | None = None):
    """Loss against step for several seeds on a log scale; stalled runs red, solved blue. Chapter 1."""
    _checks.tensor("loss", loss, ndim=2)
    _checks.positive("max_curves", max_curves, integer=True)
    if steps.shape != (loss.shape[0],):
        raise ValueError(f"steps must have shape ({loss.shape[0]},) to match loss, got {tuple(steps.shape)}")
    if stalled is not None and stalled.shape != (loss.shape[1],):
        raise ValueError(f"stalled must have shape ({loss.shape[1]},) to match loss, got {tuple(stalled.shape)}")
    ax = _axes(ax)
    floor = torch.finfo(loss.dtype).tiny
    shown = range(min(max_curves, loss.shape[1]))
    for s in shown:
        colour = UNIT_COLOURS[0] if stalled is None else (STALLED if stalled[s] else SOLVED)
        ax.semilogy(steps.numpy(), loss[:, s].clamp(min=floor).numpy(), color=colour, alpha=0.5, lw=1.0)
    if stalled is not None:
        ax.plot([], [], color=STALLED, label="stalled")
        ax.plot([], [], color=SOLVED, label="solved")
        ax.legend(loc="upper right")
    ax.set(xlabel="optimisation step", ylabel=ylabel, title=title)
    return ax


def win_regions(theta: torch.Tensor, task: MaxAffineTask, *, ax=None, title: str | None = None,
                resolution: int = 120, show_points: int = 300, bias: bool = True):
    """Which unit wins where on the unit square, with the target's own kink dashed. Chapter 1.

    ``theta`` is one network, (K, 3) with biases or (K, 2) with ``bias=False``. Data points are
    drawn in their winner's colour.
    """
    _checks.tensor("theta", theta, ndim=2)
    _checks.max_affine_task("task", task)
    _checks.flag("bias", bias)
    _checks.integer("resolution", resolution, low=2)
    _checks.integer("show_points", show_points, low=0)
    if task.in_dim != 2:
        raise ValueError(f"win_regions draws 2-D inputs only; this task has {task.in_dim}")
    ax = _axes(ax, (3.3, 3.2))
    g = torch.linspace(0, 1, resolution, dtype=theta.dtype)
    grid = torch.cartesian_prod(g, g)[:, [1, 0]]
    regions = winners(theta, grid, bias=bias).reshape(resolution, resolution).numpy()
    K = theta.shape[0]
    cmap = mpl.colors.ListedColormap(UNIT_COLOURS[:K])
    ax.imshow(regions, origin="lower", extent=(0, 1, 0, 1), cmap=cmap, vmin=-0.5, vmax=K - 0.5, alpha=0.25,
              interpolation="nearest", aspect="equal")
    X = task.X[:show_points].to(theta.dtype)
    who = winners(theta, X, bias=bias).numpy()
    for k in range(K):
        pts = X[who == k].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=6, color=UNIT_COLOURS[k], label=f"unit {k} wins ({(who == k).mean():.0%})")
    true_regions = task.target_piece(grid).reshape(resolution, resolution).numpy()
    ax.contour(g.numpy(), g.numpy(), true_regions, levels=np.arange(task.weights.shape[0] - 1) + 0.5,
               colors="k", linestyles="--", linewidths=1.0)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="input x", ylabel="input y", title=title)
    ax.grid(False)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return ax


def final_loss_histogram(final_loss: torch.Tensor, threshold: float = STALL_THRESHOLD, *, ax=None,
                         title: str | None = None):
    """Histogram of final losses (log bins) with the stall threshold marked. Chapter 1."""
    _checks.nonempty("final_loss", _checks.tensor("final_loss", final_loss, ndim=1))
    _checks.positive("threshold", threshold)
    ax = _axes(ax)
    values = final_loss.clamp(min=1e-16).double().log10().numpy()
    bins = np.linspace(min(-16.0, values.min()), max(0.0, values.max()), 33)
    stalled = values > np.log10(threshold)
    ax.hist([values[~stalled], values[stalled]], bins=bins, stacked=True, color=[SOLVED, STALLED],
            label=[f"solved ({(~stalled).sum()})", f"stalled ({stalled.sum()})"])
    ax.axvline(np.log10(threshold), color="k", ls=":", lw=1, label="threshold")
    ax.set(xlabel="log10 final training MSE", ylabel="number of seeds", title=title)
    ax.legend(loc="upper left")
    return ax


def gradient_bars(summed_norm: torch.Tensor, per_point_norm: torch.Tensor, *, ax=None, title: str | None = None):
    """For one network: per unit, the full-batch gradient norm next to the typical single-point one. Chapter 1."""
    _checks.tensor("summed_norm", summed_norm, ndim=1)
    _checks.tensor("per_point_norm", per_point_norm, shape=(summed_norm.shape[0],))
    ax = _axes(ax)
    K = summed_norm.shape[0]
    x = np.arange(K)
    floor = 1e-17
    ax.bar(x - 0.2, per_point_norm.clamp(min=floor).numpy(), 0.4, color=PALETTE["orange"], label="one point alone (mean)")
    ax.bar(x + 0.2, summed_norm.clamp(min=floor).numpy(), 0.4, color=PALETTE["blue"], label="all points together")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xticks(x, [f"unit {k}" for k in range(K)])
    ax.set(ylabel="gradient norm", title=title)
    ax.legend(loc="upper right")
    return ax


def rate_bars(summaries: dict, *, ax=None, xlabel: str = "stall rate", title: str | None = None):
    """Horizontal bars of rates with their confidence intervals; ``summaries`` maps a label to
    :func:`symcourse.stats.rate_summary` output. Chapter 1."""
    if not summaries:
        raise ValueError("summaries must not be empty")
    ax = _axes(ax, (6.0, 0.45 * len(summaries) + 1.0))
    labels = list(summaries)
    rates = np.array([summaries[k]["rate"] for k in labels])
    low = rates - np.array([summaries[k]["low"] for k in labels])
    high = np.array([summaries[k]["high"] for k in labels]) - rates
    y = np.arange(len(labels))[::-1]
    ax.barh(y, rates, xerr=[low, high], color=PALETTE["sky"], ecolor="k", capsize=3)
    for yi, r, k in zip(y, rates, labels):
        ax.text(summaries[k]["high"] + 0.02, yi, f"{r:.0%} of {summaries[k]['trials']}", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set(xlim=(0, 1.22), xlabel=xlabel, title=title)
    return ax


def symmetry_field(kind: str, *, ax=None, extent: float = 2.0, arrows: int = 15, title: str | None = None):
    """Negative gradient field of :func:`symcourse.symmetry.toy_loss` for one kind of symmetry.

    Arrows show the direction of steepest descent (all drawn at one length). Dashed grey curves
    are the symmetry's orbits (lines along (1, 1), rays from the origin, hyperbolas of constant
    u v); solid grey curves are the family the gradient is tangent to (lines of constant u + v,
    circles, hyperbolas of constant u^2 - v^2). Introduced in chapter 3.
    """
    from .symmetry import toy_loss  # computation below presentation

    _checks.choice("kind", kind, ("translation", "scale", "rescale"))
    _checks.positive("extent", extent)
    _checks.positive("arrows", arrows, integer=True)
    ax = _axes(ax, (3.3, 3.2))
    low = 0.15 if kind == "rescale" else -extent
    g = torch.linspace(low, extent, arrows, dtype=torch.float64)
    a, b = torch.meshgrid(g, g, indexing="xy")
    a, b = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    keep = (a ** 2 + b ** 2).detach() > 0.05
    da, db = torch.autograd.grad(toy_loss(kind)(a, b).sum(), (a, b))
    length = torch.sqrt(da ** 2 + db ** 2).clamp(min=1e-12)
    u, v = (-da / length * keep).numpy(), (-db / length * keep).numpy()
    ax.quiver(a.detach().numpy(), b.detach().numpy(), u, v, color=PALETTE["blue"], angles="xy",
              scale=arrows * 1.1, width=0.006)
    t = np.linspace(low, extent, 200)
    A, B = np.meshgrid(t, t)
    grey = dict(colors="0.45", linewidths=0.8)
    if kind == "translation":
        ax.contour(A, B, A - B, levels=9, linestyles="--", **grey)
        ax.contour(A, B, A + B, levels=9, linestyles="-", **grey)
    elif kind == "scale":
        for phi in np.linspace(0, np.pi, 7)[:-1]:
            ax.plot(3 * extent * np.array([-np.cos(phi), np.cos(phi)]),
                    3 * extent * np.array([-np.sin(phi), np.sin(phi)]), "--", color="0.45", lw=0.8)
        ax.contour(A, B, np.hypot(A, B), levels=np.linspace(0.4, extent, 5), linestyles="-", **grey)
    else:
        ax.contour(A, B, A * B, levels=np.linspace(0.25, extent ** 2, 8), linestyles="--", **grey)
        ax.contour(A, B, A ** 2 - B ** 2, levels=np.linspace(-3, 3, 9), linestyles="-", **grey)
    names = {"translation": ("logit u", "logit v"), "scale": ("weight u", "weight v"),
             "rescale": ("incoming weight u", "outgoing weight v")}
    ax.set(xlim=(low, extent), ylim=(low, extent), aspect="equal", xlabel=names[kind][0],
           ylabel=names[kind][1], title=title or kind)
    ax.grid(False)
    return ax


def orbit_panels(s_values: torch.Tensor, scan, parts: dict, *, at: float, at_loss: float,
                 data_loss: torch.Tensor | None = None, axes=None, title: str | None = None,
                 loss_label: str = "loss", data_label: str = "loss without the breaking term"):
    """Two panels along a symmetry orbit, against the group parameter ``s_values`` (A,).

    ``scan`` is a :class:`symcourse.symmetry.OrbitScan` over those points. Left: the loss, with
    ``data_loss`` (A,) dashed if given (the loss without a symmetry-breaking term) and the point
    ``(at, at_loss)`` marked. Right: the gradient norm on each part (``parts`` maps a sign of
    the scan to a name; +1 blue, -1 orange, 0 green) as markers, the symmetry's prediction as
    dashed lines, log scale, with ``at`` marked. Returns the two axes. Introduced in chapter 3.
    """
    from .symmetry import OrbitScan  # computation below presentation

    if not isinstance(scan, OrbitScan):
        raise TypeError(f"scan must be an OrbitScan (symmetry.orbit_scan), got {type(scan).__name__}")
    _checks.tensor("s_values", s_values, shape=(scan.alphas.shape[0],))
    if data_loss is not None:
        _checks.tensor("data_loss", data_loss, shape=(scan.alphas.shape[0],))
    if not parts or not set(parts) <= set(scan.gradient_norm):
        raise ValueError(f"parts must name some of the scan's signs {sorted(scan.gradient_norm)}, "
                         f"got {sorted(parts) if isinstance(parts, dict) else parts!r}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.4, 4.0), layout="constrained")
    left, right = axes
    x = s_values.numpy()
    left.plot(x, scan.loss.numpy(), color=PALETTE["black"], label=loss_label)
    shown = [scan.loss]
    if data_loss is not None:
        left.plot(x, data_loss.numpy(), "--", color="0.5", label=data_label)
        shown.append(data_loss)
    left.plot([at], [at_loss], "o", color=PALETTE["red"], ms=6)
    lo, hi = torch.cat(shown).min().item(), torch.cat(shown).max().item()
    pad = max(0.1 * (hi - lo), 0.05 * abs(hi))  # a flat curve is drawn flat, not magnified
    left.set(ylim=(lo - pad, hi + pad), xlabel="group element s", ylabel="training loss",
             title=title)
    below = dict(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    left.legend(**below)
    for sign, name in parts.items():
        colour = UNIT_COLOURS[{1: 0, -1: 1}.get(sign, 2)]
        right.semilogy(x, scan.predicted_norm[sign].numpy(), "--", color=colour)
        right.semilogy(x, scan.gradient_norm[sign].numpy(), "o", color=colour, ms=3.5, label=name)
    right.axvline(at, color="k", lw=0.8, ls=":")
    right.plot([], [], "--", color="0.4", label="predicted by the symmetry")
    right.set(xlabel="group element s", ylabel="gradient norm on the part",
              title="gradient along the orbit")
    right.legend(ncol=2, **below)
    return axes


def flow_portrait(trajectories, quantity, *, extent=(-2.0, 2.0, -2.0, 2.0), ax=None, title=None,
                  xlabel: str = "$\\theta_1$", ylabel: str = "$\\theta_2$", solutions=None):
    """Trajectories of a two-parameter flow over the level sets of a conserved ``quantity``.

    ``trajectories`` is a list of (T, 2) tensors; ``quantity`` maps a (..., 2) tensor to (...)
    values, whose level sets are drawn as thin grey curves; ``solutions``, if given, is a
    function of the same kind whose zero set (e.g. the minima) is drawn dashed. Introduced in chapter 4.
    """
    if not callable(quantity):
        raise TypeError("quantity must be a function of a (..., 2) tensor")
    if not isinstance(trajectories, (list, tuple)) or not trajectories:
        raise ValueError("trajectories must be a non-empty list of (T, 2) tensors")
    for k, tr in enumerate(trajectories):
        _checks.tensor(f"trajectories[{k}]", tr, shape=(None, 2))
    x0, x1, y0, y1 = extent
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent!r}")
    ax = _axes(ax)
    gx, gy = torch.meshgrid(torch.linspace(x0, x1, 201, dtype=torch.float64),
                            torch.linspace(y0, y1, 201, dtype=torch.float64), indexing="xy")
    grid = torch.stack([gx, gy], dim=-1)
    ax.contour(gx.numpy(), gy.numpy(), quantity(grid).numpy(), levels=15, colors="0.75", linewidths=0.7)
    if solutions is not None:
        ax.contour(gx.numpy(), gy.numpy(), solutions(grid).numpy(), levels=[0.0], colors="k",
                   linewidths=1.0, linestyles="--")
    for k, tr in enumerate(trajectories):
        colour = UNIT_COLOURS[k % len(UNIT_COLOURS)]
        ax.plot(tr[:, 0].numpy(), tr[:, 1].numpy(), color=colour, lw=1.8)
        ax.plot(tr[0, 0].item(), tr[0, 1].item(), "o", color=colour, ms=4)
        ax.plot(tr[-1, 0].item(), tr[-1, 1].item(), "s", color=colour, ms=4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    return ax


def drift_and_loss(times: torch.Tensor, loss: torch.Tensor, drifts: dict, *, axes=None, title=None):
    """Two panels against time: the loss (log scale) and the relative drift of conserved
    quantities (log scale; ``drifts`` maps a label to a (T,) tensor). Introduced in chapter 4."""
    _checks.tensor("times", times, ndim=1)
    _checks.tensor("loss", loss, shape=(times.shape[0],))
    if not isinstance(drifts, dict) or not drifts:
        raise ValueError("drifts must be a non-empty dict of label -> (T,) tensor")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7.5, 3.0), layout="constrained")
    axes[0].semilogy(times.numpy(), loss.numpy(), color=PALETTE["black"])
    axes[0].set(xlabel="time t (gradient-flow units)", ylabel="loss")
    for k, (label, d) in enumerate(drifts.items()):
        _checks.tensor(f"drifts[{label!r}]", d, shape=(times.shape[0],))
        axes[1].semilogy(times.numpy(), d.clamp_min(1e-17).numpy(), label=label,
                         color=UNIT_COLOURS[k % len(UNIT_COLOURS)])
    axes[1].set(xlabel="time t (gradient-flow units)", ylabel="relative drift |Q(t) − Q(0)|")
    axes[1].legend()
    if title:
        axes[0].figure.suptitle(title)
    return axes


def discrete_vs_flows(discrete: torch.Tensor, flow: torch.Tensor, modified: torch.Tensor, *,
                      loss=None, extent=None, ax=None, xlabel: str = "$\\theta_1$",
                      ylabel: str = "$\\theta_2$", title: str | None = None):
    """Discrete iterates as black dots, gradient flow as a blue line and the modified flow as a
    red line in a parameter plane, over grey level curves of ``loss`` if given (a function of a
    (..., 2) tensor). Each trajectory is (T, 2). Introduced in chapter 5."""
    for name, path in (("discrete", discrete), ("flow", flow), ("modified", modified)):
        _checks.tensor(name, path, shape=(None, 2))
    ax = _axes(ax)
    if loss is not None:
        pts = torch.cat([discrete, flow, modified])
        lo, hi = pts.min(dim=0).values, pts.max(dim=0).values
        pad = 0.15 * (hi - lo).clamp_min(1e-3)
        x0, x1, y0, y1 = extent or (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        gx, gy = torch.meshgrid(torch.linspace(float(x0), float(x1), 121, dtype=torch.float64),
                                torch.linspace(float(y0), float(y1), 121, dtype=torch.float64), indexing="xy")
        ax.contour(gx.numpy(), gy.numpy(), loss(torch.stack([gx, gy], dim=-1)).numpy(), levels=12,
                   colors="0.75", linewidths=0.7)
    ax.plot(flow[:, 0].numpy(), flow[:, 1].numpy(), color=PALETTE["blue"], lw=2, label="gradient flow")
    ax.plot(modified[:, 0].numpy(), modified[:, 1].numpy(), color=PALETTE["red"], lw=2,
            label="modified flow")
    ax.plot(discrete[:, 0].numpy(), discrete[:, 1].numpy(), "o", color=PALETTE["black"], ms=3.5,
            label="discrete steps")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def error_order_plot(orders: dict, *, ax=None, title: str | None = None):
    """Log-log plot of discretisation errors against the learning rate: for each label in
    ``orders`` (label -> :class:`symcourse.dynamics.ErrorOrders`), the error against gradient flow
    (circles, solid) and against the modified flow (squares, dashed), with the fitted slopes in
    the legend. Introduced in chapter 5."""
    if not isinstance(orders, dict) or not orders:
        raise ValueError("orders must be a non-empty dict of label -> ErrorOrders")
    ax = _axes(ax, figsize=(5.2, 3.6))
    for k, (label, r) in enumerate(orders.items()):
        colour = UNIT_COLOURS[k % len(UNIT_COLOURS)]
        ax.loglog(r.lrs.numpy(), r.error_flow.numpy(), "o-", color=colour,
                  label=f"{label}, vs flow (slope {r.slope_flow:.2f})")
        ax.loglog(r.lrs.numpy(), r.error_modified.numpy(), "s--", color=colour,
                  label=f"{label}, vs modified (slope {r.slope_modified:.2f})")
    ax.set(xlabel="learning rate η", ylabel="error |θ_discrete(T) − θ_flow(T)|")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


QUANTITY_LABELS = {"translation": "column sum ⟨s, θ⟩",
                   "scale": "squared row norm |θ|²",
                   "rescale": "|θ_in|² − |θ_out|²"}


def theory_vs_measurement(times: torch.Tensor, measured: torch.Tensor, predicted: torch.Tensor, *,
                          kind: str = "scale", show: int = 5, ax=None, title: str | None = None):
    """Measured quantities of ``show`` groups as coloured lines and the theory for each as a black
    dashed line on top (the style of Kunin et al.'s figure 5). ``measured`` and ``predicted`` are
    (T, groups); the groups shown are those whose quantity changes most. Introduced in chapter 6.
    """
    _checks.tensor("times", times, ndim=1)
    _checks.tensor("measured", measured, shape=(times.shape[0], None))
    _checks.tensor("predicted", predicted, shape=tuple(measured.shape))
    _checks.choice("kind", kind, tuple(QUANTITY_LABELS))
    _checks.positive("show", show, integer=True)
    ax = _axes(ax, figsize=(4.0, 3.2))
    change = (measured - measured[:1]).abs().max(dim=0).values
    chosen = torch.argsort(change, descending=True)[:show]
    t = times.numpy()
    for k, g in enumerate(chosen.tolist()):
        ax.plot(t, measured[:, g].numpy(), color=UNIT_COLOURS[k % len(UNIT_COLOURS)], lw=2.2,
                alpha=0.8, label="measured" if k == 0 else None)
        ax.plot(t, predicted[:, g].numpy(), "--", color=PALETTE["black"], lw=1.0,
                label="theory" if k == 0 else None)
    ax.set(xlabel="time t = step × η", ylabel=QUANTITY_LABELS[kind])
    ax.legend(loc="best")
    ax.set_title(title or kind)
    return ax


def damping_regimes(times: torch.Tensor, measured: dict, predicted: dict, *, ax=None,
                    title: str | None = None):
    """The translation quantity divided by its start value under several momenta: for each label,
    every group's measured ratio (thin coloured lines, which coincide) and the closed-form
    oscillator (black dashed). ``measured[label]`` is (T, groups), ``predicted[label]`` (T,).
    Introduced in chapter 6."""
    _checks.tensor("times", times, ndim=1)
    if not isinstance(measured, dict) or not measured or set(measured) != set(predicted):
        raise ValueError("measured and predicted must be non-empty dicts with the same labels")
    ax = _axes(ax, figsize=(5.6, 3.4))
    t = times.numpy()
    for k, label in enumerate(measured):
        m = _checks.tensor(f"measured[{label!r}]", measured[label], shape=(times.shape[0], None))
        p = _checks.tensor(f"predicted[{label!r}]", predicted[label], shape=(times.shape[0],))
        ratio = m / m[:1]
        ax.plot(t, ratio.numpy(), color=UNIT_COLOURS[k % len(UNIT_COLOURS)], lw=2.2, alpha=0.5)
        ax.plot([], [], color=UNIT_COLOURS[k % len(UNIT_COLOURS)], lw=2.2, label=label)
        ax.plot(t, p.numpy(), "--", color=PALETTE["black"], lw=1.0)
    ax.plot([], [], "--", color=PALETTE["black"], lw=1.0, label="closed form")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set(xlabel="time t = step × η", ylabel="q(t) / q(0)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def drift_versus_lr(lrs, drifts, slope: float, *, ax=None, title: str | None = None):
    """Log-log plot of the total drift of the rescale quantities at a fixed training time
    against the learning rate, with a reference line of slope 1 through the smallest rate.
    Introduced in chapter 6."""
    lrs = torch.as_tensor(lrs, dtype=torch.float64)
    drifts = torch.as_tensor(drifts, dtype=torch.float64)
    if lrs.ndim != 1 or lrs.shape != drifts.shape or lrs.numel() < 2:
        raise ValueError("lrs and drifts must be 1-D with the same length (>= 2)")
    ax = _axes(ax, figsize=(4.0, 3.2))
    ax.loglog(lrs.numpy(), drifts.numpy(), "o-", color=PALETTE["blue"],
              label=f"measured (slope {slope:.2f})")
    i = int(torch.argmin(lrs))
    ax.loglog(lrs.numpy(), (drifts[i] * lrs / lrs[i]).numpy(), "--", color=PALETTE["black"],
              lw=1.0, label="slope 1")
    ax.set(xlabel="learning rate η", ylabel="RMS drift |q(T) − q(0)|")
    ax.set_xticks(lrs.tolist(), [f"{lr:g}" for lr in lrs.tolist()])
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def variant_curves(runs: dict, *, ax=None, title: str | None = None):
    """Full-batch loss against training step for each variant (thin lines: seeds; thick:
    their mean while every seed is finite). A run that diverged ends with a cross at the step
    where its loss stopped being finite, at the height of its last finite loss. ``runs`` maps a name to a list of :class:`symcourse.teleport.MovesRun`.
    Introduced in chapter 8."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict of name -> list of MovesRun")
    ax = _axes(ax, figsize=(5.6, 3.4))
    for k, (name, seeds) in enumerate(runs.items()):
        colour = UNIT_COLOURS[k % len(UNIT_COLOURS)]
        for run in seeds:
            steps, loss = np.array(run.steps), np.array(run.loss)
            finite = np.isfinite(loss)
            ax.plot(steps[finite], loss[finite], color=colour, lw=0.8, alpha=0.5)
            if run.diverged:
                at = run.diverged_at if run.diverged_at is not None else steps[-1]
                ax.plot([at], loss[finite][-1:], "x", color=colour, ms=8, mew=2)
        if not any(run.diverged for run in seeds):
            mean = np.mean([run.loss for run in seeds], axis=0)
            ax.plot(seeds[0].steps, mean, color=colour, lw=2.2, label=name)
        else:
            ax.plot([], [], "x", color=colour, ms=8, mew=2, label=f"{name} (diverged)")
    ax.set(xlabel="SGD step", ylabel="training loss (full batch)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def synthesis_grid(rows: list[str], columns: list[str], marks: list[list[str]], *, ax=None):
    """A table drawn as a figure: one row per symmetry, one column per property, each cell
    coloured by its mark ("yes", "partly", "no") and labelled with it. Introduced in chapter 9."""
    colours = {"yes": PALETTE["blue"], "partly": PALETTE["sky"], "no": "#DDDDDD"}
    if len(marks) != len(rows) or any(len(r) != len(columns) for r in marks):
        raise ValueError(f"marks must have {len(rows)} rows of {len(columns)} entries")
    for r in marks:
        for m in r:
            _checks.choice("mark", m, tuple(colours))
    ax = _axes(ax, figsize=(8.2, 0.42 * len(rows) + 1.6))
    for i, row in enumerate(marks):
        for j, mark in enumerate(row):
            ax.add_patch(mpl.patches.Rectangle((j, i), 0.96, 0.9, color=colours[mark]))
            ax.text(j + 0.48, i + 0.45, mark, ha="center", va="center", fontsize=9,
                    color="white" if mark == "yes" else "black")
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.48 for j in range(len(columns))], columns, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.45 for i in range(len(rows))], rows, fontsize=9)
    ax.grid(False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    return ax


def final_loss_strips(final_losses: dict, threshold: float = STALL_THRESHOLD, *, ax=None,
                      title: str | None = None):
    """Final training MSE of every run, one row of dots per remedy (log scale, a fixed vertical
    jitter), solved runs blue and failed runs red, with the success threshold dotted.
    ``final_losses`` maps a label to a (runs,) tensor. Introduced in chapter 7."""
    if not isinstance(final_losses, dict) or not final_losses:
        raise ValueError("final_losses must be a non-empty dict of label -> (runs,) tensor")
    _checks.positive("threshold", threshold)
    ax = _axes(ax, (5.0, 0.45 * len(final_losses) + 1.0))
    labels = list(final_losses)
    floor = 1e-16
    for row, label in enumerate(labels):
        values = final_losses[label]
        _checks.tensor(f"final_losses[{label!r}]", values, ndim=1)
        values = values.double().clamp(min=floor).numpy()
        y = len(labels) - 1 - row + 0.3 * (np.linspace(-1, 1, len(values)) if len(values) > 1 else np.zeros(1))
        failed = values > threshold
        ax.scatter(values[~failed], y[~failed], s=5, color=SOLVED, alpha=0.6, lw=0)
        ax.scatter(values[failed], y[failed], s=5, color=STALLED, alpha=0.6, lw=0)
    ax.axvline(threshold, color="k", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(labels))[::-1], labels)
    ax.set(xlabel="final training MSE (dotted: success threshold)", title=title)
    ax.grid(False, axis="y")
    return ax


def format_remedy_table(rows: dict) -> str:
    """A plain-text table of :func:`symcourse.remedies.summarise` rows: solved runs, success rate
    with its 95% interval, median final MSE, unit evaluations relative to the first row, and
    wall-clock time per run (printed as ``time: … ms``). Introduced in chapter 7."""
    if not isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty dict of label -> summary row")
    width = max(len("remedy"), *(len(label) for label in rows))
    lines = [f"{'remedy':<{width}} solved   success [95% interval]  median  evals  wall-clock/run"]
    for label, r in rows.items():
        lines.append(f"{label:<{width}} {r['count']:>3d}/{r['trials']:<3d} {r['rate']:6.1%} "
                     f"[{r['low']:5.1%}, {r['high']:6.1%}]  {r['median']:7.1e}  "
                     f"{r['relative_evaluations']:4.2f}×  time: {1e3 * r['seconds']:.1f} ms")
    return "\n".join(lines)


def remedy_outcomes(rows: dict, final_losses: dict, *, title: str | None = None):
    """Two panels for a comparison of remedies: success rates with 95% intervals
    (:func:`rate_bars`) and every run's final loss (:func:`final_loss_strips`). Returns the
    figure. Introduced in chapter 7."""
    if set(rows) != set(final_losses):
        raise ValueError("rows and final_losses must have the same labels")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    rate_bars(rows, ax=left, xlabel="success rate (95% interval)", title=title)
    final_loss_strips(final_losses, ax=right)
    return fig


def revival_story(history: torch.Tensor, steps: torch.Tensor, row: int, losses: dict, task: MaxAffineTask,
                  *, title: str | None = None):
    """Three panels for one run with dead-unit revival: its win regions at recorded row ``row - 1``
    (a unit dead) and ``row`` (re-seated), and loss curves (``losses`` maps a label to a (T,)
    tensor over ``steps``). ``history`` is the run's parameters (T, K, 3). Returns the figure.
    Introduced in chapter 7."""
    _checks.tensor("history", history, ndim=3)
    if not 1 <= row < history.shape[0]:
        raise ValueError(f"row must lie in [1, {history.shape[0] - 1}], got {row!r}")
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.3), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1.3]})
    win_regions(history[row - 1], task, ax=axes[0], title=f"step {int(steps[row - 1])}: unit dead")
    win_regions(history[row], task, ax=axes[1], title=f"step {int(steps[row])}: re-seated")
    for k, (label, loss) in enumerate(losses.items()):
        _checks.tensor(f"losses[{label!r}]", loss, shape=(steps.shape[0],))
        axes[2].semilogy(steps.numpy(), loss.clamp(min=1e-16).numpy(), label=label,
                         color=UNIT_COLOURS[k % len(UNIT_COLOURS)])
    axes[2].set(xlabel="optimisation step", ylabel="training MSE", title=title)
    axes[2].legend()
    return fig


#: Chapter 10: one colour per alignment method.
METHOD_COLOURS = {"none": PALETTE["red"], "weights": PALETTE["blue"], "activations": PALETTE["green"]}
METHOD_LABELS = {"none": "as trained", "weights": "weight matching", "activations": "activation matching"}


def _method_dict(name: str, value: dict) -> dict:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{name} must be a non-empty dict keyed by alignment method")
    for method in value:
        _checks.choice("method", method, tuple(METHOD_COLOURS))
    return value


def interpolation_paths(t: torch.Tensor, loss_paths: dict, accuracy_paths: dict, *, axes=None):
    """Training loss (log scale) and test accuracy along the straight line between two networks,
    one thin line per pair and one colour per alignment method. Introduced in chapter 10."""
    t = _checks.tensor("t", t, ndim=1)
    _method_dict("loss_paths", loss_paths), _method_dict("accuracy_paths", accuracy_paths)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.0, 3.3), layout="constrained")
    for method, loss in loss_paths.items():
        for k, panel in enumerate((loss, accuracy_paths[method])):
            panel = _checks.tensor(f"paths[{method!r}]", panel, shape=(len(t), None))
            lines = axes[k].plot(t.numpy(), panel.numpy(), color=METHOD_COLOURS[method], lw=0.9,
                                 alpha=0.8)
            lines[0].set_label(METHOD_LABELS[method])
    axes[0].set(yscale="log", xlabel="position on the line t (0 = network A, 1 = B)",
                ylabel="training cross-entropy")
    axes[1].set(xlabel="position on the line t (0 = network A, 1 = B)", ylabel="test accuracy")
    axes[1].legend(loc="lower right")
    return axes


def barrier_widths(widths, summaries: dict, *, ax=None, title: str | None = None):
    """Mean loss barrier against width with 95% intervals, one colour per alignment method, on
    log-log axes. ``summaries[method]`` is a list of ``{"mean", "low", "high"}`` per width.
    Introduced in chapter 10."""
    _method_dict("summaries", summaries)
    ax = _axes(ax, figsize=(5.0, 3.4))
    for k, (method, rows) in enumerate(summaries.items()):
        if len(rows) != len(widths):
            raise ValueError(f"summaries[{method!r}] must have one entry per width ({len(widths)})")
        shift = 1 + 0.04 * (k - 1)  # spread the error bars sideways
        mean = np.array([r["mean"] for r in rows])
        low = np.maximum(np.array([r["low"] for r in rows]), mean * 0.05)
        high = np.array([r["high"] for r in rows])
        ax.errorbar(np.array(widths) * shift, mean, yerr=[mean - low, high - mean], fmt="o-",
                    ms=4, capsize=3, color=METHOD_COLOURS[method], label=METHOD_LABELS[method])
    ax.set(xscale="log", yscale="log", xlabel="hidden width (units per layer)",
           ylabel="loss barrier (nats)", title=title)
    ax.set_xticks(list(widths), [str(w) for w in widths])
    ax.legend()
    return ax


def collapse_sweep(gammas: torch.Tensor, distances: torch.Tensor, predicted: float,
                   measured: float, *, ax=None, tol: float = 1e-3):
    """Final distance to the symmetric point against weight decay, with the predicted and the
    measured collapse thresholds and the collapse tolerance. Introduced in chapter 10."""
    gammas = _checks.tensor("gammas", gammas, ndim=1)
    distances = _checks.tensor("distances", distances, shape=(len(gammas),))
    ax = _axes(ax, figsize=(4.6, 3.3))
    ax.semilogy(gammas.numpy(), distances.clamp(min=1e-16).numpy(), "o", ms=3,
                color=PALETTE["blue"], label="after training")
    ax.axvline(predicted, color=PALETTE["orange"], lw=1.6, label="predicted |E[xy]|")
    ax.axvline(measured, color="k", ls=":", lw=1.2, label="measured")
    ax.axhline(tol, color="grey", lw=0.8, ls="--", label="collapse tolerance")
    ax.set(xlabel="weight decay λ", ylabel="distance to origin √(u² + w²)")
    ax.legend(loc="lower left")
    return ax


def rank_staircase(gammas: torch.Tensor, ranks: torch.Tensor, spectrum: torch.Tensor, *, ax=None):
    """Rank of a learned linear map against weight decay, with the singular values of the
    input-output correlation (the predicted steps) as vertical lines. Introduced in chapter 10."""
    gammas = _checks.tensor("gammas", gammas, ndim=1)
    ranks = _checks.tensor("ranks", ranks, shape=(len(gammas),), floating=False)
    spectrum = _checks.tensor("spectrum", spectrum, ndim=1)
    ax = _axes(ax, figsize=(4.6, 3.3))
    ax.step(gammas.numpy(), ranks.numpy(), where="mid", color=PALETTE["blue"], label="learned")
    for k, s in enumerate(spectrum.tolist()):
        ax.axvline(s, color=PALETTE["orange"], lw=1.2, ls="--",
                   label="singular values of E[y xᵀ]" if k == 0 else None)
    ax.set(xlabel="weight decay λ", ylabel="rank of the learned map U W")
    ax.legend(loc="upper right")
    return ax


def product_flow(u: torch.Tensor, w: torch.Tensor, minima, *, ax=None, title: str | None = None):
    """Paths of the product model in the (u, w) plane (records by runs), with its two mirror
    planes u = w and u = −w and its minima. Introduced in chapter 10."""
    u = _checks.tensor("u", u, ndim=2)
    w = _checks.tensor("w", w, shape=tuple(u.shape))
    ax = _axes(ax, figsize=(3.6, 3.4))
    lim = 1.05 * max(1.0, u.abs().max().item(), w.abs().max().item())
    for sign in (1, -1):
        ax.plot([-lim, lim], [-sign * lim, sign * lim], color="grey", lw=0.8, ls="--")
    for k in range(u.shape[1]):
        ax.plot(u[:, k].numpy(), w[:, k].numpy(), color=UNIT_COLOURS[k % len(UNIT_COLOURS)], lw=1.1)
        ax.plot(u[0, k].item(), w[0, k].item(), "o", ms=3, color=UNIT_COLOURS[k % len(UNIT_COLOURS)])
    for mu, mw in minima:
        ax.plot(mu, mw, "*", ms=10, color="k")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="u", ylabel="w", title=title, aspect="equal")
    return ax


def vertex_slide(positions, changes, kink: float, *, ax=None):
    """How much the function changes as a redundant vertex slides (chapter 9): the largest
    change against the vertex position, with the first layer's kink marked."""
    ax = _axes(ax, figsize=(5.4, 3.0))
    ax.plot(positions, changes, "o-", ms=3, color=PALETTE["blue"])
    ax.axvline(kink, color=PALETTE["red"], ls="--", lw=1, label="first layer's kink")
    ax.set(xlabel="position of the vertex (input units)",
           ylabel="largest change of f (output units)")
    ax.legend(loc="upper left")
    return ax


def paired_errors(errors: dict, *, ax=None):
    """Held-out error on a problem against the error on its rotated copy, one point per seed and
    one colour per method (chapter 9): an equivariant training map puts every point on the
    diagonal. ``errors`` maps a label to ``(error, rotated_error)`` tensors."""
    ax = _axes(ax, figsize=(4.6, 4.0))
    low = min(float(min(a.min(), b.min())) for a, b in errors.values())
    high = max(float(max(a.max(), b.max())) for a, b in errors.values())
    ax.plot([low, high], [low, high], color="#999999", lw=1, label="equal")
    for k, (label, (a, b)) in enumerate(errors.items()):
        ax.plot(a, b, "o", ms=3.5, alpha=0.7, color=UNIT_COLOURS[k], label=label)
    ax.set(xlabel="error, teacher along a coordinate axis (MSE)",
           ylabel="error, rotated problem (MSE)")
    ax.legend()


def order_parameters(alpha: torch.Tensor, R_sim: torch.Tensor, R_ode: torch.Tensor, eps_sim: torch.Tensor,
                     eps_ode: torch.Tensor, *, axes=None, title: str | None = None):
    """Student-teacher overlaps R_in (left) and generalisation error (right) against alpha for one
    run: simulation solid, order-parameter ODEs dashed. R_* are (A, K, M), eps_* (A,). Chapter 2."""
    _checks.tensor("alpha", alpha, ndim=1)
    _checks.tensor("R_sim", R_sim, shape=(alpha.shape[0], None, None))
    _checks.tensor("R_ode", R_ode, shape=tuple(R_sim.shape))
    _checks.tensor("eps_sim", eps_sim, shape=(alpha.shape[0],))
    _checks.tensor("eps_ode", eps_ode, shape=(alpha.shape[0],))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
    left, right = axes
    a = alpha.numpy()
    K, M = R_sim.shape[1:]
    for i in range(K):
        for n in range(M):
            colour = UNIT_COLOURS[(i * M + n) % len(UNIT_COLOURS)]
            left.plot(a, R_sim[:, i, n].numpy(), color=colour, label=f"$R_{{{i + 1}{n + 1}}}$")
            left.plot(a, R_ode[:, i, n].numpy(), "--", color=PALETTE["black"], lw=0.9)
    left.plot([], [], "--", color=PALETTE["black"], lw=0.9, label="ODE")
    left.set(xlabel="α = examples / N", ylabel="overlap $R_{in}$ (dimensionless)")
    left.legend(loc="upper left", ncol=2)
    right.semilogy(a, eps_sim.numpy(), color=PALETTE["blue"], label="simulation")
    right.semilogy(a, eps_ode.numpy(), "--", color=PALETTE["black"], lw=0.9, label="ODE")
    right.set(xlabel="α = examples / N", ylabel="generalisation error $ε_g$")
    right.legend(loc="upper right")
    if title:
        left.set_title(title)
    return axes


def plateau_law(delta: torch.Tensor, times: torch.Tensor, intercept: float, slope: float,
                predicted_slope: float, *, ax=None, title: str | None = None):
    """Plateau exit time against log(1/delta), one faint line per seed (``times`` (S, D)), the mean
    fitted line and the slope 1/lambda the linearisation predicts. Chapter 2."""
    _checks.tensor("delta", delta, ndim=1)
    _checks.tensor("times", times, shape=(None, delta.shape[0]))
    ax = _axes(ax, figsize=(4.6, 3.2))
    x = torch.log(1.0 / delta).numpy()
    for row in times:
        ax.plot(x, row.numpy(), "o-", color=UNIT_COLOURS[0], alpha=0.35, ms=3, lw=0.8)
    ax.plot(x, intercept + slope * x, color=PALETTE["red"], lw=1.6, label="fit α₀ + slope × log(1/δ)")
    mid = x.mean()
    ax.plot(x, intercept + slope * mid + predicted_slope * (x - mid), ":", color=PALETTE["black"],
            label="slope 1/λ (linearisation)")
    ax.set(xlabel="log(1/δ), initial asymmetry δ", ylabel="plateau exit α")
    ax.legend(loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def embedded_line(lams: torch.Tensor, grad_norm: torch.Tensor, lowest: torch.Tensor, *, axes=None,
                  title: str | None = None):
    """Along an embedded line: gradient norm (left, log scale) and the Hessian's lowest eigenvalue
    (right), against the line's parameter. Chapter 2."""
    _checks.tensor("lams", lams, ndim=1)
    _checks.tensor("grad_norm", grad_norm, shape=(lams.shape[0],))
    _checks.tensor("lowest", lowest, shape=(lams.shape[0],))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.0), layout="constrained")
    left, right = axes
    x = lams.numpy()
    floor = torch.finfo(grad_norm.dtype).tiny
    left.semilogy(x, grad_norm.clamp(min=floor).numpy(), "o-", color=UNIT_COLOURS[0], ms=3)
    left.set(xlabel="ρ (share kept by the original unit)", ylabel="gradient norm")
    neg = lowest < 0
    right.axhline(0, color=PALETTE["black"], lw=0.8)
    right.plot(x, lowest.numpy(), color=PALETTE["black"], lw=0.8)
    right.plot(x[neg.numpy()], lowest[neg].numpy(), "o", color=PALETTE["red"], ms=3, label="saddle")
    right.plot(x[~neg.numpy()], lowest[~neg].numpy(), "o", color=PALETTE["blue"], ms=3,
               label="no negative curvature")
    right.set(xlabel="ρ (share kept by the original unit)", ylabel="lowest Hessian eigenvalue")
    right.legend(loc="lower left")
    if title:
        left.set_title(title)
    return axes


def loss_traces(curves: dict, *, ax=None, xlabel: str = "step", ylabel: str = "training MSE",
                title: str | None = None):
    """Several named loss curves (each a 1-D tensor, or 2-D (steps, runs) drawn faintly) on a log
    scale, one colour per name. Chapter 2."""
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict of name -> loss tensor")
    ax = _axes(ax, figsize=(4.6, 3.2))
    for k, (name, values) in enumerate(curves.items()):
        _checks.tensor(f"curves[{name!r}]", values)
        colour = UNIT_COLOURS[k % len(UNIT_COLOURS)]
        v = values if values.ndim == 2 else values[:, None]
        floor = torch.finfo(v.dtype).tiny
        for j in range(v.shape[1]):
            ax.semilogy(v[:, j].clamp(min=floor).numpy(), color=colour, alpha=0.4 if v.shape[1] > 1 else 1.0,
                        lw=1.0, label=name if j == 0 else None)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax


def teleport_study_curves(study: dict):
    """Chapter 8's teleportation study (``symcourse/stored/teleport_study.json``): the median
    loss over seeds (band: quartiles) against gradient-descent step (left) and against the
    median wall-clock time (right), with and without teleportation, at the reference learning
    rate and at each method's tuned rate; dotted lines mark the teleports. A run that
    diverged counts as an infinite loss from there on. Introduced in chapter 8."""
    if not isinstance(study, dict) or not {"settings", "reference", "tuned"} <= set(study):
        raise ValueError("study must be the dict benchmarks/teleport_study.py writes")
    settings = study["settings"]
    n = settings["steps"] // settings["every"] + 1
    steps = np.arange(n) * settings["every"]

    def padded(values):
        out = np.full(n, np.inf)
        out[:len(values)] = values
        return np.where(np.isfinite(out), out, np.inf)

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 3.2), layout="constrained",
                                      sharey=True)
    colours = {"reference": (PALETTE["blue"], PALETTE["orange"]),
               "tuned": (PALETTE["green"], PALETTE["purple"])}
    for part, (c_gd, c_tp) in colours.items():
        block = study[part]
        rates = {"gd": block["lr"], "teleport": block.get("teleport_method_lr", block["lr"])}
        for method, colour, style in (("gd", c_gd, "-"), ("teleport", c_tp, "--")):
            loss = np.array([padded(s[method]["loss"]) for s in block["seeds"]])
            secs = np.array([padded(s[method]["seconds"]) for s in block["seeds"]])
            low, mid, high = np.percentile(loss, [25, 50, 75], axis=0)
            name = "GD" if method == "gd" else "GD + teleport"
            label = f"{name}, {part} lr {rates[method]:g}"
            left.plot(steps, mid, style, color=colour, label=label)
            left.fill_between(steps, low, high, color=colour, alpha=0.15, lw=0)
            right.plot(np.median(secs, axis=0), mid, style, color=colour)
    for k in settings["schedule"]:
        left.axvline(k, color="grey", ls=":", lw=0.8)
    left.set(yscale="log", xlabel="gradient-descent step", ylabel="training loss (½ squared error)")
    right.set(xscale="log", xlabel="wall-clock time (s, median over seeds)")
    left.legend(fontsize=7)
    return fig
