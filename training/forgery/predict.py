"""Judging a user's photo: ELA, facts, warnings, verdict and heatmap as one `ForgeryVerdict`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from training.core import images
from training.core.errors import ImageReadError
from training.forgery.calibration import Calibration
from training.forgery.ela import (
    BLOCK,
    ElaSettings,
    SharedResaves,
    block_features,
    error_level_analysis,
    heatmap_at,
)
from training.forgery.metadata import PhotoFacts, photo_facts, trust_warnings

DEFAULT_MODEL = "forgery-blocks"


LABELS = ("authentic", "tampered")


@dataclass
class ForgeryVerdict:
    """What the tab draws, the CLI prints and the tests assert on, for one photo."""

    path: str
    status: str  # "ok" | "error"
    message: str = ""
    tampered_probability: float | None = None
    threshold: float | None = None
    label: str | None = None
    warnings: list[str] = field(default_factory=list)
    jpeg_quality: int | None = None
    facts: PhotoFacts | None = None
    block_map: np.ndarray | None = None  # per 8×8 block tampering probability, photo orientation
    conclusive: bool | None = None  # False: `label` is only the best guess, for `reason`
    reason: str | None = None

    @property
    def shown_label(self) -> str | None:
        """What the user is told: the label, or "inconclusive" when the evidence is weak."""
        return self.label if self.conclusive is not False else "inconclusive"

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "tampered_probability": self.tampered_probability,
            "label": self.label,
            "conclusive": self.conclusive,
            "reason": self.reason,
            "warnings": self.warnings,
            "jpeg_quality": self.jpeg_quality,
            "status": self.status,
            "message": self.message,
        }

    def heatmap(self, shape: tuple[int, int]) -> np.ndarray:
        if self.block_map is None:
            raise ValueError("This verdict has no localisation map.")
        return heatmap_at(self.block_map, shape)


RESNET_INPUT_SIDE = 128


def resnet_input(image: Image.Image) -> np.ndarray:
    """The ResNet50 variant's input: the ELA image at the default settings, resized only after
    ELA (float32, RESNET_INPUT_SIDE²×3)."""
    ela = error_level_analysis(image, ElaSettings())
    small = Image.fromarray(ela).resize((RESNET_INPUT_SIDE, RESNET_INPUT_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32)


class ForgeryPredictor:
    """A forgery model (the bundled block network by default) with its saved threshold. The
    ResNet50 variant gives an image score only: its verdicts have no localisation map."""

    def __init__(self, model, entry):
        self.model = model
        self.entry = entry

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, registry=None) -> ForgeryPredictor:
        from training.core.keras_io import load_verified_model

        predictor = cls(*load_verified_model(name, registry))
        if predictor.backbone == "resnet50":
            predictor.model.predict_on_batch(
                np.zeros((1, RESNET_INPUT_SIDE, RESNET_INPUT_SIDE, 3), np.float32)
            )
        else:
            # Two sizes: on the second, Keras traces a function for any size, so the first
            # photo does not pay for that (its model step: 1.2-1.5 s → 0.65-0.95 s at 12 MP;
            # loading takes about a second longer, in the background).
            for rows, columns in ((32, 48), (40, 56)):
                predictor.block_map(np.zeros((rows, columns, predictor.model.input_shape[-1]), np.float32))
        return predictor

    @property
    def backbone(self) -> str:
        return self.entry.record.get("hyper_parameters", {}).get("backbone", "blocks")

    @property
    def calibration(self) -> Calibration:
        return Calibration.from_record(self.entry.record)

    @property
    def threshold(self) -> float:
        """The threshold on the calibrated probability the verdicts show: even odds."""
        return 0.5

    def block_map(self, features: np.ndarray) -> tuple[float, np.ndarray]:
        """(image probability, block map) for one photo's `block_features`."""
        portrait = features.shape[0] > features.shape[1]
        if portrait:  # trained on landscape maps
            features = features.transpose(1, 0, 2)
        image_probability, block_probability = self.model.predict_on_batch(features[None])
        blocks = np.asarray(block_probability)[0, ..., 0]
        return float(np.asarray(image_probability)[0, 0]), blocks.T if portrait else blocks

    def model_input(
        self, image: Image.Image, facts: PhotoFacts, resaves: SharedResaves | None = None
    ) -> np.ndarray:
        """What the model takes for this photo: its block features (the ResNet50 variant: its
        ELA image); an `ImageReadError` naming the file when it is too small for them."""
        if self.backbone == "resnet50":
            return resnet_input(image)
        if min(image.size) < 2 * BLOCK:
            raise ImageReadError(
                f"{images.display_name(facts.path)}: {image.width}×{image.height} pixels is too small "
                f"for ELA (it needs at least {2 * BLOCK} pixels on each side)."
            )
        return block_features(image, resaves=resaves)

    def predict_image(
        self, image: Image.Image, facts: PhotoFacts, resaves: SharedResaves | None = None
    ) -> ForgeryVerdict:
        return self.predict_input(self.model_input(image, facts, resaves), facts)

    def predict_input(self, model_input: np.ndarray, facts: PhotoFacts) -> ForgeryVerdict:
        """The verdict on one photo's `model_input`."""
        if self.backbone == "resnet50":
            probability = float(np.asarray(self.model.predict_on_batch(model_input[None]))[0, 0])
            blocks = None
        else:
            probability, blocks = self.block_map(model_input)
        calibration = self.calibration
        probability = calibration.probability(probability)
        label = LABELS[probability >= self.threshold]
        reason = calibration.weak_evidence(probability, facts)
        warnings = trust_warnings(facts)
        message = (
            f"{label}: tampering probability {probability:.2f} (threshold {self.threshold:.2f})"
            if reason is None
            else f"inconclusive (best guess {label}, tampering probability {probability:.2f}): {reason}"
        )
        if warnings:
            message += f"; {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
        return ForgeryVerdict(
            facts.path,
            "ok",
            message,
            probability,
            self.threshold,
            label,
            warnings,
            facts.jpeg_quality,
            facts,
            blocks,
            reason is None,
            reason,
        )

    def predict_file(self, path) -> ForgeryVerdict:
        """Answer for one file; never raises for a bad file (status "error" says why, starting
        with the file's name)."""
        from training.core.errors import WorkbenchError

        try:
            image = images.open_image(path)
            facts = photo_facts(path, image)
            # Each full-resolution copy is let go as soon as the next step has what it needs:
            # the decoded file once its RGB copy exists, the RGB copy before the network runs
            # (a 79 MP RGBA PNG: 316 MB each; the network's activations need 0.5 GB more).
            rgb = images.to_rgb(image)
            del image
            features = self.model_input(rgb, facts)
            del rgb
            return self.predict_input(features, facts)
        except (WorkbenchError, ValueError) as error:
            return ForgeryVerdict(str(path), "error", images.name_once(path, str(error)))
