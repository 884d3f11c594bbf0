"""Every setting an experiment reads per profile, in one table (:data:`PROFILES`).

One switch, the ``ROBUSTREP_PROFILE`` environment variable, selects how much compute every
chapter and command spends:

- ``quick``: CI. Embedded offline data, tiny models, seconds per chapter. Every code path runs;
  the numbers are not meaningful.
- ``cpu``: real data subsets (MNIST, a CIFAR-10 subset), minutes on a laptop CPU.
- ``gpu``: the paper's architecture (width 1, 2048-unit critic, PGD-7 at 8/255) on the whole
  training set, each encoder trained for a wall-clock budget instead of 500 epochs: Table 1 for
  one seed and the Section 6.1 zoo in minutes on one GPU (the fast step: bf16, channels-last).
- ``paper``: the paper's settings (full CIFAR-10, 500 epochs, 2048-unit critic, fp32), days of
  GPU time.

Default when the variable is unset: ``quick`` if ``CI`` is set, else ``gpu`` on a CUDA GPU,
else ``cpu`` (``paper`` only by name). The choice and the reason for it are always printed by
the chapters.

A profile (:class:`ProfileSettings`) holds what every chapter reads (data source, sizes, Monte
Carlo samples) and one section per experiment: ``chapters`` (the chapters' own live cells),
``table1`` (Section 5 / Table 1 of Zhu, Zhang & Evans 2020), ``zoo`` (Section 6.1),
``spectral`` (Yang, Zavatone-Veth & Pehlevan 2024) and ``comparison`` (both methods on one
encoder). :func:`profile_settings` picks a profile; :func:`settings_markdown` renders the table
or any section of it, which is what the book prints.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from robustrep_lite.core.validation import (
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "ENV_VAR",
    "PROFILES",
    "PROFILE_NAMES",
    "SECTIONS",
    "SIZE_FIELDS",
    "ChapterSettings",
    "ComparisonSettings",
    "ProfileSettings",
    "SpectralSettings",
    "TrainSettings",
    "ZooModel",
    "ZooSettings",
    "at_sizes_of",
    "profile_reason",
    "profile_settings",
    "settings_markdown",
]

#: The environment variable that names the profile.
ENV_VAR = "ROBUSTREP_PROFILE"
#: The profiles, from the fastest to the paper's settings.
PROFILE_NAMES = ("quick", "cpu", "gpu", "paper")


@dataclass(frozen=True)
class ChapterSettings:
    """What the chapters' own live cells spend, beyond the experiment modules."""

    bound_repeats: int  # batches per batch size at the optimal critic (Section 4's bounds)
    staircase_steps: int  # critic steps per MI level of the live staircase
    widget_steps: int  # critic steps of the interactive MI estimate
    demo_points: int  # samples of the early-stopping demonstration
    demo_steps: int  # its critic steps
    pointwise_points: int  # samples of the live RV of sgn(w.x) (Section 6's closed form check)
    pointwise_steps: int  # its critic steps
    xor_grid_side: int  # points per axis of the XOR toy's decision and volume-element maps

    def __post_init__(self) -> None:
        """Every count an integer >= 1 (a ``ValueError`` names the setting otherwise)."""
        for f in dataclasses.fields(self):
            check_int(f.name, getattr(self, f.name), 1)


