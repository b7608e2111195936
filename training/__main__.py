"""Command line of the engine: `python -m training <command> ...` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training.errors import WorkbenchError


def print_progress(progress) -> None:
    if progress.message:
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in progress.metrics.items())
        eta = f"  ETA {progress.eta_seconds:.0f} s" if progress.eta_seconds else ""
        print(f"{progress.message:>14}  {metrics}{eta}", file=sys.stderr, flush=True)


# Exit status of a retrain whose model was saved but not put in use, because it scores clearly
# worse than the model in use: nothing failed, but what was asked for (a new model in use) did
# not happen, and a script must be able to tell (0 done, 1 error, 2 usage).
KEPT_PREVIOUS_MODEL = 3


def report_outcome(outcome) -> bool:
    """Print what publishing did (stdout), or why the model in use stays (stderr, with how to
    choose the new one anyway); True when the model in use stayed."""
    if outcome.activated:
        print(outcome.message, flush=True)
        return False
    print(
        f"kept the model in use: {outcome.message} To use the new one anyway: "
        f"python -m training use {outcome.name} {outcome.file_name} (or retrain with --force).",
        file=sys.stderr,
        flush=True,
    )
    return True


def command_train_digits(arguments) -> int:
    from training import datasets, digits
    from training.registry import ModelRegistry

    overrides = {
        key: value
        for key, value in {
            "epochs": arguments.epochs,
            "subset": arguments.subset,
            "seed": arguments.seed,
            "rotation_degrees": arguments.rotation,
            "learning_rate": arguments.learning_rate,
        }.items()
        if value is not None
    }
    if arguments.no_augment:
        overrides["augment"] = False
    config = digits.DigitsTrainingConfig.defaults_for(arguments.kind, **overrides)
    data = datasets.load_mnist(arguments.data_dir)
    registry = ModelRegistry(bundled_dir=arguments.models_dir) if arguments.models_dir else ModelRegistry()
    entry, evaluation, outcome = digits.train_and_save(
        data,
        config,
        registry,
        bundle=bool(arguments.models_dir),
        report=print_progress,
        force=arguments.force,
    )
    print(
        f"{entry.name}: test accuracy {evaluation.plain['accuracy']:.4f}, rotated "
        f"{evaluation.rotated['accuracy']:.4f}; saved to {entry.path} ({entry.origin})"
    )
    return KEPT_PREVIOUS_MODEL if report_outcome(outcome) else 0


def command_train_anomaly(arguments) -> int:
    from training import anomaly, datasets
    from training.registry import ModelRegistry

    data = datasets.load_mnist(arguments.data_dir)
    registry = ModelRegistry(bundled_dir=arguments.models_dir) if arguments.models_dir else ModelRegistry()
    settings = dict(
        epochs=arguments.epochs,
        latent_dim=arguments.latent_dim,
        threshold_rule=arguments.threshold_rule,
        seed=arguments.seed,
        subset=arguments.subset,
    )
    if arguments.threshold_parameter is not None:
        settings["threshold_parameter"] = arguments.threshold_parameter
    if arguments.exposure_images is not None:
        settings["exposure_images"] = arguments.exposure_images
    normal_sets = (
        [(digit,) for digit in range(10)] if arguments.benchmark else [tuple(map(int, arguments.normal))]
    )
    rows = []
    kept = False
    for normal in normal_sets:
        score = arguments.score or anomaly.default_score(normal)
        config = anomaly.AnomalyTrainingConfig(normal_digits=normal, score=score, **settings)
        entry, evaluation, outcome = anomaly.train_and_save(
            data,
            config,
            registry,
            bundle=bool(arguments.models_dir),
            report=print_progress,
            force=arguments.force,
        )
        figures = ", ".join(
            f"{key} {value:.4f}" for key, value in evaluation.items() if isinstance(value, float)
        )
        print(f"{entry.name}: {figures}; saved to {entry.path} ({entry.origin})", flush=True)
        kept = report_outcome(outcome) or kept
        rows.append((normal, evaluation))
    if arguments.benchmark:
        print("\nOne-class MNIST (train on one digit, score all 10,000 test images)")
        print(f"{'digit':>5} {'AUROC':>7} {'AUPR':>7}")
        for (digit,), evaluation in rows:
            print(f"{digit:>5} {evaluation['auroc']:>7.4f} {evaluation['aupr']:>7.4f}")
        mean_auroc = sum(evaluation["auroc"] for _, evaluation in rows) / len(rows)
        mean_aupr = sum(evaluation["aupr"] for _, evaluation in rows) / len(rows)
        print(f"{'mean':>5} {mean_auroc:>7.4f} {mean_aupr:>7.4f}")
    return KEPT_PREVIOUS_MODEL if kept else 0


def recipe_additions(text: str) -> tuple[str, ...]:
    from training import forgery_data

    groups = () if text == "none" else tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        forgery_data.recipe_with(groups)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return groups


def command_train_forgery(arguments) -> int:
    from training import forgery_training, paths
    from training.registry import ModelRegistry

    data_dir = paths.data_dir(arguments.data_dir)
    photos = arguments.photos or data_dir / "casia1"
    extra = arguments.extra_photos or data_dir / "bsds500"
    settings = {
        "epochs": arguments.epochs,
        "synthetic_pairs": arguments.synthetic_pairs if extra.is_dir() else 0,
        "resaved_copies": arguments.resaved_copies,
        "batch_size": arguments.batch_size,
        "other_histories": arguments.other_histories,
        "block_loss_weight": arguments.block_loss_weight,
        "block_loss": arguments.block_loss,
        "image_evidence": arguments.image_evidence,
        "evidence_loss_weight": arguments.evidence_loss_weight,
        "calibration_pairs": arguments.calibration_pairs,
        "recipe_additions": arguments.recipe_additions,
    }
    config = forgery_training.ForgeryTrainingConfig(
        backbone=arguments.backbone,
        seed=arguments.seed,
        imagenet_weights=arguments.imagenet,
        **{key: value for key, value in settings.items() if value is not None},
    )
    registry = ModelRegistry(bundled_dir=arguments.models_dir) if arguments.models_dir else ModelRegistry()
    entry, metrics, outcome = forgery_training.train_and_save(
        photos,
        config,
        registry,
        bundle=bool(arguments.models_dir),
        report=print_progress,
        extra_photos_directory=extra if extra.is_dir() else None,
        test_directory=arguments.test_dir,
        force=arguments.force,
    )
    for part, figures in metrics.items():
        overall, matched = figures["overall"], figures["quality_matched"]
        line = f"{part:>14}: ROC AUC {overall.get('roc_auc', float('nan')):.4f}, accuracy {overall['accuracy']:.4f}"
        if matched:
            line += f"; quality-matched ROC AUC {matched.get('roc_auc', float('nan')):.4f}"
        if figures.get("pixel_auc_mean") is not None:
            line += f"; pixel AUC {figures['pixel_auc_mean']:.4f}"
        print(line)
    print(f"{entry.name}: saved to {entry.path} ({entry.origin})")
    return KEPT_PREVIOUS_MODEL if report_outcome(outcome) else 0


def command_imbalanced(arguments) -> int:
    from training import imbalanced, paths
    from training.errors import DatasetInvalidError

    csv_path = arguments.csv or paths.data_dir(arguments.data_dir) / imbalanced.DEFAULT_CSV
    frame = imbalanced.read_table(csv_path)
    if arguments.save:
        imbalanced.model_name(arguments.save)  # a bad name fails now, not after the grid
    # Taken now, as read: the record of a saved model names the data it was fitted on.
    source_fingerprint = imbalanced.file_fingerprint(csv_path) if arguments.save else None
    target = arguments.target or imbalanced.suggest_target(frame)
    if target not in frame.columns:
        names = list(map(str, frame.columns))
        shown = ", ".join(names[:30]) + (f" … ({len(names)} in all)" if len(names) > 30 else "")
        raise DatasetInvalidError(
            f"No column named '{target}' in {Path(csv_path).name}; its columns are {shown}."
        )
    values = imbalanced.class_values(frame[target])
    positive = arguments.positive if arguments.positive is not None else (values[0] if values else None)
    excluded = dict(imbalanced.default_exclusions(frame)) if not arguments.keep_leaky else {}
    excluded.update({name: "excluded on the command line" for name in split_list(arguments.exclude)})
    for name, reason in excluded.items():
        print(f"excluding '{name}': {reason}", file=sys.stderr)
    data = imbalanced.prepare(frame, imbalanced.Problem(target, positive, tuple(excluded)))
    settings = imbalanced.GridSettings(arguments.test_fraction, arguments.folds, arguments.seed)
    models = split_list(arguments.models) or [*imbalanced.MODELS, "dummy"]
    methods = split_list(arguments.methods) or list(imbalanced.METHODS)
    print(
        f"{csv_path}: {len(data.labels):,} rows, {data.labels.sum():,} positive ('{positive}', "
        f"{data.labels.mean():.2%}); {len(data.numeric_columns)} numeric and "
        f"{len(data.categorical_columns)} categorical features"
        + (f" (dates read as numbers: {', '.join(data.date_columns)})" if data.date_columns else ""),
        file=sys.stderr,
    )
    for note in frame.attrs.get("reading_notes", []):
        print(f"note: {note}", file=sys.stderr)
    if not arguments.json:
        print(
            f"{'model':<24} {'method':<13} {'ROC AUC':>7} {'PR AUC':>7} {'F1 min':>7} {'prec':>6} "
            f"{'recall':>6} {'thresh':>6} {'bal acc':>7} {'MCC':>6} {'CV AUC':>7}  audit"
        )

    def show(result) -> None:
        row = result.to_json()
        if arguments.json:
            # Beside the contract's keys: what was left out and why, and which columns were dates.
            row |= {"excluded": excluded, "date_columns": data.date_columns}
            print(json.dumps(row), flush=True)
            return
        print(
            f"{result.model:<24} {result.method:<13} {row['roc_auc']:>7.4f} {row['pr_auc']:>7.4f} "
            f"{row['f1_minority']:>7.4f} {row['precision_minority']:>6.3f} {row['recall_minority']:>6.3f} "
            f"{row['threshold']:>6.3f} {row['balanced_accuracy']:>7.4f} {row['mcc']:>6.3f} "
            f"{row['cv_roc_auc']:>7.4f}  {row['audit']}",
            flush=True,
        )

    started = time.perf_counter()
    parts, results = imbalanced.run_grid(data, models, methods, settings, on_result=show)
    print(
        f"grid of {len(imbalanced.configurations(models, methods))} in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    if arguments.save:
        from training.registry import ModelRegistry

        chosen = imbalanced.best_configuration(results)
        problem = imbalanced.Problem(target, positive, tuple(excluded))
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


def predict_tables(arguments) -> int:
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
        probabilities, flagged = predictor.predict(imbalanced.read_table(path))
        for row, (probability, flag) in enumerate(zip(probabilities, flagged, strict=True)):
            if arguments.json:
                answer = {"path": path, "row": row, "probability": float(probability), "flagged": bool(flag)}
                print(json.dumps({**answer, "positive": positive}))
            else:
                print(f"{path}:{row}  {probability:.4f}  {'is ' + positive if flag else ''}")
    return 0


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def print_classification_table(title: str, figures: dict) -> None:
    print(f"\n{title}: accuracy {figures['accuracy']:.4f}")
    print(f"{'class':>5} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>7}")
    for row in figures["per_class"]:
        print(
            f"{row['label']:>5} {row['precision']:>9.4f} {row['recall']:>7.4f} "
            f"{row['f1']:>7.4f} {row['support']:>7}"
        )
    print("confusion matrix (rows: true, columns: predicted)")
    for label, counts in enumerate(figures["confusion_matrix"]):
        print(f"{label:>5} " + " ".join(f"{count:>5}" for count in counts))


def command_evaluate(arguments) -> int:
    from training import datasets, digits
    from training.registry import ModelRegistry

    registry = ModelRegistry()
    names = (
        [digits.MODEL_NAMES.get(arguments.model, arguments.model)]
        if arguments.model
        else list(digits.MODEL_NAMES.values())
    )
    data = None if arguments.stored else datasets.load_mnist(arguments.data_dir)
    summaries = {}
    for name in names:
        if arguments.stored:
            entry = registry.entry(name)
            summary = entry.metrics
        else:
            predictor = digits.DigitsPredictor.load(name, registry)
            entry = predictor.entry
            summary = digits.evaluate(predictor.model, data).summary()
        summaries[name] = summary
        if not arguments.json:
            source = "stored in the manifest" if arguments.stored else "computed now"
            print(f"== {name} ({entry.origin}, {entry.path.name}; figures {source})")
            print_classification_table("MNIST test", summary["test"])
            print_classification_table(
                f"MNIST test rotated ({summary['rotated_test_protocol']})", summary["rotated_test"]
            )
    if arguments.json:
        print(json.dumps(summaries))
    return 0


def command_predict(arguments) -> int:
    from training.images import expand_paths, no_inputs_message

    if arguments.tool == "imbalanced":
        return predict_tables(arguments)

    from training.images import IMAGE_SUFFIXES

    arrays = {".npz"} if arguments.tool == "anomaly" else set()
    paths = expand_paths(arguments.paths, IMAGE_SUFFIXES | arrays)
    if not paths:
        print(no_inputs_message(arguments.paths), file=sys.stderr)
        return 2
    if arguments.tool == "forgery":
        from training import forgery

        predict = forgery.ForgeryPredictor.load(arguments.model or forgery.DEFAULT_MODEL).predict_file
        header, row = ("tampered", "threshold", "verdict"), forgery_row
    elif arguments.tool == "anomaly":
        from training import anomaly

        predictor = anomaly.AnomalyPredictor.load(arguments.model or anomaly.ALL_DIGITS_MODEL)

        def predict(path):
            if path.suffix.lower() == ".npz":
                return predictor.predict_array_file(path)
            return predictor.predict_file(path)

        header, row = ("score", "threshold", "verdict"), anomaly_row
    else:
        from training import digits

        predictor = digits.DigitsPredictor.load(
            digits.MODEL_NAMES.get(arguments.model or "cnn", arguments.model)
        )
        header, row = ("digit", "confidence", "status"), digits_row
        gate = None
        if arguments.gate:
            from training import anomaly

            gate = anomaly.AnomalyPredictor.load(anomaly.ALL_DIGITS_MODEL)

        def predict(path):
            return predictor.predict_file(path, gate=gate)

    if not arguments.json:
        print(f"{'file':<40} {header[0]:>8} {header[1]:>10}  {header[2]:<9} message")
    for path in paths:
        answers = predict(path)
        for prediction in answers if isinstance(answers, list) else [answers]:
            if arguments.json:
                print(json.dumps(prediction.to_json()), flush=True)
            else:
                first, second, third = row(prediction)
                print(
                    f"{prediction.path[-40:]:<40} {first:>8} {second:>10}  {third:<9} {prediction.message}",
                    flush=True,
                )
    return 0


def digits_row(prediction) -> tuple[str, str, str]:
    confidence = f"{max(prediction.probabilities):.1%}" if prediction.probabilities else ""
    status = "not a digit" if prediction.not_a_digit else prediction.status
    return ("" if prediction.label is None else str(prediction.label), confidence, status)


def anomaly_row(prediction) -> tuple[str, str, str]:
    verdict = prediction.verdict or prediction.status
    score = "" if prediction.score is None else f"{prediction.score:.3f}"
    threshold = "" if prediction.threshold is None else f"{prediction.threshold:.3f}"
    return (score, threshold, verdict)


def forgery_row(prediction) -> tuple[str, str, str]:
    probability = "" if prediction.tampered_probability is None else f"{prediction.tampered_probability:.3f}"
    threshold = "" if prediction.threshold is None else f"{prediction.threshold:.3f}"
    verdict = prediction.shown_label if prediction.status == "ok" else prediction.status
    return (probability, threshold, verdict)


def command_models(arguments) -> int:
    from training.registry import ModelRegistry, verify

    registry = ModelRegistry()
    failures = 0
    for name in registry.names():
        entry = registry.entry(name)
        try:
            verify(entry)
            state = "sha256 ok"
        except WorkbenchError as error:
            state, failures = f"FAILED: {error}", failures + 1
        test = entry.metrics.get("test_accuracy")
        figure = f"test accuracy {test:.4f}" if test is not None else ""
        print(f"{name:<14} {entry.origin:<8} {entry.path.name:<28} {state}  {figure}")
    return 1 if failures else 0


def command_revert(arguments) -> int:
    from training.registry import ModelRegistry

    entry = ModelRegistry().revert_to_bundled(arguments.name)
    print(f"{entry.name} now uses the bundled model {entry.path}")
    return 0


def command_use(arguments) -> int:
    """Make a saved version the model in use, after checking its file against its sha256."""
    from training.errors import ModelNotFoundError
    from training.registry import ModelEntry, ModelRegistry, confined_file, verify

    registry = ModelRegistry()
    given = Path(arguments.file)
    # The file name, or a path to it in the user's models folder.
    if given.parent != Path(".") and given.parent.resolve() != registry.user_dir.resolve():
        raise ModelNotFoundError(f"{given} is not in your models folder {registry.user_dir}.")
    versions = registry.user_versions(arguments.name)
    record = next((record for record in versions if record["file"] == given.name), None)
    if record is None:
        saved = ", ".join(record["file"] for record in versions) or "none"
        raise ModelNotFoundError(
            f"'{given.name}' is not a saved version of {arguments.name} (saved versions: {saved})."
        )
    verify(ModelEntry(arguments.name, confined_file(registry.user_dir, given.name), record, "user"))
    entry = registry.use_version(arguments.name, given.name)
    print(f"{entry.name} now uses {entry.path}")
    return 0


def command_download(arguments) -> int:
    from training import datasets

    print(f"Downloaded and verified {datasets.download_mnist(arguments.data_dir)}")
    return 0


EXIT_STATUS = (
    "Exit status: 0 done; 1 error; 2 bad usage; 3 a retrained model was saved but the model in use "
    "stays, because the new one scores clearly worse on the same test figure (the message on stderr "
    "says how to use it anyway: the use command, or retrain with --force)."
)


def build_parser() -> argparse.ArgumentParser:
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        help="folder holding the datasets (default: $FINTECH_DATA_DIR, "
        "../shared/data beside the repository, else the user data folder)",
    )
    force = argparse.ArgumentParser(add_help=False)
    force.add_argument(
        "--force",
        action="store_true",
        help="make the new model the one in use even when it scores clearly worse than the model in "
        "use (without it, such a model is saved but not used; exit status 3). With --models-dir "
        "nothing is compared",
    )
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__, epilog=EXIT_STATUS)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "digits", parents=[data_dir, force], help="train a digits model", epilog=EXIT_STATUS
    )
    train.add_argument("--kind", choices=("cnn", "mlp"), default="cnn")
    train.add_argument("--epochs", type=int)
    train.add_argument("--subset", type=int, help="train on this many images (quick runs)")
    train.add_argument("--seed", type=int)
    train.add_argument("--rotation", type=float, help="maximum rotation of the augmentation, degrees")
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--no-augment", action="store_true")
    train.add_argument(
        "--models-dir",
        type=Path,
        help="write into this bundled-models folder (e.g. models/) instead of the user's",
    )
    train.set_defaults(handler=command_train_digits)

    train_anomaly = commands.add_parser(
        "anomaly", parents=[data_dir, force], help="train an anomaly autoencoder", epilog=EXIT_STATUS
    )
    train_anomaly.add_argument(
        "--normal", default="0123456789", help="the normal digits, e.g. 3 or 0123456789"
    )
    train_anomaly.add_argument("--epochs", type=int, default=30)
    train_anomaly.add_argument("--latent-dim", type=int, default=16)
    train_anomaly.add_argument(
        "--threshold-rule", default="percentile", choices=("percentile", "mean_k_sigma", "max", "f1_optimal")
    )
    train_anomaly.add_argument("--threshold-parameter", type=float, help="percentile, or k of mean + k·σ")
    train_anomaly.add_argument(
        "--score",
        choices=("mixture", "evidence", "combined", "reconstruction", "latent"),
        help="the anomaly score (default: evidence for all ten digits, which answers 'is this a digit?', "
        "mixture otherwise)",
    )
    train_anomaly.add_argument(
        "--exposure-images", type=int, help="synthetic non-digits for the evidence score (default 7000)"
    )
    train_anomaly.add_argument("--subset", type=int)
    train_anomaly.add_argument("--seed", type=int, default=0)
    train_anomaly.add_argument("--models-dir", type=Path, help="write into this bundled-models folder")
    train_anomaly.add_argument(
        "--benchmark",
        action="store_true",
        help="the one-class MNIST protocol: train one model per digit (ignores --normal), print AUROC/AUPR",
    )
    train_anomaly.set_defaults(handler=command_train_anomaly)

    forgery_parser = commands.add_parser(
        "forgery",
        parents=[data_dir, force],
        help="train a forgery classifier on real/tampered photos",
        epilog=EXIT_STATUS,
    )
    forgery_parser.add_argument(
        "--photos",
        type=Path,
        help="folder with Au/+Sp/ or real/+fake/ (default: casia1 in the data directory)",
    )
    forgery_parser.add_argument(
        "--extra-photos",
        type=Path,
        help="untampered photos to splice for training and the generalisation test (default: bsds500)",
    )
    forgery_parser.add_argument("--test-dir", type=Path, help="a labelled folder for final figures only")
    forgery_parser.add_argument("--backbone", choices=("blocks", "resnet50"), default="blocks")
    forgery_parser.add_argument("--epochs", type=int)
    forgery_parser.add_argument("--batch-size", type=int)
    forgery_parser.add_argument("--synthetic-pairs", type=int, help="0: CASIA-like photos only")
    forgery_parser.add_argument("--resaved-copies", type=int)
    forgery_parser.add_argument(
        "--other-histories", type=int, help="authentic extra photos resized, cropped or saved twice"
    )
    forgery_parser.add_argument("--block-loss-weight", type=float)
    forgery_parser.add_argument(
        "--block-loss",
        choices=("mean", "balanced"),
        help="balanced: a photo's tampered and untouched blocks weigh half each",
    )
    forgery_parser.add_argument(
        "--image-evidence",
        choices=("map", "own"),
        help="own: the image score reads a block map of its own instead of the heatmap",
    )
    forgery_parser.add_argument(
        "--evidence-loss-weight", type=float, help="weight of the mean block loss on that own map"
    )
    forgery_parser.add_argument(
        "--recipe-additions",
        type=recipe_additions,
        help="comma-separated groups that widen the synthetic recipe: "
        "qualities, chains, geometry, regions (default: all; none: the narrow recipe)",
    )
    forgery_parser.add_argument(
        "--calibration-pairs", type=int, help="synthetic pairs the probability is calibrated on"
    )
    forgery_parser.add_argument("--seed", type=int, default=0)
    forgery_parser.add_argument(
        "--imagenet",
        action="store_true",
        help="resnet50: start from ImageNet weights (needs them downloaded)",
    )
    forgery_parser.add_argument("--models-dir", type=Path, help="write into this bundled-models folder")
    forgery_parser.set_defaults(handler=command_train_forgery)

    from training import imbalanced

    imbalanced_parser = commands.add_parser(
        "imbalanced", parents=[data_dir], help="compare models × imbalance methods on a CSV's rare class"
    )
    imbalanced_parser.add_argument("--csv", type=Path, help="default: Bank Marketing from the data directory")
    imbalanced_parser.add_argument("--target", help="the yes/no column (default: guessed, e.g. y)")
    imbalanced_parser.add_argument("--positive", help="the rare class's value (default: the rarest)")
    imbalanced_parser.add_argument("--exclude", help="columns to leave out, comma-separated")
    imbalanced_parser.add_argument(
        "--keep-leaky",
        action="store_true",
        help="keep the columns left out by default: known leaky ones (e.g. duration) and identifiers",
    )
    imbalanced_parser.add_argument(
        "--models", help="comma-separated, from " + ", ".join(imbalanced.ALL_MODELS)
    )
    imbalanced_parser.add_argument("--methods", help="comma-separated, from " + ", ".join(imbalanced.METHODS))
    imbalanced_parser.add_argument("--test-fraction", type=float, default=0.2)
    imbalanced_parser.add_argument("--folds", type=int, default=3)
    imbalanced_parser.add_argument("--seed", type=int, default=0)
    imbalanced_parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    imbalanced_parser.add_argument(
        "--save",
        metavar="NAME",
        help="save the configuration with the best test PR AUC (or the only one) as model NAME, "
        "for `predict imbalanced --model NAME`",
    )
    imbalanced_parser.set_defaults(handler=command_imbalanced)

    evaluate = commands.add_parser(
        "evaluate", parents=[data_dir], help="test-set figures of the digits models"
    )
    evaluate.add_argument("tool", nargs="?", choices=("digits",), default="digits")
    evaluate.add_argument("--model", help="cnn, mlp or a model name (default: both)")
    evaluate.add_argument("--stored", action="store_true", help="print the manifest's figures")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=command_evaluate)

    predict = commands.add_parser("predict", help="predict for image files or folders")
    predict.add_argument("tool", choices=("digits", "anomaly", "forgery", "imbalanced"))
    predict.add_argument("paths", nargs="+", metavar="PATH")
    predict.add_argument(
        "--model",
        help="digits: cnn (default), mlp or a model name; anomaly: a model name (default anomaly-all-digits); forgery: a model name "
        "(default forgery-blocks)",
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per input line")
    predict.add_argument(
        "--gate",
        action="store_true",
        help="digits: also ask the all-digits anomaly model; what it flags is answered 'unsure' "
        'and the JSON gains "not_a_digit"',
    )
    predict.set_defaults(handler=command_predict)

    models = commands.add_parser("models", help="list the models in use and check their sha256")
    models.set_defaults(handler=command_models)

    revert = commands.add_parser("revert", help="use the bundled model again")
    revert.add_argument("name")
    revert.set_defaults(handler=command_revert)

    use = commands.add_parser(
        "use",
        help="make a saved version the model in use (e.g. one a retrain kept aside as clearly worse)",
    )
    use.add_argument("name", help="the model's name, e.g. digits-cnn")
    use.add_argument("file", help="the saved version's file name in your models folder")
    use.set_defaults(handler=command_use)

    download = commands.add_parser(
        "download", parents=[data_dir], help="download a dataset (explicit opt-in)"
    )
    download.add_argument("dataset", choices=("mnist",))
    download.set_defaults(handler=command_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (WorkbenchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
