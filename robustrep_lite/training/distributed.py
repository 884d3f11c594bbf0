"""Data-parallel training over several processes (torch.distributed), as used by
:func:`robustrep_lite.training.encoder.train_encoder`.

What one optimiser step means with ``W`` processes and ``m`` micro-batches per process: the step
sees ``K = W m`` independent *chunks* of ``batch_size`` images (chunk ``k`` of the global batch
goes to process ``k // m``). Each chunk is a complete mini-batch of the MI objective: its
in-batch negatives, its PGD attack and its BatchNorm statistics come from that chunk alone, as
on one GPU with the paper's batch of 128. Gradients are the mean over the K chunks
(DistributedDataParallel averages over processes; micro-batches are accumulated with
``no_sync``). BatchNorm running statistics follow the same rule: every chunk starts from the
step's common statistics and the step ends with the mean of what the chunks produced
(:class:`BufferAverager`; DDP's own buffer broadcast is switched off). So a run on ``W``
processes with ``m`` micro-batches is the same computation as one process with ``W m``
micro-batches, up to the order of floating-point sums (``tests/test_distributed.py``).

Launch with ``torchrun --nproc_per_node=N -m robustrep_lite ...`` (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "BufferAverager",
    "all_reduce_mean",
    "barrier",
    "init_from_env",
    "is_main",
    "no_sync_unless",
    "rank_and_world",
    "wrap",
]


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` unless torch.distributed is running."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files and prints (rank 0, or no process group)."""
    return rank_and_world()[0] == 0


def barrier() -> None:
    """Wait for every process (a no-op without a process group)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def init_from_env() -> torch.device | None:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1):
    NCCL with one GPU per process (``LOCAL_RANK``) when CUDA is available, else gloo on the CPU.
    Returns the device this process should use, or ``None`` when not launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return None
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return torch.device("cuda", local)
    dist.init_process_group("gloo")
    return torch.device("cpu")


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` under DistributedDataParallel when a process group is running (buffers are not
    broadcast: :class:`BufferAverager` keeps them equal), else ``module`` itself."""
    if rank_and_world()[1] == 1:
        return module
    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    # no buffer broadcast before each forward (recent torch calls it forward_sync_buffers)
    params = inspect.signature(DistributedDataParallel).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return DistributedDataParallel(module, device_ids=ids, **{key: False})


def all_reduce_mean(t: Tensor) -> Tensor:
    """Mean of ``t`` over processes (``t`` itself without a process group); no host sync."""
    world = rank_and_world()[1]
    if world == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / world


class BufferAverager:
    """Chunk-wise BatchNorm statistics (see the module docstring): call :meth:`start` before a
    step's chunks, :meth:`before_chunk` before each chunk touches the model, :meth:`after_chunk`
    after its forward pass, and :meth:`finish` after the last one. Floating-point buffers (running
    means and variances) end as the mean over all chunks of all processes; integer buffers (batch
    counters) are the same in every chunk. A no-op with a single chunk per step."""

    def __init__(self, module: nn.Module, chunks_per_process: int) -> None:
        _, world = rank_and_world()
        self.active = world * chunks_per_process > 1
        self.local = chunks_per_process > 1
        self.buffers = [b for b in module.buffers() if b.is_floating_point()] if self.active else []
        self.counters = [b for b in module.buffers() if not b.is_floating_point()]
        self._start: list[Tensor] = []
        self._counters: list[Tensor] = []
        self._sum: list[Tensor] = []

    def start(self) -> None:
        if self.local:
            self._start = [b.detach().clone() for b in self.buffers]
            self._counters = [b.detach().clone() for b in self.counters]
            self._sum = [torch.zeros_like(b) for b in self.buffers]

    def before_chunk(self) -> None:
        if self.local:
            for b, s in zip(self.buffers, self._start, strict=True):
                b.copy_(s)
            for b, s in zip(self.counters, self._counters, strict=True):
                b.copy_(s)

    def after_chunk(self) -> None:
        if self.local:
            for acc, b in zip(self._sum, self.buffers, strict=True):
                acc.add_(b)

    @torch.no_grad()
    def finish(self, chunks_per_process: int) -> None:
        if not self.active:
            return
        if self.local:
            for b, acc in zip(self.buffers, self._sum, strict=True):
                b.copy_(acc / chunks_per_process)
        for b in self.buffers:
            b.copy_(all_reduce_mean(b))


@contextlib.contextmanager
def no_sync_unless(model: nn.Module, last: bool) -> Iterator[None]:
    """DDP's ``no_sync`` (accumulate gradients locally) unless this is the last micro-batch."""
    if isinstance(model, DistributedDataParallel) and not last:
        with model.no_sync():
            yield
    else:
        yield
