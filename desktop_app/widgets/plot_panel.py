"""A matplotlib figure embedded in Tk, with the navigation toolbar (zoom, pan, save)."""

from __future__ import annotations

from tkinter import ttk


class PlotPanel(ttk.Frame):
    """Imports matplotlib when first built, so the main window never waits for it."""

    def __init__(self, parent, width_inches: float = 5.0, height_inches: float = 4.0, toolbar: bool = True):
        super().__init__(parent)
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg, NavigationToolbar2Tk
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(width_inches, height_inches), dpi=100, layout="constrained")
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        if toolbar:
            self.toolbar = NavigationToolbar2Tk(self.canvas, self, pack_toolbar=False)
            self.toolbar.pack(side="bottom", fill="x")
        self.canvas.get_tk_widget().pack(side="top", fill="both", expand=True)

    def redraw(self) -> None:
        self.canvas.draw_idle()

    def clear(self):
        self.figure.clear()
        return self.figure
