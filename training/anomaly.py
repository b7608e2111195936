"""The Anomaly tool's engine: an autoencoder learns what normal images look like.

Anomaly score (`mixture`, the default): how badly an image is reconstructed (squared error,
smoothed over a pixel's neighbours so that one stray pixel counts less than a missing stroke)
plus how unlikely its code in the autoencoder's latent space is under a Gaussian mixture
fitted to the normal training codes, each standardised on the normal training images, the
latent term weighted by `latent_weight`. Normal digits form several clusters in the latent
space (one or more per writing style); a single Gaussian (`combined`, the earlier score)
covers the gaps between them, where letters land. Each term lifts the one-class MNIST AUROC
over plain reconstruction error (see bench/anomaly_one_class.py).

The all-digits model answers "is this a digit?" for anything dropped, so it uses `evidence`:
the same two terms plus shape descriptors and the latent code, weighed by outlier exposure
(`training.anomaly_evidence`); each term's push is named as a reason. A dropped image
already in MNIST format is scored as it is; any other image as drawn (cropped and framed
like MNIST, thick shapes left thick), not only as the Digits tool normalises it.
"""

from __future__ import annotations

import time
import weakref
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from training.datasets import MnistData, validation_split
from training.digits import IMAGE_SIZE, scale_pixels
from training.errors import TrainingCancelled
from training.keras_setup import import_keras, load_verified_model, run_model, seed_everything
from training.model_quality import Headline
from training.progress import CancelToken, Progress, ProgressCallback, ignore_progress

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
            raise ValueError(f"normal_digits must be digits 0-9, got {self.normal_digits!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {self.score!r}")
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, got {self.threshold_rule!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.score == "evidence" and not is_all_digits(self.normal_digits):
            raise ValueError(
                "The evidence score answers 'is this a digit?': it needs all ten digits as normal."
            )
        if self.mixture_components < 1:
            raise ValueError(f"mixture_components must be at least 1, got {self.mixture_components}")


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


# Thresholds ---------------------------------------------------------------------------------
def available_threshold_rules(has_labelled_anomalies: bool) -> tuple[str, ...]:
    """The F1-optimal rule needs labelled anomalies; without them it is not offered."""
    return (
        THRESHOLD_RULES if has_labelled_anomalies else tuple(r for r in THRESHOLD_RULES if r != "f1_optimal")
    )


def fit_threshold(
    rule: str,
    normal_scores: np.ndarray,
    parameter: float | None = None,
    labelled_scores: np.ndarray | None = None,
    labelled_is_anomaly: np.ndarray | None = None,
) -> float:
    """A threshold from validation scores: scores above it are anomalies.

    - `percentile`: the `parameter`-th percentile of the normal scores (100 − contamination %)
    - `mean_k_sigma`: mean + `parameter` standard deviations of the normal scores
    - `max`: the largest normal score (no normal validation image is flagged)
    - `f1_optimal`: the cut that maximises F1 on a labelled set holding both classes
    """
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    if normal_scores.size == 0:
        raise ValueError("At least one normal validation score is needed to fit a threshold.")
    if rule == "percentile":
        percentile = 95.0 if parameter is None else parameter
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        return float(np.percentile(normal_scores, percentile))
    if rule == "mean_k_sigma":
        k = 3.0 if parameter is None else parameter
        return float(normal_scores.mean() + k * normal_scores.std())
    if rule == "max":
        return float(normal_scores.max())
    if rule == "f1_optimal":
        if labelled_scores is None or labelled_is_anomaly is None:
            raise ValueError("The F1-optimal threshold needs a labelled validation set.")
        labelled_is_anomaly = np.asarray(labelled_is_anomaly, dtype=bool)
        if labelled_is_anomaly.all() or not labelled_is_anomaly.any():
            raise ValueError(
                "The F1-optimal threshold needs labelled normal and anomalous images; "
                "with one class only every cut is degenerate."
            )
        from sklearn.metrics import precision_recall_curve

        precision, recall, cuts = precision_recall_curve(labelled_is_anomaly, labelled_scores)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        # precision_recall_curve counts a score equal to the cut as positive; ours is ">".
        threshold = float(np.nextafter(cuts[int(np.argmax(f1))], -np.inf))
        if (normal_scores > threshold).mean() > 0.5:
            raise ValueError(
                "The F1-optimal threshold would flag most normal images: the labelled anomalies "
                "are not separable by this score."
            )
        return threshold
    raise ValueError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}")


