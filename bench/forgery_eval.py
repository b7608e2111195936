"""Final figures of forgery models: `casia1_test/` (overall and quality-matched), the held-out
generalisation set (photos no training run saw, final saves balanced across quality bands
and lossless) per condition, among all answers and among conclusive ones, the reliability
diagram and expected calibration error, false alarms on untampered photos with other
histories, the shipped samples, and the quantisation-table shortcut for comparison.

    python -m bench.forgery_eval                       # the bundled default model
    python -m bench.forgery_eval --model forgery-resnet50   # another model in the registry
    python -m bench.forgery_eval --plot reliability.png     # also draw the reliability diagram
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from training import forgery
from training.core import paths
from training.core.keras_io import load_verified_model
from training.core.registry import ModelRegistry
from training.forgery import data as forgery_data

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples" / "photos"


STRESS_PAIRS = 250


def generalisation_photos(
    record: dict, scratch: Path, stress: bool = False
) -> list[forgery_data.LabelledPhoto]:
    """The generalisation set exactly as training makes it (same photos, recipe and seed);
    with `stress`, the same kind of pairs each resized (0.5-0.9×) between the edit and the
    final save, which the training recipe leaves out."""
    settings = record["hyper_parameters"]
    extra = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))
    recipe, pairs = forgery_data.TRAINING_RECIPE, forgery.GENERALISATION_PAIRS
    if stress:
        recipe, pairs = replace(recipe, resize_after_edit_share=1.0), STRESS_PAIRS
    return forgery.write_generalisation_set(
        extra, settings["held_out_photo_fraction"], settings["seed"], scratch, recipe, pairs
    )


def authentic_with_other_histories(record: dict, scratch: Path) -> list[forgery_data.LabelledPhoto]:
    """Untampered held-out photos (no training run saw them) resized, cropped off-grid or
    saved twice, each with a final save from the training recipe: the false-alarm side."""
    settings = record["hyper_parameters"]
    extra = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))
    _, held_out = forgery_data.split_photo_pool(extra, settings["held_out_photo_fraction"], settings["seed"])
    made = forgery_data.write_other_histories(held_out, scratch, 2 * len(held_out), settings["seed"] + 3)
    return [photo for photo, _ in made]


def shortcut_auc(photos) -> float:
    """The CASIA bias: the first luminance quantisation step alone as the score."""
    from sklearn.metrics import roc_auc_score

    steps = np.array([forgery_data.first_luminance_step(p.path) or 0 for p in photos], float)
    tampered = np.array([p.tampered for p in photos])
    auc = roc_auc_score(tampered, steps)
    return float(max(auc, 1 - auc))


def casia_row(name: str, evaluation: forgery.Evaluation) -> str:
    overall, matched = evaluation.overall, evaluation.quality_matched
    cells = [
        f"{overall.get('roc_auc', float('nan')):.4f}",
        f"{overall['accuracy']:.4f}",
        str(overall["confusion_matrix"]),
        f"{matched.get('roc_auc', float('nan')):.4f}" if matched else "–",
        f"{matched['accuracy']:.4f}" if matched else "–",
        f"{evaluation.pixel_auc_mean:.4f}" if evaluation.pixel_auc_mean is not None else "–",
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def condition_table(title: str, figures: dict) -> None:
    print(f"\n{title}\n")
    print(
        "| condition | photos | ROC AUC | false alarms | misses | inconclusive | "
        "false alarms (conclusive) | misses (conclusive) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for value, row in figures.items():
        auc = "–" if row["roc_auc"] is None else f"{row['roc_auc']:.3f}"
        print(
            f"| {value} | {row['images']} | {auc} | {percent(row['false_alarm_rate'])} | "
            f"{percent(row['miss_rate'])} | {percent(row['inconclusive_share'])} | "
            f"{percent(row['conclusive_false_alarm_rate'])} | {percent(row['conclusive_miss_rate'])} |"
        )


def plot_reliability(reliability: dict, path: Path, title: str) -> None:
    from matplotlib.figure import Figure  # draws through Agg without a display

    from training.core.charts import draw_reliability

    figure = Figure(figsize=(4.5, 4.5), dpi=100)
    draw_reliability(figure.add_subplot(), reliability, title)
    figure.tight_layout()
    figure.savefig(path)


def verdict_line(predictor: forgery.ForgeryPredictor, path: Path) -> str:
    verdict = predictor.predict_file(path)
    return f"  {path.name:<16} {verdict.shown_label:<13} probability {verdict.tampered_probability:.3f}" + (
        f" ({verdict.reason})" if verdict.reason else ""
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=forgery.DEFAULT_MODEL)
    parser.add_argument("--plot", type=Path, help="write the held-out reliability diagram to this PNG")
    args = parser.parse_args(argv)
    model, entry = load_verified_model(args.model, ModelRegistry())
    predictor = forgery.ForgeryPredictor(model, entry)
    backbone, calibration = predictor.backbone, predictor.calibration
    test_dir = paths.data_dir() / "casia1_test"
    print(
        f"{args.model} ({entry.origin}, {backbone}); calibrated probability, verdict at 0.5 "
        f"(raw threshold {calibration.raw_threshold:.3f}), inconclusive between "
        f"{calibration.undecided[0]:.2f} and {calibration.undecided[1]:.2f}, lossless photos "
        f"{'called' if calibration.lossless_conclusive else 'inconclusive'}\n"
    )
    print(
        "| set | ROC AUC | accuracy | confusion [[TN, FP], [FN, TP]] | QM ROC AUC | QM accuracy | pixel AUC |"
    )
    print("|---|---|---|---|---|---|---|")
    casia_test = forgery_data.list_photos(test_dir)
    print(casia_row("casia1_test", forgery.evaluate_on_folder(model, test_dir, calibration, backbone)))
    with tempfile.TemporaryDirectory() as scratch:
        photos = generalisation_photos(entry.record, Path(scratch) / "held-out")
        evaluation = forgery.evaluate_generalisation(model, backbone, photos, calibration)
        print(casia_row("held-out set (all bands)", evaluation))
        by_condition = evaluation.extra["by_condition"]
        condition_table("Held-out set by final save (both classes saved alike)", by_condition["band"])
        condition_table("… by source of the host photo", by_condition["source"])
        for condition in ("operation", "edge", "geometry", "saves", "after_edit"):
            condition_table(f"… by {condition}", by_condition[condition])
        condition_table("… all", {"all": by_condition["all"]})
        reliability = evaluation.extra["reliability"]
        print(f"\nReliability on the held-out set: expected calibration error {reliability['ece']:.3f}\n")
        print("| probability bin | photos | mean probability | tampered share |")
        print("|---|---|---|---|")
        for row in reliability["bins"]:
            print(
                f"| {row['low']:.1f}–{row['high']:.1f} | {row['count']} | "
                f"{row['mean_probability']:.3f} | {row['positive_share']:.3f} |"
            )
        if args.plot:
            plot_reliability(reliability, args.plot, f"{args.model}: held-out set")
            print(f"\nreliability diagram written to {args.plot}")
        stress = generalisation_photos(entry.record, Path(scratch) / "stress", stress=True)
        stress_evaluation = forgery.evaluate_generalisation(model, backbone, stress, calibration)
        condition_table(
            "Stress test, outside the training recipe: the same kind of pairs resized between the edit and "
            "the final save",
            stress_evaluation.extra["by_condition"]["band"]
            | {"all": stress_evaluation.extra["by_condition"]["all"]},
        )
        others = authentic_with_other_histories(entry.record, Path(scratch) / "authentic")
        raw, _ = forgery.score_photos(model, backbone, others)
        calibrated = calibration.probability(raw)
        conclusive = forgery.conclusive_flags(others, calibrated, calibration)
        print("\nUntampered held-out photos with other histories (final save from the training recipe)\n")
        print("| history | photos | false alarms | inconclusive | false alarms (conclusive) |")
        print("|---|---|---|---|---|")
        for history in forgery_data.OTHER_HISTORIES:
            chosen = np.array([p.condition["history"] == history for p in others])
            flagged = calibrated[chosen] >= 0.5
            called = conclusive[chosen]
            print(
                f"| {history} | {chosen.sum()} | {flagged.mean():.1%} | {(~called).mean():.1%} | "
                f"{percent(flagged[called].mean() if called.any() else None)} |"
            )
        print("\nShipped samples:")
        for path in sorted(SAMPLES.glob("*.jpg")):
            print(verdict_line(predictor, path))
        print(
            f"\nquantisation-table shortcut ROC AUC (score = first luminance step): casia1_test "
            f"{shortcut_auc(casia_test):.3f}, held-out JPEG photos "
            f"{shortcut_auc([p for p in photos if p.path.suffix == '.jpg']):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
