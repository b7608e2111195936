"""The Anomaly engine end to end on small, fast models (the full figures are in
bench/anomaly_one_class.py), and the `predict anomaly` command-line contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_cli
from training import anomaly
from training.anomaly import scoring
from training.core.errors import DatasetInvalidError, TrainingCancelled
from training.core.progress import CancelToken
from training.core.registry import ModelRegistry


@pytest.fixture(scope="module")
def one_class_model(mnist):
    config = anomaly.AnomalyTrainingConfig(normal_digits=(1,), epochs=3, subset=3000)
    return anomaly.train(mnist, config)


@pytest.mark.slow
def test_one_class_model_ranks_other_digits_above_its_own(one_class_model, mnist):
    figures = anomaly.evaluate(one_class_model, mnist)
    assert figures["auroc"] > 0.9
    assert set(one_class_model.thresholds) == set(anomaly.THRESHOLD_RULES)
    matrix = np.array(figures["at_threshold"]["confusion_matrix"])
    assert matrix.sum() == 10000 and matrix[0].sum() == (mnist.y_test == 1).sum()


@pytest.mark.slow
def test_percentile_threshold_flags_about_its_share_of_held_out_normals(one_class_model, mnist):
    ones = mnist.x_test[mnist.y_test == 1]
    flagged = (one_class_model.score(ones).scores > one_class_model.thresholds["percentile"]).mean()
    assert flagged < 0.15


@pytest.mark.slow
def test_scores_come_with_reconstructions_and_error_maps(one_class_model, mnist):
    scored = one_class_model.score(mnist.x_test[:8])
    assert scored.reconstructions.shape == (8, 28, 28) and scored.error_maps.shape == (8, 28, 28)
    assert np.allclose(scored.error_maps.reshape(8, -1).mean(1), scored.reconstruction_error, rtol=1e-5)
    statistics = anomaly.ScoreStatistics.from_json(
        json.loads(json.dumps(one_class_model.statistics.to_json()))
    )
    again = anomaly.score_images(one_class_model.autoencoder, statistics, mnist.x_test[:8])
    assert np.allclose(again.scores, scored.scores, atol=1e-4)


def test_latent_mixture_likelihood_matches_scikit_learn():
    from sklearn.mixture import GaussianMixture

    generator = np.random.default_rng(0)
    codes = np.concatenate(
        [generator.normal(centre, scale, (300, 4)) for centre, scale in ((0, 1), (6, 0.3))]
    )
    mixture = GaussianMixture(2, covariance_type="full", random_state=0).fit(codes)
    statistics = anomaly.ScoreStatistics(
        0.0,
        1.0,
        [0.0] * 4,
        np.eye(4).tolist(),
        0.0,
        1.0,
        mixture.weights_.tolist(),
        mixture.means_.tolist(),
        mixture.precisions_cholesky_.tolist(),
    )
    probes = generator.normal(3, 3, (50, 4))
    assert np.allclose(scoring._mixture_surprise(probes, statistics), -mixture.score_samples(probes))


@pytest.mark.slow
def test_the_gap_between_latent_clusters_is_more_surprising_than_either_cluster(one_class_model):
    """What the mixture adds to a single Gaussian: a code halfway between two clusters of
    normal codes is unlikely although it is near their overall mean."""
    statistics = one_class_model.statistics
    means = np.asarray(statistics.mixture_means)
    heaviest = np.argsort(statistics.mixture_weights)[-2:]
    between = means[heaviest].mean(axis=0, keepdims=True)
    assert (
        scoring._mixture_surprise(between, statistics)[0]
        > scoring._mixture_surprise(means[heaviest], statistics).max()
    )


@pytest.mark.slow
def test_models_saved_before_the_mixture_score_still_score(one_class_model, mnist):
    saved = one_class_model.statistics.to_json()
    older = anomaly.ScoreStatistics.from_json(
        {name: value for name, value in saved.items() if not name.startswith(("mixture_", "latent_weight"))}
    )
    scored = anomaly.score_images(one_class_model.autoencoder, older, mnist.x_test[:4], "combined")
    assert np.isfinite(scored.scores).all()
    with pytest.raises(ValueError, match="without a latent mixture"):
        anomaly.score_images(one_class_model.autoencoder, older, mnist.x_test[:4], "mixture")


@pytest.mark.slow
def test_all_digits_normal_offers_no_f1_threshold(mnist):
    config = anomaly.AnomalyTrainingConfig(epochs=1, subset=1000)
    model = anomaly.train(mnist, config)
    assert "f1_optimal" not in model.thresholds
    assert "auroc" not in anomaly.evaluate(model, mnist)
    with pytest.raises(ValueError, match="needs labelled anomalies"):
        anomaly.train(mnist, anomaly.AnomalyTrainingConfig(epochs=1, subset=500, threshold_rule="f1_optimal"))


@pytest.mark.slow
def test_cancel_stops_anomaly_training(mnist):
    token = CancelToken()
    token.cancel()
    with pytest.raises(TrainingCancelled):
        anomaly.train(
            mnist, anomaly.AnomalyTrainingConfig(normal_digits=(4,), epochs=5, subset=2000), cancel=token
        )


@pytest.mark.slow
def test_predict_anomaly_json_contract(mnist, tmp_path):
    registry = ModelRegistry()
    # Two normal digits: a name no bundled model has, so later tests still see the bundled ones.
    config = anomaly.AnomalyTrainingConfig(normal_digits=(0, 6), epochs=2, subset=2000)
    entry, _evaluation, outcome = anomaly.train_and_save(mnist, config, registry)
    assert outcome.activated, outcome.message  # no model of that name to compare with
    assert entry.origin == "user" and registry.verified_path(entry.name)
    Image.fromarray(mnist.x_test[mnist.y_test == 0][0]).save(tmp_path / "zero.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    Image.new("L", (300, 300), 235).save(tmp_path / "blank.png")
    inputs = [str(tmp_path / name) for name in ("zero.png", "broken.png", "blank.png")]
    completed = run_cli("predict", "anomaly", *inputs, "--model", entry.name, "--json")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["path"] for line in lines] == inputs
    for line in lines:
        assert set(line) == {
            "path",
            "score",
            "threshold",
            "anomaly",
            "status",
            "message",
            "verdict",
            "evidence",
        }
    zero, broken, blank = lines
    assert zero["status"] == "ok" and zero["anomaly"] == (zero["score"] > zero["threshold"])
    assert zero["threshold"] == pytest.approx(entry.record["thresholds"]["percentile"])
    assert broken["status"] == "error" and broken["score"] is None
    # Nothing digit-shaped in it: an anomaly whatever the whole image scores.
    assert blank["status"] == "rejected" and blank["anomaly"] is True and "whole image" in blank["message"]
    assert isinstance(blank["score"], float)


def test_image_arrays_load_in_every_mnist_layout(mnist, tmp_path):
    flat = tmp_path / "flat.npz"
    np.savez(flat, x=mnist.x_test[:50].reshape(50, 784) / 255.0, y=mnist.y_test[:50])
    pixels, labels = anomaly.load_image_array(flat)
    assert pixels.dtype == np.uint8 and pixels.shape == (50, 28, 28)
    assert np.abs(pixels.astype(int) - mnist.x_test[:50]).max() <= 1
    assert (labels == mnist.y_test[:50]).all()
    odd_labels = tmp_path / "odd_labels.npz"
    np.savez(odd_labels, images=mnist.x_test[:5], labels=np.array(["a", "b", "c", "d", "e"]))
    assert anomaly.load_image_array(odd_labels)[1] is None
    for name, content in [("nan.npz", {"x": np.full((3, 28, 28), np.nan)}), ("none.npz", {"w": np.ones(3)})]:
        np.savez(tmp_path / name, **content)
        with pytest.raises(DatasetInvalidError):
            anomaly.load_image_array(tmp_path / name)


def test_batch_scoring_reports_progress_and_stops_when_cancelled(mnist):
    predictor = anomaly.AnomalyPredictor.load()
    reports = []
    scored = predictor.score_batch(mnist.x_test[:1200], reports.append, chunk=500)
    assert [report.done for report in reports] == [500, 1000, 1200]
    single = predictor.score_pixels(mnist.x_test[1100:1101]).scores[0]
    assert scored.scores[1100] == pytest.approx(single, rel=1e-4, abs=1e-4)
    token = CancelToken()
    token.cancel()
    with pytest.raises(TrainingCancelled):
        predictor.score_batch(mnist.x_test[:1200], cancel=token)


@pytest.mark.slow
def test_bundled_all_digits_model_keeps_false_alarms_at_its_percentile(mnist):
    predictor = anomaly.AnomalyPredictor.load()
    assert predictor.entry.origin == "bundled" and predictor.threshold_rule == "percentile"
    flagged = (predictor.score_pixels(mnist.x_test).scores > predictor.threshold).mean()
    assert flagged <= 0.05
    assert flagged == pytest.approx(predictor.entry.metrics["test_flagged_fraction"], abs=1e-4)


@pytest.mark.parametrize("digit", [1, 8])
@pytest.mark.slow
def test_bundled_one_class_models_score_as_their_manifest_says(mnist, digit):
    predictor = anomaly.AnomalyPredictor.load(anomaly.model_name((digit,)))
    figures = anomaly.ranking_metrics(predictor.score_pixels(mnist.x_test).scores, mnist.y_test != digit)
    assert figures["auroc"] == pytest.approx(predictor.entry.metrics["auroc"], abs=1e-4)
    assert figures["auroc"] > 0.92
