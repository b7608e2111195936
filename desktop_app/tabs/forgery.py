"""The Forgery tab: drop photos to see them beside their Error Level Analysis, the model's
verdict with its trust warnings and localisation heatmap, and the file's metadata; score
folders in a sortable table exported to CSV; retrain from the Models menu.

Everything heavy (decoding, ELA at native resolution, the model, display-size images) runs
on worker threads; the Tk thread only draws screen-sized images. A dropped photo is shown in
three steps, each as soon as it is ready: the photo and its metadata, then its ELA and its
verdict (computed side by side on two threads).
"""

from __future__ import annotations

import csv
import time
import tkinter as tk
from dataclasses import dataclass, field
from pathlib import Path
from tkinter import filedialog, ttk

import numpy as np
from PIL import Image

from desktop_app.jobs import LatestOnly
from desktop_app.tabs.base import ToolTab
from desktop_app.widgets.drop_zone import DropZone
from desktop_app.widgets.image_view import ImageView, link_views
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.retrain_dialog import Field
from training import forgery
from training.core import images, paths
from training.core.errors import ModelNotFoundError, WorkbenchError
from training.core.progress import Progress
from training.forgery import data as forgery_data

IMAGE_TYPES = " ".join(f"*{suffix}" for suffix in sorted(images.IMAGE_SUFFIXES))
# Longest side of the images the views draw: screen-sized, so neither the Tk thread nor a
# PhotoImage ever handles a 12 MP photo (the ELA itself is computed at native resolution).
DISPLAY_SIDE = 1600
HEATMAP_OPACITY = 0.75
# Block probabilities at which the heatmap is fully opaque: the tampered regions of photos the
# model flags mostly score 0.3-0.8, and a fainter overlay vanished on red-brown photos.
HEATMAP_SATURATION = 0.5
TAMPERED_COLOUR, AUTHENTIC_COLOUR, WARNING_COLOUR = "#b03a2e", "#1e8449", "#a35200"
INCONCLUSIVE_COLOUR = "#5d6d7e"
VERDICT_COLOURS = {
    "tampered": TAMPERED_COLOUR,
    "authentic": AUTHENTIC_COLOUR,
    "inconclusive": INCONCLUSIVE_COLOUR,
}
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


# Worker-side helpers: plain functions of images, no widgets ---------------------------------------
def display_size(size: tuple[int, int], side: int = DISPLAY_SIDE) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longest side is at most `side`."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_display(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def heatmap_overlay(display: Image.Image, block_map: np.ndarray, native_size: tuple[int, int]) -> Image.Image:
    """The per-block tampering probabilities over the display-size photo, drawn in grey so
    that the colours belong to the map alone: red where the probability is moderate, yellow
    where it is high, more opaque the higher. Laid out as `forgery.heatmap_at` lays them over
    the native photo (whole 8×8 blocks from the top left, the rest takes the edge's value),
    but made at display size directly."""
    scale = display.width / native_size[0]
    heatmap = forgery.heatmap_at(block_map, (display.height, display.width), scale)
    values = np.clip(heatmap, 0.0, 1.0)[..., None]
    colour = np.array([220.0, 0.0, 0.0]) * (1 - values) + np.array([255.0, 235.0, 0.0]) * values
    alpha = HEATMAP_OPACITY * np.minimum(values / HEATMAP_SATURATION, 1.0)
    grey = np.asarray(display.convert("L"), dtype=np.float32)[..., None]
    return Image.fromarray((grey * (1 - alpha) + colour * alpha).round().astype(np.uint8))


@dataclass
class OpenedPhoto:
    """A dropped file, read on a worker thread: the photo at native resolution (RGB), its
    facts, and (once made) a display-size copy; or, when it cannot be read, why."""

    path: str
    image: Image.Image | None = None
    facts: forgery.PhotoFacts | None = None
    display: Image.Image | None = None
    message: str = ""
    resaves: forgery.SharedResaves | None = None  # the verdict and the ELA preview share re-saves


