"""The Anomaly tab: score images against an autoencoder's idea of "normal", see why, and move
the threshold to see what it changes."""

from __future__ import annotations

import time
import tkinter as tk
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk

import numpy as np
from PIL import Image

from desktop_app import theme
from desktop_app.tabs.base import ToolTab
from desktop_app.widgets.drop_zone import DropZone
from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.retrain_dialog import Field
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import anomaly, report
from training.core import images
from training.core.errors import InvalidInputError, WorkbenchError
from training.core.progress import Progress

ARRAY_SUFFIXES = frozenset({".npz"})
ANOMALY_DEFAULTS = anomaly.AnomalyTrainingConfig()
IMAGE_TYPES = " ".join(f"*{suffix}" for suffix in sorted(images.IMAGE_SUFFIXES | ARRAY_SUFFIXES))
GRID_COLUMNS, GRID_ROWS = 8, 3
HISTOGRAM_REDRAW_SECONDS = 0.5


def model_label(name: str) -> str:
    if name == anomaly.ALL_DIGITS_MODEL:
        return "All digits normal"
    digits = name.removeprefix("anomaly-digits-")
    return f"Only {digits} normal" if len(digits) == 1 else f"Digits {', '.join(digits)} normal"


@dataclass
class ScoredArray:
    """A batch of MNIST-format images (a .npz or the MNIST test set), scored once."""

    source: str
    pixels: np.ndarray
    labels: np.ndarray | None  # digit labels, when the batch has them
    scored: anomaly.ScoredImages
    is_anomaly: np.ndarray | None  # labels outside the model's normal digits


