"""The Forgery tab under Xvfb: drops, ELA beside the photo, verdicts with trust warnings,
metadata, batches with sorting and CSV export, bad files, retraining through the menu."""

from __future__ import annotations

import csv
import threading
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from desktop_app import model_cache
from desktop_app.automation import invoke_menu, simulate_drop, wait_until
from desktop_app.tabs.forgery.colours import INCONCLUSIVE_COLOUR
from tests.helpers import exif_with_thumbnail, render_photo, splice
from training import forgery
from training.core import paths
from training.forgery import data as forgery_data
from training.forgery import predict as forgery_predict
from training.forgery.clone_training import copy_move

CASIA_TEST = paths.data_dir() / "casia1_test"
AUTHENTIC = sorted((CASIA_TEST / "Au").glob("*.jpg"))[:3]
TAMPERED = sorted((CASIA_TEST / "Sp").glob("*.jpg"))[:3]
SAMPLES = paths.assets_dir() / "samples" / "photos"
ANSWERS = ("tampered", "authentic", "inconclusive")


@pytest.fixture(autouse=True)
def no_job_left_running(gui):
    """Every test ends with the tab's background work finished, so that what runs after it
    (other tabs' tests share the window) starts from a quiet job runner."""
    yield
    wait_until(gui.root, lambda: not gui.jobs.busy, 60, "the Forgery tab's jobs to finish")


def forgery_tab_of(app):
    tab = app.tab("Forgery")
    app.notebook.select(tab)
    return tab


def settled(tab, path) -> bool:
    """The photo at `path` is on screen with its ELA, and its verdict (or why there is none)."""
    shown = tab.photo.shown
    return (
        shown is not None
        and shown.opened.path == str(path)
        and shown.ela is not None
        and shown.verdict is not None
        and (shown.overlay is not None or shown.verdict.block_map is None)
        and not tab.photo.ela_worker.busy
    )


def drop_and_wait(gui, tab, path, timeout=60):
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(gui.root, lambda: settled(tab, path), timeout, f"{path.name} shown with its verdict")
    return tab.shown_answer()


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def count_calls(monkeypatch, owner, name: str, calls: list, results: list | None = None) -> None:
    """`owner.name` still does its work, and says each call in `calls` (and its result in
    `results`); worker threads may call it."""
    original = getattr(owner, name)

    def counted(*arguments, **keywords):
        calls.append(name)
        result = original(*arguments, **keywords)
        if results is not None:
            results.append(result)
        return result

    monkeypatch.setattr(owner, name, counted)


ENGINE_STEPS = ("photo_facts", "error_level_analysis", "block_features", "heatmap_at")


def test_forgery_is_the_fourth_tab(gui):
    assert [gui.notebook.tab(tab, "text") for tab in gui.notebook.tabs()][3] == "Forgery"
    assert forgery_tab_of(gui).drop_zone.drop_enabled


@pytest.mark.data
def test_dropped_photos_show_verdict_ela_and_metadata(gui, tmp_path):
    tab = forgery_tab_of(gui)
    tab.clear()
    for path in (AUTHENTIC[0], TAMPERED[0]):
        shown = drop_and_wait(gui, tab, path)
        with Image.open(path) as image:
            width, height = image.size
        assert shown["label"] in ANSWERS, shown
        assert "Tampering probability" in shown["probability"] and "%" in shown["probability"]
        assert shown["original_shown"] and shown["ela_shown"] and not shown["heatmap_shown"]
        metadata = shown["metadata"]
        assert metadata["Dimensions"].startswith(f"{width} × {height} px")
        assert metadata["Format"] == "JPEG"
        assert metadata["JPEG quality"].startswith("≈ ")
        assert len(metadata["SHA-256"]) == 64 and len(metadata["Average hash"]) == 16
        assert str(tab.photo.verdict_label.cget("foreground")) != ""
        row = tab.results.rows()[-1]
        assert row[0] == path.name and row[1] == shown["label"] and 0 <= float(row[2]) <= 1
        # What the views draw is the photo and its ELA (a screen-sized copy), not the same picture.
        assert tab.photo.original_view.image.size == tab.photo.ela_view.image.size == (width, height)
        assert np.abs(pixels(tab.photo.original_view.image) - pixels(tab.photo.ela_view.image)).mean() > 20

    screenshot = tmp_path / "capture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)).save(screenshot)
    shown = drop_and_wait(gui, tab, screenshot)
    assert shown["label"] in ANSWERS
    assert any("PNG is saved without JPEG compression" in warning for warning in shown["warnings"])
    assert "PNG is saved without JPEG compression" in tab.photo.warnings_text.get()
    assert tab.photo.warnings_label.winfo_ismapped()
    assert shown["metadata"]["Format"] == "PNG"
    assert shown["metadata"]["JPEG quality"].startswith("–")
    assert tab.results.rows()[-1][3].startswith("1 ⚠ PNG")


