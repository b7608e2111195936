"""A read table's columns: their kinds, the suggested target, excluded columns, and the prepared problem."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.core.errors import DatasetInvalidError
from training.imbalanced.csv_reading import ID_NAME, MIN_TRAINING_ROWS, date_columns_of, date_numbers

# Columns known to leak the outcome in datasets we ship defaults for: excluded unless asked.
LEAKY_COLUMNS = {
    "duration": "the call's duration is only known after the call, when the outcome is known: "
    "it leaks the answer (see bank-additional-names.txt)",
}


DEFAULT_CSV = Path("bank-marketing") / "bank-additional-full.csv"


TARGET_NAMES = ("y", "target", "label", "class", "outcome", "is_fraud", "fraud", "default")


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    kind: str  # "numeric" | "categorical" | "date"
    missing: int
    distinct: int
    example: str


def describe_columns(frame) -> list[ColumnSummary]:
    dates = date_columns_of(frame)
    summaries = []
    for name in frame.columns:
        column = frame[name]
        non_missing = column.dropna()
        summaries.append(
            ColumnSummary(
                name,
                "date" if name in dates else column_kind(column),
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
    counts = counts[counts > 0]  # a categorical column counts its unused categories too
    return [value for value, _count in sorted(counts.items(), key=lambda item: (item[1], str(item[0])))]


def default_exclusions(frame) -> dict[str, str]:
    """Columns left out unless the user keeps them, with the reason: known leaky columns, and
    identifiers (a value per row teaches a model nothing about new rows)."""
    excluded = {name: reason for name, reason in LEAKY_COLUMNS.items() if name in frame.columns}
    dates = date_columns_of(frame)
    for name in frame.columns:
        if name not in excluded and name not in dates:
            reason = identifier_reason(name, frame[name])
            if reason:
                excluded[name] = reason
    return excluded


def identifier_reason(name: str, column) -> str | None:
    """Why `column` looks like an identifier, or None. Text or whole numbers only (a float with
    decimals is a measurement), at least 20 values: unique on every row (whole numbers only when
    named like an id or as dense as a row counter), or named like an id and unique on 95 % of rows."""
    import pandas

    values = column.dropna()
    if len(values) < MIN_TRAINING_ROWS or pandas.api.types.is_bool_dtype(column.dtype):
        return None
    text = isinstance(column.dtype, pandas.CategoricalDtype) or not pandas.api.types.is_numeric_dtype(
        column.dtype
    )
    if not text and pandas.api.types.is_float_dtype(column.dtype) and not (values == np.round(values)).all():
        return None
    named = bool(ID_NAME.search(str(name)))
    if not named and not values.iloc[:1000].is_unique:  # cheap: an id is unique in its first rows too
        return None
    distinct = values.nunique()
    if distinct == len(values) and (text or named or values.max() - values.min() < 2 * len(values)):
        return "unique on every row, like an identifier: it cannot help score new rows"
    if named and distinct >= 0.95 * len(values):
        return f"named like an identifier and unique on {distinct / len(values):.0%} of rows: it cannot help score new rows"
    return None


ROW_ORDER = "row-order"  # `Problem.split_by`: the file's own row order is the time order


@dataclass(frozen=True)
class Problem:
    target: str
    positive: object
    exclude: tuple[str, ...] = ()
    # None: a random stratified test split. A column (a date or anything ordered) or ROW_ORDER:
    # an out-of-time split, training on the earlier rows and testing on the latest.
    split_by: str | None = None


@dataclass
class PreparedData:
    features: object  # DataFrame
    labels: np.ndarray  # 1 = positive class
    numeric_columns: list[str]
    categorical_columns: list[str]
    dropped_rows: int  # rows without a target value
    source_rows: np.ndarray  # each row's position among the CSV's data rows
    # Columns of dates, turned into days since 1970-01-01: also in `numeric_columns`. A saved
    # model records them as kind "date" with their formats, so that scoring reads them alike.
    date_columns: list[str] = field(default_factory=list)
    date_formats: dict[str, str] = field(default_factory=dict)  # column → `pandas.to_datetime` format
    # Each row's place in time (ranks, ties equal) when the problem is split by time, else None.
    time_order: np.ndarray | None = None
    split_by: str | None = None

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the features and labels themselves: results and saved models name the
        data they were computed on with it, whatever file it came from."""
        import hashlib

        import pandas

        digest = hashlib.sha256()
        digest.update(json.dumps([list(map(str, self.features.columns))]).encode())
        digest.update(pandas.util.hash_pandas_object(self.features, index=False).to_numpy().tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int8).tobytes())
        return "sha256:" + digest.hexdigest()


