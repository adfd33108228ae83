"""Interactive explorers. Each has a plain function that draws its figure for given settings
(the static fallback the built book shows) and a widget that calls it. Top layer."""
from __future__ import annotations

import math
from functools import lru_cache, partial

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from . import _checks, symmetry
from .data import mnist1d_task, stall_task
from .conservation import gradient, gradient_flow, hyperbola_start, relative_drift, toy_examples
from .dynamics import compare_with_flows
from .models import symmetric_classifier
from .plots import (UNIT_COLOURS, discrete_vs_flows, flow_portrait, loss_curves, orbit_panels, product_flow,
                    theory_vs_measurement, variant_curves, win_regions)
from .recording import train_recorded
from .stall import is_stalled, win_fractions
from .sweeps import train_sweep
from .teleport import compare_variants
from .theory import KINDS, damping_regime, predictions, relative_error

EXPLORER_STEPS = 4000
EXPLORER_RECORD_EVERY = 50


@lru_cache(maxsize=64)
def _stall_run(seed: int, lr: float, bias: bool):
    task = stall_task()
    return task, train_sweep(task, [seed], lr=lr, bias=bias, steps=EXPLORER_STEPS,
                             record_every=EXPLORER_RECORD_EVERY, record_params=True)


def stall_explorer_figure(seed: int = 0, lr: float = 0.02, bias: bool = True, step: int = EXPLORER_STEPS):
    """Train seed ``seed`` as in the question and draw its win regions at ``step`` next to its loss curve.

    Returns ``(figure, info)`` where ``info`` has the loss at that step, the win fractions and
    whether the run stalls. Chapter 1's explorer and its static fallback both use it.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _checks.positive("lr", lr)
    _checks.flag("bias", bias)
    _checks.integer("step", step, low=0, high=EXPLORER_STEPS)
    task, run = _stall_run(seed, float(lr), bool(bias))
    row = int(round(step / EXPLORER_RECORD_EVERY))
    theta = run.history[row, 0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.4, 3.3), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.25]})
    win_regions(theta, task, ax=left, title=f"seed {seed}, step {int(run.steps[row])}", bias=bias)
    stalled = is_stalled(run.final_loss)
    loss_curves(run.steps, run.loss, stalled, ax=right, title=f"lr {lr:g}, bias {'on' if bias else 'off'}")
    right.axvline(int(run.steps[row]), color="k", lw=0.8, ls=":")
    info = {"seed": seed, "lr": lr, "bias": bias, "step": int(run.steps[row]), "loss": float(run.loss[row, 0]),
            "win_fractions": win_fractions(theta, task.X, bias=bias).tolist(),
            "stalled": bool(stalled[0])}
    return fig, info


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


#: Positions a slider takes in the static book when an explorer names none (:attr:`Explorer.static_grid`).
STATIC_POSITIONS = 5
#: Resolution of the static book's precomputed frames (pixels per inch).
STATIC_DPI = 72


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _slider_positions(control, count: int = STATIC_POSITIONS) -> list:
    """``count`` values spread over a slider's range (log-spaced for a log slider)."""
    if isinstance(control, widgets.SelectionSlider):
        options = [value for _, value in control._options_full] if hasattr(control, "_options_full") \
            else list(control.options)
        picks = sorted({round(i * (len(options) - 1) / (count - 1)) for i in range(count)})
        return [options[i] for i in picks]
    low, high = control.min, control.max
    if isinstance(control, widgets.FloatLogSlider):
        return [control.base ** (low + (high - low) * i / (count - 1)) for i in range(count)]
    values = [low + (high - low) * i / (count - 1) for i in range(count)]
    if isinstance(control, widgets.IntSlider):
        step = control.step or 1
        return sorted({int(low + round((v - low) / step) * step) for v in values})
    return values


