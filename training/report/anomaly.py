"""The Anomaly case report: per image its facts, the score against the threshold and its rule,
the verdict, what pushed the score up, and the model's input beside its reconstruction and
the reconstruction error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from training import anomaly
from training.report.document import (
    DIGIT_PICTURE_SIDE,
    CaseReport,
    figure_uri,
    file_facts,
    model_facts,
    new_figure,
    percent,
    png_uri,
    render,
)


def model_figures(metrics: dict) -> list[tuple[str, str]]:
    figures = []
    if metrics.get("test_flagged_fraction") is not None:
        figures.append(("Share of the MNIST test set it flags", percent(metrics["test_flagged_fraction"])))
    if metrics.get("auroc") is not None:
        figures.append(
            (
                "One-class test (its digit against the other nine)",
                f"AUROC {metrics['auroc']:.4f}, AUPR {metrics.get('aupr', float('nan')):.4f}",
            )
        )
    at_threshold = metrics.get("at_threshold")
    if at_threshold:
        figures.append(
            (
                "At its threshold",
                f"precision {percent(at_threshold.get('precision'))}, recall {percent(at_threshold.get('recall'))}",
            )
        )
    return figures


def scores_figure(entry, predictions: list[anomaly.AnomalyPrediction], threshold: float) -> str | None:
    """The scores of the model's normal validation images (from its record), the threshold,
    and where each analysed image scores, as the tab's "Scores & threshold" page shows them."""
    validation = np.asarray(entry.record.get("validation_scores", []), dtype=float)
    scored = [prediction.score for prediction in predictions if prediction.score is not None]
    if validation.size == 0 and not scored:
        return None
    figure = new_figure(6.5, 2.8)
    axes = figure.subplots()
    if validation.size:
        axes.hist(validation, bins=60, color="#5d8aa8", alpha=0.8, label="normal validation images")
    for score in scored:
        axes.axvline(score, color="#8e44ad", linewidth=1)
    axes.axvline(
        threshold, color="#b03a2e", linestyle="--", linewidth=1.5, label=f"threshold {threshold:.3f}"
    )
    axes.plot([], [], color="#8e44ad", label="the images analysed")
    axes.set(xlabel="anomaly score", ylabel="images", title=f"{entry.name}: anomaly scores")
    axes.legend(fontsize=7)
    return figure_uri(figure)


def image_section(prediction: anomaly.AnomalyPrediction, threshold: float, words: tuple[str, str]) -> dict:
    anomalous = prediction.anomalous_at(threshold)
    if prediction.score is None:
        verdict, css = prediction.status, "error"
    else:
        verdict, css = (words[1], "anomalous") if anomalous else (words[0], "normal")
    pictures = []
    if prediction.model_input is not None:
        pictures.append((prediction.model_input, "What the model sees"))
    if prediction.reconstruction is not None:
        pictures.append(((prediction.reconstruction * 255).astype(np.uint8), "Its reconstruction"))
    if prediction.error_map is not None:
        pictures.append((anomaly.error_heatmap(prediction.error_map), "Error (bright = worse)"))
    # Evidence without a size is a reason in itself (e.g. nothing digit-shaped); sized reasons
    # explain a flag, as in the tab.
    reasons = [item for item in prediction.evidence if item["contribution"] is None or anomalous]
    return {
        "facts": file_facts(prediction.path),
        "prediction": prediction,
        "verdict": verdict,
        "css": css,
        "margin": None if prediction.score is None else prediction.score - threshold,
        "reasons": reasons,
        "pictures": [
            (
                png_uri(
                    image if isinstance(image, Image.Image) else Image.fromarray(image),
                    DIGIT_PICTURE_SIDE,
                    True,
                ),
                caption,
            )
            for image, caption in pictures
        ],
    }


def anomaly_report(
    predictions: list[anomaly.AnomalyPrediction], entry, threshold: float, rule: str
) -> CaseReport:
    """The report of `predictions` by the model of `entry`, judged at `threshold` (the model's,
    or one the user chose in the tab), which `rule` describes."""
    words = anomaly.verdict_words(tuple(entry.record["hyper_parameters"]["normal_digits"]))
    single = len(predictions) == 1
    name = Path(predictions[0].path).name if single else f"{len(predictions)} images"
    sections = [image_section(prediction, threshold, words) for prediction in predictions]
    return render(
        "anomaly",
        f"Anomaly case report: {name}",
        len(predictions),
        sections=sections,
        single=single,
        model=model_facts(entry, model_figures(entry.metrics)),
        threshold=threshold,
        rule=rule,
        scores=scores_figure(entry, predictions, threshold),
        score_name=entry.record.get("score", ""),
        words=words,
        flagged=sum(section["css"] == "anomalous" for section in sections),
    )


def rule_words(entry, threshold: float) -> str:
    """The threshold's rule in words: the fitted (or saved) rule whose threshold it is, the
    model's own first, or "chosen by hand" when it is none of them."""
    rule = entry.record.get("threshold_rule", "")
    thresholds = entry.record.get("thresholds", {})
    for name in sorted(thresholds, key=lambda name: name != rule):
        if abs(thresholds[name] - threshold) < 1e-9:
            own = "the model's own rule" if name == rule else "another of the model's rules"
            return f"{anomaly.RULE_LABELS.get(name, name)}, {own}"
    return f"chosen by hand in the tab; the model's own rule, {anomaly.RULE_LABELS.get(rule, rule)}, gives {thresholds.get(rule, float('nan')):.3f}"
