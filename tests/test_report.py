"""Case reports: `python -m training report TOOL PATH... -o FILE.html` for each tool, read back
for what an auditor checks (verdict, the input's and the model's sha256, embedded images);
autoescaped file names; a batch's summary table; File → Export report… on each tab; and the
file opened in a real headless Chromium (no failed resource, no script error, prints to PDF)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.automation import invoke_menu, simulate_drop, wait_until
from tests.helpers import DIGIT_SAMPLES, SMALL_GRID_ARGUMENTS, run_cli, write_mixed_csv
from training.core import paths
from training.core.registry import ModelRegistry

SAMPLE_PHOTOS = paths.assets_dir() / "samples" / "photos"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_sha256(name: str) -> str:
    return ModelRegistry().entry(name).record["sha256"]


def embedded_images(text: str) -> list[Image.Image]:
    """Every <img> of the report, which must be a PNG embedded as a data: URI, decoded."""
    sources = re.findall(r'<img\s[^>]*src="([^"]*)"', text)
    decoded = []
    for source in sources:
        assert source.startswith("data:image/png;base64,"), source[:80]
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1], validate=True)))
        assert image.format == "PNG"
        image.load()
        decoded.append(image)
    return decoded


def visible_text(text: str) -> str:
    """The report's text as a reader sees it: tags dropped, entities decoded, spaces joined."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def assert_self_contained(text: str) -> None:
    """Nothing the page could fetch: no script, stylesheet link or frame, every src and href
    inside the file, no url() in the styles."""
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, re.IGNORECASE)
    for reference in re.findall(r'\b(?:src|href)="([^"]*)"', text):
        assert reference.startswith(("data:", "#")), reference[:80]
    assert "url(" not in text


