"""Judging what a user drops: one image file, or every row of an .npz array, as an `AnomalyPrediction`."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from training.anomaly.networks import is_all_digits
from training.anomaly.scoring import ScoredImages, ScoreStatistics, score_images
from training.anomaly.training import ALL_DIGITS_MODEL
from training.core.digit_images import IMAGE_SIZE
from training.core.errors import TrainingCancelled
from training.core.keras_io import load_verified_model
from training.core.progress import Progress, ProgressCallback, ignore_progress


@dataclass
class AnomalyPrediction:
    path: str
    status: str  # "ok" | "rejected" (not digit-shaped: always an anomaly) | "error"
    message: str = ""
    score: float | None = None
    threshold: float | None = None
    anomaly: bool | None = None
    model_input: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
    error_map: np.ndarray | None = None
    # What pushed the score up, largest first: {"reason": ..., "contribution": ...}
    evidence: list[dict] = field(default_factory=list)
    verdict: str = ""  # the word the table and the headline show, e.g. "not a digit"

    def anomalous_at(self, threshold: float) -> bool | None:
        """The verdict rule, at `threshold` (the model's, or one the user is trying out): an
        image with nothing digit-shaped in it is always anomalous, any other one when it scores
        above the threshold; None when nothing was scored."""
        if self.score is None:
            return None
        return self.status == "rejected" or bool(self.score > threshold)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "score": self.score,
            "threshold": self.threshold,
            "anomaly": self.anomaly,
            "status": self.status,
            "message": self.message,
            "verdict": self.verdict,
            "evidence": self.evidence,
        }


def verdict_words(normal_digits) -> tuple[str, str]:
    """(normal, anomalous): the all-digits model answers "is this a digit?"."""
    return ("digit", "not a digit") if is_all_digits(normal_digits) else ("normal", "anomaly")


def error_heatmap(error_map: np.ndarray):
    """Per-pixel squared error as a colour image (PIL), scaled so that 0.5 (a fully wrong
    pixel at half contrast) is the brightest: maps stay comparable from image to image."""
    from matplotlib import colormaps
    from PIL import Image

    coloured = colormaps["inferno"](np.clip(error_map / 0.5, 0.0, 1.0))
    return Image.fromarray((coloured[..., :3] * 255).astype(np.uint8))


def evidence_list(evidence_row: np.ndarray) -> list[dict]:
    """The reasons that pushed one image's evidence score up, largest first."""
    from training.anomaly.evidence import REASONS

    pushes = [
        (float(value), reason) for value, reason in zip(evidence_row, REASONS, strict=False) if value > 0
    ]
    return [
        {"reason": reason, "contribution": round(value, 3)} for value, reason in sorted(pushes, reverse=True)
    ]


def _top_reasons(evidence: list[dict]) -> str:
    """The two largest reasons, as the message names them."""
    return ", ".join(item["reason"] for item in evidence[:2])


def whole_image_input(gray: np.ndarray) -> np.ndarray:
    """When no digit-like ink can be isolated, the whole image, light-on-dark, 28×28."""
    from PIL import Image

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray = 1.0 - gray
    small = Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8)).resize((IMAGE_SIZE, IMAGE_SIZE))
    return np.asarray(small, dtype=np.uint8)


ARRAY_IMAGE_KEYS = ("x_test", "x", "images", "x_train")


ARRAY_LABEL_KEYS = ("y_test", "y", "labels", "y_train")


def load_image_array(path) -> tuple[np.ndarray, np.ndarray | None]:
    """MNIST-format images from a .npz: (N, 28, 28) or (N, 784), 0-255 or 0-1, light ink on
    black; digit labels when the file has them (`y_test`, `y` or `labels`)."""
    from training.core.errors import DatasetInvalidError

    try:
        with np.load(path, allow_pickle=False) as archive:
            image_key = next((key for key in ARRAY_IMAGE_KEYS if key in archive.files), None)
            if image_key is None:
                raise DatasetInvalidError(
                    f"{Path(path).name}: no image array; expected one named {', '.join(ARRAY_IMAGE_KEYS)} "
                    f"(found {', '.join(archive.files) or 'nothing'})."
                )
            pixels = archive[image_key]
            label_key = ARRAY_LABEL_KEYS[ARRAY_IMAGE_KEYS.index(image_key)]
            labels = archive[label_key] if label_key in archive.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetInvalidError(f"{Path(path).name} is not a readable .npz archive ({error}).") from None
    if pixels.ndim == 2 and pixels.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        pixels = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if pixels.ndim != 3 or pixels.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(pixels) == 0:
        raise DatasetInvalidError(
            f"{Path(path).name}: '{image_key}' has shape {pixels.shape}; expected (N, 28, 28) or (N, 784)."
        )
    if not np.issubdtype(pixels.dtype, np.number) or not np.isfinite(pixels).all():
        raise DatasetInvalidError(f"{Path(path).name}: '{image_key}' must hold finite numbers.")
    if pixels.max() <= 1.0:
        pixels = pixels * 255.0
    pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    if labels is not None and (labels.shape != (len(pixels),) or not np.isin(labels, np.arange(10)).all()):
        labels = None  # labels that are not one digit per image are ignored, not guessed at
    return pixels, labels


