"""A pane that never squeezes what it holds: larger than its content, the content fills it and
grows with the window; smaller, the content keeps the size it asks for and scrollbars appear
(so no button is ever cut off or pushed out of the window at the minimum size)."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

# Widgets that scroll themselves with the wheel: the wheel over them is theirs, not the pane's.
SELF_SCROLLING = frozenset({"Treeview", "Listbox", "Text", "Canvas", "TCombobox", "TSpinbox"})


class ScrollingPane(ttk.Frame):
    """Put the content in `interior` (as its child) and hand it to `hold`."""

    def __init__(self, parent, **options):
        super().__init__(parent, **options)
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.vertical = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.horizontal = ttk.Scrollbar(self, orient="horizontal", command=self.canvas.xview)
        self.canvas.configure(yscrollcommand=self.vertical.set, xscrollcommand=self.horizontal.set)
        # The interior's grid cell is at least the visible area (minsize) and at least what
        # the content asks for: the canvas shows it at that size, so a change of either
        # reaches _fit through the interior's <Configure>.
        self.interior = ttk.Frame(self.canvas)
        self.interior.rowconfigure(0, weight=1)
        self.interior.columnconfigure(0, weight=1)
        self.canvas.create_window(0, 0, window=self.interior, anchor="nw")
        self._fit_pending = False
        self.bind("<Configure>", lambda _event: self._schedule_fit())
        self.interior.bind("<Configure>", lambda _event: self._schedule_fit())
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.bind_all(sequence, self._wheel, add="+")
        self.content: tk.Widget | None = None

    def hold(self, content: tk.Widget) -> None:
        self.content = content
        content.grid(in_=self.interior, row=0, column=0, sticky="nsew")

    @property
    def scrolls(self) -> tuple[bool, bool]:
        """Whether the pane scrolls now (across, down)."""
        return bool(self.horizontal.winfo_manager()), bool(self.vertical.winfo_manager())

    def _schedule_fit(self) -> None:
        if not self._fit_pending:
            self._fit_pending = True
            self.after_idle(self._fit)

    def _fit(self) -> None:
        self._fit_pending = False
        if self.content is None:
            return
        width, height = self.winfo_width(), self.winfo_height()
        wanted_width, wanted_height = self.content.winfo_reqwidth(), self.content.winfo_reqheight()
        bar = self.vertical.winfo_reqwidth()
        down = wanted_height > height
        across = wanted_width > width - (bar if down else 0)
        down = down or (across and wanted_height > height - bar)
        self._show(self.vertical, down, row=0, column=1, sticky="ns")
        self._show(self.horizontal, across, row=1, column=0, sticky="ew")
        visible_width = width - (bar if down else 0)
        visible_height = height - (bar if across else 0)
        self.interior.columnconfigure(0, minsize=visible_width)
        self.interior.rowconfigure(0, minsize=visible_height)
        self.canvas.configure(
            scrollregion=(0, 0, max(visible_width, wanted_width), max(visible_height, wanted_height))
        )

    @staticmethod
    def _show(bar: ttk.Scrollbar, shown: bool, **grid) -> None:
        if shown and not bar.winfo_manager():
            bar.grid(**grid)
        elif not shown and bar.winfo_manager():
            bar.grid_remove()

    def scroll_into_view(self, widget: tk.Widget) -> None:
        """Scroll so that `widget` (inside the pane) is in view, as far as it fits."""
        self.update_idletasks()
        total_width, total_height = self.interior.winfo_width(), self.interior.winfo_height()
        if total_width <= 1 or total_height <= 1:
            return
        left = widget.winfo_rootx() - self.interior.winfo_rootx()
        top = widget.winfo_rooty() - self.interior.winfo_rooty()
        for view, start, size, visible, total in (
            (self.canvas.xview, left, widget.winfo_width(), self.canvas.winfo_width(), total_width),
            (self.canvas.yview, top, widget.winfo_height(), self.canvas.winfo_height(), total_height),
        ):
            first, last = (fraction * total for fraction in view())
            if start < first:
                view("moveto", start / total)
            elif start + size > last:
                view("moveto", max(0, start + size - visible) / total)

    def _wheel(self, event) -> None:
        """The wheel over the pane's content scrolls the pane, unless the widget under the
        pointer scrolls itself (a table, a list, a plot)."""
        widget = event.widget
        if not isinstance(widget, tk.Misc) or not str(widget).startswith(str(self) + "."):
            return
        if widget.winfo_class() in SELF_SCROLLING or not self.scrolls[1]:
            return
        if event.num == 4 or getattr(event, "delta", 0) > 0:
            self.canvas.yview_scroll(-1, "units")
        else:
            self.canvas.yview_scroll(1, "units")
