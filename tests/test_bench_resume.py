"""Long benchmark runs resume after a kill and never replace another run's result
(``robustrep_lite.core.results.PartialRun``, used by bench/mi_sweep.py, bench/mi_bmi.py,
bench/gaussian_rv_validation.py, bench/zoo_search.py, bench/spectral_mnist.py,
bench/mi_staircase.py, bench/torch_mist_compare.py, bench/worst_case_mi.py,
bench/mi_representation.py and bench/spectral_vs_mi.py). The heavy per-row computations are
replaced by cheap stand-ins that count their calls, or run at toy sizes; a "kill" is an
exception raised after some rows. bench/train_step.py, a short run that keeps one run per
device in its record, replaces a device's run only when asked too."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from robustrep_lite.book import spectral_report
from robustrep_lite.core import results
from robustrep_lite.core.results import PartialRun, partial_path, strict_json
from robustrep_lite.experiments import spectral_regularization

ROOT = Path(__file__).resolve().parents[1]


class Killed(Exception):
    """Stands for the run being killed part-way."""


class Recorder:
    """Stands in for a script's unit of work: :meth:`record` keeps each call's key in ``calls``
    and, once ``kill_after`` calls are kept, raises :class:`Killed` instead (``None``: never)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.kill_after: int | None = None

    def record(self, key: Any) -> None:
        if self.kill_after is not None and len(self.calls) == self.kill_after:
            raise Killed
        self.calls.append(key)


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _without(value: Any, keys: set[str]) -> Any:
    """``value`` without the dict entries named in ``keys`` (timings differ from run to run)."""
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def _same_record(out: Path, whole: Path, timings: set[str]) -> dict:
    """The record stored at ``out``, asserted equal to the uninterrupted run's at ``whole``
    but for the entries named in ``timings``."""
    stored = json.loads(out.read_text())
    assert _without(stored, timings) == _without(json.loads(whole.read_text()), timings)
    return stored


# --- the mechanism itself --------------------------------------------------------------------


def test_partial_run_keeps_rows_and_resumes_only_with_the_same_settings(tmp_path) -> None:
    out = tmp_path / "run.json"
    settings = {"steps": 10, "rhos": (0.0, 0.5)}
    first = PartialRun(out, settings)
    assert first.path == tmp_path / "run.partial.json" == partial_path(out)
    row = first.add(("a", 0), {"value": math.nan, "pair": (1, 2)})
    assert math.isnan(row["value"]) and row["pair"] == [1, 2]  # as it reads back
    first.add(("a", 1), {"value": 2.0})
    # killed here: a new process finds both rows, NaN included
    again = PartialRun(out, settings)
    assert again.resumed == 2 and again.done(("a", 0)) and not again.done(("b", 0))
    assert math.isnan(again.get(("a", 0))["value"]) and again.get(("a", 1)) == {"value": 2.0}
    assert again.started_utc == first.started_utc
    # other settings or another commit: refused, naming the file and what differs
    with pytest.raises(ValueError, match=r"run\.partial\.json.*other settings.*steps"):
        PartialRun(out, {**settings, "steps": 20})
    with pytest.raises(ValueError, match=r"run\.partial\.json.*other settings.*extra"):
        PartialRun(out, {**settings, "extra": 1})
    stored = json.loads(partial_path(out).read_text())
    partial_path(out).write_text(json.dumps({**stored, "git_commit": "0000000"}))
    with pytest.raises(ValueError, match=r"run\.partial\.json.*commit 0000000"):
        PartialRun(out, settings)
    partial_path(out).write_text(json.dumps(stored))
    # finishing writes the record and removes the partial file; the record is strict JSON
    target = again.finish({"rows": [again.get(("a", 0)), again.get(("a", 1))]})
    assert target == out and not partial_path(out).exists()
    stored = json.loads(out.read_text())
    assert stored.pop("provenance")["git_commit"]  # save_result names the code that ran
    assert stored == {"rows": [{"value": None, "pair": [1, 2]}, {"value": 2.0}]}
    assert not list(tmp_path.glob("*.tmp"))


def test_an_existing_result_is_replaced_only_when_asked(tmp_path) -> None:
    out = tmp_path / "run.json"
    out.write_text("{}")
    with pytest.raises(FileExistsError, match=r"run\.json already exists.*--overwrite"):
        PartialRun(out, {})
    assert not partial_path(out).exists()
    PartialRun(out, {}, overwrite=True).finish({"x": 1})
    assert json.loads(out.read_text())["x"] == 1
    # a result written by another run while this one ran is not replaced either
    run = PartialRun(tmp_path / "late.json", {})
    run.add(("k",), 1)
    (tmp_path / "late.json").write_text('{"other": true}')
    with pytest.raises(FileExistsError, match="late.json"):
        run.finish({"mine": True})
    assert json.loads((tmp_path / "late.json").read_text()) == {"other": True}
    assert partial_path(tmp_path / "late.json").exists()  # the finished rows are kept


