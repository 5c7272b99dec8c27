"""BLEU as the field reports it per target language: sacrebleu's default tokenizer for the
language (13a, and zh for Chinese: CoVoST 2 En->Zh), chosen in one place by the task."""

from __future__ import annotations

import json

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU

from soundwave.bin import score
from soundwave.score.metrics import BLEU_TOKENIZE_BY_LANGUAGE, bleu_tokenize_for, task_score
from soundwave.tasks import get_task

REF = "u1 今天天气很好。\nu2 我们明天见面。\n"
HYP = "u1 今天天气很好。\nu2 我们明天去。\n"


def test_the_tokenizer_follows_the_target_language():
    assert get_task("st_en_zh").target_language == "zh"
    assert bleu_tokenize_for("st_en_zh") == "zh"
    assert bleu_tokenize_for("st_de_ja") == "ja-mecab"
    for task in ("st_en_de", "asr", None, "no_such_task"):
        assert bleu_tokenize_for(task) is None  # sacrebleu's default, 13a
    # the same choice sacrebleu makes when told the target language
    for lang, tok in BLEU_TOKENIZE_BY_LANGUAGE.items():
        assert BLEU._TOKENIZER_MAP[lang] == tok


def test_validation_bleu_into_chinese_uses_zh():
    refs, hyps = ["今天天气很好。", "我们明天见面。"], ["今天天气很好。", "我们明天去。"]
    want = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score
    assert task_score("st_en_zh", refs, hyps) == ("bleu", pytest.approx(want))
    # 13a sees each Chinese sentence as one word
    assert sacrebleu.corpus_bleu(hyps, [refs]).score != pytest.approx(want)


def test_score_cli_signature_per_language(tmp_path, capsys):
    dec = tmp_path / "exp/cv/sft/decode_test_st_en_zh"
    dec.mkdir(parents=True)
    (dec / "ref.txt").write_text(REF, encoding="utf-8")
    (dec / "hyp.txt").write_text(HYP, encoding="utf-8")
    (dec / "decode.json").write_text(json.dumps({"rtf": 0.5, "audio_seconds": 4.0}))
    args = ["--ref", str(dec / "ref.txt"), "--hyp", str(dec / "hyp.txt"), "--task", "st_en_zh"]
    score.main([*args, "--out", str(dec / "score_st_en_zh.json")])
    record = json.loads((dec / "score_st_en_zh.json").read_text())
    assert "tok:zh" in record["signature"] and "tok:zh" in capsys.readouterr().out
    assert record["decoding"] == {"rtf": 0.5}
    # an explicit tokenizer still wins
    score.main([*args, "--bleu-tokenize", "char", "--out", str(dec / "x/score_st_en_zh.json")])
    assert "tok:char" in json.loads((dec / "x/score_st_en_zh.json").read_text())["signature"]
    # a further metric of the same decoding does not repeat its speed and guard
    score.main([*args, "--metric", "chrf", "--out", str(dec / "score_st_en_zh.chrf.json")])
    chrf = json.loads((dec / "score_st_en_zh.chrf.json").read_text())
    assert chrf["metric"] == "chrf" and chrf["decoding"] == {} and chrf["guard"] == {}
