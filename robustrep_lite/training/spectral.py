"""Spectral regularization of representations (Yang, Zavatone-Veth & Pehlevan, 2024).

The regularized loss (the paper's Section 3; the authors' public code,
Pehlevan-Group/rep-spectral) is

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

:func:`layers_for` gives the set ``S`` of each arm in :data:`ARMS` (``"none"``: no layer).

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

The paper's experiment built on this penalty is
:mod:`robustrep_lite.experiments.spectral_regularization`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from robustrep_lite.core.validation import (
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_seed,
)

__all__ = [
    "ARMS",
    "SpectralPenalty",
    "all_layers",
    "circular_conv_operator_norm",
    "conv_input_shapes",
    "layers_for",
    "rep_layers",
    "top_singular",
    "weight_layers",
]

#: The arms of the spectral-regularization comparison: no penalty, every weight layer (ll-spectral),
#: the layers up to the representation (rep-spectral).
ARMS = ("none", "ll-spectral", "rep-spectral")
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


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


def _power_iterate(
    gram: Callable[[Tensor], Tensor], v: Tensor, max_iter: int, tol: float
) -> tuple[Tensor, int]:
    """Power iteration from the unit vector ``v`` until it moves by less than ``tol`` or
    ``max_iter`` iterations; reads two norms on the host per iteration to stop early."""
    for iteration in range(1, max_iter + 1):
        w = gram(v)
        norm = float(w.norm())
        if norm == 0.0:
            return v, iteration
        previous, v = v, w / norm
        if float((v - previous).norm()) < tol:
            return v, iteration
    return v, max_iter


def _power_iterate_on_device(
    gram: Callable[[Tensor], Tensor], v: Tensor, max_iter: int, tol: float
) -> tuple[Tensor, Tensor]:
    """:func:`_power_iterate` with no host read: all ``max_iter`` products are computed, and
    once ``v`` has converged (or ``A^T A v = 0``) it is frozen by a mask, so the returned ``v``
    and iteration count (a tensor) are exactly those of the early-stopping loop."""
    done = torch.zeros((), dtype=torch.bool, device=v.device)
    iterations = torch.zeros((), dtype=torch.int64, device=v.device)
    for _ in range(max_iter):
        w = gram(v)
        norm = w.norm()
        iterations = iterations + (~done).long()
        zero = norm == 0
        step = w / torch.where(zero, torch.ones_like(norm), norm)
        moved = (step - v).norm().double() < tol
        v = torch.where(done | zero, v, step)
        done = done | zero | moved
    return v, iterations


def _start_vector(
    shape: tuple[int, ...], weight: Tensor, v0: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    if v0 is None:
        v = torch.randn(shape, generator=generator, dtype=weight.dtype).to(weight.device)
    elif tuple(v0.shape) != shape:
        raise ValueError(f"v0 must have shape {shape}, got {tuple(v0.shape)}")
    else:
        v = v0.detach().to(weight)
    return v / v.norm().clamp_min(1e-30)


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
    convolution ``A`` acts on inputs of ``input_shape`` ``(C, *spatial)``, padding mode included;
    ``A^T`` is its vector-Jacobian product (a transposed convolution). No gradient flows.

    Returns ``(sigma, v, iterations)``: ``sigma = ||A v||`` for the final unit vector ``v``
    (shape ``input_shape``, or ``(in_features,)`` for a dense layer), never above the exact
    value. A weight holding NaN or infinity raises a ``ValueError`` (its sigma is undefined).
    """
    _check_weight_layer(layer)
    _check_tol(tol)
    weight = check_finite("layer.weight", layer.weight.detach())
    apply, gram, shape = _operator(layer, weight, input_shape)
    if max_iter is None:
        max_iter = 2 * math.prod(shape)
    check_int("max_iter", max_iter, 1)
    v, iterations = _power_iterate(gram, _start_vector(shape, weight, v0, generator), max_iter, tol)
    with torch.no_grad():
        sigma = float(apply(v).norm())
    return sigma, v, iterations


