"""The look: the Sun Valley ttk theme (sv-ttk), light or dark as the system is where it can be
told (darkdetect), or as chosen in View → Theme; one padding for every tab; a visible focus ring."""

from __future__ import annotations

import logging
import tkinter as tk
from tkinter import ttk

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
PADDING = 6  # around a tab's content and between its parts


def system_theme() -> str:
    """ "dark" or "light" as the desktop is set; light where it cannot be told."""
    try:
        import darkdetect

        return "dark" if darkdetect.isDark() else "light"
    except Exception as error:  # noqa: BLE001 - a desktop without the setting is not an error
        log.info("the system's light or dark setting could not be read: %s", error)
        return "light"


def apply(root: tk.Tk, choice: str = "system") -> str:
    """Use the theme `choice` ("system", "light" or "dark"); returns the one in use."""
    shade = system_theme() if choice == "system" else choice
    try:
        import sv_ttk

        sv_ttk.set_theme(shade, root)
    except (ImportError, tk.TclError) as error:  # a broken install still gets a window
        log.warning("the Sun Valley theme could not be loaded: %s", error)
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        return "clam"
    style = ttk.Style(root)
    # Plain Tk widgets (lists, canvases, menus) follow the theme's colours too.
    background = style.lookup(".", "background")
    foreground = style.lookup(".", "foreground")
    field = style.lookup("TEntry", "fieldbackground") or background
    colours = {
        "*Listbox.background": field,
        "*Listbox.foreground": foreground,
        "*Canvas.background": background,
        "*Menu.background": background,
        "*Menu.foreground": foreground,
    }
    for pattern, colour in colours.items():
        if colour:
            root.option_add(pattern, colour)
    if background:
        root.configure(background=background)
    # The focus ring: the keyboard's place is always visible.
    root.option_add("*highlightThickness", 1)
    return shade