def _figure_png(fig) -> str:
    """A figure as a base64 PNG at :data:`STATIC_DPI` (closes the figure)."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=STATIC_DPI)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class Explorer:
    """Sliders over a figure function ``draw(**values) -> (figure, info)``: the widget redraws
    whenever a control changes. ``controls`` maps names to the widgets, ``info`` is what the
    figure currently shows, ``widget`` is what to display, and ``draw`` alone (called with the
    defaults) is the static fallback the built book shows. Chapter 1.

    Displayed in a notebook, an explorer offers two renderings of itself: the live widget
    (JupyterLab, Colab: anything with a widget manager) and, for frontends without one, the
    figure it shows (:meth:`fallback_html`). The built book, which needs neither kernel nor
    network, gets :meth:`static_html` instead: a small offline control over figures precomputed
    on :meth:`static_positions` (subclasses choose them with :attr:`static_grid`). Drawing
    those frames costs seconds a learner running the notebook does not need, so they are drawn
    only on request, after the chapter has run: :func:`offline_controls` draws them for every
    explorer displayed so far, and ``tools/execute_notebooks.py`` puts them into the stored
    outputs the book is built from.
    """

    #: Control name -> the values it takes in the static book; other controls keep their
    #: value. ``None``: the first slider, at :data:`STATIC_POSITIONS` spread positions.
    static_grid: dict | None = None

    def __init__(self, draw, controls: dict, rows: list[list[str]]):
        self.draw, self.controls = draw, controls
        self.output = widgets.Output()
        self.info: dict = {}
        for control in self.controls.values():
            control.observe(self._redraw, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.controls[name] for name in row]) for row in rows]
                                   + [self.output])
        self._redraw()

    def _values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def _redraw(self, _change=None):
        fig, self.info = self.draw(**self._values())
        if _in_ipython():  # outside a kernel there is nothing to show, and nothing to clear
            from IPython.display import display

            with self.output:
                self.output.clear_output(wait=True)
                display(fig)
        plt.close(fig)

    def static_positions(self, values: dict | None = None) -> dict[str, list]:
        """Control name -> the values the static book offers, sorted, always including the
        control's current value (or its value in ``values``), so the book's own settings are
        among the frames."""
        current_values = self._values() if values is None else self._checked_values(values)
        if self.static_grid is None:
            sliders = [name for name, c in self.controls.items()
                       if isinstance(c, (widgets.IntSlider, widgets.FloatSlider,
                                         widgets.FloatLogSlider, widgets.SelectionSlider))]
            grid = {sliders[0]: _slider_positions(self.controls[sliders[0]])} if sliders else {}
        else:
            unknown = set(self.static_grid) - set(self.controls)
            if unknown:
                raise ValueError(f"static_grid names unknown controls {sorted(unknown)}; "
                                 f"the controls are {sorted(self.controls)}")
            grid = self.static_grid
        positions = {}
        for name, grid_values in grid.items():
            offered = list(grid_values)
            current = current_values[name]
            if not any(_same(v, current) for v in offered):
                offered.append(current)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in offered):
                offered = sorted(offered)
            positions[name] = offered
        return positions

    def _checked_values(self, values) -> dict:
        """``values`` if it gives every control a value and names no other."""
        if not isinstance(values, dict) or set(values) != set(self.controls):
            names = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"values must give a value to each control {sorted(self.controls)}, "
                             f"got {names}")
        return dict(values)

    def static_frames(self, values: dict | None = None) -> tuple[dict[str, list], dict[str, str]]:
        """``(positions, frames)``: every combination of :meth:`static_positions` drawn once;
        ``frames`` maps ``"i,j,..."`` (the index of each control's value) to a base64 PNG.
        ``values`` (default: the controls' current values) fixes the other controls."""
        import itertools

        fixed = self._values() if values is None else self._checked_values(values)
        positions = self.static_positions(fixed)
        frames = {}
        for index in itertools.product(*(range(len(v)) for v in positions.values())):
            values = dict(fixed, **{name: positions[name][i]
                                    for name, i in zip(positions, index)})
            fig, _info = self.draw(**values)
            frames[",".join(map(str, index))] = _figure_png(fig)
        return positions, frames

    def static_html(self, values: dict | None = None) -> str:
        """A self-contained offline control: one range input per varied control switching
        among the precomputed frames (inline PNG data, inline script, no request). ``values``
        (default: the controls' current values) is the setting it starts at."""
        import html
        import json

        values = self._values() if values is None else self._checked_values(values)
        positions, frames = self.static_frames(values)
        fixed = {name: value for name, value in values.items() if name not in positions}
        start = [next(i for i, v in enumerate(offered) if _same(v, values[name]))
                 for name, offered in positions.items()]
        rows = []
        for k, (name, values) in enumerate(positions.items()):
            label = html.escape(self.controls[name].description or name)
            rows.append(
                f'<label class="sx-row">{label} <input type="range" min="0" '
                f'max="{len(values) - 1}" step="1" value="{start[k]}" data-k="{k}" '
                f'aria-label="{label}"> <output>{html.escape(_shown(values[start[k]]))}</output>'
                "</label>")
        note = ", ".join(f"{self.controls[n].description or n} {_shown(v)}" for n, v in fixed.items())
        key = ",".join(map(str, start))
        data = json.dumps({"frames": {k: "data:image/png;base64," + v for k, v in frames.items()},
                           "labels": [[_shown(v) for v in values] for values in positions.values()],
                           "names": [self.controls[n].description or n for n in positions]})
        return (
            '<div class="symcourse-static-explorer">'
            + "".join(rows)
            + (f'<div class="sx-fixed">fixed here: {html.escape(note)}</div>' if note else "")
            + f'<img class="sx-frame" src="data:image/png;base64,{frames[key]}" '
            f'alt="explorer figure at {html.escape(self._describe(positions, start))}">'
            f'<script type="application/json" class="sx-data">{data}</script>'
            "<script>(function () {"
            'const root = document.currentScript.closest(".symcourse-static-explorer");'
            'const data = JSON.parse(root.querySelector(".sx-data").textContent);'
            'const inputs = Array.from(root.querySelectorAll("input[type=range]"));'
            'const img = root.querySelector(".sx-frame");'
            "function show() {"
            " const index = inputs.map(i => i.value);"
            ' img.src = data.frames[index.join(",")];'
            ' img.alt = "explorer figure at " + inputs.map((i, k) => data.names[k] + " "'
            " + data.labels[k][i.value]).join(\", \");"
            ' inputs.forEach((i, k) => { i.nextElementSibling.textContent = data.labels[k][i.value]; });'
            "}"
            'inputs.forEach(i => i.addEventListener("input", show));'
            "})();</script></div>")

    def _describe(self, positions, index) -> str:
        return ", ".join(f"{self.controls[n].description or n} {_shown(values[i])}"
                         for (n, values), i in zip(positions.items(), index))

    def fallback_html(self) -> str:
        """The figure at the current setting, for a frontend without widgets; marked
        (``symcourse-explorer-fallback``) so that the built book's offline control can take its
        place (:func:`offline_controls`)."""
        import html

        fig, _info = self.draw(**self._values())
        described = ", ".join(f"{c.description or n} {_shown(c.value)}" for n, c in self.controls.items())
        return (f'<div class="symcourse-explorer-fallback"><img src="data:image/png;base64,'
                f'{_figure_png(fig)}" alt="explorer figure at {html.escape(described)}"></div>')

    def _ipython_display_(self):
        from IPython.display import display

        bundle = self.widget._repr_mimebundle_()
        bundle["text/html"] = self.fallback_html()
        _DISPLAYED.append((self, self._values()))
        display(bundle, raw=True)


#: Explorers displayed in this Python session, with their settings when displayed, in order.
_DISPLAYED: list[tuple[Explorer, dict]] = []


def offline_controls() -> list[str]:
    """:meth:`Explorer.static_html` of every explorer displayed so far in this session, at the
    setting it was displayed with, in display order. ``tools/execute_notebooks.py`` calls it
    after a chapter has run and puts each control in place of that explorer's
    :meth:`~Explorer.fallback_html` in the stored outputs. Chapter 1."""
    return [explorer.static_html(values) for explorer, values in _DISPLAYED]


#: Learning rates the stall explorer offers (Adam; the book's setting is 0.02).
STALL_RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def _with(values, value) -> list:
    """``values`` sorted, with ``value`` added if it is not among them."""
    return sorted(set(values) | {value})


class StallExplorer(Explorer):
    """Sliders for seed, learning rate, bias and training step over :func:`stall_explorer_figure`.
    Chapter 1."""

    # the book's lr (0.02) and a larger one, three moments of the run: 6 frames, one extra
    # training run (chapter 1 is near its time budget)
    static_grid = {"lr": [0.02, 0.1], "step": [0, 1000, 4000]}

    def __init__(self, seed: int = 0, lr: float = 0.02, bias: bool = True, step: int = EXPLORER_STEPS):
        controls = {
            "seed": widgets.IntSlider(value=seed, min=0, max=99, description="seed"),
            # exact rates (a log slider's grid missed the book's 0.02); lr itself always offered
            "lr": widgets.SelectionSlider(options=[(f"{v:g}", v) for v in _with(STALL_RATES, lr)],
                                          value=lr, description="lr", continuous_update=False),
            "bias": widgets.Checkbox(value=bias, description="bias"),
            "step": widgets.IntSlider(value=step, min=0, max=EXPLORER_STEPS, step=EXPLORER_RECORD_EVERY,
                                      description="step", continuous_update=False),
        }
        super().__init__(stall_explorer_figure, controls, [["seed", "lr"], ["step", "bias"]])


#: Chapter 4's explorer: gradient flow on the rescale toy ½(uv − 1)² up to this time.
CONSERVATION_TIME = 8.0


@lru_cache(maxsize=64)
def _hyperbola_flow(product: float, imbalance: float):
    """Gradient flow on the rescale toy from ``uv = product``, ``u² − v² = imbalance``, kept:
    the explorer's frames share their balanced runs, and redrawing repeats a setting."""
    loss = toy_examples()["rescale"][0]
    times = torch.linspace(0.0, CONSERVATION_TIME, 161, dtype=torch.float64)
    return gradient_flow(loss, hyperbola_start(product, imbalance), times)


def conservation_explorer_figure(imbalance: float = 3.0, product: float = 0.1):
    """Gradient flow on ``½(uv − 1)²`` from the point with ``uv = product`` and ``u² − v² =
    imbalance``, next to the balanced start with the same ``uv``: paths over the hyperbolas
    (the conserved quantity) and both losses over time. Returns ``(figure, info)``; ``info`` has
    the starting gradient norms, the times to reach a loss of 1e-6 (``None`` if not reached) and
    the drift of the conserved quantity. Chapter 4's explorer and its static fallback use it.
    """
    _checks.finite("imbalance", imbalance)
    _checks.finite("product", product)
    loss, quantity, _ = toy_examples()["rescale"]
    runs = {name: _hyperbola_flow(float(product), value)
            for name, value in (("chosen", float(imbalance)), ("balanced", 0.0))}
    times = runs["chosen"].times
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.4), layout="constrained")
    flow_portrait([run.theta for run in runs.values()], quantity, extent=(0.0, 2.2, 0.0, 2.2), ax=left,
                  xlabel="u", ylabel="v", solutions=lambda p: p[..., 0] * p[..., 1] - 1,
                  title=f"u² − v² = {imbalance:g} and 0, uv = {product:g}")
    info = {"imbalance": float(imbalance), "product": float(product)}
    for k, (name, run) in enumerate(runs.items()):  # same colours as the paths on the left
        label = f"u² − v² = {imbalance if name == 'chosen' else 0:g}"
        right.semilogy(times.numpy(), run.loss.clamp(min=1e-16).numpy(), color=UNIT_COLOURS[k], label=label)
        reached = torch.nonzero(run.loss < 1e-6)
        info[f"time_{name}"] = float(times[reached[0, 0]]) if len(reached) else None
        info[f"gradient_{name}"] = gradient(loss, run.theta[0]).norm().item()
        info[f"drift_{name}"] = relative_drift(quantity(run.theta), (run.theta[0] ** 2).sum())
    right.axhline(1e-6, color="k", ls=":", lw=1)
    right.set(xlabel="time (gradient-flow units)", ylabel="loss ½(uv − 1)²", title="same start loss")
    right.legend(loc="upper right")
    return fig, info


