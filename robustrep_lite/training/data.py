"""Data sets as tensors: MNIST, Fashion-MNIST, SVHN and CIFAR-10.

Three sources, one function (:func:`load_dataset`):

- ``"npz"``: a user-supplied ``.npz`` with arrays ``x_train``, ``y_train``, ``x_test``,
  ``y_test`` (uint8 in [0, 255] or floats in [0, 1]; HW, HWC or CHW images), looked up in the
  data root. Offline machines use this.
- ``"torchvision"``: the official files through ``torchvision.datasets`` (downloaded into the
  data root if allowed and possible).
- ``"embedded"``: a small offline stand-in that needs no file at all, for the ``quick`` profile:
  scikit-learn's bundled 8x8 handwritten digits, resized to 28x28, for the MNIST-shaped sets,
  and a procedurally generated 10-class 32x32 colour set for the CIFAR-shaped ones.

``"auto"`` tries npz, then torchvision files already on disk, then a torchvision download.
The data root is the ``root`` argument, else ``$ROBUSTREP_DATA``, else
``~/.cache/robustrep_lite/data``. Images come back as float32 tensors (N, C, H, W) in [0, 1]
(normalisation lives inside the models), labels as int64 tensors (N,).
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from robustrep_lite.core.validation import check_choice, check_int, check_seed

#: The environment variable that names the data root.
ENV_VAR = "ROBUSTREP_DATA"
#: The data sets :func:`load_dataset` reads.
DATASETS = ("mnist", "fashion_mnist", "svhn", "cifar10")
#: Where :func:`load_dataset` may read a data set from (``"auto"``: the first that has it).
SOURCES = ("auto", "npz", "torchvision", "embedded")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# npz files tried in the data root, in order (the shared offline copies are named like these).
NPZ_CANDIDATES = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": ("fashion_mnist.npz",),
    "svhn": ("svhn.npz",),
    "cifar10": (
        "cifar10.npz",
        "cifar10_jpeg.npz",
        "cifar10_jpeg_webp.npz",
        "cifar10_exact_subset.npz",
    ),
}
# The compact layout: every image one lossless WebP, all of a split's bytes concatenated, image i
# being ``{split}_webp[offsets[i]:offsets[i + 1]]`` (decoded bit-exactly by torchvision).
WEBP_KEYS = ("train_webp", "train_offsets", "y_train", "test_webp", "test_offsets", "y_test")
# What torchvision keeps (or downloads) under the root, for error messages.
TORCHVISION_FILES = {
    "mnist": "MNIST/raw/ (train-images-idx3-ubyte.gz and the three other official files)",
    "fashion_mnist": "FashionMNIST/raw/ (the four official idx files)",
    "svhn": "train_32x32.mat and test_32x32.mat",
    "cifar10": "cifar-10-python.tar.gz (or its extracted cifar-10-batches-py/)",
}
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "svhn": "SVHN", "cifar10": "CIFAR-10"}


class DataNotFoundError(ValueError):
    """A data set is neither on disk nor downloadable; the message says what to place where."""


class Splits(NamedTuple):
    """Train and test tensors plus a one-line description of where they came from."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    description: str


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder data is read from: ``root``, else ``$ROBUSTREP_DATA``, else the user cache."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "robustrep_lite" / "data"


