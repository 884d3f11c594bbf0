"""Bad arguments end in a ``ValueError`` naming the argument (never a silent 0.0, an empty table,
a wrapped slice, a ``KeyError`` or a NaN), and a run's checkpoint lock is held for the whole
run. One test per entry point; the valid calls beside them keep their results."""

from __future__ import annotations

import dataclasses
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_run import train
from torch import nn

import robustrep_lite.experiments.table1 as table1_module
from robustrep_lite.adversarial.attacks import perturb_in_box
from robustrep_lite.adversarial.robust_distance import first_correct
from robustrep_lite.experiments.mi_staircase import summarise_levels
from robustrep_lite.experiments.settings import PROFILES
from robustrep_lite.experiments.spectral_regularization import BurninConfig
from robustrep_lite.experiments.table1 import (
    HeadConfig,
    HeadEvaluation,
    encoder_config,
    evaluate_head,
    grid_cell,
    head_config,
    head_evaluation,
    table1,
    train_head,
)
from robustrep_lite.mi.critics import LocalDIMCritic
from robustrep_lite.mi.fit import (
    CriticConfig,
    MarginalTransform,
    eval_batches,
    make_critic,
    split_sizes,
)
from robustrep_lite.training.checkpoint import exclusive_run
from robustrep_lite.training.data import embedded_color_patterns, load_dataset
from robustrep_lite.training.encoder import (
    THREAT_MODELS,
    EncoderConfig,
    load_encoder,
    mi_readout,
    saliency_share,
)
from robustrep_lite.training.models import mlp_head
from robustrep_lite.training.supervised import NATURAL, ClassifierConfig, robust_accuracy

QUICK = PROFILES["quick"].table1
TINY = {
    "epochs": 1,
    "batch_size": 8,
    "lr": 1e-3,
    "width": 0.0625,
    "critic_units": 8,
    "pgd_steps": 1,
    "step_size": 0.05,
    "eps": 0.1,
    "critic_norm": "layer",
}


def _model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = torch.rand(10, 4)
    return model, x, model(x).argmax(1).detach()


def _images(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


# 1. robust_accuracy
@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True])
def test_robust_accuracy_rejects_a_batch_size_below_one(batch_size: object) -> None:
    model, x, y = _model()
    assert robust_accuracy(model, x, y, NATURAL, batch_size=3) == 1.0
    with pytest.raises(ValueError, match="batch_size"):
        robust_accuracy(model, x, y, NATURAL, batch_size=batch_size)


@pytest.mark.parametrize("shift", [100, -5])
def test_robust_accuracy_rejects_labels_that_are_not_classes_of_the_model(shift: int) -> None:
    model, x, y = _model()
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 3\)"):
        robust_accuracy(model, x, y + shift, NATURAL)


# 2. evaluate_head
@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("strong_size", -7, "strong_size must be an integer >= 1"),
        ("strong_size", 0, "strong_size must be an integer >= 1"),
        ("strong_size", 1.5, "strong_size must be an integer >= 1"),
        ("eps", -0.1, "eps must be >= 0"),
        ("eps", math.nan, "eps must be finite"),
        ("pgd_steps", -1, "pgd_steps must be an integer >= 0"),
        ("step_size", -0.01, "step_size must be >= 0"),
        ("strong_attack", "none", r"strong_attack must be one of \('pgd', 'apgd', 'autoattack'"),
        ("strong_attack", "fgsm", "strong_attack must be one of"),
    ],
)
def test_head_evaluation_refuses_a_bad_setting_by_name(field: str, value: object, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        HeadEvaluation(**{"eps": 0.01, "strong_attack": "pgd", field: value})


def test_evaluate_head_caps_the_strong_attack_at_the_points_it_is_given() -> None:
    torch.manual_seed(0)
    encoder, head = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), nn.Linear(3, 2)
    x, y = torch.rand(10, 1, 2, 2), torch.randint(0, 2, (10,))
    out = evaluate_head(encoder, head, x, y, HeadEvaluation(eps=0.01, strong_size=50))
    assert out["strong_size"] == 10 and out["pgd_subset"] == out["pgd"]
    plain = evaluate_head(encoder, head, x, y, HeadEvaluation(eps=0.01, strong_attack=None))
    assert list(plain) == ["natural", "pgd"] and plain["pgd"] == out["pgd"]


