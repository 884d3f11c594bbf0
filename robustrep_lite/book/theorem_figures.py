"""Figures and the live explorer of Chapter 2 (Theorem 3.2, exactly): the Gaussian mixture of the
paper's eq. (3.1) seen through the one-bit representation ``g(x) = sgn(w . x)``, with the closed
forms of :mod:`robustrep_lite.theory.theorems` (RV of Definition 3.1, the adversarial gap of
Definition 2.3 and the corrected bounds of Theorem 3.2) and their Monte Carlo checks.

* :func:`band_figure`: samples, the boundary of ``g`` and the band an attack can flip.
* :func:`bounds_scatter_figure`: ``RV`` against ``AG`` for random models, with the corrected
  and the printed bounds of Theorem 3.2.
* :func:`budget_traces` and :func:`budget_slider`: ``RV``, the bounds and ``AG`` against ``ε``.
* :func:`readout_html` and :func:`theorem_explorer`: the ipywidgets version, for a live kernel.
* :func:`direction_figure`: ``RV`` and the natural risk against the direction of ``w``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from robustrep_lite.book.plots import live_panel, slider_figure
from robustrep_lite.theory import theorems as theory

__all__ = [
    "NORMS",
    "band_figure",
    "bounds_coverage_sentence",
    "bounds_scatter_figure",
    "budget_slider",
    "budget_traces",
    "direction_comparison",
    "direction_figure",
    "readout_html",
    "theorem_explorer",
    "unit_direction",
]

#: The three usual threat models: label and ``p``.
NORMS: tuple[tuple[str, float], ...] = (("1", 1.0), ("2", 2.0), ("∞", np.inf))
_Y_TITLE = "nats (RV, bounds) / probability (AG)"


def unit_direction(angle_deg: float) -> NDArray[np.float64]:
    """The unit vector ``w = (cos a, sin a)`` at ``angle_deg`` degrees (``||w||_2 = 1``, as in
    Theorem 3.2)."""
    rad = np.deg2rad(angle_deg)
    return np.array([np.cos(rad), np.sin(rad)])


def band_figure(
    x: ArrayLike, y: ArrayLike, w: ArrayLike, eta: float, eps: float, p: float
) -> go.Figure:
    """Samples ``(x, y)`` of model (3.1) (n, 2), the boundary ``w . x = 0`` of ``g`` and the
    band ``|w . x| < η`` (``η = ε ||w||_q``, ``theory.gaussian_mixture_projection``) whose points
    an ``ℓ_p`` budget ``ε`` can flip, drawn as crosses."""
    xs, ys, w_a = (np.asarray(a, dtype=float) for a in (x, y, w))
    if xs.ndim != 2 or xs.shape[1] != 2 or ys.shape != (len(xs),) or w_a.shape != (2,):
        raise ValueError("x must be (n, 2), y (n,) and w (2,)")
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    in_band = np.abs(xs @ w_a) < eta
    fig = go.Figure()
    for label, colour in ((1, "#1f77b4"), (-1, "#d62728")):
        keep = (ys == label) & ~in_band
        fig.add_scatter(
            x=xs[keep, 0],
            y=xs[keep, 1],
            mode="markers",
            name=f"y = {label:+d}".replace("-", "−"),
            marker={"color": colour, "size": 4, "opacity": 0.5},
        )
    fig.add_scatter(
        x=xs[in_band, 0],
        y=xs[in_band, 1],
        mode="markers",
        name="in the band |w·x| < η",
        marker={"color": "black", "size": 5, "symbol": "x"},
    )
    t = np.linspace(-4, 4, 2)
    along = np.array([-w_a[1], w_a[0]])  # direction along the boundary
    for offset, dash in ((0.0, "solid"), (eta, "dot"), (-eta, "dot")):
        line = np.outer(t, along) + offset * w_a
        fig.add_scatter(
            x=line[:, 0],
            y=line[:, 1],
            mode="lines",
            showlegend=bool(offset == 0.0),
            name="w·x = 0 (and ±η)",
            line={"color": "gray", "dash": dash},
        )
    norm = {1.0: "ℓ₁", 2.0: "ℓ₂"}.get(float(p), "ℓ∞" if np.isinf(p) else f"ℓ_{p:g}")
    fig.update_layout(
        title=f"Model (3.1): samples, the boundary of g and the band an {norm} budget "
        f"ε = {eps} can flip",
        xaxis={"range": [-4, 4], "title": "x1"},
        yaxis={"range": [-3, 3], "title": "x2", "scaleanchor": "x"},
        height=480,
    )
    return fig


def bounds_scatter_figure(adversarial_gap: ArrayLike, rv: ArrayLike) -> go.Figure:
    """``RV_ε(g)`` against ``AG_ε(f*)`` for many models (grey points), with the corrected bounds
    of Theorem 3.2 (``theory.theorem_3_2_bounds``, solid) and the printed ones
    (``theory.theorem_3_2_bounds_as_printed``, dashed) for ``AG`` in ``[0, 1]``."""
    ag, rv_a = np.asarray(adversarial_gap, dtype=float), np.asarray(rv, dtype=float)
    if ag.shape != rv_a.shape:
        raise ValueError(f"adversarial_gap and rv must match, got {ag.shape}, {rv_a.shape}")
    curve = np.linspace(0, 1, 201)
    fig = go.Figure()
    fig.add_scatter(
        x=ag,
        y=rv_a,
        mode="markers",
        name="random models",
        marker={"size": 3, "color": "#7f7f7f", "opacity": 0.6},
    )
    for (lo, hi), name, dash in (
        (theory.theorem_3_2_bounds(curve), "corrected", "solid"),
        (theory.theorem_3_2_bounds_as_printed(curve), "as printed", "dash"),
    ):
        fig.add_scatter(x=curve, y=lo, mode="lines", name=f"{name}: lower", line={"dash": dash})
        fig.add_scatter(x=curve, y=hi, mode="lines", name=f"{name}: upper", line={"dash": dash})
    fig.update_layout(
        title="Theorem 3.2: RV against the adversarial gap of the best classifier",
        xaxis={"title": "AG<sub>ε</sub>(f*)", "range": [-0.02, 1.02]},
        yaxis={"title": "RV<sub>ε</sub>(g) [nats]", "range": [-0.02, 0.72]},
        height=480,
    )
    return fig


def budget_traces(
    theta: ArrayLike,
    cov: ArrayLike,
    w: ArrayLike,
    p: float,
    eps_curve: ArrayLike,
    eps_mc: ArrayLike,
    *,
    n_samples: int,
    seed: int,
) -> list[go.Scatter]:
    """Six traces against ``ε`` for one ``w`` and ``p``: the closed-form ``RV``
    (``theory.gaussian_mixture_rv``) and ``AG`` (``theory.gaussian_mixture_adversarial_gap``) on
    ``eps_curve``, the corrected Theorem 3.2 bounds, and Monte Carlo ``RV`` and ``AG`` with ±2
    standard errors (``theory.gaussian_mixture_monte_carlo``, ``n_samples`` samples, ``seed``)
    at ``eps_mc``. One slider position of :func:`budget_slider`."""
    eps_c = np.asarray(eps_curve, dtype=float)
    rv = theory.gaussian_mixture_rv(theta, cov, w, eps_c, p)
    ag = theory.gaussian_mixture_adversarial_gap(theta, cov, w, eps_c, p)
    lower, upper = theory.theorem_3_2_bounds(ag)
    eps_m = np.asarray(eps_mc, dtype=float)
    mc = [
        theory.gaussian_mixture_monte_carlo(theta, cov, w, e, p, n_samples=n_samples, seed=seed)
        for e in eps_m
    ]
    return [
        go.Scatter(x=eps_c, y=upper, name="upper bound", line={"color": "#2ca02c", "dash": "dot"}),
        go.Scatter(x=eps_c, y=rv, name="RV (closed form)", line={"color": "#1f77b4"}),
        go.Scatter(x=eps_c, y=lower, name="lower bound", line={"color": "#2ca02c", "dash": "dash"}),
        go.Scatter(x=eps_c, y=ag, name="AG (closed form)", line={"color": "#ff7f0e"}),
        go.Scatter(
            x=eps_m,
            y=[r.rv for r in mc],
            mode="markers",
            name="RV (Monte Carlo)",
            error_y={"array": [2 * r.se_rv for r in mc]},
            marker={"color": "#1f77b4"},
        ),
        go.Scatter(
            x=eps_m,
            y=[r.adversarial_gap for r in mc],
            mode="markers",
            name="AG (Monte Carlo)",
            marker={"color": "#ff7f0e", "symbol": "diamond"},
            error_y={"array": [2 * r.se_adversarial_gap for r in mc]},
        ),
    ]


def _error_bars(trace: go.Scatter) -> NDArray[np.float64] | float:
    bars = trace.error_y.array
    return 0.0 if bars is None else np.asarray(bars, dtype=float)


def budget_slider(
    steps: Sequence[tuple[str, Sequence[go.Scatter]]],
    *,
    slider_label: str,
    title: str,
    active: int = 2,
    height: int = 520,
) -> go.Figure:
    """The slider figure of :func:`budget_traces` positions (``steps`` = ``(label, traces)``),
    ``ε`` on the x axis, with the shared axis titles and a y range that holds every curve."""
    top = max(
        float(np.nanmax(np.asarray(t.y, dtype=float) + _error_bars(t)))
        for _, traces in steps
        for t in traces
    )
    right = max(float(np.max(t.x)) for _, traces in steps for t in traces)
    return slider_figure(
        steps,
        slider_label=slider_label,
        active=active,
        layout={
            "title": title,
            "xaxis": {"title": "ε", "range": [0, right * 1.02]},
            "yaxis": {"title": _Y_TITLE, "range": [-0.02, float(np.ceil((top + 0.02) * 10) / 10)]},
            "height": height,
        },
    )


def readout_html(
    theta: ArrayLike,
    cov: ArrayLike,
    w: ArrayLike,
    eps: float,
    p: float,
    *,
    n_samples: int,
    seed: int,
) -> str:
    """An HTML table for one ``(w, ε, p)``: ``RV`` and ``AG`` in closed form and by Monte Carlo
    (± one standard error), and the corrected Theorem 3.2 interval for ``RV``."""
    rv = float(theory.gaussian_mixture_rv(theta, cov, w, eps, p))
    ag = float(theory.gaussian_mixture_adversarial_gap(theta, cov, w, eps, p))
    lo, hi = (float(b) for b in theory.theorem_3_2_bounds(ag))
    mc = theory.gaussian_mixture_monte_carlo(theta, cov, w, eps, p, n_samples=n_samples, seed=seed)
    return (
        "<table><tr><th></th><th>closed form</th><th>Monte Carlo</th></tr>"
        f"<tr><td>RV (nats)</td><td>{rv:.4f}</td>"
        f"<td>{mc.rv:.4f} ± {mc.se_rv:.4f}</td></tr>"
        f"<tr><td>AG</td><td>{ag:.4f}</td><td>{mc.adversarial_gap:.4f} ± "
        f"{mc.se_adversarial_gap:.4f}</td></tr>"
        f"<tr><td>Theorem 3.2 (corrected)</td>"
        f"<td colspan=2>{lo:.4f} &le; RV &le; {hi:.4f}</td></tr>"
        "</table>"
    )


def theorem_explorer(theta: ArrayLike, cov: ArrayLike, *, n_samples: int, seed: int) -> Any:
    """ipywidgets controls for ``ε``, ``p`` and the angle of ``w`` that recompute
    :func:`readout_html` on every change (a live kernel only; the static page shows the values
    it was saved with). Returns the ``ipywidgets.VBox``."""
    import ipywidgets as widgets

    eps_slider = widgets.FloatSlider(value=0.5, min=0.0, max=2.0, step=0.05, description="ε")
    p_choice = widgets.Dropdown(options=list(NORMS), value=2.0, description="p")
    angle_slider = widgets.IntSlider(value=30, min=0, max=179, step=1, description="w angle")
    readout = widgets.HTML()

    def update(_: object = None) -> None:
        readout.value = readout_html(
            theta,
            cov,
            unit_direction(angle_slider.value),
            eps_slider.value,
            p_choice.value,
            n_samples=n_samples,
            seed=seed,
        )

    for control in (eps_slider, p_choice, angle_slider):
        control.observe(update, names="value")
    update()
    return live_panel(eps_slider, p_choice, angle_slider, readout)


def direction_figure(
    angles_deg: ArrayLike,
    rv_by_norm: Mapping[str, ArrayLike],
    natural_risk: ArrayLike,
    bayes_deg: float,
    eps: float,
) -> go.Figure:
    """``RV_ε`` per threat model (``rv_by_norm``: label of ``p`` -> values, e.g.
    ``theory.rv_along_directions``) and the natural risk of ``f*`` (right axis) against the
    angle of ``w`` in degrees, with the Bayes-optimal direction ``Σ⁻¹θ`` marked."""
    ang = np.asarray(angles_deg, dtype=float)
    risk = np.asarray(natural_risk, dtype=float)
    if ang.ndim != 1 or risk.shape != ang.shape:
        raise ValueError(f"natural_risk must match angles_deg, got {risk.shape}, {ang.shape}")
    fig = go.Figure()
    for label, values in rv_by_norm.items():
        v = np.asarray(values, dtype=float)
        if v.shape != ang.shape:
            raise ValueError(f"rv_by_norm[{label!r}] must match angles_deg, got {v.shape}")
        fig.add_scatter(x=ang, y=v, name=f"RV, p = {label}")
    fig.add_scatter(
        x=ang,
        y=risk,
        name="natural risk of f*",
        yaxis="y2",
        line={"color": "black", "dash": "dot"},
    )
    fig.add_vline(
        x=bayes_deg, line={"color": "gray", "dash": "dash"}, annotation_text="Bayes direction"
    )
    # the right axis from 0 to the next tenth above the risk, ticks at round tenths
    risk_top = float(np.ceil((risk.max() + 0.02) * 10) / 10)
    fig.update_layout(
        title=f"Vulnerability and natural risk by direction of w (ε = {eps})",
        xaxis={"title": "angle of w (degrees)", "range": [0, 180], "dtick": 30},
        yaxis={"title": "RV [nats]", "rangemode": "tozero"},
        yaxis2={
            "title": "natural risk of f*",
            "overlaying": "y",
            "side": "right",
            "range": [0, risk_top],
            "dtick": 0.1,
            "tickformat": ".1f",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.25},
        margin={"r": 70},
        height=520,
    )
    return fig


def bounds_coverage_sentence(adversarial_gap: ArrayLike, rv: ArrayLike, tol: float = 1e-12) -> str:
    """On how many models each version of Theorem 3.2's bounds holds: the share of points with
    ``lower - tol <= RV <= upper + tol`` for the corrected bounds and for the printed ones, and,
    for the printed ones, the largest ``AG`` among the points they hold on and how many of them
    hold without the tolerance ``tol`` (the rest pass only because both sides are within
    ``tol`` of each other, near zero)."""
    ag, rv_a = np.asarray(adversarial_gap, dtype=float), np.asarray(rv, dtype=float)
    if ag.shape != rv_a.shape or ag.ndim != 1 or ag.size == 0:
        raise ValueError(
            f"adversarial_gap and rv must be 1-d of one length, got {ag.shape}, {rv_a.shape}"
        )
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")

    def holds(bounds: tuple[np.ndarray, np.ndarray], slack: float) -> np.ndarray:
        return (bounds[0] <= rv_a + slack) & (rv_a <= bounds[1] + slack)

    corrected = holds(theory.theorem_3_2_bounds(ag), tol)
    printed_bounds = theory.theorem_3_2_bounds_as_printed(ag)
    printed = holds(printed_bounds, tol)
    sentence = (
        f"corrected bounds hold on {corrected.mean():.1%} of the {ag.size} points, "
        f"the printed ones on {printed.mean():.1%}"
    )
    if not printed.any():
        return sentence
    strict, count = int(holds(printed_bounds, 0.0).sum()), int(printed.sum())
    points = f"{count} point{'s' * (count != 1)}"
    return (
        f"{sentence} ({points}, all with AG ≤ {ag[printed].max():.1g}, where RV and both bounds "
        f"are nearly 0; {strict} of them without the check's tolerance of {tol:g})"
    )


def direction_comparison(
    theta: ArrayLike,
    cov: ArrayLike,
    ws: Mapping[str, ArrayLike],
    eps: float,
    eps_grid: ArrayLike,
) -> dict[str, Any]:
    """Exact RVs of two directions of Theorem 3.2's mixture (Section 3.1), for Chapter 2's
    exercise: ``<name>_inf`` and ``<name>_2``, the RV of each direction of ``ws`` (two, by
    name) at ``eps`` under l_inf and l_2, and ``grid``, a sentence saying at how many values of
    ``eps_grid`` the first direction has the smaller RV under l_inf."""
    if len(ws) != 2:
        raise ValueError(f"ws must name exactly two directions, got {len(ws)}")
    grid = np.asarray(eps_grid, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("eps_grid must be a non-empty 1-d sequence of radii")
    (w1, w2) = ws.values()

    def rv(w: ArrayLike, e: float, p: float) -> float:
        return float(theory.gaussian_mixture_rv(theta, cov, w, e, p))

    out: dict[str, Any] = {}
    for name, w in ws.items():
        out[f"{name}_inf"] = rv(w, eps, np.inf)
        out[f"{name}_2"] = rv(w, eps, 2.0)
    wins = sum(rv(w1, e, np.inf) < rv(w2, e, np.inf) for e in grid)
    out["grid"] = (
        f"the first has the smaller RV under ℓ∞ at {wins} of the {grid.size} "
        f"radii from {grid[0]:g} to {grid[-1]:g}"
    )
    return out
