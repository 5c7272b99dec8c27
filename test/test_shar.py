"""lhotse Shar: export of features and encoder outputs, streaming training, damaged shards."""

from __future__ import annotations

import itertools
import shutil
import sys
import tarfile

import numpy as np
import pytest
import torch
from jobs_util import sh
from lhotse import CutSet
from pipeline_util import losses, write_config
from test_jobs_recipe import recording_recipe
from test_pipeline_resume import run, train_cmd, weights

from soundwave.bin import cache_encoder, export_shar, train
from soundwave.data.batches import (
    DataConfig,
    DataSource,
    MixedCuts,
    for_task,
    make_sampler,
    train_cuts,
)
from soundwave.data.collate import POSITION_KEY, SpeechTaskDataset
from soundwave.data.encoder_cache import load_frames
from soundwave.data.lhotse_io import load_cuts
from soundwave.data.shar import SharCuts, scan_shar
from soundwave.errors import UserError
from soundwave.features.fbank import TAIL_KEY, whisper_fbank

pytestmark = pytest.mark.slow

# a cut read from Shar holds its data: lhotse's default buffers would read 30000 of them
BUFFER = {"buffer_size": 200}
STEPS = {"max_steps": 4, "log_interval": 1, "save_interval": 2}


def export(cuts, out, *extra):
    export_shar.main(["--cuts", str(cuts), "--out", str(out), "--no-progress", *extra])
    return out


@pytest.fixture(scope="module")
def shar(tiny_pipeline, tmp_path_factory):
    """The tiny train set as Shar: in one shard, and in three (16 cuts each)."""
    d = tmp_path_factory.mktemp("shar")
    cuts = tiny_pipeline / "cuts_train.jsonl.gz"
    return {
        "one": export(cuts, d / "one"),
        "three": export(cuts, d / "three", "--shard-size", "16"),
    }


def test_features_and_every_cut_field_round_trip(tiny_pipeline, shar):
    original = load_cuts(tiny_pipeline / "cuts_train.jsonl.gz")
    assert scan_shar(shar["three"]).counts == [16, 16, 8]
    back = load_cuts(shar["three"])
    assert [c.id for c in back] == [c.id for c in original]  # no shuffling when eager
    for a, b in zip(original, back, strict=True):
        assert np.array_equal(a.load_features(), b.load_features())  # lilcom-fine: no loss
        assert np.array_equal(a.load_custom(TAIL_KEY), b.load_custom(TAIL_KEY))
        assert a.supervisions == b.supervisions  # text, translations, labels, speaker, ...
        assert b.features.storage_type == "memory_lilcom"


def test_encoder_outputs_round_trip(tiny_pipeline, tmp_path):
    enc = tmp_path / "enc.jsonl.gz"
    cache_encoder.main([
        "--encoder", str(tiny_pipeline / "whisper"), "--cuts", str(tiny_pipeline / "cuts_dev.jsonl.gz"),
        "--storage", str(tmp_path / "enc"), "--out-cuts", str(enc), "--dtype", "bfloat16",
        "--no-progress",
    ])  # fmt: skip
    out = export(enc, tmp_path / "shar", "--fields", "encoder")
    assert scan_shar(out).fields == ["sw_encoder_out"]
    for a, b in zip(load_cuts(enc), load_cuts(out), strict=True):
        assert load_frames(a).equal(load_frames(b))
        assert a.custom["sw_encoder_id"] == b.custom["sw_encoder_id"]


def test_audio_round_trips_for_features_on_the_fly(tiny_pipeline, tmp_path):
    cuts = tiny_pipeline / "cuts_dev.jsonl.gz"
    out = export(cuts, tmp_path / "shar", "--fields", "audio")
    extractor = whisper_fbank(80)
    original, back = list(load_cuts(cuts)), list(load_cuts(out))
    assert back[0].recording.sources[0].type == "memory"  # FLAC from the shard, not the file
    for a, b in zip(original, back, strict=True):
        assert np.array_equal(a.load_audio(), b.load_audio())
    for x, y in zip(extractor(original), extractor(back), strict=True):
        assert torch.equal(x, y)


