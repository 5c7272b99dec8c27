"""Building the synthetic corpus: real espeak-ng / flite synthesis of a few utterances."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from soundwave.data.tables import read_table
from soundwave.data.validate import validate_data_dir
from soundwave.offline.standin.text_data import load_records
from soundwave.offline.synth import english, grammar
from soundwave.offline.synth.corpus import CorpusConfig, build, make_plan
from soundwave.offline.synth.speakers import timbres

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("flite") is None,
    reason="needs espeak-ng and flite (apt-get install espeak-ng flite)",
)

CFG = CorpusConfig(
    seed=7,
    num_train=12,
    num_dev=4,
    num_test=10,
    spk_train=4,
    spk_dev=2,
    spk_test=4,
    num_text_train=150,
    num_text_dev=20,
    flite_share=0.25,
    generated_timbres=0.5,
    train_warp=0.08,
)
SPLITS = ("train", "dev", "test")


def _read(d: Path, name: str) -> dict[str, str]:
    return read_table(d / name)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same corpus built twice, with 2 processes and with 1."""
    out = []
    for nj in (2, 1):
        root = tmp_path_factory.mktemp(f"synth_nj{nj}")
        report = build(CFG, root / "data", root / "work", nj=nj, log=lambda m: None)
        out.append((root, report))
    return out


def test_data_dirs_validate_and_are_c_sorted(built):
    root = built[0][0]
    for split in SPLITS:
        d = root / "data" / split
        validate_data_dir(d)  # Kaldi rules: sorting, prefixes, spk2utt, files exist
        for name in os.listdir(d):
            lines = (d / name).read_bytes().splitlines()
            r = subprocess.run(["sort", "-c"], input=b"\n".join(lines) + b"\n", env={"LC_ALL": "C"})
            assert r.returncode == 0, f"{split}/{name} is not C-sorted"
        utts = set(_read(d, "utt2spk"))
        for name in (
            "text",
            "text.de",
            "wav.scp",
            "utt2dur",
            "utt2gender",
            "utt2question",
            "utt2answer",
            "utt2intent",
        ):
            table = _read(d, name)
            assert set(table) == utts, name
            assert all(v.strip() for v in table.values()), name
        assert all(u.startswith(s + "-") for u, s in _read(d, "utt2spk").items())
        assert ("utt2seen" in os.listdir(d)) == (split != "train")


def test_same_seed_gives_identical_corpus(built):
    (a, ra), (b, rb) = built
    for split in SPLITS:
        da, db = a / "data" / split, b / "data" / split
        assert sorted(os.listdir(da)) == sorted(os.listdir(db))
        for name in os.listdir(da):
            if name != "wav.scp":
                assert (da / name).read_bytes() == (db / name).read_bytes(), f"{split}/{name}"
        wa, wb = _read(da, "wav.scp"), _read(db, "wav.scp")
        assert list(wa) == list(wb)
        for utt in wa:
            assert Path(wa[utt]).read_bytes() == Path(wb[utt]).read_bytes(), utt
    for name in ("train.jsonl", "dev.jsonl", "lm.txt"):
        assert (a / "work/text" / name).read_bytes() == (b / "work/text" / name).read_bytes()
    assert ra["speakers"] == rb["speakers"] and ra["splits"] == rb["splits"]


def test_other_seed_gives_other_corpus():
    a, b = make_plan(CFG), make_plan(CorpusConfig(**{**CFG.__dict__, "seed": 8}))
    assert a.texts("train") != b.texts("train")


def test_audio_is_16k_mono_int16_and_durations_match(built):
    root = built[0][0]
    for split in SPLITS:
        d = root / "data" / split
        durs = _read(d, "utt2dur")
        for utt, path in _read(d, "wav.scp").items():
            assert os.path.isabs(path)
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert abs(info.frames / 16000 - float(durs[utt])) < 1e-3
            assert 1.0 < info.frames / 16000 < 7.0, (utt, info.frames)


def test_gender_files_agree(built):
    root = built[0][0]
    for split in SPLITS:
        d = root / "data" / split
        spk2gender, utt2spk = _read(d, "spk2gender"), _read(d, "utt2spk")
        assert set(spk2gender) == set(utt2spk.values())
        assert set(spk2gender.values()) <= {"m", "f"}
        for utt, g in _read(d, "utt2gender").items():
            assert g in ("male", "female") and g[0] == spk2gender[utt2spk[utt]]
    report = built[0][1]
    assert report["splits"]["train"]["female_speakers"] >= 1
    assert report["splits"]["train"]["male_speakers"] >= 1


