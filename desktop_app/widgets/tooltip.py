"""Tooltips: a short explanation that appears when the pointer rests on a control (or the
keyboard focus reaches it) and goes when it leaves. One per widget, set with `tip`."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

DELAY_MS = 500
WRAP = 320


class Tooltip:
    def __init__(self, widget: tk.Widget, text: str):
        self.widget = widget
        self.text = text
        self.window: tk.Toplevel | None = None
        self._after_id = None
        widget.bind("<Enter>", lambda _event: self._schedule(), add="+")
        widget.bind("<FocusIn>", lambda _event: self._schedule(), add="+")
        for sequence in ("<Leave>", "<FocusOut>", "<ButtonPress>", "<Destroy>"):
            widget.bind(sequence, lambda _event: self.hide(), add="+")

    def _schedule(self) -> None:
        self._cancel()
        self._after_id = self.widget.after(DELAY_MS, self.show)

    def _cancel(self) -> None:
        if self._after_id is not None:
            self.widget.after_cancel(self._after_id)
            self._after_id = None

    def show(self) -> None:
        self._after_id = None
        if self.window is not None or not self.widget.winfo_viewable():
            return
        self.window = tk.Toplevel(self.widget)
        self.window.wm_overrideredirect(True)
        frame = ttk.Frame(self.window, padding=(8, 4), relief="solid", borderwidth=1)
        frame.pack()
        ttk.Label(frame, text=self.text, wraplength=WRAP, justify="left").pack()
        x = self.widget.winfo_rootx()
        y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        self.window.wm_geometry(f"+{x}+{y}")

    def hide(self) -> None:
        self._cancel()
        if self.window is not None:
            self.window.destroy()
            self.window = None


def tip(widget: tk.Widget, text: str) -> tk.Widget:
    """Give `widget` the tooltip `text` (replacing one it had); returns the widget."""
    existing = getattr(widget, "tooltip", None)
    if existing is not None:
        existing.text = text
    else:
        widget.tooltip = Tooltip(widget, text)
    return widget
