"""Forgery data: real/tampered folders, splits grouped by source image, the quality-matched
subset, and synthetic splices made from other photos.

CASIA names tell which authentic photos a tampered one was made from
(`Sp_D_CNN_A_ani0049_ani0084_0266.jpg`: host ani0049, donor ani0084; `Au_ani_0049.jpg` is the
host itself). Photos that share content form one group, and a split never puts one group on
both sides, or validation would score near-copies of training images.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from training.core.errors import DatasetInvalidError, InvalidInputError
from training.core.images import IMAGE_SUFFIXES

CLASS_FOLDERS = (("Au", "Sp"), ("real", "fake"), ("authentic", "tampered"))


CASIA_TAMPERED = re.compile(r"Sp_[DS]_\w{3}_\w_([a-z]{3}\d{4})_([a-z]{3}\d{4})")


CASIA_AUTHENTIC = re.compile(r"Au_([a-z]{3})_(\d{4})")


QUALITY_MATCHED_COEFFICIENT = 6  # first luminance quantisation step shared by both CASIA classes


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    tampered: bool
    mask: Path | None  # white = tampered; None when the dataset has no mask for it
    sources: tuple[str, ...]  # the source photos whose content it holds
    # How a synthetic photo was made (operation, edge, history, final quality and band,
    # source folder), for figures per condition; None for photos from a dataset.
    condition: dict | None = field(default=None, compare=False)


def _sources(path: Path) -> tuple[str, ...]:
    tampered = CASIA_TAMPERED.match(path.name)
    if tampered:
        return tuple(sorted(set(tampered.groups())))
    authentic = CASIA_AUTHENTIC.match(path.name)
    if authentic:
        return (authentic.group(1) + authentic.group(2),)
    return (path.stem,)


def list_photos(directory) -> list[LabelledPhoto]:
    """The photos of a folder with `Au/`+`Sp/` (or `real/`+`fake/`, `authentic/`+`tampered/`)
    subfolders, and masks from `masks/<stem>_gt.png` where present."""
    directory = Path(directory)
    for authentic_name, tampered_name in CLASS_FOLDERS:
        if (directory / authentic_name).is_dir() and (directory / tampered_name).is_dir():
            break
    else:
        expected = ", ".join(f"{a}/ + {t}/" for a, t in CLASS_FOLDERS)
        raise DatasetInvalidError(f"{directory} needs two subfolders of photos: {expected}.")
    photos = []
    for folder, tampered in ((authentic_name, False), (tampered_name, True)):
        for path in sorted((directory / folder).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            mask = directory / "masks" / f"{path.stem}_gt.png"
            photos.append(LabelledPhoto(path, tampered, mask if mask.is_file() else None, _sources(path)))
    for tampered in (False, True):
        if not any(photo.tampered == tampered for photo in photos):
            raise DatasetInvalidError(f"{directory} has no {'tampered' if tampered else 'authentic'} photos.")
    return photos


def source_groups(photos: list[LabelledPhoto]) -> np.ndarray:
    """A group number per photo: photos linked through a shared source share a group."""
    parent: dict[str, str] = {}

    def root(source: str) -> str:
        parent.setdefault(source, source)
        while parent[source] != source:
            parent[source] = parent[parent[source]]
            source = parent[source]
        return source

    for photo in photos:
        for source in photo.sources[1:]:
            parent[root(source)] = root(photo.sources[0])
    roots = [root(photo.sources[0]) for photo in photos]
    numbering = {name: number for number, name in enumerate(dict.fromkeys(roots))}
    return np.array([numbering[name] for name in roots])


def grouped_split(photos: list[LabelledPhoto], validation_fraction: float, seed: int):
    """(train indices, validation indices) with no source group on both sides."""
    groups = source_groups(photos)
    order = np.random.default_rng(seed).permutation(np.unique(groups))
    sizes = np.bincount(groups)
    taken = np.cumsum(sizes[order]) <= validation_fraction * len(photos)
    validation_groups = order[taken]
    is_validation = np.isin(groups, validation_groups)
    return np.flatnonzero(~is_validation), np.flatnonzero(is_validation)


def first_luminance_step(path) -> int | None:
    with Image.open(path) as image:
        tables = getattr(image, "quantization", None)
        return int(tables[min(tables)][0]) if tables else None


def is_quality_matched(path) -> bool:
    return first_luminance_step(path) == QUALITY_MATCHED_COEFFICIENT


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A boolean (H, W) mask at the photo's size (some masks are stored at another size)."""
    with Image.open(path) as mask:
        mask = mask.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.Resampling.NEAREST)
        return np.asarray(mask) > 127


