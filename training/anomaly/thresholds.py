"""Thresholds on an anomaly score: the rules that fit one, the figures at one, and saving the user's own."""

from __future__ import annotations

import numpy as np

from training.anomaly.networks import THRESHOLD_RULES
from training.core.errors import InvalidInputError


def available_threshold_rules(has_labelled_anomalies: bool) -> tuple[str, ...]:
    """The F1-optimal rule needs labelled anomalies; without them it is not offered."""
    return (
        THRESHOLD_RULES if has_labelled_anomalies else tuple(r for r in THRESHOLD_RULES if r != "f1_optimal")
    )


def fit_threshold(
    rule: str,
    normal_scores: np.ndarray,
    parameter: float | None = None,
    labelled_scores: np.ndarray | None = None,
    labelled_is_anomaly: np.ndarray | None = None,
) -> float:
    """A threshold from validation scores: scores above it are anomalies.

    - `percentile`: the `parameter`-th percentile of the normal scores (100 − contamination %)
    - `mean_k_sigma`: mean + `parameter` standard deviations of the normal scores
    - `max`: the largest normal score (no normal validation image is flagged)
    - `f1_optimal`: the cut that maximises F1 on a labelled set holding both classes
    """
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    if normal_scores.size == 0:
        raise ValueError("At least one normal validation score is needed to fit a threshold.")
    if rule == "percentile":
        percentile = 95.0 if parameter is None else parameter
        if not 0 < percentile <= 100:
            raise InvalidInputError(f"percentile must be in (0, 100], got {percentile}")
        return float(np.percentile(normal_scores, percentile))
    if rule == "mean_k_sigma":
        k = 3.0 if parameter is None else parameter
        return float(normal_scores.mean() + k * normal_scores.std())
    if rule == "max":
        return float(normal_scores.max())
    if rule == "f1_optimal":
        if labelled_scores is None or labelled_is_anomaly is None:
            raise InvalidInputError("The F1-optimal threshold needs a labelled validation set.")
        labelled_is_anomaly = np.asarray(labelled_is_anomaly, dtype=bool)
        if labelled_is_anomaly.all() or not labelled_is_anomaly.any():
            raise InvalidInputError(
                "The F1-optimal threshold needs labelled normal and anomalous images; "
                "with one class only every cut is degenerate."
            )
        from sklearn.metrics import precision_recall_curve

        precision, recall, cuts = precision_recall_curve(labelled_is_anomaly, labelled_scores)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        # precision_recall_curve counts a score equal to the cut as positive; ours is ">".
        threshold = float(np.nextafter(cuts[int(np.argmax(f1))], -np.inf))
        if (normal_scores > threshold).mean() > 0.5:
            raise InvalidInputError(
                "The F1-optimal threshold would flag most normal images: the labelled anomalies "
                "are not separable by this score."
            )
        return threshold
    raise ValueError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}")


def verdict_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict:
    """Precision/recall/F1 of the anomaly class and the confusion matrix at `threshold`."""
    from sklearn import metrics

    predicted = np.asarray(scores) > threshold
    truth = np.asarray(is_anomaly, dtype=bool)
    precision, recall, f1, _support = metrics.precision_recall_fscore_support(
        truth, predicted, average="binary", zero_division=0
    )
    return {
        "threshold": float(threshold),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "flagged_fraction": float(predicted.mean()),
        # rows: normal, anomaly (truth); columns: normal, anomaly (verdict)
        "confusion_matrix": metrics.confusion_matrix(truth, predicted, labels=[False, True]).tolist(),
    }


def ranking_metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict:
    from sklearn import metrics

    return {
        "auroc": float(metrics.roc_auc_score(is_anomaly, scores)),
        "aupr": float(metrics.average_precision_score(is_anomaly, scores)),
    }


SAVED_RULE = "saved"
# How each rule is named to a user (the tab's rule chooser, case reports).
RULE_LABELS = {
    "percentile": "percentile of validation scores",
    "mean_k_sigma": "mean + k·σ",
    "max": "max of validation scores",
    "f1_optimal": "F1-optimal (labelled validation)",
    SAVED_RULE: "saved by hand",
}


def save_threshold(registry, name: str, threshold: float):
    """A new user version of `name` whose threshold is `threshold` (rule "saved"): the model
    in use's verified file and record, with the new threshold beside the fitted ones. It is
    put in use at once; rolling back returns to the previous version."""
    from datetime import UTC, datetime

    from training.core.registry import verify

    if not np.isfinite(threshold):
        raise InvalidInputError(f"The threshold must be a finite number, got {threshold!r}.")
    entry = registry.entry(name)
    verify(entry)
    record = {key: value for key, value in entry.record.items() if key not in ("file", "sha256")}
    previous = f"{record['threshold_rule']} {record['thresholds'][record['threshold_rule']]:.3f}"
    record["thresholds"] = {**record["thresholds"], SAVED_RULE: float(threshold)}
    record["threshold_rule"] = SAVED_RULE
    record["threshold_saved"] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "replaced": previous,
    }
    return registry.install(name, entry.path, record)
