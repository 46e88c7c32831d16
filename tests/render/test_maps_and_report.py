"""2-D maps (PNG and offline HTML) and the HTML model report."""

import re
import xml.dom.minidom

import numpy as np
import pandas as pd
import pytest

from bertclf.errors import InputError
from bertclf.explore.reduction import project_2d
from bertclf.render.maps import map_svg
from tests.conftest import LABELS, TEXTS, assert_one_line_error


def _svg(page: str) -> str:
    return page[page.index("<svg"):page.index("</svg>") + 6]


def test_projection_and_svg_map():
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal(c, 0.1, (8, 5)) for c in (0.0, 3.0, 6.0)])
    coords, method = project_2d(vectors, seed=1, method="tsne")
    assert coords.shape == (24, 2) and method == "PCA + t-SNE"
    wrong = np.zeros(24, bool)
    wrong[0] = True
    svg = map_svg(coords, LABELS, ["<b>&" + t for t in TEXTS], method, "label", wrong)
    xml.dom.minidom.parseString(svg)  # well-formed: texts are escaped
    assert svg.count("<title>") == 24 and "misclassified (1)" in svg and "&lt;b&gt;&amp;" in svg
    with pytest.raises(InputError, match="too few to map"):
        project_2d(vectors[:2])


def test_plot_command_png_and_html(run, tiny_model, write, tmp_path):
    path = write("texts.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    png, page = tmp_path / "map.png", tmp_path / "map.html"
    result = run("plot", path, "--color-by", "label", "--model", tiny_model, "--out", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run("plot", path, "--clusters", "3", "--model", tiny_model, "--out", page, "-q")
    assert result.exit_code == 0, result.output
    text = page.read_text()
    xml.dom.minidom.parseString(_svg(text))
    assert not re.search(r'(src|href)="https?:', text) and "<script" not in text  # works offline
    assert _svg(text).count("<title>") == 24
    few = write("few.csv", "text\nhello\nworld\n")
    assert_one_line_error(run("plot", few, "--model", tiny_model, "--out", png), "a map needs at least 3")
    assert_one_line_error(run("plot", path, "--model", tiny_model, "--out", tmp_path / "m.gif"),
                          "unknown output format")


def test_report_command(run, tiny_model, write, tmp_path):
    path = write("texts.csv", pd.DataFrame({"text": TEXTS * 2, "label": LABELS * 2}).to_csv(index=False))
    model = tmp_path / "model"
    assert run("train", path, "--model", tiny_model, "--out", model, "-q", "--no-baseline").exit_code == 0
    out = tmp_path / "report.html"
    result = run("report", model, path, "--out", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[:5] == ["Metrics", "Scores per class", "Confusion matrix", "Calibration",
                            "Map of the test embeddings"]
    assert headings[5].startswith("The most confidently wrong") or headings[5] == "Mistakes"
    assert page.count("<svg") == 4 and not re.search(r'(src|href)="https?:', page)
    assert "<th class='text'>ECE</th>" in page
    assert "wrote the report on 48 texts" in result.stderr


def test_the_reports_mistakes_show_the_words_behind_each_wrong_prediction(run, tiny_model, write, tmp_path):
    path = write("texts.csv", pd.DataFrame({"text": TEXTS * 2, "label": LABELS * 2}).to_csv(index=False))
    model = tmp_path / "model"
    assert run("train", path, "--model", tiny_model, "--out", model, "-q", "--no-baseline").exit_code == 0
    shifted = pd.DataFrame({"text": TEXTS, "label": LABELS[8:] + LABELS[:8]})  # every label wrong
    wrong = write("wrong.csv", shifted.to_csv(index=False))
    out = tmp_path / "report.html"
    assert run("report", model, wrong, "--out", out, "-q").exit_code == 0
    page = out.read_text()
    table = page[page.index("The most confidently wrong"):]
    marks = re.findall(r"<mark class='(toward|against)' title='([+-][0-9.]+) \w+ (\w+)'>([^<]+)</mark>",
                       table)
    assert marks and {side for side, *_ in marks} <= {"toward", "against"}
    assert all((side == "toward") == weight.startswith("+") for side, weight, _, _ in marks)
    assert {word for *_, word in marks} <= set(" ".join(TEXTS).split())
