"""Reading a user's digit image the way MNIST digits were made: crop, stroke width, 20 px box, centre of mass.

Shared by the Digits tool (which reads the normalised copy) and the Anomaly tool (which also
judges the as-drawn copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 28


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """The model input: 0-255 pixels to float32 in [0, 1], shape (N, 28, 28, 1).

    Training, evaluation and user-image prediction all go through this one function.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    return (images / 255.0)[..., None]


# MNIST digits were scaled so their longest side is 20 px, then placed in 28×28 with the
# centre of mass at pixel (14, 14). A user's scan or photo is brought to the same form.
DIGIT_BOX = 20


MNIST_CENTRE_OF_MASS = (14.0, 14.0)


WORKING_SIDE = 128


DECODE_SIDE = 1024


# Median stroke width of MNIST digits, as a fraction of the digit's longest side, measured
# with `stroke_width_fraction` on MNIST training digits run through `prepare_digit`'s own
# resampling (see tests/test_digit_preprocessing.py, which re-measures it).
MNIST_STROKE_FRACTION = 0.14


UNSURE_BELOW = 0.60


KEPT_INK_SHARE = 0.8


STRAY_MARKS_LIMIT = 0.04


@dataclass
class PreparedDigit:
    """A user's image in MNIST form, or the reason it cannot be read as a digit."""

    pixels: np.ndarray | None  # uint8 (28, 28), light ink on black, like MNIST
    rejected_reason: str | None = None
    dark_ink_on_light: bool = True
    contrast: float = 0.0
    stroke_fraction: float = 0.0
    # The same framing without thinning thick strokes: a filled shape stays filled, so the
    # anomaly score can see what the stroke normalisation for the digit reader removes.
    as_drawn: np.ndarray | None = None


def stroke_width_fraction(ink: np.ndarray) -> float:
    """Stroke width over the longest side of the ink's bounding box.

    For a stroke of width w the distance-to-background inside it is spread evenly over
    [0, w/2], so w ≈ 4 × its mean: no skeletonisation needed.
    """
    from scipy import ndimage

    mask = ink > 0.5
    if not mask.any():
        return 0.0
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    longest = max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1)
    distances = ndimage.distance_transform_edt(mask)
    return float(4.0 * distances[mask].mean() / longest)


