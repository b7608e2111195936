"""Reading any image a user drops, safely: one place for formats, modes, orientation, limits.

Every `ImageReadError` message starts with the file's name, once; callers show it as is.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError, features

from training.core.errors import ImageReadError

# Larger than any camera photo we expect (a 12 MP photo is 12e6), small enough that a
# decompression bomb is refused before it eats the machine's memory.
MAX_IMAGE_PIXELS = 80_000_000


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


LUMINANCE_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# Alpha flattening and reductions work on strips of about this many pixels, so a 79 MP RGBA
# image needs tens of MB of float temporaries instead of several GB.
STRIP_PIXELS = 1 << 20


# ISO base media file brands (the `ftyp` box) of HEIF stills (HEIC, HEIF) and of AVIF.
HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)


AVIF_BRANDS = frozenset({b"avif", b"avis"})


# EXIF orientation → the transposition that uprights the image (as `ImageOps.exif_transpose`).
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


_heif_lock = threading.Lock()


_heif_registered: bool | None = None  # None: not tried yet; False: pillow-heif is not installed


def register_heif() -> bool:
    """Let Pillow open HEIC/HEIF through pillow-heif, once, on first need (importing it takes
    about 60 ms, which photos in other formats need not pay); False when it is not installed."""
    global _heif_registered
    with _heif_lock:
        if _heif_registered is None:
            try:
                import pillow_heif
            except ImportError:
                _heif_registered = False
            else:
                pillow_heif.register_heif_opener()
                _heif_registered = True
        return _heif_registered


def display_name(path: str | os.PathLike) -> str:
    path = Path(path)
    return path.name or str(path)


def name_once(path: str | os.PathLike, message: str) -> str:
    """`message` about the file at `path`, starting with the file's name exactly once (the
    engine's read errors already start with it; other errors do not)."""
    name = display_name(path)
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _stat_error_message(path: Path, name: str, error: OSError) -> str:
    if error.errno == errno.ENOENT and os.path.islink(path):
        return f"{name}: a symbolic link to a file that does not exist."
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"{name}: no such file."
    if error.errno == errno.ELOOP:
        return f"{name}: a symbolic link that loops back on itself, so it leads to no file."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"{name}: permission denied: cannot read it."
    if error.errno == errno.ENAMETOOLONG:
        return f"{name}: the path is too long to open."
    return f"{name}: cannot be opened ({error.strerror or error})."


def check_readable_file(path: str | os.PathLike) -> os.stat_result:
    """One `os.stat` that tells a missing file, a link loop, a permission problem and a
    folder, pipe, device or socket apart; never opens anything, so a FIFO cannot hang us."""
    path = Path(path)
    name = display_name(path)
    try:
        status = os.stat(path)
    except OSError as error:
        raise ImageReadError(_stat_error_message(path, name, error)) from None
    if not stat.S_ISREG(status.st_mode):
        kind = next((kind for test, kind in FILE_KINDS if test(status.st_mode)), "not a file")
        raise ImageReadError(f"{name}: not a regular file ({kind}).")
    if status.st_size == 0:
        raise ImageReadError(f"{name}: the file is empty.")
    return status


