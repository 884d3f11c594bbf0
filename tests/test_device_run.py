"""bench/device_run.py --dry-run: the prepared GPU run's whole sequence on the CPU at tiny sizes
(environment, every smoke test, the step benchmark, Table 1 and the zoo), so that the script a
device session runs has run before it gets there."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from robustrep_lite.book import table1_report, zoo_report
from robustrep_lite.book.chapter import stored_run_line

ROOT = Path(__file__).resolve().parents[1]


def test_dry_run_runs_every_stage_and_writes_every_file(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "device_run.py"),
            "--dry-run",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "device_run.json").read_text())
    stages = record["stages"]
    assert list(stages) == ["env", "smoke", "step", "table1", "zoo"]
    broken = {k: v.get("error") or v.get("failed") for k, v in stages.items() if not v["ok"]}
    assert not broken, broken
    tests = stages["smoke"]["tests"]
    assert set(tests) == {
        "steps",
        "half_gradients",
        "syncs",
        "compile",
        "estimators",
        "attacks",
        "data",
        "ddp",
        "kill_resume",
    }
    assert tests["kill_resume"]["max_abs_difference"] == 0.0  # bit-identical on the CPU
    half = tests["half_gradients"]
    assert half["fp32"]["sign_agreement"] == 1.0 and 0 <= half["fp16"]["zero_share"] <= 1
    steps = tests["steps"]
    assert steps["fast"]["autocast"] == "none" and steps["fp32"]["autocast"] == "none"  # CPU
    assert steps["fp16"]["autocast"] == "float16" and steps["fp16"]["grad_scale"] > 0
    assert tests["syncs"]["sync_free_speed_ratio"] > 0
    assert tests["syncs"]["penalty_synchronising_calls"] == []
    assert tests["kill_resume"]["killed_after_epoch"] < tests["kill_resume"]["epochs"]
    assert stages["step"]["rows"][0]["name"] == "tiny"
    assert stages["step"]["rows"][0]["share_of_measured_peak"] > 0
    for name in ("table1_gpu.json", "zoo_gpu.json", "train_step.json"):
        assert (tmp_path / name).is_file(), name
    zoo = json.loads((tmp_path / "zoo_gpu.json").read_text())
    assert zoo["rows"] and all("rv_refit" in row for row in zoo["rows"])
    # what Chapters 5 and 6 show of the stored files, once copied to bench/results/device/
    table = json.loads((tmp_path / "table1_gpu.json").read_text())
    trained = table["half_gradients_trained"]  # the trained encoders' PGD gradients in fp16
    assert set(trained) == {"batch", "standard", "worst_case"} and trained["batch"] > 0
    for rep in ("standard", "worst_case"):
        assert trained[rep]["fp32"]["sign_agreement"] == 1.0
        assert 0 <= trained[rep]["fp16"]["zero_share"] <= 1
    label = "gpu at quick sizes"  # the gpu profile's method at the quick profile's sizes
    for record in (zoo, table):
        assert record["profile"] == label and record["provenance"]["profile"] == label
        line = stored_run_line(record, "bench/device_run.py")
        assert line.startswith("stored run of bench/device_run.py") and f"profile {label}" in line
    # what only the gpu profile does ran: augmentation, the encoders' wall-clock budget, the
    # fast step's setting, and a CIFAR-10 zoo trained for a budget
    assert table["settings"]["augment"] and table["settings"]["fast"]
    assert table["settings"]["encoder_budget_s"] > 0 and table["settings"]["width"] < 1
    assert {m["dataset"] for m in zoo["settings"]["models"]} == {"cifar10"}
    assert zoo["settings"]["train_budget_s"] > 0
    assert zoo_report.rows_markdown(zoo["rows"]).count("\n") == len(zoo["rows"]) + 1
    assert zoo["skipped"] == [] and len(zoo["models_planned"]) == len(zoo["rows"])
    assert zoo_report.coverage_line(zoo).startswith("All ")
    assert table1_report.run_summary(table["result"]).startswith("cifar10: 1 seed(s)")
    assert table1_report.table_markdown(table["result"]).count("\n") == len(table1_report.ORDER) + 1


def _device_run():
    spec = importlib.util.spec_from_file_location("device_run", ROOT / "bench" / "device_run.py")
    assert spec is not None and spec.loader is not None
    device_run = importlib.util.module_from_spec(spec)
    sys.modules["device_run"] = device_run  # its dataclasses look their module up there
    spec.loader.exec_module(device_run)
    return device_run


def test_a_zoo_past_its_deadline_records_the_models_it_did_not_evaluate(
    tmp_path: Path, monkeypatch
) -> None:
    """The models are trained, but none is evaluated once the run's time is up: zoo_gpu.json
    still names them all, as skipped, and Chapter 5 says so."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    device_run = _device_run()
    plan = device_run.plan_for(dry_run=True, budget_s=60)
    result = device_run.zoo_run(plan, tmp_path, deadline=time.monotonic() - 1)
    zoo = json.loads((tmp_path / "zoo_gpu.json").read_text())
    assert result["models"] == 0 and zoo["rows"] == []
    assert zoo["skipped"] == zoo["models_planned"] == result["skipped"]
    assert len(zoo["skipped"]) == len(device_run.experiment_settings(plan)[1].models)
    assert zoo_report.coverage_line(zoo).startswith(f"0 of {len(zoo['skipped'])} models")
    assert "as the run's time ran out" in zoo_report.coverage_line(zoo)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_without_cuda_the_real_run_says_to_use_dry_run() -> None:
    device_run = _device_run()
    with pytest.raises(SystemExit, match="--dry-run"):
        device_run.plan_for(dry_run=False, budget_s=60)
