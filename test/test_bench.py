"""The benchmark suite (bench/): its checks, its full-size arithmetic and a --quick run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import bench_util  # noqa: E402
import decode_throughput  # noqa: E402
import full_size  # noqa: E402
from bridges import VARIANTS  # noqa: E402


def test_same_outputs_pass():
    decode_throughput.assert_same({"a": [1, 2], "b": []}, {"b": [], "a": [1, 2]})


@pytest.mark.parametrize(
    ("looped", "message"),
    [
        ({"a": [1, 2], "b": [3]}, "1/2 outputs differ; first b"),  # another token
        ({"a": [1, 2], "b": [3, 4, 5]}, "1/2 outputs differ"),  # longer
        ({"a": [1, 2]}, "decoded by one path only: ['b']"),  # an utterance missing
    ],
)
def test_different_outputs_fail(looped, message):
    with pytest.raises(decode_throughput.OutputsDiffer, match=message.replace("[", r"\[")):
        decode_throughput.assert_same({"a": [1, 2], "b": [3, 4]}, looped)


def test_peak_bytes_sees_a_temporary():
    def step():
        x = torch.ones(1024, 1024)  # 4 MiB, freed before returning
        return float(x.sum())

    assert 4 * 2**20 <= bench_util.peak_bytes(step) < 8 * 2**20


def test_full_size_flops_follow_positions():
    """On the meta device: the unshrunk bridge feeds 25 positions a second, the CTC
    bridges the measured positions per token, and fewer positions cost fewer FLOPs."""
    utt = full_size.Utterance(seconds=4.0, tokens=10, prompt=20)
    per_token = {"runs": 2.0, "peaks": 1.0, "soft": 1.0}
    result = full_size.measure(full_size.TINY, VARIANTS, per_token, 2, utt, "meta", 1)
    rows = result["bridges"]
    assert [rows[k]["positions"] for k in VARIANTS] == [20, 10, 10, 100, 40, 25]
    assert rows["none"]["flops_vs_none"] == 1.0
    assert rows["peaks"]["step_flops"] < rows["runs"]["step_flops"] < rows["none"]["step_flops"]
    assert "step_seconds" not in rows["none"]  # nothing timed on meta


def test_full_size_timing_path_runs_on_cpu():
    """The GPU path (timed step, peak memory, time to first token, decoding compared) on
    the CPU at tiny shapes, where no GPU is."""
    utt = full_size.Utterance(seconds=2.0, tokens=6, prompt=8)
    result = full_size.measure(
        full_size.TINY, {"soft": VARIANTS["soft"]}, {"soft": 1.0}, 2, utt, "cpu", 1
    )
    row = result["bridges"]["soft"]
    assert row["step_seconds"] > 0 and row["step_peak_bytes"] > 0 and row["ttft_seconds"] > 0
    speed = full_size.decode_speed(full_size.TINY, 4, 2, 12, 3, "cpu")
    assert speed["identical"] and speed["utts"] == 4


@pytest.mark.slow
def test_run_all_quick(tmp_path):
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--quick", "--work-dir", str(tmp_path),
           "--out-dir", str(out), "--recipe-dir", str(tmp_path / "no-recipe")]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fields = {
        "bridges": ["model", "batch", "variants"],
        "decode_throughput": ["speedup", "identical", "loop_seconds", "batched_seconds"],
        "front_end": ["files", "audio_seconds", "extractors"],
        "encoder_cache": ["epoch_seconds_cached", "epoch_seconds_uncached", "ratio"],
        "full_size": ["skipped", "bridges", "utterance"],
    }
    for name, keys in fields.items():
        result = json.loads((out / f"{name}.json").read_text())
        assert set(keys) <= set(result), name
        assert {"cpu", "cores", "torch_threads", "torch", "other_load"} <= set(result["machine"])
        assert (out / f"{name}.md").read_text().strip() == "\n".join(result["table"]).strip()
    bridges = json.loads((out / "bridges.json").read_text())["variants"]
    assert list(bridges) == list(VARIANTS)
    for row in bridges.values():
        for key in ("positions_per_second", "positions_per_token", "step_seconds",
                    "step_peak_bytes", "ttft_seconds"):  # fmt: skip
            assert row[key] > 0, key
    # unshrunk: 25 Hz; linear: 50/k Hz (up to each utterance's rounding up)
    assert 25 <= bridges["none"]["positions_per_second"] < 26
    assert 10 <= bridges["linear5"]["positions_per_second"] < 11
    decode = json.loads((out / "decode_throughput.json").read_text())
    assert decode["identical"] and decode["difference"] is None
    assert "no GPU" in json.loads((out / "full_size.json").read_text())["skipped"]
    summary = (out / "BENCHMARKS.md").read_text()
    assert "decode_speedup >= 8" in summary and "#### 5. Full-size" in summary


def test_run_all_reads_the_recipe_from_its_own_dir(tmp_path, monkeypatch):
    """A recipe's manifests store paths relative to the recipe dir (its stages run there):
    run_all, started anywhere, must read them from there."""
    import run_all
    from lhotse import CutSet, Features, MonoCut

    from soundwave.data.lhotse_io import load_cuts

    recipe = tmp_path / "recipe"
    (recipe / "exp/mini/align").mkdir(parents=True)
    (recipe / "exp/mini/align/soundwave_config.json").write_text("{}")
    (recipe / "data/fbank/test").mkdir(parents=True)
    (recipe / "data/enc").mkdir()
    feats = Features(
        type="whisper-logmel", num_frames=10, num_features=80, frame_shift=0.01,
        sampling_rate=16000, start=0.0, duration=0.1, storage_type="lilcom_files",
        storage_path="data/fbank/test", storage_key="u1.llc",
    )  # fmt: skip
    CutSet.from_cuts([MonoCut("u1", 0.0, 0.1, 0, features=feats)]).to_file(
        recipe / "data/enc/cuts_test.jsonl.gz"
    )
    monkeypatch.chdir(tmp_path)  # restored after the test, whatever run_all did
    args = run_all.parse_args(["--recipe-dir", "recipe", "--work-dir", "work", "--out-dir", "out"])
    data = run_all.model_and_data(args)
    assert "the default recipe's Stage I" in data["source"]
    assert [c.id for c in load_cuts(data["test_enc"])] == ["u1"]
    assert args.out_dir == str(tmp_path / "out")  # where the caller meant, not in the recipe
