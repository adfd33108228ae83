"""The soft committee machine of chapter 2 (plateaus): on-line learning of a teacher of the same
shape, the order-parameter equations of Saad & Solla (1995), and natural gradient.

Units are g(x) = erf(x / sqrt 2); the output is the plain sum of the K student (M teacher) units.
Inputs are standard Gaussian in N dimensions. Order parameters: Q = J J^T (student-student),
R = J B^T (student-teacher), T = B B^T (teacher-teacher), with weight vectors of norm O(1) and
learning rate eta / N per example, so that time alpha = examples / N is of order one.

Computation only. Every function is batched over a leading seed dimension S.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import erf

from . import _checks

SQRT2 = math.sqrt(2.0)


def _g(x):
    return torch.erf(x / SQRT2)


def _dg(x):
    return math.sqrt(2.0 / math.pi) * torch.exp(-0.5 * x * x)


def _cov(C: torch.Tensor) -> torch.Tensor:
    _checks.tensor("C", C)
    if C.ndim < 2 or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C must be a (..., P, P) covariance matrix, got shape {tuple(C.shape)}")
    if (C.diagonal(dim1=-2, dim2=-1) < 0).any():
        raise ValueError("C must have a non-negative diagonal (it is a covariance matrix)")
    return C


def erf_i2(C: torch.Tensor) -> torch.Tensor:
    """I2[a, b] = <g(u_a) g(u_b)> for zero-mean Gaussian fields u of covariance C (..., P, P).

    Closed form (2/pi) arcsin(C_ab / sqrt((1 + C_aa)(1 + C_bb))). Chapter 2 (plateaus).
    """
    C = _cov(C)
    d = 1.0 + C.diagonal(dim1=-2, dim2=-1)
    return (2.0 / math.pi) * torch.asin(C / torch.sqrt(d[..., :, None] * d[..., None, :]))


def erf_i3(C: torch.Tensor, first: int | None = None) -> torch.Tensor:
    """I3[a, b, c] = <g'(u_a) u_b g(u_c)> for Gaussian fields of covariance C: (..., P, P, P);
    with ``first`` only a < first is computed. Closed form of Saad & Solla (1995).
    Chapter 2 (plateaus).
    """
    return _i3(_cov(C), first)


def _xp(C):
    """The array module of ``C``: the closed forms run on torch tensors or NumPy arrays (the
    ODE integrator uses NumPy, whose small-array operations cost far less per call)."""
    return torch if isinstance(C, torch.Tensor) else np


def _i3(C, first=None):
    A = C[..., :first, :] if first is not None else C            # rows a
    d = 1.0 + C.diagonal(0, -2, -1)                             # (..., P)
    da = d[..., :A.shape[-2], None, None]
    lam3 = da * d[..., None, None, :] - (A ** 2)[..., :, None, :]  # (1+C_aa)(1+C_cc) - C_ac^2
    num = C[..., None, :, :] * da - A[..., :, :, None] * A[..., :, None, :]
    return (2.0 / math.pi) * num / (da * _xp(C).sqrt(lam3))


def erf_i4(C: torch.Tensor, first: int | None = None) -> torch.Tensor:
    """I4[a, b, c, d] = <g'(u_a) g'(u_b) g(u_c) g(u_d)> for Gaussian fields of covariance C:
    (..., P, P, P, P); with ``first`` only a, b < first. Closed form of Saad & Solla (1995).
    Chapter 2 (plateaus)."""
    return _i4(_cov(C), first)


def _i4(C, first=None):
    P = C.shape[-1]
    F = P if first is None else first
    batch = C.shape[:-2]
    xp = _xp(C)
    d = 1.0 + C.diagonal(0, -2, -1)
    size = [F, F, P, P]

    def ix(i, j):  # C[..., i, j] placed on the index positions i < j among (a, b, c, d)
        block = C[..., :size[i], :size[j]]
        return block.reshape(*batch, *[size[k] if k in (i, j) else 1 for k in range(4)])

    def dg(k):
        return d[..., :size[k]].reshape(*batch, *[size[k] if m == k else 1 for m in range(4)])

    Cab, Cac, Cad, Cbc, Cbd, Ccd = ix(0, 1), ix(0, 2), ix(0, 3), ix(1, 2), ix(1, 3), ix(2, 3)
    da, db, dc, dd = dg(0), dg(1), dg(2), dg(3)
    lam4 = da * db - Cab ** 2
    lam0 = lam4 * Ccd - Cbc * Cbd * da - Cac * Cad * db + Cab * Cac * Cbd + Cab * Cad * Cbc
    lam1 = lam4 * dc - Cbc ** 2 * da - Cac ** 2 * db + 2 * Cab * Cac * Cbc
    lam2 = lam4 * dd - Cbd ** 2 * da - Cad ** 2 * db + 2 * Cab * Cad * Cbd
    ratio = xp.clip(lam0 / xp.sqrt(lam1 * lam2), -1.0, 1.0)
    return (4.0 / math.pi ** 2) * xp.arcsin(ratio) / xp.sqrt(lam4)


def _state(R, Q, T):
    _checks.tensor("R", R, ndim=3)
    _checks.tensor("Q", Q, ndim=3)
    _checks.tensor("T", T, ndim=3)
    S, K, M = R.shape
    if Q.shape != (S, K, K):
        raise ValueError(f"Q must have shape {(S, K, K)} to match R {tuple(R.shape)}, got {tuple(Q.shape)}")
    if T.shape != (S, M, M):
        raise ValueError(f"T must have shape {(S, M, M)} to match R {tuple(R.shape)}, got {tuple(T.shape)}")
    return S, K, M


def full_covariance(R: torch.Tensor, Q: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """The covariance (S, K+M, K+M) of the student fields followed by the teacher fields.
    Chapter 2 (plateaus)."""
    _state(R, Q, T)
    return torch.cat([torch.cat([Q, R], 2), torch.cat([R.transpose(1, 2), T], 2)], 1)


def generalisation_error(R: torch.Tensor, Q: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """eps_g = <(sum_n g(y_n) - sum_i g(x_i))^2> / 2 from the order parameters: (S,).
    Chapter 2 (plateaus)."""
    S, K, M = _state(R, Q, T)
    I2 = erf_i2(full_covariance(R, Q, T))
    s = _signs(K, M, I2.dtype)
    return 0.5 * torch.einsum("a,b,sab->s", s, s, I2)


def _signs(K, M, dtype, xp=torch):
    return xp.concatenate([-xp.ones(K, dtype=dtype), xp.ones(M, dtype=dtype)])


def ode_rhs(R: torch.Tensor, Q: torch.Tensor, T: torch.Tensor, eta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """dR/dalpha and dQ/dalpha of on-line gradient descent (N -> infinity), eqs. of Saad & Solla:

    dR_in = eta <delta_i y_n>,  dQ_ik = eta <delta_i x_k + delta_k x_i> + eta^2 <delta_i delta_k>,
    delta_i = g'(x_i) (sum_n g(y_n) - sum_j g(x_j)). Chapter 2 (plateaus).
    """
    _state(R, Q, T)
    _checks.positive("eta", eta)
    return _rhs(R, Q, T, eta)


def _rhs(R, Q, T, eta):
    K, xp = R.shape[1], _xp(R)
    C = xp.concatenate([xp.concatenate([Q, R], 2),
                        xp.concatenate([xp.swapaxes(R, 1, 2), T], 2)], 1)
    s = _signs(K, T.shape[1], C.dtype, xp)
    delta_u = _i3(C, K) @ s                                  # <delta_a u_b>: (S, K, P)
    dR = eta * delta_u[:, :, K:]
    cross = delta_u[:, :, :K]
    dd = (_i4(C, K) @ s) @ s                                 # <delta_a delta_b>: (S, K, K)
    dQ = eta * (cross + xp.swapaxes(cross, 1, 2)) + eta ** 2 * dd
    return dR, dQ


@dataclass
class Trajectory:
    """Order parameters over time alpha: R (A, S, K, M), Q (A, S, K, K), eps (A, S).
    Chapter 2 (plateaus)."""

    alpha: torch.Tensor
    R: torch.Tensor
    Q: torch.Tensor
    eps: torch.Tensor
    seconds: float = 0.0


def _learning_rates(eta, S: int):
    """``eta`` as a number, or a per-trajectory tensor ``(S, 1, 1)`` when given one per start."""
    if isinstance(eta, torch.Tensor) and eta.ndim == 1:
        _checks.tensor("eta", eta, shape=(S,))
        if not (torch.isfinite(eta).all() and (eta > 0).all()):
            raise ValueError(f"eta must hold positive finite learning rates, got {eta.tolist()}")
        return eta.to(torch.float64)[:, None, None]
    _checks.positive("eta", eta)
    return eta


def integrate_odes(R0: torch.Tensor, Q0: torch.Tensor, T: torch.Tensor, eta, alpha_max: float,
                   dalpha: float = 0.05, record_every: float = 1.0) -> Trajectory:
    """Integrate the order-parameter ODEs with classical Runge-Kutta (step ``dalpha``) from
    (R0, Q0), all seeds at once; record every ``record_every`` units of alpha. ``eta`` is one
    learning rate, or a 1-D tensor with one per start (so runs at several rates share the
    integration's per-step cost). Chapter 2 (plateaus)."""
    S, _, _ = _state(R0, Q0, T)
    eta = _learning_rates(eta, S)
    _checks.positive("alpha_max", alpha_max)
    _checks.positive("dalpha", dalpha)
    _checks.positive("record_every", record_every)
    if dalpha > record_every:
        raise ValueError(f"dalpha ({dalpha}) must not exceed record_every ({record_every})")
    per = max(1, round(record_every / dalpha))
    n_rec = int(math.floor(alpha_max / (per * dalpha) + 1e-9))
    # NumPy inside the loop: the state is a few numbers per start, so the cost is per call
    R, Q, T_np = (x.detach().cpu().numpy().copy() for x in (R0, Q0, T))
    if isinstance(eta, torch.Tensor):
        eta = eta.numpy()
    Rs, Qs = [R.copy()], [Q.copy()]
    start = time.perf_counter()
    h = dalpha
    for _ in range(n_rec):
        for _ in range(per):
            k1 = _rhs(R, Q, T_np, eta)
            k2 = _rhs(R + 0.5 * h * k1[0], Q + 0.5 * h * k1[1], T_np, eta)
            k3 = _rhs(R + 0.5 * h * k2[0], Q + 0.5 * h * k2[1], T_np, eta)
            k4 = _rhs(R + h * k3[0], Q + h * k3[1], T_np, eta)
            R = R + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            Q = Q + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        Rs.append(R.copy())
        Qs.append(Q.copy())
    R_all, Q_all = (torch.from_numpy(np.stack(x)).to(R0.dtype) for x in (Rs, Qs))
    eps = torch.stack([generalisation_error(r, q, T) for r, q in zip(R_all, Q_all)])
    alpha = torch.arange(n_rec + 1, dtype=R0.dtype) * per * dalpha
    return Trajectory(alpha, R_all, Q_all, eps, time.perf_counter() - start)


def init_student(seeds, K: int, N: int, *, norm2: float = 0.2, dtype=torch.float64) -> torch.Tensor:
    """Random student weights (S, K, N): Gaussian directions scaled to |J_i|^2 = ``norm2``, so
    that student-teacher overlaps start at O(1/sqrt N). Chapter 2 (plateaus)."""
    seeds = _checks.seeds(seeds)
    _checks.positive("K", K, integer=True)
    _checks.positive("N", N, integer=True)
    _checks.positive("norm2", norm2)
    J = torch.stack([torch.randn(K, N, generator=torch.Generator().manual_seed(s), dtype=dtype)
                     for s in seeds])
    return J * torch.sqrt(norm2 / (J ** 2).sum(-1, keepdim=True))


def near_symmetric_student(seeds, K: int, N: int, delta: float, *, norm: float = 0.3,
                           dtype=torch.float64) -> torch.Tensor:
    """Students (S, K, N) whose K units are one shared random vector of length ``norm`` plus
    independent random unit vectors times ``delta``: a start at distance about delta from the
    symmetric subspace J_1 = ... = J_K. Chapter 2 (plateaus)."""
    seeds = _checks.seeds(seeds)
    _checks.positive("K", K, integer=True)
    _checks.positive("N", N, integer=True)
    _checks.positive("delta", delta)
    _checks.positive("norm", norm)
    out = []
    for s in seeds:
        gen = torch.Generator().manual_seed(s)
        u = torch.randn(N, generator=gen, dtype=dtype)
        v = torch.randn(K, N, generator=gen, dtype=dtype)
        out.append(norm * u / u.norm() + delta * v / v.norm(dim=1, keepdim=True))
    return torch.stack(out)


def overlaps(J: torch.Tensor, M: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(R, Q, T) of students J (S, K, N) against the teacher whose M units are the first M
    coordinate directions (B_n = e_n, so T = identity). Chapter 2 (plateaus)."""
    _checks.tensor("J", J, ndim=3)
    _checks.positive("M", M, integer=True)
    if M > J.shape[2]:
        raise ValueError(f"M ({M}) must not exceed the input dimension N = {J.shape[2]}")
    R = J[:, :, :M].clone()
    Q = J @ J.transpose(1, 2)
    T = torch.eye(M, dtype=J.dtype).expand(J.shape[0], M, M).clone()
    return R, Q, T


def simulate_online(J0: torch.Tensor, M: int, eta: float, alpha_max: float, *, record_every: float = 1.0,
                    seed: int = 0, block: int = 512) -> Trajectory:
    """On-line gradient descent of the soft committee machine, all seeds at once: one fresh
    Gaussian example per step, J_i += (eta / N) g'(x_i) (sum_n g(y_n) - sum_j g(x_j)) xi.

    The teacher's units are the first M coordinate directions (T = identity; any orthonormal
    teacher is equivalent by rotation invariance of the inputs). Returns the order parameters
    every ``record_every`` units of alpha. Chapter 2 (plateaus).
    """
    _checks.tensor("J0", J0, ndim=3)
    _checks.positive("M", M, integer=True)
    _checks.positive("eta", eta)
    _checks.positive("alpha_max", alpha_max)
    _checks.positive("record_every", record_every)
    _checks.positive("block", block, integer=True)
    S, K, N = J0.shape
    if M > N:
        raise ValueError(f"M ({M}) must not exceed the input dimension N = {N}")
    per = max(1, round(record_every * N))
    n_rec = int(math.floor(alpha_max * N / per + 1e-9))
    rng = np.random.default_rng(seed)
    J = J0.detach().numpy().astype(np.float64).copy()
    step_size = eta / N * math.sqrt(2.0 / math.pi)        # g'(x) = sqrt(2/pi) exp(-x^2/2)
    snapshots = [J.copy()]
    start = time.perf_counter()
    buffer, teacher, used = None, None, block
    for _ in range(n_rec):
        for _ in range(per):
            if used == block:
                buffer = rng.standard_normal((block, S, N, 1), dtype=np.float32)  # fast
                teacher = erf(buffer[:, :, :M, 0] / SQRT2).sum(-1)[:, :, None, None]
                used = 0
            xi = buffer[used]                                  # (S, N, 1)
            x = J @ xi                                         # (S, K, 1)
            err = teacher[used] - erf(x / SQRT2).sum(1, keepdims=True)
            J += (step_size * np.exp(-0.5 * x * x) * err) @ xi.transpose(0, 2, 1)
            used += 1
        snapshots.append(J.copy())
    seconds = time.perf_counter() - start
    Js = torch.from_numpy(np.stack(snapshots)).to(J0.dtype)
    R_all = Js[:, :, :, :M].clone()
    Q_all = Js @ Js.transpose(2, 3)
    T = torch.eye(M, dtype=J0.dtype).expand(S, M, M)
    eps = torch.stack([generalisation_error(r, q, T) for r, q in zip(R_all, Q_all)])
    alpha = torch.arange(n_rec + 1, dtype=J0.dtype) * per / N
    return Trajectory(alpha, R_all, Q_all, eps, seconds)


def specialisation(R: torch.Tensor) -> torch.Tensor:
    """How far the student-teacher overlaps are from all equal: max_{i,n} |R_in - mean R| over
    the last two dimensions. Zero in the symmetric (unspecialised) phase. Chapter 2 (plateaus)."""
    _checks.tensor("R", R)
    if R.ndim < 2:
        raise ValueError(f"R must have at least 2 dimensions (K, M), got shape {tuple(R.shape)}")
    mean = R.mean(dim=(-1, -2), keepdim=True)
    return (R - mean).abs().amax(dim=(-1, -2))


def exit_time(alpha: torch.Tensor, measure: torch.Tensor, threshold: float) -> torch.Tensor:
    """First alpha at which ``measure`` (A, ...) exceeds ``threshold`` (linear interpolation
    between records); NaN where it never does. Chapter 2 (plateaus)."""
    _checks.tensor("alpha", alpha, ndim=1)
    _checks.tensor("measure", measure)
    _checks.positive("threshold", threshold)
    if measure.shape[0] != alpha.shape[0]:
        raise ValueError(f"measure must have {alpha.shape[0]} rows to match alpha, got {measure.shape[0]}")
    above = measure > threshold
    first = torch.where(above.any(0), above.to(torch.int8).argmax(0), -1)
    out = torch.full(measure.shape[1:], float("nan"), dtype=alpha.dtype)
    ok = first > 0
    i = first.clamp(min=1)
    lo_m = torch.gather(measure, 0, (i - 1).unsqueeze(0)).squeeze(0)
    hi_m = torch.gather(measure, 0, i.unsqueeze(0)).squeeze(0)
    frac = (threshold - lo_m) / (hi_m - lo_m)
    t = alpha[i - 1] + frac * (alpha[i] - alpha[i - 1])
    out[ok] = t[ok].to(out.dtype)
    out[first == 0] = alpha[0]
    return out


def symmetric_start(delta: torch.Tensor, K: int, M: int, *, r0: float = 0.0, q0: float = 0.2,
                    seeds=1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ODE initial conditions near the symmetric subspace: R_in = r0 + delta * z_in with a random
    unit-norm pattern z per seed, Q = q0 * identity, T = identity. ``delta`` (D,) gives one start
    per (seed, delta), flattened seed-major: (S*D, K, M). Chapter 2 (plateaus)."""
    _checks.tensor("delta", delta, ndim=1)
    if (delta <= 0).any():
        raise ValueError("delta must be positive")
    _checks.positive("K", K, integer=True)
    _checks.positive("M", M, integer=True)
    _checks.positive("q0", q0)
    seeds = _checks.seeds(seeds)
    z = torch.stack([torch.randn(K, M, generator=torch.Generator().manual_seed(s), dtype=delta.dtype)
                     for s in seeds])
    z = z - z.mean(dim=(1, 2), keepdim=True)
    z = z / z.norm(dim=(1, 2), keepdim=True)
    R = r0 + delta[None, :, None, None] * z[:, None]
    R = R.reshape(-1, K, M)
    B = R.shape[0]
    Q = q0 * torch.eye(K, dtype=delta.dtype).expand(B, K, K).clone()
    T = torch.eye(M, dtype=delta.dtype).expand(B, M, M).clone()
    return R, Q, T


def symmetric_fixed_point(K: int, M: int, eta: float, *, q0: float = 0.2, alpha: float = 40.0,
                          dalpha: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """The symmetric fixed point (R*, Q*) that the plateau sits at, found by integrating the
    ODEs from an exactly symmetric start (which stays symmetric) and refining with Newton's
    method on the symmetric variables. Chapter 2 (plateaus)."""
    _checks.positive("K", K, integer=True)
    _checks.positive("M", M, integer=True)
    _checks.positive("eta", eta)
    delta = torch.tensor([1.0], dtype=torch.float64)
    R, Q, T = symmetric_start(delta, K, M, q0=q0)
    R = torch.zeros_like(R)
    traj = integrate_odes(R, Q, T, eta, alpha, dalpha=dalpha, record_every=alpha)
    R, Q = traj.R[-1], traj.Q[-1]
    x = torch.stack([R[0, 0, 0], Q[0, 0, 0], Q[0, 0, 1] if K > 1 else Q[0, 0, 0]])

    def rhs(v):
        r, qd, qo = v
        Rv = r * torch.ones(1, K, M, dtype=v.dtype)
        Qv = (qd - qo) * torch.eye(K, dtype=v.dtype)[None] + qo * torch.ones(1, K, K, dtype=v.dtype)
        dR, dQ = ode_rhs(Rv, Qv, T[:1], eta)
        return torch.stack([dR[0, 0, 0], dQ[0, 0, 0], dQ[0, 0, 1] if K > 1 else dQ[0, 0, 0] * 0 + qd - qo])

    for _ in range(20):
        f = rhs(x)
        if f.abs().max() < 1e-14:
            break
        Jm = torch.autograd.functional.jacobian(rhs, x)
        x = x - torch.linalg.solve(Jm, f)
    r, qd, qo = x
    Rs = r * torch.ones(K, M, dtype=x.dtype)
    Qs = (qd - qo) * torch.eye(K, dtype=x.dtype) + qo * torch.ones(K, K, dtype=x.dtype)
    return Rs, Qs


def escape_rate(R: torch.Tensor, Q: torch.Tensor, eta: float) -> tuple[float, torch.Tensor]:
    """Largest real part among the eigenvalues of the ODEs' Jacobian at (R, Q) (K, M), (K, K),
    over all K*M + K*K variables, and all eigenvalues. At the symmetric fixed point a positive
    value lambda is the rate at which asymmetry grows, exp(lambda alpha). Chapter 2 (plateaus)."""
    _checks.tensor("R", R, ndim=2)
    _checks.tensor("Q", Q, ndim=2)
    _checks.positive("eta", eta)
    K, M = R.shape
    T = torch.eye(M, dtype=R.dtype)[None]

    def rhs(v):
        Rv = v[:K * M].reshape(1, K, M)
        Qv = v[K * M:].reshape(1, K, K)
        Qv = 0.5 * (Qv + Qv.transpose(1, 2))
        dR, dQ = ode_rhs(Rv, Qv, T, eta)
        return torch.cat([dR.reshape(-1), dQ.reshape(-1)])

    x = torch.cat([R.reshape(-1), Q.reshape(-1)])
    eig = torch.linalg.eigvals(torch.autograd.functional.jacobian(rhs, x))
    return float(eig.real.max()), eig


def fit_log_law(delta: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares fit times ~ a + b log(1/delta), separately for each row of ``times`` (S, D).
    Returns (a, b), each (S,). Chapter 2 (plateaus)."""
    _checks.tensor("delta", delta, ndim=1)
    _checks.tensor("times", times, ndim=2)
    if times.shape[1] != delta.shape[0]:
        raise ValueError(f"times must have {delta.shape[0]} columns to match delta, got {times.shape[1]}")
    if (delta <= 0).any():
        raise ValueError("delta must be positive")
    x = torch.log(1.0 / delta).to(times.dtype)
    A = torch.stack([torch.ones_like(x), x], 1)
    coef = torch.linalg.lstsq(A, times.T).solution  # (2, S)
    return coef[0], coef[1]


# --- natural gradient (batch learning on a fixed sample) ------------------------------------

def teacher_sample(n_points: int, N: int, M: int, *, seed: int = 0, dtype=torch.float64):
    """A fixed training sample: Gaussian inputs (P, N) and the teacher's outputs (P,) with
    teacher units the first M coordinate directions. Chapter 2 (plateaus)."""
    _checks.positive("n_points", n_points, integer=True)
    _checks.positive("N", N, integer=True)
    _checks.positive("M", M, integer=True)
    if M > N:
        raise ValueError(f"M ({M}) must not exceed N ({N})")
    X = torch.randn(n_points, N, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return X, _g(X[:, :M]).sum(1)


def batch_loss_grad(J: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *, fisher: bool = False):
    """Loss (1/2P) sum (sigma - y)^2 (S,), its gradient (S, K, N) and, with ``fisher``, the
    Gauss-Newton/Fisher matrix (1/P) sum grad sigma grad sigma^T (S, K*N, K*N). Chapter 2 (plateaus)."""
    _checks.tensor("J", J, ndim=3)
    _checks.tensor("X", X, ndim=2)
    _checks.tensor("y", y, ndim=1)
    if X.shape[1] != J.shape[2] or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (P, {J.shape[2]}) and y (P,), got {tuple(X.shape)} and {tuple(y.shape)}")
    h = torch.einsum("skn,pn->spk", J, X)
    r = _g(h).sum(-1) - y                                       # (S, P)
    P = X.shape[0]
    loss = 0.5 * (r ** 2).mean(1)
    dg = _dg(h)                                                 # (S, P, K)
    grad = torch.einsum("sp,spk,pn->skn", r, dg, X) / P
    if not fisher:
        return loss, grad
    jac = (dg[..., None] * X[None, :, None, :]).reshape(J.shape[0], P, -1)
    return loss, grad, jac.transpose(1, 2) @ jac / P


def train_batch(J0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *, method: str = "gd", lr: float = 1.0,
                steps: int = 1000, damping: float = 1e-4, record_every: int = 10) -> dict:
    """Full-batch training of the committee machine from J0 (S, K, N), all seeds at once, by plain
    gradient descent (``method='gd'``) or natural gradient (``'natural'``: the step solves
    (F + damping I) d = grad with F the Fisher matrix). Returns steps, loss (R, S), final J.
    Chapter 2 (plateaus)."""
    _checks.tensor("J0", J0, ndim=3)
    _checks.choice("method", method, ["gd", "natural"])
    _checks.positive("lr", lr)
    _checks.positive("steps", steps, integer=True)
    _checks.positive("damping", damping)
    _checks.positive("record_every", record_every, integer=True)
    J = J0.clone()
    S = J.shape[0]
    recorded, losses = [], []
    start = time.perf_counter()
    eye = None
    for t in range(steps + 1):
        if method == "gd":
            loss, grad = batch_loss_grad(J, X, y)
            direction = grad
        else:
            loss, grad, F = batch_loss_grad(J, X, y, fisher=True)
            if eye is None:
                eye = torch.eye(F.shape[-1], dtype=F.dtype)
            direction = torch.linalg.solve(F + damping * eye, grad.reshape(S, -1, 1)).reshape(J.shape)
        if t % record_every == 0 or t == steps:
            recorded.append(t)
            losses.append(loss)
        if t < steps:
            J = J - lr * direction
    return {"steps": torch.tensor(recorded), "loss": torch.stack(losses), "J": J,
            "seconds": time.perf_counter() - start}


def steps_to(steps: torch.Tensor, loss: torch.Tensor, level: float) -> torch.Tensor:
    """First recorded step at which ``loss`` (R, S) falls below ``level``, per seed; inf where it
    never does within the budget. Chapter 2 (plateaus)."""
    _checks.tensor("loss", loss, ndim=2)
    _checks.positive("level", level)
    if steps.shape != (loss.shape[0],):
        raise ValueError(f"steps must have shape ({loss.shape[0]},), got {tuple(steps.shape)}")
    below = loss < level
    first = below.to(torch.int8).argmax(0)
    out = steps[first].to(torch.float64)
    out[~below.any(0)] = math.inf
    return out
