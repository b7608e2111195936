"""Errors the engine raises on purpose: each carries a message fit to show a user as is."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: `str(error)` is a complete sentence for the user."""


class InvalidInputError(WorkbenchError, ValueError):
    """A value the user typed or chose (a setting, a name, a column, a file's content) that
    cannot be used. Also a `ValueError`, so argument checks read as the Python convention has
    them, but shown to the user as the plain sentence it is."""


class DatasetMissingError(WorkbenchError):
    pass


class DatasetInvalidError(WorkbenchError):
    pass


class ImageReadError(WorkbenchError):
    pass


class ModelIntegrityError(WorkbenchError):
    pass


class ModelNotFoundError(WorkbenchError):
    pass


class TrainingCancelled(WorkbenchError):
    def __init__(self, message: str = "Training was cancelled; the previous model stays in use."):
        super().__init__(message)
