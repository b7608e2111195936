"""What several test files (and the benchmarks in bench/) need: the repository's paths, the
command line run as a user runs it, and generated inputs (CSV tables, digits as users bring
them, photos and splices, letters)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.core import paths
from training.forgery.clone_training import pasted_softly

REPO_ROOT = Path(__file__).resolve().parent.parent
DIGIT_SAMPLES = sorted((paths.assets_dir() / "samples" / "digits").glob("digit_*.png"))


def run_cli(*arguments: str, user_dir: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m training ARGUMENTS` in a fresh process, with the user folder `user_dir` when given."""
    environment = {**os.environ}
    if user_dir is not None:
        environment["FINTECH_USER_DIR"] = str(user_dir)
    return subprocess.run(
        [sys.executable, "-m", "training", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def modules_imported_by(code: str, watched: tuple[str, ...]) -> list[str]:
    """Which of the `watched` modules a fresh interpreter has imported once `code` has run
    (what a lazy import keeps out)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(name for name in {watched!r} if name in sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def rendered_pixels(panel) -> np.ndarray:
    """The RGB pixels a matplotlib panel of the app draws now."""
    panel.canvas.draw()
    return np.asarray(panel.canvas.get_renderer().buffer_rgba())[..., :3]


def font_path(name: str) -> Path:
    """A font matplotlib ships, so every machine has it."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def render_letter(path: Path, character: str) -> None:
    """A dark letter on light paper: a drawing that is not a digit."""
    font = ImageFont.truetype(str(font_path("DejaVuSans.ttf")), 130)
    image = Image.new("L", (200, 200), 240)
    ImageDraw.Draw(image).text((100, 100), character, fill=20, font=font, anchor="mm")
    image.save(path)


# Tables ------------------------------------------------------------------------------------------
def write_mixed_csv(path: Path, rows: int = 3000, positive_rate: float = 0.03, seed: int = 0) -> Path:
    """Numeric and text columns, an ID, missing values everywhere, a rare 'fraud' class."""
    generator = np.random.default_rng(seed)
    amount = generator.lognormal(3, 1, rows)
    channel = generator.choice(["web", "branch", "phone", "app"], rows)
    country = generator.choice([f"C{index}" for index in range(30)], rows)
    age = generator.integers(18, 90, rows).astype(float)
    signal = 0.9 * np.log(amount) + 1.5 * (channel == "phone") - 0.03 * age
    score = signal + generator.normal(0, 1.0, rows)
    fraud = score > np.quantile(score, 1 - positive_rate)
    frame = pandas.DataFrame(
        {
            "transaction_id": np.arange(rows),
            "amount": amount.round(2),
            "channel": channel,
            "country": country,
            "age": age,
            "note": generator.choice(["ok", "check", "", "repeat"], rows),
            "fraud": np.where(fraud, "fraud", "legit"),
        }
    )
    for column in ("amount", "channel", "age", "note"):
        frame.loc[generator.random(rows) < 0.05, column] = np.nan
    frame.to_csv(path, index=False, sep=";")
    return path


# The smallest Imbalanced grid on `write_mixed_csv`'s table: one real model against the prior.
SMALL_GRID_ARGUMENTS = ("--target", "fraud", "--models", "logistic_regression,dummy", "--methods", "none")


def write_pair(folder: Path, rows: int = 2000, seed: int = 7) -> tuple[Path, Path]:
    """The same table twice: ',' with decimal points, and ';' with decimal commas
    (`0,1257;-0,3604;green;no`)."""
    generator = np.random.default_rng(seed)
    x1 = generator.normal(0, 1, rows).round(4)
    x2 = generator.normal(0, 1, rows).round(4)
    colour = generator.choice(["green", "red", "blue"], rows)
    score = 1.4 * x1 - 1.0 * x2 + 0.8 * (colour == "green") + generator.normal(0, 1, rows)
    frame = pandas.DataFrame(
        {"x1": x1, "x2": x2, "colour": colour, "y": np.where(score > np.quantile(score, 0.9), "yes", "no")}
    )
    dots, commas = folder / "dots.csv", folder / "commas.csv"
    frame.to_csv(dots, index=False)
    frame.to_csv(commas, index=False, sep=";", decimal=",")
    return dots, commas


# Digits as users bring them ----------------------------------------------------------------------
# Dark ink on light paper, unlike MNIST: rendered from the fonts matplotlib ships and from
# hand-drawn style strokes, on 150–640 px canvases, off-centre, at varied sizes and stroke
# widths, rotated up to ±15°, some blurred, on grey paper, saved as PNG or JPEG at varied
# quality. Deterministic given the seed.
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
        font = ImageFont.truetype(str(font_path(style)), size=int(height * 1.3))
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


# Photos --------------------------------------------------------------------------------------------
def render_photo(size: tuple[int, int] = (960, 720), seed: int = 3) -> Image.Image:
    """A procedural "photo": sky and ground gradients, a sun, buildings with windows, trees,
    then camera-like texture (smooth fluctuations, fine noise, a slight blur)."""
    generator = np.random.default_rng(seed)
    width, height = size
    horizon = int(height * 0.58)
    rows = np.arange(height, dtype=np.float32)[:, None, None] / height
    sky = np.array([70, 130, 200], np.float32) * (1 - rows) + np.array([200, 220, 240], np.float32) * rows
    ground = np.array([120, 140, 70], np.float32) * (1 - rows) + np.array([60, 80, 40], np.float32) * rows
    pixels = np.where(rows * height < horizon, sky, ground) * np.ones((1, width, 1), np.float32)
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.82, height * 0.08, width * 0.94, height * 0.24), fill=(255, 228, 150))
    left = int(width * 0.04)
    while left < width * 0.66:
        building_width = int(generator.integers(60, 130))
        top = horizon - int(generator.integers(110, 300))
        shade = int(generator.integers(90, 170))
        draw.rectangle((left, top, left + building_width, horizon), fill=(shade, shade - 12, shade - 25))
        for window_y in range(top + 12, horizon - 20, 26):
            for window_x in range(left + 10, left + building_width - 16, 22):
                lit = generator.random() < 0.35
                draw.rectangle(
                    (window_x, window_y, window_x + 11, window_y + 14),
                    fill=(250, 225, 140) if lit else (45, 55, 70),
                )
        left += building_width + int(generator.integers(8, 30))
    for _ in range(7):
        x, y = (
            int(generator.integers(width * 0.62, width * 0.98)),
            int(generator.integers(horizon + 100, height)),
        )
        radius = int(generator.integers(22, 48))
        draw.rectangle((x - 5, y, x + 5, y + radius), fill=(90, 60, 35))
        draw.ellipse(
            (x - radius, y - 2 * radius, x + radius, y + 6), fill=(40, int(generator.integers(90, 140)), 45)
        )
    draw.rectangle((0, int(height * 0.82), width, int(height * 0.86)), fill=(110, 110, 115))  # a road
    smooth = generator.normal(0, 7, (height // 24 + 1, width // 24 + 1, 3)).astype(np.float32)
    smooth = np.asarray(
        Image.fromarray((smooth + 128).clip(0, 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC),
        np.float32,
    )
    textured = np.asarray(image, np.float32) + (smooth - 128) + generator.normal(0, 5, (height, width, 3))
    return Image.fromarray(textured.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def splice(photo, donor_quality: int = 50, box=(296, 96, 396, 420), to=(653, 99)):
    """The photo with a region pasted in from a copy of itself compressed at `donor_quality`
    (by default: one more building, from the skyline): `box` (left, top, right, bottom) of
    the copy lands at `to`, off the 8×8 JPEG grid, with softened edges. Returns the spliced
    photo and the mask (white = pasted)."""
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=donor_quality)
    donor = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").crop(box)
    region = Image.new("L", donor.size, 0)
    ImageDraw.Draw(region).rectangle((3, 3, donor.width - 4, donor.height - 4), fill=255)
    return pasted_softly(photo, donor, to, region)


def exif_with_thumbnail(thumbnail: Image.Image) -> bytes:
    """EXIF as a camera writes it: IFD0 (orientation) and IFD1 pointing at a JPEG thumbnail."""
    buffer = io.BytesIO()
    thumbnail.save(buffer, "JPEG", quality=85)
    data = buffer.getvalue()
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<I", 26)
    ifd1 = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x0201, 4, 1, 56)
        + struct.pack("<HHII", 0x0202, 4, 1, len(data))
        + struct.pack("<I", 0)
    )
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + data
