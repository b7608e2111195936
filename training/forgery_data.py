"""Forgery data: real/tampered folders, splits grouped by source image, the quality-matched
subset, and synthetic splices made from other photos.

CASIA names tell which authentic photos a tampered one was made from
(`Sp_D_CNN_A_ani0049_ani0084_0266.jpg`: host ani0049, donor ani0084; `Au_ani_0049.jpg` is the
host itself). Photos that share content form one group, and a split never puts one group on
both sides, or validation would score near-copies of training images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from training.errors import DatasetInvalidError
from training.images import IMAGE_SUFFIXES

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


# Synthetic tampering ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SplicingRecipe:
    """How synthetic pairs are made; the training and the held-out generalisation sets use
    different ranges, so the generalisation figure is not a replay of training conditions."""

    first_qualities: tuple[int, int] = (60, 95)  # the "camera" save of host and donor
    final_qualities: tuple[int, ...] = tuple(range(70, 99))  # both classes' last save
    area: tuple[float, float] = (0.03, 0.2)  # tampered share of the photo
    copy_move_share: float = 0.35
    rescale_share: float = 0.5

    def to_json(self) -> dict:
        return {
            "first_qualities": list(self.first_qualities),
            "final_qualities": list(self.final_qualities),
            "area": list(self.area),
            "copy_move_share": self.copy_move_share,
            "rescale_share": self.rescale_share,
        }


TRAINING_RECIPE = SplicingRecipe()
# Held-out photos, qualities CASIA does not use together: every pair ends at 85, 90 or 95 for
# both classes, so how a file was last saved says nothing about its class.
GENERALISATION_RECIPE = SplicingRecipe(first_qualities=(65, 90), final_qualities=(85, 90, 95))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    from training.forgery import jpeg_roundtrip

    return jpeg_roundtrip(image, quality)


def random_shape(size: tuple[int, int], area: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of about `area` × the image: an ellipse, a polygon or a smooth blob."""
    width, height = size
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    radius_x = np.sqrt(area * width * height / np.pi) * rng.uniform(0.7, 1.4)
    radius_y = area * width * height / (np.pi * radius_x)
    centre_x = rng.uniform(radius_x, max(radius_x + 1, width - radius_x))
    centre_y = rng.uniform(radius_y, max(radius_y + 1, height - radius_y))
    kind = rng.integers(3)
    if kind == 0:
        draw.ellipse(
            [centre_x - radius_x, centre_y - radius_y, centre_x + radius_x, centre_y + radius_y], 255
        )
    else:
        corners = int(rng.integers(5, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        stretch = rng.uniform(0.6, 1.3, corners) if kind == 1 else rng.uniform(0.85, 1.15, corners)
        points = [
            (centre_x + radius_x * s * np.cos(a), centre_y + radius_y * s * np.sin(a))
            for a, s in zip(angles, stretch, strict=True)
        ]
        draw.polygon(points, 255)
        if kind == 2:
            canvas = canvas.filter(ImageFilter.GaussianBlur(float(min(radius_x, radius_y)) / 4))
    return np.asarray(canvas) > 127


def make_pair(host: Image.Image, donor: Image.Image, recipe: SplicingRecipe, rng: np.random.Generator):
    """(authentic, tampered, mask) before the final save: the host after its first save, and
    the same host with a region from the donor (splice) or from itself (copy-move), taken
    from a differently compressed copy, maybe rescaled, pasted off the 8×8 grid."""
    low, high = recipe.first_qualities
    host = _jpeg(host.convert("RGB"), int(rng.integers(low, high + 1)))
    copy_move = rng.random() < recipe.copy_move_share
    source = host if copy_move else _jpeg(donor.convert("RGB"), int(rng.integers(low, high + 1)))
    if rng.random() < recipe.rescale_share:
        factor = rng.uniform(0.6, 1.5)
        source = source.resize(
            (max(16, round(source.width * factor)), max(16, round(source.height * factor))),
            Image.Resampling.BICUBIC,
        )
    mask = random_shape(host.size, rng.uniform(*recipe.area), rng)
    while mask.sum() < 64:
        mask = random_shape(host.size, recipe.area[1], rng)
    rows, columns = np.nonzero(mask)
    top, left = rows.min(), columns.min()
    box_height, box_width = rows.max() - top + 1, columns.max() - left + 1
    # Where the pasted content comes from in the source; off-grid unless by chance.
    source_top = int(rng.integers(0, max(1, source.height - box_height)))
    source_left = int(rng.integers(0, max(1, source.width - box_width)))
    patch = np.asarray(source, dtype=np.uint8)[
        source_top : source_top + box_height, source_left : source_left + box_width
    ]
    box_mask = mask[top : top + patch.shape[0], left : left + patch.shape[1]]
    box_mask = box_mask[: patch.shape[0], : patch.shape[1]]
    tampered = np.array(host, dtype=np.uint8)
    region = tampered[top : top + box_mask.shape[0], left : left + box_mask.shape[1]]
    region[box_mask] = patch[: box_mask.shape[0], : box_mask.shape[1]][box_mask]
    final_mask = np.zeros_like(mask)
    final_mask[top : top + box_mask.shape[0], left : left + box_mask.shape[1]] = box_mask
    return host, Image.fromarray(tampered), final_mask


def write_synthetic_set(
    photo_paths: list[Path], output: Path, pairs: int, recipe: SplicingRecipe, seed: int
) -> list[LabelledPhoto]:
    """`pairs` authentic/tampered pairs from `photo_paths` in `output/{Au,Sp,masks}`; both
    photos of a pair get the same final JPEG quality."""
    rng = np.random.default_rng(seed)
    for folder in ("Au", "Sp", "masks"):
        (output / folder).mkdir(parents=True, exist_ok=True)
    photos = []
    for number in range(pairs):
        host_index, donor_index = rng.choice(len(photo_paths), 2, replace=False)
        with Image.open(photo_paths[host_index]) as host, Image.open(photo_paths[donor_index]) as donor:
            host, donor = host.convert("RGB"), donor.convert("RGB")
        if rng.random() < 0.5:
            host = host.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        authentic, tampered, mask = make_pair(host, donor, recipe, rng)
        quality = int(rng.choice(recipe.final_qualities))
        name = f"{number:04d}_{Path(photo_paths[host_index]).stem}"
        authentic_path, tampered_path = output / "Au" / f"au_{name}.jpg", output / "Sp" / f"sp_{name}.jpg"
        mask_path = output / "masks" / f"sp_{name}_gt.png"
        authentic.save(authentic_path, "JPEG", quality=quality)
        tampered.save(tampered_path, "JPEG", quality=quality)
        Image.fromarray((mask * 255).astype(np.uint8)).save(mask_path)
        source = (Path(photo_paths[host_index]).stem,)
        photos.append(LabelledPhoto(authentic_path, False, None, source))
        photos.append(LabelledPhoto(tampered_path, True, mask_path, source))
    return photos


def split_photo_pool(photo_paths: list[Path], held_out_fraction: float, seed: int):
    """Photos for synthetic training data and photos kept for the generalisation test only."""
    order = np.random.default_rng(seed).permutation(len(photo_paths))
    held_out = int(round(held_out_fraction * len(photo_paths)))
    return [photo_paths[i] for i in sorted(order[held_out:])], [
        photo_paths[i] for i in sorted(order[:held_out])
    ]


OTHER_HISTORIES = ("resized, then saved", "cropped off the 8×8 grid, then saved", "saved twice")


def write_other_histories(
    photo_paths: list[Path], output: Path, count: int, seed: int
) -> list[tuple[LabelledPhoto, str]]:
    """`count` untampered photos put through what happens to real photos before an analyst
    gets them (resized, cropped off the 8×8 grid, saved twice), each then saved at quality
    75-95: authentic examples whose compression history is unlike both CASIA's and the
    spliced pairs'. Returns (photo, history) pairs."""
    rng = np.random.default_rng(seed)
    output.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(count):
        source = photo_paths[number % len(photo_paths)]
        history = OTHER_HISTORIES[number % len(OTHER_HISTORIES)]
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
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
        path = output / f"other_{number:04d}_{Path(source).stem}.jpg"
        photo.save(path, "JPEG", quality=int(rng.integers(75, 96)))
        made.append((LabelledPhoto(path, False, None, (Path(source).stem,)), history))
    return made