@dataclass(frozen=True)
class TrainSettings:
    """Everything a profile fixes for Section 5 / Table 1 of Zhu, Zhang & Evans (2020)."""

    profile: str  # the profile these belong to (stored beside results)
    data_source: str  # as robustrep_lite.training.data.load_dataset
    train_size: dict[str, int | None]  # training images per data set (validation included)
    val_size: int  # carved from the training images, for E.S.
    test_size: int | None
    strong_size: int  # test images attacked with the stronger attack
    strong_attack: str  # "apgd" (APGD-CE + APGD-T) or "autoattack" (standard AutoAttack)
    width: float  # Baseline-H channel multiplier (paper 1.0)
    critic_units: int  # LocalDIMCritic width (paper 2048)
    critic_norm: str
    estimator: str
    encoder_epochs: int
    head_epochs: int
    batch_size: int
    lr: float  # encoder + critic (paper: Adam 1e-4)
    head_lr: float  # heads (paper: Adam 1e-4)
    pgd_steps: int
    augment: bool  # crop + flip for 3-channel data
    seeds: int
    grid_betas: tuple[float, ...]  # the chapter's beta x eps grid
    grid_eps_fractions: tuple[float, ...]  # training eps as fractions of the threat model's eps
    grid_epochs: int
    grid_train_size: int
    rv_points: int  # test images behind each grid cell's validated RV (a fresh critic)
    rv_steps: int  # at most this many critic steps per fit (early stopping on validation)
    encoder_budget_s: float | None  # wall clock per encoder (None: train all encoder_epochs)
    fast: bool  # on CUDA: autocast (bf16, or fp16 without native bf16) + channels-last; False: fp32

    def __post_init__(self) -> None:
        """Every count an integer of its least sensible value, every rate a finite number > 0,
        the strong attack one the heads can be evaluated with (a ``ValueError`` names the
        setting otherwise)."""
        for name, size in self.train_size.items():
            if size is not None:
                check_int(f"train_size[{name!r}]", size, 1)
        if self.test_size is not None:
            check_int("test_size", self.test_size, 1)
        for name in ("val_size", "strong_size", "critic_units", "head_epochs", "seeds"):
            check_int(name, getattr(self, name), 1)
        for name in ("grid_train_size", "rv_points", "rv_steps"):
            check_int(name, getattr(self, name), 1)
        for name in ("encoder_epochs", "grid_epochs", "pgd_steps"):
            check_int(name, getattr(self, name), 0)
        check_int("batch_size", self.batch_size, 2)
        check_choice("strong_attack", self.strong_attack, ("apgd", "autoattack"))
        for name in ("width", "lr", "head_lr"):
            check_positive(name, getattr(self, name))
        if self.encoder_budget_s is not None:
            check_positive("encoder_budget_s", self.encoder_budget_s)


@dataclass(frozen=True)
class ZooModel:
    """One classifier of the Section 6.1 zoo: data set, architecture
    (:data:`robustrep_lite.training.models.CLASSIFIERS`) and the l_inf radius it was
    adversarially trained at (0: standard)."""

    dataset: str
    arch: str
    train_eps: float

    def __post_init__(self) -> None:
        check_nonnegative("train_eps", self.train_eps, scalar=True)

    @property
    def label(self) -> str:
        kind = (
            "standard"
            if self.train_eps == 0
            else f"adv eps={_eps_text(self.dataset, self.train_eps)}"
        )
        return f"{self.arch} ({kind})"


def _eps_text(dataset: str, eps: float) -> str:
    """eps as the paper writes it: k/255 on CIFAR-10, a decimal on MNIST."""
    if dataset == "cifar10":
        return f"{round(eps * 255)}/255"
    return f"{eps:g}"


