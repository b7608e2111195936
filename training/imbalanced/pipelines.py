"""The models and imbalance methods, each configuration built as one imbalanced-learn pipeline."""

from __future__ import annotations

import numpy as np

from training.imbalanced.columns import PreparedData

MODELS = (
    "logistic_regression",
    "hist_gradient_boosting",
    "xgboost",
    "lightgbm",
    "random_forest",
    "keras_mlp",
)


# Offered but not in the default grid: CatBoost trains an order of magnitude slower here and
# is not in the executable (it would add 269 MB installed, plotly with it); the two baselines
# take no imbalance method.
OPTIONAL_MODELS = ("catboost",)


BASELINE_MODELS = ("dummy", "balanced_random_forest")


ALL_MODELS = MODELS + OPTIONAL_MODELS + BASELINE_MODELS


METHODS = ("none", "smote", "adasyn", "smote_tomek", "class_weight")


MODEL_LABELS = {
    "logistic_regression": "Logistic Regression",
    "hist_gradient_boosting": "Gradient Boosting (hist)",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "catboost": "CatBoost",
    "random_forest": "Random Forest",
    "keras_mlp": "Keras MLP",
    "dummy": "Dummy (class prior)",
    "balanced_random_forest": "Balanced Random Forest",
}


METHOD_LABELS = {
    "none": "none",
    "smote": "SMOTE",
    "adasyn": "ADASYN",
    "smote_tomek": "SMOTE+Tomek",
    "class_weight": "class weights",
}


MAX_CATEGORIES = 50  # one-hot columns per categorical feature; rarer values are pooled


# SMOTE-family methods look for nearest neighbours among all the rows they are given, which
# grows faster than the rows do. Beyond this many rows the majority class is first
# undersampled at random (inside the pipeline, so on training rows only) until the resampler
# sees at most this many rows: minutes instead of hours on millions of rows, and on a rare
# class the minority rows, the ones SMOTE learns from, are all kept.
RESAMPLER_MAX_ROWS = 200_000


RESAMPLING_STEPS = ("undersample", "resample")  # steps that only run while fitting


