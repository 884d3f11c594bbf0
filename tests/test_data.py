"""The data loader: embedded sets, the npz path, torchvision's on-disk layout, and every error."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from robustrep_lite.training import data
from robustrep_lite.training.data import DataNotFoundError, load_dataset, load_npz


def test_embedded_sets_have_the_real_shapes_and_range() -> None:
    digits = load_dataset("mnist", source="embedded")
    assert digits.x_train.shape == (1500, 1, 28, 28) and digits.x_test.shape == (297, 1, 28, 28)
    colour = load_dataset("cifar10", source="embedded")
    assert colour.x_train.shape == (1000, 3, 32, 32) and colour.x_test.shape == (250, 3, 32, 32)
    for splits in (digits, colour):
        assert splits.x_train.dtype == torch.float32 and splits.y_train.dtype == torch.int64
        assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0
        assert set(splits.y_train.tolist()) == set(range(10))
        assert "embedded" in splits.description


def test_embedded_generated_set_is_deterministic_and_seeded() -> None:
    a = load_dataset("svhn", source="embedded", seed=3)
    b = load_dataset("svhn", source="embedded", seed=3)
    c = load_dataset("svhn", source="embedded", seed=4)
    assert torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)


def test_embedded_generated_set_is_learnable_but_not_trivial() -> None:
    # a nearest-class-mean classifier must beat chance clearly (the classes carry signal)
    s = load_dataset("cifar10", source="embedded")
    means = torch.stack([s.x_train[s.y_train == k].mean(0) for k in range(10)])
    dist = torch.cdist(s.x_test.flatten(1), means.flatten(1))
    accuracy = (dist.argmin(1) == s.y_test).float().mean().item()
    assert 0.3 < accuracy


def test_subsets_keep_the_first_images() -> None:
    full = load_dataset("mnist", source="embedded")
    part = load_dataset("mnist", source="embedded", train_size=10, test_size=5)
    assert torch.equal(part.x_train, full.x_train[:10]) and len(part.x_test) == 5
    assert "first 10 train / 5 test" in part.description


def _write_npz(path: Path, **overrides: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 20),
        "x_test": rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 8),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)


def test_npz_path_converts_hwc_uint8_to_nchw_unit_floats(tmp_path: Path) -> None:
    _write_npz(tmp_path / "cifar10.npz")
    with np.load(tmp_path / "cifar10.npz") as raw:
        first = raw["x_train"][0]
    splits = load_dataset("cifar10", source="npz", root=tmp_path)
    assert splits.x_train.shape == (20, 3, 32, 32)
    np.testing.assert_allclose(splits.x_train[0].permute(1, 2, 0).numpy() * 255, first, atol=1e-4)
    # the description names the file, never the folder of the machine that loaded it
    assert splits.description == "npz file cifar10.npz"
    assert str(tmp_path) not in splits.description


def test_webp_layout_decodes_bit_exactly(tmp_path: Path) -> None:
    PIL = pytest.importorskip("PIL.Image")
    import io

    rng = np.random.default_rng(0)
    splits_in = {
        s: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        for s, n in (("train", 6), ("test", 3))
    }
    arrays: dict[str, np.ndarray] = {}
    for split, images in splits_in.items():
        blobs = []
        for im in images:
            out = io.BytesIO()
            PIL.fromarray(im).save(out, format="WEBP", lossless=True)
            blobs.append(np.frombuffer(out.getvalue(), dtype=np.uint8))
        arrays[f"{split}_webp"] = np.concatenate(blobs)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        arrays[f"y_{split}"] = np.arange(len(images)) % 10
    np.savez(tmp_path / "cifar10_jpeg_webp.npz", **arrays)
    got = load_dataset("cifar10", source="npz", root=tmp_path)
    assert got.description == "npz file cifar10_jpeg_webp.npz"
    for split in ("train", "test"):
        x = getattr(got, f"x_{split}")
        np.testing.assert_array_equal(
            (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy(), splits_in[split]
        )
    # a broken layout (offsets that do not cover the bytes) names the file
    arrays["train_offsets"] = arrays["train_offsets"][:-1]
    np.savez(tmp_path / "cifar10_jpeg_webp.npz", **arrays)
    with pytest.raises(ValueError, match="cifar10_jpeg_webp.npz:train.*offsets"):
        load_dataset("cifar10", source="npz", root=tmp_path)
    # bytes that are not WebP name the file too
    arrays = dict(np.load(tmp_path / "cifar10_jpeg_webp.npz"))
    arrays["train_webp"] = np.full(int(arrays["train_offsets"][-1]), 7, dtype=np.uint8)
    np.savez(tmp_path / "cifar10_jpeg_webp.npz", **arrays)
    with pytest.raises(ValueError, match="cifar10_jpeg_webp.npz:train.*not decodable WebP"):
        load_dataset("cifar10", source="npz", root=tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"PK\x03\x04truncated", bytes(range(256)) * 8, None],
    ids=["empty", "truncated-zip", "random-bytes", "truncated-real"],
)
def test_a_corrupt_npz_is_one_error_naming_the_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "cifar10.npz"
    if content is None:
        _write_npz(path)
        content = path.read_bytes()[: len(path.read_bytes()) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"cifar10\.npz is not a readable \.npz archive"):
        load_npz(path)


def test_a_pickled_npz_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "cifar10.npz"
    np.savez(
        path,
        x_train=np.array([{"a": 1}], dtype=object),
        y_train=np.zeros(1),
        x_test=np.zeros((1, 2, 2)),
        y_test=np.zeros(1, dtype=int),
    )
    with pytest.raises(ValueError, match=r"cifar10\.npz is not a readable"):
        load_npz(path)


def test_auto_prefers_npz_and_finds_the_shared_file_names(tmp_path: Path, monkeypatch) -> None:
    _write_npz(tmp_path / "cifar10_jpeg.npz")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    splits = load_dataset("cifar10")
    assert "cifar10_jpeg.npz" in splits.description


def test_npz_grayscale_hw_images_get_a_channel(tmp_path: Path) -> None:
    gray = np.zeros((20, 28, 28), dtype=np.uint8)
    _write_npz(tmp_path / "mnist.npz", x_train=gray, x_test=gray[:8])
    assert load_dataset("mnist", source="npz", root=tmp_path).x_test.shape == (8, 1, 28, 28)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"y_train": np.zeros(3, dtype=int)}, "3 labels for 20 images"),
        ({"x_train": np.zeros((20, 5), dtype=np.uint8)}, "must have shape"),
        ({"x_train": np.full((20, 32, 32, 3), 2.0)}, "in [0, 1]"),
        ({"y_test": np.zeros(8, dtype=float)}, "integer class labels"),
        ({"x_test": np.zeros((8, 28, 28, 3), dtype=np.uint8)}, "differ in shape"),
    ],
)
def test_npz_bad_contents_raise_value_errors(tmp_path: Path, overrides, message) -> None:
    _write_npz(tmp_path / "x.npz", **overrides)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_npz(tmp_path / "x.npz")


def test_npz_missing_arrays_are_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", x_train=np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays .*y_train"):
        load_npz(tmp_path / "x.npz")


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_torchvision_path_reads_a_fake_dataset_in_torchvisions_layout(
    tmp_path: Path, name: str, folder: str
) -> None:
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    train_images = rng.integers(0, 256, (12, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte", train_images)
    _write_idx(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, 12))
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(4))
    splits = load_dataset(name, source="torchvision", root=tmp_path, download=False)
    assert splits.x_train.shape == (12, 1, 28, 28) and splits.y_test.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(splits.x_train[:, 0].numpy() * 255, train_images, atol=1e-4)
    assert "torchvision" in splits.description


@pytest.mark.parametrize("name", data.DATASETS)
def test_missing_data_error_says_what_to_put_where(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataNotFoundError) as info:
        load_dataset(name, root=tmp_path, download=False)
    message = str(info.value)
    assert data.TITLES[name] in message and str(tmp_path) in message
    assert data.ENV_VAR in message and data.NPZ_CANDIDATES[name][0] in message
    assert isinstance(info.value, ValueError)


def test_failed_download_is_reported_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets as tvd

    class Offline(tvd.MNIST):
        def download(self) -> None:
            raise OSError("network unreachable")

    monkeypatch.setattr(tvd, "MNIST", Offline)
    with pytest.raises(DataNotFoundError, match="download failed .*network unreachable"):
        load_dataset("mnist", source="torchvision", root=tmp_path, download=True)
    # a data folder that did not exist is not left behind by the failed download
    with pytest.raises(DataNotFoundError, match="download failed"):
        load_dataset("mnist", source="torchvision", root=tmp_path / "new" / "data", download=True)
    assert not (tmp_path / "new").exists()


def test_npz_source_without_file_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no npz file found"):
        load_dataset("svhn", source="npz", root=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": "imagenet"}, "name"),
        ({"name": "mnist", "source": "web"}, "source"),
        ({"name": "mnist", "train_size": 0}, "train_size"),
        ({"name": "mnist", "test_size": -3}, "test_size"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict, argument: str) -> None:
    kwargs.setdefault("source", "embedded")
    with pytest.raises(ValueError, match=argument):
        load_dataset(**kwargs)


def test_data_root_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(data.ENV_VAR)
    assert data.data_root().name == "data" and "robustrep_lite" in str(data.data_root())
