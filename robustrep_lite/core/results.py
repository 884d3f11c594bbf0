"""Stored results: JSON files written by the benchmarks and long runs, with their provenance.

Chapters show full-length runs that are too slow to repeat on every build by reading the JSON
those runs stored in this repository (e.g. ``bench/results/mi_staircase_separable.json``). In a
checkout the file is read from disk; where the package was installed without the repository
(Colab), it is fetched from the repository's ``main`` branch.

Long runs write their rows as they finish to a *partial run* file next to their output
(:class:`PartialRun`), so that a killed run resumes where it stopped, and never replace an
existing output unless asked to (:func:`refuse_overwrite`).
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from robustrep_lite.core.runtime import code_provenance, git_commit

#: The GitHub repository of this project (the book's ``_config.yml`` names the same one).
REPOSITORY = "robustrep-lite/robustrep_lite"
RAW_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/"
CHECKOUT = Path(__file__).resolve().parents[2]


def load_stored(path: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Read the JSON result at ``path`` (relative to the repository root).

    Looks in this checkout first, then downloads it from the repository. Raises
    ``FileNotFoundError`` naming both places when neither has it, and a ``ValueError`` naming
    the file when it is not a JSON object. Its objects are :class:`StoredRecord` dicts: a key
    a reader needs but the file lacks raises :class:`MissingKeyError` naming file and key.
    """
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise ValueError(f"path must be relative to the repository root, got {path!r}")
    local = CHECKOUT / path
    if local.is_file():
        return _object(read_json(local), local)
    url = RAW_URL + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed host
            text = response.read().decode()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise FileNotFoundError(
            f"stored result {path!r} is neither in {CHECKOUT} nor downloadable from {url} "
            f"({error}); re-create it with the benchmark script that writes it"
        ) from None
    return _object(_parse_json(text, url), url)


def stored_if_present(path: str) -> dict[str, Any] | None:
    """The stored result at ``path`` (relative to the repository root, read by
    :func:`load_stored`) if this checkout has it, else ``None``: for results that exist only
    once a run has been made (a paper-scale or GPU run), so that a page can say none is stored
    instead of trying a download."""
    return load_stored(path) if (CHECKOUT / path).is_file() else None


