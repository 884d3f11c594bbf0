"""The prepared run for a GPU machine: environment, CUDA smoke tests of every CUDA path of the
library, the training-step benchmark, then Table 1 (one seed) and the Section 6.1 zoo in the
``gpu`` profile, within one wall-clock budget, all written under ``--out``.

Stages (each adds to ``DIR/device_run.json`` as soon as it ends, so a run killed at its limit
keeps what finished; a stage that fails is recorded with its error and the next one runs):

1. ``env``: GPU, driver, CUDA, torch and the versions of the packages the library uses;
2. ``smoke``: the fast step (bf16 autocast + channels-last), the same step in fp16 with its
   gradient scaler (the path of GPUs without bf16, e.g. Colab's T4) and the fp32 step, how
   many of PGD's input gradients vanish in bf16 and fp16 at the paper's sizes, the
   host-device synchronisations of a warm spectral penalty (none allowed) and of a whole
   encoder step (recorded), seen by CUDA's sync debug mode, a compiled encoder, the MI
   estimator, the worst-case estimator and per-feature vulnerability, PGD and APGD (Croce &
   Hein's code), the compact CIFAR-10 file, a 1-process ``torchrun`` DDP run of the CLI, and a
   CLI training run killed after its first checkpoint and resumed, compared with an
   uninterrupted run;
3. ``step``: ``bench/train_step.py`` -- the faithful (``paper``), ``fast`` and ``fast_fp16``
   modes in the same run, their speed ratios and the share of the device's dense peak;
4. ``table1``: :func:`robustrep_lite.experiments.table1.table1` on CIFAR-10, one seed, the ``gpu``
   settings with the encoder budget shrunk to fit what is left (``DIR/table1_gpu.json``), and
   how many of PGD's input gradients vanish in bf16 and fp16 for the two *trained* encoders on
   128 test images (``half_gradients_trained``: whether fp16 underflows later in training);
5. ``zoo``: train the ``gpu`` zoo (budget per model shrunk likewise), then the attacked accuracy
   and logit-layer vulnerability of each model while time is left (``DIR/zoo_gpu.json``,
   written after each model; those not reached are listed as ``skipped``).

``--dry-run`` runs the same sequence on the CPU at tiny sizes (the ``gpu`` settings at the
``quick`` profile's sizes, :func:`experiment_settings`; the ``tiny`` step) in one to two
minutes; ``tests/test_device_run.py`` runs it.

What travels to the device machine (at most 64 MiB with a command; it has no network and no
data folder, and this package is not installed there, hence ``PYTHONPATH=.``): the working tree
(about 7 MB), the compact CIFAR-10 copy ``cifar10_jpeg_webp.npz`` (44 MB) and the wheels of the
pure-Python packages the machine's image lacks (pyautoattack without its example weights,
foolbox and its needs; about 1 MB).
``bash bench/device_pack.sh [DATA_DIR]`` (default ``$ROBUSTREP_DATA``) puts the last two in
``.device/`` (gitignored). Then, with the device tool:

  run(carry=[".device"], timeout_s=600, command=
      "python3 -m pip install -q --no-index --no-deps --target /tmp/site .device/*.whl && "
      "PYTHONPATH=/tmp/site:. ROBUSTREP_DATA=.device ROBUSTREP_COMMIT=<commit> "
      "PYTHONUNBUFFERED=1 python3 bench/device_run.py --out $OUT --budget-s 540")

  .venv/bin/python bench/device_run.py --dry-run --out /tmp/dry      # here, on the CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.per_feature import PER_FEATURE_CRITIC, per_feature_vulnerability
from robustrep_lite.adversarial.search import AttackConfig
from robustrep_lite.adversarial.vulnerability import (
    WORST_CASE_CRITIC,
    representation_vulnerability,
)
from robustrep_lite.core.results import save_result
from robustrep_lite.core.runtime import describe_device, git_commit, provenance, seed_everything
from robustrep_lite.experiments.settings import (
    PROFILES,
    TrainSettings,
    ZooSettings,
    at_sizes_of,
)
from robustrep_lite.mi import (
    LocalDIMCritic,
    correlated_gaussians,
    estimate_mi,
    gaussian_mi,
    readout,
)
from robustrep_lite.training.data import load_dataset
from robustrep_lite.training.encoder import (
    EncoderConfig,
    EncoderTrainer,
    autocast_dtype,
    load_encoder,
    train_encoder,
)
from robustrep_lite.training.models import BaselineH
from robustrep_lite.training.spectral import SpectralPenalty, all_layers, conv_input_shapes
from robustrep_lite.training.supervised import NATURAL, Evaluation, robust_accuracy

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("env", "smoke", "step", "table1", "zoo")
PACKAGES = ("numpy", "scipy", "torchvision", "tqdm", "pillow", "pyautoattack", "foolbox")


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What one invocation spends: device, the profile of the experiments, the step
    benchmark's configurations and repeats, and the wall-clock budget of the whole run."""

    device: torch.device
    profile: str
    step_configs: tuple[str, ...]
    step_repeats: int
    budget_s: float
    dry_run: bool


