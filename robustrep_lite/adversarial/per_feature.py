"""Every feature of a layer as its own representation (the paper's Figure 3, Section 6.1):
normal MI, worst-case MI and representation vulnerability (Definition 3.1, eq. 4.1) of each
channel or neuron g_f, all features at once.

Each feature gets its own small separable critic; the F critics are one
:class:`BatchedSeparableCritic` fitted together by the library's one loop
(:func:`~robustrep_lite.mi.fit.fit_critic` with ``units = F``), each selected and read out on its
own values. For the worst case each feature has its own adversary: the batch is replicated F
times and PGD (one call, per-feature best iterate) lowers each feature's estimate on its own
copy. All values are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.search import (
    AttackConfig,
    Representation,
    ScoreTask,
    attacked_scores,
    check_points,
    frozen,
)
from robustrep_lite.core.validation import check_choice, check_seed
from robustrep_lite.mi.fit import CriticConfig, FitResult, fit_critic, split_indices

__all__ = [
    "PER_FEATURE_CRITIC",
    "BatchedSeparableCritic",
    "PerFeatureVulnerability",
    "per_feature_vulnerability",
]

#: The critics of :func:`per_feature_vulnerability` unless others are passed: one small
#: separable critic per feature (1 x 32 units, 8-d embeddings), DV bound, Adam 1e-3, at most
#: 1,000 steps, the 60/20/20 split (each critic's state selected on the validation points, the
#: value read on the held-out points), no input transform (PGD acts on the raw inputs).
PER_FEATURE_CRITIC = CriticConfig(
    critic="separable",
    hidden=32,
    layers=1,
    embed_dim=8,
    train_estimator="dv",
    clip=5.0,
    steps=1000,
    batch_size=128,
    lr=1e-3,
    validation_fraction=0.2,
    holdout_fraction=0.2,
    preprocess="none",
)


@dataclass(frozen=True)
class PerFeatureVulnerability:
    """Result of :func:`per_feature_vulnerability`; arrays of shape (F,) for the F features
    ``features`` (channel indices), in nats. ``rv = normal_mi - worst_mi`` and
    ``rv_stderr = sqrt(normal_stderr^2 + worst_stderr^2)``. normal_curve / worst_curve:
    per-step training-batch estimates, shape (steps run, F). sizes: the (training, validation,
    held-out) points of each fit. ``diverged``: a run stopped (all values of that run are then
    ``nan``; ``reason`` says why)."""

    features: np.ndarray
    normal_mi: np.ndarray
    normal_stderr: np.ndarray
    worst_mi: np.ndarray
    worst_stderr: np.ndarray
    rv: np.ndarray
    rv_stderr: np.ndarray
    eps: float
    norm: str
    pooling: str
    sizes: tuple[int, int, int]
    normal_curve: np.ndarray = field(repr=False, compare=False)
    worst_curve: np.ndarray = field(repr=False, compare=False)
    diverged: bool = False
    reason: str = ""


class _BatchedMLP(nn.Module):
    """F independent ReLU MLPs ``in_dim -> hidden (x layers) -> out_dim`` applied with batched
    matrix products: input (F, n, in_dim) or (n, in_dim) shared by all, output (F, n, out)."""

    def __init__(self, n: int, in_dim: int, hidden: int, layers: int, out_dim: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            bound = 1.0 / math.sqrt(a)  # PyTorch's nn.Linear default initialisation
            self.weights.append(nn.Parameter(torch.empty(n, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n, 1, b).uniform_(-bound, bound)))

    def forward(self, h: Tensor) -> Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.einsum("nd,fdh->fnh", h, w) if h.ndim == 2 else torch.bmm(h, w)
            h = h + b
            if i < last:
                h = torch.relu(h)
        return h


class BatchedSeparableCritic(nn.Module):
    """F independent separable critics ``T_f(x, z) = a_f(x) . b_f(z)`` (as
    :class:`~robustrep_lite.mi.SeparableCritic`), evaluated together with batched matmuls.

    forward(x, z): z (F, n, z_dim); x (n, ...) shared by all critics, or (F * n, ...) with rows
    ``f * n + i`` for critic f (extra axes flattened). Returns scores (F, n, n), ``[f, i, j] =
    T_f(x_i, z_j)`` for critic f.
    """

    def __init__(
        self, n_critics: int, x_dim: int, z_dim: int, hidden: int, layers: int, embed_dim: int
    ) -> None:
        super().__init__()
        self.n_critics = n_critics
        self.a = _BatchedMLP(n_critics, x_dim, hidden, layers, embed_dim)
        self.b = _BatchedMLP(n_critics, z_dim, hidden, layers, embed_dim)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        n = z.shape[1]
        xf = x.flatten(1)
        if x.shape[0] != n:  # (F * n, ...): rows f * n + i belong to critic f
            if x.shape[0] != self.n_critics * n:
                raise ValueError(
                    f"x must have {n} or {self.n_critics * n} rows for z of shape "
                    f"{tuple(z.shape)}, got {tuple(x.shape)}"
                )
            xf = xf.view(self.n_critics, n, -1)
        return self.a(xf) @ self.b(z.flatten(2)).transpose(1, 2)


class _FeatureTask(ScoreTask):
    """F features of a layer: ``features_fn(x)[:, f]`` (pooled) is representation f. With
    ``expanded`` (under attack) each feature gets its own copy of the batch (rows
    ``f * n + i``), perturbed by its own adversary; otherwise all share one batch."""

    def __init__(
        self, features_fn: Representation, features: Tensor, pooling: str, expanded: bool
    ) -> None:
        super().__init__(features_fn)
        self.features = features
        self.units = int(features.shape[0])
        self.pooling = pooling
        self.expanded = expanded

    def pool(self, maps: Tensor) -> Tensor:
        """(F, n, ...) feature values -> (F, n, D)."""
        flat = maps.flatten(2) if maps.ndim > 2 else maps.unsqueeze(-1)
        return flat.mean(-1, keepdim=True) if self.pooling == "mean" else flat

    def expand(self, xb: Tensor) -> Tensor:
        """One copy of the batch per feature, rows ``f * n + i``, for the feature's adversary."""
        return xb.unsqueeze(0).expand(self.units, *xb.shape).reshape(-1, *xb.shape[1:])

    def representations(self, xa: Tensor) -> Tensor:
        """(F, n, D): representation f of its own copy of the batch (expanded), or of the one
        shared batch."""
        with torch.set_grad_enabled(xa.requires_grad):
            out = self.representation(xa)  # (rows, C, ...)
        picked = out[:, self.features]  # (rows, F, ...)
        if not self.expanded or self.units == 1:
            return self.pool(picked.transpose(0, 1))
        n = xa.shape[0] // self.units
        rows = picked.view(self.units, n, self.units, *picked.shape[2:])
        f = torch.arange(self.units, device=xa.device)
        return self.pool(rows[f, :, f])  # feature f of its own copy of the batch


