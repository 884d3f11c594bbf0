"""Tables and figures of MI estimation at finite sample sizes, for Chapter 4: the benchmark of
Czyz et al. (2023) as stored by ``bench/mi_bmi.py``, and the training curves of one critic fit
(:func:`robustrep_lite.mi.estimate_mi` with ``trace_heldout=True``).

The benchmark's target: a task is *met* when the mean estimate over seeds lies within
max(10%, 0.05 nats) of the true MI (:func:`tolerance`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from robustrep_lite.mi import MIEstimate

__all__ = [
    "BMI_BOUNDS_RESULT",
    "BMI_RESULT",
    "BMI_SMALL_RESULT",
    "GROUPS",
    "bmi_facts",
    "bmi_figure",
    "bmi_group_errors",
    "bmi_run_sentence",
    "bmi_summary",
    "bmi_summary_markdown",
    "bmi_verdict",
    "estimator_errors",
    "estimator_provenance",
    "overfitting_figure",
    "task_group",
    "task_means",
    "tolerance",
]

#: Where ``bench/mi_bmi.py`` stores its run (relative to the repository root).
BMI_RESULT = "bench/results/mi_bmi.json"
#: Every bound of Chapter 4 fitted the same way, one seed (``--estimators ours-dv ...``).
BMI_BOUNDS_RESULT = "bench/results/mi_bmi_bounds.json"
#: The same benchmark at N = 1000 (``--n 1000 --estimators ours bmi-ksg bmi-cca``, joined with
#: ``ours-zoo``, the critic of Chapter 5's zoo).
BMI_SMALL_RESULT = "bench/results/mi_bmi_n1000.json"
LABELS = {
    "ours": "ours (default)",
    "ours-zoo": "ours, Chapter 5's zoo critic",
    "bmi-ksg": "bmi KSG",
    "bmi-cca": "bmi CCA",
    "bmi-mine": "bmi MINE",
    "bmi-infonce": "bmi InfoNCE",
    "bmi-nwj": "bmi NWJ",
    "bmi-dv": "bmi DV",
    "mist-smile": "torch-mist SMILE",
    "mist-infonce": "torch-mist InfoNCE",
}


def tolerance(truth: float) -> float:
    """Half-width of the benchmark's target around ``truth`` (nats): max(10%, 0.05)."""
    if not math.isfinite(truth) or truth < 0:
        raise ValueError(f"truth must be a finite MI >= 0, got {truth!r}")
    return max(0.1 * truth, 0.05)


def _values(task: dict[str, Any], name: str) -> np.ndarray:
    return np.array(
        [
            math.nan if r["values"][name]["value"] is None else r["values"][name]["value"]
            for r in task["runs"]
            if name in r["values"]
        ],
        dtype=float,
    )


def task_means(record: dict[str, Any], name: str) -> dict[str, tuple[float, float]]:
    """Per task: (mean, sd over seeds) of estimator ``name``; NaN where a seed gave none."""
    if name not in record["estimators"]:
        raise ValueError(f"name must be one of {record['estimators']!r}, got {name!r}")
    out = {}
    for tid, task in record["tasks"].items():
        v = _values(task, name)
        out[tid] = (float(v.mean()), float(v.std())) if v.size else (math.nan, math.nan)
    return out


def _mean_max(seconds: list[float]) -> tuple[float, float]:
    return (float(np.mean(seconds)), float(np.max(seconds))) if seconds else (math.nan, math.nan)


