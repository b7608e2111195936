"""The look: the Sun Valley ttk theme (sv-ttk), light or dark as the system is where it can be
told (darkdetect), or as chosen in View → Theme; one padding for every tab; a visible focus ring."""

from __future__ import annotations

import logging
import tkinter as tk
from tkinter import ttk

log = logging.getLogger(__name__)

THEMES = {"system": "Theme as the system", "light": "Light theme", "dark": "Dark theme"}  # View menu
PADDING = 6  # around a tab's content and between its parts
SECONDARY = "Secondary.TLabel"  # the style of side remarks (which model is loaded, counts)
SECONDARY_COLOURS = {"light": "#5a5a5a", "dark": "#a8a8a8"}
FOCUS_COLOURS = {"light": "#005fb8", "dark": "#57c8ff"}  # the theme's accent


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
        style.configure(SECONDARY, foreground=SECONDARY_COLOURS["light"])
        return "clam"
    style = ttk.Style(root)
    style.configure(SECONDARY, foreground=SECONDARY_COLOURS[shade])
    show_focus(style, FOCUS_COLOURS[shade])
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
    # The options reach widgets made from now on; lists already made are recoloured here.
    for widget in _descendants(root):
        if widget.winfo_class() == "Listbox" and field and foreground:
            widget.configure(background=field, foreground=foreground)
    # The focus ring: the keyboard's place is always visible.
    root.option_add("*highlightThickness", 1)
    return shade


def show_focus(style: ttk.Style, colour: str) -> None:
    """A ring around the label of the button, check box or radio button that has the keyboard's
    focus: Sun Valley draws none, and a keyboard user must see where Space would act."""
    for kind in ("Button", "Checkbutton", "Radiobutton"):
        layout = style.layout(f"T{kind}")
        if _wrap_label(layout, f"{kind}.focus"):
            style.layout(f"T{kind}", layout)
        style.configure(f"T{kind}", focuscolor=colour, focusthickness=1)


def _wrap_label(layout: list, focus_element: str) -> bool:
    """Put the layout's label element inside `focus_element` (in place); False if already."""
    for index, (element, options) in enumerate(layout):
        if element == focus_element:
            return False
        if element.endswith(".label"):
            layout[index] = (focus_element, {"sticky": "nswe", "children": [(element, options)]})
            return True
        if _wrap_label(options.get("children", []), focus_element):
            return True
    return False


def _descendants(widget):
    for child in widget.winfo_children():
        yield child
        yield from _descendants(child)
