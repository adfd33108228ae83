"""How chapter 7's knobs were chosen: a small grid per remedy on the stall problem.

Each remedy with a knob is trained on seeds 1000-1199 of the stall problem (not the seeds the
chapter reports), with the chapter's budget of 2000 Adam steps, for every value in its grid; the
script prints the number of solved runs per value. ``symcourse.remedies.standard_remedies`` holds
the value with the most solved runs (for more units, the cheaper factor 2: factor 4 costs four
times the baseline). Takes a few minutes: ``python benchmarks/remedy_knobs.py``; give part of
a remedy's name (``python benchmarks/remedy_knobs.py leaky``) to run only its grid, and ``hinge`` for the
recipe's second network.
"""
from __future__ import annotations

import symcourse
from symcourse import remedies
from symcourse.data import stall_task

SEEDS = range(1000, 1200)
BUDGET = 2000
GRID = {
    "smooth max (temperature)": [(t, remedies.smooth_max(t)) for t in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)],
    "load balancing (weight)": [(w, remedies.load_balancing(w)) for w in (0.03, 0.1, 0.3)],
    "noise (scale)": [(s, remedies.noise_injection(s)) for s in (0.02, 0.05, 0.2)],
    "revival (every)": [(e, remedies.dead_unit_revival(e)) for e in (50, 100, 250)],
    "restarts (every)": [(e, remedies.restarts(e)) for e in (50, 100, 250)],
    "more units (factor)": [(f, remedies.more_units(f)) for f in (2, 4)],
    "leaky max (leak)": [(a, remedies.leaky_max(a)) for a in (0.01, 0.03, 0.1, 0.3)],
    "bias nudging (step)": [(g, remedies.bias_nudging(g)) for g in (0.001, 0.003, 0.01, 0.03)],
    "recycling (every)": [(e, remedies.dormant_recycling(e)) for e in (50, 100, 250)],
    "dropout after (p)": [(p, remedies.dropout_revival(p)) for p in (0.02, 0.05, 0.1, 0.2)],
    "natural gradient (lr)": [(lr, lr) for lr in (0.1, 0.3, 1.0)],
}


def hinge_grid():
    """The recipe's second network (chapter 7): recycling's check period and the spare-unit
    fallback, on seeds 1000-1199 of the hinge task."""
    from symcourse import hinges

    task = hinges.hinge_task()
    base = hinges.train_hinges(task, SEEDS, steps=BUDGET)
    print(f"hinge baseline: {int(base.solved.sum())} of {len(SEEDS)} solved")
    for units in (3, 4):
        counts = []
        for every in (50, 100, 250):
            run = hinges.train_hinges(task, SEEDS, "recycling", units=units, every=every, steps=BUDGET)
            counts.append(f"{every}: {int(run.solved.sum())}")
        print(f"hinge recycling, {units} units (every): " + ", ".join(counts), flush=True)


def main(only: str = ""):
    """Print the grid; ``only`` restricts it to the remedies whose name contains that text."""
    symcourse.setup(style=False)
    task = stall_task()
    if only == "hinge":
        hinge_grid()
        return
    base = remedies.train_remedy(task, SEEDS, steps=BUDGET, record_every=BUDGET)
    print(f"baseline: {int(base.solved.sum())} of {len(SEEDS)} solved")
    for name, values in GRID.items():
        if only not in name:
            continue
        counts = []
        for value, remedy in values:
            if name.startswith("natural gradient"):  # its own trainer, 100 steps (chapter 7)
                run = remedies.train_natural_gradient(task, SEEDS, steps=100, lr=remedy)
            else:
                run = remedies.train_remedy(task, SEEDS, remedy, steps=BUDGET, record_every=BUDGET)
            counts.append(f"{value:g}: {int(run.solved.sum())}")
        print(f"{name}: " + ", ".join(counts), flush=True)


if __name__ == "__main__":
    import sys

    main(" ".join(sys.argv[1:]))
