"""Reading CSV files in the Imbalanced tool: decimal commas, short files, files that are not
files, identifiers and dates, compact dtypes, and clean messages on bad input."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas
import pytest

from tests.helpers import write_mixed_csv, write_pair
from training import __main__ as cli
from training import imbalanced
from training.core.errors import DatasetInvalidError
from training.imbalanced import csv_reading


def predictor_for(pipeline, columns: dict[str, str], **record) -> imbalanced.TabularPredictor:
    """A predictor around a fitted pipeline, without the registry."""
    entry = SimpleNamespace(record={"columns": columns, "threshold": 0.5, "positive": "yes", **record})
    return imbalanced.TabularPredictor(imbalanced.SavedPipeline(pipeline), entry)


def fitted_pipeline(data: imbalanced.PreparedData):
    pipeline = imbalanced.build_pipeline("logistic_regression", "none", data, data.labels)
    return pipeline.fit(data.features, data.labels)


def saved_columns(data: imbalanced.PreparedData) -> dict[str, str]:
    """What `save_configuration` must write as the record's "columns"."""
    return (
        {name: "numeric" for name in data.numeric_columns}
        | {name: "categorical" for name in data.categorical_columns}
        | {name: "date" for name in data.date_columns}
    )


def read_in_thread(path, seconds: float = 10.0):
    """read_table(path) in a thread, so that a hang fails the test instead of blocking it."""
    outcome = {}

    def read():
        try:
            outcome["frame"] = imbalanced.read_table(path)
        except BaseException as error:  # noqa: BLE001 (handed to the test)
            outcome["error"] = error

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    return reader.is_alive(), outcome


# 1. an unknown target ---------------------------------------------------------------------------
def test_an_unknown_target_without_positive_is_a_one_line_error(tmp_path, capsys):
    dots, _commas = write_pair(tmp_path, rows=100)
    status = cli.main(["imbalanced", "--csv", str(dots), "--target", "nope", "--json"])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "'nope'" in lines[-1] and "x1" in lines[-1]
    assert "Traceback" not in captured.err


# 4. decimal commas and thousands separators ----------------------------------------------------------
def test_decimal_commas_read_as_the_same_numbers_and_give_the_same_model(tmp_path):
    dots, commas = write_pair(tmp_path)
    assert "0,1" in commas.read_text() or "-0,1" in commas.read_text()
    with_points, with_commas = imbalanced.read_table(dots), imbalanced.read_table(commas)
    for name in ("x1", "x2"):
        assert pandas.api.types.is_float_dtype(with_commas[name])
        np.testing.assert_array_equal(with_commas[name].to_numpy(), with_points[name].to_numpy())
    assert with_commas.attrs["reading_notes"] == ["Columns 'x1', 'x2' use decimal commas; read as numbers."]
    assert with_points.attrs["reading_notes"] == []
    kinds = {column.name: column.kind for column in imbalanced.describe_columns(with_commas)}
    assert kinds == {"x1": "numeric", "x2": "numeric", "colour": "categorical", "y": "categorical"}

    problem = imbalanced.Problem("y", "yes")
    settings = imbalanced.GridSettings(folds=3)
    aucs = []
    for frame in (with_points, with_commas):
        data = imbalanced.prepare(frame, problem)
        assert data.numeric_columns == ["x1", "x2"] and data.categorical_columns == ["colour"]
        _parts, (result,) = imbalanced.run_grid(data, ["logistic_regression"], ["none"], settings)
        aucs.append(result.ranking["roc_auc"])
    assert aucs[1] == pytest.approx(aucs[0], abs=1e-12) and aucs[0] > 0.8


