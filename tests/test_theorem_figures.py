"""Tests for robustrep_lite.book.theorem_figures: the figures and the live explorer of Chapter 2
carry the closed forms and Monte Carlo values of Theorem 3.2's model, with Unicode labels and
ranges that hold the data."""

from __future__ import annotations

import numpy as np
import pytest

from robustrep_lite.book import theorem_figures as figs
from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.theory import theorems as theory

THETA = np.array([1.0, 0.4])
COV = np.array([[1.0, 0.3], [0.3, 0.6]])
W30 = figs.unit_direction(30)


def test_unit_direction() -> None:
    assert np.linalg.norm(W30) == pytest.approx(1.0)
    np.testing.assert_allclose(W30, [np.sqrt(3) / 2, 0.5])
    np.testing.assert_allclose(figs.unit_direction(90), [0.0, 1.0], atol=1e-15)


def test_band_figure_marks_exactly_the_points_in_the_band() -> None:
    x, y = theory.sample_gaussian_mixture(THETA, COV, 500, seed=0)
    eta = float(theory.gaussian_mixture_projection(THETA, COV, W30, 0.5, 2.0).eta)
    fig = figs.band_figure(x, y, W30, eta, 0.5, 2.0)
    plus, minus, band, boundary, upper, lower = fig.data
    in_band = np.abs(x @ W30) < eta
    assert len(band.x) == int(in_band.sum()) and band.name == "in the band |w·x| < η"
    assert len(plus.x) + len(minus.x) + len(band.x) == 500
    # the dotted lines are the boundary shifted by +-eta along w
    assert np.array([upper.x[0], upper.y[0]]) @ W30 == pytest.approx(eta)
    assert np.array([lower.x[0], lower.y[0]]) @ W30 == pytest.approx(-eta)
    assert np.array([boundary.x[1], boundary.y[1]]) @ W30 == pytest.approx(0.0, abs=1e-12)
    assert "ℓ₂ budget ε = 0.5" in fig.layout.title.text
    with pytest.raises(ValueError, match="eta"):
        figs.band_figure(x, y, W30, -1.0, 0.5, 2.0)


def test_bounds_scatter_figure_draws_both_forms_of_the_bounds() -> None:
    ag, rv = np.array([0.1, 0.2]), np.array([0.01, 0.03])
    fig = figs.bounds_scatter_figure(ag, rv)
    names = [t.name for t in fig.data]
    assert names == [
        "random models",
        "corrected: lower",
        "corrected: upper",
        "as printed: lower",
        "as printed: upper",
    ]
    curve = np.linspace(0, 1, 201)
    lower, upper = theory.theorem_3_2_bounds(curve)
    np.testing.assert_allclose(fig.data[1].y, lower)
    np.testing.assert_allclose(fig.data[2].y, upper)
    assert (np.asarray(fig.data[1].y) <= np.asarray(fig.data[2].y) + 1e-12).all()
    assert fig.layout.xaxis.title.text == "AG<sub>ε</sub>(f*)"
    assert fig.layout.yaxis.range[1] >= np.log(2)


def test_budget_traces_and_slider() -> None:
    eps_curve, eps_mc = np.linspace(0.0, 2.0, 21), np.array([0.5, 1.0])
    traces = figs.budget_traces(THETA, COV, W30, 2.0, eps_curve, eps_mc, n_samples=4000, seed=0)
    upper, rv, lower, ag, rv_mc, ag_mc = traces
    np.testing.assert_allclose(rv.y, theory.gaussian_mixture_rv(THETA, COV, W30, eps_curve, 2.0))
    gap = theory.gaussian_mixture_adversarial_gap(THETA, COV, W30, eps_curve, 2.0)
    np.testing.assert_allclose(ag.y, gap)
    assert (lower.y <= rv.y + 1e-12).all() and (rv.y <= upper.y + 1e-12).all()
    mc = theory.gaussian_mixture_monte_carlo(THETA, COV, W30, 1.0, 2.0, n_samples=4000, seed=0)
    assert rv_mc.y[1] == mc.rv and ag_mc.error_y.array[1] == 2 * mc.se_adversarial_gap
    steps = [("0°", traces), ("15°", traces)]
    fig = figs.budget_slider(steps, slider_label="direction of w", title="t", active=1)
    assert len(fig.data) == 12 and fig.layout.xaxis.title.text == "ε"
    assert fig.layout.yaxis.range[1] >= max(gap.max(), (rv_mc.y[1] + rv_mc.error_y.array[1]))
    assert fig.layout.sliders[0].steps[1].label == "15°"


def test_readout_html_shows_the_corrected_interval() -> None:
    html = figs.readout_html(THETA, COV, W30, 0.5, np.inf, n_samples=3000, seed=0)
    rv = float(theory.gaussian_mixture_rv(THETA, COV, W30, 0.5, np.inf))
    ag = float(theory.gaussian_mixture_adversarial_gap(THETA, COV, W30, 0.5, np.inf))
    lo, hi = (float(b) for b in theory.theorem_3_2_bounds(ag))
    assert f"<td>{rv:.4f}</td>" in html and f"<td>{ag:.4f}</td>" in html
    assert f"{lo:.4f} &le; RV &le; {hi:.4f}" in html and lo <= rv <= hi
    assert html.count("±") == 2


