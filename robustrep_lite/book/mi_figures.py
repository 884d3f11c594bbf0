"""Figures and tables of Chapter 4's infinite-data benchmarks of MI estimators: the bounds at the
optimal critic, the staircase (B1: Poole et al. 2019; Song & Ermon 2020), the MINE sweep (B2:
Belghazi et al. 2018, Figure 1), the noisy linear representations (B3) and the comparison with
torch-mist, from the records that ``bench/mi_staircase.py``, ``bench/mi_sweep.py``,
``bench/mi_representation.py`` and ``bench/torch_mist_compare.py`` store, plus the live widget
that estimates the MI of correlated Gaussians.

The paper (Zhu, Zhang & Evans, 2020, Section 4) estimates every mutual information with a
neural critic and the DV bound; this chapter chooses among the bounds. Nothing here computes an
estimate: every function lays out numbers it is handed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from robustrep_lite.book.plots import live_panel, slider_figure
from robustrep_lite.mi import MIEstimate, gaussian_mi

__all__ = [
    "ESTIMATOR_LABELS",
    "REPRESENTATION_RESULT",
    "STAIRCASE_JOINT",
    "STAIRCASE_NWJ_MORE_SEEDS",
    "STAIRCASE_SEPARABLE",
    "STAIRCASE_SHOWN",
    "SWEEP_LONG_RESULT",
    "SWEEP_RESULT",
    "SWEEP_D2_TARGET",
    "SWEEP_TARGETS",
    "TORCH_MIST_RESULT",
    "diverged_names",
    "gaussian_mi_widget",
    "joint_slowdown",
    "label",
    "live_staircase_markdown",
    "optimal_critic_figure",
    "optimal_critic_summary",
    "peer_facts",
    "peer_markdown",
    "per_seed_means",
    "representation_markdown",
    "seed_spread_sentence",
    "staircase_bias_markdown",
    "staircase_facts",
    "staircase_figure",
    "staircase_markdown",
    "staircase_variance_figure",
    "sweep_d20_markdown",
    "sweep_facts",
    "sweep_figure",
    "sweep_targets_markdown",
]

#: Where the bench scripts store their runs (relative to the repository root).
STAIRCASE_SEPARABLE = "bench/results/mi_staircase_separable.json"
STAIRCASE_JOINT = "bench/results/mi_staircase_joint.json"
STAIRCASE_NWJ_MORE_SEEDS = "bench/results/mi_staircase_separable_nwj_seeds3-5.json"
SWEEP_RESULT = "bench/results/mi_sweep.json"
SWEEP_LONG_RESULT = "bench/results/mi_sweep_d20_steps20000.json"
REPRESENTATION_RESULT = "bench/results/mi_representation.json"
TORCH_MIST_RESULT = "bench/results/mi_torch_mist_compare.json"

#: The staircase estimators the figures and the table show (``js_nwj`` is left out).
STAIRCASE_SHOWN = ("dv", "mine", "nwj", "infonce", "smile_1", "smile_5", "smile_inf")
#: How a stored estimator name reads on a page.
ESTIMATOR_LABELS = {
    "dv": "DV",
    "mine": "MINE",
    "nwj": "NWJ",
    "infonce": "InfoNCE",
    "js_nwj": "JS-trained NWJ",
    "smile": "SMILE τ = 5",
    "smile_1": "SMILE τ = 1",
    "smile_5": "SMILE τ = 5",
    "smile_inf": "SMILE τ = ∞",
}
_LEGEND_TOP = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}

Record = dict[str, Any]


def label(name: str) -> str:
    """The page's name of a stored estimator (:data:`ESTIMATOR_LABELS`; unknown names as is)."""
    return ESTIMATOR_LABELS.get(name, name)


# ------------------------------------------------------------------------------------------
# The bounds at the optimal critic
# ------------------------------------------------------------------------------------------
def _batch_sizes_and_names(values: dict[tuple[int, str], list[float]]) -> tuple[list, list]:
    if not values:
        raise ValueError("values must hold at least one (batch size, bound) entry")
    sizes = list(dict.fromkeys(k for k, _ in values))
    names = list(dict.fromkeys(n for _, n in values))
    missing = [(k, n) for k in sizes for n in names if not values.get((k, n))]
    if missing:
        raise ValueError(f"values lacks read-outs for {missing}")
    return sizes, names


