"""Start-up of the BUILT executable: launch → splash visible, launch → main window shown.

    pyinstaller --noconfirm build.spec
    xvfb-run -a python -m bench.executable_startup [--runs 5] [--executable dist/FintechMLWorkbench/FintechMLWorkbench]

Targets (issue 6): splash ≤ 0.5 s, main window ≤ 2.5 s (median of 5). The splash is the
first visible X window (found with xdotool, polled every 10 ms); the main window is timed by
the ready file the app writes when its window is mapped. Also prints the build's size.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.digits_bench import table

DEFAULT_EXECUTABLE = Path("dist") / "FintechMLWorkbench" / "FintechMLWorkbench"


def visible_window_exists() -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "."], capture_output=True, text=True, check=False
    )
    return bool(found.stdout.strip())


def one_launch(executable: Path) -> tuple[float | None, float]:
    with tempfile.TemporaryDirectory() as scratch:
        ready = Path(scratch) / "ready"
        started = time.time()
        process = subprocess.Popen(
            [str(executable), "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**__import__("os").environ, "FINTECH_USER_DIR": scratch},
        )
        splash = None
        try:
            while not ready.exists():
                if splash is None and visible_window_exists():
                    splash = time.time() - started
                if time.time() - started > 60:
                    raise TimeoutError("the main window did not appear within 60 s")
                time.sleep(0.01)
            window = float(ready.read_text()) - started
        finally:
            process.terminate()
            process.wait(timeout=30)
    return splash, window


def folder_megabytes(folder: Path) -> float:
    # Symbolic links (PyInstaller links some libraries) take no space: count each file once.
    files = [path for path in folder.rglob("*") if path.is_file() and not path.is_symlink()]
    return sum(path.stat().st_size for path in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executable", type=Path, default=DEFAULT_EXECUTABLE)
    arguments = parser.parse_args()
    launches = [one_launch(arguments.executable) for _ in range(arguments.runs)]
    splashes = [splash for splash, _window in launches if splash is not None]
    windows = [window for _splash, window in launches]
    table(
        f"Built executable: {arguments.executable} ({arguments.runs} launches)",
        ["measure", "median", "all runs", "target"],
        [
            [
                "launch → splash visible",
                f"{statistics.median(splashes):.2f} s" if splashes else "not seen",
                ", ".join(f"{value:.2f}" for value in splashes),
                "≤ 0.5 s",
            ],
            [
                "launch → main window shown",
                f"{statistics.median(windows):.2f} s",
                ", ".join(f"{value:.2f}" for value in windows),
                "≤ 2.5 s",
            ],
            [
                "onedir size",
                f"{folder_megabytes(arguments.executable.parent):,.0f} MB",
                "",
                "≤ 1.25 GB",
            ],
        ],
    )


if __name__ == "__main__":
    main()
