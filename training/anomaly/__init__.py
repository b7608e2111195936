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
(`training.anomaly.evidence`); each term's push is named as a reason. A dropped image
already in MNIST format is scored as it is; any other image as drawn (cropped and framed
like MNIST, thick shapes left thick), not only as the Digits tool normalises it.
"""

from training.anomaly.evidence import (
    CANVAS,
    EXPOSURE_FONTS,
    EXPOSURE_KINDS,
    EXPOSURE_LETTERS,
    EXPOSURE_MARKERS,
    EXPOSURE_SYMBOLS,
    IMAGE_SIDE,
    PART_FEATURES,
    REASONS,
    SHAPE_FEATURES,
    TYPESET_DIGIT_FONTS,
    EvidenceWeights,
    exposure_sets,
    feature_names,
    fit_evidence_weights,
    looks_like_mnist,
    shape_descriptors,
)
from training.anomaly.networks import (
    ARCHITECTURES,
    SCORES,
    THRESHOLD_RULES,
    AnomalyTrainingConfig,
    build_autoencoder,
    is_all_digits,
)
from training.anomaly.predict import (
    ARRAY_IMAGE_KEYS,
    ARRAY_LABEL_KEYS,
    AnomalyPrediction,
    AnomalyPredictor,
    error_heatmap,
    evidence_list,
    load_image_array,
    verdict_words,
    whole_image_input,
)
from training.anomaly.scoring import (
    ScoredImages,
    ScoreStatistics,
    default_score,
    evidence_features,
    fit_evidence,
    fit_score_statistics,
    score_images,
)
from training.anomaly.thresholds import (
    RULE_LABELS,
    SAVED_RULE,
    available_threshold_rules,
    fit_threshold,
    ranking_metrics,
    save_threshold,
    verdict_metrics,
)
from training.anomaly.training import (
    ALL_DIGITS_MODEL,
    HEADLINE,
    AnomalyModel,
    evaluate,
    fit_all_thresholds,
    manifest_record,
    model_name,
    train,
    train_and_save,
)

__all__ = [
    "error_heatmap",
    "RULE_LABELS",
    "ALL_DIGITS_MODEL",
    "AnomalyModel",
    "AnomalyPrediction",
    "AnomalyPredictor",
    "AnomalyTrainingConfig",
    "ARCHITECTURES",
    "ARRAY_IMAGE_KEYS",
    "ARRAY_LABEL_KEYS",
    "available_threshold_rules",
    "build_autoencoder",
    "CANVAS",
    "default_score",
    "evaluate",
    "evidence_features",
    "evidence_list",
    "EvidenceWeights",
    "EXPOSURE_FONTS",
    "EXPOSURE_KINDS",
    "EXPOSURE_LETTERS",
    "EXPOSURE_MARKERS",
    "exposure_sets",
    "EXPOSURE_SYMBOLS",
    "feature_names",
    "fit_all_thresholds",
    "fit_evidence",
    "fit_evidence_weights",
    "fit_score_statistics",
    "fit_threshold",
    "HEADLINE",
    "IMAGE_SIDE",
    "is_all_digits",
    "load_image_array",
    "looks_like_mnist",
    "manifest_record",
    "model_name",
    "PART_FEATURES",
    "ranking_metrics",
    "REASONS",
    "save_threshold",
    "SAVED_RULE",
    "score_images",
    "ScoredImages",
    "SCORES",
    "ScoreStatistics",
    "shape_descriptors",
    "SHAPE_FEATURES",
    "THRESHOLD_RULES",
    "train",
    "train_and_save",
    "TYPESET_DIGIT_FONTS",
    "verdict_metrics",
    "verdict_words",
    "whole_image_input",
]
