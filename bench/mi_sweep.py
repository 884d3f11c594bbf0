"""B2: the MINE paper's correlation sweep (Belghazi et al. 2018, Fig. 1).

d in {2, 20}, one fixed rho per run; concat (joint) critic 2d -> 100 -> 100 -> 1; each step a
batch of 256 joint pairs plus 256 marginal pairs from a derangement of the same batch; Adam 1e-4;
5000 steps; the estimate is the mean read-out over held-out batches of 256 (critic frozen), and
each critic is also read out *pooled* (one bound over 131072 fresh pairs). Estimators: MINE (EMA
0.01; DV read-out), DV, NWJ, optionally SMILE (tau = 5); baseline KSG (k = 3, N = 2000, summed
over the d independent coordinate pairs). Data: 262144 pairs per run, half for training, half
held out. Findings: bench/README.md, section mi_sweep.py.

  .venv/bin/python bench/mi_sweep.py --estimators mine dv nwj smile --threads 1 \
      --overwrite                                                                 # the stored run
  .venv/bin/python bench/mi_sweep.py --steps 300 --rhos 0 0.5 --dims 2 --out /tmp/smoke.json

Each finished (d, rho) row is kept in ``OUT.partial.json`` (``OUT`` is ``--out`` without
``.json``): a killed run, started again with the same arguments, skips the rows done. An
existing ``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from robustrep_lite.book.mi_figures import SWEEP_D2_TARGET, SWEEP_TARGETS
from robustrep_lite.core.results import PartialRun, run_config
from robustrep_lite.core.runtime import provenance
from robustrep_lite.mi import (
    DEFAULT_READOUT,
    correlated_gaussians,
    estimate_mi,
    gaussian_mi,
    readout,
    sample_scores,
)

ROOT = Path(__file__).resolve().parents[1]

RHOS = (-0.99, -0.9, -0.7, -0.5, -0.3, 0.0, 0.3, 0.5, 0.7, 0.9, 0.99)


def ksg(x: torch.Tensor, y: torch.Tensor, n: int, seed: int) -> float:
    try:
        from sklearn.feature_selection import mutual_info_regression
    except ImportError:  # pragma: no cover - optional baseline
        return math.nan
    xs, ys = x[:n].double().numpy(), y[:n].double().numpy()
    return float(
        sum(
            mutual_info_regression(xs[:, [k]], ys[:, k], n_neighbors=3, random_state=seed)[0]
            for k in range(xs.shape[1])
        )
    )


def pooled_readout(
    critic: torch.nn.Module, estimator: str, x: torch.Tensor, y: torch.Tensor
) -> float:
    """The critic's bound on all of (x, y) at once: joint pairs (x_i, y_i), marginal pairs
    (x_i, y_{i+1}), one log-mean-exp over all of them (no per-batch bias)."""
    with torch.no_grad():
        parts = sample_scores(critic.pair_scores(x, y), critic.pair_scores(x, y.roll(1, 0)))
        return float(readout(DEFAULT_READOUT[estimator], parts))


def worst(errors: list[float]) -> float:
    """Largest error; a diverged run (NaN estimate) counts as an infinite error."""
    return max(e if math.isfinite(e) else math.inf for e in errors)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 20])
    p.add_argument("--rhos", type=float, nargs="+", default=list(RHOS))
    p.add_argument(
        "--estimators",
        nargs="+",
        default=["mine", "dv", "nwj"],
        choices=("mine", "dv", "nwj", "smile"),
    )
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--n", type=int, default=262144, help="samples per run (train + held-out)")
    p.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.5,
        help="0.5 of 262144: 131072 training pairs, 512 held-out batches (s.e. ~0.01)",
    )
    p.add_argument(
        "--pooled-n", type=int, default=131072, help="fresh pairs for the pooled read-out"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mi_sweep.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    partial = PartialRun.from_arguments(args.out, args)
    if partial.resumed:
        print(f"resuming: {partial.resumed} row(s) done in {partial.path}")

    keys = [(d, rho) for d in args.dims for rho in args.rhos]
    for d, rho in keys:
        if not partial.done((d, rho)):
            row = sweep_row(d, rho, args)
            partial.add((d, rho), row)
    rows = [partial.get(key) for key in keys]
    print_table(rows, args)
    targets = sweep_targets(rows, args.estimators)
    print("\ntargets:", json.dumps(targets, indent=1))
    record = {
        "benchmark": "B2 MINE sweep",
        "config": run_config(args),
        "rows": rows,
        "targets": targets,
        "torch": torch.__version__,
        "provenance": provenance(
            "none (synthetic data)",
            f"correlated Gaussians, {args.n} pairs per run",
            torch.device("cpu"),
            args.seed,
        ),
    }
    partial.finish(record)
    return record


def sweep_row(d: int, rho: float, args: argparse.Namespace) -> dict:
    """One row of the sweep: the truth, KSG and every estimator of ``args`` at (d, rho)."""
    truth = gaussian_mi(d, rho)
    x, y = correlated_gaussians(args.n, d, rho, seed=args.seed + int(1000 * (rho + 1)))
    row = {"d": d, "rho": rho, "truth": truth, "ksg": ksg(x, y, 2000, args.seed)}
    xp, yp = correlated_gaussians(args.pooled_n, d, rho, seed=args.seed + 7919)
    for est in args.estimators:
        t0 = time.perf_counter()
        r = estimate_mi(
            x,
            y,
            critic="joint",
            train_estimator=est,
            negatives="shuffled",
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            hidden=args.hidden,
            layers=args.layers,
            holdout_fraction=args.holdout_fraction,
            validation_fraction=0.0,  # infinite-data protocol: fixed steps, final critic
            preprocess="none",
            seed=args.seed,
            progress=False,
        )
        row[est] = {
            "estimate": r.estimate,
            "stderr": r.stderr,
            "diverged": r.diverged,
            "reason": r.reason,
            "wall_s": time.perf_counter() - t0,
            "train_last100": float(np.mean(r.train_curve[-100:])),
            "pooled": math.nan if r.diverged else pooled_readout(r.critic, est, xp, yp),
        }
    cells = "  ".join(
        f"{e}={row[e]['estimate']:.3f}+-{row[e]['stderr']:.3f}" for e in args.estimators
    )
    print(
        f"d={d:2d} rho={rho:+.2f} truth={truth:7.3f}  {cells}  ksg={row['ksg']:.3f}"
        f"  ({sum(row[e]['wall_s'] for e in args.estimators):.0f} s)",
        flush=True,
    )
    return row


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    """The sweep's table: held-out estimate, bias and pooled read-out per estimator."""
    print(
        f"\nB2 sweep: held-out estimate (bias) in nats; {args.steps} steps, batch "
        f"{args.batch_size}, lr {args.lr}, critic 2d->{args.hidden}x{args.layers}->1; "
        f"pooled read-out over {args.pooled_n} fresh pairs in [ ]"
    )
    head = "".join(f"{e:>27s}" for e in args.estimators)
    print(f"{'d':>3s} {'rho':>6s} {'truth':>7s}{head}{'KSG(k=3,N=2000)':>18s}")
    for r in rows:
        cells = "".join(
            f"{r[e]['estimate']:8.3f} ({r[e]['estimate'] - r['truth']:+.3f})"
            f" [{r[e]['pooled']:6.3f}]"
            for e in args.estimators
        )
        print(
            f"{r['d']:3d} {r['rho']:+6.2f} {r['truth']:7.3f}{cells}"
            f"{r['ksg']:8.3f} ({r['ksg'] - r['truth']:+.3f})"
        )


