"""Figures and tables of Chapter 1 (Definitions): the four objects of the paper's Sections 2-3,
drawn from values the chapter computes with :mod:`robustrep_lite.theory.measures` and
:mod:`robustrep_lite.theory.theorems`.

* Definition 2.1 (mutual information): the binary symmetric channel (:func:`channel_figure`)
  and a finer and finer quantised feature (:func:`quantised_entropy_figure`).
* Definition 2.2 (the ``W_inf`` ball): points moved within their own balls
  (:func:`balls_figure`), an optimal re-matching (:func:`coupling_figure`) and the slack of
  the identity coupling (:func:`rematching_figure`).
* Definition 2.3 (adversarial risk and gap) of a linear classifier on the Gaussian mixture of
  eq. (3.1): :func:`adversarial_risk_table`, :func:`attack_figure`.
* Definition 3.1 (representation vulnerability) of ``g(x) = sgn(w . x)``: :func:`rv_figure`,
  :func:`rv_table`, and footnote 1's scale invariance (:func:`scale_table`).

Nothing here computes a result the chapter reports: the per-position tables of the channel's
slider, the closed-form columns of the tables and the bands drawn are re-evaluations of the
same theory functions the chapter calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

from robustrep_lite.book.plots import lift_subplot_titles, slider_figure
from robustrep_lite.theory import measures
from robustrep_lite.theory import theorems as theory

__all__ = [
    "adversarial_risk_table",
    "attack_figure",
    "balls_figure",
    "channel_figure",
    "coupling_figure",
    "norm_label",
    "quantised_entropy_figure",
    "rematching_figure",
    "rv_figure",
    "rv_table",
    "scale_table",
]

_SUBSCRIPTS = {1.0: "₁", 2.0: "₂", np.inf: "∞"}


def norm_label(p: float) -> str:
    """``"ℓ∞"``, ``"ℓ₂"``, ``"ℓ₁"`` for ``p = inf, 2, 1``, else ``"ℓ_p"`` with the value."""
    p_f = float(p)
    return "ℓ" + _SUBSCRIPTS.get(p_f, f"_{p_f:g}")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Definition 2.1: mutual information
# ----------------------------------------------------------------------------------------------
def channel_figure(
    noise: ArrayLike, mi: ArrayLike, steps: ArrayLike | None = None, active: int = 2
) -> go.Figure:
    """The binary symmetric channel (Definition 2.1): its joint table ``p(x, z)`` (left) and
    ``I(X; Z)`` against the noise level (right), one slider position per value of ``steps``
    (default 0, 0.05, ..., 1). ``noise`` and ``mi`` are the curve (nats), rounded to 5 digits for
    the stored page; each position's table and marked point are
    ``measures.symmetric_channel_joint`` and ``measures.discrete_mutual_information`` of it."""
    noise_a, mi_a = np.asarray(noise, dtype=float), np.asarray(mi, dtype=float)
    if noise_a.shape != mi_a.shape or noise_a.ndim != 1:
        raise ValueError(
            f"noise and mi must be 1-d of one length, got {noise_a.shape}, {mi_a.shape}"
        )
    rhos = np.round(np.linspace(0.0, 1.0, 21), 2) if steps is None else np.asarray(steps, float)
    curve = mi_a.round(5)  # rounded for the figure only: its JSON is stored on the page
    slider_steps = []
    for rho in rhos:
        table = measures.symmetric_channel_joint(rho)
        value = float(measures.discrete_mutual_information(table))
        heatmap = go.Heatmap(
            z=table,
            x=["z = 0", "z = 1"],
            y=["x = 0", "x = 1"],
            zmin=0,
            zmax=0.5,
            colorscale="Blues",
            text=np.round(table, 3),
            texttemplate="%{text}",
            showscale=False,
            xaxis="x",
            yaxis="y",
            name="p(x, z)",
        )
        line = go.Scatter(
            x=noise_a,
            y=curve,
            mode="lines",
            line={"color": "grey"},
            xaxis="x2",
            yaxis="y2",
            name="I(X; Z)",
            showlegend=False,
        )
        point = go.Scatter(
            x=[rho],
            y=[value],
            mode="markers+text",
            marker={"size": 11, "color": "crimson"},
            text=[f"{value:.3f} nats"],
            textposition="top center",
            xaxis="x2",
            yaxis="y2",
            showlegend=False,
        )
        slider_steps.append((f"{rho:.2f}", [heatmap, line, point]))
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        horizontal_spacing=0.12,
        subplot_titles=("joint table p(x, z)", "I(X; Z) in nats"),
    )
    lift_subplot_titles(fig)
    top = max(float(np.log(2)), float(np.nanmax(curve)))
    return slider_figure(
        slider_steps,
        slider_label="noise",
        active=active,
        figure=fig,
        layout={
            "height": 430,
            "margin": {"t": 60, "b": 40},
            "xaxis2": {"title": "noise level ρ", "range": [-0.03, 1.03], "dtick": 0.2},
            "yaxis2": {"title": "nats", "range": [-0.05, top + 0.1], "dtick": 0.2},
            "yaxis": {"autorange": "reversed"},
        },
    )


def quantised_entropy_figure(widths: ArrayLike, entropies: ArrayLike) -> go.Figure:
    """Entropy (= information, for a deterministic code) of a standard normal feature quantised
    into bins of width ``Δ`` (``measures.binned_gaussian_entropy``), with its asymptote
    ``½ log(2πe) − log Δ``: it grows without bound as ``Δ → 0``, so ``I(X; g(X)) = ∞`` for a
    deterministic ``g`` whose output ``g(X)`` is continuous (Definition 2.1)."""
    h, ent = np.asarray(widths, dtype=float), np.asarray(entropies, dtype=float)
    if h.shape != ent.shape or h.ndim != 1 or (h <= 0).any():
        raise ValueError("widths must be positive and match entropies, both 1-d")
    asymptote = 0.5 * np.log(2 * np.pi * np.e) - np.log(h)
    fig = go.Figure(
        [
            go.Scatter(x=h, y=ent, mode="lines+markers", name="H(⌊s / h⌋), s ~ N(0, 1)"),
            go.Scatter(
                x=h, y=asymptote, mode="lines", line={"dash": "dot"}, name="½ log(2πe) − log Δ"
            ),
        ]
    )
    fig.update_layout(
        title="Information kept by a finer and finer quantised linear feature",
        xaxis={
            "title": "bin width Δ",
            "type": "log",
            "autorange": "reversed",
            "exponentformat": "power",  # 10⁻⁴, not plotly's SI "100µ"
        },
        yaxis={"title": "I(X; code) = H(code), nats", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        height=400,
    )
    return fig


# ----------------------------------------------------------------------------------------------
# Definition 2.2: the W_inf ball
# ----------------------------------------------------------------------------------------------
def _segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a_i -> b_i`` line segments as one trace's points, separated by NaN."""
    seg = np.full((3 * len(a), 2), np.nan)
    seg[0::3], seg[1::3] = a, b
    return seg


