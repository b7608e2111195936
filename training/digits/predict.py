"""Judging a user's digit image: the answer with its probabilities, or "unsure" with the reason."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.digit_images import DECODE_SIDE, IMAGE_SIZE, UNSURE_BELOW, PreparedDigit, prepare_digit
from training.core.keras_io import load_verified_model
from training.digits.networks import predict_probabilities

MODEL_NAMES = {"cnn": "digits-cnn", "mlp": "digits-mlp"}


DEFAULT_MODEL = MODEL_NAMES["cnn"]


def model_name(choice: str | None) -> str:
    """The registry name of the model a user chose ("cnn", "mlp" or a full name; None: the CNN)."""
    return MODEL_NAMES.get(choice or "cnn", choice)


@dataclass
class DigitPrediction:
    """What the GUI draws, the CLI prints and the tests assert on, for one input."""

    path: str
    status: str  # "ok" | "unsure" | "rejected" | "error"
    message: str = ""
    label: int | None = None
    probabilities: list[float] | None = None
    model_input: np.ndarray | None = None  # the 28×28 image the model saw
    preview: object | None = None  # a downsized RGB PIL copy of the input, when asked for
    not_a_digit: bool | None = None  # the anomaly gate's opinion, when it was consulted

    def to_json(self) -> dict:
        answer = {
            "path": self.path,
            "label": self.label,
            "probabilities": self.probabilities,
            "status": self.status,
            "message": self.message,
        }
        if self.not_a_digit is not None:
            answer["not_a_digit"] = self.not_a_digit
        return answer

    def top(self, count: int = 3) -> list[tuple[int, float]]:
        if self.probabilities is None:
            return []
        order = np.argsort(self.probabilities)[::-1][:count]
        return [(int(label), float(self.probabilities[label])) for label in order]


def verdict(path: str, probabilities: np.ndarray, unsure_below: float) -> DigitPrediction:
    label = int(np.argmax(probabilities))
    confidence = float(probabilities[label])
    if confidence < unsure_below:
        runner_up = int(np.argsort(probabilities)[-2])
        return DigitPrediction(
            path,
            "unsure",
            f"Unsure: {label} ({confidence:.0%}) or {runner_up} ({float(probabilities[runner_up]):.0%}).",
            label,
            [float(p) for p in probabilities],
        )
    return DigitPrediction(
        path, "ok", f"{label} ({confidence:.0%})", label, [float(p) for p in probabilities]
    )


def read_digit_file(path) -> PreparedDigit:
    """Open any image file and bring it to MNIST form; raises `ImageReadError`."""
    return _read_digit_file(path)[0]


def _read_digit_file(path, preview_side: int | None = None):
    from training.core import images

    image = images.open_image(path, draft_size=(DECODE_SIDE, DECODE_SIDE))
    preview = None
    if preview_side:
        preview = images.to_rgb(image).copy()
        preview.thumbnail((preview_side, preview_side))
    return prepare_digit(images.to_grayscale(image)), preview


class DigitsPredictor:
    """A loaded, verified digits model that answers for files and images."""

    def __init__(self, model, entry, unsure_below: float = UNSURE_BELOW):
        self.model = model
        self.entry = entry
        self.unsure_below = unsure_below

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, registry=None) -> DigitsPredictor:
        predictor = cls(*load_verified_model(name, registry))
        predictor.predict_pixels(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8))  # warm up
        return predictor

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return predict_probabilities(self.model, pixels)

    def predict_prepared(self, path: str, prepared: PreparedDigit, gate=None) -> DigitPrediction:
        """`gate`: an anomaly predictor whose normal class is all digits; what it flags is
        answered "not a digit" (status "unsure", `not_a_digit`) — a classifier names a digit
        even for a letter or a logo."""
        if prepared.pixels is None:
            prediction = DigitPrediction(path, "rejected", prepared.rejected_reason or "Not a digit.")
            prediction.not_a_digit = True if gate is not None else None
            return prediction
        probabilities = self.predict_pixels(prepared.pixels[None])[0]
        prediction = verdict(path, probabilities, self.unsure_below)
        prediction.model_input = prepared.pixels
        if gate is not None:
            prediction.not_a_digit, why = gate.judge_prepared(prepared)
            if prediction.not_a_digit:
                # The gate's answer is the answer; the reader's guess is kept, said second.
                prediction.status = "unsure"
                prediction.message = (
                    f"Not a digit: {why}. The digit reader's best guess would be "
                    f"{prediction.label} ({max(probabilities):.0%})."
                )
        return prediction

    def predict_file(self, path, preview_side: int | None = None, gate=None) -> DigitPrediction:
        """Answer for one file; never raises for a bad file (status "error" says why).

        With `preview_side`, the answer carries a copy of the image at most that large, so a
        viewer need not decode the file a second time."""
        from training.core import images
        from training.core.errors import WorkbenchError

        try:
            prepared, preview = _read_digit_file(path, preview_side)
        except WorkbenchError as error:
            return DigitPrediction(str(path), "error", images.name_once(path, str(error)))
        prediction = self.predict_prepared(str(path), prepared, gate)
        prediction.preview = preview
        return prediction
