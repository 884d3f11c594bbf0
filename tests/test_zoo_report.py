"""robustrep_lite.book.zoo_report: the chapter's generated sentences, checked against hand-made
measurements (every verdict must follow from the numbers it prints)."""

from __future__ import annotations

import numpy as np
import pytest

from robustrep_lite.book.zoo_report import (
    accuracy_markdown,
    bound_check_line,
    bound_violations,
    channel_facts,
    channel_markdown,
    comparison_markdown,
    coverage_line,
    eps_label,
    fooled_markdown,
    logit_bounds_markdown,
    logit_mi_markdown,
    merge_measurements,
    negative_rv_markdown,
    pair_verdicts,
    rows_markdown,
    search_markdown,
    search_table_markdown,
    seed_pairs,
    seed_spread_markdown,
    seed_table_markdown,
    standard_vs_robust,
    validation_change_markdown,
    validation_lower_counts,
    verdict_counts,
)
from robustrep_lite.experiments.settings import ZooModel


def _v(normal, worst_refit, worst_paper, se=0.05, acc=0.2):
    return {
        "normal_mi": normal,
        "worst_mi_refit": worst_refit,
        "worst_mi_paper": worst_paper,
        "worst_stderr_refit": se,
        "rv_refit": normal - worst_refit,
        "rv_stderr_refit": se,
        "rv_paper": normal - worst_paper,
        "bound_refit": 0.5,
        "pgd7_accuracy": acc,
    }


def test_standard_vs_robust_pairs_each_architecture():
    zoo = {
        ZooModel("cifar10", "a", 0.0): {"rv": 1.0},
        ZooModel("cifar10", "a", 2 / 255): {"rv": 0.7},
        ZooModel("cifar10", "a", 8 / 255): {"rv": 0.5},
        ZooModel("cifar10", "b", 0.0): {"rv": 0.9},  # no robust partner: left out
        ZooModel("mnist", "a", 0.3): {"rv": 0.1},  # no standard partner: left out
    }
    pairs = standard_vs_robust(zoo)
    assert list(pairs) == [("cifar10", "a")]
    assert pairs["cifar10", "a"]["standard"]["rv"] == 1.0
    assert pairs["cifar10", "a"]["robust"]["rv"] == 0.5  # the largest training radius


def test_comparison_verdicts_follow_the_numbers():
    clear = {"standard": _v(1.0, 0.1, 0.0), "robust": _v(1.2, 0.9, 0.6)}
    close = {"standard": _v(1.0, 0.5, 0.0), "robust": _v(1.0, 0.55, 0.6)}
    text = comparison_markdown({("cifar10", "a"): clear, ("cifar10", "b"): close})
    first, second = text.splitlines()
    # a: worst 0.1 -> 0.9 (gap 0.8 > 2 x 0.07); RV 0.9 -> 0.3
    assert "keeps more information under attack: **yes**" in first
    assert "smaller refit RV (beyond 2 s.e. = 0.14): **yes**" in first
    # b: worst 0.5 -> 0.55 and RV 0.5 -> 0.45, both within two standard errors
    assert "under attack: **no**" in second and "**no**." in second
    assert "(no data set" in comparison_markdown({})
    # a negative refit RV (worst case above the clean MI) makes the RVs incomparable
    failed = {"standard": _v(1.0, 1.3, 0.0), "robust": _v(1.0, 1.9, 0.0)}
    assert pair_verdicts(failed) == {"keeps": None, "smaller_rv": None}
    line = comparison_markdown({("mnist", "a"): failed})
    assert "under attack: **not comparable**" in line and "refit RV **not comparable**" in line


def test_negative_rv_names_only_models_beyond_two_standard_errors():
    m1, m2 = ZooModel("mnist", "a", 0.0), ZooModel("mnist", "a", 0.3)
    text = negative_rv_markdown({m1: _v(1.0, 1.5, 0.0, se=0.1), m2: _v(1.0, 1.1, 0.0, se=0.1)})
    assert "a (standard)" in text and "adv" not in text and "-0.50" in text
    assert negative_rv_markdown({m2: _v(1.0, 1.1, 0.0, se=0.1)}).startswith("no model")


