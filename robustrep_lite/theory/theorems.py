r"""Closed forms for the theory of Zhu, Zhang & Evans (ICML 2020), Sections 2-3.

Everything is in nats (natural logarithms) and uses numpy + scipy only.

Contents
--------
* Binary entropy ``H2`` and its derivative ``H2'`` (the functions in Theorem 3.2).
* The Gaussian-mixture model of Section 3.1, eq. (3.1)::

      y ~ Unif{-1, +1},   x | y ~ N(y * theta, Sigma),   g(x) = sgn(w . x)  (sgn(0) = +1),

  with an l_p threat model of radius ``eps`` (any ``p`` in ``[1, inf]``). Closed forms for the
  representation vulnerability RV_eps(g) (Definition 3.1), the natural and adversarial risk of
  the best downstream classifier ``f* = h o g`` (Definition 2.3), its adversarial gap, and the
  two-sided bound of Theorem 3.2 -- in the corrected form (the extracted paper text prints the
  integration limits the wrong way round; see :func:`theorem_3_2_bounds`).
* The bound of Theorem 3.4 (Section 3.2) on the adversarial risk / accuracy of any downstream
  classifier, from the worst-case mutual information.
* A Monte Carlo simulator that builds the worst-case perturbations explicitly in input space,
  to check the closed forms.

Derivation (used throughout)
----------------------------
Given y, the projection ``s = w . x`` is ``N(y m, sigma^2)`` with ``m = w . theta`` and
``sigma^2 = w^T Sigma w``. By Hoelder's inequality an l_p perturbation with
``||delta||_p <= eps`` moves ``s`` by at most ``eta = eps * ||w||_q`` (``1/p + 1/q = 1``), and
the maximiser of ``w . delta`` attains it, so every ``s' in [s - eta, s + eta]`` is reachable.
With ``a = |m| / sigma`` and ``b = eta / sigma``:

* ``P[g(X) = 1] = 1/2`` (the mixture of ``s`` is symmetric), so ``I(X; g(X)) = H(g(X)) = log 2``.
* Only points in the band ``|s| < eta`` can change their code. The W_inf ball lets the adversary
  send each of them to either side; the entropy of ``g(X')`` is smallest when all go to the same
  side, giving ``q = P[g(X') = 1] = 1/2 - u/2`` with
  ``u = P[|s| < eta] = Phi(b - a) - Phi(-a - b)`` (the band mass), hence
  ``RV = log 2 - H2(1/2 - u/2)``.
* ``f* = h o g`` with ``h(z) = sgn(m) z`` has ``Risk = Phi(-a)``, ``AdvRisk = Phi(b - a)`` and
  ``AG = Phi(b - a) - Phi(-a) = P[0 <= y s sgn(m) < eta]`` (the part of the band on the correct
  side).
* Because the margin ``y s sgn(m) ~ N(|m|, sigma^2)`` has its mode on the correct side,
  ``AG <= u <= min(1, 2 AG)``, which is the (corrected) Theorem 3.2.

Scale of ``w``: the theorem restricts to ``||w||_2 = 1``. Every quantity here depends on ``w``
only through ``a`` and ``b``, which are invariant under ``w -> c w`` for any ``c != 0``, so the
functions accept any non-zero ``w`` and do **not** normalise it (normalising would change
nothing); ``w = 0`` is rejected because ``sgn(0 . x)`` is the constant code ``+1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import entr, logit, ndtr

from robustrep_lite.core.validation import check_finite, check_nonnegative, check_seed

__all__ = [
    "LOG2",
    "MonteCarloResult",
    "Projection",
    "adversarial_accuracy_upper_bound",
    "adversarial_risk_lower_bound",
    "binary_entropy",
    "binary_entropy_derivative",
    "dual_exponent",
    "gaussian_mixture_adversarial_gap",
    "gaussian_mixture_monte_carlo",
    "gaussian_mixture_projection",
    "gaussian_mixture_risks",
    "gaussian_mixture_rv",
    "gaussian_mixture_worst_case_mi",
    "rv_along_directions",
    "theorem_3_2_bounds",
    "theorem_3_2_bounds_as_printed",
    "worst_case_perturbation",
]

#: log 2, the constant of Theorem 3.4's ceiling and Lemma 3.3.
LOG2: float = float(np.log(2.0))

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------------------------
# Binary entropy
# ----------------------------------------------------------------------------------------------
def _check_probability(name: str, t: ArrayLike) -> FloatArray:
    arr = np.asarray(t, dtype=float)
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    if ((arr < 0) | (arr > 1)).any():
        raise ValueError(f"{name} must lie in [0, 1]")
    return arr


def binary_entropy(t: ArrayLike) -> FloatArray:
    r"""Binary entropy ``H2(t) = -t log t - (1 - t) log(1 - t)`` in nats (Theorem 3.2).

    ``H2(0) = H2(1) = 0`` exactly (``0 log 0 = 0`` via :func:`scipy.special.entr`).
    Raises ``ValueError`` (naming ``t``) for NaN or values outside ``[0, 1]``.
    """
    arr = _check_probability("t", t)
    return entr(arr) + entr(1.0 - arr)


def binary_entropy_derivative(t: ArrayLike) -> FloatArray:
    r"""Derivative ``H2'(t) = log((1 - t) / t)`` in nats (the integrand of Theorem 3.2).

    ``H2'(0) = +inf``, ``H2'(1/2) = 0``, ``H2'(1) = -inf``; ``H2'`` is positive on ``(0, 1/2)``,
    so ``H2`` increases there. Raises ``ValueError`` (naming ``t``) outside ``[0, 1]`` or NaN.
    """
    arr = _check_probability("t", t)
    return -logit(arr)


def _log2_minus_h2_centred(u: FloatArray) -> FloatArray:
    r"""``log 2 - H2((1 - u) / 2)`` for ``u in [0, 1]``, without cancellation near ``u = 0``.

    Equals ``u artanh(u) + log(1 - u^2) / 2`` (``~ u^2 / 2`` for small ``u``), ``log 2`` at
    ``u = 1``.
    It is the integral of ``H2'`` from ``(1 - u) / 2`` to ``1/2``.
    """
    u = np.asarray(u, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = u * np.arctanh(u) + 0.5 * np.log1p(-u * u)
    return np.where(u >= 1.0, LOG2, np.clip(val, 0.0, LOG2))


# ----------------------------------------------------------------------------------------------
# Input validation for the Gaussian mixture
# ----------------------------------------------------------------------------------------------
def dual_exponent(p: ArrayLike) -> FloatArray:
    r"""Hoelder conjugate ``q`` of ``p`` (``1/p + 1/q = 1``): ``1 -> inf``, ``inf -> 1``.

    Used in Section 3.1 (Theorem 3.2): an l_p budget ``eps`` moves ``w . x`` by at most
    ``eps ||w||_q``. Raises ``ValueError`` naming ``p`` if ``p`` is NaN or ``< 1``.
    """
    p_arr = _check_p(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p_arr / (p_arr - 1.0)
    return np.where(p_arr == 1.0, np.inf, np.where(np.isinf(p_arr), 1.0, q))


def _check_p(p: ArrayLike) -> FloatArray:
    try:
        p_arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"p must be a real number in [1, inf], got {p!r}") from exc
    if np.isnan(p_arr).any():
        raise ValueError(f"p must be a real number in [1, inf], got NaN in {p!r}")
    if (p_arr < 1.0).any():
        raise ValueError(f"p must be in [1, inf] (an l_p norm), got {p!r}")
    return p_arr


def _row_reduce(ufunc: np.ufunc, a: FloatArray) -> FloatArray:
    """``ufunc.reduce`` over the last axis; column by column when it is short (much faster)."""
    d = a.shape[-1]
    if d > 8:
        return ufunc.reduce(a, axis=-1)
    out = a[..., 0].copy()
    for i in range(1, d):  # over coordinates, not over samples
        ufunc(out, a[..., i], out=out)
    return out


def _dual_norm(w: FloatArray, q: FloatArray) -> FloatArray:
    """``||w||_q`` along the last axis, for array ``q`` (broadcast) including ``q = inf``."""
    absw = np.abs(w)
    if q.ndim == 0 and q in (1.0, 2.0, np.inf):
        if q == 1.0:
            return _row_reduce(np.add, absw)
        if q == 2.0:
            return np.sqrt(_row_reduce(np.add, absw * absw))
        return _row_reduce(np.maximum, absw)
    wmax = _row_reduce(np.maximum, absw)
    safe = np.where(wmax > 0, wmax, 1.0)
    r = absw / safe[..., None]
    # r in [0, 1]; r**inf is 0 except at the maxima (1), and count**(1/inf) = 1: exact for q=inf.
    with np.errstate(divide="ignore"):
        total = _row_reduce(np.add, np.power(r, q[..., None]))
        return wmax * np.power(total, 1.0 / q)


def _check_gaussian_mixture(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    theta_a = np.asarray(theta, dtype=float)
    cov_a = np.asarray(cov, dtype=float)
    w_a = np.asarray(w, dtype=float)
    check_finite("theta", theta_a)
    check_finite("cov", cov_a)
    check_finite("w", w_a)
    if theta_a.ndim < 1:
        raise ValueError(f"theta must have shape (..., d), got shape {theta_a.shape}")
    if w_a.ndim < 1:
        raise ValueError(f"w must have shape (..., d), got shape {w_a.shape}")
    if cov_a.ndim < 2 or cov_a.shape[-1] != cov_a.shape[-2]:
        raise ValueError(f"cov must have shape (..., d, d), got shape {cov_a.shape}")
    d = theta_a.shape[-1]
    if w_a.shape[-1] != d:
        raise ValueError(f"w has dimension {w_a.shape[-1]} but theta has dimension {d}")
    if cov_a.shape[-1] != d:
        raise ValueError(f"cov has shape {cov_a.shape} but theta has dimension {d}")
    if (_row_reduce(np.maximum, np.abs(w_a)) == 0).any():
        raise ValueError("w must be non-zero (sgn(0 . x) is a constant representation)")
    _check_spd(cov_a)
    return theta_a, cov_a, w_a


def _check_spd(cov: FloatArray) -> None:
    """Symmetric (to rounding) and positive definite.

    Positive definiteness by a batched Cholesky factorisation, or for ``d <= 2`` by the
    equivalent (Sylvester) leading-minor test, which is exact and several times faster.
    """
    d = cov.shape[-1]
    if d > 1:
        iu, ju = np.triu_indices(d, 1)
        diag = np.abs(np.diagonal(cov, axis1=-2, axis2=-1))
        scale = np.sqrt(diag[..., iu] * diag[..., ju])
        if (np.abs(cov[..., iu, ju] - cov[..., ju, iu]) > 1e-10 * scale).any():
            raise ValueError("cov must be symmetric")
    message = "cov must be positive definite"
    if d == 1:
        if not (cov[..., 0, 0] > 0).all():
            raise ValueError(message)
    elif d == 2:
        c00, c01, c11 = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
        if not ((c00 > 0) & (c00 * c11 - c01 * c01 > 0)).all():
            raise ValueError(message)
    else:
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"{message} (Cholesky factorisation failed)") from exc


def _broadcast(names: tuple[str, ...], *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError as exc:
        detail = ", ".join(f"{n}: {s}" for n, s in zip(names, shapes, strict=True))
        raise ValueError(f"batch shapes of {', '.join(names)} do not broadcast ({detail})") from exc


# ----------------------------------------------------------------------------------------------
# Gaussian mixture closed forms (Section 3.1)
# ----------------------------------------------------------------------------------------------
class Projection(NamedTuple):
    """Law of ``s = w . x``: ``s | y ~ N(y m, sigma^2)``; ``eta`` = largest shift of ``s``."""

    m: FloatArray
    sigma: FloatArray
    eta: FloatArray


def gaussian_mixture_projection(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> Projection:
    r"""One-dimensional summary of model (3.1) seen through ``g(x) = sgn(w . x)`` (Section 3.1).

    Returns ``m = w . theta``, ``sigma = sqrt(w^T Sigma w)`` and ``eta = eps ||w||_q`` (Hoelder:
    the largest change of ``w . x`` under ``||delta||_p <= eps``). Shapes: ``theta (..., d)``,
    ``cov (..., d, d)``, ``w (..., d)``, ``eps (...)``, ``p (...)``, batch dimensions broadcast.
    Validates all arguments (``ValueError`` naming the offending one).
    """
    theta_a, cov_a, w_a = _check_gaussian_mixture(theta, cov, w)
    check_nonnegative("eps", eps)
    eps_a = np.asarray(eps, dtype=float)
    q = dual_exponent(p)
    _broadcast(
        ("theta", "cov", "w", "eps", "p"),
        theta_a.shape[:-1],
        cov_a.shape[:-2],
        w_a.shape[:-1],
        eps_a.shape,
        q.shape,
    )
    m = np.einsum("...i,...i->...", w_a, theta_a)
    var = np.einsum("...i,...ij,...j->...", w_a, cov_a, w_a)
    eta = eps_a * _dual_norm(w_a, np.asarray(q, dtype=float))
    m, var, eta = np.broadcast_arrays(m, var, eta)
    return Projection(m=m, sigma=np.sqrt(var), eta=eta)


def _standardised(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    # a = |m|/sigma and b = eta/sigma do not depend on the scale of w: divide it by its largest
    # entry first, so that w = 1e200 * (1, 1) neither overflows nor turns into NaN
    w_a = np.asarray(w, dtype=float)
    with np.errstate(invalid="ignore"):
        scale = np.max(np.abs(w_a), axis=-1, keepdims=True) if w_a.ndim else np.abs(w_a)
        w_a = w_a / np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    proj = gaussian_mixture_projection(theta, cov, w_a, eps, p)
    return np.abs(proj.m) / proj.sigma, proj.eta / proj.sigma


def _band_mass(a: FloatArray, b: FloatArray) -> FloatArray:
    """``P[|s| < eta] = Phi(b - a) - Phi(-a - b)`` (standardised ``a = |m|/sigma``, ``b``)."""
    return np.clip(ndtr(b - a) - ndtr(-a - b), 0.0, 1.0)


def gaussian_mixture_worst_case_mi(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> FloatArray:
    r"""Worst-case MI ``inf_{X' in B_Winf(X, eps)} I(X'; g(X'))`` in model (3.1) (Def. 3.1).

    ``I(X'; g(X')) = H2(P[g(X') = 1])`` because ``g`` is deterministic. The adversary moves every
    point of the band ``|w . x| < eta`` to the same side of the boundary, so the infimum is
    ``H2(1/2 - u/2)`` with band mass ``u = Phi(b - a) - Phi(-a - b)``, ``a = |m|/sigma``,
    ``b = eta/sigma`` (see :func:`gaussian_mixture_projection`). Equals
    ``log 2 - gaussian_mixture_rv(...)``.
    """
    return LOG2 - gaussian_mixture_rv(theta, cov, w, eps, p)


def gaussian_mixture_rv(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> FloatArray:
    r"""Representation vulnerability ``RV_eps(g)`` of ``g(x) = sgn(w . x)`` (Def. 3.1, Sec. 3.1).

    ``RV = I(X; g(X)) - inf I(X'; g(X')) = log 2 - H2(1/2 - u/2)``, where
    ``u = P[|w . x| < eps ||w||_q] = Phi(b - a) - Phi(-a - b)`` is the mass of the band the
    adversary can move across the boundary (``a = |w . theta| / sigma``,
    ``b = eps ||w||_q / sigma``, ``sigma^2 = w^T Sigma w``). In nats, in ``[0, log 2]``, zero at
    ``eps = 0``, invariant under ``w -> c w`` (``c != 0``). Computed as
    ``u artanh(u) + log(1 - u^2)/2`` to avoid cancellation for small ``u``.

    Shapes: ``theta (..., d)``, ``cov (..., d, d)``, ``w (..., d)``, ``eps (...)``, ``p (...)``
    (``p`` in ``[1, inf]``, ``np.inf`` accepted), batch dimensions broadcast.
    """
    a, b = _standardised(theta, cov, w, eps, p)
    return _log2_minus_h2_centred(_band_mass(a, b))


def gaussian_mixture_risks(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""``(Risk(f*), AdvRisk_eps(f*))`` of the best downstream classifier (Def. 2.3, Thm. 3.2).

    ``H`` = the non-trivial maps ``{z -> z, z -> -z}``; ``h(z) = z`` has
    ``AdvRisk = Phi((eta - m)/sigma)`` and ``h(z) = -z`` has ``Phi((eta + m)/sigma)``, so
    ``f* = argmin_h AdvRisk_eps(h o g)`` uses ``h(z) = sgn(m) z`` (either one if ``m = 0``) and

        ``Risk(f*) = Phi(-a)``,  ``AdvRisk_eps(f*) = Phi(b - a)``,
        ``a = |m| / sigma``, ``b = eta / sigma``.
    """
    a, b = _standardised(theta, cov, w, eps, p)
    return ndtr(-a), ndtr(b - a)


def gaussian_mixture_adversarial_gap(
    theta: ArrayLike, cov: ArrayLike, w: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> FloatArray:
    r"""Adversarial gap ``AG_eps(f*) = AdvRisk_eps(f*) - Risk(f*)`` (Def. 2.3, Theorem 3.2).

    ``AG = Phi(b - a) - Phi(-a)`` with ``a = |w . theta| / sigma``, ``b = eps ||w||_q / sigma``:
    the probability that a correctly classified point lies within ``eta`` of the boundary. In
    ``[0, 1)``; it exceeds ``1/2`` for large ``eps``.
    """
    a, b = _standardised(theta, cov, w, eps, p)
    return np.clip(ndtr(b - a) - ndtr(-a), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# Theorem 3.2
# ----------------------------------------------------------------------------------------------
def _check_gap(adversarial_gap: ArrayLike) -> FloatArray:
    ag = np.asarray(adversarial_gap, dtype=float)
    if not np.isfinite(ag).all():
        raise ValueError("adversarial_gap must be finite (no NaN or inf)")
    if ((ag < 0) | (ag > 1)).any():
        raise ValueError("adversarial_gap must lie in [0, 1]")
    return ag


def theorem_3_2_bounds(adversarial_gap: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Corrected Theorem 3.2: ``(lower, upper)`` with ``lower <= RV_eps(g) <= upper``.

    As printed (Section 3.1), the theorem reads

        ``int_{1/2 - AG}^{1/2} H2' <= RV_eps(g) <= int_{1/2 - AG/2}^{1/2} H2'``,

    i.e. ``log 2 - H2(1/2 - AG) <= RV <= log 2 - H2(1/2 - AG/2)``. Since ``H2`` is strictly
    increasing on ``(0, 1/2)``, the printed lower bound is *larger* than the printed upper bound
    whenever ``AG > 0``, so it cannot hold (and for ``AG > 1/2`` the printed lower limit leaves
    the domain of ``H2``). The integration limits are swapped. The correct statement is

        ``int_{1/2 - AG/2}^{1/2} H2' <= RV_eps(g) <= int_{max(0, 1/2 - AG)}^{1/2} H2'``,

    i.e. ``log 2 - H2(1/2 - AG/2) <= RV <= log 2 - H2(max(0, 1/2 - AG))``.

    Proof sketch: ``RV = log 2 - H2(1/2 - u/2)`` with ``u`` the band mass ``P[|w . x| < eta]``
    and ``AG = P[0 <= y' s < eta]`` (``y' = y sgn(m)``) its part on the correct side; the margin
    ``y' s ~ N(|m|, sigma^2)`` puts at least as much mass on ``[0, eta)`` as on ``(-eta, 0)``
    (reflect about 0; the density is larger nearer its mode ``|m| >= 0``), so
    ``AG <= u <= min(1, 2 AG)``, and ``t -> log 2 - H2(1/2 - t/2)`` is increasing.
    Both bounds are tight: the upper one as ``|m|/sigma -> 0``, the lower as ``|m|/sigma -> inf``.

    ``adversarial_gap`` must lie in ``[0, 1]`` (``ValueError`` otherwise).
    """
    ag = _check_gap(adversarial_gap)
    lower = _log2_minus_h2_centred(ag)
    upper = _log2_minus_h2_centred(np.minimum(1.0, 2.0 * ag))
    return lower, upper


def theorem_3_2_bounds_as_printed(adversarial_gap: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Theorem 3.2 exactly as the extracted text prints it: ``(lower, upper)`` (Section 3.1).

    ``lower = int_{1/2 - AG}^{1/2} H2' = log 2 - H2(1/2 - AG)`` and
    ``upper = int_{1/2 - AG/2}^{1/2} H2' = log 2 - H2(1/2 - AG/2)``. For ``AG > 1/2`` the printed
    lower limit is negative, outside the domain of ``H2``; it is clipped at 0 (value ``log 2``)
    so that the only difference from :func:`theorem_3_2_bounds` is the swap. ``lower > upper``
    for every ``AG > 0``: the printed statement is void. Shown for the book's comparison only.
    """
    lower, upper = theorem_3_2_bounds(adversarial_gap)
    return upper, lower


# ----------------------------------------------------------------------------------------------
# Theorem 3.4
# ----------------------------------------------------------------------------------------------
def _check_n_classes(n_classes: ArrayLike) -> FloatArray:
    n = np.asarray(n_classes, dtype=float)
    if not np.isfinite(n).all():
        raise ValueError(f"n_classes must be a finite integer >= 2, got {n_classes!r}")
    if (n < 2).any() or (n != np.round(n)).any():
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return n


def adversarial_risk_lower_bound(
    worst_case_mi: ArrayLike, n_classes: ArrayLike, *, clip: bool = True
) -> FloatArray:
    r"""Theorem 3.4: ``inf_h AdvRisk_eps(h o g) >= 1 - (I_worst + log 2) / log |Y|``.

    ``I_worst = I(X; Z) - RV_eps(g)`` is the worst-case mutual information (nats, ``>= 0``) and
    ``|Y| = n_classes`` (labels uniform). The raw bound is ``< 1`` and becomes negative, i.e.
    vacuous, once ``I_worst > log(|Y| / 2)`` (always for ``|Y| = 2``); with ``clip=True``
    (default) it is clipped at 0, with ``clip=False`` the raw value is returned.
    Example (Section 6.1): ``I_worst = 1.08``, ``|Y| = 10`` gives ``0.230``.
    """
    check_nonnegative("worst_case_mi", worst_case_mi)
    n = _check_n_classes(n_classes)
    raw = 1.0 - (np.asarray(worst_case_mi, dtype=float) + LOG2) / np.log(n)
    return np.maximum(raw, 0.0) if clip else raw


def adversarial_accuracy_upper_bound(
    worst_case_mi: ArrayLike, n_classes: ArrayLike, *, clip: bool = True
) -> FloatArray:
    r"""Theorem 3.4 as an accuracy bound: ``1 - adversarial_risk_lower_bound`` (Section 6.1).

    ``(I_worst + log 2) / log |Y|``, clipped at 1 when ``clip=True``. Paper's check value
    (Fig. 2, robust DenseNet121 on CIFAR-10): ``I_worst = 1.08`` nats, ``|Y| = 10`` -> ``0.770``.
    """
    return 1.0 - adversarial_risk_lower_bound(worst_case_mi, n_classes, clip=clip)


# ----------------------------------------------------------------------------------------------
# Direction sweeps (for the book's figures)
# ----------------------------------------------------------------------------------------------
def rv_along_directions(
    theta: ArrayLike, cov: ArrayLike, angles: ArrayLike, eps: ArrayLike, p: ArrayLike
) -> FloatArray:
    r"""RV_eps of ``g(x) = sgn(w . x)`` for ``w = (cos a, sin a)``, ``d = 2`` (Section 3.1).

    ``angles`` (radians) is an array of any shape; it plays the role of the batch dimensions of
    ``w``, so ``theta (..., 2)``, ``cov (..., 2, 2)``, ``eps`` and ``p`` must broadcast against
    ``angles.shape``. Example: ``rv_along_directions(theta, cov, np.linspace(0, np.pi, 181),
    eps, 2)``. (For ``p = 2`` and ``Sigma = I`` the minimum is at ``w`` parallel to ``theta``: the
    band mass ``P[|N(a, 1)| < eps]`` decreases in ``a = |w . theta|``.)
    """
    ang = np.asarray(angles, dtype=float)
    check_finite("angles", ang)
    w = np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    theta_a = np.asarray(theta, dtype=float)
    if theta_a.ndim < 1 or theta_a.shape[-1] != 2:
        raise ValueError(f"theta must have shape (..., 2) here (d = 2), got {theta_a.shape}")
    return gaussian_mixture_rv(theta_a, cov, w, eps, p)


# ----------------------------------------------------------------------------------------------
# Monte Carlo simulation
# ----------------------------------------------------------------------------------------------
def worst_case_perturbation(w: ArrayLike, eps: float, p: float) -> FloatArray:
    r"""The maximiser ``delta*`` of ``w . delta`` subject to ``||delta||_p <= eps`` (Sec. 3.1).

    ``delta*_i = eps sgn(w_i) |w_i|^(q-1) / ||w||_q^(q-1)`` (equality case of Hoelder), i.e.
    ``eps sgn(w)`` for ``p = inf``, ``eps w / ||w||_2`` for ``p = 2`` and ``eps sgn(w_k) e_k``
    with ``k = argmax |w_i|`` for ``p = 1``; ``w . delta* = eps ||w||_q``. ``w`` has shape
    ``(d,)``; ``eps`` and ``p`` are scalars.
    """
    w_a = np.asarray(w, dtype=float)
    check_finite("w", w_a)
    if w_a.ndim != 1:
        raise ValueError(f"w must have shape (d,), got shape {w_a.shape}")
    if not (w_a != 0).any():
        raise ValueError("w must be non-zero")
    check_nonnegative("eps", eps)
    if np.ndim(eps) != 0 or np.ndim(p) != 0:
        raise ValueError("eps and p must be scalars for worst_case_perturbation")
    q = float(dual_exponent(p))
    absw = np.abs(w_a)
    if np.isinf(q):  # p = 1: all the budget on one largest coordinate
        k = int(np.argmax(absw))
        delta = np.zeros_like(w_a)
        delta[k] = float(eps) * np.sign(w_a[k])
        return delta
    r = absw / absw.max()
    rq1 = r ** (q - 1.0) if q > 1.0 else (r > 0).astype(float)
    norm_q = np.sum(r**q) ** (1.0 / q)
    return float(eps) * np.sign(w_a) * rq1 / norm_q ** (q - 1.0)


def sample_gaussian_mixture(
    theta: ArrayLike, cov: ArrayLike, n_samples: int, seed: int | None = 0
) -> tuple[FloatArray, FloatArray]:
    r"""Draw ``n_samples`` pairs of model (3.1): ``y ~ Unif{-1, 1}``, ``x | y ~ N(y theta, Sigma)``.

    Returns ``x`` of shape ``(n_samples, d)`` and ``y`` of shape ``(n_samples,)`` (values +-1).
    """
    if seed is not None:
        check_seed("seed", seed)
    theta_a, cov_a, _ = _check_gaussian_mixture(theta, cov, theta)
    if theta_a.ndim != 1 or cov_a.ndim != 2:
        raise ValueError("theta must have shape (d,) and cov (d, d) to sample")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(cov_a)
    y = 2.0 * rng.integers(0, 2, size=int(n_samples)) - 1.0
    x = y[:, None] * theta_a + rng.standard_normal((int(n_samples), theta_a.size)) @ chol.T
    return x, y


def random_parameters(
    n_points: int, d: int = 2, seed: int = 0, eps_max: float = 3.0
) -> dict[str, FloatArray]:
    """Random parameter points of model (3.1) for grids, benchmarks and figures.

    ``theta`` and ``w`` standard normal, ``cov = A A^T / d + 0.05 I`` (SPD) with ``A`` standard
    normal, ``eps`` uniform on ``[0, eps_max]``; arrays with leading dimension ``n_points``.
    """
    check_seed("seed", seed)
    if n_points < 1 or d < 1:
        raise ValueError(f"n_points and d must be positive, got {n_points} and {d}")
    check_nonnegative("eps_max", eps_max, scalar=True)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n_points, d, d))
    return {
        "theta": rng.standard_normal((n_points, d)),
        "cov": a @ a.transpose(0, 2, 1) / d + 0.05 * np.eye(d),
        "w": rng.standard_normal((n_points, d)),
        "eps": rng.uniform(0.0, eps_max, n_points),
    }


class MonteCarloResult(NamedTuple):
    """Realised quantities of a Monte Carlo run of model (3.1) and their standard errors."""

    mi_natural: float  #: plug-in ``H(g(X))`` (= ``I(X; g(X))``), nats
    mi_worst: float  #: plug-in ``H(g(X'))`` on the explicitly perturbed sample, nats
    rv: float  #: ``mi_natural - mi_worst``
    natural_risk: float  #: ``Risk(f*)``
    adversarial_risk: float  #: ``AdvRisk_eps(f*)``
    adversarial_gap: float  #: ``adversarial_risk - natural_risk``
    se_mi_natural: float
    se_mi_worst: float
    se_rv: float
    se_natural_risk: float
    se_adversarial_risk: float
    se_adversarial_gap: float
    h_sign: int  #: the chosen downstream map ``h(z) = h_sign * z``
    max_perturbation_norm: float  #: largest ``||delta||_p`` over all perturbations built
    n_samples: int


def _entropy_and_var(k: float, n: int) -> tuple[float, float, float]:
    """Plug-in ``H2(k/n)``, first-order and second-order delta-method variance terms."""
    qh = float(k) / n
    h = float(binary_entropy(qh))
    v = qh * (1.0 - qh) / n
    if 0.0 < qh < 1.0:
        d1 = float(binary_entropy_derivative(qh))
        d2 = -1.0 / (qh * (1.0 - qh))
    else:
        d1 = d2 = 0.0
    return h, d1, 0.5 * (d2 * v) ** 2


def gaussian_mixture_monte_carlo(
    theta: ArrayLike,
    cov: ArrayLike,
    w: ArrayLike,
    eps: float,
    p: float,
    n_samples: int = 200_000,
    seed: int | None = 0,
) -> MonteCarloResult:
    r"""Simulate model (3.1) and realise the worst cases of Def. 3.1 and Def. 2.3 explicitly.

    Draws ``n_samples`` pairs ``(x, y)``, builds ``delta* = worst_case_perturbation(w, eps, p)``
    and

    * worst-case MI (Def. 3.1): ``x' = x - delta*`` for every point with ``|w . x| < eta``, other
      points unchanged (a coupling in the W_inf ball); ``mi_worst`` is the plug-in entropy of
      ``sgn(w . x')``; ``rv = mi_natural - mi_worst``;
    * adversarial risk (Def. 2.3) for each ``h(z) = +-z``: attack ``x - h y delta*`` (the
      strongest push towards the wrong side); a point is an error if ``h(g(x)) != y`` or
      ``h(g(x_adv)) != y``. ``f*`` is the ``h`` with the smaller realised adversarial risk.

    Every perturbation built is checked to satisfy ``||delta||_p <= eps`` (to rounding;
    ``RuntimeError`` otherwise). Standard errors: Bernoulli for risks, delta method (with the
    second-order term, which dominates near ``P = 1/2``) for entropies; the ``rv`` one uses the
    per-sample influence function, so the correlation of its two terms is accounted for.
    ``theta (d,)``, ``cov (d, d)``, ``w (d,)``, scalar ``eps`` and ``p``.
    """
    if seed is not None:
        check_seed("seed", seed)
    theta_a, cov_a, w_a = _check_gaussian_mixture(theta, cov, w)
    if theta_a.ndim != 1 or w_a.ndim != 1 or cov_a.ndim != 2:
        raise ValueError("theta, w must have shape (d,) and cov (d, d) for the Monte Carlo")
    check_nonnegative("eps", eps)
    if np.ndim(eps) != 0 or np.ndim(p) != 0:
        raise ValueError("eps and p must be scalars for the Monte Carlo")
    _check_p(p)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    n = int(n_samples)
    eps_f, p_f = float(eps), float(p)

    x, y = sample_gaussian_mixture(theta_a, cov_a, n, seed)

    delta_star = worst_case_perturbation(w_a, eps_f, p_f)
    eta = float(w_a @ delta_star)

    def code(points: FloatArray) -> FloatArray:
        return np.where(points @ w_a >= 0.0, 1.0, -1.0)

    def checked(delta: FloatArray) -> float:
        norms = np.linalg.norm(delta, ord=p_f, axis=1)
        worst = float(norms.max(initial=0.0))
        if worst > eps_f * (1.0 + 1e-9) + 1e-300:
            raise RuntimeError(f"built a perturbation with ||delta||_p = {worst} > eps = {eps_f}")
        return worst

    s = x @ w_a
    g_nat = code(x)

    # Worst-case distribution of Def. 3.1: push the whole band to the -1 side.
    band = np.abs(s) < eta
    delta_mi = -band[:, None].astype(float) * delta_star
    max_norm = checked(delta_mi)
    g_worst = code(x + delta_mi)

    k_nat = float((g_nat > 0).sum())
    k_worst = float((g_worst > 0).sum())
    mi_nat, d1_nat, sec_nat = _entropy_and_var(k_nat, n)
    mi_worst, d1_worst, sec_worst = _entropy_and_var(k_worst, n)
    v_nat = (k_nat / n) * (1 - k_nat / n) / n
    v_worst = (k_worst / n) * (1 - k_worst / n) / n
    se_mi_nat = float(np.sqrt(d1_nat**2 * v_nat + sec_nat))
    se_mi_worst = float(np.sqrt(d1_worst**2 * v_worst + sec_worst))
    infl = d1_nat * (g_nat > 0) - d1_worst * (g_worst > 0)
    se_rv = float(np.sqrt(infl.var() / n + sec_nat + sec_worst))

    # Adversarial risk of h o g for h(z) = sign * z (Def. 2.3), worst push per point.
    best = None
    for h_sign in (1, -1):  # two downstream maps, not a loop over samples
        delta_adv = -(h_sign * y)[:, None] * delta_star
        max_norm = max(max_norm, checked(delta_adv))
        nat_err = h_sign * g_nat != y
        adv_err = nat_err | (h_sign * code(x + delta_adv) != y)
        cand = (float(adv_err.mean()), float(nat_err.mean()), h_sign, adv_err, nat_err)
        if best is None or cand[0] < best[0]:
            best = cand
    assert best is not None
    adv_risk, nat_risk, h_best, adv_err, nat_err = best
    gap_ind = adv_err.astype(float) - nat_err.astype(float)

    return MonteCarloResult(
        mi_natural=mi_nat,
        mi_worst=mi_worst,
        rv=mi_nat - mi_worst,
        natural_risk=nat_risk,
        adversarial_risk=adv_risk,
        adversarial_gap=adv_risk - nat_risk,
        se_mi_natural=se_mi_nat,
        se_mi_worst=se_mi_worst,
        se_rv=se_rv,
        se_natural_risk=float(np.sqrt(nat_risk * (1 - nat_risk) / n)),
        se_adversarial_risk=float(np.sqrt(adv_risk * (1 - adv_risk) / n)),
        se_adversarial_gap=float(gap_ind.std() / np.sqrt(n)),
        h_sign=h_best,
        max_perturbation_norm=max_norm,
        n_samples=n,
    )
