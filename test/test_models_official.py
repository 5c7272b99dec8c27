"""Importing a released-format Soundwave checkpoint reproduces the released computation.

The reference below is written from the released Soundwave.py / run_inference.py, batch 1,
with plain torch/transformers modules and the checkpoint's tensors read by name; it shares
no code with soundwave.models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from models_util import official_dir, whisper_dir
from safetensors import safe_open
from torch import nn
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    WhisperFeatureExtractor,
    WhisperModel,
)

from soundwave.errors import UserError
from soundwave.models.official import import_official
from soundwave.models.stage_dir import load_stage, save_stage

SYSTEM = (
    "You are a helpful language and speech assistant. You are able to understand the speech content "
    "that the user provides, and assist the user with a variety of tasks using natural language."
)
STEPS = 6
JFK = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "jfk.flac"


def waveforms() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for seconds in (2.0, 1.3):
        speech = rng.standard_normal(int(16000 * seconds)).astype(np.float32) * 0.1
        out.append(np.concatenate([speech, np.zeros(800, np.float32)]))  # ends in digital silence
    return out


def features_30s(audio: np.ndarray) -> torch.Tensor:
    """As run_inference.py: WhisperProcessor pads the audio to 30 s -> (80, 3000)."""
    fe = WhisperFeatureExtractor(feature_size=80)
    return fe(audio, sampling_rate=16000, return_tensors="pt").input_features[0]


class Reference:
    """The released forward pass, batch 1."""

    def __init__(self, root: str):
        self.root = Path(root)
        cfg = json.loads((self.root / "config.json").read_text())
        t: dict[str, torch.Tensor] = {}
        for shard in sorted(self.root.glob("*.safetensors")):
            with safe_open(str(shard), "pt") as f:
                t |= {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118

        def sub(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix) :]: v for k, v in t.items() if k.startswith(prefix)}

        h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
        self.whisper = WhisperModel.from_pretrained(cfg["audio_tower"]).encoder.eval()
        self.mm_projector1 = nn.Linear(cfg["adapter_size"] * 2, h)
        self.mm_projector1.load_state_dict(sub("model.mm_projector1."))
        layer = nn.TransformerEncoderLayer(
            d_model=h, nhead=heads, dim_feedforward=h * 2, dropout=0.1, norm_first=True
        )
        self.asr_transformer_encoder = nn.TransformerEncoder(
            layer, num_layers=1, enable_nested_tensor=False
        )
        self.asr_transformer_encoder.load_state_dict(sub("model.asr_transformer_encoder."))
        self.out_norm = nn.LayerNorm(h)
        self.out_norm.load_state_dict(sub("model.out_norm."))
        self.head = nn.Linear(h, cfg["vocab_size"], bias=False)
        self.head.load_state_dict(sub("model.audio_feature_head."))
        self.encoder_attn = nn.MultiheadAttention(h, heads, dropout=0.1, batch_first=True)
        self.encoder_attn.load_state_dict(sub("model.lbm.encoder_attn."))
        self.atten_layer_norm = nn.LayerNorm(h)
        self.atten_layer_norm.load_state_dict(sub("model.lbm.atten_layer_norm."))
        for key in (
            "audio_tower",
            "adapter_size",
            "audio_patch_token",
            "audio_patch_size",
            "llm_pad_token_id",
        ):
            cfg.pop(key)
        cfg["model_type"] = "llama"
        self.llm = LlamaForCausalLM(LlamaConfig(**cfg))
        want = self.llm.state_dict()
        self.llm.load_state_dict({k: v for k, v in t.items() if k in want}, strict=True)
        self.tok = AutoTokenizer.from_pretrained(str(self.root))
        for m in (self.asr_transformer_encoder, self.encoder_attn, self.llm):
            m.eval()

    def prompt(self, prompt: str) -> list[int]:
        tok, v = self.tok, self.tok.get_vocab()
        ids = lambda s: tok(s).input_ids  # noqa: E731
        nl = ids("\n")
        system = [
            v["<|begin_of_text|>"],
            v["<|start_header_id|>"],
            *ids("system"),
            v["<|end_header_id|>"],
        ]
        system += nl + ids(SYSTEM) + [v["<|eot_id|>"]]
        user = [
            v["<|start_header_id|>"],
            *ids("user"),
            v["<|end_header_id|>"],
            *ids("\n<audio_patch>"),
        ]
        user += [*ids(prompt), v["<|eot_id|>"]]
        assistant = [v["<|start_header_id|>"], *ids("assistant"), v["<|end_header_id|>"], *nl]
        return system + user + assistant

    @torch.no_grad()
    def __call__(self, feat30: torch.Tensor, prompt: str):
        audio_feature = self.whisper(feat30[None]).last_hidden_state
        audio_feature = audio_feature.view(
            1, audio_feature.shape[1] // 2, 2 * audio_feature.shape[2]
        )
        audio_feature = self.mm_projector1(audio_feature)
        audio_feature = self.asr_transformer_encoder(audio_feature)
        audio_features = self.out_norm(audio_feature)
        tokens = self.head(audio_features).argmax(dim=-1)
        self.labels = tokens[0]  # the CTC labels of the last call
        shrink_mask = tokens.roll(1) != tokens
        shrink_mask[:, 0] = True
        shrink = audio_features[shrink_mask]
        x, _ = self.encoder_attn(
            query=shrink,
            key=audio_features[0],
            value=audio_features[0],
            key_padding_mask=~shrink_mask[0],
        )
        shrink_feature = self.atten_layer_norm(x + shrink)
        ids = self.prompt(prompt)
        pos = ids.index(self.tok.convert_tokens_to_ids("<audio_patch>"))
        emb = self.llm.get_input_embeddings()
        seq = torch.cat(
            [emb(torch.tensor(ids[:pos])), shrink_feature, emb(torch.tensor(ids[pos + 1 :]))]
        )
        out = []
        for _ in range(STEPS):  # greedy, no cache
            nxt = int(self.llm(inputs_embeds=seq[None]).logits[0, -1].argmax())
            if nxt == self.tok.eos_token_id:
                break
            out.append(nxt)
            seq = torch.cat([seq, emb(torch.tensor([nxt]))])
        return shrink_mask[0].nonzero().flatten(), shrink_feature, out


def test_import_matches_released_forward_batched():
    ref = Reference(official_dir())
    model = import_official(official_dir(), encoder_path=whisper_dir()).eval()
    assert model.cfg.encoder_input == "pad30" and not model.cfg.adapter_temporal
    audio = waveforms()
    full = [features_30s(a) for a in audio]
    lengths = [len(a) // 160 for a in audio]  # our input: the real frames only, no 30 s padding
    feats = torch.zeros(2, 80, max(lengths))
    for i, (f, t) in enumerate(zip(full, lengths)):
        feats[i, :, :t] = f[:, :t]
    lens = torch.tensor(lengths)
    prompts = ["please transcribe the audio", "turn on the lights"]
    enc = model.encode_audio(feats, lens)
    ids = model.generate_ids(feats, lens, prompts, max_new_tokens=STEPS, suppress_tokens=None)
    assert enc.frame_lens.tolist() == [750, 750]
    for i in range(2):
        kept, vectors, tokens = ref(full[i], prompts[i])
        v = int(enc.lengths[i])
        assert 1 < v < 750
        assert enc.kept_index[i, :v].tolist() == kept.tolist()
        torch.testing.assert_close(enc.embeds[i, :v], vectors, rtol=0, atol=1e-4)
        assert ids[i] == tokens and len(tokens) > 0


def test_imported_stage_roundtrip(tmp_path):
    model = import_official(
        official_dir(), encoder_path=whisper_dir(), encoder_input="variable"
    ).eval()
    assert model.cfg.encoder_input == "variable"  # overrides apply
    save_stage(model, tmp_path)
    again = load_stage(tmp_path).eval()
    feats = features_30s(waveforms()[1])[None, :, :200]
    lens = torch.tensor([200])
    torch.testing.assert_close(
        again.encode_audio(feats, lens).embeds, model.encode_audio(feats, lens).embeds
    )


def test_import_errors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UserError, match="not 'Soundwave'"):
        import_official(tmp_path)
    cfg = json.loads((Path(official_dir()) / "config.json").read_text())
    cfg["audio_tower"] = "openai/whisper-large-v2"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="pass encoder_path"):
        import_official(tmp_path)


def test_import_cli_writes_a_decodable_stage_dir(tmp_path, capsys):
    from soundwave.bin import import_official as cli

    cli.main(
        ["--official-dir", official_dir(), "--encoder", whisper_dir(), "--out", str(tmp_path / "a")]
    )
    cli.main(
        [
            "--official-dir",
            official_dir(),
            "--encoder",
            whisper_dir(),
            "--out",
            str(tmp_path / "b"),
            "--merged",
        ]
    )
    assert "adapter" in capsys.readouterr().out
    reference = import_official(official_dir(), encoder_path=whisper_dir()).eval()
    feats = features_30s(waveforms()[1])[None, :, :200]
    lens = torch.tensor([200])
    want = reference.encode_audio(feats, lens).embeds
    for out in ("a", "b"):
        again = load_stage(tmp_path / out).eval()
        assert again.cfg.encoder_input == "pad30" and not again.cfg.adapter_temporal
        torch.testing.assert_close(again.encode_audio(feats, lens).embeds, want)


def test_import_with_relative_paths_loads_from_anywhere(tmp_path, monkeypatch):
    """Relative --official-dir/--encoder are stored resolved: the stage loads elsewhere."""
    from soundwave.bin import import_official as cli

    shutil.copytree(official_dir(), tmp_path / "release")
    shutil.copytree(whisper_dir(), tmp_path / "whisper")
    monkeypatch.chdir(tmp_path)
    cli.main(["--official-dir", "release", "--encoder", "whisper", "--out", "stage"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = load_stage(tmp_path / "stage")
    assert Path(again.cfg.encoder_path) == (tmp_path / "whisper").resolve()
    assert Path(again.cfg.llm_path) == (tmp_path / "release").resolve()


def _ctc_collapse(labels: list[int], blank: int) -> list[int]:
    out = [t for i, t in enumerate(labels) if i == 0 or t != labels[i - 1]]
    return [t for t in out if t != blank]


def _table(path: Path) -> dict[str, str]:
    return dict(([*line.split(" ", 1), ""])[:2] for line in path.read_text().splitlines())


@pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is absent")
def test_cli_path_on_real_audio_matches_released_forward(tmp_path, capsys):
    """make_manifests -> compute_fbank -> import_official -> decode, and infer, on 44.1 kHz
    stereo speech cut mid-word, against the released forward on openai-whisper's log-mel."""
    whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed (dev extra)")
    from soundwave.bin import compute_fbank, decode, infer, make_manifests
    from soundwave.bin import import_official as import_cli
    from soundwave.data.batches import eval_batches
    from soundwave.data.lhotse_io import load_cuts
    from soundwave.decode.decode import DecodeConfig

    x, sr = sf.read(JFK, dtype="float32")
    audio = tmp_path / "jfk_cut.wav"
    sf.write(audio, x[: int(3.37 * sr)], sr, subtype="PCM_24")  # ends inside "my"
    assert float(np.sqrt(np.mean(x[int(3.32 * sr) : int(3.37 * sr)] ** 2))) > 0.05
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"jfk_cut {audio}\n")
    (data / "utt2spk").write_text("jfk_cut jfk_cut\n")
    (data / "spk2utt").write_text("jfk_cut jfk_cut\n")
    (data / "text").write_text("jfk_cut and so my\n")
    raw, cuts, stage = tmp_path / "raw.jsonl.gz", tmp_path / "cuts.jsonl.gz", tmp_path / "stage"
    make_manifests.main(["--data-dir", str(data), "--out", str(raw)])
    compute_fbank.main(
        [
            "--cuts",
            str(raw),
            "--out-cuts",
            str(cuts),
            "--storage",
            str(tmp_path / "fbank"),
            "--no-progress",
        ]
    )
    import_cli.main(
        ["--official-dir", official_dir(), "--encoder", whisper_dir(), "--out", str(stage)]
    )
    prompt = "please transcribe the audio"
    out = tmp_path / "decode"
    decode.main(
        [
            "--model-dir",
            str(stage),
            "--cuts",
            str(cuts),
            "--out-dir",
            str(out),
            "--instruction",
            prompt,
            "with_ctc=true",
            f"generation.max_new_tokens={STEPS}",
        ]
    )

    ref = Reference(official_dir())
    want = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(str(audio))))
    kept, _, tokens = ref(want, prompt)
    labels = ref.labels.tolist()
    blank = ref.tok.convert_tokens_to_ids("<audio_patch>")
    assert 1 < len(kept) < 750 and len(tokens) > 0 and blank not in tokens

    def text(ids: list[int]) -> str:
        return " ".join(ref.tok.decode(ids, skip_special_tokens=True).split())

    assert _table(out / "hyp.txt") == {"jfk_cut": text(tokens)}
    assert _table(out / "ctc_hyp.txt") == {"jfk_cut": text(_ctc_collapse(labels, blank))}
    assert _table(out / "shrink_stats.txt")["jfk_cut"].split()[1:] == ["750", str(len(kept))]

    # frame by frame, on the batch that decode reads
    model = load_stage(stage).eval()
    (batch,) = eval_batches(load_cuts(cuts), "asr", DecodeConfig().data, instruction=prompt)
    enc = model.encode_audio(batch["feats"], batch["feat_lens"])
    v = int(enc.lengths[0])
    assert enc.kept_index[0, :v].tolist() == kept.tolist()
    assert enc.ctc_logits[0].argmax(-1).tolist() == labels
    ids = model.generate_ids(batch["feats"], batch["feat_lens"], [prompt], max_new_tokens=STEPS)
    assert ids == [tokens]

    capsys.readouterr()
    code = infer.main(
        [
            "--model-dir",
            str(stage),
            "--instruction",
            prompt,
            "--max-new-tokens",
            str(STEPS),
            str(audio),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [f"jfk_cut {text(tokens)}"]
