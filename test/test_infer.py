"""``infer``: plain audio files of any format, rate, channel count and length -> text, batched
as decoding is; bad files reported one line each; ``--instruction`` for infer and decode."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from models_util import model as tiny_model
from models_util import sharpen_ctc

from soundwave.bin import decode as decode_cli
from soundwave.bin import infer as infer_cli
from soundwave.decode.infer import InferConfig, ids_for_paths, transcribe, usable_cuts
from soundwave.features.fbank import whisper_fbank
from soundwave.models import encoder as encoder_module
from soundwave.models.encoder import pad_window
from soundwave.models.llm import PromptBuilder
from soundwave.models.stage_dir import load_stage, save_stage
from soundwave.tasks import get_task

INSTRUCTION = "Please transcribe the audio."


def _tone_noise(seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    """Speech-like enough for a random model: a few tones under noise, different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t) * a for f, a in zip(rng.uniform(150, 3000, 4), [0.3] * 4))
    x = (
        x * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        + 0.05 * rng.standard_normal(len(t))
    ) * 0.5
    if channels == 1:
        return x.astype(np.float32)
    return np.stack([x, np.roll(x, 37) * 0.7], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def stage_dir(tmp_path_factory) -> Path:
    m = tiny_model()
    sharpen_ctc(m)
    out = tmp_path_factory.mktemp("stage")
    save_stage(m, out)
    return out


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("audio")
    sf.write(d / "a16k_mono.wav", _tone_noise(1.7, 16000, 1), 16000, subtype="PCM_16")
    sf.write(d / "b44k_stereo.flac", _tone_noise(2.3, 44100, 2, 2), 44100, subtype="PCM_24")
    sf.write(d / "c_mp3.mp3", _tone_noise(1.2, 22050, 3), 22050, format="MP3")
    sf.write(d / "d8k.wav", _tone_noise(2.9, 8000, 4), 8000, subtype="PCM_16")
    long = np.concatenate([_tone_noise(8.0, 16000, s) for s in range(5, 9)])  # 32 s
    sf.write(d / "e_long.wav", long, 16000, subtype="PCM_16")
    return d


def _run(capsys, *argv: str) -> tuple[int, dict[str, str], list[str]]:
    code = infer_cli.main(list(argv))
    out, err = capsys.readouterr()
    lines = dict([*line.split(" ", 1), ""][:2] for line in out.splitlines())
    return code, lines, err.splitlines()


def test_mixed_files_in_one_batch_equal_each_alone(stage_dir, audio_dir, capsys):
    files = sorted(str(p) for p in audio_dir.iterdir())
    assert len(files) == 5
    code, batched, err = _run(
        capsys, "--model-dir", str(stage_dir), "--batch-size", "5", "--max-new-tokens", "16", *files
    )
    assert code == 0 and err == []
    assert list(batched) == [Path(f).stem for f in files]  # input order
    assert len(set(batched.values())) > 1, "the random model's output should depend on the audio"
    model = load_stage(stage_dir).eval()
    for f in files:
        cuts, _ = usable_cuts({Path(f).stem: f}, print)
        alone = transcribe(model, cuts, InferConfig(max_new_tokens=16))
        assert alone == {Path(f).stem: batched[Path(f).stem]}


def test_long_file_goes_through_the_windowed_encoder(stage_dir, audio_dir):
    model = load_stage(stage_dir).eval()
    cuts, failed = usable_cuts({"long": str(audio_dir / "e_long.wav")}, print)
    assert not failed and cuts[0].duration > 30
    seen = []
    encode = model.encoder.forward

    def spy(feats, lens, tails=None):
        seen.append(int(lens.max()))
        return encode(feats, lens, tails)

    model.encoder.forward = spy
    assert list(transcribe(model, cuts, InferConfig(max_new_tokens=4))) == ["long"]
    # all 32 s reached the encoder (two windows), nothing truncated; then each piece the
    # recording was cut into is encoded again on its own (none longer than the recording)
    assert seen[0] == 3200 and all(n < 3200 for n in seen[1:])
    assert model.encoder.output_lengths(torch.tensor([3200])).item() == 1600


@pytest.fixture(scope="module")
def pad30_stage_dir(tmp_path_factory) -> Path:
    m = tiny_model(encoder_input="pad30")
    sharpen_ctc(m)
    out = tmp_path_factory.mktemp("stage_pad30")
    save_stage(m, out)
    return out


def test_pad30_long_file_encodes_every_window(pad30_stage_dir, audio_dir, capsys, monkeypatch):
    """infer on a 32 s file with a pad30 model: both 30 s windows reach Whisper's encoder,
    the first holding frames 0-2999, the second the last 200 frames, their tail, then
    silence; the encoder returns the frames of all 32 s."""
    long = audio_dir / "e_long.wav"
    cuts, _ = usable_cuts({"e_long": str(long)}, print)
    feats, lens, tails = whisper_fbank(80)(cuts)
    assert int(lens[0]) == 3200
    windows: list[torch.Tensor] = []
    outputs: list[int] = []
    run = encoder_module.run_whisper_encoder

    def spy(enc, x, lens_):
        windows.append(x.clone())
        return run(enc, x, lens_)

    forward = encoder_module.WhisperAudioEncoder.forward

    def count(self, *args):
        frames, out_lens = forward(self, *args)
        outputs.extend(out_lens.tolist())
        return frames, out_lens

    monkeypatch.setattr(encoder_module, "run_whisper_encoder", spy)
    monkeypatch.setattr(encoder_module.WhisperAudioEncoder, "forward", count)
    code, lines, err = _run(
        capsys, "--model-dir", str(pad30_stage_dir), "--max-new-tokens", "4", str(long)
    )
    assert code == 0 and err == [] and list(lines) == ["e_long"]
    x = windows[0]  # the recording; then the pieces it was cut into, each on its own
    assert x.shape == (2, 80, 3000)
    f, tail = feats[0].T, tails[0].T  # (80, 3200), (80, 3)
    torch.testing.assert_close(x[0], pad_window(f[None, :, :3000], torch.tensor([3000]))[0])
    torch.testing.assert_close(x[1, :, :200], f[:, 3000:])
    torch.testing.assert_close(x[1, :, 200:203], tail)
    silence = x[1].max() - 2.0  # whisper's value of zero samples in that window
    assert torch.all(x[1, :, 203:] == silence.clamp(min=-1.5))
    assert outputs[0] == 1600  # 1500 + 100 encoder frames: nothing truncated


def test_bad_files_get_one_line_and_the_rest_come_out(stage_dir, audio_dir, tmp_path, capsys):
    (tmp_path / "notaudio.wav").write_text("hello, I am a text file\n")
    (tmp_path / "empty.flac").write_bytes(b"")
    good = (audio_dir / "a16k_mono.wav").read_bytes()
    (tmp_path / "truncated.wav").write_bytes(good[:30])
    sf.write(tmp_path / "silent0.wav", np.zeros(0, np.float32), 16000)
    bad = [
        tmp_path / n
        for n in ("missing.wav", "notaudio.wav", "empty.flac", "truncated.wav", "silent0.wav")
    ]
    files = [str(audio_dir / "a16k_mono.wav"), *map(str, bad), str(audio_dir / "d8k.wav")]
    out = tmp_path / "hyp.txt"
    code = infer_cli.main(
        ["--model-dir", str(stage_dir), "--max-new-tokens", "8", "--out", str(out), *files]
    )
    _, err = capsys.readouterr()
    assert code == 1
    err = err.splitlines()
    assert len(err) == len(bad)
    for path, line in zip(bad, err):
        assert str(path) in line, line
    assert [line.split()[0] for line in out.read_text().splitlines()] == ["a16k_mono", "d8k"]


def test_ids_are_stems_made_unique(tmp_path):
    assert list(ids_for_paths(["x/a.wav", "y/a.flac", "z/a b.mp3", "a-2.wav"])) == [
        "a",
        "a-2",
        "a_b",
        "a-2-2",
    ]


def test_wav_scp_keys_are_the_ids(stage_dir, audio_dir, tmp_path, capsys):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt1 {audio_dir / 'a16k_mono.wav'}\nutt2 {audio_dir / 'c_mp3.mp3'}\n")
    code, lines, _ = _run(
        capsys, "--model-dir", str(stage_dir), "--max-new-tokens", "8", "--wav-scp", str(scp)
    )
    assert code == 0 and list(lines) == ["utt1", "utt2"]


class PromptSpy:
    """Records what each prompt is built from and the ids the LLM is given."""

    def __init__(self, inner: PromptBuilder):
        self.inner, self.seen = inner, []

    def __call__(self, instruction: str):
        ids = self.inner(instruction)
        self.seen.append((instruction, ids))
        return ids


def test_instruction_changes_the_prompt(stage_dir, audio_dir):
    model = load_stage(stage_dir).eval()
    model.prompts = spy = PromptSpy(model.prompts)
    cuts, _ = usable_cuts({"a": str(audio_dir / "a16k_mono.wav")}, print)
    transcribe(model, cuts, InferConfig(max_new_tokens=2))
    transcribe(model, cuts, InferConfig(max_new_tokens=2, instruction=INSTRUCTION))
    (default, (_, after_default)), (custom, (_, after_custom)) = spy.seen
    assert default == get_task("asr").instructions[0] and custom == INSTRUCTION
    want = model.tokenizer(INSTRUCTION, add_special_tokens=False).input_ids
    assert _contains(after_custom, want) and not _contains(after_default, want)


def _contains(seq: list[int], part: list[int]) -> bool:
    return any(seq[i : i + len(part)] == part for i in range(len(seq) - len(part) + 1))


def test_decode_instruction(stage_dir, audio_dir, tmp_path, monkeypatch):
    cuts = []
    for name in ("a16k_mono.wav", "d8k.wav"):
        rec = Recording.from_file(audio_dir / name, recording_id=Path(name).stem)
        sup = SupervisionSegment(rec.id, rec.id, 0.0, rec.duration, text="hello world")
        cuts.append(MonoCut(rec.id, 0.0, rec.duration, 0, recording=rec, supervisions=[sup]))
    manifest = tmp_path / "cuts.jsonl.gz"
    CutSet.from_cuts(cuts).resample(16000).to_file(manifest)
    seen: list[str] = []
    call = PromptBuilder.__call__

    @functools.wraps(call)
    def spy(self, instruction):
        seen.append(instruction)
        return call(self, instruction)

    monkeypatch.setattr(PromptBuilder, "__call__", spy)
    common = ["--model-dir", str(stage_dir), "--cuts", str(manifest)]
    overrides = ["data.on_the_fly=true", "generation.max_new_tokens=3"]
    decode_cli.main(
        [
            *common,
            "--out-dir",
            str(tmp_path / "d1"),
            "--instruction",
            "Transcribe: this",
            *overrides,
        ]
    )
    assert set(seen) == {"Transcribe: this"}  # a colon: not parsed as YAML
    assert (tmp_path / "d1/ref.txt").read_text().splitlines() == [
        "a16k_mono hello world",
        "d8k hello world",
    ]
    seen.clear()
    decode_cli.main(
        [*common, "--out-dir", str(tmp_path / "d2"), *overrides, f"instruction={INSTRUCTION}"]
    )
    assert set(seen) == {INSTRUCTION}
    seen.clear()
    decode_cli.main([*common, "--out-dir", str(tmp_path / "d3"), *overrides])
    assert set(seen) == {get_task("asr").instructions[0]}
