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
    "gaussian_mi_widget",
    "joint_slowdown",
    "label",
    "live_staircase_markdown",
    "optimal_critic_facts",
    "optimal_critic_figure",
    "optimal_critic_summary",
    "peer_facts",
    "peer_markdown",
    "per_seed_means",
    "representation_facts",
    "representation_markdown",
    "seed_spread_sentence",
    "smile_staircase_facts",
    "staircase_bias_markdown",
    "staircase_facts",
    "staircase_figure",
    "staircase_markdown",
    "staircase_variance_figure",
    "sweep_d20_markdown",
    "sweep_facts",
    "sweep_figure",
    "sweep_targets_markdown",
    "staircase_flags_markdown",
]

#: Where the bench scripts store their runs (relative to the repository root).
STAIRCASE_SEPARABLE = "bench/results/mi_staircase_separable.json"
#: The staircase with the joint critic.
STAIRCASE_JOINT = "bench/results/mi_staircase_joint.json"
#: Seeds 3 to 5 of the separable critic's NWJ staircase (NWJ's seed spread).
STAIRCASE_NWJ_MORE_SEEDS = "bench/results/mi_staircase_separable_nwj_seeds3-5.json"
#: The MINE paper's correlation sweep (B2).
SWEEP_RESULT = "bench/results/mi_sweep.json"
#: The sweep at d = 20 with four times the steps.
SWEEP_LONG_RESULT = "bench/results/mi_sweep_d20_steps20000.json"
#: B3: estimates of I(X; g(X)) against a finite ground truth.
REPRESENTATION_RESULT = "bench/results/mi_representation.json"
#: The staircase beside the torch-mist library's estimators.
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


def _where(flags: Sequence[bool], places: Sequence[Any], unit: str) -> str:
    """Where a property holds, in words: "at every K", "at no K" or "only at K = 64 and 1024"
    (``unit`` "K"); for a unit other than "K" (e.g. "level") the mixed case is "at 3 of 5
    levels"."""
    if all(flags):
        return f"at every {unit}"
    if not any(flags):
        return f"at no {unit}"
    if unit == "K":
        return "only at K = " + _names([f"{k:g}" for k, f in zip(places, flags, strict=True) if f])
    return f"at {sum(flags)} of {len(flags)} {unit}s"


def optimal_critic_facts(
    values: dict[tuple[int, str], list[float]],
    true_mi: float,
    dv: str = "DV",
    nwj: str = "NWJ",
    infonce: str = "InfoNCE",
    smile: str = "SMILE τ = 5",
) -> dict[str, Any]:
    """What the page says about the bounds read out on the optimal critic (the values of
    :func:`optimal_critic_figure`, the bound names as its keys give them), computed from them:
    the smallest and largest batch size K (``k_small``, ``k_large``); DV's sd at both and
    whether it falls at every larger K (``dv_sd_trend``, Markdown); the range over K of NWJ's
    sd as a multiple of DV's and where it is larger (``nwj_larger``); how far InfoNCE's mean
    lies below its cap log K at the smallest and largest K and where it lies below the truth
    (``infonce_below``); and SMILE's bias (mean minus ``true_mi``) range, where it lies above
    the truth (``smile_above``), the range of its sd as a multiple of DV's and where that sd is
    smaller (``smile_smaller``). The sd is the population sd over batches, as the figure's
    error bars. These are the bounds among which the chapter chooses the estimator of the
    paper's Section 4 (Zhu et al., 2020); SMILE's clip is that of Song & Ermon (2020)."""
    sizes, names = _batch_sizes_and_names(values)
    for name in (dv, nwj, infonce, smile):
        if name not in names:
            raise ValueError(f"values holds no read-outs of {name!r} (it holds {names!r})")
    sizes = sorted(sizes)

    def mean(name: str) -> list[float]:
        return [float(np.mean(values[(k, name)])) for k in sizes]

    def sd(name: str) -> list[float]:
        return [float(np.std(values[(k, name)])) for k in sizes]

    dv_sd = sd(dv)
    nwj_ratio = [a / b for a, b in zip(sd(nwj), dv_sd, strict=True)]
    smile_ratio = [a / b for a, b in zip(sd(smile), dv_sd, strict=True)]
    infonce_gap = [math.log(k) - m for k, m in zip(sizes, mean(infonce), strict=True)]
    smile_bias = [m - true_mi for m in mean(smile)]
    falls = all(b < a for a, b in zip(dv_sd, dv_sd[1:], strict=False))
    return {
        "k_small": sizes[0],
        "k_large": sizes[-1],
        "dv_sd_small": dv_sd[0],
        "dv_sd_large": dv_sd[-1],
        "dv_sd_trend": "falling at every larger K" if falls else "not falling at every larger K",
        "nwj_sd_ratio_min": min(nwj_ratio),
        "nwj_sd_ratio_max": max(nwj_ratio),
        "nwj_larger": _where([r > 1 for r in nwj_ratio], sizes, "K"),
        "infonce_gap_small": infonce_gap[0],
        "infonce_gap_large": infonce_gap[-1],
        "infonce_below": _where([m < true_mi for m in mean(infonce)], sizes, "K"),
        "smile_bias_min": min(smile_bias),
        "smile_bias_max": max(smile_bias),
        "smile_above": _where([b > 0 for b in smile_bias], sizes, "K"),
        "smile_sd_ratio_min": min(smile_ratio),
        "smile_sd_ratio_max": max(smile_ratio),
        "smile_smaller": _where([r < 1 for r in smile_ratio], sizes, "K"),
    }


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