class ConservationExplorer(Explorer):
    """Sliders for the conserved value ``u² − v²`` and the starting product ``uv`` over
    :func:`conservation_explorer_figure`. Chapter 4."""

    static_grid = {"imbalance": [-3.0, 0.0, 3.0], "product": [0.01, 0.1]}

    def __init__(self, imbalance: float = 3.0, product: float = 0.1):
        controls = {
            "imbalance": widgets.FloatSlider(value=imbalance, min=-3.0, max=3.0, step=0.25,
                                             description="u² − v²", continuous_update=False),
            "product": widgets.FloatLogSlider(value=product, base=10, min=-2, max=-0.1, step=0.1,
                                              description="uv", continuous_update=False),
        }
        super().__init__(conservation_explorer_figure, controls, [["imbalance", "product"]])


#: Chapter 5's explorer: the two-dimensional quadratic with a stiff and a flat direction.
DYNAMICS_CURVATURES = (2.0, 0.2)
DYNAMICS_START = (1.0, 2.0)
DYNAMICS_TIME = 3.0


def dynamics_explorer_figure(lr: float = 0.1, weight_decay: float = 0.0, momentum: float = 0.3):
    """Heavy ball with weight decay on chapter 5's quadratic, against gradient flow and the
    modified flow, up to time 3. Returns ``(figure, info)``; ``info`` has the largest distance of
    the iterates to each flow. Chapter 5's explorer and its static fallback both use it.
    """
    _checks.positive("lr", lr)
    curvature = torch.diag(torch.tensor(DYNAMICS_CURVATURES, dtype=torch.float64))
    quadratic = lambda theta: 0.5 * torch.einsum("...i,ij,...j->...", theta, curvature, theta)  # noqa: E731
    steps = max(1, round(DYNAMICS_TIME / lr))
    run = compare_with_flows(quadratic, torch.tensor(DYNAMICS_START, dtype=torch.float64), lr, steps,
                             momentum=momentum, weight_decay=weight_decay)
    ax = discrete_vs_flows(run.discrete, run.flow, run.modified, loss=quadratic,
                           title=f"lr {lr:g}, weight decay {weight_decay:g}, momentum {momentum:g}")
    info = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "steps": steps,
            "dev_flow": run.dev_flow, "dev_modified": run.dev_modified}
    return ax.figure, info


