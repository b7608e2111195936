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
from training.core.probability_figures import separation_figures
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.imbalanced.calibration import (
    CALIBRATION_METHODS,
    ProbabilityCalibration,
    cross_fitted,
    fit_calibration,
)
from training.imbalanced.columns import PreparedData, Problem, prepare
from training.imbalanced.explain import seeded_rows
from training.imbalanced.pipelines import (
    ALL_MODELS,
    BASELINE_MODELS,
    METHOD_LABELS,
    METHODS,
    MODEL_LABELS,
    MODELS,
    build_pipeline,
    model_input,
    resampled_counts,
    with_model_parameters,
)
from training.imbalanced.thresholds import choose_threshold, metrics_at, ranking_metrics

DIVERGENCE_WARNING = 0.05  # |CV ROC AUC − test ROC AUC| above this is flagged by the audit


BACKGROUND_ROWS = 100_000  # training rows whose mean model input is the explanations' baseline


# Cross-validation (threshold, calibration, the audit, tuning) needs out-of-fold probabilities,
# not every row: beyond this many training rows it runs on a seeded stratified sample of them,
# while the model itself is still fitted on the whole training part. On 4 M rows this turns
# four fits on millions of rows into three on a few hundred thousand and one on all.
CV_MAX_ROWS = 500_000


@dataclass(frozen=True)
class GridSettings:
    test_fraction: float = 0.2
    folds: int = 3
    seed: int = 0
    calibration: str = "none"  # or "sigmoid" / "isotonic": see `training.imbalanced.calibration`

    def __post_init__(self):
        if not 0 < self.test_fraction < 1:
            raise InvalidInputError(f"The test fraction must lie between 0 and 1, not {self.test_fraction}.")
        if self.folds < 2:
            raise InvalidInputError(f"Cross-validation needs at least 2 folds, not {self.folds}.")
        if self.calibration not in CALIBRATION_METHODS:
            raise InvalidInputError(
                f"Unknown calibration '{self.calibration}'; choose from {', '.join(CALIBRATION_METHODS)}."
            )


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
    cv_probabilities: np.ndarray = field(repr=False)  # out-of-fold, on the cross-validated rows
    cv_labels: np.ndarray = field(repr=False)  # their labels (CV_MAX_ROWS of the training part at most)
    pipeline: object = field(default=None, repr=False)
    pipeline_file: Path | None = None  # where the fitted pipeline was saved instead, if it was
    data_fingerprint: str = ""  # PreparedData.fingerprint of the data it was computed on
    calibration: ProbabilityCalibration | None = None  # applied to the pipeline's probabilities
    uncalibrated: dict | None = None  # the test split's Brier and ECE before calibration
    # The mean of the model's input over the training part: the baseline that explanations
    # compare a row with where the model has no exact explainer of its own.
    background: np.ndarray | None = field(default=None, repr=False)
    split: str = "random"  # "random", or "out-of-time by COLUMN" (Split.description)
    parameters: dict = field(default_factory=dict)  # the model's settings changed by tuning
    tuning: dict | None = None  # trials, minutes and the best CV figure, when tuned

    @property
    def key(self) -> str:
        """Unique within a grid: model, method, and whether tuned."""
        return f"{self.model}-{self.method}{'-tuned' if self.tuning else ''}"

    @property
    def label(self) -> str:
        return configuration_label(self.model, self.method, self.tuning is not None)

    @property
    def test_positive_share(self) -> float:
        (true_negative, false_positive), (false_negative, true_positive) = self.test_metrics[
            "confusion_matrix"
        ]
        return (false_negative + true_positive) / (
            true_negative + false_positive + false_negative + true_positive
        )

    @property
    def audit(self) -> str:
        """Whether random-fold cross-validation on the training part foresaw the test figure: a
        gap means leakage, drift or an unlucky split, and says the test figure is the one to trust."""
        gap = self.cv["roc_auc"] - self.ranking["roc_auc"]
        if abs(gap) <= DIVERGENCE_WARNING:
            return "ok"
        if self.split != "random":
            return (
                f"diverges: out-of-time test ROC AUC {self.ranking['roc_auc']:.3f} vs random-fold CV "
                f"{self.cv['roc_auc']:.3f}: the latest rows are {'harder' if gap > 0 else 'easier'} "
                "to score than random folds suggest (drift)"
            )
        return f"diverges: CV ROC AUC {self.cv['roc_auc']:.3f} vs test {self.ranking['roc_auc']:.3f}"

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
            "split": self.split,
            "calibration": self.calibration.method if self.calibration else "none",
            **({"uncalibrated": self.uncalibrated} if self.uncalibrated else {}),
            "tuned": self.tuning is not None,
            **({"parameters": self.parameters, "tuning": self.tuning} if self.tuning else {}),
            "train_counts_before": self.counts_before,
            "train_counts_after": self.counts_after,
            "test_rows": len(self.test_probabilities),
            "test_positive_share": self.test_positive_share,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Split:
    train_features: object
    train_labels: np.ndarray
    test_features: object
    test_labels: np.ndarray
    test_rows: np.ndarray  # row numbers in the prepared data (for exports)
    description: str = "random"  # or "out-of-time by COLUMN"


