"""The one place that imports Keras: lazily, with the backend and determinism settled first."""

from __future__ import annotations

import os
import threading
import time

import numpy
import numpy as np

from training.core.progress import CancelToken, Progress, ProgressCallback

_lock = threading.Lock()


def import_keras():
    """Import Keras on the TensorFlow backend (seconds, on first call); returns the module."""
    with _lock:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        return keras


def load_verified_model(name: str, registry=None):
    """(Keras model, registry entry) for the model in use under `name`, after its sha256
    check; loaded in safe mode (no code from the file runs) and uncompiled."""
    from training.core.registry import ModelRegistry

    path, entry = (registry or ModelRegistry()).verified_path(name)
    return import_keras().saving.load_model(path, safe_mode=True, compile=False), entry


def run_model(model, inputs, batch_size: int = 500):
    """Outputs of `model` for a batch: the compiled predict step for a few images (about
    1 ms for one image, against 7 ms for an eager call and more for `predict`), batched
    `predict` for many."""
    if len(inputs) <= 32:
        outputs = model.predict_on_batch(inputs)
    else:
        outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    if isinstance(outputs, (list, tuple)):
        return [numpy.asarray(output) for output in outputs]
    return numpy.asarray(outputs)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's kernels deterministic."""
    keras = import_keras()
    import tensorflow

    keras.utils.set_random_seed(seed)
    tensorflow.config.experimental.enable_op_determinism()


def library_versions() -> dict[str, str]:
    import platform

    import numpy
    import PIL
    import sklearn

    keras = import_keras()
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "scikit-learn": sklearn.__version__,
    }


def progress_callback(report: ProgressCallback, cancel: CancelToken, epochs: int):
    """A Keras callback that reports progress with an ETA and stops training on cancel."""
    keras = import_keras()

    class ReportProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()
            self.steps = self.params.get("steps") or 1

        def on_train_batch_end(self, batch, logs=None):
            if cancel.cancelled:
                self.model.stop_training = True
            if batch % 20 == 0:
                self._report(self.epoch * self.steps + batch + 1, "", logs)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            self._report((epoch + 1) * self.steps, f"epoch {epoch + 1}/{epochs}", logs)

        def _report(self, done_steps, message, logs):
            elapsed = time.perf_counter() - self.started
            total_steps = epochs * self.steps
            eta = elapsed / done_steps * (total_steps - done_steps) if done_steps else None
            metrics = {key: float(value) for key, value in (logs or {}).items()}
            report(Progress("training", done_steps, total_steps, message, metrics, elapsed, eta))

    return ReportProgress()


def weights_fingerprint(model) -> str:
    """sha256 of the weights alone: equal for equal training runs, unlike the .keras file,
    whose zip carries a save date."""
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()


def save_model(model, path) -> None:
    """Save the architecture and weights only: the optimizer state is of no use to a user
    and would triple the file."""
    keras = import_keras()
    # Not keras.models.clone_model: in Keras 3 it copies the compiled optimizer too.
    inference_copy = keras.Model.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    inference_copy.save(path)
