"""The mini_synth zero-shot configs are the main ones minus the translation data.

They are copies (a YAML config has no "include"), so a change to conf/shrink.yaml or
conf/sft.yaml that is not made to conf/zeroshot/ too would compare two different
trainings, not "with" vs "without translation data" (it happened: Stage II's lr).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CONF = Path(__file__).resolve().parents[1] / "egs" / "mini_synth" / "s2t1" / "conf"


@pytest.mark.parametrize("name", ["shrink.yaml", "sft.yaml"])
def test_zeroshot_config_differs_only_in_translation_data(name):
    main = yaml.safe_load((CONF / name).read_text())
    zeroshot = yaml.safe_load((CONF / "zeroshot" / name).read_text())
    main_train = main["data"].pop("train")
    zero_train = zeroshot["data"].pop("train")
    assert zeroshot == main
    assert len(zero_train) == len(main_train)
    for ours, theirs in zip(zero_train, main_train):
        assert ours["tasks"] == [t for t in theirs["tasks"] if not t.startswith("st_")]
        assert {k: v for k, v in ours.items() if k != "tasks"} == {
            k: v for k, v in theirs.items() if k != "tasks"
        }
