"""robustrep_lite: worst-case mutual information and robust representations, as a book.

Reproduces Zhu, Zhang & Evans, "Learning Adversarially Robust Representations via Worst-Case
Mutual Information Maximization" (ICML 2020), and sets it beside spectral regularization of
representations (Yang, Zavatone-Veth & Pehlevan, 2024).

The package is in six layers (ARCHITECTURE.md), listed here from the bottom (0) up; a module
imports only from its own package and the layers below it, and the two packages that share a
layer (``theory`` and ``mi``; ``book`` and ``cli``) are independent siblings that never import
each other:

- ``core``: argument checks, device and provenance, stored results;
- ``theory``: the paper's closed forms and finite measures (numpy and scipy only);
- ``mi`` (beside ``theory``): MI bounds, critics, the one critic-fitting loop, ``estimate_mi``;
- ``adversarial``: PGD, the worst-case MI search, representation vulnerability;
- ``training``: data, models, objective (5.2), classifiers, the spectral regulariser;
- ``experiments``: the two papers' experiments and their settings per profile;
- ``book``: chapter set-up, figures and tables from stored results; ``cli``: the commands.

The one name every chapter needs first, :func:`setup_chapter`, is available here. It is
imported on first use, so that ``import robustrep_lite.mi`` does not pull in the plotting
stack.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("robustrep_lite")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "setup_chapter"]


def __getattr__(name: str) -> Any:
    if name == "setup_chapter":
        from robustrep_lite.book.chapter import setup_chapter

        return setup_chapter
    raise AttributeError(f"module 'robustrep_lite' has no attribute {name!r}")
