"""Error Level Analysis and the per-block features the network reads.

ELA: re-save the photo as JPEG at a known quality and look at how much each pixel changes.
Content that went through the same compression as the rest of the file changes little;
content pasted in from elsewhere (compressed differently, or on another 8×8 grid) changes
more. The same `error_level_analysis` serves training and inference.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image

from training.core.errors import InvalidInputError

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


@dataclass(frozen=True)
class ElaSettings:
    """Recorded with every model: the network must see ELA made exactly as in training."""

    quality: int = DEFAULT_ELA_QUALITY
    scaling: str = "max"  # "max": divide by the image's largest difference; "gain": multiply
    gain: float = DEFAULT_ELA_GAIN

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise InvalidInputError(f"ELA quality must be 1-100, got {self.quality}")
        if self.scaling not in ELA_SCALINGS:
            raise InvalidInputError(f"ELA scaling must be one of {ELA_SCALINGS}, got {self.scaling!r}")
        if self.gain <= 0:
            raise InvalidInputError(f"ELA gain must be positive, got {self.gain}")


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
    from training.core import images

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
    from training.core import images

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
