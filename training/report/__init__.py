"""Case reports: what a tab shows (or `python -m training report` computes) as one
self-contained HTML file. A composition like `training/__main__.py`: it calls every tool's
public engine, and no tool imports it."""

from training.report.anomaly import anomaly_report, rule_words
from training.report.digits import digits_report
from training.report.document import CaseReport, file_facts, model_facts
from training.report.forgery import PhotoCase, analyse_for_report, forgery_report, views_choice
from training.report.imbalanced import imbalanced_report

__all__ = [
    "analyse_for_report",
    "anomaly_report",
    "CaseReport",
    "digits_report",
    "file_facts",
    "forgery_report",
    "imbalanced_report",
    "model_facts",
    "PhotoCase",
    "rule_words",
    "views_choice",
]
