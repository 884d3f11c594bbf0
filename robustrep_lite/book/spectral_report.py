"""Figures and tables of Chapter 7: spectral regularization of representations (Yang,
Zavatone-Veth & Pehlevan 2024) on the XOR toy (their Figure 3) and on MNIST (Figures 4 and 5),
and side by side with the worst-case MI training of Zhu, Zhang & Evans (2020, objective (5.3)).

The computations live in :mod:`robustrep_lite.experiments.spectral_regularization` and
:mod:`robustrep_lite.experiments.spectral_vs_mi`; this module reads their stored runs
(``bench/spectral_mnist.py``, ``bench/spectral_vs_mi.py``) or runs them live where no stored run
fits the page's profile, and lays out what they return.

Every label that names an arm says which weight layers it penalises
(:func:`robustrep_lite.training.spectral.layers_for`): our ll-spectral penalises W1 and W2 of the
one-hidden-layer MLP, while the authors' released code (Pehlevan-Group/rep-spectral) nests the
feature map inside its model, so its ll-spectral only ever penalised the readout W2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from robustrep_lite.book.chapter import stored_run_line
from robustrep_lite.book.plots import lift_subplot_titles, live_panel, slider_figure
from robustrep_lite.core.results import load_stored
from robustrep_lite.experiments import spectral_vs_mi
from robustrep_lite.experiments.settings import PROFILES, ComparisonSettings, ProfileSettings
from robustrep_lite.experiments.spectral_regularization import (
    OneHiddenLayerNet,
    XorField,
    compare_regularizers,
    paired_differences,
    settings_record,
    summarise_rows,
)
from robustrep_lite.experiments.table1 import prepare_data
from robustrep_lite.training.data import load_dataset
from robustrep_lite.training.spectral import ARMS, all_layers, layers_for

__all__ = [
    "digits_facts",
    "mnist_facts",
    "seed_facts",
    "xor_facts",
    "ARM_COLOURS",
    "DIGITS_RESULT",
    "METRICS",
    "MNIST_RESULT",
    "REFERENCE_LAYERS",
    "SEED_RUNS",
    "VS_MI_RESULT",
    "arm_labels",
    "comparison_setup",
    "digits_markdown",
    "lambda_figure",
    "lambda_rows",
    "lambda_widget",
    "mean_se",
    "mnist_markdown",
    "mnist_rows",
    "paired_markdown",
    "penalised_layers",
    "seeds_figure",
    "seeds_markdown",
    "stored_seed_runs",
    "vs_mi_label",
    "vs_mi_markdown",
    "vs_mi_rows",
    "xor_figure",
    "xor_findings",
    "xor_markdown",
]

#: Where the bench scripts store their runs (relative to the repository root).
MNIST_RESULT = "bench/results/spectral_mnist.json"
#: The spectral-regularization comparison on scikit-learn's 8 x 8 digits.
DIGITS_RESULT = "bench/results/spectral_digits.json"
#: The comparison of spectral regularization with worst-case MI (seed 0).
VS_MI_RESULT = "bench/results/spectral_vs_mi.json"
#: The stored five-seed comparisons with worst-case MI: result name -> the lambda of its
#: penalised arms (seed 0 in ``<name>.json``, seed k in ``<name>_seed<k>.json``).
SEED_RUNS = {"spectral_vs_mi": 0.1, "spectral_vs_mi_lambda0.01": 0.01}
#: The layers each arm of the authors' released code penalises on the one-hidden-layer MLP, where
#: they differ from ours: its model nests the feature map, so ll-spectral reaches W2 only.
REFERENCE_LAYERS = {"ll-spectral": ("W2",)}
#: The colour of each arm in the figures.
ARM_COLOURS = {"none": "#7f7f7f", "ll-spectral": "#ff7f0e", "rep-spectral": "#1f77b4"}
#: The MNIST comparison's measures: row key -> how a page names it.
METRICS = {
    "test_accuracy": "test accuracy",
    "refit_accuracy": "refit-head accuracy",
    "hsj_mean": "HSJ distance",
    "ddn_mean": "DDN distance",
}

Record = dict[str, Any]


# ----------------------------------------------------------------------------------------------
# Arms and the layers they penalise
# ----------------------------------------------------------------------------------------------
def penalised_layers(arm: str, model: nn.Module) -> tuple[str, ...]:
    """The names ``W1 .. WL`` (weight layers of ``model`` in order) of the layers ``arm``
    penalises (:func:`~robustrep_lite.training.spectral.layers_for`): the set ``S`` of the
    paper's loss ``CE + lambda sum_{l in S} sigma_max(W_l)^2`` (Section 3)."""
    index = {id(layer): i for i, layer in enumerate(all_layers(model), start=1)}
    return tuple(f"W{index[id(layer)]}" for layer in layers_for(arm, model))


def _chapter_mlp() -> nn.Module:
    """A one-hidden-layer MLP like the chapter's (XOR and MNIST), built on the meta device and
    with the random state restored, so that naming its layers draws no random number."""
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        return OneHiddenLayerNet(1, 1, 1)


def arm_labels(model: nn.Module | None = None) -> dict[str, str]:
    """How a page names each arm of :data:`~robustrep_lite.training.spectral.ARMS`, with the
    layers it penalises in ``model`` (default: the chapter's one-hidden-layer MLP), e.g.
    ``{"none": "none", "ll-spectral": "ll-spectral (W1, W2)", "rep-spectral": "rep-spectral
    (W1)"}``."""
    model = _chapter_mlp() if model is None else model
    labels = {}
    for arm in ARMS:
        layers = penalised_layers(arm, model)
        labels[arm] = f"{arm} ({', '.join(layers)})" if layers else arm
    return labels


