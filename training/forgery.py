"""The Forgery tool's engine, first part: Error Level Analysis, the file's own JPEG quality,
metadata, and the trust pre-check that says when ELA cannot be read.

ELA: re-save the photo as JPEG at a known quality and look at how much each pixel changes.
Content that went through the same compression as the rest of the file changes little;
content pasted in from elsewhere (compressed differently, or on another 8×8 grid) changes
more. The same `error_level_analysis` serves training and inference.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

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


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def error_level_analysis(image: Image.Image, settings: ElaSettings = ElaSettings()) -> np.ndarray:
    """|image − JPEG(image, quality)| per pixel and channel at native resolution, scaled to
    uint8 (H, W, 3). Resize only afterwards. `image` should come from `images.open_image`
    (EXIF orientation applied); any mode is converted to RGB first."""
    from training import images

    rgb = images.to_rgb(image)
    difference = np.abs(
        np.asarray(rgb, dtype=np.int16) - np.asarray(jpeg_roundtrip(rgb, settings.quality), dtype=np.int16)
    ).astype(np.float32)
    if settings.scaling == "max":
        scale = 255.0 / max(float(difference.max()), 1.0)
    else:
        scale = settings.gain
    return np.clip(difference * scale, 0, 255).astype(np.uint8)


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
        }


def photo_facts(path, image: Image.Image) -> PhotoFacts:
    """Facts about the file at `path`; `image` is it as opened by `images.open_image` (EXIF
    orientation applied, so width and height are as the user sees them)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    # Format, quantisation tables and EXIF live on the file as decoded, not on a rotated copy.
    with Image.open(path) as original:
        file_format, quality = original.format, estimate_jpeg_quality(original)
        exif = {}
        for tag, value in original.getexif().items():
            name = ExifTags.TAGS.get(tag, str(tag))
            text = value.decode("latin-1", "replace") if isinstance(value, bytes) else str(value)
            if len(text) <= 200:
                exif[name] = text.strip("\x00 ")
    small = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=float)
    bits = (small > small.mean()).ravel()
    average_hash = f"{int(''.join('1' if bit else '0' for bit in bits), 2):016x}"
    return PhotoFacts(
        str(path), file_format, image.mode, image.width, image.height, quality, exif, digest, average_hash
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
    return warnings
