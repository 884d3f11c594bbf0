"""Spectral regularization of representations (Yang, Zavatone-Veth & Pehlevan 2024) on MNIST:
test accuracy and l2 adversarial distance of a refit head for none / ll-spectral / rep-spectral.

The model is the paper's one-hidden-layer MLP (784 -> 2000 GELU -> 10, init N(0, 0.01^2),
output / sqrt(2000)); per seed one unregularised burn-in is shared by every arm, which is then
continued unregularised (``none``), with ``lambda * sum sigma_max^2`` over W1 and W2
(``ll-spectral``) and over W1 only (``rep-spectral``), for each lambda of the profile. Each final
network's representation gets a refit logistic-regression head, and the refit classifier is
attacked with foolbox's HopSkipJump (decision-based) and DDN (white-box) on its first correctly
classified test points. Settings: the ``spectral`` section of
``robustrep_lite.experiments.settings.PROFILES[profile]`` (the chapter reads the same ones); the
``cpu`` profile uses 10 000 training images and 30 epochs (24 of burn-in) at lr 0.5, batch 128,
which matches the paper's steps x learning rate in both phases.

``--dataset digits`` instead repeats a small CPU reference run of the authors' recipe (their
public code, Pehlevan-Group/rep-spectral; that run's numbers are :data:`DIGITS_REFERENCE`):
scikit-learn's 8x8 digits (pixels / 16, a seeded random split of 1500 training and 297 test
images), 64 -> 512 -> 10, 100 epochs with 80 of burn-in, lambda in {0.01, 0.1}, 3 seeds,
HopSkipJump with 20 steps on 100 test points. MNIST is read from ``$ROBUSTREP_DATA``. The stored
runs: bench/README.md, section spectral_mnist.py.

  nice -n 10 .venv/bin/python bench/spectral_mnist.py --profile cpu --overwrite     # ~45 min
  nice -n 10 .venv/bin/python bench/spectral_mnist.py --profile cpu --dataset digits \
      --overwrite                                                                   # ~5 min
  ROBUSTREP_PROFILE=paper python bench/spectral_mnist.py --out /tmp/p.json  # paper, GPU

The unit of finished work is one seed (its burn-in and every arm continued from it; in the
``cpu`` profile one of five, about 10 minutes): each finished seed's rows are kept in
``OUT.partial.json`` (``OUT`` is ``--out`` without ``.json``), and a killed run, started again
with the same arguments at the same commit, computes only the seeds left and ends with the rows
of an uninterrupted run. A seed is the smallest unit that resumes exactly: its arms draw on the
global torch generator one after the other (power iteration's random start, the refit head's
initialisation), which the library reseeds only at the start of each seed. An existing ``--out``
is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from robustrep_lite.core.paper_numbers import PAPER_SPECTRAL_CLAIM
from robustrep_lite.core.results import PartialRun
from robustrep_lite.core.runtime import default_device, provenance
from robustrep_lite.experiments.settings import PROFILE_NAMES, PROFILES, profile_settings
from robustrep_lite.experiments.spectral_regularization import (
    compare_regularizers,
    settings_record,
    summarise_rows,
)
from robustrep_lite.training.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]

# A small CPU reference run of the authors' recipe (Pehlevan-Group/rep-spectral; Tangent Attack,
# T = 20)
DIGITS_REFERENCE = [
    {"arm": "none", "lam": 0.0, "accuracy": 0.968, "ta_distance": 0.561},
    {"arm": "rep-spectral", "lam": 0.01, "accuracy": 0.969, "ta_distance": 0.612},
    {"arm": "rep-spectral", "lam": 0.1, "accuracy": 0.964, "ta_distance": 0.627},
    {"arm": "ll-spectral", "lam": 0.01, "accuracy": 0.967, "ta_distance": 0.603},
    {"arm": "ll-spectral", "lam": 0.1, "accuracy": 0.225, "ta_distance": None},
]

#: ``--dataset digits``: the authors' recipe at the size of their small CPU reference run (the
#: ``cpu`` profile's optimiser and attack settings otherwise)
DIGITS_SETTINGS = dataclasses.replace(
    PROFILES["cpu"].spectral,
    width=512,
    epochs=100,
    burnin=80,
    lambdas=(0.01, 0.1),
    seeds=3,
    attack_points=100,
    hsj_steps=20,
    train_size=1500,
    test_size=297,
)


def digits_splits(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """scikit-learn's 8x8 digits as (N, 64) floats in [0, 1], a seeded random 1500/297 split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = torch.tensor(digits.data[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target[order], dtype=torch.int64)
    return x[:1500], y[:1500], x[1500:], y[1500:]


