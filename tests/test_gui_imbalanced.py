"""The Imbalanced tab under Xvfb: drop a CSV, choose the target, run a small grid, move the
threshold, export; bad CSVs give a message."""

from __future__ import annotations

import csv

import pytest

from desktop_app.automation import simulate_drop, wait_until
from tests.helpers import write_mixed_csv, write_pair


def imbalanced_tab(app):
    tab = app.tab("Imbalanced")
    app.notebook.select(tab)
    return tab


@pytest.fixture(scope="module")
def transactions(tmp_path_factory):
    return write_mixed_csv(
        tmp_path_factory.mktemp("gui-csv") / "transactions.csv", rows=2000, positive_rate=0.05
    )


def load(gui, tab, path):
    tab.frame = None
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(gui.root, lambda: tab.frame is not None, 30, "the table")


@pytest.mark.slow
def test_drop_a_csv_choose_target_run_a_small_grid_and_move_the_threshold(gui, transactions, tmp_path):
    tab = imbalanced_tab(gui)
    load(gui, tab, transactions)
    assert "2,000 rows × 7 columns" in tab.file_text.get()
    assert len(tab.preview.rows()) == 50
    headings = [tab.preview.tree.heading(column, "text") for column in tab.preview.keys]
    assert "amount (num)" in headings and "channel (cat)" in headings
    assert tab.target_choice.get() == "fraud" and tab.positive_choice.get() == "fraud"
    assert tab.balance.shown[0][0] == "fraud" and tab.balance.shown[0][1] == pytest.approx(0.05, abs=0.002)

    tab.exclude_list.selection_set(0)  # transaction_id
    for key, variable in tab.choices.items():
        variable.set(
            key in {("logistic_regression", "none"), ("logistic_regression", "smote"), ("dummy", "none")}
        )
    tab.run_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job is not None and tab.grid_job.finished, 180, "the grid")
    rows = tab.table.rows()
    assert [row[:2] for row in rows] == [
        ["Logistic Regression", "none"],
        ["Logistic Regression", "SMOTE"],
        ["Dummy (class prior)", "none"],
    ]
    assert float(rows[0][2]) > 0.8 and float(rows[2][2]) == pytest.approx(0.5)
    assert "transaction_id" not in tab.data.features.columns
    assert tab.pages.select() == str(tab.results_page)
    assert "never resampled" in tab.counts_text.get()

    tab.table.tree.selection_set(tab.table.tree.get_children()[:2])
    gui.root.update()
    roc_axes, pr_axes, reliability_axes, gains_axes, lift_axes, spread_axes = tab.curves.figure.axes
    assert len(roc_axes.get_lines()) == 3  # two configurations + the chance diagonal
    first = tab.selected_results()[0]
    legend = roc_axes.get_legend().get_texts()[0].get_text()
    assert (
        legend
        == f"{first.ranking['roc_auc']:.3f} · KS {first.ranking['ks']:.2f} · Gini {first.ranking['gini']:.2f}"
    )
    assert [axes.get_title() for axes in (gains_axes, lift_axes)] == [
        "Cumulative gains (test split)",
        "Lift (test split)",
    ]
    contacted, found = gains_axes.get_lines()[0].get_data()
    assert (contacted[0], found[0], contacted[-1], found[-1]) == (0, 0, 1, 1)
    assert lift_axes.get_lines()[0].get_data()[1][-1] == pytest.approx(1.0)  # everyone contacted
    # The first selected configuration's calibration: one bar per filled probability bin.
    assert f"ECE {first.ranking['ece']:.3f}" in reliability_axes.get_title()
    assert "share really 'fraud'" in reliability_axes.get_ylabel()
    assert len(spread_axes.patches) == 2  # its scores, one outline per actual class
    before = tab.operating_point()["confusion_matrix"]
    assert tab.threshold.get() == pytest.approx(tab.selected_results()[0].threshold)
    tab.threshold_scale.set(0.9)
    gui.root.update()
    after = tab.operating_point()["confusion_matrix"]
    assert after != before and after[1][1] < before[1][1]
    assert "0.900" in tab.operating_text.get()
    smote = tab.results["logistic_regression-smote"]
    assert smote.counts_after[1] > smote.counts_before[1]
    tab.table.tree.selection_set("logistic_regression-smote")
    gui.root.update()
    assert f"→ {smote.counts_after[0]:,}/{smote.counts_after[1]:,} resampled" in tab.operating_text.get()
    tab.table.tree.selection_set(tab.table.tree.get_children()[:2])
    gui.root.update()
    tab.threshold_scale.set(0.9)
    gui.root.update()

    tab.min_precision.set("0.3")
    tab.optimise("recall_at_precision")
    assert tab.operating_point()["precision_minority"] > 0.2  # chosen on training folds, seen on test
    tab.false_negative_cost.set("50")
    tab.optimise("cost")
    assert tab.threshold.get() < 0.5

    tab.export_results(tmp_path / "results.csv")
    tab.export_predictions(tmp_path / "predictions.csv")
    with open(tmp_path / "results.csv") as handle:
        exported = list(csv.DictReader(handle))
    assert [row["method"] for row in exported] == ["none", "smote", "none"]
    # The figures credit teams read travel with the export.
    assert all(0 <= float(row["ks"]) <= 1 and float(row["ece"]) >= 0 for row in exported)
    with open(tmp_path / "predictions.csv") as handle:
        predictions = list(csv.reader(handle))
    assert len(predictions) == 1 + 400 and predictions[0][0] == "row"

    job = tab.save_selected("Fraud LR")
    wait_until(gui.root, lambda: job.finished, 60, "the save")
    assert tab.saved_choice.get() == "imbalanced-fraud-lr"
    entry = gui.registry.entry("imbalanced-fraud-lr")
    assert entry.origin == "user" and entry.record["threshold"] == pytest.approx(tab.threshold.get())
    assert entry.record["excluded"] == ["transaction_id"] and entry.record["positive"] == "fraud"
    fresh = write_mixed_csv(tmp_path / "next_month.csv", rows=300, seed=5)
    job = tab.predict_csv("imbalanced-fraud-lr", fresh, tmp_path / "scored.csv")
    wait_until(gui.root, lambda: job.finished, 60, "the predictions")
    with open(tmp_path / "scored.csv") as handle:
        scored = list(csv.reader(handle))
    assert len(scored) == 301 and scored[0] == ["row", "probability", "is fraud"]
    assert "of 300 rows flagged" in gui.status_text.get()
    (tmp_path / "wrong.csv").write_text("amount;age\n" + "1;2\n" * 30)
    job = tab.predict_csv("imbalanced-fraud-lr", tmp_path / "wrong.csv", tmp_path / "never.csv")
    wait_until(
        gui.root, lambda: any("lacks column" in window.text for window in gui.messages), 30, "a message"
    )
    assert not (tmp_path / "never.csv").exists()


