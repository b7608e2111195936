"""The Anomaly tool's commands: `anomaly` (train) and `predict anomaly`; it also lends the Digits
tool its "not a digit" gate."""

from __future__ import annotations

from pathlib import Path

from training.anomaly.networks import SCORES, THRESHOLD_RULES, AnomalyTrainingConfig
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

DEFAULTS = AnomalyTrainingConfig()


def register(command_line: CommandLine) -> None:
    train = command_line.commands.add_parser(
        "anomaly",
        parents=[command_line.data_dir, command_line.force],
        help="train an anomaly autoencoder",
        epilog=EXIT_STATUS,
    )
    train.add_argument(
        "--normal",
        default="".join(map(str, DEFAULTS.normal_digits)),
        help="the normal digits, e.g. 3 or 0123456789",
    )
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    train.add_argument("--latent-dim", type=int, default=DEFAULTS.latent_dim)
    train.add_argument("--threshold-rule", default=DEFAULTS.threshold_rule, choices=THRESHOLD_RULES)
    train.add_argument("--threshold-parameter", type=float, help="percentile, or k of mean + k·σ")
    train.add_argument(
        "--score",
        choices=SCORES,
        help="the anomaly score (default: evidence for all ten digits, which answers 'is this a digit?', "
        "mixture otherwise)",
    )
    train.add_argument(
        "--exposure-images",
        type=int,
        help=f"synthetic non-digits for the evidence score (default {DEFAULTS.exposure_images})",
    )
    train.add_argument("--subset", type=int)
    train.add_argument("--seed", type=int, default=DEFAULTS.seed)
    train.add_argument("--models-dir", type=Path, help="write into this bundled-models folder")
    train.add_argument(
        "--benchmark",
        action="store_true",
        help="the one-class MNIST protocol: train one model per digit (ignores --normal), print AUROC/AUPR",
    )
    train.set_defaults(handler=command_train)
    command_line.predictors["anomaly"] = command_predict
    command_line.load_digit_gate = load_digit_gate


def load_digit_gate():
    from training.anomaly.predict import AnomalyPredictor
    from training.anomaly.training import ALL_DIGITS_MODEL

    return AnomalyPredictor.load(ALL_DIGITS_MODEL)


def command_train(arguments) -> int:
    from training import anomaly
    from training.core import datasets

    data = datasets.load_mnist(arguments.data_dir)
    registry = registry_for(arguments.models_dir)
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
        config = AnomalyTrainingConfig(normal_digits=normal, score=score, **settings)
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


def command_predict(arguments) -> int:
    def load_table() -> AnswerTable:
        from training import anomaly

        predictor = anomaly.AnomalyPredictor.load(arguments.model or anomaly.ALL_DIGITS_MODEL)
        return AnswerTable(("score", "threshold", "verdict"), answer_row, predictor.predict_path)

    return predict_images(arguments, {".npz"}, load_table)


def answer_row(prediction) -> tuple[str, str, str]:
    verdict = prediction.verdict or prediction.status
    score = "" if prediction.score is None else f"{prediction.score:.3f}"
    threshold = "" if prediction.threshold is None else f"{prediction.threshold:.3f}"
    return (score, threshold, verdict)
