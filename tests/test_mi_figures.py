"""Tests for robustrep_lite.book.mi_figures: Chapter 4's staircase, sweep, B3 and torch-mist
tables and figures against hand-made records, and the stored records they read."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from robustrep_lite.book import mi_figures as mf
from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.core.results import load_stored

LEVELS = [2.0, 4.0]


def _level(mean: float, var: float, seeds: list[float]) -> dict:
    return {"mi": 0, "mean": mean, "bias": mean - 0, "var": var, "mean_per_seed": seeds}


STAIR = {
    "critic": "separable",
    "seeds": 2,
    "truth_nats": LEVELS,
    "config": {"steps_per_level": 4, "last": 2},
    "curves_seed0": {"stride": 2, "values": {"dv": [0.5, 1.0, 3.0, 3.5], "nwj": [1, 2, 3, 4]}},
    "results": {
        "dv": {"levels": [_level(1.9, 0.5, [1.8, 2.0]), _level(3.5, 4.0, [3.0, 4.0])]},
        "nwj": {"levels": [_level(1.7, 0.2, [1.6, 1.8]), _level(3.0, 1.0, [2.5, 3.5])]},
    },
    "reference_separable_mean": {"dv": [[1.69, 3.17], 29.6], "nwj": [[1.51, 2.56], 1.07]},
}


def test_staircase_table_puts_ours_beside_the_reference() -> None:
    lines = mf.staircase_markdown(STAIR, ["dv", "nwj"]).splitlines()
    assert lines[0] == "Ours (reference), mean of the last 2 steps per level:"
    assert lines[2] == "| estimator | MI = 2 | MI = 4 | var at 4 |"
    assert lines[4] == "| DV | 1.90 (1.69) | 3.50 (3.17) | 4 (29.6) |"


def test_staircase_figures_follow_the_record() -> None:
    fig = mf.staircase_figure(STAIR, ["dv", "nwj"])
    assert [t.name for t in fig.data] == ["true MI", "DV", "NWJ"]
    assert list(fig.data[0].y) == [2, 2, 2, 2, 4, 4, 4, 4]
    assert list(fig.data[1].x) == [0, 2, 4, 6]  # every stride-th step
    assert tuple(fig.layout.yaxis.range) == (-1, 8.0)
    var = mf.staircase_variance_figure(STAIR, ["dv", "nwj"])
    assert list(var.data[0].y) == [0.5, 4.0] and var.layout.yaxis.type == "log"
    assert "mean of 2 seeds" in var.layout.title.text


def test_bias_table_flags_divergence_and_missing_references() -> None:
    joint = {
        **STAIR,
        "critic": "joint",
        "results": {
            "dv": {"levels": [{"bias": 0.1, "var": 2.0}, {"bias": 9.0, "var": 5e6}], "diverged": 1},
            "nwj": {"levels": [{"bias": -0.2, "var": 1.0}, {"bias": -1.5, "var": 3.0}]}
            | {"diverged": False},
        },
        "reference_joint_bias": {"nwj": [-0.12, -1.66]},
    }
    lines = mf.staircase_bias_markdown(joint).splitlines()
    assert lines[0] == "Signed bias, ours (reference), joint critic:"
    assert lines[4] == "| DV **diverged** | +0.10 | +9.00 | 5e+06 |"
    assert lines[5] == "| NWJ | -0.20 (-0.12) | -1.50 (-1.66) | 3 |"


def test_seed_spread_joins_runs_in_seed_order() -> None:
    more = {**STAIR, "seeds": 1, "config": {**STAIR["config"], "first_seed": 2}}
    more["results"] = {"dv": {"levels": [_level(0, 0, [9.0]), _level(0, 0, [5.0])]}}
    assert mf.per_seed_means([STAIR, more], "dv") == [3.0, 4.0, 5.0]
    text = mf.seed_spread_sentence([STAIR, more], "dv")
    assert "MI = 4, seeds 0-2: 3.00, 4.00, 5.00; mean 4.00, sd 1.00 (reference: 3.17)" in text
    with pytest.raises(ValueError, match="seed values"):
        mf.seed_spread_sentence([{**STAIR, "seeds": 3}], "dv")


def test_optimal_critic_figure_and_summary() -> None:
    values = {(16, "DV"): [5.0, 7.0], (16, "InfoNCE"): [2.7, 2.7]}
    values |= {(64, "DV"): [6.0, 6.0], (64, "InfoNCE"): [3.0, 4.0]}
    fig = mf.optimal_critic_figure(values, true_mi=6.0)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["16", "64"]
    bars_16, truth_16, cap_16 = fig.data[:3]
    assert list(bars_16.y) == [6.0, 2.7] and list(bars_16.error_y.array) == [1.0, 0.0]
    assert list(truth_16.y) == [6.0, 6.0] and cap_16.y[0] == pytest.approx(math.log(16))
    assert fig.layout.yaxis.range[1] >= 7.0
    summary = mf.optimal_critic_summary(values, 64)
    assert summary == "K = 64: DV 6.00 ± 0.00, InfoNCE 3.50 ± 0.50 nats (mean ± sd over 2 batches)"
    with pytest.raises(ValueError, match="k must be"):
        mf.optimal_critic_summary(values, 32)
    with pytest.raises(ValueError, match="lacks"):
        mf.optimal_critic_figure({(16, "DV"): [1.0], (64, "NWJ"): [1.0]}, 6.0)


def test_optimal_critic_facts_are_computed_from_the_read_outs() -> None:
    values = {
        (64, "DV"): [5.5, 6.5],
        (64, "NWJ"): [5.8, 6.2],
        (64, "InfoNCE"): [3.0, 4.0],
        (64, "SMILE τ = 5"): [5.8, 6.0],
        (16, "DV"): [5.0, 7.0],
        (16, "NWJ"): [4.5, 7.5],
        (16, "InfoNCE"): [2.5, 2.5],
        (16, "SMILE τ = 5"): [6.5, 6.9],
    }
    facts = mf.optimal_critic_facts(values, true_mi=6.0)
    assert (facts["k_small"], facts["k_large"]) == (16, 64)  # sorted, whatever the key order
    assert facts["dv_sd_small"] == pytest.approx(1.0) and facts["dv_sd_large"] == pytest.approx(0.5)
    assert facts["dv_sd_trend"] == "falling at every larger K"
    assert facts["nwj_sd_ratio_min"] == pytest.approx(0.4)
    assert facts["nwj_sd_ratio_max"] == pytest.approx(1.5)
    assert facts["nwj_larger"] == "only at K = 16"
    assert facts["infonce_gap_small"] == pytest.approx(math.log(16) - 2.5)
    assert facts["infonce_gap_large"] == pytest.approx(math.log(64) - 3.5)
    assert facts["infonce_below"] == "at every K"
    assert facts["smile_bias_min"] == pytest.approx(-0.1)
    assert facts["smile_bias_max"] == pytest.approx(0.7)
    assert facts["smile_above"] == "only at K = 16"
    assert facts["smile_sd_ratio_min"] == pytest.approx(0.1 / 0.5)
    assert facts["smile_sd_ratio_max"] == pytest.approx(0.2 / 1.0)
    assert facts["smile_smaller"] == "at every K"
    values[(64, "DV")] = [4.0, 8.0]  # sd 2 at K = 64: DV's spread no longer falls
    values[(16, "NWJ")] = [6.0, 6.0]
    facts = mf.optimal_critic_facts(values, true_mi=6.0)
    assert facts["dv_sd_trend"] == "not falling at every larger K"
    assert facts["nwj_larger"] == "at no K"
    assert mf.optimal_critic_facts(values, true_mi=3.0)["infonce_below"] == "only at K = 16"
    with pytest.raises(ValueError, match="no read-outs of 'NWJ'"):
        mf.optimal_critic_facts({k: v for k, v in values.items() if k[1] != "NWJ"}, 6.0)


def test_live_staircase_table() -> None:
    live = {
        "levels": {"dv": [{"mi": 2.0, "mean": 1.42}, {"mi": 4.0, "mean": 2.71}]},
        "wall_s": {"dv": 9.23},
        "steps": 2400,
        "last": 150,
    }
    lines = mf.live_staircase_markdown(live).splitlines()
    assert lines[0] == "Mean of the last 150 steps of each level:"
    assert lines[2] == "| estimator | MI = 2 | MI = 4 | s for 2400 steps |"
    assert lines[4] == "| DV | 1.42 | 2.71 | 9.2 |"


def _sweep_row(d: int, rho: float, truth: float, estimate: float, diverged: bool = False) -> dict:
    result = {"estimate": estimate, "diverged": diverged, "pooled": estimate - 0.1}
    return {"d": d, "rho": rho, "truth": truth, "ksg": truth - 0.05, "mine": result}


SWEEP = {
    "config": {"estimators": ["mine"], "steps": 5000, "pooled_n": 131072},
    "rows": [
        _sweep_row(2, 0.0, 0.0, 0.001),
        _sweep_row(20, 0.0, 0.0, -0.001),
        _sweep_row(2, 0.5, 0.29, 0.28),
        _sweep_row(20, 0.5, 2.88, 2.59),
        _sweep_row(20, 0.9, 16.6, 3.0),
    ],
    "targets": {
        "mine": {
            "d2_abs_estimate_le_0.05_at_rho0": [0.0004, True],
            "d20_rel_error_le_10pct_for_0<|rho|<=0.7": [0.1325, False],
            "d20_estimate_at_rho0": [-0.0009, None],
        }
    },
    "provenance": {"time_utc": "2026-11-24 08:48 UTC", "git_commit": "534f332"},
}


def test_sweep_figure_has_one_slider_step_per_rho_and_drops_diverged_runs() -> None:
    rows = [*SWEEP["rows"], _sweep_row(2, 0.9, 1.2, 1.19)]
    rows[-2] = _sweep_row(20, 0.9, 16.6, 9.0, diverged=True)
    fig = mf.sweep_figure({**SWEEP, "rows": rows}, active=1)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "0.5", "0.9"]
    assert list(fig.data[0].x) == ["truth", "KSG (per coord.)", "MINE"]
    d2, d20 = fig.data[2:4]  # rho = 0.5
    assert (d2.name, d20.name) == ("d = 2", "d = 20") and d20.y == (2.88, 2.83, 2.59)
    assert d20.visible and not fig.data[0].visible
    assert fig.data[4].y[2] is None and fig.data[5].y[2] == 1.19  # rho = 0.9: d = 20 diverged


def test_sweep_tables() -> None:
    targets = mf.sweep_targets_markdown(SWEEP).splitlines()
    assert targets[2] == "| MINE |  | 0.0004 ✓ | 13.2% ✗ | -0.0009 |"
    long = {
        **SWEEP,
        "config": {**SWEEP["config"], "steps": 20000},
        "rows": [_sweep_row(20, 0.5, 2.88, 2.76), _sweep_row(20, 0.9, 16.6, 9.0, True)],
    }
    lines = mf.sweep_d20_markdown([SWEEP, long]).splitlines()
    assert "131,072 fresh pairs" in lines[0]
    assert lines[2] == "| ρ | steps | truth | MINE |"
    assert lines[4] == "| +0.0 | 5000 | 0.000 | -0.00 (+0%) [-0.10] |"
    assert lines[5] == "| +0.5 | 5000 | 2.880 | 2.59 (-10%) [2.49] |"
    assert lines[6] == "| +0.5 | 20000 | 2.880 | 2.76 (-4%) [2.66] |"
    assert len(lines) == 7  # rho = 0.9 lies beyond max_rho
    assert "diverged" in mf.sweep_d20_markdown([long], max_rho=1.0)


def test_representation_and_peer_tables() -> None:
    rep = {
        "config": {"estimators": ["smile", "dv"]},
        "rows": [
            {
                "problem": "linear",
                "truth": 0.5,
                "smile": {"estimate": 0.431, "diverged": False},
                "dv": {"estimate": None, "diverged": True},
            }
        ],
    }
    assert mf.representation_markdown(rep).splitlines() == [
        "| problem | true MI | SMILE τ = 5 | DV |",
        "|---|---|---|---|",
        "| linear | 0.50 | 0.43 | diverged |",
    ]
    run = {"levels": [{"mean": 1.68}, {"mean": 3.65}], "wall_s": 263.6}
    peer = {"config": {"levels": LEVELS, "last": 500}, "results": {"smile_5": {"ours": [run]}}}
    lines = mf.peer_markdown(peer).splitlines()
    assert lines[0] == "Mean of the last 500 steps per level:"
    assert lines[4] == "| SMILE τ = 5 | ours | 1.68 | 3.65 | 264 s |"


def _facts_stair(nwj_seeds: list[float], smile_bias: list[float]) -> dict:
    def result(seeds: list[float], biases: list[float] = (0.0, 0.0)) -> dict:
        levels = [
            {"mean": sum(seeds) / len(seeds), "bias": b, "mean_per_seed": seeds} for b in biases
        ]
        return {"levels": levels}

    return {
        **STAIR,
        "results": {
            "nwj": result(nwj_seeds),
            "mine": result([3.9, 4.1]),
            "smile_5": result([4.0, 4.0], smile_bias),
            "smile_1": result([4.0, 4.0], [0.05, 0.2]),
        },
    }


def test_staircase_facts_compute_the_verdicts() -> None:
    record = _facts_stair([2.4, 2.6], [-0.3, 0.4])  # mean 2.5, reference 2.56
    more = {
        "seeds": 2,
        "config": {},
        "results": {"nwj": {"levels": [{"mean_per_seed": [2.5, 2.5]}]}},
    }
    facts = mf.staircase_facts(record, [more], target=0.25)
    assert facts["nwj_top"] == pytest.approx(2.5) and facts["mine_top"] == pytest.approx(4.0)
    assert facts["reference"] == 2.56 and facts["gap"] == pytest.approx(0.06)
    assert facts["verdict"] == "within the 0.25-nat target" and facts["all_seeds"] == 4
    sd = float(np.std([2.4, 2.6, 2.5, 2.5], ddof=1))
    assert facts["seed_sd"] == pytest.approx(sd)
    assert facts["mean_se"] == pytest.approx(sd / math.sqrt(2))
    assert facts["resolves"] == "the target is coarser than two such standard errors"
    spread = mf.staircase_facts(_facts_stair([1.0, 3.0], [0.1, 0.1]), target=0.25)
    assert spread["verdict"] == "outside the 0.25-nat target"  # mean 2.0 vs 2.56
    assert spread["resolves"] == "the target is finer than this statistic can resolve"
    # the gap against its noise: ours se^2 = sd^2 / 2 seeds, the reference's sd^2 / 2
    assert facts["gap_se"] == pytest.approx(0.06 / sd)
    assert facts["gap_noise"] == "within what the seed-to-seed spread explains"
    far = mf.staircase_facts(_facts_stair([3.3, 3.5], [0.1, 0.1]), target=0.25)  # 0.84 off
    assert far["gap_se"] == pytest.approx(0.84 / float(np.std([3.3, 3.5], ddof=1)))
    assert far["gap_noise"] == "more than the seed-to-seed spread explains"


def test_smile_staircase_facts_compare_the_clips() -> None:
    def result(biases: list[float], variances: list[float]) -> dict:
        return {"levels": [{"bias": b, "var": v} for b, v in zip(biases, variances, strict=True)]}

    record = {
        "results": {
            "dv": result([-0.3, -3.0], [0.1, 20.0]),
            "smile_1": result([0.1, 0.3], [0.1, 0.5]),
            "smile_5": result([-0.4, 0.2], [0.1, 0.4]),
            "smile_inf": result([-0.4, -1.0], [0.1, 2.5]),
        }
    }
    facts = mf.smile_staircase_facts(record, tol=0.5)
    assert facts["within"] == "SMILE τ = 1 and SMILE τ = 5 stay" and facts["within_tol"] == 0.5
    assert facts["smile5_max_bias"] == 0.4 and facts["smile1_max_bias"] == 0.3
    assert (facts["smile1_bias_min"], facts["smile1_bias_max"]) == (0.1, 0.3)
    assert facts["smile1_above"] == "at every level"
    assert facts["smile1_closer"] == "at 1 of 2 levels"  # 0.1 < 0.4, but 0.3 > 0.2
    assert facts["smile5_max_var"] == 0.4
    assert (facts["smile_inf_top_var"], facts["dv_top_var"]) == (2.5, 20.0)
    assert mf.smile_staircase_facts(record, tol=0.35)["within"] == "SMILE τ = 1 stays"
    assert mf.smile_staircase_facts(record, tol=0.05)["within"] == "no estimator stays"
    record["results"]["smile_1"] = result([-0.1, 0.1], [0.1, 0.5])
    facts = mf.smile_staircase_facts(record)
    assert (
        facts["smile1_above"] == "at 1 of 2 levels" and facts["smile1_closer"] == "at every level"
    )


def _rep_row(problem: str, truth: float, **estimates: float | None) -> dict:
    row: dict = {"problem": problem, "truth": truth}
    for name, value in estimates.items():
        row[name] = {"estimate": value, "diverged": value is None}
    return row


def test_representation_facts_follow_the_table() -> None:
    rows = [
        _rep_row("linear", 2.0, smile=1.9, dv=1.5),
        _rep_row("linear", 0.5, smile=0.45, dv=0.47),
        _rep_row("linear", 1.0, smile=0.95, dv=0.9),
        _rep_row("linear", 4.0, smile=3.8, dv=3.1),
        _rep_row("binary", 0.69, smile=0.67, dv=0.66),
        _rep_row("binary", 0.44, smile=0.41, dv=0.2),
    ]
    rep = {"config": {"estimators": ["smile", "dv"]}, "rows": rows}
    facts = mf.representation_facts(rep)
    assert facts["agree"] == (
        "both estimators read within 0.1 nats of each other on 1 of 2 binary codes and on the "
        "linear representations up to 1 nat"
    )
    assert (
        facts["apart"]
        == "from 2 nats up they part (at 2 nats DV reads 1.50, the others 1.90 to 1.90)"
    )
    assert (
        facts["closest"]
        == "SMILE τ = 5 is the closest to the truth at every linear level from 1 nat up"
    )
    assert (facts["top_truth"], facts["top_best"]) == (4.0, 3.8)
    rows[3] = _rep_row("linear", 4.0, smile=3.8, dv=None)  # a diverged read-out disagrees
    rows[5] = _rep_row("binary", 0.44, smile=0.41, dv=0.4)
    rows[0] = _rep_row("linear", 2.0, smile=1.9, dv=1.95)
    facts = mf.representation_facts(rep)
    assert facts["agree"].endswith(
        "on both binary codes and on the linear representations up to 2 nats"
    )
    assert facts["apart"] == "from 4 nats up they part (at 4 nats DV diverged)"
    assert (
        facts["closest"]
        == "SMILE τ = 5 is the closest to the truth at every linear level from 4 nats up"
    )
    assert facts["top_best"] == 3.8
    rows[3] = _rep_row("linear", 4.0, smile=3.8, dv=3.85)
    rows[1] = _rep_row("linear", 0.5, smile=0.45, dv=0.2)
    facts = mf.representation_facts(rep)
    assert "on no linear representation" in facts["agree"]
    assert facts["apart"] == "at 0.5 nats they part (DV reads 0.20, the others 0.45 to 0.45)"
    assert facts["closest"] == "SMILE τ = 5 is the closest to the truth at 2 of 4 linear levels"
    assert mf.representation_facts(rep, "dv")["closest"] == (
        "DV is the closest to the truth at every linear level from 2 nats up"
    )
    rows[1] = _rep_row("linear", 0.5, smile=0.45, dv=0.47)
    facts = mf.representation_facts(rep)
    assert "on every linear representation" in facts["agree"]
    assert facts["apart"] == "they agree at every linear level"
    with pytest.raises(ValueError, match="name must be one of"):
        mf.representation_facts(rep, "nwj")


def test_joint_slowdown() -> None:
    sep = {"results": {"dv": {"wall_s_mean": 10.0}, "nwj": {"wall_s_mean": 20.0}}}
    joint = {"results": {"dv": {"wall_s_mean": 200.0}, "nwj": {"wall_s_mean": 100.0}}}
    assert mf.joint_slowdown(joint, sep) == (5.0, 20.0)


def _flagged(exploded: bool, nonfinite: bool, *biases: float) -> dict:
    levels = [{"mean": 2.0 * (i + 1) + b, "bias": b} for i, b in enumerate(biases)]
    return {"exploded": exploded, "nonfinite": nonfinite, "levels": levels}


def test_staircase_flags_tell_a_flagged_step_from_a_run_away_mean() -> None:
    record = {
        "results": {
            "dv": _flagged(True, False, -0.1, 500.0),
            "nwj": _flagged(True, False, -0.2, -3.5),
            "mine": _flagged(False, False, -0.1, -1.0),
        }
    }
    assert mf.staircase_flags_markdown(record) == (
        "DV and NWJ had at least one step whose estimate went beyond ±100 nats, which the "
        "runner flags; none stopped at a non-finite value. DV also ran away in its level means "
        "(504 nats at its worst level); NWJ did not: its level means stay within 3.5 nats of "
        "the truth."
    )
    record["results"]["nwj"] = _flagged(True, True, -200.0, 0.0)
    text = mf.staircase_flags_markdown(record)
    assert "and NWJ stopped at a non-finite value." in text
    assert "DV and NWJ also ran away in their level means (504 and -198 nats at their" in text
    assert "did not" not in text
    calm = {"results": {"mine": _flagged(False, False, -0.1, -1.0)}}
    assert mf.staircase_flags_markdown(calm) == (
        "no estimator had a step whose estimate went beyond ±100 nats; none stopped at a "
        "non-finite value."
    )


def _fact_row(d: int, rho: float, truth: float, **estimates: float | None) -> dict:
    row: dict = {"d": d, "rho": rho, "truth": truth}
    for name, value in estimates.items():
        diverged = value is None
        row[name] = {
            "estimate": math.nan if diverged else value,
            "diverged": diverged,
            "train_last100": math.nan if diverged else value * 1.01,
            "pooled": math.nan if diverged else value - 1.0,
        }
    return row


def test_sweep_facts_follow_the_records() -> None:
    names = ["mine", "dv", "nwj", "smile"]
    d2 = "d2_abs_bias_le_0.03_for_0<|rho|<=0.9"
    zero = "d2_abs_estimate_le_0.05_at_rho0"
    targets = {
        n: {d2: [0.01 * (i + 1), True], zero: [-0.001 * i, None]} for i, n in enumerate(names)
    }
    sweep = {
        "config": {"estimators": names, "steps": 5000},
        "targets": targets,
        "rows": [
            _fact_row(20, 0.0, 0.0, mine=0.0, dv=0.0, nwj=0.0, smile=0.0),
            _fact_row(20, -0.7, 10.0, mine=9.5, dv=15.0, nwj=7.0, smile=11.0),
            _fact_row(20, 0.7, 10.0, mine=9.2, dv=14.0, nwj=8.0, smile=11.2),
            _fact_row(20, 0.9, 16.0, mine=3.0, dv=3.0, nwj=3.0, smile=3.0),
        ],
    }
    long = {
        "config": {"estimators": names, "steps": 20000},
        "rows": [
            _fact_row(20, 0.3, 1.0, mine=0.97, dv=0.95, nwj=0.92, smile=1.05),
            _fact_row(20, 0.7, 10.0, mine=9.7, dv=None, nwj=None, smile=11.4),
        ],
    }
    facts = mf.sweep_facts(sweep, long)
    assert facts["d2_bias_max"] == 0.04 and facts["d2_bias_worst"] == "SMILE τ = 5"
    assert facts["d2_verdict"] == "all 4 estimators are" and facts["d2_zero_max"] == 0.003
    assert facts["mine_rel_min"] == pytest.approx(-0.08)  # rho = 0.9 lies beyond 0.7
    assert facts["mine_rel_max"] == pytest.approx(-0.05)
    assert facts["nwj_long_abs_max"] == pytest.approx(0.08) and facts["nwj_long_rhos"] == "0.3"
    assert facts["mine_long_rhos"] == "0.3, 0.7" and facts["truth_high"] == 10.0
    assert (facts["dv_high_min"], facts["dv_high_max"], facts["dv_high_pooled_max"]) == (14, 15, 14)
    assert facts["smile_high_min"] == pytest.approx(0.1)
    assert facts["smile_high_max"] == pytest.approx(0.12)
    assert facts["smile_long_high"] == pytest.approx(0.14)
    assert facts["train_gap"] == pytest.approx(0.0095)  # MINE at -0.7: 0.01 * 9.5 / 10
    assert facts["long_diverged"] == "DV and NWJ"
    assert facts["met_short"] == "MINE" and facts["met_long"] == "MINE"
    targets["dv"][d2][1] = False
    assert mf.sweep_facts(sweep, long)["d2_verdict"] == "3 of 4 estimators are"


def test_peer_facts() -> None:
    def run(means: list[float], wall: float) -> list[dict]:
        levels = [
            {"mi": mi, "mean": m, "var": abs(m - mi)}
            for mi, m in zip([2.0, 8.0], means, strict=True)
        ]
        return [{"levels": levels, "wall_s": wall}]

    results = {
        name: {"robustrep_lite": run(ours, 10.0), "torch-mist": run(theirs, wall)}
        for name, ours, theirs, wall in [
            ("infonce", [1.0, 3.0], [1.002, 3.0], 20.0),
            ("dv", [1.0, 5.0], [1.1, 7.0], 15.0),
            ("nwj", [1.0, 5.0], [0.8, 5.0], 30.0),
            ("mine", [1.0, 5.0], [1.0, 6.0], 12.0),
            ("smile_5", [2.0, 8.1], [1.9, 6.5], 20.0),
            ("js_nwj", [2.0, -40.0], [2.0, 7.0], 20.0),
        ]
    }
    peer = {"torch_mist": "0.2.17", "config": {"seeds": 1}, "results": results}
    facts = mf.peer_facts(peer)
    assert facts["top_mi"] == 8.0 and facts["parts"] == 1
    assert (facts["smile_ours"], facts["smile_theirs"]) == (8.1, 6.5)
    assert (facts["mine_ours"], facts["mine_theirs"]) == (5.0, 6.0)
    assert facts["mine_ends"] == "closer to"
    assert (facts["js_var_ours"], facts["js_var_theirs"]) == (48.0, 1.0)
    results["mine"]["torch-mist"][0]["levels"][-1]["mean"] = 11.5
    assert mf.peer_facts(peer)["mine_ends"] == "no closer to"
    assert mf.peer_facts({**peer, "merged_from": ["a", "b", "c"]})["parts"] == 3
    assert facts["infonce_diff"] == pytest.approx(0.002)
    assert facts["low_diff"] == pytest.approx(0.2)  # the level at 8 nats lies above 6
    assert facts["mist_version"] == "0.2.17" and facts["seeds"] == 1
    assert facts["faster"] == "ours was faster for every estimator"
    assert (facts["speedup_min"], facts["speedup_max"]) == (1.2, 3.0)
    results["mine"]["torch-mist"][0]["wall_s"] = 5.0
    assert mf.peer_facts(peer)["faster"] == "ours was not faster for every estimator"
    del results["js_nwj"], results["smile_5"]  # a record of fewer estimators says less
    assert not {"js_var_ours", "smile_ours"} & set(mf.peer_facts(peer))


def test_gaussian_mi_widget_shows_the_estimate_beside_the_truth() -> None:
    calls = []

    def fake(d: int, rho: float) -> SimpleNamespace:
        calls.append((d, rho))
        return SimpleNamespace(estimate=0.1234, stderr=0.0056)

    box = mf.gaussian_mi_widget(fake)
    rho, dim, button, answer, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert calls == [(2, 0.5)]  # runs once on creation
    assert "true MI 0.288 nats" in answer.value and "0.123 ± 0.006" in answer.value
    dim.value = 20
    button.click()
    assert calls[-1] == (20, 0.5) and "true MI 2.877" in answer.value


def test_stored_records_lay_out() -> None:
    """Every stored record Chapter 4 reads gives its tables and figures."""
    stair = load_stored(mf.STAIRCASE_SEPARABLE)
    more = load_stored(mf.STAIRCASE_NWJ_MORE_SEEDS)
    assert mf.staircase_markdown(stair).count("\n| ") == len(mf.STAIRCASE_SHOWN) + 1
    assert "seeds 0-5" in mf.seed_spread_sentence([stair, more])
    assert "**diverged**" in mf.staircase_bias_markdown(load_stored(mf.STAIRCASE_JOINT))
    sweep, long = load_stored(mf.SWEEP_RESULT), load_stored(mf.SWEEP_LONG_RESULT)
    assert len(mf.sweep_figure(sweep).layout.sliders[0].steps) == 11
    assert mf.sweep_targets_markdown(sweep).count("\n") == 1 + len(sweep["targets"])
    assert "| +0.7 | 20000 |" in mf.sweep_d20_markdown([sweep, long])
    assert "| binary |" in mf.representation_markdown(load_stored(mf.REPRESENTATION_RESULT))
    assert "torch-mist" in mf.peer_markdown(load_stored(mf.TORCH_MIST_RESULT))
    facts = mf.sweep_facts(sweep, long)
    assert facts["met_short"] == "no estimator" and facts["long_diverged"] == "DV and NWJ"
    assert mf.staircase_facts(stair, [more])["all_seeds"] == 6
    smile = mf.smile_staircase_facts(stair)
    assert "SMILE τ = 5" in smile["within"]  # the default stays within the tolerance
    rep = mf.representation_facts(load_stored(mf.REPRESENTATION_RESULT))
    assert rep["agree"].startswith("all 4 estimators read within 0.1 nats")
    assert rep["top_best"] < rep["top_truth"]  # every read-out is a lower bound there
    peer = mf.peer_facts(load_stored(mf.TORCH_MIST_RESULT))
    assert peer["infonce_diff"] < 0.01
    # what Chapter 4's words around the glued numbers say: torch-mist's SMILE "falls behind"
    # at the top level, and its JS-trained critic's NWJ read-out varies far less than ours
    assert peer["smile_theirs"] < peer["smile_ours"] - 1
    assert peer["js_var_theirs"] < peer["js_var_ours"] / 10
