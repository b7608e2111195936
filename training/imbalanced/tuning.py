"""Tuning a configuration's model with Optuna, inside the training part only.

Each trial's settings are scored by the same seeded stratified folds as the grid's cross-
validation (mean PR AUC on the held-out folds: the figure the grid ranks configurations by);
the test split is never seen. Unpromising trials stop after their first folds (median
pruning). The tuned settings are then evaluated exactly like a default configuration, so the
two sit side by side on the test split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from training.core.errors import InvalidInputError
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress


@dataclass(frozen=True)
class TuningSettings:
    """Stop after `trials` trials or `minutes` of tuning per configuration, whichever comes
    first (at least one of them)."""

    trials: int | None = None
    minutes: float | None = None

    def __post_init__(self):
        if self.trials is None and self.minutes is None:
            raise InvalidInputError("Tuning needs a number of trials or a time limit.")
        if self.trials is not None and self.trials < 1:
            raise InvalidInputError(f"Tuning needs at least one trial, not {self.trials}.")
        if self.minutes is not None and not self.minutes > 0:
            raise InvalidInputError(f"The tuning time must be positive, not {self.minutes} minutes.")


def search_space(model: str, trial) -> dict:
    """The settings Optuna tries for `model` (around the grid's defaults)."""
    if model == "logistic_regression":
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}
    if model == "hist_gradient_boosting":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 7, 63, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 10, 200, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 10.0, log=True),
        }
    if model == "xgboost":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        }
    if model == "lightgbm":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 300, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    if model == "catboost":
        return {
            "depth": trial.suggest_int("depth", 3, 8),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 30.0, log=True),
        }
    if model in ("random_forest", "balanced_random_forest"):
        return {
            "max_features": trial.suggest_float("max_features", 0.1, 0.8),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
        }
    if model == "keras_mlp":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }
    raise InvalidInputError(f"The {model} model has no settings to tune.")


TUNABLE_MODELS = (
    "logistic_regression",
    "hist_gradient_boosting",
    "xgboost",
    "lightgbm",
    "catboost",
    "random_forest",
    "balanced_random_forest",
    "keras_mlp",
)


def tune(
    model: str,
    method: str,
    data,
    parts,
    settings,
    tuning: TuningSettings,
    label: str = "",
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    memory=None,
) -> tuple[dict, dict]:
    """(the best settings found, a summary: trials run, minutes, best CV PR AUC)."""
    import optuna
    from sklearn import metrics

    from training.imbalanced.grid import cross_validated_probabilities, cross_validation_rows
    from training.imbalanced.pipelines import build_pipeline, with_model_parameters

    if model not in TUNABLE_MODELS:
        raise InvalidInputError(f"The {model} model has no settings to tune.")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    template = build_pipeline(model, method, data, parts.train_labels, settings.seed, memory)
    # The rows and folds of the grid's own cross-validation.
    cv_rows = cross_validation_rows(parts.train_labels, settings.seed)
    features, labels = parts.train_features.iloc[cv_rows], parts.train_labels[cv_rows]
    started = time.perf_counter()

    def objective(trial) -> float:
        scores = []

        def fold_done(number: int, held_rows, out_of_fold) -> None:
            scores.append(metrics.average_precision_score(labels[held_rows], out_of_fold[held_rows]))
            trial.report(float(np.mean(scores)), number)
            if trial.should_prune():
                raise optuna.TrialPruned()

        pipeline = with_model_parameters(template, search_space(model, trial))
        cross_validated_probabilities(pipeline, features, labels, settings, cancel, fold_done)
        return float(np.mean(scores))

    def progress(study, trial) -> None:
        done = len(study.trials)
        best = _best_value(study)
        elapsed = time.perf_counter() - started
        report(
            Progress(
                "tune",
                done,
                tuning.trials or done + 1,
                f"{label}: trial {done}{f'/{tuning.trials}' if tuning.trials else ''}"
                + (f", best CV PR AUC {best:.4f}" if best is not None else ""),
                elapsed_seconds=elapsed,
            )
        )

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    study.optimize(
        objective,
        n_trials=tuning.trials,
        timeout=tuning.minutes * 60 if tuning.minutes else None,
        callbacks=[progress],
    )
    if _best_value(study) is None:
        raise InvalidInputError(f"No tuning trial of {label or model} finished in the time given.")
    summary = {
        "trials": len(study.trials),
        "pruned": sum(trial.state == optuna.trial.TrialState.PRUNED for trial in study.trials),
        "minutes": round((time.perf_counter() - started) / 60, 2),
        "best_cv_pr_auc": study.best_value,
    }
    return dict(study.best_params), summary


def _best_value(study) -> float | None:
    import optuna

    finished = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    return max(trial.value for trial in finished) if finished else None
