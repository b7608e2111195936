"""Errors the engine raises on purpose: each carries a message fit to show a user as is."""


class WorkbenchError(Exception):
    """Base class: `str(error)` is a complete sentence for the user."""


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