def sweep_targets(rows: list[dict], estimators: list[str]) -> dict[str, dict]:
    """Each estimator's worst errors against the MINE paper's targets (d = 2 and d = 20)."""
    targets: dict[str, dict] = {}
    for e in estimators:
        t: dict[str, object] = {}
        d2 = [r for r in rows if r["d"] == 2 and 0 < abs(r["rho"]) <= 0.9]
        if d2:
            w = worst([abs(r[e]["estimate"] - r["truth"]) for r in d2])
            t[SWEEP_TARGETS[0][0]] = [round(w, 4), w <= SWEEP_D2_TARGET]
        z = [r for r in rows if r["d"] == 2 and r["rho"] == 0]
        if z:
            w = worst([abs(r[e]["estimate"]) for r in z])
            t["d2_abs_estimate_le_0.05_at_rho0"] = [round(w, 4), w <= 0.05]
        d20 = [r for r in rows if r["d"] == 20 and 0 < abs(r["rho"]) <= 0.7]
        if d20:
            w = worst([abs(r[e]["estimate"] - r["truth"]) / r["truth"] for r in d20])
            t["d20_rel_error_le_10pct_for_0<|rho|<=0.7"] = [round(w, 4), w <= 0.10]
            t["d20_relative_error_per_rho"] = {
                f"{r['rho']:+g}": round((r[e]["estimate"] - r["truth"]) / r["truth"], 4)
                for r in d20
            }
            t["d20_pooled_relative_error_per_rho"] = {
                f"{r['rho']:+g}": round((r[e]["pooled"] - r["truth"]) / r["truth"], 4) for r in d20
            }
        z20 = [r for r in rows if r["d"] == 20 and r["rho"] == 0]
        if z20:
            t["d20_estimate_at_rho0"] = [round(z20[0][e]["estimate"], 4), None]
        targets[e] = t
    return targets


if __name__ == "__main__":
    main()
