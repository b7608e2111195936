"""Photos turned into network examples (block features and block targets), made on two threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from training.core.progress import CancelToken, Progress, ProgressCallback
from training.forgery.data import LabelledPhoto, read_mask
from training.forgery.ela import BLOCK, block_features, jpeg_roundtrip


@dataclass
class Example:
    """One photo as the network sees it: landscape block features and block targets."""

    features: np.ndarray  # (rows, columns, channels)
    block_target: np.ndarray  # (rows, columns) tampered share of each block
    block_weight: float  # 0 when the tampered region is unknown (no mask)
    tampered: bool
    path: str


def block_target(mask: np.ndarray, rows: int, columns: int) -> np.ndarray:
    block = BLOCK
    cut = mask[: rows * block, : columns * block].astype(np.float32)
    return cut.reshape(rows, block, columns, block).mean(axis=(1, 3))


def make_example(photo: LabelledPhoto, resave_quality: int | None = None) -> Example:
    from training.core import images

    image = images.to_rgb(images.open_image(photo.path))
    if resave_quality is not None:
        image = jpeg_roundtrip(image, resave_quality)
    features = block_features(image)
    rows, columns = features.shape[:2]
    if photo.mask is not None:
        target, weight = block_target(read_mask(photo.mask, image.size), rows, columns), 1.0
    else:
        target, weight = np.zeros((rows, columns), np.float32), 0.0 if photo.tampered else 1.0
    if rows > columns:
        features, target = features.transpose(1, 0, 2), target.T
    return Example(features, target, weight, photo.tampered, str(photo.path))


# Training batches need examples of one shape. Resized and cropped photos come in many sizes, so
# training maps are trimmed (bottom and right) to whole multiples of this many blocks: without
# it a widened recipe made hundreds of one-photo batches, which doubled the epoch time and
# left batch normalisation with single photos.
SHAPE_STEP = 4


def trimmed(example: Example) -> Example:
    rows, columns = (max(SHAPE_STEP, size // SHAPE_STEP * SHAPE_STEP) for size in example.features.shape[:2])
    return replace(
        example,
        features=example.features[:rows, :columns],
        block_target=example.block_target[:rows, :columns],
    )


def on_two_threads(work, jobs, report: ProgressCallback, cancel: CancelToken, stage: str) -> list:
    """`work(job)` for every job on two threads (PIL and NumPy release the GIL), in order,
    reporting progress and stopping when cancelled."""
    results = []
    with ThreadPoolExecutor(2) as pool:
        for number, result in enumerate(pool.map(work, jobs), start=1):
            cancel.raise_if_cancelled()
            results.append(result)
            if number % 50 == 0 or number == len(jobs):
                report(Progress(stage, number, len(jobs), f"{stage}: {number}/{len(jobs)} photos"))
    return results


def make_examples(jobs, report: ProgressCallback, cancel: CancelToken, stage: str) -> list[Example]:
    """`make_example(*job)` for every (photo, re-save quality) job."""
    return on_two_threads(lambda job: make_example(*job), jobs, report, cancel, stage)
