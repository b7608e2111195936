"""Background jobs: worker threads post to a queue that the Tk thread drains with after().

Worker threads never touch widgets. Each message is delivered on the Tk thread, a bounded
number per tick so a chatty job cannot freeze the window. A job's failure always reaches
its `on_error` (by default the app's error display) and the log; it is never lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.core.errors import TrainingCancelled, WorkbenchError
from training.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

POLL_INTERVAL_MS = 15
MESSAGES_PER_TICK = 50


@dataclass
class Job:
    """Handed to the work function: report progress, check for cancellation."""

    name: str
    cancel_token: CancelToken = field(default_factory=CancelToken)
    _runner: JobRunner | None = None
    finished: bool = False

    def report(self, progress: Progress) -> None:
        self._runner._post(self, "progress", progress)

    def post(self, payload: Any) -> None:
        """A partial result (e.g. one scored file of a batch), delivered to `on_partial`."""
        self._runner._post(self, "partial", payload)

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled


@dataclass
class _Handlers:
    on_success: Callable[[Any], None] | None
    on_error: Callable[[BaseException, str], None] | None
    on_progress: Callable[[Progress], None] | None
    on_partial: Callable[[Any], None] | None
    on_cancelled: Callable[[], None] | None
    on_finally: Callable[[], None] | None


class JobRunner:
    def __init__(self, widget, default_error_handler: Callable[[BaseException, str], None]):
        self._widget = widget
        self._queue: queue.Queue = queue.Queue()
        self._handlers: dict[int, _Handlers] = {}
        self._default_error_handler = default_error_handler
        self._active: set[int] = set()
        self._poll_id = widget.after(POLL_INTERVAL_MS, self._drain)

    @property
    def busy(self) -> bool:
        return bool(self._active)

    def submit(
        self,
        name: str,
        work: Callable[[Job], Any],
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_finally: Callable[[], None] | None = None,
    ) -> Job:
        job = Job(name, _runner=self)
        self._handlers[id(job)] = _Handlers(
            on_success, on_error, on_progress, on_partial, on_cancelled, on_finally
        )
        self._active.add(id(job))
        threading.Thread(target=self._run, args=(job, work), name=f"job:{name}", daemon=True).start()
        return job

    def _post(self, job: Job, kind: str, payload: Any) -> None:
        self._queue.put((job, kind, payload))

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        try:
            result = work(job)
        except TrainingCancelled:
            self._post(job, "cancelled", None)
        except WorkbenchError as error:
            log.warning("job %s failed: %s", job.name, error)
            self._post(job, "error", (error, ""))
        except BaseException as error:  # noqa: BLE001 - every failure must reach the user
            details = traceback.format_exc()
            log.error("job %s crashed:\n%s", job.name, details)
            self._post(job, "error", (error, details))
        else:
            self._post(job, "cancelled" if job.cancelled else "success", result)

    def _drain(self) -> None:
        try:
            for _ in range(MESSAGES_PER_TICK):
                try:
                    job, kind, payload = self._queue.get_nowait()
                except queue.Empty:
                    break
                self._deliver(job, kind, payload)
        finally:
            self._poll_id = self._widget.after(POLL_INTERVAL_MS, self._drain)

    def _deliver(self, job: Job, kind: str, payload: Any) -> None:
        handlers = self._handlers.get(id(job))
        if handlers is None:
            return
        try:
            if kind == "progress":
                if handlers.on_progress:
                    handlers.on_progress(payload)
            elif kind == "partial":
                if handlers.on_partial:
                    handlers.on_partial(payload)
            elif kind == "success":
                if handlers.on_success:
                    handlers.on_success(payload)
            elif kind == "cancelled":
                if handlers.on_cancelled:
                    handlers.on_cancelled()
            elif kind == "error":
                error, details = payload
                (handlers.on_error or self._default_error_handler)(error, details)
        finally:
            if kind in ("success", "cancelled", "error"):
                job.finished = True
                self._active.discard(id(job))
                del self._handlers[id(job)]
                if handlers.on_finally:
                    handlers.on_finally()

    def close(self) -> None:
        self._widget.after_cancel(self._poll_id)


_NOTHING = object()


class LatestOnly:
    """Work for the newest request only, e.g. a live preview that follows a slider: one job
    runs at a time; requests made meanwhile replace each other, and when the job ends the
    newest of them starts. The result of a job that a newer request overtook is dropped, so
    the display never steps back to an older state.

    `submit(name, work, **handlers)` starts a job (a JobRunner's or a tab's `submit`);
    `work(request, job)` runs on the worker thread, `on_result(result)` on the Tk thread.
    """

    def __init__(
        self,
        submit: Callable[..., Job],
        name: str,
        work: Callable[[Any, Job], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException, str], None] | None = None,
    ):
        self._submit = submit
        self.name = name
        self._work = work
        self._on_result = on_result
        self._on_error = on_error
        self._pending: Any = _NOTHING
        self.job: Job | None = None
        self.started = 0  # jobs run, and requests or results dropped as overtaken (for tests)
        self.dropped = 0

    @property
    def busy(self) -> bool:
        return self.job is not None or self._pending is not _NOTHING

    def request(self, value: Any) -> None:
        if self.job is not None:
            if self._pending is not _NOTHING:
                self.dropped += 1
            self._pending = value
            return
        self._start(value)

    def _start(self, value: Any) -> None:
        self.started += 1
        self.job = self._submit(
            self.name,
            lambda job: self._work(value, job),
            on_success=self._succeeded,
            on_error=self._failed if self._on_error is not None else None,  # None: the app shows it
            on_finally=self._next,
        )

    def _succeeded(self, result: Any) -> None:
        if self._pending is _NOTHING:
            self._on_result(result)
        else:
            self.dropped += 1

    def _failed(self, error: BaseException, details: str) -> None:
        if self._pending is _NOTHING:
            self._on_error(error, details)

    def _next(self) -> None:
        self.job = None
        if self._pending is not _NOTHING:
            value, self._pending = self._pending, _NOTHING
            self._start(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressClock:
    """Elapsed time and the time left of a running job, shown through `show(text)` every second
    on the Tk thread, reports or not: a step that takes minutes still shows signs of life (its
    own running time). The time left is the job's own estimate when it gives one, else the
    mean time of the steps done so far times the steps left."""

    def __init__(self, widget, show: Callable[[str], None]):
        self._widget = widget
        self._show = show
        self._after_id = None
        self.report: Progress | None = None
        self.started = self.step_started = time.monotonic()

    def start(self) -> None:
        self.stop()
        self.report = None
        self.started = self.step_started = time.monotonic()
        self._tick()

    def update(self, report: Progress) -> None:
        """A new report; ignored once stopped (a cancelled job's last reports must not
        overwrite "cancelling…")."""
        if self._after_id is None:
            return
        if self.report is None or report.done != self.report.done:
            self.step_started = time.monotonic()
        self.report = report
        self._show(self.text())

    def stop(self) -> None:
        if self._after_id is not None:
            self._widget.after_cancel(self._after_id)
            self._after_id = None

    def elapsed(self) -> float:
        """Seconds since `start`."""
        return time.monotonic() - self.started

    def _tick(self) -> None:
        self._show(self.text())
        self._after_id = self._widget.after(1000, self._tick)

    def text(self) -> str:
        now = time.monotonic()
        report = self.report
        parts = []
        if report is not None:
            parts.append(f"{report.done}/{report.total}" + (f" · {report.message}" if report.message else ""))
        parts.append(f"elapsed {format_duration(self.elapsed())}")
        if report is not None and report.done < report.total:
            parts.append(f"this step {format_duration(now - self.step_started)}")
            left = self.seconds_left(now)
            parts.append(
                f"about {format_duration(left)} left" if left is not None else "time left: estimating…"
            )
        return " · ".join(parts)

    def seconds_left(self, now: float) -> float | None:
        report = self.report
        if report is None:
            return None
        if report.eta_seconds is not None:
            return max(0.0, report.eta_seconds - (now - self.step_started))
        if report.done == 0:
            return None
        mean_step = (self.step_started - self.started) / report.done
        return max(0.0, mean_step * (report.total - report.done) - (now - self.step_started))
