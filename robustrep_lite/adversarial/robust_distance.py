"""Adversarial distance of a representation (the evaluation of Yang, Zavatone-Veth & Pehlevan
2024): refit a logistic-regression head on the frozen representation, then measure how far, in
l2, each correctly classified test point must move before the refit classifier changes its
decision.

- :func:`refit_head`: multinomial logistic regression on the features, in torch (full-batch
  L-BFGS) rather than scikit-learn, so that the head is an ``nn.Linear`` the attacks can query
  in batches and differentiate; its objective is scikit-learn's ``LogisticRegression`` with
  ``C = 1 / (l2 * n)`` divided by ``n`` (checked against it in the tests).
- :func:`adversarial_distances`: the minimal-distance attacks of foolbox 3
  (:class:`DistanceSearch`): the decision-based
  (hard-label, black-box) **HopSkipJump** attack (Chen, Jordan & Wainwright 2020; the paper
  uses its Tangent Attack refinement, Ma et al. 2021), which only queries predicted labels, and
  the white-box **DDN** attack (Rony et al. 2019) as a gradient-based cross-check. Both are
  batched over points. HopSkipJump starts, for each point, from the nearest pool point that the
  classifier labels differently (always adversarial, unlike foolbox's random-noise start).
- :func:`representation_distances`: all of it for one feature map, with the distances of the
  first ``points`` correctly classified test points (:class:`DistanceConfig`).

A decision-based attack returns an *upper bound* on the distance to the decision boundary; with
a fixed query budget the bound is loose in high dimension (on a linear model in 784 dimensions,
20 HopSkipJump steps overestimate the exact distance ``|w.x + b| / ||w||`` by tens of percent).
Comparisons between models are fair only at the same budget.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.adversarial.attacks import check_box
from robustrep_lite.core.validation import check_choice, check_int, check_nonnegative, check_seed

__all__ = [
    "ATTACKS",
    "DistanceSearch",
    "DistanceConfig",
    "RefitClassifier",
    "adversarial_distances",
    "compute_features",
    "first_correct",
    "refit_head",
    "representation_distances",
]

#: The minimal-distance attacks of :class:`DistanceSearch`: HopSkipJump and DDN.
ATTACKS = ("hsj", "ddn")


@dataclass(frozen=True)
class DistanceSearch:
    """How :func:`adversarial_distances` searches for each point's minimal adversarial distance.

    attack: one of :data:`ATTACKS`: ``"hsj"``, HopSkipJump (Chen, Jordan & Wainwright 2020,
    Algorithm 2: ``steps`` iterations, boundary-normal estimates of at most
    ``max_gradient_evals`` queries), or ``"ddn"``, DDN (Rony et al. 2019: ``steps`` gradient
    steps; ``max_gradient_evals`` unused). Inputs live in ``bounds``, a finite ``(low, high)``
    with ``low < high`` (stored as floats); points are attacked ``batch_size`` at a time.
    """

    attack: str = "hsj"
    steps: int = 40
    max_gradient_evals: int = 10_000
    bounds: tuple[float, float] = (0.0, 1.0)
    batch_size: int = 50

    def __post_init__(self) -> None:
        check_choice("attack", self.attack, ATTACKS)
        for name in ("steps", "max_gradient_evals"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        object.__setattr__(self, "bounds", check_box(self.bounds, "bounds", optional=False))
        check_int("batch_size", self.batch_size, 1)


@dataclass(frozen=True)
class DistanceConfig:
    """What :func:`representation_distances` measures (Yang, Zavatone-Veth & Pehlevan 2024,
    Section 5): a head refit with L2 penalty ``head_l2`` (:func:`refit_head`), then the
    ``hsj`` and ``ddn`` searches (:class:`DistanceSearch`; their ``attack`` fields must name
    them) on the first ``points`` correctly classified test points."""

    points: int
    head_l2: float = 1e-4
    hsj: DistanceSearch = field(default_factory=DistanceSearch)
    ddn: DistanceSearch = field(default_factory=lambda: DistanceSearch(attack="ddn", steps=100))

    def __post_init__(self) -> None:
        check_int("points", self.points, 1)
        check_nonnegative("head_l2", self.head_l2, scalar=True)
        for name in ("hsj", "ddn"):
            search = getattr(self, name)
            if not isinstance(search, DistanceSearch) or search.attack != name:
                raise ValueError(
                    f"{name} must be a DistanceSearch with attack={name!r}, got {search!r}"
                )


def _check_xy(x: Tensor, y: Tensor, what: str) -> None:
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"{what} must be a non-empty batch (N, ...) with labels (N,), got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )


@torch.no_grad()
def compute_features(
    feature_map: Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 2048
) -> Tensor:
    """``feature_map(x)`` in batches of ``batch_size`` rows, without gradient, shape (N, m)."""
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (N, ...), got shape {tuple(x.shape)}")
    return torch.cat([feature_map(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])


def refit_head(
    features: Tensor, labels: Tensor, *, l2: float = 1e-4, max_iter: int = 500
) -> nn.Linear:
    """A multinomial logistic-regression head on frozen ``features`` (N, m): minimises
    ``mean_i CE(W f_i + b, y_i) + (l2 / 2) ||W||_F^2`` (intercept not penalised) by full-batch
    L-BFGS from zero, in the dtype of ``features``. Deterministic. Returns an ``nn.Linear(m,
    classes)`` with ``classes = labels.max() + 1``, in eval mode, without gradients."""
    _check_xy(features, labels, "features")
    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, m), got {tuple(features.shape)}")
    check_nonnegative("l2", l2, scalar=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    classes = int(labels.max()) + 1
    head = nn.Linear(features.shape[1], classes).to(features)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(
        head.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(head(features), labels) + 0.5 * l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    head.requires_grad_(False)
    return head.eval()


class RefitClassifier(nn.Module):
    """``head(feature_map(x))``: the classifier whose adversarial distance measures the
    representation (the feature map frozen, the head refit)."""

    def __init__(self, feature_map: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.feature_map, self.head = feature_map, head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.feature_map(x))


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor, batch_size: int = 2048) -> Tensor:
    return torch.cat([model(x[s : s + batch_size]).argmax(1) for s in range(0, len(x), batch_size)])


def first_correct(model: nn.Module, x: Tensor, y: Tensor, n: int) -> Tensor:
    """Indices of the first ``n`` rows of ``x`` that ``model`` classifies correctly (fewer if
    there are not that many), in order; ``n`` is an integer >= 1."""
    check_int("n", n, 1)
    _check_xy(x, y, "x")
    return torch.nonzero(_predict(model, x) == y).flatten()[:n]


def _nearest_other(model: nn.Module, x: Tensor, y: Tensor, pool: Tensor) -> tuple[Tensor, Tensor]:
    """For each row of x, the nearest (l2) pool point that ``model`` does not label y; and a
    mask of the rows for which one exists."""
    predicted = _predict(model, pool)
    dist = torch.cdist(x.flatten(1), pool.flatten(1))
    dist = dist.masked_fill(predicted[None, :] == y[:, None], float("inf"))
    best = dist.argmin(1)
    return pool[best], torch.isfinite(dist.gather(1, best[:, None])[:, 0])


def _hop_skip_jump(fb: Any) -> type:
    """foolbox 3.3.4's HopSkipJumpAttack with the boundary-normal estimate normalised per point.

    foolbox divides the batch of estimates by *one* norm over the whole batch
    (``ep.norms.l2(atleast_kd(flatten(grad), grad.ndim))`` has no axis), so each point's step
    shrinks like ``1 / sqrt(batch size)`` and the distances found depend on how many points are
    attacked together. Dividing each estimate by its own norm restores the algorithm of Chen
    et al. (2020, Algorithm 2): the update direction is a unit vector per point.
    """

    class HopSkipJump(fb.attacks.HopSkipJumpAttack):
        def approximate_gradients(self, is_adversarial: Any, x_advs: Any, steps: int, delta: Any):
            grad = super().approximate_gradients(is_adversarial, x_advs, steps, delta)
            norms = grad.flatten(start=1).norms.l2(axis=-1)
            return grad / (norms.reshape((-1,) + (1,) * (grad.ndim - 1)) + 1e-12)

    return HopSkipJump


def adversarial_distances(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    search: DistanceSearch = DistanceSearch(),
    *,
    pool: Tensor | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Tensor:
    """The l2 distance ``||x_adv - x||_2`` that ``search.attack`` needs to change ``model``'s
    label of each row of ``x`` away from ``y`` (pass correctly classified points), inside
    ``search.bounds``.

    ``"hsj"``: foolbox's HopSkipJumpAttack (``search.steps`` iterations, boundary-normal
    estimates of ``min(100 sqrt(t), search.max_gradient_evals)`` queries, geometric step search),
    started from the nearest differently labelled point of ``pool`` (default: ``x`` itself).
    ``"ddn"``: foolbox's DDNAttack with ``search.steps`` gradient steps. Points are attacked
    ``search.batch_size`` at a time with the torch generator seeded by ``seed`` (restored
    afterwards). Returns a float tensor (N,), ``nan`` where the attack found no adversarial
    point.
    """
    check_seed("seed", seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # foolbox imports old scipy names
        import foolbox as fb

    _check_xy(x, y, "x")
    bounds, batch_size = search.bounds, search.batch_size
    if float(x.min()) < bounds[0] or float(x.max()) > bounds[1]:
        raise ValueError(f"x must lie inside bounds {bounds!r}")
    model = model.eval()
    fmodel = fb.PyTorchModel(model, bounds=bounds)
    if search.attack == "hsj":
        method = _hop_skip_jump(fb)(
            steps=search.steps, max_gradient_eval_steps=search.max_gradient_evals
        )
    else:
        method = fb.attacks.DDNAttack(steps=search.steps)
    pool = x if pool is None else pool
    out = torch.full((len(x),), float("nan"))
    chunks = range(0, len(x), batch_size)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # eagerpy/foolbox deprecation notices
        torch.manual_seed(seed)
        for s in tqdm(chunks, disable=not progress, leave=False, desc=f"{search.attack} attack"):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            index = torch.arange(s, s + len(xb))
            if search.attack == "hsj":
                start, ok = _nearest_other(model, xb, yb, pool)
                if not bool(ok.any()):
                    continue
                xb, yb, start, index = xb[ok], yb[ok], start[ok], index[ok]
                criterion = fb.criteria.Misclassification(yb)
                adv = method.run(fmodel, xb, criterion, starting_points=start)
            else:
                adv = method.run(fmodel, xb, fb.criteria.Misclassification(yb))
            with torch.no_grad():
                success = model(adv).argmax(1) != yb
            dist = (adv - xb).flatten(1).norm(dim=1).cpu()
            out[index] = torch.where(success.cpu(), dist, torch.full_like(dist, float("nan")))
    return out


def representation_distances(
    feature_map: nn.Module,
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    config: DistanceConfig,
    *,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float | int]:
    """Refit a head on ``feature_map``'s training features (:func:`refit_head`, L2 penalty
    ``config.head_l2``) and attack the refit classifier on its first ``config.points`` correctly
    classified test points, with ``config.hsj`` (starting points from the whole test set) and
    ``config.ddn`` (the evaluation of Yang, Zavatone-Veth & Pehlevan 2024, Section 5).

    Returns ``refit_accuracy`` (on all of ``x_test``), ``points`` (attacked), and per attack
    ``<attack>_mean`` / ``<attack>_median`` of the distances found and ``<attack>_failed`` (the
    number of points for which none was found, left out of the mean).
    """
    check_seed("seed", seed)
    _check_xy(x_train, y_train, "x_train")
    _check_xy(x_test, y_test, "x_test")
    feature_map = feature_map.eval()
    head = refit_head(compute_features(feature_map, x_train), y_train, l2=config.head_l2)
    classifier = RefitClassifier(feature_map, head).eval()
    accuracy = float((_predict(classifier, x_test) == y_test).float().mean())
    idx = first_correct(classifier, x_test, y_test, config.points)
    result: dict[str, float | int] = {"refit_accuracy": accuracy, "points": len(idx)}
    for search in (config.hsj, config.ddn):
        found = adversarial_distances(
            classifier, x_test[idx], y_test[idx], search, pool=x_test, seed=seed, progress=progress
        ).numpy()
        ok = found[np.isfinite(found)]
        result[f"{search.attack}_mean"] = float(ok.mean()) if len(ok) else float("nan")
        result[f"{search.attack}_median"] = float(np.median(ok)) if len(ok) else float("nan")
        result[f"{search.attack}_failed"] = int(len(found) - len(ok))
    return result
