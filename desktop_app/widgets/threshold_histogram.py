"""Histograms of scores with a threshold line the user drags (or clicks to place)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from desktop_app.widgets.plot_panel import PlotPanel


@dataclass(frozen=True)
class ScoreSeries:
    label: str
    scores: np.ndarray
    color: str
    marks: bool = False  # a few scores: drawn as ticks along the axis, not as a histogram


class ThresholdHistogram(PlotPanel):
    """`on_change(threshold, final)` is called while dragging (final=False) and on release."""

    def __init__(self, parent, on_change: Callable[[float, bool], None], **options):
        super().__init__(parent, **options)
        self.on_change = on_change
        self.threshold: float | None = None
        self.axes = None
        self.line = None
        self.dragging = False
        self.canvas.mpl_connect("button_press_event", self._on_press)
        self.canvas.mpl_connect("motion_notify_event", self._on_motion)
        self.canvas.mpl_connect("button_release_event", self._on_release)

    def draw(self, series: Sequence[ScoreSeries], threshold: float, title: str = "") -> None:
        figure = self.clear()
        self.axes = axes = figure.add_subplot()
        finite = [s.scores[np.isfinite(s.scores)] for s in series if len(s.scores)]
        everything = np.concatenate(finite) if finite else np.array([threshold])
        # Scores have long right tails: clip the view to where almost all of them lie.
        low, high = np.percentile(np.append(everything, threshold), [0, 99.5])
        high = max(high, threshold) + 0.05 * (high - low + 1e-9)
        bins = np.linspace(low, high, 60)
        for item in series:
            if not len(item.scores):
                continue
            if item.marks:
                axes.plot(
                    np.clip(item.scores, low, high),
                    np.zeros(len(item.scores)),
                    "|",
                    color=item.color,
                    markersize=18,
                    markeredgewidth=2,
                    label=f"{item.label} ({len(item.scores)})",
                    transform=axes.get_xaxis_transform(),
                    clip_on=False,
                )
            else:
                axes.hist(
                    np.clip(item.scores, low, high),
                    bins=bins,
                    density=True,
                    alpha=0.55,
                    color=item.color,
                    label=f"{item.label} ({len(item.scores):,})",
                )
        self.line = axes.axvline(threshold, color="#c0392b", linewidth=2, label="threshold (drag me)")
        self.threshold = float(threshold)
        axes.set_xlim(low, high)
        axes.set_xlabel("anomaly score (higher = more anomalous)")
        axes.set_ylabel("density")
        if title:
            axes.set_title(title, fontsize=10)
        axes.legend(loc="upper right", fontsize=8)
        self.redraw()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        if self.line is not None:
            self.line.set_xdata([threshold, threshold])
            self.redraw()

    def _usable(self, event) -> bool:
        navigating = getattr(self, "toolbar", None) is not None and self.toolbar.mode
        return event.inaxes is self.axes and event.xdata is not None and not navigating

    def _on_press(self, event) -> None:
        if event.button == 1 and self._usable(event):
            self.dragging = True
            self._move_to(event.xdata, final=False)

    def _on_motion(self, event) -> None:
        if self.dragging and self._usable(event):
            self._move_to(event.xdata, final=False)

    def _on_release(self, event) -> None:
        if self.dragging:
            self.dragging = False
            self._move_to(event.xdata if self._usable(event) else self.threshold, final=True)

    def _move_to(self, threshold: float, final: bool) -> None:
        self.set_threshold(threshold)
        self.on_change(self.threshold, final)

    def pixel_of(self, threshold: float) -> tuple[int, int]:
        """Where `threshold` is drawn, in the canvas widget's pixels (for tests and tours)."""
        x, y = self.axes.transData.transform((threshold, 0))
        _, top = self.axes.transAxes.transform((0, 0.5))
        height = self.canvas.get_tk_widget().winfo_height()
        return round(x), round(height - top)
