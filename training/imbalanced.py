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

import codecs
import contextlib
import csv
import errno
import functools
import json
import os
import re
import shutil
import stat
import tempfile
import time
import warnings
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
HEAD_BYTES = 65536  # the separator, the encoding and the length of a row are sniffed from this
CHUNK_BYTES = 16 << 20  # parsed about this much text at a time, each part made compact at once
MIN_TRAINING_ROWS = 20  # rows with a target value needed to train and test; scoring needs one
DATE_SHARE = 0.95  # a text column holds dates when at least this share of its values are dates
DATE_SAMPLE = 2000  # values of a column that its date format is found on
CATEGORY_SHARE = 0.5  # text with more distinct values than this share of its values stays text
ID_NAME = re.compile(
    r"(?i:^(?:id|uuid|guid)$|[\W_](?:id|uuid|guid)$|^(?:id|uuid|guid)[\W_])|[a-z0-9](?:Id|ID)$"
)
GROUP_MARKS = {"comma": ".' \u00a0\u202f", "point": ",' \u00a0\u202f"}  # thousands separators allowed


def _number_pattern(style: str) -> str:
    """A number with a decimal comma ("comma": 1.234.567,89) or point ("point": 1,234,567.89),
    thousands optionally grouped by one mark. No back-references, so that pandas hands the
    pattern to pyarrow's fast regular expressions."""
    grouped = "|".join(rf"\d{{1,3}}(?:[{mark}]\d{{3}})+" for mark in GROUP_MARKS[style])
    return rf"[+-]?(?:\d+|{grouped})(?:[{',' if style == 'comma' else '.'}]\d+)?"


NUMBER_PATTERNS = {style: _number_pattern(style) for style in GROUP_MARKS}
# What a date looks like before any format is tried: a 4-digit year with numbers, or a month name.
DATE_SHAPE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2}[- ][A-Za-z]{3,9}[- ,]+\d{2,4}"
    r"|[A-Za-z]{3,9} \d{1,2},? \d{4})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AaPp][Mm])?)?(?: ?Z| ?[+-]\d{2}:?\d{2})?"
)


