"""What analysts need beyond the grid: explanations and reasons, calibrated probabilities,
out-of-time validation, tuning, and the challenger models, checked on CSVs the engine has never
seen (the mixed transactions table: a planted signal in amount, channel and age)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas
import pytest

from tests.helpers import run_cli, write_mixed_csv
from training import imbalanced
from training.core.errors import (
    DatasetInvalidError,
    InvalidInputError,
    ModelIntegrityError,
    TrainingCancelled,
)
from training.core.probability_figures import logit
from training.core.progress import CancelToken


@pytest.fixture(scope="module")
def transactions(tmp_path_factory):
    path = write_mixed_csv(tmp_path_factory.mktemp("csv") / "transactions.csv", rows=3000, positive_rate=0.08)
    frame = imbalanced.read_table(path)
    data = imbalanced.prepare(frame, imbalanced.Problem("fraud", "fraud", ("transaction_id",)))
    return path, frame, data


DEFAULTS = imbalanced.GridSettings()


def configuration(data, model, method="none", settings=DEFAULTS):
    parts = imbalanced.split(data, settings)
    return parts, imbalanced.evaluate_configuration(model, method, data, parts, settings)


# Explanations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "method", "scale"),
    [
        ("hist_gradient_boosting", "tree_shap", "log-odds"),
        ("xgboost", "tree_shap", "log-odds"),
        ("lightgbm", "tree_shap", "log-odds"),
        ("random_forest", "tree_shap", "probability"),
        ("logistic_regression", "linear_shap", "log-odds"),
    ],
)
def test_exact_contributions_add_up_to_the_score_and_are_named_by_the_csv_columns(
    transactions, model, method, scale
):
    _path, _frame, data = transactions
    parts, result = configuration(data, model)
    rows = parts.test_features.iloc[:300]
    values = imbalanced.contributions(result.pipeline, rows, result.background)
    assert values.method == method and values.scale == scale and values.exact
    assert values.columns == list(data.features.columns)  # one-hot columns summed back per category
    probability = result.pipeline.predict_proba(rows)[:, 1]
    raw = logit(probability) if scale == "log-odds" else probability
    np.testing.assert_allclose(values.values.sum(axis=1) + values.base, raw, atol=1e-4)


@pytest.mark.parametrize("method", imbalanced.METHODS)
def test_every_imbalance_method_is_explained_even_when_resampling_comes_last(transactions, method):
    """ADASYN runs after the one-hot encoding, just before the model: explanations skip it."""
    _path, _frame, data = transactions
    parts, result = configuration(data, "logistic_regression", method)
    rows = parts.test_features.iloc[:100]
    values = imbalanced.contributions(result.pipeline, rows, result.background)
    raw = logit(result.pipeline.predict_proba(rows)[:, 1])
    np.testing.assert_allclose(values.values.sum(axis=1) + values.base, raw, atol=1e-6)


def test_the_planted_signal_is_what_the_explanation_finds(transactions):
    _path, _frame, data = transactions
    parts, result = configuration(data, "hist_gradient_boosting")
    explanation = imbalanced.explain(
        result.pipeline, parts.test_features, parts.test_labels, result.background
    )
    ranked = [item["feature"] for item in explanation.importance]
    assert set(ranked[:3]) == {"amount", "channel", "age"}, ranked
    assert {"country", "note"}.isdisjoint(ranked[:3])
    assert all(item["std"] >= 0 for item in explanation.importance)
    # Phone calls push toward fraud in the planted signal: their reasons say so.
    phone = np.flatnonzero((explanation.features["channel"] == "phone").to_numpy())
    for row in phone[:20]:
        reasons = explanation.contributions.reasons(row, explanation.features.iloc[row])
        assert [reason["contribution"] for reason in reasons] == sorted(
            (reason["contribution"] for reason in reasons), reverse=True
        )
        assert (
            all(reason["contribution"] > 0 for reason in reasons) and len(reasons) <= imbalanced.REASON_COUNT
        )
        assert "channel" in [reason["feature"] for reason in reasons]
    json.dumps(explanation.to_json())


def test_a_model_without_an_exact_explainer_gets_named_approximate_contributions(transactions):
    _path, _frame, data = transactions
    parts, result = configuration(data, "dummy")
    values = imbalanced.contributions(result.pipeline, parts.test_features.iloc[:50], result.background)
    assert values.method == "baseline_occlusion" and not values.exact
    assert np.allclose(values.values, 0)  # a model that ignores every column
    assert values.reasons(0, parts.test_features.iloc[0]) == []


def test_without_shap_scikit_learn_trees_fall_back_to_named_occlusion(transactions, monkeypatch):
    """The executable leaves shap out: the same call answers, approximately and saying so."""
    _path, _frame, data = transactions
    parts, result = configuration(data, "hist_gradient_boosting")
    rows = parts.test_features.iloc[:200]
    exact = imbalanced.contributions(result.pipeline, rows, result.background)
    monkeypatch.setitem(__import__("sys").modules, "shap", None)  # import shap → ImportError
    approximate = imbalanced.contributions(result.pipeline, rows, result.background)
    assert (exact.method, approximate.method) == ("tree_shap", "baseline_occlusion")
    # Different attributions of the same model: they agree on which columns matter.
    assert np.corrcoef(np.abs(exact.values).mean(0), np.abs(approximate.values).mean(0))[0, 1] > 0.9


def test_a_model_saved_before_explanations_scores_without_reasons(transactions, tmp_path):
    _path, frame, data = transactions
    _parts, result = configuration(data, "logistic_regression")
    entry = type("Entry", (), {"record": {"columns": imbalanced.saved_columns(data), "threshold": 0.5}})
    old = imbalanced.TabularPredictor(imbalanced.SavedPipeline(result.pipeline), entry)  # no baseline
    scored = old.score(frame.head(20), imbalanced.REASON_COUNT)
    assert scored.reasons == [[]] * 20 and scored.reason_method.startswith("unavailable")
    assert len(scored.probabilities) == 20


# Calibration ----------------------------------------------------------------------------------------


def test_calibration_repairs_what_smote_bends_and_is_fitted_without_the_test_split(transactions):
    _path, _frame, data = transactions
    raw_parts, raw = configuration(data, "logistic_regression", "smote")
    settings = imbalanced.GridSettings(calibration="sigmoid")
    parts, calibrated = configuration(data, "logistic_regression", "smote", settings)
    assert raw.ranking["ece"] > 0.1  # SMOTE inflates the rare class's probabilities
    assert calibrated.ranking["ece"] < raw.ranking["ece"] / 2
    assert calibrated.uncalibrated["ece"] == pytest.approx(raw.ranking["ece"])
    assert calibrated.ranking["roc_auc"] == pytest.approx(raw.ranking["roc_auc"], abs=1e-9)  # monotone
    # Fitted on the training part's out-of-fold probabilities: the same calibration whatever the
    # test labels are.
    shuffled = imbalanced.Split(
        parts.train_features,
        parts.train_labels,
        parts.test_features,
        parts.test_labels[::-1].copy(),
        parts.test_rows,
    )
    again = imbalanced.evaluate_configuration("logistic_regression", "smote", data, shuffled, settings)
    assert again.calibration == calibrated.calibration
    assert calibrated.to_json()["calibration"] == "sigmoid"


def test_isotonic_calibration_is_a_monotone_map_and_a_malformed_one_is_refused():
    rng = np.random.default_rng(0)
    probabilities = rng.random(4000)
    labels = (rng.random(4000) < probabilities**2).astype(int)
    calibration = imbalanced.fit_calibration("isotonic", labels, probabilities)
    mapped = calibration.apply(np.linspace(0, 1, 101))
    assert np.all(np.diff(mapped) >= 0) and mapped[50] == pytest.approx(0.25, abs=0.06)
    assert imbalanced.ProbabilityCalibration.from_json(calibration.to_json()) == calibration
    with pytest.raises(ValueError, match="non-decreasing"):
        imbalanced.ProbabilityCalibration.from_json({"method": "isotonic", "x": [0, 1], "y": [0.9, 0.1]})
    with pytest.raises(ValueError, match="unknown"):
        imbalanced.ProbabilityCalibration.from_json({"method": "os.system"})


def test_a_saved_calibrated_model_scores_as_in_the_grid_and_a_tampered_calibration_is_refused(
    transactions, tmp_path
):
    _path, _frame, data = transactions
    parts, result = configuration(data, "lightgbm", "smote", imbalanced.GridSettings(calibration="isotonic"))
    path = tmp_path / f"calibrated{imbalanced.SUFFIX}"
    imbalanced.save_pipeline(result.pipeline, path, result.calibration, result.background)
    saved = imbalanced.load_pipeline(path)
    np.testing.assert_allclose(saved.probabilities(parts.test_features), result.test_probabilities, atol=1e-9)
    assert saved.background == pytest.approx(result.background)
    tampered = tmp_path / f"tampered{imbalanced.SUFFIX}"
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(tampered, "w") as copy:
        for name in original.namelist():
            content = original.read(name)
            copy.writestr(
                name,
                b'{"method": "isotonic", "x": [0, 1], "y": [1, 0]}'
                if name == "calibration.json"
                else content,
            )
    with pytest.raises(ModelIntegrityError, match="not a readable saved model"):
        imbalanced.load_pipeline(tampered)


def test_on_many_rows_cross_validation_runs_on_a_stratified_sample_and_the_model_on_all(
    transactions, monkeypatch
):
    from training.imbalanced import grid

    _path, _frame, data = transactions
    monkeypatch.setattr(grid, "CV_MAX_ROWS", 1000)
    parts, result = configuration(
        data, "logistic_regression", "none", imbalanced.GridSettings(calibration="sigmoid")
    )
    assert len(result.cv_labels) == len(result.cv_probabilities) == 1000
    assert result.cv_labels.mean() == pytest.approx(parts.train_labels.mean(), abs=0.002)
    assert result.counts_before == np.bincount(parts.train_labels).tolist()  # fitted on every training row
    assert len(result.test_probabilities) == len(parts.test_labels)
    _parts, (_default, tuned) = imbalanced.run_grid(
        data, ["logistic_regression"], ["none"], tuning=imbalanced.TuningSettings(1)
    )
    assert tuned.tuning["trials"] == 1


# Validation on the future ---------------------------------------------------------------------------


def test_an_out_of_time_split_tests_on_the_latest_rows(transactions):
    _path, frame, _data = transactions
    by_order = imbalanced.prepare(
        frame, imbalanced.Problem("fraud", "fraud", ("transaction_id",), "row-order")
    )
    parts = imbalanced.split(by_order, imbalanced.GridSettings())
    assert (
        list(parts.test_rows) == list(range(2400, 3000)) and parts.description == "out-of-time by row-order"
    )
    # By a column: rows sharing the first tested moment are all tested.
    dated = frame.assign(day=pandas.date_range("2024-01-01", periods=300).repeat(10).strftime("%d/%m/%Y"))
    dated_path = _path.with_name("dated.csv")
    dated.to_csv(dated_path, sep=";", index=False)
    by_day = imbalanced.prepare(
        imbalanced.read_table(dated_path),
        imbalanced.Problem("fraud", "fraud", ("transaction_id", "day"), "day"),
    )
    parts = imbalanced.split(by_day, imbalanced.GridSettings(test_fraction=0.25))
    assert list(parts.test_rows) == list(range(2250, 3000))
    _parts, result = imbalanced.run_grid(by_day, ["logistic_regression"], ["none"])
    assert result[0].to_json()["split"] == "out-of-time by day"


@pytest.mark.parametrize(
    ("split_by", "message"),
    [
        ("nowhere", "No column named 'nowhere'"),
        ("channel", "alphabetical order"),
        ("amount", "no value on"),
        ("fraud", "is the target"),
    ],
)
def test_a_column_that_cannot_order_the_rows_is_refused(transactions, split_by, message):
    _path, frame, _data = transactions
    with pytest.raises(DatasetInvalidError, match=message):
        imbalanced.prepare(frame, imbalanced.Problem("fraud", "fraud", (), split_by))


def test_latest_rows_of_one_class_are_refused_with_a_way_out(transactions):
    _path, frame, _data = transactions
    ordered = frame.sort_values("fraud", kind="stable", ascending=False)  # every fraud first
    data = imbalanced.prepare(
        ordered.reset_index(drop=True), imbalanced.Problem("fraud", "fraud", (), "row-order")
    )
    with pytest.raises(InvalidInputError, match="only one class.*larger test fraction"):
        imbalanced.split(data, imbalanced.GridSettings())


def test_the_audit_says_when_the_future_differs_from_random_folds(transactions):
    _path, frame, _data = transactions
    drifting = frame.copy()
    later = np.arange(len(frame)) >= 2400
    # In the latest rows amount and channel no longer go with fraud: what the model learnt fades.
    for name in ("amount", "channel"):
        drifting.loc[later, name] = np.random.default_rng(3).permutation(drifting.loc[later, name].to_numpy())
    data = imbalanced.prepare(
        drifting, imbalanced.Problem("fraud", "fraud", ("transaction_id",), "row-order")
    )
    _parts, (result,) = imbalanced.run_grid(data, ["logistic_regression"], ["none"])
    assert result.audit.startswith("diverges: out-of-time test ROC AUC") and "drift" in result.audit


# Tuning --------------------------------------------------------------------------------------------


def test_tuning_searches_the_training_folds_and_sits_beside_the_default(transactions):
    _path, _frame, data = transactions
    seen = []
    _parts, results = imbalanced.run_grid(
        data,
        ["logistic_regression", "dummy"],
        ["none"],
        tuning=imbalanced.TuningSettings(trials=4),
        report=seen.append,
    )
    assert [(result.model, result.tuning is not None) for result in results] == [
        ("logistic_regression", False),
        ("logistic_regression", True),
        ("dummy", False),
    ]
    default, tuned, _dummy = results
    assert set(tuned.parameters) == {"C"} and tuned.tuning["trials"] == 4
    assert tuned.to_json()["tuned"] and tuned.to_json()["parameters"] == tuned.parameters
    assert (
        tuned.pipeline.named_steps["model"].C
        == tuned.parameters["C"]
        != default.pipeline.named_steps["model"].C
    )
    assert any("trial 4/4" in report.message for report in seen)
    assert tuned.key != default.key


def test_tuning_stops_when_cancelled(transactions):
    _path, _frame, data = transactions
    token = CancelToken()

    def cancel_at_second_trial(report):
        if "trial 1" in report.message:
            token.cancel()

    with pytest.raises(TrainingCancelled):
        imbalanced.run_grid(
            data,
            ["logistic_regression"],
            ["none"],
            tuning=imbalanced.TuningSettings(trials=50),
            report=cancel_at_second_trial,
            cancel=token,
        )


def test_tuning_settings_are_checked():
    with pytest.raises(InvalidInputError, match="trials or a time limit"):
        imbalanced.TuningSettings()
    with pytest.raises(InvalidInputError, match="at least one trial"):
        imbalanced.TuningSettings(trials=0)


# The command line ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_command_line_calibrates_splits_by_time_tunes_explains_and_gives_reasons(transactions, tmp_path):
    path, _frame, _data = transactions
    completed = run_cli(
        "imbalanced", "--csv", str(path), "--models", "lightgbm", "--methods", "smote",
        "--calibrate", "sigmoid", "--split-by", "row-order", "--tune", "2", "--explain", "--json",
        "--save", "fraud-lgbm",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    default, tuned = (json.loads(line) for line in completed.stdout.splitlines())
    assert (default["tuned"], tuned["tuned"]) == (False, True) and set(tuned["parameters"]) >= {"num_leaves"}
    for row in (default, tuned):
        assert row["split"] == "out-of-time by row-order" and row["calibration"] == "sigmoid"
        assert row["uncalibrated"]["ece"] > row["ece"]
        assert row["explanation"]["contribution_method"] == "tree_shap"
        assert {item["feature"] for item in row["explanation"]["permutation_importance"]} >= {
            "amount",
            "channel",
        }
    assert "test split (out-of-time by row-order): 600 rows" in completed.stderr
    fresh = write_mixed_csv(tmp_path / "fresh.csv", rows=100, seed=4, positive_rate=0.08)
    completed = run_cli("predict", "imbalanced", str(fresh), "--model", "fraud-lgbm", "--json")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(lines) == 100 and all(line["reason_method"] == "tree_shap" for line in lines)
    flagged = [line for line in lines if line["flagged"]]
    assert flagged and all(line["reasons"] for line in flagged)
    for reason in (reason for line in lines for reason in line["reasons"]):
        assert set(reason) == {"feature", "value", "contribution"} and reason["contribution"] > 0
        assert reason["feature"] in {"amount", "channel", "country", "age", "note"}