def test_a_script_run_takes_its_settings_from_the_command_line_and_what_it_resolved(
    tmp_path,
) -> None:
    out = tmp_path / "run.json"
    args = argparse.Namespace(profile=None, seed=3, out=out, overwrite=False)
    run = PartialRun.from_arguments(out, args, profile="cpu", device="cpu")
    # out and overwrite change nothing computed; the profile resolved replaces the None given
    assert run.settings == {"profile": "cpu", "seed": 3, "device": "cpu"}
    assert run.out == out and not run.overwrite
    run.add((0,), 1.0)
    with pytest.raises(ValueError, match=r"run\.partial\.json.*other settings.*profile"):
        PartialRun.from_arguments(out, args, profile="gpu", device="cpu")
    out.write_text("{}")
    with pytest.raises(FileExistsError, match="--overwrite"):
        PartialRun.from_arguments(out, args, profile="cpu", device="cpu")
    replacing = argparse.Namespace(**{**vars(args), "overwrite": True})
    assert PartialRun.from_arguments(out, replacing, profile="cpu", device="cpu").resumed == 1


def test_a_corrupt_partial_file_is_named(tmp_path) -> None:
    out = tmp_path / "run.json"
    partial_path(out).write_text('{"settings": {}, "rows": {"[1]"')
    with pytest.raises(ValueError, match=r"run\.partial\.json.*delete it or regenerate"):
        PartialRun(out, {})
    partial_path(out).write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"run\.partial\.json is not a partial-run file"):
        PartialRun(out, {})


# --- the scripts ------------------------------------------------------------------------------


def test_mi_sweep_resumes_after_a_kill_and_equals_an_uninterrupted_run(
    tmp_path, monkeypatch
) -> None:
    """The real rows at toy sizes; the run is killed after 2 of 4 rows."""
    mi_sweep = _bench("mi_sweep")
    real_row = mi_sweep.sweep_row
    unit = Recorder()

    def counted(d: int, rho: float, args: argparse.Namespace) -> dict:
        unit.record((d, rho))
        return real_row(d, rho, args)

    monkeypatch.setattr(mi_sweep, "sweep_row", counted)
    argv = ["--dims", "2", "--rhos", "0", "0.5", "0.9", "-0.5", "--steps", "3", "--n", "512"]
    argv += ["--pooled-n", "256", "--batch-size", "32", "--hidden", "8", "--threads", "1"]
    argv += ["--estimators", "mine", "nwj"]
    whole = mi_sweep.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert len(unit.calls) == 4
    unit.calls.clear()
    out = tmp_path / "resumed.json"
    unit.kill_after = 2
    with pytest.raises(Killed):
        mi_sweep.main([*argv, "--out", str(out)])
    assert unit.calls == [(2, 0.0), (2, 0.5)] and not out.exists() and partial_path(out).exists()
    # other settings are refused while the partial run is there; nothing is computed
    with pytest.raises(ValueError, match=r"resumed\.partial\.json.*steps"):
        mi_sweep.main([*argv, "--steps", "4", "--out", str(out)])
    unit.kill_after = None
    unit.calls.clear()
    resumed = mi_sweep.main([*argv, "--out", str(out)])
    assert unit.calls == [(2, 0.9), (2, -0.5)]  # only the rows left
    assert not partial_path(out).exists()
    timings = {"wall_s", "provenance", "out"}
    _same_record(out, tmp_path / "whole.json", timings)
    assert _without(resumed["rows"], timings) == _without(
        json.loads(json.dumps(whole["rows"])), timings
    )
    # the finished result is not replaced by a rerun without --overwrite
    unit.calls.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        mi_sweep.main([*argv, "--out", str(out)])
    assert unit.calls == []


