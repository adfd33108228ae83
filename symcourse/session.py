"""One call that makes a notebook reproducible: ``symcourse.setup()``. Introduced in chapter 1."""
from __future__ import annotations

import os
import random
import warnings

import numpy as np
import torch

from . import _checks

#: Threads ``setup()`` gives torch unless told otherwise. One: the course's models are tiny,
#: and under background load two threads with OpenMP's default (spinning) wait policy were
#: 6-9 times slower than one thread, which needs no environment variable to stay fast
#: (README, section "Speed"; measured with benchmarks/threads_under_load.py).
DEFAULT_THREADS = 1

#: With more than one thread, OpenMP's waiting threads should sleep rather than spin. The
#: variable is read once, when torch starts, so it must be set before: the Makefile's kernel
#: and test run and tools/execute_notebooks.py set it.
WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
WAIT_POLICY = "PASSIVE"
#: The policy in force when this module (and so torch) was imported.
_POLICY_AT_IMPORT = os.environ.get(WAIT_POLICY_ENV)


def setup(seed: int = 0, threads: int | None = None, precision: int = 4, style: bool = True) -> dict:
    """Fix every random seed, the number of CPU threads, printing precision and the figure style.

    ``threads`` defaults to :data:`DEFAULT_THREADS` (one), the choice that stays fast when
    other programs share the CPU; results do not depend on it beyond the last digits of very
    large sums. With more threads it warns unless ``OMP_WAIT_POLICY=PASSIVE`` was set before
    torch started. Returns what it set, for the record. Chapter 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if threads is None:
        threads = DEFAULT_THREADS
    _checks.positive("threads", threads, integer=True)
    _checks.positive("precision", precision, integer=True)
    if threads > 1 and wait_policy() != WAIT_POLICY:
        warnings.warn(
            f"setup(threads={threads}): torch started with {WAIT_POLICY_ENV}="
            f"{_POLICY_AT_IMPORT or '(unset)'}; waiting threads spin and can slow everything "
            f"down when other programs use the CPU. Set {WAIT_POLICY_ENV}={WAIT_POLICY} before "
            "starting Python or Jupyter, or use one thread.", RuntimeWarning, stacklevel=2)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_printoptions(precision=precision, sci_mode=False)
    np.set_printoptions(precision=precision, suppress=True)
    if style:
        from .plots import use_style  # plotting is optional for computation-only users

        use_style()
    return {"seed": seed, "threads": threads, "precision": precision, "torch": torch.__version__.split("+")[0]}


def wait_policy() -> str | None:
    """The ``OMP_WAIT_POLICY`` torch started with (upper case), or None if it was unset. Chapter 1."""
    return _POLICY_AT_IMPORT.strip().upper() if _POLICY_AT_IMPORT else None