class DynamicsExplorer(Explorer):
    """Sliders for learning rate, weight decay and momentum over :func:`dynamics_explorer_figure`.
    Chapter 5."""

    static_grid = {"lr": [0.05, 0.1, 0.15], "momentum": [0.0, 0.3]}

    def __init__(self, lr: float = 0.1, weight_decay: float = 0.0, momentum: float = 0.3):
        controls = {
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-1.7, max=-0.8, step=0.1, description="lr",
                                         continuous_update=False),
            "weight_decay": widgets.FloatSlider(value=weight_decay, min=0.0, max=0.5, step=0.05,
                                                description="decay", continuous_update=False),
            "momentum": widgets.FloatSlider(value=momentum, min=0.0, max=0.6, step=0.05,
                                            description="momentum", continuous_update=False),
        }
        super().__init__(dynamics_explorer_figure, controls, [["lr"], ["weight_decay", "momentum"]])


#: Chapter 6's explorer: a small symmetric classifier on 1,000 MNIST-1D signals, 300 SGD steps.
BROKEN_HIDDEN, BROKEN_SAMPLES, BROKEN_STEPS = 16, 1250, 300


@lru_cache(maxsize=1)
def _small_mnist1d():
    """1,000 MNIST-1D training signals, generated once for the explorers of chapters 6 and 8."""
    return mnist1d_task(n_samples=BROKEN_SAMPLES)


@lru_cache(maxsize=64)
def _broken_run(lr: float, weight_decay: float, momentum: float):
    """The explorer's training run, kept: the fallback figure and the book's frames repeat it."""
    model = symmetric_classifier(hidden=BROKEN_HIDDEN, seed=0)
    return train_recorded(model, _small_mnist1d(), lr, BROKEN_STEPS, weight_decay=weight_decay,
                          momentum=momentum)