def test_zoo_search_resumes_per_model_search_and_seed(tmp_path, monkeypatch) -> None:
    """The zoo's models, data and measurement replaced by stand-ins; killed after 3 rows."""
    zoo_search = _bench("zoo_search")
    unit = Recorder()

    def fake_vulnerability(net: Any, x: Any, *, eps: float, search: str, seed: int, **_: Any):
        unit.record((*net, search, seed))
        value = 0.1 * len(unit.calls)
        return {
            "eps": eps,
            "normal_mi": 1.0,
            **{f"worst_mi_{r}": value for r in ("paper", "refit")},
            **{f"bound_{r}": 0.5 for r in ("paper", "refit")},
            "diverged": math.nan,
        }

    monkeypatch.setattr(
        zoo_search,
        "load_dataset",
        lambda name, **_: SimpleNamespace(x_test=None, description=f"fake {name}"),
    )
    monkeypatch.setattr(
        zoo_search,
        "train_zoo",
        lambda settings, *a, **k: {m: (m.dataset, m.label) for m in settings.models},
    )
    monkeypatch.setattr(zoo_search, "logit_vulnerability", fake_vulnerability)
    monkeypatch.setattr(zoo_search, "checkpoint_root", lambda: tmp_path / "checkpoints")
    argv = ["--profile", "quick", "--searches", "pointwise", "universal"]
    argv += ["--estimator-seeds", "0", "1"]
    out = tmp_path / "zoo.json"
    unit.kill_after = 3
    with pytest.raises(Killed):
        zoo_search.main([*argv, "--out", str(out)])
    done = list(unit.calls)
    unit.kill_after = None
    record = zoo_search.main([*argv, "--out", str(out)])
    rows = record["rows"]
    assert len(rows) == len(done) + len(unit.calls[3:]) and len(done) == 3
    assert unit.calls[:3] == done and len(set(unit.calls)) == len(
        unit.calls
    )  # no row computed twice
    keys = [(r["dataset"], r["model"], r["search"], r["estimator_seed"]) for r in rows]
    assert keys == unit.calls  # in the order of an uninterrupted run
    assert [r["worst_mi_paper"] for r in rows] == pytest.approx(
        [0.1 * i for i in range(1, len(rows) + 1)]
    )
    assert all(r["diverged"] is None for r in json.loads(out.read_text())["rows"])
    assert not partial_path(out).exists()
    with pytest.raises(FileExistsError, match="--overwrite"):
        zoo_search.main([*argv, "--out", str(out)])
    zoo_search.main([*argv, "--out", str(out), "--overwrite"])


def test_mi_bmi_resumes_per_task_and_seed(tmp_path, monkeypatch) -> None:
    """benchmark-mi's tasks and the estimators replaced by stand-ins (run in threads, not in
    spawned processes, so that the stand-in reaches them); killed after 3 of 6 runs were
    stored (the runs finish in any order, so which 3 is not fixed)."""
    mi_bmi = _bench("mi_bmi")
    monkeypatch.setenv("GLIBC_TUNABLES", mi_bmi.MALLOC_TUNABLES)
    calls: list[tuple[str, int]] = []

    def fake_run_one(task_id: str, seed: int, names: list[str], n: int) -> dict[str, Any]:
        calls.append((task_id, seed))
        value = {"a": 1.0, "b": 2.0}[task_id] + 0.01 * seed
        stats = {"stderr": math.nan, "wall_s": 1.0, "cpu_s": 1.0}
        return {
            "task": task_id,
            "seed": seed,
            "values": {name: {"value": value, **stats} for name in names},
        }

    class KilledAfterThree(PartialRun):
        def add(self, key: Any, row: Any) -> Any:
            stored = super().add(key, row)
            if len(self.rows) == 3:
                raise Killed
            return stored

    monkeypatch.setattr(mi_bmi, "run_one", fake_run_one)
    tasks = {
        tid: SimpleNamespace(mutual_information=truth, dim_x=1, dim_y=1)
        for tid, truth in (("a", 1.0), ("b", 2.0))
    }
    jobs = {(tid, seed) for tid in tasks for seed in (0, 1, 2)}

    def args(out: Path) -> argparse.Namespace:
        return argparse.Namespace(
            tasks=["a", "b"],
            estimators=["ours"],
            seeds=[0, 1, 2],
            n=100,
            jobs=2,
            out=out,
            overwrite=False,
        )

    def threads(workers: int) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=workers)

    whole = mi_bmi.run(args(tmp_path / "whole.json"), tasks, threads)
    out = tmp_path / "bmi.json"
    monkeypatch.setattr(mi_bmi, "PartialRun", KilledAfterThree)
    with pytest.raises(Killed):
        mi_bmi.run(args(out), tasks, threads)
    monkeypatch.setattr(mi_bmi, "PartialRun", PartialRun)
    stored = {tuple(json.loads(key)) for key in json.loads(partial_path(out).read_text())["rows"]}
    assert len(stored) == 3 and stored <= jobs and not out.exists()
    calls.clear()
    resumed = mi_bmi.run(args(out), tasks, threads)
    assert sorted(calls) == sorted(jobs - stored)  # only the runs left
    assert strict_json(resumed["tasks"]) == strict_json(whole["tasks"])
    assert [r["seed"] for r in resumed["tasks"]["b"]["runs"]] == [0, 1, 2]
    assert resumed["summary"]["ours"]["met"] == 2
    assert not partial_path(out).exists()
    assert (
        json.loads(out.read_text())["tasks"]
        == json.loads((tmp_path / "whole.json").read_text())["tasks"]
    )
    with pytest.raises(FileExistsError, match="--overwrite"):
        mi_bmi.run(args(out), tasks, threads)
    # --merge refuses to replace an existing file too, and names a truncated input
    with pytest.raises(FileExistsError, match="--overwrite"):
        mi_bmi.merge([out, tmp_path / "whole.json"], out)
    broken = tmp_path / "broken.json"
    broken.write_text(out.read_text()[:100])
    with pytest.raises(ValueError, match=r"broken\.json.*delete it or regenerate"):
        mi_bmi.merge([broken, out], tmp_path / "merged.json")


