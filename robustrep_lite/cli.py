"""Command line for Section 5 / Table 1: ``python -m robustrep_lite COMMAND ...``.

Commands (``--help`` on each for every option):

- ``train-encoder``: objective (5.2) with ``--beta`` on a profile's data; checkpoints every
  epoch to ``--checkpoint-dir`` (re-running the same command resumes a killed run) and writes
  ``encoder.json`` there (what ``train-head`` and ``evaluate`` need to rebuild it).
- ``train-head``: a linear or MLP head, standard or ``--robust``, on a trained encoder
  (``--encoder DIR``); keeps the final and the E.S. (best validation PGD accuracy) weights.
- ``evaluate``: natural, PGD-7 and stronger-attack accuracy of a head on the test images.
- ``table1``: the whole Table 1 grid (:func:`robustrep_lite.experiments.table1.table1`).

``train-head`` and ``evaluate`` run in the profile the encoder was trained in (``profile`` in
its ``encoder.json``), which gives their data and settings; ``--profile`` on them is only a
check, refused when it names another profile.

Every command writes its result as JSON (``--out``) with its arguments and the provenance of
the run (profile, data, device, versions, seed, git commit). Multi-GPU:
``torchrun --nproc_per_node=N -m robustrep_lite train-encoder ...`` (one chunk of
``batch_size`` images per process and step; see :mod:`robustrep_lite.training.distributed`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from robustrep_lite.core.results import read_json, save_result, strict_json
from robustrep_lite.core.runtime import default_device, provenance
from robustrep_lite.core.validation import check_seed
from robustrep_lite.experiments.settings import PROFILE_NAMES, profile_settings
from robustrep_lite.experiments.table1 import (
    encoder_config,
    evaluate_head,
    head_config,
    head_evaluation,
    new_head,
    prepare_data,
    table1,
    train_head,
)
from robustrep_lite.training import distributed
from robustrep_lite.training.checkpoint import checkpoint_root, load_checkpoint, save_checkpoint
from robustrep_lite.training.encoder import (
    ENCODER_ESTIMATORS,
    THREAT_MODELS,
    load_encoder,
    train_encoder,
)

__all__ = ["build_parser", "main"]


def _nonnegative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        return check_seed("seed", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, 2**32 - 1], got {text!r}"
        ) from None


def _device(text: str) -> str:
    try:
        torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"must be a torch device such as cpu, cuda or cuda:1, got {text!r}"
        ) from None
    return text


def _encoder_dir(text: str) -> Path:
    folder = Path(text)
    if not (folder / "encoder.json").is_file():
        raise argparse.ArgumentTypeError(
            "must be the --checkpoint-dir of a finished train-encoder run, holding its "
            f"encoder.json, got {text!r} (no encoder.json there)"
        )
    return folder


def _common(
    p: argparse.ArgumentParser,
    out: str,
    profile: str = "default: $ROBUSTREP_PROFILE, else quick on CI, gpu with CUDA, else cpu",
) -> None:
    p.add_argument("--profile", choices=PROFILE_NAMES, help=profile)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--device", type=_device, help="cpu, cuda, cuda:1, ... (default: CUDA if available)"
    )
    p.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    p.add_argument("--out", type=Path, help=f"result JSON (default: {out})")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")


#: ``--profile`` of the commands on a trained encoder, whose encoder.json names its profile
_ENCODER_PROFILE = "the encoder's profile (its encoder.json's), the default; another is refused"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m robustrep_lite``: one subcommand per step of Section 5's
    experiment (``train-encoder`` trains by objective (5.2), ``train-head`` and ``evaluate`` the
    classifier on top of it, ``table1`` the whole grid of Table 1).

    :func:`main` parses with it, and the book's command-line reference (``book/cli.md``) is
    rendered from it, so the options documented there are the ones the command accepts."""
    ap = argparse.ArgumentParser(
        prog="python -m robustrep_lite", description=__doc__.split("\n")[0]
    )
    sub = ap.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("train-encoder", help="train a representation by objective (5.2)")
    _common(enc, "results/<the checkpoint folder's name>.json")
    enc.add_argument("--dataset", choices=tuple(THREAT_MODELS), default="cifar10")
    enc.add_argument("--beta", type=_nonnegative, default=1.0, help="0: standard, 1: the paper's")
    enc.add_argument("--eps", type=_nonnegative, help="PGD radius (default: the data set's)")
    enc.add_argument("--estimator", choices=ENCODER_ESTIMATORS, help="default: the profile's")
    enc.add_argument("--epochs", type=_positive_int, help="default: the profile's")
    enc.add_argument(
        "--train-size", type=_positive_int, help="training images (default: the profile's)"
    )
    enc.add_argument("--batch-size", type=_positive_int, help="per chunk (default: the profile's)")
    enc.add_argument(
        "--micro-batches", type=_positive_int, default=1, help="chunks per process and step"
    )
    enc.add_argument(
        "--checkpoint-dir", type=Path, help="default $ROBUSTREP_CHECKPOINTS/encoders/..."
    )

    head = sub.add_parser("train-head", help="train a head on a trained encoder")
    _common(head, "ENCODER/<head>_<standard|robust>_seed<seed>.result.json", _ENCODER_PROFILE)
    head.add_argument(
        "--encoder", type=_encoder_dir, required=True, help="a train-encoder directory"
    )
    head.add_argument("--head", choices=("linear", "mlp"), default="linear")
    head.add_argument("--robust", action="store_true", help="adversarial training of the head")
    head.add_argument("--epochs", type=_positive_int, help="default: the profile's")

    ev = sub.add_parser("evaluate", help="accuracy of a trained head, natural and attacked")
    _common(ev, "ENCODER/<head>[_es].eval.json, _es for the E.S. weights", _ENCODER_PROFILE)
    ev.add_argument("--encoder", type=_encoder_dir, required=True, help="a train-encoder directory")
    ev.add_argument("--head", required=True, help="a train-head name, e.g. linear_standard_seed0")
    ev.add_argument("--es", action="store_true", help="the E.S. weights instead of the final")
    ev.add_argument("--eps", type=_nonnegative, help="attack radius (default: the data set's)")

    t1 = sub.add_parser("table1", help="the whole Table 1 grid")
    _common(t1, "results/table1_<dataset>_<profile>.json")
    t1.add_argument("--dataset", choices=tuple(THREAT_MODELS), default="cifar10")
    t1.add_argument("--seeds", type=_positive_int, help="default: the profile's")
    t1.add_argument(
        "--checkpoint-dir", type=Path, help="default $ROBUSTREP_CHECKPOINTS/table1/<profile>"
    )
    return ap


