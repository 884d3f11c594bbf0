"""Threat-model balls: projection, uniform sampling, the input box, and bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robustrep_lite.adversarial.attacks import (
    PGDConfig,
    check_box,
    check_norm,
    perturb_in_box,
    pgd,
    project_to_ball,
    random_in_ball,
)
from robustrep_lite.adversarial.robust_distance import DistanceSearch


@pytest.mark.parametrize("norm", ["inf", "2", math.inf, 2])
def test_projection_lands_in_the_ball_and_fixes_points_inside(norm) -> None:
    g = torch.Generator().manual_seed(0)
    delta = 3 * torch.randn(64, 3, 4, 4, generator=g)
    projected = project_to_ball(delta, 0.5, norm)
    p = math.inf if check_norm(norm) == "inf" else 2
    norms = projected.flatten(1).norm(p=p, dim=1)
    assert torch.all(norms <= 0.5 + 1e-6)
    inside = 0.01 * delta
    assert torch.allclose(project_to_ball(inside, 0.5, norm), inside)


def test_l2_projection_is_the_radial_rescaling() -> None:
    delta = torch.tensor([[3.0, 4.0]])
    assert torch.allclose(project_to_ball(delta, 1.0, "2"), torch.tensor([[0.6, 0.8]]))


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_random_points_fill_the_ball(norm: str) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(4000, 2)
    points = random_in_ball(x, 0.3, norm, generator=g)
    norms = points.norm(p=math.inf if norm == "inf" else 2, dim=1)
    assert torch.all(norms <= 0.3 + 1e-6)
    # uniform in a 2-d ball: P(norm <= r/2) = 1/4 for both balls
    assert abs((norms <= 0.15).float().mean().item() - 0.25) < 0.03


def test_box_clipping_stays_in_box_and_in_ball() -> None:
    x = torch.tensor([[0.0, 0.5, 1.0]])
    delta = torch.tensor([[-0.2, 0.2, 0.2]])
    assert torch.allclose(perturb_in_box(x, delta), torch.tensor([[0.0, 0.7, 1.0]]))


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: project_to_ball(torch.zeros(2, 2), -0.1, "inf"), "eps"),
        (lambda: project_to_ball(torch.zeros(2, 2), float("nan"), "inf"), "eps"),
        (lambda: random_in_ball(torch.zeros(2, 2), 0.1, "l1"), "norm"),
        (lambda: check_norm(1), "norm"),
        (lambda: perturb_in_box(torch.zeros(2), torch.zeros(3)), "same shape"),
        (lambda: perturb_in_box(torch.zeros(2), torch.zeros(2), 1.0, 0.0), "low"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


def test_one_radius_as_a_0d_tensor_or_numpy_scalar_acts_as_the_float() -> None:
    # eps is one radius for the whole batch (Definition 2.3); a scalar tensor is one radius
    delta = torch.tensor([[0.9, -0.2], [3.0, 4.0]])
    for norm in ("inf", "2"):
        expected = project_to_ball(delta, 0.5, norm)
        for eps in (torch.tensor(0.5), np.float32(0.5), np.float64(0.5)):
            assert torch.allclose(project_to_ball(delta, eps, norm), expected)
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        assert torch.equal(
            random_in_ball(delta, torch.tensor(0.5), norm, g1), random_in_ball(delta, 0.5, norm, g2)
        )


def test_a_box_is_stored_as_two_floats() -> None:
    assert PGDConfig(eps=0.1, step_size=0.1, steps=1, box=[0, np.float32(1)]).box == (0.0, 1.0)
    assert DistanceSearch(bounds=[0, 255]).bounds == (0.0, 255.0)
    assert check_box(None) is None
    with pytest.raises(ValueError, match="bounds must be finite"):
        DistanceSearch(bounds=None)
    assert check_norm(np.float64(2.0)) == "2" and check_norm(np.inf) == "inf"


# ----------------------------------------------------------------------------------------------
# PGD
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_never_leaves_the_ball_or_the_box(norm: str) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(32, 1, 6, 6, generator=g)
    weights = torch.randn(36, generator=g)

    def wiggly(z: torch.Tensor) -> torch.Tensor:
        return torch.sin(5 * z.flatten(1) @ weights)

    adv = pgd(wiggly, x, PGDConfig(eps=0.2, norm=norm, step_size=0.07, steps=10), generator=g)
    p = math.inf if norm == "inf" else 2
    assert torch.all((adv - x).flatten(1).norm(p=p, dim=1) <= 0.2 + 1e-5)
    assert adv.min() >= 0.0 and adv.max() <= 1.0


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_finds_the_maximiser_of_a_linear_objective(norm: str) -> None:
    w = torch.tensor([1.0, -2.0, 0.5])
    x = torch.full((4, 3), 0.5)
    adv = pgd(
        lambda z: z @ w,
        x,
        PGDConfig(eps=0.1, norm=norm, step_size=0.1, steps=3, random_start=False),
    )
    expected = 0.1 * (w.sign() if norm == "inf" else w / w.norm())
    assert torch.allclose(adv - x, expected.expand(4, 3), atol=1e-6)


def test_pgd_keeps_the_best_iterate_per_sample_and_per_batch() -> None:
    # the objective peaks at delta = 0.05 along +1 and falls off; big steps overshoot it
    x = torch.full((5, 1), 0.5)

    def peaked(z: torch.Tensor) -> torch.Tensor:
        return -((z[:, 0] - 0.55) ** 2)

    last = pgd(
        peaked, x, PGDConfig(eps=0.3, step_size=0.3, steps=4, random_start=False), keep_best=False
    )
    best = pgd(peaked, x, PGDConfig(eps=0.3, step_size=0.3, steps=4, random_start=False))
    assert torch.all(peaked(best) >= peaked(last)) and torch.all(peaked(best) >= peaked(x))
    batch = pgd(
        lambda z: peaked(z).sum(), x, PGDConfig(eps=0.3, step_size=0.3, steps=4, random_start=False)
    )
    assert peaked(batch).sum() >= peaked(x).sum()


def test_pgd_continues_from_init_projected_onto_the_ball_and_box() -> None:
    x = torch.full((3, 4), 0.5)
    init = torch.tensor([[0.3, -0.3, 0.0, 0.9]]).expand(3, 4)
    out = pgd(
        lambda xa: -xa.sum(1),
        x,
        PGDConfig(eps=0.2, step_size=0.1, steps=0, box=(0, 0.6)),
        init=init,
    )
    expected = torch.tensor([0.6, 0.3, 0.5, 0.6])  # clipped to the ball, then to the box
    assert torch.allclose(out, expected.expand(3, 4))
    with pytest.raises(ValueError, match="init"):
        pgd(lambda xa: xa.sum(1), x, PGDConfig(eps=0.2, step_size=0.1, steps=1), init=init[:1])


def test_pgd_rejects_bad_arguments() -> None:
    x = torch.zeros(2, 3)

    def f(z: torch.Tensor) -> torch.Tensor:
        return z.sum(1)

    with pytest.raises(ValueError, match="eps"):
        pgd(f, x, PGDConfig(eps=-1.0, step_size=0.1, steps=1))
    with pytest.raises(ValueError, match="norm"):
        pgd(f, x, PGDConfig(eps=0.1, norm="1", step_size=0.1, steps=1))
    with pytest.raises(ValueError, match="steps"):
        pgd(f, x, PGDConfig(eps=0.1, step_size=0.1, steps=-2))
    with pytest.raises(ValueError, match="x must be a batch"):
        pgd(f, torch.zeros(3), PGDConfig(eps=0.1, step_size=0.1, steps=1))
    with pytest.raises(ValueError, match="box"):
        pgd(f, x, PGDConfig(eps=0.1, step_size=0.1, steps=1, box=(1.0, 0.0)))
    with pytest.raises(ValueError, match="objective must return"):
        pgd(lambda z: z, x, PGDConfig(eps=0.1, step_size=0.1, steps=1))


@pytest.fixture(scope="module")
def digit_classifier():
    from robustrep_lite.training.data import load_dataset

    torch.manual_seed(0)
    splits = load_dataset("mnist", source="embedded")
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):  # full-batch epochs: a few seconds on a CPU
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(splits.x_train), splits.y_train).backward()
        optimiser.step()
    model.eval()
    x = torch.cat([splits.x_train, splits.x_test])
    y = torch.cat([splits.y_train, splits.y_test])
    return model, x, y


def test_pgd_agrees_with_torchattacks_within_one_point(digit_classifier) -> None:
    import torchattacks

    model, x, y = digit_classifier
    settings = dict(eps=0.1, alpha=0.02, steps=10)

    def loss(z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(z), y, reduction="none")

    def accuracy(z: torch.Tensor) -> float:
        with torch.no_grad():
            return (model(z).argmax(1) == y).float().mean().item()

    clean = accuracy(x)
    for random_start in (False, True):
        torch.manual_seed(1)
        theirs = torchattacks.PGD(model, random_start=random_start, **settings)(x, y)
        ours = pgd(
            loss,
            x,
            PGDConfig(eps=0.1, step_size=0.02, steps=10, random_start=random_start),
            keep_best=False,
            generator=torch.Generator().manual_seed(1),
        )
        assert abs(accuracy(ours) - accuracy(theirs)) <= 0.01, (random_start, clean)
        assert accuracy(ours) < clean - 0.2  # the attack did something
    best = pgd(loss, x, PGDConfig(eps=0.1, step_size=0.02, steps=10, random_start=False))
    assert accuracy(best) <= accuracy(ours) + 0.01


@pytest.mark.parametrize("box", [(0.0, float("nan")), (float("-inf"), 1.0), (1.0, 0.0), (0.0,)])
def test_pgd_rejects_a_bad_box(box):
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match="box must be None or finite"):
        pgd(lambda v: v.sum(1), x, PGDConfig(eps=0.1, step_size=0.05, steps=2, box=box))


def test_pgd_last_point_costs_no_backward():
    calls, backward = [], []
    x = torch.rand(4, 3)

    def objective(v: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        v.register_hook(lambda g: backward.append(1))  # fires when a gradient reaches v
        return v.sum(1)

    out = pgd(objective, x, PGDConfig(eps=0.1, step_size=0.05, steps=3, random_start=False))
    assert len(calls) == 4  # the start and three steps are evaluated ...
    assert len(backward) == 3  # ... but only the three that lead to a step are differentiated
    assert torch.allclose(out, (x + 0.1).clamp(0, 1))  # sign steps to the ball's corner
