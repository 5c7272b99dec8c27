"""python -m soundwave.bin.score: file formats, id checks, score JSON, summary line."""

import json
import subprocess
import sys

import pytest
import sacrebleu

from soundwave.bin import make_results, score
from soundwave.errors import UserError
from soundwave.score.results import infer_layout, read_score
from soundwave.score.textio import read_utt_texts


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def asr_case(tmp_path):
    ref = write(tmp_path / "data/test/text", "u1 A b, c d.\nu2 x y\nu3 hello\n")
    write(tmp_path / "data/test/utt2dur", "u1 1.5\nu2 2.0\nu3 3.7\nu4 9.0\n")
    dec = tmp_path / "exp/mini/sft/decode_test"
    hyp = write(dec / "hyp.txt", "u1 a x c\nu2 x y z\nu3 hello\n")
    return ref, hyp, dec


def test_wer_json_and_summary(asr_case, capsys):
    ref, hyp, dec = asr_case
    out = dec / "score_asr.json"
    score.main(
        [
            "--ref",
            str(ref),
            "--hyp",
            str(hyp),
            "--metric",
            "wer",
            "--out",
            str(out),
            "--per-utt",
            str(dec / "per_utt_asr.txt"),
            "--config-hash",
            "abc123",
        ]
    )
    assert capsys.readouterr().out == "%WER 42.86 [ 3 / 7, 1 ins, 1 del, 1 sub ]\n"
    data = json.loads(out.read_text())
    assert data["scores"] == {"wer": pytest.approx(300 / 7)}
    assert data["counts"] == {
        "substitutions": 1,
        "deletions": 1,
        "insertions": 1,
        "errors": 3,
        "ref_words": 7,
    }
    assert (data["task"], data["set"], data["stage"], data["tag"]) == ("asr", "test", "sft", "mini")
    assert data["num_utts"] == 3 and data["hours"] == pytest.approx(7.2 / 3600)
    assert data["normalizer"] == "basic" and data["signature"] is None
    assert data["config_hash"] == "abc123" and data["missing_hyps"] == 0
    assert data["metric"] == "wer" and data["date"]
    assert (dec / "per_utt_asr.txt").read_text().splitlines()[:4] == [
        "u1 ref a b c d",
        "u1 hyp a x c ***",
        "u1 op C S C D",
        "u1 #csid 2 1 0 1",
    ]
    assert read_score(out).value == pytest.approx(300 / 7)
    make_results.main([str(dec.parents[2]), "--date", "2026-11-23"])
    table = (dec.parents[2] / "RESULTS.md").read_text().splitlines()
    assert "| mini | sft | abc123 | 42.86 |" in table
    assert not list(dec.glob(".*tmp"))  # no temporary files left behind


def test_trn_hypotheses(asr_case, capsys):
    ref, _, dec = asr_case
    trn = write(dec / "hyp.trn", "a x c (u1)\nx y z\t(u2)\nhello (u3)\n")
    assert read_utt_texts(trn) == {"u1": "a x c", "u2": "x y z", "u3": "hello"}
    score.main(["--ref", str(ref), "--hyp", str(trn), "--metric", "wer"])
    assert capsys.readouterr().out.startswith("%WER 42.86 [ 3 / 7,")
    assert read_utt_texts(write(dec / "empty.trn", " (u9)\n")) == {"u9": ""}


def test_text_file_errors(tmp_path):
    dup = write(tmp_path / "text", "u1 a\n\nu2 b\nu1 c\n")
    with pytest.raises(UserError, match="utterance 'u1' appears twice") as err:
        read_utt_texts(dup)
    assert (err.value.path, err.value.line) == (str(dup), 4)
    bad = write(tmp_path / "hyp.trn", "a b (u1)\nno id here\n")
    with pytest.raises(UserError, match=r"expected '<text> \(<uttid>\)'") as err:
        read_utt_texts(bad)
    assert err.value.line == 2
    with pytest.raises(UserError, match="no such file"):
        read_utt_texts(tmp_path / "missing")
    assert read_utt_texts(write(tmp_path / "t2", "u1\nu2   two  words \n")) == {
        "u1": "",
        "u2": "two words",
    }


