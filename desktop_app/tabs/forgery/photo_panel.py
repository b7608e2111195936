"""The Forgery tab's "Photo" page: one photo beside its Error Level Analysis, the model's verdict
with its trust warnings and localisation heatmap, and the file's metadata.

The panel only draws. A photo is analysed by one engine call on a worker thread
(`forgery.analyse_file`: decoding, facts, ELA at native resolution, the model and the
screen-sized images), and its parts are drawn as they arrive: the photo and its metadata, then
its ELA, then the verdict and its heatmap. Moving an ELA control asks the engine for a new
preview of the photo shown (`OpenedPhoto.ela`); only the newest request is computed. After a
model change the photo shown is judged again as it is open (`forgery.judge_opened`).
"""

from __future__ import annotations

import tkinter as tk
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk

from PIL import Image

from desktop_app.jobs import LatestOnly
from desktop_app.tabs.forgery.colours import NO_VERDICT_COLOUR, VERDICT_COLOURS, WARNING_COLOUR
from desktop_app.widgets.image_view import photo_beside
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import forgery
from training.core.errors import InvalidInputError

NOTHING_SHOWN = "Drop a photo to see its error levels and the verdict."


@dataclass
class ShownPhoto:
    """The photo on screen and what has arrived for it so far."""

    opened: forgery.OpenedPhoto
    ela: Image.Image | None = None  # display size
    ela_settings: forgery.ElaSettings | None = None
    verdict: forgery.ForgeryVerdict | None = None
    overlay: Image.Image | None = None  # the photo with the heatmap, display size
    views: forgery.ForensicViews | None = None  # the forensic views (display size), once computed


def labelled_slider(row, label: str, variable, lowest: float, highest: float, length: int):
    """Label, slider and the slider's value as text, left to right in `row`; returns the
    slider and the StringVar its value is shown in."""
    ttk.Label(row, text=label).pack(side="left")
    slider = ttk.Scale(row, from_=lowest, to=highest, variable=variable, length=length)
    slider.pack(side="left", padx=(4, 0))
    value_text = tk.StringVar()
    ttk.Label(row, textvariable=value_text, width=3).pack(side="left", padx=(2, 8))
    return slider, value_text


