"""Gaussian ground truths for testing MI estimators: correlated Gaussian pairs with their exact
MI, and the MI of a linear-Gaussian channel. All values in nats."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from robustrep_lite.core.validation import check_finite


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
    """Correlation giving ``mi`` nats in d dimensions: rho = sqrt(1 - exp(-2 mi / d)).

    Beyond about 16 nats per dimension ``rho`` rounds so close to 1 in floating point that the
    Gaussians it defines carry another MI (``y = x`` and infinite MI once ``rho`` is 1): a
    ``ValueError`` then names the MI ``rho`` gives instead of returning it."""
    if not isinstance(mi, (int, float)) or not math.isfinite(mi) or mi < 0:
        raise ValueError(f"mi must be a finite number >= 0, got {mi!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    rho = math.sqrt(-math.expm1(-2.0 * mi / d))
    given = -0.5 * d * math.log1p(-rho * rho) if rho < 1.0 else math.inf
    if abs(given - mi) > 1e-4 * max(mi, 1.0):
        raise ValueError(
            f"mi must be at most about 16 nats per dimension, got mi={mi!r} for d={d} (in "
            f"floating point rho={rho!r} gives {given:.6g} nats)"
        )
    return rho


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
    if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    if not np.allclose(c64, c64.T, rtol=1e-10, atol=1e-12):
        raise ValueError("cov_x must be symmetric")
    eig = np.linalg.eigvalsh(c64)
    if eig.min() < -1e-10 * max(1.0, float(np.abs(eig).max())):
        raise ValueError(
            f"cov_x must be positive semi-definite, got smallest eigenvalue {eig.min():.3g}"
        )
    m = np.eye(w64.shape[0]) + w64 @ c64 @ w64.T / sigma**2
    sign, logdet = np.linalg.slogdet(m)
    if sign <= 0:
        raise ValueError("cov_x must be positive semi-definite")
    return 0.5 * float(logdet)
