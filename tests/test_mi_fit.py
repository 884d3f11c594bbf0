"""Tests for robustrep_lite.mi.fit: the three-way split (no held-out pair is ever seen by
training or selection), early stopping, the marginal transforms, the critic factory and
CriticConfig's checks, through estimate_mi where that is what a user calls."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from robustrep_lite.mi import (
    CriticConfig,
    correlated_gaussians,
    estimate_mi,
    gaussian_mi,
)
from robustrep_lite.mi.critics import SeparableCritic
from robustrep_lite.mi.fit import (
    MarginalTransform,
    eval_batches,
    fit_critic,
    make_critic,
    split_indices,
    unit_values,
)

FAST = dict(steps=300, eval_every=25, patience=4, progress=False)


class _RecordingCritic(nn.Module):
    """A separable critic on x[:, 1:] that records, for every forward call, the row ids held in
    x[:, 0], whether it was in training mode, and a copy of its weights at that moment."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.inner = SeparableCritic(d, d, hidden=32, layers=1, embed_dim=8)
        self.calls: list[tuple[set[int], bool, torch.Tensor]] = []

    def _weights(self) -> torch.Tensor:
        return torch.cat([p.detach().flatten().clone() for p in self.inner.parameters()])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ids = {int(v) for v in x[:, 0].round().tolist()}
        self.calls.append((ids, self.training, self._weights()))
        return self.inner(x[:, 1:], y)


@pytest.mark.parametrize("validation_fraction", [0.2, 0.0])
def test_no_heldout_pair_is_seen_by_training_or_selection(validation_fraction):
    n, d, seed = 1500, 2, 7
    x, y = correlated_gaussians(n, d, 0.6, seed=1)
    ids = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    critic = _RecordingCritic(d)
    cfg = CriticConfig(
        critic="separable", validation_fraction=validation_fraction, preprocess="none"
    )
    r = estimate_mi(
        torch.cat([ids, x], 1), y, cfg, critic_module=critic, seed=seed, **{**FAST, "steps": 200}
    )
    assert not r.diverged
    train, val, hold = split_indices(n, cfg, torch.Generator().manual_seed(seed))
    train_s, val_s, hold_s = (set(t.tolist()) for t in (train, val, hold))
    assert not (train_s & val_s) and not (train_s & hold_s) and not (val_s & hold_s)
    assert len(train_s | val_s | hold_s) == n
    assert r.sizes == (len(train_s), len(val_s), len(hold_s))
    first_hold = next(i for i, (seen, _, _) in enumerate(critic.calls) if seen & hold_s)
    before, after = critic.calls[:first_hold], critic.calls[first_hold:]
    # before the held-out read-out: training batches from the training split only, evaluations
    # from the validation split and the training probe only
    for seen, training, _ in before:
        assert seen <= (train_s if training else train_s | val_s)
    assert any(seen & val_s for seen, _, _ in before) == (validation_fraction > 0)
    # the held-out read-out: held-out rows only, in eval mode, with the final weights (nothing
    # was trained or selected after it began)
    final = critic._weights()
    for seen, training, weights in after:
        assert seen <= hold_s and not training
        assert torch.equal(weights, final)
    assert set().union(*(seen for seen, _, _ in after)) <= hold_s
    assert len(after) == len(r.heldout_values) == len(hold_s) // 128


def test_early_stopping_keeps_the_best_validated_state_and_stops():
    # independent variables and a small sample: every gain on the training split is memorised
    x, y = correlated_gaussians(1200, 5, 0.0, seed=2)
    r = estimate_mi(x, y, critic="separable", hidden=256, lr=3e-3, seed=0, **FAST)
    assert not r.diverged
    assert len(r.train_curve) < 300  # patience ran out before the step budget
    assert r.best_step in set(r.eval_steps.tolist())
    i = list(r.eval_steps).index(r.best_step)
    assert r.val_curve[i] == pytest.approx(r.val_curve.max())
    # memorisation shows on the training probe, not on the validation split
    assert r.eval_train_curve[-1] > r.val_curve[-1]
    # with its defaults the estimator reads an honest value: near zero, not far below it
    x, y = correlated_gaussians(3000, 5, 0.0, seed=2)
    r = estimate_mi(x, y, seed=0, **{**FAST, "steps": 1000})
    assert abs(r.estimate) < max(0.05, 3 * r.stderr)


