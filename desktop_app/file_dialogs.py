"""Tk's file dialogs as the app uses them: opening in the last folder used for that kind of file
(not the folder the app was started from), remembering the folder chosen, and hiding dot-folders
(Tk's dialog on Linux shows them by default; its "Show hidden files" check still shows them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from tkinter import filedialog

_settings = None  # the app's Settings, once it has started


def remember_in(settings) -> None:
    global _settings
    _settings = settings


EXPORTS = "exports"  # the kind of every file the app writes


def kind_of(filetypes: Sequence[tuple[str, str]]) -> str:
    """Files opened through the same first file type ("Images", "Photos", ...) share a folder."""
    return filetypes[0][0] if filetypes else "files"


def _prepare(parent) -> None:
    # Tk's own dialog (Linux) reads these once its code is loaded: an invalid call loads it.
    # Elsewhere the system's dialog ignores them.
    parent.tk.call("catch", "tk_getOpenFile -no-such-option")
    parent.tk.call("set", "::tk::dialog::file::showHiddenBtn", "1")
    parent.tk.call("set", "::tk::dialog::file::showHiddenVar", "0")


def initial_folder(kind: str) -> str:
    folder = _settings.last_folder(kind) if _settings is not None else None
    return folder or str(Path.home())


def _remember(kind: str, path) -> None:
    if _settings is not None and path:
        _settings.remember_folder(kind, path)


def ask_open(parent, kind: str, filetypes: Sequence[tuple[str, str]], multiple: bool = False) -> list[Path]:
    """Files chosen to open (none when cancelled); `kind` names whose last folder to start in."""
    _prepare(parent)
    options = {"parent": parent, "filetypes": list(filetypes), "initialdir": initial_folder(kind)}
    chosen = filedialog.askopenfilenames(**options) if multiple else filedialog.askopenfilename(**options)
    paths = [Path(path) for path in (parent.tk.splitlist(chosen) if multiple else [chosen]) if path]
    if paths:
        _remember(kind, paths[0])
    return paths


def ask_save(parent, kind: str, **options) -> Path | None:
    """Where to save (None when cancelled), starting in the last folder used for `kind`."""
    _prepare(parent)
    chosen = filedialog.asksaveasfilename(parent=parent, initialdir=initial_folder(kind), **options)
    if not chosen:
        return None
    _remember(kind, chosen)
    return Path(chosen)


def ask_folder(parent, kind: str, initial: str | None = None) -> Path | None:
    _prepare(parent)
    chosen = filedialog.askdirectory(
        parent=parent, initialdir=initial or initial_folder(kind), mustexist=True
    )
    if not chosen:
        return None
    _remember(kind, chosen)
    return Path(chosen)
