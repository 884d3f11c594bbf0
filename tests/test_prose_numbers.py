"""No hand-typed run numbers in the book's prose.

A number a run produced reaches a chapter's text only through MyST-NB ``glue`` (or Markdown the
library generates), and the papers' own numbers come from ``robustrep_lite.core.paper_numbers``
the same way. What a markdown cell may still type is listed in :data:`ALLOWED` with the reason,
from these kinds:

- a constant of the method or of an experiment's design (a split, a learning rate, the λ of an
  arm, the paper's PGD step), which a run does not produce;
- a property of a formula (a bound that reaches 100%), or a value an exercise gives;
- a threshold that a sentence defines.

References (Theorem 3.2, Section 6.1, eq. (4.2)), version numbers, math, code and glue roles
are not prose numbers. The scan reads decimals and percentages; counts produced by a run must
be glued too, but are not told apart from other integers here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"

_REFERENCE = (
    r"(?:Definitions?|Theorems?|Lemmas?|Sections?|Figures?|Tables?|Corollary|Appendix|"
    r"Chapters?|eqs?\.|Eq\.|objectives?|equations?|model|[Ss]tep)"
)
_NOT_PROSE = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<!\\)\$[^$]*\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: glue, cite, doc, ...
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags
    re.compile(r"\b\d+\.\d+\.\d+\S*"),  # versions
    re.compile(
        _REFERENCE + r"\s*\(?\d+(?:\.\d+)*\)?(?:\s*(?:and|to|,|-|–)\s*\(?\d+(?:\.\d+)*\)?)*"
    ),
    re.compile(r"\(\d+\.\d+\)"),  # equation numbers
]
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?%|(?<![\w.])\d+\.\d+(?![\w.])")

#: (page, phrase as it appears in the prose once math, code and roles are removed, reason).
ALLOWED = [
    ("03_theorem_3_4", "The ceiling reaches 100%", "a property of the bound"),
    ("03_theorem_3_4", "the ceiling is at least 100%", "a property of the bound"),
    ("03_theorem_3_4", "allows 90% adversarial accuracy? And 100%?", "the exercise's values"),
    ("03_theorem_3_4", "nats for 90% and   nats\nfor 100%", "the exercise's values"),
    ("03_theorem_3_4", "allows 100% accuracy", "a property of the bound"),
    ("04_estimating_mi", "(60 / 20 / 20 %)", "the estimator's default split"),
    ("04_estimating_mi", "within max(10%, 0.05 nats)", "the benchmark's tolerance"),
    ("04_estimating_mi", "90% of its estimates within", "the quantile it reports"),
    ("05_measuring_vulnerability", "90% of them within", "the quantile the sentence reports"),
    ("05_measuring_vulnerability", "90% of its estimates within", "the quantile it reports"),
    ("05_measuring_vulnerability", "the bound is vacuous (100%)", "a property of the bound"),
    ("05_measuring_vulnerability", "on 80% of the images", "the unvalidated estimator's split"),
    ("05_measuring_vulnerability", "on the other 20%", "the unvalidated estimator's split"),
    ("05_measuring_vulnerability", "trained on 60% of the images", "the estimator's split"),
    ("05_measuring_vulnerability", "chosen on 20%", "the estimator's split"),
    ("05_measuring_vulnerability", "the remaining 20%", "the estimator's split"),
    ("06_learning_robust_representations", "7 steps of 0.01", "the paper's PGD (its code)"),
    ("07_spectral_regularization", "momentum 0.9", "the optimiser of the authors' code"),
    ("07_spectral_regularization", "learning rate 0.1", "the paper's optimiser"),
    ("07_spectral_regularization", "learning rate 0.5", "the cpu profile's optimiser"),
    ("07_spectral_regularization", "chance is 10%", "ten classes"),
    ("07_spectral_regularization", "λ = 0.1", "an arm's regularisation strength"),
    ("07_spectral_regularization", "λ = 0.01", "an arm's regularisation strength"),
    ("07_spectral_regularization", "λ = 0.1 and 0.01", "the arms' regularisation strengths"),
]


def prose(markdown: str) -> str:
    """``markdown`` without what is not prose: math, code, roles, references, versions."""
    for pattern in _NOT_PROSE:
        markdown = pattern.sub("", markdown)
    return markdown


def typed_numbers(text: str, allowed: list[str]) -> list[tuple[str, str]]:
    """The decimals and percentages of ``text`` (prose) outside the ``allowed`` phrases, each
    as (number, its context)."""
    spans = [
        (m.start(), m.end()) for phrase in allowed for m in re.finditer(re.escape(phrase), text)
    ]
    return [
        (m.group(), text[max(0, m.start() - 40) : m.end() + 20].replace("\n", " "))
        for m in _NUMBER.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in spans)
    ]


def _pages() -> dict[str, str]:
    pages = {}
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        pages[path.stem] = "\n\n".join(
            prose("".join(c["source"])) for c in cells if c["cell_type"] == "markdown"
        )
    for path in sorted(BOOK.glob("*.md")):
        pages[path.stem] = prose(path.read_text())
    return pages


@pytest.mark.parametrize("page", sorted(_pages()))
def test_no_hand_typed_numbers_in_the_prose(page: str) -> None:
    allowed = [phrase for p, phrase, _ in ALLOWED if p == page]
    assert typed_numbers(_pages()[page], allowed) == []


def test_every_allowed_phrase_is_still_in_its_page() -> None:
    pages = _pages()
    assert [(p, phrase) for p, phrase, _ in ALLOWED if phrase not in pages[p]] == []


def test_the_scan_finds_typed_results_and_skips_references_math_and_glue() -> None:
    text = prose(
        "Theorem 3.4 and eq. (4.2) of Section 6.1 with foolbox 3.3.4: $0.5$ and "
        "{glue:text}`acc:.1f`% `x = 0.3`; the critic reads 0.38 nats, 77.0% accurate, 50 %."
    )
    assert [number for number, _ in typed_numbers(text, [])] == ["0.38", "77.0%", "50 %"]
    found = typed_numbers("momentum 0.9 and 0.38 nats", ["momentum 0.9"])
    assert [number for number, _ in found] == ["0.38"]


def test_glued_numbers_are_stored_as_plain_numbers() -> None:
    """A numpy scalar glued as is stores its repr (``np.float64(0.3)``), which a ``{glue:text}``
    role prints verbatim or cannot format; ``book.chapter.glue`` stores the Python number."""
    numpy_repr = re.compile(r"np\.(?:float|int|uint|bool)\w*\(")
    found = {}
    for path in sorted(BOOK.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                texts = [v for k, v in output.get("data", {}).items() if k.endswith("text/plain")]
                if name and any(numpy_repr.search("".join(t)) for t in texts):
                    found.setdefault(path.stem, []).append(name)
    assert found == {}
