r"""Section 2's quantities on finite and empirical distributions (Zhu, Zhang & Evans, ICML 2020).

Everything is exact (no estimator, no optimiser), in nats, numpy + scipy only, and vectorised
over samples:

* **Mutual information** (Definition 2.1) of a discrete joint table, entropy of a discrete
  distribution, and their plug-in versions on paired samples of discrete codes. For a
  deterministic ``g`` with discrete output, ``I(X; g(X)) = H(g(X))``; on an empirical measure
  (``X`` uniform over the sample) this is the plug-in entropy of the codes.
* **The infinity-Wasserstein distance** (Definition 2.2) between two empirical measures with the
  same number ``n`` of equally weighted atoms. It is the *bottleneck assignment* value
  ``min over permutations pi of max_i ||x_i - y_pi(i)||_p`` (an optimal coupling of two uniform
  measures on ``n`` atoms can be taken to be a permutation, Birkhoff-von Neumann). Computed
  exactly by a binary search over the sorted pairwise distances, testing each threshold for a
  perfect matching (:func:`scipy.sparse.csgraph.maximum_bipartite_matching`). The identity
  coupling gives the upper bound :func:`matched_winf_distance`; so the set ``A(S, eps)`` of
  eq. (4.2) (each point moved within its own ``eps``-ball) lies inside the ``W_inf`` ball.
* **Adversarial risk and gap** (Definition 2.3) of a linear classifier ``sgn(w . x + b)`` on a
  labelled point cloud under an ``l_p`` budget, in closed form per point.
* **Worst-case mutual information and representation vulnerability** (Definition 3.1) of the
  binary representation ``g(x) = sgn(w . x)`` on an empirical measure, exact.
* The entropy of a finely binned Gaussian, which grows without bound as the bins shrink: why
  ``I(X; g(X))`` is infinite for a continuous ``X`` and a deterministic continuous ``g``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial.distance import cdist
from scipy.special import entr, ndtr, rel_entr

from robustrep_lite.core.validation import check_finite, check_nonnegative
from robustrep_lite.theory.theorems import LOG2, binary_entropy, dual_exponent

__all__ = [
    "LinearRisks",
    "SignRV",
    "WinfMatching",
    "adversarial_errors",
    "binned_gaussian_entropy",
    "discrete_mutual_information",
    "empirical_sign_rv",
    "empirical_winf_distance",
    "entropy",
    "linear_classifier_risks",
    "lp_distance_matrix",
    "lp_norm",
    "matched_winf_distance",
    "optimal_winf_matching",
    "plugin_entropy",
    "plugin_mutual_information",
    "sign_rv_of_points",
    "symmetric_channel_joint",
]

FloatArray = NDArray[np.float64]

#: Tolerance on ``sum(p) = 1`` for probability tables.
SUM_TOLERANCE: float = 1e-9


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------
def _probabilities(name: str, p: ArrayLike, min_ndim: int, axes: tuple[int, ...]) -> FloatArray:
    """Float array of non-negative finite entries summing to 1 over ``axes`` (within tolerance)."""
    try:
        arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of probabilities, got {p!r}") from exc
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    check_finite(name, arr)
    if (arr < 0).any():
        raise ValueError(f"{name} must have non-negative entries")
    total = arr.sum(axis=axes)
    if (np.abs(total - 1.0) > SUM_TOLERANCE * max(1, arr.size)).any():
        raise ValueError(f"{name} must sum to 1, got sum(s) {total!r}")
    return arr


def _check_norm_p(p: float) -> float:
    """``p`` as a float in ``[1, inf]`` (``ValueError`` naming ``p`` otherwise)."""
    if np.ndim(p) != 0:
        raise ValueError(f"p must be a scalar in [1, inf], got {p!r}")
    dual_exponent(p)  # raises ValueError naming p for NaN or p < 1
    return float(p)


def _points(name: str, x: ArrayLike) -> FloatArray:
    """A finite ``(n, d)`` float array with ``n >= 1``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got shape {arr.shape}")
    check_finite(name, arr)
    return arr


def _same_atoms(x: ArrayLike, y: ArrayLike, y_name: str = "y") -> tuple[FloatArray, FloatArray]:
    x_a, y_a = _points("x", x), _points(y_name, y)
    if x_a.shape != y_a.shape:
        raise ValueError(
            f"x and {y_name} must have the same shape (n equally weighted atoms in R^d), "
            f"got {x_a.shape} and {y_a.shape}"
        )
    return x_a, y_a


