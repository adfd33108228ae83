"""Symmetries of a network's loss and the constraints they put on its gradient and Hessian.

Mathematics layer: imports only torch and the bottom modules. Parameters are handled as a
dictionary ``{name: tensor}`` with the names of ``model.named_parameters()``, so that a loss can
be evaluated at any point with :func:`torch.func.functional_call`.

A continuous symmetry is described by a :class:`Symmetry`: its kind and, for every parameter
tensor, a tensor of *signs* of the same shape (0 outside the group). The three kinds act as

* translation: ``theta + alpha * signs`` (generator ``signs``);
* scale:       ``theta * alpha ** signs`` with signs in {0, 1} (generator ``signs * theta``);
* rescale:     ``theta * alpha ** signs`` with +1 on incoming and -1 on outgoing weights
  (generator ``signs * theta``).

Differentiating ``L(action(theta, alpha)) = L(theta)`` at ``alpha = 0`` (or 1) gives
``<grad L, xi> = 0``; differentiating that identity once more gives ``H xi = -J^T grad L``, where
``J`` is the Jacobian of the generator ``xi``: zero for translation, ``diag(signs)`` otherwise.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from . import _checks

Params = dict[str, torch.Tensor]

KINDS = ("translation", "scale", "rescale")
#: Activations with ``f(a x) = a f(x)`` for ``a > 0``: they let a hidden neuron be rescaled.
HOMOGENEOUS = (nn.ReLU, nn.LeakyReLU, nn.Identity)
#: Element-wise activations: they commute with a permutation of the hidden neurons.
ELEMENTWISE = HOMOGENEOUS + (nn.Tanh, nn.Sigmoid, nn.GELU, nn.Softplus, nn.ELU, nn.SiLU)
#: Normalisations that divide out a common scale of their inputs (see :func:`scale_groups`).
NORMALISATIONS = (nn.LayerNorm, nn.BatchNorm1d)


@dataclass(frozen=True)
class Symmetry:
    """One continuous symmetry of the loss: a kind, a label and per-parameter signs.

    Introduced in chapter 3.
    """

    kind: str
    label: str
    signs: Params

    def size(self) -> int:
        """How many parameters the group acts on."""
        return sum(int(torch.count_nonzero(s)) for s in self.signs.values())

    def flat_signs(self, model: nn.Module) -> torch.Tensor:
        """The signs as one float64 vector over ``model``'s flattened parameters (in
        ``named_parameters()`` order), zero where the group does not act. Chapter 6."""
        parts = []
        for name, p in model.named_parameters():
            s = self.signs.get(name)
            if s is not None and s.shape != p.shape:
                raise ValueError(f"the symmetry {self.label!r} has signs of shape "
                                 f"{tuple(s.shape)} for {name!r}, which has shape {tuple(p.shape)}")
            parts.append(torch.zeros(p.numel(), dtype=torch.float64) if s is None
                         else s.reshape(-1).to(torch.float64))
        return torch.cat(parts)


@dataclass(frozen=True)
class Constraint:
    """A checked identity: the ``residual`` (0 when it holds) and a ``size`` to compare it with.

    Introduced in chapter 3.
    """

    residual: float
    size: float

    @property
    def relative(self) -> float:
        """``|residual| / size`` (or ``|residual|`` when the size is zero)."""
        return abs(self.residual) / self.size if self.size > 0 else abs(self.residual)


# ---------------------------------------------------------------------------------------------
# parameters and input checks
# ---------------------------------------------------------------------------------------------

def parameters(model: nn.Module) -> Params:
    """Detached copies of a model's parameters, keyed by ``named_parameters()`` names. Chapter 3."""
    _checks.module("model", model)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _params(name: str, params) -> Params:
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{name} must be a non-empty dict {{parameter name: tensor}}, "
                        f"got {type(params).__name__}")
    for key, value in params.items():
        _checks.tensor(f"{name}[{key!r}]", value)
    return params


def _symmetry(sym, params: Params | None = None, kinds=KINDS, name: str = "params") -> Symmetry:
    if not isinstance(sym, Symmetry):
        raise TypeError(f"sym must be a Symmetry (from translation_groups, scale_groups or "
                        f"rescale_groups), got {type(sym).__name__}")
    _checks.choice("symmetry kind", sym.kind, kinds)
    if params is not None:
        for key, s in sym.signs.items():
            if key not in params or params[key].shape != s.shape:
                raise ValueError(f"the symmetry {sym.label!r} acts on parameter {key!r} of shape "
                                 f"{tuple(s.shape)}, which {name} does not have")
    return sym


