"""Take the README's screenshots: the real app under Xvfb after dropping the samples.

xvfb-run -a -s "-screen 0 1280x900x24" python -m bench.screenshot [digits|anomaly|imbalanced|imbalanced-explain|forgery ...]
"""

from __future__ import annotations

import os
import sys
import tempfile

from PIL import ImageGrab


def show_digits(app, root) -> None:
    from desktop_app.automation import simulate_drop, wait_until

    tab = app.tab("Digits")
    tab.start_loading()
    wait_until(root, lambda: "digits-cnn" in tab.predictors, 120, "the model")
    samples = digit_samples()
    simulate_drop(tab.drop_zone.area, samples)
    wait_until(root, lambda: len(tab.results.rows()) == len(samples), 60, "the predictions")
    tab.results.tree.selection_set(str(samples[3]))


def show_anomaly(app, root) -> None:
    from desktop_app.automation import simulate_drop, wait_until
    from training.core import paths

    tab = app.tab("Anomaly")
    app.notebook.select(tab)
    tab.start_loading()
    wait_until(root, lambda: tab.predictor is not None, 120, "the model")
    photos = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))[:2]
    simulate_drop(tab.drop_zone.area, [*digit_samples()[:6], *photos])
    wait_until(root, lambda: len(tab.results.rows()) == 8, 60, "the verdicts")
    tab.score_test_set()
    wait_until(root, lambda: tab.batch is not None, 120, "the test set")
    tab.show_page(tab.histogram_page)


def show_imbalanced(app, root) -> None:
    from desktop_app.automation import simulate_drop, wait_until
    from training import imbalanced
    from training.core import paths

    tab = app.tab("Imbalanced")
    app.notebook.select(tab)
    simulate_drop(tab.drop_zone.area, [paths.data_dir() / imbalanced.DEFAULT_CSV])
    wait_until(root, lambda: tab.frame is not None, 60, "the CSV")
    for (model, method), variable in tab.choices.items():
        variable.set(
            model in ("logistic_regression", "hist_gradient_boosting", "dummy")
            and method in ("none", "smote")
        )
    tab.run_button.invoke()
    wait_until(root, lambda: tab.grid_job is not None and tab.grid_job.finished, 600, "the grid")
    tab.table.tree.selection_set(tab.table.tree.get_children()[:3])


def show_imbalanced_explain(app, root) -> None:
    """The Explain page of the grid's best configuration on Bank Marketing."""
    from desktop_app.automation import wait_until

    show_imbalanced(app, root)
    tab = app.tab("Imbalanced")
    tab.table.tree.selection_set("hist_gradient_boosting-none")
    root.update()
    tab.pages.select(tab.explain_page)
    tab.explain_page.explain_button.invoke()
    wait_until(root, lambda: tab.explain_page.explanation is not None, 600, "the explanation")


def show_forgery(app, root) -> None:
    from desktop_app.automation import simulate_drop, wait_until
    from desktop_app.self_test import photo_samples

    tab = app.tab("Forgery")
    app.notebook.select(tab)
    authentic, tampered, screenshot = photo_samples()
    simulate_drop(tab.drop_zone.area, [tampered, authentic, screenshot])
    wait_until(root, lambda: len(tab.results.rows()) == 3, 120, "the verdicts")
    wait_until(
        root,
        lambda: (
            tab.photo.shown is not None
            and tab.photo.shown.verdict is not None
            and tab.shown_answer()["ela_shown"]
        ),
        60,
        "the tampered sample with its ELA",
    )
    wait_until(root, lambda: tab.photo.shown.overlay is not None, 60, "the heatmap")
    tab.photo.heatmap_checkbox.invoke()


def digit_samples():
    from training.core import paths

    return sorted((paths.assets_dir() / "samples" / "digits").glob("digit_*.png"))


SCENES = {
    "digits": show_digits,
    "anomaly": show_anomaly,
    "imbalanced": show_imbalanced,
    "imbalanced-explain": show_imbalanced_explain,
    "forgery": show_forgery,
}


def main() -> None:
    os.environ.setdefault("FINTECH_USER_DIR", tempfile.mkdtemp())
    from desktop_app.app import WorkbenchApp, create_root
    from training.core import paths

    for name in sys.argv[1:] or list(SCENES):
        root = create_root()
        app = WorkbenchApp(root)
        # Larger than the default 1100×760 (where the Results page scrolls): every part in view.
        root.geometry("1280x860+0+0")
        SCENES[name](app, root)
        for _ in range(40):
            root.update()
        # The menu bar is a window of its own above the root's client area: start at the top.
        x, top, bottom = root.winfo_rootx(), root.winfo_y(), root.winfo_rooty() + root.winfo_height()
        output = paths.assets_dir() / f"screenshot-{name}.png"
        ImageGrab.grab(bbox=(x, top, x + root.winfo_width(), bottom), xdisplay=os.environ["DISPLAY"]).save(
            output
        )
        print(output)
        app.quit()


if __name__ == "__main__":
    main()
