"""Public-domain photos that ship inside installed packages (scikit-image, matplotlib), used as
hosts and textures when synthetic training data is made; no download needed.
"""

from __future__ import annotations

from pathlib import Path

# Public-domain photos that ship inside scikit-image and matplotlib (no project data contains
# them): a second source for the held-out set, with other cameras, sizes and histories. The
# Forgery samples under assets/ are made from chelsea and coffee, so they are judged on
# photos no training run saw.
PACKAGE_PHOTOS = (
    "astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png",
    "rocket.jpg", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "camera.png", "coins.png",
    "moon.png", "brick.png", "grass.png", "gravel.png",
)  # fmt: skip


def package_photos() -> list[Path]:
    """The photos of `PACKAGE_PHOTOS` and matplotlib's grace_hopper.jpg, where installed."""
    import matplotlib
    import skimage

    skimage_data = Path(skimage.__file__).parent / "data"
    found = [skimage_data / name for name in PACKAGE_PHOTOS if (skimage_data / name).is_file()]
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return found + ([hopper] if hopper.is_file() else [])
