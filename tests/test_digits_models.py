"""The bundled models' figures, computed from the data (not read from the manifest), and
a short training run through the same code path the GUI and CLI use."""

from __future__ import annotations

import numpy as np
import pytest

from training import digits
from training.core import keras_io
from training.core.errors import TrainingCancelled
from training.core.progress import CancelToken


@pytest.fixture(scope="module")
def evaluations(mnist, registry):
    return {
        name: (
            digits.evaluate(digits.DigitsPredictor.load(name, registry).model, mnist),
            registry.entry(name),
        )
        for name in ("digits-cnn", "digits-mlp")
    }


@pytest.mark.slow
def test_default_cnn_meets_its_targets(evaluations):
    evaluation, entry = evaluations["digits-cnn"]
    assert evaluation.plain["accuracy"] >= 0.995
    assert evaluation.rotated["accuracy"] >= 0.98
    assert evaluation.plain["accuracy"] == pytest.approx(entry.metrics["test_accuracy"], abs=5e-4)


@pytest.mark.slow
def test_seed_mlp_meets_its_target(evaluations):
    evaluation, entry = evaluations["digits-mlp"]
    assert evaluation.plain["accuracy"] >= 0.98
    assert evaluation.plain["accuracy"] == pytest.approx(entry.metrics["test_accuracy"], abs=5e-4)


@pytest.mark.slow
def test_per_class_report_is_consistent(evaluations):
    evaluation, _ = evaluations["digits-cnn"]
    matrix = np.array(evaluation.plain["confusion_matrix"])
    assert matrix.sum() == 10000
    assert np.trace(matrix) / 10000 == pytest.approx(evaluation.plain["accuracy"])
    for row in evaluation.plain["per_class"]:
        label = row["label"]
        assert row["recall"] == pytest.approx(matrix[label, label] / matrix[label].sum())
        assert row["precision"] == pytest.approx(matrix[label, label] / matrix[:, label].sum())


def test_rotated_test_set_is_seeded_and_really_rotated(mnist):
    from training.digits import augment

    first, angles = augment.rotated_copy(mnist.x_test[:50], 90, digits.ROTATED_TEST_SEED)
    second, _ = augment.rotated_copy(mnist.x_test[:50], 90, digits.ROTATED_TEST_SEED)
    assert np.array_equal(first, second)
    assert np.abs(angles).max() > 60 and np.abs(angles).max() <= 90
    quarter = augment.warp_images(mnist.x_test[:1], np.array([90.0]))[0]
    assert np.abs(quarter - np.rot90(mnist.x_test[0], -1)).max() < 1e-3


@pytest.mark.slow
def test_one_epoch_training_smoke_run_reports_progress(mnist):
    reports = []
    config = digits.DigitsTrainingConfig.defaults_for("cnn", epochs=1, subset=600, seed=5)
    result = digits.train(mnist, config, report=reports.append)
    assert result.epochs_run == 1
    assert any(report.message == "epoch 1/1" for report in reports)
    assert reports[-1].fraction == pytest.approx(1.0)
    probabilities = digits.predict_probabilities(result.model, mnist.x_test[:20])
    assert probabilities.shape == (20, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_training_is_deterministic_given_a_seed(mnist):
    config = digits.DigitsTrainingConfig.defaults_for("mlp", epochs=1, subset=2000, seed=9)
    first = digits.train(mnist, config)
    second = digits.train(mnist, config)
    assert keras_io.weights_fingerprint(first.model) == keras_io.weights_fingerprint(second.model)


def test_cancel_stops_training(mnist):
    token = CancelToken()

    def cancel_on_first_report(_report):
        token.cancel()

    config = digits.DigitsTrainingConfig.defaults_for("mlp", epochs=50, subset=5000)
    with pytest.raises(TrainingCancelled):
        digits.train(mnist, config, report=cancel_on_first_report, cancel=token)
