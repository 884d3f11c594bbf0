"""The "staircase" ground-truth benchmark for MI estimators (B1: Poole et al. 2019; Song & Ermon
2020), as a library function so the book can run a short live version of what
``bench/mi_staircase.py`` runs at full length.

Data: ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) e`` with fresh samples every step, so
``I(X; Y) = -(d/2) log(1 - rho^2)`` nats; the true MI steps through ``levels`` (default 2, 4, 6,
8, 10 nats), ``steps_per_level`` Adam steps each. One critic is trained through all levels and
read out with every estimator that shares its training objective. The settings are one
:class:`StaircaseConfig` (its defaults: the full B1 protocol, :data:`B1_STAIRCASE`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from robustrep_lite.core.validation import check_choice, check_int, check_positive, check_seed
from robustrep_lite.mi import (
    JointCritic,
    SeparableCritic,
    readout,
    rho_for_mi,
    training_objective,
)

#: Named estimators: training objective, read-out bound and SMILE clip (None = no clip).
NAMED_ESTIMATORS: dict[str, tuple[str, str, float | None]] = {
    "dv": ("dv", "dv", None),
    "mine": ("mine", "dv", None),
    "nwj": ("nwj", "nwj", None),
    "infonce": ("infonce", "infonce", None),
    "js_nwj": ("jsd", "nwj_js", None),
    "smile_1": ("jsd", "smile", 1.0),
    "smile_5": ("jsd", "smile", 5.0),
    "smile_inf": ("jsd", "smile", None),
}
#: The true MI (nats) of the staircase's steps.
LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
#: The staircase critics (:func:`staircase_critic`).
CRITICS = ("separable", "joint")


@dataclass(frozen=True)
class StaircaseConfig:
    """How :func:`run_staircase` runs the staircase; the defaults are the full B1 protocol
    (Poole et al. 2019; Song & Ermon 2020): a ``critic`` (one of
    :data:`CRITICS`, :func:`staircase_critic`) on ``d``-dimensional correlated Gaussians, the
    true MI stepping through ``levels`` (nats), ``steps_per_level`` Adam steps at ``lr`` per
    level on fresh batches of ``batch_size`` pairs, MINE's moving average at ``ema_rate``, and
    ``heldout_batches`` fresh batches per level read out by the frozen critic after its steps.
    ``levels`` may be any sequence of numbers; it is stored as a tuple of floats. A bad value
    raises ``ValueError`` naming the setting and the values it accepts."""

    critic: str = "separable"
    d: int = 20
    levels: tuple[float, ...] = LEVELS
    steps_per_level: int = 4000
    batch_size: int = 64
    lr: float = 5e-4
    ema_rate: float = 0.01
    heldout_batches: int = 100

    def __post_init__(self) -> None:
        check_choice("critic", self.critic, CRITICS)
        check_int("d", self.d, 1)
        try:  # any sequence of numbers, kept as a tuple of floats (the config stays hashable)
            levels = () if isinstance(self.levels, str) else tuple(map(float, self.levels))
        except (TypeError, ValueError):
            levels = ()
        if not levels or not all(math.isfinite(mi) and mi >= 0 for mi in levels):
            raise ValueError(
                "levels must be a non-empty sequence of finite MI values >= 0 (nats), got "
                f"{self.levels!r}"
            )
        for mi in levels:  # each level must be an MI the float Gaussians can carry
            try:
                rho_for_mi(mi, self.d)
            except ValueError as error:
                raise ValueError(f"levels: {error}") from None
        object.__setattr__(self, "levels", levels)
        check_int("steps_per_level", self.steps_per_level, 1)
        check_int("batch_size", self.batch_size, 2)  # the bounds need off-diagonal pairs
        check_positive("lr", self.lr)
        if not (check_positive("ema_rate", self.ema_rate) <= 1.0):
            raise ValueError(f"ema_rate must be in (0, 1], got {self.ema_rate!r}")
        check_int("heldout_batches", self.heldout_batches, 1)

    @property
    def steps(self) -> int:
        """Training steps through all levels."""
        return self.steps_per_level * len(self.levels)


#: The full B1 protocol (:class:`StaircaseConfig`'s defaults).
B1_STAIRCASE = StaircaseConfig()


def staircase_critic(kind: str, d: int) -> torch.nn.Module:
    """The B1 critics: separable ``d -> 256 -> 256 -> 256 -> 32`` on each side, or joint
    ``2d -> 256 -> 256 -> 256 -> 1`` on all pairs."""
    check_choice("critic", kind, CRITICS)
    if kind == "separable":
        return SeparableCritic(d, d, hidden=256, layers=3, embed_dim=32)
    return JointCritic(d, d, hidden=256, layers=3)


def _check_config(config: StaircaseConfig) -> None:
    if not isinstance(config, StaircaseConfig):
        raise ValueError(f"config must be a StaircaseConfig, got {type(config).__name__}")


def run_staircase(
    names: Sequence[str],
    config: StaircaseConfig = B1_STAIRCASE,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Train one critic through the staircase ``config`` describes with the objective shared by
    ``names`` (all must train the same way, e.g. ``["js_nwj", "smile_5"]``) and read out each
    estimator every step.

    Returns ``{"curves": {name: (steps,) array}, "held": {name: list per held-out batch},
    "wall_s": seconds, "stopped_at": step or None}``; a non-finite loss stops training (the
    remaining steps stay NaN) instead of filling the critic with NaNs.
    """
    _check_config(config)
    check_seed("seed", seed)
    if isinstance(names, str) or not names:
        raise ValueError(
            f"names must be a non-empty sequence of estimator names from "
            f"{tuple(NAMED_ESTIMATORS)!r} (e.g. ['js_nwj', 'smile_5']), got {names!r}"
        )
    for name in names:
        check_choice("names", name, tuple(NAMED_ESTIMATORS))
    trainers = {NAMED_ESTIMATORS[name][0] for name in names}
    if len(trainers) != 1:
        raise ValueError(f"names must share one training objective, got {sorted(trainers)}")
    (trainer,) = trainers
    d, batch_size, steps_per_level = config.d, config.batch_size, config.steps_per_level
    torch.manual_seed(seed)
    net = staircase_critic(config.critic, d)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    data = torch.Generator().manual_seed(seed)
    held_gen = torch.Generator().manual_seed(10_000 + seed)

    def sample(gen: torch.Generator, rho: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(batch_size, d, generator=gen)
        return x, rho * x + math.sqrt(1.0 - rho * rho) * torch.randn(batch_size, d, generator=gen)

    curves = {name: np.full(config.steps, np.nan) for name in names}
    held: dict[str, list[float]] = {name: [] for name in names}
    ema = None
    stopped_at = None
    start = time.perf_counter()
    for level_index, mi in enumerate(config.levels):
        rho = rho_for_mi(mi, d)
        net.train()
        for offset in range(steps_per_level if stopped_at is None else 0):
            step = level_index * steps_per_level + offset
            scores = net(*sample(data, rho))
            loss, ema = training_objective(trainer, scores, ema=ema, ema_rate=config.ema_rate)
            with torch.no_grad():
                for name in names:
                    _, bound, clip = NAMED_ESTIMATORS[name]
                    curves[name][step] = float(readout(bound, scores.detach(), clip))
            if not math.isfinite(float(loss.detach())):
                stopped_at = step
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            for _ in range(config.heldout_batches):
                scores = net(*sample(held_gen, rho)) if stopped_at is None else None
                for name in names:
                    _, bound, clip = NAMED_ESTIMATORS[name]
                    value = float(readout(bound, scores, clip)) if scores is not None else math.nan
                    held[name].append(value)
    return {
        "curves": curves,
        "held": held,
        "wall_s": time.perf_counter() - start,
        "stopped_at": stopped_at,
    }


def summarise_levels(
    curve: np.ndarray,
    held: Sequence[float],
    levels: Sequence[float],
    steps_per_level: int,
    heldout_batches: int,
    last: int = 500,
) -> list[dict[str, float]]:
    """Per level: mean, signed bias and variance of the last ``last`` per-step estimates, the
    held-out mean, the count of non-finite steps and the largest ``|estimate|``. ``last``,
    ``steps_per_level`` and ``heldout_batches`` are integers >= 1 (``last`` is capped at
    ``steps_per_level``); ``curve`` must hold ``steps_per_level`` and ``held``
    ``heldout_batches`` values per level (a shorter one would average an empty slice into NaN)."""
    check_int("last", last, 1)
    check_int("steps_per_level", steps_per_level, 1)
    check_int("heldout_batches", heldout_batches, 1)
    for name, values, per_level in (
        ("curve", curve, steps_per_level),
        ("held", held, heldout_batches),
    ):
        if len(values) != len(levels) * per_level:
            raise ValueError(
                f"{name} must hold {per_level} values for each of the {len(levels)} levels "
                f"({len(levels) * per_level}), got {len(values)}"
            )
    out = []
    last = min(last, steps_per_level)
    for i, mi in enumerate(levels):
        level = curve[i * steps_per_level : (i + 1) * steps_per_level]
        tail = level[-last:]
        h = np.asarray(held[i * heldout_batches : (i + 1) * heldout_batches])
        out.append(
            {
                "mi": mi,
                "mean": float(np.mean(tail)),
                "bias": float(np.mean(tail) - mi),
                "var": float(np.var(tail)),
                "heldout": float(np.mean(h)),
                "nonfinite_steps": int((~np.isfinite(level)).sum()),
                "max_abs": float(np.nanmax(np.abs(level)))
                if np.isfinite(level).any()
                else math.nan,
            }
        )
    return out


def staircase_groups(
    groups: Sequence[Sequence[str]],
    config: StaircaseConfig,
    *,
    last: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """A staircase per group of estimators (each group shares one critic, see
    :func:`run_staircase`; all runs as ``config`` says), each summarised by
    :func:`summarise_levels` over its ``last`` steps per level (default a quarter of a level,
    at least 1).

    Returns ``{"levels": {name: rows of summarise_levels}, "wall_s": {name: seconds of its
    group's run}, "steps": steps per run, "last": steps averaged per level}``.
    """
    if isinstance(groups, str) or not groups or any(isinstance(n, str) or not n for n in groups):
        raise ValueError(
            "groups must hold at least one non-empty group of estimator names, e.g. "
            f"[['js_nwj', 'smile_5'], ['nwj']], got {groups!r}"
        )
    _check_config(config)
    check_seed("seed", seed)
    names = [name for group in groups for name in group]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"groups must name each estimator once, got {repeated} more than once")
    last = max(config.steps_per_level // 4, 1) if last is None else last
    summaries: dict[str, list[dict[str, float]]] = {}
    walls: dict[str, float] = {}
    for names in groups:
        run = run_staircase(names, config, seed=seed)
        for name in names:
            summaries[name] = summarise_levels(
                run["curves"][name],
                run["held"][name],
                config.levels,
                config.steps_per_level,
                config.heldout_batches,
                last=last,
            )
            walls[name] = run["wall_s"]
    return {
        "levels": summaries,
        "wall_s": walls,
        "steps": config.steps,
        "last": last,
    }


def optimal_gaussian_scores(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """The optimal critic of the staircase data, ``T*(x, y) = log p(y | x) / p(y)``, on all pairs.

    For ``y = rho x + sqrt(1 - rho^2) e`` componentwise, ``T*(x_i, y_j) = -||y_j - rho x_i||^2
    / (2 (1 - rho^2)) + ||y_j||^2 / 2 - (d/2) log(1 - rho^2)``; ``E_P[T*] = I(X; Y)``.
    x, y: (n, d). Returns the (n, n) score matrix (diagonal = joint pairs), nats.
    """
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both have shape (n, d), got {x.shape} and {y.shape}")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho!r}")
    d = x.shape[1]
    sq = torch.cdist(rho * x, y).pow(2)  # (n, n): ||y_j - rho x_i||^2
    return (
        -sq / (2 * (1 - rho**2)) + 0.5 * y.pow(2).sum(1)[None, :] - 0.5 * d * math.log(1 - rho**2)
    )