def test_without_selection_the_final_state_is_read_out():
    x, y = correlated_gaussians(1000, 2, 0.5, seed=0)
    r = estimate_mi(
        x, y, critic="separable", validation_fraction=0.0, seed=0, **{**FAST, "steps": 40}
    )
    assert r.best_step == 40 and len(r.train_curve) == 40
    assert r.eval_steps.size == 0 and r.sizes[1] == 0


def test_auto_critic_keeps_the_family_with_the_best_validation_value():
    x, y = correlated_gaussians(2000, 3, 0.6, seed=5)
    r = estimate_mi(x, y, seed=0, **FAST)
    assert set(r.candidates) == {"separable", "joint"}
    assert r.config is not None and r.config.critic == max(r.candidates, key=r.candidates.get)
    assert abs(r.estimate - gaussian_mi(3, 0.6)) < 0.15


def test_rank_transform_is_strictly_increasing_and_preserves_mi_structure():
    gen = torch.Generator().manual_seed(0)
    fit = torch.distributions.StudentT(1.0).sample((2000, 3))
    fit[:100, 0] = 0.0  # ties
    t = MarginalTransform("rank", fit)
    grid = torch.linspace(-1e6, 1e6, 20001).unsqueeze(1).repeat(1, 3)
    z = t(grid)
    assert torch.isfinite(z).all()
    assert (z[1:] > z[:-1]).all()  # strictly increasing in every coordinate, tails included
    zf = t(fit)
    # the training sample comes out close to standard normal, however heavy its tails
    assert zf.mean(0).abs().max() < 0.05 and (zf.std(0) - 1).abs().max() < 0.1
    assert zf.abs().max() < 4.0
    # beyond the training range the map grows only logarithmically
    assert float(t(torch.full((1, 3), 1e12)).max()) < 40
    del gen


def test_standardize_and_none_transforms():
    x = torch.randn(500, 4) * torch.tensor([1.0, 10.0, 0.1, 0.0]) + 3.0
    z = MarginalTransform("standardize", x)(x)
    assert torch.allclose(z[:, :3].mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z[:, :3].std(0), torch.ones(3), atol=1e-4)
    assert torch.equal(z[:, 3], torch.zeros(500))  # a constant coordinate is only centred
    assert MarginalTransform("none", x)(x) is x


def test_heavy_tails_need_the_rank_transform():
    # Student-t with 1 degree of freedom sharing its scale between x and y: standardising
    # cannot tame the tails; ranks can, and the estimate stays finite and positive
    gen = torch.Generator().manual_seed(0)
    n = 3000
    scale = torch.distributions.Chi2(1.0).sample((n, 1)).rsqrt()
    x = torch.randn(n, 2, generator=gen) * scale
    y = (0.8 * x / scale + 0.6 * torch.randn(n, 2, generator=gen)) * scale
    r = estimate_mi(x.numpy().astype(np.float64), y.numpy(), seed=0, **FAST)
    assert not r.diverged and r.estimate > 0.1


def test_numpy_float64_and_lists_are_accepted():
    x, y = correlated_gaussians(800, 2, 0.5, seed=0)
    a = estimate_mi(x.double().numpy(), y.tolist(), seed=0, **{**FAST, "steps": 30})
    b = estimate_mi(x, y, seed=0, **{**FAST, "steps": 30})
    assert a.estimate == pytest.approx(b.estimate, abs=1e-6)
    with pytest.raises(ValueError, match="^x must be a numeric array"):
        estimate_mi([["a", "b"]] * 800, y, progress=False)


def test_make_critic_is_seeded_and_leaves_the_global_rng_alone():
    cfg = CriticConfig(critic="joint").resolved(3000)
    assert cfg.hidden == 32 and cfg.steps is not None and cfg.eval_every is not None
    x = torch.zeros(2, 3)
    torch.manual_seed(1)
    before = torch.rand(1)
    torch.manual_seed(1)
    a, b = make_critic(cfg, x, x, seed=4), make_critic(cfg, x, x, seed=4)
    assert torch.equal(torch.rand(1), before)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match="resolved"):
        make_critic(CriticConfig(critic="separable"), x, x, seed=0)