@pytest.fixture(scope="module")
def forgery_single(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("report") / "case.html"
    completed = run_cli("report", "forgery", str(SAMPLE_PHOTOS / "tampered.jpg"), "-o", str(output))
    assert completed.returncode == 0, completed.stderr
    assert f"Report written to {output}" in completed.stdout
    return output


@pytest.mark.slow
def test_forgery_report_of_one_photo_names_verdict_photo_and_model_and_embeds_every_figure(forgery_single):
    text = forgery_single.read_text(encoding="utf-8")
    shown = visible_text(text)
    answer = json.loads(
        run_cli("predict", "forgery", str(SAMPLE_PHOTOS / "tampered.jpg"), "--json").stdout.splitlines()[0]
    )
    verdict = answer["label"] if answer["conclusive"] else "inconclusive"
    assert f"Verdict: {verdict}" in shown
    assert f"{answer['tampered_probability']:.3f} (threshold 0.50)" in shown
    assert sha256_of(SAMPLE_PHOTOS / "tampered.jpg") in shown
    assert model_sha256("forgery-blocks") in shown
    assert "forgery-blocks.keras" in shown and "ROC AUC" in shown  # the model's version and test figures
    assert "A photo is called tampered when" in shown  # the rule
    images = embedded_images(text)
    # The photo, its ELA, the heatmap over it, and a picture for each view the photo has.
    assert len(images) >= 3 + 4
    for title in ("Noise residual", "JPEG ghosts", "Clones", "Luminance gradient", "EXIF thumbnail"):
        assert title in shown
    assert "Views: " in shown  # the agreement line
    assert "In short: noise outliers" in shown  # the views' headline figures
    assert_self_contained(text)


@pytest.mark.slow
def test_forgery_batch_report_has_a_summary_table_and_a_section_per_photo(tmp_path):
    output = tmp_path / "batch.html"
    completed = run_cli("report", "forgery", str(SAMPLE_PHOTOS), "-o", str(output))
    assert completed.returncode == 0, completed.stderr
    text = output.read_text(encoding="utf-8")
    summary = text.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    names = sorted(path.name for path in SAMPLE_PHOTOS.iterdir())
    assert sorted(re.findall(r"<td>([^<]+\.(?:jpg|png))</td>", summary)) == names
    for index, name in enumerate(sorted(names), start=1):
        assert f'id="item-{index}"' in text and sha256_of(SAMPLE_PHOTOS / name)[:16] in summary
    assert "The forensic views are shown for the photos not judged authentic." in visible_text(text)
    assert len(embedded_images(text)) >= 3 * len(names)


def test_file_names_are_escaped_not_run(tmp_path):
    """A file named like markup is shown as text (Jinja2 autoescape), never as markup."""
    from training import forgery, report

    photo = tmp_path / '<script>alert("x")<script><b onmouseover=alert(1)>.png'
    Image.open(SAMPLE_PHOTOS / "authentic.jpg").save(photo)
    case = report.PhotoCase(forgery.analyse_file(photo, None))
    made = report.forgery_report([case], None, 0.5)
    assert "<script>" not in made.html and "<b onmouseover" not in made.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;script&gt;&lt;b onmouseover=alert(1)&gt;.png" in made.html
    assert photo.name in visible_text(made.html)
    assert_self_contained(made.html)
    written = made.write(tmp_path / "escaped.html")
    assert written.read_text(encoding="utf-8") == made.html


@pytest.mark.slow
def test_digits_report_gives_each_answer_and_its_image(tmp_path):
    output = tmp_path / "digits.html"
    completed = run_cli("report", "digits", str(DIGIT_SAMPLES[0].parent), "-o", str(output))
    assert completed.returncode == 0, completed.stderr
    text = output.read_text(encoding="utf-8")
    shown = visible_text(text)
    assert model_sha256("digits-cnn") in shown and "Accuracy on the 10,000 MNIST test digits" in shown
    for sample in DIGIT_SAMPLES:
        assert sha256_of(sample) in shown
    answers = re.findall(r'<td class="(?:normal|unsure)">(\d)\??</td>', text)
    assert answers == [sample.stem[-1] for sample in DIGIT_SAMPLES]
    # Each image and what the model saw, and the model's confusion matrix.
    assert len(embedded_images(text)) == 2 * len(DIGIT_SAMPLES) + 1


@pytest.mark.slow
def test_anomaly_report_gives_score_threshold_rule_and_the_three_pictures(tmp_path):
    output = tmp_path / "anomaly.html"
    photo = SAMPLE_PHOTOS / "authentic.jpg"
    completed = run_cli("report", "anomaly", str(DIGIT_SAMPLES[3]), str(photo), "-o", str(output))
    assert completed.returncode == 0, completed.stderr
    text = output.read_text(encoding="utf-8")
    shown = visible_text(text)
    assert "1 of 2 flagged as not a digit." in shown
    assert "percentile of validation scores, the model's own rule" in shown
    assert model_sha256("anomaly-all-digits") in shown and sha256_of(photo) in shown
    assert re.search(r"Verdict: digit .*Verdict: not a digit", shown)
    assert len(embedded_images(text)) == 1 + 6  # the scores; what the model sees, reconstruction, error twice


@pytest.mark.slow
def test_imbalanced_report_runs_the_grid_and_shows_the_operating_point(tmp_path):
    table = write_mixed_csv(tmp_path / "loans.csv", rows=1500, positive_rate=0.08)
    output = tmp_path / "imbalanced.html"
    completed = run_cli(
        "report",
        "imbalanced",
        str(table),
        *SMALL_GRID_ARGUMENTS,
        "--explain",
        "-o",
        str(output),
    )
    assert completed.returncode == 0, completed.stderr
    text = output.read_text(encoding="utf-8")
    shown = visible_text(text)
    assert sha256_of(table) in shown
    assert "Every configuration tried" in shown and "Dummy (class prior)" in shown
    assert "Configuration Logistic Regression + none" in shown  # the best PR AUC is chosen
    assert "A row is flagged as fraud when its predicted probability is at least" in shown
    assert "test rows explained" in shown
    assert len(embedded_images(text)) == 3  # the confusion matrix, the curves, the importance


def test_cli_errors_are_clean(tmp_path):
    nothing = tmp_path / "empty"
    nothing.mkdir()
    completed = run_cli("report", "forgery", str(nothing), "-o", str(tmp_path / "x.html"))
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    completed = run_cli("report", "forgery", str(SAMPLE_PHOTOS), "-o", str(tmp_path / "missing" / "x.html"))
    assert completed.returncode == 1
    assert (
        "error: Cannot write the report: the folder" in completed.stderr
        and "Traceback" not in completed.stderr
    )
    completed = run_cli("report", "forgery", str(SAMPLE_PHOTOS), "-o", str(tmp_path))
    assert completed.returncode == 1 and "it is a folder" in completed.stderr


# Chromium -----------------------------------------------------------------------------------------
# Injected into a copy of the report before anything else loads: records every failed load
# (an <img> that errors fires "error", caught at the window in the capture phase) and every
# script error, then, once the page has loaded, writes what it saw into an attribute that
# --dump-dom prints.
PROBE = """<script>
window.__failures = [];
window.addEventListener("error", function (event) {
  var target = event.target;
  window.__failures.push(target && target !== window ? "failed to load " + (target.src || target.href || target.tagName).slice(0, 80) : "script error: " + event.message);
}, true);
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (image) { return !image.complete || image.naturalWidth === 0; });
  var fetched = performance.getEntriesByType("resource").map(function (entry) { return entry.name.slice(0, 80); });
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    images: images.length, broken: broken.length, failures: window.__failures, fetched: fetched
  }));
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run installs it).")
    return found


def open_in_chromium(report: Path, work: Path) -> dict:
    probed = work / f"probed-{report.name}"
    text = report.read_text(encoding="utf-8")
    probed.write_text(
        text.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + PROBE, 1), encoding="utf-8"
    )
    command = [
        chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={work / 'profile'}",
        "--virtual-time-budget=10000",
    ]
    dumped = subprocess.run(
        [*command, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    match = re.search(r'data-probe="([^"]*)"', dumped.stdout)
    assert match, "the page never finished loading: " + dumped.stdout[:500]
    pdf = work / f"{report.stem}.pdf"
    printed = subprocess.run(
        [*command, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    return json.loads(html.unescape(match.group(1))) | {"pdf": pdf}


@pytest.mark.slow
def test_reports_open_in_headless_chromium_with_every_image_and_print_to_pdf(forgery_single, tmp_path):
    from training import forgery, report

    seen = open_in_chromium(forgery_single, tmp_path)
    assert seen["failures"] == [] and seen["broken"] == 0 and seen["fetched"] == []
    assert seen["images"] == len(embedded_images(forgery_single.read_text(encoding="utf-8")))
    assert seen["pdf"].read_bytes().startswith(b"%PDF") and seen["pdf"].stat().st_size > 100_000

    # A file name made of markup stays text in the browser too: nothing runs, nothing fails.
    photo = tmp_path / '<img src=x onerror="document.title=1">.png'
    Image.open(SAMPLE_PHOTOS / "authentic.jpg").save(photo)
    escaped = report.forgery_report([report.PhotoCase(forgery.analyse_file(photo, None))], None, 0.5).write(
        tmp_path / "escaped.html"
    )
    seen = open_in_chromium(escaped, tmp_path)
    assert seen["failures"] == [] and seen["broken"] == 0 and seen["images"] == 2


def test_the_probe_counts_a_missing_image(tmp_path):
    """The Chromium check can fail: a page with a broken image is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body><img src="{(tmp_path / "nowhere.png").as_uri()}"></body></html>',
        encoding="utf-8",
    )
    seen = open_in_chromium(page, tmp_path)
    assert seen["broken"] == 1 and seen["failures"][0].startswith("failed to load file://")


