"""Clone (copy-move) detection in NumPy and SciPy: parts of a photo copied elsewhere in the
same photo, also when rotated or rescaled.

Two searches propose look-alike pairs, and each pair set is grouped into copies separately:
- sparse: every few pixels of a working copy, the luminance is sampled on rings around the
  point; per ring the mean and the magnitudes of the first two angular Fourier terms do not
  change when the patch is rotated, and sampling the rings at other radii finds a rescaled
  copy. A point's nearest look-alike is kept only when it is clearly nearer than the next
  candidate (repeated textures have many equally good look-alikes, a copy has one).
- dense (after Cozzolino, Poggi and Verdoliva, "Efficient dense-field copy-move forgery
  detection", 2015): rotation-invariant ring moments at every pixel (FFT convolutions, with
  the neighbouring rings' relative phase, which a rotation keeps), each point's look-alike
  refined to the pixel by PatchMatch, and kept where the neighbours' look-alikes lie as a
  rotation would carry them. It finds small and plain copies the sparse grid misses.
Candidate copies are sets of pairs that one rotation, scaling and shift explain: found by
RANSAC over each search's pairs, and, for turned copies, grown as connected patches of the
dense field. Each is measured pixel by pixel (how well its detail lines up at the transform,
a few pixels beside it, the other way round, at a fraction of its shift), and the clone
verifier, a logistic regression trained by `python -m training clones` and shipped as JSON
under models/, gives the probability that it is a copy rather than a natural look-alike.
OpenCV's keypoints do the search's job too but would add about 150 MB installed and, tried
on the first 60 bench photos (SIFT, g2NN matching), found 38 % of the copies alone: this adds nothing to
the executable.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from training.core.errors import InvalidInputError, ModelIntegrityError

WORK_SIDES = (768, 1024, 1536)
RING_RADII = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0], np.float32)  # working-copy pixels
RING_ANGLES = 16
# Radii scalings tried for a rescaled copy: a copy rescaled by f matches at the scaling
# nearest f; 0.8-1.25 also covers the steps in between (ring features blur over ±10 %).
RADIUS_SCALINGS = (1.0, 0.8, 1.25)
STRIDE = 3  # working-copy pixels between sampled points
MIN_TEXTURE = 3.0  # grey levels (standard deviation over a point's rings): flatter is not matched
MAX_FEATURE_DISTANCE = 0.4  # over all the features, relative to contrast: farther is no look-alike
CONTRAST_FLOOR = 10.0  # grey levels added to a patch's contrast before dividing by it
INLIER_PIXELS = 3.0  # how far (working-copy pixels) a match may be from the transform's prediction
MIN_SHIFT = 2 * RING_RADII[-1]  # a look-alike this close is the same patch, not a copy
MAX_REGIONS = 6  # candidate transforms checked pixel by pixel
RANSAC_HYPOTHESES = 400
LOCAL_SAMPLE = 16  # a hypothesis' other two matches are among the first one's nearest
NEIGHBOURS = 12  # look-alikes searched per point (its own neighbours in the photo among them)
# The k-d tree may answer look-alikes up to (1 + this) times farther than the nearest, as
# approximate search does for SIFT matching: twice as fast in the rings' 19 dimensions, and
# a copy's look-alike, far nearer than any other, is found all the same.
APPROXIMATE_SEARCH = 0.5


@dataclass(frozen=True)
class CloneSettings:
    work_side: int = 768  # longest side of the working copy the photo is matched on
    ratio: float = 0.7  # a match's look-alike distance at most this share of the next one's
    min_matches: int = 10  # matches one transform must explain for a region to count
    # How sure the clone verifier must be that a region is a copy; None: its own threshold.
    # Lower shows weaker candidates (more natural look-alikes among them), higher only the surest.
    min_probability: float | None = None

    def __post_init__(self) -> None:
        if self.work_side not in WORK_SIDES:
            raise InvalidInputError(f"Clone working size must be one of {WORK_SIDES}, got {self.work_side}.")
        if not 0.3 <= self.ratio <= 0.9:
            raise InvalidInputError(f"Clone match ratio must be 0.3-0.9, got {self.ratio}.")
        if not 5 <= self.min_matches <= 200:
            raise InvalidInputError(f"Clone minimum matches must be 5-200, got {self.min_matches}.")
        if self.min_probability is not None and not 0.05 <= self.min_probability <= 0.99:
            raise InvalidInputError(
                f"Clone minimum probability must be 0.05-0.99, got {self.min_probability}."
            )


@dataclass(frozen=True)
class ClonedRegion:
    """One region found twice: its box where it came from and where it went (native
    pixels, left, top, right, bottom), the matches behind it, and the copy's transform."""

    source: tuple[int, int, int, int]
    target: tuple[int, int, int, int]
    matches: int
    scale: float
    rotation_degrees: float
    probability: float  # the clone verifier's, that this is a copy and not a natural look-alike

    def same_copy(self, other: ClonedRegion) -> bool:
        """Whether `other` is this copy again (found by the other search, or either way round)."""

        def overlap(first, second) -> bool:
            return (
                first[0] < second[2]
                and second[0] < first[2]
                and first[1] < second[3]
                and second[1] < first[3]
            )

        return (overlap(self.source, other.source) and overlap(self.target, other.target)) or (
            overlap(self.source, other.target) and overlap(self.target, other.source)
        )

    def to_json(self) -> dict:
        return {
            "source": list(self.source),
            "target": list(self.target),
            "matches": self.matches,
            "scale": round(self.scale, 3),
            "rotation_degrees": round(self.rotation_degrees, 1),
            "probability": round(self.probability, 3),
        }