def read_table(path):
    """Any delimited text file as a pandas DataFrame with at least one data row (training needs
    more: `prepare` checks). The separator and the encoding (UTF-8, else Latin-1) are sniffed
    from the first 64 KB; the file is parsed part by part, each part made compact before the
    next is read (text columns become `category` columns, except text that is mostly distinct
    such as free text; text columns whose values are all numbers written with decimal commas or
    thousands separators become numbers), so that the peak memory stays near twice the file's
    size.

    What reading decided travels with the frame, in `frame.attrs` (pandas keeps attrs through
    copies, selections and pickling):
      "reading_notes": a list of sentences for the user, e.g. "Columns 'x', 'y' use decimal
        commas; read as numbers." (empty when there is nothing to say);
      "date_columns": {column: format} of the text columns that hold dates (a format for
        `pandas.to_datetime`); `prepare` and `TabularPredictor.predict` turn them into numbers,
        days since 1970-01-01;
      "separator": the separator.
    """
    import pandas

    path = Path(path)
    _refuse_unless_regular_file(path)
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise DatasetInvalidError(_cannot_read(path, error)) from None
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since it was checked
            raise DatasetInvalidError(f"{path.name} is not a regular file: only files can be read.")
        try:
            head = handle.read(HEAD_BYTES)
        except OSError as error:
            raise DatasetInvalidError(_cannot_read(path, error)) from None
        if not head.strip() and len(head) < HEAD_BYTES:
            raise DatasetInvalidError(f"{path.name} is empty.")
        utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        if b"\x00" in head and not utf16:
            raise DatasetInvalidError(f"{path.name} is not a text table (it contains binary data).")
        encoding = "utf-16" if utf16 else _sniff_encoding(head, whole=len(head) < HEAD_BYTES)
        text = head.decode(encoding, errors="replace")
        if len(head) == HEAD_BYTES and "\n" in text:
            text = text[: text.rfind("\n") + 1]  # whole lines only
        separator = sniff_separator(text)
        rows_per_chunk = max(1000, CHUNK_BYTES * max(text.count("\n"), 1) // max(len(text), 1))
        for attempt in dict.fromkeys((encoding, "latin-1")):
            try:
                frame, notes = _read_compact(handle, separator, attempt, rows_per_chunk)
            except UnicodeDecodeError:  # a byte that is not UTF-8 after the first 64 KB
                continue
            except (pandas.errors.ParserError, pandas.errors.EmptyDataError, ValueError) as error:
                raise DatasetInvalidError(f"{path.name} could not be read as a table: {error}") from None
            except OSError as error:
                raise DatasetInvalidError(_cannot_read(path, error)) from None
            encoding = attempt
            break
    if frame.shape[1] < 2:
        raise DatasetInvalidError(
            f"{path.name} has a single column: it needs a target and at least one feature "
            f"(is the separator one of , ; tab | ?)."
        )
    if len(frame) == 0:
        raise DatasetInvalidError(f"{path.name} has a header but no data rows.")
    frame.columns = [str(column).strip() for column in frame.columns]
    notes.rename(dict(zip(notes.names, frame.columns, strict=True)))
    odd_marks = _numbers_with_odd_marks(frame)
    dates, date_notes = detect_dates(frame)
    encoding_notes = [f"{path.name} is not UTF-8: read as Latin-1."] if encoding == "latin-1" else []
    frame.attrs.update(
        reading_notes=encoding_notes + notes.sentences() + odd_marks + date_notes,
        date_columns=dates,
        separator=separator,
    )
    return frame


def _numbers_with_odd_marks(frame) -> list[str]:
    """Text columns that are numbers but for a few words standing for "unknown" ("unknown",
    "tbd", …: at most `ODD_MARK_SHARE` of the values) become numbers, those words missing;
    one sentence per column says so. Without this the column would be read as text, and a
    column of mostly distinct numbers would even be taken for an identifier."""
    import pandas

    notes = []
    for name in frame.columns:
        column = frame[name]
        if pandas.api.types.is_numeric_dtype(column) or pandas.api.types.is_bool_dtype(column):
            continue
        present = column.dropna()
        if len(present) < 20:
            continue
        # On the distinct values: a text column of millions of rows holds few of them.
        distinct = pandas.Series(present.unique()).astype(str)
        words = distinct[pandas.to_numeric(distinct, errors="coerce").isna()]
        if len(words) == len(distinct) or len(words) > 10 or words.str.contains(r"\d").any():
            continue
        odd_rows = int(present.astype(object).isin(set(words)).sum())
        if odd_rows > ODD_MARK_SHARE * len(present):
            continue
        frame[name] = pandas.to_numeric(column.astype(object).where(column.notna()), errors="coerce")
        shown = ", ".join(f"'{word}'" for word in sorted(words)[:5])
        notes.append(
            f"Column '{name}' holds numbers; {odd_rows} value(s) that are not ({shown}) read as missing."
        )
    return notes


ODD_MARK_SHARE = 0.05


def _refuse_unless_regular_file(path: Path) -> None:
    """Only a regular file (or a link to one) is read: a FIFO would block for ever, a device
    such as /dev/zero never ends, a directory or a socket is no table."""
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except OSError as error:
        raise DatasetInvalidError(_cannot_read(path, error)) from None
    if stat.S_ISREG(mode):
        return
    what = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    raise DatasetInvalidError(f"{path.name} is {what}, not a file: only files can be read as tables.")


def _cannot_read(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"Cannot read {path.name}: it is a symbolic link loop (the link leads back to itself)."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"Cannot read {path.name}: permission denied."
    if error.errno == errno.ENOENT:
        if os.path.islink(path):
            return f"Cannot read {path.name}: it is a symbolic link to a file that does not exist."
        return f"Cannot read {path.name}: no such file."
    return f"Cannot read {path.name}: {error.strerror or error}."


def _sniff_encoding(head: bytes, whole: bool) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)  # may end inside a character
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def sniff_separator(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        first_line = sample.splitlines()[0] if sample else ""
        return max(SEPARATORS, key=first_line.count)


@dataclass
class _NumberText:
    """A part of a text column whose values are all numbers with a decimal comma or with a
    decimal point and thousands separators: read each way that fits (None: does not fit)."""

    comma: np.ndarray | None
    point: np.ndarray | None
    has_comma: bool
    example: str | None  # a value the two readings disagree on (1,234: 1.234 or 1234), if any


@dataclass
class _NumberNotes:
    """How text columns were read as numbers, for the notes."""

    names: list[str] = field(default_factory=list)  # every column's name, as read
    styles: dict[str, str] = field(default_factory=dict)  # column → "comma" | "groups"
    ambiguous: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # value, read as, or

    def rename(self, names: dict[str, str]) -> None:
        self.names = [names.get(name, name) for name in self.names]
        self.styles = {names.get(name, name): style for name, style in self.styles.items()}
        self.ambiguous = {names.get(name, name): values for name, values in self.ambiguous.items()}

    def sentences(self) -> list[str]:
        notes = []
        for style, what in (("comma", "decimal commas"), ("groups", "thousands separators")):
            columns = [name for name in self.names if self.styles.get(name) == style]
            if columns:
                notes.append(f"{_columns_phrase(columns)} {what}; read as numbers.")
        for name, (value, chosen, other) in self.ambiguous.items():
            reading = "decimal comma" if self.styles[name] == "comma" else "thousands separator"
            notes.append(
                f"Column '{name}' has values like '{value}' that could be {chosen:.10g} or {other:.10g}: "
                f"read as {chosen:.10g} ({reading}), the usual reading in this file."
            )
        return notes


# Marks of a missing value beyond pandas' own ("", "NA", "n/a", "null", "None", …), so that a
# "?" among numbers does not turn the whole column into text.
EXTRA_MISSING_MARKS = ["?", "-", "--", "na", "missing"]


def _read_compact(handle, separator: str, encoding: str, rows_per_chunk: int):
    """(the whole table, how text was read as numbers): parsed `rows_per_chunk` rows at a time,
    each part's columns made compact before the next part is read, then joined column by column.
    A column whose parts disagree (numbers in one, text in another) is read again, as text."""
    import pandas

    names, by_column = None, None
    for names, pieces in _parts(handle, separator, encoding, rows_per_chunk):
        by_column = by_column or [[] for _ in names]
        for column, piece in zip(by_column, pieces, strict=True):
            column.append(piece)
    notes = _NumberNotes(list(names))
    joined = {}
    for index, name in enumerate(names):
        pieces, by_column[index] = by_column[index], None
        joined[index] = _join(pieces, separator, notes, name)
    mixed = [index for index, column in joined.items() if column is None]
    if mixed:
        again = [[] for _ in mixed]
        for _names, pieces in _parts(handle, separator, encoding, rows_per_chunk, columns=mixed):
            for column, piece in zip(again, pieces, strict=True):
                column.append(piece)
        for index, pieces in zip(mixed, again, strict=True):
            joined[index] = _numbers_in_text(
                _join(pieces, separator, notes, names[index]), names[index], separator, notes
            )
    return pandas.DataFrame({names[index]: joined[index] for index in range(len(names))}, copy=False), notes


def _parts(handle, separator: str, encoding: str, rows_per_chunk: int, columns=None):
    """(column names, a compact piece per column) for each part of the file: numbers as they
    are, text as a categorical (or as text when mostly distinct), numbers written as text as
    `_NumberText`. With `columns` (their positions), only those columns, all as text."""
    import pandas

    handle.seek(0)
    reader = pandas.read_csv(
        handle,
        sep=separator,
        skipinitialspace=True,
        encoding=encoding,
        chunksize=rows_per_chunk,
        low_memory=False,
        na_values=EXTRA_MISSING_MARKS,
        usecols=columns,
        dtype=None if columns is None else str,
    )
    with reader:
        for part in reader:
            pieces = [
                _compact(part.iloc[:, index], numbers=columns is None) for index in range(part.shape[1])
            ]
            yield list(part.columns), pieces
            del part, pieces


def _compact(column, numbers: bool):
    kind = _piece_kind(column)
    if kind in ("empty", "integer", "float", "bool"):
        return column.copy()  # its own memory, not a view of the part's block
    found = _number_text(column) if numbers else None
    if found is not None:
        return found
    # `skipinitialspace` drops spaces before a value only: "yes " and "yes" are one class.
    column = column.str.strip().replace("", np.nan)
    if column.nunique() > CATEGORY_SHARE * column.notna().sum():  # mostly distinct: cheaper as text
        return column.astype("str")
    return column.astype("category")


def _piece_kind(piece) -> str:
    import pandas

    if isinstance(piece, _NumberText):
        return "number text"
    if isinstance(piece.dtype, pandas.CategoricalDtype):
        return "text"
    if not piece.notna().any():
        return "empty"
    if pandas.api.types.is_bool_dtype(piece.dtype):
        return "bool"
    if pandas.api.types.is_integer_dtype(piece.dtype):
        return "integer"
    if pandas.api.types.is_float_dtype(piece.dtype):
        return "float"
    if pandas.api.types.infer_dtype(piece, skipna=True) == "boolean":  # True/False with gaps
        return "bool"
    return "text"


def _number_text(column) -> _NumberText | None:
    """The text column read as numbers, each way its values fit, or None."""
    values = column.str.strip()
    distinct = values.dropna().drop_duplicates()
    fits = {style: bool(distinct.str.fullmatch(pattern).all()) for style, pattern in NUMBER_PATTERNS.items()}
    if not any(fits.values()):
        return None
    readings = {style: _parse_numbers(values, style) if fits[style] else None for style in fits}
    example = None
    if fits["comma"] and fits["point"]:
        differ = ~np.isclose(readings["comma"], readings["point"], equal_nan=True)
        if differ.any():
            example = str(values.iloc[int(np.flatnonzero(differ)[0])])
    has_comma = bool(distinct.str.contains(",", regex=False).any())
    return _NumberText(readings["comma"], readings["point"], has_comma, example)


def _parse_numbers(values, style: str) -> np.ndarray:
    import pandas

    cleaned = values.str.replace(f"[{GROUP_MARKS[style]}]", "", regex=True)
    if style == "comma":
        cleaned = cleaned.str.replace(",", ".", regex=False)
    try:  # pyarrow's conversion is ten times faster than Python's
        return cleaned.astype("float64[pyarrow]").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError, ImportError):
        return pandas.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float)


