"""Section 6.1's zoo in the quick profile: training, measurement and the per-channel pass."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from robustrep_lite.experiments.settings import PROFILES, ZooModel
from robustrep_lite.experiments.zoo import (
    CURVE_POINTS,
    attacked_accuracy,
    channel_models,
    channel_vulnerability,
    figure_dataset,
    logit_vulnerability,
    robust_accuracy_curves,
    rv_critic,
    rv_sample_sizes,
    train_zoo,
)
from robustrep_lite.theory.theorems import adversarial_accuracy_upper_bound
from robustrep_lite.training.data import load_dataset
from robustrep_lite.training.models import BaselineH


@pytest.fixture(scope="module")
def quick():
    settings = PROFILES["quick"].zoo
    data = load_dataset("mnist", source="embedded", train_size=256, test_size=128, seed=0)
    return settings, data


def test_profiles_define_the_papers_zoo():
    paper = PROFILES["paper"].zoo
    archs = {m.arch for m in paper.models}
    assert archs == {"baseline_h", "resnet18", "vgg16", "densenet121"}
    assert {m.train_eps for m in paper.models} == {0.0, 2 / 255, 8 / 255}
    assert paper.critic_hidden == 2048 and paper.width == 1.0
    cpu = PROFILES["cpu"].zoo
    assert {m.dataset for m in cpu.models} == {"mnist", "cifar10"}
    assert ZooModel("cifar10", "baseline_h", 8 / 255).label == "baseline_h (adv eps=8/255)"


def test_train_zoo_trains_and_then_loads_from_cache(quick, tmp_path):
    settings, data = quick
    models = train_zoo(settings, {"mnist": data}, cache_dir=tmp_path, progress=False)
    assert set(models) == set(settings.models)
    assert len(list(tmp_path.glob("*.pt"))) == len(settings.models)
    again = train_zoo(settings, {"mnist": data}, cache_dir=tmp_path, progress=False)
    for key, net in models.items():
        for a, b in zip(net.state_dict().values(), again[key].state_dict().values(), strict=True):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="dataset"):
        train_zoo(settings, {"cifar10": data}, progress=False)


def test_measurements_are_consistent(quick):
    settings, data = quick
    net = next(iter(train_zoo(settings, {"mnist": data}, progress=False).values()))
    a = attacked_accuracy(net, data.x_test, data.y_test, eps=0.3)
    assert 0 <= a["strong_accuracy"] <= a["pgd7_accuracy"] + 1 / 128
    assert a["pgd7_accuracy"] <= a["natural_accuracy"]
    assert a["accuracy_gap"] == pytest.approx(a["natural_accuracy"] - a["pgd7_accuracy"])
    r = logit_vulnerability(net, data.x_test, eps=0.3, settings=settings)
    for read in ("paper", "refit"):
        assert r[f"rv_{read}"] == pytest.approx(r["normal_mi"] - r[f"worst_mi_{read}"])
        expected = adversarial_accuracy_upper_bound(max(r[f"worst_mi_{read}"], 0.0), 10)
        assert r[f"bound_{read}"] == pytest.approx(float(expected))
    assert all(math.isfinite(v) for v in r.values())
    # the sizes the book states are the sizes the estimate was read on
    sizes = rv_sample_sizes(settings)
    assert sum(sizes[k] for k in ("train", "validation", "held_out")) == sizes["points"]
    assert r["held_out_points"] == sizes["held_out"] == round(0.2 * settings.rv_points)
    with pytest.raises(ValueError, match="eps"):
        attacked_accuracy(net, data.x_test, data.y_test, eps=-0.1)
    with pytest.raises(ValueError, match="eps"):
        logit_vulnerability(net, data.x_test, eps=-0.1, settings=settings)
    both = logit_vulnerability(net, data.x_test, eps=0.3, settings=settings, search="both")
    assert both["normal_mi"] == r["normal_mi"]  # the same seeded normal-case estimate
    assert all(math.isfinite(v) for v in both.values())
    with pytest.raises(ValueError, match="search"):
        logit_vulnerability(net, data.x_test, eps=0.3, settings=settings, search="global")


def test_channel_vulnerability_covers_the_requested_channels(quick):
    settings, data = quick
    settings = dataclasses.replace(settings, channels=3)
    model = BaselineH(1, 28, 10, width=0.125).eval()
    out = channel_vulnerability(model, data.x_test, eps=0.1, settings=settings)
    assert list(out["channel"]) == [0, 1, 2]
    assert np.allclose(out["rv"], out["normal_mi"] - out["worst_mi"])
    n = min(settings.rv_points, data.x_test.shape[0])
    assert int(out["held_out_points"]) == round(0.2 * n)  # the 60/20/20 split's held-out part
    with pytest.raises(ValueError, match="BaselineH"):
        channel_vulnerability(torch.nn.Linear(2, 2), data.x_test, eps=0.1, settings=settings)


class _Constant(torch.nn.Module):
    """Predicts class 0 for every image, whatever the perturbation (no gradient to follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([1.0] + [0.0] * 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], 10) + 0 * x.flatten(1).sum(1, keepdim=True)


