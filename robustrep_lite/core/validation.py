"""Argument checks shared by the library: every bad input becomes a ``ValueError`` that names
the argument and the values it accepts (never a silent NaN or a wrong number)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return the entry of ``choices`` that ``value`` names, else raise a ``ValueError`` naming
    ``name`` and listing them. Equality alone is not enough, since ``True == 1`` and
    ``28.0 == 28`` in Python: ``value`` must also be of the choice's kind.

    * an ``int`` choice takes an ``int`` or a NumPy integer scalar (returned as the plain
      ``int``), never a bool, a float (``28.0``), a string or an array or tensor (a 0-d tensor
      too);
    * a ``bool`` choice takes a bool (Python or NumPy) only; a ``float`` choice any real number
      but a bool; a ``str`` choice a string only; ``None`` only ``None``;
    * any other choice (an enum member, a tuple) takes a value equal to it, as a plain bool.

    An unhashable or array value (a list, a tensor) is refused, not compared element-wise.
    Returning the choice rather than ``value`` hands callers the canonical option."""
    options = tuple(choices)
    for choice in options:
        if _names_choice(value, choice):
            return choice
    raise ValueError(f"{name} must be one of {options!r}, got {value!r}")


def _names_choice(value: Any, choice: Any) -> bool:
    """Whether ``value`` is ``choice`` for :func:`check_choice`: equal, and of its kind."""
    if choice is None:
        return value is None
    if isinstance(choice, (bool, np.bool_)):
        kind_ok = isinstance(value, (bool, np.bool_))
    elif isinstance(choice, (int, np.integer)):
        kind_ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    elif isinstance(choice, (float, np.floating)):
        kind_ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    elif isinstance(choice, str):
        kind_ok = isinstance(value, str)
    else:
        kind_ok = not isinstance(value, np.ndarray) and not hasattr(value, "detach")
    if not kind_ok:
        return False
    try:
        equal = value == choice
    except Exception:  # an object whose comparison fails is not this choice
        return False
    return isinstance(equal, (bool, np.bool_)) and bool(equal)


def _is_real(item: Any) -> bool:
    """Whether ``item`` is a real number, or a NumPy array or torch tensor of real numbers: not a
    bool (``True`` would read as 1), a string (``"0.1"`` would be parsed), a complex number or
    any other object."""
    if isinstance(item, (bool, np.bool_, str, bytes)):
        return False
    if isinstance(item, numbers.Real):  # int, float, NumPy integer and floating scalars
        return True
    if isinstance(item, np.ndarray):
        return item.dtype.kind in "iuf"
    if hasattr(item, "detach"):  # a torch tensor
        return not (item.is_complex() or str(item.dtype) == "torch.bool")
    return False


def _real_array(name: str, value: Any, expected: str) -> np.ndarray:
    """``value`` (a real number, a NumPy array or tensor of them, or a nested list or tuple of
    these) as a float array, else a ``ValueError`` saying ``name`` must be ``expected``."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
        elif not _is_real(item):
            raise ValueError(f"{name} must be {expected}, got {value!r}")
    try:
        return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=float)
    except ValueError:  # a ragged nesting
        raise ValueError(f"{name} must be {expected}, got {value!r}") from None


def check_nonnegative(name: str, value: Any, *, scalar: bool = False) -> Any:
    """Return ``value`` if it is a real number, or (unless ``scalar``) a sequence or array of
    them, with every entry finite and >= 0, else raise a ``ValueError`` naming ``name``: a bool,
    a string or another object is refused, not read as a number."""
    expected = "a finite real number >= 0" + ("" if scalar else " (or a sequence or array of them)")
    arr = _real_array(name, value, expected)
    if scalar and arr.ndim != 0:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_finite(name: str, value: Any) -> Any:
    """Return ``value`` if it holds no NaN or infinity, else raise a ``ValueError`` (also for a
    value that is not real numbers: a bool, a string or another object)."""
    if hasattr(value, "detach"):  # a torch tensor: check it without a host copy of the data
        import torch

        ok = bool(torch.isfinite(value).all())
    else:
        arr = _real_array(name, value, "a real number or an array of real numbers")
        ok = bool(np.all(np.isfinite(arr)))
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


#: The largest seed a public function accepts: the seeds the library derives from it (e.g.
#: ``seed * 1_000_003 + epoch`` for an epoch's shuffle) stay inside the 64-bit range of torch's
#: generators.
MAX_SEED = 2**32 - 1


def check_seed(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer seed in [0, :data:`MAX_SEED`] (NumPy
    integers too, not a bool), else raise a ``ValueError`` naming ``name`` and the range: a
    float would be truncated to another seed, a string fail deep in torch, and a seed outside
    the range overflow the generators seeded from it."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or not 0 <= value <= MAX_SEED
    ):
        raise ValueError(f"{name} must be an integer in [0, 2**32 - 1], got {value!r}")
    return int(value)


def check_in_range(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """Return ``value`` as a float if it is a real number (NumPy scalars too) in the interval
    from ``low`` to ``high`` (each end open or closed as ``low_open`` / ``high_open`` say;
    by default ``[low, high)``), else raise a ``ValueError`` naming ``name`` and the interval:
    a bool (``False`` would read as 0), a string, a list or a NaN is refused."""
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or math.isnan(float(value))
        or (float(value) <= low if low_open else float(value) < low)
        or (float(value) >= high if high_open else float(value) > high)
    ):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is ``True`` or ``False`` (a NumPy bool too), else raise
    a ``ValueError`` naming ``name``: a string such as ``"no"`` would otherwise read as
    ``True``, and ``0`` or ``None`` as ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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
