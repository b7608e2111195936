"""What every tool tab shares: loading its models off the Tk thread, retraining, reverting."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from desktop_app import theme
from desktop_app.jobs import ProgressClock
from desktop_app.widgets.retrain_dialog import Field, RetrainDialog
from desktop_app.widgets.tooltip import tip
from training.core.progress import Progress

log = logging.getLogger(__name__)


class ToolTab(ttk.Frame):
    title = "Tool"
    how_to_read = ""  # Help → How to read this tab: what the tab shows and how to judge it
    filetypes: Sequence[tuple[str, str]] = (("All files", "*"),)
    retrain_fields: Sequence[Field] = ()
    retrain_chart_keys: Sequence[str] = ("accuracy", "val_accuracy")

    def __init__(self, parent, app):
        super().__init__(parent, padding=theme.PADDING)
        self.app = app
        self.jobs = []
        self.batch_jobs = []
        self.retrain_dialog: RetrainDialog | None = None
        # This tab's line of the status bar: its own work is reported here, and shown while
        # the tab is (another tab's work never shows on this one).
        self.status_text = tk.StringVar(value="")
        self.batch_clock = ProgressClock(self, lambda text: self.set_status(f"{self.title}: {text}"))

    def set_status(self, text: str) -> None:
        self.status_text.set(text)

    # Choices kept between runs -------------------------------------------------------------
    def remembered_variables(self) -> dict[str, tk.Variable]:
        """The tab's choices kept in the settings, by name (tabs add theirs)."""
        return {"model": self.model_choice} if hasattr(self, "model_choice") else {}

    def remembered_choices(self) -> dict[str, Sequence]:
        """For remembered variables that hold one of a list: the list (other values are ignored)."""
        return {"model": self.model_selector.cget("values")} if hasattr(self, "model_selector") else {}

    def saved_settings(self) -> dict:
        return {name: variable.get() for name, variable in self.remembered_variables().items()}

    def restore_settings(self, saved: dict) -> None:
        """Put back the choices of the last run; one that no longer fits (a model since
        removed, a value of the wrong kind) is left as it is."""
        for name, variable in self.remembered_variables().items():
            if name not in saved:
                continue
            allowed = self.remembered_choices().get(name)
            if allowed is not None and saved[name] not in allowed:
                continue
            before = variable.get()
            try:
                variable.set(saved[name])
                variable.get()
            except (tk.TclError, ValueError):
                variable.set(before)

    def unsaved_results(self) -> str:
        """What would be lost by quitting now (a sentence), or "" when nothing would."""
        return ""

    def results_kept(self) -> None:
        """The results shown were written out (a case report holds them all): quitting loses nothing."""

    # Batches (tabs with a progress bar and a Cancel button) -------------------------------------
    def build_batch_progress(self, parent) -> None:
        """The progress bar and Cancel button that `run_batch_job` drives, packed in `parent`."""
        row = ttk.Frame(parent)
        row.pack(fill="x", pady=(4, 0))
        self.progress_bar = ttk.Progressbar(row, maximum=1.0)
        self.progress_bar.pack(side="left", fill="x", expand=True)
        self.cancel_button = ttk.Button(row, text="Cancel", command=self.cancel_batch)
        self.cancel_button.pack(side="left", padx=(4, 0))
        tip(self.cancel_button, "Stop the batch: the rows scored so far stay.")
        self.cancel_button.state(["disabled"])

    def run_batch_job(self, name, work, **handlers):
        """Run `work` as a cancellable batch job that the tab's progress bar and Cancel button
        follow; `on_batch_cancelled()` and `on_batch_failed(error)` tell the tab how it ended."""
        self.cancel_button.state(["!disabled"])
        self.progress_bar["value"] = 0
        if not self.batch_jobs:
            self.batch_clock.start()

        def progress(report: Progress) -> None:
            self.progress_bar["value"] = report.fraction
            self.batch_clock.update(report)

        def failed(error, details) -> None:
            self.on_batch_failed(error)
            self.app.show_error(error, details)

        def finished() -> None:
            self.batch_jobs = [job for job in self.batch_jobs if not job.finished]
            if not self.batch_jobs:
                self.batch_clock.stop()
                self.cancel_button.state(["disabled"])

        job = self.submit(
            name,
            work,
            on_progress=progress,
            on_cancelled=self.on_batch_cancelled,
            on_error=failed,
            on_finally=finished,
            **handlers,
        )
        self.batch_jobs.append(job)
        return job

    def cancel_batch(self) -> None:
        """Stop the batch: from now on the tab says it is stopping, never that it runs on."""
        running = [job for job in self.batch_jobs if not job.finished]
        for job in running:
            job.cancel()
        if running:
            self.batch_clock.stop()
            self.cancel_button.state(["disabled"])
            self.set_status(f"{self.title}: cancelling…")

    def on_batch_cancelled(self) -> None:
        """Called on the Tk thread when the user cancelled a batch."""

    def on_batch_failed(self, error: BaseException) -> None:
        """Called on the Tk thread when a batch failed (the error dialog is shown already)."""

    # The model in use ---------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Warm the tab's model in the background once the window is up."""
        self.with_predictor(self.selected_model_name(), lambda _predictor: None)

    @property
    def predictors(self) -> dict[str, object]:
        """The loaded models, by name, that all tabs share."""
        return self.app.model_cache.loaded

    @property
    def predictor(self):
        """The selected model's predictor once it is loaded, else None."""
        return self.predictors.get(self.selected_model_name())

    # Implemented by each tab ----------------------------------------------------------------
    def model_names(self) -> list[str]:
        raise NotImplementedError

    def selected_model_name(self) -> str:
        raise NotImplementedError

    def train(self, values: dict, job) -> object:
        """Runs on a worker thread: train with the dialog's values; returns the
        `training.core.model_quality.RetrainOutcome` of publishing the new model."""
        raise NotImplementedError

    def open_paths(self, paths) -> None:
        raise NotImplementedError

    def on_model_ready(self, name: str, replaced: bool) -> None:
        """Called on the Tk thread when the model in use under `name` was loaded, or
        `replaced` by a retrained or reverted one."""

    def on_retrained(self, entry) -> None:
        """Called on the Tk thread when retraining registered `entry`, before it is loaded."""

    # What File → Export report… says when the tab has nothing analysed yet.
    nothing_to_report = "drop something on it first"

    def case_report(self):
        """What File → Export report… writes for this tab: a function that makes its
        `training.report.CaseReport` off the Tk thread from what the tab shows now (taken
        here, on the Tk thread), or None when nothing has been analysed yet."""
        raise NotImplementedError

    # Shared behaviour --------------------------------------------------------------------------
    def submit(self, name: str, work, **handlers):
        job = self.app.jobs.submit(name, work, **handlers)
        self.jobs = [existing for existing in self.jobs if not existing.finished] + [job]
        return job

    def model_entry(self, name: str):
        """The registry entry of the model `name` the tab uses: the loaded one's (what made the
        answers shown), else the one in use."""
        predictor = self.predictors.get(name)
        return predictor.entry if predictor is not None else self.app.registry.entry(name)

    def with_predictor(self, name: str, callback: Callable[[object], None]) -> None:
        """Call `callback(predictor)` on the Tk thread once the model is loaded."""
        self.app.model_cache.with_model(name, callback)

    def reload_model(self, name: str) -> None:
        """Swap in the model now registered under `name`, for every tab that uses it."""
        self.app.model_cache.reload(name)

    def show_page(self, page: ttk.Frame) -> None:
        """Bring this tab and its page `page` to the front, built and drawn (tabs with pages
        have `pages` and `_page_changed`, which builds a page's plots the first time it shows)."""
        self.app.notebook.select(self)
        self.pages.select(page)
        self.update_idletasks()
        self._page_changed()

    def build_model_selector(self, parent, initial: str, width: int, choices: Sequence[str] = ()) -> None:
        """The "Model:" chooser, packed left in `parent`: `model_choice` holds the choice and
        choosing calls `_model_selected`."""
        ttk.Label(parent, text="Model:").pack(side="left")
        self.model_choice = tk.StringVar(value=initial)
        self.model_selector = ttk.Combobox(
            parent, textvariable=self.model_choice, values=list(choices), state="readonly", width=width
        )
        self.model_selector.pack(side="left", padx=4)
        tip(
            self.model_selector,
            "The model that answers. Models → Model info says how each was made and how well it scored.",
        )
        self.model_selector.bind("<<ComboboxSelected>>", lambda _event: self._model_selected())

    def _model_selected(self) -> None:
        """The user chose another model: the answers on screen are given again by it, once it
        is loaded (tabs with a model choice have `model_state` and `rescore`)."""
        name = self.selected_model_name()
        if name in self.predictors:
            self.on_model_ready(name, replaced=True)
        else:
            self.model_state.set("loading…")
            self.with_predictor(name, lambda _predictor: self.rescore())

    def revert_to_bundled(self) -> None:
        name = self.selected_model_name()
        self.app.registry.revert_to_bundled(name)
        self.reload_model(name)

    def use_kept_model(self, outcome) -> str:
        """Put in use a retrained version that the retrain kept out of use; returns what to say."""
        from training.core.errors import WorkbenchError

        try:
            self.app.registry.use_version(outcome.name, outcome.file_name)
        except WorkbenchError as error:
            self.app.show_error(error)
            return f"The new model could not be put in use: {error}"
        self.on_retrained(outcome.entry)
        self.reload_model(outcome.name)
        return (
            f"{outcome.name} now uses the new model {outcome.file_name}. "
            f"Models → Revert {self.title} to bundled model goes back to the bundled one."
        )

    def model_info_paragraphs(self) -> list[str]:
        """Each model of the tab in sentences: where it comes from, when and how it was made,
        its figures, its fingerprint."""
        paragraphs = []
        for name in self.model_names():
            entry = self.app.registry.entry(name)
            record = entry.record
            origin = "the bundled model" if entry.origin == "bundled" else f"your {entry.origin} model"
            made = f"made {record['created']}" if record.get("created") else "of unknown date"
            seed = f" with seed {record['seed']}" if record.get("seed") is not None else ""
            figures = "; ".join(
                f"{key.replace('_', ' ')} {value:.4g}"
                for key, value in record.get("metrics", {}).items()
                if isinstance(value, float)
            )
            paragraphs.append(
                f"{self.title} · {name}: {origin} ({entry.path.name}), {made}{seed}."
                + (f"\nHeld-out figures: {figures}." if figures else "")
                + f"\nFingerprint (SHA-256): {record.get('sha256', 'not recorded')[:16]}…"
            )
        return paragraphs

    def cancel_jobs(self) -> None:
        for job in self.jobs:
            job.cancel()

    def open_retrain_dialog(self) -> RetrainDialog:
        if self.retrain_dialog is not None and self.retrain_dialog.winfo_exists():
            self.retrain_dialog.lift()
            return self.retrain_dialog
        self.app.notebook.select(self)
        self.retrain_dialog = RetrainDialog(
            self.app.root,
            f"Retrain {self.title}",
            self.retrain_fields,
            self._start_training,
            self.retrain_chart_keys,
        )
        return self.retrain_dialog

    def _start_training(self, values: dict, dialog: RetrainDialog):
        # The tab's status line follows the retrain as the dialog does, every second, so that it
        # still tells the truth once the dialog is closed; once cancelled it says so.
        clock = ProgressClock(
            self,
            lambda text: self.set_status(
                f"Retraining {self.title}: " + ("cancelling…" if job.cancelled else text)
            ),
        )

        def progress(report: Progress) -> None:
            if dialog.winfo_exists():
                dialog.on_progress(report)
            clock.update(report)

        def succeeded(outcome) -> None:
            if outcome.activated:
                dialog.on_finished(f"Done: {outcome.message}")
                self.on_retrained(outcome.entry)
                self.reload_model(outcome.name)
                return
            # Clearly worse than the model in use: saved, not used, nothing reloaded; the user
            # may still choose it.
            self.set_status(
                f"Retrained {outcome.name} not used: it scores clearly worse than the model in use."
            )
            text = f"Done: {outcome.message}"
            if dialog.winfo_exists():
                dialog.on_finished(
                    f"{text} “Use the new model anyway” switches to it.",
                    lambda: self.use_kept_model(outcome),
                )
            else:
                self.app.show_message("Retrained model not used", text)

        def cancelled() -> None:
            dialog.on_finished("Cancelled: the previous model stays in use.")
            self.set_status(f"Retraining {self.title} cancelled; the previous model stays in use.")

        def failed(error, details) -> None:
            dialog.on_finished(f"Failed: {error}. The previous model stays in use.")
            self.app.show_error(error, details)

        job = self.submit(
            f"retrain {self.title}",
            lambda job: self.train(values, job),
            on_progress=progress,
            on_success=succeeded,
            on_cancelled=cancelled,
            on_error=failed,
            on_finally=clock.stop,
        )
        clock.start()
        return job