def test_resolved_adapts_to_the_sample():
    small, large = (
        CriticConfig(critic="separable").resolved(1000),
        CriticConfig(critic="separable").resolved(50_000),
    )
    assert small.hidden == 64 and large.hidden == 256
    assert small.steps == 2000 and large.steps == 20_000
    assert CriticConfig(validation_fraction=0.0, critic="joint").resolved(10**6).steps == 2000
    assert CriticConfig(hidden=7, steps=9, critic="joint").resolved(10).hidden == 7


def test_selection_bound_defaults():
    assert CriticConfig().selection() == "nwj_js"  # SMILE: unbiased NWJ on T + 1
    assert CriticConfig(train_estimator="dv").selection() == "dv"
    assert CriticConfig(select_estimator="infonce").selection() == "infonce"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(critic="bilinear"), r"critic must be one of"),
        (dict(preprocess="quantile"), r"preprocess must be one of"),
        (dict(validation_fraction=0.5, holdout_fraction=0.5), "validation_fraction"),
        (dict(validation_fraction=-0.1), "validation_fraction"),
        (dict(holdout_fraction=0.0), "holdout_fraction"),
        (dict(patience=0), "patience"),
        (dict(eval_every=0), "eval_every"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(weight_average=1.0), "weight_average"),
        (dict(hidden=0), "hidden"),
        (dict(lr=math.nan), "lr"),
        (dict(critic="auto", validation_fraction=0.0), "validation"),
        (dict(select_estimator="kl"), "select_estimator"),
        (dict(ema_rate=2.0), r"ema_rate must be in \(0, 1\]"),
    ],
)
def test_critic_config_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CriticConfig(**kwargs)


def test_unknown_setting_names_the_fields():
    x, y = correlated_gaussians(400, 2, 0.5, seed=0)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epochs'\].*'batch_size'"):
        estimate_mi(x, y, epochs=3, progress=False)


def test_split_too_small_names_every_split():
    x, y = correlated_gaussians(400, 2, 0.5, seed=0)
    with pytest.raises(ValueError, match="training .*held-out .*validation"):
        estimate_mi(x, y, batch_size=128, progress=False)


def test_divergence_after_a_validated_state_keeps_that_state():
    # a critic that behaves for its first training steps, then explodes: the state selected
    # before the explosion is read out and the reason says training stopped
    x, y = correlated_gaussians(1500, 2, 0.6, seed=0)

    class _LateExplosion(SeparableCritic):
        def __init__(self) -> None:
            super().__init__(2, 2, hidden=32, layers=1, embed_dim=8)
            self.train_calls = 0

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            s = super().forward(a, b)
            if self.training:
                self.train_calls += 1
                if self.train_calls > 120:
                    return s * 1e6
            return s

    r = estimate_mi(x, y, critic=_LateExplosion(), preprocess="none", seed=0, **FAST)
    assert not r.diverged and math.isfinite(r.estimate)
    assert "training stopped" in r.reason and r.best_step <= 120


class _HostReads(TorchFunctionMode):
    """Counts the calls that bring a tensor's values to the host (and wait for its device),
    except torch.optim's reads of its step counters, which live on the host."""

    NAMES = ("cpu", "item", "numpy", "tolist", "__float__", "__bool__", "__int__")

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        caller = sys._getframe(1).f_code.co_filename
        optim = f"torch{os.sep}optim{os.sep}" in caller
        self.count += getattr(func, "__name__", "") in self.NAMES and not optim
        return func(*args, **(kwargs or {}))


