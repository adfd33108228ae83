"""Chapter 8's depth study: does rebalancing make very deep plain ReLU networks trainable?

The claim tested (seed 002 of the course): resetting each neuron's rescale symmetry to the value
that minimises the total gradient norm made 100+ layer plain ReLU networks trainable and faster.
For each depth and method the learning rate is tuned on seeds 100-101 (median cost, see
``symcourse.depth.cost``; ties, such as no rate reaching the target, broken by the median final
loss), then 10 seeds (0-9) are trained at that rate; steps and seconds to the
target loss are recorded. Writes symcourse/stored/depth_study.json (shipped with the package),
which chapter 8 reads (it re-runs one cell live and checks it against this file). Takes about
15-20 minutes on two idle cores (seven learning rates):

    .venv/bin/python benchmarks/depth_study.py

Parts can run in parallel and be merged: ``--depths 100 --methods none --part FILE`` writes one
part, and ``--merge FILE [FILE ...]`` combines parts into symcourse/stored/depth_study.json in the
order of DEPTHS and METHODS. ``--reuse FILE`` keeps, from an earlier file with the same settings
and seeds, the tuning scores of the rates it already tried and the reported runs of a cell whose
tuned rate did not change, and computes only the rest: a run is deterministic (one thread,
float32 on the CPU, seeded batches), so the steps come out the same; only the recorded seconds
are those of the earlier run. Chapter 8 re-runs one cell live and checks it.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symcourse import depth as dp  # noqa: E402
from symcourse.data import mnist1d_task  # noqa: E402

SETTINGS = dict(steps=500, target=2.0, every=10, batch_size=100, width=32)
DEPTHS = (10, 50, 100)
LRS = (0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
TUNING_SEEDS = (100, 101)
SEEDS = tuple(range(10))
OUT = ROOT / "symcourse" / "stored" / "depth_study.json"


def task():
    """The data of the study: 1,000 MNIST-1D training signals."""
    return mnist1d_task(n_samples=1250)


def run(depth, method, lr, seed):
    r = dp.train_deep(task_data, depth, method, lr, seed=seed, **SETTINGS)
    return {"steps": r.steps_to_target, "diverged": r.diverged, "seconds": round(r.seconds, 3),
            "final": r.losses[-1] if r.losses else None}


def reusable(path):
    """(depth, method) -> the cell of an earlier study with the same settings and seeds."""
    if path is None:
        return {}
    old = json.loads(path.read_text())
    same = (old["settings"] == SETTINGS and tuple(old["seeds"]) == SEEDS
            and tuple(old["tuning_seeds"]) == TUNING_SEEDS)
    if not same:
        raise SystemExit(f"{path} has other settings or seeds: nothing in it can be reused")
    return {(c["depth"], c["method"]): c for c in old["cells"]}


def study(depths, methods, earlier=None):
    earlier = earlier or {}
    cells, start = [], time.perf_counter()
    for depth in depths:
        for method in methods:
            kept = earlier.get((depth, method), {"tuning": {}, "lr": None})
            tuning = {}
            for lr in LRS:
                if str(lr) in kept["tuning"]:
                    tuning[lr] = tuple(kept["tuning"][str(lr)])
                    continue
                tried = [run(depth, method, lr, s) for s in TUNING_SEEDS]
                # rank by median cost, then (when no rate reaches the target) by median final
                # loss, a diverged run counting as infinitely bad
                tuning[lr] = (statistics.median(dp.cost(dp.DepthRun(
                    r["steps"], r["diverged"], 0, []), SETTINGS["steps"]) for r in tried),
                    statistics.median(math.inf if r["diverged"] or r["final"] is None
                                      else r["final"] for r in tried))
            best = min(LRS, key=lambda lr: tuning[lr])
            runs = (kept["runs"] if kept["lr"] == best
                    else [run(depth, method, best, s) for s in SEEDS])
            cells.append({"depth": depth, "method": method, "lr": best,
                          "tuning": {str(k): list(v) for k, v in tuning.items()},
                          "runs": runs})
            reached = sum(r["steps"] is not None for r in runs)
            print(f"depth {depth:>3} {method:>17}: lr {best}, reached {reached}/{len(runs)}"
                  f" ({time.perf_counter() - start:.0f} s)", flush=True)
    return cells


def write(cells):
    order = {(d, m): k for k, (d, m) in enumerate((d, m) for d in DEPTHS for m in dp.METHODS)}
    results = {"settings": SETTINGS, "lrs": LRS, "tuning_seeds": TUNING_SEEDS, "seeds": SEEDS,
               "cells": sorted(cells, key=lambda c: order[c["depth"], c["method"]])}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=list(DEPTHS))
    parser.add_argument("--methods", nargs="+", default=list(dp.METHODS))
    parser.add_argument("--part", type=Path, help="write only these cells to this file")
    parser.add_argument("--merge", type=Path, nargs="+", help="combine part files")
    parser.add_argument("--reuse", type=Path, help="an earlier study to take results from")
    args = parser.parse_args()
    if args.merge:
        write([c for part in args.merge for c in json.loads(part.read_text())])
        sys.exit(0)
    torch.set_num_threads(1)
    task_data = task()
    cells = study(args.depths, args.methods, reusable(args.reuse))
    if args.part:
        args.part.write_text(json.dumps(cells) + "\n")
    else:
        write(cells)
