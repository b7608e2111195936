"""Anomaly scores: the autoencoder's standardised terms, the latent mixture, and the evidence score."""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from training.anomaly.evidence import (
    EvidenceWeights,
    exposure_sets,
    feature_matrix,
    feature_names,
    fit_evidence_weights,
)
from training.anomaly.networks import is_all_digits
from training.core.digit_images import scale_pixels
from training.core.keras_io import import_keras, run_model
from training.core.provenance import manifest_numbers


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
    evidence_weights: dict = field(default_factory=dict)  # `EvidenceWeights`

    def to_json(self) -> dict:
        return {
            name: np.reshape(manifest_numbers(value), np.shape(value)).tolist()
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
    # (N, len(REASONS)): each reason's push on an evidence score; (N, 0) otherwise
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

    _maps, _reconstructions, codes, standard_error, standard_surprise = _standard_terms(
        autoencoder, statistics, images
    )
    return feature_matrix(images, standard_error, standard_surprise, codes)


def score_images(
    autoencoder, statistics: ScoreStatistics, images: np.ndarray, score: str = "mixture"
) -> ScoredImages:
    """Anomaly scores of 0-255 images (N, 28, 28): higher is more anomalous."""

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
        weights = EvidenceWeights.from_json(statistics.evidence_weights)
        features = feature_matrix(images, standard_error, standard_surprise, codes)
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

    normal, outliers = exposure_sets(config.exposure_images, config.seed, normal_images)
    names, reasons = feature_names(config.latent_dim)
    weights = fit_evidence_weights(
        evidence_features(autoencoder, statistics, normal),
        evidence_features(autoencoder, statistics, outliers),
        names,
        reasons,
        config.seed,
    )
    return replace(statistics, evidence_weights=weights.to_json())


def default_score(normal_digits) -> str:
    """All ten digits normal: the model answers "is this a digit?" for anything dropped, so it
    weighs the evidence with outlier exposure; some digits normal: the mixture score."""
    return "evidence" if is_all_digits(normal_digits) else "mixture"
