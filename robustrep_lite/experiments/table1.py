"""Downstream classification on learned representations: Table 1 of Zhu, Zhang & Evans (2020).

- :func:`train_head`: a linear or MLP head on a *frozen* encoder, standard or adversarially
  trained (PGD through the encoder; settings :class:`HeadConfig`, a profile's by
  :func:`head_config`), a thin wrapper over
  :func:`robustrep_lite.training.supervised.train_classifier`, recording per epoch the validation
  accuracy under PGD so that early stopping ("E.S.") can be chosen on a validation split carved
  from the training images (the paper chose it on the test set).
- :func:`evaluate_head`: natural accuracy, the paper's PGD-7, and a stronger standard attack
  (APGD-CE + APGD-T, or AutoAttack), by Croce & Hein's own code (settings
  :class:`HeadEvaluation`, a profile's by :func:`head_evaluation`).
- :func:`prepare_data`: a profile's data with that validation split.
- :func:`table1`: the whole grid -- representations standard (beta = 0) and worst-case MI
  (beta = 1) x heads standard, standard (E.S.) and robust x linear and MLP, over seeds --
  resumable, as a JSON-able dict, next to the paper's Table 1
  (:data:`~robustrep_lite.core.paper_numbers.PAPER_TABLE1`); :func:`summarise` gives mean and
  standard deviation over seeds per cell.

Encoders come from :func:`robustrep_lite.training.encoder.train_encoder`; settings per profile are
the ``table1`` sections of :mod:`robustrep_lite.experiments.settings`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.search import AttackConfig, frozen
from robustrep_lite.adversarial.vulnerability import RV_CRITIC, representation_vulnerability
from robustrep_lite.core.paper_numbers import PAPER_TABLE1
from robustrep_lite.core.results import load_cached, save_cached
from robustrep_lite.core.runtime import default_device
from robustrep_lite.core.validation import check_choice, check_int, check_nonnegative, check_seed
from robustrep_lite.experiments.settings import TrainSettings, profile_settings
from robustrep_lite.training.checkpoint import exclusive_run, load_checkpoint, save_checkpoint
from robustrep_lite.training.data import load_dataset
from robustrep_lite.training.encoder import (
    THREAT_MODELS,
    EncoderConfig,
    EncoderRun,
    mi_readout,
    train_encoder,
)
from robustrep_lite.training.models import linear_head, mlp_head
from robustrep_lite.training.supervised import (
    ATTACKS,
    NATURAL,
    ClassifierConfig,
    Evaluation,
    robust_accuracy,
    train_classifier,
)

__all__ = [
    "Data",
    "STRONG_ATTACKS",
    "HeadConfig",
    "HeadEvaluation",
    "HeadHistory",
    "beta_eps_grid",
    "cell_settings",
    "encoder_config",
    "encoder_vulnerability",
    "evaluate_head",
    "fit_linear_head",
    "grid_cell",
    "head_config",
    "head_evaluation",
    "new_head",
    "prepare_data",
    "summarise",
    "table1",
    "train_head",
]


@dataclass(frozen=True)
class HeadConfig:
    """How :func:`train_head` trains a Table 1 head: ``epochs`` of Adam at ``lr`` on mini-batches
    of ``batch_size`` (``augment``: random crop and flip), standard for ``eps = 0`` and robust
    for ``eps > 0`` (PGD through the frozen encoder, ``pgd_steps`` of ``step_size`` from a random
    start: Madry et al. 2018, as the paper trains its robust heads). Validation scores each
    epoch by the paper's PGD at ``val_eps`` (``pgd_steps`` of ``step_size``, no random start)."""

    epochs: int
    eps: float = 0.0
    val_eps: float = 8 / 255
    pgd_steps: int = 7
    step_size: float = 0.01
    batch_size: int = 128
    lr: float = 1e-4
    augment: bool = False

    def __post_init__(self) -> None:
        _ = self.training, self.validation  # their checks cover every field

    @property
    def training(self) -> ClassifierConfig:
        """The head's :func:`~robustrep_lite.training.supervised.train_classifier` settings."""
        return ClassifierConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            eps=self.eps,
            pgd_steps=self.pgd_steps,
            step_size=self.step_size,
            augment=self.augment,
        )

    @property
    def validation(self) -> Evaluation:
        """The PGD that scores each epoch on validation data."""
        return Evaluation(eps=self.val_eps, steps=self.pgd_steps, step_size=self.step_size)


