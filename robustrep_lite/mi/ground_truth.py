"""Gaussian ground truths for testing MI estimators: correlated Gaussian pairs with their exact
MI, and the MI of a linear-Gaussian channel. All values in nats."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from robustrep_lite.core.validation import (
    check_bool,
    check_finite,
    check_in_range,
    check_int,
    check_nonnegative,
    check_positive,
    check_seed,
)


def _check_rho(rho: float) -> float:
    return check_in_range("rho", rho, -1.0, 1.0, low_open=True, high_open=True)


def gaussian_mi(d: int, rho: float) -> float:
    """I(X; Y) = -(d/2) log(1 - rho^2) nats for d independent coordinate pairs with correlation
    rho (see :func:`correlated_gaussians`). ``d`` is an integer >= 1 (not a bool) and ``rho``
    a real number in (-1, 1), else a ``ValueError`` names the argument."""
    d = check_int("d", d, 1)
    return -0.5 * d * math.log1p(-(_check_rho(rho) ** 2))


def rho_for_mi(mi: float, d: int) -> float:
    """Correlation giving ``mi`` nats in d dimensions: rho = sqrt(1 - exp(-2 mi / d)).

    Beyond about 16 nats per dimension ``rho`` rounds so close to 1 in floating point that the
    Gaussians it defines carry another MI (``y = x`` and infinite MI once ``rho`` is 1): a
    ``ValueError`` then names the MI ``rho`` gives instead of returning it. ``mi`` must be a
    finite real number >= 0 and ``d`` an integer >= 1 (a bool is neither)."""
    check_nonnegative("mi", mi, scalar=True)
    mi = float(mi)
    d = check_int("d", d, 1)
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
    I(X; Y) = :func:`gaussian_mi` (d, rho). ``n`` and ``d`` are integers >= 1, ``seed`` an
    integer >= 0 and ``cubic`` a bool (a string such as ``"no"`` is refused, not read as
    ``True``), else a ``ValueError`` names the argument."""
    n = check_int("n", n, 1)
    d = check_int("d", d, 1)
    rho = _check_rho(rho)
    check_seed("seed", seed)
    cubic = check_bool("cubic", cubic)
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
    sigma = check_positive("sigma", sigma)
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
