"""The all-digits anomaly model's "is this a digit?": scored as dropped, the evidence terms,
their reasons, the Digits tool's gate, and a threshold saved into the user's copy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.helpers import DIGIT_SAMPLES, run_cli
from training import anomaly, digits
from training.anomaly import evidence as anomaly_evidence


@pytest.fixture(scope="module")
def gate(registry):
    return anomaly.AnomalyPredictor.load(anomaly.ALL_DIGITS_MODEL, registry)


def photographed(draw_ink, size=(300, 240)) -> Image.Image:
    """Dark ink on light paper, as a user photographs a page."""
    image = Image.new("L", size, 225)
    draw_ink(ImageDraw.Draw(image))
    return image


def shirt(draw) -> None:
    draw.polygon(
        [
            (90, 60),
            (210, 60),
            (250, 110),
            (220, 130),
            (200, 115),
            (200, 210),
            (100, 210),
            (100, 115),
            (80, 130),
            (50, 110),
        ],
        fill=30,
    )


def test_only_light_on_black_28_pixel_images_count_as_mnist_format(mnist):
    assert anomaly_evidence.looks_like_mnist(mnist.x_test[0] / 255.0)
    assert not anomaly_evidence.looks_like_mnist(1.0 - mnist.x_test[0] / 255.0)  # dark on light
    assert not anomaly_evidence.looks_like_mnist(np.zeros((28, 28)))  # nothing drawn
    assert not anomaly_evidence.looks_like_mnist(np.pad(mnist.x_test[0], 2) / 255.0)  # 32×32


def test_shape_descriptors_tell_filled_shapes_parts_and_holes_from_strokes():
    disc, ring, two_blobs = (Image.new("L", (28, 28), 0) for _ in range(3))
    ImageDraw.Draw(disc).ellipse((4, 4, 23, 23), fill=255)
    ImageDraw.Draw(ring).ellipse((4, 4, 23, 23), outline=255, width=3)
    ImageDraw.Draw(two_blobs).rectangle((3, 3, 10, 10), fill=255)
    ImageDraw.Draw(two_blobs).rectangle((16, 16, 24, 24), fill=255)
    (fill_disc, thick_disc, solid_disc, parts_disc, holes_disc), ring_row, blobs_row = (
        anomaly_evidence.shape_descriptors(np.stack([np.asarray(image) for image in (disc, ring, two_blobs)]))
    )
    assert fill_disc > 0.7 and solid_disc > 0.95 and thick_disc > 2 * ring_row[1]
    assert (parts_disc, holes_disc) == (1, 0)
    assert ring_row[0] < 0.5 and ring_row[4] == 1  # an outline: little fill, one hole
    assert blobs_row[3] == 2 and blobs_row[2] < 0.6  # two parts, far from convex
    assert not anomaly_evidence.shape_descriptors(np.zeros((1, 28, 28), np.uint8)).any()


def test_evidence_weights_separate_and_explain_by_reason():
    names, reasons = anomaly_evidence.feature_names(2)
    generator = np.random.default_rng(0)
    normal = generator.normal(0, 1, (400, len(names)))
    outliers = generator.normal(0, 1, (400, len(names)))
    outliers[:, names.index("fill")] += 3  # outliers are filled shapes
    weights = anomaly_evidence.fit_evidence_weights(normal, outliers, names, reasons)
    weights = anomaly_evidence.EvidenceWeights.from_json(json.loads(json.dumps(weights.to_json())))
    filled = np.zeros((1, len(names)))
    filled[0, names.index("fill")] = 4
    contributions = weights.contributions(filled)
    by_reason = weights.by_reason(contributions)[0]
    assert by_reason.argmax() == anomaly_evidence.REASONS.index("filled shape, not a stroke")
    assert by_reason.sum() == pytest.approx(contributions.sum())
    listed = anomaly.evidence_list(np.array([0.5, -1.0, 2.0, 0.0, 0.1]))
    assert [item["reason"] for item in listed] == [
        "filled shape, not a stroke",
        "poor reconstruction",
        "letter- or symbol-like strokes",
    ]


def test_the_as_drawn_copy_keeps_a_filled_shape_filled():
    prepared = digits.prepare_digit(np.asarray(photographed(shirt), np.float32) / 255.0)
    assert prepared.pixels is not None and prepared.as_drawn is not None
    assert (prepared.as_drawn > 127).sum() > 1.2 * (prepared.pixels > 127).sum()
    thin_one = digits.prepare_digit(
        np.asarray(
            photographed(lambda draw: draw.line([(150, 40), (150, 200)], fill=20, width=4)), np.float32
        )
        / 255.0
    )
    # A thin stroke is thickened to MNIST's width in both copies: pens are not anomalies.
    assert np.array_equal(thin_one.as_drawn, thin_one.pixels)


def test_an_mnist_format_file_is_scored_as_it_is(gate, mnist, tmp_path):
    path = tmp_path / "digit.png"
    Image.fromarray(mnist.x_test[7]).save(path)
    answer = gate.predict_file(path)
    assert np.array_equal(answer.model_input, mnist.x_test[7])
    assert answer.score == pytest.approx(float(gate.score_pixels(mnist.x_test[7:8]).scores[0]), abs=1e-5)


def test_a_photographed_silhouette_is_not_a_digit_and_says_why(gate, tmp_path):
    path = tmp_path / "shirt.jpg"
    photographed(shirt).save(path, quality=85)
    answer = gate.predict_file(path)
    assert answer.status == "ok" and answer.anomaly is True and answer.verdict == "not a digit"
    assert answer.evidence and answer.message.startswith("not a digit — ")
    assert answer.evidence[0]["reason"] in answer.message
    contributions = [item["contribution"] for item in answer.evidence]
    assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0


def test_the_digits_gate_answers_not_a_digit_first(gate, cnn_predictor, tmp_path):
    path = tmp_path / "shirt.png"
    photographed(shirt).save(path)
    answer = cnn_predictor.predict_file(path, gate=gate)
    assert answer.not_a_digit is True and answer.status == "unsure"
    assert answer.message.startswith("Not a digit: ") and "best guess" in answer.message
    read = cnn_predictor.predict_file(DIGIT_SAMPLES[3], gate=gate)
    assert read.not_a_digit is False and read.status == "ok" and read.label == 3


@pytest.mark.slow
def test_predict_anomaly_takes_npz_arrays_and_says_why(mnist, tmp_path):
    arrays = tmp_path / "objects.npz"
    square = np.zeros((28, 28), np.uint8)
    square[4:24, 4:24] = 255  # a filled square: not a digit
    np.savez(arrays, x_test=np.stack([mnist.x_test[0], square]))
    completed = run_cli("predict", "anomaly", str(arrays), "--json")
    assert completed.returncode == 0, completed.stderr
    digit, filled = (json.loads(line) for line in completed.stdout.splitlines())
    assert digit["path"] == f"{arrays}[0]" and filled["path"] == f"{arrays}[1]"
    assert (digit["anomaly"], digit["verdict"]) == (False, "digit")
    assert (filled["anomaly"], filled["verdict"]) == (True, "not a digit")
    assert filled["evidence"] and filled["evidence"][0]["contribution"] > 0
    table = run_cli("predict", "anomaly", str(arrays))
    # Without --json: the verdict column, then the message, both in the JSON's word.
    digit_row, filled_row = (line.split(maxsplit=3)[3] for line in table.stdout.splitlines()[1:])
    assert digit_row.startswith("digit ") and filled_row.startswith("not a digit not a digit — "), (
        table.stdout
    )


def test_a_saved_threshold_is_a_new_user_version_that_rolls_back(tmp_path):
    from training.core.registry import ModelRegistry

    registry = ModelRegistry(user_dir=tmp_path / "user")
    bundled = registry.entry(anomaly.ALL_DIGITS_MODEL)
    entry = anomaly.save_threshold(registry, anomaly.ALL_DIGITS_MODEL, 1.25)
    assert entry.origin == "user" and registry.entry(entry.name).path == entry.path
    predictor = anomaly.AnomalyPredictor.load(entry.name, registry)
    assert predictor.threshold == 1.25 and predictor.threshold_rule == anomaly.SAVED_RULE
    assert predictor.thresholds["percentile"] == bundled.record["thresholds"]["percentile"]
    assert registry.roll_back(entry.name).origin == "bundled"
    with pytest.raises(ValueError):
        anomaly.save_threshold(registry, anomaly.ALL_DIGITS_MODEL, float("nan"))
