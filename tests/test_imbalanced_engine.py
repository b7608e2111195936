"""The Imbalanced engine on a CSV it has never seen (mixed types, missing values, 3 %
positives), bad CSVs, threshold rules, and the `python -m training imbalanced` contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import run_cli, write_mixed_csv
from training import imbalanced
from training.core.errors import DatasetInvalidError, TrainingCancelled
from training.core.progress import CancelToken


@pytest.fixture(scope="module")
def mixed_csv(tmp_path_factory):
    return write_mixed_csv(tmp_path_factory.mktemp("csv") / "transactions.csv")


def test_reading_sniffs_the_separator_and_types(mixed_csv):
    frame = imbalanced.read_table(mixed_csv)
    assert frame.shape == (3000, 7)
    kinds = {column.name: column.kind for column in imbalanced.describe_columns(frame)}
    assert kinds["amount"] == "numeric" and kinds["channel"] == "categorical"
    assert imbalanced.suggest_target(frame) == "fraud"
    assert imbalanced.class_values(frame["fraud"])[0] == "fraud"  # rarest first


@pytest.mark.slow
def test_whole_grid_runs_on_an_unseen_csv_and_scores_the_untouched_test_split(mixed_csv):
    frame = imbalanced.read_table(mixed_csv)
    data = imbalanced.prepare(frame, imbalanced.Problem("fraud", "fraud", ("transaction_id",)))
    assert data.labels.mean() == pytest.approx(0.03, abs=0.002)
    assert "transaction_id" not in data.features.columns
    seen = []
    parts, results = imbalanced.run_grid(
        data,
        [*imbalanced.MODELS, *imbalanced.BASELINE_MODELS],
        imbalanced.METHODS,
        imbalanced.GridSettings(folds=3),
        on_result=seen.append,
    )
    assert len(results) == len(imbalanced.MODELS) * 5 + 2 and seen == results
    assert set(parts.test_rows).isdisjoint(parts.train_features.index)
    test_positives = int(parts.test_labels.sum())
    assert test_positives == round(0.2 * data.labels.sum())  # stratified, natural distribution
    by_key = {(result.model, result.method): result for result in results}
    for result in results:
        matrix = np.asarray(result.test_metrics["confusion_matrix"])
        assert matrix.sum() == len(parts.test_labels) and matrix[1].sum() == test_positives
        assert len(result.test_probabilities) == len(parts.test_labels)
        assert 0.0 <= result.threshold <= 1.0
    for method in ("smote", "adasyn", "smote_tomek"):
        before, after = (
            by_key[("logistic_regression", method)].counts_before,
            by_key[("logistic_regression", method)].counts_after,
        )
        assert before[1] < after[1], f"{method} must add minority rows to the training part"
    assert (
        by_key[("logistic_regression", "none")].counts_after
        == by_key[("logistic_regression", "none")].counts_before
    )
    assert by_key[("dummy", "none")].ranking["roc_auc"] == pytest.approx(0.5)
    best = max(results, key=lambda result: result.ranking["roc_auc"])
    assert best.ranking["roc_auc"] > 0.85, "the signal planted in the CSV must be found"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary" * 40, "binary"),
        ("a b c\n" + "1 2 3\n" * 50, "single column"),
        ("x,y\n" + "1,yes\n" * 50, "only one class"),
        ("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(60)), "3 values"),
        ("x,y\n1,yes\n2,no\n", "too few"),
    ],
)
def test_bad_csvs_get_clear_messages(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DatasetInvalidError, match=message):
        frame = imbalanced.read_table(path)
        imbalanced.prepare(frame, imbalanced.Problem("y", "yes"))


def test_threshold_rules_do_what_they_say():
    generator = np.random.default_rng(1)
    labels = (generator.random(5000) < 0.1).astype(int)
    probabilities = np.clip(0.1 + 0.35 * labels + generator.normal(0, 0.15, 5000), 0, 1)
    f1_cut = imbalanced.choose_threshold(labels, probabilities, "f1")
    cuts = np.linspace(0.05, 0.95, 181)
    best_grid_f1 = max(imbalanced.metrics_at(labels, probabilities, cut)["f1_minority"] for cut in cuts)
    assert imbalanced.metrics_at(labels, probabilities, f1_cut)["f1_minority"] >= best_grid_f1 - 1e-9
    precise = imbalanced.choose_threshold(labels, probabilities, "recall_at_precision", min_precision=0.8)
    assert imbalanced.metrics_at(labels, probabilities, precise)["precision_minority"] >= 0.8
    cheap_misses = imbalanced.choose_threshold(labels, probabilities, "cost", false_positive_cost=10)
    costly_misses = imbalanced.choose_threshold(labels, probabilities, "cost", false_negative_cost=10)
    assert costly_misses < f1_cut < cheap_misses
    with pytest.raises(ValueError, match="precision 1.00"):
        imbalanced.choose_threshold(labels, np.full(5000, 0.5), "recall_at_precision", min_precision=1.0)


def test_cancel_stops_the_grid(mixed_csv):
    data = imbalanced.prepare(imbalanced.read_table(mixed_csv), imbalanced.Problem("fraud", "fraud"))
    token = CancelToken()
    done = []

    def cancel_after_first(result):
        done.append(result)
        token.cancel()

    with pytest.raises(TrainingCancelled):
        imbalanced.run_grid(
            data, ["logistic_regression"], imbalanced.METHODS, cancel=token, on_result=cancel_after_first
        )
    assert len(done) == 1


@pytest.mark.slow
@pytest.mark.data
def test_cli_json_contract_on_bank_marketing():
    completed = run_cli(
        "imbalanced",
        "--target",
        "y",
        "--positive",
        "yes",
        "--models",
        "logistic_regression,dummy",
        "--methods",
        "none,class_weight",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    assert "excluding 'duration'" in completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [(line["model"], line["method"]) for line in lines] == [
        ("logistic_regression", "none"),
        ("logistic_regression", "class_weight"),
        ("dummy", "none"),
    ]
    for line in lines:
        for key in (
            "roc_auc",
            "pr_auc",
            "f1_minority",
            "precision_minority",
            "recall_minority",
            "threshold",
            "balanced_accuracy",
            "mcc",
            "cv_roc_auc",
            "ks",
            "gini",
            "brier",
            "ece",
        ):
            assert isinstance(line[key], float), key
        assert line["gini"] == pytest.approx(2 * line["roc_auc"] - 1)
    plain, weighted, dummy = lines
    # Class weights bend the probabilities upward: ranking alike, calibration much worse.
    assert abs(plain["ks"] - weighted["ks"]) < 0.05
    assert weighted["ece"] > plain["ece"] + 0.1 and weighted["brier"] > plain["brier"]
    assert dummy["ks"] == pytest.approx(0.0) and dummy["gini"] == pytest.approx(0.0)
    assert 0.77 < lines[0]["roc_auc"] < 0.82 and abs(lines[0]["roc_auc"] - lines[0]["cv_roc_auc"]) < 0.05
    assert sum(map(sum, lines[0]["confusion_matrix"])) == 8238  # the 20 % test split


def test_cli_errors_are_clean(tmp_path):
    (tmp_path / "one.csv").write_text("x,y\n" + "1,yes\n" * 30)
    completed = run_cli("imbalanced", "--csv", str(tmp_path / "one.csv"), "--target", "y")
    assert completed.returncode == 1 and "only one class" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
def test_saved_model_scores_new_rows_from_the_command_line(mixed_csv, tmp_path):
    from training.core.registry import ModelRegistry

    frame = imbalanced.read_table(mixed_csv)
    problem = imbalanced.Problem("fraud", "fraud", ("transaction_id",))
    data = imbalanced.prepare(frame, problem)
    _parts, (result,) = imbalanced.run_grid(data, ["logistic_regression"], ["none"])
    entry = imbalanced.save_configuration(result, data, problem, 0.3, "CLI fraud", ModelRegistry(), mixed_csv)
    assert entry.name == "imbalanced-cli-fraud" and entry.record["threshold"] == 0.3
    fresh = write_mixed_csv(tmp_path / "fresh.csv", rows=200, seed=9)
    completed = run_cli("predict", "imbalanced", str(fresh), "--model", "cli-fraud", "--json")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["row"] for line in lines] == list(range(200))
    predictor = imbalanced.TabularPredictor.load(entry.name)
    scored = predictor.score(imbalanced.read_table(fresh))
    probabilities, flagged = scored.probabilities, scored.flagged
    assert [line["probability"] for line in lines] == pytest.approx(probabilities.tolist())
    assert [line["flagged"] for line in lines] == flagged.tolist() and lines[0]["positive"] == "fraud"
    (tmp_path / "short.csv").write_text("amount;age\n" + "1;2\n" * 30)
    completed = run_cli("predict", "imbalanced", str(tmp_path / "short.csv"), "--model", "cli-fraud")
    assert completed.returncode == 1 and "lacks column" in completed.stderr


def test_ks_is_the_largest_gap_between_the_classes_score_distributions():
    from scipy import stats

    from training.core.probability_figures import separation_figures

    generator = np.random.default_rng(0)
    labels = generator.random(4000) < 0.1
    probabilities = np.clip(generator.normal(0.3 + 0.2 * labels, 0.15), 0, 1)
    figures = separation_figures(labels, probabilities)
    assert figures["ks"] == pytest.approx(
        stats.ks_2samp(probabilities[labels], probabilities[~labels]).statistic
    )
    calibrated = generator.random(20000)
    outcomes = generator.random(20000) < calibrated
    assert separation_figures(outcomes, calibrated)["ece"] < 0.02
    assert separation_figures(outcomes, calibrated**3)["ece"] > 0.15


def test_gains_and_lift_read_as_credit_teams_read_them():
    labels = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    probabilities = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    points = imbalanced.curves(labels, probabilities)
    contacted, found = points["gains"]
    assert (contacted[0], found[0], contacted[-1], found[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(found) >= 0)
    # The top 30 % of rows hold 2 of the 3 positives: 67 % found, 2.2 times random.
    at_30 = int(np.flatnonzero(np.isclose(contacted, 0.3))[0])
    assert found[at_30] == pytest.approx(2 / 3)
    lift_contacted, lift = points["lift"]
    assert lift[np.isclose(lift_contacted, 0.3)][0] == pytest.approx((2 / 3) / 0.3)
    # Rows with the same score are contacted together: the model cannot order them.
    assert [list(part) for part in imbalanced.cumulative_gains([1, 0, 0], [0.5, 0.5, 0.1])] == [
        [0.0, 2 / 3, 1.0],
        [0.0, 1.0, 1.0],
    ]
