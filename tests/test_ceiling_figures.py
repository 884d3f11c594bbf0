"""Tests for robustrep_lite.book.ceiling_figures: Chapter 3's Lemma 3.3 figure and sentence, and
Theorem 3.4's ceiling as a figure and a calculator, checked against the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robustrep_lite.book.ceiling_figures import (
    ceiling_calculator,
    ceiling_figure,
    ceiling_sentence,
    lemma_3_3_figure,
    lemma_3_3_sentence,
    paper_example_verdict,
    worst_case_mi_for_accuracy,
)
from robustrep_lite.book.plots import LIVE_NOTICE
from robustrep_lite.core.paper_numbers import PAPER_ACCURACY_CEILING, PAPER_WORST_CASE_MI
from robustrep_lite.theory.theorems import MonteCarloResult, adversarial_accuracy_upper_bound

FRACTIONS = np.linspace(0.0, 1.0, 11)
RISK = 0.16 + 0.14 * FRACTIONS**1.2


def _mc(risk: float = 0.301, se: float = 0.0007) -> MonteCarloResult:
    zeros = dict.fromkeys(MonteCarloResult._fields, 0.0)
    return MonteCarloResult(**{**zeros, "adversarial_risk": risk, "se_adversarial_risk": se})


def test_lemma_3_3_sentence_states_every_fifth_fraction_and_the_monte_carlo_value() -> None:
    text = lemma_3_3_sentence(FRACTIONS, RISK, _mc())
    assert "0.1600 at t = 0.0" in text and f"{RISK[5]:.4f} at t = 0.5" in text
    assert "0.3000 at t = 1.0" in text and "0.3010 ± 0.0007" in text
    assert "t = 0.1" not in text


def test_lemma_3_3_figure_marks_the_supremum_and_covers_the_data() -> None:
    fig = lemma_3_3_figure(FRACTIONS, RISK, eps=0.5, p=2.0, monte_carlo=_mc())
    assert "ε = 0.5" in fig.layout.title.text and "p = 2" in fig.layout.title.text
    assert list(fig.data[0].y) == pytest.approx(RISK)
    assert fig.layout.shapes[0].y0 == pytest.approx(RISK[-1])  # the supremum, at t = 1
    assert fig.data[1].x == (1.0,) and fig.data[1].y == (0.301,)
    low, high = fig.layout.yaxis.range
    assert low < RISK.min() and high > 0.301 + 2 * 0.0007 and high - low < 0.2
    assert "≠" in fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="one length"):
        lemma_3_3_figure(FRACTIONS, RISK[:-1], eps=0.5, p=2.0)


def test_ceiling_sentence_reproduces_the_papers_example_and_flags_vacuous_bounds() -> None:
    # Section 6.1: I_worst = 1.08 nats on CIFAR-10 allows at most 77.0% adversarial accuracy
    assert "<b>77.0%</b>" in ceiling_sentence(1.08, 10)
    assert "&ge; 0.230" in ceiling_sentence(1.08, 10)
    assert "vacuous" not in ceiling_sentence(1.08, 10)
    assert "vacuous" in ceiling_sentence(0.0, 2) and "<b>100.0%</b>" in ceiling_sentence(0.0, 2)


def test_worst_case_mi_for_accuracy_inverts_the_ceiling() -> None:
    accuracy = np.array([0.5, 0.9, 1.0])
    mi = worst_case_mi_for_accuracy(accuracy, 10)
    np.testing.assert_allclose(adversarial_accuracy_upper_bound(mi, 10), accuracy, atol=1e-12)
    # 100% needs log(|Y| / 2): log 5 = 1.609 nats on ten classes
    assert mi[-1] == pytest.approx(math.log(5))
    assert worst_case_mi_for_accuracy(0.9, 10) == pytest.approx(0.9 * math.log(10) - math.log(2))
    assert worst_case_mi_for_accuracy(0.3, 10) < 0  # I_worst = 0 already allows 30%
    with pytest.raises(ValueError, match="accuracy"):
        worst_case_mi_for_accuracy(1.2, 10)
    with pytest.raises(ValueError, match="n_classes"):
        worst_case_mi_for_accuracy(0.5, 1)


def test_paper_example_verdict_compares_at_the_papers_precision() -> None:
    ours = float(adversarial_accuracy_upper_bound(PAPER_WORST_CASE_MI, 10))
    assert paper_example_verdict(ours) == "reproduces"
    assert paper_example_verdict(PAPER_ACCURACY_CEILING + 0.0004) == "reproduces"
    assert paper_example_verdict(PAPER_ACCURACY_CEILING + 0.002) == "does not reproduce"


def test_ceiling_calculator_updates_its_answer() -> None:
    box = ceiling_calculator()
    slider, choice, answer, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert slider.value == 1.08 and choice.value == 10 and "77.0%" in answer.value
    slider.value = math.log(5.0)  # the ceiling reaches 100% at log(|Y| / 2)
    assert "100.0%" in answer.value
    choice.value = 1000
    assert "100.0%" not in answer.value
    with pytest.raises(ValueError, match="n_classes"):
        ceiling_calculator(n_classes=3)


def test_ceiling_figure_has_one_slider_step_per_class_count() -> None:
    grid = np.linspace(0.0, 7.0, 141)
    fig = ceiling_figure(grid, classes=(2, 10), example=1.08)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["2", "10"]
    assert len(fig.data) == 6 and fig.layout.sliders[0].active == 1
    ceiling_10, vacuous_10, star_10 = fig.data[3:]
    assert ceiling_10.y[0] == pytest.approx(100 * math.log(2) / math.log(10))
    assert max(ceiling_10.y) == pytest.approx(100.0)
    assert vacuous_10.x[0] == pytest.approx(math.log(5.0))
    assert star_10.y[0] == pytest.approx(77.0, abs=0.05)
    assert tuple(fig.layout.xaxis.range) == (0.0, 7.0)
    assert all(v == 100.0 for v in fig.data[0].y)  # two classes: vacuous everywhere
    assert fig.layout.sliders[0].pad.t >= 60 and fig.layout.margin.b >= 120
