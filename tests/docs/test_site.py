"""The documentation site: its API reference lists every public name, and `mkdocs build --strict`
fails on a broken link or a reference to a name that does not exist (the build itself runs in
`make test`)."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["io", "encode", "classify", "finetune", "search", "label", "evaluate", "explore", "render",
            "runtime", "serve"]


def test_the_api_reference_lists_every_public_name_of_every_package():
    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    missing = []
    for name in PACKAGES:
        package = importlib.import_module(f"bertclf.{name}")
        for public in package.__all__:
            if f"::: bertclf.{name}.{package._EXPORTS[public]}.{public}\n" not in page:
                missing.append(f"bertclf.{name}.{public}")
    assert not missing, f"add to docs/reference/api.md: {missing}"


def _build(tmp_path: Path, page: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "docs", site / "docs")
    shutil.copy(ROOT / "mkdocs.yml", site)
    shutil.copy(ROOT / "CHANGELOG.md", site)
    (site / "docs" / "index.md").write_text(page)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "out")], cwd=site, capture_output=True, text=True,
                          env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT)}, timeout=300)


@pytest.mark.parametrize(("page", "complaint"), [
    ("# bertclf\n\nSee [the guide](no-such-page.md).\n", "no-such-page.md"),
    ("# bertclf\n\n::: bertclf.search.training.no_such_function\n", "no_such_function"),
])
def test_a_broken_link_or_a_missing_name_fails_the_build(tmp_path, page, complaint):
    built = _build(tmp_path, page)
    assert built.returncode != 0 and complaint in built.stdout + built.stderr


def test_the_site_builds_with_the_command_reference_generated_from_the_commands(tmp_path):
    built = _build(tmp_path, (ROOT / "docs" / "index.md").read_text())
    assert built.returncode == 0, built.stderr
    commands = (tmp_path / "out" / "reference" / "commands" / "index.html").read_text()
    for text in ("bertclf train", "--few-shot", "bertclf serve", "--budget"):
        assert text in commands, text
