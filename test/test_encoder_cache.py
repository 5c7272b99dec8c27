"""The encoder-output cache: same losses and hypotheses as running Whisper, refusals, atomicity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_util import losses, write_config

from soundwave.bin import cache_encoder, combine_cuts, decode, train
from soundwave.config import load_config
from soundwave.data import encoder_cache as store
from soundwave.data.batches import for_task
from soundwave.data.collate import SpeechTaskDataset
from soundwave.data.lhotse_io import load_cuts
from soundwave.errors import UserError
from soundwave.models import encoder_cache as cache_lib
from soundwave.models.encoder import WhisperAudioEncoder
from soundwave.offline.tiny import build_tiny_whisper
from soundwave.train.stages import TrainConfig

pytestmark = pytest.mark.slow

FAST = {"max_steps": 8, "log_interval": 1}
NO_VALID = {"valid": []}


def run_cache(root, cuts, out, *extra, source=("--encoder",), shard="1/1"):
    src = list(source) if len(source) == 2 else [source[0], str(root / "whisper")]
    cache_encoder.main([
        *src, "--cuts", str(cuts), "--storage", str(out.parent / f"{out.stem}.enc"),
        "--out-cuts", str(out), "--shard", shard, "--no-progress", *extra,
    ])  # fmt: skip
    return out


@pytest.fixture(scope="module")
def cache(tiny_pipeline, tmp_path_factory):
    """float32 caches of train (two shards, combined) and test, and a float16 one of train."""
    root, d = tiny_pipeline, tmp_path_factory.mktemp("cache")
    parts = [
        run_cache(root, root / "cuts_train.jsonl.gz", d / f"train.{j}.jsonl.gz", "--dtype",
                  "float32", shard=f"{j}/2")
        for j in (1, 2)
    ]  # fmt: skip
    combine_cuts.main([str(d / "train.jsonl.gz"), *map(str, parts)])
    run_cache(root, root / "cuts_test.jsonl.gz", d / "test.jsonl.gz", "--dtype", "float32")
    run_cache(root, root / "cuts_train.jsonl.gz", d / "train16.jsonl.gz")
    return d


def cached_data(cuts):
    return {"train": [{"cuts": str(cuts), "tasks": ["asr"]}], "valid": [], "encoder_cache": True}


def train_stage(tmp_path, root, name, stage, data, init=None, **train_over):
    config = write_config(
        tmp_path / f"{name}.yaml", root, stage, data=data, train={**FAST, **train_over}
    )
    out = tmp_path / name
    train.main(
        ["--config", str(config), "--exp-dir", str(out)] + ([f"init_from={init}"] if init else [])
    )
    return out


@pytest.fixture(scope="module")
def uncached(tiny_pipeline, tmp_path_factory):
    """Stage I and Stage II trained on the log-mel (Whisper run every step)."""
    root, d = tiny_pipeline, tmp_path_factory.mktemp("uncached")
    align = train_stage(d, root, "align", "align", NO_VALID)
    shrink = train_stage(d, root, "shrink", "shrink", NO_VALID, init=align, max_steps=6)
    return {"align": align, "shrink": shrink}


def test_cache_holds_the_encoder_output_of_every_utterance(tiny_pipeline, cache):
    raw = load_cuts(tiny_pipeline / "cuts_train.jsonl.gz").to_eager()
    cached = load_cuts(cache / "train.jsonl.gz").to_eager()
    assert [c.id for c in cached] == [c.id for c in raw]  # same manifest, same batches
    cut = cached[0]
    frames = store.load_frames(cut)
    assert frames.dtype == torch.float32 and frames.shape[1] == 48
    assert frames.shape[0] == (cut.num_frames + 1) // 2  # variable mode: 50 Hz of the speech
    assert cut.custom[store.ID_KEY].split("/")[1] == "variable"
    half = load_cuts(cache / "train16.jsonl.gz")[cut.id]
    assert half.custom[store.FRAMES_KEY].load().dtype == np.float16
    torch.testing.assert_close(store.load_frames(half), frames, rtol=1e-2, atol=1e-2)


def test_stage1_cached_equals_uncached(tiny_pipeline, cache, uncached, tmp_path):
    reference = losses(uncached["align"])
    exact = train_stage(
        tmp_path, tiny_pipeline, "a32", "align", cached_data(cache / "train.jsonl.gz")
    )
    assert len(reference) == 8 and reference[-1] != reference[0]
    np.testing.assert_allclose(losses(exact), reference, rtol=1e-5)
    half = train_stage(
        tmp_path, tiny_pipeline, "a16", "align", cached_data(cache / "train16.jsonl.gz")
    )
    np.testing.assert_allclose(losses(half), reference, rtol=1e-2)
    # the float32 comparison resolves the storage dtype: float16 frames do not pass it
    assert not np.allclose(losses(half), reference, rtol=1e-5, atol=0)


def test_stage2_cached_equals_uncached(tiny_pipeline, cache, uncached, tmp_path):
    data = cached_data(cache / "train.jsonl.gz")
    got = train_stage(
        tmp_path, tiny_pipeline, "s", "shrink", data, init=uncached["align"], max_steps=6
    )
    reference = losses(uncached["shrink"])
    assert len(reference) == 6
    np.testing.assert_allclose(losses(got), reference, rtol=1e-5)


def test_decoding_cached_gives_the_same_hypotheses(tiny_pipeline, cache, uncached, tmp_path):
    hyps = {}
    for name, cuts, extra in (
        ("plain", tiny_pipeline / "cuts_test.jsonl.gz", []),
        ("cached", cache / "test.jsonl.gz", ["data.encoder_cache=true"]),
    ):
        out = tmp_path / name
        decode.main(["--model-dir", str(uncached["shrink"]), "--cuts", str(cuts), "--out-dir", str(out),
                     "with_ctc=true", "generation.max_new_tokens=8", *extra])  # fmt: skip
        hyps[name] = [(out / f).read_text() for f in ("hyp.txt", "ctc_hyp.txt", "shrink_stats.txt")]
    assert len(hyps["plain"][0].splitlines()) == 8
    assert hyps["cached"] == hyps["plain"]


def test_a_cache_from_another_encoder_is_refused(tiny_pipeline, uncached, tmp_path, capsys):
    root = tiny_pipeline
    other = build_tiny_whisper(tmp_path / "other", n_mels=80, d_model=48, layers=2, seed=7)
    caches = {
        "weights": run_cache(root, root / "cuts_test.jsonl.gz", tmp_path / "w.jsonl.gz",
                             source=("--encoder", str(other))),
        "mode": run_cache(root, root / "cuts_test.jsonl.gz", tmp_path / "m.jsonl.gz",
                          "model.encoder_input=pad30"),
    }  # fmt: skip
    for why, cuts in caches.items():
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            decode.main(["--model-dir", str(uncached["shrink"]), "--cuts", str(cuts),
                         "--out-dir", str(tmp_path / f"d_{why}"), "data.encoder_cache=true"])  # fmt: skip
        assert exit_info.value.code == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "made by encoder" in err, (why, err)
        assert not (tmp_path / f"d_{why}" / "hyp.txt").exists()


def test_a_model_dir_cache_matches_its_model(tiny_pipeline, uncached, tmp_path):
    cfg = cache_lib.encoder_config(model_dir=str(uncached["shrink"]))
    bare = cache_lib.encoder_config(encoder=str(tiny_pipeline / "whisper"))
    pad30 = cache_lib.encoder_config(
        encoder=str(tiny_pipeline / "whisper"), overrides=["model.encoder_input=pad30"]
    )
    ids = [WhisperAudioEncoder.from_config(c).cache_id() for c in (cfg, bare, pad30)]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize(
    "asks", ["data.spec_augment=true", "data.freq_warp=0.1", "data.on_the_fly=true"]
)
def test_log_mel_augmentation_with_the_cache_is_refused(asks):
    with pytest.raises(UserError, match=r"encoder_cache.*needs the log-mel"):
        load_config(TrainConfig, None, ["data.encoder_cache=true", asks])
    load_config(TrainConfig, None, [asks])  # fine without the cache
    with pytest.raises(UserError, match=r"needs data\.encoder_cache"):
        load_config(TrainConfig, None, ["data.encoder_mask=true"])


def test_encoder_mask_is_seeded_and_training_only(cache):
    cuts = for_task(load_cuts(cache / "train.jsonl.gz").to_eager().subset(first=4), "asr")
    plain = SpeechTaskDataset(encoder_cache=True)[cuts]["encoded"]
    masked = [
        SpeechTaskDataset(encoder_cache=True, encoder_mask=True, seed=s)[cuts]["encoded"]
        for s in (0, 0, 1)
    ]
    evaluated = SpeechTaskDataset(encoder_cache=True, encoder_mask=True, training=False)[cuts][
        "encoded"
    ]
    torch.testing.assert_close(evaluated.frames, plain.frames)
    assert torch.equal(masked[0].frames, masked[1].frames)
    assert not torch.equal(masked[0].frames, masked[2].frames)
    zeroed = (masked[0].frames == 0) & (plain.frames != 0)
    assert zeroed.any() and torch.equal(masked[0].lens, plain.lens)


def test_bfloat16_storage_round_trips():
    x = torch.randn(7, 5)
    stored = store.to_storable(x, "bfloat16")
    assert stored.dtype == np.uint16
    assert torch.equal(store.from_stored(stored), x.to(torch.bfloat16).float())
    assert torch.equal(store.from_stored(store.to_storable(x, "float32")), x)


@pytest.mark.parametrize("storage_type", ["numpy", "hdf5"])
def test_a_killed_or_rerun_job_leaves_no_half_written_archive(
    tiny_pipeline, tmp_path, monkeypatch, storage_type
):
    pytest.importorskip("h5py") if storage_type == "hdf5" else None
    cuts = load_cuts(tiny_pipeline / "cuts_test.jsonl.gz").to_eager()
    cfg = cache_lib.encoder_config(encoder=str(tiny_pipeline / "whisper"))
    opts = cache_lib.CacheOptions(storage_type=storage_type, max_duration=1.0)
    base = tmp_path / "enc"
    first = cache_lib.cache_encoder_outputs(cuts, cfg, base, opts)
    final = next(tmp_path.glob("enc*"))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    real = cache_lib.encode_cuts

    def killed(*args, **kw):
        for i, item in enumerate(real(*args, **kw)):
            if i == 3:
                raise KeyboardInterrupt  # as a job killed mid-way
            yield item

    monkeypatch.setattr(cache_lib, "encode_cuts", killed)
    with pytest.raises(KeyboardInterrupt):
        cache_lib.cache_encoder_outputs(cuts, cfg, base, opts)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # the old archive, untouched
    assert store.load_frames(first[0]).shape[0] > 0
    # a SIGKILL leaves its temporary behind; the rerun removes it and writes the whole archive
    monkeypatch.setattr(cache_lib, "encode_cuts", real)
    stale = tmp_path / f".{final.name}.tmp99999999"
    stale.mkdir() if storage_type == "numpy" else stale.write_bytes(b"partial")
    again = cache_lib.cache_encoder_outputs(cuts, cfg, base, opts)
    assert not stale.exists() and [p.name for p in tmp_path.iterdir()] == [final.name]
    for a, b in zip(first, again, strict=True):
        assert torch.equal(store.load_frames(a), store.load_frames(b))


def test_time_to_first_token_runs_the_encoder_even_with_the_cache(tiny_pipeline, cache, uncached):
    """A response to new audio includes the encoder: the timed first tokens run it on the
    log-mel the cached manifest still carries, while the decoding itself reads the cache."""
    from soundwave.decode.decode import DecodeConfig, first_token_seconds
    from soundwave.models.stage_dir import load_stage

    model = load_stage(uncached["shrink"])
    calls = []
    model.encoder.register_forward_hook(lambda *_: calls.append(1))
    cfg = load_config(DecodeConfig, None, ["data.encoder_cache=true", "measure_ttft=3"])
    times = first_token_seconds(model, load_cuts(cache / "test.jsonl.gz"), "asr", cfg)
    assert len(times) == 3 and all(t > 0 for t in times)
    assert len(calls) == 4  # the untimed warm-up and the three timed utterances
