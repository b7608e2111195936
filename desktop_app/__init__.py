"""The Fintech ML Workbench desktop application: a thin Tk view over the `training` engine."""

__version__ = "0.1.0"  # pyproject.toml's version (tests/test_gui_app.py keeps them equal)
