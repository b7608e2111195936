"""Why a configuration scores as it does.

Global: permutation importance on the test split (how much the test ROC AUC drops when one
column's values are shuffled, with its spread over repeats), for any configuration. Per row:
each column's contribution to the score, summing with a base value to the model's raw output —
exact SHAP values where the model allows them: tree ensembles (XGBoost, LightGBM and CatBoost
compute them themselves; scikit-learn's forests and gradient boosting through the `shap`
library's TreeExplainer) and logistic regression (linear SHAP against the training rows'
mean). For other models (the Keras network, or trees where `shap` is not installed, as in
the executable) a column's contribution is how much the score moves when that column alone is
set to the training rows' mean ("baseline occlusion", an approximation named as such).

Contributions are summed over the one-hot columns of a category, so that they are named by
the CSV's own columns, and they are on the model's raw scale: log-odds, except for
scikit-learn's forests (probability). The reasons behind a score (credit decisions' adverse
action reason codes) are the columns that push it most toward the positive class.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from training.core.errors import TrainingCancelled
from training.core.progress import CancelToken, Progress, ProgressCallback, ignore_progress

REASON_COUNT = 4  # reasons per row, as adverse action notices give at most four


PERMUTATION_REPEATS = 5


EXPLAINED_ROWS = 2000  # test rows whose contributions the Explain page draws (a seeded sample)


# Permutation importance scores the test split once per column and repeat: beyond this many
# rows it uses a seeded sample of them (its spread over repeats stays visible, the minutes go).
PERMUTATION_MAX_ROWS = 50_000


EXACT_METHODS = ("tree_shap", "linear_shap")


@dataclass
class Contributions:
    """Per row and CSV column, how much the column moved the score from `base`."""

    values: np.ndarray  # rows × columns
    base: float  # the raw score of an average row
    columns: list[str]
    method: str  # "tree_shap" | "linear_shap" | "baseline_occlusion"
    scale: str  # "log-odds" | "probability"

    @property
    def exact(self) -> bool:
        return self.method in EXACT_METHODS

    def reasons(self, row: int, feature_values, count: int = REASON_COUNT) -> list[dict]:
        """The columns that push row `row` most toward the positive class, strongest first:
        [{"feature", "value", "contribution"}]; `feature_values` maps a column to this row's value."""
        pushing = [
            column for column in np.argsort(-self.values[row], kind="stable") if self.values[row, column] > 0
        ]
        return [
            {
                "feature": self.columns[column],
                "value": json_value(feature_values[self.columns[column]]),
                "contribution": round(float(self.values[row, column]), 6),
            }
            for column in pushing[:count]
        ]


@dataclass
class Explanation:
    """A configuration explained on the test split."""

    importance: list[dict]  # {"feature", "mean", "std"}: test ROC AUC lost when shuffled, largest first
    contributions: Contributions
    features: object = field(repr=False)  # the explained rows (DataFrame), for dependence plots
    rows: np.ndarray = field(repr=False)  # their positions in the test split
    seconds: float = 0.0

    def to_json(self) -> dict:
        mean_size = np.abs(self.contributions.values).mean(axis=0)
        return {
            "permutation_importance": self.importance,
            "contribution_method": self.contributions.method,
            "contribution_scale": self.contributions.scale,
            "mean_absolute_contribution": {
                name: round(float(size), 6)
                for size, name in sorted(
                    zip(mean_size, self.contributions.columns, strict=True), reverse=True
                )
            },
            "explained_rows": len(self.rows),
            "seconds": round(self.seconds, 2),
        }


def explain(
    pipeline,
    features,
    labels: np.ndarray,
    background: np.ndarray | None,
    seed: int = 0,
    repeats: int = PERMUTATION_REPEATS,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> Explanation:
    """Permutation importance on (features, labels) — the test split, or `PERMUTATION_MAX_ROWS`
    of its rows — and contributions on up to `EXPLAINED_ROWS` of its rows."""
    from sklearn.inspection import permutation_importance

    started = time.perf_counter()
    report(Progress("explain", 0, 2, "permutation importance"))
    scored = seeded_rows(len(features), PERMUTATION_MAX_ROWS, seed)
    shuffled = permutation_importance(
        pipeline,
        features.iloc[scored],
        labels[scored],
        scoring="roc_auc",
        n_repeats=repeats,
        random_state=seed,
    )
    importance = sorted(
        (
            {"feature": str(name), "mean": float(mean), "std": float(spread)}
            for name, mean, spread in zip(
                features.columns, shuffled.importances_mean, shuffled.importances_std, strict=True
            )
        ),
        key=lambda item: -item["mean"],
    )
    if cancel is not None and cancel.cancelled:
        raise TrainingCancelled()
    report(Progress("explain", 1, 2, "contributions"))
    rows = seeded_rows(len(features), EXPLAINED_ROWS, seed)
    explained = features.iloc[rows]
    values = contributions(pipeline, explained, background)
    report(Progress("explain", 2, 2, "done"))
    return Explanation(
        importance, values, explained.reset_index(drop=True), rows, time.perf_counter() - started
    )


def seeded_rows(total: int, limit: int, seed: int) -> np.ndarray:
    """Positions of all `total` rows, or of a seeded sample of `limit` of them, in order."""
    if total <= limit:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, limit, replace=False))


