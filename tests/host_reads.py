"""Counting the reads of tensor values on the host (``.item()``, ``float(t)``, ``bool(t)``,
``.tolist()``, ``.numpy()``, ``.cpu()``, ...): on a GPU each is a host-device
synchronisation, so code that must not synchronise inside a step can be checked on the CPU."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch

READS = (
    "item",
    "tolist",
    "numpy",
    "cpu",
    "__float__",
    "__int__",
    "__bool__",
    "__index__",
    "__array__",
)


@contextmanager
def count_host_reads() -> Iterator[Counter]:
    """Within the block, count each call of a :data:`READS` method on a tensor (by name)."""
    counts: Counter = Counter()
    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def counted(name: str):
        original = originals[name]

        def wrapper(self, *args, **kwargs):
            counts[name] += 1
            return original(self, *args, **kwargs)

        return wrapper

    try:
        for name in READS:
            setattr(torch.Tensor, name, counted(name))
        yield counts
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
