"""What every tool's command line shares: the parsers' common options, progress on stderr, the
retrain guard's exit status, and the table of answers `predict` prints for image files.

Each tool's `cli.register(command_line)` adds its own commands to a `CommandLine`;
`training.__main__` builds one and adds the commands that are not a tool's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Exit status of a retrain whose model was saved but not put in use, because it scores clearly
# worse than the model in use: nothing failed, but what was asked for (a new model in use) did
# not happen, and a script must be able to tell (0 done, 1 error, 2 usage).
KEPT_PREVIOUS_MODEL = 3

EXIT_STATUS = (
    "Exit status: 0 done; 1 error; 2 bad usage; 3 a retrained model was saved but the model in use "
    "stays, because the new one scores clearly worse on the same test figure (the message on stderr "
    "says how to use it anyway: the use command, or retrain with --force)."
)


@dataclass
class CommandLine:
    """The parser being built, the options several commands share, what each tool adds to the
    shared `evaluate` and `predict` commands (tool name → handler returning an exit status), and
    what one tool lends another."""

    commands: argparse._SubParsersAction
    data_dir: argparse.ArgumentParser
    force: argparse.ArgumentParser
    evaluators: dict[str, Callable[[argparse.Namespace], int]] = field(default_factory=dict)
    predictors: dict[str, Callable[[argparse.Namespace], int]] = field(default_factory=dict)
    # The "not a digit" gate that `predict digits --gate` asks: a predictor whose
    # `judge_prepared` flags what is not a digit. The Anomaly tool provides it, so that the
    # Digits tool does not import another tool.
    load_digit_gate: Callable[[], object] | None = None


def shared_options() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `--data-dir` and `--force` parent parsers."""
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        help="folder holding the datasets (default: $FINTECH_DATA_DIR, "
        "../shared/data beside the repository, else the user data folder)",
    )
    force = argparse.ArgumentParser(add_help=False)
    force.add_argument(
        "--force",
        action="store_true",
        help="make the new model the one in use even when it scores clearly worse than the model in "
        "use (without it, such a model is saved but not used; exit status 3). With --models-dir "
        "nothing is compared",
    )
    return data_dir, force


def print_progress(progress) -> None:
    if progress.message:
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in progress.metrics.items())
        eta = f"  ETA {progress.eta_seconds:.0f} s" if progress.eta_seconds else ""
        print(f"{progress.message:>14}  {metrics}{eta}", file=sys.stderr, flush=True)


def registry_for(models_dir: Path | None):
    """The registry a train command writes to: the bundled-models folder `models_dir` when given
    (e.g. models/), else the user's."""
    from training.core.registry import ModelRegistry

    return ModelRegistry(bundled_dir=models_dir) if models_dir else ModelRegistry()


def report_outcome(outcome) -> bool:
    """Print what publishing did (stdout), or why the model in use stays (stderr, with how to
    choose the new one anyway); True when the model in use stayed."""
    if outcome.activated:
        print(outcome.message, flush=True)
        return False
    print(
        f"kept the model in use: {outcome.message} To use the new one anyway: "
        f"python -m training use {outcome.name} {outcome.file_name} (or retrain with --force).",
        file=sys.stderr,
        flush=True,
    )
    return True


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


@dataclass(frozen=True)
class AnswerTable:
    """How `predict TOOL` prints a tool's answers for image files: three column titles, the
    three cells of one answer, and the engine call that answers one path (one answer, or a list
    of them for a file that holds many images)."""

    header: tuple[str, str, str]
    row: Callable[[object], tuple[str, str, str]]
    predict: Callable[[Path], object]


def predict_images(arguments, extra_suffixes: set[str], load_table: Callable[[], AnswerTable]) -> int:
    """`predict TOOL PATH...` for an image tool: every image (and file with one of
    `extra_suffixes`) under the paths, one JSON object or table line per answer. The model is
    loaded (`load_table`) only once there is something to answer."""
    from training.core.images import IMAGE_SUFFIXES, expand_paths, no_inputs_message

    paths = expand_paths(arguments.paths, IMAGE_SUFFIXES | extra_suffixes)
    if not paths:
        print(no_inputs_message(arguments.paths), file=sys.stderr)
        return 2
    table = load_table()
    if not arguments.json:
        print(f"{'file':<40} {table.header[0]:>8} {table.header[1]:>10}  {table.header[2]:<9} message")
    for path in paths:
        answers = table.predict(path)
        for prediction in answers if isinstance(answers, list) else [answers]:
            if arguments.json:
                print(json.dumps(prediction.to_json()), flush=True)
            else:
                first, second, third = table.row(prediction)
                print(
                    f"{prediction.path[-40:]:<40} {first:>8} {second:>10}  {third:<9} {prediction.message}",
                    flush=True,
                )
    return 0
