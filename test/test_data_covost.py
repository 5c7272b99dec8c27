"""CoVoST 2 split TSVs into Kaldi data dirs (soundwave/data/covost.py), bad rows included.

The clips here are empty files: the parser only needs them to exist (the recipe test
test_recipe_covost2.py runs real MP3 clips through every stage).
"""

from __future__ import annotations

import pytest
from covost_util import client_id, write_tsv

from soundwave.bin import prepare_covost2
from soundwave.data.covost import covost_data_dir, read_covost_tsv
from soundwave.data.kaldi import DataDir
from soundwave.errors import UserError

HEADER = ("path", "sentence", "translation", "client_id")
A, B = client_id(0), client_id(1)
ROWS = {
    "de": [
        ("common_voice_en_2.mp3", "Good morning.", "Guten Morgen.", B),
        ("common_voice_en_1.mp3", 'He said "hi.', 'Er sagte "hallo.', A),
    ],
    "zh-CN": [
        ("common_voice_en_1.mp3", 'He said "hi.', '他说"你好。', A),
        ("common_voice_en_2.mp3", "Good morning.", "早上好。", B),
    ],
}


@pytest.fixture
def corpus(tmp_path):
    covost, cv = tmp_path / "covost2", tmp_path / "cv"
    covost.mkdir()
    (cv / "en" / "clips").mkdir(parents=True)
    for n in (1, 2):
        (cv / "en" / "clips" / f"common_voice_en_{n}.mp3").touch()
    for tgt, rows in ROWS.items():
        write_tsv(covost / f"covost_v2.en_{tgt}.test.tsv", HEADER, rows)
    return covost, cv


def test_both_pairs_in_one_sorted_data_dir(corpus):
    covost, cv = corpus
    d = covost_data_dir(covost, cv, ["en_de", "en_zh-CN"], "test")
    ids = [f"{A}-common_voice_en_1", f"{B}-common_voice_en_2"]
    assert d.utt_ids == sorted(ids) and list(d["text"]) == sorted(ids)
    assert d["utt2spk"] == {ids[0]: A, ids[1]: B}
    assert d["text"][ids[0]] == 'He said "hi.'  # QUOTE_NONE: quotes are text
    assert d["text.de"][ids[0]] == 'Er sagte "hallo.'
    assert d["text.zh"][ids[1]] == "早上好。"
    assert d["wav.scp"][ids[1]] == str((cv / "en/clips/common_voice_en_2.mp3").resolve())


def test_cli_writes_valid_data_dirs(corpus, tmp_path):
    covost, cv = corpus
    out = tmp_path / "data"
    argv = ["--covost-dir", str(covost), "--cv-root", str(cv), "--pairs", "en_de", "en_zh-CN"]
    prepare_covost2.main([*argv, "--splits", "test", "--out", str(out)])
    back = DataDir.load(out / "test")
    assert set(back.tables) == {"wav.scp", "text", "utt2spk", "text.de", "text.zh"}
    assert (out / "test" / "spk2utt").read_text().splitlines()[0].startswith(min(A, B))


def bad_tsv(corpus, line: str):
    covost, _ = corpus
    path = covost / "covost_v2.en_de.test.tsv"
    path.write_text(path.read_text() + line, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("common_voice_en_3.mp3\tHello.\tHallo.\n", "expected 4 tab-separated fields"),
        (f"common_voice_en_3.mp3\tHello.\t \t{A}\n", "empty translation"),
        (f"common_voice_en_3.mp3\tHello.\tHallo.\t{A}\textra\n", "got 5"),
        (f"common_voice_en_1.mp3\tHello.\tHallo.\t{A}\n", "again (also on line 3)"),
        (f"clips/x.mp3\tHello.\tHallo.\t{A}\n", "is not a clip file name"),
        (f"common_voice_en_9.mp3\tHello.\tHallo.\t{A}\n", "not found in"),
    ],
)
def test_bad_row_names_file_and_line(corpus, line, message):
    path = bad_tsv(corpus, line)
    with pytest.raises(UserError) as err:
        covost_data_dir(*corpus, ["en_de"], "test")
    assert err.value.path == str(path) and err.value.line == 4
    assert message in err.value.message


def test_bad_header_and_missing_file(corpus):
    covost, _ = corpus
    path = covost / "covost_v2.en_de.test.tsv"
    path.write_text("path\tsentence\ttranslation\tsplit\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected the header 'path sentence translation"):
        read_covost_tsv(path)
    with pytest.raises(UserError, match=r"get_covost_splits\.py"):
        read_covost_tsv(covost / "covost_v2.en_fr.test.tsv")


def test_pairs_that_disagree_on_a_clip(corpus):
    covost, cv = corpus
    rows = [("common_voice_en_1.mp3", "Another sentence.", "他说。", A)]
    write_tsv(covost / "covost_v2.en_zh-CN.test.tsv", HEADER, rows)
    with pytest.raises(UserError, match=r"sentence or client_id differ from .*en_de.test.tsv:3"):
        covost_data_dir(covost, cv, ["en_de", "en_zh-CN"], "test")


def test_missing_clips_skipped_on_request(corpus):
    bad_tsv(corpus, f"common_voice_en_9.mp3\tHello.\tHallo.\t{A}\n")
    said = []
    d = covost_data_dir(*corpus, ["en_de"], "test", skip_missing_clips=True, log=said.append)
    assert len(d.utt_ids) == 2 and "skipped 1 rows" in said[0]


def test_cli_bad_row_is_one_line_and_writes_nothing(corpus, tmp_path, capsys):
    covost, cv = corpus
    path = bad_tsv(corpus, "common_voice_en_3.mp3\tHello.\n")
    out = tmp_path / "data"
    argv = [
        "--covost-dir",
        str(covost),
        "--cv-root",
        str(cv),
        "--splits",
        "test",
        "--out",
        str(out),
    ]
    with pytest.raises(SystemExit) as exit_:
        prepare_covost2.main(argv)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:4: expected 4 tab-separated fields" in err
    assert not out.exists()
