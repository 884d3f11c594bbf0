"""Tests for robustrep_lite.theory.theorems: closed forms of Sections 2-3 of Zhu, Zhang & Evans
(2020).

The Gaussian-mixture closed forms are checked against an independent Monte Carlo simulation
that builds the worst-case perturbations in input space; Theorem 3.2 (corrected) on a dense
random grid; Theorem 3.4 against the paper's own number (1.08 nats, 10 classes -> 77.0%).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ndtr

from robustrep_lite.theory import theorems as th

LOG2 = np.log(2.0)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def random_model(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = 0.8 * rng.standard_normal(d)
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + 0.2 * np.eye(d)
    w = rng.standard_normal(d)
    return theta, cov, w


def random_grid(rng: np.random.Generator, n: int, d: int) -> dict[str, np.ndarray]:
    a = rng.standard_normal((n, d, d))
    return {
        "theta": rng.standard_normal((n, d)) * rng.uniform(0.0, 3.0, (n, 1)),
        "cov": a @ a.transpose(0, 2, 1) / d + 0.05 * np.eye(d),
        "w": rng.standard_normal((n, d)),
        "eps": 10.0 ** rng.uniform(-3.0, 1.0, n),
        "p": rng.choice([1.0, 1.5, 2.0, 4.0, np.inf], n),
    }


def close(mc: float, se: float, exact: float, n: int) -> bool:
    return abs(mc - exact) <= 4.0 * se + 5.0 / n


# ----------------------------------------------------------------------------------------------
# binary entropy
# ----------------------------------------------------------------------------------------------
def test_binary_entropy_values() -> None:
    assert th.binary_entropy(0.0) == 0.0
    assert th.binary_entropy(1.0) == 0.0
    assert th.binary_entropy(0.5) == pytest.approx(LOG2, abs=1e-15)
    t = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(
        th.binary_entropy(t), -t * np.log(t) - (1 - t) * np.log(1 - t), rtol=1e-13
    )
    np.testing.assert_allclose(th.binary_entropy(t), th.binary_entropy(1 - t), rtol=1e-13)


def test_binary_entropy_derivative() -> None:
    t = np.linspace(0.02, 0.98, 49)
    h = 1e-6
    fd = (th.binary_entropy(t + h) - th.binary_entropy(t - h)) / (2 * h)
    np.testing.assert_allclose(th.binary_entropy_derivative(t), fd, rtol=1e-6, atol=1e-8)
    assert th.binary_entropy_derivative(0.5) == 0.0
    assert th.binary_entropy_derivative(0.0) == np.inf
    assert th.binary_entropy_derivative(1.0) == -np.inf
    assert np.all(th.binary_entropy_derivative(np.linspace(0.01, 0.49, 20)) > 0)


@pytest.mark.parametrize("fn", [th.binary_entropy, th.binary_entropy_derivative])
@pytest.mark.parametrize("bad", [-0.1, 1.1, np.nan])
def test_binary_entropy_rejects(fn, bad: float) -> None:
    with pytest.raises(ValueError, match=r"\bt\b"):
        fn(np.array([0.3, bad]))


# ----------------------------------------------------------------------------------------------
# l_p geometry
# ----------------------------------------------------------------------------------------------
def test_dual_exponent() -> None:
    np.testing.assert_array_equal(
        th.dual_exponent(np.array([1.0, 2.0, 3.0, np.inf])), [np.inf, 2.0, 1.5, 1.0]
    )
    assert th.dual_exponent(float("inf")) == 1.0


@pytest.mark.parametrize("p", [1.0, 1.3, 2.0, 3.0, np.inf])
def test_worst_case_perturbation_is_feasible_and_optimal(p: float) -> None:
    rng = np.random.default_rng(11)
    w = rng.standard_normal(6)
    eps = 0.7
    delta = th.worst_case_perturbation(w, eps, p)
    q = float(th.dual_exponent(p))
    assert np.linalg.norm(delta, ord=p) == pytest.approx(eps, rel=1e-12)
    assert w @ delta == pytest.approx(eps * np.linalg.norm(w, ord=q), rel=1e-12)
    # no random feasible perturbation (on the l_p sphere of radius eps) does better
    cand = rng.standard_normal((20000, 6)) * rng.exponential(1.0, (20000, 6))
    cand *= eps / np.linalg.norm(cand, ord=p, axis=1, keepdims=True)
    assert np.max(cand @ w) <= w @ delta * (1 + 1e-12)


def test_projection_values() -> None:
    theta = np.array([1.0, -2.0])
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    w = np.array([3.0, -4.0])
    proj = th.gaussian_mixture_projection(theta, cov, w, 0.1, np.array([1.0, 2.0, np.inf]))
    assert proj.m.shape == (3,)
    np.testing.assert_allclose(proj.m, 11.0)
    np.testing.assert_allclose(proj.sigma, np.sqrt(18 - 12 + 16))
    np.testing.assert_allclose(proj.eta, [0.4, 0.5, 0.7])


# ----------------------------------------------------------------------------------------------
# closed forms vs Monte Carlo
# ----------------------------------------------------------------------------------------------
N_MC = 200_000


@pytest.mark.parametrize("d", [2, 5])
@pytest.mark.parametrize("p", [1.0, 2.0, np.inf, 3.0])
def test_closed_forms_match_monte_carlo(d: int, p: float) -> None:
    rng = np.random.default_rng(1000 * d + int(min(p, 99)))
    theta, cov, w = random_model(rng, d)
    # eps such that the band half-width is 0.2-1 standard deviations of w.x
    unit = th.gaussian_mixture_projection(theta, cov, w, 1.0, p)
    eps = float(rng.uniform(0.2, 1.0) * unit.sigma / unit.eta)

    mc = th.gaussian_mixture_monte_carlo(theta, cov, w, eps, p, n_samples=N_MC, seed=7)
    rv = float(th.gaussian_mixture_rv(theta, cov, w, eps, p))
    mi_worst = float(th.gaussian_mixture_worst_case_mi(theta, cov, w, eps, p))
    ag = float(th.gaussian_mixture_adversarial_gap(theta, cov, w, eps, p))
    risk, adv_risk = map(float, th.gaussian_mixture_risks(theta, cov, w, eps, p))

    assert ag > 0.02 and rv > 1e-4  # a non-trivial setting
    assert close(mc.mi_natural, mc.se_mi_natural, LOG2, N_MC)
    assert close(mc.mi_worst, mc.se_mi_worst, mi_worst, N_MC)
    assert close(mc.rv, mc.se_rv, rv, N_MC)
    assert close(mc.natural_risk, mc.se_natural_risk, risk, N_MC)
    assert close(mc.adversarial_risk, mc.se_adversarial_risk, adv_risk, N_MC)
    assert close(mc.adversarial_gap, mc.se_adversarial_gap, ag, N_MC)
    assert mc.h_sign == np.sign(w @ theta)
    assert mc.max_perturbation_norm <= eps * (1 + 1e-9)
    assert mc.max_perturbation_norm == pytest.approx(eps, rel=1e-9)


def test_monte_carlo_has_power_against_a_wrong_dual_norm() -> None:
    """Using ||w||_p instead of ||w||_q (p = 1 vs inf) is caught by the simulation."""
    rng = np.random.default_rng(5)
    theta, cov, w = random_model(rng, 5)
    eps = 0.15
    mc = th.gaussian_mixture_monte_carlo(theta, cov, w, eps, 1.0, n_samples=N_MC, seed=3)
    wrong_rv = float(th.gaussian_mixture_rv(theta, cov, w, eps, np.inf))
    wrong_ag = float(th.gaussian_mixture_adversarial_gap(theta, cov, w, eps, np.inf))
    assert not close(mc.rv, mc.se_rv, wrong_rv, N_MC)
    assert not close(mc.adversarial_gap, mc.se_adversarial_gap, wrong_ag, N_MC)
    assert close(mc.rv, mc.se_rv, float(th.gaussian_mixture_rv(theta, cov, w, eps, 1.0)), N_MC)


def test_monte_carlo_is_deterministic_and_zero_at_eps_zero() -> None:
    theta, cov, w = random_model(np.random.default_rng(2), 3)
    a = th.gaussian_mixture_monte_carlo(theta, cov, w, 0.3, 2.0, n_samples=20_000, seed=4)
    b = th.gaussian_mixture_monte_carlo(theta, cov, w, 0.3, 2.0, n_samples=20_000, seed=4)
    assert a == b
    z = th.gaussian_mixture_monte_carlo(theta, cov, w, 0.0, 2.0, n_samples=20_000, seed=4)
    assert z.rv == 0.0 and z.adversarial_gap == 0.0 and z.max_perturbation_norm == 0.0


# ----------------------------------------------------------------------------------------------
# properties of the closed forms
# ----------------------------------------------------------------------------------------------
def test_closed_forms_match_direct_formulas() -> None:
    """RV and AG from the 1-D projection, written out independently of the module."""
    theta = np.array([0.6, -0.3, 0.2])
    cov = np.diag([1.0, 0.5, 2.0])
    w = np.array([1.0, 2.0, -1.0])
    eps, p = 0.25, np.inf
    m, sigma, eta = w @ theta, np.sqrt(w @ cov @ w), eps * np.abs(w).sum()
    q_worst = 0.5 * (ndtr((m - eta) / sigma) + ndtr((-m - eta) / sigma))
    h2 = -q_worst * np.log(q_worst) - (1 - q_worst) * np.log(1 - q_worst)
    assert th.gaussian_mixture_rv(theta, cov, w, eps, p) == pytest.approx(LOG2 - h2, rel=1e-10)
    risk, adv = th.gaussian_mixture_risks(theta, cov, w, eps, p)
    assert risk == pytest.approx(ndtr(-abs(m) / sigma), rel=1e-12)
    assert adv == pytest.approx(ndtr((eta - abs(m)) / sigma), rel=1e-12)
    assert th.gaussian_mixture_adversarial_gap(theta, cov, w, eps, p) == pytest.approx(adv - risk)


def test_ranges_zero_at_eps_zero_and_monotone_in_eps() -> None:
    rng = np.random.default_rng(8)
    g = random_grid(rng, 3000, 3)
    args = (g["theta"], g["cov"], g["w"])
    rv = th.gaussian_mixture_rv(*args, g["eps"], g["p"])
    ag = th.gaussian_mixture_adversarial_gap(*args, g["eps"], g["p"])
    assert rv.shape == ag.shape == (3000,)
    assert np.all((rv >= 0) & (rv <= LOG2)) and np.all((ag >= 0) & (ag <= 1))
    assert rv.max() > 0.5 and ag.max() > 0.9  # the ranges are actually explored
    np.testing.assert_array_equal(th.gaussian_mixture_rv(*args, 0.0, g["p"]), 0.0)
    np.testing.assert_array_equal(th.gaussian_mixture_adversarial_gap(*args, 0.0, g["p"]), 0.0)
    rv2 = th.gaussian_mixture_rv(*args, 1.5 * g["eps"], g["p"])
    assert np.all(rv2 >= rv) and np.mean(rv2 > rv) > 0.9
    np.testing.assert_allclose(
        th.gaussian_mixture_worst_case_mi(*args, g["eps"], g["p"]), LOG2 - rv, atol=1e-15
    )


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0, -2.0])
def test_scale_invariance_in_w(scale: float) -> None:
    rng = np.random.default_rng(9)
    g = random_grid(rng, 500, 4)
    for p in (1.0, 2.0, np.inf, 2.5):
        args = (g["theta"], g["cov"])
        for fn in (th.gaussian_mixture_rv, th.gaussian_mixture_adversarial_gap):
            np.testing.assert_allclose(
                fn(*args, scale * g["w"], g["eps"], p),
                fn(*args, g["w"], g["eps"], p),
                rtol=1e-9,
                atol=1e-14,
            )


def test_batched_equals_pointwise() -> None:
    rng = np.random.default_rng(10)
    g = random_grid(rng, 12, 3)
    batched = th.gaussian_mixture_rv(g["theta"], g["cov"], g["w"], g["eps"], g["p"])
    for i in range(12):
        one = th.gaussian_mixture_rv(g["theta"][i], g["cov"][i], g["w"][i], g["eps"][i], g["p"][i])
        assert batched[i] == pytest.approx(float(one), rel=1e-14, abs=1e-300)
    # one model, many eps (broadcast of a (5,) eps against unbatched theta, cov, w)
    eps = np.linspace(0.0, 1.0, 5)
    out = th.gaussian_mixture_rv(g["theta"][0], g["cov"][0], g["w"][0], eps, 2.0)
    assert out.shape == (5,) and np.all(np.diff(out) > 0)


def test_rv_along_directions() -> None:
    theta = np.array([1.0, 0.5])
    angles = np.linspace(0.0, np.pi, 721)
    rv = th.rv_along_directions(theta, np.eye(2), angles, 0.4, 2.0)
    w = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    np.testing.assert_allclose(rv, th.gaussian_mixture_rv(theta, np.eye(2), w, 0.4, 2.0))
    # for Sigma = I and p = 2 the most robust direction is along theta
    assert angles[np.argmin(rv)] == pytest.approx(np.arctan2(0.5, 1.0), abs=np.pi / 720)
    with pytest.raises(ValueError, match="theta"):
        th.rv_along_directions(np.zeros(3), np.eye(3), angles, 0.4, 2.0)


# ----------------------------------------------------------------------------------------------
# Theorem 3.2
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
def test_theorem_3_2_corrected_holds_on_dense_grid(d: int) -> None:
    rng = np.random.default_rng(32 + d)
    g = random_grid(rng, 20_000, d)
    rv = th.gaussian_mixture_rv(g["theta"], g["cov"], g["w"], g["eps"], g["p"])
    ag = th.gaussian_mixture_adversarial_gap(g["theta"], g["cov"], g["w"], g["eps"], g["p"])
    lower, upper = th.theorem_3_2_bounds(ag)
    assert np.mean(ag > 0.5) > 0.1 and np.mean(ag < 0.05) > 0.05  # both regimes covered
    assert np.all(lower <= rv * (1 + 1e-9) + 1e-15)
    assert np.all(rv <= upper * (1 + 1e-9) + 1e-15)
    # and the bounds are not loose everywhere: each is nearly attained somewhere on the grid
    width = upper - lower
    inside = width > 1e-6
    pos = (rv[inside] - lower[inside]) / width[inside]
    assert pos.min() < 0.02 and pos.max() > 0.98


def test_theorem_3_2_bounds_are_tight_in_the_limits() -> None:
    cov, w, eps = np.eye(2), np.array([1.0, 0.0]), np.linspace(0.05, 3.0, 30)
    # |m| / sigma = 0: the band is split evenly, RV equals the upper bound
    rv0 = th.gaussian_mixture_rv(np.zeros(2), cov, w, eps, 2.0)
    ag0 = th.gaussian_mixture_adversarial_gap(np.zeros(2), cov, w, eps, 2.0)
    np.testing.assert_allclose(rv0, th.theorem_3_2_bounds(ag0)[1], rtol=1e-10)
    # |m| / sigma large: the band lies on the correct side, RV tends to the lower bound
    far = np.array([[0.5, 0.0], [1.0, 0.0], [2.0, 0.0], [4.0, 0.0], [6.0, 0.0]])
    rv1 = th.gaussian_mixture_rv(far, cov, w, 1.0, 2.0)
    ag1 = th.gaussian_mixture_adversarial_gap(far, cov, w, 1.0, 2.0)
    lo, hi = th.theorem_3_2_bounds(ag1)
    position = (rv1 - lo) / (hi - lo)
    assert np.all(np.diff(position) < 0) and position[0] > 0.5 and position[-1] < 0.01


def test_theorem_3_2_bounds_equal_the_integrals() -> None:
    """The closed forms are the paper's integrals of H2' with the corrected limits."""

    def integral(a: float) -> float:
        return quad(lambda t: float(th.binary_entropy_derivative(t)), a, 0.5, limit=200)[0]

    for ag in (1e-3, 0.1, 0.3, 0.5, 0.7, 0.99):
        lower, upper = th.theorem_3_2_bounds(ag)
        assert float(lower) == pytest.approx(integral(0.5 - ag / 2), rel=1e-8, abs=1e-14)
        assert float(upper) == pytest.approx(integral(max(0.0, 0.5 - ag)), rel=1e-8, abs=1e-14)
    assert th.theorem_3_2_bounds(0.0) == (0.0, 0.0)
    assert float(th.theorem_3_2_bounds(0.75)[1]) == pytest.approx(LOG2)
    # small AG: log 2 - H2(1/2 - x) ~ 2 x^2 without cancellation
    lower, upper = th.theorem_3_2_bounds(1e-9)
    assert float(lower) == pytest.approx(0.5e-18, rel=1e-6)
    assert float(upper) == pytest.approx(2e-18, rel=1e-6)


def test_theorem_3_2_as_printed_fails() -> None:
    ag = np.linspace(1e-4, 1 - 1e-4, 1001)
    p_lower, p_upper = th.theorem_3_2_bounds_as_printed(ag)
    assert np.all(p_lower > p_upper)  # the printed interval is empty for every AG > 0
    # so the true RV violates the printed statement on a random grid
    g = random_grid(np.random.default_rng(4), 5000, 2)
    rv = th.gaussian_mixture_rv(g["theta"], g["cov"], g["w"], g["eps"], g["p"])
    ag_g = th.gaussian_mixture_adversarial_gap(g["theta"], g["cov"], g["w"], g["eps"], g["p"])
    p_lower, p_upper = th.theorem_3_2_bounds_as_printed(ag_g)
    ok = (p_lower <= rv + 1e-12) & (rv <= p_upper + 1e-12)
    meaningful = (ag_g > 1e-3) & (ag_g < 1 - 1e-3)
    assert meaningful.sum() > 1000 and not ok[meaningful].any()


@pytest.mark.parametrize("bad", [-0.01, 1.01, np.nan, np.inf])
def test_theorem_3_2_rejects_bad_gap(bad: float) -> None:
    for fn in (th.theorem_3_2_bounds, th.theorem_3_2_bounds_as_printed):
        with pytest.raises(ValueError, match="adversarial_gap"):
            fn(np.array([0.2, bad]))


# ----------------------------------------------------------------------------------------------
# Theorem 3.4
# ----------------------------------------------------------------------------------------------
def test_theorem_3_4_paper_value() -> None:
    acc = float(th.adversarial_accuracy_upper_bound(1.08, 10))
    assert round(acc, 3) == 0.770
    assert float(th.adversarial_risk_lower_bound(1.08, 10)) == pytest.approx(1 - acc)
    assert acc == pytest.approx((1.08 + LOG2) / np.log(10), rel=1e-14)


def test_theorem_3_4_clipping_and_broadcast() -> None:
    mi = np.array([0.0, 1.0, 1.6, 3.0])
    raw = th.adversarial_risk_lower_bound(mi, 10, clip=False)
    clipped = th.adversarial_risk_lower_bound(mi, 10)
    assert raw[-1] < 0 and clipped[-1] == 0.0
    np.testing.assert_array_equal(clipped, np.maximum(raw, 0))
    assert np.all(clipped < 1)
    # |Y| = 2: always vacuous
    np.testing.assert_array_equal(th.adversarial_risk_lower_bound(mi, 2), 0.0)
    np.testing.assert_array_equal(th.adversarial_accuracy_upper_bound(mi, 2), 1.0)
    out = th.adversarial_accuracy_upper_bound(mi[:, None], np.array([10, 100]))
    assert out.shape == (4, 2) and np.all(out[:, 1] < out[:, 0])


@pytest.mark.parametrize(
    ("mi", "n", "name"),
    [
        (-0.1, 10, "worst_case_mi"),
        (np.nan, 10, "worst_case_mi"),
        (1.0, 1, "n_classes"),
        (1.0, 2.5, "n_classes"),
        (1.0, np.nan, "n_classes"),
    ],
)
def test_theorem_3_4_rejects(mi: float, n: float, name: str) -> None:
    for fn in (th.adversarial_risk_lower_bound, th.adversarial_accuracy_upper_bound):
        with pytest.raises(ValueError, match=name):
            fn(mi, n)


# ----------------------------------------------------------------------------------------------
# argument validation of the Gaussian-mixture functions
# ----------------------------------------------------------------------------------------------
GOOD = {
    "theta": np.array([1.0, 0.5]),
    "cov": np.array([[1.0, 0.2], [0.2, 0.5]]),
    "w": np.array([0.3, -1.0]),
    "eps": 0.1,
    "p": 2.0,
}
BAD_CASES = [
    ("eps", -0.1, "eps"),
    ("eps", np.nan, "eps"),
    ("eps", np.array([0.1, -1.0]), "eps"),
    ("p", 0.5, "p"),
    ("p", np.nan, "p"),
    ("p", np.array([2.0, 0.9]), "p"),
    ("cov", np.array([[1.0, 2.0], [2.0, 1.0]]), "cov"),  # indefinite
    ("cov", np.array([[1.0, 0.0], [0.0, 0.0]]), "cov"),  # singular
    ("cov", np.array([[1.0, 0.3], [0.1, 1.0]]), "cov"),  # not symmetric
    ("cov", np.eye(3), "cov"),  # wrong dimension
    ("cov", np.ones(2), "cov"),  # not a matrix
    ("cov", np.array([[np.nan, 0.0], [0.0, 1.0]]), "cov"),
    ("w", np.zeros(2), "w"),
    ("w", np.array([1.0, 2.0, 3.0]), "w"),
    ("w", np.array([np.nan, 1.0]), "w"),
    ("w", np.array([[1.0, 0.0], [0.0, 0.0]]), "w"),  # one zero row in a batch
    ("theta", np.array([np.inf, 1.0]), "theta"),
    ("eps", np.zeros(3), "eps"),  # batch shape (3,) does not broadcast with w's (2,)
]


@pytest.mark.parametrize(("arg", "value", "name"), BAD_CASES)
@pytest.mark.parametrize(
    "fn",
    [
        th.gaussian_mixture_rv,
        th.gaussian_mixture_adversarial_gap,
        th.gaussian_mixture_risks,
        th.gaussian_mixture_worst_case_mi,
        th.gaussian_mixture_projection,
    ],
)
def test_gaussian_mixture_rejects(fn, arg: str, value, name: str) -> None:
    kwargs = dict(GOOD)
    kwargs[arg] = value
    if arg == "eps" and np.shape(value) == (3,):
        kwargs["w"] = np.array([[0.3, -1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        fn(**kwargs)


def test_non_positive_definite_cov_in_higher_dimension() -> None:
    cov = np.diag([1.0, 2.0, -0.1])
    with pytest.raises(ValueError, match="cov"):
        th.gaussian_mixture_rv(np.ones(3), cov, np.ones(3), 0.1, 2.0)
    batch = np.stack([np.eye(3), np.eye(3), np.diag([1.0, 0.0, 1.0])])
    with pytest.raises(ValueError, match="cov"):
        th.gaussian_mixture_rv(np.ones(3), batch, np.ones(3), 0.1, 2.0)


@pytest.mark.parametrize(
    ("arg", "value", "name"),
    [
        *BAD_CASES[:2],
        *BAD_CASES[3:5],
        *BAD_CASES[6:9],
        *BAD_CASES[12:14],
        ("n_samples", 0, "n_samples"),
        ("n_samples", 10.5, "n_samples"),
    ],
)
def test_monte_carlo_rejects(arg: str, value, name: str) -> None:
    kwargs = dict(GOOD, n_samples=1000, seed=0)
    kwargs[arg] = value
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        th.gaussian_mixture_monte_carlo(**kwargs)
