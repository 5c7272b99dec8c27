"""The mini_synth zero-shot configs are the main ones minus the translation data.

They start from the main ones (``base: ../shrink.yaml``) and replace the training data
only; when they were copies, a change to conf/shrink.yaml not made to conf/zeroshot/ too
compared two different trainings, not "with" vs "without translation data" (it
happened: Stage II's lr).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from soundwave.config import read_yaml

CONF = Path(__file__).resolve().parents[1] / "egs" / "mini_synth" / "s2t1" / "conf"


@pytest.mark.parametrize("name", ["shrink.yaml", "sft.yaml"])
def test_zeroshot_config_differs_only_in_translation_data(name):
    main = yaml.safe_load((CONF / name).read_text())
    zeroshot = read_yaml(CONF / "zeroshot" / name)
    assert set(yaml.safe_load((CONF / "zeroshot" / name).read_text())) == {"base", "data"}
    main_train = main["data"].pop("train")
    zero_train = zeroshot["data"].pop("train")
    assert zeroshot == main
    assert len(zero_train) == len(main_train)
    for ours, theirs in zip(zero_train, main_train):
        assert ours["tasks"] == [t for t in theirs["tasks"] if not t.startswith("st_")]
        assert {k: v for k, v in ours.items() if k != "tasks"} == {
            k: v for k, v in theirs.items() if k != "tasks"
        }


@pytest.mark.parametrize("path", sorted((CONF / "smoke").glob("*.yaml")), ids=lambda p: p.name)
def test_smoke_configs_state_only_what_the_smoke_changes(path):
    """``run.sh --smoke true`` selects conf/smoke/; each file is its main namesake with a
    few values changed (the smoke has no configs of its own to drift apart)."""
    own = yaml.safe_load(path.read_text())
    assert own["base"] == f"../{path.name}"
    main = read_yaml(CONF / path.name)
    smoke = read_yaml(path)
    assert set(smoke) == set(main)

    def leaves(d, prefix=""):
        for k, v in d.items():
            yield from leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [(prefix + k, v)]

    changed = {k for k, v in leaves(smoke) if dict(leaves(main)).get(k) != v}
    assert changed == {k for k, _ in leaves({k: v for k, v in own.items() if k != "base"})}


def test_corpus_configs_load():
    from soundwave.config import load_config
    from soundwave.offline.synth.corpus import CorpusConfig

    full = load_config(CorpusConfig, CONF / "corpus.yaml")
    smoke = load_config(CorpusConfig, CONF / "smoke" / "corpus.yaml")
    assert smoke.num_train < full.num_train and smoke.num_test < full.num_test
    assert smoke.generated_timbres == full.generated_timbres  # the same kind of corpus


@pytest.mark.parametrize("path", sorted((CONF / "ablation").glob("*.yaml")), ids=lambda p: p.name)
def test_ablation_variants_change_only_the_model(path):
    """conf/ablation/<variant>.yaml: conf/shrink.yaml with another bridge (decode.yaml:
    conf/decode.yaml without the CTC transcript)."""
    own = yaml.safe_load(path.read_text())
    if path.name == "decode.yaml":
        assert own["base"] == "../decode.yaml"
        return
    assert own["base"] == "../shrink.yaml" and set(own) <= {"base", "model"}


def test_linear5_shares_the_main_model_settings():
    """linear5 has no Stage I to inherit from: it states the main run's encoder, LLM, LoRA,
    loss and prompt itself, and they must be conf/align.yaml's."""
    align = read_yaml(CONF / "align.yaml")["model"]
    linear5 = read_yaml(CONF / "ablation" / "linear5.yaml")["model"]
    shared = {k: v for k, v in linear5.items() if k not in ("bridge", "stack", "utterance_vector")}
    assert set(shared) == {
        "encoder_path", "llm_path", "lora_rank", "lora_alpha", "lm_loss_average", "system_prompt"
    }  # fmt: skip
    assert shared == {k: align[k] for k in shared}
    assert (linear5["bridge"], linear5["stack"]) == ("linear", 5)
