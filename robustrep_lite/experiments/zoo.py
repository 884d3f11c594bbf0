"""Section 6.1's experiments: a zoo of standard and adversarially trained classifiers, the
vulnerability of their logit layer, and Theorem 3.4's bound beside their adversarial accuracy.

For every model of the zoo (the ``zoo`` section of a profile,
:mod:`robustrep_lite.experiments.settings`) the chapter "Measuring representation vulnerability"
reports, at each evaluation eps:

- natural accuracy, adversarial accuracy under the paper's PGD-7 and under a stronger attack
  (:func:`robustrep_lite.training.supervised.robust_accuracy`);
- ``I(X; g(X))``, the worst-case ``I(X'; g(X'))`` and ``RV_eps(g)`` of the logit layer g (eq. (4.1),
  :func:`robustrep_lite.adversarial.vulnerability.representation_vulnerability`) -- Figures 1 and 2;
- Theorem 3.4's upper bound on adversarial accuracy from the worst-case MI
  (:func:`robustrep_lite.theory.theorems.adversarial_accuracy_upper_bound`) -- Figure 2;

and, for Baseline-H, the per-channel MI and vulnerability of its second conv layer
(:func:`robustrep_lite.adversarial.per_feature.per_feature_vulnerability`) -- Figure 3.

Models are trained by :func:`robustrep_lite.training.supervised.train_classifier` with a checkpoint
per model, so a re-run (or a run resumed after a disconnect) loads instead of retraining.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.per_feature import PER_FEATURE_CRITIC, per_feature_vulnerability
from robustrep_lite.adversarial.search import AttackConfig
from robustrep_lite.adversarial.vulnerability import RV_CRITIC, representation_vulnerability
from robustrep_lite.core.runtime import default_device
from robustrep_lite.core.validation import check_int, check_nonnegative, check_seed
from robustrep_lite.experiments.settings import ZooModel, ZooSettings
from robustrep_lite.mi.fit import CriticConfig, split_sizes
from robustrep_lite.theory.theorems import adversarial_accuracy_upper_bound
from robustrep_lite.training.models import BaselineH, classifier
from robustrep_lite.training.supervised import (
    NATURAL,
    ClassifierConfig,
    Evaluation,
    robust_accuracy,
    train_classifier,
)

__all__ = [
    "CURVE_POINTS",
    "attacked_accuracy",
    "channel_models",
    "channel_vulnerability",
    "figure_dataset",
    "logit_vulnerability",
    "robust_accuracy_curves",
    "rv_critic",
    "rv_sample_sizes",
    "train_zoo",
]

#: Test images behind each point of the accuracy-over-eps curves (:func:`robust_accuracy_curves`).
CURVE_POINTS = 500


#: How the logit-layer RV estimates split their ``rv_points`` images: the share that selects
#: the critic's state (validation) and the share the value is read on (held-out).
RV_VALIDATION_FRACTION = 0.2
RV_HOLDOUT_FRACTION = 0.2


def rv_critic(
    settings: ZooSettings, validation_fraction: float = RV_VALIDATION_FRACTION
) -> CriticConfig:
    """The critic of every logit-layer MI estimate of :func:`logit_vulnerability` (Section 6.1):
    :data:`~robustrep_lite.adversarial.vulnerability.RV_CRITIC` with the profile's width, step
    budget and batch, and the split of :func:`rv_sample_sizes`. ``bench/mi_bmi.py`` measures
    this very configuration (``ours-zoo``) on the benchmark of Chapter 4."""
    return replace(
        RV_CRITIC,
        hidden=settings.critic_hidden,
        steps=settings.rv_steps,
        batch_size=settings.rv_batch,
        validation_fraction=validation_fraction,
        holdout_fraction=RV_HOLDOUT_FRACTION,
    )


def rv_sample_sizes(settings: ZooSettings) -> dict[str, int]:
    """The images behind each logit-layer MI estimate of :func:`logit_vulnerability`:
    ``points`` in all, split into ``train`` (the critic's, and the attack's in the alternating
    phase), ``validation`` (early stopping) and ``held_out`` (the reported value)."""
    train, val, held = split_sizes(settings.rv_points, RV_VALIDATION_FRACTION, RV_HOLDOUT_FRACTION)
    return {"points": settings.rv_points, "train": train, "validation": val, "held_out": held}


def _image_shape(x: Tensor) -> tuple[int, int]:
    return int(x.shape[1]), int(x.shape[2])


def train_zoo(
    settings: ZooSettings,
    data: dict[str, Any],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[ZooModel, nn.Module]:
    """Train (or load) every model of ``settings``; returns them in eval mode.

    data: data set name -> splits with ``x_train, y_train`` (images in [0, 1]). cache_dir: if
    given, each model's training is checkpointed there after every epoch, and a finished
    checkpoint is loaded instead of retrained. Adversarial training: PGD with
    ``settings.adv_pgd_steps`` steps, step ``2.5 eps / steps``, random start (Madry et al.).
    Models train and stay on ``device`` (default: CUDA if available).
    """
    check_seed("seed", seed)
    dev = torch.device(device) if device is not None else default_device()
    out: dict[ZooModel, nn.Module] = {}
    for i, m in enumerate(settings.models):
        if m.dataset not in data:
            raise ValueError(f"data has no entry for dataset {m.dataset!r}; got {sorted(data)}")
        splits = data[m.dataset]
        channels, size = _image_shape(splits.x_train)
        net = classifier(
            m.arch, in_channels=channels, image_size=size, width=settings.width, seed=seed + i
        ).to(dev)
        ckpt = None
        if cache_dir is not None:
            name = f"{m.dataset}_{m.arch}_eps{m.train_eps:.4f}_w{settings.width}_s{seed}.pt"
            ckpt = Path(cache_dir) / name
        config = ClassifierConfig(
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            eps=m.train_eps,
            pgd_steps=settings.adv_pgd_steps,
            augment=m.dataset == "cifar10",
            time_budget_s=settings.train_budget_s,
        )
        train_classifier(
            net,
            splits.x_train,
            splits.y_train,
            config,
            checkpoint=ckpt,
            seed=seed + i,
            progress=progress,
        )
        out[m] = net.eval()
    return out


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _attack_step(eps: float, steps: int = 7) -> float:
    return 2.5 * eps / steps


def attacked_accuracy(
    model: nn.Module, x: Tensor, y: Tensor, *, eps: float, seed: int = 0
) -> dict[str, float]:
    """Accuracy of ``model`` on (x, y): natural, under the paper's PGD-7 (l_inf, step
    ``2.5 eps / 7``, which is the paper's 0.01 at eps = 8/255, no random start) and under
    APGD-CE + APGD-T (Croce & Hein's code), at radius ``eps``."""
    check_seed("seed", seed)
    check_nonnegative("eps", eps, scalar=True)
    nat = robust_accuracy(model, x, y, NATURAL)
    pgd7 = robust_accuracy(model, x, y, Evaluation(eps=eps, step_size=_attack_step(eps)))
    strong = robust_accuracy(model, x, y, Evaluation(attack="apgd", eps=eps), seed=seed)
    return {
        "eps": eps,
        "natural_accuracy": nat,
        "pgd7_accuracy": pgd7,
        "strong_accuracy": strong,
        "accuracy_gap": nat - pgd7,
    }


def robust_accuracy_curves(
    models: Mapping[ZooModel, nn.Module],
    data: Mapping[str, Any],
    eps_grid: Mapping[str, Sequence[float]],
    *,
    points: int = CURVE_POINTS,
) -> dict[ZooModel, list[float]]:
    """Accuracy under the paper's PGD-7 (l_inf, step ``2.5 eps / 7``, no random start) of every
    model on the first ``points`` test images of its data set, at each radius of
    ``eps_grid[dataset]`` in order (Section 6.1's adversarial accuracy, over a grid of eps).

    data: data set name -> splits with ``x_test, y_test``."""
    check_int("points", points, 1)
    curves: dict[ZooModel, list[float]] = {}
    for m, net in models.items():
        d = data[m.dataset]
        xs, ys = d.x_test[:points], d.y_test[:points]
        curves[m] = [
            robust_accuracy(net, xs, ys, Evaluation(eps=e, step_size=_attack_step(e)))
            for e in eps_grid[m.dataset]
        ]
    return curves


def figure_dataset(models: Iterable[ZooModel]) -> str:
    """The data set a chapter's single-data-set figures show: CIFAR-10 (the paper's) when the
    zoo has it, else the first in alphabetical order."""
    datasets = sorted({m.dataset for m in models})
    if not datasets:
        raise ValueError("models must hold at least one ZooModel")
    return "cifar10" if "cifar10" in datasets else datasets[0]


def channel_models(
    models: Iterable[ZooModel], settings: ZooSettings, dataset: str
) -> list[ZooModel]:
    """Figure 3's pair: the Baseline-H models of ``dataset`` trained standard (eps 0) or at the
    largest evaluation radius of ``settings`` for that data set, in the zoo's order."""
    top = max(settings.eval_eps[dataset])
    return [
        m
        for m in models
        if m.dataset == dataset and m.arch == "baseline_h" and m.train_eps in (0.0, top)
    ]


def logit_vulnerability(
    model: nn.Module,
    x: Tensor,
    *,
    eps: float,
    settings: ZooSettings,
    classes: int = 10,
    search: str = "pointwise",
    validation_fraction: float = RV_VALIDATION_FRACTION,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """MI of the logit layer g on the first ``settings.rv_points`` images (Figures 1 and 2).

    Normal-case MI, and the worst case over the l_inf eps-ball by PGD-7 against the critic
    (eq. (4.1); separable critic on the flattened image and the logits, the book's SMILE
    estimator), read out both ways (:func:`robustrep_lite.adversarial.vulnerability.worst_case_mi`):
    ``*_paper`` with the attacked final critic (the paper's read-out) and ``*_refit`` with a
    fresh critic on the perturbed points (ours); RV of each with standard errors, and Theorem
    3.4's upper bound on adversarial accuracy, ``(I_worst + log 2) / log |Y|`` (clipped to 1),
    from each worst-case value. The search runs ``settings.rv_search_steps`` mini-batches;
    each critic fit, at most ``settings.rv_steps`` steps. ``search``: ``"pointwise"`` (the
    paper's per-point PGD), ``"universal"`` or ``"both"``
    (:func:`robustrep_lite.adversarial.vulnerability.worst_case_mi`).
    ``validation_fraction``: the share of the points that selects each critic's state (early
    stopping); 0 trains every critic for ``settings.rv_steps`` steps and reads its final state,
    as the estimator did before it had a validation split (for comparison only).
    """
    check_seed("seed", seed)
    check_nonnegative("eps", eps, scalar=True)
    critic = rv_critic(settings, validation_fraction)
    attack = AttackConfig(
        eps=eps,
        pgd_steps=7,
        step_size=_attack_step(eps),
        search=search,
        search_steps=settings.rv_search_steps,
    )
    rv = representation_vulnerability(
        model,
        x[: settings.rv_points],
        attack,
        critic,
        seed=seed,
        device=_device_of(model),
        progress=progress,
    )
    out = {"eps": eps, "normal_mi": rv.normal_mi, "normal_stderr": rv.normal_stderr}
    if rv.worst.refit is not None:
        out["held_out_points"] = float(rv.worst.refit.sizes[2])
    reads = {"paper": rv.worst.attacked, "refit": rv.worst.refit}
    for name, est in reads.items():
        worst = est.estimate if est is not None else float("nan")
        se = est.stderr if est is not None else float("nan")
        out[f"worst_mi_{name}"] = worst
        out[f"worst_stderr_{name}"] = se
        out[f"rv_{name}"] = rv.normal_mi - worst
        out[f"rv_stderr_{name}"] = float(np.hypot(rv.normal_stderr, se))
        out[f"bound_{name}"] = float(adversarial_accuracy_upper_bound(max(worst, 0.0), classes))
    out["diverged"] = float(rv.diverged)
    return out


def channel_vulnerability(
    model: BaselineH | nn.Module,
    x: Tensor,
    *,
    eps: float,
    settings: ZooSettings,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Figure 3's analogue: MI and RV of each of the first ``settings.channels`` channels of
    Baseline-H's second conv layer (units with a 10x10 receptive field), each channel's whole
    spatial map taken as its own representation, on the first ``settings.rv_points`` images.
    Returns arrays of shape (channels,) keyed ``normal_mi, worst_mi, rv, rv_stderr``, and
    ``held_out_points``, the images each value is read on (neither trained nor selected on)."""
    check_seed("seed", seed)
    if not isinstance(model, BaselineH):
        raise ValueError(f"model must be a BaselineH, got {type(model).__name__}")
    n_channels = model.conv2[0].out_channels
    features = list(range(min(settings.channels, n_channels)))
    critic = replace(
        PER_FEATURE_CRITIC,
        steps=settings.channel_steps,
        batch_size=min(settings.rv_batch, 32),
    )
    res = per_feature_vulnerability(
        lambda t: model.conv_features(t, 2),
        x[: settings.rv_points],
        AttackConfig(eps=eps, pgd_steps=7, step_size=_attack_step(eps)),
        critic,
        features=features,
        seed=seed,
        device=_device_of(model),
        progress=progress,
    )
    return {
        "channel": np.asarray(features),
        "normal_mi": res.normal_mi,
        "worst_mi": res.worst_mi,
        "rv": res.rv,
        "rv_stderr": res.rv_stderr,
        "diverged": np.asarray(res.diverged),
        "held_out_points": np.asarray(res.sizes[2]),
    }
