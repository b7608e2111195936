"""Labelled horizontal bars (e.g. the top-3 class probabilities), drawn on a Canvas."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence


class BarList(tk.Canvas):
    def __init__(self, parent, rows: int = 3, row_height: int = 26, width: int = 260, label_width: int = 40):
        super().__init__(parent, width=width, height=rows * row_height + 4, highlightthickness=0)
        self.row_height = row_height
        self.label_width = label_width
        self.shown: list[tuple[str, float]] = []

    def show(self, bars: Sequence[tuple[str, float]]) -> None:
        """`bars`: (label, value in [0, 1]), drawn top to bottom."""
        self.shown = list(bars)
        self.delete("all")
        width = max(self.winfo_width(), int(self["width"]))
        label_width, value_width = self.label_width, 66
        for row, (label, value) in enumerate(self.shown):
            top = 2 + row * self.row_height
            bottom = top + self.row_height - 6
            self.create_text(
                4, (top + bottom) / 2, text=label, anchor="w", font=("TkDefaultFont", 11, "bold")
            )
            full = width - label_width - value_width
            self.create_rectangle(label_width, top, label_width + full, bottom, outline="#999999")
            self.create_rectangle(
                label_width,
                top,
                label_width + full * value,
                bottom,
                fill="#3b7dd8" if row == 0 else "#9bbbe8",
                outline="",
            )
            self.create_text(width - 4, (top + bottom) / 2, text=f"{value:.1%}", anchor="e")
