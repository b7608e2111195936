"""Error Level Analysis, JPEG quality estimation and the trust pre-check on crafted images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from training import forgery
from training.core import images, paths
from training.forgery import ela

PHOTOS = sorted((paths.data_dir() / "bsds500").glob("*.jpg"))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


@pytest.fixture(scope="module")
def photos():
    return [Image.open(path).convert("RGB") for path in PHOTOS[:2]]


def pasted_region_mask(shape, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top + 8 : top + size - 8, left + 8 : left + size - 8] = True  # away from blocky edges
    return mask


@pytest.mark.data
def test_a_region_pasted_from_another_photo_lights_up_and_uniform_compression_does_not(photos):
    """Tampered: the host went through the camera's JPEG (quality 80), then a patch was pasted
    off the 8×8 grid and the whole saved at 95, as editors do. Control: the same composite with
    every pixel through the same two compressions. Only the tampered file's patch stands out."""
    host, donor = photos
    patch, position = donor.crop((100, 100, 228, 228)), (97, 161)
    camera = jpeg(host, 80).convert("RGB")
    camera.paste(patch, position)
    tampered = jpeg(camera, 95)
    same_history = host.copy()
    same_history.paste(patch, position)
    uniform = jpeg(jpeg(same_history, 80).convert("RGB"), 95)
    mask = pasted_region_mask((host.height, host.width), 161, 97, 128)
    settings = forgery.ElaSettings(scaling="gain", gain=20)
    lit = forgery.error_level_analysis(tampered, settings).mean(axis=2)
    flat = forgery.error_level_analysis(uniform, settings).mean(axis=2)
    assert lit[mask].mean() > 2.5 * flat[mask].mean()
    assert lit[~mask].mean() == pytest.approx(flat[~mask].mean(), rel=0.35)
    assert lit[mask].mean() / lit[~mask].mean() > 2 * flat[mask].mean() / flat[~mask].mean()


@pytest.mark.data
def test_ela_is_native_resolution_rgb_whatever_the_mode(photos):
    for mode in ("L", "RGBA", "CMYK", "P"):
        converted = photos[0].convert(mode)
        ela = forgery.error_level_analysis(converted)
        assert ela.shape == (photos[0].height, photos[0].width, 3) and ela.dtype == np.uint8
    assert forgery.error_level_analysis(photos[0]).max() == 255  # "max" scaling fills the range


@pytest.mark.parametrize("quality", [30, 50, 65, 75, 85, 90, 95, 100])
@pytest.mark.data
def test_jpeg_quality_is_read_from_the_quantisation_tables(photos, tmp_path, quality):
    path = tmp_path / f"q{quality}.jpg"
    photos[0].save(path, "JPEG", quality=quality)
    assert forgery.estimate_jpeg_quality(Image.open(path)) == quality


@pytest.mark.data
def test_png_gets_the_trust_warning_and_a_camera_jpeg_does_not(photos, tmp_path):
    png = tmp_path / "photo.png"
    photos[0].save(png)
    facts = forgery.photo_facts(png, images.open_image(png))
    assert facts.format == "PNG" and facts.jpeg_quality is None
    assert any("without JPEG compression" in warning for warning in forgery.trust_warnings(facts))
    camera = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 5D"  # Make, Model
    photos[0].resize((480, 320)).save(camera, "JPEG", quality=88, exif=exif)
    facts = forgery.photo_facts(camera, images.open_image(camera))
    assert facts.jpeg_quality == 88 and facts.exif["Make"] == "Canon"
    assert forgery.trust_warnings(facts) == []
    assert len(facts.sha256) == 64 and len(facts.average_hash) == 16


@pytest.mark.data
def test_low_quality_tiny_and_screenshot_sized_files_are_flagged(photos, tmp_path):
    cases = {
        "low.jpg": (photos[0], 40, "strong re-compression"),
        "tiny.jpg": (photos[0].resize((120, 80)), 90, "too small"),
        "screen.jpg": (photos[0].resize((1920, 1080)), 90, "screenshot"),
        "resized.jpg": (photos[0].resize((473, 311)), 90, "resized"),
    }
    for name, (image, quality, expected) in cases.items():
        image.save(tmp_path / name, "JPEG", quality=quality)
        facts = forgery.photo_facts(tmp_path / name, images.open_image(tmp_path / name))
        assert any(expected in warning for warning in forgery.trust_warnings(facts)), name


def test_ela_settings_are_validated():
    with pytest.raises(ValueError, match="quality"):
        forgery.ElaSettings(quality=0)
    with pytest.raises(ValueError, match="scaling"):
        forgery.ElaSettings(scaling="log")


def test_xmp_fields_are_read_and_editing_software_is_named(tmp_path):
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'xmp:CreatorTool="Adobe Photoshop 25.0" xmp:ModifyDate="2026-01-02T03:04:05">'
        b"<dc:format>image/jpeg</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    path = tmp_path / "edited.jpg"
    Image.new("RGB", (320, 320), "gray").save(path, quality=90, xmp=packet)
    facts = forgery.photo_facts(path, images.open_image(path))
    assert facts.xmp == {
        "xmp:CreatorTool": "Adobe Photoshop 25.0",
        "xmp:ModifyDate": "2026-01-02T03:04:05",
        "dc:format": "image/jpeg",
    }
    assert any("Adobe Photoshop 25.0" in warning for warning in forgery.trust_warnings(facts))
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (320, 320), "gray").save(plain, quality=90)
    assert forgery.photo_facts(plain, images.open_image(plain)).xmp == {}