def broken_conservation_explorer_figure(lr: float = 0.1, weight_decay: float = 5e-3,
                                        momentum: float = 0.9):
    """Train chapter 6's classifier (16 hidden units, batch 100) with SGD and draw, for each
    symmetry, the measured quantities against the continuous-time theory. Returns
    ``(figure, info)``; ``info`` has, per kind, the damping regime and the relative errors of the
    exact recursion and of the continuous model. Chapter 6's explorer and its static fallback
    both use it."""
    _checks.positive("lr", lr)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    _checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    run = _broken_run(float(lr), float(weight_decay), float(momentum))
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.0), layout="constrained")
    info = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum}
    for ax, kind in zip(axes, KINDS):
        p = predictions(run, kind)
        info[kind] = {"regime": damping_regime(kind, lr, weight_decay, momentum),
                      "exact": relative_error(p["exact"], p["measured"]),
                      "continuous": relative_error(p["continuous"], p["measured"])}
        theory_vs_measurement(run.times, p["measured"], p["continuous"], kind=kind, show=4,
                              ax=ax, title=f"{kind} (off by {info[kind]['continuous']:.0e})")
    fig.suptitle(f"η = {lr:g}, λ = {weight_decay:g}, β = {momentum:g} "
                 f"(translation {info['translation']['regime']})")
    return fig, info


class BrokenConservationExplorer(Explorer):
    """Sliders for learning rate, weight decay and momentum over
    :func:`broken_conservation_explorer_figure`. Chapter 6."""

    static_grid = {"lr": [0.03, 0.1, 0.3], "momentum": [0.0, 0.9]}

    def __init__(self, lr: float = 0.1, weight_decay: float = 5e-3, momentum: float = 0.9):
        controls = {
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-2, max=-0.5, step=0.1,
                                         description="η", continuous_update=False),
            "weight_decay": widgets.FloatLogSlider(value=weight_decay, base=10, min=-4, max=-1,
                                                   step=0.1, description="λ",
                                                   continuous_update=False),
            "momentum": widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01,
                                            description="β", continuous_update=False),
        }
        super().__init__(broken_conservation_explorer_figure, controls,
                         [["lr", "weight_decay"], ["momentum"]])


#: Chapter 8's explorer: one seed, 250 SGD steps of a 12-layer MLP on 1,000 MNIST-1D signals.
USING_STEPS = 250


@lru_cache(maxsize=16)
def _using_runs(spread: float, lr: float, every: int) -> dict:
    """The explorer's runs, kept: the static book draws the default setting again."""
    variants = {"He start": (0.0, None), "unbalanced start": (spread, None),
                "unbalanced, rebalanced": (spread, "balance")}
    return compare_variants(_small_mnist1d(), [0], variants, lr=lr, steps=USING_STEPS,
                            every=every, record_every=25)


def using_symmetry_explorer_figure(spread: float = 2.0, lr: float = 0.05, every: int = 100):
    """Train chapter 8's deep MLP from its He start, from an unbalanced point of the same orbit
    (log-scales within ``±spread``), and from that point rebalanced every ``every`` steps, with
    the same batches. Returns ``(figure, info)``; ``info`` has each variant's final loss (NaN
    when it diverged). Chapter 8's explorer and its static fallback both use it."""
    _checks.positive("spread", spread)
    runs = _using_runs(float(spread), float(lr), int(every))
    ax = variant_curves(runs, title=f"spread ±{spread:g} in log-scale, lr {lr:g}")
    info = {"spread": spread, "lr": lr, "every": every,
            **{name: rs[0].loss[-1] for name, rs in runs.items()}}
    return ax.figure, info


class UsingSymmetryExplorer(Explorer):
    """Sliders for the spread of the unbalanced start, the learning rate and the rebalancing
    period over :func:`using_symmetry_explorer_figure`. Chapter 8."""

    static_grid = {"spread": [1.0, 2.0, 3.0]}

    def __init__(self, spread: float = 2.0, lr: float = 0.05, every: int = 100):
        controls = {
            "spread": widgets.FloatSlider(value=spread, min=0.25, max=3.0, step=0.25,
                                          description="spread", continuous_update=False),
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-2.5, max=-1, step=0.1,
                                         description="lr", continuous_update=False),
            "every": widgets.IntSlider(value=every, min=25, max=400, step=25,
                                       description="every", continuous_update=False),
        }
        super().__init__(using_symmetry_explorer_figure, controls,
                         [["spread", "lr"], ["every"]])


#: Chapter 3's explorer: the group element is ``alpha = s`` for translation and ``alpha = e^s``
#: for scale and rescale, for s in this range (e^1.5 is about 4.5).
SYMMETRY_S_RANGE = (-1.5, 1.5)
SYMMETRY_GRID = 25
_PART_NAMES = {"translation": {1: "shifted bias", 0: "rest of the network"},
               "scale": {1: "scaled layer", 0: "rest of the network"},
               "rescale": {1: "incoming weights", -1: "outgoing weights", 0: "rest of the network"}}


def _group_element(kind: str, s: float) -> float:
    return float(s) if kind == "translation" else math.exp(s)


def symmetry_explorer_group(kind: str, relu_net, norm_net, X, labels):
    """The group chapter 3's explorer moves, with its network and that network's parameters.

    Translation: the bias of the ReLU network's softmax layer. Scale: the layer before the
    normalisation of ``norm_net``. Rescale: the hidden neuron of the ReLU network with the
    largest gradient on its incoming weights (so that the scaling is easy to see). Returns
    ``(symmetry, model, params)``. Chapter 3.
    """
    _checks.choice("kind", kind, symmetry.KINDS)
    model = norm_net if kind == "scale" else relu_net
    params = symmetry.parameters(model)
    if kind == "translation":
        return symmetry.translation_groups(model)[-1], model, params
    if kind == "scale":
        return symmetry.scale_groups(model)[0], model, params
    grad = symmetry.gradient(symmetry.loss_function(model, X, labels), params)
    incoming = lambda g: symmetry.norm({k: grad[k] * (g.signs[k] > 0) for k in grad})  # noqa: E731
    return max(symmetry.rescale_groups(model), key=incoming), model, params


