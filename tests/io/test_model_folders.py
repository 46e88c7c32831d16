"""Model folders written by bertclf 0.1.0 (format 1) load and predict as they did when saved.

The folders under tests/fixtures/v1 were made once by tests/fixtures/make_v1.py on the tiny
random BERT, with the probabilities they gave then; a later format must keep reading them."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bertclf import TextClassifier

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["models"]))
def test_format_1_folders_load_and_predict_as_saved(name, tiny_model, tmp_path):
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 1
    if config["embedder"]["model"] == "<tiny-bert>":  # frozen models name their encoder, by path
        config["embedder"]["model"] = tiny_model
        (folder / "config.json").write_text(json.dumps(config))
    model = TextClassifier.load(folder, backend="torch", progress=False)
    with pytest.warns(UserWarning, match="empty"):
        proba = model.predict_proba(EXPECTED["probe"])
    np.testing.assert_allclose(proba, np.asarray(EXPECTED["models"][name]), atol=1e-6)


@pytest.mark.parametrize(("old", "name", "new"), [
    ("bertclf.autosearch", "auto_train", "bertclf.search"),
    ("bertclf.autosearch", "print_leaderboard", "bertclf.render"),
    ("bertclf.compare", "compare", "bertclf.search"), ("bertclf.streaming", "embed_file", "bertclf.encode"),
    ("bertclf.audit", "audit_labels", "bertclf.evaluate")])
def test_import_paths_of_0_1_are_gone_in_0_4_with_an_error_naming_the_new_place(old, name, new):
    import importlib

    with pytest.raises(ImportError, match=f"removed in bertclf 0.4: import .*{name} from {new}"):
        importlib.import_module(old)
    with pytest.raises(ImportError, match=f"{name} from {new}"):
        exec(f"from bertclf import {old.rsplit('.', 1)[1]}", {})
    assert getattr(importlib.import_module(new), name)  # where it lives now


def test_a_saved_folder_is_format_2_with_every_part_and_file_listed(tiny_model, tmp_path):
    from bertclf import Embedder
    from tests.conftest import LABELS, TEXTS

    model = TextClassifier(Embedder(tiny_model, progress=False), calibrate="sigmoid")
    model.fit(TEXTS * 2, LABELS * 2).save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert (config["format_version"], config["kind"], config["task"]) == (2, "frozen", "single-label")
    assert set(config["parts"]) == {"head", "tfidf", "scaler", "calibration", "encoder"}
    assert {name for part in config["parts"].values() for name in part["files"]} == set(config["files"])
    back = TextClassifier.load(tmp_path / "m")
    assert back.task == "single-label" and back.calibration_.method == "sigmoid"
    np.testing.assert_array_equal(back.predict_proba(TEXTS), model.predict_proba(TEXTS))


def test_importing_bertclf_and_its_command_loads_no_heavy_library():
    """`import bertclf` and `bertclf --help` stay light: the public names and the commands import
    torch, transformers and scikit-learn only when they are used."""
    import subprocess
    import sys

    code = ("import sys, bertclf, bertclf.cli, bertclf.io, bertclf.encode, bertclf.search; "
            "heavy = [m for m in ('torch', 'transformers', 'sklearn', 'pandas', 'onnxruntime') "
            "if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
