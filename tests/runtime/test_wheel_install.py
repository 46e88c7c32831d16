"""The runtime install (`pip install bertclf`, no extra) predicts with folders the full install
made. `make test` builds the wheel ($BERTCLF_WHEEL), installs it (not the checkout) into a venv of
its own and names that venv's bertclf in $BERTCLF_RUNTIME."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.runtime.test_model import BLOCKED, fitted

RUNTIME = os.environ.get("BERTCLF_RUNTIME")
WHEEL = os.environ.get("BERTCLF_WHEEL")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not RUNTIME, reason="needs the runtime-only venv that `make test` builds "
                                                    "(BERTCLF_RUNTIME=.venv-runtime/bin/bertclf)")


def runtime(*args: object, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([RUNTIME, *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_the_runtime_venv_holds_none_of_the_training_stack():
    python = Path(RUNTIME).with_name("python")
    absent = [m for m in BLOCKED if m != "huggingface_hub"]  # tokenizers installs it (and we never import it)
    code = f"import importlib.util as u; print([m for m in {absent!r} if u.find_spec(m)])"
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_a_folder_from_the_full_install_predicts_the_same_in_the_runtime(tiny_model, tmp_path, run):
    fitted(tiny_model).save(tmp_path / "m")
    fitted(tiny_model, features="tfidf").save(tmp_path / "tfidf", self_contained=False)  # needs no encoder
    (tmp_path / "in.csv").write_text("text\nthe team won\nwater in the city\nmy bank\n", encoding="utf-8")
    for model in ("m", "tfidf"):
        full = run("predict", tmp_path / model, tmp_path / "in.csv", "--top-k", "2")
        lean = runtime("predict", tmp_path / model, tmp_path / "in.csv", "--top-k", "2")
        assert lean.returncode == 0, lean.stderr
        assert lean.stdout == full.stdout


def test_the_runtime_names_the_extra_it_lacks(tiny_model, tmp_path):
    fitted(tiny_model).save(tmp_path / "slim", self_contained=False)
    slim = runtime("predict", tmp_path / "slim", stdin="the team\n")
    assert slim.returncode == 2 and "bertclf export" in slim.stderr and "Traceback" not in slim.stderr
    (tmp_path / "x.csv").write_text("text,label\nhi,a\n")
    trained = runtime("train", tmp_path / "x.csv", "--out", tmp_path / "x")
    assert trained.returncode == 2 and "pip install 'bertclf[train]'" in trained.stderr


def test_the_runtime_serves(tiny_model, tmp_path):
    fitted(tiny_model).save(tmp_path / "m")
    python = Path(RUNTIME).with_name("python")
    code = ("import sys; from bertclf.serve import create_app; app = create_app([sys.argv[1]]); "
            "print(sorted(r.path for r in app.routes if r.path.startswith('/v1')))")
    made = subprocess.run([python, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(["/v1/embed", "/v1/embeddings", "/v1/models", "/v1/models/{model_id}",
                                       "/v1/predict"])


@pytest.mark.skipif(not WHEEL, reason="needs the wheel that `make test` builds (BERTCLF_WHEEL=dist/...whl)")
def test_the_wheel_carries_every_file_of_the_package():
    """Every file under bertclf/ (modules, the served page, int8's calibration texts) is in the
    wheel: package data left out of pyproject.toml would pass an editable install's tests."""
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bertclf").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    inside = set(zipfile.ZipFile(ROOT / WHEEL).namelist())
    assert {"bertclf/serve/static/index.html", "bertclf/encode/calibration.txt"} <= wanted
    assert wanted - inside == set()
    entry = next(n for n in inside if n.endswith(".dist-info/entry_points.txt"))
    assert "bertclf = bertclf.cli:main" in zipfile.ZipFile(ROOT / WHEEL).read(entry).decode()


def test_the_runtime_runs_the_installed_wheel_not_the_checkout():
    python = Path(RUNTIME).resolve().with_name("python")
    code = ("import bertclf, importlib.resources as r; print(bertclf.__file__); "
            "print(len(r.files('bertclf.serve').joinpath('static/index.html').read_text('utf-8')))")
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    where, page = found.stdout.split()
    assert "site-packages" in where and not Path(where).is_relative_to(ROOT / "bertclf")
    assert int(page) > 1000
