"""Image input of the Digits, Anomaly and Forgery tools: messages that name the file once and
say what is wrong, HEIC/HEIF/AVIF, folders without a supported file, and memory on big
images (no full-resolution float copies)."""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training import __main__ as cli
from training import digits
from training.core import images, paths
from training.core.errors import ImageReadError
from training.forgery import ela

SAMPLES = paths.assets_dir() / "samples"
DIGIT_SEVEN = SAMPLES / "digits" / "digit_7.png"
TOOLS = ("digits", "anomaly", "forgery")


def read_error(path) -> str:
    with pytest.raises(ImageReadError) as caught:
        images.open_image(path)
    return str(caught.value)


def names_once(message: str, name: str) -> bool:
    return message.startswith(f"{name}: ") and message.count(name) == 1


def run_main(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(arguments))
    return status, out.getvalue(), err.getvalue()


def predict_json(tool: str, *files) -> dict[str, dict]:
    status, out, err = run_main("predict", tool, *map(str, files), "--json")
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {Path(line["path"]).name: line for line in lines}


# Item 8: messages that say what is wrong ----------------------------------------------------------
def test_a_symlink_loop_is_not_called_a_missing_file(tmp_path):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    message = read_error(tmp_path / "a.png")
    assert names_once(message, "a.png") and "loops" in message and "no such file" not in message


def test_missing_files_and_dangling_links_are_told_apart(tmp_path):
    assert read_error(tmp_path / "gone.png") == "gone.png: no such file."
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    message = read_error(tmp_path / "link.png")
    assert names_once(message, "link.png") and "symbolic link" in message


def test_a_file_that_cannot_be_opened_says_permission_denied(tmp_path, monkeypatch):
    """EACCES used to read "truncated or corrupt". Tests run as root here, so the refusal is
    simulated where Pillow opens the file."""
    locked = tmp_path / "locked.png"
    Image.open(DIGIT_SEVEN).save(locked)
    real_open = builtins.open

    def refusing_open(file, *arguments, **keywords):
        if os.fspath(file) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(locked))
        return real_open(file, *arguments, **keywords)

    monkeypatch.setattr(builtins, "open", refusing_open)
    assert read_error(locked) == "locked.png: permission denied: cannot read it."


def test_a_folder_that_cannot_be_searched_says_permission_denied(tmp_path, monkeypatch):
    """stat() itself refused (EACCES on a folder of the path): formerly a raw PermissionError."""
    target = tmp_path / "private" / "scan.png"
    real_stat = os.stat

    def refusing_stat(path, *arguments, **keywords):
        if os.fspath(path) == str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return real_stat(path, *arguments, **keywords)

    monkeypatch.setattr(os, "stat", refusing_stat)
    assert read_error(target) == "scan.png: permission denied: cannot read it."


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_says_permission_denied_for_real(tmp_path):
    locked = tmp_path / "locked.png"
    Image.open(DIGIT_SEVEN).save(locked)
    locked.chmod(0)
    assert read_error(locked) == "locked.png: permission denied: cannot read it."


def test_a_folder_is_not_a_regular_file(tmp_path):
    folder = tmp_path / "album.png"
    folder.mkdir()
    assert read_error(folder) == "album.png: not a regular file (a folder)."


