"""VocalSound's public layout -> data/{train,dev,test}, and one line for a broken release."""

from __future__ import annotations

import json

import pytest
from fake_vocalsound import CLASSES, write_fake_vocalsound

from soundwave.bin import prepare_vocalsound
from soundwave.data.lhotse_io import datadir_to_cuts
from soundwave.data.validate import validate_data_dir
from soundwave.tasks import cut_fields, get_task

SPEAKERS = {"tr": ["f0003", "m0004"], "val": ["m0101"], "te": ["f0201"]}


@pytest.fixture
def corpus(tmp_path):
    return write_fake_vocalsound(tmp_path / "vs", SPEAKERS)


def prepare(corpus, data):
    prepare_vocalsound.main(["--corpus-dir", str(corpus), "--data-dir", str(data)])


def test_official_split_to_data_dirs(corpus, tmp_path):
    data = tmp_path / "data"
    prepare(corpus, data)
    for name, spks in (
        ("train", SPEAKERS["tr"]),
        ("dev", SPEAKERS["val"]),
        ("test", SPEAKERS["te"]),
    ):
        d = validate_data_dir(data / name, text=False)
        assert d.spk_ids == spks and len(d.utt2spk) == 6 * len(spks)
    cuts = {c.id: c for c in datadir_to_cuts(data / "train")}
    fields = cut_fields(cuts["m0004_0_throatclearing"])
    assert get_task("sound_event").target(fields) == "throatclearing"
    assert get_task("gender").target(fields) == "male"
    assert (data / "train" / "wav.scp").read_text().splitlines()[0] == (
        f"f0003_0_cough {(corpus / 'audio_16k' / 'f0003_0_cough.wav').resolve()}"
    )
    assert sorted({cut_fields(c)["sound_event"] for c in cuts.values()}) == sorted(CLASSES)


def edit_split(corpus, split, change):
    path = corpus / "datafiles" / f"{split}.json"
    rows = json.loads(path.read_text())
    path.write_text(json.dumps(change(rows)))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda c: (c / "datafiles" / "val.json").unlink(), "val.json: split file not found"),
        (lambda c: (c / "datafiles" / "te.json").write_text('{"data": [\n{"wav": }]}'), "te.json:2: invalid JSON"),
        (lambda c: (c / "audio_16k" / "f0201_0_sniff.wav").unlink(), "te.json: entry 6: 'f0201_0_sniff.wav': audio file not found"),
        (lambda c: edit_split(c, "tr", lambda r: {"data": r["data"] + [{"wav": "x/f0003_0_yawn.wav"}]}), "tr.json: entry 13: 'f0003_0_yawn.wav' is not a clip name"),
        (lambda c: edit_split(c, "val", lambda r: {"data": r["data"] + [{"wav": "/a/audio_16k/f0003_0_cough.wav"}]}), "speaker 'f0003' is in both train and dev"),
        (lambda c: edit_split(c, "tr", lambda r: r["data"]), 'tr.json: expected {"data"'),
    ],
)  # fmt: skip
def test_broken_release_is_one_line(corpus, tmp_path, capsys, breakage, message):
    breakage(corpus)
    with pytest.raises(SystemExit) as exc:
        prepare(corpus, tmp_path / "data")
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "data").exists()  # every set is checked before one is written