def verdict_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict:
    """Precision/recall/F1 of the anomaly class and the confusion matrix at `threshold`."""
    from sklearn import metrics

    predicted = np.asarray(scores) > threshold
    truth = np.asarray(is_anomaly, dtype=bool)
    precision, recall, f1, _support = metrics.precision_recall_fscore_support(
        truth, predicted, average="binary", zero_division=0
    )
    return {
        "threshold": float(threshold),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "flagged_fraction": float(predicted.mean()),
        # rows: normal, anomaly (truth); columns: normal, anomaly (verdict)
        "confusion_matrix": metrics.confusion_matrix(truth, predicted, labels=[False, True]).tolist(),
    }


def ranking_metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict:
    from sklearn import metrics

    return {
        "auroc": float(metrics.roc_auc_score(is_anomaly, scores)),
        "aupr": float(metrics.average_precision_score(is_anomaly, scores)),
    }


# Scoring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreStatistics:
    """What the score needs from the normal training images: the standardisation of the
    reconstruction error, the Gaussian and the Gaussian mixture of the latent codes. Plain
    numbers, saved as JSON in the manifest (no pickle). Models made before the mixture score
    have no mixture fields."""

    smoothed_error_mean: float
    smoothed_error_std: float
    latent_mean: list[float]
    latent_precision: list[list[float]]
    latent_distance_mean: float
    latent_distance_std: float
    mixture_weights: list[float] = field(default_factory=list)
    mixture_means: list[list[float]] = field(default_factory=list)
    mixture_precision_cholesky: list[list[list[float]]] = field(default_factory=list)
    mixture_surprise_mean: float = 0.0
    mixture_surprise_std: float = 1.0
    latent_weight: float = 1.0
    evidence_weights: dict = field(default_factory=dict)  # `anomaly_evidence.EvidenceWeights`

    def to_json(self) -> dict:
        # Seven significant digits keep the manifest small and change no score visibly.
        return {
            name: np.vectorize(lambda value: float(f"{value:.7g}"), otypes=[float])(value).tolist()
            if isinstance(value, list) and value
            else value
            for name, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, values: dict) -> ScoreStatistics:
        return cls(**values)


@dataclass
class ScoredImages:
    """Per-image results: what the GUI draws and the CLI prints."""

    scores: np.ndarray
    reconstruction_error: np.ndarray
    latent_distance: np.ndarray
    reconstructions: np.ndarray  # (N, 28, 28) in [0, 1]
    error_maps: np.ndarray  # (N, 28, 28) squared error per pixel
    # (N, len(anomaly_evidence.REASONS)): each reason's push on an evidence score; (N, 0) otherwise
    evidence: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[ScoredImages]) -> ScoredImages:
        return cls(
            *(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__dataclass_fields__)
        )


_scoring_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _scoring_model(autoencoder):
    """One pass of the autoencoder that also returns its latent code; built once per
    autoencoder (building a Keras model costs far more than scoring an image)."""
    if autoencoder not in _scoring_models:
        keras = import_keras()
        _scoring_models[autoencoder] = keras.Model(
            autoencoder.input, [autoencoder.output, autoencoder.get_layer("latent").output]
        )
    return _scoring_models[autoencoder]


def _raw_terms(autoencoder, images: np.ndarray, batch_size: int = 500):
    scaled = scale_pixels(images)
    reconstructions, codes = run_model(_scoring_model(autoencoder), scaled, batch_size)
    error_maps = ((reconstructions - scaled) ** 2)[..., 0]
    return error_maps, reconstructions[..., 0], codes.reshape(len(codes), -1)


def _smoothed_error(error_maps: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    smoothed = ndimage.gaussian_filter(error_maps, sigma=(0, 1, 1))
    return (smoothed**2).reshape(len(smoothed), -1).mean(axis=1)


def _mahalanobis(codes: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    centred = codes - mean
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, precision, centred), 0.0))