def test_gaussian_rv_validation_resumes_per_seed_norm_and_eps(tmp_path, monkeypatch) -> None:
    """The estimator replaced by a stand-in that counts its unit.calls; killed after 3 of 4 rows."""
    gauss = _bench("gaussian_rv_validation")
    unit = Recorder()

    def estimate(value: float) -> SimpleNamespace:
        return SimpleNamespace(estimate=value, stderr=0.01, diverged=False)

    def fake_worst(g: Any, x: Any, attack: Any, critic: Any, *, seed: int, **_: Any):
        unit.record((attack.eps, attack.norm))
        heldout = x[: 2 * critic.batch_size]
        return SimpleNamespace(
            attacked=estimate(0.5),
            refit=estimate(0.6),
            x_adv=x,
            heldout_adv=heldout,
            diverged=False,
        )

    monkeypatch.setattr(gauss, "worst_case_mi", fake_worst)
    monkeypatch.setattr(gauss, "normal_mi", lambda *a, **k: estimate(0.69))
    argv = ["--eps", "0.1", "0.5", "--norms", "2", "inf", "--n", "1000", "--batch-size", "100"]
    out = tmp_path / "gauss.json"
    unit.kill_after = 3
    with pytest.raises(Killed):
        gauss.main([*argv, "--out", str(out)])
    assert unit.calls == [(0.1, "2"), (0.5, "2"), (0.1, "inf")]
    unit.kill_after = None
    unit.calls.clear()
    record = gauss.main([*argv, "--out", str(out)])
    assert unit.calls == [(0.5, "inf")]
    assert [(r["norm"], r["eps"]) for r in record["rows"]] == [
        ("2", 0.1),
        ("2", 0.5),
        ("inf", 0.1),
        ("inf", 0.5),
    ]
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(record["rows"]))


def test_spectral_mnist_resumes_per_seed_and_equals_an_uninterrupted_run(
    tmp_path, monkeypatch
) -> None:
    """The real computation on the digits at toy sizes (3 seeds of 3 rows each); the run is
    killed in the middle of its second seed, so that seed is not kept and is computed again
    from its burn-in, and the first is not."""
    spectral_mnist = _bench("spectral_mnist")
    monkeypatch.setattr(
        spectral_mnist,
        "DIGITS_SETTINGS",
        dataclasses.replace(
            spectral_mnist.DIGITS_SETTINGS,
            width=16,
            epochs=3,
            burnin=2,
            lambdas=(0.1,),
            seeds=3,
            attack_points=3,
            hsj_steps=2,
            hsj_max_gradient_evals=20,
            ddn_steps=3,
        ),
    )
    real_compare = spectral_mnist.compare_regularizers
    real_distances = spectral_regularization.representation_distances
    calls: list[list[int]] = []  # the seeds of each call of compare_regularizers
    rows_done: list[int] = []  # the seed of each row computed
    kill_at: list[int] = []

    def counted_compare(*args: Any, seeds: Any, **kwargs: Any) -> list[dict]:
        calls.append(list(seeds))
        return real_compare(*args, seeds=seeds, **kwargs)

    def counted_distances(*args: Any, seed: int, **kwargs: Any) -> dict:
        if kill_at and len(rows_done) == kill_at[0]:
            raise Killed
        rows_done.append(seed)
        return real_distances(*args, seed=seed, **kwargs)

    monkeypatch.setattr(spectral_mnist, "compare_regularizers", counted_compare)
    monkeypatch.setattr(spectral_regularization, "representation_distances", counted_distances)
    argv = ["--dataset", "digits", "--threads", "1"]
    whole = spectral_mnist.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert calls == [[0], [1], [2]] and rows_done == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert not partial_path(tmp_path / "whole.json").exists()
    out = tmp_path / "digits.json"
    calls.clear()
    rows_done.clear()
    kill_at.append(4)  # seed 0's three rows and one of seed 1's
    with pytest.raises(Killed):
        spectral_mnist.main([*argv, "--out", str(out)])
    assert rows_done == [0, 0, 0, 1] and not out.exists()
    assert list(json.loads(partial_path(out).read_text())["rows"]) == ["[0]"]  # seed 0 only
    # other settings are refused while the partial run is there; nothing is computed
    calls.clear()
    with pytest.raises(ValueError, match=r"digits\.partial\.json.*seeds"):
        spectral_mnist.main([*argv, "--seeds", "2", "--out", str(out)])
    assert calls == []
    kill_at.clear()
    rows_done.clear()
    resumed = spectral_mnist.main([*argv, "--out", str(out)])
    assert calls == [[1], [2]] and rows_done == [1, 1, 1, 2, 2, 2]  # only the seeds left
    assert not partial_path(out).exists()
    # the same rows and summary as the uninterrupted run, timings aside, in the stored format
    timings = {"wall_s", "provenance", "burnin_s", "train_s", "attack_s"}
    timings |= {f"{k}_{s}" for k in ("burnin_s", "train_s", "attack_s") for s in ("mean", "se")}
    stored = _same_record(out, tmp_path / "whole.json", timings)
    assert set(stored) == set(whole) and stored["reference"] == spectral_mnist.DIGITS_REFERENCE
    assert [(r["seed"], r["arm"]) for r in stored["rows"]] == [
        (seed, arm) for seed in (0, 1, 2) for arm in ("none", "ll-spectral", "rep-spectral")
    ]
    assert strict_json(_without(resumed["rows"], timings)) == strict_json(
        _without(whole["rows"], timings)
    )
    assert len({r["sigma_1"] for r in stored["rows"]}) == 9  # nine different networks
    # Chapter 7's reader takes the resumed record as it took the stored one
    assert spectral_report.digits_markdown(stored)
    # the finished result is not replaced by a rerun without --overwrite
    calls.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        spectral_mnist.main([*argv, "--out", str(out)])
    assert calls == []


