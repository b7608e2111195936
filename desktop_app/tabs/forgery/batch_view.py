"""The Forgery tab's batch view: photos scored one by one into a sortable table (the engine's
cheap path, `ForgeryPredictor.predict_file`: the verdict alone), exported to CSV, and the chart
of their tampering probabilities on the "Batch scores" page."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from tkinter import ttk

import numpy as np

from desktop_app import file_dialogs
from desktop_app.tabs.forgery.colours import (
    INCONCLUSIVE_COLOUR,
    NO_VERDICT_COLOUR,
    TAMPERED_COLOUR,
    VERDICT_COLOURS,
)
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.tooltip import tip
from training import forgery
from training.core.progress import Progress

CHART_REDRAW_SECONDS = 0.5
CSV_COLUMNS = (
    "file",
    "path",
    "status",
    "verdict",
    "best_guess",
    "reason",
    "tampered_probability",
    "threshold",
    "jpeg_quality",
    "format",
    "width",
    "height",
    "sha256",
    "warnings",
    "message",
)


class BatchView(ttk.Frame):
    """The progress bar, the table of every verdict on screen (a row selected shows its photo)
    and its buttons; the chart of their scores is drawn on `chart_page` once it is opened."""

    def __init__(self, parent, tab, chart_page: ttk.Frame):
        super().__init__(parent)
        self.tab = tab
        self.chart_page = chart_page
        self.verdicts: dict[str, forgery.ForgeryVerdict] = {}
        self.exported = True  # every verdict on screen is in an exported CSV
        self.chart = None
        self._last_chart_draw = 0.0
        tab.build_batch_progress(self)
        self.results = ResultsTable(
            self,
            [
                ("file", "File", 70),
                ("verdict", "Verdict", 78),
                ("probability", "Probability", 86),
                ("warnings", "Warnings", 66),
            ],
            height=10,
        )
        self.results.pack(fill="both", expand=True, pady=(4, 0))
        self.results.tree.tag_configure("tampered", foreground=TAMPERED_COLOUR)
        self.results.tree.tag_configure("inconclusive", foreground=INCONCLUSIVE_COLOUR)
        self.results.tree.tag_configure("error", foreground=NO_VERDICT_COLOUR)
        self.results.tree.bind("<<TreeviewSelect>>", lambda _event: self._show_selected())
        buttons = ttk.Frame(self)
        buttons.pack(fill="x", pady=(4, 0))
        ttk.Button(buttons, text="Clear", command=tab.clear).pack(side="right")
        self.export_button = ttk.Button(buttons, text="Export…", command=self._ask_export)
        self.export_button.pack(side="right", padx=(0, 4))
        tip(self.export_button, "Write the table to CSV, every warning in full.")

    # The table -----------------------------------------------------------------------------------
    @staticmethod
    def _row(verdict: forgery.ForgeryVerdict) -> tuple:
        if verdict.status != "ok":
            return (Path(verdict.path).name, "error", "", verdict.message)
        warnings = verdict.warnings
        warning_text = f"{len(warnings)} ⚠ {warnings[0]}" if warnings else ""
        if verdict.reason:
            warning_text = f"{verdict.reason} {warning_text}".strip()
        return (
            Path(verdict.path).name,
            verdict.shown_label,
            f"{verdict.tampered_probability:.3f}",
            warning_text,
        )

    def record(self, verdict: forgery.ForgeryVerdict, select: bool = False) -> None:
        """`verdict`'s row, added or brought up to date; `select` also selects it."""
        key = verdict.path
        tags = ("error",) if verdict.status != "ok" else (verdict.shown_label,)
        self.results.put(key, self._row(verdict), tags)
        self.verdicts[key] = verdict
        self.exported = False
        if select:
            self.results.tree.selection_set(key)
            self.results.tree.see(key)
        if self.chart is not None and time.monotonic() - self._last_chart_draw > CHART_REDRAW_SECONDS:
            self.draw_chart()

    def _show_selected(self) -> None:
        key = self.results.selected()
        if key is None or key == self.tab.photo.path_shown:
            return
        verdict = self.verdicts.get(key)
        self.tab.photo.show_photo(
            Path(key), verdict if verdict is not None and verdict.status == "ok" else None
        )

    def score_batch(self, paths: list[Path], show_first: bool = False) -> None:
        """Score `paths` one by one on a worker thread; rows appear as verdicts arrive."""
        self.tab.set_status(f"Forgery: scoring {len(paths)} photo(s)…")
        first = {"pending": show_first}

        def score(job, predictor):
            for position, path in enumerate(paths):
                if job.cancelled:
                    break
                job.post(predictor.predict_file(path))
                job.report(Progress("scoring", position + 1, len(paths), path.name))

        def add(verdict: forgery.ForgeryVerdict) -> None:
            self.record(verdict)
            if first["pending"]:
                first["pending"] = False
                self.results.tree.selection_set(verdict.path)
                self.results.tree.see(verdict.path)

        def finished(_result) -> None:
            self.tab.set_status(f"Forgery: scored {len(paths)} photo(s); select a row to see one.")
            self.draw_chart()

        self.tab.with_predictor(
            self.tab.selected_model_name(),
            lambda predictor: self.tab.run_batch_job(
                f"score {len(paths)} photo(s)",
                lambda job: score(job, predictor),
                on_partial=add,
                on_success=finished,
            ),
        )

    def clear(self) -> None:
        self.results.clear()
        self.verdicts.clear()
        self.draw_chart()

    # Exports and the chart -----------------------------------------------------------------------
    def _ask_export(self) -> None:
        path = file_dialogs.ask_save(
            self, file_dialogs.EXPORTS, defaultextension=".csv", initialfile="forgery-verdicts.csv"
        )
        if path:
            self.export_csv(path)

    def unsaved_results(self) -> str:
        if self.exported or not self.verdicts:
            return ""
        return f"Forgery: {len(self.verdicts)} verdict(s) not exported."

    def export_csv(self, path: Path) -> int:
        """The table's rows in the order shown, with every warning in full; returns the count."""
        verdicts = self.results.in_shown_order(self.verdicts)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS)
            writer.writeheader()
            for verdict in verdicts:
                facts = verdict.facts
                writer.writerow(
                    {
                        "file": Path(verdict.path).name,
                        "path": verdict.path,
                        "status": verdict.status,
                        "verdict": verdict.shown_label if verdict.status == "ok" else "",
                        "best_guess": verdict.label or "",
                        "reason": verdict.reason or "",
                        "tampered_probability": ""
                        if verdict.tampered_probability is None
                        else f"{verdict.tampered_probability:.6f}",
                        "threshold": "" if verdict.threshold is None else f"{verdict.threshold:.6f}",
                        "jpeg_quality": "" if verdict.jpeg_quality is None else verdict.jpeg_quality,
                        "format": facts.format if facts else "",
                        "width": facts.width if facts else "",
                        "height": facts.height if facts else "",
                        "sha256": facts.sha256 if facts else "",
                        "warnings": " | ".join(verdict.warnings),
                        "message": verdict.message,
                    }
                )
        self.tab.set_status(f"Forgery: {len(verdicts)} verdict(s) written to {path}.")
        self.exported = True
        return len(verdicts)

    def show_chart(self) -> None:
        """Draw the chart on its page, made the first time the page is opened."""
        if self.chart is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            self.chart = PlotPanel(self.chart_page, 5.4, 4.0)
            self.chart.pack(fill="both", expand=True)
        self.draw_chart()

    def draw_chart(self) -> None:
        """Tampering probabilities of every photo in the table, against the threshold."""
        if self.chart is None:
            return
        self._last_chart_draw = time.monotonic()
        figure = self.chart.clear()
        axes = figure.add_subplot()
        scored = [verdict for verdict in self.verdicts.values() if verdict.status == "ok"]
        if not scored:
            axes.text(0.5, 0.5, "Drop several photos or a folder\nto compare their scores.", ha="center")
            axes.axis("off")
            self.chart.redraw()
            return
        bins = np.linspace(0, 1, 26)
        for label, colour in VERDICT_COLOURS.items():
            values = [verdict.tampered_probability for verdict in scored if verdict.shown_label == label]
            if values:
                axes.hist(values, bins=bins, color=colour, alpha=0.7, label=f"{label} ({len(values)})")
        axes.axvline(scored[0].threshold, color="#333333", linestyle="--", label="threshold")
        axes.set_xlim(0, 1)
        axes.set_xlabel("tampering probability")
        axes.set_ylabel("photos")
        axes.legend(loc="upper center", fontsize=8)
        warned = sum(bool(verdict.warnings) for verdict in scored)
        axes.set_title(f"{len(scored)} photos scored, {warned} with trust warnings", fontsize=10)
        self.chart.redraw()
