"""The B1 staircase side by side: robustrep_lite.mi vs torch-mist 0.2.17, with the same data
stream, the same separable critic and the same initial weights on both sides (estimator mapping
and findings: bench/README.md, section torch_mist_compare.py).

torch-mist pins numpy < 2, so this runs in the peers environment that ``bench/setup_peers.sh``
makes (torch-mist 0.2.17 and this package, installed there); it imports the staircase's data and
reference numbers from the sibling script ``bench/mi_staircase.py``:

  bash bench/setup_peers.sh
  bench/.venv-peers/bin/python bench/torch_mist_compare.py --seeds 1 --overwrite

Each finished run (estimator, seed, library: about 1-8 minutes) is kept in
``OUT.partial.json``; a killed run started again with the same arguments at the same commit
resumes after it (:class:`robustrep_lite.core.results.PartialRun`), and the stored ``--out``
is replaced only at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from mi_staircase import ESTIMATORS, LEVELS, REF_SEPARABLE, sample

from robustrep_lite.core.results import (
    PartialRun,
    merged_provenance,
    portable_path,
    refuse_overwrite,
    run_config,
    save_result,
)
from robustrep_lite.mi import (
    SeparableCritic,
    readout,
    rho_for_mi,
    training_objective,
)

HERE = Path(__file__).resolve().parent

COMPARED = ("smile_5", "infonce", "nwj", "mine", "js_nwj", "dv")


def mist_estimator(name: str, critic: SeparableCritic):
    from torch_mist.critic import SeparableCritic as MistSeparable
    from torch_mist.estimators.discriminative.implementations import (
        JS,
        MINE,
        NWJ,
        SMILE,
        InfoNCE,
    )

    c = MistSeparable(f_x=copy.deepcopy(critic.g), f_y=copy.deepcopy(critic.h))
    if name == "smile_5":
        return SMILE(critic=c, neg_samples=-1, tau=5.0)
    if name == "js_nwj":
        return JS(critic=c, neg_samples=-1)
    if name == "infonce":
        return InfoNCE(critic=c, neg_samples=0)
    if name == "nwj":
        return NWJ(critic=c, neg_samples=-1)
    if name == "mine":
        return MINE(critic=c, neg_samples=-1, gamma=0.99)
    return MINE(critic=c, neg_samples=-1, gamma=0.0)  # dv


def run(lib: str, name: str, seed: int, args) -> dict:
    torch.manual_seed(seed)
    critic = SeparableCritic(args.d, args.d, hidden=256, layers=3, embed_dim=32)
    model = mist_estimator(name, critic) if lib == "torch-mist" else critic
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    data = torch.Generator().manual_seed(seed)
    trainer, ro, clip = ESTIMATORS[name]
    n_steps = args.steps_per_level * len(args.levels)
    curve = np.full(n_steps, np.nan)
    ema = None
    error = ""
    t0 = time.perf_counter()
    step = 0
    try:
        for mi in args.levels:
            rho = rho_for_mi(mi, args.d)
            for _ in range(args.steps_per_level):
                x, y = sample(data, args.batch_size, args.d, rho)
                if lib == "torch-mist":
                    loss = model.loss(x, y)
                    with torch.no_grad():
                        value = float(model.mutual_information(x, y))
                else:
                    s = critic(x, y)
                    loss, ema = training_objective(trainer, s, ema=ema, ema_rate=0.01)
                    with torch.no_grad():
                        value = float(readout(ro, s.detach(), clip))
                curve[step] = value
                step += 1
                if not math.isfinite(float(loss.detach())):
                    error = f"non-finite loss at step {step - 1}"
                    raise FloatingPointError(error)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    except Exception as exc:  # report, never hide: the row is marked with the error
        error = error or f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - t0
    levels = []
    for i, mi in enumerate(args.levels):
        seg = curve[(i + 1) * args.steps_per_level - args.last : (i + 1) * args.steps_per_level]
        levels.append(
            {
                "mi": mi,
                "mean": float(np.mean(seg)),
                "bias": float(np.mean(seg) - mi),
                "var": float(np.var(seg)),
                "nonfinite": int((~np.isfinite(seg)).sum()),
            }
        )
    return {"levels": levels, "wall_s": wall, "error": error}


def report(
    res: dict, args: argparse.Namespace, mist_version: str, torch_version: str = torch.__version__
) -> None:
    """Print the side-by-side table (mean / signed bias / variance per level, wall time)."""
    print(
        f"\nB1 staircase, separable critic, {args.seeds} seed(s), {args.steps_per_level} "
        f"steps/level; mean / signed bias / variance of the last {args.last} steps per level"
    )
    print(f"torch {torch_version}, torch-mist {mist_version}, {args.threads} threads")
    head = "".join(f"{'MI=' + format(m, 'g'):>22s}" for m in args.levels)
    print(f"{'estimator':10s}{'library':15s}{head}{'time':>8s}")
    for name in [k for k in COMPARED if k in res]:
        for lib in ("robustrep_lite", "torch-mist"):
            runs = res[name][lib]
            cells = ""
            for i in range(len(args.levels)):
                mean = np.mean([r["levels"][i]["mean"] for r in runs])
                bias = np.mean([r["levels"][i]["bias"] for r in runs])
                var = np.mean([r["levels"][i]["var"] for r in runs])
                cells += f"{mean:7.2f} {bias:+6.2f} {var:7.3g}"
            wall = np.mean([r["wall_s"] for r in runs])
            err = "  " + runs[0]["error"] if runs[0]["error"] else ""
            print(f"{name:10s}{lib:15s}{cells}{wall:7.0f}s{err}")
        ref = REF_SEPARABLE.get(name)
        if ref:
            print(f"{'':10s}{'reference':15s}" + "".join(f"{v:7.2f}{'':15s}" for v in ref[0]))


def torch_mist_version() -> str:
    """torch-mist's version; exits with what to do if it cannot be imported here."""
    try:
        import torch_mist  # noqa: F401

        return __import__("importlib.metadata").metadata.version("torch-mist")
    except Exception as exc:
        print(
            f"torch-mist cannot be imported here ({type(exc).__name__}: {exc}); run this script "
            "with bench/.venv-peers/bin/python (see the module docstring)"
        )
        raise SystemExit(2) from exc


