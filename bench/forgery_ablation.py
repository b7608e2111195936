"""What each widening of the synthetic recipe does: the block network trained with the narrow
recipe (before issue 17), then with each group of `forgery_data.RECIPE_ADDITIONS` added in
turn, every run with the same seed, CASIA split and calibration. Figures on the grouped CASIA
validation split and on the held-out generalisation set (the same photos for every run).
About 17 minutes per run on 2 cores.

    python -m bench.forgery_ablation                       # narrow, +qualities, +chains, +geometry, +regions
    python -m bench.forgery_ablation --runs none qualities,chains   # chosen runs only
"""

from __future__ import annotations

import argparse

from training import forgery
from training.core import paths
from training.forgery import data as forgery_data

CUMULATIVE = (
    "none",
    "qualities",
    "qualities,chains",
    "qualities,chains,geometry",
    "qualities,chains,geometry,regions",
)


def additions(text: str) -> tuple[str, ...]:
    return () if text == "none" else tuple(text.split(","))


def row(name: str, trained: forgery.TrainedForgeryModel) -> str:
    validation = trained.validation.overall
    matched = trained.validation.quality_matched
    held_out = trained.generalisation.extra["by_condition"]
    bands = held_out["band"]
    cells = [
        f"{validation['roc_auc']:.3f}",
        f"{validation['accuracy']:.3f}",
        f"{matched.get('roc_auc', float('nan')):.3f}",
        f"{held_out['all']['roc_auc']:.3f}",
        *(f"{bands[band]['roc_auc']:.3f}" for band in forgery_data.BAND_NAMES),
        f"{held_out['all']['false_alarm_rate']:.1%}",
        f"{trained.generalisation.extra['reliability']['ece']:.3f}",
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="+", default=list(CUMULATIVE))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = paths.data_dir()
    print(
        "| recipe additions | CASIA val ROC AUC | accuracy | QM ROC AUC | held-out ROC AUC | "
        + " | ".join(forgery_data.BAND_NAMES)
        + " | held-out false alarms | held-out ECE |"
    )
    print("|---" * (8 + len(forgery_data.BAND_NAMES)) + "|")
    for run in args.runs:
        config = forgery.ForgeryTrainingConfig(recipe_additions=additions(run), seed=args.seed)
        trained = forgery.train(data / "casia1", config, extra_photos_directory=data / "bsds500")
        print(row(run, trained), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