@pytest.mark.data
def test_a_drop_is_one_engine_call_and_the_tab_draws_what_it_returns(gui, monkeypatch):
    """The tab computes nothing of a photo itself: one `analyse_file` per drop, in which the
    facts, the ELA, the model's features and the heatmap are each made once."""
    tab = forgery_tab_of(gui)
    tab.clear()
    calls, analyses = [], []
    count_calls(monkeypatch, forgery, "analyse_file", calls, analyses)
    count_calls(monkeypatch, forgery.ForgeryPredictor, "predict_file", calls)
    for step in ENGINE_STEPS:
        count_calls(monkeypatch, forgery_predict, step, calls)
    shown = drop_and_wait(gui, tab, TAMPERED[0])
    tab.photo.heatmap_checkbox.invoke()
    gui.root.update()
    try:
        assert Counter(calls) == {"analyse_file": 1, **dict.fromkeys(ENGINE_STEPS, 1)}
        (analysis,) = analyses
        assert shown["label"] == analysis.verdict.shown_label and shown["label"] in ANSWERS
        assert f"{analysis.verdict.tampered_probability:.1%}" in shown["probability"]
        assert shown["metadata"] == dict(analysis.opened.metadata)
        assert shown["warnings"] == analysis.opened.warnings == analysis.verdict.warnings
        assert shown["ela_settings"] == analysis.ela.settings == tab.photo.ela_settings
        assert tab.photo.ela_view.image is analysis.ela.image
        assert tab.photo.original_view.image is analysis.overlay and tab.shown_answer()["heatmap_shown"]
        assert tab.results.rows()[-1][:2] == [TAMPERED[0].name, shown["label"]]
    finally:
        tab.photo.heatmap_checkbox.invoke()
    gui.root.update()
    assert tab.photo.original_view.image is analysis.opened.display


@pytest.mark.data
def test_a_photo_dropped_while_the_model_loads_is_shown_at_once_and_judged_when_it_is_ready(gui, monkeypatch):
    tab = forgery_tab_of(gui)
    tab.clear()
    name = tab.selected_model_name()
    in_use = gui.model_cache.loaded.pop(name)  # as right after start-up, while it still loads
    release = threading.Event()
    load = model_cache.load_model

    def slow_load(model_name, registry):
        release.wait(60)
        return load(model_name, registry)

    monkeypatch.setattr(model_cache, "load_model", slow_load)
    calls = []
    count_calls(monkeypatch, forgery, "analyse_file", calls)
    count_calls(monkeypatch, forgery, "judge_opened", calls)
    try:
        simulate_drop(tab.drop_zone.area, [TAMPERED[0]])
        wait_until(
            gui.root,
            lambda: tab.photo.shown is not None and tab.photo.shown.ela is not None,
            60,
            "the photo and its ELA before the model",
        )
        assert tab.photo.shown.verdict is None and tab.shown_answer()["rows"] == []
        release.set()
        wait_until(gui.root, lambda: settled(tab, TAMPERED[0]), 60, "the verdict once the model is ready")
        assert tab.shown_answer()["label"] in ANSWERS
        assert [row[0] for row in tab.results.rows()] == [TAMPERED[0].name]
        assert calls == ["analyse_file", "judge_opened"]  # the photo is read once
    finally:
        release.set()
        wait_until(gui.root, lambda: name in gui.model_cache.loaded, 60, "the model")
        gui.model_cache.loaded[name] = in_use


