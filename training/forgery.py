"""The Forgery tool's engine, first part: Error Level Analysis, the file's own JPEG quality,
metadata, and the trust pre-check that says when ELA cannot be read.

ELA: re-save the photo as JPEG at a known quality and look at how much each pixel changes.
Content that went through the same compression as the rest of the file changes little;
content pasted in from elsewhere (compressed differently, or on another 8×8 grid) changes
more. The same `error_level_analysis` serves training and inference.
"""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import simplejpeg
from PIL import ExifTags, Image

from training import images
from training.datasets import sha256_file
from training.errors import ImageReadError

DEFAULT_ELA_QUALITY = 90
DEFAULT_ELA_GAIN = 20.0
ELA_SCALINGS = ("max", "gain")
LOSSLESS_FORMATS = {"PNG", "BMP", "TIFF", "GIF", "PPM", "WEBP"}
# The IJG (libjpeg) base luminance quantisation table, natural order: quality q scales it.
IJG_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
).ravel()
EDITOR_NAMES = re.compile(r"photoshop|gimp|lightroom|affinity|paint|pixelmator|snapseed|canva|picsart", re.I)
XMP_PROPERTY = re.compile(
    r'(?P<attribute_name>[A-Za-z][\w-]*:[A-Za-z][\w-]*)="(?P<attribute_value>[^"]{0,400})"'
    r"|<(?P<element_name>[A-Za-z][\w-]*:[A-Za-z][\w-]*)>(?P<element_value>[^<]{0,400})</"
)
COMMON_SCREEN_SIZES = {
    (1280, 720), (1280, 800), (1366, 768), (1440, 900), (1536, 864), (1600, 900),
    (1680, 1050), (1920, 1080), (1920, 1200), (2560, 1440), (2560, 1600), (2880, 1800),
    (3840, 2160), (750, 1334), (1080, 1920), (1170, 2532), (1179, 2556), (1284, 2778),
}  # fmt: skip


@dataclass(frozen=True)
class ElaSettings:
    """Recorded with every model: the network must see ELA made exactly as in training."""

    quality: int = DEFAULT_ELA_QUALITY
    scaling: str = "max"  # "max": divide by the image's largest difference; "gain": multiply
    gain: float = DEFAULT_ELA_GAIN

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"ELA quality must be 1-100, got {self.quality}")
        if self.scaling not in ELA_SCALINGS:
            raise ValueError(f"ELA scaling must be one of {ELA_SCALINGS}, got {self.scaling!r}")
        if self.gain <= 0:
            raise ValueError(f"ELA gain must be positive, got {self.gain}")


def _jpeg_bytes(image: Image.Image, quality: int, subsampling: int | None = None) -> bytes:
    """`image` saved as JPEG at `quality` in memory. Safe to call on one image from several
    threads at once: `Image.save` keeps its options on the image object, so concurrent saves
    of the same object can swap qualities; each call saves through its own image object,
    which shares the pixels (encoding only reads them; a copy of a 79 MP photo is 316 MB).
    `subsampling` is Pillow's chroma option (None: its default, 4:2:0)."""
    buffer = io.BytesIO()
    image.load()
    options = {} if subsampling is None else {"subsampling": subsampling}
    image._new(image.im).save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def jpeg_roundtrip(image: Image.Image, quality: int, subsampling: int | None = None) -> Image.Image:
    """`image` saved as JPEG at `quality` in memory and decoded again, as an RGB image."""
    decoded = Image.open(io.BytesIO(_jpeg_bytes(image, quality, subsampling)))
    decoded.load()
    return decoded if decoded.mode == "RGB" else decoded.convert("RGB")


def resaved_pixels(rgb: Image.Image, quality: int) -> np.ndarray:
    """The pixels (H, W, 3) uint8 of `jpeg_roundtrip(rgb, quality)` for an RGB image, decoded
    by simplejpeg straight into an array: the same libjpeg-turbo decoder with the same
    settings, so the same pixels (a test checks), without PIL's decoded copy and the copy out
    of it (on 12 MP a re-save costs about 0.08 s instead of 0.13 s)."""
    return simplejpeg.decode_jpeg(
        _jpeg_bytes(rgb, quality), colorspace="RGB", fastdct=False, fastupsample=False
    )


