"""Tests for robustrep_lite.mi.estimate: bounds against hand-computed values, critics, estimate_mi
on Gaussian ground truth, divergence handling and input validation. Seeded; ~30 s on 2 cores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from robustrep_lite import mi
from robustrep_lite.mi import (
    JointCritic,
    LocalDIMCritic,
    SeparableCritic,
    correlated_gaussians,
    dv_bound,
    dv_bound_with_zeroed_diagonal,
    estimate_mi,
    gaussian_mi,
    infonce_bound,
    jsd_bound,
    linear_gaussian_mi,
    mine_loss,
    nwj_bound,
    nwj_js_bound,
    readout,
    rho_for_mi,
    sample_scores,
    smile_bound,
    training_objective,
    zeroed_diagonal_gap,
)

S4 = np.array(
    [
        [2.0, -1.0, 0.5, 0.3],
        [0.2, 1.5, -0.7, 1.1],
        [-0.4, 0.9, 3.0, -2.0],
        [1.3, 0.0, -0.6, 0.8],
    ]
)


def _loops(s: np.ndarray, clip: float | None = None) -> dict[str, float]:
    """The bounds by explicit loops over a small matrix (independent of the library)."""
    n = s.shape[0]
    joint = sum(s[i, i] for i in range(n)) / n
    off = [s[i, j] for i in range(n) for j in range(n) if i != j]
    mean_exp = sum(math.exp(v) for v in off) / len(off)
    clipped = [min(max(v, -clip), clip) for v in off] if clip else off
    sp = lambda v: math.log(1.0 + math.exp(v))  # noqa: E731
    infonce = (
        math.log(n)
        + sum(s[i, i] - math.log(sum(math.exp(s[i, j]) for j in range(n))) for i in range(n)) / n
    )
    zeroed = [s[i, j] if i != j else 0.0 for i in range(n) for j in range(n)]
    return {
        "dv": joint - math.log(mean_exp),
        "nwj": joint - mean_exp / math.e,
        "nwj_js": joint + 1.0 - mean_exp,
        "jsd": sum(-sp(-s[i, i]) for i in range(n)) / n - sum(sp(v) for v in off) / len(off),
        "infonce": infonce,
        "smile": joint - math.log(sum(math.exp(v) for v in clipped) / len(off)),
        "dv_zeroed": joint - math.log(sum(math.exp(v) for v in zeroed) / (n * (n - 1))),
    }


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


# --- bounds ----------------------------------------------------------------------------------


def test_bounds_match_hand_computed_loops():
    ref = _loops(S4)
    s = _t(S4)
    assert float(dv_bound(s)) == pytest.approx(ref["dv"], abs=1e-12)
    assert float(nwj_bound(s)) == pytest.approx(ref["nwj"], abs=1e-12)
    assert float(nwj_js_bound(s)) == pytest.approx(ref["nwj_js"], abs=1e-12)
    assert float(jsd_bound(s)) == pytest.approx(ref["jsd"], abs=1e-12)
    assert float(infonce_bound(s)) == pytest.approx(ref["infonce"], abs=1e-12)
    assert float(smile_bound(s, clip=None)) == pytest.approx(ref["dv"], abs=1e-12)
    assert float(smile_bound(s, clip=math.inf)) == pytest.approx(ref["dv"], abs=1e-12)
    assert float(smile_bound(s, clip=1.0)) == pytest.approx(_loops(S4, 1.0)["smile"], abs=1e-12)
    assert float(smile_bound(s, clip=0.5)) == pytest.approx(_loops(S4, 0.5)["smile"], abs=1e-12)
    for name in ("dv", "nwj", "nwj_js", "jsd", "infonce"):
        assert float(readout(name, s)) == pytest.approx(ref[name], abs=1e-12)


def test_diagonal_is_excluded_not_zeroed():
    # Changing a diagonal entry must move only the joint term (by delta / n) in DV, never the
    # marginal term: with -inf exclusion the log-partition is independent of the diagonal.
    s = _t(S4)
    s2 = s.clone()
    s2[1, 1] += 7.0
    assert float(dv_bound(s2) - dv_bound(s)) == pytest.approx(7.0 / 4, abs=1e-12)
    assert float(nwj_bound(s2) - nwj_bound(s)) == pytest.approx(7.0 / 4, abs=1e-12)
    # Gradient of the marginal term reaches off-diagonal entries only.
    s3 = s.clone().requires_grad_(True)
    dv_bound(s3).backward()
    diag_grad = torch.diagonal(s3.grad)
    assert torch.allclose(diag_grad, torch.full((4,), 0.25, dtype=torch.float64))


def test_infonce_capped_at_log_n():
    gen = torch.Generator().manual_seed(0)
    for n in (4, 16, 64):
        s = torch.randn(n, n, generator=gen) + torch.eye(n) * 50.0  # a perfect critic
        v = float(infonce_bound(s))
        assert v <= math.log(n) + 1e-6
        assert v == pytest.approx(math.log(n), abs=1e-4)


def test_large_scores_stay_finite():
    n = 8
    big = torch.full((n, n), 1e4) + torch.eye(n) * 5.0
    for f in (
        dv_bound,
        jsd_bound,
        infonce_bound,
        lambda s: smile_bound(s, clip=None),
        lambda s: smile_bound(s, clip=5.0),
        dv_bound_with_zeroed_diagonal,
    ):
        assert math.isfinite(float(f(big)))
    assert float(dv_bound(big)) == pytest.approx(5.0, abs=1e-2)
    # NWJ with huge *joint* scores only (its exact value with huge marginal scores is ~ -e^1e4).
    diag_big = torch.eye(n) * 1e4
    assert math.isfinite(float(nwj_bound(diag_big)))
    # Gradients are finite too.
    s = big.clone().requires_grad_(True)
    (dv_bound(s) + infonce_bound(s) + jsd_bound(s)).backward()
    assert torch.isfinite(s.grad).all()


def test_batched_scores_average_over_locations():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(5, 6, 6, generator=gen, dtype=torch.float64)
    for f in (
        dv_bound,
        nwj_bound,
        jsd_bound,
        infonce_bound,
        nwj_js_bound,
        lambda t: smile_bound(t, clip=0.7),
        dv_bound_with_zeroed_diagonal,
    ):
        per_loc = torch.stack([f(s[i]) for i in range(5)])
        assert float(f(s)) == pytest.approx(float(per_loc.mean()), abs=1e-12)


def test_sample_scores_match_loops():
    j = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    m = torch.tensor([0.1, -0.3, 0.7, 0.2], dtype=torch.float64)
    mean_exp = float(torch.exp(m).mean())
    p = sample_scores(j, m)
    assert float(dv_bound(p)) == pytest.approx(float(j.mean()) - math.log(mean_exp), abs=1e-12)
    assert float(nwj_bound(p)) == pytest.approx(float(j.mean()) - mean_exp / math.e, abs=1e-12)
    with pytest.raises(ValueError, match="infonce"):
        infonce_bound(p)


def test_zeroed_diagonal_defect_matches_docstring_formula():
    s = _t(S4)
    ref = _loops(S4)
    assert float(dv_bound_with_zeroed_diagonal(s)) == pytest.approx(ref["dv_zeroed"], abs=1e-12)
    n = 4
    z = math.log(sum(math.exp(S4[i, j]) for i in range(n) for j in range(n) if i != j) / 12)
    stated = math.log(1.0 + math.exp(-z) / (n - 1))
    assert float(dv_bound(s) - dv_bound_with_zeroed_diagonal(s)) == pytest.approx(stated, 1e-10)
    assert float(zeroed_diagonal_gap(s)) == pytest.approx(stated, 1e-10)
    # Docstring example: Z = -5, n = 128 costs 0.77 nats; batched averaging of the gap.
    s128 = torch.full((128, 128), -5.0, dtype=torch.float64)
    gap = float(dv_bound(s128) - dv_bound_with_zeroed_diagonal(s128))
    assert gap == pytest.approx(math.log1p(math.exp(5.0) / 127), abs=1e-9)
    assert gap == pytest.approx(0.77, abs=0.01)
    sb = torch.stack([s, s + 3.0])
    assert float(dv_bound(sb) - dv_bound_with_zeroed_diagonal(sb)) == pytest.approx(
        float(zeroed_diagonal_gap(sb)), abs=1e-10
    )


def test_mine_loss_value_gradient_and_ema():
    s = _t(S4).requires_grad_(True)
    loss, ema, value = mine_loss(s, None, rate=0.01)
    assert float(value) == pytest.approx(_loops(S4)["dv"], abs=1e-12)
    assert float(loss.detach()) == pytest.approx(-_loops(S4)["dv"], abs=1e-12)
    # First step: the EMA equals the batch value, so the gradient equals the DV gradient.
    loss.backward()
    g_mine = s.grad.clone()
    s2 = _t(S4).requires_grad_(True)
    (-dv_bound(s2)).backward()
    assert torch.allclose(g_mine, s2.grad)
    # With a stale, 10x larger moving average the marginal gradient is 10x smaller.
    s3 = _t(S4).requires_grad_(True)
    log_batch = float(
        torch.logsumexp(_t(S4).masked_fill(torch.eye(4, dtype=bool), -math.inf).flatten(), 0)
    ) - math.log(12)
    big = torch.tensor([log_batch + math.log(10.0)], dtype=torch.float64)
    loss3, ema3, _ = mine_loss(s3, big, rate=1e-9)
    loss3.backward()
    off = ~torch.eye(4, dtype=bool)
    assert torch.allclose(s3.grad[off], s2.grad[off] / 10.0, rtol=1e-6)
    # EMA update in log space: ma = (1 - r) ma + r * batch.
    _, ema4, _ = mine_loss(_t(S4), torch.tensor([0.0], dtype=torch.float64), rate=0.25)
    assert float(ema4) == pytest.approx(math.log(0.75 + 0.25 * math.exp(log_batch)), 1e-12)


def test_training_objective_signs():
    s = _t(S4)
    assert float(training_objective("dv", s)[0]) == pytest.approx(-_loops(S4)["dv"])
    assert float(training_objective("smile", s)[0]) == pytest.approx(-_loops(S4)["jsd"])
    assert float(training_objective("infonce", s)[0]) == pytest.approx(-_loops(S4)["infonce"])


# --- critics ---------------------------------------------------------------------------------


def test_critic_shapes():
    x, y = torch.randn(7, 5), torch.randn(7, 3)
    sep, joint = SeparableCritic(5, 3, hidden=16, layers=2, embed_dim=4), JointCritic(5, 3, 16, 2)
    assert sep(x, y).shape == (7, 7) and sep.pair_scores(x, y).shape == (7,)
    assert joint(x, y).shape == (7, 7) and joint.pair_scores(x, y).shape == (7,)
    # The vectorised joint critic equals the explicit concat MLP on every pair.
    explicit = torch.stack(
        [
            torch.stack([joint.net(torch.cat([x[i], y[j]])).squeeze() for j in range(7)])
            for i in range(7)
        ]
    )
    assert torch.allclose(joint(x, y), explicit, atol=1e-5)
    assert torch.allclose(torch.diagonal(sep(x, y)), sep.pair_scores(x, y), atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_joint_critic_is_bitwise_the_module_by_module_mlp(layers):
    # its fused pass over the n m pairs runs autograd's own kernels: scores and every gradient
    # are bitwise those of the plain composition (so fits are unchanged, only faster)
    torch.manual_seed(layers)
    critic = JointCritic(3, 2, hidden=16, layers=layers)
    x, y = torch.randn(9, 3, requires_grad=True), torch.randn(7, 2, requires_grad=True)
    weights = torch.randn(9, 7)

    def grads(scores: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.autograd.grad((scores * weights).sum(), [x, y, *critic.parameters()]))

    fused = critic(x, y)
    hx, hy = critic._first_parts(x, y)
    plain = critic.net[1:](hx.unsqueeze(1) + hy.unsqueeze(0)).squeeze(-1)
    assert fused.shape == (9, 7) and torch.equal(fused, plain)
    for a, b in zip(grads(critic(x, y)), grads(plain), strict=True):
        assert torch.equal(a, b)
    # frozen weights: only the inputs' gradients are asked for (the attacks' case)
    critic.requires_grad_(False)
    hx, hy = critic._first_parts(x, y)
    plain = critic.net[1:](hx.unsqueeze(1) + hy.unsqueeze(0)).squeeze(-1)
    fused_x = torch.autograd.grad((critic(x, y) * weights).sum(), x)[0]
    assert torch.equal(fused_x, torch.autograd.grad((plain * weights).sum(), x)[0])
    # a gradient penalty differentiates the input gradient again, here through the weights
    critic.requires_grad_(True)

    def penalty_grads(scores_of) -> list[torch.Tensor]:
        gx = torch.autograd.grad(scores_of().sum(), x, create_graph=True)[0]
        params = list(critic.parameters())
        got = torch.autograd.grad(gx.square().sum(), params, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(params, got, strict=True)]

    def plain_scores() -> torch.Tensor:
        hx, hy = critic._first_parts(x, y)
        return critic.net[1:](hx.unsqueeze(1) + hy.unsqueeze(0)).squeeze(-1)

    for a, b in zip(penalty_grads(lambda: critic(x, y)), penalty_grads(plain_scores), strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in penalty_grads(lambda: critic(x, y)))


@pytest.mark.parametrize("shape,locations", [((3, 32, 32), 64), ((1, 28, 28), 49)])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_local_dim_critic_shapes(shape, locations, norm):
    torch.manual_seed(0)
    critic = LocalDIMCritic(shape[0], rep_dim=10, units=64, norm=norm)
    imgs, reps = torch.rand(4, *shape), torch.randn(4, 10)
    s = critic(imgs, reps)
    assert s.shape == (locations, 4, 4)
    assert critic.pair_scores(imgs, reps).shape == (locations, 4)
    critic.eval()
    assert torch.allclose(
        torch.diagonal(critic(imgs, reps), dim1=1, dim2=2),
        critic.pair_scores(imgs, reps),
        atol=1e-4,
    )
    assert math.isfinite(float(dv_bound(s.detach())))
    if norm != "batch":
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_local_dim_critic_paper_width_is_one_argument():
    small = LocalDIMCritic(3, 64, units=64)
    paper = LocalDIMCritic(3, 64, units=2048)
    assert paper.rep_branch.out_norm.normalized_shape == (2048,)
    s = paper(torch.rand(2, 3, 32, 32), torch.randn(2, 64))
    assert s.shape == (64, 2, 2)
    n_small = sum(p.numel() for p in small.parameters())
    n_paper = sum(p.numel() for p in paper.parameters())
    assert n_paper > 20 * n_small
    # (n, H, W) single-channel images are accepted.
    assert LocalDIMCritic(1, 8, units=16)(torch.rand(2, 28, 28), torch.randn(2, 8)).shape == (
        49,
        2,
        2,
    )


# --- estimate_mi -----------------------------------------------------------------------------

SMALL = dict(
    steps=300,
    batch_size=128,
    hidden=64,
    layers=2,
    embed_dim=16,
    lr=1e-3,
    progress=False,
    holdout_fraction=0.4,
)


def test_estimate_mi_correlated_gaussian_within_tolerance():
    x, y = correlated_gaussians(5000, 2, 0.5, seed=3)
    truth = gaussian_mi(2, 0.5)
    assert truth == pytest.approx(0.2877, abs=1e-4)
    r = estimate_mi(x, y, train_estimator="smile", seed=0, **SMALL)
    assert not r.diverged
    assert abs(r.estimate - truth) < 0.06  # stated tolerance: 0.06 nats (~3 standard errors)
    assert 0 < r.stderr < 0.03
    assert r.train_curve.shape == (300,)
    assert len(r.heldout_values) == 2000 // 128
    assert (r.train_estimator, r.readout_estimator) == ("smile", "smile")


def test_estimate_mi_independent_is_near_zero():
    x, y = correlated_gaussians(5000, 2, 0.0, seed=4)
    r = estimate_mi(x, y, train_estimator="infonce", seed=1, **SMALL)
    assert abs(r.estimate) < 0.05


def test_estimate_mi_train_readout_pairing_and_determinism():
    x, y = correlated_gaussians(5000, 2, 0.5, seed=3)
    a = estimate_mi(x, y, train_estimator="jsd", readout_estimator="dv", seed=2, **SMALL)
    c = estimate_mi(x, y, train_estimator="jsd", seed=2, **SMALL)
    assert (a.train_estimator, a.readout_estimator) == ("jsd", "dv")
    assert c.readout_estimator == "nwj_js"
    # Same seed, same training: the two read-outs see identical critics (JSD loss unchanged).
    d1 = estimate_mi(
        x, y, train_estimator="jsd", readout_estimator="dv", seed=2, **{**SMALL, "steps": 20}
    )
    d2 = estimate_mi(
        x, y, train_estimator="jsd", readout_estimator="dv", seed=2, **{**SMALL, "steps": 20}
    )
    assert d1.estimate == d2.estimate  # seeded: identical runs
    np.testing.assert_array_equal(d1.train_curve, d2.train_curve)
    assert abs(a.estimate - gaussian_mi(2, 0.5)) < 0.08
    assert abs(c.estimate - gaussian_mi(2, 0.5)) < 0.08
    # global RNG untouched
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    estimate_mi(x[:1000], y[:1000], steps=2, batch_size=32, progress=False)
    assert torch.equal(torch.rand(1), before)


def test_estimate_mi_mine_and_shuffled_negatives():
    x, y = correlated_gaussians(5000, 2, 0.5, seed=3)
    r = estimate_mi(
        x,
        y,
        critic="joint",
        train_estimator="mine",
        negatives="shuffled",
        seed=0,
        **{**SMALL, "steps": 400},
    )
    assert r.readout_estimator == "dv" and not r.diverged
    assert abs(r.estimate - gaussian_mi(2, 0.5)) < 0.1


def test_estimate_mi_local_critic_on_images():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.rand(256, 1, 28, 28, generator=gen)
    reps = imgs.mean(dim=(2, 3)) + 0.1 * torch.randn(256, 1, generator=gen)
    r = estimate_mi(
        imgs,
        reps,
        critic="local",
        hidden=16,
        norm="layer",
        steps=5,
        batch_size=32,
        holdout_fraction=0.25,
        progress=False,
    )
    assert not r.diverged and math.isfinite(r.estimate)
    assert len(r.heldout_values) == 2


def test_divergence_dv_joint_high_lr_is_reported_not_a_number():
    # Regression: DV trained with its own biased gradient on a joint critic can explode
    # (the B1 staircase with the joint critic); here a high learning rate makes it happen at once.
    x, y = correlated_gaussians(2000, 5, 0.9, seed=1)
    r = estimate_mi(
        x,
        y,
        critic="joint",
        train_estimator="dv",
        steps=300,
        batch_size=64,
        hidden=64,
        layers=2,
        lr=1.0,
        progress=False,
        seed=0,
    )
    assert r.diverged and math.isnan(r.estimate) and math.isnan(r.stderr)
    assert r.diverged_at is not None and r.diverged_at < 300
    assert "max_estimate" in r.reason


class _ExplodingCritic(nn.Module):
    """Scores scaled by a factor large enough to overflow float32 to inf."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x @ self.w).unsqueeze(1) * (y @ self.w).unsqueeze(0) * 1e38