def balls_figure(cloud: ArrayLike, moved: Mapping[str, ArrayLike], eps: float) -> go.Figure:
    """Each point of ``cloud`` (n, 2) and its moved copy, one panel per norm of ``moved``
    (``"inf"``: squares, ``"2"``: discs, the points' own balls of radius ``eps``), with the
    move drawn as a segment: a measure of the paper's ``A(S, ε)`` (eq. 4.2)."""
    x = np.asarray(cloud, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"cloud must have shape (n, 2), got {x.shape}")
    if set(moved) - {"inf", "2"} or not moved:
        raise ValueError(f"moved must map some of 'inf', '2' to points, got {sorted(moved)}")
    shapes = {"inf": ("rect", "squares"), "2": ("circle", "discs")}
    norms = list(moved)
    fig = make_subplots(
        rows=1,
        cols=len(norms),
        horizontal_spacing=0.08,
        subplot_titles=tuple(
            f"{norm_label(float(n))} balls ({shapes[n][1]}), ε = {eps}" for n in norms
        ),
    )
    lift_subplot_titles(fig)
    for col, norm in enumerate(norms, start=1):
        after = np.asarray(moved[norm], dtype=float)
        if after.shape != x.shape:
            raise ValueError(f"moved[{norm!r}] must have shape {x.shape}, got {after.shape}")
        for cx, cy in x:
            fig.add_shape(
                type=shapes[norm][0],
                x0=cx - eps,
                x1=cx + eps,
                y0=cy - eps,
                y1=cy + eps,
                line={"color": "lightsteelblue"},
                fillcolor="rgba(176,196,222,0.25)",
                row=1,
                col=col,
            )
        seg = _segments(x, after)
        fig.add_trace(
            go.Scatter(
                x=seg[:, 0],
                y=seg[:, 1],
                mode="lines",
                line={"color": "grey", "width": 1},
                showlegend=False,
            ),
            1,
            col,
        )
        for points, name, marker in (
            (x, "x<sub>i</sub>", {"color": "navy", "size": 8}),
            (after, "x′<sub>i</sub> (moved)", {"color": "crimson", "size": 8, "symbol": "x"}),
        ):
            fig.add_trace(
                go.Scatter(
                    x=points[:, 0],
                    y=points[:, 1],
                    mode="markers",
                    name=name,
                    marker=marker,
                    showlegend=col == 1,
                ),
                1,
                col,
            )
    reach = float(np.abs(x).max()) + eps + 0.15
    fig.update_xaxes(range=[-reach, reach])
    fig.update_yaxes(range=[-reach, reach], scaleanchor="x")
    if len(norms) == 2:
        fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(height=460)
    return fig


