import numpy as np
import pytest

from bertclf.encode.sources import load_tokenizer, resolve
from bertclf.encode.tokenization import (
    check_long,
    combine_windows,
    encode,
    explain,
    length_batches,
    pad_batch,
)
from bertclf.errors import SpecError


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


def _random_texts(seed, count=120, longest=30):
    import random

    words = "the cat sat on a mat with my dog and river bank rates hello world".split()
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(0, longest))) for _ in range(count)]


@pytest.mark.parametrize("max_length", [3, 8, 17, 64])
def test_texts_and_pairs_match_the_tokenizers_own_truncation(tokenizer, max_length):
    texts, pairs = _random_texts(1), _random_texts(2)
    ours = encode(tokenizer, texts, max_length)
    assert ours.input_ids == tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    ours = encode(tokenizer, texts, max_length, pairs=pairs)
    theirs = tokenizer(texts, pairs, truncation="longest_first", max_length=max_length)
    assert ours.input_ids == theirs["input_ids"]
    assert ours.token_type_ids == theirs["token_type_ids"]
    assert ours.truncated == sum(len(a) + len(b) + 3 > max_length for a, b in zip(
        tokenizer(texts, add_special_tokens=False)["input_ids"],
        tokenizer(pairs, add_special_tokens=False)["input_ids"], strict=True))


def test_pairs_get_segment_ids_zero_then_one(tokenizer):
    encoded = encode(tokenizer, ["the cat"], 16, pairs=["my dog sat"])
    tokens = tokenizer.convert_ids_to_tokens(encoded.input_ids[0])
    assert tokens == ["[CLS]", "the", "cat", "[SEP]", "my", "dog", "sat", "[SEP]"]
    assert encoded.token_type_ids[0] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_head_tail_keeps_the_start_and_the_end(tokenizer):
    text = " ".join(["the"] * 5 + ["cat"] * 20 + ["dog"] * 5)
    long = check_long("head-tail", 12, head_tokens=4)
    tokens = tokenizer.convert_ids_to_tokens(encode(tokenizer, [text], 12, long=long).input_ids[0])
    assert tokens == ["[CLS]"] + ["the"] * 4 + ["cat"] + ["dog"] * 5 + ["[SEP]"]
    assert check_long("head-tail", 512).head == 128  # Sun et al.'s 128 + 382


def test_chunk_windows_read_every_token_once_or_more(tokenizer):
    text = " ".join(["the", "cat", "sat", "on", "my", "dog"] * 7)
    whole = tokenizer(text, add_special_tokens=False)["input_ids"]
    long = check_long("chunk", 12, stride=7)  # windows of 10 tokens every 7
    encoded = encode(tokenizer, ["hello", text], 12, long=long)
    starts = list(range(0, len(whole) - 10 + 7, 7))
    assert starts[-1] + 10 >= len(whole) > starts[-1] + 3
    assert encoded.owner.tolist() == [0] + [1] * len(starts)
    content = [ids[1:-1] for ids in encoded.input_ids[1:]]
    assert content == [whole[start:start + 10] for start in starts]
    assert encoded.truncated == 1


def test_combine_windows_by_mean_or_max():
    vectors = np.array([[1.0, 0.0], [3.0, 4.0], [5.0, -2.0]], dtype=np.float32)
    owner = np.array([0, 1, 1])
    np.testing.assert_allclose(combine_windows(vectors, owner, 2, "mean"), [[1, 0], [4, 1]])
    np.testing.assert_allclose(combine_windows(vectors, owner, 2, "max"), [[1, 0], [5, 4]])
    assert combine_windows(vectors, None, 3, "mean") is vectors


def test_bad_long_settings_are_refused(tokenizer):
    with pytest.raises(SpecError, match="stride 20 is larger than the window"):
        check_long("chunk", 12, stride=20)
    with pytest.raises(SpecError, match="unknown long-text strategy"):
        check_long("middle", 12)
    with pytest.raises(SpecError, match="head tokens must be"):
        check_long("head-tail", 12, head_tokens=11)
    with pytest.raises(SpecError, match="sentence pairs are cut longest side first"):
        encode(tokenizer, ["a"], 12, pairs=["b"], long=check_long("chunk", 12))


def test_a_huge_text_is_tokenized_only_as_far_as_it_is_kept(tokenizer):
    from bertclf.encode.tokenization import _content_ids

    words = "the cat sat on the mat, tokenization is unaffordable! "
    texts = ["short text", words * 3000, words * 3000 + "x" * 500, " " * 20000 + words * 50,
             "z" * 30000, words * 20]
    full = _content_ids(tokenizer, texts)
    kept = _content_ids(tokenizer, texts, keep=62)
    for whole, start in zip(full, kept, strict=True):
        assert start[:62] == whole[:62] and (len(start) > 62) == (len(whole) > 62)
    assert len(kept[1]) < len(full[1]) / 10  # the huge text was not tokenized to its end
    assert kept[3] == full[3]  # a start of spaces alone holds too few tokens: all of it is read
    encoded = encode(tokenizer, texts, 64, report=False)
    assert encoded.truncated == sum(len(ids) > 62 for ids in full)