@dataclass(frozen=True)
class ZooSettings:
    """Everything Section 6.1 spends. quick: embedded digits, two tiny models; cpu: MNIST and a
    CIFAR-10 subset, Baseline-H at half width and a small ResNet, standard and PGD-3
    adversarially trained at the paper's radius, 4 epochs; gpu: all of CIFAR-10, Baseline-H
    (width 1) and ResNet18, standard and PGD-7 adversarially trained at 8/255 for 45 s of wall
    clock each, the paper's 2048-unit critic on 5,000 test images; paper: full CIFAR-10,
    Baseline-H, ResNet18, VGG16, DenseNet121 at eps 0, 2/255, 8/255 and the paper's 2048-unit
    critic. In cpu the clean and refit critics may take up to 1,000 steps (they stop early on
    validation) and the worst-case search 100, each of which runs PGD-7 on its batch."""

    models: tuple[ZooModel, ...]
    eval_eps: dict[str, tuple[float, ...]]  # per data set: where MI and APGD are measured
    curve_eps: dict[str, tuple[float, ...]]  # per data set: PGD-7 accuracy curve (eps slider)
    width: float  # Baseline-H channel multiplier
    train_size: int | None
    test_size: int | None
    epochs: int
    batch_size: int
    lr: float
    adv_pgd_steps: int  # PGD steps of adversarial training
    rv_points: int  # test images behind each MI estimate
    rv_steps: int  # most critic steps of each MI fit (clean and refit; early stopping)
    rv_search_steps: int  # mini-batches of the worst-case search (PGD + one critic step each)
    rv_batch: int
    critic_hidden: int
    channels: int  # conv-2 channels of Baseline-H in Figure 3's analogue
    channel_steps: int
    train_budget_s: float | None = None  # wall clock per model (None: all ``epochs``)

    def __post_init__(self) -> None:
        """At least one :class:`ZooModel`, radii for each of their data sets, every count an
        integer of its least sensible value and every rate a finite number > 0 (a
        ``ValueError`` names the setting otherwise): a count below 1 would otherwise slice the
        test images silently (``x[:rv_points]``) or leave a figure empty."""
        if not self.models or not all(isinstance(m, ZooModel) for m in self.models):
            raise ValueError(f"models must be a non-empty tuple of ZooModel, got {self.models!r}")
        datasets = {m.dataset for m in self.models}
        for name in ("eval_eps", "curve_eps"):
            radii = getattr(self, name)
            missing = sorted(datasets - set(radii))
            if missing:
                raise ValueError(f"{name} must give radii for every data set of models: {missing}")
            for dataset, values in radii.items():
                if not values:
                    raise ValueError(f"{name}[{dataset!r}] must hold at least one radius")
                check_nonnegative(f"{name}[{dataset!r}]", values)
        check_positive("width", self.width)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        for name in ("epochs", "adv_pgd_steps"):
            check_int(name, getattr(self, name), 0)
        counts = ("batch_size", "rv_points", "rv_steps", "rv_search_steps", "critic_hidden")
        for name in (*counts, "channels", "channel_steps"):
            check_int(name, getattr(self, name), 1)
        check_int("rv_batch", self.rv_batch, 2)  # the bounds need off-diagonal pairs
        check_positive("lr", self.lr)
        if self.train_budget_s is not None:
            check_positive("train_budget_s", self.train_budget_s)

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["models"] = [asdict(m) for m in self.models]
        return out


@dataclass(frozen=True)
class SpectralSettings:
    """Everything the MNIST comparison and the XOR toy of Yang, Zavatone-Veth & Pehlevan (2024)
    depend on (chapter and bench share it).

    ``paper``: the paper's MNIST settings (full data, SGD lr 0.1, momentum 0.9, batch 1024, 200
    epochs with 160 of burn-in, lambda in {1e-3, 1e-2, 1e-1}; 1000 attacked points, 10 seeds).
    ``cpu``: 10 000 training images, batch 128, 30 epochs with 24 of burn-in and lr 0.5, chosen
    so that the number of SGD steps times the learning rate, in the burn-in and in the
    regularised phase, equals the paper's (2344 x 0.5 = 11 720 x 0.1, and 469 x 0.5 =
    2344 x 0.1): the same lambdas then act as strongly as in the paper; 100 attacked points with
    a 10-step HopSkipJump, 5 seeds. ``gpu``: the paper's data and batch, 40 epochs with 32 of
    burn-in, 3 seeds, half the attack budget. ``quick``: a few seconds, numbers meaningless. The
    XOR toy follows the authors' script in every profile but ``quick`` (15 000 full-batch epochs
    with 10 500 of burn-in, lr 1, lambda 1e-3).
    """

    train_size: int | None  # MNIST training images (None: all 60 000)
    test_size: int | None
    width: int
    epochs: int
    burnin: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    lambdas: tuple[float, ...]  # each regularised arm is trained with each of these
    seeds: int
    attack_points: int  # correctly classified test points attacked per model
    hsj_steps: int  # HopSkipJump iterations
    hsj_max_gradient_evals: int  # cap of its boundary-normal estimation queries
    ddn_steps: int  # the white-box cross-check (DDN)
    head_l2: float  # L2 strength of the refit logistic-regression head
    xor_width: int
    xor_epochs: int
    xor_burnin: int
    xor_lambda: float

    def __post_init__(self) -> None:
        """Every count an integer of its least sensible value, burn-ins no longer than their
        runs, every rate finite (a ``ValueError`` names the setting otherwise)."""
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        for name in ("width", "batch_size", "seeds", "attack_points", "xor_width"):
            check_int(name, getattr(self, name), 1)
        for name in ("hsj_steps", "hsj_max_gradient_evals", "ddn_steps"):
            check_int(name, getattr(self, name), 1)
        for run, burnin in (("epochs", "burnin"), ("xor_epochs", "xor_burnin")):
            check_int(run, getattr(self, run), 0)
            check_int(burnin, getattr(self, burnin), 0)
            if getattr(self, burnin) > getattr(self, run):
                raise ValueError(
                    f"{burnin} must be <= {run}={getattr(self, run)}, got {getattr(self, burnin)}"
                )
        check_positive("lr", self.lr)
        if not check_nonnegative("momentum", self.momentum, scalar=True) < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        for name in ("weight_decay", "head_l2", "xor_lambda"):
            check_nonnegative(name, getattr(self, name), scalar=True)
        if not self.lambdas:
            raise ValueError("lambdas must hold at least one penalty strength")
        check_nonnegative("lambdas", self.lambdas)


