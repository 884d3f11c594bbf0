"""Training and evaluating classifiers, standard or adversarially trained (Madry et al. 2018).

Used three ways in the book: the Section 6.1 model zoo (whole classifiers, standard and PGD
adversarial training), the downstream heads of Table 1 (a head on a *frozen* encoder: pass the
composite model and ``params=head.parameters()``; a robust head is trained with PGD through the
frozen encoder, as in the paper), and the spectral-regularisation comparisons.

- :func:`train_classifier`: mini-batch training on tensors, optional PGD adversarial training
  (eq. (1.1) of Madry et al.: min over weights of the expected max over the eps-ball of the
  cross-entropy), optional per-sample random-crop/flip augmentation, per-epoch checkpoints that
  resume after a kill (:mod:`robustrep_lite.training.checkpoint`), and early-stopping selection
  of the epoch with the best adversarial accuracy on a *validation* split (the paper's "E.S."
  chose it on the test set).
- :func:`robust_accuracy`: accuracy under ``"none"``, our ``"pgd"`` (the paper's PGD-7:
  l_inf, 7 steps of 0.01, no random start), ``"apgd"`` (torchattacks' APGD-CE then APGD-T with
  the DLR loss, the two gradient attacks of AutoAttack) or ``"autoattack"`` (torchattacks'
  standard AutoAttack, Croce & Hein 2020). Batched; a point counts as robust only if every attack
  in the chain fails on it.
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

from robustrep_lite.adversarial.attacks import check_norm, pgd
from robustrep_lite.core.validation import (
    check_choice,
    check_images,
    check_nonnegative,
    check_positive,
)
from robustrep_lite.training.checkpoint import exclusive_run, load_checkpoint, save_checkpoint

__all__ = [
    "ATTACKS",
    "TrainHistory",
    "augment_batch",
    "pgd_examples",
    "robust_accuracy",
    "train_classifier",
]

ATTACKS = ("none", "pgd", "apgd", "autoattack")


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
    *,
    eps: float,
    norm: str = "inf",
    steps: int = 7,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    check_inputs: bool = True,
) -> Tensor:
    """PGD adversarial examples maximising the per-sample cross-entropy of ``model`` (which is
    put in eval mode for the attack and restored afterwards). ``step_size`` defaults to
    ``2.5 * eps / steps`` (Madry et al.). Inputs and outputs in the box [0, 1]
    (``check_inputs``: see :func:`robustrep_lite.adversarial.attacks.pgd`)."""
    check_nonnegative("eps", eps)
    if eps == 0 or steps == 0:
        return x.detach()
    step = 2.5 * eps / steps if step_size is None else step_size
    was_training = model.training
    model.eval()
    try:
        return pgd(
            lambda xa: F.cross_entropy(model(xa), y, reduction="none"),
            x,
            eps=eps,
            norm=norm,
            step_size=step,
            steps=steps,
            random_start=random_start,
            keep_best=True,
            box=(0.0, 1.0),
            generator=generator,
            check_inputs=check_inputs,
        )
    finally:
        model.train(was_training)


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    eps: float = 0.0,
    norm: str = "inf",
    pgd_steps: int = 7,
    step_size: float | None = None,
    params: Iterable[nn.Parameter] | None = None,
    augment: bool = False,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
    select_best: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    time_budget_s: float | None = None,
) -> TrainHistory:
    """Train ``model`` in place on (x, y) by cross-entropy; returns a :class:`TrainHistory`.

    eps > 0 trains adversarially: each batch is replaced by its PGD examples (``pgd_steps``
    steps, random start, l_``norm`` ball of radius eps) against the current model.
    params: the parameters to optimise (default: all); modules whose parameters are all excluded
    stay in eval mode, so a frozen encoder keeps its BatchNorm statistics. optimizer: ``"adam"``
    or ``"sgd"`` (momentum 0.9). With ``x_val``/``y_val`` each epoch is scored on them (natural,
    and PGD at the training eps); ``select_best`` then loads the best epoch's weights at the end
    (early stopping chosen on validation data). ``checkpoint``: a file written after every epoch;
    if it exists the run resumes from it, and a resumed run ends with the same weights as an
    uninterrupted one. Shuffles, crops and PGD starts come from generators seeded by
    ``(seed, epoch)``. ``time_budget_s``: stop after the first epoch that ends past this many
    seconds of this call (``history.stopped_by_budget``). The training images are moved to the
    model's device once, so a step does no host-to-device copy.
    """
    started = time.perf_counter()
    _check_xy(x, y)
    if time_budget_s is not None:
        check_positive("time_budget_s", time_budget_s)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    check_nonnegative("eps", eps)
    check_nonnegative("lr", lr)
    norm = check_norm(norm)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    if select_best and x_val is None:
        raise ValueError("select_best=True needs validation data (x_val, y_val)")
    if x_val is not None:
        _check_xy(x_val, y_val, "x_val")
    # attacks and crops work in the box [0, 1]; a standard head on representations has no box
    box = (0.0, 1.0) if eps > 0 or augment else None
    if x_val is not None:
        check_images("x_val", x_val, box)
    check_images("x", x, box)
    _check_labels(model, x, y)

    device = next(model.parameters()).device
    trainable = list(model.parameters()) if params is None else list(params)
    ids = {id(p) for p in trainable}
    frozen = [m for m in model.modules() if list(m.parameters(recurse=False))]
    frozen = [m for m in frozen if not any(id(p) in ids for p in m.parameters(recurse=False))]
    if optimizer == "adam":
        opt = torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(trainable, lr=lr, momentum=0.9, weight_decay=weight_decay)

    history = TrainHistory()
    best_state: dict[str, Tensor] | None = None
    best_score = -math.inf
    start = 0
    # What a resumed run must share with the one that wrote the checkpoint (not ``epochs``: a
    # finished run may be continued for more epochs).
    settings = {
        "images": int(x.shape[0]),
        "labels_crc32": zlib.crc32(y.detach().to("cpu", torch.int64).numpy().tobytes()),
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "eps": eps,
        "norm": norm,
        "pgd_steps": pgd_steps,
        "step_size": step_size,
        "trainable_tensors": len(trainable),
        "augment": augment,
        "validation_images": None if x_val is None else int(x_val.shape[0]),
        "select_best": select_best,
        "seed": seed,
    }
    with exclusive_run(checkpoint):
        state = load_checkpoint(
            checkpoint, modules={"model": model}, optimizers={"opt": opt}, settings=settings
        )
        if state is not None:
            start = state["step"]
            if start > epochs:
                raise ValueError(
                    f"epochs={epochs}, but the checkpoint {checkpoint} already holds {start} "
                    f"epochs of this run; ask for at least {start} or use another checkpoint path"
                )
            saved = state["extra"]
            history = TrainHistory(**saved["history"])
            best_score = saved["best_score"]
            best_state = saved["best_state"]

        n = x.shape[0]
        x, y = x.to(device), y.to(device)
        seen, elapsed = 0, 0.0
        for epoch in range(start, epochs):
            gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            model.train()
            for m in frozen:
                m.eval()
            order = torch.randperm(n, generator=gen).to(device)
            losses, hits = [], []  # kept on the device: no host sync inside the loop
            t0 = time.perf_counter()
            bar = tqdm(
                range(0, n, batch_size),
                disable=not progress,
                leave=False,
                desc=f"epoch {epoch + 1}/{epochs}",
            )
            for s in bar:
                if n - s == 1 and n > 1:
                    continue  # a last batch of one image would break BatchNorm; it waits an epoch
                idx = order[s : s + batch_size]
                xb, yb = x[idx], y[idx]
                if augment:
                    xb = augment_batch(xb, gen)
                if eps > 0:
                    xb = _attack_in_place(
                        model, frozen, xb, yb, eps, norm, pgd_steps, step_size, gen
                    )
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
                nat = robust_accuracy(model, x_val, y_val, attack="none")
                adv = (
                    robust_accuracy(model, x_val, y_val, attack="pgd", eps=eps, norm=norm)
                    if eps > 0
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
            if time_budget_s is not None and time.perf_counter() - started > time_budget_s:
                history.stopped_by_budget = epoch + 1 < epochs
                break
    history.images_per_second = seen / elapsed if elapsed > 0 else math.nan
    if select_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def _attack_in_place(
    model: nn.Module,
    frozen: list[nn.Module],
    xb: Tensor,
    yb: Tensor,
    eps: float,
    norm: str,
    steps: int,
    step_size: float | None,
    gen: torch.Generator,
) -> Tensor:
    x_adv = pgd_examples(
        model,
        xb,
        yb,
        eps=eps,
        norm=norm,
        steps=steps,
        step_size=step_size,
        generator=gen,
        check_inputs=False,  # train_classifier checked its data once
    )
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


def _check_labels(model: nn.Module, x: Tensor, y: Tensor) -> None:
    """Labels must be classes of ``model``'s output (one forward pass of one image, eval mode)."""
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
            f"y must hold class labels in [0, {classes}) for this model's {classes} outputs, "
            f"got labels in [{low}, {high}]"
        )


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    attack: str = "pgd",
    eps: float = 8 / 255,
    norm: str = "inf",
    steps: int = 7,
    step_size: float = 0.01,
    random_start: bool = False,
    batch_size: int = 256,
    seed: int = 0,
) -> float:
    """Fraction of (x, y) classified correctly under ``attack`` (one of :data:`ATTACKS`) within
    the l_``norm`` ball of radius ``eps`` and the box [0, 1]; the model is evaluated in eval mode.

    ``"pgd"`` uses ``steps``, ``step_size`` and ``random_start`` (defaults: the paper's PGD-7);
    ``"apgd"`` and ``"autoattack"`` use torchattacks with its default budgets (the stronger
    evaluation of Croce & Hein 2020). ``eps = 0`` or ``"none"`` gives the natural accuracy.
    Raises ``ValueError`` for non-finite inputs (outside [0, 1] when attacked) or a model with
    non-finite weights (a diverged model has no accuracy to report).
    """
    _check_xy(x, y)
    check_choice("attack", attack, ATTACKS)
    check_images("x", x, (0.0, 1.0) if attack != "none" and eps > 0 else None)
    _check_model_finite(model)
    check_nonnegative("eps", eps)
    norm = check_norm(norm)
    device = next(model.parameters()).device
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for s in range(0, x.shape[0], batch_size):
        xb, yb = x[s : s + batch_size].to(device), y[s : s + batch_size].to(device)
        if attack != "none" and eps > 0:
            if attack == "pgd":
                xb = pgd_examples(
                    model,
                    xb,
                    yb,
                    eps=eps,
                    norm=norm,
                    steps=steps,
                    step_size=step_size,
                    random_start=random_start,
                    generator=gen,
                    check_inputs=False,
                )
            else:
                xb = _torchattacks(model, xb, yb, attack, eps, norm, seed)
        with torch.no_grad():
            correct += int((model(xb).argmax(1) == yb).sum())
    return correct / x.shape[0]


def _torchattacks(
    model: nn.Module, xb: Tensor, yb: Tensor, attack: str, eps: float, norm: str, seed: int
) -> Tensor:
    import torchattacks

    ta_norm = "Linf" if norm == "inf" else "L2"
    with torch.no_grad():
        classes = int(model(xb[:1]).shape[1])
    if attack == "autoattack":
        atk = torchattacks.AutoAttack(
            model, norm=ta_norm, eps=eps, version="standard", n_classes=classes, seed=seed
        )
        return atk(xb, yb)
    # APGD-CE, then APGD-T (DLR) on the points that survived it
    first = torchattacks.APGD(model, norm=ta_norm, eps=eps, loss="ce", seed=seed)(xb, yb)
    with torch.no_grad():
        alive = model(first).argmax(1) == yb
    if bool(alive.any()) and classes > 2:
        second = torchattacks.APGDT(model, norm=ta_norm, eps=eps, n_classes=classes, seed=seed)
        first = first.clone()
        first[alive] = second(xb[alive], yb[alive])
    return first
