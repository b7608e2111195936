"""Driving the real GUI from code: used by the tests, the benchmarks and the self-test."""

from __future__ import annotations

import time
import tkinter as tk


class WaitTimeout(AssertionError):
    pass


def wait_until(root, condition, timeout: float = 30.0, message: str = "condition") -> None:
    """Run the Tk event loop until `condition()` is true; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {message}")
        root.update()
        time.sleep(0.002)


def simulate_drop(widget, paths) -> None:
    """Drive tkdnd's own handlers, so the widget's real <<Drop>> binding gets real paths
    (event_generate('<<Drop>>') would deliver '??' as the data)."""
    widget.update()
    root_x = widget.winfo_rootx() + widget.winfo_width() // 2
    root_y = widget.winfo_rooty() + widget.winfo_height() // 2
    data = widget.tk.call("list", *[str(path) for path in paths])
    tcl = widget.tk.call
    tcl("tkdnd::generic::HandleEnter", widget._w, 0, ["text/uri-list"], ["text/uri-list"], ["copy"], [])
    tcl("tkdnd::generic::SetDroppedData", data)
    tcl("tkdnd::generic::HandlePosition", widget._w, "", [], root_x, root_y)
    tcl("tkdnd::generic::HandleDrop", widget._w, "", [], root_x, root_y, 0)


MENU_ENTRIES = ("command", "radiobutton", "checkbutton")


def invoke_menu(app, menu_label: str, item_label: str) -> None:
    """Invoke a menu command by its labels, as a click on it would."""
    menu = app.menu
    for index in range(menu.index("end") + 1):
        if menu.type(index) == "cascade" and menu.entrycget(index, "label") == menu_label:
            submenu = app.root.nametowidget(menu.entrycget(index, "menu"))
            for item in range(submenu.index("end") + 1):
                if submenu.type(item) in MENU_ENTRIES and submenu.entrycget(item, "label") == item_label:
                    submenu.invoke(item)
                    return
    raise LookupError(f"no menu item {menu_label} → {item_label}")


# What a user can reach -----------------------------------------------------------------------
CONTROL_CLASSES = frozenset(
    {"TButton", "TCheckbutton", "TRadiobutton", "TScale", "TCombobox", "TEntry", "TSpinbox", "Listbox"}
)


def _rectangle(widget) -> tuple[int, int, int, int]:
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return x, y, x + widget.winfo_width(), y + widget.winfo_height()


def _on_selected_pages(widget, stop) -> bool:
    """Whether every notebook page that holds `widget` (below `stop`) is its notebook's selected one,
    and every widget on the way is managed: what the user is meant to see now."""
    while widget is not stop:
        parent = widget.master
        if not widget.winfo_manager():
            return False
        if parent.winfo_class() == "TNotebook" and parent.select() != str(widget):
            return False
        widget = parent
    return True


def descendants(widget):
    for child in widget.winfo_children():
        yield child
        yield from descendants(child)


def page_combinations(tab):
    """Select each page of each notebook in `tab` in turn (the tab itself first), yielding a name."""
    yield tab.title
    for notebook in [widget for widget in descendants(tab) if widget.winfo_class() == "TNotebook"]:
        for page in notebook.tabs():
            notebook.select(page)
            yield f"{tab.title} → {notebook.tab(page, 'text')}"


def unreachable_controls(tab) -> list[str]:
    """The controls of `tab` (buttons, boxes, scales, entries) on the pages selected now that a
    user cannot fully see: unmapped, squeezed below their requested size, or lying partly outside
    a parent (which clips them) or the window. A control inside a scrolling pane is scrolled into
    view first, as the user would."""
    return [
        problem
        for widget in descendants(tab)
        if widget.winfo_class() in CONTROL_CLASSES and _on_selected_pages(widget, tab)
        for problem in [cut_off(widget)]
        if problem
    ]


def cut_off(widget) -> str:
    """Why a user cannot see `widget` whole (after scrolling the pane that holds it into view,
    as the user would), or "" when they can."""
    toplevel = widget.winfo_toplevel()
    for ancestor in _ancestors(widget, toplevel):
        if hasattr(ancestor, "scroll_into_view"):
            ancestor.scroll_into_view(widget)
    toplevel.update()
    name = f"{widget.winfo_class()} {_label(widget)!r} ({widget})"
    if not widget.winfo_ismapped():
        return f"{name}: not shown"
    if (
        widget.winfo_width() < widget.winfo_reqwidth() - 1
        or widget.winfo_height() < widget.winfo_reqheight() - 1
    ):
        return (
            f"{name}: squeezed to {widget.winfo_width()}×{widget.winfo_height()} "
            f"(needs {widget.winfo_reqwidth()}×{widget.winfo_reqheight()})"
        )
    left, top, right, bottom = _rectangle(widget)
    for ancestor in [*_ancestors(widget, toplevel), toplevel]:
        a_left, a_top, a_right, a_bottom = _rectangle(ancestor)
        if left < a_left or top < a_top or right > a_right or bottom > a_bottom:
            return f"{name}: at {left},{top}–{right},{bottom}, outside {ancestor} ({a_left},{a_top}–{a_right},{a_bottom})"
    return ""


def _ancestors(widget, stop):
    widget = widget.master
    while widget is not None and widget is not stop:
        yield widget
        widget = widget.master


def _label(widget) -> str:
    try:
        return str(widget.cget("text"))
    except tk.TclError:  # a list or a scale has no text
        return ""