def _join(pieces: list, separator: str, notes: _NumberNotes, name: str):
    """One column from its pieces, or None when they disagree (numbers and text)."""
    import pandas
    from pandas.api.types import union_categoricals

    kinds = {_piece_kind(piece) for piece in pieces} - {"empty"}
    if kinds <= {"integer", "float"} or kinds == {"bool"}:
        return pandas.concat(pieces, ignore_index=True)
    if "number text" in kinds and kinds <= {"number text", "integer"}:
        return _join_numbers(pieces, separator, notes, name)
    if kinds != {"text"}:
        return None
    present = [piece for piece in pieces if _piece_kind(piece) != "empty"]
    if not all(isinstance(piece.dtype, pandas.CategoricalDtype) for piece in present):  # mostly distinct
        return pandas.concat([piece.astype("str") for piece in pieces], ignore_index=True)
    template = next(piece for piece in pieces if isinstance(piece.dtype, pandas.CategoricalDtype))
    empty = pandas.CategoricalDtype(template.cat.categories[:0])
    arrays = [
        piece.array
        if isinstance(piece.dtype, pandas.CategoricalDtype)
        else pandas.Categorical.from_codes(np.full(len(piece), -1, dtype=np.int8), dtype=empty)
        for piece in pieces
    ]
    try:
        return pandas.Series(union_categoricals(arrays))
    except TypeError:  # categories of different types: all as text
        texts = [pandas.Series(array, dtype=object).astype("str") for array in arrays]
        return pandas.concat(texts, ignore_index=True).astype("category")