def _sequential(model) -> nn.Sequential:
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential, got {type(model).__name__}")
    return _checks.module("model", model)


def _fits(name: str, params: Params, shapes: dict | None) -> Params:
    """Check that ``params`` has exactly the parameter names and shapes in ``shapes`` (if known)."""
    if shapes is not None:
        got = {key: tuple(value.shape) for key, value in params.items()}
        if got != shapes:
            raise ValueError(f"{name} must have the model's parameter names and shapes {shapes}, "
                             f"got {got}")
    return params


def _signs(model: nn.Module) -> Params:
    return {name: torch.zeros_like(p, dtype=p.dtype) for name, p in model.named_parameters()}


def _linear_pairs(model: nn.Sequential, allowed: tuple, what: str,
                  skip_blocked: bool = False) -> list[tuple[int, int]]:
    """Indices (i, j) of consecutive Linear layers, checking every module in between.

    A module that is not ``allowed`` raises a ValueError naming it, or, with ``skip_blocked``,
    only drops the pair of Linear layers it separates.
    """
    pairs, last, blocked = [], None, False
    for i, module in enumerate(model):
        if isinstance(module, nn.Linear):
            if last is not None and not blocked:
                pairs.append((last, i))
            last, blocked = i, False
        elif not isinstance(module, allowed):
            if not skip_blocked:
                names = ", ".join(t.__name__ for t in allowed)
                raise ValueError(f"{what} needs nn.Linear layers separated by {names}; layer {i} "
                                 f"is {type(module).__name__}, which does not allow it")
            blocked = True
    return pairs


# ---------------------------------------------------------------------------------------------
# the groups
# ---------------------------------------------------------------------------------------------

def translation_groups(model: nn.Sequential) -> list[Symmetry]:
    """Translation symmetries of a softmax classifier whose last layer is an ``nn.Linear``.

    Adding the same number to every logit leaves the softmax unchanged. So for each input ``j`` of
    the last layer, adding ``alpha`` to the whole column ``W[:, j]`` is a symmetry, and so is adding
    ``alpha`` to every entry of the bias. Introduced in chapter 3.
    """
    model = _sequential(model)
    if len(model) == 0 or not isinstance(model[-1], nn.Linear):
        last = type(model[-1]).__name__ if len(model) else "nothing"
        raise ValueError(f"translation groups need an nn.Linear producing the logits as the last "
                         f"layer, got {last}")
    index = len(model) - 1
    layer = model[index]
    groups = []
    for j in range(layer.in_features):
        signs = _signs(model)
        signs[f"{index}.weight"][:, j] = 1
        groups.append(Symmetry("translation", f"column {j} of layer {index}", signs))
    if layer.bias is not None:
        signs = _signs(model)
        signs[f"{index}.bias"][:] = 1
        groups.append(Symmetry("translation", f"bias of layer {index}", signs))
    return groups


def scale_groups(model: nn.Sequential) -> list[Symmetry]:
    """Scale symmetries of the ``nn.Linear`` layers that feed a normalisation directly.

    ``nn.LayerNorm`` over the layer's outputs divides out a common factor of all of them: the whole
    weight matrix and bias form one group. ``nn.BatchNorm1d`` (in training mode) normalises each
    output over the batch: each output's weight row and bias entry form a group. The symmetry is
    exact only with ``eps = 0``. Introduced in chapter 3.
    """
    model = _sequential(model)
    groups = []
    for i, (layer, norm) in enumerate(zip(model, list(model)[1:])):
        if not (isinstance(layer, nn.Linear) and isinstance(norm, NORMALISATIONS)):
            continue
        if isinstance(norm, nn.LayerNorm) and tuple(norm.normalized_shape) != (layer.out_features,):
            raise ValueError(f"layer {i + 1} normalises shape {tuple(norm.normalized_shape)}, not the "
                             f"{layer.out_features} outputs of layer {i}")
        rows = [slice(None)] if isinstance(norm, nn.LayerNorm) else range(layer.out_features)
        for row in rows:
            signs = _signs(model)
            signs[f"{i}.weight"][row] = 1
            if layer.bias is not None:
                signs[f"{i}.bias"][row] = 1
            what = "all rows" if isinstance(row, slice) else f"row {row}"
            groups.append(Symmetry("scale", f"{what} of layer {i} (before {type(norm).__name__})",
                                   signs))
    if not groups:
        raise ValueError("no nn.Linear layer is directly followed by nn.LayerNorm or "
                         "nn.BatchNorm1d, so there is no scale symmetry to find")
    return groups