def test_speakers_disjoint_and_test_sentences_partly_unseen(built):
    plan = make_plan(CFG)
    spk = plan.speakers
    assert not timbres(spk["train"]) & timbres(spk["test"])
    assert not timbres(spk["train"]) & timbres(spk["dev"])
    assert any(s.engine == "flite" for s in spk["train"])
    root = built[0][0]
    train_text = set(_read(root / "data/train", "text").values())
    test = root / "data/test"
    seen, text = _read(test, "utt2seen"), _read(test, "text")
    assert set(seen.values()) == {"seen", "new", "heldout"}
    for utt, label in seen.items():
        assert (text[utt] in train_text) == (label == "seen"), utt
    held = [u for u in plan.utts["test"] if u.seen == "heldout"]
    assert held and all(grammar.is_heldout(u.sentence, CFG.seed) for u in held)
    assert not any(grammar.is_heldout(u.sentence, CFG.seed) for u in plan.utts["train"])


def test_text_corpora_exclude_test_texts(built):
    root = built[0][0]
    test_text = set(_read(root / "data/test", "text").values())
    test_de = set(_read(root / "data/test", "text.de").values())
    text_dir = root / "work/text"
    corpora = {}
    for name in ("train", "dev"):
        records = load_records(text_dir / f"{name}.jsonl")  # the stand-in LLM's reader
        assert {r["task"] for r in records} == {"asr", "st", "qa", "lm"}
        assert all(r["question"].strip() for r in records if r["task"] == "qa")
        strings = {r.get(k) for r in records for k in ("input", "target", "text")} - {None}
        assert not strings & (test_text | test_de), name
        corpora[name] = {r["input"] for r in records if r["task"] == "asr"}
    assert len(corpora["train"]) == CFG.num_text_train
    assert not corpora["train"] & corpora["dev"]
    lm = (text_dir / "lm.txt").read_text(encoding="utf-8").splitlines()
    assert len(lm) == 2 * CFG.num_text_train and not set(lm) & (test_text | test_de)
    assert any("ü" in line or "ä" in line or "ö" in line or "ß" in line for line in lm)


def test_arithmetic_qa_in_data_dir_is_correct(built):
    root = built[0][0]
    words = {english.number(n): n for n in range(201)}
    for split in SPLITS:
        d = root / "data" / split
        intent, text, answer = (_read(d, n) for n in ("utt2intent", "text", "utt2answer"))
        for utt, fam in intent.items():
            if fam == "arithmetic" and text[utt].startswith("what is "):
                a, op, b = text[utt][len("what is ") :].partition(
                    next(
                        o
                        for o in (" plus ", " minus ", " times ", " divided by ")
                        if o in text[utt]
                    )
                )
                x, y = words[a], words[b]
                want = {"plus": x + y, "minus": x - y, "times": x * y, "divided by": x // y}[
                    op.strip()
                ]
                assert words[answer[utt]] == want


def test_cli_voices_check_and_missing_tool(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "soundwave.bin.make_synth_corpus", "--voices-check"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "espeak-ng" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "soundwave.bin.make_synth_corpus", "--voices-check"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "make_synth_corpus: error: espeak-ng not found on PATH; "
        "install it with `apt-get install -y espeak-ng flite` (or tools/ set-up)"
    ]


def test_cli_builds_a_tiny_corpus(tmp_path):
    r = subprocess.run(
        [
            sys.executable, "-m", "soundwave.bin.make_synth_corpus",
            "--data-dir", str(tmp_path / "data"), "--work-dir", str(tmp_path / "work"),
            "--num-train", "4", "--num-dev", "2", "--num-test", "2",
            "--spk-train", "2", "--spk-dev", "1", "--spk-test", "1",
            "--num-text-train", "10", "--num-text-dev", "3", "--nj", "1", "--engines", "espeak-ng",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("train:      4 utts")
    assert "vocab:" in r.stdout and "utts/s" in r.stdout
    report = json.loads((tmp_path / "work/report.json").read_text())
    assert report["splits"]["test"]["utts"] == 2
    assert all(v.startswith("espeak-ng") for v in report["speakers"].values())
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = subprocess.run(
        [sys.executable, "-m", "soundwave.bin.make_synth_corpus", "--num-train", "0"],
        capture_output=True,
        text=True,
        cwd=empty,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == "make_synth_corpus: error: --num-train must be at least 1"
    assert list(empty.iterdir()) == []


def test_cli_config_and_overrides(tmp_path):
    """--config is the corpus, the size options override it, key=value overrides win."""
    conf = tmp_path / "corpus.yaml"
    conf.write_text("num_train: 4\nnum_test: 3\n")
    bad = subprocess.run(
        [
            sys.executable, "-m", "soundwave.bin.make_synth_corpus", "--config", str(conf),
            "--num-test", "2", "num_test=0", "--work-dir", str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "make_synth_corpus: error: --num-test must be at least 1"
    assert not (tmp_path / "work").exists()
