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
        self.label = ttk.Label(frame, text=text, wraplength=460, justify="left")
        self.label.pack(anchor="w")
        if details:
            box = tk.Text(frame, height=10, width=80, wrap="none")
            box.insert("1.0", details)
            box.configure(state="disabled")
            box.pack(fill="both", expand=True, pady=(8, 0))
        self.ok_button = ttk.Button(frame, text="OK", command=self.destroy)
        self.ok_button.pack(anchor="e", pady=(8, 0))
        self.bind("<Escape>", lambda _event: self.destroy())

    def fit_screen(self) -> None:
        """A long text scrolls in a window that fits the screen, instead of running off it."""
        self.update_idletasks()
        limit = int(self.winfo_screenheight() * 0.8)
        if self.winfo_reqheight() <= limit:
            return
        self.label.pack_forget()
        box = tk.Text(self.label.master, wrap="word", width=70, height=24, relief="flat")
        box.insert("1.0", self.text)
        box.configure(state="disabled")
        scrollbar = ttk.Scrollbar(self.label.master, orient="vertical", command=box.yview)
        box.configure(yscrollcommand=scrollbar.set)
        self.ok_button.pack_configure(side="bottom")
        scrollbar.pack(side="right", fill="y")
        box.pack(side="left", fill="both", expand=True)
        self.geometry(f"{min(self.winfo_reqwidth(), self.winfo_screenwidth())}x{limit}")
