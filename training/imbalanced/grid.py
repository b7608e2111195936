"""The grid: every model × imbalance method, cross-validated on the training part and tested once."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.core.errors import InvalidInputError, TrainingCancelled
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.imbalanced.columns import PreparedData, Problem, prepare
from training.imbalanced.pipelines import (
    ALL_MODELS,
    BASELINE_MODELS,
    METHOD_LABELS,
    METHODS,
    MODEL_LABELS,
    MODELS,
    build_pipeline,
    resampled_counts,
)
from training.imbalanced.thresholds import choose_threshold, metrics_at, ranking_metrics

DIVERGENCE_WARNING = 0.05  # |CV ROC AUC − test ROC AUC| above this is flagged by the audit


@dataclass(frozen=True)
class GridSettings:
    test_fraction: float = 0.2
    folds: int = 3
    seed: int = 0


@dataclass
class ConfigurationResult:
    model: str
    method: str
    threshold: float  # max minority F1 on the out-of-fold probabilities
    test_metrics: dict  # at `threshold`
    default_metrics: dict  # at 0.5
    ranking: dict  # test ROC AUC, PR AUC
    cv: dict  # out-of-fold figures on the training part
    counts_before: list[int]
    counts_after: list[int]
    seconds: float
    test_probabilities: np.ndarray = field(repr=False)
    cv_probabilities: np.ndarray = field(repr=False)  # out-of-fold, on the training part
    pipeline: object = field(default=None, repr=False)
    pipeline_file: Path | None = None  # where the fitted pipeline was saved instead, if it was
    data_fingerprint: str = ""  # PreparedData.fingerprint of the data it was computed on

    @property
    def audit(self) -> str:
        gap = self.cv["roc_auc"] - self.ranking["roc_auc"]
        if abs(gap) > DIVERGENCE_WARNING:
            return f"diverges: CV ROC AUC {self.cv['roc_auc']:.3f} vs test {self.ranking['roc_auc']:.3f}"
        return "ok"

    def to_json(self) -> dict:
        """The command-line contract: threshold-dependent figures at the optimised threshold."""
        return {
            "model": self.model,
            "method": self.method,
            "roc_auc": self.ranking["roc_auc"],
            "pr_auc": self.ranking["pr_auc"],
            "ks": self.ranking["ks"],
            "gini": self.ranking["gini"],
            "brier": self.ranking["brier"],
            "ece": self.ranking["ece"],
            "f1_minority": self.test_metrics["f1_minority"],
            "precision_minority": self.test_metrics["precision_minority"],
            "recall_minority": self.test_metrics["recall_minority"],
            "threshold": self.threshold,
            "balanced_accuracy": self.test_metrics["balanced_accuracy"],
            "mcc": self.test_metrics["mcc"],
            "gmean": self.test_metrics["gmean"],
            "accuracy": self.test_metrics["accuracy"],
            "f1_majority": self.test_metrics["f1_majority"],
            "confusion_matrix": self.test_metrics["confusion_matrix"],
            "at_0_5": {key: value for key, value in self.default_metrics.items() if key != "threshold"},
            "cv_roc_auc": self.cv["roc_auc"],
            "cv_pr_auc": self.cv["pr_auc"],
            "cv_f1_minority": self.cv["f1_minority"],
            "audit": self.audit,
            "train_counts_before": self.counts_before,
            "train_counts_after": self.counts_after,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Split:
    train_features: object
    train_labels: np.ndarray
    test_features: object
    test_labels: np.ndarray
    test_rows: np.ndarray  # row numbers in the prepared data (for exports)


def split(data: PreparedData, settings: GridSettings) -> Split:
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(data.labels))
    train_rows, test_rows = train_test_split(
        rows, test_size=settings.test_fraction, stratify=data.labels, random_state=settings.seed
    )
    return Split(
        data.features.iloc[train_rows],
        data.labels[train_rows],
        data.features.iloc[test_rows],
        data.labels[test_rows],
        test_rows,
    )


def evaluate_configuration(
    model: str,
    method: str,
    data: PreparedData,
    parts: Split,
    settings: GridSettings,
    cancel=None,
    memory=None,
) -> ConfigurationResult:
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    template = build_pipeline(model, method, data, parts.train_labels, settings.seed, memory)
    out_of_fold = np.zeros(len(parts.train_labels))
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    for fit_rows, held_rows in folds.split(parts.train_features, parts.train_labels):
        if cancel is not None and cancel.cancelled:
            raise TrainingCancelled()
        fold_pipeline = clone(template)
        fold_pipeline.fit(parts.train_features.iloc[fit_rows], parts.train_labels[fit_rows])
        out_of_fold[held_rows] = fold_pipeline.predict_proba(parts.train_features.iloc[held_rows])[:, 1]
    threshold = choose_threshold(parts.train_labels, out_of_fold, "f1")
    cv = {
        **ranking_metrics(parts.train_labels, out_of_fold),
        "f1_minority": metrics_at(parts.train_labels, out_of_fold, threshold)["f1_minority"],
    }
    if cancel is not None and cancel.cancelled:
        raise TrainingCancelled()
    pipeline = clone(template).fit(parts.train_features, parts.train_labels)
    probabilities = pipeline.predict_proba(parts.test_features)[:, 1]
    before, after = resampled_counts(pipeline, parts.train_features, parts.train_labels)
    return ConfigurationResult(
        model,
        method,
        threshold,
        metrics_at(parts.test_labels, probabilities, threshold),
        metrics_at(parts.test_labels, probabilities, 0.5),
        ranking_metrics(parts.test_labels, probabilities),
        cv,
        before,
        after,
        time.perf_counter() - started,
        probabilities,
        out_of_fold,
        pipeline,
    )


def configurations(models: Sequence[str], methods: Sequence[str]) -> list[tuple[str, str]]:
    """The grid; the dummy baseline and the balanced forest take no imbalance method."""
    for name in models:
        if name not in ALL_MODELS:
            raise InvalidInputError(f"Unknown model '{name}'; choose from {', '.join(ALL_MODELS)}.")
    for name in methods:
        if name not in METHODS:
            raise InvalidInputError(f"Unknown method '{name}'; choose from {', '.join(METHODS)}.")
    grid = []
    for model in models:
        if model in BASELINE_MODELS:
            grid.append((model, "none"))
        else:
            grid.extend((model, method) for method in methods)
    return grid


def run_grid(
    data: PreparedData,
    models: Sequence[str] = (*MODELS, "dummy"),
    methods: Sequence[str] = METHODS,
    settings: GridSettings = GridSettings(),
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    on_result: Callable[[ConfigurationResult], None] | None = None,
) -> tuple[Split, list[ConfigurationResult]]:
    """Every (model, method) configuration, one after the other; `on_result` gets each as it
    is done (the GUI fills its table from it)."""
    grid = configurations(models, methods)
    parts = split(data, settings)
    return parts, evaluate_grid(data, parts, grid, settings, report, cancel, on_result)


def evaluate_grid(
    data: PreparedData,
    parts: Split,
    grid: Sequence[tuple[str, str]],
    settings: GridSettings,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    on_result: Callable[[ConfigurationResult], None] | None = None,
) -> list[ConfigurationResult]:
    results = []
    started = time.perf_counter()
    with resampling_cache() as memory:
        for position, (model, method) in enumerate(grid):
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled()
            elapsed = time.perf_counter() - started
            report(
                Progress(
                    "grid",
                    position,
                    len(grid),
                    f"{MODEL_LABELS[model]} + {METHOD_LABELS[method]}",
                    elapsed_seconds=elapsed,
                    eta_seconds=elapsed / position * (len(grid) - position) if position else None,
                )
            )
            result = evaluate_configuration(model, method, data, parts, settings, cancel, memory)
            result.data_fingerprint = data.fingerprint
            results.append(result)
            if on_result is not None:
                on_result(result)
    report(Progress("grid", len(grid), len(grid), "done", elapsed_seconds=time.perf_counter() - started))
    return results


def run_configurations(frame, problem: Problem, chosen, settings: GridSettings, scratch_dir, channel):
    """The GUI's grid, run in a child process: sends the prepared data, the split, then each
    result as it is done, through `channel` (post / report / cancelled). Fitted pipelines are
    written to `scratch_dir` rather than sent, as a forest can weigh tens of megabytes."""
    from training.imbalanced.pipeline_files import SUFFIX, save_pipeline

    data = prepare(frame, problem)
    channel.post(data)
    parts = split(data, settings)
    channel.post(parts)

    def send(result: ConfigurationResult) -> None:
        result.pipeline_file = Path(scratch_dir) / f"{result.model}-{result.method}{SUFFIX}"
        save_pipeline(result.pipeline, result.pipeline_file)
        result.pipeline = None
        channel.post(result)

    evaluate_grid(data, parts, chosen, settings, channel.report, channel, send)


@contextlib.contextmanager
def resampling_cache():
    """A joblib.Memory in a scratch folder for one grid: every model of a method is fitted on the
    same resampled folds, so SMOTE(NC), ADASYN and Tomek links run once per fold, not per model."""
    import joblib

    with tempfile.TemporaryDirectory(prefix="imbalanced-cache-") as folder:
        yield joblib.Memory(folder, verbose=0)


def curves(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """The curves drawn beside each other, as (x, y) arrays: ROC, precision-recall, and the two
    that credit and marketing teams read: cumulative gains (the share of all positives found
    when the highest-scored share of rows is contacted) and lift (that share of positives over
    the share of rows: how many times better than picking at random)."""
    from sklearn import metrics

    false_positive_rate, true_positive_rate, _ = metrics.roc_curve(labels, probabilities)
    precision, recall, _ = metrics.precision_recall_curve(labels, probabilities)
    contacted, found = cumulative_gains(labels, probabilities)
    return {
        "roc": (false_positive_rate, true_positive_rate),
        "pr": (recall, precision),
        "gains": (contacted, found),
        "lift": (
            contacted[1:],
            found[1:] / contacted[1:],
        ),  # from the first rows on: none contacted has no lift
    }


def cumulative_gains(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of rows contacted, share of positives found), from (0, 0) to (1, 1), rows taken
    highest score first; rows with the same score are taken together, so that the order of
    ties (which the model does not decide) does not shape the curve."""
    labels = np.asarray(labels, dtype=float)
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    scores, positives = np.asarray(probabilities)[order], labels[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    rows = last_of_each_score + 1
    found = np.cumsum(positives)[last_of_each_score]
    return np.r_[0.0, rows / len(scores)], np.r_[0.0, found / max(positives.sum(), 1.0)]