def _reference_note(labels: Mapping[str, str]) -> str:
    """A sentence on the arms whose layers differ from those of the authors' released code."""
    parts = [
        f"our {arm} penalises {' and '.join(labels[arm].split('(')[-1].rstrip(')').split(', '))}, "
        f"the authors' released code {' and '.join(layers)} only"
        for arm, layers in REFERENCE_LAYERS.items()
        if arm in labels and "(" in labels[arm]
    ]
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:] if parts else ""


# ----------------------------------------------------------------------------------------------
# The XOR toy (Figure 3)
# ----------------------------------------------------------------------------------------------
def xor_figure(
    fields: Mapping[str, XorField], labels: Mapping[str, str] | None = None
) -> go.Figure:
    """The paper's Figure 3 from :func:`~robustrep_lite.experiments.spectral_regularization.
    xor_fields`: per arm (columns) the decision boundary over the sign of the logit margin with
    the four XOR points (top row), and the volume element of the representation on a log scale
    (Remark 1; bottom row, one shared colour bar)."""
    if not fields:
        raise ValueError("fields must hold at least one arm")
    labels = labels or arm_labels()
    arms = list(fields)
    cols = len(arms)
    fig = make_subplots(
        rows=2,
        cols=cols,
        subplot_titles=[
            *(labels.get(arm, arm) for arm in arms),
            *(f"volume element, {arm}" for arm in arms),
        ],
        horizontal_spacing=0.06,
        vertical_spacing=0.16,
    )
    lift_subplot_titles(fig, size=13)  # three titles side by side in a book column
    points = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    colours = ["#b2182b", "#2166ac", "#2166ac", "#b2182b"]  # class 0 where the signs agree
    for col, arm in enumerate(arms, start=1):
        field = fields[arm]
        fig.add_trace(
            go.Contour(
                x=field.axis,
                y=field.axis,
                z=field.margin,
                colorscale="RdBu",
                zmid=0,
                showscale=False,
                contours={"start": 0, "end": 0, "size": 1, "coloring": "heatmap"},
                line={"width": 2, "color": "black"},
                name=arm,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=points[:, 0],
                y=points[:, 1],
                mode="markers",
                marker={"color": colours, "size": 12, "line": {"color": "white", "width": 2}},
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Heatmap(
                x=field.axis,
                y=field.axis,
                z=np.log10(field.volume + 1e-12),
                colorscale="Viridis",
                zmin=-2,
                zmax=1.5,
                showscale=col == cols,
                colorbar={
                    "title": {"text": "volume"},
                    "tickvals": [-2, -1, 0, 1],
                    "ticktext": ["0.01", "0.1", "1", "10"],
                    "len": 0.42,
                    "y": 0.21,
                },
                name=arm,
            ),
            row=2,
            col=col,
        )
    limit = float(max(abs(fields[arms[0]].axis[0]), abs(fields[arms[0]].axis[-1])))
    for i in range(1, 2 * cols + 1):
        row, col = (i - 1) // cols + 1, (i - 1) % cols + 1
        fig.update_xaxes(range=[-limit, limit], dtick=1, constrain="domain", row=row, col=col)
        fig.update_yaxes(
            range=[-limit, limit],
            dtick=1,
            scaleanchor=f"x{i if i > 1 else ''}",
            constrain="domain",
            row=row,
            col=col,
        )
    fig.update_layout(
        title="XOR: decision boundaries (top) and volume element of the representation",
        height=700,
        margin={"t": 90, "b": 40, "l": 40, "r": 40},
    )
    return fig


def xor_markdown(
    measured: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str] | None = None
) -> str:
    """A Markdown table of :func:`~robustrep_lite.experiments.spectral_regularization.
    xor_measurements`: per arm sigma_max of every layer, the mean volume element at the four
    points and the mean DDN distance to the decision boundary."""
    if not measured:
        raise ValueError("measured must hold at least one arm")
    labels = labels or arm_labels()
    layers = len(next(iter(measured.values()))["sigmas"])
    header = ["arm", *(f"σ_max(W{i})" for i in range(1, layers + 1))]
    lines = [
        "| " + " | ".join([*header, "volume element at the data", "distance (DDN)"]) + " |",
        "|---" * (len(header) + 2) + "|",
    ]
    for arm, m in measured.items():
        sigmas = " | ".join(f"{s:.2f}" for s in m["sigmas"])
        lines.append(
            f"| {labels.get(arm, arm)} | {sigmas} | {m['volume']:.2f} | {m['distance']:.3f} |"
        )
    return "\n".join(lines)


def _change(name: str, before: float, after: float) -> str:
    """``"lowers <name> from a to b"``, with the verb read off the values."""
    verb = "lowers" if after < before else "raises" if after > before else "keeps"
    return f"{verb} {name} from {before:.1f} to {after:.1f}"


