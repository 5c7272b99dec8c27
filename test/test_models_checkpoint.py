"""Config files, stage checkpoints, stage-to-stage init, merged export."""

from __future__ import annotations

import json

import pytest
import torch
from models_util import config, feats, model, sharpen_ctc
from safetensors import safe_open

from soundwave.errors import UserError
from soundwave.models.config import SoundwaveConfig
from soundwave.models.soundwave import SoundwaveModel
from soundwave.models.stage_dir import (
    export_merged,
    load_stage,
    load_trained_state,
    save_stage,
)
from soundwave.stages import CONFIG_NAME, WEIGHTS_NAME
from soundwave.train.stages import apply_stage

INSTR = ["transcribe", "say it"]
TARGETS = ["hello world", "turn on the lights"]


def randomize_trainable(m: SoundwaveModel, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.3)


def test_config_json_roundtrip_and_errors(tmp_path):
    cfg = config(bridge="peaks", lora_target_modules=["q_proj"])
    cfg.to_json(tmp_path / "c.json", extra={"note": 1})
    assert SoundwaveConfig.from_json(tmp_path / "c.json") == cfg
    assert SoundwaveConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(UserError, match="bridge"):
        cfg.replace(bridge="wide")
    with pytest.raises(UserError, match="unknown model config keys: colour"):
        SoundwaveConfig.from_dict({**cfg.to_dict(), "colour": 1})
    (tmp_path / "bad.json").write_text('{"model": {\n "x": }')
    with pytest.raises(UserError, match=r"bad.json:2"):
        SoundwaveConfig.from_json(tmp_path / "bad.json")


def test_stage_dir_holds_only_trained_weights_and_keeps_other_files(tmp_path):
    m = model()
    apply_stage(m, "align")
    (tmp_path / "train.log").write_text("log\n")
    save_stage(m, tmp_path, extra={"steps": 3})
    assert (tmp_path / "train.log").read_text() == "log\n"
    with safe_open(str(tmp_path / WEIGHTS_NAME), "pt") as f:
        names = set(f.keys())
    assert {n.split(".")[0] for n in names} == {"adapter", "ctc_head"}  # the bridge is untrained
    info = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert info["model"]["encoder_path"] == m.cfg.encoder_path
    assert info["model"]["llm_path"] == m.cfg.llm_path
    prov = info["provenance"]
    assert prov["stage"] == "align" and prov["extra"] == {"steps": 3} and not prov["lora"]
    assert set(prov["trainable"]) == names
    assert "torch" in prov["versions"]


def test_stage_roundtrip_with_lora(tmp_path):
    m = model()
    sharpen_ctc(m)
    apply_stage(m, "shrink")
    randomize_trainable(m)
    m.eval()
    x, lens = feats([120, 77])
    loss = m(x, lens, INSTR, TARGETS, transcripts=TARGETS)["loss"]
    ids = m.generate_ids(x, lens, INSTR, max_new_tokens=5)
    save_stage(m, tmp_path / "shrink")
    m2 = load_stage(tmp_path / "shrink").eval()
    assert m2.has_lora
    torch.testing.assert_close(m2(x, lens, INSTR, TARGETS, transcripts=TARGETS)["loss"], loss)
    assert m2.generate_ids(x, lens, INSTR, max_new_tokens=5) == ids
    apply_stage(m2, "sft", train_bridge=False)  # stage III saves what it loaded, too
    save_stage(m2, tmp_path / "sft")
    with safe_open(str(tmp_path / "sft" / WEIGHTS_NAME), "pt") as f:
        kinds = {"lora" if "lora_" in n else n.split(".")[0] for n in f.keys()}  # noqa: SIM118
    assert kinds == {"adapter", "ctc_head", "bridge", "lora"}
    with pytest.raises(UserError, match="not a Soundwave stage dir"):
        load_stage(tmp_path)


def test_stage_one_initialises_stage_two(tmp_path):
    m1 = model(seed=1)
    apply_stage(m1, "align")
    randomize_trainable(m1)
    save_stage(m1, tmp_path / "align")
    m2 = model(seed=2)
    bridge_before = {k: v.clone() for k, v in m2.bridge.state_dict().items()}
    load_trained_state(m2, tmp_path / "align")
    for a, b in zip(m1.adapter.parameters(), m2.adapter.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(m1.ctc_head.weight, m2.ctc_head.weight)
    apply_stage(m2, "shrink")  # LoRA added after loading, bridge untouched by stage I
    assert m2.has_lora
    for k, v in m2.bridge.state_dict().items():
        assert torch.equal(v, bridge_before[k])
    linear = model(bridge="linear", stack=5)
    with pytest.raises(UserError, match="do not fit"):
        load_trained_state(linear, tmp_path / "align")
    with pytest.raises(UserError, match="shape"):
        load_trained_state(model(stack=3), tmp_path / "align")
    with pytest.raises(UserError, match="shape"):
        load_trained_state(model(lora_rank=8), _save_with_lora(tmp_path / "lora"))


def _save_with_lora(path):
    m = model()
    apply_stage(m, "sft")
    save_stage(m, path)
    return path


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_export_merged_loads_without_lora_and_matches(tmp_path, arch):
    m = model(arch)
    sharpen_ctc(m)
    apply_stage(m, "shrink")
    randomize_trainable(m, seed=3)
    m.eval()
    x, lens = feats([90, 150], seed=2)
    ids = m.generate_ids(x, lens, INSTR, max_new_tokens=5)
    lm = m(x, lens, INSTR, TARGETS)["lm_loss"]
    export_merged(m, tmp_path / "export")
    llm_cfg = json.loads((tmp_path / "export" / "llm" / "config.json").read_text())
    assert llm_cfg["model_type"] == arch
    with safe_open(str(tmp_path / "export" / "llm" / "model.safetensors"), "pt") as f:
        assert not any("lora" in k or "base_layer" in k for k in f.keys())  # noqa: SIM118
    e = load_stage(tmp_path / "export").eval()
    assert not e.has_lora and e.cfg.llm_path == str(tmp_path / "export" / "llm")
    torch.testing.assert_close(e(x, lens, INSTR, TARGETS)["lm_loss"], lm, rtol=1e-4, atol=1e-4)
    assert e.generate_ids(x, lens, INSTR, max_new_tokens=5) == ids
    assert m.has_lora  # the exported model is untouched