def symmetry_explorer_figure(relu_net, norm_net, X, labels, kind: str = "rescale",
                             s: float = 0.7, weight_decay: float = 0.0):
    """Move a trained network along one symmetry orbit (chapter 3's networks: ``relu_net`` for
    translation and rescale, ``norm_net`` for scale) and draw the loss along the orbit and the
    gradient on each part of the network against what the symmetry predicts.

    The group element is ``alpha = s`` (translation) or ``alpha = e^s`` (scale, rescale);
    ``weight_decay`` adds ``weight_decay / 2 * |theta|^2``, which breaks every one of these
    symmetries. Returns ``(figure, info)``; ``info`` has, at ``s``, the relative loss change,
    the gradient ratios (moved / original) measured and predicted for each part, the relative
    deviation of the gradient from the prediction, and the ``s`` of the grid point with the
    smallest loss (``None`` without weight decay, where the loss is flat). Chapter 3's
    explorer and its static fallback both use it.
    """
    _checks.choice("kind", kind, symmetry.KINDS)
    _checks.in_range("s", s, *SYMMETRY_S_RANGE)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    sym, model, params = symmetry_explorer_group(kind, relu_net, norm_net, X, labels)
    loss = symmetry.loss_function(model, X, labels, weight_decay=weight_decay)
    grid = torch.linspace(*SYMMETRY_S_RANGE, SYMMETRY_GRID, dtype=torch.float64)
    scan = symmetry.orbit_scan(sym, loss, params, [_group_element(kind, v) for v in grid.tolist()])
    here = symmetry.orbit_scan(sym, loss, params, [_group_element(kind, 0.0),
                                                   _group_element(kind, s)])
    data_loss = None
    if weight_decay:
        plain = symmetry.loss_function(model, X, labels)
        data_loss = torch.tensor([float(plain(symmetry.act(params, sym, a)))
                                  for a in scan.alphas.tolist()], dtype=torch.float64)
    parts = _PART_NAMES[kind]
    axes = orbit_panels(grid, scan, parts, at=s, at_loss=here.loss[1].item(), data_loss=data_loss,
                        title=f"{kind}: {sym.label}",
                        loss_label="loss" + (f" + weight decay {weight_decay:g}" if weight_decay else ""),
                        data_label="loss without weight decay")
    before, after = here.loss.tolist()
    ratio = {sign: (here.gradient_norm[sign][1] / here.gradient_norm[sign][0]).item()
             for sign in parts}
    predicted = {sign: (here.predicted_norm[sign][1] / here.predicted_norm[sign][0]).item()
                 for sign in parts}
    info = {"kind": kind, "s": float(s), "alpha": _group_element(kind, s),
            "weight_decay": float(weight_decay), "group": sym.label,
            "loss_change": abs(after - before) / abs(before), "ratio": ratio,
            "predicted_ratio": predicted, "gradient_error": here.deviation[1].item(),
            "s_min": grid[torch.argmin(scan.loss)].item() if weight_decay else None}
    return axes[0].figure, info


class SymmetryExplorer(Explorer):
    """A menu for the kind of symmetry and sliders for the group element ``s`` and the weight
    decay over :func:`symmetry_explorer_figure`, for chapter 3's two trained networks.
    Chapter 3."""

    static_grid = {"kind": list(symmetry.KINDS), "s": [-1.5, 0.0, 0.7, 1.5]}

    def __init__(self, relu_net, norm_net, X, labels, kind: str = "rescale", s: float = 0.7,
                 weight_decay: float = 0.0):
        controls = {
            "kind": widgets.Dropdown(options=list(symmetry.KINDS), value=kind,
                                     description="symmetry"),
            "s": widgets.FloatSlider(value=s, min=SYMMETRY_S_RANGE[0], max=SYMMETRY_S_RANGE[1],
                                     step=0.1, description="s", continuous_update=False),
            "weight_decay": widgets.FloatSlider(value=weight_decay, min=0.0, max=0.01,
                                                step=0.001, readout_format=".3f",
                                                description="decay", continuous_update=False),
        }
        super().__init__(partial(symmetry_explorer_figure, relu_net, norm_net, X, labels),
                         controls, [["kind"], ["s", "weight_decay"]])


#: Chapter 7's explorer: seeds per setting and the step budget (the chapter's).
REMEDY_SEEDS = 40
REMEDY_STEPS = 2000
REMEDY_RECORD_EVERY = 50


@lru_cache(maxsize=64)
def _remedy_run(kind: str, strength, every):
    from .remedies import remedy_from_knobs, train_remedy

    task = stall_task()
    remedy = remedy_from_knobs(kind, strength, every)
    return task, remedy, train_remedy(task, REMEDY_SEEDS, remedy, steps=REMEDY_STEPS,
                                      record_every=REMEDY_RECORD_EVERY, record_params=True)