def xor_findings(measured: Mapping[str, Mapping[str, Any]], tolerance: float = 0.05) -> str:
    """What :func:`~robustrep_lite.experiments.spectral_regularization.xor_measurements` shows,
    as Markdown sentences whose every number and verb is read off ``measured`` (arms ``none``,
    ``rep-spectral`` and ``ll-spectral``): how each penalised arm changes sigma_max of W1 and W2
    and the volume element at the data, and whether the mean DDN distance to the boundary moves
    by more than ``tolerance`` from the unregularised arm's."""
    none, rep, ll = (measured[arm] for arm in ("none", "rep-spectral", "ll-spectral"))
    w1, w2 = "σ_max(W₁)", "σ_max(W₂)"

    def fold(after: float) -> str:
        ratio = none["volume"] / after if after > 0 else float("inf")
        return f"{ratio:.1f} times smaller" if ratio >= 1 else f"{1 / ratio:.1f} times larger"

    moved = max(abs(m["distance"] - none["distance"]) for m in (rep, ll))
    distance = (
        f"the mean DDN distance from the four points to the decision boundary moves by "
        f"{'at most' if moved <= tolerance else 'up to'} {moved:.3f} from the unregularised "
        f"{none['distance']:.3f}"
    )
    consequence = (
        "so the effect is on Φ alone, which is what a refit head inherits"
        if moved <= tolerance
        else "so the decision moves too"
    )
    return (
        f"Rep-spectral {_change(w1, none['sigmas'][0], rep['sigmas'][0])} and "
        f"{_change('the readout' + chr(39) + 's ' + w2, none['sigmas'][1], rep['sigmas'][1])}; "
        f"its volume element of the representation at the data is {fold(rep['volume'])} than "
        f"the unregularised one ({none['volume']:.1f} to {rep['volume']:.1f}). Ll-spectral "
        f"{_change(w1, none['sigmas'][0], ll['sigmas'][0])} and "
        f"{_change(w2, none['sigmas'][1], ll['sigmas'][1])}, and its volume element at the data "
        f"is {fold(ll['volume'])} than the unregularised one ({ll['volume']:.1f}). On this run "
        f"{distance}, {consequence}."
    )


# ----------------------------------------------------------------------------------------------
# MNIST: load or compute, tables
# ----------------------------------------------------------------------------------------------


def _stored_or_none(path: str) -> Record | None:
    try:
        return load_stored(path)
    except FileNotFoundError:  # e.g. offline without a checkout: compute it instead
        return None


def mnist_rows(
    profile: ProfileSettings, device: torch.device | str = "cpu"
) -> tuple[list[Record], str]:
    """The rows of the MNIST comparison (the paper's Figure 4 setting) and a line saying where
    they come from: the stored run (:data:`MNIST_RESULT`) if it was made in ``profile`` with
    its ``spectral`` settings, else a live
    :func:`~robustrep_lite.experiments.spectral_regularization.compare_regularizers` over
    ``settings.seeds`` seeds on ``device``."""
    settings = profile.spectral
    stored = _stored_or_none(MNIST_RESULT)
    if (
        stored is not None
        and stored["profile"] == profile.name
        and stored["settings"] == settings_record(settings)
    ):
        return stored["rows"], stored_run_line(stored, "bench/spectral_mnist.py")
    mnist = load_dataset(
        "mnist",
        source=profile.data_source,
        train_size=settings.train_size,
        test_size=settings.test_size,
    )
    rows = compare_regularizers(
        mnist.x_train,
        mnist.y_train,
        mnist.x_test,
        mnist.y_test,
        settings,
        seeds=range(settings.seeds),
        device=device,
        progress=False,
    )
    return rows, f"computed live in the {profile.name} profile: {mnist.description}"


def mean_se(row: Record, key: str, digits: int = 3) -> str:
    """``"<mean> ± <se>"`` of a summary row (``<key>_mean``, ``<key>_se``)."""
    return f"{row[key + '_mean']:.{digits}f} ± {row[key + '_se']:.{digits}f}"


def mnist_markdown(summary: Sequence[Record], labels: Mapping[str, str] | None = None) -> str:
    """The MNIST comparison as Markdown: a caption (seeds, the layers each arm penalises, the
    authors' ll-spectral) and per (arm, lambda) of
    :func:`~robustrep_lite.experiments.spectral_regularization.summarise_rows` the test and
    refit-head accuracies, both distances and sigma_max of W1 and W2, mean ± s.e. over seeds."""
    if not summary:
        raise ValueError("summary must hold at least one row")
    labels = labels or arm_labels()
    lines = [
        "| arm (layers) | λ | test accuracy | refit-head accuracy | HSJ distance | DDN distance "
        "| σ(W1) | σ(W2) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {labels.get(row['arm'], row['arm'])} | {row['lam']:g} "
            f"| {mean_se(row, 'test_accuracy')} | {mean_se(row, 'refit_accuracy')} "
            f"| {mean_se(row, 'hsj_mean')} | {mean_se(row, 'ddn_mean')} "
            f"| {mean_se(row, 'sigma_1', 1)} | {mean_se(row, 'sigma_2', 1)} |"
        )
    return (
        f"Ours: mean ± standard error over {summary[0]['seeds']} seeds; distances are means "
        f"over the attacked test images of each seed. {_reference_note(labels)}\n\n"
        + "\n".join(lines)
    )


def paired_markdown(rows: Sequence[Record], labels: Mapping[str, str] | None = None) -> str:
    """Per regularised (arm, lambda): the change of every :data:`METRICS` entry from the
    unregularised arm of the same seed, mean ± s.e. over seeds
    (:func:`~robustrep_lite.experiments.spectral_regularization.paired_differences`)."""
    labels = labels or arm_labels()
    paired = {key: paired_differences(rows, key) for key in METRICS}
    lines = ["| arm (layers) | λ | " + " | ".join(METRICS.values()) + " |"]
    lines.append("|---" * (len(METRICS) + 2) + "|")
    for i, first in enumerate(paired["hsj_mean"]):
        cells = [f"{paired[key][i]['mean']:+.3f} ± {paired[key][i]['se']:.3f}" for key in METRICS]
        arm = labels.get(first["arm"], first["arm"])
        lines.append(f"| {arm} | {first['lam']:g} | " + " | ".join(cells) + " |")
    return "Change from `none` on the same seed (mean ± s.e.):\n\n" + "\n".join(lines)


def lambda_rows(summary: Sequence[Record], lam: float) -> list[Record]:
    """The summary rows of the three arms at one lambda, in :data:`ARMS` order (``none`` has no
    lambda: its row is the one with lambda 0). Raises ``ValueError`` if one is missing."""
    by_key = {(row["arm"], row["lam"]): row for row in summary}
    keys = [(arm, 0.0 if arm == "none" else lam) for arm in ARMS]
    missing = [key for key in keys if key not in by_key]
    if missing:
        raise ValueError(f"summary lacks the rows {missing} for lambda = {lam:g}")
    return [by_key[key] for key in keys]


