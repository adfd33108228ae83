"""Chapter 8's teleportation study, in the setting of Zhao, Dehmamy, Walters & Yu (2022).

A LeakyReLU regression network (``symcourse.gl_teleport.DIMS``: 4 samples, widths 5-6-7-8,
every entry uniform on [0, 1)) trained by full-batch gradient descent for 300 steps, with and
without teleportation (gradient ascent on the squared gradient norm over GL(n) acting between
layers, 8 ascent steps, before steps 5, 10 and 15). Two comparisons on seeds 0-19:

* ``reference``: gradient descent at the learning rate of the authors' code (1e-4) for both;
  only the teleport step size is tuned (seeds 100-104);
* ``tuned``: each method's learning rate tuned on seeds 100-104 (gradient descent alone, and
  the learning rate and teleport step size jointly for teleportation).

Tuning minimises the median loss at step ``AT`` over the rates at which no tuning seed
diverged. The speed-up of a seed is the number of steps
(and seconds) gradient descent needs to reach its own loss at step ``AT``, divided by what
gradient descent with teleportation needs to reach that loss. Writes
symcourse/stored/teleport_study.json, which chapter 8 reads (it re-runs seed 0 live and checks
it against this file). Takes a few minutes on one core:

    .venv/bin/python benchmarks/teleport_study.py
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symcourse import gl_teleport as gt  # noqa: E402

STEPS, AT = 300, 100
SCHEDULE, ASCENT_STEPS = (5, 10, 15), 8
REFERENCE_LR = 1e-4
LRS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3)
TELEPORT_LRS = (3e-9, 1e-8, 3e-8, 1e-7)
TUNING_SEEDS = tuple(range(100, 105))
SEEDS = tuple(range(20))
EVERY = 5  # stored curves keep every 5th step
OUT = ROOT / "symcourse" / "stored" / "teleport_study.json"


def run(seed, lr, teleport_lr=None):
    weights, X, Y = gt.regression_problem(seed=seed)
    if teleport_lr is None:
        return gt.train(weights, X, Y, lr=lr, steps=STEPS)
    return gt.train(weights, X, Y, lr=lr, steps=STEPS, teleport_at=SCHEDULE,
                    teleport_lr=teleport_lr, teleport_steps=ASCENT_STEPS)


def score(lr, teleport_lr=None):
    """Median loss at step AT over the tuning seeds; inf if any of them diverged (a rate that
    diverges on one seed in five is not one a practitioner would keep)."""
    losses = []
    for seed in TUNING_SEEDS:
        r = run(seed, lr, teleport_lr)
        value = r.loss[AT] if len(r.loss) > AT else math.inf
        losses.append(value if math.isfinite(value) else math.inf)
    return statistics.median(losses) if math.isfinite(max(losses)) else math.inf


def record(r):
    return {"loss": [float(f"{v:.6g}") for v in r.loss[::EVERY]],
            "seconds": [round(v, 4) for v in r.seconds[::EVERY]],
            "teleports": [[float(f"{v:.6g}") for v in t] for t in r.teleports],
            "final": r.loss[-1]}


def compare(lr_gd, lr_tp, teleport_lr):
    seeds = []
    for seed in SEEDS:
        plain, moved = run(seed, lr_gd), run(seed, lr_tp, teleport_lr)
        seeds.append({"seed": seed, "gd": record(plain), "teleport": record(moved),
                      **gt.speedup(plain, moved, AT)})
    return seeds


def main():
    torch.set_num_threads(1)
    start = time.perf_counter()
    tuning = {"gd": {str(lr): score(lr) for lr in LRS}}
    print(f"gradient descent tuned ({time.perf_counter() - start:.0f} s)", flush=True)
    tuning["teleport"] = {f"{lr},{tlr}": score(lr, tlr) for lr in LRS for tlr in TELEPORT_LRS}
    print(f"teleportation tuned ({time.perf_counter() - start:.0f} s)", flush=True)
    best_gd = min(LRS, key=lambda lr: tuning["gd"][str(lr)])
    best_ref = min(TELEPORT_LRS, key=lambda t: tuning["teleport"][f"{REFERENCE_LR},{t}"])
    best_tp = min(((lr, t) for lr in LRS for t in TELEPORT_LRS),
                  key=lambda c: tuning["teleport"][f"{c[0]},{c[1]}"])
    results = {
        "settings": {"steps": STEPS, "at": AT, "schedule": SCHEDULE,
                     "ascent_steps": ASCENT_STEPS, "every": EVERY, "dims": gt.DIMS,
                     "slope": gt.SLOPE},
        "lrs": LRS, "teleport_lrs": TELEPORT_LRS, "tuning_seeds": TUNING_SEEDS,
        "seeds": SEEDS, "tuning": tuning,
        "reference": {"lr": REFERENCE_LR, "teleport_lr": best_ref,
                      "seeds": compare(REFERENCE_LR, REFERENCE_LR, best_ref)},
        "tuned": {"lr": best_gd, "teleport_method_lr": best_tp[0],
                  "teleport_lr": best_tp[1], "seeds": compare(best_gd, *best_tp)},
    }
    for part in ("reference", "tuned"):
        ratios = [s["step_ratio"] for s in results[part]["seeds"]]
        print(part, gt.summarise_speedups(ratios), flush=True)
    for table in tuning.values():  # JSON has no infinity: a diverged setting is stored as null
        table.update({k: (v if math.isfinite(v) else None) for k, v in table.items()})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
