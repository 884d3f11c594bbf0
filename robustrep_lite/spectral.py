"""Spectral regularization of representations (Yang, Zavatone-Veth & Pehlevan, 2024).

The regularized loss (the paper's Section 3; the authors' code, ``../shared/reference/
rep-spectral.md``) is

    L = cross-entropy + lambda * sum_{l in S} sigma_max(W_l)^2,

the squared top singular value of each weight layer in a set ``S`` (no 1/2 factor; biases and
normalisation parameters are not penalised):

- ``"rep-spectral"``: ``S`` = every weight layer *up to the representation* (:func:`rep_layers`),
  the readout excluded because downstream heads are refit. The motivation (Lemma 1): the
  distance from x to a refit linear head's boundary is at least the margin divided by
  ``||w_y - w_k|| * ||J_Phi(x)||``, and ``||J_Phi|| <= prod(activation slopes) *
  prod(sigma_max(W_l))`` over the feature layers.
- ``"ll-spectral"`` (Yoshida & Miyato 2017): ``S`` = all weight layers (:func:`all_layers`). The
  authors' released MLP code nests its feature map, so its ll-spectral only ever penalised the
  readout ``W2``; ours penalises ``W1`` and ``W2``.

``sigma_max`` comes from power iteration on ``A^T A`` without gradient, warm-started from the
previous step's top right singular vector ``v`` (at most ``max_iter`` iterations per step; the
first call starts from a random vector with up to ``2 * fan_in`` iterations), and the penalty is
``||A v||^2`` with ``v`` detached, whose gradient ``2 sigma u v^T`` is the exact gradient of
``sigma^2`` (:class:`SpectralPenalty`). For a dense layer ``A = W``; for a convolution ``A`` is
the linear map ``x -> conv(x)`` on inputs of a given shape, any padding mode, with its adjoint
(a transposed convolution) taken by autograd's vector-Jacobian product. For circular padding
(stride 1, "same" size) the operator norm is also computed exactly, by the FFT: the
convolution is block-circulant and its singular values are those of the ``c_out x c_in``
per-frequency blocks of the kernel's 2-D DFT (Sedghi, Gupta & Long 2019).

Also here: the paper's models (:class:`OneHiddenLayerNet`: the 784 -> 2000 -> 10 GELU MLP of
the MNIST experiment and the 2 -> 8 -> 2 XOR net of Figure 3), the volume element of a
representation (Remark 1), the training helper with burn-in (:func:`train_with_burnin`), the
per-profile settings (:data:`SETTINGS`) and the MNIST comparison of the three arms
(:func:`compare_regularizers`), whose adversarial distances come from
:mod:`robustrep_lite.robust_distance`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from robustrep_lite.profiles import active_profile
from robustrep_lite.robust_distance import representation_distances
from robustrep_lite.validation import check_choice, check_finite, check_nonnegative

__all__ = [
    "ARMS",
    "SETTINGS",
    "OneHiddenLayerNet",
    "SpectralPenalty",
    "SpectralSettings",
    "TrainHistory",
    "all_layers",
    "branch",
    "circular_conv_operator_norm",
    "compare_regularizers",
    "conv_input_shapes",
    "layers_for",
    "mnist_mlp",
    "paired_differences",
    "rep_layers",
    "settings_record",
    "spectral_settings",
    "summarise_rows",
    "top_singular",
    "train_with_burnin",
    "train_xor_arms",
    "volume_element",
    "weight_layers",
    "xor_data",
    "xor_net",
]

ARMS = ("none", "ll-spectral", "rep-spectral")
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------------
# Top singular value by power iteration
# ----------------------------------------------------------------------------------------------
def _check_weight_layer(layer: nn.Module) -> None:
    if not isinstance(layer, WEIGHT_LAYERS):
        names = ", ".join(t.__name__ for t in WEIGHT_LAYERS)
        raise ValueError(f"layer must be one of {names}, got {type(layer).__name__}")
    if isinstance(layer, _CONV) and layer.groups != 1:
        raise ValueError(f"layer: grouped convolutions are not supported (groups={layer.groups})")


def _operator(
    layer: nn.Module, weight: Tensor, input_shape: tuple[int, ...] | None
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor], tuple[int, ...]]:
    """The layer's linear map ``A`` (bias left out) on one unbatched input, the map
    ``v -> A^T A v``, and the input's shape. For a convolution ``A^T`` is the vector-Jacobian
    product of ``A`` (a transposed convolution, whatever the padding mode)."""
    if isinstance(layer, nn.Linear):
        return (lambda v: weight @ v), (lambda v: weight.T @ (weight @ v)), (layer.in_features,)
    if (
        input_shape is None
        or len(input_shape) != weight.ndim - 1
        or input_shape[0] != layer.in_channels
    ):
        raise ValueError(
            f"input_shape of a {type(layer).__name__} must be (C={layer.in_channels}, "
            f"{weight.ndim - 2} spatial sizes), got {input_shape!r}; get it with "
            "conv_input_shapes(model, example_batch)"
        )

    def apply(v: Tensor) -> Tensor:
        return layer._conv_forward(v[None], weight, None)[0]

    def gram(v: Tensor) -> Tensor:
        with torch.enable_grad():
            x = v.detach().requires_grad_(True)
            y = apply(x)
            return torch.autograd.grad(y, x, y.detach())[0]

    return apply, gram, tuple(input_shape)


def _fft_exact(layer: nn.Module) -> bool:
    """Whether :func:`circular_conv_operator_norm` applies to ``layer``."""
    return (
        isinstance(layer, nn.Conv2d)
        and layer.padding_mode == "circular"
        and layer.stride == (1, 1)
        and layer.dilation == (1, 1)
        and layer.groups == 1
        and all(k == 2 * p + 1 for k, p in zip(layer.kernel_size, layer.padding, strict=True))
    )


def top_singular(
    layer: nn.Module,
    v0: Tensor | None = None,
    *,
    input_shape: tuple[int, ...] | None = None,
    max_iter: int | None = None,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> tuple[float, Tensor, int]:
    """Top singular value of a dense or convolutional layer's linear map by power iteration.

    Iterates ``v <- A^T A v / ||A^T A v||`` from ``v0`` (warm start) or a random vector, and
    stops when ``v`` moves by less than ``tol`` (l2), or after ``max_iter`` iterations (default:
    ``2 * fan_in``, the authors' first-call budget). The error of ``v`` is then about
    ``tol / (1 - (sigma_2 / sigma_1)^2)``, that of ``sigma`` its square. For a
    convolution ``A`` acts on inputs of ``input_shape`` (C, *spatial), padding mode included;
    ``A^T`` is its vector-Jacobian product (a transposed convolution). No gradient flows.

    Returns ``(sigma, v, iterations)``: ``sigma = ||A v||`` for the final unit vector ``v``
    (shape ``input_shape``, or ``(in_features,)`` for a dense layer), never above the exact
    value.
    """
    _check_weight_layer(layer)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    weight = layer.weight.detach()
    apply, gram, shape = _operator(layer, weight, input_shape)
    if max_iter is None:
        max_iter = 2 * math.prod(shape)
    _positive_int("max_iter", max_iter)
    if v0 is None:
        v = torch.randn(shape, generator=generator, dtype=weight.dtype).to(weight.device)
    elif tuple(v0.shape) != shape:
        raise ValueError(f"v0 must have shape {shape}, got {tuple(v0.shape)}")
    else:
        v = v0.detach().to(weight)
    v = v / v.norm().clamp_min(1e-30)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        w = gram(v)
        norm = float(w.norm())
        if norm == 0.0:
            return 0.0, v, iterations
        previous, v = v, w / norm
        if float((v - previous).norm()) < tol:
            break
    with torch.no_grad():
        sigma = float(apply(v).norm())
    return sigma, v, iterations


def circular_conv_operator_norm(layer: nn.Conv2d, input_size: tuple[int, int]) -> Tensor:
    """Exact operator norm of a circularly padded 2-D convolution on ``input_size`` (H, W)
    inputs, by the FFT (Sedghi, Gupta & Long 2019, Theorem 6), differentiable in the weight.

    With stride 1 and "same" output size, the map is block-circulant: in the Fourier basis it is
    block-diagonal with blocks ``K_hat(f) = sum_a W[:, :, a] exp(-2 pi i f.a / n)``
    (``c_out x c_in``, one per frequency ``f``), so ``sigma_max = max_f ||K_hat(f)||_2``.
    Raises ``ValueError`` for other padding modes, strides, dilations, groups or sizes.
    """
    if not _fft_exact(layer):
        raise ValueError(
            "layer must be a circular-padding Conv2d with stride 1, dilation 1, groups 1 and "
            f"'same' padding (kernel = 2 * padding + 1), got {layer}"
        )
    if len(input_size) != 2 or any(
        n < k for n, k in zip(input_size, layer.kernel_size, strict=False)
    ):
        raise ValueError(
            f"input_size must be (H, W) at least the kernel {layer.kernel_size}, got {input_size!r}"
        )
    blocks = torch.fft.fft2(layer.weight, s=tuple(input_size)).permute(2, 3, 0, 1)
    return torch.linalg.matrix_norm(blocks, ord=2).max()


@torch.no_grad()
def conv_input_shapes(model: nn.Module, example: Tensor) -> dict[nn.Module, tuple[int, ...]]:
    """The unbatched input shape of every convolution in ``model``, from one forward pass of
    ``example`` (a batch), for :class:`SpectralPenalty` and :func:`top_singular`."""
    shapes: dict[nn.Module, tuple[int, ...]] = {}

    def record(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        shapes.setdefault(module, tuple(inputs[0].shape[1:]))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, _CONV)]
    was_training = model.training
    try:
        model.eval()
        model(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return shapes


class SpectralPenalty:
    """``lam * sum_l sigma_max(W_l)^2`` over ``layers``, with warm-started power iteration.

    Each call runs at most ``max_iter`` power iterations per layer (tolerance ``tol``) from that
    layer's stored top right singular vector (the first call: a random start seeded by ``seed``
    and up to ``2 * fan_in`` iterations), then returns ``lam * sum ||A_l v_l||^2`` with ``v_l``
    detached: its gradient with respect to ``W_l`` is ``2 lam sigma u v^T = lam d(sigma^2)/dW``.
    ``input_shapes`` gives each convolution's input shape (:func:`conv_input_shapes`). With
    ``exact_circular``, circular-padding convolutions use :func:`circular_conv_operator_norm`
    instead. After each call ``sigmas`` and ``iterations`` hold the per-layer values found.
    """

    def __init__(
        self,
        layers: Sequence[nn.Module],
        lam: float,
        *,
        input_shapes: dict[nn.Module, tuple[int, ...]] | None = None,
        max_iter: int = 10,
        tol: float = 1e-6,
        exact_circular: bool = True,
        seed: int = 0,
    ) -> None:
        check_nonnegative("lam", lam)
        _positive_int("max_iter", max_iter)
        shapes = input_shapes or {}
        for layer in layers:
            _check_weight_layer(layer)
            if isinstance(layer, _CONV) and layer not in shapes:
                raise ValueError(
                    "input_shapes must give the input shape of every convolution in layers; "
                    "get them with conv_input_shapes(model, example_batch)"
                )
        self.layers = list(layers)
        self.lam = float(lam)
        self.input_shapes = shapes
        self.max_iter, self.tol, self.exact_circular = max_iter, tol, exact_circular
        self.generator = torch.Generator().manual_seed(seed)
        self.vectors: dict[int, Tensor] = {}
        self.sigmas: list[float] = []
        self.iterations: list[int] = []

    def __call__(self) -> Tensor:
        terms, self.sigmas, self.iterations = [], [], []
        for i, layer in enumerate(self.layers):
            shape = self.input_shapes.get(layer)
            if self.exact_circular and _fft_exact(layer):
                sigma = circular_conv_operator_norm(layer, shape[1:])
                terms.append(sigma**2)
                self.sigmas.append(sigma.item())
                self.iterations.append(0)
                continue
            warm = self.vectors.get(i)
            sigma, v, its = top_singular(
                layer,
                warm,
                input_shape=shape,
                max_iter=self.max_iter if warm is not None else None,
                tol=self.tol,
                generator=self.generator,
            )
            self.vectors[i] = v
            self.sigmas.append(sigma)
            self.iterations.append(its)
            apply, _, _ = _operator(layer, layer.weight, shape)
            terms.append(apply(v).pow(2).sum())
        if not terms:
            return torch.zeros(())
        return self.lam * torch.stack(terms).sum()


# ----------------------------------------------------------------------------------------------
# Which layers: up to the representation, or all
# ----------------------------------------------------------------------------------------------
def weight_layers(module: nn.Module) -> list[nn.Module]:
    """The dense and convolutional layers of ``module``, in ``module.modules()`` order."""
    return [m for m in module.modules() if isinstance(m, WEIGHT_LAYERS)]


def all_layers(model: nn.Module) -> list[nn.Module]:
    """Every weight layer of ``model``: the ll-spectral set. For an encoder whose *output* is
    the representation (Baseline-H in the worst-case MI pipeline), this is also its rep set."""
    layers = weight_layers(model)
    if not layers:
        raise ValueError(f"model has no {', '.join(t.__name__ for t in WEIGHT_LAYERS)} layer")
    return layers


def rep_layers(model: nn.Module, cut: int | None = None) -> list[nn.Module]:
    """The weight layers up to the representation: the rep-spectral set.

    Where the representation is: ``model[:cut]`` if ``cut`` is given (``model`` must then be an
    ``nn.Sequential``); else ``model.feature_map`` if the model declares one (as
    :class:`OneHiddenLayerNet` does); else, for an ``nn.Sequential``, everything before its last
    weight layer (the readout). Raises ``ValueError`` otherwise.
    """
    if cut is not None:
        if not isinstance(model, nn.Sequential):
            raise ValueError(f"cut needs an nn.Sequential model, got {type(model).__name__}")
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 < cut <= len(model):
            raise ValueError(f"cut must be an integer in [1, {len(model)}], got {cut!r}")
        return all_layers(model[:cut])
    feature_map = getattr(model, "feature_map", None)
    if isinstance(feature_map, nn.Module):
        return all_layers(feature_map)
    if isinstance(model, nn.Sequential):
        layers = all_layers(model)
        if len(layers) < 2:
            raise ValueError("model: an nn.Sequential needs >= 2 weight layers to have a readout")
        return layers[:-1]
    raise ValueError(
        "model must declare its representation as a `feature_map` module, be an nn.Sequential "
        f"whose last weight layer is the readout, or come with cut=; got {type(model).__name__}"
    )


def layers_for(arm: str, model: nn.Module) -> list[nn.Module]:
    """The penalised layers of an arm: ``"none"`` -> [], ``"ll-spectral"`` -> all layers,
    ``"rep-spectral"`` -> the layers up to the representation."""
    check_choice("arm", arm, ARMS)
    if arm == "none":
        return []
    return all_layers(model) if arm == "ll-spectral" else rep_layers(model)


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
        for name, value in (("in_features", in_features), ("width", width)):
            _positive_int(name, value)
        _positive_int("out_features", out_features)
        check_nonnegative("init_std", init_std)
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


def _cross_entropy(model: nn.Module, xb: Tensor, yb: Tensor | None) -> Tensor:
    return F.cross_entropy(model(xb), yb)


def train_with_burnin(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor | None,
    *,
    epochs: int,
    burnin: int,
    penalty: SpectralPenalty | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 1024,
    loss_fn: Callable[[nn.Module, Tensor, Tensor | None], Tensor] | None = None,
    start_epoch: int = 0,
    seed: int = 0,
    progress: bool = True,
) -> TrainHistory:
    """Train ``model`` in place: epochs ``start_epoch .. epochs - 1`` of mini-batch steps on
    ``loss_fn(model, x_batch, y_batch)`` (default: cross-entropy of ``model(x)``), plus
    ``penalty()`` from epoch ``burnin`` on (the paper's schedule: 160 of 200 epochs unregularised).

    optimizer: default SGD(lr, momentum, weight_decay) over ``model.parameters()`` (the paper's);
    pass one to continue a run (:func:`branch`) or to train more than the model (e.g. a Deep
    InfoMax critic with Baseline-H, whose ``loss_fn`` then ignores ``targets``, which may be
    ``None``). The batch order of epoch ``e`` comes from a generator seeded by
    ``(seed, e)``, so a run split at any epoch and continued ends with the same weights.
    """
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...), got {tuple(inputs.shape)}")
    if targets is not None and (targets.ndim < 1 or targets.shape[0] != inputs.shape[0]):
        raise ValueError(
            f"targets must have {inputs.shape[0]} rows like inputs, got {tuple(targets.shape)}"
        )
    if targets is None and loss_fn is None:
        raise ValueError("targets may be None only with a loss_fn that does not need them")
    for name, value in (("epochs", epochs), ("burnin", burnin), ("start_epoch", start_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if start_epoch > epochs:
        raise ValueError(f"start_epoch must be <= epochs={epochs}, got {start_epoch}")
    _positive_int("batch_size", batch_size)
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
        check_nonnegative(name, value)
    loss_fn = loss_fn or _cross_entropy
    if optimizer is None:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    device = next(model.parameters()).device
    history = TrainHistory()
    n = inputs.shape[0]
    bar = tqdm(range(start_epoch, epochs), disable=not progress, leave=False, desc="epochs")
    for epoch in bar:
        regularised = penalty is not None and epoch >= burnin
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        model.train()
        losses, penalties = [], []
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            xb = inputs[idx].to(device)
            yb = None if targets is None else targets[idx].to(device)
            loss = loss_fn(model, xb, yb)
            total = loss + penalty() if regularised else loss
            check_finite("loss", loss.detach())
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            losses.append(loss.item())
            penalties.append((total - loss).item() if regularised else 0.0)
        history.epochs.append(epoch)
        history.loss.append(float(np.mean(losses)))
        history.penalty.append(float(np.mean(penalties)))
        history.sigmas.append(list(penalty.sigmas) if regularised else [])
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
# Settings per profile and the comparison of the three arms
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpectralSettings:
    """Everything the MNIST comparison and the XOR toy depend on (chapter and bench share it)."""

    train_size: int | None  # MNIST training images (None: all 60 000)
    test_size: int | None
    width: int
    epochs: int
    burnin: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    lambdas: tuple[float, ...]  # each regularised arm is trained with each of these
    seeds: int
    attack_points: int  # correctly classified test points attacked per model
    hsj_steps: int  # HopSkipJump iterations
    hsj_max_gradient_evals: int  # cap of its boundary-normal estimation queries
    ddn_steps: int  # the white-box cross-check (DDN)
    head_l2: float  # L2 strength of the refit logistic-regression head
    xor_width: int
    xor_epochs: int
    xor_burnin: int
    xor_lambda: float


#: Per profile. ``paper``: the paper's MNIST settings (full data, SGD lr 0.1, momentum 0.9,
#: batch 1024, 200 epochs with 160 of burn-in, lambda in {1e-3, 1e-2, 1e-1}; 1000 attacked
#: points, 10 seeds). ``cpu``: 10 000 training images, batch 128, 30 epochs with 24 of burn-in
#: and lr 0.5, chosen so that the number of SGD steps times the learning rate, in the burn-in
#: and in the regularised phase, equals the paper's (2344 x 0.5 = 11 720 x 0.1, and
#: 469 x 0.5 = 2344 x 0.1): the same lambdas then act as strongly as in the paper;
#: 100 attacked points with a 10-step HopSkipJump, 5 seeds. ``quick``: a few seconds, numbers
#: meaningless. The XOR toy follows the authors' script in every profile but ``quick``
#: (15 000 full-batch epochs with 10 500 of burn-in, lr 1, lambda 1e-3).
SETTINGS: dict[str, SpectralSettings] = {
    "quick": SpectralSettings(
        train_size=256,
        test_size=128,
        width=64,
        epochs=4,
        burnin=3,
        batch_size=64,
        lr=0.5,
        momentum=0.9,
        weight_decay=0.0,
        lambdas=(1e-2, 1e-1),
        seeds=1,
        attack_points=8,
        hsj_steps=2,
        hsj_max_gradient_evals=50,
        ddn_steps=10,
        head_l2=1e-3,
        xor_width=8,
        xor_epochs=300,
        xor_burnin=210,
        xor_lambda=1e-3,
    ),
    "cpu": SpectralSettings(
        train_size=10_000,
        test_size=2_000,
        width=2000,
        epochs=30,
        burnin=24,
        batch_size=128,
        lr=0.5,
        momentum=0.9,
        weight_decay=0.0,
        lambdas=(1e-3, 1e-2, 1e-1),
        seeds=5,
        attack_points=100,
        hsj_steps=10,
        hsj_max_gradient_evals=1000,
        ddn_steps=100,
        head_l2=1e-4,
        xor_width=8,
        xor_epochs=15_000,
        xor_burnin=10_500,
        xor_lambda=1e-3,
    ),
    "paper": SpectralSettings(
        train_size=None,
        test_size=None,
        width=2000,
        epochs=200,
        burnin=160,
        batch_size=1024,
        lr=0.1,
        momentum=0.9,
        weight_decay=0.0,
        lambdas=(1e-3, 1e-2, 1e-1),
        seeds=10,
        attack_points=1000,
        hsj_steps=40,
        hsj_max_gradient_evals=10_000,
        ddn_steps=1000,
        head_l2=1e-4,
        xor_width=8,
        xor_epochs=15_000,
        xor_burnin=10_500,
        xor_lambda=1e-3,
    ),
}


def spectral_settings(profile: str | None = None) -> SpectralSettings:
    """The settings of ``profile`` (default: the active one, ``$ROBUSTREP_PROFILE``)."""
    return SETTINGS[active_profile(profile).name]


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
    """
    classes = int(max(y_train.max(), y_test.max())) + 1
    x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
    rows: list[dict[str, float | int | str]] = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = OneHiddenLayerNet(x_train[0].numel(), settings.width, classes, init_std=init_std)
        model = model.to(device)
        base_opt = torch.optim.SGD(
            model.parameters(),
            lr=settings.lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
        )
        common = dict(batch_size=settings.batch_size, seed=seed, progress=progress)
        t0 = time.perf_counter()
        train_with_burnin(
            model,
            x_train,
            y_train,
            epochs=settings.burnin,
            burnin=settings.burnin,
            optimizer=base_opt,
            **common,
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
                epochs=settings.epochs,
                burnin=settings.burnin,
                penalty=penalty,
                optimizer=opt,
                start_epoch=settings.burnin,
                **common,
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
                points=settings.attack_points,
                head_l2=settings.head_l2,
                hsj_steps=settings.hsj_steps,
                hsj_max_gradient_evals=settings.hsj_max_gradient_evals,
                ddn_steps=settings.ddn_steps,
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


def train_xor_arms(settings: SpectralSettings, seed: int = 0) -> dict[str, OneHiddenLayerNet]:
    """The three arms on the XOR toy (Figure 3), as in the authors' script: a
    :func:`xor_net` of ``settings.xor_width`` units trained full-batch with SGD (lr 1, momentum
    0.9, weight decay 1e-4) for ``settings.xor_burnin`` epochs, then each arm continued to
    ``settings.xor_epochs`` (lambda ``settings.xor_lambda`` for the regularised arms). Returns
    the three trained nets by arm name."""
    x, y = xor_data()
    torch.manual_seed(seed)
    model = xor_net(settings.xor_width)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9, weight_decay=1e-4)
    common = dict(batch_size=len(x), seed=seed, progress=False)
    burnin = settings.xor_burnin
    train_with_burnin(model, x, y, epochs=burnin, burnin=burnin, optimizer=opt, **common)
    nets = {}
    for arm in ARMS:
        net, net_opt = branch(model, opt)
        lam = 0.0 if arm == "none" else settings.xor_lambda
        penalty = SpectralPenalty(layers_for(arm, net), lam, seed=seed) if lam else None
        train_with_burnin(
            net,
            x,
            y,
            epochs=settings.xor_epochs,
            burnin=burnin,
            penalty=penalty,
            optimizer=net_opt,
            start_epoch=burnin,
            **common,
        )
        nets[arm] = net
    return nets


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
