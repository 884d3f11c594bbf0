"""Checkpoints are read weights-only: a crafted file cannot run code, and every unreadable file
is one ValueError that names it (hardening: safe checkpoints, corrupt files)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from robustrep_lite.training.checkpoint import (
    CHECKPOINTS_ENV_VAR,
    checkpoint_root,
    load_checkpoint,
    save_checkpoint,
)


class _Payload:
    """Unpickling this calls os.system, which would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip(tmp_path):
    net = nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "c.pt", step=4, modules={"net": net}, extra={"h": [1.5]})
    other = nn.Linear(3, 2)
    out = load_checkpoint(path, modules={"net": other})
    assert out == {"step": 4, "extra": {"h": [1.5]}}
    assert torch.equal(other.weight, net.weight)


def test_crafted_checkpoint_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "encoder.pt"
    # a checkpoint-shaped payload whose "extra" carries the code to run
    payload = {
        "step": 1,
        "modules": {"net": nn.Linear(2, 2).state_dict()},
        "optimizers": {},
        "extra": {"x": _Payload(marker)},
        "settings": None,
        "rng": {"torch": torch.get_rng_state()},
    }
    torch.save(payload, evil)
    with pytest.raises(ValueError, match=f"checkpoint {evil} cannot be read as a weights-only"):
        load_checkpoint(evil, modules={"net": nn.Linear(2, 2)})
    assert not marker.exists()
    # a plain pickle (not torch's zip format) is refused the same way
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match="plain.pt"):
        load_checkpoint(plain, modules={"net": nn.Linear(2, 2)})
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 10, os.urandom(512), "truncated"],
    ids=["empty", "zeros", "random", "truncated"],
)
def test_corrupt_checkpoint_names_the_file(tmp_path, content):
    path = tmp_path / "run" / "encoder.pt"
    if content == "truncated":
        save_checkpoint(path, step=1, modules={"net": nn.Linear(4, 4)})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"checkpoint {path} .*delete it"):
        load_checkpoint(path, modules={"net": nn.Linear(4, 4)})


def test_foreign_torch_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match="not one of this library's checkpoints"):
        load_checkpoint(path, modules={"net": nn.Linear(2, 2)})


def test_checkpoint_root_is_the_environment_folder_or_checkpoints(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(CHECKPOINTS_ENV_VAR, str(tmp_path / "drive"))
    assert checkpoint_root() == tmp_path / "drive"
    monkeypatch.delenv(CHECKPOINTS_ENV_VAR)
    assert checkpoint_root() == Path("checkpoints")
    monkeypatch.setenv(CHECKPOINTS_ENV_VAR, "")
    assert checkpoint_root() == Path("checkpoints")