def rescale_groups(model: nn.Sequential, *, skip_blocked: bool = False) -> list[Symmetry]:
    """One rescale symmetry per hidden neuron of a network of ``nn.Linear`` layers separated by
    positively homogeneous activations (``nn.ReLU``, ``nn.LeakyReLU``, ``nn.Identity``).

    Neuron ``k`` of layer ``l`` has incoming parameters (row ``k`` of the weight and bias entry ``k``,
    signs +1) and outgoing ones (column ``k`` of the next layer's weight, signs -1). Any other
    module raises a ValueError that names it; with ``skip_blocked=True`` (chapter 6) it only
    removes the neurons of the layer it follows. Introduced in chapter 3.
    """
    model = _sequential(model)
    _checks.flag("skip_blocked", skip_blocked)
    pairs = _linear_pairs(model, HOMOGENEOUS, "rescale symmetry", skip_blocked)
    groups = []
    for i, j in pairs:
        for k in range(model[i].out_features):
            signs = _signs(model)
            signs[f"{i}.weight"][k] = 1
            if model[i].bias is not None:
                signs[f"{i}.bias"][k] = 1
            signs[f"{j}.weight"][:, k] = -1
            groups.append(Symmetry("rescale", f"neuron {k} after layer {i}", signs))
    if not groups:
        raise ValueError("the model has fewer than two nn.Linear layers, so no hidden neurons")
    return groups


def find_groups(model: nn.Sequential) -> dict[str, list[Symmetry]]:
    """Every translation, scale and rescale group of ``model``, by kind (kinds it lacks map to an
    empty list). Rescale groups are looked for between every pair of ``nn.Linear`` layers joined
    only by positively homogeneous activations. Introduced in chapter 6.
    """
    model = _sequential(model)
    finders = {"translation": translation_groups, "scale": scale_groups,
               "rescale": lambda m: rescale_groups(m, skip_blocked=True)}
    found = {}
    for kind, finder in finders.items():
        try:
            found[kind] = finder(model)
        except ValueError:  # this kind of symmetry is absent from the model
            found[kind] = []
    if not any(found.values()):
        raise ValueError("the model has no translation, scale or rescale symmetry; see chapter 3 "
                         "for the layers that create them")
    return found


# ---------------------------------------------------------------------------------------------
# the group actions and their generators
# ---------------------------------------------------------------------------------------------

def _act(params, sym, alpha, kind: str) -> Params:
    params = _params("params", params)
    _symmetry(sym, params, kinds=(kind,) if kind == "translation" else ("scale", "rescale"))
    if kind != "translation":
        _checks.positive("alpha", alpha)
    else:
        _checks.finite("alpha", alpha)
    out = {}
    for key, theta in params.items():
        s = sym.signs.get(key)
        if s is None:
            out[key] = theta.detach().clone()
        elif kind == "translation":
            out[key] = theta.detach() + alpha * s.to(theta.dtype)
        else:
            out[key] = theta.detach() * torch.pow(torch.as_tensor(float(alpha), dtype=theta.dtype),
                                                  s.to(theta.dtype))
    return out


def translate(params: Params, sym: Symmetry, alpha: float) -> Params:
    """A copy of ``params`` with ``alpha`` added along a translation group. Chapter 3."""
    return _act(params, sym, alpha, "translation")


def scale(params: Params, sym: Symmetry, alpha: float) -> Params:
    """A copy of ``params`` with a scale group multiplied by ``alpha > 0``. Chapter 3."""
    if isinstance(sym, Symmetry) and sym.kind != "scale":
        raise ValueError(f"scale() needs a scale symmetry, got a {sym.kind} one")
    return _act(params, sym, alpha, "scale")


