"""Model files with provenance: the manifest, sha256 checks, atomic installs and roll-back.

Two manifests of the same shape: the bundled one (`models/manifest.json`, read-only, ships
with the app) and the user's (`<user dir>/models/manifest.json`), which holds retrained
versions. A model name resolves to the user's active version if there is one, else to the
bundled file. Every file is checked against its recorded sha256 before it is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training import paths
from training.datasets import sha256_file
from training.errors import ModelIntegrityError, ModelNotFoundError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ModelEntry:
    """A resolved model: its file, its manifest record and where it came from."""

    name: str
    path: Path
    record: dict
    origin: str  # "bundled" or "user"

    @property
    def metrics(self) -> dict:
        return self.record.get("metrics", {})


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return {"version": MANIFEST_VERSION, "models": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelIntegrityError(f"The model manifest {path} is unreadable: {error}") from error
    manifest.setdefault("models", {})
    return manifest


def write_json_atomically(path: Path, content: dict) -> None:
    """Write to a temporary file beside `path`, flush to disk, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as temporary:
        json.dump(content, temporary, indent=2, sort_keys=False)
        temporary.write("\n")
        temporary.flush()
        os.fsync(temporary.fileno())
    os.chmod(temporary.name, 0o644)
    os.replace(temporary.name, path)


class ModelRegistry:
    def __init__(self, bundled_dir: Path | None = None, user_dir: Path | None = None):
        self.bundled_dir = Path(bundled_dir) if bundled_dir else paths.bundled_models_dir()
        self.user_dir = Path(user_dir) if user_dir else paths.user_models_dir()

    # Reading -----------------------------------------------------------------------------
    def bundled_manifest(self) -> dict:
        return _read_manifest(self.bundled_dir)

    def user_manifest(self) -> dict:
        return _read_manifest(self.user_dir)

    def names(self) -> list[str]:
        return sorted(set(self.bundled_manifest()["models"]) | set(self.user_manifest()["models"]))

    def bundled_entry(self, name: str) -> ModelEntry:
        record = self.bundled_manifest()["models"].get(name)
        if record is None:
            raise ModelNotFoundError(
                f"No bundled model named '{name}' in {self.bundled_dir / MANIFEST_NAME}."
            )
        return ModelEntry(name, self.bundled_dir / record["file"], record, "bundled")

    def user_versions(self, name: str) -> list[dict]:
        return self.user_manifest()["models"].get(name, {}).get("versions", [])

    def entry(self, name: str) -> ModelEntry:
        """The model in use under `name`: the user's active version, else the bundled one."""
        user_model = self.user_manifest()["models"].get(name, {})
        active = user_model.get("active")
        for record in user_model.get("versions", []):
            if record["file"] == active:
                return ModelEntry(name, self.user_dir / record["file"], record, "user")
        return self.bundled_entry(name)

    def verified_path(self, name: str) -> tuple[Path, ModelEntry]:
        """The file of the model in use, after checking it against its recorded sha256."""
        entry = self.entry(name)
        verify(entry)
        return entry.path, entry

    # Writing ------------------------------------------------------------------------------
    def install(self, name: str, produced_file: Path, record: dict) -> ModelEntry:
        """Copy a freshly trained file into the user directory and make it the active one.

        The file is copied under a new unique name first, then the manifest is replaced in
        one rename: a crash at any point leaves the previous model in use.
        """
        self.user_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suffix = Path(produced_file).suffix
        destination = self.user_dir / f"{name}-{stamp}{suffix}"
        counter = 1
        while destination.exists():
            destination = self.user_dir / f"{name}-{stamp}-{counter}{suffix}"
            counter += 1
        partial = destination.with_name(f".{destination.name}.partial")
        shutil.copyfile(produced_file, partial)
        with open(partial, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(partial, destination)
        record = {**record, "file": destination.name, "sha256": sha256_file(destination)}
        manifest = self.user_manifest()
        model = manifest["models"].setdefault(name, {"versions": []})
        model["versions"].append(record)
        model["active"] = destination.name
        write_json_atomically(self.user_dir / MANIFEST_NAME, manifest)
        return ModelEntry(name, destination, record, "user")

    def revert_to_bundled(self, name: str) -> ModelEntry:
        """Use the bundled model again; retrained versions stay on disk for roll-forward."""
        manifest = self.user_manifest()
        if name in manifest["models"]:
            manifest["models"][name]["active"] = None
            write_json_atomically(self.user_dir / MANIFEST_NAME, manifest)
        return self.bundled_entry(name)

    def roll_back(self, name: str) -> ModelEntry:
        """Step back one version: to the previous retrained one, or to the bundled model."""
        manifest = self.user_manifest()
        model = manifest["models"].get(name)
        if not model or not model.get("active"):
            return self.bundled_entry(name)
        files = [record["file"] for record in model["versions"]]
        position = files.index(model["active"]) if model["active"] in files else 0
        model["active"] = files[position - 1] if position > 0 else None
        write_json_atomically(self.user_dir / MANIFEST_NAME, manifest)
        return self.entry(name)


def verify(entry: ModelEntry) -> None:
    if not entry.path.is_file():
        raise ModelNotFoundError(f"The {entry.origin} model file {entry.path} is missing.")
    actual = sha256_file(entry.path)
    if actual != entry.record.get("sha256"):
        raise ModelIntegrityError(
            f"Refusing to load {entry.path.name}: its sha256 ({actual[:12]}…) does not match "
            f"the manifest ({str(entry.record.get('sha256'))[:12]}…). The file was changed or "
            "damaged; reinstall the app or revert to the bundled model."
        )


def record_bundled_model(directory: Path, name: str, model_file: Path, record: dict) -> dict:
    """Add or replace `name` in a bundled manifest (used when producing the shipped models)."""
    manifest = _read_manifest(directory)
    record = {**record, "file": model_file.name, "sha256": sha256_file(model_file)}
    manifest["models"][name] = record
    manifest["version"] = MANIFEST_VERSION
    manifest["models"] = dict(sorted(manifest["models"].items()))
    write_json_atomically(directory / MANIFEST_NAME, manifest)
    return record


def publish(
    registry: ModelRegistry,
    name: str,
    suffix: str,
    write: Callable[[Path], None],
    record: dict,
    bundle: bool = False,
) -> ModelEntry:
    """Write a model file with `write(path)` and register it: by default as the user's new
    version (swapped in atomically); with `bundle`, into the shipped models folder."""
    if bundle:
        path = Path(registry.bundled_dir) / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        record_bundled_model(registry.bundled_dir, name, path, record)
        return registry.bundled_entry(name)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{name}{suffix}"
        write(path)
        return registry.install(name, path, record)
