"""Scoring new rows with a saved configuration, columns converted as in training, with the
reasons behind each score when asked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.errors import DatasetInvalidError
from training.imbalanced.columns import as_categories
from training.imbalanced.csv_reading import DATE_SHARE, date_columns_of, date_numbers

REASON_BATCH_ROWS = 20_000  # rows explained at a time: contributions of millions of rows stay small


@dataclass
class ScoredRows:
    """`TabularPredictor.score`'s answer for a table."""

    probabilities: np.ndarray  # of the positive class (calibrated when the model is)
    flagged: np.ndarray  # probability ≥ the saved threshold
    reasons: list[list[dict]] | None = None  # per row, see `explain.Contributions.reasons`
    reason_method: str | None = None  # how contributions were computed ("tree_shap", …)


class TabularPredictor:
    """A saved pipeline + threshold that scores new rows with the same columns."""

    def __init__(self, saved, entry):
        self.saved = saved  # pipeline_files.SavedPipeline
        self.entry = entry
        self.columns: dict[str, str] = entry.record["columns"]
        self.threshold = float(entry.record["threshold"])

    @classmethod
    def load(cls, name: str, registry=None) -> TabularPredictor:
        from training.core.errors import ModelNotFoundError
        from training.core.registry import ModelRegistry
        from training.imbalanced.pipeline_files import SUFFIX, load_pipeline

        registry = registry or ModelRegistry()
        entry = registry.entry(name)
        if entry.record.get("tool") != "imbalanced":
            raise ModelNotFoundError(f"{name} is not a model saved from the Imbalanced tool.")
        if entry.path.suffix != SUFFIX:
            raise ModelNotFoundError(
                f"{name} was saved by an older version of the app in a format that can run code "
                "when loaded, so it is not loaded: save the configuration again."
            )
        path, entry = registry.verified_path(name)
        return cls(load_pipeline(path), entry)

    def score(self, frame, reason_count: int = 0) -> ScoredRows:
        """Each row's probability of the positive class and whether the saved threshold flags
        it; with `reason_count`, the columns that push each score most toward the positive class."""
        features = self.features(frame)
        probabilities = self.saved.probabilities(features)
        scored = ScoredRows(probabilities, probabilities >= self.threshold)
        if reason_count:
            from training.imbalanced.explain import contributions, explainable

            if not explainable(self.saved.pipeline[-1], self.saved.background):
                scored.reasons = [[] for _row in range(len(features))]
                scored.reason_method = "unavailable: saved by an older version; save the model again"
                return scored
            scored.reasons = []
            for start in range(0, len(features), REASON_BATCH_ROWS):
                batch = features.iloc[start : start + REASON_BATCH_ROWS]
                values = contributions(self.saved.pipeline, batch, self.saved.background)
                # Plain dicts: a pandas row lookup per row would cost more than the explanation.
                rows = batch.to_dict("records")
                scored.reasons += [values.reasons(row, rows[row], reason_count) for row in range(len(batch))]
                scored.reason_method = values.method
        return scored

    def features(self, frame):
        """The model's columns of `frame`, read as in training; a DatasetInvalidError that names
        a missing column or a value of the wrong kind."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise DatasetInvalidError(
                f"The table lacks column(s) the model was trained on: {', '.join(missing)}."
            )
        features = frame[list(self.columns)].copy()
        date_formats = self.entry.record.get("date_formats") or {}
        for name, kind in self.columns.items():
            if kind == "categorical":
                features[name] = as_categories(features[name])
            elif kind == "date":
                fmt = date_formats.get(name) or date_columns_of(frame).get(name)
                features[name] = _dates(features[name], name, fmt)
            else:
                features[name] = _numbers(features[name], name)
        return features


def _numbers(column, name: str):
    """A column the model was trained on as numbers, or a DatasetInvalidError that names the
    column, the first data row holding something else, and that value."""
    import pandas

    values = column.astype(object) if isinstance(column.dtype, pandas.CategoricalDtype) else column
    converted = pandas.to_numeric(values, errors="coerce")
    _refuse_unconverted(column, converted.isna().to_numpy(), name, "numbers", tolerated=0.0)
    return converted


def _dates(column, name: str, fmt: str | None) -> np.ndarray:
    """A column the model was trained on as dates, as days since 1970-01-01; as in training, up
    to 5 % of values that are not dates count as missing."""
    days = date_numbers(column, fmt)
    _refuse_unconverted(column, np.isnan(days), name, "dates", tolerated=1 - DATE_SHARE)
    return days


def _refuse_unconverted(column, failed: np.ndarray, name: str, what: str, tolerated: float) -> None:
    present = column.notna().to_numpy()
    bad = failed & present
    if bad.sum() > tolerated * present.sum():
        position = int(np.flatnonzero(bad)[0])
        raise DatasetInvalidError(
            f"Column '{name}' should hold {what}, as in the training data, but data row {position + 1} "
            f"(counting from 1 below the header) holds '{column.iloc[position]}'"
            + (f", and {int(bad.sum()) - 1:,} more rows hold no {what} either." if bad.sum() > 1 else ".")
        )