def rescale(params: Params, sym: Symmetry, alpha: float) -> Params:
    """A copy of ``params`` with a neuron's incoming weights multiplied by ``alpha > 0`` and its
    outgoing weights divided by it. Chapter 3."""
    if isinstance(sym, Symmetry) and sym.kind != "rescale":
        raise ValueError(f"rescale() needs a rescale symmetry, got a {sym.kind} one")
    return _act(params, sym, alpha, "rescale")


def act(params: Params, sym: Symmetry, alpha: float) -> Params:
    """A copy of ``params`` moved by the group element ``alpha`` of ``sym``, whatever its kind:
    :func:`translate`, :func:`scale` or :func:`rescale`. Chapter 3."""
    actions = {"translation": translate, "scale": scale, "rescale": rescale}
    return actions[_symmetry(sym).kind](params, sym, alpha)


def predicted_gradient(sym: Symmetry, grad: Params, alpha: float) -> Params:
    """The gradient at ``act(theta, sym, alpha)`` that the symmetry predicts from the gradient
    ``grad`` at ``theta``.

    Differentiating ``L(D theta + c) = L(theta)``, with ``D`` the diagonal of ``alpha ** signs``
    (the identity for translation), gives ``grad L(D theta + c) = D^-1 grad L(theta)``: a
    translation leaves the gradient unchanged, a scale divides the group's gradient by
    ``alpha``, a rescale divides the incoming gradient by ``alpha`` and multiplies the outgoing
    one by it. Introduced in chapter 3.
    """
    grad = _params("grad", grad)
    _symmetry(sym, grad, name="grad")
    if sym.kind == "translation":
        _checks.finite("alpha", alpha)
        return {key: g.detach().clone() for key, g in grad.items()}
    _checks.positive("alpha", alpha)
    out = {}
    for key, g in grad.items():
        s = sym.signs.get(key)
        factor = 1.0 if s is None else torch.pow(torch.as_tensor(float(alpha), dtype=g.dtype),
                                                 -s.to(g.dtype))
        out[key] = g.detach() * factor
    return out


def generator(sym: Symmetry, params: Params) -> Params:
    """The symmetry's generator (infinitesimal direction) at ``params``: ``signs`` for translation,
    ``signs * theta`` for scale and rescale. Introduced in chapter 3."""
    params = _params("params", params)
    _symmetry(sym, params)
    out = {}
    for key, theta in params.items():
        s = sym.signs.get(key, torch.zeros_like(theta)).to(theta.dtype)
        out[key] = s if sym.kind == "translation" else s * theta.detach()
    return out


def permute(params: Params, model: nn.Sequential, layer: int, perm) -> Params:
    """A copy of ``params`` with the outputs of the ``nn.Linear`` at index ``layer`` reordered by
    ``perm`` (rows of its weight and bias) and the next ``nn.Linear``'s columns reordered to match.

    Valid when only element-wise activations sit between the two layers. Introduced in chapter 3.
    """
    params = _params("params", params)
    model = _sequential(model)
    pairs = dict(_linear_pairs(model, ELEMENTWISE, "permuting hidden neurons"))
    if isinstance(layer, bool) or not isinstance(layer, int) or layer not in pairs:
        raise ValueError(f"layer must be the index of an nn.Linear followed by another one; "
                         f"choose one of {sorted(pairs)}, got {layer!r}")
    width = model[layer].out_features
    _fits("params", params, {k: tuple(p.shape) for k, p in model.named_parameters()})
    try:
        perm = torch.as_tensor(perm)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"perm must be a permutation of 0..{width - 1}, got {perm!r}") from None
    if perm.dtype in (torch.float16, torch.float32, torch.float64) or perm.shape != (width,) or \
            not torch.equal(perm.sort().values, torch.arange(width)):
        raise ValueError(f"perm must be a permutation of 0..{width - 1}, got {perm.tolist()}")
    out = {key: theta.detach().clone() for key, theta in params.items()}
    out[f"{layer}.weight"] = out[f"{layer}.weight"][perm]
    if f"{layer}.bias" in out:
        out[f"{layer}.bias"] = out[f"{layer}.bias"][perm]
    nxt = pairs[layer]
    out[f"{nxt}.weight"] = out[f"{nxt}.weight"][:, perm]
    return out


