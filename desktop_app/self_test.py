"""`--self-test`: check an installation without a dataset, and without a display if none.

Verifies every bundled model's sha256, runs each tool's engine on the samples under
assets/samples and compares with the expected answers; with a display it also opens the
window and drops a sample into every tab. Prints one line per check; exit status 1 if any
check fails. Used by CI on the built executable and by users checking an install.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from training.core import paths

SAMPLE_TABLE = Path("samples") / "tables" / "transactions.csv"
SAMPLE_PHOTOS = ("authentic.jpg", "tampered.jpg", "screenshot.png")


def digit_samples() -> list[tuple[Path, int]]:
    folder = paths.assets_dir() / "samples" / "digits"
    return [(folder / f"digit_{label}.png", label) for label in range(10)]


def check_models() -> str:
    from training.core.registry import ModelRegistry

    registry = ModelRegistry()
    names = sorted(registry.bundled_manifest()["models"])
    for name in names:
        registry.verified_path(name)
    return f"{len(names)} bundled models, sha256 verified"


def check_digits() -> str:
    from training import digits

    for kind, name in digits.MODEL_NAMES.items():
        predictor = digits.DigitsPredictor.load(name)
        answers = [predictor.predict_file(path).label for path, _label in digit_samples()]
        expected = [label for _path, label in digit_samples()]
        if answers != expected:
            raise AssertionError(f"{kind}: read the samples as {answers}, expected {expected}")
    return "CNN and MLP read the 10 sample digits correctly"


def check_anomaly(scratch: Path) -> str:
    import numpy as np
    from PIL import Image

    from training import anomaly

    gate = anomaly.AnomalyPredictor.load(anomaly.ALL_DIGITS_MODEL)
    verdicts = [gate.predict_file(path).anomaly for path, _label in digit_samples()]
    if any(verdicts):
        raise AssertionError(f"the all-digits model flags sample digits: {verdicts}")
    noise = scratch / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(noise)
    if not gate.predict_file(noise).anomaly:
        raise AssertionError("the all-digits model does not flag noise")
    for path, label in digit_samples():
        one_class = anomaly.AnomalyPredictor.load(anomaly.model_name((label,)))
        if one_class.predict_file(path).anomaly:
            raise AssertionError(f"the model for {label} flags the sample {label}")
    return "all-digits model passes the 10 samples and flags noise; each one-class model passes its digit"


def check_imbalanced() -> str:
    from training import imbalanced

    frame = imbalanced.read_table(paths.assets_dir() / SAMPLE_TABLE)
    data = imbalanced.prepare(frame, imbalanced.Problem("fraud", "fraud", ("transaction_id",)))
    _parts, results = imbalanced.run_grid(data, ["logistic_regression", "dummy"], ["none"])
    roc_auc = results[0].ranking["roc_auc"]
    if not roc_auc > 0.8 or results[1].ranking["roc_auc"] != 0.5:
        raise AssertionError(f"ROC AUC {roc_auc:.3f} on the sample table (expected > 0.8)")
    return f"logistic regression on the sample table: ROC AUC {roc_auc:.3f}"


def photo_samples() -> list[Path]:
    return [paths.assets_dir() / "samples" / "photos" / name for name in SAMPLE_PHOTOS]


def check_forgery() -> str:
    from training import forgery

    predictor = forgery.ForgeryPredictor.load(forgery.DEFAULT_MODEL)
    verdicts = [predictor.predict_file(path) for path in photo_samples()]
    for verdict in verdicts:
        if verdict.status != "ok" or verdict.label not in forgery.LABELS:
            raise AssertionError(f"{Path(verdict.path).name}: {verdict.status}: {verdict.message}")
        if verdict.block_map is None or verdict.heatmap((24, 32)).shape != (24, 32):
            raise AssertionError(f"{Path(verdict.path).name}: no localisation map")
    authentic, tampered, screenshot = verdicts
    if authentic.shown_label != "authentic" or tampered.shown_label != "tampered":
        raise AssertionError(
            f"the samples were judged {authentic.shown_label} ({authentic.tampered_probability:.2f}) and "
            f"{tampered.shown_label} ({tampered.tampered_probability:.2f})"
        )
    if authentic.warnings or not any("PNG" in warning for warning in screenshot.warnings):
        raise AssertionError(
            f"trust warnings: {authentic.warnings} for the camera-like JPEG, {screenshot.warnings} for the PNG"
        )
    figures = ", ".join(
        f"{Path(v.path).name} {v.tampered_probability:.2f} ({v.shown_label})" for v in verdicts
    )
    return (
        f"{forgery.DEFAULT_MODEL} judged the 3 sample photos: {figures}; the PNG carries its trust warnings"
    )


def check_report(scratch: Path) -> str:
    """A case report renders and is written: its templates and Jinja2 are in the executable."""
    from training import forgery, report
    from training.core.registry import ModelRegistry

    photo = photo_samples()[1]
    case = report.PhotoCase(forgery.analyse_file(photo, None))
    entry = ModelRegistry().entry(forgery.DEFAULT_MODEL)
    written = report.forgery_report([case], entry, 0.5).write(scratch / "report.html")
    text = written.read_text(encoding="utf-8")
    if case.analysis.opened.facts.sha256 not in text or text.count("data:image/png;base64,") < 2:
        raise AssertionError(f"{written.name} lacks the photo's sha256 or its images")
    return f"a Forgery case report of {photo.name} rendered and written ({len(text) / 1e6:.1f} MB)"


def check_window() -> str:
    """Open the real window, drop a sample into every tab, read what the user would see."""
    from desktop_app.app import WorkbenchApp, create_root
    from desktop_app.automation import simulate_drop, wait_until

    app = WorkbenchApp(create_root())
    root = app.root
    try:
        root.update()
        digits_tab, anomaly_tab, imbalanced_tab, forgery_tab = (
            app.tab(title) for title in ("Digits", "Anomaly", "Imbalanced", "Forgery")
        )
        sample, label = digit_samples()[7]
        app.notebook.select(digits_tab)
        simulate_drop(digits_tab.drop_zone.area, [sample])
        wait_until(root, lambda: digits_tab.answer_text.get() != "–", 120, "the Digits answer")
        if digits_tab.answer_text.get() != str(label):
            raise AssertionError(f"Digits tab shows {digits_tab.answer_text.get()!r} for a {label}")
        app.notebook.select(anomaly_tab)
        simulate_drop(anomaly_tab.drop_zone.area, [sample])
        wait_until(root, lambda: anomaly_tab.verdict_text.get() != "–", 120, "the Anomaly verdict")
        if anomaly_tab.verdict_text.get() != "digit":
            raise AssertionError(f"Anomaly tab shows {anomaly_tab.verdict_text.get()!r} for a digit")
        app.notebook.select(imbalanced_tab)
        simulate_drop(imbalanced_tab.drop_zone.area, [paths.assets_dir() / SAMPLE_TABLE])
        wait_until(root, lambda: imbalanced_tab.frame is not None, 60, "the sample table")
        for (model, method), variable in imbalanced_tab.choices.items():
            variable.set((model, method) == ("logistic_regression", "none"))
        imbalanced_tab.run_button.invoke()
        wait_until(root, lambda: len(imbalanced_tab.table.rows()) == 1, 180, "the Imbalanced result")
        app.notebook.select(forgery_tab)
        photo = photo_samples()[1]
        simulate_drop(forgery_tab.drop_zone.area, [photo])
        wait_until(
            root,
            lambda: forgery_tab.photo.shown is not None and forgery_tab.photo.shown.verdict is not None,
            120,
            "the Forgery verdict",
        )
        wait_until(root, lambda: forgery_tab.shown_answer()["ela_shown"], 60, "the ELA image")
        shown = forgery_tab.shown_answer()
        if shown["label"] not in ("tampered", "authentic", "inconclusive") or not shown["original_shown"]:
            raise AssertionError(f"Forgery tab shows {shown['label']!r} for {photo.name}")
        outcome = (
            "window opened; a sample dropped into Digits, Anomaly, Imbalanced and Forgery gave the "
            "expected answers"
        )
        if (paths.data_dir() / "mnist.npz").is_file():
            outcome += (
                f"; Models → Retrain Anomaly… wrote {retrain_from_the_menu(app)} to the user folder only"
            )
        else:
            outcome += "; retraining not tried (no MNIST in the data directory)"
        return outcome
    finally:
        app.quit()


def retrain_from_the_menu(app) -> str:
    """A one-epoch retrain through the menu: the new model must land in the user folder and
    the installed models must not change. It is in use unless it scored clearly worse than
    the bundled model, in which case the bundled one must stay in use."""
    from desktop_app.automation import invoke_menu, wait_until
    from training.core.datasets import sha256_file

    bundled_manifest = paths.bundled_models_dir() / "manifest.json"
    before = sha256_file(bundled_manifest)
    invoke_menu(app, "Models", "Retrain Anomaly…")
    dialog = app.tab("Anomaly").retrain_dialog
    for key, value in {"normal": "7", "epochs": "1", "subset": "300"}.items():
        dialog.variables[key].set(value)
    dialog.start_button.invoke()
    wait_until(app.root, lambda: dialog.job is not None and dialog.job.finished, 300, "the retrain")
    versions = app.registry.user_versions("anomaly-digits-7")
    if not dialog.status_text.get().startswith("Done") or not versions:
        raise AssertionError(f"retraining failed: {dialog.status_text.get()}")
    saved = paths.user_models_dir() / versions[-1]["file"]
    if not saved.is_file() or sha256_file(bundled_manifest) != before:
        raise AssertionError("retraining wrote outside the user folder")
    entry = app.registry.entry("anomaly-digits-7")
    kept_out = dialog.offers_new_model
    if (entry.origin != "bundled") if kept_out else (entry.path != saved):
        raise AssertionError(f"the model in use is {entry.path} after: {dialog.status_text.get()}")
    return saved.name + (" (not put in use: clearly worse than the bundled model)" if kept_out else "")


def run(with_window: bool | None = None) -> int:
    if with_window is None:
        with_window = bool(os.environ.get("DISPLAY"))
    with tempfile.TemporaryDirectory() as scratch:
        # A self-test must not touch the user's own models: it checks what is installed.
        os.environ["FINTECH_USER_DIR"] = scratch
        checks: list[tuple[str, Callable[[], str]]] = [
            ("models", check_models),
            ("digits", check_digits),
            ("anomaly", lambda: check_anomaly(Path(scratch))),
            ("imbalanced", check_imbalanced),
            ("forgery", check_forgery),
            ("report", lambda: check_report(Path(scratch))),
        ]
        if with_window:
            checks.append(("window", check_window))
        failures = 0
        for name, check in checks:
            started = time.perf_counter()
            try:
                outcome = check()
                print(f"PASS {name:<11} {outcome} ({time.perf_counter() - started:.1f} s)", flush=True)
            except Exception as error:  # noqa: BLE001 - report every failure, then the exit status
                failures += 1
                print(f"FAIL {name:<11} {type(error).__name__}: {error}", flush=True)
                traceback.print_exc(file=sys.stderr)
        if not with_window:
            print("SKIP window      no display (set DISPLAY, e.g. under xvfb-run, to test the window)")
    print("self-test passed" if not failures else f"self-test FAILED ({failures} check(s))", flush=True)
    return 1 if failures else 0
