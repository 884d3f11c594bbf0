"""The papers' numbers are held once, in core.paper_numbers, and read by row."""

from __future__ import annotations

import pytest

from robustrep_lite.core.paper_numbers import PAPER_TABLE1, paper_table1_row


def test_a_table1_row_reads_by_representation_and_head() -> None:
    row = paper_table1_row("worst_case", "standard_es")
    assert row == {
        "mlp_natural": 51.59,
        "mlp_adversarial": 27.53,
        "linear_natural": 48.55,
        "linear_adversarial": 13.52,
    }
    assert len({r[:2] for r in PAPER_TABLE1}) == len(PAPER_TABLE1)  # one row per pair


def test_an_unknown_row_names_the_accepted_pairs() -> None:
    with pytest.raises(ValueError, match=r"\('standard', 'standard'\).*got \('standard', 'es'\)"):
        paper_table1_row("standard", "es")
