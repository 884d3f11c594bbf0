"""Threat-model balls: projection, uniform sampling, the input box, and bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

from robustrep_lite.attacks import check_norm, perturb_in_box, project_to_ball, random_in_ball


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