class AnomalyPredictor:
    def __init__(self, autoencoder, entry):
        self.autoencoder = autoencoder
        self.entry = entry
        self.statistics = ScoreStatistics.from_json(entry.record["score_statistics"])
        self.score_name = entry.record["score"]
        self.thresholds = dict(entry.record["thresholds"])
        self.threshold_rule = entry.record["threshold_rule"]

    @classmethod
    def load(cls, name: str = ALL_DIGITS_MODEL, registry=None) -> AnomalyPredictor:
        predictor = cls(*load_verified_model(name, registry))
        predictor.score_pixels(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8))  # warm up
        return predictor

    @property
    def threshold(self) -> float:
        return self.thresholds[self.threshold_rule]

    @property
    def normal_digits(self) -> tuple[int, ...]:
        return tuple(self.entry.record["hyper_parameters"]["normal_digits"])

    def score_pixels(self, pixels: np.ndarray) -> ScoredImages:
        return score_images(self.autoencoder, self.statistics, pixels, self.score_name)

    def score_batch(
        self, pixels: np.ndarray, report: ProgressCallback = ignore_progress, cancel=None, chunk: int = 500
    ) -> ScoredImages:
        """`score_pixels` in chunks, reporting progress; raises TrainingCancelled when cancelled."""
        parts = []
        for start in range(0, len(pixels), chunk):
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled("Scoring cancelled.")
            parts.append(self.score_pixels(pixels[start : start + chunk]))
            done = min(start + chunk, len(pixels))
            report(Progress("scoring", done, len(pixels), f"{done:,}/{len(pixels):,} images"))
        return ScoredImages.concatenate(parts)

    def judge_prepared(self, prepared) -> tuple[bool, str]:
        """The Digits tool's gate: is a digit prepared by `digits.prepare_digit` flagged, and
        why, in words."""
        scored = self.score_pixels(self._judged_copy(prepared)[None])
        score = float(scored.scores[0])
        why = _top_reasons(evidence_list(scored.evidence[0])) or "it does not look like a digit"
        return score > self.threshold, f"{why} (anomaly score {score:.2f} > threshold {self.threshold:.2f})"

    def _judged_copy(self, prepared) -> np.ndarray:
        """The copy of a prepared digit this model's score was fitted on: as drawn for the
        evidence score, stroke-normalised for the others."""
        return prepared.as_drawn if self.score_name == "evidence" else prepared.pixels

    @property
    def verdict_words(self) -> tuple[str, str]:
        return verdict_words(self.normal_digits)

    def predict_array_file(self, path) -> list[AnomalyPrediction]:
        """One answer per image of a .npz of MNIST-format arrays (scored as they are), named
        `file.npz[row]`; one "error" answer when the file cannot be read."""
        from training.core.errors import WorkbenchError

        try:
            pixels, _labels = load_image_array(path)
        except WorkbenchError as error:
            return [AnomalyPrediction(str(path), "error", str(error))]
        scored = self.score_batch(pixels)
        return [self._answer(f"{path}[{row}]", pixels[row], scored, row) for row in range(len(pixels))]

    def predict_path(self, path) -> list[AnomalyPrediction]:
        """The answers for one input: a .npz gives one per image (`predict_array_file`), any
        other file one (`predict_file`)."""
        if Path(path).suffix.lower() == ".npz":
            return self.predict_array_file(path)
        return [self.predict_file(path)]

    def predict_file(self, path) -> AnomalyPrediction:
        """Read any image and score it as dropped.

        An image already in MNIST format is scored as it is. Any other image is read with the
        Digits tool's preprocessing; the evidence score judges the as-drawn copy (a filled
        shape stays filled), older scores the stroke-normalised copy they were fitted on."""
        from training.anomaly.evidence import looks_like_mnist
        from training.core import images
        from training.core.digit_images import DECODE_SIDE, prepare_digit
        from training.core.errors import WorkbenchError

        try:
            gray = images.to_grayscale(images.open_image(path, draft_size=(DECODE_SIDE, DECODE_SIDE)))
        except WorkbenchError as error:
            return AnomalyPrediction(str(path), "error", images.name_once(path, str(error)))
        rejected_reason = None
        if looks_like_mnist(gray):
            pixels = (np.clip(gray, 0, 1) * 255).round().astype(np.uint8)
        else:
            prepared = prepare_digit(gray)
            rejected_reason = prepared.rejected_reason
            pixels = whole_image_input(gray) if prepared.pixels is None else self._judged_copy(prepared)
        return self._answer(str(path), pixels, self.score_pixels(pixels[None]), 0, rejected_reason)

    def _answer(
        self,
        path: str,
        pixels: np.ndarray,
        scored: ScoredImages,
        row: int,
        rejected_reason: str | None = None,
    ) -> AnomalyPrediction:
        """Row `row` of `scored` as the table, the headline and the JSON say it."""
        normal_word, anomalous_word = self.verdict_words
        score = float(scored.scores[row])
        margin = score - self.threshold
        evidence = evidence_list(scored.evidence[row])
        answer = AnomalyPrediction(
            path,
            "ok" if rejected_reason is None else "rejected",
            score=score,
            threshold=self.threshold,
            model_input=pixels,
            reconstruction=scored.reconstructions[row],
            error_map=scored.error_maps[row],
        )
        anomalous = answer.anomalous_at(self.threshold)
        if rejected_reason is not None:
            # Nothing digit-shaped could be isolated, so whatever the whole image scores, it is
            # not a normal digit; the score is still given for the histogram.
            evidence = [{"reason": rejected_reason.rstrip("."), "contribution": None}, *evidence]
            message = f"{anomalous_word}: {rejected_reason.rstrip('.')} (whole image scores {score:.2f})"
        else:
            side = "above" if margin > 0 else "below"
            why = f" — {_top_reasons(evidence)}" if anomalous and evidence else ""
            message = (
                f"{anomalous_word if anomalous else normal_word}{why}: score {score:.2f}, "
                f"{abs(margin):.2f} {side} the threshold"
            )
        return replace(
            answer,
            message=message,
            anomaly=anomalous,
            evidence=evidence,
            verdict=anomalous_word if anomalous else normal_word,
        )
