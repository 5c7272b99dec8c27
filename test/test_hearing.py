"""The hearing check (is the LLM using the audio?) and Stage II's CTC-WER guard.

The deaf model is the tiny pipeline's own: a Stage I adapter that after 30 steps emits
only blanks (CTC WER 100 %), so the bridge passes one frame that says nothing about the
utterance.  The listening one has an encoder whose frames carry the audio and a bridge
that passes every frame, trained on transcription.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from pipeline_util import write_config

from soundwave.bin import hearing_check, train
from soundwave.data.encoder_cache import EncoderFrames
from soundwave.decode.hearing import (
    SILENT_LOG_MEL,
    HearingLimits,
    HearingReport,
    silent_audio,
    swapped_audio,
)
from soundwave.errors import UserError
from soundwave.offline.tiny import build_tiny_llm, build_tiny_whisper
from soundwave.train.hearing import deaf_reason
from soundwave.train.stages import StageLoopConfig


def report(real: float, silence: float, swapped: float, unchanged: float) -> HearingReport:
    return HearingReport(
        "asr",
        8,
        {"real": real, "silence": silence, "swapped": swapped},
        {"silence": unchanged, "swapped": unchanged},
    )


# ---- the verdict and the replaced audio (no model) ---------------------------------------


def test_verdict_thresholds():
    hears = report(1.0, 2.5, 1.4, 0.25)
    assert hears.gap == pytest.approx(0.4) and not hears.deaf
    deaf_loss = report(1.0, 1.05, 1.02, 0.25)  # the answers change, the loss does not
    assert deaf_loss.deaf and deaf_loss.reasons == ["loss gap 0.020 < 0.1 nats/token"]
    deaf_answers = report(1.0, 2.0, 2.0, 0.95)
    assert deaf_answers.deaf and deaf_answers.reasons == ["95% of answers unchanged > 90%"]
    assert report(1.0, math.nan, 2.0, 0.0).deaf  # no evidence of hearing
    loose = HearingReport("asr", 8, hears.loss, hears.unchanged, HearingLimits(0.5, 0.1))
    assert len(loose.reasons) == 2
    m = deaf_loss.metrics()
    assert m["hearing_asr_deaf"] == 1.0 and m["hearing_asr_gap"] == pytest.approx(0.02)
    assert deaf_reason(hears.metrics()) is None
    assert "asr: loss gap 0.020, 25% of answers unchanged" in deaf_reason(m)
    assert report(1.0, 2.0, 2.0, 0.0).to_json()["verdict"] == "hears"


def test_silence_and_swapped_audio():
    lens = torch.tensor([5, 3, 4])
    silent = silent_audio({"feat_lens": lens}, n_mels=80)
    assert silent["feats"].shape == (3, 80, 5) and bool((silent["feats"] == SILENT_LOG_MEL).all())
    feats = torch.arange(3.0)[:, None, None].expand(3, 80, 5)
    swapped = swapped_audio({"feats": feats, "feat_lens": lens})
    assert swapped["feats"][:, 0, 0].tolist() == [2.0, 0.0, 1.0]
    assert swapped["feat_lens"].tolist() == [4, 5, 3]
    frames = EncoderFrames(torch.arange(3.0)[:, None, None].expand(3, 4, 2), lens, ["a", "b", "c"],
                           ["u1", "u2", "u3"])  # fmt: skip
    moved = swapped_audio({"encoded": frames, "feat_lens": lens})["encoded"]
    assert moved.frames[:, 0, 0].tolist() == [2.0, 0.0, 1.0] and moved.lens.tolist() == [4, 5, 3]
    assert moved.ids == ["c", "a", "b"] and moved.cut_ids == ["u1", "u2", "u3"]


def test_config_checks():
    with pytest.raises(ValueError, match=r"stop_if_deaf needs train\.hearing_check"):
        StageLoopConfig(stop_if_deaf=True)
    with pytest.raises(ValueError, match="2 and more"):
        StageLoopConfig(hearing_check=1)
    with pytest.raises(ValueError, match="max_unchanged"):
        HearingLimits(max_unchanged=1.5)


# ---- trained tiny models ------------------------------------------------------------------


def run_train(config, exp_dir, capsys, *overrides) -> tuple[int, list[str]]:
    """train.main's exit status and its error lines on stderr."""
    capsys.readouterr()
    try:
        train.main(["--config", str(config), "--exp-dir", str(exp_dir), *overrides])
        code = 0
    except SystemExit as err:
        code = err.code
    err_lines = [ln for ln in capsys.readouterr().err.splitlines() if " error: " in ln]
    return code, err_lines


def validation_rows(log_path) -> list[dict]:
    rows = re.findall(r"INFO step \d+ validation (\{.*\})", log_path.read_text())
    return [json.loads(r) for r in rows]


@pytest.fixture(scope="module")
def blank_align(tiny_pipeline, tmp_path_factory):
    """Stage I of the tiny pipeline, 30 steps: an adapter that emits blanks only."""
    tmp = tmp_path_factory.mktemp("blank_align")
    config = write_config(tmp / "align.yaml", tiny_pipeline, "align", train={"max_steps": 30})
    train.main(["--config", str(config), "--exp-dir", str(tmp / "align")])
    return tmp / "align"