def test_theorem_explorer_recomputes_on_change() -> None:
    pytest.importorskip("ipywidgets")
    box = figs.theorem_explorer(THETA, COV, n_samples=2000, seed=0)
    eps_slider, p_choice, angle_slider, readout, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert eps_slider.description == "ε" and [o[0] for o in p_choice.options] == ["1", "2", "∞"]
    before = readout.value
    assert before == figs.readout_html(THETA, COV, W30, 0.5, 2.0, n_samples=2000, seed=0)
    eps_slider.value = 1.0
    assert readout.value != before
    assert readout.value == figs.readout_html(THETA, COV, W30, 1.0, 2.0, n_samples=2000, seed=0)


def test_direction_figure() -> None:
    sweep = np.deg2rad(np.arange(0, 180, 5.0))
    rv = {label: theory.rv_along_directions(THETA, COV, sweep, 0.5, p) for label, p in figs.NORMS}
    ws = np.stack([np.cos(sweep), np.sin(sweep)], axis=-1)
    risk, _ = theory.gaussian_mixture_risks(THETA, COV, ws, 0.5, 2.0)
    fig = figs.direction_figure(np.rad2deg(sweep), rv, risk, 12.0, eps=0.5)
    assert [t.name for t in fig.data] == [
        "RV, p = 1",
        "RV, p = 2",
        "RV, p = ∞",
        "natural risk of f*",
    ]
    assert fig.data[3].yaxis == "y2" and fig.layout.shapes[0].x0 == 12.0
    assert fig.layout.title.text.endswith("(ε = 0.5)") and fig.layout.xaxis.range == (0, 180)
    # the risk axis: from 0 to a round tenth above the largest risk, ticks at tenths
    right = fig.layout.yaxis2
    assert right.range[0] == 0 and right.range[1] >= risk.max() + 0.02
    assert right.range[1] == pytest.approx(round(right.range[1], 1)) and right.dtick == 0.1
    with pytest.raises(ValueError, match="rv_by_norm"):
        figs.direction_figure(np.rad2deg(sweep), {"1": rv["1"][:-1]}, risk, 12.0, eps=0.5)


def test_bounds_coverage_tells_points_passing_by_tolerance_from_real_ones() -> None:
    # AG = 0.5: corrected bounds [log 2 - H(0.25) ... ] hold for an RV inside them; the printed
    # interval is empty there. AG = 1e-9 with RV = 1e-13: the printed bounds hold only by the
    # check's tolerance (their upper end, about 1e-18, is below the RV).
    lower, upper = theory.theorem_3_2_bounds(np.array([0.5]))
    inside = float((lower[0] + upper[0]) / 2)
    sentence = figs.bounds_coverage_sentence([0.5, 1e-9], [inside, 1e-13])
    assert sentence.startswith(
        "corrected bounds hold on 100.0% of the 2 points, the printed ones on 50.0% (1 point, "
        "all with AG ≤ 1e-09"
    )
    assert sentence.endswith("0 of them without the check's tolerance of 1e-12)")
    assert "(" not in figs.bounds_coverage_sentence([0.5], [inside])  # printed: none hold
    with pytest.raises(ValueError, match="adversarial_gap and rv"):
        figs.bounds_coverage_sentence([0.1, 0.2], [0.1])


def test_direction_comparison_exact_rvs_and_grid_count() -> None:
    theta = np.array([1.0, 1.0]) / np.sqrt(2)
    ws = {"axis": [1.0, 0.0], "theta": theta}
    out = figs.direction_comparison(theta, np.eye(2), ws, 0.3, [0.1, 0.3, 1.0])
    for name, w in ws.items():
        assert out[f"{name}_inf"] == float(
            theory.gaussian_mixture_rv(theta, np.eye(2), w, 0.3, np.inf)
        )
        assert out[f"{name}_2"] == float(theory.gaussian_mixture_rv(theta, np.eye(2), w, 0.3, 2))
    # l_2: both bands are 0.3 wide and theta's larger margin wins; l_inf: the axis's band is
    # narrower (||(1, 0)||_1 = 1 < sqrt 2) and it wins
    assert out["theta_2"] < out["axis_2"] and out["axis_inf"] < out["theta_inf"]
    assert out["grid"].endswith("at 3 of the 3 radii from 0.1 to 1")
    swapped = figs.direction_comparison(
        theta, np.eye(2), {"theta": theta, "axis": [1, 0]}, 0.3, [0.3]
    )
    assert "at 0 of the 1 radii" in swapped["grid"]
    with pytest.raises(ValueError, match="ws"):
        figs.direction_comparison(theta, np.eye(2), {"axis": [1, 0]}, 0.3, [0.3])
    with pytest.raises(ValueError, match="eps_grid"):
        figs.direction_comparison(theta, np.eye(2), ws, 0.3, [])
