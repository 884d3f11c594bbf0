"""The staircase benchmark as a library function, and the optimal Gaussian critic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robustrep_lite.experiments.mi_staircase import (
    B1_STAIRCASE,
    LEVELS,
    StaircaseConfig,
    optimal_gaussian_scores,
    run_staircase,
    staircase_groups,
    summarise_levels,
)
from robustrep_lite.mi import correlated_gaussians, gaussian_mi, readout, rho_for_mi


def test_optimal_critic_recovers_the_true_mi_on_average() -> None:
    rho = rho_for_mi(3.0, 10)
    x, y = correlated_gaussians(20_000, 10, rho, seed=0)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    diagonal = optimal_gaussian_scores(x[:2000], y[:2000], rho).diagonal()
    assert abs(diagonal.mean().item() - gaussian_mi(10, rho)) < 4 * diagonal.std().item() / 40
    # InfoNCE at the optimal critic stays below its log K cap
    scores = optimal_gaussian_scores(x[:64], y[:64], rho)
    assert float(readout("infonce", scores)) <= math.log(64) + 1e-6


def test_short_staircase_runs_every_estimator_of_a_group() -> None:
    config = StaircaseConfig(levels=(1.0, 2.0), steps_per_level=30, d=4, heldout_batches=3)
    result = run_staircase(["js_nwj", "smile_5"], config)
    assert result["stopped_at"] is None
    for name in ("js_nwj", "smile_5"):
        assert result["curves"][name].shape == (60,) and np.isfinite(result["curves"][name]).all()
        rows = summarise_levels(
            result["curves"][name], result["held"][name], (1.0, 2.0), 30, 3, last=10
        )
        assert [row["mi"] for row in rows] == [1.0, 2.0]
        assert all(math.isfinite(row["heldout"]) for row in rows)


def test_staircase_groups_summarise_each_group_as_run_staircase_does() -> None:
    levels = (1.0, 2.0)
    config = StaircaseConfig(steps_per_level=8, levels=levels, heldout_batches=10)
    live = staircase_groups([["dv"], ["js_nwj", "smile_5"]], config)
    assert (
        live["steps"] == 16
        and live["last"] == 2
        and list(live["levels"]) == ["dv", "js_nwj", "smile_5"]
    )
    assert live["wall_s"]["js_nwj"] == live["wall_s"]["smile_5"] > 0  # one shared run
    run = run_staircase(["dv"], config)
    direct = summarise_levels(run["curves"]["dv"], run["held"]["dv"], levels, 8, 10, last=2)
    assert live["levels"]["dv"] == direct  # the same seed, the last quarter of each level
    with pytest.raises(ValueError, match="groups"):
        staircase_groups([[]], config)


@pytest.mark.parametrize(
    ("names", "message"), [(["dv", "infonce"], "share one training"), (["smile_9"], "names")]
)
def test_bad_estimator_groups_are_rejected(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_staircase(names, StaircaseConfig(steps_per_level=1))


def test_the_default_config_is_the_b1_protocol_and_levels_become_a_float_tuple() -> None:
    b1 = StaircaseConfig()
    assert b1 == B1_STAIRCASE and (b1.critic, b1.d, b1.levels) == ("separable", 20, LEVELS)
    assert (b1.steps_per_level, b1.batch_size, b1.heldout_batches) == (4000, 64, 100)
    assert (b1.lr, b1.ema_rate) == (5e-4, 0.01) and b1.steps == 4000 * len(LEVELS)
    listed = StaircaseConfig(levels=[1, 2.5], steps_per_level=3)
    assert listed.levels == (1.0, 2.5) and all(type(mi) is float for mi in listed.levels)
    assert listed.steps == 6 and listed == StaircaseConfig(levels=(1.0, 2.5), steps_per_level=3)
    assert hash(listed) == hash(StaircaseConfig(levels=(1.0, 2.5), steps_per_level=3))


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("critic", "bilinear", r"critic must be one of \('separable', 'joint'\)"),
        ("d", 0, "d must be an integer >= 1"),
        ("d", 2.0, "d must be an integer >= 1"),
        ("levels", (), "levels must be a non-empty sequence"),
        ("levels", (2.0, -1.0), "levels must be a non-empty sequence of finite MI values >= 0"),
        ("levels", (2.0, math.nan), "levels must be"),
        ("levels", "2 4", "levels must be"),
        ("levels", 2.0, "levels must be"),
        ("steps_per_level", 0, "steps_per_level must be an integer >= 1"),
        ("batch_size", 1, "batch_size must be an integer >= 2"),
        ("lr", 0.0, "lr must be a finite number > 0"),
        ("lr", math.inf, "lr must be a finite number > 0"),
        ("ema_rate", 0.0, "ema_rate must be a finite number > 0"),
        ("ema_rate", 1.5, r"ema_rate must be in \(0, 1\]"),
        ("heldout_batches", 0, "heldout_batches must be an integer >= 1"),
    ],
)
def test_a_bad_staircase_setting_is_refused_by_name(field: str, value: object, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        StaircaseConfig(**{field: value})


def test_optimal_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="rho"):
        optimal_gaussian_scores(torch.zeros(3, 2), torch.zeros(3, 2), 1.0)
    with pytest.raises(ValueError, match="shape"):
        optimal_gaussian_scores(torch.zeros(3, 2), torch.zeros(4, 2), 0.5)
