"""Tests for robustrep_lite.theory.measures: Section 2's quantities on finite / empirical
distributions.

Mutual information against hand-computed tables; the infinity-Wasserstein distance against a
brute force over all permutations; the adversarial-risk formula against explicit worst-case
perturbations built with ``theory.worst_case_perturbation``; the empirical RV against a brute
force over all per-point choices and against the Gaussian-mixture closed form.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from robustrep_lite.theory import measures as ms
from robustrep_lite.theory import theorems as th

LOG2 = np.log(2.0)


# ----------------------------------------------------------------------------------------------
# entropy and mutual information (Definition 2.1)
# ----------------------------------------------------------------------------------------------
def test_entropy_hand_values() -> None:
    assert ms.entropy([1.0, 0.0, 0.0]) == 0.0
    assert ms.entropy(np.full(4, 0.25)) == pytest.approx(np.log(4.0))
    p = np.array([0.5, 0.25, 0.25])
    assert ms.entropy(p) == pytest.approx(1.5 * LOG2)
    batch = ms.entropy([[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(batch, [LOG2, 0.0])


def test_mutual_information_independent_and_diagonal() -> None:
    px, pz = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.4])
    assert ms.discrete_mutual_information(np.outer(px, pz)) == pytest.approx(0.0, abs=1e-15)
    for k in (2, 3, 7):
        assert ms.discrete_mutual_information(np.eye(k) / k) == pytest.approx(np.log(k))


def test_mutual_information_hand_table() -> None:
    # I = sum p log p/(px pz) by hand for a 2x2 table
    joint = np.array([[0.4, 0.1], [0.2, 0.3]])
    px, pz = joint.sum(1), joint.sum(0)
    by_hand = sum(
        joint[i, j] * np.log(joint[i, j] / (px[i] * pz[j])) for i in range(2) for j in range(2)
    )
    assert ms.discrete_mutual_information(joint) == pytest.approx(by_hand)
    # I = H(X) + H(Z) - H(X, Z)
    h = ms.entropy(px) + ms.entropy(pz) - ms.entropy(joint.ravel())
    assert ms.discrete_mutual_information(joint) == pytest.approx(h)


def test_symmetric_channel_closed_form() -> None:
    noise = np.linspace(0.0, 1.0, 11)
    for k in (2, 4):
        joint = ms.symmetric_channel_joint(noise, k)
        assert joint.shape == (11, k, k)
        np.testing.assert_allclose(joint.sum(axis=(-2, -1)), 1.0)
        expected = np.log(k) - th.binary_entropy(noise) - noise * np.log(k - 1)
        np.testing.assert_allclose(ms.discrete_mutual_information(joint), expected, atol=1e-12)
    # independence at noise = (k - 1) / k
    assert ms.discrete_mutual_information(ms.symmetric_channel_joint(0.75, 4)) < 1e-15


def test_plugin_mi_of_deterministic_code_is_its_entropy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3))
    codes = np.where(x @ np.array([1.0, -2.0, 0.5]) >= 0, 1, -1)
    assert ms.plugin_mutual_information(np.arange(500), codes) == pytest.approx(
        ms.plugin_entropy(codes)
    )
    frac = np.mean(codes > 0)
    assert ms.plugin_entropy(codes) == pytest.approx(th.binary_entropy(frac))
    # vector codes (rows are outcomes), and invariance under relabelling z -> z / c
    vec = np.stack([codes, np.sign(x[:, 0])], axis=1)
    assert ms.plugin_entropy(vec) == pytest.approx(ms.plugin_entropy(vec / 1000.0))
    assert ms.plugin_entropy(np.arange(8)) == pytest.approx(np.log(8))
    # a noisy code of an independent variable carries ~ no information
    assert ms.plugin_mutual_information(codes, rng.integers(0, 2, 500)) < 0.01


def test_binned_gaussian_entropy_grows_like_minus_log_width() -> None:
    widths = np.array([0.1, 0.01, 0.001])
    h = ms.binned_gaussian_entropy(widths)
    differential = 0.5 * np.log(2 * np.pi * np.e)
    np.testing.assert_allclose(h, differential - np.log(widths), atol=1e-3)
    assert ms.binned_gaussian_entropy(100.0) == pytest.approx(LOG2)  # two bins, half each
    assert ms.binned_gaussian_entropy(0.2, scale=2.0) == pytest.approx(
        ms.binned_gaussian_entropy(0.1)
    )


# ----------------------------------------------------------------------------------------------
# infinity-Wasserstein distance (Definition 2.2)
# ----------------------------------------------------------------------------------------------
def brute_force_winf(x: np.ndarray, y: np.ndarray, p: float) -> float:
    d = ms.lp_distance_matrix(x, y, p)
    rows = np.arange(len(x))
    return min(d[rows, list(perm)].max() for perm in itertools.permutations(range(len(x))))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
def test_winf_equals_brute_force_over_permutations(p: float) -> None:
    rng = np.random.default_rng(1)
    for n in range(1, 7):
        for _ in range(3):
            x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 2))
            result = ms.optimal_winf_matching(x, y, p)
            assert result.distance == pytest.approx(brute_force_winf(x, y, p))
            assert sorted(result.matching) == list(range(n))
            moved = ms.lp_norm(x - y[result.matching], p).max()
            assert moved == pytest.approx(result.distance)
            assert ms.matched_winf_distance(x, y, p) >= result.distance


def test_distance_matrix_matches_numpy_norms() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    for p in (1.0, 1.5, 2.0, np.inf):
        expected = np.linalg.norm(x[:, None, :] - y[None, :, :], ord=p, axis=-1)
        np.testing.assert_allclose(ms.lp_distance_matrix(x, y, p), expected)


def test_winf_relabelling_and_rotation() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2))
    y = x + 0.1 * rng.uniform(-1, 1, x.shape)
    perm = rng.permutation(40)
    assert ms.empirical_winf_distance(x, y[perm]) == pytest.approx(ms.empirical_winf_distance(x, y))
    assert ms.matched_winf_distance(x, y[perm]) > ms.matched_winf_distance(x, y)
    assert ms.matched_winf_distance(x, y) <= 0.1
    # rotating a ring of n points by one step: every point moves, the measure does not
    angles = 2 * np.pi * np.arange(12) / 12
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rotated = np.roll(ring, -1, axis=0)
    assert ms.empirical_winf_distance(ring, rotated, 2) == pytest.approx(0.0, abs=1e-12)
    assert ms.matched_winf_distance(ring, rotated, 2) == pytest.approx(2 * np.sin(np.pi / 12))
    # in 1-D the sorted (monotone) matching is optimal
    a, b = rng.standard_normal((30, 1)), rng.standard_normal((30, 1))
    sorted_cost = np.abs(np.sort(a[:, 0]) - np.sort(b[:, 0])).max()
    assert ms.empirical_winf_distance(a, b, 2) == pytest.approx(sorted_cost)


# ----------------------------------------------------------------------------------------------
# adversarial risk of a linear classifier (Definition 2.3)
# ----------------------------------------------------------------------------------------------
def mixture_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta, cov = np.array([1.0, 0.5]), np.array([[0.5, 0.2], [0.2, 0.8]])
    y = rng.choice([-1.0, 1.0], n)
    x = y[:, None] * theta + rng.standard_normal((n, 2)) @ np.linalg.cholesky(cov).T
    return x, y, theta, cov


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
def test_adversarial_errors_match_explicit_perturbation(p: float) -> None:
    x, y, _, _ = mixture_sample(4000, seed=4)
    w, b = np.array([1.0, -0.4]), 0.2
    f = lambda pts: np.where(pts @ w + b >= 0, 1.0, -1.0)  # noqa: E731
    for eps in (0.0, 0.1, 0.5):
        delta = th.worst_case_perturbation(w, eps, p)
        assert np.linalg.norm(delta, ord=p) <= eps + 1e-12
        explicit = (f(x) != y) | (f(x - y[:, None] * delta) != y)
        formula = ms.adversarial_errors(x, y, w, b, eps, p)
        # identical away from rounding ties at the boundary
        assert np.count_nonzero(explicit != formula) == 0
        risks = ms.linear_classifier_risks(x, y, w, b, eps, p)
        assert float(risks.adversarial_risk) == pytest.approx(formula.mean())
        assert risks.natural_risk == pytest.approx(np.mean(f(x) != y))


def test_linear_risks_ties_follow_sgn_zero_is_plus_one() -> None:
    x = np.array([[0.0], [0.0], [1.0], [-1.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    w = np.array([1.0])
    r = ms.linear_classifier_risks(x, y, w, 0.0, [0.0, 1.0, 1.5], p=2)
    # natural: (0, -1) is an error (sgn 0 = +1); eps = 1: (1, +1) can reach 0 -> +1, correct;
    # (-1, -1) can reach 0 -> +1, an error
    assert r.natural_risk == pytest.approx(0.25)
    np.testing.assert_allclose(r.adversarial_risk, [0.25, 0.75, 1.0])
    np.testing.assert_allclose(r.adversarial_gap, [0.0, 0.5, 0.75])
    np.testing.assert_array_equal(ms.adversarial_errors(x, y, w, 0.0, 1.0, 2), [1, 1, 0, 1])


def test_linear_risks_match_gaussian_mixture_closed_form() -> None:
    x, y, theta, cov = mixture_sample(200_000, seed=5)
    w = np.array([1.0, 0.3])
    eps = np.array([0.0, 0.1, 0.3, 0.6])
    for p in (2.0, np.inf):
        r = ms.linear_classifier_risks(x, y, w, 0.0, eps, p)
        nat, adv = th.gaussian_mixture_risks(theta, cov, w, eps, p)
        se = np.sqrt(adv * (1 - adv) / len(y))
        assert np.all(np.abs(r.adversarial_risk - adv) < 5 * se)
        assert abs(r.natural_risk - nat[0]) < 5 * se[0]
        gap = th.gaussian_mixture_adversarial_gap(theta, cov, w, eps, p)
        assert np.all(np.abs(r.adversarial_gap - gap) < 5 * se)
        assert np.all(np.diff(r.adversarial_risk) >= 0)


# ----------------------------------------------------------------------------------------------
# representation vulnerability of sgn(w . x) on a sample (Definition 3.1)
# ----------------------------------------------------------------------------------------------
def test_empirical_sign_rv_brute_force() -> None:
    # brute force over every choice of code for every point that can switch (the set A(S, eps))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((10, 2)) + np.array([0.3, 0.0])
    w = np.array([1.0, 0.5])
    for eps, p in ((0.3, np.inf), (0.6, 2.0), (2.0, 1.0)):
        eta = eps * np.linalg.norm(w, ord=th.dual_exponent(p))
        s = x @ w
        plus = s >= 0
        free = np.flatnonzero((s >= -eta) & (s < eta))
        best = np.inf
        for choice in itertools.product([False, True], repeat=free.size):
            codes = plus.copy()
            codes[free] = choice
            best = min(best, ms.plugin_entropy(codes))
        r = ms.empirical_sign_rv(x, w, eps, p)
        assert r.mi_worst == pytest.approx(best)
        assert r.mi_natural == pytest.approx(ms.plugin_entropy(plus))
        assert r.rv == pytest.approx(r.mi_natural - best)
        assert r.band_fraction == pytest.approx(free.size / 10)


def test_empirical_sign_rv_matches_closed_form_and_is_scale_invariant() -> None:
    x, _, theta, cov = mixture_sample(400_000, seed=7)
    w = np.array([1.0, 0.3])
    r = ms.empirical_sign_rv(x, w, 0.3, np.inf)
    assert r.rv == pytest.approx(
        float(th.gaussian_mixture_rv(theta, cov, w, 0.3, np.inf)), abs=2e-3
    )
    assert r.mi_natural == pytest.approx(LOG2, abs=1e-4)
    for c in (10.0, 1e4):
        assert ms.empirical_sign_rv(x, w / c, 0.3, np.inf) == r
    zero = ms.empirical_sign_rv(x, w, 0.0, np.inf)
    assert zero.rv == 0.0 and zero.band_fraction == 0.0
    huge = ms.empirical_sign_rv(x, w, 100.0, np.inf)
    assert huge.mi_worst == 0.0 and huge.rv == pytest.approx(huge.mi_natural)


# ----------------------------------------------------------------------------------------------
# every ValueError names its argument
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ms.entropy([0.5, 0.6]), "p"),
        (lambda: ms.entropy([1.5, -0.5]), "p"),
        (lambda: ms.entropy([np.nan, 1.0]), "p"),
        (lambda: ms.entropy([]), "p"),
        (lambda: ms.entropy(0.5), "p"),
        (lambda: ms.entropy("abc"), "p"),
        (lambda: ms.discrete_mutual_information([0.5, 0.5]), "joint"),
        (lambda: ms.discrete_mutual_information([[0.5, 0.6], [0.0, 0.0]]), "joint"),
        (lambda: ms.discrete_mutual_information([[1.2, -0.2], [0.0, 0.0]]), "joint"),
        (lambda: ms.symmetric_channel_joint(1.5), "noise"),
        (lambda: ms.symmetric_channel_joint(np.nan), "noise"),
        (lambda: ms.symmetric_channel_joint(0.1, k=1), "k"),
        (lambda: ms.symmetric_channel_joint(0.1, k=2.0), "k"),
        (lambda: ms.plugin_entropy([]), "codes"),
        (lambda: ms.plugin_entropy(np.zeros((2, 2, 2))), "codes"),
        (lambda: ms.plugin_entropy([np.nan, 1.0]), "codes"),
        (lambda: ms.plugin_mutual_information([1, 2], [1, 2, 3]), "a and b"),
        (lambda: ms.plugin_mutual_information([], [1]), "a"),
        (lambda: ms.binned_gaussian_entropy(0.0), "bin_width"),
        (lambda: ms.binned_gaussian_entropy(1e-9), "bin_width"),
        (lambda: ms.binned_gaussian_entropy(0.1, scale=0.0), "scale"),
        (lambda: ms.binned_gaussian_entropy(0.1, scale=-1.0), "scale"),
        (lambda: ms.lp_norm(np.ones((2, 2)), 0.5), "p"),
        (lambda: ms.lp_norm(np.ones((2, 2)), np.nan), "p"),
        (lambda: ms.lp_norm(np.ones((2, 2)), [1, 2]), "p"),
        (lambda: ms.lp_distance_matrix(np.ones((2, 2)), np.ones((2, 3))), "x and y"),
        (lambda: ms.lp_distance_matrix(np.ones(2), np.ones((2, 2))), "x"),
        (lambda: ms.empirical_winf_distance(np.ones((2, 2)), np.ones((3, 2))), "x and y"),
        (lambda: ms.empirical_winf_distance(np.zeros((0, 2)), np.zeros((0, 2))), "x"),
        (lambda: ms.empirical_winf_distance(np.full((2, 2), np.inf), np.ones((2, 2))), "x"),
        (lambda: ms.matched_winf_distance(np.ones((2, 2)), np.ones((2, 1))), "x and x_perturbed"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, 0], [1, 1], 0, 0.1), "y"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1], [1, 1], 0, 0.1), "y"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, -1], [1], 0, 0.1), "w"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, -1], [1, 1], [0, 1], 0), "b"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, -1], [1, 1], np.nan, 0), "b"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, -1], [1, 1], 0, -0.1), "eps"),
        (lambda: ms.linear_classifier_risks(np.ones((2, 2)), [1, -1], [1, 1], 0, 0.1, 0.5), "p"),
        (lambda: ms.adversarial_errors(np.ones((2, 2)), [1, -1], [np.inf, 1], 0, 0.1), "w"),
        (lambda: ms.empirical_sign_rv(np.ones((2, 2)), [0, 0], 0.1), "w"),
        (lambda: ms.empirical_sign_rv(np.ones((2, 2)), [1, 1], [0.1, 0.2]), "eps"),
        (lambda: ms.empirical_sign_rv(np.ones((2, 2)), [1, 1], -1.0), "eps"),
    ],
)
def test_value_errors_name_the_argument(call: Callable[[], object], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


# ----------------------------------------------------------------------------------------------
# the answers of chapter 1's exercises, so the book's solutions cannot drift from the code
# ----------------------------------------------------------------------------------------------
def test_chapter_1_exercise_answers() -> None:
    # 1. 4-ary symmetric channel at noise 0.3: ~0.446 nats; zero at 3/4
    mi = ms.discrete_mutual_information(ms.symmetric_channel_joint(0.3, k=4))
    assert mi == pytest.approx(0.446, abs=5e-4)
    # 2. W_inf between uniform {0, 1, 2} and {0.5, 1.5, 2.5} is 0.5; reordered identity 2.5
    a, b = np.array([[0.0], [1.0], [2.0]]), np.array([[2.5], [0.5], [1.5]])
    assert ms.empirical_winf_distance(a, b, p=2) == pytest.approx(0.5)
    assert ms.matched_winf_distance(a, b, p=2) == pytest.approx(2.5)
    # 4. the threshold at which sgn(w . x) can be made constant on the sample
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((200, 2)), np.array([0.6, 0.8])
    s = x @ w
    eps_star = min(-s.min(), s.max()) / np.abs(w).sum()
    assert ms.empirical_sign_rv(x, w, 0.999 * eps_star, np.inf).mi_worst > 0
    assert ms.empirical_sign_rv(x, w, 1.001 * eps_star, np.inf).mi_worst == 0


# ----------------------------------------------------------------------------------------------
# the true RV of the points a search found (Chapter 5, bench/gaussian_rv_validation.py)
# ----------------------------------------------------------------------------------------------
def test_sign_rv_of_points_is_log2_minus_the_code_entropy() -> None:
    w = np.array([1.0, -1.0])
    balanced = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    assert ms.sign_rv_of_points(balanced, w) == pytest.approx(0.0, abs=1e-15)
    # 3 of 4 on the + side (w . x = 0 counts as +): H2(3/4) = 0.5623 nats
    shifted = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert ms.sign_rv_of_points(shifted, w) == pytest.approx(LOG2 - h)
    assert ms.sign_rv_of_points(shifted, w) == pytest.approx(0.1308, abs=1e-4)
    # every point on one side: the whole log 2 is lost; another clean MI is subtracted from
    one_side = np.ones((5, 2)) * np.array([1.0, 0.0])
    assert ms.sign_rv_of_points(one_side, w) == pytest.approx(LOG2)
    assert ms.sign_rv_of_points(shifted, w, natural_mi=h) == pytest.approx(0.0, abs=1e-15)
    # the exact worst case of a sample (whole band to one side) realises empirical_sign_rv
    x, _, _, _ = mixture_sample(2000, seed=3)
    w = np.array([1.0, 0.3])
    r = ms.empirical_sign_rv(x, w, 0.5, np.inf)
    s = x @ w
    eta = 0.5 * np.abs(w).sum()
    band = (s >= -eta) & (s < eta)
    moved = x.copy()
    moved[band] += r.worst_side * 0.5 * np.sign(w)
    assert ms.sign_rv_of_points(moved, w, r.mi_natural) == pytest.approx(r.rv)
    with pytest.raises(ValueError, match="^w"):
        ms.sign_rv_of_points(x, [1.0, 0.0, 0.0])