def test_thousands_separators_and_ambiguous_values_are_read_and_stated(tmp_path):
    semicolons = tmp_path / "amounts.csv"
    semicolons.write_text(
        "grouped;points;ambiguous;spaced;words;y\n"
        "1.234,56;1,234.5;1,234;12 345,5;a,b;no\n"
        "12,5;2,000,000.25;2,500;7;c;yes\n"
        "-999;-3.5;;1 000;d,e;no\n"
    )
    frame = imbalanced.read_table(semicolons)
    assert frame["grouped"].tolist() == [1234.56, 12.5, -999.0]
    assert frame["points"].tolist() == [1234.5, 2000000.25, -3.5]
    assert frame["spaced"].tolist() == [12345.5, 7.0, 1000.0]
    assert frame["ambiguous"].iloc[:2].tolist() == [1.234, 2.5]  # decimal comma in a ';' file
    assert frame["words"].tolist() == ["a,b", "c", "d,e"]
    notes = frame.attrs["reading_notes"]
    assert "Columns 'grouped', 'ambiguous', 'spaced' use decimal commas; read as numbers." in notes
    assert "Column 'points' uses thousands separators; read as numbers." in notes
    assert any("'1,234' that could be 1.234 or 1234: read as 1.234" in note for note in notes), notes

    commas = tmp_path / "quoted.csv"
    commas.write_text('amount,y\n"1,234",no\n"2,500",yes\n17,no\n')
    frame = imbalanced.read_table(commas)
    assert frame["amount"].tolist() == [1234.0, 2500.0, 17.0]  # thousands in a ',' file
    assert any("read as 1234" in note for note in frame.attrs["reading_notes"])


def test_the_command_line_states_decimal_commas_dates_and_exclusions(tmp_path, capsys):
    _dots, commas = write_pair(tmp_path, rows=400)
    table = pandas.read_csv(commas, sep=";", decimal=",")
    table.insert(0, "customer_id", [f"C{index:05d}" for index in range(len(table))])
    table["opened"] = pandas.date_range("2020-01-01", periods=len(table), freq="D").strftime("%d/%m/%Y")
    table.to_csv(commas, index=False, sep=";", decimal=",")
    status = cli.main(
        [
            "imbalanced",
            "--csv",
            str(commas),
            "--models",
            "dummy",
            "--methods",
            "none",
            "--json",
            "--folds",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Columns 'x1', 'x2' use decimal commas; read as numbers." in captured.err
    assert "Column 'opened' holds dates" in captured.err
    assert "excluding 'customer_id': unique on every row" in captured.err
    (row,) = [json.loads(line) for line in captured.out.splitlines()]
    assert row["model"] == "dummy" and "roc_auc" in row  # the contract's keys stay
    assert list(row["excluded"]) == ["customer_id"] and row["date_columns"] == ["opened"]


# 5. scoring needs one row, training twenty ------------------------------------------------------
def test_one_row_is_read_for_scoring_and_refused_for_training(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("amount;channel;y\n12,5;web;yes\n")
    frame = imbalanced.read_table(path)
    assert frame.shape == (1, 3) and frame["amount"].tolist() == [12.5]
    with pytest.raises(DatasetInvalidError, match="1 row.*too few to train and test on"):
        imbalanced.prepare(frame, imbalanced.Problem("y", "yes"))
    (tmp_path / "header.csv").write_text("amount;channel;y\n")
    with pytest.raises(DatasetInvalidError, match="no data rows"):
        imbalanced.read_table(tmp_path / "header.csv")


def test_a_saved_model_scores_a_single_row(tmp_path):
    dots, _commas = write_pair(tmp_path, rows=300)
    data = imbalanced.prepare(imbalanced.read_table(dots), imbalanced.Problem("y", "yes"))
    predictor = predictor_for(fitted_pipeline(data), saved_columns(data))
    single = tmp_path / "single.csv"
    single.write_text("x1;x2;colour\n0,5;-1,25;green\n")
    scored = predictor.score(imbalanced.read_table(single))
    probabilities, flagged = scored.probabilities, scored.flagged
    expected = predictor.saved.pipeline.predict_proba(
        pandas.DataFrame({"x1": [0.5], "x2": [-1.25], "colour": ["green"]})
    )[:, 1]
    assert probabilities == pytest.approx(expected) and flagged.shape == (1,)


# 6. anything but a regular file is refused at once --------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    hung, outcome = read_in_thread(fifo)
    if hung:  # unblock the reader: open the pipe for writing, then close it
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not hung, "reading a FIFO blocked"
    assert isinstance(outcome.get("error"), DatasetInvalidError)
    assert "pipe.csv is a named pipe (FIFO)" in str(outcome["error"])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: Path("/dev/zero"), "zero is a device"),
        (lambda folder: folder, "is a folder"),
        (lambda folder: _symlink(folder / "loop.csv", folder / "loop.csv"), "symbolic link loop"),
        (
            lambda folder: _symlink(folder / "dangling.csv", folder / "gone.csv"),
            "link to a file that does not",
        ),
        (lambda folder: folder / "absent.csv", "no such file"),
    ],
)
def test_things_that_are_not_files_get_a_message_at_once(tmp_path, make, message):
    hung, outcome = read_in_thread(make(tmp_path))
    assert not hung, "reading blocked"
    assert isinstance(outcome.get("error"), DatasetInvalidError), outcome
    assert message in str(outcome["error"])


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def test_a_socket_is_refused(tmp_path):
    import socket

    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets")
    path = tmp_path / "s.csv"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(DatasetInvalidError, match="is a socket"):
            imbalanced.read_table(path)