def test_a_profile_evaluates_heads_at_its_threat_model() -> None:
    s = PROFILES["quick"].table1
    tm = THREAT_MODELS["fashion_mnist"]
    assert head_evaluation(s, "fashion_mnist") == HeadEvaluation(
        eps=tm["eps"],
        pgd_steps=s.pgd_steps,
        step_size=tm["step_size"],
        strong_attack=s.strong_attack,
        strong_size=s.strong_size,
    )
    with pytest.raises(ValueError, match="dataset must be one of"):
        head_evaluation(s, "imagenet")


# 3. load_encoder
def test_load_encoder_rejects_a_config_that_disagrees_with_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "encoder.pt"
    run = train(_images(16), checkpoint=path, progress=False, clip=math.inf, **TINY)
    assert load_encoder(path, run.config).config == run.config
    # a strict JSON record (strict_json) writes the infinite clip as null: the two agree
    load_encoder(path, {**run.config, "clip": None})
    keys = ("seed", "in_channels", "image_size", "rep_dim", "width", "critic_units", "critic_norm")
    load_encoder(path, {k: run.config[k] for k in keys})  # only the keys given are compared
    other = {**run.config, "estimator": "infonce", "eps": 0.5}
    with pytest.raises(ValueError, match=r"config disagrees.*eps=0.5 \(checkpoint: 0.1\)"):
        load_encoder(path, other)
    with pytest.raises(ValueError, match=r"estimator='infonce' \(checkpoint: 'dv'\)"):
        load_encoder(path, other)
    with pytest.raises(ValueError, match=r"clip=5.0 \(checkpoint: inf\)"):
        load_encoder(path, {**run.config, "clip": 5.0})


# 4. train_head's lock
def test_train_head_holds_its_checkpoint_lock_between_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "head.pt"
    seen: list[str] = []
    validate = table1_module.robust_accuracy

    def attempt() -> None:  # a second run, in another thread
        try:
            with exclusive_run(checkpoint):
                seen.append("acquired")
        except ValueError:
            seen.append("refused")

    def second_run(*args: object, **kwargs: object) -> float:
        other = threading.Thread(target=attempt)
        other.start()
        other.join()
        return validate(*args, **kwargs)

    monkeypatch.setattr(table1_module, "robust_accuracy", second_run)
    torch.manual_seed(0)
    encoder, head = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), nn.Linear(3, 2)
    x, y = torch.rand(32, 1, 2, 2), torch.randint(0, 2, (32,))
    config = HeadConfig(epochs=2, batch_size=8)
    train_head(
        encoder, head, x, y, config, x_val=x[:8], y_val=y[:8], checkpoint=checkpoint, progress=False
    )
    assert seen == ["refused"] * 4  # natural and PGD validation, two epochs
    assert not Path(f"{checkpoint}.lock").exists()


