"""Perturbation sets of the threat model: l_inf and l_2 balls of radius eps around each input,
intersected with the valid input box (Definition 2.3's B(x, eps) for Delta = an l_p norm).

These are the building blocks of projected gradient descent (Madry et al., 2018): the
projection onto the ball and a uniformly random starting point inside it. Batched over the
leading dimension, no loop over samples.
"""

from __future__ import annotations

import math

import torch

from robustrep_lite.validation import check_choice, check_nonnegative

NORMS = ("inf", "2")


def check_norm(norm: str | float) -> str:
    """Normalise ``norm`` (``"inf"``, ``inf``, ``"2"`` or ``2``) to ``"inf"`` or ``"2"``."""
    key = {math.inf: "inf", 2: "2"}.get(norm, norm) if not isinstance(norm, str) else norm
    return check_choice("norm", key, NORMS)


def project_to_ball(delta: torch.Tensor, eps: float, norm: str | float) -> torch.Tensor:
    """Project each ``delta[i]`` onto the ``norm`` ball of radius ``eps`` (per sample)."""
    check_nonnegative("eps", eps)
    norm = check_norm(norm)
    if norm == "inf":
        return delta.clamp(-eps, eps)
    flat = delta.flatten(1)
    scale = (eps / flat.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
    return (flat * scale[:, None]).view_as(delta)


def random_in_ball(
    like: torch.Tensor, eps: float, norm: str | float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One point drawn uniformly from the ``norm`` ball of radius ``eps`` per sample of ``like``."""
    check_nonnegative("eps", eps)
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
    ball: it only moves coordinates back toward ``x``)."""
    if low >= high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    if x.shape != delta.shape:
        raise ValueError(f"x and delta must have the same shape, got {x.shape} and {delta.shape}")
    return (x + delta).clamp(low, high)
