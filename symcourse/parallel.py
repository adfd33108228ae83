"""Independent computations side by side on the CPU's cores, one thread each.

PyTorch lets go of Python's global lock inside its operations, so two seed sweeps started
from two threads run on two cores at once, each with a single intra-op thread (the fastest
setting for the course's small tensors, and one that does not spin when other programs use
the CPU). Every job is deterministic on its own (its own seeds and random generators; none
touches the global RNG), so results do not depend on the number of workers or on the order
in which the jobs finish. Introduced in chapter 1 (the follow-up experiments).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch

from . import _checks

#: Workers :func:`run_jobs` uses by default: two, or one on a single-core machine.
WORKERS = max(1, min(2, os.cpu_count() or 1))


def run_jobs(jobs: dict, workers: int | None = None) -> dict:
    """Call every job of ``jobs`` (label -> function of no arguments); return label -> result,
    in the order of ``jobs``. ``workers`` threads (default :data:`WORKERS`) take the jobs in
    turn; meanwhile torch runs with one intra-op thread (restored afterwards). The first
    exception a job raises is raised here, once every started job has ended. Chapter 1.
    """
    if not isinstance(jobs, dict) or not jobs:
        raise ValueError(f"jobs must be a non-empty dict of label -> function, got {jobs!r:.80}")
    for label, job in jobs.items():
        _checks.function(f"jobs[{label!r}]", job, "a function of no arguments")
    workers = WORKERS if workers is None else _checks.integer("workers", workers, low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers == 1 or len(jobs) == 1:
            return {label: job() for label, job in jobs.items()}
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            futures = {label: pool.submit(job) for label, job in jobs.items()}
            return {label: future.result() for label, future in futures.items()}
    finally:
        torch.set_num_threads(previous)


__all__ = ["WORKERS", "run_jobs"]
