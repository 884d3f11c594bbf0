"""Argument checks shared by the library: every bad input becomes a ``ValueError`` that names
the argument and the values it accepts (never a silent NaN or a wrong number)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options!r}, got {value!r}")
    return value


def check_nonnegative(name: str, value: Any) -> Any:
    """Return ``value`` if every entry is finite and >= 0, else raise a ``ValueError``."""
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_finite(name: str, value: Any) -> Any:
    """Return ``value`` if it holds no NaN or infinity, else raise a ``ValueError``."""
    if hasattr(value, "detach"):  # a torch tensor: check it without a host copy of the data
        import torch

        ok = bool(torch.isfinite(value).all())
    else:
        ok = bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
    if not ok:
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return value


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number > 0 (NumPy scalars too, but not
    a bool), else raise a ``ValueError`` naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, low: int) -> int:
    """Return ``value`` as an int if it is an integer >= ``low`` (NumPy integers too, but not
    a bool), else raise a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_images(name: str, x: Any, box: tuple[float, float] | None = (0.0, 1.0)) -> Any:
    """Return the tensor ``x`` if it is finite and (unless ``box`` is None) inside ``box``, else
    raise a ``ValueError`` naming ``name`` and the range found: images given as 0-255 instead of
    [0, 1], or a NaN pixel, would otherwise train or attack silently and give wrong numbers.
    One reduction over ``x`` (call it once per data set, not per step)."""
    import torch

    t = x.detach()
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of images, got dtype {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    stats = torch.stack([t.min(), t.max(), torch.isfinite(t).all().to(t.dtype)]).tolist()
    low, high, finite = stats
    if not finite:
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    if box is not None and (low < box[0] or high > box[1]):
        raise ValueError(
            f"{name} must lie in {list(box)} (its values span [{low:.4g}, {high:.4g}]); "
            "scale 0-255 images by 1/255"
        )
    return x
