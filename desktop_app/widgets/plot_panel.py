"""A matplotlib figure embedded in Tk, with the navigation toolbar (zoom, pan, save)."""

from __future__ import annotations

from tkinter import ttk

# The figure asks for this share of its size: it grows with the window, and a small window
# scrolls (widgets/scrolling_pane.py) instead of squeezing it to a sliver.
REQUESTED_SHARE = 0.7


class PlotPanel(ttk.Frame):
    """Imports matplotlib when first built, so the main window never waits for it."""

    def __init__(self, parent, width_inches: float = 5.0, height_inches: float = 4.0, toolbar: bool = True):
        super().__init__(parent)
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg, NavigationToolbar2Tk
        from matplotlib.figure import Figure

        self.figure = Figure(
            figsize=(width_inches * REQUESTED_SHARE, height_inches * REQUESTED_SHARE),
            dpi=100,
            layout="constrained",
        )
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        if toolbar:
            self.toolbar = NavigationToolbar2Tk(self.canvas, self, pack_toolbar=False)
            self.toolbar.pack(side="bottom", fill="x")
        widget = self.canvas.get_tk_widget()
        widget.pack(side="top", fill="both", expand=True)
        # Matplotlib sets the widget's requested size to the figure's size when first shown
        # (in screen pixels): ask for the figure's first size again, not for whatever size it
        # has grown to, so that the window can shrink.
        requested = {"width": int(widget.cget("width")), "height": int(widget.cget("height"))}
        widget.bind("<Map>", lambda _event: widget.configure(**requested), add="+")

    def redraw(self) -> None:
        self.canvas.draw_idle()

    def clear(self):
        self.figure.clear()
        return self.figure