#: The stronger attacks :func:`evaluate_head` can add to PGD (``"apgd"``: APGD-CE + APGD-T,
#: ``"autoattack"``: standard AutoAttack, Croce & Hein 2020; ``"pgd"``: PGD again).
STRONG_ATTACKS = tuple(attack for attack in ATTACKS if attack != "none")


@dataclass(frozen=True)
class HeadEvaluation:
    """How :func:`evaluate_head` scores a Table 1 head on test images: natural accuracy, the
    paper's PGD (``pgd_steps`` steps of ``step_size`` in the l_inf ball of radius ``eps``, no
    random start: PGD-7, Zhu, Zhang & Evans 2020, Section 6.2) and, unless ``strong_attack`` is
    ``None``, a stronger standard attack at the same radius (one of :data:`STRONG_ATTACKS`) on
    the first ``strong_size`` points (``None``: all). A profile's: :func:`head_evaluation`. A bad
    value raises ``ValueError`` naming the setting and the values it accepts."""

    eps: float
    pgd_steps: int = 7
    step_size: float = 0.01
    strong_attack: str | None = "apgd"
    strong_size: int | None = None

    def __post_init__(self) -> None:
        check_nonnegative("eps", self.eps, scalar=True)
        check_int("pgd_steps", self.pgd_steps, 0)
        check_nonnegative("step_size", self.step_size, scalar=True)
        if self.strong_attack is not None:
            check_choice("strong_attack", self.strong_attack, (*STRONG_ATTACKS, None))
        if self.strong_size is not None:
            check_int("strong_size", self.strong_size, 1)

    @property
    def pgd(self) -> Evaluation:
        """The paper's PGD, as :func:`~robustrep_lite.training.supervised.robust_accuracy`
        runs it."""
        return Evaluation(eps=self.eps, steps=self.pgd_steps, step_size=self.step_size)

    @property
    def strong(self) -> Evaluation | None:
        """The stronger attack at radius ``eps`` (``None`` without one)."""
        if self.strong_attack is None:
            return None
        return Evaluation(attack=self.strong_attack, eps=self.eps)


@dataclass
class HeadHistory:
    """Record of :func:`train_head`: per-epoch training loss and accuracy, validation natural
    accuracy and PGD accuracy at ``val_eps`` (empty without validation data), the 1-based epoch
    with the best validation PGD accuracy and that epoch's head weights (E.S.)."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_adv_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_state: dict[str, Tensor] | None = field(default=None, repr=False)


def _features(encoder: nn.Module, x: Tensor, batch_size: int = 512) -> Tensor:
    """g(x) of the frozen encoder (eval mode), in batches, on the encoder's device."""
    dev = next(encoder.parameters()).device
    with torch.no_grad():
        return torch.cat(
            [encoder(x[s : s + batch_size].to(dev)) for s in range(0, len(x), batch_size)]
        )


