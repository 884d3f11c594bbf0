"""Notebook hygiene: every chapter is in the table of contents, opens with the Colab badge and
the shared set-up cell, was run top to bottom in order, and stores no error and no blank
figure. Citations: every work the prose names is cited with a {cite} role whose key is in
book/references.bib, and every entry there is cited."""

from __future__ import annotations

import re
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


# Citations. The prose of the book is every markdown cell of the chapters and every book/*.md
# page. A work is cited with {cite}`key` (or {cite:t}`key` where the sentence names the
# authors), never as plain text. book/bibliography.md lists the whole of references.bib with
# `:all:`, so that one page holds every reference; the tests below keep that list honest: every
# entry must be cited somewhere in the book, and every cited key must be an entry.

BIB = ROOT / "book" / "references.bib"
PAGES = sorted(ROOT.glob("book/*.md"))
CITE_ROLE = re.compile(r"\{cite(?::(?P<kind>[a-z]+))?\}`(?P<keys>[^`]*)`")
CITE_KINDS = {None, "p", "t"}  # parenthetical and textual; rendered by sphinxcontrib-bibtex 2.6

#: Plain-text citations: "Name et al.", "Name & Name 2020", "(Name, 2020)", "Name (2020)".
_NAME = r"[A-Z][^\W\d_]+(?:-[A-Z][^\W\d_]+)?"
_YEAR = r"(?:1[89]|20)\d{2}[a-z]?"
PLAIN_CITATIONS = [
    re.compile(rf"\b{_NAME} et al\b"),
    re.compile(rf"\b{_NAME},? (?:&|and) {_NAME},? \(?{_YEAR}\b"),
    re.compile(rf"\({_NAME}(?: et al\.?| (?:&|and) {_NAME})?,? {_YEAR}\)"),
    re.compile(rf"\b{_NAME} \({_YEAR}\)"),
]

#: Names of methods, software and results attributed to a work: a page that uses one in its prose
#: cites (one of) the work's key(s) somewhere on the page. Data sets are cited where the book
#: says where its data come from (Chapter 0), not on every page that names them.
NAMED_WORKS: dict[str, set[str]] = {
    r"\bPGD\b": {"madry2018pgd"},
    r"\bMINE\b": {"belghazi2018mine"},
    r"\bInfoNCE\b": {"oord2018cpc"},
    r"\bNWJ\b": {"nguyen2010nwj"},
    r"\bDV\b|Donsker": {"donsker1983dv"},
    r"\bSMILE\b": {"song2020smile"},
    r"Deep InfoMax": {"hjelm2019dim"},
    r"\bJSD\b": {"hjelm2019dim", "nowozin2016fgan"},
    r"\bKSG\b": {"kraskov2004ksg"},
    r"\bCCA\b": {"hotelling1936cca"},
    r"benchmark-mi|\bbmi\b": {"czyz2023beyond"},
    r"torch-mist": {"federici2023hybrid"},
    r"Fano": {"cover2006elements"},
    r"\bAPGD|AutoAttack": {"croce2020reliable"},
    r"pyautoattack": {"croce2020reliable"},
    r"universal\*? perturbation": {"moosavi2017universal"},
    r"HopSkipJump": {"chen2020hopskipjump"},
    r"Tangent Attack": {"ma2021tangent"},
    r"\bDDN\b": {"rony2019ddn"},
    r"foolbox": {"rauber2017foolbox", "rauber2020foolbox"},
    r"rep-spectral|ll-spectral": {"yang2024spectral"},
    r"ResNet": {"he2016resnet"},
    r"VGG": {"simonyan2015vgg"},
    r"DenseNet": {"huang2017densenet"},
    r"\bAdam\b": {"kingma2015adam"},
    r"GELU": {"hendrycks2016gelu"},
    r"[Bb]atch normali[sz]ation": {"ioffe2015batchnorm"},
    r"L-BFGS": {"liu1989lbfgs"},
    r"scikit-learn": {"pedregosa2011sklearn"},
}


def _bib_entries() -> dict[str, str]:
    """references.bib as {key: the entry's text}."""
    entries = re.split(r"^@", BIB.read_text(encoding="utf-8"), flags=re.M)[1:]
    return {e.split("{", 1)[1].split(",", 1)[0].strip(): e for e in entries}


def _documents() -> dict[str, str]:
    """The prose of every page: a chapter's markdown cells joined, or a book/*.md file."""
    docs = {p.name: p.read_text(encoding="utf-8") for p in PAGES}
    for path in NOTEBOOKS:
        cells = _read(path).cells
        docs[path.name] = "\n\n".join(c.source for c in cells if c.cell_type == "markdown")
    return docs


def _generated_markdown(path: Path) -> str:
    """The Markdown that a chapter's code cells output (tables and sentences the library writes)."""
    parts = []
    for cell in _read(path).cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("data", {}).get("text/markdown", ""))
    return "\n\n".join(parts)


