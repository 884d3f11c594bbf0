"""Classifier training (standard, adversarial, frozen encoder, resume) and robust accuracy."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from robustrep_lite.training.supervised import (
    NATURAL,
    ClassifierConfig,
    Evaluation,
    augment_batch,
    robust_accuracy,
    train_classifier,
)


def _blobs(n: int = 512, d: int = 16, seed: int = 0):
    """Two classes in [0, 1]^d: coordinate 0 separates them with a margin of 0.4 (robust to
    eps = 0.1); the other coordinates carry a weak shift of +-0.06 under +-0.1 noise, useful to
    a standard classifier and flipped by an eps = 0.1 attack (a non-robust feature)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    s = (2 * y - 1).float()[:, None]
    x = 0.5 + 0.06 * s + 0.1 * (2 * torch.rand(n, d, generator=g) - 1)
    x[:, 0] = 0.5 + 0.3 * s[:, 0] + 0.1 * (2 * torch.rand(n, generator=g) - 1)
    return x.view(n, 1, 1, d), y


def _mlp(d: int = 16, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2)
    )


def test_augment_batch_crops_and_flips_each_sample():
    x = torch.rand(16, 3, 8, 8)
    out = augment_batch(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape
    for i in range(16):  # every output is a shifted (and maybe flipped) window of its input
        padded = nn.functional.pad(x[i], (2, 2, 2, 2))
        windows = [
            padded[:, r : r + 8, c : c + 8].flip(f) if f else padded[:, r : r + 8, c : c + 8]
            for r in range(5)
            for c in range(5)
            for f in ((), (2,))
        ]
        assert any(torch.equal(out[i], w) for w in windows)
    again = augment_batch(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(out, again)
    other = augment_batch(x, torch.Generator().manual_seed(1), pad=2)
    assert not torch.equal(out, other)


def test_standard_training_learns():
    x, y = _blobs()
    model = _mlp()
    history = train_classifier(
        model, x, y, ClassifierConfig(epochs=5, batch_size=64, lr=1e-2), progress=False
    )
    assert history.loss[-1] < history.loss[0]
    assert robust_accuracy(model, x, y, NATURAL) > 0.95
    assert history.images_per_second > 0


def test_adversarial_training_buys_robustness():
    x, y = _blobs()
    xt, yt = _blobs(seed=1)
    eps = 0.1
    std, adv = _mlp(), _mlp()
    train_classifier(std, x, y, ClassifierConfig(epochs=5, batch_size=64, lr=1e-2), progress=False)
    train_classifier(
        adv,
        x,
        y,
        ClassifierConfig(epochs=5, batch_size=64, lr=1e-2, eps=eps, pgd_steps=3),
        progress=False,
    )
    std_rob = robust_accuracy(std, xt, yt, Evaluation(eps=eps, steps=10, step_size=0.025))
    adv_rob = robust_accuracy(adv, xt, yt, Evaluation(eps=eps, steps=10, step_size=0.025))
    assert adv_rob > 0.95 and std_rob < 0.7
    assert robust_accuracy(std, xt, yt, NATURAL) > 0.95


def test_frozen_encoder_only_head_moves_and_bn_stats_stay():
    x, y = _blobs()
    encoder = _mlp()[:4]
    head = nn.Linear(32, 2)
    model = nn.Sequential(encoder, head)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    head_before = head.weight.clone()
    train_classifier(
        model, x, y, ClassifierConfig(epochs=2), params=head.parameters(), progress=False
    )
    after = encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BN running stats
    assert not torch.equal(head.weight, head_before)


def test_resume_gives_the_same_weights(tmp_path):
    x, y = _blobs(n=256)
    config = ClassifierConfig(epochs=4, batch_size=32, lr=1e-2, eps=0.1, pgd_steps=2)
    ref = _mlp(seed=5)
    nn.init.zeros_(ref[-1].bias)
    train_classifier(ref, x, y, config, seed=7, progress=False)
    ckpt = tmp_path / "run.pt"
    part = _mlp(seed=5)
    nn.init.zeros_(part[-1].bias)
    killed = replace(config, epochs=2)  # "killed" after two epochs
    train_classifier(part, x, y, killed, seed=7, checkpoint=ckpt, progress=False)
    resumed = _mlp(seed=99)  # a fresh process: different initial weights, restored from disk
    history = train_classifier(resumed, x, y, config, seed=7, checkpoint=ckpt, progress=False)
    assert len(history.loss) == 4
    for a, b in zip(ref.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"lr": 5e-3}, "lr"),
        ({"eps": 0.2}, "eps"),
        ({"seed": 8}, "seed"),
        ({"n": 128}, "images"),
        ({"relabel": True}, "labels_crc32"),
    ],
)
def test_a_checkpoint_of_other_settings_is_refused(tmp_path, change, named):
    x, y = _blobs(n=256)
    config = ClassifierConfig(epochs=1, batch_size=32, lr=1e-2, eps=0.1, pgd_steps=2)
    ckpt = tmp_path / "run.pt"
    train_classifier(_mlp(seed=5), x, y, config, checkpoint=ckpt, seed=7, progress=False)
    n = change.pop("n", 256)
    y2 = (1 - y) if change.pop("relabel", False) else y
    seed = change.pop("seed", 7)
    other = replace(config, epochs=2, **change)
    with pytest.raises(ValueError, match=rf"other settings \(.*{named}: saved"):
        train_classifier(_mlp(seed=5), x[:n], y2[:n], other, checkpoint=ckpt, seed=seed)
    # more epochs with the same settings continue the run
    more = replace(config, epochs=2)
    history = train_classifier(_mlp(seed=5), x, y, more, checkpoint=ckpt, seed=7, progress=False)
    assert len(history.loss) == 2


