"""Every figure the book draws, built by the library's own figure functions from small inputs
shaped like the chapters' (real closed forms, the stored bench records, or hand-made records
with the chapters' labels), then drawn by plotly.js in headless Chromium at the width the book
gives a figure: no tick label, axis or figure title, annotation, slider label or legend item may
overlap another or leave the figure (the check of tests/page_layout.py, which the built-book
test also runs on every page). The stored chapter outputs show a fix in a figure function only
after the chapter is re-run; this test shows it at once. Both checks of tests/page_layout.py
are also shown to fail on bad cases."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
from page_layout import (
    BOOK_FIGURE_WIDTH_PX,
    CODE_SHARE_JS,
    FIGURE_TEXT_JS,
    MAX_CODE_SHARE,
    TEXT_TOLERANCE_PX,
    TITLE_GAP_PX,
)
from table1_records import hand_made_table

import robustrep_lite.book as book
from robustrep_lite.book import (
    ceiling_figures,
    mi_figures,
    mi_report,
    plots,
    spectral_report,
    table1_report,
    zoo_figures,
)
from robustrep_lite.book import definition_figures as definitions
from robustrep_lite.book import theorem_figures as theorems
from robustrep_lite.core.results import load_stored
from robustrep_lite.experiments.settings import PROFILES, ZooModel
from robustrep_lite.experiments.spectral_regularization import XorField, summarise_rows
from robustrep_lite.mi import MIEstimate
from robustrep_lite.theory import measures
from robustrep_lite.theory import theorems as theory

ROOT = Path(__file__).resolve().parents[1]
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
Figures = go.Figure | list[go.Figure]

# ----------------------------------------------------------------------------------------------
# Inputs shaped like the chapters'
# ----------------------------------------------------------------------------------------------
THETA = np.array([1.0, 0.5])
COV = np.array([[0.5, 0.2], [0.2, 0.8]])
W = np.array([1.0, 0.3]) / np.linalg.norm([1.0, 0.3])
THETA_2 = np.array([1.0, 0.4])  # Chapters 2 and 3
COV_2 = np.array([[1.0, 0.3], [0.3, 0.6]])
RNG_SEED = 0


def _channel() -> go.Figure:
    noise = np.linspace(0.0, 1.0, 101)
    return definitions.channel_figure(
        noise, measures.discrete_mutual_information(measures.symmetric_channel_joint(noise))
    )


def _quantised() -> go.Figure:
    widths = np.logspace(-4, 1, 26)
    return definitions.quantised_entropy_figure(
        widths, measures.binned_gaussian_entropy(widths, scale=1.0)
    )


def _balls() -> go.Figure:
    rng = np.random.default_rng(RNG_SEED)
    cloud = rng.uniform(-1, 1, (12, 2))
    moved = {"inf": cloud + rng.uniform(-0.25, 0.25, cloud.shape)}
    moved["2"] = cloud + 0.25 * rng.uniform(-0.7, 0.7, cloud.shape)
    return definitions.balls_figure(cloud, moved, 0.25)


def _coupling() -> go.Figure:
    angles = 2 * np.pi * np.arange(12) / 12
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rotated = np.roll(ring, -1, axis=0)
    return definitions.coupling_figure(ring, rotated, np.roll(np.arange(12), -1))


def _rematching() -> go.Figure:
    radii = np.array([0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5])
    return definitions.rematching_figure(radii, radii, 0.9 * radii, n_points=300)


def _mixture_sample(n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    y = rng.choice([-1.0, 1.0], n)
    return y[:, None] * THETA + rng.multivariate_normal(np.zeros(2), COV, n), y


def _attack() -> go.Figure:
    x, y = _mixture_sample()
    grid = np.linspace(0.0, 1.0, 51)
    steps = np.round(np.arange(0.0, 0.61, 0.05), 2)
    risk, adv = theory.gaussian_mixture_risks(THETA, COV, W, grid, np.inf)
    sample = measures.linear_classifier_risks(x, y, W, 0.0, steps, np.inf)
    return definitions.attack_figure(
        x[:300], y[:300], W, steps, sample, (grid, risk, adv), n_samples=400_000
    )


def _rv() -> go.Figure:
    x, _ = _mixture_sample()
    grid = np.linspace(0.0, 2.5, 51)
    at = np.array([0.1, 0.3, 0.6, 1.0, 1.5, 2.0])
    mc = [theory.gaussian_mixture_monte_carlo(THETA, COV, W, e, np.inf, 2000, 1) for e in at]
    exact = [measures.empirical_sign_rv(x, W, e, np.inf) for e in at]
    closed = theory.gaussian_mixture_rv(THETA, COV, W, grid, np.inf)
    return definitions.rv_figure(grid, closed, at, mc, exact, np.inf)


def _band() -> go.Figure:
    w = theorems.unit_direction(30)
    x, y = theory.sample_gaussian_mixture(THETA_2, COV_2, 1500, seed=RNG_SEED)
    eta = float(theory.gaussian_mixture_projection(THETA_2, COV_2, w, 0.5, 2.0).eta)
    return theorems.band_figure(x, y, w, eta, 0.5, 2.0)


def _bounds_scatter() -> go.Figure:
    grid = theory.random_parameters(500, d=2, seed=RNG_SEED, eps_max=3.0)
    args = (grid["theta"], grid["cov"], grid["w"], grid["eps"], 2.0)
    return theorems.bounds_scatter_figure(
        theory.gaussian_mixture_adversarial_gap(*args), theory.gaussian_mixture_rv(*args)
    )


def _budget_sliders() -> list[go.Figure]:
    curve, mc = np.linspace(0.0, 2.0, 81), np.array([0.25, 0.5, 1.0, 1.5])

    def traces(angle: float, p: float) -> list[go.Scatter]:
        w = theorems.unit_direction(angle)
        return theorems.budget_traces(THETA_2, COV_2, w, p, curve, mc, n_samples=2000, seed=0)

    by_angle = [(f"{a}°", traces(a, 2.0)) for a in np.arange(0, 180, 15)]
    by_norm = [(label, traces(30, p)) for label, p in theorems.NORMS]
    return [
        theorems.budget_slider(
            by_angle,
            slider_label="direction of w",
            title="RV, the corrected Theorem 3.2 bounds and AG, p = 2",
        ),
        theorems.budget_slider(
            by_norm,
            slider_label="p",
            title="RV, bounds and AG for w at 30°, by threat model ℓp",
            height=480,
        ),
    ]


def _direction() -> go.Figure:
    sweep = np.deg2rad(np.arange(0, 180, 0.5))
    ws = np.stack([np.cos(sweep), np.sin(sweep)], axis=-1)
    risk, _ = theory.gaussian_mixture_risks(THETA_2, COV_2, ws, 0.5, 2.0)
    rv = {
        label: theory.rv_along_directions(THETA_2, COV_2, sweep, 0.5, p)
        for label, p in theorems.NORMS
    }
    return theorems.direction_figure(np.rad2deg(sweep), rv, risk, 12.0, eps=0.5)


def _lemma() -> go.Figure:
    w = theorems.unit_direction(30)
    fractions = np.linspace(0.0, 1.0, 11)
    _, risk = theory.gaussian_mixture_risks(THETA_2, COV_2, w, fractions * 0.5, 2.0)
    mc = theory.gaussian_mixture_monte_carlo(THETA_2, COV_2, w, 0.5, 2.0, 2000, 0)
    return ceiling_figures.lemma_3_3_figure(fractions, risk, eps=0.5, p=2.0, monte_carlo=mc)


def _ceiling() -> go.Figure:
    return ceiling_figures.ceiling_figure(
        np.linspace(0.0, 7.0, 141), classes=(2, 10, 100, 1000), example=1.08
    )


def _optimal_critic() -> go.Figure:
    rng = np.random.default_rng(RNG_SEED)
    values = {}
    for k in (16, 64, 256, 1024):
        for name, centre in (
            ("DV", 6.3),
            ("NWJ", 6.0),
            ("InfoNCE", np.log(k)),
            ("SMILE τ = 5", 6.8),
        ):
            values[(k, name)] = list(centre + 0.5 * rng.standard_normal(8))
    return mi_figures.optimal_critic_figure(values, 6.0)


def _overfitting() -> go.Figure:
    steps = np.arange(0, 2001, 100)
    rise = 1.2 * (1 - np.exp(-steps / 300))
    result = MIEstimate(
        estimate=1.1,
        stderr=0.02,
        train_curve=rise,
        heldout_values=np.full(4, 1.1),
        train_estimator="smile",
        readout_estimator="DV",
        diverged=False,
        eval_steps=steps,
        val_curve=rise - 0.001 * steps / 10,
        eval_train_curve=rise + 0.0005 * steps,
        heldout_curve=rise - 0.001 * steps / 10 - 0.02,
        best_step=700,
    )
    return mi_report.overfitting_figure(result, truth=1.24)


def _images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(RNG_SEED)
    return torch.rand(16, 1, 28, 28, generator=gen), torch.randint(0, 10, (16,), generator=gen)


def _image_grid() -> go.Figure:
    x, y = _images()
    return plots.image_grid(x, y, title="The first 16 training images")


def _image_slider() -> go.Figure:
    x, _ = _images()
    return plots.image_slider_figure(
        lambda eps: (x[0] + eps * torch.sign(torch.randn_like(x[0]))).clamp(0, 1),
        lambda eps: f"ε = {eps}",
        [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5],
        title="One image plus a random point of the ℓ∞ ball of radius ε",
        active=2,
    )


def _slider() -> go.Figure:
    steps = [
        (f"{k:.2f}", [go.Scatter(x=[0, 1], y=[0, k], name="line")]) for k in np.linspace(0, 1, 11)
    ]
    return plots.slider_figure(steps, slider_label="slope", layout={"title": "A slider"})


def _xor() -> go.Figure:
    axis = np.linspace(-2.0, 2.0, 41)
    x1, x2 = np.meshgrid(axis, axis)
    fields = {
        arm: XorField(axis, x1 * x2 * scale, np.exp(-(x1**2 + x2**2)) * 10 * scale + 0.1)
        for arm, scale in (("none", 1.0), ("ll-spectral", 0.8), ("rep-spectral", 0.3))
    }
    return spectral_report.xor_figure(fields, spectral_report.arm_labels())


def _lambda() -> go.Figure:
    rows = load_stored(spectral_report.MNIST_RESULT)["rows"]
    return spectral_report.lambda_figure(
        summarise_rows(rows), PROFILES["cpu"].spectral.lambdas, spectral_report.arm_labels()
    )


def _seeds() -> go.Figure:
    runs, _ = spectral_report.stored_seed_runs(range(5), profile="cpu")
    return spectral_report.seeds_figure(runs)


def _pgd() -> go.Figure:
    return table1_report.pgd_figure(
        {"mnist": hand_made_table("mnist"), "cifar10": hand_made_table("cifar10")}
    )


def _grid() -> go.Figure:
    cells = [
        {
            "beta": beta,
            "eps": eps,
            "eps_fraction": eps / 0.3,
            "natural": 0.64 - 0.04 * beta,
            "pgd": 0.002 * beta,
            "mi": -0.1 * beta,
            "worst_mi": -5.7 + 2 * beta,
            "validated_rv": 2.2 - beta,
            "validated_rv_stderr": 0.2,
        }
        for eps in (0.1, 0.3)
        for beta in (0.0, 0.5, 1.0, 2.0)
    ]
    return table1_report.grid_figure(
        {"cells": cells, "settings": {"grid_eps_fractions": [0.1 / 0.3, 1.0]}}
    )


def _saliency() -> go.Figure:
    x, _ = _images()
    gen = torch.Generator().manual_seed(1)
    maps = {rep: torch.rand(6, 28, 28, generator=gen) for rep in ("standard", "worst_case")}
    return table1_report.saliency_figure(x[:6], maps, "MNIST")


def _zoo() -> tuple[list[ZooModel], dict[ZooModel, dict]]:
    models = list(PROFILES["cpu"].zoo.models)
    measured = {
        m: {
            "accuracy_gap": 0.2 + 0.1 * i,
            "rv_paper": 1.4 - 0.1 * i,
            "rv_stderr_paper": 0.05,
            "rv_refit": 0.6 - 0.05 * i,
            "rv_stderr_refit": 0.1,
            "normal_mi": 1.5,
            "worst_mi_paper": 0.01 * i,
            "worst_mi_refit": 0.9,
            "bound_paper": 0.3,
            "bound_refit": 0.7,
            "pgd7_accuracy": 0.4,
            "strong_accuracy": 0.35,
        }
        for i, m in enumerate(models)
    }
    return models, measured


def _accuracy_slider() -> go.Figure:
    models, _ = _zoo()
    grid = PROFILES["cpu"].zoo.curve_eps["cifar10"]
    curves = {m: list(np.linspace(0.9, 0.0, len(grid))) for m in models if m.dataset == "cifar10"}
    return zoo_figures.accuracy_slider_figure(curves, list(grid), "cifar10", 500)


def _zoo_channels() -> go.Figure:
    models, _ = _zoo()
    rng = np.random.default_rng(RNG_SEED)
    per_channel = {
        m: {
            "normal_mi": rng.uniform(0.2, 1.0, 16),
            "rv": rng.uniform(0.0, 0.4, 16),
            "channel": list(range(16)),
        }
        for m in models[2:4]
    }
    return zoo_figures.channel_figure(per_channel, "cifar10")


#: Every figure function of robustrep_lite.book (module.function) and how to build its figure(s).
BUILDERS: dict[str, Callable[[], Figures]] = {
    "ceiling_figures.ceiling_figure": _ceiling,
    "ceiling_figures.lemma_3_3_figure": _lemma,
    "definition_figures.attack_figure": _attack,
    "definition_figures.balls_figure": _balls,
    "definition_figures.channel_figure": _channel,
    "definition_figures.coupling_figure": _coupling,
    "definition_figures.quantised_entropy_figure": _quantised,
    "definition_figures.rematching_figure": _rematching,
    "definition_figures.rv_figure": _rv,
    "mi_figures.optimal_critic_figure": _optimal_critic,
    "mi_figures.staircase_figure": lambda: [
        mi_figures.staircase_figure(load_stored(mi_figures.STAIRCASE_SEPARABLE)),
        mi_figures.staircase_figure(load_stored(mi_figures.STAIRCASE_JOINT)),
    ],
    "mi_figures.staircase_variance_figure": lambda: mi_figures.staircase_variance_figure(
        load_stored(mi_figures.STAIRCASE_SEPARABLE)
    ),
    "mi_figures.sweep_figure": lambda: mi_figures.sweep_figure(
        load_stored(mi_figures.SWEEP_RESULT)
    ),
    "mi_report.bmi_figure": lambda: mi_report.bmi_figure(load_stored(mi_report.BMI_RESULT)),
    "mi_report.overfitting_figure": _overfitting,
    "plots.image_grid": _image_grid,
    "plots.image_slider_figure": _image_slider,
    "plots.slider_figure": _slider,
    "spectral_report.lambda_figure": _lambda,
    "spectral_report.seeds_figure": _seeds,
    "spectral_report.xor_figure": _xor,
    "table1_report.grid_figure": _grid,
    "table1_report.pgd_figure": _pgd,
    "table1_report.saliency_figure": _saliency,
    "theorem_figures.band_figure": _band,
    "theorem_figures.bounds_scatter_figure": _bounds_scatter,
    "theorem_figures.budget_slider": _budget_sliders,
    "theorem_figures.direction_figure": _direction,
    "zoo_figures.accuracy_slider_figure": _accuracy_slider,
    "zoo_figures.bound_figure": lambda: zoo_figures.bound_figure(_zoo()[1]),
    "zoo_figures.channel_figure": _zoo_channels,
    "zoo_figures.rv_gap_figure": lambda: zoo_figures.rv_gap_figure(_zoo()[1]),
    "zoo_figures.worst_mi_figure": lambda: zoo_figures.worst_mi_figure(_zoo()[1]),
}


def _figure_functions() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(book.__path__):
        module = importlib.import_module(f"{book.__name__}.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            signature = inspect.signature(function)
            first = next(iter(signature.parameters.values()), None)
            edits = first is not None and str(first.annotation).endswith("Figure")
            returns = str(signature.return_annotation).endswith("Figure")
            if function.__module__ == module.__name__ and returns and not edits:
                found.add(f"{info.name}.{name}")  # makes a figure (not: edits one)
    return found


def test_every_figure_function_of_the_book_is_drawn_here() -> None:
    assert _figure_functions() == set(BUILDERS)


# ----------------------------------------------------------------------------------------------
# Drawing in Chromium
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def book_template():
    """Figures made here use the book's template, as every chapter's do (setup_plotly)."""
    before = pio.templates.default
    plots.use_book_template()
    yield
    pio.templates.default = before


@pytest.fixture(scope="module")
def browser_page(chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    yield page
    page.close()


def figure_text_problems(page, figures: Figures, folder: Path) -> list[str]:
    """Draw ``figures`` as the book does (our renderer's HTML, plotly.js from the plotly
    package) in a column as wide as the book's, and return what FIGURE_TEXT_JS finds."""
    figures = figures if isinstance(figures, list) else [figures]
    renderer = plots.BookRenderer()
    divs = "".join(
        f'<div style="width: {BOOK_FIGURE_WIDTH_PX}px">'
        f"{renderer.to_mimebundle(fig.to_dict())['text/html']}</div>"
        for fig in figures
    )
    html = folder / "figure.html"
    html.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<script src="{PLOTLY_JS.as_uri()}"></script></head><body>{divs}</body></html>'
    )
    page.goto(html.as_uri(), wait_until="load")
    page.wait_for_function(
        f"() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= {len(figures)}"
    )
    page.wait_for_timeout(200)
    return page.evaluate(FIGURE_TEXT_JS, [TEXT_TOLERANCE_PX, TITLE_GAP_PX])


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_figure_text_stays_apart_and_inside(name: str, browser_page, tmp_path: Path) -> None:
    problems = figure_text_problems(browser_page, BUILDERS[name](), tmp_path)
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# The check itself must fail on a bad figure
# ----------------------------------------------------------------------------------------------
def _bad_figures() -> dict[str, go.Figure]:
    crowded = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    crowded.add_annotation(x=0.5, y=0.5, text="one annotation", showarrow=False)
    crowded.add_annotation(x=0.5, y=0.5, text="another annotation", showarrow=False)
    outside = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    outside.update_layout(title={"text": "a title above the figure", "y": 1, "yanchor": "bottom"})
    ticks = go.Figure(go.Bar(x=[f"a rather long category name {i}" for i in range(8)], y=[1] * 8))
    ticks.update_xaxes(tickangle=0)
    sliders = plots.slider_figure(
        [(f"a long step label {i}", [go.Scatter(x=[0, 1], y=[0, i])]) for i in range(12)],
        slider_label="step",
    )
    sliders.update_layout(sliders=[{"pad": {"t": 0}}], xaxis_title="an x axis title")
    near = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    for x, anchor in ((0.5, "right"), (0.5, "left")):
        near.add_annotation(
            x=x, y=1.05, xref="paper", yref="paper", text="title", xanchor=anchor, showarrow=False
        )
    return {"crowded": crowded, "outside": outside, "ticks": ticks, "slider": sliders, "near": near}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("crowded", 'annotation "one annotation" overlaps annotation "another annotation"'),
        ("outside", 'figure title "a title above the figure" leaves the figure'),
        ("ticks", 'x tick "a rather long category name 0" overlaps x tick'),
        ("slider", "overlaps"),
        ("near", 'annotation "title" and annotation "title" are'),
    ],
)
def test_the_check_finds_overlapping_and_escaping_text(
    bad: str, message: str, browser_page, tmp_path: Path
) -> None:
    problems = figure_text_problems(browser_page, _bad_figures()[bad], tmp_path)
    assert any(message in p for p in problems), json.dumps(problems, indent=1)