def _mixture_surprise(codes: np.ndarray, statistics: ScoreStatistics) -> np.ndarray:
    """Negative log-likelihood of each code under the latent Gaussian mixture."""
    from scipy.special import logsumexp

    means = np.asarray(statistics.mixture_means)
    cholesky = np.asarray(statistics.mixture_precision_cholesky)
    whitened = np.einsum("nd,kde->nke", codes, cholesky) - np.einsum("kd,kde->ke", means, cholesky)
    log_determinants = np.log(np.diagonal(cholesky, axis1=1, axis2=2)).sum(axis=1)
    log_densities = (
        -0.5 * (codes.shape[1] * np.log(2 * np.pi) + (whitened**2).sum(axis=2))
        + log_determinants
        + np.log(np.asarray(statistics.mixture_weights))
    )
    return -logsumexp(log_densities, axis=1)


def fit_score_statistics(
    autoencoder, normal_images: np.ndarray, mixture_components: int, latent_weight: float
) -> ScoreStatistics:
    from sklearn.mixture import GaussianMixture

    error_maps, _reconstructions, codes = _raw_terms(autoencoder, normal_images)
    errors = _smoothed_error(error_maps)
    mean = codes.mean(axis=0)
    covariance = np.cov(codes, rowvar=False) + 1e-3 * np.eye(codes.shape[1])
    precision = np.linalg.inv(covariance)
    distances = _mahalanobis(codes, mean, precision)
    mixture = GaussianMixture(
        min(mixture_components, len(codes)), covariance_type="full", reg_covar=1e-3, random_state=0
    ).fit(codes)
    statistics = ScoreStatistics(
        float(errors.mean()),
        float(errors.std() + 1e-12),
        mean.tolist(),
        precision.tolist(),
        float(distances.mean()),
        float(distances.std() + 1e-12),
        mixture.weights_.tolist(),
        mixture.means_.tolist(),
        mixture.precisions_cholesky_.tolist(),
        latent_weight=latent_weight,
    )
    # Standardised with the statistics as saved, so training and inference agree exactly.
    statistics = ScoreStatistics.from_json(statistics.to_json())
    surprise = _mixture_surprise(codes, statistics)
    return replace(
        statistics,
        mixture_surprise_mean=float(surprise.mean()),
        mixture_surprise_std=float(surprise.std() + 1e-12),
    )


def _standard_terms(autoencoder, statistics: ScoreStatistics, images: np.ndarray):
    """The autoencoder's raw outputs and its terms standardised on the normal training images:
    (error maps, reconstructions, codes, standard error, standard mixture surprise — None for
    models saved without a mixture)."""
    error_maps, reconstructions, codes = _raw_terms(autoencoder, images)
    standard_error = (
        _smoothed_error(error_maps) - statistics.smoothed_error_mean
    ) / statistics.smoothed_error_std
    standard_surprise = None
    if statistics.mixture_weights:
        standard_surprise = (
            _mixture_surprise(codes, statistics) - statistics.mixture_surprise_mean
        ) / statistics.mixture_surprise_std
    return error_maps, reconstructions, codes, standard_error, standard_surprise


def evidence_features(autoencoder, statistics: ScoreStatistics, images: np.ndarray) -> np.ndarray:
    from training import anomaly_evidence

    _maps, _reconstructions, codes, standard_error, standard_surprise = _standard_terms(
        autoencoder, statistics, images
    )
    return anomaly_evidence.evidence_features(images, standard_error, standard_surprise, codes)


def score_images(
    autoencoder, statistics: ScoreStatistics, images: np.ndarray, score: str = "mixture"
) -> ScoredImages:
    """Anomaly scores of 0-255 images (N, 28, 28): higher is more anomalous."""
    from training import anomaly_evidence

    error_maps, reconstructions, codes, standard_error, standard_surprise = _standard_terms(
        autoencoder, statistics, images
    )
    if score in ("mixture", "evidence") and standard_surprise is None:
        raise ValueError("This model was saved without a latent mixture; score it with 'combined'.")
    if score == "evidence" and not statistics.evidence_weights:
        raise ValueError("This model was saved without evidence weights; score it with 'mixture'.")
    errors = error_maps.reshape(len(error_maps), -1).mean(axis=1)
    distances = _mahalanobis(
        codes, np.asarray(statistics.latent_mean), np.asarray(statistics.latent_precision)
    )
    standard_distance = (distances - statistics.latent_distance_mean) / statistics.latent_distance_std
    evidence = np.zeros((len(images), 0))
    if score == "evidence":
        weights = anomaly_evidence.EvidenceWeights.from_json(statistics.evidence_weights)
        features = anomaly_evidence.evidence_features(images, standard_error, standard_surprise, codes)
        contributions = weights.contributions(features)
        scores = contributions.sum(axis=1) + weights.intercept
        evidence = weights.by_reason(contributions)
    else:
        scores = {
            "mixture": lambda: standard_error + statistics.latent_weight * standard_surprise,
            "combined": lambda: standard_error + standard_distance,
            "reconstruction": lambda: errors,
            "latent": lambda: distances,
        }[score]()
    return ScoredImages(scores, errors, distances, reconstructions, error_maps, evidence)


