"""Section 6.1's logit-layer vulnerability with the paper's per-point search, the universal
start and both (``--searches``), on the zoo of Chapter 5.

For each model of the ``zoo`` section of ``profile_settings(profile)`` (trained, or loaded from
the checkpoint cache Chapter 5 fills): the worst-case MI of the logit layer at the largest
evaluation radius per search, read out both ways (the paper's attacked critic and a refit one),
with Theorem 3.4's bound from each.
``--estimator-seeds`` repeats each measurement with other estimator seeds on the same models;
``--validation-fraction 0`` uses the estimator as it was before it had a validation split. Why,
and the stored runs: bench/README.md, section zoo_search.py.

  ROBUSTREP_CHECKPOINTS=book/checkpoints OMP_NUM_THREADS=1 \
      .venv/bin/python bench/zoo_search.py --profile cpu --overwrite
  ... bench/zoo_search.py --profile cpu --searches pointwise --estimator-seeds 0 1 2 3 4 \
      --out bench/results/zoo_estimator_seeds.json --overwrite

Chapter 5 runs in ``book/`` and, unless ``ROBUSTREP_CHECKPOINTS`` says otherwise, keeps its
models in ``book/checkpoints/zoo/`` (``checkpoint_root()`` is relative to the working
directory): hence ``ROBUSTREP_CHECKPOINTS=book/checkpoints`` from the repository root.

Each finished row is kept in ``OUT.partial.json`` (``OUT`` is ``--out`` without ``.json``): a
killed run, started again with the same arguments, skips the rows done. An existing ``--out``
is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from robustrep_lite.adversarial.search import SEARCHES
from robustrep_lite.core.results import PartialRun
from robustrep_lite.core.runtime import default_device, provenance, seed_everything
from robustrep_lite.experiments.settings import PROFILE_NAMES, profile_settings
from robustrep_lite.experiments.zoo import (
    RV_VALIDATION_FRACTION,
    logit_vulnerability,
    train_zoo,
)
from robustrep_lite.training.checkpoint import checkpoint_root
from robustrep_lite.training.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default=None,
        help="default: $ROBUSTREP_PROFILE, else quick on CI, gpu with CUDA, else cpu",
    )
    ap.add_argument("--searches", nargs="+", choices=SEARCHES, default=list(SEARCHES))
    ap.add_argument("--seed", type=int, default=0, help="data and model seed (the zoo's)")
    ap.add_argument("--estimator-seeds", type=int, nargs="+", default=None, help="default: --seed")
    ap.add_argument(
        "--validation-fraction",
        type=float,
        default=RV_VALIDATION_FRACTION,
        help="0: the estimator without a validation split (fixed steps, final state)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "zoo_search.json")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    profile = profile_settings(args.profile)
    settings = profile.zoo
    partial = PartialRun.from_arguments(args.out, args, profile=profile.name)
    data = {
        name: load_dataset(
            name,
            source=profile.data_source,
            train_size=settings.train_size,
            test_size=settings.test_size,
            seed=args.seed,
        )
        for name in sorted({m.dataset for m in settings.models})
    }
    cache = checkpoint_root() / "zoo"
    zoo = train_zoo(settings, data, cache_dir=cache, seed=args.seed, progress=False)
    if partial.resumed:
        print(f"resuming: {partial.resumed} row(s) done in {partial.path}")
    keys = []
    print(
        f"{'data':8s} {'model':28s} {'search':9s} {'seed':>4s} {'I(X;g)':>7s} {'worst paper':>11s} "
        f"{'worst refit':>11s} {'bound paper':>11s} {'bound refit':>11s} {'s':>5s}"
    )
    for m, net in zoo.items():
        eps = settings.eval_eps[m.dataset][-1]
        for search in args.searches:
            for estimator_seed in args.estimator_seeds or [args.seed]:
                key = (m.dataset, m.label, search, estimator_seed)
                keys.append(key)
                if partial.done(key):
                    continue
                t = time.perf_counter()
                v = logit_vulnerability(
                    net,
                    data[m.dataset].x_test,
                    eps=eps,
                    settings=settings,
                    search=search,
                    validation_fraction=args.validation_fraction,
                    seed=estimator_seed,
                )
                seconds = time.perf_counter() - t
                partial.add(
                    key,
                    {
                        "dataset": m.dataset,
                        "model": m.label,
                        "search": search,
                        "estimator_seed": estimator_seed,
                        **v,
                        "seconds": seconds,
                    },
                )
                print(
                    f"{m.dataset:8s} {m.label:28s} {search:9s} {estimator_seed:4d} "
                    f"{v['normal_mi']:7.3f} "
                    f"{v['worst_mi_paper']:11.3f} {v['worst_mi_refit']:11.3f} "
                    f"{v['bound_paper']:11.1%} {v['bound_refit']:11.1%} {seconds:5.0f}"
                )
    record = {
        "benchmark": "zoo logit-layer RV by search",
        "profile": profile.name,
        "settings": settings.record(),
        "seed": args.seed,
        "validation_fraction": args.validation_fraction,
        "provenance": provenance(
            profile.name,
            "; ".join(f"{name}: {d.description}" for name, d in data.items()),
            default_device(),
            args.seed,
        ),
        "torch_threads": args.threads,
        "wall_s": partial.wall_s,
        "rows": [partial.get(key) for key in keys],
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
