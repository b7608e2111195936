"""The Anomaly tool's choices (architectures, scores, threshold rules), its training configuration and the autoencoders."""

from __future__ import annotations

from dataclasses import dataclass

from training.core.digit_images import IMAGE_SIZE
from training.core.errors import InvalidInputError
from training.core.keras_io import import_keras

ARCHITECTURES = ("dense-bottleneck", "seed")


SCORES = ("mixture", "evidence", "combined", "reconstruction", "latent")


THRESHOLD_RULES = ("percentile", "mean_k_sigma", "max", "f1_optimal")


@dataclass(frozen=True)
class AnomalyTrainingConfig:
    """Hyper-parameters of one autoencoder; stored verbatim in the model manifest."""

    normal_digits: tuple[int, ...] = tuple(range(10))
    architecture: str = "dense-bottleneck"
    latent_dim: int = 16
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    score: str = "mixture"
    mixture_components: int = 20
    latent_weight: float = 4.0
    threshold_rule: str = "percentile"
    threshold_parameter: float = 95.0
    subset: int | None = None
    exposure_images: int = 7000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.normal_digits or not set(self.normal_digits) <= set(range(10)):
            raise InvalidInputError(f"normal_digits must be digits 0-9, got {self.normal_digits!r}")
        if self.architecture not in ARCHITECTURES:
            raise InvalidInputError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.score not in SCORES:
            raise InvalidInputError(f"score must be one of {SCORES}, got {self.score!r}")
        if self.threshold_rule not in THRESHOLD_RULES:
            raise InvalidInputError(
                f"threshold_rule must be one of {THRESHOLD_RULES}, got {self.threshold_rule!r}"
            )
        if self.epochs < 1:
            raise InvalidInputError(f"epochs must be at least 1, got {self.epochs}")
        if self.score == "evidence" and not is_all_digits(self.normal_digits):
            raise InvalidInputError(
                "The evidence score answers 'is this a digit?': it needs all ten digits as normal."
            )
        if self.mixture_components < 1:
            raise InvalidInputError(f"mixture_components must be at least 1, got {self.mixture_components}")


def is_all_digits(normal_digits) -> bool:
    """Every digit normal: the model answers "is this a digit?" rather than "is it one of these"."""
    return tuple(sorted(normal_digits)) == tuple(range(10))


def build_autoencoder(architecture: str = "dense-bottleneck", latent_dim: int = 16):
    """`seed`: the reference (Conv32-pool-Conv16-pool / Conv16-up-Conv32-up-Conv1), whose
    7×7×16 bottleneck is as large as the input. `dense-bottleneck`: strided convolutions
    down to a `latent_dim` code, so the network cannot copy what it has not learned."""
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    if architecture == "seed":
        hidden = layers.Conv2D(32, 3, activation="relu", padding="same")(inputs)
        hidden = layers.MaxPooling2D(padding="same")(hidden)
        hidden = layers.Conv2D(16, 3, activation="relu", padding="same")(hidden)
        code = layers.MaxPooling2D(padding="same", name="latent")(hidden)
        hidden = layers.Conv2D(16, 3, activation="relu", padding="same")(code)
        hidden = layers.UpSampling2D()(hidden)
        hidden = layers.Conv2D(32, 3, activation="relu", padding="same")(hidden)
        hidden = layers.UpSampling2D()(hidden)
        outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same", name="reconstruction")(hidden)
        return keras.Model(inputs, outputs, name="autoencoder_seed")
    if architecture != "dense-bottleneck":
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")

    def block(tensor, filters, transpose=False):
        convolution = layers.Conv2DTranspose if transpose else layers.Conv2D
        tensor = convolution(filters, 3, strides=2, padding="same", use_bias=False)(tensor)
        tensor = layers.BatchNormalization()(tensor)
        return layers.LeakyReLU(0.1)(tensor)

    hidden = block(inputs, 32)  # 14×14
    hidden = block(hidden, 64)  # 7×7
    hidden = block(hidden, 128)  # 4×4
    code = layers.Dense(latent_dim, name="latent")(layers.Flatten()(hidden))
    hidden = layers.LeakyReLU(0.1)(layers.Dense(4 * 4 * 128)(code))
    hidden = layers.Reshape((4, 4, 128))(hidden)
    hidden = block(hidden, 64, transpose=True)  # 8×8
    hidden = layers.Cropping2D(((0, 1), (0, 1)))(hidden)  # 7×7
    hidden = block(hidden, 32, transpose=True)  # 14×14
    hidden = block(hidden, 16, transpose=True)  # 28×28
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="reconstruction")(hidden)
    return keras.Model(inputs, outputs, name="autoencoder")