def test_id_mismatch_is_an_error(asr_case, capsys):
    ref, _, dec = asr_case
    hyp = write(dec / "partial.txt", "u1 a b c d\nu9 extra\n")
    out = dec / "score_asr.json"
    with pytest.raises(SystemExit) as exit_:
        score.main(["--ref", str(ref), "--hyp", str(hyp), "--metric", "wer", "--out", str(out)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " in err
    assert "2 of 3 reference utterances have no hypothesis (u2, u3)" in err
    assert "1 of 2 hypotheses have no reference (u9)" in err
    assert "--allow-missing" in err and str(hyp) in err
    assert not out.exists()


def test_allow_missing_scores_empty(asr_case, capsys):
    ref, _, dec = asr_case
    hyp = write(dec / "partial.txt", "u1 a b c d\nu9 extra\n")
    out = dec / "score_asr.json"
    score.main(
        [
            "--ref",
            str(ref),
            "--hyp",
            str(hyp),
            "--metric",
            "wer",
            "--out",
            str(out),
            "--allow-missing",
        ]
    )
    line = capsys.readouterr().out
    # u2 (2 words) and u3 (1 word) deleted; u9 ignored
    assert line == (
        "%WER 42.86 [ 3 / 7, 0 ins, 3 del, 0 sub ] "
        "(2 missing hypotheses scored as empty, 1 extra ignored)\n"
    )
    data = json.loads(out.read_text())
    assert (data["missing_hyps"], data["extra_hyps"], data["num_utts"]) == (2, 1, 3)


def test_bleu_json_and_decode_json_hours(tmp_path, capsys):
    ref = write(tmp_path / "ref.txt", "u1 Das Wetter ist heute schön.\nu2 Ich gehe nach Hause.\n")
    dec = tmp_path / "exp/t1/shrink/decode_dev_st_en_de"
    hyp = write(dec / "hyp.txt", "u1 Das Wetter ist heute schön.\nu2 Ich gehe nach Hause.\n")
    write(dec / "decode.json", json.dumps({"utts": 2, "audio_seconds": 720.0}))
    out = dec / "score_st_en_de.json"
    score.main(["--ref", str(ref), "--hyp", str(hyp), "--metric", "bleu", "--out", str(out)])
    line = capsys.readouterr().out
    assert line.startswith("BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000")
    signature = f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert line.rstrip().endswith(signature)
    data = json.loads(out.read_text())
    assert data["scores"]["bleu"] == pytest.approx(100.0)
    assert data["signature"].startswith("nrefs:1|case:mixed")
    assert data["normalizer"] == "none" and data["hours"] == pytest.approx(0.2)
    assert (data["task"], data["set"], data["stage"], data["tag"]) == (
        "st_en_de",
        "dev",
        "shrink",
        "t1",
    )


def test_accuracy_with_explicit_metadata(tmp_path, capsys):
    ref = write(tmp_path / "utt2gender", "a1 male\na2 female\na3 female\na4 male\n")
    hyp = write(tmp_path / "hyp.txt", "a1 Male.\na2 female\na3 male\na4 male\n")
    out = tmp_path / "somewhere/gender.json"
    score.main(
        [
            "--ref",
            str(ref),
            "--hyp",
            str(hyp),
            "--metric",
            "accuracy",
            "--out",
            str(out),
            "--task",
            "gender",
            "--set",
            "test",
            "--stage",
            "sft",
            "--tag",
            "mini",
            "--hours",
            "1.5",
        ]
    )
    assert capsys.readouterr().out == "%ACC 75.00 [ 3 / 4 ] macro-F1 73.33\n"
    data = json.loads(out.read_text())
    assert data["scores"] == {"accuracy": 75.0, "macro_f1": pytest.approx(73.333, abs=1e-3)}
    assert data["details"]["per_class"]["female"]["recall"] == 50.0
    assert (data["task"], data["set"], data["stage"], data["tag"], data["hours"]) == (
        "gender",
        "test",
        "sft",
        "mini",
        1.5,
    )


def test_infer_layout():
    assert infer_layout("exp/mini/sft/decode_test/score_asr.json") == {
        "task": "asr",
        "metric": "",
        "set": "test",
        "stage": "sft",
        "tag": "mini",
    }
    assert infer_layout("exp/mini/align/decode_test_clean_asr/score_asr.cer.json") == {
        "task": "asr",
        "metric": "cer",
        "set": "test_clean",
        "stage": "align",
        "tag": "mini",
    }
    assert infer_layout("x/score_st_en_de.json")["set"] == ""


def test_command_line_error_is_one_line(tmp_path):
    ref = write(tmp_path / "text", "u1 a\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundwave.bin.score",
            "--ref",
            str(ref),
            "--hyp",
            str(tmp_path / "nope.txt"),
            "--metric",
            "wer",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == f"score: error: {tmp_path / 'nope.txt'}: no such file\n"
