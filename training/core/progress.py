"""How long-running engine work reports progress and learns that it should stop.

The engine knows nothing of Tk: the GUI passes a `report` callable that posts to its queue,
the CLI passes one that prints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from training.core.errors import TrainingCancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: `done` of `total` steps, with optional metrics and ETA."""

    stage: str
    done: int
    total: int
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A thread-safe flag that the GUI sets and long-running work checks."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise TrainingCancelled()


def ignore_progress(_progress: Progress) -> None:
    """The default `report`: work that nobody watches reports to nobody."""