def _container_brands(path: Path) -> set[bytes]:
    """The brands in an ISO-BMFF `ftyp` box at the start of the file (HEIF, AVIF, MP4), if any."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
    except OSError:
        return set()
    if len(header) < 12 or header[4:8] != b"ftyp":
        return set()
    box_size = min(int.from_bytes(header[:4], "big"), len(header))
    return {header[8:12]} | {header[start : start + 4] for start in range(16, box_size - 3, 4)}


def _unidentified_message(path: Path, name: str) -> str | None:
    """For a file Pillow did not recognise: why, when it is a format we know the name of."""
    brands = _container_brands(path)
    if brands & AVIF_BRANDS and not features.check("avif"):
        return f"{name}: an AVIF image, and this installation's Pillow cannot decode AVIF."
    if brands & HEIF_BRANDS:
        if not register_heif():
            return f"{name}: a HEIC/HEIF image; reading HEIC/HEIF needs the pillow-heif package, which is not installed."
        return ""  # registered just now: try again
    return None


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """`image.reduce(factor)` (box average; RGBA and LA premultiplied, as Pillow does) strip by
    strip, so that the premultiplied copy Pillow makes never holds the whole image."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):  # reduced as 32-bit, then back: 16-bit keeps its scale
        return _reduce(image.convert("I"), factor).convert("I;16")
    width, height = image.size
    reduced = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height)))
        reduced.paste(strip.reduce(factor), (0, top // factor))
    return reduced


def open_image(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, fully decode and upright an image; every failure is an `ImageReadError` whose
    message starts with the file name.

    `draft_size`: the caller needs no more than this size. JPEG decoding then skips detail
    (a 12 MP photo decodes several times faster at 1/4 scale); other formats are reduced by
    a whole factor right after decoding (box average, in 8 bits), never below `draft_size`.
    """
    path = Path(path)
    name = display_name(path)
    check_readable_file(path)
    for attempt in range(2):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(path)
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageReadError(
                        f"{name}: {width}×{height} pixels is too large "
                        f"(the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
                    )
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)
                if draft_size is not None and image.format == "JPEG":
                    image.draft(image.mode, draft_size)
                image.load()
            break
        except ImageReadError:
            raise
        except UnidentifiedImageError as error:
            reason = _unidentified_message(path, name)
            if reason == "" and attempt == 0:
                continue
            raise ImageReadError(reason or f"{name}: not an image format this app can read.") from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageReadError(
                f"{name}: the image is too large to open safely "
                f"(the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
            ) from error
        except PermissionError as error:
            raise ImageReadError(f"{name}: permission denied: cannot read it.") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageReadError(f"{name}: the file is truncated or corrupt ({error}).") from error
    factor = 1
    if draft_size is not None:
        factor = min(image.width // max(1, draft_size[0]), image.height // max(1, draft_size[1]))
    if factor < 2:
        try:
            ImageOps.exif_transpose(image, in_place=True)  # not in place: a copy of the image
        except Exception:  # noqa: BLE001 - a broken EXIF block must not stop us showing pixels
            pass
        if getattr(image, "n_frames", 1) == 1:
            return image
        # Pillow keeps a multi-frame file open to seek its other frames: keep the first frame
        # and close the file, which would otherwise stay open as long as the image is used.
        first = image.copy()
        image.close()
        return first
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001
        orientation = 1
    reduced = _reduce(image, factor)
    image.close()
    transposition = ORIENTATIONS.get(orientation)
    return reduced if transposition is None else reduced.transpose(transposition)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _alpha_strips(image: Image.Image):
    """(first row, RGBA float32 in [0, 1]) for each strip of rows of `image`."""
    rows = max(1, STRIP_PIXELS // max(1, image.width))
    for top in range(0, image.height, rows):
        strip = image.crop((0, top, image.width, min(top + rows, image.height)))
        yield top, np.asarray(strip.convert("RGBA"), dtype=np.float32) / 255.0


def _flattened_strips(image: Image.Image):
    """(first row, RGB float32 in [0, 1]) strips with transparent pixels set to a background
    that reads as a viewer would: when the visible part has both light and dark areas it
    carries its own sheet, and the sheet's tone (the visible part's median grey) fills the
    transparent rest (a dark digit on grey paper with transparent margins stays dark on that
    paper); when it is all of one tone, it is ink on a transparent sheet, and the background
    contrasts with it (dark ink on white, light on black). Two passes over the strips (the
    background depends on the whole image), each strip converted on its own: float
    temporaries of one strip at a time."""
    histogram = np.zeros(256)
    for _top, rgba in _alpha_strips(image):
        levels = np.clip((rgba[..., :3] @ LUMINANCE_WEIGHTS) * 255, 0, 255).astype(np.uint8)
        histogram += np.bincount(levels.ravel(), weights=rgba[..., 3].ravel(), minlength=256)
    opacity = histogram.sum()
    if opacity < 1e-6:
        for top, rgba in _alpha_strips(image):
            yield top, np.ones_like(rgba[..., :3])
        return
    light_share = histogram[128:].sum() / opacity
    if MIXED_TONES[0] < light_share < MIXED_TONES[1]:
        median_level = int(np.searchsorted(np.cumsum(histogram), opacity / 2))
        background = np.float32(median_level / 255.0)
    else:
        background = 0.0 if light_share >= MIXED_TONES[1] else 1.0
    for top, rgba in _alpha_strips(image):
        alpha = rgba[..., 3:]
        yield top, rgba[..., :3] * alpha + background * (1.0 - alpha)


# Shares of light visible pixels between which the visible part counts as a sheet of its own.
MIXED_TONES = (0.01, 0.99)


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
        gray = np.empty((image.height, image.width), dtype=np.float32)
        for top, rgb in _flattened_strips(image):
            gray[top : top + len(rgb)] = rgb @ LUMINANCE_WEIGHTS
        return gray
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy for display and for models that take colour."""
    if image.mode == "RGB":
        return image
    if _has_alpha(image):
        rgb = Image.new("RGB", image.size)
        for top, strip in _flattened_strips(image):
            rgb.paste(Image.fromarray((strip * 255).round().astype(np.uint8)), (0, top))
        return rgb
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = (to_grayscale(image) * 255).round().astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return image.convert("RGB")


IMAGE_SUFFIXES = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm",
        ".heic", ".heif", ".avif",
    }
)  # fmt: skip


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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def no_inputs_message(paths, suffixes=IMAGE_SUFFIXES) -> str:
    """Why `expand_paths(paths, suffixes)` found nothing: what each folder holds instead."""
    reasons = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            continue
        label = f"{display_name(path)}/"
        try:
            children = list(path.iterdir())
        except OSError as error:
            reasons.append(f"{label} cannot be listed ({error.strerror or error})")
            continue
        folders = sum(1 for child in children if child.is_dir())
        suffix_counts = Counter(
            child.suffix.lower() or "no suffix" for child in children if not child.is_dir()
        )
        files = sum(suffix_counts.values())
        if not children:
            reasons.append(f"{label} is empty")
        elif not files:
            reasons.append(
                f"{label} holds only {_count(folders, 'folder')} (folders inside are not searched)"
            )
        else:
            found = ", ".join(f"{suffix}: {count}" for suffix, count in suffix_counts.most_common())
            reason = f"{label} holds {_count(files, 'file')}, none in a supported format ({found})"
            if folders:
                reason += (
                    f", and {_count(folders, 'folder')} that {'is' if folders == 1 else 'are'} not searched"
                )
            reasons.append(reason)
    if not reasons:
        return "No input files."
    return f"No input files: {'; '.join(reasons)}. Supported: {' '.join(sorted(suffixes))}."
