"""The Digits tool's commands: `digits` (train), `evaluate digits` and `predict digits`."""

from __future__ import annotations

import json
from pathlib import Path

from training.core.cli import (
    EXIT_STATUS,
    KEPT_PREVIOUS_MODEL,
    AnswerTable,
    CommandLine,
    predict_images,
    print_progress,
    registry_for,
    report_outcome,
)
from training.digits.networks import MODEL_KINDS


def register(command_line: CommandLine) -> None:
    train = command_line.commands.add_parser(
        "digits",
        parents=[command_line.data_dir, command_line.force],
        help="train a digits model",
        epilog=EXIT_STATUS,
    )
    train.add_argument("--kind", choices=MODEL_KINDS, default="cnn")
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
    train.set_defaults(handler=command_train)
    command_line.evaluators["digits"] = command_evaluate
    command_line.predictors["digits"] = lambda arguments: command_predict(arguments, command_line)


def command_train(arguments) -> int:
    from training import digits
    from training.core import datasets

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
    registry = registry_for(arguments.models_dir)
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
    from training import digits
    from training.core import datasets
    from training.core.registry import ModelRegistry

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


def command_predict(arguments, command_line: CommandLine) -> int:
    def load_table() -> AnswerTable:
        from training import digits

        predictor = digits.DigitsPredictor.load(digits.model_name(arguments.model))
        gate = command_line.load_digit_gate() if arguments.gate else None
        return AnswerTable(
            ("digit", "confidence", "status"),
            answer_row,
            lambda path: predictor.predict_file(path, gate=gate),
        )

    return predict_images(arguments, set(), load_table)


def answer_row(prediction) -> tuple[str, str, str]:
    confidence = f"{max(prediction.probabilities):.1%}" if prediction.probabilities else ""
    status = "not a digit" if prediction.not_a_digit else prediction.status
    return ("" if prediction.label is None else str(prediction.label), confidence, status)
