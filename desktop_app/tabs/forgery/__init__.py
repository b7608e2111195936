"""The Forgery tab: drop photos to see them beside their Error Level Analysis, the model's
verdict with its trust warnings and localisation heatmap, and the file's metadata; five
forensic views of the same photo; score folders in a sortable table exported to CSV;
retrain from the Models menu.

The tab holds the model choice and four parts that only draw what the engine computes: the
photo panel (one engine call per photo shown), the forensic views page (the views of that
photo, once its verdict is in), the batch view (the table of verdicts and its chart) and the
evaluation view (the model's held-out figures from its manifest record).
"""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

from desktop_app import theme
from desktop_app.tabs.base import ToolTab
from desktop_app.tabs.forgery.batch_view import BatchView
from desktop_app.tabs.forgery.evaluation_view import EvaluationView
from desktop_app.tabs.forgery.photo_panel import PhotoPanel
from desktop_app.tabs.forgery.views_page import ViewsPage
from desktop_app.widgets.drop_zone import DropZone
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.retrain_dialog import Field
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import forgery, report
from training.core import images, paths
from training.core.errors import DatasetMissingError, ModelNotFoundError

IMAGE_TYPES = " ".join(f"*{suffix}" for suffix in sorted(images.IMAGE_SUFFIXES))