def test_a_fifo_is_refused_at_once_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    answers = []
    reader = threading.Thread(target=lambda: answers.append(read_error(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("opening a FIFO hung")
    assert answers == ["pipe.png: not a regular file (a named pipe)."]


def test_every_read_error_starts_with_the_file_name_once(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_bytes(b"hello, not an image")
    (tmp_path / "cut.png").write_bytes(DIGIT_SEVEN.read_bytes()[:300])
    for name in ("empty.png", "notes.png", "cut.png", "gone.png"):
        assert names_once(read_error(tmp_path / name), name)


def test_a_multi_frame_file_is_not_left_open(tmp_path):
    import gc
    import warnings

    path = tmp_path / "animated.gif"
    Image.new("RGB", (40, 30), "blue").save(path, save_all=True, append_images=[Image.new("RGB", (40, 30))])
    gc.collect()  # files other tests left for the collector are not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        first = images.open_image(path)
        assert first.size == (40, 30) and first.convert("RGB").getpixel((0, 0)) == (0, 0, 255)
        del first
        gc.collect()
    assert not [
        warning
        for warning in caught
        if issubclass(warning.category, ResourceWarning) and path.name in str(warning.message)
    ]


def heic_of(image: Image.Image, path: Path) -> Path:
    import pillow_heif

    pillow_heif.from_pillow(image.convert("RGB")).save(path, quality=95)
    return path


def test_heic_and_avif_are_read(tmp_path):
    seven = Image.open(DIGIT_SEVEN)
    heic = heic_of(seven, tmp_path / "seven.HEIC")
    avif = tmp_path / "seven.avif"
    seven.convert("RGB").save(avif, quality=95)
    for path in (heic, avif):
        opened = images.open_image(path)
        assert opened.size == seven.size
        difference = np.abs(images.to_grayscale(opened) - images.to_grayscale(seven))
        assert difference.mean() < 0.02
    assert images.expand_paths([tmp_path]) == [heic, avif]


def test_a_folder_of_heic_photos_is_predicted_not_no_input_files(tmp_path, cnn_predictor):
    heic_of(Image.open(DIGIT_SEVEN), tmp_path / "IMG_0001.heic")
    answers = predict_json("digits", tmp_path)
    assert answers["IMG_0001.heic"]["status"] == "ok" and answers["IMG_0001.heic"]["label"] == 7


def test_heic_without_pillow_heif_names_the_format(tmp_path, monkeypatch):
    import sys

    heic = heic_of(Image.open(DIGIT_SEVEN), tmp_path / "photo.heic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails as when not installed
    monkeypatch.setattr(images, "_heif_registered", None, raising=False)
    monkeypatch.setattr(Image, "ID", [plugin for plugin in Image.ID if plugin != "HEIF"])
    message = read_error(heic)
    assert names_once(message, "photo.heic")
    assert "HEIC" in message and "pillow-heif" in message and "not an image format" not in message


def test_no_input_files_says_what_the_folder_holds(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.xyz", "b.xyz", "c.XYZ"):
        (photos / name).write_bytes(b"data")
    status, out, err = run_main("predict", "digits", str(photos), "--json")
    assert status == 2 and out == ""
    assert "No input files: photos/ holds 3 files, none in a supported format (.xyz: 3)." in err
    (photos / "notes").write_text("")
    (photos / "raw").mkdir()
    message = images.no_inputs_message([photos, tmp_path / "empty"])
    assert "photos/ holds 4 files, none in a supported format (.xyz: 3, no suffix: 1)" in message
    assert "1 folder that is not searched" in message
    (tmp_path / "empty").mkdir()
    assert "empty/ is empty" in images.no_inputs_message([tmp_path / "empty"])


# Item 8 and 14: each message names the file once, in the CLI and in the GUI -------------------------
@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but broken")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    os.mkfifo(folder / "pipe.png")
    Image.fromarray(np.full((12, 12, 3), 128, np.uint8)).save(folder / "tiny.jpg")
    return folder


@pytest.mark.parametrize("tool", TOOLS)
def test_cli_json_messages_name_the_file_once(tool, bad_inputs):
    names = ("broken.png", "loop.png", "pipe.png", "tiny.jpg")
    answers = predict_json(tool, *(bad_inputs / name for name in names))
    assert answers["broken.png"]["message"] == "broken.png: not an image format this app can read."
    assert "loops" in answers["loop.png"]["message"]
    assert "not a regular file (a named pipe)" in answers["pipe.png"]["message"]
    for name in names[:3]:
        assert answers[name]["status"] == "error" and names_once(answers[name]["message"], name), answers[
            name
        ]
    if tool == "forgery":  # "too small for ELA" used to be the one message without the file name
        tiny = answers["tiny.jpg"]
        assert tiny["status"] == "error" and names_once(tiny["message"], "tiny.jpg")
        assert "too small for ELA" in tiny["message"]


def shown_message_of(gui, tool: str, path: Path) -> str:
    from desktop_app.automation import simulate_drop, wait_until

    tab = gui.tab({"digits": "Digits", "anomaly": "Anomaly", "forgery": "Forgery"}[tool])
    gui.notebook.select(tab)
    tab.clear()
    simulate_drop(tab.drop_zone.area, [path])
    wait_until(gui.root, lambda: len(tab.results.rows()) == 1, 60, "the answer")
    if tool == "forgery":
        wait_until(gui.root, lambda: "…" not in tab.shown_answer()["message"], 60, "the verdict")
    else:
        tab.results.tree.selection_set(str(path))
        gui.root.update()
    return tab.shown_answer()["message"]


@pytest.mark.parametrize("tool", TOOLS)
def test_gui_shows_the_file_name_once(gui, tool, bad_inputs):
    """'broken.png: broken.png: not an image format…': the tabs put the name before messages
    that already start with it."""
    message = shown_message_of(gui, tool, bad_inputs / "broken.png")
    assert message == "broken.png: not an image format this app can read."
    if tool == "forgery":
        message = shown_message_of(gui, tool, bad_inputs / "tiny.jpg")
        assert names_once(message, "tiny.jpg") and "too small for ELA" in message


# Item 10: big images without full-resolution float copies ------------------------------------------
def big_rgba(width: int, height: int, seed: int = 0) -> Image.Image:
    """Gradients, a dark digit-like stroke, transparent and half-transparent shapes."""
    generator = np.random.default_rng(seed)
    columns = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., 0] = 0.6 * columns + 0.4 * rows
    rgba[..., 1] = 255 - 0.5 * columns - 0.3 * rows
    rgba[..., 2] = 0.5 * rows + 60
    rgba[..., 3] = 255
    image = Image.fromarray(rgba)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = generator.integers(0, width // 2, 2)
        side = int(generator.integers(width // 20, width // 4))
        colour = (
            *(int(value) for value in generator.integers(0, 256, 3)),
            int(generator.choice([0, 90, 255])),
        )
        draw.ellipse((x, y, x + side, y + side), fill=colour)
    draw.line(
        [(width * 0.45, height * 0.2), (width * 0.55, height * 0.2), (width * 0.47, height * 0.8)],
        (0, 0, 0, 255),
        width // 60,
    )
    return image


def reference_flatten(image: Image.Image) -> np.ndarray:
    """The float flattening of transparent images on the whole image at once."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3:]
    luminance = rgba[..., :3] @ images.LUMINANCE_WEIGHTS
    if alpha.sum() < 1e-6:
        return np.ones_like(rgba[..., :3])
    levels = np.clip(luminance * 255, 0, 255).astype(np.uint8)
    histogram = np.bincount(levels.ravel(), weights=alpha.ravel(), minlength=256)
    light_share = histogram[128:].sum() / histogram.sum()
    low, high = images.MIXED_TONES
    if low < light_share < high:
        background = np.float32(int(np.searchsorted(np.cumsum(histogram), histogram.sum() / 2)) / 255.0)
    else:
        background = 0.0 if light_share >= high else 1.0
    return rgba[..., :3] * alpha + background * (1.0 - alpha)


def transparent_variants(image: Image.Image) -> list[Image.Image]:
    palette = image.convert("RGB").quantize(64)
    palette.info["transparency"] = 0
    clear = image.copy()
    clear.putalpha(0)
    return [image, image.convert("LA"), palette, clear, image.convert("RGBa")]


@pytest.mark.parametrize("strip_pixels", [None, 7_000])
def test_flattening_by_strips_gives_the_same_pixels(monkeypatch, strip_pixels):
    if strip_pixels is not None:  # many strips of a few rows each
        monkeypatch.setattr(images, "STRIP_PIXELS", strip_pixels, raising=False)
    for image in transparent_variants(big_rgba(640, 410)):
        expected = reference_flatten(image)
        assert np.array_equal(np.asarray(images.to_rgb(image)), (expected * 255).round().astype(np.uint8))
        gray = images.to_grayscale(image)
        assert gray.dtype == np.float32
        assert np.array_equal(gray, expected @ images.LUMINANCE_WEIGHTS)


def numpy_peak(function, *arguments) -> tuple[object, int]:
    """The result and the most memory NumPy (and Python) held at once while it ran."""
    tracemalloc.start()
    try:
        result = function(*arguments)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


MB = 1024**2


def test_transparent_photo_becomes_rgb_without_a_float_copy_of_it():
    """Forgery's full-resolution path: 12.6 MP RGBA as float32 is 201 MB, and the old
    flattening held several such arrays at once."""
    image = big_rgba(4096, 3072)
    rgb, peak = numpy_peak(images.to_rgb, image)
    assert rgb.mode == "RGB" and rgb.size == image.size
    assert peak < 80 * MB, f"{peak / MB:.0f} MB"


def test_digits_and_anomaly_read_a_big_png_at_working_size(tmp_path):
    """They need ≤ DECODE_SIDE pixels: a big PNG is reduced in 8 bits right after decoding,
    before any float conversion (there is no JPEG-style draft for PNG)."""
    path = tmp_path / "big.png"
    big_rgba(4096, 3072).save(path, compress_level=1)
    prepared, peak = numpy_peak(digits.read_digit_file, path)
    assert peak < 80 * MB, f"{peak / MB:.0f} MB"
    opened = images.open_image(path, draft_size=(digits.DECODE_SIDE, digits.DECODE_SIDE))
    assert opened.size == (1366, 1024) and opened.mode == "RGBA"


def test_reduced_digits_read_like_full_resolution_ones(tmp_path, cnn_predictor):
    """The reduced path gives (nearly) the 28×28 input that the full-resolution one gave."""
    seven = Image.open(DIGIT_SEVEN).convert("L").resize((3400, 2860), Image.Resampling.BICUBIC)
    path = tmp_path / "seven.png"
    seven.save(path)
    full = digits.prepare_digit(images.to_grayscale(seven))
    reduced = digits.read_digit_file(path)
    assert np.abs(full.pixels.astype(int) - reduced.pixels.astype(int)).mean() < 2.0
    assert cnn_predictor.predict_file(path).label == 7


def test_reduction_matches_pillow_and_keeps_orientation(tmp_path):
    image = big_rgba(2300, 2100)
    for variant in (image, image.convert("LA"), image.convert("RGB"), image.convert("L")):
        assert np.array_equal(np.asarray(images._reduce(variant, 2)), np.asarray(variant.reduce(2)))
    sixteen = Image.fromarray(
        (np.arange(2100 * 2300, dtype=np.uint32).reshape(2100, 2300) % 65536).astype(np.uint16)
    )
    assert images._reduce(sixteen, 2).mode == "I;16"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif)
    upright = images.open_image(path, draft_size=(1024, 1024))
    assert upright.size == (1050, 1150)
    assert images.open_image(path).size == (2100, 2300)


def test_forgery_resaves_share_pixels_and_give_the_same_bytes():
    photo = Image.open(SAMPLES / "photos" / "authentic.jpg").convert("RGB")
    for quality in (50, 90):
        buffer = io.BytesIO()
        photo.copy().save(buffer, "JPEG", quality=quality)
        assert ela._jpeg_bytes(photo, quality) == buffer.getvalue()


def test_transparent_margins_around_a_digit_on_paper_stay_paper(tmp_path):
    from PIL import Image, ImageDraw

    from training.core.images import to_grayscale

    sheet = Image.new("LA", (120, 160), (255, 255))
    ImageDraw.Draw(sheet).text((20, 40), "3", fill=(0, 255), font_size=90)
    sheet.paste((0, 0), (0, 0, 120, 30))  # transparent bands above and below the paper
    sheet.paste((0, 0), (0, 130, 120, 160))
    gray = to_grayscale(sheet)
    assert gray[:30].min() == 1.0 and gray[130:].min() == 1.0  # read as the (white) paper, not black
    ink_only = Image.new("LA", (60, 60), (0, 0))
    ImageDraw.Draw(ink_only).rectangle((20, 10, 30, 50), fill=(250, 255))  # light ink alone
    assert to_grayscale(ink_only)[0, 0] == 0.0  # contrasting: light ink on black
