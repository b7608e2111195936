"""The forgery engine: grouped splits, synthetic splices, block features, the bundled model's
verdicts and the `predict forgery` command-line contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_cli import run_cli
from training import forgery, forgery_data, forgery_training, images, paths

CASIA = paths.data_dir() / "casia1"
CASIA_TEST = paths.data_dir() / "casia1_test"
EXTRA_PHOTOS = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))


def test_grouped_split_keeps_every_source_photo_on_one_side():
    photos = forgery_data.list_photos(CASIA)
    train, validation = forgery_data.grouped_split(photos, 0.2, seed=0)
    assert len(train) + len(validation) == len(photos) == 1309
    assert 0.15 < len(validation) / len(photos) <= 0.2
    train_sources = {source for i in train for source in photos[i].sources}
    validation_sources = {source for i in validation for source in photos[i].sources}
    assert not train_sources & validation_sources
    tampered = next(p for p in photos if p.path.name == "Sp_D_CNN_A_ani0049_ani0084_0266.jpg")
    assert tampered.sources == ("ani0049", "ani0084") and tampered.mask is not None


def test_folders_without_both_classes_are_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "real" / "a.jpg")
    with pytest.raises(forgery_data.DatasetInvalidError, match="no tampered photos"):
        forgery_data.list_photos(tmp_path)
    with pytest.raises(forgery_data.DatasetInvalidError, match="two subfolders"):
        forgery_data.list_photos(tmp_path / "real")


def test_synthetic_pairs_differ_only_inside_the_mask_and_share_the_final_quality(tmp_path):
    rng = np.random.default_rng(3)
    with Image.open(EXTRA_PHOTOS[0]) as host, Image.open(EXTRA_PHOTOS[1]) as donor:
        authentic, tampered, mask = forgery_data.make_pair(host, donor, forgery_data.TRAINING_RECIPE, rng)
    difference = np.abs(np.asarray(authentic, int) - np.asarray(tampered, int)).sum(axis=-1)
    assert 0.01 < mask.mean() < 0.3
    assert difference[~mask].max() == 0 and difference[mask].mean() > 1
    written = forgery_data.write_synthetic_set(
        EXTRA_PHOTOS[:10], tmp_path, 3, forgery_data.GENERALISATION_RECIPE, seed=1
    )
    for authentic_photo, tampered_photo in zip(written[::2], written[1::2], strict=True):
        qualities = {forgery_data.first_luminance_step(p.path) for p in (authentic_photo, tampered_photo)}
        assert len(qualities) == 1 and tampered_photo.mask.is_file()
        assert forgery.estimate_jpeg_quality(Image.open(authentic_photo.path)) in (85, 90, 95)


def test_block_features_are_per_jpeg_block_and_relative_channels_are_centred():
    image = images.open_image(next((CASIA / "Au").glob("*.jpg")))
    features = forgery.block_features(image)
    assert features.shape[:2] == (image.height // 8, image.width // 8)
    ela_channels = 2 * len(forgery.FEATURE_QUALITIES)
    relative = features[..., ela_channels + 2 :]
    assert relative.shape[-1] == ela_channels
    assert np.allclose(np.median(relative.reshape(-1, ela_channels), axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError, match="too small"):
        forgery.block_features(Image.new("RGB", (10, 40)))


def validation_photos(predictor) -> list[forgery_data.LabelledPhoto]:
    """The grouped validation split the bundled model was trained without."""
    settings = predictor.entry.record["hyper_parameters"]
    photos = forgery_data.list_photos(CASIA)
    _, validation = forgery_data.grouped_split(photos, settings["validation_fraction"], settings["seed"])
    return [photos[i] for i in validation]


def test_bundled_model_sees_tampering_where_file_quality_says_nothing():
    """Quality-matched validation photos (both classes saved with the same first quantisation
    step, so the CASIA shortcut is blind): the model still ranks tampered above authentic, and
    its heatmap is hottest on the pasted region."""
    from sklearn.metrics import roc_auc_score

    predictor = forgery.ForgeryPredictor.load()
    matched = [p for p in validation_photos(predictor) if forgery_data.is_quality_matched(p.path)]
    verdicts = [predictor.predict_file(p.path) for p in matched]
    tampered = [p.tampered for p in matched]
    assert 20 < sum(tampered) < len(matched) - 20
    assert roc_auc_score(tampered, [v.tampered_probability for v in verdicts]) > 0.9
    pixel_aucs = []
    for photo, verdict in zip(matched, verdicts, strict=True):
        if photo.mask is not None:
            mask = forgery_data.read_mask(photo.mask, (verdict.facts.width, verdict.facts.height))
            pixel_aucs.append(forgery_training.pixel_auc(verdict.block_map, mask))
    assert np.mean([auc for auc in pixel_aucs if auc is not None]) > 0.8


def test_predict_forgery_json_contract(tmp_path):
    photos = sorted((CASIA_TEST / "Au").glob("*.jpg"))[:2] + sorted((CASIA_TEST / "Sp").glob("*.jpg"))[:2]
    png = tmp_path / "screen.png"
    Image.open(photos[0]).save(png)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photos[1].read_bytes()[:3000])
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    result = run_cli("predict", "forgery", *map(str, photos), str(png), str(truncated), str(text), "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["path"]).name for line in lines] == [
        *(p.name for p in photos),
        "screen.png",
        "truncated.jpg",
        "notes.txt",
    ]
    keys = {"path", "tampered_probability", "label", "warnings", "jpeg_quality", "status", "message"}
    assert all(set(line) == keys for line in lines)
    for line in lines[:5]:
        assert line["status"] == "ok" and line["label"] in ("authentic", "tampered")
        assert 0.0 <= line["tampered_probability"] <= 1.0
    assert all(isinstance(line["jpeg_quality"], int) for line in lines[:4])
    assert lines[4]["jpeg_quality"] is None and "PNG" in lines[4]["warnings"][0]
    for line in lines[5:]:
        assert line["status"] == "error" and line["label"] is None and line["message"]


def test_balanced_block_loss_does_not_let_the_untouched_rest_outweigh_a_small_region():
    import tensorflow

    targets = np.zeros((2, 10, 10, 1), np.float32)
    targets[0, 4:6, 4:5] = 1  # two tampered blocks of a hundred
    missed_region = np.full_like(targets, 0.01)
    found_region = np.where(targets > 0, 0.99, 0.01).astype(np.float32)

    def loss(kind, probabilities):
        return np.asarray(
            forgery_training.block_loss_per_photo(
                tensorflow.constant(targets), tensorflow.constant(probabilities), kind
            )
        )

    assert loss("mean", missed_region)[0] < 0.15  # missing the region costs little on average
    assert loss("balanced", missed_region)[0] > 2.0  # but half the loss when balanced
    assert loss("balanced", found_region)[0] < 0.02
    # A photo with nothing tampered scores the same either way.
    assert np.isclose(loss("balanced", missed_region)[1], loss("mean", missed_region)[1])


def test_own_image_evidence_is_a_second_map_that_leaves_the_heatmap_alone():
    features = np.random.default_rng(0).normal(size=(1, 12, 16, 26)).astype(np.float32)
    model, training_model = forgery_training.build_block_network(26, own_evidence=True)
    image_before, heatmap_before = model.predict_on_batch(features)
    _, _, evidence_before = training_model.predict_on_batch(features)
    evidence = model.get_layer("evidence_logits")
    kernel, bias = evidence.get_weights()
    evidence.set_weights([kernel, bias + 5.0])
    image_after, heatmap_after = model.predict_on_batch(features)
    np.testing.assert_array_equal(heatmap_before, heatmap_after)
    assert abs(float(image_after[0, 0]) - float(image_before[0, 0])) > 1e-3
    _, _, evidence_after = training_model.predict_on_batch(features)  # the same layers
    assert evidence_after.shape == (1, 12, 16, 1) and (evidence_after > evidence_before).all()

    shared_model, _ = forgery_training.build_block_network(26)
    with pytest.raises(ValueError):
        shared_model.get_layer("evidence_logits")
    with pytest.raises(ValueError, match="image_evidence"):
        forgery_training.ForgeryTrainingConfig(image_evidence="global")


def logistic_scores(rng, logit_mean: float, count: int) -> np.ndarray:
    return 1 / (1 + np.exp(-rng.normal(logit_mean, 1.0, count)))


@pytest.mark.parametrize(
    ("authentic_logit", "tampered_logit", "authentic_count", "expected_logit"),
    [(-2.0, 2.0, 400, 0.0), (-4.0, 0.0, 400, -2.0), (-4.0, 0.0, 4000, -2.0)],
)
def test_the_threshold_is_where_calibrated_odds_are_even_whatever_the_class_sizes(
    authentic_logit, tampered_logit, authentic_count, expected_logit
):
    """Equal-variance classes in logit space: even odds halfway between their means, however
    many authentic photos the validation split holds."""
    rng = np.random.default_rng(0)
    probabilities = np.concatenate(
        [logistic_scores(rng, authentic_logit, authentic_count), logistic_scores(rng, tampered_logit, 400)]
    )
    tampered = np.arange(len(probabilities)) >= authentic_count
    threshold = forgery_training.choose_threshold(probabilities, tampered)
    assert np.log(threshold / (1 - threshold)) == pytest.approx(expected_logit, abs=0.25)


def test_a_threshold_needs_both_classes_and_scores_that_rise_with_tampering():
    with pytest.raises(ValueError, match="both classes"):
        forgery_training.choose_threshold(np.array([0.2, 0.7]), np.array([True, True]))
    backwards = forgery_training.choose_threshold(
        np.array([0.9, 0.8, 0.2, 0.1]), np.array([False, False, True, True])
    )
    assert backwards == 0.5
