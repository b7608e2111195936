"""One whole forgery training run: data, synthetic pairs, networks, calibration, evaluation, publishing."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import simplejpeg

from training.core.model_quality import Headline
from training.core.package_photos import package_photos
from training.core.probability_figures import expected_calibration_error
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from training.core.provenance import provenance_record, publish_network
from training.forgery.calibration import Calibration
from training.forgery.data import (
    BAND_NAMES,
    TRAINING_RECIPE,
    LabelledPhoto,
    SplicingRecipe,
    grouped_split,
    list_photos,
    split_photo_pool,
    write_other_histories,
    write_synthetic_set,
)
from training.forgery.ela import BLOCK, FEATURE_QUALITIES, ElaSettings
from training.forgery.evaluation import (
    MAX_CONCLUSIVE_ERROR,
    MAX_UNDECIDED_SHARE,
    Evaluation,
    calibrate,
    conclusive_flags,
    evaluate_scores,
    figures_by_condition,
    score_photos,
)
from training.forgery.examples import make_examples
from training.forgery.networks import ForgeryTrainingConfig, train_block_network, train_resnet
from training.forgery.predict import DEFAULT_MODEL

GENERALISATION_PAIRS = 500


PACKAGE_HOST_REPEATS = 3  # the 16 package photos host about a quarter of the held-out pairs


def write_generalisation_set(
    extra_photos: list[Path],
    held_out_fraction: float,
    seed: int,
    directory: Path,
    recipe: SplicingRecipe = TRAINING_RECIPE,
    pairs: int = GENERALISATION_PAIRS,
) -> list[LabelledPhoto]:
    """Pairs made with the widened recipe from photos no training run sees: the held-out share
    of the extra photos and the photos that ship inside scikit-image and matplotlib, as hosts
    and donors; final saves balanced across `BAND_NAMES`. The same set for a
    given seed wherever it is made, whatever recipe the model was trained with (`recipe`
    and `pairs` change it for stress tests)."""
    _, held_out = split_photo_pool(extra_photos, held_out_fraction, seed)
    package = package_photos()
    return write_synthetic_set(
        held_out + package,
        directory,
        pairs,
        recipe,
        seed + 2,
        bands=BAND_NAMES,
        hosts=held_out + package * PACKAGE_HOST_REPEATS,
    )


@dataclass
class TrainedForgeryModel:
    model: object
    config: ForgeryTrainingConfig
    calibration: Calibration
    validation: Evaluation
    generalisation: Evaluation | None
    data: dict
    training_seconds: float


def evaluate_generalisation(
    model, backbone: str, photos, calibration: Calibration, report=ignore_progress, cancel=None
) -> Evaluation:
    """`evaluate_scores` at even odds of the calibrated probability, with figures per
    condition (final-quality band, source, operation, edge, geometry, saves), among all and
    among conclusive answers, and the reliability diagram with its calibration error."""
    raw, maps = score_photos(model, backbone, photos, report, cancel, "generalisation")
    calibrated = calibration.probability(raw)
    evaluation = evaluate_scores(photos, calibrated, maps, 0.5)
    conclusive = conclusive_flags(photos, calibrated, calibration)
    evaluation.extra = {
        "by_condition": figures_by_condition(photos, calibrated, conclusive),
        "reliability": expected_calibration_error(calibrated, np.array([p.tampered for p in photos])),
    }
    return evaluation


def photos_fingerprint(photos: list[LabelledPhoto]) -> str:
    """sha256 over the photos' names, classes and bytes (and their masks')."""
    import hashlib

    from training.core.datasets import sha256_file

    digest = hashlib.sha256()
    for photo in sorted(photos, key=lambda p: (p.tampered, p.path.name)):
        digest.update(f"{photo.path.name}:{int(photo.tampered)}:".encode())
        digest.update(bytes.fromhex(sha256_file(photo.path)))
        if photo.mask is not None:
            digest.update(bytes.fromhex(sha256_file(photo.mask)))
    return "sha256:" + digest.hexdigest()


def train(
    data_directory,
    config: ForgeryTrainingConfig,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    extra_photos_directory=None,
    scratch_parent=None,
) -> TrainedForgeryModel:
    """Grouped train/validation split of `data_directory`; re-saved copies and (with extra
    photos) synthetic splices for training; the threshold and the figures on validation;
    the generalisation figure on splices made from extra photos that training never saw.
    The synthetic photos are written under `scratch_parent` (the registry's scratch folder,
    where a killed run's leftovers are cleaned up; the system's temporary folder if None)."""
    import os
    import tempfile

    from training.core.keras_io import seed_everything

    cancel = cancel or CancelToken()
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    photos = list_photos(data_directory)
    train_indices, validation_indices = grouped_split(photos, config.validation_fraction, config.seed)
    train_photos = [photos[i] for i in train_indices]
    validation_photos = [photos[i] for i in validation_indices]
    data = {
        "dataset": Path(data_directory).name,
        "fingerprint": photos_fingerprint(photos),
        "photos": len(photos),
        "train_photos": len(train_photos),
        "validation_photos": len(validation_photos),
        "split": "grouped by source photo",
    }
    extra_photos = (
        sorted(p for p in Path(extra_photos_directory).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        if extra_photos_directory
        else []
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(
        prefix=f"{os.getpid()}-forgery-synthetic-", dir=scratch_parent
    ) as scratch:
        synthetic_train, synthetic_calibration, synthetic_test = [], [], []
        recipe = config.recipe
        if extra_photos:
            pool_train, pool_test = split_photo_pool(
                extra_photos, config.held_out_photo_fraction, config.seed
            )
            pool_train, pool_calibration = split_photo_pool(
                pool_train, config.calibration_photo_fraction, config.seed + 5
            )
            report(
                Progress(
                    "synthetic", 0, 1, "splicing photos for training, calibration and the generalisation test"
                )
            )
            if config.other_histories:
                synthetic_train += [
                    photo
                    for photo, _ in write_other_histories(
                        pool_train, Path(scratch) / "other", config.other_histories, config.seed + 4, recipe
                    )
                ]
            if config.synthetic_pairs:
                synthetic_train += write_synthetic_set(
                    pool_train, Path(scratch) / "train", config.synthetic_pairs, recipe, config.seed + 1
                )
            if config.calibration_pairs:
                synthetic_calibration = write_synthetic_set(
                    pool_calibration,
                    Path(scratch) / "calibration",
                    config.calibration_pairs,
                    TRAINING_RECIPE,
                    config.seed + 6,
                )
            synthetic_test = write_generalisation_set(
                extra_photos, config.held_out_photo_fraction, config.seed, Path(scratch) / "test"
            )
            data["extra_photos"] = {
                "folder": Path(extra_photos_directory).name,
                "fingerprint": photos_fingerprint([LabelledPhoto(p, False, None, ()) for p in extra_photos]),
                "training_photos": len(pool_train),
                "calibration_photos": len(pool_calibration),
                "held_out_photos": len(pool_test),
                "package_photos": [path.name for path in package_photos()],
                "training_pairs": config.synthetic_pairs,
                "training_recipe": recipe.to_json(),
                "calibration_pairs": config.calibration_pairs,
                "generalisation_pairs": GENERALISATION_PAIRS,
                "generalisation_recipe": TRAINING_RECIPE.to_json(),
            }
        qualities = [None] * len(train_photos) + [
            resave_quality(recipe, rng) for _ in range(config.resaved_copies * len(train_photos))
        ]
        copies = train_photos * (1 + config.resaved_copies)
        if config.backbone == "resnet50":
            model = train_resnet(
                copies + synthetic_train, qualities + [None] * len(synthetic_train), config, report, cancel
            )
        else:
            examples = make_examples(list(zip(copies, qualities, strict=True)), report, cancel, "features")
            examples += make_examples(
                [(p, None) for p in synthetic_train], report, cancel, "synthetic features"
            )
            model = train_block_network(examples, config, report, cancel)
        calibration_photos = validation_photos + synthetic_calibration
        raw, maps = score_photos(model, config.backbone, calibration_photos, report, cancel, "validation")
        calibration = calibrate(raw, calibration_photos)
        count = len(validation_photos)
        validation = evaluate_scores(
            validation_photos, calibration.probability(raw[:count]), maps and maps[:count], 0.5
        )
        if synthetic_calibration:
            validation.extra = {
                "calibration_pairs": evaluate_scores(
                    synthetic_calibration, calibration.probability(raw[count:]), maps and maps[count:], 0.5
                ).to_json()
            }
        generalisation = (
            evaluate_generalisation(model, config.backbone, synthetic_test, calibration, report, cancel)
            if synthetic_test
            else None
        )
    return TrainedForgeryModel(
        model, config, calibration, validation, generalisation, data, time.perf_counter() - started
    )


def resave_quality(recipe: SplicingRecipe, rng: np.random.Generator) -> int:
    """A JPEG quality for a re-saved copy of a training photo, from the recipe's final bands
    (a lossless copy would repeat the photo's pixels)."""
    quality = None
    while quality is None:
        quality = recipe.final_save(rng)
    return quality


def evaluate_on_folder(
    model, test_directory, calibration: Calibration, backbone: str = "blocks"
) -> Evaluation:
    """Figures on a labelled folder never used for training or choices (e.g. casia1_test), at
    even odds of the calibrated probability."""
    photos = list_photos(test_directory)
    raw, maps = score_photos(model, backbone, photos)
    return evaluate_scores(photos, calibration.probability(raw), maps, 0.5)


def model_name(backbone: str) -> str:
    return DEFAULT_MODEL if backbone == "blocks" else f"forgery-{backbone}"


def manifest_record(trained: TrainedForgeryModel, test: Evaluation | None = None) -> dict:
    config = trained.config
    description = (
        "Block network on multi-quality ELA (per-block tampering map + image score)"
        if config.backbone == "blocks"
        else "ResNet50 head on the ELA image (reference parity)"
    )
    metrics = {"validation": trained.validation.to_json()}
    if trained.generalisation is not None:
        metrics["generalisation"] = trained.generalisation.to_json()
    if test is not None:
        metrics["test"] = test.to_json()
    return provenance_record(
        "forgery",
        description,
        trained.data,
        config.seed,
        asdict(config),
        trained.model,
        trained.training_seconds,
    ) | {
        "features": {
            "block": BLOCK,
            "ela_qualities": list(FEATURE_QUALITIES),
            "ela_preview": asdict(ElaSettings()),
            "resave_decoder": f"simplejpeg {simplejpeg.__version__}",
        },
        "threshold": trained.calibration.raw_threshold,
        "threshold_rule": "even odds of a class-balanced logistic calibration of the validation scores",
        "calibration": trained.calibration.to_json(),
        "calibration_rule": (
            "logistic on the raw score's logit, fitted on CASIA validation and the calibration pairs; "
            f"undecided: the narrowest band with conclusive validation error <= {MAX_CONCLUSIVE_ERROR:.0%}, "
            f"at most {MAX_UNDECIDED_SHARE:.0%} of validation photos undecided"
        ),
        "metrics": metrics,
    }


# What a retrained forgery model is judged by before it replaces the model in use: its image
# ROC AUC on the validation photos, the one figure every retrain computes (the test folder is
# optional, the generalisation splices need extra photos). More than 0.02 below the model in
# use is clearly worse: on a split like the bundled model's (114 authentic, 144 tampered) the
# standard error of an AUC is about 0.015 at 0.95 and 0.004 at 0.997, and the split, hence
# the figure, moves with the photo folder, so a tighter margin would stop retrains on noise.
HEADLINE = Headline(("validation", "overall", "roc_auc"), "validation ROC AUC", margin=0.02)


def train_and_save(
    data_directory,
    config: ForgeryTrainingConfig,
    registry,
    bundle: bool = False,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    extra_photos_directory=None,
    test_directory=None,
    force: bool = False,
):
    """Train, evaluate, save and register (the user's models by default; `bundle` for models/).

    A user model whose validation ROC AUC is clearly worse than the model in use's is saved
    but not put in use, unless `force` (see `training.core.model_quality`). Returns the new
    version's entry, the figures per part and the `RetrainOutcome` saying whether it is in
    use and why."""
    trained = train(data_directory, config, report, cancel, extra_photos_directory, registry.scratch_parent())
    test = (
        evaluate_on_folder(trained.model, test_directory, trained.calibration, config.backbone)
        if test_directory
        else None
    )
    record = manifest_record(trained, test)
    outcome = publish_network(
        registry, model_name(config.backbone), trained.model, record, HEADLINE, bundle, force
    )
    return outcome.entry, record["metrics"], outcome
