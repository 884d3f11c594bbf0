"""Perturbation sets of the threat model: l_inf and l_2 balls of radius eps around each input,
intersected with the valid input box (Definition 2.3's B(x, eps) for Delta = an l_p norm).

:func:`pgd` runs projected gradient ascent (Madry et al., 2018) on any differentiable
objective over these sets (:class:`PGDConfig`: the set and the steps), built from the projection
onto the ball and a uniformly random starting point inside it. Everything is batched over the
leading dimension: no loop over samples.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from robustrep_lite.core.validation import check_choice, check_images, check_nonnegative

#: The norms :func:`pgd` attacks in: ``"inf"`` (l-infinity) and ``"2"`` (l2).
NORMS = ("inf", "2")


def check_box(
    box: tuple[float, float] | Sequence[float] | None, name: str = "box", *, optional: bool = True
) -> tuple[float, float] | None:
    """Return ``box`` as ``(float(low), float(high))``, or ``None`` (when ``optional``), if it
    is ``None`` or a pair (tuple or list) of finite real numbers with ``low < high``, else raise
    a ``ValueError`` naming ``name``: a bool (``True`` would read as 1), a string (``"01"``
    would be parsed digit by digit), a lone number, three values or another object is refused.
    The box is the valid input range that Definition 2.3's ball is intersected with."""
    if box is None and optional:
        return None
    if (
        not isinstance(box, (tuple, list))
        or len(box) != 2
        or not all(
            isinstance(b, numbers.Real)
            and not isinstance(b, (bool, np.bool_))
            and math.isfinite(float(b))
            for b in box
        )
        or float(box[0]) >= float(box[1])
    ):
        allowed = "None or finite" if optional else "finite"
        raise ValueError(f"{name} must be {allowed} (low, high) with low < high, got {box!r}")
    return float(box[0]), float(box[1])


def check_norm(norm: str | float) -> str:
    """Normalise ``norm`` (``"inf"``, ``inf``, ``"2"`` or ``2``) to ``"inf"`` or ``"2"``, else
    raise a ``ValueError`` naming ``norm`` (a list or another unhashable value too; a bool is
    not read as a number)."""
    if isinstance(norm, numbers.Real) and not isinstance(norm, (bool, np.bool_)):
        key = {math.inf: "inf", 2: "2"}.get(float(norm), norm)
    else:
        key = norm
    return check_choice("norm", key, NORMS)


