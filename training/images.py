"""Reading any image a user drops, safely: one place for formats, modes, orientation, limits."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from training.errors import ImageReadError

# Larger than any camera photo we expect (a 12 MP photo is 12e6), small enough that a
# decompression bomb is refused before it eats the machine's memory.
MAX_IMAGE_PIXELS = 80_000_000
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
LUMINANCE_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def open_image(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, fully decode and upright an image; every failure is an `ImageReadError`.

    `draft_size` lets JPEG decoding skip detail that the caller will throw away anyway
    (a 12 MP photo decodes several times faster at 1/4 scale).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path.name}: no such file.")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path.name}: the file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageReadError(
                    f"{path.name}: {width}×{height} pixels is too large "
                    f"(the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
                )
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            if draft_size is not None and image.format == "JPEG":
                image.draft(image.mode, draft_size)
            image.load()
    except ImageReadError:
        raise
    except UnidentifiedImageError as error:
        raise ImageReadError(f"{path.name}: not an image format this app can read.") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(
            f"{path.name}: the image is too large to open safely "
            f"(the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"{path.name}: the file is truncated or corrupt ({error}).") from error
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop us showing pixels
        pass
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _flatten_alpha(image: Image.Image) -> np.ndarray:
    """RGB in [0, 1] with transparent pixels set to the background that contrasts with the
    visible content: dark ink on a transparent sheet reads as dark on white, light as light
    on black."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3:]
    luminance = rgba[..., :3] @ LUMINANCE_WEIGHTS
    if alpha.sum() < 1e-6:
        return np.ones_like(rgba[..., :3])
    visible_mean = float((luminance * alpha[..., 0]).sum() / alpha.sum())
    background = 1.0 if visible_mean < 0.5 else 0.0
    return rgba[..., :3] * alpha + background * (1.0 - alpha)


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Luminance in [0, 1] as float32, for any PIL mode (16-bit, float, CMYK, palette, alpha)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float32) / 65535.0
    if image.mode == "I":
        values = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if values.max() > 255 else 255.0
        return np.clip(values / scale, 0.0, 1.0).astype(np.float32)
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        peak = values.max()
        return np.clip(values / peak if peak > 1.0 else values, 0.0, 1.0).astype(np.float32)
    if _has_alpha(image):
        return (_flatten_alpha(image) @ LUMINANCE_WEIGHTS).astype(np.float32)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy for display and for models that take colour."""
    if image.mode == "RGB":
        return image
    if _has_alpha(image):
        return Image.fromarray((_flatten_alpha(image) * 255).round().astype(np.uint8))
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = (to_grayscale(image) * 255).round().astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return image.convert("RGB")


IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)


def expand_paths(paths, suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """Files as given; folders become the files directly inside them with one of `suffixes`,
    sorted."""
    expanded = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            expanded.extend(sorted(child for child in path.iterdir() if child.suffix.lower() in suffixes))
        else:
            expanded.append(path)
    return expanded
