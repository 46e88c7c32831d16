"""The page at ``/`` and the API docs at ``/docs`` in a real headless browser: Debian's chromium
driven by playwright (never a downloaded browser), with every request that leaves the server
blocked and recorded, so the page is shown to work offline."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from bertclf import Embedder, TextClassifier
from tests.conftest import LABELS, TEXTS, running

CHROMIUM = os.environ.get("BERTCLF_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    from bertclf.serve import create_app

    root = tmp_path_factory.mktemp("page")
    model = TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False)
    model.fit(TEXTS, LABELS).save(root / "topics")
    multi = [[label, "any"] if i % 3 else [label] for i, label in enumerate(LABELS)]
    TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS, multi).save(root / "tags")
    with running(create_app([root / "topics", root / "tags"])) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        opened = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield opened
        opened.close()


def offline_page(browser, server, **options):
    """A new page whose requests to anywhere but the server are aborted and listed in ``page.outside``."""
    page = browser.new_page(**options)
    page.outside = []

    def only_the_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    return page


def label_on_page(page, server, model, text):
    page.goto(server + "/")
    page.wait_for_selector(f"#model option[value={model}]", state="attached")
    page.select_option("#model", model)
    page.fill("#texts", text)
    page.click("#go")
    page.wait_for_selector(".result")
    bars = page.eval_on_selector_all(".result .bar", "rows => rows.map(r => [r.dataset.label, "
                                                     "Number(r.dataset.score), r.classList.contains('top'), "
                                                     "r.querySelector('.fill').style.width])")
    badges = page.eval_on_selector_all(".result [data-testid=label]", "b => b.map(x => x.textContent)")
    return bars, badges


def test_typing_a_text_shows_each_labels_probability_as_bars(browser, server, tmp_path):
    page = offline_page(browser, server)
    bars, badges = label_on_page(page, server, "topics", "the team won the game")
    answer = httpx.post(server + "/v1/predict", json={"model": "topics", "texts": ["the team won the game"]})
    expected = answer.json()["predictions"][0]
    assert [(label, round(score, 9)) for label, score, _, _ in bars] == [
        (s["label"], round(s["score"], 9)) for s in expected["scores"]]
    assert badges == [expected["label"]]
    assert [label for label, _, top, _ in bars if top] == [expected["label"]]  # the top label highlighted
    assert bars[0][3] == f"{bars[0][1] * 100:.1f}%"  # the bar's width is its probability
    assert "1 text in" in page.inner_text("#status") and "ms" in page.inner_text("#status")
    page.screenshot(path=tmp_path / "page.png", full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 10_000
    assert page.outside == [] and page.errors == []


def test_a_multi_label_model_highlights_every_label_over_its_threshold(browser, server):
    page = offline_page(browser, server, viewport={"width": 390, "height": 844})  # a phone's width
    text = "water in the city and my bank loan"
    bars, badges = label_on_page(page, server, "tags", text)
    expected = httpx.post(server + "/v1/predict", json={"model": "tags", "texts": [text]}).json()
    chosen = expected["predictions"][0]["labels"]
    assert badges == (chosen or ["no label"])
    assert sorted(label for label, _, top, _ in bars if top) == sorted(chosen)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing runs off a phone's screen
    assert page.outside == [] and page.errors == []


def test_the_api_docs_work_offline(browser, server):
    page = offline_page(browser, server)
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock-summary-path[data-path=\"/v1/predict\"]", timeout=15_000)
    assert "bertclf" in page.inner_text(".swagger-ui .info")
    assert page.outside == []


def test_a_server_with_an_api_key_asks_for_it_on_the_page(browser, tiny_model, tmp_path):
    from bertclf.serve import create_app

    TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS, LABELS).save(tmp_path / "m")
    with running(create_app([tmp_path / "m"], api_key="s3cret")) as url:
        page = offline_page(browser, url)
        page.goto(url + "/")
        page.wait_for_selector("#key-box", state="visible")  # /v1/models said 401
        assert "API key" in page.inner_text("#status")  # the 401 message, shown
        page.fill("#key", "s3cret")
        page.dispatch_event("#key", "change")
        page.wait_for_selector("#model option[value=m]", state="attached")
        page.fill("#texts", "the team won the game")
        page.click("#go")
        page.wait_for_selector(".result")
        assert page.inner_text(".result [data-testid=label]") in LABELS
        assert page.outside == []


def test_a_dropped_csv_fills_the_box_with_its_text_column(browser, server):
    page = offline_page(browser, server)
    page.goto(server + "/")
    page.wait_for_selector("#model option[value=topics]", state="attached")
    csv = 'id,text\n1,"the team won, again"\n2,"a ""flood"" in the city"\n'
    page.evaluate("""csv => {
        const data = new DataTransfer();
        data.items.add(new File([csv], "tickets.csv", {type: "text/csv"}));
        document.getElementById("texts").dispatchEvent(new DragEvent("drop", {dataTransfer: data}));
    }""", csv)
    page.wait_for_function("document.getElementById('texts').value.length > 0", timeout=10_000)
    assert page.input_value("#texts") == 'the team won, again\na "flood" in the city'  # quotes and commas
    assert "2 texts from tickets.csv" in page.inner_text("#status")
    page.click("#go")
    page.wait_for_selector(".result >> nth=1")
    assert len(page.query_selector_all(".result")) == 2 and page.outside == []


def test_explain_marks_the_words_behind_the_label_with_their_weights(browser, server):
    page = offline_page(browser, server)
    page.goto(server + "/")
    page.wait_for_selector("#model option[value=topics]", state="attached")
    text = "the team won the game at the bank"
    page.fill("#texts", text)
    page.check("#explain")
    page.click("#go")
    page.wait_for_selector(".result mark")
    marks = page.eval_on_selector_all(".result mark", "ms => ms.map(m => [m.textContent, "
                                                      "Number(m.dataset.weight), m.className, m.title])")
    body = {"model": "topics", "texts": [text], "explain": True, "explain_k": 5}
    (explanation,) = httpx.post(server + "/v1/predict", json=body).json()["predictions"][0]["explanation"]
    words = sorted(explanation["for"] + explanation["against"], key=lambda w: w["start"])
    assert [(m[0], m[1]) for m in marks] == [(w["word"], w["weight"]) for w in words]
    assert all((m[2] == "toward") == (m[1] > 0) for m in marks)  # colour by sign
    assert all(explanation["label"] in m[3] and f"{abs(m[1]):.3f}" in m[3] for m in marks)  # weight on hover
    assert page.inner_text(".result").replace("\n", " ").count(text) >= 1  # the text itself, unchanged
    assert page.inner_text("[data-testid=why]").startswith(f"why {explanation['label']}: for ")
    assert page.outside == [] and page.errors == []
