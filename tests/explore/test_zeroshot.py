"""Zero-shot categories from keywords: parsing, assignment, threshold, multi, and the CLI."""

import numpy as np
import pandas as pd
import pytest

from bertclf import Embedder
from bertclf.errors import InputError, SpecError
from bertclf.explore.zeroshot import OTHER, ZeroShot, parse_categories, read_categories
from tests.conftest import LABELS, TEXTS, assert_one_line_error

CATEGORIES = {"sport": ["team", "game", "win"],
              "money": {"keywords": ["bank", "loan"], "description": "money"},
              "water": "river flood water"}


def test_categories_take_keywords_descriptions_or_both():
    parsed = parse_categories(CATEGORIES)
    assert [c.name for c in parsed] == ["sport", "money", "water"]
    assert parsed[1].phrases == ["bank", "loan", "money"] and parsed[2].phrases == ["river flood water"]
    with pytest.raises(InputError, match="category 'empty' is empty"):
        parse_categories({"sport": ["team"], "empty": []})
    with pytest.raises(InputError, match="unknown field"):
        parse_categories({"sport": {"words": ["team"]}})
    with pytest.raises(InputError, match="reserved"):
        parse_categories({"other": ["x"]})


def test_bad_yaml_is_named_with_its_line(write):
    path = write("bad.yaml", "sport: [team, game\nmoney: [bank]\n")
    with pytest.raises(InputError, match=r"not valid YAML \(line \d+"):
        read_categories(path)
    with pytest.raises(InputError, match="expected a mapping"):
        read_categories(write("list.yaml", "- team\n- game\n"))


def test_texts_go_to_the_nearest_category(tiny_model):
    embedder = Embedder(tiny_model, progress=False)
    model = ZeroShot(embedder, parse_categories(CATEGORIES)).fit()
    scores = model.scores(TEXTS)
    assert scores.shape == (24, 3) and np.all(np.abs(scores) <= 1 + 1e-6)
    assigned = model.assign(scores)
    assert assigned == model.names[scores.argmax(axis=1)].tolist()
    # the category's own words are nearest to it
    own = model.assign(model.scores(["team game win", "bank loan money"]))
    assert own == ["sport", "money"]
    strict = ZeroShot(embedder, parse_categories(CATEGORIES), threshold=0.999).fit()
    assert OTHER in strict.assign(strict.scores(TEXTS))
    multi = ZeroShot(embedder, parse_categories(CATEGORIES), threshold=-1.0, multi=True).fit()
    assert all(label == "sport;money;water" for label in multi.assign(multi.scores(TEXTS[:3])))
    with pytest.raises(SpecError, match="multi needs a threshold"):
        ZeroShot(embedder, [], multi=True)


def test_zero_shot_command(run, tiny_model, write, tmp_path):
    import yaml

    cats = write("cats.yaml", yaml.safe_dump(CATEGORIES, sort_keys=False))
    path = write("texts.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    out = tmp_path / "sorted.csv"
    result = run("zero-shot", path, "--categories", cats, "--model", tiny_model, "--out", out,
                 "--label-col", "label")
    assert result.exit_code == 0, result.output
    assert "zero-shot on" in result.stdout and "accuracy" in result.stdout
    table = pd.read_csv(out)
    assert list(table.columns) == ["text", "label", "category", "score_sport", "score_money", "score_water"]
    stdout = run("zero-shot", path, "--categories", cats, "--model", tiny_model, "--threshold", "0.99", "-q")
    assert stdout.exit_code == 0 and "other" in stdout.stdout
    empty = write("empty.yaml", "sport: [team]\nwater: []\n")
    assert_one_line_error(run("zero-shot", path, "--categories", empty, "--model", tiny_model),
                          "category 'water' is empty")
    broken = write("broken.yaml", "sport: [team\n")
    assert_one_line_error(run("zero-shot", path, "--categories", broken, "--model", tiny_model),
                          "not valid YAML")
