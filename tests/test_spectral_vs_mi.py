"""Tests for robustrep_lite.experiments.spectral_vs_mi and the penalty of
robustrep_lite.training.encoder: one step of a penalised EncoderTrainer against a hand-computed
gradient (objective + lambda sigma_max^2), the unpenalised standard arm against plain train_encoder,
a quick-profile comparison (its rows, one arm computed alone giving the same row, and the penalty
lowering the encoder's top singular values), and bad input. Seeded; ~15 s on 1 thread."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch
from encoder_run import train

from robustrep_lite.core.results import strict_json
from robustrep_lite.experiments.settings import PROFILES, profile_settings
from robustrep_lite.experiments.spectral_vs_mi import (
    ARMS,
    across_seeds,
    compare,
    settings_record,
    stored_matches,
    train_arm,
)
from robustrep_lite.experiments.table1 import encoder_config, prepare_data
from robustrep_lite.mi import LocalDIMCritic, training_objective
from robustrep_lite.training.encoder import EncoderConfig, EncoderTrainer, train_encoder
from robustrep_lite.training.models import BaselineH
from robustrep_lite.training.spectral import SpectralPenalty, all_layers, conv_input_shapes

QUICK = PROFILES["quick"].comparison


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return prepare_data("mnist", "quick")


@pytest.fixture(scope="module")
def rows(data):
    return {r["arm"]: r for r in compare(data, QUICK, progress=False)}


def _images(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return module.state_dict()


def test_one_penalised_step_adds_the_spectral_gradient_to_the_objective() -> None:
    torch.manual_seed(0)
    encoder, critic = BaselineH(1, 28, 16, 0.125), LocalDIMCritic(1, 16, units=8)
    ref_encoder, ref_critic = copy.deepcopy(encoder), copy.deepcopy(critic)
    x = _images(16)
    lam = 0.5

    def penalty_for(enc: torch.nn.Module) -> SpectralPenalty:
        shapes = conv_input_shapes(enc, x[:2])
        return SpectralPenalty(all_layers(enc), lam, input_shapes=shapes, seed=3)

    config = EncoderConfig(beta=0.0, eps=0.1, estimator="dv")
    trainer = EncoderTrainer(encoder, critic, config, penalty=penalty_for(encoder))
    trainer.optimizer = torch.optim.SGD(trainer.objective.parameters(), lr=1.0)
    trainer.step([x], [None])

    ref_encoder.train()
    ref_critic.train()
    scores = ref_critic(x, ref_encoder(x))
    loss, _ = training_objective("dv", scores, clip=5.0)
    penalty = penalty_for(ref_encoder)
    (loss + penalty()).backward()
    assert penalty() > 0
    with torch.no_grad():
        for mine, ref in ((encoder, ref_encoder), (critic, ref_critic)):
            for (name, p), q in zip(mine.named_parameters(), ref.parameters(), strict=True):
                expected = q - q.grad
                assert torch.allclose(p, expected, atol=1e-5), name


def test_unpenalised_standard_arm_is_plain_train_encoder(data) -> None:
    x = data.x_fit[:96]
    arm = train_arm(x, "standard", QUICK, seed=1, progress=False)
    config = encoder_config(PROFILES["quick"].table1, "mnist", 1)
    plain = train_encoder(x, replace(config, beta=0.0), seed=1, progress=False)
    for a, b in ((arm.encoder, plain.encoder), (arm.critic, plain.critic)):
        sa, sb = _state(a), _state(b)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert "spectral_lambda" not in arm.config and arm.history.loss == plain.history.loss
    penalised = train_arm(x, "rep-spectral", QUICK, seed=1, progress=False)
    assert penalised.config["spectral_lambda"] == QUICK.spectral_lambda
    assert not torch.equal(penalised.encoder.fc[-1].weight, plain.encoder.fc[-1].weight)


def test_quick_comparison_rows(rows, data) -> None:
    assert list(rows) == list(ARMS)
    for name, r in rows.items():
        beta, penalised = ARMS[name]
        assert r["beta"] == beta
        assert r["spectral_lambda"] == (QUICK.spectral_lambda if penalised else 0.0)
        for key in ("natural", "pgd", "strong", "refit_accuracy"):
            assert 0.0 <= r[key] <= 1.0, (name, key)
        assert r["pgd"] <= r["natural"] and r["strong_size"] == PROFILES["quick"].table1.strong_size
        assert 0 < r["hsj_points"] <= QUICK.attack_points
        assert r["hsj_failed"] < r["hsj_points"] and r["hsj_mean"] > 0
        assert len(r["sigmas"]) == 5 and all(s > 0 for s in r["sigmas"])
        assert math.isnan(r["worst_mi"]) == (beta == 0) and math.isnan(r["mi"]) == (beta == 1)
    record = settings_record(QUICK)
    assert record["comparison"]["spectral_lambda"] == QUICK.spectral_lambda
    assert record["train"]["profile"] == "quick"


def test_an_arm_alone_gives_its_row_of_the_whole_comparison(rows, data) -> None:
    """bench/spectral_vs_mi.py resumes arm by arm on this: an arm's row depends neither on the
    arms before it nor on the global torch generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)
        (alone,) = compare(data, QUICK, arms=("both",), progress=False)
    whole = {k: v for k, v in rows["both"].items() if k != "seconds"}
    # compared as stored (NaN as None: this arm has no clean MI estimate)
    assert strict_json({k: v for k, v in alone.items() if k != "seconds"}) == strict_json(whole)