def test_a_nested_exclusive_run_passes_inner_runs_of_its_thread_only(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.pt"
    with exclusive_run(checkpoint, nested=True):
        with exclusive_run(checkpoint):  # an inner run of the same run
            pass
        assert Path(f"{checkpoint}.lock").exists()  # the inner run did not release it
    assert not Path(f"{checkpoint}.lock").exists()
    with exclusive_run(checkpoint), pytest.raises(ValueError, match="in use by another run"):
        with exclusive_run(checkpoint):  # without nested=True, as before
            pass


# 5. table1 and its settings
def test_table1_rejects_zero_seeds() -> None:
    with pytest.raises(ValueError, match="seeds"):
        table1("mnist", "quick", seeds=0, progress=False)


@pytest.mark.parametrize(
    "call",
    [
        lambda: head_config(QUICK, "cifar", robust=True),
        lambda: encoder_config(QUICK, "CIFAR10", 3),
        lambda: grid_cell(None, "cifar", QUICK, beta=1.0, eps=0.1),  # type: ignore[arg-type]
    ],
    ids=["head_config", "encoder_config", "grid_cell"],
)
def test_table1_settings_reject_an_unknown_data_set(call) -> None:
    with pytest.raises(ValueError, match=r"dataset must be one of \('mnist'"):
        call()


@pytest.mark.parametrize(
    "change",
    [
        {"seeds": 0},
        {"val_size": -1},
        {"strong_size": 0},
        {"batch_size": 1},
        {"head_lr": 0.0},
        {"width": -1.0},
        {"strong_attack": "fgsm"},
        {"encoder_budget_s": 0.0},
        {"train_size": {"mnist": 0}},
        {"test_size": True},
    ],
)
def test_train_settings_reject_bad_values(change: dict[str, object]) -> None:
    name = next(iter(change))
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(QUICK, **change)


# 6. mi_readout
def test_mi_readout_rejects_a_batch_size_of_zero() -> None:
    x = _images(16)
    run = train(x, progress=False, **TINY)
    assert {"mi", "worst_mi"} <= set(mi_readout(run, x, batch_size=8))
    with pytest.raises(ValueError, match="batch_size"):
        mi_readout(run, x, batch_size=0)


# 7. make_critic
def test_make_critic_rejects_an_unresolved_auto_critic() -> None:
    x, y = torch.rand(4, 3), torch.rand(4, 2)
    with pytest.raises(ValueError, match="critic='auto' must be resolved first"):
        make_critic(CriticConfig(critic="auto", hidden=16), x, y, 0)
    bypass = CriticConfig(critic="separable", hidden=16)
    object.__setattr__(bypass, "critic", "image")
    with pytest.raises(ValueError, match=r"critic must be one of \('separable', 'joint', 'local'"):
        make_critic(bypass, x, y, 0)
    images = torch.rand(4, 1, 28, 28)
    local = make_critic(CriticConfig(critic="local", hidden=8), images, y, 0)
    assert isinstance(local, LocalDIMCritic)


# 8. data sizes
@pytest.mark.parametrize(("n_train", "n_test"), [(-5, 250), (0, 250), (10, -10), (10, 0)])
def test_embedded_color_patterns_rejects_sizes_below_one(n_train: int, n_test: int) -> None:
    with pytest.raises(ValueError, match="n_train" if n_train < 1 else "n_test"):
        embedded_color_patterns(n_train=n_train, n_test=n_test)


@pytest.mark.parametrize("size", [True, -3, 0, 2.0])
def test_load_dataset_rejects_a_bool_or_non_positive_size(size: object) -> None:
    with pytest.raises(ValueError, match="train_size"):
        load_dataset("mnist", source="embedded", train_size=size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_size"):
        load_dataset("mnist", source="embedded", test_size=size)  # type: ignore[arg-type]


def test_load_dataset_says_when_a_size_exceeds_the_source() -> None:
    asked = load_dataset("mnist", source="embedded", train_size=60_000, test_size=100)
    assert len(asked.x_train) == 1500  # the whole embedded training split, as before
    assert "60000 train images asked for, the source holds 1500" in asked.description
    within = load_dataset("mnist", source="embedded", train_size=256, test_size=128)
    assert "asked for" not in within.description
    assert within.description.endswith("; first 256 train / 128 test images")


# 9. counts used as slices
@pytest.mark.parametrize("last", [0, -3])
def test_summarise_levels_rejects_last_below_one(last: int) -> None:
    curve = np.arange(20.0)
    assert summarise_levels(curve, [0.0, 0.0], (2.0, 4.0), 10, 1, last=3)[0]["mean"] == 8.0
    with pytest.raises(ValueError, match="last"):
        summarise_levels(curve, [0.0, 0.0], (2.0, 4.0), 10, 1, last=last)


def test_first_correct_rejects_a_negative_count() -> None:
    torch.manual_seed(0)
    model, x = nn.Linear(2, 2), torch.rand(6, 2)
    y = model(x).argmax(1).detach()
    assert first_correct(model, x, y, 2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        first_correct(model, x, y, -1)


def test_eval_batches_rejects_a_batch_size_below_one() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        eval_batches(torch.arange(10), -5)


@pytest.mark.parametrize(
    ("validation", "holdout", "name"),
    [
        (-0.5, 0.2, "validation_fraction"),
        (0.2, 1.2, "holdout_fraction"),
        (0.6, 0.5, r"validation_fraction \+ holdout_fraction"),
    ],
)
def test_split_sizes_rejects_fractions_outside_the_unit_interval(
    validation: float, holdout: float, name: str
) -> None:
    assert split_sizes(100, 0.2, 0.2) == (60, 20, 20)
    with pytest.raises(ValueError, match=name):
        split_sizes(100, validation, holdout)


# 10. config objects
@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: ClassifierConfig(epochs=1, lr=0.0), "lr"),
        (lambda: BurninConfig(epochs=1, burnin=0, lr=0.0), "lr"),
        (lambda: BurninConfig(epochs=1, burnin=0, momentum=5.0), "momentum"),
        (lambda: BurninConfig(epochs=1, burnin=0, momentum=-0.1), "momentum"),
        (lambda: EncoderConfig(rep_dim=0), "rep_dim"),
        (lambda: EncoderConfig(critic_units=0), "critic_units"),
        (lambda: LocalDIMCritic(1, 4, units=0), "units"),
    ],
)
def test_configs_reject_bad_rates_and_sizes(make, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must"):
        make()


# 11. silent NaN
@pytest.mark.parametrize(("low", "high", "name"), [(math.nan, 1.0, "low"), (0.0, math.nan, "high")])
def test_perturb_in_box_rejects_nan_bounds(low: float, high: float, name: str) -> None:
    x = torch.full((1, 3), 0.5)
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        perturb_in_box(x, torch.zeros(1, 3), low=low, high=high)


def test_saliency_share_rejects_all_zero_maps_and_non_binary_masks() -> None:
    maps = torch.ones(2, 2, 2)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]])
    torch.testing.assert_close(saliency_share(maps, mask), torch.tensor([0.25, 0.5]))
    torch.testing.assert_close(saliency_share(maps, mask.bool()), torch.tensor([0.25, 0.5]))
    with pytest.raises(ValueError, match=r"maps must each have a total saliency.*\[1\]"):
        saliency_share(torch.stack([maps[0], torch.zeros(2, 2)]), mask)
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        saliency_share(maps, torch.full((2, 2, 2), 5.0))
    with pytest.raises(ValueError, match="maps must contain only finite values"):
        saliency_share(torch.full((2, 2, 2), math.nan), mask)