#: The B2 sweep's target in d = 2: the largest absolute bias (nats) for ``0 < |ρ| ≤ 0.9``.
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


def _nats(value: float) -> str:
    """``value`` to three significant digits with its unit: "1 nat", "0.5 nats", "25.7 nats"."""
    text = f"{value:.3g}"
    return f"{text} nat" if text == "1" else f"{text} nats"


def representation_facts(record: Record, name: str = "smile", tol: float = 0.1) -> dict[str, Any]:
    """What the page says about B3 (:func:`representation_markdown`), as Markdown fragments
    computed from the record: on which problems all estimators read within ``tol`` nats of each
    other (``agree``: the binary codes, and the linear representations up to the last level of
    the leading run of agreeing levels), where on the linear ladder they first part and which
    estimator lies furthest from the truth there (``apart``), from which level up ``name`` is
    the closest to the truth (``closest``), and the highest true MI with the highest read-out
    there (``top_truth``, ``top_best``). A diverged read-out counts as a disagreement. These
    are the lower bounds on I(X; g(X)) of the paper's Section 4 (Zhu et al., 2020) on a
    representation whose answer is finite."""
    names = list(record["config"]["estimators"])
    if name not in names:
        raise ValueError(f"name must be one of {names!r}, got {name!r}")

    def estimates(row: Record) -> dict[str, float]:
        return {n: float(row[n]["estimate"]) for n in names if not row[n]["diverged"]}

    def agrees(row: Record) -> bool:
        found = estimates(row)
        return len(found) == len(names) and max(found.values()) - min(found.values()) <= tol

    linear = sorted(
        (r for r in record["rows"] if r["problem"] == "linear"), key=lambda r: r["truth"]
    )
    binary = [r for r in record["rows"] if r["problem"] == "binary"]
    if not linear:
        raise ValueError("the record holds no linear representation")
    leading = 0
    while leading < len(linear) and agrees(linear[leading]):
        leading += 1
    if leading == len(linear):
        linear_part = "every linear representation"
    elif leading == 0:
        linear_part = "no linear representation"
    else:
        linear_part = f"the linear representations up to {_nats(linear[leading - 1]['truth'])}"
    met = sum(agrees(r) for r in binary)
    if not binary:
        where = linear_part
    elif met == len(binary):
        codes = "both binary codes" if met == 2 else "every binary code"
        where = f"{codes} and on {linear_part}"
    else:
        where = f"{met} of {len(binary)} binary codes and on {linear_part}"
    every = "both estimators" if len(names) == 2 else f"all {len(names)} estimators"
    agree = f"{every} read within {_nats(tol)} of each other on {where}"

    parting = [i for i, r in enumerate(linear) if not agrees(r)]
    if not parting:
        apart = "they agree at every linear level"
    else:
        row = linear[parting[0]]
        found = estimates(row)
        if len(found) < len(names):
            detail = _names([label(n) for n in names if n not in found]) + " diverged"
        else:
            worst = max(found, key=lambda n: abs(found[n] - row["truth"]))
            others = [v for n, v in found.items() if n != worst]
            detail = (
                f"{label(worst)} reads {found[worst]:.2f}, the others "
                f"{min(others):.2f} to {max(others):.2f}"
            )
        level = _nats(row["truth"])
        if parting == list(range(parting[0], len(linear))):
            apart = f"from {level} up they part (at {level} {detail})"
        else:
            apart = f"at {level} they part ({detail})"

    def is_closest(row: Record) -> bool:
        found = estimates(row)
        if name not in found:
            return False
        error = abs(found[name] - row["truth"])
        return all(error <= abs(v - row["truth"]) for v in found.values())

    flags = [is_closest(r) for r in linear]
    first = len(flags)
    while first > 0 and flags[first - 1]:
        first -= 1
    if first == 0:
        closest = f"{label(name)} is the closest to the truth at every linear level"
    elif first < len(flags):
        closest = (
            f"{label(name)} is the closest to the truth at every linear level from "
            f"{_nats(linear[first]['truth'])} up"
        )
    else:
        closest = (
            f"{label(name)} is the closest to the truth at {sum(flags)} of {len(flags)} "
            "linear levels"
        )
    top = linear[-1]
    return {
        "agree": agree,
        "apart": apart,
        "closest": closest,
        "top_truth": float(top["truth"]),
        "top_best": max(estimates(top).values(), default=math.nan),
    }


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
    the standard error it implies for a mean of ``record``'s seeds, and a Markdown verdict on
    the ``target`` (nats) and whether that target is finer than two such standard errors; the
    gap in combined standard errors (``gap_se``: the reference, a mean of 2 seeds, taken to
    spread from seed to seed as ours does) and whether that spread explains it (``gap_noise``,
    Markdown: up to 2 combined standard errors). What the page says about SMILE is in
    :func:`smile_staircase_facts`."""
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
    gap_se = gap / math.sqrt(se**2 + sd**2 / 2)
    noise = "within what" if gap_se <= 2 else "more than"
    return {
        "gap_se": gap_se,
        "gap_noise": f"{noise} the seed-to-seed spread explains",
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
    }


def smile_staircase_facts(
    record: Record, tol: float = 0.5, names: Sequence[str] = STAIRCASE_SHOWN
) -> dict[str, Any]:
    """What the page says about SMILE on the stored staircase (Song & Ermon, 2020; the bias of a
    level is the mean of its last steps, over seeds, minus the truth): which of ``names`` stay
    within ``tol`` nats of the truth at every level (``within``, Markdown ending in "stays" or
    "stay"), the largest absolute bias of τ = 5 and τ = 1, τ = 5's largest variance, τ = 1's
    smallest and largest signed bias, at how many levels it reads above the truth
    (``smile1_above``) and at how many it is closer to the truth than τ = 5 (``smile1_closer``),
    and the variance at the top level of τ = ∞ and of DV. The book chooses among these read-outs
    the estimator of the paper's Section 4 (Zhu et al., 2020)."""

    def biases(name: str) -> list[float]:
        return [float(lv["bias"]) for lv in record["results"][name]["levels"]]

    within = [
        label(n) for n in names if n in record["results"] and max(abs(b) for b in biases(n)) <= tol
    ]
    smile_1, smile_5 = biases("smile_1"), biases("smile_5")
    return {
        "within": f"{_names(within)} {'stays' if len(within) <= 1 else 'stay'}",
        "within_tol": tol,
        "smile5_max_bias": max(abs(b) for b in smile_5),
        "smile5_max_var": max(float(lv["var"]) for lv in record["results"]["smile_5"]["levels"]),
        "smile1_max_bias": max(abs(b) for b in smile_1),
        "smile1_bias_min": min(smile_1),
        "smile1_bias_max": max(smile_1),
        "smile1_above": _where([b > 0 for b in smile_1], smile_1, "level"),
        "smile1_closer": _where(
            [abs(a) < abs(b) for a, b in zip(smile_1, smile_5, strict=True)], smile_1, "level"
        ),
        "smile_inf_top_var": float(record["results"]["smile_inf"]["levels"][-1]["var"]),
        "dv_top_var": float(record["results"]["dv"]["levels"][-1]["var"]),
    }