# ----------------------------------------------------------------------------------------------
# Entropy and mutual information (Definition 2.1)
# ----------------------------------------------------------------------------------------------
def entropy(p: ArrayLike) -> FloatArray:
    r"""Shannon entropy ``H(p) = -sum_i p_i log p_i`` in nats (``0 log 0 = 0``).

    ``p`` has shape ``(..., k)``: a batch of distributions over ``k`` outcomes, each summing to 1.
    ``I(X; X) = H(X)`` (Section 2), and ``I(X; g(X)) = H(g(X))`` for deterministic ``g`` with
    discrete output. Raises ``ValueError`` (naming ``p``) for negative or non-finite entries or
    rows that do not sum to 1.
    """
    arr = _probabilities("p", p, 1, (-1,))
    return entr(arr).sum(axis=-1)


def discrete_mutual_information(joint: ArrayLike) -> FloatArray:
    r"""``I(X; Z) = sum_{x,z} p(x,z) log(p(x,z) / (p(x) p(z)))`` in nats (Definition 2.1).

    ``joint`` has shape ``(..., k_x, k_z)``: one joint probability table (or a batch of them),
    each summing to 1. Zero iff ``X`` and ``Z`` are independent; at most
    ``min(log k_x, log k_z)``; ``log k`` for the uniform diagonal ``k x k`` table (``Z = X``).
    Raises ``ValueError`` (naming ``joint``) for fewer than 2 dimensions, negative or non-finite
    entries, or tables that do not sum to 1.
    """
    arr = _probabilities("joint", joint, 2, (-2, -1))
    px = arr.sum(axis=-1, keepdims=True)
    pz = arr.sum(axis=-2, keepdims=True)
    mi = rel_entr(arr, px * pz).sum(axis=(-2, -1))
    return np.maximum(mi, 0.0)  # >= 0 exactly; clip rounding


