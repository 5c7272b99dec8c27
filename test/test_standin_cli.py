"""pretrain_standin: both stand-ins train with the shared trainer and load like real checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer, WhisperModel

from soundwave.bin import pretrain_standin

pytestmark = pytest.mark.slow


def test_llm_and_encoder_pretraining(tiny_pipeline, tmp_path):
    root = tiny_pipeline
    llm_cfg = tmp_path / "llm.yaml"
    llm_cfg.write_text(
        yaml.safe_dump(
            {
                "kind": "llm",
                "llm": {
                    "hidden": 32,
                    "layers": 1,
                    "heads": 2,
                    "kv_heads": 1,
                    "vocab_size": 400,
                    "max_len": 96,
                },
                "text": {
                    "train": str(root / "work/text/train.jsonl"),
                    "valid": str(root / "work/text/dev.jsonl"),
                    "tokenizer_text": [str(root / "work/text/lm.txt")],
                    "batch_size": 16,
                    "system_prompt": "You are a helpful speech assistant.",
                },
                "optim": {"lr": 3e-3, "warmup_steps": 2},
                "train": {"max_steps": 12, "log_interval": 4, "progress_bar": False},
            }
        )
    )
    pretrain_standin.main(
        [
            "--config",
            str(llm_cfg),
            "--exp-dir",
            str(tmp_path / "llm_train"),
            "--out-dir",
            str(tmp_path / "llm"),
        ]
    )
    history = json.loads((tmp_path / "llm_train/history.json").read_text())
    losses = [r["loss"] for r in history if "loss" in r and "valid_loss" not in r]
    assert losses[-1] < losses[0]
    assert any("valid_perplexity" in r for r in history)
    # the text skills are measured too (a 12-step model has none)
    final = [r for r in history if "valid_text_asr_wer" in r][-1]
    assert final["valid_text_asr_wer"] > 50 and 0 <= final["valid_text_st_en_de_bleu"] < 20
    tok = AutoTokenizer.from_pretrained(tmp_path / "llm")
    llm = AutoModelForCausalLM.from_pretrained(tmp_path / "llm")
    prompt = tok.apply_chat_template(
        [
            {"role": "system", "content": "You are a helpful speech assistant."},
            {"role": "user", "content": "hi"},
        ],
        add_generation_prompt=True,
    )
    assert llm.config.hidden_size == 32 and "You are a helpful speech assistant." in tok.decode(
        prompt["input_ids"]
    )

    enc_cfg = tmp_path / "enc.yaml"
    enc_cfg.write_text(
        yaml.safe_dump(
            {
                "kind": "encoder",
                "encoder": {"d_model": 32, "layers": 1, "heads": 2},
                "data": {
                    "train": [{"cuts": str(root / "cuts_train.jsonl.gz")}],
                    "valid": [{"cuts": str(root / "cuts_dev.jsonl.gz")}],
                    "max_duration": 30,
                    "spec_augment": True,
                },
                "optim": {"lr": 3e-3, "warmup_steps": 2},
                "train": {"max_steps": 12, "log_interval": 4, "progress_bar": False},
            }
        )
    )
    pretrain_standin.main(
        [
            "--config",
            str(enc_cfg),
            "--exp-dir",
            str(tmp_path / "enc_train"),
            "--out-dir",
            str(tmp_path / "whisper"),
        ]
    )
    history = json.loads((tmp_path / "enc_train/history.json").read_text())
    assert any("valid_ctc_wer" in r for r in history)
    assert all(
        r["gender_loss"] > 0 for r in history if "loss" in r
    )  # the speaker objective trains too
    assert all(r["audio_s_per_sec"] > 0 for r in history if "loss" in r)
    whisper = WhisperModel.from_pretrained(tmp_path / "whisper")
    assert whisper.config.d_model == 32 and torch.isfinite(whisper.encoder.conv1.weight).all()