def test_weak_evidence_is_shown_as_inconclusive_with_its_reason_and_best_guess(gui, tmp_path):
    tab = forgery_tab_of(gui)
    tab.clear()
    samples = {}
    for name, expected in (("authentic.jpg", "authentic"), ("tampered.jpg", "tampered")):
        shown = drop_and_wait(gui, tab, SAMPLES / name)
        assert shown["label"] == expected, shown
        samples[expected] = tab.photo.shown.verdict.tampered_probability
    assert samples["authentic"] < 0.5 < samples["tampered"]
    squeezed = tmp_path / "forwarded.jpg"
    Image.open(SAMPLES / "tampered.jpg").save(squeezed, quality=45)
    shown = drop_and_wait(gui, tab, squeezed)
    assert shown["label"] == "inconclusive"
    assert str(tab.photo.verdict_label.cget("foreground")) == INCONCLUSIVE_COLOUR
    assert "strongly re-compressed" in shown["message"] and "Best guess: " in shown["message"]
    row = tab.results.rows()[-1]
    assert row[1] == "inconclusive" and "strongly re-compressed" in row[3]
    exported = tmp_path / "verdicts.csv"
    tab.batch.export_csv(exported)
    with open(exported, newline="", encoding="utf-8") as handle:
        line = list(csv.DictReader(handle))[-1]
    assert line["verdict"] == "inconclusive" and line["best_guess"] in ("tampered", "authentic")
    assert "strongly re-compressed" in line["reason"]


def test_the_evaluation_page_draws_the_models_reliability_and_bands(gui):
    tab = forgery_tab_of(gui)
    tab.show_page(tab.evaluation_page)
    note = tab.evaluation_view.note.get()
    assert "held-out photos" in note and "ROC AUC" in note and "inconclusive" in note
    reliability, bands = tab.evaluation_view.chart.figure.axes
    assert "ECE" in reliability.get_title()
    assert [label.get_text() for label in bands.get_xticklabels()] == list(forgery_data.BAND_NAMES)
    tab.show_page(tab.photo)


