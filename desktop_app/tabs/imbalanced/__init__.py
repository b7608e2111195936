"""The Imbalanced tab: a CSV with a rare positive class; models × imbalance methods compared on
the minority class, with curves, calibration and a live threshold, and explanations."""

from __future__ import annotations

import csv
import importlib
import os
import shutil
import tempfile
import textwrap
import tkinter as tk
from pathlib import Path
from tkinter import messagebox, ttk

from desktop_app import file_dialogs, theme
from desktop_app.jobs import ProgressClock, format_duration
from desktop_app.processes import run_in_process
from desktop_app.tabs.base import ToolTab
from desktop_app.tabs.imbalanced.explain_page import ExplainPage
from desktop_app.widgets.bar_list import BarList
from desktop_app.widgets.drop_zone import DropZone
from desktop_app.widgets.flow_frame import FlowFrame
from desktop_app.widgets.results_table import ResultsTable
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import imbalanced, report
from training.core.errors import InvalidInputError

PREVIEW_ROWS = 50
WARM_MODULES = ("matplotlib.backends.backend_tkagg", "matplotlib.figure", "sklearn.metrics")
OPERATING_WIDTH = 42  # characters: the confusion matrix's lines on the operating-point panel
RESULT_COLUMNS = [
    ("model", "Model", 170),
    ("method", "Method", 100),
    ("roc_auc", "ROC AUC", 66),
    ("pr_auc", "PR AUC", 62),
    ("f1_minority", "F1 (rare)", 66),
    ("precision_minority", "Precision", 68),
    ("recall_minority", "Recall", 60),
    ("threshold", "Threshold", 70),
    ("balanced_accuracy", "Bal. acc.", 66),
    ("mcc", "MCC", 56),
    ("cv_roc_auc", "CV ROC AUC", 80),
    ("ece", "ECE", 56),
    ("brier", "Brier", 56),
    ("audit", "Leakage audit", 160),
]
RANDOM_SPLIT = "random rows (stratified)"
SPLIT_CHOICES = {RANDOM_SPLIT: None, "the latest rows (file order)": imbalanced.ROW_ORDER}


