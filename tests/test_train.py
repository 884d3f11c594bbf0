"""Tests for robustrep_lite.training.encoder and robustrep_lite.experiments.table1: objective (5.2)
against a hand-written reference gradient for every regime of beta, the worst-case search (ball,
box, frozen networks, lower estimate), the eps = 0 and beta = 0 reductions, resuming from a
checkpoint, the critic's read-out, Figure 4's saliency against finite differences, heads with
E.S. on a validation split, and a quick-profile Table 1. Seeded; ~15 s on 1 thread."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest
import torch
from encoder_run import train
from torch import nn

from robustrep_lite.core import results
from robustrep_lite.core.paper_numbers import PAPER_TABLE1
from robustrep_lite.experiments.settings import PROFILES, settings_markdown
from robustrep_lite.experiments.table1 import (
    HeadConfig,
    HeadEvaluation,
    beta_eps_grid,
    cell_settings,
    evaluate_head,
    prepare_data,
    summarise,
    table1,
    train_head,
)
from robustrep_lite.mi import LocalDIMCritic, readout, training_objective
from robustrep_lite.training.encoder import (
    THREAT_MODELS,
    EncoderConfig,
    EncoderTrainer,
    autocast_dtype,
    load_encoder,
    mi_readout,
    saliency,
    saliency_share,
    saliency_smoothness,
)
from robustrep_lite.training.models import BaselineH, linear_head

TINY = {
    "epochs": 1,
    "batch_size": 16,
    "lr": 1e-3,
    "width": 0.125,
    "critic_units": 8,
    "pgd_steps": 2,
    "step_size": 0.05,
    "eps": 0.1,
    "progress": False,
}


def _images(n: int = 64, channels: int = 1, size: int = 28, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(10, channels, size, size, generator=gen)
    noise = 0.2 * torch.rand(n, channels, size, size, generator=gen)
    return (0.8 * base[torch.arange(n) % 10] + noise).clamp(0, 1)


def _nets(seed: int = 0, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return BaselineH(channels, size, 64, 0.125), LocalDIMCritic(channels, 64, units=8)


def _state(run) -> dict[str, torch.Tensor]:
    return {
        **{f"e.{k}": v for k, v in run.encoder.state_dict().items()},
        **{f"c.{k}": v for k, v in run.critic.state_dict().items()},
    }


def _state_of(encoder: nn.Module, critic: nn.Module) -> dict[str, torch.Tensor]:
    return {
        **{f"e.{k}": v.clone() for k, v in encoder.state_dict().items()},
        **{f"c.{k}": v.clone() for k, v in critic.state_dict().items()},
    }


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------------
# validation and settings
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [-0.1, math.nan, math.inf, True])
def test_bad_beta_is_rejected_naming_the_argument(beta: float) -> None:
    with pytest.raises(ValueError, match="beta"):
        train(_images(32), beta=beta, **TINY)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"estimator": "mine"}, "estimator"),
        ({"eps": -0.1}, "eps"),
        ({"norm": "1"}, "norm"),
        ({"batch_size": 64}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"amp_dtype": "fp16"}, "amp_dtype"),
        ({"amp": "yes"}, "amp"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        train(_images(32), **{**TINY, **kwargs})
    with pytest.raises(ValueError, match="micro_batches"):
        EncoderTrainer(*_nets(), EncoderConfig(beta=1.0, eps=0.1, micro_batches=0))


def test_settings_cover_every_profile_and_render() -> None:
    assert set(PROFILES) == {"quick", "cpu", "gpu", "paper"}
    paper = PROFILES["paper"].table1
    assert (paper.width, paper.critic_units, paper.batch_size, paper.pgd_steps) == (1, 2048, 128, 7)
    assert (paper.encoder_epochs, paper.lr, paper.strong_attack) == (500, 1e-4, "autoattack")
    table = settings_markdown("table1")
    assert "`quick`" in table and "critic_units" in table and "2048" in table
    assert "| profile |" not in table  # the columns name the profiles
    with pytest.raises(ValueError, match="name"):
        prepare_data("mnist", "tpu")


# ----------------------------------------------------------------------------------------------
# objective (5.2): the gradient of one step against a hand-written reference
# ----------------------------------------------------------------------------------------------
def _reference_grads(enc, critic, x, x_adv, beta, estimator):
    """d/dparams of the encoder's objective -(1 - beta) I(x) - beta I(x_adv), and of the
    critic's -|1 - beta| I(x) - beta I(x_adv), term by term with autograd."""
    enc_p, crit_p = list(enc.parameters()), list(critic.parameters())
    enc_g = [torch.zeros_like(p) for p in enc_p]
    crit_g = [torch.zeros_like(p) for p in crit_p]
    for xb, w_enc, w_crit in ((x, 1 - beta, abs(1 - beta)), (x_adv, beta, beta)):
        if w_crit == 0:
            continue
        loss, _ = training_objective(estimator, critic(xb, enc(xb)), clip=5.0)
        ge = torch.autograd.grad(loss, enc_p, retain_graph=True, allow_unused=True)
        gc = torch.autograd.grad(loss, crit_p, allow_unused=True)
        for acc, g in zip(enc_g, ge, strict=True):
            acc += w_enc * (0 if g is None else g)
        for acc, g in zip(crit_g, gc, strict=True):
            acc += w_crit * (0 if g is None else g)
    return enc_g, crit_g