def test_each_pass_reads_every_cut_in_a_seeded_shard_order(tiny_pipeline, shar):
    ids = sorted(c.id for c in load_cuts(tiny_pipeline / "cuts_train.jsonl.gz"))
    layout = scan_shar(shar["three"])
    a, b = SharCuts(layout, seed=3), SharCuts(layout, seed=3)
    passes = [[c.id for c in a] for _ in range(4)]
    assert all(sorted(p) == ids for p in passes)
    assert len({tuple(p) for p in passes}) > 1  # reshuffled from pass to pass
    assert passes == [[c.id for c in b] for _ in range(4)]  # the same seed: the same passes


def test_training_on_shar_equals_training_on_the_manifest(tiny_pipeline, shar, tmp_path):
    def run(name, cuts):
        data = {"train": [{"cuts": str(cuts), "tasks": ["asr"]}], "valid": [], **BUFFER}
        config = write_config(
            tmp_path / f"{name}.yaml", tiny_pipeline, "align", data=data, train=STEPS
        )
        train.main(["--config", str(config), "--exp-dir", str(tmp_path / name)])
        return losses(tmp_path / name)

    # one shard: the Shar stream is the manifest's order, so every batch is the same
    assert run("shar", shar["one"]) == run("jsonl", tiny_pipeline / "cuts_train.jsonl.gz")


def test_resume_from_shar_is_exact(tiny_pipeline, shar, tmp_path):
    data = {"train": [{"cuts": str(shar["three"]), "tasks": ["asr"]}], "valid": [], **BUFFER}
    config = write_config(
        tmp_path / "c.yaml", tiny_pipeline, "align", data=data, train=STEPS,
        optim={"lr": 3.0e-3, "warmup_steps": 5, "scheduler": "constant"},
    )  # fmt: skip
    train.main(["--config", str(config), "--exp-dir", str(tmp_path / "full")])
    train.main(["--config", str(config), "--exp-dir", str(tmp_path / "cut"), "train.max_steps=2"])
    train.main(["--config", str(config), "--exp-dir", str(tmp_path / "cut")])
    # its 3 shards hold about 3 batches: the resumed run crosses a pass (a new shard order)
    assert losses(tmp_path / "cut")[-2:] == losses(tmp_path / "full")[-2:]


def test_mixture_size_comes_from_the_cuts_shards(shar):
    mixed = MixedCuts([DataSource(cuts=str(shar["three"]))], 1.0, seed=0)
    assert mixed.sizes == {str(shar["three"]): 40}
    assert mixed.cuts[str(shar["three"])].reader.epoch == 0  # counted, not read


def corrupt(path, at, data=b"\xff" * 600):
    raw = bytearray(path.read_bytes())
    raw[at : at + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["truncated", "garbled", "missing"])
def test_a_damaged_shard_is_one_line_naming_it(tiny_pipeline, shar, tmp_path, damage, capsys):
    d = shutil.copytree(shar["three"], tmp_path / "shar")
    bad = d / "features.000001.tar"
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:-7000])
    elif damage == "garbled":
        corrupt(bad, 0)  # the first member's tar header
    else:
        bad.unlink()
    data = {"train": [{"cuts": str(d), "tasks": ["asr"]}], "valid": []}
    config = write_config(tmp_path / "c.yaml", tiny_pipeline, "align", data=data)
    with pytest.raises(SystemExit) as exit_:
        train.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp")])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    named = str(d) if damage == "missing" else str(bad)
    assert err[0].startswith("soundwave: error: ") and f"error: {named}: " in err[0], err[0]


def test_a_killed_export_leaves_no_shar_dir(tiny_pipeline, tmp_path, monkeypatch):
    from lhotse.shar import SharWriter

    calls = {"n": 0}
    write = SharWriter.write

    def dying_write(self, cut):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt  # the export killed mid-way
        write(self, cut)

    monkeypatch.setattr(SharWriter, "write", dying_write)
    with pytest.raises(SystemExit):
        export(tiny_pipeline / "cuts_train.jsonl.gz", tmp_path / "out", "--shard-size", "8")
    assert list(tmp_path.iterdir()) == []


