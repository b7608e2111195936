"""One-class MNIST, the standard protocol: for each digit d, train on the training images of
d only, score all 10,000 test images (d normal, the nine others anomalous), report AUROC
and AUPR; then the mean over the ten digits.

    python -m bench.anomaly_one_class [--digits 0123456789] [--epochs 30] [--latent-dim 16]
    python -m bench.anomaly_one_class --bundled     # score with the ten bundled models (1 min)

Prints the mixture score (what the tool uses) beside the earlier single-Gaussian score
(`combined`), reconstruction error alone and the latent Mahalanobis distance alone, all from
the same trained models. Target (issue 3): mean AUROC ≥ 0.97.
Baseline (shared/BASELINES.md): the reference autoencoder, MSE, mean AUROC 0.709.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.digits_bench import table

REFERENCE_AUROC = [0.782, 0.997, 0.633, 0.665, 0.717, 0.631, 0.691, 0.851, 0.422, 0.700]


def main() -> None:
    from training import anomaly
    from training.core import datasets

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--digits", default="0123456789")
    parser.add_argument("--epochs", type=int, default=anomaly.AnomalyTrainingConfig.epochs)
    parser.add_argument("--latent-dim", type=int, default=anomaly.AnomalyTrainingConfig.latent_dim)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bundled",
        action="store_true",
        help="score with the bundled anomaly-digits-D models instead of training",
    )
    arguments = parser.parse_args()
    data = datasets.load_mnist()
    rows, per_score = [], {score: [] for score in anomaly.SCORES}
    for character in arguments.digits:
        digit = int(character)
        config = anomaly.AnomalyTrainingConfig(
            normal_digits=(digit,),
            epochs=arguments.epochs,
            latent_dim=arguments.latent_dim,
            seed=arguments.seed,
        )
        started = time.perf_counter()
        model = (
            anomaly.AnomalyPredictor.load(anomaly.model_name((digit,)))
            if arguments.bundled
            else anomaly.train(data, config)
        )
        scored = anomaly.score_images(model.autoencoder, model.statistics, data.x_test, "mixture")
        single_gaussian = anomaly.score_images(model.autoencoder, model.statistics, data.x_test, "combined")
        is_anomaly = data.y_test != digit
        figures = {
            "mixture": anomaly.ranking_metrics(scored.scores, is_anomaly),
            "combined": anomaly.ranking_metrics(single_gaussian.scores, is_anomaly),
            "reconstruction": anomaly.ranking_metrics(scored.reconstruction_error, is_anomaly),
            "latent": anomaly.ranking_metrics(scored.latent_distance, is_anomaly),
        }
        for score, values in figures.items():
            per_score[score].append(values)
        rows.append(
            [
                digit,
                f"{figures['mixture']['auroc']:.4f}",
                f"{figures['mixture']['aupr']:.4f}",
                f"{figures['combined']['auroc']:.4f}",
                f"{figures['reconstruction']['auroc']:.4f}",
                f"{figures['latent']['auroc']:.4f}",
                f"{REFERENCE_AUROC[digit]:.3f}",
                f"{time.perf_counter() - started:.0f}",
            ]
        )
        print(*rows[-1], flush=True)
    means = {score: np.mean([values["auroc"] for values in per_score[score]]) for score in per_score}
    rows.append(
        [
            "mean",
            f"{means['mixture']:.4f}",
            f"{np.mean([values['aupr'] for values in per_score['mixture']]):.4f}",
            f"{means['combined']:.4f}",
            f"{means['reconstruction']:.4f}",
            f"{means['latent']:.4f}",
            f"{np.mean([REFERENCE_AUROC[int(c)] for c in arguments.digits]):.3f}",
            "",
        ]
    )
    source = "bundled models" if arguments.bundled else "trained now"
    table(
        f"One-class MNIST ({source}; latent {arguments.latent_dim}, {arguments.epochs} epochs, seed {arguments.seed})",
        [
            "digit",
            "AUROC mixture",
            "AUPR mixture",
            "AUROC single Gaussian",
            "AUROC recon. only",
            "AUROC latent only",
            "AUROC reference AE",
            "seconds",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
