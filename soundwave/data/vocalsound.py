"""VocalSound (Gong et al., ICASSP 2022) in its public layout -> Kaldi data dirs.

The release (``vs_release_16k.zip``, unpacked) holds::

    <root>/audio_16k/<spk>_<n>_<label>.wav    16 kHz mono WAVs, e.g. f0003_0_cough.wav
    <root>/datafiles/{tr,val,te}.json         the official split: {"data": [{"wav": ..., "labels": <mid>}, ...]}
    <root>/class_labels_indices_vs.csv        index,mid,display_name of the six classes
    <root>/meta/                              speaker meta data (not read here)

``<spk>`` is the speaker (``f``/``m`` + a number: the letter is the speaker's gender), ``<n>``
the speaker's recording session, ``<label>`` one of :data:`LABELS`.  The ``wav`` paths in the
split files are the authors' absolute paths (their ``prep_data.py`` rewrites them), so a clip
is found by its file name under ``<root>/audio_16k``.  lhotse has no VocalSound recipe.

Each set gets ``wav.scp``, ``utt2spk``, ``spk2gender`` and ``utt2sound_event`` (the label,
read by the ``sound_event`` task); there is no ``text``: the clips have no transcript.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from soundwave.data.kaldi import DataDir
from soundwave.errors import UserError

LABELS = ("laughter", "sigh", "cough", "throatclearing", "sneeze", "sniff")
#: Kaldi set name -> the release's split file (datafiles/<name>.json)
SPLITS = {"train": "tr", "dev": "val", "test": "te"}
AUDIO_DIR = "audio_16k"
_CLIP = re.compile(r"^(?P<spk>([fm])[0-9A-Za-z]+)_(?P<session>\d+)_(?P<label>[a-z]+)\.wav$")


def parse_clip_name(name: str) -> tuple[str, str, str] | None:
    """``(speaker, gender, label)`` of a clip file name, or None if it is not one."""
    match = _CLIP.match(name)
    if match is None or match["label"] not in LABELS:
        return None
    gender = "f" if match["spk"].startswith("f") else "m"
    return match["spk"], gender, match["label"]


def read_split(path: Path) -> list[str]:
    """The clip file names listed by one split file, in its order."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            "split file not found (is this an unpacked VocalSound release?)", path
        ) from None
    try:
        rows = json.loads(text)["data"]
    except json.JSONDecodeError as err:
        raise UserError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    except (KeyError, TypeError):
        raise UserError('expected {"data": [{"wav": ..., "labels": ...}, ...]}', path) from None
    names = []
    for i, row in enumerate(rows):
        wav = row.get("wav") if isinstance(row, dict) else None
        if not isinstance(wav, str) or not wav:
            raise UserError(f'entry {i + 1} of "data" has no "wav" path', path)
        names.append(os.path.basename(wav.replace("\\", "/")))
    return names


def split_data_dir(root: Path, split: str) -> DataDir:
    """The data dir of one split file (``tr``, ``val``, ``te``)."""
    path = root / "datafiles" / f"{split}.json"
    audio = (root / AUDIO_DIR).resolve()
    tables: dict[str, dict[str, str]] = {
        "wav.scp": {},
        "utt2spk": {},
        "spk2gender": {},
        "utt2sound_event": {},
    }
    for i, name in enumerate(read_split(path)):
        parsed = parse_clip_name(name)
        if parsed is None:
            raise UserError(
                f"entry {i + 1}: {name!r} is not a clip name <spk>_<n>_<label>.wav with a label "
                f"in {', '.join(LABELS)}",
                path,
            )
        spk, gender, label = parsed
        wav = audio / name
        if not wav.is_file():
            raise UserError(f"entry {i + 1}: {name!r}: audio file not found: {wav}", path)
        utt = name[: -len(".wav")]  # begins with the speaker id, as Kaldi wants
        if utt in tables["wav.scp"]:
            raise UserError(f"entry {i + 1}: {name!r} is listed twice", path)
        tables["wav.scp"][utt] = str(wav)
        tables["utt2spk"][utt] = spk
        tables["spk2gender"][spk] = gender
        tables["utt2sound_event"][utt] = label
    if not tables["wav.scp"]:
        raise UserError("lists no clip", path)
    return DataDir(tables).sort()


def prepare_vocalsound(corpus_dir: str | os.PathLike, data_dir: str | os.PathLike) -> dict:
    """Write ``<data_dir>/{train,dev,test}`` from the release at ``corpus_dir``; returns the
    clip count of each set.  Every set is checked before any is written."""
    root = Path(corpus_dir)
    if not (root / AUDIO_DIR).is_dir():
        raise UserError(f"no {AUDIO_DIR}/ here: not an unpacked VocalSound 16 kHz release", root)
    dirs = {name: split_data_dir(root, split) for name, split in SPLITS.items()}
    seen: dict[str, str] = {}
    for name, d in dirs.items():
        for spk in d.spk_ids:
            if seen.setdefault(spk, name) != name:
                raise UserError(f"speaker {spk!r} is in both {seen[spk]} and {name}", root)
    for name, d in dirs.items():
        d.save(Path(data_dir) / name)
    return {name: len(d.utt2spk) for name, d in dirs.items()}
