"""Saving the grid's configurations as models with their manifest records."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.core.errors import DatasetInvalidError, InvalidInputError
from training.imbalanced.columns import PreparedData, Problem
from training.imbalanced.grid import ConfigurationResult
from training.imbalanced.pipelines import METHOD_LABELS, MODEL_LABELS

MODEL_PREFIX = "imbalanced-"


def model_name(label: str) -> str:
    """A registry name from what the user typed: letters, digits, '-' and '_' only."""
    cleaned = "".join(
        character if character.isalnum() or character in "-_" else "-" for character in label.strip()
    )
    cleaned = cleaned.strip("-_").lower()
    if not cleaned:
        raise InvalidInputError("Give the model a name (letters, digits, - or _).")
    return cleaned if cleaned.startswith(MODEL_PREFIX) else MODEL_PREFIX + cleaned


def file_fingerprint(path) -> str:
    """The fingerprint a saved model records for the CSV it was trained on (take it when the
    file is read: the file may change afterwards)."""
    from training.core.datasets import sha256_file

    return "sha256:" + sha256_file(path)


def threshold_warning(result: ConfigurationResult, test_labels: np.ndarray, threshold: float) -> str | None:
    """A sentence when `threshold` flags no test row or every one (a model that never or
    always says yes), else None."""
    flagged = int((result.test_probabilities >= threshold).sum())
    if flagged == 0:
        return f"At threshold {threshold:.3f} the model flags none of the {len(test_labels):,} test rows."
    if flagged == len(test_labels):
        return (
            f"At threshold {threshold:.3f} the model flags every one of the {len(test_labels):,} test rows."
        )
    return None


def best_configuration(results: Sequence[ConfigurationResult]) -> ConfigurationResult:
    """The configuration a command-line `--save` keeps: the best test PR AUC (the figure that
    ranks models on the rare class), ties to the earlier one in the grid."""
    if not results:
        raise InvalidInputError("There is no configuration to save: the grid produced no result.")
    return max(results, key=lambda result: (result.ranking["pr_auc"], -results.index(result)))


def save_configuration(
    result: ConfigurationResult,
    data: PreparedData,
    problem: Problem,
    threshold: float,
    label: str,
    registry,
    source=None,
    source_fingerprint: str | None = None,
):
    """Register the configuration's pipeline (fitted on the whole training part of `data`)
    with its threshold, as the user's model `label`. `source` and `source_fingerprint` name
    the CSV as it was read. The pipeline is saved in formats that cannot run code when loaded
    (see `training.imbalanced.pipeline_files`)."""
    from training.core.provenance import provenance_record
    from training.core.registry import publish
    from training.imbalanced.pipeline_files import SUFFIX, save_pipeline

    if result.data_fingerprint != data.fingerprint:
        raise DatasetInvalidError(
            "These results were computed on other data than the table now loaded: run the grid "
            "again before saving a model."
        )
    data_provenance = {
        "file": Path(source).name if source else None,
        "fingerprint": source_fingerprint or (file_fingerprint(source) if source else None),
        "rows": len(data.labels),
        "positives": int(data.labels.sum()),
        "prepared_fingerprint": data.fingerprint,
    }
    description = f"{MODEL_LABELS[result.model]} + {METHOD_LABELS[result.method]} on {problem.target}"
    record = provenance_record("imbalanced", description, data_provenance) | {
        "model": result.model,
        "method": result.method,
        "target": problem.target,
        "positive": str(problem.positive),
        "excluded": list(problem.exclude),
        "columns": saved_columns(data),
        "date_formats": data.date_formats,
        "threshold": float(threshold),
        "calibration": result.calibration.method if result.calibration else "none",
        "split": result.split,
        "parameters": result.parameters,
        "metrics": {key: value for key, value in result.to_json().items() if isinstance(value, float)},
    }

    def write(path: Path) -> None:
        if result.pipeline is None:
            shutil.copyfile(result.pipeline_file, path)
        else:
            save_pipeline(result.pipeline, path, result.calibration, result.background)

    return publish(registry, model_name(label), SUFFIX, write, record)


def saved_columns(data: PreparedData) -> dict[str, str]:
    """Each feature column and how prediction must read it, in the pipeline's order."""
    # Dates last: they are also numeric columns, and prediction must parse them as dates.
    return (
        {name: "numeric" for name in data.numeric_columns}
        | {name: "categorical" for name in data.categorical_columns}
        | {name: "date" for name in data.date_columns}
    )
