"""The stand-in Whisper encoder: character-CTC pretraining and HF Whisper saving."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly
from transformers import WhisperFeatureExtractor, WhisperModel

from soundwave.errors import UserError
from soundwave.models.encoder import WhisperAudioEncoder
from soundwave.offline.standin.encoder import (
    CTC_ALPHABET,
    EncoderCTCCollator,
    EncoderCTCPretrainer,
    ctc_greedy_decode,
    encoder_forward,
    normalize_text,
    save_whisper,
    text_to_ids,
)
from soundwave.offline.standin.llm import count_parameters
from soundwave.offline.tiny import whisper_config

TEXTS = ["turn on the light", "what time is it", "good morning"]


def tiny(n_mels: int = 80, **kw) -> EncoderCTCPretrainer:
    cfg = whisper_config(n_mels=n_mels, d_model=64, layers=2, heads=2, dropout=0.0, **kw)
    return EncoderCTCPretrainer(cfg)


def train(model: EncoderCTCPretrainer, batch: dict, steps: int) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(steps):
        out = model(**batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    model.eval()
    return losses


def random_batch(n_mels: int = 80) -> dict:
    torch.manual_seed(0)
    lens = torch.tensor([120, 60, 100])
    return {"feats": torch.randn(3, n_mels, 120), "feat_lens": lens, "texts": TEXTS}


def test_text_to_ctc_ids():
    assert normalize_text("Hello, World!  It's 3 o'clock.") == "hello world it's o'clock"
    assert text_to_ids("ab c'") == [3, 4, 1, 5, 2]
    assert len(CTC_ALPHABET) == 28 and CTC_ALPHABET[0] == " "


def test_greedy_decode_merges_repeats_and_drops_blanks():
    h, e, l, o, space, p = text_to_ids("helo p")  # noqa: E741
    frames = [h, h, 0, e, l, l, 0, l, o, space, space, 0, p, 0, 0]
    log_probs = torch.full((2, len(frames), 1 + len(CTC_ALPHABET)), -10.0)
    log_probs[0, torch.arange(len(frames)), torch.tensor(frames)] = 0.0
    log_probs[1, :, 0] = 0.0
    assert ctc_greedy_decode(log_probs, torch.tensor([len(frames), 4])) == ["hello p", ""]
    assert ctc_greedy_decode(log_probs, torch.tensor([5, 4])) == ["hel", ""]


def test_ctc_loss_decreases_on_random_features():
    model = tiny()
    losses = train(model, random_batch(), 40)
    assert losses[-1] < 0.3 * losses[0]


def test_padding_does_not_change_the_frames():
    model = tiny().eval()
    batch = random_batch()
    with torch.no_grad():
        lp, lens = model.log_probs(batch["feats"], batch["feat_lens"])
        alone, alone_lens = model.log_probs(batch["feats"][1:2, :, :60], torch.tensor([60]))
    assert lens.tolist() == [60, 30, 50] and alone_lens.tolist() == [30]
    torch.testing.assert_close(alone[0], lp[1, :30], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_learns_three_synthetic_utterances():
    from soundwave.features.fbank import whisper_fbank

    fbank = whisper_fbank(80)
    records = []
    for text in TEXTS:
        wav = subprocess.run(
            ["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True, check=True
        ).stdout
        samples, sr = sf.read(io.BytesIO(wav), dtype="float32")
        samples = resample_poly(samples, 16000, sr).astype("float32")
        records.append({"feats": torch.from_numpy(fbank.extract(samples, 16000)), "text": text})
    batch = EncoderCTCCollator()(records)
    assert batch["feats"].shape == (3, 80, int(batch["feat_lens"].max()))
    torch.manual_seed(0)
    model = tiny()
    train(model, batch, 200)
    with torch.no_grad():
        assert ctc_greedy_decode(*model.log_probs(batch["feats"], batch["feat_lens"])) == TEXTS


def test_saved_dir_is_a_whisper_model(tmp_path):
    model = tiny(n_mels=128, max_source_positions=100)
    batch = random_batch(128)
    train(model, batch, 3)
    out = tmp_path / "whisper"
    save_whisper(model, out)

    hf = WhisperModel.from_pretrained(out).eval()
    assert WhisperFeatureExtractor.from_pretrained(out).feature_size == 128
    assert hf.config.decoder_layers == 1
    full = torch.randn(2, 128, 200)  # HF's encoder insists on the full 2 x max_source_positions
    with torch.no_grad():
        expected = encoder_forward(model.encoder, full, torch.tensor([200, 200]))
        torch.testing.assert_close(hf.encoder(full).last_hidden_state, expected)

        # the CTC head comes back too, and the Soundwave encoder sees the same frames
        again = EncoderCTCPretrainer.from_pretrained(out).eval()
        lp, lens = model.log_probs(batch["feats"], batch["feat_lens"])
        lp2, lens2 = again.log_probs(batch["feats"], batch["feat_lens"])
        torch.testing.assert_close(lp2, lp)
        frames, frame_lens = WhisperAudioEncoder(out, input_mode="variable")(
            batch["feats"], batch["feat_lens"]
        )
        hidden = encoder_forward(model.encoder, batch["feats"], batch["feat_lens"])
    assert frame_lens.tolist() == lens.tolist() == lens2.tolist()
    for i, n in enumerate(lens.tolist()):
        torch.testing.assert_close(frames[i, :n], hidden[i, :n])

    (out / "ctc_head.safetensors").unlink()
    with pytest.raises(UserError, match="ctc_head"):
        EncoderCTCPretrainer.from_pretrained(out)


def test_default_size():
    model = EncoderCTCPretrainer(whisper_config())
    assert 1.0e6 < count_parameters(model, trainable_only=True) < 1.2e6
    assert model.config.max_source_positions == 1500  # Whisper's 30 s geometry


def test_fresh_frontend_keeps_the_audio_above_the_positions():
    """HF's default init (std 0.02) left the audio far below the sinusoidal positions at
    stand-in width, and CTC pretraining sat on its blank plateau; the He-initialised
    convolutions keep it above them."""
    model = EncoderCTCPretrainer(whisper_config())
    encoder = model.encoder
    feats = torch.randn(4, 80, 300) * 0.5  # the scale of Whisper log-mels
    with torch.no_grad():
        audio = F.gelu(encoder.conv2(F.gelu(encoder.conv1(feats))))
    positions = encoder.embed_positions.weight
    assert audio.std() > 0.3 * positions.std()
