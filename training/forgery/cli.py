"""The Forgery tool's commands: `forgery` and `clones` (train) and `predict forgery`."""

from __future__ import annotations

import argparse
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
from training.core.errors import InvalidInputError
from training.forgery.data import recipe_with
from training.forgery.networks import BACKBONES, BLOCK_LOSSES, IMAGE_EVIDENCE, ForgeryTrainingConfig

DEFAULTS = ForgeryTrainingConfig()


def register(command_line: CommandLine) -> None:
    train = command_line.commands.add_parser(
        "forgery",
        parents=[command_line.data_dir, command_line.force],
        help="train a forgery classifier on real/tampered photos",
        epilog=EXIT_STATUS,
    )
    train.add_argument(
        "--photos",
        type=Path,
        help="folder with Au/+Sp/ or real/+fake/ (default: casia1 in the data directory)",
    )
    train.add_argument(
        "--extra-photos",
        type=Path,
        help="untampered photos to splice for training and the generalisation test (default: bsds500)",
    )
    train.add_argument("--test-dir", type=Path, help="a labelled folder for final figures only")
    train.add_argument("--backbone", choices=BACKBONES, default=DEFAULTS.backbone)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--synthetic-pairs", type=int, help="0: CASIA-like photos only")
    train.add_argument("--resaved-copies", type=int)
    train.add_argument(
        "--other-histories", type=int, help="authentic extra photos resized, cropped or saved twice"
    )
    train.add_argument("--block-loss-weight", type=float)
    train.add_argument(
        "--block-loss",
        choices=BLOCK_LOSSES,
        help="balanced: a photo's tampered and untouched blocks weigh half each",
    )
    train.add_argument(
        "--image-evidence",
        choices=IMAGE_EVIDENCE,
        help="own: the image score reads a block map of its own instead of the heatmap",
    )
    train.add_argument(
        "--evidence-loss-weight", type=float, help="weight of the mean block loss on that own map"
    )
    train.add_argument(
        "--recipe-additions",
        type=recipe_additions,
        help="comma-separated groups that widen the synthetic recipe: "
        "qualities, chains, geometry, regions (default: all; none: the narrow recipe)",
    )
    train.add_argument(
        "--calibration-pairs", type=int, help="synthetic pairs the probability is calibrated on"
    )
    train.add_argument("--seed", type=int, default=DEFAULTS.seed)
    train.add_argument(
        "--imagenet",
        action="store_true",
        help="resnet50: start from ImageNet weights (needs them downloaded)",
    )
    train.add_argument("--models-dir", type=Path, help="write into this bundled-models folder")
    train.set_defaults(handler=command_train)
    command_line.predictors["forgery"] = command_predict

    from training.forgery.clone_training import CloneVerifierConfig

    verifier_defaults = CloneVerifierConfig()
    verifier = command_line.commands.add_parser(
        "clones",
        parents=[command_line.data_dir],
        help="train the clone verifier that tells copies from natural look-alikes",
        epilog=EXIT_STATUS,
    )
    verifier.add_argument(
        "--photos", type=int, default=verifier_defaults.photos, help="BSDS500 training photos"
    )
    verifier.add_argument(
        "--casia-photos",
        type=int,
        default=verifier_defaults.casia_photos,
        help="CASIA v1 copy-moves with a mask, and as many authentic photos (0: none)",
    )
    verifier.add_argument("--seed", type=int, default=verifier_defaults.seed)
    verifier.add_argument("--models-dir", type=Path, help="write into this bundled-models folder")
    verifier.set_defaults(handler=command_train_clones)


def recipe_additions(text: str) -> tuple[str, ...]:
    groups = () if text == "none" else tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        recipe_with(groups)
    except InvalidInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return groups


def command_train(arguments) -> int:
    from training import forgery
    from training.core import paths

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
    config = ForgeryTrainingConfig(
        backbone=arguments.backbone,
        seed=arguments.seed,
        imagenet_weights=arguments.imagenet,
        **{key: value for key, value in settings.items() if value is not None},
    )
    registry = registry_for(arguments.models_dir)
    entry, metrics, outcome = forgery.train_and_save(
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


def command_predict(arguments) -> int:
    def load_table() -> AnswerTable:
        from training import forgery

        predictor = forgery.ForgeryPredictor.load(arguments.model or forgery.DEFAULT_MODEL)
        judge = predictor.predict_file_with_views if arguments.views else predictor.predict_file
        return AnswerTable(("tampered", "threshold", "verdict"), answer_row, judge)

    return predict_images(arguments, set(), load_table)


def answer_row(prediction) -> tuple[str, str, str]:
    probability = "" if prediction.tampered_probability is None else f"{prediction.tampered_probability:.3f}"
    threshold = "" if prediction.threshold is None else f"{prediction.threshold:.3f}"
    verdict = prediction.shown_label if prediction.status == "ok" else prediction.status
    return (probability, threshold, verdict)


def command_train_clones(arguments) -> int:
    import sys

    from training.core import paths
    from training.core.registry import publish
    from training.forgery import clone_training
    from training.forgery.clones import VERIFIER_NAME

    config = clone_training.CloneVerifierConfig(
        photos=arguments.photos, casia_photos=arguments.casia_photos, seed=arguments.seed
    )
    data_dir = paths.data_dir(arguments.data_dir)
    verifier, record = clone_training.train_clone_verifier(
        data_dir, config, report=lambda line: print(line, file=sys.stderr, flush=True)
    )
    registry = registry_for(arguments.models_dir)
    entry = publish(
        registry,
        VERIFIER_NAME,
        ".json",
        lambda path: clone_training.write_verifier(verifier, path),
        record,
        bundle=bool(arguments.models_dir),
    )
    for source, figures in record["metrics"]["training"].items():
        print(
            f"{source:>8}: copies found {figures['copies_found']:.1%} of {figures['copy_moves']}, "
            f"untouched with a match {figures['untouched_with_a_match']:.1%} of {figures['untouched']}"
        )
    print(f"threshold {verifier.threshold:.2f}; {entry.name}: saved to {entry.path} ({entry.origin})")
    return 0
