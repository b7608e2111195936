"""prepare_digit / read_digit_file on crafted images: every form a user's file can take."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from training import digits
from training.core import images
from training.core.errors import ImageReadError

FONT = str(__import__("pathlib").Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf")


def draw_digit(label: int, size=(320, 260), position=(40, 30), height=150, ink=20, paper=235) -> Image.Image:
    """Dark ink on light paper, deliberately off-centre."""
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    draw.text(position, str(label), fill=ink, font=ImageFont.truetype(FONT, height))
    return image


def prepared_pixels(path) -> np.ndarray:
    result = digits.read_digit_file(path)
    assert result.rejected_reason is None, result.rejected_reason
    return result.pixels.astype(np.float32)


def correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Best correlation over ±1 px shifts: centring by mass rounds to whole pixels."""
    return max(
        float(np.corrcoef(first.ravel(), np.roll(second, (dy, dx), axis=(0, 1)).ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def test_output_has_mnist_geometry(tmp_path):
    path = tmp_path / "seven.png"
    draw_digit(7).save(path)
    pixels = prepared_pixels(path)
    assert pixels.shape == (28, 28)
    rows, columns = np.flatnonzero(pixels.max(1) > 0), np.flatnonzero(pixels.max(0) > 0)
    assert 18 <= max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1) <= 21
    from scipy import ndimage

    centre = ndimage.center_of_mass(pixels)
    assert abs(centre[0] - 14) <= 1 and abs(centre[1] - 14) <= 1
    assert pixels[0].max() == 0 and pixels[:, 0].max() == 0, "background must be black, as in MNIST"
    assert pixels.max() == 255


def test_position_and_size_do_not_matter(tmp_path):
    draw_digit(4, size=(600, 500), position=(380, 260), height=180).save(tmp_path / "corner.png")
    draw_digit(4, size=(200, 200), position=(60, 40), height=110).save(tmp_path / "small.png")
    assert (
        correlation(prepared_pixels(tmp_path / "corner.png"), prepared_pixels(tmp_path / "small.png")) > 0.9
    )


@pytest.mark.parametrize(
    "variant",
    [
        "inverted",
        "rgba_transparent",
        "cmyk_jpeg",
        "sixteen_bit",
        "exif_rotated",
        "grey_paper_jpeg",
        "palette_gif",
        "tiff_float",
    ],
)
def test_file_variants_read_like_the_plain_png(tmp_path, variant):
    base = draw_digit(3)
    base.save(tmp_path / "plain.png")
    path = tmp_path / f"{variant}.bin"
    if variant == "inverted":
        Image.eval(base, lambda v: 255 - v).save(path, format="PNG")
    elif variant == "rgba_transparent":
        rgba = Image.new("RGBA", base.size, (0, 0, 0, 0))
        rgba.putalpha(Image.eval(base, lambda v: 255 - v))
        rgba.save(path, format="PNG")
    elif variant == "cmyk_jpeg":
        base.convert("RGB").convert("CMYK").save(path, format="JPEG", quality=90)
    elif variant == "sixteen_bit":
        wide = (np.asarray(base, dtype=np.uint16) * 257).astype(np.uint16)
        Image.fromarray(wide).save(path, format="PNG")
        assert Image.open(path).mode.startswith("I")
    elif variant == "exif_rotated":
        stored = base.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        stored.convert("RGB").save(path, format="JPEG", quality=95, exif=exif)
    elif variant == "grey_paper_jpeg":
        draw_digit(3, paper=150, ink=60).convert("RGB").save(path, format="JPEG", quality=35)
    elif variant == "palette_gif":
        base.convert("P").save(path, format="GIF")
    elif variant == "tiff_float":
        Image.fromarray(np.asarray(base, dtype=np.float32) / 255.0).save(path, format="TIFF")
    assert correlation(prepared_pixels(tmp_path / "plain.png"), prepared_pixels(path)) > 0.9


def test_blank_and_noise_only_images_are_rejected(tmp_path):
    Image.new("L", (300, 300), 240).save(tmp_path / "blank.png")
    generator = np.random.default_rng(0)
    speckle = np.full((300, 300), 230, np.uint8)
    speckle[generator.integers(0, 300, 3), generator.integers(0, 300, 3)] = 0
    Image.fromarray(speckle).save(tmp_path / "specks.png")
    for name in ("blank.png", "specks.png"):
        result = digits.read_digit_file(tmp_path / name)
        assert result.pixels is None
        assert "No ink" in result.rejected_reason


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("corrupt.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, "truncated or corrupt"),
        ("notes.txt", b"this is not an image\n", "not an image format"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_unreadable_files_raise_a_clear_error(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=expected):
        digits.read_digit_file(path)


def test_truncated_jpeg_is_an_error_not_a_crash(tmp_path):
    buffer = io.BytesIO()
    draw_digit(5).convert("RGB").save(buffer, format="JPEG", quality=90)
    path = tmp_path / "truncated.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        digits.read_digit_file(path)


def test_huge_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, 9_000), 1).save(path)
    with pytest.raises(ImageReadError, match="too large"):
        images.open_image(path)


def test_large_photo_is_decoded_at_reduced_size(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    draw_digit(8, size=(4000, 3000), position=(1500, 800), height=1400).convert("RGB").save(path, quality=85)
    decoded_sizes = []
    open_image = images.open_image

    def recording_open_image(*arguments, **keywords):
        image = open_image(*arguments, **keywords)
        decoded_sizes.append(image.size)
        return image

    monkeypatch.setattr(images, "open_image", recording_open_image)
    pixels = prepared_pixels(path)
    # JPEG decodes at 1/2 scale: the smallest scale that still leaves DECODE_SIDE pixels a side.
    assert decoded_sizes == [(2000, 1500)] and min(decoded_sizes[0]) >= digits.DECODE_SIDE
    small = tmp_path / "small.png"
    draw_digit(8, size=(400, 300), position=(150, 80), height=140).save(small)
    assert correlation(pixels, prepared_pixels(small)) > 0.9


def test_mnist_stroke_constant_matches_the_data(mnist):
    measured = [digits.prepare_digit(image / 255.0).stroke_fraction for image in mnist.x_test[:300]]
    assert abs(np.median(measured) - digits.MNIST_STROKE_FRACTION) < 0.015


def test_mnist_digits_survive_the_user_image_path(mnist, cnn_predictor):
    """MNIST digits sent through the user-image path must still be recognised."""
    prepared = np.stack([digits.prepare_digit(image / 255.0).pixels for image in mnist.x_test[:500]])
    accuracy = (cnn_predictor.predict_pixels(prepared).argmax(1) == mnist.y_test[:500]).mean()
    assert accuracy >= 0.98
