"""The Imbalanced tool's engine: any CSV with a rare positive class; models × imbalance
methods compared on the minority class.

Protocol: one stratified hold-out test split that nothing but the final figures ever sees;
on the training part, seeded stratified k-fold cross-validation gives out-of-fold
probabilities, from which the CV figures and each configuration's decision threshold (the
one maximising minority F1) are taken; then the pipeline is fitted on the whole training
part and scored once on the test split. Resampling is a step of an imbalanced-learn
`Pipeline`, so it only ever touches the rows a model is being fitted on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.errors import DatasetInvalidError, TrainingCancelled
from training.progress import CancelToken, Progress, ProgressCallback, ignore_progress

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
# Columns known to leak the outcome in datasets we ship defaults for: excluded unless asked.
LEAKY_COLUMNS = {
    "duration": "the call's duration is only known after the call, when the outcome is known: "
    "it leaks the answer (see bank-additional-names.txt)",
}
DEFAULT_CSV = Path("bank-marketing") / "bank-additional-full.csv"
TARGET_NAMES = ("y", "target", "label", "class", "outcome", "is_fraud", "fraud", "default")
SEPARATORS = ",;\t|"
MAX_CATEGORIES = 50  # one-hot columns per categorical feature; rarer values are pooled
DIVERGENCE_WARNING = 0.05  # |CV ROC AUC − test ROC AUC| above this is flagged by the audit


# Reading a CSV ------------------------------------------------------------------------------
def read_table(path) -> object:
    """Any delimited text file as a pandas DataFrame; the separator is sniffed."""
    import pandas

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetInvalidError(f"Cannot read {path.name}: {error.strerror or error}.") from None
    if not raw.strip():
        raise DatasetInvalidError(f"{path.name} is empty.")
    if b"\x00" in raw[:65536]:
        raise DatasetInvalidError(f"{path.name} is not a text table (it contains binary data).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    separator = sniff_separator(text[:65536])
    try:
        frame = pandas.read_csv(io.StringIO(text), sep=separator, skipinitialspace=True)
    except (pandas.errors.ParserError, ValueError) as error:
        raise DatasetInvalidError(f"{path.name} could not be read as a table: {error}") from None
    if frame.shape[1] < 2:
        raise DatasetInvalidError(
            f"{path.name} has a single column: it needs a target and at least one feature "
            f"(is the separator one of , ; tab | ?)."
        )
    if len(frame) < 20:
        raise DatasetInvalidError(f"{path.name} has {len(frame)} rows: too few to train and test on.")
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def sniff_separator(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        first_line = sample.splitlines()[0] if sample else ""
        return max(SEPARATORS, key=first_line.count)


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    kind: str  # "numeric" | "categorical"
    missing: int
    distinct: int
    example: str


def describe_columns(frame) -> list[ColumnSummary]:
    summaries = []
    for name in frame.columns:
        column = frame[name]
        non_missing = column.dropna()
        summaries.append(
            ColumnSummary(
                name,
                column_kind(column),
                int(column.isna().sum()),
                int(non_missing.nunique()),
                str(non_missing.iloc[0]) if len(non_missing) else "",
            )
        )
    return summaries


def column_kind(column) -> str:
    import pandas

    is_numeric = pandas.api.types.is_numeric_dtype(column) and not pandas.api.types.is_bool_dtype(column)
    return "numeric" if is_numeric else "categorical"


def suggest_target(frame) -> str:
    """A column named like a target, else the last column with two values."""
    lowered = {name.lower(): name for name in frame.columns}
    for candidate in TARGET_NAMES:
        if candidate in lowered and frame[lowered[candidate]].nunique() == 2:
            return lowered[candidate]
    for name in reversed(frame.columns):
        if frame[name].nunique() == 2:
            return name
    return frame.columns[-1]


def class_values(column) -> list:
    """The target's values, rarest first (the usual positive class)."""
    counts = column.dropna().value_counts()
    return [value for value, _count in sorted(counts.items(), key=lambda item: (item[1], str(item[0])))]


def default_exclusions(frame) -> dict[str, str]:
    return {name: reason for name, reason in LEAKY_COLUMNS.items() if name in frame.columns}


@dataclass(frozen=True)
class Problem:
    target: str
    positive: object
    exclude: tuple[str, ...] = ()


@dataclass
class PreparedData:
    features: object  # DataFrame
    labels: np.ndarray  # 1 = positive class
    numeric_columns: list[str]
    categorical_columns: list[str]
    dropped_rows: int  # rows without a target value
    source_rows: np.ndarray  # each row's position among the CSV's data rows


