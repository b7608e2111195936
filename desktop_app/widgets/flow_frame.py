"""A row of controls that re-flows: left to right, onto the next line when the width runs out,
so a toolbar of buttons is one line in a wide window and two in a narrow one. It asks for the
width of its widest control and for the height its lines take at the width it is given."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk


class FlowFrame(ttk.Frame):
    def __init__(self, parent, gap: int = 4, **options):
        super().__init__(parent, **options)
        self.gap = gap
        self.items: list[tk.Widget] = []
        self._width = 0
        self.bind("<Configure>", self._on_configure)

    def add(self, *widgets: tk.Widget) -> None:
        """Flow `widgets` (children of this frame), in this order, after those added before."""
        for widget in widgets:
            self.items.append(widget)
            widget.bind("<Configure>", lambda _event: self._arrange(), add="+")
        self._arrange()

    def _on_configure(self, event) -> None:
        if event.width != self._width:
            self._width = event.width
            self._arrange()

    def _arrange(self) -> None:
        width = self._width or sum(item.winfo_reqwidth() + self.gap for item in self.items)
        x = y = line_height = 0
        for item in self.items:
            item_width, item_height = item.winfo_reqwidth(), item.winfo_reqheight()
            if x > 0 and x + item_width > width:
                x, y, line_height = 0, y + line_height + self.gap, 0
            item.place(x=x, y=y, width=item_width, height=item_height)
            x += item_width + self.gap
            line_height = max(line_height, item_height)
        widest = max((item.winfo_reqwidth() for item in self.items), default=1)
        self.configure(width=widest, height=y + line_height)
