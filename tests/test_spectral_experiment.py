"""Tests for robustrep_lite.experiments.spectral_regularization: the paper's model (init and output
scaling), the volume element against the explicit Jacobian, the burn-in schedule and branched runs,
the XOR toy, the MNIST comparison seed by seed, the settings per profile, the summaries over
seeds, and bad arguments. Seeded; ~10 s."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from host_reads import count_host_reads
from sklearn.datasets import load_digits
from torch import nn

from robustrep_lite.core.results import strict_json
from robustrep_lite.experiments.settings import PROFILES, profile_settings
from robustrep_lite.experiments.spectral_regularization import (
    BurninConfig,
    OneHiddenLayerNet,
    branch,
    compare_regularizers,
    paired_differences,
    summarise_rows,
    train_with_burnin,
    volume_element,
    xor_data,
    xor_fields,
    xor_measurements,
    xor_net,
)
from robustrep_lite.training.spectral import SpectralPenalty, rep_layers, top_singular


# ----------------------------------------------------------------------------------------------
# The paper's models and the volume element
# ----------------------------------------------------------------------------------------------
def test_paper_model_init_and_output_scaling() -> None:
    torch.manual_seed(7)
    net = OneHiddenLayerNet(784, 2000, 10)
    assert net.feature_map[1].weight.detach().std().item() == pytest.approx(0.01, rel=0.01)
    x = torch.rand(4, 1, 28, 28)
    expected = net.readout(net.feature_map(x)) / math.sqrt(2000)
    assert torch.allclose(net(x), expected)
    assert xor_net().feature_map[1].weight.detach().std().item() > 0.3


def test_volume_element_matches_the_explicit_jacobian() -> None:
    torch.manual_seed(8)
    net = OneHiddenLayerNet(2, 6, 2, init_std=1.0).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    lin = net.feature_map[1]
    z = (x @ lin.weight.T + lin.bias).detach().requires_grad_(True)
    (slope,) = torch.autograd.grad(nn.functional.gelu(z).sum(), z)  # GELU'(z), elementwise
    jac = slope[:, :, None] * lin.weight.detach()[None]  # (N, 6, 2)
    expected = torch.linalg.det(jac.transpose(1, 2) @ jac).sqrt()
    assert torch.allclose(volume_element(net.feature_map, x), expected)
    linear = nn.Linear(2, 3, bias=False).double()
    constant = torch.linalg.det(linear.weight.T @ linear.weight).sqrt()
    assert torch.allclose(volume_element(linear, x), constant.expand(5).detach())


# ----------------------------------------------------------------------------------------------
# Training with burn-in
# ----------------------------------------------------------------------------------------------
def _toy(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g)
    return x, (x[:, 0] * x[:, 1] > 0).long()


def test_penalty_applies_only_after_burnin() -> None:
    x, y = _toy()
    torch.manual_seed(0)
    nets = [OneHiddenLayerNet(5, 16, 2, init_std=0.5) for _ in range(3)]
    for net in nets[1:]:
        net.load_state_dict(nets[0].state_dict())
    plain, whole, split = nets
    common = dict(seed=3, progress=False)
    four = BurninConfig(epochs=4, burnin=2, batch_size=16)
    two = replace(four, epochs=2)
    train_with_burnin(plain, x, y, two, **common)
    sigma_at_burnin = top_singular(plain.feature_map[1], tol=1e-10)[0]
    # one run of 4 epochs with burn-in 2 ...
    penalty = SpectralPenalty(rep_layers(whole), 1.0)
    history = train_with_burnin(whole, x, y, four, penalty=penalty, **common)
    assert history.epochs == [0, 1, 2, 3]
    assert history.penalty[:2] == [0.0, 0.0] and min(history.penalty[2:]) > 0
    assert history.sigmas[:2] == [[], []] and len(history.sigmas[2]) == 1
    assert history.sigmas[3][0] < 0.9 * sigma_at_burnin  # the penalty shrinks sigma_max(W1)
    # ... equals 2 epochs that never call the penalty (the unregularised weights) + 2 that do
    opt = torch.optim.SGD(split.parameters(), lr=0.1, momentum=0.9)
    unused = SpectralPenalty(rep_layers(split), 1.0)
    train_with_burnin(split, x, y, two, penalty=unused, optimizer=opt, **common)
    assert unused.sigmas == [] and unused.vectors == {}
    for a, b in zip(plain.parameters(), split.parameters(), strict=True):
        assert torch.equal(a, b)
    rest = replace(four, start_epoch=2)
    train_with_burnin(split, x, y, rest, penalty=unused, optimizer=opt, **common)
    for a, b in zip(whole.parameters(), split.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_branched_run_equals_the_uninterrupted_run() -> None:
    x, y = _toy(1)
    torch.manual_seed(1)
    whole = OneHiddenLayerNet(5, 8, 2, init_std=0.5)
    split = OneHiddenLayerNet(5, 8, 2, init_std=0.5)
    split.load_state_dict(whole.state_dict())
    common = dict(seed=4, progress=False)
    run = BurninConfig(epochs=4, burnin=4, batch_size=16, lr=0.1, momentum=0.9)
    train_with_burnin(whole, x, y, run, **common)
    opt = torch.optim.SGD(split.parameters(), lr=0.1, momentum=0.9)
    train_with_burnin(split, x, y, replace(run, epochs=2), optimizer=opt, **common)
    copy, copy_opt = branch(split, opt)
    train_with_burnin(copy, x, y, replace(run, start_epoch=2), optimizer=copy_opt, **common)
    for a, b in zip(whole.parameters(), copy.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(split.readout.weight, copy.readout.weight)  # the original is untouched


def test_the_xor_toy_is_learned() -> None:
    x, y = xor_data()
    torch.manual_seed(0)
    net = xor_net()
    train_with_burnin(
        net, x, y, BurninConfig(epochs=300, burnin=300, lr=1.0, batch_size=4), progress=False
    )
    assert torch.equal(net(x).argmax(1), y)


def test_xor_fields_and_measurements_of_the_xor_nets() -> None:
    x, y = xor_data()
    torch.manual_seed(0)
    net = xor_net()
    train_with_burnin(
        net, x, y, BurninConfig(epochs=300, burnin=300, lr=1.0, batch_size=4), progress=False
    )
    field = xor_fields({"none": net}, side=5)["none"]
    assert field.axis.tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    # row i is x2 = axis[i], column j is x1 = axis[j]
    with torch.no_grad():
        logits = net(torch.tensor([[1.0, -1.0]]))
    assert field.margin[1, 3] == pytest.approx(float(logits[0, 1] - logits[0, 0]), abs=1e-5)
    assert field.margin[3, 3] < 0 < field.margin[1, 3]  # class 0 where the signs agree
    corner = volume_element(net.feature_map, torch.tensor([[-2.0, 2.0]])).detach()
    assert field.volume[4, 0] == pytest.approx(float(corner), rel=1e-5)
    measured = xor_measurements({"none": net}, ddn_steps=50)["none"]
    exact = [
        float(torch.linalg.svdvals(w.detach())[0])
        for w in (net.feature_map[1].weight, net.readout.weight)
    ]
    # power iteration stops after 2 x fan-in iterations: W1 (fan-in 2) gets only 4
    assert measured["sigmas"] == pytest.approx(exact, rel=1e-3)
    assert measured["volume"] == pytest.approx(
        float(volume_element(net.feature_map, x).detach().mean())
    )
    assert 0 < measured["distance"] < 2  # the boundary lies between the points
    with pytest.raises(ValueError, match="side"):
        xor_fields({"none": net}, side=1)


def test_the_rows_of_a_seed_do_not_depend_on_the_other_seeds() -> None:
    """compare_regularizers reseeds torch per seed, so one call per seed (as a resumed
    bench/spectral_mnist.py makes them) gives the rows of one call with every seed."""
    digits = load_digits()  # 8x8 images in [0, 1], the attacks' bounds
    x = torch.tensor(digits.data[:400] / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target[:400])
    settings = replace(
        PROFILES["quick"].spectral,
        width=16,
        epochs=3,
        burnin=2,
        batch_size=32,
        lambdas=(0.1,),
        attack_points=3,
        hsj_steps=2,
        hsj_max_gradient_evals=20,
        ddn_steps=3,
    )

    def rows(seeds: list[int]) -> list[dict]:
        found = compare_regularizers(
            x[:300], y[:300], x[300:], y[300:], settings, seeds=seeds, progress=False
        )
        timings = ("burnin_s", "train_s", "attack_s")
        return strict_json([{k: v for k, v in r.items() if k not in timings} for r in found])

    together = rows([0, 1])
    assert [(r["seed"], r["arm"], r["lam"]) for r in together] == [
        (seed, arm, lam)
        for seed in (0, 1)
        for arm, lam in (("none", 0.0), ("ll-spectral", 0.1), ("rep-spectral", 0.1))
    ]
    torch.manual_seed(123)  # whatever the global generator holds before a call
    one_by_one = rows([1])
    assert rows([0]) + one_by_one == together
    assert together[0]["sigma_1"] != together[3]["sigma_1"]  # the two seeds are different runs
    assert all(r["points"] > r["hsj_failed"] for r in together)  # the attacks found distances


def test_settings_per_profile() -> None:
    paper = PROFILES["paper"].spectral
    assert (paper.epochs, paper.burnin, paper.batch_size, paper.width) == (200, 160, 1024, 2000)
    assert paper.lambdas == (1e-3, 1e-2, 1e-1)
    for s in (p.spectral for p in PROFILES.values()):
        assert 0 <= s.burnin <= s.epochs and 0 <= s.xor_burnin <= s.xor_epochs


def test_summary_gives_mean_and_standard_error_over_seeds() -> None:
    rows = [
        {"seed": 0, "arm": "none", "lam": 0.0, "acc": 0.9, "points": 10},
        {"seed": 1, "arm": "none", "lam": 0.0, "acc": 0.8, "points": 10},
        {"seed": 0, "arm": "rep-spectral", "lam": 0.1, "acc": 0.95, "points": 9},
    ]
    none, rep = summarise_rows(rows)
    assert none["seeds"] == 2 and none["acc_mean"] == pytest.approx(0.85)
    assert none["acc_se"] == pytest.approx(np.std([0.9, 0.8], ddof=1) / math.sqrt(2))
    assert rep["acc_se"] == 0.0 and rep["points_mean"] == 9
    rows.append({"seed": 1, "arm": "rep-spectral", "lam": 0.1, "acc": 0.82, "points": 9})
    (diff,) = paired_differences(rows, "acc")
    assert diff["mean"] == pytest.approx(0.035) and diff["seeds"] == 2
    assert diff["se"] == pytest.approx(np.std([0.05, 0.02], ddof=1) / math.sqrt(2))


# ----------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: OneHiddenLayerNet(0, 3, 2), "in_features"),
        (lambda: profile_settings("fast"), "ROBUSTREP_PROFILE|name"),
        (lambda: volume_element(nn.Identity(), torch.zeros(3)), "x"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"epochs": 2, "burnin": -1}, "burnin"),
        ({"epochs": -1, "burnin": 0}, "epochs"),
        ({"epochs": 2, "burnin": 1, "batch_size": 0}, "batch_size"),
        ({"epochs": 2, "burnin": 1, "lr": -0.1}, "lr"),
        ({"epochs": 2, "burnin": 1, "start_epoch": 3}, "start_epoch"),
    ],
)
def test_bad_training_arguments(kwargs: dict, argument: str) -> None:
    x, y = _toy()
    with pytest.raises(ValueError, match=argument):
        train_with_burnin(OneHiddenLayerNet(5, 4, 2), x, y, BurninConfig(**kwargs), progress=False)
    with pytest.raises(ValueError, match="targets"):
        train_with_burnin(OneHiddenLayerNet(5, 4, 2), x, y[:3], BurninConfig(epochs=1, burnin=1))
    with pytest.raises(ValueError, match="targets"):
        train_with_burnin(OneHiddenLayerNet(5, 4, 2), x, None, BurninConfig(epochs=1, burnin=1))


def _sgd_epoch_reads(n: int) -> int:
    """Host reads of one regularised epoch of ``n / 8`` steps of batch 8 with a sync-free
    penalty (after a warm-up epoch that runs the penalty's cold start)."""
    torch.manual_seed(0)
    x, y = torch.randn(n, 6), torch.randint(0, 3, (n,))
    net = OneHiddenLayerNet(6, 16, 3)
    penalty = SpectralPenalty(rep_layers(net), 0.1, sync_free=True)
    config = BurninConfig(epochs=1, burnin=0, batch_size=8)
    opt = config.sgd(net.parameters())
    train_with_burnin(net, x, y, config, penalty=penalty, optimizer=opt, progress=False)
    with count_host_reads() as reads:
        train_with_burnin(
            net,
            x,
            y,
            replace(config, epochs=2, start_epoch=1),
            penalty=penalty,
            optimizer=opt,
            progress=False,
        )
    return sum(reads.values())


def test_a_training_step_reads_nothing_on_the_host() -> None:
    # the losses are read once per epoch, whatever its number of steps
    assert _sgd_epoch_reads(16) == _sgd_epoch_reads(128)


def test_a_non_finite_loss_raises_naming_the_epoch() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 6) * 1e3, torch.randint(0, 3, (64,))
    with pytest.raises(FloatingPointError, match=r"non-finite at step \d+ of epoch \d+"):
        train_with_burnin(
            OneHiddenLayerNet(6, 16, 3),
            x,
            y,
            BurninConfig(epochs=3, burnin=3, lr=1e30),
            progress=False,
        )
