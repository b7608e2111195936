"""The main window: a Notebook with one tab per tool, the menu bar and the status bar."""

from __future__ import annotations

import logging
import logging.handlers
import tkinter as tk
import traceback
from pathlib import Path
from tkinter import messagebox, ttk

from desktop_app import __version__, file_dialogs, theme
from desktop_app.jobs import JobRunner
from desktop_app.model_cache import ModelCache
from desktop_app.settings import Settings
from desktop_app.widgets.messages import MessageWindow
from desktop_app.widgets.scrolling_pane import ScrollingPane
from training.core import paths
from training.core.errors import WorkbenchError
from training.core.registry import ModelRegistry

log = logging.getLogger(__name__)
TITLE = "Fintech ML Workbench"
DEFAULT_SIZE = "1100x760"
MINIMUM_SIZE = (820, 560)


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


class ToolNotebook(ttk.Notebook):
    """The main notebook: each tool tab lies in a scrolling pane, which is the notebook's page;
    `select(tab)` takes the tab or its pane, `select()` answers the pane."""

    def add_tool(self, tool_class, app):
        pane = ScrollingPane(self)
        tab = tool_class(pane.interior, app)
        pane.hold(tab)
        tab.pane = pane
        self.add(pane, text=tab.title)
        return tab

    def select(self, tab_id=None):
        if tab_id is None:
            return super().select()
        return super().select(getattr(tab_id, "pane", tab_id))


