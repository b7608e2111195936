"""The Digits networks (the seed's MLP and the default CNN), their training configuration, and
running one over a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from training.core.digit_images import IMAGE_SIZE, scale_pixels
from training.core.errors import InvalidInputError
from training.core.keras_io import import_keras, run_model
from training.digits.augment import AffineRanges

NUMBER_OF_CLASSES = 10


ROTATED_TEST_DEGREES = 90.0


ROTATED_TEST_SEED = 2024


MODEL_KINDS = ("cnn", "mlp")


@dataclass(frozen=True)
class DigitsTrainingConfig:
    """Hyper-parameters of one training run; stored verbatim in the model manifest."""

    kind: str = "cnn"
    epochs: int = 22
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.0
    augment: bool = True
    rotation_degrees: float = 90.0
    upright_fraction: float = 0.65
    upright_rotation_degrees: float = 15.0
    shift_fraction: float = 0.08
    zoom_fraction: float = 0.08
    validation_fraction: float = 0.1
    early_stopping_patience: int = 4
    subset: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise InvalidInputError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        if self.epochs < 1:
            raise InvalidInputError(f"epochs must be at least 1, got {self.epochs}")
        if self.subset is not None and self.subset < 100:
            raise InvalidInputError(f"subset must be at least 100 images, got {self.subset}")

    @classmethod
    def defaults_for(cls, kind: str, **overrides) -> DigitsTrainingConfig:
        """The recipe each bundled model was made with; overrides on top."""
        if kind == "mlp":
            base = cls(
                kind="mlp",
                epochs=40,
                learning_rate=2e-3,
                weight_decay=0.0,
                rotation_degrees=12.0,
                upright_fraction=0.0,
                shift_fraction=0.06,
                zoom_fraction=0.06,
                early_stopping_patience=8,
            )
        else:
            base = cls(kind=kind)
        return replace(base, **overrides)

    @property
    def affine_ranges(self) -> AffineRanges:
        return AffineRanges(
            rotation_degrees=self.rotation_degrees,
            shift_fraction=self.shift_fraction,
            zoom_fraction=self.zoom_fraction,
            upright_fraction=self.upright_fraction,
            upright_rotation_degrees=self.upright_rotation_degrees,
        )


def build_model(kind: str):
    """`mlp`: the seed's 784-128-64-10 ReLU network, exactly. `cnn`: the default model."""
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    if kind == "mlp":
        hidden = layers.Flatten()(inputs)
        hidden = layers.Dense(128, activation="relu")(hidden)
        hidden = layers.Dense(64, activation="relu")(hidden)
        outputs = layers.Dense(NUMBER_OF_CLASSES, activation="softmax", name="probabilities")(hidden)
        return keras.Model(inputs, outputs, name="digits_mlp")
    if kind != "cnn":
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")

    def convolution(tensor, filters):
        tensor = layers.Conv2D(filters, 3, padding="same", use_bias=False)(tensor)
        tensor = layers.BatchNormalization()(tensor)
        return layers.ReLU()(tensor)

    hidden = convolution(inputs, 32)
    hidden = convolution(hidden, 32)
    hidden = layers.MaxPooling2D()(hidden)
    hidden = convolution(hidden, 64)
    hidden = convolution(hidden, 64)
    hidden = layers.MaxPooling2D()(hidden)
    hidden = convolution(hidden, 128)
    hidden = convolution(hidden, 128)
    hidden = layers.GlobalAveragePooling2D()(hidden)
    hidden = layers.Dropout(0.25)(hidden)
    outputs = layers.Dense(NUMBER_OF_CLASSES, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name="digits_cnn")


def predict_probabilities(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Class probabilities (N, 10) for 0-255 images (N, 28, 28)."""
    return run_model(model, scale_pixels(images), batch_size)
