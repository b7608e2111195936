"""The clone verifier: a JSON model that weighs a candidate copy's figures, refused when it is
not one or not the file the manifest names, and `python -m training clones` that trains it
the same way twice."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.helpers import run_cli
from training.core.errors import ModelIntegrityError
from training.core.paths import bundled_models_dir
from training.core.registry import ModelRegistry
from training.forgery import clones


def shipped_content() -> dict:
    record = ModelRegistry().bundled_manifest()["models"][clones.VERIFIER_NAME]
    return json.loads((bundled_models_dir() / record["file"]).read_text(encoding="utf-8"))


def test_the_shipped_verifier_loads_and_prefers_a_copy_to_a_look_alike():
    verifier = clones.load_verifier(ModelRegistry())
    assert 0 < verifier.threshold < 1
    # A region that lines up closely and only at its transform, from many matches, against one
    # that lines up as well a few pixels beside and the other way too (a repeat).
    common = {"period": 0.0, "dense": 0.0, "log_scale": 0.0}
    copy = {"lined_up": 0.9, "beside": 0.3, "beside_least": 0.0, "echo": 0.0, "log_matches": np.log(200)}
    look_alike = {
        "lined_up": 0.76,
        "beside": 0.6,
        "beside_least": 0.3,
        "echo": 0.3,
        "log_matches": np.log(12),
    }
    for turned in (False, True):
        copy_probability, look_alike_probability = verifier.probability(
            np.array(
                [
                    clones.verifier_row(turned, **common, **copy, log_area=np.log(3000)),
                    clones.verifier_row(turned, **common, **look_alike, log_area=np.log(300)),
                ]
            )
        )
        assert copy_probability >= verifier.threshold > look_alike_probability


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda content: content.update(features=["lined_up"]), "features"),
        (lambda content: content.update(weights=content["weights"][:-1]), "one number per feature"),
        (lambda content: content.update(threshold=1.5), "threshold"),
        (lambda content: content["spread"].__setitem__(0, 0.0), "positive"),
        (lambda content: content.pop("intercept"), "intercept"),
    ],
)
def test_a_verifier_file_that_is_not_one_is_refused_with_its_reason(change, says):
    content = shipped_content()
    change(content)
    with pytest.raises(ModelIntegrityError, match=says):
        clones.CloneVerifier.from_json(content)


def test_a_changed_verifier_file_is_refused_before_it_is_read(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(bundled_models_dir(), models, ignore=shutil.ignore_patterns("*.keras"))
    path = models / f"{clones.VERIFIER_NAME}.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    content["threshold"] = 0.01  # everything would be a copy
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        clones.load_verifier(ModelRegistry(bundled_dir=models, user_dir=tmp_path / "user"))


@pytest.mark.slow
def test_training_the_verifier_twice_gives_the_same_file_and_a_full_record(tmp_path):
    files = []
    for run in ("first", "second"):
        models = tmp_path / run
        models.mkdir()
        result = run_cli("clones", "--photos", "12", "--casia-photos", "6", "--models-dir", str(models))
        assert result.returncode == 0, result.stderr
        assert "copies found" in result.stdout and "threshold" in result.stdout
        files.append((models / f"{clones.VERIFIER_NAME}.json").read_text(encoding="utf-8"))
        record = json.loads((models / "manifest.json").read_text(encoding="utf-8"))["models"][
            clones.VERIFIER_NAME
        ]
        assert record["seed"] == 0 and record["hyper_parameters"]["photos"] == 12
        assert record["data"]["fingerprint"].startswith("sha256:") and record["data"]["copies"] > 0
        assert set(record["metrics"]["training"]) == {"bsds500", "casia1"}
        assert {"numpy", "scipy", "scikit-learn"} <= set(record["library_versions"])
    assert files[0] == files[1]
    clones.CloneVerifier.from_json(json.loads(files[0]))
