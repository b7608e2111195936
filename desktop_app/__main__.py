"""Start the Fintech ML Workbench: `python -m desktop_app` (see --help)."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app", description=__doc__)
    parser.add_argument("--data-dir", help="folder holding the datasets (for evaluation and retraining)")
    parser.add_argument("--ready-file", type=Path, help="write the time the window appeared to this file")
    arguments = parser.parse_args(argv)

    from desktop_app.app import WorkbenchApp, configure_logging, create_root

    configure_logging()
    root = create_root()
    app = WorkbenchApp(root, data_dir=arguments.data_dir)

    def window_shown() -> None:
        if arguments.ready_file:
            arguments.ready_file.write_text(f"{time.time():.6f}\n")
        app.set_status("Ready. Loading models in the background…")
        for tab in app.tabs:
            tab.start_loading()

    def when_mapped(event=None) -> None:
        # Children's <Map> events reach the root's binding too: only the root's counts.
        if event is not None and event.widget is not root:
            return
        if root.winfo_ismapped():
            root.unbind("<Map>")
            window_shown()
        elif event is None:
            root.bind("<Map>", when_mapped)

    root.after_idle(when_mapped)
    root.mainloop()
    return 0


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