#: The profile label of the dry run's Table 1 and zoo (:func:`experiment_settings`).
DRY_RUN_PROFILE = "gpu at quick sizes"


def plan_for(dry_run: bool, budget_s: float) -> RunPlan:
    if dry_run:
        return RunPlan(torch.device("cpu"), DRY_RUN_PROFILE, ("tiny",), 2, budget_s, True)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run on a machine without a GPU")
    return RunPlan(torch.device("cuda"), "gpu", ("paper", "fast", "fast_fp16"), 10, budget_s, False)


# ----------------------------------------------------------------------------------------------
# env
# ----------------------------------------------------------------------------------------------
def environment(plan: RunPlan) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    env: dict[str, Any] = {
        "device": describe_device(plan.device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "packages": {name: ver(name) for name in PACKAGES},
        "git_commit": git_commit() or "unknown",
        "cpu_count": os.cpu_count(),
        "data": os.environ.get("ROBUSTREP_DATA", "(unset)"),
    }
    if plan.device.type == "cuda":
        props = torch.cuda.get_device_properties(plan.device)
        env.update(
            gpu=props.name,
            gpu_memory_gib=props.total_memory / 2**30,
            multiprocessors=props.multi_processor_count,
            capability=f"{props.major}.{props.minor}",
            native_bf16=props.major >= 8,
            autocast_auto=str(autocast_dtype(plan.device)).removeprefix("torch."),
            cudnn=torch.backends.cudnn.version(),
        )
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        )
        env["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    return env


# ----------------------------------------------------------------------------------------------
# smoke tests: each returns a dict of what it saw and raises if the path is broken
# ----------------------------------------------------------------------------------------------
def _finite(*values: float) -> None:
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise AssertionError(f"non-finite values {bad}")


#: The steps of :func:`smoke_steps`: (``amp``, ``amp_dtype``) of each.
STEP_MODES = {"fast": (True, "auto"), "fp16": (True, "float16"), "fp32": (False, "auto")}


def smoke_steps(plan: RunPlan) -> dict[str, Any]:
    """Three steps of objective (5.2), each with fresh networks: the fast mode (bf16 autocast +
    channels-last on CUDA), the same in fp16 with its gradient scaler (what a GPU without bf16
    runs; CPU autocast in the dry run) and fp32. The fp16 step must have an enabled scaler."""
    out = {}
    x = torch.rand(32, 3, 32, 32, device=plan.device)
    for name, (amp, dtype) in STEP_MODES.items():
        torch.manual_seed(0)
        enc = BaselineH(3, 32, 64, 0.25).to(plan.device)
        critic = LocalDIMCritic(3, 64, units=32).to(plan.device)
        config = EncoderConfig(beta=1.0, eps=8 / 255, amp=amp, amp_dtype=dtype, batch_size=32)
        trainer = EncoderTrainer(enc, critic, config)
        stats = trainer.step([x], [None]).tolist()
        _finite(*stats[:1], *stats[2:])
        out[name] = {
            "loss": stats[0],
            "worst_mi": stats[2],
            "autocast": str(trainer.dtype).removeprefix("torch.") if trainer.amp else "none",
            "channels_last": enc.conv1[0].weight.is_contiguous(memory_format=torch.channels_last),
            "grad_scale": trainer.scaler.get_scale() if trainer.scaler.is_enabled() else None,
        }
    if plan.device.type == "cuda" and not out["fast"]["channels_last"]:
        raise AssertionError("the fast step did not switch the encoder to channels-last")
    if out["fp16"]["grad_scale"] is None:
        raise AssertionError("the fp16 step ran without its gradient scaler")
    return out


def half_gradients(encoder: nn.Module, critic: nn.Module, x: Tensor) -> dict[str, Any]:
    """PGD's input gradients under autocast are not loss-scaled (the gradient scaler serves the
    weights' step only): per half type, the share of the gradient of the DV bound (the quantity
    PGD lowers in objective (5.2)) with respect to the pixels ``x`` that is exactly 0 -- a pixel
    the sign step cannot move, as fp16 underflows below 6e-8 -- its sign agreement with fp32,
    and its median magnitude, for ``encoder`` and ``critic`` as they are (eval mode, on ``x``'s
    device). A measurement, not a pass/fail check."""
    device = x.device
    grads = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        xa = x.clone().requires_grad_(True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            scores = critic(xa, encoder(xa)).float()
        (grads[name],) = torch.autograd.grad(readout("dv", scores), xa)
    reference = grads["fp32"].sign()
    out = {
        name: {
            "zero_share": float((g == 0).float().mean()),
            "sign_agreement": float((g.sign() == reference).float().mean()),
            "median_abs": float(g.abs().median()),
        }
        for name, g in grads.items()
    }
    _finite(*(v for row in out.values() for v in row.values()))
    return out


def smoke_half_gradients(plan: RunPlan) -> dict[str, Any]:
    """:func:`half_gradients` at initialisation on a random batch: the paper's sizes on CUDA,
    the smoke's small networks under CPU autocast (the Table 1 stage measures the trained
    encoders)."""
    cuda = plan.device.type == "cuda"
    width, units, n = (1.0, 2048, 128) if cuda else (0.25, 32, 32)
    torch.manual_seed(0)
    enc = BaselineH(3, 32, 64, width).to(plan.device).eval()
    critic = LocalDIMCritic(3, 64, units=units).to(plan.device).eval()
    x = torch.rand(n, 3, 32, 32, device=plan.device)
    networks = {"width": width, "critic_units": units, "batch": n}
    return {"networks": networks, **half_gradients(enc, critic, x)}


def _synchronising_calls(plan: RunPlan, run: Callable[[], Any]) -> list[str]:
    """The distinct warnings of CUDA's sync debug mode while ``run()`` runs (none on the CPU,
    where nothing synchronises)."""
    if plan.device.type != "cuda":
        run()
        return []
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sorted({str(w.message).splitlines()[0] for w in caught})


def smoke_syncs(plan: RunPlan) -> dict[str, Any]:
    """Host-device synchronisations inside a step, seen by CUDA's sync debug mode: a warm
    spectral penalty with its backward pass must have none (it raises otherwise); those of a
    whole encoder step with the penalty (objective 5.2, PGD and the optimiser included) are
    recorded, and so is the time of a warm penalty call with its backward pass in both modes
    (their ratio: early-stopping time over sync-free time)."""
    torch.manual_seed(0)
    x = torch.rand(32, 3, 32, 32, device=plan.device)
    enc = BaselineH(3, 32, 64, 0.25).to(plan.device)
    critic = LocalDIMCritic(3, 64, units=32).to(plan.device)
    penalty = SpectralPenalty(
        all_layers(enc), 0.01, input_shapes=conv_input_shapes(enc, x[:2]), seed=0
    )
    penalty()  # the cold start reads norms on the host to stop early
    penalty_syncs = _synchronising_calls(plan, lambda: penalty().backward())
    if penalty_syncs:
        raise AssertionError(f"a warm spectral penalty synchronised: {penalty_syncs}")
    seconds = {}
    for sync_free in (False, True):  # the same warm calls, early-stopping against sync-free
        timed = SpectralPenalty(
            all_layers(enc), 0.01, input_shapes=conv_input_shapes(enc, x[:2]), sync_free=sync_free
        )
        timed().backward()
        if plan.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            timed().backward()
        if plan.device.type == "cuda":
            torch.cuda.synchronize()
        seconds["sync_free" if sync_free else "early_stopping"] = (time.perf_counter() - t0) / 20
    config = EncoderConfig(beta=1.0, eps=8 / 255, amp=True, batch_size=32)
    trainer = EncoderTrainer(enc, critic, config, penalty=penalty)
    trainer.step([x], [None])  # warm-up: lazy initialisation may synchronise once
    step_syncs = _synchronising_calls(plan, lambda: trainer.step([x], [None]))
    return {
        "penalty_synchronising_calls": penalty_syncs,
        "encoder_step_synchronising_calls": step_syncs,
        "sigmas": penalty.sigmas,
        "penalty_call_seconds": seconds,
        "sync_free_speed_ratio": seconds["early_stopping"] / seconds["sync_free"],
    }


def smoke_compile(plan: RunPlan) -> dict[str, Any]:
    """A compiled encoder and critic train for one epoch (dynamo falls back to eager on
    failure; the record says whether graphs were compiled)."""
    from torch import _dynamo

    _dynamo.reset()
    config = EncoderConfig(epochs=1, batch_size=32, width=0.125, critic_units=16, pgd_steps=2)
    run = train_encoder(
        torch.rand(64, 3, 32, 32),
        dataclasses.replace(config, compile=True),
        device=plan.device,
        progress=False,
    )
    _finite(run.history.loss[-1])
    counters = {k: dict(v) for k, v in _dynamo.utils.counters.items() if v}
    return {"loss": run.history.loss[-1], "dynamo_counters": counters.get("stats", {})}


def smoke_estimators(plan: RunPlan) -> dict[str, Any]:
    """The validated MI estimator against a Gaussian truth, and the worst-case and per-feature
    vulnerability estimators, on the device."""
    n, steps, tolerance = (2000, 300, 0.3) if plan.dry_run else (4000, 1500, 0.15)
    x, y = correlated_gaussians(n, 2, 0.8, seed=0)
    truth = gaussian_mi(2, 0.8)
    est = estimate_mi(x, y, device=plan.device, progress=False, seed=0, steps=steps)
    if abs(est.estimate - truth) > tolerance:
        raise AssertionError(f"estimate_mi read {est.estimate:.3f} for a true {truth:.3f}")
    w = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    xs = torch.rand(512, 8)
    rv = representation_vulnerability(
        lambda t: t @ w.to(t.device),
        xs,
        AttackConfig(eps=0.1),
        dataclasses.replace(WORST_CASE_CRITIC, steps=60, batch_size=64, hidden=32, layers=2),
        device=plan.device,
        progress=False,
    )
    conv = torch.nn.Conv2d(3, 4, 5).to(plan.device).eval()
    pf = per_feature_vulnerability(
        conv,
        torch.rand(256, 3, 16, 16),
        AttackConfig(eps=4 / 255),
        dataclasses.replace(PER_FEATURE_CRITIC, steps=20, batch_size=32),
        features=[0, 1],
        device=plan.device,
        progress=False,
    )
    _finite(rv.rv, *map(float, pf.rv))
    return {
        "estimate_mi": {"estimate": est.estimate, "truth": truth, "stderr": est.stderr},
        "representation_vulnerability": {"rv": rv.rv, "rv_stderr": rv.rv_stderr},
        "per_feature_rv": [float(v) for v in pf.rv],
    }


def smoke_attacks(plan: RunPlan) -> dict[str, Any]:
    """PGD and APGD-CE + APGD-T (Croce & Hein's code) against a small classifier on the
    device."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    model = model.to(plan.device).eval()
    x, y = torch.rand(64, 3, 8, 8), torch.randint(0, 10, (64,))
    nat = robust_accuracy(model, x, y, NATURAL)
    pgd = robust_accuracy(model, x, y, Evaluation(eps=8 / 255))
    apgd = robust_accuracy(model, x, y, Evaluation(attack="apgd", eps=8 / 255))
    if not apgd <= pgd + 1 / 64 or not pgd <= nat:
        raise AssertionError(f"accuracies out of order: natural {nat}, PGD {pgd}, APGD {apgd}")
    return {"natural": nat, "pgd": pgd, "apgd": apgd}


def smoke_data(plan: RunPlan) -> dict[str, Any]:
    """The CIFAR-10 copy the run will use (the compact WebP file on the device machine)."""
    if plan.dry_run:
        d = load_dataset("cifar10", source="embedded")
    else:
        d = load_dataset("cifar10", source="npz")
    return {"train": list(d.x_train.shape), "test": list(d.x_test.shape), "data": d.description}


def _cli(plan: RunPlan, folder: Path, epochs: int, *, torchrun: bool = False) -> list[str]:
    args = ["train-encoder", "--profile", "quick", "--device", plan.device.type, "--no-progress"]
    args += ["--out", str(folder / "result.json"), "--dataset", "cifar10"]
    args += ["--epochs", str(epochs), "--train-size", "192", "--batch-size", "16"]
    args += ["--checkpoint-dir", str(folder)]
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node=1"] if torchrun else []
    return [sys.executable, *launcher, "-m", "robustrep_lite", *args]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def smoke_ddp(plan: RunPlan) -> dict[str, Any]:
    """``torchrun --nproc_per_node=1 -m robustrep_lite train-encoder`` (NCCL on CUDA)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        done = subprocess.run(
            _cli(plan, folder, 1, torchrun=True),
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"torchrun exited {done.returncode}: {done.stderr[-2000:]}")
        record = json.loads((folder / "result.json").read_text())
    history = record["result"]["history"]
    _finite(*history["loss"])
    return {"epochs": len(history["loss"]), "world_size": record["result"]["config"]["world_size"]}


def _checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's payload, read weights-only (never unpickling code)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def smoke_kill_resume(plan: RunPlan) -> dict[str, Any]:
    """A CLI training run killed after its first epoch's checkpoint and resumed ends with the
    weights of an uninterrupted run (largest absolute difference recorded; 0 on the CPU)."""
    epochs = 3
    with tempfile.TemporaryDirectory() as tmp:
        ref, cut = Path(tmp) / "ref", Path(tmp) / "cut"
        env = _child_env()
        subprocess.run(_cli(plan, ref, epochs), env=env, check=True, capture_output=True)
        proc = subprocess.Popen(
            _cli(plan, cut, epochs),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        killed_after = None
        while time.monotonic() < deadline and proc.poll() is None:
            if (cut / "encoder.pt").exists():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed_after = _checkpoint(cut / "encoder.pt")["step"]
                break
            time.sleep(0.05)
        if killed_after is None:
            raise AssertionError("the run ended before it could be killed after a checkpoint")
        subprocess.run(_cli(plan, cut, epochs), env=env, check=True, capture_output=True)
        a = _checkpoint(ref / "encoder.pt")["modules"]["encoder"]
        b = _checkpoint(cut / "encoder.pt")["modules"]["encoder"]
        diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    if plan.device.type == "cpu" and diff != 0:
        raise AssertionError(f"a resumed CPU run differs from an uninterrupted one by {diff}")
    return {"killed_after_epoch": killed_after, "epochs": epochs, "max_abs_difference": diff}


SMOKE: dict[str, Callable[[RunPlan], dict[str, Any]]] = {
    "steps": smoke_steps,
    "half_gradients": smoke_half_gradients,
    "syncs": smoke_syncs,
    "compile": smoke_compile,
    "estimators": smoke_estimators,
    "attacks": smoke_attacks,
    "data": smoke_data,
    "ddp": smoke_ddp,
    "kill_resume": smoke_kill_resume,
}


def smoke(plan: RunPlan) -> dict[str, Any]:
    """Every test of :data:`SMOKE`, each recorded (``ok``, what it saw or its error, seconds);
    ``failed`` lists the ones that broke."""
    results: dict[str, Any] = {}
    for name, test in SMOKE.items():
        t0 = time.perf_counter()
        try:
            results[name] = {"ok": True, **test(plan)}
        except Exception as err:  # noqa: BLE001 - every failure is recorded, the run goes on
            results[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            traceback.print_exc()
        results[name]["seconds"] = time.perf_counter() - t0
        print(f"  smoke {name}: {'ok' if results[name]['ok'] else 'FAILED'}", flush=True)
    return {"tests": results, "failed": [n for n, r in results.items() if not r["ok"]]}


# ----------------------------------------------------------------------------------------------
# step benchmark, Table 1, zoo
# ----------------------------------------------------------------------------------------------
def step_benchmark(plan: RunPlan, out: Path) -> dict[str, Any]:
    import train_step  # the sibling script: bench/ is sys.path[0] when this one runs

    argv = ["--device", plan.device.type, "--repeats", str(plan.step_repeats)]
    argv += ["--configs", *plan.step_configs, "--out", str(out / "train_step.json")]
    # --out is this run's own folder, and the run rewrites every file in it (table1_gpu.json,
    # zoo_gpu.json): a run into a folder used before replaces its step benchmark as well
    return train_step.main([*argv, "--overwrite"])


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def experiment_settings(plan: RunPlan) -> tuple[TrainSettings, ZooSettings]:
    """The Table 1 and zoo settings of the run: the ``gpu`` profile's. The dry run keeps their
    method (augmentation, wall-clock budgets, the fast step, CIFAR-10 and its radius, learning
    rates, attacks) at the ``quick`` profile's sizes
    (:func:`~robustrep_lite.experiments.settings.at_sizes_of`), so that the code paths only the
    ``gpu`` profile takes run on the CPU first; its zoo leaves out ResNet18 (about 4 minutes on
    one CPU thread even at these sizes; the architecture is tested in ``tests/test_models.py``)."""
    gpu = PROFILES["gpu"]
    if not plan.dry_run:
        return gpu.table1, gpu.zoo
    quick = PROFILES["quick"]
    zoo = at_sizes_of(gpu.zoo, quick.zoo)
    zoo = dataclasses.replace(zoo, models=tuple(m for m in zoo.models if m.arch != "resnet18"))
    table1 = dataclasses.replace(at_sizes_of(gpu.table1, quick.table1), profile=DRY_RUN_PROFILE)
    return table1, zoo


def table1_run(plan: RunPlan, out: Path, deadline: float) -> dict[str, Any]:
    """Table 1, one seed, the plan's profile; in the gpu profile the two encoders together get
    at most a third of the time left, a sixth each (the heads, attacks and zoo take the rest)."""
    from robustrep_lite.experiments.table1 import prepare_data, table1

    s = experiment_settings(plan)[0]
    if s.encoder_budget_s is not None:
        share = max(_left(deadline) / 3 / 2, 10.0)
        s = dataclasses.replace(s, encoder_budget_s=min(s.encoder_budget_s, share))
    dataset = "cifar10"
    with tempfile.TemporaryDirectory() as tmp:
        result = table1(dataset, s, seeds=1, checkpoint_dir=tmp, device=plan.device, progress=False)
        x = prepare_data(dataset, s).x_test[:128].to(plan.device)
        trained = {}
        for encoder in result["encoders"]:
            run = load_encoder(encoder["checkpoint"], encoder["config"], device=plan.device)
            trained[encoder["representation"]] = half_gradients(run.encoder, run.critic, x)
    record = {
        "profile": plan.profile,
        "provenance": provenance(plan.profile, result["data"], plan.device, 0),
        "settings": dataclasses.asdict(s),
        "wall_s": result["wall_s"],
        "result": result,
        "half_gradients_trained": {"batch": len(x), **trained},
    }
    save_result(record, out / "table1_gpu.json")
    cells = {
        f"{r['representation']}/{r['head']}/{r['classifier']}": round(100 * r["pgd_mean"], 2)
        for r in result["summary"]
    }
    return {"wall_s": result["wall_s"], "pgd7_accuracy_percent": cells}


def zoo_run(plan: RunPlan, out: Path, deadline: float) -> dict[str, Any]:
    """The plan's zoo: train (budget per model shrunk to fit half the time left), then the
    attacked accuracy and the logit-layer vulnerability of each model while time is left.
    ``zoo_gpu.json`` is written after every model, so a run killed at its limit keeps the
    models done; ``models_planned`` names them all, and a model whose turn comes after the
    deadline is listed in ``skipped`` instead of evaluated."""
    from robustrep_lite.experiments import zoo

    zs = experiment_settings(plan)[1]
    if zs.train_budget_s is not None:
        share = max(_left(deadline) / 2 / len(zs.models), 5.0)
        zs = dataclasses.replace(zs, train_budget_s=min(zs.train_budget_s, share))
    source = "embedded" if plan.dry_run else "npz"
    data = {
        name: load_dataset(
            name, source=source, train_size=zs.train_size, test_size=zs.test_size, seed=0
        )
        for name in sorted({m.dataset for m in zs.models})
    }
    t0 = time.perf_counter()
    models = zoo.train_zoo(zs, data, device=plan.device, progress=False)
    described = "; ".join(d.description for d in data.values())
    record: dict[str, Any] = {
        "profile": plan.profile,
        "provenance": provenance(plan.profile, described, plan.device, 0),
        "settings": zs.record(),
        "models_planned": [f"{m.dataset}/{m.label}" for m in models],
        "rows": [],
        "skipped": [],
        "wall_s": time.perf_counter() - t0,
    }
    for m, net in models.items():
        if _left(deadline) <= 0:
            record["skipped"].append(f"{m.dataset}/{m.label}")
            continue
        d = data[m.dataset]
        eps = zs.eval_eps[m.dataset][-1]
        row = {"dataset": m.dataset, "model": m.label}
        row.update(zoo.attacked_accuracy(net, d.x_test, d.y_test, eps=eps))
        row.update(zoo.logit_vulnerability(net, d.x_test, eps=eps, settings=zs))
        record["rows"].append(row)
        record["wall_s"] = time.perf_counter() - t0
        save_result(record, out / "zoo_gpu.json")
        print(f"  zoo {m.dataset}/{m.label}: RV (refit) {row['rv_refit']:.3f}", flush=True)
    record["wall_s"] = time.perf_counter() - t0
    save_result(record, out / "zoo_gpu.json")
    return {"wall_s": record["wall_s"], "models": len(record["rows"]), "skipped": record["skipped"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for every result")
    ap.add_argument("--dry-run", action="store_true", help="the same sequence on CPU, tiny")
    ap.add_argument("--budget-s", type=float, default=540.0, help="wall clock of the whole run")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    args = ap.parse_args(argv)
    start = time.monotonic()
    deadline = start + args.budget_s
    plan = plan_for(args.dry_run, args.budget_s)
    seed_everything(0)
    if plan.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "benchmark": "bench/device_run.py",
        "plan": {**dataclasses.asdict(plan), "device": str(plan.device)},
        "stages": {},
    }
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "env": lambda: environment(plan),
        "smoke": lambda: smoke(plan),
        "step": lambda: step_benchmark(plan, args.out),
        "table1": lambda: table1_run(plan, args.out, deadline),
        "zoo": lambda: zoo_run(plan, args.out, deadline),
    }
    for name in args.stages:
        print(f"[{time.monotonic() - start:6.1f} s] {name}", flush=True)
        t0 = time.perf_counter()
        try:
            result = runners[name]()
            result = {"ok": not result.get("failed"), **result}
        except Exception as err:  # noqa: BLE001 - recorded; the next stage still runs
            result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            traceback.print_exc()
        result["seconds"] = time.perf_counter() - t0
        record["stages"][name] = result
        record["wall_s"] = time.monotonic() - start
        save_result(record, args.out / "device_run.json")
    failed = [n for n, r in record["stages"].items() if not r["ok"]]
    print(f"done in {record['wall_s']:.0f} s; failed stages: {failed or 'none'}", flush=True)
    return record


if __name__ == "__main__":
    main()
