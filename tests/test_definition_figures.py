"""Tests for robustrep_lite.book.definition_figures: the figures and tables of Chapter 1 carry
the values of the theory functions they draw, with the labels and ranges the chapter needs."""

from __future__ import annotations

import numpy as np
import pytest

from robustrep_lite.book import definition_figures as figs
from robustrep_lite.book.plots import SUBPLOT_TITLE_LIFT
from robustrep_lite.theory import measures
from robustrep_lite.theory import theorems as theory

THETA = np.array([1.0, 0.5])
COV = np.array([[0.5, 0.2], [0.2, 0.8]])
W = np.array([1.0, 0.3]) / np.linalg.norm([1.0, 0.3])


def _visible(fig):
    return [t for t in fig.data if t.visible]


def test_norm_label() -> None:
    assert figs.norm_label(np.inf) == "ℓ∞" and figs.norm_label(2) == "ℓ₂"
    assert figs.norm_label(1.0) == "ℓ₁" and figs.norm_label(3) == "ℓ_3"


def test_channel_figure_shows_each_noise_levels_table_and_information() -> None:
    noise = np.linspace(0.0, 1.0, 101)
    mi = measures.discrete_mutual_information(measures.symmetric_channel_joint(noise))
    fig = figs.channel_figure(noise, mi)
    assert len(fig.data) == 21 * 3
    labels = [s.label for s in fig.layout.sliders[0].steps]
    assert labels[0] == "0.00" and labels[-1] == "1.00" and labels[2] == "0.10"
    heatmap, curve, point = _visible(fig)  # active position 2: noise 0.1
    np.testing.assert_allclose(heatmap.z, measures.symmetric_channel_joint(0.1))
    assert list(point.x) == [0.1]
    assert point.y[0] == pytest.approx(np.log(2) - float(theory.binary_entropy(0.1)))
    assert point.text[0] == f"{point.y[0]:.3f} nats"
    np.testing.assert_allclose(curve.y, mi.round(5))
    assert fig.layout.yaxis2.range[1] >= np.log(2) and fig.layout.xaxis2.title.text.endswith("ρ")
    with pytest.raises(ValueError, match="noise and mi"):
        figs.channel_figure(noise, mi[:-1])


def test_quantised_entropy_figure_draws_the_asymptote() -> None:
    widths = np.logspace(-4, 1, 26)
    binned = measures.binned_gaussian_entropy(widths, scale=1.0)
    fig = figs.quantised_entropy_figure(widths, binned)
    data, asymptote = fig.data
    np.testing.assert_allclose(data.y, binned)
    np.testing.assert_allclose(asymptote.y, 0.5 * np.log(2 * np.pi * np.e) - np.log(widths))
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.autorange == "reversed"
    # for small bins the entropy follows the asymptote
    assert abs(binned[0] - asymptote.y[0]) < 1e-3
    with pytest.raises(ValueError, match="positive"):
        figs.quantised_entropy_figure([0.0, 1.0], [1.0, 1.0])


def test_balls_figure_draws_one_ball_per_point_and_each_move() -> None:
    rng = np.random.default_rng(0)
    cloud = rng.uniform(-1, 1, (5, 2))
    moved = {"inf": cloud + 0.1, "2": cloud - 0.05}
    fig = figs.balls_figure(cloud, moved, 0.25)
    kinds = [s.type for s in fig.layout.shapes]
    assert kinds.count("rect") == 5 and kinds.count("circle") == 5
    first = fig.layout.shapes[0]
    assert first.x1 - first.x0 == pytest.approx(0.5)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["ℓ∞ balls (squares), ε = 0.25", "ℓ₂ balls (discs), ε = 0.25"]
    segments = fig.data[0]
    assert segments.x[0] == cloud[0, 0] and segments.x[1] == pytest.approx(cloud[0, 0] + 0.1)
    assert np.isnan(segments.x[2])
    assert fig.layout.xaxis.range[1] >= np.abs(cloud).max() + 0.25
    with pytest.raises(ValueError, match="moved"):
        figs.balls_figure(cloud, {"1": cloud}, 0.25)
    with pytest.raises(ValueError, match="shape"):
        figs.balls_figure(cloud, {"inf": cloud[:3]}, 0.25)


def test_coupling_figure_follows_the_matching() -> None:
    ring = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    rotated = np.roll(ring, -1, axis=0)
    fig = figs.coupling_figure(ring, rotated, np.array([2, 0, 1]))
    identity, optimal = fig.data[:2]
    assert (identity.x[1], identity.y[1]) == (0.0, 1.0)  # x_0 -> x'_0 = ring[1]
    assert (optimal.x[1], optimal.y[1]) == (1.0, 0.0)  # x_0 -> x'_2 = ring[0]
    assert "W∞" in optimal.name
    # subscripts and primes as the page's math writes them, not x_i and x'_i
    assert [t.name for t in fig.data[2:]] == ["x<sub>i</sub>", "x′<sub>i</sub>"]
    with pytest.raises(ValueError, match="permutation"):
        figs.coupling_figure(ring, rotated, np.array([0, 0, 1]))


def test_rematching_figure() -> None:
    fig = figs.rematching_figure([0.1, 0.2], [0.1, 0.2], [0.1, 0.15], n_points=300)
    assert fig.layout.title.text.startswith("300 uniform points") and "ℓ∞" in fig.layout.title.text
    np.testing.assert_allclose(fig.data[1].y, [0.1, 0.15])
    with pytest.raises(ValueError, match="must match"):
        figs.rematching_figure([0.1], [0.1, 0.2], [0.1, 0.2], n_points=3)