def remedy_explorer_figure(remedy: str = "revival", strength: float = 1.0, every: int = 250, seed: int = 0):
    """Train seeds 0-39 of the stall problem with one remedy and draw the final win regions of
    ``seed`` next to every seed's loss curve. ``strength`` is the remedy's main knob (see
    :data:`symcourse.remedies.STRENGTH_KNOB`; ignored by remedies without one) and ``every`` the
    check period of revival and restarts. Returns ``(figure, info)``; ``info`` has the success
    count and its 95% interval, the knobs used and the example's final MSE. Chapter 7's explorer
    and its static fallback both use it.
    """
    from .remedies import KINDS, STRENGTH_KNOB
    from .stats import rate_summary

    _checks.choice("remedy", remedy, KINDS)
    _checks.positive("strength", strength)
    _checks.positive("every", every, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < REMEDY_SEEDS:
        raise ValueError(f"seed must be an integer in [0, {REMEDY_SEEDS}), got {seed!r}")
    knob = STRENGTH_KNOB[remedy]
    task, chosen, run = _remedy_run(remedy, float(strength) if knob else None,
                                    int(every) if remedy in ("revival", "restarts") else None)
    solved = run.solved
    rate = rate_summary(solved)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.3), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    theta = run.theta[seed]
    if chosen.bias:
        win_regions(theta, task, ax=left, title=f"seed {seed}, step {REMEDY_STEPS}")
    else:  # the win-region helper draws biased units: append zero biases
        win_regions(torch.cat([theta, torch.zeros(theta.shape[0], 1)], dim=1), task, ax=left,
                    title=f"seed {seed}, step {REMEDY_STEPS}")
    loss_curves(run.steps, run.loss, ~solved, ax=right, max_curves=REMEDY_SEEDS,
                title=f"{remedy}: {rate['count']} of {rate['trials']} solved")
    info = {"remedy": remedy, "knob": knob, "strength": float(strength) if knob else None,
            "every": int(every) if remedy in ("revival", "restarts") else None, "seed": seed,
            "solved": rate["count"], "trials": rate["trials"], "low": rate["low"], "high": rate["high"],
            "final_mse": float(run.final_loss[seed]), "units": int(run.theta.shape[1])}
    return fig, info


class RemedyExplorer(Explorer):
    """A remedy menu, its main knob, the check period and an example seed over
    :func:`remedy_explorer_figure`. Chapter 7."""

    static_grid = {"seed": [0, 1, 2]}

    def __init__(self, remedy: str = "revival", strength: float = 1.0, every: int = 250, seed: int = 0):
        from .remedies import KINDS

        controls = {
            "remedy": widgets.Dropdown(options=list(KINDS), value=remedy, description="remedy"),
            "strength": widgets.FloatLogSlider(value=strength, base=10, min=-2, max=1, step=0.1,
                                               description="strength", continuous_update=False),
            "every": widgets.IntSlider(value=every, min=25, max=500, step=25, description="every",
                                       continuous_update=False),
            "seed": widgets.IntSlider(value=seed, min=0, max=REMEDY_SEEDS - 1, description="seed",
                                      continuous_update=False),
        }
        super().__init__(remedy_explorer_figure, controls, [["remedy", "strength"], ["every", "seed"]])


#: Chapter 10's explorer: starting points of the product model on a circle, and the budget.
ATTRACTOR_STARTS = ((0.9, 0.2), (0.2, -0.9), (-0.7, 0.5), (-0.3, -0.8), (0.6, -0.6), (-0.9, 0.8))
ATTRACTOR_STEPS = 3000


@lru_cache(maxsize=64)
def _attractor_run(gamma: float, slope: float):
    from .attractor import scalar_data, train_product

    x, y = scalar_data(slope=slope)
    starts = tuple(zip(*ATTRACTOR_STARTS))  # all six starts at once, one run each
    return x, y, train_product(x, y, [gamma] * len(ATTRACTOR_STARTS), steps=ATTRACTOR_STEPS,
                               lr=0.05, start=starts, record_every=20)


def attractor_explorer_figure(gamma: float = 0.4, slope: float = 0.6):
    """The product model ``f = u·w·x`` on data ``y = slope·x + noise`` under weight decay
    ``gamma``: gradient-descent paths from six starts in the (u, w) plane, and each path's
    distance to the origin (the symmetric point) over steps. Returns ``(figure, info)``; ``info``
    has the predicted threshold ``|mean(xy)|``, whether ``gamma`` exceeds it and the largest
    final distance. Chapter 10's explorer and its static fallback both use it.
    """
    from .attractor import collapse_threshold

    _checks.positive("gamma", gamma, allow_zero=True)
    _checks.in_range("slope", slope, -2.0, 2.0)
    x, y, run = _attractor_run(float(gamma), float(slope))
    u, w = run.u, run.w
    c, m = (x * y).mean().item(), (x * x).mean().item()
    threshold = collapse_threshold(x, y)
    if gamma < threshold:
        r = math.sqrt((threshold - gamma) / m)
        minima = [(r, math.copysign(r, c)), (-r, -math.copysign(r, c))]
    else:
        minima = [(0.0, 0.0)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.4), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.2]})
    product_flow(u, w, minima, ax=left, title=f"λ = {gamma:.2f}, |E[xy]| = {threshold:.2f}")
    distance = torch.sqrt(u ** 2 + w ** 2)
    for k in range(distance.shape[1]):
        right.semilogy(run.steps.numpy(), distance[:, k].clamp(min=1e-16).numpy(),
                       color=UNIT_COLOURS[k % len(UNIT_COLOURS)])
    right.set(xlabel="gradient-descent step (lr 0.05)", ylabel="distance to origin √(u² + w²)",
              title="collapsed" if gamma > threshold else "stays away from the origin")
    info = {"gamma": float(gamma), "slope": float(slope), "threshold": threshold,
            "above": bool(gamma > threshold), "final_distance": distance[-1].max().item()}
    return fig, info


class AttractorExplorer(Explorer):
    """Sliders for the weight decay and the data's slope over :func:`attractor_explorer_figure`.
    Chapter 10."""

    def __init__(self, gamma: float = 0.4, slope: float = 0.6):
        controls = {
            "gamma": widgets.FloatSlider(value=gamma, min=0.0, max=1.5, step=0.05,
                                         description="λ", continuous_update=False),
            "slope": widgets.FloatSlider(value=slope, min=-1.5, max=1.5, step=0.1,
                                         description="slope", continuous_update=False),
        }
        super().__init__(attractor_explorer_figure, controls, [["gamma", "slope"]])


_PLATEAU_RUNS: dict = {}  # (eta, log_delta, seed) -> the explorer's trajectory, computed once


def _plateau_runs(etas, log_delta: float, seed: int) -> list:
    """The explorer's ODE trajectories for each learning rate in ``etas`` (one start), the
    missing ones integrated together in one batched call."""
    from .committee import Trajectory, integrate_odes, symmetric_start

    todo = [eta for eta in dict.fromkeys(etas) if (eta, log_delta, seed) not in _PLATEAU_RUNS]
    if todo:
        if len(_PLATEAU_RUNS) > 256:
            _PLATEAU_RUNS.clear()
        delta = torch.tensor([10.0 ** log_delta], dtype=torch.float64)
        start = [x.expand(len(todo), -1, -1).clone()
                 for x in symmetric_start(delta, 2, 2, seeds=[seed])]
        traj = integrate_odes(*start, torch.tensor(todo, dtype=torch.float64), PLATEAU_ALPHA,
                              dalpha=0.5)
        for k, eta in enumerate(todo):
            _PLATEAU_RUNS[eta, log_delta, seed] = Trajectory(
                traj.alpha, traj.R[:, k:k + 1], traj.Q[:, k:k + 1], traj.eps[:, k:k + 1])
    return [_PLATEAU_RUNS[eta, log_delta, seed] for eta in etas]


def _plateau_run(eta: float, log_delta: float, seed: int):
    """One trajectory; the static book's other learning rates come along in the same batch."""
    etas = [eta] + [float(e) for e in PlateauExplorer.static_grid["eta"]]
    return _plateau_runs(etas, log_delta, seed)[0]


#: Chapter 2's explorer integrates the order-parameter ODEs (K = M = 2) up to this alpha.
PLATEAU_ALPHA = 300.0


def plateau_explorer_figure(eta: float = 1.5, log_delta: float = -4.0, seed: int = 0):
    """The committee machine's order parameters (ODEs, K = M = 2) from a start of asymmetry
    10**log_delta: overlaps R_in and generalisation error against alpha, with the plateau exit
    marked. Returns (figure, info). Chapter 2."""
    from .committee import exit_time, specialisation
    from .plots import PALETTE, order_parameters

    _checks.in_range("eta", eta, 0.05, 2.5)
    _checks.in_range("log_delta", log_delta, -10.0, -1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 20:
        raise ValueError(f"seed must be an integer in [0, 20], got {seed!r}")
    traj = _plateau_run(float(eta), float(log_delta), seed)
    exit_alpha = exit_time(traj.alpha, specialisation(traj.R), 0.2)[0].item()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
    order_parameters(traj.alpha, traj.R[:, 0], traj.R[:, 0], traj.eps[:, 0], traj.eps[:, 0], axes=axes,
                     title=f"η = {eta:.2f}, δ = 1e{log_delta:.1f}")
    for ax in axes:
        if math.isfinite(exit_alpha):
            ax.axvline(exit_alpha, color=PALETTE["red"], ls=":", lw=1.2)
    info = {"eta": eta, "log_delta": log_delta, "seed": seed, "exit_alpha": exit_alpha,
            "final_eps": traj.eps[-1, 0].item()}
    return fig, info


class PlateauExplorer(Explorer):
    """Sliders for the learning rate, the initial asymmetry and the random asymmetry pattern over
    :func:`plateau_explorer_figure`. Chapter 2."""

    #: The learning rates the static book offers (their ODEs are integrated in one batch).
    static_grid = {"eta": [0.5, 1.0, 1.5, 2.0]}

    def __init__(self, eta: float = 1.5, log_delta: float = -4.0, seed: int = 0):
        controls = {
            "eta": widgets.FloatSlider(value=eta, min=0.25, max=2.0, step=0.25, description="η",
                                       continuous_update=False),
            "log_delta": widgets.FloatSlider(value=log_delta, min=-8.0, max=-2.0, step=1.0,
                                             description="log10 δ", continuous_update=False),
            "seed": widgets.IntSlider(value=seed, min=0, max=20, description="pattern",
                                      continuous_update=False),
        }
        super().__init__(plateau_explorer_figure, controls, [["eta", "log_delta"], ["seed"]])

