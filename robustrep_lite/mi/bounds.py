"""Variational lower bounds on mutual information, computed from critic scores in log space.

Conventions (all functions in this module):

* A *score matrix* ``scores`` has shape ``(n, n)`` or ``(L, n, n)``; ``scores[..., i, j]`` is the
  critic value ``T(x_i, y_j)``. The diagonal holds the ``n`` joint pairs ``(x_i, y_i) ~ P_XY``;
  the ``n (n - 1)`` off-diagonal entries are pairs from the product of marginals ``P_X P_Y``.
  Diagonal entries are *excluded* from the marginal term by setting them to ``-inf`` before a
  log-sum-exp (they contribute ``exp(-inf) = 0``); nothing ever exponentiates a raw score.
* A leading ``L`` axis holds independent problems (e.g. the ``L`` spatial locations of the
  Deep InfoMax local critic); each bound is computed per location and averaged over ``L``.
* Alternatively, a :class:`ScoreParts` built by :func:`sample_scores` holds scores of ``n`` joint
  pairs and ``m`` separately drawn marginal pairs (the MINE paper's "shuffled" marginal batch).
* Every value is in nats and returned as a 0-d tensor that carries gradients.

References: Belghazi et al. 2018 (MINE); Nguyen, Wainwright & Jordan 2010 (NWJ, "MINE-f");
Hjelm et al. 2019 (Deep InfoMax JSD objective); van den Oord et al. 2018 (InfoNCE / CPC);
Poole et al. 2019 ("On variational bounds of mutual information"); Song & Ermon 2020 (SMILE).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from robustrep_lite.core.validation import check_choice, check_in_range

#: Estimators that can be *trained* (each defines a loss whose gradient trains the critic).
TRAIN_ESTIMATORS = ("dv", "mine", "nwj", "infonce", "jsd", "smile")
#: Estimators that can *read out* an MI value from a trained critic.
READOUT_ESTIMATORS = ("dv", "nwj", "infonce", "jsd", "smile", "nwj_js")


class ScoreParts(NamedTuple):
    """Critic scores split into the joint and product-of-marginal samples.

    joint: (L, n) scores of joint pairs. marginal: (L, m) scores of product-of-marginal pairs,
    where an entry of exactly ``-inf`` marks an excluded pair. count: number of marginal pairs
    that count (the denominator of every marginal average). matrix: the full (L, n, n) score
    matrix when the parts came from one (InfoNCE needs it), else ``None``.
    """

    joint: Tensor
    marginal: Tensor
    count: int
    matrix: Tensor | None


def _as_batched(scores: Tensor) -> Tensor:
    """Check a score matrix and return it with a leading location axis: (L, n, n)."""
    if not isinstance(scores, Tensor):
        raise ValueError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim not in (2, 3) or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must have shape (n, n) or (L, n, n), got {tuple(scores.shape)}")
    if scores.shape[-1] < 2:
        raise ValueError("scores must hold at least n = 2 samples (a 2 x 2 matrix)")
    if not scores.is_floating_point():
        scores = scores.float()
    return scores if scores.ndim == 3 else scores.unsqueeze(0)


def matrix_scores(scores: Tensor) -> ScoreParts:
    """Split an (n, n) or (L, n, n) score matrix into joint (diagonal) and marginal parts.

    The marginal part is the matrix with its diagonal set to ``-inf`` (flattened to
    (L, n * n)); ``count = n (n - 1)``.
    """
    s = _as_batched(scores)
    n = s.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=s.device)
    joint = torch.diagonal(s, dim1=-2, dim2=-1)
    marginal = s.masked_fill(eye, float("-inf")).flatten(1)
    return ScoreParts(joint, marginal, n * (n - 1), s)


def sample_scores(joint: Tensor, marginal: Tensor) -> ScoreParts:
    """Wrap scores of ``n`` joint pairs, shape (n,) or (L, n), and ``m`` separately drawn
    product-of-marginal pairs, shape (m,) or (L, m), as :class:`ScoreParts` (no InfoNCE)."""
    if not isinstance(joint, Tensor) or not isinstance(marginal, Tensor):
        raise ValueError("joint and marginal must be torch.Tensors")
    if joint.ndim not in (1, 2) or marginal.ndim != joint.ndim:
        raise ValueError(
            f"joint and marginal must both have shape (n,) or (L, n), got "
            f"{tuple(joint.shape)} and {tuple(marginal.shape)}"
        )
    if joint.ndim == 1:
        joint, marginal = joint.unsqueeze(0), marginal.unsqueeze(0)
    if joint.shape[0] != marginal.shape[0]:
        raise ValueError("joint and marginal must have the same number of locations L")
    if joint.shape[1] < 1 or marginal.shape[1] < 1:
        raise ValueError("joint and marginal must each hold at least one score")
    return ScoreParts(joint, marginal, marginal.shape[1], None)


def _parts(scores: Tensor | ScoreParts) -> ScoreParts:
    return scores if isinstance(scores, ScoreParts) else matrix_scores(scores)


def _log_mean_exp_marginal(p: ScoreParts) -> Tensor:
    """log E_Q[e^T] per location, shape (L,): logsumexp over counted pairs minus log(count)."""
    return torch.logsumexp(p.marginal, dim=-1) - math.log(p.count)


def _check_clip(clip: float | None) -> float | None:
    """SMILE's tau (Song & Ermon 2020, eq. 17): ``None`` or ``math.inf`` for no clipping, else a
    finite real number > 0; a bool (``True`` would read as tau = 1), a string or a NaN is a
    ``ValueError`` naming ``clip``."""
    if clip is None:
        return None
    if (
        isinstance(clip, bool)
        or not isinstance(clip, numbers.Real)
        or math.isnan(float(clip))
        or clip <= 0
    ):
        raise ValueError(f"clip must be a positive number, math.inf or None, got {clip!r}")
    return None if clip == math.inf else float(clip)


# --- the bounds, per location (shape (L,)) ---------------------------------------------------


def _dv_per_location(p: ScoreParts) -> Tensor:
    return p.joint.mean(-1) - _log_mean_exp_marginal(p)


def _nwj_per_location(p: ScoreParts, shift: float = 0.0) -> Tensor:
    log_marg = _log_mean_exp_marginal(p) + shift
    return p.joint.mean(-1) + shift - torch.exp(log_marg - 1.0)


def _jsd_per_location(p: ScoreParts) -> Tensor:
    # softplus(-inf) = 0, so excluded pairs drop out of the sum.
    return (-F.softplus(-p.joint)).mean(-1) - F.softplus(p.marginal).sum(-1) / p.count


def _smile_per_location(p: ScoreParts, clip: float | None) -> Tensor:
    marginal = p.marginal
    if clip is not None:
        excluded = marginal == float("-inf")
        marginal = torch.where(excluded, marginal, marginal.clamp(-clip, clip))
    return p.joint.mean(-1) - (torch.logsumexp(marginal, dim=-1) - math.log(p.count))


def _infonce_per_location(p: ScoreParts) -> Tensor:
    if p.matrix is None:
        raise ValueError("infonce needs the full (n, n) score matrix, not separate samples")
    s = p.matrix
    n = s.shape[-1]
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    return (diag - torch.logsumexp(s, dim=-1)).mean(-1) + math.log(n)


# --- public bounds ---------------------------------------------------------------------------


def dv_bound(scores: Tensor | ScoreParts) -> Tensor:
    """Donsker-Varadhan lower bound (Belghazi et al. 2018, eq. 2; Poole et al. 2019, eq. 7).

    I(X;Y) >= E_P[T] - log E_Q[e^T], estimated as
    ``mean_i T_ii - (logsumexp_{i != j} T_ij - log(n (n - 1)))``.

    scores: (n, n) or (L, n, n) critic scores (or :class:`ScoreParts`). Returns a 0-d tensor
    in nats (mean over locations). Invariant to adding a constant to all scores. The batch
    estimate of the log-partition is biased, so a per-batch DV value is not a safe lower bound.
    """
    return _dv_per_location(_parts(scores)).mean()


def nwj_bound(scores: Tensor | ScoreParts) -> Tensor:
    """Nguyen-Wainwright-Jordan bound, a.k.a. f-divergence MINE / "MINE-f" (Nguyen et al. 2010;
    Belghazi et al. 2018; Poole et al. 2019, eq. 9 with the constant 1 folded into T).

    I(X;Y) >= E_P[T] - E_Q[e^{T - 1}], computed as
    ``mean_i T_ii - exp(logmeanexp_{i != j} T_ij - 1)``; optimal critic T* = 1 + log p/(p_x p_y).

    scores: (n, n) or (L, n, n) (or :class:`ScoreParts`). Returns a 0-d tensor in nats. The
    final ``exp`` is of a log-mean-exp, so it overflows only when the bound itself is below
    about -e^88 (float32): then the returned value is ``-inf``, which is the correct limit.
    """
    return _nwj_per_location(_parts(scores)).mean()


def nwj_js_bound(scores: Tensor | ScoreParts) -> Tensor:
    """NWJ read-out of a critic trained with the JSD objective (Poole et al. 2019, sec. 2.4).

    A JSD-optimal critic is T = log p/(p_x p_y) (the discriminator's logit), while NWJ needs
    1 + log p/(p_x p_y); so this is :func:`nwj_bound` applied to ``T + 1``. (Applying NWJ to T
    itself, as some public code does, lowers an exact critic's read-out by 1/e = 0.37 nats.)
    Shapes as :func:`nwj_bound`; nats.
    """
    return _nwj_per_location(_parts(scores), shift=1.0).mean()


def jsd_bound(scores: Tensor | ScoreParts) -> Tensor:
    """Deep InfoMax Jensen-Shannon objective (Hjelm et al. 2019, eq. 4; Nowozin et al. 2016).

    ``E_P[-softplus(-T)] - E_Q[softplus(T)]``, with the marginal mean over the n (n - 1)
    off-diagonal pairs. This is a training objective (2 JSD(P||Q) - 2 log 2 at the optimum),
    monotone in MI but *not* an MI value in nats: read out a JSD-trained critic with
    :func:`nwj_js_bound` or :func:`smile_bound`. Shapes as :func:`dv_bound`.
    """
    return _jsd_per_location(_parts(scores)).mean()


def infonce_bound(scores: Tensor | ScoreParts) -> Tensor:
    """InfoNCE / CPC bound (van den Oord et al. 2018; Poole et al. 2019, eq. 12).

    ``log n + mean_i (T_ii - logsumexp_j T_ij)``: the diagonal is the positive and is kept in
    the row's log-sum-exp. Always <= log n, so it saturates at log n for large MI. Needs the
    full (n, n) or (L, n, n) matrix. Returns a 0-d tensor in nats.
    """
    return _infonce_per_location(_parts(scores)).mean()


def smile_bound(scores: Tensor | ScoreParts, clip: float | None = 5.0) -> Tensor:
    """SMILE read-out (Song & Ermon 2020, eq. 17): DV with e^T clipped to [e^-clip, e^clip]
    in the partition term, ``mean_i T_ii - logmeanexp_{i != j} clamp(T_ij, -clip, clip)``.

    The joint term is not clipped (as in the authors' code). ``clip=None`` or ``math.inf``
    means no clipping (then this equals :func:`dv_bound`). Clipping lowers the variance of
    the partition estimate at the cost of bias. SMILE trains the critic with the JSD objective
    (:func:`jsd_bound`) and reads it out with this function. Shapes as :func:`dv_bound`; nats.
    Raises ``ValueError`` if ``clip <= 0``.
    """
    return _smile_per_location(_parts(scores), _check_clip(clip)).mean()


def readout(estimator: str, scores: Tensor | ScoreParts, clip: float | None = 5.0) -> Tensor:
    """Value of the read-out ``estimator`` (one of :data:`READOUT_ESTIMATORS`), nats, 0-d.

    ``clip`` is used by ``"smile"`` only.
    """
    check_choice("readout_estimator", estimator, READOUT_ESTIMATORS)
    p = _parts(scores)
    if estimator == "dv":
        return _dv_per_location(p).mean()
    if estimator == "nwj":
        return _nwj_per_location(p).mean()
    if estimator == "nwj_js":
        return _nwj_per_location(p, shift=1.0).mean()
    if estimator == "jsd":
        return _jsd_per_location(p).mean()
    if estimator == "infonce":
        return _infonce_per_location(p).mean()
    return _smile_per_location(p, _check_clip(clip)).mean()


def mine_loss(
    scores: Tensor | ScoreParts, ema: Tensor | None, rate: float = 0.01
) -> tuple[Tensor, Tensor, Tensor]:
    """MINE: the DV bound trained with a bias-corrected gradient (Belghazi et al. 2018, sec. 3.2).

    The DV gradient E_P[grad T] - E_Q[e^T grad T] / E_Q[e^T] uses a mini-batch denominator,
    which biases it; MINE replaces the denominator with a moving average of E_Q[e^T] over
    batches. The state is kept in log space: ``ema`` is log of the moving average, one entry
    per location, shape (L,) (or ``None`` at the first step, which starts it at the batch value).
    Update: ``ma_t = (1 - rate) ma_{t-1} + rate * mean_Q e^T``.

    Returns ``(loss, new_ema, value)``: ``loss`` (0-d) has the numerical value ``-DV`` and the
    gradient of the corrected objective (minimise it); ``new_ema`` (L,) is detached;
    ``value`` (0-d, detached) is the DV estimate in nats. ``rate`` must be a real number in
    (0, 1] (a bool is refused, not read as 1), else a ``ValueError`` names it.
    """
    rate = check_in_range("rate", rate, 0.0, 1.0, low_open=True, high_open=False)
    p = _parts(scores)
    joint_mean = p.joint.mean(-1)
    log_marg = _log_mean_exp_marginal(p)  # (L,)
    with torch.no_grad():
        batch = log_marg.detach()
        if ema is None:
            new_ema = batch.clone()
        else:
            new_ema = torch.logaddexp(ema.to(batch) + math.log1p(-rate), batch + math.log(rate))
    dv = joint_mean - log_marg
    surrogate = joint_mean - torch.exp(log_marg - new_ema)  # grad: E_P[dT] - E_Q[e^T dT] / ma
    loss = -(surrogate + (dv - surrogate).detach()).mean()
    return loss, new_ema, dv.mean().detach()


def training_objective(
    estimator: str,
    scores: Tensor | ScoreParts,
    *,
    clip: float | None = 5.0,
    ema: Tensor | None = None,
    ema_rate: float = 0.01,
) -> tuple[Tensor, Tensor | None]:
    """Loss to *minimise* when training a critic with ``estimator`` (one of
    :data:`TRAIN_ESTIMATORS`), and the new MINE moving-average state (``None`` for others).

    dv, nwj, infonce: minus the bound. jsd and smile: minus :func:`jsd_bound` (SMILE trains with
    the JSD gradient and differs only in its read-out; ``clip`` is unused here). mine: see
    :func:`mine_loss` (uses ``ema`` and ``ema_rate``).
    """
    check_choice("train_estimator", estimator, TRAIN_ESTIMATORS)
    p = _parts(scores)
    if estimator == "mine":
        loss, new_ema, _ = mine_loss(p, ema, ema_rate)
        return loss, new_ema
    if estimator == "dv":
        return -_dv_per_location(p).mean(), None
    if estimator == "nwj":
        return -_nwj_per_location(p).mean(), None
    if estimator == "infonce":
        return -_infonce_per_location(p).mean(), None
    return -_jsd_per_location(p).mean(), None


def dv_bound_with_zeroed_diagonal(scores: Tensor) -> Tensor:
    """REPRODUCES A BUG, for the book to show its effect: the DV bound as in the paper's code,
    where the diagonal is "masked" by multiplying it by zero instead of excluding it.

    The n zeroed joint entries then add n spurious terms exp(0) = 1 to the log-sum-exp that is
    normalised by the n (n - 1) genuine marginal pairs. With Z = logmeanexp_{i != j} T_ij
    (the correct log-partition estimate, per location), the buggy value is exactly

        DV_zeroed = DV - log(1 + e^{-Z} / (n - 1)),

    averaged over locations. So the defect always *lowers* the estimate; it is negligible when
    the marginal scores are large (e^Z >> 1/(n - 1)) and grows without bound as the critic's
    marginal scores go negative (e.g. Z = -5, n = 128 gives -log(1 + e^5/127) = -0.77 nats).
    Unlike DV it is not invariant to adding a constant c to T: the defect term shrinks as c
    grows, so gradient ascent on it also pushes every score upward. (Were the normaliser n^2
    instead of n (n - 1), the value would be higher by a further log(n / (n - 1)).)

    scores: (n, n) or (L, n, n). Returns a 0-d tensor in nats. Use :func:`dv_bound` for real
    estimates; see :func:`zeroed_diagonal_gap` for the analytic difference.
    """
    s = _as_batched(scores)
    n = s.shape[-1]
    keep = 1.0 - torch.eye(n, dtype=s.dtype, device=s.device)
    zeroed = s * keep
    log_marg = torch.logsumexp(zeroed.flatten(1), dim=-1) - math.log(n * (n - 1))
    return (torch.diagonal(s, dim1=-2, dim2=-1).mean(-1) - log_marg).mean()


def zeroed_diagonal_gap(scores: Tensor) -> Tensor:
    """Analytic size of the zeroed-diagonal defect, ``dv_bound - dv_bound_with_zeroed_diagonal``
    = mean over locations of ``log(1 + e^{-Z} / (n - 1))`` >= 0, with Z = logmeanexp_{i != j} T_ij.
    scores: (n, n) or (L, n, n); returns a 0-d tensor in nats."""
    p = matrix_scores(scores)
    n = p.joint.shape[-1]
    z = _log_mean_exp_marginal(p)
    return F.softplus(-z - math.log(n - 1)).mean()  # log(1 + e^{-Z} / (n - 1)), stable