@pytest.mark.slow
def test_stage2_refuses_a_stage1_adapter_above_the_ctc_wer_bound(
    tiny_pipeline, blank_align, tmp_path, capsys
):
    config = write_config(tmp_path / "shrink.yaml", tiny_pipeline, "shrink", train={"max_steps": 2})
    code, errors = run_train(config, tmp_path / "shrink", capsys, f"init_from={blank_align}",
                             "train.max_init_ctc_wer=50")  # fmt: skip
    assert code == 1 and len(errors) == 1
    assert re.search(r"CTC WER on the valid set is 1\d\d\.\d\d% \(8 utts\), above "
                     r"train\.max_init_ctc_wer=50", errors[0]), errors  # fmt: skip
    assert not (tmp_path / "shrink" / "checkpoints").exists()


@pytest.mark.slow
def test_deaf_model_stops_the_run_and_is_reported_deaf(
    tiny_pipeline, blank_align, tmp_path, capsys
):
    exp = tmp_path / "shrink"
    config = write_config(
        tmp_path / "shrink.yaml",
        tiny_pipeline,
        "shrink",
        train={"max_steps": 10, "valid_interval": 5, "hearing_check": 8, "stop_if_deaf": True,
               "max_init_ctc_wer": 1000},  # a loose bound: Stage II starts
    )  # fmt: skip
    code, errors = run_train(config, exp, capsys, f"init_from={blank_align}")
    assert code == 1 and len(errors) == 1
    assert "stopped at step 5: the LLM is not using the audio (asr: loss gap" in errors[0]
    log = (exp / "train.log").read_text()
    assert "WARNING the LLM is not using the audio: hearing check asr" in log
    assert not (exp / "soundwave_config.json").exists()  # no stage dir for Stage III
    (valid,) = validation_rows(exp / "train.log")
    assert abs(valid["hearing_asr_gap"]) < 0.01 and valid["hearing_asr_unchanged"] == 1.0
    assert valid["hearing_asr_deaf"] == 1.0 and valid["hearing_asr_loss_real"] > 1.0

    # the same model, saved, through the command: its JSON says deaf
    code, _ = run_train(config, exp / "saved", capsys, f"init_from={blank_align}",
                        "train.max_steps=2", "train.stop_if_deaf=false")  # fmt: skip
    assert code == 0
    out = tmp_path / "hearing.json"
    hearing_check.main(["--model-dir", str(exp / "saved"), "--cuts",
                        str(tiny_pipeline / "cuts_dev.jsonl.gz"), "--utts", "8", "--out", str(out),
                        "generation.max_new_tokens=8"])  # fmt: skip
    result = json.loads(out.read_text())
    assert result["verdict"] == "deaf" and abs(result["gap"]["min"]) < 0.01
    assert result["unchanged"]["all"] == 1.0 and result["limits"]["min_loss_gap"] == 0.1
    assert "hearing check asr" in capsys.readouterr().out


@pytest.mark.slow
def test_listening_model_is_not_deaf(tiny_pipeline, tmp_path, capsys):
    root = tiny_pipeline
    build_tiny_whisper(tmp_path / "whisper", d_model=48, layers=2, init_std=0.1)
    texts = [ln.split(" ", 1)[1] for ln in (root / "data/train/text").read_text().splitlines()]
    # large weights: a frozen random LM whose LoRA can move its answers
    build_tiny_llm(tmp_path / "llm", texts=texts, vocab_size=400, hidden=64, init_std=0.2)
    model = {"encoder_path": str(tmp_path / "whisper"), "llm_path": str(tmp_path / "llm")}
    align = write_config(tmp_path / "align.yaml", root, "align", model=model,
                         train={"max_steps": 1})  # fmt: skip
    assert run_train(align, tmp_path / "align", capsys)[0] == 0
    # the training utterances: what a model has learnt from the audio counts as hearing
    train_set = [{"cuts": str(root / "cuts_train.jsonl.gz"), "tasks": ["asr"]}]
    shrink = write_config(
        tmp_path / "shrink.yaml",
        root,
        "shrink",
        model={"bridge": "none", "ctc_weight": 0.0, "lora_rank": 32, "lora_alpha": 64},
        data={"train": train_set, "valid": train_set},
        optim={"lr": 3e-3, "warmup_steps": 10},
        train={"max_steps": 50, "hearing_check": 8, "stop_if_deaf": True},
    )
    code, errors = run_train(shrink, tmp_path / "shrink", capsys, f"init_from={tmp_path / 'align'}")
    assert code == 0 and not errors
    history = json.loads((tmp_path / "shrink" / "history.json").read_text())
    (valid,) = [r for r in history if "valid_hearing_asr_gap" in r]
    assert valid["valid_hearing_asr_gap"] > 0.15 and valid["valid_hearing_asr_deaf"] == 0.0
    assert valid["valid_hearing_asr_unchanged"] < 0.5
    assert valid["valid_hearing_asr_loss_silence"] > valid["valid_hearing_asr_loss_real"] + 0.15


def test_command_refuses_a_missing_dir(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        hearing_check.main(["--model-dir", str(tmp_path / "nope"), "--cuts", "x.jsonl.gz"])
    assert err.value.code == 1 and "model directory not found" in capsys.readouterr().err
    with pytest.raises(UserError, match="2 utterances or more"):
        from soundwave.decode.hearing import check_dir

        check_dir(str(tmp_path), "x.jsonl.gz", "asr", 1)
