"""Profile selection, the chapter banner and the provenance record."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from robustrep_lite.book.chapter import setup_chapter
from robustrep_lite.core.runtime import git_commit, provenance, seed_everything
from robustrep_lite.experiments import profiles


def test_explicit_environment_variable_wins(monkeypatch) -> None:
    monkeypatch.setenv(profiles.ENV_VAR, "paper")
    monkeypatch.setenv("CI", "true")
    assert profiles.active_profile().name == "paper"
    assert profiles.profile_reason() == ("paper", "ROBUSTREP_PROFILE=paper")


def test_default_is_quick_under_ci_and_by_device_otherwise(monkeypatch) -> None:
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setenv("CI", "true")
    assert profiles.profile_reason()[0] == "quick"
    monkeypatch.delenv("CI")
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert profiles.profile_reason()[0] == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.profile_reason() == (
        "gpu",
        "ROBUSTREP_PROFILE unset and a CUDA GPU is present",
    )


def test_unknown_profile_names_the_variable_and_the_choices(monkeypatch) -> None:
    monkeypatch.setenv(profiles.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="ROBUSTREP_PROFILE must be one of .*quick.*cpu.*paper"):
        profiles.active_profile()
    with pytest.raises(ValueError, match="name"):
        profiles.active_profile("huge")


def test_profiles_grow_from_quick_to_paper() -> None:
    quick, cpu, gpu, paper = (profiles.PROFILES[n] for n in profiles.PROFILE_NAMES)
    assert quick.data_source == "embedded" and paper.critic_units == 2048 and paper.epochs == 500
    assert quick.epochs < cpu.epochs < paper.epochs and quick.seeds <= cpu.seeds <= paper.seeds
    # gpu: the paper's networks on all the data, one seed
    assert gpu.critic_units == paper.critic_units and gpu.train_size is None and gpu.seeds == 1
    table = profiles.profiles_markdown()
    assert table.count("\n") == 2 + 9 and "| critic_units | 32 | 256 | 2048 | 2048 |" in table


def test_every_settings_table_has_every_profile() -> None:
    from robustrep_lite.experiments import spectral_regularization as spectral_experiment
    from robustrep_lite.experiments import spectral_vs_mi, zoo
    from robustrep_lite.training import encoder as train

    for table in (
        train.SETTINGS,
        zoo._SETTINGS,
        spectral_experiment.SETTINGS,
        spectral_vs_mi.SETTINGS,
    ):
        assert set(table) == set(profiles.PROFILE_NAMES)
    gpu = train.SETTINGS["gpu"]
    assert gpu.width == 1.0 and gpu.critic_units == 2048 and gpu.pgd_steps == 7
    assert gpu.train_size["cifar10"] is None and gpu.encoder_budget_s and gpu.fast
    assert not train.SETTINGS["paper"].fast and train.SETTINGS["paper"].encoder_budget_s is None


def test_banner_states_profile_device_data_and_version(capsys, monkeypatch) -> None:
    monkeypatch.setenv(profiles.ENV_VAR, "quick")
    ctx = setup_chapter(seed=3)
    out = capsys.readouterr().out
    assert "profile: quick (ROBUSTREP_PROFILE=quick)" in out
    assert "device:  cpu" in out or "device:  cuda" in out
    assert "data:    embedded" in out and "robustrep_lite 0." in out and "seed:    3" in out
    assert ctx.profile.name == "quick" and ctx.seed == 3


def test_seeding_makes_torch_draws_repeatable() -> None:
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))


def test_provenance_has_every_field() -> None:
    record = provenance("cpu", "npz file x", torch.device("cpu"), 1)
    for key in ("robustrep_lite", "profile", "data", "device", "seed", "torch", "git_commit"):
        assert key in record


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_flags_changed_code_but_not_rewritten_outputs(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("lib/code.py", "bench/run.py", "bench/results/r.json", "book/ch.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("0\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    here = tmp_path / "lib"
    clean = git_commit(here)
    assert clean is not None and not clean.endswith("+modified")
    (tmp_path / "bench/results/r.json").write_text("1\n")  # a run rewrote its outputs
    (tmp_path / "book/ch.ipynb").write_text("1\n")
    (tmp_path / "bench/results/new.json").write_text("1\n")
    assert git_commit(here) == clean
    (tmp_path / "bench/run.py").write_text("1\n")  # code outside the package changed
    assert git_commit(here) == clean + "+modified"


def test_banner_names_the_data_folder_without_a_machine_path(monkeypatch) -> None:
    from robustrep_lite.book.chapter import describe_data

    cpu = profiles.active_profile("cpu")
    monkeypatch.setenv("ROBUSTREP_DATA", "/some/machine/folder")
    text = describe_data(cpu)
    assert "$ROBUSTREP_DATA" in text and "/some/machine" not in text
    monkeypatch.delenv("ROBUSTREP_DATA")
    assert "~/.cache/robustrep_lite/data" in describe_data(cpu)
    assert str(Path.home()) not in describe_data(cpu)


def test_a_copy_without_git_reports_the_stated_commit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ROBUSTREP_COMMIT", raising=False)
    assert git_commit(tmp_path) is None  # no checkout, nothing stated: no claim
    monkeypatch.setenv("ROBUSTREP_COMMIT", "abc1234")
    assert git_commit(tmp_path) == "abc1234 (stated)"
