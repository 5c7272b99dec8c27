"""Stage I -> II -> III -> decode -> score on synthesized speech with tiny models."""

from __future__ import annotations

import json
import re

import pytest
import torch
from pipeline_util import losses, write_config
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from soundwave.bin import decode, make_results, score, train
from soundwave.models.stage_dir import load_stage

pytestmark = pytest.mark.slow

TASKS = ["asr", "st_en_de", "gender", "qa"]


def trained(stage_dir):
    return load_file(str(stage_dir / "trained.safetensors"))


def groups(state):
    return {name.split(".")[0] for name in state}


def test_three_stages_then_decode_and_score(tiny_pipeline, tmp_path):
    root, exp = tiny_pipeline, tmp_path / "exp" / "tiny"
    train_all = [{"cuts": str(root / "cuts_train.jsonl.gz"), "tasks": TASKS[:3]}]
    configs = {
        "align": write_config(tmp_path / "align.yaml", root, "align", train={"max_steps": 30}),
        "shrink": write_config(tmp_path / "shrink.yaml", root, "shrink", data={"train": train_all}),
        "sft": write_config(
            tmp_path / "sft.yaml",
            root,
            "sft",
            data={"train": [{"cuts": str(root / "cuts_train.jsonl.gz"), "tasks": ["qa"]}]},
            train={"max_steps": 15},
        ),
    }
    previous = None
    for stage, config in configs.items():
        args = ["--config", str(config), "--exp-dir", str(exp / stage)]
        train.main(args + ([f"init_from={previous}"] if previous else []))
        history = losses(exp / stage)
        assert history[-1] < history[0], f"{stage}: loss did not fall: {history}"
        previous = exp / stage

    align, shrink, sft = (trained(exp / s) for s in ("align", "shrink", "sft"))
    assert groups(align) == {"adapter", "ctc_head"}
    assert groups(shrink) == {"adapter", "ctc_head", "bridge", "llm"}
    assert all("lora_" in name for name in shrink if name.startswith("llm."))
    # Stage II moved what it trains ...
    assert not torch.equal(align["adapter.proj.weight"], shrink["adapter.proj.weight"])
    lora_b = [name for name in shrink if "lora_B" in name]
    assert lora_b and all(shrink[n].abs().sum() > 0 for n in lora_b)
    # ... and Stage III trains LoRA and the bridge but leaves the adapter and CTC head alone
    assert any(not torch.equal(shrink[n], sft[n]) for n in lora_b)
    assert torch.equal(shrink["adapter.proj.weight"], sft["adapter.proj.weight"])
    assert torch.equal(shrink["ctc_head.weight"], sft["ctc_head.weight"])

    # the frozen parts are exactly the pretrained ones
    model = load_stage(exp / "sft")
    base = AutoModelForCausalLM.from_pretrained(root / "llm")
    base_layer = base.model.layers[0].mlp.down_proj.weight
    ours = dict(model.llm.named_parameters())
    ours_layer = next(v for k, v in ours.items() if k.endswith("layers.0.mlp.down_proj.weight"))
    assert torch.equal(base_layer, ours_layer)

    out = str(exp / "sft" / "decode_test_{task}")
    decode.main(["--model-dir", str(exp / "sft"), "--cuts", str(root / "cuts_test.jsonl.gz"), "--tasks", *TASKS,
                 "--out-dir", out, "mode=generate", "with_ctc=true", "generation.max_new_tokens=12",
                 "guard=flag", "measure_ttft=2"])  # fmt: skip
    for task in TASKS:
        d = exp / "sft" / f"decode_test_{task}"
        hyps = (d / "hyp.txt").read_text().splitlines()
        assert len(hyps) == 8 and all(line.split()[0].startswith("ts") for line in hyps)
        stats = json.loads((d / "decode.json").read_text())
        assert stats["utts"] == 8 and stats["adapter_frames_per_second"] == pytest.approx(25, abs=1)
        assert 0 < stats["llm_positions_per_second"] <= 25.5
        assert stats["guard"] == "flag" and len((d / "guard.txt").read_text().splitlines()) == 8
        assert len(stats["ttft_ms"]) == 2 and stats["llm_positions_per_token"] > 0
        score.main(["--task", task, "--ref", str(d / "ref.txt"), "--hyp", str(d / "hyp.txt"),
                    "--out", str(d / f"score_{task}.json")])  # fmt: skip
        result = json.loads((d / f"score_{task}.json").read_text())
        assert result["task"] == task and result["set"] == "test" and result["stage"] == "sft"
    make_results.main([str(exp), "--out", str(exp / "RESULTS.md")])
    table = (exp / "RESULTS.md").read_text()
    assert "asr" in table and "st_en_de" in table and "| tiny | sft |" in table
    for task in TASKS:
        assert f"| tiny | sft | test | {task} | flag | " in table  # the guard table
        # the speed table: positions per token, median time to first token, 2 timed
        assert re.search(
            rf"\| tiny \| sft \| test \| {task} \| \d+\.\d\d \| \d+\.\d \| 2 \|", table
        )