def train_head(
    encoder: nn.Module,
    head: nn.Module,
    x: Tensor,
    y: Tensor,
    config: HeadConfig,
    *,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> HeadHistory:
    """Train ``head`` on the frozen ``encoder`` (Table 1's h on g) as ``config`` says: standard
    for ``eps = 0``, robust (PGD through the frozen encoder, Madry et al. 2018) for ``eps > 0``.
    A thin wrapper over :func:`robustrep_lite.training.supervised.train_classifier`. A standard
    head without augmentation is trained on the representations g(x) computed once (the encoder
    is frozen in eval mode, so this is the same computation, without repeating the encoder's
    forward pass each epoch).

    With ``x_val``/``y_val`` every epoch is scored on them, naturally and by PGD at
    ``config.val_eps`` through encoder and head, and the weights of the epoch with the best
    validation PGD accuracy (ties: the better natural accuracy, then the earlier epoch) are kept
    in the history: E.S., chosen on validation data (the paper chose it on the test set). The
    head ends with its *final* weights. ``checkpoint``: resumable per epoch (a second file
    ``<checkpoint>.val`` holds the validation record); its lock
    (:func:`~robustrep_lite.training.checkpoint.exclusive_run`) is held for the whole call, not
    per epoch, so no second run can write the checkpoint between two epochs.
    """
    check_seed("seed", seed)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    model = nn.Sequential(encoder, head)
    history = HeadHistory()
    training, epochs = config.training, config.epochs
    kwargs = {"seed": seed, "progress": progress}
    # held around every epoch's train_classifier call (whose own exclusive_run passes through)
    with exclusive_run(checkpoint, nested=True), frozen(encoder), contextlib.ExitStack() as stack:
        trained, inputs = model, x
        if config.eps == 0 and not config.augment:
            trained, inputs = head, _features(encoder, x)
        if x_val is None:
            h = train_classifier(
                trained,
                inputs,
                y,
                training,
                checkpoint=checkpoint,
                params=head.parameters(),
                **kwargs,
            )
            history.loss, history.train_accuracy = h.loss, h.train_accuracy
            head.eval()
            return history
        if checkpoint is None:
            checkpoint = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "head.pt"
        val_file = Path(f"{checkpoint}.val")
        state = load_checkpoint(val_file, modules={})
        done = 0
        if state is not None:
            done = state["step"]
            history = HeadHistory(**state["extra"])
        if done > epochs:
            raise ValueError(
                f"epochs={epochs}, but the checkpoint {checkpoint} already holds {done} epochs "
                f"of this head; ask for at least {done} or use another checkpoint path"
            )
        if 0 < done == epochs:  # finished earlier: restore its weights, train nothing
            train_classifier(
                trained,
                inputs,
                y,
                replace(training, epochs=done),
                checkpoint=checkpoint,
                params=head.parameters(),
                **kwargs,
            )
        scores = list(zip(history.val_adv_accuracy, history.val_accuracy, strict=True))
        best = max(scores, default=(-math.inf, -math.inf))
        for epoch in range(done + 1, epochs + 1):
            h = train_classifier(
                trained,
                inputs,
                y,
                replace(training, epochs=epoch),
                checkpoint=checkpoint,
                params=head.parameters(),
                **kwargs,
            )
            nat = robust_accuracy(model, x_val, y_val, NATURAL)
            adv = robust_accuracy(model, x_val, y_val, config.validation)
            history.loss, history.train_accuracy = h.loss, h.train_accuracy
            history.val_accuracy.append(nat)
            history.val_adv_accuracy.append(adv)
            if (adv, nat) > best:
                best, history.best_epoch = (adv, nat), epoch
                history.best_state = copy.deepcopy(head.state_dict())
            save_checkpoint(val_file, step=epoch, modules={}, extra=dataclasses.asdict(history))
    head.eval()
    return history


def evaluate_head(
    encoder: nn.Module,
    head: nn.Module,
    x: Tensor,
    y: Tensor,
    config: HeadEvaluation,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracies of ``head`` on ``encoder`` (eval mode) as ``config`` says: ``natural``,
    ``pgd`` (the paper's PGD-7: ``config.pgd_steps`` of ``config.step_size``, no random start,
    l_inf radius ``config.eps``) and, unless ``config.strong_attack`` is ``None``, ``strong``
    (``"apgd"`` = APGD-CE + APGD-T, or ``"autoattack"``, Croce & Hein's code; ``seed`` seeds
    it) on the first ``config.strong_size`` points (all by default), where ``pgd_subset``
    repeats PGD-7 for a like-for-like comparison and ``strong_size`` is the number of points."""
    check_seed("seed", seed)
    model = nn.Sequential(encoder, head).eval()
    pgd = config.pgd
    out = {
        "natural": robust_accuracy(model, x, y, NATURAL),
        "pgd": robust_accuracy(model, x, y, pgd),
    }
    strong = config.strong
    if strong is not None:
        size = config.strong_size
        n = x.shape[0] if size is None else min(size, x.shape[0])
        xs, ys = x[:n], y[:n]
        out["pgd_subset"] = out["pgd"] if n == x.shape[0] else robust_accuracy(model, xs, ys, pgd)
        out["strong"] = robust_accuracy(model, xs, ys, strong, seed=seed)
        out["strong_size"] = n
    return out


@dataclass(frozen=True)
class Data:
    x_fit: Tensor
    y_fit: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    description: str


def _train_settings(settings: str | TrainSettings) -> TrainSettings:
    """``settings`` itself, or the ``table1`` settings of the profile it names."""
    return settings if isinstance(settings, TrainSettings) else profile_settings(settings).table1


def prepare_data(dataset: str, settings: str | TrainSettings) -> Data:
    """The profile's data for ``dataset``: its training images split into a fitting part and a
    validation part of ``val_size`` (a fixed random choice), and its test images."""
    s = _train_settings(settings)
    check_choice("dataset", dataset, tuple(THREAT_MODELS))
    splits = load_dataset(
        dataset,
        source=s.data_source,
        train_size=s.train_size[dataset],
        test_size=s.test_size,
    )
    n = splits.x_train.shape[0]
    if s.val_size >= n:
        raise ValueError(f"val_size={s.val_size} must be below the {n} training images")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(12345))
    fit, val = perm[s.val_size :], perm[: s.val_size]
    note = f"{splits.description}; validation: {s.val_size} of the training images"
    return Data(
        splits.x_train[fit],
        splits.y_train[fit],
        splits.x_train[val],
        splits.y_train[val],
        splits.x_test,
        splits.y_test,
        note,
    )


def head_config(s: TrainSettings, dataset: str, *, robust: bool) -> HeadConfig:
    """The profile's Table 1 head for ``dataset``: ``s.head_epochs`` of Adam at ``s.head_lr``,
    robust (PGD at the data set's threat-model eps) or standard, validated at that eps."""
    tm = THREAT_MODELS[check_choice("dataset", dataset, tuple(THREAT_MODELS))]
    return HeadConfig(
        epochs=s.head_epochs,
        eps=tm["eps"] if robust else 0.0,
        val_eps=tm["eps"],
        pgd_steps=s.pgd_steps,
        step_size=tm["step_size"],
        batch_size=s.batch_size,
        lr=s.head_lr,
    )


def head_evaluation(s: TrainSettings, dataset: str) -> HeadEvaluation:
    """The profile's Table 1 evaluation on ``dataset``: PGD with ``s.pgd_steps`` steps of the
    data set's threat-model step at its eps, and ``s.strong_attack`` on the first
    ``s.strong_size`` test images."""
    tm = THREAT_MODELS[check_choice("dataset", dataset, tuple(THREAT_MODELS))]
    return HeadEvaluation(
        eps=tm["eps"],
        pgd_steps=s.pgd_steps,
        step_size=tm["step_size"],
        strong_attack=s.strong_attack,
        strong_size=s.strong_size,
    )


def encoder_config(s: TrainSettings, dataset: str, in_channels: int) -> EncoderConfig:
    """The :class:`~robustrep_lite.training.encoder.EncoderConfig` of a profile's Table 1
    encoders on ``dataset`` (its threat model's eps and PGD step; augmentation for 3-channel
    images only); callers set ``beta`` and anything they vary."""
    tm = THREAT_MODELS[check_choice("dataset", dataset, tuple(THREAT_MODELS))]
    return EncoderConfig(
        eps=tm["eps"],
        step_size=tm["step_size"],
        pgd_steps=s.pgd_steps,
        estimator=s.estimator,
        epochs=s.encoder_epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        width=s.width,
        critic_units=s.critic_units,
        critic_norm=s.critic_norm,
        augment=s.augment and in_channels == 3,
        amp=s.fast,
        time_budget_s=s.encoder_budget_s,
    )


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds (ddof=1; 0 for one seed) of every accuracy, per
    (representation, head, classifier) cell of Table 1, in the order of first appearance."""
    cells: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["representation"], r["head"], r["classifier"]), []).append(r)
    out = []
    for (rep, head, clf), group in cells.items():
        entry: dict[str, Any] = {"representation": rep, "head": head, "classifier": clf}
        for key in ("natural", "pgd", "strong"):
            v = np.array([g[key] for g in group], dtype=float)
            entry[f"{key}_mean"] = float(v.mean())
            entry[f"{key}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        entry["seeds"] = len(group)
        out.append(entry)
    return out


def table1(
    dataset: str,
    settings: str | TrainSettings = "cpu",
    *,
    seeds: int | None = None,
    checkpoint_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Table 1 for ``dataset`` under a profile's :class:`TrainSettings`: representations
    standard (beta = 0) and worst-case MI (beta = 1) x heads standard, standard (E.S.) and
    robust x linear and MLP, over ``seeds`` seeds (default the profile's). Encoders and heads are
    trained on the training images minus the validation split; E.S. is chosen on that split;
    accuracies are on the test images (:func:`evaluate_head`).

    ``checkpoint_dir``: every encoder and head checkpoints there per epoch and every finished
    cell stores its result with the git commit and settings it was computed at
    (:func:`cell_settings`), so a killed run resumes and a re-run reuses a cell only when both
    are unchanged, recomputing it otherwise (the encoders can be reloaded with
    :func:`robustrep_lite.training.encoder.load_encoder` from the ``checkpoint`` and ``config`` of
    their records). Returns a JSON-able dict: ``rows`` (one per cell and seed), ``summary``
    (:func:`summarise`), ``encoders`` (config, checkpoint, training history and the critic's
    clean / worst-case MI read-out on the test images), ``paper`` (the paper's Table 1, CIFAR-10
    only), settings, threat model, data and wall time.
    """
    s = _train_settings(settings)
    n_seeds = s.seeds if seeds is None else check_int("seeds", seeds, 1)
    data = prepare_data(dataset, s)
    tm = THREAT_MODELS[dataset]
    dev = torch.device(device) if device is not None else default_device()
    base = encoder_config(s, dataset, int(data.x_fit.shape[1]))
    root = Path(checkpoint_dir) if checkpoint_dir is not None else None
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    encoders: list[dict[str, Any]] = []
    for seed in range(n_seeds):
        for rep, beta in (("standard", 0.0), ("worst_case", 1.0)):
            where = root / dataset / f"{rep}_seed{seed}" if root is not None else None
            te = time.perf_counter()
            run = train_encoder(
                data.x_fit,
                replace(base, beta=beta),
                checkpoint=where / "encoder.pt" if where else None,
                seed=seed,
                device=dev,
                progress=progress,
            )
            record = {"representation": rep, "beta": beta, "seed": seed, "config": run.config}
            record["checkpoint"] = str(where / "encoder.pt") if where else None
            record["history"] = dataclasses.asdict(run.history)
            record["train_wall_s"] = time.perf_counter() - te
            record.update(mi_readout(run, data.x_test, eps=tm["eps"]))
            encoders.append(record)
            rows += _heads(run, data, s, rep, seed, dataset, where, progress)
    return {
        "dataset": dataset,
        "data": data.description,
        "threat_model": {"norm": "inf", **tm, "pgd_steps": s.pgd_steps},
        "settings": dataclasses.asdict(s),
        "seeds": n_seeds,
        "rows": rows,
        "summary": summarise(rows),
        "encoders": encoders,
        "paper": PAPER_TABLE1 if dataset == "cifar10" else None,
        "wall_s": time.perf_counter() - t0,
    }


def cell_settings(s: TrainSettings, tm: dict[str, float]) -> dict[str, Any]:
    """What a finished Table 1 cell (the heads of one classifier on one encoder, stored as
    ``<classifier>_<head>.json`` in the encoder's folder) depends on besides the code: the
    profile's settings and the data set's threat model. A re-run reuses the cell only at the
    same git commit and these settings (:func:`robustrep_lite.core.results.load_cached`)."""
    return {"table1": dataclasses.asdict(s), "threat_model": dict(tm)}


def _heads(
    run: EncoderRun,
    data: Data,
    s: TrainSettings,
    rep: str,
    seed: int,
    dataset: str,
    where: Path | None,
    progress: bool,
) -> list[dict[str, Any]]:
    """Train and evaluate the four heads (linear / MLP x standard / robust) on one encoder."""
    rows = []
    tm = THREAT_MODELS[dataset]
    evaluation, x_test, y_test = head_evaluation(s, dataset), data.x_test, data.y_test
    for clf in ("linear", "mlp"):
        for robust in (False, True):
            name = f"{clf}_{'robust' if robust else 'standard'}"
            done = where / f"{name}.json" if where is not None else None
            cached = load_cached(done, settings=cell_settings(s, tm)) if done else None
            if cached is not None:
                rows += cached
                continue
            head = new_head(run, clf, seed=seed)
            hist = train_head(
                run.encoder,
                head,
                data.x_fit,
                data.y_fit,
                head_config(s, dataset, robust=robust),
                x_val=None if robust else data.x_val,
                y_val=None if robust else data.y_val,
                checkpoint=where / f"{name}.pt" if where is not None else None,
                seed=seed,
                progress=progress,
            )
            base = {"representation": rep, "classifier": clf, "seed": seed}
            cell = [{**base, "head": "robust" if robust else "standard"}]
            cell[0].update(evaluate_head(run.encoder, head, x_test, y_test, evaluation, seed=seed))
            if not robust:  # E.S.: the same run, at its best validation epoch
                head.load_state_dict(hist.best_state)
                es = {**base, "head": "standard_es", "best_epoch": hist.best_epoch}
                es.update(evaluate_head(run.encoder, head, x_test, y_test, evaluation, seed=seed))
                cell.append(es)
            if done is not None:
                save_cached(done, cell, settings=cell_settings(s, tm))
            rows += cell
    return rows


# ----------------------------------------------------------------------------------------------
# The beta x eps grid
# ----------------------------------------------------------------------------------------------
def new_head(run: EncoderRun, kind: str, classes: int = 10, *, seed: int = 0) -> nn.Module:
    """A fresh Table 1 head (``kind`` ``"linear"`` or ``"mlp"``) for ``run``'s representation,
    initialised from ``seed`` without touching the global RNG, on the encoder's device."""
    check_seed("seed", seed)
    check_choice("kind", kind, ("linear", "mlp"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        make = linear_head if kind == "linear" else mlp_head
        head = make(run.config["rep_dim"], classes)
    return head.to(next(run.encoder.parameters()).device)


def fit_linear_head(
    run: EncoderRun, data: Data, s: TrainSettings, *, seed: int = 0, progress: bool = False
) -> nn.Module:
    """A linear head (initialised from ``seed``, one output per class of ``data.y_fit``)
    trained normally on ``run``'s frozen encoder with the profile's head settings."""
    check_seed("seed", seed)
    head = new_head(run, "linear", int(data.y_fit.max()) + 1, seed=seed)
    config = HeadConfig(epochs=s.head_epochs, batch_size=s.batch_size, lr=s.head_lr)
    train_head(run.encoder, head, data.x_fit, data.y_fit, config, seed=seed, progress=progress)
    return head


def encoder_vulnerability(
    run: EncoderRun,
    x: Tensor,
    *,
    eps: float,
    step_size: float,
    settings: str | TrainSettings,
    seed: int = 0,
) -> dict[str, float]:
    """RV of a trained encoder measured by the book's validated estimator (Definition 3.1,
    eq. (4.1); :func:`robustrep_lite.adversarial.vulnerability.representation_vulnerability`), not
    by its own training critic: fresh separable critics (SMILE, 2 x 128 units), the first
    ``settings.rv_points`` images of ``x`` split 60/20/20 into training / validation (early
    stopping, at most ``settings.rv_steps`` steps) / held-out (the value), the worst case
    searched by the paper's PGD (``settings.pgd_steps`` steps of ``step_size`` in the l_inf
    ball of radius ``eps``) and read out by a refit critic. Keys ``normal_mi``, ``worst_mi``,
    ``rv``, ``rv_stderr`` (nats) and ``held_out_points``."""
    check_seed("seed", seed)
    s = _train_settings(settings)
    points = x[: s.rv_points]
    critic = replace(RV_CRITIC, steps=s.rv_steps, batch_size=min(64, len(points) // 5), hidden=128)
    attack = AttackConfig(eps=eps, norm="inf", pgd_steps=s.pgd_steps, step_size=step_size)
    rv = representation_vulnerability(
        run.encoder,
        points,
        attack,
        critic,
        seed=seed,
        device=next(run.encoder.parameters()).device,
        progress=False,
    )
    return {
        "normal_mi": rv.normal_mi,
        "worst_mi": rv.worst_mi,
        "rv": rv.rv,
        "rv_stderr": rv.rv_stderr,
        "held_out_points": float(rv.normal.sizes[2]),
    }


def grid_cell(
    data: Data,
    dataset: str,
    settings: str | TrainSettings,
    *,
    beta: float,
    eps: float,
    seed: int = 0,
    run: EncoderRun | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], EncoderRun]:
    """One point of the beta x eps grid: an encoder trained by (5.2) with ``beta`` and PGD
    radius ``eps`` on ``data.x_fit`` for the profile's ``grid_epochs`` (or ``run``, an encoder
    trained already), the critic's clean and worst-case MI read-out at ``eps`` on the test
    images (``mi``, ``worst_mi``: the paper's read-out), the same quantities measured by the
    validated estimator (:func:`encoder_vulnerability`; keys prefixed ``validated_``), and a
    standard linear head's natural and PGD-7 accuracy at ``eps``. The PGD step is the data
    set's, scaled by ``eps`` / its threat-model eps. Returns (the cell, the encoder)."""
    check_seed("seed", seed)
    s = _train_settings(settings)
    tm = THREAT_MODELS[check_choice("dataset", dataset, tuple(THREAT_MODELS))]
    step = tm["step_size"] * eps / tm["eps"]
    t0 = time.perf_counter()
    if run is None:
        cfg = replace(
            encoder_config(s, dataset, int(data.x_fit.shape[1])),
            beta=beta,
            eps=eps,
            step_size=step,
            epochs=s.grid_epochs,
        )
        run = train_encoder(data.x_fit, cfg, seed=seed, device=device, progress=progress)
    head = fit_linear_head(run, data, s, seed=seed, progress=progress)
    evaluation = HeadEvaluation(eps=eps, step_size=step, strong_attack=None)
    ev = evaluate_head(run.encoder, head, data.x_test, data.y_test, evaluation)
    cell = {"beta": beta, "eps": eps, **mi_readout(run, data.x_test, eps=eps)}
    validated = encoder_vulnerability(
        run, data.x_test, eps=eps, step_size=step, settings=s, seed=seed
    )
    cell.update({f"validated_{k}": v for k, v in validated.items()})
    cell.update(natural=ev["natural"], pgd=ev["pgd"], wall_s=time.perf_counter() - t0)
    return cell, run


def beta_eps_grid(
    dataset: str,
    settings: str | TrainSettings = "cpu",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The grid of :func:`grid_cell` over the profile's ``grid_betas`` and training eps
    ``grid_eps_fractions`` x the data set's threat-model eps, on the profile's
    ``grid_train_size`` training images. ``beta = 0`` does not depend on eps: its encoder is
    trained once and evaluated at every eps. Returns a JSON-able dict with ``cells``."""
    check_seed("seed", seed)
    s = _train_settings(settings)
    sized = dataclasses.replace(s, train_size={**s.train_size, dataset: s.grid_train_size})
    data = prepare_data(dataset, sized)
    standard: EncoderRun | None = None
    cells = []
    t0 = time.perf_counter()
    for frac in s.grid_eps_fractions:
        eps = frac * THREAT_MODELS[dataset]["eps"]
        for beta in s.grid_betas:
            reuse = standard if beta == 0 else None
            cell, run = grid_cell(
                data,
                dataset,
                s,
                beta=beta,
                eps=eps,
                seed=seed,
                run=reuse,
                device=device,
                progress=progress,
            )
            if beta == 0:
                standard = run
            cells.append({**cell, "eps_fraction": frac})
    return {
        "dataset": dataset,
        "data": data.description,
        "settings": dataclasses.asdict(s),
        "cells": cells,
        "wall_s": time.perf_counter() - t0,
    }