def test_permission_denied_says_so(tmp_path, monkeypatch):
    path = tmp_path / "locked.csv"
    path.write_text("a,y\n1,yes\n")

    def refuse(*_arguments, **_keywords):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(csv_reading, "open", refuse, raising=False)  # root can read a 0o000 file
    with pytest.raises(DatasetInvalidError, match="locked.csv: permission denied"):
        imbalanced.read_table(path)


# 7. identifiers and dates ----------------------------------------------------------------------------
def test_identifiers_are_left_out_by_default_and_measurements_are_not(tmp_path):
    rows = 500
    generator = np.random.default_rng(3)
    frame = pandas.DataFrame(
        {
            "transaction_id": np.arange(1000, 1000 + rows),  # a counter
            "reference": [f"R{value:08x}" for value in generator.permutation(10**6)[:rows]],  # text, unique
            "clientId": np.r_[generator.permutation(10**6)[: rows - 5], [7, 7, 7, 7, 7]],  # named, 99 %
            "balance": generator.normal(1000, 300, rows).round(2),  # unique floats with decimals
            "income": generator.integers(10**4, 10**7, rows),  # unique whole numbers, not an id
            "age": generator.integers(18, 90, rows),
            "y": generator.choice(["yes", "no"], rows),
        }
    )
    assert frame["income"].is_unique and frame["balance"].is_unique
    path = tmp_path / "clients.csv"
    frame.to_csv(path, index=False)
    excluded = imbalanced.default_exclusions(imbalanced.read_table(path))
    assert list(excluded) == ["transaction_id", "reference", "clientId"]
    assert (
        "unique on every row" in excluded["reference"] and "named like an identifier" in excluded["clientId"]
    )
    small = pandas.DataFrame({"id": range(10), "y": ["yes", "no"] * 5})
    assert imbalanced.default_exclusions(small) == {}  # too few rows to tell
    bank = imbalanced.read_table(write_mixed_csv(tmp_path / "mixed.csv", rows=300))
    assert list(imbalanced.default_exclusions(bank)) == ["transaction_id"]