@dataclass(frozen=True)
class ComparisonSettings:
    """What the comparison of spectral regularization with worst-case MI training (Section 5 of
    Zhu, Zhang & Evans 2020) adds to the encoder/head settings of ``profile``'s ``table1``.

    ``cpu``: the MNIST subset, width-0.25 encoder, SMILE and 3 epochs of the worst-case MI
    chapter's ``cpu`` settings, lambda 0.1 (the strongest of the spectral chapter's lambdas),
    100 attacked points with a 10-step HopSkipJump (about 10 minutes on one core). ``paper``: the
    paper's Baseline-H settings with lambda 0.01 and the spectral paper's attack budget.
    ``gpu``: the ``gpu`` encoders (a wall-clock budget each), lambda 0.01, half the attack
    budget. ``quick``: seconds, numbers meaningless.
    """

    profile: str  # whose ``table1`` settings give data, encoder and head
    dataset: str
    spectral_lambda: float
    attack_points: int  # correctly classified test points attacked by HopSkipJump
    hsj_steps: int
    hsj_max_gradient_evals: int
    head_l2: float  # L2 strength of the refit logistic-regression head

    def __post_init__(self) -> None:
        """``profile`` one of :data:`PROFILE_NAMES`, every count an integer >= 1 and every
        strength finite and >= 0 (a ``ValueError`` names the setting otherwise)."""
        check_choice("profile", self.profile, PROFILE_NAMES)
        for name in ("attack_points", "hsj_steps", "hsj_max_gradient_evals"):
            check_int(name, getattr(self, name), 1)
        check_nonnegative("spectral_lambda", self.spectral_lambda, scalar=True)
        check_nonnegative("head_l2", self.head_l2, scalar=True)


@dataclass(frozen=True)
class ProfileSettings:
    """One profile: what every chapter reads, then one section per experiment."""

    name: str
    description: str
    data_source: str  # "embedded" (no download) or "auto" (npz / torchvision, see data.py)
    train_size: int | None  # training images of the data a chapter shows (None: all)
    test_size: int | None
    monte_carlo_samples: int  # samples per Monte Carlo check of a closed form (Sections 3, 4)
    chapters: ChapterSettings
    table1: TrainSettings
    zoo: ZooSettings
    spectral: SpectralSettings
    comparison: ComparisonSettings

    def __post_init__(self) -> None:
        """``name`` one of :data:`PROFILE_NAMES` and every size an integer >= 1 (a
        ``ValueError`` names the setting otherwise)."""
        check_choice("name", self.name, PROFILE_NAMES)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        check_int("monte_carlo_samples", self.monte_carlo_samples, 1)


#: The sections of a :class:`ProfileSettings`, in the order of the book.
SECTIONS = ("chapters", "table1", "zoo", "spectral", "comparison")


def _zoo(dataset: str, entries: dict[str, tuple[float, ...]]) -> tuple[ZooModel, ...]:
    return tuple(ZooModel(dataset, a, e) for a, eps in entries.items() for e in eps)