def split(data: PreparedData, settings: GridSettings) -> Split:
    """The test split: `settings.test_fraction` of the rows, stratified at random, or — when the
    data is split by time — the latest rows (rows sharing the first test row's time go with it,
    so no moment is both trained and tested on)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(data.labels))
    if data.time_order is None:
        train_rows, test_rows = train_test_split(
            rows, test_size=settings.test_fraction, stratify=data.labels, random_state=settings.seed
        )
        description = "random"
    else:
        order = np.argsort(data.time_order, kind="stable")
        first_test = min(int(round(len(rows) * (1 - settings.test_fraction))), len(rows) - 1)
        first_test_time = data.time_order[order[first_test]]
        in_test = data.time_order >= first_test_time
        train_rows, test_rows = rows[~in_test], rows[in_test]
        description = f"out-of-time by {data.split_by}"
        _check_out_of_time(data.labels, train_rows, test_rows, settings, data.split_by)
    return Split(
        data.features.iloc[train_rows],
        data.labels[train_rows],
        data.features.iloc[test_rows],
        data.labels[test_rows],
        test_rows,
        description,
    )


def _check_out_of_time(labels, train_rows, test_rows, settings: GridSettings, split_by: str) -> None:
    if len(train_rows) == 0:
        raise InvalidInputError(
            f"Every row has the same '{split_by}', so there are no earlier rows to train on."
        )
    train_positives, test_positives = int(labels[train_rows].sum()), int(labels[test_rows].sum())
    for part, positives, count in (
        ("training", train_positives, len(train_rows)),
        ("test", test_positives, len(test_rows)),
    ):
        if positives == 0 or positives == count:
            raise InvalidInputError(
                f"Split by {split_by}, the {part} rows hold only one class: the latest "
                f"{settings.test_fraction:.0%} cannot be tested this way; try a larger test fraction."
            )
    if min(train_positives, len(train_rows) - train_positives) < settings.folds:
        raise InvalidInputError(
            f"Split by {split_by}, the earlier rows hold too few of one class for {settings.folds}-fold CV."
        )


def evaluate_configuration(
    model: str,
    method: str,
    data: PreparedData,
    parts: Split,
    settings: GridSettings,
    cancel=None,
    memory=None,
    parameters: dict | None = None,
) -> ConfigurationResult:
    """Cross-validate one configuration on the training part (the out-of-fold probabilities
    choose its threshold, and its calibration when asked), fit it on the whole training part and
    score the test split once. `parameters` change the model's settings (from tuning)."""
    from sklearn.base import clone

    started = time.perf_counter()
    template = build_pipeline(model, method, data, parts.train_labels, settings.seed, memory)
    template = with_model_parameters(template, parameters or {})
    cv_rows = cross_validation_rows(parts.train_labels, settings.seed)
    cv_features, cv_labels = parts.train_features.iloc[cv_rows], parts.train_labels[cv_rows]
    out_of_fold = cross_validated_probabilities(template, cv_features, cv_labels, settings, cancel)
    calibration = uncalibrated = None
    if settings.calibration != "none":
        calibration = fit_calibration(settings.calibration, cv_labels, out_of_fold)
        out_of_fold = cross_fitted(
            settings.calibration, cv_labels, out_of_fold, settings.folds, settings.seed
        )
    threshold = choose_threshold(cv_labels, out_of_fold, "f1")
    cv = {
        **ranking_metrics(cv_labels, out_of_fold),
        "f1_minority": metrics_at(cv_labels, out_of_fold, threshold)["f1_minority"],
    }
    if cancel is not None and cancel.cancelled:
        raise TrainingCancelled()
    pipeline = clone(template).fit(parts.train_features, parts.train_labels)
    probabilities = pipeline.predict_proba(parts.test_features)[:, 1]
    if calibration is not None:
        figures = separation_figures(parts.test_labels, probabilities)
        uncalibrated = {"brier": figures["brier"], "ece": figures["ece"]}
        probabilities = calibration.apply(probabilities)
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
        cv_labels,
        pipeline,
        calibration=calibration,
        uncalibrated=uncalibrated,
        background=model_input(
            pipeline,
            parts.train_features.iloc[seeded_rows(len(parts.train_labels), BACKGROUND_ROWS, settings.seed)],
        ).mean(axis=0),
        split=parts.description,
        parameters=dict(parameters or {}),
    )