LOSSLESS = "lossless"


# The held-out set's final-save bands: (name, lowest, highest JPEG quality), then lossless.
QUALITY_BANDS = (("60–70", 60, 69), ("70–80", 70, 79), ("80–90", 80, 89), ("90–98", 90, 98))


BAND_NAMES = tuple(name for name, _, _ in QUALITY_BANDS) + (LOSSLESS,)


BAND_QUALITIES = {name: (lowest, highest) for name, lowest, highest in QUALITY_BANDS}


def band_of(final_quality: int | None) -> str:
    """The band name of a final save (None: saved losslessly)."""
    if final_quality is None:
        return LOSSLESS
    for name, lowest, highest in QUALITY_BANDS:
        if lowest <= final_quality <= highest:
            return name
    return "below 60" if final_quality < 60 else "99–100"


@dataclass(frozen=True)
class SplicingRecipe:
    """How synthetic pairs are made. Everything after the edit happens to both photos of a
    pair alike (geometry, every re-save, the final format and quality), so how a file was
    saved never tells its class; only the pasted region differs."""

    first_qualities: tuple[int, int] = (60, 98)  # the "camera" save of host and donor
    # Final saves: (lowest, highest, weight) JPEG quality bands, and the lossless PNG share.
    final_bands: tuple[tuple[int, int, float], ...] = ((60, 69, 0.15), (70, 90, 0.7), (91, 98, 0.15))
    lossless_share: float = 0.1
    chroma_subsampling: tuple[int, ...] = (0, 1, 2)  # Pillow: 4:4:4, 4:2:2, 4:2:0
    saves_before_edit: tuple[int, int] = (1, 3)  # the host's JPEG saves before the forger has it
    resave_after_edit_share: float = 0.25  # one more save between the edit and the final save
    resize_share: float = 0.2  # the host resized (factor 0.5-0.9) after its first save
    crop_share: float = 0.2  # the host cropped off the 8×8 grid after its first save
    # The edited photo resized before its final save: this wipes out most traces ELA reads, so
    # the training recipe leaves it out and `bench.forgery_eval` reports it as a stress test.
    resize_after_edit_share: float = 0.0
    area: tuple[float, float] = (0.02, 0.3)  # tampered share of the photo
    shapes: tuple[str, ...] = ("ellipse", "polygon", "blob", "rectangle")
    copy_move_share: float = 0.35
    rescale_share: float = 0.5  # donor content rescaled 0.6-1.5×
    rotate_share: float = 0.25  # donor content rotated
    donor_unsaved_share: float = 0.15  # donor content not re-saved before the paste
    edges: tuple[str, ...] = ("hard", "feathered", "blurred")
    recolour_share: float = 0.2  # pasted content's brightness and colour adjusted
    noise_share: float = 0.15  # noise added to the pasted content to match its new host

    def to_json(self) -> dict:
        return asdict(self)

    def final_save(self, rng: np.random.Generator) -> int | None:
        """A final JPEG quality, or None for a lossless save."""
        if rng.random() < self.lossless_share:
            return None
        weights = np.array([band[2] for band in self.final_bands])
        low, high, _ = self.final_bands[int(rng.choice(len(weights), p=weights / weights.sum()))]
        return int(rng.integers(low, high + 1))


TRAINING_RECIPE = SplicingRecipe()


