"""What Chapter 6 shows of Section 5 of Zhu, Zhang & Evans (2020): Table 1 (downstream heads on
standard and worst-case MI representations, objective (5.2) with beta = 0 and 1), the paper's
qualitative claims checked on a run against the spread over seeds, the critic's read-outs with
their standard errors, the beta x eps grid, the saliency maps of Figure 4, the cost of the
paper-scale run and the optimism of choosing the E.S. epoch on the test set (Exercise 3).

A run comes from :func:`table1_results`: a stored paper-scale run in the ``paper`` profile where
the repository has one, else a live :func:`robustrep_lite.experiments.table1.table1` whose
encoders, heads and finished cells are kept under
:func:`robustrep_lite.training.checkpoint.checkpoint_root` (``table1/<profile>``), so that a
re-run loads them instead of training again. Everything else here formats such a run (the dict
:func:`~robustrep_lite.experiments.table1.table1` returns) as Markdown, plotly figures or the
values the chapter's prose glues in, so that each sentence states the run's own numbers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from IPython.display import Markdown
from plotly.subplots import make_subplots
from scipy import integrate, stats
from torch import Tensor

from robustrep_lite.book.plots import lift_subplot_titles, live_panel, slider_figure
from robustrep_lite.core.paper_numbers import (
    PAPER_LOGIT_NORMAL_MI,
    PAPER_TABLE1,
    PAPER_TABLE1_SETUP,
    paper_table1_row,
)
from robustrep_lite.core.results import stored_if_present
from robustrep_lite.core.runtime import DATASHEET_DENSE_TFLOPS
from robustrep_lite.experiments.settings import PROFILES, TrainSettings
from robustrep_lite.experiments.table1 import grid_cell, prepare_data, table1
from robustrep_lite.training.checkpoint import checkpoint_root
from robustrep_lite.training.encoder import (
    THREAT_MODELS,
    EncoderRun,
    load_encoder,
    saliency,
    saliency_share,
    saliency_smoothness,
)

__all__ = [
    "CLAIMS",
    "CLAIM_STATES",
    "ORDER",
    "ROW_NAMES",
    "STORED",
    "STORED_GPU",
    "STORED_GPU_STEP",
    "STEP_TARGETS",
    "TITLES",
    "Z_SPREAD",
    "below_zero",
    "claim_checks",
    "claim_state",
    "claims_report",
    "critic_checks",
    "critic_glue",
    "critic_markdown",
    "critic_readouts",
    "critic_verdict",
    "es_selection_bias",
    "expected_normal_max",
    "grid_cell_text",
    "grid_figure",
    "grid_widget",
    "gpu_step_markdown",
    "grid_markdown",
    "live_profile",
    "paper_cost_markdown",
    "paper_markdown",
    "pgd_figure",
    "run_summary",
    "saliency_figure",
    "saliency_glue",
    "saliency_study",
    "saliency_text",
    "stored_gpu_run",
    "stored_gpu_step",
    "t4_estimate",
    "stored_results",
    "strong_gaps",
    "summary_cell",
    "table1_glue",
    "table1_results",
    "table_encoders",
    "table_markdown",
    "tables_markdown",
    "train_step_glue",
    "value_range",
]

Table = dict[str, Any]

#: The data sets of the chapter and their titles.
TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}

#: Where a paper-profile run of ``table1`` is stored (relative to the repository root).
STORED = "bench/results/table1_{dataset}_paper.json"

#: Where the prepared GPU run's Table 1 (``bench/device_run.py``, CIFAR-10, one seed, the
#: ``gpu`` profile) is stored once one has run.
STORED_GPU = "bench/results/device/table1_gpu.json"

#: Where the prepared GPU run's step benchmark (``bench/train_step.py`` run by
#: ``bench/device_run.py``: the ``paper``, ``fast`` and ``fast_fp16`` modes) is stored once one
#: has run.
STORED_GPU_STEP = "bench/results/device/train_step.json"

#: Row labels of Table 1: (representation, head) -> words.
ROW_NAMES = {
    ("standard", "standard"): "standard g, standard h",
    ("standard", "robust"): "standard g, robust h",
    ("standard", "standard_es"): "standard g, standard h (E.S.)",
    ("worst_case", "standard"): "worst-case MI g, standard h",
    ("worst_case", "standard_es"): "worst-case MI g, standard h (E.S.)",
    ("worst_case", "robust"): "worst-case MI g, robust h",
    ("supervised", "standard"): "fully supervised, standard",
    ("supervised", "robust"): "fully supervised, robust",
}

#: The rows of our Table 1, in the paper's order.
ORDER = [
    ("standard", "standard"),
    ("standard", "robust"),
    ("standard", "standard_es"),
    ("worst_case", "standard"),
    ("worst_case", "standard_es"),
    ("worst_case", "robust"),
]

#: The paper's qualitative claims on Table 1: (claim, the row that should be higher, the row
#: it is compared with, the accuracy compared, the paper's CIFAR-10 MLP values).
CLAIMS = [
    (
        "worst-case g + standard h is more robust than standard g + standard h",
        ("worst_case", "standard"),
        ("standard", "standard"),
        "pgd_mean",
        "14.06 > 0.22",
    ),
    (
        "worst-case g + robust h is more robust than standard g + robust h",
        ("worst_case", "robust"),
        ("standard", "robust"),
        "pgd_mean",
        "31.52 > 15.08",
    ),
    (
        "a robust h keeps more natural accuracy on the worst-case g",
        ("worst_case", "robust"),
        ("standard", "robust"),
        "natural_mean",
        "52.34 > 29.75",
    ),
    (
        "E.S. raises the adversarial accuracy of a standard h on the worst-case g",
        ("worst_case", "standard_es"),
        ("worst_case", "standard"),
        "pgd_mean",
        "27.53 > 14.06",
    ),
]

#: Short names of the rows whose accuracy ranges the prose glues in (``<data set>_<name>_<key>``).
SPAN_ROWS = {
    ("standard", "standard"): "ss",
    ("standard", "robust"): "sr",
    ("worst_case", "standard"): "ws",
    ("worst_case", "standard_es"): "we",
    ("worst_case", "robust"): "wr",
}


# ----------------------------------------------------------------------------------------------
# Load or compute
# ----------------------------------------------------------------------------------------------
def live_profile(profile: str) -> str:
    """The profile whose ``table1`` settings a page runs live: the ``paper`` profile's would take
    days of GPU time, so there the page runs the ``cpu`` ones (and reads stored paper-scale
    results where there are some); every other profile runs its own."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    return "cpu" if profile == "paper" else profile


def stored_results(dataset: str) -> Table | None:
    """The stored paper-profile Table 1 run for ``dataset`` (:data:`STORED`), or ``None`` where
    this checkout has none."""
    stored = stored_if_present(STORED.format(dataset=dataset))
    return None if stored is None else stored["result"]


