"""The labelling page in a real headless browser (Debian's chromium driven by playwright, as the
serve page's tests do): twenty texts labelled with the keyboard, one undone and answered again,
all of them found in the database; offline, and readable on a phone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bertclf import Embedder
from bertclf.label.app import create_label_app
from bertclf.label.session import start_session
from tests.conftest import LABELS, TEXTS, running

CHROMIUM = os.environ.get("BERTCLF_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ORDER = ["sport", "money", "water"]  # keys 1, 2, 3
TRUTH = dict(zip(TEXTS, LABELS, strict=True))

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")


def truth(text: str) -> str:
    return TRUTH[text.removesuffix(" (again)")]


@pytest.fixture
def labelling(tiny_model, tmp_path):
    pool = TEXTS + [f"{t} (again)" for t in TEXTS]
    store, learner, _ = start_session(pool, ORDER, tmp_path / "t.db", Embedder(tiny_model, progress=False))
    with running(create_label_app(store, learner)) as url:
        yield store, url, learner
    learner.stop()

def test_twenty_texts_labelled_with_the_keyboard_one_undone_all_in_the_database(labelling, tmp_path):
    store, url, _ = labelling
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone's width
        outside, errors = [], []
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                   else (outside.append(route.request.url), route.abort()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "/")
        page.wait_for_function("document.querySelectorAll('#choices button').length === 3")
        answered = []
        for i in range(20):
            text = page.inner_text("#text")
            page.keyboard.press(str(ORDER.index(truth(text)) + 1))
            page.wait_for_function("t => document.getElementById('text').textContent !== t", arg=text)
            answered.append(text)
            if i == 9:  # take the tenth answer back: the same text comes back, and is answered again
                page.keyboard.press("u")
                page.wait_for_function("t => document.getElementById('text').textContent === t", arg=text)
                page.keyboard.press(str(ORDER.index(truth(text)) + 1))
                page.wait_for_function("t => document.getElementById('text').textContent !== t", arg=text)
        page.keyboard.press("?")
        assert page.is_visible("#help")
        page.wait_for_function("document.getElementById('progress').textContent.startsWith('20 labelled')",
                               timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=tmp_path / "label.png", full_page=True)
        browser.close()
    kept = store.answered()
    texts = store.texts(list(kept))
    assert len(kept) == 20 and sorted(texts.values()) == sorted(answered)
    assert all(labels == [truth(texts[i])] for i, labels in kept.items())
    assert sum(row["undone"] for row in store.history()) == 1
    assert outside == [] and errors == []
    assert (tmp_path / "label.png").stat().st_size > 10_000


class _Finished:
    """A tuning run that has finished and was kept: its figures, and vectors to hand over."""

    running = False

    def __init__(self, vectors):
        self.vectors = vectors
        self.result = {"labels": 100, "check": 20, "frozen": 0.75, "tuned": 0.85, "adopted": True}

    def due(self, answers):
        return False

    def take(self):
        news, self.vectors = (True, self.vectors), None
        return news if news[1] is not None else None

    def stop(self):
        pass


def test_the_side_panel_says_what_the_last_tuning_run_measured(labelling):
    _, url, learner = labelling
    learner.tuner = _Finished(learner.vectors.copy())
    learner.refit()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('tuning').textContent.length > 0", timeout=15_000)
        line = page.inner_text("#tuning")
        browser.close()
    assert line == ("Few-shot tuning on 100 labels: 85% against the head's 75% on 20 held-back answers; "
                    "the model now reads the tuned encoder.")
