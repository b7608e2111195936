"""The all-digits anomaly model asked "is this a digit?" for anything a user drops, through
the tool's own path (`AnomalyPredictor.predict_file`, what `predict anomaly` and the tab use).

Rows, at the model's own threshold:
- every kind × style of bench/non_digits.py: share flagged (target ≥ 95 %) and the AUROC of
  the score against the 10,000 MNIST test digits;
- MNIST test digits (scored as the arrays they are, as a dropped MNIST-format PNG is) and
  digits photographed as users bring them (bench/user_digits.py): share flagged (≤ 5 %);
- the Digits tool with its "not a digit" gate: typeset letters still answered as a digit
  with confidence (≤ 5 %), user digits turned into "not a digit" (≤ 3 %).

    python -m bench.anomaly_gate [--model anomaly-all-digits] [--per-kind 100]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.digits_bench import table
from bench.non_digits import KINDS, STYLES, generate_non_digits
from bench.user_digits import generate_user_digits


def main() -> None:
    from sklearn.metrics import roc_auc_score

    from training import anomaly, digits
    from training.core import datasets, paths

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=anomaly.ALL_DIGITS_MODEL)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--user-digits", type=int, default=500)
    arguments = parser.parse_args()
    predictor = anomaly.AnomalyPredictor.load(arguments.model)
    reader = digits.DigitsPredictor.load()
    data = datasets.load_mnist()
    digit_scores = predictor.score_pixels(data.x_test).scores
    photos = paths.data_dir() / "bsds500"
    rows = [
        [
            "MNIST test digits (10,000)",
            f"{(digit_scores > predictor.threshold).mean():.2%}",
            "",
            "≤ 5 % flagged",
        ]
    ]
    with tempfile.TemporaryDirectory() as scratch:
        samples = generate_non_digits(
            Path(scratch) / "non-digits", photos if photos.is_dir() else None, arguments.per_kind
        )
        user_digits = generate_user_digits(Path(scratch) / "user-digits", arguments.user_digits)
        answers = {sample.path: predictor.predict_file(sample.path) for sample in samples}
        user_answers = [predictor.predict_file(digit.path) for digit in user_digits]
        letters = [sample.path for sample in samples if sample.kind == "letter"]
        letters_read = [reader.predict_file(path, gate=predictor) for path in letters]
        user_read = [reader.predict_file(digit.path, gate=predictor) for digit in user_digits]
    all_flagged = []
    for kind in KINDS:
        for style in STYLES:
            found = [answers[s.path] for s in samples if s.kind == kind and s.style == style]
            if not found:
                continue
            flagged = [bool(answer.anomaly) for answer in found]
            all_flagged += flagged
            scores = np.array([answer.score for answer in found])
            truth = np.r_[np.zeros(len(digit_scores)), np.ones(len(scores))]
            auroc = roc_auc_score(truth, np.r_[digit_scores, scores])
            rows.append(
                [
                    f"{kind}, {style} style ({len(found)})",
                    f"{np.mean(flagged):.1%}",
                    f"{auroc:.4f}",
                    "≥ 95 % flagged",
                ]
            )
    rows.append(["all non-digits", f"{np.mean(all_flagged):.1%}", "", ""])
    rows.append(
        [
            f"user-photographed digits ({len(user_answers)})",
            f"{np.mean([bool(answer.anomaly) for answer in user_answers]):.1%}",
            "",
            "≤ 5 % flagged",
        ]
    )
    rows.append(
        [
            f"Digits tool + gate: typeset letters answered as a digit ({len(letters_read)})",
            f"{np.mean([answer.status == 'ok' for answer in letters_read]):.1%}",
            "",
            "≤ 5 %",
        ]
    )
    rows.append(
        [
            f"Digits tool + gate: user digits called 'not a digit' ({len(user_read)})",
            f"{np.mean([bool(answer.not_a_digit) for answer in user_read]):.1%}",
            "",
            "≤ 3 %",
        ]
    )
    table(
        f"'Is this a digit?': {arguments.model} ({predictor.score_name} score, threshold "
        f"{predictor.threshold:.3f}, {predictor.threshold_rule})",
        ["images", "flagged", "AUROC vs MNIST test", "target"],
        rows,
    )


if __name__ == "__main__":
    main()