@dataclass(frozen=True)
class CloneDetection:
    settings: CloneSettings
    regions: list[ClonedRegion]
    candidate_matches: int  # look-alike pairs before the transforms were fitted
    suspect: np.ndarray  # bool per 8×8 block of the working copy: in a copied region
    # Bool per working-copy pixel: too flat for the dense rings to match (clear sky, a smooth
    # wall; the sparse rings reach wider but seldom find more there). A copy there, sky onto
    # sky, cannot show, so "no copy found" says little about it.
    too_flat: np.ndarray
    image: Image.Image | None = None  # flat parts dimmed, regions outlined and linked

    @property
    def flat_share(self) -> float:
        return float(self.too_flat.mean())

    def to_json(self) -> dict:
        return {
            "regions_found": len(self.regions),
            "regions": [region.to_json() for region in self.regions],
            "candidate_matches": self.candidate_matches,
            "flat_share": round(self.flat_share, 3),
        }


def working_luminance(rgb: Image.Image, side: int) -> tuple[np.ndarray, float]:
    """The photo's luminance at most `side` pixels long, and the scale from native pixels to it."""
    scale = min(1.0, side / max(rgb.size))
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    small = rgb if size == rgb.size else rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small.convert("L"), np.float32), scale


def band_pass(luminance: np.ndarray) -> np.ndarray:
    """Detail between fine noise and shading: what a copy repeats and a look-alike does not."""
    from scipy import ndimage

    return ndimage.gaussian_filter(luminance, 0.7) - ndimage.gaussian_filter(luminance, 3.0)


# The check of a candidate copy, pixel by pixel: the detail of the source region against the
# detail where the transform puts it, as a local normalised correlation over VERIFY_WINDOW².
# The gates below only discard what cannot be a copy; whether the rest is one is the clone
# verifier's call, on the figures `copy_evidence` measures.
VERIFY_WINDOW = 9
VERIFY_CORRELATION = 0.5
MIN_DETAIL_VARIANCE = 0.5  # grey levels²: flatter detail (clipped sky) says nothing
MIN_VERIFIED_SHARE = 0.3  # of a group's matched points where the correlation holds
MIN_VERIFIED_AREA = 200  # working-copy pixels
MIN_LINED_UP = 0.65  # mean correlation over the region: below it nothing is asked of the verifier
PEAK_STEPS = ((3, 0), (-3, 0), (0, 3), (0, -3))
# Fractions of a shift at which a periodic pattern lines up too (each once: 2/4 is 1/2).
PERIOD_FRACTIONS = tuple(sorted({part / parts for parts in range(2, 6) for part in range(1, parts)}))
# A region that lines up over most of itself at a fraction of its shift is a periodic pattern
# whatever else it shows: no copy's shift lands on the same content twice. (Left to the
# verifier alone, a perfectly tiled wall scored 0.93: nothing so regular was among the
# photos it learnt from, and a linear model extrapolates.)
MAX_PERIOD_SHARE = 0.5


@dataclass(frozen=True)
class CopyEvidence:
    """A candidate copy checked pixel by pixel: its source pixels (rows, columns in the working
    copy) where the detail lines up, and the figures the clone verifier weighs."""

    source_pixels: np.ndarray
    lined_up: float  # mean local correlation over the region at the transform
    beside: float  # the same a few pixels beside it, the best of four ways (a stripe or an edge)
    beside_least: float  # ... and the worst of four ways
    echo: float  # share of the region that also lines up the other way (a repeat)
    period: float  # the largest share lined up at a fraction of the shift (a periodic pattern)


def copy_evidence(detail: np.ndarray, affine: np.ndarray, sources: np.ndarray) -> CopyEvidence | None:
    """The candidate copy `affine` makes of the matched `sources`, measured densely; None when
    too little of it lines up to be one, or it is a periodic pattern."""
    from scipy import ndimage

    pad = int(RING_RADII[-1]) + VERIFY_WINDOW
    top, left = np.maximum(sources.min(axis=0).astype(int) - pad, 0)
    bottom, right = np.minimum(sources.max(axis=0).astype(int) + pad + 1, detail.shape)
    rows, columns = np.mgrid[top:bottom, left:right].astype(np.float32)
    homogeneous = np.stack([rows, columns, np.ones_like(rows)], axis=-1)
    moved = homogeneous @ affine
    here = detail[top:bottom, left:right]

    def local_mean(values):
        return ndimage.uniform_filter(values, VERIFY_WINDOW)

    mean_here = local_mean(here)
    variance_here = local_mean(here * here) - mean_here**2

    def correlation_with(
        shift_rows: float, shift_columns: float, places: np.ndarray | None = None
    ) -> np.ndarray:
        places = moved if places is None else places
        there = ndimage.map_coordinates(
            detail, [places[..., 0] + shift_rows, places[..., 1] + shift_columns], order=1, mode="constant"
        )
        mean_there = local_mean(there)
        variance_there = local_mean(there * there) - mean_there**2
        covariance = local_mean(here * there) - mean_here * mean_there
        detailed = (variance_here > MIN_DETAIL_VARIANCE) & (variance_there > MIN_DETAIL_VARIANCE)
        return np.where(detailed, covariance / np.sqrt(np.maximum(variance_here * variance_there, 1e-6)), 0)

    correlation = correlation_with(0, 0)
    confirmed = correlation >= VERIFY_CORRELATION
    if confirmed.sum() < MIN_VERIFIED_AREA:
        return None
    # The confirmed pixels connected to the matched points (not a look-alike beside them).
    point_rows, point_columns = sources[:, 0].astype(int) - top, sources[:, 1].astype(int) - left
    labels, _ = ndimage.label(confirmed)
    kept = np.unique(labels[point_rows, point_columns])
    region = np.isin(labels, kept[kept > 0])
    if region.sum() < MIN_VERIFIED_AREA or region[point_rows, point_columns].mean() < MIN_VERIFIED_SHARE:
        return None
    lined_up = float(correlation[region].mean())
    if lined_up < MIN_LINED_UP:
        return None
    region_rows, region_columns = np.nonzero(region)
    source_pixels = np.stack([region_rows + top, region_columns + left], axis=1).astype(np.float32)
    # The figures below read the region's pixels only: measured from here on over the box
    # around the region and the window's reach, not around every matched point.
    near = (
        slice(max(region_rows.min() - VERIFY_WINDOW, 0), region_rows.max() + VERIFY_WINDOW + 1),
        slice(max(region_columns.min() - VERIFY_WINDOW, 0), region_columns.max() + VERIFY_WINDOW + 1),
    )
    here, mean_here, variance_here = here[near], mean_here[near], variance_here[near]
    homogeneous, moved, region = homogeneous[near], moved[near], region[near]

    def share_lined_up(*shift: float, places: np.ndarray | None = None) -> float:
        return float((correlation_with(*shift, places)[region] >= VERIFY_CORRELATION).mean())

    # A periodic pattern (rows of windows) shifted by a whole number of periods also lines up
    # at the shift's fractions (one period, two...); a copy's shift lands on other content.
    # The region's mean displacement is its shift, for every transform: a fit on a few
    # look-alikes in a repeating pattern (a facade, a tiled floor in perspective) carries a
    # slight turn or scaling.
    shift = (moved[..., :2] - homogeneous[..., :2])[region].mean(axis=0)
    period = 0.0
    for fraction in PERIOD_FRACTIONS:
        if np.hypot(*(shift * fraction)) >= MIN_SHIFT:
            period = max(period, share_lined_up(*(shift * (fraction - 1))))  # from the copy back
            if period >= MAX_PERIOD_SHARE:
                return None
    # A copy lines up at its transform only: moved a few pixels any way, its detail no longer
    # does. A straight edge or a stripe still lines up when moved along itself.
    besides = [float(correlation_with(*step)[region].mean()) for step in PEAK_STEPS]
    # A repeated pattern (a row of windows, tiles) lines up with the next repeat the other
    # way too; a copy's source does not line up with what lies the other way from it.
    square = np.vstack([affine.T, [0, 0, 1]])  # (3, 3): [rows, columns, 1] → moved, as columns
    echo = share_lined_up(0, 0, places=homogeneous @ np.linalg.inv(square).T[:, :2])
    return CopyEvidence(
        source_pixels,
        lined_up,
        max(besides),
        min(besides),
        echo,
        period,
    )