# What the generator did before issue 17: every addition of the widened recipe switched off.
# The ablation starts here and adds one group at a time (`RECIPE_ADDITIONS`).
NARROW_RECIPE = SplicingRecipe(
    first_qualities=(60, 95),
    final_bands=((70, 98, 1.0),),
    lossless_share=0.0,
    chroma_subsampling=(2,),
    saves_before_edit=(1, 1),
    resave_after_edit_share=0.0,
    resize_share=0.0,
    crop_share=0.0,
    area=(0.03, 0.2),
    shapes=("ellipse", "polygon", "blob"),
    rotate_share=0.0,
    donor_unsaved_share=0.0,
    edges=("hard",),
    recolour_share=0.0,
    noise_share=0.0,
)


RECIPE_ADDITIONS = {
    "qualities": ("first_qualities", "final_bands", "lossless_share", "chroma_subsampling"),
    "chains": ("saves_before_edit", "resave_after_edit_share"),
    "geometry": ("resize_share", "crop_share"),
    "regions": (
        "area", "shapes", "rotate_share", "donor_unsaved_share", "edges", "recolour_share", "noise_share",
    ),
}  # fmt: skip


def recipe_with(additions) -> SplicingRecipe:
    """The narrow recipe with the named groups of `RECIPE_ADDITIONS` widened."""
    unknown = set(additions) - set(RECIPE_ADDITIONS)
    if unknown:
        raise InvalidInputError(
            f"Unknown recipe additions {sorted(unknown)}; known: {sorted(RECIPE_ADDITIONS)}"
        )
    fields = [name for group in additions for name in RECIPE_ADDITIONS[group]]
    return replace(NARROW_RECIPE, **{name: getattr(TRAINING_RECIPE, name) for name in fields})


def _jpeg(image: Image.Image, quality: int, subsampling: int = 2) -> Image.Image:
    from training.forgery.ela import jpeg_roundtrip

    return jpeg_roundtrip(image, quality, subsampling)


