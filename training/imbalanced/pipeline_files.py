"""Fitted Imbalanced pipelines saved in formats that cannot run code when they are loaded.

A saved model is one zip file: the pipeline's preprocessing steps in skops format (loaded
only when every type in it is on `TRUSTED_TYPES`; resampling, which only runs while fitting,
is saved as "passthrough"), and its model in the
model's own format — skops for scikit-learn and imbalanced-learn estimators, XGBoost's JSON
for XGBoost, LightGBM's text model, CatBoost's binary model, a `.keras` file loaded with
`safe_mode` for the Keras network — and, for a calibrated configuration, its calibration
as JSON numbers. Nothing in the file is unpickled: a crafted file can at worst fail to load.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core.errors import ModelIntegrityError
from training.imbalanced.calibration import ProbabilityCalibration

FORMAT = "fintech-workbench-pipeline"


FORMAT_VERSION = 2  # 2 added LightGBM, CatBoost and calibration; version 1 files still load


READABLE_VERSIONS = (1, 2)


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


@dataclass
class SavedPipeline:
    """What a saved model file holds: the fitted pipeline, the calibration applied to its
    probabilities (or None), and the mean of the model's input on the training rows (the
    baseline of explanations; None in files saved before version 2)."""

    pipeline: object
    calibration: ProbabilityCalibration | None = None
    background: np.ndarray | None = None

    def probabilities(self, features) -> np.ndarray:
        """The (calibrated) probability of the positive class for each row of `features`."""
        positive = self.pipeline.predict_proba(features)[:, 1]
        return positive if self.calibration is None else self.calibration.apply(positive)


def save_pipeline(pipeline, path, calibration=None, background=None) -> None:
    """Write a fitted pipeline whose last step is named "model" to `path` (one zip file), with
    the `ProbabilityCalibration` applied to its probabilities and the explanations' baseline
    (the mean model input on the training rows), when given."""
    import skops.io

    from training.imbalanced.pipelines import RESAMPLING_STEPS

    model = pipeline.named_steps["model"]
    kind = model_kind(model)
    # A new pipeline over the same fitted steps, so the caller's is left as it is; resampling
    # only ever runs while fitting, and the model is saved in its own format below.
    rest = type(pipeline)(
        [(name, "passthrough" if name in RESAMPLING_STEPS else step) for name, step in pipeline.steps[:-1]]
        + [("model", "passthrough")]
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "format.json", json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "model": kind})
        )
        archive.writestr("pipeline.skops", skops.io.dumps(rest))
        if calibration is not None:
            archive.writestr("calibration.json", json.dumps(calibration.to_json()))
        if background is not None:
            archive.writestr("background.json", json.dumps(np.asarray(background, dtype=float).tolist()))
        if kind == "lightgbm":
            archive.writestr("model.txt", model.booster_.model_to_string())
        elif kind == "catboost":
            with tempfile.TemporaryDirectory() as scratch:
                model.save_model(str(Path(scratch) / "model.cbm"))
                archive.write(Path(scratch) / "model.cbm", "model.cbm")
        elif kind == "xgboost":
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
    from training.imbalanced.pipelines import booster_library

    return booster_library(model) or "skops"


def load_pipeline(path) -> SavedPipeline:
    """What `save_pipeline` wrote; `ModelIntegrityError` for anything else, including a file
    that holds a type outside `TRUSTED_TYPES`."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            description = json.loads(_member(archive, members, "format.json", path))
            if description.get("format") != FORMAT or description.get("version") not in READABLE_VERSIONS:
                raise ModelIntegrityError(f"{path.name} is not a saved Imbalanced model of this app.")
            pipeline = _load_skops(_member(archive, members, "pipeline.skops", path), path)
            kind = description.get("model")
            if kind == "skops":
                model = _load_skops(_member(archive, members, "model.skops", path), path)
            elif kind == "xgboost":
                model = _load_xgboost(_member(archive, members, "model.json", path))
            elif kind == "lightgbm":
                from training.imbalanced.boosters import LightGBMBooster

                model = LightGBMBooster(_member(archive, members, "model.txt", path).decode())
            elif kind == "catboost":
                model = _load_catboost(_member(archive, members, "model.cbm", path))
            elif kind == "keras":
                settings = json.loads(_member(archive, members, "model-parameters.json", path))
                model = _load_keras(_member(archive, members, "model.keras", path), settings)
            else:
                raise ModelIntegrityError(f"{path.name} names an unknown kind of model ({kind!r}).")
            calibration = (
                ProbabilityCalibration.from_json(
                    json.loads(_member(archive, members, "calibration.json", path))
                )
                if "calibration.json" in members
                else None
            )
            background = (
                _background(json.loads(_member(archive, members, "background.json", path)))
                if "background.json" in members
                else None
            )
    except (zipfile.BadZipFile, json.JSONDecodeError, KeyError, ValueError, OSError) as error:
        raise ModelIntegrityError(f"{path.name} is not a readable saved model ({error}).") from error
    if not hasattr(pipeline, "steps") or pipeline.steps[-1] != ("model", "passthrough"):
        raise ModelIntegrityError(f"{path.name} does not hold a pipeline of this app.")
    pipeline.steps[-1] = ("model", model)
    return SavedPipeline(pipeline, calibration, background)


def _background(values) -> np.ndarray:
    background = np.asarray(values, dtype=float)
    if background.ndim != 1 or not np.isfinite(background).all():
        raise ValueError("the explanations' baseline is not a row of finite numbers")
    return background


def _background(values) -> np.ndarray:
    background = np.asarray(values, dtype=float)
    if background.ndim != 1 or not np.isfinite(background).all():
        raise ValueError("the explanations' baseline is not a row of finite numbers")
    return background


class LightGBMBooster:
    """A saved LightGBM model, loaded from its text format (no pickle), answering like the
    fitted `LGBMClassifier` it was saved from. It scores; it is not fitted again (scikit-learn
    asks a pipeline's last step for a `fit` before it predicts)."""

    classes_ = np.array([0, 1])

    def __init__(self, model_text: str):
        import lightgbm

        self.booster_ = lightgbm.Booster(model_str=model_text)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, features, labels):
        raise TypeError("A loaded LightGBM model is not fitted again: run the grid to train a new one.")

    def predict_proba(self, features) -> np.ndarray:
        positive = self.booster_.predict(features)
        return np.column_stack([1 - positive, positive])


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


def _load_catboost(data: bytes):
    from training.imbalanced.pipelines import _import_optional

    catboost = _import_optional("catboost", "CatBoost")
    model = catboost.CatBoostClassifier()
    model.load_model(blob=data)  # CatBoost's own binary format: no code in it
    return model


def _load_keras(data: bytes, settings: dict):
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