class SharedResaves:
    """An RGB photo's pixels and JPEG re-saves for several workers: the pixel array and each
    quality in `kept` are made once, by whichever thread asks first, and the others wait for
    that result (on a 12 MP photo the ELA preview and the classifier both re-save at quality
    90, and a round trip costs a tenth of a second). Other qualities are re-saved on each
    request, so a kept photo costs one extra decoded copy per kept quality, not six."""

    def __init__(self, image: Image.Image, kept: tuple[int, ...] = (DEFAULT_ELA_QUALITY,)):
        self.image = image
        self.kept = kept
        self._locks = {quality: threading.Lock() for quality in kept}
        self._made: dict[int, np.ndarray] = {}
        self._pixels_lock = threading.Lock()
        self._pixels: np.ndarray | None = None

    def pixels(self) -> np.ndarray:
        with self._pixels_lock:
            if self._pixels is None:
                self._pixels = np.asarray(self.image)
            return self._pixels

    def at(self, quality: int) -> np.ndarray:
        if quality not in self.kept:
            return resaved_pixels(self.image, quality)
        with self._locks[quality]:  # a failed re-save leaves nothing: the next caller tries again
            if quality not in self._made:
                self._made[quality] = resaved_pixels(self.image, quality)
            return self._made[quality]


def _resaves_of(rgb: Image.Image, resaves: SharedResaves | None) -> SharedResaves:
    return resaves if resaves is not None and resaves.image is rgb else SharedResaves(rgb, kept=())


def error_level_analysis(
    image: Image.Image, settings: ElaSettings = ElaSettings(), resaves: SharedResaves | None = None
) -> np.ndarray:
    """|image − JPEG(image, quality)| per pixel and channel at native resolution, scaled to
    uint8 (H, W, 3). Resize only afterwards. `image` should come from `images.open_image`
    (EXIF orientation applied); any mode is converted to RGB first. `resaves` shares the
    round trip with the classifier's features when both look at the same photo."""
    from training import images

    rgb = images.to_rgb(image)
    shared = _resaves_of(rgb, resaves)
    pixels, resaved = shared.pixels(), shared.at(settings.quality)
    # |a − b| in uint8, with no signed copy of a 12 MP photo.
    difference = np.maximum(pixels, resaved)
    difference -= np.minimum(pixels, resaved)
    scale = 255.0 / max(int(difference.max()), 1) if settings.scaling == "max" else settings.gain
    levels = np.clip(np.arange(256, dtype=np.float32) * scale, 0, 255).astype(np.uint8)
    return np.take(levels, difference)


# Re-save qualities of the classifier's multi-quality ELA: a region that was compressed at
# some quality before the last save shows a dip ("JPEG ghost") at that quality that the rest
# of the photo does not.
FEATURE_QUALITIES = (50, 65, 75, 85, 90, 95)
BLOCK = 8  # JPEG's block size: features are per 8×8 block, on the file's own grid
STRIP_ROWS = 16 * BLOCK
# RGB → (Y, Cb, Cr) differences as JPEG defines them (ITU-R BT.601).
YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32
)


def _block_mean(values: np.ndarray) -> np.ndarray:
    """Mean over each 8×8 block of an (H, W) or (H, W, C) array cut to whole blocks →
    (H/8, W/8[, C]); summing rows then columns is three times faster than one 4-D mean."""
    rows, columns = values.shape[0] // BLOCK, values.shape[1] // BLOCK
    cut = values[: rows * BLOCK, : columns * BLOCK]
    by_rows = cut.reshape(rows, BLOCK, columns * BLOCK, *values.shape[2:]).sum(axis=1)
    return by_rows.reshape(rows, columns, BLOCK, *values.shape[2:]).sum(axis=2) / BLOCK**2


