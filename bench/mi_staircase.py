"""B1 "staircase" benchmark (Poole et al. 2019; Song & Ermon 2020): d = 20 correlated
Gaussians, batch 64, fresh samples every step, MI 2 -> 4 -> 6 -> 8 -> 10 nats with 4000 Adam
(5e-4) steps per level, separable or joint critic.

Estimators: dv, mine (EMA rate 0.01), nwj, infonce, and js_nwj / smile_1 / smile_5 / smile_inf
(all JSD-trained; for each seed they share one critic, and their wall time is that shared run's).
Per level: mean, signed bias and variance of the per-step estimates over the last 500 steps, a
held-out estimate with the frozen critic (mean over 100 fresh batches), the per-seed means, and
each estimator's gap to the reference numbers in units of the combined standard error. Every
step is checked for finite values. ``--first-seed`` only chooses which seeds run (``first``,
``first + 1``, ...), to measure other seeds into a record of their own: it does not add them to
an existing run (an existing ``--out`` is refused without ``--overwrite`` and replaced with it,
and ``--merge`` joins runs of other estimators, not other seeds). Reference numbers and
findings: bench/README.md, section mi_staircase.py.

  .venv/bin/python bench/mi_staircase.py --critic separable --seeds 3 --overwrite
  .venv/bin/python bench/mi_staircase.py --steps-per-level 200 --seeds 1 --out /tmp/s.json

The unit of finished work is one critic's run through the staircase, per seed and training
objective (in the stored runs 1-2 minutes with the separable critic, 12-33 with the joint one):
each is kept, summarised, in ``OUT.partial.json`` (``OUT`` is ``--out`` without ``.json``), and
a killed run, started again with the same arguments at the same commit, trains only the critics
left (each run seeds itself, so the result equals an uninterrupted run's). An existing ``--out``
is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from robustrep_lite.core.results import (
    PartialRun,
    merged_provenance,
    portable_path,
    refuse_overwrite,
    run_config,
    save_result,
)
from robustrep_lite.experiments.mi_staircase import (
    B1_STAIRCASE,
    CRITICS,
    LEVELS,  # noqa: F401 (torch_mist_compare.py imports it from here)
    StaircaseConfig,
    run_staircase,
    summarise_levels,
)
from robustrep_lite.experiments.mi_staircase import (
    NAMED_ESTIMATORS as ESTIMATORS,  # name -> (training objective, read-out, clip)
)
from robustrep_lite.mi import gaussian_mi, rho_for_mi

ROOT = Path(__file__).resolve().parents[1]

# An independent reimplementation of B1 (CPU, 2 seeds; within ~0.2 nats of the published figure of
# ermongroup/smile-mi-estimator), separable critic: mean estimate at MI = 2/4/6/8/10 and variance
# at MI = 10.
REF_SEPARABLE = {
    "dv": ([1.69, 3.17, 4.59, 5.88, 7.13], 29.6),
    "infonce": ([1.64, 2.88, 3.58, 3.92, 4.06], 0.004),
    "nwj": ([1.51, 2.56, 3.10, 3.82, 4.12], 1.07),
    "mine": ([1.62, 2.66, 3.16, 3.94, 4.14], 0.41),
    "smile_1": ([2.07, 4.21, 6.18, 8.21, 10.29], 0.62),
    "smile_5": ([1.69, 3.67, 5.77, 8.09, 10.54], 0.55),
    "smile_inf": ([1.65, 3.31, 5.02, 6.84, 8.87], 2.6),
}
# Joint critic: signed bias at MI = 2/4/6/8/10 (dv: diverged above MI = 4).
REF_JOINT_BIAS = {
    "smile_5": [-0.13, -0.10, 0.16, 0.52, 0.96],
    "smile_1": [0.18, 0.31, 0.38, 0.27, 0.01],
    "smile_inf": [-0.14, -0.22, -0.22, -0.13, 0.19],
    "infonce": [-0.26, -1.00, -2.30, -4.00, -5.89],
    "nwj": [-0.12, -0.25, -0.95, -1.66, -3.64],
    "mine": [-0.11, -0.21, -0.52, -0.77, -1.17],
}
EXPLODED = 100.0  # |estimate| above this many nats counts as divergence (truth is <= 10)


def sample(gen: torch.Generator, n: int, d: int, rho: float) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, d, generator=gen)
    return x, rho * x + math.sqrt(1.0 - rho * rho) * torch.randn(n, d, generator=gen)


def staircase_config(args: argparse.Namespace) -> StaircaseConfig:
    """The :class:`~robustrep_lite.experiments.mi_staircase.StaircaseConfig` the command line
    asks for (a bad value raises ``ValueError`` naming it)."""
    return StaircaseConfig(
        critic=args.critic,
        d=args.d,
        levels=args.levels,
        steps_per_level=args.steps_per_level,
        batch_size=args.batch_size,
        lr=args.lr,
        ema_rate=args.ema_rate,
        heldout_batches=args.heldout_batches,
    )


def run_group(trainer: str, names: list[str], seed: int, config: StaircaseConfig) -> dict:
    """Train one critic with ``trainer`` through the staircase; read out every estimator in
    ``names`` at every step (:func:`robustrep_lite.experiments.mi_staircase.run_staircase`)."""
    assert all(ESTIMATORS[k][0] == trainer for k in names)
    return run_staircase(names, config, seed=seed)


def summarise(curve: np.ndarray, held: list[float], args: argparse.Namespace) -> list[dict]:
    return summarise_levels(
        curve, held, args.levels, args.steps_per_level, args.heldout_batches, args.last
    )


def report(results: dict[str, dict], args: argparse.Namespace) -> dict:
    """Print the comparison table and the targets; return the targets."""
    names = [k for k in ESTIMATORS if k in results]
    full = (
        args.steps_per_level == B1_STAIRCASE.steps_per_level
        and list(args.levels) == list(B1_STAIRCASE.levels)
        and args.d == B1_STAIRCASE.d
        and args.batch_size == B1_STAIRCASE.batch_size
    )
    shared = [k for k in names if ESTIMATORS[k][0] == "jsd"]
    if len(shared) > 1:
        print(f"(time/seed of {', '.join(shared)} is one shared JSD-trained run)")
    print(
        f"\nB1 staircase, {args.critic} critic, {args.seeds} seed(s), "
        f"{args.steps_per_level} steps/level, truth = {args.levels}"
        + ("" if full else "  [NOT the full B1 protocol: reference numbers not comparable]")
    )
    lv = "  ".join(f"{m:>12g}" for m in args.levels)
    if args.critic == "separable":
        print(f"mean of last {args.last} steps, ours (reference); held-out in [ ]")
        print(f"{'estimator':10s} {lv}  {'var@last':>14s}  {'time/seed':>9s}")
        for k in names:
            ref = REF_SEPARABLE.get(k)
            cells = []
            for i, L in enumerate(results[k]["levels"]):
                r = f"({ref[0][i]:.2f})" if ref and i < len(ref[0]) else "(  -  )"
                cells.append(f"{L['mean']:5.2f}{r}")
            var_ref = f"({ref[1]:g})" if ref else ""
            var = f"{results[k]['levels'][-1]['var']:.3g}{var_ref}"
            print(
                f"{k:10s} {'  '.join(f'{c:>12s}' for c in cells)}  {var:>14s}  "
                f"{results[k]['wall_s_mean']:8.1f}s" + _flag(results[k])
            )
            print(
                f"{'  held-out':10s} "
                + "  ".join(
                    f"{'[' + format(L['heldout'], '.2f') + ']':>12s}" for L in results[k]["levels"]
                )
            )
    else:
        print(f"signed bias of the last {args.last} steps, ours (reference)")
        print(f"{'estimator':10s} {lv}  {'max var':>8s}  {'time/seed':>9s}")
        for k in names:
            ref = REF_JOINT_BIAS.get(k)
            cells = []
            for i, L in enumerate(results[k]["levels"]):
                r = f"({ref[i]:+.2f})" if ref and i < len(ref) else "(  -  )"
                cells.append(f"{L['bias']:+.2f}{r}")
            mv = max(L["var"] for L in results[k]["levels"])
            print(
                f"{k:10s} {'  '.join(f'{c:>12s}' for c in cells)}  {mv:8.3g}  "
                f"{results[k]['wall_s_mean']:8.1f}s" + _flag(results[k])
            )

    compare = args.critic == "separable" and full
    print(
        f"\nspread over seeds of the {args.last}-step means: sd"
        + (" (gap to reference / combined s.e.)" if compare else "")
    )
    for k in names:
        reference = REF_SEPARABLE[k][0] if compare and k in REF_SEPARABLE else None
        spread = seed_spread(results[k]["levels"], reference)
        cells = [
            f"{c['sd']:.2f}" + (f" ({c['gap_in_se']:+.1f})" if c["gap_in_se"] is not None else "")
            for c in spread
        ]
        print(f"{k:10s} " + "  ".join(f"{c:>12s}" for c in cells))

    # ---- targets ---------------------------------------------------------------------------
    targets = {}
    if compare:
        worst = {
            k: max(
                abs(L["mean"] - REF_SEPARABLE[k][0][i]) for i, L in enumerate(results[k]["levels"])
            )
            for k in names
            if k in REF_SEPARABLE
        }
        targets["mean_within_0.25_of_reference"] = {
            k: [round(v, 3), v <= 0.25] for k, v in worst.items()
        }
        targets["reference_gap_in_combined_se"] = {
            k: [c["gap_in_se"] for c in seed_spread(results[k]["levels"], REF_SEPARABLE[k][0])]
            for k in names
            if k in REF_SEPARABLE
        }
    if "smile_5" in results and args.critic == "separable":
        w = max(abs(L["bias"]) for L in results["smile_5"]["levels"])
        targets["smile_5_within_0.6_of_truth"] = [round(w, 3), w <= 0.6]
    targets["no_nan_or_inf"] = {k: not results[k]["nonfinite"] for k in names}
    targets["no_step_above_100_nats"] = {k: not results[k]["exploded"] for k in names}
    if args.critic == "separable" and full:
        targets["time_per_estimator_le_120s"] = {
            k: [round(results[k]["wall_s_mean"], 1), results[k]["wall_s_mean"] <= 120]
            for k in names
        }
    print("\ntargets ([worst value, met]):")
    for key, val in targets.items():
        print(f"  {key}: {json.dumps(val)}")

    return targets


def seed_spread(levels: list[dict], reference: list[float] | None) -> list[dict]:
    """Per level: sd over seeds of the per-seed means, and (given the reference means) the gap
    ``ours - reference`` divided by ``sqrt(sd^2 / seeds + sd^2 / 2)``, the combined standard
    error when the reference's 2 seeds spread like ours (``None`` with fewer than 2 seeds)."""
    out = []
    for i, lv in enumerate(levels):
        per_seed = np.asarray(lv["mean_per_seed"], dtype=float)
        sd = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else math.nan
        gap = None
        if reference is not None and i < len(reference) and len(per_seed) > 1 and sd > 0:
            se = math.sqrt(sd**2 / len(per_seed) + sd**2 / 2)
            gap = round((lv["mean"] - reference[i]) / se, 2)
        out.append({"sd": sd, "gap_in_se": gap})
    return out


