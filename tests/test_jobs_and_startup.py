"""The job runner's guarantees, and a start-up that never waits for TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from desktop_app import jobs
from desktop_app.automation import wait_until
from training.errors import TrainingCancelled
from training.progress import Progress

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_messages_arrive_on_the_tk_thread_a_bounded_number_per_tick(gui):
    delivered, threads = [], set()
    release = threading.Event()

    def chatty(job):
        for index in range(jobs.MESSAGES_PER_TICK * 4):
            job.report(Progress("counting", index, 200))
        release.wait(10)
        return "done"

    def on_progress(progress):
        delivered.append(progress.done)
        threads.add(threading.current_thread().name)

    job = gui.jobs.submit("chatty", chatty, on_progress=on_progress)
    wait_until(gui.root, lambda: delivered, 10, "the first messages")
    assert len(delivered) <= jobs.MESSAGES_PER_TICK
    wait_until(gui.root, lambda: len(delivered) == jobs.MESSAGES_PER_TICK * 4, 10, "all messages")
    assert delivered == sorted(delivered)
    assert threads == {threading.main_thread().name}
    release.set()
    wait_until(gui.root, lambda: job.finished, 10, "the job to finish")


def test_cancel_and_errors_reach_their_handlers(gui):
    outcomes = []

    def cancellable(job):
        while not job.cancelled:
            pass
        raise TrainingCancelled()

    job = gui.jobs.submit("cancellable", cancellable, on_cancelled=lambda: outcomes.append("cancelled"))
    job.cancel()
    gui.jobs.submit("broken", lambda _job: 1 / 0, on_error=lambda error, details: outcomes.append(details))
    wait_until(gui.root, lambda: len(outcomes) == 2, 10, "both outcomes")
    assert "cancelled" in outcomes
    assert any("ZeroDivisionError" in outcome for outcome in outcomes if outcome != "cancelled")
    assert not gui.jobs.busy


def test_window_is_built_without_importing_tensorflow():
    script = (
        "import sys; from desktop_app.app import WorkbenchApp, create_root; "
        "root = create_root(); app = WorkbenchApp(root); root.update(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
