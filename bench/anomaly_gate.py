"""The all-digits anomaly model as a "not a digit" gate: how often non-digits are flagged
(target ≥ 95 %) and how often MNIST test digits are (target ≤ 5 %).

    python -m bench.anomaly_gate [--model anomaly-all-digits] [--per-kind 100]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.digits_bench import table
from bench.non_digits import generate_non_digits


def main() -> None:
    from training import anomaly, datasets, paths

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=anomaly.ALL_DIGITS_MODEL)
    parser.add_argument("--per-kind", type=int, default=100)
    arguments = parser.parse_args()
    predictor = anomaly.AnomalyPredictor.load(arguments.model)
    data = datasets.load_mnist()
    rows = []
    for rule, threshold in sorted(predictor.thresholds.items()):
        digits_flagged = (predictor.score_pixels(data.x_test).scores > threshold).mean()
        rows.append(
            [rule, f"{threshold:.3f}", "MNIST test digits (10,000)", f"{digits_flagged:.2%}", "≤ 5 %"]
        )
    photos = paths.data_dir() / "bsds500"
    with tempfile.TemporaryDirectory() as scratch:
        samples = generate_non_digits(Path(scratch), photos if photos.is_dir() else None, arguments.per_kind)
        by_kind: dict[str, list[float]] = {}
        for sample in samples:
            prediction = predictor.predict_file(sample.path)
            by_kind.setdefault(sample.kind, []).append(prediction.score)
    for rule, threshold in sorted(predictor.thresholds.items()):
        everything = [score for scores in by_kind.values() for score in scores]
        for kind, scores in [*sorted(by_kind.items()), ("all non-digits", everything)]:
            flagged = sum(score > threshold for score in scores) / len(scores)
            rows.append([rule, f"{threshold:.3f}", f"{kind} ({len(scores)})", f"{flagged:.2%}", "≥ 95 %"])
    table(
        f"Anomaly gate: {arguments.model}",
        ["threshold rule", "threshold", "images", "flagged", "target"],
        rows,
    )


if __name__ == "__main__":
    main()
