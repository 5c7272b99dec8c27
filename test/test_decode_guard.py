"""Decoding with the CTC guard and the speed measurements on a tiny model: guard.txt,
the fallback on transcription only, shards, LLM positions per transcript token, time to
first token, and what score and make_results make of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from models_util import model as tiny_model
from models_util import sharpen_ctc

from soundwave.bin import decode, make_results, score
from soundwave.models.stage_dir import load_stage, save_stage
from soundwave.score.guard import read_guard
from soundwave.score.normalize import normalize_text
from soundwave.score.textio import read_shrink_stats, read_utt_texts

TEXTS = {  # utterance -> (seconds, transcript, translation)
    "s1_u1": (1.2, "hello world", "hallo welt"),
    "s1_u2": (2.6, "turn on the lights", "mach das licht an"),
    "s1_u3": (1.8, "set an alarm for seven", "stell einen wecker"),
    "s2_u4": (3.1, "the quick brown fox", "der schnelle braune fuchs"),
}
LOOSE = [  # nothing is flagged but what a test asks for
    "guard_limits.max_disagreement=1000",
    "guard_limits.max_repeats=1000",
    "guard_limits.max_words_per_second=1000",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    """A random tiny model's stage dir and a 4-utterance manifest of tones under noise."""
    root = tmp_path_factory.mktemp("guard")
    m = tiny_model()
    sharpen_ctc(m)
    save_stage(m, root / "stage")
    rng = np.random.default_rng(0)
    cuts = []
    for utt, (seconds, text, german) in TEXTS.items():
        t = np.arange(int(seconds * 16000)) / 16000
        x = sum(0.3 * np.sin(2 * np.pi * f * t) for f in rng.uniform(150, 3000, 4))
        x = (x * 0.5 + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        sf.write(root / f"{utt}.wav", x, 16000, subtype="PCM_16")
        rec = Recording.from_file(root / f"{utt}.wav", recording_id=utt)
        sup = SupervisionSegment(utt, utt, 0.0, rec.duration, text=text, custom={"text.de": german})
        cuts.append(MonoCut(utt, 0.0, rec.duration, 0, recording=rec, supervisions=[sup]))
    CutSet.from_cuts(cuts).to_file(root / "cuts.jsonl.gz")
    return root / "stage", root / "cuts.jsonl.gz"


def run_decode(setup, out: Path, *overrides: str, tasks=("asr",), shard=None) -> None:
    stage, cuts = setup
    args = ["--model-dir", str(stage), "--cuts", str(cuts), "--tasks", *tasks,
            "--out-dir", str(out), "data.on_the_fly=true", "with_ctc=true",
            "generation.max_new_tokens=6", *overrides]  # fmt: skip
    decode.main(args + (["--shard", shard] if shard else []))


def files(d: Path) -> dict[str, dict[str, str]]:
    return {
        name: read_utt_texts(d / f"{name}.txt")
        for name in ("hyp", "hyp_llm", "ctc_hyp")
        if (d / f"{name}.txt").is_file()
    }


def test_flag_writes_the_verdicts_and_leaves_the_hypotheses(setup, tmp_path):
    plain, flag = tmp_path / "plain", tmp_path / "flag"
    run_decode(setup, plain)
    run_decode(setup, flag, "guard=flag", "guard_limits.max_disagreement=0")
    assert not (plain / "guard.txt").exists()
    assert files(flag)["hyp"] == files(plain)["hyp"] and not (flag / "hyp_llm.txt").exists()
    verdicts = read_guard(flag / "guard.txt")
    assert list(verdicts) == sorted(TEXTS)
    hyps, ctc = files(flag)["hyp"], files(flag)["ctc_hyp"]
    for utt, v in verdicts.items():
        # a random model's LLM and CTC disagree: with no tolerance, every one is flagged
        assert v.disagreement > 0 and "disagreement" in v.reasons, (utt, hyps[utt], ctc[utt])
        words = normalize_text(hyps[utt]).split()  # as for WER: "a-b" is two words
        assert v.words_per_second == pytest.approx(len(words) / TEXTS[utt][0], 0.02)
    info = json.loads((flag / "decode.json").read_text())
    assert info["guard"] == "flag" and info["guard_flagged"] == 4


def test_fallback_replaces_exactly_the_flagged_transcriptions(setup, tmp_path):
    # the measures first, then a limit between them: some flagged, some not (the random
    # model's words never match its CTC's, so the length is what tells them apart)
    run_decode(setup, tmp_path / "probe", "guard=flag", *LOOSE)
    rates = sorted(v.words_per_second for v in read_guard(tmp_path / "probe/guard.txt").values())
    assert rates[0] < rates[-1], "the tiny model's answers should differ in length"
    limit = (rates[0] + rates[-1]) / 2
    out = tmp_path / "fallback"
    run_decode(
        setup, out, "guard=fallback", *LOOSE[:2], f"guard_limits.max_words_per_second={limit}"
    )
    verdicts, texts = read_guard(out / "guard.txt"), files(out)
    flagged = {u for u, v in verdicts.items() if v.flagged}
    assert flagged and flagged != set(TEXTS)
    assert flagged == {u for u, v in verdicts.items() if v.words_per_second > limit}
    assert texts["hyp_llm"] == files(tmp_path / "probe")["hyp"]  # the LLM's own, kept
    for utt in TEXTS:
        want = texts["ctc_hyp"][utt] if utt in flagged else texts["hyp_llm"][utt]
        assert texts["hyp"][utt] == want
    # a decoding without the guard into the same dir removes the stale guard files
    run_decode(setup, out)
    assert not (out / "guard.txt").exists() and not (out / "hyp_llm.txt").exists()


def test_fallback_leaves_other_tasks_alone_and_shards_merge(setup, tmp_path):
    # every utterance that says anything is "too long": flagged for both tasks
    flags = ["guard=fallback", *LOOSE[:2], "guard_limits.max_words_per_second=0.01"]
    out = str(tmp_path / "one_{task}")
    run_decode(setup, Path(out), *flags, tasks=("asr", "st_en_de"))
    asr, st = tmp_path / "one_asr", tmp_path / "one_st_en_de"
    for d in (asr, st):
        assert all(v.flagged for v in read_guard(d / "guard.txt").values())
    assert files(asr)["hyp"] == files(asr)["ctc_hyp"] != files(asr)["hyp_llm"]
    st_texts = files(st)
    assert st_texts["hyp"] == st_texts["hyp_llm"]  # no transcript to fall back to
    assert all(v.disagreement is None for v in read_guard(st / "guard.txt").values())

    sharded = str(tmp_path / "two_{task}")
    for j in (1, 2):
        run_decode(setup, Path(sharded), *flags, tasks=("asr", "st_en_de"), shard=f"{j}/2")
    decode.main(["--merge", "2", "--tasks", "asr", "st_en_de", "--out-dir", sharded])
    for task in ("asr", "st_en_de"):
        one, two = tmp_path / f"one_{task}", tmp_path / f"two_{task}"
        for name in ("hyp.txt", "hyp_llm.txt", "ctc_hyp.txt", "guard.txt"):
            assert (two / name).read_text() == (one / name).read_text(), name
        info = json.loads((two / "decode.json").read_text())
        assert info["guard"] == "fallback" and info["guard_flagged"] == 4


def test_one_shard_merges_as_nothing_to_do(setup, tmp_path):
    """``nj=1``: the stage script decodes ``--shard 1/1`` (written to the dir itself) and
    then runs ``--merge 1``, which used to fail with "shard is missing (no decode.json)"."""
    out = tmp_path / "one"
    run_decode(setup, out, shard="1/1")
    before = (out / "hyp.txt").read_text()
    decode.main(["--merge", "1", "--tasks", "asr", "--out-dir", str(out)])
    assert (out / "hyp.txt").read_text() == before and not (out / "shards").exists()
    with pytest.raises(SystemExit):  # nothing decoded there: still an error
        decode.main(["--merge", "1", "--tasks", "asr", "--out-dir", str(tmp_path / "none")])


def test_speed_measures_reach_results(setup, tmp_path):
    exp = tmp_path / "exp"
    d = exp / "tiny" / "sft" / "decode_test_asr"
    run_decode(setup, d, "guard=flag", "measure_ttft=3")
    info = json.loads((d / "decode.json").read_text())
    # LLM audio positions over the transcripts' LLM tokens, counted here independently
    tokenizer = load_stage(setup[0]).tokenizer
    tokens = sum(
        len(tokenizer(t, add_special_tokens=False).input_ids) for _, t, _ in TEXTS.values()
    )
    positions = sum(n for _, _, n in read_shrink_stats(d / "shrink_stats.txt").values())
    assert info["transcript_tokens"] == tokens and info["token_positions"] == positions
    assert info["llm_positions_per_token"] == pytest.approx(positions / tokens, abs=1e-4)
    assert len(info["ttft_ms"]) == 3 and all(t > 0 for t in info["ttft_ms"])
    assert info["ttft_median_ms"] == sorted(info["ttft_ms"])[1]

    score.main(["--task", "asr", "--ref", str(d / "ref.txt"), "--hyp", str(d / "hyp.txt"),
                "--out", str(d / "score_asr.json")])  # fmt: skip
    record = json.loads((d / "score_asr.json").read_text())
    assert record["decoding"]["ttft_utts"] == 3
    assert record["guard"]["utts"] == 4 and "with_fallback" in record["guard"]
    make_results.main([str(exp)])
    table = (exp / "RESULTS.md").read_text()
    row = (
        f"| tiny | sft | test | asr | {positions / tokens:.2f} | {info['ttft_median_ms']:.1f} "
        f"| 3 | {info['rtf']:.3f} |"
    )
    assert row in table
    assert "| tiny | sft | test | asr | flag | " in table


def test_flag_without_the_ctc_judges_repetition_and_length(setup, tmp_path):
    out = tmp_path / "no_ctc"
    run_decode(setup, out, "guard=flag", "with_ctc=false", "guard_limits.max_words_per_second=0.01")
    assert not (out / "ctc_hyp.txt").exists()
    verdicts = read_guard(out / "guard.txt")
    assert all(v.disagreement is None and v.reasons == ("length",) for v in verdicts.values())


def test_bad_guard_mode_is_one_line(setup, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_decode(setup, tmp_path / "bad", "guard=maybe")
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and len(err.splitlines()) == 1
    assert "guard must be one of off, flag, fallback, not 'maybe'" in err
    assert not (tmp_path / "bad").exists()