# File → Export report… on each tab ---------------------------------------------------------------
def export_through_the_menu(gui, monkeypatch, tab, path: Path) -> str:
    """File → Export report… with the save dialog answering `path`; the report's text once the
    status bar says where it was written."""
    from desktop_app import file_dialogs

    gui.notebook.select(tab)
    asked = []
    monkeypatch.setattr(
        file_dialogs.filedialog, "asksaveasfilename", lambda **options: asked.append(options) or str(path)
    )
    invoke_menu(gui, "File", "Export report…")
    wait_until(gui.root, lambda: f"report written to {path}" in gui.status_text.get(), 120, "the report")
    assert asked and asked[0]["defaultextension"] == ".html"
    return path.read_text(encoding="utf-8")


def nothing_to_export(gui, monkeypatch, tab) -> None:
    from desktop_app import file_dialogs

    gui.notebook.select(tab)
    monkeypatch.setattr(
        file_dialogs.filedialog,
        "asksaveasfilename",
        lambda **options: pytest.fail("no dialog without a report"),
    )
    invoke_menu(gui, "File", "Export report…")
    assert gui.status_text.get().startswith(f"Nothing to report on the {tab.title} tab yet:")


@pytest.mark.slow
def test_export_report_from_the_digits_tab(gui, monkeypatch, tmp_path):
    tab = gui.tab("Digits")
    tab.clear()
    assert gui.root.bind_all("<Control-e>")  # the menu's accelerator
    nothing_to_export(gui, monkeypatch, tab)
    simulate_drop(tab.drop_zone.area, DIGIT_SAMPLES[:3])
    wait_until(gui.root, lambda: len(tab.predictions) == 3, 60, "three answers")
    text = export_through_the_menu(gui, monkeypatch, tab, tmp_path / "digits.html")
    shown = visible_text(text)
    assert model_sha256(tab.selected_model_name()) in shown
    assert all(sha256_of(sample) in shown for sample in DIGIT_SAMPLES[:3])
    assert re.findall(r'<td class="normal">(\d)</td>', text) == [row[1] for row in tab.results.rows()]
    assert len(embedded_images(text)) == 2 * 3 + 1


