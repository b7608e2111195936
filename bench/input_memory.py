"""Peak memory of reading big inputs: a 200 MB CSV in the Imbalanced tool's reader, and a
79-megapixel RGBA PNG in each image tool's `predict_file`, each case in a fresh process.

    python -m bench.input_memory [--cases csv,digits,anomaly,forgery] [--keep DIR]

Targets (reliability issue, item 10): the 79 MP RGBA PNG peaked at 3.5 GB in every tool;
Digits and Anomaly need no full-resolution float copy (they work on ≤ 1024 px), and
Forgery's full-resolution path must stay under 2.5 GB. The CSV has no target here: its row
shows the peak over the file's size.

Each case runs `python -m bench.input_memory --worker CASE FILE`: it imports what the case
needs and loads the model (baseline = the peak RSS so far), then reads or predicts once and
reports the peak RSS of the process (`ru_maxrss`). "increment" is the part the input itself
added. The inputs are generated with fixed seeds into a temporary folder (or `--keep DIR`,
where they are reused on the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.digits_bench import table

REPO_ROOT = Path(__file__).resolve().parent.parent
CSV_ROWS = 2_950_000
PNG_SIZE = (10240, 7715)  # 79.0 MP, just under images.MAX_IMAGE_PIXELS
GB = 1024**3
TARGETS = {"forgery": 2.5 * GB}  # peak RSS; the image cases without one are compared to it too
CASES = ("csv", "digits", "anomaly", "forgery")


# Inputs -----------------------------------------------------------------------------------------
def write_bank_csv(path: Path, rows: int = CSV_ROWS, seed: int = 0, chunk: int = 250_000) -> Path:
    """A Bank-Marketing-like table: numeric and text columns, a rare 'yes' target, ~200 MB."""
    import numpy as np
    import pandas

    generator = np.random.default_rng(seed)
    jobs = ["admin.", "blue-collar", "technician", "services", "management", "retired", "student"]
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    with path.open("w", newline="") as handle:
        for start in range(0, rows, chunk):
            count = min(chunk, rows - start)
            frame = pandas.DataFrame(
                {
                    "age": generator.integers(18, 95, count),
                    "job": generator.choice(jobs, count),
                    "marital": generator.choice(["married", "single", "divorced"], count),
                    "education": generator.choice(["primary", "secondary", "tertiary", "unknown"], count),
                    "default": generator.choice(["no", "yes"], count, p=[0.98, 0.02]),
                    "balance": generator.normal(1300, 3000, count).round().astype(int),
                    "housing": generator.choice(["no", "yes"], count),
                    "loan": generator.choice(["no", "yes"], count, p=[0.84, 0.16]),
                    "day": generator.integers(1, 32, count),
                    "month": generator.choice(months, count),
                    "duration": generator.exponential(260, count).round().astype(int),
                    "campaign": generator.integers(1, 10, count),
                    "pdays": np.where(generator.random(count) < 0.8, -1, generator.integers(1, 400, count)),
                    "poutcome": generator.choice(["unknown", "failure", "success", "other"], count),
                    "y": generator.choice(["no", "yes"], count, p=[0.88, 0.12]),
                }
            )
            frame.to_csv(handle, index=False, header=start == 0)
    return path


def write_big_png(path: Path, size: tuple[int, int] = PNG_SIZE, seed: int = 0) -> Path:
    """A 79 MP RGBA PNG with structure (gradients, shapes, a dark digit-like stroke, transparent
    and half-transparent regions): noise would take minutes to compress and tell nothing."""
    import numpy as np
    from PIL import Image, ImageDraw

    generator = np.random.default_rng(seed)
    width, height = size
    columns = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    channels = [
        Image.fromarray((0.6 * columns + 0.4 * rows).astype(np.uint8)),
        Image.fromarray((255 - 0.5 * columns - 0.3 * rows).astype(np.uint8)),
        Image.fromarray((0.5 * rows + 60 + 0 * columns).clip(0, 255).astype(np.uint8)),
        Image.new("L", size, 255),
    ]
    image = Image.merge("RGBA", channels)
    del channels
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = generator.integers(0, width - 1200), generator.integers(0, height - 1200)
        side = int(generator.integers(200, 1200))
        colour = tuple(int(value) for value in generator.integers(0, 256, 3)) + (
            int(generator.choice([0, 96, 255])),
        )
        (draw.ellipse if generator.random() < 0.5 else draw.rectangle)(
            (x, y, x + side, y + side), fill=colour
        )
    draw.line(
        [(width * 0.45, height * 0.2), (width * 0.55, height * 0.2), (width * 0.47, height * 0.8)],
        fill=(10, 10, 10, 255),
        width=180,
    )
    image.save(path, compress_level=1)
    return path


def inputs(folder: Path, cases: list[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    if "csv" in cases:
        made["csv"] = folder / "bank_marketing_big.csv"
        if not made["csv"].exists():
            started = time.perf_counter()
            write_bank_csv(made["csv"])
            print(f"wrote {made['csv']} in {time.perf_counter() - started:.0f} s", flush=True)
    if any(case != "csv" for case in cases):
        png = folder / "big_rgba.png"
        if not png.exists():
            started = time.perf_counter()
            write_big_png(png)
            print(f"wrote {png} in {time.perf_counter() - started:.0f} s", flush=True)
        made.update({case: png for case in cases if case != "csv"})
    return made


# One case, in its own process -------------------------------------------------------------------
def peak_rss() -> int:
    """The process's peak resident set size in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def worker(case: str, path: Path) -> dict:
    if case == "csv":
        import pandas  # noqa: F401 - imported before the baseline, as the app has it loaded

        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        from training.imbalanced import read_table

        def run():
            frame = read_table(path)
            return f"{len(frame):,} rows × {frame.shape[1]} columns"

    elif case == "digits":
        from training.digits import DigitsPredictor

        predictor = DigitsPredictor.load()

        def run():
            return predictor.predict_file(path).message

    elif case == "anomaly":
        from training.anomaly import AnomalyPredictor

        predictor = AnomalyPredictor.load()

        def run():
            return predictor.predict_file(path).message

    else:
        from training.forgery import ForgeryPredictor

        predictor = ForgeryPredictor.load()

        def run():
            return predictor.predict_file(path).message

    baseline = peak_rss()
    started = time.perf_counter()
    result = run()
    return {
        "case": case,
        "baseline": baseline,
        "peak": peak_rss(),
        "seconds": time.perf_counter() - started,
        "result": result,
    }