@pytest.mark.data
def test_concurrent_resaves_of_one_image_keep_their_own_quality(photos):
    """`Image.save` keeps its options on the image object: without a copy per call, threads
    re-saving one image at different qualities (the block features do, and the tab's ELA
    preview runs beside them) could swap qualities under load."""
    from concurrent.futures import ThreadPoolExecutor

    image = photos[0]
    qualities = [50, 95] * 40
    expected = {quality: np.asarray(forgery.jpeg_roundtrip(image, quality)) for quality in (50, 95)}
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda quality: forgery.resaved_pixels(image, quality), qualities))
    assert all(np.array_equal(result, expected[q]) for result, q in zip(results, qualities, strict=True))


@pytest.mark.parametrize("size", [(481, 321), (16, 16), (203, 317), (1000, 9)])
@pytest.mark.data
def test_resaved_pixels_are_what_pil_decodes(photos, size):
    """The features decode re-saves with simplejpeg, the data tools with PIL: the same pixels,
    or training and inference would see different inputs."""
    image = photos[1].resize(size) if size != (481, 321) else photos[1]
    for quality in (*forgery.FEATURE_QUALITIES, 5, 100):
        assert np.array_equal(
            forgery.resaved_pixels(image, quality), np.asarray(forgery.jpeg_roundtrip(image, quality))
        )


@pytest.mark.data
def test_block_features_in_strips_are_the_whole_image_formula(photos):
    """A plain whole-image version of the documented formula, against the strip-by-strip one,
    on a photo whose height is not a whole number of strips (321 rows: 40 blocks, 2.5 strips)."""
    image = photos[1]
    assert (
        image.height % forgery.STRIP_ROWS
        and image.height // forgery.BLOCK > forgery.STRIP_ROWS // forgery.BLOCK
    )
    pixels = np.asarray(image, dtype=np.float64)
    rows, columns = image.height // 8, image.width // 8

    def block_mean(values):
        cut = values[: rows * 8, : columns * 8]
        return cut.reshape(rows, 8, columns, 8, *values.shape[2:]).mean(axis=(1, 3))

    ela = []
    for quality in forgery.FEATURE_QUALITIES:
        squared = (
            (pixels - np.asarray(forgery.jpeg_roundtrip(image, quality))) @ forgery.YCBCR.T.astype(np.float64)
        ) ** 2
        means = block_mean(squared)
        ela += [np.log1p(means[..., 0]), np.log1p(means[..., 1] + means[..., 2])]
    ela = np.stack(ela, axis=-1)
    luminance = pixels @ forgery.YCBCR[0].astype(np.float64)
    gradient = np.zeros_like(luminance)
    gradient[:, 1:] += np.diff(luminance, axis=1) ** 2
    gradient[1:, :] += np.diff(luminance, axis=0) ** 2
    variance = block_mean(luminance**2) - block_mean(luminance) ** 2
    content = np.stack([np.log1p(np.maximum(variance, 0)), np.log1p(block_mean(gradient))], axis=-1)
    relative = ela - np.median(ela.reshape(-1, ela.shape[-1]), axis=0)
    expected = np.concatenate([ela, content, relative], axis=-1)
    features = forgery.block_features(image)
    variance_channel = 2 * len(forgery.FEATURE_QUALITIES)  # float32 E[x²] − E[x]² loses digits on flat blocks
    others = np.delete(np.arange(features.shape[-1]), variance_channel)
    np.testing.assert_allclose(features[..., others], expected[..., others], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(features[..., variance_channel], expected[..., variance_channel], atol=0.02)


@pytest.mark.data
def test_the_preview_and_the_classifier_share_one_resave_and_see_what_they_would_alone(photos, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    image = photos[0]
    alone_ela = forgery.error_level_analysis(image)
    alone_features = forgery.block_features(image)
    made = []
    original = forgery.resaved_pixels
    monkeypatch.setattr(
        ela, "resaved_pixels", lambda picture, quality: made.append(quality) or original(picture, quality)
    )
    resaves = forgery.SharedResaves(image)
    with ThreadPoolExecutor(2) as pool:
        shared_ela = pool.submit(forgery.error_level_analysis, image, forgery.ElaSettings(), resaves)
        shared_features = pool.submit(forgery.block_features, image, resaves=resaves)
        assert np.array_equal(shared_ela.result(), alone_ela)
        assert np.array_equal(shared_features.result(), alone_features)
    assert sorted(made) == sorted(forgery.FEATURE_QUALITIES)  # quality 90 once, not twice
    other = forgery.ElaSettings(quality=70)
    assert np.array_equal(
        forgery.error_level_analysis(image, other, resaves), forgery.error_level_analysis(image, other)
    )