def lambda_widget(
    summary: Sequence[Record], lambdas: Sequence[float], labels: Mapping[str, str] | None = None
) -> widgets.VBox:
    """A live slider over ``lambdas`` and an HTML table of the three arms at the chosen lambda
    (:func:`lambda_rows`): both accuracies and both distances, mean ± s.e. Starts at the second
    lambda (the paper's middle strength) when there is one."""
    labels = labels or arm_labels()
    lambdas = list(lambdas)
    start = lambdas[1] if len(lambdas) > 1 else lambdas[0]
    slider = widgets.SelectionSlider(
        options=[f"{lam:g}" for lam in lambdas], value=f"{start:g}", description="λ"
    )
    table = widgets.HTML()
    header = "".join(f"<th>{name}</th>" for name in ("arm (layers)", *METRICS.values()))

    def show(_: object = None) -> None:
        cells = [
            f"<tr><td>{labels.get(row['arm'], row['arm'])}</td>"
            + "".join(f"<td>{mean_se(row, key)}</td>" for key in METRICS)
            + "</tr>"
            for row in lambda_rows(summary, lambdas[slider.index])
        ]
        table.value = f"<table><tr>{header}</tr>{''.join(cells)}</table>"

    slider.observe(show, names="value")
    show()
    return live_panel(slider, table)


def lambda_figure(
    summary: Sequence[Record], lambdas: Sequence[float], labels: Mapping[str, str] | None = None
) -> go.Figure:
    """The static twin of :func:`lambda_widget`: one bar chart per :data:`METRICS` entry (mean
    ± s.e. of the three arms, one bar per arm, named with its layers in the legend) and a
    plotly slider over ``lambdas``."""
    labels = labels or arm_labels()
    lambdas = list(lambdas)
    fig = make_subplots(
        rows=1, cols=len(METRICS), subplot_titles=list(METRICS.values()), horizontal_spacing=0.08
    )
    lift_subplot_titles(fig, size=13)  # four titles side by side in a book column
    steps = []
    for lam in lambdas:
        chosen = lambda_rows(summary, lam)
        traces = [
            go.Bar(
                x=[row["arm"]],
                y=[row[key + "_mean"]],
                error_y={"array": [row[key + "_se"]]},
                marker_color=ARM_COLOURS.get(row["arm"], "#7f7f7f"),
                name=labels.get(row["arm"], row["arm"]),
                legendgroup=row["arm"],
                showlegend=i == 1,
                xaxis=f"x{i if i > 1 else ''}",
                yaxis=f"y{i if i > 1 else ''}",
            )
            for i, key in enumerate(METRICS, start=1)
            for row in chosen
        ]
        steps.append((f"{lam:g}", traces))
    fig = slider_figure(
        steps,
        slider_label="λ",
        active=1 if len(lambdas) > 1 else 0,
        figure=fig,
        layout={
            "title": "MNIST: the three arms at one λ (mean ± s.e. over seeds)",
            "height": 480,
            "barmode": "overlay",
            "legend": {"orientation": "h", "y": 1.12, "yanchor": "bottom", "x": 0},
            "margin": {"t": 120, "b": 40},
        },
    )
    fig.update_xaxes(showticklabels=False)
    for i, key in enumerate(METRICS, start=1):
        fig.update_yaxes(tickformat=".0%" if "accuracy" in key else ".2f", row=1, col=i)
    return fig