def optimal_critic_figure(
    values: dict[tuple[int, str], list[float]], true_mi: float, active: int = 1
) -> go.Figure:
    """Each bound read out on the optimal critic's score matrix: mean ± sd over independent
    batches (``values[(K, bound)]``), one slider position per batch size K, with the true MI
    and InfoNCE's cap ``log K``."""
    sizes, names = _batch_sizes_and_names(values)
    steps = []
    for k in sizes:
        runs = [np.asarray(values[(k, n)], dtype=float) for n in names]
        steps.append(
            (
                str(k),
                [
                    go.Bar(
                        x=names,
                        y=[float(v.mean()) for v in runs],
                        error_y={"array": [float(v.std()) for v in runs]},
                        name="estimate ± sd",
                    ),
                    go.Scatter(
                        x=names,
                        y=[true_mi] * len(names),
                        mode="lines",
                        name="true MI",
                        line={"dash": "dash", "color": "black"},
                    ),
                    go.Scatter(
                        x=names,
                        y=[math.log(k)] * len(names),
                        mode="lines",
                        name="log K (InfoNCE cap)",
                        line={"dash": "dot", "color": "gray"},
                    ),
                ],
            )
        )
    high = max(float(np.mean(v) + np.std(v)) for v in values.values())
    return slider_figure(
        steps,
        slider_label="batch size K",
        active=active,
        layout={
            "title": {
                "text": f"Bounds at the optimal critic, true MI {true_mi:g} nats "
                "(mean ± sd over batches)",
                "y": 0.95,
            },
            "yaxis": {"title": "nats", "range": [0, 1.05 * max(high, true_mi)]},
            "legend": _LEGEND_TOP,
            "margin": {"l": 60, "r": 20, "t": 100, "b": 110},
            "height": 480,
        },
    )


def optimal_critic_summary(values: dict[tuple[int, str], list[float]], k: int) -> str:
    """One line: every bound's mean ± sd at batch size ``k`` over the batches it was read on."""
    sizes, names = _batch_sizes_and_names(values)
    if k not in sizes:
        raise ValueError(f"k must be one of {sizes!r}, got {k!r}")
    cells = ", ".join(
        f"{n} {np.mean(values[(k, n)]):.2f} ± {np.std(values[(k, n)]):.2f}" for n in names
    )
    return f"K = {k}: {cells} nats (mean ± sd over {len(values[(k, names[0])])} batches)"


# ------------------------------------------------------------------------------------------
# The staircase (B1)
# ------------------------------------------------------------------------------------------
def staircase_figure(record: Record, names: Sequence[str] = STAIRCASE_SHOWN) -> go.Figure:
    """The stored per-step estimates of seed 0 (every ``stride``-th step) against the true MI,
    which steps through the record's levels."""
    levels = record["truth_nats"]
    per_level = record["config"]["steps_per_level"]
    stride = record["curves_seed0"]["stride"]
    fig = go.Figure()
    fig.add_scatter(
        x=np.arange(len(levels) * per_level),
        y=np.repeat(levels, per_level),
        name="true MI",
        line={"color": "black", "width": 3},
    )
    for name in names:
        curve = np.array(record["curves_seed0"]["values"][name], dtype=float)
        fig.add_scatter(
            x=np.arange(len(curve)) * stride,
            y=curve,
            name=label(name),
            opacity=0.7,
            line={"width": 1},
        )
    fig.update_layout(
        title={"text": f"Staircase, {record['critic']} critic (stored run, seed 0)", "y": 0.95},
        xaxis={"title": "training step", "range": [0, len(levels) * per_level]},
        yaxis={"title": "estimate [nats]", "range": [-1, max(levels) + 4]},
        legend=_LEGEND_TOP,
        margin={"l": 60, "r": 20, "t": 100, "b": 60},
        height=500,
    )
    return fig


def _level_header(levels: Sequence[float], last_column: str) -> list[str]:
    head = " | ".join(f"MI = {m:g}" for m in levels)
    return [f"| estimator | {head} | {last_column} |", "|---" * (len(levels) + 2) + "|"]