def _otsu_threshold(values: np.ndarray) -> float:
    histogram, edges = np.histogram(values, bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    weights = histogram.astype(np.float64)
    below = np.cumsum(weights)
    above = below[-1] - below
    mean_below = np.cumsum(weights * centres) / np.maximum(below, 1)
    mean_above = (np.sum(weights * centres) - np.cumsum(weights * centres)) / np.maximum(above, 1)
    between = below * above * (mean_below - mean_above) ** 2
    return float(centres[int(np.argmax(between))])


def _resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(
        Image.fromarray(array.astype(np.float32)).resize(
            (max(1, width), max(1, height)),
            Image.Resampling.BOX if height < array.shape[0] else Image.Resampling.BILINEAR,
        )
    )


def prepare_digit(gray: np.ndarray) -> PreparedDigit:
    """One scanned or photographed digit (grayscale in [0, 1]) to a 28×28 MNIST-style image.

    Decides the polarity from the border, separates ink from paper with Otsu's threshold,
    drops specks, crops to the ink, brings the stroke width to MNIST's, fits the longest
    side to 20 px and centres the mass at (14, 14).
    """
    from scipy import ndimage

    height, width = gray.shape
    if max(height, width) > DECODE_SIDE:
        scale = DECODE_SIDE / max(height, width)
        gray = _resize(gray, round(height * scale), round(width * scale))
        height, width = gray.shape
    margin = max(1, round(0.04 * min(height, width)))
    border = np.concatenate(
        [gray[:margin].ravel(), gray[-margin:].ravel(), gray[:, :margin].ravel(), gray[:, -margin:].ravel()]
    )
    background = float(np.median(border))
    low, high = np.percentile(gray, [0.5, 99.5])
    dark_ink = (background - low) >= (high - background)
    ink = np.clip(background - gray if dark_ink else gray - background, 0.0, None)
    ink = ndimage.gaussian_filter(ink, sigma=max(0.5, max(height, width) / 400))
    contrast = float(np.percentile(ink, 99.9))
    if contrast < 0.12:
        return PreparedDigit(
            None, "No ink found: the image is blank or has too little contrast.", bool(dark_ink), contrast
        )
    threshold = max(_otsu_threshold(ink[ink > 0.02 * contrast]), 0.3 * contrast)
    components, count = ndimage.label(ink > threshold)
    sizes = np.bincount(components.ravel())[1:]
    if count == 0 or sizes.max() < max(6, 0.0003 * height * width):
        return PreparedDigit(
            None, "No ink found: only specks stand out from the background.", bool(dark_ink), contrast
        )
    kept = np.isin(components, 1 + np.flatnonzero(sizes >= 0.08 * sizes.max()))
    if kept.mean() > 0.6:
        return PreparedDigit(
            None, "The ink covers most of the image: crop to a single digit.", bool(dark_ink), contrast
        )
    # A digit on paper leaves the rest of the page clean (≤ 1 % faint marks in 99 % of
    # bench/user_digits.py); noise, textures and photos leave marks everywhere.
    stray = (ink > 0.5 * threshold) & ~ndimage.binary_dilation(kept, iterations=3)
    if kept.sum() < KEPT_INK_SHARE * (components > 0).sum() or stray.mean() > STRAY_MARKS_LIMIT:
        return PreparedDigit(
            None, "Marks all over the image, not one digit: crop to a single digit.", bool(dark_ink), contrast
        )
    rows, columns = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    near_kept = ndimage.binary_dilation(kept, iterations=2)
    strength = np.percentile(ink[kept], 90)
    crop = np.clip((ink * near_kept)[top:bottom, left:right] / strength, 0.0, 1.0)

    crop_height, crop_width = crop.shape
    scale = WORKING_SIDE / max(crop_height, crop_width)
    working = _resize(crop, round(crop_height * scale), round(crop_width * scale))
    working = np.pad(working, WORKING_SIDE // 4)
    stroke = stroke_width_fraction(working)
    difference = (MNIST_STROKE_FRACTION - stroke) * WORKING_SIDE
    as_drawn = working
    if stroke and abs(difference) > 0.25 * MNIST_STROKE_FRACTION * WORKING_SIDE:
        radius = min(abs(difference) / 2, 0.25 * stroke * WORKING_SIDE if difference < 0 else 99)
        footprint = _disk(radius)
        working = (ndimage.grey_dilation if difference > 0 else ndimage.grey_erosion)(
            working, footprint=footprint
        )
        if difference > 0:
            as_drawn = working
    return PreparedDigit(
        frame_like_mnist(working), None, bool(dark_ink), contrast, stroke, frame_like_mnist(as_drawn)
    )


def frame_like_mnist(working: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] to MNIST's framing: longest side 20 px, centre of mass at (14, 14)."""
    from scipy import ndimage

    rows, columns = np.flatnonzero(working.max(axis=1) > 0.05), np.flatnonzero(working.max(axis=0) > 0.05)
    working = working[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    working_height, working_width = working.shape
    scale = DIGIT_BOX / max(working_height, working_width)
    digit = np.clip(_resize(working, round(working_height * scale), round(working_width * scale)), 0, 1)
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    digit_height, digit_width = digit.shape
    offset_y, offset_x = (IMAGE_SIZE - digit_height) // 2, (IMAGE_SIZE - digit_width) // 2
    canvas[offset_y : offset_y + digit_height, offset_x : offset_x + digit_width] = digit
    centre_y, centre_x = ndimage.center_of_mass(canvas)
    shift = (round(MNIST_CENTRE_OF_MASS[0] - centre_y), round(MNIST_CENTRE_OF_MASS[1] - centre_x))
    canvas = ndimage.shift(canvas, shift, order=0, mode="constant")
    return (canvas * 255).round().astype(np.uint8)


def _disk(radius: float) -> np.ndarray:
    extent = int(np.ceil(radius))
    y, x = np.mgrid[-extent : extent + 1, -extent : extent + 1]
    return (y * y + x * x) <= radius * radius + 0.5
