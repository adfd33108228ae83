"""Benchmark: the batched sweep engine against the plain per-seed loop (the question's code shape).

Both run in this process on the stall problem (1000 points, Adam, lr 0.02), each at its best
thread count (1 or 2), and the script prints seed-steps per second for both, their ratio, and how
closely the two agree on the seeds they share. Run with `make bench`.
"""
from __future__ import annotations

import argparse

import torch

from symcourse.data import stall_task
from symcourse.sweeps import train_loop, train_sweep


def best_rate(run, threads_options, repeats):
    """Highest seed-steps per second of ``run(threads)`` over thread counts and ``repeats`` runs
    each (the best run is the least disturbed by other work on the machine), with its result."""
    best = None
    for threads in threads_options:
        torch.set_num_threads(threads)
        results = [run(threads) for _ in range(repeats)]
        result = max(results, key=lambda r: r.seed_steps_per_second)
        rate = result.seed_steps_per_second
        print(f"    {threads} thread(s): {rate:12,.0f} seed-steps/s (best of {repeats})")
        if best is None or rate > best[0]:
            best = (rate, threads, result)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-seeds", type=int, default=4)
    parser.add_argument("--sweep-seeds", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    task = stall_task()
    threads = [1, 2]

    print(f"plain loop ({args.loop_seeds} seeds x {args.steps} steps, torch.optim.Adam + autograd):")
    loop_rate, loop_threads, loop = best_rate(lambda n: train_loop(task, args.loop_seeds, steps=args.steps, threads=n), threads, args.repeats)
    print(f"sweep engine ({args.sweep_seeds} seeds x {args.steps} steps, batched):")
    sweep_rate, sweep_threads, sweep = best_rate(
        lambda n: train_sweep(task, args.sweep_seeds, steps=args.steps), threads, args.repeats)

    shared = slice(0, args.loop_seeds)
    loss_gap = (sweep.loss[:, shared] - loop.loss).abs().max().item()
    torch.set_num_threads(1)
    exact = stall_task(dtype=torch.float64)
    loop64 = train_loop(exact, args.loop_seeds, steps=500, dtype=torch.float64)
    sweep64 = train_sweep(exact, args.loop_seeds, steps=500, dtype=torch.float64)
    param_gap64 = (loop64.theta - sweep64.theta).abs().max().item()

    print()
    print(f"loop : {loop_rate:12,.0f} seed-steps/s (best at {loop_threads} thread(s))")
    print(f"sweep: {sweep_rate:12,.0f} seed-steps/s (best at {sweep_threads} thread(s))")
    print(f"ratio: {sweep_rate / loop_rate:.0f}x")
    print(f"agreement on shared seeds: float32 losses to {loss_gap:.1e}; float64 parameters after 500 steps to {param_gap64:.1e}")


if __name__ == "__main__":
    main()