class WorkbenchApp:
    def __init__(
        self,
        root: tk.Tk,
        registry: ModelRegistry | None = None,
        data_dir=None,
        settings: Settings | None = None,
    ):
        from desktop_app.tabs.anomaly import AnomalyTab
        from desktop_app.tabs.digits import DigitsTab
        from desktop_app.tabs.forgery import ForgeryTab
        from desktop_app.tabs.imbalanced import ImbalancedTab

        self.root = root
        self.registry = registry or ModelRegistry()
        self.data_dir = data_dir
        self.settings = settings or Settings()
        file_dialogs.remember_in(self.settings)
        self.messages: list[MessageWindow] = []
        # Asked before quitting with unsaved results: (title, question) → yes? Tests and
        # automation put their answer here (nothing may wait for a person there).
        self.confirm = lambda title, question: messagebox.askyesno(title, question, parent=self.root)
        root.title(TITLE)
        remembered_theme = self.settings.get("theme", "system")
        self.theme_choice = tk.StringVar(
            value=remembered_theme if remembered_theme in theme.THEMES else "system"
        )
        theme.apply(root, self.theme_choice.get())
        root.geometry(self._remembered_size())
        root.minsize(*MINIMUM_SIZE)
        root.report_callback_exception = self.report_callback_exception
        icon = paths.assets_dir() / "icon.png"
        if icon.is_file():
            self.icon = tk.PhotoImage(master=root, file=str(icon))
            root.iconphoto(True, self.icon)
        self.jobs = JobRunner(root, self.show_error)
        self.model_cache = ModelCache(self)
        # The status bar shows the line of the tab in front (each tab has its own).
        self.status_bar = ttk.Label(root, anchor="w", padding=(theme.PADDING, 2))
        self.status_bar.pack(side="bottom", fill="x")
        ttk.Separator(root).pack(side="bottom", fill="x")
        self.notebook = ToolNotebook(root)
        self.notebook.pack(fill="both", expand=True)
        self.tabs = [
            self.notebook.add_tool(tool_class, self)
            for tool_class in (DigitsTab, AnomalyTab, ImbalancedTab, ForgeryTab)
        ]
        for tab in self.tabs:
            tab.set_status("Starting…")
            tab.restore_settings(self.settings.tab(tab.title))
        self.notebook.bind("<<NotebookTabChanged>>", lambda _event: self._tab_changed(), add="+")
        self._tab_changed()
        self.menu = self._build_menu()
        root.protocol("WM_DELETE_WINDOW", self.request_quit)
        self.shown_warnings: set[str] = set()
        self.show_registry_warnings()
        if self.settings.problem:
            self.set_status(self.settings.problem.split(";")[0] + ": set aside.")
            self.show_message("Settings set aside", self.settings.problem)
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
        """The menus, with their shortcuts shown beside the entries and a mnemonic each
        (Alt + the underlined letter)."""
        menu = tk.Menu(self.root, tearoff=False)
        file_menu = tk.Menu(menu, tearoff=False)
        file_menu.add_command(label="Open…", underline=0, accelerator="Ctrl+O", command=self.open_files)
        self.recent_menu = tk.Menu(file_menu, tearoff=False, postcommand=self._fill_recent_menu)
        file_menu.add_cascade(label="Open recent", underline=5, menu=self.recent_menu)
        file_menu.add_command(
            label="Export report…", underline=0, accelerator="Ctrl+E", command=self.export_report
        )
        file_menu.add_separator()
        file_menu.add_command(label="Quit", underline=0, accelerator="Ctrl+Q", command=self.request_quit)
        menu.add_cascade(label="File", underline=0, menu=file_menu)
        view_menu = tk.Menu(menu, tearoff=False)
        view_menu.add_command(
            label="Next tab", underline=0, accelerator="Ctrl+Tab", command=lambda: self.step_tab(1)
        )
        view_menu.add_command(
            label="Previous tab", underline=0, accelerator="Ctrl+Shift+Tab", command=lambda: self.step_tab(-1)
        )
        view_menu.add_separator()
        for choice, label in theme.THEMES.items():
            view_menu.add_radiobutton(
                label=label, value=choice, variable=self.theme_choice, command=self._theme_chosen
            )
        menu.add_cascade(label="View", underline=0, menu=view_menu)
        models_menu = tk.Menu(menu, tearoff=False)
        for tab in (tab for tab in self.tabs if tab.retrain_fields):
            models_menu.add_command(label=f"Retrain {tab.title}…", command=tab.open_retrain_dialog)
            models_menu.add_command(
                label=f"Revert {tab.title} to bundled model", command=tab.revert_to_bundled
            )
        models_menu.add_separator()
        models_menu.add_command(label="Model info", underline=6, command=self.show_model_info)
        menu.add_cascade(label="Models", underline=0, menu=models_menu)
        help_menu = tk.Menu(menu, tearoff=False)
        help_menu.add_command(
            label="How to read this tab", underline=0, accelerator="F1", command=self.show_tab_help
        )
        help_menu.add_separator()
        help_menu.add_command(label="About", underline=0, command=self.show_about)
        menu.add_cascade(label="Help", underline=0, menu=help_menu)
        self.root.configure(menu=menu)
        self.root.bind_all("<Control-o>", lambda _event: self.open_files())
        self.root.bind_all("<Control-e>", lambda _event: self.export_report())
        self.root.bind_all("<Control-q>", lambda _event: self.request_quit())
        self.root.bind_all("<F1>", lambda _event: self.show_tab_help())
        # Ctrl+Tab moves between the tools wherever the focus is (ttk binds it to the inner
        # notebooks' pages too: the tools come first here).
        self.root.bind_all("<Control-Tab>", lambda _event: self.step_tab(1) or "break")
        for sequence in ("<Control-Shift-Tab>", "<Control-ISO_Left_Tab>"):
            self.root.bind_all(sequence, lambda _event: self.step_tab(-1) or "break")
        return menu

    def step_tab(self, step: int) -> None:
        """Bring the next (step 1) or previous (-1) tool tab to the front."""
        panes = self.notebook.tabs()
        current = panes.index(self.notebook.select())
        self.notebook.select(panes[(current + step) % len(panes)])

    def _tab_changed(self) -> None:
        self.status_bar.configure(textvariable=self.current_tab.status_text)

    def _theme_chosen(self) -> None:
        theme.apply(self.root, self.theme_choice.get())
        self.settings.set("theme", self.theme_choice.get())

    def _remembered_size(self) -> str:
        """The window's size when the app was last closed, if it still fits the screen."""
        size = self.settings.get("window_size", DEFAULT_SIZE)
        try:
            width, height = (int(value) for value in str(size).split("x"))
        except ValueError:
            return DEFAULT_SIZE
        if not (MINIMUM_SIZE[0] <= width <= self.root.winfo_screenwidth()):
            return DEFAULT_SIZE
        if not (MINIMUM_SIZE[1] <= height <= self.root.winfo_screenheight()):
            return DEFAULT_SIZE
        return f"{width}x{height}"

    def _fill_recent_menu(self) -> None:
        self.recent_menu.delete(0, "end")
        recent = self.settings.recent_files()
        if not recent:
            self.recent_menu.add_command(label="(none yet)", state="disabled")
        for path, title in recent:
            self.recent_menu.add_command(
                label=f"{path}  ({title})" if title else path,
                command=lambda path=path, title=title: self.open_recent(Path(path), title),
            )

    def open_recent(self, path: Path, title: str = "") -> None:
        """Open a recent file in the tab that opened it before, else the tab in front."""
        tab = next((tab for tab in self.tabs if tab.title == title), self.current_tab)
        self.notebook.select(tab)
        tab.open_paths([path])

    def remember_opened(self, tab, paths) -> None:
        """What a tab opened (the first of several: the batch's folder or its first file) goes
        to the recent files, and its folder becomes the tab's kind's last folder."""
        paths = list(paths)
        if paths:
            self.settings.add_recent(paths[0], tab.title)
            self.settings.remember_folder(file_dialogs.kind_of(tab.filetypes), paths[0])

    def tab(self, title: str):
        """The tab titled `title` ("Digits", "Anomaly", "Imbalanced", "Forgery"): callers find
        tabs by name, never by their place in the notebook."""
        for tab in self.tabs:
            if tab.title == title:
                return tab
        raise KeyError(f"no tab titled {title!r}; the tabs are {[tab.title for tab in self.tabs]}")

    @property
    def current_tab(self):
        return self.root.nametowidget(self.notebook.select()).content

    def open_files(self) -> None:
        tab = self.current_tab
        chosen = file_dialogs.ask_open(
            self.root, file_dialogs.kind_of(tab.filetypes), tab.filetypes, multiple=True
        )
        if chosen:
            tab.open_paths(chosen)

    def export_report(self, path: Path | None = None):
        """File → Export report…: the current tab's case report, made off the Tk thread from
        what the tab shows and written atomically to `path` (None: asked for); returns its
        job, or None when there is nothing to report or no file was chosen."""
        tab = self.current_tab
        make = tab.case_report()
        if make is None:
            self.set_status(f"Nothing to report on the {tab.title} tab yet: {tab.nothing_to_report}.", tab)
            return None
        if path is None:
            path = file_dialogs.ask_save(
                self.root,
                file_dialogs.EXPORTS,
                title=f"Export the {tab.title} report",
                defaultextension=".html",
                initialfile=f"{tab.title.lower()}-report.html",
                filetypes=(("HTML report", "*.html"), ("All files", "*")),
            )
            if path is None:
                return None
        self.set_status(f"Writing the {tab.title} report…", tab)
        return self.jobs.submit(
            f"{tab.title} report",
            lambda _job: make().write(path),
            on_success=lambda written: self._report_written(tab, written),
        )

    def _report_written(self, tab, written: Path) -> None:
        tab.results_kept()
        self.set_status(f"{tab.title} report written to {written}.", tab)

    @property
    def status_text(self) -> tk.StringVar:
        """The status line shown now: the tab in front's."""
        return self.current_tab.status_text

    @property
    def status_shown(self) -> str:
        """The text the status bar shows now (what the user reads)."""
        return self.root.getvar(str(self.status_bar.cget("textvariable")))

    def set_status(self, text: str, tab=None) -> None:
        """Say `text` on `tab`'s status line (the tab in front when none is given)."""
        (tab or self.current_tab).set_status(text)

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
        paragraphs = [paragraph for tab in self.tabs for paragraph in tab.model_info_paragraphs()]
        window = self.show_message("Model info", "\n\n".join(paragraphs))
        window.fit_screen()

    def show_tab_help(self) -> MessageWindow:
        tab = self.current_tab
        return self.show_message(f"How to read the {tab.title} tab", tab.how_to_read)

    def show_about(self) -> None:
        self.show_message(
            "About",
            f"{TITLE} {__version__}\nTools for analysts in finance and fraud teams.\n\n"
            f"Bundled models: {paths.bundled_models_dir()}\nYour data and retrained models: {paths.user_dir()}\n"
            f"Settings: {self.settings.path}",
        )

    def save_settings(self) -> None:
        self.settings.set("window_size", f"{self.root.winfo_width()}x{self.root.winfo_height()}")
        for tab in self.tabs:
            self.settings.tab(tab.title).update(tab.saved_settings())
        self.settings.save()

    def request_quit(self) -> None:
        """Quit, asking first when results would be lost or work is running (Quit, Ctrl+Q, the
        window's close button)."""
        losses = [text for text in (tab.unsaved_results() for tab in self.tabs) if text]
        if any(not job.finished for tab in self.tabs for job in tab.jobs):
            losses.append("Work still running is stopped.")
        if losses and not self.confirm("Quit?", "\n".join(losses) + "\n\nQuit anyway?"):
            return
        self.quit()

    def quit(self) -> None:
        """Quit now (code that drives the app calls this: it never asks)."""
        self.save_settings()
        for tab in self.tabs:
            tab.cancel_jobs()
        self.jobs.close()
        self.root.destroy()
