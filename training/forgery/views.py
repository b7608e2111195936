"""The forensic views an analyst reads beside ELA and the model: noise residual, JPEG ghosts,
luminance gradient and the EXIF thumbnail (clone detection is in `clones`), and which of them
agree with the model's heatmap.

No single view is reliable on every photo; a case is built when several agree. Each view is
one function of the decoded photo at native resolution that returns a dataclass: its summary
figures (`to_json()`, what `predict forgery --views` prints), a coarse map of what it finds
suspect (for the agreement with the heatmap) and, when asked for a display size, a
screen-sized picture for a viewer. NumPy and SciPy only: nothing here adds to the executable.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import ExifTags, Image, ImageOps

from training.core.errors import InvalidInputError
from training.forgery.clones import CloneDetection, CloneSettings, detect_clones
from training.forgery.ela import YCBCR, heatmap_at, resaved_pixels

DisplaySize = tuple[int, int] | None  # (width, height) of the picture to draw; None: figures only


def luminance_of(rgb: Image.Image) -> np.ndarray:
    """The photo's luma (BT.601, as JPEG codes it), float32 (H, W)."""
    return np.asarray(rgb, dtype=np.float32) @ YCBCR[0]


def block_reduce(values: np.ndarray, block: int, reduce=np.mean) -> np.ndarray:
    """`reduce` over each whole `block`×`block` tile of an (H, W) array → (H/block, W/block);
    pixels past the last whole tile are left out."""
    rows, columns = values.shape[0] // block, values.shape[1] // block
    tiles = values[: rows * block, : columns * block].reshape(rows, block, columns, block)
    if reduce is np.mean:  # summed in place: no reordered copy of a photo-sized array
        return tiles.sum(axis=(1, 3), dtype=np.float64).astype(np.float32) / block**2
    return reduce(tiles.transpose(0, 2, 1, 3).reshape(rows, columns, block * block), axis=-1)


def shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def map_picture(
    grid: np.ndarray, block: float, size: tuple[int, int], native_size: tuple[int, int]
) -> np.ndarray:
    """A per-tile map (values 0-1) laid over a display-size copy of the photo, as the model's
    heatmap is: tiles of `block` native pixels from the top left, the edge's value beyond."""
    scale = size[0] / native_size[0]
    return heatmap_at(grid, (size[1], size[0]), scale * block / 8)


def grey_to_colour(values: np.ndarray) -> Image.Image:
    """Values 0-1 as an "inferno"-like ramp (black, red, yellow, white): bright = high."""
    values = np.clip(values, 0.0, 1.0)[..., None]
    stops = np.array([[0, 0, 0], [180, 20, 30], [250, 190, 40], [255, 255, 255]], np.float32)
    position = values * (len(stops) - 1)
    lower = np.clip(np.floor(position).astype(np.int32), 0, len(stops) - 2)
    fraction = position - lower
    colour = stops[lower[..., 0]] * (1 - fraction) + stops[lower[..., 0] + 1] * fraction
    return Image.fromarray(colour.round().astype(np.uint8))


def without_specks(mask: np.ndarray) -> np.ndarray:
    """A suspect-tile mask without isolated tiles: one odd tile is what every photo has; a
    region is at least two neighbouring tiles."""
    from scipy import ndimage

    neighbours = ndimage.convolve(mask.astype(np.int32), np.ones((3, 3), np.int32), mode="constant")
    return mask & (neighbours >= 2)


# 1. Noise residual ------------------------------------------------------------------------------
NOISE_BLOCKS = (16, 32, 64)


@dataclass(frozen=True)
class NoiseSettings:
    block: int = 32  # pixels per side of the tiles whose noise level is estimated
    gain: float = 8.0  # how bright the residual is drawn

    def __post_init__(self) -> None:
        if self.block not in NOISE_BLOCKS:
            raise InvalidInputError(f"Noise block must be one of {NOISE_BLOCKS} pixels, got {self.block}.")
        if not 1 <= self.gain <= 50:
            raise InvalidInputError(f"Noise gain must be 1-50, got {self.gain}.")


