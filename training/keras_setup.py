"""The one place that imports Keras: lazily, with the backend and determinism settled first."""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()


def import_keras():
    """Import Keras on the TensorFlow backend (seconds, on first call); returns the module."""
    with _lock:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        return keras


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