@pytest.mark.slow
def test_export_report_from_the_anomaly_tab_uses_the_threshold_shown(gui, monkeypatch, tmp_path):
    tab = gui.tab("Anomaly")
    tab.clear()
    nothing_to_export(gui, monkeypatch, tab)
    photo = SAMPLE_PHOTOS / "authentic.jpg"
    simulate_drop(tab.drop_zone.area, [DIGIT_SAMPLES[0], photo])
    wait_until(gui.root, lambda: len(tab.file_predictions) == 2, 60, "two scores")
    tab.set_threshold(tab.threshold + 1.0)
    text = export_through_the_menu(gui, monkeypatch, tab, tmp_path / "anomaly.html")
    shown = visible_text(text)
    assert f"above the threshold {tab.threshold:.3f} (chosen by hand in the tab" in shown
    assert model_sha256(tab.predictor.entry.name) in shown and sha256_of(photo) in shown
    assert len(embedded_images(text)) == 1 + 6


@pytest.mark.slow
def test_export_report_from_the_forgery_tab_has_the_open_photos_views(gui, monkeypatch, tmp_path):
    tab = gui.tab("Forgery")
    tab.clear()
    nothing_to_export(gui, monkeypatch, tab)
    simulate_drop(tab.drop_zone.area, [SAMPLE_PHOTOS])
    wait_until(gui.root, lambda: len(tab.batch.verdicts) == 3 and not gui.jobs.busy, 120, "the batch")
    shown_photo = tab.photo.shown
    wait_until(
        gui.root, lambda: shown_photo.views is not None and shown_photo.views.agreement, 120, "its views"
    )
    assert tab.unsaved_results(), "three verdicts not exported yet"
    text = export_through_the_menu(gui, monkeypatch, tab, tmp_path / "forgery.html")
    assert tab.unsaved_results() == "", "the report holds every verdict: quitting loses nothing"
    shown = visible_text(text)
    summary = text.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r'href="#item-\d+"', summary)) == 3
    assert model_sha256(tab.selected_model_name()) in shown
    assert all(sha256_of(path) in shown for path in SAMPLE_PHOTOS.iterdir())
    assert shown.count("Views: ") == 1  # the open photo's agreement line
    assert "The forensic views are shown for the photo open on the Photo page." in shown
    assert len(embedded_images(text)) >= 3 * 3 + 4
    wait_until(gui.root, lambda: not gui.jobs.busy, 60, "the tab's jobs")


@pytest.mark.slow
def test_export_report_from_the_imbalanced_tab_at_the_slider_threshold(gui, monkeypatch, tmp_path):
    tab = gui.tab("Imbalanced")
    gui.notebook.select(tab)
    tab.frame = None
    tab.clear_results()
    nothing_to_export(gui, monkeypatch, tab)
    table = write_mixed_csv(tmp_path / "transactions.csv", rows=1500, positive_rate=0.06)
    simulate_drop(tab.drop_zone.area, [table])
    wait_until(gui.root, lambda: tab.frame is not None, 30, "the table")
    for key, variable in tab.choices.items():
        variable.set(key in {("logistic_regression", "none"), ("dummy", "none")})
    tab.run_button.invoke()
    wait_until(gui.root, lambda: tab.grid_job is not None and tab.grid_job.finished, 180, "the grid")
    tab.table.tree.selection_set("logistic_regression-none")
    gui.root.update()
    tab.threshold_scale.set(0.3)
    gui.root.update()
    text = export_through_the_menu(gui, monkeypatch, tab, tmp_path / "imbalanced.html")
    shown = visible_text(text)
    assert sha256_of(table) in shown
    assert "at least 0.300 (chosen in the tab" in shown
    operating = tab.operating_point()
    assert f"Recall {100 * operating['recall_minority']:.1f} %" in shown
    assert len(embedded_images(text)) == 2


def test_the_version_a_report_names_is_the_projects():
    import tomllib

    import training

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert training.__version__ == project["project"]["version"]