_CIFAR_EPS = (2 / 255, 8 / 255)  # the paper's training radii
_CIFAR_CURVE = tuple(k / 255 for k in (0, 1, 2, 4, 8, 12, 16))
_MNIST_CURVE = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4)


#: Every setting of every profile: profile name -> :class:`ProfileSettings`.
#:
#: :meta hide-value:
PROFILES: dict[str, ProfileSettings] = {
    "quick": ProfileSettings(
        name="quick",
        description="CI: embedded offline data, tiny models, numbers not meaningful",
        data_source="embedded",
        train_size=256,
        test_size=128,
        monte_carlo_samples=20_000,
        chapters=ChapterSettings(
            bound_repeats=20,
            staircase_steps=25,
            widget_steps=50,
            demo_points=1500,
            demo_steps=150,
            pointwise_points=2_000,
            pointwise_steps=60,
            xor_grid_side=41,
        ),
        table1=TrainSettings(
            profile="quick",
            data_source="embedded",
            train_size={"mnist": 256, "fashion_mnist": 256, "svhn": 256, "cifar10": 256},
            val_size=64,
            test_size=64,
            strong_size=16,
            strong_attack="apgd",
            width=0.125,
            critic_units=16,
            critic_norm="batch",
            estimator="dv",
            encoder_epochs=1,
            head_epochs=2,
            batch_size=32,
            lr=1e-3,
            head_lr=1e-3,
            pgd_steps=2,
            augment=False,
            seeds=1,
            grid_betas=(0.0, 1.0),
            grid_eps_fractions=(0.5, 1.0),
            grid_epochs=1,
            grid_train_size=192,
            rv_points=128,
            rv_steps=20,
            encoder_budget_s=None,
            fast=False,
        ),
        zoo=ZooSettings(
            models=_zoo("mnist", {"baseline_h": (0.0, 0.3)}),
            eval_eps={"mnist": (0.3,)},
            curve_eps={"mnist": (0.0, 0.1, 0.3)},
            width=0.125,
            train_size=256,
            test_size=128,
            epochs=1,
            batch_size=64,
            lr=1e-3,
            adv_pgd_steps=2,
            rv_points=128,
            rv_steps=10,
            rv_search_steps=10,
            rv_batch=8,
            critic_hidden=32,
            channels=2,
            channel_steps=5,
        ),
        spectral=SpectralSettings(
            train_size=256,
            test_size=128,
            width=64,
            epochs=4,
            burnin=3,
            batch_size=64,
            lr=0.5,
            momentum=0.9,
            weight_decay=0.0,
            lambdas=(1e-2, 1e-1),
            seeds=1,
            attack_points=8,
            hsj_steps=2,
            hsj_max_gradient_evals=50,
            ddn_steps=10,
            head_l2=1e-3,
            xor_width=8,
            xor_epochs=300,
            xor_burnin=210,
            xor_lambda=1e-3,
        ),
        comparison=ComparisonSettings(
            profile="quick",
            dataset="mnist",
            spectral_lambda=0.1,
            attack_points=8,
            hsj_steps=2,
            hsj_max_gradient_evals=50,
            head_l2=1e-3,
        ),
    ),
    "cpu": ProfileSettings(
        name="cpu",
        description="real data subsets, minutes on a laptop CPU",
        data_source="auto",
        train_size=10_000,
        test_size=2_000,
        monte_carlo_samples=400_000,
        chapters=ChapterSettings(
            bound_repeats=100,
            staircase_steps=600,
            widget_steps=1500,
            demo_points=5000,
            demo_steps=3000,
            pointwise_points=20_000,
            pointwise_steps=1_500,
            xor_grid_side=121,
        ),
        table1=TrainSettings(
            profile="cpu",
            data_source="auto",
            train_size={"mnist": 4000, "fashion_mnist": 4000, "svhn": 4000, "cifar10": 4000},
            val_size=256,
            test_size=1000,
            strong_size=500,
            strong_attack="apgd",
            width=0.25,
            critic_units=64,
            critic_norm="batch",
            estimator="smile",
            encoder_epochs=3,
            head_epochs=4,
            batch_size=64,
            lr=1e-3,
            head_lr=3e-3,
            pgd_steps=7,
            augment=False,
            seeds=2,
            grid_betas=(0.0, 0.5, 1.0, 2.0),
            grid_eps_fractions=(1 / 3, 1.0),
            grid_epochs=2,
            grid_train_size=2000,
            rv_points=1000,
            rv_steps=300,
            encoder_budget_s=None,
            fast=False,
        ),
        zoo=ZooSettings(
            models=_zoo("mnist", {"baseline_h": (0.0, 0.3)})
            + _zoo("cifar10", {"baseline_h": (0.0, 8 / 255), "small_resnet": (0.0, 8 / 255)}),
            eval_eps={"mnist": (0.3,), "cifar10": (8 / 255,)},
            curve_eps={"mnist": _MNIST_CURVE, "cifar10": _CIFAR_CURVE},
            width=0.5,
            train_size=5_000,
            test_size=1_000,
            epochs=4,
            batch_size=128,
            lr=1e-3,
            adv_pgd_steps=3,
            rv_points=1_000,
            rv_steps=1_000,
            rv_search_steps=100,
            rv_batch=50,
            critic_hidden=128,
            channels=8,
            channel_steps=60,
        ),
        spectral=SpectralSettings(
            train_size=10_000,
            test_size=2_000,
            width=2000,
            epochs=30,
            burnin=24,
            batch_size=128,
            lr=0.5,
            momentum=0.9,
            weight_decay=0.0,
            lambdas=(1e-3, 1e-2, 1e-1),
            seeds=5,
            attack_points=100,
            hsj_steps=10,
            hsj_max_gradient_evals=1000,
            ddn_steps=100,
            head_l2=1e-4,
            xor_width=8,
            xor_epochs=15_000,
            xor_burnin=10_500,
            xor_lambda=1e-3,
        ),
        comparison=ComparisonSettings(
            profile="cpu",
            dataset="mnist",
            spectral_lambda=0.1,
            attack_points=100,
            hsj_steps=10,
            hsj_max_gradient_evals=1000,
            head_l2=1e-4,
        ),
    ),
    "gpu": ProfileSettings(
        name="gpu",
        description="one GPU, minutes: full data, the paper's networks, a time budget per encoder",
        data_source="auto",
        train_size=None,
        test_size=None,
        monte_carlo_samples=2_000_000,
        chapters=ChapterSettings(
            bound_repeats=100,
            staircase_steps=4000,
            widget_steps=5000,
            demo_points=5000,
            demo_steps=3000,
            pointwise_points=20_000,
            pointwise_steps=1_500,
            xor_grid_side=121,
        ),
        table1=TrainSettings(
            profile="gpu",
            data_source="auto",
            train_size={"mnist": None, "fashion_mnist": None, "svhn": None, "cifar10": None},
            val_size=2000,
            test_size=None,
            strong_size=1000,
            strong_attack="apgd",
            width=1.0,
            critic_units=2048,
            critic_norm="batch",
            estimator="dv",
            encoder_epochs=500,
            head_epochs=4,
            batch_size=128,
            lr=1e-4,
            head_lr=1e-3,
            pgd_steps=7,
            augment=True,
            seeds=1,
            grid_betas=(0.0, 0.5, 1.0, 2.0),
            grid_eps_fractions=(1 / 3, 1.0),
            grid_epochs=5,
            grid_train_size=20000,
            rv_points=2000,
            rv_steps=1000,
            encoder_budget_s=90.0,
            fast=True,
        ),
        zoo=ZooSettings(
            models=_zoo("cifar10", {"baseline_h": (0.0, 8 / 255), "resnet18": (0.0, 8 / 255)}),
            eval_eps={"cifar10": (8 / 255,)},
            curve_eps={"cifar10": _CIFAR_CURVE},
            width=1.0,
            train_size=None,
            test_size=None,
            epochs=100,
            batch_size=128,
            lr=1e-3,
            adv_pgd_steps=7,
            rv_points=5_000,
            rv_steps=1_000,
            rv_search_steps=1_000,
            rv_batch=128,
            critic_hidden=2048,
            channels=32,
            channel_steps=500,
            train_budget_s=45.0,
        ),
        spectral=SpectralSettings(
            train_size=None,
            test_size=None,
            width=2000,
            epochs=40,
            burnin=32,
            batch_size=1024,
            lr=0.1,
            momentum=0.9,
            weight_decay=0.0,
            lambdas=(1e-3, 1e-2, 1e-1),
            seeds=3,
            attack_points=500,
            hsj_steps=20,
            hsj_max_gradient_evals=5000,
            ddn_steps=500,
            head_l2=1e-4,
            xor_width=8,
            xor_epochs=15_000,
            xor_burnin=10_500,
            xor_lambda=1e-3,
        ),
        comparison=ComparisonSettings(
            profile="gpu",
            dataset="mnist",
            spectral_lambda=0.01,
            attack_points=500,
            hsj_steps=20,
            hsj_max_gradient_evals=5000,
            head_l2=1e-4,
        ),
    ),
    "paper": ProfileSettings(
        name="paper",
        description="the paper's settings (full data, 500 epochs, 2048-unit critic), GPU",
        data_source="auto",
        train_size=None,
        test_size=None,
        monte_carlo_samples=2_000_000,
        chapters=ChapterSettings(
            bound_repeats=100,
            staircase_steps=4000,
            widget_steps=5000,
            demo_points=5000,
            demo_steps=3000,
            pointwise_points=20_000,
            pointwise_steps=1_500,
            xor_grid_side=121,
        ),
        table1=TrainSettings(
            profile="paper",
            data_source="auto",
            train_size={"mnist": None, "fashion_mnist": None, "svhn": None, "cifar10": None},
            val_size=5000,
            test_size=None,
            strong_size=1000,
            strong_attack="autoattack",
            width=1.0,
            critic_units=2048,
            critic_norm="batch",
            estimator="dv",
            encoder_epochs=500,
            head_epochs=100,
            batch_size=128,
            lr=1e-4,
            head_lr=1e-4,
            pgd_steps=7,
            augment=True,
            seeds=4,
            grid_betas=(0.0, 0.5, 1.0, 2.0),
            grid_eps_fractions=(0.25, 0.5, 1.0),
            grid_epochs=50,
            grid_train_size=60000,
            rv_points=10000,
            rv_steps=2000,
            encoder_budget_s=None,
            fast=False,
        ),
        zoo=ZooSettings(
            models=_zoo(
                "cifar10",
                {a: (0.0, *_CIFAR_EPS) for a in ("baseline_h", "resnet18", "vgg16", "densenet121")},
            ),
            eval_eps={"cifar10": _CIFAR_EPS},
            curve_eps={"cifar10": _CIFAR_CURVE},
            width=1.0,
            train_size=None,
            test_size=None,
            epochs=100,
            batch_size=128,
            lr=1e-3,
            adv_pgd_steps=7,
            rv_points=10_000,
            rv_steps=2_000,
            rv_search_steps=2_000,
            rv_batch=128,
            critic_hidden=2048,
            channels=128,
            channel_steps=1_000,
        ),
        spectral=SpectralSettings(
            train_size=None,
            test_size=None,
            width=2000,
            epochs=200,
            burnin=160,
            batch_size=1024,
            lr=0.1,
            momentum=0.9,
            weight_decay=0.0,
            lambdas=(1e-3, 1e-2, 1e-1),
            seeds=10,
            attack_points=1000,
            hsj_steps=40,
            hsj_max_gradient_evals=10_000,
            ddn_steps=1000,
            head_l2=1e-4,
            xor_width=8,
            xor_epochs=15_000,
            xor_burnin=10_500,
            xor_lambda=1e-3,
        ),
        comparison=ComparisonSettings(
            profile="paper",
            dataset="mnist",
            spectral_lambda=0.01,
            attack_points=1000,
            hsj_steps=40,
            hsj_max_gradient_evals=10_000,
            head_l2=1e-4,
        ),
    ),
}


