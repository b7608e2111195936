"""The forgery networks, their training configuration and their training loops.

Default model: a small fully convolutional network over per-block multi-quality ELA
(`forgery.block_features`). It predicts, for every 8×8 block, whether the block was pasted in
(trained on the tampered-region masks where the dataset has them), and the image score is
read off that block map. The map is the localisation heatmap, and because the image score
has to come from a region, the network cannot simply learn how a file was saved.

Parity model: the reference's ResNet50 head (global average pooling, batch norm, dense +
dropout) on the ELA image resized for the network, weights from scratch (or ImageNet when
the user has them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from training.core.errors import InvalidInputError, TrainingCancelled
from training.core.keras_io import import_keras
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.forgery.data import RECIPE_ADDITIONS, SplicingRecipe, recipe_with
from training.forgery.ela import jpeg_roundtrip
from training.forgery.examples import Example, on_two_threads, trimmed
from training.forgery.predict import RESNET_INPUT_SIDE, resnet_input

BACKBONES = ("blocks", "resnet50")


BLOCK_LOSSES = ("mean", "balanced")


IMAGE_EVIDENCE = ("map", "own")


@dataclass(frozen=True)
class ForgeryTrainingConfig:
    backbone: str = "blocks"
    epochs: int = 18
    batch_size: int = 16
    learning_rate: float = 2e-3
    validation_fraction: float = 0.2
    resaved_copies: int = 1  # extra copies of each photo re-saved at a common random quality
    synthetic_pairs: int = 600  # pairs spliced from the training share of the extra photos
    held_out_photo_fraction: float = 0.3  # extra photos kept for the generalisation test only
    # Of the training share, photos kept for calibration pairs: the probability, threshold and
    # "inconclusive" band are fitted on CASIA validation plus these, never on training photos.
    calibration_photo_fraction: float = 0.2
    calibration_pairs: int = 300
    # Groups of `RECIPE_ADDITIONS` that widen the synthetic recipe (all: the
    # training recipe; none: the narrow one used before issue 17).
    recipe_additions: tuple[str, ...] = tuple(RECIPE_ADDITIONS)
    other_histories: int = 350  # untampered extra photos resized, cropped or saved twice (authentic)
    block_loss_weight: float = 5.0  # chosen on the grouped validation split (README)
    # "balanced": a photo's tampered and untouched blocks weigh half each; "mean": per block.
    block_loss: str = "balanced"
    # "map": the image score is read off the heatmap; "own": off a second block map of its own,
    # trained by the image loss plus `evidence_loss_weight` × its mean block loss.
    image_evidence: str = "own"  # chosen on the grouped validation split (README)
    evidence_loss_weight: float = 1.0
    seed: int = 0
    imagenet_weights: bool = False

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise InvalidInputError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise InvalidInputError("epochs and batch size must be at least 1")
        if self.block_loss not in BLOCK_LOSSES:
            raise InvalidInputError(f"block_loss must be one of {BLOCK_LOSSES}, got {self.block_loss!r}")
        if self.image_evidence not in IMAGE_EVIDENCE:
            raise InvalidInputError(
                f"image_evidence must be one of {IMAGE_EVIDENCE}, got {self.image_evidence!r}"
            )
        if not 0 < self.validation_fraction < 0.5:
            raise InvalidInputError("validation_fraction must be between 0 and 0.5")
        recipe_with(self.recipe_additions)  # ValueError for unknown groups

    @property
    def recipe(self) -> SplicingRecipe:
        return recipe_with(self.recipe_additions)


def build_block_network(channels: int, own_evidence: bool = False):
    """Block features → per-block tampering logits → image logit (from a block map only: the
    heatmap's, or with `own_evidence` a second map of its own). Returns the model and, for
    training, the same layers with the evidence map as a third output."""
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input((None, None, channels), name="block_features")

    def convolution(tensor, filters, kernel=3, dilation=1):
        tensor = layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation, use_bias=False)(
            tensor
        )
        return layers.ReLU()(layers.BatchNormalization()(tensor))

    local = convolution(convolution(inputs, 48, kernel=1), 48, kernel=1)
    tensor = convolution(local, 48)
    for dilation in (2, 4, 8, 16):  # context reaching ~60 blocks: compare a region with its surroundings
        tensor = convolution(tensor, 64, dilation=dilation)
    tensor = layers.Concatenate()([tensor, local])
    tensor = convolution(tensor, 48, kernel=1)
    block_logits = layers.Conv2D(1, 1, name="block_logits")(tensor)
    evidence_logits = layers.Conv2D(1, 1, name="evidence_logits")(tensor) if own_evidence else block_logits
    # The image score looks at the most suspicious 3×3 blocks, not at one block's spike.
    peak = layers.GlobalMaxPooling2D()(layers.AveragePooling2D(3, strides=1, padding="same")(evidence_logits))
    evidence_probability = layers.Activation("sigmoid")(evidence_logits)
    share = layers.GlobalAveragePooling2D()(evidence_probability)
    image_probability = layers.Dense(1, activation="sigmoid", name="image")(
        layers.Concatenate()([peak, share])
    )
    block_probability = layers.Activation("sigmoid", name="blocks")(block_logits)
    model = keras.Model(inputs, [image_probability, block_probability], name="forgery_blocks")
    training_model = keras.Model(inputs, [image_probability, block_probability, evidence_probability])
    return model, training_model


def build_resnet50(imagenet_weights: bool = False):
    """The reference's classifier on the ELA image: ResNet50 → GAP → BN → dense + dropout."""
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input((RESNET_INPUT_SIDE, RESNET_INPUT_SIDE, 3), name="ela_image")
    scaled = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    backbone = keras.applications.ResNet50(
        include_top=False,
        weights="imagenet" if imagenet_weights else None,
        input_shape=(RESNET_INPUT_SIDE, RESNET_INPUT_SIDE, 3),
    )
    tensor = layers.GlobalAveragePooling2D()(backbone(scaled))
    tensor = layers.BatchNormalization()(tensor)
    tensor = layers.Dropout(0.5)(layers.Dense(256, activation="relu")(tensor))
    outputs = layers.Dense(1, activation="sigmoid", name="image")(tensor)
    return keras.Model(inputs, outputs, name="forgery_resnet50")


def _batches(examples: list[Example], batch_size: int, rng: np.random.Generator, augment: bool):
    """Batches of same-shaped examples (the network takes any size; a batch needs one)."""
    by_shape: dict[tuple, list[int]] = {}
    for index, example in enumerate(examples):
        by_shape.setdefault(example.features.shape, []).append(index)
    batches = []
    for indices in by_shape.values():
        indices = rng.permutation(indices) if augment else np.array(indices)
        batches.extend(indices[start : start + batch_size] for start in range(0, len(indices), batch_size))
    order = rng.permutation(len(batches)) if augment else range(len(batches))
    for batch_number in order:
        chosen = [examples[i] for i in batches[batch_number]]
        features = np.stack([e.features for e in chosen])
        targets = np.stack([e.block_target for e in chosen])[..., None]
        if augment:  # flips keep the 8×8 grid and every compression trace
            if rng.random() < 0.5:
                features, targets = features[:, :, ::-1], targets[:, :, ::-1]
            if rng.random() < 0.5:
                features, targets = features[:, ::-1], targets[:, ::-1]
        labels = np.array([[float(e.tampered)] for e in chosen], np.float32)
        weights = np.array([e.block_weight for e in chosen], np.float32)
        yield np.ascontiguousarray(features), labels, np.ascontiguousarray(targets), weights


def block_loss_per_photo(targets, block_probability, kind: str):
    """Binary cross-entropy of (batch, rows, columns, 1) block probabilities per photo:
    "mean" over its blocks, or "balanced", where the tampered and the untouched blocks weigh
    half each (pixel AUC ranks blocks within one photo, and a small pasted region must not be
    outweighed by the untouched rest). Photos without tampered blocks get the mean either way."""
    import tensorflow

    probability = tensorflow.clip_by_value(block_probability, 1e-7, 1 - 1e-7)
    missed = -targets * tensorflow.math.log(probability)
    false_alarm = -(1 - targets) * tensorflow.math.log(1 - probability)
    if kind == "mean":
        return tensorflow.reduce_mean(missed + false_alarm, axis=[1, 2, 3])
    tampered_mass = tensorflow.reduce_sum(targets, axis=[1, 2, 3])
    untouched_mass = tensorflow.reduce_sum(1 - targets, axis=[1, 2, 3])
    untouched_term = tensorflow.reduce_sum(false_alarm, axis=[1, 2, 3]) / tensorflow.maximum(
        untouched_mass, 1.0
    )
    tampered_term = tensorflow.reduce_sum(missed, axis=[1, 2, 3]) / tensorflow.maximum(tampered_mass, 1e-6)
    return tensorflow.where(tampered_mass > 0.5, 0.5 * (tampered_term + untouched_term), untouched_term)


def train_block_network(
    train: list[Example],
    config: ForgeryTrainingConfig,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
):
    """A custom loop: the block loss counts only photos whose tampered region is known."""
    import tensorflow

    keras = import_keras()
    cancel = cancel or CancelToken()
    model, training_model = build_block_network(
        train[0].features.shape[-1], own_evidence=config.image_evidence == "own"
    )
    train = [trimmed(example) for example in train]
    steps_per_epoch = sum(1 for _ in _batches(train, config.batch_size, np.random.default_rng(0), False))
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, config.epochs * steps_per_epoch, alpha=0.02
    )
    optimizer = keras.optimizers.Adam(schedule)
    binary = keras.losses.BinaryCrossentropy(reduction="none")

    @tensorflow.function(reduce_retracing=True)
    def step(features, labels, targets, weights):
        with tensorflow.GradientTape() as tape:
            image_probability, block_probability, evidence_probability = training_model(
                features, training=True
            )
            image_loss = tensorflow.reduce_mean(binary(labels, image_probability))
            total_weight = tensorflow.reduce_sum(weights) + 1e-6
            per_photo = block_loss_per_photo(targets, block_probability, config.block_loss)
            block_loss = tensorflow.reduce_sum(per_photo * weights) / total_weight
            loss = image_loss + config.block_loss_weight * block_loss
            if config.evidence_loss_weight:
                evidence_per_photo = block_loss_per_photo(targets, evidence_probability, "mean")
                evidence_loss = tensorflow.reduce_sum(evidence_per_photo * weights) / total_weight
                loss += config.evidence_loss_weight * evidence_loss
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return image_loss, block_loss

    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    for epoch in range(config.epochs):
        image_losses, block_losses = [], []
        for features, labels, targets, weights in _batches(train, config.batch_size, rng, augment=True):
            if cancel.cancelled:
                raise TrainingCancelled()
            image_loss, block_loss = step(features, labels, targets, weights)
            image_losses.append(float(image_loss))
            block_losses.append(float(block_loss))
        elapsed = time.perf_counter() - started
        report(
            Progress(
                "training",
                epoch + 1,
                config.epochs,
                f"epoch {epoch + 1}/{config.epochs}: image loss {np.mean(image_losses):.3f}, "
                f"block loss {np.mean(block_losses):.3f}",
                {"image_loss": float(np.mean(image_losses)), "block_loss": float(np.mean(block_losses))},
                elapsed,
                elapsed / (epoch + 1) * (config.epochs - epoch - 1),
            )
        )
    return model