def test_divergence_non_finite_is_reported():
    x, y = correlated_gaussians(1000, 2, 0.5, seed=0)
    r = estimate_mi(
        x,
        y,
        critic=_ExplodingCritic(),
        train_estimator="dv",
        steps=10,
        batch_size=32,
        progress=False,
    )
    assert r.diverged and math.isnan(r.estimate) and "non-finite" in r.reason


# --- ground truth ----------------------------------------------------------------------------


def test_ground_truth_helpers():
    assert gaussian_mi(2, 0.5) == pytest.approx(-math.log(0.75))
    for m in (2.0, 10.0):
        assert gaussian_mi(20, rho_for_mi(m, 20)) == pytest.approx(m)
    x, y = correlated_gaussians(200000, 3, 0.7, seed=0)
    corr = float((x * y).mean() / (x.std() * y.std()))
    assert corr == pytest.approx(0.7, abs=0.01)
    x10, y10 = correlated_gaussians(10, 3, 0.7, seed=0)
    xc, yc = correlated_gaussians(10, 3, 0.7, seed=0, cubic=True)
    assert torch.equal(xc, x10) and torch.allclose(yc, y10**3)
    # Linear-Gaussian: scalar case I = 0.5 log(1 + w^2 var / sigma^2)
    assert linear_gaussian_mi(np.array([[2.0]]), np.array([[3.0]]), 0.5) == pytest.approx(
        0.5 * math.log(1 + 4 * 3 / 0.25)
    )
    # Z = X + noise on d independent coordinates reduces to the Gaussian formula.
    rho = 0.6
    sig = math.sqrt(1 - rho**2) / rho
    assert linear_gaussian_mi(np.eye(4), np.eye(4), sig) == pytest.approx(gaussian_mi(4, rho))


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(batch_size=1), "batch_size"),
        (dict(train_estimator="mine-f"), r"train_estimator.*'dv'"),
        (dict(readout_estimator="kl"), r"readout_estimator.*'smile'"),
        (dict(critic="bilinear"), r"critic.*'separable'"),
        (dict(negatives="some"), "negatives"),
        (dict(norm="group"), "norm"),
        (dict(clip=0.0), "clip"),
        (dict(clip=-1.0), "clip"),
        (dict(steps=0), "steps"),
        (dict(lr=0.0), "lr"),
        (dict(holdout_fraction=1.0), "holdout_fraction"),
        (dict(batch_size=5000), "batch_size"),
        (dict(negatives="shuffled", train_estimator="infonce"), "infonce"),
    ],
)
def test_estimate_mi_rejects_bad_arguments(kwargs, match):
    x, y = correlated_gaussians(100, 2, 0.5, seed=0)
    with pytest.raises(ValueError, match=match):
        estimate_mi(x, y, **{"progress": False, "batch_size": 16, **kwargs})