def _object(value: Any, source: str | Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(
            f"{source} must hold a JSON object (a stored result), got a {type(value).__name__}; "
            "delete it or regenerate it with the script that writes it"
        )
    return value


class MissingKeyError(KeyError, ValueError):
    """A key a reader needs is missing from a stored JSON file (a ``KeyError``, so ``except
    KeyError`` still catches it, and a ``ValueError``, as every bad input of the library); the
    message names the file and where in it."""

    def __str__(self) -> str:
        return str(self.args[0])


class StoredRecord(dict):
    """A JSON object read from ``source`` (at ``where`` inside it, e.g. ``['results'][0]``; empty
    for the top level): an ordinary ``dict`` whose missing keys raise :class:`MissingKeyError`
    naming the file, instead of a bare ``KeyError`` deep inside the code that reads it."""

    source: str
    where: str

    def __missing__(self, key: Any) -> Any:
        place = f"in its object {self.where}" if self.where else "at its top level"
        raise MissingKeyError(
            f"{self.source} has no key {key!r} {place}: it is incomplete or was written by "
            "another version of its script; regenerate it with the script that writes it"
        )


def _records(value: Any, source: str, where: str) -> Any:
    """``value`` with every JSON object, nested ones too, a :class:`StoredRecord`."""
    if isinstance(value, dict):
        record = StoredRecord((k, _records(v, source, f"{where}[{k!r}]")) for k, v in value.items())
        record.source, record.where = source, where
        return record
    if isinstance(value, list):
        return [_records(v, source, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _parse_json(text: str, source: str | Path) -> Any:
    """``text`` parsed as JSON, its objects :class:`StoredRecord` dicts; a file that is not
    JSON (e.g. truncated by a kill) raises a ``ValueError`` naming ``source``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{source} is not valid JSON ({error}); it may have been cut short by a killed run: "
            "delete it or regenerate it with the script that writes it"
        ) from None
    return _records(value, str(source), "")


def read_json(path: str | Path) -> Any:
    """The JSON file at ``path``. Unlike a bare ``json.loads``, a corrupt, truncated or binary
    file raises a ``ValueError`` that names it and says to delete or regenerate it, and a key
    missing from one of its objects a :class:`MissingKeyError` naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON (not UTF-8 text: {error.reason} at byte {error.start}); "
            "delete it or regenerate it with the script that writes it"
        ) from None
    return _parse_json(text, path)


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` (folders created) through a temporary file in the same folder
    and ``os.replace``, so that a kill leaves either the old file or the new one, never half of
    one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


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


def resume_settings(arguments: Any) -> dict[str, Any]:
    """The settings a resumed run must share with the run it continues (:class:`PartialRun`):
    :func:`run_config` of ``arguments`` without ``out`` and ``overwrite``, which do not change
    what is computed."""
    return {k: v for k, v in run_config(arguments).items() if k not in ("out", "overwrite")}


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
    to a temporary name and renamed, so a kill never leaves half a file. A record without a
    ``provenance`` entry gets one (:func:`~robustrep_lite.core.runtime.code_provenance`: versions,
    commit and time), so that every stored result says which code produced it."""
    if "provenance" not in record:
        record = {**record, "provenance": code_provenance()}
    target = write_atomic(path, json.dumps(strict_json(record), indent=1, allow_nan=False))
    print(f"saved {target}")
    return target


def merged_provenance(parts: Sequence[tuple[str | Path, dict[str, Any]]]) -> dict[str, Any]:
    """The provenance of a result joined from runs split over parts (e.g. estimators run in
    parallel): the fields every part's provenance shares (commit, versions) and, under
    ``parts``, each part's file with the fields in which it differs (its time).

    ``parts`` pairs each file with its record. A ``ValueError`` naming the file is raised when a
    part has no provenance or no clean commit (unknown, or ``+modified``), and when the parts
    were made at different commits: a joined record must be the output of one version of the
    code."""
    if not parts:
        raise ValueError("parts must name at least one run to merge, got none")
    provenances = []
    for source, record in parts:
        provenance = record.get("provenance")
        commit = provenance.get("git_commit") if isinstance(provenance, dict) else None
        if not isinstance(commit, str) or commit == "unknown" or not _reusable_commit(commit):
            raise ValueError(
                f"{portable_path(source)} has no clean commit in its provenance (got "
                f"{commit!r}); re-run it at a commit without uncommitted changes to merge it"
            )
        provenances.append(provenance)
    commits = {p["git_commit"] for p in provenances}
    if len(commits) > 1:
        raise ValueError(
            f"the parts were made at different commits ({', '.join(sorted(commits))}); "
            "merge only runs of one version of the code"
        )
    shared = {
        key: value
        for key, value in provenances[0].items()
        if all(key in p and p[key] == value for p in provenances[1:])
    }
    own = [
        {"file": portable_path(source), **{k: v for k, v in p.items() if k not in shared}}
        for (source, _), p in zip(parts, provenances, strict=True)
    ]
    return {**shared, "parts": own}


def _reusable_commit(commit: str | None) -> bool:
    """Whether results computed at ``commit`` can be told apart from those of other code: a
    known commit without uncommitted changes to the library (``+modified``)."""
    return commit is not None and not commit.endswith("+modified")


def save_cached(path: str | Path, value: Any, *, settings: dict[str, Any]) -> Path:
    """Store a finished piece of a long run (e.g. one cell of Table 1) at ``path`` together with
    the git commit it was computed at (:func:`robustrep_lite.core.runtime.git_commit`) and the
    ``settings`` it used, atomically (temporary file, then rename), so that
    :func:`load_cached` can tell whether a re-run may reuse it."""
    record = {"git_commit": git_commit(), "settings": settings, "value": value}
    return write_atomic(path, json.dumps(strict_json(record), allow_nan=False))


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


def refuse_overwrite(out: str | Path, overwrite: bool) -> None:
    """Raise ``FileExistsError`` naming ``out`` when it exists and ``overwrite`` is false: a
    benchmark never replaces another run's stored result unless told to (``--overwrite``)."""
    target = Path(out)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists (another run's result); pass --overwrite to replace it, "
            "or choose another --out"
        )


def partial_path(out: str | Path) -> Path:
    """Where :class:`PartialRun` keeps the finished rows of the run that will write ``out``:
    ``NAME.partial.json`` in the same folder."""
    target = Path(out)
    return target.with_name(f"{target.stem}.partial.json")


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, paths strings)."""
    return json.loads(json.dumps(value, default=str))


class PartialRun:
    """The finished rows of a long run, kept in :func:`partial_path` ``(out)`` as they finish so
    that a run killed part-way resumes where it stopped.

    On creation it refuses an existing ``out`` unless ``overwrite`` (:func:`refuse_overwrite`).
    If a partial file is there, it must hold a run with the same ``settings`` (compared as JSON)
    started at the same commit (:func:`robustrep_lite.core.runtime.git_commit`); its rows are
    then reused, otherwise a ``ValueError`` names the file (finish that run with its settings,
    or delete the file to start over). Rows are keyed by tuples of JSON values (e.g.
    ``(dataset, model, search, seed)``); :meth:`add` writes the file atomically after every row
    and :meth:`finish` writes the complete record to ``out`` and removes the partial file. The
    partial file keeps NaN as JSON's non-standard ``NaN`` (Python reads it back), so a resumed
    row equals the row as computed; the final record is strict JSON (:func:`save_result`)."""

    def __init__(
        self, out: str | Path, settings: dict[str, Any], *, overwrite: bool = False
    ) -> None:
        refuse_overwrite(out, overwrite)
        self.overwrite = overwrite
        self.out = Path(out)
        self.path = partial_path(out)
        self.settings = _as_json(settings)
        self.commit = git_commit()
        self.rows: dict[str, Any] = {}
        #: when the run was first started (kept across resumes), e.g. "2026-12-01 10:00 UTC"
        self.started_utc = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self._previous_s = 0.0
        self._start = time.perf_counter()
        if self.path.exists():
            stored = read_json(self.path)
            if not isinstance(stored, dict) or not {"settings", "rows", "git_commit"} <= set(
                stored
            ):
                raise ValueError(
                    f"{self.path} is not a partial-run file; delete it to start the run over"
                )
            if stored["settings"] != self.settings:
                old = stored["settings"]
                differ = sorted(
                    k
                    for k in set(old) | set(self.settings)
                    if k not in old or k not in self.settings or old[k] != self.settings[k]
                )
                raise ValueError(
                    f"{self.path} holds an unfinished run with other settings (differing: "
                    f"{', '.join(differ)}; it was started with {old}); rerun with those settings "
                    "to finish it, or delete the file to start over"
                )
            if stored["git_commit"] != self.commit:
                raise ValueError(
                    f"{self.path} holds an unfinished run started at commit "
                    f"{stored['git_commit']}, but this checkout is at {self.commit}; finish it "
                    "at that commit, or delete the file to start over"
                )
            self.rows = stored["rows"]
            self.started_utc = stored.get("started_utc", self.started_utc)
            self._previous_s = float(stored.get("wall_s") or 0.0)
        #: rows taken over from the partial file
        self.resumed = len(self.rows)

    @classmethod
    def from_arguments(cls, out: str | Path, arguments: Any, **resolved: Any) -> PartialRun:
        """The partial run of a benchmark script that writes ``out``: its settings are
        :func:`resume_settings` of the parsed command line ``arguments`` updated with
        ``resolved`` (what the command line leaves open and the script settles, e.g. the
        profile chosen from ``$ROBUSTREP_PROFILE``, the record of its settings, the device; an
        entry of ``resolved`` replaces the argument of the same name), and
        ``arguments.overwrite`` says whether an existing ``out`` may be replaced."""
        return cls(out, {**resume_settings(arguments), **resolved}, overwrite=arguments.overwrite)

    @staticmethod
    def _key(key: Sequence[Hashable]) -> str:
        return json.dumps(list(key))

    def done(self, key: Sequence[Hashable]) -> bool:
        """Whether the row ``key`` is finished (in this session or an earlier one)."""
        return self._key(key) in self.rows

    def get(self, key: Sequence[Hashable]) -> Any:
        """The finished row ``key`` (``KeyError`` if it is not)."""
        return self.rows[self._key(key)]

    def add(self, key: Sequence[Hashable], row: Any) -> Any:
        """Store the finished ``row`` under ``key`` and rewrite the partial file atomically.
        Returns the row as it reads back from the file (tuples as lists), which is what a
        resumed run gets, so both see the same values."""
        self.rows[self._key(key)] = _as_json(row)
        record = {
            "settings": self.settings,
            "git_commit": self.commit,
            "started_utc": self.started_utc,
            "wall_s": self.wall_s,
            "rows": self.rows,
        }
        write_atomic(self.path, json.dumps(record, indent=1))
        return self.rows[self._key(key)]

    @property
    def wall_s(self) -> float:
        """Wall seconds of the run so far, the sessions before a resume included (each up to
        its last finished row)."""
        return self._previous_s + time.perf_counter() - self._start

    def finish(self, record: dict[str, Any]) -> Path:
        """Write the complete ``record`` to ``out`` atomically (:func:`save_result`) and remove
        the partial file; ``out`` is checked again (:func:`refuse_overwrite`), in case another
        run wrote it meanwhile, and then the partial file is kept."""
        refuse_overwrite(self.out, self.overwrite)
        target = save_result(record, self.out)
        self.path.unlink(missing_ok=True)
        return target
