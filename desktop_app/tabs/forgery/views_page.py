"""The Forgery tab's "Forensic views" page: the photo shown on the Photo page beside one of five
views (noise residual, JPEG ghosts, clone detection, luminance gradient, EXIF thumbnail),
each with its own controls, its figures and a note on how to read it.

The page only draws. The views are computed by the engine on a worker thread at native
resolution (`OpenedPhoto.views`) once the photo's verdict is in, so that they never delay
it; moving a view's controls asks for that view again (only the newest request is
computed). Which views agree with the model's heatmap is shown under the verdict.
"""

from __future__ import annotations

import tkinter as tk
from dataclasses import replace
from tkinter import ttk

from desktop_app.jobs import LatestOnly
from desktop_app.widgets.flow_frame import FlowFrame
from desktop_app.widgets.image_view import photo_beside
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import forgery
from training.core.errors import InvalidInputError
from training.forgery import clones, views


class ViewsPage(ttk.Frame):
    def __init__(self, parent, tab):
        super().__init__(parent, padding=6)
        self.tab = tab
        self.settings = forgery.ViewSettings()
        self.shown = None  # the photo panel's ShownPhoto these views belong to
        self.chosen = tk.StringVar(value=views.VIEW_NAMES[0])
        self.worker = LatestOnly(tab.submit, "forensic views", self._compute, self._computed, self._failed)
        self._build_selector()
        self._build_controls()
        self.note_text = tk.StringVar()
        self.note_label = WrappingLabel(self, textvariable=self.note_text, justify="left")
        self.note_label.pack(fill="x", pady=(4, 0))
        self.figures_text = tk.StringVar(value="Drop a photo: its views follow its verdict.")
        WrappingLabel(self, textvariable=self.figures_text, font=("TkDefaultFont", 11, "bold")).pack(
            fill="x", pady=(4, 0)
        )
        pictures, self.photo_view, self.view_view = photo_beside(self, "view")
        pictures.pack(fill="both", expand=True, pady=(4, 0))
        self._view_chosen()

    # Layout ------------------------------------------------------------------------------------
    def _build_selector(self) -> None:
        row = ttk.Frame(self)
        row.pack(fill="x")
        self.selectors = {}
        for index, name in enumerate(views.VIEW_NAMES):  # three a row: they fit a small window
            button = ttk.Radiobutton(
                row, text=views.VIEW_TITLES[name], value=name, variable=self.chosen, command=self._view_chosen
            )
            button.grid(row=index // 3, column=index % 3, sticky="w", padx=(0, 8))
            tip(button, views.HOW_TO_READ[name])
            self.selectors[name] = button

    def _build_controls(self) -> None:
        holder = ttk.Frame(self)
        holder.pack(fill="x", pady=(4, 0))
        # Each view's controls re-flow onto a second line in a narrow window.
        self.control_rows = {name: FlowFrame(holder) for name in views.VIEW_NAMES}
        self.controls: dict[str, tk.Variable] = {}

        def control_group(name) -> ttk.Frame:
            return ttk.Frame(self.control_rows[name])  # flowed once filled (it is placed at its size)

        def choice(name, key, label, values, current):
            group = control_group(name)
            ttk.Label(group, text=label).pack(side="left")
            variable = tk.StringVar(value=str(current))
            ttk.Combobox(group, textvariable=variable, values=values, state="readonly", width=6).pack(
                side="left", padx=(4, 6)
            )
            self.control_rows[name].add(group)
            self._watch(name, key, variable)

        def slider(name, key, label, lowest, highest, current):
            group = control_group(name)
            ttk.Label(group, text=label).pack(side="left")
            variable = tk.DoubleVar(value=current)
            ttk.Scale(group, from_=lowest, to=highest, variable=variable, length=70).pack(
                side="left", padx=(4, 2)
            )
            shown = tk.StringVar()
            ttk.Label(group, textvariable=shown, width=5).pack(side="left", padx=(0, 6))
            variable.trace_add("write", lambda *_args: shown.set(_rounded(key, variable)))
            shown.set(_rounded(key, variable))
            self.control_rows[name].add(group)
            self._watch(name, key, variable)

        settings = self.settings
        choice("noise", "block", "Tile (px)", views.NOISE_BLOCKS, settings.noise.block)
        slider("noise", "gain", "Gain", 1, 50, settings.noise.gain)
        slider("ghosts", "shown_quality", "Re-save quality shown", 50, 95, settings.ghosts.shown_quality)
        choice("clones", "work_side", "Working size", clones.WORK_SIDES, settings.clones.work_side)
        slider("clones", "ratio", "Match ratio", 0.3, 0.9, settings.clones.ratio)
        slider("clones", "min_matches", "Min. matches", 5, 60, settings.clones.min_matches)
        # Starts at the verifier's own threshold (a 1 KB JSON file, read once per process).
        slider("clones", "min_probability", "Sure ≥", 0.3, 0.95, clones.verifier_in_use().threshold)
        choice("gradient", "tile", "Tile (px)", views.GRADIENT_TILES, settings.gradient.tile)
        slider("gradient", "gain", "Gain", 1, 20, settings.gradient.gain)
        thumbnail = control_group("thumbnail")
        ttk.Label(thumbnail, text="No settings: the thumbnail is what the file holds.").pack(side="left")
        self.control_rows["thumbnail"].add(thumbnail)

    def _watch(self, name: str, key: str, variable: tk.Variable) -> None:
        self.controls[f"{name}.{key}"] = variable
        variable.trace_add("write", lambda *_args: self._controls_changed(name))

    # Settings ----------------------------------------------------------------------------------
    def _controls_changed(self, name: str) -> None:
        current = getattr(self.settings, name)
        values = {}
        try:
            for control, variable in self.controls.items():
                view, key = control.split(".")
                if view == name:
                    values[key] = _typed(key, variable)
            changed = replace(current, **values)
        except (tk.TclError, ValueError, InvalidInputError):  # half typed, or out of range
            return
        if changed == current:
            return
        self.settings = replace(self.settings, **{name: changed})
        self.request((name,))

    # Views of the photo shown ------------------------------------------------------------------
    def photo_opened(self, shown) -> None:
        """A new photo on the Photo page: its views are computed once its verdict is in."""
        self.shown = shown
        self.photo_view.show(shown.opened.display if shown is not None else None)
        self.view_view.show(None)
        self.figures_text.set("Computing the views after the verdict…" if shown is not None else "")

    def photo_judged(self, shown) -> None:
        """The verdict is in: every view (the first time) and the agreement with the heatmap."""
        if shown is not self.shown:
            return
        if shown.views is None:
            self.request(views.VIEW_NAMES)
        else:
            self._show_agreement(shown)

    def request(self, names: tuple[str, ...]) -> None:
        shown = self.shown
        if shown is not None:
            if shown.views is None:  # a control moved before the first views: all of them
                names = views.VIEW_NAMES
            self.figures_text.set(f"Computing {', '.join(views.VIEW_TITLES[name] for name in names)}…")
            self.worker.request((shown, names, self.settings))

    @staticmethod
    def _compute(request, _job):
        shown, names, settings = request
        opened, current = shown.opened, shown.views
        if names == ("ghosts",) and current is not None and current.ghosts is not None:
            # Only the quality shown changed: the ghosts are drawn again, not re-saved.
            redrawn = current.ghosts.shown_at(settings.ghosts, opened.display.size, opened.image.size)
            computed = current.copy()
            computed.ghosts = redrawn
        else:
            computed = opened.views(settings, names, current.copy() if current is not None else None)
        if shown.verdict is not None:
            computed.agreement = forgery.agreement_with_heatmap(computed, shown.verdict.block_map)
        return shown, computed

    def _computed(self, result) -> None:
        shown, computed = result
        if shown is not self.shown:
            return
        shown.views = computed
        self._draw()
        self._show_agreement(shown)

    def _failed(self, error, details) -> None:
        self.figures_text.set(f"The views could not be computed: {error}")
        self.tab.app.show_error(error, details)

    def _show_agreement(self, shown) -> None:
        if shown.views is not None and shown.verdict is not None:
            # The worker works it out with the views once the verdict is in; views computed
            # before the verdict have none yet (it names every view once worked out).
            if not shown.views.agreement:
                shown.views.agreement = forgery.agreement_with_heatmap(shown.views, shown.verdict.block_map)
            self.tab.photo.show_agreement(views.agreement_line(shown.views.agreement))

    # Drawing -------------------------------------------------------------------------------------
    def _view_chosen(self) -> None:
        name = self.chosen.get()
        for row_name, row in self.control_rows.items():
            if row_name == name:
                row.pack(fill="x")
            else:
                row.pack_forget()
        self.note_text.set(f"How to read this: {views.HOW_TO_READ[name]}")
        self._draw()

    def _draw(self) -> None:
        shown = self.shown
        name = self.chosen.get()
        if shown is None or shown.views is None:
            return
        view = shown.views.get(name)
        if view is None:
            self.view_view.show(None)
            self.figures_text.set(shown.views.unavailable.get(name, "Not computed yet."))
            return
        self.figures_text.set(views.view_figures(name, view))
        first = self.view_view.image is None
        self.view_view.show(view.image, caption=views.VIEW_TITLES[name], keep_view=True)
        if first:
            self.view_view.set_view(self.photo_view.zoom, self.photo_view.offset)

    def shown_answer(self) -> dict:
        """What the user sees on this page (tests read this)."""
        return {
            "view": self.chosen.get(),
            "figures": self.figures_text.get(),
            "note": self.note_text.get(),
            "picture": self.view_view.image,
            "agreement": self.tab.photo.agreement_text.get(),
        }


INTEGER_SETTINGS = {"block", "shown_quality", "work_side", "min_matches", "tile"}


def _typed(key: str, variable: tk.Variable):
    """A control's value as its setting takes it: sliders of whole numbers (the ghost quality
    in steps of 5) rounded, the ratio to two places, the gains to whole numbers."""
    value = float(variable.get())
    if key == "shown_quality":
        return int(round(value / 5) * 5)
    if key in INTEGER_SETTINGS:
        return int(round(value))
    if key in ("ratio", "min_probability"):
        return round(value, 2)
    return float(round(value))


def _rounded(key: str, variable: tk.Variable) -> str:
    try:
        return str(_typed(key, variable))
    except (tk.TclError, ValueError):
        return ""