def test_mi_staircase_resumes_per_seed_and_critic(tmp_path, monkeypatch) -> None:
    """The real critic runs at toy sizes (2 seeds x 3 training objectives); killed after 4 of
    the 6 runs, i.e. in the second seed."""
    staircase = _bench("mi_staircase")
    real_group = staircase.run_group
    unit = Recorder()

    def counted(trainer: str, names: list[str], seed: int, config: Any) -> dict:
        unit.record((seed, trainer))
        return real_group(trainer, names, seed, config)

    monkeypatch.setattr(staircase, "run_group", counted)
    argv = ["--estimators", "dv", "smile_5", "js_nwj", "nwj", "--seeds", "2"]
    argv += ["--steps-per-level", "20", "--levels", "2", "4", "--last", "5", "--d", "2"]
    argv += ["--batch-size", "8", "--heldout-batches", "2", "--curve-stride", "3"]
    argv += ["--threads", "1"]
    every = [(seed, trainer) for seed in (0, 1) for trainer in ("dv", "jsd", "nwj")]
    whole = staircase.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert unit.calls == every
    unit.calls.clear()
    out = tmp_path / "staircase.json"
    unit.kill_after = 4
    with pytest.raises(Killed):
        staircase.main([*argv, "--out", str(out)])
    assert unit.calls == every[:4] and not out.exists()
    kept = json.loads(partial_path(out).read_text())["rows"]
    assert sorted(kept) == sorted(json.dumps(list(key)) for key in every[:4])
    with pytest.raises(ValueError, match=r"staircase\.partial\.json.*steps_per_level"):
        staircase.main([*argv, "--steps-per-level", "30", "--out", str(out)])
    unit.kill_after = None
    unit.calls.clear()
    resumed = staircase.main([*argv, "--out", str(out)])
    assert unit.calls == every[4:]  # only the critic runs left
    assert not partial_path(out).exists()
    timings = {"wall_s_per_seed", "wall_s_mean", "out"}
    stored = _same_record(out, tmp_path / "whole.json", timings)
    assert strict_json(_without(resumed["results"], timings)) == strict_json(
        _without(whole["results"], timings)
    )
    assert set(stored["curves_seed0"]["values"]) == {"dv", "smile_5", "js_nwj", "nwj"}
    assert len(stored["results"]["nwj"]["wall_s_per_seed"]) == 2
    first = stored["results"]["smile_5"]["levels"][0]["mean_per_seed"]
    assert first[0] != first[1]  # the two seeds are different runs
    unit.calls.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        staircase.main([*argv, "--out", str(out)])
    assert unit.calls == []


