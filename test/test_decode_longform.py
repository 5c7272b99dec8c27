"""Long recordings: the split-point chooser on synthetic CTC labels, and a 3-minute
recording through ``infer`` and ``decode`` with a tiny model, piece by piece."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf
import torch
from models_util import model as tiny_model
from models_util import sharpen_ctc

from soundwave.bin import infer as infer_cli
from soundwave.config import load_config
from soundwave.decode.decode import DecodeConfig, DecodeStats, decode_cuts
from soundwave.decode.infer import InferConfig, decode_files, usable_cuts
from soundwave.decode.longform import LongFormConfig, joins_pieces, quiet_frames, split_points
from soundwave.decode.outputs import write_results
from soundwave.errors import UserError
from soundwave.features.fbank import whisper_fbank
from soundwave.models.stage_dir import load_stage, save_stage

BLANK = 0


def labels_of(spec: list[tuple[int, int]]) -> torch.Tensor:
    """(label, count) runs -> a (T,) label sequence."""
    return torch.tensor([lab for lab, n in spec for _ in range(n)])


def check_tiling(pieces: list[tuple[int, int]], total: int, max_frames: int) -> None:
    assert pieces[0][0] == 0 and pieces[-1][1] == total
    for (_, e), (s, _) in itertools.pairwise(pieces):
        assert e == s  # contiguous: no frame lost or repeated
    assert all(0 < e - s <= max_frames for s, e in pieces)


def inside_token(labels: torch.Tensor, cut: int) -> bool:
    """Whether a cut at ``cut`` splits two frames of the same non-blank token."""
    return labels[cut - 1] != BLANK and labels[cut - 1] == labels[cut]


def test_short_input_is_one_piece():
    lab = labels_of([(5, 3), (BLANK, 2), (7, 4)])
    assert split_points(lab, BLANK, 9) == [(0, 9)]
    assert split_points(lab, BLANK, 100) == [(0, 9)]


def test_cuts_at_the_centre_of_the_long_blank_runs():
    # words of 10 frames with 1-2 blank frames between them; sentence gaps of 12 blanks
    word = [(3, 4), (BLANK, 1), (4, 5)]
    sentence = [*word, (BLANK, 2), *word, (BLANK, 1), *word]  # 33 frames
    spec = [*sentence, (BLANK, 12), *sentence, (BLANK, 12), *sentence]
    lab = labels_of(spec)
    pieces = split_points(lab, BLANK, 50, min_blank=3)
    check_tiling(pieces, len(lab), 50)
    gap1 = (33, 45)
    gap2 = (45 + 33, 45 + 33 + 12)
    assert [e for _, e in pieces[:-1]] == [(gap1[0] + gap1[1]) // 2, (gap2[0] + gap2[1]) // 2]


def test_prefers_a_long_run_late_in_the_window():
    # a long gap early and a shorter (still >= min_blank) one late: the late one, so that
    # the first piece is not needlessly short; the long early one if it is the only one
    lab = labels_of([(5, 5), (BLANK, 10), (6, 60), (BLANK, 4), (7, 40)])
    pieces = split_points(lab, BLANK, 90, min_blank=3)
    check_tiling(pieces, len(lab), 90)
    assert pieces[0][1] == 75 + 2
    lab = labels_of([(5, 5), (BLANK, 10), (6, 100)])
    assert split_points(lab, BLANK, 90, min_blank=3)[0][1] == 10


def test_short_blank_runs_are_a_last_resort_and_tokens_are_never_split():
    lab = labels_of([(5, 30), (BLANK, 1), (6, 30), (7, 30), (BLANK, 2), (8, 30)])
    pieces = split_points(lab, BLANK, 70, min_blank=3)
    check_tiling(pieces, len(lab), 70)
    assert pieces == [(0, 30), (30, 92), (92, 123)]  # at the only blank runs, however short
    assert not any(inside_token(lab, s) for s, _ in pieces[1:])


def test_without_blanks_cuts_between_tokens_where_blank_is_likeliest():
    lab = labels_of([(5, 20), (6, 20), (7, 20), (8, 20)])
    prob = torch.full((80,), 0.1)
    prob[19:21] = 0.2  # the 5|6 boundary
    prob[39:41] = 0.4  # the 6|7 boundary: the least bad
    pieces = split_points(lab, BLANK, 50, min_blank=3, blank_prob=prob)
    check_tiling(pieces, 80, 50)
    assert pieces[0][1] == 40
    assert not any(inside_token(lab, s) for s, _ in pieces[1:])


def test_split_blank_cuts_at_every_long_pause():
    sentence = [(3, 4), (BLANK, 2), (4, 5)]  # 11 frames, a 2-frame pause inside
    lab = labels_of([(BLANK, 6), *sentence, (BLANK, 8), *sentence, (BLANK, 10), *sentence])
    # max 100: one piece without split_blank; with 5, a cut in each of the two pauses
    assert split_points(lab, BLANK, 100) == [(0, len(lab))]
    pieces = split_points(lab, BLANK, 100, split_blank=5)
    assert pieces == [(0, 21), (21, 41), (41, len(lab))]  # centres of 17-25 and 36-46
    # pieces still at most max_frames: a long one is cut by the greedy rule within
    pieces = split_points(lab, BLANK, 12, split_blank=9)
    check_tiling(pieces, len(lab), 12)
    assert 41 in {s for s, _ in pieces}


def test_no_piece_without_a_token_heard():
    """A pause cut that would leave a stretch in which CTC hears nothing as a piece of its
    own (the LLM would make a sentence up for it) is dropped: that stretch joins its
    neighbour, the one after it, or at the end the one before."""
    sentence = [(3, 4), (4, 5)]
    # a silent tail after the last pause: (BLANK 8) then a short non-quiet blank end
    lab = labels_of([*sentence, (BLANK, 8), *sentence, (BLANK, 8), (BLANK, 2)])
    quiet = torch.ones(len(lab), dtype=torch.bool)
    quiet[-2:] = False  # the last frames are not quiet: a pause ends before the end
    assert split_points(lab, BLANK, 100, split_blank=5, quiet=quiet) == [(0, 13), (13, len(lab))]
    # two pauses with nothing heard between them: one cut, not an empty piece
    lab = labels_of([*sentence, (BLANK, 8), (BLANK, 1), (BLANK, 8), *sentence])
    quiet = torch.ones(len(lab), dtype=torch.bool)
    quiet[17] = False
    pieces = split_points(lab, BLANK, 100, split_blank=5, quiet=quiet)
    assert len(pieces) == 2 and pieces[0][0] == 0 and pieces[-1][1] == len(lab)
    for a, b in pieces:
        assert any(int(x) != BLANK for x in lab[a:b])


def test_a_pause_must_be_quiet_where_the_signal_says_so():
    sentence = [(3, 4), (BLANK, 9), (4, 5)]  # a long blank run inside a word: no pause
    lab = labels_of([*sentence, (BLANK, 8), *sentence])
    quiet = torch.zeros(len(lab), dtype=torch.bool)
    quiet[18:26] = True  # the silence between the sentences
    assert split_points(lab, BLANK, 100, split_blank=5) == [(0, 8), (8, 22), (22, 34), (34, 44)]
    assert split_points(lab, BLANK, 100, split_blank=5, quiet=quiet) == [(0, 22), (22, 44)]


def test_quiet_frames_follow_the_log_mel_energy():
    feats = torch.full((2, 80, 40), 1.0)
    feats[0, :, 10:20] = -0.5  # silence: 50 Hz frames 5-9
    feats[1, :, 4:8] = -0.5  # frames 2-3; the rest of the row is padding (length 16)
    q = quiet_frames(feats, torch.tensor([40, 16]), 20, 0.2)
    assert q[0].nonzero().flatten().tolist() == [5, 6, 7, 8, 9]
    assert q[1].nonzero().flatten().tolist() == [2, 3]  # none past the end


def test_one_token_for_a_whole_window_is_cut_at_the_window():
    lab = labels_of([(5, 130)])
    pieces = split_points(lab, BLANK, 50)
    assert pieces == [(0, 50), (50, 100), (100, 130)]


@pytest.mark.parametrize("seed", range(20))
def test_random_labels_tile_and_respect_the_rules(seed):
    g = np.random.default_rng(seed)
    spec = [(int(g.integers(1, 6)) if i % 2 else BLANK, int(g.integers(1, 15))) for i in range(80)]
    lab = labels_of(spec)
    max_frames = int(g.integers(20, 120))
    split = int(g.integers(0, 10))  # 0: off
    pieces = split_points(lab, BLANK, max_frames, int(g.integers(1, 6)), split_blank=split)
    check_tiling(pieces, len(lab), max_frames)
    for (prev, _), (cut, _) in itertools.pairwise(pieces):
        # a token is split only where the whole window of possible cuts is that token
        if len(set(lab[prev : prev + max_frames + 1].tolist())) > 1:
            assert not inside_token(lab, cut)


def test_config_and_tasks():
    with pytest.raises(ValueError, match="max_segment_s"):
        LongFormConfig(max_segment_s=0)
    cfg = load_config(DecodeConfig, None, ["long_form=false", "long_form_cfg.max_segment_s=30"])
    assert cfg.long_form is False and cfg.long_form_cfg.max_segment_s == 30
    assert load_config(DecodeConfig, None, []).long_form is True
    with pytest.raises(UserError, match=r"long_form_cfg\.max_segment_s"):
        load_config(DecodeConfig, None, ["long_form_cfg.max_segment_s=0.5"])
    assert joins_pieces("asr") and joins_pieces("st_en_de")
    assert not joins_pieces("qa") and not joins_pieces("gender")
    with pytest.raises(UserError, match="--max-segment-s"):
        InferConfig(max_segment_s=-1).decode_config(80)


# ---------------------------------------------------------------- a 3-minute recording

SR = 16000


def _utterance(seconds: float, seed: int) -> np.ndarray:
    """Tones under noise with a syllable-rate envelope: speech-like enough for a random model."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(150, 3000, 4)) * 0.3
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    return ((x + 0.05 * rng.standard_normal(len(t))) * 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """~3 minutes: 40 utterances of 3-5 s, 0.3-0.5 s of silence between them."""
    rng = np.random.default_rng(0)
    parts = []
    for k in range(40):
        parts.append(_utterance(float(rng.uniform(3.0, 5.0)), k))
        parts.append(np.zeros(int(rng.uniform(0.3, 0.5) * SR), dtype=np.float32))
    audio = np.concatenate(parts)
    path = tmp_path_factory.mktemp("long") / "talk.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    return path, len(audio)


@pytest.fixture(scope="module")
def stage_dir(tmp_path_factory):
    m = tiny_model()
    sharpen_ctc(m)
    out = tmp_path_factory.mktemp("stage")
    save_stage(m, out)
    return out


def test_three_minutes_through_infer_piece_by_piece(stage_dir, recording, capsys):
    path, samples = recording
    assert 170 < samples / SR < 200
    model = load_stage(stage_dir).eval()
    cuts, failed = usable_cuts({"talk": str(path)}, print)
    assert not failed
    (result,) = decode_files(model, cuts, InferConfig(max_new_tokens=4, max_segment_s=20))
    # nothing truncated: the encoder's frames are the whole recording at 50 Hz (the log-mel
    # has a centred STFT's samples // 160 + 1 frames at 100 Hz)
    (_, feat_lens, _) = whisper_fbank(80)(cuts)
    assert int(feat_lens[0]) == samples // 160 + 1
    assert result.encoder_frames == -(-int(feat_lens[0]) // 2)
    pieces = result.pieces
    assert pieces is not None and len(pieces) >= 9  # 180 s in pieces of at most 20 s
    assert pieces[0].start == 0 and pieces[-1].end * 50 == result.encoder_frames
    for a, b in itertools.pairwise(pieces):
        assert a.end == b.start  # in order, each frame in one piece
    assert all(0 < p.end - p.start <= 20 for p in pieces)
    assert all(p.hyp for p in pieces), "every piece is decoded"
    assert result.hyp == " ".join(" ".join(p.hyp for p in pieces).split())

    code = infer_cli.main(["--model-dir", str(stage_dir), "--max-new-tokens", "4", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.strip() == f"talk {result.hyp}"


def test_decode_long_form_on_and_off(stage_dir, recording, tmp_path):
    path, _ = recording
    model = load_stage(stage_dir).eval()
    cuts, _ = usable_cuts({"talk": str(path)}, print)
    base = InferConfig(max_new_tokens=4).decode_config(80)
    base.with_ctc = True
    (auto,) = decode_cuts(model, cuts, "asr", base)
    assert auto.pieces is not None and auto.ctc_hyp
    write_results(tmp_path, [auto], DecodeStats())
    lines = (tmp_path / "pieces.txt").read_text().splitlines()
    assert [line.split(" ", 4)[1] for line in lines] == [f"{k:03d}" for k in range(len(lines))]
    assert [[*line.split(" ", 4), ""][4] for line in lines] == [p.hyp for p in auto.pieces]
    base.long_form = False
    (whole,) = decode_cuts(model, cuts, "asr", base)
    assert whole.pieces is None and whole.hyp
    write_results(tmp_path, [whole], DecodeStats())
    assert not (tmp_path / "pieces.txt").exists()
    base.long_form, base.instruction = True, "Is the speaker male or female?"
    (gender,) = decode_cuts(model, cuts, "gender", base)
    assert gender.pieces is None  # answered on the whole recording