def digits_markdown(stored: Record, labels: Mapping[str, str] | None = None) -> str:
    """The scikit-learn digits run (``bench/spectral_mnist.py --dataset digits``) beside the
    reference run of the authors' code it stores: per (arm, lambda) accuracy and distance of
    both (Tangent Attack for the reference; HopSkipJump and DDN for ours). Each arm names the
    layers our run penalises and, where they differ (:data:`REFERENCE_LAYERS`), the
    reference's."""
    labels = labels or arm_labels()
    reference = {(r["arm"], r["lam"]): r for r in stored["reference"]}
    lines = [
        "| arm (layers) | λ | accuracy (reference) | accuracy (ours) | TA distance (reference) "
        "| HSJ distance (ours) | DDN distance (ours) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summarise_rows(stored["rows"]):
        ref = reference.get((row["arm"], row["lam"]), {})
        ta = ref.get("ta_distance")
        accuracy = ref.get("accuracy")
        arm = labels.get(row["arm"], row["arm"])
        if row["arm"] in REFERENCE_LAYERS:
            arm = arm.rstrip(")") + f"; reference {', '.join(REFERENCE_LAYERS[row['arm']])})"
        lines.append(
            f"| {arm} | {row['lam']:g} | {'-' if accuracy is None else f'{accuracy:.3f}'} "
            f"| {mean_se(row, 'test_accuracy')} | {'-' if ta is None else f'{ta:.3f}'} "
            f"| {mean_se(row, 'hsj_mean')} | {mean_se(row, 'ddn_mean')} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Side by side with worst-case MI training
# ----------------------------------------------------------------------------------------------
def vs_mi_label(arm: str, layers: int) -> str:
    """How a page names an arm of :data:`robustrep_lite.experiments.spectral_vs_mi.ARMS` on an
    encoder of ``layers`` weight layers: the penalised arms penalise every one of them (the
    encoder's output is the representation)."""
    _, penalised = spectral_vs_mi.ARMS[arm]
    return f"{arm} (all {layers} layers)" if penalised else arm


def vs_mi_rows(profile: ProfileSettings, seed: int = 0) -> tuple[list[Record], str]:
    """The rows of :func:`robustrep_lite.experiments.spectral_vs_mi.compare` and a line saying
    where they come from: the stored run (:data:`VS_MI_RESULT`) if it was made in ``profile``
    with its ``comparison`` settings, else a live comparison on the profile's data."""
    comparison = profile.comparison
    stored = _stored_or_none(VS_MI_RESULT)
    if (
        stored is not None
        and stored["profile"] == profile.name
        and spectral_vs_mi.stored_matches(stored["settings"], comparison)
    ):
        return stored["rows"], stored_run_line(stored, "bench/spectral_vs_mi.py")
    data = prepare_data(comparison.dataset, comparison.profile)
    rows = spectral_vs_mi.compare(data, comparison, seed=seed, progress=False)
    return rows, f"computed live in the {profile.name} profile: {data.description}"


def vs_mi_markdown(rows: Sequence[Record], seed: int = 0) -> str:
    """One seed of the comparison (``seed``) as Markdown: per arm beta, lambda, the natural,
    PGD-7 and APGD accuracy of a standard linear head, the refit head's accuracy, the mean
    HopSkipJump distance and sigma_max of the encoder's last layer."""
    if not rows:
        raise ValueError("rows must hold at least one arm")
    lines = [
        "| arm (layers) | β | λ | natural | PGD-7 | APGD | refit head | HSJ distance "
        "| σ_max of the last layer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {vs_mi_label(row['arm'], len(row['sigmas']))} | {row['beta']:g} "
            f"| {row['spectral_lambda']:g} | {100 * row['natural']:.1f}% "
            f"| {100 * row['pgd']:.1f}% | {100 * row['strong']:.1f}% "
            f"| {100 * row['refit_accuracy']:.1f}% | {row['hsj_mean']:.3f} "
            f"| {row['sigmas'][-1]:.2f} |"
        )
    first = rows[0]
    return (
        f"Seed {seed}; accuracies of a standard linear head on the {first['strong_size']} first "
        "test images "
        "for APGD, all test images otherwise; HSJ: mean over the first "
        f"{first['hsj_points']} correctly classified test images of the refit head.\n\n"
        + "\n".join(lines)
    )


def comparison_setup(profile: str = "cpu") -> dict[str, int]:
    """The sizes behind ``profile``'s comparison of spectral regularization with worst-case MI
    training (the runs :func:`stored_seed_runs` accepts): ``train_images`` (the data set's
    training images less the validation split), ``encoder_epochs``, ``attack_points`` and
    ``hsj_steps`` (HopSkipJump iterations). Raises ``ValueError`` for an unknown profile or one
    that trains on the whole training set (its size is then the data set's)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    comparison = PROFILES[profile].comparison
    train = PROFILES[comparison.profile].table1
    size = train.train_size[comparison.dataset]
    if size is None:
        raise ValueError(
            f"profile {profile!r} trains on all of {comparison.dataset}: no subset size"
        )
    return {
        "train_images": size - train.val_size,
        "encoder_epochs": train.encoder_epochs,
        "attack_points": comparison.attack_points,
        "hsj_steps": comparison.hsj_steps,
    }


def stored_seed_runs(
    seeds: Sequence[int] = range(5), profile: str = "cpu"
) -> tuple[dict[float, dict[int, list[Record]]], str]:
    """The stored comparisons of :data:`SEED_RUNS` made with ``profile``'s ``comparison``
    settings at their lambda, by lambda and seed (``{lambda: {seed: rows}}``), and one line per
    result naming the seeds and commits found. The unpenalised arms do not depend on lambda:
    the runs at the smaller lambda store only the penalised arms and share the unpenalised rows
    of the first result's seed."""
    base = PROFILES[profile].comparison
    found: dict[float, dict[int, list[Record]]] = {}
    notes = []
    for name, lam in SEED_RUNS.items():
        record: ComparisonSettings = dataclasses.replace(base, spectral_lambda=lam)
        runs, commits = {}, set()
        for seed in seeds:
            stored = load_stored(f"bench/results/{name}{'' if seed == 0 else f'_seed{seed}'}.json")
            if spectral_vs_mi.stored_matches(stored["settings"], record) and stored["seed"] == seed:
                runs[seed] = stored["rows"]
                commits.add(stored["provenance"]["git_commit"])
        found[lam] = runs
        notes.append(
            f"{name}: seeds {', '.join(map(str, sorted(runs)))}; "
            f"commit(s) {', '.join(sorted(commits))}"
        )
    first, *others = found
    unpenalised = {
        seed: [row for row in rows if row["spectral_lambda"] == 0]
        for seed, rows in found[first].items()
    }
    for lam in others:
        found[lam] = {seed: unpenalised[seed] + rows for seed, rows in found[lam].items()}
    return found, "\n".join(notes)


def _seed_summaries(
    runs_by_lam: Mapping[float, Mapping[int, list[Record]]],
) -> list[tuple[float, Record, Record | None, list[float]]]:
    """Per (lambda, arm) shown: lambda, the summary over seeds, the paired difference from the
    standard arm (None for it) and the per-seed distances. The unpenalised arms are shown once,
    with the first lambda."""
    out = []
    for n, (lam, runs) in enumerate(runs_by_lam.items()):
        summary, paired = spectral_vs_mi.across_seeds(dict(runs))
        delta = {d["arm"]: d for d in paired}
        for s in summary:
            if n > 0 and s["lam"] == 0:
                continue
            values = [
                row["hsj_mean"] for rows in runs.values() for row in rows if row["arm"] == s["arm"]
            ]
            out.append((lam, s, delta.get(s["arm"]), values))
    return out


def seeds_markdown(runs_by_lam: Mapping[float, Mapping[int, list[Record]]]) -> str:
    """The comparison over seeds (:func:`stored_seed_runs`) as Markdown: per arm and lambda the
    mean ± s.e. over seeds of the natural and refit-head accuracy and the HopSkipJump distance,
    the paired change of the distance from the standard arm, and the paired difference of
    *both* from worst-case MI alone at each lambda
    (:func:`robustrep_lite.experiments.spectral_vs_mi.across_seeds`)."""
    lines = [
        "| arm (layers) | λ | seeds | natural | refit head | HSJ distance "
        "| Δ distance vs standard (paired) |",
        "|---|---|---|---|---|---|---|",
    ]
    first_run = next(iter(next(iter(runs_by_lam.values())).values()))
    layers = len(first_run[0]["sigmas"])
    for _, s, d, _ in _seed_summaries(runs_by_lam):
        change = f"{d['mean']:+.3f} ± {d['se']:.3f}" if d else ""
        lines.append(
            f"| {vs_mi_label(s['arm'], layers)} | {s['lam']:g} | {s['seeds']} "
            f"| {100 * s['natural_mean']:.1f} ± {100 * s['natural_se']:.1f}% "
            f"| {100 * s['refit_accuracy_mean']:.1f} ± {100 * s['refit_accuracy_se']:.1f}% "
            f"| {s['hsj_mean_mean']:.3f} ± {s['hsj_mean_se']:.3f} | {change} |"
        )
    both = []
    for lam, runs in runs_by_lam.items():
        paired = spectral_vs_mi.across_seeds(dict(runs), baseline="worst-case MI")[1]
        d = next(d for d in paired if d["arm"] == "both")
        both.append(f"λ = {lam:g}: {d['mean']:+.3f} ± {d['se']:.3f}")
    return (
        "Mean ± standard error over seeds; the last column is the mean over seeds of "
        "(arm − standard arm of the same seed).\n\n"
        + "\n".join(lines)
        + "\n\nBoth − worst-case MI alone (paired): "
        + "; ".join(both)
    )


def seeds_figure(runs_by_lam: Mapping[float, Mapping[int, list[Record]]]) -> go.Figure:
    """The mean HopSkipJump distance of the refit head per arm and lambda over seeds
    (:func:`stored_seed_runs`): a bar of the mean ± s.e. and one marker per seed."""
    shown = _seed_summaries(runs_by_lam)
    names = [
        s["arm"] if s["lam"] == 0 else f"{s['arm']} (λ = {s['lam']:g})" for _, s, _, _ in shown
    ]
    seeds = max(len(values) for *_, values in shown)
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[s["hsj_mean_mean"] for _, s, _, _ in shown],
        error_y={"type": "data", "array": [s["hsj_mean_se"] for _, s, _, _ in shown]},
        name="mean ± s.e.",
        marker_color="lightsteelblue",
    )
    for seed in range(seeds):
        fig.add_scatter(
            x=names,
            y=[values[seed] if seed < len(values) else None for *_, values in shown],
            mode="markers",
            name=f"seed {seed}",
            marker={"size": 8},
        )
    fig.update_layout(
        title=f"Mean HopSkipJump distance of the refit head, {seeds} seeds (MNIST, cpu profile)",
        yaxis={"title": "mean ℓ₂ distance", "tickformat": ".2f"},
        height=460,
        margin={"t": 70, "b": 90},
    )
    return fig


# ------------------------------------------------------------------------------------------
# The numbers and verdicts the chapter's prose quotes, read off a run (glued by the chapter)
# ------------------------------------------------------------------------------------------
def xor_facts(measured: Mapping[str, Record], profile_name: str) -> dict[str, Any]:
    """Every number and verb of the XOR paragraph, from :func:`xor_measurements` of the page's
    run: the findings sentence (:func:`xor_findings`) and the volume-element summary."""
    facts: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        facts[name] = value

    put("xor_profile", profile_name)
    put("xor_findings", xor_findings(measured))
    xor_fold = measured["none"]["volume"] / measured["rep-spectral"]["volume"]
    put(
        "xor_summary",
        f"rep-spectral's volume element of the representation at the data is "
        f"{xor_fold:.1f} times {'smaller' if xor_fold >= 1 else 'larger'} than the "
        "unregularised one's, while "
        "the readout's σ_max(W₂) "
        + (
            "grows"
            if measured["rep-spectral"]["sigmas"][1] > measured["none"]["sigmas"][1]
            else "shrinks"
        ),
    )
    return facts


def mnist_facts(stored_rows: Sequence[Record]) -> dict[str, Any]:
    """Every number and verdict the MNIST paragraphs quote, from the rows of the stored
    ``bench/spectral_mnist.py`` run: paired changes against no penalty (mean and standard
    error per arm and lambda; accuracies in points), levels, the refit range, whether the
    paper's order (rep > ll > none in the HopSkipJump distance at lambda = 0.01) reproduces,
    whether DDN agrees, and which arm wins at each lambda."""
    facts: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        facts[name] = value

    change = {
        key: {(d["arm"], d["lam"]): d for d in paired_differences(stored_rows, key)}
        for key in METRICS
    }
    means = {(s["arm"], s["lam"]): s for s in summarise_rows(stored_rows)}
    put("mn_seeds", means[("none", 0.0)]["seeds"])
    for arm in ("rep-spectral", "ll-spectral"):
        for lam, exponent in ((0.001, 3), (0.01, 2), (0.1, 1)):
            tag = f"mn_{arm[:2]}{exponent}"  # e.g. mn_re2: rep-spectral at λ = 1e-2
            for key in METRICS:
                scale = 100 if "accuracy" in key else 1  # accuracies in points
                put(f"{tag}_{key}", scale * change[key][(arm, lam)]["mean"])
                put(f"{tag}_{key}_se", scale * change[key][(arm, lam)]["se"])
            for key in ("test_accuracy", "sigma_2"):
                scale = 100 if "accuracy" in key else 1
                put(
                    f"{tag}_{key}_level",
                    scale * means[(arm, lam)][key + "_mean"],
                )
    none = means[("none", 0.0)]
    put("mn_none_sigma_2", none["sigma_2_mean"])
    put(
        "mn_re2_hsj_pct",
        100 * change["hsj_mean"][("rep-spectral", 0.01)]["mean"] / none["hsj_mean_mean"],
    )
    put(
        "mn_hsj_over_ddn",
        100 * (none["hsj_mean_mean"] / none["ddn_mean_mean"] - 1),
    )
    refit2 = [
        means[(arm, lam)]["refit_accuracy_mean"]
        for arm, lam in (("none", 0.0), ("rep-spectral", 0.01), ("ll-spectral", 0.01))
    ]
    put("mn_refit2_lo", 100 * min(refit2))
    put("mn_refit2_hi", 100 * max(refit2))

    def order(key, lam):  # True when rep-spectral > ll-spectral > none in the paired change
        rep, ll = (change[key][(arm, lam)]["mean"] for arm in ("rep-spectral", "ll-spectral"))
        return rep > ll > 0

    put(
        "mn_order2",
        "reproduces (rep > ll > none)" if order("hsj_mean", 0.01) else "does not reproduce",
    )
    put(
        "mn_ddn_agrees",
        "agrees" if order("ddn_mean", 0.01) == order("hsj_mean", 0.01) else "does not agree",
    )
    own = [change["test_accuracy"][(arm, 0.01)]["mean"] for arm in ("rep-spectral", "ll-spectral")]
    put(
        "mn_own_accuracy",
        "does not rise, unlike the paper's Figure 4"
        if max(own) <= 0
        else "rises for at least one arm, as in the paper's Figure 4",
    )
    winner = {
        lam: max(
            ("rep-spectral", "ll-spectral"),
            key=lambda arm: change["hsj_mean"][(arm, lam)]["mean"],
        )
        for lam in (0.001, 0.01)
    }
    put("mn_winner3", winner[0.001])
    put(
        "mn_order_heading",
        "The order depends on λ."
        if winner[0.001] != winner[0.01]
        else "At 10⁻³ the order is the same.",
    )
    return facts


def digits_facts(digits: Record) -> dict[str, Any]:
    """Every number and verdict of the digits paragraph: our stored run of
    ``bench/spectral_mnist.py --dataset digits`` beside the reference run it stores (the
    authors' recipe, their numbers, not ours)."""
    facts: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        facts[name] = value

    ours = {(s["arm"], s["lam"]): s for s in summarise_rows(digits["rows"])}
    ref = {(r["arm"], r["lam"]): r for r in digits["reference"]}
    for (arm, lam), s in ours.items():
        tag = f"dg_{arm[:2]}{ {0.0: '', 0.01: '2', 0.1: '1'}[lam] }"  # e.g. dg_re2, dg_no
        put(f"{tag}_hsj", s["hsj_mean_mean"])
        put(f"{tag}_acc", s["test_accuracy_mean"])
        put(f"{tag}_ref_ta", ref[(arm, lam)]["ta_distance"] or float("nan"))
        put(f"{tag}_ref_acc", ref[(arm, lam)]["accuracy"])

    def rank(
        distance,
    ):  # the arms at λ = 0.01 by decreasing distance, e.g. "rep > ll > none"
        keys = [("rep-spectral", 0.01), ("ll-spectral", 0.01), ("none", 0.0)]
        return " > ".join(k[0].split("-")[0] for k in sorted(keys, key=distance, reverse=True))

    ours_rank = rank(lambda k: ours[k]["hsj_mean_mean"])
    ref_rank = rank(lambda k: ref[k]["ta_distance"])
    put("dg_rank", ours_rank)
    put("dg_ref_rank", ref_rank)
    put(
        "dg_rank_verdict",
        "the same order" if ours_rank == ref_rank else "a different order",
    )
    gap = abs(ours[("none", 0.0)]["hsj_mean_mean"] / ref[("none", 0.0)]["ta_distance"] - 1)
    put("dg_none_gap", 100 * gap)
    below = all(
        ours[(a, 0.01)]["test_accuracy_mean"] < ref[(a, 0.01)]["accuracy"]
        for a in ("rep-spectral", "ll-spectral")
    )
    put("dg_acc_verdict", "below" if below else "not all below")
    refit = [ours[(a, 0.01)]["refit_accuracy_mean"] for a in ("rep-spectral", "ll-spectral")]
    put("dg_refit_lo", 100 * min(refit))
    put("dg_refit_hi", 100 * max(refit))
    ours_back = (
        ours[("rep-spectral", 0.1)]["hsj_mean_mean"] < ours[("rep-spectral", 0.01)]["hsj_mean_mean"]
    )
    ref_rose = (
        ref[("rep-spectral", 0.1)]["ta_distance"] > ref[("rep-spectral", 0.01)]["ta_distance"]
    )
    put(
        "dg_rep1_verdict",
        ("falls back" if ours_back else "still rises") + " from λ = 0.01",
    )
    put("dg_ref_rep1_verdict", "still rose" if ref_rose else "fell back too")
    return facts


def seed_facts(runs_by_lam: Mapping[float, Mapping[int, Sequence[Record]]]) -> dict[str, Any]:
    """Every number and verdict of the five-seed comparison with worst-case MI, from
    :func:`stored_seed_runs` (two lambdas): spreads, paired changes with standard errors,
    the largest ``|mean| / s.e.``, seed 0 against the others, and the sigma_max counts."""
    facts: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        facts[name] = value

    big, small = sorted(runs_by_lam, reverse=True)  # λ = 0.1 and 0.01
    runs = runs_by_lam[big]
    seeds = sorted(runs)
    arm = {s: {row["arm"]: row for row in runs[s]} for s in seeds}  # at λ = 0.1
    vs_summary = {s["arm"]: s for s in spectral_vs_mi.across_seeds(dict(runs))[0]}
    vs_std = vs_summary["standard"]
    paired = {
        (lam, baseline): {
            d["arm"]: d
            for d in spectral_vs_mi.across_seeds(dict(runs_by_lam[lam]), baseline=baseline)[1]
        }
        for lam in (big, small)
        for baseline in ("standard", "worst-case MI")
    }
    standard = [arm[s]["standard"]["hsj_mean"] for s in seeds]
    put("vs_seeds", len(seeds))
    put("vs_std_lo", min(standard))
    put("vs_std_hi", max(standard))
    put("vs_std_mean", vs_std["hsj_mean_mean"])
    attacked = max(
        row[k]
        for r in runs_by_lam.values()
        for rows in r.values()
        for row in rows
        for k in ("pgd", "strong")
    )
    put(
        "vs_attack",
        "**No arm makes a standard head robust at ε = 0.3**: 0% under PGD-7 and "
        "under APGD for all four arms in every seed"
        if attacked == 0
        else "**Accuracy under attack at ε = 0.3 stays at most "
        f"{100 * attacked:.1f}%** (PGD-7 and APGD, all arms and seeds)",
    )
    put(
        "vs_attack_summary",
        "No arm gives a standard head any robustness"
        if attacked == 0
        else f"No arm gives a standard head more than {100 * attacked:.1f}% accuracy under attack",
    )
    wc = paired[(big, "standard")]["worst-case MI"]
    longer = sum(
        arm[s]["worst-case MI"]["hsj_mean"] > arm[s]["standard"]["hsj_mean"] for s in seeds
    )
    put(
        "vs_wc_every",
        "in every seed" if longer == len(seeds) else f"in {longer} of {len(seeds)} seeds",
    )
    put("vs_wc", wc["mean"])
    put("vs_wc_se", wc["se"])
    put("vs_wc_pct", 100 * wc["mean"] / vs_std["hsj_mean_mean"])
    put(
        "vs_wc_natural_cost",
        100 * (vs_std["natural_mean"] - vs_summary["worst-case MI"]["natural_mean"]),
    )
    put(
        "vs_wc_refit_cost",
        100 * (vs_std["refit_accuracy_mean"] - vs_summary["worst-case MI"]["refit_accuracy_mean"]),
    )
    # |paired mean| / s.e. of every penalty effect: rep-spectral alone, both − worst-case MI
    z = []
    for lam, tag in ((big, "1"), (small, "2")):
        rep = paired[(lam, "standard")]["rep-spectral"]
        both = paired[(lam, "worst-case MI")]["both"]
        lam_summary = {s["arm"]: s for s in spectral_vs_mi.across_seeds(dict(runs_by_lam[lam]))[0]}
        put(f"vs_rep{tag}", rep["mean"])
        put(f"vs_rep{tag}_se", rep["se"])
        put(
            f"vs_rep{tag}_natural",
            100 * (lam_summary["rep-spectral"]["natural_mean"] - vs_std["natural_mean"]),
        )
        put(f"vs_both{tag}", both["mean"])
        put(f"vs_both{tag}_se", both["se"])
        z += [abs(rep["mean"]) / rep["se"], abs(both["mean"]) / both["se"]]
        seed0 = {row["arm"]: row["hsj_mean"] for row in runs_by_lam[lam][seeds[0]]}
        put(f"vs_seed0_both{tag}", seed0["both"] - seed0["worst-case MI"])
    put("vs_rep_z", max(z[0], z[2]))
    put("vs_both_z", max(z[1], z[3]))
    put("vs_pen_z", max(z))
    put(
        "vs_rep_heading",
        "Rep-spectral alone does nothing measurable to the distance"
        if max(z[0], z[2]) < 2
        else "Rep-spectral alone changes the distance",
    )
    put(
        "vs_both_heading",
        "Combined with worst-case MI training the penalty neither adds nor takes away much"
        if max(z[1], z[3]) < 2
        else "Combined with worst-case MI training the penalty changes the distance",
    )
    seed0 = arm[seeds[0]]
    put(
        "vs_seed0_wc",
        seed0["worst-case MI"]["hsj_mean"] - seed0["standard"]["hsj_mean"],
    )
    rep_pct = [
        100 * (arm[s]["rep-spectral"]["hsj_mean"] / arm[s]["standard"]["hsj_mean"] - 1)
        for s in seeds
    ]
    put("vs_seed0_rep_pct", rep_pct[0])
    put("vs_other_rep_lo", min(rep_pct[1:]))
    put("vs_other_rep_hi", max(rep_pct[1:]))
    fall = [
        100 * (1 - r / b)
        for s in seeds
        for r, b in zip(arm[s]["rep-spectral"]["sigmas"], arm[s]["standard"]["sigmas"], strict=True)
    ]
    put("vs_sigma_fall_lo", min(fall))
    put("vs_sigma_fall_hi", max(fall))
    put(
        "vs_sigma_fall_every",
        "in every seed"
        if min(fall) > 0
        else f"in {sum(f > 0 for f in fall)} of {len(fall)} (layer, seed) pairs",
    )
    raised = [
        w > b
        for s in seeds
        for w, b in zip(
            arm[s]["worst-case MI"]["sigmas"], arm[s]["standard"]["sigmas"], strict=True
        )
    ]
    put(
        "vs_wc_raised",
        "every" if all(raised) else f"{sum(raised)} of the {len(raised)} (layer, seed)",
    )
    put(
        "vs_std_last_sigma",
        float(sum(arm[s]["standard"]["sigmas"][-1] for s in seeds) / len(seeds)),
    )
    put(
        "vs_wc_last_sigma",
        float(sum(arm[s]["worst-case MI"]["sigmas"][-1] for s in seeds) / len(seeds)),
    )
    return facts
