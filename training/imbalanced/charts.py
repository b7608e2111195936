"""The Results page's six charts of the selected configurations on the test split: ROC,
precision-recall, reliability, cumulative gains, lift and the scores by class. Drawn on any
matplotlib figure, so that the tab and the case report show the same picture."""

from __future__ import annotations

import numpy as np

from training.core.charts import draw_reliability
from training.core.probability_figures import expected_calibration_error
from training.imbalanced.grid import curves

CURVE_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def draw_results(
    figure,
    labels: np.ndarray | None,
    selected: list,
    positive_label: str,
    marked_threshold: float | None = None,
) -> None:
    """The charts of the `selected` configurations (at most six; the first one's reliability and
    score spread) against the test split's `labels` (None before a split: empty axes), the
    scores' chart marking `marked_threshold` (None: the first one's own)."""
    (roc_axes, pr_axes, reliability_axes), (gains_axes, lift_axes, spread_axes) = figure.subplots(2, 3)
    for index, result in enumerate(selected[: len(CURVE_COLOURS)]):
        points = curves(labels, result.test_probabilities)
        label = result.label
        colour = CURVE_COLOURS[index]
        ranking = result.ranking
        roc_axes.plot(
            *points["roc"],
            color=colour,
            label=f"{ranking['roc_auc']:.3f} · KS {ranking['ks']:.2f} · Gini {ranking['gini']:.2f}",
        )
        pr_axes.plot(*points["pr"], color=colour, label=f"{ranking['pr_auc']:.3f}")
        gains_axes.plot(*points["gains"], color=colour, label=label)
        lift_axes.plot(*points["lift"], color=colour)
        if index == 0:  # one configuration's calibration and score spread stay readable
            draw_reliability(
                reliability_axes,
                expected_calibration_error(result.test_probabilities, labels),
                f"Brier {ranking['brier']:.3f}",
                f"'{positive_label}'",
                "rows",
                legend=False,
            )
            for actual, style in ((0, "#999999"), (1, colour)):
                spread_axes.hist(
                    result.test_probabilities[labels == actual],
                    bins=40,
                    range=(0, 1),
                    density=True,
                    histtype="step",
                    color=style,
                    label="actually yes" if actual else "actually no",
                )
            # The CV-chosen threshold (the tab's slider moves without redrawing the charts), or the
            # one a report marks.
            spread_axes.axvline(
                result.threshold if marked_threshold is None else marked_threshold,
                color="#555555",
                linestyle="--",
                linewidth=0.8,
            )
    roc_axes.plot([0, 1], [0, 1], color="#999999", linestyle=":")
    gains_axes.plot([0, 1], [0, 1], color="#999999", linestyle=":")
    lift_axes.axhline(1.0, color="#999999", linestyle=":")
    if labels is not None:
        pr_axes.axhline(labels.mean(), color="#999999", linestyle=":")
    roc_axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test split)")
    pr_axes.set(xlabel="recall", ylabel="precision", title="Precision–recall (test split)")
    gains_axes.set(
        xlabel="rows contacted (best scores first)",
        ylabel="positives found",
        title="Cumulative gains (test split)",
    )
    lift_axes.set(xlabel="rows contacted (best scores first)", ylabel="× random", title="Lift (test split)")
    spread_axes.set(
        xlabel="predicted probability", ylabel="density", title="Scores by class (first selected)"
    )
    if selected:
        # The configurations are named once, where the curves leave room; ROC and PR give figures.
        for axes, place in (
            (roc_axes, "lower right"),
            (pr_axes, "upper right"),
            (gains_axes, "lower right"),
            (spread_axes, "upper right"),
        ):
            axes.legend(fontsize=6, loc=place, framealpha=0.7, handlelength=1.2, borderpad=0.3)