# ---------------------------------------------------------------------------------------------
# losses, gradients, Hessian-vector products
# ---------------------------------------------------------------------------------------------

def loss_function(model: nn.Module, X: torch.Tensor, target: torch.Tensor,
                  criterion: Callable = nn.functional.cross_entropy,
                  weight_decay: float = 0.0) -> Callable[[Params], torch.Tensor]:
    """The map ``params -> criterion(model(X; params), target) + weight_decay/2 * |params|^2``.

    Introduced in chapter 3.
    """
    _checks.module("model", model)
    _checks.tensor("X", X, ndim=2)
    if not isinstance(target, torch.Tensor) or target.shape[0] != X.shape[0]:
        raise ValueError(f"target must be a tensor with one entry per row of X ({X.shape[0]})")
    if not callable(criterion):
        raise TypeError(f"criterion must be callable, got {type(criterion).__name__}")
    _checks.positive("weight_decay", weight_decay, allow_zero=True)

    def loss(params: Params) -> torch.Tensor:
        value = criterion(functional_call(model, params, (X,)), target)
        if weight_decay:
            value = value + 0.5 * weight_decay * sum((p ** 2).sum() for p in params.values())
        return value

    loss.shapes = {key: tuple(p.shape) for key, p in model.named_parameters()}  # checked by users
    return loss


def _leaves(params: Params) -> Params:
    return {key: theta.detach().clone().requires_grad_(True) for key, theta in params.items()}


def gradient(loss: Callable, params: Params) -> Params:
    """The gradient of ``loss`` at ``params``, by autograd. Introduced in chapter 3."""
    if not callable(loss):
        raise TypeError(f"loss must be callable (see loss_function), got {type(loss).__name__}")
    leaves = _leaves(_fits("params", _params("params", params), getattr(loss, "shapes", None)))
    grads = torch.autograd.grad(loss(leaves), list(leaves.values()), allow_unused=True)
    return {key: torch.zeros_like(leaves[key]) if g is None else g.detach()
            for key, g in zip(leaves, grads)}


def hvp(loss: Callable, params: Params, vector: Params) -> Params:
    """The Hessian of ``loss`` at ``params`` times ``vector``, by double backward. Chapter 3."""
    if not callable(loss):
        raise TypeError(f"loss must be callable (see loss_function), got {type(loss).__name__}")
    leaves = _leaves(_fits("params", _params("params", params), getattr(loss, "shapes", None)))
    vector = _params("vector", vector)
    if vector.keys() != leaves.keys() or any(vector[k].shape != leaves[k].shape for k in leaves):
        raise ValueError("vector must have the same parameter names and shapes as params")
    grads = torch.autograd.grad(loss(leaves), list(leaves.values()), create_graph=True,
                                allow_unused=True)
    total = sum((g * vector[k].to(g.dtype)).sum() for k, g in zip(leaves, grads) if g is not None)
    if not isinstance(total, torch.Tensor) or not total.requires_grad:
        return {key: torch.zeros_like(theta) for key, theta in leaves.items()}
    out = torch.autograd.grad(total, list(leaves.values()), allow_unused=True)
    return {key: torch.zeros_like(leaves[key]) if h is None else h.detach()
            for key, h in zip(leaves, out)}


def dot(a: Params, b: Params) -> float:
    """The inner product of two parameter dictionaries. Introduced in chapter 3."""
    a, b = _params("a", a), _params("b", b)
    if a.keys() != b.keys():
        raise ValueError("a and b must have the same parameter names")
    for k in a:
        if a[k].shape != b[k].shape:
            raise ValueError(f"a[{k!r}] and b[{k!r}] must have the same shape, got "
                             f"{tuple(a[k].shape)} and {tuple(b[k].shape)}")
    return float(sum((a[k].double() * b[k].double()).sum() for k in a))


def norm(a: Params) -> float:
    """The Euclidean norm of a parameter dictionary. Introduced in chapter 3."""
    return dot(a, a) ** 0.5


def _combine(a: Params, b: Params, beta: float) -> Params:
    return {k: a[k] + beta * b[k] for k in a}


# ---------------------------------------------------------------------------------------------
# the constraints
# ---------------------------------------------------------------------------------------------

