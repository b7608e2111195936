"""A Keras fully connected network as a scikit-learn classifier, so that it sits in the same
imbalanced-learn pipelines (resampling, cross-validation) as the other models."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class KerasMLPClassifier(ClassifierMixin, BaseEstimator):
    """A small fully connected network behind the scikit-learn estimator interface."""

    def __init__(
        self,
        hidden_units: tuple[int, ...] = (64, 32),
        dropout: float = 0.2,
        epochs: int = 12,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        class_weight: str | None = None,
        seed: int = 0,
    ):
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.seed = seed

    def fit(self, features, labels):
        from training.core.keras_io import import_keras, seed_everything

        keras = import_keras()
        seed_everything(self.seed)
        features = np.asarray(features, dtype="float32")
        labels = np.asarray(labels)
        self.classes_ = np.unique(labels)
        layers = [keras.Input(shape=(features.shape[1],))]
        for units in self.hidden_units:
            layers += [keras.layers.Dense(units, activation="relu"), keras.layers.Dropout(self.dropout)]
        layers.append(keras.layers.Dense(1, activation="sigmoid"))
        self.model_ = keras.Sequential(layers)
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="binary_crossentropy")
        weights = None
        if self.class_weight == "balanced":
            counts = np.bincount(labels, minlength=2)
            weights = {label: len(labels) / (2.0 * max(counts[label], 1)) for label in (0, 1)}
        self.model_.fit(
            features, labels, epochs=self.epochs, batch_size=self.batch_size, class_weight=weights, verbose=0
        )
        return self

    def predict_proba(self, features):
        from training.core.keras_io import run_model

        positive = run_model(self.model_, np.asarray(features, dtype="float32"), 4096).reshape(-1)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, features):
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)