@pytest.mark.parametrize("kind", ["rank", "standardize"])
def test_marginal_transform_rejects_nan_data_to_fit_on(kind: str) -> None:
    fit = torch.tensor([[0.0], [1.0], [math.nan], [3.0]])
    with pytest.raises(ValueError, match="fit_on"):
        MarginalTransform(kind, fit)
    assert MarginalTransform("none", fit)(fit) is fit  # nothing is fitted


# 12. type hints
def test_mlp_head_and_local_critic_are_annotated() -> None:
    assert mlp_head.__annotations__["return"] == "nn.Sequential"
    assert LocalDIMCritic.__init__.__annotations__["return"] == "None"


# 13. the command line: every bad option is argparse's usage error naming it, before any work
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["--beta", "abc"], "--beta: must be a finite number >= 0, got 'abc'"),
        (["--threads", "0"], "--threads: must be an integer >= 1, got '0'"),
        (["--device", "gpu9"], "--device: must be a torch device such as cpu, cuda or cuda:1"),
    ],
)
def test_the_cli_refuses_a_bad_option_by_name(
    bad: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from robustrep_lite.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train-encoder", "--dataset", "mnist", "--profile", "quick", *bad])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["train-head"], ["evaluate", "--head", "linear_standard_seed0"]]
)
def test_the_cli_refuses_an_encoder_folder_without_encoder_json(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from robustrep_lite.cli import main

    (tmp_path / "encoder.pt").write_bytes(b"")  # a killed train-encoder run: no encoder.json yet
    with pytest.raises(SystemExit) as exc:
        main([*command, "--encoder", str(tmp_path), "--profile", "quick"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--encoder: must be the --checkpoint-dir of a finished train-encoder run" in err
    assert f"got '{tmp_path}' (no encoder.json there)" in err
