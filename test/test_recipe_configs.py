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