def fit_evidence(
    autoencoder, statistics: ScoreStatistics, normal_images: np.ndarray, config
) -> ScoreStatistics:
    """Outlier exposure: weigh the evidence features so that `normal_images` (and typeset
    digits, both also as dropped photos) score low and synthetic non-digits high."""
    from training import anomaly_evidence

    normal, outliers = anomaly_evidence.exposure_sets(config.exposure_images, config.seed, normal_images)
    names, reasons = anomaly_evidence.feature_names(config.latent_dim)
    weights = anomaly_evidence.fit_evidence_weights(
        evidence_features(autoencoder, statistics, normal),
        evidence_features(autoencoder, statistics, outliers),
        names,
        reasons,
        config.seed,
    )
    return replace(statistics, evidence_weights=weights.to_json())


# Training -----------------------------------------------------------------------------------
@dataclass
class AnomalyModel:
    """A trained autoencoder with everything its verdicts depend on."""

    autoencoder: object
    config: AnomalyTrainingConfig
    statistics: ScoreStatistics
    thresholds: dict[str, float]
    validation_scores: np.ndarray
    history: dict = field(default_factory=dict)
    training_seconds: float = 0.0

    @property
    def threshold(self) -> float:
        return self.thresholds[self.config.threshold_rule]

    def score(self, images: np.ndarray) -> ScoredImages:
        return score_images(self.autoencoder, self.statistics, images, self.config.score)


