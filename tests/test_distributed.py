"""DistributedDataParallel training of objective (5.2) on the CPU: 2 processes, gloo backend.
Both ranks must end with identical weights, equal (up to the order of floating-point sums) to
one process running the same global batches as 2 micro-batches, the definition in
robustrep_lite.training.distributed; and that must differ from one chunk of twice the batch size
(the chunks really are separate mini-batches). ~10 s on 2 cores."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from encoder_run import train

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs the gloo backend"
)

KW = {
    "beta": 1.0,
    "eps": 0.1,
    "step_size": 0.03,
    "pgd_steps": 2,
    "epochs": 2,
    "batch_size": 16,
    "lr": 1e-3,
    "width": 0.125,
    "critic_units": 8,
    "device": "cpu",
    "progress": False,
}


def _images(n: int = 80) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(10, 1, 28, 28, generator=gen)
    return (0.8 * base[torch.arange(n) % 10] + 0.2 * torch.rand(n, 1, 28, 28, generator=gen)).clamp(
        0, 1
    )


def _state(run) -> dict[str, torch.Tensor]:
    return {
        **{f"e.{k}": v for k, v in run.encoder.state_dict().items()},
        **{f"c.{k}": v for k, v in run.critic.state_dict().items()},
    }


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        run = train(_images(), **KW)
        torch.save({"state": _state(run), "history": run.history}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_ranks_agree_and_match_one_process_with_two_micro_batches(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])
    assert r0["history"].loss == r1["history"].loss and len(r0["history"].loss) == 2

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = _state(train(_images(), micro_batches=2, **KW))
        merged = _state(train(_images(), **{**KW, "batch_size": 32}))
    finally:
        torch.set_num_threads(before)
    moved = 0.0
    for k, v in r0["state"].items():
        torch.testing.assert_close(v, single[k], rtol=1e-4, atol=1e-5, msg=k)
        if v.is_floating_point():
            moved = max(moved, float((v - merged[k]).abs().max()))
    assert moved > 1e-3  # one batch of 32 is a different objective from two chunks of 16
