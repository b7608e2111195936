"""A drop zone: drag files onto it (tkinterdnd2), click it to pick files, or paste a path."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import ttk
from urllib.parse import unquote, urlparse

from desktop_app import file_dialogs
from desktop_app.widgets.tooltip import tip

log = logging.getLogger(__name__)


def parse_drop_data(tk_app, data: str) -> list[Path]:
    """The paths in a drop event's data: a Tcl list (paths with spaces come in braces),
    sometimes as file:// URIs."""
    paths = []
    for item in tk_app.splitlist(data):
        item = str(item)
        if item.startswith("file://"):
            item = unquote(urlparse(item).path)
        if item:
            paths.append(Path(item))
    return paths


def dnd_available(widget) -> bool:
    return (
        hasattr(widget, "drop_target_register")
        and getattr(widget.winfo_toplevel(), "TkdndVersion", None) is not None
    )


class DropZone(ttk.Frame):
    def __init__(
        self,
        parent,
        on_paths: Callable[[list[Path]], None],
        prompt: str,
        filetypes: Sequence[tuple[str, str]],
        multiple: bool = True,
    ):
        super().__init__(parent)
        self.on_paths = on_paths
        self.filetypes = list(filetypes)
        self.multiple = multiple
        self.area = tk.Label(
            self,
            text=prompt + "\nor click to choose…",
            relief="groove",
            borderwidth=2,
            padx=12,
            pady=18,
            cursor="hand2",
            justify="center",
        )
        self.area.pack(fill="x")
        self.area.bind("<Button-1>", lambda _event: self.choose())
        path_row = ttk.Frame(self)
        path_row.pack(fill="x", pady=(4, 0))
        self.path_text = tk.StringVar()
        entry = ttk.Entry(path_row, textvariable=self.path_text)
        entry.pack(side="left", fill="x", expand=True)
        entry.bind("<Return>", lambda _event: self.open_typed_path())
        tip(entry, "Or paste a file's or a folder's path here and press Enter.")
        self.open_button = ttk.Button(path_row, text="Open path", command=self.open_typed_path)
        self.open_button.pack(side="left", padx=(4, 0))
        self.drop_enabled = False
        if dnd_available(self):
            # Registering before the window is laid out makes tkdnd shrink it to a few
            # pixels when a matplotlib canvas is present (see shared/PLATFORM.md).
            self.winfo_toplevel().update_idletasks()
            from tkinterdnd2 import DND_FILES

            for widget in (self.area, self):
                widget.drop_target_register(DND_FILES)
                widget.dnd_bind("<<Drop>>", self._on_drop)
            self.drop_enabled = True

    def _on_drop(self, event):
        paths = parse_drop_data(self.tk, event.data)
        log.info("dropped %d path(s)", len(paths))
        if paths:
            self.on_paths(paths)
        return event.action

    def choose(self) -> None:
        chosen = file_dialogs.ask_open(
            self, file_dialogs.kind_of(self.filetypes), self.filetypes, multiple=self.multiple
        )
        if chosen:
            self.on_paths(chosen)

    def open_typed_path(self) -> None:
        text = self.path_text.get().strip().strip('"').strip("'")
        if text:
            self.on_paths(parse_drop_data(self.tk, "{" + text + "}"))