def _normal_split(labels: np.ndarray, config: AnomalyTrainingConfig):
    """Indices (train, validation) of the normal images, and of the other digits' validation
    images that serve as labelled anomalies when only some digits are normal."""
    train, validation = validation_split(labels, config.validation_fraction, config.seed)
    normal = np.isin(labels, config.normal_digits)
    normal_train, normal_validation = train[normal[train]], validation[normal[validation]]
    if config.subset is not None:
        normal_train = np.random.default_rng(config.seed).permutation(normal_train)[: config.subset]
        normal_validation = normal_validation[: max(100, config.subset // 5)]
    return normal_train, normal_validation, validation[~normal[validation]]


def fit_all_thresholds(
    normal_scores: np.ndarray, anomaly_scores: np.ndarray | None, config: AnomalyTrainingConfig
) -> dict[str, float]:
    parameters = {
        "percentile": config.threshold_parameter if config.threshold_rule == "percentile" else 95.0,
        "mean_k_sigma": config.threshold_parameter if config.threshold_rule == "mean_k_sigma" else 3.0,
    }
    has_anomalies = anomaly_scores is not None and len(anomaly_scores) > 0
    thresholds, refused = {}, {}
    for rule in available_threshold_rules(has_anomalies):
        if rule == "f1_optimal":
            # With nine anomalous digits to one normal, "flag everything" maximises F1:
            # balance the classes so the cut reflects separation, not prevalence.
            balanced = np.random.default_rng(config.seed).permutation(anomaly_scores)[: len(normal_scores)]
            labelled = np.concatenate([normal_scores, balanced])
            truth = np.concatenate([np.zeros(len(normal_scores), bool), np.ones(len(balanced), bool)])
            try:
                thresholds[rule] = fit_threshold(rule, normal_scores, None, labelled, truth)
            except ValueError as error:
                refused[rule] = str(error)
        else:
            thresholds[rule] = fit_threshold(rule, normal_scores, parameters.get(rule))
    if config.threshold_rule not in thresholds:
        raise ValueError(
            refused.get(config.threshold_rule)
            or "The F1-optimal threshold needs labelled anomalies: choose some digits as normal, "
            "or another threshold rule."
        )
    return thresholds


def train(
    data: MnistData,
    config: AnomalyTrainingConfig,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> AnomalyModel:
    """Train on the normal digits only; fit the score and every threshold rule on the
    held-out normal (and, if any, labelled anomalous) validation images."""
    from training.keras_setup import progress_callback

    keras = import_keras()
    cancel = cancel or CancelToken()
    seed_everything(config.seed)
    train_indices, validation_indices, anomaly_indices = _normal_split(data.y_train, config)
    train_x = scale_pixels(data.x_train[train_indices])
    validation_x = scale_pixels(data.x_train[validation_indices])
    autoencoder = build_autoencoder(config.architecture, config.latent_dim)
    steps = config.epochs * int(np.ceil(len(train_x) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.05)
    loss = "binary_crossentropy" if config.architecture == "seed" else "mse"
    autoencoder.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)
    started = time.perf_counter()
    history = autoencoder.fit(
        train_x,
        train_x,
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        validation_data=(validation_x, validation_x),
        verbose=0,
        callbacks=[progress_callback(report, cancel, config.epochs)],
    )
    if cancel.cancelled:
        raise TrainingCancelled()
    report(Progress("scoring", 0, 1, "fitting the score and thresholds on validation images"))
    statistics = fit_score_statistics(
        autoencoder, data.x_train[train_indices], config.mixture_components, config.latent_weight
    )
    if config.score == "evidence":
        report(
            Progress("scoring", 0, 1, "outlier exposure: weighing the evidence against synthetic non-digits")
        )
        exposure_digits = np.random.default_rng(config.seed).permutation(train_indices)[:9000]
        statistics = fit_evidence(autoencoder, statistics, data.x_train[exposure_digits], config)
    normal_scores = score_images(
        autoencoder, statistics, data.x_train[validation_indices], config.score
    ).scores
    anomaly_scores = (
        score_images(autoencoder, statistics, data.x_train[anomaly_indices], config.score).scores
        if len(anomaly_indices)
        else None
    )
    return AnomalyModel(
        autoencoder=autoencoder,
        config=config,
        statistics=statistics,
        thresholds=fit_all_thresholds(normal_scores, anomaly_scores, config),
        validation_scores=normal_scores,
        history={key: [float(v) for v in values] for key, values in history.history.items()},
        training_seconds=time.perf_counter() - started,
    )


def evaluate(model: AnomalyModel, data: MnistData) -> dict:
    """On all 10,000 test images: normal = the model's normal digits, anomaly = the rest.

    With every digit normal there is nothing to rank: the figure is the share of test
    digits flagged (the false-alarm rate at the saved threshold)."""
    scored = model.score(data.x_test)
    is_anomaly = ~np.isin(data.y_test, model.config.normal_digits)
    figures = {"test_flagged_fraction": float((scored.scores > model.threshold).mean())}
    if is_anomaly.any():
        figures.update(ranking_metrics(scored.scores, is_anomaly))
        figures["at_threshold"] = verdict_metrics(scored.scores, is_anomaly, model.threshold)
    return figures


# Saving, loading, predicting ----------------------------------------------------------------
ALL_DIGITS_MODEL = "anomaly-all-digits"


def model_name(normal_digits: tuple[int, ...]) -> str:
    if is_all_digits(normal_digits):
        return ALL_DIGITS_MODEL
    return "anomaly-digits-" + "".join(str(digit) for digit in sorted(normal_digits))


def manifest_record(model: AnomalyModel, evaluation: dict, data: MnistData) -> dict:
    from datetime import UTC, datetime

    from training.digits import weights_fingerprint
    from training.keras_setup import library_versions

    return {
        "tool": "anomaly",
        "description": f"Convolutional autoencoder ({model.config.architecture}, latent {model.config.latent_dim}); "
        f"normal digits {''.join(map(str, model.config.normal_digits))}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": model.config.seed,
        "data": {"dataset": "MNIST", "file": data.source.name, "fingerprint": data.fingerprint},
        "hyper_parameters": asdict(model.config),
        "parameters": int(model.autoencoder.count_params()),
        "weights_fingerprint": weights_fingerprint(model.autoencoder),
        "library_versions": library_versions(),
        "training_seconds": round(model.training_seconds, 1),
        "score": model.config.score,
        "score_statistics": model.statistics.to_json(),
        "threshold_rule": model.config.threshold_rule,
        "thresholds": model.thresholds,
        # For the tab's histogram: a seeded sample keeps the manifest small.
        "validation_scores": [
            round(float(value), 4)
            for value in np.random.default_rng(0).permutation(model.validation_scores)[:2000]
        ],
        "metrics": evaluation,
    }


# What a retrained anomaly model is judged by before it replaces the model in use: its AUROC
# on the 10,000 MNIST test images (its normal digits against the rest). More than 0.01 below
# the model in use is clearly worse: with about 1,000 normal and 9,000 anomalous test images
# the standard error of an AUROC of 0.95-0.98 is 0.003-0.005, so 0.01 is two to three of them.
# A model with every digit normal has nothing to rank (no AUROC): its retrains are not compared.
HEADLINE = Headline(("auroc",), "test AUROC", margin=0.01)


def train_and_save(data, config, registry, bundle=False, report=ignore_progress, cancel=None, force=False):
    """Train, evaluate, save and register (user models by default; `bundle` for models/).

    A user model whose test AUROC is clearly worse than the model in use's is saved but not
    put in use, unless `force` (see `training.model_quality`). Returns the new version's
    entry, the evaluation and the `RetrainOutcome` saying whether it is in use and why."""
    from training.digits import save_model
    from training.model_quality import publish_checked

    model = train(data, config, report, cancel)
    evaluation = evaluate(model, data)
    record = manifest_record(model, evaluation, data)
    name = model_name(config.normal_digits)
    outcome = publish_checked(
        registry,
        name,
        ".keras",
        lambda path: save_model(model.autoencoder, path),
        record,
        HEADLINE,
        bundle,
        force,
    )
    return outcome.entry, evaluation, outcome


def default_score(normal_digits) -> str:
    """All ten digits normal: the model answers "is this a digit?" for anything dropped, so it
    weighs the evidence with outlier exposure; some digits normal: the mixture score."""
    return "evidence" if is_all_digits(normal_digits) else "mixture"


SAVED_RULE = "saved"


def save_threshold(registry, name: str, threshold: float):
    """A new user version of `name` whose threshold is `threshold` (rule "saved"): the model
    in use's verified file and record, with the new threshold beside the fitted ones. It is
    put in use at once; rolling back returns to the previous version."""
    from datetime import UTC, datetime

    from training.registry import verify

    if not np.isfinite(threshold):
        raise ValueError(f"The threshold must be a finite number, got {threshold!r}.")
    entry = registry.entry(name)
    verify(entry)
    record = {key: value for key, value in entry.record.items() if key not in ("file", "sha256")}
    previous = f"{record['threshold_rule']} {record['thresholds'][record['threshold_rule']]:.3f}"
    record["thresholds"] = {**record["thresholds"], SAVED_RULE: float(threshold)}
    record["threshold_rule"] = SAVED_RULE
    record["threshold_saved"] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "replaced": previous,
    }
    return registry.install(name, entry.path, record)


@dataclass
class AnomalyPrediction:
    path: str
    status: str  # "ok" | "rejected" (not digit-shaped: always an anomaly) | "error"
    message: str = ""
    score: float | None = None
    threshold: float | None = None
    anomaly: bool | None = None
    model_input: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
    error_map: np.ndarray | None = None
    # What pushed the score up, largest first: {"reason": ..., "contribution": ...}
    evidence: list[dict] = field(default_factory=list)
    verdict: str = ""  # the word the table and the headline show, e.g. "not a digit"

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "score": self.score,
            "threshold": self.threshold,
            "anomaly": self.anomaly,
            "status": self.status,
            "message": self.message,
            "verdict": self.verdict,
            "evidence": self.evidence,
        }


def verdict_words(normal_digits) -> tuple[str, str]:
    """(normal, anomalous): the all-digits model answers "is this a digit?"."""
    return ("digit", "not a digit") if is_all_digits(normal_digits) else ("normal", "anomaly")


def evidence_list(evidence_row: np.ndarray) -> list[dict]:
    """The reasons that pushed one image's evidence score up, largest first."""
    from training.anomaly_evidence import REASONS

    pushes = [
        (float(value), reason) for value, reason in zip(evidence_row, REASONS, strict=False) if value > 0
    ]
    return [
        {"reason": reason, "contribution": round(value, 3)} for value, reason in sorted(pushes, reverse=True)
    ]


def _top_reasons(evidence: list[dict]) -> str:
    """The two largest reasons, as the message names them."""
    return ", ".join(item["reason"] for item in evidence[:2])


def whole_image_input(gray: np.ndarray) -> np.ndarray:
    """When no digit-like ink can be isolated, the whole image, light-on-dark, 28×28."""
    from PIL import Image

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray = 1.0 - gray
    small = Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8)).resize((IMAGE_SIZE, IMAGE_SIZE))
    return np.asarray(small, dtype=np.uint8)


