"""Digits tool benchmark: start-up, latency, memory and accuracy, printed as tables.

    xvfb-run -a python -m bench.digits_bench [--runs 5] [--user-digits 500]

Targets (issue 2): window visible ≤ 1.5 s after launch; drop → prediction shown ≤ 50 ms
with the model warm; MNIST test ≥ 99.5 % (CNN) / ≥ 98.0 % (MLP); rotated ±90° ≥ 98.0 %
(CNN); generated user digits ≥ 95 % with "unsure" counted as wrong.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def window_visible_seconds(runs: int) -> list[float]:
    """Launch `python -m desktop_app` and time until it reports its window shown."""
    timings = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            ready = Path(scratch) / "ready"
            environment = {**os.environ, "FINTECH_USER_DIR": scratch}
            started = time.time()
            process = subprocess.Popen(
                [sys.executable, "-m", "desktop_app", "--ready-file", str(ready)],
                cwd=REPO_ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                deadline = time.time() + 60
                while not (ready.exists() and ready.read_text().strip()):
                    if time.time() > deadline or process.poll() is not None:
                        raise RuntimeError("the app did not show its window")
                    time.sleep(0.005)
                timings.append(float(ready.read_text()) - started)
            finally:
                process.terminate()
                process.wait(timeout=30)
    return timings


def gui_latency(samples: list[Path], repetitions: int) -> dict:
    """In one process: start the app, load the CNN, then time drops until the answer shows."""
    from desktop_app.app import WorkbenchApp, create_root
    from desktop_app.automation import simulate_drop, wait_until

    started = time.perf_counter()
    root = create_root()
    app = WorkbenchApp(root)
    tab = app.tab("Digits")
    tab.start_loading()
    wait_until(root, lambda: "digits-cnn" in tab.predictors, 120, "the CNN to load")
    load_with_import = time.perf_counter() - started
    latencies = []
    for repetition in range(repetitions):
        tab.clear()
        sample = samples[repetition % len(samples)]
        dropped = time.perf_counter()
        simulate_drop(tab.drop_zone.area, [sample])
        wait_until(root, lambda: tab.answer_text.get() != "–", 10, "the answer")
        root.update_idletasks()
        latencies.append(time.perf_counter() - dropped)
    root.destroy()
    return {"latencies": latencies, "start_and_load": load_with_import}


MODEL_LOAD_SCRIPT = """
import json, time
started = time.perf_counter()
from training.core.keras_io import import_keras
import_keras()
timings = {"import TensorFlow + Keras (cold process)": time.perf_counter() - started}
from training.digits import DigitsPredictor
for name in ("digits-cnn", "digits-mlp"):
    started = time.perf_counter()
    DigitsPredictor.load(name)
    timings["load + sha256 check + warm-up " + name] = time.perf_counter() - started
print(json.dumps(timings))
"""


def model_load_seconds() -> dict[str, float]:
    """Measured in a fresh process, so TensorFlow's import is not already paid for."""
    import json

    completed = subprocess.run(
        [sys.executable, "-c", MODEL_LOAD_SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def accuracy_rows(user_digit_count: int) -> tuple[list[list], dict]:
    from bench.user_digits import accuracy_by_style, generate_user_digits
    from training import digits
    from training.core import datasets

    data = datasets.load_mnist()
    rows, by_style = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        generated = generate_user_digits(Path(scratch), count=user_digit_count)
        for name in ("digits-cnn", "digits-mlp"):
            predictor = digits.DigitsPredictor.load(name)
            evaluation = digits.evaluate(predictor.model, data)
            results = []
            for digit in generated:
                prediction = predictor.predict_file(digit.path)
                results.append((digit, prediction.label, prediction.status))
            user_accuracy = sum(s == "ok" and p == d.label for d, p, s in results) / len(results)
            unsure = sum(s == "unsure" for _, _, s in results)
            rows.append(
                [
                    name,
                    f"{evaluation.plain['accuracy']:.2%}",
                    f"{evaluation.rotated['accuracy']:.2%}",
                    f"{user_accuracy:.2%}",
                    unsure,
                ]
            )
            by_style[name] = accuracy_by_style(results)
    return rows, by_style


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--user-digits", type=int, default=500)
    arguments = parser.parse_args()
    from training.core import paths

    samples = sorted((paths.assets_dir() / "samples" / "digits").glob("digit_*.png"))

    visible = window_visible_seconds(arguments.runs)
    table(
        "Start-up (python -m desktop_app, until the window is shown)",
        ["runs", "median s", "min s", "max s", "target"],
        [
            [
                len(visible),
                f"{statistics.median(visible):.3f}",
                f"{min(visible):.3f}",
                f"{max(visible):.3f}",
                "≤ 1.5",
            ]
        ],
    )

    os.environ.setdefault("FINTECH_USER_DIR", tempfile.mkdtemp())
    latency = gui_latency(samples, arguments.repetitions)
    gui_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    milliseconds = [value * 1000 for value in latency["latencies"]]
    table(
        "Drop → prediction shown, model warm (real widgets, simulated tkdnd drop)",
        ["drops", "median ms", "p90 ms", "max ms", "target"],
        [
            [
                len(milliseconds),
                f"{statistics.median(milliseconds):.1f}",
                f"{sorted(milliseconds)[int(0.9 * len(milliseconds)) - 1]:.1f}",
                f"{max(milliseconds):.1f}",
                "≤ 50",
            ]
        ],
    )

    loads = model_load_seconds()
    loads["app start + TensorFlow + CNN ready (in process)"] = latency["start_and_load"]
    table("Model loading", ["step", "seconds"], [[step, f"{value:.3f}"] for step, value in loads.items()])

    rows, by_style = accuracy_rows(arguments.user_digits)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table(
        "Peak memory (resident set)",
        ["process", "MB"],
        [
            ["app with the CNN loaded, after the drops above", f"{gui_peak:.0f}"],
            ["same process after evaluating both models on 2 × 10,000 images", f"{peak:.0f}"],
        ],
    )
    table(
        f"Accuracy (computed now; user digits: {arguments.user_digits} generated, 'unsure' = wrong)",
        ["model", "MNIST test", "rotated ±90°", "user digits", "unsure"],
        rows,
    )
    styles = sorted(next(iter(by_style.values())))
    table(
        "User digits by style",
        ["style", *by_style],
        [[style, *(f"{by_style[name][style]:.0%}" for name in by_style)] for style in styles],
    )


if __name__ == "__main__":
    main()