@pytest.mark.data
def test_blend_heatmap_zoom_and_live_ela_controls(gui):
    tab = forgery_tab_of(gui)
    tab.clear()
    drop_and_wait(gui, tab, TAMPERED[1])
    panel = tab.photo
    shown = panel.shown
    photo, ela = pixels(shown.opened.display), pixels(shown.ela)

    # The opacity slider blends the right view from the photo to its ELA.
    panel.opacity.set(0)
    gui.root.update()
    assert np.array_equal(pixels(panel.ela_view.image), photo)
    panel.opacity.set(50)
    gui.root.update()
    half = pixels(panel.ela_view.image)
    assert np.abs(half - (photo + ela) / 2).max() <= 1
    panel.opacity.set(100)
    gui.root.update()
    assert np.array_equal(pixels(panel.ela_view.image), ela)

    # The heatmap toggle draws the localisation map over the photo, and takes it away.
    assert "Tick the heatmap" in panel.message_text.get()
    panel.heatmap_checkbox.invoke()
    gui.root.update()
    assert tab.shown_answer()["heatmap_shown"]
    assert np.abs(pixels(panel.original_view.image) - photo).mean() > 1
    assert "The heatmap shows where the model looks" in panel.message_text.get()
    panel.heatmap_checkbox.invoke()
    gui.root.update()
    assert not tab.shown_answer()["heatmap_shown"]
    assert np.array_equal(pixels(panel.original_view.image), photo)
    assert "Tick the heatmap" in panel.message_text.get()

    # Zoom and pan in one view: the other follows.
    view = panel.original_view
    view.event_generate("<Button-4>", x=view.winfo_width() // 3, y=view.winfo_height() // 3)
    view.event_generate("<ButtonPress-1>", x=50, y=50)
    view.event_generate("<B1-Motion>", x=80, y=65)
    gui.root.update()
    assert view.zoom > 1 and panel.ela_view.zoom == view.zoom and panel.ela_view.offset == view.offset
    panel.ela_view.reset_view()  # what a double click does
    assert view.zoom == 1.0 and view.offset == [0.0, 0.0]

    # An ELA control recomputes the ELA off the Tk thread: a new picture, the view kept.
    panel.ela_quality.set(60)
    wait_until(
        gui.root, lambda: panel.shown.ela_settings.quality == 60 and not panel.ela_worker.busy, 30, "q60"
    )
    assert panel.quality_text.get() == "60"
    assert np.abs(pixels(panel.ela_view.image) - ela).mean() > 1
    # A slider dragged fast: only the newest setting counts, the ones between are skipped.
    started = panel.ela_worker.started
    for quality in range(61, 81):
        panel.ela_quality.set(quality)
    wait_until(gui.root, lambda: not panel.ela_worker.busy, 30, "the last request")
    assert panel.shown.ela_settings.quality == 80
    assert panel.ela_worker.started - started <= 3
    panel.ela_scaling.set("gain")
    panel.ela_gain.set(45)
    wait_until(
        gui.root, lambda: panel.shown.ela_settings.scaling == "gain" and not panel.ela_worker.busy, 30, "gain"
    )
    assert panel.shown.ela_settings.gain == 45 and panel.gain_scale.instate(["!disabled"])

    panel.reset_ela_controls()
    wait_until(gui.root, lambda: not panel.ela_worker.busy, 30, "the reset")
    assert panel.shown.ela_settings == panel.ela_settings == forgery.ElaSettings()
    assert (panel.ela_quality.get(), panel.ela_scaling.get(), panel.ela_gain.get()) == (90, "max", 20.0)
    assert panel.gain_scale.instate(["disabled"])
    assert np.array_equal(pixels(panel.ela_view.image), ela)


@pytest.mark.data
def test_a_folder_fills_the_table_which_sorts_and_exports(gui, tmp_path, monkeypatch):
    tab = forgery_tab_of(gui)
    tab.clear()
    folder = tmp_path / "case 17"
    folder.mkdir()
    for path in (*AUTHENTIC, *TAMPERED):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.jpg").write_bytes(AUTHENTIC[0].read_bytes()[:2000])
    (folder / "notes.txt").write_text("not a photo, and not picked up from a folder")
    simulate_drop(tab.drop_zone.area, [folder])
    wait_until(gui.root, lambda: len(tab.results.rows()) == 7, 60, "7 rows")
    wait_until(gui.root, lambda: tab.cancel_button.instate(["disabled"]), 30, "the batch to end")
    assert tab.progress_bar["value"] == pytest.approx(1.0)
    rows = {row[0]: row for row in tab.results.rows()}
    assert rows["broken.jpg"][1] == "error" and "truncated or corrupt" in rows["broken.jpg"][3]
    assert all(rows[path.name][1] in ANSWERS for path in (*AUTHENTIC, *TAMPERED))
    first = sorted(path.name for path in folder.iterdir() if path.suffix == ".jpg")[0]
    wait_until(gui.root, lambda: settled(tab, folder / first), 30, "the first photo shown")

    assert tab.results.tree.heading("probability", "command")  # the heading is clickable
    tab.results.sort_by("probability")
    ascending = [row[2] for row in tab.results.rows() if row[2]]
    assert ascending == sorted(ascending, key=float)
    tab.results.sort_by("probability")
    descending = [row[2] for row in tab.results.rows() if row[2]]
    assert descending == sorted(descending, key=float, reverse=True)

    exported = tmp_path / "verdicts.csv"
    assert tab.batch.export_csv(exported) == 7
    with open(exported, newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["file"] for line in lines] == [row[0] for row in tab.results.rows()]
    by_file = {line["file"]: line for line in lines}
    assert by_file["broken.jpg"]["status"] == "error"
    for row in tab.results.rows():
        if row[2]:
            assert f"{float(by_file[row[0]]['tampered_probability']):.3f}" == row[2]
            assert by_file[row[0]]["verdict"] == row[1] and by_file[row[0]]["format"] == "JPEG"

    # Selecting a row shows that photo with its stored verdict (no second scoring): one engine
    # call, and the model does not run.
    calls = []
    count_calls(monkeypatch, forgery, "analyse_file", calls)
    count_calls(monkeypatch, forgery_predict, "block_features", calls)
    tab.results.tree.selection_set(str(folder / TAMPERED[2].name))
    wait_until(gui.root, lambda: settled(tab, folder / TAMPERED[2].name), 30, "the selected photo")
    assert tab.photo.shown.verdict is tab.batch.verdicts[str(folder / TAMPERED[2].name)]
    assert calls == ["analyse_file"]


@pytest.mark.data
def test_scoring_a_batch_can_be_cancelled(gui, tmp_path):
    tab = forgery_tab_of(gui)
    tab.clear()
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(60):
        (folder / f"photo_{index:02d}.jpg").write_bytes(AUTHENTIC[index % 3].read_bytes())
    simulate_drop(tab.drop_zone.area, [folder])
    wait_until(gui.root, lambda: len(tab.results.rows()) >= 3, 60, "the first rows")
    assert tab.cancel_button.instate(["!disabled"]) and 0 < tab.progress_bar["value"] < 1
    tab.cancel_button.invoke()
    # From the click on, the tab says it is stopping (never that it runs on), then that it stopped.
    assert tab.cancel_button.instate(["disabled"]) and "cancelling" in gui.status_text.get()
    wait_until(gui.root, lambda: not tab.batch_jobs, 30, "the cancel")
    assert 3 <= len(tab.results.rows()) < 60
    assert "cancelled" in gui.status_text.get()


def make_bad_input(tmp_path, kind):
    generator = np.random.default_rng(1)
    photo = generator.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    path = (
        tmp_path
        / {
            "pdf": "report.pdf",
            "truncated": "cut.jpg",
            "empty": "empty.jpg",
            "huge": "huge.png",
            "cmyk": "print.jpg",
            "16-bit": "scan16.png",
            "alpha": "logo.png",
            "tiny": "icon.jpg",
        }[kind]
    )
    if kind == "pdf":
        path.write_bytes(b"%PDF-1.4 not an image")
    elif kind == "truncated":
        Image.fromarray(photo).save(tmp_path / "whole.jpg", quality=90)
        path.write_bytes((tmp_path / "whole.jpg").read_bytes()[:3000])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "huge":
        Image.new("1", (9000, 9000)).save(path)
    elif kind == "cmyk":
        Image.fromarray(photo).convert("CMYK").save(path, quality=90)
    elif kind == "16-bit":
        Image.fromarray(generator.integers(0, 65535, (300, 400)).astype(np.uint16)).save(path)
    elif kind == "alpha":
        Image.fromarray(np.dstack([photo, photo[..., :1]])).save(path)
    else:
        Image.fromarray(photo[:12, :12]).save(path)
    return path


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("pdf", "not an image format"),
        ("truncated", "truncated or corrupt"),
        ("empty", "the file is empty"),
        ("huge", "too large"),
    ],
)
def test_unreadable_files_give_a_message_and_an_error_row(gui, tmp_path, kind, expected):
    tab = forgery_tab_of(gui)
    tab.clear()
    path = make_bad_input(tmp_path, kind)
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(gui.root, lambda: len(tab.results.rows()) == 1, 30, "the error row")
    shown = tab.shown_answer()
    assert expected in shown["message"] and shown["label"] == "cannot read"
    assert not shown["original_shown"] and not shown["ela_shown"]
    assert tab.results.rows()[0][:2] == [path.name, "error"]


