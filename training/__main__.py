"""Command line of the engine: `python -m training <command> ...` (see --help)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.anomaly import cli as anomaly_cli
from training.core.cli import EXIT_STATUS, KEPT_PREVIOUS_MODEL, CommandLine, shared_options
from training.core.errors import WorkbenchError
from training.digits import cli as digits_cli
from training.forgery import cli as forgery_cli
from training.imbalanced import cli as imbalanced_cli
from training.report import cli as report_cli

# Each tool adds its commands; the order is the order of --help.
TOOL_COMMANDS = (digits_cli, anomaly_cli, forgery_cli, imbalanced_cli)
__all__ = ["KEPT_PREVIOUS_MODEL", "build_parser", "main"]


def command_models(arguments) -> int:
    from training.core.registry import ModelRegistry, verify

    registry = ModelRegistry()
    failures = 0
    for name in registry.names():
        entry = registry.entry(name)
        try:
            verify(entry)
            state = "sha256 ok"
        except WorkbenchError as error:
            state, failures = f"FAILED: {error}", failures + 1
        test = entry.metrics.get("test_accuracy")
        figure = f"test accuracy {test:.4f}" if test is not None else ""
        print(f"{name:<14} {entry.origin:<8} {entry.path.name:<28} {state}  {figure}")
    return 1 if failures else 0


def command_revert(arguments) -> int:
    from training.core.registry import ModelRegistry

    entry = ModelRegistry().revert_to_bundled(arguments.name)
    print(f"{entry.name} now uses the bundled model {entry.path}")
    return 0


def command_use(arguments) -> int:
    """Make a saved version the model in use, after checking its file against its sha256."""
    from training.core.errors import ModelNotFoundError
    from training.core.registry import ModelEntry, ModelRegistry, confined_file, verify

    registry = ModelRegistry()
    given = Path(arguments.file)
    # The file name, or a path to it in the user's models folder.
    if given.parent != Path(".") and given.parent.resolve() != registry.user_dir.resolve():
        raise ModelNotFoundError(f"{given} is not in your models folder {registry.user_dir}.")
    versions = registry.user_versions(arguments.name)
    record = next((record for record in versions if record["file"] == given.name), None)
    if record is None:
        saved = ", ".join(record["file"] for record in versions) or "none"
        raise ModelNotFoundError(
            f"'{given.name}' is not a saved version of {arguments.name} (saved versions: {saved})."
        )
    verify(ModelEntry(arguments.name, confined_file(registry.user_dir, given.name), record, "user"))
    entry = registry.use_version(arguments.name, given.name)
    print(f"{entry.name} now uses {entry.path}")
    return 0


def command_download(arguments) -> int:
    from training.core import datasets

    print(f"Downloaded and verified {datasets.download_mnist(arguments.data_dir)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__, epilog=EXIT_STATUS)
    data_dir, force = shared_options()
    command_line = CommandLine(parser.add_subparsers(dest="command", required=True), data_dir, force)
    for tool in TOOL_COMMANDS:
        tool.register(command_line)
    report_cli.register(command_line)  # after the tools: it can use what one lends another
    commands = command_line.commands

    evaluate = commands.add_parser(
        "evaluate", parents=[data_dir], help="test-set figures of the digits models"
    )
    evaluate.add_argument("tool", nargs="?", choices=tuple(command_line.evaluators), default="digits")
    evaluate.add_argument("--model", help="cnn, mlp or a model name (default: both)")
    evaluate.add_argument("--stored", action="store_true", help="print the manifest's figures")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=lambda arguments: command_line.evaluators[arguments.tool](arguments))

    predict = commands.add_parser("predict", help="predict for image files or folders")
    predict.add_argument("tool", choices=tuple(command_line.predictors))
    predict.add_argument("paths", nargs="+", metavar="PATH")
    predict.add_argument(
        "--model",
        help="digits: cnn (default), mlp or a model name; anomaly: a model name (default anomaly-all-digits); forgery: a model name "
        "(default forgery-blocks)",
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per input line")
    predict.add_argument(
        "--gate",
        action="store_true",
        help="digits: also ask the all-digits anomaly model; what it flags is answered 'unsure' "
        'and the JSON gains "not_a_digit"',
    )
    predict.add_argument(
        "--views",
        action="store_true",
        help="forgery: also the forensic views (noise, JPEG ghosts, clones, lighting, EXIF thumbnail); "
        'the JSON gains "views"',
    )
    predict.set_defaults(handler=lambda arguments: command_line.predictors[arguments.tool](arguments))

    models = commands.add_parser("models", help="list the models in use and check their sha256")
    models.set_defaults(handler=command_models)

    revert = commands.add_parser("revert", help="use the bundled model again")
    revert.add_argument("name")
    revert.set_defaults(handler=command_revert)

    use = commands.add_parser(
        "use",
        help="make a saved version the model in use (e.g. one a retrain kept aside as clearly worse)",
    )
    use.add_argument("name", help="the model's name, e.g. digits-cnn")
    use.add_argument("file", help="the saved version's file name in your models folder")
    use.set_defaults(handler=command_use)

    download = commands.add_parser(
        "download", parents=[data_dir], help="download a dataset (explicit opt-in)"
    )
    download.add_argument("dataset", choices=("mnist",))
    download.set_defaults(handler=command_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except WorkbenchError as error:  # a user's mistake or a missing file: a sentence, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
