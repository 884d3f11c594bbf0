"""Training and evaluating classifiers, standard or adversarially trained (Madry et al. 2018).

Used three ways in the book: the Section 6.1 model zoo (whole classifiers, standard and PGD
adversarial training), the downstream heads of Table 1 (a head on a *frozen* encoder: pass the
composite model and ``params=head.parameters()``; a robust head is trained with PGD through the
frozen encoder, as in the paper), and the spectral-regularisation comparisons.

- :func:`train_classifier`: mini-batch training on tensors (:class:`ClassifierConfig`),
  optional PGD adversarial training (eq. (1.1) of Madry et al.: min over weights of the expected
  max over the eps-ball of the cross-entropy), optional per-sample random-crop/flip
  augmentation, per-epoch checkpoints that resume after a kill
  (:mod:`robustrep_lite.training.checkpoint`), and early-stopping selection of the epoch with
  the best adversarial accuracy on a *validation* split (the paper's "E.S." chose it on the
  test set).
- :func:`robust_accuracy`: accuracy under an :class:`Evaluation`: ``"none"``, our ``"pgd"``
  (the paper's PGD-7: l_inf, 7 steps of 0.01, no random start), ``"apgd"`` (APGD-CE then
  APGD-T with the targeted DLR loss, the two gradient attacks of AutoAttack) or
  ``"autoattack"`` (the standard AutoAttack: APGD-CE, APGD-T, FAB-T and Square), both run by
  Croce & Hein's own implementation (Croce & Hein 2020; the ``pyautoattack`` package, whose
  attack code is that of github.com/fra31/auto-attack). Batched; a point counts as robust only
  if every attack in the chain fails on it.
"""

from __future__ import annotations

import copy
import math
import os
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.adversarial.attacks import PGDConfig, check_norm, pgd
from robustrep_lite.core.validation import (
    check_choice,
    check_images,
    check_int,
    check_nonnegative,
    check_positive,
    check_seed,
)
from robustrep_lite.training.checkpoint import exclusive_run, load_checkpoint, save_checkpoint

__all__ = [
    "APGD_ITERATIONS",
    "ATTACKS",
    "NATURAL",
    "ClassifierConfig",
    "Evaluation",
    "TrainHistory",
    "augment_batch",
    "check_labels",
    "pgd_examples",
    "robust_accuracy",
    "train_classifier",
]

#: The attacks :func:`robust_accuracy` can score with.
ATTACKS = ("none", "pgd", "apgd", "autoattack")

#: Iterations of each of APGD-CE and APGD-T in ``attack="apgd"`` (one restart each; the standard
#: AutoAttack of ``attack="autoattack"`` runs 100).
APGD_ITERATIONS = 10


