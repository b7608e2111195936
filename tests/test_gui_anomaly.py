"""The Anomaly tab under Xvfb: drops, verdicts, the draggable threshold, batches, retraining."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop_app.automation import invoke_menu, simulate_drop, wait_until
from tests.helpers import DIGIT_SAMPLES, rendered_pixels
from training.core import paths

PHOTOS = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))[:3]


def anomaly_tab(app):
    tab = app.tab("Anomaly")
    app.notebook.select(tab)
    return tab


def use_model(gui, tab, label: str):
    tab.model_choice.set(label)
    tab.model_selector.event_generate("<<ComboboxSelected>>")
    name = tab.selected_model_name()
    wait_until(gui.root, lambda: name in tab.predictors and name in tab.model_state.get(), 60, f"{name}")
    return tab.predictors[name]


@pytest.mark.data
def test_dropped_digits_are_normal_and_photos_noise_blanks_are_not(gui, tmp_path):
    tab = anomaly_tab(gui)
    tab.clear()
    use_model(gui, tab, "All digits normal")
    generator = np.random.default_rng(0)
    Image.fromarray(generator.integers(0, 256, (240, 320), dtype=np.uint8)).save(tmp_path / "noise.png")
    Image.new("L", (200, 200), 230).save(tmp_path / "blank.png")
    dropped = [*DIGIT_SAMPLES, *PHOTOS, tmp_path / "noise.png", tmp_path / "blank.png"]
    simulate_drop(tab.drop_zone.area, dropped)
    wait_until(gui.root, lambda: len(tab.results.rows()) == len(dropped), 60, "every verdict")
    verdicts = {row[0]: row[3] for row in tab.results.rows()}
    assert [verdicts[sample.name] for sample in DIGIT_SAMPLES] == ["digit"] * 10, verdicts
    assert all(verdicts[photo.name] == "not a digit" for photo in PHOTOS), verdicts
    assert verdicts["noise.png"] == "not a digit" and verdicts["blank.png"] == "not a digit"
    threshold = tab.predictor.threshold
    for row in tab.results.rows():  # score, signed distance to the threshold
        if row[1]:
            assert float(row[2]) == pytest.approx(float(row[1]) - threshold, abs=2e-3)

    tab.results.tree.selection_set(str(DIGIT_SAMPLES[4]))
    gui.root.update()
    shown = tab.shown_answer()
    assert shown["verdict"] == "digit" and shown["views_shown"] == [True, True, True]
    assert "below" in shown["message"] and f"{threshold:.3f}" in shown["message"]
    tab.results.tree.selection_set(str(PHOTOS[0]))
    gui.root.update()
    # One verdict, said once: the headline is the table's word.
    assert tab.shown_answer()["verdict"] == "not a digit" == verdicts[PHOTOS[0].name]
    assert rendered_view_differs(tab)

    tab.show_page(tab.histogram_page)
    gui.root.update()
    legend = [text.get_text() for text in tab.histogram.axes.get_legend().get_texts()]
    assert legend[0].startswith("normal validation images (2,000)")
    assert f"dropped images ({len(dropped)})" in legend
    assert rendered_pixels(tab.histogram).std() > 20
    assert tab.counts_text.get().startswith(f"Dropped images: {len(PHOTOS) + 2} of {len(dropped)} flagged")


def rendered_view_differs(tab) -> bool:
    """The original and the reconstruction are drawn, and they differ (it is an anomaly)."""
    original = np.asarray(tab.original_view.image, dtype=float)
    reconstruction = np.asarray(tab.reconstruction_view.image, dtype=float)
    return original.shape == reconstruction.shape == (28, 28) and np.abs(original - reconstruction).mean() > 5


def drag_threshold(gui, histogram, start: float, end: float) -> None:
    """Press on the threshold line, move, release: real Tk events on the plot's canvas."""
    widget = histogram.canvas.get_tk_widget()
    x_start, y = histogram.pixel_of(start)
    x_end, _ = histogram.pixel_of(end)
    widget.event_generate("<ButtonPress-1>", x=x_start, y=y)
    for x in np.linspace(x_start, x_end, 6).round().astype(int):
        widget.event_generate("<Motion>", x=x, y=y)
        gui.root.update()
    widget.event_generate("<ButtonRelease-1>", x=x_end, y=y)
    gui.root.update()