def _row(model, search, worst, seed=0, rv=0.5, se=0.1):
    return {
        "dataset": "cifar10",
        "model": model,
        "search": search,
        "estimator_seed": seed,
        "worst_mi_refit": worst,
        "rv_refit": rv,
        "rv_paper": rv + 0.1,
        "rv_stderr_refit": se,
    }


def test_search_summary_finds_the_strongest_search():
    rows = [
        _row("m", "pointwise", 0.5),
        _row("m", "universal", 0.7),
        _row("m", "both", 0.2),
        _row("n", "pointwise", 0.1),
        _row("n", "universal", 0.3),
        _row("n", "both", 0.15),
    ]
    text = search_markdown(rows)
    assert "cifar10/m: strongest `both` (0.20 nats, 0.30 below `pointwise`)" in text
    assert "- cifar10/n: strongest `pointwise` (0.10 nats)\n" in text  # no gap to itself
    assert "`both` on 1, `pointwise` on 1 of 2" in text


def test_seed_spread_is_the_sample_sd_over_seeds():
    rows = [_row("m", "pointwise", 0.5, seed=s, rv=v, se=0.05) for s, v in enumerate([0.4, 0.6])]
    rows += [_row("n", "pointwise", 0.5, seed=s, rv=0.3, se=0.1) for s in range(2)]
    text = seed_spread_markdown(rows)
    sd = pytest.approx(0.1414, abs=1e-4)
    assert f"{0.0:.2f} to {float(sd.expected):.2f} nats" in text
    assert "Over 2 estimator seeds" in text and "error of 0.05 to 0.10" in text


def test_channel_summary_and_verdicts():
    std, rob = ZooModel("cifar10", "baseline_h", 0.0), ZooModel("cifar10", "baseline_h", 8 / 255)
    per = {
        std: {
            "channel": np.arange(2),
            "normal_mi": np.array([0.4, 0.6]),
            "worst_mi": np.array([0.0, 0.0]),
            "rv": np.array([0.4, 0.6]),
        },
        rob: {
            "channel": np.arange(2),
            "normal_mi": np.array([1.0, 1.0]),
            "worst_mi": np.array([0.5, 0.5]),
            "rv": np.array([0.5, 0.5]),
        },
    }
    text = channel_markdown(per)
    assert "mean MI 0.500 nats, mean worst-case MI 0.000 (kept under attack: 0%)" in text
    per[std]["worst_mi"] = np.array([-0.002, 0.0])  # a slightly negative estimate keeps 0%, not -0%
    assert "(kept under attack: 0%)" in channel_markdown(per)
    assert "(kept under attack: 50%), mean RV 0.500" in text
    assert "more MI: **yes**; robust channels have the smaller mean RV: **no**." in text


def test_rows_table_has_a_line_per_model():
    row = {
        "dataset": "cifar10",
        "model": "m",
        "natural_accuracy": 0.8,
        "pgd7_accuracy": 0.4,
        "strong_accuracy": 0.35,
        "normal_mi": 1.0,
        "worst_mi_refit": 0.6,
        "rv_refit": 0.4,
        "rv_stderr_refit": 0.05,
        "bound_refit": 0.56,
    }
    table = rows_markdown([row, {**row, "model": "n"}])
    assert table.count("\n") == 3 and "| cifar10 | m | 80.0% | 40.0% | 35.0% | 1.00 | 0.60" in table


