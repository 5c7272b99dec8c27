"""Metrics with hand-computed values."""

import math

import pytest
import sacrebleu

from soundwave.errors import UserError
from soundwave.score.metrics import (
    DEFAULT_NORMALIZER,
    bleu,
    chrf,
    classification_scores,
    compute,
    constant_answer_baseline,
    error_rate,
    macro_f1,
    task_score,
)
from soundwave.tasks.registry import METRICS


def test_every_metric_has_a_default_normaliser():
    assert set(DEFAULT_NORMALIZER) == set(METRICS)


def test_wer_counts_and_alignment():
    er = error_rate(["a b c d", "x y"], ["a x c", "x y z"], ids=["u1", "u2"])
    # u1: b->x substituted, d deleted; u2: z inserted
    assert (er.hits, er.substitutions, er.deletions, er.insertions) == (4, 1, 1, 1)
    assert er.ref_tokens == 6
    assert er.rate == pytest.approx(50.0)
    assert er.summary() == "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]"
    u1 = er.utts[0]
    assert u1.ops == (("C", "a", "a"), ("S", "b", "x"), ("C", "c", "c"), ("D", "d", None))
    assert u1.kaldi_lines() == [
        "u1 ref a b c d",
        "u1 hyp a x c ***",
        "u1 op C S C D",
        "u1 #csid 2 1 0 1",
    ]
    assert er.utts[1].kaldi_lines()[1:] == ["u2 hyp x y z", "u2 op C C I", "u2 #csid 2 0 1 0"]


def test_wer_single_pair_and_empty_sides():
    assert error_rate(["a b c d"], ["a x c"]).rate == pytest.approx(50.0)
    er = error_rate(["", "hello there"], ["oops", ""], ids=["e1", "e2"])
    assert (er.substitutions, er.deletions, er.insertions, er.ref_tokens) == (0, 2, 1, 2)
    assert er.rate == pytest.approx(150.0)
    assert er.utts[0].kaldi_lines() == ["e1 ref ***", "e1 hyp oops", "e1 op I", "e1 #csid 0 0 1 0"]
    assert error_rate([""], [""]).rate == 0.0
    assert math.isinf(error_rate([""], ["x"]).rate)


def test_kaldi_lines_pad_columns():
    er = error_rate(["hello big world"], ["hello world"], ids=["u"])
    assert er.utts[0].kaldi_lines()[:3] == [
        "u ref hello big world",
        "u hyp hello *** world",
        "u op C     D   C",
    ]


def test_cer_counts_spaces():
    er = error_rate(["ab c"], ["ab d"], unit="char")
    assert (er.substitutions, er.ref_tokens) == (1, 4)  # a b <space> c
    assert er.rate == pytest.approx(25.0)
    er = error_rate(["ab c"], ["abc"], unit="char")
    assert (er.deletions, er.ref_tokens, er.rate) == (1, 4, 25.0)
    assert er.utts[0].ops[2] == ("D", "<space>", None)
    assert er.summary() == "%CER 25.00 [ 1 / 4, 0 ins, 1 del, 0 sub ]"


