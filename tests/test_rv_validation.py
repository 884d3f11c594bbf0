"""robustrep_lite.book.rv_validation: the Gaussian validation table of Chapter 5, on hand-made
rows and on the stored runs it is built from."""

from __future__ import annotations

import pytest

from robustrep_lite.book.rv_validation import (
    GAUSSIAN_RESULTS,
    oracle_max_error,
    validation_facts,
    validation_markdown,
)
from robustrep_lite.core.results import load_stored


def _row(norm, eps, seed, exact, oracle, within=True):
    return {
        "norm": norm,
        "eps": eps,
        "seed": seed,
        "exact_rv": exact,
        "paper_rv": 0.5,
        "paper_se": 0.01,
        "refit_rv": 0.3,
        "refit_se": 0.02,
        "refit_within": within,
        "oracle_rv": oracle,
        "found_rv": 0.1,
    }


def _run(rows, refit=1, n=20000):
    summary = {v: {"within_target": k} for v, k in (("refit", refit), ("paper", 0), ("oracle", 2))}
    config = {"n": n, "steps": 1500, "estimator": "dv"}
    return {"rows": rows, "summary": summary, "config": config}


def test_table_rows_are_sorted_and_fit_seven_columns():
    runs = {
        "pointwise": _run([_row("inf", 1.0, 1, 0.3, 0.31, False), _row("2", 0.5, 0, 0.2, 0.25)]),
        "universal": _run([_row("inf", 1.0, 0, 0.3, 0.29)], refit=1),
    }
    lines = validation_markdown(runs).splitlines()
    assert lines[0].count("|") == 8  # 7 columns
    assert lines[2] == (
        "| pointwise (0) | 2, 0.5 | 0.2000 | 0.5000 ± 0.0100 | 0.3000 ± 0.0200 ✓ "
        "| 0.2500 | 0.1000 |"
    )
    assert lines[3].startswith("| pointwise (1) | inf, 1 |") and "0.0200 ✗" in lines[3]
    assert lines[4].startswith("| universal (0) | inf, 1 |")
    assert lines[-2] == (
        "- pointwise: within the target (|error| ≤ max(10 % of exact, 0.01 nats)): "
        "refit 1/2, paper 0/2, oracle 2/2"
    )
    assert oracle_max_error(runs) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="runs"):
        oracle_max_error({"pointwise": _run([])})
    facts = validation_facts(runs)
    assert facts["oracle_max_err"] == pytest.approx(0.05)
    assert (facts["n"], facts["steps"], facts["estimator"]) == (20000, 1500, "DV")
    assert (facts["pointwise_met"], facts["pointwise_rows"], facts["pointwise_seeds"]) == (1, 2, 2)
    assert (facts["universal_met"], facts["universal_rows"], facts["universal_seeds"]) == (1, 1, 1)
    with pytest.raises(ValueError, match="'n'"):
        validation_facts({**runs, "other": _run([_row("inf", 1.0, 0, 0.3, 0.29)], n=5)})


def test_stored_runs_cover_both_searches_and_the_grid():
    runs = {s: load_stored(p) for s, p in GAUSSIAN_RESULTS.items()}
    table = validation_markdown(runs)
    for search, run in runs.items():
        assert table.count(f"| {search} (") == len(run["rows"])
    assert 0 <= oracle_max_error(runs) < 0.1
