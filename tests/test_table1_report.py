"""robustrep_lite.book.table1_report: Chapter 6's tables, figures and glued values, checked
against hand-made Table 1 runs (every verdict must follow from the numbers it prints), and the
load-or-compute of a run (stored paper-scale results, or a live run checkpointed under
``checkpoint_root()``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from encoder_run import train
from table1_records import hand_made_table

from robustrep_lite.book import table1_report as report
from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.core.paper_numbers import PAPER_TABLE1
from robustrep_lite.experiments.settings import PROFILES
from robustrep_lite.experiments.table1 import summarise

REPS = ("standard", "worst_case")
HEADS = ("standard", "standard_es", "robust")


def test_live_profile_runs_cpu_settings_for_the_paper_profile() -> None:
    assert report.live_profile("paper") == "cpu"
    assert report.live_profile("quick") == "quick"
    with pytest.raises(ValueError, match="profile"):
        report.live_profile("huge")


def test_table_markdown_has_one_row_per_entry_with_mean_and_std() -> None:
    text = report.table_markdown(hand_made_table())
    lines = text.splitlines()
    assert lines[0].startswith("| g, h | MLP natural | MLP PGD-7 | MLP APGD | linear natural")
    assert len(lines) == 2 + len(report.ORDER)
    wr = next(line for line in lines if line.startswith("| worst-case MI g, robust h |"))
    # MLP natural over seeds 0.52, 0.53: mean 52.5, sample std 0.7; strong 30.0 and 29.0
    assert wr.split(" | ")[1:4] == ["52.5 ± 0.7", "31.0 ± 0.0", "29.5 ± 0.7"]
    assert wr.split(" | ")[4] == "47.5 ± 0.7"  # the linear head, 0.05 lower


def test_tables_markdown_titles_each_data_set_and_appends_the_papershand_made_table() -> None:
    text = report.tables_markdown({"mnist": hand_made_table("mnist"), "cifar10": hand_made_table()})
    assert "**Ours, MNIST** (2 seed(s), mean ± std, %; ε = 0.03137;" in text
    assert "the APGD column on the first 100 test images" in text
    assert text.index("**Ours, MNIST**") < text.index("**Ours, CIFAR-10**")
    paper = report.paper_markdown().splitlines()
    assert len(paper) == 2 + len(PAPER_TABLE1)
    assert "| worst-case MI g, standard h (E.S.) | 51.59 | 27.53 | 48.55 | 13.52 |" in paper
    assert text.endswith(report.paper_markdown())


def test_claim_state_holds_only_beyond_two_standard_errors_of_the_difference() -> None:
    # 2 seeds each: margin = 2 * sqrt(2.4**2 / 2 + 0.6**2 / 2) = 3.50
    state, margin = report.claim_state(10.1, 8.9, 0.6, 2.4, 2, 2)
    assert state == "within seed spread" and margin == pytest.approx(2 * (2.88 + 0.18) ** 0.5)
    assert report.claim_state(16.1, 4.9, 1.5, 0.3, 2, 2)[0] == "holds"
    assert report.claim_state(4.9, 16.1, 0.3, 1.5, 2, 2)[0] == "reversed"
    assert report.claim_state(0.0, 0.0, 0.0, 0.0, 2, 2) == ("within seed spread", 0.0)
    # the same gap holds with more seeds (a smaller standard error of the mean)
    assert report.claim_state(10.1, 8.9, 0.6, 2.4, 20, 20)[0] == "holds"
    state, margin = report.claim_state(30.0, 10.0, 0.0, 0.0, 1, 2)
    assert state == "one seed" and margin != margin  # NaN: no spread to judge by
    assert set(report.CLAIM_STATES) == {"holds", "within seed spread", "reversed", "one seed"}


def _set_mlp(table: dict, row: tuple[str, str], key: str, values: list[float]) -> dict:
    for r in table["rows"]:
        if (r["representation"], r["head"], r["classifier"]) == (*row, "mlp"):
            r[key] = values[r["seed"]]
    table["summary"] = summarise(table["rows"])
    return table


def test_claims_are_checked_on_the_mlp_means_against_the_seed_spread() -> None:
    checks = report.claim_checks(hand_made_table())
    # PGD-7 is the same for both seeds (no spread); natural accuracy 52.5 ± 0.7 vs 30.5 ± 0.7
    assert [c["state"] for c in checks] == ["holds", "holds", "holds", "reversed"]
    assert [c["holds"] for c in checks] == [True, True, True, False]
    assert checks[0]["ours"] == pytest.approx(14.0) and checks[0]["against"] == pytest.approx(1.0)
    assert checks[2]["margin"] == pytest.approx(2 * 0.5**0.5) and checks[0]["margin"] == 0.0
    assert checks[3]["paper"] == "27.53 > 14.06"
    text = report.claims_report(hand_made_table(), "cifar10").splitlines()
    assert text[0] == "cifar10" and text[4].startswith("  reversed           E.S. raises")
    assert "14.0 ± 0.0 vs 1.0 ± 0.0 (margin 0.0)   [14.06 > 0.22]" in text[1]
    assert "52.5 ± 0.7 vs 30.5 ± 0.7 (margin 1.4)" in text[3]
    assert text[-1] == (
        "  the stronger attack lowers PGD-7 accuracy by 1.0 to 2.0 points on the same images"
    )
    assert report.strong_gaps(hand_made_table(seeds=1)) == pytest.approx([1.0] * 12)
    # E.S. above the standard head by less than the seeds' spread: 15.0 ± 7.1 vs 14.0 ± 0.0
    table = _set_mlp(hand_made_table(), ("worst_case", "standard_es"), "pgd", [0.10, 0.20])
    es = report.claim_checks(table)[3]
    assert es["ours"] > es["against"] and es["state"] == "within seed spread" and not es["holds"]
    assert es["margin"] == pytest.approx(10.0)
    assert "  within seed spread E.S. raises" in report.claims_report(table, "cifar10")
    # one seed: no spread, nothing holds
    one = report.claim_checks(hand_made_table(seeds=1))
    assert {c["state"] for c in one} == {"one seed"} and not any(c["holds"] for c in one)
    assert "(margin n/a)" in report.claims_report(hand_made_table(seeds=1), "x")


def test_table1_glue_states_counts_spans_and_the_cifar_values() -> None:
    values = report.table1_glue({"mnist": hand_made_table("mnist"), "cifar10": hand_made_table()})
    assert values["cifar10_holds"] == values["mnist_holds"] == 3
    assert (values["cifar10_within"], values["cifar10_reversed"]) == (0, 1)
    assert values["claims_count"] == len(report.CLAIMS) == 4
    assert values["cifar10_apgd_drop"] == pytest.approx(2.0)
    # natural: MLP 62.5, linear 57.5 (mean over seeds); PGD-7 equal for both heads
    assert values["cifar10_ws_natural"].data == "57.5-62.5%"
    assert values["mnist_wr_pgd"].data == "31.0%"
    assert values["c10_std_mlp_nat"] == pytest.approx(60.5)
    assert values["table_seeds"] == 2
    # the strong attack takes 1-2 points off every PGD-7 accuracy (spread 0.7 points): the
    # same claims hold
    assert values["cifar10_strong_holds"] == values["mnist_strong_holds"] == 3
    assert (values["cifar10_strong_within"], values["cifar10_strong_reversed"]) == (0, 1)
    assert values["c10_train"].data == "4,000"
    assert (values["c10_epochs"], values["c10_head_epochs"]) == (3, 4)
    # the paper's numbers beside ours, from core.paper_numbers
    assert (values["paper_es_pgd"], values["paper_ws_pgd"]) == (27.53, 14.06)
    assert values["paper_c10_std_mlp_nat"] == 58.77 and values["paper_train"].data == "50,000"
    assert values["paper_epochs"] == 500
    assert "c10_std_mlp_nat" not in report.table1_glue({"mnist": hand_made_table("mnist")})
    within = _set_mlp(hand_made_table(), ("worst_case", "standard_es"), "pgd", [0.10, 0.20])
    counts = report.table1_glue({"cifar10": within})
    assert [counts[f"cifar10_{k}"] for k in ("holds", "within", "reversed")] == [3, 1, 0]
    single = report.table1_glue({"cifar10": hand_made_table(seeds=1)})
    assert [single[f"cifar10_{k}"] for k in ("holds", "within", "reversed")] == [0, 0, 0]


def test_claim_checks_with_the_strong_attack_compare_its_accuracies() -> None:
    # the strong attack breaks the worst-case robust head only
    table = _set_mlp(hand_made_table(), ("worst_case", "robust"), "strong", [0.0, 0.0])
    pgd, strong = report.claim_checks(table), report.claim_checks(table, "strong")
    assert [c["state"] for c in pgd] == ["holds", "holds", "holds", "reversed"]
    assert [c["state"] for c in strong] == ["holds", "reversed", "holds", "reversed"]
    # the strong attack's spread: 1 and 2 points off PGD-7 for seeds 0 and 1
    assert strong[0]["ours_std"] == pytest.approx(0.5**0.5)
    assert strong[1]["ours"] == pytest.approx(0.0) and strong[2]["ours"] == pgd[2]["ours"]
    values = report.table1_glue({"cifar10": table})
    assert (values["cifar10_holds"], values["cifar10_strong_holds"]) == (3, 2)
    assert values["cifar10_strong_reversed"] == 2
    table["settings"]["train_size"]["cifar10"] = None
    assert report.table1_glue({"cifar10": table})["c10_train"].data == "all"


def _critic_table(standard_worst: float, stderr: float = 0.1) -> dict:
    """One seed; standard: I 0.4, I_worst ``standard_worst``; worst-case: I 0.1, I_worst 0.05."""
    table = hand_made_table("mnist", seeds=1)
    for e in table["encoders"]:
        std = e["representation"] == "standard"
        e["mi"], e["worst_mi"] = (0.4, standard_worst) if std else (0.1, 0.05)
        e["mi_stderr"] = e["worst_mi_stderr"] = e["drop_stderr"] = stderr
    return table


def test_critic_readouts_average_seeds_and_combine_their_standard_errors() -> None:
    r = report.critic_readouts(hand_made_table())
    # standard: I 2.0, I_worst 0.5 and 1.5; errors 0.01 and 0.02 per seed, sqrt(2) e / 2 over 2
    assert r["standard"]["mi"] == 2.0 and r["standard"]["worst_mi"] == pytest.approx(1.0)
    assert r["standard"]["drop"] == pytest.approx(1.0)
    assert r["worst_case"]["drop"] == pytest.approx(0.2)
    assert r["standard"]["mi_stderr"] == pytest.approx(0.01 / 2**0.5)
    assert r["worst_case"]["drop_stderr"] == pytest.approx(0.02 / 2**0.5)
    assert (r["standard"]["seeds"], r["standard"]["images"]) == (2, 96)
    old = hand_made_table(seeds=1)  # a record from before the errors were kept
    for e in old["encoders"]:
        del e["mi_stderr"], e["readout_images"]
    r = report.critic_readouts(old)["standard"]
    assert r["mi_stderr"] != r["mi_stderr"] and r["images"] == 0  # NaN, unknown


def test_below_zero_counts_a_negative_read_out_only_beyond_twice_its_error() -> None:
    assert report.below_zero(-8.564, 0.3)
    assert not report.below_zero(-0.03, 0.02)  # within twice its error of zero
    assert report.below_zero(-0.05, 0.02)
    assert not report.below_zero(0.0, 0.5) and not report.below_zero(1.0, float("nan"))
    assert report.below_zero(-0.01, float("nan"))  # no error recorded: any negative value


def test_critic_verdict_follows_the_means_and_errors_it_compares() -> None:
    text = report.critic_verdict({"cifar10": hand_made_table()})
    # worst-case: I 1.0, drop 0.2; standard: I 2.0, drop 1.0 (errors 0.007 and 0.014)
    assert text == (
        "In the run shown, on CIFAR-10, the worst-case representation's critic reads **less** "
        "clean information than the standard one's (1.000 ± 0.007 against 2.000 ± 0.007 "
        "nats); it loses **less** under attack than the standard one (a drop of 0.200 ± 0.014 "
        "against 1.000 ± 0.014 nats)."
    )
    # a second data set starts a sentence of its own
    both = report.critic_verdict({"cifar10": hand_made_table(), "mnist": _critic_table(-0.02)})
    assert both.startswith("In the run shown, on CIFAR-10, ") and ". On MNIST, " in both
    with pytest.raises(ValueError, match="tables"):
        report.critic_verdict({})
    # MNIST-like: the standard representation's I_worst far below zero is not evidence
    text = report.critic_verdict({"mnist": _critic_table(-8.564)})
    assert "I_worst read-out (-8.564 ± 0.100 nats) is below zero by more than twice its" in text
    two = _critic_table(-1.0, stderr=0.01)
    for e in two["encoders"]:
        if e["representation"] != "standard":
            e["worst_mi"] = -0.5
    plural = report.critic_verdict({"mnist": two})
    assert "(-0.500 ± 0.010 nats) are below zero by more than twice their standard" in plural
    assert plural.count("cannot be negative") == 1
    assert "the drops under attack are **not compared**" in text and "loses" not in text
    # the clean read-outs still count: 0.1 vs 0.4, more than 2 sqrt(0.1**2 + 0.1**2) = 0.28 apart
    assert "reads **less** clean information" in text
    # a slightly negative read-out within its error is compared: drop 0.05 vs 0.42
    text = report.critic_verdict({"mnist": _critic_table(-0.02)})
    assert "impossible" not in text and "not compared" not in text
    assert "loses **less** under attack" in text
    # differences within twice the error: neither more nor less
    text = report.critic_verdict({"mnist": _critic_table(0.3, stderr=0.2)})
    assert "reads **no more and no less** (within twice the error) clean information" in text
    assert "loses **no more and no less** (within twice the error) under attack" in text


def test_critic_markdown_averages_over_seeds_and_marks_impossible_read_outs() -> None:
    text = report.critic_markdown({"cifar10": hand_made_table()})
    assert "estimator `smile`" in text and "96 test images per encoder" in text
    # standard: I = 2.0, I_worst 0.5 and 1.5 -> 1.0, drop 1.0
    assert "| cifar10 | standard | 2.000 ± 0.007 | 1.000 ± 0.014 | 1.000 ± 0.014 |" in text
    assert "| cifar10 | worst_case | 1.000 ± 0.007 | 0.800 ± 0.014 | 0.200 ± 0.014 |" in text
    text = report.critic_markdown({"mnist": _critic_table(-8.564)})
    assert "| mnist | standard | 0.400 ± 0.100 | -8.564 ± 0.100 (impossible: < 0) |" in text


def test_critic_glue_states_images_errors_and_the_papers_logit_values() -> None:
    values = report.critic_glue({"mnist": _critic_table(-8.564), "cifar10": hand_made_table()})
    assert values["critic_images"] == 96 and values["critic_se_max"] == pytest.approx(0.1)
    assert values["critic_verdict"].data.startswith("In the run shown, on MNIST, ")
    assert (values["paper_logit_mi_robust"], values["paper_logit_mi_standard"]) == (1.75, 1.25)


def test_expected_normal_max_matches_exact_values_and_a_monte_carlo_estimate() -> None:
    assert report.expected_normal_max(1) == pytest.approx(0.0, abs=1e-9)
    assert report.expected_normal_max(2) == pytest.approx(1 / math.pi**0.5, rel=1e-8)
    assert report.expected_normal_max(3) == pytest.approx(3 / (2 * math.pi**0.5), rel=1e-8)
    draws = np.random.default_rng(0).standard_normal((20_000, 500)).max(axis=1)
    # Monte Carlo standard error: about 0.42 / sqrt(20 000) = 0.003
    assert report.expected_normal_max(500) == pytest.approx(draws.mean(), abs=0.015)
    assert report.expected_normal_max(500) < math.sqrt(2 * math.log(500)) - 0.4
    with pytest.raises(ValueError, match="positive"):
        report.expected_normal_max(0)


def test_es_selection_bias_is_the_expected_maximum_times_one_standard_error() -> None:
    out = report.es_selection_bias(0.3, 10_000, 500)
    assert out["stderr"] == pytest.approx(100 * (0.21 / 10_000) ** 0.5)
    assert out["k"] == pytest.approx(report.expected_normal_max(500))
    assert out["k_asymptotic"] == pytest.approx(math.sqrt(2 * math.log(500)))
    assert out["bias"] == pytest.approx(out["k"] * out["stderr"]) and 1.3 < out["bias"] < 1.5
    assert report.es_selection_bias(0.3, 10_000, 1)["bias"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="fraction"):
        report.es_selection_bias(30.0, 10_000, 500)


def test_pgd_figure_shows_each_data_set_with_the_papers_markers_on_cifar10() -> None:
    fig = report.pgd_figure({"mnist": hand_made_table("mnist"), "cifar10": hand_made_table()})
    assert len(fig.data) == 8 and fig.layout.sliders[0].active == 1
    mnist_bar, mnist_paper, c10_bar, c10_paper = fig.data[0], fig.data[1], fig.data[4], fig.data[5]
    # each row name over two lines, flat, so that six fit side by side
    assert list(mnist_bar.x) == [report.ROW_NAMES[k].replace(", ", ",<br>") for k in report.ORDER]
    assert fig.layout.xaxis.tickangle == 0
    assert list(c10_bar.y)[3] == pytest.approx(14.0)  # worst-case g, standard h, MLP PGD-7
    assert all(y is None for y in mnist_paper.y)
    assert list(c10_paper.y)[:2] == [0.22, 15.08]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["MNIST", "CIFAR-10"]


def _grid_cell(beta: float, pgd: float, rv: float, eps: float = 0.1) -> dict:
    return {
        "beta": beta,
        "eps": eps,
        "eps_fraction": eps / 0.3,
        "pgd": pgd,
        "natural": 0.6,
        "mi": 1.0,
        "worst_mi": 0.5,
        "validated_rv": rv,
        "validated_rv_stderr": 0.03,
    }


def test_grid_markdown_states_each_cell_and_computes_the_verdicts() -> None:
    grid = {
        "cells": [
            _grid_cell(0.0, 0.01, 0.5),
            _grid_cell(1.0, 0.12, 0.2),
            _grid_cell(2.0, 0.15, 0.1),
        ]
    }
    text = report.grid_markdown(grid)
    assert "PGD-7 accuracy 1.0% (β = 0), 12.0% (β = 1), 15.0% (β = 2)" in text
    assert "validated RV 0.50 (β = 0), 0.20 (β = 1), 0.10 (β = 2) nats (± up to 0.03)" in text
    assert "rises with β: **yes**; validated RV falls with β: **yes**." in text
    grid["cells"][2]["validated_rv"] = 0.3
    assert "falls with β: **no**." in report.grid_markdown(grid)


def test_grid_figure_has_one_slider_position_per_training_eps() -> None:
    cells = [_grid_cell(b, 0.1 * b, 0.5 - 0.1 * b, eps) for eps in (0.1, 0.3) for b in (0, 1)]
    grid = {"cells": cells, "settings": {"grid_eps_fractions": [0.1 / 0.3, 1.0]}}
    fig = report.grid_figure(grid)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.1", "0.3"]
    assert len(fig.data) == 10 and fig.layout.xaxis.title.text == "β"
    assert list(fig.layout.xaxis2.tickvals) == [0, 1]  # a tick at each β of the grid
    pgd_at_03 = fig.data[6]
    assert pgd_at_03.name == "PGD-7" and list(pgd_at_03.y) == pytest.approx([0.0, 10.0])
    rv = fig.data[9]
    assert rv.yaxis == "y2" and list(rv.error_y.array) == [0.03, 0.03]


def test_grid_cell_text_and_the_widget_show_a_grid_cell_without_training() -> None:
    cell = {**_grid_cell(1.0, 0.123, 0.2, eps=0.3), "worst_mi": 0.25}
    text = report.grid_cell_text(cell, "from the grid")
    assert text.startswith("β = 1, ε = 0.3 (from the grid): natural 60.0%, PGD-7 12.3%")
    assert "I_worst = 0.250 nats; validated RV 0.200 ± 0.030 nats" in text
    box = report.grid_widget({"cells": [cell]}, PROFILES["quick"].table1)
    beta, eps, button, shown, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert (beta.value, eps.value) == (1.0, 0.3) and button.description == "train"
    assert shown.value == text


def test_value_range_reads_one_value_where_both_ends_agree() -> None:
    assert report.value_range([0.314, 0.52, 0.4], ".2f") == "0.31-0.52"
    assert report.value_range([40.2, 39.9], ".0f") == "40"
    assert report.value_range([12.0, 9.0], ".0f") == "9-12"  # by value, not as text


def _study(smooth_std: list[float], smooth_wc: list[float], share: bool = False) -> dict:
    return {
        "maps": {},
        "seeds": len(smooth_std),
        "smoothness": {"standard": smooth_std, "worst_case": smooth_wc},
        "share": {"standard": [20.0, 24.0], "worst_case": [61.0, 63.0]} if share else {},
        "digit_pixels": 19.4 if share else None,
    }


def test_saliency_glue_and_text_state_ranges_and_the_verdict() -> None:
    studies = {
        "mnist": _study([0.1, 0.2], [0.5, 0.6], share=True),
        "cifar10": _study([0.05, 0.1], [0.3, 0.35]),
    }
    values = report.saliency_glue(studies)
    assert values["smooth_mnist_worst_case"].data == "0.50-0.60"
    assert values["share_worst_case"].data == "61-63" and values["digit_pixels"] == 19.4
    assert values["smoother"].data == "**yes**"
    studies["cifar10"]["smoothness"]["worst_case"] = [0.08, 0.3]  # overlaps the standard maps
    assert report.saliency_glue(studies)["smoother"].data == "**no**"
    empty = {"mnist": {**_study([], []), "smoothness": {}, "seeds": 0}}
    assert report.saliency_glue(empty)["smoother"].data == "n/a (no encoders)"
    lines = report.saliency_text(studies["mnist"], "MNIST").splitlines()
    assert lines[1] == (
        "MNIST, seed 0, worst_case g: smoothness 0.50, 61% of the saliency on the digit "
        "(19% of the pixels)"
    )
    assert len(lines) == 4
    assert "no encoders to draw" in report.saliency_text(empty["mnist"], "MNIST")


def test_saliency_study_reloads_the_encoders_of_each_seed(tmp_path) -> None:
    tiny = {"epochs": 1, "batch_size": 16, "width": 0.125, "critic_units": 8, "pgd_steps": 1}
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    encoders = []
    for rep, beta in (("standard", 0.0), ("worst_case", 1.0)):
        path = tmp_path / f"{rep}.pt"
        run = train(x, beta=beta, eps=0.1, step_size=0.05, checkpoint=path, **tiny)
        encoders.append(
            {"representation": rep, "seed": 0, "checkpoint": str(path), "config": run.config}
        )
    table = {"seeds": 2, "encoders": encoders}  # seed 1 kept no checkpoints
    study = report.saliency_study(table, x[:6], digits=True)
    assert study["seeds"] == 1 and set(study["maps"]) == {"standard", "worst_case"}
    assert study["maps"]["standard"].shape == (6, 28, 28)
    assert all(-1 <= v[0] <= 1 for v in study["smoothness"].values())
    assert all(0 <= v[0] <= 100 for v in study["share"].values())
    assert study["digit_pixels"] == pytest.approx(100 * float((x[:6, 0] > 0.5).float().mean()))
    fig = report.saliency_figure(x[:6], study["maps"], "MNIST", n_show=4)
    assert len(fig.data) == 12 and fig.layout.title.text.startswith("MNIST, seed 0: |∂Î/∂x|")
    # the rows named level, on the left (rotated names are longer than a row is high)
    names = [(a.text, a.xanchor, a.x) for a in fig.layout.annotations]
    assert names == [(t, "right", 0) for t in ("image", "standard g", "worst-case<br>MI g")]
    assert report.saliency_study({"seeds": 1, "encoders": []}, x[:6])["seeds"] == 0


def _step_record() -> dict:
    def row(name: str, dataset: str, ips: float) -> dict:
        return {
            "name": name,
            "dataset": dataset,
            "images_per_second": ips,
            "seconds_per_step": 128 / ips,
            "attack_share_of_flops": 0.88,
            "gflop_per_step": 1000.0,
            "gflop_per_image": 1000.0 / 128,
            "achieved_gflops": 80.0,
        }

    rows = [row("paper", "cifar10", 10.0), row("cpu", "cifar10", 200.0), row("cpu", "mnist", 500.0)]
    return {"runs": [{"device": "cpu (1 thread)", "rows": rows}]}


def test_train_step_glue_and_the_paper_cost_follow_from_the_record() -> None:
    values = report.train_step_glue(_step_record())
    assert values["step_pgd_share"] == pytest.approx(88.0)
    assert values["step_paper_epoch_h"] == pytest.approx(45_000 / 10 / 3600)
    assert values["step_cpu_mnist_epoch_min"] == pytest.approx(2.0)
    text = report.paper_cost_markdown(_step_record())
    # 351 steps per epoch of 45 000 images: 351 TFLOP; at 10-40% of 65 TFLOP/s, 14-54 s
    assert "one epoch: 351 TFLOP" in text and "12.8 s per step" in text
    assert "| T4 (fp16) | 6-26 | 14-54 s | 1.9-7.5 h |" in text
    assert text.count("\n| ") == 3


def test_table1_results_reads_stored_paper_runs_and_checkpoints_live_ones(
    tmp_path, monkeypatch
) -> None:
    calls = []

    def fake_table1(dataset, settings, **kw):
        calls.append((dataset, settings, kw))
        return {"live": True}

    monkeypatch.setattr(report, "table1", fake_table1)
    monkeypatch.setattr("robustrep_lite.core.results.CHECKOUT", tmp_path)
    monkeypatch.setenv("ROBUSTREP_CHECKPOINTS", str(tmp_path / "ckpt"))
    assert report.table1_results("mnist", "paper") == {"live": True}
    dataset, settings, kw = calls[-1]
    assert settings == PROFILES["cpu"].table1
    assert kw["checkpoint_dir"] == tmp_path / "ckpt" / "table1" / "cpu" and not kw["progress"]
    report.table1_results("mnist", "quick", device="cpu")
    assert calls[-1][2]["checkpoint_dir"].name == "quick" and calls[-1][2]["device"] == "cpu"
    assert report.stored_results("cifar10") is None
    stored = tmp_path / report.STORED.format(dataset="cifar10")
    stored.parent.mkdir(parents=True)
    stored.write_text('{"result": {"seeds": 4}}')
    monkeypatch.setattr("robustrep_lite.core.results.CHECKOUT", tmp_path)
    assert report.table1_results("cifar10", "paper") == {"seeds": 4}
    n = len(calls)
    assert report.table1_results("cifar10", "cpu") == {"live": True} and len(calls) == n + 1


def test_run_summary_names_data_set_seeds_and_time() -> None:
    assert report.run_summary(hand_made_table()) == "cifar10: 2 seed(s), 12 s; hand-made"


def test_stored_gpu_run_is_the_device_record_when_there_is_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("robustrep_lite.core.results.CHECKOUT", tmp_path)
    assert report.stored_gpu_run() is None
    stored = tmp_path / report.STORED_GPU
    stored.parent.mkdir(parents=True)
    stored.write_text('{"profile": "gpu", "result": {"seeds": 1}}')
    assert report.stored_gpu_run() == {"profile": "gpu", "result": {"seeds": 1}}


def _gpu_step_record(fast_ips: float = 600.0) -> dict:
    """A bench/train_step.py run on a CUDA GPU (hand-made): 1 TFLOP per step of 128 images,
    a measured peak of 800 TFLOP/s."""

    def row(name: str, autocast: str, ips: float) -> dict:
        tflops = ips / 128  # 1 TFLOP per step
        return {
            "name": name,
            "dataset": "cifar10",
            "autocast": autocast,
            "batch_size": 128,
            "images_per_second": ips,
            "seconds_per_step": 128 / ips,
            "gflop_per_step": 1000.0,
            "gflop_per_image": 1000.0 / 128,
            "achieved_tflops": tflops,
            "share_of_measured_peak": tflops / 800,
            "share_of_datasheet_peak": tflops / 989,
        }

    rows = [row("paper", "none", 100.0), row("fast", "bfloat16", fast_ips)]
    rows.append(row("fast_fp16", "float16", 512.0))
    run = {
        "device": "cuda (NVIDIA H200)",
        "git_commit": "abc1234",
        "repeats": 10,
        "peak_tflops_measured": 800.0,
        "rows": rows,
        "fast_over_paper_ratio": fast_ips / 100.0,
        "fast_fp16_over_paper_ratio": 5.12,
    }
    return {"runs": [run]}


def test_t4_estimate_extrapolates_the_fp16_steps_share_of_peak() -> None:
    t4 = report.t4_estimate(_gpu_step_record())
    # fp16 step: 512 img/s = 4 TFLOP/s = 0.5% of 800; on a T4 0.5% of 65 = 0.325 TFLOP/s
    assert t4["share"] == pytest.approx(0.005)
    assert t4["t4_step_s"] == pytest.approx(1 / 0.325)
    gpu = PROFILES["gpu"].table1
    steps = (50_000 - gpu.val_size) // 128
    assert t4["t4_epoch_s"] == pytest.approx(steps / 0.325)
    assert t4["t4_epochs_in_budget"] == pytest.approx(gpu.encoder_budget_s * 0.325 / steps)
    # the gpu profile runs the fast (bf16) mode: 600 img/s
    assert t4["gpu_epochs_in_budget"] == pytest.approx(gpu.encoder_budget_s * 600 / (steps * 128))
    with pytest.raises(ValueError, match="not a CUDA GPU"):
        report.t4_estimate(_step_record())
    no_fp16 = _gpu_step_record()
    no_fp16["runs"][0]["rows"] = no_fp16["runs"][0]["rows"][:2]
    with pytest.raises(ValueError, match="no fast_fp16 row"):
        report.t4_estimate(no_fp16)


def test_gpu_step_markdown_tabulates_modes_and_checks_the_targets() -> None:
    text = report.gpu_step_markdown(_gpu_step_record())
    assert "| fast | bfloat16 | 128 | 600 | 4.7 | 0.6% | 0.5% |" in text
    assert "| paper | none | 128 | 100 | 0.8 | 0.1% | 0.1% |" in text
    assert "**6.0×** (target ≥ 5×: met)" in text and "(target ≥ 25%: not met)" in text
    assert "commit abc1234" in text and "extrapolation, not a measurement" in text
    assert "ends only after a whole epoch: 19.2 min" in text  # 0.08 epochs in 90 s
    assert "**4.0×** (target ≥ 5×: not met)" in report.gpu_step_markdown(_gpu_step_record(400.0))
    with pytest.raises(ValueError, match="not a CUDA GPU"):
        report.gpu_step_markdown(_step_record())
