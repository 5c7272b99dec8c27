"""The alignment picture of a tiny model on a synthetic utterance with stored features."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet, Recording, SupervisionSegment
from models_util import model as tiny_model
from models_util import sharpen_ctc

from soundwave.bin import plot_alignment as plot_alignment_bin
from soundwave.errors import UserError
from soundwave.features.fbank import compute_and_store
from soundwave.models.bridge import run_starts
from soundwave.models.stage_dir import save_stage
from soundwave.train.stages import apply_stage
from soundwave.viz.alignment import (
    MAX_PIECE,
    compute_alignment,
    pick_cut,
    piece_text,
    plot_alignment,
)
from soundwave.viz.figure import save_png

TEXT = "turn on the lights"


@pytest.fixture(scope="module")
def cuts(tmp_path_factory) -> CutSet:
    """A 1.5 s harmonic sweep between silences, as a cut with Whisper log-mel features."""
    root = tmp_path_factory.mktemp("viz-cuts")
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    f0 = 120 + 80 * t
    wave = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / sr) / k for k in (1, 2, 3))
    wave *= (t > 0.2) & (t < 1.3)
    sf.write(root / "utt1.wav", 0.3 * wave, sr)
    rec = Recording.from_file(root / "utt1.wav", recording_id="spk1-utt1")
    cut = rec.to_cut()
    cut.supervisions = [SupervisionSegment("spk1-utt1", "spk1-utt1", 0.0, rec.duration, text=TEXT)]
    cuts = compute_and_store(CutSet.from_cuts([cut]), root / "feats", progress=False)
    return cuts


@pytest.fixture(scope="module")
def manifest(cuts, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("viz-manifest") / "cuts.jsonl.gz"
    cuts.to_file(path)
    return str(path)


@pytest.fixture(scope="module")
def align_dir(tmp_path_factory):
    """A saved Stage-I dir of a tiny model whose CTC head gives runs of labels."""
    m = tiny_model()
    sharpen_ctc(m, 8.0)
    apply_stage(m, "align")
    out = tmp_path_factory.mktemp("viz-model") / "align"
    save_stage(m, out)
    return out, m


def test_view_is_what_the_model_computes(cuts, align_dir):
    _, m = align_dir
    cut = pick_cut(cuts, "spk1-utt1")
    view = compute_alignment(m, cut)
    assert view.feats.shape == (150, 80)
    # 100 Hz log-mel -> 50 Hz encoder -> 25 Hz adapter (stack 2)
    assert view.frame_s == pytest.approx(0.04)
    assert view.num_frames == math.ceil(150 / 4)
    x = torch.from_numpy(view.feats).T[None]
    enc = m.encode_audio(x, torch.tensor([150]))
    labels = enc.ctc_logits[0].argmax(-1)
    assert view.labels == labels.tolist()
    # the released "runs" selection: the first frame of every run, blank runs included
    assert view.kept == torch.nonzero(run_starts(labels[None])[0]).flatten().tolist()
    assert len(view.kept) == int(enc.lengths[0]) < view.num_frames
    runs = view.runs()
    assert runs, "a sharpened CTC head gives non-blank runs"
    assert all(view.labels[s] != view.blank and piece for s, _, piece in runs)
    assert sum(e - s for s, e, _ in runs) == sum(lab != view.blank for lab in view.labels)
    assert view.transcript == TEXT
    assert view.num_tokens == len(m.tokenizer(TEXT, add_special_tokens=False).input_ids)
    assert view.ctc_text == m.ctc_transcribe(x, torch.tensor([150]))[0]
    assert view.summary() == (
        f"38 adapter frames -> {len(view.kept)} LLM positions ({view.num_tokens} tokens)"
    )


def test_piece_text_is_readable(align_dir):
    tok = align_dir[1].tokenizer
    ids = tok(" the lights", add_special_tokens=False).input_ids
    assert tok.convert_ids_to_tokens(ids[0]) == "Ġthe"
    assert "".join(piece_text(tok, i) for i in ids) == "▁the▁lights"
    assert piece_text(tok, tok.convert_tokens_to_ids("ė")) == "<0x17>"  # byte 0x17


def test_figure(cuts, align_dir, tmp_path):
    view = compute_alignment(align_dir[1], pick_cut(cuts, index=0))
    fig = plot_alignment(view)
    spec, strip = fig.axes
    assert spec.get_images()[0].get_array().shape == (80, 150)
    assert strip.get_xlim() == (0.0, pytest.approx(1.52))  # 38 frames of 40 ms
    shown = [t.get_text() for t in strip.texts]
    pieces = [p for _, _, p in view.runs()]
    assert len(shown) == len(pieces)
    for text, piece in zip(shown, pieces):  # long pieces are cut to MAX_PIECE characters
        assert text == piece or (
            len(text) == MAX_PIECE and text.endswith("…") and piece.startswith(text[:-1])
        )
    assert len(strip.patches) == len(view.kept)  # one shaded span per kept frame
    title = fig.get_suptitle()
    assert f"“{TEXT}”" in title and view.summary() in title
    out = tmp_path / "alignment.png"
    save_png(fig, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_linear_bridge_is_refused(cuts):
    m = tiny_model(bridge="linear")
    with pytest.raises(UserError, match="bridge=linear has no CTC head"):
        compute_alignment(m, pick_cut(cuts))


def test_cli(manifest, align_dir, tmp_path, capsys):
    model_dir, _ = align_dir
    out = tmp_path / "exp/alignment.png"
    argv = ["--model-dir", str(model_dir), "--cuts", manifest, "--out", str(out)]
    plot_alignment_bin.main([*argv, "--utt", "spk1-utt1"])
    assert out.stat().st_size > 20_000
    assert "spk1-utt1: 38 adapter frames -> " in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        plot_alignment_bin.main([*argv, "--index", "3"])
    assert err.value.code == 1
    assert capsys.readouterr().err.strip().endswith("the manifest has no cut number 3 (0-based)")
