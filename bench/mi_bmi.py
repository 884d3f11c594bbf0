"""B4: the 40 tasks of Czyz et al., "Beyond Normal" (NeurIPS 2023; the ``benchmark-mi``
package) at N = 5,000 samples per task, every estimator (``--estimators``: ``ours``,
``ours-<objective>``, ``bmi-*``, ``mist-*``) on the same samples in one run. A task is *met* when
the mean over seeds is within max(10%, 0.05 nats) of the truth. What each estimator is, and the
findings of the stored runs: bench/README.md, section mi_bmi.py.

benchmark-mi 0.1.3 needs its own environment (jax 0.4.30, numpy < 2): ``bench/.venv-peers``,
made once by ``bash bench/setup_peers.sh``, which also installs this package there. Then:

  bench/.venv-peers/bin/python bench/mi_bmi.py --seeds 0 1 2 --jobs 2 \
      --estimators ours bmi-ksg bmi-cca bmi-mine bmi-infonce mist-smile \
      --out /tmp/peers.json                                                # the peers, ~51 min
  OMP_NUM_THREADS=1 bench/.venv-peers/bin/python bench/mi_bmi.py --seeds 0 1 2 --jobs 1 \
      --estimators ours --out /tmp/ours.json                               # ours alone, ~23 min
  bench/.venv-peers/bin/python bench/mi_bmi.py --merge /tmp/ours.json /tmp/peers.json \
      --out bench/results/mi_bmi.json --overwrite                          # the stored record
  bench/.venv-peers/bin/python bench/mi_bmi.py --tasks 1v1-normal-0.75 --seeds 0 \
      --estimators ours bmi-ksg --out /tmp/smoke.json                      # a smoke run, seconds
  bench/.venv-peers/bin/python bench/mi_bmi.py --merge a.json b.json --out c.json

The stored ``mi_bmi.json`` is the merge of the first two runs (its ``merged_from``; details in
bench/README.md). Without ``--estimators`` a run takes every estimator, also the ``ours-*``
variants, ``bmi-nwj``, ``bmi-dv`` and ``mist-infonce``.

Each finished (task, seed) run is kept in ``OUT.partial.json`` (``OUT`` is ``--out`` without
``.json``): a killed run, started again with the same arguments, runs only the rest. An
existing ``--out`` (also of ``--merge``) is replaced only with ``--overwrite``.

Every run records its wall time (``wall_s``) and the CPU time of its process (``cpu_s``,
``time.process_time``: one thread per run, so this is its cost on one core however many runs
share the machine).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robustrep_lite import __version__
from robustrep_lite.book.mi_report import (
    bmi_summary,
    bmi_summary_markdown,
    task_means,
    tolerance,
)
from robustrep_lite.core.results import (
    PartialRun,
    read_json,
    refuse_overwrite,
    strict_json,
    write_atomic,
)
from robustrep_lite.core.runtime import git_commit
from robustrep_lite.experiments.settings import PROFILES
from robustrep_lite.experiments.zoo import rv_critic
from robustrep_lite.mi import CriticConfig, estimate_mi, split_indices

# jax runs on the CPU, one thread per process; bmi (and with it jax) is imported only inside
# the functions below, so these take effect.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# glibc hands freed 2 MB blocks back to the kernel and faults them in again on the next step
# (some 10^6 page faults in a long run, about 10% of its CPU time); the dynamic loader reads
# this when a process starts, so it reaches the spawned workers, not this process.
MALLOC_TUNABLES = "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432"

ROOT = Path(__file__).resolve().parents[1]
OURS = {
    "ours": {},
    "ours-dv": {"train_estimator": "dv"},
    "ours-mine": {"train_estimator": "mine"},
    "ours-nwj": {"train_estimator": "nwj"},
    "ours-infonce": {"train_estimator": "infonce"},
    "ours-jsd": {"train_estimator": "jsd"},
    # the critic behind every logit-layer RV of Chapter 5's zoo in the cpu profile
    "ours-zoo": {"config": rv_critic(PROFILES["cpu"].zoo)},
}
BMI = ("bmi-ksg", "bmi-cca", "bmi-mine", "bmi-infonce", "bmi-nwj", "bmi-dv")
MIST = ("mist-smile", "mist-infonce")
ESTIMATORS = (*OURS, *BMI, *MIST)


def _bmi_estimator(name: str, seed: int):
    import bmi

    est = bmi.estimators
    if name == "bmi-ksg":
        return est.KSGEnsembleFirstEstimator(neighborhoods=(10,), n_jobs=1)
    if name == "bmi-cca":
        return est.CCAMutualInformationEstimator()
    cls = {
        "bmi-mine": est.MINEEstimator,
        "bmi-infonce": est.InfoNCEEstimator,
        "bmi-nwj": est.NWJEstimator,
        "bmi-dv": est.DonskerVaradhanEstimator,
    }[name]
    return cls(verbose=False, seed=seed)


def run_one(task_id: str, seed: int, names: list[str], n: int) -> dict[str, Any]:
    """Every estimator in ``names`` on the n samples of (task, seed); one thread. Each value
    carries its wall and CPU seconds."""
    import bmi

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    task = bmi.benchmark.BENCHMARK_TASKS[task_id]
    x, y = (np.asarray(a, dtype=np.float32) for a in task.sample(n, seed=seed))
    # our split, so that torch-mist reads out on exactly our held-out pairs
    train, val, hold = split_indices(n, CriticConfig(), torch.Generator().manual_seed(seed))
    fit_rows = torch.cat([train, val]).numpy()
    out: dict[str, Any] = {"task": task_id, "seed": seed, "values": {}}
    for name in names:
        t0, c0 = time.perf_counter(), time.process_time()
        stderr = math.nan
        extra: dict[str, Any] = {}
        if name in OURS:
            r = estimate_mi(x, y, seed=seed, progress=False, **OURS[name])
            value, stderr = r.estimate, r.stderr
            extra = {
                "best_step": r.best_step,
                "critic": r.config.critic if r.config else None,
                "reason": r.reason,
                "train_last": float(np.mean(r.train_curve[-50:])) if r.train_curve.size else None,
            }
        elif name in BMI:
            value = float(_bmi_estimator(name, seed).estimate(x, y))
        else:
            from torch_mist import estimate_mi as mist_estimate

            torch.manual_seed(seed)
            value = float(
                mist_estimate(
                    data=(x[fit_rows], y[fit_rows]),
                    test_data=(x[hold.numpy()], y[hold.numpy()]),
                    estimator=name.removeprefix("mist-"),
                    hidden_dims=[64, 64],
                    verbose=False,
                    logger=False,
                )
            )
        out["values"][name] = {
            "value": value,
            "stderr": stderr,
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0,
            **extra,
        }
    return out


def merge(paths: list[Path], out: Path, *, overwrite: bool = False) -> dict[str, Any]:
    """One record from runs of the same benchmark (same N and seeds), split either over tasks
    (every file runs the same estimators at the same commit; each task's runs come from the
    file that ran it) or over estimators (every file runs the same tasks; each estimator's runs
    come from the first file that holds it, so ``--merge new.json stored.json`` replaces the
    estimators of new.json in the stored record and keeps the rest). The summary is recomputed
    and the provenance keeps every run's own: ``merged_from`` lists each file with what was
    taken from it and, split over estimators, ``estimator_provenance`` names the run behind
    each estimator (``provenance`` is then the first file's). A file that is itself a merge
    keeps its estimators' own provenance and contributes its ``merged_from`` entries; the
    merged ``wall_s`` adds up the runs that contributed. An existing ``out`` is replaced only
    with ``overwrite``; it is written atomically."""
    refuse_overwrite(out, overwrite)
    records = [read_json(p) for p in paths]
    first = records[0]
    for key in ("n", "seeds"):
        if any(r[key] != first[key] for r in records):
            raise SystemExit(f"cannot merge: the runs differ in {key}")
    if all(r["estimators"] == first["estimators"] for r in records):
        merged = _merge_tasks(paths, records)
    else:
        merged = _merge_estimators(paths, records)
    merged["wall_s"] = sum(part.get("wall_s") or 0.0 for part in merged["merged_from"])
    merged["summary"] = {row["estimator"]: row for row in bmi_summary(merged)}
    write_atomic(out, json.dumps(strict_json(merged), indent=1, allow_nan=False))
    _print_summary(merged)
    print(f"saved {out}")
    return merged


def _merge_tasks(paths: list[Path], records: list[dict[str, Any]]) -> dict[str, Any]:
    commits = {r["provenance"]["git_commit"] for r in records}
    if len(commits) != 1:
        raise SystemExit(f"cannot merge runs of different commits {sorted(commits)}")
    first = records[0]
    merged = {**first, "tasks": {}, "provenance": first["provenance"]}
    merged["merged_from"] = [
        {
            "file": p.name,
            "provenance": r["provenance"],
            "wall_s": r.get("wall_s"),
            "tasks": [tid for tid, task in r["tasks"].items() if task["runs"]],
        }
        for p, r in zip(paths, records, strict=True)
    ]
    for tid, task in first["tasks"].items():
        ran = [r["tasks"][tid] for r in records if r["tasks"].get(tid, {}).get("runs")]
        if len(ran) > 1:
            raise SystemExit(f"cannot merge: task {tid} ran in more than one file")
        merged["tasks"][tid] = ran[0] if ran else task
    return merged


def _merge_estimators(paths: list[Path], records: list[dict[str, Any]]) -> dict[str, Any]:
    first = records[0]
    for p, r in zip(paths, records, strict=True):
        if set(r["tasks"]) != set(first["tasks"]):
            raise SystemExit(f"cannot merge: {p.name} holds other tasks than {paths[0].name}")
        for tid, task in r["tasks"].items():
            if sorted(run["seed"] for run in task["runs"]) != sorted(r["seeds"]):
                raise SystemExit(f"cannot merge: {p.name} lacks seeds of task {tid}")
    source: dict[str, int] = {}  # estimator -> index of the file it is taken from
    for i, r in enumerate(records):
        for name in r["estimators"]:
            source.setdefault(name, i)
    names = list(source)
    merged = {
        **first,
        "estimators": names,
        "tasks": {},
        "estimator_provenance": {
            name: records[source[name]]
            .get("estimator_provenance", {})
            .get(name, records[source[name]]["provenance"])
            for name in names
        },
    }
    # a file that is itself a merge contributes the runs it was joined from, each with the
    # estimators taken from it; a run none of whose estimators is kept is left out
    merged["merged_from"] = []
    for i, (p, r) in enumerate(zip(paths, records, strict=True)):
        whole = {"file": p.name, "provenance": r["provenance"], "wall_s": r.get("wall_s")}
        for part in r.get("merged_from") or [{**whole, "estimators": r["estimators"]}]:
            ran = part.get("estimators", r["estimators"])
            kept = [name for name in ran if source[name] == i]
            if kept:
                dropped = [name for name in ran if source[name] != i]
                merged["merged_from"].append({**part, "estimators": kept, "dropped": dropped})
    for tid, task in first["tasks"].items():
        runs = []
        for seed in first["seeds"]:
            values = {}
            for name in names:
                r = records[source[name]]
                run = next(run for run in r["tasks"][tid]["runs"] if run["seed"] == seed)
                values[name] = run["values"][name]
            runs.append({"seed": seed, "values": values})
        merged["tasks"][tid] = {**task, "runs": runs}
    return merged


def main(argv: list[str] | None = None) -> dict[str, Any]:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--merge":
        p = argparse.ArgumentParser(description="merge runs split over tasks or estimators")
        p.add_argument("--merge", nargs="+", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
        args = p.parse_args()
        return merge(args.merge, args.out, overwrite=args.overwrite)
    import bmi

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(bmi.benchmark.BENCHMARK_TASKS))
    p.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--jobs", type=int, default=1, help="processes, one thread each")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mi_bmi.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = p.parse_args(argv)
    unknown = sorted(set(args.tasks) - set(bmi.benchmark.BENCHMARK_TASKS))
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; see bmi.benchmark.BENCHMARK_TASKS")
    return run(args, bmi.benchmark.BENCHMARK_TASKS)


def _spawn_pool(jobs: int) -> Executor:
    # spawn, not fork: a forked child of a process that has started torch's or JAX's thread
    # pools can deadlock; a fresh process also reads GLIBC_TUNABLES
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def run(
    args: argparse.Namespace,
    tasks: dict[str, Any],
    pool: Callable[[int], Executor] = _spawn_pool,
) -> dict[str, Any]:
    """Run every (task, seed) of ``args`` not yet finished in ``--out``'s partial-run file
    (:class:`robustrep_lite.core.results.PartialRun`), ``--jobs`` at a time in ``pool(jobs)``
    (spawned processes, one thread each), keeping each as it finishes; then write the record
    with its summary to ``--out``. ``tasks`` maps task ids to benchmark-mi tasks
    (``bmi.benchmark.BENCHMARK_TASKS``)."""
    os.environ.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)
    partial = PartialRun.from_arguments(args.out, args, glibc_tunables=os.environ["GLIBC_TUNABLES"])
    if partial.resumed:
        print(f"resuming: {partial.resumed} task-seed run(s) done in {partial.path}")
    record: dict[str, Any] = {
        "benchmark": "benchmark-mi (Czyz et al. 2023), N samples per task",
        "n": args.n,
        "seeds": args.seeds,
        "estimators": args.estimators,
        "tolerance": "max(10% of truth, 0.05 nats) on the mean over seeds",
        "tasks": {},
        "provenance": {
            "robustrep_lite": __version__,
            "git_commit": git_commit() or "unknown",
            "time_utc": partial.started_utc,
            "device": f"cpu ({platform.processor() or platform.machine()}), 1 thread per run",
            "jobs": args.jobs,
            "glibc_tunables": os.environ["GLIBC_TUNABLES"],
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "benchmark-mi": _version("benchmark-mi"),
            "jax": _version("jax"),
            "torch-mist": _version("torch-mist"),
        },
    }
    for tid in args.tasks:
        task = tasks[tid]
        record["tasks"][tid] = {
            "truth": float(task.mutual_information),
            "dim_x": int(task.dim_x),
            "dim_y": int(task.dim_y),
            "runs": [],
        }
    jobs = [(tid, s) for tid in args.tasks for s in args.seeds]
    pending = [job for job in jobs if not partial.done(job)]
    if pending:
        with pool(args.jobs) as workers:
            futures = [
                workers.submit(run_one, tid, s, args.estimators, args.n) for tid, s in pending
            ]
            for fut in as_completed(futures):
                r = fut.result()
                partial.add((r["task"], r["seed"]), {"seed": r["seed"], "values": r["values"]})
                truth = record["tasks"][r["task"]]["truth"]
                cells = "  ".join(
                    f"{k}={v['value']:.3f} ({v['cpu_s']:.1f} s CPU)" for k, v in r["values"].items()
                )
                print(f"{r['task']:48s} s{r['seed']} truth={truth:.3f}  {cells}", flush=True)
    # the runs in the order of the tasks and seeds asked for, however they finished
    for tid, seed in jobs:
        record["tasks"][tid]["runs"].append(partial.get((tid, seed)))
    record["wall_s"] = partial.wall_s
    rows = bmi_summary(strict_json(record))
    record["summary"] = {row["estimator"]: row for row in rows}
    partial.finish(record)
    _print_summary(record)
    return record


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _print_summary(record: dict[str, Any]) -> None:
    clean = strict_json(record)
    print("\nper task: mean +- sd over seeds (truth); * = within max(10%, 0.05 nats)")
    means = {name: task_means(clean, name) for name in record["estimators"]}
    for tid, task in record["tasks"].items():
        cells = []
        for name in record["estimators"]:
            m, sd = means[name][tid]
            ok = math.isfinite(m) and abs(m - task["truth"]) <= tolerance(task["truth"])
            cells.append(f"{name}={m:.3f}+-{sd:.3f}{'*' if ok else ''}")
        print(f"{tid:48s} ({task['truth']:.3f})  " + "  ".join(cells))
    print()
    print(bmi_summary_markdown(clean))


if __name__ == "__main__":
    main()
