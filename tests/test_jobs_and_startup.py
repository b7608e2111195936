"""The job runner's guarantees, and a start-up that never waits for TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from desktop_app import jobs
from desktop_app.automation import wait_until
from tests.helpers import REPO_ROOT, modules_imported_by
from training.core.errors import TrainingCancelled
from training.core.progress import Progress


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


@pytest.mark.expected_job_errors
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
    code = "from desktop_app.app import WorkbenchApp, create_root\nroot = create_root(); WorkbenchApp(root); root.update()"
    assert modules_imported_by(code, ("tensorflow", "keras", "matplotlib")) == []


def run_self_test(environment: dict, root: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "--self-test"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )


@pytest.mark.slow
@pytest.mark.data
def test_self_test_checks_every_tool_and_the_window(tmp_path):
    import os

    completed = run_self_test({**os.environ, "FINTECH_USER_DIR": str(tmp_path)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("PASS")] == [
        "models",
        "digits",
        "anomaly",
        "imbalanced",
        "forgery",
        "report",
        "window",
    ]
    assert "wrote anomaly-digits-7-" in completed.stdout and lines[-1] == "self-test passed"
    assert not any(tmp_path.iterdir()), "the self-test must not touch the user's folder"


@pytest.mark.slow
def test_self_test_fails_loudly_on_a_damaged_install(tmp_path):
    """A copy of the install with one model file changed: exit status 1 and a FAIL line."""
    import os
    import shutil

    install = tmp_path / "install"
    shutil.copytree(REPO_ROOT / "models", install / "models")
    shutil.copytree(REPO_ROOT / "assets", install / "assets")
    shutil.copytree(REPO_ROOT / "training", install / "training")
    shutil.copytree(REPO_ROOT / "desktop_app", install / "desktop_app")
    with open(install / "models" / "digits-mlp.keras", "ab") as model_file:
        model_file.write(b"tampered")
    environment = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    completed = run_self_test({**environment, "FINTECH_USER_DIR": str(tmp_path / "user")}, install)
    assert completed.returncode == 1
    assert "FAIL models" in completed.stdout and "digits-mlp.keras" in completed.stdout
    assert "SKIP window" in completed.stdout and "self-test FAILED" in completed.stdout


def test_latest_only_runs_the_newest_request_and_drops_the_overtaken(gui):
    """A slider dragged while a preview computes: requests in between are never computed, and a
    result that a newer request overtook is never shown."""
    release = threading.Event()
    computed, shown = [], []

    def work(request, _job):
        computed.append(request)
        if request == 0:
            release.wait(10)
        return request * 10

    latest = jobs.LatestOnly(gui.jobs.submit, "preview", work, shown.append)
    for request in range(5):
        latest.request(request)
    assert latest.busy
    release.set()
    wait_until(gui.root, lambda: not latest.busy, 10, "the newest request")
    assert computed == [0, 4] and shown == [40]
    assert latest.started == 2 and latest.dropped == 4  # 3 requests skipped, 1 result dropped


def test_a_photo_sized_array_freed_by_a_worker_stays_for_the_next_step():
    """With the app's allocator settings a 40 MB array that a worker thread frees stays in the
    process's heap, ready for the next step; with glibc's defaults it is mapped on its own and
    handed back to the system on free (to be paged in, zeroed, again next time)."""
    script = (
        "import ctypes, sys, threading, numpy\n"
        "from training.core.allocator import reuse_freed_memory\n"
        "applied = reuse_freed_memory() if sys.argv[1] == 'app' else False\n"
        "class MallocInfo(ctypes.Structure):\n"
        "    _fields_ = [(name, ctypes.c_size_t) for name in ('arena', 'ordblks', 'smblks', 'hblks',"
        " 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "mallinfo2 = ctypes.CDLL('libc.so.6').mallinfo2\n"
        "mallinfo2.restype = MallocInfo\n"
        "def step(): numpy.ones(10_000_000, numpy.float32).sum()\n"
        "worker = threading.Thread(target=step); worker.start(); worker.join()\n"
        "print(applied, mallinfo2().fordblks // 2**20)\n"
    )

    def free_megabytes_kept(setting: str) -> tuple[str, int]:
        completed = subprocess.run(
            [sys.executable, "-c", script, setting], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
        applied, megabytes = completed.stdout.split()
        return applied, int(megabytes)

    applied, kept_by_the_app = free_megabytes_kept("app")
    _, kept_by_default = free_megabytes_kept("default")
    assert applied == "True"  # Linux with glibc, as on CI
    assert kept_by_the_app >= 35  # of 38 MiB
    assert kept_by_default < 5


def test_the_progress_clock_shows_signs_of_life_and_the_time_left(gui, monkeypatch):
    """A configuration that runs for minutes still shows its running time every second; the
    time left is the mean step times the steps left, less what the running step has taken."""
    now = [1000.0]
    monkeypatch.setattr(jobs, "time", SimpleNamespace(monotonic=lambda: now[0]))
    shown = []
    clock = jobs.ProgressClock(gui.root, shown.append)
    clock.start()
    assert shown[-1] == "elapsed 0:00"
    now[0] += 60
    clock.update(Progress("grid", 1, 4, "Logistic Regression + SMOTE"))
    now[0] += 60
    clock.update(Progress("grid", 2, 4, "Random Forest + SMOTE"))
    now[0] += 30
    assert clock.text() == ("2/4 · Random Forest + SMOTE · elapsed 2:30 · this step 0:30 · about 1:30 left")
    now[0] += 14 * 60  # a step far longer than the others: it still ticks, and says so
    wait_until(gui.root, lambda: "this step 14:30" in shown[-1], 5, "a tick")
    assert "about 0:00 left" in shown[-1]
    clock.stop()
    ticks = len(shown)
    waited = threading.Event()
    gui.root.after(1500, waited.set)
    wait_until(gui.root, waited.is_set, 5, "1.5 s")
    clock.update(Progress("grid", 3, 4, "a report that arrives after the cancel"))
    assert len(shown) == ticks, "a stopped clock says nothing more"


def test_the_clock_uses_the_work_s_own_estimate_when_it_gives_one(gui, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(jobs, "time", SimpleNamespace(monotonic=lambda: now[0]))
    clock = jobs.ProgressClock(gui.root, lambda _text: None)
    clock.start()
    clock.update(Progress("epoch", 0, 3, "epoch 1", eta_seconds=125.0))
    now[0] += 5
    assert clock.text().endswith("about 2:00 left")
    assert jobs.format_duration(3725) == "1:02:05" and jobs.format_duration(None) == "–"
    clock.stop()
