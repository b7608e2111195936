"""What makes an image "not a digit", beyond the autoencoder's two terms.

The all-digits anomaly model answers "is this a normal digit?" for anything a user drops.
The autoencoder's reconstruction error and latent surprise rank digits well, but the Digits
tool's preprocessing (stroke width brought to MNIST's, longest side fitted to 20 px) turns a
filled silhouette into a stroke-like figure before they see it. So the evidence score also
looks at the image as drawn:

- shape descriptors of its ink — how much of its box it fills, how thick its strokes are
  for its size, how solid it is (ink over convex hull), how many parts and holes it has;
- the autoencoder's terms and code for the as-drawn copy;

and weighs them with a logistic regression learned by outlier exposure: normal MNIST
training digits against varied synthetic non-digits made here (glyphs of letters and
symbols from DejaVu fonts, filled and outlined matplotlib markers and random polygons,
textures cut from the photos that ship inside scikit-image and matplotlib, scribbles,
noise). Every term is a named, standardised feature times a weight, so the largest
contributions are the reasons shown to the user. The benchmark (bench/non_digits.py) uses
other fonts, other shapes, other photos and another rasteriser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from training.core.provenance import manifest_numbers

IMAGE_SIDE = 28


# Why a term raised the score, in the user's words. Each feature belongs to one reason.
REASONS = (
    "poor reconstruction",
    "unusual code",
    "filled shape, not a stroke",
    "several separate parts or holes",
    "letter- or symbol-like strokes",
)


SHAPE_FEATURES = ("fill", "thickness", "solidity")


PART_FEATURES = ("parts", "holes")


def feature_names(latent_dim: int) -> tuple[list[str], list[str]]:
    """The evidence features in order, and the reason each counts toward: the autoencoder's
    two standardised terms, the shape descriptors, and the latent code, whose learned
    direction separates digits from the letters and symbols of outlier exposure."""
    names = ["reconstruction", "code surprise", *SHAPE_FEATURES, *PART_FEATURES]
    names += [f"code {index}" for index in range(latent_dim)]
    reasons = [
        REASONS[0],
        REASONS[1],
        *[REASONS[2]] * len(SHAPE_FEATURES),
        *[REASONS[3]] * len(PART_FEATURES),
    ]
    return names, reasons + [REASONS[4]] * latent_dim


def feature_matrix(images, standard_error, standard_surprise, codes) -> np.ndarray:
    """(N, F) features of 28×28 uint8 images, in `feature_names` order."""
    return np.column_stack([standard_error, standard_surprise, shape_descriptors(images), codes])


def looks_like_mnist(gray: np.ndarray) -> bool:
    """An image already in MNIST's format: 28×28, light ink on a black border.

    Such an image is scored as it is; framing it again would change what is judged."""
    if gray.shape != (IMAGE_SIDE, IMAGE_SIDE):
        return False
    border = np.concatenate([gray[:2].ravel(), gray[-2:].ravel(), gray[:, :2].ravel(), gray[:, -2:].ravel()])
    return float(np.median(border)) < 0.1 and float(gray.max()) > 0.3


def shape_descriptors(pixels: np.ndarray) -> np.ndarray:
    """(N, 5) descriptors of 28×28 uint8 images, in the order SHAPE_FEATURES + PART_FEATURES.

    fill: ink over its bounding box; thickness: mean stroke width over the box's longest
    side (4 × mean inner distance, as `digits.stroke_width_fraction`); solidity: ink over its
    convex hull; parts: connected pieces of ink holding ≥ 5 % of it; holes: enclosed
    background regions of ≥ 2 px. Blank images get zeros.
    """
    from scipy import ndimage
    from skimage.morphology import convex_hull_image

    from training.core.digit_images import stroke_width_fraction

    descriptors = np.zeros((len(pixels), 5))
    for index, image in enumerate(pixels):
        ink = image > 127
        total = ink.sum()
        if total == 0:
            continue
        rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (columns[-1] - columns[0] + 1)
        parts, _count = ndimage.label(ink, structure=np.ones((3, 3)))
        part_sizes = np.bincount(parts.ravel())[1:]
        background, _count = ndimage.label(~np.pad(ink, 1))
        background_sizes = np.bincount(background.ravel())[1:]
        background_sizes[background[0, 0] - 1] = 0  # the outside is not a hole
        descriptors[index] = (
            total / box,
            stroke_width_fraction(ink.astype(np.float32)),
            total / max(convex_hull_image(ink).sum(), 1),
            int((part_sizes >= 0.05 * total).sum()),
            int((background_sizes >= 2).sum()),
        )
    return descriptors


@dataclass(frozen=True)
class EvidenceWeights:
    """The learned combination, as plain numbers in the manifest (no pickle).

    `feature_names[i]` is standardised with `means[i]` and `scales[i]` (from normal training
    digits) and weighed by `weights[i]`; `reason_of[i]` names the reason it counts toward."""

    feature_names: list[str]
    reason_of: list[str]
    means: list[float]
    scales: list[float]
    weights: list[float]
    intercept: float

    def to_json(self) -> dict:
        return {
            name: manifest_numbers(values) if name in ("means", "scales", "weights") else values
            for name, values in asdict(self).items()
        }

    @classmethod
    def from_json(cls, values: dict) -> EvidenceWeights:
        return cls(**values)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(N, F): each feature's push on the score (standardised value × weight)."""
        standard = (features - np.asarray(self.means)) / np.asarray(self.scales)
        return standard * np.asarray(self.weights)

    def by_reason(self, contributions: np.ndarray) -> np.ndarray:
        """(N, len(REASONS)): the contributions summed per reason."""
        totals = np.zeros((len(contributions), len(REASONS)))
        for column, reason in enumerate(self.reason_of):
            totals[:, REASONS.index(reason)] += contributions[:, column]
        return totals