class ForgeryTab(ToolTab):
    title = "Forgery"
    how_to_read = (
        "Drop a photo (or a folder) to see whether parts of it were pasted in or retouched.\n\n"
        "Photo page: the photo beside its Error Level Analysis (ELA): the photo re-saved as JPEG "
        "and the differences shown. A region that stands out from similar surfaces around it, "
        "brighter or darker, deserves a look; edges and fine texture are always bright. The "
        'verdict is the model\'s calibrated probability of tampering; "inconclusive" means the '
        "score lies in the band where answers were too often wrong on validation, or the photo is "
        "outside what the model was checked on (the warnings say why). Trust warnings "
        "(re-compression, editing software, no camera data) weigh on any verdict. The heatmap "
        "shows where the model's blocks score high.\n\n"
        "Forensic views: five independent checks of the same photo (noise, JPEG ghosts, clones, "
        "lighting, the EXIF thumbnail); each says how to read it, and whether it agrees with the "
        "heatmap. No single view proves anything: agreement between several does.\n\n"
        "Batch scores: the probabilities of the photos in the table, to spot the outliers."
    )
    filetypes = (("Photos", IMAGE_TYPES), ("All files", "*"))
    retrain_chart_keys = ("image_loss", "block_loss")

    def __init__(self, parent, app):
        super().__init__(parent, app)
        self.evaluation_view: EvaluationView | None = None

        top = ttk.Frame(self)
        top.pack(fill="x")
        self.build_model_selector(top, forgery.DEFAULT_MODEL, width=22)
        self.model_state = tk.StringVar(value="model not loaded yet")
        WrappingLabel(top, min_width=150, textvariable=self.model_state, style=theme.SECONDARY).pack(
            side="left", fill="x", expand=True, padx=8
        )
        self._refresh_model_choices()

        # The list beside the pages: each gets at least what it asks for, and a larger window
        # gives both more room, the pages more.
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True, pady=(6, 0))
        body.rowconfigure(0, weight=1)
        body.columnconfigure(0, weight=1)
        body.columnconfigure(1, weight=3)
        left = ttk.Frame(body)
        left.grid(row=0, column=0, sticky="nsew")
        self.drop_zone = DropZone(
            left, self.open_paths, "Drop photos or a folder of photos here", self.filetypes
        )
        self.drop_zone.pack(fill="x")
        self.pages = ttk.Notebook(body)
        self.pages.grid(row=0, column=1, sticky="nsew", padx=(6, 0))
        self.views_page = ViewsPage(self.pages, self)
        self.photo = PhotoPanel(self.pages, self)
        self.chart_page = ttk.Frame(self.pages, padding=6)
        self.evaluation_page = ttk.Frame(self.pages, padding=6)
        self.pages.add(self.photo, text="Photo")
        self.pages.add(self.views_page, text="Forensic views")
        self.pages.add(self.chart_page, text="Batch scores")
        self.pages.add(self.evaluation_page, text="Model evaluation")
        self.pages.bind("<<NotebookTabChanged>>", lambda _event: self._page_changed())
        self.batch = BatchView(left, self, self.chart_page)
        self.batch.pack(fill="both", expand=True)

    def remembered_variables(self) -> dict:
        photo = self.photo
        ela = {"ela_quality": photo.ela_quality, "ela_scaling": photo.ela_scaling, "ela_gain": photo.ela_gain}
        return super().remembered_variables() | ela | {"heatmap": photo.show_heatmap}

    def remembered_choices(self) -> dict:
        return super().remembered_choices() | {"ela_scaling": forgery.ELA_SCALINGS}

    def unsaved_results(self) -> str:
        return self.batch.unsaved_results()

    def results_kept(self) -> None:
        self.batch.exported = True

    @property
    def results(self) -> ResultsTable:
        """The table of verdicts (the batch view's), where every image tab has its answers."""
        return self.batch.results

    def _page_changed(self) -> None:
        if self.pages.select() == str(self.chart_page):
            self.batch.show_chart()
        if self.pages.select() == str(self.evaluation_page):
            if self.evaluation_view is None:
                self.evaluation_view = EvaluationView(self.evaluation_page, self)
                self.evaluation_view.pack(fill="both", expand=True)
            self.evaluation_view.draw()

    # Models ------------------------------------------------------------------------------------
    @property
    def retrain_fields(self) -> tuple[Field, ...]:
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

    def on_model_ready(self, name: str, replaced: bool) -> None:
        self._refresh_model_choices()
        if name != self.selected_model_name():
            return
        entry = self.predictors[name].entry
        self.model_state.set(
            f"{name} ({entry.origin}, calibrated, verdict at {self.predictors[name].threshold:.0%})"
        )
        if self.evaluation_view is not None and self.pages.select() == str(self.evaluation_page):
            self.evaluation_view.draw()
        if replaced:
            self.rescore()

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

    def rescore(self) -> None:
        """After a model change: every verdict on screen again, with the new model."""
        paths_scored = list(self.batch.verdicts)
        self.batch.verdicts.clear()
        judged_again = self.photo.judge_again()
        others = [Path(path) for path in paths_scored if path != judged_again]
        if others:
            self.batch.score_batch(others)

    # Retraining ---------------------------------------------------------------------------------
    def train(self, values: dict, job):
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

    # Photos dropped -------------------------------------------------------------------------------
    def open_paths(self, paths_dropped) -> None:
        """One photo: shown at once, part by part. Several, or a folder: scored one by one
        into the table (the first is shown)."""
        self.app.remember_opened(self, paths_dropped)
        self.app.notebook.select(self)
        dropped = [Path(path) for path in paths_dropped]
        expanded = images.expand_paths(dropped)
        if not expanded:
            self.photo.message_text.set("No photos in what was dropped.")
            return
        self.pages.select(self.photo)
        if len(expanded) == 1 and not dropped[0].is_dir():
            self.photo.show_photo(expanded[0])
        else:
            self.batch.score_batch(expanded, show_first=True)

    def on_batch_cancelled(self) -> None:
        self.set_status("Forgery: cancelled; what was scored so far stays.")
        self.batch.draw_chart()

    def on_batch_failed(self, error) -> None:
        self.photo.message_text.set(str(error))

    nothing_to_report = "drop a photo or a folder on it first"

    def case_report(self):
        """Every photo in the table, in its order; the one open on the Photo page as shown there
        (its ELA settings and forensic views), the others' ELA and heatmap drawn again from
        their verdicts (the model is not run again)."""
        batch = self.batch
        verdicts = batch.results.in_shown_order(batch.verdicts)
        if not verdicts:
            return None
        shown = self.photo.shown
        open_case = None
        if shown is not None and shown.verdict is not None:
            ela = forgery.ElaPreview(shown.ela, shown.ela_settings) if shown.ela is not None else None
            analysis = forgery.PhotoAnalysis(
                shown.opened.path, shown.opened, ela, shown.verdict, shown.overlay
            )
            open_case = report.PhotoCase(analysis, shown.views)
        entry = self.model_entry(self.selected_model_name())
        threshold = next((verdict.threshold for verdict in verdicts if verdict.threshold is not None), 0.5)
        note = (
            "" if len(verdicts) == 1 else "The forensic views are shown for the photo open on the Photo page."
        )

        def make():
            cases = (
                open_case
                if open_case is not None and verdict.path == open_case.analysis.path
                else report.PhotoCase(forgery.analyse_file(verdict.path, None, verdict=verdict))
                for verdict in verdicts
            )  # one photo at a time: each is drawn into the report before the next is read
            return report.forgery_report(cases, entry, threshold, note, count=len(verdicts))

        return make

    def clear(self) -> None:
        self.batch.clear()
        self.photo.clear()

    def shown_answer(self) -> dict:
        """What the user sees for the photo shown, and the table's rows (tests, the self-test
        and benches read this)."""
        return {**self.photo.shown_answer(), "rows": self.results.rows()}
