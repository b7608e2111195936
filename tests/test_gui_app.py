"""The main window's own behaviour: each tab's status line, quitting with unsaved results,
About, model info, Ctrl+Tab, and the settings file (remembered, and set aside when corrupt)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from desktop_app import __version__
from desktop_app.automation import invoke_menu, wait_until
from desktop_app.settings import Settings
from tests.helpers import REPO_ROOT


def test_each_tab_reports_its_own_work(gui):
    digits, forgery = gui.tab("Digits"), gui.tab("Forgery")
    gui.notebook.select(digits)
    forgery.set_status("Model forgery-blocks ready.")
    gui.root.update()
    assert gui.status_shown != "Model forgery-blocks ready."
    gui.notebook.select(forgery)
    gui.root.update()
    assert gui.status_shown == "Model forgery-blocks ready."


def test_ctrl_tab_steps_through_the_tools(gui):
    gui.notebook.select(gui.tab("Digits"))
    gui.step_tab(1)
    assert gui.current_tab is gui.tab("Anomaly")
    gui.step_tab(-1)
    gui.step_tab(-1)
    assert gui.current_tab is gui.tab("Forgery")


def test_quitting_with_unsaved_results_asks_first(gui, monkeypatch):
    questions, quits = [], []
    monkeypatch.setattr(gui, "confirm", lambda title, question: questions.append(question) or False)
    monkeypatch.setattr(gui, "quit", lambda: quits.append(True))
    batch = gui.tab("Forgery").batch
    for tab in gui.tabs:  # what earlier tests left on the other tabs is not this test's
        if tab is not gui.tab("Forgery"):
            monkeypatch.setattr(tab, "unsaved_results", lambda: "")
    wait_until(
        gui.root, lambda: all(job.finished for tab in gui.tabs for job in tab.jobs), 120, "earlier work"
    )
    monkeypatch.setattr(batch, "verdicts", {"a.jpg": object()})
    monkeypatch.setattr(batch, "exported", False)
    invoke_menu(gui, "File", "Quit")
    assert questions and "1 verdict(s) not exported" in questions[0]
    assert not quits, "answered no: the app stays"
    monkeypatch.setattr(batch, "exported", True)
    questions.clear()
    gui.request_quit()
    assert quits and not questions, f"nothing to lose: it quits without asking, not {questions}"


def test_about_shows_the_version(gui):
    assert __version__ == tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    invoke_menu(gui, "Help", "About")
    assert f"Fintech ML Workbench {__version__}" in gui.messages[-1].text


def test_model_info_reads_as_sentences_in_a_window_that_fits(gui):
    invoke_menu(gui, "Models", "Model info")
    window = gui.messages[-1]
    window.update()
    assert "Digits · digits-cnn: the bundled model" in window.text
    assert "test accuracy" in window.text and "test_accuracy" not in window.text
    assert window.winfo_height() <= window.winfo_screenheight()


def test_settings_are_remembered(tmp_path):
    settings = Settings(tmp_path / "settings.json")
    settings.set("window_size", "1000x700")
    settings.remember_folder("Photos", tmp_path / "photo.jpg")
    (tmp_path / "photo.jpg").write_bytes(b"")
    settings.add_recent(tmp_path / "photo.jpg", "Forgery")
    settings.add_recent(tmp_path / "gone.csv", "Imbalanced")
    settings.tab("Imbalanced")["calibration"] = "sigmoid"
    settings.save()
    again = Settings(tmp_path / "settings.json")
    assert again.get("window_size") == "1000x700"
    assert again.last_folder("Photos") == str(tmp_path)
    assert again.recent_files() == [(str(tmp_path / "photo.jpg"), "Forgery")], (
        "files since removed are left out"
    )
    assert again.tab("Imbalanced") == {"calibration": "sigmoid"}
    assert again.problem is None


def test_settings_edited_by_hand_into_nonsense_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"folders": "home", "recent": [3, {"path": 7}], "tabs": {"Digits": "x"}}))
    settings = Settings(path)
    assert settings.last_folder("Images") is None
    assert settings.recent_files() == []
    assert settings.tab("Digits") == {}
    settings.add_recent(tmp_path, "Digits")
    assert settings.recent_files() == [(str(tmp_path), "Digits")]


def test_the_recent_files_menu_opens_in_the_tab_that_opened_them(gui, tmp_path, monkeypatch):
    opened = []
    anomaly = gui.tab("Anomaly")
    monkeypatch.setattr(anomaly, "open_paths", lambda paths: opened.append(paths))
    scan = tmp_path / "scan.png"
    scan.write_bytes(b"")
    gui.remember_opened(anomaly, [scan])
    gui.notebook.select(gui.tab("Digits"))
    gui._fill_recent_menu()  # what opening File → Open recent does (its postcommand)
    gui.recent_menu.invoke(0)
    assert opened == [[scan]] and gui.current_tab is anomaly


def test_a_corrupt_settings_file_is_set_aside_and_reported(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"window_size": "1000x7')
    settings = Settings(path)
    assert settings.values == {}
    assert not path.exists()
    aside = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"window_size": "1000x7'
    assert "could not be read" in settings.problem and aside[0].name in settings.problem
    path.write_text(json.dumps([1, 2]))
    assert "not an object" in Settings(path).problem


def test_controls_that_need_it_explain_themselves(gui):
    digits, anomaly, imbalanced, forgery = (
        gui.tab(title) for title in ("Digits", "Anomaly", "Imbalanced", "Forgery")
    )
    explained = [
        digits.gate_checkbox,
        digits.model_selector,
        anomaly.rule_selector,
        anomaly.save_threshold_button,
        anomaly.test_set_button,
        imbalanced.split_selector,
        imbalanced.exclude_list,
        imbalanced.threshold_scale,
        forgery.photo.quality_scale,
        forgery.photo.scaling_selector,
        forgery.photo.heatmap_checkbox,
        *forgery.views_page.selectors.values(),
    ]
    for widget in explained:
        assert getattr(widget, "tooltip", None) and len(widget.tooltip.text) > 20, widget


def test_a_tooltip_shows_while_the_pointer_rests_on_its_control(gui):
    tab = gui.tab("Anomaly")
    gui.notebook.select(tab)
    gui.root.update()
    tooltip = tab.rule_selector.tooltip
    tab.rule_selector.event_generate("<Enter>")
    wait_until(gui.root, lambda: tooltip.window is not None, 5, "the tooltip")
    shown = [child for child in tooltip.window.winfo_children()[0].winfo_children()]
    assert shown[0].cget("text") == tooltip.text
    tab.rule_selector.event_generate("<Leave>")
    assert tooltip.window is None


def test_each_tab_says_how_to_read_it(gui):
    for tab in gui.tabs:
        gui.notebook.select(tab)
        invoke_menu(gui, "Help", "How to read this tab")
        window = gui.messages[-1]
        assert window.title() == f"How to read the {tab.title} tab"
        assert len(window.text.split()) > 60, f"{tab.title}: too short to help"


def test_file_dialogs_open_in_the_last_folder_and_hide_dot_folders(gui, tmp_path, monkeypatch):
    from tkinter import filedialog

    from desktop_app import file_dialogs

    asked = []
    monkeypatch.setattr(filedialog, "askopenfilenames", lambda **options: asked.append(options) or ())
    tab = gui.tab("Digits")
    gui.notebook.select(tab)
    gui.remember_opened(tab, [tmp_path / "scan.png"])
    gui.open_files()
    assert asked[-1]["initialdir"] == str(tmp_path)
    assert gui.root.tk.call("set", "::tk::dialog::file::showHiddenVar") in ("0", 0, False)
    assert gui.root.tk.call("set", "::tk::dialog::file::showHiddenBtn") in ("1", 1, True)
    assert file_dialogs.initial_folder("never used") == str(Path.home())


def test_each_tab_gets_its_choices_back(gui):
    digits, forgery = gui.tab("Digits"), gui.tab("Forgery")
    digits.use_gate.set(True)
    forgery.photo.ela_scaling.set("gain")
    gui.save_settings()
    saved = Settings(gui.settings.path)
    assert saved.tab("Digits")["gate"] is True and saved.tab("Forgery")["ela_scaling"] == "gain"
    digits.use_gate.set(False)
    forgery.photo.ela_scaling.set("max")
    digits.restore_settings(saved.tab("Digits"))
    forgery.restore_settings(saved.tab("Forgery"))
    assert digits.use_gate.get() is True and forgery.photo.ela_scaling.get() == "gain"
    # What no longer fits is left as it is: a model since removed, a value of the wrong kind.
    digits.restore_settings({"model": "a model since removed", "gate": "not a yes or no"})
    forgery.restore_settings({"ela_scaling": "sideways", "ela_quality": "high"})
    assert digits.model_choice.get() in digits.model_selector.cget("values")
    assert digits.use_gate.get() is True
    assert forgery.photo.ela_scaling.get() == "gain" and forgery.photo.ela_quality.get() == 90
    digits.use_gate.set(False)
    forgery.photo.ela_scaling.set("max")


def test_the_theme_follows_the_choice_and_shows_the_focus(gui):
    from tkinter import ttk

    style = ttk.Style(gui.root)
    assert style.theme_use() in ("sun-valley-light", "sun-valley-dark")
    try:
        invoke_menu(gui, "View", "Dark theme")
        assert style.theme_use() == "sun-valley-dark" and gui.settings.get("theme") == "dark"
        invoke_menu(gui, "View", "Light theme")
        assert style.theme_use() == "sun-valley-light" and gui.settings.get("theme") == "light"
    finally:
        gui.theme_choice.set("system")
        gui._theme_chosen()
    for kind in ("Button", "Checkbutton", "Radiobutton"):
        assert f"{kind}.focus" in str(style.layout(f"T{kind}")), f"no focus ring on a {kind}"


def test_a_corrupt_settings_file_never_stops_the_app(gui, tmp_path):
    """The app started (in a fresh process, as a user starts it) with a settings file that is
    not JSON: the window comes up, says so on its status line and in a message, the file is
    set aside, and quitting writes a good one."""
    import subprocess
    import sys

    path = tmp_path / "settings.json"
    path.write_text("{not json")
    script = (
        "from desktop_app.app import WorkbenchApp, create_root\n"
        "app = WorkbenchApp(create_root())\n"
        "app.root.update()\n"
        "print(app.status_shown)\n"
        "print([window.title() for window in app.messages])\n"
        "app.quit()\n"
    )
    environment = {**os.environ, "FINTECH_USER_DIR": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    status, windows = completed.stdout.strip().splitlines()[-2:]
    assert "could not be read" in status and "Settings set aside" in windows
    assert list(tmp_path.glob("settings.json.corrupt-*"))
    assert json.loads(path.read_text())["window_size"]