def test_training_steps_are_read_on_the_host_once_per_evaluation_interval():
    x, y = correlated_gaussians(1000, 2, 0.5, seed=0)
    cfg = CriticConfig(critic="separable", validation_fraction=0.0, preprocess="none")

    def host_reads(steps: int, eval_every: int) -> int:
        run = replace(cfg, steps=steps, eval_every=eval_every).resolved(600)
        splits = split_indices(1000, run, torch.Generator().manual_seed(0))
        critic = make_critic(run, x, y, seed=0)
        with _HostReads() as reads:
            fit = fit_critic(critic, lambda c, i: c(x[i], y[i]), splits, run, torch.Generator())
        assert fit.train_curve.shape == (steps,) and not fit.diverged
        return reads.count

    # one interval of 40 or of 80 steps: the same reads, none per step
    assert host_reads(40, 40) == host_reads(80, 80)
    # four intervals: three more checks of the steps, each a fixed number of reads
    per_interval = (host_reads(80, 20) - host_reads(80, 80)) / 3
    assert per_interval == int(per_interval) and 0 < per_interval <= 4


def test_divergence_is_reported_at_its_step_though_checked_at_the_interval_end():
    x, y = correlated_gaussians(1000, 2, 0.5, seed=0)

    class _ExplodesAt(SeparableCritic):
        def __init__(self, at: int, factor: float) -> None:
            super().__init__(2, 2, hidden=16, layers=1, embed_dim=4)
            self.at, self.factor, self.calls = at, factor, 0

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            s = super().forward(a, b)
            self.calls += self.training
            return s * self.factor if self.training and self.calls > self.at else s

    for factor, reason in ((math.nan, "non-finite loss or estimate at step 37"), (1e6, "> max")):
        r = estimate_mi(
            x,
            y,
            critic="separable",
            critic_module=_ExplodesAt(37, factor),
            validation_fraction=0.0,
            preprocess="none",
            seed=0,
            **{**FAST, "steps": 100},
        )
        assert r.diverged and r.diverged_at == 37 and reason in r.reason
        assert "at step 37" in r.reason and math.isnan(r.estimate)
        assert len(r.train_curve) == 38 and np.isfinite(r.train_curve[:37]).all()


@pytest.mark.parametrize(
    "cov,match",
    [
        (np.diag([-1.0, -1.0]), "positive semi-definite"),  # det > 0 in even dimension
        (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
        (np.diag([1.0, -1e-3]), "positive semi-definite"),
    ],
)
def test_linear_gaussian_mi_rejects_bad_covariances(cov, match):
    from robustrep_lite.mi import linear_gaussian_mi

    with pytest.raises(ValueError, match=match):
        linear_gaussian_mi(np.eye(2), cov, 1.0)
    # a singular but valid covariance is fine
    assert linear_gaussian_mi(np.eye(2), np.diag([1.0, 0.0]), 1.0) == pytest.approx(
        0.5 * math.log(2.0)
    )


def test_eval_batches_give_a_standard_error_at_small_sizes():
    idx = torch.arange(1000)
    full = eval_batches(idx, 128)
    assert [len(b) for b in full] == [128] * 7  # the remainder of 104 is left out, as before
    assert torch.equal(torch.cat(full), idx[:896])
    assert [len(b) for b in eval_batches(idx[:200], 128)] == [100, 100]  # two halves
    assert [len(b) for b in eval_batches(idx[:3], 2)] == [3]
    assert eval_batches(idx[:0], 8) == []
    # N = 1,000 with the default 60/20/20 split: 200 held-out pairs, two read-out batches
    x, y = correlated_gaussians(1000, 2, 0.5, seed=0)
    r = estimate_mi(x, y, seed=0, **{**FAST, "steps": 50})
    assert len(r.heldout_values) == 2 and math.isfinite(r.stderr)


# ----------------------------------------------------------------------------------------------
# several critics fitted at once (units > 1): each selected on its own values
# ----------------------------------------------------------------------------------------------
class _StackedCritics(nn.Module):
    """``units`` separable critics ``a_u(x) . b_u(z_u)`` (one hidden layer each), every
    parameter stacking the critics on its first axis; x (n, dx) is shared, z is (units, n, dz)
    and the scores (units, n, n)."""

    def __init__(self, units: int, dx: int, dz: int, hidden: int = 64, embed: int = 8) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)

        def p(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(units, *shape, generator=gen) / math.sqrt(shape[0]))

        self.a1, self.a2 = p(dx, hidden), p(hidden, embed)
        self.b1, self.b2 = p(dz, hidden), p(hidden, embed)
        self.a_bias = nn.Parameter(torch.zeros(units, 1, hidden))
        self.b_bias = nn.Parameter(torch.zeros(units, 1, hidden))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        a = torch.relu(torch.einsum("nd,udh->unh", x, self.a1) + self.a_bias) @ self.a2
        b = torch.relu(torch.bmm(z, self.b1) + self.b_bias) @ self.b2
        return a @ b.transpose(1, 2)


