"""Model files with provenance: the manifest, sha256 checks, atomic installs and roll-back.

Two manifests of the same shape: the bundled one (`models/manifest.json`, read-only, ships
with the app) and the user's (`<user dir>/models/manifest.json`), which holds retrained
versions. A model name resolves to the user's active version if there is one, else to the
bundled file. Every file is checked against its recorded sha256 before it is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.core import paths
from training.core.datasets import sha256_file
from training.core.errors import ModelIntegrityError, ModelNotFoundError

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


class ManifestShapeError(ModelIntegrityError):
    """A manifest that is valid JSON but not a manifest, or that names a file outside its folder."""


def confined_file(directory: Path, file_name: object) -> Path:
    """`directory / file_name` when `file_name` is a plain file name that stays inside
    `directory` once links are resolved; a `ManifestShapeError` otherwise. A user-writable
    manifest must never make the app open a file elsewhere."""
    if not isinstance(file_name, str) or not file_name or file_name in (".", ".."):
        raise ManifestShapeError(f"a model file name must be a non-empty text, not {file_name!r}")
    if "/" in file_name or "\\" in file_name or "\x00" in file_name or Path(file_name).is_absolute():
        raise ManifestShapeError(
            f"the model file '{file_name}' is not a plain file name: it points outside {directory}"
        )
    path = directory / file_name
    if path.resolve().parent != directory.resolve():
        raise ManifestShapeError(f"the model file '{file_name}' leads outside {directory} (a link)")
    return path


def _check_record(directory: Path, record: object, where: str) -> None:
    if not isinstance(record, dict):
        raise ManifestShapeError(f"{where} is not a record")
    if not isinstance(record.get("sha256"), str):
        raise ManifestShapeError(f"{where} has no sha256")
    confined_file(directory, record.get("file"))


def check_manifest_shape(directory: Path, manifest: object, user: bool) -> None:
    """Raise `ManifestShapeError` saying what is wrong unless `manifest` has the shape the
    registry writes: bundled {"models": {name: record}}, user {"models": {name: {"versions":
    [record, ...], "active": file or null}}}, every record's file confined to `directory`."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise ManifestShapeError('it is not an object with a "models" object')
    for name, model in manifest["models"].items():
        if not user:
            _check_record(directory, model, f"model '{name}'")
            continue
        if not isinstance(model, dict) or not isinstance(model.get("versions", []), list):
            raise ManifestShapeError(f"model '{name}' has no list of versions")
        for position, record in enumerate(model.get("versions", [])):
            _check_record(directory, record, f"version {position + 1} of model '{name}'")
        active = model.get("active")
        if active is not None and active not in {record["file"] for record in model.get("versions", [])}:
            raise ManifestShapeError(
                f"model '{name}' is set to use '{active}', which is not one of its versions"
            )


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestShapeError(f"it is unreadable ({error})") from error


def _read_manifest(directory: Path) -> dict:
    """The bundled manifest; anything wrong with it is an error (the install is damaged)."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return empty_manifest()
    try:
        manifest = _read_json(path)
        check_manifest_shape(directory, manifest, user=False)
    except ManifestShapeError as error:
        raise ModelIntegrityError(
            f"The model manifest {path} is damaged: {error}. Reinstall the app."
        ) from error
    return manifest


def empty_manifest() -> dict:
    return {"version": MANIFEST_VERSION, "models": {}}


def unused_stamped_path(directory: Path, prefix: str, suffix: str = "") -> Path:
    """`directory/<prefix><YYYYmmdd-HHMMSS>[-<n>]<suffix>`, with the first n that names no file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    destination = directory / f"{prefix}{stamp}{suffix}"
    counter = 1
    while destination.exists():
        destination = directory / f"{prefix}{stamp}-{counter}{suffix}"
        counter += 1
    return destination


