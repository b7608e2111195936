"""The Imbalanced tool beside the field's libraries, and what analysts need beyond the grid, on
one CSV (default: Bank Marketing without `duration`):

    python -m bench.imbalanced_side_by_side [--csv FILE --target y --positive yes]

1. Ranking, side by side on the same 20 % stratified split (seed 0): the grid's best
   configuration (gradient boosting, no resampling), the grid's LightGBM, and CatBoost with
   its defaults (the independent checks' baseline) — ROC AUC, PR AUC, minority F1 at the
   CV-chosen threshold, KS, Gini.
2. Calibration: Brier and ECE on the test split for each of those with SMOTE and class
   weights, uncalibrated / sigmoid / isotonic (fitted on out-of-fold training probabilities).
3. Validation on the future: the best configuration on a random split and on the file's row
   order (train on the earlier 80 %, test on the latest 20 %).
4. Explanations of the best configuration (permutation importance + contributions on the test
   split): seconds; and what the reasons add to `predict` per row (median of 5 runs).

Issue 19's targets: best ROC AUC ≥ CatBoost's and LightGBM's; explanations ≤ 30 s; reasons
≤ 5 ms a row; calibrated ECE ≤ 0.02.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.digits_bench import table


def catboost_native(data, imbalanced) -> list[str]:
    """CatBoost as its users run it: defaults, the raw columns, categories handed over as
    categorical features (no one-hot, no scaling) — the baseline independent checks use."""
    from catboost import CatBoostClassifier

    settings = imbalanced.GridSettings()
    parts = imbalanced.split(data, settings)

    def raw(features):
        features = features.copy()
        for name in data.categorical_columns:
            features[name] = features[name].fillna("(missing)").astype(str)
        return features

    started = time.perf_counter()
    model = CatBoostClassifier(
        cat_features=data.categorical_columns,
        random_seed=settings.seed,
        verbose=0,
        thread_count=2,
        allow_writing_files=False,
    )
    model.fit(raw(parts.train_features), parts.train_labels)
    probabilities = model.predict_proba(raw(parts.test_features))[:, 1]
    figures = imbalanced.ranking_metrics(parts.test_labels, probabilities)
    # F1 at the best threshold on the training part's own probabilities would flatter it: F1 is
    # left out rather than chosen on the test split.
    return (
        ["CatBoost (defaults, native categories)"]
        + [f"{figures['roc_auc']:.4f}", f"{figures['pr_auc']:.4f}", "–"]
        + [f"{figures[key]:.4f}" for key in ("ks", "gini", "brier", "ece")]
        + [f"{time.perf_counter() - started:.0f}"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--target", default="y")
    parser.add_argument("--positive", default="yes")
    parser.add_argument("--skip-catboost", action="store_true", help="when CatBoost is not installed")
    arguments = parser.parse_args()
    from training import imbalanced
    from training.core import paths

    csv_path = arguments.csv or paths.data_dir() / imbalanced.DEFAULT_CSV
    frame = imbalanced.read_table(csv_path)
    excluded = tuple(imbalanced.default_exclusions(frame))
    problem = imbalanced.Problem(arguments.target, arguments.positive, excluded)
    data = imbalanced.prepare(frame, problem)
    print(
        f"{csv_path.name}: {len(data.labels):,} rows, {data.labels.mean():.2%} positive; excluded {excluded}"
    )

    def run(model, method, settings=None, prepared=data):
        settings = settings or imbalanced.GridSettings()
        parts = imbalanced.split(prepared, settings)
        return parts, imbalanced.evaluate_configuration(model, method, prepared, parts, settings)

    models = ["hist_gradient_boosting", "lightgbm"] + ([] if arguments.skip_catboost else ["catboost"])
    ranking_rows, by_model = [], {}
    for model in models:
        _parts, result = run(model, "none")
        by_model[model] = result
        figures = result.to_json()
        ranking_rows.append(
            [imbalanced.MODEL_LABELS[model]]
            + [
                f"{figures[key]:.4f}"
                for key in ("roc_auc", "pr_auc", "f1_minority", "ks", "gini", "brier", "ece")
            ]
            + [f"{result.seconds:.0f}"]
        )
    if not arguments.skip_catboost:
        ranking_rows.append(catboost_native(data, imbalanced))
    table(
        "1. Ranking on the same 20 % stratified test split (seed 0), no resampling",
        ["model", "ROC AUC", "PR AUC", "F1 (rare)", "KS", "Gini", "Brier", "ECE", "s"],
        ranking_rows,
    )

    calibration_rows = []
    for model in ("hist_gradient_boosting", "lightgbm", "logistic_regression"):
        for method in ("none", "smote", "class_weight"):
            cells = [imbalanced.MODEL_LABELS[model], imbalanced.METHOD_LABELS[method]]
            for calibration in ("none", "sigmoid", "isotonic"):
                _parts, result = run(model, method, imbalanced.GridSettings(calibration=calibration))
                cells.append(f"{result.ranking['brier']:.4f} / {result.ranking['ece']:.4f}")
                if calibration == "isotonic":
                    cells.append(f"{result.ranking['roc_auc']:.4f}")
            calibration_rows.append(cells)
    table(
        "2. Brier / ECE on the test split: uncalibrated, sigmoid, isotonic (fitted on out-of-fold training probabilities)",
        ["model", "method", "uncalibrated", "sigmoid", "isotonic", "ROC AUC (isotonic)"],
        calibration_rows,
    )

    time_rows = []
    for split_by in (None, imbalanced.ROW_ORDER):
        prepared = imbalanced.prepare(
            frame, imbalanced.Problem(arguments.target, arguments.positive, excluded, split_by)
        )
        parts, result = run("hist_gradient_boosting", "none", prepared=prepared)
        figures = result.to_json()
        time_rows.append(
            [
                parts.description,
                f"{parts.train_labels.mean():.1%}",
                f"{parts.test_labels.mean():.1%}",
                f"{figures['cv_roc_auc']:.4f}",
                f"{figures['roc_auc']:.4f}",
                f"{figures['pr_auc']:.4f}",
                f"{figures['f1_minority']:.4f}",
                f"{figures['ece']:.4f}",
                figures["audit"],
            ]
        )
    table(
        "3. Gradient boosting (no resampling): random split vs out-of-time split by row order",
        ["split", "train pos.", "test pos.", "CV ROC AUC", "test ROC AUC", "PR AUC", "F1", "ECE", "audit"],
        time_rows,
    )

    best = by_model["hist_gradient_boosting"]
    parts = imbalanced.split(data, imbalanced.GridSettings())
    explanation = imbalanced.explain(best.pipeline, parts.test_features, parts.test_labels, best.background)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"best{imbalanced.SUFFIX}"
        imbalanced.save_pipeline(best.pipeline, path, best.calibration, best.background)
        predictor = imbalanced.TabularPredictor(
            imbalanced.load_pipeline(path),
            type(
                "Entry",
                (),
                {"record": {"columns": imbalanced.saved_columns(data), "threshold": best.threshold}},
            )(),
        )
        scored_frame = frame.drop(columns=[arguments.target])
        plain, explained = [], []
        for _ in range(5):
            started = time.perf_counter()
            predictor.score(scored_frame)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            predictor.score(scored_frame, imbalanced.REASON_COUNT)
            explained.append(time.perf_counter() - started)
    added = (statistics.median(explained) - statistics.median(plain)) / len(scored_frame) * 1000
    table(
        "4. Explanations of the best configuration (2 cores)",
        ["measure", "result", "target"],
        [
            [
                f"permutation importance (5 repeats, {len(parts.test_labels):,} test rows) + contributions "
                f"({len(explanation.rows):,} rows, {explanation.contributions.method})",
                f"{explanation.seconds:.1f} s",
                "≤ 30 s",
            ],
            [
                f"predict {len(scored_frame):,} rows: without / with reasons (median of 5)",
                f"{statistics.median(plain):.2f} s / {statistics.median(explained):.2f} s",
                "",
            ],
            ["reasons add per row", f"{added:.3f} ms", "≤ 5 ms"],
            [
                "top 5 by permutation importance (test ROC AUC lost)",
                ", ".join(
                    f"{item['feature']} {item['mean']:.3f}±{item['std']:.3f}"
                    for item in explanation.importance[:5]
                ),
                "",
            ],
        ],
    )


if __name__ == "__main__":
    main()