def test_damaged_data_in_a_shard_names_the_utterance_and_the_shard(shar, tmp_path):
    d = shutil.copytree(shar["three"], tmp_path / "shar")
    bad = d / "features.000001.tar"
    with tarfile.open(bad) as tar:  # a bit flip in one utterance's log-mel: tar cannot tell
        corrupt(bad, tar.getmembers()[2].offset_data + 40, b"\xff" * 40)
    dataset = SpeechTaskDataset(training=False)
    with pytest.raises(UserError) as err:
        for cut in load_cuts(d, lazy=True):
            dataset[for_task(CutSet([cut]), "asr")]
    assert err.value.path == str(bad)
    assert err.value.message.startswith("utterance 'tr")
    assert "cannot read its stored features" in err.value.message


def test_each_rank_gets_its_own_batches_of_the_shar_stream(shar):
    cfg = DataConfig(train=[DataSource(cuts=str(shar["three"]))], max_duration=10, buffer_size=50)
    stream = {c.custom[POSITION_KEY]: c.id for c in itertools.islice(train_cuts(cfg, 1), 400)}
    seen = []
    for rank in (0, 1):
        sampler = make_sampler(train_cuts(cfg, seed=1), cfg, 1, True, world_size=2, rank=rank)
        cuts = [c for batch in itertools.islice(sampler, 6) for c in batch]
        # every rank reads the one seeded stream (the same shard orders) ...
        assert all(stream[c.custom[POSITION_KEY]] == c.id for c in cuts)
        seen.append({c.custom[POSITION_KEY] for c in cuts})
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # ... and takes its own part of it


def test_stage_script_exports_the_train_set_with_shar_true(tmp_path):
    recipe = recording_recipe(tmp_path)
    for args in ([], ["--shar", "true"], ["--shar", "true", "--encoder-cache", "true"]):
        res = sh(["./soundwave.sh", "--stage", "2.8", "--stop-stage", "2.8", *args], recipe)
        assert res.returncode == 0, res.stdout + res.stderr
    calls = (recipe / "calls.txt").read_text().splitlines()
    assert [c.split(" --out ")[0].split("--cuts ")[1] for c in calls] == [
        "data/fbank/cuts_train.jsonl.gz",
        "data/enc/cuts_train.jsonl.gz",
    ]
    assert all(
        c.startswith("data/shar/log/export_train.log python -m soundwave.bin.export_shar")
        for c in calls
    )


@pytest.mark.parametrize(
    "args, says",
    [
        (["--fields", "encoder"], "utterance 'tr001-00000' (cut 1) has no encoder cache"),
        (["--shard-size", "0"], "--shard-size must be at least 1, not 0"),
    ],
)
def test_export_refuses_in_one_line(tiny_pipeline, tmp_path, capsys, args, says):
    with pytest.raises(SystemExit) as exit_:
        export_shar.main(["--cuts", str(tiny_pipeline / "cuts_train.jsonl.gz"), "--out",
                          str(tmp_path / "out"), *args])  # fmt: skip
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "out").exists()


def test_torchrun_two_ranks_on_shar_equal_one_process(tiny_pipeline, shar, tmp_path):
    """Two DDP ranks (torchrun, gloo) each take their own batches of the shuffled Shar
    stream: the same weights as one process accumulating both batches of each step."""
    data = {"train": [{"cuts": str(shar["three"]), "tasks": ["asr"]}], "valid": []}
    data.update(sampler="simple", max_duration=12, buffer_size=100)
    config = write_config(tmp_path / "c.yaml", tiny_pipeline, "align", data=data, train=STEPS)
    no_dropout = "model.adapter_dropout=0.0"  # dropout masks differ between 1 and 2 processes
    run(train_cmd(config, tmp_path / "one", no_dropout, "optim.accum_grad=2"))
    torchrun = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m")  # fmt: skip
    run(train_cmd(config, tmp_path / "two", no_dropout, "optim.accum_grad=1", launcher=torchrun))
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=2e-5, rtol=1e-4), name
