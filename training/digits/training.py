"""Training and evaluating a Digits network, and publishing it with its manifest record."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from training.core.datasets import MnistData, validation_split
from training.core.digit_images import scale_pixels
from training.core.errors import TrainingCancelled
from training.core.keras_io import (
    import_keras,
    progress_callback,
    seed_everything,
)
from training.core.model_quality import Headline
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.core.provenance import provenance_record, publish_network
from training.digits.augment import random_affine, rotated_copy
from training.digits.networks import (
    NUMBER_OF_CLASSES,
    ROTATED_TEST_DEGREES,
    ROTATED_TEST_SEED,
    DigitsTrainingConfig,
    build_model,
    predict_probabilities,
)
from training.digits.predict import MODEL_NAMES


@dataclass
class TrainingResult:
    model: object
    config: DigitsTrainingConfig
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    training_seconds: float
    validation_accuracy: float
    hyper_parameters: dict = field(default_factory=dict)


def _augmented_batches(keras, images, labels, config: DigitsTrainingConfig):
    """A Keras dataset whose batch b of epoch e is a pure function of (seed, e, b)."""

    class AugmentedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.order = self._order()

        def _order(self):
            return np.random.default_rng([config.seed, self.epoch]).permutation(len(images))

        def __len__(self):
            return math.ceil(len(images) / config.batch_size)

        def __getitem__(self, index):
            chosen = self.order[index * config.batch_size : (index + 1) * config.batch_size]
            batch = images[chosen]
            if config.augment:
                generator = np.random.default_rng([config.seed, self.epoch, index])
                batch = random_affine(batch, config.affine_ranges, generator)
            return scale_pixels(batch), labels[chosen]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    return AugmentedBatches()


def train(
    data: MnistData,
    config: DigitsTrainingConfig,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> TrainingResult:
    """Train one digits model on MNIST's training images; raises `TrainingCancelled`."""
    keras = import_keras()
    cancel = cancel or CancelToken()
    seed_everything(config.seed)
    train_indices, validation_indices = validation_split(
        data.y_train, config.validation_fraction, config.seed
    )
    if config.subset is not None:
        train_indices = np.random.default_rng(config.seed).permutation(train_indices)
        train_indices = np.sort(train_indices[: config.subset])
        validation_indices = validation_indices[: max(200, config.subset // 5)]
    train_images, train_labels = data.x_train[train_indices], data.y_train[train_indices]
    validation_x = scale_pixels(data.x_train[validation_indices])
    validation_y = data.y_train[validation_indices]

    model = build_model(config.kind)
    batches = _augmented_batches(keras, train_images, train_labels, config)
    total_steps = config.epochs * len(batches)
    warmup_steps = int(config.warmup_epochs * len(batches))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10 if warmup_steps else config.learning_rate,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=config.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
        alpha=0.01,
    )
    optimizer = (
        keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
        if config.weight_decay
        else keras.optimizers.Adam(schedule)
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        patience=config.early_stopping_patience,
        restore_best_weights=True,
        mode="max",
    )
    started = time.perf_counter()
    history = model.fit(
        batches,
        epochs=config.epochs,
        validation_data=(validation_x, validation_y),
        callbacks=[early_stopping, progress_callback(report, cancel, config.epochs)],
        verbose=0,
    )
    if cancel.cancelled:
        raise TrainingCancelled()
    validation_accuracies = history.history["val_accuracy"]
    best_epoch = int(np.argmax(validation_accuracies))
    return TrainingResult(
        model=model,
        config=config,
        history={key: [float(v) for v in values] for key, values in history.history.items()},
        epochs_run=len(validation_accuracies),
        best_epoch=best_epoch + 1,
        training_seconds=time.perf_counter() - started,
        validation_accuracy=float(validation_accuracies[best_epoch]),
        hyper_parameters=asdict(config),
    )


def classification_metrics(true_labels: np.ndarray, predicted_labels: np.ndarray) -> dict:
    """Accuracy, confusion matrix and per-class precision/recall/F1, as plain JSON-able values."""
    from sklearn import metrics

    labels = list(range(NUMBER_OF_CLASSES))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        true_labels, predicted_labels, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(metrics.accuracy_score(true_labels, predicted_labels)),
        "confusion_matrix": metrics.confusion_matrix(true_labels, predicted_labels, labels=labels).tolist(),
        "per_class": [
            {
                "label": label,
                "precision": float(precision[label]),
                "recall": float(recall[label]),
                "f1": float(f1[label]),
                "support": int(support[label]),
            }
            for label in labels
        ],
    }


