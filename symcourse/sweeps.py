"""Train many seeds of the max-of-affine-units network at once.

All seeds form one batched problem: parameters (S, K, D+1), hand-derived gradients, and Adam or
SGD written as tensor updates that follow ``torch.optim`` operation by operation, so each seed's
trajectory equals the plain per-seed PyTorch loop (:func:`train_loop`) up to float rounding.
Seeds are processed in chunks small enough to stay in cache. Introduced in chapter 1.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from . import _checks
from .data import MaxAffineTask
from .progress import progress_bar
from .models import augment, init_theta, load_theta, mse, question_network, theta_from_network

OPTIMIZERS = ("adam", "sgd")
ENGINES = ("exact", "gram")


@dataclass
class SweepResult:
    """What a sweep returns. ``loss[t, s]`` is seed ``s``'s training loss at step ``steps[t]``.

    The loss at step ``t`` is evaluated before that step's update (as the question's loop logs it),
    and the last row is the loss after the final update. ``history`` holds the parameters at the
    same steps when the sweep was asked to record them.
    """

    seeds: list[int]
    theta0: torch.Tensor
    theta: torch.Tensor
    steps: torch.Tensor
    loss: torch.Tensor
    history: torch.Tensor | None
    config: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def final_loss(self) -> torch.Tensor:
        """Training-mode loss after the last update, one per seed."""
        return self.loss[-1]

    @property
    def seed_steps_per_second(self) -> float:
        return len(self.seeds) * self.config["steps"] / self.seconds


class _Adam:
    """Adam on one tensor, in the operation order of ``torch.optim.Adam`` (single-tensor path)."""

    def __init__(self, theta, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, (self.beta1, self.beta2), self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = torch.zeros_like(theta)
        self.exp_avg_sq = torch.zeros_like(theta)
        self.t = 0

    def step(self, theta, grad):
        if self.weight_decay:
            grad = grad.add(theta, alpha=self.weight_decay)
        self.t += 1
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        step_size = self.lr / (1 - self.beta1 ** self.t)
        denom = (self.exp_avg_sq.sqrt() / (1 - self.beta2 ** self.t) ** 0.5).add_(self.eps)
        theta.addcdiv_(self.exp_avg, denom, value=-step_size)


class _SGD:
    """SGD with optional heavy-ball momentum, in the operation order of ``torch.optim.SGD``."""

    def __init__(self, theta, lr, momentum=0.0, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buf = None

    def step(self, theta, grad):
        if self.weight_decay:
            grad = grad.add(theta, alpha=self.weight_decay)
        if self.momentum:
            if self.buf is None:
                self.buf = grad.clone()
            else:
                self.buf.mul_(self.momentum).add_(grad)
            grad = self.buf
        theta.add_(grad, alpha=-self.lr)


def _make_optimizer(name, theta, lr, betas, eps, momentum, weight_decay):
    if name == "adam":
        return _Adam(theta, lr, betas, eps, weight_decay)
    return _SGD(theta, lr, momentum, weight_decay)


def _torch_optimizer(name, params, lr, betas, eps, momentum, weight_decay):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def winner_mask(z: torch.Tensor) -> torch.Tensor:
    """Which unit wins each point: a boolean (S, K, N) mask from unit outputs ``z`` (S, K, N).

    Ties go to the lowest-numbered unit, as in ``MaxPool1d``. Introduced in chapter 1.
    """
    if not isinstance(z, torch.Tensor) or z.ndim != 3:  # cheap: this runs at every training step
        raise TypeError(f"z must be a tensor of unit outputs (S, K, N), got {type(z).__name__} "
                        f"of shape {tuple(getattr(z, 'shape', ()))}")
    if z.shape[1] == 2:
        second = z[:, 1] > z[:, 0]
        return torch.stack([~second, second], dim=1)
    mask = z == z.amax(dim=1, keepdim=True)
    return mask & (mask.cumsum(dim=1) == 1)


class Workspace:
    """Preallocated buffers for :func:`loss_and_grad` on S seeds, K units, N points, A inputs.

    Reusing them across steps keeps every operation free of memory allocation, which for
    megabyte-sized tensors would otherwise cost a page-faulting round trip to the OS per operation.
    """

    def __init__(self, S: int, K: int, N: int, A: int, dtype: torch.dtype):
        self.z = torch.empty(K, S, N, dtype=dtype)
        self.per_unit = torch.empty(K, S, N, dtype=dtype)
        self.out = torch.empty(S, N, dtype=dtype)
        self.residual = torch.empty(S, N, dtype=dtype)
        self.scaled = torch.empty(S, N, dtype=dtype)
        self.winner = torch.empty(S, N, dtype=torch.uint8)
        self.better = torch.empty(S, N, dtype=torch.bool)
        self.grad = torch.empty(S, K, A, dtype=dtype)


def loss_and_grad(theta, Xa, y, *, input_scale=None, unit_scale=None, need_loss=True, workspace=None):
    """MSE of the max network and its gradient with respect to ``theta``, for all seeds at once.

    ``Xa`` is (N, A) inputs (with a ones column when the units have biases); ``theta`` is (S, K, A).
    ``input_scale`` (S, N, A) and ``unit_scale`` (S, K, N) are inverted-dropout masks (kept entries
    equal to ``1/(1-p)``) applied before and after the linear layer. The gradient of the max flows
    to the winning unit only (ties to the lowest index, as in ``MaxPool1d``).
    Returns ``(loss (S,) or None, grad (S, K, A))``; with a :class:`Workspace` the gradient is one
    of its buffers, overwritten by the next call. Introduced in chapter 1.

    Each unit is handled as one contiguous (S, N) slab, and all seeds' units go through one
    matrix product each way: that is what makes the sweep fast.
    """
    S, K, A = theta.shape
    N = Xa.shape[0]
    ws = workspace or Workspace(S, K, N, A, theta.dtype)
    if input_scale is not None:  # each seed sees its own inputs, stored input-major: (A, S, N)
        inputs = Xa.T.unsqueeze(1) * input_scale.permute(2, 0, 1)
    if input_scale is None:  # every unit of every seed in one product, unit-major (K*S, N)
        torch.mm(theta.transpose(0, 1).reshape(K * S, A), Xa.T, out=ws.z.view(K * S, N))
    for k in range(K):
        if input_scale is not None:
            torch.mul(inputs[0], theta[:, k, :1], out=ws.z[k])
            for a in range(1, A):
                ws.z[k].addcmul_(inputs[a], theta[:, k, a:a + 1])
        if unit_scale is not None:
            ws.z[k].mul_(unit_scale[:, k])
    if K == 2:  # the common case, in fewer passes: unit 1 wins where it is strictly larger
        torch.gt(ws.z[1], ws.z[0], out=ws.better)
        torch.maximum(ws.z[0], ws.z[1], out=ws.out)
    else:
        ws.out.copy_(ws.z[0])
        ws.winner.zero_()
        for k in range(1, K):
            torch.gt(ws.z[k], ws.out, out=ws.better)
            ws.winner.masked_fill_(ws.better, k)
            torch.maximum(ws.out, ws.z[k], out=ws.out)
    torch.sub(ws.out, y, out=ws.residual)
    torch.mul(ws.residual, 2.0 / N, out=ws.scaled)
    if K == 2:  # a 0/1 factor of the same dtype gives the same products as the boolean mask
        torch.mul(ws.scaled, ws.better.to(ws.scaled.dtype, copy=False), out=ws.per_unit[1])
        torch.sub(ws.scaled, ws.per_unit[1], out=ws.per_unit[0])
    else:
        for k in range(K):
            torch.eq(ws.winner, k, out=ws.better)
            torch.mul(ws.scaled, ws.better, out=ws.per_unit[k])
    for k in range(K):
        if unit_scale is not None:
            ws.per_unit[k].mul_(unit_scale[:, k])
        if input_scale is None:
            torch.mm(ws.per_unit[k], Xa, out=ws.grad[:, k])
        else:
            torch.bmm(inputs.transpose(0, 1), ws.per_unit[k].unsqueeze(-1), out=ws.grad[:, k].unsqueeze(-1))
    loss = ws.residual.square().mean(dim=1) if need_loss else None
    return loss, ws.grad


class GramEngine:
    """The gradient from each unit's region moments: the fast engine (``engine="gram"``).

    Unit ``k``'s gradient of the MSE is ``(2/N) * sum over the points it wins of
    (theta_k . x - y) x = (2/N) (G_k theta_k - b_k)``, with the region's Gram matrix
    ``G_k = sum x x^T`` and moment ``b_k = sum y x`` (``x`` with its ones column). So a step
    needs the winners (one matrix product for all units) and one product of the 0/1 winner
    masks with a fixed table of per-point features ``[x_i x_j (i <= j), y x, 1]`` (with two
    units only for the smaller region of each seed, the other being the totals minus it);
    everything else is (S, K, A)-sized. The sums are taken in another order than :func:`loss_and_grad`,
    so results agree with it (and the per-seed loop) up to float rounding, not bit for bit.
    With dropout (``dropout_before`` on the ``in_dim`` inputs, ``dropout_after`` on the units'
    outputs) the masks of each step come from :meth:`draw`, the same random numbers as the
    point-by-point engine uses, and the sums run over the points a unit wins and keeps
    (:meth:`_dropout_setup`). Introduced in chapter 1 (the sweep engine).
    """

    def __init__(self, S: int, K: int, Xa: torch.Tensor, y: torch.Tensor, *,
                 dropout_before: float = 0.0, dropout_after: float = 0.0, in_dim: int | None = None):
        N, A = Xa.shape
        self.S, self.K, self.N, self.A = S, K, N, A
        self.p_before, self.p_after = dropout_before, dropout_after
        self.D = A if in_dim is None else in_dim  # inputs that dropout before the layer touches
        rows, cols = torch.triu_indices(A, A)
        # (M, N), M = A(A+1)/2 + A + 1: the features whose region sums give G_k, b_k and the
        # number of points the unit wins
        self.features = torch.cat([(Xa[:, rows] * Xa[:, cols]).T, (Xa * y[:, None]).T,
                                   torch.ones(1, N, dtype=Xa.dtype)]).contiguous()
        self.totals = self.features.sum(dim=1, keepdim=True)
        pair = torch.empty(A, A, dtype=torch.long)
        pair[rows, cols] = torch.arange(len(rows))
        pair[cols, rows] = torch.arange(len(rows))
        self.pair = pair.view(-1)  # G_k[i, j] = sums[pair[i, j]]
        self.moment = slice(len(rows), len(rows) + A)  # b_k = sums[moment]
        self.XaT = Xa.T.contiguous()
        self.y = y
        self.scale = 2.0 / N
        dtype = Xa.dtype
        M = len(self.features)
        self.z = torch.empty(K * S, N, dtype=dtype)
        self.mask = torch.empty(K, S, N, dtype=dtype)
        self.sums = torch.empty(M, K * S, dtype=dtype)
        self.g = torch.empty(S, K, A, dtype=dtype)
        if self.dropout:
            self._dropout_setup(rows, cols, M)
        elif K == 2:
            # Per seed, only the region with fewer points is summed; the other is the totals
            # minus it, whose rounding error is then small next to its own size. The choice
            # (unit 1 when ``pick`` is 1) follows the previous step's counts.
            # Summing unit 0's region means testing z1 - z0 <= 0, i.e. -(z1 - z0) > -tiny with
            # tiny the smallest positive float (ties go to unit 0); ``pick`` is the sign used.
            self.small = torch.empty(M, S, dtype=dtype)
            self.pick = torch.ones(S, 1, dtype=dtype)
            self.threshold = torch.zeros(S, 1, dtype=dtype)
            self.tiny = torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps

    @property
    def dropout(self) -> bool:
        """Whether the engine trains with dropout masks (drawn by :meth:`draw`)."""
        return bool(self.p_before or self.p_after)

    def _dropout_setup(self, rows, cols, M):
        """Groups of feature rows by the inputs they need kept, and each row's mask scale.

        With dropout the sums run over the points a unit wins *and* keeps: the moments of
        the masked inputs ``x' = m * x`` (``m`` 0 or ``1/(1-p)``) are the plain features
        summed over the points where every input they involve is kept, times a power of
        ``1/(1-p)``. Dropout after the layer scales the unit's output the same way.
        """
        D, A = self.D, self.A
        c_in = 1.0 / (1.0 - self.p_before) if self.p_before else 1.0
        c_out = 1.0 / (1.0 - self.p_after)
        need = [{i, j} & set(range(D)) if self.p_before else set()
                for i, j in zip(rows.tolist(), cols.tolist())]
        need += [{a} & set(range(D)) if self.p_before else set() for a in range(A)] + [set()]
        powers = [len([i for i in (r, c) if i < D]) for r, c in zip(rows.tolist(), cols.tolist())]
        powers += [int(a < D) for a in range(A)] + [0]
        outs = [2] * len(rows) + [1] * A + [0]
        if not self.p_before:
            powers = [0] * M
        scale = [c_in ** pw * (c_out ** o if self.p_after else 1.0) for pw, o in zip(powers, outs)]
        self.row_scale = torch.tensor(scale, dtype=self.features.dtype).unsqueeze(1)
        groups: dict = {}
        for row, kept in enumerate(need):
            groups.setdefault(tuple(sorted(kept)), []).append(row)
        self.groups = [(list(kept), torch.tensor(r)) for kept, r in groups.items()]
        self.group_features = [self.features[r].contiguous() for _, r in self.groups]
        self.group_sums = [torch.empty(len(r), self.K * self.S, dtype=self.features.dtype)
                           for _, r in self.groups]
        self.mask_buffers: dict = {}
        self.in_scale = self.keep_in = self.keep_out = None

    def draw(self, generator: torch.Generator) -> None:
        """Draw this step's dropout masks, with the same calls (and so the same random
        numbers) as the point-by-point engine: inputs (S, N, D) first, then outputs (S, K, N)."""
        dtype = self.features.dtype
        S, K, N, D = self.S, self.K, self.N, self.D
        if self.p_before:
            # the draws of dropout_keep((S, N, D)), stored input-major (D, S, N) as 0/1 floats
            # (float masks are several times cheaper to combine than boolean ones)
            self.keep_in = self._float_mask(self.keep_in, (S, N, D), (2, 0, 1), self.p_before, generator)
            self.in_scale = self.keep_in / (1.0 - self.p_before)
        if self.p_after:  # likewise dropout_keep((S, K, N)), stored unit-major (K, S, N)
            self.keep_out = self._float_mask(self.keep_out, (S, K, N), (1, 0, 2), self.p_after, generator)

    def _float_mask(self, buffer, shape, order, p, generator):
        """``dropout_keep(shape, p, generator).permute(order)`` as 0/1 floats, written into
        ``buffer`` (allocated on the first step), with no boolean tensor of the full size."""
        if buffer is None:  # one buffer for every step
            buffer = torch.empty([shape[axis] for axis in order], dtype=self.features.dtype)
        buffer.fill_(1.0)
        as_drawn = buffer.permute([order.index(axis) for axis in range(len(shape))])  # ``shape``
        as_drawn[torch.unravel_index(_dropped_positions(buffer.numel(), p, generator), shape)] = 0.0
        return buffer

    def _masked_outputs(self, theta: torch.Tensor) -> torch.Tensor:
        """Every unit's output (K, S, N) under this step's dropout masks."""
        S, K, A, N, D = self.S, self.K, self.A, self.N, self.D
        z = self.z.view(K, S, N)
        if self.p_before:
            inputs = self.XaT[:D].unsqueeze(1) * self.in_scale  # (D, S, N)
            for k in range(K):
                torch.mul(inputs[0], theta[:, k, :1], out=z[k])
                for d in range(1, D):
                    z[k].addcmul_(inputs[d], theta[:, k, d:d + 1])
                if A > D:  # the bias: its input is 1 and never dropped
                    z[k].add_(theta[:, k, D:])
        else:
            torch.mm(theta.transpose(0, 1).reshape(K * S, A), self.XaT, out=self.z)
        if self.p_after:
            # the inverted-dropout factor 0 or 1/(1-p), as two cheap passes over contiguous data
            z.mul_(self.keep_out).mul_(1.0 / (1.0 - self.p_after))
        return z

    def _dropout_sums(self, theta: torch.Tensor) -> None:
        """Every unit's feature sums over the points it wins and keeps, scaled by the masks."""
        S, K, N = self.S, self.K, self.N
        z = self._masked_outputs(theta)
        if K == 2:  # unit 1 wins where z1 > z0 (ties: unit 0), written as 0/1 floats
            won = torch.gt(z[1], z[0], out=self.mask[1])
            torch.sub(1.0, won, out=self.mask[0])
            wins = self.mask
        else:
            wins = self.mask.copy_(winner_mask(z.transpose(0, 1)).transpose(0, 1))  # (K, S, N)
        if self.p_after:
            wins.mul_(self.keep_out)
        masks = {(): wins}  # points won and kept (0/1 floats), by the inputs that must be kept too
        for (kept, rows), features, out in zip(self.groups, self.group_features, self.group_sums):
            for i in range(len(kept)):
                key = tuple(kept[:i + 1])
                if key not in masks:
                    if key not in self.mask_buffers:  # reused every step
                        self.mask_buffers[key] = torch.empty_like(self.mask)
                    masks[key] = torch.mul(masks[key[:-1]], self.keep_in[kept[i]],
                                           out=self.mask_buffers[key])
            torch.mm(features, masks[tuple(kept)].view(K * S, N).T, out=out)
            self.sums[rows] = out
        self.sums.mul_(self.row_scale)

    def masks(self, theta: torch.Tensor) -> torch.Tensor:
        """Each unit's 0/1 winner mask (K, S, N); ties go to the lower-numbered unit."""
        S, K, A, N = self.S, self.K, self.A, self.N
        torch.mm(theta.transpose(0, 1).reshape(K * S, A), self.XaT, out=self.z)
        self.mask.copy_(winner_mask(self.z.view(K, S, N).transpose(0, 1)).transpose(0, 1))
        return self.mask

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """Training loss per seed, computed point by point as :func:`loss_and_grad` does
        (with dropout: under this step's masks)."""
        if self.dropout:
            return (self._masked_outputs(theta).amax(dim=0) - self.y).square().mean(dim=1)
        z = torch.mm(theta.transpose(0, 1).reshape(self.K * self.S, self.A), self.XaT)
        return (z.view(self.K, self.S, self.N).amax(dim=0) - self.y).square().mean(dim=1)

    def _region_sums(self, theta: torch.Tensor) -> None:
        """Every unit's feature sums into ``self.sums`` (M, K*S), unit-major."""
        S, K = self.S, self.K
        if K != 2:
            torch.mm(self.features, self.masks(theta).view(K * S, self.N).T, out=self.sums)
            return
        small = self.mask[0]
        torch.mm((theta[:, 1] - theta[:, 0]).mul_(self.pick), self.XaT, out=self.z[:S])
        torch.gt(self.z[:S], self.threshold, out=small)  # straight into floats: fast
        torch.mm(self.features, small.T, out=self.small)
        unit1, unit0 = self.sums[:, S:], self.sums[:, :S]
        other = self.totals - self.small
        take = self.pick.T > 0
        torch.where(take, self.small, other, out=unit1)
        torch.where(take, other, self.small, out=unit0)
        # A region with no points sums to exactly zero (no rounding noise for Adam to amplify)
        self.sums.masked_fill_(self.sums[-1:] == 0, 0.0)
        # next step: sum whichever unit has fewer points now
        fewer0 = (unit1[-1] > unit0[-1]).unsqueeze(1)
        self.pick.fill_(1.0).masked_fill_(fewer0, -1.0)
        self.threshold.zero_().masked_fill_(fewer0, -self.tiny)

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """Gradient of every seed's MSE with respect to ``theta`` (S, K, A); a reused buffer."""
        S, K, A = self.S, self.K, self.A
        if self.dropout:
            self._dropout_sums(theta)
        else:
            self._region_sums(theta)
        gram = self.sums.index_select(0, self.pair).view(A, A, K, S)  # [a, b, k, s]
        g = (gram * theta.permute(2, 1, 0).unsqueeze(0)).sum(dim=1)  # (A, K, S)
        g.sub_(self.sums[self.moment].view(A, K, S)).mul_(self.scale)
        return self.g.copy_(g.permute(2, 1, 0))


