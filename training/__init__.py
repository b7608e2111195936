"""The Fintech ML Workbench engine: data, models, training, evaluation, model registry.

Nothing in this package imports Tk, so the CLI, the tests, the benchmarks and the GUI all
share it. TensorFlow is imported lazily, inside the functions that need it.
"""

# The app's version: what case reports and About name (kept equal to pyproject.toml's, tested).
__version__ = "0.1.0"
