import numpy as np
import pytest

from bertclf.encode.pooling import l2_normalize, parse_layers, pool_layers, pool_tokens, resolve_layers
from bertclf.errors import SpecError

# Two texts: the first has 3 real tokens, the second 1 real token and 2 padding positions whose
# values are large, so any pooling that lets padding count gives a visibly wrong answer.
HIDDEN = np.array(
    [
        [[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]],
        [[2.0, -1.0], [100.0, 100.0], [100.0, 100.0]],
    ],
    dtype=np.float32,
)
MASK = np.array([[1, 1, 1], [1, 0, 0]])


def test_mean_pooling_matches_hand_computation_and_ignores_padding():
    pooled = pool_tokens(HIDDEN, MASK, "mean")
    np.testing.assert_allclose(pooled, [[3.0, 2.0], [2.0, -1.0]])


def test_max_pooling_ignores_padding_even_when_padding_is_larger():
    pooled = pool_tokens(HIDDEN, MASK, "max")
    np.testing.assert_allclose(pooled, [[5.0, 4.0], [2.0, -1.0]])


def test_cls_pooling_takes_the_first_position():
    np.testing.assert_allclose(pool_tokens(HIDDEN, MASK, "cls"), [[1.0, 2.0], [2.0, -1.0]])


def test_layer_mean_averages_token_vectors_before_pooling():
    other = HIDDEN * 3.0
    pooled = pool_layers([HIDDEN, other], MASK, "max", "mean")
    # token-level average is 2x HIDDEN; max over real tokens of that
    np.testing.assert_allclose(pooled, [[10.0, 8.0], [4.0, -2.0]])


def test_layer_concat_joins_in_the_given_order():
    other = HIDDEN + 10.0
    pooled = pool_layers([other, HIDDEN], MASK, "mean", "concat")
    assert pooled.shape == (2, 4)
    np.testing.assert_allclose(pooled, [[13.0, 12.0, 3.0, 2.0], [12.0, 9.0, 2.0, -1.0]])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("-1", [6]),
        (-2, [5]),
        ("-4..-1", [3, 4, 5, 6]),
        ("1..3", [1, 2, 3]),
        ("all", [1, 2, 3, 4, 5, 6]),
        ("0,6", [0, 6]),
        ("-1, -4", [6, 3]),
        ([0, -1], [0, 6]),
        ("-7", [0]),
    ],
)
def test_layer_specs_resolve_to_hidden_state_indices(spec, expected):
    assert resolve_layers(spec, num_layers=6) == expected


@pytest.mark.parametrize("spec", ["", "last", "-4..x", "1..", "-1..-4", "-2..2", [], ["a"], "1;2"])
def test_malformed_layer_specs_name_the_valid_forms(spec):
    with pytest.raises(SpecError, match="-4..-1|upwards|empty"):
        resolve_layers(spec, num_layers=6)


@pytest.mark.parametrize("spec", ["7", "-8", "0..7"])
def test_out_of_range_layers_say_how_many_layers_there_are(spec):
    with pytest.raises(SpecError, match="has 6 layers"):
        resolve_layers(spec, num_layers=6)


def test_parse_keeps_all_symbolic():
    assert parse_layers("ALL") == "all"


def test_unknown_pooling_is_a_spec_error():
    with pytest.raises(SpecError, match="cls, mean, max"):
        pool_tokens(HIDDEN, MASK, "avg")


def test_l2_normalize_gives_unit_rows_and_leaves_zero_rows_finite():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