def test_torch_mist_compare_resumes_per_estimator_seed_and_library(tmp_path, monkeypatch) -> None:
    """torch-mist is not in the test environment: its version is stubbed and each run is a
    cheap stand-in whose values depend on (library, estimator, seed); killed after 3 of 8."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # it imports its sibling mi_staircase.py
    compare = _bench("torch_mist_compare")
    unit = Recorder()

    def stand_in(lib: str, name: str, seed: int, args: argparse.Namespace) -> dict:
        unit.record((name, seed, lib))
        value = len(lib) + 10 * seed + len(name) / 7
        levels = [{"mi": m, "mean": value + m, "bias": value, "var": 0.5} for m in args.levels]
        return {"levels": levels, "wall_s": 0.01 * len(unit.calls), "error": ""}

    monkeypatch.setattr(compare, "run", stand_in)
    monkeypatch.setattr(compare, "torch_mist_version", lambda: "0.2.17")
    argv = ["--estimators", "nwj", "dv", "--seeds", "2", "--levels", "2", "4", "--threads", "1"]
    every = [
        (n, s, lib)
        for n in ("nwj", "dv")
        for s in (0, 1)
        for lib in ("robustrep_lite", "torch-mist")
    ]
    whole = compare.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert unit.calls == every
    unit.calls.clear()
    out = tmp_path / "compare.json"
    unit.kill_after = 3
    with pytest.raises(Killed):
        compare.main([*argv, "--out", str(out)])
    assert unit.calls == every[:3] and not out.exists()
    kept = json.loads(partial_path(out).read_text())["rows"]
    assert sorted(kept) == sorted(json.dumps(list(key)) for key in every[:3])
    with pytest.raises(ValueError, match=r"compare\.partial\.json.*seeds"):
        compare.main([*argv[:-2], "--seeds", "3", "--threads", "1", "--out", str(out)])
    unit.kill_after = None
    unit.calls.clear()
    resumed = compare.main([*argv, "--out", str(out)])
    assert unit.calls == every[3:] and not partial_path(out).exists()
    assert _without(resumed["results"], {"wall_s"}) == _without(whole["results"], {"wall_s"})
    stored = json.loads(out.read_text())
    assert stored["results"] == json.loads(json.dumps(resumed["results"]))
    with pytest.raises(FileExistsError, match="--overwrite"):
        compare.main([*argv, "--out", str(out)])


def test_worst_case_mi_resumes_per_critic_width(tmp_path, monkeypatch) -> None:
    """The real attack and alternating step at toy sizes (batch 2, one PGD step), each run once
    by a stand-in for the timer that reports fixed times, so that the records compare whole;
    three widths, killed when the third one's critic is built."""
    worst = _bench("worst_case_mi")
    real_critic = worst.LocalDIMCritic
    built: list[int] = []  # the width of each critic built (two per row)
    kill_at: list[int] = []
    timed: list[int] = []

    def counted_critic(*args: Any, units: int, **kwargs: Any) -> Any:
        if kill_at and len(built) == kill_at[0]:
            raise Killed
        built.append(units)
        return real_critic(*args, units=units, **kwargs)

    def fixed_time(fn: Any, repeats: int) -> tuple[float, list[float]]:
        fn()
        timed.append(repeats)
        return 0.5, [0.5] * repeats

    monkeypatch.setattr(worst, "LocalDIMCritic", counted_critic)
    monkeypatch.setattr(worst, "median_time", fixed_time)
    argv = ["--units", "4", "8", "16", "--batch-size", "2", "--pgd-steps", "1"]
    argv += ["--repeats", "1", "--threads", "1"]
    whole = worst.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert built == [4, 4, 8, 8, 16, 16] and len(timed) == 6
    built.clear()
    out = tmp_path / "throughput.json"
    kill_at.append(4)
    with pytest.raises(Killed):
        worst.main([*argv, "--out", str(out)])
    assert built == [4, 4, 8, 8] and not out.exists()
    assert list(json.loads(partial_path(out).read_text())["rows"]) == ["[4]", "[8]"]
    # other settings are refused while the partial run is there; nothing is computed
    built.clear()
    with pytest.raises(ValueError, match=r"throughput\.partial\.json.*repeats"):
        worst.main([*argv[:-4], "--repeats", "2", "--threads", "1", "--out", str(out)])
    assert built == []
    kill_at.clear()
    resumed = worst.main([*argv, "--out", str(out)])
    assert built == [16, 16]  # only the width left
    assert not partial_path(out).exists()
    stored = json.loads(out.read_text())
    assert _without(stored, {"config"}) == _without(
        json.loads((tmp_path / "whole.json").read_text()), {"config"}
    )
    assert [r["units"] for r in stored["rows"]] == [4, 8, 16]
    assert resumed["rows"] == json.loads(json.dumps(whole["rows"]))
    built.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        worst.main([*argv, "--out", str(out)])
    assert built == []


def test_mi_representation_resumes_per_problem_and_estimator(tmp_path, monkeypatch) -> None:
    """The real estimates at toy sizes (3 problems x 2 estimators); killed after 3 of the 6,
    in the second problem. The estimates seed themselves, so the resumed ones are bit-identical
    to those of an uninterrupted run."""
    representation = _bench("mi_representation")
    real_run = representation.run
    unit = Recorder()  # keys: (the representation's width, estimator) per estimate

    def counted(x: Any, z: Any, est: str, args: argparse.Namespace) -> dict:
        unit.record((z.shape[1], est))
        return real_run(x, z, est, args)

    monkeypatch.setattr(representation, "run", counted)
    argv = ["--estimators", "smile", "dv", "--targets", "0.5", "--biases", "0", "--steps", "3"]
    argv += ["--n", "200", "--batch-size", "16", "--hidden", "8", "--threads", "1"]
    every = [(d, est) for d in (4, 4, 1) for est in ("smile", "dv")]
    whole = representation.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert unit.calls == every
    unit.calls.clear()
    out = tmp_path / "representation.json"
    unit.kill_after = 3
    with pytest.raises(Killed):
        representation.main([*argv, "--out", str(out)])
    assert unit.calls == every[:3] and not out.exists()
    kept = json.loads(partial_path(out).read_text())["rows"]
    assert list(kept) == [
        json.dumps(key)
        for key in (["linear", 0, "smile"], ["linear", 0, "dv"], ["linear", 1, "smile"])
    ]
    with pytest.raises(ValueError, match=r"representation\.partial\.json.*steps"):
        representation.main([*argv, "--steps", "4", "--out", str(out)])
    unit.kill_after = None
    unit.calls.clear()
    resumed = representation.main([*argv, "--out", str(out)])
    assert unit.calls == every[3:]  # only the estimates left
    assert not partial_path(out).exists()
    timings = {"wall_s", "out"}
    stored = _same_record(out, tmp_path / "whole.json", timings)
    assert _without(resumed["rows"], timings) == _without(
        json.loads(json.dumps(whole["rows"])), timings
    )
    assert [(r["problem"], r["smile"]["readout"]) for r in stored["rows"]] == [
        ("linear", "smile"),
        ("linear", "smile"),
        ("binary", "smile"),
    ]
    unit.calls.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        representation.main([*argv, "--out", str(out)])
    assert unit.calls == []


