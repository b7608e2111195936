"""Images that are not digits, for the anomaly gate: rendered letters, photos, noise, blanks.

Letters that are drawn like digits (O o I l S s Z z B b g q) are left out: an analyst would
not call them anomalies of a digit reader either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench.user_digits import FONT_FILES, _font_path

DIGIT_LOOKALIKES = set("OoIlSsZzBbgq")
LETTERS = [c for c in "ACDEFHJKLMNPRTUVWXYacdefhijkmnprtuvwxy" if c not in DIGIT_LOOKALIKES]


@dataclass(frozen=True)
class NonDigit:
    path: Path
    kind: str


def _letter(character: str, font: str, generator: np.random.Generator) -> Image.Image:
    size = int(generator.integers(150, 400))
    image = Image.new("L", (size, size), int(generator.integers(180, 250)))
    draw = ImageDraw.Draw(image)
    draw.text(
        (size / 2 + generator.integers(-size // 8, size // 8), size / 2),
        character,
        fill=int(generator.integers(0, 80)),
        font=ImageFont.truetype(str(_font_path(font)), int(size * 0.6)),
        anchor="mm",
    )
    return image


def generate_non_digits(directory: Path, photos_dir: Path | None, count_per_kind: int = 100, seed: int = 3):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(seed)
    written = []
    for index in range(count_per_kind):
        character = LETTERS[index % len(LETTERS)]
        path = directory / f"letter_{index:03d}.png"
        _letter(character, FONT_FILES[index % len(FONT_FILES)], generator).save(path)
        written.append(NonDigit(path, "letter"))
        size = tuple(int(v) for v in generator.integers(100, 500, 2))
        noise = generator.uniform(0, 255, size[::-1]) if index % 2 else generator.normal(128, 50, size[::-1])
        path = directory / f"noise_{index:03d}.png"
        Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(path)
        written.append(NonDigit(path, "noise"))
        path = directory / f"blank_{index:03d}.png"
        Image.new("L", size, int(generator.integers(0, 256))).save(path)
        written.append(NonDigit(path, "blank"))
    if photos_dir is not None:
        for path in sorted(Path(photos_dir).glob("*.jpg"))[:count_per_kind]:
            written.append(NonDigit(path, "photo"))
    return written
