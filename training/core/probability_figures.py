"""Figures of predicted probabilities that every tool reads the same way: how well they
are calibrated (expected calibration error and the reliability diagram's bins) and how well
they separate the classes where credit teams look (Kolmogorov-Smirnov, Gini)."""

from __future__ import annotations

import numpy as np


def logit(probability):
    """log(p / (1 − p)) of probabilities (a float or an array), clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(probability, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(clipped / (1 - clipped))


def platt_scaled(probability, slope: float, intercept: float):
    """Platt's sigmoid on the logit: 1 / (1 + exp(−(slope · logit(p) + intercept))), of a float
    or an array."""
    return 1 / (1 + np.exp(-(slope * logit(probability) + intercept)))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """ECE over equal-width bins, and each bin's mean probability, share of positives and count
    (the reliability diagram)."""
    probabilities, labels = np.asarray(probabilities, float), np.asarray(labels, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    rows, error = [], 0.0
    for number in range(bins):
        inside = which == number
        if inside.any():
            mean, share = float(probabilities[inside].mean()), float(labels[inside].mean())
            error += inside.mean() * abs(mean - share)
            rows.append(
                {
                    "low": float(edges[number]),
                    "high": float(edges[number + 1]),
                    "mean_probability": mean,
                    "positive_share": share,
                    "count": int(inside.sum()),
                }
            )
    return {"ece": float(error), "bins": rows}


def separation_figures(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """KS: the largest gap between the positives' and the negatives' cumulative score
    distributions (= max TPR − FPR over thresholds); Gini: 2·ROC AUC − 1; Brier: the mean
    squared error of the probabilities; ECE over ten equal-width bins."""
    from sklearn import metrics

    false_positive_rate, true_positive_rate, _thresholds = metrics.roc_curve(labels, probabilities)
    return {
        "ks": float(np.max(true_positive_rate - false_positive_rate)),
        "gini": float(2 * metrics.roc_auc_score(labels, probabilities) - 1),
        "brier": float(metrics.brier_score_loss(labels, probabilities)),
        "ece": expected_calibration_error(probabilities, labels)["ece"],
    }
