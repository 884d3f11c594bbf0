"""Ruff-clean code: the library, tests, benchmarks and book extension at 100 columns, and the
chapters' code cells at 88 (what fits a page of the built book without scrolling)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ["robustrep_lite", "tests", "bench", "book/_ext", "conftest.py"]
NOTEBOOKS = [
    "--line-length",
    "88",
    "--config",
    "extend-exclude=[]",
    *sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("book/*.ipynb")),
]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check", *PYTHON],
        ["format", "--check", *PYTHON],
        ["check", *NOTEBOOKS],
        ["format", "--check", *NOTEBOOKS],
    ],
    ids=["check", "format", "check-notebooks", "format-notebooks"],
)
def test_ruff_is_clean(args: list[str]) -> None:
    result = _ruff(*args)
    assert result.returncode == 0, result.stdout + result.stderr
