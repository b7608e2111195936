"""Fitted Imbalanced pipelines saved in formats that cannot run code when they are loaded.

A saved model is one zip file: the pipeline's preprocessing steps in skops format (loaded
only when every type in it is on `TRUSTED_TYPES`; resampling, which only runs while fitting,
is saved as "passthrough"), and its model in the
model's own format — skops for scikit-learn and imbalanced-learn estimators, XGBoost's JSON
for XGBoost, a `.keras` file loaded with `safe_mode` for the Keras network. Nothing in the
file is unpickled: a crafted file can at worst fail to load.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from training.core.errors import ModelIntegrityError

FORMAT = "fintech-workbench-pipeline"


FORMAT_VERSION = 1


SUFFIX = ".pipeline"


MAX_MEMBER_BYTES = 2_000_000_000  # a zip member larger than this is not one we wrote


# The types beyond skops' own default-trusted ones (numpy arrays, scikit-learn's estimators and
# transformers) that a pipeline of `imbalanced.build_pipeline` holds once fitted, with its
# resampling step dropped (checked by a test that saves every model × method). A file that
# holds any other type is refused before anything in it is built.
TRUSTED_TYPES = [
    "imblearn.ensemble._forest.BalancedRandomForestClassifier",
    "imblearn.pipeline.Pipeline",
    "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]


def save_pipeline(pipeline, path) -> None:
    """Write a fitted pipeline whose last step is named "model" to `path` (one zip file)."""
    import skops.io

    model = pipeline.named_steps["model"]
    kind = model_kind(model)
    # A new pipeline over the same fitted steps, so the caller's is left as it is; resampling
    # only ever runs while fitting, and the model is saved in its own format below.
    rest = type(pipeline)(
        [(name, "passthrough" if name == "resample" else step) for name, step in pipeline.steps[:-1]]
        + [("model", "passthrough")]
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "format.json", json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "model": kind})
        )
        archive.writestr("pipeline.skops", skops.io.dumps(rest))
        if kind == "xgboost":
            with tempfile.TemporaryDirectory() as scratch:
                model.save_model(Path(scratch) / "model.json")
                archive.write(Path(scratch) / "model.json", "model.json")
        elif kind == "keras":
            parameters = {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in model.get_params().items()
            }
            archive.writestr(
                "model-parameters.json",
                json.dumps({"parameters": parameters, "classes": model.classes_.tolist()}),
            )
            with tempfile.TemporaryDirectory() as scratch:
                model.model_.save(Path(scratch) / "model.keras")
                archive.write(Path(scratch) / "model.keras", "model.keras")
        else:
            archive.writestr("model.skops", skops.io.dumps(model))


def model_kind(model) -> str:
    from training.imbalanced.keras_mlp import KerasMLPClassifier

    if isinstance(model, KerasMLPClassifier):
        return "keras"
    if type(model).__module__.startswith("xgboost"):
        return "xgboost"
    return "skops"


def load_pipeline(path):
    """The fitted pipeline saved by `save_pipeline`; `ModelIntegrityError` for anything else,
    including a file that holds a type outside `TRUSTED_TYPES`."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            description = json.loads(_member(archive, members, "format.json", path))
            if description.get("format") != FORMAT or description.get("version") != FORMAT_VERSION:
                raise ModelIntegrityError(f"{path.name} is not a saved Imbalanced model of this app.")
            pipeline = _load_skops(_member(archive, members, "pipeline.skops", path), path)
            kind = description.get("model")
            if kind == "skops":
                model = _load_skops(_member(archive, members, "model.skops", path), path)
            elif kind == "xgboost":
                model = _load_xgboost(_member(archive, members, "model.json", path))
            elif kind == "keras":
                settings = json.loads(_member(archive, members, "model-parameters.json", path))
                model = _load_keras(_member(archive, members, "model.keras", path), settings)
            else:
                raise ModelIntegrityError(f"{path.name} names an unknown kind of model ({kind!r}).")
    except (zipfile.BadZipFile, json.JSONDecodeError, KeyError, ValueError, OSError) as error:
        raise ModelIntegrityError(f"{path.name} is not a readable saved model ({error}).") from error
    if not hasattr(pipeline, "steps") or pipeline.steps[-1] != ("model", "passthrough"):
        raise ModelIntegrityError(f"{path.name} does not hold a pipeline of this app.")
    pipeline.steps[-1] = ("model", model)
    return pipeline


def _member(archive: zipfile.ZipFile, members: dict, name: str, path: Path) -> bytes:
    info = members.get(name)
    if info is None:
        raise ModelIntegrityError(f"{path.name} lacks its part '{name}': it is not a complete saved model.")
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelIntegrityError(f"{path.name}: its part '{name}' is implausibly large.")
    return archive.read(info)


def _load_skops(data: bytes, path: Path):
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ModelIntegrityError(
            f"Refusing to load {path.name}: it holds types this app does not trust ({', '.join(untrusted)})."
        )
    try:
        return skops.io.loads(data, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as error:
        raise ModelIntegrityError(f"Refusing to load {path.name}: {error}") from error


def _load_xgboost(data: bytes):
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(bytearray(data))
    return model


def _load_keras(data: bytes, settings: dict):
    import numpy as np

    from training.core.keras_io import import_keras
    from training.imbalanced.keras_mlp import KerasMLPClassifier

    keras = import_keras()
    parameters = settings["parameters"]
    if "hidden_units" in parameters:
        parameters["hidden_units"] = tuple(parameters["hidden_units"])
    model = KerasMLPClassifier(**parameters)
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "model.keras"
        file.write_bytes(data)
        model.model_ = keras.saving.load_model(file, compile=False, safe_mode=True)
    model.classes_ = np.asarray(settings["classes"])
    return model