def print_table(summary: list[dict]) -> None:
    print(
        f"{'arm':13s} {'lambda':>7s} {'test acc':>15s} {'refit acc':>15s} "
        f"{'HSJ distance':>15s} {'DDN distance':>15s} {'sigma(W1)':>9s}"
    )
    for row in summary:

        def cell(key: str, row: dict = row) -> str:
            return f"{row[key + '_mean']:.4f} +- {row[key + '_se']:.4f}"

        print(
            f"{row['arm']:13s} {row['lam']:7g} {cell('test_accuracy'):>15s} "
            f"{cell('refit_accuracy'):>15s} {cell('hsj_mean'):>15s} {cell('ddn_mean'):>15s} "
            f"{row['sigma_1_mean']:9.2f}"
        )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=("mnist", "digits"), default="mnist")
    ap.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default=None,
        help="default: $ROBUSTREP_PROFILE, else quick on CI, gpu with CUDA, else cpu",
    )
    ap.add_argument("--seeds", type=int, default=None, help="default: the profile's")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    args = ap.parse_args(argv)
    out = args.out or ROOT / "bench" / "results" / f"spectral_{args.dataset}.json"
    torch.set_num_threads(args.threads)
    profile = profile_settings(args.profile)
    device = default_device()
    settings = DIGITS_SETTINGS if args.dataset == "digits" else profile.spectral
    seeds = list(range(args.seeds if args.seeds is not None else settings.seeds))
    partial = PartialRun.from_arguments(
        out, args, profile=profile.name, settings=settings_record(settings), device=str(device)
    )
    if args.dataset == "digits":
        x_train, y_train, x_test, y_test = digits_splits()
        data = "scikit-learn 8x8 digits, seeded random split 1500 / 297"
    else:
        splits = load_dataset(
            "mnist",
            source=profile.data_source,
            train_size=settings.train_size,
            test_size=settings.test_size,
        )
        x_train, y_train, x_test, y_test = splits[:4]
        data = splits.description
    print(f"{data}; profile {profile.name}; seeds {seeds}; device {device}", flush=True)
    print(settings, flush=True)
    if partial.resumed:
        print(f"resuming: {partial.resumed} seed(s) done in {partial.path}", flush=True)
    rows: list[dict] = []
    for seed in seeds:
        if not partial.done((seed,)):
            t0 = time.perf_counter()
            # the rows of a seed do not depend on the seeds computed before it (the library
            # reseeds torch per seed), so one call per seed gives an uninterrupted run's rows
            found = compare_regularizers(
                x_train,
                y_train,
                x_test,
                y_test,
                settings,
                seeds=[seed],
                device=device,
                progress=False,
            )
            partial.add((seed,), found)
            print(f"seed {seed}: {len(found)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        rows.extend(partial.get((seed,)))
    wall = partial.wall_s
    summary = summarise_rows(rows)
    print_table(summary)
    print(f"wall time {wall:.0f} s")
    record = {
        "benchmark": "spectral regularization: none / ll-spectral / rep-spectral",
        "dataset": args.dataset,
        "profile": profile.name,
        "settings": settings_record(settings),
        "seeds": seeds,
        "provenance": provenance(profile.name, data, device, seeds[0]),
        "torch_threads": torch.get_num_threads(),
        "wall_s": wall,
        "paper_claim": PAPER_SPECTRAL_CLAIM,
        "rows": rows,
        "summary": summary,
    }
    if args.dataset == "digits":
        record["reference"] = DIGITS_REFERENCE
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