@pytest.mark.parametrize("kind", ["cmyk", "16-bit", "alpha", "tiny"])
def test_unusual_photos_are_shown_with_a_verdict_or_the_reason_for_none(gui, tmp_path, kind):
    tab = forgery_tab_of(gui)
    tab.clear()
    path = make_bad_input(tmp_path, kind)
    shown = drop_and_wait(gui, tab, path)
    assert shown["original_shown"] and shown["ela_shown"]
    if kind == "tiny":
        assert shown["label"] == "no verdict" and "too small" in shown["message"]
        assert any("too small" in warning for warning in shown["warnings"])
        assert tab.results.rows()[0][1] == "error"
    else:
        assert shown["label"] in ANSWERS
        assert shown["metadata"]["Colour mode"] == {"cmyk": "CMYK", "16-bit": "I;16", "alpha": "RGBA"}[kind]
    if kind != "cmyk":
        assert shown["warnings"], "a lossless or tiny file must carry a warning"


@pytest.mark.slow
def test_a_12_megapixel_photo_is_drawn_from_a_screen_sized_copy(gui, tmp_path):
    tab = forgery_tab_of(gui)
    tab.clear()
    path = tmp_path / "camera.jpg"
    render_photo((4000, 3000), seed=5).save(path, quality=90)
    shown = drop_and_wait(gui, tab, path, timeout=90)
    assert shown["metadata"]["Dimensions"].startswith("4000 × 3000 px (12.0 MP)")
    assert (
        max(tab.photo.original_view.image.size) == max(tab.photo.ela_view.image.size) == forgery.DISPLAY_SIDE
    )
    assert tab.photo.shown.opened.image.size == (4000, 3000)  # the ELA and the model see every pixel
    assert shown["label"] in ANSWERS