def cross_validation_rows(labels: np.ndarray, seed: int) -> np.ndarray:
    """Positions of the training rows cross-validation runs on: all of them, or a seeded
    stratified sample of `CV_MAX_ROWS`."""
    if len(labels) <= CV_MAX_ROWS:
        return np.arange(len(labels))
    from sklearn.model_selection import train_test_split

    rows, _rest = train_test_split(
        np.arange(len(labels)), train_size=CV_MAX_ROWS, stratify=labels, random_state=seed
    )
    return np.sort(rows)


def cross_validated_probabilities(
    template, features, labels: np.ndarray, settings: GridSettings, cancel=None, fold_done=None
) -> np.ndarray:
    """Out-of-fold probabilities of `template` on (features, labels): seeded stratified folds,
    each fold's pipeline (resampling included) fitted on the other folds only. `fold_done(number,
    held_rows, out_of_fold)` is called after each fold (tuning scores and prunes there)."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    out_of_fold = np.zeros(len(labels))
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    for number, (fit_rows, held_rows) in enumerate(folds.split(features, labels)):
        if cancel is not None and cancel.cancelled:
            raise TrainingCancelled()
        fold_pipeline = clone(template)
        fold_pipeline.fit(features.iloc[fit_rows], labels[fit_rows])
        out_of_fold[held_rows] = fold_pipeline.predict_proba(features.iloc[held_rows])[:, 1]
        if fold_done is not None:
            fold_done(number, held_rows, out_of_fold)
    return out_of_fold


def configuration_label(model: str, method: str, tuned: bool) -> str:
    """How tables and progress name a configuration: "XGBoost (tuned) + SMOTE"."""
    return f"{MODEL_LABELS[model]}{' (tuned)' if tuned else ''} + {METHOD_LABELS[method]}"


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
    tuning=None,
) -> tuple[Split, list[ConfigurationResult]]:
    """Every (model, method) configuration, one after the other; `on_result` gets each as it
    is done (the GUI fills its table from it). With `tuning` (a `TuningSettings`), each
    configuration whose model has settings to tune is followed by its tuned twin."""
    grid = configurations(models, methods)
    parts = split(data, settings)
    return parts, evaluate_grid(data, parts, grid, settings, report, cancel, on_result, tuning)


def evaluate_grid(
    data: PreparedData,
    parts: Split,
    grid: Sequence[tuple[str, str]],
    settings: GridSettings,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    on_result: Callable[[ConfigurationResult], None] | None = None,
    tuning=None,
) -> list[ConfigurationResult]:
    from training.imbalanced.tuning import TUNABLE_MODELS, tune

    steps = [
        (model, method, tuned)
        for model, method in grid
        for tuned in ((False, True) if tuning is not None and model in TUNABLE_MODELS else (False,))
    ]
    results = []
    started = time.perf_counter()
    with resampling_cache() as memory:
        for position, (model, method, tuned) in enumerate(steps):
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled()
            elapsed = time.perf_counter() - started
            label = configuration_label(model, method, tuned)

            def step_report(message: str, position=position, elapsed=elapsed) -> None:
                report(
                    Progress(
                        "grid",
                        position,
                        len(steps),
                        message,
                        elapsed_seconds=time.perf_counter() - started,
                        eta_seconds=elapsed / position * (len(steps) - position) if position else None,
                    )
                )

            step_report(label)
            parameters, summary = None, None
            if tuned:
                parameters, summary = tune(
                    model,
                    method,
                    data,
                    parts,
                    settings,
                    tuning,
                    label,
                    lambda trial: step_report(trial.message),
                    cancel,
                    memory,
                )
            result = evaluate_configuration(model, method, data, parts, settings, cancel, memory, parameters)
            result.data_fingerprint = data.fingerprint
            result.tuning = summary
            results.append(result)
            if on_result is not None:
                on_result(result)
    report(Progress("grid", len(steps), len(steps), "done", elapsed_seconds=time.perf_counter() - started))
    return results


def run_configurations(frame, problem: Problem, chosen, settings: GridSettings, scratch_dir, tuning, channel):
    """The GUI's grid, run in a child process: sends the prepared data, the split, then each
    result as it is done, through `channel` (post / report / cancelled); `tuning` is a
    `TuningSettings` or None. Fitted pipelines are
    written to `scratch_dir` rather than sent, as a forest can weigh tens of megabytes."""
    from training.imbalanced.pipeline_files import SUFFIX, save_pipeline

    data = prepare(frame, problem)
    channel.post(data)
    parts = split(data, settings)
    channel.post(parts)

    def send(result: ConfigurationResult) -> None:
        result.pipeline_file = Path(scratch_dir) / f"{result.key}{SUFFIX}"
        save_pipeline(result.pipeline, result.pipeline_file, result.calibration, result.background)
        result.pipeline = None
        channel.post(result)

    evaluate_grid(data, parts, chosen, settings, channel.report, channel, send, tuning)


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
