"""The colours the Forgery tab's parts share: one per answer, one for warnings."""

TAMPERED_COLOUR, AUTHENTIC_COLOUR, WARNING_COLOUR = "#b03a2e", "#1e8449", "#a35200"
INCONCLUSIVE_COLOUR = "#5d6d7e"
NO_VERDICT_COLOUR = "#7f7f7f"  # a file that could not be read or judged
VERDICT_COLOURS = {
    "tampered": TAMPERED_COLOUR,
    "authentic": AUTHENTIC_COLOUR,
    "inconclusive": INCONCLUSIVE_COLOUR,
}