def _join_numbers(pieces: list, separator: str, notes: _NumberNotes, name: str):
    """Pieces of numbers written as text (and plain whole numbers) as one float column, read
    the way every piece fits; where both fit but disagree (1,234), with a decimal comma unless
    the separator is ','. None when no one way fits every piece."""
    import pandas

    texts = [piece for piece in pieces if isinstance(piece, _NumberText)]
    fits = [
        style for style in ("comma", "point") if all(getattr(piece, style) is not None for piece in texts)
    ]
    if not fits:
        return None
    example = next((piece.example for piece in texts if piece.example is not None), None)
    style = fits[0] if len(fits) == 1 or example is None else ("point" if separator == "," else "comma")
    parts = [
        getattr(piece, style) if isinstance(piece, _NumberText) else piece.to_numpy(dtype=float)
        for piece in pieces
    ]
    has_comma = any(piece.has_comma for piece in texts)
    notes.styles[name] = "comma" if style == "comma" and has_comma else "groups"
    if example is not None:
        other = "point" if style == "comma" else "comma"
        (chosen,), (alternative,) = (_parse_numbers(pandas.Series([example]), key) for key in (style, other))
        notes.ambiguous[name] = (example, chosen, alternative)
    return pandas.Series(np.concatenate(parts))


def _numbers_in_text(column, name: str, separator: str, notes: _NumberNotes):
    """A text column read again whole (its parts disagreed) as numbers if its values all are;
    a categorical one is tried on its categories."""
    import pandas

    categorical = isinstance(column.dtype, pandas.CategoricalDtype)
    values = pandas.Series(column.cat.categories, dtype="str") if categorical else column
    found = _number_text(values) if len(values) else None
    numbers = None if found is None else _join_numbers([found], separator, notes, name)
    if numbers is None or not categorical:
        return column if numbers is None else numbers
    codes = column.cat.codes.to_numpy()
    return pandas.Series(np.where(codes >= 0, numbers.to_numpy()[codes], np.nan))