def random_shape(
    size: tuple[int, int], area: float, rng: np.random.Generator, shapes=("ellipse", "polygon", "blob")
) -> np.ndarray:
    """A boolean mask of about `area` × the image: an ellipse, a polygon, a smooth blob or a
    rectangle."""
    width, height = size
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    radius_x = np.sqrt(area * width * height / np.pi) * rng.uniform(0.7, 1.4)
    radius_y = area * width * height / (np.pi * radius_x)
    centre_x = rng.uniform(radius_x, max(radius_x + 1, width - radius_x))
    centre_y = rng.uniform(radius_y, max(radius_y + 1, height - radius_y))
    kind = shapes[int(rng.integers(len(shapes)))]
    if kind == "ellipse":
        draw.ellipse(
            [centre_x - radius_x, centre_y - radius_y, centre_x + radius_x, centre_y + radius_y], 255
        )
    elif kind == "rectangle":  # the same area as the ellipse would have
        half_x, half_y = radius_x * np.sqrt(np.pi) / 2, radius_y * np.sqrt(np.pi) / 2
        draw.rectangle([centre_x - half_x, centre_y - half_y, centre_x + half_x, centre_y + half_y], 255)
    else:
        corners = int(rng.integers(5, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        stretch = rng.uniform(0.6, 1.3, corners) if kind == "polygon" else rng.uniform(0.85, 1.15, corners)
        points = [
            (centre_x + radius_x * s * np.cos(a), centre_y + radius_y * s * np.sin(a))
            for a, s in zip(angles, stretch, strict=True)
        ]
        draw.polygon(points, 255)
        if kind == "blob":
            canvas = canvas.filter(ImageFilter.GaussianBlur(float(min(radius_x, radius_y)) / 4))
    return np.asarray(canvas) > 127


def _donor_content(
    host: Image.Image, donor: Image.Image, recipe: SplicingRecipe, rng
) -> tuple[Image.Image, str]:
    """Where the pasted content comes from: the host itself (copy-move) or the donor photo,
    with a history of its own, maybe rescaled and rotated."""
    low, high = recipe.first_qualities
    if rng.random() < recipe.copy_move_share:
        source, operation = host, "copy-move"
    elif rng.random() < recipe.donor_unsaved_share:
        source, operation = donor.convert("RGB"), "splice"
    else:
        source, operation = _jpeg(donor.convert("RGB"), int(rng.integers(low, high + 1))), "splice"
    if rng.random() < recipe.rescale_share:
        factor = rng.uniform(0.6, 1.5)
        source = source.resize(
            (max(16, round(source.width * factor)), max(16, round(source.height * factor))),
            Image.Resampling.BICUBIC,
        )
    if rng.random() < recipe.rotate_share:
        source = source.rotate(float(rng.uniform(-30, 30)), Image.Resampling.BICUBIC, expand=False)
    return source, operation


def _adjusted(patch: np.ndarray, recipe: SplicingRecipe, rng) -> np.ndarray:
    """Pasted content recoloured or given noise, as a forger matching it to its new host."""
    values = patch.astype(np.float32)
    if rng.random() < recipe.recolour_share:
        values = values * rng.uniform(0.85, 1.15, 3) + rng.uniform(-15, 15, 3)
    if rng.random() < recipe.noise_share:
        values = values + rng.normal(0, rng.uniform(1, 4), values.shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def make_pair(host: Image.Image, donor: Image.Image, recipe: SplicingRecipe, rng: np.random.Generator):
    """(authentic, tampered, mask, details) before the saves that follow the edit: the host
    after its history (`host_history`), and the same host with a region from the donor
    (splice) or from itself (copy-move), pasted off the 8×8 grid with a hard, feathered or
    blurred edge."""
    host, history = host_history(host.convert("RGB"), recipe, rng)
    source, operation = _donor_content(host, donor, recipe, rng)
    mask = random_shape(host.size, rng.uniform(*recipe.area), rng, recipe.shapes)
    while mask.sum() < 64:
        mask = random_shape(host.size, recipe.area[1], rng, recipe.shapes)
    rows, columns = np.nonzero(mask)
    top, left = rows.min(), columns.min()
    box_height = min(rows.max() - top + 1, source.height)
    box_width = min(columns.max() - left + 1, source.width)
    # Where the pasted content comes from in the source; off-grid unless by chance.
    source_top = int(rng.integers(0, max(1, source.height - box_height)))
    source_left = int(rng.integers(0, max(1, source.width - box_width)))
    patch = np.asarray(source, dtype=np.uint8)[
        source_top : source_top + box_height, source_left : source_left + box_width
    ]
    patch = _adjusted(patch, recipe, rng)
    final_mask = np.zeros_like(mask)
    final_mask[top : top + box_height, left : left + box_width] = mask[
        top : top + box_height, left : left + box_width
    ]
    edge = recipe.edges[int(rng.integers(len(recipe.edges)))]
    pasted = np.array(host, dtype=np.uint8)
    pasted[top : top + box_height, left : left + box_width] = patch
    # How much of the pasted content each pixel takes: 1 inside, 0 outside, a ramp when feathered.
    alpha = final_mask.astype(np.float32)
    if edge == "feathered":
        alpha_image = Image.fromarray((alpha * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(float(rng.uniform(1, 4)))
        )
        alpha = np.asarray(alpha_image, dtype=np.float32) / 255
        final_mask = alpha > 0.5
    base = np.asarray(host, dtype=np.float32)
    tampered = np.rint(alpha[..., None] * pasted + (1 - alpha[..., None]) * base).astype(np.uint8)
    if edge == "blurred":  # a hard paste whose seam a forger then softens
        seam = (
            np.asarray(Image.fromarray(final_mask.astype(np.uint8) * 255).filter(ImageFilter.FIND_EDGES)) > 0
        )
        seam = np.asarray(Image.fromarray(seam.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))) > 0
        softened = np.asarray(Image.fromarray(tampered).filter(ImageFilter.GaussianBlur(1.5)))
        tampered[seam] = softened[seam]
        final_mask = final_mask | seam
    return host, Image.fromarray(tampered), final_mask, {**history, "operation": operation, "edge": edge}


RESAMPLING = (Image.Resampling.LANCZOS, Image.Resampling.BICUBIC, Image.Resampling.BILINEAR)


def _resized(image: Image.Image, factor: float, resample: Image.Resampling) -> Image.Image:
    size = (max(32, round(image.width * factor)), max(32, round(image.height * factor)))
    return image.resize(size, resample)


def _random_resampling(rng) -> Image.Resampling:
    return RESAMPLING[int(rng.integers(len(RESAMPLING)))]


def host_history(host: Image.Image, recipe: SplicingRecipe, rng) -> tuple[Image.Image, dict]:
    """What a photo went through before the forger had it: a camera save, maybe a resize or
    a crop off the 8×8 grid, then up to two more saves at other qualities (a photo from the
    web or a chat)."""
    low, high = recipe.first_qualities
    host = _jpeg(host, int(rng.integers(low, high + 1)))
    geometry = "none"
    roll = rng.random()
    if roll < recipe.resize_share:
        factor = rng.uniform(0.5, 0.9)
        geometry, host = "resized", _resized(host, factor, _random_resampling(rng))
    elif roll < recipe.resize_share + recipe.crop_share:
        geometry = "cropped"
        left, top = (int(value) for value in rng.integers(1, 8, 2))
        host = host.crop(
            (left, top, host.width - int(rng.integers(0, 8)), host.height - int(rng.integers(0, 8)))
        )
    saves = int(rng.integers(recipe.saves_before_edit[0], recipe.saves_before_edit[1] + 1))
    for _ in range(saves - 1):
        host = _jpeg(host, int(rng.integers(low, high + 1)), int(rng.choice(recipe.chroma_subsampling)))
    return host, {"geometry": geometry, "saves": saves}


def after_edit(
    authentic: Image.Image, tampered: Image.Image, mask: np.ndarray, recipe: SplicingRecipe, rng
) -> tuple[Image.Image, Image.Image, np.ndarray, dict]:
    """What happens to a photo between the edit and its final save (which the caller
    writes), to both photos of a pair alike: maybe a resize (stress test only), maybe one
    more save at another quality."""
    after = "final save only"
    if rng.random() < recipe.resize_after_edit_share:
        after = "resized"
        factor = rng.uniform(0.5, 0.9)
        resample = _random_resampling(rng)
        authentic, tampered = _resized(authentic, factor, resample), _resized(tampered, factor, resample)
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(authentic.size)) > 127
    if rng.random() < recipe.resave_after_edit_share:
        after = "re-saved" if after == "final save only" else f"{after}, re-saved"
        low, high = recipe.first_qualities
        quality, subsampling = int(rng.integers(low, high + 1)), int(rng.choice(recipe.chroma_subsampling))
        authentic, tampered = _jpeg(authentic, quality, subsampling), _jpeg(tampered, quality, subsampling)
    return authentic, tampered, mask, {"after_edit": after}


def save_final(image: Image.Image, path_stem: Path, quality: int | None, subsampling: int) -> Path:
    """The final save: JPEG at `quality`, or PNG when `quality` is None."""
    if quality is None:
        path = path_stem.with_suffix(".png")
        image.save(path, "PNG")
    else:
        path = path_stem.with_suffix(".jpg")
        image.save(path, "JPEG", quality=quality, subsampling=subsampling)
    return path


def open_photo(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGB")


def write_synthetic_set(
    photo_paths: list[Path],
    output: Path,
    pairs: int,
    recipe: SplicingRecipe,
    seed: int,
    bands: tuple | None = None,
    hosts: list[Path] | None = None,
) -> list[LabelledPhoto]:
    """`pairs` authentic/tampered pairs from `photo_paths` in `output/{Au,Sp,masks}`; both
    photos of a pair get the same history after the edit and the same final save. With
    `bands` (names from `BAND_NAMES`), pair i's final save is drawn from band i mod len(bands) (a held-out set
    balanced across bands) instead of the recipe's weights. `hosts` (default: the same
    photos) are the photos pasted into."""
    rng = np.random.default_rng(seed)
    hosts = hosts or photo_paths
    for folder in ("Au", "Sp", "masks"):
        (output / folder).mkdir(parents=True, exist_ok=True)
    photos = []
    for number in range(pairs):
        host_path = hosts[int(rng.integers(len(hosts)))]
        donor_path = photo_paths[int(rng.integers(len(photo_paths)))]
        while donor_path == host_path:
            donor_path = photo_paths[int(rng.integers(len(photo_paths)))]
        host, donor = open_photo(host_path), open_photo(donor_path)
        if rng.random() < 0.5:
            host = host.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        authentic, tampered, mask, details = make_pair(host, donor, recipe, rng)
        authentic, tampered, mask, history = after_edit(authentic, tampered, mask, recipe, rng)
        if bands is None:
            quality = recipe.final_save(rng)
        else:
            band = BAND_QUALITIES.get(bands[number % len(bands)])
            quality = None if band is None else int(rng.integers(band[0], band[1] + 1))
        subsampling = int(rng.choice(recipe.chroma_subsampling))
        name = f"{number:04d}_{host_path.stem}"
        authentic_path = save_final(authentic, output / "Au" / f"au_{name}", quality, subsampling)
        tampered_path = save_final(tampered, output / "Sp" / f"sp_{name}", quality, subsampling)
        mask_path = output / "masks" / f"sp_{name}_gt.png"
        Image.fromarray((mask * 255).astype(np.uint8)).save(mask_path)
        condition = {
            **details,
            **history,
            "final_quality": quality,
            "band": band_of(quality),
            "source": photo_source(host_path),
        }
        photos.append(LabelledPhoto(authentic_path, False, None, (host_path.stem,), condition))
        photos.append(LabelledPhoto(tampered_path, True, mask_path, (host_path.stem,), condition))
    return photos


def photo_source(path: Path) -> str:
    """Where a photo comes from, for figures per source: its folder, or the package it ships in."""
    packages = {"skimage": "scikit-image", "matplotlib": "matplotlib"}
    return next((name for folder, name in packages.items() if folder in path.parts), path.parent.name)


def split_photo_pool(photo_paths: list[Path], held_out_fraction: float, seed: int):
    """Photos for synthetic training data and photos kept for the generalisation test only."""
    order = np.random.default_rng(seed).permutation(len(photo_paths))
    held_out = int(round(held_out_fraction * len(photo_paths)))
    return [photo_paths[i] for i in sorted(order[held_out:])], [
        photo_paths[i] for i in sorted(order[:held_out])
    ]


OTHER_HISTORIES = ("resized, then saved", "cropped off the 8×8 grid, then saved", "saved twice")


def write_other_histories(
    photo_paths: list[Path], output: Path, count: int, seed: int, recipe: SplicingRecipe = TRAINING_RECIPE
) -> list[tuple[LabelledPhoto, str]]:
    """`count` untampered photos put through what happens to real photos before an analyst
    gets them (resized, cropped off the 8×8 grid, saved twice), each then given a final save
    drawn from `recipe`: authentic examples whose history is unlike both CASIA's and the
    spliced pairs'. Returns (photo, history) pairs."""
    rng = np.random.default_rng(seed)
    output.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(count):
        source = photo_paths[number % len(photo_paths)]
        history = OTHER_HISTORIES[number % len(OTHER_HISTORIES)]
        photo = open_photo(source)
        if history == OTHER_HISTORIES[0]:
            factor = rng.uniform(0.5, 0.9)
            photo = photo.resize(
                (round(photo.width * factor), round(photo.height * factor)), Image.Resampling.LANCZOS
            )
        elif history == OTHER_HISTORIES[1]:
            left, top = (int(value) for value in rng.integers(1, 8, 2))
            photo = photo.crop((left, top, photo.width - 8, photo.height - 8))
        else:
            photo = _jpeg(photo, int(rng.integers(70, 96)))
        quality = recipe.final_save(rng)
        path = save_final(
            photo,
            output / f"other_{number:04d}_{Path(source).stem}",
            quality,
            int(rng.choice(recipe.chroma_subsampling)),
        )
        condition = {
            "history": history,
            "final_quality": quality,
            "band": band_of(quality),
            "source": photo_source(Path(source)),
        }
        made.append((LabelledPhoto(path, False, None, (Path(source).stem,), condition), history))
    return made
