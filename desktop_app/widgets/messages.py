"""Non-modal message windows: a failure is shown to the user without blocking the window."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk


class MessageWindow(tk.Toplevel):
    def __init__(self, parent, title: str, text: str, details: str = ""):
        super().__init__(parent)
        self.title(title)
        self.transient(parent)
        self.text, self.details = text, details
        frame = ttk.Frame(self, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=text, wraplength=460, justify="left").pack(anchor="w")
        if details:
            box = tk.Text(frame, height=10, width=80, wrap="none")
            box.insert("1.0", details)
            box.configure(state="disabled")
            box.pack(fill="both", expand=True, pady=(8, 0))
        ttk.Button(frame, text="OK", command=self.destroy).pack(anchor="e", pady=(8, 0))
        self.bind("<Escape>", lambda _event: self.destroy())
