"""Training the clone verifier: the logistic regression that tells a copy from a natural
look-alike among the candidates `clones.candidate_copies` finds.

    python -m training clones [--photos 150] [--casia-photos 200] [--seed 0] [--models-dir models]

Copies come from two procedures, so that the verifier does not learn one generator's habits:
- copy-moves made here from BSDS500's training photos (never its held-out ones, which the
  bench tests on): one region of 40-100 px copied as is, rescaled 0.8-1.25 or rotated
  10-350°, with a soft elliptical edge, then saved at JPEG quality 70-95; and each photo's
  untouched twin saved at the same quality;
- CASIA v1's copy-moves made by people (`casia1/Sp/Sp_S_*` with a mask) and its authentic
  photos, a seeded sample of each (`casia1_test` is never read).
A candidate in a copy-move photo is a copy when its source or its copy lies on the copied
region; candidates elsewhere in those photos are left out (a mask does not say what they
are). Every candidate in an untouched photo is a look-alike. The threshold is the lowest at
which at most `max_flagged` of the training's untouched photos would show a match.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from training.core.errors import InvalidInputError
from training.forgery import clones
from training.forgery.data import split_photo_pool
from training.forgery.networks import ForgeryTrainingConfig

COPY_KINDS = ("plain", "rescaled", "rotated")
MIN_ON_COPY = 0.3  # of a candidate's source or copy pixels on the copied region: a copy
THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.01), 2)


@dataclass(frozen=True)
class CloneVerifierConfig:
    photos: int = 150  # BSDS500 training photos, each made into a copy-move and kept untouched
    casia_photos: int = 200  # of CASIA v1's copy-moves with a mask, and as many authentic photos
    regularisation: float = 1.0  # the logistic regression's C
    max_flagged: float = 0.05  # share of the training's untouched photos allowed a match
    seed: int = 0

    def __post_init__(self) -> None:
        if self.photos < 3 or self.casia_photos < 0:
            raise InvalidInputError("Clone verifier training needs at least 3 BSDS500 photos.")
        if not 0 < self.max_flagged < 1 or self.regularisation <= 0:
            raise InvalidInputError("max_flagged must lie between 0 and 1 and regularisation be positive.")


def copy_move(photo: Image.Image, box, to, scale: float = 1.0, rotation: float = 0.0):
    """The photo with the region `box` (left, top, right, bottom) copied onto itself at `to`
    (the copy's top left), first rescaled by `scale` and rotated by `rotation` degrees; an
    elliptical mask with softened edges, as a retoucher's clone brush leaves. Returns the
    forged photo and the mask of the copy (white = copied)."""
    region = photo.crop(box)
    if scale != 1.0:
        region = region.resize(
            (max(1, round(region.width * scale)), max(1, round(region.height * scale))),
            Image.Resampling.BICUBIC,
        )
    if rotation:
        region = region.rotate(rotation, Image.Resampling.BICUBIC)
    shape = Image.new("L", region.size, 0)
    inset = max(2, min(region.size) // 10)
    ImageDraw.Draw(shape).ellipse((inset, inset, region.width - inset, region.height - inset), fill=255)
    return pasted_softly(photo, region, to, shape)


def pasted_softly(photo: Image.Image, region: Image.Image, to, shape: Image.Image):
    """`photo` with `region` pasted at `to` through `shape` (white = pasted) with its edges
    softened, and the mask of where it landed."""
    shape = shape.filter(ImageFilter.GaussianBlur(2))
    forged = photo.copy()
    forged.paste(region, to, shape)
    mask = Image.new("L", photo.size, 0)
    mask.paste(shape.point(lambda value: 255 if value >= 128 else 0), to)
    return forged, mask


def forged_twin(photo: Image.Image, kind: str, generator: np.random.Generator):
    """A copy-move forgery of `photo` of the given kind: (forged photo, mask of the copy)."""
    side = int(generator.integers(40, 101))
    width, height = int(side * generator.uniform(0.8, 1.25)), side
    scale = float(generator.uniform(0.8, 1.25)) if kind == "rescaled" else 1.0
    rotation = float(generator.uniform(10, 350)) if kind == "rotated" else 0.0
    for _ in range(200):  # a copy that lands clear of its source
        left = int(generator.integers(0, photo.width - width))
        top = int(generator.integers(0, photo.height - height))
        to = (
            int(generator.integers(0, photo.width - round(width * scale))),
            int(generator.integers(0, photo.height - round(height * scale))),
        )
        if abs(to[0] - left) > width or abs(to[1] - top) > height:
            break
    return copy_move(photo, (left, top, left + width, top + height), to, scale, rotation)


def saved(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def bsds_photos(data_dir: Path, held_out: bool) -> list[Path]:
    """BSDS500's photos the Forgery model trains on, or (`held_out`) those it never saw."""
    folder = data_dir / "bsds500"
    photos = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
    defaults = ForgeryTrainingConfig()
    return split_photo_pool(photos, defaults.held_out_photo_fraction, defaults.seed)[1 if held_out else 0]


def casia_copy_moves(folder: Path, photos: int | None, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(CASIA v1 copy-move photos with a mask, authentic photos) in `folder`, a seeded sample of
    `photos` of each, or all of them."""
    forged = sorted(path for path in (folder / "Sp").glob("Sp_S_*.jpg") if casia_mask_path(path).exists())
    authentic = sorted((folder / "Au").glob("*.jpg"))
    if photos is not None:
        generator = np.random.default_rng(seed)
        forged = [forged[i] for i in sorted(generator.permutation(len(forged))[:photos])]
        authentic = [authentic[i] for i in sorted(generator.permutation(len(authentic))[:photos])]
    return forged, authentic


def casia_mask_path(photo: Path) -> Path:
    return photo.parent.parent / "masks" / f"{photo.stem}_gt.png"


def casia_mask(photo: Path) -> Image.Image:
    return Image.open(casia_mask_path(photo)).convert("L").point(lambda value: 255 * (value > 127))


@dataclass(frozen=True)
class TrainingPhoto:
    """One photo the verifier learns from: where it comes from, and the mask of its copy
    (None for an untouched photo)."""

    source: str  # "bsds500" or "casia1"
    name: str
    load: Callable[[], tuple[Image.Image, Image.Image | None]]


def training_photos(data_dir: Path, config: CloneVerifierConfig) -> list[TrainingPhoto]:
    generator = np.random.default_rng(config.seed)
    photos = []
    for index, path in enumerate(bsds_photos(data_dir, held_out=False)[: config.photos]):
        kind = COPY_KINDS[index % len(COPY_KINDS)]
        quality = int(generator.integers(70, 96))
        twin_seed = int(generator.integers(2**31))
        photos.append(
            TrainingPhoto("bsds500", f"{path.name} {kind}", _BsdsTwin(path, kind, quality, twin_seed, True))
        )
        photos.append(TrainingPhoto("bsds500", path.name, _BsdsTwin(path, kind, quality, twin_seed, False)))
    if config.casia_photos:
        forged, authentic = casia_copy_moves(data_dir / "casia1", config.casia_photos, config.seed)
        photos += [TrainingPhoto("casia1", path.name, _CasiaPhoto(path, True)) for path in forged]
        photos += [TrainingPhoto("casia1", path.name, _CasiaPhoto(path, False)) for path in authentic]
    return photos


@dataclass(frozen=True)
class _BsdsTwin:
    path: Path
    kind: str
    quality: int
    seed: int
    forged: bool

    def __call__(self):
        photo = Image.open(self.path).convert("RGB")
        forged, mask = forged_twin(photo, self.kind, np.random.default_rng(self.seed))
        return (saved(forged, self.quality), mask) if self.forged else (saved(photo, self.quality), None)


@dataclass(frozen=True)
class _CasiaPhoto:
    path: Path
    forged: bool

    def __call__(self):
        return Image.open(self.path).convert("RGB"), casia_mask(self.path) if self.forged else None


def labelled_figures(photo: TrainingPhoto) -> tuple[np.ndarray, np.ndarray]:
    """The figures of one photo's candidates and their labels (1 copy, 0 look-alike); in a
    copy-move photo, only the candidates on its copy."""
    image, mask = photo.load()
    search = clones.candidate_copies(image)
    candidates, scale = search.candidates, search.scale
    copied = np.asarray(mask) > 0 if mask is not None else None
    figures, labels = [], []
    for candidate in candidates:
        if copied is not None:
            on_copy = max(
                _share_inside(points / scale, copied)
                for points in (candidate.evidence.source_pixels, candidate.target_pixels)
            )
            if on_copy < MIN_ON_COPY:
                continue
        figures.append(candidate.figures())
        labels.append(int(mask is not None))
    return np.array(figures).reshape(-1, len(clones.VERIFIER_FEATURES)), np.array(labels, np.int64)


def _share_inside(points: np.ndarray, mask: np.ndarray) -> float:
    rows = np.clip(np.round(points[:, 0]).astype(int), 0, mask.shape[0] - 1)
    columns = np.clip(np.round(points[:, 1]).astype(int), 0, mask.shape[1] - 1)
    return float(mask[rows, columns].mean())


def fingerprint(photos: list[TrainingPhoto], data_dir: Path) -> str:
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(f"{photo.source}/{photo.name};".encode())
    for path in sorted({photo.load.path for photo in photos}):
        digest.update(path.relative_to(data_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def train_clone_verifier(
    data_dir: Path, config: CloneVerifierConfig = CloneVerifierConfig(), report: Callable[[str], None] = print
) -> tuple[clones.CloneVerifier, dict]:
    """The verifier, and its manifest record (data, seed, settings, versions, figures)."""
    import scipy
    import sklearn
    from sklearn.linear_model import LogisticRegression

    started = time.monotonic()
    photos = training_photos(data_dir, config)
    if not any(photo.source == "bsds500" for photo in photos):
        raise InvalidInputError(f"No BSDS500 photos in {data_dir / 'bsds500'}.")
    workers = max(1, min(2, os.cpu_count() or 1))
    per_photo = []
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        for done, result in enumerate(pool.map(labelled_figures, photos, chunksize=4), start=1):
            per_photo.append(result)
            if done % 20 == 0 or done == len(photos):
                report(f"candidates measured in {done}/{len(photos)} photos")
    figures = np.concatenate([photo_figures for photo_figures, _ in per_photo])
    labels = np.concatenate([photo_labels for _, photo_labels in per_photo])
    if len(set(labels.tolist())) < 2:
        raise InvalidInputError("The training photos gave only one kind of candidate; use more photos.")
    mean, spread = figures.mean(axis=0), figures.std(axis=0)
    spread = np.where(spread > 1e-9, spread, 1.0)
    model = LogisticRegression(C=config.regularisation, max_iter=5000)
    model.fit((figures - mean) / spread, labels)
    verifier = clones.CloneVerifier(mean, spread, model.coef_[0].copy(), float(model.intercept_[0]), 0.5)
    # The lowest threshold at which few enough untouched training photos show a match.
    best = [
        verifier.probability(photo_figures).max() if len(photo_figures) else 0.0
        for photo_figures, _ in per_photo
    ]
    untouched = np.array([not photo.load.forged for photo in photos])
    found_copy = [
        verifier.probability(photo_figures[photo_labels == 1]).max() if (photo_labels == 1).any() else 0.0
        for photo_figures, photo_labels in per_photo
    ]
    best, found_copy = np.array(best), np.array(found_copy)
    threshold = next(
        (float(value) for value in THRESHOLDS if (best[untouched] >= value).mean() <= config.max_flagged),
        float(THRESHOLDS[-1]),
    )
    verifier = replace(verifier, threshold=threshold)
    metrics = {}
    for source in ("bsds500", "casia1"):
        of_source = np.array([photo.source == source for photo in photos])
        if of_source.any():
            metrics[source] = {
                "copy_moves": int((of_source & ~untouched).sum()),
                "copies_found": round(float((found_copy[of_source & ~untouched] >= threshold).mean()), 4),
                "untouched": int((of_source & untouched).sum()),
                "untouched_with_a_match": round(float((best[of_source & untouched] >= threshold).mean()), 4),
            }
    record = {
        "tool": "forgery",
        "description": "Clone verifier: logistic regression telling copies from natural look-alikes",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "data": {
            "datasets": "bsds500 (training split), casia1 (Sp_S with masks, Au)",
            "fingerprint": fingerprint(photos, data_dir),
            "photos": len(photos),
            "candidates": int(len(labels)),
            "copies": int(labels.sum()),
        },
        "seed": config.seed,
        "hyper_parameters": asdict(config),
        "features": list(clones.VERIFIER_FEATURES),
        "threshold": threshold,
        "threshold_rule": f"lowest with at most {config.max_flagged:.0%} of the training's untouched photos matched",
        "library_versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "pillow": Image.__version__,
        },
        "metrics": {"training": metrics},
        "weights_fingerprint": "sha256:"
        + hashlib.sha256(json.dumps(verifier.to_json(), sort_keys=True).encode()).hexdigest(),
        "training_seconds": round(time.monotonic() - started, 1),
    }
    return verifier, record


def write_verifier(verifier: clones.CloneVerifier, path: Path) -> None:
    path.write_text(json.dumps(verifier.to_json(), indent=2) + "\n", encoding="utf-8")
