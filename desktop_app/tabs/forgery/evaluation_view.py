"""The Forgery tab's "Model evaluation" page: how far the selected model's probabilities can be
trusted, read from its manifest record (nothing is computed here)."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

import numpy as np

from desktop_app.tabs.forgery.colours import INCONCLUSIVE_COLOUR, TAMPERED_COLOUR
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import forgery
from training.core.errors import WorkbenchError
from training.forgery import data as forgery_data


class EvaluationView(ttk.Frame):
    """The reliability diagram on the held-out set, and ROC AUC, false alarms and inconclusive
    answers per final-quality band, with a note that sums them up."""

    def __init__(self, parent, tab):
        from desktop_app.widgets.plot_panel import PlotPanel

        super().__init__(parent)
        self.tab = tab
        self.note = tk.StringVar(value="")
        WrappingLabel(self, textvariable=self.note, justify="left").pack(
            side="bottom", anchor="w", fill="x", pady=(4, 0)
        )
        self.chart = PlotPanel(self, 7.0, 4.0)
        self.chart.pack(fill="both", expand=True)

    def draw(self) -> None:
        """The figures of the model selected in the tab."""
        from training.core.charts import draw_reliability

        figure = self.chart.clear()
        name = self.tab.selected_model_name()
        try:
            record = self.tab.app.registry.entry(name).record
        except WorkbenchError as error:
            self.note.set(str(error))
            self.chart.redraw()
            return
        extra = record.get("metrics", {}).get("generalisation", {}).get("extra", {})
        if "reliability" not in extra:
            self.note.set(
                f"{name} was trained without the held-out evaluation (no reliability figures in its "
                "record). Retrain it from the Models menu to get them."
            )
            self.chart.redraw()
            return
        reliability_axes, band_axes = figure.subplots(1, 2)
        draw_reliability(reliability_axes, extra["reliability"], "held-out photos")
        bands = extra["by_condition"]["band"]
        names = [band for band in forgery_data.BAND_NAMES if band in bands]
        positions = np.arange(len(names))
        for offset, key, label, colour in (
            (-0.27, "roc_auc", "ROC AUC", "#4c72b0"),
            (0.0, "conclusive_false_alarm_rate", "false alarms (conclusive)", TAMPERED_COLOUR),
            (0.27, "inconclusive_share", "inconclusive", INCONCLUSIVE_COLOUR),
        ):
            values = [bands[band][key] or 0.0 for band in names]
            band_axes.bar(positions + offset, values, width=0.27, color=colour, label=label)
        band_axes.set_xticks(positions, names, fontsize=8)
        band_axes.set_ylim(0, 1.05)
        band_axes.set_xlabel("final save of the photo")
        band_axes.set_title("by final JPEG quality", fontsize=9)
        band_axes.legend(loc="center right", fontsize=7)
        overall = extra["by_condition"]["all"]
        calibration = forgery.Calibration.from_record(record)
        self.note.set(
            f"{name}, on {overall['images']} held-out photos no training run saw: ROC AUC "
            f"{overall['roc_auc']:.3f}, false alarms {overall['false_alarm_rate']:.1%} "
            f"({overall['conclusive_false_alarm_rate']:.1%} among conclusive answers), "
            f"{overall['inconclusive_share']:.1%} inconclusive. A verdict between "
            f"{calibration.undecided[0]:.0%} and {calibration.undecided[1]:.0%} is shown as inconclusive."
        )
        self.chart.redraw()
