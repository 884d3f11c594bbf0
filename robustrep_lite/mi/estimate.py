"""Neural mutual-information estimation: one entry point, :func:`estimate_mi`, and the
:class:`MIEstimate` it returns.

The bounds live in :mod:`robustrep_lite.mi.bounds`, the critics in
:mod:`robustrep_lite.mi.critics`, the fitting loop in :mod:`robustrep_lite.mi.fit`, and the
Gaussian ground truths in :mod:`robustrep_lite.mi.ground_truth`; the package re-exports the
public names of all of them. All MI values are in nats.

Choosing an estimator (the evidence: bench/README.md, B1-B4): the critic is *trained* with one
objective and *read out* with a bound, which may differ. SMILE (Song & Ermon 2020) trains with
the Deep InfoMax JSD objective (stable, low-variance gradients) and reads out DV with the
partition term clipped at ``clip`` (default 5): it tracks large MI where InfoNCE saturates at
log(batch size) and NWJ / MINE stall, with far less variance than DV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.core.validation import check_finite, check_seed
from robustrep_lite.mi.bounds import (
    ScoreParts,
    sample_scores,
)
from robustrep_lite.mi.fit import (
    AUTO_CRITICS,
    CriticConfig,
    FitResult,
    MarginalTransform,
    fit_critic,
    make_critic,
    split_indices,
)


@dataclass(frozen=True)
class MIEstimate:
    """Result of :func:`estimate_mi` (all values in nats).

    estimate: mean read-out over the held-out batches (``nan`` if ``diverged``); the held-out
    split was used neither to train the critic nor to select its state. stderr: standard error
    of that mean over held-out batches (``nan`` if fewer than 2 batches or diverged).
    train_curve: read-out value on each training batch, shape (steps run,).
    heldout_values: read-out per held-out batch. diverged / diverged_at / reason: whether, at
    which step (0-based; ``-1`` = at the held-out read-out) and why the run was stopped.
    eval_steps / val_curve / eval_train_curve: the validation read-out (and that of an equally
    large fixed training subset) every ``config.eval_every`` steps; best_step: the steps of the
    critic state kept. heldout_curve: the held-out read-out at each evaluation, only with
    ``trace_heldout``. sizes: pairs in the (train, validation, held-out) splits.
    config: the resolved :class:`~robustrep_lite.mi.fit.CriticConfig`.
    critic: the trained critic, in eval mode. transform_x / transform_y: the marginal maps
    the critic reads its inputs through (fitted on the training split). candidates: the
    validation read-out of each critic family fitted (``critic="auto"`` keeps the highest).
    """

    estimate: float
    stderr: float
    train_curve: np.ndarray
    heldout_values: np.ndarray
    train_estimator: str
    readout_estimator: str
    diverged: bool
    diverged_at: int | None = None
    reason: str = ""
    critic: nn.Module | None = field(default=None, repr=False, compare=False)
    eval_steps: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int), repr=False)
    val_curve: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    eval_train_curve: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    heldout_curve: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    best_step: int = 0
    sizes: tuple[int, int, int] = (0, 0, 0)
    config: CriticConfig | None = field(default=None, repr=False, compare=False)
    transform_x: MarginalTransform | None = field(default=None, repr=False, compare=False)
    transform_y: MarginalTransform | None = field(default=None, repr=False, compare=False)
    candidates: dict[str, float] = field(default_factory=dict, repr=False, compare=False)


def estimate_from_fit(
    fit: FitResult,
    cfg: CriticConfig,
    sizes: tuple[int, int, int],
    transforms: tuple[MarginalTransform | None, MarginalTransform | None] = (None, None),
    candidates: dict[str, float] | None = None,
) -> MIEstimate:
    """The :class:`MIEstimate` of one :func:`~robustrep_lite.mi.fit.fit_critic` run: the mean
    held-out read-out and its standard error over held-out batches (``nan`` if diverged)."""
    held = fit.heldout_values
    if fit.diverged:
        est, se = math.nan, math.nan
    else:
        est = float(held.mean())
        se = float(held.std(ddof=1) / math.sqrt(len(held))) if len(held) > 1 else math.nan
    return MIEstimate(
        estimate=est,
        stderr=se,
        train_curve=fit.train_curve,
        heldout_values=held,
        train_estimator=cfg.train_estimator,
        readout_estimator=cfg.readout(),
        diverged=fit.diverged,
        diverged_at=fit.diverged_at,
        reason=fit.reason,
        critic=fit.critic,
        eval_steps=fit.eval_steps,
        val_curve=fit.val_curve,
        eval_train_curve=fit.eval_train_curve,
        heldout_curve=fit.heldout_curve,
        best_step=fit.best_step,
        sizes=sizes,
        config=cfg,
        transform_x=transforms[0],
        transform_y=transforms[1],
        candidates=candidates or {},
    )


def _as_tensor(name: str, value: object) -> Tensor:
    if isinstance(value, Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=float))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a numeric array or tensor: {err}") from None
    if t.ndim < 2:
        t = t.reshape(-1, 1)
    if not t.is_floating_point():
        t = t.float()
    if t.dtype == torch.float64:
        t = t.float()
    if t.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(t.shape)}")
    check_finite(name, t)
    return t


def _config_from(config: CriticConfig | None, settings: dict[str, object]) -> CriticConfig:
    base = config if config is not None else CriticConfig()
    names = {f.name for f in fields(CriticConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown}; the settings of CriticConfig are {sorted(names)}"
        )
    return replace(base, **settings) if settings else base


def estimate_mi(
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    config: CriticConfig | None = None,
    *,
    critic_module: nn.Module | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    trace_heldout: bool = False,
    **settings: object,
) -> MIEstimate:
    """Estimate I(X; Y) in nats: train a critic on one split, keep the state that reads highest
    on a validation split (early stopping), and report its read-out on a third, held-out split.

    x: (N, ...) samples of X; y: (N, ...) paired samples of Y (row k of x with row k of y is a
    joint sample); tensors, NumPy arrays of any real dtype, or nested lists. Vectors for the MLP
    critics (extra axes are flattened); for ``critic="local"`` x holds images (N, C, H, W) or
    (N, H, W) and y representations (N, D).

    config: a :class:`~robustrep_lite.mi.fit.CriticConfig` (default ``CriticConfig()``: SMILE
    with tau = 5, ``critic="auto"`` (a separable and a joint critic, each sized to the sample,
    fitted on the same splits; the one that reads higher on the validation split is kept),
    rank-Gaussianised inputs, a 60/20/20 split, early stopping). settings: any of its fields by
    name, overriding ``config`` (e.g. ``steps=500``); an unknown name is a ``ValueError``
    listing the fields.
    critic_module: train this ``nn.Module`` (in place) instead of building one; it needs
    ``forward(x, y) -> (n, n) or (L, n, n)`` scores (and ``pair_scores`` for
    ``negatives="shuffled"``); ``seed`` then does not set its initialisation. A module passed
    as ``critic=`` is taken as ``critic_module``.
    seed: an integer >= 0; seeds the split, the batches and the critic initialisation (the
    global torch RNG is left untouched). progress: show a tqdm bar. trace_heldout: also record
    the held-out read-out at every evaluation (``heldout_curve``; a diagnostic for showing
    overfitting, never used for selection).

    Divergence never raises: the result has ``diverged=True``, ``estimate=nan`` and the
    ``reason``. Raises ``ValueError`` naming the argument for different sample counts, NaN/inf
    in x or y, non-numeric input, an invalid setting, or a split too small for a batch.
    """
    if isinstance(settings.get("critic"), nn.Module):
        critic_module = settings.pop("critic")  # type: ignore[assignment]
    cfg = _config_from(config, settings)
    check_seed("seed", seed)
    xt, yt = _as_tensor("x", x), _as_tensor("y", y)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples, got {xt.shape[0]} and {yt.shape[0]}"
        )
    gen = torch.Generator().manual_seed(seed)
    splits = split_indices(xt.shape[0], cfg, gen)
    train_idx = splits[0]
    tx = MarginalTransform(cfg.preprocess, xt[train_idx])
    ty = MarginalTransform(cfg.preprocess, yt[train_idx])
    device = torch.device(device)
    xt, yt = tx(xt).to(device), ty(yt).to(device)

    def scores(critic: nn.Module, idx: Tensor) -> Tensor | ScoreParts:
        idx = idx.to(device)
        xb, yb = xt[idx], yt[idx]
        if cfg.negatives == "all":
            return critic(xb, yb)
        return sample_scores(critic.pair_scores(xb, yb), critic.pair_scores(xb, yb.roll(1, 0)))

    kinds = AUTO_CRITICS if cfg.critic == "auto" and critic_module is None else (cfg.critic,)
    fits: dict[str, tuple[FitResult, CriticConfig]] = {}
    for kind in kinds:
        kind_cfg = replace(cfg, critic=kind).resolved(train_idx.numel())
        net = critic_module if critic_module is not None else make_critic(kind_cfg, xt, yt, seed)
        batches = torch.Generator()  # every candidate draws the same batches
        batches.set_state(gen.get_state())
        desc = f"MI {kind} {cfg.train_estimator}->{cfg.readout()}"
        fits[kind] = (
            fit_critic(
                net.to(device),
                scores,
                splits,
                kind_cfg,
                batches,
                progress=progress,
                desc=desc,
                trace_heldout=trace_heldout,
            ),
            kind_cfg,
        )
    usable = [k for k in kinds if not fits[k][0].diverged] or list(kinds)
    chosen = max(usable, key=lambda k: fits[k][0].best_value)
    fit, cfg = fits[chosen]
    return estimate_from_fit(
        fit,
        cfg,
        tuple(int(s.numel()) for s in splits),  # type: ignore[arg-type]
        (tx, ty),
        {k: f.best_value for k, (f, _) in fits.items()},
    )