def test_coverage_line_names_the_models_a_gpu_run_did_not_reach():
    rows = [{"dataset": "cifar10", "model": "a"}, {"dataset": "cifar10", "model": "b"}]
    planned = ["cifar10/a", "cifar10/b", "cifar10/c", "cifar10/d"]
    assert coverage_line({"rows": rows, "models_planned": planned[:2]}) == (
        "All 2 models of the run's zoo were evaluated."
    )
    partial = {"rows": rows[:1], "models_planned": planned, "skipped": ["cifar10/d"]}
    assert coverage_line(partial) == (
        "1 of 4 models of the run's zoo were evaluated; not evaluated as the run's time ran "
        "out: cifar10/d; the run stopped before evaluating: cifar10/b, cifar10/c."
    )
    assert coverage_line({"rows": rows}) == "2 models evaluated."  # a record from before


def test_validation_change_pairs_rows_by_model():
    def row(model, normal, search="pointwise"):
        return {
            "dataset": "cifar10",
            "model": model,
            "search": search,
            "normal_mi": normal,
            "worst_mi_refit": 0.5,
            "rv_refit": normal - 0.5,
            "rv_paper": normal,
        }

    old = [row("m", 2.0), row("m", 9.0, "universal"), row("gone", 1.0)]
    new = [row("m", 1.5), row("m", 1.7), row("new", 1.0)]  # the first seed's row counts
    table = validation_change_markdown(new, old)
    assert (
        table.splitlines()[2]
        == "| cifar10 | m | 2.00 → 1.50 | 0.50 → 0.50 | 1.50 → 1.00 | 2.00 → 1.50 |"
    )
    assert table.count("\n") == 2  # models measured only once are left out


# ----------------------------------------------------------------------------------------------
# the chapter's tables and checks, built from measured records
# ----------------------------------------------------------------------------------------------
STD, ROB = ZooModel("cifar10", "baseline_h", 0.0), ZooModel("cifar10", "baseline_h", 8 / 255)


def _acc(natural, pgd7, strong, eps=8 / 255):
    return {
        "eps": eps,
        "natural_accuracy": natural,
        "pgd7_accuracy": pgd7,
        "strong_accuracy": strong,
        "accuracy_gap": natural - pgd7,
    }


def _vul(normal, worst_paper, worst_refit, bound_paper, bound_refit, eps=8 / 255):
    return {
        "eps": eps,
        "normal_mi": normal,
        "normal_stderr": 0.05,
        "worst_mi_paper": worst_paper,
        "worst_mi_refit": worst_refit,
        "rv_paper": normal - worst_paper,
        "rv_stderr_paper": 0.06,
        "rv_refit": normal - worst_refit,
        "rv_stderr_refit": 0.07,
        "bound_paper": bound_paper,
        "bound_refit": bound_refit,
    }


def _measured():
    acc = {(STD, 8 / 255): _acc(0.8, 0.4, 0.35), (ROB, 8 / 255): _acc(0.6, 0.45, 0.4)}
    vul = {STD: _vul(1.5, 0.01, 0.9, 0.301, 0.69), ROB: _vul(1.4, 0.8, 1.0, 0.65, 0.73)}
    return acc, vul, merge_measurements(vul, acc)


def test_eps_label_and_the_accuracy_table():
    assert eps_label("cifar10", 8 / 255) == "8/255" and eps_label("mnist", 0.3) == "0.3"
    acc, _, _ = _measured()
    table = accuracy_markdown(acc).splitlines()
    assert len(table) == 4 and table[0].count("|") == 7  # 6 columns
    assert table[2] == "| cifar10 | baseline_h (standard) | 8/255 | 80.0% | 40.0% | 35.0% |"


def test_logit_tables_split_mi_from_bounds_in_at_most_seven_columns():
    acc, vul, measured = _measured()
    assert measured[STD]["pgd7_accuracy"] == 0.4 and measured[STD]["rv_refit"] == 0.6
    mi_table = logit_mi_markdown(measured).splitlines()
    bound_table = logit_bounds_markdown(measured).splitlines()
    assert mi_table[0].count("|") == 8 and bound_table[0].count("|") == 7
    assert mi_table[2] == (
        "| cifar10 | baseline_h (standard) | 1.50 ± 0.05 | 0.01 | 0.90 | 1.49 ± 0.06 "
        "| 0.60 ± 0.07 |"
    )
    assert bound_table[3] == "| cifar10 | baseline_h (adv eps=8/255) | 65% | 73% | 45.0% | 40.0% |"


