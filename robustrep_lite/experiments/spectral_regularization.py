"""The experiment of Yang, Zavatone-Veth & Pehlevan (2024): spectral regularization of a
representation on the XOR toy and on MNIST, none / ll-spectral / rep-spectral.

The penalty and the layers each arm penalises come from :mod:`robustrep_lite.training.spectral`
(:class:`~robustrep_lite.training.spectral.SpectralPenalty`,
:func:`~robustrep_lite.training.spectral.layers_for`).
Here:

- the paper's models (:class:`OneHiddenLayerNet`: the 784 -> 2000 -> 10 GELU MLP of the MNIST
  experiment, :func:`mnist_mlp`, and the 2 -> 8 -> 2 XOR net of Figure 3, :func:`xor_net` on
  :func:`xor_data`) and the volume element of a representation (Remark 1,
  :func:`volume_element`);
- the training helper with burn-in (:func:`train_with_burnin`, settings :class:`BurninConfig`:
  the penalty joins from epoch ``burnin`` on, the paper's 160 of 200 epochs unregularised) and
  :func:`branch`, which continues several arms from one burn-in;
- the MNIST comparison of the three arms (:func:`compare_regularizers`; settings: the
  ``spectral`` section of a profile, :mod:`robustrep_lite.experiments.settings`), whose
  adversarial distances come from :mod:`robustrep_lite.adversarial.robust_distance` as
  :func:`distance_config` sets them, the three arms on the XOR toy (:func:`train_xor_arms`;
  their decision margins and volume elements on a grid, :func:`xor_fields`, and their
  measurements at the four points, :func:`xor_measurements`), and their summaries over seeds
  (:func:`summarise_rows`, :func:`paired_differences`, :func:`settings_record`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.adversarial.robust_distance import (
    DistanceConfig,
    DistanceSearch,
    adversarial_distances,
    representation_distances,
)
from robustrep_lite.core.validation import (
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_seed,
)
from robustrep_lite.experiments.settings import SpectralSettings
from robustrep_lite.training.spectral import (
    ARMS,
    SpectralPenalty,
    all_layers,
    layers_for,
    top_singular,
)
from robustrep_lite.training.supervised import check_labels

__all__ = [
    "BurninConfig",
    "OneHiddenLayerNet",
    "TrainHistory",
    "XorField",
    "branch",
    "compare_regularizers",
    "distance_config",
    "mnist_mlp",
    "paired_differences",
    "settings_record",
    "summarise_rows",
    "train_with_burnin",
    "train_xor_arms",
    "volume_element",
    "xor_data",
    "xor_fields",
    "xor_measurements",
    "xor_net",
]


# ----------------------------------------------------------------------------------------------
# The paper's models and the volume element
# ----------------------------------------------------------------------------------------------
class OneHiddenLayerNet(nn.Module):
    """``x -> Phi(x) = GELU(W1 x + b1)`` (the representation, :attr:`feature_map`) ``->
    (W2 Phi + b2) / sqrt(width)`` (the readout), as in the authors' ``SLP``.

    Weights and biases are drawn from ``N(0, init_std^2)`` (the paper's MNIST model: 0.01; the
    XOR toy: 1). Inputs of any shape (N, ...) are flattened.
    """

    def __init__(
        self, in_features: int, width: int, out_features: int, *, init_std: float = 0.01
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_features", in_features),
            ("width", width),
            ("out_features", out_features),
        ):
            check_int(name, value, 1)
        check_nonnegative("init_std", init_std, scalar=True)
        self.width = width
        self.feature_map = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), nn.GELU())
        self.readout = nn.Linear(width, out_features)
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, init_std)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.feature_map(x)) / math.sqrt(self.width)


def mnist_mlp(width: int = 2000, in_features: int = 784, classes: int = 10) -> OneHiddenLayerNet:
    """The paper's MNIST model: 784 -> 2000 GELU -> 10, init N(0, 0.01^2), output / sqrt(2000)."""
    return OneHiddenLayerNet(in_features, width, classes, init_std=0.01)


def xor_net(width: int = 8) -> OneHiddenLayerNet:
    """The XOR toy of Figure 3: 2 -> ``width`` GELU -> 2, init N(0, 1), output / sqrt(width)."""
    return OneHiddenLayerNet(2, width, 2, init_std=1.0)


def xor_data() -> tuple[Tensor, Tensor]:
    """The four XOR points (+-1, +-1), class 0 where the signs agree (the authors' symmetric
    XOR)."""
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    return x, torch.tensor([0, 1, 1, 0])


