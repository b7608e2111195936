"""Reading any CSV a user brings: separator, encoding, decimal commas, thousands marks, dates, missing values."""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.core.errors import DatasetInvalidError

SEPARATORS = ",;\t|"


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
