"""The Imbalanced tool's commands: `imbalanced` (the grid, optionally saving the best
configuration) and `predict imbalanced` (scoring CSV rows with a saved one)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from training.core.cli import CommandLine, print_progress, split_list
from training.core.progress import ignore_progress
from training.imbalanced.calibration import CALIBRATION_METHODS
from training.imbalanced.columns import ROW_ORDER
from training.imbalanced.explain import REASON_COUNT
from training.imbalanced.grid import GridSettings
from training.imbalanced.pipelines import ALL_MODELS, METHODS

DEFAULTS = GridSettings()


def register(command_line: CommandLine) -> None:
    parser = command_line.commands.add_parser(
        "imbalanced",
        parents=[command_line.data_dir],
        help="compare models × imbalance methods on a CSV's rare class",
    )
    parser.add_argument("--csv", type=Path, help="default: Bank Marketing from the data directory")
    parser.add_argument("--target", help="the yes/no column (default: guessed, e.g. y)")
    parser.add_argument("--positive", help="the rare class's value (default: the rarest)")
    parser.add_argument("--exclude", help="columns to leave out, comma-separated")
    parser.add_argument(
        "--keep-leaky",
        action="store_true",
        help="keep the columns left out by default: known leaky ones (e.g. duration) and identifiers",
    )
    parser.add_argument("--models", help="comma-separated, from " + ", ".join(ALL_MODELS))
    parser.add_argument("--methods", help="comma-separated, from " + ", ".join(METHODS))
    parser.add_argument("--test-fraction", type=float, default=DEFAULTS.test_fraction)
    parser.add_argument("--folds", type=int, default=DEFAULTS.folds)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument(
        "--split-by",
        metavar="COLUMN",
        help=f"test on the latest rows instead of a random split: a date or ordered column, or "
        f"{ROW_ORDER} (the file's order); CV stays random folds, and the audit compares the two",
    )
    parser.add_argument(
        "--calibrate",
        choices=CALIBRATION_METHODS,
        default=DEFAULTS.calibration,
        help="calibrate each configuration's probabilities on its out-of-fold training probabilities",
    )
    parser.add_argument(
        "--tune",
        type=int,
        metavar="TRIALS",
        help="also tune each configuration's model with Optuna (this many trials each), inside the "
        "training folds; tuned rows follow their defaults",
    )
    parser.add_argument(
        "--tune-minutes",
        type=float,
        metavar="M",
        help="tune each configuration for at most M minutes (with --tune: whichever ends first)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="explain each configuration on the test split: permutation importance and mean "
        'contributions (JSON: an "explanation" object)',
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    parser.add_argument(
        "--save",
        metavar="NAME",
        help="save the configuration with the best test PR AUC (or the only one) as model NAME, "
        "for `predict imbalanced --model NAME`",
    )
    parser.set_defaults(handler=command_grid)
    command_line.predictors["imbalanced"] = command_predict


def command_grid(arguments) -> int:
    from training import imbalanced
    from training.core import paths

    csv_path = arguments.csv or paths.data_dir(arguments.data_dir) / imbalanced.DEFAULT_CSV
    frame = imbalanced.read_table(csv_path)
    if arguments.save:
        imbalanced.model_name(arguments.save)  # a bad name fails now, not after the grid
    # Taken now, as read: the record of a saved model names the data it was fitted on.
    source_fingerprint = imbalanced.file_fingerprint(csv_path) if arguments.save else None
    problem, excluded = imbalanced.problem_for(
        frame,
        Path(csv_path).name,
        arguments.target,
        arguments.positive,
        {name: "excluded on the command line" for name in split_list(arguments.exclude)},
        arguments.keep_leaky,
        arguments.split_by,
    )
    positive = problem.positive
    for name, reason in excluded.items():
        print(f"excluding '{name}': {reason}", file=sys.stderr)
    data = imbalanced.prepare(frame, problem)
    settings = imbalanced.GridSettings(
        arguments.test_fraction, arguments.folds, arguments.seed, arguments.calibrate
    )
    tuning = None
    if arguments.tune is not None or arguments.tune_minutes is not None:
        tuning = imbalanced.TuningSettings(arguments.tune, arguments.tune_minutes)
    models = split_list(arguments.models) or [*imbalanced.MODELS, "dummy"]
    methods = split_list(arguments.methods) or list(imbalanced.METHODS)
    grid = imbalanced.configurations(models, methods)  # unknown names fail before any work
    parts = imbalanced.split(data, settings)
    print(
        f"{csv_path}: {len(data.labels):,} rows, {data.labels.sum():,} positive ('{positive}', "
        f"{data.labels.mean():.2%}); {len(data.numeric_columns)} numeric and "
        f"{len(data.categorical_columns)} categorical features"
        + (f" (dates read as numbers: {', '.join(data.date_columns)})" if data.date_columns else ""),
        file=sys.stderr,
    )
    for note in frame.attrs.get("reading_notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(
        f"test split ({parts.description}): {len(parts.test_labels):,} rows, "
        f"{parts.test_labels.mean():.2%} positive; training part {parts.train_labels.mean():.2%} positive",
        file=sys.stderr,
    )
    if not arguments.json:
        print(
            f"{'model':<24} {'method':<13} {'ROC AUC':>7} {'PR AUC':>7} {'F1 min':>7} {'prec':>6} "
            f"{'recall':>6} {'thresh':>6} {'bal acc':>7} {'MCC':>6} {'CV AUC':>7}  audit"
        )

    def show(result) -> None:
        row = result.to_json()
        explanation = None
        if arguments.explain:
            explanation = imbalanced.explain(
                result.pipeline, parts.test_features, parts.test_labels, result.background, arguments.seed
            )
            row["explanation"] = explanation.to_json()
        if arguments.json:
            # Beside the contract's keys: what was left out and why, and which columns were dates.
            row |= {"excluded": excluded, "date_columns": data.date_columns}
            print(json.dumps(row), flush=True)
            return
        print(
            f"{result.model + (' (tuned)' if result.tuning else ''):<24} {result.method:<13} "
            f"{row['roc_auc']:>7.4f} {row['pr_auc']:>7.4f} "
            f"{row['f1_minority']:>7.4f} {row['precision_minority']:>6.3f} {row['recall_minority']:>6.3f} "
            f"{row['threshold']:>6.3f} {row['balanced_accuracy']:>7.4f} {row['mcc']:>6.3f} "
            f"{row['cv_roc_auc']:>7.4f}  {row['audit']}",
            flush=True,
        )
        if explanation is not None:
            shown = ", ".join(
                f"{item['feature']} {item['mean']:.4f}±{item['std']:.4f}"
                for item in explanation.importance[:5]
            )
            print(f"    test ROC AUC lost when shuffled: {shown}", flush=True)

    started = time.perf_counter()
    results = imbalanced.evaluate_grid(
        data,
        parts,
        grid,
        settings,
        report=print_progress if tuning else ignore_progress,
        on_result=show,
        tuning=tuning,
    )
    print(
        f"grid of {len(results)} in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    if arguments.save:
        from training.core.registry import ModelRegistry

        chosen = imbalanced.best_configuration(results)
        warning = imbalanced.threshold_warning(chosen, parts.test_labels, chosen.threshold)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        entry = imbalanced.save_configuration(
            chosen,
            data,
            problem,
            chosen.threshold,
            arguments.save,
            ModelRegistry(),
            csv_path,
            source_fingerprint,
        )
        print(
            f"saved {imbalanced.MODEL_LABELS[chosen.model]} + {imbalanced.METHOD_LABELS[chosen.method]} "
            f"(test PR AUC {chosen.ranking['pr_auc']:.4f}, threshold {chosen.threshold:.3f}) as {entry.name}: "
            f"{entry.path}",
            file=sys.stderr,
        )
    return 0


def command_predict(arguments) -> int:
    """Score every row of each CSV with a model saved from the Imbalanced tab: one JSON
    object (or table line) per row."""
    from training import imbalanced

    if not arguments.model:
        print(
            "error: predict imbalanced needs --model NAME (a model saved from the Imbalanced tab)",
            file=sys.stderr,
        )
        return 2
    predictor = imbalanced.TabularPredictor.load(imbalanced.model_name(arguments.model))
    positive = predictor.entry.record["positive"]
    for path in arguments.paths:
        scored = predictor.score(imbalanced.read_table(path), REASON_COUNT if arguments.json else 0)
        for row, (probability, flag) in enumerate(zip(scored.probabilities, scored.flagged, strict=True)):
            if arguments.json:
                answer = {"path": path, "row": row, "probability": float(probability), "flagged": bool(flag)}
                # The reasons: the columns pushing this score most toward the positive class.
                extra = {"reasons": scored.reasons[row], "reason_method": scored.reason_method}
                print(json.dumps({**answer, "positive": positive, **extra}))
            else:
                print(f"{path}:{row}  {probability:.4f}  {'is ' + positive if flag else ''}")
    return 0
