"""Driving the real GUI from code: used by the tests, the benchmarks and the self-test."""

from __future__ import annotations

import time


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


def invoke_menu(app, menu_label: str, item_label: str) -> None:
    """Invoke a menu command by its labels, as a click on it would."""
    menu = app.menu
    for index in range(menu.index("end") + 1):
        if menu.type(index) == "cascade" and menu.entrycget(index, "label") == menu_label:
            submenu = app.root.nametowidget(menu.entrycget(index, "menu"))
            for item in range(submenu.index("end") + 1):
                if submenu.type(item) == "command" and submenu.entrycget(item, "label") == item_label:
                    submenu.invoke(item)
                    return
    raise LookupError(f"no menu item {menu_label} → {item_label}")
