"""The reliability diagram: how often items given a probability really were positive. Drawn
on any matplotlib axes, so the Forgery and Imbalanced tabs, their case reports and `bench/`
show the same picture."""

from __future__ import annotations


def draw_reliability(
    axes,
    reliability: dict,
    title: str = "",
    positive: str = "tampered",
    items: str = "photos",
    legend: bool = True,
) -> None:
    """`reliability` as `training.core.probability_figures.expected_calibration_error` returns it:
    bars at each bin's observed positive share, the diagonal where they would sit if the
    probability meant exactly what it says (dashed), and each bin's count of `items`."""
    bins = reliability["bins"]
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    widths = [row["high"] - row["low"] for row in bins]
    axes.bar(
        centres,
        [row["positive_share"] for row in bins],
        width=[0.9 * width for width in widths],
        color="#4c72b0",
        alpha=0.8,
        label=f"share really {positive}",
    )
    axes.plot(
        [row["mean_probability"] for row in bins],
        [row["positive_share"] for row in bins],
        "o",
        color="#222222",
        markersize=3,
        label=f"bin: mean probability shown, share {positive}",
    )
    axes.plot([0, 1], [0, 1], "--", color="#888888", label="perfect calibration")
    for centre, row in zip(centres, bins, strict=True):
        axes.text(centre, 0.02, str(row["count"]), ha="center", fontsize=7, color="white", rotation=90)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel(f"{positive} probability shown")
    axes.set_ylabel(f"share really {positive}")
    axes.set_title(
        f"{title} (ECE {reliability['ece']:.3f})" if title else f"ECE {reliability['ece']:.3f}", fontsize=9
    )
    if legend:  # a small chart among others reads better without it
        axes.legend(loc="upper left", fontsize=6)