def test_bound_check_names_each_bound_below_the_strongest_attacks_accuracy():
    _, _, measured = _measured()
    # standard: paper bound 30.1% < APGD 35.0% (below PGD-7's 40.0%); refit 69% holds;
    # robust: both hold
    assert bound_violations(measured) == [
        "cifar10/baseline_h (standard) (paper: bound 30.1% < APGD 35.0%)"
    ]
    assert bound_check_line(measured).endswith("(paper: bound 30.1% < APGD 35.0%)")
    measured[STD]["strong_accuracy"] = 0.5  # PGD-7 is now the stronger attack
    assert bound_check_line(measured).endswith("(paper: bound 30.1% < PGD-7 40.0%)")
    measured[STD]["bound_paper"] = 0.4  # equal is allowed: the bound is not strict
    assert bound_check_line(measured) == "bound below the strongest attack's accuracy: none"


def test_fooled_and_verdict_counts():
    _, _, measured = _measured()
    assert fooled_markdown(measured) == "cifar10/baseline_h (standard)"
    assert fooled_markdown(measured, below=0.001) == "no model"
    clear = {"standard": _v(1.0, 0.1, 0.0), "robust": _v(1.2, 0.9, 0.6)}
    close = {"standard": _v(1.0, 0.5, 0.0), "robust": _v(1.0, 0.55, 0.6)}
    failed = {"standard": _v(1.0, 1.3, 0.0), "robust": _v(1.0, 1.9, 0.0)}
    counts = verdict_counts({("c", "a"): clear, ("c", "b"): close, ("m", "a"): failed})
    # the failed pair votes on neither verdict
    assert counts == {"pairs": 3, "keeps": 1, "comparable": 2, "smaller": 1}


def _seed_record(rows):
    """A stored several-seed run: its rows and the models they name (arch, radius from label)."""
    models = []
    for row in rows:
        arch, _, kind = row["model"].partition(" (")
        eps = 0.0 if kind.startswith("standard") else int(kind.split("=")[1].split("/")[0]) / 255
        spec = {"dataset": row["dataset"], "arch": arch, "train_eps": eps}
        if spec not in models:
            models.append(spec)
    return {"settings": {"models": models}, "rows": rows}


def _seed_rows(model, worst, rv, normal=1.0):
    return [
        {
            "dataset": "cifar10",
            "model": model,
            "normal_mi": normal,
            "worst_mi_refit": w,
            "rv_refit": r,
        }
        for w, r in zip(worst, rv, strict=True)
    ]


def test_seed_pairs_judge_a_pair_by_the_spread_over_seeds():
    # worst case 0.2 +- 0.1 (sd) vs 0.9 +- 0.1 over 4 seeds: se of each mean 0.05
    rows = _seed_rows("a (standard)", [0.1, 0.3, 0.1, 0.3], [0.9, 0.7, 0.9, 0.7])
    rows += _seed_rows("a (adv eps=8/255)", [0.8, 1.0, 0.8, 1.0], [0.2, 0.0, 0.2, 0.0])
    # a close pair: robust 0.05 higher with a seed sd of about 0.55 (se about 0.27)
    rows += _seed_rows("b (standard)", [0.0, 1.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5])
    rows += _seed_rows("b (adv eps=8/255)", [0.1, 1.0, 0.1, 1.0], [0.5, 0.5, 0.5, 0.5])
    rows += _seed_rows("c (standard)", [0.5, 0.6], [0.5, 0.4])  # no robust partner
    pairs = seed_pairs(_seed_record(rows))
    assert set(pairs) == {("cifar10", "a"), ("cifar10", "b")}
    a = pairs["cifar10", "a"]
    assert a["standard"]["worst_mi_refit"] == pytest.approx(0.2)
    assert a["standard"]["worst_stderr_refit"] == pytest.approx(np.std([0.1, 0.3] * 2, ddof=1) / 2)
    assert a["robust"]["seeds"] == 4 and a["robust"]["rv_refit"] == pytest.approx(0.1)
    assert pair_verdicts(a) == {"keeps": True, "smaller_rv": True}
    assert pair_verdicts(pairs["cifar10", "b"]) == {"keeps": False, "smaller_rv": False}
    with pytest.raises(ValueError, match="two estimator seeds"):
        seed_pairs(_seed_record(_seed_rows("a (standard)", [0.1], [0.9])))
    # with two robust radii the pair takes the larger one, as standard_vs_robust does
    small = _seed_rows("a (adv eps=2/255)", [5.0, 5.2], [0.0, 0.0])
    both = seed_pairs(_seed_record(rows + small))
    assert both["cifar10", "a"]["robust"]["worst_mi_refit"] == pytest.approx(0.9)