def symmetric_channel_joint(noise: ArrayLike, k: int = 2) -> FloatArray:
    r"""Joint table of ``X ~ Unif{0..k-1}`` sent through a ``k``-ary symmetric channel.

    ``Z = X`` with probability ``1 - noise``, otherwise uniform over the other ``k - 1`` values.
    Returns shape ``noise.shape + (k, k)``. Its mutual information (Definition 2.1) is
    ``log k - H2(noise) - noise log(k - 1)``: ``log k`` at ``noise = 0`` and ``0`` at
    ``noise = (k - 1)/k`` (independence). ``noise`` must lie in ``[0, 1]`` and ``k >= 2``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    e = np.asarray(noise, dtype=float)
    check_finite("noise", e)
    if ((e < 0) | (e > 1)).any():
        raise ValueError(f"noise must lie in [0, 1], got {noise!r}")
    eye = np.eye(k)
    off = (1.0 - eye) / (k - 1)
    e = e[..., None, None]
    return ((1.0 - e) * eye + e * off) / k


def _codes(name: str, codes: ArrayLike) -> NDArray[np.int64]:
    """Integer labels ``0..m-1`` of the distinct values (rows, for 2-D input) of ``codes``."""
    arr = np.asarray(codes)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n >= 1, got {arr.shape}")
    if arr.dtype.kind in "fc":
        check_finite(name, arr)
    _, inverse = np.unique(arr, axis=0, return_inverse=True)
    return inverse.reshape(-1)


def plugin_entropy(codes: ArrayLike) -> float:
    r"""Entropy (nats) of the empirical distribution of ``codes`` (shape ``(n,)`` or ``(n, d)``).

    Rows are outcomes. For a deterministic representation ``g`` and ``X`` uniform over a sample
    (the empirical measure of Section 4), ``I(X; g(X)) = H(g(X))`` is exactly this value for
    ``codes = g(sample)``. At most ``log n``.
    """
    counts = np.bincount(_codes("codes", codes))
    return float(entropy(counts / counts.sum()))


def plugin_mutual_information(a: ArrayLike, b: ArrayLike) -> float:
    r"""Mutual information (nats, Definition 2.1) of the empirical joint law of paired codes.

    ``a`` and ``b`` hold ``n`` paired discrete observations (shape ``(n,)`` or ``(n, d)``, rows
    are outcomes); the result is :func:`discrete_mutual_information` of their contingency
    table. With ``a = arange(n)`` (``X`` uniform over the sample's points) it equals
    ``plugin_entropy(b)``.
    """
    ia, ib = _codes("a", a), _codes("b", b)
    if ia.shape[0] != ib.shape[0]:
        raise ValueError(
            f"a and b must hold the same number of observations, got {ia.size}, {ib.size}"
        )
    ka, kb = int(ia.max()) + 1, int(ib.max()) + 1
    table = np.bincount(ia * kb + ib, minlength=ka * kb).reshape(ka, kb) / ia.size
    return float(discrete_mutual_information(table))


def binned_gaussian_entropy(bin_width: ArrayLike, scale: float = 1.0) -> FloatArray:
    r"""Entropy (nats) of ``floor(S / bin_width)`` for ``S ~ N(0, scale^2)``.

    A deterministic quantiser ``q`` of the continuous feature ``S = w . X`` has
    ``I(X; q(X)) = H(q(X))``, which grows like ``0.5 log(2 pi e scale^2) - log(bin_width)``
    without bound as the bins shrink: for a continuous ``X`` and a deterministic, continuous
    (injective on a set of positive mass) ``g``, ``I(X; g(X)) = +inf`` (Definition 2.1 has no
    finite value). Bins cover ``+-12 scale`` (the rest has mass below ``1e-32``).
    ``bin_width`` (any shape, ``> 0``) and ``scale > 0``; at most about ``10^6`` bins.
    """
    width = np.asarray(bin_width, dtype=float)
    check_finite("bin_width", width)
    if (width <= 0).any():
        raise ValueError(f"bin_width must be > 0, got {bin_width!r}")
    check_nonnegative("scale", scale)
    if np.ndim(scale) != 0 or scale <= 0:
        raise ValueError(f"scale must be a scalar > 0, got {scale!r}")
    half = np.ceil(12.0 * scale / width)
    if (half > 5e5).any():
        raise ValueError(
            f"bin_width must be >= scale * 2.4e-5 (at most 1e6 bins), got {bin_width!r}"
        )

    def one(w: float, h: float) -> float:
        edges = np.arange(-h, h + 1.0) * w / scale
        probs = np.diff(ndtr(edges))
        return float(entr(probs).sum())

    flat = [one(w, h) for w, h in zip(width.ravel(), half.ravel(), strict=True)]  # over widths
    return np.asarray(flat, dtype=float).reshape(width.shape)


# ----------------------------------------------------------------------------------------------
# The infinity-Wasserstein distance between empirical measures (Definition 2.2, eq. 4.2)
# ----------------------------------------------------------------------------------------------
def lp_norm(x: ArrayLike, p: float) -> FloatArray:
    """``||x_i||_p`` of each row of ``x`` (shape ``(n, d)``), ``p`` in ``[1, inf]``."""
    p_f = _check_norm_p(p)
    arr = _points("x", x)
    return np.linalg.norm(arr, ord=p_f, axis=1)


def lp_distance_matrix(x: ArrayLike, y: ArrayLike, p: float = np.inf) -> FloatArray:
    r"""``D[i, j] = ||x_i - y_j||_p`` for ``x (n, d)`` and ``y (m, d)``, ``p`` in ``[1, inf]``.

    The input metric ``Delta`` of Section 2 for an ``l_p`` threat model (``scipy`` ``cdist``:
    ``chebyshev`` for ``p = inf``, ``cityblock`` for 1, ``euclidean`` for 2, else ``minkowski``).
    """
    p_f = _check_norm_p(p)
    x_a, y_a = _points("x", x), _points("y", y)
    if x_a.shape[1] != y_a.shape[1]:
        raise ValueError(f"x and y must have the same dimension d, got {x_a.shape}, {y_a.shape}")
    if np.isinf(p_f):
        return cdist(x_a, y_a, "chebyshev")
    if p_f == 1.0:
        return cdist(x_a, y_a, "cityblock")
    if p_f == 2.0:
        return cdist(x_a, y_a, "euclidean")
    return cdist(x_a, y_a, "minkowski", p=p_f)


def matched_winf_distance(x: ArrayLike, x_perturbed: ArrayLike, p: float = np.inf) -> float:
    r"""``max_i ||x_i - x'_i||_p``: the cost of the identity coupling ``x_i -> x'_i``.

    An upper bound on ``W_inf`` between the two empirical measures (Definition 2.2): hence every
    measure of ``A(S, eps)`` (eq. 4.2: each point moved within its own ``eps``-ball) lies in the
    ``W_inf`` ball of radius ``eps``. Strictly larger than :func:`empirical_winf_distance` when
    re-matching the atoms helps.
    """
    x_a, y_a = _same_atoms(x, x_perturbed, "x_perturbed")
    return float(lp_norm(x_a - y_a, p).max())


class WinfMatching(NamedTuple):
    """An optimal coupling of two uniform empirical measures for ``W_inf`` (Definition 2.2)."""

    distance: float  #: ``W_inf(mu_x, mu_y) = max_i ||x_i - y_{matching[i]}||_p``
    matching: NDArray[np.int64]  #: a permutation: ``x_i`` is transported to ``y_{matching[i]}``


def optimal_winf_matching(x: ArrayLike, y: ArrayLike, p: float = np.inf) -> WinfMatching:
    r"""Exact ``W_inf`` between ``(1/n) sum delta_{x_i}`` and ``(1/n) sum delta_{y_j}``, with a
    permutation attaining it (Definition 2.2, the ``p -> inf`` limit of ``W_p``).

    For uniform weights on ``n`` atoms each, the extreme points of the coupling polytope are
    permutations, so ``W_inf = min_pi max_i ||x_i - y_pi(i)||_p`` (the bottleneck assignment).
    The optimum is one of the pairwise distances: binary search over the sorted distinct ones
    between the lower bound ``max(max_i min_j D_ij, max_j min_i D_ij)`` and the identity-coupling
    cost ``max_i D_ii``, testing each threshold ``t`` for a perfect matching in the bipartite
    graph ``{D_ij <= t}``. ``x`` and ``y`` must both have shape ``(n, d)``; ``p`` in ``[1, inf]``.
    Memory ``O(n^2)``: keep ``n`` to a few thousand.
    """
    x_a, y_a = _same_atoms(x, y)
    d = lp_distance_matrix(x_a, y_a, p)
    low = max(d.min(axis=1).max(), d.min(axis=0).max())
    high = np.diagonal(d).max()
    candidates = np.unique(d[(d >= low) & (d <= high)])

    def perfect(t: float) -> NDArray[np.int64] | None:
        graph = csr_matrix(d <= t)
        match = maximum_bipartite_matching(graph, perm_type="column")
        return match if (match >= 0).all() else None

    lo, hi = 0, candidates.size - 1  # candidates[hi] = identity cost is always feasible
    best = np.arange(d.shape[0])
    while lo < hi:  # over thresholds (log2 of n^2 iterations), not over samples
        mid = (lo + hi) // 2
        match = perfect(candidates[mid])
        if match is None:
            lo = mid + 1
        else:
            hi, best = mid, match
    if not np.array_equal(np.sort(best), np.arange(d.shape[0])):
        raise RuntimeError("bottleneck matching failed to return a permutation")
    distance = float(d[np.arange(d.shape[0]), best].max())
    return WinfMatching(distance=distance, matching=best.astype(np.int64))


def empirical_winf_distance(x: ArrayLike, y: ArrayLike, p: float = np.inf) -> float:
    r"""``W_inf`` (Definition 2.2) between two empirical measures with ``n`` equal atoms each.

    See :func:`optimal_winf_matching` (same arguments; this returns only the distance).
    ``W_inf <= matched_winf_distance(x, y, p)``, with equality when the identity coupling is
    optimal; ``W_inf`` does not change when the rows of ``y`` are permuted.
    """
    return optimal_winf_matching(x, y, p).distance


# ----------------------------------------------------------------------------------------------
# Adversarial risk of a linear classifier (Definition 2.3)
# ----------------------------------------------------------------------------------------------
class LinearRisks(NamedTuple):
    """Natural risk, adversarial risk and adversarial gap on a sample (Definition 2.3)."""

    natural_risk: float  #: ``Risk(f) = Pr[f(x) != y]``
    adversarial_risk: FloatArray  #: ``AdvRisk_eps(f)``, one per ``eps``
    adversarial_gap: FloatArray  #: ``AG_eps(f) = AdvRisk_eps(f) - Risk(f)``
    eta: FloatArray  #: ``eps ||w||_q``: how far an ``eps`` budget moves ``w . x``


def _labels(y: ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(y, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one label per point), got {arr.shape}")
    if not np.isin(arr, (-1.0, 1.0)).all():
        raise ValueError("y must hold labels in {-1, +1}")
    return arr


def adversarial_errors(
    x: ArrayLike, y: ArrayLike, w: ArrayLike, b: float, eps: float, p: float = np.inf
) -> NDArray[np.bool_]:
    r"""Per point: does some ``x'`` with ``||x' - x||_p <= eps`` make ``sgn(w . x' + b) != y``?

    ``w . x'`` ranges over the closed interval ``[s - eta, s + eta]``, ``s = w . x``,
    ``eta = eps ||w||_q`` (Hoelder, ``1/p + 1/q = 1``; attained). With ``sgn(0) = +1``
    (Section 2), a ``+1`` point is an error iff ``s + b - eta < 0`` and a ``-1`` point iff
    ``s + b + eta >= 0``; i.e. iff the margin ``y (w . x + b) < eta``, or ``= eta`` for
    ``y = -1``. ``eps = 0`` gives the natural errors. Scalar ``eps``.
    """
    x_a = _points("x", x)
    y_a = _labels(y, x_a.shape[0])
    w_a, b_f, eta = _linear_args(w, b, eps, p, x_a.shape[1])
    margin = y_a * (x_a @ w_a + b_f)
    return (margin < eta) | ((y_a < 0) & (margin == eta))


def _linear_args(
    w: ArrayLike, b: float, eps: ArrayLike, p: float, d: int
) -> tuple[FloatArray, float, FloatArray]:
    w_a = np.asarray(w, dtype=float)
    if w_a.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match x, got {w_a.shape}")
    check_finite("w", w_a)
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar, got {b!r}")
    check_finite("b", b)
    check_nonnegative("eps", eps)
    p_f = _check_norm_p(p)
    q = float(dual_exponent(p_f))
    eta = np.asarray(eps, dtype=float) * np.linalg.norm(w_a, ord=q)
    return w_a, float(b), eta


def linear_classifier_risks(
    x: ArrayLike, y: ArrayLike, w: ArrayLike, b: float, eps: ArrayLike, p: float = np.inf
) -> LinearRisks:
    r"""``Risk``, ``AdvRisk_eps`` and ``AG_eps`` of ``f(x) = sgn(w . x + b)`` on a sample
    (Definition 2.3, with the empirical measure of ``(x, y)`` as ``mu_XY``).

    Exact per point (see :func:`adversarial_errors`): an error under attack iff the margin
    ``y (w . x + b) < eps ||w||_q`` (``<=`` for ``y = -1``, since ``sgn(0) = +1``). ``eps`` may be
    an array (any shape) of budgets: the margins are sorted once and each budget costs a binary
    search. ``x (n, d)``, ``y (n,)`` in ``{-1, +1}``, ``w (d,)``, scalar ``b``, ``p`` in
    ``[1, inf]``.
    """
    x_a = _points("x", x)
    y_a = _labels(y, x_a.shape[0])
    w_a, b_f, eta = _linear_args(w, b, eps, p, x_a.shape[1])
    n = x_a.shape[0]
    margin = y_a * (x_a @ w_a + b_f)
    neg = np.sort(margin[y_a < 0])
    all_sorted = np.sort(margin)
    # margin < eta, plus the ties margin == eta of the -1 class
    below = np.searchsorted(all_sorted, eta, side="left")
    ties = np.searchsorted(neg, eta, side="right") - np.searchsorted(neg, eta, side="left")
    adv = (below + ties) / n
    natural = float((np.searchsorted(all_sorted, 0.0, "left") + np.count_nonzero(neg == 0.0)) / n)
    adv = np.asarray(adv, dtype=float)
    return LinearRisks(
        natural_risk=natural,
        adversarial_risk=adv,
        adversarial_gap=adv - natural,
        eta=np.asarray(eta, dtype=float),
    )


# ----------------------------------------------------------------------------------------------
# Representation vulnerability of sgn(w . x) on an empirical measure (Definition 3.1)
# ----------------------------------------------------------------------------------------------
class SignRV(NamedTuple):
    """Natural and worst-case MI of ``g(x) = sgn(w . x)`` on a sample, and its RV (Def. 3.1)."""

    mi_natural: float  #: ``I(X; g(X)) = H(g(X))`` with ``X`` uniform over the sample
    mi_worst: float  #: ``inf`` over the ``W_inf`` ball of ``I(X'; g(X'))``
    rv: float  #: ``mi_natural - mi_worst``
    band_fraction: float  #: fraction of points with ``|w . x| < eps ||w||_q`` (can switch code)
    worst_side: int  #: the code (``+1`` or ``-1``) the adversary sends the whole band to


def empirical_sign_rv(x: ArrayLike, w: ArrayLike, eps: float, p: float = np.inf) -> SignRV:
    r"""Exact ``RV_eps(g)`` of ``g(x) = sgn(w . x)`` for the empirical measure of ``x``
    (Definition 3.1; ``mu_X`` = uniform over the rows of ``x``).

    ``g`` is deterministic with output in ``{-1, +1}``, so ``I(X'; g(X')) = H2(P[g(X') = 1])``
    (nats). With ``s = w . x`` and ``eta = eps ||w||_q``, a point with code ``-1`` can reach
    code ``+1`` iff ``s + eta >= 0`` (``sgn(0) = +1``), and a point with code ``+1`` can reach
    ``-1`` iff ``s - eta < 0``: the band ``-eta <= s < eta``. Any measure of the ``W_inf`` ball,
    even one splitting an atom's mass, has ``P[g(X') = 1]`` in the interval whose ends are
    "whole band to ``-1``" and "whole band to ``+1``"; ``H2`` is concave, so the infimum is at
    one end, and it is attained inside ``A(S, eps)`` of eq. (4.2). ``x (n, d)``, ``w (d,)``
    non-zero, scalar ``eps``, ``p`` in ``[1, inf]``. Invariant under ``w -> c w``, ``c > 0``.
    """
    x_a = _points("x", x)
    w_a, _, eta_arr = _linear_args(w, 0.0, eps, p, x_a.shape[1])
    if np.ndim(eps) != 0:
        raise ValueError(f"eps must be a scalar, got {eps!r}")
    if not (w_a != 0).any():
        raise ValueError("w must be non-zero (sgn(0 . x) is a constant representation)")
    eta = float(eta_arr)
    s = x_a @ w_a
    n = s.size
    plus = s >= 0
    to_plus = (~plus) & (s + eta >= 0)
    to_minus = plus & (s - eta < 0)
    k_plus = np.count_nonzero(plus)
    q_low = (k_plus - np.count_nonzero(to_minus)) / n  # whole band to -1
    q_high = (k_plus + np.count_nonzero(to_plus)) / n  # whole band to +1
    h_low, h_high, mi_nat = (float(v) for v in binary_entropy([q_low, q_high, k_plus / n]))
    worst, side = (h_low, -1) if h_low <= h_high else (h_high, 1)
    return SignRV(
        mi_natural=mi_nat,
        mi_worst=worst,
        rv=mi_nat - worst,
        band_fraction=float(np.count_nonzero(to_plus | to_minus) / n),
        worst_side=side,
    )


def sign_rv_of_points(x_perturbed: ArrayLike, w: ArrayLike, natural_mi: float = LOG2) -> float:
    r"""The true RV that a set of perturbed points realises for ``g(x) = sgn(w . x)``:
    ``natural_mi - H2(q)``, with ``q`` the share of rows of ``x_perturbed`` with
    ``w . x' >= 0`` (``sgn(0) = +1``).

    ``g`` is a deterministic binary code, so ``I(X'; g(X')) = H(g(X')) = H2(q)`` exactly for
    the empirical measure of the points (Definition 3.1); ``natural_mi`` defaults to
    ``log 2``, the clean ``I(X; g(X))`` of Theorem 3.2's symmetric mixture (a balanced code).
    This is the "true RV of the points found" by a worst-case search (Section 4, eq. (4.2)):
    how much information the distribution the search reached really lost, whatever a critic
    reads on it. ``x_perturbed (n, d)``, ``w (d,)``.
    """
    x_a = _points("x_perturbed", x_perturbed)
    w_a = np.asarray(w, dtype=float)
    if w_a.shape != (x_a.shape[1],):
        raise ValueError(f"w must have shape ({x_a.shape[1]},), got {w_a.shape}")
    check_finite("w", w_a)
    share = float(np.mean(x_a @ w_a >= 0))
    return float(natural_mi) - float(binary_entropy(share))