def coupling_figure(x: ArrayLike, x_moved: ArrayLike, matching: ArrayLike) -> go.Figure:
    """Two couplings of the empirical measures of ``x`` and ``x_moved`` (n, 2): the identity
    ``x_i -> x'_i`` (grey) and ``x_i -> x'_matching[i]`` (red, e.g. the optimal one of
    ``measures.optimal_winf_matching``, Definition 2.2)."""
    a, b = np.asarray(x, dtype=float), np.asarray(x_moved, dtype=float)
    order = np.asarray(matching)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"x and x_moved must both have shape (n, 2), got {a.shape}, {b.shape}")
    if not np.array_equal(np.sort(order), np.arange(len(a))):
        raise ValueError("matching must be a permutation of range(n)")
    fig = go.Figure()
    for name, perm, colour, width in (
        ("identity coupling x<sub>i</sub> → x′<sub>i</sub>", np.arange(len(a)), "lightgrey", 3),
        ("optimal W∞ coupling", order, "crimson", 2),
    ):
        seg = _segments(a, b[perm])
        fig.add_scatter(
            x=seg[:, 0],
            y=seg[:, 1],
            mode="lines",
            name=name,
            line={"color": colour, "width": width},
        )
    fig.add_scatter(
        x=a[:, 0],
        y=a[:, 1],
        mode="markers",
        name="x<sub>i</sub>",
        marker={"color": "navy", "size": 9},
    )
    fig.add_scatter(
        x=b[:, 0],
        y=b[:, 1],
        mode="markers",
        name="x′<sub>i</sub>",
        marker={"color": "crimson", "size": 9, "symbol": "x"},
    )
    fig.update_layout(
        title="Each point moved to its neighbour's place (plus a little jitter)",
        height=480,
        width=560,
        yaxis={"scaleanchor": "x"},
    )
    return fig