def prepare(frame, problem: Problem) -> PreparedData:
    """Features and 0/1 labels, or a DatasetInvalidError that says what is wrong."""
    if problem.target not in frame.columns:
        raise DatasetInvalidError(f"No column named '{problem.target}'.")
    target = frame[problem.target]
    labelled = target.notna()
    values = class_values(target)
    if len(values) < 2:
        raise DatasetInvalidError(
            f"The target '{problem.target}' has only one class ({values[0] if values else 'none'}): "
            "there is nothing to tell apart."
        )
    if len(values) > 2:
        shown = ", ".join(map(str, values[:6])) + (" …" if len(values) > 6 else "")
        raise DatasetInvalidError(
            f"The target '{problem.target}' has {len(values)} values ({shown}); this tool needs a "
            "yes/no target. Choose another column."
        )
    positive = _matching_value(values, problem.positive)
    labels = (target[labelled] == positive).to_numpy().astype(int)
    minority = int(min(labels.sum(), len(labels) - labels.sum()))
    if minority < 10:
        raise DatasetInvalidError(
            f"Only {minority} rows of one class: at least 10 are needed to cross-validate."
        )
    unknown = [name for name in problem.exclude if name not in frame.columns]
    if unknown:
        raise DatasetInvalidError(f"Cannot exclude unknown column(s): {', '.join(unknown)}.")
    features = frame.loc[labelled].drop(columns=[problem.target, *problem.exclude])
    features = features.loc[:, features.notna().any()]  # columns with no value at all
    if features.shape[1] == 0:
        raise DatasetInvalidError("No feature columns are left after the exclusions.")
    numeric = [name for name in features.columns if column_kind(features[name]) == "numeric"]
    categorical = [name for name in features.columns if name not in numeric]
    features = features.copy()
    for name in categorical:
        features[name] = as_categories(features[name])
    return PreparedData(
        features.reset_index(drop=True),
        labels,
        numeric,
        categorical,
        int((~labelled).sum()),
        np.flatnonzero(labelled.to_numpy()),
    )


def as_categories(column):
    """A categorical column as Python strings with NaN for missing, in training and prediction
    alike (integers and strings must not become different categories)."""
    return column.astype("string").astype(object).where(column.notna(), np.nan)


def _matching_value(values: list, wanted):
    for value in values:
        if value == wanted or str(value) == str(wanted):
            return value
    raise DatasetInvalidError(
        f"'{wanted}' is not a value of the target; its values are {', '.join(map(str, values))}."
    )


# Pipelines -----------------------------------------------------------------------------------
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
        from training.keras_mlp import KerasMLPClassifier

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


