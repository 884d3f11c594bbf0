"""Tests for robustrep_lite.adversarial.search: AttackConfig's checks (each bad field named),
``lowering`` and ``attacks``, and attack_batch (it needs the bound it lowers, keeps every point in
its ball and the box, and lowers the frozen critic's estimate), frozen and the universal search.
Seeded; ~2 s on 1 thread."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import pytest
import torch

from robustrep_lite.adversarial.search import (
    AttackConfig,
    ScoreTask,
    UniversalPerturbation,
    attack_batch,
    frozen,
)
from robustrep_lite.mi import SeparableCritic
from robustrep_lite.mi.fit import unit_values


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"eps": -0.1}, "eps"),
        ({"eps": math.nan}, "eps"),
        ({"eps": math.inf}, "eps"),
        ({"eps": 0.1, "norm": "1"}, "norm"),
        ({"eps": 0.1, "norm": 1.0}, "norm"),
        ({"eps": 0.1, "pgd_steps": -1}, "pgd_steps"),
        ({"eps": 0.1, "pgd_steps": 2.5}, "pgd_steps"),
        ({"eps": 0.1, "pgd_steps": True}, "pgd_steps"),
        ({"eps": 0.1, "step_size": -0.01}, "step_size"),
        ({"eps": 0.1, "step_size": math.nan}, "step_size"),
        ({"eps": 0.1, "box": (1.0, 0.0)}, "box"),
        ({"eps": 0.1, "box": (0.0, math.inf)}, "box"),
        ({"eps": 0.1, "box": (0.0, 1.0, 2.0)}, "box"),
        ({"eps": 0.1, "box": 1.0}, "box"),
        ({"eps": 0.1, "box": (0.0, "one")}, "box"),
        ({"eps": 0.1, "search": "global"}, "search"),
        ({"eps": 0.1, "estimator": "mine"}, "attack_estimator"),  # MINE has no read-out bound
        ({"eps": 0.1, "estimator": "best"}, "attack_estimator"),
    ],
)
def test_each_bad_field_raises_a_value_error_naming_it(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        AttackConfig(**kwargs)


def test_settings_are_normalised_and_frozen() -> None:
    a = AttackConfig(eps=1, norm=math.inf, step_size=1, box=[0, 255])
    assert a.eps == 1.0 and isinstance(a.eps, float) and a.norm == "inf"
    assert a.box == (0.0, 255.0) and a.step_size == 1.0
    assert AttackConfig(eps=0.1, norm=2).norm == "2"
    assert AttackConfig(eps=0.1, box=None).box is None
    with pytest.raises(FrozenInstanceError):
        a.eps = 0.5  # type: ignore[misc]


def test_attacks_and_lowering() -> None:
    assert AttackConfig(eps=0.1).attacks
    assert not AttackConfig(eps=0.0).attacks and not AttackConfig(eps=0.1, pgd_steps=0).attacks
    a = AttackConfig(eps=0.1)
    assert a.estimator is None
    lowered = a.lowering("dv")
    assert lowered.estimator == "dv" and a.estimator is None  # a new config; a is unchanged
    assert lowered == AttackConfig(eps=0.1, estimator="dv")
    # an estimator chosen for the attack is kept whatever the critic reads out with
    assert AttackConfig(eps=0.1, estimator="nwj").lowering("dv").estimator == "nwj"


def _setup(n: int = 64):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, generator=gen)
    w = torch.randn(3, 2, generator=gen)
    torch.manual_seed(0)
    critic = SeparableCritic(3, 2, 16, 1, 4)
    task = ScoreTask(lambda v: torch.tanh(4.0 * (v - 0.5)) @ w)
    return x, task, critic


def test_attack_batch_needs_the_bound_it_lowers() -> None:
    x, task, critic = _setup()
    with pytest.raises(ValueError, match="estimator"):
        attack_batch(task, critic, x, AttackConfig(eps=0.1), 5.0, None)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_attack_batch_lowers_the_frozen_critics_estimate_inside_the_balls(norm: str) -> None:
    x, task, critic = _setup()
    # train the critic a little so that its estimate has something to lose
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    for _ in range(50):
        loss = -unit_values(task.scores(critic, x), "dv", 5.0, 1)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    attack = AttackConfig(eps=0.2, norm=norm, pgd_steps=10, step_size=0.05).lowering("dv")
    with torch.no_grad():
        before = float(unit_values(task.scores(critic, x), "dv", 5.0, 1)[0])
    weights = [p.detach().clone() for p in critic.parameters()]
    with frozen(critic), torch.enable_grad():
        assert not critic.training and not any(p.requires_grad for p in critic.parameters())
        xa = attack_batch(task, critic, x, attack, 5.0, torch.Generator().manual_seed(1))
    assert critic.training and all(p.requires_grad for p in critic.parameters())  # restored
    assert all(torch.equal(a, b) for a, b in zip(weights, critic.parameters(), strict=True))
    with torch.no_grad():
        after = float(unit_values(task.scores(critic, xa), "dv", 5.0, 1)[0])
    p = math.inf if norm == "inf" else 2
    assert xa.shape == x.shape and not xa.requires_grad
    assert torch.all((xa - x).norm(p=p, dim=1) <= 0.2 + 1e-5)
    assert xa.min() >= 0 and xa.max() <= 1
    assert after < before - 0.05  # the best iterate lowers the estimate


def test_the_universal_search_moves_every_point_by_one_shared_perturbation() -> None:
    x, task, critic = _setup()
    attack = AttackConfig(eps=0.1, search="universal", box=None, step_size=0.05).lowering("dv")
    state = UniversalPerturbation()
    with frozen(critic), torch.enable_grad():
        xa = attack_batch(task, critic, x, attack, 5.0, None, state)
        again = attack_batch(task, critic, x, attack, 5.0, None, state, update=False)
    shift = xa - x
    assert torch.allclose(shift, shift[:1].expand_as(shift), atol=1e-6)
    assert float(shift.abs().max()) <= 0.1 + 1e-6 and state.delta is not None
    assert torch.equal(again, xa)  # update=False applies the perturbation found, unchanged
