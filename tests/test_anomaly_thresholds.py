"""Threshold rules of the Anomaly tool, on scores whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from training import anomaly


@pytest.fixture
def normal_scores():
    return np.random.default_rng(0).normal(1.0, 0.1, 2000)


def test_percentile_rule_flags_the_requested_share_of_normals(normal_scores):
    threshold = anomaly.fit_threshold("percentile", normal_scores, 95)
    assert (normal_scores > threshold).mean() == pytest.approx(0.05, abs=0.002)


def test_mean_k_sigma_and_max_rules(normal_scores):
    assert anomaly.fit_threshold("mean_k_sigma", normal_scores, 2) == pytest.approx(
        normal_scores.mean() + 2 * normal_scores.std()
    )
    assert anomaly.fit_threshold("max", normal_scores) == normal_scores.max()
    assert not (normal_scores > anomaly.fit_threshold("max", normal_scores)).any()


def test_f1_optimal_rule_separates_separable_classes(normal_scores):
    anomalies = np.random.default_rng(1).normal(2.0, 0.1, 200)
    scores = np.concatenate([normal_scores, anomalies])
    truth = np.concatenate([np.zeros(2000, bool), np.ones(200, bool)])
    threshold = anomaly.fit_threshold(
        "f1_optimal", normal_scores, labelled_scores=scores, labelled_is_anomaly=truth
    )
    figures = anomaly.verdict_metrics(scores, truth, threshold)
    assert figures["f1"] == 1.0
    assert figures["confusion_matrix"] == [[2000, 0], [0, 200]]


def test_f1_optimal_is_refused_without_labelled_anomalies(normal_scores):
    assert "f1_optimal" not in anomaly.available_threshold_rules(has_labelled_anomalies=False)
    with pytest.raises(ValueError, match="needs a labelled"):
        anomaly.fit_threshold("f1_optimal", normal_scores)
    with pytest.raises(ValueError, match="degenerate"):
        anomaly.fit_threshold(
            "f1_optimal",
            normal_scores,
            labelled_scores=normal_scores,
            labelled_is_anomaly=np.zeros(2000, bool),
        )


def test_bad_rules_and_parameters_are_value_errors(normal_scores):
    with pytest.raises(ValueError, match="rule must be one of"):
        anomaly.fit_threshold("median", normal_scores)
    with pytest.raises(ValueError, match="percentile must be"):
        anomaly.fit_threshold("percentile", normal_scores, 0)
    with pytest.raises(ValueError, match="normal_digits"):
        anomaly.AnomalyTrainingConfig(normal_digits=(11,))


def test_ranking_metrics_of_a_perfect_and_a_useless_score():
    truth = np.array([0, 0, 1, 1])
    assert anomaly.ranking_metrics(np.array([0.1, 0.2, 0.8, 0.9]), truth)["auroc"] == 1.0
    assert anomaly.ranking_metrics(np.array([0.5, 0.5, 0.5, 0.5]), truth)["auroc"] == 0.5
