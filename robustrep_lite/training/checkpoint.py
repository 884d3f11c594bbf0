"""Checkpoints that let a long run be killed and resumed with the same final weights.

A checkpoint holds the state of named modules and optimisers, the step reached, any extra
record (history, config), the settings of the run that wrote it (a resume with other settings
is refused rather than silently continued), and the global torch RNG states (CPU, and CUDA if
present; the library draws all its randomness from torch). It is written atomically (temporary
file, then ``os.replace``), so a kill during the write leaves the previous checkpoint intact.
Training loops that draw shuffles and attack starts from generators seeded by
``(seed, epoch)`` and restore these RNG states resume bit-for-bit at an epoch boundary
(``tests/test_supervised.py`` kills a run and resumes it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["exclusive_run", "load_checkpoint", "save_checkpoint"]


#: Names the folder where trained models are kept between runs (chapters, the CLI, benchmarks).
CHECKPOINTS_ENV_VAR = "ROBUSTREP_CHECKPOINTS"


def checkpoint_root() -> Path:
    """The one folder trained models are kept in between runs, so that a re-run loads what a
    finished run trained and a killed one resumes: ``$ROBUSTREP_CHECKPOINTS``, else
    ``checkpoints`` under the working directory. Each experiment keeps its own sub-folder."""
    return Path(os.environ.get(CHECKPOINTS_ENV_VAR) or "checkpoints")


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    extra: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically to ``path`` (parent folders are created); returns the path.

    step: the number of completed units of work (epochs or steps) the state corresponds to.
    settings: what must be equal for a later run to resume from it (checked by
    :func:`load_checkpoint`); plain values (numbers, strings, tuples, lists, dicts).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "step": int(step),
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "optimizers": {name: o.state_dict() for name, o in (optimizers or {}).items()},
        "extra": extra or {},
        "settings": settings,
        "rng": _rng_state(),
        "threads": torch.get_num_threads(),
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    lock = Path(f"{path}.lock")
    if lock.exists():  # the run's heartbeat: a lock written to recently is not stale
        os.utime(lock)
    return path


def _read(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    """The checkpoint's payload, unpickled with ``weights_only=True``: tensors, numbers,
    strings and containers only, so a crafted file cannot run code. Any failure (a file that is
    truncated, empty, not a checkpoint, or holds other objects) is one ``ValueError`` naming
    the file."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - every unreadable file gets the same answer
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"checkpoint {path} cannot be read as a weights-only checkpoint ({first[:200]}); "
            "it is corrupt, truncated or not one of this library's checkpoints: delete it (the "
            "run then starts afresh) or point the run at another checkpoint path"
        ) from None
    keys = {"step", "modules", "optimizers", "extra", "settings", "rng"}
    if not isinstance(payload, dict) or not keys <= set(payload):
        raise ValueError(
            f"checkpoint {path} is not one of this library's checkpoints (expected the keys "
            f"{sorted(keys)}); delete it or point the run at another checkpoint path"
        )
    return payload


