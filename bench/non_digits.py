"""Images that are not digits, for the anomaly model's "is this a digit?" question.

Seven kinds, each in two styles:
- kinds: typeset letters, symbols, filled silhouettes of objects, geometric shapes,
  photos (BSDS500 crops from the data directory), noise, blanks;
- styles: "mnist" — 28×28 PNG, light on black, centred, as MNIST-format collections are
  saved; "photo" — dark on light paper at 150–600 px, off-centre, with lighting, noise,
  blur, saved as PNG or JPEG.

Made by another procedure than the model's outlier exposure (`training.anomaly.evidence`),
so the benchmark does not measure how well the model learned one generator: letters and
symbols come from the STIX and Computer Modern fonts (the model's come from DejaVu) and
include glyphs it never saw, shapes are drawn with matplotlib's Agg rasteriser (the model's
with Pillow), silhouettes are objects (clothing, tools, animals — scikit-image's horse)
rather than markers, and photos are BSDS500 rather than the photos that ship in packages.
Letters that are written like digits (O o I l S s Z z B b g q) are left out: an analyst
would not call them anomalies of a digit reader either. Deterministic given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

DIGIT_LOOKALIKES = set("OoIlSsZzBbgq")
LETTERS = [c for c in "ACDEFHJKLMNPRTUVWXYacdefhijkmnprtuvwxy" if c not in DIGIT_LOOKALIKES]
SYMBOLS = "∂∇∀∃⊕⊗‰¢¤ЖФΨΞΛζξ@#%&∞€¶Ω√≠±÷†‡"
FONTS = (
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmti10.ttf",
)
# Computer Modern and STIX italic lack some of these glyphs: symbols come from upright STIX.
SYMBOL_FONTS = ("STIXGeneral.ttf", "STIXGeneralBol.ttf")
KINDS = ("letter", "symbol", "silhouette", "shape", "photo", "noise", "blank")
STYLES = ("mnist", "photo")
RENDER_SIDE = 160

# Object outlines in a unit box (x right, y up), drawn filled.
OBJECTS = {
    "shirt": [
        (0.3, 0),
        (0.7, 0),
        (0.7, 0.6),
        (0.9, 0.5),
        (1, 0.7),
        (0.7, 0.95),
        (0.58, 0.95),
        (0.5, 0.85),
        (0.42, 0.95),
        (0.3, 0.95),
        (0, 0.7),
        (0.1, 0.5),
        (0.3, 0.6),
    ],
    "trousers": [(0.2, 1), (0.8, 1), (0.85, 0), (0.6, 0), (0.5, 0.65), (0.4, 0), (0.15, 0)],
    "dress": [(0.4, 1), (0.6, 1), (0.65, 0.6), (0.9, 0), (0.1, 0), (0.35, 0.6)],
    "shoe": [(0, 0), (1, 0), (1, 0.2), (0.6, 0.35), (0.4, 0.6), (0.05, 0.6)],
    "bag": [(0.05, 0), (0.95, 0), (0.85, 0.6), (0.15, 0.6)],
    "house": [(0.1, 0), (0.9, 0), (0.9, 0.55), (1, 0.55), (0.5, 1), (0, 0.55), (0.1, 0.55)],
    "tree": [(0.45, 0), (0.55, 0), (0.55, 0.25), (0.95, 0.25), (0.5, 1), (0.05, 0.25), (0.45, 0.25)],
    "bottle": [(0.3, 0), (0.7, 0), (0.7, 0.6), (0.56, 0.75), (0.56, 1), (0.44, 1), (0.44, 0.75), (0.3, 0.6)],
    "fish": [
        (0, 0.5),
        (0.2, 0.75),
        (0.6, 0.8),
        (0.8, 0.55),
        (1, 0.8),
        (1, 0.2),
        (0.8, 0.45),
        (0.6, 0.2),
        (0.2, 0.25),
    ],
    "car": [(0, 0.15), (1, 0.15), (1, 0.45), (0.75, 0.5), (0.6, 0.8), (0.25, 0.8), (0.15, 0.5), (0, 0.45)],
    "umbrella": [
        (0, 0.5),
        (0.1, 0.75),
        (0.3, 0.9),
        (0.5, 0.95),
        (0.7, 0.9),
        (0.9, 0.75),
        (1, 0.5),
        (0.53, 0.5),
        (0.53, 0),
        (0.47, 0),
        (0.47, 0.5),
    ],
    "lamp": [
        (0.2, 0.6),
        (0.8, 0.6),
        (0.65, 1),
        (0.35, 1),
        (0.2, 0.6),
        (0.47, 0.6),
        (0.47, 0.1),
        (0.2, 0.1),
        (0.2, 0),
        (0.8, 0),
        (0.8, 0.1),
        (0.53, 0.1),
        (0.53, 0.6),
    ],
}


@dataclass(frozen=True)
class NonDigit:
    path: Path
    kind: str
    style: str


def _figure_mask(draw, generator: np.random.Generator) -> np.ndarray:
    """What `draw(axes)` paints, white on black, as a RENDER_SIDE² array in [0, 1] (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1), dpi=RENDER_SIDE, facecolor="black")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(-0.3, 1.3)
    axes.set_ylim(-0.3, 1.3)
    axes.set_facecolor("black")
    draw(axes, generator)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., 0].astype(np.float32) / 255.0