def labelled_slider(row, label: str, variable, lowest: float, highest: float, length: int):
    """Label, slider and the slider's value as text, left to right in `row`; returns the
    slider and the StringVar its value is shown in."""
    ttk.Label(row, text=label).pack(side="left")
    slider = ttk.Scale(row, from_=lowest, to=highest, variable=variable, length=length)
    slider.pack(side="left", padx=(4, 0))
    value_text = tk.StringVar()
    ttk.Label(row, textvariable=value_text, width=3).pack(side="left", padx=(2, 8))
    return slider, value_text


def read_photo(path: Path) -> OpenedPhoto:
    """Decode (EXIF orientation applied) and describe the file; no display copy yet."""
    try:
        opened = images.open_image(path)
        facts = forgery.photo_facts(path, opened)
        image = images.to_rgb(opened)
    except (WorkbenchError, ValueError, OSError) as error:
        return OpenedPhoto(str(path), message=images.name_once(path, str(error)))
    return OpenedPhoto(str(path), image, facts, resaves=forgery.SharedResaves(image))


def judge(predictor: forgery.ForgeryPredictor, opened: OpenedPhoto) -> forgery.ForgeryVerdict:
    """The model's verdict on an opened photo; a photo it cannot judge (too small) gets an
    error verdict that still carries the trust warnings."""
    try:
        return predictor.predict_image(opened.image, opened.facts, opened.resaves)
    except (WorkbenchError, ValueError) as error:
        return forgery.ForgeryVerdict(
            opened.path,
            "error",
            images.name_once(opened.path, str(error)),
            warnings=forgery.trust_warnings(opened.facts),
            facts=opened.facts,
        )


@dataclass
class ShownPhoto:
    """The photo on screen and what has arrived for it so far."""

    generation: int
    opened: OpenedPhoto
    dropped: float  # time.perf_counter() when it was asked for
    ela: Image.Image | None = None  # display size
    ela_settings: forgery.ElaSettings | None = None
    verdict: forgery.ForgeryVerdict | None = None
    overlay: Image.Image | None = None  # the photo with the heatmap, display size
    timings: dict[str, float] = field(default_factory=dict)  # seconds since the drop, per step


def metadata_rows(facts: forgery.PhotoFacts) -> list[tuple[str, str]]:
    quality = f"≈ {facts.jpeg_quality} (estimated)" if facts.jpeg_quality is not None else "– (not a JPEG)"
    rows = [
        ("File", Path(facts.path).name),
        ("Format", facts.format or "unknown"),
        ("Dimensions", f"{facts.width} × {facts.height} px ({facts.width * facts.height / 1e6:.1f} MP)"),
        ("Colour mode", facts.mode),
        ("JPEG quality", quality),
        ("SHA-256", facts.sha256),
        ("Average hash", facts.average_hash),
    ]
    if not facts.exif:
        rows.append(("EXIF", "none"))
    rows.extend((f"EXIF {name}", value) for name, value in sorted(facts.exif.items()))
    return rows


