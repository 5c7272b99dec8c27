"""The CTC guard's measures and verdicts on handmade text, and what scoring and
make_results report of a guarded decoding (flagged counts, WER without and with the
fallback, the speed columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundwave.bin import make_results, score
from soundwave.config import load_config
from soundwave.decode.decode import DecodeConfig
from soundwave.errors import UserError
from soundwave.score.guard import (
    GuardLimits,
    Verdict,
    answers_with_transcript,
    check,
    disagreement,
    longest_repeat,
    read_guard,
    with_fallback,
)

LIMITS = GuardLimits()


def repeats(text: str, max_ngram: int = 4) -> int:
    return longest_repeat(text.split(), max_ngram)


def test_longest_repeat_counts_back_to_back_copies():
    assert repeats("") == 1
    assert repeats("turn on the lights") == 1
    assert repeats("very very good") == 2
    assert repeats("sixty sixty sixty sixty") == 4
    assert repeats("set a b a b a b c") == 3  # a bigram, three times
    # an n-gram longer than max_ngram is not looked for
    assert repeats("a b c d e a b c d e") == 1
    assert repeats("a b c d e a b c d e", max_ngram=5) == 2


def test_disagreement_is_the_wer_against_the_ctc_transcript():
    assert disagreement("Turn on the lights.", "turn on the lights") == 0.0  # normalised
    assert disagreement("turn on the light", "turn on the lights") == 0.25
    assert disagreement("", "turn on the lights") == 1.0  # four deletions
    assert disagreement("hello there", "") == 2.0  # two insertions over at least one word


def test_flag_marks_a_loop_and_a_disagreeing_hypothesis_not_a_good_one():
    good = check("turn on the lights", "turn on the light", 1.6, LIMITS, transcript=True)
    assert not good.flagged and good.reasons == ()
    assert good.disagreement == 0.25 and good.repeats == 1 and good.words_per_second == 2.5

    loop = check("sixty sixty sixty sixty sixty", "sixty", 2.0, LIMITS, transcript=True)
    assert loop.flagged and "repetition" in loop.reasons and loop.repeats == 5

    other = check("set an alarm for seven", "turn off the radio", 2.0, LIMITS, transcript=True)
    assert other.reasons == ("disagreement",) and other.disagreement == 5 / 4

    # a repetition the CTC transcript hears too is speech, not a loop
    said = check("no no no", "no no no", 1.5, LIMITS, transcript=True)
    assert not said.flagged and said.repeats == 3

    too_long = check("one two three four five six seven", "one two three four five six seven",
                     1.0, LIMITS, transcript=True)  # fmt: skip
    assert too_long.reasons == ("length",) and too_long.words_per_second == 7.0


def test_only_transcription_answers_are_compared_with_the_ctc():
    assert answers_with_transcript("asr")
    assert not any(answers_with_transcript(t) for t in ("st_en_de", "gender", "qa"))
    # a translation never agrees with the English CTC transcript: not a reason
    st = check("schalte das licht an", "turn on the light", 2.0, LIMITS, transcript=False)
    assert st.disagreement is None and not st.flagged
    assert check("a b a b a b", None, 2.0, LIMITS, transcript=False).reasons == ("repetition",)


def test_limits_are_configurable():
    strict = GuardLimits(max_disagreement=0.1, max_repeats=2, min_words_per_second=3.0)
    v = check("turn on the light", "turn on the lights", 1.6, strict, transcript=True)
    assert v.reasons == ("disagreement", "length")
    assert check("very very good", None, 1.0, strict, transcript=False).reasons == ("repetition",)


def test_guard_file_round_trip_and_errors(tmp_path):
    verdicts = {
        "u1": Verdict(0.25, 1, 2.5),
        "u2": Verdict(None, 4, 3.0, ("repetition", "length")),
    }
    path = tmp_path / "guard.txt"
    path.write_text("".join(v.line(u) + "\n" for u, v in verdicts.items()))
    assert path.read_text().splitlines() == [
        "u1 0 0.250 1 2.50 -",
        "u2 1 - 4 3.00 repetition,length",
    ]
    assert read_guard(path) == verdicts
    for bad in ("u1 0 0.250 1 2.50", "u1 1 0.250 1 2.50 -", "u1 1 0.250 1 2.50 loud"):
        path.write_text(bad + "\n")
        with pytest.raises(UserError, match=r"guard.txt:1: expected '<utt-id> <flagged 0\|1>"):
            read_guard(path)


def test_fallback_replaces_only_flagged_hypotheses():
    llm = {"u1": "good one", "u2": "loop loop loop", "u3": "flagged without ctc"}
    ctc = {"u1": "good on", "u2": "loop"}
    verdicts = {"u1": Verdict(0.5, 1, 2.0), "u2": Verdict(2.0, 3, 3.0, ("repetition",)),
                "u3": Verdict(None, 1, 9.0, ("length",))}  # fmt: skip
    assert with_fallback(llm, ctc, verdicts) == {
        "u1": "good one",
        "u2": "loop",
        "u3": "flagged without ctc",
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("guard=maybe", "guard must be one of off, flag, fallback, not 'maybe'"),
        ("guard=fallback", "guard: fallback falls back to the CTC transcript: it needs with_ctc"),
        ("guard=flag mode=ctc", "guard: flag checks the LLM's answers: it needs mode: generate"),
        ("guard_limits.max_repeats=1", "guard_limits.max_repeats must be >= 2, not 1"),
        ("measure_ttft=-1", "measure_ttft must be >= 0, not -1"),
        ("measure_ttft=5 mode=ctc", "measure_ttft times the LLM's first token: it needs mode"),
    ],
)
def test_bad_guard_config_is_one_user_error(override, message):
    with pytest.raises(UserError) as err:
        load_config(DecodeConfig, None, override.split())
    assert message in err.value.one_line() and "\n" not in err.value.one_line()


# ------------------------------------------------------------ scoring and RESULTS.md

REFS = {
    "s1_a": "turn on the lights",
    "s1_b": "set an alarm for seven",
    "s1_c": "what time is it",
    "s1_d": "play some music",
}
LLM = {  # one good, one loop, one hallucination, one near miss
    "s1_a": "turn on the lights",
    "s1_b": "set an alarm alarm alarm alarm",
    "s1_c": "the weather is nice today",
    "s1_d": "play some musics",
}
CTC = {
    "s1_a": "turn on the light",
    "s1_b": "set an alarm for seven",
    "s1_c": "what time is",
    "s1_d": "play some music",
}
SECONDS = {"s1_a": 1.6, "s1_b": 2.0, "s1_c": 1.5, "s1_d": 1.2}


def kaldi(texts: dict[str, str]) -> str:
    return "".join(f"{u} {t}\n" for u, t in texts.items())


def guarded_decode_dir(root, mode: str):
    """A decode dir as decoding writes it with ``guard: <mode>``."""
    d = root / "exp" / "mini" / "sft" / "decode_test_asr"
    d.mkdir(parents=True)
    verdicts = {u: check(LLM[u], CTC[u], SECONDS[u], LIMITS, transcript=True) for u in LLM}
    hyps = with_fallback(LLM, CTC, verdicts) if mode == "fallback" else LLM
    (d / "hyp.txt").write_text(kaldi(hyps))
    (d / "ref.txt").write_text(kaldi(REFS))
    (d / "ctc_hyp.txt").write_text(kaldi(CTC))
    (d / "guard.txt").write_text("".join(v.line(u) + "\n" for u, v in verdicts.items()))
    if mode == "fallback":
        (d / "hyp_llm.txt").write_text(kaldi(LLM))
    decoding = {"utts": 4, "audio_seconds": 6.3, "elapsed_seconds": 1.0, "rtf": 0.1587,
                "guard": mode, "guard_flagged": 2, "llm_positions_per_token": 1.3125,
                "ttft_ms": [30.0, 10.0, 20.0], "ttft_median_ms": 20.0}  # fmt: skip
    (d / "decode.json").write_text(json.dumps(decoding))
    return d, verdicts


@pytest.mark.parametrize("mode", ["flag", "fallback"])
def test_score_and_results_report_the_guard_and_the_speed(tmp_path, capsys, mode):
    d, verdicts = guarded_decode_dir(tmp_path, mode)
    assert [u for u, v in verdicts.items() if v.flagged] == ["s1_b", "s1_c"]
    assert verdicts["s1_b"].reasons == ("disagreement", "repetition")
    assert verdicts["s1_c"].reasons == ("disagreement",)
    score.main(["--task", "asr", "--ref", str(d / "ref.txt"), "--hyp", str(d / "hyp.txt"),
                "--out", str(d / "score_asr.json")])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    # by hand over 16 reference words: the LLM a 0, b 2 sub + 1 ins, c 3 sub + 1 ins, d 1
    # sub; the fallback takes the CTC's b (0) and c (1 del)
    llm_wer, fallback_wer = 100 * 8 / 16, 100 * 2 / 16
    record = json.loads((d / "score_asr.json").read_text())
    guard = record["guard"]
    assert guard["mode"] == mode and guard["utts"] == 4 and guard["flagged"] == 2
    assert guard["reasons"] == {"disagreement": 2, "repetition": 1, "length": 0}
    assert guard["without_fallback"]["wer"] == pytest.approx(llm_wer)
    assert guard["with_fallback"]["wer"] == pytest.approx(fallback_wer)
    # the main score is hyp.txt's: the LLM's with flag, the fallback's with fallback
    want = fallback_wer if mode == "fallback" else llm_wer
    assert record["scores"]["wer"] == pytest.approx(want)
    assert out[1] == (
        f"guard: 2 of 4 flagged; wer {llm_wer:.2f} without the fallback, {fallback_wer:.2f} with it"
    )
    assert record["decoding"] == {
        "llm_positions_per_token": 1.3125,
        "ttft_median_ms": 20.0,
        "rtf": 0.1587,
        "ttft_utts": 3,
    }

    make_results.main([str(tmp_path / "exp"), "--date", "2026-12-01"])
    table = (tmp_path / "exp" / "RESULTS.md").read_text()
    assert (
        "| tag | stage | set | task | LLM positions / transcript token | "
        "median time to first token, batch 1 (ms) | timed utterances | RTF |" in table
    )
    assert "| mini | sft | test | asr | 1.31 | 20.0 | 3 | 0.159 |" in table
    assert (
        f"| mini | sft | test | asr | {mode} | 2 / 4 (50.0 %) | 2 | 1 | 0 | %WER | "
        f"{llm_wer:.2f} | {fallback_wer:.2f} |" in table
    )


def test_a_hypothesis_file_without_guard_or_speed_adds_no_tables(tmp_path):
    d = tmp_path / "exp" / "mini" / "sft" / "decode_test_asr"
    d.mkdir(parents=True)
    (d / "hyp.txt").write_text(kaldi(LLM))
    (d / "ref.txt").write_text(kaldi(REFS))
    score.main(["--task", "asr", "--ref", str(d / "ref.txt"), "--hyp", str(d / "hyp.txt"),
                "--out", str(d / "score_asr.json")])  # fmt: skip
    record = json.loads((d / "score_asr.json").read_text())
    assert record["guard"] == {} and record["decoding"] == {}
    make_results.main([str(tmp_path / "exp")])
    table = (tmp_path / "exp" / "RESULTS.md").read_text()
    assert "## CTC guard" not in table and "## Speed of response" not in table


def test_the_recipe_decodes_with_the_guard_and_the_timing():
    recipe = Path(__file__).resolve().parents[1] / "egs/mini_synth/s2t1/conf"
    main = load_config(DecodeConfig, recipe / "decode.yaml")
    assert main.guard == "flag" and main.with_ctc and main.measure_ttft > 0
    # the ablation's decoding (no CTC head in linear5) keeps the guard without the CTC
    ablation = load_config(DecodeConfig, recipe / "ablation" / "decode.yaml")
    assert ablation.guard == "flag" and not ablation.with_ctc
