"""robustrep_lite.book.zoo_figures: Chapter 5's figures carry the measured numbers, labelled."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.book.zoo_figures import (
    accuracy_slider_figure,
    accuracy_widget,
    bound_figure,
    channel_figure,
    model_name,
    rv_gap_figure,
    worst_mi_figure,
)
from robustrep_lite.experiments.settings import ZooModel

STD, ROB = ZooModel("cifar10", "baseline_h", 0.0), ZooModel("cifar10", "baseline_h", 8 / 255)
MNIST = ZooModel("mnist", "baseline_h", 0.0)
GRID = (0.0, 2 / 255, 8 / 255, 16 / 255)
CURVES = {STD: [0.9, 0.5, 0.1, 0.0], ROB: [0.7, 0.6, 0.4, 0.2], MNIST: [0.99, 0.5, 0.1]}


def _record(gap, rv_paper, rv_refit, bound_paper=0.3):
    return {
        "accuracy_gap": gap,
        "rv_paper": rv_paper,
        "rv_stderr_paper": 0.05,
        "rv_refit": rv_refit,
        "rv_stderr_refit": 0.1,
        "normal_mi": 1.5,
        "worst_mi_paper": 0.01,
        "worst_mi_refit": 1.5 - rv_refit,
        "bound_paper": bound_paper,
        "bound_refit": 0.7,
        "pgd7_accuracy": 0.4,
        "strong_accuracy": 0.35,
    }


MEASURED = {STD: _record(0.4, 1.49, 0.6), ROB: _record(0.15, 0.8, 0.3, 0.65)}


def test_slider_shows_one_bar_set_per_eps_starting_at_the_evaluation_radius():
    fig = accuracy_slider_figure(CURVES, GRID, "cifar10", 500)
    assert len(fig.data) == len(GRID)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0/255", "2/255", "8/255", "16/255"]
    assert fig.layout.sliders[0].active == 2 and fig.layout.sliders[0].currentvalue.prefix == "ε = "
    assert [t.visible for t in fig.data] == [False, False, True, False]
    # mnist is not on this figure; each name over two lines, with ε
    assert list(fig.data[2].x) == ["baseline_h<br>(standard)", "baseline_h<br>(adv ε = 8/255)"]
    assert list(fig.data[2].y) == [0.1, 0.4]
    assert fig.layout.title.text == "CIFAR-10: PGD-7 accuracy on 500 test images"
    with pytest.raises(ValueError, match="curves"):
        accuracy_slider_figure(CURVES, GRID[:2], "cifar10", 500)
    with pytest.raises(ValueError, match="curves"):
        accuracy_slider_figure(CURVES, GRID, "svhn", 500)


def test_widget_reports_the_accuracies_at_the_chosen_eps():
    box = accuracy_widget(CURVES, GRID, "cifar10")
    slider, out, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert isinstance(slider, widgets.SelectionSlider) and slider.value == 2
    assert out.value == f"{STD.label}: 10.0%<br>{ROB.label}: 40.0%"
    slider.value = 0
    assert out.value == f"{STD.label}: 90.0%<br>{ROB.label}: 70.0%"


def test_figure_1_plots_rv_against_the_gap_for_both_read_outs():
    fig = rv_gap_figure(MEASURED)
    assert [t.name for t in fig.data] == ["paper read-out", "refit read-out"]
    assert list(fig.data[0].x) == [0.4, 0.15] and list(fig.data[1].y) == [0.6, 0.3]
    assert list(fig.data[1].error_y.array) == [0.1, 0.1]
    assert list(fig.data[0].text) == [
        "cifar10/baseline_h (standard)",
        "cifar10/baseline_h (adv ε = 8/255)",
    ]
    assert fig.layout.xaxis.tickformat == ".0%"


def test_figure_2_bars_and_ranges():
    left = worst_mi_figure(MEASURED)
    assert [t.name for t in left.data] == [
        "I(X; g(X))",
        "worst case (paper)",
        "worst case (refit)",
    ]
    assert list(left.data[2].y) == pytest.approx([0.9, 1.2])
    assert list(left.data[0].x) == [
        "CIFAR-10<br>baseline_h<br>(standard)",
        "CIFAR-10<br>baseline_h<br>(adv ε = 8/255)",
    ]
    right = bound_figure(MEASURED)
    assert [list(t.y) for t in right.data] == [[0.3, 0.65], [0.7, 0.7], [0.4, 0.4], [0.35, 0.35]]
    assert tuple(right.layout.yaxis.range) == (0, 1.05) and right.layout.barmode == "group"


def test_figure_3_one_series_per_model():
    per = {
        STD: {"channel": np.arange(2), "normal_mi": np.array([0.1, 0.2]), "rv": np.array([0.1, 0])},
        ROB: {"channel": np.arange(2), "normal_mi": np.array([0.3, 0.4]), "rv": np.array([0, 0])},
    }
    fig = channel_figure(per, "cifar10")
    assert [t.name for t in fig.data] == [model_name(STD), model_name(ROB)]
    assert model_name(ROB) == "baseline_h (adv ε = 8/255)"
    assert list(fig.data[1].x) == [0.3, 0.4] and list(fig.data[0].text) == [
        "channel 0",
        "channel 1",
    ]
    assert "(CIFAR-10)" in fig.layout.title.text
    with pytest.raises(ValueError, match="per_channel"):
        channel_figure({}, "cifar10")
