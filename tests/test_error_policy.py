"""One error policy: a user's mistake is a `WorkbenchError` whose sentence is shown as is; any
other exception is a bug that reaches the user and the log with its whole traceback, including
the part that happened in a worker process."""

from __future__ import annotations

import traceback

import pytest

from desktop_app.jobs import Job
from desktop_app.processes import run_in_process
from training.__main__ import main
from training.core import paths
from training.core.errors import InvalidInputError, WorkbenchError

TRANSACTIONS = paths.assets_dir() / "samples" / "tables" / "transactions.csv"


def divide_in_the_child(channel):
    return share_of(3, 0)


def share_of(part: int, whole: int) -> float:
    return part / whole


def test_a_crash_in_the_worker_process_keeps_the_childs_traceback():
    with pytest.raises(ZeroDivisionError) as caught:
        run_in_process(Job("divide"), divide_in_the_child)
    details = "".join(traceback.format_exception(caught.value))
    # The frames inside the child, not only the parent's re-raise.
    assert "in divide_in_the_child" in details and "in share_of" in details
    assert "return part / whole" in details


def test_a_users_mistake_on_the_command_line_is_one_sentence(capsys):
    status = main(["imbalanced", "--csv", str(TRANSACTIONS), "--models", "no_such_model"])
    assert status == 1
    error = capsys.readouterr().err
    assert "error: Unknown model 'no_such_model'; choose from logistic_regression" in error
    assert "Traceback" not in error


def test_invalid_settings_are_user_mistakes_and_still_value_errors():
    from training.digits import DigitsTrainingConfig

    with pytest.raises(InvalidInputError, match="epochs must be at least 1") as caught:
        DigitsTrainingConfig.defaults_for("mlp", epochs=0)
    assert isinstance(caught.value, WorkbenchError) and isinstance(caught.value, ValueError)


def test_a_bug_is_not_passed_off_as_a_users_mistake(monkeypatch):
    """The command line answers "error: ..." only for WorkbenchError; a plain ValueError is a
    bug and keeps its traceback."""
    import training.__main__ as command_line

    def broken(_arguments):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(command_line, "command_models", broken)
    with pytest.raises(ValueError, match="an internal inconsistency"):
        main(["models"])


def test_a_users_mistake_in_a_retrain_is_shown_as_its_sentence(gui):
    from desktop_app.automation import invoke_menu, wait_until

    tab = gui.tab("Anomaly")
    invoke_menu(gui, "Models", "Retrain Anomaly…")
    dialog = tab.retrain_dialog
    dialog.variables["normal"].set("3x")
    dialog.start_button.invoke()
    wait_until(gui.root, lambda: dialog.job.finished, 30, "the refusal")
    sentence = "Normal digits: '3x' should be distinct digits, e.g. 0123456789 or 3."
    assert gui.messages[-1].text == sentence and gui.messages[-1].details == ""
    assert gui.status_text.get() == sentence
    dialog.cancel_or_close()
