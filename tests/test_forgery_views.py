"""The forensic views beside ELA: each finds what it is for where it was planted, and stays
quiet on an untouched photo; which views agree with the model's heatmap; `--views` on the
command line adds a "views" object and changes nothing else."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from tests.helpers import exif_with_thumbnail, render_photo, run_cli
from training import forgery
from training.core import paths
from training.core.errors import InvalidInputError
from training.forgery import clones, views
from training.forgery.clone_training import copy_move

SAMPLE = paths.assets_dir() / "samples" / "photos" / "authentic.jpg"


def jpeg(image: Image.Image, quality: int, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def resaved(image: Image.Image, quality: int) -> Image.Image:
    return decoded(jpeg(image, quality))


def overlaps(box, mask: Image.Image) -> bool:
    left, top, right, bottom = box
    return bool((np.asarray(mask)[top:bottom, left:right] > 0).any())


# Clones ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("scale", "rotation"), [(1.0, 0.0), (1.0, 30.0)])
def test_a_planted_copy_move_is_found_where_it_was_made(scale, rotation):
    photo = Image.open(SAMPLE).convert("RGB")
    box = (44, 148, 118, 222)
    forged, mask = copy_move(photo, box, (224, 49), scale, rotation)
    detection = forgery.detect_clones(resaved(forged, 85), display=(224, 148))
    # The copy and its source, whichever way round the matches were read (the cat's two eyes
    # may be reported too: a natural look-alike pair).
    (region,) = [
        found for found in detection.regions if overlaps(found.source, mask) or overlaps(found.target, mask)
    ]
    source_mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(source_mask).rectangle(box, fill=255)
    assert {overlaps(region.source, mask), overlaps(region.target, mask)} == {True, False}
    assert overlaps(region.source, source_mask) or overlaps(region.target, source_mask)
    assert abs(abs(region.rotation_degrees) - rotation) < 8
    assert detection.to_json()["regions_found"] == len(detection.regions)
    assert detection.image.size == (224, 148)


@pytest.mark.slow
def test_a_turned_copy_grows_as_one_patch_of_the_dense_field_at_its_turn():
    photo = Image.open(SAMPLE).convert("RGB")
    box = (44, 148, 118, 222)
    forged, mask = copy_move(photo, box, (224, 49), 1.0, 135.0)
    luminance, _ = clones.working_luminance(resaved(forged, 85), clones.CloneSettings().work_side)
    sources, targets, _ = clones.dense_look_alikes(ndimage.gaussian_filter(luminance, 1.0))
    patches = clones.turned_patches(
        sources, targets, clones.dense_stride(luminance.shape), clones.CloneSettings()
    )
    copied = np.asarray(mask) > 0
    turns = []
    for patch_sources, patch_targets in patches:
        scale, rotation = clones._transform(patch_sources, patch_targets)
        points = np.concatenate([patch_sources, patch_targets]).astype(int)
        if copied[points[:, 0], points[:, 1]].mean() >= 0.4:  # half of each pair lands on the copy
            turns.append(abs(rotation))
            assert abs(scale - 1) < 0.05
    assert turns and all(abs(turn - 135) < 5 for turn in turns)


@pytest.mark.slow
def test_untouched_street_scenes_with_rows_of_identical_windows_show_no_clone():
    for seed in (5, 102):
        detection = forgery.detect_clones(resaved(render_photo((960, 720), seed=seed), 85))
        assert detection.regions == [], detection.to_json()


@pytest.mark.slow
def test_a_small_plain_copy_is_found_by_the_dense_search():
    # A 44-pixel stamp: the sparse rings (12 px) see little of it unmixed; the dense field does.
    photo = Image.open(SAMPLE).convert("RGB")
    forged, mask = copy_move(photo, (150, 20, 194, 64), (20, 90))
    luminance, _ = clones.working_luminance(resaved(forged, 80), clones.CloneSettings().work_side)
    sources, targets, _ = clones.dense_look_alikes(ndimage.gaussian_filter(luminance, 1.0))
    copied = np.asarray(mask) > 0
    landing = copied[targets[:, 0].astype(int), targets[:, 1].astype(int)]
    leaving = copied[sources[:, 0].astype(int), sources[:, 1].astype(int)]
    assert (landing | leaving).sum() >= 20
    detection = forgery.detect_clones(resaved(forged, 80))
    assert any(overlaps(region.source, mask) or overlaps(region.target, mask) for region in detection.regions)


@pytest.mark.slow
def test_a_periodic_pattern_lines_up_at_its_period_and_shows_no_clone():
    # Tiles repeated across a wall: every shift by whole tiles lines up, which no copy does.
    generator = np.random.default_rng(4)
    tile = ndimage.gaussian_filter(generator.normal(128, 40, (23, 31)), 1.0)
    wall = np.tile(tile, (14, 13))[:300, :400]
    noisy = wall + generator.normal(0, 3, wall.shape)
    photo = Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).convert("RGB")
    assert forgery.detect_clones(resaved(photo, 85)).regions == []


def test_the_part_too_flat_to_check_for_copies_is_measured_dimmed_and_said():
    # A clear sky over the upper half: no point there can be matched, so a copy there (sky onto
    # sky) could not show. The view says how much of the photo that is, and dims it.
    pixels = np.asarray(Image.open(SAMPLE).convert("RGB")).copy()
    half = pixels.shape[0] // 2
    pixels[:half] = np.linspace(150, 200, pixels.shape[1]).astype(np.uint8)[None, :, None]
    photo = resaved(Image.fromarray(pixels), 90)
    detection = forgery.detect_clones(photo, display=photo.size)
    assert 0.45 <= detection.flat_share <= 0.75
    assert detection.to_json()["flat_share"] == round(detection.flat_share, 3)
    brightness = np.asarray(detection.image.convert("L"), float) + 1
    own = np.asarray(photo.convert("L"), float) + 1
    assert np.median(brightness[: half - 20] / own[: half - 20]) == pytest.approx(
        clones.FLAT_BRIGHTNESS, abs=0.02
    )
    assert np.median(brightness[half + 20 :] / own[half + 20 :]) == pytest.approx(1.0, abs=0.02)
    assert f"{detection.flat_share:.0%} of the photo (dimmed) is too flat to check" in views.view_figures(
        "clones", detection
    )


def test_look_alikes_along_a_straight_edge_do_not_end_the_search_for_a_copy():
    # Pairs along one straight edge, all one shift, outnumber the copy's; refitted, they make
    # a shear, which is no copy. The search passes them over and still finds the copy.
    edge = np.stack([np.full(40, 100.0), np.linspace(20, 300, 40)], axis=1)
    rows, columns = np.mgrid[200:230:6, 40:70:6]
    copy = np.stack([rows.ravel(), columns.ravel()], axis=1).astype(float)
    sources = np.concatenate([edge, copy])
    targets = np.concatenate([edge + [60, 150], copy + [10, 250]])
    groups = clones.consistent_groups(sources, targets, clones.CloneSettings())
    assert [len(group_sources) for group_sources, _ in groups] == [len(copy)]
    ((group_sources, group_targets),) = groups
    assert np.allclose(group_targets - group_sources, [10, 250])


def test_clone_settings_refuse_values_out_of_range():
    with pytest.raises(InvalidInputError, match="ratio"):
        forgery.CloneSettings(ratio=1.5)
    with pytest.raises(InvalidInputError, match="minimum probability"):
        forgery.CloneSettings(min_probability=1.0)
    with pytest.raises(InvalidInputError, match="too small"):
        forgery.detect_clones(Image.new("RGB", (60, 60)))


# JPEG ghosts ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_region_saved_at_another_quality_shows_its_own_ghost_minimum():
    photo = render_photo((960, 720), seed=5)
    earlier = resaved(photo, 60)
    forged = photo.copy()
    forged.paste(earlier.crop((320, 160, 576, 416)), (320, 160))  # on the 8×8 grid
    ghosts = forgery.jpeg_ghosts(resaved(forged, 90), display=(480, 360))
    assert ghosts.quality_minimum == 90
    assert ghosts.ghost_quality in (55, 60, 65), ghosts.to_json()
    rows, columns = np.nonzero(ghosts.suspect)
    tile = views.GHOST_BLOCK
    inside = (rows * tile >= 144) & (rows * tile < 416) & (columns * tile >= 304) & (columns * tile < 576)
    assert inside.mean() > 0.8
    assert ghosts.image.size == (480, 360)

    untouched = forgery.jpeg_ghosts(resaved(photo, 90))
    assert untouched.quality_minimum == 90 and untouched.ghost_quality is None


# Noise residual -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_region_with_another_noise_level_stands_out_in_the_residual():
    photo = render_photo((960, 720), seed=5)
    pixels = np.asarray(photo, np.float32).copy()
    pixels[192:416, 96:320] += np.random.default_rng(0).normal(0, 8, (224, 224, 3))
    noisy = resaved(Image.fromarray(pixels.clip(0, 255).astype(np.uint8)), 95)
    noise = forgery.noise_residual(noisy, display=(480, 360))
    tile = noise.settings.block
    region = noise.sigma[192 // tile : 416 // tile, 96 // tile : 320 // tile]
    assert np.median(region) > 2 * noise.median_sigma
    assert noise.suspect[192 // tile : 416 // tile, 96 // tile : 320 // tile].mean() > 0.5
    assert noise.highest_ratio > 2
    untouched = forgery.noise_residual(resaved(photo, 95))
    assert untouched.outlier_share < noise.outlier_share / 3


# EXIF thumbnail -------------------------------------------------------------------------------
def test_the_exif_thumbnail_matches_the_photo_until_the_photo_is_edited(tmp_path):
    photo = render_photo((640, 480), seed=5)
    thumbnail = photo.resize((160, 120))
    same, edited_path = tmp_path / "same.jpg", tmp_path / "edited.jpg"
    same.write_bytes(jpeg(photo, 90, exif_with_thumbnail(thumbnail)))
    edited = photo.copy()
    ImageDraw.Draw(edited).rectangle((400, 60, 560, 220), fill=(20, 200, 30))
    edited_path.write_bytes(jpeg(edited, 90, exif_with_thumbnail(thumbnail)))

    matching = forgery.thumbnail_comparison(same, decoded(same.read_bytes()))
    assert matching.present and matching.aspect_matches and matching.differs is False
    changed = forgery.thumbnail_comparison(edited_path, decoded(edited_path.read_bytes()), display=(320, 240))
    assert changed.differs and changed.changed_share > 0
    rows, columns = np.nonzero(changed.suspect)
    tile_pixels = views.THUMBNAIL_TILE * 4  # the thumbnail is a quarter of the photo's size
    assert (columns * tile_pixels >= 360).all() and (rows * tile_pixels <= 240).all()

    none = tmp_path / "none.jpg"
    none.write_bytes(jpeg(photo, 90))
    assert forgery.thumbnail_comparison(none, photo).to_json()["present"] is False


# All views, the agreement and the command line ---------------------------------------------------
def test_agreement_says_which_views_point_where_the_heatmap_does():
    flagged = np.zeros((10, 10), bool)
    flagged[2:4, 2:4] = True
    agreeing = views.ForensicViews(
        noise=views.NoiseResidual(views.NoiseSettings(), np.ones((10, 10)), flagged, 1.0, 0.04, 3.0)
    )
    block_map = np.zeros((40, 40))  # 8×8 blocks of a 320×320 photo; the noise tiles are 32 px
    block_map[8:16, 8:16] = 0.9
    assert forgery.agreement_with_heatmap(agreeing, block_map)["noise"] == views.AGREES
    block_map[:] = 0
    block_map[30:38, 30:38] = 0.9
    answers = forgery.agreement_with_heatmap(agreeing, block_map)
    assert answers["noise"] == views.ELSEWHERE and answers["ghosts"] == views.NO_DATA
    assert forgery.agreement_with_heatmap(agreeing, np.zeros((40, 40)))["noise"] == views.MODEL_SILENT


def test_views_settings_refuse_values_out_of_range_and_a_tiny_photo_says_why():
    with pytest.raises(InvalidInputError, match="ghost quality"):
        forgery.GhostSettings(shown_quality=72)
    with pytest.raises(InvalidInputError, match="Noise block"):
        forgery.NoiseSettings(block=20)
    tiny = forgery.forensic_views("tiny.png", Image.new("RGB", (40, 30), (90, 90, 90)))
    assert tiny.clones is None and "too small" in tiny.unavailable["clones"]
    assert "unavailable" in tiny.to_json()["clones"]


@pytest.mark.slow
def test_predict_views_json_adds_views_and_keeps_every_other_key():
    plain = run_cli("predict", "forgery", str(SAMPLE), "--json")
    with_views = run_cli("predict", "forgery", str(SAMPLE), "--json", "--views")
    assert plain.returncode == 0 and with_views.returncode == 0, with_views.stderr
    before, after = json.loads(plain.stdout), json.loads(with_views.stdout)
    assert {key: value for key, value in after.items() if key != "views"} == before
    assert set(after["views"]) == set(forgery.VIEW_NAMES)
    clones = after["views"]["clones"]
    assert clones["regions_found"] == len(clones["regions"])  # (the cat's two eyes are a look-alike pair)
    assert after["views"]["ghosts"]["quality_minimum"] in forgery.GHOST_QUALITIES
    assert after["views"]["thumbnail"]["present"] is False
    assert all("agreement" in view for view in after["views"].values())
