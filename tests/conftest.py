"""Shared fixtures. GUI tests use one Tk root for the whole session (as Porcupine does),
fail on any exception inside a Tk callback, and wait with `wait_until` instead of sleeping.
Any test fails when the app logs an error while it runs (a background job crashed), and the
`gui` and `data` markers are set here from the fixtures a test uses."""

from __future__ import annotations

import logging
import os
import tempfile

import pytest

from tests.helpers import REPO_ROOT

# Before anything reads them: tests never write to the real user directory, and find the
# data where CI and development machines keep it.
os.environ["FINTECH_USER_DIR"] = tempfile.mkdtemp(prefix="workbench-user-")
os.environ.setdefault("FINTECH_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data"))

GUI_FIXTURES = {"gui_root", "app", "gui"}
DATA_FIXTURES = {"mnist"}


def pytest_collection_modifyitems(items):
    """Marks what a test's fixtures tell: the Tk app, the datasets. Other tests that read the
    data (in a subprocess, through the app) carry `@pytest.mark.data` themselves."""
    for item in items:
        fixtures = set(item.fixturenames)
        if fixtures & GUI_FIXTURES:
            item.add_marker(pytest.mark.gui)
        if fixtures & DATA_FIXTURES:
            item.add_marker(pytest.mark.data)


class ErrorRecords(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_logged_errors(request):
    """A crashed job or Tk callback shows a message window and logs an error, and a test that
    does not look for the window would still pass: fail any test during which the app logged
    an error (a user's mistake is a warning and does not count). A test that provokes errors
    on purpose says so with `@pytest.mark.expected_job_errors`, and then fails without one."""
    app_logger = logging.getLogger("desktop_app")
    errors = ErrorRecords()
    app_logger.addHandler(errors)
    yield
    app_logger.removeHandler(errors)
    logged = [record.getMessage() for record in errors.records]
    if request.node.get_closest_marker("expected_job_errors"):
        assert logged, "marked expected_job_errors, but the app logged no error"
    else:
        assert not logged, "the app logged errors during the test:\n" + "\n".join(logged)


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