def _columns_phrase(names: list[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"Columns {quoted} use" if len(names) > 1 else f"Column {quoted} uses"


def detect_dates(frame) -> tuple[dict[str, str], list[str]]:
    """{column: format} of the text columns whose values are dates (at least 95 % of them, as
    far as a sample of up to 2,000 values tells), and a note on each for the user."""
    formats, notes = {}, []
    for name in frame.columns:
        found = _date_format(frame[name])
        if found is None:
            continue
        formats[name], ambiguous = found
        shown = "ISO 8601" if formats[name] == "ISO8601" else formats[name]
        notes.append(
            f"Column '{name}' holds dates ({shown}"
            + (", its values fit day/month and month/day alike: read as day/month" if ambiguous else "")
            + "); used as a number: days since 1970-01-01."
        )
    return formats, notes


def date_columns_of(frame) -> dict[str, str]:
    """The frame's date columns: as `read_table` found them, else found now."""
    if "date_columns" in frame.attrs:
        return {name: fmt for name, fmt in frame.attrs["date_columns"].items() if name in frame.columns}
    return detect_dates(frame)[0]


def _date_sample(column):
    """(up to DATE_SAMPLE values of a text column as a str Series, how many rows each stands
    for), or None for a column that is not text: a categorical's distinct values with their
    counts, else rows taken evenly through the column."""
    import pandas

    if isinstance(column.dtype, pandas.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
        step = max(1, len(counts) // DATE_SAMPLE)
        values = pandas.Series(column.cat.categories[::step][:DATE_SAMPLE], dtype="str")
        return values, counts[::step][:DATE_SAMPLE]
    if pandas.api.types.is_string_dtype(column.dtype) or column.dtype == object:
        values = column.iloc[:: max(1, len(column) // DATE_SAMPLE)].dropna().iloc[:DATE_SAMPLE]
        return pandas.Series(values.to_numpy(), dtype="str"), np.ones(len(values))
    return None


def _date_format(column) -> tuple[str, bool] | None:
    """(format, whether day and month could be either way round) of a text column of dates,
    found on a sample of its values, or None."""
    import pandas
    from pandas.tseries.api import guess_datetime_format

    if pandas.api.types.is_datetime64_any_dtype(column.dtype):
        return "ISO8601", False
    found = _date_sample(column)
    if found is None or len(found[0]) == 0:
        return None
    sample, weights = found[0].str.strip(), found[1]
    if (weights * sample.str.fullmatch(DATE_SHAPE).to_numpy(dtype=bool)).sum() < DATE_SHARE * weights.sum():
        return None
    year_first = bool(sample.str.match(r"\d{4}").all())
    candidates = ["ISO8601"] if sample.str.match(r"\d{4}-\d{1,2}-\d{1,2}").all() else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Parsing dates in %Y-%m-%d format when dayfirst=True…"
        for value in sample.iloc[:20]:
            for dayfirst in (False, True) if year_first else (True, False):
                guess = guess_datetime_format(value, dayfirst=dayfirst)
                if guess and guess not in candidates:
                    candidates.append(guess)
        if not candidates:
            return None
        parsed = [_parse_dates(sample, fmt) for fmt in candidates]
    shares = [(weights * moments.notna().to_numpy()).sum() / weights.sum() for moments in parsed]
    best = int(np.argmax(shares))  # the first best: day/month before month/day
    if shares[best] < DATE_SHARE:
        return None
    fmt, moments = candidates[best], parsed[best]
    # Day and month either way round: every day is at most 12 (then the other order parses too).
    ambiguous = not year_first and "%d" in fmt and "%m" in fmt and bool((moments.dropna().dt.day <= 12).all())
    return fmt, ambiguous


def _parse_dates(values, fmt: str):
    import pandas

    return pandas.to_datetime(values, format=fmt, errors="coerce", utc=True)


def date_numbers(column, fmt: str | None) -> np.ndarray:
    """A column of dates (text in format `fmt`, or datetimes) as days since 1970-01-01, NaN where
    a value is missing or not a date. Each distinct text is parsed once."""
    import pandas

    epoch = pandas.Timestamp("1970-01-01", tz="UTC")
    day = pandas.Timedelta(days=1)
    if pandas.api.types.is_datetime64_any_dtype(column.dtype):
        moments = column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
        return ((moments - epoch) / day).to_numpy(dtype=float, na_value=np.nan)
    if isinstance(column.dtype, pandas.CategoricalDtype):
        codes, uniques = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, uniques = pandas.factorize(column)
    if fmt is None or len(uniques) == 0:
        return np.full(len(column), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = _parse_dates(pandas.Series(uniques, dtype="str").str.strip(), fmt)
    days = ((parsed - epoch) / day).to_numpy(dtype=float, na_value=np.nan)
    return np.where(codes >= 0, days[codes], np.nan)


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
    # Columns of dates, turned into days since 1970-01-01: also in `numeric_columns`. A saved
    # model records them as kind "date" with their formats, so that scoring reads them alike.
    date_columns: list[str] = field(default_factory=list)
    date_formats: dict[str, str] = field(default_factory=dict)  # column → `pandas.to_datetime` format

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
    """ROC and PR AUC, and the figures credit teams read beside them (KS, Gini, Brier, ECE)."""
    from sklearn import metrics

    from training.probability_figures import separation_figures

    return {
        "roc_auc": float(metrics.roc_auc_score(labels, probabilities)),
        "pr_auc": float(metrics.average_precision_score(labels, probabilities)),
        **separation_figures(labels, probabilities),
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
    data_fingerprint: str = ""  # PreparedData.fingerprint of the data it was computed on

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
            "ks": self.ranking["ks"],
            "gini": self.ranking["gini"],
            "brier": self.ranking["brier"],
            "ece": self.ranking["ece"],
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
            result.data_fingerprint = data.fingerprint
            results.append(result)
            if on_result is not None:
                on_result(result)
    report(Progress("grid", len(grid), len(grid), "done", elapsed_seconds=time.perf_counter() - started))
    return results


def run_configurations(frame, problem: Problem, chosen, settings: GridSettings, scratch_dir, channel):
    """The GUI's grid, run in a child process: sends the prepared data, the split, then each
    result as it is done, through `channel` (post / report / cancelled). Fitted pipelines are
    written to `scratch_dir` rather than sent, as a forest can weigh tens of megabytes."""
    from training.pipeline_files import SUFFIX, save_pipeline

    data = prepare(frame, problem)
    channel.post(data)
    parts = split(data, settings)
    channel.post(parts)

    def send(result: ConfigurationResult) -> None:
        result.pipeline_file = Path(scratch_dir) / f"{result.model}-{result.method}{SUFFIX}"
        save_pipeline(result.pipeline, result.pipeline_file)
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


def file_fingerprint(path) -> str:
    """The fingerprint a saved model records for the CSV it was trained on (take it when the
    file is read: the file may change afterwards)."""
    from training.datasets import sha256_file

    return "sha256:" + sha256_file(path)


def threshold_warning(result: ConfigurationResult, test_labels: np.ndarray, threshold: float) -> str | None:
    """A sentence when `threshold` flags no test row or every one (a model that never or
    always says yes), else None."""
    flagged = int((result.test_probabilities >= threshold).sum())
    if flagged == 0:
        return f"At threshold {threshold:.3f} the model flags none of the {len(test_labels):,} test rows."
    if flagged == len(test_labels):
        return (
            f"At threshold {threshold:.3f} the model flags every one of the {len(test_labels):,} test rows."
        )
    return None


def best_configuration(results: Sequence[ConfigurationResult]) -> ConfigurationResult:
    """The configuration a command-line `--save` keeps: the best test PR AUC (the figure that
    ranks models on the rare class), ties to the earlier one in the grid."""
    if not results:
        raise ValueError("There is no configuration to save: the grid produced no result.")
    return max(results, key=lambda result: (result.ranking["pr_auc"], -results.index(result)))


def save_configuration(
    result: ConfigurationResult,
    data: PreparedData,
    problem: Problem,
    threshold: float,
    label: str,
    registry,
    source=None,
    source_fingerprint: str | None = None,
):
    """Register the configuration's pipeline (fitted on the whole training part of `data`)
    with its threshold, as the user's model `label`. `source` and `source_fingerprint` name
    the CSV as it was read. The pipeline is saved in formats that cannot run code when loaded
    (see `training.pipeline_files`)."""
    from datetime import UTC, datetime

    from training.keras_setup import library_versions
    from training.pipeline_files import SUFFIX, save_pipeline
    from training.registry import publish

    if result.data_fingerprint != data.fingerprint:
        raise DatasetInvalidError(
            "These results were computed on other data than the table now loaded: run the grid "
            "again before saving a model."
        )
    record = {
        "tool": "imbalanced",
        "description": f"{MODEL_LABELS[result.model]} + {METHOD_LABELS[result.method]} on {problem.target}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": result.model,
        "method": result.method,
        "target": problem.target,
        "positive": str(problem.positive),
        "excluded": list(problem.exclude),
        "columns": saved_columns(data),
        "date_formats": data.date_formats,
        "threshold": float(threshold),
        "data": {
            "file": Path(source).name if source else None,
            "fingerprint": source_fingerprint or (file_fingerprint(source) if source else None),
            "rows": len(data.labels),
            "positives": int(data.labels.sum()),
            "prepared_fingerprint": data.fingerprint,
        },
        "library_versions": library_versions(),
        "metrics": {key: value for key, value in result.to_json().items() if isinstance(value, float)},
    }

    def write(path: Path) -> None:
        if result.pipeline is None:
            shutil.copyfile(result.pipeline_file, path)
        else:
            save_pipeline(result.pipeline, path)

    return publish(registry, model_name(label), SUFFIX, write, record)


def saved_columns(data: PreparedData) -> dict[str, str]:
    """Each feature column and how prediction must read it, in the pipeline's order."""
    # Dates last: they are also numeric columns, and prediction must parse them as dates.
    return (
        {name: "numeric" for name in data.numeric_columns}
        | {name: "categorical" for name in data.categorical_columns}
        | {name: "date" for name in data.date_columns}
    )


class TabularPredictor:
    """A saved pipeline + threshold that scores new rows with the same columns."""

    def __init__(self, pipeline, entry):
        self.pipeline = pipeline
        self.entry = entry
        self.columns: dict[str, str] = entry.record["columns"]
        self.threshold = float(entry.record["threshold"])

    @classmethod
    def load(cls, name: str, registry=None) -> TabularPredictor:
        from training.errors import ModelNotFoundError
        from training.pipeline_files import SUFFIX, load_pipeline
        from training.registry import ModelRegistry

        registry = registry or ModelRegistry()
        entry = registry.entry(name)
        if entry.record.get("tool") != "imbalanced":
            raise ModelNotFoundError(f"{name} is not a model saved from the Imbalanced tool.")
        if entry.path.suffix != SUFFIX:
            raise ModelNotFoundError(
                f"{name} was saved by an older version of the app in a format that can run code "
                "when loaded, so it is not loaded: save the configuration again."
            )
        path, entry = registry.verified_path(name)
        return cls(load_pipeline(path), entry)

    def predict(self, frame) -> tuple[np.ndarray, np.ndarray]:
        """(probability of the positive class, flagged at the saved threshold) per row."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise DatasetInvalidError(
                f"The table lacks column(s) the model was trained on: {', '.join(missing)}."
            )
        features = frame[list(self.columns)].copy()
        date_formats = self.entry.record.get("date_formats") or {}
        for name, kind in self.columns.items():
            if kind == "categorical":
                features[name] = as_categories(features[name])
            elif kind == "date":
                fmt = date_formats.get(name) or date_columns_of(frame).get(name)
                features[name] = _dates(features[name], name, fmt)
            else:
                features[name] = _numbers(features[name], name)
        probabilities = self.pipeline.predict_proba(features)[:, 1]
        return probabilities, probabilities >= self.threshold


def _numbers(column, name: str):
    """A column the model was trained on as numbers, or a DatasetInvalidError that names the
    column, the first data row holding something else, and that value."""
    import pandas

    values = column.astype(object) if isinstance(column.dtype, pandas.CategoricalDtype) else column
    converted = pandas.to_numeric(values, errors="coerce")
    _refuse_unconverted(column, converted.isna().to_numpy(), name, "numbers", tolerated=0.0)
    return converted


def _dates(column, name: str, fmt: str | None) -> np.ndarray:
    """A column the model was trained on as dates, as days since 1970-01-01; as in training, up
    to 5 % of values that are not dates count as missing."""
    days = date_numbers(column, fmt)
    _refuse_unconverted(column, np.isnan(days), name, "dates", tolerated=1 - DATE_SHARE)
    return days


def _refuse_unconverted(column, failed: np.ndarray, name: str, what: str, tolerated: float) -> None:
    present = column.notna().to_numpy()
    bad = failed & present
    if bad.sum() > tolerated * present.sum():
        position = int(np.flatnonzero(bad)[0])
        raise DatasetInvalidError(
            f"Column '{name}' should hold {what}, as in the training data, but data row {position + 1} "
            f"(counting from 1 below the header) holds '{column.iloc[position]}'"
            + (f", and {int(bad.sum()) - 1:,} more rows hold no {what} either." if bad.sum() > 1 else ".")
        )