def staircase_markdown(record: Record, names: Sequence[str] = STAIRCASE_SHOWN) -> str:
    """Per estimator and level: our mean of the last ``last`` steps (mean over seeds) and, in
    brackets, the reference reimplementation's; the last column is the variance at the top
    level, ours (reference's)."""
    levels = record["truth_nats"]
    lines = _level_header(levels, f"var at {levels[-1]:g}")
    for name in names:
        ours = record["results"][name]["levels"]
        ref_means, ref_var = record["reference_separable_mean"][name]
        cells = [f"{lv['mean']:.2f} ({r:.2f})" for lv, r in zip(ours, ref_means, strict=True)]
        variance = f"{ours[-1]['var']:.3g} ({ref_var:g})"
        lines.append(f"| {label(name)} | " + " | ".join(cells) + f" | {variance} |")
    last = record["config"]["last"]
    return f"Ours (reference), mean of the last {last} steps per level:\n\n" + "\n".join(lines)


def staircase_bias_markdown(record: Record) -> str:
    """Per estimator and level: our signed bias (mean of the last steps minus the truth) and, in
    brackets, the reference's where it has one; the largest variance over levels; estimators
    that diverged are flagged."""
    lines = _level_header(record["truth_nats"], "largest var")
    for name, result in record["results"].items():
        reference = record["reference_joint_bias"].get(name)
        cells = []
        for i, lv in enumerate(result["levels"]):
            ref = f" ({reference[i]:+.2f})" if reference else ""
            cells.append(f"{lv['bias']:+.2f}{ref}")
        largest = max(lv["var"] for lv in result["levels"])
        flag = " **diverged**" if result["diverged"] else ""
        lines.append(f"| {label(name)}{flag} | " + " | ".join(cells) + f" | {largest:.3g} |")
    return f"Signed bias, ours (reference), {record['critic']} critic:\n\n" + "\n".join(lines)


def per_seed_means(records: Sequence[Record], name: str, level: int = -1) -> list[float]:
    """The per-seed means of the last steps of ``name`` at one level, over several stored runs
    of the same staircase (in the order given; each run's seeds in order)."""
    out: list[float] = []
    for record in records:
        out.extend(float(v) for v in record["results"][name]["levels"][level]["mean_per_seed"])
    return out


def seed_spread_sentence(records: Sequence[Record], name: str = "nwj") -> str:
    """How the top-level mean of ``name`` varies from seed to seed over several stored runs:
    each seed's value, their mean and sample sd, and the reference's mean."""
    values = per_seed_means(records, name)
    seeds = [r["config"].get("first_seed", 0) + i for r in records for i in range(int(r["seeds"]))]
    if len(seeds) != len(values):
        raise ValueError(f"the records hold {len(values)} seed values for {len(seeds)} seeds")
    level = records[0]["truth_nats"][-1]
    reference = records[0]["reference_separable_mean"][name][0][-1]
    return (
        f"{label(name)}, mean of the last {records[0]['config']['last']} steps at "
        f"MI = {level:g}, seeds {min(seeds)}-{max(seeds)}: "
        + ", ".join(f"{v:.2f}" for v in values)
        + f"; mean {np.mean(values):.2f}, sd {np.std(values, ddof=1):.2f} "
        f"(reference: {reference:.2f})."
    )


def staircase_variance_figure(record: Record, names: Sequence[str] = STAIRCASE_SHOWN) -> go.Figure:
    """Variance of the per-step estimate over the last steps of each level (mean over seeds),
    against the true MI, on a log axis."""
    fig = go.Figure()
    levels = record["truth_nats"]
    for name in names:
        fig.add_scatter(
            x=levels,
            y=[lv["var"] for lv in record["results"][name]["levels"]],
            mode="lines+markers",
            name=label(name),
        )
    seeds = record["seeds"]
    fig.update_layout(
        title={
            "text": f"Variance of the per-step estimate (last {record['config']['last']} "
            f"steps, mean of {seeds} seeds)",
            "y": 0.95,
        },
        xaxis={"title": "true MI [nats]", "tickvals": levels},
        yaxis={"title": "variance [nats²]", "type": "log", "dtick": 1, "exponentformat": "power"},
        legend=_LEGEND_TOP,
        margin={"l": 60, "r": 20, "t": 100, "b": 60},
        height=440,
    )
    return fig


