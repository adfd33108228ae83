"""Interactive explorers. Each has a plain function that draws its figure for given settings
(the static fallback the built book shows) and a widget that calls it. Top layer."""
from __future__ import annotations

from functools import lru_cache

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from . import _checks
from .data import stall_task
from .plots import loss_curves, win_regions
from .stall import is_stalled, win_fractions
from .sweeps import train_sweep

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
    _checks.in_range("step", step, 0, EXPLORER_STEPS)
    task, run = _stall_run(seed, float(lr), bool(bias))
    row = int(round(step / EXPLORER_RECORD_EVERY))
    theta = run.history[row, 0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.4, 3.3), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.25]})
    win_regions(theta, task, ax=left, title=f"seed {seed}, step {int(run.steps[row])}")
    stalled = is_stalled(run.final_loss)
    loss_curves(run.steps, run.loss, stalled, ax=right, title=f"lr {lr:g}, bias {'on' if bias else 'off'}")
    right.axvline(int(run.steps[row]), color="k", lw=0.8, ls=":")
    info = {"seed": seed, "lr": lr, "bias": bias, "step": int(run.steps[row]), "loss": float(run.loss[row, 0]),
            "win_fractions": win_fractions(theta, task.X).tolist(), "stalled": bool(stalled[0])}
    return fig, info


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


class StallExplorer:
    """Sliders for seed, learning rate, bias and training step over :func:`stall_explorer_figure`.

    ``controls`` maps names to the widgets, ``info`` is what the figure currently shows, and
    ``widget`` is what to display. Chapter 1.
    """

    def __init__(self, seed: int = 0, lr: float = 0.02, bias: bool = True, step: int = EXPLORER_STEPS):
        self.controls = {
            "seed": widgets.IntSlider(value=seed, min=0, max=99, description="seed"),
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=-0.5, step=0.25, description="lr"),
            "bias": widgets.Checkbox(value=bias, description="bias"),
            "step": widgets.IntSlider(value=step, min=0, max=EXPLORER_STEPS, step=EXPLORER_RECORD_EVERY,
                                      description="step", continuous_update=False),
        }
        self.output = widgets.Output()
        self.info: dict = {}
        for control in self.controls.values():
            control.observe(self._redraw, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.controls["seed"], self.controls["lr"]]),
                                    widgets.HBox([self.controls["step"], self.controls["bias"]]), self.output])
        self._redraw()

    def _redraw(self, _change=None):
        values = {name: control.value for name, control in self.controls.items()}
        fig, self.info = stall_explorer_figure(**values)
        with self.output:
            self.output.clear_output(wait=True)
            if _in_ipython():
                from IPython.display import display

                display(fig)
        plt.close(fig)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
