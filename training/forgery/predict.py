"""Judging a user's photo: ELA, facts, warnings, verdict and heatmap as one `ForgeryVerdict`
(what batches and the command line need), or, for a viewer, everything it draws of one photo
as one `PhotoAnalysis`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from training.core import images
from training.core.errors import ImageReadError, WorkbenchError
from training.forgery.calibration import Calibration
from training.forgery.ela import (
    BLOCK,
    ElaSettings,
    SharedResaves,
    block_features,
    error_level_analysis,
    heatmap_at,
)
from training.forgery.metadata import PhotoFacts, photo_facts, trust_warnings
from training.forgery.views import (
    VIEW_NAMES,
    ForensicViews,
    ViewSettings,
    agreement_with_heatmap,
    forensic_views,
)

DEFAULT_MODEL = "forgery-blocks"


LABELS = ("authentic", "tampered")


@dataclass
class ForgeryVerdict:
    """What the tab draws, the CLI prints and the tests assert on, for one photo."""

    path: str
    status: str  # "ok" | "error"
    message: str = ""
    tampered_probability: float | None = None
    threshold: float | None = None
    label: str | None = None
    warnings: list[str] = field(default_factory=list)
    jpeg_quality: int | None = None
    facts: PhotoFacts | None = None
    block_map: np.ndarray | None = None  # per 8×8 block tampering probability, photo orientation
    conclusive: bool | None = None  # False: `label` is only the best guess, for `reason`
    reason: str | None = None
    views: ForensicViews | None = None  # the forensic views, when asked for (`--views`)

    @classmethod
    def failed(cls, path, error: WorkbenchError, facts: PhotoFacts | None = None) -> ForgeryVerdict:
        """No verdict for the photo at `path`: why (starting with the file's name) and, when the
        file could be read, its facts and trust warnings."""
        return cls(
            str(path),
            "error",
            images.name_once(path, str(error)),
            warnings=trust_warnings(facts) if facts is not None else [],
            facts=facts,
        )

    @property
    def shown_label(self) -> str | None:
        """What the user is told: the label, or "inconclusive" when the evidence is weak."""
        return self.label if self.conclusive is not False else "inconclusive"

    def to_json(self) -> dict:
        answer = {
            "path": self.path,
            "tampered_probability": self.tampered_probability,
            "label": self.label,
            "conclusive": self.conclusive,
            "reason": self.reason,
            "warnings": self.warnings,
            "jpeg_quality": self.jpeg_quality,
            "status": self.status,
            "message": self.message,
        }
        if self.views is not None:  # only when asked for: the answer without them is unchanged
            answer["views"] = self.views.to_json()
        return answer

    def heatmap(self, shape: tuple[int, int]) -> np.ndarray:
        if self.block_map is None:
            raise ValueError("This verdict has no localisation map.")
        return heatmap_at(self.block_map, shape)


RESNET_INPUT_SIDE = 128


def resnet_input(image: Image.Image) -> np.ndarray:
    """The ResNet50 variant's input: the ELA image at the default settings, resized only after
    ELA (float32, RESNET_INPUT_SIDE²×3)."""
    ela = error_level_analysis(image, ElaSettings())
    small = Image.fromarray(ela).resize((RESNET_INPUT_SIDE, RESNET_INPUT_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32)


# Longest side of the copies a viewer draws: screen-sized, so that no widget ever handles a
# 12 MP photo (the ELA and the model still read every pixel).
DISPLAY_SIDE = 1600
HEATMAP_OPACITY = 0.75
# Block probabilities at which the heatmap is fully opaque: the tampered regions of photos the
# model flags mostly score 0.3-0.8, and a fainter overlay vanished on red-brown photos.
HEATMAP_SATURATION = 0.5


def display_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longest side is at most `DISPLAY_SIDE`."""
    width, height = size
    scale = min(1.0, DISPLAY_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_display(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def heatmap_overlay(display: Image.Image, block_map: np.ndarray, native_size: tuple[int, int]) -> Image.Image:
    """The per-block tampering probabilities over the display-size photo, drawn in grey so
    that the colours belong to the map alone: red where the probability is moderate, yellow
    where it is high, more opaque the higher. Laid out as `heatmap_at` lays them over the
    native photo (whole 8×8 blocks from the top left, the rest takes the edge's value), but
    made at display size directly."""
    scale = display.width / native_size[0]
    heatmap = heatmap_at(block_map, (display.height, display.width), scale)
    values = np.clip(heatmap, 0.0, 1.0)[..., None]
    colour = np.array([220.0, 0.0, 0.0]) * (1 - values) + np.array([255.0, 235.0, 0.0]) * values
    alpha = HEATMAP_OPACITY * np.minimum(values / HEATMAP_SATURATION, 1.0)
    grey = np.asarray(display.convert("L"), dtype=np.float32)[..., None]
    return Image.fromarray((grey * (1 - alpha) + colour * alpha).round().astype(np.uint8))


def metadata_rows(facts: PhotoFacts) -> list[tuple[str, str]]:
    """The facts as (field, value) rows for a metadata table."""
    quality = f"≈ {facts.jpeg_quality} (estimated)" if facts.jpeg_quality is not None else "– (not a JPEG)"
    rows = [
        ("File", Path(facts.path).name),
        ("Format", facts.format or "unknown"),
        ("Dimensions", f"{facts.width} × {facts.height} px ({facts.width * facts.height / 1e6:.1f} MP)"),
        ("Colour mode", facts.mode),
        ("JPEG quality", quality),
        ("SHA-256", facts.sha256),
        ("Average hash", facts.average_hash),
    ]
    if not facts.exif:
        rows.append(("EXIF", "none"))
    rows.extend((f"EXIF {name}", value) for name, value in sorted(facts.exif.items()))
    return rows


def read_photo(path) -> tuple[Image.Image, PhotoFacts]:
    """The photo at `path` decoded (EXIF orientation applied) and its facts; an
    `ImageReadError` naming the file when it cannot be read."""
    image = images.open_image(path)
    try:
        return image, photo_facts(path, image)
    except OSError as error:  # moved, removed or locked since it was decoded
        raise ImageReadError(f"{images.display_name(path)}: cannot be read ({error}).") from error


@dataclass(frozen=True)
class ElaPreview:
    """A photo's ELA with `settings`, computed at native resolution, as a screen-sized image."""

    image: Image.Image
    settings: ElaSettings


@dataclass(frozen=True)
class OpenedPhoto:
    """A photo opened for a viewer: at native resolution in RGB (what the ELA and the model
    read), its facts, trust warnings and metadata rows, and a screen-sized copy. Its ELA
    preview and its verdict share the JPEG re-saves."""

    path: str
    image: Image.Image
    facts: PhotoFacts
    warnings: list[str]
    metadata: list[tuple[str, str]]
    display: Image.Image
    resaves: SharedResaves

    @classmethod
    def of(cls, rgb: Image.Image, facts: PhotoFacts, resaves: SharedResaves) -> OpenedPhoto:
        display = to_display(rgb, display_size(rgb.size))
        return cls(facts.path, rgb, facts, trust_warnings(facts), metadata_rows(facts), display, resaves)

    def ela(self, settings: ElaSettings) -> ElaPreview:
        """The ELA preview with `settings` (a viewer asks again when its ELA controls change)."""
        levels = error_level_analysis(self.image, settings, self.resaves)
        return ElaPreview(to_display(Image.fromarray(levels), self.display.size), settings)

    def views(
        self, settings: ViewSettings, names: tuple[str, ...] = VIEW_NAMES, into: ForensicViews | None = None
    ) -> ForensicViews:
        """The forensic views `names` with `settings`, computed at native resolution and
        drawn at the screen-sized copy's size (a viewer asks again for one view when its
        controls change, `into` the set it shows)."""
        return forensic_views(self.path, self.image, settings, self.display.size, names, into)

    def heatmap(self, verdict: ForgeryVerdict) -> Image.Image | None:
        """`verdict`'s block map over the screen-sized copy; None when it has none."""
        if verdict.block_map is None:
            return None
        return heatmap_overlay(self.display, verdict.block_map, self.image.size)


@dataclass(frozen=True)
class PhotoAnalysis:
    """Everything a viewer draws for one photo, from one `analyse_file` call:
    the photo as opened (None when the file cannot be read: the verdict says why), its ELA
    preview, the verdict, and the heatmap over the photo (None without a block map). The
    snapshots handed out while it is made lack what is still being computed."""

    path: str
    opened: OpenedPhoto | None = None
    ela: ElaPreview | None = None
    verdict: ForgeryVerdict | None = None
    overlay: Image.Image | None = None


class ForgeryPredictor:
    """A forgery model (the bundled block network by default) with its saved threshold. The
    ResNet50 variant gives an image score only: its verdicts have no localisation map."""

    def __init__(self, model, entry):
        self.model = model
        self.entry = entry

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, registry=None) -> ForgeryPredictor:
        from training.core.keras_io import load_verified_model

        predictor = cls(*load_verified_model(name, registry))
        if predictor.backbone == "resnet50":
            predictor.model.predict_on_batch(
                np.zeros((1, RESNET_INPUT_SIDE, RESNET_INPUT_SIDE, 3), np.float32)
            )
        else:
            # Two sizes: on the second, Keras traces a function for any size, so the first
            # photo does not pay for that (its model step: 1.2-1.5 s → 0.65-0.95 s at 12 MP;
            # loading takes about a second longer, in the background).
            for rows, columns in ((32, 48), (40, 56)):
                predictor.block_map(np.zeros((rows, columns, predictor.model.input_shape[-1]), np.float32))
        return predictor

    @property
    def backbone(self) -> str:
        return self.entry.record.get("hyper_parameters", {}).get("backbone", "blocks")

    @property
    def calibration(self) -> Calibration:
        return Calibration.from_record(self.entry.record)

    @property
    def threshold(self) -> float:
        """The threshold on the calibrated probability the verdicts show: even odds."""
        return 0.5

    def block_map(self, features: np.ndarray) -> tuple[float, np.ndarray]:
        """(image probability, block map) for one photo's `block_features`."""
        portrait = features.shape[0] > features.shape[1]
        if portrait:  # trained on landscape maps
            features = features.transpose(1, 0, 2)
        image_probability, block_probability = self.model.predict_on_batch(features[None])
        blocks = np.asarray(block_probability)[0, ..., 0]
        return float(np.asarray(image_probability)[0, 0]), blocks.T if portrait else blocks

    def model_input(
        self, image: Image.Image, facts: PhotoFacts, resaves: SharedResaves | None = None
    ) -> np.ndarray:
        """What the model takes for this photo: its block features (the ResNet50 variant: its
        ELA image); an `ImageReadError` naming the file when it is too small for them."""
        if self.backbone == "resnet50":
            return resnet_input(image)
        if min(image.size) < 2 * BLOCK:
            raise ImageReadError(
                f"{images.display_name(facts.path)}: {image.width}×{image.height} pixels is too small "
                f"for ELA (it needs at least {2 * BLOCK} pixels on each side)."
            )
        return block_features(image, resaves=resaves)

    def predict_image(
        self, image: Image.Image, facts: PhotoFacts, resaves: SharedResaves | None = None
    ) -> ForgeryVerdict:
        """The verdict on a decoded photo; one too small for the model gets an error verdict
        that still carries its facts and trust warnings."""
        try:
            model_input = self.model_input(image, facts, resaves)
        except ImageReadError as error:
            return ForgeryVerdict.failed(facts.path, error, facts)
        return self.predict_input(model_input, facts)

    def predict_input(self, model_input: np.ndarray, facts: PhotoFacts) -> ForgeryVerdict:
        """The verdict on one photo's `model_input`."""
        if self.backbone == "resnet50":
            probability = float(np.asarray(self.model.predict_on_batch(model_input[None]))[0, 0])
            blocks = None
        else:
            probability, blocks = self.block_map(model_input)
        calibration = self.calibration
        probability = calibration.probability(probability)
        label = LABELS[probability >= self.threshold]
        reason = calibration.weak_evidence(probability, facts)
        warnings = trust_warnings(facts)
        message = (
            f"{label}: tampering probability {probability:.2f} (threshold {self.threshold:.2f})"
            if reason is None
            else f"inconclusive (best guess {label}, tampering probability {probability:.2f}): {reason}"
        )
        if warnings:
            message += f"; {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
        return ForgeryVerdict(
            facts.path,
            "ok",
            message,
            probability,
            self.threshold,
            label,
            warnings,
            facts.jpeg_quality,
            facts,
            blocks,
            reason is None,
            reason,
        )

    def predict_file_with_views(self, path, settings: ViewSettings | None = None) -> ForgeryVerdict:
        """`predict_file` and the forensic views of the same decoded photo (`verdict.views`,
        with which of them agree with the heatmap; `settings` None: the views' defaults);
        never raises for a bad file."""
        try:
            image, facts = read_photo(path)
            rgb = images.to_rgb(image)
            del image
        except WorkbenchError as error:
            return ForgeryVerdict.failed(path, error)
        verdict = self.predict_image(rgb, facts)
        views = forensic_views(path, rgb, settings or ViewSettings())
        views.agreement = agreement_with_heatmap(views, verdict.block_map)
        verdict.views = views
        return verdict

    def predict_file(self, path) -> ForgeryVerdict:
        """The verdict alone for one file (what a batch and the command line need); never
        raises for a bad file (status "error" says why, starting with the file's name)."""
        try:
            image, facts = read_photo(path)
            # Each full-resolution copy is let go as soon as the next step has what it needs:
            # the decoded file once its RGB copy exists, the RGB copy before the network runs
            # (a 79 MP RGBA PNG: 316 MB each; the network's activations need 0.5 GB more).
            rgb = images.to_rgb(image)
            del image
            features = self.model_input(rgb, facts)
            del rgb
            return self.predict_input(features, facts)
        except WorkbenchError as error:
            return ForgeryVerdict.failed(path, error)


def analyse_file(
    path,
    predictor: ForgeryPredictor | None,
    ela_settings: ElaSettings | None = None,
    verdict: ForgeryVerdict | None = None,
    on_partial: Callable[[PhotoAnalysis], None] = lambda _analysis: None,
) -> PhotoAnalysis:
    """Everything a viewer draws for the photo at `path`, from one call: the photo opened
    (facts, trust warnings, metadata rows, a screen-sized copy), its ELA preview with
    `ela_settings` (None: the defaults), the verdict (`verdict` when it is known already,
    e.g. from a batch; else `predictor`'s) and its heatmap. The model runs beside the screen
    copy and the ELA, on a second thread; `on_partial` gets the analysis so far as soon as the
    photo can be shown and again once its ELA can (the verdict usually comes last). With no
    predictor (the model is still loading) and no verdict, the analysis has neither verdict
    nor heatmap. Never raises for a bad file."""
    try:
        image, facts = read_photo(path)
    except WorkbenchError as error:
        return PhotoAnalysis(str(path), verdict=ForgeryVerdict.failed(path, error))
    rgb = images.to_rgb(image)
    del image
    resaves = SharedResaves(rgb)
    with ThreadPoolExecutor(1, thread_name_prefix="forgery-model") as model_thread:
        judging = (
            model_thread.submit(predictor.predict_image, rgb, facts, resaves)
            if verdict is None and predictor is not None
            else None
        )
        opened = OpenedPhoto.of(rgb, facts, resaves)
        on_partial(PhotoAnalysis(opened.path, opened))
        ela = opened.ela(ela_settings or ElaSettings())
        on_partial(PhotoAnalysis(opened.path, opened, ela))
        if judging is not None:
            verdict = judging.result()
    overlay = opened.heatmap(verdict) if verdict is not None else None
    return PhotoAnalysis(opened.path, opened, ela, verdict, overlay)


def judge_opened(opened: OpenedPhoto, predictor: ForgeryPredictor) -> PhotoAnalysis:
    """The verdict and heatmap of a photo a viewer has open already (after a model change):
    the decoded photo and its shared re-saves are used again; nothing is read or drawn anew."""
    verdict = predictor.predict_image(opened.image, opened.facts, opened.resaves)
    return PhotoAnalysis(opened.path, opened, verdict=verdict, overlay=opened.heatmap(verdict))
