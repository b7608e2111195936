"""The retrain dialog: a form of hyper-parameters, then live progress, ETA and Cancel.

Generic over the tool: a tab passes its fields and a `start` callable that submits the
training job; the dialog only shows what the job reports.
"""

from __future__ import annotations

import gc
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from desktop_app import file_dialogs, theme
from desktop_app.jobs import ProgressClock
from training.core.progress import Progress


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    default: object
    choices: Sequence[str] = ()
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False  # a blank entry means None ("use all", "no limit")
    folder: bool = False  # a text field holding a folder: a Browse… button picks it


class RetrainDialog(tk.Toplevel):
    def __init__(
        self,
        parent,
        title: str,
        fields: Sequence[Field],
        start: Callable[[dict, RetrainDialog], object],
        chart_keys: Sequence[str] = ("accuracy", "val_accuracy"),
    ):
        super().__init__(parent)
        self.title(title)
        self.transient(parent)
        self.fields = list(fields)
        self.start_callback = start
        self.chart_keys = tuple(chart_keys)
        self.job = None
        self.variables: dict[str, tk.Variable] = {}
        self.epoch_metrics: list[dict[str, float]] = []
        form = ttk.Frame(self, padding=10)
        form.pack(fill="x")
        for row, field in enumerate(self.fields):
            ttk.Label(form, text=field.label).grid(row=row, column=0, sticky="w", pady=2)
            if isinstance(field.default, bool):
                variable = tk.BooleanVar(value=field.default)
                widget = ttk.Checkbutton(form, variable=variable)
            elif isinstance(field.default, str) and not field.choices:
                variable = tk.StringVar(value=field.default)
                widget = ttk.Entry(form, textvariable=variable, width=40 if field.folder else 18)
                if field.folder:
                    ttk.Button(
                        form, text="Browse…", command=lambda variable=variable: self._browse(variable)
                    ).grid(row=row, column=2, sticky="w", padx=(4, 0))
            elif field.choices:
                variable = tk.StringVar(value=str(field.default))
                widget = ttk.Combobox(
                    form, textvariable=variable, values=list(field.choices), state="readonly", width=14
                )
            else:
                variable = tk.StringVar(value="" if field.default is None else str(field.default))
                widget = ttk.Spinbox(
                    form,
                    textvariable=variable,
                    width=16,
                    from_=field.minimum if field.minimum is not None else 0,
                    to=field.maximum if field.maximum is not None else 10**9,
                )
            widget.grid(row=row, column=1, sticky="w", pady=2)
            self.variables[field.key] = variable
        self.progress_bar = ttk.Progressbar(self, maximum=1.0, length=380)
        self.progress_bar.pack(fill="x", padx=10, pady=(6, 2))
        self.status_text = tk.StringVar(value="Set the options, then Start.")
        ttk.Label(self, textvariable=self.status_text, wraplength=420).pack(fill="x", padx=10)
        # Elapsed time, the running step's time and the time left, every second: an epoch that
        # takes minutes still shows signs of life.
        self.time_text = tk.StringVar()
        ttk.Label(self, textvariable=self.time_text, style=theme.SECONDARY).pack(fill="x", padx=10)
        self.clock = ProgressClock(self, self.time_text.set)
        self.chart = None
        buttons = ttk.Frame(self, padding=10)
        buttons.pack(fill="x", side="bottom")
        self.start_button = ttk.Button(buttons, text="Start", command=self.start)
        self.start_button.pack(side="right")
        self.cancel_button = ttk.Button(buttons, text="Close", command=self.cancel_or_close)
        self.cancel_button.pack(side="right", padx=(0, 6))
        # Shown only after a retrain whose model was saved but not put in use (it scored
        # clearly worse than the model in use): the user's way to choose it anyway.
        self.use_new_button = ttk.Button(buttons, text="Use the new model anyway", command=self.use_new_model)
        self._use_new_model: Callable[[], str] | None = None
        self.protocol("WM_DELETE_WINDOW", self.cancel_or_close)

    def _browse(self, variable: tk.StringVar) -> None:
        chosen = file_dialogs.ask_folder(self, "data folders", initial=variable.get() or None)
        if chosen:
            variable.set(str(chosen))

    def values(self) -> dict:
        """The form's values, typed like the fields' defaults; ValueError names a bad field."""
        values = {}
        for field in self.fields:
            raw = self.variables[field.key].get()
            if isinstance(field.default, bool | str) or field.choices:
                values[field.key] = raw.strip() if isinstance(raw, str) else raw
                continue
            text = str(raw).strip()
            if text == "" and field.optional:
                values[field.key] = None
                continue
            try:
                value = float(text) if isinstance(field.default, float) else int(text)
            except ValueError:
                raise ValueError(f"{field.label}: '{text}' is not a number.") from None
            if (field.minimum is not None and value < field.minimum) or (
                field.maximum is not None and value > field.maximum
            ):
                raise ValueError(f"{field.label}: must be between {field.minimum} and {field.maximum}.")
            values[field.key] = value
        return values

    def start(self) -> None:
        try:
            values = self.values()
        except ValueError as error:
            self.status_text.set(str(error))
            return
        self.start_button.state(["disabled"])
        self.cancel_button.configure(text="Cancel")
        self.status_text.set("Starting… (loading TensorFlow and the data)")
        self._offer_new_model(None)
        self.epoch_metrics.clear()
        self.clock.start()
        self.job = self.start_callback(values, self)

    def cancel_or_close(self) -> None:
        if self.job is not None and not self.job.finished:
            self.job.cancel()
            self.clock.stop()
            self.status_text.set("Cancelling… the current model stays in use.")
            self.cancel_button.state(["disabled"])
        else:
            self.destroy()

    def on_progress(self, progress: Progress) -> None:
        if self.job is not None and self.job.cancelled:  # it says "Cancelling…" until it ends
            return
        self.progress_bar["value"] = progress.fraction
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in progress.metrics.items())
        self.status_text.set(f"{progress.stage} {progress.message}  {metrics}")
        self.clock.update(progress)
        if progress.message.startswith("epoch") and progress.metrics:
            self.epoch_metrics.append(dict(progress.metrics))
            self._draw_chart()

    def _draw_chart(self) -> None:
        if self.chart is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            self.chart = PlotPanel(self, 4.6, 2.2, toolbar=False)
            self.chart.pack(fill="both", expand=True, padx=10)
        figure = self.chart.clear()
        axes = figure.add_subplot()
        epochs = range(1, len(self.epoch_metrics) + 1)
        for key in self.chart_keys:
            axes.plot(epochs, [m.get(key, float("nan")) for m in self.epoch_metrics], marker="o", label=key)
        axes.set_xlabel("epoch")
        axes.legend(loc="best")
        self.chart.redraw()

    def destroy(self) -> None:
        super().destroy()
        # The chart and variables sit in reference cycles; collected later on a worker
        # thread, their Tcl objects would be deleted off the Tk thread. Collect them here.
        gc.collect()

    def on_finished(self, message: str, use_new_model: Callable[[], str] | None = None) -> None:
        """Show how the run ended. With `use_new_model`, the new model was kept out of use and
        the "Use the new model anyway" button calls it (it returns what to say then)."""
        if not self.winfo_exists():
            return
        self.clock.stop()
        self.status_text.set(message)
        self.cancel_button.configure(text="Close")
        self.cancel_button.state(["!disabled"])
        self.start_button.state(["!disabled"])
        self._offer_new_model(use_new_model)

    def _offer_new_model(self, use_new_model: Callable[[], str] | None) -> None:
        self._use_new_model = use_new_model
        if use_new_model is None:
            self.use_new_button.pack_forget()
        else:
            self.use_new_button.pack(side="left")

    @property
    def offers_new_model(self) -> bool:
        """Whether the last run's model was kept out of use and the button offers it."""
        return self._use_new_model is not None

    def use_new_model(self) -> None:
        use_new_model = self._use_new_model
        self._offer_new_model(None)
        if use_new_model is not None:
            self.status_text.set(use_new_model())