@dataclass(frozen=True)
class ClassifierConfig:
    """How :func:`train_classifier` trains.

    ``epochs`` of mini-batches of ``batch_size``, by ``optimizer`` (``"adam"``, or ``"sgd"``
    with momentum 0.9) at ``lr`` with ``weight_decay``. ``eps > 0`` trains adversarially
    (Madry et al. 2018, eq. (1.1)): each batch is replaced by its PGD examples
    (:attr:`attack`: ``pgd_steps`` steps of ``step_size``, default ``2.5 eps / pgd_steps``,
    random start, l_``norm`` ball of radius eps). ``augment``: per-sample random crop and flip
    (:func:`augment_batch`). ``select_best``: load the weights of the epoch with the best
    validation accuracy at the end (needs validation data). ``time_budget_s``: stop after the
    first epoch that ends past this many seconds.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    eps: float = 0.0
    norm: str = "inf"
    pgd_steps: int = 7
    step_size: float | None = None
    augment: bool = False
    select_best: bool = False
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batch_size must be a positive integer, got {b!r}")
        check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        check_positive("lr", self.lr)
        check_nonnegative("weight_decay", self.weight_decay, scalar=True)
        check_nonnegative("eps", self.eps, scalar=True)
        object.__setattr__(self, "norm", check_norm(self.norm))
        check_int("pgd_steps", self.pgd_steps, 0)
        if self.step_size is not None:
            check_nonnegative("step_size", self.step_size, scalar=True)
        if self.time_budget_s is not None:
            check_positive("time_budget_s", self.time_budget_s)

    @property
    def attack(self) -> PGDConfig:
        """The PGD of adversarial training, in the box [0, 1] from a random start; the step
        defaults to ``2.5 eps / pgd_steps`` (Madry et al. 2018; no step is taken when
        ``pgd_steps = 0``)."""
        if self.step_size is not None:
            step = self.step_size
        else:
            step = 2.5 * self.eps / self.pgd_steps if self.pgd_steps else 0.0
        return PGDConfig(eps=self.eps, step_size=step, steps=self.pgd_steps, norm=self.norm)


@dataclass(frozen=True)
class Evaluation:
    """How :func:`robust_accuracy` attacks: ``attack``, one of :data:`ATTACKS`, within the
    l_``norm`` ball of radius ``eps`` and the box [0, 1]. ``"pgd"`` takes ``steps`` steps of
    ``step_size``, from a random point of the ball if ``random_start`` (defaults: the paper's
    PGD-7 at the CIFAR-10 radius 8/255, Zhu, Zhang & Evans 2020, Section 6); ``"apgd"`` and
    ``"autoattack"`` use fixed budgets (:data:`APGD_ITERATIONS`; AutoAttack's standard version,
    Croce & Hein 2020)."""

    attack: str = "pgd"
    eps: float = 8 / 255
    norm: str = "inf"
    steps: int = 7
    step_size: float = 0.01
    random_start: bool = False

    def __post_init__(self) -> None:
        check_choice("attack", self.attack, ATTACKS)
        check_nonnegative("eps", self.eps, scalar=True)
        object.__setattr__(self, "norm", check_norm(self.norm))
        check_int("steps", self.steps, 0)
        check_nonnegative("step_size", self.step_size, scalar=True)

    @property
    def attacks(self) -> bool:
        """Whether points are attacked at all (not ``"none"``, and ``eps > 0``)."""
        return self.attack != "none" and self.eps > 0

    @property
    def pgd_config(self) -> PGDConfig:
        """The PGD of ``attack = "pgd"``, in the box [0, 1]."""
        return PGDConfig(
            eps=self.eps,
            step_size=self.step_size,
            steps=self.steps,
            norm=self.norm,
            random_start=self.random_start,
        )


#: Natural accuracy: no attack.
NATURAL = Evaluation(attack="none")


@dataclass
class TrainHistory:
    """Per-epoch record of :func:`train_classifier`. ``val_*`` are empty without validation
    data. ``best_epoch``: 1-based epoch of the highest validation adversarial accuracy (natural
    accuracy when ``eps == 0``), whose weights were loaded into the model if ``select_best``."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_adv_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    images_per_second: float = math.nan
    stopped_by_budget: bool = False  # the wall-clock budget ended training before ``epochs``


def _check_xy(x: Tensor, y: Tensor, what: str = "x") -> None:
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{what} must be (N, ...) with labels of shape (N,), got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{what} is empty")


