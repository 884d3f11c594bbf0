"""Networks of the paper: the Baseline-H encoder, the downstream heads, and classifiers by name.

- :class:`BaselineH`: the Deep InfoMax 32x32 encoder the paper calls "Baseline-H" (Sections 5 and
  6; the authors' public code, schzhu/learning-adversarially-robust-representations): three 4x4
  stride-2 convolutions (64, 128, 256 channels, no bias, BatchNorm, ReLU), a 1024-unit hidden
  layer (BatchNorm, ReLU) and a linear output, 64 units for the representation g of Section 5 or
  10 for the supervised classifier of Section 6.1.
  On 28x28 inputs the maps are 14, 7, 3 (flatten 2304); on 32x32 they are 16, 8, 4 (flatten
  4096). ``width`` scales every channel count and the hidden layer (the paper: 1.0), so CPU
  profiles can run a smaller copy of the same network.
- :func:`linear_head` and :func:`mlp_head`: the heads of Table 1 (64 -> 10, and
  64 -> 200 -> 10 with Dropout 0.1, BatchNorm, ReLU).
- :func:`classifier`: a classifier by name for Section 6.1's model zoo: ``baseline_h``,
  ``small_resnet`` (a 3-stage CIFAR ResNet of torchvision ``BasicBlock`` s, widths 16/32/64, for
  CPU runs), and the paper's torchvision ``resnet18``, ``vgg16`` (with BatchNorm) and
  ``densenet121``, their ImageNet stems replaced by a 3x3 stride-1 convolution so 32x32 inputs
  keep their resolution.

Every model takes images in [0, 1] (N, C, H, W) and normalises inside (:class:`Normalize`), as the
authors' code does, so attacks work in pixel space with the box [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision import models as tv_models
from torchvision.models.resnet import BasicBlock

from robustrep_lite.core.validation import check_choice, check_seed

__all__ = [
    "BaselineH",
    "CLASSIFIERS",
    "Normalize",
    "classifier",
    "dataset_stats",
    "linear_head",
    "mlp_head",
]

#: The classifiers :func:`classifier` builds by name.
CLASSIFIERS = ("baseline_h", "small_resnet", "resnet18", "vgg16", "densenet121")

# per-channel mean and standard deviation of the training images (the usual published values)
_STATS = {
    1: ((0.1307,), (0.3081,)),  # MNIST
    3: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # CIFAR-10
}


def dataset_stats(in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation (mean, std) used inside our models: MNIST's for 1 channel, CIFAR-10's for 3."""
    check_choice("in_channels", in_channels, tuple(_STATS))
    return _STATS[in_channels]


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; a module so that it is part of the attacked model."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"mean and std must have equal lengths and std > 0, got {mean}, {std}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def _check_images(x: Tensor, channels: int, size: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(
            f"expected images of shape (N, {channels}, {size}, {size}), got {tuple(x.shape)}"
        )


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class BaselineH(nn.Module):
    """Baseline-H (Deep InfoMax's 32x32 encoder), see the module docstring.

    in_channels: 1 or 3; image_size: 28 or 32; out_dim: output units (64 for the
    representation, 10 for a classifier); width: channel multiplier (paper 1.0: 64/128/256
    channels, 1024 hidden units). ``forward`` maps (N, C, S, S) images in [0, 1] to (N, out_dim);
    :meth:`conv_features` returns the activations after conv layer 1, 2 or 3 (Figure 3 uses
    layer 2, whose units see a 10x10 receptive field).
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        out_dim: int = 64,
        width: float = 1.0,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        check_choice("image_size", image_size, (28, 32))
        if not isinstance(out_dim, int) or out_dim < 1:
            raise ValueError(f"out_dim must be a positive integer, got {out_dim!r}")
        if not 0 < width <= 4:
            raise ValueError(f"width must be in (0, 4], got {width!r}")
        channels = [max(1, round(c * width)) for c in (64, 128, 256)]
        hidden = max(1, round(1024 * width))
        self.in_channels, self.image_size, self.out_dim = in_channels, image_size, out_dim
        mean, std = dataset_stats(in_channels)
        self.normalize = Normalize(mean, std) if normalize else nn.Identity()
        self.conv1 = _conv_block(in_channels, channels[0])
        self.conv2 = _conv_block(channels[0], channels[1])
        self.conv3 = _conv_block(channels[1], channels[2])
        side = image_size // 8  # 32 -> 4, 28 -> 3
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[2] * side * side, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim),
        )

    def conv_features(self, x: Tensor, layer: int = 2) -> Tensor:
        """Activations after conv block ``layer`` (1, 2 or 3), shape (N, channels, h, w)."""
        check_choice("layer", layer, (1, 2, 3))
        _check_images(x, self.in_channels, self.image_size)
        h = self.normalize(x)
        for block in (self.conv1, self.conv2, self.conv3)[:layer]:
            h = block(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv_features(x, 3))


def linear_head(in_dim: int = 64, classes: int = 10) -> nn.Module:
    """The linear head of Table 1: ``in_dim -> classes``."""
    return nn.Linear(in_dim, classes)


def mlp_head(
    in_dim: int = 64, classes: int = 10, hidden: int = 200, dropout: float = 0.1
) -> nn.Sequential:
    """The MLP head of Table 1: ``in_dim -> hidden`` (Dropout, BatchNorm, ReLU) ``-> classes``."""
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.Dropout(dropout),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, classes),
    )


class _SmallResNet(nn.Module):
    """A 3-stage CIFAR-style ResNet (He et al. 2016, Section 4.2) of torchvision BasicBlocks."""

    def __init__(self, in_channels: int, classes: int, widths: Sequence[int] = (16, 32, 64)):
        super().__init__()
        layers: list[nn.Module] = [
            Normalize(*dataset_stats(in_channels)),
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        c_in = widths[0]
        for i, c_out in enumerate(widths):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or c_in != c_out:
                down = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
                )
            layers.append(BasicBlock(c_in, c_out, stride=stride, downsample=down))
            c_in = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _torchvision_32(name: str, in_channels: int, classes: int) -> nn.Module:
    """A torchvision model with its stem adapted to small (28/32 px) images."""
    if name == "resnet18":
        net = tv_models.resnet18(num_classes=classes)
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif name == "vgg16":
        net = tv_models.vgg16_bn(num_classes=classes)
        net.features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
        net.features[-1] = nn.Identity()  # four 2x poolings: 32 -> 2, 28 -> 1
        net.avgpool = nn.AdaptiveAvgPool2d(1)
        net.classifier = nn.Linear(512, classes)
    else:  # densenet121
        net = tv_models.densenet121(num_classes=classes)
        net.features.conv0 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.features.pool0 = nn.Identity()
    return nn.Sequential(Normalize(*dataset_stats(in_channels)), net)


def classifier(
    name: str,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    classes: int = 10,
    width: float = 1.0,
    seed: int = 0,
) -> nn.Module:
    """A freshly initialised classifier by name (one of :data:`CLASSIFIERS`), seeded by ``seed``.

    ``width`` applies to ``baseline_h`` only (see :class:`BaselineH`). Raises ``ValueError`` for
    an unknown name or unsupported input shape.
    """
    check_seed("seed", seed)
    check_choice("name", name, CLASSIFIERS)
    check_choice("in_channels", in_channels, tuple(_STATS))
    check_choice("image_size", image_size, (28, 32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "baseline_h":
            return BaselineH(in_channels, image_size, out_dim=classes, width=width)
        if name == "small_resnet":
            return _SmallResNet(in_channels, classes)
        return _torchvision_32(name, in_channels, classes)
