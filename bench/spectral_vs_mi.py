"""Spectral regularization side by side with worst-case MI training on MNIST: the same
Baseline-H encoder trained standard (beta = 0), rep-spectral (beta = 0 + lambda * sum
sigma_max^2 over its layers), worst-case MI (beta = 1) and both, each scored by a linear head on
the frozen representation (natural, PGD-7 and APGD accuracy at the MNIST threat model, l_inf
0.3) and by the mean l2 HopSkipJump distance of encoder + a refit logistic head.

Settings: the ``comparison`` section of ``robustrep_lite.experiments.settings.PROFILES[profile]``
and the ``table1`` encoder/head settings of the profile it names (the chapter reads the same
ones). MNIST is read from ``$ROBUSTREP_DATA``. More seeds and lambdas: bench/README.md,
section spectral_vs_mi.py.

  OMP_NUM_THREADS=1 .venv/bin/python bench/spectral_vs_mi.py --profile cpu --overwrite  # ~3 min

The unit of finished work is one arm (its encoder trained and scored; 20 seconds to a minute in
the ``cpu`` profile): each finished arm's row is kept in ``OUT.partial.json`` (``OUT`` is
``--out`` without ``.json``), and a killed run, started again with the same arguments at the same
commit, computes only the arms left and ends with the rows of an uninterrupted run. An arm
resumes exactly: every random draw that shapes its row comes from generators seeded by
``--seed`` (the encoder's initialisation and batches, the heads, the attacks), not from the
global torch generator the arms before it have advanced, so an arm computed alone gives the row
it gets after the others. An existing ``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from robustrep_lite.core.results import PartialRun
from robustrep_lite.core.runtime import default_device, provenance, seed_everything
from robustrep_lite.experiments.settings import PROFILE_NAMES, profile_settings
from robustrep_lite.experiments.spectral_vs_mi import (
    ARMS,
    compare,
    settings_record,
)
from robustrep_lite.experiments.table1 import prepare_data

ROOT = Path(__file__).resolve().parents[1]


def print_table(rows: list[dict]) -> None:
    print(
        f"{'arm':14s} {'beta':>4s} {'lambda':>6s} {'natural':>8s} {'PGD-7':>6s} {'APGD':>6s} "
        f"{'refit':>6s} {'HSJ mean':>8s} {'sigma_max per layer':s}"
    )
    for r in rows:
        sig = " ".join(f"{v:.2f}" for v in r["sigmas"])
        print(
            f"{r['arm']:14s} {r['beta']:4g} {r['spectral_lambda']:6g} {r['natural']:8.4f} "
            f"{r['pgd']:6.4f} {r['strong']:6.4f} {r['refit_accuracy']:6.4f} "
            f"{r['hsj_mean']:8.4f} {sig}"
        )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default=None,
        help="default: $ROBUSTREP_PROFILE, else quick on CI, gpu with CUDA, else cpu",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spectral-lambda", type=float, default=None, help="default: the profile's")
    ap.add_argument("--arms", nargs="+", choices=tuple(ARMS), default=tuple(ARMS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    args = ap.parse_args(argv)
    name = "spectral_vs_mi"
    if args.spectral_lambda is not None:
        name += f"_lambda{args.spectral_lambda:g}"
    out = args.out or ROOT / "bench" / "results" / f"{name}.json"
    torch.set_num_threads(args.threads)
    profile = profile_settings(args.profile)
    settings = profile.comparison
    if args.spectral_lambda is not None:
        settings = dataclasses.replace(settings, spectral_lambda=args.spectral_lambda)
    device = default_device()
    partial = PartialRun.from_arguments(
        out, args, profile=profile.name, settings=settings_record(settings), device=str(device)
    )
    seed_everything(args.seed)
    data = prepare_data(settings.dataset, settings.profile)
    print(f"{data.description}; profile {profile.name}; device {device}", flush=True)
    print(settings, flush=True)
    if partial.resumed:
        print(f"resuming: {partial.resumed} arm(s) done in {partial.path}", flush=True)
    for arm in args.arms:
        if not partial.done((arm,)):
            t0 = time.perf_counter()
            # an arm's row does not depend on the arms computed before it (each draws only on
            # generators seeded by --seed), so one call per arm gives an uninterrupted run's rows
            (row,) = compare(data, settings, arms=(arm,), seed=args.seed, progress=False)
            partial.add((arm,), row)
            print(f"{arm}: {time.perf_counter() - t0:.0f} s", flush=True)
    rows = [partial.get((arm,)) for arm in args.arms]
    wall = partial.wall_s
    print_table(rows)
    print(f"wall time {wall:.0f} s")
    record = {
        "benchmark": "spectral regularization vs worst-case MI training (same encoder)",
        "dataset": settings.dataset,
        "profile": profile.name,
        "settings": settings_record(settings),
        "seed": args.seed,
        "provenance": provenance(profile.name, data.description, device, args.seed),
        "torch_threads": torch.get_num_threads(),
        "wall_s": wall,
        "rows": rows,
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
