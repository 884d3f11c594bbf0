"""The settings table and profile selection, the chapter banner and the provenance record."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from robustrep_lite.book.chapter import setup_chapter
from robustrep_lite.core.runtime import git_commit, provenance, seed_everything
from robustrep_lite.experiments import settings
from robustrep_lite.experiments.settings import (
    PROFILES,
    SIZE_FIELDS,
    TrainSettings,
    ZooSettings,
    at_sizes_of,
)

ROOT = Path(__file__).resolve().parents[1]


def test_explicit_environment_variable_wins(monkeypatch) -> None:
    monkeypatch.setenv(settings.ENV_VAR, "paper")
    monkeypatch.setenv("CI", "true")
    assert settings.profile_settings().name == "paper"
    assert settings.profile_reason() == ("paper", "ROBUSTREP_PROFILE=paper")


def test_default_is_quick_under_ci_and_by_device_otherwise(monkeypatch) -> None:
    monkeypatch.delenv(settings.ENV_VAR, raising=False)
    monkeypatch.setenv("CI", "true")
    assert settings.profile_reason()[0] == "quick"
    monkeypatch.delenv("CI")
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert settings.profile_reason()[0] == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert settings.profile_reason() == (
        "gpu",
        "ROBUSTREP_PROFILE unset and a CUDA GPU is present",
    )


def test_unknown_profile_names_the_variable_and_the_choices(monkeypatch) -> None:
    monkeypatch.setenv(settings.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="ROBUSTREP_PROFILE must be one of .*quick.*cpu.*paper"):
        settings.profile_settings()
    with pytest.raises(ValueError, match="name"):
        settings.profile_settings("huge")


def test_profiles_grow_from_quick_to_paper() -> None:
    quick, cpu, gpu, paper = (settings.PROFILES[n] for n in settings.PROFILE_NAMES)
    assert quick.data_source == "embedded" and paper.table1.critic_units == 2048
    assert quick.monte_carlo_samples < cpu.monte_carlo_samples <= paper.monte_carlo_samples
    assert quick.table1.encoder_epochs < cpu.table1.encoder_epochs < paper.table1.encoder_epochs
    assert quick.table1.seeds <= cpu.table1.seeds <= paper.table1.seeds
    # gpu: the paper's networks on all the data, one seed, a time budget per encoder
    assert gpu.table1.critic_units == paper.table1.critic_units and gpu.train_size is None
    assert gpu.table1.seeds == 1 and gpu.table1.width == 1.0 and gpu.table1.pgd_steps == 7
    assert gpu.table1.train_size["cifar10"] is None and gpu.table1.encoder_budget_s
    assert gpu.table1.fast and not paper.table1.fast and paper.table1.encoder_budget_s is None


def test_every_section_belongs_to_its_profile() -> None:
    for name, profile in settings.PROFILES.items():
        assert profile.name == name
        assert profile.table1.profile == name and profile.comparison.profile == name
    assert set(settings.PROFILES) == set(settings.PROFILE_NAMES)
    assert set(settings.SECTIONS) == {
        f.name
        for f in dataclasses.fields(settings.ProfileSettings)
        if str(f.type).endswith("Settings")
    }


def test_markdown_renders_the_profile_and_every_section() -> None:
    table = settings.settings_markdown()
    assert table.splitlines()[0] == "| setting | `quick` | `cpu` | `gpu` | `paper` |"
    assert "| data_source | embedded | auto | auto | auto |" in table
    assert "| monte_carlo_samples | 20000 | 400000 | 2000000 | 2000000 |" in table
    assert "| name |" not in table and "| table1 |" not in table
    for section in settings.SECTIONS:
        rows = settings.settings_markdown(section).splitlines()[2:]
        kind = type(getattr(settings.PROFILES["cpu"], section))
        assert len(rows) == len([f for f in dataclasses.fields(kind) if f.name != "profile"])
    zoo = settings.settings_markdown("zoo")
    assert (
        "cifar10 resnet18 (adv eps=8/255)" in zoo and "| train_budget_s | all | all | 45.0 |" in zoo
    )
    with pytest.raises(ValueError, match="section"):
        settings.settings_markdown("profiles")


def _attribute_reads() -> set[str]:
    """Every attribute name read in the package (but the settings module), the benchmarks and the
    chapters' code cells (IPython magics blanked out)."""
    own = ROOT / "robustrep_lite" / "experiments" / "settings.py"
    sources = [p.read_text() for p in (ROOT / "robustrep_lite").rglob("*.py") if p != own]
    sources += [p.read_text() for p in sorted((ROOT / "bench").glob("*.py"))]
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                sources.append("\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", x) for x in lines))
    return {
        node.attr
        for source in sources
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
    }


def test_every_setting_is_read_by_some_code() -> None:
    kinds = [
        kind
        for _, kind in inspect.getmembers(settings, inspect.isclass)
        if dataclasses.is_dataclass(kind) and kind.__module__ == settings.__name__
    ]
    assert len(kinds) == 7
    reads = _attribute_reads()
    unread = [
        f"{kind.__name__}.{f.name}"
        for kind in kinds
        for f in dataclasses.fields(kind)
        if f.name not in reads
    ]
    assert not unread, f"settings no code reads (delete them or read them): {unread}"


def test_banner_states_profile_device_data_and_version(capsys, monkeypatch) -> None:
    monkeypatch.setenv(settings.ENV_VAR, "quick")
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

    cpu = settings.profile_settings("cpu")
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


def test_at_sizes_of_keeps_the_method_and_takes_every_size() -> None:
    """SIZE_FIELDS splits each kind of settings into sizes and method; a new field breaks this
    test until it is put on one side."""
    method = {
        TrainSettings: {
            "profile",
            "strong_attack",
            "critic_norm",
            "estimator",
            "lr",
            "head_lr",
            "augment",
            "grid_betas",
            "grid_eps_fractions",
            "encoder_budget_s",
            "fast",
        },
        ZooSettings: {"models", "eval_eps", "curve_eps", "lr", "train_budget_s"},
    }
    gpu, quick = PROFILES["gpu"], PROFILES["quick"]
    for kind, section in ((TrainSettings, "table1"), (ZooSettings, "zoo")):
        names = {f.name for f in dataclasses.fields(kind)}
        assert set(SIZE_FIELDS[kind]) | method[kind] == names
        assert not set(SIZE_FIELDS[kind]) & method[kind]
        small = at_sizes_of(getattr(gpu, section), getattr(quick, section))
        for name in names:
            source = quick if name in SIZE_FIELDS[kind] else gpu
            assert getattr(small, name) == getattr(getattr(source, section), name), name
    with pytest.raises(ValueError, match="must both be TrainSettings or both ZooSettings"):
        at_sizes_of(gpu.table1, quick.zoo)
