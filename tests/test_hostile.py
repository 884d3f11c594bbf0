"""The hostile-but-fair catalogue: every public entry point fed non-finite values, wrong
dtypes and shapes, out-of-range values and empty inputs. Each case must end in a ``ValueError``
(or a subclass, or ``FloatingPointError`` for a run that diverges) whose message names what was
wrong -- never a silent wrong number, a raw torch/numpy error, or lost data."""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_run import train
from torch import nn

from robustrep_lite.adversarial.attacks import PGDConfig, pgd, project_to_ball, random_in_ball
from robustrep_lite.adversarial.per_feature import PER_FEATURE_CRITIC, per_feature_vulnerability
from robustrep_lite.adversarial.robust_distance import DistanceSearch, adversarial_distances
from robustrep_lite.adversarial.search import AttackConfig
from robustrep_lite.adversarial.vulnerability import (
    WORST_CASE_CRITIC,
    representation_vulnerability,
    straight_through_sign,
    worst_case_mi,
)
from robustrep_lite.core.results import MissingKeyError, load_stored, read_json, save_result
from robustrep_lite.core.runtime import seed_everything
from robustrep_lite.core.validation import check_choice
from robustrep_lite.experiments import mi_staircase as staircase
from robustrep_lite.experiments import zoo
from robustrep_lite.experiments.settings import PROFILES, ZooModel
from robustrep_lite.experiments.spectral_regularization import (
    BurninConfig,
    compare_regularizers,
    train_with_burnin,
)
from robustrep_lite.mi import (
    CriticConfig,
    correlated_gaussians,
    estimate_mi,
    gaussian_mi,
    linear_gaussian_mi,
    make_critic,
    mine_loss,
    rho_for_mi,
    smile_bound,
)
from robustrep_lite.theory import measures
from robustrep_lite.theory import theorems as theory
from robustrep_lite.training.checkpoint import exclusive_run, load_checkpoint, save_checkpoint
from robustrep_lite.training.data import load_dataset, load_npz
from robustrep_lite.training.models import BaselineH, classifier
from robustrep_lite.training.spectral import SpectralPenalty, top_singular
from robustrep_lite.training.supervised import (
    ClassifierConfig,
    Evaluation,
    robust_accuracy,
    train_classifier,
)

GEN = torch.Generator().manual_seed(0)
X = torch.randn(400, 3, generator=GEN)
Y = X + 0.5 * torch.randn(400, 3, generator=GEN)
IMAGES = torch.rand(48, 1, 28, 28, generator=GEN)
LABELS = torch.arange(48) % 10


def _with(t: torch.Tensor, index: tuple, value: float) -> torch.Tensor:
    out = t.clone()
    out[index] = value
    return out


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def _nan_model() -> nn.Module:
    m = _mlp()
    with torch.no_grad():
        m[1].weight[0, 0] = math.nan
    return m


def _nan_linear() -> nn.Linear:
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight[1, 2] = math.nan
    return layer


def _burnin(targets: torch.Tensor, inputs: torch.Tensor = IMAGES, seed: object = 0) -> object:
    model = _mlp()
    return train_with_burnin(
        model,
        inputs,
        targets,
        BurninConfig(epochs=1, burnin=0, batch_size=16),
        seed=seed,
        progress=False,
    )


SEED = r"seed must be an integer in \[0, 2\*\*32 - 1\], got "
QUICK = PROFILES["quick"]
STAIRS = staircase.StaircaseConfig(d=2, levels=(1.0, 2.0), steps_per_level=2, heldout_batches=1)
ENC = {"epochs": 1, "batch_size": 16, "width": 0.125, "critic_units": 8, "pgd_steps": 1}
ENC |= {"progress": False, "eps": 0.1, "step_size": 0.05}
WC = replace(WORST_CASE_CRITIC, steps=5, batch_size=32)
PF = replace(PER_FEATURE_CRITIC, steps=5, batch_size=32)
SCORES = torch.randn(8, 8, generator=GEN)
MIX = (np.array([1.0, 0.5]), np.eye(2), np.array([1.0, 1.0]))