def _summary(fit: FitResult, units: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over held-out batches per feature (``nan`` if diverged, and a
    ``nan`` standard error from a single batch)."""
    held = fit.heldout_values.reshape(-1, units)  # fit_critic drops the axis for one unit
    if fit.diverged or held.shape[0] == 0:
        nan = np.full(units, math.nan)
        return nan, nan
    mean = held.mean(0)
    if held.shape[0] < 2:
        return mean, np.full(units, math.nan)
    return mean, held.std(0, ddof=1) / math.sqrt(held.shape[0])


def per_feature_vulnerability(
    features_fn: Representation,
    x: Tensor | np.ndarray,
    attack: AttackConfig,
    critic: CriticConfig = PER_FEATURE_CRITIC,
    *,
    features: Sequence[int] | None = None,
    pooling: str = "flatten",
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> PerFeatureVulnerability:
    """Normal MI, worst-case MI and RV (Def. 3.1, eq. 4.1) of every feature of a layer, each
    feature (channel or neuron) taken as its own representation g_f (the paper's Figure 3).

    features_fn: maps x (N, ...) to the layer's activations (N, C) or (N, C, H, W), e.g. the
    first two conv blocks of Baseline-H (C = 128, 8 x 8). Representation f is channel f:
    ``pooling="flatten"`` takes its whole spatial map (H W values; a neuron gives one value),
    ``"mean"`` its spatial mean (one value). features: channel indices (default all C).
    attack: the search set and PGD (:class:`~robustrep_lite.adversarial.search.AttackConfig`).
    critic: the settings of every feature's critic (``critic.critic`` must be
    ``"separable"``, ``preprocess`` ``"none"``; default :data:`PER_FEATURE_CRITIC`).

    Two fits of F fresh critics (same seed, split and initialisation): the normal one on the
    clean pairs, and the worst-case one whose every batch -- training, validation and
    held-out -- is first attacked against the frozen critics, each feature on its own copy of
    the batch (so ``features_fn`` runs on F x batch_size inputs per PGD step: choose
    ``features`` and ``batch_size`` to fit). Each critic trains on the training points, its
    state is chosen on the validation points (attacked, for the worst case: the critic that
    reads the attacked points best), and its value is read on the held-out points, which
    neither training nor selection saw. The worst-case read-out is the paper's (the final
    critics on attacked held-out batches; a refit would need F perturbed copies of the data).
    ``critic.validation_fraction = 0`` trains every critic for exactly ``critic.steps`` steps
    and reads its final state. ``seed`` (an integer >= 0) seeds the split, the batches, the
    critics' initialisation and PGD's random starts.
    """
    check_choice("pooling", pooling, ("flatten", "mean"))
    check_seed("seed", seed)
    if not isinstance(attack, AttackConfig):
        raise ValueError(f"attack must be an AttackConfig, got {type(attack).__name__}")
    if not isinstance(critic, CriticConfig):
        raise ValueError(f"critic must be a CriticConfig, got {type(critic).__name__}")
    check_choice("critic.critic", critic.critic, ("separable",))
    check_choice("critic.preprocess", critic.preprocess, ("none",))
    attack = attack.lowering(critic.readout())
    xt = check_points(x, attack.box, attack.attacks).to(device)
    with frozen(features_fn), torch.no_grad():
        probe = features_fn(xt[:2])
    if not isinstance(probe, Tensor) or probe.ndim < 2 or probe.shape[0] != 2:
        raise ValueError("features_fn must map x (N, ...) to activations (N, C) or (N, C, ...)")
    n_channels = probe.shape[1]
    idx = torch.arange(n_channels) if features is None else torch.as_tensor(list(features))
    if idx.ndim != 1 or idx.numel() < 1 or idx.min() < 0 or idx.max() >= n_channels:
        raise ValueError(f"features must be channel indices in [0, {n_channels}), got {features!r}")
    idx = idx.to(xt.device)
    units = int(idx.numel())
    z_dim = _FeatureTask(features_fn, idx, pooling, False).pool(probe[:, idx].transpose(0, 1))
    z_dim = z_dim.shape[-1]

    def fresh(cfg: CriticConfig) -> BatchedSeparableCritic:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = BatchedSeparableCritic(
                units, xt[0].numel(), z_dim, int(cfg.hidden), cfg.layers, cfg.embed_dim
            )
        return net.to(xt.device)

    fits: dict[str, FitResult] = {}
    sizes = (0, 0, 0)
    with frozen(features_fn):
        for name in ("normal", "worst"):
            gen = torch.Generator().manual_seed(seed)
            splits = split_indices(xt.shape[0], critic, gen)
            sizes = tuple(int(s.numel()) for s in splits)
            cfg = critic.resolved(sizes[0])
            pgd_gen = torch.Generator(device=xt.device).manual_seed(seed + 1)
            worst = name == "worst" and attack.attacks
            task = _FeatureTask(features_fn, idx, pooling, expanded=worst)
            run_attack = attack if worst else AttackConfig(eps=0.0, pgd_steps=0, box=None)
            scores = attacked_scores(task, xt, run_attack, cfg.clip, pgd_gen)
            desc = f"per-feature {name} MI ({units} features)"
            fits[name] = fit_critic(
                fresh(cfg), scores, splits, cfg, gen, units=units, progress=progress, desc=desc
            )

    (nm, ns), (wm, ws) = _summary(fits["normal"], units), _summary(fits["worst"], units)
    reasons = [f"{k}: {f.reason}" for k, f in fits.items() if f.diverged]
    return PerFeatureVulnerability(
        features=idx.cpu().numpy(),
        normal_mi=nm,
        normal_stderr=ns,
        worst_mi=wm,
        worst_stderr=ws,
        rv=nm - wm,
        rv_stderr=np.sqrt(ns**2 + ws**2),
        eps=attack.eps,
        norm=attack.norm,
        pooling=pooling,
        sizes=sizes,  # type: ignore[arg-type]
        normal_curve=fits["normal"].train_curve.reshape(-1, units),
        worst_curve=fits["worst"].train_curve.reshape(-1, units),
        diverged=bool(reasons),
        reason="; ".join(reasons),
    )