def augment_batch(x: Tensor, generator: torch.Generator, pad: int = 4, flip: bool = True) -> Tensor:
    """Per-sample random crop (zero padding ``pad``) and horizontal flip of a batch (N, C, H, W),
    vectorised (one gather, no loop over samples): the standard CIFAR-10 augmentation."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None]).view(n, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None]).view(n, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    # advanced indices on dims 0, 2, 3 broadcast to (n, h, w) and move first: (n, h, w, C)
    out = padded[batch, :, rows, cols].permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device).view(n, 1, 1, 1)
        out = torch.where(mask, out.flip(3), out)
    return out.contiguous()


def pgd_examples(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    attack: PGDConfig,
    *,
    generator: torch.Generator | None = None,
    check_inputs: bool = True,
) -> Tensor:
    """PGD adversarial examples maximising the per-sample cross-entropy of ``model`` (which is
    put in eval mode for the attack and restored afterwards) over ``attack``'s set (Madry et al.
    2018, eq. (1.1)); ``x`` itself when ``attack.eps`` or ``attack.steps`` is 0
    (``check_inputs``: see :func:`robustrep_lite.adversarial.attacks.pgd`)."""
    if attack.eps == 0 or attack.steps == 0:
        return x.detach()
    was_training = model.training
    model.eval()
    try:
        return pgd(
            lambda xa: F.cross_entropy(model(xa), y, reduction="none"),
            x,
            attack,
            keep_best=True,
            generator=generator,
            check_inputs=check_inputs,
        )
    finally:
        model.train(was_training)


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: ClassifierConfig,
    *,
    params: Iterable[nn.Parameter] | None = None,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TrainHistory:
    """Train ``model`` in place on (x, y) by cross-entropy as ``config`` says (standard, or
    adversarial training, Madry et al. 2018, eq. (1.1)); returns a :class:`TrainHistory`.

    params: the parameters to optimise (default: all); modules whose parameters are all excluded
    stay in eval mode, so a frozen encoder keeps its BatchNorm statistics. With ``x_val``/
    ``y_val`` each epoch is scored on them (natural, and the paper's PGD-7 at the training eps);
    ``config.select_best`` then loads the best epoch's weights at the end (early stopping chosen
    on validation data). ``checkpoint``: a file written after every epoch; if it exists the run
    resumes from it, and a resumed run ends with the same weights as an uninterrupted one.
    Shuffles, crops and PGD starts come from generators seeded by ``(seed, epoch)``. With
    ``config.time_budget_s``, training stops after the first epoch that ends past that many
    seconds of this call (``history.stopped_by_budget``). The training images are moved to the
    model's device once, so a step does no host-to-device copy.
    """
    check_seed("seed", seed)
    started = time.perf_counter()
    _check_xy(x, y)
    c = config
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    if c.select_best and x_val is None:
        raise ValueError("select_best=True needs validation data (x_val, y_val)")
    if x_val is not None:
        _check_xy(x_val, y_val, "x_val")
    # attacks and crops work in the box [0, 1]; a standard head on representations has no box
    box = (0.0, 1.0) if c.eps > 0 or c.augment else None
    if x_val is not None:
        check_images("x_val", x_val, box)
    check_images("x", x, box)
    check_labels(model, x, y)

    device = next(model.parameters()).device
    trainable = list(model.parameters()) if params is None else list(params)
    ids = {id(p) for p in trainable}
    frozen = [m for m in model.modules() if list(m.parameters(recurse=False))]
    frozen = [m for m in frozen if not any(id(p) in ids for p in m.parameters(recurse=False))]
    if c.optimizer == "adam":
        opt = torch.optim.Adam(trainable, lr=c.lr, weight_decay=c.weight_decay)
    else:
        opt = torch.optim.SGD(trainable, lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
    attack = c.attack

    history = TrainHistory()
    best_state: dict[str, Tensor] | None = None
    best_score = -math.inf
    start = 0
    # What a resumed run must share with the one that wrote the checkpoint (not ``epochs``: a
    # finished run may be continued for more epochs).
    settings = {
        "images": int(x.shape[0]),
        "labels_crc32": zlib.crc32(y.detach().to("cpu", torch.int64).numpy().tobytes()),
        "batch_size": c.batch_size,
        "lr": c.lr,
        "optimizer": c.optimizer,
        "weight_decay": c.weight_decay,
        "eps": c.eps,
        "norm": c.norm,
        "pgd_steps": c.pgd_steps,
        "step_size": c.step_size,
        "trainable_tensors": len(trainable),
        "augment": c.augment,
        "validation_images": None if x_val is None else int(x_val.shape[0]),
        "select_best": c.select_best,
        "seed": seed,
    }
    with exclusive_run(checkpoint):
        state = load_checkpoint(
            checkpoint, modules={"model": model}, optimizers={"opt": opt}, settings=settings
        )
        if state is not None:
            start = state["step"]
            if start > c.epochs:
                raise ValueError(
                    f"epochs={c.epochs}, but the checkpoint {checkpoint} already holds {start} "
                    f"epochs of this run; ask for at least {start} or use another checkpoint path"
                )
            saved = state["extra"]
            history = TrainHistory(**saved["history"])
            best_score = saved["best_score"]
            best_state = saved["best_state"]

        n = x.shape[0]
        x, y = x.to(device), y.to(device)
        seen, elapsed = 0, 0.0
        for epoch in range(start, c.epochs):
            gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            model.train()
            for m in frozen:
                m.eval()
            order = torch.randperm(n, generator=gen).to(device)
            losses, hits = [], []  # kept on the device: no host sync inside the loop
            t0 = time.perf_counter()
            bar = tqdm(
                range(0, n, c.batch_size),
                disable=not progress,
                leave=False,
                desc=f"epoch {epoch + 1}/{c.epochs}",
            )
            for s in bar:
                if n - s == 1 and n > 1:
                    continue  # a last batch of one image would break BatchNorm; it waits an epoch
                idx = order[s : s + c.batch_size]
                xb, yb = x[idx], y[idx]
                if c.augment:
                    xb = augment_batch(xb, gen)
                if c.eps > 0:
                    xb = _attack_in_place(model, frozen, xb, yb, attack, gen)
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.detach())
                hits.append((logits.detach().argmax(1) == yb).sum())
            elapsed += time.perf_counter() - t0
            seen += n
            epoch_loss = float(torch.stack(losses).mean())
            if not math.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"train_classifier: the training loss became {epoch_loss} in epoch "
                    f"{epoch + 1}; "
                    "the model's weights are not usable (lower lr, or check the data). "
                    + (
                        f"The last finite state is in the checkpoint {checkpoint}."
                        if checkpoint is not None and epoch > 0
                        else "No finite checkpoint was written."
                    )
                )
            history.loss.append(epoch_loss)
            history.train_accuracy.append(float(torch.stack(hits).sum()) / n)
            if x_val is not None:
                nat = robust_accuracy(model, x_val, y_val, NATURAL)
                adv = (
                    robust_accuracy(model, x_val, y_val, Evaluation(eps=c.eps, norm=c.norm))
                    if c.eps > 0
                    else nat
                )
                history.val_accuracy.append(nat)
                history.val_adv_accuracy.append(adv)
                if adv > best_score:
                    best_score = adv
                    history.best_epoch = epoch + 1
                    best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint,
                    step=epoch + 1,
                    modules={"model": model},
                    optimizers={"opt": opt},
                    settings=settings,
                    extra={
                        "history": history.__dict__,
                        "best_score": best_score,
                        "best_state": best_state,
                    },
                )
            if c.time_budget_s is not None and time.perf_counter() - started > c.time_budget_s:
                history.stopped_by_budget = epoch + 1 < c.epochs
                break
    history.images_per_second = seen / elapsed if elapsed > 0 else math.nan
    if c.select_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def _attack_in_place(
    model: nn.Module,
    frozen: list[nn.Module],
    xb: Tensor,
    yb: Tensor,
    attack: PGDConfig,
    gen: torch.Generator,
) -> Tensor:
    # train_classifier checked its data once
    x_adv = pgd_examples(model, xb, yb, attack, generator=gen, check_inputs=False)
    for m in frozen:  # pgd_examples restored train mode on the whole model
        m.eval()
    return x_adv


def _check_model_finite(model: nn.Module) -> None:
    bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise ValueError(
            f"model has non-finite weights ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
            "; it diverged in training and has no accuracy to report"
        )


def check_labels(model: nn.Module, x: Tensor, y: Tensor, name: str = "y") -> None:
    """Labels ``y`` (called ``name`` in the error) must be classes of ``model``'s output (one
    forward pass of one image of ``x``, eval mode, no gradient: the model is left unchanged)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            classes = int(model(x[:1].to(next(model.parameters()).device)).shape[1])
    finally:
        model.train(was_training)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        raise ValueError(
            f"{name} must hold class labels in [0, {classes}) for this model's {classes} outputs, "
            f"got labels in [{low}, {high}]"
        )


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    evaluation: Evaluation = Evaluation(),
    *,
    batch_size: int = 256,
    seed: int = 0,
) -> float:
    """Fraction of (x, y) classified correctly under ``evaluation``'s attack within the
    l_``norm`` ball of radius ``eps`` and the box [0, 1] (by default the paper's PGD-7 at 8/255,
    Zhu, Zhang & Evans 2020, Section 6); the model is evaluated in eval mode, ``batch_size``
    points at a time, attacks seeded by ``seed``. :data:`NATURAL` (or ``eps = 0``) gives the
    natural accuracy. Raises ``ValueError`` for non-finite inputs (outside [0, 1] when attacked),
    labels that are not classes of the model, a ``batch_size`` below 1, or a model with
    non-finite weights (a diverged model has no accuracy to report).
    """
    check_seed("seed", seed)
    check_int("batch_size", batch_size, 1)
    _check_xy(x, y)
    check_images("x", x, (0.0, 1.0) if evaluation.attacks else None)
    _check_model_finite(model)
    check_labels(model, x, y)
    device = next(model.parameters()).device
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for s in range(0, x.shape[0], batch_size):
        xb, yb = x[s : s + batch_size].to(device), y[s : s + batch_size].to(device)
        if evaluation.attacks:
            if evaluation.attack == "pgd":
                xb = pgd_examples(
                    model, xb, yb, evaluation.pgd_config, generator=gen, check_inputs=False
                )
            else:
                xb = _autoattack(
                    model, xb, yb, evaluation.attack, evaluation.eps, evaluation.norm, seed
                )
        with torch.no_grad():
            correct += int((model(xb).argmax(1) == yb).sum())
    return correct / x.shape[0]


