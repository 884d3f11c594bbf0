"""Spectral regularization side by side with worst-case MI training, on one encoder.

The same Baseline-H encoder (same data, seed and ``table1`` settings of the profile,
:mod:`robustrep_lite.experiments.settings`) is trained four ways by
:func:`robustrep_lite.training.encoder.train_encoder`:

- ``standard``: objective (5.1) of Zhu, Zhang & Evans (2020), ``beta = 0``;
- ``rep-spectral``: the same plus ``lambda * sum sigma_max(W_l)^2`` over the encoder's weight
  layers (Yang, Zavatone-Veth & Pehlevan 2024, Section 3; the encoder's output is the
  representation, so these are all its layers), from the first step;
- ``worst-case MI``: objective (5.3), ``beta = 1``;
- ``both``: ``beta = 1`` plus the penalty.

Each representation is then scored as in both papers: a linear head trained on the frozen
representation (:func:`robustrep_lite.experiments.table1.train_head`, standard training) gives
natural, PGD-7 and APGD accuracy (:func:`robustrep_lite.experiments.table1.evaluate_head`, the
threat model of :data:`robustrep_lite.training.encoder.THREAT_MODELS`); a logistic-regression head
refit on it (:func:`robustrep_lite.adversarial.robust_distance.refit_head`) gives the mean l2
distance HopSkipJump needs to change the decision of encoder + refit head on its first correctly
classified test points. The top singular value of every encoder layer is recorded too (the quantity
the penalty lowers).

Note on Baseline-H: every weight layer but the last is followed by batch normalisation, which
undoes a rescaling of its weights, so only the last layer's sigma_max bounds the encoder's
Lipschitz constant directly; the others are penalised as the method prescribes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.robust_distance import (
    DistanceSearch,
    RefitClassifier,
    adversarial_distances,
    compute_features,
    first_correct,
    refit_head,
)
from robustrep_lite.core.validation import check_choice, check_nonnegative, check_seed
from robustrep_lite.experiments.settings import ComparisonSettings, profile_settings
from robustrep_lite.experiments.spectral_regularization import paired_differences, summarise_rows
from robustrep_lite.experiments.table1 import (
    Data,
    encoder_config,
    evaluate_head,
    fit_linear_head,
    head_evaluation,
)
from robustrep_lite.training.encoder import THREAT_MODELS, EncoderRun, train_encoder
from robustrep_lite.training.spectral import all_layers, conv_input_shapes, top_singular

__all__ = [
    "ARMS",
    "across_seeds",
    "compare",
    "encoder_sigmas",
    "hsj_distance",
    "settings_record",
    "stored_matches",
    "train_arm",
]

#: The four arms: name -> (beta, penalised).
ARMS = {
    "standard": (0.0, False),
    "rep-spectral": (0.0, True),
    "worst-case MI": (1.0, False),
    "both": (1.0, True),
}


def settings_record(settings: ComparisonSettings) -> dict:
    """The comparison's settings and the encoder/head settings they refer to, as JSON stores
    them (lists for tuples), so that a stored run can be matched to the settings in force."""
    record = {
        "comparison": asdict(settings),
        "train": asdict(profile_settings(settings.profile).table1),
    }
    return json.loads(json.dumps(record))


#: Fields of :class:`~robustrep_lite.experiments.settings.TrainSettings` added after comparison runs
#: were stored, with the value that behaves as before they existed (``None``: the comparison never
#: reads the field, any value matches).
LATER_TRAIN_FIELDS: dict[str, object] = {
    "rv_points": None,
    "rv_steps": None,
    "encoder_budget_s": None,
    "fast": False,
}


def stored_matches(stored: dict, settings: ComparisonSettings) -> bool:
    """Whether a stored run's ``settings`` record (:func:`settings_record`) was made with
    ``settings``: the comparison's settings equal, every encoder/head setting it recorded equal,
    and a setting it could not record (:data:`LATER_TRAIN_FIELDS`) at its old behaviour now."""
    current = settings_record(settings)
    old, new = stored.get("train", {}), current["train"]
    if stored.get("comparison") != current["comparison"] or not set(old) <= set(new):
        return False
    for key, value in new.items():
        if key in old:
            if old[key] != value:
                return False
        elif key not in LATER_TRAIN_FIELDS:
            return False
        elif LATER_TRAIN_FIELDS[key] is not None and value != LATER_TRAIN_FIELDS[key]:
            return False
    return True


def train_arm(
    x: Tensor, arm: str, settings: ComparisonSettings, *, seed: int = 0, progress: bool = True
) -> EncoderRun:
    """The encoder of ``arm`` (one of :data:`ARMS`) trained on images ``x`` with the encoder
    settings of ``settings.profile`` (:func:`robustrep_lite.experiments.table1.encoder_config`)."""
    check_seed("seed", seed)
    beta, penalised = ARMS[check_choice("arm", arm, tuple(ARMS))]
    base = encoder_config(
        profile_settings(settings.profile).table1, settings.dataset, int(x.shape[1])
    )
    lam = settings.spectral_lambda if penalised else 0.0
    config = replace(base, beta=beta, spectral_lambda=lam)
    return train_encoder(x, config, seed=seed, progress=progress)


def encoder_sigmas(encoder: nn.Module, example: Tensor, seed: int = 0) -> list[float]:
    """Top singular value of every weight layer of ``encoder`` (power iteration to convergence,
    convolutions on the input shapes of ``example``), in ``modules()`` order."""
    check_seed("seed", seed)
    shapes = conv_input_shapes(encoder, example)
    gen = torch.Generator().manual_seed(seed)
    return [
        top_singular(layer, input_shape=shapes.get(layer), generator=gen)[0]
        for layer in all_layers(encoder)
    ]


def hsj_distance(
    encoder: nn.Module,
    data: Data,
    settings: ComparisonSettings,
    *,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float | int]:
    """Mean and median l2 HopSkipJump distance of encoder + a logistic head refit on the fitting
    images' representations, over its first ``settings.attack_points`` correctly classified
    test points (starting points from the test set); also the refit head's test accuracy."""
    check_seed("seed", seed)
    encoder = encoder.eval()
    dev = next(encoder.parameters()).device
    x_fit, y_fit, x_test, y_test = (
        t.to(dev) for t in (data.x_fit, data.y_fit, data.x_test, data.y_test)
    )
    head = refit_head(compute_features(encoder, x_fit), y_fit, l2=settings.head_l2)
    classifier = RefitClassifier(encoder, head).eval()
    idx = first_correct(classifier, x_test, y_test, settings.attack_points)
    refit = compute_features(classifier, x_test).argmax(1) == y_test
    search = DistanceSearch(
        steps=settings.hsj_steps, max_gradient_evals=settings.hsj_max_gradient_evals
    )
    found = adversarial_distances(
        classifier, x_test[idx], y_test[idx], search, pool=x_test, seed=seed, progress=progress
    ).numpy()
    ok = found[np.isfinite(found)]
    return {
        "refit_accuracy": float(refit.float().mean()),
        "hsj_points": len(idx),
        "hsj_mean": float(ok.mean()) if len(ok) else float("nan"),
        "hsj_median": float(np.median(ok)) if len(ok) else float("nan"),
        "hsj_failed": int(len(found) - len(ok)),
    }


