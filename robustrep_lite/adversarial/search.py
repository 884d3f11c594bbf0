"""The worst-case search of Section 4 (Zhu, Zhang & Evans 2020): the search set
``A(S, eps) = {(1/m) sum_i delta_{x_i'} : x_i' in B(x_i, eps)}`` of eq. (4.2) and the PGD step
of eq. (4.3) that lowers a frozen critic's MI estimate over it.

- :class:`AttackConfig`: the set (radius, norm, input box) and how PGD searches it (steps,
  step size, random start, per-point or universal perturbation, the bound it lowers).
- :class:`ScoreTask`: a representation g and how a critic scores a batch, ``T(x_i, g(x_j))``.
- :func:`attack_batch`: one batch moved inside its balls to lower the critic's estimate.
- :func:`attacked_scores`: the scores a critic-fitting loop
  (:func:`~robustrep_lite.mi.fit.fit_critic`) trains and reads on, each batch attacked first:
  with it the one fitting loop runs the alternating algorithm of eq. (4.3).
- :func:`frozen`: eval mode and no parameter gradients for the networks PGD differentiates.

Used by the worst-case estimators (:mod:`~robustrep_lite.adversarial.vulnerability`,
:mod:`~robustrep_lite.adversarial.per_feature`) and by encoder training (objective 5.2).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from robustrep_lite.adversarial.attacks import PGDConfig, check_box, check_norm, pgd
from robustrep_lite.core.validation import check_choice, check_finite, check_int, check_nonnegative
from robustrep_lite.mi import READOUT_ESTIMATORS
from robustrep_lite.mi.fit import ScoreFn, unit_values

__all__ = [
    "SEARCHES",
    "AttackConfig",
    "Representation",
    "ScoreTask",
    "UniversalPerturbation",
    "attack_batch",
    "attacked_scores",
    "check_points",
    "check_representation",
    "frozen",
]

#: A representation: a function from a batch of inputs to a batch of features.
Representation = Callable[[Tensor], Tensor]

#: How A(S, eps) is searched: per-point PGD (the paper's), one perturbation shared by every
#: point (a universal perturbation), or per-point PGD started from the universal one.
SEARCHES = ("pointwise", "universal", "both")


@dataclass(frozen=True)
class AttackConfig:
    """The search set A(S, eps) of eq. (4.2) and how PGD searches it (eq. 4.3).

    eps: radius of each point's ``norm`` ball (``"inf"`` or ``"2"``), intersected with
    ``box`` (``None`` for unbounded inputs). pgd_steps of step_size, from a random point of the
    ball if ``random_start``, keeping each batch's best iterate. search: one of
    :data:`SEARCHES`. estimator: the bound PGD lowers (``None``: the critic's read-out bound).
    search_steps: mini-batches of the alternating phase of eq. (4.3), each PGD on the batch
    against the frozen critic and then one critic step (``None``: the critic's step budget, as
    in the paper's code). Defaults are the paper's code: l_inf, 7 steps of 0.01, no random
    start, images in [0, 1].
    """

    eps: float
    norm: str = "inf"
    pgd_steps: int = 7
    step_size: float = 0.01
    random_start: bool = False
    box: tuple[float, float] | None = (0.0, 1.0)
    search: str = "pointwise"
    estimator: str | None = None
    search_steps: int | None = None

    def __post_init__(self) -> None:
        check_nonnegative("eps", self.eps, scalar=True)
        object.__setattr__(self, "eps", float(self.eps))
        object.__setattr__(self, "norm", check_norm(self.norm))
        check_int("pgd_steps", self.pgd_steps, 0)
        check_nonnegative("step_size", self.step_size, scalar=True)
        object.__setattr__(self, "step_size", float(self.step_size))
        if self.random_start not in (True, False):  # a string such as "no" would read as True
            raise ValueError(f"random_start must be True or False, got {self.random_start!r}")
        object.__setattr__(self, "random_start", bool(self.random_start))
        object.__setattr__(self, "box", check_box(self.box))
        check_choice("search", self.search, SEARCHES)
        if self.estimator is not None:
            check_choice("attack_estimator", self.estimator, READOUT_ESTIMATORS)
        if self.search_steps is not None:
            check_int("search_steps", self.search_steps, 1)

    @property
    def attacks(self) -> bool:
        """Whether the search set ``A(S, eps)`` is more than ``S`` itself."""
        return self.eps > 0 and self.pgd_steps > 0

    @property
    def pgd_config(self) -> PGDConfig:
        """The set and the steps of each point's PGD, for
        :func:`~robustrep_lite.adversarial.attacks.pgd`."""
        return PGDConfig(
            eps=self.eps,
            step_size=self.step_size,
            steps=self.pgd_steps,
            norm=self.norm,
            random_start=self.random_start,
            box=self.box,
        )

    def lowering(self, readout: str) -> AttackConfig:
        """This attack with its bound fixed: ``estimator``, or the critic's ``readout``."""
        return replace(self, estimator=self.estimator or readout)


@contextlib.contextmanager
def frozen(*modules: object) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` for every ``nn.Module`` given; restored on exit."""
    saved = []
    for m in modules:
        if isinstance(m, nn.Module):
            saved.append((m, m.training, [p.requires_grad for p in m.parameters()]))
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
    try:
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)


def check_points(
    x: Tensor | np.ndarray, box: tuple[float, float] | None = None, attacks: bool = False
) -> Tensor:
    """x as a floating tensor, checked: a batch, finite, and (when points will be attacked and
    clipped to ``box``) inside the box, since clipping points that start outside it would move
    them far outside their eps-ball and report a vulnerability of the clipping."""
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim < 2:
        raise ValueError(f"x must be a batch of shape (N, ...), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    check_finite("x", t)
    if box is not None and attacks:
        low, high = float(t.min()), float(t.max())
        if low < box[0] or high > box[1]:
            raise ValueError(
                f"x must lie in box={box} (its values span [{low:.4g}, {high:.4g}]): rescale "
                "the inputs to the box, or pass box=None for unbounded inputs"
            )
    return t.detach()


def check_representation(representation: Representation, probe: Tensor, attacks: bool) -> None:
    """Warn if ``representation`` ignores its input on ``probe`` (identical outputs for every
    row), or, when there is an attack, if PGD gets no gradient through it (the gradient of a
    fixed random linear read-out of g w.r.t. x is identically zero or missing)."""
    gen = torch.Generator().manual_seed(0)
    xp = probe.detach().clone().requires_grad_(attacks)
    with torch.enable_grad() if attacks else torch.no_grad():
        z = representation(xp)
        if not isinstance(z, Tensor) or z.shape[0] != probe.shape[0]:
            raise ValueError(
                "representation must map a batch (N, ...) to a tensor with N rows, got "
                f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}"
            )
        flat = z.flatten(1).float()
        if bool((flat == flat[:1]).all()):
            warnings.warn(
                "the representation gives the same output for every input of the probe batch: "
                "I(X; g(X)) = 0 and its vulnerability is 0; the estimates only measure "
                "estimator noise",
                UserWarning,
                stacklevel=3,
            )
            return
        if not attacks:
            return
        r = torch.randn(flat.shape[1], generator=gen).to(flat)
        grad = None
        if flat.requires_grad:
            (grad,) = torch.autograd.grad((flat @ r).sum(), xp, allow_unused=True)
    if grad is None or not bool((grad != 0).any()):
        warnings.warn(
            "the gradient of the representation with respect to its input is zero on the probe "
            "batch (e.g. a hard sign, argmax or rounding): PGD cannot move any point, so the "
            "worst-case estimate will sit at the normal one and the vulnerability will read ~0. "
            "Use a differentiable surrogate such as straight_through_sign.",
            UserWarning,
            stacklevel=3,
        )


class ScoreTask:
    """One representation g and a critic T(x, z): the scores of a batch are
    ``T(x_i, g(x_j))``. Subclasses change how points are expanded for their adversaries or
    scored (several features at once, mixed precision)."""

    units = 1

    def __init__(self, representation: Representation) -> None:
        self.representation = representation

    def expand(self, xb: Tensor) -> Tensor:
        """The points PGD perturbs for a batch xb: xb itself."""
        return xb

    def scores(self, critic: nn.Module, xa: Tensor) -> Tensor:
        """The critic's (n, n) score matrix of the batch xa."""
        return critic(xa, self.representations(xa))

    def representations(self, xa: Tensor) -> Tensor:
        """g(xa); with no graph unless xa requires a gradient (under attack)."""
        with torch.set_grad_enabled(xa.requires_grad):
            return self.representation(xa)

    def values(self, scores: Tensor, estimator: str, clip: float | None) -> Tensor:
        """The ``estimator`` bound of the scores, one value per unit, shape (units,)."""
        return unit_values(scores, estimator, clip, self.units)


class UniversalPerturbation:
    """The shared perturbation of the ``"universal"`` search, kept for a whole run."""

    def __init__(self) -> None:
        self.delta: Tensor | None = None


def _batch_value(task: ScoreTask, critic: nn.Module, xa: Tensor, attack: AttackConfig, clip):
    return task.values(task.scores(critic, xa), attack.estimator, clip)[0]


def _universal_attack(
    task: ScoreTask,
    critic: nn.Module,
    xe: Tensor,
    attack: AttackConfig,
    clip: float | None,
    state: UniversalPerturbation,
    update: bool,
) -> Tensor:
    """x + delta, clipped to the box, for the perturbation delta shared by every point (a
    universal perturbation, Moosavi-Dezfooli et al. 2017). With ``update``, PGD first continues
    the search for delta on this batch from where the previous batch left it. x + delta lies in
    each point's ball, so the result is in A(S, eps) (eq. 4.2)."""
    centre = torch.zeros_like(xe[:1])

    def clipped(d: Tensor) -> Tensor:
        xa = xe + d
        return xa if attack.box is None else xa.clamp(*attack.box)

    if update or state.delta is None:
        state.delta = pgd(
            lambda d: -_batch_value(task, critic, clipped(d), attack, clip),
            centre,
            replace(attack.pgd_config, box=None),
            keep_best=True,
            init=state.delta if state.delta is not None else centre,
            check_inputs=False,
        )
    return clipped(state.delta).detach()


def attack_batch(
    task: ScoreTask,
    critic: nn.Module,
    xb: Tensor,
    attack: AttackConfig,
    clip: float | None,
    generator: torch.Generator | None,
    universal: UniversalPerturbation | None = None,
    update: bool = True,
) -> Tensor:
    """Lower the frozen critic's ``attack.estimator`` estimate over each point's eps-ball
    (eq. 4.3, step 1): per-point PGD (``search="pointwise"``, the paper's), the universal
    perturbation continued from the previous batch (``"universal"``; ``update=False`` applies
    it without searching further), or per-point PGD started from the universal perturbation
    (``"both"``; the best iterate includes that start, so it lowers the estimate at least as
    much as the universal step alone). ``attack.estimator`` must be set
    (:meth:`AttackConfig.lowering`); the critic must be frozen (:func:`frozen`). Returns the
    attacked points, ``task.expand(xb)``-shaped."""
    if attack.estimator is None:
        raise ValueError("attack.estimator must be set: use attack.lowering(readout_bound)")
    xe = task.expand(xb)
    per_unit = xe.shape[0] // task.units

    def objective(xa: Tensor) -> Tensor:
        v = task.values(task.scores(critic, xa), attack.estimator, clip)
        # one scalar (best iterate per batch) for one representation; per point otherwise, each
        # point carrying its own feature's value (best iterate per feature)
        return -v[0] if task.units == 1 else -v.repeat_interleave(per_unit)

    init = None
    if attack.search != "pointwise" and universal is not None:
        x_u = _universal_attack(task, critic, xe, attack, clip, universal, update)
        if attack.search == "universal":
            return x_u
        init = x_u - xe
    return pgd(
        objective,
        xe,
        attack.pgd_config,
        keep_best=True,
        generator=generator,
        init=init,
        check_inputs=False,
    )


def attacked_scores(
    task: ScoreTask,
    x: Tensor,
    attack: AttackConfig,
    clip: float | None,
    generator: torch.Generator | None,
    universal: UniversalPerturbation | None = None,
    record: tuple[Tensor, list[tuple[Tensor, Tensor]]] | None = None,
) -> ScoreFn:
    """The ``scores(critic, idx)`` of :func:`~robustrep_lite.mi.fit.fit_critic` for the
    alternating algorithm (eq. 4.3): the points ``x[idx]`` are first attacked against the
    critic, frozen for the attack (:func:`attack_batch`), then scored by it. With ``record =
    (indices, out)``, every attacked batch whose first index is in ``indices`` is appended to
    ``out`` as ``(idx, attacked points)`` (the held-out read-out's batches)."""
    marked = None if record is None else torch.zeros(x.shape[0], dtype=torch.bool)
    if record is not None:
        marked[record[0]] = True

    def scores(critic: nn.Module, idx: Tensor) -> Tensor:
        xb = x[idx.to(x.device)]
        if attack.attacks:
            with frozen(critic), torch.enable_grad():
                xb = attack_batch(task, critic, xb, attack, clip, generator, universal)
            if record is not None and bool(marked[idx[0]]):
                record[1].append((idx, xb))
        return task.scores(critic, xb)

    return scores