def _autoattack(
    model: nn.Module, xb: Tensor, yb: Tensor, attack: str, eps: float, norm: str, seed: int
) -> Tensor:
    """Adversarial examples of ``xb`` from Croce & Hein's APGD-CE + APGD-T (``"apgd"``) or their
    standard AutoAttack (``"autoattack"``); a point already misclassified is returned as is."""
    from pyautoattack import AutoAttack
    from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted

    aa_norm = "Linf" if norm == "inf" else "L2"
    with torch.no_grad():
        classes = int(model(xb[:1]).shape[1])
    targets = min(9, classes - 1)  # AutoAttack's standard version targets the 9 likeliest others
    if attack == "autoattack":
        atk = AutoAttack(
            model, norm=aa_norm, eps=eps, version="standard", seed=seed, device=xb.device
        )
        atk.apgd_targeted.n_target_classes = atk.fab.n_target_classes = targets
        x_adv, _ = atk.run_standard_evaluation(xb, yb, batch_size=xb.shape[0])
        return x_adv
    # APGD-CE, then APGD-T (targeted DLR) on the points that survived it
    first = APGDAttack(
        model, norm=aa_norm, eps=eps, n_iter=APGD_ITERATIONS, loss="ce", seed=seed
    ).perturb(xb, yb)
    with torch.no_grad():
        alive = model(first).argmax(1) == yb
    if bool(alive.any()) and classes > 3:  # the targeted DLR loss reads the 4th-largest logit
        second = APGDAttack_targeted(
            model,
            norm=aa_norm,
            eps=eps,
            n_iter=APGD_ITERATIONS,
            n_target_classes=targets,
            seed=seed,
        )
        first = first.clone()
        first[alive] = second.perturb(xb[alive], yb[alive])
    return first