def _check_tol(tol: float) -> None:
    if isinstance(tol, bool) or not (
        isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0
    ):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")


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
    instead.

    ``sync_free`` (default: on any device but the CPU): warm calls read nothing on the host.
    They compute all ``max_iter`` products and freeze each vector once it has converged, which
    gives exactly the vectors of the loop that stops early (the CPU default, which saves the
    remaining products), so a training step that adds the penalty needs no host-device
    synchronisation. Only the first call reads norms on the host, to stop its long cold start
    early. The per-layer values found are kept on the device; reading :attr:`sigmas` or
    :attr:`iterations` (lists of numbers) synchronises once.
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
        sync_free: bool | None = None,
    ) -> None:
        check_nonnegative("lam", lam, scalar=True)
        if not isinstance(layers, Iterable):
            raise ValueError(
                "layers must be a sequence of Linear or Conv layers (pass [layer] for one), "
                f"got {type(layers).__name__}"
            )
        layers = list(layers)
        if exact_circular not in (True, False):
            raise ValueError(f"exact_circular must be True or False, got {exact_circular!r}")
        check_seed("seed", seed)
        if sync_free not in (None, True, False):
            raise ValueError(f"sync_free must be None, True or False, got {sync_free!r}")
        check_int("max_iter", max_iter, 1)
        _check_tol(tol)
        shapes = input_shapes or {}
        for layer in layers:
            _check_weight_layer(layer)
            if isinstance(layer, _CONV) and layer not in shapes:
                raise ValueError(
                    "input_shapes must give the input shape of every convolution in layers; "
                    "get them with conv_input_shapes(model, example_batch)"
                )
        self.layers = layers
        self.lam = float(lam)
        self.input_shapes = shapes
        self.max_iter, self.tol, self.exact_circular = max_iter, tol, exact_circular
        self.sync_free = sync_free
        self.generator = torch.Generator().manual_seed(seed)
        self.vectors: dict[int, Tensor] = {}
        self._sigmas: list[Tensor] = []
        self._iterations: list[Tensor | int] = []

    @property
    def sigmas(self) -> list[float]:
        """Each layer's ``sigma_max`` found by the last call (host values; synchronises)."""
        return [float(s) for s in self._sigmas]

    @property
    def iterations(self) -> list[int]:
        """Each layer's power iterations in the last call (0: computed exactly by the FFT)."""
        return [int(i) for i in self._iterations]

    def __call__(self) -> Tensor:
        terms, self._sigmas, self._iterations = [], [], []
        for i, layer in enumerate(self.layers):
            shape = self.input_shapes.get(layer)
            if self.exact_circular and _fft_exact(layer):
                sigma = circular_conv_operator_norm(layer, shape[1:])
                terms.append(sigma**2)
                self._sigmas.append(sigma.detach())
                self._iterations.append(0)
                continue
            weight = layer.weight.detach()
            _, gram, shape = _operator(layer, weight, shape)
            warm = self.vectors.get(i)
            start = _start_vector(shape, weight, warm, self.generator)
            on_device = weight.device.type != "cpu" if self.sync_free is None else self.sync_free
            if warm is None:
                v, its = _power_iterate(gram, start, 2 * math.prod(shape), self.tol)
            elif on_device:
                v, its = _power_iterate_on_device(gram, start, self.max_iter, self.tol)
            else:
                v, its = _power_iterate(gram, start, self.max_iter, self.tol)
            self.vectors[i] = v
            self._iterations.append(its)
            apply_with_grad, _, _ = _operator(layer, layer.weight, shape)
            av = apply_with_grad(v)  # one product gives both the penalty term and sigma
            self._sigmas.append(av.detach().norm())
            terms.append(av.pow(2).sum())
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
    :class:`~robustrep_lite.experiments.spectral_regularization.OneHiddenLayerNet` does); else, for
    an ``nn.Sequential``, everything before its last weight layer (the readout). Raises
    ``ValueError`` otherwise.
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
