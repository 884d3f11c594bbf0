"""Critics T(x, y) for the MI bounds of :mod:`robustrep_lite.mi.bounds`.

Every critic is an ``nn.Module`` with

* ``forward(x, y)`` -> score matrix ``scores[..., i, j] = T(x_i, y_j)`` of shape (n, n), or
  (L, n, n) for the per-location Deep InfoMax critic (diagonal = joint pairs);
* ``pair_scores(x, y)`` -> scores of the aligned pairs only, ``T(x_i, y_i)``, shape (n,) or
  (L, n) (used with separately drawn marginal pairs, as in the MINE paper).

Scores are unnormalised log density ratios (nats). Everything is vectorised over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustrep_lite.core.validation import check_choice, check_int

#: The normalisations between a critic MLP's hidden layers.
NORMS = ("batch", "layer", "none")


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden (x layers) -> out_dim`` with PyTorch default init, no norm."""
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    mods: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.ReLU()]
    mods.append(nn.Linear(hidden, out_dim))
    return nn.Sequential(*mods)


class SeparableCritic(nn.Module):
    """Separable (bilinear) critic T(x, y) = g(x) . h(y) (Poole et al. 2019, sec. 4;
    B1 uses g, h = 20 -> 256 -> 256 -> 256 -> 32). One pass over each of x and y gives all n^2
    scores as a matrix product, so it is the cheap critic.

    x: (n, x_dim) (flattened if it has more axes), y: (n, y_dim). Returns (n, n).
    """

    def __init__(
        self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 3, embed_dim: int = 32
    ) -> None:
        super().__init__()
        self.g = mlp(x_dim, hidden, layers, embed_dim)
        self.h = mlp(y_dim, hidden, layers, embed_dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.g(x.flatten(1)) @ self.h(y.flatten(1)).T

    def pair_scores(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.g(x.flatten(1)) * self.h(y.flatten(1))).sum(-1)


def _pair_mlp(hx: Tensor, hy: Tensor, params: tuple[Tensor, ...]) -> Tensor:
    """The joint critic's layers after its split first layer, module by module: ReLU(hx_i +
    hy_j), then ``(Linear, ReLU)`` blocks and a last Linear to one score; (n, m)."""
    weights, biases = params[0::2], params[1::2]
    h = torch.relu(hx.unsqueeze(1) + hy.unsqueeze(0))
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        h = torch.relu(F.linear(h, w, b))
    return F.linear(h, weights[-1], biases[-1]).squeeze(-1)


class _PairMLP(torch.autograd.Function):
    """:func:`_pair_mlp` on all n m pairs with the same arithmetic and less memory traffic.

    It runs the very kernels autograd runs for :func:`_pair_mlp` (the same ``addmm`` calls
    forward; the same ``mm``, ``threshold_backward`` and ``sum`` calls on identically laid out
    tensors backward), so scores and gradients are bitwise equal; but every ReLU acts in place
    on the tensor it follows and the backward pass overwrites its gradient buffer through the
    ReLUs, so a training step allocates half as many (n m, hidden) tensors. A gradient asked
    for with ``create_graph=True`` (a gradient penalty, say) is that of :func:`_pair_mlp`,
    differentiable in turn. params: weight, bias of each Linear after the first, in order.
    """

    @staticmethod
    def forward(ctx, hx: Tensor, hy: Tensor, *params: Tensor) -> Tensor:  # type: ignore[override]
        n, m = hx.shape[0], hy.shape[0]
        weights, biases = params[0::2], params[1::2]
        a = torch.add(hx.unsqueeze(1), hy.unsqueeze(0)).relu_().view(n * m, -1)
        acts = [a]
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            a = torch.addmm(b, a, w.t()).relu_()
            acts.append(a)
        out = torch.addmm(biases[-1], a, weights[-1].t())
        ctx.n_params = len(params)
        ctx.save_for_backward(hx, hy, *params, *acts)
        return out.view(n, m)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        hx, hy, *rest = ctx.saved_tensors
        params, acts = tuple(rest[: ctx.n_params]), rest[ctx.n_params :]
        needs = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph=True: a gradient that is differentiable
            inputs = (hx, hy, *params)
            wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
            out = _pair_mlp(hx, hy, params)
            got = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
            return tuple(next(got) if need else None for need in needs)
        weights = params[0::2]
        n, m = grad.shape
        g = grad.reshape(n * m, 1)
        param_grads: list[Tensor | None] = []
        for i in range(len(weights) - 1, -1, -1):
            a = acts[i]
            param_grads[:0] = [
                g.t().mm(a) if needs[2 + 2 * i] else None,
                g.sum(0, keepdim=True).view(-1) if needs[3 + 2 * i] else None,
            ]
            g = g.mm(weights[i])
            # ReLU's gradient (the kernel autograd uses), written over the buffer it reads
            torch.ops.aten.threshold_backward.grad_input(g, a, 0, grad_input=g)
        g = g.view(n, m, -1)
        grad_hx = g.sum(1, keepdim=True).squeeze(1) if needs[0] else None
        grad_hy = g.sum(0, keepdim=True).squeeze(0) if needs[1] else None
        return (grad_hx, grad_hy, *param_grads)


class JointCritic(nn.Module):
    """Joint ("concat") critic T(x, y) = MLP([x, y]) (Belghazi et al. 2018; B1 uses
    40 -> 256 -> 256 -> 256 -> 1) evaluated on all n^2 pairs.

    Vectorised exactly: the first layer is split, W [x; y] = W_x x + W_y y, so it is applied to
    n rows of x and n rows of y and broadcast to (n, n, hidden) before the remaining layers
    (:class:`_PairMLP`: the same arithmetic as the modules one by one, with less memory).
    Cost is n^2 MLP evaluations per batch (about 10x a separable critic at n = 64).

    x: (n, x_dim), y: (n, y_dim). Returns (n, n).
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 3) -> None:
        super().__init__()
        self.x_dim = x_dim
        self.net = mlp(x_dim + y_dim, hidden, layers, 1)

    def _first_parts(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        first: nn.Linear = self.net[0]  # type: ignore[assignment]
        wx, wy = first.weight[:, : self.x_dim], first.weight[:, self.x_dim :]
        return x.flatten(1) @ wx.T + first.bias, y.flatten(1) @ wy.T

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        hx, hy = self._first_parts(x, y)
        params = [t for layer in self.net[2::2] for t in (layer.weight, layer.bias)]
        return _PairMLP.apply(hx, hy, *params)

    def pair_scores(self, x: Tensor, y: Tensor) -> Tensor:
        hx, hy = self._first_parts(x, y)
        return self.net[1:](hx + hy).squeeze(-1)


def _norm(kind: str, channels: int, spatial: bool) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        return _ChannelLayerNorm(channels) if spatial else nn.LayerNorm(channels)
    return nn.Identity()


class _ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of an (n, C, H, W) tensor, per sample and location."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _ResidualBlock(nn.Module):
    """Deep InfoMax 1x1 residual block: LN(nonlinear(x) + shortcut(x)), where nonlinear =
    1x1 conv (or Linear) -> norm -> ReLU -> 1x1 conv, and the bias-free shortcut is initialised
    to the identity on the first ``in_dim`` units when ``units >= in_dim``. ``spatial=True``
    acts on (n, C, H, W) with 1x1 convolutions, ``False`` on (n, C) with Linear layers."""

    def __init__(self, in_dim: int, units: int, norm: str, spatial: bool) -> None:
        super().__init__()
        layer = nn.Conv2d if spatial else nn.Linear
        kw = {"kernel_size": 1} if spatial else {}
        self.nonlinear = nn.Sequential(
            layer(in_dim, units, bias=False, **kw),
            _norm(norm, units, spatial),
            nn.ReLU(),
            layer(units, units, bias=True, **kw),
        )
        self.shortcut = layer(in_dim, units, bias=False, **kw)
        if units >= in_dim:
            with torch.no_grad():
                eye = torch.zeros(units, in_dim)
                eye[:in_dim, :in_dim] = torch.eye(in_dim)
                self.shortcut.weight.copy_(eye.view_as(self.shortcut.weight))
        self.out_norm = _ChannelLayerNorm(units) if spatial else nn.LayerNorm(units)

    def forward(self, x: Tensor) -> Tensor:
        return self.out_norm(self.nonlinear(x) + self.shortcut(x))


class LocalDIMCritic(nn.Module):
    """Deep InfoMax local "encode-and-dot-product" critic for images (Hjelm et al. 2019),
    as used by Zhu, Zhang & Evans 2020 to estimate I(X; g(X)).

    Image branch (own weights): conv(in -> 64, 4x4, s2, p1) + norm + ReLU, conv(64 -> 128,
    4x4, s2, p1) + norm + ReLU -> 128 x H' x W' (8x8 for 32x32 inputs, 7x7 for 28x28), then a
    1x1-conv residual block to ``units`` channels with LayerNorm over channels. Representation
    branch: the same block with Linear layers on the representation vector (LayerNorm).
    Score for image i, representation j, location l: the dot product of the two ``units``-dim
    features, giving a tensor of shape (L, n, n) with L = H' W'.

    ``units=2048`` is the paper's configuration; smaller widths (64, 128) are the same critic
    for CPU runs. ``norm`` replaces every BatchNorm of the critic: ``"batch"`` (the paper's;
    note that it mixes the samples of a batch, and uses running statistics in eval mode),
    ``"layer"`` (per-sample, preferred when we have the choice) or ``"none"``.

    images: (n, C, H, W), or (n, H, W) for one channel; reps: (n, rep_dim) (flattened if more).
    """

    def __init__(
        self, in_channels: int, rep_dim: int, units: int = 2048, norm: str = "batch"
    ) -> None:
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_int("in_channels", in_channels, 1)
        check_int("rep_dim", rep_dim, 1)
        check_int("units", units, 1)
        self.in_channels = in_channels
        self.image_branch = nn.Sequential(
            nn.Conv2d(in_channels, 64, 4, stride=2, padding=1, bias=norm == "none"),
            _norm(norm, 64, True),
            nn.ReLU(),
            nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=norm == "none"),
            _norm(norm, 128, True),
            nn.ReLU(),
            _ResidualBlock(128, units, norm, spatial=True),
        )
        self.rep_branch = _ResidualBlock(rep_dim, units, norm, spatial=False)

    def _features(self, images: Tensor, reps: Tensor) -> tuple[Tensor, Tensor]:
        if images.ndim == 3:
            images = images.unsqueeze(1)
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must have shape (n, {self.in_channels}, H, W), got {tuple(images.shape)}"
            )
        local = self.image_branch(images).flatten(2)  # (n, units, L)
        return local, self.rep_branch(reps.flatten(1))  # (n, units)

    def forward(self, images: Tensor, reps: Tensor) -> Tensor:
        local, glob = self._features(images, reps)
        return torch.einsum("iul,ju->lij", local, glob)

    def pair_scores(self, images: Tensor, reps: Tensor) -> Tensor:
        local, glob = self._features(images, reps)
        return torch.einsum("iul,iu->li", local, glob)
