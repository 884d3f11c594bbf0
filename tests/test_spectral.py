"""Tests for robustrep_lite.training.spectral and robustrep_lite.adversarial.robust_distance: power
iteration against torch.linalg.svdvals (dense) and against the explicit matrix of small convolutions
(zero, circular and reflect padding, the exact FFT norm too), the penalty's gradient, warm starts,
layer selection, the refit head against scikit-learn, adversarial distances against the exact
distance to a linear model's boundary, and bad arguments. Seeded; ~10 s. The paper's experiment
(models, burn-in, settings, summaries) is tested in test_spectral_experiment.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from host_reads import count_host_reads
from torch import nn

from robustrep_lite.adversarial.robust_distance import (
    DistanceConfig,
    DistanceSearch,
    adversarial_distances,
    first_correct,
    refit_head,
    representation_distances,
)
from robustrep_lite.experiments.spectral_regularization import OneHiddenLayerNet
from robustrep_lite.training.spectral import (
    SpectralPenalty,
    all_layers,
    circular_conv_operator_norm,
    conv_input_shapes,
    layers_for,
    rep_layers,
    top_singular,
)


def planted(rows: int, cols: int, top: tuple[float, ...], seed: int = 0) -> torch.Tensor:
    """A float64 matrix with the given leading singular values, the rest at most 0.5."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, rows, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, cols, generator=g, dtype=torch.float64))
    k = min(rows, cols)
    s = torch.linspace(0.5, 0.1, k, dtype=torch.float64)
    s[: len(top)] = torch.tensor(top, dtype=torch.float64)
    return u[:, :k] @ torch.diag(s) @ v[:, :k].T