def finished_run(r: dict, names: list[str], keep_curves: bool, args: argparse.Namespace) -> dict:
    """What the record needs of one critic's run ``r`` (:func:`run_group`), as the partial file
    keeps it: per estimator of ``names`` its per-level summary, and with ``keep_curves`` (the
    first seed) every ``args.curve_stride``-th per-step estimate (``None`` where not finite);
    the run's wall time and the step it stopped at."""
    curves = {}
    if keep_curves:
        for k in names:
            c = r["curves"][k][:: args.curve_stride]
            curves[k] = [None if not math.isfinite(v) else round(float(v), 4) for v in c]
    return {
        "levels": {k: summarise(r["curves"][k], r["held"][k], args) for k in names},
        "curves": curves,
        "wall_s": r["wall_s"],
        "stopped_at": r["stopped_at"],
    }


def _flag(r: dict) -> str:
    if r["nonfinite"]:
        return "  NaN/inf!"
    if r["exploded"]:
        return f"  max|est| {max(L['max_abs'] for L in r['levels']):.3g}"
    return ""


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    b1 = B1_STAIRCASE  # the defaults: the full B1 protocol
    p.add_argument("--critic", choices=CRITICS, default=b1.critic)
    p.add_argument("--estimators", nargs="+", choices=tuple(ESTIMATORS), default=list(ESTIMATORS))
    p.add_argument("--seeds", type=int, default=3, help="number of seeds")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run: first, first + 1, ...")
    p.add_argument("--steps-per-level", type=int, default=b1.steps_per_level)
    p.add_argument("--levels", type=float, nargs="+", default=list(b1.levels))
    p.add_argument("--last", type=int, default=500, help="steps per level for mean/bias/var")
    p.add_argument("--heldout-batches", type=int, default=b1.heldout_batches)
    p.add_argument("--d", type=int, default=b1.d)
    p.add_argument("--batch-size", type=int, default=b1.batch_size)
    p.add_argument("--lr", type=float, default=b1.lr)
    p.add_argument("--ema-rate", type=float, default=b1.ema_rate)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--curve-stride",
        type=int,
        default=10,
        help="save every k-th per-step estimate of seed 0 in the JSON",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="combine saved JSON results (e.g. estimator subsets run in parallel), "
        "print the table and save to --out",
    )
    args = p.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out, args.overwrite)
    args.last = min(args.last, args.steps_per_level)
    config = staircase_config(args)
    torch.set_num_threads(args.threads)
    out = args.out or ROOT / "bench" / "results" / f"mi_staircase_{args.critic}.json"
    partial = PartialRun.from_arguments(out, args)
    if partial.resumed:
        print(f"resuming: {partial.resumed} critic run(s) done in {partial.path}", flush=True)

    groups: dict[str, list[str]] = {}
    for k in args.estimators:
        groups.setdefault(ESTIMATORS[k][0], []).append(k)
    per_seed: dict[str, list[list[dict]]] = {k: [] for k in args.estimators}
    walls: dict[str, list[float]] = {k: [] for k in args.estimators}
    stopped: dict[str, list] = {k: [] for k in args.estimators}
    curves0: dict[str, list] = {}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:
        for trainer, names in groups.items():
            if not partial.done((seed, trainer)):
                r = run_group(trainer, names, seed, config)
                print(
                    f"seed {seed} trainer {trainer:8s} ({', '.join(names)}): {r['wall_s']:.1f} s"
                    + (
                        f"  STOPPED (non-finite loss) at step {r['stopped_at']}"
                        if r["stopped_at"] is not None
                        else ""
                    ),
                    flush=True,
                )
                partial.add((seed, trainer), finished_run(r, names, seed == seeds[0], args))
            done = partial.get((seed, trainer))
            for k in names:
                per_seed[k].append(done["levels"][k])
                walls[k].append(done["wall_s"])
                stopped[k].append(done["stopped_at"])
                if seed == seeds[0]:
                    curves0[k] = done["curves"][k]

    # ---- aggregate over seeds and print --------------------------------------------------
    results: dict[str, dict] = {}
    for k in args.estimators:
        levels = []
        for i, mi in enumerate(args.levels):
            rows = [s[i] for s in per_seed[k]]
            levels.append(
                {
                    "mi": mi,
                    "mean": float(np.mean([r["mean"] for r in rows])),
                    "bias": float(np.mean([r["bias"] for r in rows])),
                    "var": float(np.mean([r["var"] for r in rows])),
                    "heldout": float(np.mean([r["heldout"] for r in rows])),
                    "mean_per_seed": [r["mean"] for r in rows],
                    "heldout_per_seed": [r["heldout"] for r in rows],
                    "nonfinite_steps": int(sum(r["nonfinite_steps"] for r in rows)),
                    "max_abs": float(np.nanmax([r["max_abs"] for r in rows])),
                }
            )
        nonfinite = any(s is not None for s in stopped[k]) or any(
            lv["nonfinite_steps"] > 0 for lv in levels
        )
        exploded = any(not lv["max_abs"] <= EXPLODED for lv in levels)
        results[k] = {
            "levels": levels,
            "seeds": list(seeds),
            "wall_s_per_seed": walls[k],
            "wall_s_mean": float(np.mean(walls[k])),
            "stopped_at": stopped[k],
            "nonfinite": nonfinite,
            "exploded": exploded,
            "diverged": nonfinite or exploded,
        }

    targets = report(results, args)

    record = {
        "benchmark": "B1 staircase",
        "critic": args.critic,
        "seeds": args.seeds,
        "config": run_config(args),
        "truth_nats": list(args.levels),
        "ground_truth_check": [gaussian_mi(args.d, rho_for_mi(m, args.d)) for m in args.levels],
        "results": results,
        "targets": targets,
        "reference_separable_mean": REF_SEPARABLE,
        "reference_joint_bias": REF_JOINT_BIAS,
        # the curves of the first seed run (seed 0 unless --first-seed); key kept for readers
        "curves_seed0": {"stride": args.curve_stride, "seed": seeds[0], "values": curves0},
        "note": "JSD-trained estimators (js_nwj, smile_*) share one critic per seed; their "
        "wall time is that shared run's. torch "
        + torch.__version__
        + f", {args.threads} thread(s).",
    }
    partial.finish(record)
    return record


