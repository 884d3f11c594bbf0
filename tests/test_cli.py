"""Tests for ``python -m robustrep_lite``: a training run killed midway resumes to exactly the
weights of an uninterrupted run; the train-encoder -> train-head -> evaluate pipeline writes
JSON with provenance; bad arguments are refused; the parser (which the book's CLI page renders)
has the documented commands. Tiny quick-profile runs; ~10 s on 1 thread."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from robustrep_lite import cli
from robustrep_lite.cli import build_parser, main
from robustrep_lite.training.encoder import load_encoder

ROOT = Path(__file__).resolve().parents[1]
ENCODER = [
    "train-encoder",
    "--profile",
    "quick",
    "--dataset",
    "mnist",
    "--beta",
    "1",
    "--train-size",
    "128",
    "--batch-size",
    "32",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--no-progress",
]


#: The commands the module docstring documents, in its order (and the book's CLI page).
COMMANDS = ["train-encoder", "train-head", "evaluate", "table1"]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (argparse keeps them on its one subparsers action)."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_build_parser_has_the_documented_subcommands() -> None:
    parser = build_parser()
    assert parser.prog == "python -m robustrep_lite"
    commands = _subcommands(parser)
    assert list(commands) == COMMANDS
    # the module docstring's list of commands, which the API page shows, is the same set
    assert re.findall(r"^- ``([\w-]+)``:", cli.__doc__ or "", flags=re.M) == COMMANDS
    for name, sub in commands.items():
        assert sub.prog == f"python -m robustrep_lite {name}"
        options = {o for a in sub._actions for o in a.option_strings}
        assert {"--profile", "--seed", "--device", "--out"} <= options, name
    args = parser.parse_args(["table1", "--dataset", "mnist"])
    assert (args.command, args.dataset, args.seed) == ("table1", "mnist", 0)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    config = json.loads((folder / "encoder.json").read_text())["config"]
    run = load_encoder(folder / "encoder.pt", config)
    return {**run.encoder.state_dict(), **{f"c.{k}": v for k, v in run.critic.state_dict().items()}}


def test_a_killed_run_resumes_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    epochs = ["--epochs", "4"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ROBUSTREP_PROFILE": "quick"}
    out = ["--out", str(tmp_path / "k.json")]
    cmd = [
        sys.executable,
        "-m",
        "robustrep_lite",
        *ENCODER,
        *epochs,
        "--checkpoint-dir",
        str(killed),
    ]
    proc = subprocess.Popen(
        cmd + out, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = killed / "encoder.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    reached = torch.load(checkpoint, weights_only=False)["step"]
    assert 1 <= reached < 4, f"the run was not killed midway (checkpoint at epoch {reached})"
    assert not (killed / "encoder.json").exists()

    resumed = main([*ENCODER, *epochs, "--checkpoint-dir", str(killed), *out])
    fresh = main(
        [*ENCODER, *epochs, "--checkpoint-dir", str(whole), "--out", str(tmp_path / "w.json")]
    )
    a, b = _weights(killed), _weights(whole)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["history"]["loss"] == fresh["history"]["loss"]
    assert len(fresh["history"]["loss"]) == 4


def test_encoder_head_evaluate_pipeline_writes_results_with_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "enc"
    main(
        [
            *ENCODER,
            "--epochs",
            "1",
            "--checkpoint-dir",
            str(folder),
            "--out",
            str(tmp_path / "e.json"),
        ]
    )
    record = json.loads((tmp_path / "e.json").read_text())
    prov = record["provenance"]
    for key in ("profile", "data", "device", "seed", "torch", "git_commit", "time_utc"):
        assert key in prov, key
    assert prov["profile"] == "quick" and prov["seed"] == 0 and "embedded" in prov["data"]
    assert record["result"]["config"]["beta"] == 1.0 and record["arguments"]["beta"] == 1.0

    common = ["--encoder", str(folder), "--device", "cpu", "--no-progress"]
    # the heads run in the encoder's profile, whatever the default profile is now
    monkeypatch.setenv("ROBUSTREP_PROFILE", "cpu")
    head = main(
        ["train-head", *common, "--head", "mlp", "--epochs", "2", "--out", str(tmp_path / "h.json")]
    )
    assert head["name"] == "mlp_standard_seed0" and len(head["history"]["val_adv_accuracy"]) == 2
    best = head["history"]["best_epoch"]
    es = main(
        ["evaluate", *common, "--head", head["name"], "--es", "--out", str(tmp_path / "v.json")]
    )
    final = main(["evaluate", *common, "--head", head["name"], "--out", str(tmp_path / "f.json")])
    for r in (es, final):
        assert {"natural", "pgd", "strong", "strong_size"} <= set(r) and 0 <= r["natural"] <= 1
    if best == 2:  # E.S. picked the last epoch: the same weights
        assert es["natural"] == final["natural"] and es["pgd"] == final["pgd"]
    assert json.loads((tmp_path / "v.json").read_text())["result"]["es"] is True
    for name in ("h.json", "v.json", "f.json"):  # the encoder's profile, not the default
        assert json.loads((tmp_path / name).read_text())["provenance"]["profile"] == "quick"
    # --profile naming another profile than the encoder's is refused, naming both
    for command in (["train-head", "--head", "mlp"], ["evaluate", "--head", head["name"]]):
        with pytest.raises(SystemExit) as exc:
            main([*command, *common, "--profile", "cpu"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--profile cpu differs from the profile the encoder was trained in, quick" in err
    # the head trained on the encoder's own --train-size, and says so in its data description
    assert "first 128 train" in json.loads((tmp_path / "h.json").read_text())["provenance"]["data"]
    for bad in (["--epochs", "0"], ["--epochs", "-1"]):
        with pytest.raises(SystemExit):
            main(["train-head", *common, *bad])
    # a finished run asked for fewer epochs than it holds is refused, not relabelled
    with pytest.raises(ValueError, match="already holds 2 epochs"):
        main(["train-head", *common, "--head", "mlp", "--epochs", "1"])
    # re-running the finished head restores its weights instead of saving an untrained one
    again = main(["train-head", *common, "--head", "mlp", "--epochs", "2"])
    assert again["history"]["val_adv_accuracy"] == head["history"]["val_adv_accuracy"]
    again = main(["evaluate", *common, "--head", head["name"], "--profile", "quick"])
    assert again["natural"] == final["natural"]


@pytest.mark.parametrize(
    "bad",
    [
        ["--beta", "-1"],
        ["--beta", "nan"],
        ["--eps", "-0.1"],
        ["--dataset", "imagenet"],
        ["--epochs", "0"],
        ["--epochs", "-1"],
        ["--train-size", "0"],
        ["--batch-size", "two"],
        ["--micro-batches", "0"],
        ["--seed", "-1"],
        ["--seed", str(2**32)],
        ["--seed", "1.5"],
    ],
)
def test_bad_arguments_are_refused(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*ENCODER, *bad])
    assert exc.value.code == 2
    assert bad[0] in capsys.readouterr().err
