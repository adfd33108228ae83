"""The public entry points of symcourse, each with a cheap valid call and what each argument is.

Used by test_properties.py: it replaces one argument of a valid call by a bad value of the
argument's kind and checks that the call refuses it clearly, quickly and without side effects.
Every factory builds fresh objects, so a call that changed its arguments cannot hide that from
the next example.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from symcourse import (conservation, data, detect, dynamics, exercises, models, plots, recording,
                       remedies, stall, stats, sweeps, symmetry, teleport, theory, widgets)

F64 = torch.float64


@dataclass
class Case:
    """``func(**make())`` is a valid call; ``kinds`` says what each checked argument is."""

    func: object
    make: object
    kinds: dict
    label: str = field(default="")
    heavy: bool = False  # the valid call takes seconds: run it in the thorough profile only

    def __post_init__(self):
        self.label = self.label or f"{self.func.__module__.split('.')[-1]}.{self.func.__qualname__}"


# --------------------------------------------------------------------------------------------
# small valid objects
# --------------------------------------------------------------------------------------------

def affine_task():
    return data.stall_task(n_points=24, seed=1)


def class_task(dtype=F64):
    return data.spiral_task(n_points=30, n_classes=3, seed=0, dtype=dtype)


def relu_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3)).double()


def norm_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.LayerNorm(4, elementwise_affine=False), nn.Linear(4, 3)).double()


def bypassed_net():
    """A ReLU net whose first two hidden units are active on every point of ``points()``."""
    net = relu_net()
    with torch.no_grad():
        net[0].bias[:2] = 10.0
    return net


def points():
    return torch.rand(16, 2, generator=torch.Generator().manual_seed(3), dtype=F64)


def labels16():
    return torch.arange(16) % 3


def theta_batch():
    return models.init_theta(3, dtype=F64)


def quad(th):
    return 0.5 * (th ** 2 * torch.arange(1, th.numel() + 1, dtype=th.dtype)).sum()


def theta3():
    return torch.tensor([1.0, -0.5, 0.25], dtype=F64)


def params():
    return symmetry.parameters(relu_net())


def rescale_sym():
    return symmetry.rescale_groups(relu_net())[0]


def translation_sym():
    return symmetry.translation_groups(relu_net())[0]


def net_loss():
    net = relu_net()
    return symmetry.loss_function(net, points(), labels16())


def signs():
    net = relu_net()
    return teleport.sign_matrix(net, symmetry.rescale_groups(net))


def flat():
    return teleport.flat_parameters(relu_net())


def tiny_mlp():
    return teleport.deep_relu_mlp(in_dim=2, width=4, depth=2, classes=3)


def sweep_result():
    return sweeps.train_sweep(affine_task(), 2, steps=3, dtype=F64)


def remedy_result():
    return remedies.train_remedy(affine_task(), 2, steps=3, record_every=1)


def recording_run():
    return recording.train_recorded(relu_net(), class_task(), 0.1, 2, batch_size=10)


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

P, NN, PF, NF = "pos_int", "nonneg_int", "pos_float", "nonneg_float"

CASES = [
    # data
    Case(data.max_affine_task, lambda: dict(weights=[[1.0, 2.0]], biases=[0.0], n_points=5),
         dict(n_points=P, seed="seed", dtype="dtype")),
    Case(data.stall_task, lambda: dict(n_points=5), dict(n_points=P, seed="seed", dtype="dtype")),
    Case(data.spiral_task, lambda: dict(n_points=9),
         dict(n_points=P, n_classes=P, noise=NF, seed="seed", dtype="dtype")),
    Case(data.mnist1d_task, lambda: dict(n_samples=50), dict(n_samples=P, seed="seed", dtype="dtype"), heavy=True),
    # models
    Case(models.question_network, lambda: dict(),
         dict(in_dim=P, units=P, bias="flag", dropout_before="unit_open", dropout_after="unit_open")),
    Case(models.linear_layer, lambda: dict(net=models.question_network()), dict(net="module")),
    Case(models.theta_from_network, lambda: dict(net=models.question_network()), dict(net="module")),
    Case(models.load_theta, lambda: dict(net=models.question_network(), theta=torch.zeros(2, 3)),
         dict(net="module", theta="tensor")),
    Case(models.init_theta, lambda: dict(seeds=2),
         dict(seeds="seeds", in_dim=P, units=P, bias="flag", dtype="dtype")),
    Case(models.perfect_theta, lambda: dict(), dict(dtype="dtype")),
    Case(models.augment, lambda: dict(X=points(), bias=True), dict(X="tensor_loose", bias="flag")),
    Case(models.unit_outputs, lambda: dict(theta=theta_batch(), X=points()), dict(theta="tensor", X="tensor")),
    Case(models.predict, lambda: dict(theta=theta_batch(), X=points()), dict(theta="tensor", X="tensor")),
    Case(models.mse, lambda: dict(theta=theta_batch(), X=points(), y=torch.zeros(16, dtype=F64)),
         dict(theta="tensor", X="tensor", y="tensor")),
    Case(models.mae, lambda: dict(theta=theta_batch(), X=points(), y=torch.zeros(16, dtype=F64)),
         dict(theta="tensor", X="tensor", y="tensor")),
    Case(models.symmetric_classifier, lambda: dict(in_dim=2, hidden=3, classes=2),
         dict(in_dim=P, hidden=P, classes=P, seed="seed", dtype="dtype")),
    # stats
    Case(stats.wilson_interval, lambda: dict(successes=3, trials=10, confidence=0.9),
         dict(successes=NN, trials=P, confidence="unit_open_pos")),
    Case(stats.rate_summary, lambda: dict(flags=[True, False, True]),
         dict(flags="flags", confidence="unit_open_pos")),
    # sweeps
    Case(sweeps.train_sweep, lambda: dict(task=affine_task(), seeds=2, steps=3),
         dict(task="affine_task", seeds="seeds", units=P, bias="flag", steps=P, optimizer="choice",
              lr=PF, betas="betas", eps=PF, momentum="unit_open", weight_decay=NF,
              dropout_before="unit_open", dropout_after="unit_open", record_every=P,
              record_params="flag", chunk_size=P, dropout_seed="seed", dtype="dtype")),
    Case(sweeps.train_loop, lambda: dict(task=affine_task(), seeds=1, steps=3),
         dict(task="affine_task", seeds="seeds", units=P, bias="flag", steps=P, optimizer="choice",
              lr=PF, betas="betas", eps=PF, momentum="unit_open", weight_decay=NF,
              record_every=P, dtype="dtype", threads=P), heavy=True),
    Case(sweeps.eval_mse, lambda: dict(result=sweep_result(), task=affine_task()),
         dict(result="object", task="affine_task")),
    Case(sweeps.winner_mask, lambda: dict(z=torch.randn(2, 3, 4, dtype=F64)), dict(z="tensor_loose")),
    # stall
    Case(stall.winners, lambda: dict(theta=theta_batch(), X=points()), dict(theta="tensor", X="tensor")),
    Case(stall.win_fractions, lambda: dict(theta=theta_batch(), X=points()), dict(theta="tensor", X="tensor")),
    Case(stall.dead_units, lambda: dict(theta=theta_batch(), X=points()), dict(theta="tensor", X="tensor")),
    Case(stall.is_stalled, lambda: dict(final_loss=torch.rand(4, dtype=F64)),
         dict(final_loss="tensor_any", threshold=PF)),
    Case(stall.gradients, lambda: dict(theta=theta_batch(), task=affine_task()),
         dict(theta="tensor", task="affine_task")),
    Case(stall.gradient_report, lambda: dict(theta=theta_batch(), task=affine_task()),
         dict(theta="tensor", task="affine_task")),
    Case(stall.affine_lstsq, lambda: dict(X=points(), y=torch.rand(16, dtype=F64)),
         dict(X="tensor", y="tensor")),
    Case(stall.affine_fit_errors, lambda: dict(draws=2, n_points=8),
         dict(draws=P, n_points=P, first_seed="seed")),
    # symmetry
    Case(symmetry.parameters, lambda: dict(model=relu_net()), dict(model="module")),
    Case(symmetry.translation_groups, lambda: dict(model=relu_net()), dict(model="module")),
    Case(symmetry.scale_groups, lambda: dict(model=norm_net()), dict(model="module")),
    Case(symmetry.rescale_groups, lambda: dict(model=relu_net()), dict(model="module", skip_blocked="flag")),
    Case(symmetry.find_groups, lambda: dict(model=relu_net()), dict(model="module")),
    Case(symmetry.translate, lambda: dict(params=params(), sym=translation_sym(), alpha=0.5),
         dict(params="params", sym="object", alpha="finite")),
    Case(symmetry.rescale, lambda: dict(params=params(), sym=rescale_sym(), alpha=1.5),
         dict(params="params", sym="object", alpha=PF)),
    Case(symmetry.act, lambda: dict(params=params(), sym=rescale_sym(), alpha=1.5),
         dict(params="params", sym="object", alpha=PF)),
    Case(symmetry.predicted_gradient, lambda: dict(sym=rescale_sym(), grad=params(), alpha=1.5),
         dict(sym="object", grad="params", alpha=PF)),
    Case(symmetry.generator, lambda: dict(sym=rescale_sym(), params=params()),
         dict(sym="object", params="params")),
    Case(symmetry.permute, lambda: dict(params=params(), model=relu_net(), layer=0, perm=[1, 0, 3, 2]),
         dict(params="params", model="module", layer="index", perm="perm")),
    Case(symmetry.loss_function, lambda: dict(model=relu_net(), X=points(), target=labels16()),
         dict(model="module", X="tensor", criterion="callable", weight_decay=NF)),
    Case(symmetry.gradient, lambda: dict(loss=net_loss(), params=params()),
         dict(loss="callable", params="params")),
    Case(symmetry.hvp, lambda: dict(loss=net_loss(), params=params(), vector=params()),
         dict(loss="callable", params="params", vector="params")),
    Case(symmetry.dot, lambda: dict(a=params(), b=params()), dict(a="params", b="params")),
    Case(symmetry.norm, lambda: dict(a=params()), dict(a="params_any")),
    Case(symmetry.gradient_constraint, lambda: dict(sym=rescale_sym(), loss=net_loss(), params=params()),
         dict(sym="object", loss="callable", params="params")),
    Case(symmetry.weight_decay_prediction, lambda: dict(sym=rescale_sym(), params=params(), weight_decay=0.1),
         dict(sym="object", params="params", weight_decay=NF)),
    Case(symmetry.loss_change, lambda: dict(loss=net_loss(), params=params(), moved=params()),
         dict(loss="callable", params="params", moved="params")),
    Case(symmetry.orbit_scan, lambda: dict(sym=rescale_sym(), loss=net_loss(), params=params(),
                                           alphas=[0.5, 1.0]),
         dict(sym="object", loss="callable", params="params", alphas="alphas")),
    Case(symmetry.toy_loss, lambda: dict(kind="scale"), dict(kind="choice")),
    # conservation
    Case(conservation.gradient, lambda: dict(loss_fn=quad, theta=theta3()),
         dict(loss_fn="callable", theta="tensor")),
    Case(conservation.gradient_flow, lambda: dict(loss_fn=quad, theta0=theta3(), times=[0.0, 0.1]),
         dict(loss_fn="callable", theta0="tensor", times="times", rtol=PF, atol=NF, max_steps=P,
              max_seconds=PF)),
    Case(conservation.gradient_descent, lambda: dict(loss_fn=quad, theta0=theta3(), lr=0.1, steps=3),
         dict(loss_fn="callable", theta0="tensor", lr=PF, steps=P, record_every=P)),
    Case(conservation.translation_quantity, lambda: dict(theta=theta3()), dict(theta="tensor_any")),
    Case(conservation.scale_quantity, lambda: dict(theta=theta3()), dict(theta="tensor_any")),
    Case(conservation.rescale_quantity, lambda: dict(w_in=torch.ones(3, 2, dtype=F64), w_out=torch.ones(1, 3, dtype=F64)),
         dict(w_in="tensor", w_out="tensor", degree=P)),
    Case(conservation.split, lambda: dict(theta=theta3(), shapes=[(1, 3)]), dict(theta="tensor", shapes="shapes")),
    Case(conservation.relu_shapes, lambda: dict(in_dim=2, hidden=3), dict(in_dim=P, hidden=P, out_dim=P)),
    Case(conservation.softmax_shapes, lambda: dict(in_dim=2, classes=3), dict(in_dim=P, classes=P)),
    Case(conservation.normalised_shapes, lambda: dict(in_dim=2, hidden=3), dict(in_dim=P, hidden=P, out_dim=P)),
    Case(conservation.chain_shapes, lambda: dict(widths=[2, 3, 1]), dict(widths="widths")),
    Case(conservation.relu_loss, lambda: dict(theta=torch.ones(12, dtype=F64), X=points(),
                                              Y=torch.zeros(16, 1, dtype=F64), hidden=3),
         dict(theta="tensor", X="tensor", Y="tensor", hidden=P, power=P)),
    Case(conservation.relative_drift, lambda: dict(values=torch.rand(5, dtype=F64) + 1), dict(values="tensor_any")),
    Case(conservation.count_conservation_laws,
         lambda: dict(loss=lambda th, w: (w * th[:2] ** 2).sum() * th[2], theta=theta3(), n_terms=2),
         dict(loss="callable", theta="tensor", n_terms=P, max_depth=P, rank_rtol=PF, samples="pos_int_or_none",
              seed="seed", strict="flag"), heavy=True),
    Case(conservation.network_examples, lambda: dict(), dict(seed="seed")),
    Case(conservation.hyperbola_start, lambda: dict(product=0.1, imbalance=3.0),
         dict(product="finite", imbalance="finite")),
    Case(conservation.count_linear_laws, lambda: dict(width=1, n_points=4), dict(width=P, n_points=P, seed="seed"), heavy=True),
    Case(conservation.count_relu_laws, lambda: dict(hidden=1, n_points=4), dict(hidden=P, n_points=P, seed="seed"), heavy=True),
    # dynamics
    Case(dynamics.heavy_ball, lambda: dict(loss_fn=quad, theta0=theta3(), lr=0.1, steps=3),
         dict(loss_fn="callable", theta0="tensor", lr=PF, steps=P, momentum="unit_open", weight_decay=NF)),
    Case(dynamics.correction_coefficient, lambda: dict(lr=0.1), dict(lr=PF, momentum="unit_open")),
    Case(dynamics.flow_loss, lambda: dict(loss_fn=quad), dict(loss_fn="callable", momentum="unit_open")),
    Case(dynamics.modified_loss, lambda: dict(loss_fn=quad, lr=0.1),
         dict(loss_fn="callable", lr=PF, momentum="unit_open")),
    Case(dynamics.modified_gradient, lambda: dict(loss_fn=quad, theta=theta3(), lr=0.1),
         dict(loss_fn="callable", theta="tensor", lr=PF, momentum="unit_open")),
    Case(dynamics.consistent_velocity, lambda: dict(loss_fn=quad, theta0=theta3(), lr=0.1),
         dict(loss_fn="callable", theta0="tensor", lr=PF, momentum="unit_open")),
    Case(dynamics.compare_with_flows, lambda: dict(loss_fn=quad, theta0=theta3(), lr=0.1, steps=2),
         dict(loss_fn="callable", theta0="tensor", lr=PF, steps=P, momentum="unit_open", weight_decay=NF), heavy=True),
    Case(dynamics.fit_slope, lambda: dict(x=[1.0, 2.0, 4.0], y=[1.0, 4.0, 16.0]), dict(x="positives", y="positives")),
    Case(dynamics.error_orders, lambda: dict(loss_fn=quad, theta0=theta3(), lrs=[0.1, 0.05], T=0.2),
         dict(loss_fn="callable", theta0="tensor", lrs="positives", T=PF, momentum="unit_open", rtol=PF), heavy=True),
    Case(dynamics.batch_gradients,
         lambda: dict(batch_loss=lambda th, idx: (th ** 2).sum() * idx.numel(), theta=theta3(),
                      n_samples=4, batch_size=2, n_batches=2),
         dict(batch_loss="callable", theta="tensor", n_samples=P, batch_size=P, n_batches=P, seed="seed")),
    Case(dynamics.noise_along, lambda: dict(batch_grads=torch.randn(4, 3, dtype=F64), full_grad=torch.zeros(3, dtype=F64),
                                            directions=torch.eye(3, dtype=F64)),
         dict(batch_grads="tensor", full_grad="tensor", directions="tensor")),
    Case(dynamics.translation_generators, lambda: dict(in_dim=2, classes=3), dict(in_dim=P, classes=P)),
    Case(dynamics.rescale_generators, lambda: dict(theta=torch.ones(12, dtype=F64), in_dim=2, hidden=3),
         dict(theta="tensor", in_dim=P, hidden=P, out_dim=P)),
    # recording
    Case(recording.train_recorded, lambda: dict(model=relu_net(), task=class_task(), lr=0.1, steps=2, batch_size=10),
         dict(model="module", task="class_task", lr=PF, steps=P, weight_decay=NF, momentum="unit_open",
              batch_size="pos_int_or_none", seed="seed")),
    Case(recording.fixed_time_runs, lambda: dict(make_model=relu_net, task=class_task(), lrs=[0.1], duration=0.2, batch_size=10),
         dict(make_model="callable", task="class_task", lrs="positives", duration=PF)),
    # theory
    Case(theory.stiffness, lambda: dict(kind="scale", weight_decay=0.1), dict(kind="choice", weight_decay=NF)),
    Case(theory.exact_recursion, lambda: dict(kind="translation", initial=theta3(), drive=None, steps=3, lr=0.1),
         dict(kind="choice", initial="tensor", steps=P, lr=PF, weight_decay=NF, momentum="unit_open")),
    Case(theory.oscillator, lambda: dict(times=torch.linspace(0, 1, 5, dtype=F64), mass=1.0, damping=0.5,
                                         stiffness=2.0, x0=1.0, v0=0.0),
         dict(times="tensor", mass=PF, damping=NF, stiffness=NF, x0="finite", v0="finite")),
    Case(theory.free_decay, lambda: dict(kind="translation", times=torch.linspace(0, 1, 5, dtype=F64), lr=0.1,
                                         weight_decay=0.1),
         dict(kind="choice", times="tensor", lr=PF, weight_decay=NF, momentum="unit_open")),
    Case(theory.damping_regime, lambda: dict(kind="scale", lr=0.1, weight_decay=0.1, momentum=0.5),
         dict(kind="choice", lr=PF, weight_decay=NF, momentum="unit_open")),
    Case(theory.critical_momentum, lambda: dict(kind="scale", lr=0.1, weight_decay=0.1),
         dict(kind="choice", lr=PF, weight_decay=PF)),
    Case(theory.continuous_solution, lambda: dict(kind="translation", initial=theta3(), drive=None, steps=3, lr=0.1),
         dict(kind="choice", initial="tensor", steps=P, lr=PF, weight_decay=NF, momentum="unit_open")),
    Case(theory.relative_error, lambda: dict(predicted=torch.ones(3, 2, dtype=F64), measured=torch.ones(3, 2, dtype=F64)),
         dict(predicted="tensor", measured="tensor")),
    Case(theory.predictions, lambda: dict(recording=recording_run(), kind="translation"),
         dict(recording="object", kind="choice")),
    # teleport
    Case(teleport.deep_relu_mlp, lambda: dict(in_dim=2, width=3, depth=2, classes=2),
         dict(in_dim=P, width=P, depth=P, classes=P, seed="seed", dtype="dtype")),
    Case(teleport.flat_parameters, lambda: dict(model=relu_net()), dict(model="module")),
    Case(teleport.load_flat, lambda: dict(model=relu_net(), theta=flat()), dict(model="not_none", theta="tensor")),
    Case(teleport.sign_matrix, lambda: dict(model=relu_net(), groups=symmetry.rescale_groups(relu_net())),
         dict(model="module", groups="groups")),
    Case(teleport.move, lambda: dict(theta=flat(), signs=signs(), log_scales=torch.zeros(4, dtype=F64)),
         dict(theta="tensor", signs="tensor", log_scales="tensor")),
    Case(teleport.full_loss, lambda: dict(model=relu_net(), task=class_task()), dict(model="not_none", task="class_task")),
    Case(teleport.check_invariance, lambda: dict(model=relu_net(), task=class_task(), before=flat(), after=flat()),
         dict(model="module", task="class_task", before="tensor", after="tensor", tol=PF)),
    Case(teleport.imbalance, lambda: dict(theta=flat(), signs=signs()), dict(theta="tensor", signs="tensor")),
    Case(teleport.balancing_scales, lambda: dict(theta=flat(), signs=signs()),
         dict(theta="tensor", signs="tensor", tol=PF, max_steps=P)),
    Case(teleport.teleport_scales, lambda: dict(gradient=flat(), signs=signs(), radius=0.2),
         dict(gradient="tensor", signs="tensor", radius=PF, steps=P)),
    Case(teleport.full_gradient, lambda: dict(model=relu_net(), task=class_task()),
         dict(model="module", task="class_task")),
    Case(teleport.orbit_move, lambda: dict(model=relu_net(), task=class_task(), how="balance"),
         dict(model="module", task="class_task", how="choice", radius=PF, tol=PF)),
    Case(teleport.train_with_moves, lambda: dict(model=tiny_mlp(), task=class_task(), lr=0.05, steps=2),
         dict(model="module", task="class_task", lr=PF, steps=P, every=P, batch_size=P, seed="seed",
              record_every=P)),
    Case(teleport.unbalance, lambda: dict(model=relu_net(), spread=0.5), dict(model="module", spread=PF, seed="seed")),
    Case(teleport.compare_variants, lambda: dict(task=class_task(), seeds=[0], steps=2, every=1, record_every=1,
                                                 in_dim=2, width=3, depth=2, classes=3),
         dict(task="class_task", seeds="seeds", lr=PF, steps=P, every=P, record_every=P), heavy=True),
    # detect
    Case(detect.pre_activations, lambda: dict(model=relu_net(), X=points()), dict(model="module", X="tensor")),
    Case(detect.census, lambda: dict(model=relu_net(), X=points()), dict(model="module", X="tensor")),
    Case(detect.gl_move, lambda: dict(model=bypassed_net(), layer=0, units=[0, 1], mix=0.1 * torch.eye(2, dtype=F64)),
         dict(model="module", layer="index", units="units", mix="mix")),
    Case(detect.kink_positions, lambda: dict(weight=torch.tensor([1.0, -2.0], dtype=F64), bias=torch.ones(2, dtype=F64)),
         dict(weight="tensor", bias="tensor")),
    Case(detect.coinciding_kinks, lambda: dict(weight=torch.tensor([1.0, 2.0], dtype=F64), bias=torch.ones(2, dtype=F64)),
         dict(weight="tensor", bias="tensor", tol=PF)),
    Case(detect.kink_slide, lambda: dict(weight=torch.tensor([1.0, 2.0], dtype=F64), out=torch.ones(2, dtype=F64), i=0, j=1),
         dict(weight="tensor", out="tensor", i="index", j="index")),
    Case(detect.census_during_training, lambda: dict(model=relu_net(), X=points(), labels=labels16(), lr=0.01, steps=2),
         dict(model="module", X="tensor", labels="labels", lr=PF, steps=P, every=P, batch_size=P, seed="seed")),
    Case(detect.init_preactivations, lambda: dict(x=torch.ones(4, dtype=F64), draws=10),
         dict(x="tensor", init="choice", draws=P, seed="seed")),
    Case(detect.kurtosis, lambda: dict(values=torch.tensor([0.0, 1.0, 3.0], dtype=F64)), dict(values="tensor")),
    Case(detect.fit_1d, lambda: dict(model=nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)).double(),
                                     x=torch.rand(5, 1, dtype=F64), y=torch.rand(5, 1, dtype=F64), lr=0.01, steps=2),
         dict(model="module", x="tensor", y="tensor", lr=PF, steps=P)),
    Case(detect.census_sweep, lambda: dict(make_model=relu_net, X=points(), labels=labels16(), lrs=[0.01], seeds=[0],
                                           steps=2),
         dict(make_model="callable", X="tensor", labels="labels", lrs="positives", seeds="seeds", steps=P, every=P)),
    # remedies
    Case(remedies.more_units, lambda: dict(), dict(factor=P)),
    Case(remedies.smooth_max, lambda: dict(), dict(temperature=PF, until="prob")),
    Case(remedies.dead_unit_revival, lambda: dict(), dict(every=P, until="prob", neighbours=P)),
    Case(remedies.load_balancing, lambda: dict(), dict(weight=PF, temperature=PF, until="prob")),
    Case(remedies.partition_init, lambda: dict(), dict(iterations=P, neighbours=P)),
    Case(remedies.noise_injection, lambda: dict(), dict(scale=PF, until="prob")),
    Case(remedies.restarts, lambda: dict(), dict(every=P, until="prob")),
    Case(remedies.standard_remedies, lambda: dict(), dict(neighbours=P)),
    Case(remedies.remedy_from_knobs, lambda: dict(kind="revival"), dict(kind="choice", neighbours=P)),
    Case(remedies.larger_task, lambda: dict(n_points=10), dict(n_points=P, seed="seed", dtype="dtype")),
    Case(remedies.annealed, lambda: dict(start=1.0, step=3, steps=10), dict(start=NF, step=NN, steps=P, until="prob")),
    Case(remedies.soft_max_output, lambda: dict(z=torch.randn(3, 4, dtype=F64), temperature=0.5),
         dict(z="tensor_any", temperature=NF)),
    Case(remedies.load_balancing_loss, lambda: dict(z=torch.randn(3, 4, dtype=F64)), dict(z="tensor", temperature=PF)),
    Case(remedies.parameter_noise, lambda: dict(seed=0, steps=3, shape=(2, 3)),
         dict(seed="seed", steps=P, shape="shape", dtype="dtype")),
    Case(remedies.local_fits, lambda: dict(X=points(), y=torch.rand(16, dtype=F64), neighbours=4),
         dict(X="tensor", y="tensor", neighbours=P)),
    Case(remedies.least_squares_partition, lambda: dict(X=points(), y=torch.rand(16, dtype=F64), units=2, seeds=[0],
                                                        iterations=2, neighbours=4),
         dict(X="tensor", y="tensor", units=P, seeds="seeds", iterations=P, neighbours=P, dtype="dtype")),
    Case(remedies.restart_theta, lambda: dict(seed=0, attempt=1, in_dim=2, units=2),
         dict(seed="seed", attempt=NN, in_dim=P, units=P, bias="flag", dtype="dtype")),
    Case(remedies.train_remedy, lambda: dict(task=affine_task(), seeds=2, steps=3, record_every=1),
         dict(task="affine_task", seeds="seeds", remedy="not_none", units=P, steps=P, lr=PF, betas="betas",
              eps=PF, record_every=P, record_params="flag", chunk_size=P, dtype="dtype", threads=P)),
    Case(remedies.compare_remedies, lambda: dict(task=affine_task(), remedies={"b": remedies.baseline()}, seeds=2,
                                                 steps=3, record_every=1),
         dict(task="affine_task", remedies="remedies", seeds="seeds")),
    Case(remedies.summarise, lambda: dict(results={"b": remedy_result()}), dict(results="remedies")),
    Case(remedies.paired_counts, lambda: dict(solved=torch.tensor([True, False]), reference=torch.tensor([False, False])),
         dict(solved="bools", reference="bools")),
    # plots, widgets, exercises (the presentation layer: their numeric and named arguments)
    Case(plots.loss_curves, lambda: dict(steps=torch.arange(3), loss=torch.rand(3, 2) + 0.1),
         dict(loss="tensor", max_curves=P)),
    Case(plots.final_loss_histogram, lambda: dict(final_loss=torch.rand(5) + 0.1), dict(final_loss="tensor", threshold=PF), heavy=True),
    Case(plots.symmetry_field, lambda: dict(kind="scale", arrows=4), dict(kind="choice", extent=PF, arrows=P)),
    Case(plots.win_regions, lambda: dict(theta=models.perfect_theta()[0], task=affine_task(), resolution=8, show_points=5),
         dict(theta="tensor", task="affine_task", resolution=P, show_points=NN)),
    Case(widgets.stall_explorer_figure, lambda: dict(step=10), dict(seed="seed", lr=PF, bias="flag", step=NN), heavy=True),
    Case(widgets.conservation_explorer_figure, lambda: dict(), dict(imbalance="finite", product="finite"), heavy=True),
    Case(widgets.dynamics_explorer_figure, lambda: dict(), dict(lr=PF, weight_decay=NF, momentum="unit_open"), heavy=True),
    Case(widgets.remedy_explorer_figure, lambda: dict(), dict(remedy="choice", strength=PF, every=P, seed="seed"), heavy=True),
    Case(exercises.check, lambda: dict(exercise_id="stall-plateau", answer=3), dict(exercise_id="choice")),
]
