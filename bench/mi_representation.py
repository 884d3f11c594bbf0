"""B3: finite ground truth for I(X; g(X)) of a representation.

(a) Linear-Gaussian representation Z = W X + sigma e, X ~ N(0, Sigma_X) in d_x = 10,
    Z in d_z = 4: I(X; Z) = 0.5 log det(I + W Sigma_X W^T / sigma^2). sigma is solved for
    target MIs of 0.5 ... 8 nats, plus one near-deterministic sigma.
(b) Binary representation g(x) = sgn(w.x - b) of a two-Gaussian mixture
    (y ~ Unif{-1, 1}, x ~ N(y theta, Sigma)): I(X; g(X)) = H(g(X)) = h(P[g = 1]) <= log 2.

Each estimator trains a separable critic with :func:`robustrep_lite.mi.estimate_mi` and reads
out on held-out batches. Findings: bench/README.md, section mi_representation.py.

  .venv/bin/python bench/mi_representation.py --overwrite
  .venv/bin/python bench/mi_representation.py --steps 200 --estimators smile --out /tmp/s.json

The unit of finished work is one estimator on one problem (a row's entry for that estimator):
each is kept in ``OUT.partial.json`` (``OUT`` is ``--out`` without ``.json``), and a killed run,
started again with the same arguments at the same commit, trains only the critics left. Every
estimate seeds itself from ``--seed`` (its split, batches and critic initialisation) and its
problem's samples are seeded too, so the result equals an uninterrupted run's. An existing
``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.stats import norm

from robustrep_lite.core.results import PartialRun, run_config
from robustrep_lite.mi import estimate_mi, linear_gaussian_mi

ROOT = Path(__file__).resolve().parents[1]

TRAIN = {"smile": "smile", "infonce": "infonce", "dv": "dv", "mine": "mine", "nwj": "nwj"}


def linear_problem(d_x: int, d_z: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d_x, d_x))
    cov = a @ a.T / d_x + 0.1 * np.eye(d_x)
    w = rng.standard_normal((d_z, d_x)) / math.sqrt(d_x)
    return w, cov


def sigma_for(mi: float, w: np.ndarray, cov: np.ndarray) -> float:
    return float(brentq(lambda s: linear_gaussian_mi(w, cov, s) - mi, 1e-6, 1e6, xtol=1e-12))


def sample_linear(n: int, w: np.ndarray, cov: np.ndarray, sigma: float, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(np.zeros(cov.shape[0]), cov, size=n)
    z = x @ w.T + sigma * rng.standard_normal((n, w.shape[0]))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(z, dtype=torch.float32)


def binary_problem(n: int, d: int, bias: float, seed: int):
    """x ~ 0.5 N(theta, I) + 0.5 N(-theta, I); g(x) = sgn(w.x - bias); returns x, g, H(g)."""
    rng = np.random.default_rng(seed)
    theta = np.full(d, 1.0 / math.sqrt(d))
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    y = rng.choice([-1.0, 1.0], size=n)
    x = y[:, None] * theta + rng.standard_normal((n, d))
    g = np.sign(x @ w - bias)
    m = float(w @ theta)  # w.x ~ 0.5 N(m, 1) + 0.5 N(-m, 1) since ||w|| = 1, Sigma = I
    p = 0.5 * norm.sf(bias - m) + 0.5 * norm.sf(bias + m)
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(g[:, None], dtype=torch.float32), h


def run(x, z, est: str, args) -> dict:
    t0 = time.perf_counter()
    r = estimate_mi(
        x,
        z,
        critic="separable",
        train_estimator=TRAIN[est],
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        layers=args.layers,
        embed_dim=32,
        holdout_fraction=0.2,
        validation_fraction=0.0,  # infinite-data protocol: fixed steps, final critic
        preprocess="none",
        seed=args.seed,
        progress=False,
    )
    return {
        "estimate": r.estimate,
        "stderr": r.stderr,
        "diverged": r.diverged,
        "readout": r.readout_estimator,
        "wall_s": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--estimators", nargs="+", default=["smile", "infonce", "dv", "nwj"], choices=tuple(TRAIN)
    )
    p.add_argument("--targets", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0, 8.0])
    p.add_argument("--deterministic-sigma", type=float, default=1e-3)
    p.add_argument("--biases", type=float, nargs="+", default=[0.0, 1.0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--n", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "mi_representation.json"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    args = p.parse_args(argv)
    partial = PartialRun.from_arguments(args.out, args)
    torch.set_num_threads(args.threads)
    if partial.resumed:
        print(f"resuming: {partial.resumed} estimate(s) done in {partial.path}", flush=True)

    def estimates(x: torch.Tensor, z: torch.Tensor, problem: str, i: int) -> dict[str, dict]:
        """Each estimator's :func:`run` on the ``i``-th ``problem``, those done before a kill
        taken from the partial file."""
        for est in args.estimators:
            if not partial.done((problem, i, est)):
                partial.add((problem, i, est), run(x, z, est, args))
        return {est: partial.get((problem, i, est)) for est in args.estimators}

    w, cov = linear_problem(10, 4, args.seed)
    rows = []
    sigmas = [sigma_for(m, w, cov) for m in args.targets] + [args.deterministic_sigma]
    for i, sigma in enumerate(sigmas):
        truth = linear_gaussian_mi(w, cov, sigma)
        x, z = sample_linear(args.n, w, cov, sigma, args.seed + i)
        row = {"problem": "linear", "sigma": sigma, "truth": truth, **estimates(x, z, "linear", i)}
        rows.append(row)
        print(
            f"linear sigma={sigma:.4g} truth={truth:.3f}  "
            + "  ".join(f"{e}={row[e]['estimate']:.3f}" for e in args.estimators),
            flush=True,
        )
    for j, b in enumerate(args.biases):
        x, g, h = binary_problem(args.n, 10, b, args.seed)
        row = {"problem": "binary", "bias": b, "truth": h, **estimates(x, g, "binary", j)}
        rows.append(row)
        print(
            f"binary bias={b:g} truth={h:.3f}  "
            + "  ".join(f"{e}={row[e]['estimate']:.3f}" for e in args.estimators),
            flush=True,
        )

    print(
        f"\nB3: held-out estimate +- s.e. (nats); separable critic {args.hidden}x{args.layers}, "
        f"batch {args.batch_size} (InfoNCE cap log n = {math.log(args.batch_size):.2f}), "
        f"{args.steps} steps"
    )
    print(f"{'problem':24s} {'truth':>8s}" + "".join(f"{e:>17s}" for e in args.estimators))
    for r in rows:
        name = f"Z=WX+{r['sigma']:.3g}e" if r["problem"] == "linear" else f"sgn(w.x-{r['bias']:g})"
        cells = "".join(
            (
                f"{r[e]['estimate']:8.3f}+-{r[e]['stderr']:.3f}"
                if not r[e]["diverged"]
                else f"{'diverged':>15s}"
            ).rjust(17)
            for e in args.estimators
        )
        print(f"{name:24s} {r['truth']:8.3f}{cells}")
    record = {
        "benchmark": "B3 representation",
        "config": run_config(args),
        "linear_w": w.tolist(),
        "linear_cov_x": cov.tolist(),
        "rows": rows,
        "torch": torch.__version__,
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