ARRAY_IMAGE_KEYS = ("x_test", "x", "images", "x_train")
ARRAY_LABEL_KEYS = ("y_test", "y", "labels", "y_train")


def load_image_array(path) -> tuple[np.ndarray, np.ndarray | None]:
    """MNIST-format images from a .npz: (N, 28, 28) or (N, 784), 0-255 or 0-1, light ink on
    black; digit labels when the file has them (`y_test`, `y` or `labels`)."""
    from training.errors import DatasetInvalidError

    try:
        with np.load(path, allow_pickle=False) as archive:
            image_key = next((key for key in ARRAY_IMAGE_KEYS if key in archive.files), None)
            if image_key is None:
                raise DatasetInvalidError(
                    f"{Path(path).name}: no image array; expected one named {', '.join(ARRAY_IMAGE_KEYS)} "
                    f"(found {', '.join(archive.files) or 'nothing'})."
                )
            pixels = archive[image_key]
            label_key = ARRAY_LABEL_KEYS[ARRAY_IMAGE_KEYS.index(image_key)]
            labels = archive[label_key] if label_key in archive.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetInvalidError(f"{Path(path).name} is not a readable .npz archive ({error}).") from None
    if pixels.ndim == 2 and pixels.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        pixels = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if pixels.ndim != 3 or pixels.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(pixels) == 0:
        raise DatasetInvalidError(
            f"{Path(path).name}: '{image_key}' has shape {pixels.shape}; expected (N, 28, 28) or (N, 784)."
        )
    if not np.issubdtype(pixels.dtype, np.number) or not np.isfinite(pixels).all():
        raise DatasetInvalidError(f"{Path(path).name}: '{image_key}' must hold finite numbers.")
    if pixels.max() <= 1.0:
        pixels = pixels * 255.0
    pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    if labels is not None and (labels.shape != (len(pixels),) or not np.isin(labels, np.arange(10)).all()):
        labels = None  # labels that are not one digit per image are ignored, not guessed at
    return pixels, labels


