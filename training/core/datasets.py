"""Datasets: locate, validate and fingerprint them. Nothing here downloads unless asked to."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core import paths
from training.core.errors import DatasetInvalidError, DatasetMissingError

MNIST_FILE_NAME = "mnist.npz"


MNIST_DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


MNIST_DOWNLOAD_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


MNIST_EXPECTED_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}


@dataclass(frozen=True)
class MnistData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    fingerprint: str
    source: Path

    def provenance(self) -> dict:
        """The data a model's manifest record names: the dataset, its file and fingerprint."""
        return {"dataset": "MNIST", "file": self.source.name, "fingerprint": self.fingerprint}


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of the arrays' names, shapes, dtypes and bytes: stable across file containers."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def mnist_path(data_dir: str | os.PathLike | None = None) -> Path:
    return paths.data_dir(data_dir) / MNIST_FILE_NAME


def load_mnist(data_dir: str | os.PathLike | None = None) -> MnistData:
    """Load and validate `mnist.npz` from the data directory."""
    path = mnist_path(data_dir)
    if not path.is_file():
        raise DatasetMissingError(
            f"MNIST was not found: looked for {path}. Put the Keras 'mnist.npz' there, point "
            f"--data-dir or {paths.DATA_DIR_ENVIRONMENT_VARIABLE} at the folder holding it, or "
            "download it once with 'python -m training download mnist'."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in MNIST_EXPECTED_SHAPES if name in archive.files}
    except (OSError, ValueError) as error:
        raise DatasetInvalidError(f"{path} is not a readable .npz archive: {error}") from error
    for name, shape in MNIST_EXPECTED_SHAPES.items():
        if name not in arrays:
            raise DatasetInvalidError(f"{path} has no array named '{name}'.")
        if arrays[name].shape != shape or arrays[name].dtype != np.uint8:
            raise DatasetInvalidError(
                f"{path}: '{name}' is {arrays[name].dtype}{arrays[name].shape}, expected uint8{shape}."
            )
    for name in ("y_train", "y_test"):
        if arrays[name].max() > 9:
            raise DatasetInvalidError(f"{path}: '{name}' holds labels outside 0-9.")
    return MnistData(fingerprint=fingerprint_arrays(arrays), source=path, **arrays)


def download_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """Explicit opt-in download of the standard Keras `mnist.npz`, verified by sha256."""
    destination = mnist_path(data_dir)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        with urllib.request.urlopen(MNIST_DOWNLOAD_URL, timeout=60) as response:
            shutil.copyfileobj(response, partial)
    partial_path = Path(partial.name)
    if sha256_file(partial_path) != MNIST_DOWNLOAD_SHA256:
        partial_path.unlink()
        raise DatasetInvalidError("The downloaded mnist.npz does not match its published sha256.")
    os.replace(partial_path, destination)
    return destination


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validation_split(
    labels: np.ndarray, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of indices into (train, validation)."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    generator = np.random.default_rng(seed)
    train_indices, validation_indices = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        generator.shuffle(members)
        cut = int(round(len(members) * validation_fraction))
        validation_indices.append(members[:cut])
        train_indices.append(members[cut:])
    return np.sort(np.concatenate(train_indices)), np.sort(np.concatenate(validation_indices))