def test_early_stopping_on_validation_loads_the_best_epoch():
    x, y = _blobs()
    xv, yv = _blobs(n=128, seed=2)
    model = _mlp()
    history = train_classifier(
        model,
        x,
        y,
        ClassifierConfig(epochs=5, lr=1e-2, eps=0.1, pgd_steps=2, select_best=True),
        x_val=xv,
        y_val=yv,
        progress=False,
    )
    best = history.best_epoch
    assert best is not None and len(history.val_adv_accuracy) == 5
    assert history.val_adv_accuracy[best - 1] == max(history.val_adv_accuracy)
    assert robust_accuracy(model, xv, yv, Evaluation(eps=0.1)) == pytest.approx(
        history.val_adv_accuracy[best - 1]
    )


def test_attack_strengths_are_ordered():
    x, y = _blobs(n=128)
    model = _mlp()
    train_classifier(
        model, x, y, ClassifierConfig(epochs=10, batch_size=64, lr=1e-2), progress=False
    )
    nat = robust_accuracy(model, x, y, NATURAL)
    eps = robust_accuracy(model, x, y, Evaluation(eps=0.0))
    pgd7 = robust_accuracy(model, x, y, Evaluation(eps=0.1, step_size=0.02))
    apgd = robust_accuracy(model, x, y, Evaluation(attack="apgd", eps=0.1))
    assert nat == eps
    assert apgd <= pgd7 + 1 / 128 and pgd7 <= nat


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(epochs=-1), "epochs"),
        (dict(epochs=1, eps=-0.1), "eps"),
        (dict(epochs=1, norm="1"), "norm"),
        (dict(epochs=1, optimizer="lbfgs"), "optimizer"),
        (dict(epochs=1, select_best=True), "select_best"),
        (dict(epochs=1, batch_size=0), "batch_size"),
        (dict(epochs=1, weight_decay=-1.0), "weight_decay"),
        (dict(epochs=1, pgd_steps=-1), "pgd_steps"),
        (dict(epochs=1, step_size=-0.1), "step_size"),
    ],
)
def test_train_bad_input(kwargs, match):
    x, y = _blobs(n=16)
    with pytest.raises(ValueError, match=match):
        train_classifier(_mlp(), x, y, ClassifierConfig(**kwargs), progress=False)


