"""symcourse.equivariance: rotation equivariance of the training map (chapter 9)."""
import pytest
import torch

from symcourse import detect, equivariance as eq

D, N, S = 6, 12, 3


def _task():
    axis = torch.zeros(D, dtype=torch.float64)
    axis[0] = 1.0
    return eq.teacher_task(range(S), N, D, axis, n_test=20)


def test_random_rotation_is_orthogonal_and_seeded():
    Q = eq.random_rotation(D, seed=4)
    assert torch.allclose(Q @ Q.T, torch.eye(D, dtype=torch.float64), atol=1e-12)
    assert torch.equal(Q, eq.random_rotation(D, seed=4))
    assert not torch.equal(Q, eq.random_rotation(D, seed=5))


def test_sgd_is_equivariant_and_adam_is_not():
    X, y, X_test, _ = _task()
    Q = eq.random_rotation(D, seed=1)
    sgd = eq.coupled_runs(X, y, X_test, Q, width=8, seeds=range(S), steps=50, batch_size=4)
    adam = eq.coupled_runs(X, y, X_test, Q, width=8, seeds=range(S), steps=50, batch_size=4,
                           optimizer="adam", lr=0.01)
    assert sgd.weight_gap.max() < 1e-12 and sgd.output_gap.max() < 1e-12
    assert adam.weight_gap.min() > 1e-3


def test_training_changes_the_weights_but_not_its_argument():
    X, y, _, _ = _task()
    start = eq.init_mlp(range(S), D, 8)
    W0 = start.W.clone()
    trained = eq.train_mlp(start, X, y, steps=20, batch_size=4)
    assert torch.equal(start.W, W0) and not torch.equal(trained.W, W0)


def test_rotated_network_computes_the_same_function_on_rotated_inputs():
    X, _, _, _ = _task()
    net = eq.init_mlp(range(S), D, 8)
    Q = eq.random_rotation(D, seed=2)
    assert torch.allclose(net.rotated(Q)(X @ Q.T), net(X), atol=1e-12)


def test_uniform_start_has_flat_topped_weights():
    W = eq.init_mlp(range(50), 40, 50, "uniform").W.flatten()
    assert abs(detect.kurtosis(W) - 1.8) < 0.05
    assert W.var().item() == pytest.approx(1 / 40, rel=0.05)


def test_width_preactivations_shape():
    z = eq.width_preactivations(torch.ones(5, dtype=torch.float64), 4, "normal", 10)
    assert z.shape == (10, 4) and torch.isfinite(z).all()


@pytest.mark.parametrize("call, match", [
    (lambda: eq.random_rotation(0), "d"),
    (lambda: eq.init_mlp(range(2), 3, 4, "laplace"), "init"),
    (lambda: eq.train_mlp(eq.init_mlp(range(S), D, 4), torch.zeros(S, N, D + 1),
                          torch.zeros(S, N)), "X"),
    (lambda: eq.train_mlp(eq.init_mlp(range(S), D, 4), *_task()[:2], batch_size=N + 1),
     "batch_size"),
    (lambda: eq.train_mlp(eq.init_mlp(range(S), D, 4), *_task()[:2], optimizer="rmsprop"),
     "optimizer"),
    (lambda: eq.train_mlp(eq.init_mlp(range(S), D, 4), *_task()[:2], lr=-1.0), "lr"),
    (lambda: eq.coupled_runs(*_task()[:3], 2 * torch.eye(D, dtype=torch.float64),
                             seeds=range(S)), "orthogonal"),
    (lambda: eq.teacher_task(range(2), 4, 3, torch.zeros(3, dtype=torch.float64)), "zero"),
    (lambda: eq.width_preactivations(torch.ones(3, dtype=torch.float64), 0, "normal", 5),
     "width"),
])
def test_bad_inputs_are_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_hidden_vertex_slides_only_along_its_flat_piece():
    x = torch.linspace(-2, 3, 101, dtype=torch.float64)[:, None]
    ref = detect.hidden_vertex_network(0.0)(x)
    assert (detect.hidden_vertex_network(0.9)(x) - ref).abs().max() < 1e-12
    assert (detect.hidden_vertex_network(1.5)(x) - ref).abs().max() > 0.1


def test_near_kink_share_and_chance():
    layer = torch.nn.Linear(1, 3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0], [1.0], [-1.0]]))
        layer.bias.copy_(torch.tensor([0.0, -0.005, 1.0]))   # kinks at 0, 0.005, 1
    assert detect.near_kink_share(layer, (-2.0, 2.0), tol=0.01) == (1, 1)
    assert detect.chance_near_share((0.0, 1.0), 0.1) == pytest.approx(0.19)
    with pytest.raises(ValueError, match="low < high"):
        detect.chance_near_share((1.0, 0.0))
    with pytest.raises(ValueError, match="interval"):
        detect.near_kink_share(layer, (0.0,))
