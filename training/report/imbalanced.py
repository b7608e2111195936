"""The Imbalanced case report: the table analysed (facts, target, rare class, split), every
configuration of the grid, and the chosen one: its curves, the operating point at the
threshold (confusion matrix and figures) and, when computed, its explanations."""

from __future__ import annotations

import numpy as np

from training import imbalanced
from training.report.document import CaseReport, confusion_figure, figure_uri, file_facts, new_figure, render


def curves_figure(
    result: imbalanced.ConfigurationResult, labels: np.ndarray, threshold: float, positive: str
) -> str:
    """The Results page's charts of `result` on the test split, the scores' chart marking
    `threshold`."""
    figure = new_figure(10.5, 6.0)
    imbalanced.draw_results(figure, labels, [result], positive, threshold)
    return figure_uri(figure)


def importance_figure(explanation: imbalanced.Explanation) -> str:
    shown = explanation.importance[:12][::-1]
    figure = new_figure(6.5, 0.5 + 0.3 * len(shown))
    axes = figure.subplots()
    axes.barh(
        [item["feature"] for item in shown],
        [item["mean"] for item in shown],
        xerr=[item["std"] for item in shown],
        color="#4c72b0",
    )
    axes.set(xlabel="test ROC AUC lost when the column is shuffled", title="Permutation importance")
    return figure_uri(figure)


def imbalanced_report(
    source,
    problem: imbalanced.Problem,
    split: imbalanced.Split,
    results: list[imbalanced.ConfigurationResult],
    chosen: imbalanced.ConfigurationResult,
    threshold: float,
    explanation: imbalanced.Explanation | None = None,
) -> CaseReport:
    """The report of a grid run on the CSV `source`: every configuration in `results`, and
    `chosen` at `threshold` (its own F1-optimal one, or one chosen in the tab), with its
    `explanation` when there is one."""
    positive = str(problem.positive)
    operating = imbalanced.metrics_at(split.test_labels, chosen.test_probabilities, threshold)
    no_word, yes_word = f"not {positive}", positive
    return render(
        "imbalanced",
        f"Imbalanced case report: {file_facts(source)['name']}",
        len(results),
        facts=file_facts(source),
        problem=problem,
        positive=positive,
        split=split,
        test_positives=int(split.test_labels.sum()),
        rows=[(result, result.to_json()) for result in results],
        chosen=chosen,
        chosen_row=chosen.to_json(),
        threshold=threshold,
        operating=operating,
        confusion=confusion_figure(
            operating["confusion_matrix"], (no_word, yes_word), f"Test split at threshold {threshold:.3f}"
        ),
        curves=curves_figure(chosen, split.test_labels, threshold, positive),
        explanation=explanation,
        importance=importance_figure(explanation)
        if explanation is not None and explanation.importance
        else None,
        model_label=imbalanced.MODEL_LABELS[chosen.model],
        method_label=imbalanced.METHOD_LABELS[chosen.method],
    )
