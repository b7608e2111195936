"""One loaded copy of each model, shared by every tab.

A model is loaded (off the Tk thread) the first time any tab asks for it, by the predictor of
the tool that made it, and every tab hears when it is ready or replaced: the Digits tab's
"not a digit" gate and the Anomaly tab use the same `anomaly-all-digits`, so a retrain,
revert or saved threshold in one is what the other uses next.
"""

from __future__ import annotations

import gc
from collections.abc import Callable


def freeze_long_lived_objects() -> None:
    """Once TensorFlow and a model are loaded, a full garbage collection walks their hundreds
    of thousands of objects while holding the GIL: a 200 ms freeze of the window in the middle
    of scoring a folder (bench/anomaly_bench.py). They live as long as the app, so exempt
    them from collection."""
    gc.freeze()


def load_model(name: str, registry):
    """Runs on a worker thread: load and verify the model in use under `name` with the
    predictor of the tool its manifest record names."""
    from training import anomaly, digits, forgery

    # The Imbalanced tab's saved models are loaded where a CSV is scored, fresh each time.
    predictors = {
        "digits": digits.DigitsPredictor,
        "anomaly": anomaly.AnomalyPredictor,
        "forgery": forgery.ForgeryPredictor,
    }
    tool = registry.entry(name).record.get("tool")
    return predictors[tool].load(name, registry)


class ModelCache:
    def __init__(self, app):
        self.app = app
        self.loaded: dict[str, object] = {}
        self._waiting: dict[str, list[Callable[[object], None]]] = {}

    def with_model(self, name: str, callback: Callable[[object], None]) -> None:
        """Call `callback(predictor)` on the Tk thread once the model is loaded."""
        if name in self.loaded:
            callback(self.loaded[name])
            return
        waiting = self._waiting.setdefault(name, [])
        waiting.append(callback)
        if len(waiting) > 1:
            return
        self._say(name, f"Loading model {name}…")

        def loaded(predictor) -> None:
            self._put(name, predictor, replaced=False, status="Model {name} ready ({origin}: {file}).")
            for waiting_callback in self._waiting.pop(name, []):
                waiting_callback(predictor)

        def failed(error, details) -> None:
            self._waiting.pop(name, None)
            self.app.show_error(error, details)

        self.app.jobs.submit(
            f"load {name}",
            lambda _job: load_model(name, self.app.registry),
            on_success=loaded,
            on_error=failed,
        )

    def reload(self, name: str) -> None:
        """Swap in the model now registered under `name`: the old one serves until the new
        one has loaded, then one assignment on the Tk thread replaces it for every tab."""
        self.app.jobs.submit(
            f"reload {name}",
            lambda _job: load_model(name, self.app.registry),
            on_success=lambda predictor: self._put(
                name, predictor, replaced=True, status="Now using {name} ({origin}: {file})."
            ),
        )

    def _put(self, name: str, predictor, replaced: bool, status: str) -> None:
        self.loaded[name] = predictor
        freeze_long_lived_objects()
        entry = predictor.entry
        self._say(name, status.format(name=name, origin=entry.origin, file=entry.path.name))
        for tab in self.app.tabs:
            tab.on_model_ready(name, replaced)

    def _say(self, name: str, text: str) -> None:
        """Tell the tabs that use the model `name` (only those: each tab has its own status)."""
        for tab in self.app.tabs:
            if name in tab.model_names():
                self.app.set_status(text, tab)