def _two_features(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, 5) and z (2, n, 5): feature 0 a noisy copy of x (it carries information), feature
    1 independent noise (a critic can only memorise its training pairs)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=gen)
    informative = x + 0.5 * torch.randn(n, 5, generator=gen)
    noise = torch.randn(n, 5, generator=gen)
    return x, torch.stack([informative, noise])


def test_several_critics_are_each_selected_on_their_own_validation_values():
    x, z = _two_features(1200, seed=3)
    cfg = CriticConfig(
        critic="separable",
        train_estimator="dv",  # selection bound = read-out bound: val_curve is what selects
        steps=400,
        batch_size=64,
        lr=3e-3,
        eval_every=20,
        patience=100,
        preprocess="none",
    )
    splits = split_indices(x.shape[0], cfg, torch.Generator().manual_seed(0))

    def scores(critic: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return critic(x[idx], z[:, idx])

    critic = _StackedCritics(2, 5, 5)
    fit = fit_critic(critic, scores, splits, cfg, torch.Generator().manual_seed(1), units=2)
    assert not fit.diverged
    n_evals = len(fit.eval_steps)
    assert fit.val_curve.shape == (n_evals, 2) and fit.train_curve.shape == (400, 2)
    assert fit.best_step.shape == (2,) and fit.best_value.shape == (2,)
    assert fit.heldout_values.shape == (len(eval_batches(splits[2], 64)), 2)
    # each critic keeps the evaluation where its own validation value peaked ...
    best = fit.val_curve.argmax(0)
    np.testing.assert_array_equal(fit.best_step, fit.eval_steps[best])
    np.testing.assert_allclose(fit.best_value, fit.val_curve.max(0), rtol=1e-6)
    # ... and those are different evaluations: the informative critic keeps improving, the one
    # on noise memorises its training pairs and peaks early
    assert fit.best_step[0] > fit.best_step[1]
    # re-evaluating the kept critics on the validation split gives each one's best value, so
    # the state kept for each critic is the state it had at its own best evaluation
    critic.eval()
    with torch.no_grad():
        again = np.mean(
            [
                unit_values(scores(critic, b), "dv", cfg.clip, 2).numpy()
                for b in eval_batches(splits[1], cfg.batch_size)
            ],
            axis=0,
        )
    np.testing.assert_allclose(again, fit.best_value, rtol=1e-5, atol=1e-6)


def test_several_critics_need_every_state_tensor_to_stack_them():
    x, z = _two_features(640, seed=0)
    cfg = CriticConfig(critic="separable", steps=5, batch_size=32, preprocess="none").resolved(384)
    splits = split_indices(x.shape[0], cfg, torch.Generator().manual_seed(0))

    def scores(critic: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return critic(x[idx], z[:, idx])

    one = SeparableCritic(5, 5, hidden=16, layers=1, embed_dim=4)  # not stacked
    with pytest.raises(ValueError, match="units=2"):
        fit_critic(one, scores, splits, cfg, torch.Generator(), units=2)
    stacked = _StackedCritics(3, 5, 5)  # stacks three critics, not two
    with pytest.raises(ValueError, match="units=2"):
        fit_critic(stacked, scores, splits, cfg, torch.Generator(), units=2)
    stacked = _StackedCritics(2, 5, 5)
    stacked.register_buffer("step", torch.tensor(0))  # a scalar: one value for both critics
    with pytest.raises(ValueError, match="units=2.*step"):
        fit_critic(stacked, scores, splits, cfg, torch.Generator(), units=2)
    with pytest.raises(ValueError, match="units"):
        fit_critic(_StackedCritics(2, 5, 5), scores, splits, cfg, torch.Generator(), units=0)