class ImbalancedTab(ToolTab):
    title = "Imbalanced"
    how_to_read = (
        'Drop a CSV with a yes/no column where "yes" is rare (fraud, default, churn). Choose the '
        "column and its rare value, leave out IDs and columns known only after the outcome, tick "
        "models × imbalance methods and Run. Each configuration is cross-validated on the "
        "training rows; the test split is scored once, at the end.\n\n"
        "Results: judge on the rare class. PR AUC and F1 (rare) matter more than accuracy or "
        "ROC AUC, which look good even for a model that never flags anything (the Dummy row "
        "shows that floor). Precision: of the flagged rows, the share that are rare cases; "
        "recall: of the rare cases, the share flagged. ECE and Brier: how far the probabilities "
        'can be read as such (lower is better). The leakage audit says "diverges" when the '
        "cross-validated ROC AUC and the test split's differ by more than 0.05: leakage, drift or "
        "an unlucky split; the test figure is the one to trust.\n\n"
        "The threshold slider and the Optimise buttons set where a row is flagged: they choose "
        "on the training folds and show the test split's figures.\n\n"
        "Explain: which columns drive the score overall, how one column moves it, and why a "
        "chosen row got its score (the waterfall)."
    )
    filetypes = (("CSV and text tables", "*.csv *.tsv *.txt"), ("All files", "*"))

    def __init__(self, parent, app):
        super().__init__(parent, app)
        self.frame = None
        self.source: Path | None = None
        self.source_fingerprint: str | None = None
        # The table, its fingerprint and the problem the shown results were computed for: a
        # saved model records these, whatever is loaded or chosen since.
        self.results_context: tuple[Path, str, imbalanced.Problem] | None = None
        self.data: imbalanced.PreparedData | None = None
        self.split: imbalanced.Split | None = None
        self.results: dict[str, imbalanced.ConfigurationResult] = {}
        self.exported = True  # the results on screen are in an exported CSV (or there are none)
        self.grid_job = None
        self.run_token: object | None = None
        self.scratch_dir: str | None = None
        self.threshold = tk.DoubleVar(value=0.5)

        self.drop_zone = DropZone(
            self, self.open_paths, "Drop a CSV with a yes/no column here", self.filetypes
        )
        self.drop_zone.pack(fill="x")
        self.file_text = tk.StringVar(value="No table loaded.")
        ttk.Label(self, textvariable=self.file_text).pack(anchor="w", pady=(4, 0))
        self.pages = ttk.Notebook(self)
        self.pages.pack(fill="both", expand=True, pady=(4, 0))
        self.data_page = ttk.Frame(self.pages, padding=6)
        self.results_page = ttk.Frame(self.pages, padding=6)
        self.explain_page = ExplainPage(self.pages, self)
        self.pages.add(self.data_page, text="Data & grid")
        self.pages.add(self.results_page, text="Results")
        self.pages.add(self.explain_page, text="Explain")
        self._build_data_page()
        self._build_results_page()

    # Data page -----------------------------------------------------------------------------------
    def _build_data_page(self) -> None:
        self.preview_holder = ttk.Frame(self.data_page)
        self.preview_holder.pack(fill="both", expand=True)
        self.preview = None
        lower = ttk.Frame(self.data_page)
        lower.pack(fill="x", pady=(6, 0))

        # The target above what is left out, the grid beside them: they fit a small window.
        left = ttk.Frame(lower)
        left.pack(side="left", fill="y")
        problem = ttk.LabelFrame(left, text="Target", padding=6)
        problem.pack(fill="x")
        ttk.Label(problem, text="Column:").grid(row=0, column=0, sticky="w")
        self.target_choice = tk.StringVar()
        self.target_selector = ttk.Combobox(
            problem, textvariable=self.target_choice, state="readonly", width=12
        )
        self.target_selector.grid(row=0, column=1, sticky="w")
        self.target_selector.bind("<<ComboboxSelected>>", lambda _event: self._target_changed())
        ttk.Label(problem, text="Rare class:").grid(row=1, column=0, sticky="w")
        self.positive_choice = tk.StringVar()
        self.positive_selector = ttk.Combobox(
            problem, textvariable=self.positive_choice, state="readonly", width=12
        )
        self.positive_selector.grid(row=1, column=1, sticky="w")
        self.positive_selector.bind("<<ComboboxSelected>>", lambda _event: self._show_balance())
        tip(self.target_selector, "The yes/no column to predict.")
        tip(self.positive_selector, "The rare value of that column (fraud, default, churn): the one scored.")
        self.balance = BarList(problem, rows=2, width=230, label_width=80)
        self.balance.grid(row=2, column=0, columnspan=2, pady=(6, 0))

        exclusion = ttk.LabelFrame(left, text="Leave out", padding=6)
        exclusion.pack(fill="both", expand=True, pady=(6, 0))
        self.exclude_list = tk.Listbox(
            exclusion, selectmode="multiple", height=5, exportselection=False, width=16
        )
        self.exclude_list.pack(fill="both", expand=True)
        tip(
            self.exclude_list,
            "Columns the models must not see: IDs, and anything known only after the outcome "
            "(those found are selected already, and said why below).",
        )
        self.leak_text = tk.StringVar()
        WrappingLabel(exclusion, textvariable=self.leak_text, foreground="#9a5b00").pack(fill="x")

        grid = ttk.LabelFrame(lower, text="Configurations to compare", padding=6)
        grid.pack(side="left", fill="both", expand=True, padx=(6, 0))
        self.choices: dict[tuple[str, str], tk.BooleanVar] = {}
        self.choice_boxes: dict[tuple[str, str], ttk.Checkbutton] = {}
        for column, method in enumerate(imbalanced.METHODS):
            heading = imbalanced.METHOD_LABELS[method].replace("+", "+\n").replace(" ", "\n")
            ttk.Label(grid, text=heading, justify="center").grid(row=0, column=column + 1, padx=2)
        for row, model in enumerate(imbalanced.ALL_MODELS):
            installed = imbalanced.model_installed(model)
            label = imbalanced.MODEL_LABELS[model] + ("" if installed else " (not installed)")
            ttk.Label(grid, text=label).grid(row=row + 1, column=0, sticky="w")
            methods = ("none",) if model in imbalanced.BASELINE_MODELS else imbalanced.METHODS
            for method in methods:
                default = model in (*imbalanced.MODELS, "dummy")
                variable = tk.BooleanVar(value=default)
                box = ttk.Checkbutton(grid, variable=variable)
                box.grid(row=row + 1, column=imbalanced.METHODS.index(method) + 1)
                if not installed:
                    box.state(["disabled"])
                self.choices[(model, method)] = variable
                self.choice_boxes[(model, method)] = box
        protocol = ttk.Frame(grid)
        protocol.grid(
            row=len(imbalanced.ALL_MODELS) + 1, column=0, columnspan=len(imbalanced.METHODS) + 1, sticky="ew"
        )
        ttk.Label(protocol, text="Test on:").pack(side="left")
        self.split_choice = tk.StringVar(value=RANDOM_SPLIT)
        self.split_choices = dict(SPLIT_CHOICES)  # what the selector shows → Problem.split_by
        self.split_selector = ttk.Combobox(
            protocol, textvariable=self.split_choice, state="readonly", width=24, values=list(SPLIT_CHOICES)
        )
        self.split_selector.pack(side="left", padx=(2, 8))
        tip(
            self.split_selector,
            "Which rows are held out as the untouched test split: random rows with the rare class's "
            "share kept, or the latest rows (by file order or a date column), as the models would "
            "meet the future.",
        )
        ttk.Label(protocol, text="Calibrate:").pack(side="left")
        self.calibration_choice = tk.StringVar(value="none")
        calibration = ttk.Combobox(
            protocol,
            textvariable=self.calibration_choice,
            state="readonly",
            width=9,
            values=imbalanced.CALIBRATION_METHODS,
        )
        calibration.pack(side="left", padx=(2, 8))
        tip(
            calibration,
            "Map the scores to probabilities that can be read as such (sigmoid or isotonic, fitted "
            "on out-of-fold scores); the Results page's ECE and Brier say how well they do.",
        )
        tuning = ttk.Frame(grid)  # a row of its own: the protocol fits a small window
        tuning.grid(
            row=len(imbalanced.ALL_MODELS) + 2, column=0, columnspan=len(imbalanced.METHODS) + 1, sticky="ew"
        )
        ttk.Label(tuning, text="Tune (Optuna trials, 0 = off):").pack(side="left")
        self.tune_trials = tk.StringVar(value="0")
        trials = ttk.Spinbox(tuning, from_=0, to=500, textvariable=self.tune_trials, width=5)
        trials.pack(side="left", padx=2)
        tip(
            trials,
            "Search each model's settings with Optuna, inside the training folds, for this many "
            "trials (slower; 0 runs the defaults).",
        )
        controls = ttk.Frame(grid)
        controls.grid(
            row=len(imbalanced.ALL_MODELS) + 3, column=0, columnspan=len(imbalanced.METHODS) + 1, sticky="ew"
        )
        self.run_button = ttk.Button(controls, text="Run", command=self.run_grid)
        self.run_button.pack(side="left", pady=(6, 0))
        self.cancel_button = ttk.Button(controls, text="Cancel", command=self.cancel_grid)
        self.cancel_button.pack(side="left", padx=4, pady=(6, 0))
        self.cancel_button.state(["disabled"])
        self.progress_bar = ttk.Progressbar(controls, maximum=1.0, length=200)
        self.progress_bar.pack(side="left", fill="x", expand=True, padx=4, pady=(6, 0))
        self.progress_text = tk.StringVar()
        self.grid_clock = ProgressClock(self, self._show_grid_progress)
        ttk.Label(grid, textvariable=self.progress_text).grid(
            row=len(imbalanced.ALL_MODELS) + 4, column=0, columnspan=len(imbalanced.METHODS) + 1, sticky="w"
        )

    # Results page --------------------------------------------------------------------------------
    def _build_results_page(self) -> None:
        # The table and the curves share what the window gives: more rows in a larger window.
        self.table = ResultsTable(self.results_page, RESULT_COLUMNS, height=5, horizontal_scroll=True)
        self.table.pack(fill="both", expand=True)
        self.table.tree.configure(selectmode="extended")
        self.table.tree.bind("<<TreeviewSelect>>", lambda _event: self._selection_changed())
        # One line in a wide window, two in a narrow one (made in the order the keyboard
        # visits them).
        exports = FlowFrame(self.results_page)
        exports.pack(fill="x", pady=(4, 0))
        export_results = ttk.Button(exports, text="Export results…", command=self._ask_export_results)
        export_predictions = ttk.Button(
            exports, text="Export predictions…", command=self._ask_export_predictions
        )
        save_button = ttk.Button(exports, text="Save as model…", command=self._ask_save)
        tip(
            save_button,
            "Keep the selected configuration, fitted, with the threshold shown, to score new CSVs.",
        )
        saved = ttk.Frame(exports)
        ttk.Label(saved, text="Saved model:").pack(side="left", padx=(8, 2))
        self.saved_choice = tk.StringVar()
        self.saved_selector = ttk.Combobox(saved, textvariable=self.saved_choice, state="readonly", width=22)
        self.saved_selector.pack(side="left")
        predict_button = ttk.Button(exports, text="Predict a CSV…", command=self._ask_predict)
        tip(
            predict_button,
            "Score every row of a CSV with the saved model chosen: probability, flag, reasons.",
        )
        exports.add(export_results, export_predictions, save_button, saved, predict_button)
        self._refresh_saved_models()
        self.counts_text = tk.StringVar()
        ttk.Label(self.results_page, textvariable=self.counts_text, style=theme.SECONDARY).pack(anchor="w")
        body = ttk.Frame(self.results_page)
        body.pack(fill="both", expand=True, pady=(4, 0))
        self.curves = None
        # The operating point is packed first so that it keeps its width; the curves get the rest.
        side = ttk.LabelFrame(body, text="Operating point (test split)", padding=4)
        side.pack(side="right", fill="y", padx=(6, 0))
        self.curves_holder = ttk.Frame(body)
        self.curves_holder.pack(side="left", fill="both", expand=True)
        self.threshold_scale = ttk.Scale(
            side, from_=0.0, to=1.0, variable=self.threshold, command=lambda _value: self._threshold_moved()
        )
        self.threshold_scale.pack(fill="x")
        tip(
            self.threshold_scale,
            "The score above which a row is flagged: the figures below follow it on the test split.",
        )
        self.operating_text = tk.StringVar(value="Run a grid, then select a row.")
        ttk.Label(side, textvariable=self.operating_text, justify="left", font=("TkFixedFont", 8)).pack(
            anchor="w", pady=(4, 0)
        )
        optimise = ttk.Frame(side)
        optimise.pack(fill="x", pady=(6, 0))
        ttk.Label(optimise, text="Optimise on the training folds for:").grid(
            row=0, column=0, columnspan=3, sticky="w"
        )
        ttk.Button(optimise, text="F1", command=lambda: self.optimise("f1")).grid(
            row=1, column=0, sticky="ew"
        )
        ttk.Button(
            optimise, text="Balanced accuracy", command=lambda: self.optimise("balanced_accuracy")
        ).grid(row=1, column=1, columnspan=2, sticky="ew")
        self.min_precision = tk.StringVar(value="0.5")
        ttk.Button(
            optimise, text="Recall at precision ≥", command=lambda: self.optimise("recall_at_precision")
        ).grid(row=2, column=0, columnspan=2, sticky="ew")
        ttk.Entry(optimise, textvariable=self.min_precision, width=6).grid(row=2, column=2)
        self.false_positive_cost = tk.StringVar(value="1")
        self.false_negative_cost = tk.StringVar(value="5")
        ttk.Button(
            optimise, text="Min cost (false alarm, miss):", command=lambda: self.optimise("cost")
        ).grid(row=3, column=0, sticky="ew")
        ttk.Entry(optimise, textvariable=self.false_positive_cost, width=5).grid(row=3, column=1)
        ttk.Entry(optimise, textvariable=self.false_negative_cost, width=5).grid(row=3, column=2)

    def remembered_variables(self) -> dict:
        protocol = {
            "calibration": self.calibration_choice,
            "tuning_trials": self.tune_trials,
            "min_precision": self.min_precision,
            "false_alarm_cost": self.false_positive_cost,
            "miss_cost": self.false_negative_cost,
        }
        ticked = {f"grid {model} × {method}": variable for (model, method), variable in self.choices.items()}
        return super().remembered_variables() | protocol | ticked

    def remembered_choices(self) -> dict:
        return super().remembered_choices() | {"calibration": imbalanced.CALIBRATION_METHODS}

    # Loading a CSV ----------------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        self.app.remember_opened(self, paths)
        self.app.notebook.select(self)
        path = Path(paths[0])
        self.file_text.set(f"Reading {path.name}…")
        self.submit(
            f"read {path.name}",
            lambda _job: (imbalanced.read_table(path), imbalanced.file_fingerprint(path)),
            on_success=lambda answer: self._show_table(path, *answer),
            on_error=lambda error, details: self._refuse(path, error, details),
        )

    def _refuse(self, path: Path, error, details) -> None:
        self.file_text.set(f"{path.name}: {error}")
        self.app.show_error(error, details)

    def _show_table(self, path: Path, frame, fingerprint: str) -> None:
        self.clear_results(
            f"Results of {self.source.name} cleared: {path.name} is loaded." if self.source else ""
        )
        self.frame, self.source, self.source_fingerprint = frame, path, fingerprint
        summaries = imbalanced.describe_columns(frame)
        if self.preview is not None:
            self.preview.destroy()
        self.preview = ResultsTable(
            self.preview_holder,
            [(column.name, f"{column.name} ({column.kind[:3]})", 90) for column in summaries],
            height=6,
            horizontal_scroll=True,
        )
        self.preview.pack(fill="both", expand=True)
        for row in frame.head(PREVIEW_ROWS).itertuples(index=False):
            self.preview.add(["" if value != value else value for value in row])
        missing = sum(column.missing for column in summaries)
        self.file_text.set(
            f"{path.name}: {len(frame):,} rows × {frame.shape[1]} columns; {missing:,} missing values "
            f"(imputed inside the pipeline). Showing the first {min(PREVIEW_ROWS, len(frame))} rows."
            # What reading decided: decimal commas, thousands separators, dates, the encoding.
            + "".join(f"\n{note}" for note in frame.attrs.get("reading_notes", []))
        )
        self.target_selector.configure(values=list(frame.columns))
        self.split_choices = SPLIT_CHOICES | {
            f"the latest by '{column.name}'": column.name
            for column in summaries
            if column.kind in ("date", "numeric")
        }
        self.split_selector.configure(values=list(self.split_choices))
        self.split_choice.set(RANDOM_SPLIT)
        self.target_choice.set(imbalanced.suggest_target(frame))
        self.exclude_list.delete(0, "end")
        leaky = imbalanced.default_exclusions(frame)
        for index, column in enumerate(frame.columns):
            self.exclude_list.insert("end", column)
            if column in leaky:
                self.exclude_list.selection_set(index)
        self.leak_text.set("\n".join(f"'{name}' left out: {reason}." for name, reason in leaky.items()))
        self._target_changed()
        self.pages.select(self.data_page)

    def _target_changed(self) -> None:
        values = imbalanced.class_values(self.frame[self.target_choice.get()])
        self.positive_selector.configure(values=[str(value) for value in values])
        self.positive_choice.set(str(values[0]) if values else "")
        self._show_balance()

    def _show_balance(self) -> None:
        column = self.frame[self.target_choice.get()].dropna().astype(str)
        shares = column.value_counts(normalize=True)
        positive = self.positive_choice.get()
        rows = [(positive, float(shares.get(positive, 0.0)))]
        rows += [(str(value), float(share)) for value, share in shares.items() if str(value) != positive][:1]
        if len(shares) > 2:
            rows[-1] = (f"{len(shares) - 1} others", 1.0 - rows[0][1])
        self.balance.show(rows)

    def problem(self) -> imbalanced.Problem:
        excluded = tuple(self.exclude_list.get(index) for index in self.exclude_list.curselection())
        excluded = tuple(name for name in excluded if name != self.target_choice.get())
        split_by = self.split_choices[self.split_choice.get()]
        return imbalanced.Problem(self.target_choice.get(), self.positive_choice.get(), excluded, split_by)

    def grid_settings(self) -> tuple[imbalanced.GridSettings, imbalanced.TuningSettings | None]:
        """The protocol chosen under the grid: calibration and tuning (InvalidInputError if unreadable)."""
        try:
            trials = int(self.tune_trials.get())
        except ValueError as error:
            raise InvalidInputError(
                f"The number of tuning trials must be a whole number, not '{self.tune_trials.get()}'."
            ) from error
        settings = imbalanced.GridSettings(calibration=self.calibration_choice.get())
        return settings, imbalanced.TuningSettings(trials) if trials else None

    def positive_label(self) -> str:
        return str(self.results_context[2].positive) if self.results_context else self.positive_choice.get()

    # Running the grid ---------------------------------------------------------------------------
    def selected_configurations(self) -> list[tuple[str, str]]:
        return [key for key, variable in self.choices.items() if variable.get()]

    def run_grid(self) -> None:
        if self.frame is None:
            self.progress_text.set("Drop or open a CSV first.")
            return
        chosen = self.selected_configurations()
        if not chosen:
            self.progress_text.set("Tick at least one model × method.")
            return
        frame, problem = self.frame, self.problem()
        try:
            settings, tuning = self.grid_settings()
        except InvalidInputError as error:
            self.progress_text.set(str(error))
            return
        self.clear_results()
        self.exported = False
        self.results_context = (self.source, self.source_fingerprint, problem)
        # What a grid cancelled by a new table still sends is dropped, not shown.
        run_token = self.run_token = object()
        self.run_button.state(["disabled"])
        self.cancel_button.state(["!disabled"])
        self.progress_bar["value"] = 0

        self._new_scratch_dir()
        scratch = self.scratch_dir
        if self.curves is None:
            # Curves and metrics appear with the first result: import their libraries now, off
            # the Tk thread (the grid itself runs in another process).
            self.submit(
                "import plotting", lambda _job: [importlib.import_module(name) for name in WARM_MODULES]
            )

        def work(job):
            return run_in_process(
                job, imbalanced.run_configurations, frame, problem, chosen, settings, scratch, tuning
            )

        def progress(report) -> None:
            self.progress_bar["value"] = report.fraction
            self.grid_clock.update(report)

        def finished() -> None:
            self.grid_clock.stop()
            self.run_button.state(["!disabled"])
            self.cancel_button.state(["disabled"])

        def succeeded(_result) -> None:
            self.grid_clock.stop()
            if self.run_token is run_token:
                text = f"{len(self.results)} configuration(s) done in {format_duration(self.grid_clock.elapsed())}."
                self.progress_text.set(f"Configurations: {text}")
                self.set_status(f"Grid: {text}")

        def cancelled() -> None:
            if self.run_token is run_token:  # not when a new table replaced the results
                self.progress_text.set(
                    f"Cancelled after {len(self.results)} configuration(s); their rows stay."
                )

        self.grid_clock.start()
        self.grid_job = self.submit(
            "imbalanced grid",
            work,
            on_partial=lambda item: self._receive(item) if self.run_token is run_token else None,
            on_progress=progress,
            on_success=succeeded,
            on_cancelled=cancelled,
            on_error=lambda error, details: (
                self.progress_text.set(str(error)),
                self.app.show_error(error, details),
            ),
            on_finally=finished,
        )

    def _show_grid_progress(self, text: str) -> None:
        """Configurations done, the one running, elapsed time and time left: every second."""
        self.progress_text.set(f"Configurations {text}")
        self.set_status(f"Grid: {text}")

    def results_kept(self) -> None:
        self.exported = True

    def unsaved_results(self) -> str:
        if self.exported or not self.results:
            return ""
        return f"Imbalanced: the results of {len(self.results)} configuration(s) are not exported."

    def clear_results(self, reason: str = "") -> None:
        """Forget the shown results (and stop a grid still running): they belong to the data
        they were computed on."""
        self.cancel_grid()
        self.results.clear()
        self.table.clear()
        self.data = self.split = self.results_context = self.run_token = None
        self.explain_page.clear()
        if self.curves is not None:
            self.draw_curves([])
        self.operating_text.set("Run a grid, then select a row.")
        if reason:
            self.progress_text.set(reason)

    def _new_scratch_dir(self) -> None:
        """Fitted pipelines of the latest grid live here until the next grid or the app quits."""
        self._remove_scratch_dir()
        self.scratch_dir = tempfile.mkdtemp(
            prefix=f"{os.getpid()}-grid-", dir=self.app.registry.scratch_parent()
        )

    def _remove_scratch_dir(self) -> None:
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir = None

    def cancel_jobs(self) -> None:
        super().cancel_jobs()
        self._remove_scratch_dir()

    def cancel_grid(self) -> None:
        """Stop the grid: from now on the tab says it is stopping, never that it runs on."""
        if self.grid_job is not None and not self.grid_job.finished:
            self.grid_job.cancel()
            self.grid_clock.stop()
            self.cancel_button.state(["disabled"])
            self.progress_text.set("Cancelling: the configuration running stops at its next step…")

    def _receive(self, item) -> None:
        if isinstance(item, imbalanced.PreparedData):
            self.data = item
            return
        if isinstance(item, imbalanced.Split):
            self.split = item
            positives = int(item.train_labels.sum())
            self.counts_text.set(
                f"train {len(item.train_labels):,} rows ({positives:,} positive) · test {len(item.test_labels):,} "
                f"rows ({int(item.test_labels.sum()):,} positive, {item.description}), never resampled"
            )
            return
        key = item.key
        self.results[key] = item
        row = item.to_json()
        self.table.add(
            [
                imbalanced.MODEL_LABELS[item.model] + (" (tuned)" if item.tuning else ""),
                imbalanced.METHOD_LABELS[item.method],
                *(row[column] for column, _heading, _width in RESULT_COLUMNS[2:]),
            ],
            item_id=key,
        )
        if len(self.results) == 1:
            self.pages.select(self.results_page)
            self.table.tree.selection_set(key)

    # Curves and the operating point --------------------------------------------------------------
    def selected_results(self) -> list[imbalanced.ConfigurationResult]:
        return [self.results[key] for key in self.table.tree.selection() if key in self.results]

    def _selection_changed(self) -> None:
        selected = self.selected_results()
        self.draw_curves(selected)
        if selected:
            self.threshold.set(selected[0].threshold)
            self._threshold_moved()

    def draw_curves(self, selected) -> None:
        if self.curves is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            # Asks for what fits beside the operating point in a 900-pixel window; grows in a larger one.
            self.curves = PlotPanel(self.curves_holder, 6.2, 4.4)
            self.curves.pack(fill="both", expand=True)
        labels = self.split.test_labels if self.split is not None else None
        imbalanced.draw_results(self.curves.clear(), labels, selected, self.positive_label())
        self.curves.redraw()

    def _threshold_moved(self) -> None:
        selected = self.selected_results()
        if not selected:
            return
        result = selected[0]
        figures = self.operating_point()
        (true_negative, false_positive), (false_negative, true_positive) = figures["confusion_matrix"]
        # Lines of at most the confusion matrix's width: a long configuration name or figures
        # line would widen the side panel past a 900-pixel window.
        self.operating_text.set(
            f"{textwrap.fill(result.label, OPERATING_WIDTH)}\n"
            f"train no/yes {result.counts_before[0]:,}/{result.counts_before[1]:,}"
            f" → {result.counts_after[0]:,}/{result.counts_after[1]:,} resampled\n"
            f"threshold {figures['threshold']:.3f} (F1-optimal on CV: {result.threshold:.3f})\n"
            f"               predicted no  predicted yes\n"
            f"actually no    {true_negative:>12,}  {false_positive:>13,}\n"
            f"actually yes   {false_negative:>12,}  {true_positive:>13,}\n"
            f"precision {figures['precision_minority']:.3f}  recall {figures['recall_minority']:.3f}"
            f"  F1 {figures['f1_minority']:.3f}\n"
            f"bal. acc. {figures['balanced_accuracy']:.3f}  MCC {figures['mcc']:.3f}\n"
            f"G-mean {figures['gmean']:.3f}  accuracy {figures['accuracy']:.3f}"
        )

    def operating_point(self) -> dict:
        """The selected configuration's test figures at the slider's threshold."""
        result = self.selected_results()[0]
        return imbalanced.metrics_at(self.split.test_labels, result.test_probabilities, self.threshold.get())

    def optimise(self, objective: str) -> None:
        """Choose the threshold on the out-of-fold training probabilities, never the test split."""
        selected = self.selected_results()
        if not selected:
            self.operating_text.set("Select a configuration first.")
            return
        try:
            min_precision, false_positive_cost, false_negative_cost = (
                float(variable.get())
                for variable in (self.min_precision, self.false_positive_cost, self.false_negative_cost)
            )
        except ValueError as error:
            self.operating_text.set(f"Not a number: {error}")
            return
        try:
            threshold = imbalanced.choose_threshold(
                selected[0].cv_labels,
                selected[0].cv_probabilities,
                objective,
                min_precision=min_precision,
                false_positive_cost=false_positive_cost,
                false_negative_cost=false_negative_cost,
            )
        except InvalidInputError as error:  # e.g. no threshold reaches the asked precision
            self.operating_text.set(str(error))
            return
        self.threshold.set(threshold)
        self._threshold_moved()

    # Exports ----------------------------------------------------------------------------------------
    nothing_to_report = "load a CSV and run the grid first"

    def case_report(self):
        """The grid's configurations so far, and the one selected (else the best test PR AUC)
        at the slider's threshold, with its explanation when the Explain page has it."""
        results = list(self.results.values())
        if not results or self.split is None or self.results_context is None:
            return None
        selected = self.selected_results()
        chosen = selected[0] if selected else imbalanced.best_configuration(results)
        threshold = self.threshold.get() if selected else chosen.threshold
        explained = self.explain_page.explained is chosen
        explanation = self.explain_page.explanation if explained else None
        source, _fingerprint, problem = self.results_context
        split = self.split
        return lambda: report.imbalanced_report(
            source, problem, split, results, chosen, threshold, explanation
        )

    def _ask_export_results(self) -> None:
        path = file_dialogs.ask_save(
            self, file_dialogs.EXPORTS, defaultextension=".csv", initialfile="results.csv"
        )
        if path:
            self.export_results(path)

    def _ask_export_predictions(self) -> None:
        path = file_dialogs.ask_save(
            self, file_dialogs.EXPORTS, defaultextension=".csv", initialfile="predictions.csv"
        )
        if path:
            self.export_predictions(path)

    def export_results(self, path: Path) -> None:
        rows = [result.to_json() for result in self.results.values()]
        columns = [key for key in rows[0] if not isinstance(rows[0][key], dict | list)] if rows else []
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        self.exported = True
        self.set_status(f"Results written to {path}.")

    def export_predictions(self, path: Path) -> None:
        """Test-split rows of the selected configuration: data row number in the CSV (0 = the
        first row after the header), probability, label at the current threshold, actual."""
        selected = self.selected_results()
        if not selected:
            self.set_status("Select a configuration to export its predictions.")
            return
        result, threshold = selected[0], self.threshold.get()
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "probability", f"predicted (threshold {threshold:.3f})", "actual"])
            rows = self.data.source_rows[self.split.test_rows]
            for row, probability, actual in zip(
                rows, result.test_probabilities, self.split.test_labels, strict=True
            ):
                writer.writerow([int(row), f"{probability:.6f}", int(probability >= threshold), int(actual)])
        self.set_status(f"Predictions written to {path}.")

    # Saved models --------------------------------------------------------------------------------
    def model_names(self) -> list[str]:
        return [name for name in self.app.registry.names() if name.startswith(imbalanced.MODEL_PREFIX)]

    def _refresh_saved_models(self) -> None:
        names = self.model_names()
        self.saved_selector.configure(values=names)
        if names and self.saved_choice.get() not in names:
            self.saved_choice.set(names[-1])

    def _ask_save(self) -> None:
        from tkinter import simpledialog

        selected = self.selected_results()
        if not selected:
            self.set_status("Select the configuration to save.")
            return
        label = simpledialog.askstring("Save as model", "Name for this model:", parent=self)
        if label:
            self.save_selected(label)

    def save_selected(self, label: str, confirm=None):
        """Register the selected configuration with the slider's threshold (a background job),
        recording the table and problem its grid ran on. A threshold that flags no test row or
        every one is saved only if `confirm(question)` (a yes/no dialog by default) says so."""
        result, threshold = self.selected_results()[0], self.threshold.get()
        warning = imbalanced.threshold_warning(result, self.split.test_labels, threshold)
        if warning is not None:
            confirm = confirm or (
                lambda question: messagebox.askyesno("Save as model", question, parent=self)
            )
            if not confirm(f"{warning} Save it with this threshold anyway?"):
                self.set_status("Not saved: choose another threshold.")
                return None
        data, (source, fingerprint, problem) = self.data, self.results_context

        def saved(entry) -> None:
            self._refresh_saved_models()
            self.saved_choice.set(entry.name)
            self.set_status(f"Saved {entry.name} (threshold {threshold:.3f}) to {entry.path}.")

        return self.submit(
            f"save {label}",
            lambda _job: imbalanced.save_configuration(
                result, data, problem, threshold, label, self.app.registry, source, fingerprint
            ),
            on_success=saved,
        )

    def _ask_predict(self) -> None:
        if not self.saved_choice.get():
            self.set_status("Save a configuration as a model first.")
            return
        sources = file_dialogs.ask_open(self, file_dialogs.kind_of(self.filetypes), self.filetypes)
        if not sources:
            return
        target = file_dialogs.ask_save(
            self,
            file_dialogs.EXPORTS,
            defaultextension=".csv",
            initialfile=f"{sources[0].stem}-predictions.csv",
        )
        if target:
            self.predict_csv(self.saved_choice.get(), sources[0], target)

    def predict_csv(self, name: str, source: Path, target: Path):
        """Score every row of `source` with the saved model `name`; write row, probability, flag."""

        def work(_job):
            predictor = imbalanced.TabularPredictor.load(name, self.app.registry)
            scored = predictor.score(imbalanced.read_table(source))
            probabilities, flagged = scored.probabilities, scored.flagged
            with open(target, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["row", "probability", f"is {predictor.entry.record['positive']}"])
                for row, (probability, flag) in enumerate(zip(probabilities, flagged, strict=True)):
                    writer.writerow([row, f"{probability:.6f}", int(flag)])
            return int(flagged.sum()), len(flagged)

        def done(counts) -> None:
            flagged, total = counts
            self.set_status(f"{source.name}: {flagged:,} of {total:,} rows flagged; written to {target}.")

        return self.submit(f"predict {source.name}", work, on_success=done)

    def start_loading(self) -> None:
        """Nothing to load up front."""