@pytest.mark.parametrize(
    ("beta", "estimator"), [(0.0, "dv"), (0.4, "smile"), (1.0, "dv"), (2.5, "infonce")]
)
def test_objective_gradient_matches_the_weighted_bounds(beta: float, estimator: str) -> None:
    enc, critic = _nets()
    trainer = EncoderTrainer(
        enc, critic, EncoderConfig(beta=beta, eps=0.1, step_size=0.05, estimator=estimator)
    )
    x = _images(16)
    x_adv = trainer.attack(x) if beta > 0 else None
    ref_enc, ref_crit = copy.deepcopy(enc), copy.deepcopy(critic)
    ref_enc.train(), ref_crit.train()
    trainer.objective.train()
    loss, _ = trainer.objective(x, x_adv)
    loss.backward()
    expected_enc, expected_crit = _reference_grads(ref_enc, ref_crit, x, x_adv, beta, estimator)
    for p, g in zip(enc.parameters(), expected_enc, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-3, atol=2e-5)
    for p, g in zip(critic.parameters(), expected_crit, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-3, atol=2e-5)


def test_attack_stays_in_ball_and_box_lowers_the_estimate_and_touches_nothing() -> None:
    enc, critic = _nets()
    enc.train(), critic.train()
    trainer = EncoderTrainer(
        enc, critic, EncoderConfig(beta=1.0, eps=0.1, pgd_steps=5, step_size=0.03)
    )
    before = copy.deepcopy(
        {**enc.state_dict(), **{f"c{k}": v for k, v in critic.state_dict().items()}}
    )
    x = _images(16)
    x_adv = trainer.attack(x)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert not torch.equal(x_adv, x)
    after = {**enc.state_dict(), **{f"c{k}": v for k, v in critic.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)  # eval mode: no BN update
    assert enc.training and critic.training
    assert all(p.requires_grad and p.grad is None for p in enc.parameters())
    enc.eval(), critic.eval()
    with torch.no_grad():
        clean = readout("dv", critic(x, enc(x)))
        worst = readout("dv", critic(x_adv, enc(x_adv)))
    assert worst < clean


def test_beta_zero_ignores_eps_and_eps_zero_makes_beta_irrelevant() -> None:
    x = _images(48)
    standard = _state(train(x, beta=0.0, **TINY))
    assert _equal(standard, _state(train(x, beta=0.0, **{**TINY, "eps": 0.3})))
    # at eps = 0 the worst case is the batch itself: beta = 1 is the same objective exactly
    assert _equal(
        _state(train(x, beta=0.0, **{**TINY, "eps": 0.0})),
        _state(train(x, beta=1.0, **{**TINY, "eps": 0.0})),
    )
    worst = _state(train(x, beta=1.0, **TINY))
    assert not _equal(standard, worst)


def test_checkpoint_resume_gives_the_uninterrupted_weights(tmp_path) -> None:
    x = _images(48)
    kw = {**TINY, "beta": 0.5}
    whole = train(x, **{**kw, "epochs": 2})
    path = tmp_path / "enc.pt"
    train(x, **{**kw, "epochs": 1}, checkpoint=path)
    resumed = train(x, **{**kw, "epochs": 2}, checkpoint=path)
    assert _equal(_state(whole), _state(resumed))
    assert resumed.history.loss == whole.history.loss and len(resumed.history.mi) == 2
    loaded = load_encoder(path, resumed.config)
    assert _equal(_state(loaded), _state(resumed)) and not loaded.encoder.training
    with pytest.raises(ValueError, match=r"other settings \(beta: saved 0.5, now 1.0"):
        train(x, **{**kw, "beta": 1.0, "epochs": 3}, checkpoint=path)
    with pytest.raises(ValueError, match="images: saved 48, now 32"):
        train(x[:32], **{**kw, "epochs": 3}, checkpoint=path)


def test_amp_dtype_picks_the_autocast_type_and_fp16_brings_its_gradient_scaler() -> None:
    """On a CPU "auto" is fp32 (bit for bit the amp=False step); a named type runs CPU autocast,
    and fp16 (the path of GPUs without bf16, e.g. Colab's T4) runs with a gradient scaler whose
    first steps back off from an overflowing scale, as GradScaler does."""
    x = _images(16)
    steps = {}
    for name, amp, dtype in [
        ("off", False, "auto"),
        ("auto", True, "auto"),
        ("bf16", True, "bfloat16"),
        ("fp16", True, "float16"),
    ]:
        enc, critic = _nets()
        config = EncoderConfig(beta=1.0, eps=0.1, amp=amp, amp_dtype=dtype, batch_size=16)
        trainer = EncoderTrainer(enc, critic, config)
        stats = trainer.step([x], [None])
        steps[name] = (trainer, stats, _state_of(enc, critic))
    assert steps["auto"][0].dtype is None and steps["off"][0].dtype is None
    assert _equal(steps["auto"][2], steps["off"][2])
    assert steps["bf16"][0].dtype == torch.bfloat16 and steps["fp16"][0].dtype == torch.float16
    assert not steps["bf16"][0].scaler.is_enabled() and steps["fp16"][0].scaler.is_enabled()
    assert not torch.equal(steps["bf16"][1], steps["off"][1])  # autocast did run
    assert torch.isfinite(steps["fp16"][1][[0, 2]]).all()
    assert steps["fp16"][0].scaler.get_scale() < 2.0**16  # backed off from the initial scale


def test_an_fp16_run_resumes_with_its_gradient_scale(tmp_path) -> None:
    """The checkpoint keeps the scaler's state: a resumed fp16 run continues from the scale it
    had reached (not GradScaler's initial 2^16), skips the same overflowing steps as an
    uninterrupted one, and ends with its weights and its scaler's state."""
    x = _images(48)
    kw = {**TINY, "beta": 1.0, "amp_dtype": "float16"}
    whole_path, path = tmp_path / "whole.pt", tmp_path / "cut.pt"
    whole = train(x, **{**kw, "epochs": 2}, checkpoint=whole_path)
    train(x, **{**kw, "epochs": 1}, checkpoint=path)
    assert torch.load(path, weights_only=True)["extra"]["scaler"]["scale"] < 2.0**16
    resumed = train(x, **{**kw, "epochs": 2}, checkpoint=path)
    assert _equal(_state(whole), _state(resumed))
    assert resumed.history.loss == whole.history.loss
    scaler = [torch.load(p, weights_only=True)["extra"]["scaler"] for p in (whole_path, path)]
    assert scaler[0] == scaler[1]
    # the run's config names its precision, and a resume in another one is refused
    assert whole.config["autocast"] == "float16"
    with pytest.raises(ValueError, match="autocast: saved 'float16', now 'bfloat16'"):
        train(x, **{**kw, "amp_dtype": "bfloat16", "epochs": 3}, checkpoint=path)
    assert "autocast" not in train(x, **{**TINY, "epochs": 1}).config  # fp32 on a CPU


def test_auto_picks_bf16_only_where_the_gpu_computes_it_natively(monkeypatch) -> None:
    """torch.cuda.is_bf16_supported() also says yes on a T4 (compute capability 7.5), which
    only emulates bf16: "auto" must give fp16 there."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert autocast_dtype("cuda") == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert autocast_dtype("cuda") == torch.bfloat16
    assert autocast_dtype("cuda", amp_dtype="float16") == torch.float16
    assert autocast_dtype("cuda", amp=False) is None and autocast_dtype("cpu") is None
    assert autocast_dtype("cpu", amp_dtype="bfloat16") == torch.bfloat16
    with pytest.raises(ValueError, match="amp_dtype"):
        autocast_dtype("cpu", amp_dtype="half")


def test_micro_batches_average_chunks_and_their_batchnorm_statistics() -> None:
    x = _images(64)
    kw = {**TINY, "beta": 1.0, "epochs": 1, "batch_size": 16}
    two = train(x, micro_batches=2, **kw)
    one = train(x, micro_batches=1, **kw)
    assert not _equal(_state(one), _state(two))
    # the running mean after one step of two chunks is the mean of the chunks' updates
    enc, critic = _nets()
    trainer = EncoderTrainer(
        enc, critic, EncoderConfig(beta=0.0, eps=0.0, micro_batches=2, batch_size=16)
    )
    start = enc.conv1[1].running_mean.clone()
    chunks = [x[:16], x[16:32]]
    with torch.no_grad():
        h = [enc.conv1[0](enc.normalize(c)).mean((0, 2, 3)) for c in chunks]
    trainer.step(chunks, [None, None])
    mom = enc.conv1[1].momentum
    expected = (1 - mom) * start + mom * (h[0] + h[1]) / 2
    torch.testing.assert_close(enc.conv1[1].running_mean, expected, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# read-outs of a trained encoder
# ----------------------------------------------------------------------------------------------
def test_mi_readout_worst_case_is_below_the_clean_estimate() -> None:
    run = train(_images(64), beta=1.0, **TINY)
    x = _images(50, seed=1)  # three whole batches of 16; the last 2 images are not read
    r = mi_readout(run, x, batch_size=16)
    assert math.isfinite(r["mi"]) and r["worst_mi"] <= r["mi"] + 1e-6
    assert r["readout_images"] == 48
    # the standard errors are those of the three batch read-outs (each batch read on its own)
    parts = [mi_readout(run, x[s : s + 16], batch_size=16) for s in (0, 16, 32)]
    for key in ("mi", "worst_mi"):
        per_batch = torch.tensor([p[key] for p in parts], dtype=torch.float64)
        assert r[key] == pytest.approx(float(per_batch.mean()), abs=1e-5)
        assert r[f"{key}_stderr"] == pytest.approx(float(per_batch.std() / 3**0.5), abs=1e-5)
    drops = torch.tensor([p["mi"] - p["worst_mi"] for p in parts], dtype=torch.float64)
    assert r["drop_stderr"] == pytest.approx(float(drops.std() / 3**0.5), abs=1e-5)
    assert math.isnan(parts[0]["mi_stderr"]) and parts[0]["readout_images"] == 16
    with pytest.raises(ValueError, match="batch"):
        mi_readout(run, _images(8), batch_size=16)


def test_saliency_is_the_normalised_input_gradient_of_the_estimate() -> None:
    run = train(_images(48), beta=0.0, **TINY)
    run.encoder.double(), run.critic.double()
    x = _images(6, seed=2).double()
    maps = saliency(run, x)
    assert maps.shape == (6, 28, 28) and maps.min() >= 0
    torch.testing.assert_close(maps.flatten(1).amax(1), torch.ones(6, dtype=maps.dtype))

    def value(xx: torch.Tensor) -> float:
        with torch.no_grad():
            return float(readout("dv", run.critic(xx, run.encoder(xx))))

    grads = []
    for i, r, c in ((0, 10, 14), (3, 5, 20), (5, 14, 3)):
        h = 1e-5
        up, down = x.clone(), x.clone()
        up[i, 0, r, c] += h
        down[i, 0, r, c] -= h
        grads.append(abs(value(up) - value(down)) / (2 * h))
    # ratios between pixels of one image are what the normalised map keeps; across images,
    # compare each to its image's maximum through the map itself
    with torch.enable_grad():
        xa = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(readout("dv", run.critic(xa, run.encoder(xa))), xa)
    for (i, r, c), fd in zip(((0, 10, 14), (3, 5, 20), (5, 14, 3)), grads, strict=True):
        scale = float(g[i].abs().max())
        assert float(maps[i, r, c]) == pytest.approx(fd / scale, rel=1e-3, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        saliency(run, x[:1])


def test_saliency_smoothness_separates_smooth_maps_from_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(8, 28, 28, generator=gen)
    assert abs(saliency_smoothness(noise)) < 0.05
    ramp = torch.linspace(0, 1, 28).expand(8, 28, 28)
    assert saliency_smoothness(ramp) == pytest.approx(1.0, abs=0.01)
    stripes = (torch.arange(28) % 2).float().expand(8, 28, 28)  # every neighbour differs
    assert saliency_smoothness(stripes) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="maps"):
        saliency_smoothness(noise[0])


def test_saliency_share_is_the_fraction_of_each_map_on_the_mask() -> None:
    maps = torch.zeros(2, 4, 4)
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # 3/4 of image 0's saliency in the corner
    maps[1] = 1.0  # uniform: the share is the mask's area
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, :2, :2] = True
    torch.testing.assert_close(saliency_share(maps, mask), torch.tensor([0.75, 0.25]))
    with pytest.raises(ValueError, match="shape"):
        saliency_share(maps, mask[0])


# ----------------------------------------------------------------------------------------------
# heads, E.S., Table 1
# ----------------------------------------------------------------------------------------------
def test_head_training_keeps_the_encoder_frozen_and_es_picks_the_best_validation_epoch() -> None:
    run = train(_images(64), beta=0.0, **TINY)
    y = torch.arange(64) % 10
    before = copy.deepcopy(run.encoder.state_dict())
    torch.manual_seed(0)
    head = linear_head(64, 10)
    hist = train_head(
        run.encoder,
        head,
        _images(64),
        y,
        HeadConfig(epochs=4, val_eps=0.1, step_size=0.05, lr=1e-2, batch_size=16),
        x_val=_images(32, seed=3),
        y_val=torch.arange(32) % 10,
        progress=False,
    )
    assert all(torch.equal(before[k], v) for k, v in run.encoder.state_dict().items())
    assert all(p.requires_grad for p in run.encoder.parameters())
    assert len(hist.val_accuracy) == len(hist.val_adv_accuracy) == len(hist.loss) == 4
    best = max(range(4), key=lambda i: (hist.val_adv_accuracy[i], hist.val_accuracy[i], -i))
    assert hist.best_epoch == best + 1
    final = copy.deepcopy(head.state_dict())
    head.load_state_dict(hist.best_state)
    res = evaluate_head(
        run.encoder,
        head,
        _images(32, seed=3),
        torch.arange(32) % 10,
        HeadEvaluation(eps=0.1, step_size=0.05, strong_size=16),
    )
    assert res["pgd"] == pytest.approx(hist.val_adv_accuracy[best])
    assert res["natural"] == pytest.approx(hist.val_accuracy[best])
    assert res["strong_size"] == 16 and 0 <= res["strong"] <= 1
    if hist.best_epoch != 4:
        assert any(not torch.equal(final[k], v) for k, v in head.state_dict().items())


def test_prepare_data_carves_a_disjoint_validation_split() -> None:
    s = PROFILES["quick"].table1
    data = prepare_data("mnist", s)
    assert data.x_val.shape[0] == s.val_size
    assert data.x_fit.shape[0] + s.val_size == s.train_size["mnist"]
    fit = {tuple(v.flatten()[::37].tolist()) for v in data.x_fit}
    assert not any(tuple(v.flatten()[::37].tolist()) in fit for v in data.x_val)


def test_table1_quick_runs_the_whole_grid_and_resumes(tmp_path) -> None:
    tiny = dataclasses.replace(PROFILES["quick"].table1, head_epochs=1, strong_size=8)
    result = table1("cifar10", tiny, seeds=1, checkpoint_dir=tmp_path, progress=False)
    cells = {(r["representation"], r["head"], r["classifier"]) for r in result["rows"]}
    assert len(result["rows"]) == len(cells) == 12
    assert {c[1] for c in cells} == {"standard", "standard_es", "robust"}
    assert len(result["summary"]) == 12 and result["paper"] == PAPER_TABLE1
    assert [e["beta"] for e in result["encoders"]] == [0.0, 1.0]
    again = table1("cifar10", tiny, seeds=1, checkpoint_dir=tmp_path, progress=False)
    assert again["rows"] == result["rows"]


def test_table1_reuses_a_finished_cell_only_at_its_commit_and_settings(
    tmp_path, monkeypatch
) -> None:
    commit = {"now": "aaa1111"}
    monkeypatch.setattr(results, "git_commit", lambda: commit["now"])
    tiny = dataclasses.replace(PROFILES["quick"].table1, head_epochs=1, strong_size=8)
    first = table1("mnist", tiny, seeds=1, checkpoint_dir=tmp_path, progress=False)
    done = tmp_path / "mnist" / "standard_seed0" / "linear_standard.json"
    record = json.loads(done.read_text())
    assert record["git_commit"] == "aaa1111"
    assert record["settings"] == json.loads(json.dumps(cell_settings(tiny, THREAT_MODELS["mnist"])))
    # a marked cell file at the same commit and settings is reused as it is ...
    record["value"][0]["natural"] = -1.0
    done.write_text(json.dumps(record))

    def naturals(result: dict) -> list[float]:
        return [r["natural"] for r in result["rows"]]

    again = table1("mnist", tiny, seeds=1, checkpoint_dir=tmp_path, progress=False)
    assert naturals(again).count(-1.0) == 1
    # ... but recomputed (and overwritten) after a code change
    commit["now"] = "bbb2222"
    fresh = table1("mnist", tiny, seeds=1, checkpoint_dir=tmp_path, progress=False)
    assert naturals(fresh) == naturals(first)
    assert json.loads(done.read_text())["git_commit"] == "bbb2222"
    # and after a change of settings that leaves the trained heads valid
    done.write_text(json.dumps({**json.loads(done.read_text()), "value": record["value"]}))
    other = dataclasses.replace(tiny, strong_size=4)
    changed = table1("mnist", other, seeds=1, checkpoint_dir=tmp_path, progress=False)
    assert -1.0 not in naturals(changed)
    assert json.loads(done.read_text())["settings"]["table1"]["strong_size"] == 4


def test_summarise_gives_mean_and_sample_std_per_cell() -> None:
    rows = [
        {
            "representation": "r",
            "head": "h",
            "classifier": "c",
            "natural": v,
            "pgd": v / 2,
            "strong": 0.0,
        }
        for v in (0.2, 0.4, 0.9)
    ]
    (cell,) = summarise(rows)
    assert cell["natural_mean"] == pytest.approx(0.5)
    assert cell["natural_std"] == pytest.approx(torch.tensor([0.2, 0.4, 0.9]).std().item())
    assert cell["seeds"] == 3 and cell["strong_std"] == 0.0


def test_beta_eps_grid_trains_the_standard_encoder_once_and_reads_each_cell_at_its_eps() -> None:
    s = dataclasses.replace(PROFILES["quick"].table1, head_epochs=1)
    grid = beta_eps_grid("mnist", s, progress=False)
    cells = grid["cells"]
    assert len(cells) == len(s.grid_betas) * len(s.grid_eps_fractions)
    assert {(c["beta"], c["eps_fraction"]) for c in cells} == {
        (b, f) for b in s.grid_betas for f in s.grid_eps_fractions
    }
    standard = [c for c in cells if c["beta"] == 0]
    assert len({c["mi"] for c in standard}) == 1  # one encoder, one critic, same test images
    for c in cells:
        assert c["eps"] == pytest.approx(c["eps_fraction"] * 0.3)
        assert c["worst_mi"] <= c["mi"] + 1e-6 and 0 <= c["pgd"] <= 1
        # the validated read-out: a fresh critic's RV, read on held-out test images
        assert c["validated_rv"] == pytest.approx(
            c["validated_normal_mi"] - c["validated_worst_mi"]
        )
        assert math.isfinite(c["validated_rv"]) and c["validated_rv_stderr"] > 0
        assert c["validated_held_out_points"] == round(0.2 * min(s.rv_points, s.test_size))


def test_a_time_budget_stops_the_encoder_after_the_epoch_that_crosses_it():
    run = train(_images(64), **{**TINY, "epochs": 20}, time_budget_s=1e-9)
    assert len(run.history.loss) == 1 and run.history.stopped_by_budget
    done = train(_images(64), **TINY, time_budget_s=3600.0)
    assert len(done.history.loss) == 1 and not done.history.stopped_by_budget
    with pytest.raises(ValueError, match="time_budget_s"):
        train(_images(64), **TINY, time_budget_s=-1.0)
