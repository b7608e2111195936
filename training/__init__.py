"""The Fintech ML Workbench engine: data, models, training, evaluation, model registry.

Nothing in this package imports Tk, so the CLI, the tests, the benchmarks and the GUI all
share it. TensorFlow is imported lazily, inside the functions that need it.
"""
