"""One call that makes a notebook reproducible: ``symcourse.setup()``. Introduced in chapter 1."""
from __future__ import annotations

import random

import numpy as np
import torch

from . import _checks


def setup(seed: int = 0, threads: int = 2, precision: int = 4, style: bool = True) -> dict:
    """Fix every random seed, the number of CPU threads, printing precision and the figure style.

    Two threads suit the batched sweeps on a laptop; results do not depend on the choice beyond
    the last digits of very large sums. Returns what it set, for the record. Chapter 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _checks.positive("threads", threads, integer=True)
    _checks.positive("precision", precision, integer=True)
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
