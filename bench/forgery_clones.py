"""Clone (copy-move) detection on copy-move photos made from held-out BSDS500 photos, and how
often untouched photos show a match.

    python -m bench.forgery_clones [--photos 150] [--casia-photos 200] [--data-dir DIR]

The photos are the BSDS500 photos the Forgery model never trained on (`split_photo_pool`
with the training defaults: the same held-out 30 % as its generalisation test). Each gets
one forged copy: a region of 40-100 pixels copied elsewhere in the photo, a third as it is, a
third rescaled (0.8-1.25), a third rotated (10-350°), then saved at a JPEG quality drawn
from 70-95. Its untouched twin is saved at the same quality. Rendered street scenes (rows of
identical windows, flat skies) are added to the untouched photos. A forged photo counts as
found when a reported region's source or copy box overlaps the copied region. Goal (issue
20): ≥ 80 % found, ≤ 10 % of untouched photos with a match.

Figures per condition: the kind of copy, the JPEG quality band, the copy's size, how much
detail the copied region carries (a patch of flat sky copied onto flat sky leaves nothing to
match), whether the view itself dims most of the copy as too flat to check (and so says that
finding nothing there means little), and the first 60 photos (which the searches' settings
were chosen on, by eye, before the clone verifier existed) against the other 90. The clone verifier itself was
trained on other photos: BSDS500's training split and CASIA v1's `casia1`.

Copy-moves made by another procedure: CASIA v1's "Sp_S" photos, copied within the photo by
people (shapes: R rectangle, C circle, T triangle, A free-hand), with their masks, and its
authentic photos. `casia1` is where the verifier learnt from (a sample of --casia-photos of
each, the same seeded sample as training: figures on it are not held out); `casia1_test`
never was, and is reported whole.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.digits_bench import table
from tests.helpers import render_photo
from training.core import paths
from training.forgery.clone_training import (
    COPY_KINDS,
    bsds_photos,
    casia_copy_moves,
    casia_mask,
    forged_twin,
    saved,
)
from training.forgery.clones import CloneSettings, band_pass, detect_clones

RENDERED_SCENES = 10
TUNING_PHOTOS = 60  # the first photos, which the searches' settings were chosen on
FLAT_DETAIL = 4.0  # grey levels: the copied region's detail (band-pass spread) below this is flat
CASIA_SHAPES = {"R": "rectangle", "C": "circle", "T": "triangle", "A": "free-hand"}


def copied_detail(forged: Image.Image, mask: Image.Image) -> float:
    """The spread of the copy's detail (grey levels), away from its softened edge."""
    from scipy import ndimage

    inside = ndimage.binary_erosion(np.asarray(mask) > 0, iterations=4)
    detail = band_pass(np.asarray(forged.convert("L"), np.float32))
    return float(detail[inside].std()) if inside.any() else 0.0


def casia_rows(folder: Path, photos: int | None, settings: CloneSettings) -> list[tuple[str, str, str]]:
    forged, authentic = casia_copy_moves(folder, photos)
    if not forged or not authentic:
        raise SystemExit(f"No CASIA v1 copy-moves with masks or authentic photos in {folder}.")
    found_by: dict[str, list[bool]] = {}
    for path in forged:
        mask = casia_mask(path)
        hit = found(detect_clones(Image.open(path).convert("RGB"), settings), mask)
        for condition in (f"shape: {CASIA_SHAPES.get(path.stem.split('_')[3], 'other')}", "all copy-moves"):
            found_by.setdefault(condition, []).append(hit)
    flags = [bool(detect_clones(Image.open(path).convert("RGB"), settings).regions) for path in authentic]
    rows = [(f"found, {name}", str(len(hits)), share(hits)) for name, hits in sorted(found_by.items())]
    return [*rows, ("authentic with a match", str(len(flags)), share(flags))]


def flat_at_copy(detection, mask: Image.Image) -> float:
    """The share of the copy that the view dims as too flat to check."""
    height, width = detection.too_flat.shape
    copied = np.asarray(mask.resize((width, height), Image.Resampling.NEAREST)) > 0
    return float(detection.too_flat[copied].mean()) if copied.any() else 0.0


def found(detection, mask: Image.Image) -> bool:
    copied = np.asarray(mask) > 0
    for region in detection.regions:
        for left, top, right, bottom in (region.source, region.target):
            if copied[top:bottom, left:right].any():
                return True
    return False


def share(flags: list[bool]) -> str:
    return f"{np.mean(flags):.1%}" if flags else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument(
        "--casia-photos", type=int, default=200, help="of casia1's copy-moves and authentic photos"
    )
    parser.add_argument("--data-dir", type=Path)
    arguments = parser.parse_args()
    generator = np.random.default_rng(20)
    settings = CloneSettings()
    conditions: dict[str, list[bool]] = {}
    flagged: dict[str, list[bool]] = {}
    seconds = []
    photos = bsds_photos(paths.data_dir(arguments.data_dir), held_out=True)[: arguments.photos]
    for index, path in enumerate(photos):
        photo = Image.open(path).convert("RGB")
        kind = COPY_KINDS[index % len(COPY_KINDS)]
        quality = int(generator.integers(70, 96))
        forged, mask = forged_twin(photo, kind, generator)
        started = time.perf_counter()
        detection = detect_clones(saved(forged, quality), settings)
        hit = found(detection, mask)
        seconds.append(time.perf_counter() - started)
        untouched = bool(detect_clones(saved(photo, quality), settings).regions)
        band = "70-79" if quality < 80 else "80-89" if quality < 90 else "90-95"
        size = "copy < 2,000 px" if np.count_nonzero(np.asarray(mask)) < 2000 else "copy ≥ 2,000 px"
        split = "tuning photos (first 60)" if index < TUNING_PHOTOS else "other photos"
        detail = "flat copy" if copied_detail(forged, mask) < FLAT_DETAIL else "copy with detail"
        dimmed = (
            "copy mostly dimmed by the view (too flat to check)"
            if flat_at_copy(detection, mask) >= 0.5
            else "copy mostly where the view could check"
        )
        for condition in (f"kind: {kind}", f"quality {band}", size, detail, dimmed, split, "all copy-moves"):
            conditions.setdefault(condition, []).append(hit)
        for condition in (f"BSDS500 held out, {split}", "BSDS500 held out", "all untouched"):
            flagged.setdefault(condition, []).append(untouched)
    for seed in range(RENDERED_SCENES):
        scene = saved(render_photo((960, 720), seed=100 + seed), int(generator.integers(70, 96)))
        scene_flag = bool(detect_clones(scene, settings).regions)
        for condition in ("rendered street scenes", "all untouched"):
            flagged.setdefault(condition, []).append(scene_flag)
    rows = [(f"found, {name}", str(len(hits)), share(hits)) for name, hits in sorted(conditions.items())]
    rows += [
        (f"untouched with a match, {name}", str(len(flags)), share(flags)) for name, flags in flagged.items()
    ]
    table(
        f"Clone detection, {settings}; median {np.median(seconds):.2f} s per BSDS500 photo",
        ["set", "photos", "share"],
        rows,
    )
    data_dir = paths.data_dir(arguments.data_dir)
    for split, photos in (("casia1", arguments.casia_photos), ("casia1_test", None)):
        sample = f"a sample of {photos} of each" if photos else "all"
        table(
            f"CASIA v1 copy-moves made by people, {split} ({sample})",
            ["set", "photos", "share"],
            casia_rows(data_dir / split, photos, settings),
        )


if __name__ == "__main__":
    main()
