"""Chapter 5's figures of the Section 6.1 zoo: adversarial accuracy over ε (a plotly slider and
its live ipywidgets twin), the analogues of the paper's Figure 1 (logit-layer RV against the
accuracy gap), Figure 2 (normal vs worst-case MI; Theorem 3.4's bound vs adversarial accuracy)
and Figure 3 (per-channel MI and RV of Baseline-H's second conv layer).

The numbers come from :mod:`robustrep_lite.experiments.zoo` (the measured records, merged by
:func:`robustrep_lite.book.zoo_report.merge_measurements`); this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from robustrep_lite.book.plots import SLIDER_PAD_TITLED, live_panel, slider_figure
from robustrep_lite.book.zoo_report import eps_label
from robustrep_lite.experiments.settings import ZooModel

__all__ = [
    "DATASET_NAMES",
    "accuracy_slider_figure",
    "accuracy_widget",
    "bound_figure",
    "channel_figure",
    "model_name",
    "rv_gap_figure",
    "worst_mi_figure",
]

Record = dict[str, Any]
_BLUE = "#4c72b0"
_LEGEND = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}


#: How a figure names a data set.
DATASET_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def model_name(m: ZooModel) -> str:
    """How a figure names a model: its label with the training radius as ε, e.g.
    ``"baseline_h (adv ε = 8/255)"``."""
    return m.label.replace("adv eps=", "adv ε = ")


def _tick(m: ZooModel, dataset: bool = True) -> str:
    """A model's name on a category axis, over lines short enough to stand side by side:
    data set, architecture, training."""
    arch, _, kind = model_name(m).partition(" (")
    lines = [DATASET_NAMES.get(m.dataset, m.dataset)] if dataset else []
    return "<br>".join([*lines, arch, f"({kind}" if kind else ""]).removesuffix("<br>")


def _members(
    curves: Mapping[ZooModel, Sequence[float]], grid: Sequence[float], dataset: str
) -> list[ZooModel]:
    members = [m for m in curves if m.dataset == dataset]
    if not members or not grid:
        raise ValueError(f"curves must hold a model of {dataset!r} and grid at least one ε")
    bad = [m.label for m in members if len(curves[m]) != len(grid)]
    if bad:
        raise ValueError(f"curves of {bad} do not have one value per ε of grid ({len(grid)})")
    return members


def _start(grid: Sequence[float]) -> int:
    """The slider's first position: the second-largest ε (the evaluation radius of Section
    6.1 on the book's grids), or the only one."""
    return max(len(grid) - 2, 0)


def accuracy_slider_figure(
    curves: Mapping[ZooModel, Sequence[float]],
    grid: Sequence[float],
    dataset: str,
    points: int,
) -> go.Figure:
    """PGD-7 accuracy of every model of ``dataset`` as bars, one slider position per ε of
    ``grid`` (``curves[m][i]`` at ``grid[i]``, from :func:`robustrep_lite.experiments.zoo.
    robust_accuracy_curves` on ``points`` test images)."""
    members = _members(curves, grid, dataset)
    steps = [
        (
            eps_label(dataset, e),
            [
                go.Bar(
                    x=[_tick(m, dataset=False) for m in members],
                    y=[curves[m][i] for m in members],
                    marker_color=_BLUE,
                    name="PGD-7 accuracy",
                    text=[f"{curves[m][i]:.0%}" for m in members],
                    textposition="outside",
                )
            ],
        )
        for i, e in enumerate(grid)
    ]
    return slider_figure(
        steps,
        slider_label="ε",
        active=_start(grid),
        pad=SLIDER_PAD_TITLED,  # below the two lines of each tick label
        layout={
            "title": f"{DATASET_NAMES.get(dataset, dataset)}: PGD-7 accuracy on {points} test "
            "images",
            "yaxis": {"range": [0, 1.1], "tickformat": ".0%", "dtick": 0.2},
            "xaxis": {"automargin": True, "tickangle": 0},
            "margin": {"l": 60, "r": 20, "t": 60, "b": 150},
            "height": 500,
        },
    )


def accuracy_widget(
    curves: Mapping[ZooModel, Sequence[float]], grid: Sequence[float], dataset: str
) -> widgets.VBox:
    """The live twin of :func:`accuracy_slider_figure`: an ε slider over ``grid`` and the PGD-7
    accuracy of every model of ``dataset`` at the chosen radius (Jupyter or Colab)."""
    members = _members(curves, grid, dataset)
    slider = widgets.SelectionSlider(
        options=[(eps_label(dataset, e), i) for i, e in enumerate(grid)],
        value=_start(grid),
        description="ε",
    )
    out = widgets.HTML()

    def show(change: object = None) -> None:
        i = slider.value
        out.value = "<br>".join(f"{m.label}: {curves[m][i]:.1%}" for m in members)

    slider.observe(show, names="value")
    show()
    return live_panel(slider, out)


