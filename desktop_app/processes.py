"""Running a job's heavy numeric work in a child process.

Threads keep the window responsive only while the worker releases the GIL. Resampling and
model fitting in scikit-learn / imbalanced-learn hold it for 100–500 ms at a time, which
freezes the window (bench/imbalanced_grid.py). Such work runs in a spawned process instead;
a job's worker thread relays the child's messages, so handlers see an ordinary job.
No Tk here: the child imports this module.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import traceback

from training.core.errors import TrainingCancelled, WorkbenchError

POLL_SECONDS = 0.1


class ChildTraceback(Exception):
    """The child's own traceback, chained as the cause of the error it raised (as
    `concurrent.futures` does), so that the details the user sees and the log name where in
    the child it happened, not only where the parent re-raised it."""

    def __str__(self) -> str:
        return self.args[0]


class ProcessChannel:
    """What the child's target gets: `post` partial results, `report` progress, `cancelled`."""

    def __init__(self, messages, stop, parent_id: int):
        self._messages = messages
        self._stop = stop
        self._parent_id = parent_id

    @property
    def cancelled(self) -> bool:
        # A child whose app was killed stops too, at its next check.
        return self._stop.is_set() or os.getppid() != self._parent_id

    def post(self, payload) -> None:
        self._messages.put(("partial", payload))

    def report(self, progress) -> None:
        self._messages.put(("progress", progress))


def _child_main(target, arguments, messages, stop, parent_id) -> None:
    channel = ProcessChannel(messages, stop, parent_id)
    try:
        messages.put(("done", target(*arguments, channel)))
    except TrainingCancelled:
        messages.put(("cancelled", None))
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        details = traceback.format_exc()
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an unpicklable exception travels as text
            error = RuntimeError(f"{type(error).__name__}: {error}")
        messages.put(("error", (error, details)))


def run_in_process(job, target, *arguments):
    """Call `target(*arguments, channel)` in a spawned process and return its result; its
    posts and reports reach `job`; cancelling `job` asks the child to stop."""
    # "spawn", not "fork": the parent has Tk and possibly TensorFlow threads.
    context = multiprocessing.get_context("spawn")
    messages, stop = context.Queue(), context.Event()
    # Not a daemon: scikit-learn's parallel loops (n_jobs) refuse to run in daemon processes.
    process = context.Process(target=_child_main, args=(target, arguments, messages, stop, os.getpid()))
    process.start()
    try:
        while True:
            if job.cancelled:
                stop.set()
            try:
                kind, payload = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not process.is_alive():
                    raise WorkbenchError(
                        f"The worker process ended unexpectedly (exit code {process.exitcode})."
                    ) from None
                continue
            if kind == "partial":
                job.post(payload)
            elif kind == "progress":
                job.report(payload)
            elif kind == "done":
                return payload
            elif kind == "cancelled":
                raise TrainingCancelled()
            else:
                error, details = payload
                raise error from ChildTraceback(details)
    finally:
        stop.set()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