def set_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.invalid-<time>` beside it (never over another file)."""
    destination = unused_stamped_path(path.parent, f"{path.name}.invalid-")
    os.rename(path, destination)
    return destination


def write_text_atomically(path: Path, text: str) -> None:
    """Write to a hidden temporary file beside `path`, flush to disk, then rename over it: a
    reader never sees half a file. The temporary file is removed when writing fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as temporary:
        try:
            temporary.write(text)
            temporary.flush()
            os.fsync(temporary.fileno())
        except OSError:
            os.unlink(temporary.name)
            raise
    try:
        os.chmod(temporary.name, 0o644)
        os.replace(temporary.name, path)
    except OSError:
        os.unlink(temporary.name)
        raise


def write_json_atomically(path: Path, content: dict) -> None:
    write_text_atomically(path, json.dumps(content, indent=2, sort_keys=False) + "\n")


class ModelRegistry:
    def __init__(self, bundled_dir: Path | None = None, user_dir: Path | None = None):
        self.bundled_dir = Path(bundled_dir) if bundled_dir else paths.bundled_models_dir()
        self.user_dir = Path(user_dir) if user_dir else paths.user_models_dir()
        # What went wrong with the user's manifest, each said once: the GUI shows these,
        # the command line has already printed them on stderr.
        self.warnings: list[str] = []

    # Reading -----------------------------------------------------------------------------
    def bundled_manifest(self) -> dict:
        return _read_manifest(self.bundled_dir)

    def user_manifest(self) -> dict:
        """The user's manifest; a damaged one is set aside (renamed, kept) with a warning, and
        the registry carries on with the bundled models alone."""
        path = self.user_dir / MANIFEST_NAME
        if not path.is_file():
            return empty_manifest()
        try:
            manifest = _read_json(path)
            check_manifest_shape(self.user_dir, manifest, user=True)
        except ManifestShapeError as error:
            self._set_aside_manifest(path, error)
            return empty_manifest()
        return manifest

    def _set_aside_manifest(self, path: Path, error: ManifestShapeError) -> None:
        try:
            kept = set_aside(path)
            where = f"it was set aside as {kept.name}"
        except OSError as rename_error:
            where = f"it could not be set aside ({rename_error.strerror or rename_error})"
        warning = (
            f"Your retrained-model list {path} is damaged: {error}. {where.capitalize()}; "
            "the bundled models are used. Retrained model files are still in that folder."
        )
        if warning not in self.warnings:
            self.warnings.append(warning)
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    def names(self) -> list[str]:
        return sorted(set(self.bundled_manifest()["models"]) | set(self.user_manifest()["models"]))

    def bundled_entry(self, name: str) -> ModelEntry:
        record = self.bundled_manifest()["models"].get(name)
        if record is None:
            raise ModelNotFoundError(f"There is no model named '{name}' (bundled or saved by you).")
        return ModelEntry(name, confined_file(self.bundled_dir, record["file"]), record, "bundled")

    def user_versions(self, name: str) -> list[dict]:
        return self.user_manifest()["models"].get(name, {}).get("versions", [])

    def entry(self, name: str) -> ModelEntry:
        """The model in use under `name`: the user's active version, else the bundled one."""
        user_model = self.user_manifest()["models"].get(name, {})
        active = user_model.get("active")
        for record in user_model.get("versions", []):
            if record["file"] == active:
                return ModelEntry(name, confined_file(self.user_dir, record["file"]), record, "user")
        return self.bundled_entry(name)

    def verified_path(self, name: str) -> tuple[Path, ModelEntry]:
        """The file of the model in use, after checking it against its recorded sha256."""
        entry = self.entry(name)
        verify(entry)
        return entry.path, entry

    # Writing ------------------------------------------------------------------------------
    def install(self, name: str, produced_file: Path, record: dict, activate: bool = True) -> ModelEntry:
        """Copy a freshly trained file into the user directory as a new version of `name`,
        the one in use unless `activate` is false.

        The file is copied under a new unique name first, then the manifest is replaced in
        one rename: a crash at any point leaves the previous model in use.
        """
        self.user_dir.mkdir(parents=True, exist_ok=True)
        self.remove_leftovers()
        destination = unused_stamped_path(self.user_dir, f"{name}-", Path(produced_file).suffix)
        partial = destination.with_name(f".{destination.name}.{os.getpid()}{PARTIAL_SUFFIX}")
        shutil.copyfile(produced_file, partial)
        with open(partial, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(partial, destination)
        record = {**record, "file": destination.name, "sha256": sha256_file(destination)}
        manifest = self.user_manifest()
        model = manifest["models"].setdefault(name, {"versions": [], "active": None})
        model["versions"].append(record)
        if activate:
            model["active"] = destination.name
        write_json_atomically(self.user_dir / MANIFEST_NAME, manifest)
        return ModelEntry(name, destination, record, "user")

    def use_version(self, name: str, file_name: str) -> ModelEntry:
        """Make the saved version `file_name` of `name` the one in use."""
        manifest = self.user_manifest()
        model = manifest["models"].get(name)
        if model is None or file_name not in [record["file"] for record in model["versions"]]:
            raise ModelNotFoundError(f"'{file_name}' is not a saved version of {name}.")
        model["active"] = file_name
        write_json_atomically(self.user_dir / MANIFEST_NAME, manifest)
        return self.entry(name)

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

    # Leftovers of killed runs -----------------------------------------------------------------
    def scratch_parent(self) -> Path:
        """The folder for runs' scratch files. Each run's folder in it must start with the
        process id and a '-' (`tempfile.mkdtemp(prefix=f"{os.getpid()}-...")`), so that
        `remove_leftovers` in another process leaves it alone while this one is alive."""
        parent = self.user_dir / SCRATCH_FOLDER
        parent.mkdir(parents=True, exist_ok=True)
        return parent

    def remove_leftovers(self) -> list[Path]:
        """Delete what killed runs left behind, by the registry's own name patterns only:
        scratch folders and `.partial` copies of processes that are gone, temporary
        manifests, and model files that no manifest version names. Only what is older than
        this process is touched. Returns what was removed."""
        if not self.user_dir.is_dir():
            return []
        removed = []
        registered = None
        for path in list(self.user_dir.iterdir()) + _children(self.user_dir / SCRATCH_FOLDER):
            try:
                if path.lstat().st_mtime >= PROCESS_STARTED:
                    continue
            except OSError:
                continue
            name = path.name
            if path.parent.name == SCRATCH_FOLDER or name.endswith(PARTIAL_SUFFIX):
                if _owner_alive(name.split("-")[0] if path.parent.name == SCRATCH_FOLDER else name):
                    continue
            elif name.startswith(f".{MANIFEST_NAME}."):
                pass
            elif _VERSION_FILE.fullmatch(name):
                if registered is None:
                    registered = {
                        record["file"]
                        for model in self.user_manifest()["models"].values()
                        for record in model.get("versions", [])
                    }
                if name in registered:
                    continue
            else:
                continue
            _remove(path)
            removed.append(path)
        return removed


PARTIAL_SUFFIX = ".partial"


SCRATCH_FOLDER = "scratch"


PROCESS_STARTED = time.time()


# A version file as `install` names it: <model name>-<YYYYmmdd-HHMMSS>[-<n>].<suffix>
_VERSION_FILE = re.compile(r"[a-z0-9_-]+-\d{8}-\d{6}(-\d+)?\.[a-z]+")


def _children(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _owner_alive(name: str) -> bool:
    """Whether the process whose id is in a leftover's name (`.x.<pid>.partial`,
    `<pid>-xxxx`) still runs; names without one belong to nobody."""
    digits = name.removesuffix(PARTIAL_SUFFIX).rsplit(".", 1)[-1]
    if not digits.isdigit():
        return False
    try:
        os.kill(int(digits), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


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
    activate: bool = True,
) -> ModelEntry:
    """Write a model file with `write(path)` and register it: by default as the user's new
    version (swapped in atomically, in use unless `activate` is false); with `bundle`, into
    the shipped models folder."""
    if bundle:
        path = Path(registry.bundled_dir) / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        record_bundled_model(registry.bundled_dir, name, path, record)
        return registry.bundled_entry(name)
    with tempfile.TemporaryDirectory(
        prefix=f"{os.getpid()}-publish-", dir=registry.scratch_parent()
    ) as scratch:
        path = Path(scratch) / f"{name}{suffix}"
        write(path)
        return registry.install(name, path, record, activate)
