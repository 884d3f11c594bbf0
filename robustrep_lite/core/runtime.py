"""Where and how code runs: device choice, seeding, and the provenance record that every stored
result and chapter banner carries (profile, data, device, versions, commit)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from robustrep_lite.core.validation import check_seed


def package_version() -> str:
    """The installed version of robustrep_lite (``0.0.0+unknown`` in a source tree that was never
    installed)."""
    try:
        return importlib.metadata.version("robustrep_lite")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0+unknown"


#: Names the commit a copy without ``.git`` was made from (set by whoever sends the copy).
COMMIT_ENV_VAR = "ROBUSTREP_COMMIT"


def default_device() -> torch.device:
    """CUDA if available, then Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices) with ``seed``."""
    check_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator other code may use
    torch.manual_seed(seed)


#: Dense (no sparsity) tensor-core peaks from the vendors' datasheets, TFLOP/s, in the half type
#: a GPU's fast step runs in (bf16; fp16 for the T4 and V100, which have no native bf16), by a
#: substring of ``torch.cuda.get_device_name()`` (first match wins, so "H100 PCIe" precedes
#: "H100"). Used to state a step's share of its GPU's peak and to extrapolate to other GPUs.
DATASHEET_DENSE_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "T4": 65.0,
    "V100": 125.0,
}


def datasheet_peak(device: torch.device) -> float | None:
    """The datasheet dense peak (TFLOP/s, :data:`DATASHEET_DENSE_TFLOPS`) of a known CUDA
    device, else None (a CPU, or a GPU not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in DATASHEET_DENSE_TFLOPS.items() if k in name), None)


def describe_device(device: torch.device) -> str:
    """A readable device name, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        arch = platform.processor() or platform.machine()
        return f"cpu ({torch.get_num_threads()} threads, {arch})"
    return device.type


def git_commit(path: Path | None = None) -> str | None:
    """The short commit of the checkout holding ``path`` (default: this package), if any, with
    ``+modified`` appended when a tracked file of the checkout differs from that commit. Stored
    outputs (``bench/results/``, the chapters' ``.ipynb``) do not count: a run that rewrites
    them is still a run of that commit's code. Where there is no git checkout (a copy of the
    working tree sent to another machine), ``$ROBUSTREP_COMMIT`` as the sender set it, suffixed
    ``(stated)``, or None."""
    where = path or Path(__file__).resolve().parent
    stated = os.environ.get(COMMIT_ENV_VAR, "").strip()

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "--short", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return f"{stated} (stated)" if stated else None
    changed = git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":/",
        ":(exclude,top)bench/results",
        ":(exclude,top)*.ipynb",
    )
    dirty = changed is not None and changed.returncode == 0 and changed.stdout.strip() != ""
    return head.stdout.strip() + ("+modified" if dirty else "")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def code_provenance() -> dict[str, str]:
    """Which code produced a result, and when: package, torch, numpy, plotly and Python
    versions, the git commit (``+modified`` for a dirty checkout) and the time (UTC)."""
    return {
        "robustrep_lite": package_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "plotly": _version("plotly"),
        "python": platform.python_version(),
        "git_commit": git_commit() or "unknown",
        "time_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def provenance(profile: str, data: str, device: torch.device, seed: int) -> dict[str, str | int]:
    """What produced a result: profile, data, device, seed, and :func:`code_provenance`
    (versions, commit and time (UTC))."""
    return {
        "profile": profile,
        "data": data,
        "device": describe_device(device),
        "seed": seed,
        **code_provenance(),
    }
