"""The Digits tool's engine: models, training, evaluation, and reading users' digit images."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC

import numpy as np

from training import augment
from training.datasets import MnistData, validation_split
from training.errors import TrainingCancelled
from training.keras_setup import (
    import_keras,
    load_verified_model,
    progress_callback,
    run_model,
    seed_everything,
)
from training.model_quality import Headline
from training.progress import CancelToken, Progress, ProgressCallback, ignore_progress

IMAGE_SIZE = 28
NUMBER_OF_CLASSES = 10
ROTATED_TEST_DEGREES = 90.0
ROTATED_TEST_SEED = 2024
MODEL_KINDS = ("cnn", "mlp")


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """The model input: 0-255 pixels to float32 in [0, 1], shape (N, 28, 28, 1).

    Training, evaluation and user-image prediction all go through this one function.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    return (images / 255.0)[..., None]


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
            raise ValueError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.subset is not None and self.subset < 100:
            raise ValueError(f"subset must be at least 100 images, got {self.subset}")

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
    def affine_ranges(self) -> augment.AffineRanges:
        return augment.AffineRanges(
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
                batch = augment.random_affine(batch, config.affine_ranges, generator)
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


def predict_probabilities(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Class probabilities (N, 10) for 0-255 images (N, 28, 28)."""
    return run_model(model, scale_pixels(images), batch_size)


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
    rotated_images, _angles = augment.rotated_copy(data.x_test, ROTATED_TEST_DEGREES, ROTATED_TEST_SEED)
    plain_predictions = predict_probabilities(model, data.x_test).argmax(axis=1)
    rotated_predictions = predict_probabilities(model, rotated_images).argmax(axis=1)
    return DigitsEvaluation(
        plain=classification_metrics(data.y_test, plain_predictions),
        rotated=classification_metrics(data.y_test, rotated_predictions),
        plain_predictions=plain_predictions,
        rotated_predictions=rotated_predictions,
        rotated_images=rotated_images,
    )


# Reading a user's digit image -------------------------------------------------------------
# MNIST digits were scaled so their longest side is 20 px, then placed in 28×28 with the
# centre of mass at pixel (14, 14). A user's scan or photo is brought to the same form.
DIGIT_BOX = 20
MNIST_CENTRE_OF_MASS = (14.0, 14.0)
WORKING_SIDE = 128
DECODE_SIDE = 1024
# Median stroke width of MNIST digits, as a fraction of the digit's longest side, measured
# with `stroke_width_fraction` on MNIST training digits run through `prepare_digit`'s own
# resampling (see tests/test_digit_preprocessing.py, which re-measures it).
MNIST_STROKE_FRACTION = 0.14
UNSURE_BELOW = 0.60
KEPT_INK_SHARE = 0.8
STRAY_MARKS_LIMIT = 0.04


@dataclass
class PreparedDigit:
    """A user's image in MNIST form, or the reason it cannot be read as a digit."""

    pixels: np.ndarray | None  # uint8 (28, 28), light ink on black, like MNIST
    rejected_reason: str | None = None
    dark_ink_on_light: bool = True
    contrast: float = 0.0
    stroke_fraction: float = 0.0
    # The same framing without thinning thick strokes: a filled shape stays filled, so the
    # anomaly score can see what the stroke normalisation for the digit reader removes.
    as_drawn: np.ndarray | None = None


def stroke_width_fraction(ink: np.ndarray) -> float:
    """Stroke width over the longest side of the ink's bounding box.

    For a stroke of width w the distance-to-background inside it is spread evenly over
    [0, w/2], so w ≈ 4 × its mean: no skeletonisation needed.
    """
    from scipy import ndimage

    mask = ink > 0.5
    if not mask.any():
        return 0.0
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    longest = max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1)
    distances = ndimage.distance_transform_edt(mask)
    return float(4.0 * distances[mask].mean() / longest)


def _otsu_threshold(values: np.ndarray) -> float:
    histogram, edges = np.histogram(values, bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    weights = histogram.astype(np.float64)
    below = np.cumsum(weights)
    above = below[-1] - below
    mean_below = np.cumsum(weights * centres) / np.maximum(below, 1)
    mean_above = (np.sum(weights * centres) - np.cumsum(weights * centres)) / np.maximum(above, 1)
    between = below * above * (mean_below - mean_above) ** 2
    return float(centres[int(np.argmax(between))])


def _resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(
        Image.fromarray(array.astype(np.float32)).resize(
            (max(1, width), max(1, height)),
            Image.Resampling.BOX if height < array.shape[0] else Image.Resampling.BILINEAR,
        )
    )


def prepare_digit(gray: np.ndarray) -> PreparedDigit:
    """One scanned or photographed digit (grayscale in [0, 1]) to a 28×28 MNIST-style image.

    Decides the polarity from the border, separates ink from paper with Otsu's threshold,
    drops specks, crops to the ink, brings the stroke width to MNIST's, fits the longest
    side to 20 px and centres the mass at (14, 14).
    """
    from scipy import ndimage

    height, width = gray.shape
    if max(height, width) > DECODE_SIDE:
        scale = DECODE_SIDE / max(height, width)
        gray = _resize(gray, round(height * scale), round(width * scale))
        height, width = gray.shape
    margin = max(1, round(0.04 * min(height, width)))
    border = np.concatenate(
        [gray[:margin].ravel(), gray[-margin:].ravel(), gray[:, :margin].ravel(), gray[:, -margin:].ravel()]
    )
    background = float(np.median(border))
    low, high = np.percentile(gray, [0.5, 99.5])
    dark_ink = (background - low) >= (high - background)
    ink = np.clip(background - gray if dark_ink else gray - background, 0.0, None)
    ink = ndimage.gaussian_filter(ink, sigma=max(0.5, max(height, width) / 400))
    contrast = float(np.percentile(ink, 99.9))
    if contrast < 0.12:
        return PreparedDigit(
            None, "No ink found: the image is blank or has too little contrast.", bool(dark_ink), contrast
        )
    threshold = max(_otsu_threshold(ink[ink > 0.02 * contrast]), 0.3 * contrast)
    components, count = ndimage.label(ink > threshold)
    sizes = np.bincount(components.ravel())[1:]
    if count == 0 or sizes.max() < max(6, 0.0003 * height * width):
        return PreparedDigit(
            None, "No ink found: only specks stand out from the background.", bool(dark_ink), contrast
        )
    kept = np.isin(components, 1 + np.flatnonzero(sizes >= 0.08 * sizes.max()))
    if kept.mean() > 0.6:
        return PreparedDigit(
            None, "The ink covers most of the image: crop to a single digit.", bool(dark_ink), contrast
        )
    # A digit on paper leaves the rest of the page clean (≤ 1 % faint marks in 99 % of
    # bench/user_digits.py); noise, textures and photos leave marks everywhere.
    stray = (ink > 0.5 * threshold) & ~ndimage.binary_dilation(kept, iterations=3)
    if kept.sum() < KEPT_INK_SHARE * (components > 0).sum() or stray.mean() > STRAY_MARKS_LIMIT:
        return PreparedDigit(
            None, "Marks all over the image, not one digit: crop to a single digit.", bool(dark_ink), contrast
        )
    rows, columns = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    near_kept = ndimage.binary_dilation(kept, iterations=2)
    strength = np.percentile(ink[kept], 90)
    crop = np.clip((ink * near_kept)[top:bottom, left:right] / strength, 0.0, 1.0)

    crop_height, crop_width = crop.shape
    scale = WORKING_SIDE / max(crop_height, crop_width)
    working = _resize(crop, round(crop_height * scale), round(crop_width * scale))
    working = np.pad(working, WORKING_SIDE // 4)
    stroke = stroke_width_fraction(working)
    difference = (MNIST_STROKE_FRACTION - stroke) * WORKING_SIDE
    as_drawn = working
    if stroke and abs(difference) > 0.25 * MNIST_STROKE_FRACTION * WORKING_SIDE:
        radius = min(abs(difference) / 2, 0.25 * stroke * WORKING_SIDE if difference < 0 else 99)
        footprint = _disk(radius)
        working = (ndimage.grey_dilation if difference > 0 else ndimage.grey_erosion)(
            working, footprint=footprint
        )
        if difference > 0:
            as_drawn = working
    return PreparedDigit(
        frame_like_mnist(working), None, bool(dark_ink), contrast, stroke, frame_like_mnist(as_drawn)
    )


def frame_like_mnist(working: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] to MNIST's framing: longest side 20 px, centre of mass at (14, 14)."""
    from scipy import ndimage

    rows, columns = np.flatnonzero(working.max(axis=1) > 0.05), np.flatnonzero(working.max(axis=0) > 0.05)
    working = working[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    working_height, working_width = working.shape
    scale = DIGIT_BOX / max(working_height, working_width)
    digit = np.clip(_resize(working, round(working_height * scale), round(working_width * scale)), 0, 1)
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    digit_height, digit_width = digit.shape
    offset_y, offset_x = (IMAGE_SIZE - digit_height) // 2, (IMAGE_SIZE - digit_width) // 2
    canvas[offset_y : offset_y + digit_height, offset_x : offset_x + digit_width] = digit
    centre_y, centre_x = ndimage.center_of_mass(canvas)
    shift = (round(MNIST_CENTRE_OF_MASS[0] - centre_y), round(MNIST_CENTRE_OF_MASS[1] - centre_x))
    canvas = ndimage.shift(canvas, shift, order=0, mode="constant")
    return (canvas * 255).round().astype(np.uint8)


def _disk(radius: float) -> np.ndarray:
    extent = int(np.ceil(radius))
    y, x = np.mgrid[-extent : extent + 1, -extent : extent + 1]
    return (y * y + x * x) <= radius * radius + 0.5


# Prediction -------------------------------------------------------------------------------
MODEL_NAMES = {"cnn": "digits-cnn", "mlp": "digits-mlp"}
DEFAULT_MODEL = MODEL_NAMES["cnn"]


@dataclass
class DigitPrediction:
    """What the GUI draws, the CLI prints and the tests assert on, for one input."""

    path: str
    status: str  # "ok" | "unsure" | "rejected" | "error"
    message: str = ""
    label: int | None = None
    probabilities: list[float] | None = None
    model_input: np.ndarray | None = None  # the 28×28 image the model saw
    preview: object | None = None  # a downsized RGB PIL copy of the input, when asked for
    not_a_digit: bool | None = None  # the anomaly gate's opinion, when it was consulted

    def to_json(self) -> dict:
        answer = {
            "path": self.path,
            "label": self.label,
            "probabilities": self.probabilities,
            "status": self.status,
            "message": self.message,
        }
        if self.not_a_digit is not None:
            answer["not_a_digit"] = self.not_a_digit
        return answer

    def top(self, count: int = 3) -> list[tuple[int, float]]:
        if self.probabilities is None:
            return []
        order = np.argsort(self.probabilities)[::-1][:count]
        return [(int(label), float(self.probabilities[label])) for label in order]


def verdict(path: str, probabilities: np.ndarray, unsure_below: float) -> DigitPrediction:
    label = int(np.argmax(probabilities))
    confidence = float(probabilities[label])
    if confidence < unsure_below:
        runner_up = int(np.argsort(probabilities)[-2])
        return DigitPrediction(
            path,
            "unsure",
            f"Unsure: {label} ({confidence:.0%}) or {runner_up} ({float(probabilities[runner_up]):.0%}).",
            label,
            [float(p) for p in probabilities],
        )
    return DigitPrediction(
        path, "ok", f"{label} ({confidence:.0%})", label, [float(p) for p in probabilities]
    )


def read_digit_file(path) -> PreparedDigit:
    """Open any image file and bring it to MNIST form; raises `ImageReadError`."""
    return _read_digit_file(path)[0]


def _read_digit_file(path, preview_side: int | None = None):
    from training import images

    image = images.open_image(path, draft_size=(DECODE_SIDE, DECODE_SIDE))
    preview = None
    if preview_side:
        preview = images.to_rgb(image).copy()
        preview.thumbnail((preview_side, preview_side))
    return prepare_digit(images.to_grayscale(image)), preview


class DigitsPredictor:
    """A loaded, verified digits model that answers for files and images."""

    def __init__(self, model, entry, unsure_below: float = UNSURE_BELOW):
        self.model = model
        self.entry = entry
        self.unsure_below = unsure_below

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, registry=None) -> DigitsPredictor:
        predictor = cls(*load_verified_model(name, registry))
        predictor.predict_pixels(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8))  # warm up
        return predictor

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return predict_probabilities(self.model, pixels)

    def predict_prepared(self, path: str, prepared: PreparedDigit, gate=None) -> DigitPrediction:
        """`gate`: an anomaly predictor whose normal class is all digits; what it flags is
        answered "not a digit" (status "unsure", `not_a_digit`) — a classifier names a digit
        even for a letter or a logo."""
        if prepared.pixels is None:
            prediction = DigitPrediction(path, "rejected", prepared.rejected_reason or "Not a digit.")
            prediction.not_a_digit = True if gate is not None else None
            return prediction
        probabilities = self.predict_pixels(prepared.pixels[None])[0]
        prediction = verdict(path, probabilities, self.unsure_below)
        prediction.model_input = prepared.pixels
        if gate is not None:
            prediction.not_a_digit, why = gate.judge_prepared(prepared)
            if prediction.not_a_digit:
                # The gate's answer is the answer; the reader's guess is kept, said second.
                prediction.status = "unsure"
                prediction.message = (
                    f"Not a digit: {why}. The digit reader's best guess would be "
                    f"{prediction.label} ({max(probabilities):.0%})."
                )
        return prediction

    def predict_file(self, path, preview_side: int | None = None, gate=None) -> DigitPrediction:
        """Answer for one file; never raises for a bad file (status "error" says why).

        With `preview_side`, the answer carries a copy of the image at most that large, so a
        viewer need not decode the file a second time."""
        from training import images
        from training.errors import WorkbenchError

        try:
            prepared, preview = _read_digit_file(path, preview_side)
        except WorkbenchError as error:
            return DigitPrediction(str(path), "error", images.name_once(path, str(error)))
        prediction = self.predict_prepared(str(path), prepared, gate)
        prediction.preview = preview
        return prediction


# Producing a model with its manifest record ----------------------------------------------
def weights_fingerprint(model) -> str:
    """sha256 of the weights alone: equal for equal training runs, unlike the .keras file,
    whose zip carries a save date."""
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()


def save_model(model, path) -> None:
    """Save the architecture and weights only: the optimizer state is of no use to a user
    and would triple the file."""
    keras = import_keras()
    # Not keras.models.clone_model: in Keras 3 it copies the compiled optimizer too.
    inference_copy = keras.Model.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    inference_copy.save(path)


def manifest_record(result: TrainingResult, evaluation: DigitsEvaluation, data: MnistData) -> dict:
    from datetime import datetime

    from training.keras_setup import library_versions

    return {
        "tool": "digits",
        "kind": result.config.kind,
        "description": (
            "Seed MLP 784-128-64-10 (ReLU)"
            if result.config.kind == "mlp"
            else "Compact CNN (3 stages of 2 conv-BN-ReLU, global average pooling)"
        ),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": result.config.seed,
        "data": {"dataset": "MNIST", "file": data.source.name, "fingerprint": data.fingerprint},
        "hyper_parameters": result.hyper_parameters,
        "parameters": int(result.model.count_params()),
        "weights_fingerprint": weights_fingerprint(result.model),
        "library_versions": library_versions(),
        "training_seconds": round(result.training_seconds, 1),
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
    not put in use, unless `force` (see `training.model_quality`). Returns the new version's
    entry, the evaluation and the `RetrainOutcome` saying whether it is in use and why."""
    from training.model_quality import publish_checked

    cancel = cancel or CancelToken()
    result = train(data, config, report, cancel)
    report(Progress("evaluating", 0, 1, "evaluating on the 10,000 test images"))
    evaluation = evaluate(result.model, data)
    cancel.raise_if_cancelled()
    record = manifest_record(result, evaluation, data)
    name = MODEL_NAMES[config.kind]
    outcome = publish_checked(
        registry, name, ".keras", lambda path: save_model(result.model, path), record, HEADLINE, bundle, force
    )
    return outcome.entry, evaluation, outcome
