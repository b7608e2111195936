"""The Forgery case report: per photo its facts, the verdict with the threshold and the rule,
the photo, its ELA and the heatmap over it, the forensic views with their figures and which
agree with the heatmap, the warnings and the metadata; a batch adds a summary table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from training import forgery
from training.forgery import views as forensic
from training.report.document import (
    BATCH_SIDE,
    SINGLE_SIDE,
    CaseReport,
    file_facts,
    model_facts,
    percent,
    png_uri,
    render,
)

# Which parts of a photo's record the report names, and in which words.
METRIC_PARTS = (
    ("test", "CASIA test photos (never used in training)"),
    ("validation", "CASIA validation photos"),
    ("generalisation", "spliced photos from other sources"),
)


@dataclass(frozen=True)
class PhotoCase:
    """One photo of a report: its analysis (`forgery.analyse_file`) and, when computed, its
    forensic views (drawn at the analysis' display size, with their agreement filled in)."""

    analysis: forgery.PhotoAnalysis
    views: forgery.ForensicViews | None = None


def analyse_for_report(paths, predictor, with_views) -> Iterator[PhotoCase]:
    """Each photo as the tab analyses it (`analyse_file`: one engine call) and, where
    `with_views(verdict)` says so, its forensic views as the views page computes them; one at
    a time, as the report reaches it, so that a batch holds one photo at full resolution, not
    all of them."""
    for path in paths:
        analysis = forgery.analyse_file(path, predictor)
        views = None
        if analysis.opened is not None and with_views(analysis.verdict):
            views = analysis.opened.views(forgery.ViewSettings())
            views.agreement = forgery.agreement_with_heatmap(views, analysis.verdict.block_map)
        yield PhotoCase(analysis, views)


def model_figures(metrics: dict) -> list[tuple[str, str]]:
    figures = []
    for part, words in METRIC_PARTS:
        results = metrics.get(part)
        if not results or "overall" not in results:
            continue
        overall, matched = results["overall"], results.get("quality_matched") or {}
        text = (
            f"ROC AUC {overall.get('roc_auc', float('nan')):.3f}, accuracy {percent(overall.get('accuracy'))} "
            f"on {overall.get('images', '?')} photos"
        )
        if matched.get("roc_auc") is not None:
            text += f"; on the {matched['images']} whose two classes were saved alike, ROC AUC {matched['roc_auc']:.3f}"
        if results.get("pixel_auc_mean") is not None:
            text += f"; where it was tampered (pixel AUC) {results['pixel_auc_mean']:.3f}"
        figures.append((words, text))
    return figures


def verdict_class(verdict: forgery.ForgeryVerdict | None) -> str:
    if verdict is None or verdict.status != "ok":
        return "error"
    return verdict.shown_label


def view_sections(views: forgery.ForensicViews | None, side: int) -> list[dict]:
    if views is None:
        return []
    sections = []
    for name in forensic.VIEW_NAMES:
        view = views.get(name)
        section = {"title": forensic.VIEW_TITLES[name], "how_to_read": forensic.HOW_TO_READ[name]}
        if view is None:
            section |= {"figures": views.unavailable.get(name, "not computed"), "picture": None}
        else:
            image = getattr(view, "image", None)
            section |= {
                "figures": forensic.view_figures(name, view),
                "picture": png_uri(image, side) if image is not None else None,
            }
        section["agreement"] = views.agreement.get(name, "")
        sections.append(section)
    return sections


def photo_section(case: PhotoCase, side: int) -> dict:
    analysis, verdict, opened = case.analysis, case.analysis.verdict, case.analysis.opened
    facts = file_facts(analysis.path, opened.facts.sha256 if opened is not None else None)
    pictures = []
    if opened is not None:
        pictures.append((png_uri(opened.display, side), "The photo (EXIF orientation applied)"))
    if analysis.ela is not None:
        settings = analysis.ela.settings
        scaling = (
            "scaled to its largest difference" if settings.scaling == "max" else f"gain {settings.gain:g}"
        )
        pictures.append(
            (
                png_uri(analysis.ela.image, side),
                f"Error Level Analysis: re-saved at JPEG quality {settings.quality}, {scaling}",
            )
        )
    if analysis.overlay is not None:
        pictures.append(
            (
                png_uri(analysis.overlay, side),
                "The model's heatmap over the photo: red where the tampering probability of an 8×8 "
                "block is moderate, yellow where it is high",
            )
        )
    return {
        "facts": facts,
        "verdict": verdict,
        "shown": verdict.shown_label if verdict is not None and verdict.status == "ok" else "no verdict",
        "css": verdict_class(verdict),
        "pictures": pictures,
        "views": view_sections(case.views, side),
        "agreement": forensic.agreement_line(case.views.agreement) if case.views is not None else "",
        "views_summary": case.views.summary() if case.views is not None else "",
        "metadata": opened.metadata if opened is not None else [],
        "warnings": verdict.warnings if verdict is not None else [],
    }


def forgery_report(
    cases: Iterable[PhotoCase], entry, threshold: float, views_note: str = "", count: int | None = None
) -> CaseReport:
    """The report of `cases` judged by the model of `entry` at `threshold` (its verdicts' own);
    `views_note` says which photos have their forensic views, when not all do. With their
    `count`, `cases` may be made one by one (`analyse_for_report`): each is drawn into its
    section, and let go, before the next is made."""
    if count is None:
        cases = list(cases)
        count = len(cases)
    single = count == 1
    side = SINGLE_SIDE if single else BATCH_SIDE
    sections = [photo_section(case, side) for case in cases]
    shown = Counter(section["shown"] for section in sections)
    name = sections[0]["facts"]["name"] if single else f"{len(sections)} photos"
    record = entry.record if entry is not None else {}
    return render(
        "forgery",
        f"Forgery case report: {name}",
        len(sections),
        sections=sections,
        counts=sorted(shown.items()),
        single=single,
        model=model_facts(entry, model_figures(record.get("metrics", {}))) if entry is not None else None,
        threshold=threshold,
        calibration_rule=record.get("calibration_rule", ""),
        views_note=views_note,
    )


def views_choice(choice: str):
    """(which verdicts get the forensic views, the note that says so) for `--views` `choice`:
    all photos, those not judged authentic (a batch's default: the views take about as long
    as the rest of a photo's analysis), or none."""
    if choice == "all":
        return (lambda _verdict: True), ""
    if choice == "none":
        return (lambda _verdict: False), "The forensic views were not computed for this report."
    return (
        lambda verdict: verdict is not None and verdict.status == "ok" and verdict.shown_label != "authentic"
    ), "The forensic views are shown for the photos not judged authentic."
