"""Stored results: JSON files written by the benchmarks and long runs, with their provenance.

Chapters show full-length runs that are too slow to repeat on every build by reading the JSON
those runs stored in this repository (e.g. ``bench/results/mi_staircase_separable.json``). In a
checkout the file is read from disk; where the package was installed without the repository
(Colab), it is fetched from the repository's ``main`` branch.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from robustrep_lite.core.runtime import git_commit

#: The GitHub repository of this project (the book's ``_config.yml`` names the same one).
REPOSITORY = "robustrep-lite/robustrep_lite"
RAW_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/"
CHECKOUT = Path(__file__).resolve().parents[2]


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


def portable_path(path: str | Path) -> str:
    """``path`` as a stored result may record it: relative to the repository root when it lies
    inside this checkout, otherwise its file name only, so no machine's folders are stored."""
    target = Path(path)
    if not target.is_absolute():
        return target.as_posix()
    try:
        return target.resolve().relative_to(CHECKOUT).as_posix()
    except ValueError:
        return target.name


def run_config(arguments: Any) -> dict[str, Any]:
    """A benchmark's command-line ``arguments`` (an ``argparse.Namespace``) as a JSON-able dict
    for its stored record, with every path (also inside lists) made :func:`portable_path`."""

    def portable(value: Any) -> Any:
        if isinstance(value, Path):
            return portable_path(value)
        if isinstance(value, (list, tuple)):
            return [portable(v) for v in value]
        return value

    return {key: portable(value) for key, value in vars(arguments).items()}


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (JSON ``null``), so that strict
    JSON readers accept it; a missing number reads as ``null``, never as a bare ``NaN``."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_result(record: dict[str, Any], path: str | Path) -> Path:
    """Write a benchmark's ``record`` as indented, strict JSON to ``path`` (folders created) and
    say so. NaN and infinities are written as ``null`` (:func:`strict_json`); the file is written
    to a temporary name and renamed, so a kill never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(strict_json(record), indent=1, allow_nan=False))
    os.replace(tmp, target)
    print(f"saved {target}")
    return target


def _reusable_commit(commit: str | None) -> bool:
    """Whether results computed at ``commit`` can be told apart from those of other code: a
    known commit without uncommitted changes to the library (``+modified``)."""
    return commit is not None and not commit.endswith("+modified")


def save_cached(path: str | Path, value: Any, *, settings: dict[str, Any]) -> Path:
    """Store a finished piece of a long run (e.g. one cell of Table 1) at ``path`` together with
    the git commit it was computed at (:func:`robustrep_lite.core.runtime.git_commit`) and the
    ``settings`` it used, atomically (temporary file, then rename), so that
    :func:`load_cached` can tell whether a re-run may reuse it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"git_commit": git_commit(), "settings": settings, "value": value}
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(strict_json(record), allow_nan=False))
    os.replace(tmp, target)
    return target


def load_cached(path: str | Path, *, settings: dict[str, Any]) -> Any | None:
    """The value :func:`save_cached` stored at ``path``, or ``None`` (compute it again) unless
    it was computed at this checkout's commit with these ``settings`` (compared as JSON). A file
    that is missing, unreadable, in another format, written at another or an unknown commit, or
    at a commit with uncommitted library changes (``+modified``: different edits cannot be told
    apart) is never reused; the caller recomputes and overwrites it."""
    target = Path(path)
    if not target.is_file():
        return None
    try:
        record = json.loads(target.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not {"git_commit", "settings", "value"} <= set(record):
        return None
    commit = git_commit()
    if not _reusable_commit(commit) or record["git_commit"] != commit:
        return None
    if record["settings"] != json.loads(json.dumps(strict_json(settings))):
        return None
    return record["value"]