def profile_reason(name: str | None = None) -> tuple[str, str]:
    """Return ``(profile name, why it was chosen)`` without building anything else."""
    if name is not None:
        return check_choice("name", name, PROFILE_NAMES), "passed explicitly"
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        return check_choice(ENV_VAR, value, PROFILE_NAMES), f"{ENV_VAR}={value}"
    if os.environ.get("CI"):
        return "quick", f"{ENV_VAR} unset and CI is set"
    import torch

    if torch.cuda.is_available():
        return "gpu", f"{ENV_VAR} unset and a CUDA GPU is present"
    return "cpu", f"{ENV_VAR} unset and no GPU"


#: The fields of an experiment's settings that say how much it computes (data, sizes, widths,
#: steps, epochs, seeds); the others choose what it computes (estimator, attack, augmentation,
#: precision, wall-clock budgets, radii, models). :func:`at_sizes_of` takes the first kind from
#: a smaller profile.
SIZE_FIELDS: dict[type, tuple[str, ...]] = {
    TrainSettings: (
        "data_source",
        "train_size",
        "val_size",
        "test_size",
        "strong_size",
        "width",
        "critic_units",
        "encoder_epochs",
        "head_epochs",
        "batch_size",
        "pgd_steps",
        "seeds",
        "grid_epochs",
        "grid_train_size",
        "rv_points",
        "rv_steps",
    ),
    ZooSettings: (
        "width",
        "train_size",
        "test_size",
        "epochs",
        "batch_size",
        "adv_pgd_steps",
        "rv_points",
        "rv_steps",
        "rv_search_steps",
        "rv_batch",
        "critic_hidden",
        "channels",
        "channel_steps",
    ),
}