def load_dataset(
    name: str,
    *,
    source: str = "auto",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> Splits:
    """Load ``name`` (one of :data:`DATASETS`) from ``source`` (one of :data:`SOURCES`).

    ``train_size``/``test_size`` keep the first images of each split (official order), so a
    subset is the same on every machine; each is ``None`` (all) or an integer >= 1. A size larger
    than the split keeps the whole split (a profile's sizes also serve smaller sources, such as
    the embedded stand-ins), and the description then says how many were asked for and how many
    the source holds. ``seed`` only affects the embedded generated set.
    Raises :class:`DataNotFoundError` (a ``ValueError``) naming the data set, the folder
    searched, the variable to set and the files to place there when nothing can be loaded.
    """
    check_seed("seed", seed)
    check_choice("name", name, DATASETS)
    check_choice("source", source, SOURCES)
    for arg, size in (("train_size", train_size), ("test_size", test_size)):
        if size is not None:
            check_int(arg, size, 1)
    folder = data_root(root)
    if source == "embedded":
        splits = _embedded(name, seed)
    elif source == "npz":
        path = _find_npz(name, folder)
        if path is None:
            raise DataNotFoundError(_missing_message(name, folder, "no npz file found"))
        splits = load_npz(path)
    elif source == "torchvision":
        splits = _torchvision(name, folder, download)
    else:
        path = _find_npz(name, folder)
        splits = load_npz(path) if path is not None else _torchvision(name, folder, download)
    return _subset(splits, train_size, test_size)


def load_npz(path: str | os.PathLike[str]) -> Splits:
    """Read a ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test``, or the compact
    WebP layout (:data:`WEBP_KEYS`: each image a lossless WebP, decoded bit-exactly).

    A missing file is a :class:`DataNotFoundError`; a file that is not a readable archive (empty,
    truncated, random bytes, pickled objects) or lacks the arrays is a ``ValueError`` naming it.
    The description names the file, not the folder (that is ``$ROBUSTREP_DATA``'s business).
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"npz file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            if set(NPZ_KEYS) <= files:
                arrays = {key: archive[key] for key in NPZ_KEYS}
            elif set(WEBP_KEYS) <= files:
                arrays = {key: archive[key] for key in WEBP_KEYS}
            else:
                raise ValueError(
                    f"{path} lacks the arrays {sorted(set(NPZ_KEYS) - files)}; it must hold "
                    f"{list(NPZ_KEYS)} (or the WebP layout {list(WEBP_KEYS)})"
                )
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        if str(err).startswith(str(path)):
            raise
        raise ValueError(
            f"{path} is not a readable .npz archive of arrays ({type(err).__name__}: {err}); "
            "it is corrupt or truncated: delete it and copy it again"
        ) from None
    if "x_train" not in arrays:
        for split in ("train", "test"):
            arrays[f"x_{split}"] = _decode_webp(
                arrays.pop(f"{split}_webp"), arrays.pop(f"{split}_offsets"), f"{path}:{split}"
            )
    x_train = _images_to_tensor(arrays["x_train"], f"{path}:x_train")
    x_test = _images_to_tensor(arrays["x_test"], f"{path}:x_test")
    y_train = _labels_to_tensor(arrays["y_train"], len(x_train), f"{path}:y_train")
    y_test = _labels_to_tensor(arrays["y_test"], len(x_test), f"{path}:y_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{path}: x_train images {tuple(x_train.shape[1:])} and x_test images "
            f"{tuple(x_test.shape[1:])} differ in shape"
        )
    return Splits(x_train, y_train, x_test, y_test, f"npz file {path.name}")


def _decode_webp(data: np.ndarray, offsets: np.ndarray, what: str) -> np.ndarray:
    """Concatenated WebP bytes + offsets -> uint8 images (N, H, W, C), decoded with Pillow."""
    from PIL import Image, UnidentifiedImageError

    offsets = np.asarray(offsets).reshape(-1)
    if (
        data.dtype != np.uint8
        or len(offsets) < 2
        or offsets[0] != 0
        or offsets[-1] != len(data)
        or np.any(np.diff(offsets) <= 0)
    ):
        raise ValueError(
            f"{what}: the WebP layout needs uint8 bytes and offsets rising from 0 to their length"
        )
    raw = data.tobytes()
    try:
        images = [
            np.asarray(Image.open(io.BytesIO(raw[a:b])).convert("RGB"))
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(
            f"{what}: an image is not decodable WebP ({err}); copy the file again"
        ) from None
    return np.stack(images)


def _find_npz(name: str, folder: Path) -> Path | None:
    for candidate in NPZ_CANDIDATES[name]:
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _missing_message(name: str, folder: Path, reason: str) -> str:
    npz = " or ".join(NPZ_CANDIDATES[name])
    return (
        f"{TITLES[name]} ({name!r}) could not be loaded from {folder}: {reason}. "
        f"Set {ENV_VAR} (or pass root=) to a folder holding {npz} (arrays "
        f"{', '.join(NPZ_KEYS)}) or torchvision's {TORCHVISION_FILES[name]}; "
        "or use source='embedded' for the offline stand-in."
    )


def _torchvision(name: str, folder: Path, download: bool) -> Splits:
    import torchvision.datasets as tvd

    def build(split_train: bool, allow_download: bool):
        if name == "svhn":
            return tvd.SVHN(
                folder, split="train" if split_train else "test", download=allow_download
            )
        cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}
        return cls[name](folder, train=split_train, download=allow_download)

    try:
        train, test = build(True, False), build(False, False)
    except (RuntimeError, OSError) as on_disk_error:
        if not download:
            raise DataNotFoundError(
                _missing_message(name, folder, f"torchvision found no files ({on_disk_error})")
            ) from None
        created = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            train, test = build(True, True), build(False, True)
        except Exception as download_error:  # noqa: BLE001 - any download failure is reported
            for made in created:  # a failed download leaves no new folders behind
                shutil.rmtree(made, ignore_errors=True)
            raise DataNotFoundError(
                _missing_message(name, folder, f"the download failed ({download_error})")
            ) from None
    xs, ys = [], []
    for part in (train, test):
        if name == "svhn":
            images, labels = np.asarray(part.data), np.asarray(part.labels)  # (N, 3, 32, 32)
        else:
            images, labels = np.asarray(part.data), np.asarray(part.targets)
        xs.append(_images_to_tensor(images, f"torchvision {name}"))
        ys.append(_labels_to_tensor(labels, len(images), f"torchvision {name} labels"))
    return Splits(xs[0], ys[0], xs[1], ys[1], f"torchvision {TITLES[name]} files")


def _images_to_tensor(images: np.ndarray, what: str) -> torch.Tensor:
    """(N,H,W), (N,H,W,C) or (N,C,H,W) uint8/float array -> float32 (N,C,H,W) in [0, 1]."""
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    elif not (images.ndim == 4 and images.shape[1] in (1, 3)):
        raise ValueError(
            f"{what} must have shape (N,H,W), (N,H,W,C) or (N,C,H,W) with C in (1, 3), "
            f"got {images.shape}"
        )
    if images.dtype == np.uint8:
        out = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    else:
        out = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        if not torch.isfinite(out).all() or out.min() < 0 or out.max() > 1:
            raise ValueError(f"{what}: float images must be finite and in [0, 1]")
    return out


def _labels_to_tensor(labels: np.ndarray, n: int, what: str) -> torch.Tensor:
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"{what} has {len(labels)} labels for {n} images")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer class labels, got dtype {labels.dtype}")
    return torch.from_numpy(labels.astype(np.int64))


def _subset(splits: Splits, train_size: int | None, test_size: int | None) -> Splits:
    n_train = len(splits.x_train) if train_size is None else min(train_size, len(splits.x_train))
    n_test = len(splits.x_test) if test_size is None else min(test_size, len(splits.x_test))
    note = splits.description
    if n_train < len(splits.x_train) or n_test < len(splits.x_test):
        note += f"; first {n_train} train / {n_test} test images"
    for split, asked, held in (
        ("train", train_size, len(splits.x_train)),
        ("test", test_size, len(splits.x_test)),
    ):
        if asked is not None and asked > held:
            note += f"; {asked} {split} images asked for, the source holds {held}"
    return Splits(
        splits.x_train[:n_train],
        splits.y_train[:n_train],
        splits.x_test[:n_test],
        splits.y_test[:n_test],
        note,
    )


def _embedded(name: str, seed: int) -> Splits:
    if name in ("mnist", "fashion_mnist"):
        return embedded_digits()
    return embedded_color_patterns(seed=seed)


def embedded_digits() -> Splits:
    """scikit-learn's 1797 bundled 8x8 digits, bilinearly resized to 28x28 (1 channel).

    An MNIST-shaped stand-in that ships with scikit-learn (no download). The first 1500 images
    are the training split, the remaining 297 the test split.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    y = torch.from_numpy(digits.target.astype(np.int64))
    return Splits(
        x[:1500],
        y[:1500],
        x[1500:],
        y[1500:],
        "embedded: scikit-learn 8x8 digits resized to 28x28 (offline stand-in)",
    )


def embedded_color_patterns(n_train: int = 1000, n_test: int = 250, seed: int = 0) -> Splits:
    """A procedurally generated 10-class, 32x32 RGB set (a CIFAR-shaped stand-in, no download).

    Class ``k`` is a sinusoidal grating with orientation ``k * 18`` degrees and a class colour,
    drawn with a random phase and frequency jitter plus pixel noise, so that small networks
    can learn it but not perfectly. Deterministic for a given ``seed``. ``n_train`` and
    ``n_test`` are integers >= 1.
    """
    check_seed("seed", seed)
    check_int("n_train", n_train, 1)
    check_int("n_test", n_test, 1)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    angle = np.deg2rad(labels * 18.0)[:, None, None]
    freq = (0.35 + 0.1 * rng.random(n))[:, None, None]
    phase = (2 * np.pi * rng.random(n))[:, None, None]
    grid = np.arange(32, dtype=np.float64)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    wave = 0.5 + 0.5 * np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
    hues = np.stack(
        [np.linspace(0.2, 1.0, 10), np.linspace(1.0, 0.2, 10), 0.6 + 0.4 * np.sin(np.arange(10))],
        axis=1,
    )
    colour = hues[labels][:, :, None, None]  # (n, 3, 1, 1)
    images = colour * wave[:, None] + 0.15 * rng.standard_normal((n, 3, 32, 32))
    x = torch.from_numpy(np.clip(images, 0.0, 1.0).astype(np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    return Splits(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        "embedded: generated 10-class 32x32 colour gratings (offline stand-in)",
    )