def merge(args: argparse.Namespace) -> dict:
    """Join the runs in ``args.merge`` (split over estimators) into ``args.out``. The runs must
    share their settings, library versions and commit (:func:`merged_provenance`); the
    versions recorded are the runs' own, not those of the process that merges."""
    records = [json.loads(f.read_text()) for f in args.merge]
    versions = {(r.get("torch"), r.get("torch_mist")) for r in records}
    if len(versions) > 1:
        raise SystemExit(
            f"cannot merge: the runs differ in library versions (torch, torch-mist: {versions})"
        )
    for key in ("seeds", "steps_per_level", "levels", "last", "d", "batch_size", "lr"):
        if len({json.dumps(r["config"].get(key)) for r in records}) > 1:
            raise SystemExit(f"cannot merge: the runs differ in {key}")
    try:
        provenance = merged_provenance(list(zip(args.merge, records, strict=True)))
    except ValueError as error:
        raise SystemExit(f"cannot merge: {error}") from None
    res: dict = {}
    for r in records:
        res.update(r["results"])
    config = {
        **records[0]["config"],
        "estimators": [k for k in COMPARED if k in res],
        "out": portable_path(args.out),  # the merge's, not the first part's
        "merge": [portable_path(f) for f in args.merge],
    }
    report(res, argparse.Namespace(**config), records[0]["torch_mist"], records[0]["torch"])
    record = {
        "benchmark": "B1 staircase: robustrep_lite vs torch-mist",
        "merged_from": [portable_path(f) for f in args.merge],
        "config": config,
        "torch": records[0]["torch"],
        "torch_mist": records[0]["torch_mist"],
        "results": res,
        "wall_s": sum(r.get("wall_s") or 0.0 for r in records),
        "provenance": provenance,
    }
    save_result(record, args.out)
    return record


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--estimators", nargs="+", choices=COMPARED, default=list(COMPARED))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--steps-per-level", type=int, default=4000)
    p.add_argument("--levels", type=float, nargs="+", default=list(LEVELS))
    p.add_argument("--last", type=int, default=500)
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results" / "mi_torch_mist_compare.json")
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="combine saved (possibly partial) JSON results, print the table, save",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (another run's result)"
    )
    args = p.parse_args(argv)
    refuse_overwrite(args.out, args.overwrite)
    args.last = min(args.last, args.steps_per_level)
    if args.merge:
        return merge(args)

    torch.set_num_threads(args.threads)
    mist_version = torch_mist_version()
    partial = PartialRun.from_arguments(args.out, args)
    if partial.resumed:
        print(f"resuming: {partial.resumed} run(s) done in {partial.path}", flush=True)
    res: dict[str, dict[str, list]] = {}
    for name in args.estimators:
        res[name] = {"robustrep_lite": [], "torch-mist": []}
        for seed in range(args.seeds):
            for lib in ("robustrep_lite", "torch-mist"):
                if not partial.done((name, seed, lib)):
                    r = partial.add((name, seed, lib), run(lib, name, seed, args))
                    print(
                        f"{name:8s} {lib:15s} seed {seed}: {r['wall_s']:.1f} s  "
                        + " ".join(f"{L['mean']:.2f}" for L in r["levels"])
                        + (f"  ERROR {r['error']}" if r["error"] else ""),
                        flush=True,
                    )
                res[name][lib].append(partial.get((name, seed, lib)))

    report(res, args, mist_version)
    record = {
        "benchmark": "B1 staircase: robustrep_lite vs torch-mist",
        "config": run_config(args),
        "torch": torch.__version__,
        "torch_mist": mist_version,
        "results": res,
        "wall_s": partial.wall_s,
    }
    partial.finish(record)
    return record


if __name__ == "__main__":
    main()
