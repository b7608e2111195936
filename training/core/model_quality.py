"""The retrain guard: a retrained model that scores clearly worse than the model in use is
saved but not put in use.

Each tool names its headline figure (where it sits in a manifest record's `metrics`) and how
much lower counts as clearly worse (`Headline`). `publish_checked` compares the new model's
figure with that of the model in use under the same name and publishes the new version as
the one in use only when it is not clearly worse (or when the caller forces it). Either way
the new version is saved in the user folder, so the user can still choose it later
(`ModelRegistry.use_version`), and revert and roll-back work as before.

Nothing is blocked when there is nothing to compare: no model in use under that name, or a
record (an older one, or a model with nothing to rank) without the figure. Producing the
shipped models (`bundle`) is never guarded: the maintainer is making the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.core.errors import WorkbenchError
from training.core.registry import ModelEntry, ModelRegistry, publish


@dataclass(frozen=True)
class Headline:
    """The figure a tool judges a retrained model by: its keys in a record's `metrics`
    (nested), its name in messages, and the absolute drop below the model in use beyond
    which the new model is clearly worse (higher figures are better)."""

    keys: tuple[str, ...]
    label: str
    margin: float
    percent: bool = False

    def read(self, metrics: object) -> float | None:
        """The figure in `metrics`, or None where it is missing or not a number."""
        value = metrics
        for key in self.keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return float(value)

    def format(self, value: float) -> str:
        return f"{value * 100:.2f} %" if self.percent else f"{value:.4f}"


@dataclass(frozen=True)
class Comparison:
    new: float | None
    in_use: float | None
    clearly_worse: bool


def compare(headline: Headline, new_metrics: object, in_use_metrics: object) -> Comparison:
    """Whether the new figure is more than `headline.margin` below the one in use; never
    clearly worse when either figure is missing."""
    new, in_use = headline.read(new_metrics), headline.read(in_use_metrics)
    # A hair of slack so that a drop of exactly the margin does not count by rounding.
    worse = new is not None and in_use is not None and in_use - new > headline.margin + 1e-9
    return Comparison(new, in_use, worse)


@dataclass(frozen=True)
class RetrainOutcome:
    """What publishing a retrained model did: `entry` is the new version as saved (in use or
    not); `activated` whether it is now the model in use; the two figures compared (None
    where missing) and a plain-sentence `message` saying what happened."""

    entry: ModelEntry
    activated: bool
    forced: bool
    figure: str
    new_figure: float | None
    in_use_figure: float | None
    message: str

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def file_name(self) -> str:
        """The new version's file name in the user folder (what `use_version` takes)."""
        return self.entry.path.name


def model_in_use(registry: ModelRegistry, name: str) -> ModelEntry | None:
    """The model in use under `name`, or None when there is none (or it cannot be read: the
    guard then has nothing to compare with and must not stop the retrain)."""
    try:
        return registry.entry(name)
    except WorkbenchError:
        return None


def publish_checked(
    registry: ModelRegistry,
    name: str,
    suffix: str,
    write: Callable[[Path], None],
    record: dict,
    headline: Headline,
    bundle: bool = False,
    force: bool = False,
) -> RetrainOutcome:
    """`publish` behind the guard: the new version is saved in the user folder, and in use
    unless its headline figure is clearly worse than the model in use's (or `force`)."""
    new_figure = headline.read(record.get("metrics"))
    if bundle:
        entry = publish(registry, name, suffix, write, record, bundle=True)
        message = f"{name} is saved into the bundled models as {entry.path} (not compared: a shipped model)."
        return RetrainOutcome(entry, True, force, headline.label, new_figure, None, message)
    in_use = model_in_use(registry, name)
    comparison = compare(headline, record.get("metrics"), in_use.metrics if in_use else None)
    activate = force or not comparison.clearly_worse
    entry = publish(registry, name, suffix, write, record, activate=activate)
    fingerprints = {_data_fingerprint(record), _data_fingerprint(in_use.record) if in_use else None}
    different_data = None not in fingerprints and len(fingerprints) == 2
    message = describe(name, headline, comparison, entry, activate, in_use is not None, different_data)
    return RetrainOutcome(entry, activate, force, headline.label, comparison.new, comparison.in_use, message)


def _data_fingerprint(record: dict) -> str | None:
    data = record.get("data")
    fingerprint = data.get("fingerprint") if isinstance(data, dict) else None
    return fingerprint if isinstance(fingerprint, str) else None


def describe(
    name: str,
    headline: Headline,
    comparison: Comparison,
    entry: ModelEntry,
    activated: bool,
    had_model_in_use: bool,
    different_data: bool = False,
) -> str:
    saved = f"{entry.path.name} in {entry.path.parent}"
    label = headline.label
    if comparison.new is None or comparison.in_use is None:
        if not had_model_in_use:
            reason = f"there was no {name} model in use"
        elif comparison.new is None and comparison.in_use is None:
            reason = f"neither model has a {label}"
        elif comparison.in_use is None:
            reason = f"the model in use has no {label} on record"
        else:
            reason = f"the new model has no {label}"
        return f"The new {name} is saved as {saved} and is now in use (nothing to compare: {reason})."
    new, old = headline.format(comparison.new), headline.format(comparison.in_use)
    caveat = (
        " The two figures were measured on different data, so they compare only roughly."
        if different_data
        else ""
    )
    if not comparison.clearly_worse:
        return (
            f"The new {name} has a {label} of {new} (the model it replaces: {old}); it is saved as "
            f"{saved} and is now in use.{caveat}"
        )
    if activated:
        return (
            f"The new {name} has a {label} of {new}, clearly below the {old} of the model it "
            f"replaces; it is saved as {saved} and is now in use because the retrain was forced.{caveat}"
        )
    return (
        f"The new {name} has a {label} of {new}, clearly below the {old} of the model in use; "
        f"the model in use stays. The new one is saved as {saved}.{caveat}"
    )
