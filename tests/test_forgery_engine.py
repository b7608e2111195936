"""The forgery engine: grouped splits, synthetic splices, block features, the bundled model's
verdicts and the `predict forgery` command-line contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.helpers import render_photo, run_cli
from training import forgery
from training.core import images, paths, probability_figures
from training.forgery import data as forgery_data
from training.forgery import predict as forgery_predict

CASIA = paths.data_dir() / "casia1"
CASIA_TEST = paths.data_dir() / "casia1_test"
EXTRA_PHOTOS = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))
SAMPLES = paths.assets_dir() / "samples" / "photos"


@pytest.mark.data
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


@pytest.mark.data
def test_synthetic_pairs_differ_only_at_the_pasted_region_and_share_their_history(tmp_path):
    rng = np.random.default_rng(3)
    for _ in range(6):  # hard, feathered and blurred edges, splices and copy-moves
        with Image.open(EXTRA_PHOTOS[0]) as host, Image.open(EXTRA_PHOTOS[1]) as donor:
            authentic, tampered, mask, details = forgery_data.make_pair(
                host, donor, forgery_data.TRAINING_RECIPE, rng
            )
        difference = np.abs(np.asarray(authentic, int) - np.asarray(tampered, int)).sum(axis=-1)
        near_mask = (
            np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(17))) > 0
        )
        assert 0.005 < mask.mean() < 0.4, details
        assert difference[~near_mask].max() == 0 and difference[mask].mean() > 1, details
    written = forgery_data.write_synthetic_set(
        EXTRA_PHOTOS[:10], tmp_path, 4, forgery_data.TRAINING_RECIPE, seed=1, bands=("80–90", "lossless")
    )
    for authentic_photo, tampered_photo in zip(written[::2], written[1::2], strict=True):
        assert authentic_photo.condition == tampered_photo.condition and tampered_photo.mask.is_file()
        assert authentic_photo.path.suffix == tampered_photo.path.suffix
        with Image.open(authentic_photo.path) as a, Image.open(tampered_photo.path) as t:
            assert a.size == t.size == Image.open(tampered_photo.mask).size
            assert forgery.estimate_jpeg_quality(a) == forgery.estimate_jpeg_quality(t)
        if authentic_photo.condition["band"] == "lossless":
            assert authentic_photo.path.suffix == ".png"
        else:
            assert 80 <= authentic_photo.condition["final_quality"] <= 89
            assert forgery.estimate_jpeg_quality(Image.open(authentic_photo.path)) in range(80, 90)


def test_the_recipe_is_widened_by_named_groups():
    assert forgery_data.recipe_with(forgery_data.RECIPE_ADDITIONS) == forgery_data.TRAINING_RECIPE
    assert forgery_data.recipe_with(()) == forgery_data.NARROW_RECIPE
    chains = forgery_data.recipe_with(["chains"])
    assert chains.saves_before_edit == (1, 3) and chains.lossless_share == 0
    with pytest.raises(ValueError, match="Unknown recipe additions"):
        forgery_data.recipe_with(["colours"])
    rng = np.random.default_rng(0)
    finals = [forgery_data.TRAINING_RECIPE.final_save(rng) for _ in range(4000)]
    lossless = sum(quality is None for quality in finals) / len(finals)
    qualities = np.array([quality for quality in finals if quality is not None])
    assert 0.08 < lossless < 0.12 and qualities.min() == 60 and qualities.max() == 98
    assert 0.65 < ((qualities >= 70) & (qualities <= 90)).mean() < 0.75


@pytest.mark.data
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


@pytest.mark.slow
@pytest.mark.data
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
            pixel_aucs.append(forgery.pixel_auc(verdict.block_map, mask))
    assert np.mean([auc for auc in pixel_aucs if auc is not None]) > 0.8


@pytest.mark.slow
@pytest.mark.data
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
    keys = {
        "path", "tampered_probability", "label", "conclusive", "reason", "warnings", "jpeg_quality", "status",
        "message",
    }  # fmt: skip
    assert all(set(line) == keys for line in lines)
    for line in lines[:5]:
        assert line["status"] == "ok" and line["label"] in ("authentic", "tampered")
        assert 0.0 <= line["tampered_probability"] <= 1.0
        assert isinstance(line["conclusive"], bool) and (line["reason"] is None) == line["conclusive"]
    assert all(isinstance(line["jpeg_quality"], int) for line in lines[:4])
    assert lines[4]["jpeg_quality"] is None and "PNG" in lines[4]["warnings"][0]
    for line in lines[5:]:
        assert line["status"] == "error" and line["label"] is None and line["message"]
        assert line["conclusive"] is None


def test_balanced_block_loss_does_not_let_the_untouched_rest_outweigh_a_small_region():
    import tensorflow

    targets = np.zeros((2, 10, 10, 1), np.float32)
    targets[0, 4:6, 4:5] = 1  # two tampered blocks of a hundred
    missed_region = np.full_like(targets, 0.01)
    found_region = np.where(targets > 0, 0.99, 0.01).astype(np.float32)

    def loss(kind, probabilities):
        return np.asarray(
            forgery.block_loss_per_photo(
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
    model, training_model = forgery.build_block_network(26, own_evidence=True)
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

    shared_model, _ = forgery.build_block_network(26)
    with pytest.raises(ValueError):
        shared_model.get_layer("evidence_logits")
    with pytest.raises(ValueError, match="image_evidence"):
        forgery.ForgeryTrainingConfig(image_evidence="global")


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
    calibration = forgery.fit_calibration(probabilities, tampered)
    threshold = calibration.raw_threshold
    assert np.log(threshold / (1 - threshold)) == pytest.approx(expected_logit, abs=0.25)
    assert calibration.probability(threshold) == pytest.approx(0.5)


def test_calibration_needs_both_classes_and_decides_nothing_on_scores_that_fall_with_tampering():
    with pytest.raises(ValueError, match="both classes"):
        forgery.fit_calibration(np.array([0.2, 0.7]), np.array([True, True]))
    backwards = forgery.fit_calibration(np.array([0.9, 0.8, 0.2, 0.1]), np.array([False, False, True, True]))
    assert backwards.undecided == (0.0, 1.0)


def test_calibrated_probabilities_mean_what_they_say_on_overconfident_scores():
    """Raw scores three times too confident (logits ×3): the fitted calibration brings the
    expected calibration error down to sampling noise."""
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 6000)
    tampered = rng.random(6000) < 1 / (1 + np.exp(-true_logits))
    raw = 1 / (1 + np.exp(-3 * true_logits))
    before = probability_figures.expected_calibration_error(raw, tampered)
    calibration = forgery.fit_calibration(raw[:3000], tampered[:3000])
    after = probability_figures.expected_calibration_error(
        calibration.probability(raw[3000:]), tampered[3000:]
    )
    assert before["ece"] > 0.08 and after["ece"] < 0.03
    assert sum(row["count"] for row in after["bins"]) == 3000
    assert calibration.slope == pytest.approx(1 / 3, abs=0.05)


def test_the_undecided_band_is_as_narrow_as_the_errors_allow_and_never_too_wide():
    rng = np.random.default_rng(2)
    tampered = rng.random(4000) < 0.5
    clean = np.where(tampered, rng.uniform(0.6, 1.0, 4000), rng.uniform(0.0, 0.4, 4000))
    assert forgery.choose_undecided(clean, tampered) == (0.5, 0.5)
    noisy = np.where(tampered, rng.beta(3, 2, 4000), rng.beta(2, 3, 4000))
    low, high = forgery.choose_undecided(noisy, tampered)
    assert low < 0.5 < high
    assert ((noisy > low) & (noisy < high)).mean() <= forgery.MAX_UNDECIDED_SHARE


def facts(**changes) -> forgery.PhotoFacts:
    base = {
        "path": "photo.jpg",
        "format": "JPEG",
        "mode": "RGB",
        "width": 640,
        "height": 480,
        "jpeg_quality": 85,
    }
    return forgery.PhotoFacts(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "probability", "reason"),
    [
        ({}, 0.9, None),
        ({}, 0.1, None),
        ({}, 0.5, "between 35% and 65%"),
        ({"jpeg_quality": 50}, 0.9, "strongly re-compressed"),
        ({"jpeg_quality": 100}, 0.9, "barely compressed"),
        ({"width": 100}, 0.9, "100×480 pixels"),
        ({"format": "PNG", "jpeg_quality": None}, 0.9, "saved without JPEG compression"),
    ],
)
def test_weak_evidence_names_its_reason(changes, probability, reason):
    calibration = forgery.Calibration(2.0, 0.5, (0.35, 0.65), lossless_conclusive=False)
    found = calibration.weak_evidence(probability, facts(**changes))
    assert (found is None) if reason is None else (reason in found), found
    assert forgery.Calibration(lossless_conclusive=True).weak_evidence(0.9, facts(format="PNG")) is None


def test_a_model_trained_before_calibration_reads_as_before():
    calibration = forgery.Calibration.from_record({"threshold": 0.19})
    assert calibration.probability(0.19) == pytest.approx(0.5)
    assert calibration.probability(0.5) > 0.5 > calibration.probability(0.1)
    assert calibration.undecided == (0.5, 0.5)


def test_the_shipped_samples_are_judged_right_and_called():
    predictor = forgery.ForgeryPredictor.load()
    authentic = predictor.predict_file(SAMPLES / "authentic.jpg")
    tampered = predictor.predict_file(SAMPLES / "tampered.jpg")
    assert authentic.conclusive and authentic.label == "authentic"
    assert tampered.conclusive and tampered.label == "tampered"


def test_the_bundled_record_holds_the_held_out_evaluation():
    record = forgery.ForgeryPredictor.load().entry.record
    extra = record["metrics"]["generalisation"]["extra"]
    assert set(extra["by_condition"]["band"]) == set(forgery_data.BAND_NAMES)
    assert 0 <= extra["reliability"]["ece"] < 0.1
    calibration = forgery.Calibration.from_record(record)
    assert calibration.raw_threshold == pytest.approx(record["threshold"])


def test_forgery_training_refuses_an_unknown_recipe_group_before_any_work():
    result = run_cli("forgery", "--recipe-additions", "qualities,colours")
    assert result.returncode == 2
    assert "Unknown recipe additions ['colours']" in result.stderr and "Traceback" not in result.stderr


def pixels_of(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.slow
def test_one_analysis_holds_everything_a_viewer_draws(tmp_path):
    """`analyse_file`: the photo opened (facts, warnings, metadata rows, a screen-sized copy),
    its ELA preview, the verdict the batch path gives, and the heatmap; shown part by part."""
    predictor = forgery.ForgeryPredictor.load()
    path = tmp_path / "camera.jpg"
    render_photo((2400, 1600), seed=9).save(path, quality=90)
    snapshots = []
    analysis = forgery.analyse_file(path, predictor, on_partial=snapshots.append)
    opened, verdict = analysis.opened, analysis.verdict

    alone = predictor.predict_file(path)
    assert verdict.status == "ok" and verdict.to_json() == alone.to_json()
    # Judged again as it is open (after a model change): the same verdict and heatmap.
    again = forgery.judge_opened(opened, predictor)
    assert again.verdict.to_json() == verdict.to_json()
    assert np.array_equal(np.asarray(again.overlay), np.asarray(analysis.overlay))
    # While the model is still loading, everything but the verdict and its heatmap.
    without_model = forgery.analyse_file(path, None)
    assert without_model.verdict is None and without_model.overlay is None
    assert without_model.opened.metadata == opened.metadata and without_model.ela is not None
    assert np.array_equal(verdict.block_map, alone.block_map)
    assert opened.facts == verdict.facts and (opened.facts.width, opened.facts.height) == (2400, 1600)
    assert opened.warnings == verdict.warnings == forgery.trust_warnings(opened.facts)
    metadata = dict(opened.metadata)
    assert metadata["File"] == "camera.jpg" and metadata["Dimensions"].startswith("2400 × 1600 px (3.8 MP)")
    assert metadata["JPEG quality"] == "≈ 90 (estimated)" and metadata["SHA-256"] == opened.facts.sha256

    # The model and the ELA read every pixel; what a viewer draws is screen-sized.
    assert opened.image.size == (2400, 1600) and opened.display.size == (1600, 1067)
    native_ela = Image.fromarray(forgery.error_level_analysis(opened.image))
    assert analysis.ela.settings == forgery.ElaSettings() and analysis.ela.image.size == (1600, 1067)
    assert np.array_equal(
        pixels_of(analysis.ela.image), pixels_of(forgery.to_display(native_ela, (1600, 1067)))
    )
    expected = forgery.heatmap_overlay(opened.display, verdict.block_map, opened.image.size)
    assert np.array_equal(pixels_of(analysis.overlay), pixels_of(expected))

    # First the photo, then its ELA; the verdict and heatmap come with the whole analysis.
    assert [
        (part.opened is opened, part.ela is analysis.ela, part.verdict, part.overlay) for part in snapshots
    ] == [
        (True, False, None, None),
        (True, True, None, None),
    ]
    # Other ELA settings are a new request for the same opened photo.
    sixty = opened.ela(forgery.ElaSettings(quality=60))
    assert sixty.settings.quality == 60 and sixty.image.size == (1600, 1067)
    assert np.abs(pixels_of(sixty.image) - pixels_of(analysis.ela.image)).mean() > 1


def test_an_analysis_says_why_it_has_no_verdict_and_keeps_a_known_one(tmp_path, monkeypatch):
    predictor = forgery.ForgeryPredictor.load()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    unreadable = forgery.analyse_file(broken, predictor)
    assert (unreadable.opened, unreadable.ela, unreadable.overlay) == (None, None, None)
    assert unreadable.verdict.status == "error"
    assert unreadable.verdict.message == "broken.jpg: not an image format this app can read."

    tiny = tmp_path / "icon.jpg"
    Image.new("RGB", (12, 12), (200, 40, 40)).save(tiny)
    small = forgery.analyse_file(tiny, predictor)
    assert (
        small.verdict.status == "error"
        and "icon.jpg: 12×12 pixels is too small for ELA" in small.verdict.message
    )
    # The viewer still shows the photo, its ELA and why to distrust it; the command line's
    # answer stays the verdict alone.
    assert small.opened.display.size == (12, 12) and small.ela is not None and small.overlay is None
    assert small.verdict.facts is small.opened.facts
    assert small.verdict.warnings == small.opened.warnings and "Only 12×12 pixels" in small.opened.warnings[0]
    assert predictor.predict_file(tiny).warnings == []

    known = predictor.predict_file(SAMPLES / "tampered.jpg")
    model_runs = []
    monkeypatch.setattr(
        forgery_predict, "block_features", lambda *arguments, **keywords: model_runs.append(1)
    )
    shown_again = forgery.analyse_file(SAMPLES / "tampered.jpg", predictor, verdict=known)
    assert shown_again.verdict is known and model_runs == []
    expected = forgery.heatmap_overlay(
        shown_again.opened.display, known.block_map, shown_again.opened.image.size
    )
    assert np.array_equal(pixels_of(shown_again.overlay), pixels_of(expected))


def test_the_heatmap_colours_only_the_suspicious_blocks_over_a_grey_photo():
    photo = Image.new("RGB", (160, 80), (150, 60, 30))  # red-brown, where a red tint vanished
    block_map = np.zeros((10, 20), np.float32)
    block_map[2:6, 4:8] = 0.6
    overlay = pixels_of(forgery.heatmap_overlay(photo.resize((80, 40)), block_map, photo.size))
    grey = pixels_of(photo.resize((80, 40)).convert("L").convert("RGB"))
    hot, cold = overlay[10:20, 18:30], overlay[30:, 50:]
    assert np.array_equal(cold, grey[30:, 50:])
    assert (hot[..., 0] - hot[..., 2] > 150).all()  # strongly coloured where the map is high
