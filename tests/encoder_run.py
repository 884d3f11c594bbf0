"""Test helper: :func:`train_encoder` called with the fields of an ``EncoderConfig`` and its run
arguments as keywords, as the tests vary one field at a time."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from robustrep_lite.training.encoder import EncoderConfig, EncoderRun, train_encoder

RUN_ARGUMENTS = ("checkpoint", "seed", "device", "progress")


def train(x: Tensor, **kwargs: Any) -> EncoderRun:
    run = {k: kwargs.pop(k) for k in RUN_ARGUMENTS if k in kwargs}
    run.setdefault("progress", False)
    return train_encoder(x, EncoderConfig(**kwargs), **run)
