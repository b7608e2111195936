"""Probabilities you can act on: resampling and class weights bend a model's probabilities
(SMOTE inflates them), so a configuration can be calibrated — Platt's sigmoid or isotonic
regression, fitted on the out-of-fold probabilities of the training part only (never the
test split) and applied to every probability the configuration gives afterwards.

A calibration is a handful of numbers: it is saved as JSON beside the pipeline, so loading
it cannot run code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.probability_figures import logit, platt_scaled

CALIBRATION_METHODS = ("none", "sigmoid", "isotonic")


CALIBRATION_LABELS = {"none": "none", "sigmoid": "sigmoid (Platt)", "isotonic": "isotonic"}


@dataclass(frozen=True)
class ProbabilityCalibration:
    """`apply` maps a model's probability of the positive class to a calibrated one.
    sigmoid: 1 / (1 + exp(−(slope · logit(p) + intercept))); isotonic: a non-decreasing
    step function through (`x`, `y`), flat beyond its ends."""

    method: str
    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, probabilities) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=float)
        if self.method == "sigmoid":
            return platt_scaled(probabilities, self.slope, self.intercept)
        return np.interp(probabilities, self.x, self.y)

    def to_json(self) -> dict:
        if self.method == "sigmoid":
            return {"method": "sigmoid", "slope": self.slope, "intercept": self.intercept}
        return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, description: dict) -> ProbabilityCalibration:
        """The calibration `to_json` described; `ValueError` for anything else."""
        method = description.get("method") if isinstance(description, dict) else None
        if method == "sigmoid":
            slope, intercept = float(description["slope"]), float(description["intercept"])
            if not (np.isfinite(slope) and np.isfinite(intercept)):
                raise ValueError("the sigmoid calibration's numbers are not finite")
            return cls("sigmoid", slope=slope, intercept=intercept)
        if method == "isotonic":
            x = np.asarray(description["x"], dtype=float)
            y = np.asarray(description["y"], dtype=float)
            if x.ndim != 1 or x.shape != y.shape or len(x) < 1 or not np.isfinite(x).all():
                raise ValueError("the isotonic calibration's points are malformed")
            if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0) or y.min() < 0 or y.max() > 1:
                raise ValueError("the isotonic calibration is not a non-decreasing map into [0, 1]")
            return cls("isotonic", x=tuple(x.tolist()), y=tuple(y.tolist()))
        raise ValueError(f"unknown calibration method {method!r}")


def fit_calibration(method: str, labels: np.ndarray, probabilities: np.ndarray) -> ProbabilityCalibration:
    """The calibration `method` fitted to (labels, probabilities) — out-of-fold probabilities."""
    if method == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        # Platt scaling on the logit, unregularised: two numbers fitted on thousands of rows.
        platt = LogisticRegression(C=1e6).fit(logit(probabilities).reshape(-1, 1), labels)
        return ProbabilityCalibration(
            "sigmoid", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0])
        )
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probabilities, labels)
        return ProbabilityCalibration(
            "isotonic", x=tuple(isotonic.X_thresholds_.tolist()), y=tuple(isotonic.y_thresholds_.tolist())
        )
    raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS[1:]}, got {method!r}")


def cross_fitted(
    method: str, labels: np.ndarray, probabilities: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    """Calibrated out-of-fold probabilities in which no row's calibration saw its own label:
    what the threshold is chosen on, as the calibration fitted on all of them is applied to
    rows it never saw."""
    from sklearn.model_selection import StratifiedKFold

    calibrated = np.zeros(len(labels))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(probabilities, labels):
        calibration = fit_calibration(method, labels[fit_rows], probabilities[fit_rows])
        calibrated[held_rows] = calibration.apply(probabilities[held_rows])
    return calibrated