class ForgeryTab(ToolTab):
    title = "Forgery"
    filetypes = (("Photos", IMAGE_TYPES), ("All files", "*"))
    retrain_chart_keys = ("image_loss", "block_loss")

    def __init__(self, parent, app):
        super().__init__(parent, app)
        self.verdicts: dict[str, forgery.ForgeryVerdict] = {}
        self.shown: ShownPhoto | None = None
        self.path_shown: str | None = None
        self._generation = 0
        self.ela_settings = forgery.ElaSettings()
        self.warnings_shown: list[str] = []
        self.chart = None
        self._last_chart_draw = 0.0
        self.ela_worker = LatestOnly(
            self.submit, "ELA preview", self._compute_ela, self._ela_ready, self._ela_failed
        )

        top = ttk.Frame(self)
        top.pack(fill="x")
        ttk.Label(top, text="Model:").pack(side="left")
        self.model_choice = tk.StringVar(value=forgery.DEFAULT_MODEL)
        self.model_selector = ttk.Combobox(top, textvariable=self.model_choice, state="readonly", width=22)
        self.model_selector.pack(side="left", padx=4)
        self.model_selector.bind("<<ComboboxSelected>>", lambda _event: self._model_selected())
        self.model_state = tk.StringVar(value="model not loaded yet")
        ttk.Label(top, textvariable=self.model_state, foreground="#555555").pack(side="left", padx=8)
        self._refresh_model_choices()

        body = ttk.Frame(self)
        body.pack(fill="both", expand=True, pady=(6, 0))
        self._build_batch_column(body)
        self.pages = ttk.Notebook(body)
        self.pages.pack(side="left", fill="both", expand=True, padx=(10, 0))
        self.photo_page = ttk.Frame(self.pages, padding=6)
        self.chart_page = ttk.Frame(self.pages, padding=6)
        self.pages.add(self.photo_page, text="Photo")
        self.evaluation_page = ttk.Frame(self.pages, padding=6)
        self.pages.add(self.chart_page, text="Batch scores")
        self.pages.add(self.evaluation_page, text="Model evaluation")
        self.evaluation_chart = None
        self.pages.bind("<<NotebookTabChanged>>", lambda _event: self._page_changed())
        self._build_photo_page()

    # Layout ------------------------------------------------------------------------------------
    def _build_batch_column(self, body) -> None:
        left = ttk.Frame(body)
        left.pack(side="left", fill="y")
        self.drop_zone = DropZone(
            left, self.open_paths, "Drop photos or a folder of photos here", self.filetypes
        )
        self.drop_zone.pack(fill="x")
        self.build_batch_progress(left)
        self.results = ResultsTable(
            left,
            [
                ("file", "File", 110),
                ("verdict", "Verdict", 84),
                ("probability", "Probability", 94),
                ("warnings", "Warnings", 100),
            ],
            height=18,
        )
        self.results.pack(fill="both", expand=True, pady=(4, 0))
        self.results.tree.tag_configure("tampered", foreground=TAMPERED_COLOUR)
        self.results.tree.tag_configure("inconclusive", foreground=INCONCLUSIVE_COLOUR)
        self.results.tree.tag_configure("error", foreground="#7f7f7f")
        self.results.tree.bind("<<TreeviewSelect>>", lambda _event: self._show_selected())
        buttons = ttk.Frame(left)
        buttons.pack(fill="x", pady=(4, 0))
        ttk.Button(buttons, text="Clear", command=self.clear).pack(side="right")
        self.export_button = ttk.Button(buttons, text="Export…", command=self._ask_export)
        self.export_button.pack(side="right", padx=(0, 4))

    def _build_photo_page(self) -> None:
        page = self.photo_page
        ela_row = ttk.Frame(page)
        ela_row.pack(fill="x")
        self.ela_quality = tk.IntVar(value=forgery.DEFAULT_ELA_QUALITY)
        self.quality_scale, self.quality_text = labelled_slider(
            ela_row, "ELA quality", self.ela_quality, 50, 100, 110
        )
        ttk.Label(ela_row, text="Scale").pack(side="left")
        self.ela_scaling = tk.StringVar(value="max")
        self.scaling_selector = ttk.Combobox(
            ela_row, textvariable=self.ela_scaling, values=forgery.ELA_SCALINGS, state="readonly", width=5
        )
        self.scaling_selector.pack(side="left", padx=(4, 8))
        self.ela_gain = tk.DoubleVar(value=forgery.DEFAULT_ELA_GAIN)
        self.gain_scale, self.gain_text = labelled_slider(ela_row, "Gain", self.ela_gain, 1, 60, 100)
        ttk.Button(ela_row, text="Reset", command=self.reset_ela_controls).pack(side="left")
        for variable in (self.ela_quality, self.ela_scaling, self.ela_gain):
            variable.trace_add("write", lambda *_args: self._ela_controls_changed())

        view_row = ttk.Frame(page)
        view_row.pack(fill="x", pady=(4, 0))
        ttk.Label(view_row, text="Right view: photo").pack(side="left")
        self.opacity = tk.IntVar(value=100)
        self.opacity_scale = ttk.Scale(view_row, from_=0, to=100, variable=self.opacity, length=140)
        self.opacity_scale.pack(side="left", padx=4)
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

        # Packed before the views, so the verdict and the metadata keep their room and the
        # views take what is left.
        below = ttk.Frame(page)
        below.pack(side="bottom", fill="x", pady=(6, 0))
        self.metadata = ResultsTable(below, [("field", "Metadata", 130), ("value", "Value", 210)], height=7)
        self.metadata.pack(side="right", fill="y", padx=(8, 0))
        answer = ttk.Frame(below)
        answer.pack(side="left", fill="both", expand=True)
        self.verdict_text = tk.StringVar(value="–")
        self.verdict_label = ttk.Label(
            answer, textvariable=self.verdict_text, font=("TkDefaultFont", 24, "bold")
        )
        self.verdict_label.pack(anchor="w")
        self.probability_text = tk.StringVar(value="")
        ttk.Label(
            answer, textvariable=self.probability_text, font=("TkDefaultFont", 11), justify="left"
        ).pack(anchor="w")
        self.warnings_text = tk.StringVar(value="")
        self.warnings_label = ttk.Label(
            answer, textvariable=self.warnings_text, foreground=WARNING_COLOUR, wraplength=300, justify="left"
        )
        self.warnings_label.pack(anchor="w", fill="x", pady=(4, 0))
        self.message_text = tk.StringVar(value="Drop a photo to see its error levels and the verdict.")
        message_label = ttk.Label(answer, textvariable=self.message_text, wraplength=300, justify="left")
        message_label.pack(anchor="w", fill="x", pady=(4, 0))

        def wrap(event) -> None:  # the warnings wrap at the width they are given, never cut off
            for label in (self.warnings_label, message_label):
                label.configure(wraplength=max(150, event.width - 6))

        answer.bind("<Configure>", wrap)

        views = ttk.Frame(page)
        views.pack(fill="both", expand=True, pady=(4, 0))
        self.original_view = ImageView(views, 320, 240, caption="photo (wheel zooms, drag pans)")
        self.ela_view = ImageView(views, 320, 240, caption="ELA")
        views.columnconfigure((0, 1), weight=1, uniform="views")
        views.rowconfigure(0, weight=1)
        self.original_view.grid(row=0, column=0, sticky="nsew", padx=(0, 3))
        self.ela_view.grid(row=0, column=1, sticky="nsew", padx=(3, 0))
        link_views(self.original_view, self.ela_view)
        self._show_ela_settings()

    def _page_changed(self) -> None:
        if self.pages.select() == str(self.chart_page) and self.chart is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            self.chart = PlotPanel(self.chart_page, 5.4, 4.0)
            self.chart.pack(fill="both", expand=True)
        if self.pages.select() == str(self.chart_page):
            self.draw_chart()
        if self.pages.select() == str(self.evaluation_page):
            self.draw_evaluation()

    def show_page(self, page: ttk.Frame) -> None:
        self.app.notebook.select(self)
        self.pages.select(page)
        self.update_idletasks()
        self._page_changed()

    # Models ------------------------------------------------------------------------------------
    @property
    def retrain_fields(self) -> tuple[Field, ...]:
        from training import forgery

        defaults = forgery.ForgeryTrainingConfig()
        data = paths.data_dir(self.app.data_dir)
        extra = data / "bsds500"
        return (
            Field("data_folder", "Photos (Au/ + Sp/ or real/ + fake/)", str(data / "casia1"), folder=True),
            Field("backbone", "Backbone", defaults.backbone, choices=forgery.BACKBONES),
            Field("epochs", "Epochs", defaults.epochs, minimum=1, maximum=500),
            Field(
                "resaved_copies",
                "Re-saved copies of each photo",
                defaults.resaved_copies,
                minimum=0,
                maximum=8,
            ),
            Field(
                "extra_photos",
                "Other photos to splice (blank = none)",
                str(extra) if extra.is_dir() else "",
                folder=True,
            ),
            Field(
                "synthetic_pairs",
                "Synthetic splices made from them",
                defaults.synthetic_pairs,
                minimum=0,
                maximum=10000,
            ),
        )

    def model_names(self) -> list[str]:
        """Forgery models that can be used now (a retrained one with no bundled version is
        left out once reverted)."""
        names = []
        for name in self.app.registry.names():
            if name.startswith("forgery-"):
                try:
                    self.app.registry.entry(name)
                except ModelNotFoundError:
                    continue
                names.append(name)
        return sorted(names, key=lambda name: (name != forgery.DEFAULT_MODEL, name))

    def _refresh_model_choices(self) -> None:
        self.model_selector.configure(values=self.model_names())

    def selected_model_name(self) -> str:
        return self.model_choice.get() or forgery.DEFAULT_MODEL

    def load_predictor(self, name: str):
        return forgery.ForgeryPredictor.load(name, self.app.registry)

    def on_model_ready(self, name: str, replaced: bool) -> None:
        self._refresh_model_choices()
        if name != self.selected_model_name():
            return
        entry = self.predictors[name].entry
        self.model_state.set(
            f"{name} ({entry.origin}, calibrated, verdict at {self.predictors[name].threshold:.0%})"
        )
        if self.pages.select() == str(self.evaluation_page):
            self.draw_evaluation()
        if replaced:
            self.rescore()

    def _model_selected(self) -> None:
        name = self.selected_model_name()
        if name in self.predictors:
            self.on_model_ready(name, replaced=True)
        else:
            self.model_state.set("loading…")
            self.with_predictor(name, lambda _predictor: self.rescore())

    def on_retrained(self, entry) -> None:
        self._refresh_model_choices()
        self.model_choice.set(entry.name)

    def revert_to_bundled(self) -> None:
        """A model with no bundled version (e.g. a retrained ResNet50) is set aside and the
        default bundled model is used again."""
        try:
            super().revert_to_bundled()
        except ModelNotFoundError:
            self.model_choice.set(forgery.DEFAULT_MODEL)
            self._model_selected()

    # Retraining ---------------------------------------------------------------------------------
    def train(self, values: dict, job):
        from training import forgery
        from training.core.errors import DatasetMissingError

        folder = Path(values["data_folder"]).expanduser()
        if not folder.is_dir():
            raise DatasetMissingError(f"Photos: {folder} is not a folder.")
        extra = Path(values["extra_photos"]).expanduser() if values["extra_photos"] else None
        if extra is not None and not extra.is_dir():
            raise DatasetMissingError(f"Other photos to splice: {extra} is not a folder.")
        config = forgery.ForgeryTrainingConfig(
            backbone=values["backbone"],
            epochs=values["epochs"],
            resaved_copies=values["resaved_copies"],
            synthetic_pairs=values["synthetic_pairs"] if extra is not None else 0,
            seed=0,
        )
        _entry, _metrics, outcome = forgery.train_and_save(
            folder,
            config,
            self.app.registry,
            report=job.report,
            cancel=job.cancel_token,
            extra_photos_directory=extra,
        )
        return outcome

    # Opening photos -------------------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        """One photo: shown at once, step by step. Several, or a folder: scored one by one
        into the table (the first is shown)."""
        self.app.notebook.select(self)
        paths = [Path(path) for path in paths]
        expanded = images.expand_paths(paths)
        if not expanded:
            self.message_text.set("No photos in what was dropped.")
            return
        self.pages.select(self.photo_page)
        if len(expanded) == 1 and not paths[0].is_dir():
            self.show_photo(expanded[0])
        else:
            self.score_batch(expanded, show_first=True)

    def show_photo(self, path: Path, verdict: forgery.ForgeryVerdict | None = None) -> None:
        """Open `path` off the Tk thread and show it step by step. As soon as the photo is
        decoded, the verdict starts (unless `verdict` is given); then the photo is drawn from a
        display-size copy and its ELA starts; each appears when it arrives."""
        self._generation += 1
        generation, dropped = self._generation, time.perf_counter()
        self.shown, self.path_shown = None, str(path)
        self.original_view.show(None)
        self.ela_view.show(None)
        self._show_verdict(None)
        self._show_warnings([])
        self.metadata.clear()
        self.message_text.set(f"Opening {Path(path).name}…")

        def work(job):
            opened = read_photo(Path(path))
            if opened.image is None:
                return opened, None
            job.post(opened)  # the model can start on it while the display copy is made
            return opened, to_display(opened.image, display_size(opened.image.size))

        def decoded(opened: OpenedPhoto) -> None:
            if generation == self._generation:
                self._decoded(ShownPhoto(generation, opened, dropped), verdict)

        def displayable(result) -> None:
            opened, display = result
            if generation != self._generation:
                return
            if display is None:
                self._unreadable(opened)
            elif self.shown is not None and self.shown.generation == generation:
                self._displayable(self.shown, display)

        self.submit(f"open {Path(path).name}", work, on_partial=decoded, on_success=displayable)

    def _unreadable(self, opened: OpenedPhoto) -> None:
        self._record(forgery.ForgeryVerdict(opened.path, "error", opened.message))
        self.verdict_text.set("cannot read")
        self.verdict_label.configure(foreground="#7f7f7f")
        self.message_text.set(opened.message)

    def _decoded(self, shown: ShownPhoto, verdict) -> None:
        self.shown = shown
        for row in metadata_rows(shown.opened.facts):
            self.metadata.add(row)
        self._show_warnings(forgery.trust_warnings(shown.opened.facts))
        self.message_text.set(f"{Path(shown.opened.path).name}: computing error levels and the verdict…")
        if verdict is not None:
            self._verdict_ready(shown, verdict)
        else:
            self.with_predictor(
                self.selected_model_name(), lambda predictor: self._start_verdict(shown, predictor)
            )

    def _displayable(self, shown: ShownPhoto, display: Image.Image) -> None:
        shown.opened.display = display
        shown.timings["photo"] = time.perf_counter() - shown.dropped
        self.original_view.show(display)
        self.request_ela()
        self._start_overlay(shown)

    def _start_verdict(self, shown: ShownPhoto, predictor) -> None:
        self.submit(
            f"judge {Path(shown.opened.path).name}",
            lambda _job: judge(predictor, shown.opened),
            on_success=lambda verdict: self._verdict_ready(shown, verdict),
        )

    def _verdict_ready(self, shown: ShownPhoto, verdict: forgery.ForgeryVerdict) -> None:
        self._record(verdict, select=shown is self.shown)
        if shown is not self.shown:
            return
        shown.verdict = verdict
        shown.timings["verdict"] = time.perf_counter() - shown.dropped
        self._show_verdict(verdict)
        self._start_overlay(shown)

    def _start_overlay(self, shown: ShownPhoto) -> None:
        """The heatmap over the display copy, once both the verdict and the copy are there."""
        verdict, display = shown.verdict, shown.opened.display
        if verdict is None or verdict.block_map is None or display is None or shown.overlay is not None:
            return

        def drawn(overlay: Image.Image) -> None:
            if shown.verdict is not verdict:  # re-judged meanwhile (another model)
                return
            shown.overlay = overlay
            if shown is self.shown and self.show_heatmap.get():
                self._draw_original()

        size = shown.opened.image.size
        self.submit(
            "heatmap", lambda _job: heatmap_overlay(display, verdict.block_map, size), on_success=drawn
        )

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
        except (tk.TclError, ValueError):
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
        if self.shown is not None and self.shown.opened.display is not None:
            self.ela_worker.request((self.shown, self.ela_settings))

    @staticmethod
    def _compute_ela(request, _job):
        shown, settings = request
        opened = shown.opened
        ela = forgery.error_level_analysis(opened.image, settings, opened.resaves)  # native resolution
        return shown, settings, to_display(Image.fromarray(ela), opened.display.size)

    def _ela_ready(self, result) -> None:
        shown, settings, ela = result
        if shown is not self.shown:
            return
        first = shown.ela is None
        shown.ela, shown.ela_settings = ela, settings
        if first:
            shown.timings["ela"] = time.perf_counter() - shown.dropped
        self._draw_ela()
        if shown.verdict is None:
            self.message_text.set(f"{Path(shown.opened.path).name}: computing the verdict…")

    def _ela_failed(self, error, details) -> None:
        self.message_text.set(f"Error levels could not be computed: {error}")
        self.app.show_error(error, details)

    # Drawing -------------------------------------------------------------------------------------
    def _draw_original(self) -> None:
        shown = self.shown
        if shown is None or shown.opened.display is None:
            return
        heatmap = self.show_heatmap.get() and shown.overlay is not None
        self.original_view.show(shown.overlay if heatmap else shown.opened.display, keep_view=True)

    def _draw_ela(self) -> None:
        shown = self.shown
        if shown is None or shown.ela is None or shown.opened.display is None:
            return
        try:
            opacity = min(max(float(self.opacity.get()) / 100, 0.0), 1.0)
        except (tk.TclError, ValueError):
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
            self.verdict_label.configure(foreground="#7f7f7f")
            self.probability_text.set("")
            self.message_text.set(images.name_once(verdict.path, verdict.message))
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
        """What the user sees for the photo shown (tests, the self-test and benches read this)."""
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
            "rows": self.results.rows(),
        }

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

    def _record(self, verdict: forgery.ForgeryVerdict, select: bool = False) -> None:
        key = verdict.path
        tags = ("error",) if verdict.status != "ok" else (verdict.shown_label,)
        if self.results.tree.exists(key):
            self.results.update_row(key, self._row(verdict))
        else:
            self.results.add(self._row(verdict), item_id=key)
        self.results.tree.item(key, tags=tags)
        self.verdicts[key] = verdict
        if select:
            self.results.tree.selection_set(key)
            self.results.tree.see(key)
        if self.chart is not None and time.monotonic() - self._last_chart_draw > CHART_REDRAW_SECONDS:
            self.draw_chart()

    def _show_selected(self) -> None:
        selection = self.results.tree.selection()
        if not selection or selection[0] == self.path_shown:
            return
        key = selection[0]
        verdict = self.verdicts.get(key)
        self.show_photo(Path(key), verdict if verdict is not None and verdict.status == "ok" else None)

    def score_batch(self, paths: list[Path], show_first: bool = False) -> None:
        """Score `paths` one by one on a worker thread; rows appear as verdicts arrive."""
        self.app.set_status(f"Forgery: scoring {len(paths)} photo(s)…")
        first = {"pending": show_first}

        def score(job, predictor):
            for position, path in enumerate(paths):
                if job.cancelled:
                    break
                job.post(predictor.predict_file(path))
                job.report(Progress("scoring", position + 1, len(paths), path.name))

        def add(verdict: forgery.ForgeryVerdict) -> None:
            self._record(verdict)
            if first["pending"]:
                first["pending"] = False
                self.results.tree.selection_set(verdict.path)
                self.results.tree.see(verdict.path)

        def finished(_result) -> None:
            self.app.set_status(f"Forgery: scored {len(paths)} photo(s); select a row to see one.")
            self.draw_chart()

        self.with_predictor(
            self.selected_model_name(),
            lambda predictor: self.run_batch_job(
                f"score {len(paths)} photo(s)",
                lambda job: score(job, predictor),
                on_partial=add,
                on_success=finished,
            ),
        )

    def on_batch_cancelled(self) -> None:
        self.app.set_status("Forgery: cancelled; what was scored so far stays.")
        self.draw_chart()

    def on_batch_failed(self, error) -> None:
        self.message_text.set(str(error))

    def rescore(self) -> None:
        """After a model change: every verdict on screen again, with the new model."""
        paths = [Path(path) for path in self.verdicts]
        self.verdicts.clear()
        shown = self.shown
        if shown is not None:
            others = [path for path in paths if str(path) != shown.opened.path]
            shown.verdict = shown.overlay = None
            self._show_verdict(None)
            self._draw_original()
            self.with_predictor(
                self.selected_model_name(), lambda predictor: self._start_verdict(shown, predictor)
            )
        else:
            others = paths
        if others:
            self.score_batch(others)

    def clear(self) -> None:
        self.results.clear()
        self.verdicts.clear()
        self._generation += 1
        self.shown, self.path_shown = None, None
        self.original_view.show(None)
        self.ela_view.show(None)
        self.metadata.clear()
        self._show_verdict(None)
        self._show_warnings([])
        self.message_text.set("Drop a photo to see its error levels and the verdict.")
        self.draw_chart()

    # Exports and the batch chart -------------------------------------------------------------------
    def _ask_export(self) -> None:
        path = filedialog.asksaveasfilename(
            parent=self, defaultextension=".csv", initialfile="forgery-verdicts.csv"
        )
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> int:
        """The table's rows in the order shown, with every warning in full; returns the count."""
        keys = [key for key in self.results.tree.get_children() if key in self.verdicts]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS)
            writer.writeheader()
            for key in keys:
                verdict = self.verdicts[key]
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
        self.app.set_status(f"Forgery: {len(keys)} verdict(s) written to {path}.")
        return len(keys)

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

    def draw_evaluation(self) -> None:
        """How far the selected model's probabilities can be trusted, from its manifest: the
        reliability diagram on the held-out set, and ROC AUC, false alarms and inconclusive
        answers per final-quality band."""
        from desktop_app.widgets.plot_panel import PlotPanel
        from desktop_app.widgets.reliability import draw_reliability

        if self.evaluation_chart is None:
            self.evaluation_note = tk.StringVar(value="")
            ttk.Label(
                self.evaluation_page, textvariable=self.evaluation_note, wraplength=700, justify="left"
            ).pack(side="bottom", anchor="w", fill="x", pady=(4, 0))
            self.evaluation_chart = PlotPanel(self.evaluation_page, 8.0, 4.0)
            self.evaluation_chart.pack(fill="both", expand=True)
        figure = self.evaluation_chart.clear()
        name = self.selected_model_name()
        try:
            record = self.app.registry.entry(name).record
        except WorkbenchError as error:
            self.evaluation_note.set(str(error))
            self.evaluation_chart.redraw()
            return
        extra = record.get("metrics", {}).get("generalisation", {}).get("extra", {})
        if "reliability" not in extra:
            self.evaluation_note.set(
                f"{name} was trained without the held-out evaluation (no reliability figures in its "
                "record). Retrain it from the Models menu to get them."
            )
            self.evaluation_chart.redraw()
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
        self.evaluation_note.set(
            f"{name}, on {overall['images']} held-out photos no training run saw: ROC AUC "
            f"{overall['roc_auc']:.3f}, false alarms {overall['false_alarm_rate']:.1%} "
            f"({overall['conclusive_false_alarm_rate']:.1%} among conclusive answers), "
            f"{overall['inconclusive_share']:.1%} inconclusive. A verdict between "
            f"{calibration.undecided[0]:.0%} and {calibration.undecided[1]:.0%} is shown as inconclusive."
        )
        self.evaluation_chart.redraw()