def live_staircase_markdown(live: Record) -> str:
    """The short live staircase (:func:`robustrep_lite.experiments.mi_staircase.
    staircase_groups`) as a table: per estimator, the mean of the last steps of each level and
    the seconds its group took."""
    first = next(iter(live["levels"].values()))
    levels = [row["mi"] for row in first]
    lines = _level_header(levels, f"s for {live['steps']} steps")
    for name, rows in live["levels"].items():
        cells = " | ".join(f"{row['mean']:.2f}" for row in rows)
        lines.append(f"| {label(name)} | {cells} | {live['wall_s'][name]:.1f} |")
    return f"Mean of the last {live['last']} steps of each level:\n\n" + "\n".join(lines)


# ------------------------------------------------------------------------------------------
# The MINE sweep (B2)
# ------------------------------------------------------------------------------------------
def sweep_figure(record: Record, active: int = 8) -> go.Figure:
    """Held-out estimates of every estimator beside the truth and KSG, one bar group per
    dimension d, one slider position per correlation ρ; a diverged run has no bar."""
    estimators = record["config"]["estimators"]
    names = ["truth", "KSG (per coord.)", *[label(e) for e in estimators]]
    steps = []
    for rho in sorted({row["rho"] for row in record["rows"]}):
        traces = []
        for row in (r for r in record["rows"] if r["rho"] == rho):
            heights = [
                row["truth"],
                row["ksg"],
                *[None if row[e]["diverged"] else row[e]["estimate"] for e in estimators],
            ]
            traces.append(go.Bar(x=names, y=heights, name=f"d = {row['d']}"))
        steps.append((f"{rho:g}", traces))
    return slider_figure(
        steps,
        slider_label="ρ",
        active=active,
        layout={
            "title": {"text": "B2 sweep: held-out estimates vs the true MI", "y": 0.95},
            "yaxis": {"title": "nats"},
            "barmode": "group",
            "legend": _LEGEND_TOP,
            "margin": {"l": 60, "r": 20, "t": 100, "b": 110},
            "height": 480,
        },
    )


#: The B2 sweep's target in d = 2: the largest absolute bias (nats) for 0 < |ρ| ≤ 0.9.
SWEEP_D2_TARGET = 0.03
_D2_KEY = f"d2_abs_bias_le_{SWEEP_D2_TARGET:g}_for_0<|rho|<=0.9"
#: The targets of the B2 sweep a stored record checks: key, column header, whether the value is
#: a relative error (shown in percent).
SWEEP_TARGETS = (
    (
        _D2_KEY,
        f"d = 2: largest abs. bias, 0 < abs(ρ) ≤ 0.9 (target ≤ {SWEEP_D2_TARGET:g})",
        False,
    ),
    ("d2_abs_estimate_le_0.05_at_rho0", "d = 2: abs. estimate at ρ = 0 (≤ 0.05)", False),
    (
        "d20_rel_error_le_10pct_for_0<|rho|<=0.7",
        "d = 20: largest abs. relative error, 0 < abs(ρ) ≤ 0.7 (≤ 10%)",
        True,
    ),
    ("d20_estimate_at_rho0", "d = 20: estimate at ρ = 0", False),
)


