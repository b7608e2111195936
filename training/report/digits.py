"""The Digits case report: per image its facts, the answer with its top probabilities and the
rule, the image beside what the model saw (28×28); the model's MNIST confusion matrix."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from training import digits
from training.core.digit_images import UNSURE_BELOW
from training.report.document import (
    BATCH_SIDE,
    DIGIT_PICTURE_SIDE,
    SINGLE_SIDE,
    CaseReport,
    confusion_figure,
    file_facts,
    model_facts,
    percent,
    png_uri,
    render,
)


def model_figures(metrics: dict) -> list[tuple[str, str]]:
    figures = []
    if metrics.get("test_accuracy") is not None:
        figures.append(("Accuracy on the 10,000 MNIST test digits", percent(metrics["test_accuracy"])))
    if metrics.get("rotated_test_accuracy") is not None:
        protocol = metrics.get("rotated_test_protocol", "rotated")
        figures.append((f"Accuracy on them rotated ({protocol})", percent(metrics["rotated_test_accuracy"])))
    return figures


def answer_words(prediction: digits.DigitPrediction) -> tuple[str, str]:
    """(what the tab shows as the answer, its CSS class)."""
    if prediction.not_a_digit:
        return "not a digit", "anomalous"
    if prediction.status == "ok":
        return str(prediction.label), "normal"
    if prediction.status == "unsure":
        return f"{prediction.label}?", "unsure"
    return prediction.status, "error"


def image_section(prediction: digits.DigitPrediction, side: int) -> dict:
    answer, css = answer_words(prediction)
    pictures = []
    if prediction.preview is not None:
        pictures.append((png_uri(prediction.preview, side), "The image", False))
    if prediction.model_input is not None:
        pictures.append(
            (
                png_uri(Image.fromarray(prediction.model_input), DIGIT_PICTURE_SIDE, nearest=True),
                "What the model sees (28×28, as MNIST was made)",
                True,
            )
        )
    return {
        "facts": file_facts(prediction.path),
        "prediction": prediction,
        "answer": answer,
        "css": css,
        "top": prediction.top(3),
        "pictures": pictures,
    }


def digits_report(predictions: list[digits.DigitPrediction], entry, gate_entry=None) -> CaseReport:
    """The report of `predictions` by the model of `entry` (`gate_entry`: the anomaly model
    that flagged non-digits, when it was asked)."""
    single = len(predictions) == 1
    side = SINGLE_SIDE // 2 if single else BATCH_SIDE // 2
    metrics = entry.metrics
    confusion = None
    if metrics.get("test", {}).get("confusion_matrix"):
        labels = tuple(str(label) for label in range(10))
        confusion = confusion_figure(
            metrics["test"]["confusion_matrix"], labels, "MNIST test set (from the manifest)"
        )
    name = Path(predictions[0].path).name if single else f"{len(predictions)} images"
    return render(
        "digits",
        f"Digits case report: {name}",
        len(predictions),
        sections=[image_section(prediction, side) for prediction in predictions],
        single=single,
        model=model_facts(entry, model_figures(metrics)),
        gate=model_facts(gate_entry, []) if gate_entry is not None else None,
        unsure_below=UNSURE_BELOW,
        confusion=confusion,
    )
