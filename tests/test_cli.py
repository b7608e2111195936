"""The command-line contract that scripts and independent checks rely on."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SMALL_GRID_ARGUMENTS, generate_user_digits, render_letter, run_cli, write_mixed_csv


@pytest.fixture(scope="module")
def user_digits(tmp_path_factory):
    return generate_user_digits(tmp_path_factory.mktemp("user-digits"), count=120, seed=99)


@pytest.mark.slow
def test_predict_json_contract_with_bad_files_among_good(tmp_path, user_digits):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    blank = tmp_path / "blank.png"
    __import__("PIL.Image").Image.new("L", (200, 200), 230).save(blank)
    good = user_digits[:3]
    inputs = [str(corrupt), str(good[0].path), str(text), str(blank), str(good[1].path), str(good[2].path)]
    completed = run_cli("predict", "digits", *inputs, "--json")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["path"] for line in lines] == inputs
    for line in lines:
        assert set(line) == {"path", "label", "probabilities", "status", "message"}
    by_path = {line["path"]: line for line in lines}
    assert by_path[str(corrupt)]["status"] == "error" and by_path[str(corrupt)]["label"] is None
    assert by_path[str(text)]["status"] == "error" and "not an image" in by_path[str(text)]["message"]
    assert by_path[str(blank)]["status"] == "rejected" and by_path[str(blank)]["label"] is None
    for digit in good:
        line = by_path[str(digit.path)]
        assert line["status"] in ("ok", "unsure")
        assert len(line["probabilities"]) == 10 and abs(sum(line["probabilities"]) - 1) < 1e-3
        assert isinstance(line["label"], int)
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
def test_predict_digits_with_the_anomaly_gate(tmp_path, user_digits):
    render_letter(tmp_path / "letter_K.png", "K")
    inputs = [str(user_digits[0].path), str(tmp_path / "letter_K.png")]
    completed = run_cli("predict", "digits", *inputs, "--json", "--gate")
    assert completed.returncode == 0, completed.stderr
    digit, letter = (json.loads(line) for line in completed.stdout.splitlines())
    assert set(digit) == {"path", "label", "probabilities", "status", "message", "not_a_digit"}
    assert digit["not_a_digit"] is False and digit["status"] == "ok"
    assert letter["not_a_digit"] is True and letter["status"] == "unsure"
    assert letter["message"].startswith("Not a digit: ") and "best guess would be" in letter["message"]


@pytest.mark.slow
def test_digits_as_users_bring_them(user_digits):
    """Generated dark-on-light digits unlike MNIST, read through the CLI ('unsure' = wrong)."""
    folder = user_digits[0].path.parent
    completed = run_cli("predict", "digits", str(folder), "--json")
    assert completed.returncode == 0, completed.stderr
    answers = {json.loads(line)["path"]: json.loads(line) for line in completed.stdout.splitlines()}
    assert len(answers) == len(user_digits)
    correct = sum(
        answers[str(digit.path)]["status"] == "ok" and answers[str(digit.path)]["label"] == digit.label
        for digit in user_digits
    )
    assert correct / len(user_digits) >= 0.95


@pytest.mark.slow
def test_readable_table_without_json(user_digits):
    completed = run_cli("predict", "digits", str(user_digits[0].path), "--model", "mlp")
    assert completed.returncode == 0, completed.stderr
    assert "status" in completed.stdout.splitlines()[0]
    assert user_digits[0].path.name[-30:] in completed.stdout


def test_evaluate_stored_and_models_listing():
    completed = run_cli("evaluate", "digits", "--stored", "--model", "cnn")
    assert completed.returncode == 0, completed.stderr
    assert "confusion matrix" in completed.stdout and "rotated" in completed.stdout
    listing = run_cli("models")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "digits-cnn" in listing.stdout and "sha256 ok" in listing.stdout


def test_missing_data_is_a_clean_error(tmp_path):
    completed = run_cli("evaluate", "digits", "--data-dir", str(tmp_path))
    assert completed.returncode == 1
    assert "MNIST was not found" in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.slow
def test_imbalanced_save_then_predict_one_row(tmp_path):
    table = write_mixed_csv(tmp_path / "loans.csv", rows=1500, positive_rate=0.08)
    user_dir = tmp_path / "user"
    trained = run_cli(
        "imbalanced",
        "--csv",
        str(table),
        *SMALL_GRID_ARGUMENTS,
        "--save",
        "Loans",
        "--json",
        user_dir=user_dir,
    )
    assert trained.returncode == 0, trained.stderr
    rows = [json.loads(line) for line in trained.stdout.splitlines()]
    best = max(rows, key=lambda row: row["pr_auc"])
    assert best["model"] == "logistic_regression"
    assert "saved Logistic Regression + none" in trained.stderr and "as imbalanced-loans" in trained.stderr
    one_row = tmp_path / "one.csv"
    lines = table.read_text().splitlines()
    one_row.write_text("\n".join(lines[:2]) + "\n")
    scored = run_cli("predict", "imbalanced", str(one_row), "--model", "loans", "--json", user_dir=user_dir)
    assert scored.returncode == 0, scored.stderr
    answers = [json.loads(line) for line in scored.stdout.splitlines()]
    assert len(answers) == 1 and 0.0 <= answers[0]["probability"] <= 1.0
    assert answers[0]["flagged"] == (answers[0]["probability"] >= best["threshold"])