def volume_element(feature_map: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``sqrt(det(J^T J))`` at each row of ``x`` (N, d), with ``J = dPhi/dx`` the Jacobian of
    the representation (the paper's Remark 1: how much ``Phi`` stretches a small input volume).
    Vectorised over the rows with ``torch.func``; returns shape (N,)."""
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    jac = torch.func.vmap(torch.func.jacrev(lambda p: feature_map(p[None])[0]))(x)  # (N, m, d)
    gram = jac.transpose(1, 2) @ jac
    return torch.linalg.det(gram).clamp_min(0.0).sqrt()


# ----------------------------------------------------------------------------------------------
# Training with burn-in
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainHistory:
    """Per-epoch record of :func:`train_with_burnin` (epochs ``start_epoch .. epochs - 1``):
    mean task loss, mean penalty (0 during burn-in), and the penalised layers' top singular
    values after the epoch (empty during burn-in or without a penalty)."""

    epochs: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    sigmas: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class BurninConfig:
    """How :func:`train_with_burnin` trains: epochs ``start_epoch .. epochs - 1`` of mini-batches
    of ``batch_size``, the penalty joining from epoch ``burnin`` on (the schedule of Yang,
    Zavatone-Veth & Pehlevan 2024: 160 of 200 epochs unregularised). ``start_epoch > 0``
    continues a run (:func:`branch`). The default optimiser, :meth:`sgd`, is the paper's SGD
    with ``lr``, ``momentum`` and ``weight_decay``."""

    epochs: int
    burnin: int
    start_epoch: int = 0
    batch_size: int = 1024
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "burnin", "start_epoch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.start_epoch > self.epochs:
            raise ValueError(f"start_epoch must be <= epochs={self.epochs}, got {self.start_epoch}")
        check_int("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        check_nonnegative("weight_decay", self.weight_decay, scalar=True)
        check_nonnegative("momentum", self.momentum, scalar=True)
        if not self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")

    def sgd(self, params: Iterable[nn.Parameter]) -> torch.optim.SGD:
        """SGD over ``params`` with this run's ``lr``, ``momentum`` and ``weight_decay``."""
        return torch.optim.SGD(
            params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )


def _cross_entropy(model: nn.Module, xb: Tensor, yb: Tensor | None) -> Tensor:
    return F.cross_entropy(model(xb), yb)


def train_with_burnin(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor | None,
    config: BurninConfig,
    *,
    penalty: SpectralPenalty | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: Callable[[nn.Module, Tensor, Tensor | None], Tensor] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TrainHistory:
    """Train ``model`` in place: epochs ``config.start_epoch .. config.epochs - 1`` of
    mini-batch steps on ``loss_fn(model, x_batch, y_batch)`` (default: cross-entropy of
    ``model(x)``), plus ``penalty()`` from epoch ``config.burnin`` on (the schedule of Yang,
    Zavatone-Veth & Pehlevan 2024: 160 of 200 epochs unregularised).

    optimizer: default ``config.sgd(model.parameters())`` (the paper's); pass one to continue a
    run (:func:`branch`) or to train more than the model (e.g. a Deep InfoMax critic with
    Baseline-H, whose ``loss_fn`` then ignores ``targets``, which may be ``None``). The batch
    order of epoch ``e`` comes from a generator seeded by ``(seed, e)``, so a run split at any
    epoch and continued ends with the same weights.

    The data are moved to the model's device once, and a step reads nothing on the host (with a
    :class:`~robustrep_lite.training.spectral.SpectralPenalty`, its default on accelerators): the
    step losses are read once per epoch, and a non-finite one raises ``FloatingPointError``
    naming the step and epoch; the weights are then unusable. Non-finite ``inputs``, or (with
    the default loss) ``targets`` that are not integer class labels of the model's outputs,
    raise a ``ValueError`` naming them before any step.
    """
    check_seed("seed", seed)
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...), got {tuple(inputs.shape)}")
    if targets is not None and (targets.ndim < 1 or targets.shape[0] != inputs.shape[0]):
        raise ValueError(
            f"targets must have {inputs.shape[0]} rows like inputs, got {tuple(targets.shape)}"
        )
    if targets is None and loss_fn is None:
        raise ValueError("targets may be None only with a loss_fn that does not need them")
    check_finite("inputs", inputs)
    if loss_fn is None:  # cross-entropy: integer class labels of the model's outputs
        if targets.ndim != 1 or targets.is_floating_point() or targets.dtype == torch.bool:
            raise ValueError(
                "targets must be a 1-D tensor of integer class labels for the default "
                f"cross-entropy loss, got dtype {targets.dtype} and shape {tuple(targets.shape)}"
            )
        check_labels(model, inputs, targets, "targets")
    loss_fn = loss_fn or _cross_entropy
    if optimizer is None:
        optimizer = config.sgd(model.parameters())
    batch_size = config.batch_size
    device = next(model.parameters()).device
    inputs = inputs.to(device)
    targets = None if targets is None else targets.to(device)
    history = TrainHistory()
    n = inputs.shape[0]
    bar = tqdm(
        range(config.start_epoch, config.epochs), disable=not progress, leave=False, desc="epochs"
    )
    for epoch in bar:
        regularised = penalty is not None and epoch >= config.burnin
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        order = order.to(device)
        model.train()
        losses, penalties = [], []
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            xb = inputs[idx]
            yb = None if targets is None else targets[idx]
            loss = loss_fn(model, xb, yb)
            total = loss + penalty() if regularised else loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            losses.append(loss.detach())
            if regularised:
                penalties.append((total - loss).detach())
        # one host read per epoch: the step losses (and penalties) of the whole epoch
        losses_host = torch.stack(losses).cpu().numpy().astype(np.float64)
        penalties_host = (
            torch.stack(penalties).cpu().numpy().astype(np.float64)
            if regularised
            else np.zeros(len(losses))
        )
        bad = np.flatnonzero(~np.isfinite(losses_host + penalties_host))
        if len(bad):
            raise FloatingPointError(
                f"train_with_burnin: the loss became non-finite at step {int(bad[0]) + 1} of "
                f"epoch {epoch + 1} (lr={config.lr:g}); the model's weights are not usable. "
                "Lower lr or the penalty's lambda."
            )
        history.epochs.append(epoch)
        history.loss.append(float(np.mean(losses_host)))
        history.penalty.append(float(np.mean(penalties_host)))
        history.sigmas.append(penalty.sigmas if regularised else [])
        bar.set_postfix(loss=history.loss[-1], penalty=history.penalty[-1])
    model.eval()
    return history


def branch(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[nn.Module, torch.optim.Optimizer]:
    """An independent copy of ``model`` and of ``optimizer`` (same class, hyper-parameters and
    state, e.g. SGD momentum buffers) bound to the copy: to continue several arms from one
    burn-in. Continuing the copy exactly as the original would give the same weights."""
    clone = copy.deepcopy(model)
    mapping = dict(zip(model.parameters(), clone.parameters(), strict=True))
    groups = [
        {
            **{k: v for k, v in g.items() if k != "params"},
            "params": [mapping[p] for p in g["params"]],
        }
        for g in optimizer.param_groups
    ]
    opt = type(optimizer)(groups)
    opt.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    return clone, opt


# ----------------------------------------------------------------------------------------------
# The comparison of the three arms
# ----------------------------------------------------------------------------------------------
def compare_regularizers(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    settings: SpectralSettings,
    *,
    seeds: Sequence[int],
    init_std: float = 0.01,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[dict[str, float | int | str]]:
    """The three arms on one data set, per seed: one unregularised burn-in of a
    :class:`OneHiddenLayerNet` (``settings.burnin`` epochs, SGD), then branches continued to
    ``settings.epochs``: ``none``, and ``ll-spectral`` / ``rep-spectral`` with each lambda of
    ``settings.lambdas``. Each final model is scored by its test accuracy, by the accuracy of a
    logistic-regression head refit on its representation, and by the l2 adversarial distance of
    that refit classifier (HopSkipJump and the white-box DDN) on its first
    ``settings.attack_points`` correctly classified test points. Returns one row per (seed, arm,
    lambda); :func:`summarise_rows` averages them over seeds. Everything runs on ``device``.

    Each seed starts by reseeding torch (``torch.manual_seed(seed)``), so the rows of a seed do
    not depend on the other seeds asked for: one call per seed gives the rows of one call with
    all of them (so a long run can keep each finished seed and resume after a kill). Within a
    seed the arms are not independent in that way: each draws on the global torch generator
    (power iteration's random start, the refit head's initialisation) after the arms before it.
    """
    if isinstance(seeds, str) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty sequence of integers >= 0, got {seeds!r}")
    for seed in seeds:
        check_seed("seeds", seed)
    classes = int(max(y_train.max(), y_test.max())) + 1
    x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
    burnin = BurninConfig(
        epochs=settings.burnin,
        burnin=settings.burnin,
        batch_size=settings.batch_size,
        lr=settings.lr,
        momentum=settings.momentum,
        weight_decay=settings.weight_decay,
    )
    arm_run = replace(burnin, epochs=settings.epochs, start_epoch=settings.burnin)
    distances = distance_config(settings)
    rows: list[dict[str, float | int | str]] = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = OneHiddenLayerNet(x_train[0].numel(), settings.width, classes, init_std=init_std)
        model = model.to(device)
        base_opt = burnin.sgd(model.parameters())
        t0 = time.perf_counter()
        train_with_burnin(
            model, x_train, y_train, burnin, optimizer=base_opt, seed=seed, progress=progress
        )
        burnin_s = time.perf_counter() - t0
        arms = [("none", 0.0)] + [(a, lam) for a in ARMS[1:] for lam in settings.lambdas]
        for arm, lam in arms:
            net, opt = branch(model, base_opt)
            penalty = SpectralPenalty(layers_for(arm, net), lam, seed=seed) if lam else None
            t0 = time.perf_counter()
            train_with_burnin(
                net,
                x_train,
                y_train,
                arm_run,
                penalty=penalty,
                optimizer=opt,
                seed=seed,
                progress=progress,
            )
            train_s = time.perf_counter() - t0
            with torch.no_grad():
                accuracy = float((net(x_test).argmax(1) == y_test).float().mean())
            sigmas = [top_singular(layer, tol=1e-7)[0] for layer in all_layers(net)]
            t0 = time.perf_counter()
            found = representation_distances(
                net.feature_map,
                x_train,
                y_train,
                x_test,
                y_test,
                distances,
                seed=seed,
                progress=progress,
            )
            row: dict[str, float | int | str] = {
                "seed": seed,
                "arm": arm,
                "lam": lam,
                "test_accuracy": accuracy,
                **{f"sigma_{i + 1}": s for i, s in enumerate(sigmas)},
                **found,
                "burnin_s": burnin_s,
                "train_s": train_s,
                "attack_s": time.perf_counter() - t0,
            }
            rows.append(row)
    return rows


def distance_config(settings: SpectralSettings) -> DistanceConfig:
    """The adversarial-distance evaluation of ``settings``: a head refit with L2 strength
    ``head_l2``, HopSkipJump (``hsj_steps``, ``hsj_max_gradient_evals``) and DDN
    (``ddn_steps``) on the first ``attack_points`` correctly classified test points."""
    return DistanceConfig(
        points=settings.attack_points,
        head_l2=settings.head_l2,
        hsj=DistanceSearch(
            steps=settings.hsj_steps, max_gradient_evals=settings.hsj_max_gradient_evals
        ),
        ddn=DistanceSearch(attack="ddn", steps=settings.ddn_steps),
    )


def train_xor_arms(settings: SpectralSettings, seed: int = 0) -> dict[str, OneHiddenLayerNet]:
    """The three arms on the XOR toy (Figure 3), as in the authors' script: a
    :func:`xor_net` of ``settings.xor_width`` units trained full-batch with SGD (lr 1, momentum
    0.9, weight decay 1e-4) for ``settings.xor_burnin`` epochs, then each arm continued to
    ``settings.xor_epochs`` (lambda ``settings.xor_lambda`` for the regularised arms). Returns
    the three trained nets by arm name."""
    check_seed("seed", seed)
    x, y = xor_data()
    torch.manual_seed(seed)
    model = xor_net(settings.xor_width)
    burnin = settings.xor_burnin
    run = BurninConfig(
        epochs=burnin, burnin=burnin, batch_size=len(x), lr=1.0, momentum=0.9, weight_decay=1e-4
    )
    opt = run.sgd(model.parameters())
    train_with_burnin(model, x, y, run, optimizer=opt, seed=seed, progress=False)
    arm_run = replace(run, epochs=settings.xor_epochs, start_epoch=burnin)
    nets = {}
    for arm in ARMS:
        net, net_opt = branch(model, opt)
        lam = 0.0 if arm == "none" else settings.xor_lambda
        penalty = SpectralPenalty(layers_for(arm, net), lam, seed=seed) if lam else None
        train_with_burnin(
            net, x, y, arm_run, penalty=penalty, optimizer=net_opt, seed=seed, progress=False
        )
        nets[arm] = net
    return nets


class XorField(NamedTuple):
    """One XOR net on a ``side x side`` grid of ``[-limit, limit]^2`` (:func:`xor_fields`):
    ``axis`` (side,), and per grid point (row ``x2``, column ``x1``) the logit ``margin``
    ``F_1 - F_0`` (the decision boundary is its zero set) and the ``volume`` element of the
    representation (the paper's Remark 1)."""

    axis: np.ndarray
    margin: np.ndarray
    volume: np.ndarray


def xor_fields(
    nets: Mapping[str, OneHiddenLayerNet], side: int, limit: float = 2.0
) -> dict[str, XorField]:
    """The decision margin and the volume element :func:`volume_element` of each net of
    ``nets`` (e.g. :func:`train_xor_arms`) on a ``side x side`` grid of ``[-limit, limit]^2``:
    what the paper's Figure 3 draws. Raises ``ValueError`` for ``side < 2`` or ``limit <= 0``."""
    check_int("side", side, 2)
    if not (math.isfinite(limit) and limit > 0):
        raise ValueError(f"limit must be a finite number > 0, got {limit!r}")
    axis = torch.linspace(-limit, limit, side)
    grid = torch.cartesian_prod(axis, axis).flip(1)  # rows (x2, x1) -> columns x1, x2
    fields = {}
    for arm, net in nets.items():
        with torch.no_grad():
            logits = net(grid)
        margin = (logits[:, 1] - logits[:, 0]).reshape(side, side).numpy()
        volume = volume_element(net.feature_map, grid).detach().reshape(side, side).numpy()
        fields[arm] = XorField(axis.numpy(), margin, volume)
    return fields


def xor_measurements(
    nets: Mapping[str, OneHiddenLayerNet], ddn_steps: int = 200
) -> dict[str, dict[str, float | list[float]]]:
    """What each XOR net does at the four points of :func:`xor_data`: the top singular value of
    every weight layer (``sigmas``: W1, W2; power iteration to tolerance 1e-9), the mean volume
    element of the representation (``volume``, Remark 1) and the mean l2 distance to the
    decision boundary found by DDN with ``ddn_steps`` steps in the box ``[-3, 3]^2``
    (``distance``)."""
    check_int("ddn_steps", ddn_steps, 1)
    x, y = xor_data()
    ddn = DistanceSearch(attack="ddn", steps=ddn_steps, bounds=(-3.0, 3.0))
    out: dict[str, dict[str, float | list[float]]] = {}
    for arm, net in nets.items():
        sigmas = [top_singular(layer, tol=1e-9)[0] for layer in all_layers(net)]
        volume = volume_element(net.feature_map, x).detach()
        distance = adversarial_distances(net, x, y, ddn, progress=False)
        out[arm] = {
            "sigmas": sigmas,
            "volume": float(volume.mean()),
            "distance": float(distance.nanmean()),
        }
    return out


def summarise_rows(rows: Sequence[dict]) -> list[dict[str, float | int | str]]:
    """Mean and standard error over seeds of every numeric column, per (arm, lambda):
    ``{"arm", "lam", "seeds", "<column>_mean", "<column>_se", ...}`` (se = sd / sqrt(seeds),
    0 for one seed)."""
    keys = list(dict.fromkeys((r["arm"], r["lam"]) for r in rows))
    numeric = [
        k
        for k, v in rows[0].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed", "lam")
    ]
    out = []
    for arm, lam in keys:
        group = [r for r in rows if r["arm"] == arm and r["lam"] == lam]
        summary: dict[str, float | int | str] = {"arm": arm, "lam": lam, "seeds": len(group)}
        for k in numeric:
            values = np.array([r[k] for r in group], dtype=float)
            summary[f"{k}_mean"] = float(np.mean(values))
            sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            summary[f"{k}_se"] = sd / math.sqrt(len(values))
        out.append(summary)
    return out


def paired_differences(
    rows: Sequence[dict], metric: str, baseline: str = "none"
) -> list[dict[str, float | int | str]]:
    """Per (arm, lambda) other than ``baseline``: the mean and standard error over seeds of
    ``metric(arm) - metric(baseline)`` on the same seed. The arms of a seed share their burn-in,
    so pairing removes the seed-to-seed spread of the starting network."""
    base = {r["seed"]: r[metric] for r in rows if r["arm"] == baseline}
    keys = list(dict.fromkeys((r["arm"], r["lam"]) for r in rows if r["arm"] != baseline))
    out = []
    for arm, lam in keys:
        diffs = np.array(
            [r[metric] - base[r["seed"]] for r in rows if (r["arm"], r["lam"]) == (arm, lam)]
        )
        se = float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else 0.0
        out.append(
            {"arm": arm, "lam": lam, "seeds": len(diffs), "mean": float(diffs.mean()), "se": se}
        )
    return out


def settings_record(settings: SpectralSettings) -> dict:
    """The settings as a JSON-ready dict (lists for tuples), to store beside results."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}
