"""Benchmark: which threading set-up keeps a chapter-1-like workload fast when the cores are busy.

Each configuration (torch threads x ``OMP_WAIT_POLICY``) runs the same small workload (a batched
sweep with the exact engine, the one the chapters store, then a plain per-seed loop) in a fresh
Python process, because the wait policy only takes effect if set before torch starts. The
configurations are interleaved and repeated, first on the machine as it is, then with one extra
busy process per core (``--load``, started and stopped here). Prints the median wall time of
each configuration in each condition. ``symcourse.setup()``'s default comes from this.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {  # label: (threads, OMP_WAIT_POLICY or None for the library default)
    "1 thread": (1, None),
    "1 thread, passive": (1, "PASSIVE"),
    "2 threads": (2, None),
    "2 threads, passive": (2, "PASSIVE"),
}

WORKLOAD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from symcourse.data import stall_task
from symcourse.sweeps import train_loop, train_sweep
task = stall_task()
start = time.perf_counter()
train_sweep(task, {seeds}, steps={steps}, record_every=50, progress=False)
train_loop(task, 1, steps={steps}, threads=int(sys.argv[1]))
print(time.perf_counter() - start)
"""


def run_config(threads: int, policy: str | None, seeds: int, steps: int) -> float:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("OMP_NUM_THREADS", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", WORKLOAD.format(seeds=seeds, steps=steps), str(threads)],
                         env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(label: str, repeats: int, seeds: int, steps: int) -> dict[str, float]:
    times = {name: [] for name in CONFIGS}
    for _ in range(repeats):
        for name, (threads, policy) in CONFIGS.items():
            times[name].append(run_config(threads, policy, seeds, steps))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, value in medians.items():
        print(f"{label:>24} | {name:<20} | median {value:6.2f} s of {repeats} "
              f"(range {min(times[name]):.2f}-{max(times[name]):.2f})", flush=True)
    return medians


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy processes for the loaded condition (default: one per core)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--loaded-only", action="store_true", help="skip the first condition")
    args = parser.parse_args(argv)
    if not args.loaded_only:
        measure("as the machine is", args.repeats, args.seeds, args.steps)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        time.sleep(1.0)
        measure(f"+{args.load} busy processes", args.repeats, args.seeds, args.steps)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