def test_the_check_follows_rotated_labels(browser_page, tmp_path: Path) -> None:
    fig = go.Figure(go.Bar(x=[f"category {i}" for i in range(14)], y=[1] * 14))
    fig.update_xaxes(tickangle=-45)
    assert figure_text_problems(browser_page, fig, tmp_path) == []
    # the labels' upright boxes do overlap: only their rotated boxes are apart
    upright = browser_page.evaluate(
        """() => [...document.querySelectorAll('g.xtick > text')]
            .map(e => e.getBoundingClientRect())
            .filter((r, i, all) => i > 0 && all[i - 1].right > r.left + 1.5).length"""
    )
    assert upright > 0


def test_the_code_share_counts_the_code_a_reader_sees(browser_page, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html><html><body style="margin: 0"><article class="bd-article">'
        '<div class="cell"><div class="cell_input" style="height: 300px">shown</div></div>'
        '<div class="cell tag_hide-input"><details class="hide above-input">'
        "<summary>Show code cell source</summary>"
        '<div class="cell_input" style="height: 1000px">folded</div></details></div>'
        '<p style="height: 700px; margin: 0">prose</p></article></body></html>'
    )
    browser_page.goto(page.as_uri())
    share = browser_page.evaluate(CODE_SHARE_JS)
    assert share["cells"] == 1 and share["code"] == pytest.approx(300)
    assert share["share"] == pytest.approx(300 / share["article"])
    assert share["share"] > MAX_CODE_SHARE  # this page fails the book's check
    browser_page.evaluate("() => document.querySelector('details').open = true")
    assert browser_page.evaluate(CODE_SHARE_JS)["code"] == pytest.approx(1300)
