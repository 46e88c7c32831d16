"""Clustering: k-means on embeddings, k by silhouette, c-TF-IDF keywords, and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from bertclf.errors import InputError, SpecError
from bertclf.explore.clustering import agreement, class_tfidf, cluster, parse_k
from tests.conftest import LABELS, TEXTS, assert_one_line_error


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])
    return np.vstack([c + rng.normal(0, 0.3, (8, 3)) for c in centres])


def test_three_blobs_are_found_by_k_and_by_silhouette():
    vectors = _blobs()
    truth = LABELS  # 8 sport, 8 money, 8 water: the blobs' order
    fixed = cluster(vectors, TEXTS, 3, truth=truth)
    assert fixed.scores["v_measure"] == pytest.approx(1.0)
    assert fixed.scores["adjusted_rand"] == pytest.approx(1.0)
    auto = cluster(vectors, TEXTS, None, k_range=(2, 6))
    assert auto.k == 3 and max(auto.silhouette, key=auto.silhouette.get) == 3
    sizes = sorted(c.size for c in auto.clusters)
    assert sizes == [8, 8, 8]
    for c in auto.clusters:  # the nearest texts belong to their own cluster
        assert all(auto.labels[i] == c.id for i in c.nearest) and len(c.nearest) == 3


def test_class_tfidf_names_what_sets_a_cluster_apart():
    labels = np.array([0] * 8 + [1] * 8 + [2] * 8)
    words = class_tfidf(TEXTS, labels, 3, top=3)
    assert set(words[0]) & {"team", "game"} and set(words[1]) & {"bank", "loan", "money", "rate"}
    assert set(words[2]) & {"water", "flood", "city", "river"}
    assert class_tfidf(["1 2", "3"], np.array([0, 1]), 2) == [[], []]


def test_agreement_leaves_out_rows_without_labels():
    scores = agreement(["a", "a", None, "b"], np.array([0, 0, 1, 1]))
    assert scores["v_measure"] == pytest.approx(1.0) and scores["labelled_texts"] == 3


def test_bad_k_is_refused():
    assert parse_k("auto") is None and parse_k("4") == 4
    with pytest.raises(SpecError, match="at least 2"):
        parse_k("1")
    with pytest.raises(SpecError, match="whole number or 'auto'"):
        parse_k("many")
    with pytest.raises(InputError, match="k = 30 is more than the 24 texts"):
        cluster(_blobs(), TEXTS, 30)
    with pytest.raises(InputError, match="cannot be clustered"):
        cluster(_blobs()[:1], TEXTS[:1], None)


def test_cluster_command_writes_the_table_and_summary(run, tiny_model, write, tmp_path):
    path = write("texts.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    out, summary = tmp_path / "clusters.csv", tmp_path / "clusters.json"
    result = run("cluster", path, "-k", "3", "--label-col", "label", "--model", tiny_model, "--out", out,
                 "--summary", summary)
    assert result.exit_code == 0, result.output
    assert "3 clusters of" in result.stdout and "V-measure" in result.stdout
    table = pd.read_csv(out)
    assert list(table.columns) == ["text", "label", "cluster"] and set(table["cluster"]) <= {0, 1, 2}
    described = json.loads(summary.read_text())
    assert described["k"] == 3 and sum(c["size"] for c in described["clusters"]) == 24
    assert all(len(c["nearest_texts"]) <= 3 for c in described["clusters"])
    auto = run("cluster", path, "--k-range", "2..4", "--model", tiny_model, "--out", out, "-q")
    assert auto.exit_code == 0, auto.output
    too_many = run("cluster", path, "-k", "40", "--model", tiny_model, "--out", out)
    assert_one_line_error(too_many, "k = 40 is more than the 24 texts")


def test_k_range_is_checked():
    from bertclf.explore.clustering import parse_k_range

    assert parse_k_range("3..7") == (3, 7)
    for bad in ("7..3", "1..4", "two..five", "5"):
        with pytest.raises(SpecError, match="--k-range"):
            parse_k_range(bad)
