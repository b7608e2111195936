"""Figures at a decision threshold and the objectives that choose one."""

from __future__ import annotations

import numpy as np

from training.core.errors import InvalidInputError


def metrics_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Every figure the table shows, at one threshold (ranking figures do not depend on it)."""
    from sklearn import metrics

    predicted = (probabilities >= threshold).astype(int)
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    (true_negative, false_positive), (false_negative, true_positive) = matrix
    precision, recall, f1, _support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=[0, 1], zero_division=0
    )
    specificity = true_negative / max(true_negative + false_positive, 1)
    return {
        "threshold": float(threshold),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(labels, predicted)),
        "precision_minority": float(precision[1]),
        "recall_minority": float(recall[1]),
        "f1_minority": float(f1[1]),
        "precision_majority": float(precision[0]),
        "recall_majority": float(recall[0]),
        "f1_majority": float(f1[0]),
        "mcc": float(metrics.matthews_corrcoef(labels, predicted)) if len(set(predicted)) > 1 else 0.0,
        "gmean": float(np.sqrt(recall[1] * specificity)),
        "confusion_matrix": matrix.tolist(),
    }


def ranking_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """ROC and PR AUC, and the figures credit teams read beside them (KS, Gini, Brier, ECE)."""
    from sklearn import metrics

    from training.core.probability_figures import separation_figures

    return {
        "roc_auc": float(metrics.roc_auc_score(labels, probabilities)),
        "pr_auc": float(metrics.average_precision_score(labels, probabilities)),
        **separation_figures(labels, probabilities),
    }


OBJECTIVES = ("f1", "balanced_accuracy", "recall_at_precision", "cost")


def choose_threshold(
    labels: np.ndarray,
    probabilities: np.ndarray,
    objective: str = "f1",
    min_precision: float = 0.5,
    false_positive_cost: float = 1.0,
    false_negative_cost: float = 1.0,
) -> float:
    """The probability cut that is best for `objective` on (labels, probabilities): max F1,
    max balanced accuracy, max recall with precision ≥ `min_precision`, or min total cost."""
    candidates = np.unique(probabilities)
    if len(candidates) > 2000:
        candidates = np.unique(np.quantile(probabilities, np.linspace(0, 1, 2001)))
    order = np.argsort(-probabilities)
    sorted_labels = labels[order]
    sorted_probabilities = probabilities[order]
    positives = labels.sum()
    negatives = len(labels) - positives
    # Counts of predicted positives at each candidate (probability ≥ cut), in one pass.
    flagged = len(labels) - np.searchsorted(sorted_probabilities[::-1], candidates, side="left")
    true_positive = np.concatenate([[0], np.cumsum(sorted_labels)])[flagged]
    false_positive = flagged - true_positive
    recall = true_positive / max(positives, 1)
    precision = np.divide(true_positive, flagged, out=np.zeros(len(flagged)), where=flagged > 0)
    if objective == "f1":
        value = np.divide(
            2 * precision * recall,
            precision + recall,
            out=np.zeros(len(flagged)),
            where=(precision + recall) > 0,
        )
    elif objective == "balanced_accuracy":
        value = (recall + 1 - false_positive / max(negatives, 1)) / 2
    elif objective == "recall_at_precision":
        value = np.where(precision >= min_precision, recall + 1e-9 * candidates, -1.0)
        if value.max() < 0:
            raise InvalidInputError(f"No threshold reaches precision {min_precision:.2f} on these rows.")
    elif objective == "cost":
        value = -(false_positive * false_positive_cost + (positives - true_positive) * false_negative_cost)
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return float(candidates[int(np.argmax(value))])
