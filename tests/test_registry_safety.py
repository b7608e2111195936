"""The user's model folder is writable by anyone who can write the user's files: a damaged or
crafted manifest must neither stop the bundled models nor make the app load (and so run) a
file from elsewhere; killed runs' leftovers are cleaned up."""

from __future__ import annotations

import json
import os
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import DIGIT_SAMPLES, run_cli
from training import imbalanced
from training.core.datasets import sha256_file
from training.core.errors import ModelIntegrityError, ModelNotFoundError, WorkbenchError
from training.core.registry import MANIFEST_NAME, ModelRegistry, write_json_atomically
from training.imbalanced import pipeline_files


class RunsCode:
    """Unpickling this writes a file: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def write_user_manifest(user_dir: Path, content) -> Path:
    models = user_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    path = models / MANIFEST_NAME
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    "content",
    [
        {"version": 1, "models": []},
        [],
        {"version": 1, "models": {"digits-cnn": {"versions": [{"sha256": "0" * 64}], "active": None}}},
        {"version": 1, "models": {"digits-cnn": {"versions": "x"}}},
    ],
    ids=["models-a-list", "a-list", "version-without-file", "versions-not-a-list"],
)
@pytest.mark.slow
def test_a_manifest_of_the_wrong_shape_is_set_aside_and_the_bundled_models_serve(tmp_path, content):
    manifest = write_user_manifest(tmp_path, content)
    listed = run_cli("models", user_dir=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "digits-cnn" in listed.stdout and "bundled" in listed.stdout
    assert listed.stderr.count("is damaged") == 1 and "set aside" in listed.stderr
    assert not manifest.exists()
    kept = list(manifest.parent.glob(f"{MANIFEST_NAME}.invalid-*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == content  # renamed, never deleted
    predicted = run_cli("predict", "digits", str(DIGIT_SAMPLES[0].parent), "--json", user_dir=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    answers = {Path(line["path"]).name: line for line in map(json.loads, predicted.stdout.splitlines())}
    for sample in DIGIT_SAMPLES:  # the bundled model reads every sample as its digit
        assert (answers[sample.name]["status"], answers[sample.name]["label"]) == (
            "ok",
            int(sample.stem.split("_")[1]),
        )


def test_set_aside_never_overwrites_an_earlier_one(tmp_path):
    for _ in range(2):
        write_user_manifest(tmp_path, [])
        registry = ModelRegistry(user_dir=tmp_path / "models")
        assert registry.user_manifest()["models"] == {}
        assert len(registry.warnings) == 1
    assert len(list((tmp_path / "models").glob(f"{MANIFEST_NAME}.invalid-*"))) == 2


def malicious_pickle(folder: Path, marker: Path) -> Path:
    path = folder / "evil.joblib"
    path.write_bytes(pickle.dumps(RunsCode(marker)))
    return path


def imbalanced_record(file_name: str, sha256: str) -> dict:
    return {
        "tool": "imbalanced",
        "columns": {"a": "numeric"},
        "threshold": 0.5,
        "positive": "yes",
        "file": file_name,
        "sha256": sha256,
    }


@pytest.mark.parametrize("where", ["absolute", "climbs-out", "link-out"])
def test_a_manifest_naming_a_file_outside_the_models_folder_is_refused(tmp_path, where):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    marker = tmp_path / "code-ran.txt"
    evil = malicious_pickle(outside, marker)
    models = tmp_path / "user" / "models"
    models.mkdir(parents=True)
    if where == "absolute":
        file_name = str(evil)
    elif where == "climbs-out":
        file_name = "../../elsewhere/evil.joblib"
    else:
        (models / "evil.joblib").symlink_to(evil)
        file_name = "evil.joblib"
    record = imbalanced_record(file_name, sha256_file(evil))
    write_user_manifest(
        tmp_path / "user",
        {"version": 1, "models": {"imbalanced-evil": {"versions": [record], "active": file_name}}},
    )
    (tmp_path / "rows.csv").write_text("a\n1\n")
    completed = run_cli(
        "predict", "imbalanced", str(tmp_path / "rows.csv"), "--model", "evil", user_dir=tmp_path / "user"
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "outside" in completed.stderr and "There is no model named 'imbalanced-evil'" in completed.stderr
    assert not marker.exists()


def test_a_pickle_inside_the_models_folder_is_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran.txt"
    models = tmp_path / "user" / "models"
    models.mkdir(parents=True)
    evil = malicious_pickle(models, marker)
    record = imbalanced_record(evil.name, sha256_file(evil))  # the sha256 sits in the same folder
    manifest = {"version": 1, "models": {"imbalanced-evil": {"versions": [record], "active": evil.name}}}
    write_user_manifest(tmp_path / "user", manifest)
    registry = ModelRegistry(user_dir=models)
    with pytest.raises(ModelNotFoundError, match="can run code"):
        imbalanced.TabularPredictor.load("imbalanced-evil", registry)
    renamed = evil.rename(models / "evil.pipeline")  # the app's own suffix does not help it
    manifest["models"]["imbalanced-evil"] = {
        "versions": [imbalanced_record(renamed.name, sha256_file(renamed))],
        "active": renamed.name,
    }
    write_json_atomically(models / MANIFEST_NAME, manifest)
    with pytest.raises(ModelIntegrityError, match="not a readable saved model"):
        imbalanced.TabularPredictor.load("imbalanced-evil", registry)
    assert not marker.exists()


def small_problem(rows: int = 400, seed: int = 0) -> imbalanced.PreparedData:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=rows),
            "age": rng.integers(18, 80, rows),
            "channel": rng.choice(["web", "shop", "phone"], rows),
        }
    )
    frame["fraud"] = np.where(frame["amount"] + rng.normal(size=rows) > 1.5, "yes", "no")
    return imbalanced.prepare(frame, imbalanced.Problem("fraud", "yes"))


# Fitted, saved and loaded in more than a second each: left out of the fast loop.
SLOW_TO_FIT = {"hist_gradient_boosting", "random_forest", "keras_mlp", "balanced_random_forest"}


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(model, marks=pytest.mark.slow if model in SLOW_TO_FIT else ())
        for model in imbalanced.ALL_MODELS
    ],
)
def test_every_model_round_trips_through_the_safe_format(tmp_path, model):
    data = small_problem()
    methods = ("none",) if model in imbalanced.BASELINE_MODELS else ("smote_tomek", "adasyn")
    for method in methods:
        pipeline = imbalanced.build_pipeline(model, method, data, data.labels).fit(data.features, data.labels)
        expected = pipeline.predict_proba(data.features)[:, 1]
        path = tmp_path / f"{model}-{method}{pipeline_files.SUFFIX}"
        pipeline_files.save_pipeline(pipeline, path)
        with zipfile.ZipFile(path) as archive:
            assert not any(name.endswith((".pkl", ".joblib", ".pickle")) for name in archive.namelist())
        loaded = pipeline_files.load_pipeline(path)
        np.testing.assert_allclose(loaded.probabilities(data.features), expected, atol=1e-9)


def test_a_saved_model_holding_an_untrusted_type_is_refused(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "code-ran.txt"
    data = small_problem()
    pipeline = imbalanced.build_pipeline("logistic_regression", "none", data, data.labels)
    pipeline.fit(data.features, data.labels)
    path = tmp_path / f"crafted{pipeline_files.SUFFIX}"
    pipeline_files.save_pipeline(pipeline, path)
    crafted = tmp_path / f"crafted-2{pipeline_files.SUFFIX}"
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(crafted, "w") as copy:
        for name in original.namelist():
            content = original.read(name)
            if name == "model.skops":
                content = skops.io.dumps(
                    FunctionTransformer(os.system, kw_args={"command": f"touch {marker}"})
                )
            copy.writestr(name, content)
    with pytest.raises(ModelIntegrityError, match="does not trust"):
        pipeline_files.load_pipeline(crafted)
    assert not marker.exists()


def test_leftovers_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    models = tmp_path / "models"
    registry = ModelRegistry(user_dir=models)
    scratch = registry.scratch_parent()
    dead_pid = 2**22 + 17  # above Linux's pid_max: no such process
    leftovers = [
        models / f".digits-cnn-20260101-000000.keras.{dead_pid}.partial",
        models / ".digits-cnn-20260101-000000.keras.partial",  # named before pids were added
        models / f".{MANIFEST_NAME}.abc123",
        models / "digits-cnn-20260101-000000.keras",  # complete, but no manifest names it
        scratch / f"{dead_pid}-publish-abcd",
    ]
    kept = [
        models / "notes.txt",  # not the registry's
        scratch / f"{os.getpid()}-grid-live",  # a live process's scratch
        models / f".digits-cnn-20260101-000001.keras.{os.getpid()}.partial",
    ]
    for path in leftovers + kept:
        if "-" in path.name and path.parent == scratch:
            path.mkdir()
            (path / "model.keras").write_bytes(b"x")
        else:
            path.write_bytes(b"x")
    registered = models / "digits-mlp-20260101-000000.keras"
    registered.write_bytes(b"model")
    record = {"file": registered.name, "sha256": sha256_file(registered)}
    write_json_atomically(
        models / MANIFEST_NAME,
        {"version": 1, "models": {"digits-mlp": {"versions": [record], "active": None}}},
    )
    old = time.time() - 3600
    for path in [*leftovers, *kept, registered]:
        os.utime(path, (old, old))
    fresh = models / "digits-cnn-20990101-000000.keras"  # newer than this process: maybe in use
    fresh.write_bytes(b"x")

    removed = registry.remove_leftovers()

    assert sorted(removed) == sorted(leftovers)
    assert all(not path.exists() for path in leftovers)
    assert all(path.exists() for path in [*kept, registered, fresh, models / MANIFEST_NAME])


def test_retraining_cleans_up_before_it_installs(tmp_path):
    models = tmp_path / "models"
    registry = ModelRegistry(user_dir=models)
    models.mkdir()
    stale = models / ".digits-cnn-20260101-000000.keras.partial"
    stale.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    produced = tmp_path / "new.keras"
    produced.write_bytes(b"model")
    entry = registry.install("digits-cnn", produced, {"tool": "digits"})
    assert not stale.exists() and entry.path.exists()
    assert not list(registry.scratch_parent().iterdir())


def test_unknown_saved_model_message_says_so(tmp_path):
    registry = ModelRegistry(user_dir=tmp_path / "models")
    with pytest.raises(WorkbenchError, match="no model named 'imbalanced-nope'") as raised:
        imbalanced.TabularPredictor.load("imbalanced-nope", registry)
    assert "bundled" in str(raised.value) and "No bundled model" not in str(raised.value)


def test_the_window_says_once_that_the_model_list_was_set_aside(gui):
    from training.core import paths

    existing = paths.user_models_dir() / MANIFEST_NAME
    earlier = existing.read_bytes() if existing.is_file() else None  # other tests' models
    manifest = write_user_manifest(paths.user_dir(), {"version": 1, "models": []})
    try:
        gui.show_registry_warnings()
        gui.show_registry_warnings()
        shown = [window for window in gui.messages if "set aside" in window.text]
        assert len(shown) == 1 and "bundled models are used" in shown[0].text
        assert "damaged" in gui.status_text.get()
        assert gui.registry.entry("digits-cnn").origin == "bundled"
    finally:
        for kept in manifest.parent.glob(f"{MANIFEST_NAME}.invalid-*"):
            kept.unlink()
        if earlier is not None:
            manifest.write_bytes(earlier)