def _write(
    args: argparse.Namespace,
    result: dict[str, Any],
    data: str,
    default: Path,
    profile: str | None = None,
) -> Path:
    """Write ``result`` with the arguments and provenance to ``--out`` (else ``default``); the
    provenance names ``profile``, by default that of ``--profile``."""
    profile = profile or profile_settings(args.profile).name
    device = torch.device(args.device) if args.device else default_device()
    record = {
        "command": args.command,
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "provenance": provenance(profile, data, device, args.seed),
        "result": result,
    }
    return save_result(record, args.out or default)


def _train_encoder(args: argparse.Namespace) -> dict[str, Any]:
    s = profile_settings(args.profile).table1
    if args.train_size is not None:
        s = dataclasses.replace(s, train_size={**s.train_size, args.dataset: args.train_size})
    data = prepare_data(args.dataset, s)
    base = encoder_config(s, args.dataset, int(data.x_fit.shape[1]))
    chosen = {k: getattr(args, k) for k in ("eps", "estimator", "epochs", "batch_size")}
    config = dataclasses.replace(
        base,
        beta=args.beta,
        micro_batches=args.micro_batches,
        **{k: v for k, v in chosen.items() if v is not None},
    )
    folder = args.checkpoint_dir or checkpoint_root() / "encoders" / (
        f"{args.dataset}_{s.profile}_beta{args.beta:g}_seed{args.seed}"
    )
    run = train_encoder(
        data.x_fit,
        config,
        checkpoint=folder / "encoder.pt",
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
    )
    result = {
        "dataset": args.dataset,
        "profile": s.profile,
        "train_size": s.train_size[args.dataset],
        "config": run.config,
        "history": dataclasses.asdict(run.history),
        "checkpoint": str(folder / "encoder.pt"),
    }
    if distributed.is_main():
        (folder / "encoder.json").write_text(json.dumps(strict_json(result), indent=1))
        _write(args, result, data.description, Path("results") / f"{folder.name}.json")
    return result


