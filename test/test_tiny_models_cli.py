"""make_tiny_models: the stand-in pair a real recipe's test runs on builds a Soundwave model."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer, WhisperConfig

from soundwave.bin import make_tiny_models
from soundwave.models.config import SoundwaveConfig
from soundwave.models.soundwave import SoundwaveModel


def test_the_pair_builds_a_model_and_the_tokenizer_knows_the_corpus(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 MISTER QUILTER IS THE APOSTLE\nu2 OF THE MIDDLE CLASSES\n")
    make_tiny_models.main(["--out", str(tmp_path / "m"), "--n-mels", "128", "--text", str(text)])
    assert WhisperConfig.from_pretrained(tmp_path / "m/whisper").num_mel_bins == 128
    tok = AutoTokenizer.from_pretrained(tmp_path / "m/llm")
    assert tok.decode(tok("MISTER QUILTER", add_special_tokens=False).input_ids) == "MISTER QUILTER"
    assert len(tok("APOSTLE", add_special_tokens=False).input_ids) < len("APOSTLE")
    cfg = SoundwaveConfig(
        encoder_path=str(tmp_path / "m/whisper"), llm_path=str(tmp_path / "m/llm")
    )
    model = SoundwaveModel(cfg)
    assert model.llm.get_input_embeddings().num_embeddings >= len(tok)
    assert not list(tmp_path.glob(".m.*"))  # no temporary left beside the pair


def test_a_missing_text_file_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_tiny_models.main(["--out", str(tmp_path / "m"), "--text", str(tmp_path / "nope")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "\n" not in err
    assert not (tmp_path / "m").exists()