@pytest.mark.slow
def test_npz_batch_dragging_the_threshold_updates_counts_and_metrics(gui, mnist, tmp_path):
    tab = anomaly_tab(gui)
    tab.clear()
    predictor = use_model(gui, tab, "Only 0 normal")
    batch = tmp_path / "batch.npz"
    np.savez(batch, x_test=mnist.x_test[:1000], y_test=mnist.y_test[:1000])
    simulate_drop(tab.drop_zone.area, [batch])
    wait_until(gui.root, lambda: tab.batch is not None, 60, "the batch")
    assert tab.pages.select() == str(tab.histogram_page)
    before = tab.counts()
    assert before["batch"] == 1000
    zeros = int((mnist.y_test[:1000] == 0).sum())
    assert before["metrics"]["confusion_matrix"][0][0] + before["metrics"]["confusion_matrix"][0][1] == zeros
    assert before["metrics"]["recall"] > 0.8
    text_before = tab.counts_text.get()

    threshold = tab.threshold
    drag_threshold(gui, tab.histogram, threshold, threshold * 3)
    assert tab.rule_choice.get() == "(dragged)"
    assert tab.threshold > threshold * 1.5
    after = tab.counts()
    assert after["batch_flagged"] < before["batch_flagged"]
    assert after["metrics"]["recall"] < before["metrics"]["recall"]
    assert tab.counts_text.get() != text_before

    # The dragged threshold can be kept: a new user version, in use at once, rolled back after.
    name, dragged = tab.selected_model_name(), tab.threshold
    tab.save_threshold_button.invoke()
    wait_until(gui.root, lambda: tab.predictors[name].threshold_rule == "saved", 60, "the saved threshold")
    assert tab.rule_choice.get() == "saved by hand" and tab.threshold == pytest.approx(dragged)
    assert gui.registry.entry(name).origin == "user" and tab.save_threshold_button.instate(["disabled"])
    gui.registry.roll_back(name)
    tab.reload_model(name)
    wait_until(gui.root, lambda: tab.predictors[name].threshold_rule != "saved", 60, "the roll back")
    wait_until(gui.root, lambda: tab.batch is not None, 60, "the batch scored again")

    tab.rule_choice.set("max of validation scores")
    tab.rule_selector.event_generate("<<ComboboxSelected>>")
    gui.root.update()
    assert tab.threshold == pytest.approx(predictor.thresholds["max"])
    tab.show_page(tab.grid_page)
    scores = tab.batch.scored.scores
    top = f"{scores.max():.1f}"
    assert top in [text.get_text() for text in tab.grid_plot.figure.axes[0].texts][:1]
    assert rendered_pixels(tab.grid_plot).std() > 20