def stored_gpu_run() -> dict[str, Any] | None:
    """The stored record of the prepared GPU run's Table 1 (:data:`STORED_GPU`: ``provenance``,
    ``settings`` and the run itself under ``result``), or ``None`` where this checkout has
    none."""
    return stored_if_present(STORED_GPU)


def stored_gpu_step() -> dict[str, Any] | None:
    """The stored record of the prepared GPU run's step benchmark (:data:`STORED_GPU_STEP`, a
    ``bench/train_step.py`` record of runs), or ``None`` where this checkout has none."""
    return stored_if_present(STORED_GPU_STEP)


def table1_results(
    dataset: str, profile: str, *, device: str | torch.device | None = None
) -> Table:
    """Table 1 for ``dataset`` as the chapter shows it: in the ``paper`` profile the stored
    paper-scale run (:func:`stored_results`) if the repository has one; otherwise a live
    :func:`~robustrep_lite.experiments.table1.table1` with the settings of
    :func:`live_profile`, checkpointed under ``checkpoint_root() / "table1" / <profile>``
    (the folder the ``table1`` command uses): a re-run loads the finished encoders and heads and
    reuses every cell computed at the same git commit and settings."""
    stored = stored_results(dataset) if profile == "paper" else None
    if stored is not None:
        return stored
    name = live_profile(profile)
    return table1(
        dataset,
        PROFILES[name].table1,
        checkpoint_dir=checkpoint_root() / "table1" / name,
        device=device,
        progress=False,
    )


def run_summary(table: Table) -> str:
    """One line on a Table 1 run: data set, seeds, wall time and data."""
    return f"{table['dataset']}: {table['seeds']} seed(s), {table['wall_s']:.0f} s; {table['data']}"


# ----------------------------------------------------------------------------------------------
# Table 1 and the paper's claims
# ----------------------------------------------------------------------------------------------
def summary_cell(table: Table, rep: str, head: str, clf: str) -> dict[str, Any]:
    """The ``summary`` entry (mean and std over seeds) of one cell of a Table 1 run."""
    for c in table["summary"]:
        if (c["representation"], c["head"], c["classifier"]) == (rep, head, clf):
            return c
    raise KeyError(f"the run has no cell ({rep!r}, {head!r}, {clf!r})")