def gradient_constraint(sym: Symmetry, loss: Callable, params: Params) -> Constraint:
    """Check ``<grad L, xi> = 0`` for the generator ``xi`` of ``sym`` at ``params``.

    Translation: the gradient sums to zero over the group. Scale: ``<grad L, theta> = 0`` on the
    group. Rescale: ``<grad L_in, theta_in> - <grad L_out, theta_out> = 0``. The size is
    ``|grad L| |xi|``, so ``relative`` is the cosine of the angle between them. Chapter 3.
    """
    xi = generator(sym, params)
    g = gradient(loss, params)
    restricted = {k: g[k] * (sym.signs[k] != 0) for k in g}
    return Constraint(dot(g, xi), norm(restricted) * norm(xi))


def hessian_constraint(sym: Symmetry, loss: Callable, params: Params) -> Constraint:
    """Check ``H xi = -J^T grad L``, the derivative of the gradient constraint.

    Translation: ``H xi = 0``. Scale: ``H theta_A = -grad_A L`` (and zero in the other rows).
    Rescale: ``H (theta_in, -theta_out) = -(grad_in L, -grad_out L)``. The residual is the norm of
    ``H xi + J^T grad L``; the size adds the norms of the two terms and of ``H r`` for a fixed random
    direction ``r`` on the group with ``|r| = |xi|`` (a yardstick for a generic direction).
    Introduced in chapter 3.
    """
    xi = generator(sym, params)
    g = gradient(loss, params)
    if sym.kind == "translation":
        jtg = {k: torch.zeros_like(v) for k, v in g.items()}
    else:
        jtg = {k: sym.signs[k].to(v.dtype) * v for k, v in g.items()}
    h_xi = hvp(loss, params, xi)
    rng = torch.Generator().manual_seed(0)
    r = {k: torch.randn(v.shape, generator=rng, dtype=v.dtype) * (sym.signs[k] != 0)
         for k, v in params.items()}
    r = {k: v * (norm(xi) / max(norm(r), 1e-300)) for k, v in r.items()}
    size = norm(h_xi) + norm(jtg) + norm(hvp(loss, params, r))
    return Constraint(norm(_combine(h_xi, jtg, 1.0)), size)


def weight_decay_prediction(sym: Symmetry, params: Params, weight_decay: float) -> float:
    """What weight decay adds to ``<grad L, xi>``: ``weight_decay * <theta, xi>``.

    Translation: ``lambda * sum(theta_group)``; scale: ``lambda |theta_A|^2``; rescale:
    ``lambda (|theta_in|^2 - |theta_out|^2)``. Introduced in chapter 3.
    """
    _checks.positive("weight_decay", weight_decay, allow_zero=True)
    return weight_decay * dot(_params("params", params), generator(sym, params))


def permutation_constraint(loss: Callable, params: Params, model: nn.Sequential, layer: int,
                           perm) -> Constraint:
    """Check that the gradient is equivariant: ``grad L(P theta) = P grad L(theta)``.

    The size is ``|grad L(theta)|``. Introduced in chapter 3.
    """
    moved = permute(params, model, layer, perm)
    expected = permute(gradient(loss, params), model, layer, perm)
    got = gradient(loss, moved)
    return Constraint(norm(_combine(got, expected, -1.0)), norm(expected))


def loss_change(loss: Callable, params: Params, moved: Params) -> Constraint:
    """``L(moved) - L(params)``, with ``|L(params)|`` as the size. Introduced in chapter 3."""
    if not callable(loss):
        raise TypeError(f"loss must be callable (see loss_function), got {type(loss).__name__}")
    shapes = getattr(loss, "shapes", None)
    before = float(loss(_fits("params", _params("params", params), shapes)))
    after = float(loss(_fits("moved", _params("moved", moved), shapes)))
    return Constraint(after - before, abs(before))


@dataclass(frozen=True)
class OrbitScan:
    """The loss and the gradient along one symmetry orbit, from :func:`orbit_scan`.

    ``alphas`` are the group elements (A,); ``loss`` the loss there (A,). ``gradient_norm`` and
    ``predicted_norm`` map a sign (+1 incoming or in the group, -1 outgoing, 0 the rest of the
    network) to the norm (A,) of the gradient on those parameters, measured and as
    :func:`predicted_gradient` predicts it; ``deviation`` (A,) is the norm of measured minus
    predicted gradient over the norm of the predicted one. Introduced in chapter 3.
    """

    alphas: torch.Tensor
    loss: torch.Tensor
    gradient_norm: dict[int, torch.Tensor]
    predicted_norm: dict[int, torch.Tensor]
    deviation: torch.Tensor


