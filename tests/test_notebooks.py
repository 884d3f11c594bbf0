"""Notebook hygiene: every chapter is in the table of contents, opens with the Colab badge and
the shared set-up cell, was run top to bottom in order, and stores no error and no blank
figure."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/")


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


NOTEBOOKS = sorted(ROOT.glob("book/*.ipynb"))


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists() -> None:
    toc = _toc_files()
    assert {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS} <= set(toc)
    for entry in toc:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), entry


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _setup_source(nb: nbformat.NotebookNode) -> str:
    return nb.cells[1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_colab_badge_and_the_shared_setup_cell(path: Path) -> None:
    nb = _read(path)
    first, setup = nb.cells[0], nb.cells[1]
    link = f"https://colab.research.google.com/github/{REPO}/blob/main/{path.relative_to(ROOT)}"
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert f"]({link})" in first.source and "colab-badge.svg" in first.source
    assert setup.cell_type == "code"
    assert setup.source == _setup_source(_read(NOTEBOOKS[0])), "set-up cells must be identical"
    assert '"google.colab" in sys.modules' in setup.source and "rr.setup_chapter(" in setup.source
    assert f"github.com/{REPO}@main" in setup.source
    install = [line for line in setup.source.splitlines() if "pip install" in line]
    assert install and not any(pkg in install[0] for pkg in ("torch", "numpy")), install


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ran_top_to_bottom_in_order_without_errors(path: Path) -> None:
    code = [cell for cell in _read(path).cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"execution counts {counts}"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"stored error in {path.name}: {cell.source[:60]}"
            text = output.get("text", "")
            assert "Traceback (most recent call last)" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_record_their_provenance_and_draw_in_the_book(path: Path) -> None:
    nb = _read(path)
    banner = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    for field in ("robustrep_lite ", "profile: ", "device: ", "data: ", "run at "):
        assert field in banner, f"{path.name}: banner lacks {field!r}"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.plotly.v1+json" in data:
                assert "text/html" in data, f"{path.name}: a plotly figure with no HTML (blank)"
