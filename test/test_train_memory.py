"""Memory planning on the meta device: the real models' parameter counts, FSDP's shards."""

from __future__ import annotations

import pytest

from soundwave.errors import UserError
from soundwave.models.config import SoundwaveConfig
from soundwave.models.meta import build_meta_model
from soundwave.models.shapes import architecture, known_name
from soundwave.train.memory import GIB, memory_rows, trainable


@pytest.fixture(scope="module")
def paper_model():
    """whisper-large-v2 + Llama-3.1-8B-Instruct with LoRA r=64, as the paper trains them."""
    cfg = SoundwaveConfig(
        encoder_path="exp/models/whisper-large-v2",
        llm_path="meta-llama/Llama-3.1-8B-Instruct",
        llm_dtype="bfloat16",
    )
    return build_meta_model(cfg)


def count(params):
    return sum(p.numel() for p in params)


def test_known_models_have_their_published_parameter_counts(paper_model):
    # Llama-3.1-8B as published, plus one embedding and one LM-head row for <audio_patch>
    assert count(paper_model.base_llm_parameters()) == 8_030_261_248 + 2 * 4096
    assert count(paper_model.encoder.parameters()) == 636_784_640  # whisper-large-v2's encoder
    assert all(p.is_meta for p in paper_model.llm.parameters())
    # the released checkpoint's shapes: CTC head over 128257 ids, adapter from 2 x 1280
    assert tuple(paper_model.audio["ctc_head"].weight.shape) == (128257, 4096)
    assert tuple(paper_model.audio["adapter"].proj.weight.shape) == (4096, 2560)
    # LoRA r=64 on q, k, v, o of 32 layers: 64 * (2 * (4096 + 4096) + 2 * (4096 + 1024)) each
    assert count(paper_model.lora_parameters()) == 32 * 64 * (2 * 8192 + 2 * 5120)


def test_stages_train_what_the_stage_table_says(paper_model):
    audio = paper_model.audio
    align = count(trainable(paper_model, "align"))
    assert align == count(audio["adapter"].parameters()) + count(audio["ctc_head"].parameters())
    sft = count(trainable(paper_model, "sft", train_bridge=False))
    assert sft == count(paper_model.lora_parameters())


def test_fsdp_divides_the_sharded_state_by_the_gpu_count(paper_model):
    rows = {(r.strategy, r.gpus): r for r in memory_rows(paper_model, "shrink", GIB, [1, 2, 8])}
    encoder = count(paper_model.encoder.parameters()) * 4 / GIB  # float32, never sharded
    one, two, eight = rows["fsdp", 1], rows["fsdp", 2], rows["fsdp", 8]
    assert (two.weights - encoder) == pytest.approx((one.weights - encoder) / 2)
    assert (eight.weights - encoder) == pytest.approx((one.weights - encoder) / 8)
    assert eight.optimizer == pytest.approx(one.optimizer / 8)
    assert eight.grads == pytest.approx(one.grads / 8)
    # DDP keeps everything on every GPU (and a second copy of the gradients: its buckets)
    assert rows["ddp", 8].weights == one.weights and rows["ddp", 8].optimizer == one.optimizer
    assert rows["ddp", 8].grads == pytest.approx(2 * one.grads)
    assert eight.total < rows["ddp", 8].total
    assert one.activations == eight.activations == 1.0  # per GPU: the batch is per process


def test_model_names_and_their_errors(tmp_path):
    assert known_name("/data/models/Qwen2.5-7B-Instruct") == "qwen2.5-7b"
    assert known_name("gpt2") is None
    with pytest.raises(UserError, match="none of the known models"):
        architecture(tmp_path / "my-llm")
    (tmp_path / "my-llm").mkdir()
    (tmp_path / "my-llm" / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    assert architecture(tmp_path / "my-llm")["hidden_size"] == 8


def test_plan_memory_cli_prints_the_tables(tmp_path, capsys):
    from soundwave.bin import plan_memory

    config = tmp_path / "sft.yaml"
    config.write_text(
        "stage: sft\nmodel: {encoder_path: whisper-large-v3, llm_path: Llama-3.2-1B-Instruct, "
        "llm_dtype: bfloat16}\ndata: {max_duration: 60}\n"
    )
    plan_memory.main([str(config), "--gpus", "1,4", "model.gradient_checkpointing=true"])
    out = capsys.readouterr().out
    assert "| fsdp | 4 |" in out and "| ddp | 1 |" in out
    assert "activation checkpointing on" in out
    # 1,235,814,400 + one row of 2048 for <audio_patch> (embeddings and LM head are tied)
    assert "| LLM (frozen) | 1,235,816,448 | bfloat16 |" in out
