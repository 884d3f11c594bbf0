"""Stored results: JSON files written by the benchmarks and long runs, with their provenance.

Chapters show full-length runs that are too slow to repeat on every build by reading the JSON
those runs stored in this repository (e.g. ``bench/results/mi_staircase_separable.json``). In a
checkout the file is read from disk; where the package was installed without the repository
(Colab), it is fetched from the repository's ``main`` branch.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: The GitHub repository of this project (the book's ``_config.yml`` names the same one).
REPOSITORY = "robustrep-lite/robustrep_lite"
RAW_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/"
CHECKOUT = Path(__file__).resolve().parents[1]


def load_stored(path: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Read the JSON result at ``path`` (relative to the repository root).

    Looks in this checkout first, then downloads it from the repository. Raises
    ``FileNotFoundError`` naming both places when neither has it.
    """
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise ValueError(f"path must be relative to the repository root, got {path!r}")
    local = CHECKOUT / path
    if local.is_file():
        return json.loads(local.read_text())
    url = RAW_URL + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed host
            return json.loads(response.read().decode())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise FileNotFoundError(
            f"stored result {path!r} is neither in {CHECKOUT} nor downloadable from {url} "
            f"({error}); re-create it with the benchmark script that writes it"
        ) from None


def save_result(record: dict[str, Any], path: str | Path) -> Path:
    """Write a benchmark's ``record`` as indented JSON to ``path`` (folders created) and say so."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1))
    print(f"saved {target}")
    return target