_Section = TypeVar("_Section", TrainSettings, ZooSettings)


def at_sizes_of(settings: _Section, small: _Section) -> _Section:
    """``settings`` with every field of :data:`SIZE_FIELDS` taken from ``small``, a section of the
    same kind from a smaller profile: one profile's method at another's cost. E.g. the ``gpu``
    profile's Table 1 (augmentation, the encoders' wall-clock budget, the fast step, its
    learning rates and attacks) at the ``quick`` profile's sizes, which is what
    ``bench/device_run.py --dry-run`` runs on a CPU before a GPU run is attempted. Raises
    ``ValueError`` if the two are not settings of the same kind."""
    if type(settings) is not type(small) or type(settings) not in SIZE_FIELDS:
        raise ValueError(
            "settings and small must both be TrainSettings or both ZooSettings, got "
            f"{type(settings).__name__} and {type(small).__name__}"
        )
    return dataclasses.replace(
        settings, **{name: getattr(small, name) for name in SIZE_FIELDS[type(settings)]}
    )


def profile_settings(name: str | None = None) -> ProfileSettings:
    """The profile in force: ``name`` if given, else ``$ROBUSTREP_PROFILE``, else the default.

    Raises ``ValueError`` naming the variable and the accepted values for an unknown name.
    """
    return PROFILES[profile_reason(name)[0]]