@pytest.mark.parametrize(
    ("style", "ambiguous"),
    [("%Y-%m-%d", False), ("%d/%m/%Y", False), ("%Y-%m-%d %H:%M", False), ("%d.%m.%Y", True)],
)
def test_dates_become_days_in_training_and_in_prediction_alike(tmp_path, style, ambiguous):
    rows = 600
    generator = np.random.default_rng(11)
    moments = pandas.Timestamp("2021-01-01") + pandas.to_timedelta(generator.integers(0, 3 * 365, rows), "D")
    if ambiguous:  # days 1–12 only: day/month or month/day alike
        moments = pandas.DatetimeIndex(
            pandas.to_datetime(
                {"year": moments.year, "month": moments.month, "day": generator.integers(1, 13, rows)}
            )
        )
    late = (moments - moments.min()).days.to_numpy() / 1000
    score = 2.5 * late + generator.normal(0, 0.5, rows)
    frame = pandas.DataFrame(
        {
            "opened": moments.strftime(style),
            "amount": generator.normal(0, 1, rows).round(3),
            "y": np.where(score > np.quantile(score, 0.85), "yes", "no"),
        }
    )
    frame.loc[[3, 50], "opened"] = np.nan
    path = tmp_path / "dated.csv"
    frame.to_csv(path, index=False)
    table = imbalanced.read_table(path)
    assert list(table.attrs["date_columns"]) == ["opened"]
    (note,) = [note for note in table.attrs["reading_notes"] if "'opened'" in note]
    assert "days since 1970-01-01" in note and ("day/month" in note) == ambiguous
    kinds = {column.name: column.kind for column in imbalanced.describe_columns(table)}
    assert kinds["opened"] == "date" and "opened" not in imbalanced.default_exclusions(table)

    data = imbalanced.prepare(table, imbalanced.Problem("y", "yes"))
    assert data.date_columns == ["opened"] and "opened" in data.numeric_columns
    assert data.date_formats == {"opened": table.attrs["date_columns"]["opened"]}
    expected = ((moments - pandas.Timestamp("1970-01-01")) / pandas.Timedelta(days=1)).to_numpy(
        dtype=float, copy=True
    )
    expected[[3, 50]] = np.nan
    np.testing.assert_allclose(data.features["opened"].to_numpy(dtype=float), expected)

    predictor = predictor_for(fitted_pipeline(data), saved_columns(data), date_formats=data.date_formats)
    (tmp_path / "new.csv").write_text("opened,amount\n" + f"{moments[0].strftime(style)},0.5\n")
    probability = predictor.score(imbalanced.read_table(tmp_path / "new.csv")).probabilities
    single = pandas.DataFrame({"opened": [expected[0]], "amount": [0.5]})
    assert probability == pytest.approx(predictor.saved.pipeline.predict_proba(single)[:, 1])
    whole = predictor.score(table).probabilities
    assert whole == pytest.approx(
        predictor.saved.pipeline.predict_proba(data.features[["opened", "amount"]])[:, 1]
    )
    (tmp_path / "bad.csv").write_text("opened,amount\nsoon,0.5\n")
    with pytest.raises(DatasetInvalidError, match=r"'opened' should hold dates.*data row 1.*'soon'"):
        predictor.score(imbalanced.read_table(tmp_path / "bad.csv"))


def test_text_that_only_looks_like_dates_stays_text(tmp_path):
    path = tmp_path / "versions.csv"
    path.write_text(
        "version,when,y\n"
        + "".join(f"1.{i}.3,2024-13-{i:02d},{'yes' if i % 2 else 'no'}\n" for i in range(1, 30))
    )
    table = imbalanced.read_table(path)
    assert table.attrs["date_columns"] == {}


# 10. compact reading ---------------------------------------------------------------------------------
def test_text_becomes_categories_and_values_stay_as_before(tmp_path, monkeypatch):
    path = write_mixed_csv(tmp_path / "mixed.csv", rows=3000)
    frame = imbalanced.read_table(path)
    reference = pandas.read_csv(path, sep=";", skipinitialspace=True)
    for name in ("channel", "country", "note", "fraud"):
        assert isinstance(frame[name].dtype, pandas.CategoricalDtype), name
        assert frame[name].astype(object).equals(reference[name].astype(object)), name
    for name in ("transaction_id", "amount", "age"):
        assert frame[name].equals(reference[name]), name
    monkeypatch.setattr(csv_reading, "CHUNK_BYTES", 2000)  # many small parts
    assert imbalanced.read_table(path).equals(frame)


def test_a_column_numeric_early_and_text_late_is_read_whole_as_text(tmp_path, monkeypatch):
    lines = [
        f"{index},{index % 7},{'late' if index > 2500 else ''},{f'n{index}' if index > 2500 else ''},"
        f"{'yes' if index % 5 == 0 else 'no'}"
        for index in range(3000)
    ]
    lines[2900] = "2900,x7,late,n2900,no"  # a code, not a word for "unknown": the column is text
    path = tmp_path / "late.csv"
    path.write_text("row,code,sparse,distinct,y\n" + "\n".join(lines) + "\n")
    monkeypatch.setattr(csv_reading, "CHUNK_BYTES", 4000)
    frame = imbalanced.read_table(path)
    assert isinstance(frame["code"].dtype, pandas.CategoricalDtype)
    assert frame["code"].iloc[[0, 1, 2900]].tolist() == ["0", "1", "x7"]
    assert isinstance(frame["sparse"].dtype, pandas.CategoricalDtype)  # empty in the first parts
    assert frame["sparse"].isna().sum() == 2501 and frame["sparse"].iloc[-1] == "late"
    assert pandas.api.types.is_string_dtype(frame["distinct"]) and frame["distinct"].iloc[2999] == "n2999"
    assert frame["distinct"].isna().sum() == 2501
    assert frame["row"].dtype == np.int64 and len(frame) == 3000


