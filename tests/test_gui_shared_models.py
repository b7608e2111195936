"""One model cache for all tabs: the Digits tab's "not a digit" gate is the Anomaly tab's
all-digits model, so what changes that model in one tab is what the other uses next."""

from __future__ import annotations

from desktop_app.automation import simulate_drop, wait_until
from tests.helpers import DIGIT_SAMPLES

GATE = "anomaly-all-digits"
DIGIT_3 = DIGIT_SAMPLES[3]


def test_the_digits_gate_follows_a_threshold_saved_in_the_anomaly_tab(gui):
    digits_tab, anomaly_tab = gui.tab("Digits"), gui.tab("Anomaly")
    digits_tab.clear()
    digits_tab.use_gate.set(True)
    try:
        simulate_drop(digits_tab.drop_zone.area, [DIGIT_3])
        wait_until(gui.root, lambda: len(digits_tab.results.rows()) == 1, 60, "the gated answer")
        assert digits_tab.results.rows()[0][3] == "ok"
        gate = digits_tab.predictors[GATE]
        assert anomaly_tab.predictors[GATE] is gate  # one copy, not one per tab

        # In the Anomaly tab, a threshold below this digit's score is kept as the model's own.
        gui.notebook.select(anomaly_tab)
        wait_until(gui.root, lambda: anomaly_tab.selected_model_name() == GATE, 10, "the all-digits model")
        score = gate.predict_file(DIGIT_3).score
        anomaly_tab.set_threshold(score - 1.0, final=True)
        anomaly_tab.save_threshold()
        wait_until(gui.root, lambda: digits_tab.predictors[GATE] is not gate, 60, "the saved threshold")
        assert digits_tab.predictors[GATE].threshold_rule == "saved"

        # The Digits tab's next answer is judged by the model the Anomaly tab saved.
        digits_tab.clear()
        simulate_drop(digits_tab.drop_zone.area, [DIGIT_3])
        wait_until(gui.root, lambda: len(digits_tab.results.rows()) == 1, 60, "the answer again")
        assert digits_tab.results.rows()[0][3] == "not a digit"
        digits_tab.results.tree.selection_set(str(DIGIT_3))
        gui.root.update()
        assert digits_tab.shown_answer()["answer"] == "not a digit"
    finally:
        if gui.registry.entry(GATE).origin == "user":
            gui.registry.revert_to_bundled(GATE)
            current = digits_tab.predictors.get(GATE)
            digits_tab.reload_model(GATE)
            wait_until(gui.root, lambda: digits_tab.predictors.get(GATE) is not current, 60, "the revert")
        digits_tab.use_gate.set(False)
        digits_tab.clear()