def test_stored_runs_match_their_settings_across_later_fields() -> None:
    record = settings_record(QUICK)
    assert stored_matches(record, QUICK)
    older = {**record, "train": {k: v for k, v in record["train"].items() if k != "rv_points"}}
    assert stored_matches(older, QUICK)  # a field added later and never read: still a match
    other = {**record, "train": {**record["train"], "lr": 123.0}}
    assert not stored_matches(other, QUICK)
    assert not stored_matches({**record, "comparison": {}}, QUICK)
    unknown = {**record, "train": {k: v for k, v in record["train"].items() if k != "lr"}}
    assert not stored_matches(unknown, QUICK)  # an old record must hold every other field


def test_penalty_lowers_the_top_singular_values(rows) -> None:
    standard, spectral = rows["standard"]["sigmas"], rows["rep-spectral"]["sigmas"]
    assert all(s < t for s, t in zip(spectral, standard, strict=True))
    both, worst = rows["both"]["sigmas"], rows["worst-case MI"]["sigmas"]
    assert sum(s * s for s in both) < sum(s * s for s in worst)


def test_bad_input_raises_value_errors(data) -> None:
    with pytest.raises(ValueError, match="arms"):
        compare(data, QUICK, arms=("standard", "adversarial"), progress=False)
    with pytest.raises(ValueError, match="arm"):
        train_arm(data.x_fit[:64], "spectral", QUICK, progress=False)
    with pytest.raises(ValueError, match="spectral_lambda"):
        train(_images(32), beta=0.0, epochs=1, batch_size=16, spectral_lambda=-0.1)
    bad = type(QUICK)(**{**vars(QUICK), "dataset": "imagenet"})
    with pytest.raises(ValueError, match="dataset"):
        compare(data, bad, progress=False)
    with pytest.raises(ValueError, match="laptop"):
        profile_settings("laptop")
    assert profile_settings("cpu").comparison is PROFILES["cpu"].comparison


def _seed_rows(hsj: dict[str, float], lam: float = 0.1) -> list[dict]:
    return [
        {
            "arm": arm,
            "beta": ARMS[arm][0],
            "spectral_lambda": lam,
            "hsj_mean": value,
            "sigmas": [1.0],
        }
        for arm, value in hsj.items()
    ]


def test_across_seeds_pairs_each_arm_with_the_standard_arm_of_its_seed() -> None:
    runs = {
        0: _seed_rows({"standard": 0.60, "worst-case MI": 0.70}),
        1: _seed_rows({"standard": 0.80, "worst-case MI": 0.86}),
        2: _seed_rows({"standard": 0.70, "worst-case MI": 0.82}),
    }
    summary, paired = across_seeds(runs)
    by_arm = {row["arm"]: row for row in summary}
    assert by_arm["standard"]["seeds"] == 3
    assert by_arm["standard"]["hsj_mean_mean"] == pytest.approx(0.70)
    assert by_arm["standard"]["hsj_mean_se"] == pytest.approx(0.1 / math.sqrt(3))
    (diff,) = paired
    assert diff["arm"] == "worst-case MI" and diff["seeds"] == 3
    assert diff["mean"] == pytest.approx((0.10 + 0.06 + 0.12) / 3)
    assert diff["se"] == pytest.approx(torch.tensor([0.10, 0.06, 0.12]).std().item() / math.sqrt(3))


@pytest.mark.parametrize(
    ("runs", "kwargs", "name"),
    [
        ({}, {}, "runs"),
        (
            {0: _seed_rows({"standard": 0.6, "both": 0.7}), 1: _seed_rows({"standard": 0.6})},
            {},
            "runs",
        ),
        (
            {0: _seed_rows({"standard": 0.6}), 1: _seed_rows({"standard": 0.6}, lam=0.01)},
            {},
            "runs",
        ),
        ({0: _seed_rows({"standard": 0.6})}, {"metric": "hsj_median"}, "metric"),
        ({0: _seed_rows({"standard": 0.6})}, {"baseline": "both"}, "baseline"),
    ],
)
def test_across_seeds_rejects_mismatched_runs(runs: dict, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        across_seeds(runs, **kwargs)
