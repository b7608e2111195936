"""What every case report shares: the facts of an analysed file and of the model used, images
and matplotlib figures as embedded PNGs, rendering a Jinja2 template (autoescaped: file names
are the user's) and writing the one self-contained HTML file atomically."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from training.core.errors import InvalidInputError
from training.core.registry import write_text_atomically

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Longest side of a photo drawn in a report: one photo's report shows it large, a batch's
# sections small, so that a 50-photo report stays a file a browser opens at once.
SINGLE_SIDE, BATCH_SIDE = 900, 420
DIGIT_PICTURE_SIDE = 140  # a 28×28 picture (what the digit models see) drawn this large, pixelated


@dataclass(frozen=True)
class CaseReport:
    """One rendered report: what a tab exports and `python -m training report` writes."""

    tool: str
    title: str
    html: str
    items: int  # analysed inputs (files, or configurations for a grid)

    def write(self, path) -> Path:
        """The report written to `path` atomically (a reader never sees half a file)."""
        path = writable_report_path(path)
        try:
            write_text_atomically(path, self.html)
        except OSError as error:
            raise InvalidInputError(
                f"Cannot write the report to {path}: {error.strerror or error}."
            ) from error
        return path


def writable_report_path(path) -> Path:
    """`path` as a Path, or InvalidInputError when a report cannot be written there (its folder
    is missing, or it is a folder): checked before any work and again when writing."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidInputError(f"Cannot write the report: the folder {path.parent} does not exist.")
    if path.is_dir():
        raise InvalidInputError(f"Cannot write the report to {path}: it is a folder.")
    return path


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}"


def file_facts(path, sha256: str | None = None) -> dict:
    """Name, folder, size and sha256 of an analysed file (`sha256` when already computed);
    a file gone since it was analysed says so instead."""
    from training.core.datasets import sha256_file

    path = Path(path)
    facts = {"name": path.name, "folder": str(path.resolve().parent), "size": None, "sha256": sha256}
    try:
        facts["size"] = size_text(path.stat().st_size)
        facts["sha256"] = sha256 or sha256_file(path)
    except OSError as error:
        facts["missing"] = f"cannot be read now ({error.strerror or error})"
    return facts


def model_facts(entry, figures: list[tuple[str, str]]) -> dict:
    """The model section: name, version (its file and when it was made, bundled or retrained),
    the file's sha256 from the manifest, and its test figures in words (`figures`)."""
    record = entry.record
    return {
        "name": entry.name,
        "description": record.get("description", ""),
        "version": f"{entry.path.name}, made {record.get('created', 'at an unknown time')}",
        "origin": "bundled with the app" if entry.origin == "bundled" else "retrained by the user",
        "sha256": record.get("sha256", ""),
        "figures": figures,
    }


def percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def png_uri(image, max_side: int | None = None, nearest: bool = False) -> str:
    """A PIL image or a uint8 array as a `data:` URI of a PNG, at most `max_side` pixels on its
    longest side (scaled down, or up for tiny pictures such as 28×28 digits, `nearest`)."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if max_side is not None and (max(image.size) > max_side or nearest):
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resampling = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
        image = image.resize(size, resampling, reducing_gap=None if nearest else 2.0)
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def new_figure(width: float, height: float):
    """A matplotlib figure drawn by Agg, without pyplot: safe on a worker thread, never a window."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_figure(matrix, labels: tuple[str, ...], title: str, names=("actual", "predicted")) -> str:
    """A confusion matrix (rows: actual), drawn as the tabs draw it, as a figure's data URI."""
    from training.core.charts import draw_confusion

    side = 1.6 + 0.34 * len(labels)
    figure = new_figure(side + 0.6, side)
    draw_confusion(figure.subplots(), matrix, labels, title, names)
    return figure_uri(figure)


def environment():
    """The Jinja2 environment of the report templates: autoescaped, and a missing name fails."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    templates = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True
    )
    templates.filters["percent"] = percent
    return templates


def render(tool: str, title: str, items: int, **context) -> CaseReport:
    """The report of `tool` from its template `<tool>.html.j2`, stamped with the app's version
    and the time."""
    import training

    made = datetime.now(UTC).astimezone()
    html = (
        environment()
        .get_template(f"{tool}.html.j2")
        .render(
            title=title,
            app_version=training.__version__,
            made=made.strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)"),
            **context,
        )
    )
    return CaseReport(tool, title, html, items)