# (id, call, match): every call must raise ValueError (or FloatingPointError) matching ``match``
CASES: list[tuple[str, Callable[[], object], str]] = [
    # estimate_mi
    ("mi-nan-x", lambda: estimate_mi(_with(X, (0, 0), math.nan), Y), "x must contain only finite"),
    ("mi-inf-y", lambda: estimate_mi(X, _with(Y, (3, 1), math.inf)), "y must contain only finite"),
    ("mi-length", lambda: estimate_mi(X, Y[:300]), "same number of samples"),
    ("mi-empty", lambda: estimate_mi(X[:0], Y[:0]), "at least one sample"),
    ("mi-strings", lambda: estimate_mi([["a"]], [["b"]]), "numeric"),
    ("mi-bad-setting", lambda: estimate_mi(X, Y, stepz=10), "stepz"),
    ("mi-batch-0", lambda: estimate_mi(X, Y, batch_size=0), "batch_size"),
    ("mi-estimator", lambda: estimate_mi(X, Y, train_estimator="best"), "train_estimator"),
    ("critic-ema", lambda: CriticConfig(ema_rate=2.0), "ema_rate"),
    ("critic-val", lambda: CriticConfig(validation_fraction=0.9), "fraction"),
    # the worst-case estimator: its settings are checked where they are built (AttackConfig,
    # CriticConfig), the data by the estimator
    (
        "wc-outside-box",
        lambda: worst_case_mi(lambda v: v, X, AttackConfig(eps=1e-4), WC, progress=False),
        "box",
    ),
    (
        "wc-nan",
        lambda: worst_case_mi(lambda v: v, _with(X, (1, 1), math.nan), AttackConfig(eps=0.1)),
        "x",
    ),
    (
        "wc-pgd-steps",
        lambda: worst_case_mi(lambda v: v, X.sigmoid(), AttackConfig(eps=0.1, pgd_steps=-1)),
        "pgd_steps",
    ),
    ("wc-eps", lambda: worst_case_mi(lambda v: v, X.sigmoid(), AttackConfig(eps=-0.1)), "eps"),
    (
        "wc-ema",
        lambda: worst_case_mi(
            lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), replace(WC, ema_rate=2)
        ),
        "ema_rate",
    ),
    (
        "wc-search",
        lambda: worst_case_mi(lambda v: v, X.sigmoid(), AttackConfig(eps=0.1, search="all")),
        "search",
    ),
    (
        "wc-auto-critic",
        lambda: worst_case_mi(
            lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), replace(WC, critic="auto")
        ),
        "critic",
    ),
    (
        "rv-outside-box",
        lambda: representation_vulnerability(
            lambda v: v, X * 300, AttackConfig(eps=0.1), WC, progress=False
        ),
        "box",
    ),
    # PGD
    (
        "pgd-nan-pixel",
        lambda: pgd(
            lambda v: v.sum(1),
            _with(IMAGES.flatten(1), (0, 0), math.nan),
            PGDConfig(eps=0.1, step_size=0.01, steps=2),
        ),
        "finite",
    ),
    (
        "pgd-0-255",
        lambda: pgd(
            lambda v: v.sum(1), IMAGES.flatten(1) * 255, PGDConfig(eps=0.1, step_size=0.01, steps=2)
        ),
        "1/255",
    ),
    (
        "pgd-nan-box",
        lambda: pgd(
            lambda v: v.sum(1),
            IMAGES.flatten(1),
            PGDConfig(eps=0.1, step_size=0.01, steps=2, box=(math.nan, 1)),
        ),
        "box",
    ),
    (
        "pgd-steps",
        lambda: pgd(
            lambda v: v.sum(1), IMAGES.flatten(1), PGDConfig(eps=0.1, step_size=0.01, steps=-1)
        ),
        "steps",
    ),
    (
        "pgd-eps",
        lambda: pgd(
            lambda v: v.sum(1), IMAGES.flatten(1), PGDConfig(eps=math.nan, step_size=0.01, steps=1)
        ),
        "eps",
    ),
    # encoder training
    ("enc-0-255", lambda: train(IMAGES * 255, **ENC), "1/255"),
    ("enc-nan", lambda: train(_with(IMAGES, (0, 0, 0, 0), math.nan), **ENC), "finite"),
    ("enc-epochs", lambda: train(IMAGES, **{**ENC, "epochs": -1}), "epochs"),
    ("enc-beta", lambda: train(IMAGES, beta=-1.0, **ENC), "beta"),
    ("enc-budget", lambda: train(IMAGES, time_budget_s=0, **ENC), "time_budget_s"),
    ("enc-shape", lambda: train(IMAGES[:, :, :20], **ENC), "shape"),
    (
        "enc-diverges",
        lambda: train(IMAGES, lr=1e9, estimator="dv", **{**ENC, "epochs": 3}),
        "loss became",
    ),
    # classifier training and evaluation
    (
        "clf-labels",
        lambda: train_classifier(
            _mlp(), IMAGES, LABELS + 5, ClassifierConfig(epochs=1), progress=False
        ),
        "labels in",
    ),
    (
        "clf-neg-labels",
        lambda: train_classifier(
            _mlp(), IMAGES, LABELS - 1, ClassifierConfig(epochs=1), progress=False
        ),
        "labels in",
    ),
    (
        "clf-0-255-adv",
        lambda: train_classifier(
            _mlp(), IMAGES * 255, LABELS, ClassifierConfig(epochs=1, eps=0.1), progress=False
        ),
        "1/255",
    ),
    (
        "clf-nan",
        lambda: train_classifier(
            _mlp(),
            _with(IMAGES, (0, 0, 0, 0), math.nan),
            LABELS,
            ClassifierConfig(epochs=1),
            progress=False,
        ),
        "finite",
    ),
    (
        "clf-epochs",
        lambda: train_classifier(
            _mlp(), IMAGES, LABELS, ClassifierConfig(epochs=-1), progress=False
        ),
        "epochs",
    ),
    (
        "clf-batch",
        lambda: train_classifier(
            _mlp(), IMAGES, LABELS, ClassifierConfig(epochs=1, batch_size=0), progress=False
        ),
        "batch_size",
    ),
    (
        "clf-lengths",
        lambda: train_classifier(
            _mlp(), IMAGES, LABELS[:10], ClassifierConfig(epochs=1), progress=False
        ),
        "labels",
    ),
    (
        "clf-diverges",
        lambda: train_classifier(
            _nan_model(), IMAGES, LABELS, ClassifierConfig(epochs=2), progress=False
        ),
        "loss became nan in epoch 1",
    ),
    ("acc-nan-model", lambda: robust_accuracy(_nan_model(), IMAGES, LABELS), "non-finite weights"),
    (
        "acc-nan-x",
        lambda: robust_accuracy(_mlp(), _with(IMAGES, (0, 0, 0, 0), math.nan), LABELS),
        "finite",
    ),
    (
        "acc-attack",
        lambda: robust_accuracy(_mlp(), IMAGES, LABELS, Evaluation(attack="fgsm2")),
        "attack",
    ),
    ("acc-eps", lambda: robust_accuracy(_mlp(), IMAGES, LABELS, Evaluation(eps=-1.0)), "eps"),
    # closed forms
    (
        "mix-nan-theta",
        lambda: theory.gaussian_mixture_rv(np.array([math.nan, 0]), *MIX[1:], 0.5, math.inf),
        "theta",
    ),
    (
        "mix-zero-w",
        lambda: theory.gaussian_mixture_rv(MIX[0], MIX[1], np.zeros(2), 0.5, math.inf),
        "w",
    ),
    (
        "mix-cov",
        lambda: theory.gaussian_mixture_rv(MIX[0], -np.eye(2), MIX[2], 0.5, math.inf),
        "cov",
    ),
    ("mix-eps", lambda: theory.gaussian_mixture_rv(*MIX, -0.5, math.inf), "eps"),
    ("mix-p", lambda: theory.gaussian_mixture_rv(*MIX, 0.5, 0.5), "p"),
    ("lin-neg-def", lambda: linear_gaussian_mi(np.eye(2), -np.eye(2), 1.0), "semi-definite"),
    ("lin-sigma", lambda: linear_gaussian_mi(np.eye(2), np.eye(2), 0.0), "sigma"),
    # the experiments' settings: a count below 1 would slice silently (x[:rv_points])
    ("zoo-rv-points", lambda: replace(QUICK.zoo, rv_points=-5), "rv_points must be an integer"),
    ("zoo-channels", lambda: replace(QUICK.zoo, channels=0), "channels must be an integer"),
    ("zoo-eps", lambda: replace(QUICK.zoo, eval_eps={"mnist": (-0.1,)}), "eval_eps"),
    ("zoo-missing-eps", lambda: replace(QUICK.zoo, curve_eps={}), r"curve_eps.*\['mnist'\]"),
    ("zoo-model-eps", lambda: ZooModel("mnist", "baseline_h", -0.3), "train_eps"),
    ("spectral-burnin", lambda: replace(QUICK.spectral, burnin=9), "burnin must be <= epochs=4"),
    ("spectral-no-lambda", lambda: replace(QUICK.spectral, lambdas=()), "lambdas"),
    ("spectral-momentum", lambda: replace(QUICK.spectral, momentum=1.5), "momentum"),
    ("comparison-profile", lambda: replace(QUICK.comparison, profile="fast"), "profile must be"),
    ("chapters-count", lambda: replace(QUICK.chapters, demo_steps=0), "demo_steps"),
    ("profile-samples", lambda: replace(QUICK, monte_carlo_samples=-1), "monte_carlo_samples"),
    # the staircase: an MI the float Gaussians cannot carry, names given as one string
    ("rho-saturated", lambda: rho_for_mi(17.0, 1), "at most about 16 nats per dimension"),
    ("stairs-level", lambda: replace(STAIRS, levels=(100.0,)), "levels: mi must be at most"),
    ("stairs-names-str", lambda: staircase.run_staircase("dv", STAIRS), "sequence of estimator"),
    ("stairs-names-empty", lambda: staircase.run_staircase([], STAIRS), "non-empty sequence"),
    ("stairs-groups-str", lambda: staircase.staircase_groups(["dv"], STAIRS), "groups must hold"),
    (
        "stairs-groups-twice",
        lambda: staircase.staircase_groups([["dv", "nwj"], ["dv"]], STAIRS),
        r"groups must name each estimator once, got \['dv'\]",
    ),
    (
        "stairs-groups-config",
        lambda: staircase.staircase_groups([["dv"]], {"d": 2}),
        "config must be a StaircaseConfig, got dict",
    ),
    (
        "stairs-config",
        lambda: staircase.run_staircase(["dv"], {"d": 2}),
        "config must be a StaircaseConfig, got dict",
    ),
    (
        "stairs-seed-float",
        lambda: staircase.run_staircase(["dv"], STAIRS, seed=1.5),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got 1.5",
    ),
    (
        "stairs-seed-bool",
        lambda: staircase.run_staircase(["dv"], STAIRS, seed=True),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got True",
    ),
    (
        "stairs-short-curve",
        lambda: staircase.summarise_levels(np.arange(5.0), [0.0] * 4, (1.0, 2.0), 10, 2),
        r"curve must hold 10 values for each of the 2 levels \(20\), got 5",
    ),
    (
        "stairs-short-held",
        lambda: staircase.summarise_levels(np.arange(20.0), [0.0] * 3, (1.0, 2.0), 10, 2),
        "held must hold 2 values",
    ),
    # spectral regularization
    ("sigma-nan-weight", lambda: top_singular(_nan_linear()), "layer.weight must contain only"),
    ("burnin-labels", lambda: _burnin(LABELS + 5), r"targets must hold class labels in \[0, 10\)"),
    ("burnin-neg-labels", lambda: _burnin(LABELS - 1), "targets must hold class labels"),
    ("burnin-float-labels", lambda: _burnin(LABELS.float()), "integer class labels"),
    (
        "burnin-nan",
        lambda: _burnin(LABELS, _with(IMAGES, (0, 0, 0, 0), math.nan)),
        "inputs must contain only finite",
    ),
    ("attack-random-start", lambda: AttackConfig(eps=0.1, random_start="no"), "random_start"),
    (
        "burnin-seed",
        lambda: _burnin(LABELS, seed=1.5),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got 1.5",
    ),
    (
        "penalty-seed",
        lambda: SpectralPenalty([nn.Linear(2, 2)], 0.1, seed=True),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got True",
    ),
    (
        "penalty-one-layer",
        lambda: SpectralPenalty(nn.Linear(2, 2), 0.1),
        r"layers must be a sequence of Linear or Conv layers \(pass \[layer\] for one\)",
    ),
    (
        "penalty-exact-circular",
        lambda: SpectralPenalty([nn.Linear(2, 2)], 0.1, exact_circular="no"),
        "exact_circular must be True or False, got 'no'",
    ),
    (
        "compare-no-seeds",
        lambda: compare_regularizers(IMAGES, LABELS, IMAGES, LABELS, QUICK.spectral, seeds=[]),
        "seeds must be a non-empty sequence of integers",
    ),
    # a number given as a bool, a string or a list is refused, not read as 1.0 or parsed
    ("attack-eps-bool", lambda: AttackConfig(eps=True), "eps must be a finite real number >= 0"),
    ("attack-eps-str", lambda: AttackConfig(eps="0.1"), "eps must be a finite real number >= 0"),
    ("attack-eps-list", lambda: AttackConfig(eps=[0.1]), "eps must be a finite real number >= 0"),
    ("penalty-lam-bool", lambda: SpectralPenalty([nn.Linear(2, 2)], True), "lam must be a finite"),
    (
        "spectral-lambdas-bool",
        lambda: replace(QUICK.spectral, lambdas=(0.1, True)),
        r"lambdas must be a finite real number >= 0 \(or a sequence",
    ),
    ("zoo-eps-str", lambda: replace(QUICK.zoo, eval_eps={"mnist": ("0.1",)}), "eval_eps"),
    (
        "risks-b-str",
        lambda: measures.linear_classifier_risks(np.eye(2), [1, -1], [1.0, 0.0], "0.5", 0.1),
        "b must be a real number",
    ),
    (
        "channels-bool",
        lambda: BaselineH(True, 28),
        r"in_channels must be one of \(1, 3\), got True",
    ),
    ("zoo-points-bool", lambda: zoo.robust_accuracy_curves({}, {}, {}, points=True), "points"),
    ("zoo-points-float", lambda: zoo.robust_accuracy_curves({}, {}, {}, points=2.5), "points"),
    # an integer choice is an integer: 28.0 == 28 and tensor(28) == 28 in Python, yet neither is
    # taken for the image size 28
    ("size-float", lambda: BaselineH(1, 28.0), r"image_size must be one of \(28, 32\), got 28\.0"),
    ("size-tensor", lambda: BaselineH(1, torch.tensor(28)), r"image_size must be one of"),
    ("channels-float", lambda: BaselineH(1.0, 28), r"in_channels must be one of \(1, 3\)"),
    (
        "pgd-norm-list",
        lambda: PGDConfig(eps=0.1, step_size=0.01, steps=1, norm=[2]),
        r"norm must be one of \('inf', '2'\), got \[2\]",
    ),
    # one radius for the batch: a list or a per-sample tensor is refused (clamp would broadcast
    # a (k,) tensor along the last axis, not over the samples)
    (
        "ball-eps-list",
        lambda: project_to_ball(torch.zeros(3, 2), [0.1, 0.2], "inf"),
        "eps must be a finite real number >= 0, got",
    ),
    (
        "ball-eps-per-sample",
        lambda: project_to_ball(torch.ones(3, 2), torch.tensor([0.1, 0.2, 0.3]), "2"),
        "eps must be a finite real number >= 0, got",
    ),
    (
        "random-eps-per-feature",
        lambda: random_in_ball(torch.zeros(2, 2), torch.tensor([0.1, 0.2]), "inf"),
        "eps must be a finite real number >= 0, got",
    ),
    # a box is a pair of real numbers: not bools, not strings parsed digit by digit, not three
    (
        "pgd-box-bool",
        lambda: PGDConfig(eps=0.1, step_size=0.01, steps=1, box=(True, 2)),
        r"box must be None or finite \(low, high\)",
    ),
    ("attack-box-str", lambda: AttackConfig(eps=0.1, box="01"), "box must be None or finite"),
    (
        "distance-bounds-three",
        lambda: DistanceSearch(bounds=(0.0, 1.0, 2.0)),
        r"bounds must be finite \(low, high\) with low < high",
    ),
    ("distance-bounds-str", lambda: DistanceSearch(bounds=("0", "1")), "bounds must be finite"),
    (
        "sign-sharpness-bool",
        lambda: straight_through_sign(torch.zeros(2), True),
        "sharpness must be a finite number > 0, got True",
    ),
    # seeds and flags of the estimators, refused before any critic is trained
    (
        "mi-seed-negative",
        lambda: estimate_mi(X, Y, seed=-1, steps=5, batch_size=32, progress=False),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got -1",
    ),
    (
        "mi-seed-bool",
        lambda: estimate_mi(X, Y, seed=True),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\]",
    ),
    (
        "wc-seed-float",
        lambda: worst_case_mi(lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), WC, seed=1.5),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got 1.5",
    ),
    (
        "wc-refit-str",
        lambda: worst_case_mi(
            lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), WC, refit="no", progress=False
        ),
        "refit must be True or False, got 'no'",
    ),
    (
        "rv-refit-str",
        lambda: representation_vulnerability(
            lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), WC, refit="no", progress=False
        ),
        "refit must be True or False",
    ),
    (
        "per-feature-seed",
        lambda: per_feature_vulnerability(
            lambda v: v, X.sigmoid(), AttackConfig(eps=0.1), PF, seed=-1, progress=False
        ),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\], got -1",
    ),
    (
        "make-critic-seed",
        lambda: make_critic(CriticConfig(critic="separable", hidden=8), X, Y, seed=-1),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\]",
    ),
    # the Gaussian ground truths: a bool is not a dimension, a correlation or a noise level
    ("gauss-d-bool", lambda: gaussian_mi(True, 0.5), "d must be an integer >= 1, got True"),
    ("gauss-rho-bool", lambda: gaussian_mi(1, False), r"rho must be a real number in \(-1"),
    ("rho-d-bool", lambda: rho_for_mi(1.0, True), "d must be an integer >= 1, got True"),
    ("rho-mi-bool", lambda: rho_for_mi(True, 1), "mi must be a finite real number >= 0"),
    ("pairs-n-bool", lambda: correlated_gaussians(True, 1, 0.5, 0), "n must be an integer >= 1"),
    (
        "pairs-seed-negative",
        lambda: correlated_gaussians(10, 1, 0.5, -1),
        "seed must be an integer in \\[0, 2\\*\\*32 - 1\\]",
    ),
    (
        "pairs-cubic-str",
        lambda: correlated_gaussians(10, 1, 0.5, 0, cubic="no"),
        "cubic must be True or False, got 'no'",
    ),
    (
        "lin-sigma-bool",
        lambda: linear_gaussian_mi(np.eye(2), np.eye(2), True),
        "sigma must be a finite number > 0, got True",
    ),
    # the bounds' and the critic's numbers: a bool is not tau, a rate or a fraction
    ("smile-clip-bool", lambda: smile_bound(SCORES, clip=True), "clip must be a positive"),
    ("mine-rate-bool", lambda: mine_loss(SCORES, None, rate=True), r"rate must be a real number"),
    (
        "critic-val-false",
        lambda: CriticConfig(critic="separable", validation_fraction=False),
        r"validation_fraction must be a real number in \[0.0, 1.0\), got False",
    ),
    (
        "critic-average-false",
        lambda: CriticConfig(weight_average=False),
        "weight_average must be a real number in",
    ),
    (
        "critic-decay-false",
        lambda: CriticConfig(weight_decay=False),
        "weight_decay must be a real number in",
    ),
    # seeds: an integer in [0, 2**32 - 1] everywhere, refused before any work (a float was
    # truncated to another seed, a negative one accepted, a large one overflowed in torch)
    ("seed-classifier-float", lambda: classifier("baseline_h", seed=1.5), SEED + "1.5"),
    ("seed-classifier-text", lambda: classifier("baseline_h", seed="1"), SEED + "'1'"),
    ("seed-classifier-negative", lambda: classifier("baseline_h", seed=-1), SEED + "-1"),
    ("seed-encoder-huge", lambda: train(IMAGES, seed=2**63, **ENC), SEED + str(2**63)),
    ("seed-encoder-bool", lambda: train(IMAGES, seed=True, **ENC), SEED + "True"),
    ("seed-everything", lambda: seed_everything(2**32), SEED + str(2**32)),
    (
        "seed-train-classifier",
        lambda: train_classifier(_mlp(), IMAGES, LABELS, ClassifierConfig(epochs=1), seed=-2),
        SEED + "-2",
    ),
    ("seed-robust-accuracy", lambda: robust_accuracy(_mlp(), IMAGES, LABELS, seed=0.5), SEED),
    ("seed-data", lambda: load_dataset("mnist", source="embedded", seed=1.0), SEED + "1.0"),
    ("seed-theory-params", lambda: theory.random_parameters(2, 2, seed=-1), SEED + "-1"),
    ("seed-theory-sample", lambda: theory.sample_gaussian_mixture(*MIX[:2], 10, seed=2.5), SEED),
    (
        "seed-distances",
        lambda: adversarial_distances(_mlp(), IMAGES, LABELS, seed=2**40, progress=False),
        SEED,
    ),
    ("seed-zoo", lambda: zoo.train_zoo(QUICK.zoo, {}, seed=-1, progress=False), SEED + "-1"),
    # data
    ("data-name", lambda: load_dataset("imagenet"), "name"),
    ("data-source", lambda: load_dataset("mnist", source="web"), "source"),
    ("data-size", lambda: load_dataset("mnist", source="embedded", train_size=0), "train_size"),
    ("data-missing", lambda: load_npz("/nonexistent/cifar10.npz"), "does not exist"),
]