@pytest.mark.slow
def test_cancel_keeps_finished_rows(gui, transactions):
    tab = imbalanced_tab(gui)
    load(gui, tab, transactions)
    for key, variable in tab.choices.items():
        variable.set(key[0] == "random_forest")
    tab.run_button.invoke()
    wait_until(gui.root, lambda: len(tab.results) >= 1, 120, "the first configuration")
    tab.cancel_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job.finished, 120, "the cancel")
    assert 1 <= len(tab.table.rows()) < 5
    assert "Cancelled" in tab.progress_text.get()
    assert tab.run_button.instate(["!disabled"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02garbage\xff" * 100, "binary"),
        ("a b\n" + "1 2\n" * 40, "single column"),
    ],
)
def test_unreadable_csvs_give_a_message(gui, tmp_path, content, message):
    tab = imbalanced_tab(gui)
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(gui.root, lambda: any(message in window.text for window in gui.messages), 30, "a message")
    assert message in tab.file_text.get()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x,y\n" + "1,yes\n" * 40, "only one class"),
        ("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(60)), "3 values"),
    ],
)
def test_a_bad_target_gives_a_message_when_run(gui, tmp_path, content, message):
    tab = imbalanced_tab(gui)
    path = tmp_path / "bad_target.csv"
    path.write_text(content)
    load(gui, tab, path)
    tab.target_choice.set("y")
    tab.target_selector.event_generate("<<ComboboxSelected>>")
    tab.run_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job.finished, 30, "the refusal")
    assert message in tab.progress_text.get()
    assert tab.table.rows() == []


@pytest.mark.slow
def test_results_belong_to_the_data_they_were_computed_on(gui, transactions, tmp_path):
    from training.imbalanced import file_fingerprint

    tab = imbalanced_tab(gui)
    load(gui, tab, transactions)
    for key, variable in tab.choices.items():
        variable.set(key == ("logistic_regression", "none"))
    tab.run_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job is not None and tab.grid_job.finished, 120, "the grid")
    tab.table.tree.selection_set("logistic_regression-none")
    gui.root.update()

    questions = []
    tab.threshold_scale.set(1.0)  # flags no test row
    gui.root.update()
    assert tab.save_selected("Never Says Yes", confirm=lambda text: questions.append(text) or False) is None
    assert "flags none of the 400 test rows" in questions[0]
    assert "imbalanced-never-says-yes" not in gui.registry.names()

    other = write_mixed_csv(tmp_path / "other_bank.csv", rows=600, positive_rate=0.1, seed=3)
    tab.target_choice.set("channel")  # changing the choices after the run changes nothing saved
    job = tab.save_selected("Never Says Yes", confirm=lambda text: True)
    wait_until(gui.root, lambda: job.finished, 60, "the save")
    record = gui.registry.entry("imbalanced-never-says-yes").record
    assert record["target"] == "fraud" and record["data"]["file"] == transactions.name
    assert record["data"]["fingerprint"] == file_fingerprint(transactions)
    assert record["data"]["prepared_fingerprint"] == tab.data.fingerprint

    load(gui, tab, other)
    assert tab.source == other and tab.results == {} and tab.table.rows() == []
    assert tab.data is None and tab.results_context is None
    assert f"Results of {transactions.name} cleared" in tab.progress_text.get()


