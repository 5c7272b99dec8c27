"""The catalogue of bad inputs and faults of the data stages (issue 19): Kaldi data dirs,
audio, lhotse manifests, stored features, a full disk, and merging decoded shards.

Each case runs an entry point (``python -m soundwave.bin.<tool>``) as a user would and
asserts the contract: a non-zero exit, stderr that is one line ``<tool>: error: <file,
line or utterance>: <problem>`` (no traceback), and no half-written output (no temporary
files, nothing new but what the case made itself, no existing file changed).  README's
*Bad input and faults* table lists the same cases.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from datadir_util import make_datadir, make_segmented_datadir, tone

from soundwave.bin import compute_fbank, decode, make_manifests
from soundwave.data.lhotse_io import load_cuts

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


@dataclass
class Ctx:
    """What a case's ``prepare`` may change: its data dir and its own temporary dir."""

    data: Path
    tmp: Path
    shards: Path | None = None  # decoded shards (the slow merge cases)

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.data / name
        text = path.read_text()
        assert old in text, (old, text)
        path.write_text(text.replace(old, new, 1))

    def wav(self, utt: str = "spkA-002") -> Path:
        return Path(self.data.parent / "data_audio" / f"{utt}.wav")

    def manifest(self, name: str = "cuts.jsonl.gz") -> Path:
        """The data dir's manifest, as make_manifests writes it."""
        out = self.tmp / name
        make_manifests.main(["--data-dir", str(self.data), "--out", str(out)])
        return out

    def features(self, storage: str = "fbank/feats", out: str = "feats.jsonl.gz") -> Path:
        """The data dir's manifest with stored features (paths as given, from tmp)."""
        cuts = self.manifest()
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            compute_fbank.main(["--cuts", str(cuts), "--storage", storage, "--out-cuts", out,
                                "--no-progress"])  # fmt: skip
        finally:
            os.chdir(cwd)
        return self.tmp / out


@dataclass
class Case:
    id: str
    tool: str  # soundwave.bin.<tool>
    args: list[str]  # {data}, {tmp}: the case's paths
    message: str  # the problem, as the error line says it
    where: str  # the file, line or utterance the line names
    prepare: Callable[[Ctx], None] | None = None
    segmented: bool = False  # the data dir has segments
    patch: str = ""  # Python run before main() (a simulated fault)
    cwd: str = "{tmp}"
    slow: bool = False
    made: set[str] = field(default_factory=set)  # outputs a failing run may leave (none)


MANIFEST = ["--data-dir", "{data}", "--out", "{tmp}/out/cuts.jsonl.gz"]
FBANK = ["--cuts", "{tmp}/cuts.jsonl.gz", "--storage", "{tmp}/out/feats", "--out-cuts",
         "{tmp}/out/feats.jsonl.gz", "--no-progress"]  # fmt: skip
MERGE = ["--merge", "3", "--out-dir", "{tmp}/dec"]


def _write_float_wav(ctx: Ctx, bad: float) -> Path:
    x = tone(0.3)
    x[100:103] = bad
    sf.write(ctx.wav(), x, 16000, subtype="FLOAT")
    return ctx.wav()


def _segment_past_end(ctx: Ctx) -> None:
    # reco2dur would catch it; without it only the audio's own length can
    (ctx.data / "reco2dur").unlink()
    ctx.edit("segments", "rec2 0.6 0.95", "rec2 0.6 1.5")


def _spk2utt_disagrees(ctx: Ctx) -> None:
    ctx.edit("spk2utt", "spkA spkA-001 spkA-002 spkA-003", "spkA spkA-001 spkA-002")


def _truncated_wav(ctx: Ctx) -> None:
    path = ctx.wav()
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 4])


def _nan_in_file(ctx: Ctx) -> None:
    _write_float_wav(ctx, np.nan)


def _inf_through_pipe(ctx: Ctx) -> None:
    # a pipe's output is taken as 16-bit PCM (not converted): the samples reach the features
    path = _write_float_wav(ctx, np.inf)
    ctx.edit("wav.scp", str(path), f"cat {path} |")
    ctx.manifest()


def _audio_deleted(ctx: Ctx) -> None:
    ctx.manifest()
    ctx.wav().unlink()


