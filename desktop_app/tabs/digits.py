"""The Digits tab: drop digit images to classify them; evaluate and retrain the models."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

from PIL import Image

from desktop_app import theme
from desktop_app.tabs.base import ToolTab
from desktop_app.widgets.bar_list import BarList
from desktop_app.widgets.drop_zone import DropZone
from desktop_app.widgets.image_view import ImageView
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.retrain_dialog import Field
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import anomaly, digits, report
from training.core import images

MODEL_CHOICES = {"CNN (default)": digits.MODEL_NAMES["cnn"], "Seed MLP": digits.MODEL_NAMES["mlp"]}
PREVIEW_SIDE = 1024
DIGITS_DEFAULTS = digits.DigitsTrainingConfig()
IMAGE_TYPES = "*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp"


class DigitsTab(ToolTab):
    title = "Digits"
    how_to_read = (
        "Drop scanned or photographed digits (or a folder of them). Each image is read the way "
        "MNIST's digits were made: grey, the ink centred, 28×28 pixels; the right-hand view shows "
        "exactly what the model sees, so a bad crop or faint ink is visible at once.\n\n"
        'The large answer is the most likely digit; "7?" means the model is unsure (its best '
        "guess is below its confidence bar) and the message names the runner-up. The bars give "
        "the three most likely digits with their probabilities.\n\n"
        'With "Flag non-digits" ticked, the Anomaly tab\'s model checks each image first: a '
        'drawing unlike any digit is marked "not a digit" instead of being given the nearest '
        "digit.\n\n"
        "Evaluation page: accuracy on the 10,000 MNIST test images (and rotated ones), the "
        "confusion matrix (rows: the true digit, columns: the answer), precision, recall and F1 "
        "per digit, and some misclassified images."
    )
    filetypes = (("Images", IMAGE_TYPES), ("All files", "*"))
    # The engine's defaults, except a quick retrain's epochs and images.
    retrain_fields = (
        Field("kind", "Model", DIGITS_DEFAULTS.kind, choices=digits.MODEL_KINDS),
        Field("epochs", "Epochs", 3, minimum=1, maximum=200),
        Field("augment", "Rotation/shift/zoom augmentation", DIGITS_DEFAULTS.augment),
        Field(
            "rotation_degrees",
            "Max rotation (degrees)",
            DIGITS_DEFAULTS.rotation_degrees,
            minimum=0,
            maximum=180,
        ),
        Field(
            "subset", "Training images (blank = all 54,000)", 6000, minimum=100, maximum=54000, optional=True
        ),
    )

    def __init__(self, parent, app):
        super().__init__(parent, app)
        self.predictions: dict[str, digits.DigitPrediction] = {}
        self.evaluation_view: EvaluationView | None = None
        top = ttk.Frame(self)
        top.pack(fill="x")
        self.build_model_selector(top, next(iter(MODEL_CHOICES)), width=16, choices=list(MODEL_CHOICES))
        self.use_gate = tk.BooleanVar(value=False)
        self.gate_checkbox = ttk.Checkbutton(
            top, text="Flag non-digits (anomaly gate)", variable=self.use_gate, command=self._gate_toggled
        )
        self.gate_checkbox.pack(side="left", padx=(8, 0))
        tip(
            self.gate_checkbox,
            "Check each image with the Anomaly tab's model first: a drawing that is not a digit "
            "is flagged instead of being given the nearest digit.",
        )
        self.model_state = tk.StringVar(value="model not loaded yet")
        WrappingLabel(top, min_width=150, textvariable=self.model_state, style=theme.SECONDARY).pack(
            side="left", fill="x", expand=True, padx=8
        )

        self.pages = ttk.Notebook(self)
        self.pages.pack(fill="both", expand=True, pady=(6, 0))
        self.predict_page = ttk.Frame(self.pages, padding=6)
        self.evaluation_page = ttk.Frame(self.pages, padding=6)
        self.pages.add(self.predict_page, text="Predict")
        self.pages.add(self.evaluation_page, text="Evaluation")
        self.pages.bind("<<NotebookTabChanged>>", lambda _event: self._page_changed())
        self._build_predict_page()

    # Predict page ------------------------------------------------------------------------------
    def _build_predict_page(self) -> None:
        left = ttk.Frame(self.predict_page)
        left.pack(side="left", fill="both", expand=True)
        self.drop_zone = DropZone(
            left, self.open_paths, "Drop scanned or photographed digits here", self.filetypes
        )
        self.drop_zone.pack(fill="x")
        self.results = ResultsTable(
            left,
            [
                ("file", "File", 180),
                ("digit", "Digit", 50),
                ("confidence", "Confidence", 80),
                ("status", "Status", 70),
            ],
            height=10,
        )
        self.results.pack(fill="both", expand=True, pady=(6, 0))
        self.results.tree.bind("<<TreeviewSelect>>", lambda _event: self._show_selected())
        ttk.Button(left, text="Clear list", command=self.clear).pack(anchor="e", pady=(4, 0))

        right = ttk.Frame(self.predict_page)
        right.pack(side="left", fill="both", padx=(10, 0))
        views = ttk.Frame(right)
        views.pack()
        self.original_view = ImageView(views, 200, 200, caption="original")
        self.original_view.grid(row=0, column=0, padx=(0, 6))
        self.model_view = ImageView(views, 200, 200, pixelated=True, caption="model input (28×28)")
        self.model_view.grid(row=0, column=1)
        self.answer_text = tk.StringVar(value="–")
        ttk.Label(right, textvariable=self.answer_text, font=("TkDefaultFont", 40, "bold")).pack(pady=(8, 0))
        self.bars = BarList(right, rows=3, width=400)
        self.bars.pack(fill="x")
        self.message_text = tk.StringVar(value="Drop images to classify them.")
        ttk.Label(right, textvariable=self.message_text, wraplength=400).pack(fill="x", pady=(6, 0))

    def remembered_variables(self) -> dict:
        return super().remembered_variables() | {"gate": self.use_gate}

    def model_names(self) -> list[str]:
        return list(MODEL_CHOICES.values())

    def selected_model_name(self) -> str:
        return MODEL_CHOICES[self.model_choice.get()]

    def _gate_toggled(self) -> None:
        if self.predictions:
            self.open_paths([Path(path) for path in self.predictions])

    def on_model_ready(self, name: str, replaced: bool) -> None:
        if name != self.selected_model_name():
            return
        entry = self.predictors[name].entry
        accuracy = entry.metrics.get("test_accuracy")
        figure = f", test accuracy {accuracy:.2%}" if accuracy is not None else ""
        self.model_state.set(f"{entry.name} ({entry.origin}{figure})")
        if replaced and self.evaluation_view is not None:
            self.evaluation_view.show_stored()

    def _model_selected(self) -> None:
        name = self.selected_model_name()
        if name in self.predictors:
            self.on_model_ready(name, replaced=False)
        else:
            self.model_state.set("loading…")
            self.with_predictor(name, lambda _predictor: None)
        if self.predictions:
            self.open_paths([Path(path) for path in self.predictions])
        if self.evaluation_view is not None:
            self.evaluation_view.show_stored()

    def open_paths(self, paths) -> None:
        """Classify the files on a worker thread; rows appear as answers arrive."""
        self.app.remember_opened(self, paths)
        self.app.notebook.select(self)
        self.pages.select(self.predict_page)
        paths = [Path(path) for path in paths]
        self.message_text.set(f"Reading {len(paths)} image(s)…")
        name = self.selected_model_name()

        def classify(job, predictor, gate):
            for path in paths:
                if job.cancelled:
                    break
                job.post(predictor.predict_file(path, preview_side=PREVIEW_SIDE, gate=gate))

        def start(predictor, gate=None) -> None:
            self.submit(
                f"classify {len(paths)} image(s)",
                lambda job: classify(job, predictor, gate),
                on_partial=self._add_prediction,
            )

        if self.use_gate.get():
            self.with_predictor(
                name,
                lambda predictor: self.with_predictor(
                    anomaly.ALL_DIGITS_MODEL, lambda gate: start(predictor, gate)
                ),
            )
        else:
            self.with_predictor(name, start)

    def _add_prediction(self, prediction: digits.DigitPrediction) -> None:
        key = prediction.path
        confidence = f"{max(prediction.probabilities):.1%}" if prediction.probabilities else ""
        row = (
            Path(key).name,
            "" if prediction.label is None else prediction.label,
            confidence,
            "not a digit" if prediction.not_a_digit else prediction.status,
        )
        self.results.put(key, row)
        self.predictions[key] = prediction
        self.results.tree.selection_set(key)
        self.results.tree.see(key)
        self._show(prediction)

    def _show_selected(self) -> None:
        key = self.results.selected()
        if key in self.predictions:
            self._show(self.predictions[key])

    def _show(self, prediction: digits.DigitPrediction) -> None:
        self.original_view.show(prediction.preview)
        model_input = Image.fromarray(prediction.model_input) if prediction.model_input is not None else None
        self.model_view.show(model_input)
        if prediction.not_a_digit:
            self.answer_text.set("not a digit")
            self.bars.show([(str(label), value) for label, value in prediction.top(3)])
        elif prediction.status in ("ok", "unsure"):
            self.answer_text.set(
                str(prediction.label) if prediction.status == "ok" else f"{prediction.label}?"
            )
            self.bars.show([(str(label), value) for label, value in prediction.top(3)])
        else:
            self.answer_text.set("–")
            self.bars.show([])
        # An error's message already starts with the file's name; the others do not.
        if prediction.status == "error":
            self.message_text.set(images.name_once(prediction.path, prediction.message))
        else:
            self.message_text.set(f"{Path(prediction.path).name}: {prediction.message}")

    def shown_answer(self) -> dict:
        """What the user sees for the selected image (used by tests and the self-test)."""
        return {
            "answer": self.answer_text.get(),
            "message": self.message_text.get(),
            "bars": list(self.bars.shown),
            "model_input_shown": self.model_view.image is not None,
        }

    nothing_to_report = "drop digit images on it first"

    def case_report(self):
        predictions = self.results.in_shown_order(self.predictions)
        if not predictions:
            return None
        entry = self.model_entry(self.selected_model_name())
        gated = any(prediction.not_a_digit is not None for prediction in predictions)
        gate = self.model_entry(anomaly.ALL_DIGITS_MODEL) if gated else None
        return lambda: report.digits_report(predictions, entry, gate)

    def clear(self) -> None:
        self.results.clear()
        self.predictions.clear()
        self.original_view.show(None)
        self.model_view.show(None)
        self.answer_text.set("–")
        self.bars.show([])
        self.message_text.set("Drop images to classify them.")

    # Evaluation page ------------------------------------------------------------------------
    def _page_changed(self) -> None:
        if self.pages.select() == str(self.evaluation_page) and self.evaluation_view is None:
            self.evaluation_view = EvaluationView(self.evaluation_page, self)
            self.evaluation_view.pack(fill="both", expand=True)
            self.evaluation_view.show_stored()

    def show_evaluation(self) -> EvaluationView:
        self.show_page(self.evaluation_page)
        return self.evaluation_view

    # Retraining --------------------------------------------------------------------------
    def train(self, values: dict, job):
        from training.core import datasets

        config = digits.DigitsTrainingConfig.defaults_for(
            values["kind"],
            epochs=values["epochs"],
            augment=bool(values["augment"]),
            rotation_degrees=values["rotation_degrees"],
            subset=values["subset"],
        )
        data = datasets.load_mnist(self.app.data_dir)
        _entry, _evaluation, outcome = digits.train_and_save(
            data, config, self.app.registry, report=job.report, cancel=job.cancel_token
        )
        return outcome


class EvaluationView(ttk.Frame):
    """Test accuracy (plain and rotated), confusion matrix, per-class table, misclassified."""

    def __init__(self, parent, tab: DigitsTab):
        from desktop_app.widgets.plot_panel import PlotPanel

        super().__init__(parent)
        self.tab = tab
        self.summary: dict | None = None
        self.evaluation: digits.DigitsEvaluation | None = None
        self.source_text = tk.StringVar()
        controls = ttk.Frame(self)
        controls.pack(fill="x")
        self.compute_button = ttk.Button(controls, text="Compute on the MNIST test set", command=self.compute)
        self.compute_button.pack(side="left")
        tip(
            self.compute_button,
            "Score the 10,000 MNIST test images with the selected model (needs the data).",
        )
        self.rotated = tk.BooleanVar(value=False)
        ttk.Checkbutton(
            controls, text="rotated test set (±90°)", variable=self.rotated, command=self.redraw
        ).pack(side="left", padx=8)
        ttk.Label(controls, textvariable=self.source_text, wraplength=380).pack(side="left", padx=8)
        self.accuracy_text = tk.StringVar()
        ttk.Label(self, textvariable=self.accuracy_text, font=("TkDefaultFont", 12, "bold")).pack(
            anchor="w", pady=4
        )
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True)
        self.confusion_plot = PlotPanel(body, 4.6, 4.0)
        self.confusion_plot.pack(side="left", fill="both", expand=True)
        side = ttk.Frame(body)
        side.pack(side="left", fill="both", expand=True, padx=(8, 0))
        self.per_class = ResultsTable(
            side,
            [
                ("label", "Class", 50),
                ("precision", "Precision", 80),
                ("recall", "Recall", 80),
                ("f1", "F1", 80),
                ("support", "Support", 70),
            ],
            height=10,
        )
        self.per_class.pack(fill="x")
        self.gallery_plot = PlotPanel(side, 4.2, 2.6, toolbar=False)
        self.gallery_plot.pack(fill="both", expand=True, pady=(6, 0))

    def show_stored(self) -> None:
        entry = self.tab.app.registry.entry(self.tab.selected_model_name())
        self.summary, self.evaluation = entry.metrics, None
        self.source_text.set(
            f"Figures stored when {entry.name} was made ({entry.record.get('created', '?')}); "
            "press Compute to recompute them from the data."
        )
        self.redraw()

    def compute(self) -> None:
        from training.core import datasets

        name = self.tab.selected_model_name()
        self.compute_button.state(["disabled"])
        self.source_text.set("Computing on the 10,000 test images…")

        def work(_job, predictor):
            data = datasets.load_mnist(self.tab.app.data_dir)
            return data, digits.evaluate(predictor.model, data)

        def done(result) -> None:
            self.data, self.evaluation = result
            self.summary = self.evaluation.summary()
            self.source_text.set(f"Computed now from {self.data.source}.")
            self.redraw()

        def failed(error, _details) -> None:
            self.show_stored()
            self.source_text.set(f"{error} Showing the figures stored in the manifest.")

        def start(predictor) -> None:
            self.tab.submit(
                "evaluate digits",
                lambda job: work(job, predictor),
                on_success=done,
                on_error=failed,
                on_finally=lambda: self.compute_button.state(["!disabled"]),
            )

        self.tab.with_predictor(name, start)

    def redraw(self) -> None:
        if not self.summary:
            self.accuracy_text.set("No figures stored for this model.")
            return
        self.accuracy_text.set(
            f"Test accuracy {self.summary['test_accuracy']:.2%}   ·   rotated ±90°: "
            f"{self.summary['rotated_test_accuracy']:.2%}"
        )
        figures = self.summary["rotated_test" if self.rotated.get() else "test"]
        self._draw_confusion(figures["confusion_matrix"])
        self.per_class.clear()
        for row in figures["per_class"]:
            self.per_class.add([row["label"], row["precision"], row["recall"], row["f1"], row["support"]])
        self._draw_gallery()

    def _draw_confusion(self, matrix) -> None:
        from training.core.charts import draw_confusion

        title = "Confusion matrix" + (" (rotated)" if self.rotated.get() else "")
        draw_confusion(
            self.confusion_plot.clear().add_subplot(), matrix, [str(label) for label in range(10)], title
        )
        self.confusion_plot.redraw()

    def _draw_gallery(self) -> None:
        figure = self.gallery_plot.clear()
        if self.evaluation is None:
            figure.text(
                0.5,
                0.5,
                "Misclassified examples appear\nafter Compute (needs MNIST).",
                ha="center",
                va="center",
            )
            self.gallery_plot.redraw()
            return
        import numpy as np

        rotated = self.rotated.get()
        predictions = self.evaluation.rotated_predictions if rotated else self.evaluation.plain_predictions
        pictures = self.evaluation.rotated_images if rotated else self.data.x_test
        wrong = np.flatnonzero(predictions != self.data.y_test)[:24]
        figure.suptitle(
            f"{int((predictions != self.data.y_test).sum())} misclassified (true → predicted)", fontsize=9
        )
        for position, index in enumerate(wrong):
            axes = figure.add_subplot(3, 8, position + 1)
            axes.imshow(pictures[index], cmap="gray")
            axes.set_title(f"{self.data.y_test[index]}→{predictions[index]}", fontsize=7)
            axes.axis("off")
        self.gallery_plot.redraw()

    def misclassified_count(self) -> int | None:
        if self.evaluation is None:
            return None
        predictions = (
            self.evaluation.rotated_predictions if self.rotated.get() else self.evaluation.plain_predictions
        )
        return int((predictions != self.data.y_test).sum())
