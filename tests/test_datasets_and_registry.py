"""Data directory resolution, dataset validation, and the model registry's guarantees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.core import datasets, paths
from training.core.errors import DatasetInvalidError, DatasetMissingError, ModelIntegrityError
from training.core.registry import ModelRegistry


def test_data_dir_flag_beats_environment_beats_shared(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "from-env"))
    assert paths.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert paths.data_dir() == tmp_path / "from-env"
    monkeypatch.delenv(paths.DATA_DIR_ENVIRONMENT_VARIABLE)
    assert paths.data_dir() == paths.development_data_dir()


def test_missing_mnist_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(DatasetMissingError) as raised:
        datasets.load_mnist(tmp_path)
    assert str(tmp_path / "mnist.npz") in str(raised.value)
    assert "python -m training download mnist" in str(raised.value)


def test_malformed_mnist_is_refused(tmp_path):
    np.savez(
        tmp_path / "mnist.npz",
        x_train=np.zeros((10, 28, 28), np.uint8),
        y_train=np.zeros(10, np.uint8),
        x_test=np.zeros((10, 28, 28), np.uint8),
        y_test=np.zeros(10, np.uint8),
    )
    with pytest.raises(DatasetInvalidError, match="expected uint8"):
        datasets.load_mnist(tmp_path)
    (tmp_path / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetInvalidError, match="not a readable"):
        datasets.load_mnist(tmp_path)


def test_real_mnist_loads_with_a_stable_fingerprint(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.y_test.shape == (10000,)
    assert mnist.fingerprint == datasets.fingerprint_arrays(
        {"x_train": mnist.x_train, "y_train": mnist.y_train, "x_test": mnist.x_test, "y_test": mnist.y_test}
    )


def test_validation_split_is_deterministic_stratified_and_disjoint(mnist):
    train, validation = datasets.validation_split(mnist.y_train, 0.1, seed=3)
    again_train, again_validation = datasets.validation_split(mnist.y_train, 0.1, seed=3)
    assert np.array_equal(train, again_train) and np.array_equal(validation, again_validation)
    assert not set(train) & set(validation) and len(train) + len(validation) == 60000
    counts = np.bincount(mnist.y_train[validation], minlength=10) / len(validation)
    assert np.allclose(counts, np.bincount(mnist.y_train, minlength=10) / 60000, atol=0.002)


@pytest.fixture
def two_dirs(tmp_path):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    model = bundled / "tool-model.keras"
    model.write_bytes(b"bundled weights")
    from training.core.registry import record_bundled_model

    record_bundled_model(bundled, "tool-model", model, {"metrics": {"accuracy": 0.5}})
    return ModelRegistry(bundled, tmp_path / "user"), tmp_path


def test_install_swaps_in_and_roll_back_returns(two_dirs):
    registry, tmp_path = two_dirs
    assert registry.entry("tool-model").origin == "bundled"
    produced = tmp_path / "new.keras"
    produced.write_bytes(b"retrained weights v1")
    first = registry.install("tool-model", produced, {"metrics": {"accuracy": 0.9}})
    produced.write_bytes(b"retrained weights v2")
    second = registry.install("tool-model", produced, {"metrics": {"accuracy": 0.95}})
    assert registry.entry("tool-model").path == second.path
    assert registry.verified_path("tool-model")[0].read_bytes() == b"retrained weights v2"
    assert registry.roll_back("tool-model").path == first.path
    assert registry.roll_back("tool-model").origin == "bundled"
    assert not list(registry.user_dir.glob(".*")), "no temporary files may be left behind"
    assert registry.bundled_dir.joinpath("tool-model.keras").read_bytes() == b"bundled weights"


def test_revert_to_bundled_keeps_retrained_files(two_dirs):
    registry, tmp_path = two_dirs
    produced = tmp_path / "new.keras"
    produced.write_bytes(b"retrained")
    installed = registry.install("tool-model", produced, {})
    assert registry.revert_to_bundled("tool-model").origin == "bundled"
    assert registry.entry("tool-model").origin == "bundled"
    assert installed.path.is_file()


def test_tampered_file_is_refused(two_dirs):
    registry, _ = two_dirs
    (registry.bundled_dir / "tool-model.keras").write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match="does not match"):
        registry.verified_path("tool-model")


def test_bundled_manifest_describes_every_model(registry):
    manifest = json.loads((registry.bundled_dir / "manifest.json").read_text())
    assert {"digits-cnn", "digits-mlp", "anomaly-all-digits"} <= set(manifest["models"])
    for name, record in manifest["models"].items():
        for key in (
            "sha256",
            "seed",
            "data",
            "hyper_parameters",
            "library_versions",
            "training_seconds",
            "metrics",
            "weights_fingerprint",
        ):
            assert key in record, f"{name} lacks {key}"
        registry.verified_path(name)
        assert (registry.bundled_dir / record["file"]).stat().st_size < 8_000_000
