"""Throughput of one worst-case MI training step (objective (5.2) with beta = 1, Section 5).

One step = what :class:`robustrep_lite.training.encoder.EncoderTrainer` does per mini-batch: PGD
against the frozen critic (``pgd_steps`` steps = ``pgd_steps + 1`` forward passes through encoder
and critic, the start included, and ``pgd_steps`` backward passes: the last point needs no
gradient), then one forward/backward pass and one Adam step of
encoder and critic together. Measured on random CIFAR-shaped images (the step's cost does not
depend on the pixels) at these settings (``--configs``):

* ``paper``: the faithful reference -- Baseline-H (width 1), LocalDIMCritic with 2048 units,
  batch 128, 7 PGD steps, fp32, eager, channels-first (the ``paper`` profile);
* ``fast``: the same networks and PGD as the ``gpu`` profile runs them on CUDA: bf16 autocast
  (fp16 with a gradient scaler where bf16 is missing), channels-last, batch ``--fast-batch``
  (default 128, so that the ratio compares like with like; larger batches give the in-batch
  bound more negatives and change the estimator), ``--compile`` to compile both networks. On a
  CPU autocast is off, so ``fast`` differs from ``paper`` only in the batch;
* ``fast_fp16``: ``fast`` in fp16 with its gradient scaler whatever the GPU (the path a GPU
  without bf16 takes, e.g. Colab's T4), to time that path on the GPU at hand (on a CPU it runs
  under CPU autocast, very slowly: use it on CUDA);
* ``cpu``: the ``cpu`` profile's width, critic units, batch and PGD steps (its ``table1``
  section, :data:`robustrep_lite.experiments.settings.PROFILES`), on CIFAR- and MNIST-shaped
  images;
* ``tiny``: a seconds-long smoke configuration (``bench/device_run.py --dry-run``).

Reported per row: median seconds per step over ``--repeats`` after one warm-up step, images per
second, the FLOPs of one step counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix
multiplications and convolutions, forward and backward; elementwise work is not counted), the
achieved TFLOP/s and its share of the device's dense peak: on CUDA a bf16 8192^3 matrix
product timed in the same run (``peak_tflops_measured``) and, where the device name is known,
the datasheet's dense peak (``robustrep_lite.core.runtime.DATASHEET_DENSE_TFLOPS``); on a CPU
an fp32 matrix product. ``fast_over_paper_ratio`` is the speed of ``fast`` over ``paper``
measured in the same run (``fast_fp16_over_paper_ratio`` likewise). The timer synchronises the
device around each step (never inside one).

  nice -n 10 .venv/bin/python bench/train_step.py --overwrite       # ~4 min on 1 CPU thread
  python bench/train_step.py --device cuda --repeats 20 --configs paper fast fast_fp16 cpu

``--out`` holds one run per device (``runs``, each named by its ``device``, CPU threads
included): a new run joins the runs on other devices, and one on a device that ``--out``
already holds a run on is refused before it measures anything, unless ``--overwrite`` is given
(which replaces that device's run and keeps the others).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from robustrep_lite.core.results import save_result
from robustrep_lite.core.runtime import datasheet_peak, describe_device, git_commit
from robustrep_lite.experiments.settings import PROFILES
from robustrep_lite.mi import LocalDIMCritic
from robustrep_lite.training.encoder import THREAT_MODELS, EncoderConfig, EncoderTrainer
from robustrep_lite.training.models import BaselineH

ROOT = Path(__file__).resolve().parents[1]

CONFIG_NAMES = ("paper", "fast", "fast_fp16", "cpu", "tiny")


def configs(fast_batch: int = 128, compile: bool = False) -> list[dict]:
    cpu = PROFILES["cpu"].table1
    paper = {"width": 1.0, "critic_units": 2048, "pgd_steps": 7}
    small = {
        "width": cpu.width,
        "critic_units": cpu.critic_units,
        "batch_size": cpu.batch_size,
        "pgd_steps": cpu.pgd_steps,
    }
    faithful = {"amp": False, "amp_dtype": "auto", "compile": False}
    fast = {"dataset": "cifar10", **paper, "batch_size": fast_batch, "amp": True}
    return [
        {"name": "paper", "dataset": "cifar10", **paper, "batch_size": 128, **faithful},
        {"name": "fast", **fast, "amp_dtype": "auto", "compile": compile},
        {"name": "fast_fp16", **fast, "amp_dtype": "float16", "compile": compile},
        {"name": "cpu", "dataset": "cifar10", **small, **faithful},
        {"name": "cpu", "dataset": "mnist", **small, **faithful},
        {
            "name": "tiny",
            "dataset": "cifar10",
            "width": 0.125,
            "critic_units": 16,
            "batch_size": 16,
            "pgd_steps": 2,
            **faithful,
        },
    ]


def measured_peak(device: torch.device, repeats: int = 10) -> float:
    """TFLOP/s of a large matrix product timed here: bf16 8192^3 on CUDA, fp32 1024^3 on CPU."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (1024, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e12


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg: dict, device: torch.device, repeats: int) -> dict:
    channels, size = (3, 32) if cfg["dataset"] == "cifar10" else (1, 28)
    tm = THREAT_MODELS[cfg["dataset"]]
    torch.manual_seed(0)
    encoder = BaselineH(channels, size, 64, cfg["width"]).to(device)
    critic = LocalDIMCritic(channels, 64, units=cfg["critic_units"]).to(device)
    config = EncoderConfig(
        beta=1.0,
        eps=tm["eps"],
        step_size=tm["step_size"],
        pgd_steps=cfg["pgd_steps"],
        batch_size=cfg["batch_size"],
        amp=cfg["amp"],
        amp_dtype=cfg["amp_dtype"],
        compile=cfg["compile"],
    )
    trainer = EncoderTrainer(encoder, critic, config, device=device)
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
        "autocast": str(trainer.dtype).removeprefix("torch.") if trainer.amp else "none",
        "seconds_per_step": t,
        "raw_seconds": times,
        "images_per_second": cfg["batch_size"] / t,
        "gflop_per_step": flops / 1e9,
        "gflop_per_image": flops / 1e9 / cfg["batch_size"],
        "attack_share_of_flops": attack_flops / flops,
        "achieved_gflops": flops / 1e9 / t,
        "achieved_tflops": flops / 1e12 / t,
    }
    print(
        f"{cfg['name']:9s} autocast {row['autocast']:8s} {cfg['dataset']:7s} "
        f"width {cfg['width']:<5g} units "
        f"{cfg['critic_units']:<5d} batch {cfg['batch_size']}: {t:8.3f} s/step, "
        f"{row['images_per_second']:8.1f} img/s, {row['gflop_per_image']:6.2f} GFLOP/img "
        f"({100 * row['attack_share_of_flops']:.0f}% in PGD), "
        f"{row['achieved_gflops']:8.1f} GFLOP/s",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "cpu"], choices=CONFIG_NAMES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--fast-batch", type=int, default=128, help="batch of the fast mode")
    ap.add_argument("--compile", action="store_true", help="compile the fast mode's networks")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_step.json")
    ap.add_argument(
        "--overwrite", action="store_true", help="replace --out's run on the same device"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    described = describe_device(device)
    other_runs(args.out, described, args.overwrite)  # refused before anything is measured
    print(f"{described}, torch {torch.__version__}, threads {args.threads}")
    chosen = [c for c in configs(args.fast_batch, args.compile) if c["name"] in args.configs]
    rows = [measure(c, device, args.repeats) for c in chosen]
    peak = measured_peak(device)
    sheet = datasheet_peak(device)
    for row in rows:
        row["share_of_measured_peak"] = row["achieved_tflops"] / peak
        row["share_of_datasheet_peak"] = row["achieved_tflops"] / sheet if sheet else None
    record = {
        "benchmark": "one worst-case MI training step (beta = 1), bench/train_step.py",
        "device": described,
        "torch": torch.__version__,
        "threads": args.threads,
        "git_commit": git_commit() or "unknown",
        "repeats": args.repeats,
        "peak_tflops_measured": peak,
        "peak_tflops_datasheet": sheet,
        "rows": rows,
    }
    by_name = {r["name"]: r for r in rows if r["dataset"] == "cifar10"}
    for fast in ("fast", "fast_fp16"):
        if "paper" in by_name and fast in by_name:
            ratio = by_name[fast]["images_per_second"] / by_name["paper"]["images_per_second"]
            record[f"{fast}_over_paper_ratio"] = ratio
            print(f"{fast} / paper speed ratio: {ratio:.2f}")
    print(f"peak: measured {peak:.3g} TFLOP/s, datasheet {sheet} TFLOP/s")
    # read again: another run may have written --out while this one measured
    save_result({"runs": [*other_runs(args.out, described, args.overwrite), record]}, args.out)
    return record


def other_runs(out: Path, device: str, overwrite: bool) -> list[dict]:
    """The runs that ``out`` holds on devices other than ``device``, to be kept beside a new
    run on ``device``. Without ``overwrite``, a ``FileExistsError`` naming ``out`` if it holds
    a run on ``device`` (a benchmark never replaces another run's result unless told to), and a
    ``ValueError`` if it is not a record of runs; with ``overwrite`` the run on ``device``, or
    such a file, is replaced."""
    if not out.exists():
        return []
    try:
        runs = json.loads(out.read_text())["runs"]
        devices = [run["device"] for run in runs]
    except (ValueError, KeyError, TypeError) as err:
        if overwrite:
            return []
        raise ValueError(
            f"{out} is not a record of bench/train_step.py runs ({type(err).__name__}: {err}); "
            "pass --overwrite to replace it, or choose another --out"
        ) from err
    if device in devices and not overwrite:
        commit = runs[devices.index(device)].get("git_commit", "unknown")
        raise FileExistsError(
            f"{out} already holds a run on {device} (commit {commit}); pass --overwrite to "
            "replace it, or choose another --out"
        )
    return [run for run in runs if run["device"] != device]


if __name__ == "__main__":
    main()