def block_features(
    image: Image.Image, qualities: tuple[int, ...] = FEATURE_QUALITIES, resaves: SharedResaves | None = None
) -> np.ndarray:
    """The classifier's input, (H/8, W/8, channels) float32, one function for training and
    inference: per 8×8 block of the file's own JPEG grid, for each re-save quality the
    log mean squared ELA of luminance and of colour; then two content channels (log
    luminance variance, log gradient energy) so the network can tell "busy texture" from
    "compressed differently"; then every ELA channel again relative to the photo's median
    block, so that what counts is how a region differs from the rest of the photo, not how
    the file as a whole was saved (the CASIA shortcut)."""
    from training import images

    rgb = images.to_rgb(image)
    if min(rgb.size) < 2 * BLOCK:
        raise ValueError(f"An image of {rgb.width}×{rgb.height} pixels is too small for ELA.")
    shared = _resaves_of(rgb, resaves)
    pixels = shared.pixels()
    rows, columns = pixels.shape[0] // BLOCK, pixels.shape[1] // BLOCK
    # Whole-block strips keep the float temporaries to a few MB, reused from one strip to the
    # next, instead of 150 MB arrays that the system pages in afresh for every quality.
    strips = []  # (pixel rows, block rows)
    for top in range(0, rows * BLOCK, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, rows * BLOCK)
        strips.append((slice(top, bottom), slice(top // BLOCK, bottom // BLOCK)))

    def ela_at(quality: int) -> tuple[np.ndarray, np.ndarray]:
        resaved = shared.at(quality)
        means = np.empty((rows, columns, 3), dtype=np.float32)
        for strip, blocks in strips:
            # int16 then float: the same numbers as a float subtraction, a third faster.
            difference = np.subtract(pixels[strip], resaved[strip], dtype=np.int16).astype(np.float32)
            squared = difference @ YCBCR.T
            np.square(squared, out=squared)
            means[blocks] = _block_mean(squared)
        return np.log1p(means[..., 0]), np.log1p(means[..., 1] + means[..., 2])

    def content_channels() -> np.ndarray:
        content = np.empty((rows, columns, 2), dtype=np.float32)
        for strip, blocks in strips:
            row_above = 1 if strip.start else 0  # for the vertical gradient across the seam
            luminance = pixels[strip.start - row_above : strip.stop].astype(np.float32) @ YCBCR[0]
            inside = luminance[row_above:]
            block_mean = _block_mean(inside)
            variance = _block_mean(inside**2) - block_mean**2
            gradient = np.zeros_like(inside)
            gradient[:, 1:] += np.diff(inside, axis=1) ** 2
            gradient[1 - row_above :, :] += np.diff(luminance, axis=0) ** 2
            content[blocks, :, 0] = np.log1p(np.maximum(variance, 0))
            content[blocks, :, 1] = np.log1p(_block_mean(gradient))
        return content

    # JPEG coding and NumPy release the GIL: the qualities and the content channels run side
    # by side (a 12 MP photo).
    with ThreadPoolExecutor(2) as pool:
        content = pool.submit(content_channels)
        channels = [channel for pair in pool.map(ela_at, qualities) for channel in pair]
        content = content.result()
    ela = np.stack(channels, axis=-1)
    relative = ela - np.median(ela.reshape(-1, ela.shape[-1]), axis=0)
    return np.concatenate([ela, content, relative], axis=-1).astype(np.float32)


def heatmap_at(block_map: np.ndarray, shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """A per-block map (rows, columns) as a smooth (H, W) heatmap over the photo; pixels past
    the last whole block take the nearest block's value. With `scale`, over a copy of the
    photo resized by that factor (`shape` is then the copy's), without making the full-size
    map first."""
    rows, columns = block_map.shape
    covered = (max(1, round(columns * BLOCK * scale)), max(1, round(rows * BLOCK * scale)))
    smooth = Image.fromarray(block_map.astype(np.float32), mode="F").resize(
        covered, Image.Resampling.BILINEAR
    )
    values = np.asarray(smooth)
    return np.pad(
        values,
        ((0, max(0, shape[0] - values.shape[0])), (0, max(0, shape[1] - values.shape[1]))),
        mode="edge",
    )[: shape[0], : shape[1]]


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's; None when the
    image is not a JPEG. Files from encoders with their own tables get the nearest IJG value."""
    tables = getattr(image, "quantization", None)
    if not tables:
        return None
    luminance = np.asarray(tables[min(tables)], dtype=float)
    if luminance.size != 64:
        return None
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 / qualities, 200 - 2 * qualities)
    candidates = np.clip((IJG_LUMINANCE[None, :] * scales[:, None] + 50) // 100, 1, 255)
    errors = np.abs(candidates - luminance[None, :]).sum(axis=1)
    return int(qualities[int(np.argmin(errors))])


@dataclass
class PhotoFacts:
    """What the metadata panel shows and the trust check reads."""

    path: str
    format: str | None
    mode: str
    width: int
    height: int
    jpeg_quality: int | None
    exif: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    average_hash: str = ""  # 64-bit perceptual hash: equal for re-saved or lightly edited copies
    xmp: dict[str, str] = field(default_factory=dict)

    @property
    def editing_software(self) -> str | None:
        """The editor the file says wrote it (EXIF Software or XMP CreatorTool), if it is one."""
        for name in (self.exif.get("Software"), self.xmp.get("xmp:CreatorTool")):
            if name and EDITOR_NAMES.search(name):
                return name
        return None

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "mode": self.mode,
            "width": self.width,
            "height": self.height,
            "jpeg_quality": self.jpeg_quality,
            "exif": self.exif,
            "sha256": self.sha256,
            "average_hash": self.average_hash,
            "xmp": self.xmp,
        }


def read_xmp(packet: bytes | str | None, limit: int = 40) -> dict[str, str]:
    """Simple properties of an XMP packet (`prefix:Name` → text), attributes and elements alike;
    nested structures are left out. A regular expression, not an XML parser: the packet comes
    from an untrusted file and only short fields are wanted."""
    if not packet:
        return {}
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    found: dict[str, str] = {}
    for match in XMP_PROPERTY.finditer(text[:200_000]):
        name = match.group("attribute_name") or match.group("element_name")
        value = (match.group("attribute_value") or match.group("element_value") or "").strip()
        if value and not name.startswith(("xmlns", "rdf:", "x:")) and name not in found:
            found[name] = value[:200]
        if len(found) >= limit:
            break
    return found


def photo_facts(path, image: Image.Image) -> PhotoFacts:
    """Facts about the file at `path`; `image` is it as opened by `images.open_image` (EXIF
    orientation applied, so width and height are as the user sees them)."""
    digest = sha256_file(path)
    # Format, quantisation tables and EXIF live on the file as decoded, not on a rotated copy.
    with Image.open(path) as original:
        file_format, quality = original.format, estimate_jpeg_quality(original)
        exif = {}
        for tag, value in original.getexif().items():
            name = ExifTags.TAGS.get(tag, str(tag))
            text = value.decode("latin-1", "replace") if isinstance(value, bytes) else str(value)
            if len(text) <= 200:
                exif[name] = text.strip("\x00 ")
        xmp = read_xmp(original.info.get("xmp") or original.info.get("XML:com.adobe.xmp"))
    small = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=float)
    bits = (small > small.mean()).ravel()
    average_hash = f"{int(''.join('1' if bit else '0' for bit in bits), 2):016x}"
    return PhotoFacts(
        str(path),
        file_format,
        image.mode,
        image.width,
        image.height,
        quality,
        exif,
        digest,
        average_hash,
        xmp,
    )


def trust_warnings(facts: PhotoFacts) -> list[str]:
    """Reasons the ELA picture (and so the verdict) may not mean much for this file."""
    warnings = []
    if facts.format in LOSSLESS_FORMATS:
        warnings.append(
            f"{facts.format} is saved without JPEG compression: ELA cannot show compression "
            "differences, so the verdict rests on little."
        )
    if facts.jpeg_quality is not None:
        if facts.jpeg_quality >= 97:
            warnings.append(
                f"Saved at JPEG quality ≈{facts.jpeg_quality}: so little compression that error "
                "levels hardly differ between regions."
            )
        elif facts.jpeg_quality <= 60:
            warnings.append(
                f"Saved at JPEG quality ≈{facts.jpeg_quality}: strong re-compression flattens "
                "error levels and can hide or fake differences."
            )
    if min(facts.width, facts.height) < 256:
        warnings.append(f"Only {facts.width}×{facts.height} pixels: too small for a reliable ELA.")
    camera = "Make" in facts.exif or "Model" in facts.exif
    if not camera and (facts.width, facts.height) in COMMON_SCREEN_SIZES:
        warnings.append("Screen-sized and without camera data: probably a screenshot, not a photo.")
    elif facts.format == "JPEG" and not camera and (facts.width % 8 or facts.height % 8):
        warnings.append(
            "No camera data and a size that is not a multiple of 8: probably resized or cropped "
            "and re-saved, which weakens ELA."
        )
    if facts.editing_software:
        warnings.append(
            f"Written by editing software ({facts.editing_software}): the photo was at least opened "
            "and re-saved in an editor, which resets its compression history."
        )
    return warnings


# How sure a verdict is ------------------------------------------------------------------------
# Final JPEG qualities the training data spans (`forgery_data.TRAINING_RECIPE`): outside them
# the model's scores were never checked, so they decide nothing.
CHECKED_QUALITIES = (60, 98)
# Below this many pixels on the short side there are too few 8×8 blocks to compare a region
# with the rest of the photo.
MIN_CONCLUSIVE_SIDE = 128


def logit(probability):
    """log(p / (1 − p)) of probabilities (a float or an array), clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(probability, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(clipped / (1 - clipped))


@dataclass(frozen=True)
class Calibration:
    """The network's raw score → a probability that means what it says, and when not to
    decide. A logistic fit of validation labels on the raw score's logit (both classes
    weighted alike, so the probability assumes even prior odds); `undecided` is the band of
    calibrated probabilities, chosen on validation, where answers are too often wrong to
    call; `lossless_conclusive` says whether losslessly saved photos were judged well enough
    on validation to call."""

    slope: float = 1.0
    intercept: float = 0.0
    undecided: tuple[float, float] = (0.5, 0.5)
    lossless_conclusive: bool = True

    @classmethod
    def from_record(cls, record: dict) -> Calibration:
        """The record's calibration; a model trained before calibration existed gets the
        identity with its threshold as the even-odds point, so its scores read as before."""
        saved = record.get("calibration")
        if saved is None:
            threshold = float(np.clip(record["threshold"], 1e-6, 1 - 1e-6))
            return cls(1.0, -float(np.log(threshold / (1 - threshold))))
        return cls(
            float(saved["slope"]),
            float(saved["intercept"]),
            tuple(float(value) for value in saved["undecided"]),
            bool(saved.get("lossless_conclusive", True)),
        )

    def to_json(self) -> dict:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "undecided": list(self.undecided),
            "lossless_conclusive": self.lossless_conclusive,
        }

    def probability(self, raw):
        """Calibrated tampering probability of raw network scores (a float or an array)."""
        calibrated = 1 / (1 + np.exp(-(self.slope * logit(raw) + self.intercept)))
        return float(calibrated) if np.ndim(calibrated) == 0 else calibrated

    @property
    def raw_threshold(self) -> float:
        """The raw score at even odds: the model's threshold on its own scale."""
        return float(1 / (1 + np.exp(self.intercept / self.slope)))

    def weak_evidence(self, probability: float, facts: PhotoFacts) -> str | None:
        """Why a verdict at this calibrated probability on this photo should not be called,
        or None when it can be."""
        if facts.format in LOSSLESS_FORMATS and not self.lossless_conclusive:
            return (
                f"{facts.format} is saved without JPEG compression, and on such photos the model "
                "was not reliable enough in validation."
            )
        lowest, highest = CHECKED_QUALITIES
        if facts.jpeg_quality is not None and not lowest <= facts.jpeg_quality <= highest:
            how = "strongly re-compressed" if facts.jpeg_quality < lowest else "barely compressed"
            return (
                f"Saved at JPEG quality ≈{facts.jpeg_quality} ({how}): outside the qualities "
                f"{lowest}–{highest} the model was trained and checked on."
            )
        if min(facts.width, facts.height) < MIN_CONCLUSIVE_SIDE:
            return (
                f"Only {facts.width}×{facts.height} pixels: too few 8×8 blocks to compare a region "
                "with the rest of the photo."
            )
        low, high = self.undecided
        if low < probability < high:
            return (
                f"The probability {probability:.0%} lies between {low:.0%} and {high:.0%}, where "
                "validation answers were too often wrong to call."
            )
        return None


# Verdicts -------------------------------------------------------------------------------------
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

    @property
    def shown_label(self) -> str | None:
        """What the user is told: the label, or "inconclusive" when the evidence is weak."""
        return self.label if self.conclusive is not False else "inconclusive"

    def to_json(self) -> dict:
        return {
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


class ForgeryPredictor:
    """A forgery model (the bundled block network by default) with its saved threshold. The
    ResNet50 variant gives an image score only: its verdicts have no localisation map."""

    def __init__(self, model, entry):
        self.model = model
        self.entry = entry

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, registry=None) -> ForgeryPredictor:
        from training.keras_setup import load_verified_model

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
        return self.predict_input(self.model_input(image, facts, resaves), facts)

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

    def predict_file(self, path) -> ForgeryVerdict:
        """Answer for one file; never raises for a bad file (status "error" says why, starting
        with the file's name)."""
        from training.errors import WorkbenchError

        try:
            image = images.open_image(path)
            facts = photo_facts(path, image)
            # Each full-resolution copy is let go as soon as the next step has what it needs:
            # the decoded file once its RGB copy exists, the RGB copy before the network runs
            # (a 79 MP RGBA PNG: 316 MB each; the network's activations need 0.5 GB more).
            rgb = images.to_rgb(image)
            del image
            features = self.model_input(rgb, facts)
            del rgb
            return self.predict_input(features, facts)
        except (WorkbenchError, ValueError) as error:
            return ForgeryVerdict(str(path), "error", images.name_once(path, str(error)))