def make_training_folder(root):
    """8 real and 8 spliced rendered photos of 256×256: enough for one quick epoch."""
    for folder in ("real", "fake"):
        (root / folder).mkdir(parents=True)
    for index in range(8):
        photo = render_photo((256, 256), seed=100 + index)
        photo.save(root / "real" / f"real_{index}.jpg", quality=90)
        spliced, _mask = splice(photo, donor_quality=55, box=(20, 40, 110, 150), to=(131 + index, 83))
        spliced.save(root / "fake" / f"fake_{index}.jpg", quality=90)
    return root


@pytest.mark.slow
def test_retrain_through_the_menu_lands_a_user_model_then_reverts(gui, tmp_path):
    tab = forgery_tab_of(gui)
    tab.clear()
    registry = gui.registry
    assert registry.entry("forgery-blocks").origin == "bundled"
    invoke_menu(gui, "Models", "Retrain Forgery…")
    dialog = tab.retrain_dialog
    values = {
        "data_folder": str(make_training_folder(tmp_path / "photos")),
        "backbone": "blocks",
        "epochs": "1",
        "resaved_copies": "0",
        "extra_photos": "",
        "synthetic_pairs": "0",
    }
    for key, value in values.items():
        dialog.variables[key].set(value)
    dialog.start_button.invoke()
    wait_until(gui.root, lambda: dialog.job is not None and dialog.job.finished, 180, "the retrain")
    assert dialog.status_text.get().startswith("Done"), dialog.status_text.get()
    if dialog.offers_new_model:  # a one-epoch model may score clearly worse: choose it anyway
        dialog.use_new_button.invoke()
    entry = registry.entry("forgery-blocks")
    assert entry.origin == "user" and entry.path.parent == paths.user_models_dir()
    wait_until(
        gui.root,
        lambda: (
            "forgery-blocks" in tab.predictors and tab.predictors["forgery-blocks"].entry.origin == "user"
        ),
        60,
        "the swap",
    )
    assert "(user" in tab.model_state.get()
    shown = drop_and_wait(gui, tab, SAMPLES / "tampered.jpg")
    assert shown["label"] in ANSWERS
    dialog.cancel_or_close()
    invoke_menu(gui, "Models", "Revert Forgery to bundled model")
    wait_until(gui.root, lambda: tab.predictors["forgery-blocks"].entry.origin == "bundled", 60, "the revert")
    assert registry.entry("forgery-blocks").origin == "bundled"
    assert "(bundled" in tab.model_state.get()


def test_retrain_refuses_a_folder_that_is_not_there(gui, tmp_path):
    tab = forgery_tab_of(gui)
    invoke_menu(gui, "Models", "Retrain Forgery…")
    dialog = tab.retrain_dialog
    dialog.variables["data_folder"].set(str(tmp_path / "missing"))
    models_before = set(paths.user_models_dir().glob("*"))
    dialog.start_button.invoke()
    wait_until(gui.root, lambda: dialog.job.finished, 30, "the refusal")
    assert "is not a folder" in dialog.status_text.get()
    assert set(paths.user_models_dir().glob("*")) == models_before
    dialog.cancel_or_close()


