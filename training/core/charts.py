"""Charts that the tabs, their case reports and `bench/` draw alike, on any matplotlib axes:
the reliability diagram (how often items given a probability really were positive) and the
confusion matrix."""

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


def draw_confusion(
    axes, matrix, labels, title: str = "", names: tuple[str, str] = ("true", "predicted")
) -> None:
    """A confusion matrix (rows: the true class) with each cell's count, shaded by the log of
    the count so that the errors off a large diagonal still show; in matrices larger than 2×2
    the empty cells are left blank to keep them readable."""
    import numpy as np

    counts = np.asarray(matrix)
    shown = np.log1p(counts)
    axes.imshow(shown, cmap="Blues")
    for (true, predicted), value in np.ndenumerate(counts):
        if value or len(counts) <= 2:
            axes.text(
                predicted,
                true,
                f"{value:,}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[true, predicted] > shown.max() * 0.6 else "black",
            )
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set(xlabel=names[1], ylabel=names[0], title=title)