def test_estimate_mi_rejects_bad_data():
    x, y = correlated_gaussians(100, 2, 0.5, seed=0)
    with pytest.raises(ValueError, match="same number of samples"):
        estimate_mi(x, y[:99], progress=False)
    xn = x.clone()
    xn[3, 1] = float("nan")
    with pytest.raises(ValueError, match="^x must contain only finite"):
        estimate_mi(xn, y, progress=False)
    yi = y.clone()
    yi[0, 0] = float("inf")
    with pytest.raises(ValueError, match="^y must contain only finite"):
        estimate_mi(x, yi, progress=False)


def test_bound_functions_reject_bad_input():
    with pytest.raises(ValueError, match="clip"):
        smile_bound(_t(S4), clip=0.0)
    with pytest.raises(ValueError, match="clip"):
        smile_bound(_t(S4), clip=-2.0)
    with pytest.raises(ValueError, match="scores"):
        dv_bound(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="scores"):
        dv_bound(torch.zeros(1, 1))
    with pytest.raises(ValueError, match="readout_estimator"):
        readout("mine", _t(S4))
    with pytest.raises(ValueError, match="rate"):
        mine_loss(_t(S4), None, rate=0.0)
    with pytest.raises(ValueError, match="rho"):
        correlated_gaussians(10, 2, 1.0, seed=0)
    with pytest.raises(ValueError, match="sigma"):
        linear_gaussian_mi(np.eye(2), np.eye(2), 0.0)
    with pytest.raises(ValueError, match="cov_x"):
        linear_gaussian_mi(np.eye(2), np.eye(3), 1.0)
    with pytest.raises(ValueError, match="norm"):
        LocalDIMCritic(3, 8, units=8, norm="group")
    assert set(mi.TRAIN_ESTIMATORS) == set(mi.DEFAULT_READOUT)