def _text(characters: str, fonts: tuple[str, ...]):
    def draw(axes, generator):
        from matplotlib import font_manager, get_data_path

        font = fonts[int(generator.integers(len(fonts)))]
        properties = font_manager.FontProperties(fname=str(Path(get_data_path()) / "fonts" / "ttf" / font))
        axes.text(
            0.5,
            0.5,
            characters[int(generator.integers(len(characters)))],
            color="white",
            fontproperties=properties,
            fontsize=float(generator.uniform(50, 80)),
            rotation=float(generator.uniform(-15, 15)),
            ha="center",
            va="center",
        )

    return draw


def _silhouette(axes, generator) -> None:
    from matplotlib.patches import Circle, Polygon
    from matplotlib.transforms import Affine2D

    names = [*OBJECTS, "horse"]
    name = names[int(generator.integers(len(names)))]
    transform = (
        Affine2D()
        .translate(-0.5, -0.5)
        .scale(*generator.uniform(0.8, 1.1, 2))
        .rotate_deg(float(generator.uniform(-25, 25)))
        .translate(0.5, 0.5)
        + axes.transData
    )
    if name not in OBJECTS:  # scikit-image's horse silhouette (black horse on white)
        from skimage import data

        horse = ~data.horse()
        axes.imshow(horse, cmap="gray", extent=(0, 1, 0, 1), transform=transform, interpolation="bilinear")
        return
    axes.add_patch(Polygon(OBJECTS[name], closed=True, color="white", transform=transform))
    if name == "car":
        for x in (0.25, 0.75):
            axes.add_patch(Circle((x, 0.15), 0.12, color="white", transform=transform))


def _shape(axes, generator) -> None:
    from matplotlib.patches import FancyArrow, Rectangle, RegularPolygon, Wedge

    choice = int(generator.integers(5))
    filled = generator.random() < 0.6
    style = {
        "facecolor": "white" if filled else "none",
        "edgecolor": "white",
        "linewidth": float(generator.uniform(6, 14)),
    }
    if choice == 0:
        patch = RegularPolygon(
            (0.5, 0.5),
            int(generator.integers(3, 9)),
            radius=0.5,
            orientation=float(generator.uniform(0, 6.3)),
            **style,
        )
    elif choice == 1:
        width, height = generator.uniform(0.3, 1.0, 2)
        patch = Rectangle(
            (0.5 - width / 2, 0.5 - height / 2),
            width,
            height,
            angle=float(generator.uniform(0, 90)),
            rotation_point="center",
            **style,
        )
    elif choice == 2:
        start = float(generator.uniform(0, 360))
        patch = Wedge((0.5, 0.5), 0.5, start, start + float(generator.uniform(60, 300)), **style)
    elif choice == 3:
        for angle in (0, 90):
            axes.add_patch(
                Rectangle(
                    (0.35, 0),
                    0.3,
                    1,
                    angle=angle + float(generator.uniform(-10, 10)),
                    rotation_point="center",
                    color="white",
                )
            )
        return
    else:
        patch = FancyArrow(0, 0.5, 0.6, 0, width=0.25, head_width=0.6, head_length=0.4, **style)
    axes.add_patch(patch)