@pytest.mark.parametrize(("call", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises((ValueError, FloatingPointError), match=match):
        call()


#: Public functions that take a ``seed`` but do not check it themselves, with why that is safe.
SEED_NOT_CHECKED_HERE = {
    "provenance": "records the seed the chapter was set up with (setup_chapter checks it)",
    "setup_chapter": "passes it to seed_everything, which checks it",
    "budget_traces": "passes it to theory.gaussian_mixture_monte_carlo, which checks it",
    "readout_html": "passes it to theory.gaussian_mixture_monte_carlo, which checks it",
    "theorem_explorer": "passes it to readout_html",
    "vs_mi_rows": "looks a stored run up by its seed; seeds nothing",
    "vs_mi_markdown": "looks a stored run up by its seed; seeds nothing",
    "table_encoders": "looks stored encoders up by their seed; seeds nothing",
    "worst_case_mi": "checked in the shared argument check of the vulnerability estimators",
    "normal_mi": "checked in the shared argument check of the vulnerability estimators",
    "representation_vulnerability": "checked in the shared argument check",
    "table1": "takes a number of seeds (checked as an integer >= 1)",
    "stored_seed_runs": "looks stored runs up by their seeds; seeds nothing",
}


def test_every_public_function_taking_a_seed_checks_it_or_says_who_does() -> None:
    """A new public function with a ``seed`` cannot forget the range check: it calls
    ``check_seed`` on it or is listed above with the function that does."""
    root = Path(__file__).resolve().parents[1] / "robustrep_lite"
    unchecked = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            arguments = {a.arg for a in node.args.args + node.args.kwonlyargs}
            if not arguments & {"seed", "seeds"}:
                continue
            calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
            if "check_seed" not in calls:
                unchecked.add(node.name)
    assert unchecked == set(SEED_NOT_CHECKED_HERE)


def test_the_catalogue_is_large() -> None:
    assert len(CASES) >= 50


def test_an_integer_choice_takes_a_numpy_integer_as_the_plain_int() -> None:
    # the rule of check_choice: equal and of the choice's kind; a NumPy integer scalar is an
    # integer (shapes and sizes often come as np.int64) and comes back as the choice itself
    size = check_choice("image_size", np.int64(28), (28, 32))
    assert size == 28 and type(size) is int
    assert check_choice("flag", np.True_, (True, False)) is True
    assert check_choice("attack", None, ("apgd", None)) is None
    assert type(BaselineH(np.int64(1), np.int64(28))(IMAGES[:2])) is torch.Tensor
    for refused in (28.0, np.float64(28), torch.tensor(28), np.array(28), "28", [28]):
        with pytest.raises(ValueError, match="image_size must be one of"):
            check_choice("image_size", refused, (28, 32))


def test_scale_of_w_does_not_change_the_exact_rv() -> None:
    # RV of sgn(w . x) is invariant under w -> c w; huge and tiny w once gave 0.0 and NaN
    exact = theory.gaussian_mixture_rv(*MIX, 0.5, math.inf)
    for c in (1e-200, 1e200):
        assert theory.gaussian_mixture_rv(
            MIX[0], MIX[1], c * MIX[2], 0.5, math.inf
        ) == pytest.approx(exact)  # noqa: E501


def test_a_lone_last_image_does_not_break_batchnorm() -> None:
    model = nn.Sequential(BaselineH(1, 28, 10, 0.125))
    history = train_classifier(
        model, IMAGES[:33], LABELS[:33], ClassifierConfig(epochs=1, batch_size=16), progress=False
    )  # noqa: E501
    assert math.isfinite(history.loss[-1])


def test_nan_in_a_result_is_written_as_null(tmp_path: Path) -> None:
    path = save_result({"value": math.nan, "rows": [1.0, math.inf], "ok": 2.5}, tmp_path / "r.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    stored = json.loads(text)
    assert stored.pop("provenance")["git_commit"]  # save_result names the code (test_results)
    assert stored == {"value": None, "rows": [1.0, None], "ok": 2.5}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_stored_result_that_is_binary_or_not_an_object_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robustrep_lite.core import results

    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"list\.json must hold a JSON object.*got a list"):
        load_stored("bench/list.json")
    (tmp_path / "bench" / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    for read in (
        lambda: load_stored("bench/bin.json"),
        lambda: read_json(tmp_path / "bench/bin.json"),
    ):
        with pytest.raises(ValueError, match=r"bin\.json is not valid JSON \(not UTF-8"):
            read()


def test_a_key_missing_from_a_stored_result_names_the_file_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robustrep_lite.book.mi_figures import STAIRCASE_SEPARABLE, staircase_markdown
    from robustrep_lite.core import results

    stored = json.loads((results.CHECKOUT / STAIRCASE_SEPARABLE).read_text())
    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    (tmp_path / "bench").mkdir()
    record = load_stored(_stored(tmp_path, "whole.json", stored))
    assert record == stored  # an ordinary dict for a complete file
    assert staircase_markdown(record) == staircase_markdown(stored)
    top = _stored(tmp_path, "top.json", {k: v for k, v in stored.items() if k != "config"})
    with pytest.raises(MissingKeyError, match=r"top\.json has no key 'config' at its top level"):
        staircase_markdown(load_stored(top))
    name = next(iter(stored["results"]))
    del stored["results"][name]["levels"]
    nested = _stored(tmp_path, "nested.json", stored)
    where = re.escape(f"no key 'levels' in its object ['results'][{name!r}]")
    with pytest.raises(ValueError, match=where):
        staircase_markdown(load_stored(nested))
    with pytest.raises(KeyError):  # `except KeyError` around a stored record still works
        load_stored(nested)["results"][name]["levels"]


def _stored(root: Path, name: str, record: dict) -> str:
    (root / "bench" / name).write_text(json.dumps(record))
    return f"bench/{name}"


def test_two_runs_cannot_share_a_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "run" / "encoder.pt"
    with exclusive_run(ckpt), pytest.raises(ValueError, match=r"in use by another run \(process"):
        with exclusive_run(ckpt):
            pass
    # released at the end: a later run takes it
    with exclusive_run(ckpt):
        pass
    # a lock left by a killed process of this machine is taken over
    lock = Path(f"{ckpt}.lock")
    import socket

    lock.write_text(
        json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "x"})
    )
    with exclusive_run(ckpt):
        assert json.loads(lock.read_text())["pid"] != 2**22 + 12345
    assert not lock.exists()
    # a lock of another machine is refused while fresh, taken over once silent for hours
    import os
    import time

    lock.write_text(json.dumps({"pid": 1, "host": "another-machine", "started": "x"}))
    with pytest.raises(ValueError, match="another-machine"), exclusive_run(ckpt):
        pass
    old = time.time() - 7 * 3600
    os.utime(lock, (old, old))
    with exclusive_run(ckpt):
        assert json.loads(lock.read_text())["host"] != "another-machine"
        # each checkpoint written refreshes the lock (the run's heartbeat)
        os.utime(lock, (old, old))
        save_checkpoint(ckpt, step=1, modules={"m": nn.Linear(2, 2)})
        assert time.time() - lock.stat().st_mtime < 60


def test_a_second_training_run_on_one_checkpoint_is_refused(tmp_path: Path) -> None:
    ckpt = tmp_path / "encoder.pt"
    with exclusive_run(ckpt), pytest.raises(ValueError, match="in use by another run"):
        train(IMAGES, checkpoint=ckpt, **ENC)
    assert not ckpt.exists()  # the refused run wrote nothing


def test_resume_with_another_thread_count_warns(tmp_path: Path) -> None:
    net = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "c.pt", step=1, modules={"m": net})
    before = torch.get_num_threads()
    torch.set_num_threads(before + 1)
    try:
        with pytest.warns(UserWarning, match="CPU threads"):
            load_checkpoint(tmp_path / "c.pt", modules={"m": net})
    finally:
        torch.set_num_threads(before)