def test_the_preview_states_decimal_commas_dates_and_identifiers(gui, tmp_path):
    """A ';' file with decimal commas, a date column and an id: read as numbers, a date and a
    left-out identifier, each said in the preview."""
    _dots, commas = write_pair(tmp_path, rows=300)
    table = commas.read_text().splitlines()
    rows = [f"C{index:05d};{index % 28 + 1:02d}/03/2024;{line}" for index, line in enumerate(table[1:])]
    commas.write_text("\n".join(["customer_id;opened;" + table[0], *rows]) + "\n")
    tab = imbalanced_tab(gui)
    load(gui, tab, commas)
    text = tab.file_text.get()
    assert "300 rows × 6 columns" in text
    assert "Columns 'x1', 'x2' use decimal commas; read as numbers." in text
    assert "Column 'opened' holds dates (%d/%m/%Y); used as a number: days since 1970-01-01." in text
    headings = [tab.preview.tree.heading(column, "text") for column in tab.preview.keys]
    assert headings[:4] == ["customer_id (cat)", "opened (dat)", "x1 (num)", "x2 (num)"]
    assert [tab.exclude_list.get(index) for index in tab.exclude_list.curselection()] == ["customer_id"]
    assert "'customer_id' left out: unique on every row" in tab.leak_text.get()


@pytest.mark.slow
def test_out_of_time_calibrated_tuned_grid_then_explain_a_configuration_and_a_row(gui, transactions):
    tab = imbalanced_tab(gui)
    load(gui, tab, transactions)
    tab.exclude_list.selection_set(0)  # transaction_id
    for key, variable in tab.choices.items():
        variable.set(key in {("logistic_regression", "none"), ("hist_gradient_boosting", "none")})
    assert "the latest rows (file order)" in tab.split_selector.cget("values")
    tab.split_choice.set("the latest rows (file order)")
    tab.calibration_choice.set("sigmoid")
    tab.tune_trials.set("2")
    tab.run_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job is not None and tab.grid_job.finished, 300, "the grid")
    rows = tab.table.rows()
    assert [row[:2] for row in rows] == [
        ["Logistic Regression", "none"],
        ["Logistic Regression (tuned)", "none"],
        ["Gradient Boosting (hist)", "none"],
        ["Gradient Boosting (hist) (tuned)", "none"],
    ]
    assert "out-of-time by row-order" in tab.counts_text.get()
    assert all(result.calibration.method == "sigmoid" for result in tab.results.values())
    assert list(tab.split.test_rows) == list(range(1600, 2000))  # the last 20 % of the file

    tab.table.tree.selection_set("hist_gradient_boosting-none")
    gui.root.update()
    tab.pages.select(tab.explain_page)
    page = tab.explain_page
    page.explain_button.invoke()
    wait_until(gui.root, lambda: page.explanation is not None, 120, "the explanation")
    assert "exact SHAP values (TreeSHAP)" in page.status.get()
    importance_axes, dependence_axes, waterfall_axes = page.plots.figure.axes
    drawn = [label.get_text() for label in importance_axes.get_yticklabels()]
    assert set(drawn[-3:]) == {"amount", "channel", "age"}  # the planted signal, largest at the top
    assert page.feature_choice.get() == drawn[-1]
    # The row chosen first is the one scored most likely fraud, named by its data row in the CSV.
    assert int(page.row_choice.get()) >= 1600
    assert "Reasons behind row" in page.reasons_text.get() and "toward 'fraud'" in page.reasons_text.get()
    page.feature_choice.set("channel")
    page.feature_selector.event_generate("<<ComboboxSelected>>")
    gui.root.update()
    assert page.plots.figure.axes[1].get_title() == "Dependence on channel"
    other = page.row_selector.cget("values")[0]
    page.row_choice.set(other)
    page.row_selector.event_generate("<<ComboboxSelected>>")
    gui.root.update()
    assert f"Row {other}:" in page.plots.figure.axes[2].get_title()
    assert f"row {other}'s score" in page.reasons_text.get()
    tab.clear_results()
    assert page.explanation is None and page.reasons_text.get() == ""