def _restricted_norm(grad: Params, sym: Symmetry, sign: int) -> float:
    return norm({k: g * (sym.signs.get(k, torch.zeros_like(g)) == sign) for k, g in grad.items()})


def orbit_scan(sym: Symmetry, loss: Callable, params: Params, alphas) -> OrbitScan:
    """Move ``params`` along the orbit of ``sym`` (``act`` with each of ``alphas``) and record
    the loss and the gradient at every point, next to the gradient the symmetry predicts.

    For an exact symmetry the loss is the same at every point and the deviation is at rounding
    level; a symmetry-breaking term (weight decay, ``eps`` in a normalisation) shows up in
    both. Introduced in chapter 3.
    """
    if not callable(loss):
        raise TypeError(f"loss must be callable (see loss_function), got {type(loss).__name__}")
    params = _params("params", params)
    _symmetry(sym, params)
    if isinstance(alphas, torch.Tensor):
        alphas = alphas.tolist()
    if not isinstance(alphas, (list, tuple)) or not alphas:
        raise ValueError("alphas must be a non-empty list (or 1-D tensor) of group elements")
    for i, alpha in enumerate(alphas):
        (_checks.finite if sym.kind == "translation" else _checks.positive)(f"alphas[{i}]", alpha)
    base = gradient(loss, params)
    signs = sorted({int(v) for s in sym.signs.values() for v in s.unique().tolist()} | {0},
                   reverse=True)
    losses, deviation = [], []
    measured = {sign: [] for sign in signs}
    predicted = {sign: [] for sign in signs}
    for alpha in alphas:
        moved = act(params, sym, alpha)
        losses.append(float(loss(moved)))
        got, want = gradient(loss, moved), predicted_gradient(sym, base, alpha)
        deviation.append(norm(_combine(got, want, -1.0)) / max(norm(want), 1e-300))
        for sign in signs:
            measured[sign].append(_restricted_norm(got, sym, sign))
            predicted[sign].append(_restricted_norm(want, sym, sign))
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
    return OrbitScan(as_tensor([float(a) for a in alphas]), as_tensor(losses),
                     {k: as_tensor(v) for k, v in measured.items()},
                     {k: as_tensor(v) for k, v in predicted.items()}, as_tensor(deviation))


# ---------------------------------------------------------------------------------------------
# two-parameter pictures
# ---------------------------------------------------------------------------------------------

