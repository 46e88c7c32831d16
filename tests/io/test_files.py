import os

import numpy as np
import pandas as pd
import pytest

from bertclf import BertclfWarning
from bertclf.errors import InputError, SpecError
from bertclf.io.files import atomic_path, read_texts, read_vectors, write_vectors


def test_reads_every_table_format_and_keeps_text_as_text(write, tmp_path):
    expected = ["hello, world", "007", "line\nbreak"]
    frame = pd.DataFrame({"id": [1, 2, 3], "body": expected})
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "a.parquet")
    for name in ("a.csv", "a.tsv", "a.jsonl", "a.parquet"):
        assert read_texts(str(tmp_path / name), text_col="body") == expected, name


def test_plain_text_files_give_one_text_per_line(write):
    path = write("notes.txt", "first line\r\nsecond line\n\nfourth\n")
    with pytest.warns(BertclfWarning, match="1 of 4 texts are empty or missing \\(line 3 of .*notes.txt\\)"):
        assert read_texts(path) == ["first line", "second line", "", "fourth"]


def test_missing_cells_come_back_as_none(write):
    path = write("gaps.csv", "text,label\nhello,a\n,b\n")
    with pytest.warns(BertclfWarning, match="1 of 2 texts are empty or missing \\(line 3 of .*gaps.csv\\)"):
        assert read_texts(path) == ["hello", None]


def test_unknown_column_lists_the_columns_that_exist(write):
    path = write("a.csv", "body,label\nhi,x\n")
    with pytest.raises(InputError, match="no column 'text'; its columns are: body, label"):
        read_texts(path)


def test_missing_file_and_folder_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_texts(str(tmp_path / "nope.csv"))
    with pytest.raises(InputError, match="is a folder"):
        read_texts(str(tmp_path))


def test_undecodable_bytes_are_replaced_counted_and_refused_when_strict(write):
    path = write("latin1.csv", "text\ncaf\xe9 cr\xe8me\nok\n".encode("latin-1"))
    with pytest.warns(BertclfWarning, match="2 undecodable byte sequence"):
        texts = read_texts(path)
    assert texts == ["caf\ufffd cr\ufffdme", "ok"]
    with pytest.raises(InputError, match="2 undecodable byte sequence"):
        read_texts(path, strict=True)


def test_unreadable_file_is_an_input_error(write, monkeypatch):
    from pathlib import Path

    path = write("secret.txt", "hi\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(InputError, match="cannot read .*Permission denied"):
        read_texts(path)


def test_malformed_table_is_one_input_error(write):
    path = write("broken.jsonl", '{"text": "a"}\n{not json\n')
    with pytest.raises(InputError, match="cannot parse as jsonl"):
        read_texts(path)


def test_a_five_megabyte_line_is_read_whole(write):
    big = "word " * 1_000_000
    path = write("big.txt", f"short\n{big}\n")
    texts = read_texts(path)
    assert len(texts) == 2 and len(texts[1]) == len(big)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".csv"])
def test_vectors_round_trip_in_every_output_format(tmp_path, suffix):
    vectors = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    path = write_vectors(tmp_path / f"v{suffix}", vectors)
    np.testing.assert_allclose(read_vectors(path), vectors, rtol=1e-6)
    assert os.listdir(tmp_path) == [f"v{suffix}"]  # no temporary file left behind


def test_unknown_output_format_is_refused(tmp_path):
    with pytest.raises(SpecError, match=".npy, .parquet, .csv"):
        write_vectors(tmp_path / "v.txt", np.zeros((1, 2)))


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.bin"]


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    import pandas as pd

    from bertclf.io.files import write_table

    out = write_table(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