def build_model(name: str, method: str, labels: np.ndarray, seed: int):
    """The estimator `name`, cost-sensitive when `method` is "class_weight"."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    weighted = method == "class_weight"
    if name == "logistic_regression":
        return LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced" if weighted else None)
    if name == "hist_gradient_boosting":
        # Settings chosen by 3-fold CV on the Bank Marketing training part (never the test split).
        return HistGradientBoostingClassifier(
            learning_rate=0.03,
            max_iter=600,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=30,
            class_weight="balanced" if weighted else None,
            random_state=seed,
        )
    if name == "xgboost":
        from xgboost import XGBClassifier

        negatives, positives = np.bincount(labels, minlength=2)
        return XGBClassifier(
            n_estimators=600,
            learning_rate=0.02,
            max_depth=6,
            subsample=0.8,
            colsample_bytree=0.6,
            min_child_weight=5,
            tree_method="hist",
            max_bin=1024,
            n_jobs=2,
            scale_pos_weight=negatives / max(positives, 1) if weighted else 1.0,
            random_state=seed,
            eval_metric="logloss",
        )
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        # The same shape as the gradient boosting above: small trees, slow learning rate.
        return LGBMClassifier(
            n_estimators=600,
            learning_rate=0.02,
            num_leaves=15,
            min_child_samples=40,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.6,
            reg_lambda=1.0,
            class_weight="balanced" if weighted else None,
            n_jobs=2,
            deterministic=True,
            force_row_wise=True,
            random_state=seed,
            verbose=-1,
        )
    if name == "catboost":
        catboost = _import_optional("catboost", "CatBoost")
        # CatBoost's defaults, as the field compares against them.
        return catboost.CatBoostClassifier(
            auto_class_weights="Balanced" if weighted else None,
            thread_count=2,
            random_seed=seed,
            verbose=0,
            allow_writing_files=False,
        )
    if name == "random_forest":
        return RandomForestClassifier(
            n_estimators=150,
            min_samples_leaf=3,
            max_features="sqrt",
            n_jobs=2,
            class_weight="balanced_subsample" if weighted else None,
            random_state=seed,
        )
    if name == "keras_mlp":
        from training.imbalanced.keras_mlp import KerasMLPClassifier

        return KerasMLPClassifier(class_weight="balanced" if weighted else None, seed=seed)
    if name == "dummy":
        return DummyClassifier(strategy="prior")
    if name == "balanced_random_forest":
        from imblearn.ensemble import BalancedRandomForestClassifier

        return BalancedRandomForestClassifier(
            n_estimators=150,
            min_samples_leaf=2,
            sampling_strategy="all",
            replacement=True,
            bootstrap=False,
            n_jobs=2,
            random_state=seed,
        )
    raise ValueError(f"model must be one of {ALL_MODELS}, got {name!r}")


def model_installed(name: str) -> bool:
    """Whether the library behind model `name` is installed (CatBoost is optional)."""
    import importlib.util

    return name not in OPTIONAL_MODELS or importlib.util.find_spec(name) is not None


def _import_optional(module: str, label: str):
    import importlib

    from training.core.errors import InvalidInputError

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InvalidInputError(
            f"{label} is not installed with this copy of the app (pip install {module}), so it "
            "cannot be part of the grid."
        ) from error


def build_pipeline(
    model: str, method: str, data: PreparedData, labels: np.ndarray, seed: int = 0, memory=None
):
    """impute + scale + ordinal-code → [SMOTE(NC) / SMOTE+Tomek] → one-hot → [ADASYN] → model.

    SMOTE-family resampling runs before one-hot encoding, as SMOTENC when there are
    categorical columns, so synthetic rows get real categories; ADASYN has no mixed-type
    variant and runs on the encoded features. `memory` (a joblib.Memory) lets pipelines that
    differ only in their model share the fitted preprocessing and resampled rows."""
    from imblearn.combine import SMOTETomek
    from imblearn.over_sampling import ADASYN, SMOTE, SMOTENC
    from imblearn.pipeline import Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    numeric, categorical = data.numeric_columns, data.categorical_columns
    prepare_step = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                    ),
                ),
                categorical,
            ),
        ]
    )
    categorical_positions = list(range(len(numeric), len(numeric) + len(categorical)))
    encode_step = ColumnTransformer(
        [
            (
                "one_hot",
                OneHotEncoder(handle_unknown="ignore", max_categories=MAX_CATEGORIES, sparse_output=False),
                categorical_positions,
            )
        ],
        remainder="passthrough",
    )
    smote = (
        SMOTENC(categorical_features=categorical_positions, random_state=seed)
        if categorical_positions
        else SMOTE(random_state=seed)
    )
    steps = [("prepare", prepare_step)]
    if method in ("smote", "smote_tomek", "adasyn") and len(labels) > RESAMPLER_MAX_ROWS:
        steps.append(("undersample", majority_cap(labels, seed)))
    if method == "smote":
        steps.append(("resample", smote))
    elif method == "smote_tomek":
        steps.append(("resample", SMOTETomek(smote=smote, random_state=seed)))
    steps.append(("encode", encode_step))
    if method == "adasyn":
        steps.append(("resample", ADASYN(random_state=seed)))
    steps.append(("model", build_model(model, method, labels, seed)))
    return Pipeline(steps, memory=memory)


BOOSTER_LIBRARIES = ("xgboost", "lightgbm", "catboost")  # save their own models, compute their own SHAP


def booster_library(model) -> str | None:
    """Which of `BOOSTER_LIBRARIES` `model` comes from, or None."""
    if hasattr(model, "model_text"):  # a LightGBM model loaded from its saved text (boosters.py)
        return "lightgbm"
    return next((name for name in BOOSTER_LIBRARIES if type(model).__module__.startswith(name)), None)


def with_model_parameters(pipeline, parameters: dict):
    """`pipeline` with its model's settings changed by `parameters` (tuning's findings)."""
    return pipeline.set_params(**{f"model__{name}": value for name, value in parameters.items()})


def model_input(pipeline, features) -> np.ndarray:
    """`features` as the pipeline's model sees them: through every step but the model,
    skipping resampling (it only runs while fitting, and may come last, as ADASYN does)."""
    for name, step in pipeline.steps[:-1]:
        if name not in RESAMPLING_STEPS and step != "passthrough":
            features = step.transform(features)
    return np.asarray(features, dtype=float)


def majority_cap(labels: np.ndarray, seed: int):
    """A random undersampler of the majority class that leaves about `RESAMPLER_MAX_ROWS` rows
    (the share is kept in the folds, which are smaller than `labels`)."""
    from imblearn.under_sampling import RandomUnderSampler

    minority, majority = sorted(np.bincount(labels, minlength=2))
    kept_majority = max(RESAMPLER_MAX_ROWS - minority, minority)
    return RandomUnderSampler(sampling_strategy=min(1.0, minority / kept_majority), random_state=seed)


def resampled_counts(pipeline, features, labels) -> tuple[list[int], list[int]]:
    """Class counts (negative, positive) before and after the pipeline's resampling steps."""
    before = np.bincount(labels, minlength=2).tolist()
    names = [name for name, _step in pipeline.steps]
    if not any(name in RESAMPLING_STEPS for name in names):
        return before, before
    from sklearn.base import clone
    from sklearn.utils.validation import check_memory

    last = max(names.index(name) for name in RESAMPLING_STEPS if name in names)
    # Through the pipeline's cache: within a grid every model of a method shares the answer,
    # instead of running SMOTE+Tomek once more on the whole training part per model.
    count = check_memory(pipeline.memory).cache(_counts_after_resampling)
    return before, count([clone(step) for _name, step in pipeline.steps[: last + 1]], features, labels)


def _counts_after_resampling(steps, features, labels) -> list[int]:
    for step in steps:
        if hasattr(step, "fit_resample"):
            features, labels = step.fit_resample(features, labels)
        else:
            features = step.fit_transform(features, labels)
    return np.bincount(labels, minlength=2).tolist()