def _garbage_manifest(ctx: Ctx) -> None:
    cuts = ctx.manifest()
    with gzip.open(cuts, "rt") as f:
        lines = f.read().splitlines()
    with gzip.open(cuts, "wt") as f:
        f.write("\n".join([*lines[:2], '{"id": "spkA-003", "start": 0.0,', *lines[3:]]) + "\n")


def _truncated_gzip(ctx: Ctx) -> None:
    cuts = ctx.manifest()
    cuts.write_bytes(cuts.read_bytes()[:-40])


def _recordings_manifest(ctx: Ctx) -> None:
    from soundwave.data.lhotse_io import datadir_to_manifests, write_manifest

    recs, _ = datadir_to_manifests(ctx.data)
    write_manifest(recs, ctx.tmp / "cuts.jsonl.gz")


def _relative_features(ctx: Ctx) -> None:
    ctx.features()
    (ctx.tmp / "elsewhere").mkdir()


def _zero_length_wav(ctx: Ctx) -> None:
    sf.write(ctx.wav(), np.zeros(0, np.float32), 16000, subtype="PCM_16")


def _not_audio(ctx: Ctx) -> None:
    ctx.wav().write_text("this is not a WAV file\n")


def _corrupt_mp3(ctx: Ctx) -> None:
    path = ctx.wav().with_suffix(".mp3")
    path.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + os.urandom(3000))
    ctx.edit("wav.scp", str(ctx.wav()), str(path))


def _missing_wav(ctx: Ctx) -> None:
    ctx.wav().unlink()


def _failing_pipe(ctx: Ctx) -> None:
    ctx.edit("wav.scp", str(ctx.wav()), f"sox {ctx.data}/nope.flac -t wav - |")


def _ark_offset(ctx: Ctx) -> None:
    ark = ctx.tmp / "wav.ark"
    ark.write_bytes(b"spkA-002 " + b"\0" * 100)
    ctx.edit("wav.scp", str(ctx.wav()), f"{ark}:99999")


def _empty_wav_scp(ctx: Ctx) -> None:
    (ctx.data / "wav.scp").write_text("")


def _duplicate_utt(ctx: Ctx) -> None:
    ctx.edit("utt2spk", "spkA-002 spkA\n", "spkA-002 spkA\nspkA-002 spkA\n")


def _text_id_unknown(ctx: Ctx) -> None:
    ctx.edit("text", "spkC-001 ", "spkC-001 hello\nspkC-002 ")


def _unsorted(ctx: Ctx) -> None:
    path = ctx.data / "text"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([lines[1], lines[0], *lines[2:]]))


def _text_not_utf8(ctx: Ctx) -> None:
    path = ctx.data / "text"
    path.write_bytes(path.read_bytes().replace(b"hello number 2", b"hello caf\xe9 2"))


# A full disk while the feature archive is written: lilcom's writer gets ENOSPC.
DISK_FULL_FEATURES = textwrap.dedent("""
    import errno
    from lhotse.features.io import LilcomChunkyWriter
    def _full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    LilcomChunkyWriter.write = _full
""")


def _shards(*picks: tuple[str, int]) -> Callable[[Ctx], None]:
    """Copy decoded shards into {tmp}/dec/shards: (which decoding, its shard number)."""

    def prepare(ctx: Ctx) -> None:
        for j, (name, shard) in enumerate(picks, 1):
            shutil.copytree(
                ctx.shards / name / "shards" / str(shard), ctx.tmp / "dec/shards" / str(j)
            )

    return prepare


