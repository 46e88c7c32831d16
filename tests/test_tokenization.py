import numpy as np
import pytest

from bertclf.models import load_tokenizer, resolve
from bertclf.tokenization import encode, explain, length_batches, pad_batch


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return load_tokenizer(resolve(tiny_model))


def test_explain_shows_wordpieces_specials_segments_and_positions(tokenizer):
    view = explain(tokenizer, "The bank raised rates.", "The river flooded.")
    assert view.tokens == ["[CLS]", "the", "bank", "rais", "##ed", "rate", "##s", ".", "[SEP]",
                           "the", "river", "flood", "##ed", ".", "[SEP]"]
    assert view.segment_ids == [0] * 9 + [1] * 6
    assert view.positions == list(range(15))
    assert view.attention_mask == [1] * 15
    assert view.special == [True] + [False] * 7 + [True] + [False] * 5 + [True]
    assert view.ids == tokenizer.convert_tokens_to_ids(view.tokens)
    assert view.cut == [[], []]


def test_explain_cuts_the_longer_segment_first_and_reports_it(tokenizer):
    view = explain(tokenizer, "the bank raised rates", "the river", max_length=8)
    assert len(view.tokens) == 8
    assert view.tokens == ["[CLS]", "the", "bank", "rais", "[SEP]", "the", "river", "[SEP]"]
    assert view.cut == [["##ed", "rate", "##s"], []]


def test_explain_pads_on_the_right_with_mask_zero(tokenizer):
    view = explain(tokenizer, "hello world", pad_to=6)
    assert view.tokens == ["[CLS]", "hello", "world", "[SEP]", "[PAD]", "[PAD]"]
    assert view.attention_mask == [1, 1, 1, 1, 0, 0]


def test_encode_truncates_keeps_sep_and_counts_cut_texts(tokenizer):
    encoded = encode(tokenizer, ["hello world", "the cat sat on the mat and the dog sat", ""], 6)
    assert [len(ids) for ids in encoded.input_ids] == [4, 6, 2]
    assert encoded.input_ids[1][-1] == tokenizer.sep_token_id
    assert encoded.input_ids[2] == [tokenizer.cls_token_id, tokenizer.sep_token_id]
    assert encoded.truncated == 1


def test_length_batches_cover_every_row_once_longest_first():
    lengths = np.array([3, 9, 1, 7, 7, 2, 5])
    batches = length_batches(lengths, batch_size=3)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(7))
    assert lengths[order].tolist() == sorted(lengths.tolist(), reverse=True)
    assert [len(b) for b in batches] == [3, 3, 1]


def test_pad_batch_pads_right_to_the_longest_in_the_batch(tokenizer):
    encoded = encode(tokenizer, ["hello", "the cat sat"], 64)
    batch = pad_batch(encoded, np.array([1, 0]), pad_id=0)
    assert batch["input_ids"].shape == (2, 5)
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["input_ids"][1].tolist()[3:] == [0, 0]
    assert batch["token_type_ids"].tolist() == [[0] * 5, [0] * 5]