def toy_loss(kind: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss of two parameters ``(a, b)`` with one symmetry, for the chapter's vector fields.

    ``"translation"``: cross-entropy of class 0 with logits ``(a, b)``, invariant under
    ``(a + c, b + c)``. ``"scale"``: a function of the angle of ``(a, b)`` only. ``"rescale"``:
    ``(a b - 1)^2 / 2``, invariant under ``(alpha a, b / alpha)``. Introduced in chapter 3.
    """
    _checks.choice("kind", kind, KINDS)
    if kind == "translation":
        return lambda a, b: nn.functional.softplus(b - a)
    if kind == "scale":
        return lambda a, b: 0.5 * (a / torch.sqrt(a ** 2 + b ** 2) - 0.6) ** 2
    return lambda a, b: 0.5 * (a * b - 1.0) ** 2


def centring_groups(model: nn.Sequential) -> list[Symmetry]:
    """Translation symmetries created by the mean-centring of a normalisation.

    ``nn.LayerNorm`` subtracts the mean over a sample's outputs, so adding the same number to every
    pre-activation of the ``nn.Linear`` layer before it changes nothing: adding ``alpha`` to the
    whole bias, or to the whole column ``W[:, j]`` (which adds ``alpha·x_j`` to every output of
    the sample), is a translation symmetry. ``nn.BatchNorm1d`` subtracts each output's mean over
    the batch, so each single bias entry is one. The symmetries need the centring only, not
    ``eps = 0``. Introduced in chapter 3 (symmetry and the gradient).
    """
    model = _sequential(model)
    groups = []
    for i, (layer, norm) in enumerate(zip(model, list(model)[1:])):
        if not (isinstance(layer, nn.Linear) and isinstance(norm, NORMALISATIONS)):
            continue
        name = type(norm).__name__
        if isinstance(norm, nn.LayerNorm):
            if tuple(norm.normalized_shape) != (layer.out_features,):
                raise ValueError(f"layer {i + 1} normalises shape {tuple(norm.normalized_shape)}, "
                                 f"not the {layer.out_features} outputs of layer {i}")
            for j in range(layer.in_features):
                signs = _signs(model)
                signs[f"{i}.weight"][:, j] = 1
                groups.append(Symmetry("translation", f"column {j} of layer {i} (before {name})",
                                       signs))
        if layer.bias is None:
            continue
        entries = [slice(None)] if isinstance(norm, nn.LayerNorm) else range(layer.out_features)
        for k in entries:
            signs = _signs(model)
            signs[f"{i}.bias"][k] = 1
            what = "bias" if isinstance(k, slice) else f"bias entry {k}"
            groups.append(Symmetry("translation", f"{what} of layer {i} (before {name})", signs))
    if not groups:
        raise ValueError("no nn.Linear layer is directly followed by nn.LayerNorm or "
                         "nn.BatchNorm1d (with a bias, for BatchNorm), so there is no centring "
                         "symmetry to find")
    return groups


def conv_groups(model: nn.Sequential) -> dict[str, list[Symmetry]]:
    """Every translation, scale and rescale group of a convnet built like
    :func:`symcourse.models.vgg_digits`, by kind.

    Scale: each output channel (filter, and bias entry) of an ``nn.Conv2d`` followed directly by
    ``nn.BatchNorm2d``. Rescale: each output channel of an ``nn.Conv2d`` followed only by ``nn.ReLU``
    and ``nn.MaxPool2d`` (both positively homogeneous) up to the next ``nn.Conv2d`` (outgoing: that
    channel's input slice) or up to ``nn.Flatten → nn.Linear`` (outgoing: the channel's block of
    columns). Translation: :func:`translation_groups` of the last ``nn.Linear``. Introduced in
    chapter 6 (a convnet on real images).
    """
    model = _sequential(model)
    modules = list(model)
    scale, rescale = [], []
    for i, layer in enumerate(modules):
        if not isinstance(layer, nn.Conv2d):
            continue
        after = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(after, nn.BatchNorm2d):
            for k in range(layer.out_channels):
                signs = _signs(model)
                signs[f"{i}.weight"][k] = 1
                if layer.bias is not None:
                    signs[f"{i}.bias"][k] = 1
                scale.append(Symmetry("scale", f"filter {k} of layer {i} (before BatchNorm2d)",
                                      signs))
            continue
        j = i + 1
        while j < len(modules) and isinstance(modules[j], (nn.ReLU, nn.MaxPool2d)):
            j += 1
        if j < len(modules) and isinstance(modules[j], nn.Conv2d):
            out_of = lambda signs, k, j=j: signs[f"{j}.weight"][:, k].fill_(-1)
        elif (j + 1 < len(modules) and isinstance(modules[j], nn.Flatten)
              and isinstance(modules[j + 1], nn.Linear)):
            block = modules[j + 1].in_features // layer.out_channels
            if block * layer.out_channels != modules[j + 1].in_features:
                raise ValueError(f"layer {j + 1} has {modules[j + 1].in_features} inputs, not a "
                                 f"multiple of the {layer.out_channels} channels of layer {i}")
            out_of = lambda signs, k, j=j, b=block: signs[f"{j + 1}.weight"][
                :, k * b:(k + 1) * b].fill_(-1)
        else:
            continue
        for k in range(layer.out_channels):
            signs = _signs(model)
            signs[f"{i}.weight"][k] = 1
            if layer.bias is not None:
                signs[f"{i}.bias"][k] = 1
            out_of(signs, k)
            rescale.append(Symmetry("rescale", f"channel {k} of layer {i}", signs))
    if not scale and not rescale:
        raise ValueError("no nn.Conv2d layer feeds nn.BatchNorm2d or a homogeneous path to "
                         "another layer, so there are no convolutional groups to find")
    return {"translation": translation_groups(model), "scale": scale, "rescale": rescale}
