"""Clone (copy-move) detection on copy-move photos made from held-out BSDS500 photos, and how
often untouched photos show a match.

    python -m bench.forgery_clones [--photos 150] [--data-dir DIR]

The photos are the BSDS500 photos the Forgery model never trained on (`split_photo_pool`
with the training defaults: the same held-out 30 % as its generalisation test). Each gets
one forged copy: a region of 40-100 pixels copied elsewhere in the photo, a third as it is, a
third rescaled (0.8-1.25), a third rotated (10-350°), then saved at a JPEG quality drawn
from 70-95. Its untouched twin is saved at the same quality. Rendered street scenes (rows of
identical windows, flat skies) are added to the untouched photos. A forged photo counts as
found when a reported region's source or copy box overlaps the copied region. Goal (issue
20): ≥ 80 % found, ≤ 10 % of untouched photos with a match.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.digits_bench import table
from tests.helpers import copy_move, render_photo
from training import forgery
from training.core import paths
from training.forgery.clones import CloneSettings, detect_clones

RENDERED_SCENES = 10


def held_out_photos(data_dir) -> list[Path]:
    folder = paths.data_dir(data_dir) / "bsds500"
    photos = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
    defaults = forgery.ForgeryTrainingConfig()
    return forgery.split_photo_pool(photos, defaults.held_out_photo_fraction, defaults.seed)[1]


def saved(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


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


def found(detection, mask: Image.Image) -> bool:
    copied = np.asarray(mask) > 0
    for region in detection.regions:
        for left, top, right, bottom in (region.source, region.target):
            if copied[top:bottom, left:right].any():
                return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--data-dir", type=Path)
    arguments = parser.parse_args()
    generator = np.random.default_rng(20)
    settings = CloneSettings()
    kinds = ("plain", "rescaled", "rotated")
    hits: dict[str, list[bool]] = {kind: [] for kind in kinds}
    flagged: dict[str, list[bool]] = {"BSDS500 held out": [], "rendered scenes": []}
    seconds = []
    photos = held_out_photos(arguments.data_dir)[: arguments.photos]
    for index, path in enumerate(photos):
        photo = Image.open(path).convert("RGB")
        kind = kinds[index % len(kinds)]
        quality = int(generator.integers(70, 96))
        forged, mask = forged_twin(photo, kind, generator)
        started = time.perf_counter()
        hits[kind].append(found(detect_clones(saved(forged, quality), settings), mask))
        seconds.append(time.perf_counter() - started)
        flagged["BSDS500 held out"].append(bool(detect_clones(saved(photo, quality), settings).regions))
    for seed in range(RENDERED_SCENES):
        scene = saved(render_photo((960, 720), seed=100 + seed), int(generator.integers(70, 96)))
        flagged["rendered scenes"].append(bool(detect_clones(scene, settings).regions))
    rows = [(f"found: {kind}", str(len(hit)), f"{np.mean(hit):.1%}") for kind, hit in hits.items()]
    every_hit = [hit for kind_hits in hits.values() for hit in kind_hits]
    rows.append(("found: all copy-moves", str(len(every_hit)), f"{np.mean(every_hit):.1%}"))
    rows += [
        (f"untouched with a match: {name}", str(len(flags)), f"{np.mean(flags):.1%}")
        for name, flags in flagged.items()
    ]
    every_flag = [flag for flags in flagged.values() for flag in flags]
    rows.append(("untouched with a match: all", str(len(every_flag)), f"{np.mean(every_flag):.1%}"))
    table(
        f"Clone detection, {settings}; median {np.median(seconds):.2f} s per BSDS500 photo",
        ["set", "photos", "share"],
        rows,
    )


if __name__ == "__main__":
    main()