def test_spectral_vs_mi_resumes_per_arm(tmp_path, monkeypatch) -> None:
    """The data and the comparison replaced by stand-ins (an arm alone gives its row of a
    comparison with every arm: tests/test_spectral_vs_mi.py); killed after 2 of the 4 arms."""
    spectral_vs_mi = _bench("spectral_vs_mi")
    unit = Recorder()
    prepared: list[str] = []

    def fake_data(dataset: str, profile: str) -> SimpleNamespace:
        prepared.append(dataset)
        return SimpleNamespace(description=f"fake {dataset}")

    def fake_compare(data: Any, settings: Any, *, arms: tuple[str, ...], seed: int, **_: Any):
        unit.record(arms)
        return [
            {
                "arm": arm,
                "beta": spectral_vs_mi.ARMS[arm][0],
                "spectral_lambda": settings.spectral_lambda,
                **{k: 0.5 + 0.01 * len(arm) + seed for k in ("natural", "pgd", "strong")},
                "refit_accuracy": 0.9,
                "hsj_mean": 0.1 * len(arm),
                "sigmas": [1.0, 2.0],
                "worst_mi": math.nan,
                "seconds": 0.01 * len(unit.calls),
            }
            for arm in arms
        ]

    monkeypatch.setattr(spectral_vs_mi, "prepare_data", fake_data)
    monkeypatch.setattr(spectral_vs_mi, "compare", fake_compare)
    argv = ["--profile", "quick", "--seed", "1"]
    every = [(arm,) for arm in spectral_vs_mi.ARMS]
    whole = spectral_vs_mi.main([*argv, "--out", str(tmp_path / "whole.json")])
    assert unit.calls == every
    unit.calls.clear()
    out = tmp_path / "comparison.json"
    unit.kill_after = 2
    with pytest.raises(Killed):
        spectral_vs_mi.main([*argv, "--out", str(out)])
    assert unit.calls == every[:2] and not out.exists()
    kept = json.loads(partial_path(out).read_text())["rows"]
    assert list(kept) == [json.dumps(list(arm)) for arm in every[:2]]
    # other settings are refused before the data are read; nothing is computed
    prepared.clear()
    with pytest.raises(ValueError, match=r"comparison\.partial\.json.*spectral_lambda"):
        spectral_vs_mi.main([*argv, "--spectral-lambda", "0.01", "--out", str(out)])
    assert prepared == []
    unit.kill_after = None
    unit.calls.clear()
    resumed = spectral_vs_mi.main([*argv, "--out", str(out)])
    assert unit.calls == every[2:]  # only the arms left
    assert not partial_path(out).exists()
    timings = {"wall_s", "seconds", "provenance"}
    stored = _same_record(out, tmp_path / "whole.json", timings)
    assert [r["arm"] for r in stored["rows"]] == list(spectral_vs_mi.ARMS)
    assert all(r["worst_mi"] is None for r in stored["rows"])
    assert strict_json(_without(resumed["rows"], timings)) == strict_json(
        _without(whole["rows"], timings)
    )
    prepared.clear()
    with pytest.raises(FileExistsError, match="--overwrite"):
        spectral_vs_mi.main([*argv, "--out", str(out)])
    assert prepared == []


def test_train_step_replaces_a_device_run_only_when_asked(tmp_path, monkeypatch) -> None:
    """One run per device in ``--out``: another device's run is kept beside a new one; a run on
    a device already there is refused before anything is measured, unless ``--overwrite``."""
    step = _bench("train_step")
    measured: list[str] = []

    def fake_measure(cfg: dict, device: Any, repeats: int) -> dict:
        measured.append(cfg["name"])
        return {**cfg, "images_per_second": 1.0, "achieved_tflops": 1e-3}

    monkeypatch.setattr(step, "measure", fake_measure)
    monkeypatch.setattr(step, "measured_peak", lambda device: 1.0)
    out = tmp_path / "train_step.json"
    other = {"device": "cuda (another GPU)", "git_commit": "0000000", "rows": []}
    out.write_text(json.dumps({"runs": [other]}))
    argv = ["--configs", "tiny", "--repeats", "1", "--out", str(out)]
    first = step.main(argv)
    runs = json.loads(out.read_text())["runs"]
    assert [r["device"] for r in runs] == [other["device"], first["device"]]
    assert measured == ["tiny"]
    with pytest.raises(
        FileExistsError, match=r"train_step\.json already holds a run on cpu.*--overwrite"
    ):
        step.main(argv)
    assert measured == ["tiny"]  # refused before measuring
    again = step.main([*argv, "--overwrite"])
    runs = json.loads(out.read_text())["runs"]
    assert [r["device"] for r in runs] == [other["device"], again["device"]] and len(measured) == 2
    # a file that is not a record of runs is named, and replaced only when asked
    out.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"train_step\.json is not a record of bench/train_step"):
        step.main(argv)
    step.main([*argv, "--overwrite"])
    assert [r["device"] for r in json.loads(out.read_text())["runs"]] == [again["device"]]