def bmi_summary(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per estimator of a stored ``bench/mi_bmi.py`` record: tasks run and met, seeds more
    than 2 standard errors below zero (a value below -0.05 where no error is reported),
    non-finite seeds, and mean / largest wall seconds and CPU seconds per run (``cpu_s_*``
    NaN where the runs did not record CPU time), best first."""
    rows = []
    for name in record["estimators"]:
        met = below = nonfinite = 0
        walls: list[float] = []
        cpus: list[float] = []
        tasks = 0
        for task in record["tasks"].values():
            runs = [r["values"][name] for r in task["runs"] if name in r["values"]]
            if not runs:
                continue
            tasks += 1
            v = _values(task, name)
            nonfinite += int((~np.isfinite(v)).sum())
            if np.all(np.isfinite(v)) and abs(v.mean() - task["truth"]) <= tolerance(task["truth"]):
                met += 1
            for run in runs:
                value, se = run["value"], run.get("stderr")
                floor = -2 * se if se is not None and math.isfinite(se) else -0.05
                below += int(value is not None and value < floor)
                walls.append(run["wall_s"])
                if run.get("cpu_s") is not None:
                    cpus.append(run["cpu_s"])
        wall_mean, wall_max = _mean_max(walls)
        cpu_mean, cpu_max = _mean_max(cpus)
        rows.append(
            {
                "estimator": name,
                "label": LABELS.get(name, name),
                "tasks": tasks,
                "met": met,
                "below_zero": below,
                "nonfinite": nonfinite,
                "wall_s_mean": wall_mean,
                "wall_s_max": wall_max,
                "cpu_s_mean": cpu_mean,
                "cpu_s_max": cpu_max,
            }
        )
    return sorted(rows, key=lambda r: -r["met"])


def bmi_summary_markdown(record: dict[str, Any]) -> str:
    """:func:`bmi_summary` as a Markdown table (6 columns; "–" where the runs recorded no CPU
    time)."""
    seeds = len(record["seeds"])
    lines = [
        "| estimator | tasks met | seeds > 2 s.e. below 0 | non-finite "
        "| wall s per run (mean / max) | CPU s per run (mean / max) |",
        "|---|---|---|---|---|---|",
    ]
    for r in bmi_summary(record):
        cpu = (
            f"{r['cpu_s_mean']:.1f} / {r['cpu_s_max']:.1f}"
            if math.isfinite(r["cpu_s_mean"])
            else "–"
        )
        lines.append(
            f"| {r['label']} | {r['met']} of {r['tasks']} | {r['below_zero']} of "
            f"{r['tasks'] * seeds} | {r['nonfinite']} | "
            f"{r['wall_s_mean']:.1f} / {r['wall_s_max']:.1f} | {cpu} |"
        )
    return "\n".join(lines)


def estimator_provenance(record: dict[str, Any], name: str) -> dict[str, Any]:
    """The provenance of the run behind estimator ``name`` of a stored ``bench/mi_bmi.py``
    record: its own where the record joins runs of different estimators
    (``estimator_provenance``, written by ``--merge``), else the record's."""
    if name not in record["estimators"]:
        raise ValueError(f"name must be one of {record['estimators']!r}, got {name!r}")
    return record.get("estimator_provenance", {}).get(name, record["provenance"])


def _run_origin(made: dict[str, Any]) -> str:
    return (
        f"{made['time_utc']}, commit {made['git_commit']}, {made['device']}, "
        f"{made['jobs']} run(s) at a time"
    )


def bmi_run_sentence(record: dict[str, Any]) -> str:
    """Where a stored ``bench/mi_bmi.py`` record comes from, in one sentence: time, commit,
    device, runs at a time (for each group of estimators, where runs of different estimators
    were joined), the processes it was joined from (``--merge``), tasks x seeds, N and the
    peers' package versions."""
    made = record["provenance"]
    seeds = len(record["seeds"])
    runs = sum(len(t["runs"]) for t in record["tasks"].values())
    parts = len(record.get("merged_from") or [record])
    joined = f", joined from {parts} processes" if parts > 1 else ""
    groups: dict[str, list[str]] = {}
    for name in record["estimators"]:
        groups.setdefault(_run_origin(estimator_provenance(record, name)), []).append(name)
    if len(groups) == 1:
        origin = f"Stored run of bench/mi_bmi.py: {_run_origin(made)}{joined}"
    else:
        origin = (
            "Stored runs of bench/mi_bmi.py"
            + joined
            + ": "
            + "; ".join(f"{', '.join(names)} at {where}" for where, names in groups.items())
        )
    return (
        f"{origin}; {len(record['tasks'])} tasks × {seeds} seed(s) = {runs} task-seed runs, "
        f"N = {record['n']:,}, benchmark-mi {made['benchmark-mi']}, "
        f"torch-mist {made['torch-mist']}."
    )


def bmi_verdict(record: dict[str, Any], name: str = "ours") -> str:
    """How estimator ``name`` ranks by tasks met (:func:`bmi_summary`) against its best peer:
    "more tasks than any peer", "as many tasks as the best peer (label)" or "fewer tasks than
    label (count)". Variants of our own fit (``ours-*``, e.g. another bound or the zoo's
    critic) are not peers."""
    summary = {r["estimator"]: r for r in bmi_summary(record)}
    if name not in summary:
        raise ValueError(f"name must be one of {record['estimators']!r}, got {name!r}")
    ours = summary[name]
    peers = [r for key, r in summary.items() if key != name and not key.startswith("ours-")]
    if not peers:
        return "with no peer to compare"
    best = max(peers, key=lambda r: r["met"])
    if ours["met"] > best["met"]:
        return "more tasks than any peer"
    if ours["met"] == best["met"]:
        return f"as many tasks as the best peer ({best['label']})"
    return f"fewer tasks than {best['label']} ({best['met']})"


def bmi_facts(record: dict[str, Any], name: str = "ours") -> dict[str, Any]:
    """The numbers Chapter 4's prose states about a stored benchmark record, by name: tasks
    (``tasks``), samples (``n``), runs at a time (``jobs``), the range of the true MI
    (``truth_low``, ``truth_high``), seeds (``seeds``), and for estimator ``name`` the tasks met
    (``met``), :func:`bmi_verdict` (``verdict``, text), task-seed values below zero
    (``below``), mean / largest wall seconds per run (``wall``, ``wall_max``) and CPU seconds
    per run (``cpu``, ``cpu_max``; NaN where not recorded); ``jobs`` is that of the run behind
    ``name`` (:func:`estimator_provenance`)."""
    summary = {r["estimator"]: r for r in bmi_summary(record)}
    if name not in summary:
        raise ValueError(f"name must be one of {record['estimators']!r}, got {name!r}")
    ours = summary[name]
    truths = [t["truth"] for t in record["tasks"].values()]
    return {
        "tasks": ours["tasks"],
        "n": record["n"],
        "jobs": estimator_provenance(record, name)["jobs"],
        "truth_low": min(truths),
        "truth_high": max(truths),
        "seeds": len(record["seeds"]),
        "met": ours["met"],
        "verdict": bmi_verdict(record, name),
        "below": ours["below_zero"],
        "wall": ours["wall_s_mean"],
        "wall_max": ours["wall_s_max"],
        "cpu": ours["cpu_s_mean"],
        "cpu_max": ours["cpu_s_max"],
    }


def estimator_errors(record: dict[str, Any], name: str = "ours") -> dict[str, Any]:
    """How far one run of estimator ``name`` lands from the truth in a stored benchmark record,
    over every task and seed (nats): ``median_abs`` and ``p90_abs`` (a sample value, never
    interpolated) of ``|estimate - truth|``, ``median_signed`` (negative: it under-reads) and in
    words ``lean`` ("leans low", "leans high" or "leans neither way"), ``median_seed_sd``
    (median over tasks of the standard deviation over seeds), with the record's ``n``, the
    number of ``runs`` and of ``nonfinite`` runs (diverged, or no value).
    This is the error to attach to one estimate made at that sample size; a non-finite run
    counts as an infinite error."""
    if name not in record["estimators"]:
        raise ValueError(f"name must be one of {record['estimators']!r}, got {name!r}")
    errors, sds = [], []
    for task in record["tasks"].values():
        v = _values(task, name)
        if not v.size:
            continue
        errors.extend(np.where(np.isfinite(v), v - task["truth"], math.inf).tolist())
        if v.size > 1 and np.all(np.isfinite(v)):
            sds.append(float(v.std(ddof=1)))
    if not errors:
        raise ValueError(f"the record holds no runs of {name!r}")
    err = np.array(errors)
    signed = float(np.median(err))
    return {
        "n": int(record["n"]),
        "runs": int(err.size),
        "median_abs": float(np.median(np.abs(err))),
        "p90_abs": float(np.quantile(np.abs(err), 0.9, method="inverted_cdf")),
        "median_signed": signed,
        "lean": "leans low" if signed < 0 else "leans high" if signed > 0 else "leans neither way",
        "median_seed_sd": float(np.median(sds)) if sds else math.nan,
        "nonfinite": int(np.isinf(err).sum()),
    }


#: Task groups of :func:`bmi_group_errors`: heavy tails first, then by the larger dimension.
GROUPS = ("1-2 dims", "3-5 dims", "25-50 dims", "Student-t")


def task_group(task_id: str, dim_x: int, dim_y: int) -> str:
    """The group of a benchmark task: ``"Student-t"`` (heavy tails, any transform) or its
    larger dimension's band."""
    if "student" in task_id:
        return "Student-t"
    d = max(dim_x, dim_y)
    return "1-2 dims" if d <= 2 else ("3-5 dims" if d <= 5 else "25-50 dims")


def bmi_group_errors(record: dict[str, Any]) -> str:
    """Markdown table: per estimator and task group (:data:`GROUPS`), the mean over tasks of
    (mean estimate - truth) in nats, and how many of the group's tasks met the target."""
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for tid, task in record["tasks"].items():
        groups[task_group(tid, task["dim_x"], task["dim_y"])].append(tid)
    head = " | ".join(f"{g} ({len(groups[g])})" for g in GROUPS)
    lines = [f"| estimator | {head} |", "|---" * (len(GROUPS) + 1) + "|"]
    for name in record["estimators"]:
        means = task_means(record, name)
        cells = []
        for g in GROUPS:
            errs = [means[t][0] - record["tasks"][t]["truth"] for t in groups[g]]
            met = sum(
                math.isfinite(e) and abs(e) <= tolerance(record["tasks"][t]["truth"])
                for e, t in zip(errs, groups[g], strict=True)
            )
            mean = float(np.mean(errs)) if errs else math.nan
            cells.append(f"{mean:+.2f} ({met} met)")
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bmi_figure(record: dict[str, Any], names: list[str] | None = None) -> go.Figure:
    """Mean estimate minus truth (nats) per task, one marker row per estimator, tasks sorted by
    true MI; the grey band is the target, ±max(10%, 0.05 nats). Error bars: sd over seeds."""
    names = names or list(record["estimators"])
    tasks = sorted(record["tasks"], key=lambda t: (record["tasks"][t]["truth"], t))
    truths = np.array([record["tasks"][t]["truth"] for t in tasks])
    idx = np.arange(len(tasks))
    fig = go.Figure()
    band = np.array([tolerance(t) for t in truths])
    fig.add_scatter(
        x=np.concatenate([idx, idx[::-1]]),
        y=np.concatenate([band, -band[::-1]]),
        fill="toself",
        fillcolor="rgba(120,120,120,0.18)",
        line={"width": 0},
        hoverinfo="skip",
        name="target ±max(10%, 0.05)",
    )
    offsets = np.linspace(-0.3, 0.3, len(names)) if len(names) > 1 else [0.0]
    for off, name in zip(offsets, names, strict=True):
        means = task_means(record, name)
        m = np.array([means[t][0] for t in tasks]) - truths
        sd = np.array([means[t][1] for t in tasks])
        fig.add_scatter(
            x=idx + off,
            y=np.clip(m, -1.0, 1.0),
            error_y={"type": "data", "array": sd, "thickness": 1, "width": 0},
            mode="markers",
            marker={"size": 7, "symbol": "diamond" if name == "ours" else "circle"},
            name=LABELS.get(name, name),
            customdata=np.stack([truths, m + truths], 1),
            text=tasks,
            hovertemplate="%{text}<br>truth %{customdata[0]:.3f}, estimate "
            "%{customdata[1]:.3f}<extra>" + LABELS.get(name, name) + "</extra>",
        )
    fig.update_layout(
        height=600,
        margin={"l": 60, "r": 20, "t": 110, "b": 230},
        title={
            "text": f"Estimate − truth per task, N = {record['n']} "
            f"(mean ± sd over {len(record['seeds'])} seeds)",
            "y": 0.97,
            "yanchor": "top",
        },
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis={
            "tickmode": "array",
            "tickvals": idx,
            "ticktext": [f"{t} ({v:.2f})" for t, v in zip(tasks, truths, strict=True)],
            "tickangle": -60,
            "tickfont": {"size": 9},
        },
        yaxis={
            "title": "estimate − truth (nats, clipped to ±1)",
            "range": [-1.05, 1.05],
            "zeroline": True,
        },
    )
    return fig


def overfitting_facts(result: MIEstimate) -> dict[str, Any]:
    """What the prose says about one traced run (``estimate_mi(..., trace_heldout=True)``), by
    name: ``sizes`` (training / validation / held-out pairs, a string), ``steps`` (the last
    evaluation's step), ``train_last`` and ``held_last`` (the read-outs there on the training
    subset and the held-out split), ``best_step`` (the state kept), ``estimate`` and
    ``stderr`` (the reported held-out value)."""
    if result.eval_steps.size == 0 or result.heldout_curve.size == 0:
        raise ValueError(
            "result must come from estimate_mi(..., trace_heldout=True) with a validation split"
        )
    return {
        "sizes": " / ".join(f"{s:,}" for s in result.sizes),
        "steps": int(result.eval_steps[-1]),
        "train_last": float(result.eval_train_curve[-1]),
        "held_last": float(result.heldout_curve[-1]),
        "best_step": int(result.best_step),
        "estimate": float(result.estimate),
        "stderr": float(result.stderr),
    }


def overfitting_figure(result: MIEstimate, truth: float | None = None) -> go.Figure:
    """The read-out of one critic over training on a fixed training subset, the validation
    split and the held-out split (``estimate_mi(..., trace_heldout=True)``), the state kept
    (dotted line) and, if given, the true MI (dashed)."""
    if result.eval_steps.size == 0 or result.heldout_curve.size == 0:
        raise ValueError(
            "result must come from estimate_mi(..., trace_heldout=True) with a validation split"
        )
    fig = go.Figure()
    for name, curve in (
        ("training subset", result.eval_train_curve),
        ("validation split (selects)", result.val_curve),
        ("held-out split (reports)", result.heldout_curve),
    ):
        fig.add_scatter(x=result.eval_steps, y=curve, mode="lines+markers", name=name)
    fig.add_vline(x=result.best_step, line_dash="dot", annotation_text="state kept")
    if truth is not None:
        fig.add_hline(y=truth, line_dash="dash", annotation_text="true MI")
    finite = np.concatenate([result.eval_train_curve, result.val_curve, result.heldout_curve])
    finite = finite[np.isfinite(finite)]
    low = max(float(finite.min()), -5.0) if finite.size else -1.0
    high = float(finite.max()) if finite.size else 1.0
    fig.update_layout(
        height=420,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        title=f"{result.readout_estimator} read-out of one critic during training (nats)",
        xaxis={"title": "training steps"},
        yaxis={"title": "read-out (nats)", "range": [low - 0.2, high + 0.2]},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig
