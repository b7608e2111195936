"""What every tool uses: paths, errors, progress, images, datasets, Keras I/O, the model registry
and the retrain guard. Nothing here imports a tool package."""