def project_to_ball(delta: torch.Tensor, eps: float, norm: str | float) -> torch.Tensor:
    """Project each ``delta[i]`` onto the ``norm`` ball of radius ``eps`` (per sample): the
    ball ``B(x, eps)`` of Definition 2.3, centred at 0. ``eps`` is one finite number >= 0 for
    the whole batch (a 0-d tensor too); a list or a tensor of per-sample radii is refused with
    a ``ValueError``, since ``clamp`` would broadcast it along the last axis, not the samples."""
    check_nonnegative("eps", eps, scalar=True)
    norm = check_norm(norm)
    if norm == "inf":
        return delta.clamp(-eps, eps)
    flat = delta.flatten(1)
    scale = (eps / flat.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
    return (flat * scale[:, None]).view_as(delta)


def random_in_ball(
    like: torch.Tensor, eps: float, norm: str | float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One point drawn uniformly from the ``norm`` ball of radius ``eps`` per sample of ``like``
    (the random start of PGD inside Definition 2.3's ``B(x, eps)``). ``eps`` is one finite
    number >= 0 (a 0-d tensor too); a list or a tensor of per-sample radii is refused with a
    ``ValueError`` naming ``eps``."""
    check_nonnegative("eps", eps, scalar=True)
    norm = check_norm(norm)
    if norm == "inf":
        u = torch.rand(like.shape, generator=generator, dtype=like.dtype, device=like.device)
        return (2 * u - 1) * eps
    flat = like.flatten(1)
    direction = torch.randn(flat.shape, generator=generator, dtype=like.dtype, device=like.device)
    direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    u = torch.rand(flat.shape[0], generator=generator, dtype=like.dtype, device=like.device)
    radius = eps * u.pow(1.0 / flat.shape[1])
    return (direction * radius[:, None]).view_as(like)


def perturb_in_box(
    x: torch.Tensor, delta: torch.Tensor, low: float = 0.0, high: float = 1.0
) -> torch.Tensor:
    """``x + delta`` clipped to the valid input box ``[low, high]`` (clipping never leaves the
    ball: it only moves coordinates back toward ``x``); ``low`` and ``high`` are finite numbers
    with ``low < high`` (a NaN bound would give NaN inputs)."""
    for name, bound in (("low", low), ("high", high)):
        if (
            isinstance(bound, bool)
            or not isinstance(bound, (int, float))
            or not math.isfinite(bound)
        ):
            raise ValueError(f"{name} must be a finite number, got {bound!r}")
    if low >= high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    if x.shape != delta.shape:
        raise ValueError(f"x and delta must have the same shape, got {x.shape} and {delta.shape}")
    return (x + delta).clamp(low, high)


@dataclass(frozen=True)
class PGDConfig:
    """The perturbation set and the steps of :func:`pgd` (Madry et al., 2018, Section 2).

    eps: radius of each point's ``norm`` ball (``"inf"`` or ``"2"``, also given as ``inf`` or
    ``2``), intersected with ``box`` (``None`` for unbounded inputs). ``steps`` steps of
    ``step_size``, from a uniform point of the ball if ``random_start`` (else from the input).
    """

    eps: float
    step_size: float
    steps: int
    norm: str = "inf"
    random_start: bool = True
    box: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self) -> None:
        check_nonnegative("eps", self.eps, scalar=True)
        check_nonnegative("step_size", self.step_size, scalar=True)
        object.__setattr__(self, "norm", check_norm(self.norm))
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {self.steps!r}")
        object.__setattr__(self, "box", check_box(self.box))


def pgd(
    objective: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    config: PGDConfig,
    *,
    keep_best: bool = True,
    generator: torch.Generator | None = None,
    init: torch.Tensor | None = None,
    check_inputs: bool = True,
) -> torch.Tensor:
    """Projected gradient ascent on ``objective`` over the ``config.norm`` ball of radius
    ``config.eps`` around each input, intersected with ``config.box`` (Madry et al., 2018,
    Section 2; the per-point search set ``A(S, eps)`` of the paper's eq. (4.2)).

    ``objective(x_adv)`` is any differentiable function of the perturbed batch returning either
    per-sample values of shape ``(N,)`` (e.g. a per-sample cross-entropy) or one scalar for the
    whole batch (e.g. a mutual-information estimate, to be *minimised*: pass its negative).
    ``config.steps`` steps of ``config.step_size``: ``sign(grad)`` for l_inf and
    ``grad / ||grad||_2`` for l_2, each followed by projection onto the ball and clipping to
    the box. With ``keep_best`` the returned point is, per sample (or for the whole batch, for a
    scalar objective), the iterate with the highest objective seen, the starting point included;
    otherwise the last iterate. ``config.random_start`` begins at a uniform point of the ball
    (drawn from ``generator``); ``init`` (a perturbation shaped like ``x``, projected onto the
    ball and box) begins there instead, to continue an earlier search. Gradients flow only into
    the perturbation: the caller keeps models in eval mode and critics frozen. Returns a
    detached tensor like ``x``. ``check_inputs``: raise a ``ValueError`` for non-finite ``x`` or
    ``x`` outside the box (one reduction; loops that checked their data once pass False, to
    keep the step free of host-device syncs).
    """
    eps, norm, steps, box = config.eps, config.norm, config.steps, config.box
    if x.ndim < 2:
        raise ValueError(f"x must be a batch of shape (N, ...), got shape {tuple(x.shape)}")
    if check_inputs:  # training loops check their data once and pass False (no sync per step)
        check_images("x", x, box)
    x = x.detach()
    if init is not None:
        if init.shape != x.shape:
            raise ValueError(f"init must have the shape of x {tuple(x.shape)}, got {init.shape}")
        delta = project_to_ball(init.detach().to(x), eps, norm)
    elif config.random_start:
        delta = random_in_ball(x, eps, norm, generator)
    else:
        delta = torch.zeros_like(x)

    def clip(d: torch.Tensor) -> torch.Tensor:
        return d if box is None else perturb_in_box(x, d, *box) - x

    delta = clip(delta)
    best, best_value = delta.clone(), None
    for i in range(steps + 1):  # evaluate steps + 1 points: the start and each step
        delta.requires_grad_(True)
        value = objective(x + delta)
        if value.ndim not in (0, 1) or (value.ndim == 1 and value.shape[0] != x.shape[0]):
            raise ValueError(
                f"objective must return shape () or ({x.shape[0]},), got {tuple(value.shape)}"
            )
        # the last point needs no gradient: only its value counts
        (grad,) = torch.autograd.grad(value.sum(), delta) if i < steps else (None,)
        value = value.detach()
        delta = delta.detach()
        if keep_best:
            if best_value is None:
                best_value = value.clone()
            improved = value > best_value
            best_value = torch.where(improved, value, best_value)
            mask = improved.view(-1, *([1] * (x.ndim - 1))) if value.ndim == 1 else improved
            best = torch.where(mask, delta, best)
        if i == steps:
            break
        if norm == "inf":
            step = grad.sign()
        else:
            flat = grad.flatten(1)
            step = (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)).view_as(grad)
        delta = clip(project_to_ball(delta + config.step_size * step, eps, norm))
    return (x + (best if keep_best else delta)).detach()
