"""Neural mutual-information estimation: one entry point, :func:`estimate_mi`, plus Gaussian
ground truths for testing it.

The bounds live in :mod:`robustrep_lite.mi_bounds` and the critics in
:mod:`robustrep_lite.mi_critics`; both are re-exported here. All MI values are in nats.

Choosing an estimator (see ``bench/mi_*.py`` for the evidence): the critic is *trained* with one
objective and *read out* with a bound, which may differ. SMILE (Song & Ermon 2020) trains with
the Deep InfoMax JSD objective (stable, low-variance gradients) and reads out DV with the
partition term clipped at ``clip`` (default 5): it tracks large MI where InfoNCE saturates at
log(batch size) and NWJ / MINE stall, with far less variance than DV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.mi_bounds import (
    READOUT_ESTIMATORS,
    TRAIN_ESTIMATORS,
    ScoreParts,
    dv_bound,
    dv_bound_with_zeroed_diagonal,
    infonce_bound,
    jsd_bound,
    matrix_scores,
    mine_loss,
    nwj_bound,
    nwj_js_bound,
    readout,
    sample_scores,
    smile_bound,
    training_objective,
    zeroed_diagonal_gap,
)
from robustrep_lite.mi_critics import JointCritic, LocalDIMCritic, SeparableCritic, mlp
from robustrep_lite.validation import check_choice, check_finite

__all__ = [
    "CRITICS",
    "DEFAULT_READOUT",
    "NEGATIVES",
    "READOUT_ESTIMATORS",
    "TRAIN_ESTIMATORS",
    "JointCritic",
    "LocalDIMCritic",
    "MIEstimate",
    "ScoreParts",
    "SeparableCritic",
    "correlated_gaussians",
    "dv_bound",
    "dv_bound_with_zeroed_diagonal",
    "estimate_mi",
    "gaussian_mi",
    "infonce_bound",
    "jsd_bound",
    "linear_gaussian_mi",
    "matrix_scores",
    "mine_loss",
    "mlp",
    "nwj_bound",
    "nwj_js_bound",
    "readout",
    "rho_for_mi",
    "sample_scores",
    "smile_bound",
    "training_objective",
    "zeroed_diagonal_gap",
]

CRITICS = ("separable", "joint", "local")
NEGATIVES = ("all", "shuffled")
#: Read-out used when ``readout_estimator=None``: each critic is read with the bound it was
#: trained for (MINE's value is DV; a JSD-trained critic is read with NWJ on T + 1).
DEFAULT_READOUT = {
    "dv": "dv",
    "mine": "dv",
    "nwj": "nwj",
    "infonce": "infonce",
    "jsd": "nwj_js",
    "smile": "smile",
}


@dataclass(frozen=True)
class MIEstimate:
    """Result of :func:`estimate_mi` (all values in nats).

    estimate: mean read-out over the held-out batches (``nan`` if ``diverged``).
    stderr: standard error of that mean over held-out batches (``nan`` if fewer than 2 batches
    or diverged). train_curve: read-out value on each training batch, shape (steps run,).
    heldout_values: read-out per held-out batch. diverged / diverged_at / reason: whether, at
    which step (0-based; ``-1`` = at the held-out read-out) and why the run was stopped.
    critic: the trained critic, in eval mode.
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


