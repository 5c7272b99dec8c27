"""SLAM-LLM jsonl -> Kaldi data dir: both of SLAM-LLM's field layouts, where each task's
target goes, and one line naming file:line for a bad line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from soundwave.bin import import_jsonl
from soundwave.data.lhotse_io import datadir_to_cuts
from soundwave.data.validate import validate_data_dir
from soundwave.tasks import cut_fields, get_task


@pytest.fixture
def wavs(tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / "audio" / f"u{i}.wav"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, np.zeros(1600 * (i + 1), np.float32), 16000, subtype="PCM_16")
        paths.append(p)
    return paths


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run(jsonl, out, *args):
    import_jsonl.main(["--jsonl", str(jsonl), "--out", str(out), *args])


def table(path):
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def test_asr_layout_to_datadir_and_cuts(tmp_path, wavs):
    rows = [
        {"key": "1001-0000_ASR", "source": str(wavs[0]), "target": "A little\nrecks", "prompt": "Transcribe speech to text. "},
        {"key": "1001-0001_ASR", "source": str(wavs[1]), "target": "the laborer", "source_len": 10},
    ]  # fmt: skip
    out = tmp_path / "data" / "slam"
    run(write_jsonl(tmp_path / "train.jsonl", rows), out)
    validate_data_dir(out)
    assert table(out / "text") == {
        "1001-0000_ASR": "A little recks",
        "1001-0001_ASR": "the laborer",
    }
    assert table(out / "utt2spk") == {
        "1001-0000_ASR": "1001-0000_ASR",
        "1001-0001_ASR": "1001-0001_ASR",
    }
    assert table(out / "utt2prompt") == {"1001-0000_ASR": "Transcribe speech to text."}
    cut = next(iter(datadir_to_cuts(out)))
    fields = cut_fields(cut)
    assert get_task("asr").target(fields) == "A little recks"
    assert fields["prompt"] == "Transcribe speech to text."


def test_st_layout_and_relative_paths(tmp_path, wavs, monkeypatch):
    # SLAM-LLM's st_dataset: "audio" is the path, "gt" the target, "source" the data set
    monkeypatch.chdir(tmp_path)
    rows = [{"key": "cv_1", "audio": "audio/u2.wav", "source": "covost_enende", "prompt": "<|en|><|de|>", "gt": "Hallo Welt"}]  # fmt: skip
    out = tmp_path / "st"
    run(write_jsonl(tmp_path / "st.jsonl", rows), out, "--task", "st_en_de")
    assert table(out / "text.de") == {"cv_1": "Hallo Welt"}
    assert table(out / "wav.scp") == {"cv_1": str(wavs[2])} and not (out / "text").exists()


def test_qa_prompt_is_the_question(tmp_path, wavs):
    rows = [{"key": "q1", "source": str(wavs[0]), "prompt": "What colour is the sky?", "target": "blue"}]  # fmt: skip
    out = tmp_path / "qa"
    run(write_jsonl(tmp_path / "qa.jsonl", rows), out, "--task", "qa")
    assert table(out / "utt2question") == {"q1": "What colour is the sky?"}
    assert table(out / "utt2answer") == {"q1": "blue"}


@pytest.mark.parametrize(
    "bad, message",
    [
        ('{"key": "a", "source": "%s", "target": "x"', "not a JSON line"),
        ('["a", "b"]', "expected a JSON object, got list"),
        ('{"key": "a", "target": "x"}', "no source (the audio)"),
        ('{"key": "a b", "source": "%s", "target": "x"}', "contains whitespace"),
        ('{"key": "k0", "source": "%s", "target": "again"}', "duplicate key 'k0'"),
        ('{"key": "a", "source": "/no/such.wav", "target": "x"}', "audio file not found"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, wavs, capsys, bad, message):
    good = json.dumps({"key": "k0", "source": str(wavs[0]), "target": "ok"})
    jsonl = write_jsonl(tmp_path / "in.jsonl", [good, "", bad.replace("%s", str(wavs[1]))])
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        run(jsonl, out)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and len(err.splitlines()) == 1
    assert f"{jsonl}:3: " in err and message in err, err
    assert not out.exists()  # nothing half-written


def test_gender_task_is_refused(tmp_path, wavs, capsys):
    jsonl = write_jsonl(
        tmp_path / "g.jsonl", [{"key": "a", "source": str(wavs[0]), "target": "male"}]
    )
    with pytest.raises(SystemExit):
        run(jsonl, tmp_path / "out", "--task", "gender")
    assert "jsonl has no speakers" in capsys.readouterr().err
