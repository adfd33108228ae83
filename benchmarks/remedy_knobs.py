"""How chapter 7's knobs were chosen: a small grid per remedy on the stall problem.

Each remedy with a knob is trained on seeds 1000-1199 of the stall problem (not the seeds the
chapter reports), with the chapter's budget of 2000 Adam steps, for every value in its grid; the
script prints the number of solved runs per value. ``symcourse.remedies.standard_remedies`` holds
the value with the most solved runs (for more units, the cheaper factor 2: factor 4 costs four
times the baseline). Takes a minute or two: ``python benchmarks/remedy_knobs.py``.
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
}


def main():
    symcourse.setup(style=False)
    task = stall_task()
    base = remedies.train_remedy(task, SEEDS, steps=BUDGET, record_every=BUDGET)
    print(f"baseline: {int(base.solved.sum())} of {len(SEEDS)} solved")
    for name, values in GRID.items():
        counts = []
        for value, remedy in values:
            run = remedies.train_remedy(task, SEEDS, remedy, steps=BUDGET, record_every=BUDGET)
            counts.append(f"{value:g}: {int(run.solved.sum())}")
        print(f"{name}: " + ", ".join(counts), flush=True)


if __name__ == "__main__":
    main()
