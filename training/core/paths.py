"""Where things live: bundled resources, the data directory, the user's writable directory.

Bundled resources (models/, assets/) are read-only and sit next to the code, or inside the
PyInstaller bundle when frozen. Everything the app writes (retrained models, settings,
logs) goes to the user data directory, never to the install directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "FintechMLWorkbench"


DATA_DIR_ENVIRONMENT_VARIABLE = "FINTECH_DATA_DIR"


USER_DIR_ENVIRONMENT_VARIABLE = "FINTECH_USER_DIR"


def resource_root() -> Path:
    """The folder holding the read-only `models/` and `assets/` (the bundle when frozen)."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]  # training/core/paths.py → the repository


def bundled_models_dir() -> Path:
    return resource_root() / "models"


def assets_dir() -> Path:
    return resource_root() / "assets"


def user_dir() -> Path:
    """The writable per-user directory (overridable so tests never touch the real one)."""
    override = os.environ.get(USER_DIR_ENVIRONMENT_VARIABLE)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def settings_file() -> Path:
    """The GUI's settings (JSON): in the platform's config folder, or in the overriding user
    directory, so that tests never touch the real one."""
    override = os.environ.get(USER_DIR_ENVIRONMENT_VARIABLE)
    folder = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return folder / "settings.json"


def user_models_dir() -> Path:
    return user_dir() / "models"


def development_data_dir() -> Path:
    """`../shared/data` beside the repository: the data of development machines and CI."""
    return resource_root().parent / "shared" / "data"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory: flag, then environment, then ../shared/data, then user dir."""
    if explicit:
        return Path(explicit).expanduser()
    from_environment = os.environ.get(DATA_DIR_ENVIRONMENT_VARIABLE)
    if from_environment:
        return Path(from_environment).expanduser()
    development = development_data_dir()
    if development.is_dir():
        return development
    return user_dir() / "data"