# Metrics and thresholds ---------------------------------------------------------------------
def metrics_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Every figure the table shows, at one threshold (ranking figures do not depend on it)."""
    from sklearn import metrics

    predicted = (probabilities >= threshold).astype(int)
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    (true_negative, false_positive), (false_negative, true_positive) = matrix
    precision, recall, f1, _support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=[0, 1], zero_division=0
    )
    specificity = true_negative / max(true_negative + false_positive, 1)
    return {
        "threshold": float(threshold),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(labels, predicted)),
        "precision_minority": float(precision[1]),
        "recall_minority": float(recall[1]),
        "f1_minority": float(f1[1]),
        "precision_majority": float(precision[0]),
        "recall_majority": float(recall[0]),
        "f1_majority": float(f1[0]),
        "mcc": float(metrics.matthews_corrcoef(labels, predicted)) if len(set(predicted)) > 1 else 0.0,
        "gmean": float(np.sqrt(recall[1] * specificity)),
        "confusion_matrix": matrix.tolist(),
    }


def ranking_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    from sklearn import metrics

    return {
        "roc_auc": float(metrics.roc_auc_score(labels, probabilities)),
        "pr_auc": float(metrics.average_precision_score(labels, probabilities)),
    }


OBJECTIVES = ("f1", "balanced_accuracy", "recall_at_precision", "cost")


def choose_threshold(
    labels: np.ndarray,
    probabilities: np.ndarray,
    objective: str = "f1",
    min_precision: float = 0.5,
    false_positive_cost: float = 1.0,
    false_negative_cost: float = 1.0,
) -> float:
    """The probability cut that is best for `objective` on (labels, probabilities): max F1,
    max balanced accuracy, max recall with precision ≥ `min_precision`, or min total cost."""
    candidates = np.unique(probabilities)
    if len(candidates) > 2000:
        candidates = np.unique(np.quantile(probabilities, np.linspace(0, 1, 2001)))
    order = np.argsort(-probabilities)
    sorted_labels = labels[order]
    sorted_probabilities = probabilities[order]
    positives = labels.sum()
    negatives = len(labels) - positives
    # Counts of predicted positives at each candidate (probability ≥ cut), in one pass.
    flagged = len(labels) - np.searchsorted(sorted_probabilities[::-1], candidates, side="left")
    true_positive = np.concatenate([[0], np.cumsum(sorted_labels)])[flagged]
    false_positive = flagged - true_positive
    recall = true_positive / max(positives, 1)
    precision = np.divide(true_positive, flagged, out=np.zeros(len(flagged)), where=flagged > 0)
    if objective == "f1":
        value = np.divide(
            2 * precision * recall,
            precision + recall,
            out=np.zeros(len(flagged)),
            where=(precision + recall) > 0,
        )
    elif objective == "balanced_accuracy":
        value = (recall + 1 - false_positive / max(negatives, 1)) / 2
    elif objective == "recall_at_precision":
        value = np.where(precision >= min_precision, recall + 1e-9 * candidates, -1.0)
        if value.max() < 0:
            raise ValueError(f"No threshold reaches precision {min_precision:.2f} on these rows.")
    elif objective == "cost":
        value = -(false_positive * false_positive_cost + (positives - true_positive) * false_negative_cost)
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return float(candidates[int(np.argmax(value))])


# The grid -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridSettings:
    test_fraction: float = 0.2
    folds: int = 3
    seed: int = 0


@dataclass
class ConfigurationResult:
    model: str
    method: str
    threshold: float  # max minority F1 on the out-of-fold probabilities
    test_metrics: dict  # at `threshold`
    default_metrics: dict  # at 0.5
    ranking: dict  # test ROC AUC, PR AUC
    cv: dict  # out-of-fold figures on the training part
    counts_before: list[int]
    counts_after: list[int]
    seconds: float
    test_probabilities: np.ndarray = field(repr=False)
    cv_probabilities: np.ndarray = field(repr=False)  # out-of-fold, on the training part
    pipeline: object = field(default=None, repr=False)
    pipeline_file: Path | None = None  # where the fitted pipeline was saved instead, if it was

    @property
    def audit(self) -> str:
        gap = self.cv["roc_auc"] - self.ranking["roc_auc"]
        if abs(gap) > DIVERGENCE_WARNING:
            return f"diverges: CV ROC AUC {self.cv['roc_auc']:.3f} vs test {self.ranking['roc_auc']:.3f}"
        return "ok"

    def to_json(self) -> dict:
        """The command-line contract: threshold-dependent figures at the optimised threshold."""
        return {
            "model": self.model,
            "method": self.method,
            "roc_auc": self.ranking["roc_auc"],
            "pr_auc": self.ranking["pr_auc"],
            "f1_minority": self.test_metrics["f1_minority"],
            "precision_minority": self.test_metrics["precision_minority"],
            "recall_minority": self.test_metrics["recall_minority"],
            "threshold": self.threshold,
            "balanced_accuracy": self.test_metrics["balanced_accuracy"],
            "mcc": self.test_metrics["mcc"],
            "gmean": self.test_metrics["gmean"],
            "accuracy": self.test_metrics["accuracy"],
            "f1_majority": self.test_metrics["f1_majority"],
            "confusion_matrix": self.test_metrics["confusion_matrix"],
            "at_0_5": {key: value for key, value in self.default_metrics.items() if key != "threshold"},
            "cv_roc_auc": self.cv["roc_auc"],
            "cv_pr_auc": self.cv["pr_auc"],
            "cv_f1_minority": self.cv["f1_minority"],
            "audit": self.audit,
            "train_counts_before": self.counts_before,
            "train_counts_after": self.counts_after,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Split:
    train_features: object
    train_labels: np.ndarray
    test_features: object
    test_labels: np.ndarray
    test_rows: np.ndarray  # row numbers in the prepared data (for exports)


def split(data: PreparedData, settings: GridSettings) -> Split:
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(data.labels))
    train_rows, test_rows = train_test_split(
        rows, test_size=settings.test_fraction, stratify=data.labels, random_state=settings.seed
    )
    return Split(
        data.features.iloc[train_rows],
        data.labels[train_rows],
        data.features.iloc[test_rows],
        data.labels[test_rows],
        test_rows,
    )


def evaluate_configuration(
    model: str,
    method: str,
    data: PreparedData,
    parts: Split,
    settings: GridSettings,
    cancel=None,
    memory=None,
) -> ConfigurationResult:
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    template = build_pipeline(model, method, data, parts.train_labels, settings.seed, memory)
    out_of_fold = np.zeros(len(parts.train_labels))
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    for fit_rows, held_rows in folds.split(parts.train_features, parts.train_labels):
        if cancel is not None and cancel.cancelled:
            raise TrainingCancelled()
        fold_pipeline = clone(template)
        fold_pipeline.fit(parts.train_features.iloc[fit_rows], parts.train_labels[fit_rows])
        out_of_fold[held_rows] = fold_pipeline.predict_proba(parts.train_features.iloc[held_rows])[:, 1]
    threshold = choose_threshold(parts.train_labels, out_of_fold, "f1")
    cv = {
        **ranking_metrics(parts.train_labels, out_of_fold),
        "f1_minority": metrics_at(parts.train_labels, out_of_fold, threshold)["f1_minority"],
    }
    if cancel is not None and cancel.cancelled:
        raise TrainingCancelled()
    pipeline = clone(template).fit(parts.train_features, parts.train_labels)
    probabilities = pipeline.predict_proba(parts.test_features)[:, 1]
    before, after = resampled_counts(pipeline, parts.train_features, parts.train_labels)
    return ConfigurationResult(
        model,
        method,
        threshold,
        metrics_at(parts.test_labels, probabilities, threshold),
        metrics_at(parts.test_labels, probabilities, 0.5),
        ranking_metrics(parts.test_labels, probabilities),
        cv,
        before,
        after,
        time.perf_counter() - started,
        probabilities,
        out_of_fold,
        pipeline,
    )


def configurations(models: Sequence[str], methods: Sequence[str]) -> list[tuple[str, str]]:
    """The grid; the dummy baseline and the balanced forest take no imbalance method."""
    for name in models:
        if name not in ALL_MODELS:
            raise ValueError(f"Unknown model '{name}'; choose from {', '.join(ALL_MODELS)}.")
    for name in methods:
        if name not in METHODS:
            raise ValueError(f"Unknown method '{name}'; choose from {', '.join(METHODS)}.")
    grid = []
    for model in models:
        if model in BASELINE_MODELS:
            grid.append((model, "none"))
        else:
            grid.extend((model, method) for method in methods)
    return grid


def run_grid(
    data: PreparedData,
    models: Sequence[str] = (*MODELS, "dummy"),
    methods: Sequence[str] = METHODS,
    settings: GridSettings = GridSettings(),
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    on_result: Callable[[ConfigurationResult], None] | None = None,
) -> tuple[Split, list[ConfigurationResult]]:
    """Every (model, method) configuration, one after the other; `on_result` gets each as it
    is done (the GUI fills its table from it)."""
    grid = configurations(models, methods)
    parts = split(data, settings)
    return parts, evaluate_grid(data, parts, grid, settings, report, cancel, on_result)


def evaluate_grid(
    data: PreparedData,
    parts: Split,
    grid: Sequence[tuple[str, str]],
    settings: GridSettings,
    report: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    on_result: Callable[[ConfigurationResult], None] | None = None,
) -> list[ConfigurationResult]:
    results = []
    started = time.perf_counter()
    with resampling_cache() as memory:
        for position, (model, method) in enumerate(grid):
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled()
            elapsed = time.perf_counter() - started
            report(
                Progress(
                    "grid",
                    position,
                    len(grid),
                    f"{MODEL_LABELS[model]} + {METHOD_LABELS[method]}",
                    elapsed_seconds=elapsed,
                    eta_seconds=elapsed / position * (len(grid) - position) if position else None,
                )
            )
            result = evaluate_configuration(model, method, data, parts, settings, cancel, memory)
            results.append(result)
            if on_result is not None:
                on_result(result)
    report(Progress("grid", len(grid), len(grid), "done", elapsed_seconds=time.perf_counter() - started))
    return results


def run_configurations(frame, problem: Problem, chosen, settings: GridSettings, scratch_dir, channel):
    """The GUI's grid, run in a child process: sends the prepared data, the split, then each
    result as it is done, through `channel` (post / report / cancelled). Fitted pipelines are
    written to `scratch_dir` rather than sent, as a forest can weigh tens of megabytes."""
    import joblib

    data = prepare(frame, problem)
    channel.post(data)
    parts = split(data, settings)
    channel.post(parts)

    def send(result: ConfigurationResult) -> None:
        result.pipeline.set_params(memory=None)
        result.pipeline_file = Path(scratch_dir) / f"{result.model}-{result.method}.joblib"
        joblib.dump(result.pipeline, result.pipeline_file)
        result.pipeline = None
        channel.post(result)

    evaluate_grid(data, parts, chosen, settings, channel.report, channel, send)


@contextlib.contextmanager
def resampling_cache():
    """A joblib.Memory in a scratch folder for one grid: every model of a method is fitted on the
    same resampled folds, so SMOTE(NC), ADASYN and Tomek links run once per fold, not per model."""
    import joblib

    with tempfile.TemporaryDirectory(prefix="imbalanced-cache-") as folder:
        yield joblib.Memory(folder, verbose=0)


def curves(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    from sklearn import metrics

    false_positive_rate, true_positive_rate, _ = metrics.roc_curve(labels, probabilities)
    precision, recall, _ = metrics.precision_recall_curve(labels, probabilities)
    return {"roc": (false_positive_rate, true_positive_rate), "pr": (recall, precision)}


# Saved models ----------------------------------------------------------------------------------
MODEL_PREFIX = "imbalanced-"


def model_name(label: str) -> str:
    """A registry name from what the user typed: letters, digits, '-' and '_' only."""
    cleaned = "".join(
        character if character.isalnum() or character in "-_" else "-" for character in label.strip()
    )
    cleaned = cleaned.strip("-_").lower()
    if not cleaned:
        raise ValueError("Give the model a name (letters, digits, - or _).")
    return cleaned if cleaned.startswith(MODEL_PREFIX) else MODEL_PREFIX + cleaned


def save_configuration(
    result: ConfigurationResult,
    data: PreparedData,
    problem: Problem,
    threshold: float,
    label: str,
    registry,
    source=None,
):
    """Register the configuration's pipeline (fitted on the whole training part) with its
    threshold, as the user's model `label`. Only the app's own model folders are ever loaded
    from, after their sha256 is checked; a dropped file is never unpickled."""
    from datetime import UTC, datetime

    import joblib

    from training.datasets import sha256_file
    from training.keras_setup import library_versions
    from training.registry import publish

    record = {
        "tool": "imbalanced",
        "description": f"{MODEL_LABELS[result.model]} + {METHOD_LABELS[result.method]} on {problem.target}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": result.model,
        "method": result.method,
        "target": problem.target,
        "positive": str(problem.positive),
        "excluded": list(problem.exclude),
        "columns": {name: "numeric" for name in data.numeric_columns}
        | {name: "categorical" for name in data.categorical_columns},
        "threshold": float(threshold),
        "data": {"file": Path(source).name, "fingerprint": "sha256:" + sha256_file(source)} if source else {},
        "library_versions": library_versions(),
        "metrics": {key: value for key, value in result.to_json().items() if isinstance(value, float)},
    }

    def write(path: Path) -> None:
        if result.pipeline is None:
            shutil.copyfile(result.pipeline_file, path)
        else:
            result.pipeline.set_params(memory=None)  # the grid's scratch cache is gone after the run
            joblib.dump(result.pipeline, path)

    return publish(registry, model_name(label), ".joblib", write, record)


class TabularPredictor:
    """A saved pipeline + threshold that scores new rows with the same columns."""

    def __init__(self, pipeline, entry):
        self.pipeline = pipeline
        self.entry = entry
        self.columns: dict[str, str] = entry.record["columns"]
        self.threshold = float(entry.record["threshold"])

    @classmethod
    def load(cls, name: str, registry=None) -> TabularPredictor:
        import joblib

        from training.registry import ModelRegistry

        registry = registry or ModelRegistry()
        path, entry = registry.verified_path(name)
        if entry.record.get("tool") != "imbalanced":
            raise ValueError(f"{name} is not a model of the Imbalanced tool.")
        return cls(joblib.load(path), entry)

    def predict(self, frame) -> tuple[np.ndarray, np.ndarray]:
        """(probability of the positive class, flagged at the saved threshold) per row."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise DatasetInvalidError(
                f"The table lacks column(s) the model was trained on: {', '.join(missing)}."
            )
        features = frame[list(self.columns)].copy()
        for name, kind in self.columns.items():
            if kind == "categorical":
                features[name] = as_categories(features[name])
            else:
                features[name] = _numbers(features[name], name)
        probabilities = self.pipeline.predict_proba(features)[:, 1]
        return probabilities, probabilities >= self.threshold


def _numbers(column, name: str):
    import pandas

    converted = pandas.to_numeric(column, errors="coerce")
    if converted.notna().sum() < column.notna().sum():
        raise DatasetInvalidError(f"Column '{name}' should hold numbers, as in the training data.")
    return converted