@pytest.fixture(scope="module")
def sample():
    x, y = theory.sample_gaussian_mixture(THETA, COV, 4000, seed=1)
    eps = np.round(np.arange(0.0, 0.61, 0.05), 2)
    return x, y, eps, measures.linear_classifier_risks(x, y, W, 0.0, eps, np.inf)


def test_adversarial_risk_table_puts_sample_next_to_closed_form(sample) -> None:
    _, _, eps, risks = sample
    table = figs.adversarial_risk_table(risks, eps, THETA, COV, W, np.inf)
    lines = table.splitlines()
    assert lines[0].startswith("| ε | AdvRisk (sample)") and lines[1] == "|---|---|---|---|---|"
    assert len(lines) == 2 + 7  # every second of 13 budgets
    cells = [c.strip() for c in lines[4].strip("|").split("|")]  # eps = 0.20
    closed = theory.gaussian_mixture_risks(THETA, COV, W, 0.2, np.inf)[1]
    gap = theory.gaussian_mixture_adversarial_gap(THETA, COV, W, 0.2, np.inf)
    assert cells == [
        "0.20",
        f"{risks.adversarial_risk[4]:.4f}",
        f"{float(closed):.4f}",
        f"{risks.adversarial_gap[4]:.4f}",
        f"{float(gap):.4f}",
    ]
    with pytest.raises(ValueError, match="one value per eps"):
        figs.adversarial_risk_table(risks, eps[:-1], THETA, COV, W)


def test_attack_figure_colours_points_by_their_fate(sample) -> None:
    x, y, eps, risks = sample
    grid = np.linspace(0.0, 1.0, 51)
    risk, adv = theory.gaussian_mixture_risks(THETA, COV, W, grid, np.inf)
    fig = figs.attack_figure(x[:200], y[:200], W, eps, risks, (grid, risk, adv), n_samples=4000)
    assert len(fig.data) == len(eps) * 8
    band, correct, natural, lost, adv_line, risk_line, sampled, current = _visible(fig)
    assert band.name == "band |w·x| < ε‖w‖₁"
    # active position 4: eps = 0.2; the three groups partition the 200 points
    assert len(correct.x) + len(natural.x) + len(lost.x) == 200
    err = measures.adversarial_errors(x[:200].round(3), y[:200], W, 0.0, 0.2, np.inf)
    assert len(correct.x) == int((~err).sum())
    # the band's half-width is eta = eps ||w||_1 (||w||_2 = 1)
    corners = np.column_stack([band.x, band.y])
    assert abs(corners[0] @ W) == pytest.approx(0.2 * np.abs(W).sum())
    assert list(current.x) == [0.2] and current.y[0] == risks.adversarial_risk[4]
    assert sampled.name == "AdvRisk, 4000 samples"
    np.testing.assert_allclose(adv_line.y, adv.round(5))
    assert fig.layout.yaxis2.range[1] >= adv.max() and fig.layout.xaxis2.range[1] >= 1.0
    assert fig.layout.sliders[0].currentvalue.prefix == "ε = "
    assert "ℓ∞ threat" in fig.layout.annotations[1].text
    # the panel titles stand above the label of a tick at the top of a panel
    assert [a.yshift for a in fig.layout.annotations] == [SUBPLOT_TITLE_LIFT] * 2


def test_rv_figure_and_table_agree_with_the_three_computations(sample) -> None:
    x, _, _, _ = sample
    at = np.array([0.3, 1.0])
    grid = np.linspace(0.0, 2.5, 11)
    closed = theory.gaussian_mixture_rv(THETA, COV, W, grid, np.inf)
    mc = [theory.gaussian_mixture_monte_carlo(THETA, COV, W, e, np.inf, 2000, 0) for e in at]
    exact = [measures.empirical_sign_rv(x, W, e, np.inf) for e in at]
    fig = figs.rv_figure(grid, closed, at, mc, exact)
    line, monte_carlo, on_sample = fig.data
    np.testing.assert_allclose(line.y, closed.round(5))
    np.testing.assert_allclose(monte_carlo.error_y.array, [2 * mc[0].se_rv, 2 * mc[1].se_rv])
    np.testing.assert_allclose(on_sample.y, [exact[0].rv, exact[1].rv])
    assert fig.layout.shapes[0].y0 == pytest.approx(np.log(2))
    assert fig.layout.title.text == "RV<sub>ε</sub> of g(x) = sgn(w·x), ℓ∞ threat"
    at_closed = theory.gaussian_mixture_rv(THETA, COV, W, at, np.inf)
    table = figs.rv_table(at, exact, mc, at_closed).splitlines()
    assert len(table) == 4 and table[0].count("|") == 8
    assert table[3].startswith(f"| 1.00 | {exact[1].band_fraction:.4f} |")
    assert table[3].endswith(f"| {mc[1].rv:.5f} ± {mc[1].se_rv:.5f} | {at_closed[1]:.5f} |")
    with pytest.raises(ValueError, match="one entry per budget"):
        figs.rv_figure(grid, closed, at, mc[:1], exact)


def test_scale_table() -> None:
    table = figs.scale_table((1.0, 10.0), (0.69, 0.69), (0.1, 0.1), (0.1, 0.1), (1.3, 0.13), 0.3)
    head, blank, header, rule, one, ten = table.splitlines()
    assert head == "ε = 0.3, ℓ∞ threat" and blank == ""
    assert "ℓ₁ (dual of ℓ∞)" in header and rule == "|---|---|---|---|---|"
    assert ten == "| 10 | 0.690000 | 0.100000 | 0.100000 | 0.130000 |"
    with pytest.raises(ValueError, match="must match"):
        figs.scale_table((1.0,), (0.69, 0.69), (0.1,), (0.1,), (1.3,), 0.3)
