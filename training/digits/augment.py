"""Seeded random affine warps of image batches in NumPy.

Done outside the TensorFlow graph so an epoch's augmentation is a pure function of
(seed, epoch, batch): training is reproducible whatever the threading, and the same warp
builds the rotated evaluation set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AffineRanges:
    """Uniform ranges of the random warp; `upright_fraction` of the images get at most
    `upright_rotation_degrees`, the rest up to `rotation_degrees`."""

    rotation_degrees: float = 90.0
    shift_fraction: float = 0.08
    zoom_fraction: float = 0.08
    upright_fraction: float = 0.0
    upright_rotation_degrees: float = 15.0


def warp_images(
    images: np.ndarray,
    angles_degrees: np.ndarray,
    shifts: np.ndarray | None = None,
    zooms: np.ndarray | None = None,
) -> np.ndarray:
    """Rotate (clockwise as displayed), zoom and shift each square image about its centre.

    `images` is (N, H, W) in any numeric dtype; the result is float32 in the input's value
    range, bilinear, with zeros shifted in from outside.
    """
    count, height, width = images.shape
    shifts = np.zeros((count, 2), np.float32) if shifts is None else shifts
    zooms = np.ones(count, np.float32) if zooms is None else zooms
    radians = np.deg2rad(angles_degrees).astype(np.float32)
    cosine, sine = np.cos(radians), np.sin(radians)
    centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    # Inverse mapping: for every output pixel, where to sample in the input.
    offset_y = grid_y.ravel()[None, :] - centre_y - shifts[:, 0:1]
    offset_x = grid_x.ravel()[None, :] - centre_x - shifts[:, 1:2]
    inverse_zoom = (1.0 / zooms)[:, None]
    source_y = (cosine[:, None] * offset_y - sine[:, None] * offset_x) * inverse_zoom + centre_y
    source_x = (sine[:, None] * offset_y + cosine[:, None] * offset_x) * inverse_zoom + centre_x
    padded = np.pad(images.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    source_y = np.clip(source_y + 1.0, 0.0, height + 0.999)
    source_x = np.clip(source_x + 1.0, 0.0, width + 0.999)
    top, left = np.floor(source_y).astype(np.int32), np.floor(source_x).astype(np.int32)
    weight_y = source_y - top.astype(np.float32)
    weight_x = source_x - left.astype(np.float32)
    bottom, right = np.minimum(top + 1, height + 1), np.minimum(left + 1, width + 1)
    flat = padded.reshape(count, -1)
    row = width + 2

    def sample(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return np.take_along_axis(flat, rows * row + columns, axis=1)

    warped = (
        sample(top, left) * (1 - weight_y) * (1 - weight_x)
        + sample(top, right) * (1 - weight_y) * weight_x
        + sample(bottom, left) * weight_y * (1 - weight_x)
        + sample(bottom, right) * weight_y * weight_x
    )
    return warped.reshape(count, height, width)


def random_affine(images: np.ndarray, ranges: AffineRanges, generator: np.random.Generator) -> np.ndarray:
    count, height, _ = images.shape
    limits = np.where(
        generator.random(count) < ranges.upright_fraction,
        ranges.upright_rotation_degrees,
        ranges.rotation_degrees,
    )
    angles = generator.uniform(-1.0, 1.0, count) * limits
    shifts = generator.uniform(-1.0, 1.0, (count, 2)) * ranges.shift_fraction * height
    zooms = 1.0 + generator.uniform(-1.0, 1.0, count) * ranges.zoom_fraction
    return warp_images(images, angles, shifts.astype(np.float32), zooms.astype(np.float32))


def rotated_copy(images: np.ndarray, max_degrees: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation set 'rotated by a seeded uniform angle in [-max, max]': (images, angles)."""
    angles = np.random.default_rng(seed).uniform(-max_degrees, max_degrees, len(images))
    return warp_images(images, angles), angles
