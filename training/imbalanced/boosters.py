"""A LightGBM model loaded from its text format as a pipeline's last step (imported lazily: it
subclasses scikit-learn's estimator, and importing the tool must not import scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class LightGBMBooster(ClassifierMixin, BaseEstimator):
    """A saved LightGBM model, loaded from its text format (no pickle), answering like the
    fitted `LGBMClassifier` it was saved from. It scores; it is not fitted again (scikit-learn
    asks a pipeline's last step for a `fit` before it predicts)."""

    def __init__(self, model_text: str = ""):
        self.model_text = model_text

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "LightGBMBooster(<saved model>)"

    @property
    def booster_(self):
        import lightgbm

        if "_booster" not in self.__dict__:
            self._booster = lightgbm.Booster(model_str=self.model_text)
        return self._booster

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def fit(self, features, labels):
        raise TypeError("A loaded LightGBM model is not fitted again: run the grid to train a new one.")

    def predict_proba(self, features) -> np.ndarray:
        positive = self.booster_.predict(np.asarray(features, dtype=float))
        return np.column_stack([1 - positive, positive])