class AnomalyPredictor:
    def __init__(self, autoencoder, entry):
        self.autoencoder = autoencoder
        self.entry = entry
        self.statistics = ScoreStatistics.from_json(entry.record["score_statistics"])
        self.score_name = entry.record["score"]
        self.thresholds = dict(entry.record["thresholds"])
        self.threshold_rule = entry.record["threshold_rule"]

    @classmethod
    def load(cls, name: str = ALL_DIGITS_MODEL, registry=None) -> AnomalyPredictor:
        predictor = cls(*load_verified_model(name, registry))
        predictor.score_pixels(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8))  # warm up
        return predictor

    @property
    def threshold(self) -> float:
        return self.thresholds[self.threshold_rule]

    @property
    def normal_digits(self) -> tuple[int, ...]:
        return tuple(self.entry.record["hyper_parameters"]["normal_digits"])

    def score_pixels(self, pixels: np.ndarray) -> ScoredImages:
        return score_images(self.autoencoder, self.statistics, pixels, self.score_name)

    def score_batch(
        self, pixels: np.ndarray, report: ProgressCallback = ignore_progress, cancel=None, chunk: int = 500
    ) -> ScoredImages:
        """`score_pixels` in chunks, reporting progress; raises TrainingCancelled when cancelled."""
        parts = []
        for start in range(0, len(pixels), chunk):
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled("Scoring cancelled.")
            parts.append(self.score_pixels(pixels[start : start + chunk]))
            done = min(start + chunk, len(pixels))
            report(Progress("scoring", done, len(pixels), f"{done:,}/{len(pixels):,} images"))
        return ScoredImages.concatenate(parts)

    def judge_prepared(self, prepared) -> tuple[bool, str]:
        """The Digits tool's gate: is a digit prepared by `digits.prepare_digit` flagged, and
        why, in words."""
        scored = self.score_pixels(self._judged_copy(prepared)[None])
        score = float(scored.scores[0])
        why = _top_reasons(evidence_list(scored.evidence[0])) or "it does not look like a digit"
        return score > self.threshold, f"{why} (anomaly score {score:.2f} > threshold {self.threshold:.2f})"

    def _judged_copy(self, prepared) -> np.ndarray:
        """The copy of a prepared digit this model's score was fitted on: as drawn for the
        evidence score, stroke-normalised for the others."""
        return prepared.as_drawn if self.score_name == "evidence" else prepared.pixels

    @property
    def verdict_words(self) -> tuple[str, str]:
        return verdict_words(self.normal_digits)

    def predict_array_file(self, path) -> list[AnomalyPrediction]:
        """One answer per image of a .npz of MNIST-format arrays (scored as they are), named
        `file.npz[row]`; one "error" answer when the file cannot be read."""
        from training.errors import WorkbenchError

        try:
            pixels, _labels = load_image_array(path)
        except WorkbenchError as error:
            return [AnomalyPrediction(str(path), "error", str(error))]
        scored = self.score_batch(pixels)
        return [self._answer(f"{path}[{row}]", pixels[row], scored, row) for row in range(len(pixels))]

    def predict_file(self, path) -> AnomalyPrediction:
        """Read any image and score it as dropped.

        An image already in MNIST format is scored as it is. Any other image is read with the
        Digits tool's preprocessing; the evidence score judges the as-drawn copy (a filled
        shape stays filled), older scores the stroke-normalised copy they were fitted on."""
        from training import images
        from training.anomaly_evidence import looks_like_mnist
        from training.digits import DECODE_SIDE, prepare_digit
        from training.errors import WorkbenchError

        try:
            gray = images.to_grayscale(images.open_image(path, draft_size=(DECODE_SIDE, DECODE_SIDE)))
        except WorkbenchError as error:
            return AnomalyPrediction(str(path), "error", images.name_once(path, str(error)))
        rejected_reason = None
        if looks_like_mnist(gray):
            pixels = (np.clip(gray, 0, 1) * 255).round().astype(np.uint8)
        else:
            prepared = prepare_digit(gray)
            rejected_reason = prepared.rejected_reason
            pixels = whole_image_input(gray) if prepared.pixels is None else self._judged_copy(prepared)
        return self._answer(str(path), pixels, self.score_pixels(pixels[None]), 0, rejected_reason)

    def _answer(
        self,
        path: str,
        pixels: np.ndarray,
        scored: ScoredImages,
        row: int,
        rejected_reason: str | None = None,
    ) -> AnomalyPrediction:
        """Row `row` of `scored` as the table, the headline and the JSON say it."""
        normal_word, anomalous_word = self.verdict_words
        score = float(scored.scores[row])
        margin = score - self.threshold
        evidence = evidence_list(scored.evidence[row])
        if rejected_reason is not None:
            # Nothing digit-shaped could be isolated, so whatever the whole image scores, it is
            # not a normal digit; the score is still given for the histogram.
            status, anomalous = "rejected", True
            evidence = [{"reason": rejected_reason.rstrip("."), "contribution": None}, *evidence]
            message = f"{anomalous_word}: {rejected_reason.rstrip('.')} (whole image scores {score:.2f})"
        else:
            status, anomalous = "ok", margin > 0
            side = "above" if margin > 0 else "below"
            why = f" — {_top_reasons(evidence)}" if anomalous and evidence else ""
            message = (
                f"{anomalous_word if anomalous else normal_word}{why}: score {score:.2f}, "
                f"{abs(margin):.2f} {side} the threshold"
            )
        return AnomalyPrediction(
            path,
            status,
            message,
            score,
            self.threshold,
            bool(anomalous),
            pixels,
            scored.reconstructions[row],
            scored.error_maps[row],
            evidence,
            anomalous_word if anomalous else normal_word,
        )