def _cell(value: object) -> str:
    if value is None:
        return "all"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    if isinstance(value, tuple) and value and isinstance(value[0], ZooModel):
        return ", ".join(f"{m.dataset} {m.label}" for m in value)
    return str(value)


def settings_markdown(section: str | None = None) -> str:
    """The settings of every profile as a Markdown table, one column per profile (generated,
    so it cannot drift): what every chapter reads when ``section`` is None, else that section
    (one of :data:`SECTIONS`). The ``profile`` a section names is its column, so not a row."""
    if section is None:
        rows = {f.name: [getattr(p, f.name) for p in PROFILES.values()] for f in _fields(None)}
    else:
        check_choice("section", section, SECTIONS)
        sections = [getattr(p, section) for p in PROFILES.values()]
        rows = {f.name: [getattr(s, f.name) for s in sections] for f in _fields(section)}
    lines = ["| setting | " + " | ".join(f"`{name}`" for name in PROFILES) + " |"]
    lines.append("|---" * (len(PROFILES) + 1) + "|")
    lines += [f"| {name} | " + " | ".join(map(_cell, cells)) + " |" for name, cells in rows.items()]
    return "\n".join(lines)


def _fields(section: str | None) -> list[dataclasses.Field]:
    if section is None:
        skip = {"name", *SECTIONS}
        return [f for f in dataclasses.fields(ProfileSettings) if f.name not in skip]
    kind = type(getattr(PROFILES[PROFILE_NAMES[0]], section))
    return [f for f in dataclasses.fields(kind) if f.name != "profile"]