def _at_commit(monkeypatch: pytest.MonkeyPatch, commit: str) -> None:
    """Records saved from now on name ``commit`` (a clean one: the checkout under test may
    have uncommitted changes)."""
    monkeypatch.setattr(
        results, "code_provenance", lambda: {"git_commit": commit, "torch": "2.14.1"}
    )


def test_mi_staircase_merge_of_split_runs_equals_one_run_and_keeps_their_commit(
    tmp_path, monkeypatch
) -> None:
    staircase = _bench("mi_staircase")
    argv = ["--seeds", "1", "--steps-per-level", "20", "--levels", "2", "4", "--last", "5"]
    argv += ["--d", "2", "--batch-size", "8", "--heldout-batches", "2", "--threads", "1"]
    _at_commit(monkeypatch, "abc1234")
    parts = {"a": ["dv", "smile_5"], "b": ["nwj"], "whole": ["dv", "smile_5", "nwj"]}
    for name, estimators in parts.items():
        staircase.main([*argv, "--estimators", *estimators, "--out", str(tmp_path / name)])
    merged = staircase.merge([tmp_path / "a", tmp_path / "b"], tmp_path / "merged.json")
    whole = json.loads((tmp_path / "whole").read_text())
    timings = {"wall_s_per_seed", "wall_s_mean"}
    assert strict_json(_without(merged["results"], timings)) == _without(whole["results"], timings)
    assert merged["config"]["estimators"] == ["dv", "nwj", "smile_5"]
    assert merged["config"]["out"] == "merged.json" and merged["config"]["merge"] == ["a", "b"]
    assert merged["provenance"]["git_commit"] == "abc1234"
    assert [p["file"] for p in merged["provenance"]["parts"]] == ["a", "b"]
    _at_commit(monkeypatch, "def5678")
    staircase.main([*argv, "--estimators", "nwj", "--out", str(tmp_path / "later")])
    with pytest.raises(SystemExit, match="different commits"):
        staircase.merge([tmp_path / "a", tmp_path / "later"], tmp_path / "mixed.json")


def test_torch_mist_compare_merge_records_the_runs_versions_not_the_merger_s(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    compare = _bench("torch_mist_compare")

    def stand_in(lib: str, name: str, seed: int, args: argparse.Namespace) -> dict:
        levels = [
            {"mi": m, "mean": m - len(name) / 9, "bias": 0.0, "var": 0.5} for m in args.levels
        ]
        return {"levels": levels, "wall_s": 1.0, "error": ""}

    monkeypatch.setattr(compare, "run", stand_in)
    monkeypatch.setattr(compare, "torch_mist_version", lambda: "0.2.17")
    argv = ["--seeds", "1", "--levels", "2", "4", "--threads", "1"]
    _at_commit(monkeypatch, "abc1234")
    compare.main([*argv, "--estimators", "nwj", "--out", str(tmp_path / "a.json")])
    compare.main([*argv, "--estimators", "dv", "--out", str(tmp_path / "b.json")])
    b = json.loads((tmp_path / "b.json").read_text())
    (tmp_path / "b.json").write_text(json.dumps({**b, "torch": "2.9.0"}))
    merge = ["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    with pytest.raises(SystemExit, match="differ in library versions"):
        compare.main([*merge, "--out", str(tmp_path / "m.json")])
    (tmp_path / "b.json").write_text(json.dumps({**b, "torch": "2.3.0"}))
    a = json.loads((tmp_path / "a.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps({**a, "torch": "2.3.0"}))
    merged = compare.main([*merge, "--out", str(tmp_path / "m.json")])
    assert merged["torch"] == "2.3.0" and merged["torch_mist"] == "0.2.17"  # the runs' own
    assert (
        list(merged["results"]) == ["nwj", "dv"] and merged["wall_s"] == a["wall_s"] + b["wall_s"]
    )
    assert merged["config"]["estimators"] == ["nwj", "dv"]
    assert merged["config"]["out"] == "m.json" and merged["config"]["merge"] == ["a.json", "b.json"]
    assert merged["provenance"]["git_commit"] == "abc1234"