def test_accuracy_curves_follow_the_grid_and_the_first_points(quick):
    settings, data = quick
    m = ZooModel("mnist", "baseline_h", 0.0)
    curves = robust_accuracy_curves(
        {m: _Constant()}, {"mnist": data}, {"mnist": (0.0, 0.1, 0.3)}, points=100
    )
    share = float((data.y_test[:100] == 0).float().mean())
    assert curves == {m: [pytest.approx(share)] * 3}
    assert CURVE_POINTS == 500
    net = next(iter(train_zoo(settings, {"mnist": data}, progress=False).values()))
    natural = attacked_accuracy(net, data.x_test, data.y_test, eps=0.3)["natural_accuracy"]
    curve = robust_accuracy_curves({m: net}, {"mnist": data}, {"mnist": (0.0, 0.3)})[m]
    assert curve[0] == pytest.approx(natural)  # 128 test images < CURVE_POINTS: all of them
    assert 0.0 <= curve[1] <= curve[0]
    with pytest.raises(ValueError, match="points"):
        robust_accuracy_curves({m: net}, {"mnist": data}, {"mnist": (0.0,)}, points=0)


def test_figure_dataset_and_channel_models_pick_the_papers_pair():
    cpu = PROFILES["cpu"].zoo
    assert figure_dataset(cpu.models) == "cifar10"
    assert figure_dataset(PROFILES["quick"].zoo.models) == "mnist"
    pair = channel_models(cpu.models, cpu, "cifar10")
    assert [(m.arch, m.train_eps) for m in pair] == [("baseline_h", 0.0), ("baseline_h", 8 / 255)]
    with pytest.raises(ValueError, match="models"):
        figure_dataset([])


def test_logit_vulnerability_fits_the_critic_the_benchmark_measures(monkeypatch) -> None:
    """bench/mi_bmi.py's ``ours-zoo`` measures rv_critic(settings): it must be the critic the
    zoo's estimates are made with."""
    import robustrep_lite.experiments.zoo as zoo_module
    from robustrep_lite.adversarial.vulnerability import RV_CRITIC

    settings = PROFILES["cpu"].zoo
    cfg = rv_critic(settings)
    assert (cfg.hidden, cfg.steps, cfg.batch_size) == (
        settings.critic_hidden,
        settings.rv_steps,
        settings.rv_batch,
    )
    assert (cfg.critic, cfg.train_estimator, cfg.layers) == (
        RV_CRITIC.critic,
        RV_CRITIC.train_estimator,
        RV_CRITIC.layers,
    )
    seen = []

    def capture(model, x, attack, critic, **kwargs):
        seen.append((critic, attack.search_steps))
        raise RuntimeError("captured")

    monkeypatch.setattr(zoo_module, "representation_vulnerability", capture)
    with pytest.raises(RuntimeError, match="captured"):
        logit_vulnerability(BaselineH(), torch.zeros(4, 3, 32, 32), eps=0.1, settings=settings)
    assert seen == [(cfg, settings.rv_search_steps)]
    assert settings.rv_search_steps < settings.rv_steps  # the cpu search is the costly part