def test_search_table_has_one_row_per_model_and_names_the_strongest():
    rows = []
    for search, worst in (("pointwise", 0.5), ("universal", 0.7), ("both", 0.2)):
        row = _row("m", search, worst)
        row.update(normal_mi=1.5 if search == "pointwise" else 9.0, worst_mi_paper=0.01)
        row["bound_refit"] = {"pointwise": 0.52, "universal": 0.6, "both": 0.39}[search]
        rows.append(row)
    table = search_table_markdown(rows).splitlines()
    assert len(table) == 3 and table[0].count("|") == 7
    assert "pointwise / universal / both" in table[0]
    assert table[2] == (
        "| cifar10 | m | 1.50 | 0.50 / 0.70 / 0.20 | both (bound 39%) | 0.01 / 0.01 / 0.01 |"
    )


def test_seed_table_reports_mean_sd_and_bound_ranges():
    rows = [_row("m", "pointwise", 0.5, seed=s, rv=v) for s, v in enumerate([0.4, 0.6])]
    for r, b in zip(rows, (0.3, 0.5), strict=True):
        r.update(normal_mi=1.0, bound_paper=0.3, bound_refit=b)
    record = {"rows": rows, "provenance": {"git_commit": "abc1234"}}
    text = seed_table_markdown(record)
    assert text.startswith("Mean ± standard deviation") and "commit abc1234:" in text
    table = text.split("\n\n")[1].splitlines()
    assert table[0].count("|") == 8  # 7 columns
    assert (
        table[2]
        == "| cifar10 | m | 2 | 1.00 ± 0.00 | 0.60 ± 0.14 | 0.50 ± 0.14 | 30%-30% / 30%-50% |"
    )


def test_validation_lower_counts_compare_the_first_pointwise_rows():
    def row(model, normal, rv, search="pointwise"):
        return {
            "dataset": "c",
            "model": model,
            "search": search,
            "normal_mi": normal,
            "rv_refit": rv,
        }

    old = [row("m", 2.0, 0.5), row("n", 1.0, 0.5), row("gone", 1.0, 1.0)]
    new = [row("m", 1.5, 0.7), row("m", 9.0, 9.0), row("n", 1.2, 0.1), row("n", 0.0, 0.0, "both")]
    assert validation_lower_counts(new, old) == {"normal_mi": 1, "rv_refit": 1, "models": 2}


def test_channel_facts():
    per = {
        STD: {
            "channel": np.arange(3),
            "normal_mi": np.ones(3),
            "worst_mi": np.zeros(3),
            "rv": np.ones(3),
            "held_out_points": np.asarray(40),
        }
    }
    facts = channel_facts(per, 128, 300)
    assert facts["count"] == 3 and facts["total"] == 128 and facts["steps"] == 300
    assert facts["held_out"] == 40
    assert facts["lines"].startswith("- baseline_h (standard): mean MI 1.000 nats")
    with pytest.raises(ValueError, match="per_channel"):
        channel_facts({}, 128, 300)