def _as_tensor(name: str, value: object) -> Tensor:
    t = value if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
    if t.ndim < 2:
        t = t.reshape(-1, 1)
    if not t.is_floating_point():
        t = t.float()
    check_finite(name, t)
    return t


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def estimate_mi(
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    *,
    critic: str | nn.Module = "separable",
    train_estimator: str = "smile",
    readout_estimator: str | None = None,
    steps: int = 2000,
    batch_size: int = 128,
    lr: float = 5e-4,
    hidden: int = 256,
    layers: int = 3,
    embed_dim: int = 32,
    norm: str = "batch",
    clip: float | None = 5.0,
    ema_rate: float = 0.01,
    negatives: str = "all",
    holdout_fraction: float = 0.2,
    max_estimate: float = 100.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> MIEstimate:
    """Estimate I(X; Y) in nats by training a critic on a training split and reading out a
    bound on held-out batches.

    x: (N, ...) samples of X; y: (N, ...) paired samples of Y (row k of x with row k of y is a
    joint sample). Vectors for the MLP critics (extra axes are flattened); for
    ``critic="local"`` x holds images (N, C, H, W) or (N, H, W) and y representations (N, D).

    critic: ``"separable"`` (g(x).h(y), MLPs ``hidden`` wide with ``layers`` hidden layers and
    ``embed_dim`` outputs), ``"joint"`` (concat MLP), ``"local"`` (:class:`LocalDIMCritic` with
    ``units=hidden`` and ``norm``), or any ``nn.Module`` with ``forward(x, y) -> (n, n) or
    (L, n, n)`` scores (and ``pair_scores`` for ``negatives="shuffled"``); a module passed in
    is trained in place (``seed`` then does not set its initialisation).
    train_estimator: one of :data:`TRAIN_ESTIMATORS`. readout_estimator: one of
    :data:`READOUT_ESTIMATORS`, default :data:`DEFAULT_READOUT` of the training estimator.
    Any pairing is a valid lower bound in expectation (``jsd`` is not an MI value), but only the
    default pairings are tight: e.g. a DV critic has an arbitrary additive offset, which NWJ
    punishes exponentially.
    steps: Adam steps (learning rate ``lr``), each on ``batch_size`` training pairs drawn
    without replacement. negatives: ``"all"`` uses the n (n - 1) off-diagonal pairs of the
    batch; ``"shuffled"`` one derangement (x_i, y_{i+1}) per sample, as in the MINE paper
    (2n critic evaluations instead of n^2; not for infonce).
    clip: SMILE clip tau (``None`` or ``math.inf`` = no clip). ema_rate: MINE moving-average rate.
    holdout_fraction: share of the N pairs held out (must give at least one full batch).
    max_estimate: a training or held-out value above this many nats (in absolute value), or
    any non-finite loss or value, stops the run. Divergence never raises: the result has
    ``diverged=True``, ``estimate=nan`` and the ``reason``.
    seed: seeds the split, the batches and the critic initialisation (the global torch RNG is
    left untouched). progress: show a tqdm bar.

    Raises ``ValueError`` naming the argument for: different sample counts, batch_size < 2,
    NaN/inf in x or y, an unknown critic/estimator/negatives/norm name, clip <= 0, or
    non-positive steps/lr/hidden, holdout_fraction outside (0, 1), a split too small for a batch.
    """
    check_choice("train_estimator", train_estimator, TRAIN_ESTIMATORS)
    if readout_estimator is None:
        readout_estimator = DEFAULT_READOUT[train_estimator]
    check_choice("readout_estimator", readout_estimator, READOUT_ESTIMATORS)
    if not isinstance(critic, nn.Module):
        check_choice("critic", critic, CRITICS)
    check_choice("negatives", negatives, NEGATIVES)
    check_choice("norm", norm, ("batch", "layer", "none"))
    if negatives == "shuffled" and "infonce" in (train_estimator, readout_estimator):
        raise ValueError("negatives='shuffled' cannot be used with infonce (needs all n^2 pairs)")
    if clip is not None and clip != math.inf:
        _positive("clip", clip)
    if not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    for name, value in (
        ("steps", steps),
        ("hidden", hidden),
        ("layers", layers),
        ("embed_dim", embed_dim),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    _positive("lr", lr)
    _positive("max_estimate", max_estimate)
    _positive("ema_rate", ema_rate)
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
    xt, yt = _as_tensor("x", x), _as_tensor("y", y)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples, got {xt.shape[0]} and {yt.shape[0]}"
        )
    n_total = xt.shape[0]
    n_hold = int(round(holdout_fraction * n_total))
    n_train = n_total - n_hold
    if n_train < batch_size or n_hold < batch_size:
        raise ValueError(
            f"batch_size={batch_size} must fit in both the training ({n_train}) and held-out "
            f"({n_hold}) splits of the {n_total} samples; lower batch_size or change "
            "holdout_fraction"
        )

    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n_total, generator=gen)
    train_idx, hold_idx = order[:n_train], order[n_train:]
    device = torch.device(device)
    xt, yt = xt.to(device), yt.to(device)

    if isinstance(critic, nn.Module):
        net = critic.to(device)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if critic == "separable":
                net = SeparableCritic(xt[0].numel(), yt[0].numel(), hidden, layers, embed_dim)
            elif critic == "joint":
                net = JointCritic(xt[0].numel(), yt[0].numel(), hidden, layers)
            else:
                channels = 1 if xt.ndim == 3 else xt.shape[1]
                net = LocalDIMCritic(channels, yt[0].numel(), units=hidden, norm=norm)
        net = net.to(device)

    def scores_of(xb: Tensor, yb: Tensor) -> Tensor | ScoreParts:
        if negatives == "all":
            return net(xb, yb)
        return sample_scores(net.pair_scores(xb, yb), net.pair_scores(xb, yb.roll(1, 0)))

    def result(
        curve: list[float], diverged_at: int | None, reason: str, held: list[float] | None = None
    ) -> MIEstimate:
        net.eval()
        held_arr = np.asarray(held if held is not None else [], dtype=float)
        if diverged_at is not None:
            est, se = math.nan, math.nan
        else:
            est = float(held_arr.mean())
            se = (
                float(held_arr.std(ddof=1) / math.sqrt(len(held_arr)))
                if len(held_arr) > 1
                else math.nan
            )
        return MIEstimate(
            est,
            se,
            np.asarray(curve, dtype=float),
            held_arr,
            train_estimator,
            readout_estimator,
            diverged_at is not None,
            diverged_at,
            reason,
            net,
        )

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ema: Tensor | None = None
    curve: list[float] = []
    net.train()
    bar = tqdm(
        range(steps),
        disable=not progress,
        desc=f"MI {train_estimator}->{readout_estimator}",
        leave=False,
    )
    for step in bar:
        idx = train_idx[torch.randperm(n_train, generator=gen)[:batch_size]].to(device)
        s = scores_of(xt[idx], yt[idx])
        loss, ema = training_objective(train_estimator, s, clip=clip, ema=ema, ema_rate=ema_rate)
        with torch.no_grad():
            value = float(readout(readout_estimator, _detach(s), clip=clip))
        curve.append(value)
        if not (math.isfinite(float(loss.detach())) and math.isfinite(value)):
            bar.close()
            return result(curve, step, f"non-finite loss or estimate at step {step}")
        if abs(value) > max_estimate:
            bar.close()
            return result(curve, step, f"|estimate| {value:.3g} > max_estimate at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress and step % 50 == 0:
            bar.set_postfix(mi=f"{value:.3f}")
    bar.close()

    net.eval()
    held: list[float] = []
    with torch.no_grad():
        for start in range(0, n_hold - batch_size + 1, batch_size):
            idx = hold_idx[start : start + batch_size].to(device)
            held.append(float(readout(readout_estimator, scores_of(xt[idx], yt[idx]), clip=clip)))
    if not all(math.isfinite(v) and abs(v) <= max_estimate for v in held):
        return result(curve, -1, "non-finite or exploding held-out estimate", held)
    return result(curve, None, "", held)


def _detach(s: Tensor | ScoreParts) -> Tensor | ScoreParts:
    if isinstance(s, Tensor):
        return s.detach()
    return ScoreParts(s.joint.detach(), s.marginal.detach(), s.count, None)


# --- ground truth ----------------------------------------------------------------------------


def _check_rho(rho: float) -> float:
    if not isinstance(rho, (int, float)) or not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho!r}")
    return float(rho)