def test_a_folder_of_images_scores_in_the_background_and_cancels(gui, tmp_path):
    tab = anomaly_tab(gui)
    tab.clear()
    use_model(gui, tab, "All digits normal")
    folder = tmp_path / "scans"
    folder.mkdir()
    for index in range(400):
        (folder / f"scan_{index:03d}.png").write_bytes(DIGIT_SAMPLES[index % 10].read_bytes())
    simulate_drop(tab.drop_zone.area, [folder])
    wait_until(gui.root, lambda: len(tab.results.rows()) >= 5, 60, "the first rows")
    assert tab.cancel_button.instate(["!disabled"]) and 0 < tab.progress_bar["value"] < 1
    tab.cancel_button.invoke()
    # From the click on, the tab says it is stopping (never that it runs on), then that it stopped.
    assert tab.cancel_button.instate(["disabled"]) and "cancelling" in gui.status_text.get()
    wait_until(gui.root, lambda: not tab.batch_jobs, 30, "the cancel")
    assert 5 <= len(tab.results.rows()) < 400
    assert "Cancelled" in gui.status_text.get()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("report.pdf", b"%PDF-1.4 not an image", "not an image format"),
        ("empty.png", b"", "empty"),
        ("broken.npz", b"PK\x03\x04 truncated", "not a readable .npz"),
    ],
)
def test_bad_inputs_show_a_message(gui, tmp_path, name, content, expected):
    tab = anomaly_tab(gui)
    tab.clear()
    path = tmp_path / name
    path.write_bytes(content)
    simulate_drop(tab.drop_zone.area, [path])
    if path.suffix == ".npz":
        wait_until(gui.root, lambda: any(expected in window.text for window in gui.messages), 30, "a message")
        assert tab.batch is None
    else:
        wait_until(gui.root, lambda: len(tab.results.rows()) == 1, 30, "the answer")
        assert tab.results.rows()[0][3] == "error"
        tab.results.tree.selection_set(str(path))
        gui.root.update()
        assert expected in tab.shown_answer()["message"].lower()


def test_an_npz_of_the_wrong_shape_is_refused_with_a_reason(gui, tmp_path):
    tab = anomaly_tab(gui)
    path = tmp_path / "faces.npz"
    np.savez(path, images=np.zeros((5, 64, 64)))
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(
        gui.root, lambda: any("(5, 64, 64)" in window.text for window in gui.messages), 30, "a message"
    )


@pytest.mark.slow
@pytest.mark.data
def test_retrain_through_the_menu_swaps_in_then_reverts(gui):
    tab = anomaly_tab(gui)
    tab.clear()
    invoke_menu(gui, "Models", "Retrain Anomaly…")
    dialog = tab.retrain_dialog
    dialog.variables["normal"].set("7")
    dialog.variables["epochs"].set("1")
    dialog.variables["subset"].set("400")
    dialog.start_button.invoke()
    wait_until(gui.root, lambda: dialog.job is not None and dialog.job.finished, 180, "the retrain")
    assert dialog.status_text.get().startswith("Done"), dialog.status_text.get()
    if dialog.offers_new_model:  # a one-epoch model may score clearly worse: choose it anyway
        dialog.use_new_button.invoke()
    entry = gui.registry.entry("anomaly-digits-7")
    assert entry.origin == "user" and entry.path.parent == paths.user_models_dir()
    assert tab.model_choice.get() == "Only 7 normal"
    wait_until(
        gui.root,
        lambda: (
            "anomaly-digits-7" in tab.predictors and tab.predictors["anomaly-digits-7"].entry.origin == "user"
        ),
        60,
        "the swap",
    )
    assert "(user" in tab.model_state.get()
    assert len(dialog.epoch_metrics) == 1 and "val_loss" in dialog.epoch_metrics[0]
    dialog.cancel_or_close()
    invoke_menu(gui, "Models", "Revert Anomaly to bundled model")
    wait_until(
        gui.root, lambda: tab.predictors["anomaly-digits-7"].entry.origin == "bundled", 60, "the revert"
    )
    use_model(gui, tab, "All digits normal")


def test_retrain_refuses_nonsense_normal_digits(gui):
    tab = anomaly_tab(gui)
    invoke_menu(gui, "Models", "Retrain Anomaly…")
    dialog = tab.retrain_dialog
    dialog.variables["normal"].set("3x")
    models_before = set(paths.user_models_dir().glob("*"))
    dialog.start_button.invoke()
    wait_until(gui.root, lambda: dialog.job.finished, 30, "the refusal")
    assert "Normal digits" in dialog.status_text.get()
    assert set(paths.user_models_dir().glob("*")) == models_before
    dialog.cancel_or_close()
