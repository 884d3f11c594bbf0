"""Learning robust representations (Section 5 of Zhu, Zhang & Evans 2020).

Objective (5.2), for a trade-off ``beta >= 0``::

    max_g  I(X; g(X)) - beta * RV_eps(g)  =  (1 - beta) * I(X; g(X)) + beta * I_worst(g)

with ``I_worst(g) = inf over A(S, eps) of I(X'; g(X'))`` (eq. 4.3). ``beta = 0`` is the standard
(Deep InfoMax-style) representation of (5.1), ``beta = 1`` the paper's (5.3). ``beta > 1`` is
allowed by (5.2): it equals ``I_worst - (beta - 1) * RV``, so besides raising the worst case it
pays the encoder for *lowering* the clean MI towards it (information an attack could remove is
discarded on purpose). The critic is the estimator, not a player in the trade-off: it always
ascends both bounds (weights ``|1 - beta|`` and ``beta``); only the encoder's gradient of the
clean term changes sign.

Per mini-batch, as in the authors' code (schzhu/learning-adversarially-robust-representations): (1)
encoder and critic frozen in eval mode, PGD over each image's eps-ball (l_inf, 7 steps of 0.01, eps
8/255 on CIFAR-10, no random start, best iterate, box [0, 1]) *lowers* the critic's estimate on the
batch (the search of :mod:`robustrep_lite.adversarial.search`); (2) one joint Adam step
(lr 1e-4) of encoder and critic on the weighted bounds. Encoder:
:class:`~robustrep_lite.training.models.BaselineH` with a 64-d output; critic:
:class:`~robustrep_lite.mi.LocalDIMCritic` (2048 units in the paper).

An optional penalty on the encoder's weights joins the objective: :class:`EncoderTrainer` takes
any ``penalty()`` (added to the minimised loss once per optimiser step), and
:func:`train_encoder`'s ``spectral_lambda`` makes it the rep-spectral penalty of Yang,
Zavatone-Veth & Pehlevan (2024, Section 3;
:class:`~robustrep_lite.training.spectral.SpectralPenalty`), ``lambda * sum sigma_max(W_l)^2`` over
every weight layer of Baseline-H, whose output is the representation -- from the first step (no
burn-in). With ``spectral_lambda = 0`` nothing changes.

Also here: the critic's read-out of clean and worst-case MI of a trained encoder
(:func:`mi_readout`), Figure 4's saliency maps (:func:`saliency`) and two statistics of them
(:func:`saliency_smoothness`, :func:`saliency_share`). Heads and Table 1:
:mod:`robustrep_lite.experiments.table1`; the settings of every profile:
:mod:`robustrep_lite.experiments.settings`; several processes:
:mod:`robustrep_lite.training.distributed`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.adversarial.search import AttackConfig, ScoreTask, attack_batch, frozen
from robustrep_lite.core.runtime import default_device
from robustrep_lite.core.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_images,
    check_int,
    check_nonnegative,
    check_positive,
    check_seed,
)
from robustrep_lite.mi import DEFAULT_READOUT, LocalDIMCritic, readout, training_objective
from robustrep_lite.training import distributed
from robustrep_lite.training.checkpoint import exclusive_run, load_checkpoint, save_checkpoint
from robustrep_lite.training.models import BaselineH
from robustrep_lite.training.spectral import SpectralPenalty, all_layers, conv_input_shapes
from robustrep_lite.training.supervised import augment_batch

__all__ = [
    "AMP_DTYPES",
    "ENCODER_ESTIMATORS",
    "THREAT_MODELS",
    "EncoderHistory",
    "EncoderConfig",
    "EncoderRun",
    "EncoderTrainer",
    "autocast_dtype",
    "load_encoder",
    "mi_readout",
    "saliency",
    "saliency_share",
    "saliency_smoothness",
    "train_encoder",
]

#: Estimators the encoder can be trained with (stateless bounds of
#: :mod:`robustrep_lite.mi.estimate`): the paper's DV, and SMILE, InfoNCE, JSD (Deep InfoMax) and
#: NWJ. PGD lowers the same bound.
ENCODER_ESTIMATORS = ("dv", "smile", "infonce", "jsd", "nwj")

#: Half-precision types of the fast mode (:attr:`EncoderConfig.amp_dtype`): ``"auto"`` is bf16
#: on a CUDA GPU with native bf16 (compute capability 8.0 or later: A100, H100, L4, ...), fp16
#: with a gradient scaler on an older one (Colab's T4, 7.5, which torch can only emulate bf16 on),
#: and no autocast on a CPU; a named type is used on any device (on a CPU, CPU autocast: slow,
#: but it runs the fp16 path and its gradient scaler where there is no GPU). See
#: :func:`autocast_dtype`.
AMP_DTYPES = ("auto", "bfloat16", "float16")

#: l_inf threat model per data set (the paper's eps) and the PGD step used with 7 steps: the
#: paper's 0.01 where 7 x 0.01 reaches eps, else 2.5 eps / 7 (Madry et al.'s rule).
THREAT_MODELS = {
    "mnist": {"eps": 0.3, "step_size": 2.5 * 0.3 / 7},
    "fashion_mnist": {"eps": 0.1, "step_size": 2.5 * 0.1 / 7},
    "svhn": {"eps": 4 / 255, "step_size": 0.01},
    "cifar10": {"eps": 8 / 255, "step_size": 0.01},
}


@dataclass(frozen=True)
class EncoderConfig:
    """Everything about training one encoder by objective (5.2), with the paper's defaults
    (CIFAR-10: Baseline-H, 64-d representation, local DIM critic of 2048 units, DV bound,
    Adam 1e-4, batch 128, 500 epochs, PGD-7 of 0.01 in the l_inf ball of 8/255).

    beta: the trade-off of (5.2) (0: standard InfoMax, no attack). eps / norm / pgd_steps /
    step_size / random_start: the attack on each batch (the box is [0, 1]). estimator: the bound
    trained and attacked (one of :data:`ENCODER_ESTIMATORS`), clip: SMILE's tau. epochs,
    batch_size (per chunk), micro_batches (chunks per process and step), lr: the optimiser's.
    rep_dim, width (channel multiplier), critic_units, critic_norm: the networks. augment: a
    random crop (pad 4) and flip per image and epoch. spectral_lambda > 0: the rep-spectral
    penalty of Yang, Zavatone-Veth & Pehlevan (2024) on every encoder layer. time_budget_s: stop
    after the first epoch that ends past this many seconds. amp: mixed precision and
    channels-last (the fast mode; False is the faithful fp32 reference), in the half type
    ``amp_dtype`` (one of :data:`AMP_DTYPES`; ``"auto"``: bf16 or fp16 on CUDA, none on a CPU).
    compile: :meth:`torch.nn.Module.compile` both networks.
    """

    beta: float = 1.0
    eps: float = 8 / 255
    norm: str = "inf"
    pgd_steps: int = 7
    step_size: float = 0.01
    random_start: bool = False
    estimator: str = "dv"
    clip: float | None = 5.0
    epochs: int = 500
    batch_size: int = 128
    micro_batches: int = 1
    lr: float = 1e-4
    rep_dim: int = 64
    width: float = 1.0
    critic_units: int = 2048
    critic_norm: str = "batch"
    augment: bool = False
    spectral_lambda: float = 0.0
    time_budget_s: float | None = None
    amp: bool = True
    amp_dtype: str = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        _check_beta(self.beta)
        self.attack()  # validates eps, norm, pgd_steps, step_size, estimator, clip, batch, lr
        check_nonnegative("spectral_lambda", self.spectral_lambda, scalar=True)
        check_int("rep_dim", self.rep_dim, 1)
        check_int("critic_units", self.critic_units, 1)
        check_bool("amp", self.amp)
        check_choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        check_positive("width", self.width)
        if self.time_budget_s is not None:
            check_positive("time_budget_s", self.time_budget_s)
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if (
            isinstance(self.micro_batches, bool)
            or not isinstance(self.micro_batches, int)
            or self.micro_batches < 1
        ):
            raise ValueError(
                f"micro_batches must be a positive integer, got {self.micro_batches!r}"
            )

    def attack(self) -> AttackConfig:
        """The paper's attack of every batch: PGD in the box [0, 1] lowering ``estimator``."""
        return _attack_config(
            eps=self.eps,
            norm=self.norm,
            pgd_steps=self.pgd_steps,
            step_size=self.step_size,
            random_start=self.random_start,
            estimator=self.estimator,
            clip=self.clip,
            batch_size=self.batch_size,
            lr=self.lr,
        )


