"""robustrep_lite.book.spectral_report: Chapter 7's tables and figures, checked against hand-made
rows (every number printed must be the one handed in, every arm must name its layers), and the
stored runs it reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from robustrep_lite.book import spectral_report as sr
from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.experiments.settings import PROFILES
from robustrep_lite.experiments.spectral_regularization import (
    XorField,
    summarise_rows,
    xor_net,
)


def _row(seed: int, arm: str, lam: float, shift: float) -> dict:
    return {
        "seed": seed,
        "arm": arm,
        "lam": lam,
        "test_accuracy": 0.9 - shift,
        "refit_accuracy": 0.95,
        "hsj_mean": 1.0 + shift + 0.1 * seed,
        "ddn_mean": 0.5 + shift,
        "sigma_1": 10.0 - 10 * shift,
        "sigma_2": 20.0,
    }


ROWS = [
    _row(seed, arm, lam, shift)
    for seed in (0, 1)
    for arm, lam, shift in (
        ("none", 0.0, 0.0),
        ("ll-spectral", 0.01, 0.2),
        ("ll-spectral", 0.1, 0.4),
        ("rep-spectral", 0.01, 0.3),
        ("rep-spectral", 0.1, 0.5),
    )
]
SUMMARY = summarise_rows(ROWS)


def _table(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


# ----------------------------------------------------------------------------------------------
# Arms and their layers
# ----------------------------------------------------------------------------------------------
def test_arm_labels_name_the_penalised_layers() -> None:
    assert sr.arm_labels() == {
        "none": "none",
        "ll-spectral": "ll-spectral (W1, W2)",
        "rep-spectral": "rep-spectral (W1)",
    }
    deep = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Linear(3, 2))
    assert sr.penalised_layers("rep-spectral", deep) == ("W1", "W2")
    assert sr.penalised_layers("ll-spectral", deep) == ("W1", "W2", "W3")
    assert sr.penalised_layers("none", deep) == ()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    sr.arm_labels()  # the default model draws no random number
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------------------------
# The XOR toy
# ----------------------------------------------------------------------------------------------
def test_xor_figure_draws_each_arm_with_non_overlapping_titles() -> None:
    axis = np.linspace(-2, 2, 5)
    margin = np.add.outer(axis, axis)
    fields = {
        arm: XorField(axis, margin * (i + 1), np.full((5, 5), 10.0**i))
        for i, arm in enumerate(("none", "ll-spectral", "rep-spectral"))
    }
    fig = sr.xor_figure(fields)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:3] == ["none", "ll-spectral (W1, W2)", "rep-spectral (W1)"]
    assert titles[3:] == [f"volume element, {arm}" for arm in fields]
    assert len(fig.data) == 9  # per arm: boundary, points, volume
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert [float(h.z[0][0]) for h in heatmaps] == pytest.approx([0.0, 1.0, 2.0])  # log10
    assert [bool(h.showscale) for h in heatmaps] == [False, False, True]
    assert list(heatmaps[-1].colorbar.ticktext) == ["0.01", "0.1", "1", "10"]
    # the bottom row's titles sit in the gap below the top row's plots, clear of its ticks
    top = fig.layout.yaxis.domain
    bottom = fig.layout.yaxis4.domain
    assert top[0] - bottom[1] >= 0.15
    for name in ("xaxis", "yaxis", "xaxis6", "yaxis6"):
        axis_layout = fig.layout[name]
        assert list(axis_layout.range) == [-2.0, 2.0] and axis_layout.dtick == 1
    with pytest.raises(ValueError, match="fields"):
        sr.xor_figure({})


def test_xor_markdown_prints_the_measurements() -> None:
    measured = {
        "none": {"sigmas": [4.6, 6.5], "volume": 7.7, "distance": 1.0004},
        "rep-spectral": {"sigmas": [2.4, 10.7], "volume": 2.2, "distance": 0.9996},
    }
    rows = _table(sr.xor_markdown(measured))
    assert rows[0][:3] == ["arm", "σ_max(W1)", "σ_max(W2)"]
    assert rows[1] == ["none", "4.60", "6.50", "7.70", "1.000"]
    assert rows[2] == ["rep-spectral (W1)", "2.40", "10.70", "2.20", "1.000"]


def test_xor_findings_reads_numbers_and_verbs_off_the_measurements() -> None:
    measured = {
        "none": {"sigmas": [4.6, 6.5], "volume": 7.7, "distance": 1.0004},
        "rep-spectral": {"sigmas": [2.4, 10.7], "volume": 2.2, "distance": 0.9996},
        "ll-spectral": {"sigmas": [3.9, 2.0], "volume": 15.4, "distance": 1.01},
    }
    text = sr.xor_findings(measured)
    assert "Rep-spectral lowers σ_max(W₁) from 4.6 to 2.4" in text
    assert "raises the readout's σ_max(W₂) from 6.5 to 10.7" in text
    assert "3.5 times smaller than the unregularised one (7.7 to 2.2)" in text
    assert "2.0 times larger than the unregularised one (15.4)" in text
    assert "moves by at most 0.010" in text and "alone" in text
    measured["rep-spectral"]["distance"] = 1.5
    assert "so the decision moves too" in sr.xor_findings(measured)


# ----------------------------------------------------------------------------------------------
# MNIST
# ----------------------------------------------------------------------------------------------
def test_mnist_markdown_states_layers_and_values() -> None:
    text = sr.mnist_markdown(SUMMARY)
    assert "over 2 seeds" in text
    assert "our ll-spectral penalises W1 and W2" in text.replace("Our", "our")
    assert "W2 only" in text
    rows = _table(text)
    assert rows[0][0] == "arm (layers)" and len(rows) == 6
    none = rows[1]
    assert none[:2] == ["none", "0"]
    # hsj: 1.0 and 1.1 over seeds 0 and 1: mean 1.05, se = sd / sqrt(2) = 0.05
    assert none[4] == "1.050 ± 0.050"
    assert rows[2][:3] == ["ll-spectral (W1, W2)", "0.01", "0.700 ± 0.000"]
    assert rows[4][0] == "rep-spectral (W1)" and rows[4][6] == "7.0 ± 0.0"


def test_paired_markdown_gives_changes_from_none() -> None:
    rows = _table(sr.paired_markdown(ROWS))
    assert rows[0] == ["arm (layers)", "λ", *sr.METRICS.values()]
    assert rows[1][:2] == ["ll-spectral (W1, W2)", "0.01"]
    # the change from none of the same seed: -0.2 accuracy, +0.2 distance, no spread
    assert rows[1][2:] == ["-0.200 ± 0.000", "+0.000 ± 0.000", "+0.200 ± 0.000", "+0.200 ± 0.000"]
    assert rows[4][:3] == ["rep-spectral (W1)", "0.1", "-0.500 ± 0.000"]


def test_lambda_rows_pick_none_and_both_penalties() -> None:
    chosen = sr.lambda_rows(SUMMARY, 0.1)
    assert [(r["arm"], r["lam"]) for r in chosen] == [
        ("none", 0.0),
        ("ll-spectral", 0.1),
        ("rep-spectral", 0.1),
    ]
    with pytest.raises(ValueError, match="lacks"):
        sr.lambda_rows(SUMMARY, 0.5)


def test_lambda_widget_redraws_its_table() -> None:
    box = sr.lambda_widget(SUMMARY, (0.01, 0.1))
    slider, table, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert slider.value == "0.1"  # the second lambda
    # rep-spectral's test accuracy: 0.9 - 0.5 at lambda = 0.1, 0.9 - 0.3 at lambda = 0.01
    assert "<td>rep-spectral (W1)</td><td>0.400 ± 0.000</td>" in table.value
    slider.value = "0.01"
    assert "<td>rep-spectral (W1)</td><td>0.600 ± 0.000</td>" in table.value
    assert "<td>none</td><td>0.900 ± 0.000</td>" in table.value


def test_lambda_figure_switches_between_lambdas() -> None:
    fig = sr.lambda_figure(SUMMARY, (0.01, 0.1))
    per_step = 3 * len(sr.METRICS)
    assert len(fig.data) == 2 * per_step
    shown = [t for t in fig.data if t.visible]
    assert len(shown) == per_step
    first_panel = [t for t in shown if t.xaxis == "x"]
    assert [t.name for t in first_panel] == list(sr.arm_labels().values())
    assert [t.y[0] for t in first_panel] == pytest.approx([0.9, 0.5, 0.4])  # lambda = 0.1
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.01", "0.1"]
    assert fig.layout.yaxis.tickformat == ".0%" and fig.layout.yaxis3.tickformat == ".2f"


def test_stored_mnist_run_is_read_in_its_profile() -> None:
    rows, source = sr.mnist_rows(PROFILES["cpu"])
    assert source.startswith("stored run of bench/spectral_mnist.py")
    assert {row["arm"] for row in rows} == {"none", "ll-spectral", "rep-spectral"}
    assert all(0 <= row["test_accuracy"] <= 1 for row in rows)


def test_digits_markdown_names_the_reference_layers() -> None:
    stored = {
        "rows": [r for r in ROWS if r["lam"] in (0.0, 0.01)],
        "reference": [
            {"arm": "none", "lam": 0.0, "accuracy": 0.968, "ta_distance": 0.561},
            {"arm": "ll-spectral", "lam": 0.01, "accuracy": 0.967, "ta_distance": None},
        ],
    }
    rows = _table(sr.digits_markdown(stored))
    assert rows[1][:5] == ["none", "0", "0.968", "0.900 ± 0.000", "0.561"]
    assert rows[2][0] == "ll-spectral (W1, W2; reference W2)"
    assert rows[2][4] == "-"  # no Tangent Attack distance stored
    assert rows[3][0] == "rep-spectral (W1)" and rows[3][2] == "-"  # no reference row


# ----------------------------------------------------------------------------------------------
# Side by side with worst-case MI
# ----------------------------------------------------------------------------------------------
def _vs_row(arm: str, lam: float, hsj: float) -> dict:
    beta = 1.0 if arm in ("worst-case MI", "both") else 0.0
    return {
        "arm": arm,
        "beta": beta,
        "spectral_lambda": lam if arm in ("rep-spectral", "both") else 0.0,
        "natural": 0.75 - 0.1 * beta,
        "pgd": 0.0,
        "strong": 0.0,
        "strong_size": 500,
        "refit_accuracy": 0.85,
        "hsj_points": 100,
        "hsj_mean": hsj,
        "sigmas": [1.5, 1.0, 0.9],
    }


def test_vs_mi_markdown_prints_one_seed() -> None:
    text = sr.vs_mi_markdown([_vs_row("standard", 0.1, 0.7), _vs_row("both", 0.1, 0.9)], seed=3)
    assert text.startswith("Seed 3;") and "the 500 first test images for APGD" in text
    rows = _table(text)
    assert rows[1] == ["standard", "0", "0", "75.0%", "0.0%", "0.0%", "85.0%", "0.700", "0.90"]
    assert rows[2][:3] == ["both (all 3 layers)", "1", "0.1"]
    assert sr.vs_mi_label("worst-case MI", 3) == "worst-case MI"


def _seed_runs() -> dict[float, dict[int, list[dict]]]:
    arms = ("standard", "rep-spectral", "worst-case MI", "both")
    big = {
        s: [_vs_row(a, 0.1, 0.7 + 0.1 * i + 0.01 * s) for i, a in enumerate(arms)] for s in (0, 1)
    }
    small = {
        s: [r for r in big[s] if r["spectral_lambda"] == 0]
        + [_vs_row(a, 0.01, 0.75 + 0.01 * s) for a in ("rep-spectral", "both")]
        for s in (0, 1)
    }
    return {0.1: big, 0.01: small}


def test_seeds_markdown_and_figure_show_each_arm_once() -> None:
    runs = _seed_runs()
    text = sr.seeds_markdown(runs)
    rows = _table(text)
    labels = [(r[0], r[1]) for r in rows[1:]]
    assert labels == [
        ("standard", "0"),
        ("rep-spectral (all 3 layers)", "0.1"),
        ("worst-case MI", "0"),
        ("both (all 3 layers)", "0.1"),
        ("rep-spectral (all 3 layers)", "0.01"),
        ("both (all 3 layers)", "0.01"),
    ]
    # rep-spectral at 0.1 lies 0.1 above standard on both seeds
    assert rows[2][5] == "0.805 ± 0.005" and rows[2][6] == "+0.100 ± 0.000"
    assert "λ = 0.1: +0.100 ± 0.000" in text  # both - worst-case MI: 1.0 - 0.9
    fig = sr.seeds_figure(runs)
    assert list(fig.data[0].x)[1] == "rep-spectral (λ = 0.1)"
    assert fig.data[0].y[0] == pytest.approx(0.705)
    assert [t.name for t in fig.data[1:]] == ["seed 0", "seed 1"]
    assert fig.data[2].y[2] == pytest.approx(0.91)  # worst-case MI, seed 1


def test_stored_seed_runs_share_the_unpenalised_arms() -> None:
    runs, notes = sr.stored_seed_runs(range(5), profile="cpu")
    assert set(runs) == {0.1, 0.01}
    assert sorted(runs[0.1]) == sorted(runs[0.01]) == [0, 1, 2, 3, 4]
    for seed, rows in runs[0.01].items():
        shared = [r for r in rows if r["spectral_lambda"] == 0]
        assert shared == [r for r in runs[0.1][seed] if r["spectral_lambda"] == 0]
        assert {r["spectral_lambda"] for r in rows} == {0.0, 0.01}
    assert notes.splitlines()[0].startswith("spectral_vs_mi: seeds 0, 1, 2, 3, 4; commit(s) ")


def test_the_xor_net_is_the_chapter_mlp() -> None:
    assert sr.arm_labels(xor_net()) == sr.arm_labels()


def test_facts_of_the_stored_runs_are_what_the_prose_quotes() -> None:
    from robustrep_lite.core.results import load_stored

    rows = load_stored(sr.MNIST_RESULT)["rows"]
    mnist = sr.mnist_facts(rows)
    assert mnist["mn_seeds"] == len({r["seed"] for r in rows}) and mnist["mn_winner3"] in (
        "rep-spectral",
        "ll-spectral",
    )
    assert mnist["mn_refit2_lo"] <= mnist["mn_refit2_hi"] <= 100
    digits = sr.digits_facts(load_stored(sr.DIGITS_RESULT))
    assert digits["dg_ref_rank"] == "rep > ll > none"  # the reference run's own numbers
    assert digits["dg_rank_verdict"] in ("the same order", "a different order")
    runs, _ = sr.stored_seed_runs(range(5), profile="cpu")
    seeds = sr.seed_facts(runs)
    assert seeds["vs_seeds"] == 5 and seeds["vs_std_lo"] <= seeds["vs_std_hi"]
    assert seeds["vs_wc_raised"] == "23 of the 25 (layer, seed)"  # not "every"
    assert seeds["vs_pen_z"] == max(seeds["vs_rep_z"], seeds["vs_both_z"])


def test_xor_facts_read_the_measurements() -> None:
    measured = {
        "none": {"sigmas": [4.6, 6.5], "volume": 7.7, "distance": 1.0004},
        "rep-spectral": {"sigmas": [2.4, 10.7], "volume": 2.2, "distance": 0.9996},
        "ll-spectral": {"sigmas": [3.9, 2.0], "volume": 15.4, "distance": 1.01},
    }
    facts = sr.xor_facts(measured, "cpu")
    assert facts["xor_findings"] == sr.xor_findings(measured)
    assert facts["xor_profile"] == "cpu"
    assert facts["xor_summary"].startswith("rep-spectral's volume element")
    assert "3.5 times smaller" in facts["xor_summary"] and facts["xor_summary"].endswith("grows")


def test_comparison_setup_reads_the_profile_the_comparison_names() -> None:
    setup = sr.comparison_setup("cpu")
    train = PROFILES[PROFILES["cpu"].comparison.profile].table1
    assert setup == {
        "train_images": train.train_size["mnist"] - train.val_size,
        "encoder_epochs": train.encoder_epochs,
        "attack_points": PROFILES["cpu"].comparison.attack_points,
        "hsj_steps": PROFILES["cpu"].comparison.hsj_steps,
    }
    assert setup["train_images"] == 3744  # 4,000 MNIST images less 256 for validation
    with pytest.raises(ValueError, match="profile must be one of"):
        sr.comparison_setup("fast")
    with pytest.raises(ValueError, match="trains on all of mnist"):
        sr.comparison_setup("paper")