def predict_examples(model, examples: list[Example]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Image probabilities and block maps, batched by shape."""
    probabilities = np.zeros(len(examples), np.float32)
    maps: list[np.ndarray | None] = [None] * len(examples)
    by_shape: dict[tuple, list[int]] = {}
    for index, example in enumerate(examples):
        by_shape.setdefault(example.features.shape, []).append(index)
    for indices in by_shape.values():
        for start in range(0, len(indices), 64):
            chosen = indices[start : start + 64]
            image, blocks = model.predict_on_batch(np.stack([examples[i].features for i in chosen]))
            for position, index in enumerate(chosen):
                probabilities[index] = float(np.asarray(image)[position, 0])
                maps[index] = np.asarray(blocks)[position, ..., 0]
    return probabilities, maps


def _resnet_arrays(photos, resave_qualities, report, cancel, stage):
    from training.core import images

    def one(job):
        photo, quality = job
        image = images.to_rgb(images.open_image(photo.path))
        return resnet_input(jpeg_roundtrip(image, quality) if quality else image)

    jobs = list(zip(photos, resave_qualities, strict=True))
    return np.stack(on_two_threads(one, jobs, report, cancel, stage))


def train_resnet(train_photos, qualities, config, report, cancel):
    """The reference recipe on ELA images, with flips as the only augmentation (rotations,
    shears and shifts resample the ELA map and destroy the traces it shows)."""
    from training.core.keras_io import progress_callback

    keras = import_keras()
    inputs = _resnet_arrays(train_photos, qualities, report, cancel, "ELA images")
    labels = np.array([[float(photo.tampered)] for photo in train_photos], np.float32)
    model = build_resnet50(config.imagenet_weights)
    steps = config.epochs * int(np.ceil(len(inputs) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate / 4, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy")
    augmented = keras.Sequential([keras.layers.RandomFlip("horizontal_and_vertical", seed=config.seed)])
    flipped = np.concatenate([inputs, np.asarray(augmented(inputs, training=True))])
    model.fit(
        flipped,
        np.concatenate([labels, labels]),
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[progress_callback(report, cancel, config.epochs)],
    )
    if cancel.cancelled:
        raise TrainingCancelled()
    return model


def resnet_probabilities(model, photos, report=ignore_progress, cancel=None) -> np.ndarray:
    arrays = _resnet_arrays(photos, [None] * len(photos), report, cancel or CancelToken(), "scoring")
    return np.asarray(model.predict(arrays, batch_size=32, verbose=0))[:, 0]