def table_markdown(table: Table) -> str:
    """Our Table 1 as Markdown: one row per :data:`ORDER` entry, natural, PGD-7 and the strong
    attack's accuracy (mean ± std over seeds, %) for the MLP and the linear head."""
    strong = table["settings"]["strong_attack"].upper()
    cols = [f"{clf} {h}" for clf in ("MLP", "linear") for h in ("natural", "PGD-7", strong)]
    lines = ["| g, h | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for rep, h in ORDER:
        cells = []
        for clf in ("mlp", "linear"):
            c = summary_cell(table, rep, h, clf)
            for key in ("natural", "pgd", "strong"):
                cells.append(f"{100 * c[key + '_mean']:.1f} ± {100 * c[key + '_std']:.1f}")
        lines.append(f"| {ROW_NAMES[(rep, h)]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_markdown() -> str:
    """The paper's Table 1 (CIFAR-10, 4 trials, %) as Markdown."""
    lines = [
        "| g, h | MLP natural | MLP PGD-7 | linear natural | linear PGD-7 |",
        "|---|---|---|---|---|",
    ]
    for rep, h, mn, ma, ln, la in PAPER_TABLE1:
        lines.append(f"| {ROW_NAMES[(rep, h)]} | {mn:.2f} | {ma:.2f} | {ln:.2f} | {la:.2f} |")
    return "\n".join(lines)


def tables_markdown(tables: dict[str, Table]) -> str:
    """Our Table 1 for every data set of ``tables`` (titled with seeds, ε and the strong
    attack's images), then the paper's CIFAR-10 table."""
    text = ""
    for dataset, t in tables.items():
        s = t["settings"]
        text += (
            f"**Ours, {TITLES.get(dataset, dataset)}** ({t['seeds']} seed(s), mean ± std, %; "
            f"ε = {t['threat_model']['eps']:.4g}; the {s['strong_attack'].upper()} column on "
            f"the first {s['strong_size']} test images):\n\n{table_markdown(t)}\n\n"
        )
    return text + (
        "**The paper's Table 1, CIFAR-10** (4 trials, %, PGD-7; the paper's numbers, "
        "not ours):\n\n" + paper_markdown()
    )


def pgd_figure(tables: dict[str, Table]) -> go.Figure:
    """PGD-7 accuracy of every row of Table 1 (mean ± std over seeds), MLP and linear head, one
    slider position per data set; on CIFAR-10 the paper's values as markers."""
    # two lines per row name ("standard g,<br>robust h"): flat labels that fit side by side
    labels = [ROW_NAMES[key].replace(", ", ",<br>") for key in ORDER]
    paper = {(r[0], r[1]): r for r in PAPER_TABLE1}
    steps = []
    for dataset, t in tables.items():
        traces: list[go.BaseTraceType] = []
        for clf, col in (("mlp", 3), ("linear", 5)):
            cells = [summary_cell(t, r, h, clf) for r, h in ORDER]
            traces.append(
                go.Bar(
                    x=labels,
                    y=[100 * c["pgd_mean"] for c in cells],
                    error_y={"array": [100 * c["pgd_std"] for c in cells]},
                    name=f"ours, {clf} h",
                )
            )
            ys = [paper[k][col] if dataset == "cifar10" and k in paper else None for k in ORDER]
            traces.append(
                go.Scatter(
                    x=labels,
                    y=ys,
                    mode="markers",
                    marker={"size": 12, "symbol": "diamond"},
                    name=f"paper, {clf} h",
                )
            )
        steps.append((TITLES.get(dataset, dataset), traces))
    return slider_figure(
        steps,
        slider_label="data set",
        active=len(steps) - 1,
        layout={
            "title": "PGD-7 accuracy of every head and representation (mean ± std, seeds)",
            "yaxis_title": "adversarial accuracy [%]",
            "barmode": "group",
            "height": 520,
            "xaxis": {"tickangle": 0, "tickfont": {"size": 11}},
            "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
            "margin": {"t": 90},
        },
    )


def _mlp(table: Table, row: tuple[str, str], key: str) -> float:
    return 100 * summary_cell(table, *row, "mlp")[key]


#: How many standard errors a difference must exceed to count as a difference (the claims of
#: Table 1 over seeds, the critic's read-outs over batches), and how far below zero, in its
#: standard errors, a mutual-information read-out must lie to count as impossible.
Z_SPREAD = 2.0

#: The verdicts :func:`claim_state` gives a claim.
CLAIM_STATES = ("holds", "within seed spread", "reversed", "one seed")


def claim_state(
    higher: float,
    lower: float,
    std_higher: float,
    std_lower: float,
    seeds_higher: int,
    seeds_lower: int,
    z: float = Z_SPREAD,
) -> tuple[str, float]:
    """The verdict on a claim "``higher`` > ``lower``" between two means over seeds, and the
    margin it was judged by.

    The margin is ``z`` standard errors of the difference of the means,
    ``z * sqrt(std_higher**2 / seeds_higher + std_lower**2 / seeds_lower)`` (``std_*`` the
    sample standard deviations over seeds, ddof=1, as :func:`summarise
    <robustrep_lite.experiments.table1.summarise>` gives them). The claim ``"holds"`` when the
    difference ``higher - lower`` exceeds the margin, is ``"reversed"`` when it is below minus
    the margin, and is ``"within seed spread"`` otherwise (equal values included). With fewer
    than two seeds on either side there is no spread to judge by: ``"one seed"`` and a NaN
    margin. With a handful of seeds this is a screen against reading seed noise as an effect,
    not a significance test (Table 1 of Section 6.2 reports 4 trials)."""
    if min(seeds_higher, seeds_lower) < 2:
        return "one seed", math.nan
    margin = z * math.sqrt(std_higher**2 / seeds_higher + std_lower**2 / seeds_lower)
    diff = higher - lower
    if diff > margin:
        return "holds", margin
    if diff < -margin:
        return "reversed", margin
    return "within seed spread", margin


def claim_checks(table: Table, attack: str = "pgd") -> list[dict[str, Any]]:
    """Each of :data:`CLAIMS` on a run: the two MLP-head values compared (mean and standard
    deviation over seeds, %), the verdict of :func:`claim_state` (``state``: the claim holds only
    where the difference of the means exceeds twice the standard error of that difference over
    seeds), the ``margin`` it was judged by, ``holds`` (``state == "holds"``) and the paper's
    values. With ``attack = "strong"`` the adversarial claims compare the strong attack's
    accuracies (on the first ``strong_size`` test images) instead of PGD-7's."""
    out = []
    for claim, higher, lower, key, paper in CLAIMS:
        key = key.replace("pgd", attack)
        hi, lo = summary_cell(table, *higher, "mlp"), summary_cell(table, *lower, "mlp")
        std_key = key.replace("_mean", "_std")
        a, b = 100 * hi[key], 100 * lo[key]
        sa, sb = 100 * hi[std_key], 100 * lo[std_key]
        state, margin = claim_state(a, b, sa, sb, hi["seeds"], lo["seeds"])
        out.append(
            {
                "claim": claim,
                "ours": a,
                "against": b,
                "ours_std": sa,
                "against_std": sb,
                "margin": margin,
                "state": state,
                "holds": state == "holds",
                "paper": paper,
            }
        )
    return out


def strong_gaps(table: Table) -> list[float]:
    """Per row (cell and seed) evaluated with the strong attack: PGD-7's accuracy minus the
    strong attack's on the same images, in points."""
    return [100 * (r["pgd_subset"] - r["strong"]) for r in table["rows"] if "strong" in r]


def claims_report(table: Table, title: str) -> str:
    """The verdict on every claim (:func:`claim_checks`: holds, within seed spread, reversed,
    or one seed), the two means ± their standard deviations over seeds and the margin (twice the
    standard error of the difference) they were judged by, and how far the strong attack lowers
    PGD-7's accuracies, as lines of text."""
    lines = [title]
    for c in claim_checks(table):
        margin = "n/a" if math.isnan(c["margin"]) else f"{c['margin']:.1f}"
        lines.append(
            f"  {c['state']:18s} {c['claim']}: {c['ours']:.1f} ± {c['ours_std']:.1f} vs "
            f"{c['against']:.1f} ± {c['against_std']:.1f} (margin {margin})   [{c['paper']}]"
        )
    gap = strong_gaps(table)
    lines.append(
        f"  the stronger attack lowers PGD-7 accuracy by {min(gap):.1f} to "
        f"{max(gap):.1f} points on the same images"
    )
    return "\n".join(lines)


def _span(values: list[float]) -> str:
    low, high = (f"{v:.1f}" for v in (min(values), max(values)))
    return f"{low}%" if low == high else f"{low}-{high}%"


def table1_glue(tables: dict[str, Table]) -> dict[str, Any]:
    """The values the chapter's prose glues in, by name: per data set the number of claims
    that hold beyond the seed spread, lie within it and are reversed beyond it
    (:func:`claim_checks`; ``<d>_holds``, ``<d>_within``, ``<d>_reversed``), the largest
    strong-attack drop (``<d>_apgd_drop``) and, per row of :data:`SPAN_ROWS`, the range of
    natural and PGD-7 accuracy over the MLP and linear heads (``<d>_<row>_<natural|pgd>``,
    Markdown), and the same three counts with the strong attack's accuracies in place of PGD-7's
    (``<d>_strong_holds``, ``<d>_strong_within``, ``<d>_strong_reversed``); ``claims_count``;
    and, with
    CIFAR-10, the standard MLP's natural accuracy (``c10_std_mlp_nat``), the seeds
    (``table_seeds``), the training images (``c10_train``, Markdown: a count or "all"), the
    encoder epochs (``c10_epochs``) and the head epochs (``c10_head_epochs``), each beside the
    paper's (``paper_c10_std_mlp_nat``, ``paper_train``, ``paper_epochs``; and the paper's PGD-7
    accuracy of the MLP head on the worst-case representation with and without E.S.,
    ``paper_es_pgd`` and ``paper_ws_pgd``, all from
    :mod:`robustrep_lite.core.paper_numbers`)."""
    out: dict[str, Any] = {}
    for dataset, t in tables.items():
        for prefix, attack in (("", "pgd"), ("strong_", "strong")):
            states = [c["state"] for c in claim_checks(t, attack)]
            for state, name in (("holds", "holds"), ("within seed spread", "within")):
                out[f"{dataset}_{prefix}{name}"] = states.count(state)
            out[f"{dataset}_{prefix}reversed"] = states.count("reversed")
        out[f"{dataset}_apgd_drop"] = max(strong_gaps(t))
        for row, name in SPAN_ROWS.items():
            for key in ("natural", "pgd"):
                values = [
                    100 * summary_cell(t, *row, clf)[key + "_mean"] for clf in ("mlp", "linear")
                ]
                out[f"{dataset}_{name}_{key}"] = Markdown(_span(values))
    out["claims_count"] = len(CLAIMS)
    if "cifar10" in tables:
        c10 = tables["cifar10"]
        out["c10_std_mlp_nat"] = _mlp(c10, ("standard", "standard"), "natural_mean")
        out["table_seeds"] = c10["seeds"]
        train = c10["settings"]["train_size"]["cifar10"]
        out["c10_train"] = Markdown("all" if train is None else f"{train:,}")
        out["c10_epochs"] = c10["settings"]["encoder_epochs"]
        out["c10_head_epochs"] = c10["settings"]["head_epochs"]
        out["paper_c10_std_mlp_nat"] = paper_table1_row("standard", "standard")["mlp_natural"]
        out["paper_es_pgd"] = paper_table1_row("worst_case", "standard_es")["mlp_adversarial"]
        out["paper_ws_pgd"] = paper_table1_row("worst_case", "standard")["mlp_adversarial"]
        out["paper_train"] = Markdown(f"{PAPER_TABLE1_SETUP['train_images']:,}")
        out["paper_epochs"] = PAPER_TABLE1_SETUP["encoder_epochs"]
    return out


#: The training critic's read-outs of an encoder record: (key, its standard error's key).
_READOUTS = (("mi", "mi_stderr"), ("worst_mi", "worst_mi_stderr"), ("drop", "drop_stderr"))

#: How the read-outs are named in words.
_READOUT_NAMES = {"mi": "I(X; g(X))", "worst_mi": "I_worst", "drop": "drop"}


def critic_readouts(table: Table) -> dict[str, dict[str, float]]:
    """Per representation (``standard``, ``worst_case``) of a Table 1 run: the training critic's
    read-outs on the test images (:func:`~robustrep_lite.training.encoder.mi_readout`, the
    paper's read-out of Section 5) averaged over seeds -- ``mi``, ``worst_mi`` and ``drop`` (``mi
    - worst_mi``, the RV read-out), nats -- each with the standard error of that mean,
    ``sqrt(sum of the seeds' squared standard errors) / seeds`` (``<key>_stderr``; the seeds'
    standard errors are over the read-out's batches, NaN where a record has none); ``seeds``; and
    ``images``, the fewest test images any of its read-outs used (0 where no record says)."""
    out: dict[str, dict[str, float]] = {}
    for rep in ("standard", "worst_case"):
        recs = [e for e in table["encoders"] if e["representation"] == rep]
        n = len(recs)
        values = {
            "mi": [e["mi"] for e in recs],
            "worst_mi": [e["worst_mi"] for e in recs],
            "drop": [e["mi"] - e["worst_mi"] for e in recs],
        }
        images = min(e.get("readout_images", 0) for e in recs)
        entry: dict[str, float] = {"seeds": n, "images": images}
        for key, se_key in _READOUTS:
            errors = [e.get(se_key, math.nan) for e in recs]
            entry[key] = sum(values[key]) / n
            entry[se_key] = math.sqrt(sum(x**2 for x in errors)) / n
        out[rep] = entry
    return out


def below_zero(value: float, stderr: float, z: float = Z_SPREAD) -> bool:
    """Whether a mutual-information read-out lies below zero by more than ``z`` of its standard
    errors (``value + z * stderr < 0``); with an unknown error (NaN), whether it is negative at
    all. A mutual information is never negative, so such a read-out of a variational lower
    bound says the critic was fooled, not how much information is left."""
    return value + (0.0 if math.isnan(stderr) else z * stderr) < 0


def _direction(a: float, se_a: float, b: float, se_b: float, z: float = Z_SPREAD) -> str:
    """``a`` against ``b``: "more" or "less" where they differ by more than ``z`` standard errors
    of the difference (``sqrt(se_a**2 + se_b**2)``, 0 where unknown), else "within error"."""
    se = math.sqrt(se_a**2 + se_b**2)
    margin = 0.0 if math.isnan(se) else z * se
    if a - b > margin:
        return "more"
    if a - b < -margin:
        return "less"
    return "within error"


def critic_checks(tables: dict[str, Table]) -> dict[str, dict[str, Any]]:
    """Per data set of ``tables``, what the training critics' read-outs (:func:`critic_readouts`)
    can say: ``readouts``; ``impossible``, the (representation, read-out) pairs of ``mi`` and
    ``worst_mi`` that lie below zero beyond twice their standard error (:func:`below_zero`);
    ``clean``, does the worst-case representation's critic read "more" or "less" clean
    information than the standard one's, or the same "within error" (twice the standard error
    of the difference); ``drop``, does it lose more or less under the training attack (the drop
    ``I - I_worst``, the RV read-out). A comparison that uses an impossible read-out is not made:
    ``None``."""
    out: dict[str, dict[str, Any]] = {}
    for dataset, t in tables.items():
        r = critic_readouts(t)
        impossible = [
            (rep, key)
            for rep in ("standard", "worst_case")
            for key, se_key in _READOUTS[:2]
            if below_zero(r[rep][key], r[rep][se_key])
        ]
        bad = {key for _, key in impossible}
        wc, std = r["worst_case"], r["standard"]
        clean = (
            None
            if "mi" in bad
            else _direction(wc["mi"], wc["mi_stderr"], std["mi"], std["mi_stderr"])
        )
        drop = (
            None
            if bad
            else _direction(wc["drop"], wc["drop_stderr"], std["drop"], std["drop_stderr"])
        )
        out[dataset] = {"readouts": r, "impossible": impossible, "clean": clean, "drop": drop}
    return out


def _pm(value: float, stderr: float) -> str:
    return f"{value:.3f} ± {'n/a' if math.isnan(stderr) else f'{stderr:.3f}'}"


def critic_verdict(tables: dict[str, Table]) -> str:
    """:func:`critic_checks` in words, per data set: any read-out below zero beyond twice its
    standard error (impossible for a mutual information, so not counted as evidence), then
    whether the worst-case representation's critic reads more clean information than the
    standard one's and whether it loses less of it under the training attack (means over seeds
    ± their standard errors, as :func:`critic_markdown` prints), each only where no impossible
    read-out enters it."""
    words = {
        "more": "**more**",
        "less": "**less**",
        "within error": "**no more and no less** (within twice the error)",
    }
    parts = []
    for dataset, check in critic_checks(tables).items():
        r = check["readouts"]
        wc, std = r["worst_case"], r["standard"]
        sentences = []
        impossible = [
            f"the {'standard' if rep == 'standard' else 'worst-case'} representation's "
            f"{_READOUT_NAMES[key]} read-out ({_pm(r[rep][key], r[rep][key + '_stderr'])} nats)"
            for rep, key in check["impossible"]
        ]
        if impossible:
            one = len(impossible) == 1
            sentences.append(
                " and ".join(impossible)
                + (" is" if one else " are")
                + " below zero by more than twice "
                + ("its standard error" if one else "their standard errors")
                + ": a mutual information cannot be negative, so "
                + ("this read-out measures" if one else "these read-outs measure")
                + " how far the attack fooled the critic, not information, and no comparison "
                + f"that uses {'it' if one else 'them'} is **counted as evidence**"
            )
        if check["clean"] is None:
            sentences.append("the clean read-outs are **not compared**")
        else:
            sentences.append(
                f"the worst-case representation's critic reads {words[check['clean']]} clean "
                f"information than the standard one's ({_pm(wc['mi'], wc['mi_stderr'])} against "
                f"{_pm(std['mi'], std['mi_stderr'])} nats)"
            )
        if check["drop"] is None:
            sentences.append("the drops under attack are **not compared**")
        else:
            sentences.append(
                f"it loses {words[check['drop']]} under attack than the "
                f"standard one (a drop of {_pm(wc['drop'], wc['drop_stderr'])} against "
                f"{_pm(std['drop'], std['drop_stderr'])} nats)"
            )
        parts.append(f"on {TITLES.get(dataset, dataset)}, " + "; ".join(sentences))
    if not parts:
        raise ValueError("tables must hold at least one data set with critic read-outs")
    first, *rest = parts
    return ". ".join([f"In the run shown, {first}", *(p[0].upper() + p[1:] for p in rest)]) + "."


def critic_markdown(tables: dict[str, Table]) -> str:
    """The training critic's read-outs per data set and representation (:func:`critic_readouts`:
    mean over seeds ± its standard error over the read-out's batches, nats): I(X; g(X)), I_worst
    and their difference, the RV read-out of the paper; a read-out below zero beyond twice its
    error (:func:`below_zero`) is marked "impossible"."""
    rows = [
        "| data set | g | I(X; g(X)) | I_worst | drop (RV read-out) |",
        "|---|---|---|---|---|",
    ]
    images = []
    for dataset, t in tables.items():
        for rep, r in critic_readouts(t).items():
            cells = []
            for key, se_key in _READOUTS:
                cell = _pm(r[key], r[se_key])
                if key != "drop" and below_zero(r[key], r[se_key]):
                    cell += " (impossible: < 0)"
                cells.append(cell)
            rows.append(f"| {dataset} | {rep} | " + " | ".join(cells) + " |")
            images.append(r["images"])
    first = next(iter(tables.values()))
    estimator = first["settings"]["estimator"]
    return (
        f"Critic read-outs in nats (mean over seeds ± its standard error over the read-out's "
        f"batches; {min(images):,} test images per encoder, estimator `{estimator}`):\n\n"
        + "\n".join(rows)
    )


def critic_glue(tables: dict[str, Table]) -> dict[str, Any]:
    """The values the prose around the critic's read-outs glues in: ``critic_verdict``
    (:func:`critic_verdict`, Markdown), ``critic_images`` (the fewest test images behind any
    read-out), ``critic_se_max`` (the largest standard error of a mean ``I`` or ``I_worst``
    read-out, nats; NaN where none is recorded), and the paper's Section 6.2 values for the
    logit layers of its supervised classifiers (``paper_logit_mi_robust``,
    ``paper_logit_mi_standard``, from :mod:`robustrep_lite.core.paper_numbers`)."""
    readouts = [r for t in tables.values() for r in critic_readouts(t).values()]
    errors = [
        r[se] for r in readouts for se in ("mi_stderr", "worst_mi_stderr") if not math.isnan(r[se])
    ]
    return {
        "critic_verdict": Markdown(critic_verdict(tables)),
        "critic_images": min(r["images"] for r in readouts),
        "critic_se_max": max(errors) if errors else math.nan,
        "paper_logit_mi_robust": PAPER_LOGIT_NORMAL_MI["robust"],
        "paper_logit_mi_standard": PAPER_LOGIT_NORMAL_MI["standard"],
    }


# ----------------------------------------------------------------------------------------------
# The beta x eps grid
# ----------------------------------------------------------------------------------------------
def _monotone(values: list[float], rising: bool) -> bool:
    steps = np.diff(values)
    return bool(np.all(steps > 0) if rising else np.all(steps < 0))


def grid_markdown(grid: dict[str, Any]) -> str:
    """A :func:`~robustrep_lite.experiments.table1.beta_eps_grid` result in words: per training
    eps, the linear head's natural and PGD-7 accuracy, the training critic's drop
    ``I - I_worst`` (the paper's read-out) and the validated RV
    (:func:`~robustrep_lite.experiments.table1.encoder_vulnerability`) for each beta, then two
    computed verdicts -- does PGD-7 accuracy rise with beta, does the validated RV fall with
    beta (strictly, from one beta to the next)."""
    lines = []
    for eps in sorted({c["eps"] for c in grid["cells"]}):
        cells = sorted((c for c in grid["cells"] if c["eps"] == eps), key=lambda c: c["beta"])

        def row(fmt: str, key: Any, cells: list[dict[str, Any]] = cells) -> str:
            return ", ".join(f"{fmt.format(key(c))} (β = {c['beta']:g})" for c in cells)

        pgd = [c["pgd"] for c in cells]
        rv = [c["validated_rv"] for c in cells]
        lines.append(
            f"- **ε = {eps:.3g}**: PGD-7 accuracy {row('{:.1%}', lambda c: c['pgd'])}; natural "
            f"{row('{:.1%}', lambda c: c['natural'])}; validated RV "
            f"{row('{:.2f}', lambda c: c['validated_rv'])} nats (± up to "
            f"{max(c['validated_rv_stderr'] for c in cells):.2f}); the training critic's drop "
            f"{row('{:.2f}', lambda c: c['mi'] - c['worst_mi'])}. PGD-7 accuracy rises with β: "
            f"{'**yes**' if _monotone(pgd, True) else '**no**'}; validated RV falls with β: "
            f"{'**yes**' if _monotone(rv, False) else '**no**'}."
        )
    return "\n".join(lines)


def _line(x: list[float], name: str, ys: list[float], axis: str = "", **kw: Any) -> go.Scatter:
    return go.Scatter(
        x=x, y=ys, name=name, mode="lines+markers", xaxis=f"x{axis}", yaxis=f"y{axis}", **kw
    )


def grid_figure(grid: dict[str, Any]) -> go.Figure:
    """The beta x eps grid: per training ε (the slider), the linear head's natural and PGD-7
    accuracy (left) and the training critic's I, I_worst with the validated RV ± its standard
    error (right), against β."""
    steps = []
    for frac in grid["settings"]["grid_eps_fractions"]:
        cells = [c for c in grid["cells"] if c["eps_fraction"] == frac]
        betas = [c["beta"] for c in cells]
        traces = [
            _line(betas, "natural", [100 * c["natural"] for c in cells]),
            _line(betas, "PGD-7", [100 * c["pgd"] for c in cells]),
            _line(betas, "I(X; g(X))", [c["mi"] for c in cells], "2"),
            _line(betas, "I<sub>worst</sub>", [c["worst_mi"] for c in cells], "2"),
            _line(
                betas,
                "RV (validated)",
                [c["validated_rv"] for c in cells],
                "2",
                error_y={"array": [c["validated_rv_stderr"] for c in cells]},
                line={"dash": "dash"},
            ),
        ]
        steps.append((f"{cells[0]['eps']:.3g}", traces))
    base = make_subplots(
        rows=1, cols=2, subplot_titles=("linear head accuracy [%]", "MI and RV [nats]")
    )
    lift_subplot_titles(base)
    betas = sorted({c["beta"] for c in grid["cells"]})
    fig = slider_figure(
        steps,
        slider_label="training and test ε",
        active=len(steps) - 1,
        figure=base,
        layout={"height": 460, "margin": {"t": 50}, "xaxis_title": "β", "xaxis2_title": "β"},
    )
    return fig.update_xaxes(tickvals=betas)


def grid_cell_text(cell: dict[str, Any], source: str) -> str:
    """One grid cell (:func:`~robustrep_lite.experiments.table1.grid_cell`) in a line: β, ε,
    where it came from, accuracies, the critic's read-outs and the validated RV."""
    return (
        f"β = {cell['beta']:g}, ε = {cell['eps']:.3g} ({source}): natural "
        f"{100 * cell['natural']:.1f}%, PGD-7 {100 * cell['pgd']:.1f}%; critic read-out "
        f"I = {cell['mi']:.3f}, I_worst = {cell['worst_mi']:.3f} nats; validated RV "
        f"{cell['validated_rv']:.3f} ± {cell['validated_rv_stderr']:.3f} nats"
    )


def grid_widget(
    grid: dict[str, Any], settings: TrainSettings, *, device: str | torch.device | None = None
) -> widgets.VBox:
    """The live twin of :func:`grid_figure` (Jupyter, Colab): sliders for β and the training ε
    on MNIST and a button; a combination in ``grid`` is shown from it, any other is trained
    now by :func:`~robustrep_lite.experiments.table1.grid_cell` at the grid's scale
    (``settings.grid_train_size`` training images). Shows β = 1 at the threat model's ε."""
    data = prepare_data(
        "mnist",
        dataclasses.replace(
            settings, train_size={**settings.train_size, "mnist": settings.grid_train_size}
        ),
    )
    beta = widgets.FloatSlider(
        value=1.0, min=0.0, max=2.0, step=0.25, description="β", continuous_update=False
    )
    eps = widgets.FloatSlider(
        value=THREAT_MODELS["mnist"]["eps"],
        min=0.05,
        max=0.3,
        step=0.05,
        description="ε",
        continuous_update=False,
    )
    button = widgets.Button(description="train")
    report = widgets.HTML()
    cache = {(round(c["beta"], 3), round(c["eps"], 3)): c for c in grid["cells"]}

    def show(_: object = None) -> None:
        key = (round(beta.value, 3), round(eps.value, 3))
        source = "from the grid"
        if key not in cache:
            report.value = "training ..."
            cache[key], _ = grid_cell(
                data, "mnist", settings, beta=key[0], eps=key[1], device=device
            )
            source = "trained now"
        report.value = grid_cell_text(cache[key], source)

    button.on_click(show)
    show()
    return live_panel(beta, eps, button, report)


# ----------------------------------------------------------------------------------------------
# Figure 4: saliency maps
# ----------------------------------------------------------------------------------------------
def table_encoders(
    table: Table, seed: int, device: str | torch.device = "cpu"
) -> dict[str, EncoderRun]:
    """The encoders of one seed of a Table 1 run, by representation, reloaded from their
    checkpoints (none for a run stored without them)."""
    return {
        rec["representation"]: load_encoder(rec["checkpoint"], rec["config"], device)
        for rec in table["encoders"]
        if rec["seed"] == seed and rec.get("checkpoint")
    }


def saliency_study(
    table: Table, x: Tensor, *, device: str | torch.device = "cpu", digits: bool = False
) -> dict[str, Any]:
    """Figure 4 on the images ``x`` for every seed of a Table 1 run: the saliency maps
    (:func:`~robustrep_lite.training.encoder.saliency`) of seed 0's standard and worst-case
    encoders (``maps``; empty when the run kept no checkpoints), per representation the
    smoothness of each seed's maps (:func:`~robustrep_lite.training.encoder.saliency_smoothness`)
    and, with ``digits``, the % of the saliency on the digit (pixels of channel 0 above 0.5;
    :func:`~robustrep_lite.training.encoder.saliency_share`) and the % of pixels the digit
    covers (``digit_pixels``). Seeds stop at the first without both encoders."""
    out: dict[str, Any] = {"maps": {}, "smoothness": {}, "share": {}, "digit_pixels": None}
    out["seeds"] = 0
    for seed in range(table["seeds"]):
        runs = table_encoders(table, seed, device)
        if len(runs) < 2:
            break
        maps = {rep: saliency(run, x) for rep, run in runs.items()}
        for rep in ("standard", "worst_case"):
            out["smoothness"].setdefault(rep, []).append(saliency_smoothness(maps[rep]))
            if digits:
                digit = (x[:, 0] > 0.5).float()
                share = saliency_share(maps[rep], digit)
                out["share"].setdefault(rep, []).append(100 * float(share.mean()))
                out["digit_pixels"] = 100 * float(digit.mean())
        if seed == 0:
            out["maps"] = maps
        out["seeds"] += 1
    return out


def saliency_text(study: dict[str, Any], title: str) -> str:
    """:func:`saliency_study` as lines of text, one per seed and representation."""
    if not study["seeds"]:
        return f"{title}: no encoders to draw (a stored table keeps no checkpoints)"
    lines = []
    for seed in range(study["seeds"]):
        for rep in ("standard", "worst_case"):
            line = f"{title}, seed {seed}, {rep} g: smoothness {study['smoothness'][rep][seed]:.2f}"
            if study["share"]:
                line += (
                    f", {study['share'][rep][seed]:.0f}% of the saliency on the digit "
                    f"({study['digit_pixels']:.0f}% of the pixels)"
                )
            lines.append(line)
    return "\n".join(lines)


def saliency_figure(x: Tensor, maps: dict[str, Tensor], title: str, n_show: int = 6) -> go.Figure:
    """Figure 4: the first ``n_show`` images of ``x`` above the saliency maps of the standard
    and the worst-case MI representation (each map scaled to a maximum of 1)."""
    n_show = min(n_show, x.shape[0])
    fig = make_subplots(rows=3, cols=n_show, vertical_spacing=0.03, horizontal_spacing=0.01)
    # each row named on its left, level: rotated row titles are longer than a row is high
    for row, name in enumerate(("image", "standard g", "worst-case<br>MI g"), start=1):
        low, high = fig.get_subplot(row, 1).yaxis.domain
        fig.add_annotation(
            text=name,
            x=0,
            y=(low + high) / 2,
            xref="paper",
            yref="paper",
            xanchor="right",
            xshift=-6,
            align="right",
            showarrow=False,
        )
    for i in range(n_show):
        img = x[i].permute(1, 2, 0).numpy()
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        fig.add_trace(go.Image(z=(255 * img).astype(np.uint8)), row=1, col=i + 1)
        for row, rep in ((2, "standard"), (3, "worst_case")):
            heat = go.Heatmap(
                z=maps[rep][i].numpy(), colorscale="gray", zmin=0, zmax=1, showscale=False
            )
            fig.add_trace(heat, row=row, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(
        title=f"{title}, seed 0: |∂Î/∂x|, each map scaled to max 1",
        height=430,
        margin={"l": 100, "r": 20, "b": 20},
    )
    return fig


def value_range(values: list[float], fmt: str) -> str:
    """``min-max`` of ``values`` in format ``fmt``, or one value where both read the same."""
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def saliency_glue(studies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The values the prose glues in from :func:`saliency_study` results by data set: the
    smoothness range over seeds (``smooth_<d>_<rep>``), the range of the digit's share
    (``share_<rep>``) and ``digit_pixels``, and ``smoother``: is every worst-case map set
    smoother than every standard one (Markdown)."""
    out: dict[str, Any] = {}
    for dataset, study in studies.items():
        for rep, values in study["smoothness"].items():
            out[f"smooth_{dataset}_{rep}"] = Markdown(value_range(values, ".2f"))
        for rep, values in study["share"].items():
            out[f"share_{rep}"] = Markdown(value_range(values, ".0f"))
        if study["share"]:
            out["digit_pixels"] = study["digit_pixels"]
    drawn = [s["smoothness"] for s in studies.values() if s["smoothness"]]
    smoother = all(min(s["worst_case"]) > max(s["standard"]) for s in drawn)
    out["smoother"] = Markdown(
        ("**yes**" if smoother else "**no**") if drawn else "n/a (no encoders)"
    )
    return out


# ----------------------------------------------------------------------------------------------
# Exercise 3: the optimism of choosing the E.S. epoch on the test set
# ----------------------------------------------------------------------------------------------
def expected_normal_max(n: int) -> float:
    """The expected maximum of ``n`` independent standard normal draws,
    ``E[max] = integral of x * n * phi(x) * Phi(x)**(n - 1) dx``, by numerical integration
    (``scipy.integrate.quad``; 0 for ``n = 1``, ``1 / sqrt(pi)`` for ``n = 2``). The familiar
    ``sqrt(2 ln n)`` is only its large-``n`` asymptote and lies above it (about 3.53 against 3.04
    for ``n = 500``)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of draws, got {n}")

    def density(x: float) -> float:
        log = math.log(n) + stats.norm.logpdf(x) + (n - 1) * stats.norm.logcdf(x)
        return x * math.exp(log)

    # the integrand lives within a few units of sqrt(2 ln n); beyond +-12 it is below 1e-30
    peak = math.sqrt(2 * math.log(n)) if n > 1 else 0.0
    value, _ = integrate.quad(density, -12.0, 12.0, points=[0.0, peak], limit=200)
    return float(value)


def es_selection_bias(accuracy: float, test_images: int, candidates: int) -> dict[str, float]:
    """How far choosing the best of ``candidates`` epochs on the test set (the paper's E.S. of
    Table 1) can flatter an adversarial accuracy ``accuracy`` (a fraction) measured on
    ``test_images`` images, if the epochs' accuracies were independent noise around the same
    value: ``stderr``, the binomial standard error of one accuracy in points
    (``100 * sqrt(p (1 - p) / n)``); ``k``, the expected maximum of ``candidates`` standard
    normals (:func:`expected_normal_max`); ``k_asymptotic``, ``sqrt(2 ln candidates)``; and
    ``bias = k * stderr``, the expected optimism in points. Correlated epochs lower it."""
    if not 0 <= accuracy <= 1 or test_images < 1 or candidates < 1:
        raise ValueError(
            "accuracy must be a fraction, test_images and candidates positive counts; got "
            f"{accuracy}, {test_images}, {candidates}"
        )
    stderr = 100 * math.sqrt(accuracy * (1 - accuracy) / test_images)
    k = expected_normal_max(candidates)
    return {
        "stderr": stderr,
        "k": k,
        "k_asymptotic": math.sqrt(2 * math.log(candidates)),
        "bias": k * stderr,
    }


# ----------------------------------------------------------------------------------------------
# The cost of the paper-scale run
# ----------------------------------------------------------------------------------------------
#: Dense tensor-core peaks in TFLOP/s (vendor data sheets, :data:`DATASHEET_DENSE_TFLOPS`).
GPU_PEAKS = {
    "T4 (fp16)": DATASHEET_DENSE_TFLOPS["T4"],
    "H100 SXM (bf16)": DATASHEET_DENSE_TFLOPS["H100"],
}

#: Training images per CIFAR-10 epoch (50 000 minus 5 000 for validation) and MNIST's.
EPOCH_IMAGES = {"cifar10": 45_000, "mnist": 60_000}


def _step_rows(record: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["dataset"]): r for r in record["runs"][0]["rows"]}


def train_step_glue(record: dict[str, Any]) -> dict[str, float]:
    """From a stored ``bench/train_step.py`` record (its first run): the paper's step on
    CIFAR-10 (% of its FLOPs in PGD, seconds per step, images per second, hours per epoch) and
    the ``cpu`` settings' images per second (both data sets) and minutes per MNIST epoch."""
    rows = _step_rows(record)
    paper, mnist = rows["paper", "cifar10"], rows["cpu", "mnist"]
    return {
        "step_pgd_share": 100 * paper["attack_share_of_flops"],
        "step_paper_s": paper["seconds_per_step"],
        "step_paper_ips": paper["images_per_second"],
        "step_paper_epoch_h": EPOCH_IMAGES["cifar10"] / paper["images_per_second"] / 3600,
        "step_cpu_c10": rows["cpu", "cifar10"]["images_per_second"],
        "step_cpu_mnist": mnist["images_per_second"],
        "step_cpu_mnist_epoch_min": EPOCH_IMAGES["mnist"] / mnist["images_per_second"] / 60,
    }


def paper_cost_markdown(
    record: dict[str, Any], epochs: int = PAPER_TABLE1_SETUP["encoder_epochs"]
) -> str:
    """The cost of one paper-scale worst-case encoder on CIFAR-10 from a stored
    ``bench/train_step.py`` record: FLOPs per step and epoch, the measured CPU time, and an
    *estimate* of the time per epoch and for ``epochs`` epochs (the paper's by default) on two
    GPUs, assuming 10-40% of their dense peak (:data:`GPU_PEAKS`) is achieved (small
    convolutions, batch-128 products and ~1000 kernel launches per step keep GPUs far from their
    peak). Not a measurement."""
    run = record["runs"][0]
    row = _step_rows(record)["paper", "cifar10"]
    steps_per_epoch = EPOCH_IMAGES["cifar10"] // 128
    gflop_epoch = row["gflop_per_step"] * steps_per_epoch
    text = (
        f"One step: {row['gflop_per_step']:.0f} GFLOP ({row['gflop_per_image']:.1f} GFLOP per "
        f"image, {100 * row['attack_share_of_flops']:.0f}% of it in PGD); one epoch: "
        f"{gflop_epoch / 1e3:.0f} TFLOP. Measured on {run['device']}: "
        f"{row['seconds_per_step']:.1f} s per step, {row['images_per_second']:.1f} img/s, "
        f"{row['achieved_gflops']:.0f} GFLOP/s → "
        f"{row['seconds_per_step'] * steps_per_epoch / 3600:.1f} h per epoch.\n\n"
    )
    rows = [
        f"| GPU | assumed TFLOP/s | time per epoch | {epochs} epochs |",
        "|---|---|---|---|",
    ]
    for gpu, peak in GPU_PEAKS.items():
        lo, hi = 0.1 * peak, 0.4 * peak
        fast, slow = gflop_epoch / 1e3 / hi, gflop_epoch / 1e3 / lo
        rows.append(
            f"| {gpu} | {lo:.0f}-{hi:.0f} | {fast:.0f}-{slow:.0f} s | "
            f"{epochs * fast / 3600:.1f}-{epochs * slow / 3600:.1f} h |"
        )
    return (
        text
        + "Estimated from FLOPs (not measured), one worst-case encoder, CIFAR-10:\n\n"
        + "\n".join(rows)
    )


#: This project's targets for the fast step on an H100-class GPU (not the paper's): its speed
#: over the faithful fp32 step, and its share of the GPU's dense bf16 peak.
STEP_TARGETS = {"fast_over_paper_ratio": 5.0, "share_of_peak": 0.25}


def t4_estimate(record: dict[str, Any], run: int = 0) -> dict[str, float]:
    """What one encoder of the ``gpu`` profile's Table 1 (objective (5.2), Section 5) would cost
    on a Colab T4, extrapolated from the ``fast_fp16`` row of a ``bench/train_step.py`` run on a
    CUDA GPU (``record["runs"][run]``): the T4 (fp16; :data:`DATASHEET_DENSE_TFLOPS`) is
    assumed to reach the same share of its dense peak as that run's fp16 step reached of the
    GPU's measured dense peak. An estimate, not a measurement. Returns the share assumed,
    seconds per step, seconds per epoch (the ``gpu`` profile's CIFAR-10 training images minus
    its validation split, in whole batches of the profile's size), and the epochs one encoder's
    wall-clock budget (``encoder_budget_s``) holds on the T4 and on the measured GPU in the
    ``fast`` mode (the ``gpu`` profile's; its fp16 row where the run has no ``fast`` row).
    Raises ``ValueError`` for a run not on a CUDA GPU or without a ``fast_fp16`` row."""
    r = record["runs"][run]
    if "cuda" not in r["device"].lower():
        raise ValueError(f"run {run} is on {r['device']!r}, not a CUDA GPU")
    rows = {(x["name"], x["dataset"]): x for x in r["rows"]}
    if ("fast_fp16", "cifar10") not in rows:
        raise ValueError(
            f"run {run} ({r['device']}) has no fast_fp16 row: a T4 estimate needs the fp16 step "
            "timed on a CUDA GPU (bench/train_step.py --configs paper fast fast_fp16)"
        )
    fp16 = rows["fast_fp16", "cifar10"]
    fast = rows.get(("fast", "cifar10"), fp16)
    gpu = PROFILES["gpu"].table1
    size = gpu.train_size["cifar10"]
    images = (PAPER_TABLE1_SETUP["train_images"] if size is None else size) - gpu.val_size
    steps = images // gpu.batch_size
    share = fp16["share_of_measured_peak"]
    # TFLOP per step over the TFLOP/s assumed on the T4; per image, so the batch timed may differ
    t4_step = (
        fp16["gflop_per_image"] * gpu.batch_size / 1e3 / (share * DATASHEET_DENSE_TFLOPS["T4"])
    )
    gpu_step = gpu.batch_size / fast["images_per_second"]
    budget = float(gpu.encoder_budget_s)
    return {
        "share": share,
        "t4_step_s": t4_step,
        "t4_epoch_s": t4_step * steps,
        "t4_epochs_in_budget": budget / (t4_step * steps),
        "gpu_epochs_in_budget": budget / (gpu_step * steps),
        "budget_s": budget,
        "images": steps * gpu.batch_size,
    }


def gpu_step_markdown(record: dict[str, Any], run: int = 0) -> str:
    """The step benchmark of a CUDA run (``record["runs"][run]`` of ``bench/train_step.py``: one
    training step of objective (5.2), Section 5) as Markdown: per mode (faithful ``paper``,
    ``fast``, ``fast_fp16``) the autocast type, images per second, achieved TFLOP/s and its
    share of the measured and datasheet dense peaks; the fast/faithful speed ratios against
    :data:`STEP_TARGETS`; and :func:`t4_estimate`."""
    r = record["runs"][run]
    if "cuda" not in r["device"].lower():
        raise ValueError(f"run {run} is on {r['device']!r}, not a CUDA GPU")
    rows = {x["name"]: x for x in r["rows"] if x["dataset"] == "cifar10"}
    missing = [m for m in ("paper", "fast", "fast_fp16") if m not in rows]
    if missing:
        raise ValueError(f"run {run} on {r['device']} lacks the mode(s) {missing}")

    def sheet(x: dict[str, Any]) -> str:
        v = x["share_of_datasheet_peak"]
        return "n/a" if v is None else f"{100 * v:.1f}%"

    lines = [
        "| mode | autocast | batch | img/s | TFLOP/s | share of measured peak | "
        "share of datasheet peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("paper", "fast", "fast_fp16"):
        x = rows[name]
        lines.append(
            f"| {name} | {x.get('autocast', 'none')} | {x['batch_size']} | "
            f"{x['images_per_second']:,.0f} | {x['achieved_tflops']:.1f} | "
            f"{100 * x['share_of_measured_peak']:.1f}% | {sheet(x)} |"
        )
    ratio, share = r["fast_over_paper_ratio"], rows["fast"]["share_of_measured_peak"]
    goal_ratio, goal_share = STEP_TARGETS["fast_over_paper_ratio"], STEP_TARGETS["share_of_peak"]
    verdict = (
        f"fast / faithful: **{ratio:.1f}×** (target ≥ {goal_ratio:g}×: "
        f"{'met' if ratio >= goal_ratio else 'not met'}); the fast step's share of the "
        f"measured dense peak: **{100 * share:.1f}%** (target ≥ {100 * goal_share:g}%: "
        f"{'met' if share >= goal_share else 'not met'}); fp16 / faithful: "
        f"{r['fast_fp16_over_paper_ratio']:.1f}×."
    )
    t4 = t4_estimate(record, run)
    estimate = (
        f"On a Colab T4 (fp16, {DATASHEET_DENSE_TFLOPS['T4']:g} TFLOP/s dense), *if* it reached "
        "the same "
        f"share of its peak as the fp16 step here ({100 * t4['share']:.1f}%), one step would "
        f"take {t4['t4_step_s']:.2f} s and one epoch of {t4['images']:,} images "
        f"{t4['t4_epoch_s'] / 60:.1f} min: the `gpu` profile's {t4['budget_s']:g} s per "
        f"encoder would hold {t4['t4_epochs_in_budget']:.2f} epochs there, against "
        f"{t4['gpu_epochs_in_budget']:.1f} here"
    )
    if t4["t4_epochs_in_budget"] < 1:  # training stops after the epoch that crosses the budget
        estimate += f" (training ends only after a whole epoch: {t4['t4_epoch_s'] / 60:.1f} min)"
    estimate += ". An extrapolation, not a measurement."
    head = f"Measured on {r['device']}, commit {r.get('git_commit', 'unknown')}, "
    head += f"median of {r['repeats']} steps, measured dense peak "
    head += f"{record['runs'][run]['peak_tflops_measured']:.0f} TFLOP/s:"
    return "\n\n".join([head, "\n".join(lines), verdict, estimate])
