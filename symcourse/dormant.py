"""Dormant units in a general network: find them, and recycle them as ReDo does.

A hidden unit that is (nearly) inactive on every input contributes nothing and, for ReLU-like
units, receives no gradient: the general form of chapter 1's dead max unit. ReDo
(Sokar et al., 2023) scores unit ``i`` of a layer by its mean absolute activation divided by the
layer's average, calls it dormant when the score is at most a threshold, re-initialises its
incoming weights and zeroes its outgoing ones; continual backprop (Dohare et al., 2024) does the
same by a running utility. Plain PyTorch on ``nn.Linear`` layers, for any network in which one
linear layer feeds a hidden layer that feeds another. Computation only. Introduced in chapter 7.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import _checks


def dormant_scores(activations: torch.Tensor) -> torch.Tensor:
    """ReDo's score per unit from a layer's activations (N, K) (or (S, N, K) for S networks):
    mean |activation| over the points, divided by the mean of that over the layer's units.
    A unit with score 0 is inactive on every point. Chapter 7."""
    _checks.tensor("activations", activations)
    if activations.ndim not in (2, 3):
        raise ValueError(f"activations must be (N, K) or (S, N, K), got shape {tuple(activations.shape)}")
    level = activations.abs().mean(dim=-2)
    return level / level.mean(dim=-1, keepdim=True).clamp_min(torch.finfo(level.dtype).tiny)


def active_shares(activations: torch.Tensor) -> torch.Tensor:
    """Share of the points on which each unit is active (activation > 0): (K,) or (S, K).
    The win shares of a max network play the same role. Chapter 7."""
    _checks.tensor("activations", activations)
    if activations.ndim not in (2, 3):
        raise ValueError(f"activations must be (N, K) or (S, N, K), got shape {tuple(activations.shape)}")
    return (activations > 0).to(activations.dtype).mean(dim=-2)


def _default_rows(layer: nn.Linear, rows: int, generator: torch.Generator | None):
    """Fresh rows of ``nn.Linear``'s default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(layer.in_features)
    weight = (torch.rand(rows, layer.in_features, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    bias = (torch.rand(rows, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return weight.to(layer.weight.dtype), bias.to(layer.weight.dtype)


def recycle_dormant(layer_in: nn.Linear, layer_out: nn.Linear, activations: torch.Tensor,
                    threshold: float = 0.0, optimizer: torch.optim.Optimizer | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """ReDo for one hidden layer: units whose :func:`dormant_scores` is at most ``threshold``
    get fresh incoming weights (rows of ``layer_in``, PyTorch's default initialisation, drawn
    from ``generator``) and zero outgoing weights (columns of ``layer_out``), and their entries of
    the optimiser's state (moments, momentum buffers) are zeroed. ``activations`` (N, K) are the
    layer's outputs on a batch. Returns the bool mask (K,) of recycled units. Chapter 7.
    """
    for name, layer in (("layer_in", layer_in), ("layer_out", layer_out)):
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"{name} must be a torch.nn.Linear, got {type(layer).__name__}")
    K = layer_in.out_features
    if layer_out.in_features != K:
        raise ValueError(f"layer_out takes {layer_out.in_features} inputs but layer_in has {K} units")
    _checks.tensor("activations", activations, shape=(None, K))
    _checks.positive("threshold", threshold, allow_zero=True)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    dormant = dormant_scores(activations.detach()) <= threshold
    if not dormant.any():
        return dormant
    weight, bias = _default_rows(layer_in, int(dormant.sum()), generator)
    with torch.no_grad():
        layer_in.weight[dormant] = weight
        if layer_in.bias is not None:
            layer_in.bias[dormant] = bias
        layer_out.weight[:, dormant] = 0
        if optimizer is not None:
            for p, index in ((layer_in.weight, (dormant,)), (layer_in.bias, (dormant,)),
                             (layer_out.weight, (slice(None), dormant))):
                for value in optimizer.state.get(p, {}).values() if p is not None else ():
                    if isinstance(value, torch.Tensor) and value.shape == p.shape:
                        value[index] = 0
    return dormant


__all__ = ["dormant_scores", "active_shares", "recycle_dormant"]
