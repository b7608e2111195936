"""The main window: a Notebook with one tab per tool, the menu bar and the status bar."""

from __future__ import annotations

import logging
import logging.handlers
import tkinter as tk
import traceback
from pathlib import Path
from tkinter import filedialog, ttk

from desktop_app.jobs import JobRunner
from desktop_app.model_cache import ModelCache
from desktop_app.widgets.messages import MessageWindow
from training.core import paths
from training.core.errors import WorkbenchError
from training.core.registry import ModelRegistry

log = logging.getLogger(__name__)
TITLE = "Fintech ML Workbench"


def create_root() -> tk.Tk:
    """A Tk root with drag and drop when tkdnd can be loaded, a plain one otherwise."""
    try:
        from tkinterdnd2 import TkinterDnD

        return TkinterDnD.Tk()
    except (ImportError, RuntimeError, tk.TclError) as error:
        log.warning("drag and drop unavailable: %s", error)
        return tk.Tk()


def configure_logging() -> None:
    log_dir = paths.user_dir() / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_dir / "workbench.log", maxBytes=1_000_000, backupCount=2
        )
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


class WorkbenchApp:
    def __init__(self, root: tk.Tk, registry: ModelRegistry | None = None, data_dir=None):
        from desktop_app.tabs.anomaly import AnomalyTab
        from desktop_app.tabs.digits import DigitsTab
        from desktop_app.tabs.forgery import ForgeryTab
        from desktop_app.tabs.imbalanced import ImbalancedTab

        self.root = root
        self.registry = registry or ModelRegistry()
        self.data_dir = data_dir
        self.messages: list[MessageWindow] = []
        root.title(TITLE)
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        root.geometry("1100x760")
        root.minsize(820, 560)
        root.report_callback_exception = self.report_callback_exception
        icon = paths.assets_dir() / "icon.png"
        if icon.is_file():
            self.icon = tk.PhotoImage(master=root, file=str(icon))
            root.iconphoto(True, self.icon)
        self.jobs = JobRunner(root, self.show_error)
        self.model_cache = ModelCache(self)
        self.status_text = tk.StringVar(value="Starting…")
        status_bar = ttk.Label(
            root, textvariable=self.status_text, anchor="w", relief="sunken", padding=(6, 2)
        )
        status_bar.pack(side="bottom", fill="x")
        self.notebook = ttk.Notebook(root)
        self.notebook.pack(fill="both", expand=True)
        self.tabs = [
            DigitsTab(self.notebook, self),
            AnomalyTab(self.notebook, self),
            ImbalancedTab(self.notebook, self),
            ForgeryTab(self.notebook, self),
        ]
        for tab in self.tabs:
            self.notebook.add(tab, text=tab.title)
        self.menu = self._build_menu()
        root.protocol("WM_DELETE_WINDOW", self.quit)
        self.shown_warnings: set[str] = set()
        self.show_registry_warnings()
        self.jobs.submit("remove leftovers of killed runs", lambda _job: self.registry.remove_leftovers())

    def show_registry_warnings(self) -> None:
        """Say once what was wrong with the user's model list (it was set aside and the
        bundled models are in use); reading it is what finds out."""
        self.registry.user_manifest()
        for warning in self.registry.warnings:
            if warning not in self.shown_warnings:
                self.shown_warnings.add(warning)
                log.warning(warning)
                self.set_status(warning.split(". ")[0] + ".")
                self.show_message("Retrained models set aside", warning)

    def _build_menu(self) -> tk.Menu:
        menu = tk.Menu(self.root, tearoff=False)
        file_menu = tk.Menu(menu, tearoff=False)
        file_menu.add_command(label="Open…", accelerator="Ctrl+O", command=self.open_files)
        file_menu.add_command(label="Export report…", accelerator="Ctrl+E", command=self.export_report)
        file_menu.add_separator()
        file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=self.quit)
        menu.add_cascade(label="File", menu=file_menu)
        models_menu = tk.Menu(menu, tearoff=False)
        for tab in (tab for tab in self.tabs if tab.retrain_fields):
            models_menu.add_command(label=f"Retrain {tab.title}…", command=tab.open_retrain_dialog)
            models_menu.add_command(
                label=f"Revert {tab.title} to bundled model", command=tab.revert_to_bundled
            )
        models_menu.add_separator()
        models_menu.add_command(label="Model info", command=self.show_model_info)
        menu.add_cascade(label="Models", menu=models_menu)
        help_menu = tk.Menu(menu, tearoff=False)
        help_menu.add_command(label="About", command=self.show_about)
        menu.add_cascade(label="Help", menu=help_menu)
        self.root.configure(menu=menu)
        self.root.bind_all("<Control-o>", lambda _event: self.open_files())
        self.root.bind_all("<Control-e>", lambda _event: self.export_report())
        self.root.bind_all("<Control-q>", lambda _event: self.quit())
        return menu

    def tab(self, title: str):
        """The tab titled `title` ("Digits", "Anomaly", "Imbalanced", "Forgery"): callers find
        tabs by name, never by their place in the notebook."""
        for tab in self.tabs:
            if tab.title == title:
                return tab
        raise KeyError(f"no tab titled {title!r}; the tabs are {[tab.title for tab in self.tabs]}")

    @property
    def current_tab(self):
        return self.root.nametowidget(self.notebook.select())

    def open_files(self) -> None:
        tab = self.current_tab
        chosen = filedialog.askopenfilenames(parent=self.root, filetypes=tab.filetypes)
        if chosen:
            tab.open_paths([Path(path) for path in chosen])

    def export_report(self, path: Path | None = None):
        """File → Export report…: the current tab's case report, made off the Tk thread from
        what the tab shows and written atomically to `path` (None: asked for); returns its
        job, or None when there is nothing to report or no file was chosen."""
        tab = self.current_tab
        make = tab.case_report()
        if make is None:
            self.set_status(f"Nothing to report on the {tab.title} tab yet: {tab.nothing_to_report}.")
            return None
        if path is None:
            chosen = filedialog.asksaveasfilename(
                parent=self.root,
                title=f"Export the {tab.title} report",
                defaultextension=".html",
                initialfile=f"{tab.title.lower()}-report.html",
                filetypes=(("HTML report", "*.html"), ("All files", "*")),
            )
            if not chosen:
                return None
            path = Path(chosen)
        self.set_status(f"Writing the {tab.title} report…")
        return self.jobs.submit(
            f"{tab.title} report",
            lambda _job: make().write(path),
            on_success=lambda written: self.set_status(f"{tab.title} report written to {written}."),
        )

    def set_status(self, text: str) -> None:
        self.status_text.set(text)

    def show_message(self, title: str, text: str, details: str = "") -> MessageWindow:
        window = MessageWindow(self.root, title, text, details)
        self.messages.append(window)
        return window

    def show_error(self, error: BaseException, details: str = "") -> None:
        """Every failure ends here (jobs, callbacks): status bar, a message window, the log."""
        known = isinstance(error, WorkbenchError)
        text = str(error) if known else f"Something went wrong: {type(error).__name__}: {error}"
        self.set_status(text.splitlines()[0] if text else type(error).__name__)
        self.show_message("Error", text, "" if known else details)

    def report_callback_exception(self, exception_type, value, trace) -> None:
        details = "".join(traceback.format_exception(exception_type, value, trace))
        log.error("Tk callback failed:\n%s", details)
        self.show_error(value, details)

    def show_model_info(self) -> None:
        lines = []
        for tab in self.tabs:
            lines.extend(tab.model_info_lines())
        self.show_message("Model info", "\n".join(lines))

    def show_about(self) -> None:
        self.show_message(
            "About",
            f"{TITLE}\nTools for analysts in finance and fraud teams.\n\n"
            f"Bundled models: {paths.bundled_models_dir()}\nYour data and retrained models: {paths.user_dir()}",
        )

    def quit(self) -> None:
        for tab in self.tabs:
            tab.cancel_jobs()
        self.jobs.close()
        self.root.destroy()