def sweep_targets_markdown(record: Record) -> str:
    """The sweep's targets per estimator (:data:`SWEEP_TARGETS`): the value checked and whether
    it met the target (✓ / ✗; no mark where there is no target). The relative errors per ρ
    are in :func:`sweep_d20_markdown`."""
    head = " | ".join(h for _, h, _ in SWEEP_TARGETS)
    lines = [f"| estimator | {head} |", "|---" * (len(SWEEP_TARGETS) + 1) + "|"]
    for name, targets in record["targets"].items():
        cells = []
        for key, _, relative in SWEEP_TARGETS:
            if key not in targets:
                cells.append("")
                continue
            value, met = targets[key]
            text = f"{value:.1%}" if relative else f"{value:.4f}"
            mark = "" if met is None else (" ✓" if met else " ✗")
            cells.append(text + mark)
        lines.append(f"| {label(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sweep_cell(row: Record, name: str) -> str:
    result = row[name]
    if result["diverged"]:
        return "diverged"
    rel = (result["estimate"] - row["truth"]) / row["truth"] if row["truth"] else 0.0
    return f"{result['estimate']:.2f} ({rel:+.0%}) [{result['pooled']:.2f}]"


def sweep_d20_markdown(
    runs: Sequence[Record], d: int = 20, max_rho: float = 0.7, names: Sequence[str] = ()
) -> str:
    """Several stored sweeps side by side at dimension ``d`` and ``|ρ| <= max_rho``: per ρ and
    run (its step count), the truth and each estimator's held-out estimate (relative error)
    [pooled read-out over the record's ``pooled_n`` fresh pairs]; ``names`` defaults to the
    first run's estimators."""
    names = list(names) or list(runs[0]["config"]["estimators"])
    lines = [
        "| ρ | steps | truth | " + " | ".join(label(n) for n in names) + " |",
        "|---" * (len(names) + 3) + "|",
    ]
    rhos = sorted({row["rho"] for row in runs[0]["rows"] if row["d"] == d})
    for rho in (r for r in rhos if abs(r) <= max_rho):
        for run in runs:
            for row in run["rows"]:
                if row["d"] == d and row["rho"] == rho:
                    entries = [_sweep_cell(row, n) if n in row else "" for n in names]
                    lines.append(
                        f"| {rho:+.1f} | {run['config']['steps']} | {row['truth']:.3f} | "
                        + " | ".join(entries)
                        + " |"
                    )
    pooled = runs[0]["config"]["pooled_n"]
    return (
        f"$d = {d}$: held-out estimate (relative error) [pooled read-out over {pooled:,} "
        "fresh pairs]\n\n" + "\n".join(lines)
    )


def gaussian_mi_widget(
    estimate: Callable[[int, float], MIEstimate], name: str = "SMILE (τ = 5)"
) -> widgets.VBox:
    """A live estimate of the MI of correlated Gaussians: choose ρ and d, press the button,
    and ``estimate(d, rho)`` runs; the answer shows it (± its standard error) beside the true
    MI ``-(d/2) log(1 - ρ²)``. Runs once on creation."""
    rho_slider = widgets.FloatSlider(value=0.5, min=-0.95, max=0.95, step=0.05, description="ρ")
    dim_choice = widgets.Dropdown(options=[2, 20], value=2, description="d")
    run_button = widgets.Button(description="estimate")
    answer = widgets.HTML()

    def run(_: object = None) -> None:
        result = estimate(dim_choice.value, rho_slider.value)
        truth = gaussian_mi(dim_choice.value, rho_slider.value)
        answer.value = (
            f"true MI {truth:.3f} nats; {name} estimate "
            f"{result.estimate:.3f} ± {result.stderr:.3f} nats"
        )

    run_button.on_click(run)
    run()
    return live_panel(rho_slider, dim_choice, run_button, answer)


# ------------------------------------------------------------------------------------------
# B3 and the comparison with torch-mist
# ------------------------------------------------------------------------------------------
def representation_markdown(record: Record) -> str:
    """B3: per noisy linear (or deterministic) representation, the true MI and each estimator's
    held-out estimate ("diverged" where the divergence check stopped it)."""
    names = record["config"]["estimators"]
    lines = [
        "| problem | true MI | " + " | ".join(label(n) for n in names) + " |",
        "|---" * (len(names) + 2) + "|",
    ]
    for row in record["rows"]:
        cells = ["diverged" if row[n]["diverged"] else f"{row[n]['estimate']:.2f}" for n in names]
        lines.append(f"| {row['problem']} | {row['truth']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def peer_markdown(record: Record) -> str:
    """The staircase run through our estimators and torch-mist's on the same data: per
    estimator and library, the mean of the last steps of each level (first seed) and the
    wall time."""
    levels = record["config"]["levels"]
    head = " | ".join(f"MI = {m:g}" for m in levels)
    lines = [
        f"| estimator | library | {head} | wall time |",
        "|---" * (len(levels) + 3) + "|",
    ]
    for name, both in record["results"].items():
        for library, runs in both.items():
            run = runs[0]
            cells = " | ".join(f"{lv['mean']:.2f}" for lv in run["levels"])
            lines.append(f"| {label(name)} | {library} | {cells} | {run['wall_s']:.0f} s |")
    last = record["config"]["last"]
    return f"Mean of the last {last} steps per level:\n\n" + "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Numbers the chapter's prose quotes (glued, never typed)
# ------------------------------------------------------------------------------------------
def _top(record: Record, name: str) -> float:
    return float(record["results"][name]["levels"][-1]["mean"])


def staircase_facts(
    record: Record, more_seeds: Sequence[Record] = (), name: str = "nwj", target: float = 0.25
) -> dict[str, Any]:
    """What the staircase paragraph quotes from the stored separable run (``record``; the runs in
    ``more_seeds`` add seeds of ``name``): the top-level means of MINE and ``name``, their gap to
    the reference and the reference's value, the seed-to-seed sd of ``name`` over all runs and
    the standard error it implies for a mean of ``record``'s seeds, a Markdown verdict on the
    ``target`` (nats) and whether that target is finer than two such standard errors, and
    SMILE's largest absolute bias over levels (τ = 5) and its smallest bias (τ = 1)."""
    values = per_seed_means([record, *more_seeds], name)
    seeds = int(record["seeds"])
    sd = float(np.std(values, ddof=1))
    se = sd / math.sqrt(seeds)
    reference = float(record["reference_separable_mean"][name][0][-1])
    mean = _top(record, name)
    gap = abs(mean - reference)
    met = gap <= target
    verdict = f"{'within' if met else 'outside'} the {target:g}-nat target"
    resolves = (
        "the target is finer than this statistic can resolve"
        if target < 2 * se
        else "the target is coarser than two such standard errors"
    )
    smile_5 = [lv["bias"] for lv in record["results"]["smile_5"]["levels"]]
    smile_1 = [lv["bias"] for lv in record["results"]["smile_1"]["levels"]]
    return {
        "mine_top": _top(record, "mine"),
        "nwj_top": mean,
        "top_level": float(record["truth_nats"][-1]),
        "seeds": seeds,
        "all_seeds": len(values),
        "seed_sd": sd,
        "mean_se": se,
        "reference": reference,
        "gap": gap,
        "verdict": verdict,
        "resolves": resolves,
        "smile5_max_bias": float(max(abs(b) for b in smile_5)),
        "smile1_low_bias": float(smile_1[0]),
    }


def diverged_names(record: Record) -> str:
    """The estimators of a stored staircase run flagged as diverged, as "A, B and C" ("no
    estimator" when none)."""
    return _names([label(n) for n, r in record["results"].items() if r["diverged"]])


def joint_slowdown(joint: Record, separable: Record) -> tuple[float, float]:
    """The smallest and largest ratio, over the estimators both runs hold, of the joint critic's
    mean wall time per seed to the separable critic's."""
    ratios = [
        joint["results"][n]["wall_s_mean"] / separable["results"][n]["wall_s_mean"]
        for n in joint["results"]
        if n in separable["results"]
    ]
    return float(min(ratios)), float(max(ratios))


def _relative_errors(
    record: Record, name: str, d: int = 20, max_rho: float = 0.7
) -> dict[float, float | None]:
    """Per ρ with 0 < |ρ| ≤ max_rho at dimension d: the held-out relative error of ``name``
    (None where the divergence check stopped it)."""
    out: dict[float, float | None] = {}
    for row in record["rows"]:
        if row["d"] == d and 0 < abs(row["rho"]) <= max_rho and name in row:
            result = row[name]
            diverged = result["diverged"]
            out[row["rho"]] = (
                None if diverged else (result["estimate"] - row["truth"]) / row["truth"]
            )
    return out


def _names(labels: Sequence[str]) -> str:
    """``["A", "B", "C"]`` as "A, B and C"; "no estimator" when empty."""
    if not labels:
        return "no estimator"
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def sweep_facts(
    sweep: Record, long: Record, high_rho: float = 0.7, target: float = 0.1
) -> dict[str, Any]:
    """What the sweep paragraph quotes from the stored B2 sweep (``sweep``) and its longer d = 20
    run (``long``): in d = 2, the largest absolute bias (and whose), how many estimators met
    their targets, the largest absolute estimate at ρ = 0; in d = 20, each estimator's range
    of relative errors for 0 < |ρ| ≤ ``high_rho``, the largest gap between training and held-out
    values (MINE and NWJ, relative to the truth), DV's held-out and pooled values at
    |ρ| = ``high_rho``, which estimators diverged there in the long run, the longest run's
    largest absolute relative errors where it did not diverge, and which estimators meet the
    ``target`` (relative) at every ρ, as Markdown; and the two targets themselves
    (``d2_target``: :data:`SWEEP_D2_TARGET`, ``target``)."""
    names = list(sweep["config"]["estimators"])
    d2 = {n: sweep["targets"][n][_D2_KEY] for n in names}
    worst = max(names, key=lambda n: d2[n][0])
    facts: dict[str, Any] = {
        "d2_bias_max": float(d2[worst][0]),
        "d2_bias_worst": label(worst),
        "d2_met": sum(bool(d2[n][1]) for n in names),
        "estimators": len(names),
        "d2_zero_max": max(
            abs(sweep["targets"][n]["d2_abs_estimate_le_0.05_at_rho0"][0]) for n in names
        ),
        "d2_verdict": (
            f"all {len(names)} estimators are"
            if all(d2[n][1] for n in names)
            else f"{sum(bool(d2[n][1]) for n in names)} of {len(names)} estimators are"
        ),
        "steps": int(sweep["config"]["steps"]),
        "long_steps": int(long["config"]["steps"]),
        "d2_target": SWEEP_D2_TARGET,
        "target": target,
    }
    short = {n: _relative_errors(sweep, n, max_rho=high_rho) for n in names}
    lengthy = {n: _relative_errors(long, n, max_rho=high_rho) for n in names}
    for n in names:
        finite = [e for e in short[n].values() if e is not None]
        facts[f"{n}_rel_min"] = float(min(finite))
        facts[f"{n}_rel_max"] = float(max(finite))
        long_finite = {r: e for r, e in lengthy[n].items() if e is not None}
        facts[f"{n}_long_abs_max"] = float(max(abs(e) for e in long_finite.values()))
        facts[f"{n}_long_rhos"] = ", ".join(f"{r:g}" for r in sorted(long_finite))
    high = [r for r in sweep["rows"] if r["d"] == 20 and abs(r["rho"]) == high_rho]
    facts["smile_high_min"] = float(min(short["smile"][r["rho"]] for r in high))
    facts["smile_high_max"] = float(max(short["smile"][r["rho"]] for r in high))
    facts["smile_long_high"] = float(lengthy["smile"][high_rho])
    facts["truth_high"] = float(high[0]["truth"])
    facts["dv_high_min"] = float(min(r["dv"]["estimate"] for r in high))
    facts["dv_high_max"] = float(max(r["dv"]["estimate"] for r in high))
    facts["dv_high_pooled_max"] = float(max(r["dv"]["pooled"] for r in high))
    facts["train_gap"] = float(
        max(
            abs(row[n]["train_last100"] - row[n]["estimate"]) / row["truth"]
            for row in sweep["rows"]
            if row["d"] == 20 and 0 < abs(row["rho"]) <= high_rho
            for n in ("mine", "nwj")
        )
    )
    facts["long_diverged"] = _names(
        [label(n) for n in names if lengthy[n].get(high_rho, 0.0) is None]
    )

    def meeting(errors: dict[str, dict[float, float | None]]) -> str:
        return _names(
            [
                label(n)
                for n in names
                if all(e is not None and abs(e) <= target for e in errors[n].values())
            ]
        )

    facts["met_short"] = meeting(short)
    facts["met_long"] = meeting(lengthy)
    return facts


def peer_facts(record: Record, low_level: float = 6.0) -> dict[str, Any]:
    """What the torch-mist paragraph quotes: the largest absolute difference of the InfoNCE
    level means between the libraries, the same for DV, NWJ and MINE at levels up to
    ``low_level``, torch-mist's version, the number of seeds, whether ours
    was faster for every estimator (Markdown), and the smallest and largest ratio of
    torch-mist's wall time to ours."""
    results = record["results"]
    ours = {n: b["robustrep_lite"][0] for n, b in results.items()}
    theirs = {n: b["torch-mist"][0] for n, b in results.items()}
    diff = max(
        abs(a["mean"] - b["mean"])
        for a, b in zip(ours["infonce"]["levels"], theirs["infonce"]["levels"], strict=True)
    )
    close = ("dv", "nwj", "mine")
    low_diff = max(
        abs(a["mean"] - b["mean"])
        for n in close
        for a, b in zip(ours[n]["levels"], theirs[n]["levels"], strict=True)
        if a["mi"] <= low_level
    )
    ratios = [theirs[n]["wall_s"] / ours[n]["wall_s"] for n in results]
    faster = (
        "ours was faster for every estimator"
        if min(ratios) > 1
        else ("ours was not faster for every estimator")
    )
    return {
        "infonce_diff": float(diff),
        "low_diff": float(low_diff),
        "mist_version": str(record["torch_mist"]),
        "seeds": int(record["config"]["seeds"]),
        "faster": faster,
        "speedup_min": float(min(ratios)),
        "speedup_max": float(max(ratios)),
    }