@pytest.mark.slow
def test_forensic_views_page_shows_each_view_with_its_controls_note_and_agreement(gui, tmp_path):
    """A photo with a cloned region and an EXIF thumbnail of the photo before the edit: after
    its verdict every view is computed off the Tk thread; each shows its own picture, figures,
    controls and note; moving a control redraws that view; the verdict says which agree."""
    from training.forgery import views as forgery_views

    photo = Image.open(SAMPLES / "authentic.jpg").convert("RGB")
    forged, mask = copy_move(photo, (44, 148, 118, 222), (224, 49))
    path = tmp_path / "cloned.jpg"
    forged.save(path, "JPEG", quality=85, exif=exif_with_thumbnail(photo.resize((112, 74))))
    tab = forgery_tab_of(gui)
    tab.clear()
    drop_and_wait(gui, tab, path)
    page = tab.views_page
    wait_until(
        gui.root,
        lambda: tab.photo.shown.views is not None and not page.worker.busy,
        120,
        "the forensic views",
    )
    tab.pages.select(page)
    gui.root.update()
    computed = tab.photo.shown.views
    figures_seen = {}
    for name in forgery.VIEW_NAMES:
        page.selectors[name].invoke()
        gui.root.update()
        seen = page.shown_answer()
        assert seen["view"] == name
        assert seen["picture"] is computed.get(name).image
        assert seen["picture"].size == tab.photo.shown.opened.display.size
        assert seen["note"] == f"How to read this: {forgery_views.HOW_TO_READ[name]}"
        assert page.control_rows[name].winfo_ismapped()
        assert not any(row.winfo_ismapped() for other, row in page.control_rows.items() if other != name)
        assert seen["figures"] == forgery_views.view_figures(name, computed.get(name))
        figures_seen[name] = seen["figures"]
    # The copy is among the regions shown (the cat's two eyes may be reported too: a natural pair).
    copied = np.asarray(mask) > 0
    assert any(
        copied[top:bottom, left:right].any()
        for left, top, right, bottom in (
            box for region in computed.clones.regions for box in (region.source, region.target)
        )
    )
    assert "cloned region" in figures_seen["clones"]
    assert "of the photo (dimmed) is too flat to check" in figures_seen["clones"]
    assert computed.thumbnail.present and "same shape as the photo" in figures_seen["thumbnail"]
    agreement = tab.shown_answer()["views_agreement"]
    assert agreement.startswith("Views: ") and all(
        title in agreement for title in forgery.VIEW_TITLES.values()
    )

    # The ghost quality slider redraws the ghosts at that quality (no other view is computed).
    page.selectors["ghosts"].invoke()
    before = page.view_view.image
    move_view_control(gui, tab, "ghosts", "shown_quality", 55)
    assert page.view_view.image is tab.photo.shown.views.ghosts.image and page.view_view.image is not before
    assert tab.photo.shown.views.clones is computed.clones

    # "Sure ≥" starts at the verifier's threshold; raised, only the surer regions stay.
    page.selectors["clones"].invoke()
    assert float(page.controls["clones.min_probability"].get()) == pytest.approx(
        forgery.clones.verifier_in_use().threshold
    )
    move_view_control(gui, tab, "clones", "min_probability", 0.95)
    surest = tab.photo.shown.views.clones.regions
    assert all(region.probability >= 0.95 for region in surest)
    assert {region.source for region in surest} <= {region.source for region in computed.clones.regions}
    assert page.shown_answer()["figures"] == forgery_views.view_figures(
        "clones", tab.photo.shown.views.clones
    )
    tab.pages.select(tab.photo)


def move_view_control(gui, tab, view: str, key: str, value) -> None:
    """Move a forensic view's control and wait until that view is computed again with it."""
    page = tab.views_page
    page.controls[f"{view}.{key}"].set(value)
    wait_until(
        gui.root,
        lambda: getattr(getattr(tab.photo.shown.views, view).settings, key) == value and not page.worker.busy,
        60,
        f"the {view} view with {key} = {value}",
    )
    gui.root.update()
