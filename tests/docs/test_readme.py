"""Every console example in README.md runs, succeeds and prints its key lines (numbers aside), so
the README cannot drift from what the commands print. Uses the bundled model, in-process."""

import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def console_examples(text: str) -> list[tuple[str, list[str]]]:
    """(command, the lines it shows) for every '$ ' line of the README's console blocks; '...'
    stands for lines left out."""
    examples: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], []))
            elif line.strip() and line.strip() != "..." and examples:
                examples[-1][1].append(line)
    return examples


def shape(line: str) -> str:
    """A line with its numbers blanked and its spacing collapsed: what must not drift. A duration
    is one shape in ms or s (a loaded machine prints "0.1 s" where the README shows "45 ms")."""
    line = re.sub(r"\d+(?:[.,]\d+)* m?s\b", "# s", line)
    return " ".join(re.sub(r"\d+(?:[.,]\d+)*", "#", line).split())


def test_the_readme_has_console_examples():
    examples = console_examples((ROOT / "README.md").read_text())
    assert len(examples) >= 4 and all(shown for _, shown in examples)


def test_every_readme_console_example_runs_and_prints_its_key_lines(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bertclf.cli import main

    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)  # in-process: the README's relative paths, without a start-up per command
    monkeypatch.setenv("COLUMNS", "100")
    for command, shown in console_examples((ROOT / "README.md").read_text()):
        stdin = None
        if "|" in command:  # echo "text" | bertclf ...
            source, command = (part.strip() for part in command.split("|", 1))
            stdin = shlex.split(source)[1] + "\n"
        argv = shlex.split(command)
        assert argv[0] == "bertclf", command
        result = CliRunner().invoke(main, argv[1:], input=stdin)
        assert result.exit_code == 0, (command, result.output)
        printed = {shape(line) for line in (result.stdout + result.stderr).splitlines()}
        missing = [line for line in shown if shape(line) not in printed]
        assert not missing, (command, missing, result.stdout + result.stderr)


def _venv_megabytes(folder: Path) -> float:
    """A folder's size as `du -sm` counts it (blocks, 2**20 bytes a MB)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*")) / 2**20


@pytest.mark.skipif(not os.environ.get("BERTCLF_RUNTIME"), reason="needs the runtime venv `make test` builds")
def test_the_readmes_runtime_size_is_the_runtime_venvs():
    stated = [int(n) for n in re.findall(r"about (\d+) MB\s+installed", (ROOT / "README.md").read_text())]
    measured = _venv_megabytes(Path(os.environ["BERTCLF_RUNTIME"]).resolve().parents[1])
    assert stated and all(abs(n - measured) <= 0.2 * measured for n in stated), (stated, measured)


def test_the_readmes_test_count_is_the_suites(request):
    """Only where this session collected the whole suite (no file, -k or -m chosen)."""
    options = request.config.option
    whole = not request.config.args or [Path(a).resolve() for a in request.config.args] == [ROOT / "tests"]
    if not whole or options.keyword or options.markexpr:
        pytest.skip("this run collected part of the suite")
    stated = int(re.search(r"about (\d+) tests", (ROOT / "README.md").read_text()).group(1))
    count = request.session.testscollected
    assert abs(stated - count) <= 0.2 * count, (stated, count)
