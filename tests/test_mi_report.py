"""Tests for robustrep_lite.book.mi_report: the benchmark summary against a hand-made record, and
the figures' contents."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robustrep_lite.book.mi_report import (
    bmi_facts,
    bmi_figure,
    bmi_group_errors,
    bmi_run_sentence,
    bmi_summary,
    bmi_summary_markdown,
    bmi_verdict,
    estimator_errors,
    estimator_provenance,
    overfitting_facts,
    overfitting_figure,
    task_group,
    task_means,
    tolerance,
)
from robustrep_lite.mi import correlated_gaussians, estimate_mi

ROOT = Path(__file__).resolve().parents[1]


def _run(value, wall=1.0, stderr=None, cpu=None):
    run = {"value": value, "stderr": stderr, "wall_s": wall}
    return run if cpu is None else {**run, "cpu_s": cpu}


RECORD = {
    "n": 5000,
    "seeds": [0, 1],
    "estimators": ["ours", "bmi-ksg"],
    "tasks": {
        # truth 1.0: tolerance 0.1
        "a": {
            "truth": 1.0,
            "dim_x": 25,
            "dim_y": 25,
            "runs": [
                {"seed": 0, "values": {"ours": _run(0.95, 2.0, 0.02, 1.5), "bmi-ksg": _run(0.5)}},
                {"seed": 1, "values": {"ours": _run(0.97, 4.0, 0.02, 3.0), "bmi-ksg": _run(0.6)}},
            ],
        },
        # truth 0.2: tolerance 0.05
        "b": {
            "truth": 0.2,
            "dim_x": 1,
            "dim_y": 1,
            "runs": [
                {"seed": 0, "values": {"ours": _run(-0.3, 1.0, 0.1, 0.5), "bmi-ksg": _run(0.24)}},
                {"seed": 1, "values": {"ours": _run(None, 1.0, None, 1.0), "bmi-ksg": _run(-0.06)}},
            ],
        },
    },
}


def test_tolerance():
    assert tolerance(1.0) == pytest.approx(0.1) and tolerance(0.2) == 0.05
    with pytest.raises(ValueError, match="truth"):
        tolerance(-1.0)


def test_summary_counts_by_hand():
    rows = {r["estimator"]: r for r in bmi_summary(RECORD)}
    # ours: task a mean 0.96 (met); task b has a missing value (not met, 1 non-finite);
    # -0.3 < -2 * 0.1 counts as below zero
    assert rows["ours"]["met"] == 1 and rows["ours"]["nonfinite"] == 1
    assert rows["ours"]["below_zero"] == 1
    assert rows["ours"]["wall_s_mean"] == pytest.approx(2.0) and rows["ours"]["wall_s_max"] == 4
    assert rows["ours"]["cpu_s_mean"] == pytest.approx(1.5) and rows["ours"]["cpu_s_max"] == 3
    # KSG: a mean 0.55 (not met); b mean 0.09 (|0.09 - 0.2| > 0.05, not met); -0.06 < -0.05
    assert rows["bmi-ksg"]["met"] == 0 and rows["bmi-ksg"]["below_zero"] == 1
    assert math.isnan(rows["bmi-ksg"]["cpu_s_mean"])  # its runs recorded no CPU time
    table = bmi_summary_markdown(RECORD).splitlines()
    assert "wall s per run (mean / max) | CPU s per run (mean / max) |" in table[0]
    assert table[2] == "| ours (default) | 1 of 2 | 1 of 4 | 1 | 2.0 / 4.0 | 1.5 / 3.0 |"
    assert table[3].endswith("| 1.0 / 1.0 | – |")


def test_estimator_errors_by_hand():
    # KSG errors: -0.5, -0.4 (task a), +0.04, -0.26 (task b)
    e = estimator_errors(RECORD, "bmi-ksg")
    assert e["n"] == 5000 and e["runs"] == 4
    assert e["median_abs"] == pytest.approx((0.26 + 0.4) / 2)
    assert e["median_signed"] == pytest.approx((-0.26 - 0.4) / 2) and e["lean"] == "leans low"
    assert e["p90_abs"] == pytest.approx(0.5)  # a sample value: the 4th of 4
    sd_a, sd_b = math.sqrt(0.005), math.sqrt(0.045)  # sample sds of (0.5, 0.6), (0.24, -0.06)
    assert e["median_seed_sd"] == pytest.approx((sd_a + sd_b) / 2)
    # a missing value is an infinite error, never dropped
    assert estimator_errors(RECORD, "ours")["p90_abs"] == math.inf
    assert e["nonfinite"] == 0 and estimator_errors(RECORD, "ours")["nonfinite"] == 1
    with pytest.raises(ValueError, match="name must be one of"):
        estimator_errors(RECORD, "mine")


def test_task_means_and_bad_name():
    means = task_means(RECORD, "bmi-ksg")
    assert means["a"][0] == pytest.approx(0.55) and means["a"][1] == pytest.approx(0.05)
    assert math.isnan(task_means(RECORD, "ours")["b"][0])
    with pytest.raises(ValueError, match="name must be one of"):
        task_means(RECORD, "mine")


def test_bmi_figure_rows_and_order():
    fig = bmi_figure(RECORD)
    assert [t.name for t in fig.data][1:] == ["ours (default)", "bmi KSG"]
    ksg = fig.data[2]
    # tasks sorted by truth: b (0.2) then a (1.0); y is mean - truth
    assert list(fig.layout.xaxis.ticktext) == ["b (0.20)", "a (1.00)"]
    assert ksg.y[0] == pytest.approx(0.09 - 0.2) and ksg.y[1] == pytest.approx(-0.45)


def test_overfitting_figure_needs_traced_curves():
    x, y = correlated_gaussians(1500, 2, 0.5, seed=0)
    plain = estimate_mi(x, y, critic="separable", steps=100, eval_every=25, progress=False)
    for made_from in (overfitting_figure, overfitting_facts):
        with pytest.raises(ValueError, match="trace_heldout"):
            made_from(plain)
    traced = estimate_mi(
        x, y, critic="separable", steps=100, eval_every=25, progress=False, trace_heldout=True
    )
    # tracing the held-out split changes nothing that is selected or reported
    assert traced.estimate == plain.estimate and traced.best_step == plain.best_step
    fig = overfitting_figure(traced, truth=0.29)
    assert len(fig.data) == 3 and len(fig.data[2].y) == len(traced.eval_steps)
    facts = overfitting_facts(traced)
    assert facts["sizes"] == " / ".join(f"{s:,}" for s in traced.sizes)
    assert sum(int(s.replace(",", "")) for s in facts["sizes"].split(" / ")) == 1500
    assert facts["steps"] == 100 and facts["best_step"] == traced.best_step
    assert facts["held_last"] == traced.heldout_curve[-1]
    assert facts["estimate"] == traced.estimate and facts["stderr"] == traced.stderr


def test_stored_benchmark_summary_matches_its_runs():
    """The stored bench/results/mi_bmi.json: its summary block agrees with a recount of its
    runs, every task holds every seed, and no value is NaN (strict JSON: missing is null)."""
    from robustrep_lite.book.mi_report import BMI_RESULT
    from robustrep_lite.core.results import load_stored

    record = load_stored(BMI_RESULT)
    seeds = set(record["seeds"])
    for tid, task in record["tasks"].items():
        assert {r["seed"] for r in task["runs"]} == seeds, tid
    recount = {r["estimator"]: r for r in bmi_summary(record)}
    for name, stored in record["summary"].items():
        for key in ("tasks", "met", "below_zero", "nonfinite"):
            assert recount[name][key] == stored[key], (name, key)
        for key in ("wall_s_mean", "wall_s_max", "cpu_s_mean", "cpu_s_max"):
            expected = math.nan if stored.get(key) is None else stored[key]
            assert recount[name][key] == pytest.approx(expected, nan_ok=True), (name, key)


def test_task_groups_and_group_table():
    assert task_group("asinh-student-identity-5-5-2", 5, 5) == "Student-t"
    assert task_group("1v1-normal-0.75", 1, 1) == "1-2 dims"
    assert task_group("multinormal-dense-5-5-0.5", 5, 5) == "3-5 dims"
    assert task_group("multinormal-dense-50-50-0.5", 50, 50) == "25-50 dims"
    lines = bmi_group_errors(RECORD).splitlines()
    assert lines[0].startswith("| estimator | 1-2 dims (1) | 3-5 dims (0) | 25-50 dims (1)")
    # KSG: task b (1 dim) error 0.09 - 0.2 = -0.11, not met; task a (25 dims) -0.45
    assert lines[3] == "| bmi KSG | -0.11 (0 met) | +nan (0 met) | -0.45 (0 met) | +nan (0 met) |"


PROVENANCE = {
    "time_utc": "2026-11-30 00:36 UTC",
    "git_commit": "f3aed67",
    "device": "cpu (x86_64), 1 thread per run",
    "jobs": 2,
    "benchmark-mi": "0.1.3",
    "torch-mist": "0.2.17",
}


def test_run_sentence_and_facts_by_hand():
    record = {**RECORD, "provenance": PROVENANCE}
    text = bmi_run_sentence(record)
    assert text.startswith("Stored run of bench/mi_bmi.py: 2026-11-30 00:36 UTC, commit f3aed67")
    assert "2 run(s) at a time; 2 tasks × 2 seed(s) = 4 task-seed runs, N = 5,000" in text
    assert "joined" not in text
    merged = {**record, "merged_from": [{}, {}]}
    assert "joined from 2 processes" in bmi_run_sentence(merged)
    facts = bmi_facts(record)
    assert facts == {
        "tasks": 2,
        "n": 5000,
        "jobs": 2,
        "truth_low": 0.2,
        "truth_high": 1.0,
        "seeds": 2,
        "met": 1,
        "verdict": "more tasks than any peer",
        "below": 1,
        "wall": pytest.approx(2.0),
        "wall_max": 4.0,
        "cpu": pytest.approx(1.5),
        "cpu_max": 3.0,
    }
    with pytest.raises(ValueError, match="name must be one of"):
        bmi_facts(record, "mine")
    # runs of different estimators joined: each group of estimators names its own run
    later = {**PROVENANCE, "time_utc": "2026-12-01 10:00 UTC", "git_commit": "abc1234", "jobs": 1}
    joined = {
        **record,
        "provenance": later,
        "estimator_provenance": {"ours": later, "bmi-ksg": PROVENANCE},
        "merged_from": [{}, {}],
    }
    assert estimator_provenance(joined, "bmi-ksg") == PROVENANCE
    assert estimator_provenance(record, "bmi-ksg") == PROVENANCE
    assert bmi_facts(joined)["jobs"] == 1 and bmi_facts(joined, "bmi-ksg")["jobs"] == 2
    assert bmi_run_sentence(joined).startswith(
        "Stored runs of bench/mi_bmi.py, joined from 2 processes: ours at 2026-12-01 10:00 UTC, "
        "commit abc1234, cpu (x86_64), 1 thread per run, 1 run(s) at a time; bmi-ksg at "
        "2026-11-30 00:36 UTC, commit f3aed67, cpu (x86_64), 1 thread per run, 2 run(s) at a "
        "time; 2 tasks × 2 seed(s) = 4 task-seed runs"
    )
    with pytest.raises(ValueError, match="name must be one of"):
        estimator_provenance(joined, "mine")


def _merge(tmp_path: Path, *records: dict) -> tuple[subprocess.CompletedProcess[str], dict]:
    paths = []
    for i, record in enumerate(records):
        paths.append(tmp_path / f"run{i}.json")
        paths[-1].write_text(json.dumps(record))
    out = tmp_path / "merged.json"
    out.unlink(missing_ok=True)  # the previous merge's: --merge never replaces a file unasked
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "mi_bmi.py"), "--merge", *map(str, paths)]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        timeout=300,
        check=False,
    )
    return done, json.loads(out.read_text()) if done.returncode == 0 else {}


def test_merge_joins_runs_of_other_estimators_and_keeps_their_provenance(tmp_path):
    old = {**RECORD, "provenance": PROVENANCE, "wall_s": 100.0}
    later = {**PROVENANCE, "time_utc": "2026-12-01 10:00 UTC", "git_commit": "abc1234", "jobs": 1}
    new = {
        **RECORD,
        "estimators": ["ours"],
        "provenance": later,
        "wall_s": 10.0,
        "tasks": {
            tid: {
                **task,
                "runs": [
                    {"seed": r["seed"], "values": {"ours": _run(0.99, 0.5, 0.01, 0.25)}}
                    for r in task["runs"]
                ],
            }
            for tid, task in RECORD["tasks"].items()
        },
    }
    done, merged = _merge(tmp_path, new, old)
    assert done.returncode == 0, done.stderr[-2000:]
    # ours from the new run (the first file holding it), KSG from the old one
    assert merged["estimators"] == ["ours", "bmi-ksg"]
    for tid, task in merged["tasks"].items():
        assert [r["seed"] for r in task["runs"]] == [0, 1]
        for run, before in zip(task["runs"], RECORD["tasks"][tid]["runs"], strict=True):
            assert run["values"]["ours"]["value"] == 0.99
            assert run["values"]["bmi-ksg"] == before["values"]["bmi-ksg"]
    assert merged["provenance"] == later
    assert merged["estimator_provenance"] == {"ours": later, "bmi-ksg": PROVENANCE}
    assert [(m["file"], m["estimators"], m["dropped"]) for m in merged["merged_from"]] == [
        ("run0.json", ["ours"], []),
        ("run1.json", ["bmi-ksg"], ["ours"]),
    ]
    assert merged["summary"]["ours"]["cpu_s_max"] == 0.25 and merged["wall_s"] == 110.0
    assert merged["summary"]["bmi-ksg"]["cpu_s_mean"] is None  # strict JSON: not recorded
    # merging into a merged record keeps every estimator's own run: a newer ours replaces the
    # one joined before, KSG keeps the provenance of the run that made it
    newest = {**later, "git_commit": "def5678", "time_utc": "2026-12-02 10:00 UTC"}
    again = {**new, "provenance": newest, "wall_s": 5.0}
    (tmp_path / "stored.json").write_text(json.dumps(merged))
    done, twice = _merge(tmp_path, again, json.loads((tmp_path / "stored.json").read_text()))
    assert done.returncode == 0, done.stderr[-2000:]
    assert twice["estimator_provenance"] == {"ours": newest, "bmi-ksg": PROVENANCE}
    parts = [(m["provenance"]["git_commit"], m["estimators"]) for m in twice["merged_from"]]
    assert parts == [("def5678", ["ours"]), (PROVENANCE["git_commit"], ["bmi-ksg"])]
    assert twice["wall_s"] == 105.0  # the new run's 5 s and the KSG run's 100 s
    # runs of other tasks or seeds cannot be joined estimator by estimator
    fewer = {**new, "tasks": {"a": new["tasks"]["a"]}}
    done, _ = _merge(tmp_path, fewer, old)
    assert done.returncode != 0 and "other tasks" in done.stderr


def test_merge_joins_runs_split_over_tasks_of_one_commit(tmp_path):
    empty = {tid: {**task, "runs": []} for tid, task in RECORD["tasks"].items()}
    first = {**RECORD, "provenance": PROVENANCE, "tasks": {**empty, "a": RECORD["tasks"]["a"]}}
    second = {**RECORD, "provenance": PROVENANCE, "tasks": {**empty, "b": RECORD["tasks"]["b"]}}
    done, merged = _merge(tmp_path, first, second)
    assert done.returncode == 0, done.stderr[-2000:]
    assert merged["tasks"] == json.loads(json.dumps(RECORD["tasks"]))
    assert [m["tasks"] for m in merged["merged_from"]] == [["a"], ["b"]]
    assert "estimator_provenance" not in merged
    other = {**second, "provenance": {**PROVENANCE, "git_commit": "abc1234"}}
    done, _ = _merge(tmp_path, first, other)
    assert done.returncode != 0 and "different commits" in done.stderr


def test_verdict_against_the_best_peer():
    assert bmi_verdict(RECORD) == "more tasks than any peer"  # ours 1 task met, KSG none
    assert bmi_verdict(RECORD, "bmi-ksg") == "fewer tasks than ours (default) (1)"
    tied = {**RECORD, "tasks": {"b": RECORD["tasks"]["b"]}}  # neither meets task b
    assert bmi_verdict(tied) == "as many tasks as the best peer (bmi KSG)"
    # a variant of our own fit that meets more tasks is not a peer
    variant = {
        **RECORD,
        "estimators": [*RECORD["estimators"], "ours-zoo"],
        "tasks": {
            tid: {
                **task,
                "runs": [
                    {**r, "values": {**r["values"], "ours-zoo": _run(task["truth"])}}
                    for r in task["runs"]
                ],
            }
            for tid, task in RECORD["tasks"].items()
        },
    }
    assert bmi_verdict(variant) == "more tasks than any peer"
    assert bmi_verdict(variant, "bmi-ksg").startswith("fewer tasks than ours (default)")
