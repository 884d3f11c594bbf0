"""Validate the worst-case MI estimator of Section 4 against the exact RV of Theorem 3.2.

Setting (Section 3.1): y ~ Unif{-1, 1}, x ~ N(y theta, Sigma) in d = 2, g(x) = sgn(w . x); the
exact RV is :func:`robustrep_lite.theory.theorems.gaussian_mixture_rv`. The estimator sees g
through ``straight_through_sign`` and estimates RV with both read-outs of :func:`worst_case_mi`
(``paper``: attacked held-out batches; ``refit``: a fresh critic on the frozen perturbed points),
beside diagnostics from the closed form: ``found`` (the true RV of the distribution PGD found),
``batch`` (the per-batch drop of code entropy) and ``oracle`` (the refit estimator on the exact
worst case). Details and findings: bench/README.md, section gaussian_rv_validation.py.

  .venv/bin/python bench/gaussian_rv_validation.py --seeds 0 1 --overwrite  # ~28 min, 1 thread
  .venv/bin/python bench/gaussian_rv_validation.py --eps 0.5 --norms inf --steps 300 \
      --out /tmp/short.json

Each finished (seed, norm, eps) row is kept in ``OUT.partial.json`` (``OUT`` is ``--out``
without ``.json``): a killed run, started again with the same arguments, skips the rows done. An
existing ``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from robustrep_lite.adversarial.search import AttackConfig
from robustrep_lite.adversarial.vulnerability import (
    WORST_CASE_CRITIC,
    normal_mi,
    straight_through_sign,
    worst_case_mi,
)
from robustrep_lite.core.results import PartialRun, run_config
from robustrep_lite.theory import theorems as theory
from robustrep_lite.theory.measures import empirical_sign_rv, sign_rv_of_points

ROOT = Path(__file__).resolve().parents[1]

THETA = np.array([1.0, 0.4])
COV = np.array([[1.0, 0.3], [0.3, 0.6]])
W = np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])


def p_value(norm: str) -> float:
    return math.inf if norm == "inf" else 2.0


def oracle_worst_case(x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """The exact worst case inside A(S, eps): every point that can change its code is moved by
    +-delta* (Hoelder's maximiser) to the side that leaves the lower code entropy."""
    p = p_value(norm)
    side = empirical_sign_rv(x.numpy(), W, eps, p).worst_side
    delta = torch.tensor(theory.worst_case_perturbation(W, eps, p), dtype=x.dtype)
    s = x.double() @ torch.tensor(W)
    eta = float(theory.gaussian_mixture_projection(THETA, COV, W, eps, p).eta)
    move = (s < 0) & (s + eta >= 0) if side > 0 else (s >= 0) & (s - eta < 0)
    return torch.where(move[:, None], x + side * delta, x)


def within(err: float, exact: float) -> bool:
    return bool(abs(err) <= max(0.1 * abs(exact), 0.01))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    ap.add_argument("--norms", nargs="+", default=["2", "inf"], choices=("2", "inf"))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=16)
    ap.add_argument("--estimator", default="dv")
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument(
        "--step-factor", type=float, default=2.5, help="PGD step = factor * eps / steps"
    )
    ap.add_argument("--sharpness-factor", type=float, default=1.0, help="k = factor / eta")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--search", default="pointwise", choices=("pointwise", "universal", "both"))
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "vulnerability_gaussian.json"
    )
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    partial = PartialRun.from_arguments(args.out, args)
    if partial.resumed:
        print(f"resuming: {partial.resumed} row(s) done in {partial.path}")
    keys = [(seed, norm, eps) for seed in args.seeds for norm in args.norms for eps in args.eps]
    wt = torch.tensor(W, dtype=torch.float32)
    critic = replace(
        WORST_CASE_CRITIC,
        critic="separable",
        train_estimator=args.estimator,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        layers=args.layers,
        embed_dim=args.embed_dim,
    )
    for seed in args.seeds:
        if all(partial.done(key) for key in keys if key[0] == seed):
            continue
        x_np, _ = theory.sample_gaussian_mixture(THETA, COV, args.n, seed=seed)
        x = torch.tensor(x_np, dtype=torch.float32)

        def code(v: torch.Tensor, k: float = 1.0) -> torch.Tensor:
            return straight_through_sign(v @ wt, k).unsqueeze(1)

        normal = normal_mi(code, x, critic, seed=seed, progress=False)
        print(
            f"seed {seed}: normal MI {normal.estimate:.4f} +- {normal.stderr:.4f} "
            f"(exact log 2 = {theory.LOG2:.4f})",
            flush=True,
        )
        for norm in args.norms:
            for eps in args.eps:
                if partial.done((seed, norm, eps)):
                    continue
                t0 = time.perf_counter()
                p = p_value(norm)
                eta = float(theory.gaussian_mixture_projection(THETA, COV, W, eps, p).eta)
                exact = float(theory.gaussian_mixture_rv(THETA, COV, W, eps, p))
                sample_exact = empirical_sign_rv(x_np, W, eps, p).rv
                k = args.sharpness_factor / eta

                def g(v: torch.Tensor, k: float = k) -> torch.Tensor:
                    return code(v, k)

                attack = AttackConfig(
                    eps=eps,
                    norm=norm,
                    pgd_steps=args.pgd_steps,
                    step_size=args.step_factor * eps / args.pgd_steps,
                    box=None,
                    search=args.search,
                )
                worst = worst_case_mi(g, x, attack, critic, seed=seed, progress=False)
                x_oracle = oracle_worst_case(x, eps, norm)
                oracle = normal_mi(g, x_oracle, critic, seed=seed, progress=False)
                q_found = float((worst.x_adv @ wt >= 0).float().mean())
                found = worst.x_adv.cpu().numpy()
                batches = worst.heldout_adv.cpu().numpy().reshape(-1, args.batch_size, W.size)
                se_n = normal.stderr
                row = {
                    "seed": seed,
                    "norm": norm,
                    "eps": eps,
                    "eta": eta,
                    "sharpness": k,
                    "exact_rv": exact,
                    "sample_exact_rv": sample_exact,
                    "normal_mi": normal.estimate,
                    "normal_se": se_n,
                    "paper_worst_mi": worst.attacked.estimate,
                    "paper_rv": normal.estimate - worst.attacked.estimate,
                    "paper_se": math.hypot(se_n, worst.attacked.stderr),
                    "refit_worst_mi": worst.refit.estimate,
                    "refit_rv": normal.estimate - worst.refit.estimate,
                    "refit_se": math.hypot(se_n, worst.refit.stderr),
                    "found_rv": sign_rv_of_points(found, W),
                    "found_code_share": q_found,
                    "batch_rv": float(np.mean([sign_rv_of_points(b, W) for b in batches])),
                    "oracle_rv": normal.estimate - oracle.estimate,
                    "oracle_se": math.hypot(se_n, oracle.stderr),
                    "diverged": bool(worst.diverged or oracle.diverged or normal.diverged),
                    "wall_s": time.perf_counter() - t0,
                }
                for v in ("paper", "refit", "oracle"):
                    row[f"{v}_abs_err"] = abs(row[f"{v}_rv"] - exact)
                    row[f"{v}_within"] = within(row[f"{v}_rv"] - exact, exact)
                partial.add((seed, norm, eps), row)
                print(
                    f"  p={norm:>3} eps={eps:<5g} exact {exact:.4f}  paper {row['paper_rv']:.4f}"
                    f"  refit {row['refit_rv']:.4f}  found {row['found_rv']:.4f}"
                    f"  batch {row['batch_rv']:.4f}  oracle {row['oracle_rv']:.4f}"
                    f"  ({row['wall_s']:.0f} s)",
                    flush=True,
                )

    rows = [partial.get(key) for key in keys]
    print(
        f"\nRV (nats), {args.n} samples, {args.steps} critic steps, batch {args.batch_size}, "
        f"separable critic {args.hidden}x{args.layers}, {args.estimator}, PGD {args.pgd_steps} "
        f"steps of {args.step_factor} eps/{args.pgd_steps}, sharpness {args.sharpness_factor}/eta;"
        " target |error| <= max(10% of exact, 0.01)"
    )
    head = f"{'eps':>5} {'p':>3} {'exact RV':>9} | {'variant':8} {'estimated RV':>17} "
    print(head + f"{'|error|':>8} {'within?':>8} | {'found':>7} {'batch':>7}")
    for r in rows:
        for v, name in (("paper", "paper"), ("refit", "refit"), ("oracle", "oracle*")):
            est = f"{r[f'{v}_rv']:.4f} +- {r[f'{v}_se']:.4f}"
            extra = f"| {r['found_rv']:7.4f} {r['batch_rv']:7.4f}" if v == "paper" else ""
            print(
                f"{r['eps']:5g} {r['norm']:>3} {r['exact_rv']:9.4f} | {name:8} {est:>17} "
                f"{r[f'{v}_abs_err']:8.4f} {('yes' if r[f'{v}_within'] else 'no'):>8} {extra}"
            )
    summary = {
        v: {
            "mean_abs_err": float(np.mean([r[f"{v}_abs_err"] for r in rows])),
            "within_target": int(sum(r[f"{v}_within"] for r in rows)),
            "above_exact": int(sum(r[f"{v}_rv"] > r["exact_rv"] for r in rows)),
        }
        for v in ("paper", "refit", "oracle")
    }
    print(f"\n* oracle: refit estimator on the exact worst case (not an attack). n = {len(rows)}")
    for v, s in summary.items():
        print(
            f"{v:7}: mean |error| {s['mean_abs_err']:.4f}, within target {s['within_target']}"
            f"/{len(rows)}, above the exact RV {s['above_exact']}/{len(rows)}"
        )
    print(f"total {partial.wall_s:.0f} s, torch threads {torch.get_num_threads()}")
    record = {
        "benchmark": "worst-case MI estimator vs exact RV (Theorem 3.2 setting)",
        "setting": {"theta": THETA.tolist(), "cov": COV.tolist(), "w": W.tolist()},
        "config": run_config(args),
        "rows": rows,
        "summary": summary,
        "torch": torch.__version__,
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