def gaussian_mi(d: int, rho: float) -> float:
    """I(X; Y) = -(d/2) log(1 - rho^2) nats for d independent coordinate pairs with correlation
    rho (see :func:`correlated_gaussians`)."""
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    return -0.5 * d * math.log1p(-(_check_rho(rho) ** 2))


def rho_for_mi(mi: float, d: int) -> float:
    """Correlation giving ``mi`` nats in d dimensions: rho = sqrt(1 - exp(-2 mi / d))."""
    if not isinstance(mi, (int, float)) or not math.isfinite(mi) or mi < 0:
        raise ValueError(f"mi must be a finite number >= 0, got {mi!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    return math.sqrt(-math.expm1(-2.0 * mi / d))


def correlated_gaussians(
    n: int, d: int, rho: float, seed: int, cubic: bool = False
) -> tuple[Tensor, Tensor]:
    """n samples of x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) e, e ~ N(0, I_d); float32
    tensors of shape (n, d). ``cubic=True`` returns y^3 instead (same MI, harder critic).
    I(X; Y) = :func:`gaussian_mi` (d, rho)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    rho = _check_rho(rho)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen)
    y = rho * x + math.sqrt(1.0 - rho * rho) * torch.randn(n, d, generator=gen)
    return x, (y**3 if cubic else y)


def linear_gaussian_mi(w: np.ndarray | Tensor, cov_x: np.ndarray | Tensor, sigma: float) -> float:
    """I(X; Z) for X ~ N(mu, Sigma_X) and Z = W X + sigma e, e ~ N(0, I): the B3 ground truth
    0.5 log det(I + W Sigma_X W^T / sigma^2) nats (float64 throughout).

    w: (k, d); cov_x: (d, d) symmetric positive semi-definite; sigma > 0.
    """
    w64 = np.asarray(w.detach().cpu() if isinstance(w, Tensor) else w, dtype=np.float64)
    c64 = np.asarray(cov_x.detach().cpu() if isinstance(cov_x, Tensor) else cov_x, dtype=np.float64)
    if w64.ndim != 2:
        raise ValueError(f"w must be a (k, d) matrix, got shape {w64.shape}")
    if c64.shape != (w64.shape[1], w64.shape[1]):
        raise ValueError(f"cov_x must have shape {(w64.shape[1],) * 2}, got {c64.shape}")
    check_finite("w", w64)
    check_finite("cov_x", c64)
    _positive("sigma", sigma)
    m = np.eye(w64.shape[0]) + w64 @ c64 @ w64.T / sigma**2
    sign, logdet = np.linalg.slogdet(m)
    if sign <= 0:
        raise ValueError("cov_x must be positive semi-definite")
    return 0.5 * float(logdet)
