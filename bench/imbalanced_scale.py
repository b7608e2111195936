"""The Imbalanced tool at the size of a bank's data: Bank Marketing grown with jittered copies to
41 k, 400 k and 4 M rows, each stage run in a fresh process for its time and peak memory:

    python -m bench.imbalanced_scale [--sizes 41188,400000,4000000] [--grid-up-to 41188]

Stages (seed 0, `duration` excluded, 20 % stratified test split, 3-fold CV, on at most
`CV_MAX_ROWS` training rows):
- read: `read_table` of the CSV (separator, types and dates sniffed);
- best: read, prepare, split, CV, fit, test (LightGBM, no resampling — the grid's best by
  test PR AUC on Bank Marketing, the configuration `--save` keeps) end to end; then, in the same process, its explanations (permutation
  importance on at most `PERMUTATION_MAX_ROWS` test rows, contributions) and the scoring of
  every row with `TabularPredictor.score`, without and with reasons;
- smote: the best configuration's model with SMOTE, which undersamples the majority first
  beyond `RESAMPLER_MAX_ROWS` training rows;
- grid: every model × method, only up to `--grid-up-to` rows.

Issue 19's targets: cost about linear in rows; 4 M rows, best configuration end to end ≤ 10 min
and ≤ 6 GB peak; a 1 GB CSV runs the best configuration on a 24 GB machine.
Jittered copies: numeric columns get noise of 1 % of their spread (integers stay integers),
categories and labels are kept, so every copy is a plausible customer, not a duplicate row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import resource
import tempfile
import time
from pathlib import Path

from bench.digits_bench import table


def grow(source: Path, rows: int, target: Path, seed: int = 0) -> None:
    """`source` grown (or cut) to `rows` rows of jittered copies, written like the original."""
    import numpy as np
    import pandas

    original = pandas.read_csv(source, sep=";")
    generator = np.random.default_rng(seed)
    chunks, written = [], 0
    while written < rows:
        copy = original.iloc[: rows - written].copy()
        if written:  # the first copy is the real data
            for name in copy.columns:
                if pandas.api.types.is_numeric_dtype(copy[name]):
                    noise = generator.normal(0, 0.01 * copy[name].std(), len(copy))
                    jittered = copy[name] + noise
                    integer = pandas.api.types.is_integer_dtype(copy[name])
                    copy[name] = jittered.round().astype(int) if integer else jittered.round(4)
        chunks.append(copy)
        written += len(copy)
    pandas.concat(chunks, ignore_index=True).to_csv(target, sep=";", index=False)


REASONS_SAMPLE = 50_000


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _stage(name: str, model: str, csv: str, answers) -> None:
    """One stage in this (fresh) process; answers [(step, seconds, peak GB so far, figures)]."""
    from training import imbalanced

    steps = []
    started = time.perf_counter()
    frame = imbalanced.read_table(csv)
    if name == "read":
        answers.put([("read", time.perf_counter() - started, _peak_gb(), {})])
        return
    problem = imbalanced.Problem("y", "yes", tuple(imbalanced.default_exclusions(frame)))
    data = imbalanced.prepare(frame, problem)
    settings = imbalanced.GridSettings()
    parts = imbalanced.split(data, settings)
    if name == "grid":
        results = imbalanced.evaluate_grid(
            data,
            parts,
            imbalanced.configurations([*imbalanced.MODELS, "dummy"], imbalanced.METHODS),
            settings,
        )
        answers.put([("grid", time.perf_counter() - started, _peak_gb(), {"configurations": len(results)})])
        return
    method = "smote" if name == "smote" else "none"
    result = imbalanced.evaluate_configuration(model, method, data, parts, settings)
    figures = {"roc_auc": result.ranking["roc_auc"], "pr_auc": result.ranking["pr_auc"]}
    steps.append((f"{name} end to end", time.perf_counter() - started, _peak_gb(), figures))
    if name == "best":
        started = time.perf_counter()
        explanation = imbalanced.explain(
            result.pipeline, parts.test_features, parts.test_labels, result.background
        )
        steps.append(
            (
                "explain",
                time.perf_counter() - started,
                _peak_gb(),
                {"top": explanation.importance[0]["feature"]},
            )
        )
        entry = type(
            "Entry",
            (),
            {"record": {"columns": imbalanced.saved_columns(data), "threshold": result.threshold}},
        )
        predictor = imbalanced.TabularPredictor(
            imbalanced.SavedPipeline(result.pipeline, None, result.background), entry
        )
        scored_frame = frame.drop(columns=["y"])
        started = time.perf_counter()
        predictor.score(scored_frame)
        plain = time.perf_counter() - started
        steps.append(("score", plain, _peak_gb(), {}))
        # Reasons cost the same per row at any size (TreeSHAP of each row): timed on the first
        # REASONS_SAMPLE rows, against scoring those rows alone.
        sample = scored_frame.head(REASONS_SAMPLE)
        started = time.perf_counter()
        predictor.score(sample)
        sample_plain = time.perf_counter() - started
        started = time.perf_counter()
        predictor.score(sample, imbalanced.REASON_COUNT)
        with_reasons = time.perf_counter() - started
        added = (with_reasons - sample_plain) / len(sample) * 1000
        steps.append(
            (
                f"score {len(sample):,} rows with reasons",
                with_reasons,
                _peak_gb(),
                {"ms_per_row_added": added},
            )
        )
    answers.put(steps)


def run_stage(name: str, model: str, csv: Path) -> list:
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=_stage, args=(name, model, str(csv), answers))
    process.start()
    while True:
        try:
            answer = answers.get(timeout=5)
            break
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"the {name} stage died (exit code {process.exitcode})") from None
    process.join()
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="41188,400000,4000000")
    parser.add_argument("--grid-up-to", type=int, default=41188)
    parser.add_argument("--stages", default="read,best,smote")
    parser.add_argument(
        "--model",
        default="lightgbm",
        help="the configuration's model (default: LightGBM, the grid's best by test PR AUC — what --save keeps)",
    )
    arguments = parser.parse_args()
    from training import imbalanced
    from training.core import paths

    source = paths.data_dir() / imbalanced.DEFAULT_CSV
    sizes = [int(size) for size in arguments.sizes.split(",")]
    stages = arguments.stages.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            csv = Path(scratch) / f"bank-{size}.csv"
            grow(source, size, csv)
            megabytes = csv.stat().st_size / 1024**2
            for stage in stages + (["grid"] if size <= arguments.grid_up_to else []):
                for step, seconds, peak, figures in run_stage(stage, arguments.model, csv):
                    note = ", ".join(
                        f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                        for key, value in figures.items()
                    )
                    rows.append(
                        [f"{size:,}", f"{megabytes:.0f}", step, f"{seconds:.1f}", f"{peak:.2f}", note]
                    )
                    print("  ".join(rows[-1]), flush=True)
            csv.unlink()
    table(
        "Imbalanced at scale (2 cores; each stage in a fresh process; peak = that process's maximum resident memory)",
        ["rows", "CSV MB", "stage", "seconds", "peak GB", "figures"],
        rows,
    )


if __name__ == "__main__":
    main()