def run_case(case: str, path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.input_memory", "--worker", case, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{case} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")


def size_text(count: float) -> str:
    return f"{count / GB:.2f} GB" if count >= GB else f"{count / 1024**2:.0f} MB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the inputs in this folder")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "FILE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        print(json.dumps(worker(arguments.worker[0], Path(arguments.worker[1]))), flush=True)
        return 0
    cases = [case.strip() for case in arguments.cases.split(",") if case.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="input-memory-") as scratch:
        files = inputs(arguments.keep or Path(scratch), cases)
        rows = []
        for case in cases:
            measured = run_case(case, files[case])
            file_size = files[case].stat().st_size
            target = TARGETS.get(case, TARGETS["forgery"]) if case != "csv" else None
            ratio = measured["peak"] / target if target else measured["peak"] / file_size
            rows.append(
                [
                    case,
                    files[case].name,
                    size_text(file_size),
                    size_text(measured["baseline"]),
                    size_text(measured["peak"]),
                    size_text(measured["peak"] - measured["baseline"]),
                    f"{ratio:.2f}× {'file' if target is None else 'target'}",
                    "-" if target is None else f"< {size_text(target)}",
                    f"{measured['seconds']:.1f} s",
                    measured["result"][:60],
                ]
            )
            print(f"{case}: done", flush=True)
    table(
        "Peak RSS per input (each case in a fresh process; baseline = after imports and model load)",
        ["case", "file", "size", "baseline", "peak RSS", "increment", "ratio", "target", "time", "result"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
