"""Render the sample inputs shipped in assets/samples/ (used by the demo, README and tests).

Made by the project's own code, so they can be redistributed: `python -m bench.make_sample_assets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers import (
    HAND_DRAWN,
    render_user_digit,
    write_mixed_csv,
)
from training.core import paths

SAMPLE_STYLES = ("DejaVuSans.ttf", HAND_DRAWN)


def make_digit_samples(directory: Path, seed: int = 14) -> list[Path]:
    """Ten samples, one per digit. The seed is one whose samples both bundled models read
    unambiguously: samples demonstrate and self-test; accuracy is measured on the
    generated set of `generate_user_digits` (tests/helpers.py)."""
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


SAMPLE_EXIF = {
    0x010E: "Sample photo made by bench/make_sample_assets.py",  # ImageDescription
    0x0131: "Fintech ML Workbench sample generator",  # Software
}


def _exif():
    from PIL import Image

    exif = Image.Exif()
    for tag, value in SAMPLE_EXIF.items():
        exif[tag] = value
    return exif


def render_screenshot(size: tuple[int, int] = (1280, 720)):
    """A screen capture look-alike: window chrome, a table and a bar chart, saved losslessly."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    font = ImageFont.truetype(str(font_path), 15)
    image = Image.new("RGB", size, (236, 238, 241))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 34), fill=(45, 62, 80))
    draw.text((14, 8), "Quarterly transfers – dashboard", font=font, fill="white")
    draw.rectangle((20, 56, 620, 690), fill="white", outline=(200, 200, 205))
    generator = np.random.default_rng(7)
    for row in range(18):
        top = 70 + row * 34
        if row % 2:
            draw.rectangle((21, top - 6, 619, top + 26), fill=(246, 247, 250))
        amount = generator.lognormal(7, 1)
        draw.text((36, top), f"TX-{10230 + row}", font=font, fill=(40, 40, 40))
        draw.text((200, top), f"{amount:>12,.2f} EUR", font=font, fill=(40, 40, 40))
        draw.text((420, top), ("cleared", "pending", "flagged")[row % 3], font=font, fill=(40, 40, 40))
    draw.rectangle((650, 56, 1260, 690), fill="white", outline=(200, 200, 205))
    for bar in range(10):
        height = int(generator.integers(80, 520))
        draw.rectangle((690 + bar * 56, 660 - height, 730 + bar * 56, 660), fill=(59, 125, 216))
    return image


def make_forgery_samples(directory: Path) -> list[Path]:
    """Sample photos from scikit-image's bundled images (public domain / CC0, redistributable;
    needed only to regenerate the assets): authentic.jpg (Chelsea the cat, one JPEG save at
    quality 88, as a camera leaves it), tampered.jpg (the coffee photo saved at 88, then the
    cat's head from a quality-70 copy pasted in, off the 8×8 grid with a soft edge, saved
    again at 92) and screenshot.png (screen-sized, lossless: the trust warnings' case)."""
    import io

    import skimage.data
    from PIL import Image, ImageDraw, ImageFilter

    def camera_jpeg(pixels: np.ndarray, quality: int) -> Image.Image:
        buffer = io.BytesIO()
        Image.fromarray(pixels).convert("RGB").save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    directory.mkdir(parents=True, exist_ok=True)
    authentic_path = directory / "authentic.jpg"
    # Cut to whole 8×8 blocks, as a camera frame is (else the trust check rightly says "resized").
    Image.fromarray(skimage.data.chelsea()[:296, :448]).save(authentic_path, "JPEG", quality=88, exif=_exif())
    host = camera_jpeg(skimage.data.coffee(), 88)
    head = camera_jpeg(skimage.data.chelsea(), 70).crop((100, 0, 380, 230)).resize((180, 148))
    feather = Image.new("L", head.size, 0)
    ImageDraw.Draw(feather).ellipse((2, 2, head.width - 3, head.height - 3), fill=255)
    host.paste(head, (333, 145), feather.filter(ImageFilter.GaussianBlur(1)))
    tampered_path = directory / "tampered.jpg"
    host.save(tampered_path, "JPEG", quality=92, exif=_exif())
    screenshot_path = directory / "screenshot.png"
    render_screenshot().save(screenshot_path, optimize=True)
    return [authentic_path, tampered_path, screenshot_path]


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
    for path in make_forgery_samples(samples / "photos"):
        print(path)