def rematching_figure(
    radii: ArrayLike, matched: ArrayLike, exact: ArrayLike, n_points: int
) -> go.Figure:
    """Identity-coupling cost ``max_i ||x_i − x'_i||∞`` and ``W∞`` (optimal re-matching,
    Definition 2.2) of ``n_points`` points against the radius ``r`` of their moves."""
    r = np.asarray(radii, dtype=float)
    m, e = np.asarray(matched, dtype=float), np.asarray(exact, dtype=float)
    if not r.shape == m.shape == e.shape:
        raise ValueError(
            f"radii, matched and exact must match, got {r.shape}, {m.shape}, {e.shape}"
        )
    fig = go.Figure(
        [
            go.Scatter(
                x=r,
                y=m,
                mode="lines+markers",
                name="identity coupling max<sub>i</sub> ‖x<sub>i</sub> − x′<sub>i</sub>‖",
            ),
            go.Scatter(x=r, y=e, mode="lines+markers", name="W∞ (optimal re-matching)"),
        ]
    )
    fig.update_layout(
        title=f"{n_points} uniform points, each moved by r times a point of the unit ℓ∞ ball",
        xaxis={"title": "r", "rangemode": "tozero"},
        yaxis={"title": "distance (ℓ∞)", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        height=400,
    )
    return fig


# ----------------------------------------------------------------------------------------------
# Definition 2.3: adversarial risk and gap of f(x) = sgn(w . x)
# ----------------------------------------------------------------------------------------------
def adversarial_risk_table(
    sample: measures.LinearRisks,
    eps: ArrayLike,
    theta: ArrayLike,
    cov: ArrayLike,
    w: ArrayLike,
    p: float = np.inf,
    every: int = 2,
) -> str:
    """Markdown table of ``AdvRisk_ε`` and ``AG_ε`` (Definition 2.3) of ``f(x) = sgn(w . x)``:
    on the sample (``sample`` = ``measures.linear_classifier_risks`` at the budgets ``eps``)
    next to the closed forms of model (3.1) (``theory.gaussian_mixture_risks`` and
    ``theory.gaussian_mixture_adversarial_gap``), one row per ``every``-th budget."""
    eps_a = np.asarray(eps, dtype=float)
    adv, gap = np.asarray(sample.adversarial_risk), np.asarray(sample.adversarial_gap)
    if eps_a.ndim != 1 or adv.shape != eps_a.shape or gap.shape != eps_a.shape:
        raise ValueError(f"sample must hold one value per eps, got {adv.shape} for {eps_a.shape}")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    shown = eps_a[::every]
    adv_closed = theory.gaussian_mixture_risks(theta, cov, w, shown, p)[1]
    gap_closed = theory.gaussian_mixture_adversarial_gap(theta, cov, w, shown, p)
    rows = [
        [f"{e:.2f}", f"{a:.4f}", f"{ac:.4f}", f"{g:.4f}", f"{gc:.4f}"]
        for e, a, ac, g, gc in zip(
            shown, adv[::every], adv_closed, gap[::every], gap_closed, strict=True
        )
    ]
    header = ["ε", "AdvRisk (sample)", "AdvRisk (closed form)", "AG (sample)", "AG (closed form)"]
    return _markdown_table(header, rows)


def attack_figure(
    points: ArrayLike,
    labels: ArrayLike,
    w: ArrayLike,
    eps_steps: ArrayLike,
    sample: measures.LinearRisks,
    closed_form: tuple[ArrayLike, ArrayLike, ArrayLike],
    *,
    n_samples: int,
    p: float = np.inf,
    active: int = 4,
) -> go.Figure:
    """``f(x) = sgn(w . x)`` under an ``ℓ_p`` attack (Definition 2.3), one slider position per
    budget of ``eps_steps``. Left: the ``points`` (rounded to 3 digits for the stored page, then
    classified by ``measures.adversarial_errors``), coloured correct / natural error / lost to
    the attack, and the band ``|w . x| < ε ||w||_q`` the attack can flip. Right: the closed-form
    ``Risk`` and ``AdvRisk`` curves (``closed_form = (eps_grid, risk, adversarial_risk)``, e.g.
    ``theory.gaussian_mixture_risks``) and the sample's ``AdvRisk`` (``sample``, counted on all
    ``n_samples`` points at ``eps_steps``)."""
    xs = np.asarray(points, dtype=float).round(3)
    ys = np.asarray(labels, dtype=float)
    w_a = np.asarray(w, dtype=float)
    steps_a = np.asarray(eps_steps, dtype=float)
    eps_grid, risk, adv = (np.asarray(c, dtype=float) for c in closed_form)
    if xs.ndim != 2 or xs.shape[1] != 2 or ys.shape != (len(xs),) or w_a.shape != (2,):
        raise ValueError("points must be (n, 2), labels (n,) and w (2,)")
    if np.asarray(sample.adversarial_risk).shape != steps_a.shape:
        raise ValueError("sample must hold one adversarial risk per entry of eps_steps")
    if not eps_grid.shape == risk.shape == adv.shape:
        raise ValueError("closed_form must be three arrays of one shape (eps, risk, adv. risk)")
    adv_curve, risk_curve = adv.round(5), risk.round(5)  # figure only
    q_label = _SUBSCRIPTS[float(theory.dual_exponent(p))]
    lim = 3.2
    w_unit = w_a / np.linalg.norm(w_a)
    along = np.array([-w_unit[1], w_unit[0]])  # direction of the boundary w.x = 0
    natural_err = measures.adversarial_errors(xs, ys, w_a, 0.0, 0.0, p)

    steps = []
    for k, eps in enumerate(steps_a):
        err = measures.adversarial_errors(xs, ys, w_a, 0.0, eps, p)
        half = float(sample.eta[k]) / np.linalg.norm(w_a) * w_unit
        ends = 2 * lim * along
        poly = np.array([-ends + half, ends + half, ends - half, -ends - half, -ends + half])
        traces: list[go.Scatter] = [
            go.Scatter(
                x=poly[:, 0],
                y=poly[:, 1],
                fill="toself",
                mode="lines",
                fillcolor="rgba(220,20,60,0.12)",
                line={"width": 0},
                name=f"band |w·x| < ε‖w‖{q_label}",
                xaxis="x",
                yaxis="y",
            )
        ]
        for name, mask, colour in (
            ("correct under attack", ~err, "seagreen"),
            ("natural error", natural_err, "black"),
            ("lost to the attack", err & ~natural_err, "crimson"),
        ):
            traces.append(
                go.Scatter(
                    x=xs[mask, 0],
                    y=xs[mask, 1],
                    mode="markers",
                    name=name,
                    # circle for y = +1, diamond for y = -1
                    marker={"color": colour, "size": 6, "symbol": np.where(ys[mask] > 0, 0, 2)},
                    xaxis="x",
                    yaxis="y",
                )
            )
        traces += [
            go.Scatter(
                x=eps_grid,
                y=adv_curve,
                mode="lines",
                line={"color": "crimson"},
                name="AdvRisk, closed form",
                xaxis="x2",
                yaxis="y2",
            ),
            go.Scatter(
                x=eps_grid[[0, -1]],
                y=risk_curve[[0, -1]],
                mode="lines",
                line={"color": "black", "dash": "dot"},
                name="Risk, closed form",
                xaxis="x2",
                yaxis="y2",
            ),
            go.Scatter(
                x=steps_a,
                y=sample.adversarial_risk,
                mode="markers",
                marker={"color": "crimson", "symbol": "circle-open", "size": 9},
                name=f"AdvRisk, {n_samples} samples",
                xaxis="x2",
                yaxis="y2",
            ),
            go.Scatter(
                x=[eps],
                y=[sample.adversarial_risk[k]],
                mode="markers",
                marker={"color": "crimson", "size": 13},
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
            ),
        ]
        steps.append((f"{eps:.2f}", traces))

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.5, 0.5],
        horizontal_spacing=0.14,
        subplot_titles=(
            f"{len(xs)} points: ● y = +1, ◆ y = −1",
            f"risk of sgn(w·x), {norm_label(p)} threat",
        ),
    )
    lift_subplot_titles(fig, size=14)
    fig.add_shape(
        type="line",
        x0=-2 * lim * along[0],
        y0=-2 * lim * along[1],
        x1=2 * lim * along[0],
        y1=2 * lim * along[1],
        line={"color": "black"},
        row=1,
        col=1,
    )
    top = max(float(adv_curve.max()), float(np.max(sample.adversarial_risk)))
    risk_top = float(np.ceil((top + 0.02) * 10) / 10)
    return slider_figure(
        steps,
        slider_label="ε",
        active=active,
        figure=fig,
        layout={
            "height": 580,
            "margin": {"t": 130},
            "xaxis": {"range": [-lim, lim], "title": "x1"},
            "yaxis": {"range": [-lim, lim], "title": "x2", "scaleanchor": "x"},
            "xaxis2": {"title": "ε", "range": [0, float(eps_grid.max()) * 1.02]},
            "yaxis2": {"title": "risk", "range": [0, risk_top], "dtick": 0.1},
            "legend": {"orientation": "h", "x": 0, "y": 1.12, "yanchor": "bottom"},
        },
    )