class PhotoPanel(ttk.Frame):
    """The ELA controls, the photo and ELA views (zoomed and panned together), the verdict with
    its warnings and message, and the metadata table."""

    def __init__(self, parent, tab):
        super().__init__(parent, padding=6)
        self.tab = tab
        self.shown: ShownPhoto | None = None
        self.path_shown: str | None = None
        self._generation = 0
        self.ela_settings = forgery.ElaSettings()
        self.warnings_shown: list[str] = []
        self.ela_worker = LatestOnly(
            tab.submit, "ELA preview", self._compute_ela, self._ela_ready, self._ela_failed
        )
        self._build_controls()
        self._build_answer()
        self._build_views()

    # Layout ------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        ela_row = ttk.Frame(self)
        ela_row.pack(fill="x")
        self.ela_quality = tk.IntVar(value=forgery.DEFAULT_ELA_QUALITY)
        self.quality_scale, self.quality_text = labelled_slider(
            ela_row, "ELA quality", self.ela_quality, 50, 100, 80
        )
        ttk.Label(ela_row, text="Scale").pack(side="left")
        self.ela_scaling = tk.StringVar(value="max")
        self.scaling_selector = ttk.Combobox(
            ela_row, textvariable=self.ela_scaling, values=forgery.ELA_SCALINGS, state="readonly", width=5
        )
        self.scaling_selector.pack(side="left", padx=(4, 8))
        tip(
            self.quality_scale,
            "ELA re-saves the photo as JPEG at this quality and shows what changed: parts pasted in "
            "from another photo often change more, or less, than the rest.",
        )
        tip(
            self.scaling_selector,
            "How the differences are made visible: 'max' stretches the largest to white; 'gain' "
            "multiplies them all by the gain (comparable between photos).",
        )
        self.ela_gain = tk.DoubleVar(value=forgery.DEFAULT_ELA_GAIN)
        gain_row = ttk.Frame(self)  # a row of its own: the controls fit a small window
        gain_row.pack(fill="x", pady=(4, 0))
        self.gain_scale, self.gain_text = labelled_slider(gain_row, "ELA gain", self.ela_gain, 1, 60, 80)
        tip(self.gain_scale, "How much the differences are multiplied when the scale is 'gain'.")
        tip(
            ttk.Button(gain_row, text="Reset", command=self.reset_ela_controls),
            "The ELA controls as the model was trained with.",
        ).pack(side="left")
        for variable in (self.ela_quality, self.ela_scaling, self.ela_gain):
            variable.trace_add("write", lambda *_args: self._ela_controls_changed())

        view_row = ttk.Frame(self)
        view_row.pack(fill="x", pady=(4, 0))
        ttk.Label(view_row, text="Right view: photo").pack(side="left")
        self.opacity = tk.IntVar(value=100)
        self.opacity_scale = ttk.Scale(view_row, from_=0, to=100, variable=self.opacity, length=110)
        self.opacity_scale.pack(side="left", padx=4)
        tip(self.opacity_scale, "Blend the right view from the photo (left) to its ELA (right).")
        ttk.Label(view_row, text="ELA").pack(side="left")
        self.opacity.trace_add("write", lambda *_args: self._draw_ela())
        self.show_heatmap = tk.BooleanVar(value=False)
        self.heatmap_checkbox = ttk.Checkbutton(
            view_row,
            text="Heatmap over the photo",
            variable=self.show_heatmap,
            command=self._heatmap_toggled,
        )
        self.heatmap_checkbox.pack(side="left", padx=(16, 0))
        tip(
            self.heatmap_checkbox,
            "The photo in grey, coloured where the model's 8×8 blocks score as tampered: red where "
            "the probability is moderate, yellow where it is high.",
        )

    def _build_answer(self) -> None:
        # Packed before the views, so the verdict and the metadata keep their room and the
        # views take what is left.
        below = ttk.Frame(self)
        below.pack(side="bottom", fill="x", pady=(6, 0))
        self.metadata = ResultsTable(below, [("field", "Metadata", 104), ("value", "Value", 126)], height=7)
        self.metadata.pack(side="right", fill="y", padx=(8, 0))
        answer = ttk.Frame(below)
        answer.pack(side="left", fill="both", expand=True)
        self.verdict_text = tk.StringVar(value="–")
        self.verdict_label = ttk.Label(
            answer, textvariable=self.verdict_text, font=("TkDefaultFont", 20, "bold")
        )
        self.verdict_label.pack(anchor="w")
        self.probability_text = tk.StringVar(value="")
        ttk.Label(
            answer, textvariable=self.probability_text, font=("TkDefaultFont", 11), justify="left"
        ).pack(anchor="w")
        # The texts wrap at the width they are given, never cut off.
        self.agreement_text = tk.StringVar(value="")
        self.agreement_label = WrappingLabel(answer, textvariable=self.agreement_text, justify="left")
        self.agreement_label.pack(anchor="w", fill="x", pady=(4, 0))
        self.warnings_text = tk.StringVar(value="")
        self.warnings_label = WrappingLabel(
            answer, textvariable=self.warnings_text, foreground=WARNING_COLOUR, justify="left"
        )
        self.warnings_label.pack(anchor="w", fill="x", pady=(4, 0))
        self.message_text = tk.StringVar(value=NOTHING_SHOWN)
        self.message_label = WrappingLabel(answer, textvariable=self.message_text, justify="left")
        self.message_label.pack(anchor="w", fill="x", pady=(4, 0))

    def _build_views(self) -> None:
        views, self.original_view, self.ela_view = photo_beside(self, "ELA")
        views.pack(fill="both", expand=True, pady=(4, 0))
        self._show_ela_settings()

    # A photo, analysed by the engine -----------------------------------------------------------
    def show_photo(self, path: Path, verdict: forgery.ForgeryVerdict | None = None) -> None:
        """Show `path`, drawing each part of its analysis as it arrives; a `verdict` known
        already (a scored row's) is shown as it is, not judged again."""
        self._generation += 1
        generation = self._generation
        self.shown, self.path_shown = None, str(path)
        self.tab.views_page.photo_opened(None)
        self.agreement_text.set("")
        self.original_view.show(None)
        self.ela_view.show(None)
        self._show_verdict(None)
        self._show_warnings([])
        self.metadata.clear()
        self.message_text.set(f"Opening {path.name}…")

        def arrived(analysis: forgery.PhotoAnalysis) -> None:
            if generation == self._generation:
                self._draw(analysis)

        def analysed(analysis: forgery.PhotoAnalysis) -> None:
            arrived(analysis)
            if analysis.verdict is not None:
                self.tab.batch.record(analysis.verdict, select=generation == self._generation)
            elif generation == self._generation:
                # Opened while the model was still loading: judged as soon as it is ready.
                self.tab.with_predictor(
                    self.tab.selected_model_name(), lambda _predictor: self._judge(generation)
                )

        # The photo and its ELA do not wait for the model: if it is still loading, they are
        # shown now and the verdict follows.
        predictor, settings = self.tab.predictor, self.ela_settings
        self.tab.submit(
            f"analyse {path.name}",
            lambda job: forgery.analyse_file(path, predictor, settings, verdict, on_partial=job.post),
            on_partial=arrived,
            on_success=analysed,
        )

    def _judge(self, generation: int) -> None:
        if generation == self._generation:
            self.judge_again()

    def judge_again(self) -> str | None:
        """After a model change: the photo shown judged again by the model now selected (the
        photo and its ELA stay on screen, nothing is read again); returns its path, or None
        when no photo is shown."""
        shown = self.shown
        if shown is None:
            return None
        shown.verdict = shown.overlay = None
        self.agreement_text.set("")
        self._show_verdict(None)
        self._draw_original()

        def judged(analysis: forgery.PhotoAnalysis) -> None:
            self.tab.batch.record(analysis.verdict, select=shown is self.shown)
            if shown is self.shown:
                self._show_judgement(shown, analysis)

        def judge(predictor: forgery.ForgeryPredictor) -> None:
            self.tab.submit(
                f"judge {Path(shown.opened.path).name}",
                lambda _job: forgery.judge_opened(shown.opened, predictor),
                on_success=judged,
            )

        self.tab.with_predictor(self.tab.selected_model_name(), judge)
        return shown.opened.path

    def _draw(self, analysis: forgery.PhotoAnalysis) -> None:
        """Draw what is new in `analysis` (a snapshot while it is made, or the whole of it)."""
        opened = analysis.opened
        if opened is None:
            self._unreadable(analysis.verdict)
            return
        shown = self.shown
        name = Path(opened.path).name
        if shown is None:
            shown = self.shown = ShownPhoto(opened)
            self.tab.views_page.photo_opened(shown)
            self.original_view.show(opened.display)
            for row in opened.metadata:
                self.metadata.add(row)
            self._show_warnings(opened.warnings)
            self.message_text.set(f"{name}: computing error levels and the verdict…")
        if analysis.ela is not None and shown.ela is None:
            self._show_ela(shown, analysis.ela)
            if analysis.ela.settings != self.ela_settings:  # the controls moved meanwhile
                self.request_ela()
        if analysis.verdict is not None:
            self._show_judgement(shown, analysis)

    def _unreadable(self, verdict: forgery.ForgeryVerdict) -> None:
        self.verdict_text.set("cannot read")
        self.verdict_label.configure(foreground=NO_VERDICT_COLOUR)
        self.message_text.set(verdict.message)

    def _show_judgement(self, shown: ShownPhoto, analysis: forgery.PhotoAnalysis) -> None:
        shown.verdict, shown.overlay = analysis.verdict, analysis.overlay
        self._show_verdict(analysis.verdict)
        if self.show_heatmap.get():
            self._draw_original()
        self.tab.views_page.photo_judged(shown)

    def show_agreement(self, line: str) -> None:
        """Which forensic views agree with the model's heatmap (the views page computes them)."""
        self.agreement_text.set(line)

    def clear(self) -> None:
        self._generation += 1
        self.shown, self.path_shown = None, None
        self.tab.views_page.photo_opened(None)
        self.agreement_text.set("")
        self.original_view.show(None)
        self.ela_view.show(None)
        self.metadata.clear()
        self._show_verdict(None)
        self._show_warnings([])
        self.message_text.set(NOTHING_SHOWN)

    # ELA ----------------------------------------------------------------------------------------
    def _show_ela_settings(self) -> None:
        self.quality_text.set(str(self.ela_settings.quality))
        self.gain_text.set(f"{self.ela_settings.gain:.0f}")
        self.gain_scale.state(["!disabled"] if self.ela_settings.scaling == "gain" else ["disabled"])

    def _ela_controls_changed(self) -> None:
        try:
            settings = forgery.ElaSettings(
                quality=int(round(float(self.ela_quality.get()))),
                scaling=self.ela_scaling.get(),
                gain=float(round(float(self.ela_gain.get()))),
            )
        except (tk.TclError, InvalidInputError):  # a value being typed, or out of range: not one to use
            return
        if settings == self.ela_settings:
            return
        self.ela_settings = settings
        self._show_ela_settings()
        self.request_ela()

    def reset_ela_controls(self) -> None:
        self.ela_quality.set(forgery.DEFAULT_ELA_QUALITY)
        self.ela_scaling.set("max")
        self.ela_gain.set(forgery.DEFAULT_ELA_GAIN)

    def request_ela(self) -> None:
        """Recompute the ELA of the photo shown with the current settings. Rapid changes (a
        slider dragged) coalesce: only the newest request is computed next."""
        if self.shown is not None:
            self.ela_worker.request((self.shown, self.ela_settings))

    @staticmethod
    def _compute_ela(request, _job):
        shown, settings = request
        return shown, shown.opened.ela(settings)

    def _ela_ready(self, result) -> None:
        shown, preview = result
        if shown is self.shown:
            self._show_ela(shown, preview)

    def _show_ela(self, shown: ShownPhoto, preview: forgery.ElaPreview) -> None:
        shown.ela, shown.ela_settings = preview.image, preview.settings
        self._draw_ela()
        if shown.verdict is None:
            self.message_text.set(f"{Path(shown.opened.path).name}: computing the verdict…")

    def _ela_failed(self, error, details) -> None:
        self.message_text.set(f"Error levels could not be computed: {error}")
        self.tab.app.show_error(error, details)

    # Drawing -------------------------------------------------------------------------------------
    def _draw_original(self) -> None:
        shown = self.shown
        if shown is None:
            return
        heatmap = self.show_heatmap.get() and shown.overlay is not None
        self.original_view.show(shown.overlay if heatmap else shown.opened.display, keep_view=True)

    def _draw_ela(self) -> None:
        shown = self.shown
        if shown is None or shown.ela is None:
            return
        try:
            opacity = min(max(float(self.opacity.get()) / 100, 0.0), 1.0)
        except tk.TclError:  # the slider's value half typed
            return
        if opacity >= 1.0:
            image = shown.ela
        elif opacity <= 0.0:
            image = shown.opened.display
        else:
            image = Image.blend(shown.opened.display, shown.ela, opacity)
        first = self.ela_view.image is None
        self.ela_view.show(image, keep_view=True)
        if first:
            self.ela_view.set_view(self.original_view.zoom, self.original_view.offset)

    def _heatmap_toggled(self) -> None:
        self._draw_original()
        if self.shown is not None and self.shown.verdict is not None:
            self._show_verdict(self.shown.verdict)  # its hint names the checkbox's new state

    def _show_verdict(self, verdict: forgery.ForgeryVerdict | None) -> None:
        if verdict is None:
            self.verdict_text.set("–")
            self.verdict_label.configure(foreground="")
            self.probability_text.set("")
            return
        name = Path(verdict.path).name
        if verdict.status != "ok":
            self.verdict_text.set("no verdict")
            self.verdict_label.configure(foreground=NO_VERDICT_COLOUR)
            self.probability_text.set("")
            self.message_text.set(verdict.message)
        else:
            shown = verdict.shown_label
            self.verdict_text.set(shown)
            self.verdict_label.configure(foreground=VERDICT_COLOURS[shown])
            self.probability_text.set(
                f"Tampering probability {verdict.tampered_probability:.1%}\nthreshold {verdict.threshold:.1%}"
            )
            where = (
                "The heatmap shows where the model looks."
                if self.show_heatmap.get()
                else "Tick the heatmap to see where the model looks."
            )
            if verdict.conclusive is False:
                self.message_text.set(f"{name}: {verdict.reason} Best guess: {verdict.label}. {where}")
            else:
                tampered = verdict.label == "tampered"
                self.message_text.set(
                    f"{name}: {'above' if tampered else 'below'} the model's threshold. {where}"
                )
        self._show_warnings(verdict.warnings or self.warnings_shown)

    def _show_warnings(self, warnings: list[str]) -> None:
        """Trust warnings are never silent: each is shown under the verdict while its photo is."""
        self.warnings_shown = list(warnings)
        self.warnings_text.set("\n".join(f"⚠ {warning}" for warning in warnings))

    def shown_answer(self) -> dict:
        """What the user sees for the photo shown."""
        shown = self.shown
        return {
            "file": Path(self.path_shown).name if self.path_shown else None,
            "label": self.verdict_text.get(),
            "probability": self.probability_text.get(),
            "warnings": list(self.warnings_shown),
            "message": self.message_text.get(),
            "original_shown": self.original_view.image is not None,
            "ela_shown": shown is not None and shown.ela is not None and self.ela_view.image is not None,
            "heatmap_shown": shown is not None
            and shown.overlay is not None
            and self.original_view.image is shown.overlay,
            "ela_settings": shown.ela_settings if shown is not None else None,
            "metadata": dict(self.metadata.rows()),
            "views_agreement": self.agreement_text.get(),
        }
