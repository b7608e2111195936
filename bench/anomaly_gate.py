"""The all-digits anomaly model as a "not a digit" gate: how often non-digits are flagged
(target ≥ 95 %) and how often MNIST test digits are (target ≤ 5 %), plus how often digits
photographed as users bring them (bench/user_digits.py) are.

Files go through the tool's own path (`AnomalyPredictor.predict_file`): an image in which no
single digit-shaped mark can be isolated is an anomaly whatever its score.

    python -m bench.anomaly_gate [--model anomaly-all-digits] [--per-kind 100]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.digits_bench import table
from bench.non_digits import generate_non_digits
from bench.user_digits import generate_user_digits


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
        samples = generate_non_digits(
            Path(scratch) / "non-digits", photos if photos.is_dir() else None, arguments.per_kind
        )
        kinds = [sample.kind for sample in samples]
        samples += generate_user_digits(Path(scratch) / "user-digits", 5 * arguments.per_kind)
        kinds += ["user-photographed digits"] * (len(samples) - len(kinds))
        by_kind: dict[str, list] = {}
        for kind, sample in zip(kinds, samples, strict=True):
            by_kind.setdefault(kind, []).append(predictor.predict_file(sample.path))
    for rule, threshold in sorted(predictor.thresholds.items()):
        non_digits = [
            p for kind, found in by_kind.items() if kind != "user-photographed digits" for p in found
        ]
        for kind, predictions in [*sorted(by_kind.items()), ("all non-digits", non_digits)]:
            flagged = sum(p.status == "rejected" or p.score > threshold for p in predictions) / len(
                predictions
            )
            target = "≤ 5 %" if kind == "user-photographed digits" else "≥ 95 %"
            rows.append([rule, f"{threshold:.3f}", f"{kind} ({len(predictions)})", f"{flagged:.2%}", target])
    table(
        f"Anomaly gate: {arguments.model}",
        ["threshold rule", "threshold", "images", "flagged", "target"],
        rows,
    )


if __name__ == "__main__":
    main()
