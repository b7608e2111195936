"""What the app remembers between runs: the window's size, the last folder of each kind of file,
recent files, the theme and each tab's choices. One JSON file (`paths.settings_file()`, in the
platform's config folder); one that cannot be read is set aside (renamed with a `.corrupt-…`
suffix), reported, and the defaults are used: a bad settings file never stops the app."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from training.core import paths
from training.core.registry import write_text_atomically

log = logging.getLogger(__name__)

RECENT_FILES = 10


class Settings:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else paths.settings_file()
        self.values: dict = {}
        self.problem: str | None = None  # what went wrong reading the file, said once to the user
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as error:
            self.problem = f"Your settings could not be read ({error}); the defaults are in use."
            log.warning(self.problem)
            return
        try:
            values = json.loads(text)
            if not isinstance(values, dict):
                raise ValueError(f"a JSON {type(values).__name__}, not an object")
        except ValueError as error:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                self.path.replace(aside)
                where = f"it was set aside as {aside.name}"
            except OSError as move_error:
                where = f"it could not be set aside ({move_error})"
            self.problem = (
                f"Your settings file {self.path} could not be read ({error}); {where} and the "
                "defaults are in use."
            )
            log.warning(self.problem)
            return
        self.values = values

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def set(self, key: str, value) -> None:
        self.values[key] = value

    def save(self) -> None:
        """Write the file atomically; a failure is logged, never raised (the app is closing)."""
        try:
            write_text_atomically(self.path, json.dumps(self.values, indent=2, sort_keys=True))
        except OSError as error:
            log.warning("settings not saved to %s: %s", self.path, error)

    def _section(self, key: str, kind: type):
        """The value under `key` if it is a `kind` (a file edited by hand may hold anything),
        else a new empty one in its place."""
        value = self.values.get(key)
        if not isinstance(value, kind):
            value = self.values[key] = kind()
        return value

    # Folders and recent files ------------------------------------------------------------------
    def last_folder(self, kind: str) -> str | None:
        """The folder a file of `kind` ("Images", "exports", ...) was last opened from or saved
        to, if it still exists."""
        folder = self._section("folders", dict).get(kind)
        return folder if isinstance(folder, str) and Path(folder).is_dir() else None

    def remember_folder(self, kind: str, path: str | os.PathLike) -> None:
        path = Path(path)
        self._section("folders", dict)[kind] = str(path if path.is_dir() else path.parent)

    def recent_files(self) -> list[tuple[str, str]]:
        """(path, title of the tab that opened it), newest first, of those still there."""
        return [
            (entry["path"], entry.get("tab", ""))
            for entry in self._section("recent", list)
            if isinstance(entry, dict) and isinstance(entry.get("path"), str) and Path(entry["path"]).exists()
        ]

    def add_recent(self, path: str | os.PathLike, tab: str) -> None:
        path = str(path)
        kept = [
            entry
            for entry in self._section("recent", list)
            if isinstance(entry, dict) and entry.get("path") != path
        ]
        self.values["recent"] = [{"path": path, "tab": tab}, *kept][:RECENT_FILES]

    # A tab's own choices -----------------------------------------------------------------------
    def tab(self, title: str) -> dict:
        """The settings of the tab `title` (a dict the tab reads and writes)."""
        tabs = self._section("tabs", dict)
        if not isinstance(tabs.get(title), dict):
            tabs[title] = {}
        return tabs[title]