def staircase_flags_markdown(record: Record, flag_nats: float = 100.0) -> str:
    """What the flags of a stored staircase run mean, as one or two sentences: which estimators
    had a step whose estimate went beyond ``flag_nats`` (``exploded``), which stopped at a
    non-finite value, and of the flagged ones, which ran away in their level means (a level's
    mean more than ``flag_nats`` from the truth; with its worst level's mean) and which did not
    (a single flagged step is not a run-away)."""
    results = record["results"]
    flagged = [n for n, r in results.items() if r["exploded"]]
    stopped = [n for n, r in results.items() if r["nonfinite"]]
    if not flagged:
        text = f"no estimator had a step whose estimate went beyond ±{flag_nats:g} nats"
    else:
        text = (
            f"{_names([label(n) for n in flagged])} had at least one step whose estimate went "
            f"beyond ±{flag_nats:g} nats, which the runner flags"
        )
    text += (
        f", and {_names([label(n) for n in stopped])} stopped at a non-finite value."
        if stopped
        else "; none stopped at a non-finite value."
    )
    away = {  # the level mean furthest from the truth, of each estimator that ran away
        n: max(results[n]["levels"], key=lambda lv: abs(lv["bias"]))["mean"]
        for n in flagged
        if any(abs(lv["bias"]) > flag_nats for lv in results[n]["levels"])
    }

    def their(names: Sequence[str]) -> str:
        return "its" if len(names) == 1 else "their"

    if away:
        text += (
            f" {_names([label(n) for n in away])} also ran away in {their(away)} level means "
            f"({' and '.join(f'{v:,.0f}' for v in away.values())} nats at {their(away)} "
            "worst level)"
        )
    calm = [n for n in flagged if n not in away]
    if calm:
        worst = max(abs(lv["bias"]) for n in calm for lv in results[n]["levels"])
        text += (
            f"{';' if away else ''} {_names([label(n) for n in calm])} did not: "
            f"{their(calm)} level means stay within {worst:.1f} nats of the truth"
        )
    return text + ("." if away or calm else "")


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
    """What the sweep paragraph quotes from the stored B2 sweep (``sweep``) and its longer
    d = 20 run (``long``): in d = 2, the largest absolute bias (and whose), how many estimators met
    their targets (``d2_verdict``, Markdown), the largest absolute estimate at ρ = 0; in d = 20,
    each estimator's range of relative errors for ``0 < |ρ| ≤ high_rho``, the largest gap
    between training and held-out values (MINE and NWJ, relative to the truth), DV's held-out
    and pooled values at ``|ρ| = high_rho``, which estimators diverged there in the long run,
    the longest run's largest absolute relative errors where it did not diverge, and which
    estimators meet the ``target`` (relative) at every ρ, as Markdown; and the two targets
    themselves (``d2_target``: :data:`SWEEP_D2_TARGET`, ``target``)."""
    names = list(sweep["config"]["estimators"])
    d2 = {n: sweep["targets"][n][_D2_KEY] for n in names}
    worst = max(names, key=lambda n: d2[n][0])
    facts: dict[str, Any] = {
        "d2_bias_max": float(d2[worst][0]),
        "d2_bias_worst": label(worst),
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
    torch-mist's wall time to ours; at the top level (``top_mi``) both libraries' SMILE and
    MINE means, whether torch-mist's MINE ends closer to the truth (``mine_ends``: "closer to"
    or "no closer to"), and, where both ran ``js_nwj``, the largest per-level variance of its
    NWJ read-out on each side; ``parts``: how many runs the record joins."""
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
    top = {n: (ours[n]["levels"][-1]["mean"], theirs[n]["levels"][-1]["mean"]) for n in results}
    top_mi = float(ours["infonce"]["levels"][-1]["mi"])
    tops: dict[str, Any] = {"top_mi": top_mi}
    for name in ("smile_5", "mine"):
        if name in results:
            key = name.removesuffix("_5")
            tops[f"{key}_ours"], tops[f"{key}_theirs"] = map(float, top[name])
    if "mine" in results:
        closer = abs(top["mine"][1] - top_mi) < abs(top["mine"][0] - top_mi)
        tops["mine_ends"] = "closer to" if closer else "no closer to"
    if "js_nwj" in results:
        tops["js_var_ours"] = max(float(lv["var"]) for lv in ours["js_nwj"]["levels"])
        tops["js_var_theirs"] = max(float(lv["var"]) for lv in theirs["js_nwj"]["levels"])
    return {
        **tops,
        "parts": len(record.get("merged_from") or [record]),
        "infonce_diff": float(diff),
        "low_diff": float(low_diff),
        "mist_version": str(record["torch_mist"]),
        "seeds": int(record["config"]["seeds"]),
        "faster": faster,
        "speedup_min": float(min(ratios)),
        "speedup_max": float(max(ratios)),
    }