# ----------------------------------------------------------------------------------------------
# Definition 3.1: representation vulnerability of g(x) = sgn(w . x)
# ----------------------------------------------------------------------------------------------
def _check_points(
    eps_points: np.ndarray,
    monte_carlo: Sequence[theory.MonteCarloResult],
    on_sample: Sequence[measures.SignRV],
) -> None:
    if eps_points.ndim != 1 or not len(eps_points) == len(monte_carlo) == len(on_sample):
        raise ValueError("eps_points, monte_carlo and on_sample must have one entry per budget")


def rv_figure(
    eps_grid: ArrayLike,
    rv_closed: ArrayLike,
    eps_points: ArrayLike,
    monte_carlo: Sequence[theory.MonteCarloResult],
    on_sample: Sequence[measures.SignRV],
    p: float = np.inf,
) -> go.Figure:
    """``RV_ε`` of ``g(x) = sgn(w . x)`` (Definition 3.1) three ways: the closed form on
    ``eps_grid`` (``theory.gaussian_mixture_rv``), Monte Carlo with ±2 standard errors
    (``theory.gaussian_mixture_monte_carlo``) and the exact value on a sample
    (``measures.empirical_sign_rv``) at ``eps_points``; ``log 2`` marks all information lost."""
    grid, closed = np.asarray(eps_grid, dtype=float), np.asarray(rv_closed, dtype=float)
    at = np.asarray(eps_points, dtype=float)
    if grid.shape != closed.shape:
        raise ValueError(f"eps_grid and rv_closed must match, got {grid.shape}, {closed.shape}")
    _check_points(at, monte_carlo, on_sample)
    fig = go.Figure(
        [
            go.Scatter(
                x=grid,
                y=closed.round(5),
                mode="lines",
                name="closed form (theory.gaussian_mixture_rv)",
            ),
            go.Scatter(
                x=at,
                y=[r.rv for r in monte_carlo],
                mode="markers",
                error_y={"type": "data", "array": [2 * r.se_rv for r in monte_carlo]},
                marker={"symbol": "circle-open", "size": 10},
                name="Monte Carlo, ±2 s.e. (theory.gaussian_mixture_monte_carlo)",
            ),
            go.Scatter(
                x=at,
                y=[r.rv for r in on_sample],
                mode="markers",
                marker={"symbol": "x", "size": 8},
                name="exact on the Section 3 sample (measures.empirical_sign_rv)",
            ),
        ]
    )
    fig.add_hline(y=np.log(2), line_dash="dot", annotation_text="log 2: all information lost")
    fig.update_layout(
        title=f"RV<sub>ε</sub> of g(x) = sgn(w·x), {norm_label(p)} threat",
        xaxis={"title": "ε", "range": [0, float(grid.max()) * 1.02]},
        yaxis={"title": "RV (nats)", "range": [-0.02, 0.75]},
        height=420,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def rv_table(
    eps_points: ArrayLike,
    on_sample: Sequence[measures.SignRV],
    monte_carlo: Sequence[theory.MonteCarloResult],
    rv_closed: ArrayLike,
) -> str:
    """Markdown table, one row per budget: band mass, natural and worst-case MI and ``RV`` on
    the sample (``measures.empirical_sign_rv``), ``RV`` by Monte Carlo (± one standard error)
    and in closed form (Definition 3.1, model (3.1))."""
    at = np.asarray(eps_points, dtype=float)
    closed = np.asarray(rv_closed, dtype=float)
    _check_points(at, monte_carlo, on_sample)
    if closed.shape != at.shape:
        raise ValueError(f"rv_closed must have one value per budget, got {closed.shape}")
    rows = [
        [
            f"{e:.2f}",
            f"{s.band_fraction:.4f}",
            f"{s.mi_natural:.5f}",
            f"{s.mi_worst:.5f}",
            f"{s.rv:.5f}",
            f"{m.rv:.5f} ± {m.se_rv:.5f}",
            f"{rc:.5f}",
        ]
        for e, s, m, rc in zip(at, on_sample, monte_carlo, closed, strict=True)
    ]
    header = [
        "ε",
        "band mass",
        "I(X; g(X))",
        "worst-case I",
        "RV (sample)",
        "RV (Monte Carlo)",
        "RV (closed form)",
    ]
    return _markdown_table(header, rows)


def scale_table(
    scales: Sequence[float],
    entropies: Sequence[float],
    rv_sample: Sequence[float],
    rv_closed: Sequence[float],
    gradient_norms: Sequence[float],
    eps: float,
    p: float = np.inf,
) -> str:
    """Markdown table for the paper's footnote 1: per scale ``c``, the entropy of the codes
    ``g(X) / c``, ``RV_ε`` of ``sgn(w . x / c)`` on the sample and in closed form (unchanged)
    and the gradient norm of ``w . x / c`` in the dual norm (divided by ``c``), preceded by a
    line naming ``ε`` and the threat model."""
    columns = (scales, entropies, rv_sample, rv_closed, gradient_norms)
    if len({len(c) for c in columns}) != 1:
        raise ValueError("scales, entropies, rv_sample, rv_closed, gradient_norms must match")
    dual = norm_label(float(theory.dual_exponent(p)))
    rows = [
        [f"{c:g}", f"{h:.6f}", f"{rs:.6f}", f"{rc:.6f}", f"{g:.6f}"]
        for c, h, rs, rc, g in zip(*columns, strict=True)
    ]
    header = [
        "c",
        "H(g(X) / c) on the sample",
        "RV of sgn(w·x / c), sample",
        "RV, closed form",
        f"gradient norm of w·x / c, {dual} (dual of {norm_label(p)})",
    ]
    return f"ε = {eps}, {norm_label(p)} threat\n\n" + _markdown_table(header, rows)
