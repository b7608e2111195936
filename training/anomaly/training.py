"""Training an anomaly model, evaluating it, and publishing it with its manifest record."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from training.anomaly.networks import AnomalyTrainingConfig, build_autoencoder, is_all_digits
from training.anomaly.scoring import (
    ScoredImages,
    ScoreStatistics,
    fit_evidence,
    fit_score_statistics,
    score_images,
)
from training.anomaly.thresholds import (
    available_threshold_rules,
    fit_threshold,
    ranking_metrics,
    verdict_metrics,
)
from training.core.datasets import MnistData, validation_split
from training.core.digit_images import scale_pixels
from training.core.errors import InvalidInputError, TrainingCancelled
from training.core.keras_io import import_keras, seed_everything
from training.core.model_quality import Headline
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.core.provenance import provenance_record, publish_network

# Normal digits the evidence score's outlier exposure sees beside the synthetic non-digits
# (a third of them also "photographed"; see training.anomaly.evidence.exposure_sets).
EXPOSURE_DIGITS = 9000


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
            except InvalidInputError as error:
                refused[rule] = str(error)
        else:
            thresholds[rule] = fit_threshold(rule, normal_scores, parameters.get(rule))
    if config.threshold_rule not in thresholds:
        raise InvalidInputError(
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
    from training.core.keras_io import progress_callback

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
        exposure_digits = np.random.default_rng(config.seed).permutation(train_indices)[:EXPOSURE_DIGITS]
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


ALL_DIGITS_MODEL = "anomaly-all-digits"


def model_name(normal_digits: tuple[int, ...]) -> str:
    if is_all_digits(normal_digits):
        return ALL_DIGITS_MODEL
    return "anomaly-digits-" + "".join(str(digit) for digit in sorted(normal_digits))


def manifest_record(model: AnomalyModel, evaluation: dict, data: MnistData) -> dict:
    config = model.config
    description = (
        f"Convolutional autoencoder ({config.architecture}, latent {config.latent_dim}); "
        f"normal digits {''.join(map(str, config.normal_digits))}"
    )
    return provenance_record(
        "anomaly",
        description,
        data.provenance(),
        config.seed,
        asdict(config),
        model.autoencoder,
        model.training_seconds,
    ) | {
        "score": config.score,
        "score_statistics": model.statistics.to_json(),
        "threshold_rule": config.threshold_rule,
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
    put in use, unless `force` (see `training.core.model_quality`). Returns the new version's
    entry, the evaluation and the `RetrainOutcome` saying whether it is in use and why."""
    model = train(data, config, report, cancel)
    evaluation = evaluate(model, data)
    record = manifest_record(model, evaluation, data)
    name = model_name(config.normal_digits)
    outcome = publish_network(registry, name, model.autoencoder, record, HEADLINE, bundle, force)
    return outcome.entry, evaluation, outcome