def fit_evidence_weights(
    normal_features: np.ndarray,
    outlier_features: np.ndarray,
    feature_names: list[str],
    reason_of: list[str],
    seed: int = 0,
) -> EvidenceWeights:
    """Logistic regression of outlier against normal, on features standardised by the
    normal images; classes weighted equally so the cut reflects separation, not counts."""
    from sklearn.linear_model import LogisticRegression

    means = normal_features.mean(axis=0)
    scales = normal_features.std(axis=0) + 1e-6
    features = np.concatenate([normal_features, outlier_features])
    truth = np.concatenate([np.zeros(len(normal_features)), np.ones(len(outlier_features))])
    classifier = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000, random_state=seed)
    classifier.fit((features - means) / scales, truth)
    return EvidenceWeights(
        list(feature_names),
        list(reason_of),
        means.tolist(),
        scales.tolist(),
        classifier.coef_[0].tolist(),
        float(classifier.intercept_[0]),
    )


# Letters that are written like digits are not non-digits (O o I l S s Z z B b g q).
EXPOSURE_LETTERS = "ACDEFGHJKLMNPQRTUVWXYacdefhijkmnprtuvwxy"


# Strokes that read as a 1 (| / \\ ( ) [ ]) are left out for the same reason.
EXPOSURE_SYMBOLS = "#$%&@*+=?!<>{}~^€£¥§¶©®™∑∏∫√∞≈≠±÷×αβγδλμπσΩ♠♣♥♦★☺✓→⇒"


EXPOSURE_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
)


# Typeset digits are normal too, though MNIST holds none; these fonts are not the ones the
# benchmarks draw digits or letters with (bench/user_digits.py, bench/non_digits.py).
TYPESET_DIGIT_FONTS = (
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmb10.ttf",
    "cmtt10.ttf",
)


EXPOSURE_MARKERS = "os^v<>ph8HDd*PX"


EXPOSURE_KINDS = ("letter", "symbol", "marker", "polygon", "texture", "scribble", "noise")


CANVAS = 112


