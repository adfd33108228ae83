"""Self-checks for chapter 2 (plateaus, saddles and traps)."""
from __future__ import annotations

import torch

from ..committee import escape_rate, symmetric_fixed_point
from ..data import stall_task
from ..reducible import count_embeddings, max_net_fisher, plateau_or_trap
from ..sweeps import train_sweep
from . import Wrong, as_float, as_int, judge, self_check


@self_check("plateau-escape-rate")
def _escape_rate(answer):
    value = as_float(answer, "the escape rate lambda at eta = 1")
    R, Q = symmetric_fixed_point(2, 2, 1.0)
    lam, _ = escape_rate(R, Q, 1.0)
    at_chapter = escape_rate(*symmetric_fixed_point(2, 2, 1.5), 1.5)[0]
    if value <= 0:  # both known mistakes are positive: checking this first changes nothing
        raise Wrong("at the symmetric fixed point the largest eigenvalue of the Jacobian is positive: "
                    "the plateau is unstable")
    judge(value, lam, "find the symmetric fixed point for K = M = 2 at eta = 1 and take the largest "
          "real part of the eigenvalues of the ODEs' Jacobian there", rel_tol=1e-3, mistakes=(
              (at_chapter, "that is the rate at the chapter's eta = 1.5; the exercise asks for eta = 1"),
              (1 / lam, "that is the plateau time per unit of log(1/delta), 1/lambda; give lambda "
               "itself", 1e-2)))
    return f"lambda = {lam:.4f}: the plateau lasts about {1 / lam:.1f} more units of alpha per e-fold of 1/delta."


@self_check("plateau-fisher-nonzero")
def _fisher_nonzero(answer):
    value = as_int(answer, "a number of entries")
    task = stall_task()
    run = train_sweep(task, [0])
    F = max_net_fisher(run.theta[0].double(), task.X)
    expected = int(torch.count_nonzero(F))
    judge(value, expected, "build the 6 x 6 matrix (1/N) sum_n g_n g_n^T with g_n the gradient of the "
          "output at point n, and count its nonzero entries", mistakes=(
              (36, "not every entry is nonzero: look at the rows and columns of the unit that wins no "
               "point"),
              (0, "the live unit wins every point, so its block is an average of (x, y, 1)(x, y, 1)^T")))
    return f"{expected} nonzero entries: the live unit's 3 x 3 block; the dead unit's rows and columns are zero."


@self_check("plateau-count-sets")
def _count_sets(answer):
    value = as_int(answer, "a count")
    expected = count_embeddings(2, 4)
    judge(value, expected, "enumerate every way to give each of the 4 units a role: a copy of smaller "
          "unit 1, a copy of unit 2, or removed; keep the assignments that use both smaller units",
          mistakes=((14, "that counts duplications only; units with zero outgoing weight count too"),))
    return f"{expected} labelled embeddings of a width-2 network into width 4."


@self_check("plateau-bias-free-traps")
def _bias_free_traps(answer):
    value = as_int(answer, "a number of runs")
    task = stall_task()
    run = train_sweep(task, 100, bias=False, steps=2000, record_every=50, record_params=True)
    trap = plateau_or_trap(run.history, run.steps, task, window=(1500, 2000),
                           bias=False)["trap"].any(1)
    expected = int(trap.sum())
    judge(value, expected, "train seeds 0..99 with bias=False for 2000 steps, recording parameters every "
          "50 steps, and apply plateau_or_trap with window (1500, 2000); count runs with a trapped unit")
    return f"{expected} of 100 bias-free runs have a trapped unit in that window."
