"""Final figures of forgery models: `casia1_test/` (overall and quality-matched), the held-out
synthetic splices (photos no training run saw), pixel-level AUC of the heatmaps, and the
quantisation-table shortcut for comparison.

    python -m bench.forgery_eval                       # the bundled default model
    python -m bench.forgery_eval --model forgery-resnet50 --user   # a model trained into the user folder
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from training import forgery, forgery_data, forgery_training, paths
from training.keras_setup import load_verified_model
from training.registry import ModelRegistry


def generalisation_photos(record: dict, scratch: Path) -> list[forgery_data.LabelledPhoto]:
    """The generalisation set exactly as training made it (same photos, recipe and seed)."""
    settings = record["hyper_parameters"]
    extra = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))
    return forgery_training.write_generalisation_set(
        extra, settings["held_out_photo_fraction"], settings["seed"], scratch
    )


def authentic_with_other_histories(record: dict, scratch: Path) -> list[tuple[Path, str]]:
    """Untampered held-out photos (no training run saw them) resized, cropped off-grid or
    saved twice: the false-alarm side of generalisation."""
    settings = record["hyper_parameters"]
    extra = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))
    _, held_out = forgery_data.split_photo_pool(extra, settings["held_out_photo_fraction"], settings["seed"])
    made = forgery_data.write_other_histories(held_out, scratch, len(held_out), settings["seed"] + 3)
    return [(photo.path, history) for photo, history in made]


def false_alarms(predictor, made) -> list[tuple[str, float, int]]:
    """Per history: the share of photos labelled tampered, and how many there were."""
    from training import images

    rows = []
    for history in forgery_data.OTHER_HISTORIES:
        probabilities = []
        for path, made_history in made:
            if made_history == history:
                image = images.open_image(path)
                probabilities.append(
                    predictor.predict_image(image, forgery.photo_facts(path, image)).tampered_probability
                )
        rows.append(
            (history, float(np.mean(np.array(probabilities) >= predictor.threshold)), len(probabilities))
        )
    return rows


def shortcut_auc(photos) -> float:
    """The CASIA bias: the first luminance quantisation step alone as the score."""
    from sklearn.metrics import roc_auc_score

    steps = np.array([forgery_data.first_luminance_step(p.path) for p in photos], float)
    tampered = np.array([p.tampered for p in photos])
    auc = roc_auc_score(tampered, steps)
    return float(max(auc, 1 - auc))


def row(name: str, evaluation: forgery_training.Evaluation) -> str:
    overall, matched = evaluation.overall, evaluation.quality_matched
    cells = [
        f"{overall.get('roc_auc', float('nan')):.4f}",
        f"{overall['accuracy']:.4f}",
        str(overall["confusion_matrix"]),
        f"{matched.get('roc_auc', float('nan')):.4f}" if matched else "–",
        f"{matched['accuracy']:.4f}" if matched else "–",
        str(matched["confusion_matrix"]) if matched else "–",
        f"{evaluation.pixel_auc_mean:.4f}" if evaluation.pixel_auc_mean is not None else "–",
        f"{evaluation.pixel_auc_pooled:.4f}" if evaluation.pixel_auc_pooled is not None else "–",
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="forgery-blocks")
    args = parser.parse_args(argv)
    registry = ModelRegistry()
    model, entry = load_verified_model(args.model, registry)
    backbone = entry.record["hyper_parameters"]["backbone"]
    threshold = float(entry.record["threshold"])
    test_dir = paths.data_dir() / "casia1_test"
    print(
        f"{args.model} ({entry.origin}, {backbone}), threshold {threshold:.3f} chosen on grouped validation\n"
    )
    print(
        "| set | ROC AUC | accuracy | confusion [[TN, FP], [FN, TP]] | QM ROC AUC | QM accuracy | "
        "QM confusion | pixel AUC (mean per image) | pixel AUC (pooled) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(row("casia1_test", forgery_training.evaluate_on_folder(model, test_dir, threshold, backbone)))
    with tempfile.TemporaryDirectory() as scratch:
        photos = generalisation_photos(entry.record, Path(scratch))
        evaluation = forgery_training.evaluate_photos(model, backbone, photos, threshold)
        print(row("held-out BSDS500 splices", evaluation))
        print(
            "\nfalse alarms on untampered held-out photos with other histories (final save at quality 75-95)"
        )
        for history, rate, count in false_alarms(
            forgery.ForgeryPredictor(model, entry),
            authentic_with_other_histories(entry.record, Path(scratch) / "authentic"),
        ):
            print(f"  {history:<40} {rate:6.1%} of {count}")
        print(
            f"\nquantisation-table shortcut ROC AUC (score = first luminance step): casia1_test "
            f"{shortcut_auc(forgery_data.list_photos(test_dir)):.3f}, held-out splices {shortcut_auc(photos):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