class AnomalyTab(ToolTab):
    title = "Anomaly"
    how_to_read = (
        "An autoencoder learned to redraw normal digits. Each image gets a score: how badly it "
        "is redrawn, with evidence that it is not a digit at all. Above the threshold it is an "
        "anomaly.\n\n"
        "Image page: what the model sees, its reconstruction, and the error (bright = worse). "
        '"vs threshold" in the table is the score minus the threshold: positive is '
        "anomalous, and the further from 0, the clearer.\n\n"
        'Scores & threshold page: the histogram of scores (after "Score the MNIST test set" or '
        "a dropped .npz), normal digits and the others in two colours. Drag the line to move the "
        'threshold: every verdict follows; "Save threshold" keeps it. Moving it right '
        "misses more anomalies, left flags more normal digits.\n\n"
        "Most anomalous page: the images that scored highest."
    )
    filetypes = (("Images or MNIST arrays", IMAGE_TYPES), ("All files", "*"))
    # The engine's defaults, except a quick retrain's epochs and images.
    retrain_fields = (
        Field(
            "normal",
            "Normal digits (e.g. 0123456789 or 3)",
            "".join(map(str, ANOMALY_DEFAULTS.normal_digits)),
        ),
        Field("epochs", "Epochs", 3, minimum=1, maximum=200),
        Field("latent_dim", "Bottleneck size", ANOMALY_DEFAULTS.latent_dim, minimum=2, maximum=256),
        Field(
            "threshold_rule",
            "Threshold rule",
            ANOMALY_DEFAULTS.threshold_rule,
            choices=anomaly.THRESHOLD_RULES,
        ),
        Field(
            "subset", "Normal training images (blank = all)", 6000, minimum=100, maximum=60000, optional=True
        ),
    )
    retrain_chart_keys = ("loss", "val_loss")

    def __init__(self, parent, app):
        super().__init__(parent, app)
        self.file_predictions: dict[str, anomaly.AnomalyPrediction] = {}
        self.batch: ScoredArray | None = None
        self.threshold: float | None = None
        self._last_histogram_draw = 0.0

        top = ttk.Frame(self)
        top.pack(fill="x")
        self.build_model_selector(top, model_label(anomaly.ALL_DIGITS_MODEL), width=20)
        self.model_state = tk.StringVar(value="model not loaded yet")
        WrappingLabel(top, min_width=150, textvariable=self.model_state, style=theme.SECONDARY).pack(
            side="left", fill="x", expand=True, padx=8
        )
        threshold_row = ttk.Frame(self)
        threshold_row.pack(fill="x", pady=(4, 0))
        ttk.Label(threshold_row, text="Threshold rule:").pack(side="left")
        self.rule_choice = tk.StringVar()
        self.rule_selector = ttk.Combobox(
            threshold_row, textvariable=self.rule_choice, state="readonly", width=30
        )
        self.rule_selector.pack(side="left", padx=4)
        tip(
            self.rule_selector,
            "How the score above which an image is called an anomaly was chosen from the training "
            "scores (a percentile, mean + k·sigma, the maximum, or the best F1 on held-out data).",
        )
        self.rule_selector.bind("<<ComboboxSelected>>", lambda _event: self._rule_selected())
        self.threshold_text = tk.StringVar(value="threshold –")
        # A fixed width: the row keeps its size when a threshold replaces the dash.
        ttk.Label(threshold_row, textvariable=self.threshold_text, width=15).pack(side="left", padx=8)
        self.save_threshold_button = ttk.Button(
            threshold_row, text="Save threshold", command=self.save_threshold, state="disabled"
        )
        self.save_threshold_button.pack(side="left")
        tip(
            self.save_threshold_button,
            "Keep the threshold you set by dragging the line on the Scores & threshold page: saved "
            "as a new version of the model in use (the Digits tab's gate uses it too).",
        )
        self.test_set_button = ttk.Button(top, text="Score the MNIST test set", command=self.score_test_set)
        self.test_set_button.pack(side="right")
        tip(
            self.test_set_button,
            "Score the 10,000 MNIST test digits (needs the data): the histogram then shows how the "
            "model's normal digits and the others fall either side of the threshold.",
        )
        self._refresh_model_choices()

        # The list beside the pages: each gets at least what it asks for, and a larger window
        # gives both more room, the pages more.
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True, pady=(6, 0))
        body.rowconfigure(0, weight=1)
        body.columnconfigure(0, weight=1)
        body.columnconfigure(1, weight=2)
        left = ttk.Frame(body)
        left.grid(row=0, column=0, sticky="nsew")
        self.drop_zone = DropZone(
            left,
            self.open_paths,
            "Drop images, folders or a .npz of\nMNIST-format arrays here",
            self.filetypes,
        )
        self.drop_zone.pack(fill="x")
        self.build_batch_progress(left)
        self.results = ResultsTable(
            left,
            [
                ("file", "File", 92),
                ("score", "Score", 68),
                ("margin", "vs threshold", 80),
                ("verdict", "Verdict", 84),
            ],
            height=10,
        )
        self.results.pack(fill="both", expand=True, pady=(4, 0))
        self.results.tree.tag_configure("anomaly", foreground="#b03a2e")
        self.results.tree.bind("<<TreeviewSelect>>", lambda _event: self._show_selected())
        ttk.Button(left, text="Clear", command=self.clear).pack(anchor="e", pady=(4, 0))

        self.pages = ttk.Notebook(body)
        self.pages.grid(row=0, column=1, sticky="nsew", padx=(6, 0))
        self.image_page = ttk.Frame(self.pages, padding=6)
        self.histogram_page = ttk.Frame(self.pages, padding=6)
        self.grid_page = ttk.Frame(self.pages, padding=6)
        self.pages.add(self.image_page, text="Image")
        self.pages.add(self.histogram_page, text="Scores & threshold")
        self.pages.add(self.grid_page, text="Most anomalous")
        self._build_image_page()
        self.histogram = None
        self.grid_plot = None
        self.pages.bind("<<NotebookTabChanged>>", lambda _event: self._page_changed())

    def _build_image_page(self) -> None:
        views = ttk.Frame(self.image_page)
        views.pack()
        self.original_view = ImageView(views, 150, 150, pixelated=True, caption="what the model sees")
        self.reconstruction_view = ImageView(views, 150, 150, pixelated=True, caption="reconstruction")
        self.error_view = ImageView(views, 150, 150, pixelated=True, caption="error (bright = worse)")
        for column, view in enumerate((self.original_view, self.reconstruction_view, self.error_view)):
            view.grid(row=0, column=column, padx=3)
        self.verdict_text = tk.StringVar(value="–")
        self.verdict_label = ttk.Label(
            self.image_page, textvariable=self.verdict_text, font=("TkDefaultFont", 28, "bold")
        )
        self.verdict_label.pack(pady=(10, 0))
        self.message_text = tk.StringVar(value="Drop images to score them.")
        ttk.Label(self.image_page, textvariable=self.message_text, wraplength=460).pack(fill="x", pady=(6, 0))

    def _page_changed(self) -> None:
        page = self.pages.select()
        if page == str(self.histogram_page) and self.histogram is None:
            from desktop_app.widgets.threshold_histogram import ThresholdHistogram

            self.counts_text = tk.StringVar()
            ttk.Label(self.histogram_page, textvariable=self.counts_text, justify="left").pack(
                side="bottom", fill="x", pady=(6, 0)
            )
            self.histogram = ThresholdHistogram(self.histogram_page, self._threshold_moved, height_inches=3.6)
            self.histogram.pack(fill="both", expand=True)
            self.draw_histogram()
        elif page == str(self.grid_page) and self.grid_plot is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            self.grid_plot = PlotPanel(self.grid_page, 5.4, 4.2, toolbar=False)
            self.grid_plot.pack(fill="both", expand=True)
            self.draw_grid()

    # Models and thresholds -----------------------------------------------------------------
    def model_names(self) -> list[str]:
        names = [name for name in self.app.registry.names() if name.startswith("anomaly-")]
        return sorted(names, key=lambda name: (name != anomaly.ALL_DIGITS_MODEL, len(name), name))

    def _refresh_model_choices(self) -> None:
        self.labels_to_names = {model_label(name): name for name in self.model_names()}
        self.model_selector.configure(values=list(self.labels_to_names))

    def selected_model_name(self) -> str:
        return self.labels_to_names.get(self.model_choice.get(), anomaly.ALL_DIGITS_MODEL)

    def on_model_ready(self, name: str, replaced: bool) -> None:
        self._refresh_model_choices()
        if name != self.selected_model_name():
            return
        predictor = self.predictors[name]
        flagged = predictor.entry.metrics.get("test_flagged_fraction")
        auroc = predictor.entry.metrics.get("auroc")
        figures = f", flags {flagged:.1%} of MNIST test digits" if flagged is not None else ""
        figures += f", one-class AUROC {auroc:.4f}" if auroc is not None else ""
        self.model_state.set(f"{name} ({predictor.entry.origin}{figures})")
        self.rule_labels = {anomaly.RULE_LABELS.get(rule, rule): rule for rule in predictor.thresholds}
        self.rule_selector.configure(values=list(self.rule_labels))
        self.rule_choice.set(anomaly.RULE_LABELS.get(predictor.threshold_rule, predictor.threshold_rule))
        self.set_threshold(predictor.threshold, final=True)
        self.save_threshold_button.state(["disabled"])
        if replaced:
            self.rescore()

    def _rule_selected(self) -> None:
        self.save_threshold_button.state(["disabled"])
        if self.predictor is not None:
            self.set_threshold(
                self.predictor.thresholds[self.rule_labels[self.rule_choice.get()]], final=True
            )

    def _threshold_moved(self, threshold: float, final: bool) -> None:
        self.rule_choice.set("(dragged)")
        self.set_threshold(threshold, final)
        self.save_threshold_button.state(["!disabled"])

    def save_threshold(self) -> None:
        """Keep the dragged threshold: a new version of the model in use in the user's folder
        (Models → Roll back returns to the previous one)."""
        name = self.selected_model_name()
        try:
            anomaly.save_threshold(self.app.registry, name, self.threshold)
        except (WorkbenchError, OSError) as error:
            self.app.show_error(error)
            return
        self.save_threshold_button.state(["disabled"])
        self.message_text.set(f"Threshold {self.threshold:.3f} saved as a new version of {name}.")
        self.reload_model(name)

    def set_threshold(self, threshold: float, final: bool = True) -> None:
        """Verdicts everywhere follow the threshold; the table and grid update on `final`."""
        self.threshold = float(threshold)
        self.threshold_text.set(f"threshold {self.threshold:.3f}")
        if self.histogram is not None:
            self.histogram.set_threshold(self.threshold)
        self._update_counts()
        if final:
            for key, prediction in self.file_predictions.items():
                self.results.update_row(key, self._row(prediction), self._tags(prediction))
            self._show_selected()
            self.draw_grid()

    def is_anomalous(self, prediction: anomaly.AnomalyPrediction) -> bool | None:
        """The engine's verdict rule at the threshold shown (dragged or chosen)."""
        return prediction.anomalous_at(self.threshold)

    # Scoring ------------------------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        """Images are scored one by one (rows appear as they come); a .npz as one batch."""
        self.app.remember_opened(self, paths)
        self.app.notebook.select(self)
        expanded = images.expand_paths(paths, images.IMAGE_SUFFIXES | ARRAY_SUFFIXES)
        arrays = [path for path in expanded if path.suffix.lower() in ARRAY_SUFFIXES]
        pictures = [path for path in expanded if path.suffix.lower() not in ARRAY_SUFFIXES]
        if not expanded:
            self.message_text.set("No images or .npz files in what was dropped.")
            return
        if pictures:
            self.pages.select(self.image_page)
            self._score_files(pictures)
        for path in arrays:
            self._score_array_file(path)

    def _score_files(self, paths: list[Path]) -> None:
        self.message_text.set(f"Scoring {len(paths)} image(s)…")

        def score(job, predictor):
            for position, path in enumerate(paths):
                if job.cancelled:
                    break
                job.post(predictor.predict_file(path))
                job.report(Progress("scoring", position + 1, len(paths), path.name))

        def start(predictor) -> None:
            self.run_batch_job(
                f"score {len(paths)} image(s)",
                lambda job: score(job, predictor),
                on_partial=self._add_prediction,
                on_success=lambda _result: self._batch_finished(f"Scored {len(paths)} image(s)."),
            )

        self.with_predictor(self.selected_model_name(), start)

    def _score_array_file(self, path: Path) -> None:
        def work(job, predictor):
            pixels, labels = anomaly.load_image_array(path)
            return self._score_array(job, predictor, path.name, pixels, labels)

        self.with_predictor(
            self.selected_model_name(),
            lambda predictor: self.run_batch_job(
                f"score {path.name}", lambda job: work(job, predictor), on_success=self._show_batch
            ),
        )

    def score_test_set(self) -> None:
        from training.core import datasets

        def work(job, predictor):
            data = datasets.load_mnist(self.app.data_dir)
            return self._score_array(job, predictor, "MNIST test set", data.x_test, data.y_test)

        self.with_predictor(
            self.selected_model_name(),
            lambda predictor: self.run_batch_job(
                "score MNIST test set", lambda job: work(job, predictor), on_success=self._show_batch
            ),
        )

    @staticmethod
    def _score_array(job, predictor, source, pixels, labels) -> ScoredArray:
        scored = predictor.score_batch(pixels, job.report, job.cancel_token)
        is_anomaly = None if labels is None else ~np.isin(labels, predictor.normal_digits)
        return ScoredArray(source, pixels, labels, scored, is_anomaly)

    def on_batch_cancelled(self) -> None:
        self._batch_finished("Cancelled; what was scored so far stays.")

    def on_batch_failed(self, error) -> None:
        self._batch_finished(str(error))

    def _batch_finished(self, text: str) -> None:
        self.set_status(f"Anomaly: {text}")
        self.draw_histogram()

    def _show_batch(self, batch: ScoredArray) -> None:
        self.batch = batch
        self._batch_finished(f"Scored {len(batch.pixels):,} images from {batch.source}.")
        self.message_text.set(f"{batch.source}: {len(batch.pixels):,} images scored.")
        self.draw_grid()
        self.show_page(self.histogram_page)

    def rescore(self) -> None:
        """After a model change: score again what is on screen, with the new model."""
        paths = [Path(path) for path in self.file_predictions]
        batch, self.batch = self.batch, None
        if paths:
            self._score_files(paths)
        if batch is not None:
            self.with_predictor(
                self.selected_model_name(),
                lambda predictor: self.run_batch_job(
                    f"score {batch.source}",
                    lambda job: self._score_array(job, predictor, batch.source, batch.pixels, batch.labels),
                    on_success=self._show_batch,
                ),
            )
        self.draw_histogram()

    # Showing ---------------------------------------------------------------------------------
    def _row(self, prediction: anomaly.AnomalyPrediction) -> tuple:
        if prediction.score is None:
            return (Path(prediction.path).name, "", "", prediction.status)
        margin = prediction.score - self.threshold
        return (
            Path(prediction.path).name,
            f"{prediction.score:.3f}",
            f"{margin:+.3f}",
            self.verdict_word(prediction),
        )

    def verdict_word(self, prediction: anomaly.AnomalyPrediction) -> str:
        """The same word in the table and the headline: "not a digit" / "digit" for the
        all-digits model, "anomaly" / "normal" for a model of some digits."""
        normal_word, anomalous_word = anomaly.verdict_words(self._normal_digits())
        return anomalous_word if self.is_anomalous(prediction) else normal_word

    def _normal_digits(self) -> tuple[int, ...]:
        return self.predictor.normal_digits if self.predictor is not None else tuple(range(10))

    def _add_prediction(self, prediction: anomaly.AnomalyPrediction) -> None:
        key = prediction.path
        self.results.put(key, self._row(prediction), self._tags(prediction))
        first = not self.file_predictions
        self.file_predictions[key] = prediction
        # Showing every image of a 1,000-image folder would stall the window (three views per
        # image, 50 answers per tick): show the first, keep the newest row in view, redraw the
        # histogram at most twice a second.
        if first:
            self.results.tree.selection_set(key)
        self.results.tree.see(key)
        self._update_counts()
        if time.monotonic() - self._last_histogram_draw > HISTOGRAM_REDRAW_SECONDS:
            self.draw_histogram()

    def _tags(self, prediction: anomaly.AnomalyPrediction) -> tuple[str, ...]:
        return ("anomaly",) if self.is_anomalous(prediction) else ()

    def _show_selected(self) -> None:
        key = self.results.selected()
        if key in self.file_predictions:
            self._show(self.file_predictions[key])

    def _show(self, prediction: anomaly.AnomalyPrediction) -> None:
        name = Path(prediction.path).name
        if prediction.model_input is None:
            for view in (self.original_view, self.reconstruction_view, self.error_view):
                view.show(None)
            self.verdict_text.set("–")
            self.verdict_label.configure(foreground="")
            # An error's message already starts with the file's name; a rejection's does not.
            if prediction.status == "error":
                self.message_text.set(images.name_once(prediction.path, prediction.message))
            else:
                self.message_text.set(f"{name}: {prediction.message}")
            return
        self.original_view.show(Image.fromarray(prediction.model_input))
        self.reconstruction_view.show(Image.fromarray((prediction.reconstruction * 255).astype(np.uint8)))
        self.error_view.show(anomaly.error_heatmap(prediction.error_map))
        anomalous = self.is_anomalous(prediction)
        self.verdict_text.set(self.verdict_word(prediction))
        self.verdict_label.configure(foreground="#b03a2e" if anomalous else "#1e8449")
        margin = prediction.score - self.threshold
        side = "above" if margin > 0 else "below"
        detail = f"score {prediction.score:.3f}, threshold {self.threshold:.3f}: {abs(margin):.3f} {side}."
        reasons = [
            item["reason"] for item in prediction.evidence if item["contribution"] is None or anomalous
        ]
        if reasons:
            detail = f"{'; '.join(reasons[:3])}. {detail[0].upper()}{detail[1:]}"
        self.message_text.set(f"{name}: {detail}")

    def shown_answer(self) -> dict:
        """What the user sees for the selected image (tests and the self-test read this)."""
        return {
            "verdict": self.verdict_text.get(),
            "message": self.message_text.get(),
            "views_shown": [
                view.image is not None
                for view in (self.original_view, self.reconstruction_view, self.error_view)
            ],
            "rows": self.results.rows(),
        }

    nothing_to_report = "drop images on it first"

    def case_report(self):
        """The files scored (an .npz batch or the MNIST test set is summed up on the Scores
        page, not reported image by image), judged at the threshold shown."""
        predictions = self.results.in_shown_order(self.file_predictions)
        if not predictions or self.predictor is None:
            return None
        entry, threshold = self.predictor.entry, self.threshold
        return lambda: report.anomaly_report(
            predictions, entry, threshold, report.rule_words(entry, threshold)
        )

    def counts(self) -> dict:
        """How many are flagged at the current threshold; with labels, the live metrics."""
        counts = {"files": len(self.file_predictions), "files_flagged": 0}
        counts["files_flagged"] = sum(bool(self.is_anomalous(p)) for p in self.file_predictions.values())
        if self.batch is not None:
            scores = self.batch.scored.scores
            counts["batch"] = len(scores)
            counts["batch_flagged"] = int((scores > self.threshold).sum())
            labelled = self.batch.is_anomaly
            if labelled is not None and labelled.any() and not labelled.all():
                counts["metrics"] = anomaly.verdict_metrics(scores, self.batch.is_anomaly, self.threshold)
        return counts

    def _update_counts(self) -> None:
        if self.histogram is None or self.threshold is None:
            return
        counts = self.counts()
        lines = []
        if counts["files"]:
            lines.append(
                f"Dropped images: {counts['files_flagged']} of {counts['files']} flagged as anomalies."
            )
        if "batch" in counts:
            lines.append(
                f"{self.batch.source}: {counts['batch_flagged']:,} of {counts['batch']:,} flagged "
                f"({counts['batch_flagged'] / counts['batch']:.1%})."
            )
        if "metrics" in counts:
            metrics = counts["metrics"]
            (true_normal, false_alarm), (missed, caught) = metrics["confusion_matrix"]
            lines.append(
                f"Anomaly class: precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, "
                f"F1 {metrics['f1']:.3f}.\nNormal digits: {true_normal:,} passed, {false_alarm:,} false alarms.   "
                f"Other digits: {caught:,} caught, {missed:,} missed."
            )
        self.counts_text.set("\n".join(lines) or "Drop images or score the MNIST test set to see them here.")

    def draw_histogram(self) -> None:
        from desktop_app.widgets.threshold_histogram import ScoreSeries

        predictor = self.predictor
        if self.histogram is None or predictor is None or self.threshold is None:
            return
        self._last_histogram_draw = time.monotonic()
        series = [
            ScoreSeries(
                "normal validation images",
                np.asarray(predictor.entry.record.get("validation_scores", [])),
                "#5d8aa8",
            )
        ]
        if self.batch is not None:
            scores, is_anomaly = self.batch.scored.scores, self.batch.is_anomaly
            if is_anomaly is None:
                series.append(ScoreSeries(self.batch.source, scores, "#8e44ad"))
            else:
                series.append(
                    ScoreSeries(f"{self.batch.source}: normal digits", scores[~is_anomaly], "#27ae60")
                )
                series.append(
                    ScoreSeries(f"{self.batch.source}: other digits", scores[is_anomaly], "#e67e22")
                )
        file_scores = [p.score for p in self.file_predictions.values() if p.score is not None]
        if file_scores:
            series.append(ScoreSeries("dropped images", np.asarray(file_scores), "#c0392b", marks=True))
        self.histogram.draw(series, self.threshold, f"{predictor.entry.name}: anomaly scores")
        self._update_counts()

    def draw_grid(self) -> None:
        """The batch's most anomalous images, each above its reconstruction."""
        if self.grid_plot is None:
            return
        figure = self.grid_plot.clear()
        if self.batch is None:
            figure.text(
                0.5,
                0.5,
                "Score the MNIST test set or drop a .npz\nto see its most anomalous images.",
                ha="center",
                va="center",
            )
            self.grid_plot.redraw()
            return
        order = np.argsort(-self.batch.scored.scores)[: GRID_COLUMNS * GRID_ROWS]
        tiles = []
        for index in order:
            original = self.batch.pixels[index] / 255.0
            reconstruction = self.batch.scored.reconstructions[index]
            tiles.append(np.pad(np.concatenate([original, reconstruction]), 2, constant_values=0.35))
        tiles += [np.full_like(tiles[0], 0.35)] * (GRID_COLUMNS * GRID_ROWS - len(tiles))
        mosaic = np.concatenate(
            [
                np.concatenate(tiles[row * GRID_COLUMNS : (row + 1) * GRID_COLUMNS], axis=1)
                for row in range(GRID_ROWS)
            ]
        )
        axes = figure.add_subplot()
        axes.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        tile_height, tile_width = tiles[0].shape
        for position, index in enumerate(order):
            row, column = divmod(position, GRID_COLUMNS)
            flagged = self.batch.scored.scores[index] > self.threshold
            axes.text(
                column * tile_width + 2,
                row * tile_height + 8,
                f"{self.batch.scored.scores[index]:.1f}",
                color="#ff6b5b" if flagged else "#7dcea0",
                fontsize=7,
            )
        axes.axis("off")
        axes.set_title(
            f"{self.batch.source}: most anomalous first (top: image, below: reconstruction)", fontsize=9
        )
        self.grid_plot.redraw()

    def clear(self) -> None:
        self.results.clear()
        self.file_predictions.clear()
        self.batch = None
        for view in (self.original_view, self.reconstruction_view, self.error_view):
            view.show(None)
        self.verdict_text.set("–")
        self.message_text.set("Drop images to score them.")
        self.draw_histogram()
        self.draw_grid()

    # Retraining ------------------------------------------------------------------------------
    def train(self, values: dict, job):
        from training.core import datasets

        normal = values["normal"].replace(",", "").replace(" ", "")
        if not normal.isdigit() or len(set(normal)) != len(normal):
            raise InvalidInputError(
                f"Normal digits: '{values['normal']}' should be distinct digits, e.g. 0123456789 or 3."
            )
        normal_digits = tuple(sorted(int(character) for character in normal))
        config = anomaly.AnomalyTrainingConfig(
            normal_digits=normal_digits,
            score=anomaly.default_score(normal_digits),
            epochs=values["epochs"],
            latent_dim=values["latent_dim"],
            threshold_rule=values["threshold_rule"],
            subset=values["subset"],
        )
        data = datasets.load_mnist(self.app.data_dir)
        _entry, _evaluation, outcome = anomaly.train_and_save(
            data, config, self.app.registry, report=job.report, cancel=job.cancel_token
        )
        return outcome

    def on_retrained(self, entry) -> None:
        """Show the model just trained (its name depends on the normal digits chosen)."""
        self._refresh_model_choices()
        self.model_choice.set(model_label(entry.name))
