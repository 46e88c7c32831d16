import math
import warnings

import numpy as np
import pytest

from bertclf.errors import BertclfWarning, InputError
from bertclf.io.labels import (
    Columns,
    encode_labels,
    holdout_split,
    normalize_labels,
    read_labelled,
    read_split,
)


def test_labels_may_be_strings_or_numbers():
    assert normalize_labels([1.0, 2.0, 1.0]) == [1, 2, 1]
    assert normalize_labels([" spam", "ham "]) == ["spam", "ham"]
    assert normalize_labels([1, "a"]) == ["1", "a"]  # mixed kinds sort as text
    classes, index = encode_labels(np.array([3, 1, 3]))
    assert classes.tolist() == [1, 3] and index.tolist() == [1, 0, 1]


def test_rows_without_a_label_are_dropped_and_counted(write):
    path = write("t.csv", "text,label\na,x\nb,\nc,y\nd, \n")
    message = r"2 of 4 rows have no label \(lines 3, 5 of .*t\.csv\); those rows were dropped"
    with pytest.warns(BertclfWarning, match=message):
        texts, labels = read_labelled(path, "text", "label")
    assert texts == ["a", "c"] and labels == ["x", "y"]
    with pytest.raises(InputError, match="2 of 4 rows have no label"):
        read_labelled(path, "text", "label", strict=True)


def test_missing_label_column_names_the_columns(write):
    path = write("t.csv", "text,category\na,x\n")
    with pytest.raises(InputError, match="no column 'label'; its columns are: text, category .*--label-col"):
        read_labelled(path, "text", "label")


def test_jsonl_numeric_labels_with_gaps(write):
    rows = ['{"text": "a", "label": 1}', '{"text": "b", "label": null}', '{"text": "c", "label": 0}']
    path = write("t.jsonl", "\n".join(rows) + "\n")
    with pytest.warns(BertclfWarning):
        _, labels = read_labelled(path, "text", "label")
    assert labels == [1, 0]


def test_holdout_is_stratified_and_seeded():
    labels = ["a"] * 80 + ["b"] * 20
    train, test = holdout_split(labels, 0.2, seed=13)
    assert len(test) == 20 and sorted(labels[i] for i in test).count("b") == 4
    again, _ = holdout_split(labels, 0.2, seed=13)
    assert np.array_equal(train, again)


def test_holdout_falls_back_when_a_class_has_one_example():
    labels = ["a"] * 10 + ["b"] * 10 + ["solo"]
    message = "cannot stratify.*'solo' has a single example; using a random split"
    with pytest.warns(BertclfWarning, match=message):
        train, test = holdout_split(labels, 0.2, seed=1)
    assert len(train) + len(test) == 21 and len(test) == math.ceil(21 * 0.2)


def test_holdout_refuses_too_little_data():
    with pytest.raises(InputError, match="too few"):
        holdout_split(["a", "b"], 0.5, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        holdout_split(["a", "b"] * 10, 0.2, seed=1)  # an ordinary split warns about nothing


@pytest.mark.parametrize("day", [[f"2024-03-0{9 - i}" for i in range(9)] + ["2024-02-01"],
                                 [str(9 - i) for i in range(9)] + ["0.5"]], ids=["dates", "numbers"])
def test_a_time_column_holds_out_the_latest_rows_and_travels_with_the_training_rows(write, day):
    rows = "".join(f"t{i},{'ab'[i % 2]},{d}\n" for i, d in enumerate(day))
    split = read_split(write("t.csv", "text,label,day\n" + rows), None, 0.2, 13, Columns(time="day"))
    assert split.eval_texts == ["t0", "t1"]  # the two latest days, whatever the file's order
    assert split.texts == [f"t{i}" for i in range(2, 10)] and "latest 20%" in split.description
    assert split.times is not None and len(split.times) == 8
    assert split.times.argmin() == 7 and split.times.argmax() == 0  # the training rows' own times
    plain = read_split(write("u.csv", "text,label,day\n" + rows), None, 0.2, 13, Columns())
    assert plain.times is None and plain.eval_texts != ["t0", "t1"]  # seeded and stratified as before