def _encoder_data(meta: dict[str, Any]) -> tuple[Any, Any]:
    """The data an encoder was trained on (its profile's, with the ``--train-size`` it was given),
    so that its heads train and are evaluated on the same split."""
    s = profile_settings(meta["profile"]).table1
    if meta.get("train_size") is not None:
        s = dataclasses.replace(s, train_size={**s.train_size, meta["dataset"]: meta["train_size"]})
    return prepare_data(meta["dataset"], s), s


def _encoder_from(folder: Path, device: str | None) -> tuple[Any, dict[str, Any]]:
    meta = read_json(folder / "encoder.json")
    run = load_encoder(folder / "encoder.pt", meta["config"], device or default_device())
    return run, meta


def _train_head(args: argparse.Namespace) -> dict[str, Any]:
    run, meta = _encoder_from(args.encoder, args.device)
    data, s = _encoder_data(meta)
    name = f"{args.head}_{'robust' if args.robust else 'standard'}_seed{args.seed}"
    head = new_head(run, args.head, seed=args.seed)
    config = head_config(s, meta["dataset"], robust=args.robust)
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs)
    history = train_head(
        run.encoder,
        head,
        data.x_fit,
        data.y_fit,
        config,
        x_val=data.x_val,
        y_val=data.y_val,
        checkpoint=args.encoder / f"{name}.train.pt",
        seed=args.seed,
        progress=not args.no_progress,
    )
    save_checkpoint(
        args.encoder / f"{name}.pt",
        step=len(history.loss),
        modules={"head": head},
        extra={"es_state": history.best_state},
    )
    record = dataclasses.asdict(history)
    record.pop("best_state")
    result = {"head": args.head, "robust": args.robust, "name": name, "history": record}
    (args.encoder / f"{name}.json").write_text(json.dumps(strict_json(result), indent=1))
    _write(args, result, data.description, args.encoder / f"{name}.result.json", meta["profile"])
    return result


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    run, meta = _encoder_from(args.encoder, args.device)
    data, s = _encoder_data(meta)
    evaluation = head_evaluation(s, meta["dataset"])
    if args.eps is not None:  # the data set's PGD step, at another radius
        evaluation = dataclasses.replace(evaluation, eps=args.eps)
    spec = read_json(args.encoder / f"{args.head}.json")
    head = new_head(run, spec["head"])  # its weights come from the checkpoint
    state = load_checkpoint(args.encoder / f"{args.head}.pt", modules={"head": head})
    if state is None:
        raise FileNotFoundError(f"no head checkpoint {args.encoder / args.head}.pt")
    if args.es:
        head.load_state_dict(state["extra"]["es_state"])
    result = evaluate_head(run.encoder, head, data.x_test, data.y_test, evaluation, seed=args.seed)
    result.update({"head": args.head, "es": args.es, "strong_attack": s.strong_attack})
    suffix = "_es" if args.es else ""
    default = args.encoder / f"{args.head}{suffix}.eval.json"
    _write(args, result, data.description, default, meta["profile"])
    return result


def _table1(args: argparse.Namespace) -> dict[str, Any]:
    profile = profile_settings(args.profile).name
    result = table1(
        args.dataset,
        profile,
        seeds=args.seeds,
        checkpoint_dir=args.checkpoint_dir or checkpoint_root() / "table1" / profile,
        device=args.device,
        progress=not args.no_progress,
    )
    _write(args, result, result["data"], Path(f"results/table1_{args.dataset}_{profile}.json"))
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one command (``argv`` defaults to ``sys.argv[1:]``); returns its result dict."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("train-head", "evaluate") and args.profile is not None:
        trained_in = read_json(args.encoder / "encoder.json")["profile"]
        if args.profile != trained_in:
            parser.error(
                f"--profile {args.profile} differs from the profile the encoder was trained in, "
                f"{trained_in} ({args.encoder / 'encoder.json'}), which sets the data and "
                f"settings of {args.command}: leave --profile out or pass {trained_in}"
            )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = distributed.init_from_env()
    if device is not None and args.device is None:
        args.device = str(device)
    commands = {
        "train-encoder": _train_encoder,
        "train-head": _train_head,
        "evaluate": _evaluate,
        "table1": _table1,
    }
    return commands[args.command](args)
