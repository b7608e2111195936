"""The Imbalanced tab's Explain page: why the selected configuration scores as it does —
permutation importance on the test split, a dependence plot for a chosen column, and a
waterfall with the reasons behind a chosen row's score."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

import numpy as np

from desktop_app.processes import run_in_process
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import imbalanced

WATERFALL_COLUMNS = 8  # the largest contributions drawn; the rest are summed in one bar
METHOD_NOTES = {
    "tree_shap": "exact SHAP values (TreeSHAP)",
    "linear_shap": "exact SHAP values of the linear model, against the training rows' mean",
    "baseline_occlusion": "approximate: each column set to the training rows' mean in turn "
    "(no exact explainer for this model here)",
}


class ExplainPage(ttk.Frame):
    def __init__(self, parent, tab):
        super().__init__(parent, padding=6)
        self.tab = tab
        self.explanation: imbalanced.Explanation | None = None
        self.explained: imbalanced.ConfigurationResult | None = None
        self.job = None
        top = ttk.Frame(self)
        top.pack(fill="x")
        self.explain_button = ttk.Button(top, text="Explain the selected configuration", command=self.start)
        self.explain_button.pack(side="left")
        self.cancel_button = ttk.Button(top, text="Cancel", command=self.cancel)
        self.cancel_button.pack(side="left", padx=4)
        self.cancel_button.state(["disabled"])
        self.status = tk.StringVar(
            value="Run a grid, select a configuration on the Results page, then explain it."
        )
        WrappingLabel(top, textvariable=self.status, justify="left").pack(
            side="left", fill="x", expand=True, padx=6
        )
        choices = ttk.Frame(self)
        choices.pack(fill="x", pady=(4, 0))
        ttk.Label(choices, text="Dependence of:").pack(side="left")
        self.feature_choice = tk.StringVar()
        self.feature_selector = ttk.Combobox(
            choices, textvariable=self.feature_choice, state="readonly", width=18
        )
        self.feature_selector.pack(side="left", padx=(2, 10))
        tip(self.feature_selector, "The column whose effect on the score the dependence plot shows.")
        self.feature_selector.bind("<<ComboboxSelected>>", lambda _event: self.draw())
        ttk.Label(choices, text="Row (data row of the CSV):").pack(side="left")
        self.row_choice = tk.StringVar()
        self.row_selector = ttk.Combobox(choices, textvariable=self.row_choice, state="readonly", width=10)
        self.row_selector.pack(side="left", padx=2)
        tip(
            self.row_selector,
            "A test-split row (numbered as in the CSV): the waterfall shows why it got its score.",
        )
        self.row_selector.bind("<<ComboboxSelected>>", lambda _event: self.draw())
        self.reasons_text = tk.StringVar()
        WrappingLabel(self, textvariable=self.reasons_text, justify="left").pack(fill="x", pady=(4, 0))
        self.plots_holder = ttk.Frame(self)
        self.plots_holder.pack(fill="both", expand=True, pady=(4, 0))
        self.plots = None

    def clear(self) -> None:
        self.cancel()
        self.explanation = self.explained = None
        self.feature_selector.configure(values=[])
        self.row_selector.configure(values=[])
        self.feature_choice.set("")
        self.row_choice.set("")
        self.reasons_text.set("")
        self.status.set("Run a grid, select a configuration on the Results page, then explain it.")
        if self.plots is not None:
            self.plots.clear()
            self.plots.redraw()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def start(self) -> None:
        """Explain the configuration selected on the Results page, in a child process."""
        selected = self.tab.selected_results()
        if not selected:
            self.status.set("Select a configuration on the Results page first.")
            return
        result, split = selected[0], self.tab.split
        self.cancel()
        self.explain_button.state(["disabled"])
        self.cancel_button.state(["!disabled"])
        self.status.set(f"Explaining {result.label}…")

        def work(job):
            return run_in_process(
                job,
                imbalanced.explain_file,
                result.pipeline_file,
                split.test_features,
                split.test_labels,
                imbalanced.GridSettings().seed,
            )

        def progress(report) -> None:
            self.status.set(f"Explaining {result.label}: {report.message}…")

        def done(explanation) -> None:
            if self.tab.results.get(result.key) is result:  # not when a new grid replaced it
                self.show(result, explanation)

        def finished() -> None:
            self.explain_button.state(["!disabled"])
            self.cancel_button.state(["disabled"])

        self.job = self.tab.submit(
            f"explain {result.label}",
            work,
            on_success=done,
            on_progress=progress,
            on_cancelled=lambda: self.status.set("Explanation cancelled."),
            on_error=lambda error, details: (
                self.status.set(str(error)),
                self.tab.app.show_error(error, details),
            ),
            on_finally=finished,
        )

    def show(self, result, explanation: imbalanced.Explanation) -> None:
        self.explained, self.explanation = result, explanation
        contributions = explanation.contributions
        self.status.set(
            f"{result.label}: {len(explanation.rows):,} test rows explained in {explanation.seconds:.1f} s. "
            f"Contributions: {METHOD_NOTES[contributions.method]}, in {contributions.scale}."
        )
        self.feature_selector.configure(values=[item["feature"] for item in explanation.importance])
        self.feature_choice.set(explanation.importance[0]["feature"])
        csv_rows = self.csv_rows()
        self.row_selector.configure(values=[str(row) for row in csv_rows])
        # The row the model finds most likely positive: its reasons are the ones asked about.
        self.row_choice.set(str(csv_rows[int(np.argmax(result.test_probabilities[explanation.rows]))]))
        self.draw()

    def csv_rows(self) -> np.ndarray:
        """Each explained row's data row number in the CSV (0 = the first row below the header)."""
        return self.tab.data.source_rows[self.tab.split.test_rows[self.explanation.rows]]

    def chosen_row(self) -> int:
        """The chosen row's position among the explained rows."""
        return int(np.flatnonzero(self.csv_rows() == int(self.row_choice.get()))[0])

    def draw(self) -> None:
        if self.explanation is None:
            return
        if self.plots is None:
            from desktop_app.widgets.plot_panel import PlotPanel

            self.plots = PlotPanel(self.plots_holder, 7.5, 4.4)
            self.plots.pack(fill="both", expand=True)
        figure = self.plots.clear()
        grid = figure.add_gridspec(2, 2, width_ratios=(1, 1.2))
        self._draw_importance(figure.add_subplot(grid[:, 0]))
        self._draw_dependence(figure.add_subplot(grid[0, 1]))
        self._draw_waterfall(figure.add_subplot(grid[1, 1]))
        self.plots.redraw()

    def _draw_importance(self, axes) -> None:
        shown = self.explanation.importance[:15][::-1]
        positions = np.arange(len(shown))
        axes.barh(
            positions,
            [item["mean"] for item in shown],
            xerr=[item["std"] for item in shown],
            color="#1f77b4",
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
        axes.set_yticks(positions, [item["feature"] for item in shown], fontsize=7)
        axes.axvline(0, color="#999999", linewidth=0.8)
        axes.set(xlabel="test ROC AUC lost when shuffled (± spread)", title="Permutation importance")

    def _draw_dependence(self, axes) -> None:
        contributions = self.explanation.contributions
        name = self.feature_choice.get()
        column = contributions.columns.index(name)
        values = self.explanation.features[name]
        effects = contributions.values[:, column]
        if name in self.tab.data.categorical_columns:
            categories = sorted(values.dropna().unique().tolist(), key=str)[:25]
            for position, category in enumerate(categories):
                chosen = (values == category).to_numpy()
                jitter = np.random.default_rng(position).uniform(-0.25, 0.25, chosen.sum())
                axes.scatter(position + jitter, effects[chosen], s=4, alpha=0.4, color="#1f77b4")
            axes.set_xticks(
                range(len(categories)),
                [str(category)[:10] for category in categories],
                rotation=60,
                fontsize=6,
            )
        else:
            axes.scatter(values.to_numpy(dtype=float), effects, s=4, alpha=0.4, color="#1f77b4")
        axes.axhline(0, color="#999999", linewidth=0.8)
        axes.set(xlabel=name, ylabel=f"contribution ({contributions.scale})", title=f"Dependence on {name}")

    def _draw_waterfall(self, axes) -> None:
        contributions = self.explanation.contributions
        row = self.chosen_row()
        effects = contributions.values[row]
        order = np.argsort(-np.abs(effects), kind="stable")
        shown, rest = order[:WATERFALL_COLUMNS], order[WATERFALL_COLUMNS:]
        features = self.explanation.features.iloc[row]
        labels = [
            f"{contributions.columns[index]} = {imbalanced.json_value(features[contributions.columns[index]])}"
            for index in shown
        ]
        steps = [float(effects[index]) for index in shown]
        if len(rest):
            labels.append(f"{len(rest)} other columns")
            steps.append(float(effects[rest].sum()))
        start = contributions.base
        for position, step in enumerate(steps):
            axes.barh(position, step, left=start, color="#d62728" if step > 0 else "#1f77b4")
            start += step
        axes.set_yticks(range(len(labels)), [label[:32] for label in labels], fontsize=6)
        axes.invert_yaxis()
        axes.axvline(contributions.base, color="#999999", linewidth=0.8, linestyle=":")
        probability = self.explained.test_probabilities[self.explanation.rows[row]]
        axes.set(
            xlabel=f"score ({contributions.scale}); dotted: the average row",
            title=f"Row {self.row_choice.get()}: probability {probability:.3f}",
        )
        reasons = contributions.reasons(row, features)
        self.reasons_text.set(
            f"Reasons behind row {self.row_choice.get()}'s score (toward '{self.tab.positive_label()}'): "
            + (
                "; ".join(
                    f"{reason['feature']} = {reason['value']} (+{reason['contribution']:.3f})"
                    for reason in reasons
                )
                if reasons
                else "no column pushes it toward the positive class."
            )
        )