def ring_features(
    luminance: np.ndarray, centres: np.ndarray, radius_scaling: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-invariant features of the patches at `centres` ((N, 2) rows, columns): per
    ring the mean and |first| and |second| angular Fourier terms, and the centre's value;
    and each patch's texture (standard deviation over its samples)."""
    from scipy import ndimage

    angles = np.linspace(0, 2 * np.pi, RING_ANGLES, endpoint=False, dtype=np.float32)
    radii = RING_RADII * radius_scaling
    offset_rows = radii[:, None] * np.sin(angles)[None, :]
    offset_columns = radii[:, None] * np.cos(angles)[None, :]
    rows = centres[:, 0, None, None] + offset_rows[None]
    columns = centres[:, 1, None, None] + offset_columns[None]
    samples = ndimage.map_coordinates(luminance, [rows.ravel(), columns.ravel()], order=1, mode="nearest")
    samples = samples.reshape(len(centres), len(radii), RING_ANGLES)
    spectrum = np.abs(np.fft.rfft(samples, axis=-1)[..., :3]) / RING_ANGLES
    centre_values = ndimage.map_coordinates(luminance, centres.T, order=1, mode="nearest")
    features = np.concatenate([centre_values[:, None], spectrum.reshape(len(centres), -1)], axis=1)
    return features.astype(np.float32), samples.reshape(len(centres), -1).std(axis=1)


def look_alikes(luminance: np.ndarray, settings: CloneSettings) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (sources, targets), each (M, 2) rows and columns in the working copy: a point
    and its one clear look-alike elsewhere in the photo."""
    from scipy.spatial import cKDTree

    margin = int(np.ceil(RING_RADII[-1] * max(RADIUS_SCALINGS))) + 1
    height, width = luminance.shape
    grid_rows, grid_columns = np.mgrid[margin : height - margin : STRIDE, margin : width - margin : STRIDE]
    centres = np.stack([grid_rows.ravel(), grid_columns.ravel()], axis=1).astype(np.float32)
    base, texture = ring_features(luminance, centres, 1.0)
    textured = texture >= MIN_TEXTURE
    centres, base, texture = centres[textured], base[textured], texture[textured]
    # Distances relative to the patch's contrast: JPEG and resampling change a busy patch's
    # features by more grey levels than a quiet one's.
    contrast = (texture + CONTRAST_FLOOR)[:, None]
    base = base / contrast
    if len(centres) < 3:
        return np.empty((0, 2)), np.empty((0, 2))
    tree = cKDTree(base)
    neighbours = min(NEIGHBOURS, len(centres))
    # Look-alikes farther than this pass the ratio test whatever they are: not searched for
    # (the search is then several times faster); a missing one is at infinity.
    search_radius = MAX_FEATURE_DISTANCE / settings.ratio
    beyond = np.full((1, 2), 1e6, np.float32)  # where a missing look-alike "is": far from all
    places = np.concatenate([centres, beyond])
    sources, targets = [], []
    for scaling in RADIUS_SCALINGS:
        features = base if scaling == 1.0 else ring_features(luminance, centres, scaling)[0] / contrast
        distances, indices = tree.query(
            features, k=neighbours, distance_upper_bound=search_radius, eps=APPROXIMATE_SEARCH, workers=2
        )
        found = places[indices]  # (N, k, 2)
        far = np.linalg.norm(found - centres[:, None], axis=-1) >= MIN_SHIFT
        # First look-alike far from the point, then the first one far from both of them.
        first = np.argmax(far, axis=1)
        has_first = far[np.arange(len(centres)), first]
        first_place = found[np.arange(len(centres)), first]
        apart = far & (np.linalg.norm(found - first_place[:, None], axis=-1) >= MIN_SHIFT)
        second = np.argmax(apart, axis=1)
        has_second = apart[np.arange(len(centres)), second]
        first_distance = distances[np.arange(len(centres)), first]
        # With no second look-alike among the nearest, the next one is at least the farthest seen.
        second_distance = np.where(has_second, distances[np.arange(len(centres)), second], distances[:, -1])
        clear = (
            has_first
            & (first_distance <= MAX_FEATURE_DISTANCE)
            & (first_distance <= settings.ratio * np.maximum(second_distance, 1e-6))
        )
        sources.append(centres[clear])
        targets.append(first_place[clear])
    return np.concatenate(sources), np.concatenate(targets)


# The dense search ------------------------------------------------------------------------------
DENSE_RADII = (2.0, 4.0, 6.0, 8.0)  # smaller than the sparse rings: small copies keep clean points
RING_WIDTH = 0.8  # radial standard deviation of a ring's weights (pixels)
# Working-copy pixels between the points matched (their look-alikes are any pixel): 2, or 3
# on a working copy so large that a 2-pixel grid would hold more points than this, which
# keeps a busy 12 MP photo within the view's 2 s (its copies are large at that size anyway).
DENSE_STRIDES = (2, 3)
DENSE_POINTS = 60_000
DENSE_NEIGHBOURS = 8  # look-alikes the k-d tree proposes to start PatchMatch from
TREE_DIMENSIONS = 8  # of the features' principal directions the k-d tree searches
PATCH_MATCH_ROUNDS = 3
PROPAGATION_STEPS = (8, 4, 2, 1)  # grid steps a neighbour's offset is borrowed from
SEARCH_RADIUS = 8  # pixels: the random search around the current offset starts here, halving
DENSE_MIN_SHIFT = 2 * max(DENSE_RADII)  # pixels: closer look-alikes share pixels
MAX_DENSE_DISTANCE = 0.35  # feature distance (relative to contrast) of a kept look-alike
MIN_AGREEING = 3  # of the 8 grid neighbours carried rigidly along with a point


def ring_moments(luminance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-invariant features at every pixel ((H, W, D)) and the texture ((H, W)): per
    ring the mean and the magnitudes of the first two angular terms; between neighbouring
    rings the relative phase of those terms (a rotation turns every ring's terms alike, so
    their product with the next ring's conjugate does not change)."""
    from scipy import fft

    reach = int(np.ceil(max(DENSE_RADII) + 2 * RING_WIDTH))
    rows, columns = np.mgrid[-reach : reach + 1, -reach : reach + 1].astype(np.float32)
    distance, angle = np.hypot(rows, columns), np.arctan2(rows, columns)
    # One transform of the photo serves every ring's kernel (a convolution is a product there).
    shape = [fft.next_fast_len(side + 2 * reach) for side in luminance.shape]
    spectrum = fft.fft2(luminance, shape, workers=2)
    height, width = luminance.shape

    def convolved(kernel: np.ndarray) -> np.ndarray:
        full = fft.ifft2(spectrum * fft.fft2(kernel, shape), workers=2)
        return full[reach : reach + height, reach : reach + width]

    terms = []  # per ring: orders 0, 1, 2
    for radius in DENSE_RADII:
        weights = np.exp(-0.5 * ((distance - radius) / RING_WIDTH) ** 2)
        weights /= weights.sum()
        terms.append([convolved(weights * np.exp(-1j * order * angle)) for order in (0, 1, 2)])
    maps = []
    for ring in terms:
        maps += [ring[0].real, np.abs(ring[1]), np.abs(ring[2])]
    for order in (1, 2):
        for inner, outer in zip(terms, terms[1:], strict=False):
            product = inner[order] * np.conj(outer[order])
            product /= np.sqrt(np.abs(product) + 1e-3)  # back to grey levels, phase kept
            maps += [product.real, product.imag]
    features = np.stack(maps, axis=-1).astype(np.float32)
    means = features[..., 0 : 3 * len(DENSE_RADII) : 3]
    angular = (
        features[..., 1 : 3 * len(DENSE_RADII) : 3] ** 2 + features[..., 2 : 3 * len(DENSE_RADII) : 3] ** 2
    )
    return features, np.sqrt(means.var(axis=-1) + angular.mean(axis=-1))


def patch_match(
    features: np.ndarray, sources: np.ndarray, stride: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For each source point ((N, 2) rows, columns on the `stride` grid) the offset to its
    best look-alike pixel at least DENSE_MIN_SHIFT away, and that look-alike's feature distance.
    Started from a k-d tree's proposals among the sources, then PatchMatch (Barnes et al.,
    2009): neighbours' offsets and a shrinking random search, all points at once."""
    from scipy.spatial import cKDTree

    height, width = features.shape[:2]
    generator = np.random.default_rng(seed)
    own = features[sources[:, 0], sources[:, 1]]
    count = len(sources)
    everyone = np.arange(count)

    def distances(offsets: np.ndarray) -> np.ndarray:
        places = sources + offsets
        usable = (
            (places[:, 0] >= 0)
            & (places[:, 0] < height)
            & (places[:, 1] >= 0)
            & (places[:, 1] < width)
            & (np.hypot(offsets[:, 0], offsets[:, 1]) >= DENSE_MIN_SHIFT)
        )
        rows, columns = np.clip(places[:, 0], 0, height - 1), np.clip(places[:, 1], 0, width - 1)
        return np.where(usable, np.sqrt(np.sum((own - features[rows, columns]) ** 2, axis=1)), np.inf)

    def keep_better(candidate: np.ndarray) -> None:
        found = distances(candidate)
        better = found < best
        offsets[better], best[better] = candidate[better], found[better]

    # The tree searches the features' main directions only (a k-d tree slows sharply with
    # dimensions); PatchMatch then compares all of them.
    centred = own - own.mean(axis=0)
    _, _, directions = np.linalg.svd(centred[:: max(1, count // 5000)], full_matrices=False)
    reduced = centred @ directions[:TREE_DIMENSIONS].T
    _, proposed = cKDTree(reduced).query(reduced, k=min(DENSE_NEIGHBOURS, count), workers=2)
    proposed = proposed.reshape(count, -1)
    far = np.hypot(*(sources[proposed] - sources[:, None]).transpose(2, 0, 1)) >= DENSE_MIN_SHIFT
    first = np.argmax(far, axis=1)
    offsets = sources[proposed[everyone, first]] - sources
    best = distances(offsets)
    grid = sources // stride
    index = np.full(tuple(grid.max(axis=0) + 1), -1)
    index[grid[:, 0], grid[:, 1]] = everyone
    for _ in range(PATCH_MATCH_ROUNDS):
        for step in PROPAGATION_STEPS:
            for along_rows, along_columns in ((step, 0), (-step, 0), (0, step), (0, -step)):
                neighbour = index[
                    np.clip(grid[:, 0] + along_rows, 0, index.shape[0] - 1),
                    np.clip(grid[:, 1] + along_columns, 0, index.shape[1] - 1),
                ]
                keep_better(np.where((neighbour >= 0)[:, None], offsets[neighbour], offsets))
        radius = SEARCH_RADIUS
        while radius >= 1:
            keep_better(offsets + generator.integers(-radius, radius + 1, (count, 2)))
            radius //= 2
    return offsets, best


def _grid_neighbours(sources: np.ndarray, stride: int, steps) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each grid step (rows, columns), the index pairs (i, j) of points with point j that
    step away from point i on the `stride` grid."""
    grid = sources // stride
    index = np.full(tuple(grid.max(axis=0) + 3), -1, np.int64)
    index[grid[:, 0] + 1, grid[:, 1] + 1] = np.arange(len(sources))
    pairs = []
    for along_rows, along_columns in steps:
        neighbour = index[grid[:, 0] + 1 + along_rows, grid[:, 1] + 1 + along_columns]
        present = neighbour >= 0
        pairs.append((np.nonzero(present)[0], neighbour[present]))
    return pairs


def _carried_alike(sources: np.ndarray, targets: np.ndarray, first: np.ndarray, second: np.ndarray):
    """Whether two points' look-alikes lie as far apart as the points themselves (within what
    a moderate rescaling allows): what a rotation or a rescaling does to a copy's points."""
    apart = np.hypot(*(sources[second] - sources[first]).T)
    spread = np.hypot(*(targets[second] - targets[first]).T)
    return np.abs(spread - apart) <= 1.0 + 0.25 * apart


GRID_STEPS = tuple((rows, columns) for rows in (-1, 0, 1) for columns in (-1, 0, 1) if rows or columns)


def rigidly_carried(sources: np.ndarray, targets: np.ndarray, stride: int) -> np.ndarray:
    """How many of each point's 8 grid neighbours have their look-alike where a rotation and
    a moderate rescaling would put it (a copy's look-alikes move together, stray ones do not)."""
    agreeing = np.zeros(len(sources), np.int64)
    for first, second in _grid_neighbours(sources, stride, GRID_STEPS):
        np.add.at(agreeing, first, _carried_alike(sources, targets, first, second))
    return agreeing


def dense_stride(shape: tuple[int, int]) -> int:
    height, width = shape
    return next(
        (step for step in DENSE_STRIDES if height * width / step**2 <= DENSE_POINTS), DENSE_STRIDES[-1]
    )


def dense_look_alikes(luminance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (sources, targets), each (M, 2) rows and columns in the working copy, that the
    dense field finds and their neighbours confirm; and where the photo is too flat for the
    dense rings to match (bool, the shape of `luminance`)."""
    features, texture = ring_moments(luminance)
    margin = int(max(DENSE_RADII)) + 2
    # Near the edge the rings reach past the photo (zeros there), which reads as texture:
    # the margin takes the flatness of the nearest point inside it.
    too_flat = np.pad((texture < MIN_TEXTURE)[margin:-margin, margin:-margin], margin, mode="edge")
    features /= (texture + CONTRAST_FLOOR)[..., None]
    height, width = luminance.shape
    stride = dense_stride(luminance.shape)
    rows, columns = np.mgrid[margin : height - margin : stride, margin : width - margin : stride]
    sources = np.stack([rows.ravel(), columns.ravel()], axis=1)
    sources = sources[~too_flat[sources[:, 0], sources[:, 1]]]
    if len(sources) < 3:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32), too_flat
    offsets, distances = patch_match(features, sources, stride)
    targets = sources + offsets
    kept = (distances <= MAX_DENSE_DISTANCE) & (rigidly_carried(sources, targets, stride) >= MIN_AGREEING)
    return sources[kept].astype(np.float32), targets[kept].astype(np.float32), too_flat


# Turned copies: RANSAC over the whole photo ranks groups by size, and a turned copy's few
# hundred pairs lose to larger groups of natural look-alikes (sky against sky). Grown instead
# as connected patches of the dense field (grid neighbours whose look-alikes move together,
# after Cozzolino, Poggi and Verdoliva 2015), each patch is a candidate of its own. Only
# turned ones are kept: a plain shift is found well by RANSAC, and grown patches of natural
# look-alikes are mostly unturned (with them, untouched photos flagged rose from 9 to 21 %).
MAX_PATCHES = 12  # the largest grown patches checked
MIN_TURN = 12.0  # degrees: a grown patch turned less is left to RANSAC


def turned_patches(
    sources: np.ndarray, targets: np.ndarray, stride: int, settings: CloneSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of dense pairs (sources, targets) that grow as one connected patch of the
    `stride` grid under one turned, plausible transform, largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(sources) < settings.min_matches:
        return []
    grid_points = sources.astype(np.int64)
    edges = [
        (first[alike], second[alike])
        for first, second in _grid_neighbours(grid_points, stride, GRID_STEPS[4:])  # each edge once
        for alike in [_carried_alike(sources, targets, first, second)]
    ]
    first, second = (np.concatenate(ends) for ends in zip(*edges, strict=True))
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(len(sources), len(sources)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    design = with_ones(sources)
    groups = []
    for label in np.argsort(-sizes)[:MAX_PATCHES]:
        if sizes[label] < settings.min_matches:
            break
        patch = inliers = labels == label
        for _ in range(3):  # refitted on the patch's points it explains
            affine = fit_affine(sources[inliers], targets[inliers])
            inliers = patch & (np.linalg.norm(design @ affine - targets, axis=-1) < INLIER_PIXELS)
            if inliers.sum() < settings.min_matches:
                break
        if inliers.sum() < settings.min_matches or not plausible(affine):
            continue
        if abs(_transform(sources[inliers], targets[inliers])[1]) >= MIN_TURN:
            groups.append((sources[inliers], targets[inliers]))
    return groups


def with_ones(points: np.ndarray) -> np.ndarray:
    """(…, n, 2) points as (…, n, 3) rows [row, column, 1]: what an affine map (3, 2) multiplies."""
    return np.concatenate([points, np.ones((*points.shape[:-1], 1))], axis=-1)


def fit_affine(sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Least-squares affine maps (…, 3, 2) with targets ≈ [sources, 1] @ map, batched over
    the leading dimensions of (…, n, 2) inputs."""
    design = with_ones(sources)
    solution, *_ = (
        np.linalg.lstsq(design, targets, rcond=None)
        if design.ndim == 2
        else (np.linalg.pinv(design) @ targets,)
    )
    return solution


def plausible(maps: np.ndarray) -> np.ndarray:
    """Which affine maps (…, 3, 2) are a copy's rotation and moderate rescaling (with or
    without a mirror), not a shear or a collapse."""
    linear = maps[..., :2, :]
    singular = np.linalg.svd(linear, compute_uv=False)
    return (
        (singular[..., 1] > 0.6)
        & (singular[..., 0] < 1.6)
        & (singular[..., 0] / np.maximum(singular[..., 1], 1e-6) < 1.3)
    )


def consistent_groups(
    sources: np.ndarray, targets: np.ndarray, settings: CloneSettings, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of matches that one plausible transform explains (each at least
    `min_matches`), best first; a group's reversed pairs are taken out with it."""
    from scipy.spatial import cKDTree

    generator = np.random.default_rng(seed)
    groups = []
    remaining = np.arange(len(sources))
    for _ in range(2 * MAX_REGIONS):  # a round finds a group or passes a degenerate one over
        if len(groups) == MAX_REGIONS or len(remaining) < max(settings.min_matches, 3):
            break
        points, moved = sources[remaining], targets[remaining]
        # Three matches drawn near each other: a copy's matches sit together, and among
        # thousands of stray look-alikes three drawn anywhere would almost never all be its.
        first = generator.integers(0, len(remaining), RANSAC_HYPOTHESES)
        nearby = min(LOCAL_SAMPLE, len(remaining))
        _, neighbours = cKDTree(points).query(points[first], k=nearby)
        others = neighbours.reshape(RANSAC_HYPOTHESES, nearby)[
            np.arange(RANSAC_HYPOTHESES)[:, None], generator.integers(0, nearby, (RANSAC_HYPOTHESES, 2))
        ]
        picks = np.concatenate([first[:, None], others], axis=1)
        maps = fit_affine(points[picks], moved[picks])
        # Three points a few pixels apart fix a shift well but a rotation or scale poorly:
        # each first match's plain shift is a hypothesis too (most copies are not turned).
        shifts = np.zeros((RANSAC_HYPOTHESES, 3, 2))
        shifts[:, 0, 0] = shifts[:, 1, 1] = 1
        shifts[:, 2] = moved[first] - points[first]
        maps = np.concatenate([maps, shifts])
        usable = plausible(maps)
        if not usable.any():
            break
        maps = maps[usable]
        design = with_ones(points)
        # Squared errors in float32 (hypotheses, matches): the dense search brings thousands.
        moved_by_each = design.astype(np.float32) @ maps.astype(np.float32) - moved[None].astype(np.float32)
        squared_errors = np.einsum("hmc,hmc->hm", moved_by_each, moved_by_each)
        counts = (squared_errors < INLIER_PIXELS**2).sum(axis=1)
        best = int(np.argmax(counts))
        inliers = first_inliers = squared_errors[best] < INLIER_PIXELS**2
        if inliers.sum() < settings.min_matches:
            break
        for _ in range(3):  # refitted on all its inliers, which then gathers the rest
            refined = fit_affine(points[inliers], moved[inliers])
            inliers = np.linalg.norm(design @ refined - moved, axis=-1) < INLIER_PIXELS
        if inliers.sum() < settings.min_matches or not plausible(refined):
            # Its refit drifted to a shear (matches along a line): passed over, not the end
            # of the search, which left copies behind such a group unsearched.
            remaining = remaining[~first_inliers]
            continue
        groups.append((points[inliers], moved[inliers]))
        # The same copy seen the other way round: targets inside the group's sources.
        reverse = np.linalg.norm(with_ones(moved) @ refined - points, axis=-1)
        reversed_pairs = _near_any(points, moved[inliers]) & _near_any(moved, points[inliers])
        taken = inliers | reversed_pairs | (reverse < INLIER_PIXELS)
        remaining = remaining[~taken]
    return groups


def _near_any(points: np.ndarray, others: np.ndarray, within: float = 2 * STRIDE) -> np.ndarray:
    from scipy.spatial import cKDTree

    if len(others) == 0:
        return np.zeros(len(points), bool)
    distances, _ = cKDTree(others).query(points, k=1)
    return distances <= within


def _box(points: np.ndarray, scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The native-pixel box around working-copy points."""
    top, left = points.min(axis=0)
    bottom, right = points.max(axis=0)
    width, height = size
    return (
        int(max(0, left / scale)),
        int(max(0, top / scale)),
        int(min(width, right / scale)),
        int(min(height, bottom / scale)),
    )


def _transform(sources: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(scale, rotation in degrees, counter-clockwise as seen) of the copy."""
    linear = fit_affine(sources[:, ::-1], targets[:, ::-1])[:2]  # x, y order
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    rotation = float(np.degrees(np.arctan2(-linear[0, 1], linear[0, 0])))
    return scale, rotation


# The clone verifier ---------------------------------------------------------------------------
# Natural look-alikes (two eyes, twin towers, a printed fabric) pass any one figure a copy
# passes; what tells them apart is the figures together. A logistic regression weighs them:
# trained by `python -m training clones` on copy-moves made from BSDS500's training
# photos and CASIA v1's copy-moves made by people, against their untouched photos, it gives
# each candidate a probability of being a copy.
VERIFIER_NAME = "clone-verifier"
FIGURE_NAMES = (
    "lined_up",
    "beside",
    "beside_least",
    "echo",
    "period",
    "log_matches",
    "log_area",
    "dense",
    "log_scale",
)
# Turned candidates are weighed apart: a turned copy is resampled, so it lines up less well
# than a shifted one, and turned look-alikes (a few matches in foliage or grass that happen to
# fit a turn) are the commonest false match. One weight for "turned" alone could only move
# them all up or down; each figure's own weight for turned candidates (its product with
# "turned") lets the verifier ask more matches and less echo of them. Measured when it was
# introduced, on photos the verifier had not learnt from (BSDS500 training photos 150-300 and
# CASIA v1 photos outside its sample): 74.7 % of our own copy-moves found instead of 66.0 %,
# with 4.7 % of untouched photos matched instead of 5.3 % (CASIA: 82.2 % found either way,
# 7.0 % matched instead of 5.5 %).
VERIFIER_FEATURES = ("turned",) + FIGURE_NAMES + tuple(f"turned_{name}" for name in FIGURE_NAMES)


def verifier_row(turned: bool, **figures: float) -> np.ndarray:
    """A candidate's figures, named as in FIGURE_NAMES, in the order of VERIFIER_FEATURES."""
    values = np.array([figures[name] for name in FIGURE_NAMES])
    return np.concatenate([[float(turned)], values, float(turned) * values])


TURNED_DEGREES = 5.0  # a candidate turned more than this counts as turned


@dataclass(frozen=True)
class CandidateCopy:
    """A group of look-alike pairs that one transform explains, with its pixel-by-pixel check."""

    sources: np.ndarray
    targets: np.ndarray
    affine: np.ndarray
    evidence: CopyEvidence
    dense: bool  # from the dense field (RANSAC over it or a grown patch), not the sparse rings

    @property
    def target_pixels(self) -> np.ndarray:
        """Where the transform carries the verified source pixels: the copy (or its source)."""
        return with_ones(self.evidence.source_pixels) @ self.affine

    def figures(self) -> np.ndarray:
        """The candidate's figures, in the order of VERIFIER_FEATURES."""
        scale, rotation = _transform(self.sources, self.targets)
        evidence = self.evidence
        return verifier_row(
            abs(rotation) > TURNED_DEGREES,
            lined_up=evidence.lined_up,
            beside=evidence.beside,
            beside_least=evidence.beside_least,
            echo=evidence.echo,
            period=evidence.period,
            log_matches=np.log(len(self.sources)),
            log_area=np.log(len(evidence.source_pixels)),
            dense=float(self.dense),
            log_scale=abs(np.log(scale)),
        )


@dataclass(frozen=True)
class CloneVerifier:
    """Standardised figures → logistic probability of a copy; a candidate at or above
    `threshold` is reported."""

    mean: np.ndarray
    spread: np.ndarray
    weights: np.ndarray
    intercept: float
    threshold: float

    def probability(self, figures: np.ndarray) -> np.ndarray:
        logits = ((np.atleast_2d(figures) - self.mean) / self.spread) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict:
        return {
            "features": list(VERIFIER_FEATURES),
            "mean": self.mean.tolist(),
            "spread": self.spread.tolist(),
            "weights": self.weights.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, content: object) -> CloneVerifier:
        """The verifier a JSON file holds; ModelIntegrityError when it is not one."""
        try:
            if content["features"] != list(VERIFIER_FEATURES):
                raise ValueError(f"features {content['features']} are not {list(VERIFIER_FEATURES)}")
            vectors = [np.asarray(content[key], np.float64) for key in ("mean", "spread", "weights")]
            intercept, threshold = float(content["intercept"]), float(content["threshold"])
            if any(vector.shape != (len(VERIFIER_FEATURES),) for vector in vectors):
                raise ValueError("mean, spread and weights must each hold one number per feature")
            if not all(np.isfinite(vector).all() for vector in vectors) or not (vectors[1] > 0).all():
                raise ValueError("the numbers must be finite, and the spreads positive")
            if not 0 < threshold < 1 or not np.isfinite(intercept):
                raise ValueError(f"threshold {threshold} must lie between 0 and 1")
        except (KeyError, TypeError, ValueError) as error:
            raise ModelIntegrityError(f"The clone verifier file is not one: {error}") from None
        return cls(*vectors, intercept, threshold)


def load_verifier(registry) -> CloneVerifier:
    """The clone verifier in use in `registry` (the user's retrained one, else the shipped
    one), checked against its manifest's sha256. JSON only: no file runs code when loaded."""
    path, _ = registry.verified_path(VERIFIER_NAME)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelIntegrityError(f"Cannot read the clone verifier {path}: {error}") from None
    return CloneVerifier.from_json(content)


@functools.lru_cache(maxsize=1)
def verifier_in_use() -> CloneVerifier:
    from training.core.registry import ModelRegistry

    return load_verifier(ModelRegistry())


SEARCH_THREADS = 2


@dataclass(frozen=True)
class CandidateSearch:
    """What the searches found in a photo's working copy."""

    candidates: list[CandidateCopy]  # every candidate copy that passes the pixel-by-pixel gates
    scale: float  # from native pixels to the working copy
    too_flat: np.ndarray  # bool per working-copy pixel: too flat for the dense rings to match
    pairs: int  # look-alike pairs the searches proposed


def candidate_copies(rgb: Image.Image, settings: CloneSettings = CloneSettings()) -> CandidateSearch:
    """The candidate copies in `rgb`, and where it could not be searched."""
    if min(rgb.size) < 4 * MIN_SHIFT:
        raise InvalidInputError(f"A {rgb.width}×{rgb.height} photo is too small to look for copied regions.")
    from scipy import ndimage

    luminance, scale = working_luminance(rgb, settings.work_side)
    smooth = ndimage.gaussian_filter(luminance, 1.0)
    # SciPy's interpolation and filters release the GIL: the two searches, and then the
    # candidates' checks, run two at a time (the same answers, 0.3-0.5 s sooner on 2 cores
    # for a busy 12 MP photo).
    with concurrent.futures.ThreadPoolExecutor(SEARCH_THREADS) as pool:
        sparse_search = pool.submit(look_alikes, smooth, settings)
        *dense, too_flat = dense_look_alikes(smooth)
        sparse = sparse_search.result()
        # The two searches are grouped apart: the dense one's many pairs would otherwise
        # outvote the sparse one's few, and each search misses copies the other finds.
        groups = [(group, False) for group in consistent_groups(*sparse, settings)]
        groups += [(group, True) for group in consistent_groups(*dense, settings)]
        groups += [(group, True) for group in turned_patches(*dense, dense_stride(luminance.shape), settings)]
        detail = band_pass(luminance)
        affines = [fit_affine(sources, targets) for (sources, targets), _ in groups]
        evidences = pool.map(
            copy_evidence, [detail] * len(groups), affines, [sources for (sources, _), _ in groups]
        )
        candidates = [
            CandidateCopy(sources, targets, affine, evidence, from_dense)
            for ((sources, targets), from_dense), affine, evidence in zip(
                groups, affines, evidences, strict=True
            )
            if evidence is not None
        ]
    return CandidateSearch(candidates, scale, too_flat, len(sparse[0]) + len(dense[0]))


REGION_COLOURS = ((0, 200, 255), (255, 60, 200), (80, 255, 80), (255, 200, 0))
FLAT_BRIGHTNESS = 0.4  # of the photo's own, where it is too flat to check


def detect_clones(
    rgb: Image.Image,
    settings: CloneSettings = CloneSettings(),
    display: tuple[int, int] | None = None,
    verifier: CloneVerifier | None = None,
) -> CloneDetection:
    """Regions of `rgb` that appear twice, as the verifier (by default the one in use) judges
    the candidates. With `display`, the photo at that size with each region's source and copy
    outlined in one colour and linked by a line."""
    verifier = verifier or verifier_in_use()
    threshold = verifier.threshold if settings.min_probability is None else settings.min_probability
    search = candidate_copies(rgb, settings)
    candidates, scale, shape = search.candidates, search.scale, search.too_flat.shape
    probabilities = (
        verifier.probability(np.array([candidate.figures() for candidate in candidates]))
        if candidates
        else []
    )
    regions = []
    suspect = np.zeros((shape[0] // 8 + 1, shape[1] // 8 + 1), bool)
    # Most probable first: when two candidates are the same copy, the surer one is reported.
    for probability, candidate in sorted(
        zip(probabilities, candidates, strict=True), key=lambda pair: -pair[0]
    ):
        if probability < threshold:
            break
        source_pixels, target_pixels = candidate.evidence.source_pixels, candidate.target_pixels
        region = ClonedRegion(
            _box(source_pixels, scale, rgb.size),
            _box(target_pixels, scale, rgb.size),
            len(candidate.sources),
            *_transform(candidate.sources, candidate.targets),
            float(probability),
        )
        if any(region.same_copy(found) for found in regions):
            continue
        regions.append(region)
        for points in (source_pixels[::16], np.clip(target_pixels[::16], 0, np.array(shape) - 1)):
            cells = (points // 8).astype(int)
            suspect[cells[:, 0], cells[:, 1]] = True
    image = None
    if display is not None:
        image = rgb.resize(display, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGB")
        # The flat parts dimmed: what the view could not check is seen at a glance.
        flat = Image.fromarray(search.too_flat.astype(np.uint8) * 255).resize(display, Image.Resampling.BOX)
        image = Image.composite(image.point(lambda value: value * FLAT_BRIGHTNESS), image, flat)
        draw = ImageDraw.Draw(image)
        factor = display[0] / rgb.width
        for region, colour in zip(regions, REGION_COLOURS * len(regions), strict=False):
            boxes = [tuple(round(value * factor) for value in box) for box in (region.source, region.target)]
            for box in boxes:
                draw.rectangle(box, outline=colour, width=3)
            centres = [((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) for box in boxes]
            draw.line(centres, fill=colour, width=2)
    return CloneDetection(settings, regions, search.pairs, suspect, search.too_flat, image)