def contributions(pipeline, features, background: np.ndarray | None) -> Contributions:
    """Each row's contributions per CSV column (see the module's description)."""
    from training.imbalanced.pipelines import model_input

    model = pipeline[-1]
    inputs = model_input(pipeline, features)
    groups = column_groups(pipeline, list(features.columns))
    values, base, method, scale = _input_contributions(model, inputs, background, groups)
    names = list(groups)
    summed = np.column_stack([values[:, groups[name]].sum(axis=1) for name in names])
    return Contributions(summed, float(base), names, method, scale)


def column_groups(pipeline, columns: list[str]) -> dict[str, list[int]]:
    """For each CSV column the model sees, the positions of its columns in the model's input
    (a category becomes several one-hot columns)."""
    prepare = pipeline.named_steps["prepare"]
    prepared = [
        name
        for _step, transformer, names in prepare.transformers_
        if transformer != "drop" and len(names)
        for name in names
    ]
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(pipeline.named_steps["encode"].get_feature_names_out()):
        # The encoder was fitted on the prepared array, so its inputs are named x0, x1, …
        source = prepared[int(re.search(r"__x(\d+)", name).group(1))]
        groups.setdefault(source, []).append(position)
    return {name: groups[name] for name in columns if name in groups}


def _input_contributions(model, inputs: np.ndarray, background, groups) -> tuple[np.ndarray, float, str, str]:
    """(rows × model inputs contributions, base, method, scale)."""
    from training.imbalanced.pipelines import booster_library

    library = booster_library(model)
    if library is not None:
        # The library's own TreeSHAP: one column per input, then the base value.
        if library == "xgboost":
            import xgboost

            raw = model.get_booster().predict(xgboost.DMatrix(inputs), pred_contribs=True)
        elif library == "lightgbm":
            raw = model.booster_.predict(inputs, pred_contrib=True)
        else:
            import catboost

            raw = model.get_feature_importance(catboost.Pool(inputs), type="ShapValues")
        return raw[:, :-1], float(raw[0, -1]), "tree_shap", "log-odds"
    if type(model).__module__.startswith("sklearn.linear_model") and background is not None:
        coefficients = model.coef_[0]
        return (
            (inputs - background) * coefficients,
            float(model.intercept_[0] + background @ coefficients),
            "linear_shap",
            "log-odds",
        )
    if _is_tree_ensemble(model):
        try:
            import shap
        except ImportError:
            pass  # the executable leaves shap out (with numba and llvmlite it weighs 210 MB)
        else:
            explainer = shap.TreeExplainer(model)
            values = np.asarray(explainer.shap_values(inputs, check_additivity=False))
            expected = np.atleast_1d(explainer.expected_value)
            if values.ndim == 3:  # forests: one set per class, on the probability scale
                return values[:, :, 1], float(expected[-1]), "tree_shap", "probability"
            return values, float(expected[0]), "tree_shap", "log-odds"
    if background is None:
        raise ValueError(
            "this saved model has no baseline to explain its scores against (saved before version 2)"
        )
    return _baseline_occlusion(model, inputs, background, groups)


def explainable(model, background: np.ndarray | None) -> bool:
    """Whether `contributions` can explain `model`: every model can, given the baseline that
    files saved before format version 2 lack; without it only the tree libraries' own SHAP."""
    from training.imbalanced.pipelines import booster_library

    return background is not None or booster_library(model) is not None


def _is_tree_ensemble(model) -> bool:
    return hasattr(model, "estimators_") or hasattr(model, "_predictors")


def _baseline_occlusion(model, inputs: np.ndarray, background: np.ndarray, groups) -> tuple:
    """A column group's contribution: the log-odds with the row as it is minus with that group
    set to the training mean (exact for an additive model, an approximation otherwise)."""
    from training.core.probability_figures import logit

    def score(rows: np.ndarray) -> np.ndarray:
        return logit(model.predict_proba(rows)[:, 1])

    batch = [inputs]
    for positions in groups.values():
        occluded = inputs.copy()
        occluded[:, positions] = background[positions]
        batch.append(occluded)
    scores = score(np.vstack(batch)).reshape(len(batch), len(inputs))
    values = np.zeros_like(inputs)
    for index, positions in enumerate(groups.values()):
        # Given to the group's first input column: contributions are summed per group afterwards.
        values[:, positions[0]] = scores[0] - scores[index + 1]
    base = float(score(background[None, :])[0])
    return values, base, "baseline_occlusion", "log-odds"


def json_value(value):
    """A feature value as JSON can hold it: numbers as numbers, missing as None, else text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, bool | int | float) else str(value)


def explain_file(path, features, labels: np.ndarray, seed: int, channel) -> Explanation:
    """`explain` of the configuration saved at `path` (the GUI keeps each grid's fitted pipelines
    in such files), reporting to and cancelled by `channel` (a child process's channel)."""
    from training.imbalanced.pipeline_files import load_pipeline

    saved = load_pipeline(path)
    return explain(
        saved.pipeline, features, labels, saved.background, seed, report=channel.report, cancel=channel
    )