def _plain_prose(text: str) -> str:
    """The text a reader sees as words: without code, roles (cite, glue, doc), math and links."""
    text = re.sub(r"^(```|~~~).*?^\1", " ", text, flags=re.S | re.M)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]+\$", " ", text)
    return re.sub(r"\]\([^)]*\)|https?://\S+", " ", text)


def _cited(text: str) -> set[str]:
    return {k.strip() for m in CITE_ROLE.finditer(text) for k in m["keys"].split(",")}


def plain_text_citations(text: str) -> list[str]:
    """Citations written as plain text (outside a {cite} role) in ``text``."""
    prose = _plain_prose(text)
    return [m.group(0) for pattern in PLAIN_CITATIONS for m in pattern.finditer(prose)]


def uncited_named_works(text: str) -> list[str]:
    """The NAMED_WORKS patterns that ``text`` uses in its prose without citing their work."""
    prose, cited = _plain_prose(text), _cited(text)
    return [p for p, keys in NAMED_WORKS.items() if re.search(p, prose) and not keys & cited]


def test_the_citation_checks_catch_plain_text_and_uncited_names() -> None:
    bad = [
        "Deep InfoMax (Hjelm et al. 2019) learns a representation.",
        "after Poole et al. 2019 and Song & Ermon 2020",
        "penalty on all layers (Yoshida and Miyato, 2017)",
        "Yang, Zavatone-Veth and Pehlevan (2024) do not estimate any mutual information",
        "the benchmark of Czyż et al.",
    ]
    for text in bad:
        assert plain_text_citations(text), text
    good = [
        "Deep InfoMax {cite}`hjelm2019dim` learns, after {cite:t}`poole2019variational`.",
        "see `bench/mi_staircase.py --seeds 3` (2019) and $\\I(X; Z) (2020)$ in Figure 1",
        "CIFAR-10 at $\\epsilon = 8/255$ (the paper's setting, 2020 edition of the data)",
    ]
    for text in good:
        assert not plain_text_citations(text), text
    named = "PGD-7 and APGD {cite}`croce2020reliable`; `torch-mist` in code is not prose"
    assert uncited_named_works(named) == [r"\bPGD\b"]


@pytest.mark.parametrize("name", sorted(_documents()), ids=str)
def test_prose_cites_works_with_roles_not_plain_text(name: str) -> None:
    text = _documents()[name]
    assert not plain_text_citations(text), (
        f"{name}: plain-text citations {plain_text_citations(text)}; use {{cite}}`key` "
        "(or {cite:t}`key` where the sentence names the authors) with a references.bib key"
    )
    missing = uncited_named_works(text)
    assert not missing, f"{name} names works it does not cite: " + ", ".join(
        f"{p!r} -> {sorted(NAMED_WORKS[p])}" for p in missing
    )
    kinds = {m["kind"] for m in CITE_ROLE.finditer(text)}
    assert kinds <= CITE_KINDS, f"{name}: unsupported cite roles {kinds - CITE_KINDS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glued_markdown_holds_no_dollar_math(path: Path) -> None:
    """A {glue:md} role inserts its Markdown after the page's math was parsed, so ``$...$`` in
    a glued sentence reaches the reader as raw TeX (the browser test finds it too, after a
    book build); glued sentences write symbols as text (ℓ∞, τ)."""
    nb = nbformat.read(path, as_version=4)
    found = [
        output["metadata"]["scrapbook"]["name"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "scrapbook" in output.get("metadata", {})
        and "$" in output.get("data", {}).get("application/papermill.record/text/markdown", "")
    ]
    assert not found, f"{path.name}: glued Markdown with $ math: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_generated_markdown_has_no_plain_text_citations(path: Path) -> None:
    found = plain_text_citations(_generated_markdown(path))
    assert not found, f"{path.name}: generated Markdown cites as plain text: {found}"


def test_every_cited_key_is_in_the_bibliography_and_every_entry_is_cited() -> None:
    entries = _bib_entries()
    cited = set().union(*(_cited(text) for text in _documents().values()))
    assert not cited - set(entries), f"cited but not in references.bib: {cited - set(entries)}"
    assert not set(entries) - cited, f"in references.bib but never cited: {set(entries) - cited}"
    assert "```{bibliography}\n:all:\n```" in (ROOT / "book" / "bibliography.md").read_text()


def test_every_bibliography_entry_is_complete() -> None:
    for key, entry in _bib_entries().items():
        fields = set(re.findall(r"^\s*(\w+)\s*=", entry, flags=re.M))
        assert {"author", "title", "year"} <= fields, f"{key}: missing {fields}"
        venue = {"journal", "booktitle", "howpublished", "institution", "publisher"}
        assert fields & venue, f"{key}: no venue"
        assert fields & {"url", "doi"}, f"{key}: no url or doi"