# ----------------------------------------------------------------------------------------------
# Objective (5.2), one step
# ----------------------------------------------------------------------------------------------
def _check_beta(beta: float) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0 (the trade-off of objective (5.2)), got {beta!r}")
    return float(beta)


def autocast_dtype(
    device: str | torch.device, amp: bool = True, amp_dtype: str = "auto"
) -> torch.dtype | None:
    """The autocast type a training step of objective (5.2) runs in on ``device`` (``None``:
    fp32, no autocast), from :class:`EncoderConfig`'s ``amp`` and ``amp_dtype`` (one of
    :data:`AMP_DTYPES`). ``"auto"`` on CUDA: bf16 where the GPU computes it natively (compute
    capability 8.0 or later), else fp16 -- not ``torch.cuda.is_bf16_supported()``, which also
    says yes for a T4 that can only emulate bf16."""
    check_choice("amp_dtype", amp_dtype, AMP_DTYPES)
    device = torch.device(device)
    if not amp or (amp_dtype == "auto" and device.type != "cuda"):
        return None
    if amp_dtype != "auto":
        return getattr(torch, amp_dtype)
    native_bf16 = torch.cuda.get_device_capability(device)[0] >= 8
    return torch.bfloat16 if native_bf16 else torch.float16


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``; nothing for ``dtype=None`` (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _attack_config(
    *,
    eps: float,
    norm: str,
    pgd_steps: int,
    step_size: float,
    random_start: bool,
    estimator: str,
    clip: float | None,
    batch_size: int,
    lr: float = 1e-4,
) -> AttackConfig:
    """The paper's attack (validated, with the training settings it runs beside): PGD in the
    box [0, 1] lowering the ``estimator`` bound."""
    check_choice("estimator", estimator, ENCODER_ESTIMATORS)
    if clip is not None and clip != math.inf:
        check_positive("clip", clip)
    check_int("batch_size", batch_size, 2)
    check_positive("lr", lr)
    return AttackConfig(
        eps=eps,
        norm=norm,
        pgd_steps=pgd_steps,
        step_size=step_size,
        random_start=random_start,
        box=(0.0, 1.0),
        estimator=estimator,
    )


class _EncoderTask(ScoreTask):
    """The worst-case search of :mod:`robustrep_lite.adversarial.vulnerability` for an encoder, with
    the critic's scores computed under autocast and returned in float32."""

    def __init__(self, encoder: nn.Module, device: torch.device, dtype: torch.dtype | None) -> None:
        super().__init__(encoder)
        self.device, self.dtype = device, dtype

    def scores(self, critic: nn.Module, xa: Tensor) -> Tensor:
        with _autocast(self.device, self.dtype):
            return critic(xa, self.representations(xa)).float()


class _Objective(nn.Module):
    """Minus the weighted bounds of (5.2) on a clean batch and its attacked copy, as one module
    (one DDP forward per chunk). ``forward`` returns (loss, [loss, clean MI, worst-case MI])."""

    def __init__(
        self,
        encoder: nn.Module,
        critic: nn.Module,
        beta: float,
        estimator: str,
        clip: float | None,
        device: torch.device,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.encoder, self.critic = encoder, critic
        self.beta, self.estimator, self.clip = beta, estimator, clip
        self.monitor = DEFAULT_READOUT[estimator]
        self.device, self.dtype = device, dtype

    def _term(self, x: Tensor, reverse: bool) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        if reverse:  # beta > 1: the encoder descends the clean bound, the critic still ascends it
            z.register_hook(torch.neg)
        s = self.critic(x, z).float()
        loss, _ = training_objective(self.estimator, s, clip=self.clip)
        return loss, readout(self.monitor, s.detach(), clip=self.clip)

    def forward(self, x: Tensor, x_adv: Tensor | None) -> tuple[Tensor, Tensor]:
        nan = torch.full((), math.nan, device=x.device)
        loss, clean, worst = torch.zeros((), device=x.device), nan, nan
        with _autocast(self.device, self.dtype):
            if self.beta != 1:
                term, clean = self._term(x, reverse=self.beta > 1)
                loss = loss + abs(1 - self.beta) * term
            if self.beta > 0:
                term, worst = self._term(x_adv, reverse=False)
                loss = loss + self.beta * term
        return loss, torch.stack([loss.detach(), clean, worst])


class EncoderTrainer:
    """One optimiser step of objective (5.2) on ``micro_batches`` chunks per process.

    For each chunk: PGD against the current critic (both networks frozen, eval mode), then the
    weighted bounds; gradients are averaged over the chunks of all processes and one Adam step
    is taken on encoder and critic together (see :mod:`robustrep_lite.training.distributed`). With
    ``amp`` (the fast mode) the passes run under autocast to ``amp_dtype`` (on CUDA by default
    bf16, or fp16 where bf16 is missing; fp16 always with a gradient scaler) and the networks use
    channels-last memory; ``amp=False`` is the faithful fp32 reference. ``compile``: compile both
    networks (:meth:`torch.nn.Module.compile`). :meth:`step` returns device tensors and never
    waits for the device, except under fp16, where the gradient scaler checks for overflow once
    per step.

    ``penalty``: a callable returning a scalar added to the loss once per step, after the
    chunks (e.g. a :class:`~robustrep_lite.training.spectral.SpectralPenalty` on the encoder's
    layers); it must give the same value in every process (it is not averaged across them).
    """

    def __init__(
        self,
        encoder: nn.Module,
        critic: nn.Module,
        config: EncoderConfig,
        *,
        device: torch.device | None = None,
        penalty: Callable[[], Tensor] | None = None,
    ) -> None:
        self.config = config
        self.beta = config.beta
        self.penalty = penalty
        self.cfg = config.attack()
        self.clip = config.clip
        self.device = device or next(encoder.parameters()).device
        self.dtype = autocast_dtype(self.device, config.amp, config.amp_dtype)
        self.amp = self.dtype is not None
        self.micro_batches = config.micro_batches
        self.encoder, self.critic = encoder, critic
        if self.amp:
            for m in (encoder, critic):
                m.to(memory_format=torch.channels_last)
        if config.compile:
            from torch import _dynamo

            _dynamo.config.suppress_errors = True  # a failed compile runs eagerly
            for m in (encoder, critic):
                m.compile()
        self.objective = _Objective(
            encoder, critic, self.beta, config.estimator, config.clip, self.device, self.dtype
        )
        self.model = distributed.wrap(self.objective, self.device)
        self.optimizer = torch.optim.Adam(self.objective.parameters(), lr=config.lr)
        fp16 = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.task = _EncoderTask(encoder, self.device, self.dtype)
        self.buffers = distributed.BufferAverager(self.objective, config.micro_batches)

    def attack(self, xb: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The worst case of a batch against the current critic (the paper's PGD); the batch
        itself when there is no attack (eps = 0 or no PGD steps)."""
        if not self.cfg.attacks:
            return xb
        with frozen(self.encoder, self.critic):
            return attack_batch(self.task, self.critic, xb, self.cfg, self.clip, generator)

    def step(
        self, chunks: Sequence[Tensor], generators: Sequence[torch.Generator | None]
    ) -> Tensor:
        """One step on this process's chunks; returns [loss, clean MI, worst-case MI] averaged
        over them (``nan`` for a term the objective does not use), on the device."""
        if len(chunks) != self.micro_batches:
            raise ValueError(f"expected {self.micro_batches} chunks, got {len(chunks)}")
        self.objective.train()
        self.buffers.start()
        total = torch.zeros(3, device=self.device)
        for k, (xb, gen) in enumerate(zip(chunks, generators, strict=True)):
            if self.amp:
                xb = xb.contiguous(memory_format=torch.channels_last)
            self.buffers.before_chunk()
            x_adv = self.attack(xb, gen) if self.beta > 0 else None
            last = k == len(chunks) - 1
            with distributed.no_sync_unless(self.model, last):
                loss, stats = self.model(xb, x_adv)
                self.scaler.scale(loss / self.micro_batches).backward()
            self.buffers.after_chunk()
            total += stats
        if self.penalty is not None:
            self.scaler.scale(self.penalty()).backward()
        self.buffers.finish(self.micro_batches)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total / self.micro_batches


# ----------------------------------------------------------------------------------------------
# Training the encoder
# ----------------------------------------------------------------------------------------------
@dataclass
class EncoderHistory:
    """Per-epoch means over the steps of :func:`train_encoder` (nats; ``nan`` where the
    objective has no such term): ``mi`` the clean estimate, ``worst_mi`` the estimate on the
    attacked batches (the paper's ``I_worst`` read-out), ``loss`` the minimised loss."""

    loss: list[float] = field(default_factory=list)
    mi: list[float] = field(default_factory=list)
    worst_mi: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)
    diverged_at: int | None = None  # in records written before divergence became an error
    stopped_by_budget: bool = False  # the wall-clock budget ended training before ``epochs``


@dataclass
class EncoderRun:
    """A trained encoder g and its critic T (both in eval mode), their history, and the config
    that rebuilds them (:func:`load_encoder`)."""

    encoder: BaselineH
    critic: LocalDIMCritic
    history: EncoderHistory
    config: dict[str, Any]


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def _build(config: dict[str, Any]) -> tuple[BaselineH, LocalDIMCritic]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config["seed"])
        encoder = BaselineH(
            config["in_channels"], config["image_size"], config["rep_dim"], config["width"]
        )
        critic = LocalDIMCritic(
            config["in_channels"],
            config["rep_dim"],
            units=config["critic_units"],
            norm=config["critic_norm"],
        )
    return encoder, critic


def _augment_all(x: Tensor, gen: torch.Generator, block: int = 8192) -> Tensor:
    """One random crop + flip per image for a whole epoch, in blocks (random numbers are drawn
    on the CPU and copied once per block, not once per step)."""
    return torch.cat([augment_batch(x[s : s + block], gen) for s in range(0, len(x), block)])


def train_encoder(
    x: Tensor,
    config: EncoderConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> EncoderRun:
    """Train a Baseline-H encoder (and its local DIM critic) on images ``x`` (N, C, S, S) in
    [0, 1] by objective (5.2) with the settings of ``config`` (default :class:`EncoderConfig`,
    the paper's CIFAR-10 settings).

    Each step takes ``config.batch_size`` images per chunk, ``config.micro_batches`` chunks per
    process (and one chunk per process of a torch.distributed group, see
    :mod:`robustrep_lite.training.distributed`); epochs are ``N // (batch_size * chunks)`` steps
    over a fresh permutation seeded by ``(seed, epoch)`` (the incomplete last global batch is
    dropped). PGD is skipped for ``beta = 0``; the paper also jitters colours when augmenting,
    we do not. Initial weights come from ``seed``.

    ``checkpoint``: a file written after every epoch (by rank 0); if it exists the run resumes
    there, and ends with the same weights as an uninterrupted run. ``device``: default CUDA if
    available. The rep-spectral penalty's power-iteration vectors (``spectral_lambda > 0``,
    seeded by ``seed``) are not checkpointed, so a resumed penalised run restarts them (close
    to, not bit-identical with, an uninterrupted run). With ``time_budget_s`` the run stops
    after the first epoch that ends past that many seconds of this call
    (``history.stopped_by_budget``; the epochs done are ``len(history.loss)``). Returns an
    :class:`EncoderRun`. A non-finite loss stops training with a ``FloatingPointError`` naming
    the epoch (a checkpoint keeps the last finite epoch). Raises ``ValueError`` for bad images,
    a batch too large for the data, or (from :class:`EncoderConfig`) bad settings.
    """
    check_seed("seed", seed)
    c = config if config is not None else EncoderConfig()
    started = time.perf_counter()
    if x.ndim != 4 or x.shape[2] != x.shape[3]:
        raise ValueError(f"x must be images of shape (N, C, S, S), got {tuple(x.shape)}")
    check_images("x", x)
    dev = torch.device(device) if device is not None else default_device()
    rank, world = distributed.rank_and_world()
    record = {
        "in_channels": int(x.shape[1]),
        "image_size": int(x.shape[2]),
        "rep_dim": c.rep_dim,
        "width": c.width,
        "critic_units": c.critic_units,
        "critic_norm": c.critic_norm,
        "beta": float(c.beta),
        "eps": c.eps,
        "norm": c.norm,
        "pgd_steps": c.pgd_steps,
        "step_size": c.step_size,
        "random_start": c.random_start,
        "estimator": c.estimator,
        "clip": c.clip,
        "epochs": c.epochs,
        "batch_size": c.batch_size,
        "micro_batches": c.micro_batches,
        "world_size": world,
        "lr": c.lr,
        "augment": c.augment,
        "seed": seed,
    }
    if c.spectral_lambda:
        record["spectral_lambda"] = float(c.spectral_lambda)
    dtype = autocast_dtype(dev, c.amp, c.amp_dtype)
    if dtype is not None:  # mixed precision: resumed only in the same type (and its scaler)
        record["autocast"] = str(dtype).removeprefix("torch.")
    encoder, critic = _build(record)
    encoder, critic = encoder.to(dev), critic.to(dev)
    penalty = None
    if c.spectral_lambda:
        shapes = conv_input_shapes(encoder, x[:2].to(dev))
        penalty = SpectralPenalty(
            all_layers(encoder), c.spectral_lambda, input_shapes=shapes, seed=seed
        )
    trainer = EncoderTrainer(encoder, critic, c, device=dev, penalty=penalty)
    chunks = world * c.micro_batches
    global_batch = c.batch_size * chunks
    steps = x.shape[0] // global_batch
    if steps < 1:
        raise ValueError(
            f"batch_size={c.batch_size} x {chunks} chunks needs at least {global_batch} images, "
            f"got {x.shape[0]}"
        )
    history = EncoderHistory()
    modules = {"encoder": encoder, "critic": critic}
    # A resume must share everything but the number of epochs with the run it continues.
    settings = {k: v for k, v in record.items() if k != "epochs"} | {"images": int(x.shape[0])}
    with exclusive_run(checkpoint if distributed.is_main() else None):
        state = load_checkpoint(
            checkpoint,
            modules=modules,
            optimizers={"opt": trainer.optimizer},
            map_location=dev,
            settings=settings,
        )
        start = 0
        if state is not None:
            start = state["step"]
            if start > c.epochs:
                raise ValueError(
                    f"epochs={c.epochs}, but the checkpoint {checkpoint} already holds {start} "
                    f"epochs of this run; ask for at least {start} or use another checkpoint path"
                )
            history = EncoderHistory(**state["extra"]["history"])
            if state["extra"]["scaler"]:
                trainer.scaler.load_state_dict(state["extra"]["scaler"])
        x_dev = x.to(dev)
        mine = range(rank * c.micro_batches, (rank + 1) * c.micro_batches)
        for epoch in range(start, c.epochs):
            gen = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
            order = torch.randperm(x.shape[0], generator=gen).to(dev)
            xe = _augment_all(x_dev, gen) if c.augment else x_dev
            gens = [
                torch.Generator(device=dev).manual_seed(_epoch_seed(seed, epoch) * 64 + k)
                for k in mine
            ]
            total = torch.zeros(3, device=dev)
            t0 = time.perf_counter()
            bar = tqdm(
                range(steps),
                disable=not (progress and rank == 0),
                leave=False,
                desc=f"encoder beta={c.beta:g} epoch {epoch + 1}/{c.epochs}",
            )
            for step in bar:
                base = step * global_batch
                batch = [
                    xe[order[base + k * c.batch_size : base + (k + 1) * c.batch_size]] for k in mine
                ]
                total += trainer.step(batch, gens)
                if step % 10 == 9:
                    rate = (step + 1) * global_batch / (time.perf_counter() - t0)
                    bar.set_postfix_str(f"{rate:.0f} img/s")
            loss, mi, worst = distributed.all_reduce_mean(total / steps).tolist()
            history.images_per_second.append(steps * global_batch / (time.perf_counter() - t0))
            if not math.isfinite(loss):
                kept = (
                    f"the last finite state (epoch {epoch}) is in the checkpoint {checkpoint}"
                    if checkpoint is not None and epoch > 0
                    else "no finite checkpoint was written"
                )
                raise FloatingPointError(
                    f"train_encoder: the loss became {loss} in epoch {epoch + 1} (beta={c.beta:g}, "
                    f"lr={c.lr:g}); the weights are not usable and are not returned; {kept}. Lower "
                    "lr, or use a bounded estimator (smile, jsd)."
                )
            history.loss.append(loss)
            history.mi.append(mi)
            history.worst_mi.append(worst)
            if checkpoint is not None and distributed.is_main():
                save_checkpoint(
                    checkpoint,
                    step=epoch + 1,
                    modules=modules,
                    optimizers={"opt": trainer.optimizer},
                    extra={
                        "history": dataclasses.asdict(history),
                        "scaler": trainer.scaler.state_dict(),
                        "config": record,
                    },
                    settings=settings,
                )
            distributed.barrier()
            if c.time_budget_s is not None and time.perf_counter() - started > c.time_budget_s:
                history.stopped_by_budget = epoch + 1 < c.epochs
                break
    encoder.eval()
    critic.eval()
    return EncoderRun(encoder, critic, history, record)


def load_encoder(
    checkpoint: str | Path, config: dict[str, Any], device: str | torch.device = "cpu"
) -> EncoderRun:
    """The encoder and critic stored in a :func:`train_encoder` checkpoint, rebuilt from the
    ``config`` of its :class:`EncoderRun` (in eval mode). Every key of ``config`` must agree
    with the config the checkpoint was written with (a ``ValueError`` lists each one that does
    not; a non-finite number and ``None`` agree, as a strict JSON record writes one as the
    other), so that the read-outs of the run use the estimator, clip and attack it was trained
    with."""
    encoder, critic = _build(config)
    opt = torch.optim.Adam([*encoder.parameters(), *critic.parameters()])
    state = load_checkpoint(
        checkpoint, modules={"encoder": encoder, "critic": critic}, optimizers={"opt": opt}
    )
    if state is None:
        raise FileNotFoundError(f"no encoder checkpoint at {checkpoint}")
    saved = state["extra"].get("config")
    if saved is not None:
        differ = [
            f"{k}={config[k]!r} (checkpoint: {saved[k]!r})"
            for k in config
            if k in saved and _config_value(config[k]) != _config_value(saved[k])
        ]
        if differ:
            raise ValueError(
                f"config disagrees with the config saved in the checkpoint {checkpoint}: "
                + ", ".join(differ)
                + "; pass the config the encoder was trained with (its EncoderRun.config)"
            )
    history = EncoderHistory(**state["extra"]["history"])
    return EncoderRun(encoder.to(device).eval(), critic.to(device).eval(), history, config)


def _config_value(value: Any) -> Any:
    """A config value as compared by :func:`load_encoder`: a non-finite float reads as ``None``
    (how :func:`robustrep_lite.core.results.strict_json` records it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def mi_readout(
    run: EncoderRun, x: Tensor, *, eps: float | None = None, batch_size: int | None = None
) -> dict[str, float]:
    """The trained critic's estimates of ``I(X; g(X))`` and of ``I_worst`` (its batches attacked
    by the training PGD at ``eps``, default the training eps) on held-out images ``x``, averaged
    over full batches (the paper's read-out of Section 5, nats).

    Returns ``mi`` and ``worst_mi`` (the means over batches), their standard errors over the
    batches (``mi_stderr``, ``worst_mi_stderr``; standard deviation over batches, ddof=1, over
    the square root of their number; NaN for a single batch), the standard error of the paired
    per-batch drop ``I - I_worst`` (``drop_stderr``) and the number of images read
    (``readout_images``, whole batches only). The critic is fixed and the batches are disjoint,
    so the standard errors measure the read-out's sampling noise, not the bias of the bound.
    The read-out runs in fp32 on every device, whatever precision the encoder trained in."""
    c = run.config
    dev = next(run.encoder.parameters()).device
    bs = c["batch_size"] if batch_size is None else batch_size
    cfg = _attack_config(
        eps=c["eps"] if eps is None else eps,
        norm=c["norm"],
        pgd_steps=c["pgd_steps"],
        step_size=c["step_size"],
        random_start=c["random_start"],
        estimator=c["estimator"],
        clip=c["clip"],
        batch_size=bs,
    )
    task = _EncoderTask(run.encoder, dev, None)  # fp32: a reported estimate, a few batches
    name = DEFAULT_READOUT[c["estimator"]]
    clean, worst = [], []
    with frozen(run.encoder, run.critic):
        for s in range(0, x.shape[0] - bs + 1, bs):
            xb = x[s : s + bs].to(dev)
            xa = attack_batch(task, run.critic, xb, cfg, c["clip"], None) if cfg.attacks else xb
            with torch.no_grad():
                clean.append(readout(name, task.scores(run.critic, xb), c["clip"]))
                worst.append(readout(name, task.scores(run.critic, xa), c["clip"]))
    if not clean:
        raise ValueError(f"x must hold at least one batch of {bs} images, got {x.shape[0]}")
    a, w = torch.stack(clean).double().cpu(), torch.stack(worst).double().cpu()

    def stderr(v: Tensor) -> float:
        return float(v.std() / math.sqrt(len(v))) if len(v) > 1 else math.nan

    return {
        "mi": float(a.mean()),
        "worst_mi": float(w.mean()),
        "mi_stderr": stderr(a),
        "worst_mi_stderr": stderr(w),
        "drop_stderr": stderr(a - w),
        "readout_images": len(clean) * bs,
    }


def saliency(run: EncoderRun, x: Tensor) -> Tensor:
    """Figure 4: the gradient of the MI objective (the critic's estimate of ``I(X; g(X))`` on
    the batch ``x``, the quantity training ascends) with respect to every input pixel.

    Returns, per image, the largest absolute gradient over channels, scaled so that each image's
    maximum is 1: shape (N, H, W). A batch of at least 2 images is needed (negatives)."""
    if x.ndim != 4 or x.shape[0] < 2:
        raise ValueError(f"x must be a batch of at least 2 images (N, C, H, W), got {x.shape}")
    dev = next(run.encoder.parameters()).device
    name = DEFAULT_READOUT[run.config["estimator"]]
    with frozen(run.encoder, run.critic):
        xa = x.to(dev).clone().requires_grad_(True)
        value = readout(name, run.critic(xa, run.encoder(xa)).float(), run.config["clip"])
        (grad,) = torch.autograd.grad(value, xa)
    m = grad.abs().amax(1)
    return (m / m.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).cpu()


def saliency_smoothness(maps: Tensor) -> float:
    """Figure 4's contrast between structure and noise as one number: the Pearson correlation
    of horizontally neighbouring pixels over a batch of saliency maps (N, H, W) such as
    :func:`saliency` returns. About 0 for maps of independent noise, near 1 for smooth ones;
    NaN for maps that are constant."""
    if maps.ndim != 3 or maps.shape[2] < 2:
        raise ValueError(f"maps must have shape (N, H, W) with W >= 2, got {tuple(maps.shape)}")
    pairs = torch.stack([maps[:, :, :-1].flatten(), maps[:, :, 1:].flatten()])
    return float(torch.corrcoef(pairs)[0, 1])


def saliency_share(maps: Tensor, mask: Tensor) -> Tensor:
    """Per map (N, H, W), the share of its total saliency that falls on the pixels where
    ``mask`` (N, H, W; 0/1 or boolean) is set, e.g. an MNIST digit's pixels: shape (N,), in
    [0, 1] for non-negative maps. Figure 4's question, does the objective depend on the object
    or on scattered pixels, as a number. Raises ``ValueError`` for a mask with values other than
    0 and 1, non-finite maps, or a map whose total saliency is 0 (it has no share to give)."""
    if maps.ndim != 3 or mask.shape != maps.shape:
        raise ValueError(
            f"maps (N, H, W) and mask must have one shape, got {tuple(maps.shape)} and "
            f"{tuple(mask.shape)}"
        )
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("mask must hold only 0 and 1 (or False and True)")
    check_finite("maps", maps)
    total = maps.flatten(1).sum(1)
    if not bool((total != 0).all()):
        empty = torch.nonzero(total == 0).flatten().tolist()
        raise ValueError(f"maps must each have a total saliency other than 0; maps {empty} do not")
    return (maps * mask.to(maps.dtype)).flatten(1).sum(1) / total
