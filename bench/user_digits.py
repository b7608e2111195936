"""A generated set of digits "as users bring them": dark ink on light paper, unlike MNIST.

Rendered from the fonts matplotlib ships (so every machine has them) and from hand-drawn
style strokes, on 150–640 px canvases, off-centre, at varied sizes and stroke widths,
rotated up to ±15°, some blurred, on grey paper, saved as PNG or JPEG at varied quality.
Deterministic given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
)
HAND_DRAWN = "hand-drawn"


def _arc(centre_x, centre_y, radius_x, radius_y, start_degrees, end_degrees, steps=40):
    angles = np.deg2rad(np.linspace(start_degrees, end_degrees, steps))
    return list(zip(centre_x + radius_x * np.cos(angles), centre_y + radius_y * np.sin(angles), strict=False))


# Strokes in a unit box (x right, y down; angles clockwise from the right as on screen).
HAND_STROKES = {
    0: [_arc(0.5, 0.5, 0.4, 0.48, 0, 360)],
    1: [[(0.3, 0.22), (0.55, 0.02), (0.55, 0.98)]],
    2: [_arc(0.5, 0.3, 0.36, 0.28, 200, 400) + [(0.1, 0.98), (0.92, 0.98)]],
    3: [_arc(0.5, 0.27, 0.3, 0.25, 200, 450), _arc(0.5, 0.73, 0.35, 0.25, 270, 510)],
    4: [[(0.68, 0.98), (0.68, 0.02), (0.08, 0.68), (0.92, 0.68)]],
    5: [[(0.85, 0.03), (0.3, 0.03), (0.27, 0.45)] + _arc(0.5, 0.68, 0.36, 0.3, 230, 510)],
    6: [_arc(0.55, 0.55, 0.42, 0.53, 290, 150) + _arc(0.5, 0.72, 0.32, 0.26, 150, 510)],
    7: [[(0.08, 0.03), (0.92, 0.03), (0.38, 0.98)]],
    8: [_arc(0.5, 0.26, 0.26, 0.23, 0, 360), _arc(0.5, 0.72, 0.32, 0.26, 0, 360)],
    9: [_arc(0.5, 0.28, 0.3, 0.26, 0, 360), [(0.8, 0.28), (0.72, 0.98)]],
}


@dataclass(frozen=True)
class UserDigit:
    path: Path
    label: int
    style: str


def _font_path(name: str) -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def _ink_mask(label: int, style: str, height: int, generator: np.random.Generator) -> Image.Image:
    """The digit as a coverage mask (255 = ink), about `height` px tall, upright."""
    side = int(height * 1.6)
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    if style == HAND_DRAWN:
        width = max(2, int(height * generator.uniform(0.06, 0.15)))
        shear = generator.uniform(-0.25, 0.25)
        aspect = generator.uniform(0.5, 0.8)
        for stroke in HAND_STROKES[label]:
            points = np.array(stroke)
            points += generator.normal(0, 0.015, points.shape)
            x = (points[:, 0] - 0.5) * aspect * height + shear * (points[:, 1] - 0.5) * height
            y = (points[:, 1] - 0.5) * height
            draw.line(
                list(zip(x + side / 2, y + side / 2, strict=False)), fill=255, width=width, joint="curve"
            )
            for end_x, end_y in ((x[0], y[0]), (x[-1], y[-1])):
                r = width / 2
                draw.ellipse(
                    (end_x + side / 2 - r, end_y + side / 2 - r, end_x + side / 2 + r, end_y + side / 2 + r),
                    fill=255,
                )
    else:
        font = ImageFont.truetype(str(_font_path(style)), size=int(height * 1.3))
        boldness = int(height * generator.uniform(0.0, 0.05))
        draw.text(
            (side / 2, side / 2),
            str(label),
            fill=255,
            font=font,
            anchor="mm",
            stroke_width=boldness,
            stroke_fill=255,
        )
    return mask


def render_user_digit(label: int, style: str, generator: np.random.Generator) -> Image.Image:
    width, height = (int(v) for v in generator.integers(150, 641, size=2))
    digit_height = int(min(width, height) * generator.uniform(0.3, 0.8))
    mask = _ink_mask(label, style, digit_height, generator)
    mask = mask.rotate(generator.uniform(-15, 15), resample=Image.Resampling.BICUBIC, expand=True)
    mask = mask.crop(mask.getbbox())
    mask.thumbnail((width - 4, height - 4))
    canvas_mask = Image.new("L", (width, height), 0)
    left = int(generator.integers(0, width - mask.width + 1))
    top = int(generator.integers(0, height - mask.height + 1))
    canvas_mask.paste(mask, (left, top))
    paper = generator.uniform(150, 250)
    ink = generator.uniform(0, min(90, paper - 70))
    coverage = np.asarray(canvas_mask, dtype=np.float32) / 255.0
    y = np.linspace(-1, 1, height)[:, None]
    x = np.linspace(-1, 1, width)[None, :]
    lighting = generator.uniform(-12, 12) * x + generator.uniform(-12, 12) * y
    pixels = paper + lighting - (paper - ink) * coverage
    pixels += generator.normal(0, generator.uniform(0, 6), pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if generator.random() < 0.35:
        image = image.filter(ImageFilter.GaussianBlur(generator.uniform(0.5, 2.5) * digit_height / 100))
    if generator.random() < 0.5:
        tint = generator.uniform(0.9, 1.0, 3)
        image = Image.merge("RGB", [image.point(lambda v, t=t: v * t) for t in tint])
    return image


def generate_user_digits(directory: Path, count: int = 500, seed: int = 7) -> list[UserDigit]:
    """Write `count` images (labels cycling 0–9, styles cycling) and return what was written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    styles = (*FONT_FILES, HAND_DRAWN, HAND_DRAWN, HAND_DRAWN)
    generator = np.random.default_rng(seed)
    written = []
    for index in range(count):
        label = index % 10
        style = styles[(index // 10) % len(styles)]
        image = render_user_digit(label, style, generator)
        if generator.random() < 0.5:
            path = directory / f"digit_{index:04d}_{label}.png"
            image.save(path)
        else:
            path = directory / f"digit_{index:04d}_{label}.jpg"
            image.save(path, quality=int(generator.integers(30, 96)))
        written.append(UserDigit(path, label, style))
    return written


def accuracy_by_style(results: list[tuple[UserDigit, int | None, str]]) -> dict[str, float]:
    """Share of correct answers per style ('unsure' and 'rejected' count as wrong)."""
    totals: dict[str, list[int]] = {}
    for digit, predicted, status in results:
        totals.setdefault(digit.style, []).append(int(status == "ok" and predicted == digit.label))
    return {style: sum(hits) / len(hits) for style, hits in sorted(totals.items())}


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/user_digits")
    print(len(generate_user_digits(out, int(sys.argv[2]) if len(sys.argv) > 2 else 500)), "written to", out)