def dense(weight: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


def explicit_matrix(conv: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix of ``x -> conv(x)`` (bias left out), column j = conv(e_j), with gradient."""
    n = math.prod(shape)
    basis = torch.eye(n, dtype=conv.weight.dtype).reshape(n, *shape)
    return conv._conv_forward(basis, conv.weight, None).reshape(n, -1).T


# ----------------------------------------------------------------------------------------------
# Power iteration and the exact circular norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rows", "cols"), [(50, 30), (10, 100), (1, 7), (64, 64)])
def test_dense_power_iteration_matches_svdvals(rows: int, cols: int) -> None:
    g = torch.Generator().manual_seed(rows + cols)
    layer = dense(torch.randn(rows, cols, generator=g, dtype=torch.float64))
    sigma, v, _ = top_singular(layer, max_iter=20_000, tol=1e-12, generator=g)
    exact = torch.linalg.svdvals(layer.weight.detach())[0].item()
    assert sigma == pytest.approx(exact, rel=1e-9)
    assert v.shape == (cols,) and float(v.norm()) == pytest.approx(1.0)


CONVS = [
    ("zeros, stride 1", lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 5, 5)),
    ("zeros, stride 2", lambda: nn.Conv2d(2, 3, 4, stride=2, padding=1), (2, 6, 6)),
    ("circular", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), (2, 5, 6)),
    ("reflect", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 5, 5)),
    ("1-d", lambda: nn.Conv1d(2, 4, 3, padding=2), (2, 9)),
]


@pytest.mark.parametrize(("name", "make", "shape"), CONVS, ids=[c[0] for c in CONVS])
def test_conv_operator_norm_matches_the_explicit_matrix(name: str, make, shape) -> None:
    torch.manual_seed(1)
    conv = make().double()
    exact = torch.linalg.svdvals(explicit_matrix(conv, shape).detach())[0].item()
    g = torch.Generator().manual_seed(2)
    sigma, v, _ = top_singular(conv, input_shape=shape, max_iter=50_000, tol=1e-11, generator=g)
    assert sigma == pytest.approx(exact, rel=1e-8), name
    assert v.shape == shape


@pytest.mark.parametrize(("kernel", "size"), [(3, (6, 6)), (5, (5, 7)), (1, (4, 4))])
def test_fft_norm_of_a_circular_conv_is_exact_with_the_exact_gradient(kernel, size) -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 4, kernel, padding=kernel // 2, padding_mode="circular").double()
    matrix = explicit_matrix(conv, (3, *size))
    (reference,) = torch.autograd.grad(torch.linalg.svdvals(matrix)[0] ** 2, conv.weight)
    fft = circular_conv_operator_norm(conv, size)
    (grad,) = torch.autograd.grad(fft**2, conv.weight)
    assert fft.item() == pytest.approx(torch.linalg.svdvals(matrix)[0].item(), rel=1e-10)
    assert torch.allclose(grad, reference, atol=1e-8)


def test_penalty_gradient_is_lambda_times_the_gradient_of_sigma_squared() -> None:
    layer = dense(planted(20, 15, (3.0, 1.0)))
    penalty = SpectralPenalty([layer], 0.5, tol=1e-12)
    value = penalty()
    (grad,) = torch.autograd.grad(value, layer.weight)
    (reference,) = torch.autograd.grad(torch.linalg.svdvals(layer.weight)[0] ** 2, layer.weight)
    assert value.item() == pytest.approx(0.5 * 9.0, rel=1e-10)
    assert torch.allclose(grad, 0.5 * reference, atol=1e-9)


def test_conv_penalty_gradient_matches_the_explicit_matrix() -> None:
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(2, 3, 4, stride=2, padding=1), nn.ReLU()).double()
    shapes = conv_input_shapes(net, torch.zeros(1, 2, 6, 6, dtype=torch.float64))
    assert shapes == {net[0]: (2, 6, 6)}
    penalty = SpectralPenalty(all_layers(net), 1.0, input_shapes=shapes, max_iter=5000, tol=1e-12)
    for _ in range(3):  # warm calls refine v beyond the first call's 2 * fan_in iterations
        value = penalty()
    (grad,) = torch.autograd.grad(value, net[0].weight)
    matrix = explicit_matrix(net[0], (2, 6, 6))
    sigma2 = torch.linalg.svdvals(matrix)[0] ** 2
    (reference,) = torch.autograd.grad(sigma2, net[0].weight)
    assert value.item() == pytest.approx(sigma2.item(), rel=1e-9)
    assert torch.allclose(grad, reference, atol=1e-7)


def test_circular_convs_use_the_exact_norm_in_the_penalty() -> None:
    torch.manual_seed(5)
    conv = nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular").double()
    shapes = {conv: (2, 5, 5)}
    exact = SpectralPenalty([conv], 1.0, input_shapes=shapes)
    power = SpectralPenalty([conv], 1.0, input_shapes=shapes, exact_circular=False)
    assert exact().item() == pytest.approx(circular_conv_operator_norm(conv, (5, 5)).item() ** 2)
    assert exact.iterations == [0] and power.iterations == []
    assert power().item() <= exact().item() * (1 + 1e-12)


def test_warm_start_converges_in_fewer_iterations() -> None:
    weight = planted(40, 30, (2.0, 1.8))
    layer = dense(weight)
    g = torch.Generator().manual_seed(6)
    _, v, cold = top_singular(layer, tol=1e-8, max_iter=10_000, generator=g)
    with torch.no_grad():
        layer.weight.add_(1e-6 * torch.randn(40, 30, generator=g, dtype=torch.float64))
    _, _, again_cold = top_singular(layer, tol=1e-8, max_iter=10_000, generator=g)
    _, _, warm = top_singular(layer, v, tol=1e-8, max_iter=10_000)
    assert warm < again_cold / 2 and warm < cold / 2, (cold, again_cold, warm)
    penalty = SpectralPenalty([layer], 1.0, max_iter=10_000, tol=1e-8)
    counts = []
    for _ in range(3):  # the weights do not change: once converged, a call takes 1-2 steps
        penalty()
        counts.append(penalty.iterations[0])
    assert counts[0] == 60 and counts[2] <= 2, counts  # first call: at most 2 * fan_in


# ----------------------------------------------------------------------------------------------
# Layer selection
# ----------------------------------------------------------------------------------------------
def test_layer_selection_for_the_paper_model_and_for_sequentials() -> None:
    net = OneHiddenLayerNet(6, 5, 3)
    first = net.feature_map[1]
    assert rep_layers(net) == [first] and all_layers(net) == [first, net.readout]
    assert layers_for("none", net) == []
    assert layers_for("rep-spectral", net) == [first]
    assert layers_for("ll-spectral", net) == [first, net.readout]
    seq = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 4), nn.Linear(4, 2)
    )
    assert rep_layers(seq) == [seq[0], seq[3]]
    assert rep_layers(seq, cut=2) == [seq[0]]
    assert all_layers(seq) == [seq[0], seq[3], seq[4]]


# ----------------------------------------------------------------------------------------------
# Refit head and adversarial distance
# ----------------------------------------------------------------------------------------------
def test_refit_head_matches_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(9)
    feats = torch.randn(300, 6, generator=g, dtype=torch.float64)
    score = feats[:, :3] @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    labels = torch.bucketize(score, torch.tensor([-1.0, 1.0], dtype=torch.float64))
    l2 = 1e-2
    head = refit_head(feats, labels, l2=l2)
    reference = LogisticRegression(C=1 / (l2 * len(feats)), tol=1e-10, max_iter=10_000)
    reference.fit(feats.numpy(), labels.numpy())
    probs = torch.softmax(head(feats), 1).numpy()
    np.testing.assert_allclose(probs, reference.predict_proba(feats.numpy()), atol=1e-5)


class Linear2(nn.Module):
    """Two logits (0, w.x + b): its boundary is the hyperplane w.x + b = 0."""

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.w, self.b = w, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(t), t], 1)


def _linear_problem(d: int = 10, n: int = 12):
    g = torch.Generator().manual_seed(10)
    w = torch.randn(d, generator=g)
    w = w / w.norm()
    x = 0.4 + 0.2 * torch.rand(n, d, generator=g)
    b = -float((x @ w).median())
    exact = (x @ w + b).abs()  # ||w|| = 1; the projection stays inside [0, 1]^d
    model = Linear2(w, b)
    keep = exact > 0.02
    x = x[keep]
    return model, x, model(x).argmax(1), exact[keep]


def test_ddn_distance_matches_the_exact_distance_to_a_linear_boundary() -> None:
    model, x, y, exact = _linear_problem()
    found = adversarial_distances(
        model, x, y, DistanceSearch(attack="ddn", steps=200), progress=False
    )
    assert torch.all(found >= exact * (1 - 1e-4))
    assert torch.allclose(found, exact, rtol=0.02)


def test_hsj_distance_matches_the_exact_distance_to_a_linear_boundary() -> None:
    model, x, y, exact = _linear_problem()
    pool = torch.rand(200, x.shape[1], generator=torch.Generator().manual_seed(11))
    found = adversarial_distances(
        model, x, y, DistanceSearch(attack="hsj", steps=15), pool=pool, progress=False
    )
    assert torch.all(found >= exact * (1 - 1e-3))  # an attack can only over-estimate
    assert torch.all(found <= exact * 1.1) and float((found / exact).mean()) < 1.06


def test_hsj_normalises_each_points_boundary_normal_estimate() -> None:
    import eagerpy as ep
    import foolbox as fb

    from robustrep_lite.adversarial.robust_distance import _hop_skip_jump

    g = torch.Generator().manual_seed(13)
    x = ep.astensor(torch.rand(6, 2, 3, generator=g))
    weights = torch.randn(6, generator=g)

    def is_adversarial(z: ep.Tensor) -> ep.Tensor:
        return ep.astensor(z.raw.flatten(1) @ weights > 0)

    delta = ep.astensor(torch.full((6,), 0.05))
    grad = _hop_skip_jump(fb)(steps=1).approximate_gradients(is_adversarial, x, 200, delta)
    assert torch.allclose(grad.raw.flatten(1).norm(dim=1), torch.ones(6), atol=1e-5)
    # foolbox's own estimate has one norm for the whole batch: each row is 1 / sqrt(6) long
    raw = fb.attacks.HopSkipJumpAttack(steps=1).approximate_gradients(is_adversarial, x, 200, delta)
    assert float(raw.raw.norm()) == pytest.approx(1.0, abs=1e-5)


def test_representation_distances_end_to_end() -> None:
    g = torch.Generator().manual_seed(12)
    x = torch.rand(120, 1, 4, 4, generator=g)
    y = (x.flatten(1).mean(1) > 0.5).long()
    torch.manual_seed(12)
    net = OneHiddenLayerNet(16, 8, 2, init_std=1.0)
    config = DistanceConfig(
        points=5,
        hsj=DistanceSearch(steps=2, max_gradient_evals=20),
        ddn=DistanceSearch(attack="ddn", steps=20),
    )
    out = representation_distances(
        net.feature_map, x[:80], y[:80], x[80:], y[80:], config, progress=False
    )
    assert out["points"] == 5 and 0 <= out["refit_accuracy"] <= 1
    assert out["hsj_failed"] + out["ddn_failed"] < 10 and out["ddn_mean"] > 0
    assert out["hsj_mean"] >= out["ddn_mean"] * 0.5


def test_first_correct_keeps_order() -> None:
    model, x, y, _ = _linear_problem()
    y = y.clone()
    y[0] = 1 - y[0]
    idx = first_correct(model, x, y, 3)
    assert idx.tolist() == [1, 2, 3]


# ----------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: SpectralPenalty([nn.Linear(2, 2)], -1.0), "lam"),
        (lambda: SpectralPenalty([nn.Conv2d(1, 1, 3)], 1.0), "input_shapes"),
        (lambda: SpectralPenalty([nn.Embedding(3, 2)], 1.0), "layer"),
        (lambda: top_singular(nn.Linear(2, 2), tol=0.0), "tol"),
        (lambda: top_singular(nn.Linear(3, 2), torch.ones(2)), "v0"),
        (lambda: top_singular(nn.Conv2d(1, 1, 3), input_shape=(2, 5, 5)), "input_shape"),
        (lambda: top_singular(nn.Conv2d(2, 2, 3, groups=2), input_shape=(2, 5, 5)), "grouped"),
        (lambda: circular_conv_operator_norm(nn.Conv2d(1, 1, 3, padding=1), (5, 5)), "circular"),
        (
            lambda: circular_conv_operator_norm(
                nn.Conv2d(1, 1, 5, padding=2, padding_mode="circular"), (3, 3)
            ),
            "input_size",
        ),
        (lambda: layers_for("spectral", nn.Linear(2, 2)), "arm"),
        (lambda: rep_layers(nn.Linear(2, 2)), "feature_map"),
        (lambda: rep_layers(nn.Sequential(nn.Linear(2, 2)), cut=5), "cut"),
        (lambda: rep_layers(nn.Sequential(nn.Linear(2, 2))), "readout"),
        (lambda: all_layers(nn.ReLU()), "no"),
        (lambda: refit_head(torch.zeros(4, 2), torch.zeros(3).long()), "features"),
        (lambda: refit_head(torch.zeros(4, 2), torch.zeros(4).long(), l2=-1.0), "l2"),
        (lambda: DistanceConfig(points=0), "points"),
        (lambda: DistanceConfig(points=5, head_l2=-1.0), "head_l2"),
        (lambda: DistanceConfig(points=5, hsj=DistanceSearch(attack="ddn")), "hsj"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"attack": "cw"}, "attack"),
        ({"steps": 0}, "steps"),
        ({"bounds": (1.0, 0.0)}, "bounds"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_attack_arguments(kwargs: dict, argument: str) -> None:
    model, x, y, _ = _linear_problem()
    with pytest.raises(ValueError, match=argument):
        adversarial_distances(model, x, y, DistanceSearch(**kwargs), progress=False)
    with pytest.raises(ValueError, match="bounds"):
        adversarial_distances(model, x + 2.0, y, progress=False)
    with pytest.raises(ValueError, match="x must"):
        adversarial_distances(model, x, y[:2], progress=False)


def _drifting_run(sync_free: bool) -> tuple[SpectralPenalty, nn.Module, list, list]:
    """A conv + dense model trained slowly with the penalty, so warm calls converge part-way
    (the early stop and the on-device freeze both matter)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 5)
    )
    x = torch.rand(16, 3, 8, 8)
    shapes = conv_input_shapes(model, x[:2])
    penalty = SpectralPenalty(
        all_layers(model), 0.01, input_shapes=shapes, max_iter=20, tol=1e-4, sync_free=sync_free
    )
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sigmas, iterations = [], []
    for _ in range(6):
        loss = model(x).pow(2).mean() + penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sigmas.append(penalty.sigmas)
        iterations.append(penalty.iterations)
    return penalty, model, sigmas, iterations