@dataclass
class DigitsEvaluation:
    """Test-set figures of one model: plain and rotated, with per-image predictions."""

    plain: dict
    rotated: dict
    plain_predictions: np.ndarray
    rotated_predictions: np.ndarray
    rotated_images: np.ndarray

    def summary(self) -> dict:
        return {
            "test_accuracy": self.plain["accuracy"],
            "rotated_test_accuracy": self.rotated["accuracy"],
            "rotated_test_protocol": (
                f"each test image rotated by a uniform angle in ±{ROTATED_TEST_DEGREES:g}°, "
                f"seed {ROTATED_TEST_SEED}"
            ),
            "test": self.plain,
            "rotated_test": self.rotated,
        }


def evaluate(model, data: MnistData) -> DigitsEvaluation:
    """Score the 10,000 test images, plain and rotated by a seeded uniform ±90° angle."""
    rotated_images, _angles = rotated_copy(data.x_test, ROTATED_TEST_DEGREES, ROTATED_TEST_SEED)
    plain_predictions = predict_probabilities(model, data.x_test).argmax(axis=1)
    rotated_predictions = predict_probabilities(model, rotated_images).argmax(axis=1)
    return DigitsEvaluation(
        plain=classification_metrics(data.y_test, plain_predictions),
        rotated=classification_metrics(data.y_test, rotated_predictions),
        plain_predictions=plain_predictions,
        rotated_predictions=rotated_predictions,
        rotated_images=rotated_images,
    )


def manifest_record(result: TrainingResult, evaluation: DigitsEvaluation, data: MnistData) -> dict:
    description = (
        "Seed MLP 784-128-64-10 (ReLU)"
        if result.config.kind == "mlp"
        else "Compact CNN (3 stages of 2 conv-BN-ReLU, global average pooling)"
    )
    return provenance_record(
        "digits",
        description,
        data.provenance(),
        result.config.seed,
        result.hyper_parameters,
        result.model,
        result.training_seconds,
    ) | {
        "kind": result.config.kind,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "validation_accuracy": result.validation_accuracy,
        "metrics": evaluation.summary(),
    }


# What a retrained digits model is judged by before it replaces the model in use: its accuracy
# on the 10,000 MNIST test images. More than 1 point below the model in use is clearly worse:
# the standard error of an accuracy of 98.5-99.6 % on 10,000 images is 0.06-0.12 point, so a
# 1-point drop is far beyond chance, while a retrain that about ties the model in use goes in.
HEADLINE = Headline(("test_accuracy",), "test accuracy", margin=0.01, percent=True)


def train_and_save(
    data: MnistData,
    config: DigitsTrainingConfig,
    registry,
    bundle: bool = False,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
):
    """Train, evaluate on the test set, save, and register: into the user's models (the
    default, swapped in atomically) or, with `bundle`, into the shipped `models/` folder.

    A user model whose test accuracy is clearly worse than the model in use's is saved but
    not put in use, unless `force` (see `training.core.model_quality`). Returns the new version's
    entry, the evaluation and the `RetrainOutcome` saying whether it is in use and why."""
    cancel = cancel or CancelToken()
    result = train(data, config, report, cancel)
    report(Progress("evaluating", 0, 1, "evaluating on the 10,000 test images"))
    evaluation = evaluate(result.model, data)
    cancel.raise_if_cancelled()
    record = manifest_record(result, evaluation, data)
    outcome = publish_network(
        registry, MODEL_NAMES[config.kind], result.model, record, HEADLINE, bundle, force
    )
    return outcome.entry, evaluation, outcome
