"""Shared fixtures. GUI tests use one Tk root for the whole session (as Porcupine does),
fail on any exception inside a Tk callback, and wait with `wait_until` instead of sleeping."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything reads them: tests never write to the real user directory, and find the
# data where CI and development machines keep it.
os.environ["FINTECH_USER_DIR"] = tempfile.mkdtemp(prefix="workbench-user-")
REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("FINTECH_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST. Missing data fails the run loudly: it is never skipped."""
    from training.core.datasets import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def registry():
    from training.core.registry import ModelRegistry

    return ModelRegistry()


@pytest.fixture(scope="session")
def cnn_predictor(registry):
    from training.digits import DigitsPredictor

    return DigitsPredictor.load("digits-cnn", registry)


@pytest.fixture(scope="session")
def gui_root():
    if not os.environ.get("DISPLAY"):
        pytest.fail("No display: GUI tests need Xvfb (apt-get install -y xvfb; pytest-xvfb starts it).")
    from desktop_app.app import create_root

    root = create_root()
    yield root
    root.destroy()


@pytest.fixture(scope="session")
def app(gui_root):
    from desktop_app.app import WorkbenchApp

    workbench = WorkbenchApp(gui_root)
    workbench.callback_errors = []
    original = workbench.report_callback_exception

    def record(exception_type, value, trace):
        workbench.callback_errors.append(value)
        original(exception_type, value, trace)

    gui_root.report_callback_exception = record
    gui_root.update()
    return workbench


@pytest.fixture
def gui(app):
    """The app, checked after each test for exceptions raised in Tk callbacks."""
    app.callback_errors.clear()
    yield app
    errors = list(app.callback_errors)
    for window in app.messages:
        if window.winfo_exists():
            window.destroy()
    app.messages.clear()
    assert not errors, f"exceptions in Tk callbacks: {errors!r}"
