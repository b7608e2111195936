"""A table (ttk.Treeview) whose columns sort when their heading is clicked."""

from __future__ import annotations

from collections.abc import Sequence
from tkinter import font as tkfont
from tkinter import ttk

HEADING_MARGIN = 14  # the padding around a heading's text, so that it is never cut off
HORIZONTAL_WIDTH = 420
TEXT_WIDTH = 120  # a column given more than this holds text: left-aligned, it grows


class ResultsTable(ttk.Frame):
    def __init__(
        self,
        parent,
        columns: Sequence[tuple[str, str, int]],
        height: int = 10,
        horizontal_scroll: bool = False,
    ):
        """`columns`: (key, heading, width in pixels; widened to fit the heading). The table asks
        for its columns' width (one that scrolls across: `HORIZONTAL_WIDTH` at most) and grows
        with its place."""
        super().__init__(parent)
        self.keys = [key for key, _heading, _width in columns]
        self.tree = ttk.Treeview(self, columns=self.keys, show="headings", height=height)
        heading_font = tkfont.nametofont("TkHeadingFont", root=self)
        # Text columns (file names, models: those made wide, else the first) take the room a
        # larger window gives; figures keep their width.
        texts = {key for key, _heading, width in columns if width > TEXT_WIDTH} or {columns[0][0]}
        for key, heading, width in columns:
            self.tree.heading(key, text=heading, command=lambda key=key: self.sort_by(key))
            fitted = max(width, heading_font.measure(heading) + HEADING_MARGIN)
            self.tree.column(
                key,
                width=fitted,
                minwidth=fitted,
                anchor="w" if key in texts else "center",
                stretch=key in texts,
            )
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scrollbar.set)
        if horizontal_scroll:
            across = ttk.Scrollbar(self, orient="horizontal", command=self.tree.xview)
            self.tree.configure(xscrollcommand=across.set)
            across.pack(side="bottom", fill="x")
        self.tree.pack(side="left", fill="both", expand=True)
        scrollbar.pack(side="right", fill="y")
        # The table asks for the size it was made with, always: a Treeview asks for the sum of
        # its columns' widths, which grow with a large window and would then hold it large.
        self.update_idletasks()
        self.pack_propagate(False)
        width = self.tree.winfo_reqwidth() + scrollbar.winfo_reqwidth()
        height = self.tree.winfo_reqheight()
        if horizontal_scroll:
            width, height = min(width, HORIZONTAL_WIDTH), height + across.winfo_reqheight()
        self.configure(width=width, height=height)
        self._descending: dict[str, bool] = {}

    def clear(self) -> None:
        self.tree.delete(*self.tree.get_children())

    def add(self, values: Sequence, item_id: str | None = None) -> str:
        return self.tree.insert("", "end", iid=item_id, values=[_display(v) for v in values])

    def update_row(self, item_id: str, values: Sequence, tags: Sequence[str] = ()) -> None:
        self.tree.item(item_id, values=[_display(v) for v in values], tags=tuple(tags))

    def put(self, item_id: str, values: Sequence, tags: Sequence[str] = ()) -> None:
        """The row `item_id` with these values and tags: added, or updated when it is there (a
        file dropped again keeps its place)."""
        if self.tree.exists(item_id):
            self.update_row(item_id, values, tags)
        else:
            self.tree.insert("", "end", iid=item_id, values=[_display(v) for v in values], tags=tuple(tags))

    def selected(self) -> str | None:
        """The selected row's id, or None."""
        selection = self.tree.selection()
        return selection[0] if selection else None

    def in_shown_order(self, answers: dict) -> list:
        """The values of `answers` (by row id) whose rows the table shows, in the order shown."""
        return [answers[key] for key in self.tree.get_children() if key in answers]

    def rows(self) -> list[list[str]]:
        return [list(map(str, self.tree.item(item, "values"))) for item in self.tree.get_children()]

    def sort_by(self, key: str) -> None:
        descending = not self._descending.get(key, True)
        self._descending[key] = descending
        column = self.keys.index(key)
        items = list(self.tree.get_children())
        items.sort(key=lambda item: _sort_key(self.tree.item(item, "values")[column]), reverse=descending)
        for position, item in enumerate(items):
            self.tree.move(item, "", position)


def _display(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def _sort_key(text: str):
    cleaned = str(text).rstrip("%")
    try:
        return (0, float(cleaned), "")
    except ValueError:
        return (1, 0.0, str(text).lower())