def test_bleu_values():
    same = bleu(
        ["the cat sat on the mat", "hello there"], ["the cat sat on the mat", "hello there"]
    )
    assert same.score == pytest.approx(100.0)
    # one wrong word of six: n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (BP = 1)
    res = bleu(["the cat sat on a mat"], ["the cat sat on the mat"])
    assert res.score == pytest.approx(100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert res.score == pytest.approx(53.73, abs=0.005)
    assert res.counts["matches_1"] == 5 and res.counts["totals_4"] == 3
    assert res.counts["bp"] == 1.0
    assert res.signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert res.summary.startswith("BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000")
    assert res.summary.endswith(res.signature)
    # cross-check against sacrebleu's functional API on a multi-sentence corpus
    refs = ["Guten Morgen, wie geht es dir?", "Das Wetter ist heute schön.", "Ich gehe nach Hause."]
    hyps = ["Guten Morgen, wie geht's?", "Das Wetter ist schön heute.", "Ich gehe heim."]
    assert bleu(refs, hyps).score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert bleu(refs, hyps, tokenize="char").signature.split("|")[3] == "tok:char"
    with pytest.raises(UserError, match="BLEU tokenizer 'nope'"):
        bleu(refs, hyps, tokenize="nope")


def test_chrf_values():
    assert chrf(["abc def"], ["abc def"]).score == pytest.approx(100.0)
    refs, hyps = ["the quick brown fox"], ["the quick brown dog"]
    res = chrf(refs, hyps)
    assert res.score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert 0 < res.score < 100
    assert res.signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")


def test_accuracy_and_macro_f1():
    refs = ["a", "a", "a", "b", "b", "c"]
    hyps = ["a", "a", "b", "b", "c", "c"]
    cl = classification_scores(refs, hyps)
    # a: P=2/2 R=2/3 F1=0.8; b: P=1/2 R=1/2 F1=0.5; c: P=1/2 R=1/1 F1=2/3
    assert cl.accuracy == pytest.approx(100 * 4 / 6)
    assert cl.per_class["a"]["f1"] == pytest.approx(80.0)
    assert cl.per_class["b"]["precision"] == pytest.approx(50.0)
    assert cl.per_class["c"]["recall"] == pytest.approx(100.0)
    assert cl.macro_f1 == pytest.approx(100 * (0.8 + 0.5 + 2 / 3) / 3)
    assert macro_f1(refs, hyps) == pytest.approx(65.5556, abs=1e-3)
    # a prediction outside the reference classes is wrong but adds no class
    cl = classification_scores(["a", "b"], ["a", "zebra"])
    assert set(cl.per_class) == {"a", "b"}
    assert (cl.accuracy, cl.macro_f1) == (50.0, 50.0)


def test_compute_dispatch():
    ids = ["u1", "u2"]
    res = compute("wer", ids, ["Hello, world!", "A b c d."], ["hello world", "a x c"], per_utt=True)
    assert res.scores == {"wer": pytest.approx(100 * 2 / 6)}
    assert res.counts == {
        "substitutions": 1,
        "deletions": 1,
        "insertions": 0,
        "errors": 2,
        "ref_words": 6,
    }
    assert res.normalizer == "basic" and res.signature is None
    assert res.per_utt[:4] == (
        "u1 ref hello world",
        "u1 hyp hello world",
        "u1 op C     C",
        "u1 #csid 2 0 0 0",
    )

    res = compute("accuracy", ids, ["Male", "female"], ["male.", "male"], per_utt=True)
    assert res.scores == {"accuracy": 50.0, "macro_f1": pytest.approx(100 * (2 / 3 + 0) / 2)}
    assert res.summary == "%ACC 50.00 [ 1 / 2 ] macro-F1 33.33"
    assert res.per_utt == ("u1\tC\tref=male\thyp=male", "u2\tS\tref=female\thyp=male")

    res = compute("exact_match", ids, ["On the mat.", "Paris"], ["on the mat", "London"])
    assert res.scores == {"exact_match": 50.0}
    assert res.summary == "%EM 50.00 [ 1 / 2 ]"

    # BLEU keeps case and punctuation (normaliser "none"): a case error costs
    refs, hyps = ["The cat sat on the mat.", "Hi there"], ["the cat sat on the mat.", "Hi there"]
    res = compute("bleu", ids, refs, hyps, per_utt=True)
    assert res.normalizer == "none" and res.scores["bleu"] < 100
    assert res.per_utt[1] == "u2 100.00"
    lowered = compute("bleu", ids, refs, hyps, normalizer="basic")
    assert lowered.scores["bleu"] == pytest.approx(100.0)

    with pytest.raises(UserError, match="unknown metric 'ter'"):
        compute("ter", ids, ["a", "b"], ["a", "b"])


def test_task_score():
    assert task_score("asr", ["a b c d"], ["a x c"]) == ("wer", pytest.approx(50.0))
    assert task_score("ctc_asr", ["a b"], ["a b"]) == ("wer", 0.0)
    assert task_score("gender", ["male", "female"], ["Male", "male"])[1] == pytest.approx(50.0)
    name, value = task_score("st_en_de", ["guten Morgen , Welt"], ["guten Morgen , Welt"])
    assert (name, value) == ("bleu", pytest.approx(100.0))
    # corpus BLEU of a text shorter than four words has no 4-gram match: 0
    assert task_score("st_en_de", ["guten Morgen"], ["guten Morgen"])[1] == 0.0


def test_constant_answer_baseline():
    ids = ["a", "b", "c", "d"]
    answer, result = constant_answer_baseline("accuracy", ids, ["male", "Male", "female", "male"])
    assert answer == "male" and result.scores["accuracy"] == 75.0
    # WER: the best of the candidates, which need not be the most frequent sentence
    refs = ["turn on the light"] * 2 + ["turn on the light in the hall now please"] * 2 + ["hi"] * 3
    ids = [str(k) for k in range(len(refs))]
    answer, result = constant_answer_baseline("wer", ids, refs)
    by_answer = {r: compute("wer", ids, refs, [r] * len(refs)).scores["wer"] for r in set(refs)}
    assert answer == min(by_answer, key=by_answer.get) != "hi"
    assert result.scores["wer"] == pytest.approx(min(by_answer.values()))
