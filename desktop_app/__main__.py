"""Start the Fintech ML Workbench: `python -m desktop_app` (see --help)."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app", description=__doc__)
    parser.add_argument("--data-dir", help="folder holding the datasets (for evaluation and retraining)")
    parser.add_argument("--ready-file", type=Path, help="write the time the window appeared to this file")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the installation (models, every tool on the samples; the window too if there is a "
        "display) and exit with status 1 on any failure",
    )
    arguments = parser.parse_args(argv)
    from training.core.allocator import reuse_freed_memory

    reuse_freed_memory()
    if arguments.self_test:
        close_splash()
        from desktop_app import self_test

        return self_test.run()

    from desktop_app.app import WorkbenchApp, configure_logging, create_root

    configure_logging()
    root = create_root()
    app = WorkbenchApp(root, data_dir=arguments.data_dir)

    def window_shown() -> None:
        close_splash()
        if arguments.ready_file:
            arguments.ready_file.write_text(f"{time.time():.6f}\n")
        for tab in app.tabs:
            tab.set_status("Ready. Loading models in the background…")
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


def close_splash() -> None:
    """Close PyInstaller's splash screen, shown by the built executable until the window is up."""
    try:
        import pyi_splash
    except ImportError:  # not the built executable
        return
    except KeyError:  # built, but no splash could be shown (no display)
        return
    pyi_splash.close()


def exit_now(status: int) -> None:
    """Leave without the interpreter's final clean-up: with TensorFlow's and OpenMP's thread
    pools alive it hangs or aborts one run in three (measured with --self-test). Everything
    worth keeping is already on disk (models are written atomically); flush what is buffered."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    exit_now(main())