W = "{data}/wav.scp"
CASES = [
    # --- issue 19: silently accepted or wrong before
    Case("segments_past_recording_end", "make_manifests", MANIFEST, "segment 'spkY-rec2-001' ends at 1.5 s, past the end of recording 'rec2' (1.000 s of audio)", "{data}/segments:4", _segment_past_end, segmented=True),
    Case("validate_segments_past_recording_end", "validate_data_dir", ["{data}"], "ends at 1.5 s, past the end of recording 'rec2' (1.000 s of audio in", "{data}/segments:4", _segment_past_end, segmented=True),
    Case("spk2utt_disagrees_with_utt2spk", "make_manifests", MANIFEST, "the utterances of speaker 'spkA' do not match utt2spk", "{data}/spk2utt:1", _spk2utt_disagrees),
    Case("truncated_wav", "make_manifests", MANIFEST, "truncated WAV: the header declares 0.250 s (4000 samples) and the file holds 0.062 s", "{audio}/spkA-002.wav", _truncated_wav),
    Case("nan_samples_in_float_wav", "make_manifests", MANIFEST, "3 of 4800 samples are NaN or infinite", "{audio}/spkA-002.wav", _nan_in_file),
    Case("audio_deleted_after_manifest", "compute_fbank", FBANK, "utterance 'spkA-002': audio file not found", "{audio}/spkA-002.wav", _audio_deleted),
    Case("min_duration_above_max", "make_manifests", [*MANIFEST, "--min-duration", "5", "--max-duration", "1"], "--min-duration 5 and --max-duration 1: need 0 <= min <= max", "make_manifests: error: "),
    Case("every_utterance_filtered_out", "make_manifests", [*MANIFEST, "--min-duration", "5"], "no utterance left: all 6 were dropped by the duration filter (6 shorter than 5 s", "{data}"),
    Case("channel_left_on_mono", "make_manifests", [*MANIFEST, "--channel", "left"], "--channel left: recording 'spkA-001' (utterance 'spkA-001') is mono", "{audio}/spkA-001.wav"),
    # --- issue 19: tracebacks before
    Case("inf_samples_in_compute_fbank", "compute_fbank", FBANK, "utterance 'spkA-002': 3 of 4800 samples are NaN or infinite", "cat {audio}/spkA-002.wav", _inf_through_pipe),
    Case("garbage_manifest_line", "compute_fbank", FBANK, "not a JSON line", "{tmp}/cuts.jsonl.gz:3", _garbage_manifest),
    Case("feature_paths_relative_to_another_dir", "combine_cuts", ["{tmp}/out/all.jsonl.gz", "{tmp}/feats.jsonl.gz"], "stored features 'fbank/feats.lca' not found: a relative path, resolved from the working directory {tmp}/elsewhere", "{tmp}/feats.jsonl.gz:1: utterance 'spkA-001'", _relative_features, cwd="{tmp}/elsewhere"),
    # --- data loss before
    Case("merge_shards_of_two_models", "decode", MERGE, "decoded with another model", "{tmp}/dec/shards/2/decode.json", _shards(("a", 1), ("b", 2), ("a", 3)), slow=True),
    Case("merge_shards_of_two_manifests", "decode", MERGE, "decoded with another manifest", "{tmp}/dec/shards/3/decode.json", _shards(("a", 1), ("a", 2), ("c", 3)), slow=True),
    Case("merge_too_few_shards", "decode", ["--merge", "2", "--out-dir", "{tmp}/dec"], "is shard 1/3, not 1/2: the decoding has 3 shards (merge with --merge 3)", "{tmp}/dec/shards/1/decode.json", _shards(("a", 1), ("a", 2), ("a", 3)), slow=True),
    # --- more of this area
    Case("wav_scp_missing_file", "make_manifests", MANIFEST, "audio file not found", "{audio}/spkA-002.wav", _missing_wav),
    Case("validate_wav_scp_missing_file", "validate_data_dir", ["{data}"], "file '{audio}/spkA-002.wav' of 'spkA-002' does not exist", "{data}/wav.scp:2", _missing_wav),
    Case("empty_wav_scp", "make_manifests", MANIFEST, "id 'spkA-001' is missing from wav.scp", "{data}/utt2spk:1", _empty_wav_scp),
    Case("duplicate_utterance_id", "make_manifests", MANIFEST, "duplicate id 'spkA-002'", "{data}/utt2spk:3", _duplicate_utt),
    Case("text_id_not_in_utt2spk", "make_manifests", MANIFEST, "id 'spkC-002' is not in utt2spk", "{data}/text:7", _text_id_unknown),
    Case("unsorted_text", "make_manifests", MANIFEST, "not sorted: 'spkA-001' comes after 'spkA-002'", "{data}/text:2", _unsorted),
    Case("not_audio_named_wav", "make_manifests", MANIFEST, "cannot read audio", "{audio}/spkA-002.wav", _not_audio),
    Case("zero_length_wav", "make_manifests", MANIFEST, "recording 'spkA-002' has no audio (0 samples)", W + ":2", _zero_length_wav),
    Case("corrupt_mp3", "make_manifests", MANIFEST, "cannot read audio", "{audio}/spkA-002.mp3", _corrupt_mp3),
    Case("pipe_command_fails", "make_manifests", MANIFEST, "recording 'spkA-002': command failed with exit status", W + ":2", _failing_pipe),
    Case("ark_offset_out_of_range", "make_manifests", MANIFEST, "cannot read the ark entry at offset 99999", "{tmp}/wav.ark", _ark_offset),
    Case("manifest_truncated_gzip", "compute_fbank", FBANK, "damaged manifest", "{tmp}/cuts.jsonl.gz:", _truncated_gzip),
    Case("recordings_manifest_for_cuts", "compute_fbank", FBANK, "expected a cuts manifest, and this line is a recording (a RecordingSet manifest?)", "{tmp}/cuts.jsonl.gz:1", _recordings_manifest),
    Case("text_not_utf8", "make_manifests", MANIFEST, "not valid UTF-8: bad byte at column 19", "{data}/text:3", _text_not_utf8),
    Case("disk_full_writing_features", "compute_fbank", FBANK, "cannot write the features: No space left on device", "{tmp}/out/feats", lambda ctx: ctx.manifest(), patch=DISK_FULL_FEATURES),
]  # fmt: skip