# A tile's noise level is an outlier this many robust standard deviations (of log σ) from the
# photo's median; tiles flatter than FLAT_SIGMA (clipped or smoothed by JPEG) are not judged.
NOISE_OUTLIER_Z = 3.5
FLAT_SIGMA = 0.4
MIN_NOISE_SPREAD = 0.15  # log σ: photos with very even noise still differ by ~15 % tile to tile


@dataclass(frozen=True)
class NoiseResidual:
    """The wavelet noise map: σ per tile, estimated from the finest diagonal wavelet
    coefficients (HH), and the tiles whose level is an outlier."""

    settings: NoiseSettings
    sigma: np.ndarray  # (rows, columns) per tile
    suspect: np.ndarray  # bool, same grid
    median_sigma: float
    outlier_share: float
    highest_ratio: float  # the most different region's σ / the photo's median σ (or its inverse)
    image: Image.Image | None = None

    def to_json(self) -> dict:
        return {
            "median_sigma": round(self.median_sigma, 3),
            "outlier_share": round(self.outlier_share, 4),
            "highest_ratio": round(self.highest_ratio, 2),
        }


def noise_residual(
    rgb: Image.Image, settings: NoiseSettings = NoiseSettings(), display: DisplaySize = None
) -> NoiseResidual:
    """Regions with another noise level (pasted from another camera or photo, or smoothed)
    stand out: the finest diagonal Haar detail of luminance holds mostly sensor noise."""
    luminance = luminance_of(rgb)
    height, width = (luminance.shape[0] // 2) * 2, (luminance.shape[1] // 2) * 2
    quad = luminance[:height, :width]
    # Haar HH: (a − b − c + d) / 2 over each 2×2 block.
    diagonal = (quad[0::2, 0::2] - quad[0::2, 1::2] - quad[1::2, 0::2] + quad[1::2, 1::2]) / 2
    del luminance, quad
    magnitude = np.abs(diagonal)
    half_block = settings.block // 2
    if min(magnitude.shape) < half_block:
        raise InvalidInputError(f"The photo is smaller than one {settings.block}-pixel noise tile.")
    # Mean |HH| × √(π/2) is σ for Gaussian noise; the median, the textbook's robust choice,
    # is quantised by 8-bit pixels to a few values and cannot tell tiles apart.
    sigma = block_reduce(magnitude, half_block) * np.sqrt(np.pi / 2)
    judged = sigma > FLAT_SIGMA
    logs = np.log(np.maximum(sigma, 1e-3))
    centre = float(np.median(logs[judged])) if judged.any() else 0.0
    spread = 1.4826 * float(np.median(np.abs(logs[judged] - centre))) if judged.any() else 0.0
    z = np.abs(logs - centre) / max(spread, MIN_NOISE_SPREAD)
    suspect = without_specks(judged & (z > NOISE_OUTLIER_Z))
    highest = float(np.exp(np.abs(logs[judged] - centre).max())) if judged.any() else 1.0
    image = None
    if display is not None:
        drawn = Image.fromarray(np.clip(magnitude * settings.gain, 0, 255).astype(np.uint8))
        image = shrink(drawn, display).convert("RGB")
    return NoiseResidual(
        settings,
        sigma,
        suspect,
        float(np.exp(centre)),
        float(suspect.mean()),
        highest,
        image,
    )


# 2. JPEG ghosts ---------------------------------------------------------------------------------
GHOST_QUALITIES = tuple(range(50, 100, 5))
GHOST_BLOCK = 16


@dataclass(frozen=True)
class GhostSettings:
    shown_quality: int = 70  # the re-save quality whose difference map is drawn

    def __post_init__(self) -> None:
        if self.shown_quality not in GHOST_QUALITIES:
            raise InvalidInputError(
                f"The ghost quality shown must be one of {GHOST_QUALITIES[0]}-{GHOST_QUALITIES[-1]} "
                f"in steps of 5, got {self.shown_quality}."
            )


# A tile has a ghost at a quality below the photo's own minimum when its difference there is
# a local minimum along the qualities and at most this far up its own range (0: its least).
GHOST_DEPTH = 0.25
# ...and a ghost is reported when at least this share of the tiles (and 4 of them) show it.
GHOST_MIN_SHARE = 0.004


@dataclass(frozen=True)
class JpegGhosts:
    """How much each 16×16 tile changes when the photo is re-saved at each quality (Farid's
    JPEG ghosts): the photo as a whole differs least at the quality it was last saved at; a
    region saved at a lower quality before shows a minimum of its own there."""

    settings: GhostSettings
    qualities: tuple[int, ...]
    differences: np.ndarray  # (qualities, rows, columns) mean squared difference per tile
    quality_minimum: int  # where the photo's median tile differs least
    ghost_quality: int | None  # a lower quality where a region has its own minimum
    ghost_share: float
    suspect: np.ndarray
    image: Image.Image | None = None

    def to_json(self) -> dict:
        return {
            "quality_minimum": self.quality_minimum,
            "ghost_quality": self.ghost_quality,
            "ghost_share": round(self.ghost_share, 4),
        }

    def normalised(self) -> np.ndarray:
        """Each tile's differences scaled to 0 (its least) … 1 (its most) across qualities."""
        lowest = self.differences.min(axis=0)
        return (self.differences - lowest) / np.maximum(self.differences.max(axis=0) - lowest, 1e-6)

    def shown_at(
        self, settings: GhostSettings, display: tuple[int, int], native_size: tuple[int, int]
    ) -> JpegGhosts:
        """The same ghosts drawn at another quality: no photo is re-saved again."""
        return replace(
            self, settings=settings, image=ghost_picture(self.normalised(), settings, display, native_size)
        )


def ghost_picture(
    normalised: np.ndarray, settings: GhostSettings, display: tuple[int, int], native_size: tuple[int, int]
) -> Image.Image:
    """The difference map at the quality shown: dark where the photo re-saves unchanged."""
    shown = normalised[GHOST_QUALITIES.index(settings.shown_quality)]
    return grey_to_colour(map_picture(shown, GHOST_BLOCK, display, native_size))


def jpeg_ghosts(
    rgb: Image.Image, settings: GhostSettings = GhostSettings(), display: DisplaySize = None
) -> JpegGhosts:
    if min(rgb.size) < GHOST_BLOCK:
        raise InvalidInputError(f"The photo is smaller than one {GHOST_BLOCK}-pixel ghost tile.")
    pixels = np.asarray(rgb)
    tile_rows, tile_columns = pixels.shape[0] // GHOST_BLOCK, pixels.shape[1] // GHOST_BLOCK
    strip = 16 * GHOST_BLOCK  # strips of whole tiles keep the temporaries to a few MB

    def difference_at(quality: int) -> np.ndarray:
        resaved = resaved_pixels(rgb, quality)
        sums = np.empty((tile_rows, tile_columns), np.float64)
        for top in range(0, tile_rows * GHOST_BLOCK, strip):
            rows = slice(top, min(top + strip, tile_rows * GHOST_BLOCK))
            here, there = (
                pixels[rows, : tile_columns * GHOST_BLOCK],
                resaved[rows, : tile_columns * GHOST_BLOCK],
            )
            # |a − b|² in integers: 255² fits 16 bits, three channels' sum 32.
            difference = (np.maximum(here, there) - np.minimum(here, there)).astype(np.uint16)
            difference *= difference
            per_pixel = difference[..., 0].astype(np.uint32)  # channel by channel: 3× faster than sum()
            per_pixel += difference[..., 1]
            per_pixel += difference[..., 2]
            sums[rows.start // GHOST_BLOCK : rows.stop // GHOST_BLOCK] = per_pixel.reshape(
                -1, GHOST_BLOCK, tile_columns, GHOST_BLOCK
            ).sum(axis=(1, 3))
        return (sums / (3 * GHOST_BLOCK**2)).astype(np.float32)

    # JPEG coding and NumPy release the GIL: two qualities at a time.
    with ThreadPoolExecutor(2, thread_name_prefix="ghosts") as pool:
        differences = np.stack(list(pool.map(difference_at, GHOST_QUALITIES)))
    photo_curve = np.median(differences.reshape(len(GHOST_QUALITIES), -1), axis=1)
    minimum_index = int(np.argmin(photo_curve))
    lowest = differences.min(axis=0)
    normalised = (differences - lowest) / np.maximum(differences.max(axis=0) - lowest, 1e-6)
    best_quality, best_mask = None, np.zeros(differences.shape[1:], bool)
    for index in range(1, minimum_index - 1):  # strictly below the photo's own minimum
        local = (differences[index] < differences[index - 1]) & (differences[index] < differences[index + 1])
        # ...and clearly below what the rest of the photo shows at that quality.
        mask = without_specks(local & (normalised[index] <= GHOST_DEPTH))
        if mask.sum() > best_mask.sum():
            best_quality, best_mask = GHOST_QUALITIES[index], mask
    found = best_mask.sum() >= max(4, GHOST_MIN_SHARE * best_mask.size)
    image = ghost_picture(normalised, settings, display, rgb.size) if display is not None else None
    return JpegGhosts(
        settings,
        GHOST_QUALITIES,
        differences,
        GHOST_QUALITIES[minimum_index],
        best_quality if found else None,
        float(best_mask.mean()) if found else 0.0,
        best_mask if found else np.zeros_like(best_mask),
        image,
    )


# 4. Luminance gradient --------------------------------------------------------------------------
GRADIENT_TILES = (48, 64, 96, 128)


@dataclass(frozen=True)
class GradientSettings:
    tile: int = 64  # pixels per side of the tiles whose shading direction is compared
    gain: float = 4.0

    def __post_init__(self) -> None:
        if self.tile not in GRADIENT_TILES:
            raise InvalidInputError(f"Gradient tile must be one of {GRADIENT_TILES} pixels, got {self.tile}.")
        if not 1 <= self.gain <= 20:
            raise InvalidInputError(f"Gradient gain must be 1-20, got {self.gain}.")


# Tiles whose shading points more than this far from the photo's dominant direction are
# "lit from elsewhere"; the photo has a dominant direction when the tiles' unit vectors
# agree at least this much (resultant length).
OPPOSED_DEGREES = 120.0
MIN_CONSISTENCY = 0.3


@dataclass(frozen=True)
class LuminanceGradient:
    """The direction and strength of the luminance gradient (Forensically's colours: red and
    green the horizontal and vertical slopes, blue the strength), and per tile the direction
    of its smooth shading (texture averaged out), compared with the photo's dominant one."""

    settings: GradientSettings
    directions: np.ndarray  # degrees per tile (0 = brighter to the right, 90 = brighter below)
    strengths: np.ndarray
    dominant_degrees: float
    consistency: float  # 0: no common direction … 1: every tile shaded the same way
    opposed_share: float
    suspect: np.ndarray
    image: Image.Image | None = None

    def to_json(self) -> dict:
        return {
            "dominant_direction_degrees": round(self.dominant_degrees, 1),
            "consistency": round(self.consistency, 3),
            "opposed_share": round(self.opposed_share, 4),
        }


def luminance_gradient(
    rgb: Image.Image, settings: GradientSettings = GradientSettings(), display: DisplaySize = None
) -> LuminanceGradient:
    luminance = luminance_of(rgb)
    if min(luminance.shape) < settings.tile:
        raise InvalidInputError(f"The photo is smaller than one {settings.tile}-pixel gradient tile.")
    image = None
    if display is not None:
        slope_y, slope_x = np.gradient(luminance)
        colour = np.empty((*luminance.shape, 3), np.uint8)
        colour[..., 0] = np.clip(128 + slope_x * settings.gain, 0, 255)
        colour[..., 1] = np.clip(128 + slope_y * settings.gain, 0, 255)
        colour[..., 2] = np.clip(np.hypot(slope_x, slope_y) * settings.gain, 0, 255)
        del slope_x, slope_y
        image = shrink(Image.fromarray(colour), display)
        del colour
    # Shading, not texture: the slope of 8×8 block means, averaged over each tile.
    coarse = block_reduce(luminance, 8)
    del luminance
    coarse_y, coarse_x = np.gradient(coarse)
    per_tile = settings.tile // 8
    mean_x, mean_y = block_reduce(coarse_x, per_tile), block_reduce(coarse_y, per_tile)
    strengths = np.hypot(mean_x, mean_y)
    directions = np.degrees(np.arctan2(mean_y, mean_x))
    strong = strengths >= max(np.median(strengths), 0.05)
    units = np.stack([np.cos(np.radians(directions)), np.sin(np.radians(directions))])[:, strong]
    resultant = units.mean(axis=1) if units.size else np.zeros(2)
    consistency = float(np.hypot(*resultant))
    dominant = float(np.degrees(np.arctan2(resultant[1], resultant[0])))
    away = np.abs((directions - dominant + 180) % 360 - 180)
    opposed = strong & (away > OPPOSED_DEGREES)
    # Without a dominant direction there is nothing to be inconsistent with.
    suspect = without_specks(opposed) if consistency >= MIN_CONSISTENCY else np.zeros_like(opposed)
    return LuminanceGradient(
        settings,
        directions,
        strengths,
        dominant,
        consistency,
        float(opposed.sum() / max(strong.sum(), 1)),
        suspect,
        image,
    )


# 5. EXIF thumbnail ------------------------------------------------------------------------------
JPEG_INTERCHANGE_FORMAT, JPEG_INTERCHANGE_LENGTH = 0x0201, 0x0202
# Mean absolute difference (0-255) above which the thumbnail shows another picture: a camera's
# own thumbnail of the same photo differs by a few levels (resampling, its own compression).
THUMBNAIL_DIFFERS = 12.0
THUMBNAIL_REGION_DIFFERS = 40.0  # a tile this different is "changed" even if the mean is low
THUMBNAIL_TILE = 8  # thumbnail pixels per side of the tiles compared


@dataclass(frozen=True)
class ThumbnailComparison:
    """The EXIF thumbnail (the picture the camera or an earlier editor stored) beside the
    photo: an edit made after the thumbnail was written shows as a difference, and a
    thumbnail of another shape means the photo was cropped since."""

    present: bool
    thumbnail: Image.Image | None = None
    mean_difference: float | None = None
    aspect_matches: bool | None = None
    changed_share: float | None = None
    suspect: np.ndarray | None = None
    image: Image.Image | None = None  # the difference, display size

    @property
    def differs(self) -> bool | None:
        if not self.present:
            return None
        return (not self.aspect_matches) or self.mean_difference > THUMBNAIL_DIFFERS or self.changed_share > 0

    def to_json(self) -> dict:
        return {
            "present": self.present,
            "differs": self.differs,
            "mean_difference": None if self.mean_difference is None else round(self.mean_difference, 2),
            "aspect_matches": self.aspect_matches,
            "changed_share": None if self.changed_share is None else round(self.changed_share, 4),
        }


def exif_thumbnail(path) -> Image.Image | None:
    """The thumbnail stored in the file's EXIF (IFD1), turned as the photo is shown (EXIF
    orientation); None when there is none or it cannot be decoded."""
    try:
        with Image.open(path) as photo:
            exif_bytes = photo.info.get("exif") or b""
            exif = photo.getexif()
            ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
            orientation = exif.get(ExifTags.Base.Orientation, 1)
    except OSError:
        return None
    offset, length = ifd1.get(JPEG_INTERCHANGE_FORMAT), ifd1.get(JPEG_INTERCHANGE_LENGTH)
    if not offset or not length:
        return None
    # Offsets count from the TIFF header, which follows "Exif\0\0" in a JPEG's APP1.
    start = offset + (6 if exif_bytes.startswith(b"Exif\x00\x00") else 0)
    data = exif_bytes[start : start + length]
    try:
        thumbnail = Image.open(io.BytesIO(data))
        if thumbnail.width * thumbnail.height > 1_000_000:  # a thumbnail, not a second photo
            return None
        thumbnail.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    thumbnail = thumbnail.convert("RGB")
    if orientation != 1:
        holder = Image.Exif()
        holder[ExifTags.Base.Orientation] = orientation
        thumbnail.info["exif"] = holder.tobytes()
        thumbnail = ImageOps.exif_transpose(thumbnail)
    return thumbnail


def thumbnail_comparison(path, rgb: Image.Image, display: DisplaySize = None) -> ThumbnailComparison:
    thumbnail = exif_thumbnail(path)
    if thumbnail is None:
        return ThumbnailComparison(False)
    photo_aspect, thumbnail_aspect = rgb.width / rgb.height, thumbnail.width / thumbnail.height
    aspect_matches = abs(np.log(photo_aspect / thumbnail_aspect)) < 0.03
    # Cameras letterbox a thumbnail of another shape: compare the photo with the part of the
    # thumbnail it fills.
    scale = min(thumbnail.width / rgb.width, thumbnail.height / rgb.height)
    fitted = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    left, top = (thumbnail.width - fitted[0]) // 2, (thumbnail.height - fitted[1]) // 2
    inner = thumbnail.crop((left, top, left + fitted[0], top + fitted[1]))
    small = rgb.resize(fitted, Image.Resampling.BOX, reducing_gap=3.0)
    difference = np.abs(np.asarray(small, np.float32) - np.asarray(inner, np.float32)).mean(axis=-1)
    tiles = block_reduce(difference, THUMBNAIL_TILE) if min(difference.shape) >= THUMBNAIL_TILE else None
    suspect = tiles > THUMBNAIL_REGION_DIFFERS if tiles is not None else np.zeros((1, 1), bool)
    image = None
    if display is not None:
        drawn = Image.fromarray(np.clip(difference * 4, 0, 255).astype(np.uint8))
        image = drawn.resize(display, Image.Resampling.NEAREST).convert("RGB")
    return ThumbnailComparison(
        True, thumbnail, float(difference.mean()), bool(aspect_matches), float(suspect.mean()), suspect, image
    )


# All of them, and what agrees with the model -----------------------------------------------------
VIEW_NAMES = ("noise", "ghosts", "clones", "gradient", "thumbnail")
VIEW_TITLES = {
    "noise": "Noise residual",
    "ghosts": "JPEG ghosts",
    "clones": "Clones",
    "gradient": "Luminance gradient",
    "thumbnail": "EXIF thumbnail",
}


@dataclass(frozen=True)
class ViewSettings:
    noise: NoiseSettings = NoiseSettings()
    ghosts: GhostSettings = GhostSettings()
    clones: CloneSettings = CloneSettings()
    gradient: GradientSettings = GradientSettings()


@dataclass
class ForensicViews:
    """The five views of one photo (each None until computed)."""

    noise: NoiseResidual | None = None
    ghosts: JpegGhosts | None = None
    clones: CloneDetection | None = None
    gradient: LuminanceGradient | None = None
    thumbnail: ThumbnailComparison | None = None
    agreement: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # view → why (e.g. a photo too small)

    def get(self, name: str):
        return getattr(self, name)

    def copy(self) -> ForensicViews:
        """The same views in a new set (with its own agreement and reasons), to add to."""
        return replace(self, agreement=dict(self.agreement), unavailable=dict(self.unavailable))

    def to_json(self) -> dict:
        answer = {}
        for name in VIEW_NAMES:
            view = self.get(name)
            if view is not None:
                answer[name] = {**view.to_json(), "agreement": self.agreement.get(name)}
            elif name in self.unavailable:
                answer[name] = {"unavailable": self.unavailable[name]}
        return answer

    def summary(self) -> str:
        """One line of the views' headline figures (the command line's table)."""
        parts = []
        if self.noise is not None:
            parts.append(f"noise outliers {self.noise.outlier_share:.1%}")
        if self.ghosts is not None:
            ghost = f", ghost at {self.ghosts.ghost_quality}" if self.ghosts.ghost_quality else ""
            parts.append(f"JPEG minimum {self.ghosts.quality_minimum}{ghost}")
        if self.clones is not None:
            parts.append(f"{len(self.clones.regions)} cloned region{'s' * (len(self.clones.regions) != 1)}")
        if self.gradient is not None:
            parts.append(f"lighting consistency {self.gradient.consistency:.2f}")
        if self.thumbnail is not None:
            thumbnail = self.thumbnail
            parts.append(
                "no EXIF thumbnail"
                if not thumbnail.present
                else f"thumbnail {'differs' if thumbnail.differs else 'matches'}"
            )
        return ", ".join(parts)


def compute_view(name: str, path, rgb: Image.Image, settings: ViewSettings, display: DisplaySize = None):
    """One view of the photo `rgb` (decoded from `path`) with its settings in `settings`."""
    if name == "noise":
        return noise_residual(rgb, settings.noise, display)
    if name == "ghosts":
        return jpeg_ghosts(rgb, settings.ghosts, display)
    if name == "clones":
        return detect_clones(rgb, settings.clones, display)
    if name == "gradient":
        return luminance_gradient(rgb, settings.gradient, display)
    if name == "thumbnail":
        return thumbnail_comparison(path, rgb, display)
    raise InvalidInputError(f"Unknown forensic view {name!r}; the views are {', '.join(VIEW_NAMES)}.")


def forensic_views(
    path,
    rgb: Image.Image,
    settings: ViewSettings = ViewSettings(),
    display: DisplaySize = None,
    names: tuple[str, ...] = VIEW_NAMES,
    into: ForensicViews | None = None,
) -> ForensicViews:
    """The views `names` of the photo, one after another (each uses both cores where it
    can), added to `into` (a new set by default). A view the photo is too small for is
    left None, with the reason in `unavailable`."""
    views = into if into is not None else ForensicViews()
    for name in names:
        try:
            setattr(views, name, compute_view(name, path, rgb, settings, display))
            views.unavailable.pop(name, None)
        except InvalidInputError as error:
            setattr(views, name, None)
            views.unavailable[name] = str(error)
    return views


# Agreement with the model's heatmap --------------------------------------------------------------
AGREES, ELSEWHERE, NOTHING_FOUND, MODEL_SILENT, NO_DATA = (
    "agrees",
    "points elsewhere",
    "finds nothing",
    "flags what the model does not",
    "not available",
)
# Block probabilities the heatmap counts as "hot" (where its overlay is fully opaque).
HOT_PROBABILITY = 0.5
# A view agrees when at least this share of what it flags lies on or next to a hot region.
AGREEMENT_OVERLAP = 0.3


def agreement_with_heatmap(views: ForensicViews, block_map: np.ndarray | None) -> dict[str, str]:
    """For each view computed: whether what it flags agrees with the model's heatmap
    (`block_map`, per 8×8 block). "agrees" also when neither flags anything."""
    from scipy import ndimage

    answers = {}
    for name in VIEW_NAMES:
        view = views.get(name)
        suspect = getattr(view, "suspect", None) if view is not None else None
        if view is None or suspect is None or block_map is None:
            answers[name] = NO_DATA
            continue
        hot = np.asarray(block_map) >= HOT_PROBABILITY
        flagged = bool(suspect.any())
        if not flagged:
            answers[name] = AGREES if not hot.any() else NOTHING_FOUND
            continue
        if not hot.any():
            answers[name] = MODEL_SILENT
            continue
        # Both on the view's grid; the hot region widened by a tile for the blur of both maps.
        hot_on_grid = (
            np.asarray(
                Image.fromarray(hot.astype(np.uint8) * 255).resize(
                    (suspect.shape[1], suspect.shape[0]), Image.Resampling.BOX
                )
            )
            > 0
        )
        near_hot = ndimage.binary_dilation(hot_on_grid, iterations=1)
        overlap = float((suspect & near_hot).sum() / suspect.sum())
        answers[name] = AGREES if overlap >= AGREEMENT_OVERLAP else ELSEWHERE
    return answers


# In words -----------------------------------------------------------------------------------------
# How an analyst reads each view (the tab's note under it, case reports).
HOW_TO_READ = {
    "noise": (
        "Bright = strong fine grain. One camera gives every part of a photo about the same grain; "
        "a pasted or retouched region often has more or less (another camera, smoothing, added "
        "noise). Edges and busy texture are always bright. Means little on photos saved at low "
        "quality or many times: JPEG wipes the grain out."
    ),
    "ghosts": (
        "Dark = the photo barely changes when re-saved at the quality shown. The whole photo "
        "darkens at the quality it was last saved at; a region that darkens on its own at a lower "
        "quality was saved at that quality before (pasted from another JPEG). Step through the "
        "qualities. Means little if the photo was resized after the edit, or last saved at a "
        "lower quality than the pasted part."
    ),
    "clones": (
        "Boxes of one colour, linked by a line: a region and its copy elsewhere in the same photo "
        "(also turned or rescaled), as a clone brush leaves when it hides something. Each region "
        "says how sure the clone verifier is that it is a copy rather than a natural look-alike: "
        "symmetric things (two eyes, twin towers) and repeated patterns (printed fabric) can "
        "look alike, so weigh a region near the threshold against the other views (Sure ≥ shows "
        "weaker candidates too, or only the surest). Dimmed areas are too flat to check (clear "
        "sky, a smooth wall): a copy there, sky onto sky, cannot show, so finding nothing means "
        "little on a mostly dimmed photo."
    ),
    "gradient": (
        "Colour = where brightness rises (red: to the right, green: downwards), blue = how "
        "steeply. Light from one side shades every object the same way; an object pasted from a "
        "photo lit from elsewhere is shaded against the rest. The figures compare the shading "
        "direction tile by tile. Means little in diffuse light, with several lights, or on busy "
        "texture."
    ),
    "thumbnail": (
        "The difference between the photo and the small copy the camera stored in its EXIF: "
        "bright areas changed after the thumbnail was made; a thumbnail of another shape means "
        "the photo was cropped. Many editors rewrite or drop the thumbnail, so no thumbnail "
        "proves nothing."
    ),
}


def view_figures(name: str, view) -> str:
    """The figures of one view, as the user reads them."""
    if name == "noise":
        return (
            f"Noise σ ≈ {view.median_sigma:.2f} grey levels; {view.outlier_share:.1%} of the tiles are "
            f"outliers; the most different region's level is {view.highest_ratio:.1f}× the photo's."
        )
    if name == "ghosts":
        ghost = (
            f"a region has its own minimum at quality {view.ghost_quality} ({view.ghost_share:.1%} of the photo)."
            if view.ghost_quality is not None
            else "no region has a minimum of its own at a lower quality."
        )
        return f"The photo differs least at quality {view.quality_minimum}; {ghost}"
    if name == "clones":
        unchecked = f"{view.flat_share:.0%} of the photo (dimmed) is too flat to check."
        if not view.regions:
            return f"No copied region found ({view.candidate_matches} look-alike points checked); {unchecked}"
        found = "; ".join(
            f"{region.probability:.0%} sure it is a copy ({region.matches} matches, "
            f"scale {region.scale:.2f}, turned {abs(region.rotation_degrees):.0f}°)"
            for region in view.regions
        )
        count = len(view.regions)
        return f"{count} cloned region{'s' * (count != 1)} found: {found}. {unchecked}"
    if name == "gradient":
        return (
            f"Shading mostly towards {view.dominant_degrees:.0f}°, consistency {view.consistency:.2f} "
            f"(0 = none, 1 = every tile); {view.opposed_share:.1%} of the shaded tiles point against it."
        )
    if not view.present:
        return "The file holds no EXIF thumbnail."
    shape = "same shape as the photo" if view.aspect_matches else "ANOTHER SHAPE than the photo (cropped?)"
    return (
        f"Thumbnail {view.thumbnail.width}×{view.thumbnail.height}, {shape}; mean difference "
        f"{view.mean_difference:.1f} grey levels; {view.changed_share:.1%} of it clearly changed."
    )


def agreement_line(agreement: dict[str, str]) -> str:
    """Under the verdict: the views grouped by what they say about the model's heatmap."""
    groups: dict[str, list[str]] = {}
    for name in VIEW_NAMES:
        if name in agreement:
            groups.setdefault(agreement[name], []).append(VIEW_TITLES[name])
    order = (AGREES, ELSEWHERE, MODEL_SILENT, NOTHING_FOUND, NO_DATA)
    return "Views: " + "; ".join(f"{state}: {', '.join(groups[state])}" for state in order if state in groups)