def _font(name: str, size: int):
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _glyph(character: str, generator: np.random.Generator):
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    font = _font(
        EXPOSURE_FONTS[int(generator.integers(len(EXPOSURE_FONTS)))], int(generator.integers(50, 90))
    )
    ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), character, fill=255, font=font, anchor="mm")
    return canvas.rotate(float(generator.uniform(-20, 20)), resample=Image.Resampling.BILINEAR)


def _marker(generator: np.random.Generator, filled: bool):
    from matplotlib.markers import MarkerStyle
    from PIL import Image, ImageDraw

    style = MarkerStyle(EXPOSURE_MARKERS[int(generator.integers(len(EXPOSURE_MARKERS)))])
    path = style.get_path().transformed(style.get_transform())
    vertices = path.vertices * generator.uniform(30, 50, 2) + CANVAS / 2
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    points = [tuple(point) for point in vertices]
    draw = ImageDraw.Draw(canvas)
    if filled:
        draw.polygon(points, fill=255)
    else:
        draw.line(points + points[:1], fill=255, width=int(generator.integers(6, 14)))
    return canvas.rotate(float(generator.uniform(0, 360)), resample=Image.Resampling.BILINEAR)


def _polygon(generator: np.random.Generator):
    from PIL import Image, ImageDraw

    corners = int(generator.integers(3, 9))
    angles = np.sort(generator.uniform(0, 2 * np.pi, corners))
    radii = generator.uniform(20, 50, corners)
    points = [
        (CANVAS / 2 + r * np.cos(a), CANVAS / 2 + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)
    ]
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(canvas).polygon(points, fill=int(generator.integers(150, 256)))
    return canvas


def _texture(generator: np.random.Generator, photos: list):
    from PIL import Image

    photo = photos[int(generator.integers(len(photos)))]
    side = int(generator.integers(24, min(photo.size)))
    left = int(generator.integers(0, photo.size[0] - side + 1))
    top = int(generator.integers(0, photo.size[1] - side + 1))
    crop = photo.crop((left, top, left + side, top + side)).resize((CANVAS, CANVAS), Image.Resampling.BOX)
    return crop if generator.random() < 0.5 else Image.eval(crop, lambda value: 255 - value)


def _scribble(generator: np.random.Generator):
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    steps = int(generator.integers(12, 30))
    points = np.cumsum(generator.normal(0, 14, (steps, 2)), axis=0)
    points = (points - points.mean(axis=0)) * 0.8 + CANVAS / 2
    ImageDraw.Draw(canvas).line(
        [tuple(p) for p in points], fill=255, width=int(generator.integers(5, 12)), joint="curve"
    )
    return canvas


def _noise(generator: np.random.Generator):
    from PIL import Image

    density = generator.uniform(0.05, 1.0)
    values = generator.uniform(0, 255, (IMAGE_SIDE, IMAGE_SIDE)) * (
        generator.random((IMAGE_SIDE, IMAGE_SIDE)) < density
    )
    return Image.fromarray(values.astype(np.uint8)).resize((CANVAS, CANVAS), Image.Resampling.NEAREST)


