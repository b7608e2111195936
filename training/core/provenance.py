"""What every model's manifest record says about where the model came from, and the one way a
trained Keras model is published.

Each tool adds its own figures and settings to `provenance_record`'s keys; the registry's
manifest is the record (see `training.core.registry`).
"""

from __future__ import annotations

import numpy as np


def provenance_record(
    tool: str,
    description: str,
    data: dict,
    seed: int | None = None,
    hyper_parameters: dict | None = None,
    network=None,
    training_seconds: float | None = None,
) -> dict:
    """The keys every tool's record shares: the tool and what the model is, when it was made,
    from which data (with its fingerprint), its seed and hyper-parameters, the network's size
    and weights fingerprint, the library versions and how long training took. Keys a tool
    cannot give (a saved pipeline has no seed of its own) are left out, not written as null."""
    from datetime import UTC, datetime

    from training.core.keras_io import library_versions, weights_fingerprint

    record = {
        "tool": tool,
        "description": description,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if seed is not None:
        record["seed"] = seed
    record["data"] = data
    if hyper_parameters is not None:
        record["hyper_parameters"] = hyper_parameters
    if network is not None:
        record["parameters"] = int(network.count_params())
        record["weights_fingerprint"] = weights_fingerprint(network)
    record["library_versions"] = library_versions()
    if training_seconds is not None:
        record["training_seconds"] = round(training_seconds, 1)
    return record


def manifest_numbers(values) -> list[float]:
    """Fitted numbers as a manifest keeps them: seven significant digits keep it small and
    change no score visibly."""
    return [float(f"{value:.7g}") for value in np.ravel(values)]


def publish_network(registry, name: str, network, record: dict, headline, bundle: bool, force: bool):
    """Save a trained Keras `network` as the new version of model `name` with its `record`,
    behind the retrain guard (`training.core.model_quality.publish_checked`): in the user's
    folder and in use unless clearly worse by `headline` (or `force`), or with `bundle` into
    the shipped models/ folder. Returns the `RetrainOutcome`."""
    from training.core.keras_io import save_model
    from training.core.model_quality import publish_checked

    return publish_checked(
        registry, name, ".keras", lambda path: save_model(network, path), record, headline, bundle, force
    )
