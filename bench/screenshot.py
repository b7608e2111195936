"""Take the README's screenshot: the real app under Xvfb after dropping the sample digits.

xvfb-run -a -s "-screen 0 1280x900x24" python -m bench.screenshot [OUTPUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PIL import ImageGrab


def main() -> None:
    os.environ.setdefault("FINTECH_USER_DIR", tempfile.mkdtemp())
    from desktop_app.app import WorkbenchApp, create_root
    from desktop_app.automation import simulate_drop, wait_until
    from training import paths

    output = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.assets_dir() / "screenshot-digits.png"
    samples = sorted((paths.assets_dir() / "samples" / "digits").glob("digit_*.png"))
    root = create_root()
    app = WorkbenchApp(root)
    root.geometry("1100x720+0+0")
    tab = app.tabs[0]
    tab.start_loading()
    wait_until(root, lambda: "digits-cnn" in tab.predictors, 120, "the model")
    simulate_drop(tab.drop_zone.area, samples)
    wait_until(root, lambda: len(tab.results.rows()) == len(samples), 60, "the predictions")
    tab.results.tree.selection_set(str(samples[3]))
    for _ in range(20):
        root.update()
    # The menu bar is a window of its own above the root's client area: start at the top.
    x, top, bottom = root.winfo_rootx(), root.winfo_y(), root.winfo_rooty() + root.winfo_height()
    ImageGrab.grab(bbox=(x, top, x + root.winfo_width(), bottom), xdisplay=os.environ["DISPLAY"]).save(output)
    print(output)
    root.destroy()


if __name__ == "__main__":
    main()