def _mnist_format(ink: np.ndarray, generator) -> Image.Image:
    """Light on black, 28×28: the drawn ink's box fitted to 20-28 px, centred by its box."""
    image = Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8))
    box = image.getbbox() or (0, 0, *image.size)
    image = image.crop(box)
    image.thumbnail((int(generator.integers(20, 29)),) * 2, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (28, 28), 0)
    canvas.paste(image, ((28 - image.width) // 2, (28 - image.height) // 2))
    return canvas


def _photographed(ink: np.ndarray, generator) -> Image.Image:
    """Dark ink on light paper, as a phone photo of a page: any size, off-centre, lit unevenly."""
    width, height = (int(v) for v in generator.integers(150, 601, 2))
    mark = Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8))
    mark = mark.crop(mark.getbbox() or (0, 0, *mark.size))
    side = int(min(width, height) * generator.uniform(0.3, 0.8))
    mark.thumbnail((side, side), Image.Resampling.BICUBIC)
    coverage = np.zeros((height, width), np.float32)
    left, top = (
        int(generator.integers(0, width - mark.width + 1)),
        int(generator.integers(0, height - mark.height + 1)),
    )
    coverage[top : top + mark.height, left : left + mark.width] = np.asarray(mark, np.float32) / 255.0
    paper, ink_level = generator.uniform(160, 250), generator.uniform(0, 80)
    lighting = generator.uniform(-15, 15) * np.linspace(-1, 1, width)[None, :]
    pixels = paper + lighting - (paper - ink_level) * coverage + generator.normal(0, 4, coverage.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if generator.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(float(generator.uniform(0.5, 2.0))))
    return image


def _photo_crop(photos: list[Path], generator) -> np.ndarray:
    photo = Image.open(photos[int(generator.integers(len(photos)))]).convert("L")
    side = int(generator.integers(60, min(photo.size)))
    left, top = (
        int(generator.integers(0, photo.width - side)),
        int(generator.integers(0, photo.height - side)),
    )
    return np.asarray(photo.crop((left, top, left + side, top + side)), np.float32) / 255.0


def _noise(generator) -> np.ndarray:
    side = int(generator.integers(100, 400))
    choice = int(generator.integers(3))
    if choice == 0:
        values = generator.normal(0.5, 0.2, (side, side))
    elif choice == 1:
        values = (generator.random((side, side)) < generator.uniform(0.02, 0.3)).astype(np.float32)
    else:
        from scipy import ndimage

        values = ndimage.gaussian_filter(generator.random((side, side)), float(generator.uniform(2, 8)))
        values = (values - values.min()) / (np.ptp(values) + 1e-9)
    return np.clip(values, 0, 1)


def _blank(generator) -> np.ndarray:
    side = int(generator.integers(50, 400))
    level = generator.uniform(0, 1)
    gradient = generator.uniform(-0.1, 0.1) * np.linspace(-1, 1, side)[None, :]
    return np.clip(level + gradient + np.zeros((side, side)), 0, 1)


def generate_non_digits(directory: Path, photos_dir: Path | None, count_per_kind: int = 100, seed: int = 3):
    """`count_per_kind` images of every kind in every style (photos only when `photos_dir` has
    some); returns what was written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(seed)
    photos = sorted(Path(photos_dir).glob("*.jpg")) if photos_dir is not None else []
    drawers = {
        "letter": _text("".join(LETTERS), FONTS),
        "symbol": _text(SYMBOLS, SYMBOL_FONTS),
        "silhouette": _silhouette,
        "shape": _shape,
    }
    written = []
    for kind in KINDS:
        if kind == "photo" and not photos:
            continue
        for style in STYLES:
            for index in range(count_per_kind):
                if kind in drawers:
                    ink = _figure_mask(drawers[kind], generator)
                    image = (
                        _mnist_format(ink, generator) if style == "mnist" else _photographed(ink, generator)
                    )
                else:
                    field = {
                        "photo": lambda: _photo_crop(photos, generator),
                        "noise": lambda: _noise(generator),
                        "blank": lambda: _blank(generator),
                    }[kind]()
                    picture = Image.fromarray((field * 255).astype(np.uint8))
                    image = picture.resize((28, 28), Image.Resampling.BOX) if style == "mnist" else picture
                path = directory / f"{kind}_{style}_{index:03d}.png"
                if style == "photo" and generator.random() < 0.5:
                    path = path.with_suffix(".jpg")
                    image.save(path, quality=int(generator.integers(50, 95)))
                else:
                    image.save(path)
                written.append(NonDigit(path, kind, style))
    return written


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/non_digits")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    from training.core import paths

    print(len(generate_non_digits(out, paths.data_dir() / "bsds500", count)), "written to", out)
