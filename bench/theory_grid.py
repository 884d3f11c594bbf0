"""Benchmark the Gaussian-mixture closed forms of ``robustrep_lite.theory.theorems`` on a random
grid.

Evaluates RV_eps (Def. 3.1), AG_eps(f*) (Def. 2.3) and both forms of the Theorem 3.2 bounds
(corrected and as printed) on ``--points`` random parameter points (d = 2: random theta,
random SPD covariance, random w, eps in [0, 3]), one call per l_p norm, and prints the best
wall time of ``--repeats`` runs per quantity and in total. It also checks that the corrected
inequality holds on every point and that the printed form is inverted wherever AG > 0.

Usage: ``python bench/theory_grid.py [--points 1000000] [--repeats 3] [--p 1 2 inf]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from robustrep_lite.theory.theorems import (
    gaussian_mixture_adversarial_gap,
    gaussian_mixture_rv,
    random_parameters,
    theorem_3_2_bounds,
    theorem_3_2_bounds_as_printed,
)


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--p", type=float, nargs="+", default=[1.0, 2.0, np.inf])
    args = parser.parse_args(argv)

    grid = random_parameters(args.points, args.dim, args.seed)
    args_ = (grid["theta"], grid["cov"], grid["w"], grid["eps"])
    print(f"{args.points} points, d = {args.dim}, best of {args.repeats} (seconds)")
    ok = True
    grand = 0.0
    for p in args.p:
        t_rv, rv = best_time(lambda p=p: gaussian_mixture_rv(*args_, p), args.repeats)
        t_ag, ag = best_time(lambda p=p: gaussian_mixture_adversarial_gap(*args_, p), args.repeats)
        t_b, (lo, hi) = best_time(lambda ag=ag: theorem_3_2_bounds(ag), args.repeats)
        t_pr, (plo, phi) = best_time(lambda ag=ag: theorem_3_2_bounds_as_printed(ag), args.repeats)
        total = t_rv + t_ag + t_b + t_pr
        grand += total
        tol = 1e-12
        holds = bool(np.all(lo <= rv + tol) and np.all(rv <= hi + tol))
        pos = (ag > 1e-6) & (ag < 1 - 1e-6)  # AG rounds to 1.0 for huge eps
        inverted = bool(np.all(plo[pos] > phi[pos]))
        ok &= holds and inverted
        print(
            f"p = {p:>4}: RV {t_rv:.3f}  AG {t_ag:.3f}  bounds {t_b:.3f}  printed {t_pr:.3f}"
            f"  total {total:.3f} | corrected holds on all: {holds}; printed inverted where"
            f" 1e-6 < AG < 1-1e-6 ({int(pos.sum())} pts): {inverted}; AG > 1/2 on"
            f" {int((ag > 0.5).sum())}"
            f"; max(lower - RV) = {float(np.max(lo - rv)):.1e}, max(RV - upper) ="
            f" {float(np.max(rv - hi)):.1e}"
        )
    print(f"all p together: {grand:.3f} s; checks passed: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
