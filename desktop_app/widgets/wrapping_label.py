"""A label whose text wraps at the width it is given, and which asks for little width itself: a
label that wraps at its own width asks for the widest it ever was, and then holds the window at
that width (a pane that scrolls instead of squeezing would never shrink again)."""

from __future__ import annotations

from tkinter import ttk


class WrappingLabel(ttk.Frame):
    """`label` is the ttk.Label inside (its options are given here); the frame asks for
    `min_width` and the label's height at the width the frame has."""

    def __init__(self, parent, min_width: int = 200, assumed_width: int = 500, **label_options):
        """Until it is laid out (on a page not shown yet), the text wraps at `assumed_width`:
        wrapped at `min_width` it would ask for a needlessly tall place."""
        super().__init__(parent, width=min_width, height=1)
        self.pack_propagate(False)
        self.label = ttk.Label(self, **label_options)
        self.label.place(x=0, y=0, relwidth=1.0)
        self._width = assumed_width
        self.bind("<Configure>", self._rewrap)
        self.label.bind("<Configure>", lambda _event: self._fit_height())
        self._rewrap()

    def _rewrap(self, event=None) -> None:
        if event is not None:
            self._width = event.width
        self.label.configure(wraplength=max(50, self._width - 4))
        self._fit_height()

    def _fit_height(self) -> None:
        height = self.label.winfo_reqheight()
        if int(self.cget("height")) != height:
            self.configure(height=height)
