"""What Chapter 3 shows of Lemma 3.3 and Theorem 3.4 (Section 3.2 of Zhu, Zhang & Evans, 2020):
the error rate of a moved Gaussian mixture rising to its supremum, the adversarial accuracy
ceiling ``(I_worst + log 2) / log |Y|`` of Theorem 3.4 as a figure, and as a live calculator.

The numbers come from :mod:`robustrep_lite.theory.theorems`; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from robustrep_lite.book.plots import live_panel, slider_figure
from robustrep_lite.core.paper_numbers import PAPER_ACCURACY_CEILING, PAPER_WORST_CASE_MI
from robustrep_lite.theory.theorems import (
    MonteCarloResult,
    adversarial_accuracy_upper_bound,
    adversarial_risk_lower_bound,
)

__all__ = [
    "CLASS_COUNTS",
    "ceiling_calculator",
    "ceiling_figure",
    "ceiling_sentence",
    "lemma_3_3_figure",
    "lemma_3_3_sentence",
    "paper_example_verdict",
    "worst_case_mi_for_accuracy",
]

#: The numbers of classes the calculator and the ceiling figure offer.
CLASS_COUNTS = (2, 10, 100, 1000)


def _fractions_and_risk(fractions: ArrayLike, risk: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, r = np.asarray(fractions, dtype=float), np.asarray(risk, dtype=float)
    if t.ndim != 1 or t.shape != r.shape or t.size < 2:
        raise ValueError(
            f"fractions and risk must be 1-d of one length >= 2, got {t.shape} and {r.shape}"
        )
    return t, r


def lemma_3_3_sentence(
    fractions: ArrayLike, risk: ArrayLike, monte_carlo: MonteCarloResult, every: int = 5
) -> str:
    """Lemma 3.3 in words: the error rate of the distribution moved by every ``every``-th
    fraction ``t`` of the worst-case perturbation, then the Monte Carlo adversarial risk of the
    per-point worst case (explicit perturbations) with its standard error."""
    t, r = _fractions_and_risk(fractions, risk)
    moved = ", ".join(
        f"{ri:.4f} at t = {ti:.1f}" for ti, ri in zip(t[::every], r[::every], strict=True)
    )
    return (
        f"Error rate of the moved distribution: {moved}.\n"
        f"Per-point worst case, Monte Carlo with explicit perturbations: "
        f"{monte_carlo.adversarial_risk:.4f} ± {monte_carlo.se_adversarial_risk:.4f}."
    )


def lemma_3_3_figure(
    fractions: ArrayLike,
    risk: ArrayLike,
    *,
    eps: float,
    p: float,
    monte_carlo: MonteCarloResult | None = None,
) -> go.Figure:
    """Lemma 3.3 in the Gaussian mixture of Section 3.1: the error rate ``Pr[f*(X') != Y]`` of
    the distribution that moves every point by the fraction ``t`` of its worst-case
    perturbation (``risk`` at ``fractions``), the supremum ``AdvRisk_eps(f*)`` reached at
    ``t = 1`` (dotted) and, if given, the Monte Carlo per-point worst case (± 2 s.e.)."""
    t, r = _fractions_and_risk(fractions, risk)
    fig = go.Figure(
        go.Scatter(x=t, y=r, mode="lines+markers", name="error rate of the moved distribution")
    )
    fig.add_hline(
        y=float(r[-1]),
        line={"dash": "dot"},
        annotation_text="AdvRisk<sub>ε</sub>(f*), the supremum",
        annotation_position="top left",
    )
    high = float(r.max())
    if monte_carlo is not None:
        se = monte_carlo.se_adversarial_risk
        fig.add_scatter(
            x=[float(t[-1])],
            y=[monte_carlo.adversarial_risk],
            error_y={"type": "data", "array": [2 * se]},
            mode="markers",
            marker={"size": 10, "symbol": "diamond"},
            name="per-point worst case, Monte Carlo (± 2 s.e.)",
        )
        high = max(high, monte_carlo.adversarial_risk + 2 * se)
    low = float(r.min())
    pad = 0.05 * (high - low) + 1e-3
    fig.update_layout(
        title={"text": f"Lemma 3.3 in the Gaussian mixture (p = {p:g}, ε = {eps:g})", "y": 0.95},
        xaxis={"title": "fraction t of the worst-case perturbation applied", "dtick": 0.1},
        yaxis={"title": "Pr[f*(X′) ≠ Y]", "range": [low - pad, high + pad], "tickformat": ".2f"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 70, "r": 20, "t": 100, "b": 60},
        height=440,
    )
    return fig


def ceiling_sentence(worst_case_mi: float, n_classes: int) -> str:
    """Theorem 3.4 for one ``(I_worst, |Y|)`` as an HTML sentence: the adversarial risk floor
    (clipped at 0), the accuracy ceiling in percent, and a note when the raw bound is vacuous."""
    raw = float(adversarial_risk_lower_bound(worst_case_mi, n_classes, clip=False))
    accuracy = float(adversarial_accuracy_upper_bound(worst_case_mi, n_classes))
    note = " (vacuous: the raw bound is negative)" if raw <= 0 else ""
    return (
        f"adversarial risk &ge; {max(raw, 0.0):.3f}, so adversarial accuracy "
        f"&le; <b>{100 * accuracy:.1f}%</b>{note}"
    )


def worst_case_mi_for_accuracy(accuracy: ArrayLike, n_classes: ArrayLike) -> np.ndarray:
    """Theorem 3.4 read backwards: the worst-case MI (nats) at which the ceiling
    ``(I_worst + log 2) / log |Y|`` reaches ``accuracy``, i.e. ``accuracy * log |Y| - log 2``;
    negative where even ``I_worst = 0`` allows ``accuracy``."""
    a = np.asarray(accuracy, dtype=float)
    if not ((a >= 0) & (a <= 1)).all():
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy!r}")
    n = np.asarray(n_classes, dtype=float)
    if (n < 2).any() or (n != np.round(n)).any():
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return a * np.log(n) - np.log(2.0)


def paper_example_verdict(accuracy: float, digits: int = 1) -> str:
    """Whether a computed ceiling for the paper's example agrees with
    :data:`PAPER_ACCURACY_CEILING` at the paper's precision (``digits`` decimals of a percent):
    ``"reproduces"`` or ``"does not reproduce"``."""
    same = round(100 * accuracy, digits) == round(100 * PAPER_ACCURACY_CEILING, digits)
    return "reproduces" if same else "does not reproduce"


def ceiling_calculator(
    value: float = PAPER_WORST_CASE_MI,
    classes: Sequence[int] = CLASS_COUNTS,
    n_classes: int = 10,
) -> widgets.VBox:
    """Theorem 3.4 as a calculator: a slider for ``I_worst`` (0-5 nats), a choice of ``|Y|``
    among ``classes`` and the :func:`ceiling_sentence` they give, updated live."""
    if n_classes not in classes:
        raise ValueError(f"n_classes must be one of {tuple(classes)!r}, got {n_classes!r}")
    mi_slider = widgets.FloatSlider(
        value=value,
        min=0.0,
        max=5.0,
        step=0.01,
        description="I_worst (nats)",
        style={"description_width": "initial"},
    )
    choice = widgets.Dropdown(options=list(classes), value=n_classes, description="|Y|")
    answer = widgets.HTML()

    def recompute(_: object = None) -> None:
        answer.value = ceiling_sentence(mi_slider.value, choice.value)

    mi_slider.observe(recompute, names="value")
    choice.observe(recompute, names="value")
    recompute()
    return live_panel(mi_slider, choice, answer)


def ceiling_figure(
    mi_grid: ArrayLike,
    classes: Sequence[int] = CLASS_COUNTS,
    example: float = PAPER_WORST_CASE_MI,
    active: int = 1,
) -> go.Figure:
    """Theorem 3.4's adversarial accuracy ceiling (percent) against ``I_worst`` on ``mi_grid``,
    one slider position per number of classes, with the point ``I_worst = log(|Y| / 2)`` from
    which the bound is vacuous (dotted) and the paper's example ``example`` (star)."""
    grid = np.asarray(mi_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"mi_grid must be 1-d with at least 2 points, got shape {grid.shape}")
    steps = []
    for n in classes:
        ceiling = 100 * adversarial_accuracy_upper_bound(grid, n)
        vacuous_at = float(np.log(n / 2))
        at_example = 100 * float(adversarial_accuracy_upper_bound(example, n))
        steps.append(
            (
                str(n),
                [
                    go.Scatter(x=grid, y=ceiling, name="accuracy ceiling (Theorem 3.4)"),
                    go.Scatter(
                        x=[vacuous_at, vacuous_at],
                        y=[0, 100],
                        mode="lines",
                        name="vacuous from here",
                        line={"dash": "dot", "color": "gray"},
                    ),
                    go.Scatter(
                        x=[example],
                        y=[at_example],
                        mode="markers",
                        name=f"I<sub>worst</sub> = {example:g} nats (the paper's example)",
                        marker={"size": 10, "symbol": "star"},
                    ),
                ],
            )
        )
    # the slider below the axis title, not on it (slider_figure's room for a titled x axis)
    return slider_figure(
        steps,
        slider_label="|Y|",
        active=active,
        layout={
            "title": {
                "text": "Theorem 3.4: the highest adversarial accuracy a representation allows",
                "y": 0.95,
            },
            "xaxis": {
                "title": "worst-case mutual information I<sub>worst</sub> [nats]",
                "range": [float(grid[0]), float(grid[-1])],
            },
            "yaxis": {"title": "adversarial accuracy ceiling [%]", "range": [0, 105]},
            "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
            "margin": {"l": 70, "r": 20, "t": 100, "b": 150},
            "height": 540,
        },
    )