def load_checkpoint(
    path: str | os.PathLike[str] | None,
    *,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    map_location: str | torch.device = "cpu",
    settings: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Restore a checkpoint written by :func:`save_checkpoint` into ``modules`` and
    ``optimizers`` (and the global RNG states); returns ``{"step": ..., "extra": ...}``, or
    ``None`` if ``path`` is ``None`` or does not exist (a fresh start).

    The file is read with ``torch.load(weights_only=True)``: loading never executes code from
    it. Raises ``ValueError`` naming the file if it cannot be read that way (corrupt,
    truncated, empty, foreign or crafted), if the checkpoint names modules or optimisers other
    than those given, or if ``settings`` is given and differs from the settings the checkpoint
    was written with (naming each difference). A checkpoint written without settings is not checked.
    """
    if path is None or not Path(path).exists():
        return None
    payload = _read(Path(path), map_location)
    saved = payload.get("settings")
    if settings is not None and saved is not None and saved != settings:
        keys = sorted(set(saved) | set(settings), key=str)
        diffs = [
            f"{k}: saved {saved.get(k)!r}, now {settings.get(k)!r}"
            for k in keys
            if saved.get(k) != settings.get(k)
        ]
        raise ValueError(
            f"checkpoint {path} was written by a run with other settings ({'; '.join(diffs)}); "
            "delete it, or point the run at another checkpoint path"
        )
    optimizers = optimizers or {}
    for kind, given in (("modules", modules), ("optimizers", optimizers)):
        if set(payload[kind]) != set(given):
            raise ValueError(
                f"checkpoint {path} holds {kind} {sorted(payload[kind])}, but {sorted(given)} "
                "were given; delete it or pass the matching objects"
            )
    threads = payload.get("threads")
    if threads is not None and threads != torch.get_num_threads():
        warnings.warn(
            f"checkpoint {path} was written with {threads} CPU threads and is resumed with "
            f"{torch.get_num_threads()}: on a CPU the resumed run can differ in the last bits "
            "from an uninterrupted one (set torch.set_num_threads to match for bit-identity)",
            stacklevel=2,
        )
    for name, m in modules.items():
        m.load_state_dict(payload["modules"][name])
    for name, o in optimizers.items():
        o.load_state_dict(payload["optimizers"][name])
    _set_rng_state(payload["rng"])
    return {"step": payload["step"], "extra": payload["extra"]}


#: A lock whose run has written no checkpoint for this long is taken over, whatever machine
#: wrote it (a Colab session that disconnected cannot release its lock on Google Drive).
STALE_LOCK_S = 6 * 3600


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Locks held by an ``exclusive_run(..., nested=True)`` of this thread: an exclusive_run of the
#: same checkpoint inside it passes through (one run made of several inner runs).
_NESTED_LOCKS: ContextVar[frozenset[str]] = ContextVar("_NESTED_LOCKS", default=frozenset())


@contextlib.contextmanager
def exclusive_run(path: str | os.PathLike[str] | None, *, nested: bool = False) -> Iterator[None]:
    """Hold the lock ``<path>.lock`` while a run writes the checkpoint ``path`` (``None``: no
    checkpoint, nothing to hold). A second run pointed at the same checkpoint gets a
    ``ValueError`` naming the process, machine and start time of the run that holds it, before
    it trains, so two runs can never write one file (nor a result point at another run's
    weights). Every checkpoint written refreshes the lock, so a lock left by a killed process of
    this machine, or one not refreshed for :data:`STALE_LOCK_S` (a run on another machine that
    disconnected), is taken over; otherwise the message says which lock to delete. The folder
    is created, and one that cannot be written fails here, before any training.

    ``nested=True``: while this lock is held, ``exclusive_run(path)`` calls made inside the block
    by the same thread pass through instead of being refused, so that one run made of several
    inner runs on the same checkpoint (each taking the lock itself) holds it from its first
    inner run to the end of its last; every other thread or process is still refused."""
    if path is None:
        yield
        return
    lock = Path(f"{path}.lock")
    key = str(lock.absolute())
    if key in _NESTED_LOCKS.get():  # held by the enclosing nested run
        yield
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"checkpoint folder {lock.parent} cannot be created ({err})") from None
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.ctime()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
            except (OSError, ValueError):
                holder = {}
            dead = holder.get("host") == me["host"] and not _alive(int(holder.get("pid", -1)))
            try:
                silent = time.time() - lock.stat().st_mtime > STALE_LOCK_S
            except OSError:
                silent = False
            if dead or silent:  # left by a killed run, or by one that stopped writing
                lock.unlink(missing_ok=True)
                continue
            raise ValueError(
                f"checkpoint {path} is in use by another run (process {holder.get('pid')} on "
                f"{holder.get('host')}, started {holder.get('started')}); wait for it to end or "
                f"give this run its own checkpoint path (if that run is gone, delete {lock}; it "
                f"is taken over by itself {STALE_LOCK_S // 3600} hours after its last checkpoint)"
            ) from None
        except OSError as err:
            raise ValueError(f"checkpoint folder {lock.parent} is not writable ({err})") from None
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        break
    else:
        raise ValueError(f"checkpoint {path}: the lock {lock} keeps reappearing; delete it")
    token = _NESTED_LOCKS.set(_NESTED_LOCKS.get() | {key}) if nested else None
    try:
        yield
    finally:
        if token is not None:
            _NESTED_LOCKS.reset(token)
        lock.unlink(missing_ok=True)
