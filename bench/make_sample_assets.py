"""Render the sample inputs shipped in assets/samples/ (used by the demo, README and tests).

Made by the project's own code, so they can be redistributed: `python -m bench.make_sample_assets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


if __name__ == "__main__":
    for path in make_digit_samples(paths.assets_dir() / "samples" / "digits"):
        print(path)
