"""The models and imbalance methods, each configuration built as one imbalanced-learn pipeline."""

from __future__ import annotations

import numpy as np

from training.imbalanced.columns import PreparedData

MODELS = ("logistic_regression", "hist_gradient_boosting", "xgboost", "random_forest", "keras_mlp")


BASELINE_MODELS = ("dummy", "balanced_random_forest")


ALL_MODELS = MODELS + BASELINE_MODELS


METHODS = ("none", "smote", "adasyn", "smote_tomek", "class_weight")


MODEL_LABELS = {
    "logistic_regression": "Logistic Regression",
    "hist_gradient_boosting": "Gradient Boosting (hist)",
    "xgboost": "XGBoost",
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
    if method == "smote":
        steps.append(("resample", smote))
    elif method == "smote_tomek":
        steps.append(("resample", SMOTETomek(smote=smote, random_state=seed)))
    steps.append(("encode", encode_step))
    if method == "adasyn":
        steps.append(("resample", ADASYN(random_state=seed)))
    steps.append(("model", build_model(model, method, labels, seed)))
    return Pipeline(steps, memory=memory)


def resampled_counts(pipeline, features, labels) -> tuple[list[int], list[int]]:
    """Class counts (negative, positive) before and after the pipeline's resampling step."""
    before = np.bincount(labels, minlength=2).tolist()
    if "resample" not in pipeline.named_steps:
        return before, before
    from sklearn.base import clone
    from sklearn.utils.validation import check_memory

    position = [name for name, _step in pipeline.steps].index("resample")
    transformed = features
    for _name, step in pipeline.steps[:position]:
        transformed = step.transform(transformed) if hasattr(step, "transform") else transformed
    # Through the pipeline's cache: within a grid every model of a method shares the answer,
    # instead of running SMOTE+Tomek once more on the whole training part per model.
    count = check_memory(pipeline.memory).cache(_counts_after_resampling)
    return before, count(clone(pipeline.named_steps["resample"]), transformed, labels)


def _counts_after_resampling(sampler, features, labels) -> list[int]:
    _, resampled = sampler.fit_resample(features, labels)
    return np.bincount(resampled, minlength=2).tolist()
