"""What a photo's file says about it (format, JPEG quality, editor, size) and the trust warnings that follow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from PIL import ExifTags, Image

from training.core.datasets import sha256_file
from training.forgery.ela import IJG_LUMINANCE, LOSSLESS_FORMATS

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