def test_sync_free_power_iteration_gives_exactly_the_early_stopping_result() -> None:
    stop, stop_model, stop_sigmas, stop_its = _drifting_run(sync_free=False)
    free, free_model, free_sigmas, free_its = _drifting_run(sync_free=True)
    assert stop_its == free_its
    assert any(0 < i < 20 for row in stop_its[1:] for i in row)  # warm calls stopped early
    assert stop_sigmas == free_sigmas  # bit for bit
    for a, b in zip(stop_model.parameters(), free_model.parameters(), strict=True):
        assert torch.equal(a, b)
    for i in stop.vectors:
        assert torch.equal(stop.vectors[i], free.vectors[i])


@pytest.mark.parametrize("sync_free", [True, False])
def test_a_warm_sync_free_penalty_reads_nothing_on_the_host(sync_free: bool) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )
    shapes = conv_input_shapes(model, torch.rand(2, 3, 6, 6))
    penalty = SpectralPenalty(all_layers(model), 0.1, input_shapes=shapes, sync_free=sync_free)
    penalty()  # the cold start may read norms to stop early
    with count_host_reads() as reads:
        value = penalty()
        value.backward()
    # the early-stopping loop reads two norms per iteration; the sync-free one reads none
    assert (sum(reads.values()) == 0) == sync_free, reads
    assert len(penalty.sigmas) == 2 and all(s > 0 for s in penalty.sigmas)