def problem_for(
    frame,
    source_name: str,
    target: str | None = None,
    positive=None,
    excluded: dict[str, str] | None = None,
    keep_leaky: bool = False,
    split_by: str | None = None,
) -> tuple[Problem, dict[str, str]]:
    """The problem a command line asks for: `target` (None: the suggested one), `positive`
    (None: the rarest class), the default exclusions unless `keep_leaky`, plus `excluded`;
    returns it with every left-out column's reason. A target the table lacks is a
    `DatasetInvalidError` naming its columns."""
    target = target or suggest_target(frame)
    if target not in frame.columns:
        names = list(map(str, frame.columns))
        shown = ", ".join(names[:30]) + (f" … ({len(names)} in all)" if len(names) > 30 else "")
        raise DatasetInvalidError(f"No column named '{target}' in {source_name}; its columns are {shown}.")
    if positive is None:
        values = class_values(frame[target])
        positive = values[0] if values else None
    reasons = {} if keep_leaky else dict(default_exclusions(frame))
    reasons.update(excluded or {})
    return Problem(target, positive, tuple(reasons), split_by), reasons


def prepare(frame, problem: Problem) -> PreparedData:
    """Features and 0/1 labels, or a DatasetInvalidError that says what is wrong."""
    if problem.target not in frame.columns:
        raise DatasetInvalidError(f"No column named '{problem.target}'.")
    target = frame[problem.target]
    labelled = target.notna()
    if int(labelled.sum()) < MIN_TRAINING_ROWS:
        count = int(labelled.sum())
        raise DatasetInvalidError(
            f"The table has {count} row{'s' if count != 1 else ''} with a value of '{problem.target}': "
            f"too few to train and test on (at least {MIN_TRAINING_ROWS} are needed)."
        )
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
    features = features.copy()
    date_formats = {name: fmt for name, fmt in date_columns_of(frame).items() if name in features.columns}
    for name, fmt in date_formats.items():
        features[name] = date_numbers(features[name], fmt)
    numeric = [name for name in features.columns if column_kind(features[name]) == "numeric"]
    categorical = [name for name in features.columns if name not in numeric]
    for name in categorical:
        features[name] = as_categories(features[name])
    return PreparedData(
        features.reset_index(drop=True),
        labels,
        numeric,
        categorical,
        int((~labelled).sum()),
        np.flatnonzero(labelled.to_numpy()),
        list(date_formats),
        date_formats,
        _time_order(frame, labelled, problem),
        problem.split_by,
    )


def _time_order(frame, labelled, problem: Problem) -> np.ndarray | None:
    """Ranks of the labelled rows along `problem.split_by` (equal values, equal ranks), or
    None without one; a DatasetInvalidError when the column cannot order the rows."""
    if problem.split_by is None:
        return None
    if problem.split_by == ROW_ORDER:
        return np.arange(int(labelled.sum()), dtype=float)
    name = problem.split_by
    if name not in frame.columns:
        raise DatasetInvalidError(
            f"No column named '{name}' to split by; give a date or ordered column, or {ROW_ORDER}."
        )
    if name == problem.target:
        raise DatasetInvalidError(f"'{name}' is the target: split by a date or ordered column instead.")
    column = frame.loc[labelled, name]
    dates = date_columns_of(frame)
    if name in dates:
        import pandas

        column = pandas.Series(date_numbers(column, dates[name]), index=column.index)
    elif column_kind(column) != "numeric":
        raise DatasetInvalidError(
            f"Column '{name}' holds text that is not read as dates, and the alphabetical order of "
            "text need not be the order in time: split by a date or number column, or by row order."
        )
    missing = int(column.isna().sum())
    if missing:
        raise DatasetInvalidError(
            f"Column '{name}' has no value on {missing:,} labelled rows, so it cannot say which "
            "rows came later: fill them in or split another way."
        )
    return column.rank(method="min").to_numpy(dtype=float)


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
