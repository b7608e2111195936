"""`python -m training report TOOL PATH... -o report.html`: one case report of what the tool
answers for the inputs, made by the same engine calls as `predict TOOL` (the grid's, for a
CSV), written as one self-contained HTML file."""

from __future__ import annotations

import sys
from pathlib import Path

from training.core.cli import CommandLine, split_list
from training.report.document import size_text, writable_report_path

TOOLS = ("digits", "anomaly", "forgery", "imbalanced")
# The Imbalanced report's grid when none is named: quick, and the two ways of weighing the
# rare class that every analyst compares first.
REPORT_MODELS, REPORT_METHODS = ("logistic_regression", "hist_gradient_boosting"), ("none", "class_weight")
VIEWS_CHOICES = ("all", "flagged", "none")
DIGIT_PREVIEW_SIDE = 1024


def register(command_line: CommandLine) -> None:
    parser = command_line.commands.add_parser(
        "report",
        help="one self-contained HTML case report (images embedded; opens offline, prints to PDF)",
        description=__doc__,
    )
    parser.add_argument("tool", choices=TOOLS)
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image files or folders (anomaly: also .npz); imbalanced: one CSV",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    parser.add_argument("--model", help="as for `predict TOOL` (default: the tool's model in use)")
    parser.add_argument("--gate", action="store_true", help="digits: also ask the 'not a digit' gate")
    parser.add_argument(
        "--views",
        choices=VIEWS_CHOICES,
        help="forgery: which photos get the forensic views (default: all for one photo; for a batch, "
        "the photos not judged authentic)",
    )
    parser.add_argument("--target", help="imbalanced: the yes/no column (default: guessed)")
    parser.add_argument("--positive", help="imbalanced: the rare class's value (default: the rarest)")
    parser.add_argument("--models", help=f"imbalanced: comma-separated (default: {','.join(REPORT_MODELS)})")
    parser.add_argument(
        "--methods", help=f"imbalanced: comma-separated (default: {','.join(REPORT_METHODS)})"
    )
    parser.add_argument(
        "--explain", action="store_true", help="imbalanced: explain the chosen configuration too"
    )
    parser.set_defaults(handler=lambda arguments: command_report(arguments, command_line))


def command_report(arguments, command_line: CommandLine) -> int:
    writable_report_path(arguments.output)  # said before any work, not after it
    if arguments.tool == "imbalanced":
        if len(arguments.paths) != 1:
            print("error: report imbalanced takes one CSV file", file=sys.stderr)
            return 2
        report = imbalanced_case(arguments)
    else:
        from training.core.images import IMAGE_SUFFIXES, expand_paths, no_inputs_message

        extra = {".npz"} if arguments.tool == "anomaly" else set()
        paths = expand_paths(arguments.paths, IMAGE_SUFFIXES | extra)
        if not paths:
            print(no_inputs_message(arguments.paths), file=sys.stderr)
            return 2
        build = {"digits": digits_case, "anomaly": anomaly_case, "forgery": forgery_case}[arguments.tool]
        report = build(arguments, paths, command_line)
    written = report.write(arguments.output)
    print(f"Report written to {written} ({report.items} item(s), {size_text(len(report.html.encode()))})")
    return 0


def digits_case(arguments, paths, command_line):
    from training import digits
    from training.report.digits import digits_report

    predictor = digits.DigitsPredictor.load(digits.model_name(arguments.model))
    gate = command_line.load_digit_gate() if arguments.gate else None
    predictions = [predictor.predict_file(path, preview_side=DIGIT_PREVIEW_SIDE, gate=gate) for path in paths]
    return digits_report(predictions, predictor.entry, gate.entry if gate is not None else None)


def anomaly_case(arguments, paths, _command_line):
    from training import anomaly
    from training.report.anomaly import anomaly_report, rule_words

    predictor = anomaly.AnomalyPredictor.load(arguments.model or anomaly.ALL_DIGITS_MODEL)
    predictions = [prediction for path in paths for prediction in predictor.predict_path(path)]
    threshold = predictor.threshold
    return anomaly_report(predictions, predictor.entry, threshold, rule_words(predictor.entry, threshold))


def forgery_case(arguments, paths, _command_line):
    from training import forgery
    from training.report.forgery import analyse_for_report, forgery_report, views_choice

    predictor = forgery.ForgeryPredictor.load(arguments.model or forgery.DEFAULT_MODEL)
    with_views, note = views_choice(arguments.views or ("all" if len(paths) == 1 else "flagged"))
    cases = announced(analyse_for_report(paths, predictor, with_views), len(paths))
    return forgery_report(cases, predictor.entry, predictor.threshold, note, count=len(paths))


def announced(cases, count: int):
    """`cases`, each named on stderr once analysed: a batch takes a while."""
    for index, case in enumerate(cases, start=1):
        print(f"{index}/{count} {case.analysis.path}", file=sys.stderr, flush=True)
        yield case


def imbalanced_case(arguments):
    """The grid on the CSV (`--models` × `--methods`), as `imbalanced --csv` runs it, with
    the configuration of the best test PR AUC (the one `--save` keeps) as the chosen one."""
    from training import imbalanced
    from training.report.imbalanced import imbalanced_report

    csv_path = Path(arguments.paths[0])
    frame = imbalanced.read_table(csv_path)
    problem, _excluded = imbalanced.problem_for(frame, csv_path.name, arguments.target, arguments.positive)
    data = imbalanced.prepare(frame, problem)
    settings = imbalanced.GridSettings()
    grid = imbalanced.configurations(
        split_list(arguments.models) or list(REPORT_MODELS),
        split_list(arguments.methods) or list(REPORT_METHODS),
    )
    parts = imbalanced.split(data, settings)
    results = imbalanced.evaluate_grid(
        data,
        parts,
        grid,
        settings,
        on_result=lambda result: print(
            f"{result.label}: test PR AUC {result.ranking['pr_auc']:.4f}", file=sys.stderr, flush=True
        ),
    )
    chosen = imbalanced.best_configuration(results)
    explanation = None
    if arguments.explain:
        explanation = imbalanced.explain(
            chosen.pipeline, parts.test_features, parts.test_labels, chosen.background, settings.seed
        )
    return imbalanced_report(csv_path, problem, parts, results, chosen, chosen.threshold, explanation)
