"""How sure a forgery verdict is: the calibration of the network's score and when a verdict is inconclusive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.probability_figures import platt_scaled
from training.forgery.ela import LOSSLESS_FORMATS
from training.forgery.metadata import PhotoFacts

# Final JPEG qualities the training data spans (`forgery_data.TRAINING_RECIPE`): outside them
# the model's scores were never checked, so they decide nothing.
CHECKED_QUALITIES = (60, 98)


# Below this many pixels on the short side there are too few 8×8 blocks to compare a region
# with the rest of the photo.
MIN_CONCLUSIVE_SIDE = 128


@dataclass(frozen=True)
class Calibration:
    """The network's raw score → a probability that means what it says, and when not to
    decide. A logistic fit of validation labels on the raw score's logit (both classes
    weighted alike, so the probability assumes even prior odds); `undecided` is the band of
    calibrated probabilities, chosen on validation, where answers are too often wrong to
    call; `lossless_conclusive` says whether losslessly saved photos were judged well enough
    on validation to call."""

    slope: float = 1.0
    intercept: float = 0.0
    undecided: tuple[float, float] = (0.5, 0.5)
    lossless_conclusive: bool = True

    @classmethod
    def from_record(cls, record: dict) -> Calibration:
        """The record's calibration; a model trained before calibration existed gets the
        identity with its threshold as the even-odds point, so its scores read as before."""
        saved = record.get("calibration")
        if saved is None:
            threshold = float(np.clip(record["threshold"], 1e-6, 1 - 1e-6))
            return cls(1.0, -float(np.log(threshold / (1 - threshold))))
        return cls(
            float(saved["slope"]),
            float(saved["intercept"]),
            tuple(float(value) for value in saved["undecided"]),
            bool(saved.get("lossless_conclusive", True)),
        )

    def to_json(self) -> dict:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "undecided": list(self.undecided),
            "lossless_conclusive": self.lossless_conclusive,
        }

    def probability(self, raw):
        """Calibrated tampering probability of raw network scores (a float or an array)."""
        calibrated = platt_scaled(raw, self.slope, self.intercept)
        return float(calibrated) if np.ndim(calibrated) == 0 else calibrated

    @property
    def raw_threshold(self) -> float:
        """The raw score at even odds: the model's threshold on its own scale."""
        return float(1 / (1 + np.exp(self.intercept / self.slope)))

    def weak_evidence(self, probability: float, facts: PhotoFacts) -> str | None:
        """Why a verdict at this calibrated probability on this photo should not be called,
        or None when it can be."""
        if facts.format in LOSSLESS_FORMATS and not self.lossless_conclusive:
            return (
                f"{facts.format} is saved without JPEG compression, and on such photos the model "
                "was not reliable enough in validation."
            )
        lowest, highest = CHECKED_QUALITIES
        if facts.jpeg_quality is not None and not lowest <= facts.jpeg_quality <= highest:
            how = "strongly re-compressed" if facts.jpeg_quality < lowest else "barely compressed"
            return (
                f"Saved at JPEG quality ≈{facts.jpeg_quality} ({how}): outside the qualities "
                f"{lowest}–{highest} the model was trained and checked on."
            )
        if min(facts.width, facts.height) < MIN_CONCLUSIVE_SIDE:
            return (
                f"Only {facts.width}×{facts.height} pixels: too few 8×8 blocks to compare a region "
                "with the rest of the photo."
            )
        low, high = self.undecided
        if low < probability < high:
            return (
                f"The probability {probability:.0%} lies between {low:.0%} and {high:.0%}, where "
                "validation answers were too often wrong to call."
            )
        return None