def test_leading_spaces_latin_1_and_a_byte_order_mark(tmp_path, monkeypatch):
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("a, b, y\n1, 2.5, yes\n2, 3.5, no\n")
    frame = imbalanced.read_table(spaced)
    assert list(frame.columns) == ["a", "b", "y"] and frame["y"].tolist() == ["yes", "no"]
    assert frame["b"].tolist() == [2.5, 3.5]
    latin = tmp_path / "latin.csv"
    monkeypatch.setattr(csv_reading, "HEAD_BYTES", 64)  # the non-UTF-8 byte comes after the head
    latin.write_bytes(b"city;y\n" + b"Paris;no\n" * 20 + "Zürich;yes\n".encode("latin-1"))
    frame = imbalanced.read_table(latin)
    assert frame["city"].iloc[-1] == "Zürich"
    assert frame.attrs["reading_notes"] == ["latin.csv is not UTF-8: read as Latin-1."]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa;y\n1;yes\n".encode())
    assert list(imbalanced.read_table(bom).columns) == ["a", "y"]


# 14. text in a numeric column when scoring ----------------------------------------------------------
def test_text_in_a_numeric_column_names_column_row_and_value(tmp_path):
    dots, _commas = write_pair(tmp_path, rows=300)
    data = imbalanced.prepare(imbalanced.read_table(dots), imbalanced.Problem("y", "yes"))
    predictor = predictor_for(fitted_pipeline(data), saved_columns(data))
    new = tmp_path / "new.csv"
    new.write_text("x1,x2,colour\n0.1,0.2,red\n0.3,0.4,green\n0.5,abc,blue\n")
    with pytest.raises(DatasetInvalidError) as caught:
        predictor.score(imbalanced.read_table(new))
    message = str(caught.value)
    assert "'x2'" in message and "'abc'" in message
    assert "data row 3 (counting from 1 below the header)" in message


def test_question_marks_spaces_and_utf16_read_as_a_person_means_them(tmp_path):
    import numpy as np
    import pandas

    from training import imbalanced

    rng = np.random.default_rng(4)
    frame = pandas.DataFrame({"amount": rng.normal(size=300).round(3).astype(object)})
    frame["channel"] = rng.choice(["web", "shop"], 300)
    frame["y"] = np.where(rng.random(300) < 0.2, "yes ", "no")  # trailing spaces on some rows
    frame.loc[frame.index[:3], "y"] = "yes"
    frame.loc[frame.index[5:10], "amount"] = ["?", "-", "n/a", "?", "unknown"]
    frame.to_csv(tmp_path / "marks.csv", index=False)
    frame.to_csv(tmp_path / "utf16.csv", index=False, encoding="utf-16")
    for name in ("marks.csv", "utf16.csv"):
        table = imbalanced.read_table(tmp_path / name)
        assert pandas.api.types.is_float_dtype(table["amount"]) and table["amount"].isna().sum() == 5
        assert sorted(map(str, imbalanced.class_values(table["y"]))) == ["no", "yes"]
        assert "amount" not in imbalanced.default_exclusions(table)


def test_the_problem_a_command_line_asks_for(tmp_path):
    """What `imbalanced` and `report imbalanced` share: the suggested target, the rarest class,
    the default exclusions with their reasons, and a missing target named with the columns."""
    frame = imbalanced.read_table(write_mixed_csv(tmp_path / "loans.csv", rows=400, positive_rate=0.1))
    problem, reasons = imbalanced.problem_for(frame, "loans.csv")
    assert (problem.target, problem.positive, problem.exclude) == ("fraud", "fraud", ("transaction_id",))
    assert "identif" in reasons["transaction_id"]
    problem, reasons = imbalanced.problem_for(
        frame, "loans.csv", excluded={"channel": "excluded on the command line"}, keep_leaky=True
    )
    assert problem.exclude == ("channel",) and reasons == {"channel": "excluded on the command line"}
    with pytest.raises(
        DatasetInvalidError, match=r"No column named 'nowhere' in loans.csv; its columns are .*fraud"
    ):
        imbalanced.problem_for(frame, "loans.csv", target="nowhere")
