"""Shapes, parameter counts and input checks of robustrep_lite.training.models."""

import pytest
import torch

from robustrep_lite.training.models import (
    CLASSIFIERS,
    BaselineH,
    Normalize,
    classifier,
    linear_head,
    mlp_head,
)


@pytest.mark.parametrize(("channels", "size", "flat"), [(3, 32, 4096), (1, 28, 2304)])
def test_baseline_h_matches_the_paper_architecture(channels, size, flat):
    enc = BaselineH(channels, size, out_dim=64)
    assert enc.fc[1].in_features == flat  # flatten size of the paper's trunk
    assert enc.fc[1].out_features == 1024
    x = torch.rand(4, channels, size, size)
    enc.eval()
    assert enc(x).shape == (4, 64)
    assert enc.conv_features(x, 2).shape == (4, 128, size // 4, size // 4)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256]
    assert all(c.bias is None and c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)


def test_baseline_h_parameter_count_is_the_papers():
    n = sum(p.numel() for p in BaselineH(3, 32, 64).parameters())
    assert 4.7e6 < n < 5.0e6  # the authors' Baseline-H: ~4.9M


def test_width_scales_the_network():
    small = BaselineH(3, 32, 10, width=0.25)
    assert [m.out_channels for m in small.modules() if isinstance(m, torch.nn.Conv2d)] == [
        16,
        32,
        64,
    ]


# every classifier on CIFAR-sized input; the two small ones on MNIST-sized input as well
SHAPES = [(name, 3, 32) for name in CLASSIFIERS] + [
    (name, 1, 28) for name in ("baseline_h", "small_resnet")
]


@pytest.mark.parametrize(("name", "channels", "size"), SHAPES)
def test_classifiers_give_logits(name, channels, size):
    model = classifier(name, in_channels=channels, image_size=size).eval()
    with torch.no_grad():
        assert model(torch.rand(2, channels, size, size)).shape == (2, 10)


def test_classifier_is_seeded():
    a = classifier("small_resnet", seed=3)
    b = classifier("small_resnet", seed=3)
    c = classifier("small_resnet", seed=4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_heads():
    assert linear_head()(torch.rand(3, 64)).shape == (3, 10)
    head = mlp_head().eval()
    assert head(torch.rand(3, 64)).shape == (3, 10)
    assert head[0].out_features == 200 and head[1].p == 0.1


def test_normalize():
    norm = Normalize((0.5,), (0.25,))
    assert torch.allclose(norm(torch.ones(1, 1, 2, 2)), torch.full((1, 1, 2, 2), 2.0))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: classifier("alexnet"), "name"),
        (lambda: classifier("baseline_h", in_channels=2), "in_channels"),
        (lambda: BaselineH(3, 64), "image_size"),
        (lambda: BaselineH(3, 32, width=0), "width"),
        (lambda: mlp_head(dropout=1.0), "dropout"),
        (lambda: Normalize((0.5,), (0.0,)), "std"),
        (lambda: BaselineH(3, 32).conv_features(torch.rand(2, 1, 32, 32)), "shape"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
