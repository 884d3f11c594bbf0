"""Throughput of the worst-case MI estimator (Section 4) for Baseline-H on CIFAR-sized inputs.

Encoder: :class:`robustrep_lite.training.models.BaselineH` (Deep InfoMax's 32x32 encoder: conv
3->64, 64->128, 128->256 (4x4, stride 2, pad 1, no bias, BN, ReLU) -> flatten 4096 -> Linear 1024 +
BN1d + ReLU -> Linear 64, normalisation inside). Critic:
:class:`robustrep_lite.mi.LocalDIMCritic` with 2048 units (the paper's) and 128 (for CPUs),
batch norm as in the paper. Batch 128, l_inf PGD with 7 steps of 0.01 at eps 8/255, DV.

Measured (median of ``--repeats`` after one warm-up):

* PGD: one call of :func:`robustrep_lite.adversarial.attacks.pgd` on a batch against the frozen
critic   (7 steps = 8 forward passes through encoder and critic, the start included, and 7
  backward passes); reported as images per second per evaluated point (batch / (time / 8)) and
  per whole attack.
* alternating step: one step of the loop of
:func:`robustrep_lite.adversarial.vulnerability.worst_case_mi`,   spelled out here with the same
public pieces (the attack above against the critic frozen in   eval mode, then one Adam step of the
critic in train mode on the perturbed batch).

  nice -n 19 .venv/bin/python bench/worst_case_mi.py --overwrite  # ~4 min on an idle core
  nice -n 19 .venv/bin/python bench/worst_case_mi.py --units 128 --repeats 2 --out /tmp/t.json

The unit of finished work is one critic width (one row, every repeat of it timed in one
session): each finished row is kept in ``OUT.partial.json`` (``OUT`` is ``--out`` without
``.json``), and a killed run, started again with the same arguments at the same commit, times
only the widths left. The rows of a resumed run may thus come from different sessions, on a
machine loaded differently; the record does not mark which. An existing ``--out`` is replaced
only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from robustrep_lite.adversarial.attacks import PGDConfig, pgd
from robustrep_lite.core.results import PartialRun, run_config
from robustrep_lite.core.runtime import describe_device
from robustrep_lite.mi import LocalDIMCritic, readout, training_objective
from robustrep_lite.training.models import BaselineH

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, nargs="+", default=[128, 2048])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pgd-steps", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "vulnerability_throughput.json"
    )
    ap.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    args = ap.parse_args(argv)
    partial = PartialRun.from_arguments(args.out, args)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    enc = BaselineH(3, 32, out_dim=64).to(device).eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    n_params = sum(p.numel() for p in enc.parameters())
    bs, eps = args.batch_size, 8 / 255
    x = torch.rand(bs, 3, 32, 32, device=device)
    print(
        f"Baseline-H ({n_params / 1e6:.2f} M parameters), batch {bs}, PGD {args.pgd_steps} "
        f"steps, {describe_device(device)}, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    if partial.resumed:
        print(f"resuming: {partial.resumed} row(s) done in {partial.path}", flush=True)
    search = PGDConfig(eps=eps, step_size=0.01, steps=args.pgd_steps, random_start=False)
    for units in args.units:
        if partial.done((units,)):
            continue
        critic = LocalDIMCritic(3, 64, units=units, norm="batch").to(device).eval()
        for p in critic.parameters():
            p.requires_grad_(False)

        def objective(xa: torch.Tensor, critic: nn.Module = critic) -> torch.Tensor:
            return -readout("dv", critic(xa, enc(xa)))

        def attack() -> None:
            pgd(objective, x, search)

        t_pgd, raw_pgd = median_time(attack, args.repeats)
        per_iter = t_pgd / (args.pgd_steps + 1)

        # one alternating step as worst_case_mi runs it: attack against the frozen critic (eval
        # mode), then one Adam step of the critic (train mode) on the perturbed batch
        train_critic = LocalDIMCritic(3, 64, units=units, norm="batch").to(device)
        opt = torch.optim.Adam(train_critic.parameters(), lr=1e-4)

        def objective_t(xa: torch.Tensor, critic: nn.Module = train_critic) -> torch.Tensor:
            return -readout("dv", critic(xa, enc(xa)))

        def alternating_step(critic: nn.Module = train_critic, opt=opt) -> None:
            critic.eval()
            for p in critic.parameters():
                p.requires_grad_(False)
            xa = pgd(objective_t, x, search)
            critic.train()
            for p in critic.parameters():
                p.requires_grad_(True)
            with torch.no_grad():
                z = enc(xa)
            loss, _ = training_objective("dv", critic(xa, z))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        t_alt, diffs = median_time(alternating_step, args.repeats)
        row = {
            "units": units,
            "pgd_attack_s": t_pgd,
            "pgd_attack_s_all": raw_pgd,
            "pgd_iteration_s": per_iter,
            "images_per_s_per_pgd_step": bs / per_iter,
            "images_per_s_per_attack": bs / t_pgd,
            "alternating_step_s": t_alt,
            "alternating_step_s_all": diffs,
            "images_per_s_per_alternating_step": bs / t_alt,
        }
        partial.add((units,), row)
        print(
            f"units {units:5d}: PGD step {per_iter:7.3f} s = {bs / per_iter:8.1f} img/s; "
            f"7-step attack {t_pgd:7.2f} s = {bs / t_pgd:7.2f} img/s; alternating step "
            f"(attack + critic update) {t_alt:7.2f} s = {bs / t_alt:7.2f} img/s",
            flush=True,
        )
    record = {
        "benchmark": "worst-case MI estimator throughput, Baseline-H + LocalDIMCritic",
        "encoder": "robustrep_lite.training.models.BaselineH(3, 32, out_dim=64), paper width",
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "config": run_config(args),
        "rows": [partial.get((units,)) for units in args.units],
        "torch": torch.__version__,
        "note": "medians after one warm-up; other jobs on the machine slow every figure",
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