def compare(
    data: Data,
    settings: ComparisonSettings,
    *,
    arms: tuple[str, ...] = tuple(ARMS),
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, float | int | str | list[float]]]:
    """Train each of ``arms`` on ``data.x_fit`` (same seed) and score it: one row per arm with
    ``natural``, ``pgd`` (PGD-7) and ``strong`` (APGD on the first ``strong_size`` test points)
    accuracy of a linear head trained on the frozen representation, the HopSkipJump distance
    of :func:`hsj_distance`, the encoder's layer ``sigmas``, the final clean and worst-case MI
    estimates of training, and the seconds taken. Every random draw that shapes a row comes from
    generators seeded by ``seed``, so an arm's row does not depend on the arms before it or on
    the global torch generator (bench/spectral_vs_mi.py resumes arm by arm on this). Raises
    ``ValueError`` for an unknown arm or data set or a negative ``spectral_lambda``."""
    check_seed("seed", seed)
    for arm in arms:
        check_choice("arms", arm, tuple(ARMS))
    check_choice("dataset", settings.dataset, tuple(THREAT_MODELS))
    check_nonnegative("spectral_lambda", settings.spectral_lambda, scalar=True)
    s = profile_settings(settings.profile).table1
    evaluation = head_evaluation(s, settings.dataset)
    rows: list[dict[str, float | int | str | list[float]]] = []
    for arm in arms:
        t0 = time.perf_counter()
        run = train_arm(data.x_fit, arm, settings, seed=seed, progress=progress)
        head = fit_linear_head(run, data, s, seed=seed, progress=progress)
        dev = next(run.encoder.parameters()).device
        accuracy = evaluate_head(
            run.encoder,
            head,
            data.x_test.to(dev),
            data.y_test.to(dev),
            evaluation,
            seed=seed,
        )
        distance = hsj_distance(run.encoder, data, settings, seed=seed, progress=progress)
        beta, _ = ARMS[arm]
        rows.append(
            {
                "arm": arm,
                "beta": beta,
                "spectral_lambda": run.config.get("spectral_lambda", 0.0),
                **accuracy,
                **distance,
                "sigmas": encoder_sigmas(run.encoder, data.x_fit[:2].to(dev), seed=seed),
                "mi": run.history.mi[-1] if run.history.mi else float("nan"),
                "worst_mi": run.history.worst_mi[-1] if run.history.worst_mi else float("nan"),
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def across_seeds(
    runs: dict[int, list[dict]], metric: str = "hsj_mean", baseline: str = "standard"
) -> tuple[list[dict], list[dict]]:
    """Combine runs of :func:`compare` with different seeds (``{seed: rows}``): per arm the
    mean and standard error over seeds of every numeric column
    (:func:`~robustrep_lite.experiments.spectral_regularization.summarise_rows`:
    ``"<column>_mean"``,
    ``"<column>_se"``), and per arm other than ``baseline`` the paired difference of ``metric``
    from ``baseline`` on the same seed
    (:func:`~robustrep_lite.experiments.spectral_regularization.paired_differences`). The arms of
    one seed share their data and initial weights, so pairing removes the seed-to-seed spread they
    share.

    Raises ``ValueError`` if ``runs`` is empty, if the seeds do not all have the same arms with
    the same lambda, or if ``metric`` or ``baseline`` is not in the rows."""
    if not runs:
        raise ValueError("runs: need at least one seed's rows, got none")
    signatures = {
        seed: [(row["arm"], row["spectral_lambda"]) for row in rows] for seed, rows in runs.items()
    }
    first = next(iter(signatures.values()))
    for seed, signature in signatures.items():
        if signature != first:
            raise ValueError(
                f"runs: seed {seed} has arms {signature}, seed {next(iter(runs))} has {first}; "
                "every seed must have the same arms and lambdas"
            )
    check_choice("baseline", baseline, tuple(arm for arm, _ in first))
    numeric = [k for k, v in next(iter(runs.values()))[0].items() if isinstance(v, float)]
    check_choice("metric", metric, tuple(numeric))
    flat = [
        {**row, "seed": seed, "lam": row["spectral_lambda"]}
        for seed, rows in runs.items()
        for row in rows
    ]
    return summarise_rows(flat), paired_differences(flat, metric, baseline=baseline)