def _exposure_ink(kind: str, generator: np.random.Generator, photos: list) -> np.ndarray:
    """One synthetic non-digit of `kind`, light on black, CANVAS² in [0, 1]."""
    if kind == "letter":
        drawn = _glyph(EXPOSURE_LETTERS[int(generator.integers(len(EXPOSURE_LETTERS)))], generator)
    elif kind == "symbol":
        drawn = _glyph(EXPOSURE_SYMBOLS[int(generator.integers(len(EXPOSURE_SYMBOLS)))], generator)
    elif kind == "marker":
        drawn = _marker(generator, filled=generator.random() < 0.7)
    elif kind == "polygon":
        drawn = _polygon(generator)
    elif kind == "texture":
        drawn = _texture(generator, photos)
    elif kind == "scribble":
        drawn = _scribble(generator)
    else:
        drawn = _noise(generator)
    ink = np.asarray(drawn, np.float32) / 255.0
    if ink.max() < 0.05:
        ink[CANVAS // 2, CANVAS // 2] = 1.0
    return ink


def _typeset_digit_ink(generator: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    font = _font(
        TYPESET_DIGIT_FONTS[int(generator.integers(len(TYPESET_DIGIT_FONTS)))],
        int(generator.integers(50, 90)),
    )
    ImageDraw.Draw(canvas).text(
        (CANVAS / 2, CANVAS / 2), str(int(generator.integers(10))), fill=255, font=font, anchor="mm"
    )
    rotated = canvas.rotate(float(generator.uniform(-10, 10)), resample=Image.Resampling.BILINEAR)
    return np.asarray(rotated, np.float32) / 255.0


def _in_a_box(ink: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """MNIST format two ways: framed like MNIST's digits, or filling a 16-28 px box."""
    from PIL import Image

    from training.core.digit_images import frame_like_mnist

    if generator.random() < 0.5:
        return frame_like_mnist(ink)
    side = int(generator.integers(16, IMAGE_SIDE + 1))
    rows, columns = np.flatnonzero(ink.max(axis=1) > 0.05), np.flatnonzero(ink.max(axis=0) > 0.05)
    crop = Image.fromarray((ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1] * 255).astype(np.uint8))
    crop.thumbnail((side, side), Image.Resampling.BOX)
    canvas = Image.new("L", (IMAGE_SIDE, IMAGE_SIDE), 0)
    canvas.paste(crop, ((IMAGE_SIDE - crop.size[0]) // 2, (IMAGE_SIDE - crop.size[1]) // 2))
    return np.asarray(canvas)


def _as_dropped(ink: np.ndarray, generator: np.random.Generator) -> np.ndarray | None:
    """The ink photographed as users bring it (dark on light paper, any size, noise), then
    read as the tool reads a dropped file: the as-drawn copy, or None when not digit-shaped."""
    from PIL import Image

    from training.core.digit_images import prepare_digit

    side = int(generator.integers(64, 320))
    mark = np.asarray(
        Image.fromarray((ink * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
    )
    pad = int(side * generator.uniform(0.1, 0.8))
    coverage = np.pad(mark.astype(np.float32) / 255.0, pad)
    paper, ink_level = generator.uniform(0.6, 1.0), generator.uniform(0.0, 0.35)
    gray = paper - (paper - ink_level) * coverage + generator.normal(0, 0.02, coverage.shape)
    prepared = prepare_digit(np.clip(gray, 0, 1).astype(np.float32))
    return prepared.as_drawn


def exposure_sets(count: int, seed: int, normal_digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normal, outlier) 28×28 uint8 images for fitting the evidence weights.

    normal: `normal_digits` (MNIST images) as they are, a third of them also as dropped
    photos read by the tool, and `count // 5` typeset digits as dropped photos. outlier:
    `count` synthetic non-digits of every kind in `EXPOSURE_KINDS`, half in MNIST format,
    half as dropped photos (those the tool rejects outright are left out: they are flagged
    whatever their score)."""
    from PIL import Image

    from training.core.package_photos import package_photos

    generator = np.random.default_rng(seed)
    photos = [Image.open(path).convert("L") for path in package_photos()]
    normal = list(normal_digits)
    for pixels in normal_digits[: len(normal_digits) // 3]:
        dropped = _as_dropped(pixels.astype(np.float32) / 255.0, generator)
        if dropped is not None:
            normal.append(dropped)
    for _ in range(count // 5):
        dropped = _as_dropped(_typeset_digit_ink(generator), generator)
        if dropped is not None:
            normal.append(dropped)
    outliers = []
    for index in range(count):
        ink = _exposure_ink(EXPOSURE_KINDS[index % len(EXPOSURE_KINDS)], generator, photos)
        image = _in_a_box(ink, generator) if index % 2 == 0 else _as_dropped(ink, generator)
        if image is not None:
            outliers.append(image)
    return np.stack(normal), np.array(outliers, np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
