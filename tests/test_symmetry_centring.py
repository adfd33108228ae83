"""Unit tests for chapter 3's centring translations (symmetry.centring_groups)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symcourse import symmetry as sym
from symcourse.data import spiral_task

f64 = torch.float64


@pytest.fixture(scope="module")
def task():
    return spiral_task(n_points=90, dtype=f64, seed=4)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_centring_translations_are_exact_symmetries(task, norm):
    torch.manual_seed(3)
    normalise = (nn.LayerNorm(6, eps=1e-5) if norm == "layer"
                 else nn.BatchNorm1d(6, eps=1e-5, track_running_stats=False))
    net = nn.Sequential(nn.Linear(2, 6), normalise, nn.Tanh(), nn.Linear(6, 3)).double()
    groups = sym.centring_groups(net)
    assert len(groups) == (2 + 1 if norm == "layer" else 6)
    params, loss = sym.parameters(net), sym.loss_function(net, task.X, task.labels)
    for g in groups:
        assert g.kind == "translation"
        assert sym.loss_change(loss, params, sym.translate(params, g, 1.7)).relative < 1e-12
        # a BatchNorm bias entry's whole gradient is rounding, so compare residuals directly
        assert sym.gradient_constraint(g, loss, params).residual < 1e-12
        assert sym.hessian_constraint(g, loss, params).residual < 1e-10


def test_a_column_shift_is_not_a_batchnorm_symmetry(task):
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(2, 6), nn.BatchNorm1d(6, track_running_stats=False), nn.Tanh(),
                        nn.Linear(6, 3)).double()
    column = sym.Symmetry("translation", "column 0", {k: torch.zeros_like(v) for k, v in
                                                       sym.parameters(net).items()})
    column.signs["0.weight"][:, 0] = 1
    params, loss = sym.parameters(net), sym.loss_function(net, task.X, task.labels)
    assert sym.loss_change(loss, params, sym.translate(params, column, 1.7)).relative > 1e-3


def test_centring_groups_bad_inputs():
    with pytest.raises(ValueError, match="no nn.Linear"):
        sym.centring_groups(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(TypeError, match="Sequential"):
        sym.centring_groups(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="normalises shape"):
        sym.centring_groups(nn.Sequential(nn.Linear(2, 4), nn.LayerNorm(2)))