def _label(m: ZooModel) -> str:
    return f"{m.dataset}/{model_name(m)}"


def rv_gap_figure(measured: Mapping[ZooModel, Record]) -> go.Figure:
    """Figure 1's analogue: per model the logit-layer RV (both read-outs, ± 1 s.e.) against its
    natural - PGD-7 accuracy gap at the same radius."""
    fig = go.Figure()
    for read, symbol in (("paper", "circle"), ("refit", "diamond")):
        fig.add_scatter(
            x=[v["accuracy_gap"] for v in measured.values()],
            y=[v[f"rv_{read}"] for v in measured.values()],
            error_y={"type": "data", "array": [v[f"rv_stderr_{read}"] for v in measured.values()]},
            text=[_label(m) for m in measured],
            mode="markers",
            marker={"symbol": symbol, "size": 10},
            name=f"{read} read-out",
        )
    fig.update_layout(
        title={"text": "Figure 1 analogue: logit-layer RV vs natural − PGD-7 accuracy", "y": 0.95},
        xaxis={"title": "accuracy gap (natural − PGD-7)", "tickformat": ".0%"},
        yaxis={"title": "RV (nats)", "tickformat": ".1f"},
        legend=_LEGEND,
        margin={"l": 70, "r": 20, "t": 100, "b": 60},
        height=460,
    )
    return fig


def _grouped(title: str, yaxis: dict[str, Any]) -> dict[str, Any]:
    return {
        "barmode": "group",
        "title": {"text": title, "y": 0.95},
        "yaxis": yaxis,
        "xaxis": {"tickangle": 0, "tickfont": {"size": 11}},
        "legend": _LEGEND,
        "margin": {"l": 70, "r": 20, "t": 100, "b": 80},
        "height": 480,
    }


def worst_mi_figure(measured: Mapping[ZooModel, Record]) -> go.Figure:
    """Figure 2's analogue (left): per model the clean MI of the logit layer beside its
    worst-case MI under both read-outs."""
    labels = [_tick(m) for m in measured]
    fig = go.Figure()
    for key, name in (
        ("normal_mi", "I(X; g(X))"),
        ("worst_mi_paper", "worst case (paper)"),
        ("worst_mi_refit", "worst case (refit)"),
    ):
        fig.add_bar(x=labels, y=[v[key] for v in measured.values()], name=name)
    fig.update_layout(
        **_grouped("Figure 2 analogue (left): normal vs worst-case MI", {"title": "nats"})
    )
    return fig


def bound_figure(measured: Mapping[ZooModel, Record]) -> go.Figure:
    """Figure 2's analogue (right): per model Theorem 3.4's upper bound on adversarial accuracy
    from each read-out, beside the measured PGD-7 and APGD accuracies."""
    labels = [_tick(m) for m in measured]
    fig = go.Figure()
    for key, name in (
        ("bound_paper", "Thm 3.4 bound (paper)"),
        ("bound_refit", "Thm 3.4 bound (refit)"),
        ("pgd7_accuracy", "PGD-7 accuracy"),
        ("strong_accuracy", "APGD accuracy"),
    ):
        fig.add_bar(x=labels, y=[v[key] for v in measured.values()], name=name)
    yaxis = {"tickformat": ".0%", "range": [0, 1.05], "dtick": 0.2}
    title = "Figure 2 analogue (right): Theorem 3.4 bound vs adversarial accuracy"
    fig.update_layout(**_grouped(title, yaxis))
    return fig


def channel_figure(per_channel: Mapping[ZooModel, Record], dataset: str) -> go.Figure:
    """Figure 3's analogue: per channel of Baseline-H's second conv layer its MI against its RV,
    one marker series per model (outputs of :func:`robustrep_lite.experiments.zoo.
    channel_vulnerability`)."""
    if not per_channel:
        raise ValueError("per_channel must hold at least one model")
    fig = go.Figure()
    for m, r in per_channel.items():
        fig.add_scatter(
            x=np.asarray(r["normal_mi"]),
            y=np.asarray(r["rv"]),
            mode="markers",
            name=model_name(m),
            text=[f"channel {c}" for c in r["channel"]],
            marker={"size": 9},
        )
    fig.update_layout(
        title={
            "text": f"Figure 3 analogue ({DATASET_NAMES.get(dataset, dataset)}): per-channel MI "
            "and RV, conv layer 2",
            "y": 0.95,
        },
        xaxis={"title": "I(X; channel) (nats)"},
        yaxis={"title": "RV of the channel (nats)"},
        legend=_LEGEND,
        margin={"l": 70, "r": 20, "t": 100, "b": 60},
        height=460,
    )
    return fig
