"""Throughput of one worst-case MI training step (objective (5.2) with beta = 1, Section 5).

One step = what :class:`robustrep_lite.train.EncoderTrainer` does per mini-batch: PGD against
the frozen critic (``pgd_steps`` steps = ``pgd_steps + 1`` forward and backward passes through
encoder and critic, the start included), then one forward/backward pass and one Adam step of
encoder and critic together. Measured on random CIFAR-shaped images (the step's cost does not
depend on the pixels) at two settings:

* ``paper``: Baseline-H (width 1), LocalDIMCritic with 2048 units, batch 128, 7 PGD steps;
* ``cpu``: the ``cpu`` profile's width, critic units, batch and PGD steps
  (:data:`robustrep_lite.train.SETTINGS`), also on MNIST-shaped images.

Reported: median seconds per step over ``--repeats`` after one warm-up step, images per second,
the FLOPs of one step counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix
multiplications and convolutions, forward and backward; elementwise work is not counted) and
the achieved GFLOP/s. On CUDA the step runs as in training (bf16 autocast, channels-last) and
the timer synchronises the device around each step.

  nice -n 10 .venv/bin/python bench/train_step.py                   # ~4 min on 1 CPU thread
  python bench/train_step.py --device cuda --repeats 20             # on a GPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robustrep_lite.mi import LocalDIMCritic  # noqa: E402
from robustrep_lite.models import BaselineH  # noqa: E402
from robustrep_lite.results import save_result  # noqa: E402
from robustrep_lite.runtime import describe_device, git_commit  # noqa: E402
from robustrep_lite.train import SETTINGS, THREAT_MODELS, EncoderTrainer  # noqa: E402


def configs() -> list[dict]:
    cpu = SETTINGS["cpu"]
    paper = {"width": 1.0, "critic_units": 2048, "batch_size": 128, "pgd_steps": 7}
    small = {
        "width": cpu.width,
        "critic_units": cpu.critic_units,
        "batch_size": cpu.batch_size,
        "pgd_steps": cpu.pgd_steps,
    }
    return [
        {"name": "paper", "dataset": "cifar10", **paper},
        {"name": "cpu", "dataset": "cifar10", **small},
        {"name": "cpu", "dataset": "mnist", **small},
    ]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg: dict, device: torch.device, repeats: int) -> dict:
    channels, size = (3, 32) if cfg["dataset"] == "cifar10" else (1, 28)
    tm = THREAT_MODELS[cfg["dataset"]]
    torch.manual_seed(0)
    encoder = BaselineH(channels, size, 64, cfg["width"]).to(device)
    critic = LocalDIMCritic(channels, 64, units=cfg["critic_units"]).to(device)
    trainer = EncoderTrainer(
        encoder,
        critic,
        beta=1.0,
        eps=tm["eps"],
        step_size=tm["step_size"],
        pgd_steps=cfg["pgd_steps"],
        batch_size=cfg["batch_size"],
        device=device,
    )
    x = torch.rand(cfg["batch_size"], channels, size, size, device=device)

    def step() -> None:
        trainer.step([x], [None])

    with FlopCounterMode(display=False) as counter:
        step()  # also the warm-up
    flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        trainer.attack(x)
    attack_flops = counter.get_total_flops()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    row = {
        **cfg,
        "encoder_parameters": sum(p.numel() for p in encoder.parameters()),
        "critic_parameters": sum(p.numel() for p in critic.parameters()),
        "seconds_per_step": t,
        "raw_seconds": times,
        "images_per_second": cfg["batch_size"] / t,
        "gflop_per_step": flops / 1e9,
        "gflop_per_image": flops / 1e9 / cfg["batch_size"],
        "attack_share_of_flops": attack_flops / flops,
        "achieved_gflops": flops / 1e9 / t,
    }
    print(
        f"{cfg['name']:5s} {cfg['dataset']:7s} width {cfg['width']:<5g} units "
        f"{cfg['critic_units']:<5d} batch {cfg['batch_size']}: {t:8.3f} s/step, "
        f"{row['images_per_second']:8.1f} img/s, {row['gflop_per_image']:6.2f} GFLOP/img "
        f"({100 * row['attack_share_of_flops']:.0f}% in PGD), "
        f"{row['achieved_gflops']:8.1f} GFLOP/s",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "cpu"], choices=["paper", "cpu"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_step.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(f"{describe_device(device)}, torch {torch.__version__}, threads {args.threads}")
    rows = [measure(c, device, args.repeats) for c in configs() if c["name"] in args.configs]
    record = {
        "benchmark": "one worst-case MI training step (beta = 1), bench/train_step.py",
        "device": describe_device(device),
        "torch": torch.__version__,
        "threads": args.threads,
        "git_commit": git_commit() or "unknown",
        "repeats": args.repeats,
        "rows": rows,
    }
    if args.out.exists():  # keep the rows measured on other devices
        old = json.loads(args.out.read_text())
        runs = [r for r in old.get("runs", []) if r["device"] != record["device"]]
    else:
        runs = []
    save_result({"runs": [*runs, record]}, args.out)
    return record


if __name__ == "__main__":
    main()
