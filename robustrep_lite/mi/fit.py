"""Fitting a critic on a finite sample: the settings (:class:`CriticConfig`), the critic factory
(:func:`make_critic`), the three-way split, the marginal transforms and the one training loop
(:func:`fit_critic`) behind :func:`robustrep_lite.mi.estimate.estimate_mi`.

Why three splits. A critic trained for many epochs on a few thousand pairs memorises them: its
training read-out keeps rising while its read-out on unseen pairs falls, eventually far below
zero. The loop therefore trains on one split, evaluates a second (*validation*) split every
``eval_every`` steps, keeps the critic state with the highest validation read-out and stops
after ``patience`` evaluations without improvement, and reports the read-out of that state on a
third (*held-out*) split that neither training nor selection has seen. The reported value is
then an ordinary estimate of the bound for a fixed critic, on fresh data.

Why a marginal transform. I(X; Y) is unchanged by a strictly increasing map of any single
coordinate of X or of Y. ``preprocess="rank"`` maps each coordinate through its empirical CDF
(fitted on the training split, mid-ranks for ties, linear between the training values) and the
standard normal quantile, continued beyond the training range as ``log(1 + distance / scale)``
(so a held-out outlier cannot reach a score the critic never saw), so the map is strictly
increasing and MI is exactly preserved. Heavy tails (Student-t with 1 degree of freedom, where
one sample can be 10^4 times the median) otherwise dominate every gradient step of the critic.
``"standardize"`` is the affine version (mean 0, sd 1 per coordinate, from the training split).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import vmap
from tqdm.auto import tqdm

from robustrep_lite.core.validation import (
    check_choice,
    check_finite,
    check_in_range,
    check_int,
    check_positive,
    check_seed,
)
from robustrep_lite.mi.bounds import (
    READOUT_ESTIMATORS,
    TRAIN_ESTIMATORS,
    ScoreParts,
    readout,
    training_objective,
)
from robustrep_lite.mi.critics import NORMS, JointCritic, LocalDIMCritic, SeparableCritic

__all__ = [
    "AUTO_CRITICS",
    "CRITICS",
    "DEFAULT_READOUT",
    "NEGATIVES",
    "PREPROCESS",
    "CriticConfig",
    "FitResult",
    "MarginalTransform",
    "fit_critic",
    "make_critic",
    "eval_batches",
    "split_indices",
    "unit_values",
]

#: The critic families :func:`make_critic` builds (``critic="auto"`` picks among
#: :data:`AUTO_CRITICS`).
CRITICS = ("separable", "joint", "local")
#: The critic families ``critic="auto"`` fits, each at its resolved width; the one that reads
#: highest on the validation split is kept.
AUTO_CRITICS = ("separable", "joint")
#: The negative pairs a batch offers: all off-diagonal pairs, or one shuffled partner per sample.
NEGATIVES = ("all", "shuffled")
#: The marginal transforms (:class:`MarginalTransform`) fitted on the training split.
PREPROCESS = ("rank", "standardize", "none")
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
class CriticConfig:
    """Everything about one critic fit, with the defaults defined once (all values in nats).

    critic: ``"separable"`` (g(x) . h(y), two MLPs ``hidden`` wide with ``layers`` hidden
    layers and ``embed_dim`` outputs), ``"joint"`` (MLP on [x, y], all n^2 pairs),
    ``"local"`` (the Deep InfoMax critic with ``units=hidden`` and ``norm``), or ``"auto"``
    (default): fit each of :data:`AUTO_CRITICS` on the same splits and keep the one whose
    selected state reads highest on the validation split (the held-out split stays unseen).
    hidden: width; ``None`` adapts it to the training split (see :meth:`resolved`).
    train_estimator / readout_estimator: the objective the critic is trained with and the bound
    it is read out with (default :data:`DEFAULT_READOUT` of the objective). clip: SMILE's tau.
    ema_rate: MINE's moving-average rate. negatives: ``"all"`` (the n (n - 1) off-diagonal
    pairs of a batch) or ``"shuffled"`` (one derangement per sample).
    steps: most Adam steps (``None``: adapts to the training split); batch_size, lr,
    weight_decay: the optimiser's (AdamW when ``weight_decay > 0``).
    validation_fraction / holdout_fraction: shares of the samples used to select the critic
    state and to report the value. ``validation_fraction=0`` turns selection off: the critic
    trains for exactly ``steps`` steps and its final state is read out (the infinite-data
    behaviour of the staircase and the sweep). eval_every: steps between validation read-outs
    (``None``: about two epochs, at least 25 steps). patience: evaluations without a new best
    before stopping. select_estimator: the bound the validation split is read with
    (default :meth:`selection`: NWJ on T + 1 for JSD/SMILE critics, whose value for a fixed
    critic is an unbiased sample mean, unlike the log-mean-exp of a DV-type read-out, which a
    selection by maximum would favour when it errs upward). weight_average: decay of an
    exponential moving average of the critic's weights (Polyak averaging); when > 0 the
    averaged critic is the one evaluated, selected and read out (0 = off). preprocess: one of
    :data:`PREPROCESS`, fitted on the training split.
    max_estimate: any ``|value|`` above it, or a non-finite loss, stops the run as diverged.
    """

    critic: str = "auto"
    hidden: int | None = None
    layers: int = 2
    embed_dim: int = 32
    norm: str = "layer"
    train_estimator: str = "smile"
    readout_estimator: str | None = None
    clip: float | None = 5.0
    ema_rate: float = 0.01
    negatives: str = "all"
    steps: int | None = None
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.0
    validation_fraction: float = 0.2
    holdout_fraction: float = 0.2
    eval_every: int | None = None
    patience: int = 10
    weight_average: float = 0.0
    select_estimator: str | None = None
    preprocess: str = "rank"
    max_estimate: float = 100.0

    def __post_init__(self) -> None:
        check_choice("critic", self.critic, (*CRITICS, "auto"))
        # a fraction given as a bool (False read as 0: no selection) is refused before use
        check_in_range("validation_fraction", self.validation_fraction, 0.0, 1.0)
        if self.critic == "auto" and self.validation_fraction <= 0:
            raise ValueError(
                "critic='auto' selects on the validation split: validation_fraction > 0"
            )
        check_choice("train_estimator", self.train_estimator, TRAIN_ESTIMATORS)
        if self.readout_estimator is not None:
            check_choice("readout_estimator", self.readout_estimator, READOUT_ESTIMATORS)
        if self.select_estimator is not None:
            check_choice("select_estimator", self.select_estimator, READOUT_ESTIMATORS)
        check_choice("norm", self.norm, NORMS)
        check_choice("negatives", self.negatives, NEGATIVES)
        check_choice("preprocess", self.preprocess, PREPROCESS)
        if self.negatives == "shuffled" and "infonce" in (
            self.train_estimator,
            self.readout(),
        ):
            raise ValueError("negatives='shuffled' cannot be used with infonce (needs all n^2)")
        if self.clip is not None and self.clip != math.inf:
            check_positive("clip", self.clip)
        for name in ("hidden", "steps", "eval_every"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        check_int("layers", self.layers, 1)
        check_int("embed_dim", self.embed_dim, 1)
        check_int("batch_size", self.batch_size, 2)
        check_int("patience", self.patience, 1)
        check_in_range("weight_average", self.weight_average, 0.0, 1.0)
        check_positive("lr", self.lr)
        if not (check_positive("ema_rate", self.ema_rate) <= 1.0):
            raise ValueError(f"ema_rate must be in (0, 1], got {self.ema_rate!r}")
        check_positive("max_estimate", self.max_estimate)
        check_in_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_in_range("holdout_fraction", self.holdout_fraction, 0.0, 1.0, low_open=True)
        if self.validation_fraction + self.holdout_fraction >= 1.0:
            raise ValueError(
                "validation_fraction + holdout_fraction must be < 1 (some samples must be left "
                f"to train on), got {self.validation_fraction} + {self.holdout_fraction}"
            )

    def selection(self) -> str:
        """The bound the validation split is read with to select the critic state:
        ``select_estimator``, or by default NWJ on T + 1 for a JSD- or SMILE-trained critic and
        the read-out bound otherwise (see :func:`fit_critic`)."""
        if self.select_estimator is not None:
            return self.select_estimator
        return "nwj_js" if self.train_estimator in ("jsd", "smile") else self.readout()

    def readout(self) -> str:
        """The read-out bound: ``readout_estimator`` or the objective's default."""
        return self.readout_estimator or DEFAULT_READOUT[self.train_estimator]

    @property
    def selects(self) -> bool:
        """Whether a validation split selects the critic state (early stopping)."""
        return self.validation_fraction > 0

    def resolved(self, n_train: int) -> CriticConfig:
        """The config with every ``None`` setting fixed for a training split of ``n_train``.

        hidden (not for ``critic="auto"``, whose candidates are resolved one by one): a joint
        critic 32 wide (64 from 20,000 training pairs on; it is evaluated on all n^2 pairs, so
        width costs n^2); a separable or local one 256 from 20,000 pairs on, else 128 (64 below
        2,000): a smaller critic memorises a small sample more slowly. steps: with selection,
        200 epochs capped to [2,000, 20,000] steps (early stopping ends most runs long before);
        without, 2,000. eval_every: about two epochs, at least 25 steps.
        """
        per_epoch = max(1, n_train // self.batch_size)
        hidden = self.hidden
        if hidden is None and self.critic == "joint":
            hidden = 64 if n_train >= 20_000 else 32
        elif hidden is None and self.critic != "auto":
            hidden = 256 if n_train >= 20_000 else (128 if n_train >= 2_000 else 64)
        steps = self.steps
        if steps is None:
            steps = min(20_000, max(2_000, 200 * per_epoch)) if self.selects else 2_000
        every = self.eval_every if self.eval_every is not None else max(25, 2 * per_epoch)
        return replace(self, hidden=hidden, steps=steps, eval_every=every)


# ----------------------------------------------------------------------------------------------
# Splits and marginal transforms
# ----------------------------------------------------------------------------------------------
def split_sizes(
    n: int, validation_fraction: float, holdout_fraction: float
) -> tuple[int, int, int]:
    """The sizes (train, validation, held-out) :func:`split_indices` gives ``n`` samples.
    Each fraction must be in [0, 1) and their sum below 1 (samples must be left to train on)."""
    check_int("n", n, 0)
    for name, f in (
        ("validation_fraction", validation_fraction),
        ("holdout_fraction", holdout_fraction),
    ):
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must be a number in [0, 1), got {f!r}")
    if validation_fraction + holdout_fraction >= 1.0:
        raise ValueError(
            "validation_fraction + holdout_fraction must be < 1 (some samples must be left to "
            f"train on), got {validation_fraction} + {holdout_fraction}"
        )
    n_hold = int(round(holdout_fraction * n))
    n_val = int(round(validation_fraction * n))
    return n - n_hold - n_val, n_val, n_hold


def split_indices(
    n: int, cfg: CriticConfig, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Disjoint random (train, validation, held-out) index sets covering ``range(n)``; the
    validation set is empty when ``cfg.validation_fraction == 0``. Raises ``ValueError`` when a
    non-empty split cannot hold one batch of ``cfg.batch_size``."""
    n_train, n_val, n_hold = split_sizes(n, cfg.validation_fraction, cfg.holdout_fraction)
    sizes = {"training": n_train, "held-out": n_hold}
    if cfg.selects:
        sizes["validation"] = n_val
    small = {k: v for k, v in sizes.items() if v < cfg.batch_size}
    if small:
        raise ValueError(
            f"batch_size={cfg.batch_size} must fit in every split of the {n} samples, got "
            + ", ".join(f"{k} {v}" for k, v in sizes.items())
            + "; lower batch_size or change validation_fraction / holdout_fraction"
        )
    order = torch.randperm(n, generator=generator)
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


class MarginalTransform:
    """A strictly increasing map of every coordinate, fitted on one sample (see the module
    docstring): ``"rank"`` (empirical CDF, then the normal quantile), ``"standardize"``
    (affine) or ``"none"``. Input (n, ...) is flattened to (n, D) coordinates and the output
    has the input's shape; MI between two transformed variables equals MI between the raw ones.
    ``fit_on`` must be finite (a ``ValueError`` otherwise; a NaN would corrupt the fitted map of
    its coordinate) unless ``kind`` is ``"none"``, which fits nothing.
    """

    def __init__(self, kind: str, fit_on: Tensor) -> None:
        self.kind = check_choice("preprocess", kind, PREPROCESS)
        if kind != "none":
            check_finite("fit_on", fit_on)
        flat = fit_on.detach().flatten(1).double()
        if kind == "standardize":
            self.mean = flat.mean(0)
            sd = flat.std(0)
            self.scale = torch.where(sd > 0, sd, torch.ones_like(sd))
        elif kind == "rank":
            n = flat.shape[0]
            self.sorted = flat.T.contiguous().sort(-1).values  # (D, n)
            below = torch.searchsorted(self.sorted, self.sorted, right=False)
            upto = torch.searchsorted(self.sorted, self.sorted, right=True)
            mid = (below + upto).double() / 2.0  # mid-rank of each training value, in [0.5, n)
            normal = torch.distributions.Normal(0.0, 1.0)
            self.knots = normal.icdf(mid / n)  # (D, n), ties share one value
            q1, q3 = flat.quantile(0.25, 0), flat.quantile(0.75, 0)
            iqr = (q3 - q1) / 1.349
            sd = flat.std(0)
            scale = torch.where(iqr > 0, iqr, torch.where(sd > 0, sd, torch.ones_like(sd)))
            self.tail = scale  # x-units per log-unit beyond the training range

    def __call__(self, x: Tensor) -> Tensor:
        if self.kind == "none":
            return x
        flat = x.flatten(1)
        dtype = x.dtype
        v = flat.double()
        if self.kind == "standardize":
            out = (v - self.mean.to(v.device)) / self.scale.to(v.device)
            return out.to(dtype).reshape(x.shape)
        s, k, tail = (t.to(v.device) for t in (self.sorted, self.knots, self.tail))
        n = s.shape[1]
        vt = v.T.contiguous()  # (D, m)
        lo = torch.searchsorted(s, vt, right=True) - 1  # last training value <= v
        hi = torch.searchsorted(s, vt, right=False)  # first training value >= v
        lo_c, hi_c = lo.clamp(0, n - 1), hi.clamp(0, n - 1)
        s_lo, s_hi = s.gather(1, lo_c), s.gather(1, hi_c)
        k_lo, k_hi = k.gather(1, lo_c), k.gather(1, hi_c)
        gap = s_hi - s_lo
        t = torch.where(gap > 0, (vt - s_lo) / torch.where(gap > 0, gap, 1.0), 0.0)
        inside = k_lo + t * (k_hi - k_lo)
        t_ = tail[:, None]
        below = k[:, :1] - torch.log1p((s[:, :1] - vt).clamp_min(0) / t_)
        above = k[:, -1:] + torch.log1p((vt - s[:, -1:]).clamp_min(0) / t_)
        out = torch.where(lo < 0, below, torch.where(hi >= n, above, inside))
        return out.T.to(dtype).reshape(x.shape)


# ----------------------------------------------------------------------------------------------
# The critic factory
# ----------------------------------------------------------------------------------------------
def make_critic(cfg: CriticConfig, x_example: Tensor, y_example: Tensor, seed: int) -> nn.Module:
    """A new critic of ``cfg.critic`` for pairs shaped like ``x_example`` and ``y_example``
    (each (n, ...), n >= 1), initialised from ``seed`` without touching the global RNG.
    ``cfg.hidden`` must be resolved (see :meth:`CriticConfig.resolved`), and ``cfg.critic``
    one of :data:`CRITICS`: ``"auto"`` is resolved by the caller, which fits one critic of each
    of :data:`AUTO_CRITICS` (as :func:`robustrep_lite.mi.estimate.estimate_mi` does).
    ``seed`` must be an integer >= 0 (not a bool or a float), else a ``ValueError``."""
    check_seed("seed", seed)
    if cfg.critic == "auto":
        raise ValueError(
            f"cfg.critic='auto' must be resolved first: make one critic per family of "
            f"{AUTO_CRITICS!r} (replace(cfg, critic=kind)); make_critic takes critic in "
            f"{CRITICS!r}"
        )
    check_choice("critic", cfg.critic, CRITICS)
    if cfg.hidden is None:
        raise ValueError("cfg.hidden must be set; call cfg.resolved(n_train) first")
    x_dim, y_dim = x_example[0].numel(), y_example[0].numel()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if cfg.critic == "separable":
            return SeparableCritic(x_dim, y_dim, cfg.hidden, cfg.layers, cfg.embed_dim)
        if cfg.critic == "joint":
            return JointCritic(x_dim, y_dim, cfg.hidden, cfg.layers)
        if cfg.critic == "local":
            channels = 1 if x_example.ndim == 3 else x_example.shape[1]
            return LocalDIMCritic(channels, y_dim, units=cfg.hidden, norm=cfg.norm)
    raise AssertionError(f"unhandled critic {cfg.critic!r}")  # check_choice covers CRITICS


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_critic` did (values in nats).

    train_curve: read-out on each training batch, (steps run,). eval_steps / val_curve /
    eval_train_curve: at each evaluation, the step count, the validation read-out and the
    read-out of an equally large fixed subset of the training split (empty without selection);
    the state is selected on the validation split's ``cfg.selection()`` bound.
    heldout_curve: the held-out read-out at each evaluation (only with ``trace_heldout``).
    best_step / best_value: steps taken by the state that was kept, and its validation read-out
    (``-inf`` without selection). heldout_values: read-out of that state per held-out batch.
    diverged / diverged_at / reason: as :class:`~robustrep_lite.mi.estimate.MIEstimate`.
    With ``units > 1`` (several critics fitted at once) every curve and value gains a trailing
    axis of size ``units``, and best_step / best_value are arrays (units,): each critic keeps
    its own best state.
    """

    train_curve: np.ndarray
    eval_steps: np.ndarray
    val_curve: np.ndarray
    eval_train_curve: np.ndarray
    heldout_curve: np.ndarray
    best_step: int | np.ndarray
    best_value: float | np.ndarray
    heldout_values: np.ndarray
    diverged: bool
    diverged_at: int | None
    reason: str
    critic: nn.Module = field(repr=False, compare=False)


ScoreFn = Callable[[nn.Module, Tensor], "Tensor | ScoreParts"]


def eval_batches(idx: Tensor, batch_size: int) -> list[Tensor]:
    """The read-out batches of a split, in order: full batches of ``batch_size`` (a remainder
    smaller than a batch is left out), or, when the split holds fewer than two full batches,
    two halves of it, so that every read-out has a standard error over at least two batches
    (a split of fewer than 4 pairs is one batch). An empty split gives no batches."""
    check_int("batch_size", batch_size, 1)
    n = idx.shape[0]
    if n == 0:
        return []
    if n < 4:  # halves would hold single pairs, which no bound can read
        return [idx]
    if n >= 2 * batch_size:
        return [idx[s : s + batch_size] for s in range(0, n - batch_size + 1, batch_size)]
    return list(torch.tensor_split(idx, 2))


def unit_values(scores: Tensor | ScoreParts, bound: str, clip: float | None, units: int) -> Tensor:
    """The ``bound`` read out of one batch's scores, shape (units,): one value of an (n, n)
    score matrix (``units = 1``), or one per critic of stacked (units, n, n) matrices."""
    if units == 1:
        return readout(bound, scores, clip=clip).reshape(1)
    return vmap(lambda s: readout(bound, s, clip=clip))(scores)


def _evaluate(
    critic: nn.Module,
    scores: ScoreFn,
    idx: Tensor,
    cfg: CriticConfig,
    bounds: tuple[str, ...] | None = None,
    units: int = 1,
) -> np.ndarray:
    """Each of ``bounds`` (default: the read-out alone) per full batch of ``idx`` (in order),
    from one pass of the critic in eval mode with no gradient; shape
    (batches, len(bounds), units). The values stay on the critic's device until all batches
    are read, then come to the host at once."""
    bounds = bounds or (cfg.readout(),)
    batches = eval_batches(idx, cfg.batch_size)
    if not batches:
        return np.empty((0, len(bounds), units))
    values = []
    critic.eval()
    with torch.no_grad():
        for batch in batches:
            s = scores(critic, batch)
            values.append(torch.stack([unit_values(s, b, cfg.clip, units) for b in bounds]))
    return torch.stack(values).cpu().numpy().astype(float)


def _first_divergence(
    first_step: int, losses: np.ndarray, values: np.ndarray, max_estimate: float
) -> tuple[int, str] | None:
    """The first step of a block of training steps (``first_step`` onwards; losses (k,),
    read-outs (k, units)) whose loss or read-out is non-finite or whose read-out exceeds
    ``max_estimate`` in size, with the reason; ``None`` when every step is sound."""
    finite = np.isfinite(losses) & np.isfinite(values).all(1)
    exploding = (np.abs(values) > max_estimate).any(1)
    bad = np.flatnonzero(~finite | exploding)
    if bad.size == 0:
        return None
    k = int(bad[0])
    step = first_step + k
    if not finite[k]:
        return step, f"non-finite loss or estimate at step {step}"
    return step, f"|estimate| {float(np.abs(values[k]).max()):.3g} > max_estimate at step {step}"


def _detach(s: Tensor | ScoreParts) -> Tensor | ScoreParts:
    if isinstance(s, Tensor):
        return s.detach()
    return ScoreParts(s.joint.detach(), s.marginal.detach(), s.count, None)


def _check_units(critic: nn.Module, units: int) -> None:
    """Several critics are selected one by one, so each state tensor must stack them."""
    check_int("units", units, 1)
    if units == 1:
        return
    bad = [k for k, v in critic.state_dict().items() if v.ndim == 0 or v.shape[0] != units]
    if bad:
        raise ValueError(
            f"with units={units} every parameter and buffer of the critic must stack the "
            f"{units} critics on its first axis; these do not: {', '.join(bad)}"
        )


def fit_critic(
    critic: nn.Module,
    scores: ScoreFn,
    splits: tuple[Tensor, Tensor, Tensor],
    cfg: CriticConfig,
    generator: torch.Generator,
    *,
    units: int = 1,
    progress: bool = False,
    desc: str = "MI",
    trace_heldout: bool = False,
) -> FitResult:
    """Train ``critic`` (in place) with ``cfg.train_estimator`` on batches of the training split,
    select its state on the validation split and read the kept state out on the held-out split.

    scores(critic, idx) -> score matrix (or :class:`ScoreParts`) of the pairs with indices idx.
    It may transform the pairs first: the worst-case estimator (Section 4, eq. 4.3) attacks
    them against the frozen critic there, so the same loop serves the ordinary and the
    alternating fit. splits: (train, validation, held-out) indices, disjoint
    (:func:`split_indices`); the held-out indices are used only after training and selection
    have ended. cfg: resolved (:meth:`CriticConfig.resolved`). generator: draws the training
    batches. units: number of critics fitted at once, ``scores`` then returning stacked
    (units, n, n) matrices; each critic is read out and selected on its own values (every
    state tensor of ``critic`` must stack the critics on its first axis), and the run stops
    when no critic has improved for ``cfg.patience`` evaluations.
    trace_heldout: a diagnostic for teaching: also read the held-out split at every
    evaluation (``FitResult.heldout_curve``). It is never used for selection or stopping, but
    a value chosen by looking at that curve would no longer be honest.
    Divergence never raises: the result says where and why and carries no held-out values.
    The per-step loss and read-out stay on the critic's device and are checked (and recorded)
    once per evaluation interval, so the loop waits for the device only there; a divergence is
    found at the end of its interval and reported at the step where it happened (the steps
    after it are dropped from the curve; any state selected before it is the one kept).
    """
    train_idx, val_idx, hold_idx = splits
    if cfg.steps is None or cfg.eval_every is None:
        raise ValueError("cfg must be resolved (cfg.resolved(n_train)) before fitting")
    _check_units(critic, units)
    selects = cfg.selects and val_idx.numel() >= cfg.batch_size
    if cfg.weight_decay > 0:
        opt = torch.optim.AdamW(critic.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(critic.parameters(), lr=cfg.lr)
    # the training subset evaluated beside the validation split: same size, fixed
    train_probe = train_idx[: val_idx.numel()] if selects else train_idx[:0]
    ema: Tensor | None = None
    curve: list[np.ndarray] = []
    pending_losses: list[Tensor] = []  # this interval's steps, on the device
    pending_values: list[Tensor] = []
    eval_steps: list[int] = []
    val_curve: list[np.ndarray] = []
    eval_train: list[np.ndarray] = []
    held_trace: list[np.ndarray] = []
    best_value = np.full(units, -math.inf)
    best_step = np.zeros(units, dtype=int)
    best_state: dict[str, Tensor] | None = None
    waited = 0
    n_train = train_idx.shape[0]
    reason, diverged_at = "", None
    bar = tqdm(range(cfg.steps), disable=not progress, desc=desc, leave=False)
    averaged = copy.deepcopy(critic) if cfg.weight_average > 0 else None
    judged = averaged if averaged is not None else critic
    critic.train()
    for step in bar:
        idx = train_idx[torch.randperm(n_train, generator=generator)[: cfg.batch_size]]
        s = scores(critic, idx)
        loss, ema = training_objective(
            cfg.train_estimator, s, clip=cfg.clip, ema=ema, ema_rate=cfg.ema_rate
        )
        loss = loss * units if units > 1 else loss  # the objective averages over critics
        with torch.no_grad():
            pending_values.append(unit_values(_detach(s), cfg.readout(), cfg.clip, units))
        pending_losses.append(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if averaged is not None:
            with torch.no_grad():
                for pa, pc in zip(averaged.parameters(), critic.parameters(), strict=True):
                    pa.lerp_(pc, 1.0 - cfg.weight_average)
                for ba, bc in zip(averaged.buffers(), critic.buffers(), strict=True):
                    ba.copy_(bc)
        done = step + 1
        if done % cfg.eval_every and done != cfg.steps:
            continue
        # the end of an evaluation interval: the interval's steps come to the host and are
        # checked before anything is evaluated
        first = done - len(pending_losses)
        losses = torch.stack(pending_losses).double().cpu().numpy()
        values = torch.stack(pending_values).cpu().numpy().astype(float)
        pending_losses.clear()
        pending_values.clear()
        found = _first_divergence(first, losses, values, cfg.max_estimate)
        if found is not None:
            diverged_at, reason = found
            curve.extend(values[: diverged_at - first + 1])
            break
        curve.extend(values)
        if progress:
            bar.set_postfix(mi=f"{float(values[-1].mean()):.3f}")
        if selects:
            bounds = (cfg.readout(), cfg.selection())
            val = _evaluate(judged, scores, val_idx, cfg, bounds, units).mean(0)
            eval_train.append(_evaluate(judged, scores, train_probe, cfg, units=units).mean(0)[0])
            if trace_heldout:
                held_trace.append(_evaluate(judged, scores, hold_idx, cfg, units=units).mean(0)[0])
            critic.train()
            v = val[1]  # the selection bound, per critic
            eval_steps.append(done)
            val_curve.append(val[0])
            improved = np.isfinite(v) & (v > best_value)
            if improved.any():
                best_value = np.where(improved, v, best_value)
                best_step = np.where(improved, done, best_step)
                waited = 0
                state = judged.state_dict()
                if best_state is None or units == 1:
                    best_state = copy.deepcopy(state)
                else:  # each critic keeps its own best state
                    for k, tensor in state.items():
                        best_state[k][torch.as_tensor(improved)] = tensor[torch.as_tensor(improved)]
            else:
                waited += 1
                if waited >= cfg.patience:
                    break
    bar.close()

    def result(held: np.ndarray, kept: np.ndarray) -> FitResult:
        critic.eval()

        def squeeze(a: list[np.ndarray] | np.ndarray) -> np.ndarray:
            arr = np.asarray(a, dtype=float).reshape(-1, units)
            return arr[:, 0] if units == 1 else arr

        return FitResult(
            train_curve=squeeze(curve),
            eval_steps=np.asarray(eval_steps, dtype=int),
            val_curve=squeeze(val_curve),
            eval_train_curve=squeeze(eval_train),
            heldout_curve=squeeze(held_trace),
            best_step=int(kept[0]) if units == 1 else kept,
            best_value=float(best_value[0]) if units == 1 else best_value,
            heldout_values=squeeze(held),
            diverged=diverged_at is not None,
            diverged_at=diverged_at,
            reason=reason,
            critic=critic,
        )

    if diverged_at is not None and not (selects and best_state is not None):
        return result(np.empty((0, units)), np.zeros(units, dtype=int))
    if diverged_at is not None:  # a validated state exists: training ends, the state stands
        reason = f"training stopped: {reason}; the state kept was selected before it"
        diverged_at = None
    kept = np.full(units, len(curve))
    if averaged is not None and not (selects and best_state is not None):
        critic.load_state_dict(averaged.state_dict())
    if selects and best_state is not None:
        critic.load_state_dict(best_state)
        kept = best_step
    held = _evaluate(critic, scores, hold_idx, cfg, units=units)[:, 0]
    if not np.all(np.isfinite(held)) or np.any(np.abs(held) > cfg.max_estimate):
        diverged_at, reason = -1, "non-finite or exploding held-out estimate"
    return result(held, kept)