def dropout_keep(shape, p: float, generator: torch.Generator) -> torch.Tensor:
    """Which entries dropout keeps: a boolean tensor of ``shape`` whose entries are dropped
    (False) independently with probability ``p``, from ``generator``.

    Drawn as the gaps between dropped entries, in C order: a gap is geometric with success
    probability ``p`` (``Tensor.geometric_``), so a mask costs about ``p`` random numbers per
    entry instead of one (for the course's ``p = 0.05``, a third of the time of one uniform
    number per entry, measured on 400,000 entries). The dropped positions of a
    Bernoulli(``p``) sequence are exactly such a renewal sequence. Both sweep engines draw
    their masks here, so they see the same masks. Chapter 1 (dropout).
    """
    shape = tuple(shape)
    if not shape or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape):
        raise ValueError(f"shape must be a non-empty tuple of non-negative integers, got {shape!r}")
    _checks.in_range("p", p, 0.0, 1.0, high_open=True)
    _checks.instance("generator", generator, torch.Generator, "torch.Generator")
    total = 1
    for n in shape:
        total *= n
    keep = torch.ones(total, dtype=torch.bool)
    keep[_dropped_positions(total, p, generator)] = False
    return keep.view(shape)


def _dropped_positions(total: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """The flat positions (sorted int64) that dropout drops among ``total`` entries:
    geometric gaps, as :func:`dropout_keep` describes."""
    if p == 0 or total == 0:
        return torch.empty(0, dtype=torch.int64)
    expected = total * p
    batch = int(expected + 6.0 * expected ** 0.5) + 16  # almost always enough in one draw
    found, last = [], -1  # last: position of the last dropped entry so far
    while last < total:
        positions = torch.empty(batch, dtype=torch.int64).geometric_(p, generator=generator)
        positions = positions.cumsum_(0).add_(last)
        last = int(positions[-1])
        found.append(positions if last < total else positions[:int((positions < total).sum())])
    return found[0] if len(found) == 1 else torch.cat(found)


def _dropout_scale(shape, p, generator, dtype, append_ones=False):
    """Inverted-dropout factors: 0 with probability ``p``, else ``1/(1-p)``; optionally a column of ones
    appended for the bias input, which dropout never touches."""
    scale = dropout_keep(shape, p, generator).to(dtype) / (1.0 - p)
    if append_ones:
        scale = torch.cat([scale, torch.ones(*shape[:-1], 1, dtype=dtype)], dim=-1)
    return scale


def _recorded_steps(steps: int, record_every: int) -> list[int]:
    """Steps at which a sweep records: every ``record_every``-th, and always the last."""
    return list(range(0, steps, record_every)) + [steps]


def _settings(task, **settings) -> dict:
    """What a :class:`SweepResult` records of how it was produced."""
    return dict(settings, betas=tuple(settings["betas"]), task_seed=task.seed, n_points=task.n_points)


def _validate(task, steps, optimizer, lr, momentum, weight_decay, record_every, dropout_before, dropout_after):
    if not isinstance(task, MaxAffineTask):
        raise TypeError(f"task must be a MaxAffineTask (see symcourse.data), got {type(task).__name__}")
    _checks.positive("steps", steps, integer=True)
    _checks.choice("optimizer", optimizer, OPTIMIZERS)
    _checks.positive("lr", lr)
    _checks.in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    _checks.positive("record_every", record_every, integer=True)
    _checks.in_range("dropout_before", dropout_before, 0.0, 1.0, high_open=True)
    _checks.in_range("dropout_after", dropout_after, 0.0, 1.0, high_open=True)
    if optimizer == "adam" and momentum:
        raise ValueError("momentum applies to optimizer='sgd'; Adam's momentum is betas[0]")


def _validate_more(task, units, bias, betas, eps, dtype, **flags):
    """The checks every trainer shares: a consistent task, network size, Adam's settings, dtype."""
    _checks.max_affine_task("task", task)
    _checks.positive("units", units, integer=True)
    _checks.flag("bias", bias)
    _checks.betas(betas)
    _checks.positive("eps", eps)
    _checks.dtype("dtype", dtype)
    for name, value in flags.items():
        (_checks.seed if name.endswith("seed") else _checks.flag)(name, value)


def train_sweep(task: MaxAffineTask, seeds=500, *, units: int = 2, bias: bool = True, steps: int = 4000,
                optimizer: str = "adam", lr: float = 0.02, betas=(0.9, 0.999), eps: float = 1e-8,
                momentum: float = 0.0, weight_decay: float = 0.0, dropout_before: float = 0.0,
                dropout_after: float = 0.0, record_every: int = 10, record_params: bool = False,
                theta0: torch.Tensor | None = None, chunk_size: int = 256, dropout_seed: int = 0,
                dtype: torch.dtype = torch.float32, engine: str = "exact",
                progress: bool | None = None) -> SweepResult:
    """Train the question's network from every seed's default initialisation, all seeds at once.

    ``seeds`` is a count (``range(n)``) or a list; seed ``s`` starts from
    ``torch.manual_seed(s); nn.Linear(D, units)`` unless ``theta0`` (S, K, D[+1]) is given.
    Full-batch training on ``task`` with ``optimizer`` ('adam' or 'sgd'), learning rate ``lr``,
    L2 ``weight_decay`` added to the gradient (as ``torch.optim`` does), optional dropout before or
    after the linear layer. Losses are recorded every ``record_every`` steps (and after the last
    step); with ``record_params`` the parameters too. Introduced in chapter 1.

    ``engine`` picks how gradients are summed: ``"exact"`` (point by point, the results every
    chapter stores) or ``"gram"`` (:class:`GramEngine`, several times faster, equal to it up to
    float rounding, with or without dropout: same masks). ``progress`` shows a bar (see :mod:`symcourse.progress`;
    ``None``: only when someone is watching, never in the test run).
    """
    _validate(task, steps, optimizer, lr, momentum, weight_decay, record_every, dropout_before, dropout_after)
    _validate_more(task, units, bias, betas, eps, dtype, record_params=record_params, dropout_seed=dropout_seed)
    _checks.positive("chunk_size", chunk_size, integer=True)
    _checks.choice("engine", engine, ENGINES)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    seeds = _checks.seeds(seeds)
    D = task.in_dim
    if theta0 is None:
        theta0 = init_theta(seeds, D, units, bias, dtype=dtype)
    else:
        _checks.tensor("theta0", theta0, shape=(len(seeds), units, D + int(bias)))
        theta0 = theta0.to(dtype)
    Xa = augment(task.X.to(dtype), bias)
    y = task.y.to(dtype)
    recorded = _recorded_steps(steps, record_every)
    loss = torch.empty(len(recorded), len(seeds), dtype=dtype)
    history = torch.empty(len(recorded), *theta0.shape, dtype=dtype) if record_params else None
    theta = theta0.clone()
    options = dict(optimizer=optimizer, lr=lr, betas=betas, eps=eps, momentum=momentum,
                   weight_decay=weight_decay, dropout_before=dropout_before, dropout_after=dropout_after)
    start = time.perf_counter()
    with torch.inference_mode(), progress_bar(total=len(seeds) * steps, desc="train_sweep",
                                              unit="seed-step", enabled=progress) as bar:
        for lo in range(0, len(seeds), chunk_size):
            part = slice(lo, lo + chunk_size)
            generator = torch.Generator().manual_seed(dropout_seed * 1_000_003 + seeds[lo])
            run = _run_gram if engine == "gram" else _run_exact
            run(theta[part], Xa, y, D, bias, units, steps, recorded, generator, options,
                loss[:, part], None if history is None else history[:, part], bar)
    seconds = time.perf_counter() - start
    config = _settings(task, units=units, bias=bias, steps=steps, optimizer=optimizer, lr=lr, betas=betas,
                       eps=eps, momentum=momentum, weight_decay=weight_decay, dropout_before=dropout_before,
                       dropout_after=dropout_after, record_every=record_every)
    return SweepResult(seeds=seeds, theta0=theta0, theta=theta, steps=torch.tensor(recorded), loss=loss,
                       history=history, config=config, seconds=seconds)


#: Progress is reported after this many steps of a chunk (a bar update costs microseconds).
PROGRESS_EVERY = 100


def _tick(bar, t: int, steps: int, seeds: int) -> None:
    """Advance ``bar`` every :data:`PROGRESS_EVERY` steps and after the last one."""
    if (t + 1) % PROGRESS_EVERY == 0 or t + 1 == steps:
        bar.update(seeds * (t + 1 - t // PROGRESS_EVERY * PROGRESS_EVERY))


def _run_exact(theta, Xa, y, D, bias, units, steps, recorded, generator, o, loss, history, bar):
    """One chunk of seeds, point by point (:func:`loss_and_grad`), updating ``theta`` in place."""
    S = theta.shape[0]
    opt = _make_optimizer(o["optimizer"], theta, o["lr"], o["betas"], o["eps"], o["momentum"],
                          o["weight_decay"])
    workspace = Workspace(S, units, Xa.shape[0], Xa.shape[1], Xa.dtype)
    row = 0
    for t in range(steps + 1):
        record = t == recorded[row]
        input_scale = unit_scale = None
        if o["dropout_before"]:
            input_scale = _dropout_scale((S, Xa.shape[0], D), o["dropout_before"], generator, Xa.dtype,
                                         append_ones=bias)
        if o["dropout_after"]:
            unit_scale = _dropout_scale((S, units, Xa.shape[0]), o["dropout_after"], generator, Xa.dtype)
        batch_loss, grad = loss_and_grad(theta, Xa, y, input_scale=input_scale, unit_scale=unit_scale,
                                         need_loss=record, workspace=workspace)
        if record:
            loss[row] = batch_loss
            if history is not None:
                history[row] = theta
            row += 1
        if t < steps:
            opt.step(theta, grad)
            _tick(bar, t, steps, S)


def _run_gram(theta, Xa, y, D, bias, units, steps, recorded, generator, o, loss, history, bar):
    """One chunk of seeds with :class:`GramEngine`, updating ``theta`` in place."""
    S = theta.shape[0]
    opt = _make_optimizer(o["optimizer"], theta, o["lr"], o["betas"], o["eps"], o["momentum"],
                          o["weight_decay"])
    engine = GramEngine(S, units, Xa, y, dropout_before=o["dropout_before"],
                        dropout_after=o["dropout_after"], in_dim=D)
    row = 0
    for t in range(steps + 1):
        if engine.dropout:  # fresh masks every step, as the point-by-point engine draws them
            engine.draw(generator)
        if t == recorded[row]:
            loss[row] = engine.loss(theta)
            if history is not None:
                history[row] = theta
            row += 1
        if t < steps:
            opt.step(theta, engine.grad(theta))
            _tick(bar, t, steps, S)


def train_loop(task: MaxAffineTask, seeds=1, *, units: int = 2, bias: bool = True, steps: int = 4000,
               optimizer: str = "adam", lr: float = 0.02, betas=(0.9, 0.999), eps: float = 1e-8,
               momentum: float = 0.0, weight_decay: float = 0.0, dropout_before: float = 0.0,
               dropout_after: float = 0.0, record_every: int = 10, theta0: torch.Tensor | None = None,
               dtype: torch.dtype = torch.float32, threads: int = 1) -> SweepResult:
    """The baseline: the question's code, one seed after another, with ``torch.optim`` and autograd.

    Same arguments and result as :func:`train_sweep` (dropout masks come from PyTorch's global RNG,
    so dropout runs are not comparable one to one). Used to validate and benchmark the sweep
    engine. Runs on ``threads`` CPU threads (restored afterwards): one is fastest for a problem
    this small, and avoids slowdowns when other processes share the CPU. Introduced in chapter 1.
    """
    _validate(task, steps, optimizer, lr, momentum, weight_decay, record_every, dropout_before, dropout_after)
    _validate_more(task, units, bias, betas, eps, dtype)
    _checks.positive("threads", threads, integer=True)
    seeds = _checks.seeds(seeds)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _loop(task, seeds, units, bias, steps, optimizer, lr, betas, eps, momentum, weight_decay,
                     dropout_before, dropout_after, record_every, theta0, dtype)
    finally:
        torch.set_num_threads(previous_threads)


def _loop(task, seeds, units, bias, steps, optimizer, lr, betas, eps, momentum, weight_decay, dropout_before,
          dropout_after, record_every, theta0, dtype):
    X, y = task.X.to(dtype), task.y.to(dtype)[:, None]
    recorded = _recorded_steps(steps, record_every)
    record_at = set(recorded)
    losses, finals, starts = [], [], []
    start = time.perf_counter()
    for i, seed in enumerate(seeds):
        torch.manual_seed(seed)
        net = question_network(task.in_dim, units, bias, dropout_before, dropout_after).to(dtype)
        if theta0 is not None:
            load_theta(net, theta0[i].to(dtype))
        starts.append(theta_from_network(net)[0])
        opt = _torch_optimizer(optimizer, net.parameters(), lr, betas, eps, momentum, weight_decay)
        trace = []
        for t in range(steps + 1):
            loss = ((y - net(X)) ** 2).mean()
            if t in record_at:
                trace.append(loss.item())
            if t < steps:
                opt.zero_grad()
                loss.backward()
                opt.step()
        losses.append(trace)
        finals.append(theta_from_network(net)[0])
    seconds = time.perf_counter() - start
    config = _settings(task, units=units, bias=bias, steps=steps, optimizer=optimizer, lr=lr, betas=betas,
                       eps=eps, momentum=momentum, weight_decay=weight_decay, dropout_before=dropout_before,
                       dropout_after=dropout_after, record_every=record_every)
    return SweepResult(seeds=seeds, theta0=torch.stack(starts), theta=torch.stack(finals),
                       steps=torch.tensor(recorded), loss=torch.tensor(losses, dtype=dtype).T, history=None,
                       config=config, seconds=seconds)


def eval_mse(result: SweepResult, task: MaxAffineTask) -> torch.Tensor:
    """Loss of each seed's final parameters with dropout off (evaluation mode). Chapter 1."""
    _checks.instance("result", result, SweepResult, "SweepResult (from train_sweep or train_loop)")
    _checks.max_affine_task("task", task)
    return mse(result.theta, task.X.to(result.theta.dtype), task.y, bias=result.config["bias"])


__all__ = ["OPTIMIZERS", "ENGINES", "GramEngine", "SweepResult", "train_sweep", "train_loop", "loss_and_grad", "winner_mask", "eval_mse", "dropout_keep"]
