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
from desktop_app.widgets.image_view import photo_beside
from desktop_app.widgets.tooltip import tip
from desktop_app.widgets.wrapping_label import WrappingLabel
from training import forgery
from training.core.errors import InvalidInputError
from training.forgery import clones, views

HOW_TO_READ = {
    "noise": (
        "Bright = strong fine grain. One camera gives every part of a photo about the same grain; "
        "a pasted or retouched region often has more or less (another camera, smoothing, added "
        "noise). Edges and busy texture are always bright. Means little on photos saved at low "
        "quality or many times: JPEG wipes the grain out."
    ),
    "ghosts": (
        "Dark = the photo barely changes when re-saved at the quality shown. The whole photo "
        "darkens at the quality it was last saved at; a region that darkens on its own at a lower "
        "quality was saved at that quality before (pasted from another JPEG). Step through the "
        "qualities. Means little if the photo was resized after the edit, or last saved at a "
        "lower quality than the pasted part."
    ),
    "clones": (
        "Boxes of one colour, linked by a line: a region and its copy elsewhere in the same photo "
        "(also turned or rescaled), as a clone brush leaves when it hides something. Symmetric "
        "things (two eyes, two wheels) and repeated patterns can look alike; flat areas (clear "
        "sky) cannot be checked at all."
    ),
    "gradient": (
        "Colour = where brightness rises (red: to the right, green: downwards), blue = how "
        "steeply. Light from one side shades every object the same way; an object pasted from a "
        "photo lit from elsewhere is shaded against the rest. The figures compare the shading "
        "direction tile by tile. Means little in diffuse light, with several lights, or on busy "
        "texture."
    ),
    "thumbnail": (
        "The difference between the photo and the small copy the camera stored in its EXIF: "
        "bright areas changed after the thumbnail was made; a thumbnail of another shape means "
        "the photo was cropped. Many editors rewrite or drop the thumbnail, so no thumbnail "
        "proves nothing."
    ),
}


def view_figures(name: str, view) -> str:
    """The figures of one view, as the user reads them."""
    if name == "noise":
        return (
            f"Noise σ ≈ {view.median_sigma:.2f} grey levels; {view.outlier_share:.1%} of the tiles are "
            f"outliers; the most different region's level is {view.highest_ratio:.1f}× the photo's."
        )
    if name == "ghosts":
        ghost = (
            f"a region has its own minimum at quality {view.ghost_quality} ({view.ghost_share:.1%} of the photo)."
            if view.ghost_quality is not None
            else "no region has a minimum of its own at a lower quality."
        )
        return f"The photo differs least at quality {view.quality_minimum}; {ghost}"
    if name == "clones":
        if not view.regions:
            return f"No copied region found ({view.candidate_matches} look-alike points checked)."
        found = "; ".join(
            f"{region.matches} matches, scale {region.scale:.2f}, turned {abs(region.rotation_degrees):.0f}°"
            for region in view.regions
        )
        count = len(view.regions)
        return f"{count} cloned region{'s' * (count != 1)} found: {found}."
    if name == "gradient":
        return (
            f"Shading mostly towards {view.dominant_degrees:.0f}°, consistency {view.consistency:.2f} "
            f"(0 = none, 1 = every tile); {view.opposed_share:.1%} of the shaded tiles point against it."
        )
    if not view.present:
        return "The file holds no EXIF thumbnail."
    shape = "same shape as the photo" if view.aspect_matches else "ANOTHER SHAPE than the photo (cropped?)"
    return (
        f"Thumbnail {view.thumbnail.width}×{view.thumbnail.height}, {shape}; mean difference "
        f"{view.mean_difference:.1f} grey levels; {view.changed_share:.1%} of it clearly changed."
    )


def agreement_line(agreement: dict[str, str]) -> str:
    """Under the verdict: the views grouped by what they say about the model's heatmap."""
    groups: dict[str, list[str]] = {}
    for name in views.VIEW_NAMES:
        if name in agreement:
            groups.setdefault(agreement[name], []).append(views.VIEW_TITLES[name])
    order = (views.AGREES, views.ELSEWHERE, views.MODEL_SILENT, views.NOTHING_FOUND, views.NO_DATA)
    return "Views: " + "; ".join(f"{state}: {', '.join(groups[state])}" for state in order if state in groups)


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
            tip(button, HOW_TO_READ[name])
            self.selectors[name] = button

    def _build_controls(self) -> None:
        holder = ttk.Frame(self)
        holder.pack(fill="x", pady=(4, 0))
        self.control_rows = {name: ttk.Frame(holder) for name in views.VIEW_NAMES}
        self.controls: dict[str, tk.Variable] = {}

        def choice(name, key, label, values, current):
            ttk.Label(self.control_rows[name], text=label).pack(side="left")
            variable = tk.StringVar(value=str(current))
            ttk.Combobox(
                self.control_rows[name], textvariable=variable, values=values, state="readonly", width=6
            ).pack(side="left", padx=(4, 6))
            self._watch(name, key, variable)

        def slider(name, key, label, lowest, highest, current):
            ttk.Label(self.control_rows[name], text=label).pack(side="left")
            variable = tk.DoubleVar(value=current)
            ttk.Scale(self.control_rows[name], from_=lowest, to=highest, variable=variable, length=70).pack(
                side="left", padx=(4, 2)
            )
            shown = tk.StringVar()
            ttk.Label(self.control_rows[name], textvariable=shown, width=5).pack(side="left", padx=(0, 6))
            variable.trace_add("write", lambda *_args: shown.set(_rounded(key, variable)))
            shown.set(_rounded(key, variable))
            self._watch(name, key, variable)

        settings = self.settings
        choice("noise", "block", "Tile (px)", views.NOISE_BLOCKS, settings.noise.block)
        slider("noise", "gain", "Gain", 1, 50, settings.noise.gain)
        slider("ghosts", "shown_quality", "Re-save quality shown", 50, 95, settings.ghosts.shown_quality)
        choice("clones", "work_side", "Working size", clones.WORK_SIDES, settings.clones.work_side)
        slider("clones", "ratio", "Match ratio", 0.3, 0.9, settings.clones.ratio)
        slider("clones", "min_matches", "Min. matches", 5, 60, settings.clones.min_matches)
        choice("gradient", "tile", "Tile (px)", views.GRADIENT_TILES, settings.gradient.tile)
        slider("gradient", "gain", "Gain", 1, 20, settings.gradient.gain)
        ttk.Label(
            self.control_rows["thumbnail"], text="No settings: the thumbnail is what the file holds."
        ).pack(side="left")

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
            shown.views.agreement = forgery.agreement_with_heatmap(shown.views, shown.verdict.block_map)
            self.tab.photo.show_agreement(agreement_line(shown.views.agreement))

    # Drawing -------------------------------------------------------------------------------------
    def _view_chosen(self) -> None:
        name = self.chosen.get()
        for row_name, row in self.control_rows.items():
            if row_name == name:
                row.pack(fill="x")
            else:
                row.pack_forget()
        self.note_text.set(f"How to read this: {HOW_TO_READ[name]}")
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
        self.figures_text.set(view_figures(name, view))
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
    if key == "ratio":
        return round(value, 2)
    return float(round(value))


def _rounded(key: str, variable: tk.Variable) -> str:
    try:
        return str(_typed(key, variable))
    except (tk.TclError, ValueError):
        return ""
