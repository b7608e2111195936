"""Render the sample inputs shipped in assets/samples/ (used by the demo, README and tests).

Made by the project's own code, so they can be redistributed: `python -m bench.make_sample_assets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas

from bench.user_digits import HAND_DRAWN, render_user_digit
from training import paths

SAMPLE_STYLES = ("DejaVuSans.ttf", HAND_DRAWN)


def make_digit_samples(directory: Path, seed: int = 14) -> list[Path]:
    """Ten samples, one per digit. The seed is one whose samples both bundled models read
    unambiguously: samples demonstrate and self-test; accuracy is measured on the
    generated set of bench/user_digits.py."""
    directory.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(seed)
    written = []
    for label in range(10):
        style = SAMPLE_STYLES[label % 2]
        image = render_user_digit(label, style, generator)
        path = directory / f"digit_{label}.png"
        image.save(path, optimize=True)
        written.append(path)
    return written


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


def make_brand_images(directory: Path) -> list[Path]:
    """The app icon (256 px) and the splash screen the built executable shows at launch."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    icon = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((8, 8, 248, 248), radius=44, fill=(31, 78, 121, 255))
    for index, height in enumerate((70, 120, 95, 170)):
        left = 44 + index * 44
        draw.rectangle((left, 212 - height, left + 30, 212), fill=(120, 190, 250, 255))
    draw.line((40, 170, 100, 110, 150, 135, 220, 60), fill=(255, 196, 61, 255), width=10, joint="curve")
    splash = Image.new("RGB", (520, 300), (31, 78, 121))
    splash.paste(icon.resize((128, 128)), (24, 86), icon.resize((128, 128)))
    draw = ImageDraw.Draw(splash)
    draw.text((172, 110), "Fintech ML", font=ImageFont.truetype(str(font_path), 40), fill="white")
    draw.text((172, 158), "Workbench", font=ImageFont.truetype(str(font_path), 40), fill=(120, 190, 250))
    icon_path, splash_path = directory / "icon.png", directory / "splash.png"
    icon.save(icon_path, optimize=True)
    splash.save(splash_path, optimize=True)
    return [icon_path, splash_path]


if __name__ == "__main__":
    print(*make_brand_images(paths.assets_dir()), sep="\n")
    samples = paths.assets_dir() / "samples"
    for path in make_digit_samples(samples / "digits"):
        print(path)
    (samples / "tables").mkdir(parents=True, exist_ok=True)
    print(write_mixed_csv(samples / "tables" / "transactions.csv", rows=2000, positive_rate=0.05))
