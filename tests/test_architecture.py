"""The rules of docs/ARCHITECTURE.md that code can check: the engine never imports the GUI,
no tool imports another, the core imports no tool, tool packages import without TensorFlow
or scikit-learn, and the document names every module there is and no module there is not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, modules_imported_by

TOOLS = ("digits", "anomaly", "forgery", "imbalanced")
ARCHITECTURE = REPO_ROOT / "docs" / "ARCHITECTURE.md"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "training" else None


def engine_files() -> list[Path]:
    return sorted((REPO_ROOT / "training").rglob("*.py"))


def test_the_engine_never_imports_the_gui_or_tk():
    offending = {
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in engine_files()
        for module in imported_modules(path)
        if module.split(".")[0] in ("tkinter", "desktop_app", "tkinterdnd2")
    }
    assert not offending, sorted(offending)


@pytest.mark.parametrize("package", [*TOOLS, "core"])
def test_no_tool_imports_another_and_the_core_imports_no_tool(package):
    allowed = {"core", package}
    offending = {
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in sorted((REPO_ROOT / "training" / package).rglob("*.py"))
        for module in imported_modules(path)
        if package_of(module) in TOOLS and package_of(module) not in allowed
    }
    assert not offending, sorted(offending)


def test_tool_packages_import_without_tensorflow_or_scikit_learn():
    code = "import training.digits, training.anomaly, training.forgery, training.imbalanced"
    assert modules_imported_by(code, ("tensorflow", "keras", "sklearn", "pandas")) == []


def documented_paths() -> set[Path]:
    """The files and folders the package map names, as paths (indentation gives the folder)."""
    text = ARCHITECTURE.read_text()
    block = text.split("## Package map", 1)[1].split("```")[1]
    paths, folders = set(), []
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match or not re.match(r"^\w[\w.]*(\.\w+|/)$", match.group(2)):  # a file or a folder/
            continue
        depth, name = len(match.group(1)) // 2, match.group(2)
        folders = folders[:depth]
        path = Path(*folders, name.rstrip("/"))
        paths.add(path)
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
    return paths


def test_the_architecture_document_names_every_module_and_only_modules_there_are():
    named = documented_paths()
    modules = {
        path.relative_to(REPO_ROOT)
        for root in ("training", "desktop_app")
        for path in (REPO_ROOT / root).rglob("*.py")
        if path.name != "__init__.py"
    }
    assert not modules - named, (
        f"modules missing from docs/ARCHITECTURE.md: {sorted(map(str, modules - named))}"
    )
    missing = {path for path in named if not (REPO_ROOT / path).exists()}
    assert not missing, f"docs/ARCHITECTURE.md names what does not exist: {sorted(map(str, missing))}"