def test_bad_shapes_and_attack_name():
    x, y = _blobs(n=16)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(_mlp(), x, y[:8], ClassifierConfig(epochs=1))
    with pytest.raises(ValueError, match="attack"):
        robust_accuracy(_mlp(), x, y, Evaluation(attack="fgsm"))
    with pytest.raises(ValueError, match="steps"):
        robust_accuracy(_mlp(), x, y, Evaluation(steps=-1))


def test_a_time_budget_stops_after_the_epoch_that_crosses_it():
    x, y = _blobs(n=256)
    history = train_classifier(
        _mlp(), x, y, ClassifierConfig(epochs=50, time_budget_s=1e-9), progress=False
    )
    assert len(history.loss) == 1 and history.stopped_by_budget
    full = train_classifier(
        _mlp(), x, y, ClassifierConfig(epochs=2, time_budget_s=3600.0), progress=False
    )
    assert len(full.loss) == 2 and not full.stopped_by_budget
    with pytest.raises(ValueError, match="time_budget_s"):
        train_classifier(_mlp(), x, y, ClassifierConfig(epochs=1, time_budget_s=0), progress=False)


@pytest.fixture(scope="module")
def robust_digits():
    """An MLP adversarially trained (eps = 0.1) on the embedded digits averaged down to 7x7 (small
    inputs keep FAB and Square, AutoAttack's slowest attacks, to seconds), and 200 test images."""
    from robustrep_lite.training.data import load_dataset

    digits = load_dataset("mnist", source="embedded")
    x, x_test = (nn.functional.avg_pool2d(v, 4) for v in (digits.x_train, digits.x_test))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(49, 64), nn.ReLU(), nn.Linear(64, 10))
    config = ClassifierConfig(epochs=20, lr=3e-3, eps=0.1)
    train_classifier(model, x, digits.y_train, config, progress=False)
    return model, x_test[:200], digits.y_test[:200]


def _torchattacks_accuracy(model: nn.Module, x, y, attack: str, eps: float, norm: str) -> float:
    """Accuracy under torchattacks 3.5's APGD-CE then APGD-T (10 steps each, its defaults) or its
    standard AutoAttack, seed 0: what ``robust_accuracy`` ran before it used Croce & Hein's code."""
    import torchattacks

    ta_norm = "Linf" if norm == "inf" else "L2"
    if attack == "autoattack":
        adv = torchattacks.AutoAttack(model, norm=ta_norm, eps=eps, n_classes=10, seed=0)(x, y)
    else:
        adv = torchattacks.APGD(model, norm=ta_norm, eps=eps, loss="ce", seed=0)(x, y)
        with torch.no_grad():
            alive = model(adv).argmax(1) == y
        targeted = torchattacks.APGDT(model, norm=ta_norm, eps=eps, n_classes=10, seed=0)
        adv[alive] = targeted(x[alive], y[alive])
    with torch.no_grad():
        return (model(adv).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize(
    ("attack", "eps", "norm", "points"),
    [("apgd", 0.1, "inf", 200), ("apgd", 0.5, "2", 200), ("autoattack", 0.1, "inf", 64)],
)
def test_strong_attacks_agree_with_torchattacks(robust_digits, attack, eps, norm, points):
    model, x, y = robust_digits
    x, y = x[:points], y[:points]
    ours = robust_accuracy(model, x, y, Evaluation(attack=attack, eps=eps, norm=norm))
    theirs = _torchattacks_accuracy(model, x, y, attack, eps, norm)
    pgd7 = robust_accuracy(model, x, y, Evaluation(eps=eps, norm=norm, step_size=eps / 4))
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
    assert 0.2 < ours < pgd7 < robust_accuracy(model, x, y, NATURAL)  # not trivial, and stronger


def test_apgd_on_three_classes_runs_apgd_ce_alone():
    """APGD-T's targeted DLR loss needs four logits; with three classes only APGD-CE runs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,))
    apgd = robust_accuracy(model, x, y, Evaluation(attack="apgd", eps=0.1))
    assert apgd <= robust_accuracy(model, x, y, NATURAL)
