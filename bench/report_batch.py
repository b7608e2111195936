"""Case report benchmark: a 50-photo Forgery batch report, as `python -m training report
forgery FOLDER -o report.html` makes it, timed in its steps.

    python -m bench.report_batch [--photos 50] [--views all flagged none]

Target (issue): ≤ 30 s for 50 photos on 2 cores. The photos are the first authentic and
tampered CASIA v1 photos of the data directory, half each (the bundled samples, repeated, when
it has none). The model is loaded once before the clock starts (the command line loads it
once too, ~3 s). Each `--views` choice is timed: the forensic views of a photo take longer
than the rest of its analysis, so a batch report computes them for the photos not judged
authentic by default.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from pathlib import Path

from bench.digits_bench import table
from training import forgery, report
from training.core import paths

TARGET_SECONDS = 30.0


def batch_photos(count: int) -> list[Path]:
    casia = paths.data_dir() / "casia1"
    if (casia / "Au").is_dir() and (casia / "Sp").is_dir():
        authentic = sorted((casia / "Au").glob("*.jpg"))[: count // 2]
        tampered = sorted((casia / "Sp").glob("*.jpg"))[: count - len(authentic)]
        return authentic + tampered
    samples = sorted((paths.assets_dir() / "samples" / "photos").iterdir())
    return list(itertools.islice(itertools.cycle(samples), count))


def timed_report(photos: list[Path], predictor, views: str, output: Path) -> list:
    with_views, note = report.views_choice(views)
    started = time.perf_counter()
    made = report.forgery_report(
        report.analyse_for_report(photos, predictor, with_views),
        predictor.entry,
        predictor.threshold,
        note,
        count=len(photos),
    )
    rendered = time.perf_counter()
    made.write(output)
    written = time.perf_counter()
    total = written - started
    with_views_count = made.html.count("<h3>Forensic views</h3>")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        views,
        len(photos),
        with_views_count,
        f"{rendered - started:.1f}",
        f"{written - rendered:.2f}",
        f"{total:.1f}",
        f"{output.stat().st_size / 1e6:.1f} MB",
        f"{peak:,.0f} MB",
        "yes" if total <= TARGET_SECONDS else "NO",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--views", nargs="+", default=["flagged", "none", "all"])
    arguments = parser.parse_args()
    photos = batch_photos(arguments.photos)
    predictor = forgery.ForgeryPredictor.load()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for views in arguments.views:
            rows.append(timed_report(photos, predictor, views, Path(folder) / f"report-{views}.html"))
    table(
        f"Forgery batch report of {len(photos)} photos (target ≤ {TARGET_SECONDS:.0f} s)",
        [
            "views",
            "photos",
            "with views",
            "analyse+draw s",
            "write s",
            "total s",
            "file",
            "peak RSS",
            "≤ target",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