def _run(tool: str, args: list[str], cwd: Path, patch: str = "") -> subprocess.CompletedProcess:
    code = f"{patch}\nimport sys\nsys.argv = [{tool!r}, *{args!r}]\n"
    code += f"from soundwave.bin.{tool} import main\nsys.exit(main())\n"
    return subprocess.run(
        [sys.executable, "-c", code], env=ENV, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def decoded(tmp_path_factory) -> Path:
    """Shards of real decodings: ``a`` (model A, 3 shards), ``b`` (model B, 3 shards),
    ``c`` (model A on a copy of the manifest, 3 shards)."""
    from models_util import model as tiny_model

    from soundwave.models.stage_dir import save_stage

    root = tmp_path_factory.mktemp("decoded")
    make_datadir(root, extras=False)
    cuts = root / "cuts.jsonl.gz"
    make_manifests.main(["--data-dir", str(root / "data"), "--out", str(cuts)])
    shutil.copy(cuts, root / "cuts_copy.jsonl.gz")
    for name, seed in (("A", 0), ("B", 1)):
        save_stage(tiny_model(seed=seed), root / name)
    for out, model, manifest in (
        ("a", "A", cuts),
        ("b", "B", cuts),
        ("c", "A", root / "cuts_copy.jsonl.gz"),
    ):
        for j in (1, 2, 3):
            decode.main(["--model-dir", str(root / model), "--cuts", str(manifest), "--out-dir",
                         str(root / out), "--shard", f"{j}/3", "data.on_the_fly=true",
                         "generation.max_new_tokens=3"])  # fmt: skip
    return root


PARAMS = [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_is_one_line_and_leaves_nothing_half_written(case, tmp_path, request):
    ctx = Ctx(
        (make_segmented_datadir if case.segmented else make_datadir)(tmp_path, "data"),
        tmp_path,
    )
    if case.slow:
        ctx.shards = request.getfixturevalue("decoded")
    if case.prepare is not None:
        case.prepare(ctx)
    before = _snapshot(tmp_path)
    audio = tmp_path / "data_audio"

    def fill(text: str) -> str:
        return text.format(data=ctx.data, tmp=tmp_path, audio=audio)

    res = _run(case.tool, [fill(a) for a in case.args], Path(fill(case.cwd)), case.patch)

    assert res.returncode != 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith(f"{case.tool}: error: "), line
    assert fill(case.message) in line, line
    assert fill(case.where) in line, line

    after = _snapshot(tmp_path)
    assert not [p for p in after if ".tmp" in p or p.endswith(".old")], after
    assert not after.keys() - before.keys(), after.keys() - before.keys()
    assert all(after.get(p) == size for p, size in before.items()), "an existing file changed"


def test_catalogue_has_every_issue_case_and_ten_more():
    assert len(CASES) >= 15 + 10
    assert len({c.id for c in CASES}) == len(CASES)


def test_killed_rerun_of_compute_fbank_keeps_the_finished_output(tmp_path):
    """A rerun killed (SIGKILL) in the middle of its archive leaves the first run's
    archive and manifest whole; the next run removes the killed one's temporary."""
    data = make_datadir(tmp_path, extras=False)
    cuts = tmp_path / "cuts.jsonl.gz"
    make_manifests.main(["--data-dir", str(data), "--out", str(cuts)])
    args = ["--cuts", str(cuts), "--storage", str(tmp_path / "fbank/feats"),
            "--out-cuts", str(tmp_path / "feats.jsonl.gz"), "--no-progress"]  # fmt: skip
    compute_fbank.main(args)
    first = {c.id: c.load_features() for c in load_cuts(tmp_path / "feats.jsonl.gz")}
    archive = (tmp_path / "fbank/feats.lca").read_bytes()

    kill_at_third_cut = textwrap.dedent("""
        import os, signal
        import soundwave.features.fbank as fbank
        real, seen = fbank._store, []
        def store(*args, **kwargs):
            seen.append(1)
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        fbank._store = store
    """)
    res = _run("compute_fbank", args, tmp_path, kill_at_third_cut)
    assert res.returncode == -9, res.stderr
    assert list((tmp_path / "fbank").glob(".feats.tmp*"))  # the killed run's temporary
    assert (tmp_path / "fbank/feats.lca").read_bytes() == archive
    again = {c.id: c.load_features() for c in load_cuts(tmp_path / "feats.jsonl.gz")}
    assert again.keys() == first.keys() and len(again) == 6
    assert all(np.array_equal(again[k], first[k]) for k in first)

    res = _run("compute_fbank", args, tmp_path)
    assert res.returncode == 0, res.stderr
    assert not list((tmp_path / "fbank").glob(".feats.tmp*"))
    assert len(load_cuts(tmp_path / "feats.jsonl.gz")) == 6


def test_nan_samples_on_the_fly_name_the_utterance(tmp_path):
    """The on-the-fly extractor (training, decoding, infer) refuses NaN audio by name."""
    from lhotse import Recording

    from soundwave.errors import UserError
    from soundwave.features.fbank import whisper_fbank

    x = tone(0.3)
    x[5] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    cut = Recording.from_file(tmp_path / "nan.wav", recording_id="utt1").to_cut()
    with pytest.raises(UserError, match=r"nan.wav: utterance 'utt1': 1 of 4800 samples are NaN"):
        whisper_fbank(80)([cut])


@pytest.mark.slow
def test_merge_of_matching_shards_still_works(decoded, tmp_path):
    out = tmp_path / "dec"
    shutil.copytree(decoded / "a" / "shards", out / "shards")
    decode.main(["--merge", "3", "--out-dir", str(out)])
    info = json.loads((out / "decode.json").read_text())
    assert info["utts"] == 6 and info["shards"] == 3
    assert info["model_dir"] == str((decoded / "A").resolve())
    assert len((out / "hyp.txt").read_text().splitlines()) == 6


@pytest.mark.slow
def test_infer_reports_a_bad_file_and_transcribes_the_others(decoded, tmp_path):
    """One line for the file with NaN samples, exit 1, and the good file still transcribed."""
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    sf.write(good, tone(0.5), 16000, subtype="PCM_16")
    x = tone(0.5)
    x[10] = np.inf
    sf.write(bad, x, 16000, subtype="FLOAT")
    args = ["--model-dir", str(decoded / "A"), "--max-new-tokens", "3", str(good), str(bad)]
    res = _run("infer", args, tmp_path)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"infer: {bad}: 1 of 8000 samples are NaN or infinite"
    ], res.stderr
    assert [line.split(" ", 1)[0] for line in res.stdout.splitlines()] == ["good"]


def test_any_utf8_transcript_reaches_training_intact():
    """What training does with characters a tokenizer has not seen: the tokenizers are
    byte-level BPE (the tiny ones, as Llama 3's and Qwen2's), so every UTF-8 transcript
    encodes without an unknown token and decodes back to itself; text that is not UTF-8 is
    refused at the data dir (the ``text_not_utf8`` case)."""
    from models_util import TEXTS
    from models_util import llm_dir as tiny_llm_dir
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llm_dir())
    text = "naïve café, 東京 🎤 ß " + TEXTS[0]
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