#: The settings runs must share to be merged into one record (the estimators may differ).
SETTINGS = (
    "critic",
    "seeds",
    "first_seed",
    "steps_per_level",
    "levels",
    "last",
    "heldout_batches",
    "d",
    "batch_size",
    "lr",
    "ema_rate",
)


def merge(files: list[Path], out: Path | None, overwrite: bool = False) -> dict:
    """Join runs of other estimators with the same :data:`SETTINGS`, made at one commit
    (:func:`merged_provenance`), into ``out``."""
    records = [json.loads(f.read_text()) for f in files]
    try:
        provenance = merged_provenance(list(zip(files, records, strict=True)))
    except ValueError as error:
        raise SystemExit(f"cannot merge: {error}") from None
    base = records[0]
    cfg = dict(base["config"])
    out = out or ROOT / "bench" / "results" / f"mi_staircase_{cfg['critic']}.json"
    refuse_overwrite(out, overwrite)
    for r in records[1:]:
        for key in SETTINGS:
            if r["config"].get(key) != cfg.get(key):
                raise SystemExit(
                    f"cannot merge: {key} differs ({r['config'].get(key)} vs {cfg.get(key)})"
                )
    results, curves = {}, {}
    for r in records:
        results.update(r["results"])
        curves.update(r["curves_seed0"]["values"])
    cfg["estimators"] = [k for k in ESTIMATORS if k in results]
    cfg["merged_from"] = [portable_path(f) for f in files]
    cfg["out"], cfg["merge"] = portable_path(out), cfg["merged_from"]  # the merge's, not a part's
    args = argparse.Namespace(**cfg)
    print(f"merged {', '.join(str(f) for f in files)}")
    targets = report(results, args)
    record = {
        **base,
        "config": cfg,
        "results": results,
        "targets": targets,
        "curves_seed0": {"stride": base["curves_seed0"]["stride"], "values": curves},
        "provenance": provenance,
    }
    save_result(record, out)
    return record


if __name__ == "__main__":
    main()
